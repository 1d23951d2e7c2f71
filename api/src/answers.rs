//! The API's record of each step's answer in the read model (see [`AnswerRecorder`]).

use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use driver_call_stores::DashboardStore;
use driver_call_stores::dashboard::StreamedEvent;
use driver_call_workflows::contracts::dashboard::ProjectTimelineInput;
use driver_call_workflows::domain::CallId;
use tokio::sync::mpsc;

/// How many calls' last recorded seq one API process remembers (a few dozen bytes each).
const REMEMBERED_CALLS: NonZeroUsize = NonZeroUsize::new(10_000).expect("not zero");

/// The feed is busy when the tail read its writes this many times within [`FEED_BUSY_WITHIN`]:
/// it then finds a change at nearly every look, so it looks every `DASHBOARD_FEED_INTERVAL`
/// (100 ms) and brings a step about as soon as the API's own write would. A feed that writes
/// less often may be waiting longer between its looks (up to a second), and the API writes.
const FEED_BUSY_READS: usize = 3;
/// See [`FEED_BUSY_READS`] (the tail reads every 100 ms).
const FEED_BUSY_WITHIN: Duration = Duration::from_millis(400);
/// How long the writer gathers answers before it writes them: one tail tick. Under load the
/// answers of many calls then share a transaction (one commit, and one write of the pages they
/// share, instead of one each); the customers' streams and myPage show a step at most this much
/// later, and the call's own streams in this process at once all the same.
const GATHER: Duration = Duration::from_millis(100);
/// How long an answer left to a busy feed waits for it: if the tail has not read the step by
/// then, the API writes it after all, so a step is never later than this, [`GATHER`] and a tail
/// tick on the customers' streams and myPage (the call's own streams in this process have it at
/// once, from [`crate::live::ReadModelTail::answered`]).
const FEED_GRACE: Duration = Duration::from_millis(500);

/// Records a step's answer (the call's whole timeline, which every update answers with) in the
/// read model at once, so myPage and the live streams show the step within the tail's tick,
/// however long the dashboard's feed waits between its looks (up to a second at rest). The feed
/// reads every change from the call's history anyway, so a write that fails or is skipped loses
/// nothing.
///
/// A write costs the API a transaction, so it is made only when it saves a wait: while the feed is
/// busy ([`FEED_BUSY_READS`]) it usually brings the step as soon, and the API writes only the
/// answers the feed has not brought within [`FEED_GRACE`]. One writer per process: the answers
/// that arrive within [`GATHER`] of the first, or while a write is under way, go together in one
/// transaction, and only the events the read model is not known to hold yet are sent.
#[derive(Clone)]
pub(crate) struct AnswerRecorder {
    answers: mpsc::UnboundedSender<ProjectTimelineInput>,
    feed: FeedWatch,
}

impl AnswerRecorder {
    /// Starts the writer (it ends with the last handle); `feed` says whether the feed is moving.
    pub(crate) fn start(store: DashboardStore, feed: FeedWatch) -> Self {
        let (answers, pending) = mpsc::unbounded_channel();
        tokio::spawn(write_answers(store, pending, feed.clone()));
        Self { answers, feed }
    }

    pub(crate) fn record(&self, answer: ProjectTimelineInput) {
        if !self.feed.busy() {
            // The writer ends only when every sender is gone, so this cannot fail while `self`
            // lives.
            let _ = self.answers.send(answer);
            return;
        }
        let (answers, feed) = (self.answers.clone(), self.feed.clone());
        tokio::spawn(async move {
            tokio::time::sleep(FEED_GRACE).await;
            let call_id = answer.call_id.to_string();
            if feed.seen(&call_id) < i64::from(last_seq(&answer)) {
                let _ = answers.send(answer);
            }
        });
    }
}

/// What the read model's tail ([`crate::live`]) tells the recorder: when it lately read events
/// this process did not write, that is, the dashboard's feed at work.
#[derive(Clone)]
pub(crate) struct FeedWatch(Arc<Mutex<Watched>>);

struct Watched {
    /// Each call's newest seq this process wrote.
    written: lru::LruCache<String, u32>,
    /// Each call's newest seq the tail read (whoever wrote it).
    seen: lru::LruCache<String, i64>,
    /// When the tail lately read events of the feed's, the newest last.
    feed_wrote: VecDeque<Instant>,
}

