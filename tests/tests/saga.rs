//! The whole saga end to end: real dev server, real workers, real HTTP API, real databases.

use std::time::Duration;

use driver_call_tests::{Api, COMPLETED_TIMELINE, Stores, env, eventually, temporal};
use driver_call_workflows::contracts::catcher::CatchStatus;
use driver_call_workflows::contracts::payment::PaymentStatus;
use driver_call_workflows::domain::{CallStatus, CallView};
use reqwest::Method;
use serde_json::{Value, json};

fn events(view: &CallView) -> Vec<String> {
    view.timeline
        .iter()
        .map(|e| format!("{:?}", e.event))
        .collect()
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
        offers
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["callId"] == call.call_id.to_string()),
        "the open offer is listed: {:?}",
        offers.body
    );
    let caught = api.catch(&call, "d-1").await;
    assert_eq!(caught.status, 200, "{:?}", caught.body);
    assert_eq!(caught.body["status"], "CAUGHT");
    assert_eq!(
        caught.body["mobile"], "010-****-5678",
        "the driver sees it masked"
    );
    assert_eq!(api.trip_step(&call, "arrive", "d-1").await.status, 200);
    assert_eq!(api.trip_step(&call, "start", "d-1").await.status, 200);
    let done = api.trip_step(&call, "complete", "d-1").await;
    assert_eq!(done.status, 200, "{:?}", done.body);

    // Assert: the call, its payment and its catch.
    let view = api.wait_for_status(&call, "COMPLETED").await;
    assert_eq!(events(&view), COMPLETED_TIMELINE);
    let stores = Stores::open().await;
    let id = call.call_id.to_string();
    assert_eq!(
        stores.payments_with(&call, PaymentStatus::Approved).await,
        1
    );
    let catch = stores.wait_for_catch(&call, CatchStatus::Completed).await;
    assert_eq!(catch.driver_id.as_deref(), Some("d-1"));
    let payment = api
        .send(Method::GET, &format!("/payments?callId={id}"), None)
        .await;
    assert_eq!(payment.status, 200);
    assert_eq!(payment.body["status"], "APPROVED");
    driver_call_tests::replay::check_and_record(&call, "completed").await;
}

#[tokio::test]
async fn a_fare_below_the_minimum_is_rejected_and_never_dispatched_while_the_minimum_is_approved() {
    let api = Api::default_limits();
    let stores = Stores::open().await;

    // Below the minimum: 402, PAYMENT_REJECTED, nothing charged, never offered.
    let cheap = api.create_call("Mapo Hapjeong", 4999).await;
    let answer = api.pay(&cheap).await;
    assert_eq!(answer.status, 402, "{:?}", answer.body);
    assert_eq!(answer.headers["content-type"], "application/problem+json");
    let view = api.wait_for_status(&cheap, "PAYMENT_REJECTED").await;
    assert_eq!(events(&view), ["CallMade", "PaymentRejected"]);
    assert_eq!(
        stores.payments_with(&cheap, PaymentStatus::Approved).await,
        0
    );
    assert_eq!(
        stores.payments_with(&cheap, PaymentStatus::Rejected).await,
        1
    );
    assert!(
        stores.catch_row(&cheap).await.is_none(),
        "a rejected call was offered"
    );
    // A rejected call cannot be paid again.
    assert_eq!(api.pay(&cheap).await.status, 409);

    // Exactly the minimum: approved.
    let exact = api.create_call("Mapo Hapjeong", 5000).await;
    let answer = api.pay(&exact).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(
        stores.payments_with(&exact, PaymentStatus::Approved).await,
        1
    );
    driver_call_tests::replay::check_and_record(&cheap, "payment_rejected").await;
}

#[tokio::test]
async fn a_call_outside_the_service_areas_is_denied_and_its_payment_disabled() {
    let api = Api::default_limits();
    let call = api.create_call("Busan Haeundae beach", 30000).await;
    assert_eq!(api.pay(&call).await.status, 200);

    let view = api.wait_for_event(&call, "PaymentDisabled").await;
    assert_eq!(view.status, CallStatus::Denied);
    assert_eq!(
        events(&view),
        [
            "CallMade",
            "PaymentApproved",
            "CallPayed",
            "CallDenied",
            "PaymentDisabled"
        ]
    );
    let stores = Stores::open().await;
    assert_eq!(
        stores.payment_status(&call).await,
        Some(PaymentStatus::Disabled)
    );
    assert!(
        stores.catch_row(&call).await.is_none(),
        "an out-of-area call was offered"
    );
    driver_call_tests::replay::check_and_record(&call, "out_of_area").await;
}

