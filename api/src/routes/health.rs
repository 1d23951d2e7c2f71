//! `/healthz` (the process is alive) and `/readyz` (Temporal answers, and every store it reads
//! answers with its schema migrated by its owner).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(ready))
}

async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let mut checks = vec![(
        "temporal",
        driver_call_runtime::temporal_answers(&state.temporal.client).await,
    )];
    for store in state.stores() {
        checks.push((store.name(), store.ready().await));
    }
    let (ready, body) = driver_call_runtime::readiness(checks);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
