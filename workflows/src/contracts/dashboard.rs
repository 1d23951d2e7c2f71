//! Dashboard context: projects every call's timeline into the myPage read model (CQRS) and
//! notifies subscribers of every status change.

#![allow(missing_docs)] // the #[activity_definitions] macro emits undocumented marker items

use serde::{Deserialize, Serialize};
use temporalio_macros::activity_definitions;
use temporalio_sdk::activities::ActivityError;

use crate::domain::{CallId, CallStatus, CallView, Krw, Location, MobileNumber, TimelineEvent};

/// The dashboard context's task queue.
pub const TASK_QUEUE: &str = "dashboard";

/// The memo key under which the workflow hands each batch of timeline events to the dashboard
/// context (a [`ProjectTimelineInput`] in a `WorkflowPropertiesModified` history event).
pub const PROJECTION_MEMO: &str = "projection";

/// Input of `dashboard.project` and the value of the `projection` memo: the call as it is now, and timeline events not yet projected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectTimelineInput {
    /// The call.
    pub call_id: CallId,
    /// Its customer.
    pub mobile: MobileNumber,
    /// Its pickup location.
    pub location: Location,
    /// Its fare.
    pub pay_amount: Krw,
    /// Its status after the last of `events`.
    pub status: CallStatus,
    /// Consecutive timeline events; a projection may repeat ones it has seen.
    pub events: Vec<TimelineEvent>,
}

impl ProjectTimelineInput {
    /// The whole timeline of a call's view (an update's result), with its summary.
    pub fn of_view(view: CallView) -> Self {
        Self {
            call_id: view.call_id,
            mobile: view.mobile,
            location: view.location,
            pay_amount: view.pay_amount,
            status: view.status,
            events: view.timeline,
        }
    }
}

/// The dashboard context's activities, implemented by `driver_call_activities::dashboard`.
pub struct DashboardActivities;

#[activity_definitions]
impl DashboardActivities {
    /// Writes the events and the call's summary into the read model; idempotent per (call, seq).
    #[activity(name = "dashboard.project")]
    pub fn project(input: ProjectTimelineInput) -> Result<(), ActivityError> {
        unimplemented!()
    }
}
