//! `driver-call-worker`: serves the contexts given with `--context` (default: all of them).

use clap::Parser;
use driver_call_worker::{
    Context, WorkerConfig, connect_temporal, run, shutdown_signal, telemetry,
};

/// Driver-Call worker: polls the task queues of the chosen bounded contexts.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// A context to serve; repeat for several (default: caller, payment and catcher).
    #[arg(long = "context", value_enum)]
    contexts: Vec<Context>,
    #[command(flatten)]
    config: WorkerConfig,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    let cli = Cli::parse();
    let contexts = if cli.contexts.is_empty() {
        Context::ALL.to_vec()
    } else {
        cli.contexts
    };
    let client = connect_temporal().await?;
    run(client, &cli.config, &contexts, shutdown_signal()).await
}
