//! The behaviour every backend of the stores must show, as checks that take a fresh database URL
//! and panic on a difference. `stores/tests/sqlite.rs` runs them on SQLite (the quick tier) and
//! `tests/tests/stores.rs` on PostgreSQL, both through [`conformance_tests!`](crate::conformance_tests).

use driver_call_workflows::contracts::catcher::{CatchStatus, OfferCallInput};
use driver_call_workflows::contracts::dashboard::ProjectTimelineInput;
use driver_call_workflows::contracts::payment::{ApprovePaymentInput, PaymentStatus, RefundKind};
use driver_call_workflows::domain::{
    CallId, CallStatus, Driver, EventName, Krw, Location, MobileNumber, PayType, TimelineEvent,
};

use std::time::{Duration, SystemTime};

use crate::identity::{
    CodeIssue, DriverRecord, NewCode, NewDriverRecord, RateLimit, Role, StoredHash,
};
use crate::payment::{PaymentOutcome, UnconfirmedCharge};
use crate::{CatcherStore, DashboardStore, IdentityStore, PaymentStore};

/// One `#[tokio::test]` per check, each on a database from `$fresh(context).await`.
#[macro_export]
macro_rules! conformance_tests {
    ($fresh:path) => {
        $crate::conformance_tests!(@each $fresh,
            a_payment_is_recorded_once_even_when_racing: "payment",
            a_rejection_stays_rejected_and_refunds_nothing: "payment",
            a_charge_refunded_without_a_confirmed_answer_is_recorded_once: "payment",
            refunds_happen_once_and_only_for_approved_payments: "payment",
            a_partial_refund_keeps_the_fee_once_and_only_for_an_approved_payment: "payment",
            an_offer_is_listed_by_area_until_caught_and_a_closed_offer_never_reopens: "catcher",
            a_drivers_completed_trips_are_listed_from_a_time_on: "catcher",
            an_offer_widens_and_every_change_is_numbered_in_order: "catcher",
            projection_is_idempotent_and_an_older_batch_never_moves_the_summary_back: "dashboard",
            a_followed_call_resumes_until_finished_and_discovery_goes_on_from_the_newest: "dashboard",
            one_follower_holds_the_lease_until_it_lapses: "dashboard",
            a_feed_shard_has_one_holder_until_its_lease_lapses_and_keeps_its_checkpoint: "dashboard",
            a_reader_is_ready_only_once_the_owner_has_migrated: "reader",
            a_one_time_code_expires_is_used_once_and_a_newer_one_replaces_it: "identity",
            five_wrong_codes_in_a_row_invalidate_the_code: "identity",
            code_requests_are_limited_per_number_within_a_sliding_window: "identity",
            disabling_a_driver_revokes_their_tokens_and_usernames_are_unique: "identity",
            customers_are_recorded_once_and_a_new_operator_password_revokes_tokens: "identity",
            a_driver_not_heard_from_goes_offline_and_every_change_is_numbered: "identity",
        );
    };
    (@each $fresh:path, $($check:ident: $context:literal),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $check() {
                $crate::conformance::$check(&$fresh($context).await).await;
            }
        )*
    };
}

/// The numbers of the changes to `what` (a call, a driver) among `changes`, in their order.
fn numbers_of(changes: &[(i64, String)], what: &str) -> Vec<i64> {
    changes
        .iter()
        .filter(|(_, changed)| changed == what)
        .map(|(number, _)| *number)
        .collect()
}

fn new_call_id() -> CallId {
    CallId::from_uuid(uuid::Uuid::new_v4())
}

fn approval(call_id: CallId, amount: i64) -> ApprovePaymentInput {
    ApprovePaymentInput {
        call_id,
        mobile: MobileNumber::parse("010-2222-3333").expect("mobile"),
        pay_type: PayType::Card,
        pay_amount: Krw::new(amount).expect("amount"),
    }
}

fn approved(call_id: CallId) -> PaymentOutcome {
    PaymentOutcome::Approved {
        charge_id: Some(format!("chg-{call_id}")),
    }
}

/// Racing writers of one call's payment all get the one row that was written.
pub async fn a_payment_is_recorded_once_even_when_racing(url: &str) {
    let store = PaymentStore::connect(url).await.expect("payment store");
    let call_id = new_call_id();
    let input = approval(call_id, 7000);
    let racing = (0..8).map(|_| store.record(&input, approved(call_id)));
    let ids: Vec<_> = futures::future::join_all(racing)
        .await
        .into_iter()
        .map(|r| r.expect("recorded").payment_id)
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{url}: {ids:?}");
    let rows = store
        .count_by_call_and_status(&call_id.to_string(), PaymentStatus::Approved)
        .await
        .expect("count");
    assert_eq!(rows, 1, "{url}");
    let record = store.find(&ids[0]).await.expect("find").expect("row");
    assert_eq!(
        record.idempotency_key,
        format!("payment:{call_id}"),
        "{url}"
    );
    assert_eq!(record.charge_id, Some(format!("chg-{call_id}")), "{url}");
}

