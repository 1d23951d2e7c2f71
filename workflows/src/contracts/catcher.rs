//! Catcher context: offers paid calls to the drivers of their service area and keeps the catch.

#![allow(missing_docs)] // the #[activity_definitions] macro emits undocumented marker items

use serde::{Deserialize, Serialize};
use temporalio_macros::activity_definitions;
use temporalio_sdk::activities::ActivityError;

use crate::domain::{CallId, Driver, Krw, Location};

/// The catcher context's task queue.
pub const TASK_QUEUE: &str = "catcher";

/// A catch's status in the catcher database (spec section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CatchStatus {
    /// An open offer that drivers see.
    Received,
    /// A driver won it.
    Caught,
    /// Closed by a deny.
    Denied,
    /// Closed by a cancel or an expiry.
    Withdrawn,
    /// The trip is done.
    Completed,
}

impl CatchStatus {
    /// The spec's spelling, as stored in the catcher database.
    pub fn as_str(self) -> &'static str {
        match self {
            CatchStatus::Received => "RECEIVED",
            CatchStatus::Caught => "CAUGHT",
            CatchStatus::Denied => "DENIED",
            CatchStatus::Withdrawn => "WITHDRAWN",
            CatchStatus::Completed => "COMPLETED",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Received,
            Self::Caught,
            Self::Denied,
            Self::Withdrawn,
            Self::Completed,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
    }
}

/// Input of `catcher.offer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OfferCallInput {
    /// The paid call.
    pub call_id: CallId,
    /// Its pickup location.
    pub location: Location,
    /// Its destination, if given.
    pub destination: Option<String>,
    /// The fare the driver earns.
    pub pay_amount: Krw,
    /// The call's service area, from its place (calls made before places had areas: none, and
    /// the catcher takes the first word of the location).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<String>,
}

/// Input of `catcher.widen`: whom the call's open offer reaches now (spec section 9, "Dispatch").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WidenOfferInput {
    /// The call on offer.
    pub call_id: CallId,
    /// Every area whose available drivers the offer reaches (the call's own among them).
    pub areas: Vec<String>,
    /// Whether it reaches every available driver, whatever their areas.
    pub everyone: bool,
}

/// Result of `catcher.offer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "outcome")]
pub enum OfferResult {
    /// The offer is open to the drivers of `area`.
    Received {
        /// The service area the call is offered in.
        area: String,
    },
    /// The location is outside every service area; no offer was made.
    OutOfArea {
        /// The area the location lies in.
        area: String,
    },
}

/// Input of `catcher.catch`: records the driver the workflow chose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordCatchInput {
    /// The caught call.
    pub call_id: CallId,
    /// The winning driver.
    pub driver: Driver,
}

/// Input of `catcher.close`: ends the offer or catch as denied, withdrawn or completed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloseCatchInput {
    /// The call.
    pub call_id: CallId,
    /// `DENIED`, `WITHDRAWN` or `COMPLETED`.
    pub status: CatchStatus,
}

/// The catcher context's activities, implemented by `driver_call_activities::catcher`.
pub struct CatcherActivities;

#[activity_definitions]
impl CatcherActivities {
    /// Checks the service area and opens an offer; idempotent per call.
    #[activity(name = "catcher.offer")]
    pub fn offer(input: OfferCallInput) -> Result<OfferResult, ActivityError> {
        unimplemented!()
    }

    /// Widens an open offer to more drivers; idempotent, and a closed offer stays closed.
    #[activity(name = "catcher.widen")]
    pub fn widen(input: WidenOfferInput) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// Records the winning driver of a call; idempotent per call.
    #[activity(name = "catcher.catch")]
    pub fn catch(input: RecordCatchInput) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// Closes the call's offer or catch; idempotent, and a closed offer never reopens.
    #[activity(name = "catcher.close")]
    pub fn close(input: CloseCatchInput) -> Result<(), ActivityError> {
        unimplemented!()
    }
}
