//! What the customer sees of a call: its view and the timeline of everything that happened to it.

use serde::{Deserialize, Serialize};

use super::{CallId, CallStatus, Driver, Krw, Location, MobileNumber, PayType};

/// The timeline event names of the original system (spec section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventName {
    /// The customer requested a driver.
    CallMade,
    /// The payment context approved the pre-payment.
    PaymentApproved,
    /// The payment context refused the pre-payment.
    PaymentRejected,
    /// The call was marked paid.
    CallPayed,
    /// The catcher context opened an offer to drivers.
    CallReceived,
    /// A driver caught the call.
    CallCaught,
    /// The catcher context closed the offer as denied.
    CatchDenied,
    /// The call was denied (out of area, or by the catcher side or an operator).
    CallDenied,
    /// The customer cancelled the call.
    CallCancelled,
    /// The payment was cancelled and refunded.
    PaymentCancelled,
    /// The payment was disabled and refunded after a deny.
    PaymentDisabled,
    /// The driver arrived at the pickup location.
    DriverArrived,
    /// The trip started.
    TripStarted,
    /// The trip finished.
    TripCompleted,
    /// Nobody paid or nobody caught in time.
    CallExpired,
}

/// One step on a call's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelineEvent {
    /// Position on the call's timeline, from 1, without gaps.
    pub seq: u32,
    /// What happened.
    pub event: EventName,
    /// When it happened (workflow time, RFC 3339 UTC).
    pub at: String,
    /// A sentence for the customer.
    pub description: String,
}

/// The call as its customer and drivers see it (spec section 4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallView {
    /// The call's id.
    pub call_id: CallId,
    /// Where the call is in its life.
    pub status: CallStatus,
    /// The customer's mobile number.
    pub mobile: MobileNumber,
    /// The pickup location.
    pub location: Location,
    /// The destination, if given.
    pub destination: Option<String>,
    /// How the fare is pre-paid.
    pub pay_type: PayType,
    /// The fare.
    pub pay_amount: Krw,
    /// The payment's id once the payment context has answered.
    pub payment_id: Option<String>,
    /// The driver who caught the call.
    pub driver: Option<Driver>,
    /// Everything that happened, in order.
    pub timeline: Vec<TimelineEvent>,
}
