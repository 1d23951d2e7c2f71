//! The read model's feed: how the dashboard learns what happened to the calls, at a cost that
//! follows what happens, not how many calls are open.
//!
//! Every step that adds to a call's timeline also sets its `TimelineAt` search attribute (patch
//! `timeline-feed`: in the same upsert as the status, or beside the memo of a batch that changed
//! no status). So once per tick the feed asks Temporal's visibility store one question, "which
//! calls changed since a moment ago?", and reads the history of each call it lists whose change
//! it has not read yet: the history hands the timeline on (the start, each update's answer, the
//! memos; `history.rs`), and the batches the read model lacks are projected, in order. An open
//! call that nothing happens to is never listed, so it costs nothing.
//!
//! Visibility is eventually consistent, so the feed looks back in three tiers: every tick the
//! last [`FAST_LOOKBACK`], every [`SWEEP`] the last [`SWEEP_LOOKBACK`], and every
//! [`DEEP_SWEEP`] the last [`DEEP_LOOKBACK`]; a change listed again is not read again. The deep
//! sweep lists a page at a time, its pages spread over [`DEEP_SPREAD`]: its rows are every call
//! changed in ten minutes, and a burst of calls must not come back as a burst of load on the
//! server five minutes later (`docs/read-model.md`). The
//! calls are shared among the dashboard workers by shard (`shards.rs`); each shard's checkpoint
//! is kept in the dashboard database, so a worker that starts or takes a shard over lists every
//! change since that checkpoint: the read model converges after an outage of any length.

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use driver_call_stores::DashboardStore;
use driver_call_stores::dashboard::FeedMark;
use driver_call_workflows::DriverCallWorkflow;
use driver_call_workflows::domain::CallId;
use driver_call_workflows::driver_call::TIMELINE_AT;
use futures::StreamExt;
use temporalio_client::grpc::WorkflowService;
use temporalio_client::{Client, NamespacedClient, WorkflowFetchHistoryOptions};
use temporalio_common::protos::temporal::api::enums::v1::WorkflowExecutionStatus;
use temporalio_common::protos::temporal::api::workflow::v1::WorkflowExecutionInfo;
use temporalio_common::protos::temporal::api::workflowservice::v1::ListWorkflowExecutionsRequest;
use temporalio_common::search_attributes::SearchAttributes;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::follower::LegacyFollower;
use super::history::{FIRST_RETRY, HistoryError, LAST_RETRY, TimelineReader, opened, unix_ms};
use super::shards::{RENEWAL, SHARDS, Shards};

/// How far back every tick lists: the visibility store's usual lag, and then some.
const FAST_LOOKBACK: Duration = Duration::from_secs(2);
/// How often, and how far back, the feed lists again for changes that became visible late.
const SWEEP: Duration = Duration::from_secs(15);
const SWEEP_LOOKBACK: Duration = Duration::from_secs(30);
const DEEP_SWEEP: Duration = Duration::from_secs(300);
const DEEP_LOOKBACK: Duration = Duration::from_secs(600);
/// How many calls a page of the deep sweep lists (a visibility page costs the server by the row).
const DEEP_PAGE: i32 = 100;
/// How long a deep sweep's pages are spread over (it ends before the next one is due), and the
/// longest wait between two of its pages.
const DEEP_SPREAD: Duration = Duration::from_secs(240);
const DEEP_PAGE_AT_MOST_EVERY: Duration = Duration::from_secs(15);
const _: () = assert!(
    DEEP_SPREAD.as_secs() < DEEP_SWEEP.as_secs(),
    "a deep sweep ends before the next is due"
);
/// How many histories the feed reads at once.
const READS_AT_ONCE: usize = 16;
/// How soon a call whose first workflow task had not completed is read again.
const OPENING_RETRY: Duration = Duration::from_millis(50);

/// The calls this version's workflow publishes `TimelineAt` for.
const CALLS: &str = "WorkflowType = 'DriverCallWorkflow'";

/// Projects every call's timeline into the read model, sharing the calls with the other
/// dashboard workers, until the process stops.
pub struct TimelineFeed {
    client: Client,
    store: DashboardStore,
    projected: Arc<Notify>,
    /// The wait between looks: the first while calls change, the last at rest.
    intervals: RangeInclusive<Duration>,
}

