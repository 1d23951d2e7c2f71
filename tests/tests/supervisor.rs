//! The embedded default heals itself: under `scripts/supervise` (what `scripts/up` runs), a
//! worker or API killed with `kill -9` is restarted and every call in flight completes; a Temporal
//! server killed under load is restarted and no driver's trip step fails.

use std::time::Duration;

use driver_call_tests::supervisor::{Program, Supervised};
use driver_call_tests::{Api, unique_mobile};
use driver_call_workflows::domain::{CallStatus, CallView};

/// Both tests start a whole system on two cores: one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `count` calls of one customer, paid and offered to drivers.
async fn dispatched_calls(api: &Api, count: usize) -> Vec<CallView> {
    let mobile = unique_mobile();
    let mut calls = Vec::new();
    for _ in 0..count {
        let call = api.create_call_for(&mobile, "Mapo", 12000).await;
        assert_eq!(api.pay(&call).await.status, 200);
        calls.push(api.wait_for_status(&call, "DISPATCHED").await);
    }
    calls
}

async fn step(api: &Api, call: &CallView, step: &str, driver: &str) {
    let answer = api.trip_step(call, step, driver).await;
    assert_eq!(
        answer.status, 200,
        "{step} of {}: {}",
        call.call_id, answer.body
    );
}

#[tokio::test]
async fn a_killed_worker_and_then_a_killed_api_are_restarted_and_every_call_in_flight_completes() {
    let _one = ONE_AT_A_TIME.lock().await;
    let system = Supervised::start("kill").await;
    let api = system.api.clone();
    let calls = dispatched_calls(&api, 4).await;
    for (call, driver) in calls.iter().zip(["d-1", "d-2"]) {
        assert_eq!(api.catch(call, driver).await.status, 200);
    }

    let (old, new) = system.kill_and_wait_for_restart(Program::Worker).await;
    assert_ne!(old, new);
    system.wait_ready().await;
    // The calls caught before the crash go on; the others are caught on the new worker.
    step(&api, &calls[0], "arrive", "d-1").await;
    step(&api, &calls[1], "arrive", "d-2").await;
    assert_eq!(api.catch(&calls[2], "d-3").await.status, 200);

    system.kill_and_wait_for_restart(Program::Api).await;
    system.wait_ready().await;
    assert_eq!(api.catch(&calls[3], "d-4").await.status, 200);
    step(&api, &calls[2], "arrive", "d-3").await;
    step(&api, &calls[3], "arrive", "d-4").await;
    for (call, driver) in calls.iter().zip(["d-1", "d-2", "d-3", "d-4"]) {
        step(&api, call, "start", driver).await;
        step(&api, call, "complete", driver).await;
        assert_eq!(api.get_call(call).await.status, CallStatus::Completed);
    }

    let log = system.log();
    assert!(
        log.contains("exited: worker (terminated by SIGKILL; not expected)"),
        "{log}"
    );
    assert!(
        log.contains("exited: api (terminated by SIGKILL; not expected)"),
        "{log}"
    );
    assert_eq!(log.matches("spawned: 'worker'").count(), 2, "{log}");
    let stopped = system.stop(Duration::from_secs(60)).await;
    assert!(stopped.success(), "the supervisor exited {stopped:?}");
}

#[tokio::test]
async fn a_temporal_server_killed_under_load_is_restarted_and_no_trip_step_fails() {
    let _one = ONE_AT_A_TIME.lock().await;
    let system = Supervised::start("temporal").await;
    let api = system.api.clone();
    let calls = dispatched_calls(&api, 10).await;
    let drivers: Vec<String> = (0..calls.len()).map(|i| format!("d-{i}")).collect();
    for (call, driver) in calls.iter().zip(&drivers) {
        assert_eq!(api.catch(call, driver).await.status, 200);
    }

    // Every driver runs their trip at once; the server dies as soon as the first step has been
    // answered, so the rest of the steps meet the outage.
    let first_answered = tokio::sync::Notify::new();
    let trips = calls.iter().zip(&drivers).map(|(call, driver)| {
        let (api, first_answered) = (api.clone(), &first_answered);
        async move {
            let mut answers = Vec::new();
            for name in ["arrive", "start", "complete"] {
                let answer = api.trip_step(call, name, driver).await;
                first_answered.notify_one();
                answers.push((name, answer.status, answer.body.to_string()));
            }
            answers
        }
    });
    let killing = async {
        first_answered.notified().await;
        system.kill_and_wait_for_restart(Program::Temporal).await
    };
    let (answers, _) = tokio::join!(futures::future::join_all(trips), killing);

    let failed: Vec<_> = answers
        .iter()
        .flatten()
        .filter(|(_, status, _)| *status != 200)
        .collect();
    assert!(
        failed.is_empty(),
        "trip steps failed across the restart: {failed:?}"
    );
    for call in &calls {
        assert_eq!(api.get_call(call).await.status, CallStatus::Completed);
    }
    let log = system.log();
    assert!(
        log.contains("exited: temporal (terminated by SIGKILL"),
        "{log}"
    );
    system.stop(Duration::from_secs(60)).await;
}
