//! The API's configuration (spec section 5). It shares the database settings with the worker so
//! the names are defined once; the Temporal connection is the SDK's (`TEMPORAL_ADDRESS`, ...).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use driver_call_runtime::{TemporalConfig, humantime_duration};
use driver_call_stores::StoreConfig;
use driver_call_workflows::domain::Krw;
use driver_call_workflows::driver_call::{CallPolicy, FeePolicy};

use crate::fares::FareConfig;
use crate::identity::IdentityConfig;

/// Settings of the API process.
#[derive(Debug, Clone, clap::Parser)]
#[command(version, about = "Driver-Call HTTP API")]
pub struct ApiConfig {
    /// Address the API listens on.
    #[arg(long, env = "API_ADDR", default_value = "127.0.0.1:8080")]
    pub api_addr: SocketAddr,
    /// An unpaid call expires after this long (e.g. `10m`).
    #[arg(long, env = "PAYMENT_WINDOW", default_value = "10m", value_parser = humantime_duration)]
    pub payment_window: Duration,
    /// A paid call nobody catches expires after this long (e.g. `10m`).
    #[arg(long, env = "DISPATCH_TIMEOUT", default_value = "10m", value_parser = humantime_duration)]
    pub dispatch_timeout: Duration,
    /// A cancel within this long after the catch is free (e.g. `2m`).
    #[arg(long, env = "CANCEL_GRACE", default_value = "2m", value_parser = humantime_duration)]
    pub cancel_grace: Duration,
    /// What a cancel after the grace, or a no-show, costs in KRW (never more than the fare).
    #[arg(long, env = "CANCEL_FEE", default_value_t = 5000)]
    pub cancel_fee: u32,
    /// How long an arrived driver waits before they may mark the customer a no-show (e.g. `10m`).
    #[arg(long, env = "NO_SHOW_WAIT", default_value = "10m", value_parser = humantime_duration)]
    pub no_show_wait: Duration,
    /// How long each dispatch tier lasts before the offer widens to more drivers (e.g. `30s`).
    #[arg(long, env = "OFFER_WINDOW", default_value = "30s", value_parser = humantime_duration)]
    pub offer_window: Duration,
    /// A driver not heard from this long is offline until they go online again (e.g. `90s`).
    #[arg(long, env = "PRESENCE_TIMEOUT", default_value = "90s", value_parser = humantime_duration)]
    pub presence_timeout: Duration,
    /// How long a request keeps retrying an unavailable Temporal before it answers 503.
    #[arg(long, env = "TEMPORAL_RETRY_DEADLINE", default_value = "15s", value_parser = humantime_duration)]
    pub temporal_retry_deadline: Duration,
    /// Where the apps' built files are (`web/dist`, built by `scripts/setup`).
    #[arg(long, env = "WEB_DIR", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../web/dist"))]
    pub web_dir: PathBuf,
    /// The Temporal Web UI the operations console links each call to.
    #[arg(long, env = "TEMPORAL_UI_URL", default_value = "http://localhost:8233")]
    pub temporal_ui_url: String,
    /// The Temporal connection.
    #[command(flatten)]
    pub temporal: TemporalConfig,
    /// The stores the API reads (the same variables as the worker's).
    #[command(flatten)]
    pub stores: StoreConfig,
    /// Sign-in and access tokens (spec section 7).
    #[command(flatten)]
    pub identity: IdentityConfig,
    /// The tariff and quotes (spec section 9).
    #[command(flatten)]
    pub fares: FareConfig,
    /// The numbers' hash key (spec section 10; the payload keys are the connection's).
    #[command(flatten)]
    pub privacy: crate::privacy::PrivacyConfig,
}

impl ApiConfig {
    /// The time limits and fee rules of calls started now.
    pub fn call_policy(&self) -> CallPolicy {
        CallPolicy {
            payment_window_secs: self.payment_window.as_secs().max(1),
            dispatch_timeout_secs: self.dispatch_timeout.as_secs().max(1),
            fees: Some(FeePolicy {
                cancel_grace_secs: self.cancel_grace.as_secs(),
                cancel_fee: Krw::new(i64::from(self.cancel_fee)).unwrap_or(Krw::DEFAULT_CANCEL_FEE),
                no_show_wait_secs: self.no_show_wait.as_secs(),
            }),
            offer_window_secs: Some(self.offer_window.as_secs().max(1)),
        }
    }
}
