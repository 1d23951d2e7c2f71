//! `/drivers`: the accounts operators register and disable (spec section 7).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use driver_call_stores::catcher::CompletedTrip;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access::{Operator, SignedInDriver};
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
        .routes(routes!(me))
        .routes(routes!(availability))
        .routes(routes!(earnings))
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
///
/// `online` is whether the driver is online now: it turns false once they have not been heard
/// from within `PRESENCE_TIMEOUT`.
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
    let now = std::time::SystemTime::now();
    let timeout = state.presence.timeout();
    let drivers = state.identity.list_drivers().await?;
    Ok(Json(
        drivers
            .into_iter()
            .map(|d| d.present(now, timeout))
            .collect(),
    ))
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

/// The signed-in driver's account.
///
/// `online` is false once the driver has not been heard from within `PRESENCE_TIMEOUT` (their
/// offers stream closed and no request): they stay offline until they go online again.
#[utoipa::path(
    get,
    path = "/drivers/me",
    tag = "drivers",
    responses(
        (status = 200, description = "The driver.", body = DriverRecord),
        Unauthorized, Forbidden,
    ),
)]
async fn me(SignedInDriver(driver): SignedInDriver) -> Json<DriverRecord> {
    Json(driver)
}

/// Whether a driver is available for offers.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Availability {
    /// Online: available for offers (the driver app's go-online); offline: not.
    online: bool,
}

/// Go online or offline.
///
/// A driver who is online, heard from within `PRESENCE_TIMEOUT` and not on a call is available
/// for the offers that reach their areas.
#[utoipa::path(
    put,
    path = "/drivers/me/availability",
    tag = "drivers",
    request_body = Availability,
    responses(
        (status = 200, description = "The driver's availability now.", body = Availability),
        BadRequest, UnsupportedMediaType, Invalid, Unauthorized, Forbidden, Unexpected,
    ),
)]
#[tracing::instrument(skip_all, fields(online = wanted.online))]
async fn availability(
    State(state): State<AppState>,
    SignedInDriver(driver): SignedInDriver,
    AppJson(wanted): AppJson<Availability>,
) -> Result<Json<Availability>, ApiError> {
    let driver = state
        .identity
        .set_online(&driver.username, wanted.online)
        .await?;
    // This process's open streams see it at once; others at their feed's next tick.
    state.offers.nudge();
    Ok(Json(Availability {
        online: driver.online,
    }))
}

/// A driver's day: the trips completed since midnight in Seoul and what they earned.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct Earnings {
    /// The day, `YYYY-MM-DD` in `Asia/Seoul`.
    day: String,
    /// The trips completed that day, newest first.
    trips: Vec<CompletedTrip>,
    /// Their fares together, in KRW.
    total: i64,
}

/// Today's completed trips and earnings.
#[utoipa::path(
    get,
    path = "/drivers/me/earnings",
    tag = "drivers",
    responses(
        (status = 200, description = "Today's trips and earnings.", body = Earnings),
        Unauthorized, Forbidden, Unexpected,
    ),
)]
async fn earnings(
    State(state): State<AppState>,
    SignedInDriver(driver): SignedInDriver,
) -> Result<Json<Earnings>, ApiError> {
    let (day, midnight) = seoul_today()?;
    let trips = state
        .catches
        .completed_since(&driver.username, midnight)
        .await?;
    let total = trips.iter().map(|t| t.pay_amount).sum();
    Ok(Json(Earnings { day, trips, total }))
}

/// Today in Seoul, where the drivers work: its date and when it began.
fn seoul_today() -> Result<(String, std::time::SystemTime), ApiError> {
    let today = jiff::Zoned::now()
        .in_tz("Asia/Seoul")
        .and_then(|now| now.start_of_day())
        .map_err(|e| ApiError::Unexpected(anyhow::Error::new(e).context("Seoul's day")))?;
    let midnight = std::time::SystemTime::from(today.timestamp());
    Ok((today.date().to_string(), midnight))
}
