//! The load generator behind `scripts/bench`: N calls through the whole happy lifecycle over HTTP
//! at a chosen concurrency, against one fresh dev server, for one or more builds ("variants") run
//! alternately, so that a change is judged A/B in one run on one noisy machine.
//!
//! Each call: create, pay, wait for DISPATCHED, catch, arrive, start, complete, wait for
//! COMPLETED; every wait and every SSE delay is read from the call's own event stream
//! (`GET /calls/{id}/events`), which the API serves from the read model, so the waiting adds no
//! Temporal work. Per variant it reports calls/s, p50/p95/p99 per step and for the lifecycle, CPU
//! per call of the server, the worker and the API (from `/proc`), and events, activities and
//! workflow tasks per call from the recorded histories.
//!
//! With a hold ([`BenchOptions::hold`], the long-call mode, [`long`]) each call waits between its
//! steps, as a real call that lasts an hour does, so the CPU per call includes what a call costs
//! while it waits. [`watchers`] is another mode: what idle drivers' offers streams cost, and how
//! soon an offer reaches them; [`rest`] what open calls that nothing happens to cost, and idle
//! customers' event streams.

pub mod long;
pub mod rest;
mod streams;
pub mod watchers;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use driver_call_workflows::DriverCallWorkflow;
use driver_call_workflows::domain::{CallId, CallView};
use futures::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};
use temporalio_client::Client;

use crate::dev_server::{DevServer, die_with_this_thread, free_port};
use crate::{Api, connect, eventually};

/// One build under test: its name and the directory of its `driver-call-worker` and
/// `driver-call-api`.
#[derive(Debug, Clone)]
pub struct Variant {
    /// A short name for the tables (`head`, `base`, a commit).
    pub name: String,
    /// Where its binaries are.
    pub bin_dir: PathBuf,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Calls per variant and round.
    pub calls: usize,
    /// Calls in flight at once.
    pub concurrency: usize,
    /// Rounds; each round runs every variant once, alternating.
    pub rounds: usize,
    /// How long a call waits before each of its steps after the first (zero: none; see
    /// [`long`]).
    pub hold: Duration,
    /// The builds.
    pub variants: Vec<Variant>,
    /// Where the reports, logs and databases go.
    pub out_dir: PathBuf,
}

impl BenchOptions {
    /// The name of the reports and of the rounds' log directories: `bench`, or `long` with a
    /// hold (so a long run keeps the ordinary one's reports).
    pub fn report_name(&self) -> &'static str {
        if self.hold.is_zero() { "bench" } else { "long" }
    }
}

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Percentiles {
    /// Samples.
    pub n: usize,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
}

impl Percentiles {
    fn of(samples: &mut [f64]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let index = ((samples.len() as f64 - 1.0) * q).round() as usize;
            samples[index]
        };
        Self {
            n: samples.len(),
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
        }
    }
}

/// What one variant measured, over all its rounds.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VariantReport {
    /// The variant.
    pub name: String,
    /// Calls completed.
    pub calls: usize,
    /// Calls per second of load time.
    pub calls_per_second: f64,
    /// Per step, in ms: create, pay, dispatch (pay answered to DISPATCHED seen), catch, arrive,
    /// start, complete.
    pub steps: BTreeMap<String, Percentiles>,
    /// From the create request to COMPLETED seen on the stream, in ms.
    pub lifecycle: Percentiles,
    /// From a step's answer to its event on the call's stream, in ms.
    pub sse_delay: Percentiles,
    /// CPU milliseconds per call.
    pub cpu_ms_per_call: BTreeMap<String, f64>,
    /// Mean history events per call.
    pub events_per_call: f64,
    /// Mean activities scheduled per call.
    pub activities_per_call: f64,
    /// Mean workflow tasks per call.
    pub workflow_tasks_per_call: f64,
}

