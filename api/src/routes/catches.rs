//! `/catches`: the drivers' side of a call.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use driver_call_stores::catcher::OpenOffer;
use driver_call_workflows::domain::{CallTransition, CallView, Driver, DriverId};
use driver_call_workflows::driver_call::{CatchRequest, DenyRequest, TripStepRequest};
use serde::Deserialize;

use crate::extract::{AppJson, AppPath, AppQuery};
use crate::workflow::{self, TripStep};
use crate::{ApiError, AppState};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/catches", get(open_offers))
        .route("/catches/{call_id}", post(catch_call))
        .route("/catches/{call_id}/deny", post(deny_call))
        .route("/catches/{call_id}/arrive", post(arrive))
        .route("/catches/{call_id}/start", post(start_trip))
        .route("/catches/{call_id}/complete", post(complete))
}

#[derive(Debug, Deserialize)]
struct AreaQuery {
    area: String,
}

async fn open_offers(
    State(state): State<AppState>,
    AppQuery(query): AppQuery<AreaQuery>,
) -> Result<Json<Vec<OpenOffer>>, ApiError> {
    Ok(Json(state.catches.open_offers(&query.area).await?))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CatchBody {
    driver_id: String,
    driver_name: String,
}

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

#[derive(Debug, Deserialize)]
struct DenyBody {
    reason: String,
}

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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TripStepBody {
    driver_id: String,
}

async fn arrive(
    state: State<AppState>,
    call_id: AppPath<String>,
    body: AppJson<TripStepBody>,
) -> Result<Json<CallView>, ApiError> {
    trip_step(state, call_id, body, TripStep::Arrive).await
}

async fn start_trip(
    state: State<AppState>,
    call_id: AppPath<String>,
    body: AppJson<TripStepBody>,
) -> Result<Json<CallView>, ApiError> {
    trip_step(state, call_id, body, TripStep::StartTrip).await
}

async fn complete(
    state: State<AppState>,
    call_id: AppPath<String>,
    body: AppJson<TripStepBody>,
) -> Result<Json<CallView>, ApiError> {
    trip_step(state, call_id, body, TripStep::Complete).await
}

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