/// A rejection is recorded once, a later approval does not overwrite it, and it refunds nothing.
pub async fn a_rejection_stays_rejected_and_refunds_nothing(url: &str) {
    let store = PaymentStore::connect(url).await.expect("payment store");
    let call_id = new_call_id();
    let reason = "below the minimum".to_owned();
    let first = store
        .record(
            &approval(call_id, 4999),
            PaymentOutcome::Rejected { reason },
        )
        .await
        .expect("recorded");
    assert_eq!(first.status, PaymentStatus::Rejected, "{url}");
    assert_eq!(first.reason.as_deref(), Some("below the minimum"), "{url}");
    let again = store
        .record(&approval(call_id, 4999), approved(call_id))
        .await
        .expect("recorded");
    assert_eq!(again, first, "{url}");
    let refunded = store.refund(&call_id, RefundKind::Cancel).await;
    assert_eq!(refunded.expect("refund"), None, "{url}");
}

/// A charge the gateway held without a confirmed answer gets one refunded row, whatever the retry.
pub async fn a_charge_refunded_without_a_confirmed_answer_is_recorded_once(url: &str) {
    let store = PaymentStore::connect(url).await.expect("payment store");
    let call_id = new_call_id();
    let charge = UnconfirmedCharge {
        call_id: call_id.to_string(),
        mobile: "01022223333".to_owned(),
        pay_type: "CARD".to_owned(),
        amount: 7000,
        charge_id: "chg-lost".to_owned(),
    };
    let first = store
        .record_refunded_charge(&charge, RefundKind::Cancel)
        .await
        .expect("recorded")
        .expect("row");
    assert_eq!(first.status, PaymentStatus::Cancelled, "{url}");
    assert_eq!(first.charge_id.as_deref(), Some("chg-lost"), "{url}");
    assert_eq!(first.pay_amount, 7000, "{url}");
    let again = store
        .record_refunded_charge(&charge, RefundKind::Disable)
        .await
        .expect("recorded")
        .expect("row");
    assert_eq!(again, first, "{url}: recorded twice");
}

/// Only an approved payment is refunded, and only once: a second refund changes nothing.
pub async fn refunds_happen_once_and_only_for_approved_payments(url: &str) {
    let store = PaymentStore::connect(url).await.expect("payment store");
    let nothing = store.refund(&new_call_id(), RefundKind::Cancel).await;
    assert_eq!(nothing.expect("refund"), None, "{url}");

    let call_id = new_call_id();
    let paid = store
        .record(&approval(call_id, 5000), approved(call_id))
        .await
        .expect("recorded");
    let first = store.refund(&call_id, RefundKind::Disable).await;
    let first = first.expect("refund").expect("refunded");
    let second = store.refund(&call_id, RefundKind::Cancel).await;
    let second = second.expect("refund").expect("refunded");
    assert_eq!(first.payment_id, paid.payment_id, "{url}");
    assert_eq!(first.status, PaymentStatus::Disabled, "{url}");
    assert_eq!(
        second.status,
        PaymentStatus::Disabled,
        "{url}: a refund changed a refund"
    );
}

fn krw(amount: i64) -> Krw {
    Krw::new(amount).expect("amount")
}

/// A partial refund turns the approved payment into one `PARTIALLY_REFUNDED` row with the
/// amounts, once: a repeat (even with other amounts) and a later full refund change nothing, and
/// a payment refunded in full, or none at all, is not refunded partially.
pub async fn a_partial_refund_keeps_the_fee_once_and_only_for_an_approved_payment(url: &str) {
    let store = PaymentStore::connect(url).await.expect("payment store");
    let unpaid = new_call_id();
    let nothing = store.refund_partially(&unpaid, krw(10000), krw(5000)).await;
    assert_eq!(nothing.expect("refund"), None, "{url}");

    let call_id = new_call_id();
    let paid = store
        .record(&approval(call_id, 15000), approved(call_id))
        .await
        .expect("recorded");
    assert_eq!((paid.refunded_amount, paid.fee), (None, None), "{url}");
    let first = store.refund_partially(&call_id, krw(10000), krw(5000));
    let first = first.await.expect("refund").expect("refunded");
    assert_eq!(first.payment_id, paid.payment_id, "{url}");
    assert_eq!(first.status, PaymentStatus::PartiallyRefunded, "{url}");
    assert_eq!(first.pay_amount, 15000, "{url}");
    assert_eq!(first.refunded_amount, Some(10000), "{url}");
    assert_eq!(first.fee, Some(5000), "{url}");
    assert_eq!(first.charge_id, paid.charge_id, "{url}");

    let again = store.refund_partially(&call_id, krw(15000), krw(0));
    let again = again.await.expect("refund").expect("refunded");
    assert_eq!(again, first, "{url}: a repeat changed the partial refund");
    let full = store.refund(&call_id, RefundKind::Cancel).await;
    assert_eq!(full.expect("refund"), None, "{url}: refunded again in full");
    let id = call_id.to_string();
    let rows = store.count_by_call_and_status(&id, PaymentStatus::PartiallyRefunded);
    assert_eq!(rows.await.expect("count"), 1, "{url}");
    let stored = store.find_by_call(&id).await.expect("find").expect("row");
    assert_eq!(stored, first, "{url}");

    let refunded_in_full = new_call_id();
    store
        .record(
            &approval(refunded_in_full, 8000),
            approved(refunded_in_full),
        )
        .await
        .expect("recorded");
    store
        .refund(&refunded_in_full, RefundKind::Disable)
        .await
        .expect("refund");
    let late = store.refund_partially(&refunded_in_full, krw(3000), krw(5000));
    assert_eq!(late.await.expect("refund"), None, "{url}");
    let stored = store.find_by_call(&refunded_in_full.to_string()).await;
    let stored = stored.expect("find").expect("row");
    assert_eq!(stored.status, PaymentStatus::Disabled, "{url}");
    assert_eq!((stored.refunded_amount, stored.fee), (None, None), "{url}");
}

