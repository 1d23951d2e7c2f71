//! The public contract of each bounded context: its task queue, its activities' names and their
//! input and result types. Declared here so the workflow can call them; implemented in
//! `driver-call-activities`, each by its own context's worker.

pub mod catcher;
pub mod dashboard;
pub mod payment;

/// The caller context's task queue, polled by the `DriverCallWorkflow` worker.
pub const CALLER_TASK_QUEUE: &str = "driver-call";
