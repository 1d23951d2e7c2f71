//! The payment activities through the SDK's `ActivityEnvironment`, on a new SQLite ledger: no
//! Temporal server. What the workflow sees of an approval and a refund, and what the ledger holds.

use std::sync::Arc;

use driver_call_activities::payment::{Activities, BuiltinGateway, GuardedGateway};
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
    let dir = std::env::temp_dir().join(format!("driver-call-payment-{}", uuid::Uuid::new_v4()));
    let url = format!("sqlite://{}/payment.db", dir.display());
    let store = PaymentStore::connect(&url).await.expect("payment store");
    let gateway = Arc::new(GuardedGateway::new(
        Arc::new(BuiltinGateway),
        Default::default(),
        None,
    ));
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
    };
    let nothing = ledger.env.run(Activities::refund, unpaid).await.unwrap();
    assert_eq!(nothing.payment_id, None);
}
