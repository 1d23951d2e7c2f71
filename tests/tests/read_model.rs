//! The myPage read model (CQRS), its server-sent events and its webhooks, end to end.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use driver_call_api::TOKEN_COOKIE;
use driver_call_tests::sse::{Sse, read_events};
use driver_call_tests::{
    Api, COMPLETED_TIMELINE, EnvOptions, Stores, TestEnv, env_with, eventually, unique_mobile,
};
use driver_call_workflows::domain::{CallView, TimelineEvent};
use reqwest::Method;
use serde_json::Value;

/// Attempts the webhook receiver refuses for each event before accepting it.
const REFUSED_ATTEMPTS: usize = 2;

/// A webhook receiver that refuses each event's first attempts, and records what it accepted.
#[derive(Default)]
struct Receiver {
    attempts: HashMap<String, usize>,
    accepted: Vec<(String, Value)>,
}

fn receiver() -> &'static (Arc<Mutex<Receiver>>, String) {
    static RECEIVER: OnceLock<(Arc<Mutex<Receiver>>, String)> = OnceLock::new();
    RECEIVER.get_or_init(|| {
        let state = Arc::new(Mutex::new(Receiver::default()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let shared = state.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let app = axum::Router::new().route(
                    "/hook",
                    axum::routing::post(move |headers: HeaderMap, body: axum::Json<Value>| {
                        let shared = shared.clone();
                        async move {
                            let key = headers["idempotency-key"].to_str().unwrap().to_owned();
                            let mut receiver = shared.lock().unwrap();
                            let attempts = receiver.attempts.entry(key.clone()).or_default();
                            *attempts += 1;
                            if *attempts <= REFUSED_ATTEMPTS {
                                return StatusCode::SERVICE_UNAVAILABLE;
                            }
                            receiver.accepted.push((key, body.0));
                            StatusCode::OK
                        }
                    }),
                );
                listener.set_nonblocking(true).unwrap();
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        (state, url)
    })
}

fn env() -> &'static TestEnv {
    let url = receiver().1.clone();
    env_with(EnvOptions {
        without_dashboard: false,
        webhook_url: Some(url),
    })
}

fn names(timeline: &[TimelineEvent]) -> Vec<&'static str> {
    timeline.iter().map(|e| e.event.as_str()).collect()
}

/// Polls until the read model's timeline of the call equals the workflow's `dashboard` query.
async fn read_model_matches_workflow(
    api: &Api,
    stores: &Stores,
    call: &CallView,
) -> Vec<TimelineEvent> {
    eventually(
        Duration::from_secs(30),
        "the read model to match the workflow",
        || async {
            let view = api.get_call(call).await;
            let projected = stores
                .dashboards
                .timeline(&call.call_id.to_string())
                .await
                .unwrap();
            (projected == view.timeline).then_some(projected)
        },
    )
    .await
}

async fn complete_trip(api: &Api, call: &CallView, driver: &str) {
    assert_eq!(api.pay(call).await.status, 200);
    api.wait_for_status(call, "DISPATCHED").await;
    assert_eq!(api.catch(call, driver).await.status, 200);
    for step in ["arrive", "start", "complete"] {
        assert_eq!(
            api.trip_step(call, step, driver).await.status,
            200,
            "{step}"
        );
    }
}

