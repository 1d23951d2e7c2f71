//! Failure drills (issue "Faults without loss"): each starts real processes (a dev server, worker
//! processes, the API, the payment sandbox), breaks one of them for real and checks that no call
//! is lost and no money moves twice. The drills run one at a time; the README's "Failure
//! drills" section shows how to run each by hand.

use std::time::{Duration, Instant};

use driver_call_sandbox::ChargeStatus;
use driver_call_stores::DashboardStore;
use driver_call_tests::dev_server::free_port;
use driver_call_tests::drill::{
    Drill, DrillOptions, Process, drive_to_completion, reaches, sandbox_charges, set_sandbox_mode,
    status_of, until_answered, worker_status,
};
use driver_call_tests::sse::SseReader;
use driver_call_tests::{Answer, Api, eventually, unique_mobile};
use driver_call_workflows::contracts::catcher::CatchStatus;
use driver_call_workflows::contracts::dashboard::ProjectTimelineInput;
use driver_call_workflows::contracts::payment::PaymentStatus;
use driver_call_workflows::domain::{CallStatus, CallView, EventName, TimelineEvent};
use driver_call_workflows::driver_call::TIMELINE_AT;
use serde_json::{Value, json};

const ALL: &str = "caller,payment,catcher,dashboard";

/// The activity's own start-to-close timeout for `payment.approve`: a fast failure must be well
/// under it.
const APPROVE_TIMEOUT: Duration = Duration::from_secs(5);

async fn timed_pay(api: &Api, call: &CallView) -> (Answer, Duration) {
    let started = Instant::now();
    let answer = api.pay(call).await;
    (answer, started.elapsed())
}

/// Starts `pay` and lets the drill act while it is in flight.
fn pay_in_background(api: &Api, call: &CallView) -> tokio::task::JoinHandle<Answer> {
    let (api, call) = (api.clone(), call.clone());
    tokio::spawn(async move { api.pay(&call).await })
}

fn assert_unavailable(answer: &Answer) {
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert_eq!(answer.headers["retry-after"], "5");
    assert_eq!(
        answer.headers["content-type"], "application/problem+json",
        "{}",
        answer.body
    );
}

async fn paid_and_dispatched(drill: &Drill) -> CallView {
    let call = drill
        .api
        .create_call_for(&unique_mobile(), "Kangnam station", 12000)
        .await;
    let paid = drill.api.pay(&call).await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    reaches(&drill.api, &call, CallStatus::Dispatched).await;
    call
}

async fn caught(drill: &Drill, driver: &str) -> CallView {
    let call = paid_and_dispatched(drill).await;
    let answer = drill.api.catch(&call, driver).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    call
}

fn gateway_settings(sandbox: &Process) -> Vec<(&'static str, String)> {
    vec![
        ("PAYMENT_GATEWAY_URL", sandbox.http.clone()),
        ("PAYMENT_GATEWAY_TIMEOUT", "1s".to_owned()),
        ("PAYMENT_BREAKER_FAILURES", "3".to_owned()),
        ("PAYMENT_BREAKER_COOLDOWN", "3s".to_owned()),
    ]
}

fn as_env<'a>(settings: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    settings.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

async fn ledger_charge_id(drill: &Drill, call: &CallView) -> Option<String> {
    drill
        .payments
        .find_by_call(&call.call_id.to_string())
        .await
        .expect("payment query")
        .and_then(|p| p.charge_id)
}

#[tokio::test]
async fn gateway_down_pay_fails_fast_and_the_same_call_pays_when_it_returns() {
    let drill = Drill::start("gateway-down", DrillOptions::default()).await;
    let port = free_port().unwrap();
    let mut sandbox = drill.sandbox(Some(port)).await;
    let settings = gateway_settings(&sandbox);
    let _worker = drill.worker(ALL, &as_env(&settings)).await;
    let call = drill
        .api
        .create_call_for(&unique_mobile(), "Mapo Hapjeong", 9000)
        .await;

    // The gateway goes down (kill -9): pay is answered "try again shortly" at once.
    sandbox.kill();
    let (answer, took) = timed_pay(&drill.api, &call).await;
    println!("gateway down: pay answered 503 in {took:?}");
    assert_unavailable(&answer);
    assert!(took < APPROVE_TIMEOUT / 2, "pay took {took:?}");
    assert_eq!(
        status_of(&drill.api, &call).await,
        Some(CallStatus::Created)
    );
    assert_eq!(drill.payment_status(&call).await, None, "nothing charged");

    // It comes back: the same call pays, once.
    sandbox.restart().await;
    let answer = drill.api.pay(&call).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(drill.payments_with(&call, PaymentStatus::Approved).await, 1);
    let charges = sandbox_charges(&sandbox, &call).await;
    assert_eq!(charges.len(), 1, "{charges:?}");
    assert_eq!(
        ledger_charge_id(&drill, &call).await,
        Some(charges[0].charge_id.clone())
    );
    reaches(&drill.api, &call, CallStatus::Dispatched).await;
}

