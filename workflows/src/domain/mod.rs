//! The call domain: value types parsed once at the edge, the call's state machine and its timeline.

mod call;
mod call_status;
mod quote;
pub mod tariff;
mod timeline;

pub use call::{CallArea, CallId, Driver, DriverId, Krw, Location, MobileNumber, NewCall, PayType};
pub use call_status::{CallStatus, CallTransition, TransitionRefused};
pub use quote::{AcceptedQuote, FareItem};
pub use timeline::{CallView, CancellationFee, EventName, TimelineEvent};

/// The spec's default service areas (`SERVICE_AREAS`).
pub const DEFAULT_SERVICE_AREAS: &str = "kangnam,dongjak,nowon,mapo,jongro,bundang";

/// The spec's minimum fare (`MIN_PAY_AMOUNT`).
pub const DEFAULT_MIN_PAY_AMOUNT: i64 = 5000;

/// Why a value from outside (an HTTP body, a CLI payload) is not a valid part of a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The call id is not a UUID.
    #[error("`{0}` is not a valid call id (expected a UUID)")]
    InvalidCallId(String),
    /// The mobile number has characters other than digits, spaces, dashes and a leading `+`, or a
    /// length no phone number has.
    #[error("`{0}` is not a valid mobile number")]
    InvalidMobile(String),
    /// The location is empty or too long.
    #[error("location must be 1 to {max} characters", max = call::MAX_TEXT_LEN)]
    InvalidLocation,
    /// The destination is too long.
    #[error("destination must be at most {max} characters", max = call::MAX_TEXT_LEN)]
    InvalidDestination,
    /// Money is never negative.
    #[error("payAmount must be a non-negative whole number of KRW, got {0}")]
    NegativeAmount(i64),
    /// A driver id is empty or too long.
    #[error("driverId must be 1 to {max} characters", max = call::MAX_ID_LEN)]
    InvalidDriverId,
    /// A driver name is empty or too long.
    #[error("driverName must be 1 to {max} characters", max = call::MAX_TEXT_LEN)]
    InvalidDriverName,
}
