//! The watchers mode of `scripts/bench` (`--watchers N`): what drivers' idle offers streams cost
//! the API, and how soon an offer reaches them.
//!
//! Per variant, on the bench's one dev server: the operator registers N drivers, each serving one
//! of the six default service areas in turn; each signs in and goes online
//! (`PUT /drivers/me/availability`). Then the API's CPU per second is measured over a window at
//! rest with no stream open, and, after every driver has opened their offers stream
//! (`GET /catches/events`, one HTTP/1.1 connection each) and had its first list, over the same
//! window again with the N streams open and idle. Last, K paid calls are made one after another,
//! their pickups going round the areas, and each offer is timed from the `pay` answer to its
//! appearance on every eligible stream (the drivers of the call's area); the call is then
//! cancelled and timed from the cancel answer until the offer has left each of those lists.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, bail};
use futures::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};

use super::streams::{Listener, Streams, event_of, make_room_for};
use super::{
    Percentiles, Row, System, Variant, about_to_run, call_request, cpu_over, created, fresh_dir,
    ms, start_server, table, write_report,
};
use crate::dev_server::DevServer;
use crate::{Api, driver_password};

/// What to run.
#[derive(Debug, Clone)]
pub struct WatchersOptions {
    /// Offers streams held open (one driver each).
    pub watchers: usize,
    /// Paid calls whose offers are timed.
    pub calls: usize,
    /// How long each at-rest measurement lasts.
    pub window: Duration,
    /// The builds, run one after the other.
    pub variants: Vec<Variant>,
    /// Where the report and the logs go.
    pub out_dir: PathBuf,
}

/// The six default service areas, each with the pickup of its calls: a place whose first word is
/// its area, so that a build taking a call's area from the tariff's place and one taking the
/// location's first word both dispatch it there.
pub const AREAS: [(&str, &str); 6] = [
    ("kangnam", "Kangnam station"),
    ("dongjak", "Dongjak"),
    ("nowon", "Nowon"),
    ("mapo", "Mapo"),
    ("jongro", "Jongro"),
    ("bundang", "Bundang"),
];

/// The area the `i`th driver serves (and the `i`th call is picked up in).
pub fn area_of(i: usize) -> usize {
    i % AREAS.len()
}

/// What one variant measured.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WatchersReport {
    /// The variant.
    pub name: String,
    /// Offers streams held open.
    pub streams: usize,
    /// Length of each at-rest window, in seconds.
    pub window_secs: f64,
    /// CPU milliseconds per second of `server`, `worker` and `api` at rest with no stream open.
    pub idle_cpu_ms_per_sec: BTreeMap<String, f64>,
    /// The same with the streams open.
    pub watched_cpu_ms_per_sec: BTreeMap<String, f64>,
    /// Paid calls made.
    pub calls: usize,
    /// (call, eligible stream) pairs: the offers that should have been seen.
    pub eligible: usize,
    /// From the `pay` answer to the offer on an eligible stream, in ms, one sample per pair.
    pub delivery: Percentiles,
    /// From the offer's `receivedAt` (when the catcher recorded it, to the millisecond) to its
    /// arrival on an eligible stream, in ms.
    pub delivery_from_recorded: Percentiles,
    /// From the cancel answer to the offer gone from an eligible stream's list, in ms.
    pub withdrawal: Percentiles,
    /// Pairs whose offer never came (within 30 s).
    pub missed: usize,
    /// Pairs whose offer, once seen, did not leave the list within 30 s of the cancel.
    pub not_withdrawn: usize,
    /// (call, stream of another area) pairs where the offer appeared while it was timed.
    pub strays: usize,
    /// Streams that ended before the run did.
    pub streams_ended: usize,
}

/// How long one offer may take to reach, or leave, every eligible stream.
const DEADLINE: Duration = Duration::from_secs(30);

