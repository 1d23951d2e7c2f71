//! The stores on PostgreSQL (`TEST_POSTGRES_URL`, default the machine's server at
//! 127.0.0.1:5432): the same conformance checks the quick tier runs on SQLite
//! (`stores/tests/sqlite.rs`), each on a database nobody else uses.

use sqlx::Connection;

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A new, empty PostgreSQL database's URL.
async fn fresh_postgres(_context: &str) -> String {
    let admin = std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned());
    let name = format!("dc_{}", uuid::Uuid::new_v4().simple());
    let mut connection = sqlx::PgConnection::connect(&admin)
        .await
        .expect("PostgreSQL at TEST_POSTGRES_URL answers");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut connection)
        .await
        .expect("database created");
    let base = admin.rsplit_once('/').expect("a database in the URL").0;
    format!("{base}/{name}")
}

driver_call_stores::conformance_tests!(fresh_postgres);
