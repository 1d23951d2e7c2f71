//! Every live stream of the read model, fed by one tail per API process: a call's events
//! (`GET /calls/{id}/events`), a customer's (`GET /dashboards/events`) and every customer's (the
//! console's). The tail reads the events committed since its cursor once per tick, however many
//! streams are open, and hands each event only to the streams that show it (its call's, its
//! customer's, the console's), so an event costs what its own streams cost, however many others
//! are open; with no stream open the tail stops, so an idle API costs the read model nothing.
//!
//! The read model numbers its events in commit order (on PostgreSQL each projection takes a lock
//! until it commits), so the tail never passes over an event that becomes visible late. A stream
//! reads the read model itself only when it opens (what came before it), when it fell behind the
//! tail, or when its call's seqs skip (which the commit order rules out; it costs nothing to
//! check).
//!
//! A step this process answered goes to its call's streams here at once
//! ([`ReadModelTail::answered`]), before the read model holds it: a call's stream counts by the
//! call's seq, so the tail's later copy of the same events is simply passed over. The customers'
//! and the console's streams count by the read model's positions, which only the read model gives,
//! so they wait for the tail.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use driver_call_stores::StoreError;
use driver_call_stores::dashboard::{DashboardStore, StreamedEvent};
use futures::{Stream, StreamExt as _};
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use crate::answers::FeedWatch;

/// How often the tail reads the read model's new events: the mean wait it adds to every live
/// event is half of it, and it costs one query per tick for the whole process.
const TICK: Duration = Duration::from_millis(100);
/// How many batches a slow stream may fall behind before it reads the read model itself.
const BACKLOG: usize = 256;
/// The most events one read of the read model returns (the store's page).
const PAGE: usize = 500;

type Batch = Arc<[StreamedEvent]>;

/// The shared tail, started by the first stream that opens and stopped after the last closes.
#[derive(Clone)]
pub(crate) struct ReadModelTail {
    store: DashboardStore,
    routes: Arc<Mutex<Routes>>,
    /// Told every event the tail reads (whether the dashboard's feed is at work).
    feed: FeedWatch,
}

/// Which events a stream wants.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Filter {
    /// One call's, after a seq.
    Call(String),
    /// One customer's.
    Customer(String),
    /// Every customer's (the console).
    Everyone,
}

impl Filter {
    fn wants(&self, event: &StreamedEvent) -> bool {
        match self {
            Self::Call(call_id) => &event.call_id == call_id,
            // An event not in the read model yet has no position on these streams.
            Self::Customer(mobile) => event.event_id > 0 && &event.mobile == mobile,
            Self::Everyone => event.event_id > 0,
        }
    }

    /// Where `event` puts a stream: its seq on a call's stream, else its read model position.
    fn position(&self, event: &StreamedEvent) -> i64 {
        match self {
            Self::Call(_) => event.seq,
            _ => event.event_id,
        }
    }

    /// The events of `batch` this stream wants after position `after`; `None` when a call's
    /// seqs skip one (the stream then reads its call itself).
    fn take(&self, after: i64, batch: &[StreamedEvent]) -> Option<Vec<StreamedEvent>> {
        let mine: Vec<StreamedEvent> = batch
            .iter()
            .filter(|e| self.wants(e) && self.position(e) > after)
            .cloned()
            .collect();
        let Self::Call(_) = self else {
            return Some(mine);
        };
        let in_order = mine.iter().zip(after + 1..).all(|(e, seq)| e.seq == seq);
        in_order.then_some(mine)
    }
}

impl ReadModelTail {
    pub(crate) fn new(store: DashboardStore, feed: FeedWatch) -> Self {
        Self {
            store,
            routes: Arc::default(),
            feed,
        }
    }

    /// Every event of `call_id` after `seq`, from the read model, as it arrives; ends when the
    /// read model fails (the client reconnects with `Last-Event-ID`).
    pub(crate) fn call_events(
        &self,
        call_id: String,
        seq: i64,
    ) -> impl Stream<Item = StreamedEvent> + Send + use<> {
        self.stream(Filter::Call(call_id), seq)
    }

    /// Every event of the customer `mobile` (every customer's when `None`) after the read model
    /// position `event_id`, as it arrives.
    pub(crate) fn customer_events(
        &self,
        mobile: Option<String>,
        event_id: i64,
    ) -> impl Stream<Item = StreamedEvent> + Send + use<> {
        let filter = mobile.map_or(Filter::Everyone, Filter::Customer);
        self.stream(filter, event_id)
    }

