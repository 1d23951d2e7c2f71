//! Where each context keeps its data (spec section 5), read by the worker and the API alike.

use std::path::PathBuf;

use crate::db;

/// Each context's database URL; unset, an SQLite file under `DATA_DIR`.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreConfig {
    /// Directory of the embedded SQLite databases.
    #[arg(long, env = "DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// The payment context's database (default: SQLite `payment.db` under DATA_DIR).
    #[arg(long, env = "PAYMENT_DATABASE_URL")]
    pub payment_database_url: Option<String>,
    /// The catcher context's database (default: SQLite `catcher.db` under DATA_DIR).
    #[arg(long, env = "CATCHER_DATABASE_URL")]
    pub catcher_database_url: Option<String>,
    /// The dashboard context's database (default: SQLite `dashboard.db` under DATA_DIR).
    #[arg(long, env = "DASHBOARD_DATABASE_URL")]
    pub dashboard_database_url: Option<String>,
    /// The identity context's database, owned by the API (default: SQLite `identity.db` under
    /// DATA_DIR).
    #[arg(long, env = "IDENTITY_DATABASE_URL")]
    pub identity_database_url: Option<String>,
    /// The quoted fares' database, owned by the API (default: SQLite `quote.db` under DATA_DIR).
    #[arg(long, env = "QUOTE_DATABASE_URL")]
    pub quote_database_url: Option<String>,
}

impl StoreConfig {
    /// Every store as an SQLite file under `data_dir`.
    pub fn under(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            payment_database_url: None,
            catcher_database_url: None,
            dashboard_database_url: None,
            identity_database_url: None,
            quote_database_url: None,
        }
    }

    /// The payment database URL, defaulting to SQLite under `data_dir`.
    pub fn payment_database_url(&self) -> String {
        self.url_of(&self.payment_database_url, "payment")
    }

    /// The catcher database URL, defaulting to SQLite under `data_dir`.
    pub fn catcher_database_url(&self) -> String {
        self.url_of(&self.catcher_database_url, "catcher")
    }

    /// The dashboard database URL, defaulting to SQLite under `data_dir`.
    pub fn dashboard_database_url(&self) -> String {
        self.url_of(&self.dashboard_database_url, "dashboard")
    }

    /// The identity database URL, defaulting to SQLite under `data_dir`.
    pub fn identity_database_url(&self) -> String {
        self.url_of(&self.identity_database_url, "identity")
    }

    /// The quote database URL, defaulting to SQLite under `data_dir`.
    pub fn quote_database_url(&self) -> String {
        self.url_of(&self.quote_database_url, "quote")
    }

    fn url_of(&self, configured: &Option<String>, context: &str) -> String {
        configured
            .clone()
            .unwrap_or_else(|| db::sqlite_url(&self.data_dir, context))
    }
}
