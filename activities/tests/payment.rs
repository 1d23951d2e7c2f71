//! The payment activities through the SDK's `ActivityEnvironment`, on a new SQLite ledger: no
//! Temporal server. What the workflow sees of an approval and a refund, and what the ledger holds
//! (and, through the HTTP gateway, what the in-process payment sandbox holds).

use std::sync::Arc;
use std::time::Duration;

use driver_call_activities::payment::{
    Activities, BuiltinGateway, GuardedGateway, HttpGateway, PaymentGateway,
};
use driver_call_stores::PaymentStore;
use driver_call_workflows::contracts::payment::{
    ApprovePaymentInput, PAYMENT_REJECTED, PaymentStatus, RefundKind, RefundPaymentInput,
};
use driver_call_workflows::domain::{CallId, Krw, MobileNumber, PayType};
use temporalio_sdk::activities::ActivityError;
use temporalio_sdk::testing::{ActivityEnvironment, ActivityEnvironmentError};

struct Ledger {
    store: PaymentStore,
    env: ActivityEnvironment,
}

async fn ledger() -> Ledger {
    ledger_over(Arc::new(BuiltinGateway)).await
}

async fn ledger_over(gateway: Arc<dyn PaymentGateway>) -> Ledger {
    let dir = std::env::temp_dir().join(format!("driver-call-payment-{}", uuid::Uuid::new_v4()));
    let url = format!("sqlite://{}/payment.db", dir.display());
    let store = PaymentStore::connect(&url).await.expect("payment store");
    let gateway = Arc::new(GuardedGateway::new(gateway, Default::default(), None));
    let activities = Activities::new(store.clone(), gateway, Krw::new(5000).unwrap());
    let env = ActivityEnvironment::builder()
        .register_activities(activities)
        .build();
    Ledger { store, env }
}

fn approval(call_id: CallId, amount: i64) -> ApprovePaymentInput {
    ApprovePaymentInput {
        call_id,
        mobile: MobileNumber::parse("010-2222-3333").unwrap(),
        pay_type: PayType::Card,
        pay_amount: Krw::new(amount).unwrap(),
    }
}

fn new_call() -> CallId {
    CallId::from_uuid(uuid::Uuid::new_v4())
}

#[tokio::test]
async fn racing_approvals_of_one_call_charge_once() {
    let ledger = ledger().await;
    let call_id = new_call();
    let input = approval(call_id, 7000);
    let racing = (0..8).map(|_| ledger.env.run(Activities::approve, input.clone()));
    let ids: Vec<String> = futures::future::join_all(racing)
        .await
        .into_iter()
        .map(|r| r.expect("approved").payment_id)
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let rows = ledger
        .store
        .count_by_call_and_status(&call_id.to_string(), PaymentStatus::Approved)
        .await
        .unwrap();
    assert_eq!(rows, 1);
    let record = ledger.store.find(&ids[0]).await.unwrap().unwrap();
    assert_eq!(record.charge_id, Some(format!("builtin-{call_id}")));
}

#[tokio::test]
async fn a_fare_below_the_minimum_is_a_terminal_rejection_and_exactly_the_minimum_passes() {
    let ledger = ledger().await;
    let call_id = new_call();
    let refused = ledger
        .env
        .run(Activities::approve, approval(call_id, 4999))
        .await;
    let Err(ActivityEnvironmentError::Activity(ActivityError::Application(failure))) = refused
    else {
        panic!("not a business rejection: {refused:?}");
    };
    let failure = format!("{failure:?}");
    assert!(failure.contains(PAYMENT_REJECTED), "{failure}");
    assert!(
        failure.contains("below the minimum fare of 5000 KRW"),
        "{failure}"
    );
    let record = ledger.store.find_by_call(&call_id.to_string()).await;
    assert_eq!(record.unwrap().unwrap().status, PaymentStatus::Rejected);
    // A retry (the customer pressing pay again) gets the same rejection, not a charge.
    let again = ledger
        .env
        .run(Activities::approve, approval(call_id, 4999))
        .await;
    assert!(again.is_err());

    let exact = ledger
        .env
        .run(Activities::approve, approval(new_call(), 5000))
        .await;
    assert_eq!(exact.expect("approved").status, PaymentStatus::Approved);
}

