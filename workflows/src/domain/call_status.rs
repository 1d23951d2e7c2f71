//! The life of a call (spec section 3) as a pure state machine.
//!
//! ```text
//! CREATED --PaymentApproved--> PAID --Dispatched--> DISPATCHED --Caught--> CAUGHT --Arrived--> ARRIVED
//!    |                          |                      |                      |                   |
//!    |                          |                      |                      +----Cancel---------+--> CANCELLED
//!    |                          +------Cancel----------+-------------------------------------------> CANCELLED
//!    |                          +------Deny / OutOfArea+-------------------------------------------> DENIED
//!    |                          +------DispatchTimedOut+-------------------------------------------> EXPIRED
//!    +--PaymentRejected--> PAYMENT_REJECTED   +--PaymentWindowElapsed--> EXPIRED   +--Cancel--> CANCELLED
//! ARRIVED --TripStarted--> DRIVING --TripCompleted--> COMPLETED        (DRIVING refuses Cancel)
//! ARRIVED --NoShow--> NO_SHOW
//! ```

use serde::{Deserialize, Serialize};

use super::EventName;

/// Where a call is in its life. Serialized exactly as the spec spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CallStatus {
    /// Requested, waiting for the pre-payment.
    Created,
    /// Paid, waiting to be offered to drivers.
    Paid,
    /// Offered to the drivers of its service area.
    Dispatched,
    /// A driver won the call.
    Caught,
    /// The driver is at the pickup location.
    Arrived,
    /// The driver is driving the customer home.
    Driving,
    /// The trip is over (terminal).
    Completed,
    /// The payment context refused the payment (terminal, nothing charged).
    PaymentRejected,
    /// The customer cancelled (terminal, payment refunded).
    Cancelled,
    /// Out of the service area or denied by the catcher side (terminal, payment disabled).
    Denied,
    /// Nobody paid or nobody caught in time (terminal, payment refunded).
    Expired,
    /// The customer never met the driver who arrived (terminal, the fee kept, the rest refunded).
    NoShow,
}

/// Something that happens to a call and may move it to another status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallTransition {
    /// The payment context approved the pre-payment.
    PaymentApproved,
    /// The payment context refused the pre-payment (a business rejection).
    PaymentRejected,
    /// `PAYMENT_WINDOW` passed without a payment.
    PaymentWindowElapsed,
    /// The catcher context opened an offer to drivers.
    Dispatched,
    /// The catcher context found the call outside every service area.
    OutOfArea,
    /// The catcher side or an operator denied the call.
    Deny,
    /// `DISPATCH_TIMEOUT` passed without a catch.
    DispatchTimedOut,
    /// A driver caught the call.
    Catch,
    /// The driver arrived at the pickup location.
    Arrive,
    /// The trip started.
    StartTrip,
    /// The trip finished.
    Complete,
    /// The customer cancelled.
    Cancel,
    /// The driver waited `NO_SHOW_WAIT` at the pickup and the customer never came.
    NoShow,
}

/// A transition that the call's current status does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {status} call cannot {transition}")]
pub struct TransitionRefused {
    /// The status the call is in.
    pub status: CallStatus,
    /// What was attempted.
    pub transition: CallTransition,
}

impl CallStatus {
    /// Every status, in the order of a call's life.
    pub const ALL: [CallStatus; 12] = [
        CallStatus::Created,
        CallStatus::Paid,
        CallStatus::Dispatched,
        CallStatus::Caught,
        CallStatus::Arrived,
        CallStatus::Driving,
        CallStatus::Completed,
        CallStatus::PaymentRejected,
        CallStatus::Cancelled,
        CallStatus::Denied,
        CallStatus::Expired,
        CallStatus::NoShow,
    ];

    /// The status this transition leads to, or why it is refused.
    pub fn apply(self, transition: CallTransition) -> Result<CallStatus, TransitionRefused> {
        if !self.permits(transition) {
            return Err(TransitionRefused {
                status: self,
                transition,
            });
        }
        Ok(transition.target())
    }

