//! Reading a call's timeline out of its Temporal history.
//!
//! A call's history is its event log: the workflow's start and each update's result hand its
//! timeline on (patch `results-projection`), and its `projection` memo upserts carry the batches
//! the run records by itself (every batch, in calls started with `memo-projection`). The reader
//! turns the history, event by event, into the batches the read model projects, each once and in
//! order.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use driver_call_workflows::DriverCallWorkflow;
use driver_call_workflows::contracts::dashboard::{PROJECTION_MEMO, ProjectTimelineInput};
use driver_call_workflows::domain::CallView;
use driver_call_workflows::driver_call::{
    DriverCallInput, HASHED_MOBILE_PATCH, OFFER_TIERS_PATCH, PayResult, RESULTS_PROJECTION_PATCH,
    TIMELINE_FEED_PATCH,
};
use temporalio_client::errors::WorkflowInteractionError;
use temporalio_common::protos::temporal::api::history::v1::{
    HistoryEvent, MarkerRecordedEventAttributes, WorkflowExecutionUpdateCompletedEventAttributes,
    WorkflowPropertiesModifiedEventAttributes, history_event,
};
use temporalio_common::protos::temporal::api::update::v1::outcome;

/// Bounds of the backoff when the server or the database does not answer.
pub(super) const FIRST_RETRY: Duration = Duration::from_millis(200);
pub(super) const LAST_RETRY: Duration = Duration::from_secs(10);

/// Reads a call's timeline out of its history, event by event. The history hands it on in
/// three ways: the opening events, which the dashboard makes from the workflow's input and the
/// time of its first workflow task (patch `results-projection`); every update's result, the
/// call's view with its whole timeline; and the `projection` memo upserts, with the batches the
/// run records by itself (and every batch, in calls started before `results-projection`).
/// The history holds them in the order they were recorded, so each batch goes on from the last.
#[derive(Default)]
pub(super) struct TimelineReader {
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
    pub(super) fn read(
        &mut self,
        event: &HistoryEvent,
    ) -> Result<Option<ProjectTimelineInput>, HistoryError> {
        Ok(self.carried(event)?.and_then(|batch| self.unseen(batch)))
    }

    /// The timeline events `event` carries, seen before or not.
    fn carried(
        &mut self,
        event: &HistoryEvent,
    ) -> Result<Option<ProjectTimelineInput>, HistoryError> {
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

    /// The opening events, once the `results-projection` marker (or `offer-tiers`,
    /// `timeline-feed` or `hashed-mobile`, which imply it) shows the run left them to the
    /// dashboard.
    fn opening(
        &self,
        marker: &MarkerRecordedEventAttributes,
    ) -> Result<Option<ProjectTimelineInput>, HistoryError> {
        let Some(data) = marker
            .details
            .get(PATCH_DATA)
            .and_then(|details| details.payloads.first())
        else {
            return Ok(None);
        };
        let patch: PatchData = parse(&data.data)?;
        // Each of these implies `results-projection`; a call records the newest alone.
        let hands_on = [
            RESULTS_PROJECTION_PATCH,
            OFFER_TIERS_PATCH,
            TIMELINE_FEED_PATCH,
            HASHED_MOBILE_PATCH,
        ];
        if !hands_on.contains(&patch.id.as_str()) {
            return Ok(None);
        }
        let (Some(input), Some(at)) = (self.input.clone(), self.first_task_at) else {
            return Err(HistoryError::Corrupt(
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
) -> Result<Option<ProjectTimelineInput>, HistoryError> {
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
) -> Result<Option<ProjectTimelineInput>, HistoryError> {
    let Some(payload) = modified
        .upserted_memo
        .as_ref()
        .and_then(|memo| memo.fields.get(PROJECTION_MEMO))
    else {
        return Ok(None);
    };
    parse(&payload.data).map(Some)
}

fn parse<T: serde::de::DeserializeOwned>(json: &[u8]) -> Result<T, HistoryError> {
    serde_json::from_slice(json).map_err(|e| HistoryError::Corrupt(e.to_string()))
}

impl TimelineReader {
    /// Whether the call's first workflow task has completed: before it, the opening events are
    /// not in the history yet.
    pub(super) fn opened(&self) -> bool {
        self.first_task_at.is_some()
    }
}

pub(super) fn unix_ms(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Runs `attempt` until it succeeds, backing off between failures: the read model must not skip
/// a batch, and a database that does not answer now will answer later.
pub(super) async fn retry<T, E, F, Fut>(what: &str, mut attempt: F) -> T
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

/// Why reading a call's history broke off.
#[derive(Debug, thiserror::Error)]
pub(super) enum HistoryError {
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

/// `event` with its payloads opened by `client`'s codec: the workflow's input, the updates'
/// results and the memos reach the server encrypted (`driver_call_runtime::codec`), and a
/// history is read raw.
pub(super) async fn opened(
    client: &temporalio_client::Client,
    event: Result<HistoryEvent, WorkflowInteractionError>,
) -> Result<HistoryEvent, HistoryError> {
    use temporalio_client::NamespacedClient as _;
    use temporalio_common::data_converters::SerializationContextData;

    let mut event = event?;
    let codec = client.data_converter().codec();
    temporalio_common::payload_visitor::decode_payloads(
        &mut event,
        codec,
        &SerializationContextData::None,
    )
    .await
    .map_err(|e| HistoryError::Corrupt(e.to_string()))?;
    Ok(event)
}

impl From<WorkflowInteractionError> for HistoryError {
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
        for generation in ["v4", "v5", "v6", "v7", "v8"] {
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
        assert_eq!(read_generations, 5);
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
}
