//! `/catches`: the drivers' side of a call.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::SystemTime;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use driver_call_stores::catcher::OpenOffer;
use futures::Stream;

use driver_call_workflows::domain::{CallId, CallTransition, CallView, DriverId};
use driver_call_workflows::driver_call::{
    AssignRequest, CatchRequest, DenyRequest, TripStepRequest,
};
use serde::Deserialize;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::CallIdParam;
use crate::access::{self, CatchCall, DriverActs, OnCall, Operator, shown_to};
use crate::extract::{AppJson, AppPath, AppQuery, OptionalJson};
use crate::identity::{DriverRecord, Principal, Role};
use crate::offers::Board;
use crate::openapi::problems::{
    BadRequest, Conflict, Forbidden, Invalid, NotFound, Unauthorized, Unavailable, Unexpected,
    UnsupportedMediaType,
};
use crate::workflow::{self, TripStep};
use crate::{ApiError, AppState};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(open_offers))
        .routes(routes!(offer_events))
        .routes(routes!(catch_call))
        .routes(routes!(deny_call))
        .routes(routes!(assign_call))
        .routes(routes!(arrive))
        .routes(routes!(start_trip))
        .routes(routes!(complete))
        .routes(routes!(no_show))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct AreaQuery {
    /// A service area, matched case-insensitively: the offers that reach it. A driver may ask
    /// only for one of their own areas (another is 403), or leave it out for all of them; an
    /// operator must name one.
    #[param(example = "kangnam")]
    area: Option<String>,
}

/// The open offers of a service area, for its drivers (and operators).
///
/// Oldest first. A driver gets the offers that reach their areas now (the call's own area first,
/// widening to the neighbouring areas and then to everyone while nobody catches it), and only
/// while they are available: online, heard from within `PRESENCE_TIMEOUT`, not on a call
/// (otherwise the list is empty). A driver who names no area gets the offers of all their areas.
#[utoipa::path(
    get,
    path = "/catches",
    tag = "catches",
    params(AreaQuery),
    responses(
        (status = 200, description = "The open offers.", body = Vec<OpenOffer>),
        Invalid, Unauthorized, Forbidden, Unexpected,
    ),
)]
async fn open_offers(
    State(state): State<AppState>,
    caller: Principal,
    AppQuery(query): AppQuery<AreaQuery>,
) -> Result<Json<Vec<OpenOffer>>, ApiError> {
    let areas = access::offers_areas(&caller, query.area.as_deref())?;
    if let Some(driver) = &caller.driver
        && (!driver.online || state.catches.on_a_call(&driver.username).await?)
    {
        return Ok(Json(Vec::new()));
    }
    Ok(Json(state.catches.open_offers_in(&areas).await?))
}

