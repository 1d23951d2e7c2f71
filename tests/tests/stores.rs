//! The payment, catcher and dashboard stores against both backends: a fresh SQLite file and a fresh
//! PostgreSQL database (`TEST_POSTGRES_URL`, default the machine's server at 127.0.0.1:5432).

use driver_call_activities::catcher::CatcherStore;
use driver_call_activities::dashboard::DashboardStore;
use driver_call_activities::db::StoreError;
use driver_call_activities::payment::{
    Approval, ChargeRequest, ChargeStatus, GatewayCharge, PaymentOutcome, PaymentRecord,
    PaymentStore,
};
use driver_call_tests::scratch_dir;
use driver_call_workflows::contracts::catcher::{CatchStatus, OfferCallInput};
use driver_call_workflows::contracts::dashboard::ProjectTimelineInput;
use driver_call_workflows::contracts::payment::{ApprovePaymentInput, PaymentStatus, RefundKind};
use driver_call_workflows::domain::{
    CallId, CallStatus, Driver, EventName, Krw, Location, MobileNumber, PayType, TimelineEvent,
};
use sqlx::Connection;

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A URL of each backend, each a database nobody else uses.
async fn fresh_databases(context: &str) -> Vec<String> {
    let sqlite = format!(
        "sqlite://{}/{context}.db",
        scratch_dir("stores").unwrap().display()
    );
    let admin = std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned());
    let name = format!("dc_{}", uuid::Uuid::new_v4().simple());
    let mut connection = sqlx::PgConnection::connect(&admin)
        .await
        .expect("PostgreSQL at TEST_POSTGRES_URL answers");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut connection)
        .await
        .expect("database created");
    let base = admin.rsplit_once('/').expect("a database in the URL").0;
    vec![sqlite, format!("{base}/{name}")]
}

fn approval(call_id: CallId, amount: i64) -> ApprovePaymentInput {
    ApprovePaymentInput {
        call_id,
        mobile: MobileNumber::parse("010-2222-3333").unwrap(),
        pay_type: PayType::Card,
        pay_amount: Krw::new(amount).unwrap(),
    }
}

fn new_call_id() -> CallId {
    CallId::from_uuid(uuid::Uuid::new_v4())
}

fn minimum() -> Krw {
    Krw::new(5000).unwrap()
}

/// What `payment.approve` does with the built-in gateway: decide, then record once.
async fn settle(
    store: &PaymentStore,
    input: &ApprovePaymentInput,
) -> Result<PaymentRecord, StoreError> {
    let outcome = match Approval::decide(input.pay_amount, minimum()) {
        Approval::Approve => PaymentOutcome::Approved {
            charge_id: Some(format!("builtin-{}", input.call_id)),
        },
        Approval::Reject(reason) => PaymentOutcome::Rejected { reason },
    };
    store.record(input, outcome).await
}

#[tokio::test]
async fn approval_is_idempotent_per_call_even_when_racing() {
    for url in fresh_databases("payment").await {
        let store = PaymentStore::connect(&url).await.unwrap();
        let call_id = new_call_id();
        let input = approval(call_id, 7000);

        let racing = (0..8).map(|_| settle(&store, &input));
        let results = futures::future::join_all(racing).await;

        let ids: Vec<_> = results.into_iter().map(|r| r.unwrap().payment_id).collect();
        assert!(ids.iter().all(|id| *id == ids[0]), "{url}: {ids:?}");
        let approved = store
            .count_by_call_and_status(&call_id.to_string(), PaymentStatus::Approved)
            .await
            .unwrap();
        assert_eq!(approved, 1, "{url}");
        let record = store.find(&ids[0]).await.unwrap().unwrap();
        assert_eq!(
            record.idempotency_key,
            format!("payment:{call_id}"),
            "{url}"
        );
    }
}

#[tokio::test]
async fn a_fare_below_the_minimum_is_recorded_as_rejected_and_stays_rejected() {
    for url in fresh_databases("payment").await {
        let store = PaymentStore::connect(&url).await.unwrap();
        let call_id = new_call_id();
        let first = settle(&store, &approval(call_id, 4999)).await.unwrap();
        assert_eq!(first.status, PaymentStatus::Rejected, "{url}");
        assert!(first.reason.unwrap().contains("minimum"), "{url}");
        let again = settle(&store, &approval(call_id, 4999)).await.unwrap();
        assert_eq!(again.payment_id, first.payment_id, "{url}");
        assert_eq!(
            store.refund(&call_id, RefundKind::Cancel).await.unwrap(),
            None,
            "{url}"
        );
    }
}

#[tokio::test]
async fn a_charge_refunded_without_a_confirmed_answer_is_recorded_once() {
    for url in fresh_databases("payment").await {
        let store = PaymentStore::connect(&url).await.unwrap();
        let call_id = new_call_id();
        let charge = GatewayCharge {
            charge_id: "chg-lost".to_owned(),
            status: ChargeStatus::Refunded,
            request: ChargeRequest {
                idempotency_key: format!("payment:{call_id}"),
                call_id: call_id.to_string(),
                mobile: "01022223333".to_owned(),
                pay_type: "CARD".to_owned(),
                amount: 7000,
            },
        };
        let first = store
            .record_refunded_charge(&charge, RefundKind::Cancel)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.status, PaymentStatus::Cancelled, "{url}");
        assert_eq!(first.charge_id.as_deref(), Some("chg-lost"), "{url}");
        assert_eq!(first.pay_amount, 7000, "{url}");
        let again = store
            .record_refunded_charge(&charge, RefundKind::Disable)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again, first, "{url}: recorded twice");
    }
}

