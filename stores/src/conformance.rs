//! The behaviour every backend of the stores must show, as checks that take a fresh database URL
//! and panic on a difference. `stores/tests/sqlite.rs` runs them on SQLite (the quick tier) and
//! `tests/tests/stores.rs` on PostgreSQL, both through [`conformance_tests!`](crate::conformance_tests).

use driver_call_workflows::contracts::catcher::{CatchStatus, OfferCallInput};
use driver_call_workflows::contracts::dashboard::ProjectTimelineInput;
use driver_call_workflows::contracts::payment::{ApprovePaymentInput, PaymentStatus, RefundKind};
use driver_call_workflows::domain::{
    CallId, CallStatus, Driver, EventName, Krw, Location, MobileNumber, PayType, TimelineEvent,
};

use crate::payment::{PaymentOutcome, UnconfirmedCharge};
use crate::{CatcherStore, DashboardStore, PaymentStore};

/// One `#[tokio::test]` per check, each on a database from `$fresh(context).await`.
#[macro_export]
macro_rules! conformance_tests {
    ($fresh:path) => {
        $crate::conformance_tests!(@each $fresh,
            a_payment_is_recorded_once_even_when_racing: "payment",
            a_rejection_stays_rejected_and_refunds_nothing: "payment",
            a_charge_refunded_without_a_confirmed_answer_is_recorded_once: "payment",
            refunds_happen_once_and_only_for_approved_payments: "payment",
            an_offer_is_listed_by_area_until_caught_and_a_closed_offer_never_reopens: "catcher",
            projection_is_idempotent_and_an_older_batch_never_moves_the_summary_back: "dashboard",
            a_followed_call_resumes_until_finished_and_discovery_goes_on_from_the_newest: "dashboard",
            one_follower_holds_the_lease_until_it_lapses: "dashboard",
            a_reader_is_ready_only_once_the_owner_has_migrated: "reader",
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

fn offer(call_id: CallId) -> OfferCallInput {
    OfferCallInput {
        call_id,
        location: Location::parse("Mapo Hapjeong").expect("location"),
        destination: Some("Home".to_owned()),
        pay_amount: Krw::new(15000).expect("amount"),
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
        .calls_of("01055556666", None, 10)
        .await
        .expect("calls");
    let summary = calls.iter().find(|c| c.call_id == call_id.to_string());
    assert_eq!(summary.expect("summary").status, "PAID", "{url}");
    assert!(next.is_none(), "{url}");
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
