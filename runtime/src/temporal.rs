//! The Temporal connection of every binary.

use std::time::Duration;

use temporalio_client::envconfig::LoadClientConfigProfileOptions;
use temporalio_client::{
    Client, ClientOptions, Connection, ConnectionOptions, GrpcCompression, Url,
};

/// The Temporal connection. The SDK's environment configuration is read first (so
/// `TEMPORAL_API_KEY`, `TEMPORAL_TLS*` and `temporal.toml` profiles work too); these win.
#[derive(Debug, Clone, clap::Args)]
pub struct TemporalConfig {
    /// The Temporal frontend, `host:port` (or a URL).
    #[arg(long, env = "TEMPORAL_ADDRESS", default_value = "localhost:7233")]
    pub temporal_address: String,
    /// The Temporal namespace.
    #[arg(long, env = "TEMPORAL_NAMESPACE", default_value = "default")]
    pub temporal_namespace: String,
    /// gRPC compression on the Temporal connection. `none` by default: next to the server (the
    /// same host, cluster or data centre) gzip only costs CPU on both ends, the server's most of
    /// all, since it then compresses every history and task it sends (docs/bench.md measures
    /// it). `gzip` (the SDK's own default) is for a link where bytes cost more than CPU.
    #[arg(long, env = "TEMPORAL_GRPC_COMPRESSION", value_enum, default_value_t = Compression::None)]
    pub temporal_grpc_compression: Compression,
}

/// The gRPC compression of the Temporal connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Compression {
    /// Plain messages.
    None,
    /// Gzip-compressed requests and responses.
    Gzip,
}

/// Why no Temporal client could be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The SDK's environment configuration could not be read.
    #[error("cannot read the Temporal client configuration: {0}")]
    Config(String),
    /// `TEMPORAL_ADDRESS` is not an address.
    #[error("TEMPORAL_ADDRESS `{0}` is not a valid address: {1}")]
    Address(String, String),
    /// The server did not answer within the retries.
    #[error("cannot connect to Temporal at {0}: {1}")]
    Unreachable(String, String),
}

/// How long a binary keeps trying to reach a Temporal server that is still starting before it
/// says so at WARN: a dev server started alongside needs a few seconds, which is no warning.
const QUIET_START: Duration = Duration::from_secs(10);

/// Connects to Temporal with the SDK's environment configuration and `temporal`'s address and
/// namespace, retrying while the server is still starting.
pub async fn connect_temporal(temporal: &TemporalConfig) -> Result<Client, ConnectError> {
    use backon::{ExponentialBuilder, Retryable};

    let (mut connection_options, mut client_options) =
        ClientOptions::load_from_config(LoadClientConfigProfileOptions::default())
            .map_err(|e| ConnectError::Config(format!("{e:?}")))?;
    connection_options.target = temporal_url(&temporal.temporal_address, &connection_options)?;
    client_options.namespace = temporal.temporal_namespace.clone();
    connection_options.grpc_compression = match temporal.temporal_grpc_compression {
        Compression::None => GrpcCompression::None,
        Compression::Gzip => GrpcCompression::Gzip,
    };
    let started = std::time::Instant::now();
    let connect = || Connection::connect(connection_options.clone());
    let connection = connect
        .retry(
            ExponentialBuilder::default()
                .with_max_delay(Duration::from_secs(5))
                .with_max_times(30),
        )
        .notify(|error, wait| {
            if started.elapsed() < QUIET_START {
                tracing::info!(%error, ?wait, "waiting for Temporal to answer");
            } else {
                tracing::warn!(%error, ?wait, "Temporal not reachable yet");
            }
        })
        .await
        .map_err(|e| ConnectError::Unreachable(temporal.temporal_address.clone(), e.to_string()))?;
    Client::new(connection, client_options)
        .map_err(|e| ConnectError::Unreachable(temporal.temporal_address.clone(), e.to_string()))
}

/// Whether the Temporal frontend answers a cheap visibility call (every readiness probe uses it).
pub async fn temporal_answers(client: &Client) -> bool {
    client
        .count_workflows(
            "WorkflowType = 'DriverCallWorkflow'",
            temporalio_client::WorkflowCountOptions::default(),
        )
        .await
        .is_ok()
}

/// `address` as a URL: `host:port` gets the scheme the TLS settings call for.
fn temporal_url(address: &str, options: &ConnectionOptions) -> Result<Url, ConnectError> {
    let url = if address.contains("://") {
        address.to_owned()
    } else if options.tls_options.is_some() {
        format!("https://{address}")
    } else {
        format!("http://{address}")
    };
    Url::parse(&url).map_err(|e| ConnectError::Address(address.to_owned(), e.to_string()))
}
