//! Whom this API process has heard from (spec section 9, "Dispatch"): a driver is heard from while
//! their offers stream is open and whenever they make a request. What it heard is written to the
//! identity store once every third of `PRESENCE_TIMEOUT`, for every driver at once (one
//! transaction per process, however many drivers), so a driver's presence costs no write per
//! request or per stream, and every API process sees every driver's last word.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use driver_call_stores::IdentityStore;

/// The shortest time between two writes of what was heard (tests use short timeouts).
const FLUSH_MIN: Duration = Duration::from_millis(100);

/// What this process heard from drivers and has not written yet, and who is watching offers.
#[derive(Clone)]
pub(crate) struct Presence {
    store: IdentityStore,
    timeout: Duration,
    state: Arc<Mutex<Heard>>,
    writer: Arc<OnceLock<()>>,
}

#[derive(Default)]
struct Heard {
    /// Drivers heard from since the last write, and when last.
    requests: HashMap<String, SystemTime>,
    /// Drivers with an offers stream open here, and how many.
    watching: HashMap<String, usize>,
}

/// While held, its driver's offers stream is open: they are heard from at every write.
pub(crate) struct Watching {
    username: String,
    state: Arc<Mutex<Heard>>,
}

impl Drop for Watching {
    fn drop(&mut self) {
        let mut heard = lock(&self.state);
        if let Some(count) = heard.watching.get_mut(&self.username) {
            *count -= 1;
            if *count == 0 {
                heard.watching.remove(&self.username);
                // Their last moment watching counts as heard from.
                heard
                    .requests
                    .insert(self.username.clone(), SystemTime::now());
            }
        }
    }
}

impl Presence {
    pub(crate) fn new(store: IdentityStore, timeout: Duration) -> Self {
        Self {
            store,
            timeout,
            state: Arc::default(),
            writer: Arc::default(),
        }
    }

    /// `PRESENCE_TIMEOUT`.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// A request from `username` just now.
    pub(crate) fn heard(&self, username: &str) {
        self.start_writer();
        let mut heard = lock(&self.state);
        heard
            .requests
            .insert(username.to_owned(), SystemTime::now());
    }

    /// `username`'s offers stream opened; they are heard from until the guard drops.
    pub(crate) fn watching(&self, username: &str) -> Watching {
        self.start_writer();
        let mut heard = lock(&self.state);
        *heard.watching.entry(username.to_owned()).or_default() += 1;
        Watching {
            username: username.to_owned(),
            state: self.state.clone(),
        }
    }

    fn start_writer(&self) {
        self.writer.get_or_init(|| {
            tokio::spawn(write_heard(self.clone()));
        });
    }

    /// What to write now: every driver heard from since the last write, and every watcher.
    fn take(&self, now: SystemTime) -> Vec<(String, SystemTime)> {
        let mut heard = lock(&self.state);
        let mut due: HashMap<String, SystemTime> = std::mem::take(&mut heard.requests);
        for username in heard.watching.keys() {
            due.insert(username.clone(), now);
        }
        due.into_iter().collect()
    }
}

fn lock(state: &Mutex<Heard>) -> std::sync::MutexGuard<'_, Heard> {
    // Nothing panics while holding it; a poisoned lock still holds consistent maps.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes what was heard every third of the timeout, so a driver heard from at least that often
/// never looks gone.
async fn write_heard(presence: Presence) {
    let mut ticks = tokio::time::interval((presence.timeout / 3).max(FLUSH_MIN));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let heard = presence.take(SystemTime::now());
        if heard.is_empty() {
            continue;
        }
        match presence.store.heard_from(&heard, presence.timeout).await {
            Ok(gone) if !gone.is_empty() => {
                tracing::info!(drivers = gone.len(), "drivers not heard from went offline");
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "could not record which drivers were heard from");
                // Heard again at the next write.
                let mut state = lock(&presence.state);
                for (username, at) in heard {
                    state.requests.entry(username).or_insert(at);
                }
            }
        }
    }
}
