//! The bounded contexts' activities, one module each: `payment` (approval rule, gateway, circuit
//! breaker), `catcher` (service areas, offers, catches) and `dashboard` (the myPage projection and
//! webhooks). Each module also says how its worker is wired (`worker.rs`: its settings and its
//! `WorkerOptions`), so the worker binary only chooses which contexts to run.
#![warn(missing_docs)]

// The #[activities] macro emits undocumented marker constants, so the context modules opt out.
#[allow(missing_docs)]
pub mod catcher;
#[allow(missing_docs)]
pub mod dashboard;
#[allow(missing_docs)]
pub mod payment;
mod wiring;

pub use wiring::{ContextWorker, WiringError};
