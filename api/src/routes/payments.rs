//! `/payments`: the payments ledger, read from the payment context's database.

use axum::Json;
use axum::extract::State;
use driver_call_stores::payment::PaymentRecord;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{AppPath, AppQuery};
use crate::openapi::problems::{Invalid, NotFound, Unexpected};
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
        NotFound, Unexpected,
    ),
)]
async fn payment(
    State(state): State<AppState>,
    AppPath(payment_id): AppPath<String>,
) -> Result<Json<PaymentRecord>, ApiError> {
    let found = state.payments.find(&payment_id).await?;
    found
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("payment {payment_id} not found")))
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
        NotFound, Invalid, Unexpected,
    ),
)]
async fn payment_of_call(
    State(state): State<AppState>,
    AppQuery(query): AppQuery<ByCall>,
) -> Result<Json<PaymentRecord>, ApiError> {
    let found = state.payments.find_by_call(query.call_id.trim()).await?;
    found
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no payment for call {}", query.call_id)))
}