#[tokio::test]
async fn every_path_leaves_in_the_read_model_exactly_the_timeline_the_workflow_shows() {
    let api = Api::at(&env().api);
    let short = Api::at(&env().short_api);
    let stores = Stores::open().await;
    let mobile = unique_mobile();

    let completed = api.create_call_for(&mobile, "Kangnam", 20000).await;
    complete_trip(&api, &completed, "d-1").await;
    let cancelled = api.create_call_for(&mobile, "Mapo", 20000).await;
    assert_eq!(api.pay(&cancelled).await.status, 200);
    api.wait_for_status(&cancelled, "DISPATCHED").await;
    assert_eq!(api.cancel(&cancelled).await.status, 202);
    api.wait_for_event(&cancelled, "PaymentCancelled").await;
    let denied = api.create_call_for(&mobile, "Busan", 20000).await;
    assert_eq!(api.pay(&denied).await.status, 200);
    api.wait_for_event(&denied, "PaymentDisabled").await;
    let rejected = api.create_call_for(&mobile, "Nowon", 4000).await;
    assert_eq!(api.pay(&rejected).await.status, 402);
    let expired = short.create_call_for(&mobile, "Jongro", 9000).await;
    short.wait_for_status(&expired, "EXPIRED").await;

    let expectations: [(&CallView, &[&str]); 5] = [
        (&completed, &COMPLETED_TIMELINE),
        (
            &cancelled,
            &[
                "CallMade",
                "PaymentApproved",
                "CallPayed",
                "CallReceived",
                "CallCancelled",
                "PaymentCancelled",
            ],
        ),
        (
            &denied,
            &[
                "CallMade",
                "PaymentApproved",
                "CallPayed",
                "CallDenied",
                "PaymentDisabled",
            ],
        ),
        (&rejected, &["CallMade", "PaymentRejected"]),
        (&expired, &["CallMade", "CallExpired"]),
    ];
    for (call, expected) in expectations {
        let projected = read_model_matches_workflow(&api, &stores, call).await;
        assert_eq!(names(&projected), expected, "{}", call.call_id);
        let my_page = api.my_page(call).await;
        assert_eq!(my_page.status, 200);
        let served: Vec<TimelineEvent> = serde_json::from_value(my_page.body).unwrap();
        assert_eq!(served, projected);
    }

    // The customer's list: every call, newest first, with its current status, page by page.
    let first = api
        .send(
            Method::GET,
            &format!("/dashboards?mobile={mobile}&limit=3"),
            None,
        )
        .await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let link = first.headers["link"].to_str().unwrap().to_owned();
    let next = link
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_owned();
    let second = api.send(Method::GET, &next, None).await;
    assert_eq!(second.status, 200, "{:?}", second.body);
    assert!(!second.headers.contains_key("link"), "a third page");
    let listed: Vec<Value> = [first.body, second.body]
        .into_iter()
        .flat_map(|page| page.as_array().unwrap().clone())
        .collect();
    let ids: Vec<String> = listed
        .iter()
        .map(|c| c["callId"].as_str().unwrap().to_owned())
        .collect();
    let newest_first: Vec<String> = [&expired, &rejected, &denied, &cancelled, &completed]
        .iter()
        .map(|c| c.call_id.to_string())
        .collect();
    assert_eq!(ids, newest_first);
    let statuses: Vec<&str> = listed
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "EXPIRED",
            "PAYMENT_REJECTED",
            "DENIED",
            "CANCELLED",
            "COMPLETED"
        ]
    );
}