/// One change of a call as visibility lists it: when its timeline changed, and how long its
/// history was then (two changes in one millisecond still differ by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Change {
    at_ms: i64,
    history_length: i64,
}

/// A call the visibility store listed.
#[derive(Debug, Clone)]
struct Listed {
    call_id: CallId,
    change: Change,
    running: bool,
}

/// What the feed knows of a call: the change it read last, and the newest seq projected.
#[derive(Debug, Clone, Copy)]
struct Known {
    change: Change,
    last_seq: i64,
}

/// A call to read again at `at`: its read failed, or it had not opened yet.
#[derive(Debug, Clone)]
struct Due {
    call: Listed,
    at: Instant,
    backoff: Duration,
}

/// What one read of a call's history found.
enum Read {
    /// Everything in it is projected, up to this seq.
    Done(i64),
    /// The first workflow task has not completed: its opening events are not there yet.
    NotOpened(i64),
}

/// A deep sweep under way: the pages still to list, one every `every`.
struct DeepSweep {
    query: String,
    /// Its lookback: every change since is listed once the sweep ends.
    from_ms: i64,
    next_page_token: Vec<u8>,
    every: Duration,
    next_page: Instant,
    /// The calls and pages listed so far.
    listed: usize,
    pages: u32,
}

/// The feed's memory, for the shards this worker holds.
struct FeedState {
    shards: Shards,
    known: HashMap<CallId, Known>,
    due: HashMap<CallId, Due>,
    /// The lookback a shard just taken asks for (its checkpoint), once.
    catch_up_from_ms: Option<i64>,
    /// Every change before it is read (what the shards' checkpoints are moved to).
    checkpoint_ms: i64,
    next_renewal: Instant,
    next_sweep: Instant,
    next_deep_sweep: Instant,
    deep_sweep: Option<DeepSweep>,
    /// The calls without `TimelineAt` are to be listed (and followed) at the next renewal.
    legacy_due: bool,
}

impl TimelineFeed {
    /// A feed that lists the calls changed every `intervals.start()` while calls change, and
    /// less often at rest, down to every `intervals.end()`; it wakes `projected` (the webhook
    /// notifier) after each projection.
    pub fn new(
        client: Client,
        store: DashboardStore,
        projected: Arc<Notify>,
        intervals: RangeInclusive<Duration>,
    ) -> Self {
        Self {
            client,
            store,
            projected,
            intervals,
        }
    }

    /// Runs forever.
    pub async fn run(self) {
        let holder = uuid::Uuid::new_v4().to_string();
        let legacy = LegacyFollower::new(
            self.client.clone(),
            self.store.clone(),
            self.projected.clone(),
        );
        let now = Instant::now();
        let mut state = FeedState {
            shards: Shards::new(self.store.clone(), holder),
            known: HashMap::new(),
            due: HashMap::new(),
            catch_up_from_ms: None,
            checkpoint_ms: 0,
            next_renewal: now,
            next_sweep: now + SWEEP,
            // The first soon: a worker that starts knows nothing of what was listed before it.
            next_deep_sweep: now + SWEEP,
            deep_sweep: None,
            legacy_due: false,
        };
        let mut wait = *self.intervals.start();
        loop {
            tokio::time::sleep(wait).await;
            if Instant::now() >= state.next_renewal {
                self.renew(&mut state, &legacy).await;
            }
            if !state.shards.any() {
                continue;
            }
            let changed = self.look(&mut state).await;
            self.read_due(&mut state).await;
            wait = if changed || !state.due.is_empty() {
                *self.intervals.start()
            } else {
                (wait * 2).min(*self.intervals.end())
            };
        }
    }

