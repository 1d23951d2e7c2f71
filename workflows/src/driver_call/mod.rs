//! `DriverCallWorkflow`: one durable execution per call, the saga coordinator whose state is the
//! source of truth for the call's status (spec sections 2 and 3).
//!
//! - `state.rs`: the call's state and every rule that changes it, with no Temporal in it;
//! - this file: the workflow's Temporal face (its input, its run, its signals, updates and query),
//!   each a thin shell over `state.rs`;
//! - `lanes.rs`: the run's phases and the contexts' lanes (which activities, in which order);
//! - `saga.rs`: which compensation each ending calls for, and the activities' options;
//! - `messages.rs`: the payloads of the input, signals, updates and results.
//!
//! Handlers change the status synchronously through the state machine in `domain`, so that of
//! many drivers racing for one call the first `catch` wins and every later validator sees CAUGHT.

#![allow(missing_docs)] // #[workflow_methods] emits undocumented handler constants

mod lanes;
mod messages;
mod saga;
mod state;

use std::time::{Duration, SystemTime};

use temporalio_common::search_attributes::SearchAttributes;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityExecutionError, SyncWorkflowContext, WorkerOptions, WorkflowContext,
    WorkflowContextView, WorkflowResult,
};
use temporalio_workflow::common::error::IncomingError;

pub use lanes::{
    HASHED_MOBILE_PATCH, OFFER_TIERS_PATCH, RESULTS_PROJECTION_PATCH, TIMELINE_FEED_PATCH,
};
pub use messages::{
    AssignRequest, CallPolicy, CancelRequest, CatchRequest, DenyRequest, DriverCallInput,
    FeePolicy, PayOutcome, PayRequest, PayResult, TripStepRequest,
};
pub use state::{
    CALL_STATUS, CUSTOMER_MOBILE, CallState, DRIVER_ID, HandlerError, PaymentAnswer, Reach,
    SEARCH_ATTRIBUTES, SERVICE_AREA, TIMELINE_AT, TierStep, tier_timers,
};

use crate::contracts::{CALLER_TASK_QUEUE, dashboard, payment};
use crate::domain::{CallId, CallTransition, CallView};

/// One designated-driver call, from request to the end of the trip or its compensation.
#[workflow]
pub struct DriverCallWorkflow {
    call: CallState,
    /// How many of the timeline's events the history already hands the dashboard context.
    handed_on: usize,
    /// Patch `results-projection`: the start and each update's result hand the timeline on (the
    /// dashboard reads them from the history), so only the run's own batches need a memo.
    results_hand_on: bool,
    /// Patch `offer-tiers`: a call with an area from the tariff is dispatched in widening tiers.
    offer_tiers: bool,
}

