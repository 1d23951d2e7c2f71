//! `/auth`: signing in (spec section 7), and the development outbox's `GET /dev/sms`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use driver_call_workflows::domain::MobileNumber;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access::TOKEN_COOKIE;
use crate::extract::{AppJson, AppQuery};
use crate::identity::{OutboxMessage, Password, Token, otp};
use crate::openapi::problems::{
    BadRequest, Invalid, NotFound, TooManyRequests, Unauthorized, Unavailable, Unexpected,
    UnsupportedMediaType,
};
use crate::{ApiError, AppState};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(request_code))
        .routes(routes!(sign_in))
        .routes(routes!(dev_sms))
}

/// Body of `POST /auth/otp`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct CodeRequest {
    /// The customer's mobile number.
    #[schema(value_type = MobileNumber)]
    mobile: String,
}

/// The answer to `POST /auth/otp`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct CodeSent {
    /// The number (digits) the code went to.
    #[schema(example = "01012345678")]
    mobile: String,
    /// Seconds the code stays valid.
    #[schema(example = 300)]
    expires_in: u64,
}

/// Send a sign-in code.
///
/// A 6-digit code valid 5 minutes goes to the number by SMS, replacing an earlier one. At most 5
/// codes per number in 10 minutes.
#[utoipa::path(
    post,
    path = "/auth/otp",
    tag = "auth",
    request_body = CodeRequest,
    responses(
        (status = 202, description = "The code is on its way.", body = CodeSent),
        BadRequest, UnsupportedMediaType, Invalid, TooManyRequests, Unavailable, Unexpected,
    ),
)]
#[tracing::instrument(skip_all)]
async fn request_code(
    State(state): State<AppState>,
    AppJson(request): AppJson<CodeRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let mobile = MobileNumber::parse(&request.mobile)?;
    state.identity.request_code(&mobile).await?;
    let sent = CodeSent {
        mobile: mobile.as_ref().to_owned(),
        expires_in: otp::CODE_VALIDITY.as_secs(),
    };
    Ok((StatusCode::ACCEPTED, Json(sent)))
}

/// Body of `POST /auth/token`: a customer's code, or a driver's or operator's password.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(tag = "grantType", rename_all = "lowercase")]
enum Grant {
    /// A customer signs in with the code sent to their number.
    Otp {
        /// The customer's mobile number.
        #[schema(value_type = MobileNumber)]
        mobile: String,
        /// The 6-digit code.
        #[schema(example = "123456", pattern = "^[0-9]{6}$")]
        code: String,
    },
    /// A driver or an operator signs in with username and password.
    Password {
        /// The username.
        #[schema(example = "ops")]
        username: String,
        /// The password.
        #[schema(value_type = String, format = Password)]
        password: Password,
    },
}

/// Sign in.
///
/// Answers an access token for `Authorization: Bearer`, and sets it as an HttpOnly session cookie
/// (the token's own expiry still applies) for what cannot send headers (a browser's `EventSource`; the cookie counts on `GET` only). A wrong
/// code or password is 401 and changes nothing; the fifth wrong code in a row invalidates it.
#[utoipa::path(
    post,
    path = "/auth/token",
    tag = "auth",
    request_body = Grant,
    responses(
        (
            status = 200, description = "Signed in.", body = Token,
            headers(("Set-Cookie" = String, description = "The same token, HttpOnly.")),
        ),
        BadRequest, UnsupportedMediaType, Invalid, Unauthorized, TooManyRequests, Unexpected,
    ),
)]
#[tracing::instrument(skip_all)]
async fn sign_in(
    State(state): State<AppState>,
    cookies: CookieJar,
    AppJson(grant): AppJson<Grant>,
) -> Result<impl IntoResponse, ApiError> {
    let token = match grant {
        Grant::Otp { mobile, code } => {
            let mobile = MobileNumber::parse(&mobile)?;
            state.identity.exchange_code(&mobile, &code).await?
        }
        Grant::Password { username, password } => {
            state
                .identity
                .password_sign_in(&username, &password)
                .await?
        }
    };
    let cookie = Cookie::build((TOKEN_COOKIE, token.access_token.clone()))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .build();
    Ok((cookies.add(cookie), Json(token)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct OutboxQuery {
    /// The customer's mobile number.
    #[param(value_type = MobileNumber)]
    mobile: String,
}

/// The development outbox.
///
/// The codes "sent" to a number, newest first. Exists only while `SMS_SENDER=outbox` (the
/// embedded default) and answers only requests from the loopback interface; otherwise 404.
#[utoipa::path(
    get,
    path = "/dev/sms",
    tag = "auth",
    params(OutboxQuery),
    responses(
        (status = 200, description = "The messages.", body = Vec<OutboxMessage>),
        NotFound, Invalid,
    ),
)]
async fn dev_sms(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    AppQuery(query): AppQuery<OutboxQuery>,
) -> Result<Json<Vec<OutboxMessage>>, ApiError> {
    // Served without connect info (`into_make_service_with_connect_info`), nobody is loopback.
    let from_loopback = peer.is_some_and(|Extension(ConnectInfo(peer))| peer.ip().is_loopback());
    let outbox = state.identity.outbox().filter(|_| from_loopback);
    let outbox = outbox.ok_or_else(|| ApiError::NotFound("no such route".to_owned()))?;
    let mobile = MobileNumber::parse(&query.mobile)?;
    Ok(Json(outbox.messages_to(&mobile)))
}
