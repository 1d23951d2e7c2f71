//! The rest mode of `scripts/bench` (`--rest N`): what open calls that nothing happens to cost,
//! and what idle customers' event streams cost the API.
//!
//! A real call sits open for most of its life: waiting to be paid, to be caught, for the driver.
//! The ordinary bench's calls last seconds, so what an open call costs while it waits is hidden
//! in its CPU per call; here N calls are opened and left alone. Per variant, on a dev server of
//! its own (one variant's open calls would load the other's turn), each context's worker runs as
//! a process of its own (`--context caller`, `payment`, `catcher`, `dashboard`) beside the API,
//! whose payment window and dispatch timeout are hours, so nothing happens to the calls:
//!
//! 1. customers sign in and open N calls (CREATED, unpaid); after `--settle`, two windows of
//!    `--window` measure the CPU per second and the resident memory of the dev server, each
//!    worker and the API: **all contexts**;
//! 2. the dashboard worker (which follows the calls' histories into the read model) is killed,
//!    and after the settle the same two windows: **dashboard stopped**;
//! 3. nothing restarted, the API's CPU over one window with **no stream** open, then over one
//!    with M customers' event streams (`GET /dashboards/events`, one HTTP/1.1 connection each,
//!    round the customers) open and idle;
//! 4. the dashboard worker started again, one payment is waited for on its customer's streams
//!    (a new worker takes the calls over once the killed one's leases have lapsed); then K open
//!    calls of customers with streams are paid one at a time, a second apart, each timed from the
//!    pay answer to its `CallPayed` on every stream of its customer.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, bail};
use driver_call_workflows::domain::CallView;
use futures::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};

use super::streams::{Listener, Streams, event_of, make_room_for};
use super::{
    Launcher, OPEN_FOR_HOURS, Percentiles, Row, Variant, about_to_run, call_request, cpu_over,
    created, fresh_dir, ms, rss_mib, start_server, stop, table, wait_ready, write_report,
};
use crate::Api;
use crate::dev_server::DevServer;

/// What to run.
#[derive(Debug, Clone)]
pub struct RestOptions {
    /// Calls opened and left alone.
    pub calls: usize,
    /// Calls opened at once.
    pub concurrency: usize,
    /// How long everything rests before a measurement (after the last call was opened, after
    /// the dashboard worker stopped).
    pub settle: Duration,
    /// How long each measurement window lasts.
    pub window: Duration,
    /// Customers' event streams held open.
    pub streams: usize,
    /// Open calls paid one at a time and timed onto their customers' streams.
    pub timed: usize,
    /// The builds, run one after the other, each on its own dev server.
    pub variants: Vec<Variant>,
    /// Where the reports, the logs and the dev servers' histories go.
    pub out_dir: PathBuf,
}

/// What one process used over one window.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// CPU milliseconds per second (utime + stime).
    pub cpu_ms_per_sec: f64,
    /// Resident memory at the window's end, in MiB.
    pub rss_mib: f64,
}

/// What each process used over one window, by process: `server`, the workers by their context
/// (`caller`, `payment`, `catcher`, `dashboard`), `api`.
pub type Window = BTreeMap<String, Usage>;

/// What one variant measured.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestReport {
    /// The variant.
    pub name: String,
    /// Calls opened.
    pub calls: usize,
    /// The windows at rest with every context's worker running.
    pub all_contexts: Vec<Window>,
    /// The windows at rest with the dashboard worker stopped.
    pub dashboard_stopped: Vec<Window>,
    /// Customers' event streams held open.
    pub streams: usize,
    /// Streams that brought their customer's events so far on opening.
    pub streams_heard: usize,
    /// The window before any stream was opened.
    pub no_stream: Window,
    /// The window with the streams open and idle.
    pub with_streams: Window,
    /// Calls paid and timed.
    pub timed: usize,
    /// (paid call, stream of its customer) pairs: the deliveries due.
    pub due: usize,
    /// Deliveries that arrived within [`DELIVERY`] of the pay answer.
    pub arrived: usize,
    /// From the pay answer to the call's `CallPayed` on a stream of its customer, in ms.
    pub delivery: Percentiles,
    /// Streams that ended before the run did.
    pub streams_ended: usize,
}