/// What one call measured.
#[derive(Debug, Default)]
struct CallSample {
    call_id: Option<CallId>,
    steps: Vec<(&'static str, f64)>,
    lifecycle: f64,
    sse_delays: Vec<f64>,
}

/// Runs the bench and writes `bench.json` and `bench.md` under `out_dir`.
pub async fn run(options: &BenchOptions) -> anyhow::Result<Vec<VariantReport>> {
    about_to_run(&options.variants, &options.out_dir)?;
    let server = start_server(&options.out_dir)?;
    let client = connect(&server.address()).await?;
    let mut totals: Vec<Measured> = options
        .variants
        .iter()
        .map(|_| Measured::default())
        .collect();
    for round in 0..options.rounds {
        for (variant, total) in options.variants.iter().zip(&mut totals) {
            let dir = options.out_dir.join(round_dir(options, variant, round));
            let measured = run_variant(options, variant, &server, &client, &dir).await?;
            total.add(measured);
        }
    }
    let reports: Vec<VariantReport> = options
        .variants
        .iter()
        .zip(totals)
        .map(|(variant, total)| total.report(&variant.name))
        .collect();
    write_reports(options, &reports)?;
    Ok(reports)
}

/// The directory of a variant's round: `<variant>-<round>`, `long-<variant>-<round>` with a hold.
fn round_dir(options: &BenchOptions, variant: &Variant, round: usize) -> String {
    let name = format!("{}-{round}", variant.name);
    if options.hold.is_zero() {
        name
    } else {
        format!("{}-{name}", options.report_name())
    }
}

/// Checks that there is a variant to run, and makes the directory of the reports.
fn about_to_run(variants: &[Variant], out_dir: &Path) -> anyhow::Result<()> {
    if variants.is_empty() {
        bail!("no variant to run");
    }
    std::fs::create_dir_all(out_dir)?;
    Ok(())
}

/// Writes a mode's reports in `out_dir`: `<name>.json` and `<name>.md`.
fn write_report(out_dir: &Path, name: &str, json: &Value, markdown: String) -> anyhow::Result<()> {
    let pretty = serde_json::to_string_pretty(json)?;
    std::fs::write(out_dir.join(format!("{name}.json")), pretty)?;
    std::fs::write(out_dir.join(format!("{name}.md")), markdown)?;
    Ok(())
}

/// A fresh dev server keeping its history in `dir` (an earlier run's removed).
fn start_server(dir: &Path) -> anyhow::Result<DevServer> {
    let db = dir.join("temporal.db");
    let _ = std::fs::remove_file(&db);
    DevServer::start_on(&db, free_port()?)
}

/// An empty `dir`: a variant's stores start empty in every run, not with an earlier run's.
fn fresh_dir(dir: &Path) -> anyhow::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("clear {}", dir.display()));
        }
        _ => {}
    }
    std::fs::create_dir_all(dir)?;
    Ok(())
}

/// What one variant's round measured, and, added up, all its rounds.
#[derive(Default)]
struct Measured {
    samples: Vec<CallSample>,
    load_secs: f64,
    cpu_secs: BTreeMap<String, f64>,
    events: usize,
    activities: usize,
    workflow_tasks: usize,
}

impl Measured {
    fn add(&mut self, round: Measured) {
        self.load_secs += round.load_secs;
        for (process, secs) in round.cpu_secs {
            *self.cpu_secs.entry(process).or_default() += secs;
        }
        self.events += round.events;
        self.activities += round.activities;
        self.workflow_tasks += round.workflow_tasks;
        self.samples.extend(round.samples);
    }

    fn report(mut self, name: &str) -> VariantReport {
        let calls = self.samples.len();
        let per_call = |n: f64| if calls == 0 { 0.0 } else { n / calls as f64 };
        let mut steps: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        let mut lifecycle = Vec::new();
        let mut sse = Vec::new();
        for sample in &mut self.samples {
            for (step, ms) in &sample.steps {
                steps.entry((*step).to_owned()).or_default().push(*ms);
            }
            lifecycle.push(sample.lifecycle);
            sse.append(&mut sample.sse_delays);
        }
        VariantReport {
            name: name.to_owned(),
            calls,
            calls_per_second: calls as f64 / self.load_secs.max(f64::EPSILON),
            steps: steps
                .into_iter()
                .map(|(step, mut ms)| (step, Percentiles::of(&mut ms)))
                .collect(),
            lifecycle: Percentiles::of(&mut lifecycle),
            sse_delay: Percentiles::of(&mut sse),
            cpu_ms_per_call: self
                .cpu_secs
                .into_iter()
                .map(|(process, secs)| (process, per_call(secs * 1000.0)))
                .collect(),
            events_per_call: per_call(self.events as f64),
            activities_per_call: per_call(self.activities as f64),
            workflow_tasks_per_call: per_call(self.workflow_tasks as f64),
        }
    }
}