#[tokio::test]
async fn a_refund_gives_back_the_approved_payment_once_and_nothing_for_an_unpaid_call() {
    let ledger = ledger().await;
    let call_id = new_call();
    let paid = ledger
        .env
        .run(Activities::approve, approval(call_id, 8000))
        .await
        .unwrap();
    let refund = RefundPaymentInput {
        call_id,
        kind: RefundKind::Disable,
        fee: None,
    };
    let first = ledger
        .env
        .run(Activities::refund, refund.clone())
        .await
        .unwrap();
    assert_eq!(first.payment_id.as_deref(), Some(paid.payment_id.as_str()));
    assert_eq!(first.status, Some(PaymentStatus::Disabled));
    let again = ledger.env.run(Activities::refund, refund).await.unwrap();
    assert_eq!(again.status, Some(PaymentStatus::Disabled));

    let unpaid = RefundPaymentInput {
        call_id: new_call(),
        kind: RefundKind::Cancel,
        fee: None,
    };
    let nothing = ledger.env.run(Activities::refund, unpaid).await.unwrap();
    assert_eq!(nothing.payment_id, None);
}

/// The payment sandbox in-process on a loopback port; its base URL.
async fn sandbox() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, driver_call_sandbox::app()).await });
    format!("http://{address}")
}

fn http_gateway(base: &str) -> HttpGateway {
    HttpGateway::new(base, Duration::from_secs(5)).unwrap()
}