/// The open offers, live.
///
/// Server-sent events: an `offers` event whose `data:` is the whole list (as `GET /catches`
/// answers it), at once and whenever it changes (an offer opens, widens to the driver, is caught
/// or withdrawn). Its `id:` names the list, so a client reconnecting with `Last-Event-ID` gets it
/// again only if it changed meanwhile. A driver's stream also sends an `availability` event,
/// `{"online": bool, "onCall": bool, "callId": string | null}` (the call they hold, caught or
/// assigned to them), at once and whenever it changes: offline (by their own go-offline, or not
/// heard from within `PRESENCE_TIMEOUT`) or on a call, the list is empty. An open stream keeps
/// its driver heard from; a disabled driver's stream ends.
#[utoipa::path(
    get,
    path = "/catches/events",
    tag = "catches",
    params(
        AreaQuery,
        (
            "Last-Event-ID" = Option<String>, Header, nullable = false,
            description = "The last `id:` a client saw.",
        ),
    ),
    responses(
        (
            status = 200, description = "The offers, streamed until the client leaves.",
            content_type = "text/event-stream", body = String,
        ),
        Invalid, Unauthorized, Forbidden,
    ),
)]
async fn offer_events(
    State(state): State<AppState>,
    caller: Principal,
    AppQuery(query): AppQuery<AreaQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let areas = access::offers_areas(&caller, query.area.as_deref())?;
    let seen = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut board = state.offers.subscribe();
    // The first list goes out as soon as the board is live.
    board.mark_changed();
    let driver = caller.driver.map(|driver| DriverWatch {
        since: board.borrow().driver_change,
        _watching: state.presence.watching(&driver.username),
        driver,
    });
    let stream = OffersStream {
        board,
        driver,
        areas,
        sent: seen,
        availability: None,
        queue: VecDeque::new(),
    };
    let events = futures::stream::unfold(stream, |mut stream| async move {
        let event = stream.next().await?;
        Some((Ok(event), stream))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// The driver who watches an offers stream: their account as they signed in, the driver change
/// the board was at then, and the guard that keeps them heard from.
struct DriverWatch {
    driver: DriverRecord,
    since: i64,
    /// Held for its `Drop`.
    _watching: crate::presence::Watching,
}

/// One offers stream: the board filtered for whoever watches, sent when it changes.
struct OffersStream {
    board: tokio::sync::watch::Receiver<Arc<Board>>,
    /// The driver watching; `None` for an operator looking at an area.
    driver: Option<DriverWatch>,
    /// The areas asked for (a driver's own, all or one of them; an operator's one).
    areas: Vec<String>,
    /// The id of the list last sent (or the client's `Last-Event-ID`).
    sent: Option<String>,
    /// The availability last sent: online, and the call they hold.
    availability: Option<(bool, Option<String>)>,
    queue: VecDeque<Event>,
}

impl OffersStream {
    /// The next event; `None` once the stream is to end (the driver was disabled, or the feed
    /// went away).
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some(event);
            }
            if self.board.changed().await.is_err() {
                return None;
            }
            let board = self.board.borrow_and_update().clone();
            if !board.live {
                continue;
            }
            let (offers, availability) = match &self.driver {
                None => (board.offered_to(&self.areas), None),
                Some(DriverWatch { driver, since, .. }) => {
                    let account = board
                        .driver_after(&driver.username, *since)
                        .unwrap_or(driver);
                    if account.is_disabled() {
                        return None;
                    }
                    let holding = board.call_of(&driver.username).map(str::to_owned);
                    let offers = match (account.online, &holding) {
                        (true, None) => board.offered_to(&self.areas),
                        _ => Vec::new(),
                    };
                    (offers, Some((account.online, holding)))
                }
            };
            let data = serde_json::to_string(&offers).unwrap_or_default();
            let id = list_id(&data);
            if self.sent.as_deref() != Some(id.as_str()) {
                self.queue
                    .push_back(Event::default().event("offers").id(&id).data(data));
                self.sent = Some(id);
            }
            if let Some((online, holding)) = &availability
                && self.availability != availability
            {
                let data = serde_json::json!({
                    "online": online,
                    "onCall": holding.is_some(),
                    "callId": holding,
                });
                self.availability = availability;
                self.queue.push_back(
                    Event::default()
                        .event("availability")
                        .data(data.to_string()),
                );
            }
        }
    }
}

/// A name for a list of offers that changes when the list does.
fn list_id(data: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    data.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// Body of `POST /catches/{call_id}`: optional, the driver is the signed-in one.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct CatchBody {
    /// The signed-in driver's id (their username), if given; another driver's is 403.
    #[schema(value_type = Option<DriverId>)]
    driver_id: Option<String>,
    /// Ignored: the customer sees the name of the driver's account. (Described, and so
    /// accepted, because clients from before sign-in send it.)
    #[schema(example = "Kim")]
    #[allow(dead_code)]
    driver_name: Option<String>,
}

