//! Who may do what (spec section 7), in one place. Every protected route takes one of the
//! extractors below, and every decision about who may see or change what is made here:
//!
//! - [`Principal`]: any signed-in person (a bearer token, or on `GET` the sign-in cookie an
//!   `EventSource` sends); no or an invalid token is 401.
//! - [`Customer`], [`Operator`]: a route only that role may use; another role is 403 (a driver's
//!   routes are all on a call or an area: [`OnCall`], [`offers_areas`]).
//! - [`OnCall<R>`]: a route on one call (`{call_id}` in its path), under the [`CallRule`] `R`
//!   names: a role the rule never lets in is 403, and a call that is not the caller's is 404,
//!   exactly like a call that does not exist, so ids leak nothing.
//! - [`authorize`]: the same decision for a call a route learns only from what it reads (a
//!   payment's call).
//!
//! Whose a call is comes from the call itself: its workflow's search attributes (customer, area,
//! driver), or the read model for the routes that must answer while Temporal is down. Once known
//! it is remembered ([`PartyBook`]): a call's customer and area never change, and its driver only
//! once, from nobody to the driver who caught it.

use std::marker::PhantomData;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use axum::extract::FromRequestParts;
use axum::http::Method;
use axum::http::request::Parts;
use axum_extra::TypedHeader;
use axum_extra::extract::CookieJar;
use axum_extra::headers::Authorization;
use axum_extra::headers::authorization::Bearer;
use driver_call_workflows::domain::{self, CallId, MobileNumber, NewCall};
use serde_json::Value;

use crate::extract::AppPath;
use crate::identity::{DriverRecord, Principal, Role};
use crate::privacy::NumberHash;
use crate::{ApiError, AppState, workflow};

/// The cookie `POST /auth/token` sets (HttpOnly, `SameSite=Strict`) for what cannot send an
/// `Authorization` header: a browser's `EventSource`. It is accepted on `GET` only, so a forged
/// cross-site form can never change anything with it.
pub const TOKEN_COOKIE: &str = "driver_call_token";

/// Who a call is about, as far as access goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parties {
    /// The customer's key: the keyed hash of their number (what `CustomerMobile` holds; see
    /// [`crate::privacy::NumberHash::key_of`]).
    pub customer: String,
    /// The service area of the pickup location.
    pub area: String,
    /// The driver who caught the call, once one has.
    pub driver: Option<String>,
}

impl Parties {
    /// A call being created: its customer's and area's, nobody has caught it.
    pub fn of_new(call: &NewCall, numbers: &NumberHash) -> Self {
        Self {
            customer: numbers.of(&call.mobile),
            area: call.service_area(),
            driver: None,
        }
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let cookie = parts.method == Method::GET;
        signed_in(parts, state, cookie).await
    }
}

/// Whoever the request's access token names: the `Authorization: Bearer` header, or the sign-in
/// cookie where `cookie` allows it.
async fn signed_in(
    parts: &mut Parts,
    state: &AppState,
    cookie: bool,
) -> Result<Principal, ApiError> {
    let token = bearer_token(parts, state, cookie).await.ok_or_else(|| {
        ApiError::Unauthorized(
            "sign in first: send `Authorization: Bearer <accessToken>`".to_owned(),
        )
    })?;
    let mut principal = state.identity.verify(&token).await?;
    // Every request of a driver's is word from them (spec section 9, "Dispatch"); the account
    // they act with says whether they are still online.
    if let Some(driver) = principal.driver.take() {
        state.presence.heard(&driver.username);
        let now = std::time::SystemTime::now();
        principal.driver = Some(driver.present(now, state.presence.timeout()));
    }
    Ok(principal)
}

/// The request's access token: the `Authorization: Bearer` header, or the cookie where `cookie`
/// allows it.
async fn bearer_token(parts: &mut Parts, state: &AppState, cookie: bool) -> Option<String> {
    let header = TypedHeader::<Authorization<Bearer>>::from_request_parts(parts, state).await;
    if let Ok(TypedHeader(Authorization(bearer))) = header {
        return Some(bearer.token().to_owned());
    }
    if !cookie {
        return None;
    }
    let cookies = CookieJar::from_headers(&parts.headers);
    cookies.get(TOKEN_COOKIE).map(|c| c.value().to_owned())
}