#[tokio::test]
async fn a_slow_gateway_opens_the_breaker_which_fails_fast_and_closes_on_recovery() {
    let drill = Drill::start("gateway-slow", DrillOptions::default()).await;
    let sandbox = drill.sandbox(None).await;
    let settings = gateway_settings(&sandbox);
    let worker = drill.worker(ALL, &as_env(&settings)).await;
    set_sandbox_mode(&sandbox, "slow", 4000).await;
    let mut calls = Vec::new();
    for _ in 0..4 {
        let call = drill
            .api
            .create_call_for(&unique_mobile(), "Nowon station", 8000)
            .await;
        calls.push(call);
    }

    // Three timeouts (PAYMENT_GATEWAY_TIMEOUT = 1 s) open the breaker ...
    for call in &calls[..3] {
        let (answer, took) = timed_pay(&drill.api, call).await;
        println!("gateway slow: pay answered 503 in {took:?}");
        assert_unavailable(&answer);
        assert!(took < APPROVE_TIMEOUT / 2, "pay took {took:?}");
    }
    let status = worker_status(&worker).await;
    assert_eq!(status["payment"]["circuit"], "open", "{status}");
    let metrics = worker.scrape().await;
    let gauge = metrics
        .lines()
        .find(|l| l.starts_with("payment_gateway_circuit_state"))
        .unwrap_or_else(|| panic!("no breaker metric in:\n{metrics}"));
    assert!(gauge.ends_with(" 1"), "{gauge}");

    // ... so the fourth payment fails at once, without reaching the gateway.
    let (answer, took) = timed_pay(&drill.api, &calls[3]).await;
    println!("breaker open: pay answered 503 in {took:?}");
    assert_unavailable(&answer);
    assert!(took < Duration::from_millis(900), "open breaker: {took:?}");
    // The three slow charges land late (their outcome was unknown); the fourth never went out.
    for call in &calls[..3] {
        eventually(Duration::from_secs(20), "the late charge", || async {
            (sandbox_charges(&sandbox, call).await.len() == 1).then_some(())
        })
        .await;
    }
    assert!(sandbox_charges(&sandbox, &calls[3]).await.is_empty());
    for call in &calls {
        assert_eq!(drill.payment_status(call).await, None, "no ledger row yet");
    }

    // The gateway recovers: after the cooldown the next pay probes it and closes the breaker;
    // the late charge is found by its key, not taken again.
    set_sandbox_mode(&sandbox, "normal", 0).await;
    let answer = until_answered("pay after recovery", || drill.api.pay(&calls[0])).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(worker_status(&worker).await["payment"]["circuit"], "closed");
    for call in &calls[1..] {
        assert_eq!(drill.api.pay(call).await.status, 200);
    }
    for call in &calls {
        assert_eq!(drill.payments_with(call, PaymentStatus::Approved).await, 1);
        let charges = sandbox_charges(&sandbox, call).await;
        assert_eq!(charges.len(), 1, "{charges:?}");
        assert_eq!(
            ledger_charge_id(&drill, call).await,
            Some(charges[0].charge_id.clone())
        );
    }
}

#[tokio::test]
async fn killing_the_payment_worker_after_the_ledger_write_charges_once() {
    let drill = Drill::start("payment-kill", DrillOptions::default()).await;
    let _others = drill.worker("caller,catcher,dashboard", &[]).await;
    let mut hanging = drill
        .worker("payment", &[("PAYMENT_FAULT", "hang-after-ledger-write")])
        .await;
    let call = drill
        .api
        .create_call_for(&unique_mobile(), "Jongro 3-ga", 15000)
        .await;

    let paying = pay_in_background(&drill.api, &call);
    // The window: the ledger holds the approval, the activity has not completed.
    eventually(Duration::from_secs(30), "the ledger write", || async {
        (drill.payment_status(&call).await == Some(PaymentStatus::Approved)).then_some(())
    })
    .await;
    hanging.kill();
    let _payment = drill.worker("payment", &[]).await;

    // The retry (after the 5 s start-to-close timeout) runs on the new worker and finds the row.
    let answer = paying.await.expect("pay task");
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(drill.payments_with(&call, PaymentStatus::Approved).await, 1);
    let record = drill
        .payments
        .find_by_call(&call.call_id.to_string())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.view().payment_id, Some(record.payment_id));
    reaches(&drill.api, &call, CallStatus::Dispatched).await;
}