/// Runs the watchers mode and writes `watchers.json` and `watchers.md` under `out_dir`.
pub async fn run(options: &WatchersOptions) -> anyhow::Result<Vec<WatchersReport>> {
    about_to_run(&options.variants, &options.out_dir)?;
    make_room_for(options.watchers)?;
    let server = start_server(&options.out_dir)?;
    let mut reports = Vec::new();
    for variant in &options.variants {
        let dir = options.out_dir.join(format!("watchers-{}", variant.name));
        reports.push(run_variant(options, variant, &server, &dir).await?);
    }
    let json = json!({
        "watchers": options.watchers,
        "calls": options.calls,
        "windowSecs": options.window.as_secs_f64(),
        "variants": reports,
    });
    write_report(
        &options.out_dir,
        "watchers",
        &json,
        markdown(options, &reports),
    )?;
    Ok(reports)
}

async fn run_variant(
    options: &WatchersOptions,
    variant: &Variant,
    server: &DevServer,
    dir: &Path,
) -> anyhow::Result<WatchersReport> {
    fresh_dir(dir)?;
    let system = System::start(variant, server, dir, &[]).await?;
    let pids = [
        ("server", server.pid()),
        ("worker", system.worker.id()),
        ("api", system.api_process.id()),
    ];
    let base = system.api_url.clone();
    let api = Api::at(&base);
    let http = reqwest::Client::builder().http1_only().build()?;
    let operator = api
        .as_operator()
        .token()
        .await
        .context("the operator signs in (watchers need an API with sign-in)")?;

    // The drivers, registered, signed in and online; the customers signed in.
    let names: Vec<String> = (0..options.watchers)
        .map(|i| format!("watcher-{i}"))
        .collect();
    let tokens: Vec<String> = futures::stream::iter(names.iter().enumerate())
        .map(|(i, name)| {
            let (http, base, operator) = (&http, &base, &operator);
            async move {
                register(http, base, operator, name, AREAS[area_of(i)].0).await?;
                sign_in(http, base, name).await
            }
        })
        .buffered(8)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    for k in 0..options.calls.min(CUSTOMERS) {
        api.as_customer(&customer_mobile(k)).token().await;
    }
    go_online(&http, &base, &tokens).await?;

    let settle = options.window.min(Duration::from_secs(3));
    tokio::time::sleep(settle).await;
    let idle = cpu_over(options.window, &pids).await;

    // Online again (a driver not heard from for PRESENCE_TIMEOUT is offline), then the streams.
    go_online(&http, &base, &tokens).await?;
    let mut watchers: Watchers = Streams::open(&base, "/catches/events", &tokens).await?;
    let opened = watchers
        .until(Instant::now() + Duration::from_secs(120), |streams| {
            streams.iter().all(|s| s.lock().expect("lock").opened)
        })
        .await;
    if !opened {
        bail!("not every offers stream had its first list within 120 s");
    }
    tokio::time::sleep(settle).await;
    let watched = cpu_over(options.window, &pids).await;

    let mut timed = Timed::default();
    for k in 0..options.calls {
        one_offer(&api, &mut watchers, k, &mut timed).await?;
    }
    let streams_ended = watchers.count(|s| s.ended);
    drop(watchers);
    drop(system);
    Ok(WatchersReport {
        name: variant.name.clone(),
        streams: options.watchers,
        window_secs: options.window.as_secs_f64(),
        idle_cpu_ms_per_sec: idle,
        watched_cpu_ms_per_sec: watched,
        calls: options.calls,
        eligible: timed.eligible,
        delivery: Percentiles::of(&mut timed.delivery),
        delivery_from_recorded: Percentiles::of(&mut timed.from_recorded),
        withdrawal: Percentiles::of(&mut timed.withdrawal),
        missed: timed.missed,
        not_withdrawn: timed.not_withdrawn,
        strays: timed.strays,
        streams_ended,
    })
}

/// How many customers share the paid calls.
const CUSTOMERS: usize = 5;

/// The customer of the `k`th call.
fn customer_mobile(k: usize) -> String {
    format!("010-7100-{:04}", k % CUSTOMERS)
}