#[workflow_methods]
impl DriverCallWorkflow {
    /// Builds the workflow's state from its input.
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: DriverCallInput) -> Self {
        Self {
            call: CallState::new(input.call, input.policy),
            handed_on: 0,
            results_hand_on: false,
            offer_tiers: false,
        }
    }

    /// Runs the call to its end and returns its final view.
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<CallView> {
        let ctx: &WorkflowContext<Self> = ctx;
        lanes::run(ctx).await;
        Ok(ctx.state(|w| w.call.view()))
    }

    // ----- signals ---------------------------------------------------------------------------

    /// `cancel`: the customer cancels. Ignored once the trip has started (the API answers 409).
    #[signal(name = "cancel")]
    pub fn cancel(&mut self, ctx: &mut SyncWorkflowContext<Self>, request: CancelRequest) {
        if self.call.cancel(ctx.workflow_time(), &request) {
            ctx.upsert_search_attributes(self.call.search_attributes());
        }
    }

    /// `deny`: the catcher side or an operator denies a paid call that nobody has caught yet.
    #[signal(name = "deny")]
    pub fn deny(&mut self, ctx: &mut SyncWorkflowContext<Self>, request: DenyRequest) {
        if self.call.deny(ctx.workflow_time(), &request) {
            ctx.upsert_search_attributes(self.call.search_attributes());
        }
    }

    // ----- updates ---------------------------------------------------------------------------

    /// Refuses a `pay` unless the call is CREATED and no other payment is running.
    #[update_validator(pay)]
    pub fn validate_pay(
        &self,
        _ctx: &WorkflowContextView,
        _request: &PayRequest,
    ) -> Result<(), HandlerError> {
        self.call.check_pay()
    }

    /// `pay`: approves the pre-payment synchronously and says how it went.
    #[update(name = "pay")]
    pub async fn pay(
        ctx: &mut WorkflowContext<Self>,
        _request: PayRequest,
    ) -> Result<PayResult, HandlerError> {
        // Runs before the first await, so a concurrent `pay` validated after this sees it.
        let input = ctx.state_mut(|w| w.call.begin_payment());
        let result = ctx
            .execute_activity(
                payment::PaymentActivities::approve,
                input,
                saga::approve_options(),
            )
            .await;
        let now = ctx.workflow_time();
        let outcome = ctx.state_mut(|w| w.call.on_payment_answer(now, payment_answer(result)));
        lanes::publish(ctx);
        ctx.state_mut(Self::answered);
        Ok(PayResult {
            outcome,
            call: ctx.state(|w| w.call.view()),
        })
    }

    /// Refuses a `catch` unless the call is DISPATCHED (so exactly one driver wins).
    #[update_validator(catch)]
    pub fn validate_catch(
        &self,
        _ctx: &WorkflowContextView,
        request: &CatchRequest,
    ) -> Result<(), HandlerError> {
        self.call.check_catch(request).map(|_| ())
    }

    /// `catch`: a driver wins the call.
    #[update(name = "catch")]
    pub fn catch(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        request: CatchRequest,
    ) -> Result<CallView, HandlerError> {
        let view = self.call.catch(ctx.workflow_time(), &request)?;
        ctx.upsert_search_attributes(self.call.search_attributes());
        self.answered();
        Ok(view)
    }

    /// Refuses an `assign` unless the call is DISPATCHED (an assign and a catch: one wins).
    #[update_validator(assign)]
    pub fn validate_assign(
        &self,
        _ctx: &WorkflowContextView,
        request: &AssignRequest,
    ) -> Result<(), HandlerError> {
        self.call.check_assign(request).map(|_| ())
    }

    /// `assign`: an operator gives the open call to a driver (assigned dispatch, 강제배차).
    #[update(name = "assign")]
    pub fn assign(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        request: AssignRequest,
    ) -> Result<CallView, HandlerError> {
        let view = self.call.assign(ctx.workflow_time(), &request)?;
        ctx.upsert_search_attributes(self.call.search_attributes());
        self.answered();
        Ok(view)
    }

    /// Refuses an `arrive` unless the call is CAUGHT by this driver.
    #[update_validator(arrive)]
    pub fn validate_arrive(
        &self,
        _ctx: &WorkflowContextView,
        request: &TripStepRequest,
    ) -> Result<(), HandlerError> {
        self.call
            .check_trip_step(&request.driver_id, CallTransition::Arrive)
    }

    /// `arrive`: the driver is at the pickup location.
    #[update(name = "arrive")]
    pub fn arrive(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        request: TripStepRequest,
    ) -> Result<CallView, HandlerError> {
        self.trip_step(ctx, &request, CallTransition::Arrive)
    }

    /// Refuses a `start_trip` unless the call is ARRIVED with this driver.
    #[update_validator(start_trip)]
    pub fn validate_start_trip(
        &self,
        _ctx: &WorkflowContextView,
        request: &TripStepRequest,
    ) -> Result<(), HandlerError> {
        self.call
            .check_trip_step(&request.driver_id, CallTransition::StartTrip)
    }

    /// `start_trip`: the driver sets off; from now on the call cannot be cancelled.
    #[update(name = "start_trip")]
    pub fn start_trip(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        request: TripStepRequest,
    ) -> Result<CallView, HandlerError> {
        self.trip_step(ctx, &request, CallTransition::StartTrip)
    }

    /// Refuses a `complete` unless the call is DRIVING with this driver.
    #[update_validator(complete)]
    pub fn validate_complete(
        &self,
        _ctx: &WorkflowContextView,
        request: &TripStepRequest,
    ) -> Result<(), HandlerError> {
        self.call
            .check_trip_step(&request.driver_id, CallTransition::Complete)
    }

    /// `complete`: the customer is home.
    #[update(name = "complete")]
    pub fn complete(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        request: TripStepRequest,
    ) -> Result<CallView, HandlerError> {
        self.trip_step(ctx, &request, CallTransition::Complete)
    }

    /// Refuses a `no_show` unless the call is ARRIVED with this driver, under the fee rules.
    #[update_validator(no_show)]
    pub fn validate_no_show(
        &self,
        _ctx: &WorkflowContextView,
        request: &TripStepRequest,
    ) -> Result<(), HandlerError> {
        self.call.check_no_show(&request.driver_id)
    }

    /// `no_show`: the customer never came; after `NO_SHOW_WAIT` the call ends NO_SHOW and the
    /// fee is kept (refused before: the wait is measured in workflow time, which only the handler
    /// has).
    #[update(name = "no_show")]
    pub fn no_show(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        request: TripStepRequest,
    ) -> Result<CallView, HandlerError> {
        let view = self.call.no_show(ctx.workflow_time(), &request.driver_id)?;
        ctx.upsert_search_attributes(self.call.search_attributes());
        self.answered();
        Ok(view)
    }

    // ----- query -----------------------------------------------------------------------------

    /// `dashboard`: the call view with its whole timeline.
    #[query(name = "dashboard")]
    pub fn dashboard(&self, _ctx: &WorkflowContextView) -> CallView {
        self.call.view()
    }
}