fn forbidden(what: &str, roles: &[Role]) -> ApiError {
    let roles: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    ApiError::Forbidden(format!("only a {} may {what}", roles.join(" or ")))
}

/// A signed-in customer.
pub(crate) struct Customer {
    /// Their mobile number.
    pub mobile: MobileNumber,
}

impl FromRequestParts<AppState> for Customer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let principal = Principal::from_request_parts(parts, state).await?;
        principal.require(Role::Customer)?;
        Ok(Self {
            mobile: own_mobile(&principal)?,
        })
    }
}

/// A customer's number, as their token names it.
fn own_mobile(customer: &Principal) -> Result<MobileNumber, ApiError> {
    MobileNumber::parse(&customer.subject)
        .map_err(|_| ApiError::Unauthorized("the token names no customer".to_owned()))
}

/// A signed-in driver, with their account as it is now.
pub(crate) struct SignedInDriver(pub DriverRecord);

impl FromRequestParts<AppState> for SignedInDriver {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let principal = Principal::from_request_parts(parts, state).await?;
        principal.require(Role::Driver)?;
        let account = principal
            .driver
            .ok_or_else(|| ApiError::Unauthorized("the token names no driver".to_owned()))?;
        Ok(Self(account))
    }
}

/// A signed-in operator.
pub(crate) struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let principal = Principal::from_request_parts(parts, state).await?;
        principal.require(Role::Operator)?;
        Ok(Self)
    }
}

/// A signed-in operator on the codec routes, where the sign-in cookie is accepted on `POST` too:
/// the Web UI sends it (same site, another origin, allowed by CORS), and decoding or encoding
/// payloads changes nothing, so a forged request gains nothing it could read.
pub(crate) struct CodecOperator;

impl FromRequestParts<AppState> for CodecOperator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let principal = signed_in(parts, state, true).await?;
        principal.require(Role::Operator)?;
        Ok(Self)
    }
}

/// The areas whose open offers `caller` asks for: a driver one of their own (another is 403), or
/// all of them when they name none; an operator the one they name.
pub(crate) fn offers_areas(
    caller: &Principal,
    area: Option<&str>,
) -> Result<Vec<String>, ApiError> {
    let area = area.map(|a| a.trim().to_lowercase());
    match (caller.role, &caller.driver, area) {
        (Role::Operator, _, Some(area)) => Ok(vec![area]),
        (Role::Operator, _, None) => Err(ApiError::Invalid("area is required".to_owned())),
        (Role::Driver, Some(driver), None) => Ok(driver.areas.clone()),
        (Role::Driver, Some(driver), Some(area)) if driver.areas.contains(&area) => Ok(vec![area]),
        (Role::Driver, _, area) => Err(ApiError::Forbidden(format!(
            "`{}` is not one of your service areas",
            area.unwrap_or_default()
        ))),
        (Role::Customer, _, _) => Err(forbidden("list offers", &[Role::Driver, Role::Operator])),
    }
}

/// Whether the call is on offer to `driver` now (spec section 9, "Dispatch"): they are available
/// (online and heard from, not on a call) and its offer reaches one of their areas. Anyone else
/// is answered 404, exactly as for a call that does not exist; a caught or closed offer that did
/// reach them is left to the workflow, which answers 409.
pub(crate) async fn offered_to(
    state: &AppState,
    driver: &DriverRecord,
    call_id: &CallId,
) -> Result<(), ApiError> {
    let not_offered = || ApiError::NotFound(format!("no call {call_id} is on offer to you"));
    let met = state
        .catches
        .catch_by(&call_id.to_string(), &driver.username, &driver.areas)
        .await?;
    match met {
        // Their own catch, asked again: the workflow says it is caught already.
        Some(met) if met.theirs => Ok(()),
        Some(met) if met.reaches && driver.online && !met.holding => Ok(()),
        _ => Err(not_offered()),
    }
}

