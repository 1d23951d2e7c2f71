//! The call's state as the workflow holds it, and every rule that changes it, with no Temporal in
//! it: the workflow's handlers and lanes call these and turn the answers into commands, so the
//! rules are unit-tested here without a server.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use temporalio_common::search_attributes::{
    SearchAttributeKey, SearchAttributeUpdate, SearchAttributes, Timestamp,
};

use super::messages::{
    AssignRequest, CallPolicy, CancelRequest, CatchRequest, DenyRequest, PayOutcome,
};
use crate::contracts::{catcher, dashboard, payment};
use crate::domain::{
    CallStatus, CallTransition, CallView, CancellationFee, Driver, DriverId, EventName, Krw,
    NewCall, TimelineEvent, TransitionRefused,
};

/// Search attribute: the call's status, e.g. `CallStatus="DISPATCHED"`.
pub const CALL_STATUS: SearchAttributeKey<String> = SearchAttributeKey::keyword("CallStatus");
/// Search attribute: the customer's normalised mobile number.
pub const CUSTOMER_MOBILE: SearchAttributeKey<String> =
    SearchAttributeKey::keyword("CustomerMobile");
/// Search attribute: the service area of the pickup location.
pub const SERVICE_AREA: SearchAttributeKey<String> = SearchAttributeKey::keyword("ServiceArea");
/// Search attribute: the driver who caught the call.
pub const DRIVER_ID: SearchAttributeKey<String> = SearchAttributeKey::keyword("DriverId");

/// Search attribute: when the call's timeline last changed (patch `timeline-feed`). The
/// dashboard context lists the calls changed since its cursor by it, once per tick for every
/// call, instead of following each call's history; it rides in the upsert of the status, so it
/// adds no event where the status changes.
pub const TIMELINE_AT: SearchAttributeKey<Timestamp> = SearchAttributeKey::datetime("TimelineAt");

/// The custom search attributes and their types, for registering them on a server.
pub const SEARCH_ATTRIBUTES: [(&str, &str); 5] = [
    ("CallStatus", "Keyword"),
    ("CustomerMobile", "Keyword"),
    ("ServiceArea", "Keyword"),
    ("DriverId", "Keyword"),
    ("TimelineAt", "Datetime"),
];

/// Why an update's validator or handler refuses (the API answers 409 with it).
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// Everything the workflow knows of one call.
#[derive(Debug)]
pub struct CallState {
    pub(super) request: NewCall,
    pub(super) policy: CallPolicy,
    pub(super) status: CallStatus,
    pub(super) payment: PaymentProgress,
    pub(super) driver: Option<Driver>,
    pub(super) timeline: Vec<TimelineEvent>,
    /// The saga and its compensations are done (the projection lane may finish).
    pub(super) saga_finished: bool,
    /// When the driver caught the call (the cancellation grace runs from here).
    pub(super) caught_at: Option<SystemTime>,
    /// When the driver arrived (the no-show wait runs from here).
    pub(super) arrived_at: Option<SystemTime>,
    /// The fee the payment context keeps: set by a cancel after the grace or a no-show.
    pub(super) fee: Option<Krw>,
    /// Whom the open offer reaches, in calls dispatched in tiers (patch `offer-tiers`); `None`
    /// before the dispatch and in calls offered to their area alone.
    pub(super) reach: Option<Reach>,
    /// Patch `timeline-feed`: the search attributes carry `TimelineAt`.
    pub(super) timeline_feed: bool,
    /// Patch `hashed-mobile`: `CustomerMobile` holds the number's keyed hash, never the number.
    pub(super) hashed_mobile: bool,
    /// When the newest timeline event was recorded (workflow time).
    pub(super) changed_at: Option<SystemTime>,
}

/// Whom a call's open offer reaches (spec section 9, "Dispatch"): the available drivers of some
/// areas, or every available driver.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    /// The areas whose drivers see the offer, the call's own first.
    pub areas: Vec<String>,
    /// Every available driver sees it, whatever their areas.
    pub everyone: bool,
}

impl Reach {
    /// Whether a driver of `driver_areas` is offered the call.
    pub fn includes(&self, driver_areas: &[String]) -> bool {
        self.everyone
            || driver_areas.iter().any(|mine| {
                self.areas
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(mine.trim()))
            })
    }
}

/// What ends one of a tiered dispatch's timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TierStep {
    /// `OFFER_WINDOW` is over: the offer widens to the next tier (its index among the widenings).
    Widen(usize),
    /// `DISPATCH_TIMEOUT` is over: the call expires.
    Expire,
}

/// The timers of a tiered dispatch, one after the other: an `OFFER_WINDOW` for each of the
/// `widenings` that `DISPATCH_TIMEOUT` leaves room for, then what is left of the timeout. So only
/// one timer runs at a time, and the last one still ends the call at `DISPATCH_TIMEOUT`.
pub fn tier_timers(
    timeout: Duration,
    window: Duration,
    widenings: usize,
) -> Vec<(Duration, TierStep)> {
    let mut timers = Vec::with_capacity(widenings + 1);
    let mut left = timeout;
    for tier in 0..widenings {
        if window.is_zero() || left <= window {
            break;
        }
        timers.push((window, TierStep::Widen(tier)));
        left -= window;
    }
    timers.push((left, TierStep::Expire));
    timers
}

