//! The offers feed (spec section 11): one per API process, it tails the catcher store's change
//! log and the drivers' change log (one query each per tick for the whole process, however many
//! drivers watch) and keeps the board of open offers and busy drivers in memory; every open
//! offers stream (`GET /catches/events`) only filters the board for its driver and sends when its
//! list changes. Nothing is read while no stream is open.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use driver_call_stores::catcher::{LiveOffer, OpenOffer};
use driver_call_stores::identity::DriverRecord;
use driver_call_stores::{CatcherStore, IdentityStore, StoreError};
use driver_call_workflows::contracts::catcher::CatchStatus;
use tokio::sync::{Notify, watch};
use tokio::time::MissedTickBehavior;

/// How often the feed reads the change logs: the mean wait it adds to an offer is half of it.
const TICK: Duration = Duration::from_millis(100);
/// How long a number missing from a change log is waited for before the tail moves past it (on
/// PostgreSQL a later number can commit first; one rolled back never comes).
const GAP_WAIT: Duration = Duration::from_secs(2);

/// What every offers stream of this process filters.
#[derive(Debug, Default, Clone)]
pub(crate) struct Board {
    /// False until the feed has read the stores (and again while nobody watches).
    pub live: bool,
    /// Open offers, oldest first.
    offers: Vec<LiveOffer>,
    /// Drivers holding a caught call, by call.
    busy: HashMap<String, String>,
    /// Drivers whose account changed since the feed started: the change's number and the account.
    drivers: HashMap<String, (i64, DriverRecord)>,
    /// The newest driver change read.
    pub driver_change: i64,
}

impl Board {
    /// The open offers a driver of `areas` is offered, oldest first.
    pub fn offered_to(&self, areas: &[String]) -> Vec<OpenOffer> {
        self.offers
            .iter()
            .filter(|o| o.offered_to(areas))
            .map(|o| o.offer.clone())
            .collect()
    }

    /// The caught call `driver` holds, if any.
    pub fn call_of(&self, driver: &str) -> Option<&str> {
        self.busy
            .iter()
            .find(|(_, d)| *d == driver)
            .map(|(call, _)| call.as_str())
    }

    /// `username`'s account if it changed after change `after`.
    pub fn driver_after(&self, username: &str, after: i64) -> Option<&DriverRecord> {
        self.drivers
            .get(username)
            .filter(|(change, _)| *change > after)
            .map(|(_, record)| record)
    }

    fn apply_offers(&mut self, changed: Vec<LiveOffer>) {
        for offer in changed {
            let call_id = offer.offer.call_id.clone();
            self.offers.retain(|o| o.offer.call_id != call_id);
            self.busy.remove(&call_id);
            match offer.status {
                CatchStatus::Received => self.offers.push(offer),
                CatchStatus::Caught => {
                    if let Some(driver) = offer.driver_id.clone() {
                        self.busy.insert(call_id, driver);
                    }
                }
                _ => {}
            }
        }
        self.offers.sort_by(|a, b| {
            (&a.offer.received_at, &a.offer.call_id).cmp(&(&b.offer.received_at, &b.offer.call_id))
        });
    }
}

/// The process's feed, started by the first stream that subscribes.
#[derive(Clone)]
pub(crate) struct OfferFeed {
    catches: CatcherStore,
    identity: IdentityStore,
    board: Arc<OnceLock<watch::Sender<Arc<Board>>>>,
    nudge: Arc<Notify>,
}

impl OfferFeed {
    pub(crate) fn new(catches: CatcherStore, identity: IdentityStore) -> Self {
        Self {
            catches,
            identity,
            board: Arc::default(),
            nudge: Arc::default(),
        }
    }

    /// The board, as it changes.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Arc<Board>> {
        let sender = self.board.get_or_init(|| {
            let (sender, _) = watch::channel(Arc::new(Board::default()));
            tokio::spawn(follow(self.clone(), sender.clone()));
            sender
        });
        let receiver = sender.subscribe();
        self.nudge.notify_one();
        receiver
    }

    /// Something changed that streams should see now (a driver's availability, here).
    pub(crate) fn nudge(&self) {
        if self.board.get().is_some() {
            self.nudge.notify_one();
        }
    }
}

/// Where a tail of a change log is: every number up to `safe` has been read; numbers after it
/// that are missing are waited for up to [`GAP_WAIT`] from when the first was seen missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    safe: i64,
    gap_since: Option<Instant>,
}

impl Cursor {
    fn at(safe: i64) -> Self {
        Self {
            safe,
            gap_since: None,
        }
    }

