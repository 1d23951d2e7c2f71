//! Driver-Call's workflow crate: the domain's types, the activity contracts of each bounded context
//! and the `DriverCallWorkflow` saga. Everything here is deterministic and does no I/O, so the
//! workflow can be replayed from history at any time.
#![warn(missing_docs)]

pub mod contracts;
pub mod domain;
pub mod driver_call;

pub use driver_call::DriverCallWorkflow;
