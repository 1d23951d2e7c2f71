//! Runs the workers of the bounded contexts this process is told to serve, each on its own task
//! queue and with its own database, so one process can run all of them or one each. Each context
//! wires itself (`driver_call_activities::<context>::<context>_worker`); this runs them together
//! with the probes and the metrics.

pub mod config;
pub mod health;
pub mod metrics;

use std::future::Future;

use anyhow::Context as _;
use driver_call_activities::{ContextWorker, catcher, dashboard, payment};
use driver_call_workflows::DriverCallWorkflow;
use temporalio_client::Client;
use temporalio_sdk::Worker;

pub use config::{Context, WorkerConfig};

/// Builds the workers of `contexts` and runs them until `shutdown` resolves; then they stop
/// polling, let running tasks finish (up to `WORKER_SHUTDOWN_GRACE`), and return. Meanwhile the
/// probes answer on `WORKER_HTTP_ADDR` and the metrics on `WORKER_METRICS_ADDR`.
pub async fn run(
    client: Client,
    config: &WorkerConfig,
    contexts: &[Context],
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let metrics = metrics::Metrics::start(config.metrics_addr)?;
    let runtime = metrics.runtime()?;
    let mut probe = health::Probe::new(client.clone(), contexts);
    let mut workers = Vec::new();
    let mut background = tokio::task::JoinSet::new();
    for &context in contexts {
        let wired = wire(context, &client, config, &metrics)
            .await
            .with_context(|| format!("Failed to wire the {context} context"))?;
        probe.add(&wired);
        if let Some(task) = wired.background {
            background.spawn(task);
        }
        let worker = Worker::new(&runtime, client.clone(), wired.options)
            .with_context(|| format!("Failed to create the {context} worker"))?;
        tracing::info!(%context, task_queue = context.task_queue(), "worker polling");
        workers.push(worker);
    }
    let probes = tokio::net::TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("Failed to listen on {}", config.http_addr))?;
    tracing::info!(address = %probes.local_addr()?, "probes on /healthz, /readyz, /status");
    let router = probe.router();
    background.spawn(async move {
        if let Err(error) = axum::serve(probes, router).await {
            tracing::error!(%error, "the probe server stopped");
        }
    });

    let stop_all: Vec<_> = workers.iter().map(Worker::shutdown_handle).collect();
    let stopper = async move {
        shutdown.await;
        tracing::info!("shutting down: no new tasks; running ones may finish");
        stop_all.iter().for_each(|stop| stop());
    };
    // Workers are !Send (workflows run on a LocalSet), so they run together on this task.
    let running = futures::future::try_join_all(workers.iter_mut().map(Worker::run));
    let (result, ()) = tokio::join!(running, stopper);
    background.abort_all();
    result.context("A worker stopped with an error")?;
    tracing::info!("every worker stopped");
    Ok(())
}

/// One context's worker, from its own settings and database.
async fn wire(
    context: Context,
    client: &Client,
    config: &WorkerConfig,
    metrics: &metrics::Metrics,
) -> anyhow::Result<ContextWorker> {
    let stores = &config.stores;
    let grace = config.graceful_shutdown;
    let wired = match context {
        Context::Caller => ContextWorker::new(DriverCallWorkflow::worker_options(grace)?),
        Context::Payment => {
            let url = stores.payment_database_url();
            let gauge = |gateway| Some(metrics.circuit_state_gauge(gateway));
            payment::payment_worker(&config.payment, &url, gauge, grace).await?
        }
        Context::Catcher => {
            let url = stores.catcher_database_url();
            catcher::catcher_worker(&config.catcher, &url, grace).await?
        }
        Context::Dashboard => {
            let url = stores.dashboard_database_url();
            dashboard::dashboard_worker(client.clone(), &config.dashboard, &url, grace).await?
        }
    };
    Ok(wired)
}