#[tokio::test]
async fn cancel_before_payment_ends_the_call_and_charges_nothing() {
    let api = Api::default_limits();
    let call = api.create_call("Nowon station", 12000).await;

    let answer = api.cancel(&call).await;
    assert_eq!(answer.status, 202, "{:?}", answer.body);
    let view = api.wait_for_status(&call, "CANCELLED").await;
    assert_eq!(events(&view), ["CallMade", "CallCancelled"]);
    let stores = Stores::open().await;
    assert!(stores.payment_status(&call).await.is_none());
    // A cancelled call can neither be paid nor cancelled again.
    assert_eq!(api.pay(&call).await.status, 409);
    assert_eq!(api.cancel(&call).await.status, 409);
    driver_call_tests::replay::check_and_record(&call, "cancelled_before_payment").await;
}

#[tokio::test]
async fn cancel_after_dispatch_withdraws_the_offer_and_refunds() {
    let api = Api::default_limits();
    let call = paid_and_dispatched(&api, "Dongjak Noryangjin").await;

    let answer = api
        .customer_of(&call)
        .send(Method::DELETE, &format!("/calls/{}", call.call_id), None)
        .await;
    assert_eq!(answer.status, 202, "{:?}", answer.body);

    let view = api.wait_for_event(&call, "PaymentCancelled").await;
    assert_eq!(view.status, CallStatus::Cancelled);
    let stores = Stores::open().await;
    let id = call.call_id.to_string();
    assert_eq!(
        stores.payment_status(&call).await.unwrap(),
        PaymentStatus::Cancelled
    );
    stores.wait_for_catch(&call, CatchStatus::Withdrawn).await;
    // A withdrawn offer is no longer listed, and nobody can catch the call.
    let offers = api.send(Method::GET, "/catches?area=dongjak", None).await;
    assert!(
        !offers
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["callId"] == id)
    );
    assert_eq!(api.catch(&call, "late-driver").await.status, 409);
    driver_call_tests::replay::check_and_record(&call, "cancelled_after_dispatch").await;
}

#[tokio::test]
async fn cancel_after_the_catch_refunds_and_withdraws_the_catch() {
    let api = Api::default_limits();
    let call = paid_and_dispatched(&api, "Jongro Insadong").await;
    assert_eq!(api.catch(&call, "d-7").await.status, 200);
    assert_eq!(api.trip_step(&call, "arrive", "d-7").await.status, 200);

    assert_eq!(api.cancel(&call).await.status, 202);

    let view = api.wait_for_event(&call, "PaymentCancelled").await;
    assert_eq!(view.status, CallStatus::Cancelled);
    let stores = Stores::open().await;
    assert_eq!(
        stores.payment_status(&call).await.unwrap(),
        PaymentStatus::Cancelled
    );
    stores.wait_for_catch(&call, CatchStatus::Withdrawn).await;
    driver_call_tests::replay::check_and_record(&call, "cancelled_after_catch").await;
}

#[tokio::test]
async fn cancel_is_refused_while_driving_and_the_trip_still_completes() {
    let api = Api::default_limits();
    let call = paid_and_dispatched(&api, "Bundang Jeongja").await;
    assert_eq!(api.catch(&call, "d-9").await.status, 200);
    assert_eq!(api.trip_step(&call, "arrive", "d-9").await.status, 200);
    assert_eq!(api.trip_step(&call, "start", "d-9").await.status, 200);

    let refused = api.cancel(&call).await;
    assert_eq!(refused.status, 409, "{:?}", refused.body);
    assert_eq!(refused.body["status"], 409);
    assert_eq!(api.get_call(&call).await.status, CallStatus::Driving);

    assert_eq!(api.trip_step(&call, "complete", "d-9").await.status, 200);
    api.wait_for_status(&call, "COMPLETED").await;
    // An ended call takes no more steps, whether its workflow is still closing its lanes or gone.
    let again = api.trip_step(&call, "complete", "d-9").await;
    assert_eq!(again.status, 409, "{:?}", again.body);
    let stores = Stores::open().await;
    assert_eq!(
        stores.payment_status(&call).await.unwrap(),
        PaymentStatus::Approved
    );
}