impl FeedWatch {
    pub(crate) fn new() -> Self {
        Self(Arc::new(Mutex::new(Watched {
            written: lru::LruCache::new(REMEMBERED_CALLS),
            seen: lru::LruCache::new(REMEMBERED_CALLS),
            feed_wrote: VecDeque::with_capacity(FEED_BUSY_READS),
        })))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Watched> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The tail read `events`: any this process did not write is the feed's.
    pub(crate) fn saw(&self, events: &[StreamedEvent]) {
        let mut watched = self.lock();
        for event in events {
            let newest = watched.seen.get_or_insert_mut(event.call_id.clone(), || 0);
            *newest = (*newest).max(event.seq);
        }
        let feeds = events.iter().any(|event| {
            let ours = watched.written.peek(&event.call_id).copied().unwrap_or(0);
            event.seq > i64::from(ours)
        });
        if feeds {
            if watched.feed_wrote.len() == FEED_BUSY_READS {
                watched.feed_wrote.pop_front();
            }
            watched.feed_wrote.push_back(Instant::now());
        }
    }

    /// Whether the tail read the feed's writes [`FEED_BUSY_READS`] times within
    /// [`FEED_BUSY_WITHIN`] of now.
    fn busy(&self) -> bool {
        let watched = self.lock();
        watched.feed_wrote.len() == FEED_BUSY_READS
            && watched
                .feed_wrote
                .front()
                .is_some_and(|first| first.elapsed() < FEED_BUSY_WITHIN)
    }

    /// The newest seq of `call_id` the tail read.
    fn seen(&self, call_id: &str) -> i64 {
        self.lock().seen.peek(call_id).copied().unwrap_or(0)
    }

    fn wrote(&self, call_id: CallId, seq: u32) {
        self.lock().written.put(call_id.to_string(), seq);
    }

    /// The newest seq of `call_id` the read model is known to hold: this process wrote it, or
    /// the tail read it.
    fn held(&self, call_id: &CallId) -> u32 {
        let call_id = call_id.to_string();
        let watched = self.lock();
        let written = watched.written.peek(&call_id).copied().unwrap_or(0);
        let seen = watched.seen.peek(&call_id).copied().unwrap_or(0);
        written.max(u32::try_from(seen).unwrap_or(0))
    }
}

async fn write_answers(
    store: DashboardStore,
    mut pending: mpsc::UnboundedReceiver<ProjectTimelineInput>,
    feed: FeedWatch,
) {
    let mut batch = Vec::new();
    while pending.recv_many(&mut batch, usize::MAX).await > 0 {
        tokio::time::sleep(GATHER).await;
        while let Ok(answer) = pending.try_recv() {
            batch.push(answer);
        }
        let news = news(std::mem::take(&mut batch), |call| feed.held(call));
        if news.is_empty() {
            continue;
        }
        match store.project_all(&news).await {
            Ok(()) => {
                for input in &news {
                    if let Some(last) = input.events.last() {
                        feed.wrote(input.call_id, last.seq);
                    }
                }
            }
            Err(error) => {
                tracing::info!(%error, calls = news.len(), "steps' answers wait for the dashboard's feed");
            }
        }
    }
}

/// Each call's newest answer in the batch, cut to the events after those the read model is
/// known to hold (`held`).
fn news(
    answers: Vec<ProjectTimelineInput>,
    held: impl Fn(&CallId) -> u32,
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
        let after = held(&answer.call_id);
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
        let written = |call: &CallId| if *call == a { 3 } else { 0 };
        let news = news(
            vec![answer(a, 4), answer(b, 2), answer(a, 6), answer(b, 1)],
            written,
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
        assert!(news(vec![answer(a, 5), answer(a, 2)], |_| 5).is_empty());
    }

    fn streamed(call_id: CallId, seq: i64) -> StreamedEvent {
        StreamedEvent {
            event_id: seq,
            call_id: call_id.to_string(),
            mobile: String::new(),
            seq,
            event: "CallPayed".to_owned(),
            status: None,
            at: String::new(),
            description: String::new(),
        }
    }

    #[test]
    fn the_feed_is_busy_only_while_the_tail_keeps_reading_events_this_process_did_not_write() {
        let (ours, theirs) = (new_call(), new_call());
        let feed = FeedWatch::new();
        assert!(!feed.busy(), "nothing seen yet");
        feed.wrote(ours, 4);
        for _ in 0..FEED_BUSY_READS {
            feed.saw(&[streamed(ours, 3), streamed(ours, 4)]);
        }
        assert!(!feed.busy(), "our own writes are no sign of the feed");
        feed.saw(&[streamed(ours, 5)]);
        feed.saw(&[streamed(theirs, 1)]);
        assert!(!feed.busy(), "twice is not busy");
        feed.saw(&[streamed(theirs, 2)]);
        assert!(feed.busy(), "the feed keeps writing what we did not");
        assert_eq!(feed.seen(&theirs.to_string()), 2);
        assert_eq!(feed.seen(&ours.to_string()), 5);
        let long_ago = Instant::now() - FEED_BUSY_WITHIN;
        feed.lock()
            .feed_wrote
            .iter_mut()
            .for_each(|at| *at = long_ago);
        assert!(!feed.busy(), "a while ago");
    }
}
