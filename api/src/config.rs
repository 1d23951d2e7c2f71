//! The API's configuration (spec section 5). It shares the database settings with the worker so
//! the names are defined once; the Temporal connection is the SDK's (`TEMPORAL_ADDRESS`, ...).

use std::net::SocketAddr;
use std::time::Duration;

use driver_call_runtime::{TemporalConfig, humantime_duration};
use driver_call_stores::StoreConfig;
use driver_call_workflows::driver_call::CallPolicy;

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
    /// How long a request keeps retrying an unavailable Temporal before it answers 503.
    #[arg(long, env = "TEMPORAL_RETRY_DEADLINE", default_value = "15s", value_parser = humantime_duration)]
    pub temporal_retry_deadline: Duration,
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
}

impl ApiConfig {
    /// The time limits of calls started now.
    pub fn call_policy(&self) -> CallPolicy {
        CallPolicy {
            payment_window_secs: self.payment_window.as_secs().max(1),
            dispatch_timeout_secs: self.dispatch_timeout.as_secs().max(1),
        }
    }
}
