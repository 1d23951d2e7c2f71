//! `/drivers`: the accounts operators register and disable (spec section 7).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access::Operator;
use crate::extract::{AppJson, AppPath};
use crate::identity::{DriverRecord, NewDriver};
use crate::openapi::problems::{
    BadRequest, Conflict, Forbidden, Invalid, NotFound, Unauthorized, Unexpected,
    UnsupportedMediaType,
};
use crate::{ApiError, AppState};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register_driver, list_drivers))
        .routes(routes!(disable_driver))
}

/// Register a driver.
///
/// The driver signs in with the username and password; their `driverId` is the username.
#[utoipa::path(
    post,
    path = "/drivers",
    tag = "drivers",
    request_body = NewDriver,
    responses(
        (status = 201, description = "The driver.", body = DriverRecord),
        BadRequest, UnsupportedMediaType, Invalid, Unauthorized, Forbidden, Conflict, Unexpected,
    ),
)]
#[tracing::instrument(skip_all)]
async fn register_driver(
    State(state): State<AppState>,
    _operator: Operator,
    AppJson(new): AppJson<NewDriver>,
) -> Result<impl IntoResponse, ApiError> {
    let driver = state.identity.register_driver(new).await?;
    Ok((StatusCode::CREATED, Json(driver)))
}

/// Every driver, by username.
#[utoipa::path(
    get,
    path = "/drivers",
    tag = "drivers",
    responses(
        (status = 200, description = "The drivers.", body = Vec<DriverRecord>),
        Unauthorized, Forbidden, Unexpected,
    ),
)]
async fn list_drivers(
    State(state): State<AppState>,
    _operator: Operator,
) -> Result<Json<Vec<DriverRecord>>, ApiError> {
    Ok(Json(state.identity.list_drivers().await?))
}

/// Disable a driver.
///
/// Their tokens stop working at once and they cannot sign in again.
#[utoipa::path(
    post,
    path = "/drivers/{username}/disable",
    tag = "drivers",
    params(("username" = String, Path, description = "The driver's username.")),
    responses(
        (status = 200, description = "The driver, disabled.", body = DriverRecord),
        Unauthorized, Forbidden, NotFound, Unexpected,
    ),
)]
#[tracing::instrument(skip(state, _operator))]
async fn disable_driver(
    State(state): State<AppState>,
    _operator: Operator,
    AppPath(username): AppPath<String>,
) -> Result<Json<DriverRecord>, ApiError> {
    Ok(Json(state.identity.disable_driver(&username).await?))
}
