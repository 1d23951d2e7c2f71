//! The run of `DriverCallWorkflow`: three phases, then the compensations.
//! 1. wait for the `pay` update (or the customer's cancel, or `PAYMENT_WINDOW`);
//! 2. offer the paid call to the catcher context and wait for a driver's `catch` (or cancel, deny,
//!    out of area, or `DISPATCH_TIMEOUT`);
//! 3. once the call has ended, run each context's lane concurrently: the payment lane refunds, the
//!    catcher lane records the catch and closes the offer.
//!
//! Alongside all of it, the projection lane hands each batch of timeline events to the dashboard
//! context: as a memo upsert that the dashboard follows in the call's history (patch
//! `memo-projection`), or, in calls started before that patch, as a `dashboard.project` activity
//! per batch (patch `dashboard-projection`). Since patch `results-projection` the history hands
//! most events on by itself: the opening ones with the start, and every update's result carries
//! the whole timeline, so the lane upserts a memo only for what the run records on its own (the
//! dispatch, a timeout, a refund, a signal's cancel or deny).

use futures::FutureExt;
use futures::future::LocalBoxFuture;
use temporalio_sdk::{
    ActivityExecutionError, MemoValue, TimerOptions, WaitConditionOptions,
    WorkflowCancellationToken, WorkflowContext,
    workflows::{join, select},
};

use super::state::{Reach, TierStep, tier_timers};
use super::{DriverCallWorkflow, saga};
use crate::contracts::{catcher, dashboard, payment};
use crate::domain::{CallStatus, CallTransition, EventName};

type Ctx = WorkflowContext<DriverCallWorkflow>;
type OfferFuture = futures::future::Fuse<
    LocalBoxFuture<'static, Result<catcher::OfferResult, ActivityExecutionError>>,
>;

/// Patch that added the dashboard projection lane (calls started before it replay without it).
const DASHBOARD_PROJECTION_PATCH: &str = "dashboard-projection";

/// Patch that moved the projection from an activity per batch to a memo upsert per batch, which
/// the dashboard context reads from the call's history: no task, no workflow task, no activity.
const MEMO_PROJECTION_PATCH: &str = "memo-projection";

/// Patch that lets the start and the updates' results hand the timeline on: the dashboard context
/// makes the opening events from the workflow's input and reads each update's result (the whole
/// timeline) from the history, so only the events the run records by itself need a memo upsert.
pub const RESULTS_PROJECTION_PATCH: &str = "results-projection";

/// Patch that dispatches a call with an area from the tariff in widening tiers: its own area for
/// `OFFER_WINDOW`, then the neighbouring areas too, then every available driver (spec section 9,
/// "Dispatch"). It implies `results-projection`, so a new call records this one marker alone.
pub const OFFER_TIERS_PATCH: &str = "offer-tiers";

/// Patch that lets the dashboard context find the calls whose timeline changed with one
/// visibility query per tick, instead of following every open call's history with a long poll:
/// every upsert of the status carries `TimelineAt`, and a batch the run records without a status
/// change upserts `TimelineAt` beside its memo. It implies `offer-tiers`, so a new call records
/// this one marker alone.
pub const TIMELINE_FEED_PATCH: &str = "timeline-feed";

/// Patch that puts the keyed hash of the customer's number in `CustomerMobile` instead of the
/// number (the API makes the call with it). It implies `timeline-feed`, so a new call records
/// this one marker alone.
pub const HASHED_MOBILE_PATCH: &str = "hashed-mobile";

/// Patch that keeps a cancellation or no-show fee and refunds the rest (calls made before it
/// have no fee rules, so they never reach it).
const FEES_PATCH: &str = "cancellation-fees";

/// Patch that refunds, by idempotency key, any charge a PAYMENT_REJECTED call may hold.
const REFUND_UNCONFIRMED_PATCH: &str = "refund-unconfirmed-charge";

