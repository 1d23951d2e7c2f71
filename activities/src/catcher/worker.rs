//! The catcher context's worker: its settings and its wiring.

use std::time::Duration;

use driver_call_stores::{CatcherStore, Store};
use driver_call_workflows::contracts::catcher::TASK_QUEUE;
use temporalio_sdk::WorkerOptions;

use super::{Activities, DEFAULT_SERVICE_AREAS, ServiceAreas};
use crate::{ContextWorker, WiringError};

/// The catcher context's settings.
#[derive(Debug, Clone, clap::Args)]
pub struct CatcherConfig {
    /// Comma-separated service areas, matched case-insensitively.
    #[arg(long, env = "SERVICE_AREAS", default_value = DEFAULT_SERVICE_AREAS)]
    pub service_areas: String,
}

/// Wires the catcher worker: it owns (and migrates) the catcher database at `database_url`.
pub async fn catcher_worker(
    config: &CatcherConfig,
    database_url: &str,
    graceful_shutdown: Duration,
) -> Result<ContextWorker, WiringError> {
    let store = CatcherStore::connect(database_url)
        .await
        .map_err(|source| WiringError::Store {
            context: "catcher",
            source,
        })?;
    let areas = ServiceAreas::parse(&config.service_areas);
    let options = WorkerOptions::new(TASK_QUEUE)
        .register_activities(Activities::new(store.clone(), areas))
        .graceful_shutdown_period(graceful_shutdown)
        .build();
    Ok(ContextWorker {
        store: Some(Store::Catcher(store)),
        ..ContextWorker::new(options)
    })
}
