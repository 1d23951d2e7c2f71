//! The API's routes, one module per resource of spec section 4.

pub(crate) mod auth;
pub(crate) mod calls;
pub(crate) mod catches;
pub(crate) mod codec;
pub(crate) mod dashboards;
pub(crate) mod drivers;
pub(crate) mod health;
pub(crate) mod operations;
pub(crate) mod payments;
pub(crate) mod quotes;

use driver_call_workflows::domain::CallId;
use utoipa::ToSchema;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::{Ref, Required};
use utoipa_axum::router::OpenApiRouter;

use crate::{ApiError, AppState};

/// Every route the API serves under its request layers, each with its description.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(calls::router())
        .merge(quotes::router())
        .merge(catches::router())
        .merge(dashboards::router())
        .merge(auth::router())
        .merge(drivers::router())
        .merge(payments::router())
        .merge(operations::router())
        .merge(codec::router())
        .merge(health::router())
}

/// The `{call_id}` of a call's routes (a path that names no call, a UUID or not, answers 404).
pub(crate) struct CallIdParam;

impl utoipa::IntoParams for CallIdParam {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let parameter = ParameterBuilder::new()
            .name("call_id")
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .description(Some("The call's id."))
            .schema(Some(Ref::from_schema_name(CallId::name())))
            .build();
        vec![parameter]
    }
}

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
