//! The bounded contexts' activities, each with its own sqlx store and migrations: `payment`
//! (payments ledger), `catcher` (offers and catches) and `dashboard` (the myPage read model and
//! notifications). Each context is run by its own worker on
//! its own task queue and database (see `driver-call-worker`).
#![warn(missing_docs)]

// The #[activities] macro emits undocumented marker constants, so the context modules opt out.
#[allow(missing_docs)]
pub mod catcher;
#[allow(missing_docs)]
pub mod dashboard;
pub mod db;
#[allow(missing_docs)]
pub mod payment;

/// The current time as RFC 3339 UTC with milliseconds; sorts as text in every database.
pub(crate) fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}
