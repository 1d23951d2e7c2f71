//! `DriverCallWorkflow`: one durable execution per call, the saga coordinator whose state is the
//! source of truth for the call's status (spec sections 2 and 3).
//!
//! The run is three phases, then the compensations:
//! 1. wait for the `pay` update (or the customer's cancel, or `PAYMENT_WINDOW`);
//! 2. offer the paid call to the catcher context and wait for a driver's `catch` (or cancel, deny,
//!    out of area, or `DISPATCH_TIMEOUT`);
//! 3. once the call has ended, run each context's lane concurrently: the payment lane refunds, the
//!    catcher lane records the catch and closes the offer.
//!
//! Alongside all of it, the dashboard lane projects each timeline event into the myPage read model
//! (patch `dashboard-projection`).
//!
//! Handlers change the status synchronously through the state machine in `domain`, so that of
//! many drivers racing for one call the first `catch` wins and every later validator sees CAUGHT.

#![allow(missing_docs)] // #[workflow_methods] emits undocumented handler constants

mod messages;
mod saga;

use std::time::{SystemTime, UNIX_EPOCH};

use futures::FutureExt;
use futures::future::LocalBoxFuture;
use temporalio_common::search_attributes::{SearchAttributeKey, SearchAttributeUpdate};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityExecutionError, SyncWorkflowContext, TimerOptions, WaitConditionOptions,
    WorkflowCancellationToken, WorkflowContext, WorkflowContextView, WorkflowResult,
    workflows::{join, select},
};
use temporalio_workflow::common::error::IncomingError;

pub use messages::{
    CallPolicy, CancelRequest, CatchRequest, DenyRequest, DriverCallInput, PayOutcome, PayRequest,
    PayResult, TripStepRequest,
};

use crate::contracts::{catcher, dashboard, payment};
use crate::domain::{
    CallId, CallStatus, CallTransition, CallView, Driver, DriverId, EventName, NewCall,
    TimelineEvent, TransitionRefused,
};

/// Search attribute: the call's status, e.g. `CallStatus="DISPATCHED"`.
pub const CALL_STATUS: SearchAttributeKey<String> = SearchAttributeKey::keyword("CallStatus");
/// Search attribute: the customer's normalised mobile number.
pub const CUSTOMER_MOBILE: SearchAttributeKey<String> =
    SearchAttributeKey::keyword("CustomerMobile");
/// Search attribute: the service area of the pickup location.
pub const SERVICE_AREA: SearchAttributeKey<String> = SearchAttributeKey::keyword("ServiceArea");
/// Search attribute: the driver who caught the call.
pub const DRIVER_ID: SearchAttributeKey<String> = SearchAttributeKey::keyword("DriverId");

/// The names of the custom search attributes, for registering them on a server.
pub const SEARCH_ATTRIBUTES: [&str; 4] =
    ["CallStatus", "CustomerMobile", "ServiceArea", "DriverId"];

type HandlerError = Box<dyn std::error::Error + Send + Sync>;
type OfferFuture = futures::future::Fuse<
    LocalBoxFuture<'static, Result<catcher::OfferResult, ActivityExecutionError>>,
>;

/// One designated-driver call, from request to the end of the trip or its compensation.
#[workflow]
pub struct DriverCallWorkflow {
    call: NewCall,
    policy: CallPolicy,
    status: CallStatus,
    payment: PaymentProgress,
    driver: Option<Driver>,
    timeline: Vec<TimelineEvent>,
    saga_finished: bool,
}

/// Patch that added the dashboard projection lane (calls started before it replay without it).
const DASHBOARD_PROJECTION_PATCH: &str = "dashboard-projection";

/// Patch that refunds, by idempotency key, any charge a PAYMENT_REJECTED call may hold.
const REFUND_UNCONFIRMED_PATCH: &str = "refund-unconfirmed-charge";

/// What the workflow knows of the call's payment.
#[derive(Debug, Default)]
struct PaymentProgress {
    /// An approval was started, so a charge may exist: the refund compensation is registered.
    attempted: bool,
    /// An approval is running right now.
    in_flight: bool,
    /// The approved payment's id.
    payment_id: Option<String>,
}

