//! `/payments`: the payments ledger, read from the payment context's database.

use axum::Json;
use axum::extract::State;
use driver_call_stores::payment::PaymentRecord;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use driver_call_workflows::domain::CallId;

use crate::access::{self, CallRule};
use crate::extract::{AppPath, AppQuery};
use crate::identity::Principal;
use crate::openapi::problems::{Forbidden, Invalid, NotFound, Unauthorized, Unexpected};
use crate::{ApiError, AppState};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(payment_of_call))
        .routes(routes!(payment))
}

/// A payment by its id.
#[utoipa::path(
    get,
    path = "/payments/{payment_id}",
    tag = "payments",
    params(("payment_id" = String, Path, description = "The payment's id.")),
    responses(
        (status = 200, description = "The payment.", body = PaymentRecord),
        Unauthorized, Forbidden, NotFound, Unexpected,
    ),
)]
async fn payment(
    State(state): State<AppState>,
    caller: Principal,
    AppPath(payment_id): AppPath<String>,
) -> Result<Json<PaymentRecord>, ApiError> {
    let not_found = || ApiError::NotFound(format!("payment {payment_id} not found"));
    let found = state.payments.find(&payment_id).await?;
    let record = found.ok_or_else(not_found)?;
    let call_id = CallId::parse(&record.call_id).map_err(|_| not_found())?;
    // Whose the payment is, is whose its call is; a payment not the caller's is as unknown.
    access::authorize(&state, &caller, &call_id, CallRule::History)
        .await
        .map_err(|e| match e {
            ApiError::NotFound(_) => not_found(),
            other => other,
        })?;
    Ok(Json(record))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct ByCall {
    /// The call the payment pays for.
    call_id: String,
}

/// The payment of a call.
#[utoipa::path(
    get,
    path = "/payments",
    tag = "payments",
    params(ByCall),
    responses(
        (status = 200, description = "The call's payment.", body = PaymentRecord),
        Unauthorized, Forbidden, NotFound, Invalid, Unexpected,
    ),
)]
async fn payment_of_call(
    State(state): State<AppState>,
    caller: Principal,
    AppQuery(query): AppQuery<ByCall>,
) -> Result<Json<PaymentRecord>, ApiError> {
    let call_id = super::call_id(query.call_id.trim())?;
    access::authorize(&state, &caller, &call_id, CallRule::History).await?;
    let found = state.payments.find_by_call(&call_id.to_string()).await?;
    found
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no payment for call {}", query.call_id)))
}
