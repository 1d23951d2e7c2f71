//! The value types a call is made of. Each is parsed once (`parse` / `TryFrom`) and then trusted.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::DomainError;

pub(super) const MAX_TEXT_LEN: usize = 200;
pub(super) const MAX_ID_LEN: usize = 64;

/// A call's identity; the workflow id is `call-{callId}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(value_type = String, format = "uuid")
)]
pub struct CallId(Uuid);

impl CallId {
    /// Parses a call id from its textual UUID form.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Uuid::parse_str(s.trim())
            .map(Self)
            .map_err(|_| DomainError::InvalidCallId(s.to_owned()))
    }

    /// Wraps a UUID that a client generated (the API does; workflow code never generates ids).
    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    /// Which of `shards` shards the call belongs to (the dashboard workers share the calls by
    /// it): the id's low bits, random in every UUID the API makes.
    pub fn shard(&self, shards: u32) -> u32 {
        u32::try_from(self.0.as_u128() % u128::from(shards.max(1))).unwrap_or(0)
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl TryFrom<String> for CallId {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<CallId> for String {
    fn from(id: CallId) -> Self {
        id.to_string()
    }
}

/// A customer's mobile number, kept as digits only (a leading `+` survives) so that
/// `010-1234-5678` and `01012345678` are the same customer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(
        value_type = String,
        pattern = r"^\+?(?:[ -]*[0-9]){8,15}[ -]*$",
        example = "01012345678"
    )
)]
pub struct MobileNumber(String);

impl MobileNumber {
    /// Parses and normalises a mobile number.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let invalid = || DomainError::InvalidMobile(s.to_owned());
        let trimmed = s.trim();
        let (plus, rest) = match trimmed.strip_prefix('+') {
            Some(rest) => ("+", rest),
            None => ("", trimmed),
        };
        if !rest
            .chars()
            .all(|c| c.is_ascii_digit() || c == '-' || c == ' ')
        {
            return Err(invalid());
        }
        let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
        if !(8..=15).contains(&digits.len()) {
            return Err(invalid());
        }
        Ok(Self(format!("{plus}{digits}")))
    }
}

impl AsRef<str> for MobileNumber {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for MobileNumber {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<MobileNumber> for String {
    fn from(m: MobileNumber) -> Self {
        m.0
    }
}

/// Where the customer is waiting with their car, e.g. `Kangnam station exit 5`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(value_type = String, pattern = r"\S", example = "Kangnam station exit 5")
)]
pub struct Location(String);

impl Location {
    /// Parses a pickup location: trimmed, non-empty, at most 200 characters.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let trimmed = s.trim();
        if trimmed.is_empty() || trimmed.chars().count() > MAX_TEXT_LEN {
            return Err(DomainError::InvalidLocation);
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The service area the location lies in: its first word, lower-cased
    /// (`"Kangnam station exit 5"` is in `kangnam`). Service areas are matched case-insensitively.
    pub fn service_area(&self) -> String {
        super::tariff::first_word(&self.0)
    }
}

impl AsRef<str> for Location {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Location {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Location> for String {
    fn from(l: Location) -> Self {
        l.0
    }
}

/// How the customer pays the pre-paid fare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PayType {
    /// Card payment through the payment gateway.
    Card,
    /// Cash, still recorded in the payments ledger so that refunds work the same way.
    Cash,
}

impl PayType {
    /// The spec's spelling (`CARD`, `CASH`).
    pub fn as_str(self) -> &'static str {
        match self {
            PayType::Card => "CARD",
            PayType::Cash => "CASH",
        }
    }
}

impl std::str::FromStr for PayType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "CARD" => Ok(PayType::Card),
            "CASH" => Ok(PayType::Cash),
            other => Err(format!("unknown payType `{other}`")),
        }
    }
}

/// An amount of Korean won. KRW has no minor unit, so a whole number is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(value_type = u64)
)]
pub struct Krw(i64);

impl Krw {
    /// The spec's `CANCEL_FEE`.
    pub const DEFAULT_CANCEL_FEE: Krw = Krw(5000);

    /// Parses an amount; negative amounts are refused.
    pub fn new(amount: i64) -> Result<Self, DomainError> {
        if amount < 0 {
            return Err(DomainError::NegativeAmount(amount));
        }
        Ok(Self(amount))
    }

    /// The amount as a plain number of won.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for Krw {
    type Error = DomainError;
    fn try_from(v: i64) -> Result<Self, Self::Error> {
        Self::new(v)
    }
}

impl From<Krw> for i64 {
    fn from(k: Krw) -> Self {
        k.0
    }
}

/// A driver's id in the driver app.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(value_type = String, example = "d-1")
)]
pub struct DriverId(String);

impl DriverId {
    /// Parses a driver id: trimmed, 1 to 64 characters.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let trimmed = s.trim();
        if trimmed.is_empty() || trimmed.chars().count() > MAX_ID_LEN {
            return Err(DomainError::InvalidDriverId);
        }
        Ok(Self(trimmed.to_owned()))
    }
}