/// What the workflow knows of the call's payment.
#[derive(Debug, Default)]
pub(super) struct PaymentProgress {
    /// An approval was started, so a charge may exist: the refund compensation is registered.
    pub(super) attempted: bool,
    /// An approval is running right now.
    pub(super) in_flight: bool,
    /// The approved payment's id.
    pub(super) payment_id: Option<String>,
}

/// How the payment context answered an approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentAnswer {
    /// Approved: the payment's id.
    Approved(payment::ApprovePaymentResult),
    /// Refused as a business rule (terminal), for this reason.
    Rejected(String),
    /// No answer (gateway down, breaker open, timeout): the customer may pay again.
    Unavailable(String),
}

impl CallState {
    /// A call just requested.
    pub fn new(request: NewCall, policy: CallPolicy) -> Self {
        Self {
            request,
            policy,
            status: CallStatus::Created,
            payment: PaymentProgress::default(),
            driver: None,
            timeline: Vec::new(),
            saga_finished: false,
            caught_at: None,
            arrived_at: None,
            fee: None,
            reach: None,
            timeline_feed: false,
            hashed_mobile: false,
            changed_at: None,
        }
    }

    /// Where the call is in its life.
    pub fn status(&self) -> CallStatus {
        self.status
    }

    /// Records the request itself, the first event of every timeline, and the quote it was made
    /// with (calls made before quotes have none, so their timelines replay unchanged).
    pub fn made(&mut self, now: Option<SystemTime>) {
        let description = format!("Call made from {}", self.request.location.as_ref());
        self.record(now, EventName::CallMade, description);
        if let Some(quote) = &self.request.quote {
            let description = format!(
                "Quote {} accepted: fare {} KRW + tip {} KRW",
                quote.quote_id,
                quote.fare.get(),
                quote.tip.get()
            );
            self.record(now, EventName::QuoteAccepted, description);
        }
    }

    /// Moves the call on by `transition` and records its event; refused, nothing changes.
    pub fn apply(
        &mut self,
        now: Option<SystemTime>,
        transition: CallTransition,
        description: String,
    ) -> Result<(), TransitionRefused> {
        self.status = self.status.apply(transition)?;
        self.record(now, transition.event(), description);
        Ok(())
    }

    /// Adds an event that changes no status (a payment approved, refunded, an offer closed).
    pub fn record(&mut self, now: Option<SystemTime>, event: EventName, description: String) {
        self.changed_at = now;
        let at = humantime::format_rfc3339_millis(now.unwrap_or(UNIX_EPOCH)).to_string();
        let seq = u32::try_from(self.timeline.len()).map_or(u32::MAX, |n| n + 1);
        self.timeline.push(TimelineEvent {
            seq,
            event,
            at,
            description,
        });
    }

    /// The customer's cancel; whether it changed the call (a DRIVING or ended call stays as it is).
    /// After the grace, a caught call's cancel keeps the cancellation fee.
    pub fn cancel(&mut self, now: Option<SystemTime>, request: &CancelRequest) -> bool {
        let description = match request.reason.as_deref().map(str::trim) {
            Some(reason) if !reason.is_empty() => format!("Cancelled by the customer: {reason}"),
            _ => "Cancelled by the customer".to_owned(),
        };
        let fee = self.fee_due(now);
        let cancelled = self.apply(now, CallTransition::Cancel, description).is_ok();
        if cancelled {
            self.fee = fee;
        }
        cancelled
    }

    /// The fee a cancel at `now` would cost: none before the catch, within the grace, or in a call
    /// made before fees existed.
    fn fee_due(&self, now: Option<SystemTime>) -> Option<Krw> {
        let (fee, from) = self.cancellation_fee()?;
        (now.unwrap_or(UNIX_EPOCH) >= from).then_some(fee)
    }

    /// While the call is CAUGHT or ARRIVED under the fee rules: what a cancel costs, and from
    /// when; once a cancel or no-show kept it, the fee kept (so the cancel's answer says it).
    fn cancellation_fee(&self) -> Option<(Krw, SystemTime)> {
        let rules = self.policy.fees?;
        let open = matches!(self.status, CallStatus::Caught | CallStatus::Arrived);
        if !open && self.fee.is_none() {
            return None;
        }
        let from = self.caught_at? + Duration::from_secs(rules.cancel_grace_secs);
        Some((self.fee.or(self.kept_fee(rules.cancel_fee))?, from))
    }

    /// `CANCEL_FEE`, never more than the fare (the quoted fare, without the tip; without a quote,
    /// what the customer paid); `None` when that is nothing (`CANCEL_FEE=0`).
    fn kept_fee(&self, fee: Krw) -> Option<Krw> {
        let fare = self
            .request
            .quote
            .as_ref()
            .map_or(self.request.pay_amount, |quote| quote.fare);
        Some(fee.min(fare)).filter(|kept| kept.get() > 0)
    }

    /// Whether the driver may mark the customer a no-show now (only the call's driver, only when
    /// ARRIVED; the wait is the handler's to check, as it needs the time).
    pub fn check_no_show(&self, driver_id: &DriverId) -> Result<(), HandlerError> {
        if self.policy.fees.is_none() {
            return Err("this call was made before no-shows existed".into());
        }
        self.check_trip_step(driver_id, CallTransition::NoShow)
    }