/// The whole run: the call is made, then the saga (and the projection lane beside it).
pub(super) async fn run(ctx: &Ctx) {
    // Short-circuits: a new call records only the `hashed-mobile` marker, which implies
    // `timeline-feed`, which implies `offer-tiers`, which implies `results-projection` (calls
    // started between two of them record the newer one alone).
    let hashed_mobile = ctx.patched(HASHED_MOBILE_PATCH);
    let timeline_feed = hashed_mobile || ctx.patched(TIMELINE_FEED_PATCH);
    let offer_tiers = timeline_feed || ctx.patched(OFFER_TIERS_PATCH);
    let results_hand_on = offer_tiers || ctx.patched(RESULTS_PROJECTION_PATCH);
    if results_hand_on || ctx.patched(MEMO_PROJECTION_PATCH) {
        ctx.state_mut(|w| {
            w.call.timeline_feed = timeline_feed;
            w.call.hashed_mobile = hashed_mobile;
        });
        made(ctx);
        if results_hand_on {
            // The dashboard context makes the opening events from the start itself
            // (`DriverCallWorkflow::opening_projection`), and reads each update's result.
            ctx.state_mut(|w| {
                w.results_hand_on = true;
                w.offer_tiers = offer_tiers;
                w.handed_on = w.call.timeline.len();
            });
        }
        // The API starts a call with its search attributes; only a start without them (the
        // `temporal` CLI, say) needs them upserted.
        if !ctx.state(|w| w.call.started_with(&ctx.search_attributes())) {
            publish(ctx);
        }
        join!(saga(ctx), memo_lane(ctx));
        return;
    }
    made(ctx);
    publish(ctx);
    if ctx.patched(DASHBOARD_PROJECTION_PATCH) {
        join!(saga(ctx), projection_lane(ctx));
    } else {
        saga(ctx).await;
    }
}

fn made(ctx: &Ctx) {
    let now = ctx.workflow_time();
    ctx.state_mut(|w| w.call.made(now));
}

/// Keeps the call's search attributes current.
pub(super) fn publish(ctx: &Ctx) {
    ctx.upsert_search_attributes(ctx.state(|w| w.call.search_attributes()));
}

/// The call's life and its compensations.
async fn saga(ctx: &Ctx) {
    await_payment(ctx).await;
    let offer = if status(ctx) == CallStatus::Paid {
        dispatch(ctx).await
    } else {
        None
    };
    join!(payment_lane(ctx), catcher_lane(ctx, offer));

    // An approval still running (a late `pay`) must finish before the run does.
    wait_until(ctx, |w| !w.call.payment.in_flight).await;
    ctx.state_mut(|w| w.call.saga_finished = true);
}

/// The projection lane: upserts the memo `projection` with each batch of timeline events the
/// history does not hand on otherwise, in the workflow task that recorded them. The dashboard
/// context reads the call's history and projects each batch, so the call never waits for it,
/// however long the dashboard is down. Under patch `timeline-feed`, a batch that changed no
/// status (whose upsert already carries `TimelineAt`) also upserts `TimelineAt`, so the
/// dashboard finds the call among those changed.
async fn memo_lane(ctx: &Ctx) {
    while let Some((input, recorded)) = next_batch(ctx).await {
        let status_published = input
            .events
            .iter()
            .any(|event| event.event.status_after().is_some());
        // Plain JSON never fails to serialise; were it to, the next batch carries these events.
        let memo = [(dashboard::PROJECTION_MEMO, Some(MemoValue::new(input)))];
        if ctx.upsert_memo(memo).is_ok() {
            ctx.state_mut(|w| w.handed_on = recorded);
        }
        if status_published {
            continue;
        }
        if let Some(changed) = ctx.state(|w| w.call.timeline_changed()) {
            ctx.upsert_search_attributes([changed]);
        }
    }
}

/// The activity projection lane (calls started before `memo-projection`): projects every
/// timeline event into the myPage read model, in order and in batches. It never holds the call
/// back: when the dashboard worker is down, the saga goes on and the events wait here until it
/// returns.
async fn projection_lane(ctx: &Ctx) {
    while let Some((input, recorded)) = next_batch(ctx).await {
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
        ctx.state_mut(|w| w.handed_on = recorded);
    }
}

/// Waits for timeline events not yet handed on, and returns them with the length of the
/// timeline they end at; `None` once the saga has finished and every event is handed on.
async fn next_batch(ctx: &Ctx) -> Option<(dashboard::ProjectTimelineInput, usize)> {
    wait_until(ctx, |w| {
        w.call.timeline.len() > w.handed_on || w.call.saga_finished
    })
    .await;
    ctx.state(|w| {
        let recorded = w.call.timeline.len();
        (recorded > w.handed_on).then(|| (w.call.projection_input(w.handed_on), recorded))
    })
}

/// Phase 1: the call waits for its payment, a cancel, or the end of `PAYMENT_WINDOW`.
async fn await_payment(ctx: &Ctx) {
    let window = ctx.state(|w| w.call.policy.payment_window());
    let mut window_timer = timer(ctx, window, "PAYMENT_WINDOW");
    let mut settled = wait_until(ctx, |w| w.call.status != CallStatus::Created);
    let window_elapsed = select! {
        _ = settled => false,
        _ = window_timer => true,
    };
    if !window_elapsed {
        return;
    }
    // A payment already under way gets its answer before the call may expire.
    wait_until(ctx, |w| !w.call.payment.in_flight).await;
    advance(
        ctx,
        CallTransition::PaymentWindowElapsed,
        "Nobody paid within the payment window".to_owned(),
    );
}