/// The contexts, each served by a worker process of its own.
const CONTEXTS: [&str; 4] = ["caller", "payment", "catcher", "dashboard"];
/// The context stopped in the second phase: it follows the calls' histories into the read model,
/// so what it costs at rest is what stopping it takes away.
const DASHBOARD: &str = "dashboard";
/// Windows per phase at rest: two, so that a drift between them shows.
const WINDOWS: usize = 2;
/// How many customers share the calls (each has their streams and their calls).
const CUSTOMERS: usize = 100;
/// How long a paid call's `CallPayed` may take to reach its customer's streams.
pub const DELIVERY: Duration = Duration::from_secs(10);
/// How long the streams may take to bring their customers' events so far, and the restarted
/// dashboard worker its first payment.
const OPENING: Duration = Duration::from_secs(120);
/// The pause between two timed payments.
const PAUSE: Duration = Duration::from_secs(1);

/// Runs the rest mode and writes `rest.json` and `rest.md` under `out_dir`.
pub async fn run(options: &RestOptions) -> anyhow::Result<Vec<RestReport>> {
    about_to_run(&options.variants, &options.out_dir)?;
    make_room_for(options.streams)?;
    let mut reports = Vec::new();
    for variant in &options.variants {
        let dir = options.out_dir.join(format!("rest-{}", variant.name));
        reports.push(run_variant(options, variant, &dir).await?);
    }
    let json = json!({
        "calls": options.calls,
        "customers": customers(options),
        "settleSecs": options.settle.as_secs_f64(),
        "windowSecs": options.window.as_secs_f64(),
        "streams": options.streams,
        "timed": options.timed,
        "variants": reports,
    });
    write_report(&options.out_dir, "rest", &json, markdown(options, &reports))?;
    Ok(reports)
}

async fn run_variant(
    options: &RestOptions,
    variant: &Variant,
    dir: &Path,
) -> anyhow::Result<RestReport> {
    fresh_dir(dir)?;
    let server = start_server(dir)?;
    let mut deployment = Deployment::start(variant, &server, dir).await?;
    let api = Api::at(&deployment.api_url);
    let tokens = sign_in(&api, customers(options)).await?;
    say(variant, &format!("opening {} calls", options.calls));
    let calls = open_calls(&api, options).await?;

    say(variant, "at rest, every context");
    let all_contexts = at_rest(options, &deployment.pids(&server)).await;
    deployment.stop_worker(DASHBOARD);
    say(variant, "at rest, the dashboard worker stopped");
    let dashboard_stopped = at_rest(options, &deployment.pids(&server)).await;

    say(variant, "idle customer streams");
    let pids = deployment.pids(&server);
    let no_stream = usage_over(options.window, &pids).await;
    let mut streams = open_streams(&deployment.api_url, &tokens, options.streams).await?;
    let streams_heard = streams.count(|s| s.heard);
    tokio::time::sleep(options.window.min(Duration::from_secs(3))).await;
    let with_streams = usage_over(options.window, &pids).await;

    say(variant, "payments timed onto the streams");
    deployment.start_worker(DASHBOARD, "again").await?;
    let payments = pay_one_by_one(&api, &mut streams, options, &calls).await?;
    let mut deliveries = Deliveries::of(&payments, &streams, options);
    Ok(RestReport {
        name: variant.name.clone(),
        calls: calls.len(),
        all_contexts,
        dashboard_stopped,
        streams: options.streams,
        streams_heard,
        no_stream,
        with_streams,
        timed: payments.len(),
        due: deliveries.due,
        arrived: deliveries.delays.len(),
        delivery: Percentiles::of(&mut deliveries.delays),
        streams_ended: streams.count(|s| s.ended),
    })
}

/// The settle, then [`WINDOWS`] windows of what each process uses.
async fn at_rest(options: &RestOptions, pids: &[(&str, u32)]) -> Vec<Window> {
    tokio::time::sleep(options.settle).await;
    let mut measured = Vec::new();
    for _ in 0..WINDOWS {
        measured.push(usage_over(options.window, pids).await);
    }
    measured
}