#[tokio::test]
async fn refunds_happen_once_and_only_for_approved_payments() {
    for url in fresh_databases("payment").await {
        let store = PaymentStore::connect(&url).await.unwrap();
        assert_eq!(
            store
                .refund(&new_call_id(), RefundKind::Cancel)
                .await
                .unwrap(),
            None
        );

        let call_id = new_call_id();
        let paid = settle(&store, &approval(call_id, 5000)).await.unwrap();
        let first = store
            .refund(&call_id, RefundKind::Disable)
            .await
            .unwrap()
            .unwrap();
        let second = store
            .refund(&call_id, RefundKind::Cancel)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.payment_id, paid.payment_id, "{url}");
        assert_eq!(first.status, PaymentStatus::Disabled, "{url}");
        assert_eq!(
            second.status,
            PaymentStatus::Disabled,
            "{url}: a refund changed a refund"
        );
    }
}

fn offer(call_id: CallId, location: &str) -> OfferCallInput {
    OfferCallInput {
        call_id,
        location: Location::parse(location).unwrap(),
        destination: Some("Home".to_owned()),
        pay_amount: Krw::new(15000).unwrap(),
    }
}

#[tokio::test]
async fn an_offer_is_listed_by_area_until_caught_and_a_closed_offer_never_reopens() {
    for url in fresh_databases("catcher").await {
        let store = CatcherStore::connect(&url).await.unwrap();
        let call_id = new_call_id();
        let id = call_id.to_string();
        store
            .open_offer(&offer(call_id, "Mapo Hapjeong"), "mapo")
            .await
            .unwrap();
        store
            .open_offer(&offer(call_id, "Mapo Hapjeong"), "mapo")
            .await
            .unwrap();

        let listed = store.open_offers("MAPO").await.unwrap();
        assert_eq!(
            listed.iter().filter(|o| o.call_id == id).count(),
            1,
            "{url}"
        );

        let driver = Driver::parse("d-1", "Kim").unwrap();
        store.record_catch(&call_id, &driver).await.unwrap();
        store
            .record_catch(&call_id, &Driver::parse("d-2", "Lee").unwrap())
            .await
            .unwrap();
        let caught = store.find(&id).await.unwrap().unwrap();
        assert_eq!(caught.status, CatchStatus::Caught, "{url}");
        assert_eq!(
            caught.driver_id.as_deref(),
            Some("d-1"),
            "{url}: the first catch stands"
        );
        assert!(
            store
                .open_offers("mapo")
                .await
                .unwrap()
                .iter()
                .all(|o| o.call_id != id)
        );

        store.close(&call_id, CatchStatus::Withdrawn).await.unwrap();
        store.close(&call_id, CatchStatus::Completed).await.unwrap();
        store
            .open_offer(&offer(call_id, "Mapo Hapjeong"), "mapo")
            .await
            .unwrap();
        let closed = store.find(&id).await.unwrap().unwrap();
        assert_eq!(closed.status, CatchStatus::Withdrawn, "{url}");
    }
}

#[tokio::test]
async fn stores_opened_together_on_one_new_sqlite_file_all_migrate() {
    // The worker and the API open the same embedded database at start-up.
    let url = format!(
        "sqlite://{}/shared.db",
        scratch_dir("stores").unwrap().display()
    );
    let opening = (0..4).map(|_| PaymentStore::connect(&url));
    for store in futures::future::join_all(opening).await {
        store
            .expect("every opener gets a migrated store")
            .ping()
            .await
            .unwrap();
    }
    let catcher_url = url.replace("shared", "catcher");
    let opening = (0..4).map(|_| CatcherStore::connect(&catcher_url));
    for store in futures::future::join_all(opening).await {
        store
            .expect("every opener gets a migrated store")
            .ping()
            .await
            .unwrap();
    }
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
        mobile: MobileNumber::parse("010-5555-6666").unwrap(),
        location: Location::parse("Mapo").unwrap(),
        pay_amount: Krw::new(9000).unwrap(),
        status,
        events,
    }
}

#[tokio::test]
async fn projection_is_idempotent_and_an_older_batch_never_moves_the_summary_back() {
    for url in fresh_databases("dashboard").await {
        let store = DashboardStore::connect(&url).await.unwrap();
        let call_id = new_call_id();
        let made = timeline_event(1, EventName::CallMade);
        let approved = timeline_event(2, EventName::PaymentApproved);
        let paid = timeline_event(3, EventName::CallPayed);
        let early = projection(call_id, CallStatus::Created, vec![made.clone()]);
        let late = projection(
            call_id,
            CallStatus::Paid,
            vec![made.clone(), approved.clone(), paid.clone()],
        );

        store.project(&late).await.unwrap();
        store.project(&early).await.unwrap(); // a retried, older batch
        store.project(&late).await.unwrap(); // a replayed batch

        let timeline = store.timeline(&call_id.to_string()).await.unwrap();
        assert_eq!(timeline, vec![made, approved, paid], "{url}");
        let (calls, next) = store.calls_of("01055556666", None, 10).await.unwrap();
        let summary = calls
            .iter()
            .find(|c| c.call_id == call_id.to_string())
            .unwrap();
        assert_eq!(summary.status, "PAID", "{url}");
        assert!(next.is_none(), "{url}");
        let streamed = store
            .call_events_after(&call_id.to_string(), 1)
            .await
            .unwrap();
        let seqs: Vec<i64> = streamed.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [2, 3], "{url}");
        assert_eq!(streamed[1].status.as_deref(), Some("PAID"), "{url}");
        assert_eq!(
            streamed[0].status, None,
            "{url}: PaymentApproved changes no status"
        );
    }
}
