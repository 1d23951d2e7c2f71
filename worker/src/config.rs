//! The worker's configuration: flags and environment variables with working defaults (spec
//! section 5). Each context brings its own settings; this adds what the process itself needs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use driver_call_activities::catcher::CatcherConfig;
use driver_call_activities::dashboard::DashboardConfig;
use driver_call_activities::payment::PaymentConfig;
use driver_call_runtime::humantime_duration;
use driver_call_stores::StoreConfig;
use driver_call_workflows::contracts::{
    CALLER_TASK_QUEUE, catcher as c, dashboard as d, payment as p,
};

/// A bounded context a worker process can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Context {
    /// `DriverCallWorkflow` on task queue `driver-call`.
    Caller,
    /// Payment activities on task queue `payment`.
    Payment,
    /// Catcher activities on task queue `catcher`.
    Catcher,
    /// Dashboard activities (myPage read model, webhooks) on task queue `dashboard`.
    Dashboard,
}

impl Context {
    /// Every context, the default set of one process.
    pub const ALL: [Context; 4] = [
        Context::Caller,
        Context::Payment,
        Context::Catcher,
        Context::Dashboard,
    ];

    /// The task queue this context polls.
    pub fn task_queue(self) -> &'static str {
        match self {
            Context::Caller => CALLER_TASK_QUEUE,
            Context::Payment => p::TASK_QUEUE,
            Context::Catcher => c::TASK_QUEUE,
            Context::Dashboard => d::TASK_QUEUE,
        }
    }
}

impl std::fmt::Display for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Context::Caller => "caller",
            Context::Payment => "payment",
            Context::Catcher => "catcher",
            Context::Dashboard => "dashboard",
        })
    }
}

/// Settings of a worker process.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkerConfig {
    /// The contexts to serve, comma-separated or repeated (default: all of them).
    #[arg(
        long = "context",
        env = "WORKER_CONTEXTS",
        value_enum,
        value_delimiter = ','
    )]
    pub contexts: Vec<Context>,
    /// The contexts' databases.
    #[command(flatten)]
    pub stores: StoreConfig,
    /// The payment context.
    #[command(flatten)]
    pub payment: PaymentConfig,
    /// The catcher context.
    #[command(flatten)]
    pub catcher: CatcherConfig,
    /// The dashboard context.
    #[command(flatten)]
    pub dashboard: DashboardConfig,
    /// How long running tasks may take to finish after a shutdown signal.
    #[arg(long, env = "WORKER_SHUTDOWN_GRACE", default_value = "20s", value_parser = humantime_duration)]
    pub graceful_shutdown: Duration,
    /// Address of `/healthz`, `/readyz` and `/status`.
    #[arg(long, env = "WORKER_HTTP_ADDR", default_value = "127.0.0.1:9090")]
    pub http_addr: SocketAddr,
    /// Address of the Prometheus `/metrics` endpoint (the SDK's worker metrics and ours).
    #[arg(long, env = "WORKER_METRICS_ADDR", default_value = "127.0.0.1:9464")]
    pub metrics_addr: SocketAddr,
}

impl WorkerConfig {
    /// The defaults with every store under `data_dir` and the HTTP ports on free loopback ports
    /// (what tests and embedded uses start from).
    pub fn under(data_dir: PathBuf) -> Self {
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            config: WorkerConfig,
        }
        let mut config = <Defaults as clap::Parser>::parse_from(["driver-call-worker"]).config;
        config.stores = StoreConfig::under(data_dir);
        config.http_addr = ([127, 0, 0, 1], 0).into();
        config.metrics_addr = ([127, 0, 0, 1], 0).into();
        config
    }

    /// The contexts to serve: the configured ones, or all.
    pub fn contexts(&self) -> Vec<Context> {
        if self.contexts.is_empty() {
            return Context::ALL.to_vec();
        }
        self.contexts.clone()
    }
}
