//! What the apps read beyond a call (spec sections 8 and 9), over real HTTP against the real
//! stack: a driver's availability, account and day's earnings; the open offers as a stream; and
//! the operations console's counts, search, workers and payment breaker.

use std::time::Duration;

use driver_call_tests::sse::SseReader;
use driver_call_tests::{Api, env, eventually, unique_mobile};
use reqwest::Method;
use serde_json::{Value, json};

/// A driver of their own for each test (registered on first use, serving every test area).
fn driver(name: &str) -> String {
    format!("{name}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// A paid, dispatched call in Kangnam of a new customer.
async fn dispatched_call(api: &Api, fare: i64) -> driver_call_workflows::domain::CallView {
    let call = api
        .create_call_for(&unique_mobile(), "Kangnam ops", fare)
        .await;
    assert_eq!(api.pay(&call).await.status, 200);
    api.wait_for_status(&call, "DISPATCHED").await
}

#[tokio::test]
async fn a_driver_goes_online_and_offline_and_earns_the_fares_of_the_trips_they_complete_today() {
    let api = Api::at(&env().api);
    let username = driver("earner");
    let me = api.as_driver(&username);

    let account = me.send(Method::GET, "/drivers/me", None).await;
    assert_eq!(account.status, 200, "{:?}", account.body);
    assert_eq!(account.body["username"], username.as_str());
    // The harness signs its drivers in as the app does, and so online.
    assert_eq!(account.body["online"], true, "signed in to work");
    for online in [false, true, false, true] {
        let set = me
            .send(
                Method::PUT,
                "/drivers/me/availability",
                Some(json!({ "online": online })),
            )
            .await;
        assert_eq!(set.body, json!({ "online": online }));
        let read = me.send(Method::GET, "/drivers/me", None).await;
        assert_eq!(read.body["online"], online);
    }
    let bad = me
        .send(
            Method::PUT,
            "/drivers/me/availability",
            Some(json!({ "online": "yes" })),
        )
        .await;
    assert_eq!(bad.status, 422, "{:?}", bad.body);
    assert_eq!(
        me.send(Method::GET, "/drivers/me", None).await.body["online"],
        true,
        "a bad request changes nothing"
    );

    let before = me.send(Method::GET, "/drivers/me/earnings", None).await;
    assert_eq!(before.status, 200, "{:?}", before.body);
    assert_eq!(before.body["total"], 0);
    let call = dispatched_call(&api, 17000).await;
    assert_eq!(api.catch(&call, &username).await.status, 200);
    // The customer sees the driver's number masked.
    let seen = api.get_call(&call).await;
    let shown = seen.driver.expect("a driver").driver_mobile;
    assert_eq!(shown.as_deref(), Some("010-****-0000"));
    for step in ["arrive", "start"] {
        assert_eq!(api.trip_step(&call, step, &username).await.status, 200);
    }
    let earned = |body: &Value| body["total"].as_i64() == Some(17000);
    let not_yet = me.send(Method::GET, "/drivers/me/earnings", None).await;
    assert!(!earned(&not_yet.body), "a trip counts once completed");
    assert_eq!(
        api.trip_step(&call, "complete", &username).await.status,
        200
    );
    let today = eventually(Duration::from_secs(30), "the trip to be earned", || async {
        let answer = me.send(Method::GET, "/drivers/me/earnings", None).await;
        earned(&answer.body).then_some(answer.body)
    })
    .await;
    assert_eq!(today["trips"][0]["callId"], call.call_id.to_string());
    assert_eq!(today["trips"].as_array().map(Vec::len), Some(1));
    let day = today["day"].as_str().expect("a day");
    assert_eq!(day.len(), 10, "YYYY-MM-DD: {day}");
}

#[tokio::test]
async fn the_offers_stream_shows_an_offer_when_it_opens_and_drops_it_once_caught() {
    let api = Api::at(&env().api);
    let watcher = api.as_driver(&driver("watcher"));
    let token = watcher.token().await.expect("a token");
    let url = format!("{}/catches/events?area=kangnam", api.base);
    let http = reqwest::Client::new();
    let response = http.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let mut offers = SseReader::new(response);
    let first = offers.next().await;
    assert_eq!(first.event, "offers", "the list comes at once");

    let call = dispatched_call(&api, 15000).await;
    let id = call.call_id.to_string();
    let listed = |event: &driver_call_tests::sse::Sse| {
        event.data.as_array().is_some_and(|list| {
            list.iter()
                .any(|offer| offer["callId"].as_str() == Some(id.as_str()))
        })
    };
    let open = offers.until(|e| listed(e)).await;
    assert_eq!(open.event, "offers");
    assert_eq!(api.catch(&call, &driver("winner")).await.status, 200);
    let gone = offers.until(|e| !listed(e)).await;
    assert_ne!(gone.id, open.id, "another list, another id");

    // A client that saw an older list gets the current one at once on reconnecting.
    let again = http
        .get(&url)
        .bearer_auth(&token)
        .header("Last-Event-ID", &open.id)
        .send()
        .await
        .unwrap();
    let current = SseReader::new(again).next().await;
    assert!(!listed(&current), "the caught offer is not offered again");
}

#[tokio::test]
async fn the_operations_console_counts_searches_and_sees_the_workers_and_the_breaker() {
    let api = Api::at(&env().api);
    let ops = api.as_operator();
    let call = dispatched_call(&api, 15000).await;
    let id = call.call_id.to_string();

    let counts = eventually(Duration::from_secs(30), "the counts", || async {
        let answer = ops.send(Method::GET, "/dashboards/counts", None).await;
        let dispatched = answer
            .body
            .as_array()?
            .iter()
            .find(|c| c["status"] == "DISPATCHED")?["count"]
            .as_i64()?;
        (dispatched >= 1).then_some(answer.body)
    })
    .await;
    assert_eq!(
        counts.as_array().map(Vec::len),
        Some(12),
        "every status: {counts}"
    );

    // Found by its customer, its status and its area, linked to its workflow in the Web UI.
    let mobile = call.mobile.as_ref();
    for query in [
        format!("mobile={mobile}"),
        format!("mobile={mobile}&status=DISPATCHED&area=kangnam"),
    ] {
        let found = eventually(
            Duration::from_secs(30),
            "the call in the search",
            || async {
                let answer = ops
                    .send(Method::GET, &format!("/calls?{query}"), None)
                    .await;
                let rows = answer.body.as_array()?.clone();
                rows.into_iter().find(|row| row["callId"] == id.as_str())
            },
        )
        .await;
        assert_eq!(found["status"], "DISPATCHED");
        assert_eq!(found["area"], "kangnam");
        let link = found["workflowUrl"].as_str().expect("a link");
        assert!(
            link.ends_with(&format!("/namespaces/default/workflows/call-{id}")),
            "{link}"
        );
    }
    let elsewhere = ops
        .send(
            Method::GET,
            &format!("/calls?mobile={mobile}&area=mapo"),
            None,
        )
        .await;
    assert_eq!(elsewhere.body, json!([]));
    for bad in ["status=LOST", "driverId=a'b", "mobile=x"] {
        let answer = ops.send(Method::GET, &format!("/calls?{bad}"), None).await;
        assert_eq!(answer.status, 422, "{bad}: {:?}", answer.body);
    }

    // Every customer's calls, newest first, for operators only.
    let everyone = ops.send(Method::GET, "/dashboards?limit=100", None).await;
    assert_eq!(everyone.status, 200, "{:?}", everyone.body);

    let status = eventually(Duration::from_secs(30), "the breaker's report", || async {
        let answer = ops.send(Method::GET, "/operations/status", None).await;
        let reported = answer.body["paymentCircuits"].as_array()?.len();
        (reported > 0).then_some(answer.body)
    })
    .await;
    assert_eq!(status["paymentCircuits"][0]["circuit"], "closed");
    let queues: Vec<&str> = status["taskQueues"]
        .as_array()
        .expect("queues")
        .iter()
        .filter(|q| q["pollers"].as_array().is_some_and(|p| !p.is_empty()))
        .filter_map(|q| q["taskQueue"].as_str())
        .collect();
    assert_eq!(queues, ["driver-call", "payment", "catcher", "dashboard"]);
}