fn offer(call_id: CallId) -> OfferCallInput {
    OfferCallInput {
        call_id,
        location: Location::parse("Mapo Hapjeong").expect("location"),
        destination: Some("Home".to_owned()),
        pay_amount: Krw::new(15000).expect("amount"),
        area: None,
    }
}

/// An offer is listed once in its area until caught; the first catch stands; a closed offer
/// never reopens.
pub async fn an_offer_is_listed_by_area_until_caught_and_a_closed_offer_never_reopens(url: &str) {
    let store = CatcherStore::connect(url).await.expect("catcher store");
    let call_id = new_call_id();
    let id = call_id.to_string();
    for _ in 0..2 {
        store
            .open_offer(&offer(call_id), "mapo")
            .await
            .expect("offer");
    }
    let listed = store.open_offers("MAPO").await.expect("offers");
    assert_eq!(
        listed.iter().filter(|o| o.call_id == id).count(),
        1,
        "{url}"
    );

    let first = Driver::parse("d-1", "Kim").expect("driver");
    store.record_catch(&call_id, &first).await.expect("catch");
    let second = Driver::parse("d-2", "Lee").expect("driver");
    store.record_catch(&call_id, &second).await.expect("catch");
    let caught = store.find(&id).await.expect("find").expect("row");
    assert_eq!(caught.status, CatchStatus::Caught, "{url}");
    assert_eq!(
        caught.driver_id.as_deref(),
        Some("d-1"),
        "{url}: the first catch stands"
    );
    let open = store.open_offers("mapo").await.expect("offers");
    assert!(open.iter().all(|o| o.call_id != id), "{url}");

    store
        .close(&call_id, CatchStatus::Withdrawn)
        .await
        .expect("close");
    store
        .close(&call_id, CatchStatus::Completed)
        .await
        .expect("close");
    store
        .open_offer(&offer(call_id), "mapo")
        .await
        .expect("offer");
    let closed = store.find(&id).await.expect("find").expect("row");
    assert_eq!(closed.status, CatchStatus::Withdrawn, "{url}");
}

/// An offer reaches its own area, then the areas it widens to, then everyone; who holds a call
/// is known; every change (open, widen, catch, close) is numbered once, in order, and a retry
/// or a change to a closed offer numbers nothing.
pub async fn an_offer_widens_and_every_change_is_numbered_in_order(url: &str) {
    let store = CatcherStore::connect(url).await.expect("catcher store");
    let start = store.newest_change().await.expect("newest");
    let call_id = new_call_id();
    let id = call_id.to_string();
    for _ in 0..2 {
        store
            .open_offer(&offer(call_id), "MAPO")
            .await
            .expect("offer");
    }
    let reaches = |areas: &[&str]| {
        let areas: Vec<String> = areas.iter().map(|a| (*a).to_owned()).collect();
        let store = store.clone();
        let id = id.clone();
        async move {
            let open = store.open_offers_in(&areas).await.expect("offers");
            open.iter().any(|o| o.call_id == id)
        }
    };
    assert!(reaches(&["mapo"]).await, "{url}");
    assert!(!reaches(&["dongjak", "busan"]).await, "{url}");
    let met = |driver: String, areas: &[&str]| {
        let areas: Vec<String> = areas.iter().map(|a| (*a).to_owned()).collect();
        let (store, id) = (store.clone(), id.clone());
        async move {
            store
                .catch_by(&id, &driver, &areas)
                .await
                .expect("catch by")
        }
    };
    let kim = format!("d-{}", &id[..8]);
    let open = met(kim.clone(), &["busan", "MAPO"])
        .await
        .expect("an offer");
    assert!(
        open.reaches && !open.theirs && !open.holding,
        "{url}: {open:?}"
    );
    assert!(
        !met(kim.clone(), &["busan"])
            .await
            .expect("an offer")
            .reaches,
        "{url}"
    );
    assert!(
        !met(kim.clone(), &[]).await.expect("an offer").reaches,
        "{url}"
    );
    let nowhere = store.catch_by(&new_call_id().to_string(), &kim, &[]).await;
    assert_eq!(nowhere.expect("catch by"), None, "{url}");
    let widened = ["mapo".to_owned(), "dongjak".to_owned()];
    for _ in 0..2 {
        store.widen(&call_id, &widened, false).await.expect("widen");
    }
    assert!(reaches(&["dongjak"]).await, "{url}");
    assert!(!reaches(&["busan"]).await, "{url}");
    store.widen(&call_id, &widened, true).await.expect("widen");
    assert!(reaches(&["busan"]).await, "{url}: everyone");
    let live = store
        .offers_of(std::slice::from_ref(&id))
        .await
        .expect("offer");
    assert_eq!(live[0].reach.areas, ["dongjak", "mapo"], "{url}");
    assert!(
        live[0].reach.everyone && live[0].offer.area == "mapo",
        "{url}"
    );

    let driver = Driver::parse(&format!("d-{}", &id[..8]), "Kim").expect("driver");
    assert!(
        !store
            .on_a_call(driver.driver_id.as_ref())
            .await
            .expect("busy"),
        "{url}"
    );
    store.record_catch(&call_id, &driver).await.expect("catch");
    let caught = met(kim.clone(), &["mapo"]).await.expect("a catch");
    assert!(caught.theirs && caught.holding, "{url}: {caught:?}");
    assert!(
        store
            .on_a_call(driver.driver_id.as_ref())
            .await
            .expect("busy"),
        "{url}"
    );
    assert!(!reaches(&["mapo"]).await, "{url}: caught");
    store
        .close(&call_id, CatchStatus::Completed)
        .await
        .expect("close");
    assert!(
        !store
            .on_a_call(driver.driver_id.as_ref())
            .await
            .expect("busy"),
        "{url}"
    );
    store
        .widen(&call_id, &widened, false)
        .await
        .expect("widen a closed offer");
    store
        .close(&call_id, CatchStatus::Withdrawn)
        .await
        .expect("close again");

    let changes = store.changes_after(start).await.expect("changes");
    let mine = numbers_of(&changes, &id);
    // open, widen, widen to everyone, catch, close: five, each once.
    assert_eq!(mine.len(), 5, "{url}: {changes:?}");
    assert!(mine.windows(2).all(|w| w[0] < w[1]), "{url}: {mine:?}");
    assert!(
        store.newest_change().await.expect("newest") >= mine[4],
        "{url}"
    );
}

