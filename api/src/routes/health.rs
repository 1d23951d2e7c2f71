//! `/healthz` (the process is alive), `/readyz` (Temporal answers, and every store it reads
//! answers with its schema migrated by its owner) and `/metrics`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum_prometheus::metrics_exporter_prometheus::PrometheusHandle;
use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(ready))
}

/// `/metrics`, served outside the request layers so that it does not measure itself.
pub(crate) fn metrics_router() -> OpenApiRouter<PrometheusHandle> {
    OpenApiRouter::new().routes(routes!(metrics))
}

/// The body of `/healthz`.
#[derive(Serialize, ToSchema)]
struct Alive {
    /// Always `ok`.
    #[schema(example = "ok")]
    status: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    responses((status = 200, description = "Alive.", body = Alive)),
)]
async fn healthz() -> Json<Alive> {
    Json(Alive { status: "ok" })
}

/// The body of `/readyz` (`driver_call_runtime::readiness`): `status`, and each check by name
/// (`temporal`, `paymentStore`, `catcherStore`, `dashboardStore`, `identityStore`, `quoteStore`) with whether it passed.
struct Readiness;

impl PartialSchema for Readiness {
    fn schema() -> RefOr<Schema> {
        let status = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["ready", "not ready"]));
        ObjectBuilder::new()
            .description(Some(
                "`status`, and each check by name (`temporal`, `paymentStore`, `catcherStore`, \
                 `dashboardStore`, `identityStore`, `quoteStore`) with whether it passed.",
            ))
            .property("status", status)
            .required("status")
            .additional_properties(Some(ObjectBuilder::new().schema_type(Type::Boolean)))
            .into()
    }
}

impl ToSchema for Readiness {}

/// Readiness: Temporal answers and every store the API reads is migrated by its owner.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses(
        (status = 200, description = "Ready.", body = Readiness),
        (status = 503, description = "Not ready: a check failed.", body = Readiness),
    ),
)]
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

/// The request metrics in the Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    responses((
        status = 200, description = "Prometheus text exposition.",
        content_type = "text/plain", body = String,
    )),
)]
async fn metrics(State(handle): State<PrometheusHandle>) -> String {
    handle.render()
}
