//! The history follower: how the read model learns of a call without an activity per batch.
//!
//! A call's Temporal history is its event log: the workflow's start and each update's result
//! hand its timeline on (patch `results-projection`), and its `projection` memo upserts carry the
//! batches the run records by itself (every batch, in calls started with `memo-projection`). The follower finds calls
//! in the server's visibility store, follows each one's history with the server's long poll
//! (`GetWorkflowExecutionHistory` with `waitNewEvent`) and projects every batch in the order the
//! history holds them. A batch projected twice changes nothing (`DashboardStore::project` is
//! idempotent per (call, seq)), so a follow that breaks off starts again from the first event.
//!
//! One dashboard worker follows at a time: the holder of the lease in the dashboard database
//! (`follower_lease`, renewed every few seconds). Other replicas stand by, still serving the
//! `dashboard.project` activities of calls started before the patch, and take over once the
//! holder's lease lapses.
//!
//! What it keeps in the dashboard database (`followed_calls`): which calls it follows, which it
//! has followed to their end, and the newest start it has seen, so after a restart (or an
//! outage of any length) it resumes the unfinished calls and discovers the ones started
//! meanwhile: the read model converges, in order, from Temporal's own record.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use driver_call_stores::DashboardStore;
use driver_call_workflows::DriverCallWorkflow;
use driver_call_workflows::contracts::dashboard::{PROJECTION_MEMO, ProjectTimelineInput};
use driver_call_workflows::domain::CallView;
use driver_call_workflows::driver_call::{
    DriverCallInput, OFFER_TIERS_PATCH, PayResult, RESULTS_PROJECTION_PATCH,
};
use futures::StreamExt;
use temporalio_client::errors::WorkflowInteractionError;
use temporalio_client::{Client, WorkflowFetchHistoryOptions};
use temporalio_common::protos::temporal::api::history::v1::{
    HistoryEvent, MarkerRecordedEventAttributes, WorkflowExecutionUpdateCompletedEventAttributes,
    WorkflowPropertiesModifiedEventAttributes, history_event,
};
use temporalio_common::protos::temporal::api::update::v1::outcome;
use tokio::sync::{Mutex, Notify};
use tokio::task::JoinSet;

/// How far before the newest start seen discovery looks again: visibility records may become
/// visible slightly out of start order.
const DISCOVERY_OVERLAP: Duration = Duration::from_secs(5);
/// How often every running call (and every call closed since the last sweep) is listed, to
/// catch any call the quick discovery missed.
const SWEEP_INTERVAL: Duration = Duration::from_secs(30);
/// How long the follower lease lasts unless renewed, and how often its holder renews it (a
/// standby worker takes over at most `LEASE` after the holder stopped).
const LEASE: Duration = Duration::from_secs(15);
const LEASE_RENEWAL: Duration = Duration::from_secs(5);
/// Bounds of the backoff when the server or the database does not answer.
const FIRST_RETRY: Duration = Duration::from_millis(200);
const LAST_RETRY: Duration = Duration::from_secs(10);

/// Follows every call's history into the read model until the process stops.
pub struct HistoryFollower {
    client: Client,
    store: DashboardStore,
    projected: Arc<Notify>,
    discovery_interval: Duration,
}

/// Calls recently found followed to their end (with their start), so that discovery, which lists
/// the last few seconds' calls again every time, asks the store about each of them only once.
type FinishedCalls = HashMap<String, i64>;

/// The calls this process is following right now (a follow removes its call when it ends), so
/// a call listed again by discovery or a sweep is never followed twice at once.
type Following = Arc<Mutex<HashSet<String>>>;

impl HistoryFollower {
    /// A follower that looks for new calls every `discovery_interval` and wakes `projected` (the
    /// webhook notifier) after each batch.
    pub fn new(
        client: Client,
        store: DashboardStore,
        projected: Arc<Notify>,
        discovery_interval: Duration,
    ) -> Self {
        Self {
            client,
            store,
            projected,
            discovery_interval,
        }
    }