/// Phase 2: offers the paid call and waits until a driver catches it or the call ends.
/// Returns the offer still running when the call ended before the catcher context answered.
async fn dispatch(ctx: &Ctx) -> Option<OfferFuture> {
    let tiered = ctx.state(|w| {
        w.offer_tiers && w.call.policy.offer_window().is_some() && w.call.request.area.is_some()
    });
    if tiered {
        return dispatch_in_tiers(ctx).await;
    }
    let (timeout, input) = ctx.state(|w| (w.call.policy.dispatch_timeout(), w.call.offer_input()));
    let mut deadline = timer(ctx, timeout, "DISPATCH_TIMEOUT");
    let mut offer = start_offer(ctx, input);
    let mut left_paid = wait_until(ctx, |w| w.call.status != CallStatus::Paid);

    let answered = select! {
        result = offer => Some(result),
        _ = left_paid => None,
        _ = deadline => {
            expire_undispatched(ctx);
            None
        },
    };
    let Some(result) = answered else {
        return Some(offer);
    };
    on_offer_answered(ctx, result);
    if status(ctx) != CallStatus::Dispatched {
        return None;
    }

    let mut caught_or_ended = wait_until(ctx, |w| w.call.status != CallStatus::Dispatched);
    select! {
        _ = caught_or_ended => {},
        _ = deadline => expire_undispatched(ctx),
    };
    None
}

/// What woke a tiered dispatch up.
enum Woke {
    Offered(Box<Result<catcher::OfferResult, ActivityExecutionError>>),
    Left,
    TimerFired,
}

/// Phase 2 in tiers (patch `offer-tiers`): offers the paid call to its own area's drivers, widens
/// the offer at the end of each `OFFER_WINDOW`, and waits until a driver catches it or the call
/// ends; `DISPATCH_TIMEOUT` still ends it. One timer runs at a time (`tier_timers`), so a call
/// caught in its first window costs no more history than one offered to its area alone. A window
/// that ends before the catcher context has opened the offer widens it once it has.
async fn dispatch_in_tiers(ctx: &Ctx) -> Option<OfferFuture> {
    let (timers, widenings, input) = ctx.state(|w| {
        let window = w.call.policy.offer_window().unwrap_or_default();
        let widenings = w.call.widenings();
        let timeout = w.call.policy.dispatch_timeout();
        let timers = tier_timers(timeout, window, widenings.len());
        (timers, widenings, w.call.offer_input())
    });
    let mut offer = start_offer(ctx, input);
    let mut opened = false;
    let mut due: Option<usize> = None;
    for (duration, step) in timers {
        let summary = match step {
            TierStep::Widen(_) => "OFFER_WINDOW",
            TierStep::Expire => "DISPATCH_TIMEOUT",
        };
        let mut timer = timer(ctx, duration, summary);
        loop {
            let mut left = wait_until(ctx, |w| {
                !matches!(w.call.status, CallStatus::Paid | CallStatus::Dispatched)
            });
            let woke = select! {
                result = offer => Woke::Offered(Box::new(result)),
                _ = left => Woke::Left,
                _ = timer => Woke::TimerFired,
            };
            match woke {
                Woke::Offered(result) => {
                    opened = true;
                    on_offer_answered(ctx, *result);
                    if status(ctx) != CallStatus::Dispatched {
                        return None;
                    }
                    ctx.state_mut(|w| w.call.offered_in_area());
                    if let Some(tier) = due.take() {
                        widen(ctx, widenings[tier].clone()).await;
                    }
                }
                Woke::Left => return (!opened).then_some(offer),
                Woke::TimerFired => break,
            }
        }
        match step {
            TierStep::Widen(tier) if opened => widen(ctx, widenings[tier].clone()).await,
            TierStep::Widen(tier) => due = Some(tier),
            TierStep::Expire => {
                expire_undispatched(ctx);
                return (!opened).then_some(offer);
            }
        }
    }
    // `tier_timers` always ends with the expiry.
    None
}

/// The offer reaches `to` from now on: the workflow admits its drivers' catches at once, the
/// catcher context shows them the offer, and the timeline says so while the call is still open.
async fn widen(ctx: &Ctx, to: Reach) {
    let (input, description) = ctx.state_mut(|w| w.call.widen(to));
    let widened = ctx
        .execute_activity(
            catcher::CatcherActivities::widen,
            input,
            saga::catcher_options(),
        )
        .await;
    // Retried without limit; an error means the workflow itself is going away.
    if widened.is_err() {
        return;
    }
    let now = ctx.workflow_time();
    ctx.state_mut(|w| {
        if w.call.status == CallStatus::Dispatched {
            w.call.record(now, EventName::OfferWidened, description);
        }
    });
}

