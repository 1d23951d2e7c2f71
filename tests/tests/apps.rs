//! The three apps of spec section 8 in a real browser: headless Chromium (Debian's `chromium`)
//! driven by Playwright (`playwright-core`), against the real API, workers and payment sandbox
//! processes on their own Temporal dev server. The journeys themselves are `web/e2e/*.test.mjs`
//! (node's test runner); this starts the stack they need and runs them, one file at a time.
//!
//! Each journey checks what a person sees: statuses changing without a reload, the driver's
//! name and masked number, the fee notice before a cancel, the lost-race message, the counts of
//! the console moving, the failure messages, offers only while online, an operator's assigned
//! dispatch (`dispatch.test.mjs`); and on every main screen at 360×740 a screenshot
//! (kept under `target/app-screenshots/`), no console error, no request to any other host, and
//! no serious or critical axe-core violation.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use driver_call_tests::drill::{Drill, DrillOptions, Process};
use driver_call_tests::{OPERATOR_PASSWORD, workspace_root};

/// Every context in one worker process.
const ALL: &str = "caller,payment,catcher,dashboard";

/// A cancel this long after the catch costs the fee (short, so the cancel journey sees it).
const CANCEL_GRACE: Duration = Duration::from_secs(4);

/// Starts the stack: the API (serving `web/dist`), one worker for every context whose payments
/// go to the sandbox (which the failure journey turns off and on), the sandbox.
async fn stack() -> (Drill, Process, Process) {
    let options = DrillOptions {
        cancel_grace: CANCEL_GRACE,
        ..DrillOptions::default()
    };
    let drill = Drill::start("apps", options).await;
    let sandbox = drill.sandbox(None).await;
    let worker = drill
        .worker(
            ALL,
            &[
                ("PAYMENT_GATEWAY_URL", sandbox.http.as_str()),
                ("PAYMENT_GATEWAY_TIMEOUT", "1s"),
                ("PAYMENT_BREAKER_FAILURES", "3"),
                ("PAYMENT_BREAKER_COOLDOWN", "2s"),
            ],
        )
        .await;
    (drill, sandbox, worker)
}

/// Runs one journey file of `web/e2e/` against the stack; its output is the test's.
fn journey(drill: &Drill, sandbox: &Process, file: &str) {
    let web = workspace_root().join("web");
    assert!(
        web.join("dist/app/index.html").is_file() && web.join("node_modules").is_dir(),
        "the apps are not built: run scripts/setup"
    );
    let screenshots: PathBuf = workspace_root().join("target").join("app-screenshots");
    let started = Instant::now();
    let status = Command::new("node")
        .args(["--test", "--test-concurrency=1", "--test-reporter=spec"])
        .arg(format!("e2e/{file}"))
        .current_dir(&web)
        .env("API_URL", &drill.api.base)
        .env("SANDBOX_URL", &sandbox.http)
        .env("OPERATOR_PASSWORD", OPERATOR_PASSWORD)
        .env("SCREENSHOT_DIR", &screenshots)
        .status()
        .expect("node runs (Node 20 or later)");
    println!("{file}: {:?}", started.elapsed());
    assert!(
        status.success(),
        "the browser journeys of {file} failed (the API's and worker's logs are under {})",
        drill.dir.display()
    );
}

#[tokio::test]
async fn the_apps_take_a_call_from_request_to_completion_in_a_real_browser() {
    let (drill, sandbox, _worker) = stack().await;
    for file in [
        "customer.test.mjs",
        "race.test.mjs",
        "ops.test.mjs",
        "dispatch.test.mjs",
    ] {
        journey(&drill, &sandbox, file);
    }
}
