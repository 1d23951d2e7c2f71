//! The payment gateway boundary: where a charge is actually taken and given back.
//!
//! Every charge and refund carries the call's idempotency key (`payment:{callId}`), so a retry at
//! any layer (the HTTP client, the activity, the customer pressing "pay" again) finds the charge
//! already taken instead of taking another.

use std::time::Duration;

use async_trait::async_trait;
use driver_call_workflows::domain::Krw;
use serde::{Deserialize, Serialize};

/// What the payment context asks a gateway to charge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeRequest {
    /// `payment:{callId}`: the same on every retry of this call's payment.
    pub idempotency_key: String,
    /// The call paid for.
    pub call_id: String,
    /// The paying customer.
    pub mobile: String,
    /// `CARD` or `CASH`.
    pub pay_type: String,
    /// The fare in KRW.
    pub amount: i64,
}

/// A charge as the gateway holds it (the wire format of the HTTP gateway and the sandbox).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayCharge {
    /// The gateway's id of the charge.
    pub charge_id: String,
    /// `CHARGED`, `REFUNDED` once given back, `PARTIALLY_REFUNDED` once part of it was.
    pub status: ChargeStatus,
    /// The KRW given back, once refunded (absent from gateways that do not report it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded_amount: Option<i64>,
    /// What was charged.
    #[serde(flatten)]
    pub request: ChargeRequest,
}

/// Whether the gateway holds the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChargeStatus {
    /// The customer's money is taken.
    Charged,
    /// It was given back.
    Refunded,
    /// Part of it was given back; the rest is kept.
    PartiallyRefunded,
}

/// The body of a refund request: the charge is found by its idempotency key alone, so a charge
/// whose answer was lost can be refunded too. A charge is refunded once: a repeat of the key
/// answers with that refund and gives nothing more back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundRequest {
    /// `payment:{callId}`.
    pub idempotency_key: String,
    /// The KRW to give back (a partial refund); absent gives back the whole charge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
}

/// Why a gateway call did not charge or refund.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// The gateway refused the charge (a business answer; retrying will not change it).
    #[error("the payment gateway declined: {0}")]
    Declined(String),
    /// No answer, a timeout or a server error: the outcome is unknown, the charge may exist.
    #[error("the payment gateway is unavailable: {0}")]
    Unavailable(String),
}

impl GatewayError {
    /// Whether this error says the gateway is unwell (what the circuit breaker counts); a decline
    /// is a healthy gateway's answer.
    pub fn is_outage(&self) -> bool {
        matches!(self, GatewayError::Unavailable(_))
    }
}

/// Where charges are taken and refunded.
#[async_trait]
pub trait PaymentGateway: Send + Sync + 'static {
    /// Takes the charge, or returns the one already taken under the same idempotency key.
    async fn charge(&self, request: &ChargeRequest) -> Result<GatewayCharge, GatewayError>;

    /// Gives back `amount` of the charge held under `idempotency_key` (`None`: all of it), if the
    /// gateway holds one beyond the ledger's own record; `None` when there is nothing there to
    /// refund. Idempotent by key: a charge is refunded once, and a repeat gives nothing more back.
    async fn refund(
        &self,
        idempotency_key: &str,
        amount: Option<Krw>,
    ) -> Result<Option<GatewayCharge>, GatewayError>;

    /// A short name for logs and the worker's status page.
    fn name(&self) -> &'static str;
}

/// The embedded default: the payments ledger is the whole gateway. Its charge is the ledger row
/// the activity writes, and its refund (full or partial) is the ledger's refund, so it never
/// fails on its own and holds nothing beyond the ledger.
#[derive(Debug, Default, Clone, Copy)]
pub struct BuiltinGateway;

#[async_trait]
impl PaymentGateway for BuiltinGateway {
    async fn charge(&self, request: &ChargeRequest) -> Result<GatewayCharge, GatewayError> {
        Ok(GatewayCharge {
            charge_id: format!("builtin-{}", request.call_id),
            status: ChargeStatus::Charged,
            refunded_amount: None,
            request: request.clone(),
        })
    }

    async fn refund(
        &self,
        _idempotency_key: &str,
        _amount: Option<Krw>,
    ) -> Result<Option<GatewayCharge>, GatewayError> {
        Ok(None)
    }

    fn name(&self) -> &'static str {
        "builtin"
    }
}

/// An external payment service over HTTP (`POST {base}/charges`, `POST {base}/refunds`), each
/// request bounded by a timeout so a slow gateway surfaces as "unavailable" well before the
/// activity's own timeout.
#[derive(Debug, Clone)]
pub struct HttpGateway {
    client: reqwest::Client,
    base_url: String,
}

