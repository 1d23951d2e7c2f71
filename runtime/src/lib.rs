//! What every Driver-Call binary shares (the worker, the API, the payment sandbox): the Temporal
//! connection and its health check, logging, the shutdown signal and duration parsing.
#![warn(missing_docs)]

pub mod codec;
pub mod secrets;
pub mod telemetry;
mod temporal;

use serde_json::{Map, Value};

pub use codec::PayloadKeys;
pub use temporal::{
    Compression, ConnectError, KeysError, PAYLOAD_KEYS_FILE, TemporalConfig, connect_temporal,
    temporal_answers,
};

use std::time::Duration;

/// A secret setting's value (clap's parser of every `*_KEY`, password and key list): kept out of
/// `Debug` and logs by [`secrecy::SecretString`].
pub fn secret_value(value: &str) -> Result<secrecy::SecretString, std::convert::Infallible> {
    Ok(secrecy::SecretString::from(value.to_owned()))
}

/// Parses durations such as `10m`, `30s` or `1h 30m` (every duration setting uses it).
pub fn humantime_duration(s: &str) -> Result<Duration, humantime::DurationError> {
    humantime::parse_duration(s)
}

/// Resolves on Ctrl-C or SIGTERM (what Kubernetes, compose and the supervisor send).
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

/// A readiness answer from named checks: whether all passed, and the body every probe answers
/// (`{"status": "ready" | "not ready", "<check>": true | false, ...}`).
pub fn readiness(checks: impl IntoIterator<Item = (&'static str, bool)>) -> (bool, Value) {
    let mut body = Map::new();
    let mut ready = true;
    for (name, ok) in checks {
        ready &= ok;
        body.insert(name.to_owned(), ok.into());
    }
    let status = if ready { "ready" } else { "not ready" };
    body.insert("status".to_owned(), status.into());
    (ready, Value::Object(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_failed_check_makes_the_process_not_ready() {
        let (ready, body) = readiness([("temporal", true), ("paymentStore", false)]);
        assert!(!ready);
        assert_eq!(body["status"], "not ready");
        assert_eq!(body["paymentStore"], false);
        let (ready, body) = readiness([("temporal", true)]);
        assert!(ready);
        assert_eq!(body["status"], "ready");
    }

    #[test]
    fn durations_read_as_operators_write_them() {
        assert_eq!(humantime_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(
            humantime_duration("1h 30m").unwrap(),
            Duration::from_secs(5400)
        );
        assert!(humantime_duration("ten minutes").is_err());
    }
}