#[workflow_methods]
impl DriverCallWorkflow {
    /// Builds the workflow's state from its input.
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: DriverCallInput) -> Self {
        Self {
            call: input.call,
            policy: input.policy,
            status: CallStatus::Created,
            payment: PaymentProgress::default(),
            driver: None,
            timeline: Vec::new(),
            saga_finished: false,
        }
    }

    /// Runs the call to its end and returns its final view.
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<CallView> {
        let ctx: &WorkflowContext<Self> = ctx;
        let now = ctx.workflow_time();
        ctx.state_mut(|s| {
            let description = format!("Call made from {}", s.call.location.as_ref());
            s.record(now, EventName::CallMade, description);
        });
        Self::publish(ctx);

        if ctx.patched(DASHBOARD_PROJECTION_PATCH) {
            join!(Self::saga(ctx), Self::projection_lane(ctx));
        } else {
            Self::saga(ctx).await;
        }
        Ok(ctx.state(Self::view))
    }

    /// The call's life and its compensations.
    async fn saga(ctx: &WorkflowContext<Self>) {
        Self::await_payment(ctx).await;
        let offer = if Self::status(ctx) == CallStatus::Paid {
            Self::dispatch(ctx).await
        } else {
            None
        };
        join!(Self::payment_lane(ctx), Self::catcher_lane(ctx, offer));

        // An approval still running (a late `pay`) must finish before the run does.
        wait_until(ctx, |s| !s.payment.in_flight).await;
        ctx.state_mut(|s| s.saga_finished = true);
    }

    /// The dashboard lane: projects every timeline event into the myPage read model, in order and
    /// in batches. It never holds the call back: when the dashboard worker is down, the saga goes
    /// on and the events wait here until it returns.
    async fn projection_lane(ctx: &WorkflowContext<Self>) {
        let mut projected = 0;
        loop {
            wait_until(ctx, move |s| {
                s.timeline.len() > projected || s.saga_finished
            })
            .await;
            let (input, recorded, finished) = ctx.state(|s| {
                (
                    s.projection_input(projected),
                    s.timeline.len(),
                    s.saga_finished,
                )
            });
            if recorded == projected && finished {
                return;
            }
            let sent = ctx
                .execute_activity(
                    dashboard::DashboardActivities::project,
                    input,
                    saga::dashboard_options(),
                )
                .await;
            // Retried without limit; an error means the workflow itself is going away.
            if sent.is_err() {
                return;
            }
            projected = recorded;
        }
    }

    /// Phase 1: the call waits for its payment, a cancel, or the end of `PAYMENT_WINDOW`.
    async fn await_payment(ctx: &WorkflowContext<Self>) {
        let window = ctx.state(|s| s.policy.payment_window());
        let mut window_timer = ctx.timer(
            TimerOptions::builder(window)
                .summary("PAYMENT_WINDOW".to_owned())
                .cancellation_token(WorkflowCancellationToken::new())
                .build(),
        );
        let mut settled = wait_until(ctx, |s| s.status != CallStatus::Created);
        let window_elapsed = select! {
            _ = settled => false,
            _ = window_timer => true,
        };
        if !window_elapsed {
            return;
        }
        // A payment already under way gets its answer before the call may expire.
        wait_until(ctx, |s| !s.payment.in_flight).await;
        Self::advance(
            ctx,
            CallTransition::PaymentWindowElapsed,
            EventName::CallExpired,
            "Nobody paid within the payment window".to_owned(),
        );
    }

    /// Phase 2: offers the paid call and waits until a driver catches it or the call ends.
    /// Returns the offer still running when the call ended before the catcher context answered.
    async fn dispatch(ctx: &WorkflowContext<Self>) -> Option<OfferFuture> {
        let (timeout, input) = ctx.state(|s| (s.policy.dispatch_timeout(), s.offer_input()));
        let mut deadline = ctx.timer(
            TimerOptions::builder(timeout)
                .summary("DISPATCH_TIMEOUT".to_owned())
                .cancellation_token(WorkflowCancellationToken::new())
                .build(),
        );
        let owned = ctx.clone();
        let offering: LocalBoxFuture<'static, _> = Box::pin(async move {
            owned
                .execute_activity(
                    catcher::CatcherActivities::offer,
                    input,
                    saga::catcher_options(),
                )
                .await
        });
        let mut offer: OfferFuture = offering.fuse();
        let mut left_paid = wait_until(ctx, |s| s.status != CallStatus::Paid);

        let answered = select! {
            result = offer => Some(result),
            _ = left_paid => None,
            _ = deadline => {
                Self::expire_undispatched(ctx);
                None
            },
        };
        let Some(result) = answered else {
            return Some(offer);
        };
        Self::on_offer_answered(ctx, result);
        if Self::status(ctx) != CallStatus::Dispatched {
            return None;
        }

        let mut caught_or_ended = wait_until(ctx, |s| s.status != CallStatus::Dispatched);
        select! {
            _ = caught_or_ended => {},
            _ = deadline => Self::expire_undispatched(ctx),
        };
        None
    }

    /// The payment lane: once the call has ended, refunds any charge it may hold.
    async fn payment_lane(ctx: &WorkflowContext<Self>) {
        wait_until(ctx, |s| s.status.is_terminal() && !s.payment.in_flight).await;
        let (status, attempted, call_id) =
            ctx.state(|s| (s.status, s.payment.attempted, s.call.call_id));
        if !attempted {
            return;
        }
        let refund = match saga::refund_for(status) {
            Some(kind) => Some(kind),
            // A rejected call may still hold a charge from an earlier attempt whose answer was
            // lost; calls started before this patch replay without the extra refund.
            None if saga::refunds_unconfirmed(status) && ctx.patched(REFUND_UNCONFIRMED_PATCH) => {
                Some(payment::RefundKind::Cancel)
            }
            None => None,
        };
        let Some(kind) = refund else {
            return;
        };
        let input = payment::RefundPaymentInput { call_id, kind };
        let refunded = ctx
            .execute_activity(
                payment::PaymentActivities::refund,
                input,
                saga::refund_options(),
            )
            .await;
        // Retried without limit, so an error here means the workflow itself is going away.
        let Ok(refund) = refunded else { return };
        let Some(payment_id) = refund.payment_id else {
            return;
        };
        let now = ctx.workflow_time();
        ctx.state_mut(|s| {
            let description = format!("Payment {payment_id} refunded");
            s.record(now, saga::refund_event(kind), description);
        });
    }

    /// The catcher lane: records the catch, and once the call has ended, closes its offer or catch.
    async fn catcher_lane(ctx: &WorkflowContext<Self>, pending_offer: Option<OfferFuture>) {
        let offered = match pending_offer {
            // The call ended while the catcher context was still opening the offer: wait for it,
            // so the offer can be closed rather than left open after the call ended.
            Some(offer) => offer.await.is_ok(),
            None => ctx.state(|s| s.reached_drivers()),
        };
        if !offered {
            return;
        }
        let caught = ctx.state(|s| s.driver.clone());
        if let Some(driver) = caught {
            let call_id = ctx.state(|s| s.call.call_id);
            let input = catcher::RecordCatchInput { call_id, driver };
            let recorded = ctx
                .execute_activity(
                    catcher::CatcherActivities::catch,
                    input,
                    saga::catcher_options(),
                )
                .await;
            if recorded.is_err() {
                return;
            }
        }
        wait_until(ctx, |s| s.status.is_terminal()).await;
        let (status, call_id) = ctx.state(|s| (s.status, s.call.call_id));
        let Some(close) = saga::close_for(status) else {
            return;
        };
        let input = catcher::CloseCatchInput {
            call_id,
            status: close,
        };
        let closed = ctx
            .execute_activity(
                catcher::CatcherActivities::close,
                input,
                saga::catcher_options(),
            )
            .await;
        if closed.is_ok() && close == catcher::CatchStatus::Denied {
            let now = ctx.workflow_time();
            ctx.state_mut(|s| {
                s.record(
                    now,
                    EventName::CatchDenied,
                    "The offer to drivers was closed".to_owned(),
                )
            });
        }
    }

    fn on_offer_answered(
        ctx: &WorkflowContext<Self>,
        result: Result<catcher::OfferResult, ActivityExecutionError>,
    ) {
        match result {
            Ok(catcher::OfferResult::Received { area }) => Self::advance(
                ctx,
                CallTransition::Dispatched,
                EventName::CallReceived,
                format!("Offered to drivers in {area}"),
            ),
            Ok(catcher::OfferResult::OutOfArea { area }) => Self::advance(
                ctx,
                CallTransition::OutOfArea,
                EventName::CallDenied,
                format!("`{area}` is outside the service areas"),
            ),
            // Retried without limit; only a workflow going away ends the offer with an error.
            Err(_) => {}
        }
    }

    fn expire_undispatched(ctx: &WorkflowContext<Self>) {
        Self::advance(
            ctx,
            CallTransition::DispatchTimedOut,
            EventName::CallExpired,
            "No driver caught the call in time".to_owned(),
        );
    }

    /// Moves the call on from the run (handlers use [`Self::apply`] directly). A refused
    /// transition means a handler moved the call first, which is fine: that status stands.
    fn advance(
        ctx: &WorkflowContext<Self>,
        transition: CallTransition,
        event: EventName,
        description: String,
    ) {
        let now = ctx.workflow_time();
        let applied = ctx.state_mut(|s| s.apply(now, transition, event, description));
        if applied.is_ok() {
            Self::publish(ctx);
        }
    }

    fn publish(ctx: &WorkflowContext<Self>) {
        ctx.upsert_search_attributes(ctx.state(Self::search_attributes));
    }

    fn status(ctx: &WorkflowContext<Self>) -> CallStatus {
        ctx.state(|s| s.status)
    }

    // ----- signals ---------------------------------------------------------------------------

    /// `cancel`: the customer cancels. Ignored once the trip has started (the API answers 409).
    #[signal(name = "cancel")]
    pub fn cancel(&mut self, ctx: &mut SyncWorkflowContext<Self>, request: CancelRequest) {
        let description = match request.reason.as_deref().map(str::trim) {
            Some(reason) if !reason.is_empty() => format!("Cancelled by the customer: {reason}"),
            _ => "Cancelled by the customer".to_owned(),
        };
        let now = ctx.workflow_time();
        if self
            .apply(
                now,
                CallTransition::Cancel,
                EventName::CallCancelled,
                description,
            )
            .is_ok()
        {
            ctx.upsert_search_attributes(self.search_attributes());
        }
    }

    /// `deny`: the catcher side or an operator denies a paid call that nobody has caught yet.
    #[signal(name = "deny")]
    pub fn deny(&mut self, ctx: &mut SyncWorkflowContext<Self>, request: DenyRequest) {
        let description = format!("Denied: {}", request.reason.trim());
        let now = ctx.workflow_time();
        if self
            .apply(
                now,
                CallTransition::Deny,
                EventName::CallDenied,
                description,
            )
            .is_ok()
        {
            ctx.upsert_search_attributes(self.search_attributes());
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
        self.status.apply(CallTransition::PaymentApproved)?;
        if self.payment.in_flight {
            return Err("a payment for this call is already in progress".into());
        }
        Ok(())
    }

    /// `pay`: approves the pre-payment synchronously and says how it went.
    #[update(name = "pay")]
    pub async fn pay(
        ctx: &mut WorkflowContext<Self>,
        _request: PayRequest,
    ) -> Result<PayResult, HandlerError> {
        // Runs before the first await, so a concurrent `pay` validated after this sees it.
        let input = ctx.state_mut(|s| {
            s.payment.in_flight = true;
            s.payment.attempted = true;
            s.approve_input()
        });
        let result = ctx
            .execute_activity(
                payment::PaymentActivities::approve,
                input,
                saga::approve_options(),
            )
            .await;
        let now = ctx.workflow_time();
        let outcome = ctx.state_mut(|s| {
            s.payment.in_flight = false;
            s.on_payment_answer(now, result)
        });
        Self::publish(ctx);
        Ok(PayResult {
            outcome,
            call: ctx.state(Self::view),
        })
    }

    /// Refuses a `catch` unless the call is DISPATCHED (so exactly one driver wins).
    #[update_validator(catch)]
    pub fn validate_catch(
        &self,
        _ctx: &WorkflowContextView,
        request: &CatchRequest,
    ) -> Result<(), HandlerError> {
        Driver::parse(&request.driver_id, &request.driver_name)?;
        self.status.apply(CallTransition::Catch)?;
        Ok(())
    }

    /// `catch`: a driver wins the call.
    #[update(name = "catch")]
    pub fn catch(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        request: CatchRequest,
    ) -> Result<CallView, HandlerError> {
        let driver = Driver::parse(&request.driver_id, &request.driver_name)?;
        let description = format!("Caught by {} ({})", driver.driver_name, driver.driver_id);
        self.apply(
            ctx.workflow_time(),
            CallTransition::Catch,
            EventName::CallCaught,
            description,
        )?;
        self.driver = Some(driver);
        ctx.upsert_search_attributes(self.search_attributes());
        Ok(self.view())
    }

    /// Refuses an `arrive` unless the call is CAUGHT by this driver.
    #[update_validator(arrive)]
    pub fn validate_arrive(
        &self,
        _ctx: &WorkflowContextView,
        request: &TripStepRequest,
    ) -> Result<(), HandlerError> {
        self.check_trip_step(&request.driver_id, CallTransition::Arrive)
    }

    /// `arrive`: the driver is at the pickup location.
    #[update(name = "arrive")]
    pub fn arrive(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        request: TripStepRequest,
    ) -> Result<CallView, HandlerError> {
        self.trip_step(
            ctx,
            &request.driver_id,
            CallTransition::Arrive,
            EventName::DriverArrived,
        )
    }

    /// Refuses a `start_trip` unless the call is ARRIVED with this driver.
    #[update_validator(start_trip)]
    pub fn validate_start_trip(
        &self,
        _ctx: &WorkflowContextView,
        request: &TripStepRequest,
    ) -> Result<(), HandlerError> {
        self.check_trip_step(&request.driver_id, CallTransition::StartTrip)
    }

    /// `start_trip`: the driver sets off; from now on the call cannot be cancelled.
    #[update(name = "start_trip")]
    pub fn start_trip(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        request: TripStepRequest,
    ) -> Result<CallView, HandlerError> {
        self.trip_step(
            ctx,
            &request.driver_id,
            CallTransition::StartTrip,
            EventName::TripStarted,
        )
    }

    /// Refuses a `complete` unless the call is DRIVING with this driver.
    #[update_validator(complete)]
    pub fn validate_complete(
        &self,
        _ctx: &WorkflowContextView,
        request: &TripStepRequest,
    ) -> Result<(), HandlerError> {
        self.check_trip_step(&request.driver_id, CallTransition::Complete)
    }

    /// `complete`: the customer is home.
    #[update(name = "complete")]
    pub fn complete(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        request: TripStepRequest,
    ) -> Result<CallView, HandlerError> {
        self.trip_step(
            ctx,
            &request.driver_id,
            CallTransition::Complete,
            EventName::TripCompleted,
        )
    }

    // ----- query -----------------------------------------------------------------------------

    /// `dashboard`: the call view with its whole timeline.
    #[query(name = "dashboard")]
    pub fn dashboard(&self, _ctx: &WorkflowContextView) -> CallView {
        self.view()
    }
}