/// Catch a dispatched call.
///
/// The first driver to ask wins it.
#[utoipa::path(
    post,
    path = "/catches/{call_id}",
    tag = "catches",
    params(CallIdParam),
    request_body(content = Option<CatchBody>, content_type = "application/json"),
    responses(
        (status = 200, description = "The call, caught by this driver.", body = CallView),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, Invalid, Unavailable, Unexpected,
    ),
)]
#[tracing::instrument(skip_all, fields(call_id = %call.call_id))]
async fn catch_call(
    State(state): State<AppState>,
    call: OnCall<CatchCall>,
    OptionalJson(body): OptionalJson<CatchBody>,
) -> Result<Json<Value>, ApiError> {
    let driver = access::acting_driver(&call.caller, body.driver_id.as_deref())?;
    let account = call
        .caller
        .driver
        .as_ref()
        .ok_or_else(|| ApiError::Forbidden("only a driver may catch a call".to_owned()))?;
    access::offered_to(&state, account, &call.call_id).await?;
    // The `catch` validator guards the state and the offer's reach (409).
    let request = CatchRequest {
        driver_id: driver.driver_id.to_string(),
        driver_name: driver.driver_name,
        driver_mobile: driver.driver_mobile,
        driver_areas: Some(account.areas.clone()),
    };
    let view = workflow::catch(&state.temporal, &call.call_id, request).await?;
    state.record_answer(&view);
    state.parties.caught(&call.call_id, &call.caller.subject);
    Ok(shown_to(&call.caller, &view))
}

/// Body of `POST /catches/{call_id}/assign`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct AssignBody {
    /// The driver the call goes to (their username); they must be available.
    #[schema(value_type = DriverId)]
    driver_id: String,
}

/// Assign an open call to a driver (assigned dispatch, 강제배차).
///
/// Operators only. The call must be open (DISPATCHED) and the driver available: online, heard
/// from within `PRESENCE_TIMEOUT`, not on a call (otherwise 409). The timeline records
/// `CallAssigned`, then `CallCaught`; a driver's catch at the same moment and the assign have
/// exactly one winner.
#[utoipa::path(
    post,
    path = "/catches/{call_id}/assign",
    tag = "catches",
    params(CallIdParam),
    request_body = AssignBody,
    responses(
        (status = 200, description = "The call, caught by the assigned driver.", body = CallView),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, UnsupportedMediaType, Invalid,
        Unavailable, Unexpected,
    ),
)]
#[tracing::instrument(skip(state, operator, body))]
async fn assign_call(
    State(state): State<AppState>,
    operator: Principal,
    AppPath(call_id): AppPath<String>,
    AppJson(body): AppJson<AssignBody>,
) -> Result<Json<CallView>, ApiError> {
    operator.require(Role::Operator)?;
    let call_id = super::call_id(&call_id)?;
    let username = body.driver_id.trim();
    let Some(driver) = state.identity.store().driver(username).await? else {
        return Err(ApiError::Invalid(format!(
            "there is no driver `{username}`"
        )));
    };
    let driver = driver.present(SystemTime::now(), state.presence.timeout());
    let unavailable = |why: &str| {
        ApiError::Conflict(format!(
            "driver {} is not available: {why}",
            driver.username
        ))
    };
    if driver.is_disabled() {
        return Err(unavailable("disabled"));
    }
    if !driver.online {
        return Err(unavailable("offline"));
    }
    if state.catches.on_a_call(&driver.username).await? {
        return Err(unavailable("on a call"));
    }
    // The `assign` validator guards the state (409); an unknown call answers 404.
    let request = AssignRequest {
        driver_id: driver.username.clone(),
        driver_name: driver.name.clone(),
        driver_mobile: Some(access::mask_mobile(&driver.mobile)),
        operator: operator.subject.clone(),
    };
    let view = workflow::assign(&state.temporal, &call_id, request).await?;
    state.record_answer(&view);
    state.parties.caught(&call_id, &driver.username);
    state.offers.nudge();
    Ok(Json(view))
}

/// A no-show asked before `NO_SHOW_WAIT` is over is refused here, from the call's view, so that
/// a driver's app asking again and again does not write a refused update into the call's history
/// each time (the workflow checks the wait again, in its own time).
async fn too_early_for_a_no_show(state: &AppState, call_id: &CallId) -> Result<(), ApiError> {
    let view = workflow::view(&state.temporal, call_id).await?;
    let Some(from) = view.no_show_from else {
        return Ok(());
    };
    let allowed = humantime::parse_rfc3339(&from).is_ok_and(|at| SystemTime::now() >= at);
    if allowed {
        return Ok(());
    }
    Err(ApiError::Conflict(format!(
        "the customer may still come: a no-show is allowed from {from}"
    )))
}