#[tokio::test]
async fn an_sse_client_sees_every_status_change_in_order_and_resumes_with_last_event_id() {
    let api = Api::at(&env().api);
    let stores = Stores::open().await;
    let mobile = unique_mobile();
    let call = api.create_call_for(&mobile, "Dongjak", 15000).await;
    let http = reqwest::Client::new();
    let url = format!("{}/calls/{}/events", api.base, call.call_id);
    let token = api.customer_of(&call).token().await.expect("a token");

    // Connected from the start: CallMade, then the payment's three events.
    let stream = http.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let paid_at = std::time::Instant::now();
    assert_eq!(api.pay(&call).await.status, 200);
    let before = read_events(stream, 3).await; // disconnects here
    println!(
        "from the pay answer to its events on the SSE stream: {:?}",
        paid_at.elapsed()
    );

    // The trip goes on while the client is away.
    api.wait_for_status(&call, "DISPATCHED").await;
    assert_eq!(api.catch(&call, "d-5").await.status, 200);
    for step in ["arrive", "start", "complete"] {
        assert_eq!(api.trip_step(&call, step, "d-5").await.status, 200);
    }
    let timeline = read_model_matches_workflow(&api, &stores, &call).await;

    // Resumed the way a browser's EventSource does it: the sign-in cookie, no header.
    let last = before.last().unwrap().id.clone();
    let resumed = http
        .get(&url)
        .header("Cookie", format!("{TOKEN_COOKIE}={token}"))
        .header("Last-Event-ID", &last)
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), 200);
    let after = read_events(resumed, timeline.len() - before.len()).await;

    let seen: Vec<Sse> = before.into_iter().chain(after).collect();
    let ids: Vec<String> = seen.iter().map(|e| e.id.clone()).collect();
    let expected_ids: Vec<String> = timeline.iter().map(|e| e.seq.to_string()).collect();
    assert_eq!(ids, expected_ids, "every event exactly once, in order");
    let events: Vec<&str> = seen.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(events, names(&timeline));
    assert_eq!(seen.last().unwrap().data["status"], "COMPLETED");

    // The customer's own stream is theirs to open; nobody else's, and not without signing in.
    let customer = http
        .get(format!("{}/dashboards/events", api.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(customer.status(), 200);
    let another = http
        .get(format!(
            "{}/dashboards/events?mobile=010-1234-5678",
            api.base
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(another.status(), 404);
    let anonymous = http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn a_webhook_that_refuses_first_attempts_still_gets_every_event_exactly_once_per_id() {
    let api = Api::at(&env().api);
    let stores = Stores::open().await;
    let call = api.create_call("Bundang", 18000).await;
    complete_trip(&api, &call, "d-8").await;
    let timeline = read_model_matches_workflow(&api, &stores, &call).await;

    let prefix = format!("{}:", call.call_id);
    let accepted = eventually(
        Duration::from_secs(60),
        "every event at the webhook",
        || async {
            let receiver = receiver().0.lock().unwrap();
            let keys: Vec<String> = receiver
                .accepted
                .iter()
                .filter(|(key, _)| key.starts_with(&prefix))
                .map(|(key, _)| key.clone())
                .collect();
            (keys.len() >= timeline.len()).then_some(keys)
        },
    )
    .await;

    let expected: Vec<String> = timeline
        .iter()
        .map(|e| format!("{prefix}{}", e.seq))
        .collect();
    assert_eq!(accepted, expected, "once per id, in order");
    let receiver = receiver().0.lock().unwrap();
    for key in &expected {
        assert_eq!(
            receiver.attempts[key],
            REFUSED_ATTEMPTS + 1,
            "{key} was retried until accepted"
        );
    }
    let last = &receiver
        .accepted
        .iter()
        .rfind(|(k, _)| k.starts_with(&prefix))
        .unwrap()
        .1;
    assert_eq!(last["event"], "TripCompleted");
    assert_eq!(last["callId"], call.call_id.to_string());
}

#[tokio::test]
async fn a_no_show_and_its_fee_reach_the_read_model_the_stream_and_the_webhook() {
    // The second API's calls wait `SHORT_GRACE` before a no-show is allowed.
    let api = Api::at(&env().short_api);
    let stores = Stores::open().await;
    let call = api
        .create_call_for(&unique_mobile(), "Jongro no-show", 16000)
        .await;
    assert_eq!(api.pay(&call).await.status, 200);
    api.wait_for_status(&call, "DISPATCHED").await;
    assert_eq!(api.catch(&call, "d-ns").await.status, 200);
    assert_eq!(api.trip_step(&call, "arrive", "d-ns").await.status, 200);
    let answer = eventually(Duration::from_secs(30), "NO_SHOW_WAIT", || async {
        let answer = api.trip_step(&call, "no-show", "d-ns").await;
        (answer.status != 409).then_some(answer)
    })
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    api.wait_for_event(&call, "CancellationFeeCharged").await;
    let timeline = read_model_matches_workflow(&api, &stores, &call).await;
    let events = names(&timeline);
    assert!(events.contains(&"NoShow") && events.contains(&"CancellationFeeCharged"));

    // The call's stream, from its start.
    let token = api.customer_of(&call).token().await.expect("a token");
    let stream = reqwest::Client::new()
        .get(format!("{}/calls/{}/events", api.base, call.call_id))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let streamed: Vec<String> = read_events(stream, timeline.len())
        .await
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(streamed, events);
    assert!(streamed.iter().any(|e| e == "NoShow"));

    // And the webhook, once per event.
    let prefix = format!("{}:", call.call_id);
    let delivered = eventually(Duration::from_secs(60), "the webhook", || async {
        let receiver = receiver().0.lock().unwrap();
        let events: Vec<String> = receiver
            .accepted
            .iter()
            .filter(|(key, _)| key.starts_with(&prefix))
            .filter_map(|(_, body)| body["event"].as_str().map(str::to_owned))
            .collect();
        (events.len() >= timeline.len()).then_some(events)
    })
    .await;
    assert_eq!(delivered, events);
}
