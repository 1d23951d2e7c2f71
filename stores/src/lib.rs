//! The bounded contexts' stores, each in its own database with its own migrations: `payment`
//! (the payments ledger), `catcher` (offers and catches), `dashboard` (the myPage read model
//! and its webhook outbox) `identity` (accounts and sign-in codes) and `quote` (quoted fares), the last two owned by
//! the API.
//!
//! A context's worker owns its database: it opens it with `connect`, which creates and migrates
//! it. Every other process (the API) opens it with `open_reader`, which neither creates nor
//! migrates, and is ready once the owner has migrated (`ping`).
#![warn(missing_docs)]

pub mod catcher;
mod config;
pub mod conformance;
pub mod dashboard;
pub mod db;
pub mod identity;
pub mod payment;
pub mod quote;

pub use catcher::CatcherStore;
pub use config::StoreConfig;
pub use dashboard::DashboardStore;
pub use db::StoreError;
pub use identity::IdentityStore;
pub use payment::PaymentStore;
pub use quote::QuoteStore;

/// A store whose database a readiness probe asks.
#[derive(Debug, Clone)]
pub enum Store {
    /// The payments ledger.
    Payment(PaymentStore),
    /// Offers and catches.
    Catcher(CatcherStore),
    /// The myPage read model.
    Dashboard(DashboardStore),
    /// Accounts and sign-in codes.
    Identity(IdentityStore),
    /// Quoted fares.
    Quote(QuoteStore),
}

impl Store {
    /// The store's name in readiness answers (`paymentStore`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Store::Payment(_) => "paymentStore",
            Store::Catcher(_) => "catcherStore",
            Store::Dashboard(_) => "dashboardStore",
            Store::Identity(_) => "identityStore",
            Store::Quote(_) => "quoteStore",
        }
    }

    /// Whether its database answers with the schema migrated.
    pub async fn ready(&self) -> bool {
        let answer = match self {
            Store::Payment(store) => store.ping().await,
            Store::Catcher(store) => store.ping().await,
            Store::Dashboard(store) => store.ping().await,
            Store::Identity(store) => store.ping().await,
            Store::Quote(store) => store.ping().await,
        };
        if let Err(error) = &answer {
            tracing::debug!(store = self.name(), %error, "store not ready");
        }
        answer.is_ok()
    }
}

/// The current time as RFC 3339 UTC with milliseconds; sorts as text in every database.
pub(crate) fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}
