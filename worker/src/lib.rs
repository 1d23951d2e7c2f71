//! Runs the workers of the bounded contexts this process is told to serve, each on its own task
//! queue and with its own database, so one process can run all of them or one each.

pub mod config;
pub mod telemetry;

use std::future::Future;

use anyhow::Context as _;
use std::sync::Arc;

use driver_call_activities::{catcher, dashboard, payment};
use driver_call_workflows::DriverCallWorkflow;
use driver_call_workflows::contracts::{
    self, catcher as catcher_contract, dashboard as dashboard_contract, payment as payment_contract,
};
use driver_call_workflows::domain::Krw;
use temporalio_client::Client;
use temporalio_sdk::{Runtime, Worker, WorkerOptions};
use tokio::sync::Notify;

pub use config::{Context, WorkerConfig};

/// Builds the workers of `contexts` and runs them until `shutdown` resolves; then they stop
/// polling, let running tasks finish, and return.
pub async fn run(
    client: Client,
    config: &WorkerConfig,
    contexts: &[Context],
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let runtime = Runtime::from_current_tokio(Default::default())
        .context("Failed to create the Temporal worker runtime")?;
    let mut workers = Vec::new();
    let mut background = tokio::task::JoinSet::new();
    for context in contexts {
        let options = worker_options(*context, config, &mut background).await?;
        let worker = Worker::new(&runtime, client.clone(), options)
            .with_context(|| format!("Failed to create the {context} worker"))?;
        tracing::info!(%context, task_queue = context.task_queue(), "worker polling");
        workers.push(worker);
    }
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
    Ok(())
}

async fn worker_options(
    context: Context,
    config: &WorkerConfig,
    background: &mut tokio::task::JoinSet<()>,
) -> anyhow::Result<WorkerOptions> {
    let options = match context {
        Context::Caller => WorkerOptions::new(contracts::CALLER_TASK_QUEUE)
            .register_workflow::<DriverCallWorkflow>()
            .context("Failed to register DriverCallWorkflow")?
            .graceful_shutdown_period(config.graceful_shutdown)
            .build(),
        Context::Payment => {
            let store = payment::PaymentStore::connect(&config.payment_database_url())
                .await
                .context("Failed to open the payment database")?;
            let minimum = Krw::new(config.min_pay_amount).context("MIN_PAY_AMOUNT")?;
            WorkerOptions::new(payment_contract::TASK_QUEUE)
                .register_activities(payment::Activities::new(store, minimum))
                .graceful_shutdown_period(config.graceful_shutdown)
                .build()
        }
        Context::Catcher => {
            let store = catcher::CatcherStore::connect(&config.catcher_database_url())
                .await
                .context("Failed to open the catcher database")?;
            let areas = catcher::ServiceAreas::parse(&config.service_areas);
            WorkerOptions::new(catcher_contract::TASK_QUEUE)
                .register_activities(catcher::Activities::new(store, areas))
                .graceful_shutdown_period(config.graceful_shutdown)
                .build()
        }
        Context::Dashboard => {
            let store = dashboard::DashboardStore::connect(&config.dashboard_database_url())
                .await
                .context("Failed to open the dashboard database")?;
            let projected = Arc::new(Notify::new());
            if let Some(url) = &config.notify_webhook_url {
                let notifier =
                    dashboard::WebhookNotifier::new(store.clone(), url.clone(), projected.clone());
                background.spawn(notifier.run());
            }
            WorkerOptions::new(dashboard_contract::TASK_QUEUE)
                .register_activities(dashboard::Activities::new(store, projected))
                .graceful_shutdown_period(config.graceful_shutdown)
                .build()
        }
    };
    Ok(options)
}

/// Connects to Temporal with the SDK's environment configuration (`TEMPORAL_ADDRESS`,
/// `TEMPORAL_NAMESPACE`, ...), retrying while the server is still starting.
pub async fn connect_temporal() -> anyhow::Result<Client> {
    use backon::{ExponentialBuilder, Retryable};
    use temporalio_client::envconfig::LoadClientConfigProfileOptions;
    use temporalio_client::{ClientOptions, Connection};

    let (connection_options, client_options) = ClientOptions::load_from_config(
        LoadClientConfigProfileOptions::default(),
    )
    .map_err(|e| anyhow::anyhow!("Failed to read the Temporal client configuration: {e:?}"))?;
    let connect = || Connection::connect(connection_options.clone());
    let connection = connect
        .retry(
            ExponentialBuilder::default()
                .with_max_delay(std::time::Duration::from_secs(5))
                .with_max_times(30),
        )
        .notify(|error, wait| tracing::warn!(%error, ?wait, "Temporal not reachable yet"))
        .await
        .context("Failed to connect to Temporal")?;
    Client::new(connection, client_options).context("Failed to create the Temporal client")
}

/// Resolves on Ctrl-C or SIGTERM (what Kubernetes and compose send), for every binary.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
