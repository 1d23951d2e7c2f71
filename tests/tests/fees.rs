//! Cancellation fees and no-shows end to end (spec section 9), on the environment's second API,
//! whose calls get `CANCEL_GRACE` and `NO_SHOW_WAIT` of `SHORT_GRACE`.

use std::time::{Duration, SystemTime};

use driver_call_tests::{Api, Stores, eventually, unique_mobile};
use driver_call_workflows::contracts::payment::PaymentStatus;
use driver_call_workflows::domain::CallView;
use reqwest::Method;
use serde_json::Value;

/// A call on the short-rules API, paid and caught by `driver`.
async fn caught(api: &Api, location: &str, driver: &str) -> CallView {
    let call = api.create_call_for(&unique_mobile(), location, 20000).await;
    assert_eq!(api.pay(&call).await.status, 200);
    api.wait_for_status(&call, "DISPATCHED").await;
    let answer = api.catch(&call, driver).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    call
}

/// Waits until the clock has passed `instant` (RFC 3339): the rule under test is about time.
async fn until_past(instant: &str) {
    let at = humantime::parse_rfc3339(instant).expect("an RFC 3339 time");
    eventually(Duration::from_secs(30), "the moment to pass", || async {
        (SystemTime::now() > at).then_some(())
    })
    .await;
}

/// The call's payment once its refund has landed with `status`.
async fn payment_with(call: &CallView, status: PaymentStatus) -> Value {
    let stores = Stores::open().await;
    let record = eventually(Duration::from_secs(30), "the refund", || async {
        let found = stores
            .payments
            .find_by_call(&call.call_id.to_string())
            .await;
        found.ok().flatten().filter(|p| p.status == status)
    })
    .await;
    assert_eq!(
        stores.payments_with(call, status).await,
        1,
        "one payment row"
    );
    serde_json::to_value(record).unwrap()
}

#[tokio::test]
async fn a_cancel_within_the_grace_is_refunded_in_full() {
    let api = Api::short_limits();
    let call = caught(&api, "Mapo fee-free", "fee-d1").await;
    let view = api.get_call(&call).await;
    let notice = view.cancellation_fee.expect("the fee notice while CAUGHT");
    assert_eq!(notice.amount.get(), 5000);
    let cancelled = api.cancel(&call).await;
    assert_eq!(cancelled.status, 202);
    assert!(
        cancelled.body.get("cancellationFee").is_none(),
        "{:?}",
        cancelled.body
    );
    let payment = payment_with(&call, PaymentStatus::Cancelled).await;
    assert_eq!(payment["fee"], Value::Null);
}

#[tokio::test]
async fn a_cancel_after_the_grace_keeps_the_fee_and_refunds_the_rest_once() {
    let api = Api::short_limits();
    let call = caught(&api, "Kangnam fee", "fee-d2").await;
    let notice = api
        .get_call(&call)
        .await
        .cancellation_fee
        .expect("a notice");
    until_past(&notice.applies_from).await;

    let cancelled = api.cancel(&call).await;
    assert_eq!(cancelled.status, 202);
    assert_eq!(
        cancelled.body["cancellationFee"]["amount"], 5000,
        "the answer says the fee: {:?}",
        cancelled.body
    );
    let view = api.wait_for_event(&call, "CancellationFeeCharged").await;
    assert_eq!(view.status.as_str(), "CANCELLED");
    let payment = payment_with(&call, PaymentStatus::PartiallyRefunded).await;
    assert_eq!(payment["fee"], 5000);
    assert_eq!(payment["refundedAmount"], 15000);
    // The customer reads the same on their payment.
    let served = api
        .customer_of(&call)
        .send(
            Method::GET,
            &format!("/payments?callId={}", call.call_id),
            None,
        )
        .await;
    assert_eq!(
        served.body["status"], "PARTIALLY_REFUNDED",
        "{:?}",
        served.body
    );
    assert_eq!(served.body["fee"], 5000);
    driver_call_tests::replay::check_and_record(&call, "cancelled_with_fee").await;
}

#[tokio::test]
async fn a_no_show_is_the_arrived_drivers_only_after_the_wait_and_keeps_the_fee() {
    let api = Api::short_limits();
    let call = caught(&api, "Nowon no-show", "fee-d3").await;
    let no_show = |driver: &'static str| {
        let api = api.clone();
        let call = call.clone();
        async move { api.trip_step(&call, "no-show", driver).await }
    };
    assert_eq!(no_show("fee-d3").await.status, 409, "before arriving");
    let arrived = api.trip_step(&call, "arrive", "fee-d3").await;
    assert_eq!(arrived.status, 200, "{:?}", arrived.body);
    assert_eq!(no_show("fee-d3").await.status, 409, "before NO_SHOW_WAIT");
    assert_eq!(no_show("fee-d4").await.status, 404, "another driver");

    let answer = eventually(Duration::from_secs(30), "NO_SHOW_WAIT", || async {
        let answer = no_show("fee-d3").await;
        (answer.status != 409).then_some(answer)
    })
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["status"], "NO_SHOW");

    let view = api.wait_for_event(&call, "CancellationFeeCharged").await;
    assert_eq!(view.status.as_str(), "NO_SHOW");
    let payment = payment_with(&call, PaymentStatus::PartiallyRefunded).await;
    assert_eq!(payment["fee"], 5000);
    // The read model carries the new events to myPage.
    let timeline = eventually(Duration::from_secs(30), "myPage", || async {
        let page = api.my_page(&call).await;
        let events: Vec<String> = page
            .body
            .as_array()?
            .iter()
            .filter_map(|e| e["event"].as_str().map(str::to_owned))
            .collect();
        events
            .iter()
            .any(|e| e == "CancellationFeeCharged")
            .then_some(events)
    })
    .await;
    assert!(timeline.iter().any(|e| e == "NoShow"), "{timeline:?}");
    driver_call_tests::replay::check_and_record(&call, "no_show").await;
}
