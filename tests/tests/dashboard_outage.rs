//! The projection never holds a call back: with no dashboard worker, 20 calls go through every
//! path; when the worker starts, the read model catches up to every event, in order, once.

use std::time::Instant;

use driver_call_tests::{Api, EnvOptions, Stores, TestEnv, env_with, unique_mobile};
use driver_call_workflows::domain::{CallStatus, CallView};

fn env() -> &'static TestEnv {
    env_with(EnvOptions {
        without_dashboard: true,
        webhook_url: None,
    })
}

/// Takes call `i` down one of five paths and returns it once its saga has run.
async fn run_path(api: &Api, short: &Api, mobile: &str, i: usize) -> CallView {
    match i % 5 {
        0 => {
            let call = api.create_call_for(mobile, "Kangnam", 20000).await;
            assert_eq!(api.pay(&call).await.status, 200);
            api.wait_for_status(&call, "DISPATCHED").await;
            let driver = format!("d-{i}");
            assert_eq!(api.catch(&call, &driver).await.status, 200);
            for step in ["arrive", "start", "complete"] {
                assert_eq!(api.trip_step(&call, step, &driver).await.status, 200);
            }
            call
        }
        1 => {
            let call = api.create_call_for(mobile, "Mapo", 20000).await;
            assert_eq!(api.pay(&call).await.status, 200);
            api.wait_for_status(&call, "DISPATCHED").await;
            assert_eq!(api.cancel(&call).await.status, 202);
            api.wait_for_event(&call, "PaymentCancelled").await;
            call
        }
        2 => {
            let call = api.create_call_for(mobile, "Busan", 20000).await;
            assert_eq!(api.pay(&call).await.status, 200);
            api.wait_for_event(&call, "PaymentDisabled").await;
            call
        }
        3 => {
            let call = api.create_call_for(mobile, "Nowon", 4000).await;
            assert_eq!(api.pay(&call).await.status, 402);
            call
        }
        _ => {
            let call = short.create_call_for(mobile, "Jongro", 9000).await;
            short.wait_for_status(&call, "EXPIRED").await;
            call
        }
    }
}

#[tokio::test]
async fn the_read_model_catches_up_with_every_event_of_20_calls_after_a_dashboard_outage() {
    let api = Api::at(&env().api);
    let short = Api::at(&env().short_api);
    let stores = Stores::open().await;
    let mobile = unique_mobile();

    // The dashboard worker is down: every call still runs its whole saga.
    let runs = (0..20).map(|i| {
        let (api, short, mobile) = (api.clone(), short.clone(), mobile.clone());
        async move { run_path(&api, &short, &mobile, i).await }
    });
    let calls = futures::future::join_all(runs).await;
    for call in &calls {
        let view = api.get_call(call).await;
        assert!(
            view.status.is_terminal() || view.status == CallStatus::Created,
            "{view:?}"
        );
        // No dashboard worker has even created the read model's database.
        let projected = stores.dashboards.timeline(&call.call_id.to_string()).await;
        assert!(
            projected.is_err() || projected.is_ok_and(|p| p.is_empty()),
            "projected without a dashboard worker"
        );
    }

    // It comes back: the read model converges to exactly the workflows' timelines.
    let started = Instant::now();
    let worker = env().start_dashboard_worker();
    for call in &calls {
        let expected = api.get_call(call).await.timeline;
        stores.wait_for_projection(call, &expected).await;
    }
    let caught_up = started.elapsed();
    let listed = api
        .send(
            reqwest::Method::GET,
            &format!("/dashboards?mobile={mobile}&limit=100"),
            None,
        )
        .await;
    assert_eq!(listed.body.as_array().unwrap().len(), 20);
    worker.stop();
    println!("catch-up of 20 calls after the dashboard outage: {caught_up:?}");
}
