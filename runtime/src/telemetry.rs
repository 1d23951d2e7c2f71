//! Logging for the binaries: human-readable by default, JSON with `LOG_FORMAT=json`; the level
//! comes from `RUST_LOG` (default `info`). Colours only on a terminal, so log files, the
//! supervisor's output and `kubectl logs` hold no escape codes.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once, at the start of `main`.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal());
    if std::env::var("LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}
