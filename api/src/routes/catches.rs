//! `/catches`: the drivers' side of a call.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use driver_call_stores::catcher::OpenOffer;
use driver_call_workflows::domain::{CallTransition, CallView, Driver, DriverId};
use driver_call_workflows::driver_call::{CatchRequest, DenyRequest, TripStepRequest};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::CallIdParam;
use crate::extract::{AppJson, AppPath, AppQuery};
use crate::openapi::problems::{
    BadRequest, Conflict, Invalid, NotFound, Unavailable, Unexpected, UnsupportedMediaType,
};
use crate::workflow::{self, TripStep};
use crate::{ApiError, AppState};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(open_offers))
        .routes(routes!(catch_call))
        .routes(routes!(deny_call))
        .routes(routes!(arrive))
        .routes(routes!(start_trip))
        .routes(routes!(complete))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct AreaQuery {
    /// The service area: the first word of a call's location, matched case-insensitively.
    #[param(example = "kangnam")]
    area: String,
}

/// The open offers of a service area, for its drivers.
#[utoipa::path(
    get,
    path = "/catches",
    tag = "catches",
    params(AreaQuery),
    responses(
        (status = 200, description = "The area's open offers.", body = Vec<OpenOffer>),
        Invalid, Unexpected,
    ),
)]
async fn open_offers(
    State(state): State<AppState>,
    AppQuery(query): AppQuery<AreaQuery>,
) -> Result<Json<Vec<OpenOffer>>, ApiError> {
    Ok(Json(state.catches.open_offers(&query.area).await?))
}

/// Body of `POST /catches/{call_id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct CatchBody {
    /// The catching driver's id, 1 to 64 characters.
    #[schema(value_type = DriverId)]
    driver_id: String,
    /// The name the customer sees, 1 to 200 characters.
    #[schema(example = "Kim")]
    driver_name: String,
}

/// Catch a dispatched call.
///
/// The first driver to ask wins it.
#[utoipa::path(
    post,
    path = "/catches/{call_id}",
    tag = "catches",
    params(CallIdParam),
    request_body = CatchBody,
    responses(
        (status = 200, description = "The call, caught by this driver.", body = CallView),
        BadRequest, NotFound, Conflict, UnsupportedMediaType, Invalid, Unavailable, Unexpected,
    ),
)]
#[tracing::instrument(skip(state, body))]
async fn catch_call(
    State(state): State<AppState>,
    AppPath(call_id): AppPath<String>,
    AppJson(body): AppJson<CatchBody>,
) -> Result<Json<CallView>, ApiError> {
    let call_id = super::call_id(&call_id)?;
    let driver = Driver::parse(&body.driver_id, &body.driver_name)?;
    // The `catch` validator guards the state (409); an unknown call answers 404 from the update.
    let request = CatchRequest {
        driver_id: driver.driver_id.to_string(),
        driver_name: driver.driver_name,
    };
    Ok(Json(
        workflow::catch(&state.temporal, &call_id, request).await?,
    ))
}

/// Body of `POST /catches/{call_id}/deny`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct DenyBody {
    /// Why the call is denied (not blank).
    #[schema(example = "no drivers")]
    reason: String,
}

/// Deny a call.
///
/// Only before a driver caught it; its payment is refunded and its offer closed.
#[utoipa::path(
    post,
    path = "/catches/{call_id}/deny",
    tag = "catches",
    params(CallIdParam),
    request_body = DenyBody,
    responses(
        (status = 202, description = "The call, being denied.", body = CallView),
        BadRequest, NotFound, Conflict, UnsupportedMediaType, Invalid, Unavailable, Unexpected,
    ),
)]
#[tracing::instrument(skip(state, body))]
async fn deny_call(
    State(state): State<AppState>,
    AppPath(call_id): AppPath<String>,
    AppJson(body): AppJson<DenyBody>,
) -> Result<impl IntoResponse, ApiError> {
    let call_id = super::call_id(&call_id)?;
    if body.reason.trim().is_empty() {
        return Err(ApiError::Invalid("reason must not be empty".to_owned()));
    }
    let view = workflow::view(&state.temporal, &call_id).await?;
    if !view.status.allows(CallTransition::Deny) {
        return Err(ApiError::Conflict(format!(
            "a {} call cannot be denied",
            view.status
        )));
    }
    workflow::deny(
        &state.temporal,
        &call_id,
        DenyRequest {
            reason: body.reason,
        },
    )
    .await?;
    let view = workflow::view(&state.temporal, &call_id).await?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}

/// Body of the trip steps: the driver who caught the call.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct TripStepBody {
    /// The id of the driver who caught the call.
    #[schema(value_type = DriverId)]
    driver_id: String,
}

/// A trip step's route: the caught call's driver reporting the step (the step's validator
/// guards the call's state and the driver: 409).
#[rustfmt::skip] // rustfmt would indent the attribute's arguments twice.
macro_rules! trip_step_route {
    ($handler:ident, $path:literal, $step:ident, $summary:literal) => {
        #[doc = $summary]
        #[utoipa::path(
            post,
            path = $path,
            tag = "catches",
            params(CallIdParam),
            request_body = TripStepBody,
            responses(
                (status = 200, description = "The call, one step on.", body = CallView),
                BadRequest, NotFound, Conflict, UnsupportedMediaType, Invalid, Unavailable,
                Unexpected,
            ),
        )]
        async fn $handler(
            state: State<AppState>,
            call_id: AppPath<String>,
            body: AppJson<TripStepBody>,
        ) -> Result<Json<CallView>, ApiError> {
            trip_step(state, call_id, body, TripStep::$step).await
        }
    };
}

trip_step_route!(
    arrive,
    "/catches/{call_id}/arrive",
    Arrive,
    "The driver is at the pickup location."
);
trip_step_route!(
    start_trip,
    "/catches/{call_id}/start",
    StartTrip,
    "The trip starts."
);
trip_step_route!(
    complete,
    "/catches/{call_id}/complete",
    Complete,
    "The trip is over."
);

#[tracing::instrument(skip(state, body))]
async fn trip_step(
    State(state): State<AppState>,
    AppPath(call_id): AppPath<String>,
    AppJson(body): AppJson<TripStepBody>,
    step: TripStep,
) -> Result<Json<CallView>, ApiError> {
    let call_id = super::call_id(&call_id)?;
    let driver_id = DriverId::parse(&body.driver_id)?;
    // The step's validator guards the state and the driver (409); an unknown call answers 404.
    let request = TripStepRequest { driver_id };
    Ok(Json(
        workflow::trip_step(&state.temporal, &call_id, step, request).await?,
    ))
}