impl DriverCallWorkflow {
    /// The workflow id of a call: `call-{callId}` (spec section 2).
    pub fn workflow_id(call_id: &CallId) -> String {
        format!("call-{call_id}")
    }

    /// The call id in a workflow id, the inverse of [`Self::workflow_id`].
    pub fn call_id_of(workflow_id: &str) -> Option<CallId> {
        workflow_id
            .strip_prefix("call-")
            .and_then(|id| CallId::parse(id).ok())
    }

    /// The events a call opens with and its summary, as the dashboard context makes them from
    /// the workflow's input and the time of its first workflow task (the workflow time the run
    /// records them at): under patch `results-projection` no memo carries them, and this is the
    /// very code the run records them with.
    pub fn opening_projection(
        input: DriverCallInput,
        first_task_at: SystemTime,
    ) -> dashboard::ProjectTimelineInput {
        let mut call = CallState::new(input.call, input.policy);
        call.made(Some(first_task_at));
        call.projection_input(0)
    }

    /// The search attributes a call starts with, so it is found by them from its first moment
    /// (and the workflow need not upsert them before its first step); `TimelineAt` is `now`, so
    /// the dashboard context finds the new call in its next look at the calls changed.
    pub fn start_search_attributes(input: &DriverCallInput, now: SystemTime) -> SearchAttributes {
        let mut call = CallState::new(input.call.clone(), input.policy);
        call.timeline_feed = true;
        call.hashed_mobile = true;
        call.changed_at = Some(now);
        SearchAttributes::new(call.search_attributes())
    }

    /// The caller context's worker: this workflow on task queue `driver-call`.
    pub fn worker_options(
        graceful_shutdown: Duration,
    ) -> Result<WorkerOptions, temporalio_sdk::WorkflowRegistrationError> {
        Ok(WorkerOptions::new(CALLER_TASK_QUEUE)
            .register_workflow::<Self>()?
            .graceful_shutdown_period(graceful_shutdown)
            .build())
    }

    fn trip_step(
        &mut self,
        ctx: &SyncWorkflowContext<Self>,
        request: &TripStepRequest,
        transition: CallTransition,
    ) -> Result<CallView, HandlerError> {
        let view = self
            .call
            .trip_step(ctx.workflow_time(), &request.driver_id, transition)?;
        ctx.upsert_search_attributes(self.call.search_attributes());
        self.answered();
        Ok(view)
    }

    /// An update is about to answer with the call's view, whose timeline the dashboard context
    /// reads from the update's completion in the history (patch `results-projection`): those
    /// events are handed on, and the projection lane need not upsert them as a memo.
    fn answered(&mut self) {
        if self.results_hand_on {
            self.handed_on = self.call.timeline.len();
        }
    }
}

/// The approval activity's result as the call's rules see it: the payment context's business
/// rejection is terminal; any other failure means it did not answer.
fn payment_answer(
    result: Result<payment::ApprovePaymentResult, ActivityExecutionError>,
) -> PaymentAnswer {
    let error = match result {
        Ok(approved) => return PaymentAnswer::Approved(approved),
        Err(error) => error,
    };
    match error.cause() {
        Some(IncomingError::Application(failure))
            if failure.type_name() == Some(payment::PAYMENT_REJECTED) =>
        {
            PaymentAnswer::Rejected(failure.to_string())
        }
        _ => PaymentAnswer::Unavailable(error.to_string()),
    }
}
