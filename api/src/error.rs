//! Every error the API answers with, as `application/problem+json` (RFC 9457). The body is four
//! fields, so it is written here rather than pulled in from a crate.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answer; each variant's doc names its HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// `400 Bad Request`: the body is not JSON at all.
    #[error("{0}")]
    BadRequest(String),
    /// `422 Unprocessable Entity`: well-formed, but a field is missing or invalid.
    #[error("{0}")]
    Invalid(String),
    /// `415 Unsupported Media Type`: the body is not `application/json`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// `401 Unauthorized`: no valid access token (or wrong credentials at sign-in).
    #[error("{0}")]
    Unauthorized(String),
    /// `403 Forbidden`: signed in, but this role may not do this (or not as someone else).
    #[error("{0}")]
    Forbidden(String),
    /// `404 Not Found`: it does not exist, or it is not the caller's.
    #[error("{0}")]
    NotFound(String),
    /// `409 Conflict`: the call is not in a state that allows this.
    #[error("{0}")]
    Conflict(String),
    /// `402 Payment Required`: the payment context rejected the payment.
    #[error("{0}")]
    PaymentRejected(String),
    /// `429 Too Many Requests` + `Retry-After`: too many requests; try again after the wait.
    #[error("{detail}")]
    TooManyRequests {
        /// What was limited.
        detail: String,
        /// Seconds until a request is admitted again.
        retry_after_secs: u64,
    },
    /// `503 Service Unavailable` + `Retry-After`: try again shortly.
    #[error("{0}")]
    Unavailable(String),
    /// `500 Internal Server Error`: details are logged, never sent.
    #[error("unexpected error")]
    Unexpected(#[from] anyhow::Error),
}

/// Seconds a client should wait before retrying after a 503.
pub const RETRY_AFTER_SECS: u64 = 5;

/// Where the problem types live: a problem's `type` is this followed by its kind.
pub(crate) const PROBLEM_TYPES: &str = "https://driver-call.dev/problems/";

/// An error answer's body (`application/problem+json`, RFC 9457).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Problem<'a> {
    /// The problem type: `https://driver-call.dev/problems/` and its kind.
    #[schema(example = "https://driver-call.dev/problems/not-found")]
    r#type: &'a str,
    /// The HTTP status's reason phrase.
    #[schema(example = "Not Found")]
    title: &'a str,
    /// The HTTP status.
    #[schema(example = 404)]
    status: u16,
    /// What went wrong, for a person to read.
    #[schema(example = "call 6f1c1a0e-4d7e-4a55-9a57-2a8f7e3c1b00 not found")]
    detail: String,
}

impl ApiError {
    /// The status this error answers with and its problem kind (the end of its `type`).
    pub(crate) fn status_and_type(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "malformed-request"),
            ApiError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid-request"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type")
            }
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::PaymentRejected(_) => (StatusCode::PAYMENT_REQUIRED, "payment-rejected"),
            ApiError::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate-limited"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "try-again-shortly"),
            ApiError::Unexpected(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal-error"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, problem_type) = self.status_and_type();
        if let ApiError::Unexpected(error) = &self {
            tracing::error!(error.cause_chain = ?error, error.message = %error, "request failed");
        }
        let problem = Problem {
            r#type: &format!("{PROBLEM_TYPES}{problem_type}"),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: self.to_string(),
        };
        let mut response = (status, axum::Json(problem)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match &self {
            ApiError::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
            }
            ApiError::TooManyRequests {
                retry_after_secs, ..
            } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            ApiError::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}

/// The identity context's failures, as answers: its own status for each.
impl From<crate::identity::IdentityError> for ApiError {
    fn from(error: crate::identity::IdentityError) -> Self {
        use crate::identity::IdentityError as E;
        let retry_after_secs = error.retry_after_secs();
        match error {
            E::WrongCredentials | E::InvalidToken => ApiError::Unauthorized(error.to_string()),
            E::Forbidden(_) => ApiError::Forbidden(error.to_string()),
            E::NoSuchDriver(_) => ApiError::NotFound(error.to_string()),
            E::UsernameTaken(_) => ApiError::Conflict(error.to_string()),
            E::Invalid(detail) => ApiError::Invalid(detail),
            E::RateLimited { .. } | E::TooManyAttempts { .. } => ApiError::TooManyRequests {
                detail: error.to_string(),
                retry_after_secs: retry_after_secs.unwrap_or(RETRY_AFTER_SECS),
            },
            E::Sms(_) => ApiError::Unavailable(format!("{error}; try again shortly")),
            E::Store(_) | E::Unexpected(_) => {
                ApiError::Unexpected(anyhow::Error::new(error).context("Identity failed"))
            }
        }
    }
}
