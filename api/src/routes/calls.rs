//! `/calls`: the customer's side of a call.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use driver_call_workflows::domain::{
    CallId, CallStatus, CallTransition, CallView, Krw, Location, MobileNumber, NewCall, PayType,
};
use driver_call_workflows::driver_call::{CancelRequest, PayOutcome};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use serde_json::Value;

use super::CallIdParam;
use crate::access::{Customer, CustomerActs, OnCall, Parties, ReadCall, shown_to};
use crate::extract::{AppJson, OptionalJson};
use crate::openapi::problems::{
    BadRequest, Conflict, Forbidden, Invalid, NotFound, PaymentRejected, Unauthorized, Unavailable,
    Unexpected, UnsupportedMediaType,
};
use crate::{ApiError, AppState, workflow};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_call))
        .routes(routes!(get_call, delete_call))
        .routes(routes!(pay_call))
        .routes(routes!(cancel_call))
}

/// Body of `POST /calls`: a quote (`quoteId`, with an optional `tip`), or for clients from before
/// quotes, the `location` and a `payAmount` of at least the minimum fare.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct CreateCallRequest {
    /// The customer's mobile number: the signed-in customer's own (which is taken when this is
    /// left out; another number is 422).
    #[schema(value_type = Option<MobileNumber>)]
    mobile: Option<String>,
    /// A quote of the customer's from `POST /quotes`, unused and unexpired: the call goes from
    /// and to the quote's places and pre-pays its fare plus the tip.
    #[schema(example = "quote-1b4e28ba-2fa1-41d2-883f-0016d3cca427")]
    quote_id: Option<String>,
    /// What the customer adds to the quoted fare for faster dispatch, in KRW (only with a quote).
    #[schema(value_type = Option<Krw>)]
    tip: Option<i64>,
    /// Where the driver picks the customer (and the car) up, 1 to 200 characters: required
    /// without a quote; with one, the quote's (a different one is 422).
    #[schema(value_type = Option<Location>)]
    location: Option<String>,
    /// Where the customer is going, at most 200 characters (blank means none); with a quote,
    /// the quote's.
    #[schema(example = "Bundang")]
    destination: Option<String>,
    /// How the fare is pre-paid.
    #[schema(value_type = PayType)]
    pay_type: String,
    /// The fare in KRW: required without a quote; with one, the quote's fare plus the tip (a
    /// different amount is 422).
    #[schema(value_type = Option<Krw>)]
    pay_amount: Option<i64>,
}

/// Idempotency keys are scoped to the customer: the same key from two customers is two calls.
const IDEMPOTENCY_NAMESPACE: uuid::Uuid = uuid::uuid!("6f1d3c0e-8a4b-5e7f-9c2d-1b0a3e5f7d9c");

/// A quote prices one call, whose id is derived from the quote's: a retry of the request names
/// the same call, and a second call with the quote is refused.
const QUOTE_NAMESPACE: uuid::Uuid = uuid::uuid!("0b6d51a2-93f4-5c1e-8e27-4d9a6c3f0e81");

/// The longest `Idempotency-Key` accepted.
const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

impl CreateCallRequest {
    /// The new call. With a quote, its id is derived from the quote and the quote is used; with
    /// an idempotency key (and no quote), from the customer and the key, so every repeat of the
    /// request names the same call (and the same workflow id).
    async fn into_new_call(
        self,
        state: &AppState,
        customer: &Customer,
        idempotency_key: Option<&str>,
    ) -> Result<NewCall, ApiError> {
        let pay_type: PayType = self
            .pay_type
            .parse()
            .map_err(|e: String| ApiError::Invalid(format!("{e}; expected CARD or CASH")))?;
        let mobile = customer.mobile.clone();
        if let Some(named) = &self.mobile
            && MobileNumber::parse(named)? != mobile
        {
            return Err(ApiError::Invalid(
                "mobile must be the signed-in customer's own number (or left out)".to_owned(),
            ));
        }
        let Some(quote_id) = self.quote_id.as_deref() else {
            return self.unquoted(state, mobile, pay_type, idempotency_key);
        };
        let call_id = CallId::from_uuid(uuid::Uuid::new_v5(&QUOTE_NAMESPACE, quote_id.as_bytes()));
        let tip = Krw::new(self.tip.unwrap_or(0))?;
        let id = call_id.to_string();
        let accepted = state.fares.accept(&mobile, quote_id, &id, tip);
        let (quote, location, destination) = accepted.await?;
        same_as_quoted("location", self.location.as_deref(), &location)?;
        same_as_quoted("destination", self.destination.as_deref(), &destination)?;
        let pay_amount = Krw::new(quote.fare.get() + tip.get())?;
        if self.pay_amount.is_some_and(|sent| sent != pay_amount.get()) {
            return Err(ApiError::Invalid(format!(
                "payAmount must be the quoted fare plus the tip, {} KRW (or left out)",
                pay_amount.get()
            )));
        }
        Ok(NewCall {
            call_id,
            mobile_hash: Some(state.privacy.numbers.of(&mobile)),
            mobile,
            area: Some(state.fares.call_area(&location)),
            location: Location::parse(&location)?,
            destination: NewCall::parse_destination(Some(&destination))?,
            pay_type,
            pay_amount,
            quote: Some(quote),
        })
    }

