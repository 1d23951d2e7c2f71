//! The worker's configuration: flags and environment variables with working defaults (spec
//! section 5), shared by the API where they mean the same thing.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use driver_call_activities::{catcher, db, payment};
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

/// Where each context keeps its data; shared with the API, so the names are defined once.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreConfig {
    /// Directory of the embedded SQLite databases.
    #[arg(long, env = "DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// The payment context's database (default: SQLite `payment.db` under DATA_DIR).
    #[arg(long, env = "PAYMENT_DATABASE_URL")]
    pub payment_database_url: Option<String>,
    /// The catcher context's database (default: SQLite `catcher.db` under DATA_DIR).
    #[arg(long, env = "CATCHER_DATABASE_URL")]
    pub catcher_database_url: Option<String>,
    /// The dashboard context's database (default: SQLite `dashboard.db` under DATA_DIR).
    #[arg(long, env = "DASHBOARD_DATABASE_URL")]
    pub dashboard_database_url: Option<String>,
}

impl StoreConfig {
    /// Every store as an SQLite file under `data_dir`.
    pub fn under(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            payment_database_url: None,
            catcher_database_url: None,
            dashboard_database_url: None,
        }
    }

    /// The payment database URL, defaulting to SQLite under `data_dir`.
    pub fn payment_database_url(&self) -> String {
        self.url_of(&self.payment_database_url, "payment")
    }

    /// The catcher database URL, defaulting to SQLite under `data_dir`.
    pub fn catcher_database_url(&self) -> String {
        self.url_of(&self.catcher_database_url, "catcher")
    }

    /// The dashboard database URL, defaulting to SQLite under `data_dir`.
    pub fn dashboard_database_url(&self) -> String {
        self.url_of(&self.dashboard_database_url, "dashboard")
    }

    fn url_of(&self, configured: &Option<String>, context: &str) -> String {
        configured
            .clone()
            .unwrap_or_else(|| db::sqlite_url(&self.data_dir, context))
    }
}

/// The Temporal connection. The SDK's environment configuration is read first (so
/// `TEMPORAL_API_KEY`, `TEMPORAL_TLS*` and `temporal.toml` profiles work too); these two win.
#[derive(Debug, Clone, clap::Args)]
pub struct TemporalConfig {
    /// The Temporal frontend, `host:port` (or a URL).
    #[arg(long, env = "TEMPORAL_ADDRESS", default_value = "localhost:7233")]
    pub temporal_address: String,
    /// The Temporal namespace.
    #[arg(long, env = "TEMPORAL_NAMESPACE", default_value = "default")]
    pub temporal_namespace: String,
}

/// The payment gateway and the circuit breaker in front of it.
#[derive(Debug, Clone, clap::Args)]
pub struct GatewayConfig {
    /// Base URL of an external payment service (unset: the built-in gateway, the ledger itself).
    #[arg(long, env = "PAYMENT_GATEWAY_URL")]
    pub payment_gateway_url: Option<String>,
    /// How long one gateway request may take; longer is an outage of unknown outcome.
    #[arg(long, env = "PAYMENT_GATEWAY_TIMEOUT", default_value = "2s", value_parser = humantime_duration)]
    pub payment_gateway_timeout: Duration,
    /// Consecutive gateway outages that open the circuit breaker.
    #[arg(long, env = "PAYMENT_BREAKER_FAILURES", default_value_t = 5)]
    pub payment_breaker_failures: u32,
    /// How long the open breaker fails payments fast before probing the gateway again.
    #[arg(long, env = "PAYMENT_BREAKER_COOLDOWN", default_value = "30s", value_parser = humantime_duration)]
    pub payment_breaker_cooldown: Duration,
    /// A fault to inject, for failure drills only.
    #[arg(
        long,
        env = "PAYMENT_FAULT",
        value_enum,
        default_value = "none",
        hide = true
    )]
    pub payment_fault: PaymentFault,
}

impl GatewayConfig {
    /// The breaker's settings.
    pub fn breaker(&self) -> payment::BreakerSettings {
        payment::BreakerSettings {
            failures: self.payment_breaker_failures,
            cooldown: self.payment_breaker_cooldown,
        }
    }
}

/// Faults a failure drill can inject into the payment worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PaymentFault {
    /// None.
    None,
    /// Never complete `payment.approve` once the ledger is written.
    HangAfterLedgerWrite,
}

impl From<PaymentFault> for payment::Fault {
    fn from(fault: PaymentFault) -> Self {
        match fault {
            PaymentFault::None => payment::Fault::None,
            PaymentFault::HangAfterLedgerWrite => payment::Fault::HangAfterLedgerWrite,
        }
    }
}

/// Settings of the contexts' workers.
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
    /// Where every call event is POSTed as JSON (unset: no webhooks).
    #[arg(long, env = "NOTIFY_WEBHOOK_URL")]
    pub notify_webhook_url: Option<String>,
    /// Comma-separated service areas, matched case-insensitively.
    #[arg(long, env = "SERVICE_AREAS", default_value = catcher::DEFAULT_SERVICE_AREAS)]
    pub service_areas: String,
    /// The minimum fare in KRW; smaller payments are rejected.
    #[arg(long, env = "MIN_PAY_AMOUNT", default_value_t = payment::DEFAULT_MIN_PAY_AMOUNT)]
    pub min_pay_amount: i64,
    /// How long running tasks may take to finish after a shutdown signal.
    #[arg(long, env = "WORKER_SHUTDOWN_GRACE", default_value = "20s", value_parser = humantime_duration)]
    pub graceful_shutdown: Duration,
    /// The payment gateway.
    #[command(flatten)]
    pub gateway: GatewayConfig,
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

/// Parses durations such as `10m`, `30s` or `1h 30m`.
pub fn humantime_duration(s: &str) -> Result<Duration, humantime::DurationError> {
    humantime::parse_duration(s)
}
