//! Quoted fares end to end (spec section 9, "Quote"): a customer is quoted a fare from the
//! tariff, makes the call with the quote (and a tip), and pre-pays exactly the fare plus the tip;
//! a quote is the customer's own, used once and only while it is valid.

use std::time::{Duration, SystemTime};

use driver_call_stores::QuoteStore;
use driver_call_stores::quote::NewQuote;
use driver_call_tests::{Api, Stores, env, unique_mobile};
use reqwest::Method;
use serde_json::{Value, json};

/// `POST /quotes` as `customer`.
async fn quote(customer: &Api, location: &str, destination: &str) -> driver_call_tests::Answer {
    customer
        .send(
            Method::POST,
            "/quotes",
            Some(json!({"location": location, "destination": destination})),
        )
        .await
}

/// `POST /calls` with `quoteId` (and `tip`) as `customer`.
async fn call_with(customer: &Api, quote_id: &str, tip: Option<i64>) -> driver_call_tests::Answer {
    let mut body = json!({"quoteId": quote_id, "payType": "CARD"});
    if let Some(tip) = tip {
        body["tip"] = json!(tip);
    }
    customer.send(Method::POST, "/calls", Some(body)).await
}

#[tokio::test]
async fn a_call_made_with_a_quote_pre_pays_exactly_the_fare_plus_the_tip() {
    let api = Api::default_limits();
    let customer = api.as_customer(&unique_mobile());
    let quoted = quote(&customer, "Seoul station exit 1", "Kangnam station").await;
    assert_eq!(quoted.status, 201, "{:?}", quoted.body);
    let fare = quoted.body["fare"].as_i64().expect("a fare");
    let breakdown = quoted.body["breakdown"].as_array().expect("a breakdown");
    let items: i64 = breakdown
        .iter()
        .map(|i| i["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(items, fare, "the breakdown adds up to the fare");
    assert_eq!(fare % 1000, 0, "rounded to 1000 KRW");
    assert!(quoted.body["expiresAt"].is_string());
    let quote_id = quoted.body["quoteId"].as_str().unwrap();

    let created = call_with(&customer, quote_id, Some(2000)).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let call = created.view();
    assert_eq!(call.pay_amount.get(), fare + 2000);
    assert_eq!(call.location.as_ref(), "Seoul station exit 1");
    assert_eq!(call.destination.as_deref(), Some("Kangnam station"));
    let accepted = call.quote.clone().expect("the quote on the view");
    assert_eq!(accepted.fare.get(), fare);
    assert_eq!(accepted.tip.get(), 2000);
    assert_eq!(accepted.breakdown.len(), breakdown.len());

    assert_eq!(api.pay(&call).await.status, 200);
    let view = api.wait_for_event(&call, "QuoteAccepted").await;
    assert_eq!(view.timeline[1].event.as_str(), "QuoteAccepted");
    let payment = Stores::open()
        .await
        .payments
        .find_by_call(&call.call_id.to_string())
        .await
        .unwrap()
        .expect("a payment");
    assert_eq!(
        payment.pay_amount,
        fare + 2000,
        "charged the fare plus the tip"
    );
}

#[tokio::test]
async fn a_used_an_unknown_another_customers_or_an_expired_quote_is_422_and_starts_nothing() {
    let api = Api::default_limits();
    let customer = api.as_customer(&unique_mobile());
    let quoted = quote(&customer, "Hongdae", "Jamsil").await;
    assert_eq!(quoted.status, 201, "{:?}", quoted.body);
    let quote_id = quoted.body["quoteId"].as_str().unwrap().to_owned();

    // Another customer's quote is as unknown as one that does not exist.
    let stranger = api.as_customer(&unique_mobile());
    for id in [quote_id.as_str(), "quote-that-never-was"] {
        let refused = call_with(&stranger, id, None).await;
        assert_eq!(refused.status, 422, "{id}: {:?}", refused.body);
    }
    // Used once: the second call with it is refused.
    assert_eq!(call_with(&customer, &quote_id, None).await.status, 201);
    let again = call_with(&customer, &quote_id, None).await;
    assert_eq!(again.status, 422, "{:?}", again.body);
    assert!(
        again.body["detail"]
            .as_str()
            .unwrap()
            .contains("already used"),
        "{:?}",
        again.body
    );
    // A body that disagrees with its quote is refused too.
    let other = quote(&customer, "Hongdae", "Jamsil").await;
    let other_id = other.body["quoteId"].as_str().unwrap();
    let wrong_amount = customer
        .send(
            Method::POST,
            "/calls",
            Some(json!({"quoteId": other_id, "payType": "CARD", "payAmount": 5000})),
        )
        .await;
    assert_eq!(wrong_amount.status, 422, "{:?}", wrong_amount.body);

    // Expired: a quote whose ten minutes are over, as the quote store holds it.
    let mobile = customer.person().clone();
    let driver_call_tests::Person::Customer(digits) = mobile else {
        unreachable!()
    };
    let quotes = QuoteStore::connect(&env().workers.stores.quote_database_url())
        .await
        .unwrap();
    let now = SystemTime::now();
    quotes
        .save(&NewQuote {
            quote_id: "quote-expired",
            mobile: &digits,
            location: "Hongdae",
            destination: "Jamsil",
            fare: 30000,
            breakdown: r#"[{"item":"base","amount":30000}]"#,
            created_at: now - Duration::from_secs(700),
            expires_at: now - Duration::from_secs(100),
        })
        .await
        .unwrap();
    let expired = call_with(&customer, "quote-expired", None).await;
    assert_eq!(expired.status, 422, "{:?}", expired.body);
    assert!(expired.body["detail"].as_str().unwrap().contains("expired"));

    // Only the one call was made: the customer's myPage lists it alone.
    let listed = driver_call_tests::eventually(Duration::from_secs(30), "myPage", || async {
        let page = customer.send(Method::GET, "/dashboards", None).await;
        (page.body.as_array().is_some_and(|c| !c.is_empty())).then_some(page.body)
    })
    .await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
}

#[tokio::test]
async fn an_unknown_place_is_422_naming_the_places_the_tariff_knows() {
    let api = Api::default_limits();
    let customer = api.as_customer(&unique_mobile());
    let refused = quote(&customer, "Atlantis harbour", "Kangnam").await;
    assert_eq!(refused.status, 422, "{:?}", refused.body);
    let detail = refused.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("Atlantis"), "{detail}");
    assert!(
        detail.contains("Kangnam") && detail.contains("Mapo"),
        "{detail}"
    );
    // Only customers are quoted.
    let as_operator = quote(&api.as_operator(), "Mapo", "Kangnam").await;
    assert_eq!(as_operator.status, 403);
}

#[tokio::test]
async fn a_call_without_a_quote_still_pays_the_amount_it_names() {
    let api = Api::default_limits();
    let call = api
        .create_call_for(&unique_mobile(), "Mapo Hapjeong", 17000)
        .await;
    assert!(call.quote.is_none());
    assert_eq!(api.pay(&call).await.status, 200);
    let view: Value = api
        .customer_of(&call)
        .send(Method::GET, &format!("/calls/{}", call.call_id), None)
        .await
        .body;
    assert_eq!(view["payAmount"], 17000);
    assert!(view.get("quote").is_none(), "{view}");
}
