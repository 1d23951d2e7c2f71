//! The API's OpenAPI 3.1 description (spec section 10), generated from the routes themselves:
//! each route is registered with `utoipa_axum::routes!` next to its `#[utoipa::path]`, so a route
//! cannot be served without being described. Served at `GET /openapi.json`, with a browsable
//! reference (Swagger UI, embedded in the binary) at `/docs`.

use std::collections::BTreeMap;

use axum::Router;
use axum::http::StatusCode;
use driver_call_workflows::domain::CallView;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::schema::{Schema, SchemaType, Type};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoResponses, Modify, OpenApi as _, PartialSchema, ToSchema};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::ApiError;
use crate::error::{PROBLEM_TYPES, Problem};

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/openapi.json";
/// Where the browsable reference is served.
pub const DOCS_PATH: &str = "/docs";

/// The document's root: what the routes' own descriptions do not say.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Driver-Call API",
        license(name = "MIT", identifier = "MIT"),
        description = "A designated-driver call service (spec section 4). Errors are \
            `application/problem+json` (RFC 9457) `{type, title, status, detail}`; money is a \
            whole number of KRW."
    ),
    tags(
        (name = "calls", description = "The customer's side of a call."),
        (name = "catches", description = "The drivers' side of a call."),
        (name = "payments", description = "The payments ledger."),
        (name = "dashboards", description = "myPage and live events, from the read model."),
        (name = "auth", description = "Signing in (spec section 7)."),
        (name = "drivers", description = "Driver accounts, for operators."),
        (name = "health", description = "Probes and metrics."),
    ),
    components(schemas(Problem, driver_call_stores::dashboard::StreamedEvent))
)]
struct ApiDoc;

/// The whole document: the root above, every route's description, [`OptionalBodies`],
/// [`CallLinks`], then [`Security`].
pub(crate) fn document(routes: OpenApi) -> OpenApi {
    let mut document = ApiDoc::openapi().merge_from(routes);
    OptionalBodies.modify(&mut document);
    CallLinks.modify(&mut document);
    Security.modify(&mut document);
    document
}

/// `request_body(content = Option<T>)` says a body may be left out, and utoipa then also lets
/// the body be `null`, which no handler takes: this leaves such a body's schema `T` alone.
struct OptionalBodies;

impl Modify for OptionalBodies {
    fn modify(&self, document: &mut OpenApi) {
        let operations = document.paths.paths.values_mut().flat_map(operations);
        let bodies = operations.filter_map(|operation| operation.request_body.as_mut());
        for content in bodies.flat_map(|body| body.content.values_mut()) {
            let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema else {
                continue;
            };
            if let [RefOr::T(Schema::Object(null)), body] = &one_of.items[..]
                && null.schema_type == SchemaType::Type(Type::Null)
            {
                content.schema = Some(body.clone());
            }
        }
    }
}

/// Links every answer that is a call view to each operation on that call (a path with
/// `{call_id}`), passing the answer's `callId`: how a client goes from creating a call to paying,
/// catching or cancelling it (and how schemathesis' stateful tests follow a call's life).
struct CallLinks;

impl Modify for CallLinks {
    fn modify(&self, document: &mut OpenApi) {
        let on_a_call: Vec<String> = document
            .paths
            .paths
            .iter_mut()
            .filter(|(path, _)| path.contains("{call_id}"))
            .flat_map(|(_, item)| operations(item))
            .filter_map(|operation| operation.operation_id.clone())
            .collect();
        let call_view = Some(RefOr::Ref(Ref::from_schema_name(CallView::name())));
        let answers = document.paths.paths.values_mut().flat_map(operations);
        for answer in answers.flat_map(|operation| operation.responses.responses.values_mut()) {
            let RefOr::T(answer) = answer else { continue };
            let body = answer.content.get("application/json");
            if body.is_none_or(|body| body.schema != call_view) {
                continue;
            }
            for target in &on_a_call {
                // utoipa 5 writes a link's `operationId` as `operation_id` (utoipa 6 fixes it),
                // so the field goes in under its OpenAPI name.
                let link = LinkBuilder::new()
                    .parameter("call_id", "$response.body#/callId")
                    .extensions(Some(Extensions::from_iter([(
                        "operationId",
                        target.clone(),
                    )])))
                    .build();
                answer.links.insert(target.clone(), link.into());
            }
        }
    }
}

