//! A payment service sandbox, the way card networks offer one: it speaks the HTTP gateway's
//! protocol (`POST /charges`, `POST /refunds` of all or an `amount`, both idempotent by key: a
//! charge is refunded once, and a repeat gives nothing more back) and can be told at run
//! time to misbehave, so failure drills and operators can make the gateway slow, failing or
//! unable to answer. It keeps its charges in memory: it stands in for someone else's system.
//!
//! `PUT /sandbox/mode {"mode": "normal" | "slow" | "failing" | "lose-answer", "delayMs": 3000}`
//! - `slow`: every request waits `delayMs`, then is served (a charge is still taken late);
//! - `failing`: every request answers 503 and nothing is charged;
//! - `lose-answer`: a charge is taken and then never answered (the client times out).
//!
//! `GET /charges?callId=` lists what it holds. A charge above 1,000,000 KRW is declined (402).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

mod wire;

pub use wire::{ChargeRequest, ChargeStatus, GatewayCharge, Problem, RefundRequest};

/// Charges above this are declined, so the decline path can be seen too.
pub const CARD_LIMIT: i64 = 1_000_000;

/// How the sandbox behaves right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Answers at once.
    #[default]
    Normal,
    /// Waits `delayMs` before serving each request.
    Slow,
    /// Answers 503 without charging.
    Failing,
    /// Takes the charge, then never answers.
    LoseAnswer,
}

/// The mode and its delay, as `PUT /sandbox/mode` takes it.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModeSettings {
    /// The mode.
    pub mode: Mode,
    /// The delay of `slow`, in milliseconds.
    #[serde(default)]
    pub delay_ms: u64,
}

#[derive(Default)]
struct Ledger {
    settings: ModeSettings,
    charges: HashMap<String, GatewayCharge>,
    in_flight: usize,
}

/// `GET /sandbox/mode`: the mode, and how many requests are being served right now (so a drill
/// can act while a payment is in flight).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxStatus {
    /// The mode and its delay.
    #[serde(flatten)]
    pub settings: ModeSettings,
    /// Requests being served.
    pub in_flight: usize,
}

/// Counts a request as in flight until it is dropped (answered or abandoned).
struct InFlight(Sandbox);

impl InFlight {
    fn new(sandbox: &Sandbox) -> Self {
        sandbox.ledger.lock().expect("sandbox lock").in_flight += 1;
        Self(sandbox.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.ledger.lock().expect("sandbox lock").in_flight -= 1;
    }
}

/// The sandbox's state.
#[derive(Clone, Default)]
pub struct Sandbox {
    ledger: Arc<Mutex<Ledger>>,
}

/// The sandbox's routes.
pub fn app() -> Router {
    Router::new()
        .route("/charges", post(charge).get(list))
        .route("/refunds", post(refund))
        .route("/sandbox/mode", get(mode).put(set_mode))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(Sandbox::default())
}

impl Sandbox {
    fn settings(&self) -> ModeSettings {
        self.ledger.lock().expect("sandbox lock").settings
    }

    /// Applies the mode's misbehaviour before a request is served; `Err` answers instead.
    async fn misbehave(&self) -> Result<Mode, Response> {
        let settings = self.settings();
        match settings.mode {
            Mode::Failing => Err(Problem::unavailable("sandbox mode: failing").into_response()),
            Mode::Slow => {
                tokio::time::sleep(Duration::from_millis(settings.delay_ms)).await;
                Ok(Mode::Slow)
            }
            mode => Ok(mode),
        }
    }

    /// Takes the charge, or finds the one already taken under its key.
    fn take(&self, request: &ChargeRequest) -> (StatusCode, GatewayCharge) {
        let mut ledger = self.ledger.lock().expect("sandbox lock");
        if let Some(existing) = ledger.charges.get(&request.idempotency_key) {
            return (StatusCode::OK, existing.clone());
        }
        let charge = GatewayCharge {
            charge_id: format!("chg-{}", uuid::Uuid::new_v4()),
            status: ChargeStatus::Charged,
            refunded_amount: None,
            request: request.clone(),
        };
        ledger
            .charges
            .insert(request.idempotency_key.clone(), charge.clone());
        (StatusCode::CREATED, charge)
    }

