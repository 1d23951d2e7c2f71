//! What a context's wiring hands the worker binary.

use std::sync::Arc;

use driver_call_stores::{Store, StoreError};
use futures::future::BoxFuture;
use temporalio_sdk::WorkerOptions;

use crate::payment::GuardedGateway;

/// A context ready to run: its worker's options and what the process around it serves.
pub struct ContextWorker {
    /// The Temporal worker's options: its task queue and what it registers.
    pub options: WorkerOptions,
    /// The context's store, for the readiness probe.
    pub store: Option<Store>,
    /// The payment gateway, whose breaker the status page shows.
    pub gateway: Option<Arc<GuardedGateway>>,
    /// Work that runs beside the worker until it stops (the webhook notifier).
    pub background: Option<BoxFuture<'static, ()>>,
}

impl ContextWorker {
    /// A context with nothing but its worker (the caller context).
    pub fn new(options: WorkerOptions) -> Self {
        Self {
            options,
            store: None,
            gateway: None,
            background: None,
        }
    }
}

/// Why a context could not be wired.
#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    /// Its database could not be opened or migrated.
    #[error("cannot open the {context} database")]
    Store {
        /// The context.
        context: &'static str,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// A setting is invalid.
    #[error("invalid setting {setting}: {detail}")]
    Setting {
        /// The environment variable.
        setting: &'static str,
        /// What is wrong with it.
        detail: String,
    },
}
