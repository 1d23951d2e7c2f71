//! The sandbox's side of the payment gateway protocol. These types are the sandbox's own, as a
//! real payment service's would be: the payment context's HTTP gateway has its own, and the two
//! agree on the wire by test (`activities/tests/gateway_wire.rs`), not by sharing structs.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// `POST /charges`: what to charge, under which idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeRequest {
    /// The same on every retry of one payment.
    pub idempotency_key: String,
    /// The merchant's reference (the call).
    pub call_id: String,
    /// The customer.
    pub mobile: String,
    /// `CARD` or `CASH`.
    pub pay_type: String,
    /// KRW.
    pub amount: i64,
}

/// A charge as the sandbox holds it: the request's fields beside the charge's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayCharge {
    /// The sandbox's id of the charge.
    pub charge_id: String,
    /// `CHARGED`, `REFUNDED` or `PARTIALLY_REFUNDED`.
    pub status: ChargeStatus,
    /// The KRW given back, once refunded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded_amount: Option<i64>,
    /// What was charged.
    #[serde(flatten)]
    pub request: ChargeRequest,
}

/// Whether the sandbox holds the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChargeStatus {
    /// Taken.
    Charged,
    /// Given back.
    Refunded,
    /// Part of it given back, the rest kept.
    PartiallyRefunded,
}

/// `POST /refunds`: the charge is found by its idempotency key alone, and refunded once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundRequest {
    /// The charge's idempotency key.
    pub idempotency_key: String,
    /// KRW to give back (a partial refund); absent gives back the whole charge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
}

/// An error answer, as `application/problem+json` (RFC 9457).
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(skip)]
    http: StatusCode,
    status: u16,
    r#type: String,
    title: String,
    detail: String,
}

impl Problem {
    fn new(status: StatusCode, kind: &str, detail: impl Into<String>) -> Self {
        Self {
            http: status,
            status: status.as_u16(),
            r#type: format!("https://driver-call.dev/sandbox/problems/{kind}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            detail: detail.into(),
        }
    }

    /// 402: the charge is declined (a business answer).
    pub fn declined(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYMENT_REQUIRED, "declined", detail)
    }

    /// 422: a refund amount the charge cannot cover.
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", detail)
    }

    /// 404: no charge under that key.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", detail)
    }

    /// 503: the sandbox is told to fail.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail)
    }

    /// 500: the sandbox itself failed.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", detail)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = (self.http, axum::Json(&self)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}
