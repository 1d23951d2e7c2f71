//! Payment context: the payments ledger and the `payment.*` activities that approve and refund
//! pre-payments through a [`PaymentGateway`] behind a circuit breaker. Approval and refund are
//! idempotent per call: the ledger's unique keys hold one row per call, and the gateway is asked
//! with the call's idempotency key, so no retry at any layer charges or refunds twice. A refund
//! that keeps a fee (a late cancel, a no-show) gives back the rest once: `PARTIALLY_REFUNDED`.

mod approval;
mod breaker;
mod gateway;
mod worker;

use std::sync::Arc;

use driver_call_workflows::contracts::payment::{
    ApprovePaymentInput, ApprovePaymentResult, PAYMENT_REJECTED, PAYMENT_UNAVAILABLE,
    PaymentStatus, RefundPaymentInput, RefundPaymentResult,
};
use driver_call_workflows::domain::{CallId, Krw};
use temporalio_macros::activities;
use temporalio_sdk::ApplicationFailure;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

pub use approval::Approval;
pub use breaker::{BreakerSettings, CircuitState, GuardedError, GuardedGateway, StateListener};
pub use driver_call_stores::payment::{
    PaymentOutcome, PaymentRecord, PaymentStore, UnconfirmedCharge, idempotency_key,
};
pub use gateway::{
    BuiltinGateway, ChargeRequest, ChargeStatus, GatewayCharge, GatewayError, HttpGateway,
    PaymentGateway, RefundRequest,
};
pub use worker::{GatewayConfig, PaymentConfig, PaymentFault, payment_worker};

pub use driver_call_workflows::domain::DEFAULT_MIN_PAY_AMOUNT;

/// A fault to inject for failure drills; never set in production.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    /// No fault.
    #[default]
    None,
    /// After the approval is written to the ledger, never complete the activity (so a drill can
    /// kill the worker in exactly the window between the ledger write and the completion).
    HangAfterLedgerWrite,
    /// After a partial refund is written to the ledger, never complete the activity (the same
    /// window, for a refund that keeps a fee).
    HangAfterPartialRefund,
}

/// The payment context's activities.
pub struct Activities {
    store: PaymentStore,
    gateway: Arc<GuardedGateway>,
    min_pay_amount: Krw,
    fault: Fault,
}

impl Activities {
    /// Activities over `store` that charge through `gateway` and reject fares below
    /// `min_pay_amount`.
    pub fn new(store: PaymentStore, gateway: Arc<GuardedGateway>, min_pay_amount: Krw) -> Self {
        Self {
            store,
            gateway,
            min_pay_amount,
            fault: Fault::None,
        }
    }

    /// Injects `fault` (failure drills only).
    pub fn with_fault(mut self, fault: Fault) -> Self {
        self.fault = fault;
        self
    }
}

#[activities]
impl Activities {
    /// Approves the call's pre-payment, or returns the payment already made for it.
    #[activity(name = "payment.approve")]
    pub async fn approve(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: ApprovePaymentInput,
    ) -> Result<ApprovePaymentResult, ActivityError> {
        let call_id = input.call_id.to_string();
        let record = match self.store.find_by_call(&call_id).await? {
            Some(existing) => existing,
            None => self.charge(&input).await?,
        };
        if self.fault == Fault::HangAfterLedgerWrite {
            tracing::warn!(%call_id, "fault injected: hanging after the ledger write");
            std::future::pending::<()>().await;
        }
        match record.status {
            PaymentStatus::Approved => Ok(ApprovePaymentResult {
                payment_id: record.payment_id,
                status: record.status,
            }),
            _ => Err(rejected(record.reason.unwrap_or_else(|| {
                format!(
                    "payment {} is {}",
                    record.payment_id,
                    record.status.as_str()
                )
            }))),
        }
    }

