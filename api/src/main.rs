//! `driver-call-api`: serves the HTTP API until Ctrl-C or SIGTERM.

use anyhow::Context as _;
use clap::Parser;
use driver_call_api::fares::Fares;
use driver_call_api::identity::{GeneratedPassword, Identity};
use driver_call_api::privacy::Privacy;
use driver_call_api::{ApiConfig, AppState, app};
use driver_call_runtime::{connect_temporal, shutdown_signal, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    let config = ApiConfig::parse();
    let (identity, generated) = Identity::build(&config.identity, &config.stores)
        .await
        .context("The identity context cannot start")?;
    if let Some(generated) = generated {
        print_operator_sign_in(&generated);
    }
    let fares = Fares::open(&config.fares, &config.stores.quote_database_url())
        .await
        .context("Fares cannot be offered")?;
    let privacy = Privacy::load(&config.temporal, &config.privacy, &config.stores.data_dir)
        .context("The payload keys cannot be had")?;
    let temporal = connect_temporal(&config.temporal, &privacy.keys).await?;
    let state = AppState::build(&config, temporal, identity, fares, privacy)?;
    let listener = tokio::net::TcpListener::bind(config.api_addr)
        .await
        .with_context(|| format!("Failed to listen on {}", config.api_addr))?;
    tracing::info!(address = %config.api_addr, "API listening");
    let app = app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("API server failed")
}

/// The embedded default generated the operator's password (now or on an earlier start): it goes
/// to the terminal of whoever started the API, never to the logs.
fn print_operator_sign_in(generated: &GeneratedPassword) {
    let when = if generated.new { "generated" } else { "kept" };
    println!(
        "Operator sign-in ({when} in {}): username `{}`, password `{}`",
        generated.file.display(),
        generated.username,
        generated.password.expose_secret(),
    );
}
