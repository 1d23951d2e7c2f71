//! `/healthz` (the process is alive) and `/readyz` (Temporal and the stores answer).

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
    let temporal = driver_call_worker::health::temporal_answers(&state.temporal).await;
    let payments = state.payments.ping().await.is_ok();
    let catches = state.catches.ping().await.is_ok();
    let dashboards = state.dashboards.ping().await.is_ok();
    let ready = temporal && payments && catches && dashboards;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "temporal": temporal,
        "paymentStore": payments,
        "catcherStore": catches,
        "dashboardStore": dashboards,
    });
    (status, Json(body))
}