    /// A call made without a quote, as before quotes existed.
    fn unquoted(
        self,
        state: &AppState,
        mobile: MobileNumber,
        pay_type: PayType,
        idempotency_key: Option<&str>,
    ) -> Result<NewCall, ApiError> {
        if self.tip.is_some() {
            return Err(ApiError::Invalid("a tip needs a quoteId".to_owned()));
        }
        let location = self.location.ok_or_else(|| {
            ApiError::Invalid("location is required without a quoteId".to_owned())
        })?;
        let pay_amount = self.pay_amount.ok_or_else(|| {
            ApiError::Invalid("payAmount is required without a quoteId".to_owned())
        })?;
        let id = match idempotency_key {
            Some(key) => {
                let name = format!("{}\n{key}", mobile.as_ref());
                uuid::Uuid::new_v5(&IDEMPOTENCY_NAMESPACE, name.as_bytes())
            }
            None => uuid::Uuid::new_v4(),
        };
        let location = Location::parse(&location)?;
        Ok(NewCall {
            call_id: CallId::from_uuid(id),
            mobile_hash: Some(state.privacy.numbers.of(&mobile)),
            mobile,
            area: Some(state.fares.call_area(location.as_ref())),
            location,
            destination: NewCall::parse_destination(self.destination.as_deref())?,
            pay_type,
            pay_amount: Krw::new(pay_amount)?,
            quote: None,
        })
    }
}

/// A place the body names alongside a quote must be the quote's (compared ignoring case and
/// surrounding spaces).
fn same_as_quoted(field: &str, sent: Option<&str>, quoted: &str) -> Result<(), ApiError> {
    match sent {
        Some(sent) if !sent.trim().eq_ignore_ascii_case(quoted.trim()) => Err(ApiError::Invalid(
            format!("{field} must be the quote's, `{quoted}` (or left out)"),
        )),
        _ => Ok(()),
    }
}

/// The `Idempotency-Key` header, if sent: 1 to 255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY_LEN)
        .filter(|k| k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters"
            ))
        })?;
    Ok(Some(key.to_owned()))
}

/// Request a driver.
///
/// Starts the call's workflow and answers the call as accepted (CREATED). With an
/// `Idempotency-Key`, every repeat of the same request answers the call it created.
#[utoipa::path(
    post,
    path = "/calls",
    tag = "calls",
    params((
        "Idempotency-Key" = Option<String>, Header, nullable = false,
        description = "Makes the request repeatable: the same key from the same customer names \
            the same call (1 to 255 visible ASCII characters).",
        min_length = 1, max_length = 255,
    )),
    request_body = CreateCallRequest,
    responses(
        (
            status = 201, description = "The call, as accepted.", body = CallView,
            headers(("Location" = String, description = "`/calls/{callId}`")),
        ),
        BadRequest, UnsupportedMediaType, Invalid, Unauthorized, Forbidden, Unavailable,
        Unexpected,
    ),
)]
#[tracing::instrument(skip_all)]
async fn create_call(
    State(state): State<AppState>,
    customer: Customer,
    headers: HeaderMap,
    AppJson(request): AppJson<CreateCallRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let key = idempotency_key(&headers)?;
    let call = request
        .into_new_call(&state, &customer, key.as_deref())
        .await?;
    state.parties.remember(
        &call.call_id,
        Parties::of_new(&call, &state.privacy.numbers),
    );
    let started = workflow::start(&state.temporal, call.clone(), *state.policy).await?;
    if !started {
        if key.is_none()
            && let Some(quote) = &call.quote
        {
            return Err(ApiError::Invalid(format!(
                "quote {} was already used for call {}",
                quote.quote_id, call.call_id
            )));
        }
        return repeated_call(&state, call).await.map(created);
    }
    // The answer is what was accepted: a CREATED call whose timeline its workflow starts writing
    // with its first task (GET and the event stream show it), so creating costs one start and no
    // query of a workflow that has not run yet.
    Ok(created(accepted_view(call)))
}

