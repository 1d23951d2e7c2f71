//! `driver-call-api`: serves the HTTP API until Ctrl-C or SIGTERM.

use anyhow::Context as _;
use clap::Parser;
use driver_call_api::{ApiConfig, AppState, app};
use driver_call_runtime::{connect_temporal, shutdown_signal, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    let config = ApiConfig::parse();
    let temporal = connect_temporal(&config.temporal).await?;
    let state = AppState::build(&config, temporal)?;
    let listener = tokio::net::TcpListener::bind(config.api_addr)
        .await
        .with_context(|| format!("Failed to listen on {}", config.api_addr))?;
    tracing::info!(address = %config.api_addr, "API listening");
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("API server failed")
}