/// Every operation of a path.
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}

/// The one place the document's security goes: the `bearer` scheme (HTTP bearer, the token of
/// `POST /auth/token`) and, for `GET`s, the sign-in cookie an `EventSource` sends, required by
/// every operation except the public ones.
struct Security;

/// The paths anyone may use (spec section 7): probes, metrics, signing in, the outbox.
pub(crate) fn is_public(path: &str) -> bool {
    ["/healthz", "/readyz", "/metrics", "/dev/sms"].contains(&path) || path.starts_with("/auth/")
}

impl Modify for Security {
    fn modify(&self, document: &mut OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
        };
        let components = document.components.get_or_insert_with(Default::default);
        let bearer = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .description(Some("The `accessToken` of `POST /auth/token`."))
            .build();
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        let cookie = ApiKeyValue::with_description(
            crate::access::TOKEN_COOKIE,
            "The HttpOnly cookie `POST /auth/token` sets; accepted on `GET` only (for `EventSource`).",
        );
        components.add_security_scheme("cookie", SecurityScheme::ApiKey(ApiKey::Cookie(cookie)));
        let required = |scheme: &str| SecurityRequirement::new(scheme, Vec::<String>::new());
        for (path, item) in document.paths.paths.iter_mut() {
            if is_public(path) {
                continue;
            }
            if let Some(get) = item.get.as_mut() {
                get.security = Some(vec![required("bearer"), required("cookie")]);
            }
            for operation in operations(item).filter(|o| o.security.is_none()) {
                operation.security = Some(vec![required("bearer")]);
            }
        }
    }
}

/// `GET /openapi.json` and the reference at `/docs` (its HTML, scripts and styles all served from
/// the binary; the online validator is off, so the page loads nothing from elsewhere).
pub(crate) fn serve(document: OpenApi) -> Router {
    let config = Config::new([OPENAPI_PATH])
        .validator_url("none")
        .try_it_out_enabled(true);
    SwaggerUi::new(DOCS_PATH)
        .url(OPENAPI_PATH, document)
        .config(config)
        .into()
}

/// The problem answers an operation can give, one type per [`ApiError`] variant, whose status and
/// problem type they take from the error itself; an operation lists them after its success:
/// `responses((status = 200, ...), problems::NotFound, problems::Conflict)`.
pub(crate) mod problems {
    use super::*;

    macro_rules! problem_types {
        ($($name:ident($error:expr): $description:literal;)*) => {$(
            #[doc = $description]
            pub(crate) struct $name;

            impl IntoResponses for $name {
                fn responses() -> BTreeMap<String, RefOr<Response>> {
                    response($error, $description)
                }
            }
        )*};
    }

    problem_types! {
        BadRequest(ApiError::BadRequest(String::new())):
            "Malformed: the body is not JSON, or a header is not what it must be.";
        PaymentRejected(ApiError::PaymentRejected(String::new())):
            "The payment context rejected the payment; the call ends PAYMENT_REJECTED.";
        NotFound(ApiError::NotFound(String::new())): "No such call, payment or timeline.";
        Conflict(ApiError::Conflict(String::new())):
            "The call's state does not allow this, or the call has ended.";
        UnsupportedMediaType(ApiError::UnsupportedMediaType(String::new())):
            "The body is not `application/json`.";
        Invalid(ApiError::Invalid(String::new())):
            "Well-formed, but a field or parameter is missing or invalid.";
        Unexpected(ApiError::Unexpected(anyhow::anyhow!("unexpected"))):
            "An unexpected failure; the details are logged, never sent.";
        Unavailable(ApiError::Unavailable(String::new())):
            "Temporal or the payment context is unavailable: try again after `Retry-After`.";
        Unauthorized(ApiError::Unauthorized(String::new())):
            "No valid access token (or, signing in, a wrong code or password).";
        Forbidden(ApiError::Forbidden(String::new())):
            "Signed in, but in a role that may not do this, or naming someone else.";
        TooManyRequests(ApiError::TooManyRequests { detail: String::new(), retry_after_secs: 1 }):
            "Too many requests: try again after `Retry-After`.";
    }

