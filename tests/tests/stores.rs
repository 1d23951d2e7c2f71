//! The stores on PostgreSQL (`TEST_POSTGRES_URL`, default the machine's server at
//! 127.0.0.1:5432): the same conformance checks the quick tier runs on SQLite
//! (`stores/tests/sqlite.rs`), each on a database nobody else uses, and the payment activity's
//! racing approvals through the SDK's `ActivityEnvironment`.

use std::sync::Arc;

use driver_call_activities::payment::{Activities, BuiltinGateway, GuardedGateway};
use driver_call_stores::PaymentStore;
use driver_call_workflows::contracts::payment::{ApprovePaymentInput, PaymentStatus};
use driver_call_workflows::domain::{CallId, Krw, MobileNumber, PayType};
use sqlx::Connection;
use temporalio_sdk::testing::ActivityEnvironment;

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A new, empty PostgreSQL database's URL.
async fn fresh_postgres(_context: &str) -> String {
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
    format!("{base}/{name}")
}

driver_call_stores::conformance_tests!(fresh_postgres);

#[tokio::test]
async fn racing_approvals_through_the_activity_charge_once_on_postgres() {
    let store = PaymentStore::connect(&fresh_postgres("payment").await)
        .await
        .unwrap();
    let gateway = Arc::new(GuardedGateway::new(
        Arc::new(BuiltinGateway),
        Default::default(),
        None,
    ));
    let activities = Activities::new(store.clone(), gateway, Krw::new(5000).unwrap());
    let env = ActivityEnvironment::builder()
        .register_activities(activities)
        .build();
    let call_id = CallId::from_uuid(uuid::Uuid::new_v4());
    let input = ApprovePaymentInput {
        call_id,
        mobile: MobileNumber::parse("010-2222-3333").unwrap(),
        pay_type: PayType::Card,
        pay_amount: Krw::new(7000).unwrap(),
    };
    let racing = (0..8).map(|_| env.run(Activities::approve, input.clone()));
    let ids: Vec<String> = futures::future::join_all(racing)
        .await
        .into_iter()
        .map(|r| r.expect("approved").payment_id)
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let approved = store
        .count_by_call_and_status(&call_id.to_string(), PaymentStatus::Approved)
        .await
        .unwrap();
    assert_eq!(approved, 1);
}
