//! The worker's probes on `WORKER_HTTP_ADDR`: `/healthz` (the process serves; liveness),
//! `/readyz` (Temporal and every store of its contexts answer; readiness) and `/status` (what it
//! serves and the payment circuit breaker's state, for operators).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use driver_call_activities::{catcher, dashboard, payment};
use serde_json::{Value, json};
use temporalio_client::{Client, WorkflowCountOptions};

use crate::Context;

/// A store whose database the readiness probe pings.
#[derive(Clone)]
pub enum Store {
    /// The payments ledger.
    Payment(payment::PaymentStore),
    /// Offers and catches.
    Catcher(catcher::CatcherStore),
    /// The myPage read model.
    Dashboard(dashboard::DashboardStore),
}

impl Store {
    fn name(&self) -> &'static str {
        match self {
            Store::Payment(_) => "paymentStore",
            Store::Catcher(_) => "catcherStore",
            Store::Dashboard(_) => "dashboardStore",
        }
    }

    async fn answers(&self) -> bool {
        match self {
            Store::Payment(store) => store.ping().await.is_ok(),
            Store::Catcher(store) => store.ping().await.is_ok(),
            Store::Dashboard(store) => store.ping().await.is_ok(),
        }
    }
}

/// What the probes look at.
#[derive(Clone)]
pub struct Probe {
    client: Client,
    contexts: Vec<Context>,
    stores: Vec<Store>,
    gateway: Option<Arc<payment::GuardedGateway>>,
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

    /// Adds a store to the readiness check.
    pub fn store(&mut self, store: Store) {
        self.stores.push(store);
    }

    /// Shows this gateway's breaker on `/status`.
    pub fn gateway(&mut self, gateway: Arc<payment::GuardedGateway>) {
        self.gateway = Some(gateway);
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

/// Whether the Temporal frontend answers a cheap visibility call (the API's readiness uses it too).
pub async fn temporal_answers(client: &Client) -> bool {
    client
        .count_workflows(
            "WorkflowType = 'DriverCallWorkflow'",
            WorkflowCountOptions::default(),
        )
        .await
        .is_ok()
}

async fn ready(State(probe): State<Probe>) -> (StatusCode, Json<Value>) {
    let mut checks = serde_json::Map::new();
    checks.insert(
        "temporal".into(),
        temporal_answers(&probe.client).await.into(),
    );
    for store in &probe.stores {
        checks.insert(store.name().into(), store.answers().await.into());
    }
    let ready = checks.values().all(|ok| ok == &Value::Bool(true));
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    checks.insert(
        "status".into(),
        if ready { "ready" } else { "not ready" }.into(),
    );
    (code, Json(Value::Object(checks)))
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
