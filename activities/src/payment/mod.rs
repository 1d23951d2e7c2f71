//! Payment context: the payments ledger and the `payment.*` activities that approve and refund
//! pre-payments. Approval and refund are idempotent per call, enforced by the ledger's unique keys.

mod store;

use std::sync::Arc;

use driver_call_workflows::contracts::payment::{
    ApprovePaymentInput, ApprovePaymentResult, PAYMENT_REJECTED, PaymentStatus, RefundPaymentInput,
    RefundPaymentResult,
};
use driver_call_workflows::domain::Krw;
use temporalio_macros::activities;
use temporalio_sdk::ApplicationFailure;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

pub use store::{Approval, PaymentRecord, PaymentStore, idempotency_key};

/// The spec's minimum fare (`MIN_PAY_AMOUNT`).
pub const DEFAULT_MIN_PAY_AMOUNT: i64 = 5000;

/// The payment context's activities.
pub struct Activities {
    store: PaymentStore,
    min_pay_amount: Krw,
}

impl Activities {
    /// Activities over `store` that reject fares below `min_pay_amount`.
    pub fn new(store: PaymentStore, min_pay_amount: Krw) -> Self {
        Self {
            store,
            min_pay_amount,
        }
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
        let record = self.store.approve(&input, self.min_pay_amount).await?;
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

    /// Refunds the call's approved payment (CANCELLED or DISABLED); a no-op without one.
    #[activity(name = "payment.refund")]
    pub async fn refund(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: RefundPaymentInput,
    ) -> Result<RefundPaymentResult, ActivityError> {
        let refunded = self.store.refund(&input.call_id, input.kind).await?;
        Ok(RefundPaymentResult {
            payment_id: refunded.as_ref().map(|r| r.payment_id.clone()),
            status: refunded.map(|r| r.status),
        })
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

#[cfg(test)]
mod tests {
    use driver_call_workflows::contracts::payment::PaymentActivities as Contract;
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
}