    /// The driver marks the customer a no-show: after `NO_SHOW_WAIT` at the pickup, the call ends
    /// NO_SHOW and the fee is kept.
    pub fn no_show(
        &mut self,
        now: Option<SystemTime>,
        driver_id: &DriverId,
    ) -> Result<CallView, HandlerError> {
        self.check_no_show(driver_id)?;
        let rules = self.policy.fees.ok_or("no fee rules")?;
        let allowed_from = self.no_show_from().unwrap_or(UNIX_EPOCH);
        if now.unwrap_or(UNIX_EPOCH) < allowed_from {
            let at = humantime::format_rfc3339_seconds(allowed_from);
            return Err(
                format!("the customer may still come: a no-show is allowed from {at}").into(),
            );
        }
        let description = format!("The customer did not show up; driver {driver_id} waited");
        self.apply(now, CallTransition::NoShow, description)?;
        self.fee = self.kept_fee(rules.cancel_fee);
        Ok(self.view())
    }

    /// A deny by the catcher side or an operator; whether it changed the call.
    pub fn deny(&mut self, now: Option<SystemTime>, request: &DenyRequest) -> bool {
        let description = format!("Denied: {}", request.reason.trim());
        self.apply(now, CallTransition::Deny, description).is_ok()
    }

    /// Whether a `pay` may start now: the call is CREATED and no other approval is running.
    pub fn check_pay(&self) -> Result<(), HandlerError> {
        self.status.apply(CallTransition::PaymentApproved)?;
        if self.payment.in_flight {
            return Err("a payment for this call is already in progress".into());
        }
        Ok(())
    }

    /// An approval starts: from now on a charge may exist, so the refund is registered.
    pub fn begin_payment(&mut self) -> payment::ApprovePaymentInput {
        self.payment.in_flight = true;
        self.payment.attempted = true;
        payment::ApprovePaymentInput {
            call_id: self.request.call_id,
            mobile: self.request.mobile.clone(),
            pay_type: self.request.pay_type,
            pay_amount: self.request.pay_amount,
        }
    }

    /// The approval's answer moves the call on, and says what to tell the customer.
    pub fn on_payment_answer(
        &mut self,
        now: Option<SystemTime>,
        answer: PaymentAnswer,
    ) -> PayOutcome {
        self.payment.in_flight = false;
        match answer {
            PaymentAnswer::Approved(approved) => {
                let description = format!("Payment {} approved", approved.payment_id);
                self.record(now, EventName::PaymentApproved, description);
                self.payment.payment_id = Some(approved.payment_id);
                // A cancel or expiry that came while the approval ran stands; the payment lane
                // then refunds this charge.
                let paid = format!("Paid {} KRW", self.request.pay_amount.get());
                let _ = self.apply(now, CallTransition::PaymentApproved, paid);
                PayOutcome::Approved
            }
            PaymentAnswer::Rejected(reason) => {
                let description = format!("Payment rejected: {reason}");
                let _ = self.apply(now, CallTransition::PaymentRejected, description);
                PayOutcome::Rejected { reason }
            }
            PaymentAnswer::Unavailable(error) => PayOutcome::Unavailable {
                reason: format!("the payment service did not answer: {error}"),
            },
        }
    }

    /// Whether a driver's `catch` may win now: a valid driver, and the call DISPATCHED.
    pub fn check_catch(&self, request: &CatchRequest) -> Result<Driver, HandlerError> {
        let driver = self.check_winner(
            &request.driver_id,
            &request.driver_name,
            &request.driver_mobile,
        )?;
        let offered = match (&self.reach, &request.driver_areas) {
            (Some(reach), Some(areas)) => reach.includes(areas),
            _ => true,
        };
        if !offered {
            return Err(format!("the call is not offered to driver {}", driver.driver_id).into());
        }
        Ok(driver)
    }

    /// A driver wins the call.
    pub fn catch(
        &mut self,
        now: Option<SystemTime>,
        request: &CatchRequest,
    ) -> Result<CallView, HandlerError> {
        let driver = self.check_catch(request)?;
        self.win(now, driver)
    }

    /// Whether an operator may assign the call now: a valid driver, and the call DISPATCHED
    /// (whomever the offer reaches).
    pub fn check_assign(&self, request: &AssignRequest) -> Result<Driver, HandlerError> {
        self.check_winner(
            &request.driver_id,
            &request.driver_name,
            &request.driver_mobile,
        )
    }

    /// An operator gives the call to a driver: `CallAssigned`, then the catch itself.
    pub fn assign(
        &mut self,
        now: Option<SystemTime>,
        request: &AssignRequest,
    ) -> Result<CallView, HandlerError> {
        let driver = self.check_assign(request)?;
        let description = format!(
            "Assigned to {} ({}) by operator {}",
            driver.driver_name,
            driver.driver_id,
            request.operator.trim()
        );
        self.record(now, EventName::CallAssigned, description);
        self.win(now, driver)
    }