async fn run_variant(
    options: &BenchOptions,
    variant: &Variant,
    server: &DevServer,
    client: &Client,
    dir: &Path,
) -> anyhow::Result<Measured> {
    fresh_dir(dir)?;
    // A driver not heard from for PRESENCE_TIMEOUT goes offline: the bench's, online once
    // before the load, stay present however long it runs (builds before presence ignore it).
    let mut settings = vec![("PRESENCE_TIMEOUT", "1h".to_owned())];
    if !options.hold.is_zero() {
        settings.extend(OPEN_FOR_HOURS.map(|(name, value)| (name, value.to_owned())));
    }
    let system = System::start(variant, server, dir, &settings).await?;
    let pids = [
        ("server", server.pid()),
        ("worker", system.worker.id()),
        ("api", system.api_process.id()),
    ];
    let api = Api::at(&system.api_url);
    // Everyone signs in before the measured window (an API without sign-in takes no tokens),
    // and the drivers go online (builds from before availability answer 404: they offer every
    // call to all its area's drivers).
    for i in 0..options.calls.min(PEOPLE) {
        api.as_customer(&customer_mobile(i)).token().await;
    }
    for i in 0..options.calls {
        let driver = api.as_driver(&driver_name(i));
        driver.token().await;
        let online = Some(json!({"online": true}));
        let path = "/drivers/me/availability";
        driver.send(reqwest::Method::PUT, path, online).await;
    }
    let before = pids.map(|(name, pid)| (name, cpu_seconds(pid)));
    let started = Instant::now();
    let base = system.api_url.clone();
    let next = Arc::new(Mutex::new(0..options.calls));
    let lanes = (0..options.concurrency.max(1)).map(|_| {
        let (api, next, base) = (api.clone(), next.clone(), base.clone());
        let hold = options.hold;
        async move {
            let mut samples = Vec::new();
            loop {
                let Some(i) = next.lock().expect("lock").next() else {
                    break;
                };
                samples.push(one_call(&api, &base, i, hold).await?);
            }
            anyhow::Ok(samples)
        }
    });
    let mut samples = Vec::new();
    for lane in futures::future::join_all(lanes).await {
        samples.extend(lane?);
    }
    let load_secs = started.elapsed().as_secs_f64();
    let cpu_secs = before
        .into_iter()
        .zip(pids)
        .map(|((name, then), (_, pid))| (name.to_owned(), cpu_seconds(pid) - then))
        .collect();
    let (events, activities, workflow_tasks) = history_counts(client, &samples).await?;
    drop(system);
    Ok(Measured {
        samples,
        load_secs,
        cpu_secs,
        events,
        activities,
        workflow_tasks,
    })
}

/// The API's time limits for calls that stay open (the long-call and rest modes): far beyond any
/// wait of the bench, so that no call expires while it waits to be paid or caught, and no offer
/// widens to further drivers (the calls record the ordinary bench's events, plus the waiting).
const OPEN_FOR_HOURS: [(&str, &str); 3] = [
    ("PAYMENT_WINDOW", "6h"),
    ("DISPATCH_TIMEOUT", "6h"),
    ("OFFER_WINDOW", "6h"),
];

/// How many customers share the benchmark's calls.
const PEOPLE: usize = 20;

/// The customer of the `i`th call.
fn customer_mobile(i: usize) -> String {
    format!("010-7000-{:04}", i % PEOPLE)
}

/// The driver of the `i`th call: one per call, since a driver on a call is offered no other
/// until it ends.
fn driver_name(i: usize) -> String {
    format!("bench-{i}")
}

/// The body of `POST /calls` for the customer with `mobile`, picked up at `location`.
pub(crate) fn call_request(mobile: &str, location: &str) -> Value {
    json!({
        "mobile": mobile,
        "location": location,
        "destination": "Home",
        "payType": "CARD",
        "payAmount": 15000,
    })
}

