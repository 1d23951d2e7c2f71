//! `/payments`: the payments ledger, read from the payment context's database.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use driver_call_stores::payment::PaymentRecord;
use serde::Deserialize;

use crate::extract::{AppPath, AppQuery};
use crate::{ApiError, AppState};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/payments", get(payment_of_call))
        .route("/payments/{payment_id}", get(payment))
}

async fn payment(
    State(state): State<AppState>,
    AppPath(payment_id): AppPath<String>,
) -> Result<Json<PaymentRecord>, ApiError> {
    let found = state.payments.find(&payment_id).await?;
    found
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("payment {payment_id} not found")))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ByCall {
    call_id: String,
}

async fn payment_of_call(
    State(state): State<AppState>,
    AppQuery(query): AppQuery<ByCall>,
) -> Result<Json<PaymentRecord>, ApiError> {
    let found = state.payments.find_by_call(query.call_id.trim()).await?;
    found
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no payment for call {}", query.call_id)))
}
