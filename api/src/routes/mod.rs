//! The API's routes, one module per resource of spec section 4.

pub(crate) mod calls;
pub(crate) mod catches;
pub(crate) mod dashboards;
pub(crate) mod health;
pub(crate) mod payments;

use driver_call_workflows::domain::CallId;

use crate::ApiError;

/// A call id from the path; anything that is not one names no call.
pub(crate) fn call_id(raw: &str) -> Result<CallId, ApiError> {
    CallId::parse(raw).map_err(|_| ApiError::NotFound(format!("call {raw} not found")))
}

/// A domain validation failure is the client's to fix: 422.
impl From<driver_call_workflows::domain::DomainError> for ApiError {
    fn from(e: driver_call_workflows::domain::DomainError) -> Self {
        ApiError::Invalid(e.to_string())
    }
}

/// Store failures are ours: 500, logged.
impl From<driver_call_stores::StoreError> for ApiError {
    fn from(e: driver_call_stores::StoreError) -> Self {
        ApiError::Unexpected(anyhow::Error::new(e).context("Store query failed"))
    }
}