    /// Where each transition may happen (spec section 3); where it leads is the transition's.
    fn permits(self, transition: CallTransition) -> bool {
        use CallStatus as S;
        use CallTransition as T;
        matches!(
            (self, transition),
            (
                S::Created,
                T::PaymentApproved | T::PaymentRejected | T::PaymentWindowElapsed
            ) | (S::Paid, T::Dispatched)
                | (
                    S::Paid | S::Dispatched,
                    T::OutOfArea | T::Deny | T::DispatchTimedOut
                )
                | (S::Dispatched, T::Catch)
                | (S::Caught, T::Arrive)
                | (S::Arrived, T::StartTrip)
                | (S::Driving, T::Complete)
                | (S::Arrived, T::NoShow)
                | (
                    S::Created | S::Paid | S::Dispatched | S::Caught | S::Arrived,
                    T::Cancel
                )
        )
    }

    /// Whether the transition is allowed from this status.
    pub fn allows(self, transition: CallTransition) -> bool {
        self.apply(transition).is_ok()
    }

    /// Whether the call's life is over.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            CallStatus::Completed
                | CallStatus::PaymentRejected
                | CallStatus::Cancelled
                | CallStatus::Denied
                | CallStatus::Expired
                | CallStatus::NoShow
        )
    }

    /// The spec's spelling, as stored in search attributes and databases.
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Created => "CREATED",
            CallStatus::Paid => "PAID",
            CallStatus::Dispatched => "DISPATCHED",
            CallStatus::Caught => "CAUGHT",
            CallStatus::Arrived => "ARRIVED",
            CallStatus::Driving => "DRIVING",
            CallStatus::Completed => "COMPLETED",
            CallStatus::PaymentRejected => "PAYMENT_REJECTED",
            CallStatus::Cancelled => "CANCELLED",
            CallStatus::Denied => "DENIED",
            CallStatus::Expired => "EXPIRED",
            CallStatus::NoShow => "NO_SHOW",
        }
    }
}

impl CallTransition {
    /// Every transition.
    pub const ALL: [CallTransition; 13] = [
        CallTransition::PaymentApproved,
        CallTransition::PaymentRejected,
        CallTransition::PaymentWindowElapsed,
        CallTransition::Dispatched,
        CallTransition::OutOfArea,
        CallTransition::Deny,
        CallTransition::DispatchTimedOut,
        CallTransition::Catch,
        CallTransition::Arrive,
        CallTransition::StartTrip,
        CallTransition::Complete,
        CallTransition::Cancel,
        CallTransition::NoShow,
    ];

    /// The one mapping of a transition to the status it leads to and the timeline event that
    /// records it; everything else (the workflow's timeline, the read model's status column) reads
    /// it from here.
    pub fn outcome(self) -> (CallStatus, EventName) {
        use CallStatus as S;
        use CallTransition as T;
        use EventName as E;
        match self {
            T::PaymentApproved => (S::Paid, E::CallPayed),
            T::PaymentRejected => (S::PaymentRejected, E::PaymentRejected),
            T::PaymentWindowElapsed => (S::Expired, E::CallExpired),
            T::Dispatched => (S::Dispatched, E::CallReceived),
            T::OutOfArea | T::Deny => (S::Denied, E::CallDenied),
            T::DispatchTimedOut => (S::Expired, E::CallExpired),
            T::Catch => (S::Caught, E::CallCaught),
            T::Arrive => (S::Arrived, E::DriverArrived),
            T::StartTrip => (S::Driving, E::TripStarted),
            T::Complete => (S::Completed, E::TripCompleted),
            T::Cancel => (S::Cancelled, E::CallCancelled),
            T::NoShow => (S::NoShow, E::NoShow),
        }
    }

    /// The status the call is in after this transition.
    pub fn target(self) -> CallStatus {
        self.outcome().0
    }

    /// The timeline event that records this transition.
    pub fn event(self) -> EventName {
        self.outcome().1
    }
}