    fn check_winner(
        &self,
        driver_id: &str,
        driver_name: &str,
        driver_mobile: &Option<String>,
    ) -> Result<Driver, HandlerError> {
        let mut driver = Driver::parse(driver_id, driver_name)?;
        driver.driver_mobile = driver_mobile.clone();
        self.status.apply(CallTransition::Catch)?;
        Ok(driver)
    }

    /// `driver` wins the call (checked by the caller).
    fn win(&mut self, now: Option<SystemTime>, driver: Driver) -> Result<CallView, HandlerError> {
        let description = format!("Caught by {} ({})", driver.driver_name, driver.driver_id);
        self.apply(now, CallTransition::Catch, description)?;
        self.driver = Some(driver);
        self.caught_at = now;
        Ok(self.view())
    }

    /// Whom the offer reaches at each widening of a tiered dispatch: the neighbouring areas too
    /// (when the call's area has any), then every available driver. Empty for a call without an
    /// area from the tariff.
    pub fn widenings(&self) -> Vec<Reach> {
        let Some(area) = &self.request.area else {
            return Vec::new();
        };
        let mut areas = vec![area.area.clone()];
        let mut tiers = Vec::with_capacity(2);
        let neighbours: Vec<String> = area
            .neighbours
            .iter()
            .filter(|n| !areas.contains(n))
            .cloned()
            .collect();
        if !neighbours.is_empty() {
            areas.extend(neighbours);
            tiers.push(Reach {
                areas: areas.clone(),
                everyone: false,
            });
        }
        tiers.push(Reach {
            areas,
            everyone: true,
        });
        tiers
    }

    /// The offer opened to the drivers of the call's own area (the first tier).
    pub fn offered_in_area(&mut self) {
        let area = self.request.service_area();
        self.reach = Some(Reach {
            areas: vec![area],
            everyone: false,
        });
    }

    /// The offer widens to `to` from now on (the validator admits its drivers at once); returns
    /// what the catcher context is to record, and the `OfferWidened` description naming what was
    /// added.
    pub fn widen(&mut self, to: Reach) -> (catcher::WidenOfferInput, String) {
        let before = self.reach.clone().unwrap_or_default();
        let description = if to.everyone && !before.everyone {
            "Offer widened to every available driver".to_owned()
        } else {
            let added: Vec<&str> = to
                .areas
                .iter()
                .filter(|a| !before.areas.contains(a))
                .map(String::as_str)
                .collect();
            format!("Offer widened to {}", added.join(", "))
        };
        let input = catcher::WidenOfferInput {
            call_id: self.request.call_id,
            areas: to.areas.clone(),
            everyone: to.everyone,
        };
        self.reach = Some(to);
        (input, description)
    }

    /// Whether this driver's trip step may happen now: the call's driver, in the right status.
    pub fn check_trip_step(
        &self,
        driver_id: &DriverId,
        transition: CallTransition,
    ) -> Result<(), HandlerError> {
        self.status.apply(transition)?;
        match &self.driver {
            Some(driver) if &driver.driver_id == driver_id => Ok(()),
            _ => Err(format!("driver {driver_id} is not this call's driver").into()),
        }
    }

    /// The call's driver arrives, starts or completes the trip.
    pub fn trip_step(
        &mut self,
        now: Option<SystemTime>,
        driver_id: &DriverId,
        transition: CallTransition,
    ) -> Result<CallView, HandlerError> {
        self.check_trip_step(driver_id, transition)?;
        let description = match transition {
            CallTransition::Arrive => format!("Driver {driver_id} arrived"),
            CallTransition::StartTrip => "Trip started".to_owned(),
            _ => "Trip completed".to_owned(),
        };
        self.apply(now, transition, description)?;
        if transition == CallTransition::Arrive {
            self.arrived_at = now;
        }
        Ok(self.view())
    }

    /// Whether an offer was opened to drivers (the catcher context has something to close).
    pub fn reached_drivers(&self) -> bool {
        self.timeline
            .iter()
            .any(|e| e.event == EventName::CallReceived)
    }

    /// What the catcher context needs to offer the call.
    pub fn offer_input(&self) -> catcher::OfferCallInput {
        catcher::OfferCallInput {
            call_id: self.request.call_id,
            location: self.request.location.clone(),
            destination: self.request.destination.clone(),
            pay_amount: self.request.pay_amount,
            area: self.request.area.as_ref().map(|a| a.area.clone()),
        }
    }

    /// The timeline events from `projected` on, with the call's summary, for the read model.
    pub fn projection_input(&self, projected: usize) -> dashboard::ProjectTimelineInput {
        dashboard::ProjectTimelineInput {
            call_id: self.request.call_id,
            mobile: self.request.mobile.clone(),
            location: self.request.location.clone(),
            pay_amount: self.request.pay_amount,
            status: self.status,
            events: self.timeline[projected.min(self.timeline.len())..].to_vec(),
        }
    }

    /// The search attributes that let operators find the call.
    pub fn search_attributes(&self) -> Vec<SearchAttributeUpdate> {
        let mut attributes = vec![CALL_STATUS.value_set(self.status.as_str().to_owned())];
        if let Some(customer) = self.customer_key() {
            attributes.push(CUSTOMER_MOBILE.value_set(customer));
        }
        attributes.push(SERVICE_AREA.value_set(self.request.service_area()));
        // Unset is not a valid Keyword value on the server, so DriverId appears with the catch.
        if let Some(driver) = &self.driver {
            attributes.push(DRIVER_ID.value_set(driver.driver_id.to_string()));
        }
        if let Some(changed) = self.timeline_changed() {
            attributes.push(changed);
        }
        attributes
    }

