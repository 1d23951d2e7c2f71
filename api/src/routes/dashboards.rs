//! myPage, served from the dashboard context's read model only (so it answers while Temporal is
//! unreachable), and live status notifications as server-sent events.

use std::convert::Infallible;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use driver_call_stores::dashboard::{CallSummary, StreamedEvent, SummaryCursor};
use driver_call_workflows::domain::{CallStatus, MobileNumber, TimelineEvent};
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::CallIdParam;
use crate::access::{self, Follow, History, OnCall, Operator};
use crate::extract::AppQuery;
use crate::identity::Principal;
use crate::openapi::problems::{Forbidden, Invalid, NotFound, Unauthorized, Unexpected};
use crate::{ApiError, AppState};

const DEFAULT_PAGE: u32 = 20;
const MAX_PAGE: u32 = 100;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(calls_of_customer))
        .routes(routes!(status_counts))
        .routes(routes!(my_page))
        .routes(routes!(customer_events))
        .routes(routes!(call_events))
}

/// The call's myPage.
///
/// Its timeline as the read model holds it (so it answers while Temporal is down).
#[utoipa::path(
    get,
    path = "/dashboards/myPage/{call_id}",
    tag = "dashboards",
    params(CallIdParam),
    responses(
        (status = 200, description = "The call's timeline.", body = Vec<TimelineEvent>),
        Unauthorized, Forbidden, NotFound, Unexpected,
    ),
)]
async fn my_page(
    State(state): State<AppState>,
    call: OnCall<History>,
) -> Result<Json<Vec<TimelineEvent>>, ApiError> {
    let call_id = call.call_id;
    let timeline = state.dashboards.timeline(&call_id.to_string()).await?;
    if timeline.is_empty() {
        return Err(ApiError::NotFound(format!(
            "call {call_id} not found on myPage"
        )));
    }
    Ok(Json(timeline))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct CustomerQuery {
    /// The customer's mobile number: a customer's own (taken when left out), any for an
    /// operator (every customer's calls when left out).
    #[param(value_type = Option<MobileNumber>)]
    mobile: Option<String>,
    /// Where the page starts: from the `Link` header of the page before (opaque).
    cursor: Option<String>,
    /// How many calls a page holds (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

/// Every call of a customer.
///
/// Newest first; the next page is in the `Link` header.
#[utoipa::path(
    get,
    path = "/dashboards",
    tag = "dashboards",
    params(CustomerQuery),
    responses(
        (
            status = 200, description = "A page of the customer's calls.",
            body = Vec<CallSummary>,
            headers(("Link" = String, description = "The next page, `rel=\"next\"`, if any.")),
        ),
        Invalid, Unauthorized, Forbidden, NotFound, Unexpected,
    ),
)]
async fn calls_of_customer(
    State(state): State<AppState>,
    caller: Principal,
    AppQuery(query): AppQuery<CustomerQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let mobile = access::customer_asked(&caller, query.mobile.as_deref())?;
    let cursor = match query.cursor.as_deref() {
        Some(raw) => Some(
            SummaryCursor::parse(raw)
                .ok_or_else(|| ApiError::Invalid(format!("`{raw}` is not a cursor")))?,
        ),
        None => None,
    };
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::Invalid(format!("limit must be 1 to {MAX_PAGE}")));
    }
    let mobile = mobile.as_ref().map(AsRef::as_ref);
    let (page, next) = state
        .dashboards
        .calls_of(mobile, cursor.as_ref(), limit)
        .await?;
    let mut headers = HeaderMap::new();
    if let Some(next) = next {
        let whose = mobile.map(|m| format!("mobile={m}&")).unwrap_or_default();
        let link = format!("</dashboards?{whose}limit={limit}&cursor={next}>; rel=\"next\"");
        if let Ok(value) = HeaderValue::from_str(&link) {
            headers.insert(header::LINK, value);
        }
    }
    Ok((headers, Json(page)))
}

/// How many calls are in a status.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct StatusCount {
    /// The status.
    status: CallStatus,
    /// How many calls the read model holds in it.
    count: i64,
}