/// Body of `POST /catches/{call_id}/deny`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct DenyBody {
    /// Why the call is denied (not blank).
    #[schema(example = "no drivers")]
    reason: String,
}

/// Deny a call.
///
/// Only before a driver caught it; its payment is refunded and its offer closed.
#[utoipa::path(
    post,
    path = "/catches/{call_id}/deny",
    tag = "catches",
    params(CallIdParam),
    request_body = DenyBody,
    responses(
        (status = 202, description = "The call, being denied.", body = CallView),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, UnsupportedMediaType, Invalid,
        Unavailable, Unexpected,
    ),
)]
#[tracing::instrument(skip(state, _operator, body))]
async fn deny_call(
    State(state): State<AppState>,
    _operator: Operator,
    AppPath(call_id): AppPath<String>,
    AppJson(body): AppJson<DenyBody>,
) -> Result<impl IntoResponse, ApiError> {
    let call_id = super::call_id(&call_id)?;
    if body.reason.trim().is_empty() {
        return Err(ApiError::Invalid("reason must not be empty".to_owned()));
    }
    let view = workflow::view(&state.temporal, &call_id).await?;
    if !view.status.allows(CallTransition::Deny) {
        return Err(ApiError::Conflict(format!(
            "a {} call cannot be denied",
            view.status
        )));
    }
    workflow::deny(
        &state.temporal,
        &call_id,
        DenyRequest {
            reason: body.reason,
        },
    )
    .await?;
    let view = workflow::view(&state.temporal, &call_id).await?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}

/// Body of the trip steps: optional, the driver is the signed-in one.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct TripStepBody {
    /// The signed-in driver's id, if given; another driver's is 403.
    #[schema(value_type = Option<DriverId>)]
    driver_id: Option<String>,
}

/// A trip step's route: the caught call's driver reporting the step (the step's validator
/// guards the call's state and the driver: 409).
#[rustfmt::skip] // rustfmt would indent the attribute's arguments twice.
macro_rules! trip_step_route {
    ($handler:ident, $path:literal, $step:ident, $summary:literal) => {
        #[doc = $summary]
        #[utoipa::path(
            post,
            path = $path,
            tag = "catches",
            params(CallIdParam),
            request_body(content = Option<TripStepBody>, content_type = "application/json"),
            responses(
                (status = 200, description = "The call, one step on.", body = CallView),
                BadRequest, Unauthorized, Forbidden, NotFound, Conflict, Invalid, Unavailable,
                Unexpected,
            ),
        )]
        async fn $handler(
            state: State<AppState>,
            call: OnCall<DriverActs>,
            body: OptionalJson<TripStepBody>,
        ) -> Result<Json<Value>, ApiError> {
            trip_step(state, call, body, TripStep::$step).await
        }
    };
}

trip_step_route!(
    arrive,
    "/catches/{call_id}/arrive",
    Arrive,
    "The driver is at the pickup location."
);
trip_step_route!(
    start_trip,
    "/catches/{call_id}/start",
    StartTrip,
    "The trip starts."
);
trip_step_route!(
    complete,
    "/catches/{call_id}/complete",
    Complete,
    "The trip is over."
);
trip_step_route!(
    no_show,
    "/catches/{call_id}/no-show",
    NoShow,
    "The customer never came: allowed `NO_SHOW_WAIT` after arriving; the call ends NO_SHOW and the fee is kept."
);

#[tracing::instrument(skip(state, call, body), fields(call_id = %call.call_id))]
async fn trip_step(
    State(state): State<AppState>,
    call: OnCall<DriverActs>,
    OptionalJson(body): OptionalJson<TripStepBody>,
    step: TripStep,
) -> Result<Json<Value>, ApiError> {
    let driver = access::acting_driver(&call.caller, body.driver_id.as_deref())?;
    // The step's validator guards the state and the driver (409).
    let request = TripStepRequest {
        driver_id: driver.driver_id,
    };
    if matches!(step, TripStep::NoShow) {
        too_early_for_a_no_show(&state, &call.call_id).await?;
    }
    let view = workflow::trip_step(&state.temporal, &call.call_id, step, request).await?;
    state.record_answer(&view);
    Ok(shown_to(&call.caller, &view))
}