/// A driver's earnings come from the trips they completed since a time (the start of their
/// day); a caught trip not yet completed, or another driver's, is not among them.
pub async fn a_drivers_completed_trips_are_listed_from_a_time_on(url: &str) {
    let store = CatcherStore::connect(url).await.expect("catcher store");
    let driver_id = format!("d-{}", &new_call_id().to_string()[..8]);
    let driver = Driver::parse(&driver_id, "Park").expect("driver");
    let before = SystemTime::now() - Duration::from_secs(1);
    let (done, driving) = (new_call_id(), new_call_id());
    for call_id in [done, driving] {
        store
            .open_offer(&offer(call_id), "mapo")
            .await
            .expect("offer");
        store.record_catch(&call_id, &driver).await.expect("catch");
    }
    store
        .close(&done, CatchStatus::Completed)
        .await
        .expect("close");

    let trips = store
        .completed_since(&driver_id, before)
        .await
        .expect("trips");
    let ids: Vec<&str> = trips.iter().map(|t| t.call_id.as_str()).collect();
    assert_eq!(ids, [done.to_string()], "{url}");
    assert_eq!(trips[0].pay_amount, offer(done).pay_amount.get(), "{url}");
    let later = SystemTime::now() + Duration::from_secs(60);
    let none = store
        .completed_since(&driver_id, later)
        .await
        .expect("trips");
    assert!(none.is_empty(), "{url}");
}

fn timeline_event(seq: u32, event: EventName) -> TimelineEvent {
    TimelineEvent {
        seq,
        event,
        at: format!("2026-11-24T10:00:0{seq}.000Z"),
        description: format!("step {seq}"),
    }
}

fn projection(
    call_id: CallId,
    status: CallStatus,
    events: Vec<TimelineEvent>,
) -> ProjectTimelineInput {
    ProjectTimelineInput {
        call_id,
        mobile: MobileNumber::parse("010-5555-6666").expect("mobile"),
        location: Location::parse("Mapo").expect("location"),
        pay_amount: Krw::new(9000).expect("amount"),
        status,
        events,
    }
}

/// Replayed and retried batches never duplicate or reorder a timeline, nor move a summary back.
pub async fn projection_is_idempotent_and_an_older_batch_never_moves_the_summary_back(url: &str) {
    let store = DashboardStore::connect(url).await.expect("dashboard store");
    let call_id = new_call_id();
    let made = timeline_event(1, EventName::CallMade);
    let approved = timeline_event(2, EventName::PaymentApproved);
    let paid = timeline_event(3, EventName::CallPayed);
    let early = projection(call_id, CallStatus::Created, vec![made.clone()]);
    let all = vec![made.clone(), approved.clone(), paid.clone()];
    let late = projection(call_id, CallStatus::Paid, all);

    store.project(&late).await.expect("project");
    store.project(&early).await.expect("project"); // a retried, older batch
    store.project(&late).await.expect("project"); // a replayed batch

    let timeline = store
        .timeline(&call_id.to_string())
        .await
        .expect("timeline");
    assert_eq!(timeline, vec![made, approved, paid], "{url}");
    let (calls, next) = store
        .calls_of(Some("01055556666"), None, 10)
        .await
        .expect("calls");
    let summary = calls.iter().find(|c| c.call_id == call_id.to_string());
    assert_eq!(summary.expect("summary").status, "PAID", "{url}");
    assert!(next.is_none(), "{url}");
    // The operations console reads every customer's calls, events and counts.
    let (everyone, _) = store.calls_of(None, None, 100).await.expect("calls");
    assert!(
        everyone.iter().any(|c| c.call_id == call_id.to_string()),
        "{url}"
    );
    let every_event = store.customer_events_after(None, 0).await.expect("events");
    assert!(
        every_event.iter().any(|e| e.call_id == call_id.to_string()),
        "{url}"
    );
    let summaries = store
        .summaries(&[call_id.to_string(), "no-such-call".to_owned()])
        .await
        .expect("summaries");
    assert_eq!(
        summaries.iter().collect::<Vec<_>>(),
        [summary.expect("summary")],
        "{url}"
    );
    let newest = store.newest_event_id().await.expect("newest");
    assert!(every_event.iter().all(|e| e.event_id <= newest), "{url}");
    let counts = store.status_counts().await.expect("counts");
    assert!(
        counts.iter().any(|(status, n)| status == "PAID" && *n >= 1),
        "{url}: {counts:?}"
    );
    let streamed = store
        .call_events_after(&call_id.to_string(), 1)
        .await
        .expect("events");
    let seqs: Vec<i64> = streamed.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [2, 3], "{url}");
    assert_eq!(streamed[1].status.as_deref(), Some("PAID"), "{url}");
    assert_eq!(
        streamed[0].status, None,
        "{url}: PaymentApproved changes no status"
    );
}