/// Waits for `condition`, undisturbed by a Temporal cancellation of the workflow: a call is
/// cancelled with the `cancel` signal, and its compensations must run whatever happens.
fn wait_until<'a>(
    ctx: &'a WorkflowContext<DriverCallWorkflow>,
    condition: impl Fn(&DriverCallWorkflow) -> bool + 'a,
) -> impl futures::future::FusedFuture<Output = ()> + 'a {
    let options = WaitConditionOptions::builder()
        .cancellation_token(WorkflowCancellationToken::new())
        .build();
    ctx.wait_condition_with_options(condition, options)
        .map(|_| ())
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

    fn apply(
        &mut self,
        now: Option<SystemTime>,
        transition: CallTransition,
        event: EventName,
        description: String,
    ) -> Result<(), TransitionRefused> {
        self.status = self.status.apply(transition)?;
        self.record(now, event, description);
        Ok(())
    }

    fn record(&mut self, now: Option<SystemTime>, event: EventName, description: String) {
        let at = humantime::format_rfc3339_millis(now.unwrap_or(UNIX_EPOCH)).to_string();
        let seq = u32::try_from(self.timeline.len()).map_or(u32::MAX, |n| n + 1);
        self.timeline.push(TimelineEvent {
            seq,
            event,
            at,
            description,
        });
    }

    fn on_payment_answer(
        &mut self,
        now: Option<SystemTime>,
        answer: Result<payment::ApprovePaymentResult, ActivityExecutionError>,
    ) -> PayOutcome {
        match answer {
            Ok(approved) => {
                let description = format!("Payment {} approved", approved.payment_id);
                self.record(now, EventName::PaymentApproved, description);
                self.payment.payment_id = Some(approved.payment_id);
                // A cancel or expiry that came while the approval ran stands; the payment lane
                // then refunds this charge.
                let paid = format!("Paid {} KRW", self.call.pay_amount.get());
                let _ = self.apply(
                    now,
                    CallTransition::PaymentApproved,
                    EventName::CallPayed,
                    paid,
                );
                PayOutcome::Approved
            }
            Err(error) => match rejection_reason(&error) {
                Some(reason) => {
                    let description = format!("Payment rejected: {reason}");
                    let _ = self.apply(
                        now,
                        CallTransition::PaymentRejected,
                        EventName::PaymentRejected,
                        description,
                    );
                    PayOutcome::Rejected { reason }
                }
                None => PayOutcome::Unavailable {
                    reason: format!("the payment service did not answer: {error}"),
                },
            },
        }
    }

    fn check_trip_step(
        &self,
        driver_id: &DriverId,
        transition: CallTransition,
    ) -> Result<(), HandlerError> {
        self.status.apply(transition)?;
        match &self.driver {
            Some(driver) if &driver.driver_id == driver_id => Ok(()),
            _ => Err(format!("driver {driver_id} is not this call's driver").into()),
        }
    }

    fn trip_step(
        &mut self,
        ctx: &SyncWorkflowContext<Self>,
        driver_id: &DriverId,
        transition: CallTransition,
        event: EventName,
    ) -> Result<CallView, HandlerError> {
        self.check_trip_step(driver_id, transition)?;
        let description = match event {
            EventName::DriverArrived => format!("Driver {driver_id} arrived"),
            EventName::TripStarted => "Trip started".to_owned(),
            _ => "Trip completed".to_owned(),
        };
        self.apply(ctx.workflow_time(), transition, event, description)?;
        ctx.upsert_search_attributes(self.search_attributes());
        Ok(self.view())
    }

    /// Whether an offer was opened to drivers (the catcher context has something to close).
    fn reached_drivers(&self) -> bool {
        self.timeline
            .iter()
            .any(|e| e.event == EventName::CallReceived)
    }

    fn approve_input(&self) -> payment::ApprovePaymentInput {
        payment::ApprovePaymentInput {
            call_id: self.call.call_id,
            mobile: self.call.mobile.clone(),
            pay_type: self.call.pay_type,
            pay_amount: self.call.pay_amount,
        }
    }

    fn offer_input(&self) -> catcher::OfferCallInput {
        catcher::OfferCallInput {
            call_id: self.call.call_id,
            location: self.call.location.clone(),
            destination: self.call.destination.clone(),
            pay_amount: self.call.pay_amount,
        }
    }

    fn projection_input(&self, projected: usize) -> dashboard::ProjectTimelineInput {
        dashboard::ProjectTimelineInput {
            call_id: self.call.call_id,
            mobile: self.call.mobile.clone(),
            location: self.call.location.clone(),
            pay_amount: self.call.pay_amount,
            status: self.status,
            events: self.timeline[projected.min(self.timeline.len())..].to_vec(),
        }
    }

    fn search_attributes(&self) -> Vec<SearchAttributeUpdate> {
        let mut attributes = vec![
            CALL_STATUS.value_set(self.status.as_str().to_owned()),
            CUSTOMER_MOBILE.value_set(self.call.mobile.as_ref().to_owned()),
            SERVICE_AREA.value_set(self.call.location.service_area()),
        ];
        // Unset is not a valid Keyword value on the server, so DriverId appears with the catch.
        if let Some(driver) = &self.driver {
            attributes.push(DRIVER_ID.value_set(driver.driver_id.to_string()));
        }
        attributes
    }

    fn view(&self) -> CallView {
        CallView {
            call_id: self.call.call_id,
            status: self.status,
            mobile: self.call.mobile.clone(),
            location: self.call.location.clone(),
            destination: self.call.destination.clone(),
            pay_type: self.call.pay_type,
            pay_amount: self.call.pay_amount,
            payment_id: self.payment.payment_id.clone(),
            driver: self.driver.clone(),
            timeline: self.timeline.clone(),
        }
    }
}

/// The payment context's reason, when the failure is its business rejection.
fn rejection_reason(error: &ActivityExecutionError) -> Option<String> {
    match error.cause()? {
        IncomingError::Application(failure)
            if failure.type_name() == Some(payment::PAYMENT_REJECTED) =>
        {
            Some(failure.to_string())
        }
        _ => None,
    }
}