    /// Renews the shard leases with the checkpoint reached; a shard just taken makes the next
    /// look reach back to its checkpoint, and its calls without `TimelineAt` are followed.
    async fn renew(&self, state: &mut FeedState, legacy: &LegacyFollower) {
        state.next_renewal = Instant::now() + RENEWAL;
        let checkpoint = state.safe_checkpoint();
        let renewed = match state.shards.renew(checkpoint).await {
            Ok(renewed) => renewed,
            Err(error) => {
                tracing::warn!(%error, "the dashboard could not renew its feed shards");
                return;
            }
        };
        if !renewed.lost.is_empty() {
            tracing::info!(shards = ?renewed.lost, "feed shards handed over");
            let shards = &state.shards;
            state.known.retain(|call, _| shards.holds(shard(call)));
            state.due.retain(|call, _| shards.holds(shard(call)));
        }
        if renewed.taken.is_empty() {
            if std::mem::take(&mut state.legacy_due) {
                self.follow_legacy(state, legacy).await;
            }
            return;
        }
        tracing::info!(shards = ?renewed.taken, "feed shards taken");
        let oldest = renewed
            .taken
            .iter()
            .map(|(_, checkpoint)| *checkpoint)
            .min();
        let lookback = i64::try_from(SWEEP_LOOKBACK.as_millis()).unwrap_or(0);
        let from = oldest.map(|checkpoint| (checkpoint - lookback).max(0));
        state.catch_up_from_ms = state.catch_up_from_ms.min(from).or(from);
        self.follow_legacy(state, legacy).await;
    }

    /// Follows the calls started before patch `timeline-feed` that are still open or were never
    /// followed to their end, in this worker's shards: when it takes shards, and after each deep
    /// sweep (a call started by an API or a workflow worker not yet upgraded has no
    /// `TimelineAt` either).
    async fn follow_legacy(&self, state: &FeedState, legacy: &LegacyFollower) {
        let mut calls: Vec<CallId> = match self.store.unfinished_follows().await {
            Ok(follows) => follows
                .iter()
                .filter_map(|(call_id, _)| CallId::parse(call_id).ok())
                .collect(),
            Err(error) => {
                tracing::warn!(%error, "could not read the calls followed before");
                Vec::new()
            }
        };
        let query = format!("{CALLS} AND ExecutionStatus = 'Running' AND TimelineAt IS NULL");
        match self.list(&query).await {
            Ok(listed) => calls.extend(listed.into_iter().map(|c| c.call_id)),
            Err(error) => tracing::warn!(%error, "could not list the calls without TimelineAt"),
        }
        for call_id in calls {
            if state.shards.holds(shard(&call_id)) {
                legacy.follow(call_id);
            }
        }
    }

    /// Lists the calls changed within the lookback due now (and the deep sweep's next page, when
    /// one is due) and reads those not read yet; answers whether there were any.
    async fn look(&self, state: &mut FeedState) -> bool {
        let now = Instant::now();
        let wall = unix_ms(SystemTime::now());
        let sweep = now >= state.next_sweep;
        let lookback = if sweep { SWEEP_LOOKBACK } else { FAST_LOOKBACK };
        let mut from = wall - i64::try_from(lookback.as_millis()).unwrap_or(0);
        if let Some(catch_up) = state.catch_up_from_ms {
            from = from.min(catch_up);
        }
        let query = format!("{CALLS} AND TimelineAt >= '{}'", rfc3339(from));
        let mut listed = match self.list(&query).await {
            Ok(listed) => listed,
            Err(error) => {
                tracing::warn!(%error, "the dashboard could not list the calls changed");
                return false;
            }
        };
        if state.deep_sweep.is_none() && now >= state.next_deep_sweep {
            state.next_deep_sweep = now + DEEP_SWEEP;
            state.deep_sweep = Some(self.deep_sweep(wall).await);
        }
        let (page, deep_swept_from) = self.deep_page(state).await;
        listed.extend(page);
        let fresh = self.unread(state, newest_changes(listed)).await;
        let changed = !fresh.is_empty();
        self.read_all(state, fresh).await;
        state.catch_up_from_ms = None;
        if sweep {
            state.next_sweep = now + SWEEP;
            // Every change before the sweep's lookback is read (or due again).
            state.checkpoint_ms = state.checkpoint_ms.max(from);
        }
        if let Some(from) = deep_swept_from {
            state.forget_before(from);
            state.legacy_due = true;
        }
        changed
    }

    /// A deep sweep from `wall`: the changes since [`DEEP_LOOKBACK`] ago, its pages spread over
    /// [`DEEP_SPREAD`] by how many calls visibility counts.
    async fn deep_sweep(&self, wall: i64) -> DeepSweep {
        let from_ms = wall - i64::try_from(DEEP_LOOKBACK.as_millis()).unwrap_or(0);
        let query = format!("{CALLS} AND TimelineAt >= '{}'", rfc3339(from_ms));
        let calls = match self
            .client
            .count_workflows(&query, Default::default())
            .await
        {
            Ok(counted) => counted.count(),
            Err(error) => {
                tracing::warn!(%error, "could not count the calls of the deep sweep");
                0
            }
        };
        let every = page_every(calls);
        tracing::debug!(
            calls,
            ?every,
            "the deep sweep lists its calls a page at a time"
        );
        DeepSweep {
            query,
            from_ms,
            next_page_token: Vec::new(),
            every,
            next_page: Instant::now(),
            listed: 0,
            pages: 0,
        }
    }

