//! Opening a context's own database: SQLite files by default, PostgreSQL when the URL
//! says so. Queries are written once, in SQL both accept, through sqlx's `Any` driver.

use std::path::Path;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;

/// A failure of a context's store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or refused a statement.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// The context's migrations failed.
    #[error("database migration failed")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The SQLite file's directory could not be created.
    #[error("cannot create the database directory {0}")]
    Directory(String, #[source] std::io::Error),
    /// The owner has not brought the schema to this version yet.
    #[error("the schema is at migration {applied}, this version needs {expected}")]
    NotMigrated {
        /// The newest migration applied.
        applied: i64,
        /// The newest migration this code knows.
        expected: i64,
    },
    /// A row holds a value the code does not know (a status written by a newer version).
    #[error("unexpected value in the database: {0}")]
    Corrupt(String),
}

/// A context's database: the pool, and the migrations its schema must have.
#[derive(Debug, Clone)]
pub(crate) struct Database {
    pub(crate) pool: AnyPool,
    migrator: &'static Migrator,
}

impl Database {
    /// Opens the database as its owner (the context's worker): creates an SQLite file on first
    /// use and brings the schema up to date. PostgreSQL serialises concurrent migrators (replicas
    /// of one worker) with a lock.
    pub(crate) async fn owned(url: &str, migrator: &'static Migrator) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        if let Some(path) = sqlite_path(url) {
            create_parent_dir(path)?;
        }
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .connect(&with_mode(url, "rwc"))
            .await?;
        if sqlite_path(url).is_some() {
            // WAL lets the API read while the worker writes the same file; it is a property of
            // the file, so the owner sets it once for every reader.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        migrate(&pool, migrator).await?;
        Ok(Self { pool, migrator })
    }

    /// Opens another context's database to read it: no file is created and nothing migrated,
    /// and nothing is connected until the first query, so a reader starts before the owner has
    /// created the database and is ready once it has ([`Self::ready`]).
    pub(crate) fn read(url: &str, migrator: &'static Migrator) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        // A reader's readiness probe must answer quickly while the database is not there yet.
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(std::time::Duration::from_secs(2))
            .connect_lazy(&with_mode(url, "rw"))?;
        Ok(Self { pool, migrator })
    }

    /// Whether the database answers with every migration this code knows applied.
    pub(crate) async fn ready(&self) -> Result<(), StoreError> {
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await?;
        let expected = self.migrator.iter().map(|m| m.version).max();
        if applied < expected {
            return Err(StoreError::NotMigrated {
                applied: applied.unwrap_or(0),
                expected: expected.unwrap_or(0),
            });
        }
        Ok(())
    }
}

/// Runs the migrations, retrying a few times: PostgreSQL serialises concurrent migrators with a
/// lock, but SQLite does not, so two owners starting together on one file (two worker processes
/// on one data directory) can collide on the migrations table; the retry then finds the schema
/// applied.
async fn migrate(pool: &AnyPool, migrator: &Migrator) -> Result<(), StoreError> {
    use backon::{ExponentialBuilder, Retryable};
    let run = || migrator.run(pool);
    run.retry(
        ExponentialBuilder::default()
            .with_min_delay(std::time::Duration::from_millis(50))
            .with_max_times(5),
    )
    .notify(|error, wait| tracing::info!(%error, ?wait, "another owner is migrating; retrying"))
    .await?;
    Ok(())
}

/// The default URL of a context's SQLite database under `data_dir`.
pub fn sqlite_url(data_dir: &Path, context: &str) -> String {
    format!("sqlite://{}/{context}.db", data_dir.display())
}

fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then_some(path)
}

fn create_parent_dir(path: &str) -> Result<(), StoreError> {
    let Some(parent) = Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    else {
        return Ok(());
    };
    std::fs::create_dir_all(parent)
        .map_err(|e| StoreError::Directory(parent.display().to_string(), e))
}

/// An SQLite URL opened in `mode` (`rwc` creates the file, `rw` does not) unless the URL chose
/// one; other URLs are untouched.
fn with_mode(url: &str, mode: &str) -> String {
    if sqlite_path(url).is_none() || url.contains("mode=") {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}mode={mode}")
}

/// The migrations for `url`'s backend, for a context whose SQL differs between SQLite and
/// PostgreSQL.
pub(crate) fn migrator_for(
    url: &str,
    sqlite: &'static Migrator,
    postgres: &'static Migrator,
) -> &'static Migrator {
    if url.starts_with("postgres") {
        postgres
    } else {
        sqlite
    }
}

/// Parses a stored status, reporting values this version does not know.
pub(crate) fn parse_stored<T>(
    value: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    parse(value).ok_or_else(|| StoreError::Corrupt(value.to_owned()))
}

/// `$1, $2, ..., $n`: the placeholders of an `IN (...)` list of `n` values.
pub(crate) fn placeholders(n: usize) -> String {
    placeholders_from(1, n)
}

/// `$first, ..., $(first + n - 1)`: an `IN (...)` list after `first - 1` other binds.
pub(crate) fn placeholders_from(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A time as the API-owned tables hold it: RFC 3339 UTC with milliseconds (sorts as text).
pub(crate) fn format_time(time: std::time::SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

/// A time [`format_time`] wrote.
pub(crate) fn parse_time(text: &str) -> Result<std::time::SystemTime, StoreError> {
    humantime::parse_rfc3339(text).map_err(|_| StoreError::Corrupt(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_get_a_mode_and_postgres_urls_are_untouched() {
        assert_eq!(
            with_mode("sqlite://data/p.db", "rwc"),
            "sqlite://data/p.db?mode=rwc"
        );
        assert_eq!(
            with_mode("sqlite://p.db?x=1", "rw"),
            "sqlite://p.db?x=1&mode=rw"
        );
        assert_eq!(
            with_mode("sqlite://p.db?mode=ro", "rwc"),
            "sqlite://p.db?mode=ro"
        );
        assert_eq!(with_mode("postgres://h/db", "rw"), "postgres://h/db");
    }

    #[test]
    fn sqlite_path_is_read_from_both_url_forms() {
        assert_eq!(sqlite_path("sqlite://data/p.db?x=1"), Some("data/p.db"));
        assert_eq!(sqlite_path("sqlite:p.db"), Some("p.db"));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://h/db"), None);
    }
}