/// What the sandbox holds for the call.
async fn sandbox_charges(base: &str, call_id: CallId) -> Vec<driver_call_sandbox::GatewayCharge> {
    reqwest::get(format!("{base}/charges?callId={call_id}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn refund_keeping(call_id: CallId, fee: i64) -> RefundPaymentInput {
    RefundPaymentInput {
        call_id,
        kind: RefundKind::Cancel,
        fee: Some(Krw::new(fee).unwrap()),
    }
}

#[tokio::test]
async fn a_partial_refund_charges_once_and_gives_back_the_charge_less_the_fee_once() {
    // Arrange
    let base = sandbox().await;
    let ledger = ledger_over(Arc::new(http_gateway(&base))).await;
    let call_id = new_call();
    let paid = ledger
        .env
        .run(Activities::approve, approval(call_id, 15000))
        .await
        .unwrap();

    // Act
    let refunded = ledger
        .env
        .run(Activities::refund, refund_keeping(call_id, 5000))
        .await
        .unwrap();

    // Assert
    assert_eq!(
        refunded.payment_id.as_deref(),
        Some(paid.payment_id.as_str())
    );
    assert_eq!(refunded.status, Some(PaymentStatus::PartiallyRefunded));
    let id = call_id.to_string();
    let record = ledger.store.find_by_call(&id).await.unwrap().unwrap();
    assert_eq!(record.status, PaymentStatus::PartiallyRefunded);
    assert_eq!(
        (record.pay_amount, record.refunded_amount, record.fee),
        (15000, Some(10000), Some(5000))
    );
    let rows = ledger
        .store
        .count_by_call_and_status(&id, PaymentStatus::PartiallyRefunded)
        .await
        .unwrap();
    assert_eq!(rows, 1);
    let charges = sandbox_charges(&base, call_id).await;
    assert_eq!(charges.len(), 1, "charged once: {charges:?}");
    assert_eq!(
        record.charge_id.as_deref(),
        Some(charges[0].charge_id.as_str())
    );
    assert_eq!(charges[0].request.amount, 15000);
    assert_eq!(
        charges[0].status,
        driver_call_sandbox::ChargeStatus::PartiallyRefunded
    );
    assert_eq!(charges[0].refunded_amount, Some(10000));
}

#[tokio::test]
async fn a_retried_partial_refund_gives_nothing_more_back() {
    // Arrange: a paid call whose first refund try reached the gateway and then died (kill -9)
    // before the ledger was written.
    let base = sandbox().await;
    let ledger = ledger_over(Arc::new(http_gateway(&base))).await;
    let call_id = new_call();
    ledger
        .env
        .run(Activities::approve, approval(call_id, 15000))
        .await
        .unwrap();
    let key = format!("payment:{call_id}");
    let first_try = http_gateway(&base);
    let died = first_try.refund(&key, Some(Krw::new(10000).unwrap())).await;
    died.unwrap().expect("the sandbox held the charge");

    // Act: the activity retried, then retried once more after it completed.
    let retried = ledger
        .env
        .run(Activities::refund, refund_keeping(call_id, 5000))
        .await
        .unwrap();
    let again = ledger
        .env
        .run(Activities::refund, refund_keeping(call_id, 5000))
        .await
        .unwrap();

    // Assert
    assert_eq!(retried.status, Some(PaymentStatus::PartiallyRefunded));
    assert_eq!(again, retried);
    let id = call_id.to_string();
    let record = ledger.store.find_by_call(&id).await.unwrap().unwrap();
    assert_eq!(
        (record.refunded_amount, record.fee),
        (Some(10000), Some(5000))
    );
    let rows = ledger
        .store
        .count_by_call_and_status(&id, PaymentStatus::PartiallyRefunded)
        .await
        .unwrap();
    assert_eq!(rows, 1);
    let charges = sandbox_charges(&base, call_id).await;
    assert_eq!(charges.len(), 1, "{charges:?}");
    assert_eq!(charges[0].refunded_amount, Some(10000), "refunded twice");
}

#[tokio::test]
async fn a_fee_larger_than_the_charge_keeps_the_whole_charge() {
    // Arrange
    let base = sandbox().await;
    let ledger = ledger_over(Arc::new(http_gateway(&base))).await;
    let call_id = new_call();
    ledger
        .env
        .run(Activities::approve, approval(call_id, 8000))
        .await
        .unwrap();

    // Act
    let kept = ledger
        .env
        .run(Activities::refund, refund_keeping(call_id, 10000))
        .await
        .unwrap();

    // Assert: nothing given back, so the gateway is not asked and still holds the charge.
    assert_eq!(kept.status, Some(PaymentStatus::PartiallyRefunded));
    let record = ledger.store.find_by_call(&call_id.to_string()).await;
    let record = record.unwrap().unwrap();
    assert_eq!((record.refunded_amount, record.fee), (Some(0), Some(8000)));
    let charges = sandbox_charges(&base, call_id).await;
    assert_eq!(charges.len(), 1);
    assert_eq!(
        charges[0].status,
        driver_call_sandbox::ChargeStatus::Charged
    );
    assert_eq!(charges[0].refunded_amount, None);
}

#[tokio::test]
async fn the_built_in_gateway_keeps_the_fee_too_and_an_unpaid_call_keeps_nothing() {
    let ledger = ledger().await;
    let call_id = new_call();
    ledger
        .env
        .run(Activities::approve, approval(call_id, 12000))
        .await
        .unwrap();
    let partial = ledger
        .env
        .run(Activities::refund, refund_keeping(call_id, 5000))
        .await
        .unwrap();
    assert_eq!(partial.status, Some(PaymentStatus::PartiallyRefunded));
    let record = ledger.store.find_by_call(&call_id.to_string()).await;
    let record = record.unwrap().unwrap();
    assert_eq!(
        (record.refunded_amount, record.fee),
        (Some(7000), Some(5000))
    );

    let unpaid = ledger
        .env
        .run(Activities::refund, refund_keeping(new_call(), 5000))
        .await
        .unwrap();
    assert_eq!(unpaid.payment_id, None, "no charge, no fee");
}
