//! Scale-out drills (issue "Scale-out deployment"), on the dev server with real worker processes:
//! each context scales on its own task queue, a worker killed mid-batch loses nothing, and a
//! rolling restart of the workflow worker (new process up, old one SIGTERMed) fails no call.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use driver_call_tests::drill::{
    Drill, DrillOptions, Process, drive_to_completion, reaches, until_answered,
};
use driver_call_tests::{eventually, unique_mobile};
use driver_call_workflows::contracts::catcher::CatchStatus;
use driver_call_workflows::contracts::payment::PaymentStatus;
use driver_call_workflows::domain::{CallStatus, CallView};

/// How many `payment.approve` tasks a worker process has completed, from its SDK metrics.
async fn approvals_served(worker: &Process) -> u64 {
    let metrics = worker.scrape().await;
    metrics
        .lines()
        .filter(|l| l.starts_with("temporal_activity_execution_latency_count"))
        .filter(|l| l.contains("activity_type=\"payment.approve\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|n| n as u64)
        .sum()
}

/// Creates and pays one call, paying again while the answer is "try again shortly".
async fn create_and_pay(drill: &Drill, paid: &AtomicUsize) -> CallView {
    let call = drill
        .api
        .create_call_for(&unique_mobile(), "Kangnam Yeoksam", 10000)
        .await;
    let answer = until_answered("pay", || drill.api.pay(&call)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    paid.fetch_add(1, Ordering::SeqCst);
    call
}

#[tokio::test]
async fn three_payment_and_two_catcher_workers_share_a_batch_and_losing_two_loses_no_call() {
    let drill = Drill::start("scale", DrillOptions::default()).await;
    let _caller = drill.worker("caller,dashboard", &[]).await;
    let mut payments = Vec::new();
    for _ in 0..3 {
        payments.push(drill.worker("payment", &[]).await);
    }
    let _catchers = [
        drill.worker("catcher", &[]).await,
        drill.worker("catcher", &[]).await,
    ];

    let paid = AtomicUsize::new(0);
    let batch = futures::future::join_all((0..24).map(|_| create_and_pay(&drill, &paid)));
    let chaos = async {
        eventually(
            Duration::from_secs(120),
            "a third of the batch paid",
            || async { (paid.load(Ordering::SeqCst) >= 8).then_some(()) },
        )
        .await;
        let served: Vec<u64> =
            futures::future::join_all(payments.iter().map(approvals_served)).await;
        // kill -9 two of the three payment workers while payments are still coming in.
        payments[0].kill();
        payments[1].kill();
        served
    };
    let (calls, served_before_kill) = tokio::join!(batch, chaos);
    println!("approvals served per payment worker before the kill: {served_before_kill:?}");

    for call in &calls {
        reaches(&drill.api, call, CallStatus::Dispatched).await;
        assert_eq!(drill.payments_with(call, PaymentStatus::Approved).await, 1);
        let offer = drill.catches.find(&call.call_id.to_string()).await.unwrap();
        assert_eq!(offer.map(|o| o.status), Some(CatchStatus::Received));
    }
    let survivor = approvals_served(&payments[2]).await;
    assert!(survivor > 0, "the surviving payment worker served nothing");
}

/// One call's whole life, counting the catches so the restart can happen mid-batch.
async fn full_trip(drill: &Drill, n: usize, caught: &AtomicUsize) -> CallView {
    let call = drill
        .api
        .create_call_for(&unique_mobile(), "Mapo Yeonnam", 9000)
        .await;
    let answer = drill.api.pay(&call).await;
    assert_eq!(answer.status, 200, "pay: {}", answer.body);
    reaches(&drill.api, &call, CallStatus::Dispatched).await;
    let driver = format!("roll-{n}");
    let answer = drill.api.catch(&call, &driver).await;
    assert_eq!(answer.status, 200, "catch: {}", answer.body);
    caught.fetch_add(1, Ordering::SeqCst);
    drive_to_completion(&drill.api, &call, &driver).await;
    call
}

#[tokio::test]
async fn a_rolling_restart_of_the_workflow_worker_fails_no_call_and_leaves_none_stuck() {
    let drill = Drill::start("rolling", DrillOptions::default()).await;
    let mut old = drill.worker("caller", &[]).await;
    let _contexts = drill.worker("payment,catcher,dashboard", &[]).await;

    let caught = AtomicUsize::new(0);
    let batch = futures::future::join_all((0..16).map(|n| full_trip(&drill, n, &caught)));
    let roll = async {
        eventually(
            Duration::from_secs(120),
            "a quarter of the batch caught",
            || async { (caught.load(Ordering::SeqCst) >= 4).then_some(()) },
        )
        .await;
        // As a Deployment's rolling update does: the new pod first, then SIGTERM to the old.
        let new = drill.worker("caller", &[]).await;
        let exit = old.terminate(Duration::from_secs(30)).await;
        assert!(exit.success(), "the old worker exited with {exit}");
        new
    };
    let (calls, _new) = tokio::join!(batch, roll);

    for call in &calls {
        reaches(&drill.api, call, CallStatus::Completed).await;
        assert_eq!(drill.payments_with(call, PaymentStatus::Approved).await, 1);
        eventually(Duration::from_secs(30), "the catch completed", || async {
            let row = drill.catches.find(&call.call_id.to_string()).await.unwrap();
            (row.map(|r| r.status) == Some(CatchStatus::Completed)).then_some(())
        })
        .await;
    }
}