impl std::fmt::Display for CallStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for CallTransition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verb = match self {
            CallTransition::PaymentApproved => "be paid",
            CallTransition::PaymentRejected => "have its payment rejected",
            CallTransition::PaymentWindowElapsed => "expire unpaid",
            CallTransition::Dispatched => "be dispatched",
            CallTransition::OutOfArea => "be denied as out of area",
            CallTransition::Deny => "be denied",
            CallTransition::DispatchTimedOut => "expire undispatched",
            CallTransition::Catch => "be caught",
            CallTransition::Arrive => "have its driver arrive",
            CallTransition::StartTrip => "start its trip",
            CallTransition::Complete => "complete its trip",
            CallTransition::Cancel => "be cancelled",
            CallTransition::NoShow => "be marked a no-show",
        };
        f.write_str(verb)
    }
}

#[cfg(test)]
mod tests {
    use super::{CallStatus as S, CallTransition as T};
    use crate::domain::EventName;

    const ALL_TRANSITIONS: [T; 13] = T::ALL;

    /// The spec's table, written out independently of `apply`'s match.
    fn expected(from: S, t: T) -> Option<S> {
        let table: &[(S, T, S)] = &[
            (S::Created, T::PaymentApproved, S::Paid),
            (S::Created, T::PaymentRejected, S::PaymentRejected),
            (S::Created, T::PaymentWindowElapsed, S::Expired),
            (S::Created, T::Cancel, S::Cancelled),
            (S::Paid, T::Dispatched, S::Dispatched),
            (S::Paid, T::Cancel, S::Cancelled),
            (S::Paid, T::Deny, S::Denied),
            (S::Paid, T::OutOfArea, S::Denied),
            (S::Paid, T::DispatchTimedOut, S::Expired),
            (S::Dispatched, T::Catch, S::Caught),
            (S::Dispatched, T::Cancel, S::Cancelled),
            (S::Dispatched, T::Deny, S::Denied),
            (S::Dispatched, T::OutOfArea, S::Denied),
            (S::Dispatched, T::DispatchTimedOut, S::Expired),
            (S::Caught, T::Arrive, S::Arrived),
            (S::Caught, T::Cancel, S::Cancelled),
            (S::Arrived, T::StartTrip, S::Driving),
            (S::Arrived, T::Cancel, S::Cancelled),
            (S::Arrived, T::NoShow, S::NoShow),
            (S::Driving, T::Complete, S::Completed),
        ];
        table
            .iter()
            .find(|(f, tr, _)| *f == from && *tr == t)
            .map(|(_, _, to)| *to)
    }

    #[test]
    fn every_status_and_transition_pair_matches_the_spec_table() {
        for from in S::ALL {
            for t in ALL_TRANSITIONS {
                assert_eq!(from.apply(t).ok(), expected(from, t), "{from} on {t:?}");
            }
        }
    }

    #[test]
    fn terminal_statuses_refuse_everything() {
        for from in S::ALL.into_iter().filter(|s| s.is_terminal()) {
            for t in ALL_TRANSITIONS {
                assert!(!from.allows(t), "{from} allowed {t:?}");
            }
        }
    }

    #[test]
    fn each_transition_is_recorded_by_the_event_whose_status_is_its_target() {
        for t in T::ALL {
            assert_eq!(t.event().status_after(), Some(t.target()), "{t:?}");
        }
        assert_eq!(T::Deny.event(), EventName::CallDenied);
        assert_eq!(T::OutOfArea.event(), EventName::CallDenied);
        assert_eq!(T::PaymentApproved.event(), EventName::CallPayed);
        assert_eq!(EventName::CallMade.status_after(), Some(S::Created));
        assert_eq!(EventName::PaymentApproved.status_after(), None);
    }

    #[test]
    fn cancel_is_refused_while_driving() {
        let refused = S::Driving.apply(T::Cancel).unwrap_err();
        assert_eq!(refused.to_string(), "a DRIVING call cannot be cancelled");
    }

    #[test]
    fn deny_is_refused_after_the_catch() {
        for from in [S::Caught, S::Arrived, S::Driving] {
            assert!(!from.allows(T::Deny), "{from} allowed deny");
        }
    }

    #[test]
    fn statuses_serialize_as_the_spec_spells_them() {
        for s in S::ALL {
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
    }
}