    /// Refunds the call's payment (CANCELLED or DISABLED), including a charge the gateway took
    /// whose answer was lost; a no-op when nothing was charged. With a fee, it keeps the fee
    /// (at most the charge) and gives back the rest: PARTIALLY_REFUNDED.
    #[activity(name = "payment.refund")]
    pub async fn refund(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: RefundPaymentInput,
    ) -> Result<RefundPaymentResult, ActivityError> {
        if let Some(fee) = input.fee {
            if let Some(partial) = self.refund_partially(input.call_id, fee).await? {
                return Ok(result_of(Some(partial)));
            }
            // No confirmed charge in the ledger (a paid call always has one): whatever the
            // gateway may hold without a confirmed answer is given back whole, as below.
            tracing::warn!(call_id = %input.call_id, fee = fee.get(),
                "no confirmed charge to keep a fee from; refunding in full");
        }
        // The gateway first: once it has given the money back, the ledger follows (a retry after a
        // crash in between finds the gateway's refund already done, by the same key).
        let held = self
            .gateway
            .refund(&idempotency_key(input.call_id), None)
            .await?;
        let mut refunded = self.store.refund(&input.call_id, input.kind).await?;
        if let (None, Some(charge)) = (&refunded, held) {
            tracing::warn!(call_id = %input.call_id, charge_id = %charge.charge_id,
                "refunded a charge the gateway took without a confirmed answer");
            refunded = self
                .store
                .record_refunded_charge(&unconfirmed(charge), input.kind)
                .await?
                .filter(|p| matches!(p.status, PaymentStatus::Cancelled | PaymentStatus::Disabled));
        }
        Ok(result_of(refunded))
    }
}

impl Activities {
    /// Decides, charges through the breaker and writes the ledger; the ledger write comes only
    /// after the gateway's answer, so an approval in the ledger is always a charge the gateway
    /// holds.
    async fn charge(&self, input: &ApprovePaymentInput) -> Result<PaymentRecord, ActivityError> {
        if let Approval::Reject(reason) = Approval::decide(input.pay_amount, self.min_pay_amount) {
            let outcome = PaymentOutcome::Rejected { reason };
            return Ok(self.store.record(input, outcome).await?);
        }
        let request = ChargeRequest {
            idempotency_key: idempotency_key(input.call_id),
            call_id: input.call_id.to_string(),
            mobile: input.mobile.as_ref().to_owned(),
            pay_type: input.pay_type.as_str().to_owned(),
            amount: input.pay_amount.get(),
        };
        let outcome = match self.gateway.charge(&request).await {
            Ok(charge) => PaymentOutcome::Approved {
                charge_id: Some(charge.charge_id),
            },
            Err(GuardedError::Gateway(GatewayError::Declined(reason))) => {
                PaymentOutcome::Rejected { reason }
            }
            Err(unavailable) => return Err(self::unavailable(&unavailable)),
        };
        Ok(self.store.record(input, outcome).await?)
    }
}

impl Activities {
    /// Keeps `fee` (at most the charge) of the call's approved payment and gives back the rest,
    /// gateway first, ledger second (as a full refund does). `None` when the ledger holds no
    /// charge; a payment already refunded (by an earlier try) is returned as it is, so a retry
    /// gives nothing more back.
    async fn refund_partially(
        &self,
        call_id: CallId,
        fee: Krw,
    ) -> Result<Option<PaymentRecord>, ActivityError> {
        let id = call_id.to_string();
        let Some(payment) = self.store.find_by_call(&id).await? else {
            return Ok(None);
        };
        match payment.status {
            PaymentStatus::Approved => {}
            PaymentStatus::Rejected => return Ok(None),
            PaymentStatus::PartiallyRefunded
            | PaymentStatus::Cancelled
            | PaymentStatus::Disabled => {
                return Ok(Some(payment));
            }
        }
        let charged = Krw::new(payment.pay_amount)?;
        let kept = fee.min(charged);
        let back = Krw::new(charged.get() - kept.get())?;
        if back.get() > 0 {
            // A retry after a crash between here and the ledger write asks again under the same
            // key, and the gateway answers with the refund it already made.
            let held = self
                .gateway
                .refund(&idempotency_key(call_id), Some(back))
                .await?;
            if let Some(charge) = held.filter(|c| c.refunded_amount != Some(back.get())) {
                tracing::warn!(%call_id, charge_id = %charge.charge_id,
                    refunded = ?charge.refunded_amount, asked = back.get(),
                    "the gateway reports another refunded amount than asked");
            }
        }
        if let Some(refunded) = self.store.refund_partially(&call_id, back, kept).await? {
            if self.fault == Fault::HangAfterPartialRefund {
                tracing::warn!(%call_id, "fault injected: hanging after the partial refund");
                std::future::pending::<()>().await;
            }
            return Ok(Some(refunded));
        }
        // Refunded meanwhile by someone else: report the payment as it now stands.
        Ok(self.store.find_by_call(&id).await?)
    }
}