    /// What `CustomerMobile` holds: under patch `hashed-mobile` the hash the API made the call
    /// with (none for a call started without one, by hand, so no number reaches visibility);
    /// before it, the number itself.
    fn customer_key(&self) -> Option<String> {
        if self.hashed_mobile {
            return self.request.mobile_hash.clone();
        }
        Some(self.request.mobile.as_ref().to_owned())
    }

    /// `TimelineAt` set to when the timeline last changed, in calls under patch `timeline-feed`.
    pub fn timeline_changed(&self) -> Option<SearchAttributeUpdate> {
        let at = self.changed_at.filter(|_| self.timeline_feed)?;
        Some(TIMELINE_AT.value_set(Timestamp::from(at)))
    }

    /// Whether `started` (the search attributes the workflow was started with) already holds
    /// what [`Self::search_attributes`] would upsert.
    pub fn started_with(&self, started: &SearchAttributes) -> bool {
        let wanted = SearchAttributes::new(self.search_attributes());
        [CALL_STATUS, CUSTOMER_MOBILE, SERVICE_AREA, DRIVER_ID]
            .iter()
            .all(|key| wanted.get(key) == started.get(key))
    }

    /// The call as its customer and driver see it.
    pub fn view(&self) -> CallView {
        CallView {
            call_id: self.request.call_id,
            status: self.status,
            mobile: self.request.mobile.clone(),
            location: self.request.location.clone(),
            destination: self.request.destination.clone(),
            pay_type: self.request.pay_type,
            pay_amount: self.request.pay_amount,
            payment_id: self.payment.payment_id.clone(),
            driver: self.driver.clone(),
            quote: self.request.quote.clone(),
            cancellation_fee: self
                .cancellation_fee()
                .map(|(amount, from)| CancellationFee {
                    amount,
                    applies_from: humantime::format_rfc3339_millis(from).to_string(),
                }),
            no_show_from: self
                .no_show_from()
                .map(|at| humantime::format_rfc3339_millis(at).to_string()),
            timeline: self.timeline.clone(),
        }
    }

    /// While ARRIVED under the fee rules: when `NO_SHOW_WAIT` is over.
    fn no_show_from(&self) -> Option<SystemTime> {
        let rules = self.policy.fees?;
        if self.status != CallStatus::Arrived {
            return None;
        }
        Some(self.arrived_at? + Duration::from_secs(rules.no_show_wait_secs))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::domain::{CallId, DriverId, Krw, Location, MobileNumber, PayType};
    use crate::driver_call::FeePolicy;

    fn call() -> CallState {
        let request = NewCall {
            call_id: CallId::from_uuid(uuid::Uuid::nil()),
            mobile: MobileNumber::parse("010-1234-5678").unwrap(),
            location: Location::parse("Mapo Hapjeong").unwrap(),
            destination: Some("Home".to_owned()),
            pay_type: PayType::Card,
            pay_amount: Krw::new(15000).unwrap(),
            quote: None,
            area: None,
            mobile_hash: Some("5eed".repeat(16)),
        };
        let mut state = CallState::new(request, CallPolicy::DEFAULT);
        state.made(at(0));
        state
    }

    fn at(secs: u64) -> Option<SystemTime> {
        Some(UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs))
    }

    fn approved() -> PaymentAnswer {
        PaymentAnswer::Approved(payment::ApprovePaymentResult {
            payment_id: "pay-1".to_owned(),
            status: payment::PaymentStatus::Approved,
        })
    }

    fn kim() -> CatchRequest {
        CatchRequest {
            driver_id: "d-kim".to_owned(),
            driver_name: "Kim".to_owned(),
            driver_mobile: Some("010-****-1234".to_owned()),
            driver_areas: None,
        }
    }