    /// The deep sweep's next page when it is due, and the sweep's lookback once it has listed
    /// its last page.
    async fn deep_page(&self, state: &mut FeedState) -> (Vec<Listed>, Option<i64>) {
        let Some(deep) = state.deep_sweep.as_mut() else {
            return (Vec::new(), None);
        };
        let now = Instant::now();
        if now < deep.next_page {
            return (Vec::new(), None);
        }
        deep.next_page = now + deep.every;
        let token = std::mem::take(&mut deep.next_page_token);
        match self.list_page(&deep.query, DEEP_PAGE, token).await {
            Ok((page, next_page_token)) => {
                deep.listed += page.len();
                deep.pages += 1;
                if !next_page_token.is_empty() {
                    deep.next_page_token = next_page_token;
                    return (page, None);
                }
                let (listed, pages) = (deep.listed, deep.pages);
                tracing::info!(
                    listed,
                    pages,
                    "the deep sweep listed the calls changed in 10 minutes"
                );
                let from = deep.from_ms;
                state.deep_sweep = None;
                (page, Some(from))
            }
            Err(error) => {
                // A page token may not outlive a failure (a visibility store restarted): the
                // sweep starts again from its first page at the next 30 s sweep.
                tracing::warn!(%error, "the deep sweep could not list its page; starting it again soon");
                state.deep_sweep = None;
                state.next_deep_sweep = now + SWEEP;
                (Vec::new(), None)
            }
        }
    }

    /// The listed calls of this worker's shards whose change the feed has not read yet.
    async fn unread(&self, state: &mut FeedState, listed: Vec<Listed>) -> Vec<Listed> {
        let mine: Vec<Listed> = listed
            .into_iter()
            .filter(|call| state.shards.holds(shard(&call.call_id)))
            .filter(|call| !state.due.contains_key(&call.call_id))
            .collect();
        let unknown: Vec<String> = mine
            .iter()
            .filter(|call| !state.known.contains_key(&call.call_id))
            .map(|call| call.call_id.to_string())
            .collect();
        // A worker that just started or took a shard over asks the read model what it has read.
        if !unknown.is_empty() {
            match self.store.feed_marks(&unknown).await {
                Ok(marks) => state.remember(marks),
                Err(error) => tracing::warn!(%error, "could not read the feed's marks"),
            }
        }
        mine.into_iter()
            .filter(|call| {
                state
                    .known
                    .get(&call.call_id)
                    .is_none_or(|known| known.change != call.change)
            })
            .collect()
    }

    /// Reads the calls due again whose time has come.
    async fn read_due(&self, state: &mut FeedState) {
        let now = Instant::now();
        let due: Vec<Listed> = state
            .due
            .values()
            .filter(|due| due.at <= now)
            .map(|due| due.call.clone())
            .collect();
        if !due.is_empty() {
            self.read_all(state, due).await;
        }
    }

    /// Reads the histories of `calls`, a few at once, and records what each read found.
    async fn read_all(&self, state: &mut FeedState, calls: Vec<Listed>) {
        let reads = futures::stream::iter(calls.into_iter().map(|call| {
            let last_seq = state.known.get(&call.call_id).map_or(0, |k| k.last_seq);
            async move {
                let read = self.read(&call, last_seq).await;
                (call, read)
            }
        }))
        .buffer_unordered(READS_AT_ONCE)
        .collect::<Vec<_>>()
        .await;
        for (call, read) in reads {
            state.record(call, read);
        }
    }