#[tokio::test]
async fn killing_the_payment_worker_during_a_partial_refund_refunds_once() {
    let options = DrillOptions {
        cancel_grace: Duration::from_secs(1),
        ..DrillOptions::default()
    };
    let drill = Drill::start("partial-refund-kill", options).await;
    let sandbox = drill.sandbox(None).await;
    let settings = gateway_settings(&sandbox);
    let _others = drill.worker("caller,catcher,dashboard", &[]).await;
    let mut faulty = settings.clone();
    faulty.push(("PAYMENT_FAULT", "hang-after-partial-refund".to_owned()));
    let mut hanging = drill.worker("payment", &as_env(&faulty)).await;
    let call = drill
        .api
        .create_call_for(&unique_mobile(), "Kangnam Yeoksam", 20000)
        .await;
    assert_eq!(drill.api.pay(&call).await.status, 200);
    reaches(&drill.api, &call, CallStatus::Dispatched).await;
    assert_eq!(drill.api.catch(&call, "d-refund").await.status, 200);
    // Cancelled after the grace: 5000 KRW kept, 15000 refunded.
    let view = drill.api.get_call(&call).await;
    let grace_over = view.cancellation_fee.expect("a fee notice").applies_from;
    let grace_over = humantime::parse_rfc3339(&grace_over).unwrap();
    eventually(Duration::from_secs(30), "the grace to pass", || async {
        (std::time::SystemTime::now() > grace_over).then_some(())
    })
    .await;
    assert_eq!(drill.api.cancel(&call).await.status, 202);

    // The window: the gateway refunded and the ledger says so; the activity has not completed.
    eventually(
        Duration::from_secs(30),
        "the partial refund in the ledger",
        || async {
            (drill.payment_status(&call).await == Some(PaymentStatus::PartiallyRefunded))
                .then_some(())
        },
    )
    .await;
    hanging.kill();
    let _payment = drill.worker("payment", &as_env(&settings)).await;

    // The retry runs on the new worker and gives nothing more back.
    let done = eventually(
        Duration::from_secs(90),
        "the fee on the timeline",
        || async {
            let view = drill.api.get_call(&call).await;
            let charged = view
                .timeline
                .iter()
                .any(|e| e.event == EventName::CancellationFeeCharged);
            charged.then_some(view)
        },
    )
    .await;
    assert_eq!(done.status, CallStatus::Cancelled);
    assert_eq!(
        drill
            .payments_with(&call, PaymentStatus::PartiallyRefunded)
            .await,
        1
    );
    let record = drill.payments.find_by_call(&call.call_id.to_string()).await;
    let record = record.unwrap().unwrap();
    assert_eq!(
        (record.refunded_amount, record.fee),
        (Some(15000), Some(5000))
    );
    let charges = sandbox_charges(&sandbox, &call).await;
    assert_eq!(charges.len(), 1, "{charges:?}");
    assert_eq!(charges[0].status, ChargeStatus::PartiallyRefunded);
    assert_eq!(charges[0].refunded_amount, Some(15000), "refunded once");
}

#[tokio::test]
async fn calls_are_taken_and_paid_without_a_catcher_worker_and_all_dispatched_when_it_starts() {
    let drill = Drill::start("no-catcher", DrillOptions::default()).await;
    let _worker = drill.worker("caller,payment,dashboard", &[]).await;
    let mut calls = Vec::new();
    for _ in 0..5 {
        let call = drill
            .api
            .create_call_for(&unique_mobile(), "Bundang Jeongja", 11000)
            .await;
        let answer = drill.api.pay(&call).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.view().status, CallStatus::Paid);
        calls.push(call);
    }
    for call in &calls {
        assert_eq!(status_of(&drill.api, call).await, Some(CallStatus::Paid));
        // No catcher worker has even created its database, let alone an offer.
        let offer = drill.catches.find(&call.call_id.to_string()).await;
        assert!(
            !matches!(offer, Ok(Some(_))),
            "offered without a catcher worker"
        );
    }

    let _catcher = drill.worker("catcher", &[]).await;
    for call in &calls {
        reaches(&drill.api, call, CallStatus::Dispatched).await;
        let offer = drill.catches.find(&call.call_id.to_string()).await.unwrap();
        assert_eq!(offer.map(|o| o.status), Some(CatchStatus::Received));
    }
}