/// The driver who acts: the signed-in driver's account, whatever the body says of the name; a
/// body naming another driver is 403.
pub(crate) fn acting_driver(
    caller: &Principal,
    named: Option<&str>,
) -> Result<domain::Driver, ApiError> {
    let account = caller
        .driver
        .as_ref()
        .ok_or_else(|| forbidden("do this", &[Role::Driver]))?;
    if let Some(named) = named
        && named.trim() != account.username
    {
        return Err(ApiError::Forbidden(
            "a driver catches and drives only as themselves".to_owned(),
        ));
    }
    Ok(domain::Driver::parse(&account.username, &account.name)?
        .with_mobile(mask_mobile(&account.mobile)))
}

/// The customer whose myPage list or stream `caller` asks for: a customer their own (the number
/// may be left out; another number is 404, as if it had no calls), an operator any number, or
/// every customer's (`None`) when they name none (the operations console).
pub(crate) fn customer_asked(
    caller: &Principal,
    mobile: Option<&str>,
) -> Result<Option<MobileNumber>, ApiError> {
    let named = mobile.map(MobileNumber::parse).transpose()?;
    match (caller.role, named) {
        (Role::Operator, named) => Ok(named),
        (Role::Customer, named) => {
            let own = own_mobile(caller)?;
            match named {
                Some(named) if named != own => {
                    Err(ApiError::NotFound("no calls of this customer".to_owned()))
                }
                _ => Ok(Some(own)),
            }
        }
        (Role::Driver, _) => Err(forbidden(
            "read a myPage",
            &[Role::Customer, Role::Operator],
        )),
    }
}

/// Who may use a route on one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallRule {
    /// Read the call: its customer, the driver who caught it (who sees the customer's number
    /// masked), operators.
    Read,
    /// Pay or cancel: its customer.
    CustomerActs,
    /// Catch: a driver (whether the call is offered to them, by its offer's reach and their
    /// availability, is the catch route's to decide: [`offered_to`]).
    Catch,
    /// A trip step: the driver who caught the call.
    DriverActs,
    /// Its myPage and payment: its customer and operators. Whose it is comes from the read model
    /// first, so these answer while Temporal is down.
    History,
    /// Follow its events live: whoever may read it. A customer's question is answered from the
    /// read model first, as for [`CallRule::History`].
    Follow,
}

impl CallRule {
    /// The roles the rule can ever let in.
    fn roles(self) -> &'static [Role] {
        match self {
            CallRule::Read | CallRule::Follow => &[Role::Customer, Role::Driver, Role::Operator],
            CallRule::CustomerActs => &[Role::Customer],
            CallRule::Catch | CallRule::DriverActs => &[Role::Driver],
            CallRule::History => &[Role::Customer, Role::Operator],
        }
    }

    /// Whether `caller` may use the rule's route on a call with these `parties`.
    fn admits(self, caller: &Principal, parties: &Parties) -> bool {
        match (caller.role, self) {
            (Role::Operator, _) => true,
            (Role::Customer, _) => parties.customer == caller.subject,
            (Role::Driver, CallRule::Catch) => true,
            (Role::Driver, _) => parties.driver.as_deref() == Some(caller.subject.as_str()),
        }
    }
}

/// Marks the [`CallRule`] an [`OnCall`] route uses.
pub(crate) trait Rule: Send + Sync + 'static {
    /// The rule.
    const RULE: CallRule;
}

macro_rules! rules {
    ($($marker:ident => $rule:ident;)*) => {$(
        #[doc = concat!("[`CallRule::", stringify!($rule), "`].")]
        pub(crate) enum $marker {}

        impl Rule for $marker {
            const RULE: CallRule = CallRule::$rule;
        }
    )*};
}

rules! {
    ReadCall => Read;
    CustomerActs => CustomerActs;
    CatchCall => Catch;
    DriverActs => DriverActs;
    History => History;
    Follow => Follow;
}

/// A route on the call in its path, which the caller may use under rule `R`.
pub(crate) struct OnCall<R> {
    /// The call.
    pub call_id: CallId,
    /// Who asks.
    pub caller: Principal,
    rule: PhantomData<R>,
}