/// Pays a first watched call and waits for it on its customer's streams (the restarted
/// dashboard worker takes the calls over once the killed one's leases have lapsed), then the timed
/// ones, a [`PAUSE`] apart, and waits until every delivery came or [`DELIVERY`] has passed since
/// the last pay answer.
async fn pay_one_by_one(
    api: &Api,
    streams: &mut Streams<CustomerStream>,
    options: &RestOptions,
    calls: &[CallView],
) -> anyhow::Result<Vec<Payment>> {
    let watched = watched_calls(options, calls)?;
    let (customer, call) = watched[0];
    let first = Payment::make(api, customer, call).await?;
    let deadline = first.answered + OPENING;
    if !streams
        .until(deadline, |s| first.delivered(s, options))
        .await
    {
        bail!("the restarted dashboard worker delivered no payment within {OPENING:?}");
    }
    let mut payments = Vec::new();
    for (customer, call) in &watched[1..] {
        tokio::time::sleep(PAUSE).await;
        payments.push(Payment::make(api, *customer, call).await?);
    }
    let deadline = payments.last().map_or(Instant::now(), |p| p.answered) + DELIVERY;
    let delivered =
        |s: &[Arc<Mutex<CustomerStream>>]| payments.iter().all(|p| p.delivered(s, options));
    streams.until(deadline, delivered).await;
    Ok(payments)
}

/// A line on stderr saying where a long run is.
fn say(variant: &Variant, what: &str) {
    eprintln!("rest mode, {}: {what}", variant.name);
}

/// How many customers share the calls: [`CUSTOMERS`], or one per call when there are fewer.
fn customers(options: &RestOptions) -> usize {
    options.calls.clamp(1, CUSTOMERS)
}

/// The `c`th customer.
fn customer_mobile(c: usize) -> String {
    format!("010-7200-{c:04}")
}

/// The customers' access tokens, each signed in once before anything is measured.
async fn sign_in(api: &Api, customers: usize) -> anyhow::Result<Vec<String>> {
    let mut tokens = Vec::new();
    for c in 0..customers {
        let token = api.as_customer(&customer_mobile(c)).token().await;
        tokens
            .push(token.context("a customer signs in (the rest mode needs an API with sign-in)")?);
    }
    Ok(tokens)
}

