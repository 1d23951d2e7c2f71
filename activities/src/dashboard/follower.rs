//! The history follower: how the read model learns of a call without an activity per batch.
//!
//! A call's workflow upserts its `projection` memo with each batch of new timeline events (patch
//! `memo-projection`), so its Temporal history is the call's event log. The follower finds calls
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

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use driver_call_stores::DashboardStore;
use driver_call_workflows::DriverCallWorkflow;
use driver_call_workflows::contracts::dashboard::{PROJECTION_MEMO, ProjectTimelineInput};
use futures::StreamExt;
use temporalio_client::errors::WorkflowInteractionError;
use temporalio_client::{Client, WorkflowFetchHistoryOptions};
use temporalio_common::protos::temporal::api::history::v1::{HistoryEvent, history_event};
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
            let discovered = self.discover(&query, &following, &mut follows, &mut newest);
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
            if following.lock().await.contains(&call_id) {
                continue;
            }
            let finished = self.store.follow(&call_id, started_at_ms).await?;
            *newest = (*newest).max(Some(started_at_ms));
            if finished {
                continue;
            }
            following.lock().await.insert(call_id.clone());
            follows.spawn(self.clone().follow(call_id, following.clone()));
        }
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
        while let Some(event) = history.next().await {
            let event = event.map_err(FollowError::from)?;
            let Some(batch) = projection_in(&event)? else {
                continue;
            };
            retry("project a batch", || self.store.project(&batch)).await;
            self.projected.notify_one();
        }
        Ok(())
    }
}

/// The batch a history event hands the dashboard, if it is a `projection` memo upsert.
fn projection_in(event: &HistoryEvent) -> Result<Option<ProjectTimelineInput>, FollowError> {
    let Some(history_event::Attributes::WorkflowPropertiesModifiedEventAttributes(modified)) =
        &event.attributes
    else {
        return Ok(None);
    };
    let Some(payload) = modified
        .upserted_memo
        .as_ref()
        .and_then(|memo| memo.fields.get(PROJECTION_MEMO))
    else {
        return Ok(None);
    };
    serde_json::from_slice(&payload.data)
        .map(Some)
        .map_err(|e| FollowError::Corrupt(e.to_string()))
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
    /// A memo that is not a projection batch.
    #[error("a projection memo that does not parse: {0}")]
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