impl<R: Rule> FromRequestParts<AppState> for OnCall<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Principal::from_request_parts(parts, state).await?;
        let AppPath(raw) = AppPath::<String>::from_request_parts(parts, state).await?;
        let call_id = crate::routes::call_id(&raw)?;
        authorize(state, &caller, &call_id, R::RULE).await?;
        Ok(Self {
            call_id,
            caller,
            rule: PhantomData,
        })
    }
}

/// Lets `caller` use a route on `call_id` under `rule`: 403 for a role the rule never lets in,
/// 404 for a call that is not theirs (or does not exist).
pub(crate) async fn authorize(
    state: &AppState,
    caller: &Principal,
    call_id: &CallId,
    rule: CallRule,
) -> Result<(), ApiError> {
    if !rule.roles().contains(&caller.role) {
        return Err(forbidden("do this with a call", rule.roles()));
    }
    if caller.role == Role::Operator {
        return Ok(());
    }
    let parties = parties(state, call_id, rule, caller.role == Role::Driver).await?;
    // A customer is known to a call by their number's key, never by the number.
    let keyed;
    let caller = if caller.role == Role::Customer {
        keyed = Principal {
            subject: state.privacy.numbers.key_of(&caller.subject),
            ..caller.clone()
        };
        &keyed
    } else {
        caller
    };
    match parties {
        Some(parties) if rule.admits(caller, &parties) => Ok(()),
        _ => Err(ApiError::NotFound(format!("call {call_id} not found"))),
    }
}

/// Whose the call is: remembered, or read from the read model (for [`CallRule::History`]) or the
/// call's workflow. A driver's question needs the driver, which a remembered call may not have
/// had yet.
async fn parties(
    state: &AppState,
    call_id: &CallId,
    rule: CallRule,
    needs_driver: bool,
) -> Result<Option<Parties>, ApiError> {
    if let Some(known) = state.parties.get(call_id)
        && (known.driver.is_some() || !needs_driver || rule == CallRule::Catch)
    {
        return Ok(Some(known));
    }
    let customers_question =
        rule == CallRule::History || (rule == CallRule::Follow && !needs_driver);
    if customers_question
        && let Some(customer) = state.dashboards.customer_of(&call_id.to_string()).await?
    {
        // The read model knows only the customer, which is all this rule asks of a customer.
        return Ok(Some(Parties {
            customer: state.privacy.numbers.key_of(&customer),
            area: String::new(),
            driver: None,
        }));
    }
    let mut found = workflow::parties(&state.temporal, call_id).await?;
    if let Some(found) = &mut found {
        // A call made before numbers were hashed holds the number itself.
        found.customer = state.privacy.numbers.key_of(&found.customer);
        state.parties.remember(call_id, found.clone());
    }
    Ok(found)
}

/// The calls whose parties this API process has learnt (bounded: the oldest are forgotten and
/// read again when asked).
#[derive(Clone)]
pub(crate) struct PartyBook(Arc<Mutex<lru::LruCache<CallId, Parties>>>);

impl PartyBook {
    /// Remembers up to `capacity` calls.
    pub fn new(capacity: NonZeroUsize) -> Self {
        Self(Arc::new(Mutex::new(lru::LruCache::new(capacity))))
    }

    fn get(&self, call_id: &CallId) -> Option<Parties> {
        let mut book = self.0.lock().unwrap_or_else(|e| e.into_inner());
        book.get(call_id).cloned()
    }

    /// Remembers the call's parties (a new call's, or as read).
    pub fn remember(&self, call_id: &CallId, parties: Parties) {
        let mut book = self.0.lock().unwrap_or_else(|e| e.into_inner());
        book.put(*call_id, parties);
    }

    /// Remembers that `driver` caught the call.
    pub fn caught(&self, call_id: &CallId, driver: &str) {
        let mut book = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(parties) = book.get_mut(call_id) {
            parties.driver = Some(driver.to_owned());
        }
    }
}