    /// Refunds the charge under the request's key, all of it or `amount`, once: a charge already
    /// refunded is answered as it stands and nothing more is given back.
    fn give_back(&self, request: &RefundRequest) -> Result<GatewayCharge, Problem> {
        let mut ledger = self.ledger.lock().expect("sandbox lock");
        let Some(charge) = ledger.charges.get_mut(&request.idempotency_key) else {
            let detail = format!("no charge under {}", request.idempotency_key);
            return Err(Problem::not_found(detail));
        };
        if charge.status != ChargeStatus::Charged {
            tracing::info!(charge_id = %charge.charge_id, "refund repeated; nothing more given back");
            return Ok(charge.clone());
        }
        let whole = charge.request.amount;
        let amount = request.amount.unwrap_or(whole);
        if !(0..=whole).contains(&amount) {
            let detail = format!("cannot refund {amount} KRW of a {whole} KRW charge");
            return Err(Problem::invalid(detail));
        }
        charge.status = if amount == whole {
            ChargeStatus::Refunded
        } else {
            ChargeStatus::PartiallyRefunded
        };
        charge.refunded_amount = Some(amount);
        tracing::info!(charge_id = %charge.charge_id, amount, "refund");
        Ok(charge.clone())
    }
}

/// Serves a charge. The work runs detached, as a real gateway's does: a client that times out
/// does not stop a slow charge from being taken (which is what makes its outcome unknown).
async fn charge(
    State(sandbox): State<Sandbox>,
    Json(request): Json<ChargeRequest>,
) -> Result<(StatusCode, Json<GatewayCharge>), Response> {
    let work = tokio::spawn(async move {
        let _in_flight = InFlight::new(&sandbox);
        let mode = sandbox.misbehave().await?;
        if request.amount > CARD_LIMIT {
            let detail = format!("{} KRW is over the card limit", request.amount);
            return Err(Problem::declined(detail).into_response());
        }
        let (status, charge) = sandbox.take(&request);
        tracing::info!(charge_id = %charge.charge_id, key = %request.idempotency_key, ?mode, "charge");
        Ok((mode, status, charge))
    });
    let (mode, status, charge) = work
        .await
        .map_err(|e| Problem::internal(e.to_string()).into_response())??;
    if mode == Mode::LoseAnswer {
        std::future::pending::<()>().await;
    }
    Ok((status, Json(charge)))
}

async fn refund(
    State(sandbox): State<Sandbox>,
    Json(request): Json<RefundRequest>,
) -> Result<Json<GatewayCharge>, Response> {
    let _in_flight = InFlight::new(&sandbox);
    sandbox.misbehave().await?;
    let charge = sandbox
        .give_back(&request)
        .map_err(IntoResponse::into_response)?;
    Ok(Json(charge))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChargeFilter {
    call_id: Option<String>,
}

async fn list(
    State(sandbox): State<Sandbox>,
    Query(filter): Query<ChargeFilter>,
) -> Json<Vec<GatewayCharge>> {
    let ledger = sandbox.ledger.lock().expect("sandbox lock");
    let charges = ledger
        .charges
        .values()
        .filter(|c| {
            filter
                .call_id
                .as_deref()
                .is_none_or(|id| c.request.call_id == id)
        })
        .cloned()
        .collect();
    Json(charges)
}

async fn mode(State(sandbox): State<Sandbox>) -> Json<SandboxStatus> {
    let ledger = sandbox.ledger.lock().expect("sandbox lock");
    Json(SandboxStatus {
        settings: ledger.settings,
        in_flight: ledger.in_flight,
    })
}

async fn set_mode(
    State(sandbox): State<Sandbox>,
    Json(settings): Json<ModeSettings>,
) -> Json<ModeSettings> {
    tracing::warn!(?settings, "sandbox mode changed");
    sandbox.ledger.lock().expect("sandbox lock").settings = settings;
    Json(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charged(sandbox: &Sandbox, amount: i64) -> GatewayCharge {
        let request = ChargeRequest {
            idempotency_key: "payment:1".to_owned(),
            call_id: "1".to_owned(),
            mobile: "01012345678".to_owned(),
            pay_type: "CARD".to_owned(),
            amount,
        };
        sandbox.take(&request).1
    }

    fn refund(amount: Option<i64>) -> RefundRequest {
        RefundRequest {
            idempotency_key: "payment:1".to_owned(),
            amount,
        }
    }

    #[test]
    fn a_partial_refund_is_made_once_and_a_repeat_gives_nothing_more_back() {
        let sandbox = Sandbox::default();
        let charge = charged(&sandbox, 15000);

        let first = sandbox.give_back(&refund(Some(10000))).unwrap();
        assert_eq!(first.charge_id, charge.charge_id);
        assert_eq!(first.status, ChargeStatus::PartiallyRefunded);
        assert_eq!(first.refunded_amount, Some(10000));
        for repeat in [Some(10000), Some(5000), None] {
            assert_eq!(sandbox.give_back(&refund(repeat)).unwrap(), first);
        }
        let again = charged(&sandbox, 15000);
        assert_eq!(again, first, "a refunded key is never charged anew");
    }

    #[test]
    fn a_refund_of_the_whole_charge_keeps_the_refunded_status() {
        let sandbox = Sandbox::default();
        charged(&sandbox, 12000);
        let whole = sandbox.give_back(&refund(None)).unwrap();
        assert_eq!(whole.status, ChargeStatus::Refunded);
        assert_eq!(whole.refunded_amount, Some(12000));

        let sandbox = Sandbox::default();
        charged(&sandbox, 12000);
        let exact = sandbox.give_back(&refund(Some(12000))).unwrap();
        assert_eq!(exact.status, ChargeStatus::Refunded);
    }

    #[test]
    fn an_amount_beyond_the_charge_or_an_unknown_key_refunds_nothing() {
        let sandbox = Sandbox::default();
        let unknown = sandbox.give_back(&refund(None)).unwrap_err();
        assert_eq!(unknown.into_response().status(), StatusCode::NOT_FOUND);
        let charge = charged(&sandbox, 8000);
        for amount in [8001, -1] {
            let refused = sandbox.give_back(&refund(Some(amount))).unwrap_err();
            let status = refused.into_response().status();
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        }
        assert_eq!(charged(&sandbox, 8000), charge, "still charged in full");
    }
}
