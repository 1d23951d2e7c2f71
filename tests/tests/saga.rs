//! The whole saga end to end: real dev server, real workers, real HTTP API, real databases.

use std::time::Duration;

use driver_call_tests::{Api, env, eventually, stores, temporal_cli};
use driver_call_workflows::contracts::catcher::CatchStatus;
use driver_call_workflows::contracts::payment::PaymentStatus;
use driver_call_workflows::domain::{CallStatus, CallView};
use reqwest::Method;
use serde_json::{Value, json};

#[path = "replay_support.rs"]
mod replay_support;

fn events(view: &CallView) -> Vec<String> {
    view.timeline.iter().map(|e| format!("{:?}", e.event)).collect()
}

async fn paid_and_dispatched(api: &Api, location: &str) -> CallView {
    let call = api.create_call(location, 15000).await;
    let paid = api.pay(&call).await;
    assert_eq!(paid.status, 200, "pay: {:?}", paid.body);
    api.wait_for_status(&call, "DISPATCHED").await
}

#[tokio::test]
async fn happy_path_reaches_completed_with_one_approved_payment_and_one_completed_catch() {
    let api = Api::default_limits();

    // Arrange: a call from Kangnam.
    let call = api.create_call("Kangnam station exit 5", 25000).await;
    assert_eq!(call.status, CallStatus::Created);

    // Act: pay, catch, arrive, start, complete.
    let paid = api.pay(&call).await;
    assert_eq!(paid.status, 200, "{:?}", paid.body);
    assert!(paid.view().payment_id.is_some());
    api.wait_for_status(&call, "DISPATCHED").await;
    let offers = api.send(Method::GET, "/catches?area=KANGNAM", None).await;
    assert!(
        offers.body.as_array().unwrap().iter().any(|o| o["callId"] == call.call_id.to_string()),
        "the open offer is listed: {:?}",
        offers.body
    );
    let caught = api.catch(&call, "d-1").await;
    assert_eq!(caught.status, 200, "{:?}", caught.body);
    assert_eq!(caught.view().status, CallStatus::Caught);
    assert_eq!(api.trip_step(&call, "arrive", "d-1").await.status, 200);
    assert_eq!(api.trip_step(&call, "start", "d-1").await.status, 200);
    let done = api.trip_step(&call, "complete", "d-1").await;
    assert_eq!(done.status, 200, "{:?}", done.body);

    // Assert: the call, its payment and its catch.
    let view = api.wait_for_status(&call, "COMPLETED").await;
    assert_eq!(
        events(&view),
        [
            "CallMade",
            "PaymentApproved",
            "CallPayed",
            "CallReceived",
            "CallCaught",
            "DriverArrived",
            "TripStarted",
            "TripCompleted",
        ]
    );
    let (payments, catches) = stores().await;
    let id = call.call_id.to_string();
    assert_eq!(payments.count_by_call_and_status(&id, PaymentStatus::Approved).await.unwrap(), 1);
    let catch = eventually(Duration::from_secs(20), "catch row COMPLETED", || async {
        catches.find(&id).await.unwrap().filter(|c| c.status == CatchStatus::Completed)
    })
    .await;
    assert_eq!(catch.driver_id.as_deref(), Some("d-1"));
    let payment = api
        .send(Method::GET, &format!("/payments?callId={id}"), None)
        .await;
    assert_eq!(payment.status, 200);
    assert_eq!(payment.body["status"], "APPROVED");
    replay_support::check_and_record(&call, "completed").await;
}
