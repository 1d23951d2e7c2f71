//! Runs the workers of the bounded contexts this process is told to serve, each on its own task
//! queue and with its own database, so one process can run all of them or one each.

pub mod config;
pub mod health;
pub mod metrics;
pub mod telemetry;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context as _;
use driver_call_activities::{catcher, dashboard, payment};
use driver_call_workflows::DriverCallWorkflow;
use driver_call_workflows::contracts::{
    self, catcher as catcher_contract, dashboard as dashboard_contract, payment as payment_contract,
};
use driver_call_workflows::domain::Krw;
use temporalio_client::Client;
use temporalio_sdk::{Worker, WorkerOptions};
use tokio::sync::Notify;

pub use config::{Context, StoreConfig, TemporalConfig, WorkerConfig};
pub use health::Store;

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
    for context in contexts {
        let options =
            worker_options(*context, config, &metrics, &mut probe, &mut background).await?;
        let worker = Worker::new(&runtime, client.clone(), options)
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

async fn worker_options(
    context: Context,
    config: &WorkerConfig,
    metrics: &metrics::Metrics,
    probe: &mut health::Probe,
    background: &mut tokio::task::JoinSet<()>,
) -> anyhow::Result<WorkerOptions> {
    let options = match context {
        Context::Caller => WorkerOptions::new(contracts::CALLER_TASK_QUEUE)
            .register_workflow::<DriverCallWorkflow>()
            .context("Failed to register DriverCallWorkflow")?
            .graceful_shutdown_period(config.graceful_shutdown)
            .build(),
        Context::Payment => {
            let store = payment::PaymentStore::connect(&config.stores.payment_database_url())
                .await
                .context("Failed to open the payment database")?;
            probe.store(Store::Payment(store.clone()));
            let gateway = payment_gateway(config, metrics)?;
            probe.gateway(gateway.clone());
            let minimum = Krw::new(config.min_pay_amount).context("MIN_PAY_AMOUNT")?;
            let activities = payment::Activities::new(store, gateway, minimum)
                .with_fault(config.gateway.payment_fault.into());
            WorkerOptions::new(payment_contract::TASK_QUEUE)
                .register_activities(activities)
                .graceful_shutdown_period(config.graceful_shutdown)
                .build()
        }
        Context::Catcher => {
            let store = catcher::CatcherStore::connect(&config.stores.catcher_database_url())
                .await
                .context("Failed to open the catcher database")?;
            probe.store(Store::Catcher(store.clone()));
            let areas = catcher::ServiceAreas::parse(&config.service_areas);
            WorkerOptions::new(catcher_contract::TASK_QUEUE)
                .register_activities(catcher::Activities::new(store, areas))
                .graceful_shutdown_period(config.graceful_shutdown)
                .build()
        }
        Context::Dashboard => {
            let store = dashboard::DashboardStore::connect(&config.stores.dashboard_database_url())
                .await
                .context("Failed to open the dashboard database")?;
            probe.store(Store::Dashboard(store.clone()));
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

/// The configured payment gateway behind its circuit breaker.
fn payment_gateway(
    config: &WorkerConfig,
    metrics: &metrics::Metrics,
) -> anyhow::Result<Arc<payment::GuardedGateway>> {
    let settings = &config.gateway;
    let gateway: Arc<dyn payment::PaymentGateway> = match &settings.payment_gateway_url {
        Some(url) => Arc::new(
            payment::HttpGateway::new(url, settings.payment_gateway_timeout)
                .context("PAYMENT_GATEWAY_URL")?,
        ),
        None => Arc::new(payment::BuiltinGateway),
    };
    tracing::info!(gateway = gateway.name(), "payment gateway");
    let listener = metrics.circuit_state_gauge(gateway.name());
    Ok(Arc::new(payment::GuardedGateway::new(
        gateway,
        settings.breaker(),
        Some(listener),
    )))
}

/// Connects to Temporal with the SDK's environment configuration (`TEMPORAL_API_KEY`,
/// `TEMPORAL_TLS*`, profiles) and `temporal`'s address and namespace, retrying while the server is
/// still starting.
pub async fn connect_temporal(temporal: &TemporalConfig) -> anyhow::Result<Client> {
    use backon::{ExponentialBuilder, Retryable};
    use temporalio_client::envconfig::LoadClientConfigProfileOptions;
    use temporalio_client::{ClientOptions, Connection};

    let (mut connection_options, mut client_options) = ClientOptions::load_from_config(
        LoadClientConfigProfileOptions::default(),
    )
    .map_err(|e| anyhow::anyhow!("Failed to read the Temporal client configuration: {e:?}"))?;
    connection_options.target = temporal_url(&temporal.temporal_address, &connection_options)?;
    client_options.namespace = temporal.temporal_namespace.clone();
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

/// `address` as a URL: `host:port` gets the scheme the TLS settings call for.
fn temporal_url(
    address: &str,
    options: &temporalio_client::ConnectionOptions,
) -> anyhow::Result<temporalio_client::Url> {
    let url = if address.contains("://") {
        address.to_owned()
    } else if options.tls_options.is_some() {
        format!("https://{address}")
    } else {
        format!("http://{address}")
    };
    temporalio_client::Url::parse(&url).with_context(|| format!("TEMPORAL_ADDRESS `{address}`"))
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
