//! The dashboard context's worker: its settings and its wiring.

use std::sync::Arc;
use std::time::Duration;

use driver_call_stores::{DashboardStore, Store};
use driver_call_workflows::contracts::dashboard::TASK_QUEUE;
use futures::FutureExt;
use temporalio_sdk::WorkerOptions;
use tokio::sync::Notify;

use super::{Activities, WebhookNotifier};
use crate::{ContextWorker, WiringError};

/// The dashboard context's settings.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DashboardConfig {
    /// Where every call event is POSTed as JSON (unset: no webhooks).
    #[arg(long, env = "NOTIFY_WEBHOOK_URL")]
    pub notify_webhook_url: Option<String>,
}

/// Wires the dashboard worker: it owns (and migrates) the read model at `database_url`, and
/// delivers webhooks from its outbox when a URL is configured.
pub async fn dashboard_worker(
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
    let background = config.notify_webhook_url.as_ref().map(|url| {
        WebhookNotifier::new(store.clone(), url.clone(), projected.clone())
            .run()
            .boxed()
    });
    let options = WorkerOptions::new(TASK_QUEUE)
        .register_activities(Activities::new(store.clone(), projected))
        .graceful_shutdown_period(graceful_shutdown)
        .build();
    Ok(ContextWorker {
        store: Some(Store::Dashboard(store)),
        background,
        ..ContextWorker::new(options)
    })
}