/// A call is followed once; it is resumed after a restart until finished, and discovery goes on
/// from the newest start it has seen.
pub async fn a_followed_call_resumes_until_finished_and_discovery_goes_on_from_the_newest(
    url: &str,
) {
    let store = DashboardStore::connect(url).await.expect("dashboard store");
    assert_eq!(store.newest_follow().await.expect("newest"), None, "{url}");
    let (first, second) = (new_call_id().to_string(), new_call_id().to_string());
    assert!(!store.follow(&first, 1_000).await.expect("follow"), "{url}");
    assert!(
        !store.follow(&second, 2_000).await.expect("follow"),
        "{url}"
    );
    assert!(
        !store.follow(&first, 1_000).await.expect("follow again"),
        "{url}: followed twice"
    );
    let unfinished = store.unfinished_follows().await.expect("unfinished");
    assert_eq!(
        unfinished,
        [(first.clone(), 1_000), (second.clone(), 2_000)],
        "{url}"
    );

    store.finish_follow(&first).await.expect("finish");
    assert!(
        store.follow(&first, 1_000).await.expect("rediscovered"),
        "{url}: a finished call is followed again"
    );
    let unfinished = store.unfinished_follows().await.expect("unfinished");
    assert_eq!(unfinished, [(second, 2_000)], "{url}");
    assert_eq!(
        store.newest_follow().await.expect("newest"),
        Some(2_000),
        "{url}"
    );
}

/// One follower holds the lease; another takes it only once it has lapsed.
pub async fn one_follower_holds_the_lease_until_it_lapses(url: &str) {
    let store = DashboardStore::connect(url).await.expect("dashboard store");
    let (a, b, t) = ("worker-a", "worker-b", 1_000);
    assert!(
        store
            .hold_follower_lease(a, t, t + 100)
            .await
            .expect("take"),
        "{url}"
    );
    assert!(
        !store
            .hold_follower_lease(b, t + 50, t + 150)
            .await
            .expect("refused"),
        "{url}"
    );
    assert!(
        store
            .hold_follower_lease(a, t + 60, t + 160)
            .await
            .expect("renew"),
        "{url}"
    );
    assert!(
        !store
            .hold_follower_lease(b, t + 150, t + 250)
            .await
            .expect("still held"),
        "{url}"
    );
    assert!(
        store
            .hold_follower_lease(b, t + 161, t + 261)
            .await
            .expect("lapsed"),
        "{url}"
    );
    assert!(
        !store
            .hold_follower_lease(a, t + 170, t + 270)
            .await
            .expect("lost"),
        "{url}"
    );
}

/// A feed shard is held by one worker at a time; another takes it only once its lease lapsed,
/// and goes on from the checkpoint the first left; the workers alive are counted; the feed's
/// mark of what it read of a call is kept with the call.
pub async fn a_feed_shard_has_one_holder_until_its_lease_lapses_and_keeps_its_checkpoint(
    url: &str,
) {
    let store = DashboardStore::connect(url).await.expect("dashboard store");
    let (a, b, t) = ("worker-a", "worker-b", 1_000);
    assert_eq!(store.feed_heartbeat(a, t, t + 100).await.expect("alive"), 1);
    assert_eq!(store.feed_heartbeat(b, t, t + 100).await.expect("alive"), 2);
    assert_eq!(
        store.take_shard(3, a, t, t + 100).await.expect("take"),
        Some(0)
    );
    assert_eq!(
        store.take_shard(3, b, t + 50, t + 150).await.expect("held"),
        None
    );
    assert_eq!(
        store.renew_shards(a, t + 160, 700).await.expect("renew"),
        vec![3]
    );
    assert_eq!(
        store.renew_shards(a, t + 160, 600).await.expect("renew"),
        vec![3]
    );
    assert_eq!(
        store
            .take_shard(3, b, t + 150, t + 250)
            .await
            .expect("held"),
        None
    );
    assert_eq!(
        store
            .take_shard(3, b, t + 161, t + 261)
            .await
            .expect("lapsed"),
        Some(700)
    );
    assert!(
        store
            .renew_shards(a, t + 300, 900)
            .await
            .expect("lost")
            .is_empty()
    );
    store.release_shard(3, b).await.expect("released");
    assert_eq!(
        store
            .take_shard(3, a, t + 170, t + 270)
            .await
            .expect("free"),
        Some(700)
    );
    assert_eq!(
        store
            .feed_heartbeat(a, t + 150, t + 250)
            .await
            .expect("b lapsed"),
        1
    );

    let call = new_call_id();
    let events = vec![
        timeline_event(1, EventName::CallMade),
        timeline_event(2, EventName::PaymentApproved),
    ];
    let batch = projection(call, CallStatus::Created, events);
    store.project(&batch).await.expect("projected");
    store
        .mark_read(&call.to_string(), 5_000, 12)
        .await
        .expect("marked");
    let marks = store
        .feed_marks(&[call.to_string(), "unknown".to_owned()])
        .await;
    let marks = marks.expect("marks");
    assert_eq!(marks.len(), 1, "{url}");
    assert_eq!(
        (marks[0].feed_at_ms, marks[0].feed_length, marks[0].last_seq),
        (5_000, 12, 2)
    );
    assert_eq!(store.last_seq(&call.to_string()).await.expect("last"), 2);
}

