//! The worker's probes on `WORKER_HTTP_ADDR`: `/healthz` (the process serves; liveness),
//! `/readyz` (Temporal and every store of its contexts answer; readiness) and `/status` (what it
//! serves and the payment circuit breaker's state, for operators).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use driver_call_activities::ContextWorker;
use driver_call_activities::payment::GuardedGateway;
use driver_call_runtime::temporal_answers;
use driver_call_stores::Store;
use serde_json::{Value, json};
use temporalio_client::Client;

use crate::Context;

/// What the probes look at.
#[derive(Clone)]
pub struct Probe {
    client: Client,
    contexts: Vec<Context>,
    stores: Vec<Store>,
    gateway: Option<Arc<GuardedGateway>>,
}

impl Probe {
    /// Probes of a process serving `contexts` through `client`.
    pub fn new(client: Client, contexts: &[Context]) -> Self {
        Self {
            client,
            contexts: contexts.to_vec(),
            stores: Vec::new(),
            gateway: None,
        }
    }

    /// Adds what a wired context brings: its store to the readiness check, its gateway's
    /// breaker to `/status`.
    pub fn add(&mut self, context: &ContextWorker) {
        self.stores.extend(context.store.clone());
        if let Some(gateway) = &context.gateway {
            self.gateway = Some(gateway.clone());
        }
    }

    /// The probes' routes.
    pub fn router(self) -> Router {
        Router::new()
            .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
            .route("/readyz", get(ready))
            .route("/status", get(status))
            .with_state(self)
    }
}

async fn ready(State(probe): State<Probe>) -> (StatusCode, Json<Value>) {
    let mut checks = vec![("temporal", temporal_answers(&probe.client).await)];
    for store in &probe.stores {
        checks.push((store.name(), store.ready().await));
    }
    let (ready, body) = driver_call_runtime::readiness(checks);
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body))
}

async fn status(State(probe): State<Probe>) -> Json<Value> {
    let contexts: Vec<String> = probe.contexts.iter().map(ToString::to_string).collect();
    let gateway = probe.gateway.as_ref().map(|g| {
        json!({
            "gateway": g.gateway_name(),
            "circuit": g.state(),
        })
    });
    Json(json!({
        "contexts": contexts,
        "payment": gateway,
    }))
}
