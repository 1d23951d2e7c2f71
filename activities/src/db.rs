//! Connecting a context to its own database: SQLite files by default, PostgreSQL when the URL
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
    /// A row holds a value the code does not know (a status written by a newer version).
    #[error("unexpected value in the database: {0}")]
    Corrupt(String),
}

/// Opens the pool for `url` and brings its schema up to date with `migrator`.
pub async fn connect(url: &str, migrator: &Migrator) -> Result<AnyPool, StoreError> {
    sqlx::any::install_default_drivers();
    if let Some(path) = sqlite_path(url) {
        create_parent_dir(path)?;
    }
    let pool = AnyPoolOptions::new()
        .max_connections(8)
        .connect(&with_create_mode(url))
        .await?;
    if sqlite_path(url).is_some() {
        // WAL lets the API read while a worker writes the same file.
        sqlx::query("PRAGMA journal_mode = WAL")
            .execute(&pool)
            .await?;
    }
    migrate(&pool, migrator).await?;
    Ok(pool)
}

/// Runs the migrations, retrying a few times: PostgreSQL serialises concurrent migrators with a
/// lock, but SQLite does not, so a worker and the API starting together on one file can collide
/// on the migrations table; the retry then finds the schema already applied.
async fn migrate(pool: &AnyPool, migrator: &Migrator) -> Result<(), StoreError> {
    use backon::{ExponentialBuilder, Retryable};
    let run = || migrator.run(pool);
    run.retry(
        ExponentialBuilder::default()
            .with_min_delay(std::time::Duration::from_millis(50))
            .with_max_times(5),
    )
    .notify(|error, wait| tracing::warn!(%error, ?wait, "migration collided; retrying"))
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

/// A SQLite file is created on first use unless the URL chose another mode.
fn with_create_mode(url: &str) -> String {
    if sqlite_path(url).is_none() || url.contains("mode=") {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}mode=rwc")
}

/// Parses a stored status, reporting values this version does not know.
pub(crate) fn parse_stored<T>(
    value: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    parse(value).ok_or_else(|| StoreError::Corrupt(value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_get_create_mode_and_postgres_urls_are_untouched() {
        assert_eq!(
            with_create_mode("sqlite://data/p.db"),
            "sqlite://data/p.db?mode=rwc"
        );
        assert_eq!(
            with_create_mode("sqlite://p.db?mode=ro"),
            "sqlite://p.db?mode=ro"
        );
        assert_eq!(with_create_mode("postgres://h/db"), "postgres://h/db");
    }

    #[test]
    fn sqlite_path_is_read_from_both_url_forms() {
        assert_eq!(sqlite_path("sqlite://data/p.db?x=1"), Some("data/p.db"));
        assert_eq!(sqlite_path("sqlite:p.db"), Some("p.db"));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://h/db"), None);
    }
}