    /// Runs forever: while this worker holds the follower lease, resumes the unfinished follows
    /// and discovers new calls; otherwise stands by for the lease to lapse.
    pub async fn run(self) {
        let this = Arc::new(self);
        let holder = uuid::Uuid::new_v4().to_string();
        loop {
            while !this.hold_lease(&holder).await {
                tokio::time::sleep(LEASE_RENEWAL).await;
            }
            tracing::info!("this dashboard worker follows the calls' histories");
            this.clone().lead(&holder).await;
            tracing::warn!(
                "another dashboard worker took over following the histories; standing by"
            );
        }
    }

    /// Takes or renews the lease (a database that does not answer counts as not held).
    async fn hold_lease(&self, holder: &str) -> bool {
        let now = unix_ms(SystemTime::now());
        let until = now + i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX);
        match self.store.hold_follower_lease(holder, now, until).await {
            Ok(held) => held,
            Err(error) => {
                tracing::warn!(%error, "the dashboard could not renew the follower lease");
                false
            }
        }
    }

    /// Follows every call until the lease is lost.
    async fn lead(self: Arc<Self>, holder: &str) {
        let following: Following = Arc::default();
        let mut follows = JoinSet::new();
        let unfinished = retry("list the unfinished follows", || {
            self.store.unfinished_follows()
        })
        .await;
        for (call_id, _) in unfinished {
            following.lock().await.insert(call_id.clone());
            follows.spawn(self.clone().follow(call_id, following.clone()));
        }
        // The discovery checkpoint: read once, then kept as discovery records newer calls.
        let mut newest = retry("read the discovery checkpoint", || {
            self.store.newest_follow()
        })
        .await;
        let mut finished = FinishedCalls::default();
        let mut last_sweep: Option<SystemTime> = None;
        let mut renewed = SystemTime::now();
        loop {
            if renewed.elapsed().unwrap_or_default() >= LEASE_RENEWAL {
                if !self.hold_lease(holder).await {
                    follows.abort_all();
                    return;
                }
                renewed = SystemTime::now();
            }
            let sweep_due =
                last_sweep.is_none_or(|at| at.elapsed().unwrap_or_default() >= SWEEP_INTERVAL);
            let query = if sweep_due {
                let query = sweep_query(last_sweep);
                last_sweep = Some(SystemTime::now());
                query
            } else {
                discovery_query(newest)
            };
            let discovered =
                self.discover(&query, &following, &mut finished, &mut follows, &mut newest);
            if let Err(error) = discovered.await {
                tracing::warn!(%error, "call discovery failed; trying again");
            }
            while follows.try_join_next().is_some() {}
            tokio::time::sleep(self.discovery_interval).await;
        }
    }

    /// Lists the calls `query` matches and follows each one neither followed now nor to its end;
    /// moves `newest` on to the latest start recorded in the store.
    async fn discover(
        self: &Arc<Self>,
        query: &str,
        following: &Following,
        finished: &mut FinishedCalls,
        follows: &mut JoinSet<()>,
        newest: &mut Option<i64>,
    ) -> Result<(), FollowError> {
        let mut listed = self.client.list_workflows(query, Default::default());
        let mut found = Vec::new();
        while let Some(execution) = listed.next().await {
            let execution = execution.map_err(|e| FollowError::Server(e.to_string()))?;
            let Some(call_id) = DriverCallWorkflow::call_id_of(execution.id()) else {
                continue;
            };
            let started_at_ms = execution.start_time().map_or(0, unix_ms);
            found.push((call_id.to_string(), started_at_ms));
        }
        for (call_id, started_at_ms) in found {
            if finished.contains_key(&call_id) || following.lock().await.contains(&call_id) {
                continue;
            }
            let followed_to_its_end = self.store.follow(&call_id, started_at_ms).await?;
            *newest = (*newest).max(Some(started_at_ms));
            if followed_to_its_end {
                finished.insert(call_id, started_at_ms);
                continue;
            }
            following.lock().await.insert(call_id.clone());
            follows.spawn(self.clone().follow(call_id, following.clone()));
        }
        // Discovery lists again only what started after `newest` less the overlap.
        let overlap = i64::try_from(DISCOVERY_OVERLAP.as_millis()).unwrap_or(0);
        let relisted_from = newest.unwrap_or(0) - 2 * overlap;
        finished.retain(|_, started_at_ms| *started_at_ms >= relisted_from);
        Ok(())
    }

    /// Follows one call's history to its end, starting again after any failure.
    async fn follow(self: Arc<Self>, call_id: String, following: Following) {
        let mut backoff = FIRST_RETRY;
        loop {
            match self.follow_once(&call_id).await {
                Ok(()) => break,
                Err(FollowError::Gone) => {
                    tracing::warn!(%call_id, "the call's history is gone; nothing more to project");
                    break;
                }
                Err(error) => {
                    tracing::warn!(%call_id, %error, "following the call's history failed; starting again");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(LAST_RETRY);
                }
            }
        }
        retry("record a finished follow", || {
            self.store.finish_follow(&call_id)
        })
        .await;
        following.lock().await.remove(&call_id);
    }

    /// Reads the call's history, waiting for new events, until the workflow has closed.
    async fn follow_once(&self, call_id: &str) -> Result<(), FollowError> {
        let workflow_id = format!("call-{call_id}");
        let handle = self
            .client
            .get_workflow_handle::<DriverCallWorkflow>(workflow_id);
        let options = WorkflowFetchHistoryOptions::builder()
            .wait_new_event(true)
            .build();
        let mut history = handle.fetch_history(options);
        let mut timeline = TimelineReader::default();
        while let Some(event) = history.next().await {
            let event = event.map_err(FollowError::from)?;
            let Some(batch) = timeline.read(&event)? else {
                continue;
            };
            retry("project a batch", || self.store.project(&batch)).await;
            self.projected.notify_one();
        }
        Ok(())
    }
}