impl HttpGateway {
    /// A gateway at `base_url` whose every request gives up after `timeout`.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, GatewayError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| GatewayError::Unavailable(format!("HTTP client: {e}")))?;
        Ok(Self {
            client,
            base_url: base_url.trim_end_matches('/').to_owned(),
        })
    }

    async fn post<B: Serialize>(
        &self,
        path: &str,
        idempotency_key: &str,
        body: &B,
    ) -> Result<reqwest::Response, GatewayError> {
        self.client
            .post(format!("{}{path}", self.base_url))
            .header("Idempotency-Key", idempotency_key)
            .json(body)
            .send()
            .await
            .map_err(|e| GatewayError::Unavailable(describe(&e)))
    }
}

#[async_trait]
impl PaymentGateway for HttpGateway {
    async fn charge(&self, request: &ChargeRequest) -> Result<GatewayCharge, GatewayError> {
        let response = self
            .post("/charges", &request.idempotency_key, request)
            .await?;
        let status = response.status();
        if status.is_success() {
            let charge = read_charge(response).await?;
            if charge.status != ChargeStatus::Charged {
                // The key's charge was already given back, in full or in part (the call ended):
                // never charge anew.
                return Err(GatewayError::Declined(format!(
                    "charge {} was already refunded",
                    charge.charge_id
                )));
            }
            return Ok(charge);
        }
        let detail = response.text().await.unwrap_or_default();
        if status == reqwest::StatusCode::PAYMENT_REQUIRED
            || status == reqwest::StatusCode::UNPROCESSABLE_ENTITY
        {
            return Err(GatewayError::Declined(detail));
        }
        Err(GatewayError::Unavailable(format!("{status}: {detail}")))
    }

    async fn refund(
        &self,
        idempotency_key: &str,
        amount: Option<Krw>,
    ) -> Result<Option<GatewayCharge>, GatewayError> {
        let body = RefundRequest {
            idempotency_key: idempotency_key.to_owned(),
            amount: amount.map(Krw::get),
        };
        let response = self.post("/refunds", idempotency_key, &body).await?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            let detail = response.text().await.unwrap_or_default();
            if status == reqwest::StatusCode::UNPROCESSABLE_ENTITY {
                // An amount the gateway refuses (more than was charged): a business answer.
                return Err(GatewayError::Declined(detail));
            }
            return Err(GatewayError::Unavailable(format!("{status}: {detail}")));
        }
        read_charge(response).await.map(Some)
    }

    fn name(&self) -> &'static str {
        "http"
    }
}

async fn read_charge(response: reqwest::Response) -> Result<GatewayCharge, GatewayError> {
    response
        .json()
        .await
        .map_err(|e| GatewayError::Unavailable(format!("unreadable answer: {}", describe(&e))))
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "no answer within the gateway timeout (the outcome is unknown)".to_owned();
    }
    if error.is_connect() {
        return "cannot connect".to_owned();
    }
    error.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_charge_wire_format_is_flat_camel_case() {
        let charge = GatewayCharge {
            charge_id: "chg-1".to_owned(),
            status: ChargeStatus::Charged,
            refunded_amount: None,
            request: ChargeRequest {
                idempotency_key: "payment:1".to_owned(),
                call_id: "1".to_owned(),
                mobile: "01012345678".to_owned(),
                pay_type: "CARD".to_owned(),
                amount: 5000,
            },
        };
        let json = serde_json::to_value(&charge).unwrap();
        assert_eq!(json["chargeId"], "chg-1");
        assert_eq!(json["status"], "CHARGED");
        assert_eq!(json["idempotencyKey"], "payment:1");
        assert_eq!(json["amount"], 5000);
        assert!(json.get("refundedAmount").is_none(), "{json}");
    }

    #[test]
    fn a_refund_names_its_amount_only_when_partial() {
        let whole = RefundRequest {
            idempotency_key: "payment:1".to_owned(),
            amount: None,
        };
        let json = serde_json::to_value(&whole).unwrap();
        assert_eq!(json, serde_json::json!({"idempotencyKey": "payment:1"}));
        let part = RefundRequest {
            amount: Some(10000),
            ..whole
        };
        let json = serde_json::to_value(&part).unwrap();
        assert_eq!(json["amount"], 10000);
        let partial: GatewayCharge = serde_json::from_value(serde_json::json!({
            "chargeId": "chg-1", "status": "PARTIALLY_REFUNDED", "refundedAmount": 10000,
            "idempotencyKey": "payment:1", "callId": "1", "mobile": "010", "payType": "CARD",
            "amount": 15000
        }))
        .unwrap();
        assert_eq!(partial.status, ChargeStatus::PartiallyRefunded);
        assert_eq!(partial.refunded_amount, Some(10000));
    }

    #[test]
    fn only_an_outage_counts_against_the_gateway() {
        assert!(GatewayError::Unavailable("timeout".into()).is_outage());
        assert!(!GatewayError::Declined("card refused".into()).is_outage());
    }
}
