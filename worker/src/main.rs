//! `driver-call-worker`: serves the contexts given with `--context` or `WORKER_CONTEXTS`
//! (default: all of them).

use clap::Parser;
use driver_call_runtime::{TemporalConfig, connect_temporal, shutdown_signal, telemetry};
use driver_call_worker::{WorkerConfig, run};

/// Driver-Call worker: polls the task queues of the chosen bounded contexts.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    temporal: TemporalConfig,
    #[command(flatten)]
    config: WorkerConfig,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    let cli = Cli::parse();
    let contexts = cli.config.contexts();
    let keys = cli.temporal.payload_keys(&cli.config.stores.data_dir)?;
    let client = connect_temporal(&cli.temporal, &keys).await?;
    run(client, &cli.config, &contexts, shutdown_signal()).await
}