/// Reads a call's timeline out of its history, event by event. The history hands it on in
/// three ways: the opening events, which the dashboard makes from the workflow's input and the
/// time of its first workflow task (patch `results-projection`); every update's result, the
/// call's view with its whole timeline; and the `projection` memo upserts, with the batches the
/// run records by itself (and every batch, in calls started before `results-projection`).
/// The history holds them in the order they were recorded, so each batch goes on from the last.
#[derive(Default)]
struct TimelineReader {
    /// The workflow's input, from its start.
    input: Option<DriverCallInput>,
    /// When the newest workflow task started.
    task_started_at: Option<SystemTime>,
    /// When the first workflow task that completed started: the workflow time of the opening
    /// events.
    first_task_at: Option<SystemTime>,
    /// The newest event already handed on (its seq).
    seen: u32,
}

impl TimelineReader {
    /// The events of `event` not handed on yet, if it carries any.
    fn read(&mut self, event: &HistoryEvent) -> Result<Option<ProjectTimelineInput>, FollowError> {
        Ok(self.carried(event)?.and_then(|batch| self.unseen(batch)))
    }

    /// The timeline events `event` carries, seen before or not.
    fn carried(
        &mut self,
        event: &HistoryEvent,
    ) -> Result<Option<ProjectTimelineInput>, FollowError> {
        use history_event::Attributes;
        Ok(match &event.attributes {
            Some(Attributes::WorkflowExecutionStartedEventAttributes(started)) => {
                let input = started.input.as_ref().and_then(|i| i.payloads.first());
                self.input = input.map(|p| parse(&p.data)).transpose()?;
                None
            }
            Some(Attributes::WorkflowTaskStartedEventAttributes(_)) => {
                self.task_started_at = event_time(event);
                None
            }
            Some(Attributes::WorkflowTaskCompletedEventAttributes(_)) => {
                self.first_task_at = self.first_task_at.or(self.task_started_at);
                None
            }
            Some(Attributes::MarkerRecordedEventAttributes(marker)) => self.opening(marker)?,
            Some(Attributes::WorkflowExecutionUpdateCompletedEventAttributes(completed)) => {
                update_result(completed)?
            }
            Some(Attributes::WorkflowPropertiesModifiedEventAttributes(modified)) => {
                projection_memo(modified)?
            }
            _ => None,
        })
    }