#[tokio::test]
async fn trip_steps_from_another_driver_or_out_of_order_are_refused() {
    let api = Api::default_limits();
    let call = paid_and_dispatched(&api, "Kangnam Yeoksam").await;
    // Until a driver catches the call it is no driver's: a trip step on it is 404, as on a call
    // that does not exist; after the catch it is still not another driver's.
    assert_eq!(
        api.trip_step(&call, "arrive", "d-1").await.status,
        404,
        "arrive before catch"
    );
    assert_eq!(api.catch(&call, "d-1").await.status, 200);
    assert_eq!(
        api.trip_step(&call, "arrive", "d-2").await.status,
        404,
        "another driver"
    );
    assert_eq!(
        api.trip_step(&call, "start", "d-1").await.status,
        409,
        "start before arrive"
    );
    assert_eq!(api.get_call(&call).await.status, CallStatus::Caught);
}

#[tokio::test]
async fn ten_drivers_racing_for_one_call_have_exactly_one_winner() {
    let api = Api::default_limits();
    let call = paid_and_dispatched(&api, "Mapo Sangam").await;

    let attempts = (0..10).map(|i| {
        let api = api.clone();
        let call = call.clone();
        async move { api.catch(&call, &format!("racer-{i}")).await }
    });
    let answers = futures::future::join_all(attempts).await;

    let winners: Vec<_> = answers.iter().filter(|a| a.status == 200).collect();
    let losers = answers.iter().filter(|a| a.status == 409).count();
    assert_eq!(winners.len(), 1, "{answers:?}");
    assert_eq!(losers, 9, "{answers:?}");
    let winner = winners[0].body["driver"]["driverId"]
        .as_str()
        .expect("a driver")
        .to_owned();
    let stores = Stores::open().await;
    let row = stores.wait_for_catch(&call, CatchStatus::Caught).await;
    assert_eq!(row.driver_id.as_deref(), Some(winner.as_str()));
    assert_eq!(
        api.get_call(&call)
            .await
            .driver
            .unwrap()
            .driver_id
            .to_string(),
        winner
    );
}

#[tokio::test]
async fn an_uncaught_call_expires_after_the_dispatch_timeout_and_is_refunded() {
    let api = Api::short_limits();
    let call = api.create_call("Kangnam Sinsa", 9000).await;
    assert_eq!(api.pay(&call).await.status, 200);

    let view = api.wait_for_event(&call, "PaymentCancelled").await;
    assert_eq!(view.status, CallStatus::Expired);
    assert!(events(&view).contains(&"CallExpired".to_owned()));
    let stores = Stores::open().await;
    assert_eq!(
        stores.payment_status(&call).await.unwrap(),
        PaymentStatus::Cancelled
    );
    stores.wait_for_catch(&call, CatchStatus::Withdrawn).await;
    driver_call_tests::replay::check_and_record(&call, "dispatch_expired").await;
}

#[tokio::test]
async fn an_unpaid_call_expires_after_the_payment_window() {
    let api = Api::short_limits();
    let call = api.create_call("Nowon Sanggye", 9000).await;

    let view = api.wait_for_status(&call, "EXPIRED").await;
    assert_eq!(events(&view), ["CallMade", "CallExpired"]);
    assert_eq!(api.pay(&call).await.status, 409);
    let stores = Stores::open().await;
    assert!(stores.payment_status(&call).await.is_none());
    driver_call_tests::replay::check_and_record(&call, "payment_expired").await;
}

