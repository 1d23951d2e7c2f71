//! The read model's newest events, read once per tick for the whole process and shared with every
//! open call stream (`GET /calls/{id}/events`): N open streams cost one query per tick, not N.
//!
//! The tail hands each stream the events of its call; the stream checks that they go on from the
//! last seq it sent and otherwise asks the read model for its call itself (a stream that fell
//! behind, or an event the tail passed over: on PostgreSQL an event id can become visible after
//! a higher one). It also asks once every [`RECHECK`], so no event waits longer than that even
//! then.

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use driver_call_stores::StoreError;
use driver_call_stores::dashboard::{DashboardStore, StreamedEvent};
use futures::Stream;
use tokio::sync::broadcast;
use tokio::time::{Interval, MissedTickBehavior};

/// How often the tail reads the read model's new events: the mean wait it adds to every live
/// event is half of it, and it costs one query per tick for the whole process.
const TICK: Duration = Duration::from_millis(100);
/// How often a stream asks for its call's events whatever the tail says.
const RECHECK: Duration = Duration::from_secs(2);
/// How many batches a slow stream may fall behind before it reads its call itself.
const BACKLOG: usize = 256;

type Batch = Arc<[StreamedEvent]>;

/// The shared tail, started by the first stream that subscribes.
#[derive(Clone)]
pub(crate) struct ReadModelTail {
    store: DashboardStore,
    sender: Arc<OnceLock<broadcast::Sender<Batch>>>,
}

impl ReadModelTail {
    pub(crate) fn new(store: DashboardStore) -> Self {
        Self {
            store,
            sender: Arc::default(),
        }
    }

    /// Every event of `call_id` after `seq`, from the read model, as it arrives; ends when the
    /// read model fails (the client reconnects with `Last-Event-ID`).
    pub(crate) fn call_events(
        &self,
        call_id: String,
        seq: i64,
    ) -> impl Stream<Item = StreamedEvent> + Send + use<> {
        let sender = self.sender.get_or_init(|| {
            let (sender, _) = broadcast::channel(BACKLOG);
            tokio::spawn(tail(self.store.clone(), sender.clone()));
            sender
        });
        let mut recheck = tokio::time::interval(RECHECK);
        recheck.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let follower = CallFollower {
            store: self.store.clone(),
            call_id,
            last: seq,
            batches: sender.subscribe(),
            pending: VecDeque::new(),
            recheck,
        };
        futures::stream::unfold(follower, |mut follower| async move {
            let event = follower.next().await?;
            Some((event, follower))
        })
    }
}

/// Reads the events the read model gained since the last tick and hands them to every stream,
/// while any is open (none open: it only waits, and starts from the newest event again).
async fn tail(store: DashboardStore, sender: broadcast::Sender<Batch>) {
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut cursor: Option<i64> = None;
    loop {
        ticks.tick().await;
        if sender.receiver_count() == 0 {
            cursor = None;
            continue;
        }
        match read_new(&store, cursor).await {
            Ok((newest, events)) => {
                cursor = Some(newest);
                if !events.is_empty() {
                    // No stream open any more is no error: the next tick finds none.
                    let _ = sender.send(events.into());
                }
            }
            Err(error) => tracing::warn!(%error, "the event tail could not read the read model"),
        }
    }
}

/// The events after `cursor` and the cursor to go on from; from the newest event, without one.
async fn read_new(
    store: &DashboardStore,
    cursor: Option<i64>,
) -> Result<(i64, Vec<StreamedEvent>), StoreError> {
    let Some(cursor) = cursor else {
        return Ok((store.newest_event_id().await?, Vec::new()));
    };
    let events = store.customer_events_after(None, cursor).await?;
    let newest = events.last().map_or(cursor, |e| e.event_id);
    Ok((newest, events))
}

/// One stream's view of the tail: its call's events in seq order, each once.
struct CallFollower {
    store: DashboardStore,
    call_id: String,
    /// The last seq sent.
    last: i64,
    batches: broadcast::Receiver<Batch>,
    pending: VecDeque<StreamedEvent>,
    recheck: Interval,
}

impl CallFollower {
    /// The next event; `None` once the read model failed.
    async fn next(&mut self) -> Option<StreamedEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                self.last = event.seq;
                return Some(event);
            }
            let read_itself = tokio::select! {
                batch = self.batches.recv() => match batch {
                    Ok(batch) => match consecutive(&self.call_id, self.last, &batch) {
                        Some(events) => {
                            self.pending.extend(events);
                            false
                        }
                        None => true,
                    },
                    Err(broadcast::error::RecvError::Lagged(_)) => true,
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                _ = self.recheck.tick() => true,
            };
            if read_itself {
                match self.store.call_events_after(&self.call_id, self.last).await {
                    Ok(events) => self.pending.extend(events),
                    Err(error) => {
                        tracing::warn!(%error, "event stream ended: the read model failed");
                        return None;
                    }
                }
            }
        }
    }
}

/// The events of `call_id` in `batch` after seq `last`, if they go on from it without a gap
/// (none is fine); `None` when one is missing.
fn consecutive(call_id: &str, last: i64, batch: &[StreamedEvent]) -> Option<Vec<StreamedEvent>> {
    let mine: Vec<StreamedEvent> = batch
        .iter()
        .filter(|e| e.call_id == call_id && e.seq > last)
        .cloned()
        .collect();
    let in_order = mine.iter().zip(last + 1..).all(|(e, seq)| e.seq == seq);
    in_order.then_some(mine)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(call_id: &str, seq: i64) -> StreamedEvent {
        StreamedEvent {
            event_id: 0,
            call_id: call_id.to_owned(),
            seq,
            event: "CallMade".to_owned(),
            status: None,
            at: "2026-12-02T00:00:00.000Z".to_owned(),
            description: String::new(),
        }
    }

    fn seqs(events: Option<Vec<StreamedEvent>>) -> Option<Vec<i64>> {
        events.map(|events| events.iter().map(|e| e.seq).collect())
    }

    #[test]
    fn a_stream_takes_its_own_calls_events_that_go_on_from_the_last_it_sent() {
        let batch = [event("a", 3), event("b", 1), event("a", 4), event("a", 5)];
        assert_eq!(seqs(consecutive("a", 2, &batch)), Some(vec![3, 4, 5]));
        assert_eq!(seqs(consecutive("a", 4, &batch)), Some(vec![5]));
        assert_eq!(seqs(consecutive("c", 0, &batch)), Some(vec![]));
    }

    #[test]
    fn a_gap_makes_the_stream_read_its_call_itself() {
        let batch = [event("a", 3), event("a", 5)];
        assert_eq!(seqs(consecutive("a", 2, &batch)), None);
        assert_eq!(seqs(consecutive("a", 1, &batch)), None);
    }
}