impl AsRef<str> for DriverId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DriverId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for DriverId {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<DriverId> for String {
    fn from(d: DriverId) -> Self {
        d.0
    }
}

/// The driver who caught a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Driver {
    /// The driver's id.
    pub driver_id: DriverId,
    /// The name the customer sees.
    pub driver_name: String,
    /// The driver's number as the customer sees it, masked (`010-****-1234`); catches made
    /// before drivers had accounts carry none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_mobile: Option<String>,
}

impl Driver {
    /// Builds a driver from raw parts, validating both.
    pub fn parse(driver_id: &str, driver_name: &str) -> Result<Self, DomainError> {
        let name = driver_name.trim();
        if name.is_empty() || name.chars().count() > MAX_TEXT_LEN {
            return Err(DomainError::InvalidDriverName);
        }
        Ok(Self {
            driver_id: DriverId::parse(driver_id)?,
            driver_name: name.to_owned(),
            driver_mobile: None,
        })
    }

    /// The driver with the (masked) number the customer sees.
    pub fn with_mobile(mut self, masked: String) -> Self {
        self.driver_mobile = Some(masked);
        self
    }
}

/// A validated request for a designated driver: the input of `DriverCallWorkflow`'s call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewCall {
    /// The call's id.
    pub call_id: CallId,
    /// The customer's mobile number.
    pub mobile: MobileNumber,
    /// Where the driver picks the customer (and the car) up.
    pub location: Location,
    /// Where the customer is going, if they said.
    pub destination: Option<String>,
    /// How the fare is pre-paid.
    pub pay_type: PayType,
    /// What the customer pre-pays: the quote's fare plus the tip, or (without a quote) the amount
    /// the client sent.
    pub pay_amount: Krw,
    /// The quote the call was made with, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<super::AcceptedQuote>,
    /// Where the call is dispatched, from the tariff's places; calls made before places had
    /// areas have none, and are dispatched by the first word of their location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<CallArea>,
    /// The keyed hash of the customer's number (HMAC-SHA-256, hex) that the call's
    /// `CustomerMobile` search attribute holds, so visibility never indexes the number. The API
    /// computes it (the workflow holds no key); calls made before numbers were hashed have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile_hash: Option<String>,
}

/// Where a call is dispatched (spec section 9, "Places and areas"): its pickup place's service
/// area and the areas neighbouring it, from the tariff when the call was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallArea {
    /// The service area of the pickup place (lower-case).
    pub area: String,
    /// The areas neighbouring it (lower-case), offered to after the first `OFFER_WINDOW`.
    #[serde(default)]
    pub neighbours: Vec<String>,
}

impl NewCall {
    /// The service area the call is dispatched in: its place's, or (calls made before places had
    /// areas) the first word of its location.
    pub fn service_area(&self) -> String {
        match &self.area {
            Some(area) => area.area.clone(),
            None => self.location.service_area(),
        }
    }

    /// Checks a free-text destination (optional; blank means none).
    pub fn parse_destination(s: Option<&str>) -> Result<Option<String>, DomainError> {
        let Some(trimmed) = s.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        if trimmed.chars().count() > MAX_TEXT_LEN {
            return Err(DomainError::InvalidDestination);
        }
        Ok(Some(trimmed.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobile_numbers_are_normalised_to_digits() {
        assert_eq!(
            MobileNumber::parse("010-1234-5678").unwrap().as_ref(),
            "01012345678"
        );
        assert_eq!(
            MobileNumber::parse("+82 10 1234 5678").unwrap().as_ref(),
            "+821012345678"
        );
    }

    #[test]
    fn mobile_numbers_with_letters_or_wrong_length_are_rejected() {
        for bad in ["", "abc", "010-1234-567a", "1234", "0101234567812345678"] {
            assert!(MobileNumber::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn service_area_is_the_first_word_lower_cased() {
        let loc = Location::parse("  Kangnam station exit 5 ").unwrap();
        assert_eq!(loc.service_area(), "kangnam");
        assert_eq!(
            Location::parse("MAPO,Hapjeong").unwrap().service_area(),
            "mapo"
        );
    }

    #[test]
    fn empty_location_is_rejected() {
        assert_eq!(Location::parse("   "), Err(DomainError::InvalidLocation));
    }

    #[test]
    fn negative_money_is_rejected_and_zero_is_not() {
        assert!(Krw::new(-1).is_err());
        assert_eq!(Krw::new(0).unwrap().get(), 0);
    }

    #[test]
    fn call_ids_round_trip_through_json() {
        let id = CallId::parse("6f1c1a0e-4d7e-4a55-9a57-2a8f7e3c1b00").unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<CallId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<CallId>("\"nope\"").is_err());
    }

    #[test]
    fn blank_destination_means_none() {
        assert_eq!(NewCall::parse_destination(Some("  ")).unwrap(), None);
        assert_eq!(
            NewCall::parse_destination(Some(" Home "))
                .unwrap()
                .as_deref(),
            Some("Home")
        );
    }
}
