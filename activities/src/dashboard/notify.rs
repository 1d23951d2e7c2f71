//! Webhook notifications: every projected event is POSTed to `NOTIFY_WEBHOOK_URL` as JSON, with
//! an idempotency header, retried with backoff until the receiver accepts it, in order per call.
//! The read model's `delivered_at` column is the outbox, so nothing is lost across restarts. One
//! dashboard worker delivers at a time (the holder of a lease in the dashboard database), so
//! replicas neither send an event twice at once nor out of order.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use driver_call_stores::dashboard::{DashboardStore, StreamedEvent};

/// The header that carries an event's idempotency key (`{callId}:{seq}`).
pub const WEBHOOK_IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// How long a delivery may take before it counts as failed.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);
/// Bounds of the per-call retry backoff.
const FIRST_RETRY: Duration = Duration::from_millis(200);
const LAST_RETRY: Duration = Duration::from_secs(30);
/// How often the outbox is looked at when nothing wakes the notifier.
const IDLE_POLL: Duration = Duration::from_secs(1);
/// How long the delivery lease lasts unless renewed, and how often its holder renews it.
const LEASE: Duration = Duration::from_secs(15);
const LEASE_RENEWAL: Duration = Duration::from_secs(5);

/// Delivers the outbox to a webhook until the process stops.
pub struct WebhookNotifier {
    store: DashboardStore,
    url: String,
    http: reqwest::Client,
    projected: Arc<Notify>,
}

#[derive(Debug, Clone, Copy)]
struct Backoff {
    delay: Duration,
    until: Instant,
}

impl WebhookNotifier {
    /// A notifier for `url`, woken by `projected` after each projection.
    pub fn new(store: DashboardStore, url: String, projected: Arc<Notify>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(DELIVERY_TIMEOUT)
            .build()
            .unwrap_or_default();
        Self {
            store,
            url,
            http,
            projected,
        }
    }

    /// Runs forever; store errors are logged and retried on the next round.
    pub async fn run(self) {
        let holder = uuid::Uuid::new_v4().to_string();
        let mut backoff: HashMap<String, Backoff> = HashMap::new();
        let mut renew_at = Instant::now();
        loop {
            if Instant::now() >= renew_at {
                if !self.hold_lease(&holder).await {
                    tokio::time::sleep(LEASE_RENEWAL).await;
                    continue;
                }
                renew_at = Instant::now() + LEASE_RENEWAL;
            }
            if let Err(error) = self.deliver_round(&mut backoff).await {
                tracing::warn!(error = %error, "webhook outbox round failed");
            }
            let next_retry = backoff.values().map(|b| b.until).min();
            let wait =
                next_retry.map_or(IDLE_POLL, |t| t.saturating_duration_since(Instant::now()));
            tokio::select! {
                () = self.projected.notified() => {},
                () = tokio::time::sleep(wait.min(IDLE_POLL)) => {},
            }
        }
    }

    /// Takes or renews the delivery lease (a database that does not answer counts as not held).
    async fn hold_lease(&self, holder: &str) -> bool {
        let now = crate::dashboard::history::unix_ms(std::time::SystemTime::now());
        let until = now + i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX);
        match self.store.hold_follower_lease(holder, now, until).await {
            Ok(held) => held,
            Err(error) => {
                tracing::warn!(%error, "the dashboard could not renew the webhook lease");
                false
            }
        }
    }

    async fn deliver_round(
        &self,
        backoff: &mut HashMap<String, Backoff>,
    ) -> Result<(), driver_call_stores::StoreError> {
        let pending = self.store.undelivered(500).await?;
        // A call whose earlier event failed waits, so its events arrive in order.
        let mut blocked: HashSet<String> = backoff
            .iter()
            .filter(|(_, b)| b.until > Instant::now())
            .map(|(call, _)| call.clone())
            .collect();
        for event in pending {
            if blocked.contains(&event.call_id) {
                continue;
            }
            if self.deliver(&event).await {
                self.store.mark_delivered(event.event_id).await?;
                backoff.remove(&event.call_id);
                continue;
            }
            let delay = backoff
                .get(&event.call_id)
                .map_or(FIRST_RETRY, |b| (b.delay * 2).min(LAST_RETRY));
            backoff.insert(
                event.call_id.clone(),
                Backoff {
                    delay,
                    until: Instant::now() + delay,
                },
            );
            blocked.insert(event.call_id.clone());
        }
        Ok(())
    }

    async fn deliver(&self, event: &StreamedEvent) -> bool {
        let key = format!("{}:{}", event.call_id, event.seq);
        let sent = self
            .http
            .post(&self.url)
            .header(WEBHOOK_IDEMPOTENCY_HEADER, &key)
            .json(event)
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => true,
            Ok(response) => {
                tracing::info!(%key, status = %response.status(), "webhook refused an event; will retry");
                false
            }
            Err(error) => {
                tracing::info!(%key, %error, "webhook unreachable; will retry");
                false
            }
        }
    }
}
