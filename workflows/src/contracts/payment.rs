//! Payment context: approves pre-payments and refunds them (as CANCELLED or DISABLED, or as
//! PARTIALLY_REFUNDED when a cancellation or no-show fee is kept).

#![allow(missing_docs)] // the #[activity_definitions] macro emits undocumented marker items

use serde::{Deserialize, Serialize};
use temporalio_macros::activity_definitions;
use temporalio_sdk::activities::ActivityError;

use crate::domain::{CallId, Krw, MobileNumber, PayType};

/// The payment context's task queue.
pub const TASK_QUEUE: &str = "payment";

/// Failure type of a business rejection (below the minimum fare, invalid): terminal, never retried.
pub const PAYMENT_REJECTED: &str = "PaymentRejected";

/// Failure type of a payment that could not be taken now (gateway down, slow or its circuit
/// open): not retried by the activity, because a customer is waiting; the call stays CREATED and
/// may be paid again. The charge's outcome is unknown, so the refund stays registered.
pub const PAYMENT_UNAVAILABLE: &str = "PaymentUnavailable";

/// A payment's status in the payments ledger (spec section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PaymentStatus {
    /// Charged.
    Approved,
    /// Refused; nothing charged.
    Rejected,
    /// Refunded after a customer cancel or an expiry.
    Cancelled,
    /// Refunded after a deny.
    Disabled,
    /// Refunded except a fee that was kept (a late cancel or a no-show).
    PartiallyRefunded,
}

impl PaymentStatus {
    /// The spec's spelling, as stored in the payment database.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Approved => "APPROVED",
            PaymentStatus::Rejected => "REJECTED",
            PaymentStatus::Cancelled => "CANCELLED",
            PaymentStatus::Disabled => "DISABLED",
            PaymentStatus::PartiallyRefunded => "PARTIALLY_REFUNDED",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Approved,
            Self::Rejected,
            Self::Cancelled,
            Self::Disabled,
            Self::PartiallyRefunded,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
    }
}

/// Input of `payment.approve`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovePaymentInput {
    /// The call being paid for; at most one payment exists per call.
    pub call_id: CallId,
    /// The paying customer.
    pub mobile: MobileNumber,
    /// Card or cash.
    pub pay_type: PayType,
    /// The fare.
    pub pay_amount: Krw,
}

/// Result of `payment.approve`: the payment that exists for the call (the same one on every retry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovePaymentResult {
    /// The payment's id.
    pub payment_id: String,
    /// `APPROVED` (a rejection is a `PaymentRejected` failure instead).
    pub status: PaymentStatus,
}

/// Why a payment is refunded; decides the refunded status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefundKind {
    /// Customer cancel or expiry: the payment becomes `CANCELLED`.
    Cancel,
    /// Deny or out of area: the payment becomes `DISABLED`.
    Disable,
}

/// Input of `payment.refund`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundPaymentInput {
    /// The call whose payment is refunded.
    pub call_id: CallId,
    /// Cancel or disable (decides the status of a full refund).
    pub kind: RefundKind,
    /// The amount the payment context keeps (a cancellation or no-show fee, capped at what was
    /// charged): the rest is refunded and the payment becomes `PARTIALLY_REFUNDED`. `None`
    /// refunds everything; absent in the inputs of histories written before fees existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee: Option<Krw>,
}

/// Result of `payment.refund`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundPaymentResult {
    /// The refunded payment, or `None` when the call had no charge to refund.
    pub payment_id: Option<String>,
    /// The payment's status after the refund (`PARTIALLY_REFUNDED` when a fee was kept).
    pub status: Option<PaymentStatus>,
}

/// The payment context's activities, implemented by `driver_call_activities::payment`.
pub struct PaymentActivities;

#[activity_definitions]
impl PaymentActivities {
    /// Approves the call's pre-payment; idempotent per call.
    #[activity(name = "payment.approve")]
    pub fn approve(input: ApprovePaymentInput) -> Result<ApprovePaymentResult, ActivityError> {
        unimplemented!()
    }

    /// Refunds the call's approved payment, if any; idempotent per call.
    #[activity(name = "payment.refund")]
    pub fn refund(input: RefundPaymentInput) -> Result<RefundPaymentResult, ActivityError> {
        unimplemented!()
    }
}