    /// The opening events, once the `results-projection` marker (or `offer-tiers`, which implies
    /// it) shows the run left them to the dashboard.
    fn opening(
        &self,
        marker: &MarkerRecordedEventAttributes,
    ) -> Result<Option<ProjectTimelineInput>, FollowError> {
        let Some(data) = marker
            .details
            .get(PATCH_DATA)
            .and_then(|details| details.payloads.first())
        else {
            return Ok(None);
        };
        let patch: PatchData = parse(&data.data)?;
        if patch.id != RESULTS_PROJECTION_PATCH && patch.id != OFFER_TIERS_PATCH {
            return Ok(None);
        }
        let (Some(input), Some(at)) = (self.input.clone(), self.first_task_at) else {
            return Err(FollowError::Corrupt(
                "a results-projection marker before the start's first task".to_owned(),
            ));
        };
        Ok(Some(DriverCallWorkflow::opening_projection(input, at)))
    }

    /// `batch` without the events already handed on; `None` when nothing is left.
    fn unseen(&mut self, mut batch: ProjectTimelineInput) -> Option<ProjectTimelineInput> {
        batch.events.retain(|event| event.seq > self.seen);
        self.seen = batch.events.last()?.seq;
        Some(batch)
    }
}

/// When the server recorded `event`.
fn event_time(event: &HistoryEvent) -> Option<SystemTime> {
    let at = event.event_time.as_ref()?;
    let seconds = u64::try_from(at.seconds).ok()?;
    let nanos = u32::try_from(at.nanos).ok()?;
    Some(UNIX_EPOCH + Duration::new(seconds, nanos))
}

/// The details key under which the SDK records a patch marker's id.
const PATCH_DATA: &str = "patch-data";

/// A patch marker's details.
#[derive(serde::Deserialize)]
struct PatchData {
    id: String,
}

/// What an update answers: `pay` its outcome with the call, the others the call.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum UpdateAnswer {
    Paid(PayResult),
    Call(CallView),
}

/// The whole timeline an update answered with; a refused update answered none.
fn update_result(
    completed: &WorkflowExecutionUpdateCompletedEventAttributes,
) -> Result<Option<ProjectTimelineInput>, FollowError> {
    let Some(outcome::Value::Success(payloads)) =
        completed.outcome.as_ref().and_then(|o| o.value.as_ref())
    else {
        return Ok(None);
    };
    let Some(payload) = payloads.payloads.first() else {
        return Ok(None);
    };
    let view = match parse(&payload.data)? {
        UpdateAnswer::Paid(paid) => paid.call,
        UpdateAnswer::Call(call) => call,
    };
    Ok(Some(ProjectTimelineInput::of_view(view)))
}

/// The batch a `projection` memo upsert hands on.
fn projection_memo(
    modified: &WorkflowPropertiesModifiedEventAttributes,
) -> Result<Option<ProjectTimelineInput>, FollowError> {
    let Some(payload) = modified
        .upserted_memo
        .as_ref()
        .and_then(|memo| memo.fields.get(PROJECTION_MEMO))
    else {
        return Ok(None);
    };
    parse(&payload.data).map(Some)
}

fn parse<T: serde::de::DeserializeOwned>(json: &[u8]) -> Result<T, FollowError> {
    serde_json::from_slice(json).map_err(|e| FollowError::Corrupt(e.to_string()))
}

/// New calls: those started since shortly before the newest one followed (every call, the first
/// time).
fn discovery_query(newest_ms: Option<i64>) -> String {
    let calls = "WorkflowType = 'DriverCallWorkflow'";
    let Some(newest_ms) = newest_ms else {
        return calls.to_owned();
    };
    let overlap = i64::try_from(DISCOVERY_OVERLAP.as_millis()).unwrap_or(0);
    let since = UNIX_EPOCH + Duration::from_millis(u64::try_from(newest_ms - overlap).unwrap_or(0));
    format!(
        "{calls} AND StartTime >= '{}'",
        humantime::format_rfc3339_millis(since)
    )
}

/// The safety net: every running call, and every call closed since shortly before the last sweep.
fn sweep_query(last_sweep: Option<SystemTime>) -> String {
    let calls = "WorkflowType = 'DriverCallWorkflow'";
    let Some(last) = last_sweep else {
        return format!("{calls} AND ExecutionStatus = 'Running'");
    };
    let since = last.checked_sub(DISCOVERY_OVERLAP).unwrap_or(UNIX_EPOCH);
    format!(
        "{calls} AND (ExecutionStatus = 'Running' OR CloseTime >= '{}')",
        humantime::format_rfc3339_millis(since)
    )
}

