//! The stores' conformance checks on SQLite, each on a new file (the quick tier: no server).

/// A new SQLite file's URL; `reader` checks get a file that does not exist yet.
async fn fresh_sqlite(context: &str) -> String {
    let dir = std::env::temp_dir().join(format!("driver-call-stores-{}", uuid::Uuid::new_v4()));
    format!("sqlite://{}/{context}.db", dir.display())
}

driver_call_stores::conformance_tests!(fresh_sqlite);