    /// Moves past the numbers read (`ids`, ascending, all after `safe`): over every run without a
    /// gap, and over a gap that has been waited for long enough. The rows after a gap are read
    /// again next time (what they change is read afresh, so reading twice is harmless).
    fn advance(&mut self, ids: &[i64], now: Instant) {
        for &id in ids {
            if id == self.safe + 1 {
                self.safe = id;
                self.gap_since = None;
                continue;
            }
            let since = *self.gap_since.get_or_insert(now);
            if now.duration_since(since) < GAP_WAIT {
                return;
            }
            self.safe = id;
            self.gap_since = None;
        }
    }
}

/// Reads the change logs every tick while any stream watches, and publishes the board when it
/// changed.
async fn follow(feed: OfferFeed, sender: watch::Sender<Arc<Board>>) {
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut state: Option<(Board, Cursor, Cursor)> = None;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = feed.nudge.notified() => {}
        }
        if sender.receiver_count() == 0 {
            // Nobody watches: read nothing, and start afresh for the next stream.
            if state.take().is_some() {
                sender.send_replace(Arc::new(Board::default()));
            }
            continue;
        }
        let result = match state.as_mut() {
            None => load(&feed).await.map(|loaded| {
                sender.send_replace(Arc::new(loaded.0.clone()));
                state = Some(loaded);
            }),
            Some((board, offers, drivers)) => {
                match read_changes(&feed, board, offers, drivers).await {
                    Ok(true) => {
                        sender.send_replace(Arc::new(board.clone()));
                        Ok(())
                    }
                    Ok(false) => Ok(()),
                    Err(error) => Err(error),
                }
            }
        };
        if let Err(error) = result {
            tracing::warn!(%error, "the offers feed could not read the stores");
        }
    }
}

/// The board from the stores as they are now, and the cursors to go on from.
async fn load(feed: &OfferFeed) -> Result<(Board, Cursor, Cursor), StoreError> {
    // The cursors first: a change made while the snapshot is read is read again after it.
    let offers_cursor = Cursor::at(feed.catches.newest_change().await?);
    let drivers_cursor = Cursor::at(feed.identity.newest_driver_change().await?);
    let mut board = Board {
        live: true,
        driver_change: drivers_cursor.safe,
        ..Board::default()
    };
    board.apply_offers(feed.catches.live_offers().await?);
    Ok((board, offers_cursor, drivers_cursor))
}

/// Applies the changes since the cursors; whether anything changed.
async fn read_changes(
    feed: &OfferFeed,
    board: &mut Board,
    offers: &mut Cursor,
    drivers: &mut Cursor,
) -> Result<bool, StoreError> {
    let now = Instant::now();
    let offer_changes = feed.catches.changes_after(offers.safe).await?;
    let driver_changes = feed.identity.driver_changes_after(drivers.safe).await?;
    if offer_changes.is_empty() && driver_changes.is_empty() {
        return Ok(false);
    }
    if !offer_changes.is_empty() {
        let calls: Vec<String> = distinct(offer_changes.iter().map(|(_, call)| call));
        board.apply_offers(feed.catches.offers_of(&calls).await?);
        let ids: Vec<i64> = offer_changes.iter().map(|(id, _)| *id).collect();
        offers.advance(&ids, now);
    }
    if let Some(&(newest, _)) = driver_changes.last() {
        let names: Vec<String> = distinct(driver_changes.iter().map(|(_, name)| name));
        for driver in feed.identity.drivers_named(&names).await? {
            board
                .drivers
                .insert(driver.username.clone(), (newest, driver));
        }
        board.driver_change = board.driver_change.max(newest);
        let ids: Vec<i64> = driver_changes.iter().map(|(id, _)| *id).collect();
        drivers.advance(&ids, now);
    }
    Ok(true)
}

fn distinct<'a>(items: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut seen = HashSet::new();
    items.filter(|i| seen.insert(*i)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_moves_over_runs_without_gaps() {
        let now = Instant::now();
        let mut cursor = Cursor::at(4);
        cursor.advance(&[5, 6, 7], now);
        assert_eq!(cursor, Cursor::at(7));
    }

    #[test]
    fn a_cursor_waits_at_a_gap_and_moves_past_it_after_the_wait() {
        let start = Instant::now();
        let mut cursor = Cursor::at(4);
        cursor.advance(&[5, 7, 8], start);
        assert_eq!(cursor.safe, 5, "6 may still commit");
        assert_eq!(cursor.gap_since, Some(start));
        // 6 committed meanwhile: read from 5 again, all in order.
        let mut filled = cursor;
        filled.advance(&[6, 7, 8], start + Duration::from_millis(300));
        assert_eq!(filled, Cursor::at(8));
        // 6 never comes (rolled back): moved past once the wait is over.
        cursor.advance(&[7, 8], start + Duration::from_millis(300));
        assert_eq!(cursor.safe, 5);
        cursor.advance(&[7, 8], start + GAP_WAIT);
        assert_eq!(cursor, Cursor::at(8));
    }
}