    fn stream(
        &self,
        filter: Filter,
        after: i64,
    ) -> impl Stream<Item = StreamedEvent> + Send + use<> {
        let this = self.clone();
        let opened = async move {
            let (batches, lagged) = this.subscribe(&filter);
            let mut follower = Follower {
                store: this.store.clone(),
                filter,
                last: after,
                batches,
                lagged,
                pending: VecDeque::new(),
            };
            // What came before the stream opened; the tail brings what comes after.
            follower.read_itself().await.then_some(follower)
        };
        futures::stream::once(opened).flat_map(|follower| {
            futures::stream::unfold(follower, |follower| async move {
                let mut follower = follower?;
                let event = follower.next().await?;
                Some((event, Some(follower)))
            })
        })
    }

    /// Hands the events of a step this process answered to the streams of its call at once
    /// (`events` from [`StreamedEvent::unnumbered`]); nothing to do when no stream is open.
    pub(crate) fn answered(&self, events: Vec<StreamedEvent>) {
        self.routes().hand(&events);
    }

    fn routes(&self) -> MutexGuard<'_, Routes> {
        lock(&self.routes)
    }

    /// A receiver of the batches of `filter`'s events the tail reads from now on, and the flag
    /// set when one did not fit; starts the tail if none runs.
    fn subscribe(&self, filter: &Filter) -> (mpsc::Receiver<Batch>, Arc<AtomicBool>) {
        let (batches, receiver) = mpsc::channel(BACKLOG);
        let lagged = Arc::new(AtomicBool::new(false));
        let mut routes = self.routes();
        routes.add(
            filter,
            Subscriber {
                batches,
                lagged: lagged.clone(),
            },
        );
        if !routes.tailing {
            routes.tailing = true;
            tokio::spawn(tail(
                self.store.clone(),
                self.routes.clone(),
                self.feed.clone(),
            ));
        }
        (receiver, lagged)
    }
}

fn lock(routes: &Mutex<Routes>) -> MutexGuard<'_, Routes> {
    routes.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where the tail's events go: each open stream's channel, found by what the stream shows.
#[derive(Default)]
struct Routes {
    calls: HashMap<String, Vec<Subscriber>>,
    customers: HashMap<String, Vec<Subscriber>>,
    everyone: Vec<Subscriber>,
    /// Whether the tail runs (from the first stream that opens until none is open).
    tailing: bool,
}

/// One stream's end of the routes.
struct Subscriber {
    batches: mpsc::Sender<Batch>,
    /// Set when a batch did not fit (the stream fell [`BACKLOG`] batches behind): the stream then
    /// reads the read model itself.
    lagged: Arc<AtomicBool>,
}