    fn events(state: &CallState) -> Vec<&'static str> {
        state.timeline.iter().map(|e| e.event.as_str()).collect()
    }

    fn dispatched() -> CallState {
        let mut state = call();
        state.begin_payment();
        state.on_payment_answer(at(1), approved());
        state
            .apply(at(2), CallTransition::Dispatched, "offered".into())
            .unwrap();
        state
    }

    #[test]
    fn a_whole_trip_writes_the_spec_timeline_in_order() {
        let mut state = dispatched();
        state.catch(at(3), &kim()).unwrap();
        let driver = DriverId::parse("d-kim").unwrap();
        for (i, step) in [
            CallTransition::Arrive,
            CallTransition::StartTrip,
            CallTransition::Complete,
        ]
        .into_iter()
        .enumerate()
        {
            let view = state.trip_step(at(4 + i as u64), &driver, step).unwrap();
            assert_eq!(view.status, step.target());
        }
        assert_eq!(
            events(&state),
            [
                "CallMade",
                "PaymentApproved",
                "CallPayed",
                "CallReceived",
                "CallCaught",
                "DriverArrived",
                "TripStarted",
                "TripCompleted"
            ]
        );
        let view = state.view();
        assert_eq!(view.status, CallStatus::Completed);
        assert_eq!(view.payment_id.as_deref(), Some("pay-1"));
        let seqs: Vec<u32> = view.timeline.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=8).collect::<Vec<_>>());
        assert_eq!(view.timeline[0].at, "2027-01-15T08:00:00.000Z");
        assert_eq!(view.timeline[0].description, "Call made from Mapo Hapjeong");
    }

    #[test]
    fn only_one_payment_runs_at_a_time_and_a_paid_call_is_not_paid_again() {
        let mut state = call();
        state.check_pay().unwrap();
        let input = state.begin_payment();
        assert_eq!(input.pay_amount.get(), 15000);
        let refused = state.check_pay().unwrap_err().to_string();
        assert_eq!(refused, "a payment for this call is already in progress");
        assert_eq!(
            state.on_payment_answer(at(1), approved()),
            PayOutcome::Approved
        );
        assert_eq!(
            state.check_pay().unwrap_err().to_string(),
            "a PAID call cannot be paid"
        );
    }

    #[test]
    fn a_rejection_ends_the_call_and_an_outage_leaves_it_payable() {
        let mut state = call();
        state.begin_payment();
        let outcome = state.on_payment_answer(at(1), PaymentAnswer::Unavailable("timeout".into()));
        assert_eq!(
            outcome,
            PayOutcome::Unavailable {
                reason: "the payment service did not answer: timeout".into()
            }
        );
        assert_eq!(state.status(), CallStatus::Created);
        assert!(state.check_pay().is_ok(), "the customer may pay again");
        assert_eq!(events(&state), ["CallMade"]);

        state.begin_payment();
        let rejected = PaymentAnswer::Rejected("below the minimum".into());
        state.on_payment_answer(at(2), rejected);
        assert_eq!(state.status(), CallStatus::PaymentRejected);
        assert!(
            state.payment.attempted,
            "the refund of an unconfirmed charge is registered"
        );
        assert_eq!(events(&state), ["CallMade", "PaymentRejected"]);
        assert_eq!(
            state.timeline[1].description,
            "Payment rejected: below the minimum"
        );
    }

    #[test]
    fn a_cancel_during_the_approval_stands_and_the_charge_is_still_recorded() {
        let mut state = call();
        state.begin_payment();
        assert!(state.cancel(
            at(1),
            &CancelRequest {
                reason: Some(" changed my mind ".into())
            }
        ));
        state.on_payment_answer(at(2), approved());
        assert_eq!(state.status(), CallStatus::Cancelled);
        assert_eq!(
            events(&state),
            ["CallMade", "CallCancelled", "PaymentApproved"]
        );
        assert_eq!(
            state.timeline[1].description,
            "Cancelled by the customer: changed my mind"
        );
        assert_eq!(state.view().payment_id.as_deref(), Some("pay-1"));
    }

    #[test]
    fn the_first_catch_wins_and_only_its_driver_runs_the_trip() {
        let mut state = dispatched();
        state.catch(at(3), &kim()).unwrap();
        let lee = CatchRequest {
            driver_id: "d-lee".into(),
            driver_name: "Lee".into(),
            driver_mobile: None,
            driver_areas: None,
        };
        assert_eq!(
            state.check_catch(&lee).unwrap_err().to_string(),
            "a CAUGHT call cannot be caught"
        );
        let lee = DriverId::parse("d-lee").unwrap();
        let refused = state.trip_step(at(4), &lee, CallTransition::Arrive);
        assert_eq!(
            refused.unwrap_err().to_string(),
            "driver d-lee is not this call's driver"
        );
        let kim = DriverId::parse("d-kim").unwrap();
        let early = state.check_trip_step(&kim, CallTransition::Complete);
        assert_eq!(
            early.unwrap_err().to_string(),
            "a CAUGHT call cannot complete its trip"
        );
        assert_eq!(state.status(), CallStatus::Caught);
    }

    #[test]
    fn a_driving_call_refuses_cancel_and_deny_and_records_nothing() {
        let mut state = dispatched();
        state.catch(at(3), &kim()).unwrap();
        let kim = DriverId::parse("d-kim").unwrap();
        state
            .trip_step(at(4), &kim, CallTransition::Arrive)
            .unwrap();
        state
            .trip_step(at(5), &kim, CallTransition::StartTrip)
            .unwrap();
        let before = state.timeline.len();
        assert!(!state.cancel(at(6), &CancelRequest { reason: None }));
        assert!(!state.deny(at(6), &DenyRequest { reason: "x".into() }));
        assert_eq!(state.timeline.len(), before);
        assert_eq!(state.status(), CallStatus::Driving);
    }

    #[test]
    fn a_cancel_within_the_grace_is_free_and_after_it_keeps_the_fee() {
        // CallPolicy::DEFAULT: 120 s of grace, 5000 KRW; the call costs 15000.
        let mut free = dispatched();
        free.catch(at(10), &kim()).unwrap();
        let fee = free
            .view()
            .cancellation_fee
            .expect("a fee notice while CAUGHT");
        assert_eq!(fee.amount.get(), 5000);
        assert_eq!(fee.applies_from, "2027-01-15T08:02:10.000Z");
        assert!(free.cancel(at(129), &CancelRequest::default()));
        assert_eq!(free.fee, None);
        assert_eq!(free.view().cancellation_fee, None, "nothing kept");

        let mut late = dispatched();
        late.catch(at(10), &kim()).unwrap();
        assert!(late.cancel(at(130), &CancelRequest::default()));
        assert_eq!(late.fee, Some(Krw::new(5000).unwrap()));
        let kept = late
            .view()
            .cancellation_fee
            .expect("the fee kept, on the answer");
        assert_eq!(kept.amount.get(), 5000);
    }

    #[test]
    fn the_fee_is_never_more_than_the_fare_and_calls_without_fee_rules_keep_nothing() {
        let mut cheap = dispatched();
        cheap.request.pay_amount = Krw::new(3000).unwrap();
        cheap.catch(at(10), &kim()).unwrap();
        assert!(cheap.cancel(at(500), &CancelRequest::default()));
        assert_eq!(cheap.fee, Some(Krw::new(3000).unwrap()));

        // A tip is not part of the fare the fee is capped at.
        let mut tipped = dispatched();
        tipped.request.pay_amount = Krw::new(6000).unwrap();
        tipped.request.quote = Some(crate::domain::AcceptedQuote {
            quote_id: "q".to_owned(),
            fare: Krw::new(4000).unwrap(),
            tip: Krw::new(2000).unwrap(),
            breakdown: Vec::new(),
        });
        tipped.catch(at(10), &kim()).unwrap();
        assert!(tipped.cancel(at(500), &CancelRequest::default()));
        assert_eq!(tipped.fee, Some(Krw::new(4000).unwrap()));

        // CANCEL_FEE=0: no fee at all, and no notice.
        let mut free = dispatched();
        free.policy.fees = Some(FeePolicy {
            cancel_fee: Krw::new(0).unwrap(),
            ..FeePolicy::DEFAULT
        });
        free.catch(at(10), &kim()).unwrap();
        assert_eq!(free.view().cancellation_fee, None);
        assert!(free.cancel(at(500), &CancelRequest::default()));
        assert_eq!(free.fee, None);

        let mut old = dispatched();
        old.policy.fees = None;
        old.catch(at(10), &kim()).unwrap();
        assert_eq!(old.view().cancellation_fee, None);
        assert!(old.cancel(at(500), &CancelRequest::default()));
        assert_eq!(old.fee, None);
        let kim = DriverId::parse("d-kim").unwrap();
        assert!(old.check_no_show(&kim).is_err());
    }

    #[test]
    fn only_the_arrived_driver_marks_a_no_show_and_only_after_the_wait() {
        let mut state = dispatched();
        state.catch(at(10), &kim()).unwrap();
        let kim = DriverId::parse("d-kim").unwrap();
        let lee = DriverId::parse("d-lee").unwrap();
        assert!(state.no_show(at(20), &kim).is_err(), "not arrived yet");
        state
            .trip_step(at(20), &kim, CallTransition::Arrive)
            .unwrap();
        assert!(state.check_no_show(&lee).is_err(), "another driver");
        let early = state.no_show(at(619), &kim).unwrap_err();
        assert!(early.to_string().contains("may still come"), "{early}");
        assert_eq!(state.status(), CallStatus::Arrived);
        let view = state.no_show(at(620), &kim).unwrap();
        assert_eq!(view.status, CallStatus::NoShow);
        assert_eq!(state.fee, Some(Krw::new(5000).unwrap()));
        assert_eq!(state.timeline.last().unwrap().event, EventName::NoShow);
    }

    #[test]
    fn search_attributes_follow_the_call_and_name_the_driver_once_caught() {
        let mut state = dispatched();
        assert_eq!(
            state.search_attributes().len(),
            3,
            "no DriverId before the catch"
        );
        state.catch(at(3), &kim()).unwrap();
        let attributes = format!("{:?}", state.search_attributes());
        assert_eq!(state.search_attributes().len(), 4);
        for (name, kind) in SEARCH_ATTRIBUTES {
            let timeline_at = name == "TimelineAt";
            assert_eq!(
                attributes.contains(&format!("\"{name}\"")),
                !timeline_at,
                "{attributes}"
            );
            assert_eq!(kind == "Datetime", timeline_at);
        }
        state.timeline_feed = true;
        let attributes = format!("{:?}", state.search_attributes());
        assert_eq!(state.search_attributes().len(), 5);
        assert!(attributes.contains("\"TimelineAt\""), "{attributes}");
    }

    #[test]
    fn under_the_hash_patch_customer_mobile_holds_the_hash_never_the_number() {
        let mut state = dispatched();
        let number = state.request.mobile.as_ref().to_owned();
        let published = |state: &CallState| {
            SearchAttributes::new(state.search_attributes()).get(&CUSTOMER_MOBILE)
        };
        assert_eq!(published(&state), Some(number.clone()), "before the patch");
        state.hashed_mobile = true;
        assert_eq!(published(&state), Some("5eed".repeat(16)));
        assert!(!format!("{:?}", state.search_attributes()).contains(&number));
        state.request.mobile_hash = None;
        assert_eq!(
            published(&state),
            None,
            "started by hand: no number, no hash"
        );
    }

    #[test]
    fn a_call_started_with_its_search_attributes_needs_no_upsert_until_it_moves() {
        let started = SearchAttributes::new(call().search_attributes());
        assert!(call().started_with(&started));
        assert!(!call().started_with(&SearchAttributes::default()));
        assert!(!dispatched().started_with(&started), "DISPATCHED differs");
    }

    #[test]
    fn the_projection_sends_only_events_not_yet_projected() {
        let state = dispatched();
        let input = state.projection_input(2);
        let sent: Vec<u32> = input.events.iter().map(|e| e.seq).collect();
        assert_eq!(sent, [3, 4]);
        assert_eq!(input.status, CallStatus::Dispatched);
        assert!(state.projection_input(99).events.is_empty());
        assert!(state.reached_drivers());
    }

    fn tiered() -> CallState {
        let mut state = call();
        state.request.area = Some(crate::domain::CallArea {
            area: "mapo".to_owned(),
            neighbours: vec!["dongjak".to_owned(), "jongro".to_owned()],
        });
        state.begin_payment();
        state.on_payment_answer(at(1), approved());
        state
            .apply(at(2), CallTransition::Dispatched, "offered".into())
            .unwrap();
        state.offered_in_area();
        state
    }

    fn driver_of(id: &str, areas: &[&str]) -> CatchRequest {
        CatchRequest {
            driver_id: id.to_owned(),
            driver_name: id.to_owned(),
            driver_mobile: None,
            driver_areas: Some(areas.iter().map(|a| (*a).to_owned()).collect()),
        }
    }

    #[test]
    fn tier_timers_widen_each_window_and_still_end_at_the_dispatch_timeout() {
        let s = Duration::from_secs;
        assert_eq!(
            tier_timers(s(600), s(30), 2),
            [
                (s(30), TierStep::Widen(0)),
                (s(30), TierStep::Widen(1)),
                (s(540), TierStep::Expire)
            ]
        );
        // A timeout shorter than the windows cuts the tiers short.
        assert_eq!(
            tier_timers(s(45), s(30), 2),
            [(s(30), TierStep::Widen(0)), (s(15), TierStep::Expire)]
        );
        assert_eq!(tier_timers(s(30), s(30), 2), [(s(30), TierStep::Expire)]);
        assert_eq!(tier_timers(s(600), s(0), 2), [(s(600), TierStep::Expire)]);
        let total: Duration = tier_timers(s(100), s(30), 2).iter().map(|t| t.0).sum();
        assert_eq!(total, s(100));
    }

    #[test]
    fn only_the_current_tiers_drivers_may_catch_and_each_widening_names_what_it_adds() {
        let mut state = tiered();
        let widenings = state.widenings();
        assert_eq!(widenings.len(), 2);
        let kangnam = driver_of("d-kang", &["kangnam"]);
        let dongjak = driver_of("d-dong", &["Dongjak"]);
        assert!(state.check_catch(&kangnam).is_err());
        assert!(state.check_catch(&dongjak).is_err());
        assert!(
            state
                .check_catch(&driver_of("d-mapo", &["ilsan", "mapo"]))
                .is_ok()
        );

        let (input, description) = state.widen(widenings[0].clone());
        assert_eq!(description, "Offer widened to dongjak, jongro");
        assert_eq!(input.areas, ["mapo", "dongjak", "jongro"]);
        assert!(!input.everyone);
        assert!(state.check_catch(&dongjak).is_ok());
        let refused = state.check_catch(&kangnam).unwrap_err().to_string();
        assert_eq!(refused, "the call is not offered to driver d-kang");

        let (input, description) = state.widen(widenings[1].clone());
        assert_eq!(description, "Offer widened to every available driver");
        assert!(input.everyone);
        assert!(state.check_catch(&kangnam).is_ok());
        // A catch without areas (a client from before tiers) is not held to them.
        assert!(state.check_catch(&kim()).is_ok());
    }

    #[test]
    fn an_area_without_neighbours_widens_straight_to_everyone_and_old_calls_not_at_all() {
        let mut state = tiered();
        state.request.area.as_mut().unwrap().neighbours.clear();
        assert_eq!(
            state.widenings(),
            [Reach {
                areas: vec!["mapo".to_owned()],
                everyone: true
            }]
        );
        assert!(dispatched().widenings().is_empty());
    }

    #[test]
    fn an_assign_records_call_assigned_then_the_catch_and_only_while_dispatched() {
        let mut state = tiered();
        let request = AssignRequest {
            driver_id: "d-kang".to_owned(),
            driver_name: "Kang".to_owned(),
            driver_mobile: None,
            operator: "ops".to_owned(),
        };
        let view = state.assign(at(5), &request).unwrap();
        assert_eq!(view.status, CallStatus::Caught);
        let last: Vec<_> = view
            .timeline
            .iter()
            .rev()
            .take(2)
            .map(|e| e.event)
            .collect();
        assert_eq!(last, [EventName::CallCaught, EventName::CallAssigned]);
        assert_eq!(
            view.timeline[view.timeline.len() - 2].description,
            "Assigned to Kang (d-kang) by operator ops"
        );
        assert_eq!(
            state.check_assign(&request).unwrap_err().to_string(),
            "a CAUGHT call cannot be caught"
        );
        assert_eq!(
            state.check_catch(&kim()).unwrap_err().to_string(),
            "a CAUGHT call cannot be caught"
        );
    }
}