#[tokio::test]
async fn deny_sent_with_the_temporal_cli_ends_the_call_denied_and_the_cli_sees_it() {
    let api = Api::default_limits();
    let call = paid_and_dispatched(&api, "Jongro Gwanghwamun").await;
    let workflow_id = format!("call-{}", call.call_id);

    // Signal with the CLI, as an operator would.
    temporal(&[
        "workflow",
        "signal",
        "--workflow-id",
        &workflow_id,
        "--name",
        "deny",
        "--input",
        r#"{"reason":"no drivers tonight"}"#,
    ]);

    let view = api.wait_for_event(&call, "PaymentDisabled").await;
    assert_eq!(view.status, CallStatus::Denied);
    let stores = Stores::open().await;
    let id = call.call_id.to_string();
    assert_eq!(
        stores.payment_status(&call).await.unwrap(),
        PaymentStatus::Disabled
    );
    stores.wait_for_catch(&call, CatchStatus::Denied).await;

    // The CLI's query shows the call view, decoded by the API's codec server for an operator
    // (the payloads are encrypted: docs/privacy.md).
    let token = api.as_operator().token().await.expect("an operator token");
    let queried = temporal(&[
        "workflow",
        "query",
        "--workflow-id",
        &workflow_id,
        "--type",
        "dashboard",
        "-o",
        "json",
        "--codec-endpoint",
        &format!("{}/codec", api.base),
        "--codec-auth",
        &format!("Bearer {token}"),
    ]);
    let queried: Value = serde_json::from_str(&queried).expect("query JSON");
    let result = &queried["queryResult"][0];
    assert_eq!(result["status"], "DENIED", "{queried}");
    assert_eq!(result["callId"], id);

    // And the search attribute finds it (visibility is eventually consistent: poll).
    let query = format!("CallStatus=\"DENIED\" AND WorkflowId=\"{workflow_id}\"");
    eventually(
        Duration::from_secs(20),
        "the CLI list to show the call",
        || async {
            let listed = temporal(&["workflow", "list", "--query", &query, "-o", "json"]);
            listed.contains(&workflow_id).then_some(())
        },
    )
    .await;
    driver_call_tests::replay::check_and_record(&call, "denied").await;
}

#[tokio::test]
async fn bad_requests_get_problem_json_and_change_nothing() {
    let api = Api::default_limits().as_customer("010-1111-2222");
    let client = driver_call_tests::connect(&env().temporal_address)
        .await
        .unwrap();
    let count = || async {
        client
            .count_workflows("WorkflowType = 'DriverCallWorkflow'", Default::default())
            .await
            .unwrap()
            .count()
    };
    let before = count().await;
    let valid = json!({"mobile": "010-1111-2222", "location": "Mapo", "payType": "CARD", "payAmount": 9000});
    let with = |field: &str, value: Value| {
        let mut body = valid.clone();
        body[field] = value;
        body
    };
    let without = |field: &str| {
        let mut body = valid.clone();
        body.as_object_mut().unwrap().remove(field);
        body
    };

    let malformed = api
        .send_raw("/calls", "application/json", "{not json")
        .await;
    assert_eq!(malformed.status, 400);
    let cases = [
        ("missing field", without("location"), 422),
        ("negative amount", with("payAmount", json!(-1)), 422),
        ("non-integer amount", with("payAmount", json!(5000.5)), 422),
        ("amount as text", with("payAmount", json!("5000")), 422),
        ("unknown payType", with("payType", json!("BITCOIN")), 422),
        ("bad mobile", with("mobile", json!("call me")), 422),
        ("empty location", with("location", json!("  ")), 422),
    ];
    for (case, body, status) in cases {
        let answer = api.send(Method::POST, "/calls", Some(body)).await;
        assert_eq!(answer.status, status, "{case}: {:?}", answer.body);
        assert_eq!(
            answer.headers["content-type"], "application/problem+json",
            "{case}"
        );
        assert_eq!(answer.body["status"], status, "{case}");
        assert!(
            answer.body["detail"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{case}"
        );
    }
    let unknown = uuid::Uuid::new_v4();
    for (method, path) in [
        (Method::GET, format!("/calls/{unknown}")),
        (Method::POST, format!("/calls/{unknown}/pay")),
        (Method::POST, format!("/calls/{unknown}/cancel")),
        (Method::GET, "/calls/not-a-uuid".to_owned()),
        (Method::GET, format!("/payments/{unknown}")),
    ] {
        let answer = api.send(method.clone(), &path, None).await;
        assert_eq!(answer.status, 404, "{method} {path}: {:?}", answer.body);
        assert_eq!(answer.headers["content-type"], "application/problem+json");
    }
    let driver = api.as_driver("d-1");
    let unknown_catch = driver
        .send(
            Method::POST,
            &format!("/catches/{unknown}"),
            Some(json!({"driverId": "d", "driverName": "D"})),
        )
        .await;
    assert_eq!(unknown_catch.status, 404);
    for step in ["arrive", "start", "complete"] {
        let unknown_step = driver
            .send(
                Method::POST,
                &format!("/catches/{unknown}/{step}"),
                Some(json!({"driverId": "d"})),
            )
            .await;
        assert_eq!(unknown_step.status, 404, "{step}: {:?}", unknown_step.body);
    }

    assert_eq!(count().await, before, "a bad request started a workflow");
}