/// A reader (the API) opens a database the owner has not created or migrated yet without error,
/// is not ready, changes nothing, and is ready once the owner has migrated.
pub async fn a_reader_is_ready_only_once_the_owner_has_migrated(url: &str) {
    let reader = PaymentStore::open_reader(url).expect("a reader opens lazily");
    assert!(
        reader.ping().await.is_err(),
        "{url}: ready before any migration"
    );
    let lookup = reader.find_by_call(&new_call_id().to_string()).await;
    assert!(
        lookup.is_err(),
        "{url}: the reader read a table nobody created"
    );
    let owner = PaymentStore::connect(url)
        .await
        .expect("the owner migrates");
    owner.ping().await.expect("the owner is ready");
    reader
        .ping()
        .await
        .expect("the reader is ready once migrated");
    let call_id = new_call_id();
    owner
        .record(&approval(call_id, 6000), approved(call_id))
        .await
        .expect("recorded");
    let seen = reader.find_by_call(&call_id.to_string()).await;
    assert_eq!(seen.expect("find").expect("row").pay_amount, 6000, "{url}");
}

/// The spec's code rules: 5 requests per number per 10 minutes, each code valid 5 minutes.
const CODE_LIMIT: RateLimit = RateLimit {
    max_requests: 5,
    window: Duration::from_secs(600),
};
const CODE_VALIDITY: Duration = Duration::from_secs(300);
const MAX_WRONG_CODES: u32 = 5;

/// `secs` seconds after a fixed instant (the identity store takes the time from its caller).
fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000 + secs)
}

fn hash(text: &str) -> StoredHash {
    StoredHash::new(text.to_owned())
}

fn code<'a>(mobile: &'a str, code_hash: &str) -> NewCode<'a> {
    NewCode {
        mobile,
        code_hash: hash(code_hash),
        valid_for: CODE_VALIDITY,
    }
}

async fn issue(store: &IdentityStore, mobile: &str, code_hash: &str, now: SystemTime) -> CodeIssue {
    let issued = store
        .issue_code(code(mobile, code_hash), now, CODE_LIMIT)
        .await;
    issued.expect("issue a code")
}

async fn live_code(store: &IdentityStore, mobile: &str) -> crate::identity::StoredCode {
    let stored = store.code_of(mobile).await.expect("read the code");
    stored.expect("a live code")
}

/// A code fails once expired, signs in once, and a newer code of the number replaces it.
pub async fn a_one_time_code_expires_is_used_once_and_a_newer_one_replaces_it(url: &str) {
    let store = IdentityStore::connect(url).await.expect("identity store");
    let mobile = "01011112222";
    assert_eq!(
        issue(&store, mobile, "h1", at(0)).await,
        CodeIssue::Issued,
        "{url}"
    );
    let first = live_code(&store, mobile).await;
    assert_eq!(first.code_hash, hash("h1"), "{url}");
    assert_eq!(
        (first.issued_at, first.expires_at),
        (at(0), at(300)),
        "{url}"
    );
    assert_eq!((first.failed_attempts, first.used), (0, false), "{url}");
    let expired = store
        .use_code(&first.code_id, at(300), MAX_WRONG_CODES)
        .await;
    assert!(!expired.expect("use"), "{url}: an expired code signed in");

    assert_eq!(
        issue(&store, mobile, "h2", at(310)).await,
        CodeIssue::Issued,
        "{url}"
    );
    let second = live_code(&store, mobile).await;
    assert_ne!(second.code_id, first.code_id, "{url}");
    let replaced = store
        .use_code(&first.code_id, at(311), MAX_WRONG_CODES)
        .await;
    assert!(!replaced.expect("use"), "{url}: a replaced code signed in");
    let used = store
        .use_code(&second.code_id, at(311), MAX_WRONG_CODES)
        .await;
    assert!(used.expect("use"), "{url}");
    let again = store
        .use_code(&second.code_id, at(312), MAX_WRONG_CODES)
        .await;
    assert!(!again.expect("use"), "{url}: a code signed in twice");
    assert!(live_code(&store, mobile).await.used, "{url}");
    assert_eq!(
        store.code_of("01099998888").await.expect("read"),
        None,
        "{url}"
    );
}