/// What the workflow hears of a refund.
fn result_of(refunded: Option<PaymentRecord>) -> RefundPaymentResult {
    RefundPaymentResult {
        payment_id: refunded.as_ref().map(|r| r.payment_id.clone()),
        status: refunded.map(|r| r.status),
    }
}

/// The ledger's record of a charge the gateway held without a confirmed answer.
fn unconfirmed(charge: GatewayCharge) -> UnconfirmedCharge {
    UnconfirmedCharge {
        call_id: charge.request.call_id,
        mobile: charge.request.mobile,
        pay_type: charge.request.pay_type,
        amount: charge.request.amount,
        charge_id: charge.charge_id,
    }
}

/// A business rejection: terminal, so Temporal does not retry it.
fn rejected(reason: String) -> ActivityError {
    ActivityError::application(
        ApplicationFailure::builder(reason)
            .type_name(PAYMENT_REJECTED.to_owned())
            .non_retryable(true)
            .build(),
    )
}

/// The gateway is down, slow or behind an open breaker: the customer is waiting on `pay`, so
/// this is answered at once ("try again shortly") rather than retried here. The outcome of a
/// timed-out charge is unknown; the workflow keeps the refund registered for it.
fn unavailable(error: &GuardedError) -> ActivityError {
    ActivityError::application(
        ApplicationFailure::builder(error.to_string())
            .type_name(PAYMENT_UNAVAILABLE.to_owned())
            .non_retryable(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use driver_call_workflows::contracts::payment::{
        PaymentActivities as Contract, PaymentStatus, RefundPaymentInput,
    };
    use driver_call_workflows::domain::Krw;
    use temporalio_common::ActivityDefinition;

    use super::Activities;

    fn same_contract<A, B>(implementation: A, contract: B)
    where
        A: ActivityDefinition,
        B: ActivityDefinition<Input = A::Input, Output = A::Output>,
    {
        assert_eq!(implementation.name(), contract.name());
    }

    #[test]
    fn activities_implement_the_workflow_contract() {
        same_contract(Activities::approve, Contract::approve);
        same_contract(Activities::refund, Contract::refund);
    }

    #[test]
    fn a_refund_input_without_a_fee_reads_and_writes_as_before_fees_existed() {
        let call_id = "6f1c3a52-2b8e-4a7e-9d3a-0c9a51f0e111";
        let old = serde_json::json!({"callId": call_id, "kind": "CANCEL"});
        let input: RefundPaymentInput = serde_json::from_value(old.clone()).unwrap();
        assert_eq!(input.fee, None);
        assert_eq!(serde_json::to_value(&input).unwrap(), old);
        let with_fee = RefundPaymentInput {
            fee: Some(Krw::new(5000).unwrap()),
            ..input
        };
        let json = serde_json::to_value(&with_fee).unwrap();
        assert_eq!(json["fee"], 5000);
    }

    #[test]
    fn partially_refunded_is_spelled_as_the_spec_writes_it() {
        let status = PaymentStatus::PartiallyRefunded;
        assert_eq!(status.as_str(), "PARTIALLY_REFUNDED");
        assert_eq!(PaymentStatus::parse("PARTIALLY_REFUNDED"), Some(status));
        let json = serde_json::to_value(status).unwrap();
        assert_eq!(json, "PARTIALLY_REFUNDED");
    }
}
