//! What goes in and out of `DriverCallWorkflow`: its input, and the payloads of its signals,
//! updates and query (spec section 2). All plain camelCase JSON, readable in the Web UI and CLI.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::{CallView, DriverId, Krw, NewCall};

/// The workflow's input: the call and the time limits it runs under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DriverCallInput {
    /// The validated call.
    pub call: NewCall,
    /// The time limits (from the API's configuration when the call was made).
    pub policy: CallPolicy,
}

/// Time limits of one call, fixed when it starts so that replays see the same values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallPolicy {
    /// `PAYMENT_WINDOW`: an unpaid call expires after this many seconds.
    pub payment_window_secs: u64,
    /// `DISPATCH_TIMEOUT`: a paid call nobody catches within this many seconds expires.
    pub dispatch_timeout_secs: u64,
    /// The cancellation fee and no-show rules; `None` in calls made before they existed, which
    /// finish under the rules they started with (no fee, no no-show).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fees: Option<FeePolicy>,
    /// `OFFER_WINDOW`: how many seconds each dispatch tier lasts before the offer widens; `None`
    /// in calls made before tiers existed, which are offered to their area until they end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_window_secs: Option<u64>,
}

/// The cancellation fee and no-show rules of one call (spec section 9), fixed when it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeePolicy {
    /// `CANCEL_GRACE`: a cancel within this many seconds after the catch is free.
    pub cancel_grace_secs: u64,
    /// `CANCEL_FEE`: what a later cancel (or a no-show) costs, in KRW, never more than the fare.
    pub cancel_fee: Krw,
    /// `NO_SHOW_WAIT`: how many seconds after arriving the driver may mark a no-show.
    pub no_show_wait_secs: u64,
}

impl FeePolicy {
    /// The spec's defaults: 2 minutes of grace, 5000 KRW, 10 minutes of waiting.
    pub const DEFAULT: FeePolicy = FeePolicy {
        cancel_grace_secs: 120,
        cancel_fee: Krw::DEFAULT_CANCEL_FEE,
        no_show_wait_secs: 600,
    };
}

impl CallPolicy {
    /// The spec's defaults: ten minutes each.
    pub const DEFAULT: CallPolicy = CallPolicy {
        payment_window_secs: 600,
        dispatch_timeout_secs: 600,
        fees: Some(FeePolicy::DEFAULT),
        offer_window_secs: Some(30),
    };

    /// `PAYMENT_WINDOW` as a duration.
    pub fn payment_window(&self) -> Duration {
        Duration::from_secs(self.payment_window_secs)
    }

    /// `DISPATCH_TIMEOUT` as a duration.
    pub fn dispatch_timeout(&self) -> Duration {
        Duration::from_secs(self.dispatch_timeout_secs)
    }

    /// `OFFER_WINDOW` as a duration, in calls made with dispatch tiers.
    pub fn offer_window(&self) -> Option<Duration> {
        self.offer_window_secs.map(Duration::from_secs)
    }
}

/// Payload of the `pay` update (nothing yet: the fare was quoted when the call was made).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayRequest {}

/// What the payment context said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "outcome")]
pub enum PayOutcome {
    /// Charged; the call is PAID.
    Approved,
    /// Refused for good (below the minimum fare, invalid); the call is PAYMENT_REJECTED.
    Rejected {
        /// The payment context's reason.
        reason: String,
    },
    /// The payment context could not be reached or did not answer in time; the call stays
    /// CREATED and the customer may pay again.
    Unavailable {
        /// What went wrong.
        reason: String,
    },
}

/// Result of the `pay` update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayResult {
    /// What the payment context said.
    #[serde(flatten)]
    pub outcome: PayOutcome,
    /// The call after the payment.
    pub call: CallView,
}

/// Payload of the `cancel` signal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CancelRequest {
    /// Why the customer cancelled, if they said.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Payload of the `deny` signal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DenyRequest {
    /// Why the call is denied.
    pub reason: String,
}

/// Payload of the `catch` update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CatchRequest {
    /// The driver who wants the call.
    pub driver_id: String,
    /// The name the customer will see.
    pub driver_name: String,
    /// The driver's number as the customer will see it, masked (`010-****-1234`); requests from
    /// before driver accounts carry none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_mobile: Option<String>,
    /// The driver's service areas (from their account): a call whose offer does not reach them
    /// yet refuses their catch. Catches from before dispatch tiers carry none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_areas: Option<Vec<String>>,
}

/// Payload of the `assign` update: an operator gives an open call to a driver (assigned
/// dispatch, 강제배차), whatever the offer's reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignRequest {
    /// The driver the call goes to.
    pub driver_id: String,
    /// The name the customer will see.
    pub driver_name: String,
    /// The driver's number as the customer will see it, masked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_mobile: Option<String>,
    /// The operator who assigned it.
    pub operator: String,
}

/// Payload of the `arrive`, `start_trip` and `complete` updates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TripStepRequest {
    /// The driver reporting the step; only the call's driver may.
    pub driver_id: DriverId,
}