/// Opens the calls, `concurrency` at a time, the `i`th by customer `i % customers`.
async fn open_calls(api: &Api, options: &RestOptions) -> anyhow::Result<Vec<CallView>> {
    let customers = customers(options);
    futures::stream::iter(0..options.calls)
        .map(|i| {
            let mobile = customer_mobile(i % customers);
            let customer = api.as_customer(&mobile);
            async move {
                let body = call_request(&mobile, "Mapo Hapjeong");
                created(
                    customer
                        .send(reqwest::Method::POST, "/calls", Some(body))
                        .await,
                )
            }
        })
        .buffered(options.concurrency.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// The customer of the `j`th stream (and of the `j`th call): round the customers, so every
/// customer has a stream when there are at least as many streams as customers.
fn customer_of(j: usize, options: &RestOptions) -> usize {
    j % customers(options)
}

/// The streams of customer `c`.
fn streams_of(c: usize, options: &RestOptions) -> impl Iterator<Item = usize> {
    let customers = customers(options);
    (c..options.streams).step_by(customers)
}

/// The calls of the first payment (the restarted worker's first delivery, not timed) and of the
/// timed ones, each with its customer: open calls of customers who have a stream.
fn watched_calls<'a>(
    options: &RestOptions,
    calls: &'a [CallView],
) -> anyhow::Result<Vec<(usize, &'a CallView)>> {
    let with_streams = options.streams.min(customers(options));
    let watched: Vec<(usize, &CallView)> = calls
        .iter()
        .enumerate()
        .map(|(i, call)| (customer_of(i, options), call))
        .filter(|(customer, _)| *customer < with_streams)
        .take(options.timed + 1)
        .collect();
    if watched.len() < options.timed + 1 {
        bail!(
            "{} timed payments (and a first one) need as many open calls of customers with a \
             stream; there are {}",
            options.timed,
            watched.len()
        );
    }
    Ok(watched)
}

/// Opens `count` customers' event streams round the customers' tokens, and waits (up to
/// [`OPENING`]) for each to bring its customer's events so far.
async fn open_streams(
    base: &str,
    tokens: &[String],
    count: usize,
) -> anyhow::Result<Streams<CustomerStream>> {
    let tokens: Vec<String> = (0..count)
        .map(|j| tokens[j % tokens.len()].clone())
        .collect();
    let mut streams: Streams<CustomerStream> =
        Streams::open(base, "/dashboards/events", &tokens).await?;
    let deadline = Instant::now() + OPENING;
    streams
        .until(deadline, |s| {
            s.iter().all(|s| s.lock().expect("lock").heard)
        })
        .await;
    Ok(streams)
}

/// One customer's event stream, as its reader heard it.
#[derive(Default)]
struct CustomerStream {
    /// Whether any event came (a customer's stream begins with their calls' events so far).
    heard: bool,
    /// When each call's `CallPayed` first came.
    payed: HashMap<String, Instant>,
    /// Whether the stream ended.
    ended: bool,
}

impl Listener for CustomerStream {
    fn hear(&mut self, block: &str, at: Instant, _: SystemTime) -> bool {
        let (event, data) = event_of(block);
        if data.is_empty() {
            return false; // a keep-alive
        }
        let first = !std::mem::replace(&mut self.heard, true);
        if event != "CallPayed" {
            return first;
        }
        let data: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
        let Some(call_id) = data["callId"].as_str() else {
            return first;
        };
        self.payed.entry(call_id.to_owned()).or_insert(at);
        true
    }

    fn end(&mut self) {
        self.ended = true;
    }
}

/// A call paid, with when its pay answer came.
struct Payment {
    call_id: String,
    customer: usize,
    answered: Instant,
}

impl Payment {
    /// Pays `call` as its customer, the `customer`th.
    async fn make(api: &Api, customer: usize, call: &CallView) -> anyhow::Result<Self> {
        let answer = api.pay(call).await;
        let answered = Instant::now();
        if answer.status != 200 {
            bail!("pay answered {}: {}", answer.status, answer.body);
        }
        Ok(Self {
            call_id: call.call_id.to_string(),
            customer,
            answered,
        })
    }

    /// Whether its `CallPayed` came on every stream of its customer.
    fn delivered(&self, streams: &[Arc<Mutex<CustomerStream>>], options: &RestOptions) -> bool {
        streams_of(self.customer, options).all(|j| {
            streams[j]
                .lock()
                .expect("lock")
                .payed
                .contains_key(&self.call_id)
        })
    }
}

/// The timed payments' deliveries: how many were due, and the delay of each that arrived in
/// time.
struct Deliveries {
    due: usize,
    delays: Vec<f64>,
}

impl Deliveries {
    fn of(payments: &[Payment], streams: &Streams<CustomerStream>, options: &RestOptions) -> Self {
        let mut deliveries = Self {
            due: 0,
            delays: Vec::new(),
        };
        for payment in payments {
            for j in streams_of(payment.customer, options) {
                deliveries.due += 1;
                let stream = streams.streams[j].lock().expect("lock");
                let delay = stream
                    .payed
                    .get(&payment.call_id)
                    .map(|at| at.saturating_duration_since(payment.answered))
                    .filter(|delay| *delay <= DELIVERY);
                deliveries.delays.extend(delay.map(ms));
            }
        }
        deliveries
    }
}

/// The variant's processes: a worker per context, and the API.
struct Deployment {
    launcher: Launcher,
    workers: Vec<(&'static str, Child)>,
    api: Child,
    api_url: String,
}

impl Deployment {
    async fn start(variant: &Variant, server: &DevServer, dir: &Path) -> anyhow::Result<Self> {
        let settings = OPEN_FOR_HOURS.map(|(name, value)| (name, value.to_owned()));
        let launcher = Launcher::new(variant, server, dir, &settings);
        let mut workers = Vec::new();
        let mut probes = Vec::new();
        for context in CONTEXTS {
            let (worker, url) = launcher.worker(&[context], &worker_log(context, ""))?;
            workers.push((context, worker));
            probes.push(url);
        }
        let (api, api_url) = launcher.api()?;
        let deployment = Self {
            launcher,
            workers,
            api,
            api_url,
        };
        for url in &probes {
            wait_ready(url, "a worker of the rest mode").await;
        }
        wait_ready(&deployment.api_url, "the rest mode's API").await;
        Ok(deployment)
    }

    /// The processes to measure: the dev server, each running worker by its context, the API.
    fn pids(&self, server: &DevServer) -> Vec<(&'static str, u32)> {
        let workers = self.workers.iter().map(|(context, w)| (*context, w.id()));
        std::iter::once(("server", server.pid()))
            .chain(workers)
            .chain([("api", self.api.id())])
            .collect()
    }

    /// Kills the worker of `context` and waits for it to exit.
    fn stop_worker(&mut self, context: &str) {
        self.workers.retain_mut(|(serves, worker)| {
            let stopping = *serves == context;
            if stopping {
                stop(worker);
            }
            !stopping
        });
    }

    /// Starts a worker of `context` again (its log named with `again`) and waits until it is
    /// ready.
    async fn start_worker(&mut self, context: &'static str, again: &str) -> anyhow::Result<()> {
        let (worker, url) = self
            .launcher
            .worker(&[context], &worker_log(context, again))?;
        self.workers.push((context, worker));
        wait_ready(&url, "the restarted worker").await;
        Ok(())
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        stop(&mut self.api);
        for (_, worker) in &mut self.workers {
            stop(worker);
        }
    }
}

/// The log of a worker of `context`: `driver-call-worker-<context>[-<again>]`.
fn worker_log(context: &str, again: &str) -> String {
    match again {
        "" => format!("driver-call-worker-{context}"),
        _ => format!("driver-call-worker-{context}-{again}"),
    }
}

/// What each process used over `window`.
async fn usage_over(window: Duration, pids: &[(&str, u32)]) -> Window {
    let cpu = cpu_over(window, pids).await;
    pids.iter()
        .map(|(name, pid)| {
            let usage = Usage {
                cpu_ms_per_sec: cpu.get(*name).copied().unwrap_or(0.0),
                rss_mib: rss_mib(*pid),
            };
            ((*name).to_owned(), usage)
        })
        .collect()
}

/// The processes of the at-rest table, with their names in it.
const PROCESSES: [(&str, &str); 6] = [
    ("server", "server"),
    ("caller", "caller worker"),
    ("payment", "payment worker"),
    ("catcher", "catcher worker"),
    ("dashboard", "dashboard worker"),
    ("api", "api"),
];

/// The reports as three Markdown tables (at rest; the idle streams; the timed payments), a
/// column per variant and, with two, the ratio of the second to the first.
pub fn markdown(options: &RestOptions, reports: &[RestReport]) -> String {
    let names: Vec<&str> = reports.iter().map(|r| r.name.as_str()).collect();
    let (m, window) = (options.streams, options.window.as_secs_f64());
    format!(
        "{} open calls (CREATED, unpaid; {} customers), each variant on a dev server of its \
         own with a worker process per context; {} s after the last call was opened, two \
         windows of {window} s with every context, then, {} s after the dashboard worker was \
         killed, two more\n\n{}\n\
         {m} idle customer event streams (`GET /dashboards/events`, one HTTP/1.1 connection \
         each, round the customers), the dashboard worker still stopped: one window of \
         {window} s before they were opened, one with them open\n\n{}\n\
         {} open calls paid one at a time, {} s apart, the streams open and the dashboard \
         worker started again: from the pay answer to the call's `CallPayed` on each stream \
         of its customer\n\n{}",
        options.calls,
        customers(options),
        options.settle.as_secs_f64(),
        options.settle.as_secs_f64(),
        table(
            &names,
            &["all contexts", "dashboard stopped"],
            &at_rest_rows(reports)
        ),
        table(&names, &[""], &stream_rows(m, reports)),
        options.timed,
        PAUSE.as_secs(),
        table(&names, &[""], &delivery_rows(reports)),
    )
}

/// Each process's CPU per window and memory, in each variant's two phases at rest.
fn at_rest_rows(reports: &[RestReport]) -> Vec<Row> {
    // A value per variant and phase, in the order of the table's columns.
    let values = |pick: &dyn Fn(&[Window]) -> Option<f64>| -> Vec<Option<f64>> {
        reports
            .iter()
            .flat_map(|r| [&r.all_contexts, &r.dashboard_stopped])
            .map(|windows| pick(windows.as_slice()))
            .collect()
    };
    let mut rows = Vec::new();
    for (process, label) in PROCESSES {
        for w in 0..WINDOWS {
            let cpu = values(&|windows| Some(windows.get(w)?.get(process)?.cpu_ms_per_sec));
            rows.push(Row::new(
                format!("{label} CPU ms/s, window {}", w + 1),
                1,
                cpu,
            ));
        }
        let rss = values(&|windows| Some(windows.last()?.get(process)?.rss_mib));
        rows.push(Row::new(format!("{label} RSS MiB"), 1, rss));
    }
    rows
}

/// The API's CPU and memory with no stream and with the streams.
fn stream_rows(m: usize, reports: &[RestReport]) -> Vec<Row> {
    let api = |window: &Window| window.get("api").cloned().unwrap_or_default();
    let added =
        |r: &RestReport| api(&r.with_streams).cpu_ms_per_sec - api(&r.no_stream).cpu_ms_per_sec;
    vec![
        Row::each("api CPU ms/s, no stream", 1, reports, |r| {
            api(&r.no_stream).cpu_ms_per_sec
        }),
        Row::each(format!("api CPU ms/s, {m} streams"), 1, reports, |r| {
            api(&r.with_streams).cpu_ms_per_sec
        }),
        Row::each(
            format!("api CPU ms/s added by {m} streams"),
            1,
            reports,
            added,
        ),
        Row::each("api RSS MiB, no stream", 1, reports, |r| {
            api(&r.no_stream).rss_mib
        }),
        Row::each(format!("api RSS MiB, {m} streams"), 1, reports, |r| {
            api(&r.with_streams).rss_mib
        }),
        Row::each(
            "streams with their customer's events on opening",
            0,
            reports,
            |r| r.streams_heard as f64,
        ),
    ]
}

/// The timed payments' deliveries.
fn delivery_rows(reports: &[RestReport]) -> Vec<Row> {
    let within = format!("deliveries arrived within {} s", DELIVERY.as_secs());
    vec![
        Row::each(
            "CallPayed on a stream, from the pay answer, p50 ms",
            1,
            reports,
            |r| r.delivery.p50,
        ),
        Row::each(
            "CallPayed on a stream, from the pay answer, p99 ms",
            1,
            reports,
            |r| r.delivery.p99,
        ),
        Row::each(
            "deliveries due (paid call x stream of its customer)",
            0,
            reports,
            |r| r.due as f64,
        ),
        Row::each(within, 0, reports, |r| r.arrived as f64),
        Row::each("streams ended early", 0, reports, |r| {
            r.streams_ended as f64
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_customer_stream_notes_each_calls_first_call_payed_and_nothing_for_a_keep_alive() {
        let mut stream = CustomerStream::default();
        let (t0, wall) = (Instant::now(), SystemTime::now());
        assert!(!stream.hear(":\n\n", t0, wall));
        assert!(!stream.heard);
        let made = "event: CallMade\nid: 3\ndata: {\"callId\":\"a\",\"seq\":1}\n\n";
        assert!(stream.hear(made, t0, wall), "the first event is news");
        assert!(!stream.hear(made, t0, wall), "another is not");
        let payed = "event: CallPayed\nid: 5\ndata: {\"callId\":\"a\",\"seq\":3}\n\n";
        let t1 = t0 + Duration::from_millis(5);
        assert!(stream.hear(payed, t1, wall));
        stream.hear(payed, t1 + Duration::from_millis(5), wall);
        assert_eq!(stream.payed["a"], t1);
    }

    #[test]
    fn the_at_rest_table_has_a_column_per_variant_and_phase_and_their_ratios() {
        let window = |cpu: f64| -> Window {
            let usage = Usage {
                cpu_ms_per_sec: cpu,
                rss_mib: 10.0,
            };
            [("server".to_owned(), usage)].into()
        };
        let report = |name: &str, cpu: f64| RestReport {
            name: name.to_owned(),
            all_contexts: vec![window(cpu), window(cpu)],
            dashboard_stopped: vec![window(cpu / 2.0), window(cpu / 2.0)],
            ..RestReport::default()
        };
        let rows = at_rest_rows(&[report("base", 20.0), report("head", 10.0)]);
        let table = table(&["base", "head"], &["all", "stopped"], &rows);
        assert!(
            table.starts_with(
                "| metric | base, all | base, stopped | head, all | head, stopped | \
                 head / base, all | head / base, stopped |\n|---|---|---|---|---|---|---|\n"
            ),
            "{table}"
        );
        assert!(
            table.contains(
                "\n| server CPU ms/s, window 1 | 20.0 | 10.0 | 10.0 | 5.0 | 0.50 | 0.50 |\n"
            ),
            "{table}"
        );
        assert!(
            table.contains("\n| api RSS MiB | - | - | - | - | - | - |\n"),
            "{table}"
        );
    }
}