/// A call as the caller may see it: a driver sees the customer's number masked
/// (`010-****-5678`); everyone else sees the call as it is.
pub(crate) fn shown_to<T: serde::Serialize>(caller: &Principal, call: &T) -> axum::Json<Value> {
    let mut value = serde_json::to_value(call).unwrap_or(Value::Null);
    if caller.role == Role::Driver
        && let Some(mobile) = value.get_mut("mobile")
        && let Some(digits) = mobile.as_str()
    {
        *mobile = Value::String(mask_mobile(digits));
    }
    axum::Json(value)
}

/// `01012345678` → `010-****-5678`: the first three and last four digits stay, so a driver can
/// recognise the customer on a call, and the rest is hidden.
pub fn mask_mobile(digits: &str) -> String {
    let chars: Vec<char> = digits.chars().collect();
    if chars.len() < 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}-{}-{tail}", "*".repeat(chars.len() - 7))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role, subject: &str, areas: &[&str]) -> Principal {
        Principal {
            role,
            subject: subject.to_owned(),
            driver: (role == Role::Driver).then(|| DriverRecord {
                online: false,
                username: subject.to_owned(),
                name: "Kim".to_owned(),
                mobile: "01099998888".to_owned(),
                areas: areas.iter().map(|a| (*a).to_owned()).collect(),
                disabled_at: None,
                created_at: String::new(),
                last_seen_at: None,
                token_generation: 1,
            }),
        }
    }

    fn caught_by(driver: Option<&str>) -> Parties {
        Parties {
            customer: "01012345678".to_owned(),
            area: "kangnam".to_owned(),
            driver: driver.map(str::to_owned),
        }
    }

    #[test]
    fn a_customer_is_admitted_to_their_own_calls_only() {
        let owner = principal(Role::Customer, "01012345678", &[]);
        let other = principal(Role::Customer, "01099990000", &[]);
        for rule in [
            CallRule::Read,
            CallRule::CustomerActs,
            CallRule::History,
            CallRule::Follow,
        ] {
            assert!(rule.admits(&owner, &caught_by(None)), "{rule:?}");
            assert!(!rule.admits(&other, &caught_by(None)), "{rule:?}");
        }
    }

    #[test]
    fn a_driver_reads_and_steps_only_the_calls_they_caught_and_may_ask_to_catch_any() {
        let kim = principal(Role::Driver, "kim", &["kangnam"]);
        let lee = principal(Role::Driver, "lee", &["mapo"]);
        assert!(CallRule::DriverActs.admits(&kim, &caught_by(Some("kim"))));
        assert!(CallRule::Read.admits(&kim, &caught_by(Some("kim"))));
        assert!(CallRule::Follow.admits(&kim, &caught_by(Some("kim"))));
        assert!(!CallRule::Follow.admits(&lee, &caught_by(Some("kim"))));
        assert!(!CallRule::DriverActs.admits(&lee, &caught_by(Some("kim"))));
        assert!(!CallRule::Read.admits(&kim, &caught_by(None)));
        // Whom an offer reaches widens as it waits: the catch route asks the offer itself.
        assert!(CallRule::Catch.admits(&kim, &caught_by(None)));
        assert!(CallRule::Catch.admits(&lee, &caught_by(None)));
    }

    #[test]
    fn roles_a_rule_never_admits_are_named() {
        assert_eq!(CallRule::CustomerActs.roles(), &[Role::Customer]);
        assert!(!CallRule::History.roles().contains(&Role::Driver));
        assert!(!CallRule::DriverActs.roles().contains(&Role::Operator));
    }

    #[test]
    fn a_masked_number_keeps_its_first_three_and_last_four_digits() {
        assert_eq!(mask_mobile("01012345678"), "010-****-5678");
        assert_eq!(mask_mobile("0161234567"), "016-***-4567");
        assert_eq!(mask_mobile("1234567"), "*******");
    }

    #[test]
    fn a_driver_sees_the_number_masked_and_a_customer_as_it_is() {
        let call = serde_json::json!({"callId": "x", "mobile": "01012345678"});
        let driver = principal(Role::Driver, "kim", &["kangnam"]);
        let customer = principal(Role::Customer, "01012345678", &[]);
        assert_eq!(shown_to(&driver, &call).0["mobile"], "010-****-5678");
        assert_eq!(shown_to(&customer, &call).0["mobile"], "01012345678");
    }
}
