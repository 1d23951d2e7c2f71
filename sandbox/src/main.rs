//! `payment-sandbox`: an external payment service stand-in for failure drills and local runs
//! with `PAYMENT_GATEWAY_URL` (see the crate's documentation).

use anyhow::Context as _;
use clap::Parser;
use driver_call_runtime::{shutdown_signal, telemetry};

/// Payment service sandbox: charges and refunds by idempotency key; misbehaves on request.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Address to listen on.
    #[arg(long, env = "SANDBOX_ADDR", default_value = "127.0.0.1:8090")]
    sandbox_addr: std::net::SocketAddr,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    let cli = Cli::parse();
    let listener = tokio::net::TcpListener::bind(cli.sandbox_addr)
        .await
        .with_context(|| format!("Failed to listen on {}", cli.sandbox_addr))?;
    tracing::info!(address = %cli.sandbox_addr, "payment sandbox listening");
    axum::serve(listener, driver_call_sandbox::app())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("payment sandbox failed")
}