/// The call a `POST /calls` made, or why it made none.
pub(crate) fn created(answer: crate::Answer) -> anyhow::Result<CallView> {
    if answer.status != 201 {
        bail!("create answered {}: {}", answer.status, answer.body);
    }
    Ok(answer.view())
}

/// One call through its whole happy lifecycle, waiting `hold` before each step after the
/// create (none when zero).
async fn one_call(api: &Api, base: &str, i: usize, hold: Duration) -> anyhow::Result<CallSample> {
    let mut sample = CallSample::default();
    let started = Instant::now();
    let customer = api.as_customer(&customer_mobile(i));
    let body = call_request(&customer_mobile(i), "Mapo Hapjeong");
    let answer = timed(&mut sample, "create", || {
        customer.send(reqwest::Method::POST, "/calls", Some(body.clone()))
    })
    .await;
    let call = created(answer)?;
    sample.call_id = Some(call.call_id);
    let stream = EventStream::open(base, &call.call_id, customer.token().await).await?;

    long::wait(hold).await;
    let paid = timed(&mut sample, "pay", || api.pay(&call)).await;
    check(&paid, "pay")?;
    let answered = Instant::now();
    let dispatched = stream.wait_for_status("DISPATCHED").await?;
    sample.steps.push(("dispatch", ms(dispatched - answered)));
    sample
        .sse_delays
        .push(stream.delay("CallPayed", answered).await?);

    let driver = driver_name(i);
    long::wait(hold).await;
    let caught = timed(&mut sample, "catch", || api.catch(&call, &driver)).await;
    check(&caught, "catch")?;
    sample
        .sse_delays
        .push(stream.delay("CallCaught", Instant::now()).await?);
    for (step, event) in [
        ("arrive", "DriverArrived"),
        ("start", "TripStarted"),
        ("complete", "TripCompleted"),
    ] {
        long::wait(hold).await;
        let answer = timed(&mut sample, step, || api.trip_step(&call, step, &driver)).await;
        check(&answer, step)?;
        sample
            .sse_delays
            .push(stream.delay(event, Instant::now()).await?);
    }
    stream.wait_for_status("COMPLETED").await?;
    sample.lifecycle = ms(started.elapsed());
    Ok(sample)
}

fn check(answer: &crate::Answer, step: &str) -> anyhow::Result<()> {
    if answer.status != 200 {
        bail!("{step} answered {}: {}", answer.status, answer.body);
    }
    Ok(())
}

