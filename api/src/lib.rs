//! Driver-Call's HTTP API (spec section 4): starts a `DriverCallWorkflow` per call, sends it the
//! customer's and drivers' signals and updates, and reads the payment, catcher and dashboard stores.

pub mod config;
mod error;
mod extract;
mod routes;
mod workflow;

use std::sync::Arc;

use axum::Router;
use driver_call_activities::{
    catcher::CatcherStore, dashboard::DashboardStore, payment::PaymentStore,
};
use driver_call_workflows::driver_call::CallPolicy;
use temporalio_client::Client;
use tower_http::trace::TraceLayer;

pub use config::ApiConfig;
pub use error::ApiError;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The Temporal client that starts and drives calls.
    pub temporal: Client,
    /// Read access to the payments ledger.
    pub payments: PaymentStore,
    /// Read access to offers and catches.
    pub catches: CatcherStore,
    /// The myPage read model.
    pub dashboards: DashboardStore,
    /// The time limits new calls get.
    pub policy: Arc<CallPolicy>,
}

impl AppState {
    /// Opens the stores named in `config` and wraps the Temporal client.
    pub async fn build(config: &ApiConfig, temporal: Client) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let payments = PaymentStore::connect(&config.workers.payment_database_url())
            .await
            .context("Failed to open the payment database")?;
        let catches = CatcherStore::connect(&config.workers.catcher_database_url())
            .await
            .context("Failed to open the catcher database")?;
        let dashboards = DashboardStore::connect(&config.workers.dashboard_database_url())
            .await
            .context("Failed to open the dashboard database")?;
        Ok(Self {
            temporal,
            payments,
            catches,
            dashboards,
            policy: Arc::new(config.call_policy()),
        })
    }
}

/// The whole API.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(routes::calls::router())
        .merge(routes::catches::router())
        .merge(routes::dashboards::router())
        .merge(routes::payments::router())
        .merge(routes::health::router())
        .fallback(|| async { ApiError::NotFound("no such route".to_owned()) })
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
