//! The API's record of each step's answer in the read model (see [`AnswerRecorder`]).

use std::num::NonZeroUsize;

use driver_call_stores::DashboardStore;
use driver_call_workflows::contracts::dashboard::ProjectTimelineInput;
use driver_call_workflows::domain::{CallId, CallView};
use tokio::sync::mpsc;

/// How many calls' last recorded seq one API process remembers (a few dozen bytes each).
const REMEMBERED_CALLS: NonZeroUsize = NonZeroUsize::new(10_000).expect("not zero");

/// Records a step's answer (the call's whole timeline, which every update answers with) in the
/// read model at once, so myPage and the live streams show the step within the tail's tick,
/// however long the dashboard's feed waits between its looks. The feed reads every change from
/// the call's history anyway, so a write that fails loses nothing.
///
/// One writer per process: answers that arrive while a write is under way go together in the
/// next transaction, and only the events this process has not written yet are sent, so a busy
/// API writes a few rows per step rather than the whole timeline in a transaction of its own.
#[derive(Clone)]
pub(crate) struct AnswerRecorder {
    answers: mpsc::UnboundedSender<ProjectTimelineInput>,
}

impl AnswerRecorder {
    /// Starts the writer (it ends with the last handle).
    pub(crate) fn start(store: DashboardStore) -> Self {
        let (answers, pending) = mpsc::unbounded_channel();
        tokio::spawn(write_answers(store, pending));
        Self { answers }
    }

    pub(crate) fn record(&self, view: &CallView) {
        // The writer ends only when every sender is gone, so this cannot fail while `self` lives.
        let _ = self
            .answers
            .send(ProjectTimelineInput::of_view(view.clone()));
    }
}

async fn write_answers(
    store: DashboardStore,
    mut pending: mpsc::UnboundedReceiver<ProjectTimelineInput>,
) {
    let mut written = lru::LruCache::<CallId, u32>::new(REMEMBERED_CALLS);
    let mut batch = Vec::new();
    while pending.recv_many(&mut batch, usize::MAX).await > 0 {
        let news = news(std::mem::take(&mut batch), &mut written);
        if news.is_empty() {
            continue;
        }
        match store.project_all(&news).await {
            Ok(()) => {
                for input in &news {
                    if let Some(last) = input.events.last() {
                        written.put(input.call_id, last.seq);
                    }
                }
            }
            Err(error) => {
                tracing::info!(%error, calls = news.len(), "steps' answers wait for the dashboard's feed");
            }
        }
    }
}

/// Each call's newest answer in the batch, cut to the events after those this process wrote.
fn news(
    answers: Vec<ProjectTimelineInput>,
    written: &mut lru::LruCache<CallId, u32>,
) -> Vec<ProjectTimelineInput> {
    let mut newest: Vec<ProjectTimelineInput> = Vec::with_capacity(answers.len());
    for answer in answers {
        match newest.iter_mut().find(|n| n.call_id == answer.call_id) {
            Some(known) if last_seq(known) < last_seq(&answer) => *known = answer,
            Some(_) => {}
            None => newest.push(answer),
        }
    }
    newest.retain_mut(|answer| {
        let after = written.get(&answer.call_id).copied().unwrap_or(0);
        answer.events.retain(|event| event.seq > after);
        !answer.events.is_empty()
    });
    newest
}

fn last_seq(input: &ProjectTimelineInput) -> u32 {
    input.events.last().map_or(0, |event| event.seq)
}

#[cfg(test)]
mod tests {
    use driver_call_workflows::domain::{
        CallStatus, EventName, Krw, Location, MobileNumber, TimelineEvent,
    };

    use super::*;

    fn answer(call_id: CallId, through: u32) -> ProjectTimelineInput {
        let events = (1..=through)
            .map(|seq| TimelineEvent {
                seq,
                event: EventName::CallMade,
                at: format!("2026-12-07T00:00:0{seq}Z"),
                description: String::new(),
            })
            .collect();
        ProjectTimelineInput {
            call_id,
            mobile: MobileNumber::parse("010-5555-6666").expect("a mobile"),
            location: Location::parse("Gangnam").expect("a location"),
            pay_amount: Krw::new(25_000).expect("a fare"),
            status: CallStatus::Created,
            events,
        }
    }

    fn new_call() -> CallId {
        CallId::from_uuid(uuid::Uuid::new_v4())
    }

    fn seqs(input: &ProjectTimelineInput) -> Vec<u32> {
        input.events.iter().map(|e| e.seq).collect()
    }

    #[test]
    fn a_batch_keeps_each_calls_newest_answer_and_only_what_was_not_written() {
        let (a, b) = (new_call(), new_call());
        let mut written = lru::LruCache::new(REMEMBERED_CALLS);
        written.put(a, 3);
        let news = news(
            vec![answer(a, 4), answer(b, 2), answer(a, 6), answer(b, 1)],
            &mut written,
        );
        assert_eq!(news.len(), 2);
        assert_eq!(news[0].call_id, a);
        assert_eq!(seqs(&news[0]), vec![4, 5, 6]);
        assert_eq!(news[1].call_id, b);
        assert_eq!(seqs(&news[1]), vec![1, 2]);
    }

    #[test]
    fn an_answer_with_nothing_new_writes_nothing() {
        let a = new_call();
        let mut written = lru::LruCache::new(REMEMBERED_CALLS);
        written.put(a, 5);
        assert!(news(vec![answer(a, 5), answer(a, 2)], &mut written).is_empty());
    }
}