    /// Reads one call's history and projects what the read model lacks of its timeline.
    async fn read(&self, call: &Listed, mut last_seq: i64) -> Result<Read, HistoryError> {
        let call_id = call.call_id.to_string();
        if last_seq == 0 {
            last_seq = self.store.last_seq(&call_id).await?;
        }
        let handle =
            self.client
                .get_workflow_handle::<DriverCallWorkflow>(DriverCallWorkflow::workflow_id(
                    &call.call_id,
                ));
        let mut history = handle.fetch_history(WorkflowFetchHistoryOptions::default());
        let mut timeline = TimelineReader::default();
        while let Some(event) = history.next().await {
            let event = opened(&self.client, event).await?;
            let Some(mut batch) = timeline.read(&event)? else {
                continue;
            };
            batch.events.retain(|e| i64::from(e.seq) > last_seq);
            let Some(last) = batch.events.last() else {
                continue;
            };
            let seq = i64::from(last.seq);
            self.store.project(&batch).await?;
            last_seq = seq;
            self.projected.notify_one();
        }
        if !timeline.opened() && call.running {
            return Ok(Read::NotOpened(last_seq));
        }
        let change = call.change;
        self.store
            .mark_read(&call_id, change.at_ms, change.history_length)
            .await?;
        Ok(Read::Done(last_seq))
    }

    /// The calls `query` lists, with their changes; calls without `TimelineAt` are left out.
    /// Page by page in the server's largest pages, through [`Self::list_page`]: the client's own
    /// list would also decrypt every row's memo, which the feed does not read.
    async fn list(&self, query: &str) -> Result<Vec<Listed>, HistoryError> {
        let (mut calls, mut next_page_token) = self.list_page(query, 0, Vec::new()).await?;
        while !next_page_token.is_empty() {
            let (page, token) = self.list_page(query, 0, next_page_token).await?;
            calls.extend(page);
            next_page_token = token;
        }
        Ok(calls)
    }

    /// One page of at most `size` calls `query` lists (0: the server's largest page), and the
    /// token of the next (empty after the last).
    async fn list_page(
        &self,
        query: &str,
        size: i32,
        next_page_token: Vec<u8>,
    ) -> Result<(Vec<Listed>, Vec<u8>), HistoryError> {
        let request = ListWorkflowExecutionsRequest {
            namespace: self.client.namespace(),
            page_size: size,
            next_page_token,
            query: query.to_owned(),
        };
        let page = self
            .client
            .clone()
            .list_workflow_executions(tonic::Request::new(request))
            .await
            .map_err(|e| HistoryError::Server(e.to_string()))?
            .into_inner();
        let calls = page.executions.iter().filter_map(listed_call).collect();
        Ok((calls, page.next_page_token))
    }
}

impl FeedState {
    /// What a read found: a read call is known up to its change; a call not opened yet, or
    /// whose read failed, is read again soon.
    fn record(&mut self, call: Listed, read: Result<Read, HistoryError>) {
        let call_id = call.call_id;
        match read {
            Ok(Read::Done(last_seq)) => {
                self.due.remove(&call_id);
                let change = call.change;
                self.known.insert(call_id, Known { change, last_seq });
            }
            Ok(Read::NotOpened(last_seq)) => {
                self.retry_later(call, OPENING_RETRY);
                if let Some(known) = self.known.get_mut(&call_id) {
                    known.last_seq = last_seq;
                }
            }
            Err(HistoryError::Gone) => {
                tracing::warn!(%call_id, "the call's history is gone; nothing more to project");
                self.due.remove(&call_id);
            }
            Err(error) => {
                tracing::warn!(%call_id, %error, "reading the call's history failed; reading it again soon");
                self.retry_later(call, FIRST_RETRY);
            }
        }
    }

    /// Reads `call` again after a backoff that doubles each time, up to `LAST_RETRY`.
    fn retry_later(&mut self, call: Listed, first: Duration) {
        let backoff = self
            .due
            .get(&call.call_id)
            .map_or(first, |due| (due.backoff * 2).min(LAST_RETRY));
        let at = Instant::now() + backoff;
        self.due.insert(call.call_id, Due { call, at, backoff });
    }

    /// Remembers what the read model says it has read of some calls.
    fn remember(&mut self, marks: Vec<FeedMark>) {
        for mark in marks {
            let Ok(call_id) = CallId::parse(&mark.call_id) else {
                continue;
            };
            let change = Change {
                at_ms: mark.feed_at_ms,
                history_length: mark.feed_length,
            };
            let last_seq = mark.last_seq;
            self.known.insert(call_id, Known { change, last_seq });
        }
    }

