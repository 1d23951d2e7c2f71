//! `/calls`: the customer's side of a call.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use driver_call_workflows::domain::{
    CallStatus, CallTransition, CallView, Krw, Location, MobileNumber, NewCall, PayType,
};
use driver_call_workflows::driver_call::{CancelRequest, PayOutcome};
use serde::Deserialize;

use crate::extract::{AppJson, AppPath};
use crate::{ApiError, AppState, workflow};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/calls", post(create_call))
        .route("/calls/{call_id}", get(get_call).delete(cancel_call))
        .route("/calls/{call_id}/pay", post(pay_call))
        .route("/calls/{call_id}/cancel", post(cancel_call))
}

/// Body of `POST /calls`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateCallRequest {
    mobile: String,
    location: String,
    destination: Option<String>,
    pay_type: String,
    pay_amount: i64,
}

impl CreateCallRequest {
    fn into_new_call(self) -> Result<NewCall, ApiError> {
        let pay_type: PayType = self
            .pay_type
            .parse()
            .map_err(|e: String| ApiError::Invalid(format!("{e}; expected CARD or CASH")))?;
        Ok(NewCall {
            call_id: driver_call_workflows::domain::CallId::from_uuid(uuid::Uuid::new_v4()),
            mobile: MobileNumber::parse(&self.mobile)?,
            location: Location::parse(&self.location)?,
            destination: NewCall::parse_destination(self.destination.as_deref())?,
            pay_type,
            pay_amount: Krw::new(self.pay_amount)?,
        })
    }
}

#[tracing::instrument(skip_all)]
async fn create_call(
    State(state): State<AppState>,
    AppJson(request): AppJson<CreateCallRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let call = request.into_new_call()?;
    let call_id = call.call_id;
    workflow::start(&state.temporal, call.clone(), *state.policy).await?;
    // The first workflow task writes the timeline; if the caller worker is slow, answer with what
    // was accepted rather than wait.
    let view = match workflow::view(&state.temporal, &call_id).await {
        Ok(view) => view,
        Err(_) => accepted_view(call),
    };
    let location = format!("/calls/{call_id}");
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view),
    ))
}

fn accepted_view(call: NewCall) -> CallView {
    CallView {
        call_id: call.call_id,
        status: CallStatus::Created,
        mobile: call.mobile,
        location: call.location,
        destination: call.destination,
        pay_type: call.pay_type,
        pay_amount: call.pay_amount,
        payment_id: None,
        driver: None,
        timeline: Vec::new(),
    }
}

async fn get_call(
    State(state): State<AppState>,
    AppPath(call_id): AppPath<String>,
) -> Result<Json<CallView>, ApiError> {
    let call_id = super::call_id(&call_id)?;
    Ok(Json(workflow::view(&state.temporal, &call_id).await?))
}

#[tracing::instrument(skip(state))]
async fn pay_call(
    State(state): State<AppState>,
    AppPath(call_id): AppPath<String>,
) -> Result<Json<CallView>, ApiError> {
    let call_id = super::call_id(&call_id)?;
    let view = workflow::view(&state.temporal, &call_id).await?;
    if view.status != CallStatus::Created {
        return Err(ApiError::Conflict(format!(
            "call {call_id} is {}, not CREATED",
            view.status
        )));
    }
    let paid = workflow::pay(&state.temporal, &call_id).await?;
    match paid.outcome {
        PayOutcome::Approved => Ok(Json(paid.call)),
        PayOutcome::Rejected { reason } => Err(ApiError::PaymentRejected(reason)),
        PayOutcome::Unavailable { reason } => Err(ApiError::Unavailable(format!(
            "payment is unavailable, try again shortly ({reason})"
        ))),
    }
}

/// `POST /calls/{id}/cancel` and `DELETE /calls/{id}`; the body `{reason?}` is optional.
#[tracing::instrument(skip(state, body))]
async fn cancel_call(
    State(state): State<AppState>,
    AppPath(call_id): AppPath<String>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let call_id = super::call_id(&call_id)?;
    let request: CancelRequest = if body.iter().all(u8::is_ascii_whitespace) {
        CancelRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::Invalid(format!("invalid body: {e}")))?
    };
    let view = workflow::view(&state.temporal, &call_id).await?;
    if !view.status.allows(CallTransition::Cancel) {
        return Err(ApiError::Conflict(format!(
            "a {} call cannot be cancelled",
            view.status
        )));
    }
    workflow::cancel(&state.temporal, &call_id, request).await?;
    let view = workflow::view(&state.temporal, &call_id).await?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}