impl Subscriber {
    /// Hands `batch` on; false once the stream has closed.
    fn hand(&self, batch: &Batch) -> bool {
        match self.batches.try_send(batch.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.lagged.store(true, Ordering::Release);
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

impl Routes {
    fn add(&mut self, filter: &Filter, subscriber: Subscriber) {
        match filter {
            Filter::Call(call_id) => self.calls.entry(call_id.clone()).or_default(),
            Filter::Customer(mobile) => self.customers.entry(mobile.clone()).or_default(),
            Filter::Everyone => &mut self.everyone,
        }
        .push(subscriber);
    }

    /// Hands each stream the events it shows: a call's stream its call's, a customer's that
    /// customer's, the console's all; an event not in the read model yet (no position) only to
    /// its call's streams.
    fn hand(&mut self, events: &[StreamedEvent]) {
        hand_grouped(&mut self.calls, events.iter(), |e| &e.call_id);
        let numbered = events.iter().filter(|e| e.event_id > 0);
        hand_grouped(&mut self.customers, numbered.clone(), |e| &e.mobile);
        let all: Vec<StreamedEvent> = numbered.cloned().collect();
        if !all.is_empty() {
            let all: Batch = all.into();
            self.everyone.retain(|stream| stream.hand(&all));
        }
    }

    /// Forgets the streams that have closed; answers whether any is open.
    fn any_open(&mut self) -> bool {
        let open = |stream: &Subscriber| !stream.batches.is_closed();
        self.calls.retain(|_, streams| {
            streams.retain(open);
            !streams.is_empty()
        });
        self.customers.retain(|_, streams| {
            streams.retain(open);
            !streams.is_empty()
        });
        self.everyone.retain(open);
        !(self.calls.is_empty() && self.customers.is_empty() && self.everyone.is_empty())
    }
}

/// Hands the streams in `routes` under each key the events of `events` with that key.
fn hand_grouped<'e>(
    routes: &mut HashMap<String, Vec<Subscriber>>,
    events: impl Iterator<Item = &'e StreamedEvent>,
    key: impl Fn(&StreamedEvent) -> &String,
) {
    let mut batches: HashMap<&String, Vec<StreamedEvent>> = HashMap::new();
    for event in events {
        if routes.contains_key(key(event)) {
            batches.entry(key(event)).or_default().push(event.clone());
        }
    }
    for (key, batch) in batches {
        let batch: Batch = batch.into();
        if let Some(streams) = routes.get_mut(key) {
            streams.retain(|stream| stream.hand(&batch));
        }
    }
}

/// Reads the events committed since the last tick and hands them to their streams; stops once no
/// stream is open.
async fn tail(store: DashboardStore, routes: Arc<Mutex<Routes>>, feed: FeedWatch) {
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut cursor: Option<i64> = None;
    loop {
        ticks.tick().await;
        {
            let mut routes = lock(&routes);
            if !routes.any_open() {
                routes.tailing = false;
                return;
            }
        }
        match read_new(&store, cursor).await {
            Ok((newest, events)) => {
                cursor = Some(newest);
                if !events.is_empty() {
                    feed.saw(&events);
                    lock(&routes).hand(&events);
                }
            }
            Err(error) => tracing::warn!(%error, "the event tail could not read the read model"),
        }
    }
}

/// The events after `cursor` and the cursor to go on from; from the newest event, without one
/// (every stream read what came before it itself).
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

/// One stream's view of the tail: its events in order, each once.
struct Follower {
    store: DashboardStore,
    filter: Filter,
    /// The last sent: a seq for a call's stream, a read model position for the others.
    last: i64,
    batches: mpsc::Receiver<Batch>,
    /// Set by the tail when a batch for this stream did not fit.
    lagged: Arc<AtomicBool>,
    pending: VecDeque<StreamedEvent>,
}

impl Follower {
    /// The next event; `None` once the read model failed.
    async fn next(&mut self) -> Option<StreamedEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                self.last = self.filter.position(&event);
                return Some(event);
            }
            let batch = self.batches.recv().await?;
            // A batch that did not fit is lost to this stream: the read model has its events.
            let read_itself = self.lagged.swap(false, Ordering::AcqRel)
                || match self.filter.take(self.last, &batch) {
                    Some(events) => {
                        self.pending.extend(events);
                        false
                    }
                    None => true,
                };
            if read_itself && !self.read_itself().await {
                return None;
            }
        }
    }

    /// Queues this stream's events after the last sent, from the read model itself, page by
    /// page; false when the read model fails.
    async fn read_itself(&mut self) -> bool {
        loop {
            let after = self
                .pending
                .back()
                .map_or(self.last, |e| self.filter.position(e));
            let read = match &self.filter {
                Filter::Call(call_id) => self.store.call_events_after(call_id, after).await,
                Filter::Customer(mobile) => {
                    self.store.customer_events_after(Some(mobile), after).await
                }
                Filter::Everyone => self.store.customer_events_after(None, after).await,
            };
            let events = match read {
                Ok(events) => events,
                Err(error) => {
                    tracing::warn!(%error, "event stream ended: the read model failed");
                    return false;
                }
            };
            let full = events.len() >= PAGE;
            self.pending.extend(events);
            if !full {
                return true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(call_id: &str, mobile: &str, event_id: i64, seq: i64) -> StreamedEvent {
        StreamedEvent {
            event_id,
            call_id: call_id.to_owned(),
            mobile: mobile.to_owned(),
            seq,
            event: "CallMade".to_owned(),
            status: None,
            at: "2026-12-02T00:00:00.000Z".to_owned(),
            description: String::new(),
        }
    }

    fn positions(filter: &Filter, events: Option<Vec<StreamedEvent>>) -> Option<Vec<i64>> {
        events.map(|events| events.iter().map(|e| filter.position(e)).collect())
    }

    #[test]
    fn a_call_stream_takes_its_own_calls_events_that_go_on_from_the_last_it_sent() {
        let batch = [
            event("a", "m", 10, 3),
            event("b", "m", 11, 1),
            event("a", "m", 12, 4),
            event("a", "m", 13, 5),
        ];
        let a = Filter::Call("a".to_owned());
        assert_eq!(positions(&a, a.take(2, &batch)), Some(vec![3, 4, 5]));
        assert_eq!(positions(&a, a.take(4, &batch)), Some(vec![5]));
        let c = Filter::Call("c".to_owned());
        assert_eq!(positions(&c, c.take(0, &batch)), Some(vec![]));
    }

    #[test]
    fn a_gap_in_a_calls_seqs_makes_its_stream_read_the_call_itself() {
        let batch = [event("a", "m", 10, 3), event("a", "m", 11, 5)];
        let a = Filter::Call("a".to_owned());
        assert_eq!(a.take(2, &batch), None);
        assert_eq!(a.take(1, &batch), None);
    }

    #[test]
    fn an_answer_goes_to_its_calls_streams_at_once_and_the_read_models_copy_is_passed_over() {
        let answered = [event("a", "010-1", 0, 1), event("a", "010-1", 0, 2)];
        let call = Filter::Call("a".to_owned());
        assert_eq!(positions(&call, call.take(1, &answered)), Some(vec![2]));
        let from_the_tail = [event("a", "010-1", 41, 2), event("a", "010-1", 42, 3)];
        assert_eq!(
            positions(&call, call.take(2, &from_the_tail)),
            Some(vec![3])
        );
        for others in [Filter::Customer("010-1".to_owned()), Filter::Everyone] {
            assert_eq!(others.take(0, &answered), Some(vec![]), "no position yet");
        }
    }

    fn subscriber(capacity: usize) -> (Subscriber, mpsc::Receiver<Batch>, Arc<AtomicBool>) {
        let (batches, receiver) = mpsc::channel(capacity);
        let lagged = Arc::new(AtomicBool::new(false));
        let subscriber = Subscriber {
            batches,
            lagged: lagged.clone(),
        };
        (subscriber, receiver, lagged)
    }

    fn received(receiver: &mut mpsc::Receiver<Batch>) -> Vec<(String, i64)> {
        let mut events = Vec::new();
        while let Ok(batch) = receiver.try_recv() {
            events.extend(batch.iter().map(|e| (e.call_id.clone(), e.seq)));
        }
        events
    }

    #[test]
    fn the_tail_hands_each_event_only_to_the_streams_that_show_it() {
        let mut routes = Routes::default();
        let (a, mut a_events, _) = subscriber(8);
        let (mine, mut my_events, _) = subscriber(8);
        let (console, mut console_events, _) = subscriber(8);
        routes.add(&Filter::Call("a".to_owned()), a);
        routes.add(&Filter::Customer("010-1".to_owned()), mine);
        routes.add(&Filter::Everyone, console);
        routes.hand(&[
            event("a", "010-1", 10, 1),
            event("b", "010-2", 11, 1),
            event("c", "010-1", 12, 1),
        ]);
        assert_eq!(received(&mut a_events), [("a".to_owned(), 1)]);
        assert_eq!(
            received(&mut my_events),
            [("a".to_owned(), 1), ("c".to_owned(), 1)]
        );
        assert_eq!(received(&mut console_events).len(), 3);

        // A step's answer, not in the read model yet: only its call's streams have it.
        routes.hand(&[event("a", "010-1", 0, 2)]);
        assert_eq!(received(&mut a_events), [("a".to_owned(), 2)]);
        assert!(received(&mut my_events).is_empty());
        assert!(received(&mut console_events).is_empty());
    }

    #[test]
    fn a_stream_that_falls_behind_is_told_and_a_closed_one_is_forgotten() {
        let mut routes = Routes::default();
        let (slow, mut slow_events, lagged) = subscriber(1);
        routes.add(&Filter::Call("a".to_owned()), slow);
        routes.hand(&[event("a", "010-1", 10, 1)]);
        assert!(!lagged.load(Ordering::Acquire));
        routes.hand(&[event("a", "010-1", 11, 2)]);
        assert!(
            lagged.load(Ordering::Acquire),
            "the second batch did not fit"
        );
        assert_eq!(received(&mut slow_events), [("a".to_owned(), 1)]);
        assert!(routes.any_open());
        drop(slow_events);
        assert!(!routes.any_open());
        assert!(routes.calls.is_empty());
    }

    #[test]
    fn a_customer_stream_takes_that_customers_events_after_its_position() {
        let batch = [
            event("a", "010-1", 10, 3),
            event("b", "010-2", 11, 1),
            event("c", "010-1", 12, 1),
        ];
        let mine = Filter::Customer("010-1".to_owned());
        assert_eq!(positions(&mine, mine.take(10, &batch)), Some(vec![12]));
        let everyone = Filter::Everyone;
        let all = everyone.take(0, &batch);
        assert_eq!(positions(&everyone, all), Some(vec![10, 11, 12]));
    }
}
