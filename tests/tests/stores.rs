//! The stores on PostgreSQL (`TEST_POSTGRES_URL`, default the machine's server at
//! 127.0.0.1:5432): the same conformance checks the quick tier runs on SQLite
//! (`stores/tests/sqlite.rs`), each on a database nobody else uses.

/// A new, empty PostgreSQL database's URL.
async fn fresh_postgres(_context: &str) -> String {
    driver_call_tests::fresh_postgres().await
}

driver_call_stores::conformance_tests!(fresh_postgres);