/// Asks the catcher context to open the call's offer.
fn start_offer(ctx: &Ctx, input: catcher::OfferCallInput) -> OfferFuture {
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
    offering.fuse()
}

/// A durable timer that a Temporal cancellation of the workflow does not cancel.
fn timer<'a>(
    ctx: &'a Ctx,
    duration: std::time::Duration,
    summary: &str,
) -> impl futures::future::FusedFuture<Output = temporalio_sdk::TimerResult> + use<'a> {
    ctx.timer(
        TimerOptions::builder(duration)
            .summary(summary.to_owned())
            .cancellation_token(WorkflowCancellationToken::new())
            .build(),
    )
}

/// The payment lane: once the call has ended, refunds any charge it may hold.
async fn payment_lane(ctx: &Ctx) {
    wait_until(ctx, |w| {
        w.call.status.is_terminal() && !w.call.payment.in_flight
    })
    .await;
    let (status, attempted, call_id) = ctx.state(|w| {
        (
            w.call.status,
            w.call.payment.attempted,
            w.call.request.call_id,
        )
    });
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
    let fee = ctx.state(|w| w.call.fee);
    let fee = fee.filter(|_| ctx.patched(FEES_PATCH));
    let input = payment::RefundPaymentInput { call_id, kind, fee };
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
    ctx.state_mut(|w| {
        let description = format!("Payment {payment_id} refunded");
        w.call.record(now, saga::refund_event(kind), description);
        if let Some(fee) = fee {
            let paid = w.call.request.pay_amount.get();
            let description = format!(
                "A fee of {} KRW was kept; {} KRW refunded",
                fee.get(),
                paid - fee.get()
            );
            w.call
                .record(now, EventName::CancellationFeeCharged, description);
        }
    });
}

/// The catcher lane: records the catch, and once the call has ended, closes its offer or catch.
async fn catcher_lane(ctx: &Ctx, pending_offer: Option<OfferFuture>) {
    let offered = match pending_offer {
        // The call ended while the catcher context was still opening the offer: wait for it,
        // so the offer can be closed rather than left open after the call ended.
        Some(offer) => offer.await.is_ok(),
        None => ctx.state(|w| w.call.reached_drivers()),
    };
    if !offered {
        return;
    }
    let caught = ctx.state(|w| w.call.driver.clone());
    if let Some(driver) = caught {
        let call_id = ctx.state(|w| w.call.request.call_id);
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
    wait_until(ctx, |w| w.call.status.is_terminal()).await;
    let (status, call_id) = ctx.state(|w| (w.call.status, w.call.request.call_id));
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
        ctx.state_mut(|w| {
            let description = "The offer to drivers was closed".to_owned();
            w.call.record(now, EventName::CatchDenied, description);
        });
    }
}

fn on_offer_answered(ctx: &Ctx, result: Result<catcher::OfferResult, ActivityExecutionError>) {
    match result {
        Ok(catcher::OfferResult::Received { area }) => advance(
            ctx,
            CallTransition::Dispatched,
            format!("Offered to drivers in {area}"),
        ),
        Ok(catcher::OfferResult::OutOfArea { area }) => advance(
            ctx,
            CallTransition::OutOfArea,
            format!("`{area}` is outside the service areas"),
        ),
        // Retried without limit; only a workflow going away ends the offer with an error.
        Err(_) => {}
    }
}

fn expire_undispatched(ctx: &Ctx) {
    advance(
        ctx,
        CallTransition::DispatchTimedOut,
        "No driver caught the call in time".to_owned(),
    );
}

/// Moves the call on from the run (handlers change the state directly). A refused transition
/// means a handler moved the call first, which is fine: that status stands.
fn advance(ctx: &Ctx, transition: CallTransition, description: String) {
    let now = ctx.workflow_time();
    let applied = ctx.state_mut(|w| w.call.apply(now, transition, description));
    if applied.is_ok() {
        publish(ctx);
    }
}

fn status(ctx: &Ctx) -> CallStatus {
    ctx.state(|w| w.call.status)
}

/// Waits for `condition`, undisturbed by a Temporal cancellation of the workflow: a call is
/// cancelled with the `cancel` signal, and its compensations must run whatever happens.
fn wait_until<'a>(
    ctx: &'a Ctx,
    condition: impl Fn(&DriverCallWorkflow) -> bool + 'a,
) -> impl futures::future::FusedFuture<Output = ()> + 'a {
    let options = WaitConditionOptions::builder()
        .cancellation_token(WorkflowCancellationToken::new())
        .build();
    ctx.wait_condition_with_options(condition, options)
        .map(|_| ())
}
