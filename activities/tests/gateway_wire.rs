//! The payment context's HTTP gateway and the payment sandbox agree on the wire: each has its own
//! types, so this drives the real `HttpGateway` against the real sandbox over loopback HTTP.

use std::time::Duration;

use driver_call_activities::payment::{
    ChargeRequest, ChargeStatus, GatewayError, HttpGateway, PaymentGateway,
};
use driver_call_workflows::domain::Krw;

async fn sandbox() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, driver_call_sandbox::app()).await });
    format!("http://{address}")
}

fn charge(call_id: &str, amount: i64) -> ChargeRequest {
    ChargeRequest {
        idempotency_key: format!("payment:{call_id}"),
        call_id: call_id.to_owned(),
        mobile: "01012345678".to_owned(),
        pay_type: "CARD".to_owned(),
        amount,
    }
}

#[tokio::test]
async fn a_charge_is_taken_once_by_key_refunded_by_key_and_listed_by_the_sandbox() {
    let base = sandbox().await;
    let gateway = HttpGateway::new(&base, Duration::from_secs(5)).unwrap();
    let call_id = uuid::Uuid::new_v4().to_string();

    let first = gateway.charge(&charge(&call_id, 12000)).await.unwrap();
    let again = gateway.charge(&charge(&call_id, 12000)).await.unwrap();
    assert_eq!(first.status, ChargeStatus::Charged);
    assert_eq!(
        again.charge_id, first.charge_id,
        "charged twice under one key"
    );
    assert_eq!(first.request, charge(&call_id, 12000));

    let listed: Vec<driver_call_sandbox::GatewayCharge> =
        reqwest::get(format!("{base}/charges?callId={call_id}"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].charge_id, first.charge_id);
    assert_eq!(listed[0].request.amount, 12000);
    assert_eq!(listed[0].status, driver_call_sandbox::ChargeStatus::Charged);

    let key = format!("payment:{call_id}");
    let refunded = gateway.refund(&key, None).await.unwrap();
    let refunded = refunded.expect("the sandbox held the charge");
    assert_eq!(refunded.charge_id, first.charge_id);
    assert_eq!(refunded.status, ChargeStatus::Refunded);
    assert_eq!(refunded.refunded_amount, Some(12000));
    // A refunded key is never charged anew.
    let recharged = gateway.charge(&charge(&call_id, 12000)).await;
    assert!(
        matches!(recharged, Err(GatewayError::Declined(_))),
        "{recharged:?}"
    );
}

#[tokio::test]
async fn a_decline_an_unknown_key_and_an_outage_each_read_as_what_they_are() {
    let base = sandbox().await;
    let gateway = HttpGateway::new(&base, Duration::from_secs(5)).unwrap();
    let over_limit = charge(
        &uuid::Uuid::new_v4().to_string(),
        driver_call_sandbox::CARD_LIMIT + 1,
    );
    let declined = gateway.charge(&over_limit).await;
    assert!(
        matches!(declined, Err(GatewayError::Declined(_))),
        "{declined:?}"
    );
    let nothing = gateway.refund("payment:never-charged", None).await.unwrap();
    assert_eq!(nothing, None);

    let client = reqwest::Client::new();
    let failing = client
        .put(format!("{base}/sandbox/mode"))
        .json(&serde_json::json!({"mode": "failing"}))
        .send()
        .await
        .unwrap();
    assert!(failing.status().is_success());
    let down = gateway.charge(&charge("down", 9000)).await;
    let Err(error) = down else {
        panic!("charged while failing: {down:?}")
    };
    assert!(error.is_outage(), "{error:?}");
}

#[tokio::test]
async fn a_partial_refund_gives_back_the_amount_once_by_key_and_the_sandbox_lists_it() {
    // Arrange
    let base = sandbox().await;
    let gateway = HttpGateway::new(&base, Duration::from_secs(5)).unwrap();
    let call_id = uuid::Uuid::new_v4().to_string();
    let key = format!("payment:{call_id}");
    let charged = gateway.charge(&charge(&call_id, 15000)).await.unwrap();

    // Act
    let part = Some(Krw::new(10000).unwrap());
    let first = gateway.refund(&key, part).await.unwrap().expect("held");
    let repeat = gateway.refund(&key, part).await.unwrap().expect("held");
    let whole = gateway.refund(&key, None).await.unwrap().expect("held");

    // Assert
    assert_eq!(first.charge_id, charged.charge_id);
    assert_eq!(first.status, ChargeStatus::PartiallyRefunded);
    assert_eq!(first.refunded_amount, Some(10000));
    assert_eq!(repeat, first, "a repeat gave more back");
    assert_eq!(whole, first, "a later refund of the key gave more back");
    let listed: Vec<driver_call_sandbox::GatewayCharge> =
        reqwest::get(format!("{base}/charges?callId={call_id}"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].status,
        driver_call_sandbox::ChargeStatus::PartiallyRefunded
    );
    assert_eq!(listed[0].refunded_amount, Some(10000));
    // A partly refunded key is never charged anew either.
    let recharged = gateway.charge(&charge(&call_id, 15000)).await;
    assert!(
        matches!(recharged, Err(GatewayError::Declined(_))),
        "{recharged:?}"
    );
}