/// Five wrong answers in a row invalidate the code even for the right answer; a new code starts
/// afresh, and a used code counts no more wrong answers.
pub async fn five_wrong_codes_in_a_row_invalidate_the_code(url: &str) {
    let store = IdentityStore::connect(url).await.expect("identity store");
    let mobile = "01033334444";
    issue(&store, mobile, "h1", at(0)).await;
    let first = live_code(&store, mobile).await;
    for n in 1..=MAX_WRONG_CODES {
        let wrong = store.record_wrong_code(&first.code_id).await;
        assert_eq!(wrong.expect("wrong code"), n, "{url}");
    }
    let right = store.use_code(&first.code_id, at(1), MAX_WRONG_CODES).await;
    assert!(!right.expect("use"), "{url}: an exhausted code signed in");

    issue(&store, mobile, "h2", at(2)).await;
    let second = live_code(&store, mobile).await;
    assert_eq!(second.failed_attempts, 0, "{url}");
    store
        .record_wrong_code(&second.code_id)
        .await
        .expect("wrong");
    let used = store
        .use_code(&second.code_id, at(3), MAX_WRONG_CODES)
        .await;
    assert!(used.expect("use"), "{url}");
    let after = store.record_wrong_code(&second.code_id).await;
    assert_eq!(
        after.expect("wrong"),
        0,
        "{url}: a used code counted a wrong answer"
    );
}

/// A number gets at most five codes in any ten minutes; a limited request changes nothing and
/// says when the oldest request leaves the window; other numbers are not limited.
pub async fn code_requests_are_limited_per_number_within_a_sliding_window(url: &str) {
    let store = IdentityStore::connect(url).await.expect("identity store");
    let (mobile, other) = ("01055557777", "01055558888");
    for n in 0..5 {
        let issued = issue(&store, mobile, &format!("h{n}"), at(n * 60)).await;
        assert_eq!(issued, CodeIssue::Issued, "{url}: request {n}");
    }
    let limited = issue(&store, mobile, "late", at(300)).await;
    let retry_after = Duration::from_secs(300);
    assert_eq!(limited, CodeIssue::Limited { retry_after }, "{url}");
    assert_eq!(
        live_code(&store, mobile).await.code_hash,
        hash("h4"),
        "{url}"
    );
    assert_eq!(
        issue(&store, other, "o", at(300)).await,
        CodeIssue::Issued,
        "{url}"
    );

    let oldest_left = issue(&store, mobile, "h5", at(600)).await;
    assert_eq!(
        oldest_left,
        CodeIssue::Issued,
        "{url}: the window did not slide"
    );
    let limited = issue(&store, mobile, "late", at(601)).await;
    let retry_after = Duration::from_secs(59);
    assert_eq!(limited, CodeIssue::Limited { retry_after }, "{url}");
}

async fn account_of(store: &IdentityStore, username: &str) -> crate::identity::PasswordAccount {
    let account = store
        .password_account(username)
        .await
        .expect("read the account");
    account.expect("an account")
}

fn new_driver<'a>(username: &'a str, areas: &'a [String]) -> NewDriverRecord<'a> {
    NewDriverRecord {
        username,
        name: "Kim",
        mobile: "01012340000",
        password_hash: hash("driver-hash"),
        areas,
    }
}

/// A driver heard from stays online; one not heard from within the timeout is taken offline by
/// the next word from them (and stays so until they go online again); going online, offline, a
/// disable and being taken offline are each numbered once, in order.
pub async fn a_driver_not_heard_from_goes_offline_and_every_change_is_numbered(url: &str) {
    let store = IdentityStore::connect(url).await.expect("identity store");
    let start = store.newest_driver_change().await.expect("newest");
    let areas = vec!["mapo".to_owned()];
    let name = format!("p-{}", &new_call_id().to_string()[..8]);
    store
        .register_driver(new_driver(&name, &areas), at(0))
        .await
        .expect("register");
    let timeout = Duration::from_secs(90);
    let online = store.set_online(&name, true, at(10)).await.expect("online");
    let online = online.expect("driver");
    assert!(online.clone().present(at(99), timeout).online, "{url}");
    assert!(
        !online.present(at(101), timeout).online,
        "{url}: silent too long"
    );

    // Heard within the timeout: still online, and seen later.
    let gone = store.heard_from(&[(name.clone(), at(60))], timeout).await;
    assert!(gone.expect("heard").is_empty(), "{url}");
    let driver = account_driver(&store, &name).await;
    assert!(driver.clone().present(at(140), timeout).online, "{url}");
    // Heard only after the timeout: taken offline, though heard now.
    let gone = store.heard_from(&[(name.clone(), at(200))], timeout).await;
    assert_eq!(gone.expect("heard"), std::slice::from_ref(&name), "{url}");
    let driver = account_driver(&store, &name).await;
    assert!(!driver.online, "{url}");
    assert!(!driver.present(at(201), timeout).online, "{url}");
    // An older word changes nothing.
    store
        .heard_from(&[(name.clone(), at(150))], timeout)
        .await
        .expect("heard");
    assert_eq!(
        account_driver(&store, &name).await.last_seen_at.as_deref(),
        Some(crate::db::format_time(at(200)).as_str()),
        "{url}"
    );
    let back = store
        .set_online(&name, true, at(210))
        .await
        .expect("online");
    assert!(
        back.expect("driver").present(at(211), timeout).online,
        "{url}"
    );
    store.disable_driver(&name, at(220)).await.expect("disable");

    let changes = store.driver_changes_after(start).await.expect("changes");
    let mine = numbers_of(&changes, &name);
    // online, taken offline, online again, disabled.
    assert_eq!(mine.len(), 4, "{url}: {changes:?}");
    assert!(mine.windows(2).all(|w| w[0] < w[1]), "{url}");
    let named = store
        .drivers_named(&[name.clone(), "nobody".to_owned()])
        .await;
    assert_eq!(named.expect("named").len(), 1, "{url}");
}