    /// `error`'s answer: its status, and a problem+json body of its problem type.
    fn response(error: ApiError, description: &str) -> BTreeMap<String, RefOr<Response>> {
        let (status, problem_type) = error.status_and_type();
        let content = ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(Problem::name())))
            .build();
        let mut response = ResponseBuilder::new()
            .description(format!(
                "{description} `type`: `{PROBLEM_TYPES}{problem_type}`."
            ))
            .content("application/problem+json", content);
        if [
            StatusCode::SERVICE_UNAVAILABLE,
            StatusCode::TOO_MANY_REQUESTS,
        ]
        .contains(&status)
        {
            let retry_after = HeaderBuilder::new()
                .schema(u64::schema())
                .description(Some("Seconds to wait before trying again."))
                .build();
            response = response.header("Retry-After", retry_after);
        }
        BTreeMap::from([(status.as_u16().to_string(), response.build().into())])
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    fn document() -> Value {
        serde_json::to_value(crate::openapi()).expect("the document serializes")
    }

    /// Every `$ref` in `value`.
    fn references<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
        match value {
            Value::Object(fields) => {
                found.extend(fields.get("$ref").and_then(Value::as_str));
                fields.values().for_each(|v| references(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| references(v, found)),
            _ => {}
        }
    }

    /// The apps' typed client is generated from `web/openapi.json`, so that copy must be the
    /// document the API serves: then an app that no longer fits the API fails `tsc` at build.
    /// `UPDATE_OPENAPI=1 cargo test -p driver-call-api web_copy` rewrites the copy.
    #[test]
    fn web_copy_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../web/openapi.json");
        let served = format!(
            "{}\n",
            serde_json::to_string_pretty(&document()).expect("the document serializes")
        );
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(path, &served).expect("web/openapi.json is writable");
        }
        let copy = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            copy == served,
            "web/openapi.json differs from the API's document: run \
             `UPDATE_OPENAPI=1 cargo test -p driver-call-api web_copy`, then `npm run build` in web/"
        );
    }

    #[test]
    fn the_document_is_openapi_3_1_and_every_reference_in_it_resolves() {
        let document = document();
        assert_eq!(document["openapi"], "3.1.0");
        let mut found = Vec::new();
        references(&document, &mut found);
        assert!(found.contains(&"#/components/schemas/CallView"));
        for reference in found {
            let pointer = reference
                .strip_prefix('#')
                .expect("a reference within the document");
            assert!(
                document.pointer(pointer).is_some(),
                "{reference} names nothing"
            );
        }
    }

    #[test]
    fn every_operation_declares_the_parameters_of_its_path() {
        let document = document();
        for (path, item) in document["paths"].as_object().expect("paths") {
            let in_path: BTreeSet<&str> = path
                .split('{')
                .skip(1)
                .filter_map(|rest| rest.split('}').next())
                .collect();
            for (method, operation) in item.as_object().expect("a path item") {
                let declared: BTreeSet<&str> = operation["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|parameter| parameter["in"] == "path")
                    .filter_map(|parameter| parameter["name"].as_str())
                    .collect();
                assert_eq!(declared, in_path, "{method} {path}");
            }
        }
    }

    #[test]
    fn a_call_view_answer_links_to_every_operation_on_the_call() {
        let document = document();
        let created = &document["paths"]["/calls"]["post"]["responses"]["201"]["links"];
        let pay = &created["pay_call"];
        assert_eq!(pay["operationId"], "pay_call", "{created}");
        assert_eq!(pay["parameters"]["call_id"], "$response.body#/callId");
        assert_eq!(created.as_object().map(|links| links.len()), Some(13));
        let offers = &document["paths"]["/catches"]["get"]["responses"]["200"];
        assert!(offers["links"].is_null(), "{offers}");
    }

    #[test]
    fn a_problem_answer_takes_its_status_and_type_from_its_error() {
        let document = document();
        let pay = &document["paths"]["/calls/{call_id}/pay"]["post"]["responses"];
        for (status, kind) in [("402", "payment-rejected"), ("404", "not-found")] {
            let description = pay[status]["description"].as_str().expect("a description");
            assert!(
                description.contains(&format!("problems/{kind}")),
                "{description}"
            );
        }
        assert!(pay["503"]["headers"]["Retry-After"].is_object(), "{pay}");
        assert!(pay["404"]["headers"].is_null(), "{pay}");
    }
}