/// A repeat of a keyed request: the call it created, as long as it is the same request.
async fn repeated_call(state: &AppState, call: NewCall) -> Result<CallView, ApiError> {
    let existing = workflow::view(&state.temporal, &call.call_id).await?;
    let same = existing.mobile == call.mobile
        && existing.location == call.location
        && existing.destination == call.destination
        && existing.pay_type == call.pay_type
        && existing.pay_amount == call.pay_amount;
    if !same {
        return Err(ApiError::Invalid(
            "this Idempotency-Key was already used with a different request".to_owned(),
        ));
    }
    Ok(existing)
}

/// The answer to `POST /calls`, the same for the first request and every keyed repeat.
fn created(view: CallView) -> impl IntoResponse {
    let location = format!("/calls/{}", view.call_id);
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view),
    )
}

fn accepted_view(call: NewCall) -> CallView {
    CallView {
        call_id: call.call_id,
        status: CallStatus::Created,
        mobile: call.mobile,
        location: call.location,
        destination: call.destination,
        pay_type: call.pay_type,
        pay_amount: call.pay_amount,
        payment_id: None,
        driver: None,
        quote: call.quote,
        cancellation_fee: None,
        no_show_from: None,
        timeline: Vec::new(),
    }
}

/// The call as it is now, with its timeline.
#[utoipa::path(
    get,
    path = "/calls/{call_id}",
    tag = "calls",
    params(CallIdParam),
    responses(
        (status = 200, description = "The call (a driver sees the customer's number masked).", body = CallView),
        Unauthorized, Forbidden, NotFound, Unavailable, Unexpected,
    ),
)]
async fn get_call(
    State(state): State<AppState>,
    call: OnCall<ReadCall>,
) -> Result<Json<Value>, ApiError> {
    let view = workflow::view(&state.temporal, &call.call_id).await?;
    Ok(shown_to(&call.caller, &view))
}

/// Pay the call's fare.
///
/// The payment context approves it at once (the call goes PAID, then DISPATCHED) or rejects it
/// (the call ends PAYMENT_REJECTED).
#[utoipa::path(
    post,
    path = "/calls/{call_id}/pay",
    tag = "calls",
    params(CallIdParam),
    responses(
        (status = 200, description = "The call, paid.", body = CallView),
        PaymentRejected, Unauthorized, Forbidden, NotFound, Conflict, Unavailable, Unexpected,
    ),
)]
#[tracing::instrument(skip_all, fields(call_id = %call.call_id))]
async fn pay_call(
    State(state): State<AppState>,
    call: OnCall<CustomerActs>,
) -> Result<Json<CallView>, ApiError> {
    // The `pay` validator refuses a call that is not CREATED (409), so nothing is read first.
    let paid = workflow::pay(&state.temporal, &call.call_id).await?;
    state.record_answer(&paid.call);
    match paid.outcome {
        PayOutcome::Approved => Ok(Json(paid.call)),
        PayOutcome::Rejected { reason } => Err(ApiError::PaymentRejected(reason)),
        PayOutcome::Unavailable { reason } => Err(ApiError::Unavailable(format!(
            "payment is unavailable, try again shortly ({reason})"
        ))),
    }
}

/// Cancel is one operation under two routes, `POST /calls/{call_id}/cancel` and
/// `DELETE /calls/{call_id}`: each route's handler has this description and does [`cancel`].
macro_rules! cancel_route {
    ($handler:ident, $method:ident, $path:literal) => {
        /// Cancel the call.
        ///
        /// Its payment is refunded and its offer closed. The body is optional.
        #[utoipa::path(
            $method,
            path = $path,
            tag = "calls",
            params(CallIdParam),
            request_body(content = Option<CancelRequest>, content_type = "application/json"),
            responses(
                (status = 202, description = "The call, cancelling.", body = CallView),
                Unauthorized, Forbidden, NotFound, Conflict, Invalid, Unavailable, Unexpected,
            ),
        )]
        async fn $handler(
            state: State<AppState>,
            call: OnCall<CustomerActs>,
            body: OptionalJson<CancelRequest>,
        ) -> Result<impl IntoResponse, ApiError> {
            cancel(state, call, body).await
        }
    };
}

cancel_route!(cancel_call, post, "/calls/{call_id}/cancel");
cancel_route!(delete_call, delete, "/calls/{call_id}");

/// Cancels the call; the body `{reason?}` is optional.
#[tracing::instrument(name = "cancel_call", skip_all, fields(call_id = %call.call_id))]
async fn cancel(
    State(state): State<AppState>,
    call: OnCall<CustomerActs>,
    OptionalJson(request): OptionalJson<CancelRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let call_id = call.call_id;
    let view = workflow::view(&state.temporal, &call_id).await?;
    if !view.status.allows(CallTransition::Cancel) {
        return Err(ApiError::Conflict(format!(
            "a {} call cannot be cancelled",
            view.status
        )));
    }
    workflow::cancel(&state.temporal, &call_id, request).await?;
    let view = workflow::view(&state.temporal, &call_id).await?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}