fn unix_ms(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Runs `attempt` until it succeeds, backing off between failures: the read model must not skip
/// a batch, and a database that does not answer now will answer later.
async fn retry<T, E, F, Fut>(what: &str, mut attempt: F) -> T
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut backoff = FIRST_RETRY;
    loop {
        match attempt().await {
            Ok(value) => return value,
            Err(error) => {
                tracing::warn!(%error, "the dashboard could not {what}; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(LAST_RETRY);
            }
        }
    }
}

/// Why a follow or a discovery broke off.
#[derive(Debug, thiserror::Error)]
enum FollowError {
    /// The server did not answer as asked.
    #[error("Temporal: {0}")]
    Server(String),
    /// The workflow no longer exists (deleted, or past the namespace's retention).
    #[error("the workflow is gone")]
    Gone,
    /// A start, memo, marker or update result that is not what the workflow records.
    #[error("a history event that does not parse: {0}")]
    Corrupt(String),
    /// The read model's database.
    #[error(transparent)]
    Store(#[from] driver_call_stores::StoreError),
}

impl From<WorkflowInteractionError> for FollowError {
    fn from(error: WorkflowInteractionError) -> Self {
        match error {
            WorkflowInteractionError::NotFound(_) => Self::Gone,
            other => Self::Server(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use driver_call_workflows::domain::TimelineEvent;
    use temporalio_common::protos::temporal::api::history::v1::History;

    /// Every recorded history of every generation (`tests/fixtures`), read as the follower reads
    /// it: the read model gets each event once, in order from the first, and every way the
    /// history hands an event on (start, update result, memo) hands on the same event.
    #[test]
    fn the_reader_hands_on_every_fixture_timeline_once_in_order_and_consistently() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
        let mut read_generations = 0;
        for generation in ["v4", "v5", "v6", "v7"] {
            let dir = root.join(generation);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                panic!("{} exists", dir.display());
            };
            for entry in entries {
                let path = entry.expect("fixture").path();
                let history: History =
                    serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("JSON");
                let handed_on = read_history(&history)
                    .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
                assert!(!handed_on.is_empty(), "{}: no events", path.display());
            }
            read_generations += 1;
        }
        assert_eq!(read_generations, 4);
    }

    /// The events handed on, checked against every source's copy of them.
    fn read_history(history: &History) -> Result<Vec<TimelineEvent>, String> {
        let mut reader = TimelineReader::default();
        let mut handed_on: Vec<TimelineEvent> = Vec::new();
        for event in &history.events {
            let carried = reader.carried(event).map_err(|e| e.to_string())?;
            let Some(batch) = carried else { continue };
            for copy in &batch.events {
                let Some(first) = handed_on.get(copy.seq as usize - 1) else {
                    continue;
                };
                if first != copy {
                    return Err(format!("event {} differs: {first:?} / {copy:?}", copy.seq));
                }
            }
            if let Some(unseen) = reader.unseen(batch) {
                let next = handed_on.len() as u32 + 1;
                if unseen.events[0].seq != next {
                    return Err(format!("a batch skips from {next} to {unseen:?}"));
                }
                handed_on.extend(unseen.events);
            }
        }
        Ok(handed_on)
    }

    #[test]
    fn discovery_starts_with_every_call_then_goes_on_from_shortly_before_the_newest() {
        assert_eq!(discovery_query(None), "WorkflowType = 'DriverCallWorkflow'");
        assert_eq!(
            discovery_query(Some(1_764_633_605_250)),
            "WorkflowType = 'DriverCallWorkflow' AND StartTime >= '2025-12-02T00:00:00.250Z'"
        );
    }

    #[test]
    fn a_sweep_lists_running_calls_and_those_closed_since_the_last_one() {
        assert_eq!(
            sweep_query(None),
            "WorkflowType = 'DriverCallWorkflow' AND ExecutionStatus = 'Running'"
        );
        let last = UNIX_EPOCH + Duration::from_millis(1_764_633_605_250);
        assert_eq!(
            sweep_query(Some(last)),
            "WorkflowType = 'DriverCallWorkflow' AND (ExecutionStatus = 'Running' OR \
             CloseTime >= '2025-12-02T00:00:00.250Z')"
        );
    }
}
