//! The dashboard context's worker: its settings and its wiring.

use std::sync::Arc;
use std::time::Duration;

use driver_call_stores::{DashboardStore, Store};
use driver_call_workflows::contracts::dashboard::TASK_QUEUE;
use futures::FutureExt;
use temporalio_client::Client;
use temporalio_sdk::WorkerOptions;
use tokio::sync::Notify;

use super::{Activities, TimelineFeed, WebhookNotifier};
use crate::{ContextWorker, WiringError};

/// The dashboard context's settings.
#[derive(Debug, Clone, clap::Args)]
pub struct DashboardConfig {
    /// Where every call event is POSTed as JSON (unset: no webhooks).
    #[arg(long, env = "NOTIFY_WEBHOOK_URL")]
    pub notify_webhook_url: Option<String>,
    /// How often the feed asks Temporal's visibility store which calls changed while calls are
    /// changing: what the run records by itself (the dispatch, an expiry, a refund) reaches
    /// myPage at most this much later. Each look is one visibility query per dashboard worker,
    /// however many calls are open.
    #[arg(long, env = "DASHBOARD_FEED_INTERVAL", default_value = "100ms", value_parser = driver_call_runtime::humantime_duration)]
    pub feed_interval: Duration,
    /// How long the feed waits between its looks at rest: after each look that finds nothing
    /// new the wait doubles, up to this.
    #[arg(long, env = "DASHBOARD_FEED_IDLE_INTERVAL", default_value = "1s", value_parser = driver_call_runtime::humantime_duration)]
    pub feed_idle_interval: Duration,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        Self {
            notify_webhook_url: None,
            feed_interval: Duration::from_millis(100),
            feed_idle_interval: Duration::from_secs(1),
        }
    }
}

/// Wires the dashboard worker: it owns (and migrates) the read model at `database_url`, follows
/// the calls' histories into it through `client`, and delivers webhooks from its outbox when a
/// URL is configured.
pub async fn dashboard_worker(
    client: Client,
    config: &DashboardConfig,
    database_url: &str,
    graceful_shutdown: Duration,
) -> Result<ContextWorker, WiringError> {
    let store = DashboardStore::connect(database_url)
        .await
        .map_err(|source| WiringError::Store {
            context: "dashboard",
            source,
        })?;
    let projected = Arc::new(Notify::new());
    let feed = TimelineFeed::new(
        client,
        store.clone(),
        projected.clone(),
        config.feed_interval..=config.feed_idle_interval,
    );
    let notifier = config
        .notify_webhook_url
        .as_ref()
        .map(|url| WebhookNotifier::new(store.clone(), url.clone(), projected.clone()).run());
    let background = async move {
        match notifier {
            Some(notifier) => futures::join!(feed.run(), notifier).0,
            None => feed.run().await,
        }
    }
    .boxed();
    let options = WorkerOptions::new(TASK_QUEUE)
        .register_activities(Activities::new(store.clone(), projected))
        .graceful_shutdown_period(graceful_shutdown)
        .build();
    Ok(ContextWorker {
        store: Some(Store::Dashboard(store)),
        background: Some(background),
        ..ContextWorker::new(options)
    })
}