/// What the paid calls measured, over all of them.
#[derive(Default)]
struct Timed {
    eligible: usize,
    delivery: Vec<f64>,
    from_recorded: Vec<f64>,
    withdrawal: Vec<f64>,
    missed: usize,
    not_withdrawn: usize,
    strays: usize,
}

/// The `k`th paid call: its offer timed onto every eligible stream, then off them once cancelled.
async fn one_offer(
    api: &Api,
    watchers: &mut Watchers,
    k: usize,
    timed: &mut Timed,
) -> anyhow::Result<()> {
    let area = area_of(k);
    let eligible: Vec<usize> = (0..watchers.streams.len())
        .filter(|i| area_of(*i) == area)
        .collect();
    let customer = api.as_customer(&customer_mobile(k));
    let body = call_request(&customer_mobile(k), AREAS[area].1);
    let call = created(
        customer
            .send(reqwest::Method::POST, "/calls", Some(body))
            .await,
    )?;
    let id = call.call_id.to_string();
    let paid = api.pay(&call).await;
    if paid.status != 200 {
        bail!("pay answered {}: {}", paid.status, paid.body);
    }
    let answered = Instant::now();
    watchers
        .until(answered + DEADLINE, |streams| {
            eligible
                .iter()
                .all(|i| streams[*i].lock().expect("lock").appeared.contains_key(&id))
        })
        .await;
    timed.eligible += eligible.len();
    for i in &eligible {
        let stream = watchers.streams[*i].lock().expect("lock");
        let Some(seen) = stream.appeared.get(&id) else {
            timed.missed += 1;
            continue;
        };
        timed
            .delivery
            .push(ms(seen.at.saturating_duration_since(answered)));
        let recorded = seen
            .received_at
            .as_deref()
            .and_then(|t| humantime::parse_rfc3339(t).ok());
        if let Some(recorded) = recorded {
            let delay = seen.wall.duration_since(recorded).unwrap_or_default();
            timed.from_recorded.push(ms(delay));
        }
    }

    let cancelled = api.cancel(&call).await;
    if ![200, 202].contains(&cancelled.status) {
        bail!("cancel answered {}: {}", cancelled.status, cancelled.body);
    }
    let answered = Instant::now();
    watchers
        .until(answered + DEADLINE, |streams| {
            eligible.iter().all(|i| {
                let stream = streams[*i].lock().expect("lock");
                !stream.appeared.contains_key(&id) || stream.left.contains_key(&id)
            })
        })
        .await;
    for (i, stream) in watchers.streams.iter().enumerate() {
        let stream = stream.lock().expect("lock");
        if area_of(i) != area {
            timed.strays += usize::from(stream.appeared.contains_key(&id));
        } else if stream.appeared.contains_key(&id) {
            match stream.left.get(&id) {
                Some(at) => timed
                    .withdrawal
                    .push(ms(at.saturating_duration_since(answered))),
                None => timed.not_withdrawn += 1,
            }
        }
    }
    Ok(())
}

/// Registers the driver `username`, serving `area` only.
async fn register(
    http: &reqwest::Client,
    base: &str,
    operator: &str,
    username: &str,
    area: &str,
) -> anyhow::Result<()> {
    let body = json!({
        "username": username,
        "name": format!("Driver {username}"),
        "mobile": "010-5555-0000",
        "password": driver_password(username),
        "areas": [area],
    });
    let response = http
        .post(format!("{base}/drivers"))
        .bearer_auth(operator)
        .json(&body)
        .send()
        .await?;
    let status = response.status().as_u16();
    if status != 201 {
        bail!("register {username}: {status} {}", response.text().await?);
    }
    Ok(())
}

