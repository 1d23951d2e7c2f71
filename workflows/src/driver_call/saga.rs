//! The saga's steps and their compensations, and the activity options each step runs with.
//!
//! | step (context)                  | compensation when the call ends without a trip          |
//! |---------------------------------|---------------------------------------------------------|
//! | 1. approve payment (payment)    | refund: CANCELLED (cancel, expiry, rejection after an   |
//! |                                 | unconfirmed charge) or DISABLED (deny)                  |
//! | 2. offer to drivers (catcher)   | close the offer: WITHDRAWN (cancel, expiry) or DENIED   |
//! | 3. record the catch (catcher)   | close the catch: WITHDRAWN; COMPLETED after the trip    |
//!
//! Each compensation is registered *before* its step runs, because a step can succeed and still
//! look failed to the workflow (a timeout after the ledger write). Compensations are idempotent in
//! their contexts, so running one for a step that never took effect is harmless. The two contexts'
//! compensations are independent and run concurrently, so a catcher outage never delays a refund.

use std::time::Duration;

use temporalio_common::RetryPolicy;
use temporalio_sdk::{ActivityCloseTimeouts, ActivityOptions, WorkflowCancellationToken};

use crate::contracts::{catcher, dashboard, payment};
use crate::domain::CallStatus;
use crate::domain::EventName;

/// How the payment step must be compensated once the call has ended in `status`.
pub(crate) fn refund_for(status: CallStatus) -> Option<payment::RefundKind> {
    match status {
        CallStatus::Cancelled | CallStatus::Expired | CallStatus::NoShow => {
            Some(payment::RefundKind::Cancel)
        }
        CallStatus::Denied => Some(payment::RefundKind::Disable),
        _ => None,
    }
}

/// Whether a call that ended in `status` without a confirmed payment must still ask the payment
/// context to refund by idempotency key: an earlier approval whose answer was lost may have
/// charged (cancel and expiry are already refunded by [`refund_for`]).
pub(crate) fn refunds_unconfirmed(status: CallStatus) -> bool {
    status == CallStatus::PaymentRejected
}

/// How an open offer or catch is closed once the call has ended in `status`.
pub(crate) fn close_for(status: CallStatus) -> Option<catcher::CatchStatus> {
    match status {
        CallStatus::Cancelled | CallStatus::Expired | CallStatus::NoShow => {
            Some(catcher::CatchStatus::Withdrawn)
        }
        CallStatus::Denied => Some(catcher::CatchStatus::Denied),
        CallStatus::Completed => Some(catcher::CatchStatus::Completed),
        _ => None,
    }
}

/// The timeline event a finished refund adds.
pub(crate) fn refund_event(kind: payment::RefundKind) -> EventName {
    match kind {
        payment::RefundKind::Cancel => EventName::PaymentCancelled,
        payment::RefundKind::Disable => EventName::PaymentDisabled,
    }
}

/// The synchronous approval behind `POST /calls/{id}/pay`: a customer is waiting, so it gives up
/// after a bounded time and leaves the call CREATED for another try; business rejections are
/// never retried.
pub(crate) fn approve_options() -> ActivityOptions {
    ActivityOptions::with_close_timeouts(ActivityCloseTimeouts::ScheduleAndStartToClose {
        schedule_to_close: Duration::from_secs(15),
        start_to_close: Duration::from_secs(5),
    })
    .task_queue(payment::TASK_QUEUE)
    .retry_policy(
        RetryPolicy::builder()
            .initial_interval(Duration::from_millis(200))
            .maximum_interval(Duration::from_secs(2))
            .maximum_attempts(3)
            .non_retryable_error_types([payment::PAYMENT_REJECTED])
            .build(),
    )
    .cancellation_token(WorkflowCancellationToken::new())
    .build()
}

/// Refunds must happen however long the payment context is away: retried without limit.
pub(crate) fn refund_options() -> ActivityOptions {
    until_done(payment::TASK_QUEUE)
}

/// The catcher context may be down for a while (fault isolation): its steps wait for it.
pub(crate) fn catcher_options() -> ActivityOptions {
    until_done(catcher::TASK_QUEUE)
}

/// The read model must eventually see every event, however long the dashboard context is away.
pub(crate) fn dashboard_options() -> ActivityOptions {
    until_done(dashboard::TASK_QUEUE)
}

/// Options for a step that must eventually happen: retried without limit, backing off to a
/// minute, and not cancelled with the workflow (compensations must still run then).
fn until_done(task_queue: &str) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(30))
        .task_queue(task_queue)
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_millis(500))
                .maximum_interval(Duration::from_secs(60))
                .build(),
        )
        .cancellation_token(WorkflowCancellationToken::new())
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_calls_ended_without_a_trip_are_refunded() {
        for status in CallStatus::ALL {
            let expected = match status {
                CallStatus::Cancelled | CallStatus::Expired | CallStatus::NoShow => {
                    Some(payment::RefundKind::Cancel)
                }
                CallStatus::Denied => Some(payment::RefundKind::Disable),
                _ => None,
            };
            assert_eq!(refund_for(status), expected, "{status}");
        }
    }

    #[test]
    fn a_completed_trip_closes_the_catch_as_completed() {
        assert_eq!(
            close_for(CallStatus::Completed),
            Some(catcher::CatchStatus::Completed)
        );
        assert_eq!(
            close_for(CallStatus::Denied),
            Some(catcher::CatchStatus::Denied)
        );
        assert_eq!(close_for(CallStatus::Driving), None);
    }
}
