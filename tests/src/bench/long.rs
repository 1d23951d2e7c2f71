//! The long-call mode of `scripts/bench` (`--long HOLD`): the ordinary bench with each call
//! waiting HOLD before each of its steps after the create (pay, catch, arrive, start, complete),
//! as a real call that lasts an hour sits open between them.
//!
//! The ordinary bench runs each call through its lifecycle as fast as it can, so a call lasts
//! seconds and its CPU per call hides what an open call costs while nothing happens to it: the
//! long polls, the read model following its history, its open event stream. With the hold, the
//! server's, the worker's and the API's CPU per call include the waiting. Everything else (the
//! variants alternating, the per-call table, the ratio column) is the ordinary bench's, but for
//! the API's payment window, dispatch timeout and offer window, hours long so that no call
//! expires or widens its offer while it waits; the reports are `long.json` and `long.md`.

use std::time::Duration;

/// Calls per variant and round when none are asked for: with a hold of 30 s, one round of two
/// variants takes about ten minutes.
pub const CALLS: usize = 40;
/// Rounds when none are asked for.
pub const ROUNDS: usize = 1;

/// Calls in flight at once when not asked: all of them, so the run lasts about one call's
/// lifecycle (five holds) per variant and round, not a queue of them.
pub fn concurrency(calls: usize) -> usize {
    calls.max(1)
}

/// Waits `hold` before a call's next step (not at all when zero: the ordinary bench).
pub(crate) async fn wait(hold: Duration) {
    if !hold.is_zero() {
        tokio::time::sleep(hold).await;
    }
}