    /// The checkpoint the shards may move to: no later than a change still due again, nor than
    /// a catch-up still to run.
    fn safe_checkpoint(&self) -> i64 {
        let oldest_due = self.due.values().map(|due| due.call.change.at_ms - 1).min();
        [oldest_due, self.catch_up_from_ms]
            .into_iter()
            .flatten()
            .fold(self.checkpoint_ms, i64::min)
    }

    /// Forgets the calls whose last change is older than any lookback lists again.
    fn forget_before(&mut self, from_ms: i64) {
        self.known.retain(|_, known| known.change.at_ms >= from_ms);
    }
}

/// A listed workflow as a call with its change, if it is one with `TimelineAt`.
fn listed_call(execution: &WorkflowExecutionInfo) -> Option<Listed> {
    let call_id = DriverCallWorkflow::call_id_of(&execution.execution.as_ref()?.workflow_id)?;
    let attributes = SearchAttributes::from_proto(execution.search_attributes.as_ref()?);
    let at = attributes.get(&TIMELINE_AT)?;
    let at_ms = at.seconds() * 1000 + i64::from(at.nanos()) / 1_000_000;
    Some(Listed {
        call_id,
        change: Change {
            at_ms,
            history_length: execution.history_length,
        },
        running: execution.status() == WorkflowExecutionStatus::Running,
    })
}

/// Each call once, at the newest of its listed changes (a call can be on two lists a moment
/// apart).
fn newest_changes(listed: Vec<Listed>) -> Vec<Listed> {
    let mut newest: HashMap<CallId, Listed> = HashMap::with_capacity(listed.len());
    for call in listed {
        match newest.get(&call.call_id) {
            Some(known) if known.change >= call.change => {}
            _ => {
                newest.insert(call.call_id, call);
            }
        }
    }
    newest.into_values().collect()
}

/// How far apart the deep sweep lists its pages, for `calls` to list: spread over
/// [`DEEP_SPREAD`], and never further apart than [`DEEP_PAGE_AT_MOST_EVERY`].
fn page_every(calls: usize) -> Duration {
    let per_page = usize::try_from(DEEP_PAGE).unwrap_or(1);
    let pages = u32::try_from(calls.div_ceil(per_page)).unwrap_or(u32::MAX);
    (DEEP_SPREAD / pages.max(1)).min(DEEP_PAGE_AT_MOST_EVERY)
}

fn shard(call_id: &CallId) -> u32 {
    call_id.shard(SHARDS)
}

/// A moment in a visibility query.
fn rfc3339(ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_millis(at).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(call_id: CallId, at_ms: i64, history_length: i64) -> Listed {
        let change = Change {
            at_ms,
            history_length,
        };
        Listed {
            call_id,
            change,
            running: true,
        }
    }

    #[test]
    fn a_call_on_two_lists_is_read_once_at_its_newest_change() {
        let (a, b) = (
            CallId::from_uuid(uuid::Uuid::new_v4()),
            CallId::from_uuid(uuid::Uuid::new_v4()),
        );
        let mut newest = newest_changes(vec![
            listed(a, 10, 7),
            listed(b, 12, 9),
            listed(a, 10, 11),
            listed(a, 9, 20),
        ]);
        newest.sort_by_key(|call| call.change);
        let changes: Vec<_> = newest
            .iter()
            .map(|c| (c.call_id, c.change.at_ms, c.change.history_length))
            .collect();
        assert_eq!(changes, vec![(a, 10, 11), (b, 12, 9)]);
    }

    #[test]
    fn the_deep_sweeps_pages_are_spread_over_four_minutes_and_never_further_apart_than_15_s() {
        assert_eq!(page_every(2_000), Duration::from_secs(12), "20 pages");
        assert_eq!(
            page_every(100_000),
            Duration::from_millis(240),
            "1,000 pages"
        );
        assert_eq!(
            page_every(0),
            DEEP_PAGE_AT_MOST_EVERY,
            "nothing counted: one page"
        );
        assert_eq!(page_every(150), DEEP_PAGE_AT_MOST_EVERY, "two pages");
        assert!(
            DEEP_SPREAD < DEEP_SWEEP,
            "a sweep ends before the next is due"
        );
    }

    #[test]
    fn a_lookback_is_a_moment_in_the_visibility_query() {
        assert_eq!(rfc3339(1_764_633_605_250), "2025-12-02T00:00:05.250Z");
        assert_eq!(rfc3339(-5), "1970-01-01T00:00:00.000Z");
    }
}