/// Disabling a driver revokes every token they hold at once (twice is once); a username is
/// taken once across drivers and operators.
pub async fn disabling_a_driver_revokes_their_tokens_and_usernames_are_unique(url: &str) {
    let store = IdentityStore::connect(url).await.expect("identity store");
    let areas = vec!["mapo".to_owned(), "kangnam".to_owned()];
    assert!(
        store
            .create_operator("ops", &hash("ops-hash"), at(0))
            .await
            .expect("operator")
    );
    let kim = store
        .register_driver(new_driver("kim", &areas), at(1))
        .await;
    let kim = kim.expect("register").expect("registered");
    assert_eq!(
        (kim.username.as_str(), kim.areas.clone()),
        ("kim", areas.clone()),
        "{url}"
    );
    assert!(!kim.is_disabled(), "{url}");
    for taken in ["kim", "ops"] {
        let again = store
            .register_driver(new_driver(taken, &areas), at(2))
            .await;
        assert_eq!(
            again.expect("register"),
            None,
            "{url}: {taken} registered twice"
        );
    }
    let operator = store.create_operator("kim", &hash("x"), at(2)).await;
    assert!(
        !operator.expect("operator"),
        "{url}: an operator took a driver's name"
    );
    let account = account_of(&store, "kim").await;
    assert_eq!(
        (account.role, account.disabled),
        (Role::Driver, false),
        "{url}"
    );
    assert_eq!(account.password_hash, hash("driver-hash"), "{url}");
    let generation = store.active_generation(Role::Driver, "kim").await;
    assert_eq!(generation.expect("generation"), Some(0), "{url}");

    // Availability: a new driver is offline; go-online and go-offline stick.
    assert!(!account_driver(&store, "kim").await.online, "{url}");
    let online = store
        .set_online("kim", true, SystemTime::now())
        .await
        .expect("online");
    assert!(online.expect("kim").online, "{url}");
    assert!(account_driver(&store, "kim").await.online, "{url}");

    let disabled = store.disable_driver("kim", at(10)).await.expect("disable");
    let disabled = disabled.expect("kim");
    assert!(disabled.is_disabled(), "{url}");
    assert!(
        !disabled.online,
        "{url}: a disabled driver is taken offline"
    );
    let again = store
        .set_online("kim", true, SystemTime::now())
        .await
        .expect("online");
    assert!(again.is_none(), "{url}: a disabled driver cannot go online");
    assert_eq!(disabled.token_generation, 1, "{url}");
    let generation = store.active_generation(Role::Driver, "kim").await;
    assert_eq!(
        generation.expect("generation"),
        None,
        "{url}: a disabled driver's token works"
    );
    let twice = store.disable_driver("kim", at(20)).await.expect("disable");
    assert_eq!(
        twice.expect("kim"),
        disabled,
        "{url}: disabling twice changed the driver"
    );
    let account = account_of(&store, "kim").await;
    assert!(account.disabled, "{url}");
    let nobody = store.disable_driver("nobody", at(20)).await;
    assert_eq!(nobody.expect("disable"), None, "{url}");
    assert_eq!(store.drivers().await.expect("drivers"), [disabled], "{url}");
}

/// A customer is recorded on first sign-in only; an operator's new password revokes their tokens.
pub async fn customers_are_recorded_once_and_a_new_operator_password_revokes_tokens(url: &str) {
    let store = IdentityStore::connect(url).await.expect("identity store");
    let mobile = "01066667777";
    let unknown = store.active_generation(Role::Customer, mobile).await;
    assert_eq!(unknown.expect("generation"), None, "{url}");
    for _ in 0..2 {
        let generation = store.sign_in_customer(mobile, at(0)).await;
        assert_eq!(generation.expect("sign in"), 0, "{url}");
    }

    assert!(
        store
            .create_operator("ops", &hash("old"), at(0))
            .await
            .expect("operator")
    );
    let again = store.create_operator("ops", &hash("other"), at(1)).await;
    assert!(
        !again.expect("operator"),
        "{url}: an operator was created twice"
    );
    let replaced = store
        .replace_operator_password("ops", &hash("new"), at(2))
        .await;
    assert!(replaced.expect("replace"), "{url}");
    let account = account_of(&store, "ops").await;
    assert_eq!(
        (account.role, account.password_hash),
        (Role::Operator, hash("new")),
        "{url}"
    );
    let generation = store.active_generation(Role::Operator, "ops").await;
    assert_eq!(generation.expect("generation"), Some(1), "{url}");
    let nobody = store
        .replace_operator_password("nobody", &hash("x"), at(2))
        .await;
    assert!(!nobody.expect("replace"), "{url}");
}

async fn account_driver(store: &IdentityStore, username: &str) -> DriverRecord {
    store
        .driver(username)
        .await
        .expect("driver")
        .expect("registered")
}
