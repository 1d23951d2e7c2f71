//! What the customer sees of a call: its view and the timeline of everything that happened to it.

use serde::{Deserialize, Serialize};

use super::{
    AcceptedQuote, CallId, CallStatus, CallTransition, Driver, Krw, Location, MobileNumber, PayType,
};

/// The timeline event names of the original system (spec section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// The call was made with a quoted fare.
    QuoteAccepted,
    /// A cancellation (or no-show) fee was kept and the rest of the payment refunded.
    CancellationFeeCharged,
    /// The customer never met the driver.
    NoShow,
    /// Nobody caught the call within `OFFER_WINDOW`: it is offered to more drivers.
    OfferWidened,
    /// An operator assigned the call to a driver (assigned dispatch).
    CallAssigned,
}

impl EventName {
    /// Every event name.
    pub const ALL: [EventName; 20] = [
        EventName::CallMade,
        EventName::PaymentApproved,
        EventName::PaymentRejected,
        EventName::CallPayed,
        EventName::CallReceived,
        EventName::CallCaught,
        EventName::CatchDenied,
        EventName::CallDenied,
        EventName::CallCancelled,
        EventName::PaymentCancelled,
        EventName::PaymentDisabled,
        EventName::DriverArrived,
        EventName::TripStarted,
        EventName::TripCompleted,
        EventName::CallExpired,
        EventName::QuoteAccepted,
        EventName::CancellationFeeCharged,
        EventName::NoShow,
        EventName::OfferWidened,
        EventName::CallAssigned,
    ];

    /// The spec's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            EventName::CallMade => "CallMade",
            EventName::PaymentApproved => "PaymentApproved",
            EventName::PaymentRejected => "PaymentRejected",
            EventName::CallPayed => "CallPayed",
            EventName::CallReceived => "CallReceived",
            EventName::CallCaught => "CallCaught",
            EventName::CatchDenied => "CatchDenied",
            EventName::CallDenied => "CallDenied",
            EventName::CallCancelled => "CallCancelled",
            EventName::PaymentCancelled => "PaymentCancelled",
            EventName::PaymentDisabled => "PaymentDisabled",
            EventName::DriverArrived => "DriverArrived",
            EventName::TripStarted => "TripStarted",
            EventName::TripCompleted => "TripCompleted",
            EventName::CallExpired => "CallExpired",
            EventName::QuoteAccepted => "QuoteAccepted",
            EventName::CancellationFeeCharged => "CancellationFeeCharged",
            EventName::NoShow => "NoShow",
            EventName::OfferWidened => "OfferWidened",
            EventName::CallAssigned => "CallAssigned",
        }
    }

    /// Parses the spec's spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// The call's status after this event, when the event is a status change: the status of the
    /// transition it records ([`CallTransition::outcome`]), or CREATED for the first event.
    pub fn status_after(self) -> Option<CallStatus> {
        if self == EventName::CallMade {
            return Some(CallStatus::Created);
        }
        CallTransition::ALL
            .into_iter()
            .find(|t| t.event() == self)
            .map(CallTransition::target)
    }
}

/// One step on a call's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// The fee a cancel costs once the grace after the catch is over (spec section 9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CancellationFee {
    /// The fee in KRW (never more than the fare); the rest is refunded.
    pub amount: Krw,
    /// From when a cancel costs it (RFC 3339); before, a cancel is free.
    pub applies_from: String,
}

/// The call as its customer and drivers see it (spec section 4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallView {
    /// The call's id.
    pub call_id: CallId,
    /// Where the call is in its life.
    pub status: CallStatus,
    /// The customer's mobile number (digits); a driver sees it masked, e.g. `010-****-5678`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "01012345678"))]
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
    /// The quote the call was made with (fare, tip, breakdown), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<AcceptedQuote>,
    /// While CAUGHT or ARRIVED: what cancelling costs, and from when (free before), so the
    /// customer knows before confirming.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation_fee: Option<CancellationFee>,
    /// While ARRIVED under the fee rules: from when the driver may mark a no-show (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_show_from: Option<String>,
    /// Everything that happened, in order.
    pub timeline: Vec<TimelineEvent>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_round_trip_and_match_their_json() {
        for event in EventName::ALL {
            assert_eq!(EventName::parse(event.as_str()), Some(event));
            let json = serde_json::to_string(&event).unwrap();
            assert_eq!(json, format!("\"{}\"", event.as_str()));
        }
    }
}