async fn timed<F, Fut>(sample: &mut CallSample, step: &'static str, send: F) -> crate::Answer
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = crate::Answer>,
{
    let started = Instant::now();
    let answer = send().await;
    sample.steps.push((step, ms(started.elapsed())));
    answer
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// An event seen on a stream: its name, the call's status after it, and when it arrived.
type Seen = (String, Option<String>, Instant);

/// A call's event stream, read in the background: each event with the moment it arrived.
struct EventStream {
    seen: Arc<Mutex<Vec<Seen>>>,
    reader: tokio::task::JoinHandle<()>,
}

impl EventStream {
    async fn open(base: &str, call_id: &CallId, token: Option<String>) -> anyhow::Result<Self> {
        let mut request = reqwest::Client::new().get(format!("{base}/calls/{call_id}/events"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.context("open the event stream")?;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let writer = seen.clone();
        let reader = tokio::spawn(async move {
            let mut body = response.bytes_stream();
            let mut buffer = String::new();
            while let Some(Ok(chunk)) = body.next().await {
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find('\n') {
                    let line: String = buffer.drain(..=end).collect();
                    let Some(data) = line.trim_end().strip_prefix("data:") else {
                        continue;
                    };
                    let Ok(event) = serde_json::from_str::<Value>(data.trim()) else {
                        continue;
                    };
                    let name = event["event"].as_str().unwrap_or_default().to_owned();
                    let status = event["status"].as_str().map(str::to_owned);
                    writer
                        .lock()
                        .expect("lock")
                        .push((name, status, Instant::now()));
                }
            }
        });
        Ok(Self { seen, reader })
    }

    async fn wait_for(
        &self,
        what: &str,
        matches: impl Fn(&str, Option<&str>) -> bool,
    ) -> anyhow::Result<Instant> {
        let found = eventually(Duration::from_secs(120), what, || {
            let found = self
                .seen
                .lock()
                .expect("lock")
                .iter()
                .find(|(name, status, _)| matches(name, status.as_deref()))
                .map(|(_, _, at)| *at);
            async move { found }
        })
        .await;
        Ok(found)
    }

    async fn wait_for_status(&self, status: &str) -> anyhow::Result<Instant> {
        self.wait_for(status, |_, s| s == Some(status)).await
    }

    /// Milliseconds from `answered` to `event` on the stream (0 when it came first).
    async fn delay(&self, event: &str, answered: Instant) -> anyhow::Result<f64> {
        let at = self.wait_for(event, |name, _| name == event).await?;
        Ok(ms(at.saturating_duration_since(answered)))
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// The variant's worker and API, on their own data directory and ports.
struct System {
    worker: Child,
    api_process: Child,
    api_url: String,
}

impl System {
    /// Starts them with the bench's settings and `extra` ones.
    async fn start(
        variant: &Variant,
        server: &DevServer,
        dir: &Path,
        extra: &[(&'static str, String)],
    ) -> anyhow::Result<Self> {
        let launcher = Launcher::new(variant, server, dir, extra);
        let (worker, _) = launcher.worker(&[], "driver-call-worker")?;
        let (api_process, api_url) = launcher.api()?;
        wait_ready(&api_url, "the bench's API").await;
        Ok(Self {
            worker,
            api_process,
            api_url,
        })
    }
}

impl Drop for System {
    fn drop(&mut self) {
        stop(&mut self.api_process);
        stop(&mut self.worker);
    }
}

/// Kills a process of the bench and waits for it to exit.
fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Starts a variant's processes: its binaries with the bench's settings (the dev server, the
/// data directory, the operator's password, quiet logs) and `extra` ones, each on free ports and
/// logging to a file of its own in the directory.
#[derive(Clone)]
struct Launcher {
    variant: Variant,
    dir: PathBuf,
    env: Vec<(&'static str, String)>,
}

impl Launcher {
    fn new(
        variant: &Variant,
        server: &DevServer,
        dir: &Path,
        extra: &[(&'static str, String)],
    ) -> Self {
        let mut env = vec![
            ("TEMPORAL_ADDRESS", server.address()),
            ("DATA_DIR", dir.display().to_string()),
            ("OPERATOR_PASSWORD", crate::OPERATOR_PASSWORD.to_owned()),
            ("RUST_LOG", "warn".to_owned()),
        ];
        env.extend_from_slice(extra);
        Self {
            variant: variant.clone(),
            dir: dir.to_owned(),
            env,
        }
    }

    /// A worker serving `contexts` (every one when none is named), logging to `<log>.log`; and
    /// its base URL (of `/readyz`).
    fn worker(&self, contexts: &[&str], log: &str) -> anyhow::Result<(Child, String)> {
        let [probes, metrics] = [0; 2].map(|_| free_port().unwrap_or(0));
        let args: Vec<&str> = contexts.iter().flat_map(|c| ["--context", *c]).collect();
        let ports = [
            ("WORKER_HTTP_ADDR", format!("127.0.0.1:{probes}")),
            ("WORKER_METRICS_ADDR", format!("127.0.0.1:{metrics}")),
        ];
        let child = self.spawn("driver-call-worker", log, &args, &ports)?;
        Ok((child, format!("http://127.0.0.1:{probes}")))
    }

    /// The API, logging to `driver-call-api.log`; and its base URL.
    fn api(&self) -> anyhow::Result<(Child, String)> {
        let port = free_port()?;
        let address = [("API_ADDR", format!("127.0.0.1:{port}"))];
        let child = self.spawn("driver-call-api", "driver-call-api", &[], &address)?;
        Ok((child, format!("http://127.0.0.1:{port}")))
    }

    fn spawn(
        &self,
        binary: &str,
        log: &str,
        args: &[&str],
        env: &[(&str, String)],
    ) -> anyhow::Result<Child> {
        let path = self.variant.bin_dir.join(binary);
        let log = std::fs::File::create(self.dir.join(format!("{log}.log")))?;
        let mut command = Command::new(&path);
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            // The keys of the bench's own client (a commit before encryption ignores them).
            .env("PAYLOAD_KEYS", crate::TEST_PAYLOAD_KEYS)
            .env("MOBILE_HASH_KEY", crate::TEST_MOBILE_HASH_KEY)
            .envs(self.env.iter().chain(env).map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        die_with_this_thread(&mut command);
        command
            .spawn()
            .with_context(|| format!("start {}", path.display()))
    }
}

/// Waits until the process at `base` answers its `/readyz` with 200 (the API: once every store
/// it reads has been migrated by its owner).
async fn wait_ready(base: &str, what: &str) {
    let readyz = format!("{base}/readyz");
    eventually(Duration::from_secs(120), &format!("{what} ready"), || {
        let request = reqwest::get(readyz.clone());
        async move { request.await.ok().filter(|r| r.status() == 200).map(|_| ()) }
    })
    .await;
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // pid (comm) state ppid ... : fields after the comm, utime and stime are the 12th and 13th.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11..13]
        .iter()
        .filter_map(|f| f.parse::<f64>().ok())
        .sum();
    #[allow(unsafe_code)]
    // SAFETY: sysconf reads a constant of the system.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks / per_second.max(1.0)
}

/// Resident memory of a process, in MiB (`VmRSS` in `/proc/<pid>/status`; 0 once it is gone).
fn rss_mib(pid: u32) -> f64 {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return 0.0;
    };
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        });
    kib.unwrap_or(0.0) / 1024.0
}

/// CPU milliseconds per second of each process over `window`.
async fn cpu_over(window: Duration, pids: &[(&str, u32)]) -> BTreeMap<String, f64> {
    let before: Vec<f64> = pids.iter().map(|(_, pid)| cpu_seconds(*pid)).collect();
    let started = Instant::now();
    tokio::time::sleep(window).await;
    let secs = started.elapsed().as_secs_f64();
    pids.iter()
        .zip(before)
        .map(|((name, pid), then)| {
            let spent = cpu_seconds(*pid) - then;
            ((*name).to_owned(), spent * 1000.0 / secs)
        })
        .collect()
}

/// Events, activities and workflow tasks in the histories of the calls.
async fn history_counts(
    client: &Client,
    samples: &[CallSample],
) -> anyhow::Result<(usize, usize, usize)> {
    use temporalio_common::protos::temporal::api::enums::v1::EventType;
    let (mut events, mut activities, mut tasks) = (0, 0, 0);
    for call_id in samples.iter().filter_map(|s| s.call_id) {
        let handle = client
            .get_workflow_handle::<DriverCallWorkflow>(DriverCallWorkflow::workflow_id(&call_id));
        let json = handle.fetch_history(Default::default()).to_json().await?;
        let history: Value = serde_json::from_slice(&json)?;
        let types: Vec<i64> = history["events"]
            .as_array()
            .map(|e| e.iter().filter_map(|e| e["event_type"].as_i64()).collect())
            .unwrap_or_default();
        events += types.len();
        activities += count(&types, EventType::ActivityTaskScheduled);
        tasks += count(&types, EventType::WorkflowTaskScheduled);
    }
    Ok((events, activities, tasks))
}

fn count(
    types: &[i64],
    wanted: temporalio_common::protos::temporal::api::enums::v1::EventType,
) -> usize {
    types.iter().filter(|t| **t == wanted as i64).count()
}

fn write_reports(options: &BenchOptions, reports: &[VariantReport]) -> anyhow::Result<()> {
    let json = json!({
        "calls": options.calls,
        "concurrency": options.concurrency,
        "rounds": options.rounds,
        "holdSecs": options.hold.as_secs_f64(),
        "variants": reports,
    });
    let name = options.report_name();
    write_report(&options.out_dir, name, &json, markdown(options, reports))
}

/// The reports as one Markdown table, a column per variant and, with two, the ratio of the
/// second to the first.
pub fn markdown(options: &BenchOptions, reports: &[VariantReport]) -> String {
    let mut rows = Vec::new();
    let mut row = |metric: String, value: &dyn Fn(&VariantReport) -> f64| {
        rows.push(Row::each(metric, 1, reports, value));
    };
    row("calls/s".into(), &|r| r.calls_per_second);
    row("history events per call".into(), &|r| r.events_per_call);
    row("activities per call".into(), &|r| r.activities_per_call);
    row("workflow tasks per call".into(), &|r| {
        r.workflow_tasks_per_call
    });
    for process in ["server", "worker", "api"] {
        row(format!("{process} CPU ms per call"), &|r| {
            r.cpu_ms_per_call.get(process).copied().unwrap_or(0.0)
        });
    }
    row("lifecycle p50 ms".into(), &|r| r.lifecycle.p50);
    row("lifecycle p95 ms".into(), &|r| r.lifecycle.p95);
    for step in [
        "create", "pay", "dispatch", "catch", "arrive", "start", "complete",
    ] {
        let of = |r: &VariantReport| r.steps.get(step).cloned().unwrap_or_default();
        row(format!("{step} p50 ms"), &|r| of(r).p50);
        row(format!("{step} p95 ms"), &|r| of(r).p95);
        row(format!("{step} p99 ms"), &|r| of(r).p99);
    }
    row("SSE delay p50 ms".into(), &|r| r.sse_delay.p50);
    row("SSE delay p95 ms".into(), &|r| r.sse_delay.p95);

    let names: Vec<&str> = reports.iter().map(|r| r.name.as_str()).collect();
    let hold = if options.hold.is_zero() {
        String::new()
    } else {
        format!(
            ", each step after the create {} later (the lifecycle includes the waits)",
            humantime::format_duration(options.hold)
        )
    };
    format!(
        "{} calls per variant and round, concurrency {}, {} round(s), alternating{hold}\n\n{}",
        options.calls,
        options.concurrency,
        options.rounds,
        table(&names, &[""], &rows)
    )
}

/// One row of a table: a metric, its value in each column (`None`: not measured there), and
/// the decimals it is shown with.
pub(crate) struct Row {
    metric: String,
    values: Vec<Option<f64>>,
    decimals: usize,
}

impl Row {
    pub(crate) fn new(
        metric: impl Into<String>,
        decimals: usize,
        values: impl IntoIterator<Item = Option<f64>>,
    ) -> Self {
        Self {
            metric: metric.into(),
            values: values.into_iter().collect(),
            decimals,
        }
    }

    /// A row of one value per report (a table of one setting).
    pub(crate) fn each<R>(
        metric: impl Into<String>,
        decimals: usize,
        reports: &[R],
        value: impl Fn(&R) -> f64,
    ) -> Self {
        Self::new(metric, decimals, reports.iter().map(|r| Some(value(r))))
    }
}

/// A Markdown table: a row per metric, a column per variant in each of `settings` (the
/// conditions every variant was measured in; `[""]` for one), each row's values in that order
/// (the first variant's settings, then the second's); and, with two variants, the ratio of the
/// second to the first in each setting, the column a change is judged by ("-" where the first is
/// zero or either was not measured).
pub(crate) fn table(names: &[&str], settings: &[&str], rows: &[Row]) -> String {
    let label = |name: &str, setting: &str| match setting {
        "" => name.to_owned(),
        _ => format!("{name}, {setting}"),
    };
    let ratio = names.len() == 2;
    let mut columns: Vec<String> = names
        .iter()
        .flat_map(|name| settings.iter().map(|setting| label(name, setting)))
        .collect();
    if ratio {
        let of = format!("{} / {}", names[1], names[0]);
        columns.extend(settings.iter().map(|setting| label(&of, setting)));
    }
    let mut out = format!(
        "| metric | {} |\n|---|{}",
        columns.join(" | "),
        "---|".repeat(columns.len())
    );
    for row in rows {
        out.push_str(&format!("\n| {} |", row.metric));
        for value in &row.values {
            out.push_str(&cell(*value, row.decimals));
        }
        if ratio {
            let (first, second) = row.values.split_at(settings.len());
            for (a, b) in first.iter().zip(second) {
                let r = match (a, b) {
                    (Some(a), Some(b)) if a.abs() > f64::EPSILON => Some(b / a),
                    _ => None,
                };
                out.push_str(&cell(r, 2));
            }
        }
    }
    out.push('\n');
    out
}

fn cell(value: Option<f64>, decimals: usize) -> String {
    match value {
        Some(value) => format!(" {value:.decimals$} |"),
        None => " - |".to_owned(),
    }
}
