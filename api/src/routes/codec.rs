//! The codec server (spec section 10): Temporal's remote-codec protocol, which the Web UI and the
//! `temporal` CLI speak to show an operator the payloads the server holds encrypted. Operators
//! only; the Web UI (another origin, `TEMPORAL_UI_URL`) may call it with the console's sign-in
//! cookie.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, Method, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use temporalio_common::protos::temporal::api::common::v1::Payload;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access::CodecOperator;
use crate::extract::AppJson;
use crate::openapi::problems::{Forbidden, Invalid, Unauthorized, Unexpected};
use crate::{ApiError, AppState};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(decode))
        .routes(routes!(encode))
}

/// The path prefix of the codec routes: the only ones another origin may call.
const CODEC_PATHS: &str = "/codec/";

/// CORS for the Web UI at `temporal_ui_url`: it may call the codec routes, with the sign-in
/// cookie, and nothing else.
pub(crate) fn cors(temporal_ui_url: &str) -> CorsLayer {
    let ui = HeaderValue::from_str(temporal_ui_url.trim_end_matches('/')).ok();
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, request| {
            request.uri.path().starts_with(CODEC_PATHS) && ui.as_ref() == Some(origin)
        }))
        .allow_credentials(true)
        .allow_methods([Method::POST])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("x-namespace"),
        ])
}

/// Payloads as the remote-codec protocol carries them: the protobuf JSON form, metadata values
/// and data in base64.
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub(crate) struct CodecPayloads {
    /// The payloads, in order.
    #[serde(default)]
    payloads: Vec<CodecPayload>,
}

/// One payload.
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub(crate) struct CodecPayload {
    /// Each metadata value in base64 (`encoding`, and the key id of an encrypted one).
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    /// The data in base64.
    #[serde(default)]
    data: String,
}

impl CodecPayload {
    fn into_payload(self) -> Result<Payload, ApiError> {
        let bytes = |text: &str| {
            STANDARD
                .decode(text)
                .map_err(|_| ApiError::Invalid("a payload's data or metadata is not base64".into()))
        };
        let mut metadata = std::collections::HashMap::new();
        for (key, value) in self.metadata {
            metadata.insert(key, bytes(&value)?);
        }
        Ok(Payload {
            metadata,
            data: bytes(&self.data)?,
            ..Default::default()
        })
    }

    fn of(payload: Payload) -> Self {
        Self {
            metadata: payload
                .metadata
                .into_iter()
                .map(|(key, value)| (key, STANDARD.encode(value)))
                .collect(),
            data: STANDARD.encode(payload.data),
        }
    }
}

/// Opens encrypted payloads.
///
/// The remote-codec protocol's decode: each payload sealed with one of the payload keys comes
/// back as it was before it was sealed; any other payload comes back as it is.
#[utoipa::path(
    post,
    path = "/codec/decode",
    tag = "operations",
    request_body = CodecPayloads,
    params(("X-Namespace" = Option<String>, Header, description = "The Temporal namespace (the Web UI sends it).")),
    responses(
        (status = 200, description = "The payloads, opened.", body = CodecPayloads),
        Invalid, Unauthorized, Forbidden, Unexpected,
    ),
)]
async fn decode(
    State(state): State<AppState>,
    _operator: CodecOperator,
    AppJson(body): AppJson<CodecPayloads>,
) -> Result<Json<CodecPayloads>, ApiError> {
    each(body, |payload| {
        let keys = &state.privacy.keys;
        keys.decrypt(payload)
            .map_err(|e| ApiError::Invalid(e.to_string()))
    })
}

/// Encrypts payloads.
///
/// The remote-codec protocol's encode: each payload sealed with the first payload key, as the
/// service's own clients seal what they send (the Web UI encodes what an operator sends a call,
/// a signal's input say).
#[utoipa::path(
    post,
    path = "/codec/encode",
    tag = "operations",
    request_body = CodecPayloads,
    params(("X-Namespace" = Option<String>, Header, description = "The Temporal namespace (the Web UI sends it).")),
    responses(
        (status = 200, description = "The payloads, encrypted.", body = CodecPayloads),
        Invalid, Unauthorized, Forbidden, Unexpected,
    ),
)]
async fn encode(
    State(state): State<AppState>,
    _operator: CodecOperator,
    AppJson(body): AppJson<CodecPayloads>,
) -> Result<Json<CodecPayloads>, ApiError> {
    each(body, |payload| Ok(state.privacy.keys.encrypt(payload)))
}

/// `body`'s payloads, each turned by `turn`, in order.
fn each(
    body: CodecPayloads,
    turn: impl Fn(Payload) -> Result<Payload, ApiError>,
) -> Result<Json<CodecPayloads>, ApiError> {
    let payloads = body
        .payloads
        .into_iter()
        .map(|payload| turn(payload.into_payload()?).map(CodecPayload::of))
        .collect::<Result<_, _>>()?;
    Ok(Json(CodecPayloads { payloads }))
}
