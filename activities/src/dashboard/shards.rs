//! How the dashboard workers share the read model's feed: the calls fall into [`SHARDS`] shards
//! (by their id), and each shard is held by one worker under a lease in the dashboard database,
//! renewed every [`RENEWAL`] and lapsing after [`LEASE`]. Every worker says it is alive at each
//! renewal and holds its fair share (the shards over the workers alive, rounded up): a new worker
//! takes the shards the others let go of, and the shards of a worker that stopped answering are
//! taken over once their lease lapses, within `LEASE + RENEWAL` (4 s).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use driver_call_stores::{DashboardStore, StoreError};

use super::history::unix_ms;

/// How many shards the calls fall into: enough for 16 workers to share them.
pub(super) const SHARDS: u32 = 16;
/// How long a lease (and a worker's word that it is alive) lasts unless renewed.
const LEASE: Duration = Duration::from_secs(3);
/// How often a worker renews its leases.
pub(super) const RENEWAL: Duration = Duration::from_secs(1);

/// The shards one worker holds, with the checkpoint each was taken at.
pub(super) struct Shards {
    store: DashboardStore,
    holder: String,
    held: BTreeMap<u32, i64>,
}

/// What changed at a renewal.
#[derive(Debug, Default)]
pub(super) struct Renewed {
    /// Shards newly taken, each with where its feed goes on from (`TimelineAt`, ms).
    pub(super) taken: Vec<(u32, i64)>,
    /// Shards lost or let go of.
    pub(super) lost: Vec<u32>,
}

impl Shards {
    pub(super) fn new(store: DashboardStore, holder: String) -> Self {
        Self {
            store,
            holder,
            held: BTreeMap::new(),
        }
    }

    /// Whether this worker holds the call's shard.
    pub(super) fn holds(&self, shard: u32) -> bool {
        self.held.contains_key(&shard)
    }

    /// Whether this worker holds any shard.
    pub(super) fn any(&self) -> bool {
        !self.held.is_empty()
    }

    /// Renews the leases, recording that every change before `checkpoint_ms` is projected, and
    /// moves towards the fair share: lets go of shards above it, takes free ones below it.
    pub(super) async fn renew(&mut self, checkpoint_ms: i64) -> Result<Renewed, StoreError> {
        let now = unix_ms(SystemTime::now());
        let until = now + i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX);
        let alive = self.store.feed_heartbeat(&self.holder, now, until).await?;
        let still: Vec<u32> = self
            .store
            .renew_shards(&self.holder, until, checkpoint_ms)
            .await?
            .into_iter()
            .filter_map(|shard| u32::try_from(shard).ok())
            .collect();
        let mut renewed = Renewed::default();
        self.held.retain(|shard, _| {
            let kept = still.contains(shard);
            if !kept {
                renewed.lost.push(*shard);
            }
            kept
        });
        let fair = fair_share(alive);
        while self.held.len() > fair {
            let Some((shard, _)) = self.held.pop_last() else {
                break;
            };
            self.store
                .release_shard(i64::from(shard), &self.holder)
                .await?;
            renewed.lost.push(shard);
        }
        for shard in 0..SHARDS {
            if self.held.len() >= fair {
                break;
            }
            if self.held.contains_key(&shard) {
                continue;
            }
            let taken = self
                .store
                .take_shard(i64::from(shard), &self.holder, now, until)
                .await?;
            if let Some(checkpoint) = taken {
                self.held.insert(shard, checkpoint);
                renewed.taken.push((shard, checkpoint));
            }
        }
        Ok(renewed)
    }
}

/// The shards each of `alive` workers holds at most.
fn fair_share(alive: usize) -> usize {
    let shards = SHARDS as usize;
    shards.div_ceil(alive.clamp(1, shards))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shards_are_shared_out_fairly_among_the_workers_alive() {
        assert_eq!(fair_share(1), 16);
        assert_eq!(fair_share(2), 8);
        assert_eq!(fair_share(3), 6);
        assert_eq!(fair_share(0), 16);
        assert_eq!(fair_share(40), 1);
    }
}