/// How many calls are in each status.
///
/// Every status, those with no calls too, from the read model (so it answers while Temporal is
/// down): the operations console's counts.
#[utoipa::path(
    get,
    path = "/dashboards/counts",
    tag = "dashboards",
    responses(
        (status = 200, description = "The count of each status.", body = Vec<StatusCount>),
        Unauthorized, Forbidden, Unexpected,
    ),
)]
async fn status_counts(
    State(state): State<AppState>,
    _operator: Operator,
) -> Result<Json<Vec<StatusCount>>, ApiError> {
    let counted = state.dashboards.status_counts().await?;
    let counts = CallStatus::ALL
        .into_iter()
        .map(|status| StatusCount {
            status,
            count: counted
                .iter()
                .find(|(s, _)| s == status.as_str())
                .map_or(0, |(_, n)| *n),
        })
        .collect();
    Ok(Json(counts))
}

/// `Last-Event-ID`, the position a reconnecting client has seen up to.
fn last_event_id(headers: &HeaderMap) -> Result<i64, ApiError> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(0);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| ApiError::Invalid("Last-Event-ID must be a number".to_owned()))
}

/// Every event of a call, live.
///
/// Server-sent events, resumable with `Last-Event-ID`: each event's `id:` is its timeline seq,
/// its `event:` the event's name, its `data:` a `StreamedEvent`. For whoever may read the call:
/// its customer, the driver who caught it (the driver app's trip), operators.
#[utoipa::path(
    get,
    path = "/calls/{call_id}/events",
    tag = "dashboards",
    params(
        CallIdParam,
        (
            "Last-Event-ID" = Option<i64>, Header, nullable = false,
            description = "The last `id:` a client saw.",
        ),
    ),
    responses(
        (
            status = 200, description = "The call's events, streamed until the client leaves.",
            content_type = "text/event-stream", body = String,
        ),
        Unauthorized, Forbidden, NotFound, Invalid,
    ),
)]
async fn call_events(
    State(state): State<AppState>,
    call: OnCall<Follow>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let after = last_event_id(&headers)?;
    let events = state.live.call_events(call.call_id.to_string(), after);
    let stream = events.map(|event| Ok(sse_event(&event, event.seq)));
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct StreamQuery {
    /// The customer's mobile number: a customer's own (taken when left out), any for an
    /// operator (every customer's events when left out).
    #[param(value_type = Option<MobileNumber>)]
    mobile: Option<String>,
}

/// Every event of every call of a customer, live.
///
/// Server-sent events, resumable with `Last-Event-ID`: each event's `id:` is its position in the
/// read model, its `event:` the event's name, its `data:` a `StreamedEvent`. A customer's stream
/// starts from their first event; an operator's stream of every customer (no `mobile`) from now.
#[utoipa::path(
    get,
    path = "/dashboards/events",
    tag = "dashboards",
    params(
        StreamQuery,
        (
            "Last-Event-ID" = Option<i64>, Header, nullable = false,
            description = "The last `id:` a client saw.",
        ),
    ),
    responses(
        (
            status = 200, description = "The customer's events, streamed until the client leaves.",
            content_type = "text/event-stream", body = String,
        ),
        Invalid, Unauthorized, Forbidden, NotFound,
    ),
)]
async fn customer_events(
    State(state): State<AppState>,
    caller: Principal,
    AppQuery(query): AppQuery<StreamQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let mobile = access::customer_asked(&caller, query.mobile.as_deref())?;
    let mobile = mobile.map(|m| m.as_ref().to_owned());
    // Every customer's stream (the console) starts from now: replaying the whole read model to
    // a console that has just opened would only delay what it is there to see.
    let after = match (headers.contains_key("last-event-id"), &mobile) {
        (false, None) => state.dashboards.newest_event_id().await?,
        _ => last_event_id(&headers)?,
    };
    let events = state.live.customer_events(mobile, after);
    let stream = events.map(|event| Ok(sse_event(&event, event.event_id)));
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// An event as SSE: its name, its JSON, and the `id:` a client resumes from.
fn sse_event(event: &StreamedEvent, id: i64) -> Event {
    Event::default()
        .id(id.to_string())
        .event(event.event.clone())
        .json_data(event)
        .unwrap_or_default()
}
