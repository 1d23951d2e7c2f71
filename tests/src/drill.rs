//! Failure drills with real processes: a dev server, the `driver-call-worker`,
//! `driver-call-api` and `payment-sandbox` binaries of this build, each started, killed (`kill
//! -9`), stopped (SIGTERM) and restarted for real. Every process logs to a file in the drill's
//! directory (`target/test-data/drill-*`), which is where to look when a drill fails.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use driver_call_sandbox::GatewayCharge;
use driver_call_stores::{CatcherStore, PaymentStore};
use driver_call_workflows::contracts::payment::PaymentStatus;
use driver_call_workflows::domain::CallView;
use serde_json::{Value, json};

use crate::dev_server::{self, DevServer, free_port};
use crate::{Answer, Api, eventually, scratch_dir};
use driver_call_workflows::DriverCallWorkflow;
use driver_call_workflows::domain::CallStatus;
use temporalio_client::{Client, WorkflowHandle};

/// Drills share two cores: they run one at a time, so their time bounds mean something.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A binary of this build (`scripts/test` builds them with `cargo build --workspace --bins`).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/debug/deps/<test> -> target/debug/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary is in target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built; run `cargo build --workspace --bins` (scripts/test does)",
        path.display()
    );
    path
}

/// The binary `name` in `dir`, or this build's when `None`.
fn binary_in(dir: Option<&Path>, name: &str) -> PathBuf {
    let Some(dir) = dir else {
        return binary(name);
    };
    let path = dir.join(name);
    assert!(path.exists(), "{} is not built", path.display());
    path
}