/// The driver's access token.
async fn sign_in(http: &reqwest::Client, base: &str, username: &str) -> anyhow::Result<String> {
    let body = json!({
        "grantType": "password",
        "username": username,
        "password": driver_password(username),
    });
    let response = http
        .post(format!("{base}/auth/token"))
        .json(&body)
        .send()
        .await?;
    let status = response.status().as_u16();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    match answer["accessToken"].as_str() {
        Some(token) if status == 200 => Ok(token.to_owned()),
        _ => bail!("sign in as {username}: {status} {answer}"),
    }
}

/// Every driver goes online.
async fn go_online(http: &reqwest::Client, base: &str, tokens: &[String]) -> anyhow::Result<()> {
    let answers = futures::stream::iter(tokens)
        .map(|token| async move {
            let response = http
                .put(format!("{base}/drivers/me/availability"))
                .bearer_auth(token)
                .json(&json!({"online": true}))
                .send()
                .await?;
            let status = response.status().as_u16();
            if status != 200 {
                bail!("go online: {status} {}", response.text().await?);
            }
            anyhow::Ok(())
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    answers.into_iter().collect()
}

/// An offer as one stream first showed it.
struct Seen {
    at: Instant,
    wall: SystemTime,
    received_at: Option<String>,
}

/// One driver's offers stream, as its reader saw it.
#[derive(Default)]
struct Watched {
    /// Whether its first `offers` event came.
    opened: bool,
    /// Each call whose offer was on a list, when it first was.
    appeared: HashMap<String, Seen>,
    /// The calls of the last list.
    current: HashSet<String>,
    /// When each offer that had been on a list left it.
    left: HashMap<String, Instant>,
    /// Whether the stream ended.
    ended: bool,
}

impl Watched {
    fn saw(&mut self, list: Vec<(String, Option<String>)>, at: Instant, wall: SystemTime) {
        self.opened = true;
        let mut current = HashSet::new();
        for (id, received_at) in list {
            self.appeared.entry(id.clone()).or_insert_with(|| Seen {
                at,
                wall,
                received_at,
            });
            self.left.remove(&id);
            current.insert(id);
        }
        for gone in self.current.difference(&current) {
            self.left.entry(gone.clone()).or_insert(at);
        }
        self.current = current;
    }
}

impl Listener for Watched {
    fn hear(&mut self, block: &str, at: Instant, wall: SystemTime) -> bool {
        let Some(list) = offers_in(block) else {
            return false;
        };
        self.saw(list, at, wall);
        true
    }

    fn end(&mut self) {
        self.ended = true;
    }
}

/// The drivers' open offers streams.
type Watchers = Streams<Watched>;

/// The calls (with their `receivedAt`) of an `offers` event; `None` for any other block.
fn offers_in(block: &str) -> Option<Vec<(String, Option<String>)>> {
    let (event, data) = event_of(block);
    if event != "offers" {
        return None;
    }
    let list: Value = serde_json::from_str(&data).ok()?;
    let offers = list
        .as_array()?
        .iter()
        .filter_map(|offer| {
            let id = offer["callId"].as_str()?.to_owned();
            Some((id, offer["receivedAt"].as_str().map(str::to_owned)))
        })
        .collect();
    Some(offers)
}

/// The reports as one Markdown table, a column per variant and, with two, the ratio of the
/// second to the first.
pub fn markdown(options: &WatchersOptions, reports: &[WatchersReport]) -> String {
    let n = options.watchers;
    let mut rows = Vec::new();
    let mut row = |metric: String, decimals: usize, value: &dyn Fn(&WatchersReport) -> f64| {
        rows.push(Row::each(metric, decimals, reports, value));
    };
    let cpu = |map: &BTreeMap<String, f64>, process: &str| map.get(process).copied().unwrap_or(0.0);
    let added = |r: &WatchersReport| {
        cpu(&r.watched_cpu_ms_per_sec, "api") - cpu(&r.idle_cpu_ms_per_sec, "api")
    };
    row("api CPU ms/s, no stream".into(), 1, &|r| {
        cpu(&r.idle_cpu_ms_per_sec, "api")
    });
    row(format!("api CPU ms/s, {n} streams"), 1, &|r| {
        cpu(&r.watched_cpu_ms_per_sec, "api")
    });
    row(format!("api CPU ms/s added by {n} streams"), 1, &added);
    row("api CPU µs/s per stream".into(), 1, &|r| {
        added(r) * 1000.0 / r.streams.max(1) as f64
    });
    for process in ["worker", "server"] {
        row(format!("{process} CPU ms/s, no stream"), 1, &|r| {
            cpu(&r.idle_cpu_ms_per_sec, process)
        });
        row(format!("{process} CPU ms/s, {n} streams"), 1, &|r| {
            cpu(&r.watched_cpu_ms_per_sec, process)
        });
    }
    row(
        "offer on a stream, from the pay answer, p50 ms".into(),
        1,
        &|r| r.delivery.p50,
    );
    row(
        "offer on a stream, from the pay answer, p99 ms".into(),
        1,
        &|r| r.delivery.p99,
    );
    row(
        "offer on a stream, from its receivedAt, p50 ms".into(),
        1,
        &|r| r.delivery_from_recorded.p50,
    );
    row(
        "offer on a stream, from its receivedAt, p99 ms".into(),
        1,
        &|r| r.delivery_from_recorded.p99,
    );
    row(
        "offer off a stream, from the cancel answer, p50 ms".into(),
        1,
        &|r| r.withdrawal.p50,
    );
    row(
        "offer off a stream, from the cancel answer, p99 ms".into(),
        1,
        &|r| r.withdrawal.p99,
    );
    row("offers due (call x eligible stream)".into(), 0, &|r| {
        r.eligible as f64
    });
    row("offers missed".into(), 0, &|r| r.missed as f64);
    row("offers not withdrawn".into(), 0, &|r| {
        r.not_withdrawn as f64
    });
    row("offers on another area's stream".into(), 0, &|r| {
        r.strays as f64
    });
    row("streams ended early".into(), 0, &|r| r.streams_ended as f64);

    let names: Vec<&str> = reports.iter().map(|r| r.name.as_str()).collect();
    format!(
        "{n} idle offers streams (one HTTP/1.1 connection each; drivers registered by the \
         operator, online, one of the {} default areas each), {} s at rest with no stream and \
         with the streams, then {} paid calls one after another (pickups round the areas), each \
         cancelled once every stream of its area showed it\n\n{}",
        AREAS.len(),
        options.window.as_secs_f64(),
        options.calls,
        table(&names, &[""], &rows)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offers_event_names_its_calls_and_other_events_none() {
        let block = "event: offers\nid: 1f\ndata: [{\"callId\":\"a\",\"receivedAt\":\"2026-12-02T10:00:00.123Z\"},{\"callId\":\"b\"}]\n\n";
        assert_eq!(
            offers_in(block),
            Some(vec![
                ("a".to_owned(), Some("2026-12-02T10:00:00.123Z".to_owned())),
                ("b".to_owned(), None),
            ])
        );
        assert_eq!(offers_in("event: offers\ndata: []\n\n"), Some(vec![]));
        assert_eq!(
            offers_in("event: availability\ndata: {\"online\":true}\n\n"),
            None
        );
        assert_eq!(offers_in(":\n\n"), None);
    }

    #[test]
    fn an_offer_that_leaves_the_list_is_noted_once_and_forgotten_if_it_comes_back() {
        let mut watched = Watched::default();
        let (t0, wall) = (Instant::now(), SystemTime::now());
        watched.saw(vec![("a".into(), None)], t0, wall);
        let t1 = t0 + Duration::from_millis(5);
        watched.saw(vec![], t1, wall);
        watched.saw(vec![], t1 + Duration::from_millis(5), wall);
        assert!(watched.opened);
        assert_eq!(watched.appeared["a"].at, t0);
        assert_eq!(watched.left["a"], t1);
        watched.saw(vec![("a".into(), None)], t1, wall);
        assert!(!watched.left.contains_key("a"));
    }
}
