//! The worker's configuration: flags and environment variables with working defaults (spec
//! section 5). The Temporal connection is the SDK's own (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`).

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

/// Settings of the contexts' workers.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkerConfig {
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
}

impl WorkerConfig {
    /// The payment database URL, defaulting to SQLite under `data_dir`.
    pub fn payment_database_url(&self) -> String {
        self.payment_database_url
            .clone()
            .unwrap_or_else(|| db::sqlite_url(&self.data_dir, "payment"))
    }

    /// The catcher database URL, defaulting to SQLite under `data_dir`.
    pub fn catcher_database_url(&self) -> String {
        self.catcher_database_url
            .clone()
            .unwrap_or_else(|| db::sqlite_url(&self.data_dir, "catcher"))
    }
}

impl WorkerConfig {
    /// The dashboard database URL, defaulting to SQLite under `data_dir`.
    pub fn dashboard_database_url(&self) -> String {
        self.dashboard_database_url
            .clone()
            .unwrap_or_else(|| db::sqlite_url(&self.data_dir, "dashboard"))
    }
}

/// Parses durations such as `10m`, `30s` or `1h 30m`.
pub fn humantime_duration(s: &str) -> Result<Duration, humantime::DurationError> {
    humantime::parse_duration(s)
}