/// The binaries of commit `rev`, built (once) by `scripts/build-rev` into a folder of their own.
pub fn binaries_of(rev: &str) -> PathBuf {
    let output = Command::new(crate::workspace_root().join("scripts/build-rev"))
        .args([rev, "debug"])
        .current_dir(crate::workspace_root())
        .stderr(Stdio::inherit())
        .output()
        .expect("scripts/build-rev runs");
    assert!(output.status.success(), "scripts/build-rev {rev} failed");
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

/// How to start a process again.
#[derive(Debug, Clone)]
struct Spec {
    name: String,
    program: PathBuf,
    env: Vec<(String, String)>,
    log: PathBuf,
}

/// A process of the drill.
pub struct Process {
    spec: Spec,
    child: Option<Child>,
    /// Base URL of its HTTP port (the worker's probes, the API, the sandbox).
    pub http: String,
    /// Base URL of a worker's metrics port.
    pub metrics: Option<String>,
}

impl Process {
    fn spawn(spec: Spec, http: String) -> anyhow::Result<Self> {
        let mut process = Self {
            spec,
            child: None,
            http,
            metrics: None,
        };
        process.start()?;
        Ok(process)
    }

    fn start(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.spec.log)?;
        let mut command = Command::new(&self.spec.program);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            // The tests' keys, so the tests' clients read what the process writes (a drill may
            // give others in `env`).
            .env("PAYLOAD_KEYS", crate::TEST_PAYLOAD_KEYS)
            .env("MOBILE_HASH_KEY", crate::TEST_MOBILE_HASH_KEY)
            .envs(self.spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        dev_server::die_with_this_thread(&mut command);
        let child = command
            .spawn()
            .with_context(|| format!("Failed to start {}", self.spec.name))?;
        self.child = Some(child);
        Ok(())
    }

    /// What the process logged so far (every run of it).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.spec.log).unwrap_or_default()
    }

    /// `kill -9`: no chance to finish anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits (up to `timeout`) for the process to exit by itself.
    pub async fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("the process is running");
        let pid = libc::pid_t::try_from(child.id()).expect("a pid");
        signal_term(pid);
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "{} did not exit within {timeout:?} of SIGTERM",
                    self.spec.name
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sets `key` to `value` for its next start (a stopped process started again with new keys).
    pub fn set_env(&mut self, key: &str, value: &str) {
        override_env(&mut self.spec.env, &[(key, value)]);
    }

    /// Starts it again with the same settings (and any [`Self::set_env`] since).
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "{} is still running", self.spec.name);
        self.start().expect("restart");
        self.wait_ready().await;
    }

    /// Whether it is running.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => child.try_wait().expect("wait").is_none(),
            None => false,
        }
    }

    /// Polls its readiness endpoint until it answers 200.
    pub async fn wait_ready(&mut self) {
        let url = format!("{}{}", self.http, self.ready_path());
        let name = self.spec.name.clone();
        let http = reqwest::Client::new();
        eventually(Duration::from_secs(60), &format!("{name} ready"), || {
            let request = http.get(&url).timeout(Duration::from_secs(2)).send();
            async move { request.await.ok().filter(|r| r.status() == 200).map(|_| ()) }
        })
        .await;
        assert!(
            self.is_running(),
            "{name} exited; see {}",
            self.spec.log.display()
        );
    }

    /// A worker is ready once it has migrated its stores and reaches Temporal. The API is waited
    /// for only until it serves (it connects to Temporal before it listens): it is ready once the
    /// workers that own its stores have migrated them, and a drill starts those afterwards.
    fn ready_path(&self) -> &'static str {
        if self.spec.name.starts_with("sandbox") || self.spec.name == "api" {
            "/healthz"
        } else {
            "/readyz"
        }
    }

    /// GET a JSON document from its HTTP port.
    pub async fn get_json(&self, path: &str) -> Value {
        reqwest::get(format!("{}{path}", self.http))
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("GET answered")
            .json()
            .await
            .expect("JSON")
    }

    /// The worker's Prometheus metrics, as text.
    pub async fn scrape(&self) -> String {
        let base = self.metrics.as_ref().expect("a worker's metrics port");
        reqwest::get(format!("{base}/metrics"))
            .await
            .expect("GET /metrics answered")
            .text()
            .await
            .expect("text")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

#[allow(unsafe_code)]
fn signal_term(pid: libc::pid_t) {
    // SAFETY: kill(2) with a pid this process spawned and still owns (not yet reaped).
    let sent = unsafe { libc::kill(pid, libc::SIGTERM) };
    assert_eq!(sent, 0, "SIGTERM to {pid}");
}

/// What a drill's API is started with.
#[derive(Debug, Clone)]
pub struct DrillOptions {
    /// `PAYMENT_WINDOW` of the API.
    pub payment_window: Duration,
    /// `DISPATCH_TIMEOUT` of the API.
    pub dispatch_timeout: Duration,
    /// `CANCEL_GRACE` of the API.
    pub cancel_grace: Duration,
    /// More settings of the API (a store's URL, say).
    pub api_env: Vec<(&'static str, String)>,
    /// Where the API's and the workers' binaries are, when not this build's (an older
    /// commit's, built by `scripts/build-rev`, for an upgrade); see [`Drill::upgrade`].
    pub bin_dir: Option<PathBuf>,
}

impl Default for DrillOptions {
    fn default() -> Self {
        Self {
            payment_window: Duration::from_secs(600),
            dispatch_timeout: Duration::from_secs(600),
            cancel_grace: Duration::from_secs(120),
            api_env: Vec::new(),
            bin_dir: None,
        }
    }
}

/// One drill's world: its own dev server, data directory, API process and stores.
pub struct Drill {
    /// Where the databases and the logs are.
    pub dir: PathBuf,
    /// The API process.
    pub api_process: Process,
    /// A client of the API.
    pub api: Api,
    /// The payments ledger (the same SQLite file the processes use).
    pub payments: PaymentStore,
    /// Offers and catches.
    pub catches: CatcherStore,
    server: Option<DevServer>,
    port: u16,
    bin_dir: Option<PathBuf>,
    counter: std::sync::atomic::AtomicU32,
    _one_at_a_time: tokio::sync::MutexGuard<'static, ()>,
}

impl Drill {
    /// Starts the dev server and the API; workers are the drill's to start.
    pub async fn start(name: &str, options: DrillOptions) -> Self {
        let guard = ONE_AT_A_TIME.lock().await;
        let dir = scratch_dir(&format!("drill-{name}")).expect("drill dir");
        let port = free_port().expect("port");
        let server = DevServer::start_on(&dir.join("temporal.db"), port).expect("dev server");
        let api_port = free_port().expect("port");
        let mut env = common_env(&dir, port);
        env.extend([
            ("API_ADDR".to_owned(), format!("127.0.0.1:{api_port}")),
            (
                "OPERATOR_PASSWORD".to_owned(),
                crate::OPERATOR_PASSWORD.to_owned(),
            ),
            (
                "PAYMENT_WINDOW".to_owned(),
                humantime::format_duration(options.payment_window).to_string(),
            ),
            (
                "DISPATCH_TIMEOUT".to_owned(),
                humantime::format_duration(options.dispatch_timeout).to_string(),
            ),
            (
                "CANCEL_GRACE".to_owned(),
                humantime::format_duration(options.cancel_grace).to_string(),
            ),
            // Outages of any length: a drill's calls are offered to their own area throughout,
            // and its drivers, signed in once, stay present.
            ("OFFER_WINDOW".to_owned(), "1h".to_owned()),
            ("PRESENCE_TIMEOUT".to_owned(), "1h".to_owned()),
        ]);
        let extra: Vec<(&str, &str)> = options
            .api_env
            .iter()
            .map(|(key, value)| (*key, value.as_str()))
            .collect();
        override_env(&mut env, &extra);
        let spec = Spec {
            name: "api".to_owned(),
            program: binary_in(options.bin_dir.as_deref(), "driver-call-api"),
            env,
            log: dir.join("api.log"),
        };
        let http = format!("http://127.0.0.1:{api_port}");
        let mut api_process = Process::spawn(spec, http.clone()).expect("api");
        api_process.wait_ready().await;
        let payments = PaymentStore::open_reader(&sqlite(&dir, "payment")).expect("payment db");
        let catches = CatcherStore::open_reader(&sqlite(&dir, "catcher")).expect("catcher db");
        Self {
            dir,
            api_process,
            api: Api::at(&http),
            payments,
            catches,
            server: Some(server),
            port,
            bin_dir: options.bin_dir,
            counter: Default::default(),
            _one_at_a_time: guard,
        }
    }

    /// Starts a worker process serving `contexts` (e.g. `"caller,catcher"`), with extra
    /// settings, and waits until it is ready.
    pub async fn worker(&self, contexts: &str, extra: &[(&str, &str)]) -> Process {
        let n = 1 + self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let http_port = free_port().expect("port");
        let metrics_port = free_port().expect("port");
        let mut env = common_env(&self.dir, self.port);
        env.extend([
            ("WORKER_CONTEXTS".to_owned(), contexts.to_owned()),
            (
                "WORKER_HTTP_ADDR".to_owned(),
                format!("127.0.0.1:{http_port}"),
            ),
            (
                "WORKER_METRICS_ADDR".to_owned(),
                format!("127.0.0.1:{metrics_port}"),
            ),
            ("WORKER_SHUTDOWN_GRACE".to_owned(), "10s".to_owned()),
        ]);
        override_env(&mut env, extra);
        let name = format!("worker-{n}-{}", contexts.replace(',', "-"));
        let spec = Spec {
            log: self.dir.join(format!("{name}.log")),
            name,
            program: binary_in(self.bin_dir.as_deref(), "driver-call-worker"),
            env,
        };
        let mut process =
            Process::spawn(spec, format!("http://127.0.0.1:{http_port}")).expect("worker");
        process.metrics = Some(format!("http://127.0.0.1:{metrics_port}"));
        process.wait_ready().await;
        process
    }

    /// Upgrades the drill to this build: the API is stopped (SIGTERM) and started again from this
    /// build's binary, and every worker started from now on is this build's (stopping the old
    /// ones is the drill's).
    pub async fn upgrade(&mut self) {
        self.api_process.terminate(Duration::from_secs(30)).await;
        self.api_process.spec.program = binary("driver-call-api");
        self.bin_dir = None;
        self.api_process.restart().await;
    }

    /// Starts a payment sandbox on `port` (a fresh one when `None`).
    pub async fn sandbox(&self, port: Option<u16>) -> Process {
        let port = port.unwrap_or_else(|| free_port().expect("port"));
        let spec = Spec {
            name: format!("sandbox-{port}"),
            program: binary("payment-sandbox"),
            env: vec![("SANDBOX_ADDR".to_owned(), format!("127.0.0.1:{port}"))],
            log: self.dir.join(format!("sandbox-{port}.log")),
        };
        let mut process =
            Process::spawn(spec, format!("http://127.0.0.1:{port}")).expect("sandbox");
        process.wait_ready().await;
        process
    }

    /// `kill -9` of the Temporal dev server.
    pub fn kill_server(&mut self) {
        if let Some(mut server) = self.server.take() {
            server.kill();
        }
    }

    /// Starts the dev server again on the same file and port.
    pub fn restart_server(&mut self) {
        assert!(self.server.is_none(), "the server is running");
        let server = DevServer::start_on(&self.dir.join("temporal.db"), self.port)
            .expect("dev server restarted");
        self.server = Some(server);
    }

    /// The call's payment rows with `status`.
    pub async fn payments_with(&self, call: &CallView, status: PaymentStatus) -> i64 {
        self.payments
            .count_by_call_and_status(&call.call_id.to_string(), status)
            .await
            .expect("payment query")
    }

    /// The drill's dev server, `host:port`.
    pub fn temporal_address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The call's workflow, through a client of the drill's server.
    pub async fn workflow(&self, call: &CallView) -> WorkflowHandle<Client, DriverCallWorkflow> {
        let client = crate::connect(&format!("127.0.0.1:{}", self.port))
            .await
            .expect("client");
        client.get_workflow_handle::<DriverCallWorkflow>(DriverCallWorkflow::workflow_id(
            &call.call_id,
        ))
    }

    /// Sends the update `name` with `argument` while no workflow worker polls, and leaves it with
    /// the server: the server admits it at once and keeps it for the next workflow task after the
    /// caller stops waiting (it cannot be asked to wait for admission alone).
    pub async fn admit_update(&self, call: &CallView, name: &str, argument: &Value) {
        use temporalio_client::grpc::WorkflowService;
        use temporalio_common::protos::temporal::api::common::v1::{
            Payload, Payloads, WorkflowExecution,
        };
        use temporalio_common::protos::temporal::api::enums::v1::UpdateWorkflowExecutionLifecycleStage;
        use temporalio_common::protos::temporal::api::update::v1::{
            Input, Meta, Request, WaitPolicy,
        };
        use temporalio_common::protos::temporal::api::workflowservice::v1::UpdateWorkflowExecutionRequest;

        let payload = Payload {
            metadata: [("encoding".to_owned(), b"json/plain".to_vec())].into(),
            data: serde_json::to_vec(argument).expect("json"),
            ..Default::default()
        };
        let request = UpdateWorkflowExecutionRequest {
            namespace: "default".to_owned(),
            workflow_execution: Some(WorkflowExecution {
                workflow_id: DriverCallWorkflow::workflow_id(&call.call_id),
                run_id: String::new(),
            }),
            wait_policy: Some(WaitPolicy {
                lifecycle_stage: UpdateWorkflowExecutionLifecycleStage::Accepted.into(),
            }),
            request: Some(Request {
                meta: Some(Meta {
                    update_id: uuid::Uuid::new_v4().to_string(),
                    identity: "drill".to_owned(),
                }),
                input: Some(Input {
                    header: None,
                    name: name.to_owned(),
                    args: Some(Payloads {
                        payloads: vec![payload],
                    }),
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut client = crate::connect(&format!("127.0.0.1:{}", self.port))
            .await
            .expect("client");
        let sent = client.update_workflow_execution(tonic::Request::new(request));
        // No worker can accept it yet, so the call only ends by this deadline.
        let waited = tokio::time::timeout(Duration::from_secs(2), sent).await;
        assert!(
            waited.is_err(),
            "the update was answered without a worker: {waited:?}"
        );
    }

    /// What the call's workflow waits for: whether a workflow task is pending, and the types of
    /// its pending activities.
    pub async fn pending_work(&self, call: &CallView) -> Option<(bool, Vec<String>)> {
        let description = self
            .workflow(call)
            .await
            .describe(Default::default())
            .await
            .ok()?
            .raw_description;
        let activities = description
            .pending_activities
            .iter()
            .filter_map(|a| a.activity_type.as_ref().map(|t| t.name.clone()))
            .collect();
        Some((description.pending_workflow_task.is_some(), activities))
    }

    /// The status of the call's payment row.
    pub async fn payment_status(&self, call: &CallView) -> Option<PaymentStatus> {
        let record = self
            .payments
            .find_by_call(&call.call_id.to_string())
            .await
            .expect("payment query");
        record.map(|p| p.status)
    }
}

/// The sandbox's charges for `call`.
pub async fn sandbox_charges(sandbox: &Process, call: &CallView) -> Vec<GatewayCharge> {
    let charges = sandbox
        .get_json(&format!("/charges?callId={}", call.call_id))
        .await;
    serde_json::from_value(charges).expect("charges")
}

/// Puts the sandbox in `mode` (with `delay_ms` for `slow`).
pub async fn set_sandbox_mode(sandbox: &Process, mode: &str, delay_ms: u64) {
    let answer = reqwest::Client::new()
        .put(format!("{}/sandbox/mode", sandbox.http))
        .json(&json!({"mode": mode, "delayMs": delay_ms}))
        .send()
        .await
        .expect("mode set");
    assert_eq!(answer.status(), 200, "sandbox mode");
}

/// The worker's `/status` document.
pub async fn worker_status(worker: &Process) -> Value {
    worker.get_json("/status").await
}

fn common_env(dir: &Path, temporal_port: u16) -> Vec<(String, String)> {
    vec![
        (
            "TEMPORAL_ADDRESS".to_owned(),
            format!("127.0.0.1:{temporal_port}"),
        ),
        ("TEMPORAL_NAMESPACE".to_owned(), "default".to_owned()),
        ("DATA_DIR".to_owned(), dir.display().to_string()),
    ]
}

fn override_env(env: &mut Vec<(String, String)>, extra: &[(&str, &str)]) {
    let mut map: HashMap<String, String> = env.drain(..).collect();
    for (key, value) in extra {
        map.insert((*key).to_owned(), (*value).to_owned());
    }
    env.extend(map);
}

fn sqlite(dir: &Path, context: &str) -> String {
    driver_call_stores::db::sqlite_url(dir, context)
}

/// The call's status, or `None` while the API cannot tell (Temporal or the worker restarting).
pub async fn status_of(api: &Api, call: &CallView) -> Option<CallStatus> {
    let answer = api
        .send(
            reqwest::Method::GET,
            &format!("/calls/{}", call.call_id),
            None,
        )
        .await;
    (answer.status == 200).then(|| answer.view().status)
}

/// Polls until the call is `status`, tolerating 503s while a component comes back.
pub async fn reaches(api: &Api, call: &CallView, status: CallStatus) {
    eventually(
        Duration::from_secs(90),
        &format!("call {} to be {status}", call.call_id),
        || async { (status_of(api, call).await == Some(status)).then_some(()) },
    )
    .await;
}

/// Sends `step` until it is answered (a 503 means "try again shortly"), and returns the answer.
pub async fn until_answered<F, Fut>(what: &str, mut step: F) -> Answer
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Answer>,
{
    eventually(Duration::from_secs(90), what, || {
        let sent = step();
        async move {
            let answer = sent.await;
            (answer.status != 503).then_some(answer)
        }
    })
    .await
}

/// Sends the driver's `arrive`, `start` and `complete`, each until answered.
pub async fn drive_to_completion(api: &Api, call: &CallView, driver: &str) {
    for step in ["arrive", "start", "complete"] {
        let answer = until_answered(step, || api.trip_step(call, step, driver)).await;
        assert_eq!(answer.status, 200, "{step}: {}", answer.body);
    }
}