#[tokio::test]
async fn killing_the_temporal_server_with_twenty_calls_in_flight_loses_none() {
    let mut drill = Drill::start("server-kill", DrillOptions::default()).await;
    let _worker = drill.worker(ALL, &[]).await;
    let api = drill.api.clone();
    let mut unpaid = Vec::new();
    let mut dispatched = Vec::new();
    let mut on_trip = Vec::new();
    let mut completed = Vec::new();
    let mut cancelled = Vec::new();
    for i in 0..4 {
        unpaid.push(
            api.create_call_for(&unique_mobile(), "Dongjak Noryangjin", 6000)
                .await,
        );
        dispatched.push(paid_and_dispatched(&drill).await);
        on_trip.push(caught(&drill, &format!("trip-{i}")).await);
        let done = caught(&drill, &format!("done-{i}")).await;
        drive_to_completion(&api, &done, &format!("done-{i}")).await;
        completed.push(done);
        let gone = paid_and_dispatched(&drill).await;
        assert_eq!(api.cancel(&gone).await.status, 202);
        cancelled.push(gone);
    }

    drill.kill_server();
    drill.restart_server();

    for call in &unpaid {
        let answer = until_answered("pay after the restart", || api.pay(call)).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    for (i, call) in on_trip.iter().enumerate() {
        drive_to_completion(&api, call, &format!("trip-{i}")).await;
    }
    for call in unpaid.iter().chain(&dispatched) {
        reaches(&api, call, CallStatus::Dispatched).await;
        assert_eq!(drill.payments_with(call, PaymentStatus::Approved).await, 1);
        let offer = drill.catches.find(&call.call_id.to_string()).await.unwrap();
        assert_eq!(offer.map(|o| o.status), Some(CatchStatus::Received));
    }
    for call in on_trip.iter().chain(&completed) {
        reaches(&api, call, CallStatus::Completed).await;
        assert_eq!(drill.payments_with(call, PaymentStatus::Approved).await, 1);
        eventually(Duration::from_secs(30), "the catch closed", || async {
            let row = drill.catches.find(&call.call_id.to_string()).await.unwrap();
            (row.map(|r| r.status) == Some(CatchStatus::Completed)).then_some(())
        })
        .await;
    }
    for call in &cancelled {
        reaches(&api, call, CallStatus::Cancelled).await;
        eventually(Duration::from_secs(30), "the refund", || async {
            (drill.payment_status(call).await == Some(PaymentStatus::Cancelled)).then_some(())
        })
        .await;
        eventually(Duration::from_secs(30), "the offer withdrawn", || async {
            let row = drill.catches.find(&call.call_id.to_string()).await.unwrap();
            (row.map(|r| r.status) == Some(CatchStatus::Withdrawn)).then_some(())
        })
        .await;
    }
}

#[tokio::test]
async fn killing_the_workflow_worker_mid_saga_and_restarting_it_continues_every_call() {
    let drill = Drill::start("caller-kill", DrillOptions::default()).await;
    let mut caller = drill.worker("caller", &[]).await;
    let _contexts = drill.worker("payment,catcher,dashboard", &[]).await;
    let api = drill.api.clone();
    let unpaid = api
        .create_call_for(&unique_mobile(), "Mapo Mangwon", 7000)
        .await;
    let waiting = paid_and_dispatched(&drill).await;
    let on_trip = caught(&drill, "d-trip").await;
    let to_cancel = paid_and_dispatched(&drill).await;

    caller.kill();
    caller.restart().await;

    let answer = until_answered("pay", || api.pay(&unpaid)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    reaches(&api, &unpaid, CallStatus::Dispatched).await;
    let answer = until_answered("catch", || api.catch(&waiting, "d-late")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    drive_to_completion(&api, &on_trip, "d-trip").await;
    let answer = until_answered("cancel", || api.cancel(&to_cancel)).await;
    assert_eq!(answer.status, 202, "{}", answer.body);

    reaches(&api, &waiting, CallStatus::Caught).await;
    reaches(&api, &on_trip, CallStatus::Completed).await;
    reaches(&api, &to_cancel, CallStatus::Cancelled).await;
    eventually(Duration::from_secs(30), "the refund", || async {
        (drill.payment_status(&to_cancel).await == Some(PaymentStatus::Cancelled)).then_some(())
    })
    .await;
    for call in [&unpaid, &waiting, &on_trip, &to_cancel] {
        let rows = drill.payments_with(call, PaymentStatus::Approved).await
            + drill.payments_with(call, PaymentStatus::Cancelled).await;
        assert_eq!(rows, 1, "one payment for {}", call.call_id);
    }
}

#[tokio::test]
async fn fifty_concurrent_posts_with_one_idempotency_key_make_one_call() {
    let drill = Drill::start("idempotent-post", DrillOptions::default()).await;
    let _worker = drill.worker(ALL, &[]).await;
    let mobile = unique_mobile();
    let body = json!({
        "mobile": mobile,
        "location": "Kangnam Sinsa",
        "destination": "Home",
        "payType": "CARD",
        "payAmount": 10000,
    });
    let key = format!("order-{}", uuid::Uuid::new_v4());

    let sends = (0..50).map(|_| drill.api.create_call_with_key(&key, &body));
    let answers = futures::future::join_all(sends).await;

    let mut ids = std::collections::BTreeSet::new();
    for answer in &answers {
        assert_eq!(answer.status, 201, "{}", answer.body);
        ids.insert(answer.body["callId"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    let call_id = ids.into_iter().next().unwrap();
    assert_eq!(
        answers[0].headers["location"],
        format!("/calls/{call_id}").as_str()
    );
    let listed = eventually(Duration::from_secs(30), "the call listed", || async {
        let page = drill
            .api
            .send(
                reqwest::Method::GET,
                &format!("/dashboards?mobile={mobile}"),
                None,
            )
            .await;
        let calls = page.body.as_array().cloned().unwrap_or_default();
        (!calls.is_empty()).then_some(calls)
    })
    .await;
    assert_eq!(listed.len(), 1, "{listed:?}");

    // The same key with another body is refused and changes nothing.
    let mut other = body.clone();
    other["payAmount"] = Value::from(20000);
    let refused = drill.api.create_call_with_key(&key, &other).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(refused.headers["content-type"], "application/problem+json");
    let call: CallView = serde_json::from_value(answers[0].body.clone()).unwrap();
    assert_eq!(drill.api.get_call(&call).await.pay_amount.get(), 10000);

    // The key is the customer's: another customer's same key is another call.
    let mut someone_else = body.clone();
    someone_else["mobile"] = Value::from(unique_mobile());
    let theirs = drill.api.create_call_with_key(&key, &someone_else).await;
    assert_eq!(theirs.status, 201, "{}", theirs.body);
    assert_ne!(theirs.body["callId"].as_str(), Some(call_id.as_str()));
    let bad_key = drill.api.create_call_with_key(" ", &body).await;
    assert_eq!(bad_key.status, 400, "{}", bad_key.body);
}

#[tokio::test]
async fn a_lost_gateway_answer_is_refunded_at_expiry_or_reused_by_the_next_pay() {
    let options = DrillOptions {
        // Long enough for two timed-out pays and a retry on a loaded machine, short for the expiry.
        payment_window: Duration::from_secs(15),
        ..DrillOptions::default()
    };
    let drill = Drill::start("lost-answer", options).await;
    let sandbox = drill.sandbox(None).await;
    let settings = gateway_settings(&sandbox);
    let _worker = drill.worker(ALL, &as_env(&settings)).await;
    let forgotten = drill
        .api
        .create_call_for(&unique_mobile(), "Jongro Insadong", 13000)
        .await;
    let retried = drill
        .api
        .create_call_for(&unique_mobile(), "Jongro Insadong", 14000)
        .await;

    // The gateway charges, and its answer never arrives.
    set_sandbox_mode(&sandbox, "lose-answer", 0).await;
    for call in [&forgotten, &retried] {
        assert_unavailable(&drill.api.pay(call).await);
        let charges = sandbox_charges(&sandbox, call).await;
        assert_eq!(charges.len(), 1, "{charges:?}");
        assert_eq!(charges[0].status, ChargeStatus::Charged);
        assert_eq!(drill.payment_status(call).await, None);
    }
    set_sandbox_mode(&sandbox, "normal", 0).await;

    // One customer pays again: the gateway's charge is found by its key; still one charge.
    let lost = sandbox_charges(&sandbox, &retried).await.remove(0);
    let answer = drill.api.pay(&retried).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let charges = sandbox_charges(&sandbox, &retried).await;
    assert_eq!(charges.len(), 1, "{charges:?}");
    assert_eq!(charges[0].charge_id, lost.charge_id);
    assert_eq!(
        ledger_charge_id(&drill, &retried).await,
        Some(lost.charge_id)
    );
    assert_eq!(
        drill.payments_with(&retried, PaymentStatus::Approved).await,
        1
    );

    // The other never does: at expiry the charge the gateway holds is refunded, and the ledger
    // records it, refunded.
    reaches(&drill.api, &forgotten, CallStatus::Expired).await;
    eventually(
        Duration::from_secs(30),
        "the refund at the gateway",
        || async {
            let charges = sandbox_charges(&sandbox, &forgotten).await;
            (charges.len() == 1 && charges[0].status == ChargeStatus::Refunded).then_some(())
        },
    )
    .await;
    eventually(
        Duration::from_secs(30),
        "the refund in the ledger",
        || async {
            (drill.payment_status(&forgotten).await == Some(PaymentStatus::Cancelled)).then_some(())
        },
    )
    .await;
    let charge_id = sandbox_charges(&sandbox, &forgotten)
        .await
        .remove(0)
        .charge_id;
    assert_eq!(ledger_charge_id(&drill, &forgotten).await, Some(charge_id));
    drill
        .api
        .wait_for_event(&forgotten, "PaymentCancelled")
        .await;
    reaches(&drill.api, &retried, CallStatus::Dispatched).await;
}

#[tokio::test]
async fn sigterm_lets_the_payment_in_flight_finish_and_the_processes_exit_cleanly() {
    let mut drill = Drill::start("sigterm", DrillOptions::default()).await;
    let sandbox = drill.sandbox(None).await;
    let mut settings = gateway_settings(&sandbox);
    settings.retain(|(k, _)| *k != "PAYMENT_GATEWAY_TIMEOUT");
    settings.push(("PAYMENT_GATEWAY_TIMEOUT", "4s".to_owned()));
    let _others = drill.worker("caller,catcher,dashboard", &[]).await;
    let mut payment = drill.worker("payment", &as_env(&settings)).await;
    set_sandbox_mode(&sandbox, "slow", 2000).await;
    let call = drill
        .api
        .create_call_for(&unique_mobile(), "Bundang Seohyeon", 9500)
        .await;

    let paying = pay_in_background(&drill.api, &call);
    eventually(Duration::from_secs(10), "the charge in flight", || async {
        let status = sandbox.get_json("/sandbox/mode").await;
        (status["inFlight"] == 1).then_some(())
    })
    .await;
    let exit = payment.terminate(Duration::from_secs(30)).await;
    assert!(exit.success(), "the payment worker exited with {exit}");

    let answer = paying.await.expect("pay task");
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(drill.payments_with(&call, PaymentStatus::Approved).await, 1);
    assert_eq!(sandbox_charges(&sandbox, &call).await.len(), 1);

    let exit = drill.api_process.terminate(Duration::from_secs(30)).await;
    assert!(exit.success(), "the API exited with {exit}");
}

/// A workflow worker restart while the call waits on an activity, with a customer's query in
/// flight and the driver's step and the activity's result arriving before the new worker: the
/// new worker carries the call on, the history it writes replays on the current code, and the
/// finished call stays readable with no caller worker at all (its view is the workflow's result).
#[tokio::test]
async fn a_worker_restart_with_a_query_and_a_step_waiting_leaves_a_replayable_readable_call() {
    let drill = Drill::start("query-race", DrillOptions::default()).await;
    let mut old = drill.worker("caller", &[]).await;
    let _contexts = drill.worker("payment,dashboard", &[]).await;
    let mut catcher = drill.worker("catcher", &[]).await;
    let call = paid_and_dispatched(&drill).await;
    // The catcher goes away after the offer: recording the catch waits, to finish once the
    // caller is gone.
    catcher.kill();
    let answer = drill.api.catch(&call, "d-race").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    eventually(
        Duration::from_secs(30),
        "only the catch record pending",
        || async {
            let (task, activities) = drill.pending_work(&call).await?;
            let only_catch =
                !activities.is_empty() && activities.iter().all(|a| a == "catcher.catch");
            (!task && only_catch).then_some(())
        },
    )
    .await;
    let exit = old.terminate(Duration::from_secs(30)).await;
    assert!(exit.success(), "the old worker exited with {exit}");

    let api = drill.api.clone();
    let viewer = call.clone();
    let query = tokio::spawn(async move { status_of(&api, &viewer).await });
    let _catcher = drill.worker("catcher", &[]).await;
    eventually(
        Duration::from_secs(30),
        "the catch record's result",
        || async {
            let (task, activities) = drill.pending_work(&call).await?;
            (task && activities.is_empty()).then_some(())
        },
    )
    .await;
    // The driver's arrival is admitted while the workflow task waits, so the new worker gets
    // the catch record's result and the update in one workflow task.
    drill
        .admit_update(&call, "arrive", &json!({ "driverId": "d-race" }))
        .await;
    let mut new = drill.worker("caller", &[]).await;
    reaches(&drill.api, &call, CallStatus::Arrived).await;
    query.await.expect("query task");
    for step in ["start", "complete"] {
        let answer = until_answered(step, || drill.api.trip_step(&call, step, "d-race")).await;
        assert_eq!(answer.status, 200, "{step}: {}", answer.body);
    }
    reaches(&drill.api, &call, CallStatus::Completed).await;

    let history = drill
        .workflow(&call)
        .await
        .fetch_history(Default::default())
        .to_json()
        .await
        .expect("history");
    driver_call_tests::replay::replay(&history).await;
    // No caller worker at all: the finished call is still read, from its workflow's result.
    new.kill();
    let answer = drill
        .api
        .send(
            reqwest::Method::GET,
            &format!("/calls/{}", call.call_id),
            None,
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.view().status, CallStatus::Completed);
}

/// The myPage timeline of `call` as the API serves it from the read model; `None` (404) until
/// the dashboard has projected the call's first events.
async fn my_page_events(api: &Api, call: &CallView) -> Option<Vec<TimelineEvent>> {
    let answer = api.my_page(call).await;
    if answer.status == 404 {
        return None;
    }
    assert_eq!(answer.status, 200, "{}", answer.body);
    Some(serde_json::from_value(answer.body).expect("a timeline"))
}

/// One call driven step by step while its customer watches its live stream: how long each
/// step's event took to reach the stream after the step's answer, once its myPage equals the
/// workflow's timeline.
async fn watched_call(drill: &Drill, n: usize) -> (CallView, Vec<(&'static str, Duration)>) {
    let call = drill
        .api
        .create_call_for(&unique_mobile(), "Kangnam Yeoksam", 10000)
        .await;
    let token = drill.api.customer_of(&call).token().await.expect("a token");
    let url = format!("{}/calls/{}/events", drill.api.base, call.call_id);
    let response = reqwest::Client::new()
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("the stream opens");
    assert_eq!(response.status(), 200);
    let mut stream = SseReader::new(response);
    let driver = format!("d-shared-{n}");
    let mut delays = Vec::new();
    let answered = Instant::now();
    let paid = until_answered("pay", || drill.api.pay(&call)).await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    stream.until(|e| e.event == "CallPayed").await;
    delays.push(("pay", answered.elapsed()));
    // The dispatch is recorded by the run itself: only the dashboard's feed hands it on.
    stream.until(|e| e.event == "CallReceived").await;
    delays.push(("dispatch", answered.elapsed()));
    for (step, event) in [
        ("catch", "CallCaught"),
        ("arrive", "DriverArrived"),
        ("start", "TripStarted"),
        ("complete", "TripCompleted"),
    ] {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let answered = Instant::now();
        let answer = match step {
            "catch" => until_answered(step, || drill.api.catch(&call, &driver)).await,
            _ => until_answered(step, || drill.api.trip_step(&call, step, &driver)).await,
        };
        assert_eq!(answer.status, 200, "{step}: {}", answer.body);
        stream.until(|e| e.event == event).await;
        delays.push((step, answered.elapsed()));
    }
    (call, delays)
}

/// Two dashboard workers share the read model's feed while calls run; one is killed -9 in the
/// middle: the other takes its shards over, no step waits 5 s or more to reach its call's live
/// stream, and every call's myPage ends equal to its workflow's timeline, in order, each event
/// once.
#[tokio::test]
async fn two_dashboard_workers_share_the_feed_and_a_killed_one_hands_its_calls_over() {
    let drill = Drill::start("dashboard-shared", DrillOptions::default()).await;
    let _contexts = drill.worker("caller,payment,catcher", &[]).await;
    let mut doomed = drill.worker("dashboard", &[]).await;
    let survivor = drill.worker("dashboard", &[]).await;
    // Both hold shards before the load starts (a worker takes its fair share within a second).
    tokio::time::sleep(Duration::from_secs(2)).await;

    let shared = &drill;
    let calls = futures::future::join_all((0..16).map(|n| async move {
        tokio::time::sleep(Duration::from_millis(150 * n as u64)).await;
        watched_call(shared, n).await
    }));
    let kill = async {
        tokio::time::sleep(Duration::from_secs(4)).await;
        doomed.kill();
    };
    let (calls, ()) = tokio::join!(calls, kill);

    let mut slowest = ("none", Duration::ZERO);
    for (call, delays) in &calls {
        for (step, delay) in delays {
            if *delay > slowest.1 {
                slowest = (step, *delay);
            }
        }
        let expected = drill.api.get_call(call).await.timeline;
        assert_eq!(expected.len(), driver_call_tests::COMPLETED_TIMELINE.len());
        eventually(Duration::from_secs(30), "myPage to catch up", || async {
            (my_page_events(&drill.api, call).await.as_ref() == Some(&expected)).then_some(())
        })
        .await;
    }
    println!(
        "the slowest step to reach its stream: {} after {:?}",
        slowest.0, slowest.1
    );
    assert!(
        slowest.1 < Duration::from_secs(5),
        "{} reached its stream only after {:?}",
        slowest.0,
        slowest.1
    );
    // The survivor's first deep sweep (15 s after it started) lists, a page at a time, every
    // call changed in the last 10 minutes: all 16.
    let swept = eventually(
        Duration::from_secs(30),
        "the survivor's deep sweep",
        || async {
            survivor
                .log()
                .lines()
                .find(|line| line.contains("the deep sweep listed"))
                .map(str::to_owned)
        },
    )
    .await;
    assert!(swept.contains("listed=16 pages=1"), "{swept}");
}

/// A batch of a call's timeline, events `seqs` (the first `CallMade`).
fn batch(call_id: &str, mobile: &str, seqs: std::ops::RangeInclusive<u32>) -> ProjectTimelineInput {
    let events: Vec<Value> = seqs
        .map(|seq| {
            let event = if seq == 1 { "CallMade" } else { "OfferWidened" };
            json!({
                "seq": seq, "event": event, "at": "2026-12-07T00:00:00.000Z",
                "description": format!("event {seq}"),
            })
        })
        .collect();
    serde_json::from_value(json!({
        "callId": call_id, "mobile": mobile, "location": "Kangnam", "payAmount": 10000,
        "status": "DISPATCHED", "events": events,
    }))
    .expect("a projection")
}

/// Opens an SSE stream of the API as `api`'s person.
async fn open_stream(api: &Api, path: &str) -> SseReader {
    let token = api.token().await.expect("a token");
    let response = reqwest::Client::new()
        .get(format!("{}{path}", api.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("the stream opens");
    assert_eq!(response.status(), 200, "{path}");
    SseReader::new(response)
}

/// Reads `count` events of a stream: each as (call, seq, id).
async fn read_n(mut stream: SseReader, count: usize) -> Vec<(String, i64, i64)> {
    let mut seen = Vec::with_capacity(count);
    while seen.len() < count {
        let event = stream.next().await;
        let call_id = event.data["callId"].as_str().expect("callId").to_owned();
        let seq = event.data["seq"].as_i64().expect("seq");
        seen.push((call_id, seq, event.id.parse().expect("a numeric id")));
    }
    seen
}

/// On PostgreSQL, eight writers project 24 calls' timelines at once (every batch its own
/// transaction, some sent twice), while the API serves the console's stream, each customer's and
/// each call's from its one tail: every stream gets each of its events exactly once, each call's
/// in order, and the read model positions rise.
#[tokio::test]
async fn on_postgresql_concurrent_projections_reach_every_live_stream_once_in_order() {
    const WRITERS: usize = 8;
    const CALLS_EACH: usize = 3;
    const SEQS: u32 = 30;
    let url = driver_call_tests::fresh_postgres().await;
    let store = DashboardStore::connect(&url).await.expect("the read model");
    let options = DrillOptions {
        api_env: vec![("DASHBOARD_DATABASE_URL", url.clone())],
        ..DrillOptions::default()
    };
    let drill = Drill::start("pg-streams", options).await;

    // The calls exist (their first event) before their streams open: a stream's call must be
    // found in the read model to be the customer's.
    let mobiles: Vec<String> = (0..WRITERS).map(|_| unique_mobile()).collect();
    let calls: Vec<(String, String)> = (0..WRITERS * CALLS_EACH)
        .map(|n| {
            (
                uuid::Uuid::new_v4().to_string(),
                mobiles[n % WRITERS].clone(),
            )
        })
        .collect();
    for (call_id, mobile) in &calls {
        store
            .project(&batch(call_id, mobile, 1..=1))
            .await
            .expect("projected");
    }
    let console = open_stream(&drill.api.as_operator(), "/dashboards/events").await;
    let mut customers = Vec::new();
    for mobile in &mobiles {
        let api = drill.api.as_customer(mobile);
        customers.push(open_stream(&api, "/dashboards/events").await);
    }
    let mut call_streams = Vec::new();
    for (call_id, mobile) in calls.iter().take(WRITERS) {
        let api = drill.api.as_customer(mobile);
        call_streams.push(open_stream(&api, &format!("/calls/{call_id}/events")).await);
    }

    let writers = futures::future::join_all((0..WRITERS).map(|writer| {
        let (store, calls) = (store.clone(), calls.clone());
        async move {
            let mine: Vec<&(String, String)> = calls.iter().skip(writer).step_by(WRITERS).collect();
            for seq in 2..=SEQS {
                for (call_id, mobile) in &mine {
                    store
                        .project(&batch(call_id, mobile, seq..=seq))
                        .await
                        .expect("projected");
                    if seq % 7 == 0 {
                        // A projection repeated (a retried read) changes nothing.
                        store
                            .project(&batch(call_id, mobile, seq - 1..=seq))
                            .await
                            .expect("again");
                    }
                }
            }
        }
    }));
    let per_call = (SEQS - 1) as usize;
    let (console, customers, call_streams, _) = tokio::join!(
        read_n(console, calls.len() * per_call),
        futures::future::join_all(
            customers
                .into_iter()
                .map(|s| read_n(s, SEQS as usize * CALLS_EACH))
        ),
        futures::future::join_all(call_streams.into_iter().map(|s| read_n(s, SEQS as usize))),
        writers,
    );

    let once_in_order = |seen: &[(String, i64, i64)], from: i64| {
        let mut by_call: std::collections::HashMap<&str, Vec<i64>> = Default::default();
        for (call_id, seq, _) in seen {
            by_call.entry(call_id).or_default().push(*seq);
        }
        for (call_id, seqs) in by_call {
            let expected: Vec<i64> = (from..=i64::from(SEQS)).collect();
            assert_eq!(seqs, expected, "call {call_id}: each event once, in order");
        }
    };
    once_in_order(&console, 2);
    assert!(
        console.windows(2).all(|w| w[0].2 < w[1].2),
        "the console's ids rise"
    );
    for seen in &customers {
        once_in_order(seen, 1);
        assert!(
            seen.windows(2).all(|w| w[0].2 < w[1].2),
            "a customer's ids rise"
        );
    }
    for seen in &call_streams {
        once_in_order(seen, 1);
    }
}

/// The last commit whose dashboard followed every open call's history with a long poll (before
/// patch `timeline-feed`); `scripts/test` builds its binaries before the tests.
const BEFORE_THE_TIMELINE_FEED: &str = include_str!("../upgrade-from");

/// Calls started by the build before the timeline feed, one caught and one not paid yet, go on
/// after the API and every worker are replaced by this build: they finish COMPLETED, without
/// `TimelineAt` (they keep the rules they started with: no `timeline-feed` patch), and each
/// one's myPage ends equal to its workflow's timeline, as does a call started after the upgrade.
#[tokio::test]
async fn calls_started_before_the_timeline_feed_finish_and_reach_mypage_after_the_upgrade() {
    let old = driver_call_tests::drill::binaries_of(BEFORE_THE_TIMELINE_FEED.trim());
    let options = DrillOptions {
        bin_dir: Some(old),
        ..DrillOptions::default()
    };
    let mut drill = Drill::start("upgrade-feed", options).await;
    let mut old_worker = drill.worker(ALL, &[]).await;
    let caught = caught(&drill, "d-upgrade").await;
    let unpaid = drill
        .api
        .create_call_for(&unique_mobile(), "Kangnam Yeoksam", 10000)
        .await;
    for (call, event) in [
        (&caught, EventName::CallCaught),
        (&unpaid, EventName::CallMade),
    ] {
        eventually(
            Duration::from_secs(30),
            "the old build's myPage",
            || async {
                let events = my_page_events(&drill.api, call).await?;
                events.iter().any(|e| e.event == event).then_some(())
            },
        )
        .await;
    }

    old_worker.terminate(Duration::from_secs(30)).await;
    drill.upgrade().await;
    let _new_worker = drill.worker(ALL, &[]).await;
    drive_to_completion(&drill.api, &caught, "d-upgrade").await;
    let paid = until_answered("pay", || drill.api.pay(&unpaid)).await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    reaches(&drill.api, &unpaid, CallStatus::Dispatched).await;
    let answer = drill.api.catch(&unpaid, "d-upgrade-2").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    drive_to_completion(&drill.api, &unpaid, "d-upgrade-2").await;
    let fresh = caught_after_upgrade(&drill).await;

    for (call, started_before) in [(&caught, true), (&unpaid, true), (&fresh, false)] {
        reaches(&drill.api, call, CallStatus::Completed).await;
        let described = drill
            .workflow(call)
            .await
            .describe(Default::default())
            .await
            .expect("described");
        let fed = described.search_attributes().contains_key(&TIMELINE_AT);
        assert_eq!(fed, !started_before, "TimelineAt on {}", call.call_id);
        let expected = drill.api.get_call(call).await.timeline;
        assert_eq!(expected.len(), driver_call_tests::COMPLETED_TIMELINE.len());
        eventually(
            Duration::from_secs(30),
            "myPage to hold the whole call",
            || async {
                (my_page_events(&drill.api, call).await.as_ref() == Some(&expected)).then_some(())
            },
        )
        .await;
    }
}

/// A call started, caught and completed on this build.
async fn caught_after_upgrade(drill: &Drill) -> CallView {
    let call = caught(drill, "d-upgrade-3").await;
    drive_to_completion(&drill.api, &call, "d-upgrade-3").await;
    call
}
