//! The tariff that prices a quote (spec §9 "Quote"): a fare table operators edit (`FARE_TABLE`,
//! TOML; [`Tariff::builtin`] when unset) of a base fare, a per-km rate on the road distance between
//! two known places, a late-night surcharge by the hour in `Asia/Seoul`, rounding to 1000 KRW and
//! a minimum. Pure apart from [`Tariff::load`] reading the file.
//!
//! ```text
//! distance  = haversine(pickup, destination) x road_factor, to 0.1 km
//! base      + per_km x distance
//! surcharge = percent of that, when start_hour <= Seoul hour < end_hour (wrapping midnight)
//! rounding  = to the nearest 1000 KRW, half up
//! minimum   = whatever lifts it to max(minimum_fare, the caller's minimum)
//! ```
//! Each step is a [`FareItem`] in integer KRW, so the breakdown adds up to the fare exactly.

use std::ops::Range;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use super::Krw;
use jiff::Timestamp;
use jiff::tz::{Offset, TimeZone};
use serde::{Deserialize, Serialize};
use toml::Spanned;

/// The fare table compiled into the binary, used when `FARE_TABLE` is not set.
const BUILTIN_TABLE: &str = include_str!("default-fare-table.toml");

/// Mean Earth radius (IUGG), in km.
const EARTH_RADIUS_KM: f64 = 6371.0088;
/// Fares are rounded to this many won.
const ROUNDING_UNIT: i64 = 1000;
/// `road_factor` when the table leaves it out.
const DEFAULT_ROAD_FACTOR: f64 = 1.3;
/// The late-night window when the table has no `[late_night]`.
const DEFAULT_LATE_NIGHT: LateNight = LateNight {
    start_hour: 22,
    end_hour: 4,
    percent: 20,
};
/// The largest amount a table may hold: anything above is a typo, and the cap keeps every
/// product in the fare far from overflowing an i64.
const MAX_AMOUNT: i64 = 100_000_000;
/// The largest `road_factor` a table may hold.
const MAX_ROAD_FACTOR: f64 = 10.0;
/// The largest late-night `percent` a table may hold.
const MAX_PERCENT: i64 = 300;

/// The time zone whose clock decides the late-night surcharge.
const SEOUL: &str = "Asia/Seoul";

/// Prices quotes from a validated fare table.
#[derive(Debug, Clone)]
pub struct Tariff {
    base_fare: i64,
    per_km: i64,
    road_factor: f64,
    minimum_fare: Krw,
    late_night: LateNight,
    places: Vec<Place>,
    /// Pairs of neighbouring areas, each pair once, as the table lists them.
    neighbours: Vec<(String, String)>,
    seoul: TimeZone,
}

/// A place the tariff knows: what customers type, its service area and where it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Place {
    /// The name customers type, as the table spells it.
    pub name: String,
    /// The name the apps show beside it (Korean); the name itself when the table gives none.
    pub label: String,
    /// The service area (one lower-case word) whose drivers the place belongs to.
    pub area: String,
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
}

pub use super::FareItem;

/// A priced trip: the fare, the road distance it charged and the breakdown that adds up to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Fare {
    /// What the customer pays.
    pub fare: Krw,
    /// The road distance charged, in km to one decimal.
    pub distance_km: f64,
    /// The steps of the fare, in order; their amounts add up to `fare`.
    pub breakdown: Vec<FareItem>,
}

/// Why a tariff could not be loaded or a quote priced.
#[derive(Debug, thiserror::Error)]
pub enum TariffError {
    /// The pickup or destination starts with no place name the tariff knows.
    #[error("`{place}` is not a place the tariff knows; known places: {}", .known.join(", "))]
    UnknownPlace {
        /// The text as given (trimmed).
        place: String,
        /// Every place name of the tariff, sorted ignoring case.
        known: Vec<String>,
    },
    /// The fare table is not valid TOML or holds a value the tariff refuses.
    #[error("FARE_TABLE line {line}: {message}")]
    Table {
        /// The 1-based line of the offending item.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// The fare table file could not be read.
    #[error("cannot read FARE_TABLE `{path}`")]
    Io {
        /// The file's path.
        path: String,
        /// The read error.
        source: std::io::Error,
    },
}

/// When the late-night surcharge applies, and how much it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LateNight {
    start_hour: u8,
    end_hour: u8,
    percent: i64,
}

impl LateNight {
    /// Whether `hour` is in `[start_hour, end_hour)`, wrapping past midnight (empty when equal).
    fn applies(&self, hour: u8) -> bool {
        if self.start_hour <= self.end_hour {
            (self.start_hour..self.end_hour).contains(&hour)
        } else {
            hour >= self.start_hour || hour < self.end_hour
        }
    }
}

impl Tariff {
    /// The built-in tariff (`default-fare-table.toml`), used when `FARE_TABLE` is not set.
    pub fn builtin() -> Tariff {
        // The table is a compile-time constant; `builtin_table_parses` proves this never fires.
        Self::parse(BUILTIN_TABLE).expect("the built-in fare table is valid")
    }

    /// Parses and validates a fare table; errors name the line of the offending item.
    pub fn parse(text: &str) -> Result<Tariff, TariffError> {
        let raw: RawTable = toml::from_str(text).map_err(|e| TariffError::Table {
            line: line_of(text, e.span()),
            message: e.message().trim().to_owned(),
        })?;
        raw.validate(text)
    }

    /// The tariff in the `FARE_TABLE` file at `path`, or the built-in one when there is none.
    pub fn load(path: Option<&Path>) -> Result<Tariff, TariffError> {
        let Some(path) = path else {
            return Ok(Self::builtin());
        };
        let text = std::fs::read_to_string(path).map_err(|source| TariffError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    /// The place `text` names: ignoring case, the place whose name is the longest prefix of
    /// `text` ending at a word boundary ("Kangnam station exit 5" is "Kangnam station").
    pub fn place(&self, text: &str) -> Result<&Place, TariffError> {
        let wanted = match_key(text);
        self.places
            .iter()
            .map(|place| (match_key(&place.name), place))
            .filter(|(key, _)| starts_with_word(&wanted, key))
            .max_by_key(|(key, _)| key.len())
            .map(|(_, place)| place)
            .ok_or_else(|| {
                let mut known: Vec<String> = self.places.iter().map(|p| p.name.clone()).collect();
                known.sort_by_cached_key(|name| (name.to_lowercase(), name.clone()));
                TariffError::UnknownPlace {
                    place: text.trim().to_owned(),
                    known,
                }
            })
    }

    /// The service area a call from `location` is in (spec section 9, "Places and areas"): its
    /// place's area when it names one of the tariff's places (longest name first), otherwise the
    /// first word of the text, lower-cased.
    pub fn area_of(&self, location: &str) -> String {
        match self.place(location) {
            Ok(place) => place.area.clone(),
            Err(_) => first_word(location),
        }
    }

    /// The areas that neighbour `area` (lower-case), in the table's order.
    pub fn neighbours(&self, area: &str) -> Vec<String> {
        let area = area.trim().to_lowercase();
        self.neighbours
            .iter()
            .filter_map(|(a, b)| match () {
                _ if *a == area => Some(b.clone()),
                _ if *b == area => Some(a.clone()),
                _ => None,
            })
            .collect()
    }

    /// Prices a trip from `location` to `destination` starting at `at`, never below `minimum`
    /// (the caller's `MIN_PAY_AMOUNT`) nor the table's minimum fare.
    pub fn quote(
        &self,
        location: &str,
        destination: &str,
        at: SystemTime,
        minimum: Krw,
    ) -> Result<Fare, TariffError> {
        let from = self.place(location)?;
        let to = self.place(destination)?;
        let road_km = great_circle_km(from, to) * self.road_factor;
        // Charge the distance the customer sees: to 0.1 km, half up (distances are positive).
        let tenths = (road_km * 10.0).round() as i64;
        Ok(self.price(tenths, self.seoul_hour(at), minimum))
    }

    /// The places the tariff knows, in table order.
    pub fn places(&self) -> impl Iterator<Item = &Place> {
        self.places.iter()
    }

    /// The fare for `tenths` tenths of a road km started at `hour` (Seoul time).
    fn price(&self, tenths: i64, hour: u8, minimum: Krw) -> Fare {
        let distance = div_half_up(self.per_km * tenths, 10);
        let mut breakdown = vec![
            item("base", self.base_fare),
            item(
                &format!("distance {}.{} km", tenths / 10, tenths % 10),
                distance,
            ),
        ];
        let mut total = self.base_fare + distance;
        if self.late_night.applies(hour) {
            let surcharge = div_half_up(total * self.late_night.percent, 100);
            breakdown.push(item("late-night surcharge", surcharge));
            total += surcharge;
        }
        let rounded = div_half_up(total, ROUNDING_UNIT) * ROUNDING_UNIT;
        if rounded != total {
            breakdown.push(item("rounding", rounded - total));
        }
        let floor = self.minimum_fare.max(minimum);
        let fare = match Krw::new(rounded) {
            Ok(fare) if fare >= floor => fare,
            _ => {
                breakdown.push(item("minimum fare", floor.get() - rounded));
                floor
            }
        };
        Fare {
            fare,
            distance_km: tenths as f64 / 10.0,
            breakdown,
        }
    }

    /// The hour (0..=23) on Seoul's clock at `at`.
    fn seoul_hour(&self, at: SystemTime) -> u8 {
        // Only an instant beyond jiff's range (years -9999..=9999) fails; clamp it.
        let instant = Timestamp::try_from(at).unwrap_or(if at < UNIX_EPOCH {
            Timestamp::MIN
        } else {
            Timestamp::MAX
        });
        self.seoul.to_datetime(instant).hour().unsigned_abs()
    }
}

/// A one-line breakdown item.
fn item(text: &str, amount: i64) -> FareItem {
    FareItem {
        item: text.to_owned(),
        amount,
    }
}

/// `n / d` rounded half up, for `n >= 0` and `d > 0`.
fn div_half_up(n: i64, d: i64) -> i64 {
    (n + d / 2).div_euclid(d)
}

/// The first word of a location, lower-cased: the area of a place the tariff does not know
/// (`"Kangnam station exit 5"` is in `kangnam`).
pub fn first_word(location: &str) -> String {
    location
        .split(|c: char| c.is_whitespace() || c == ',' || c == '/')
        .find(|w| !w.is_empty())
        .unwrap_or_default()
        .to_lowercase()
}

/// The great-circle (haversine) distance between two places, in km.
fn great_circle_km(a: &Place, b: &Place) -> f64 {
    let (lat1, lat2) = (a.lat.to_radians(), b.lat.to_radians());
    let d_lat = lat2 - lat1;
    let d_lon = (b.lon - a.lon).to_radians();
    let h = (d_lat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (d_lon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// The form names and texts are compared in: lower case, runs of whitespace made one space.
fn match_key(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Whether `text` starts with `prefix` and the match ends at a word boundary.
fn starts_with_word(text: &str, prefix: &str) -> bool {
    text.strip_prefix(prefix)
        .is_some_and(|rest| rest.chars().next().is_none_or(|c| !c.is_alphanumeric()))
}

/// The 1-based line of a byte span's start in `text` (line 1 when the span is unknown).
fn line_of(text: &str, span: Option<Range<usize>>) -> usize {
    let start = span.map_or(0, |s| s.start.min(text.len()));
    text.as_bytes()[..start]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// A fare table as written, before validation; spans locate the values at fault.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    base_fare: Spanned<i64>,
    per_km: Spanned<i64>,
    road_factor: Option<Spanned<f64>>,
    minimum_fare: Spanned<i64>,
    late_night: Option<RawLateNight>,
    places: Spanned<Vec<RawPlace>>,
    /// Pairs of neighbouring areas, e.g. `[["kangnam", "bundang"]]`.
    #[serde(default)]
    neighbours: Vec<Spanned<Vec<Spanned<String>>>>,
}

/// `[late_night]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLateNight {
    start_hour: Spanned<i64>,
    end_hour: Spanned<i64>,
    percent: Spanned<i64>,
}

/// One `[[places]]` entry as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlace {
    name: Spanned<String>,
    label: Option<Spanned<String>>,
    area: Spanned<String>,
    lat: Spanned<f64>,
    lon: Spanned<f64>,
}

impl RawTable {
    /// Checks every value, naming the line of the first one out of range.
    fn validate(self, text: &str) -> Result<Tariff, TariffError> {
        let fault = |span: Range<usize>, message: String| TariffError::Table {
            line: line_of(text, Some(span)),
            message,
        };
        let positive = |value: &Spanned<i64>, key: &str| {
            if (1..=MAX_AMOUNT).contains(value.get_ref()) {
                Ok(*value.get_ref())
            } else {
                Err(fault(
                    value.span(),
                    format!(
                        "{key} must be a whole number of KRW from 1 to {MAX_AMOUNT}, not {}",
                        value.get_ref()
                    ),
                ))
            }
        };
        let base_fare = positive(&self.base_fare, "base_fare")?;
        let per_km = positive(&self.per_km, "per_km")?;
        let minimum_fare = Krw::new(*self.minimum_fare.get_ref())
            .ok()
            .filter(|m| m.get() <= MAX_AMOUNT)
            .ok_or_else(|| {
                fault(
                    self.minimum_fare.span(),
                    format!(
                        "minimum_fare must be a whole number of KRW from 0 to {MAX_AMOUNT}, not {}",
                        self.minimum_fare.get_ref()
                    ),
                )
            })?;

        let road_factor = match self.road_factor {
            None => DEFAULT_ROAD_FACTOR,
            Some(factor) if (1.0..=MAX_ROAD_FACTOR).contains(factor.get_ref()) => *factor.get_ref(),
            Some(factor) => {
                return Err(fault(
                    factor.span(),
                    format!(
                        "road_factor must be from 1 to {MAX_ROAD_FACTOR} (roads are never shorter \
                         than the straight line), not {}",
                        factor.get_ref()
                    ),
                ));
            }
        };

        let late_night = match self.late_night {
            None => DEFAULT_LATE_NIGHT,
            Some(raw) => {
                let hour = |value: &Spanned<i64>, key: &str| {
                    u8::try_from(*value.get_ref())
                        .ok()
                        .filter(|h| *h <= 23)
                        .ok_or_else(|| {
                            fault(
                                value.span(),
                                format!(
                                    "{key} must be an hour from 0 to 23, not {}",
                                    value.get_ref()
                                ),
                            )
                        })
                };
                let start_hour = hour(&raw.start_hour, "start_hour")?;
                let end_hour = hour(&raw.end_hour, "end_hour")?;
                let percent = *raw.percent.get_ref();
                if !(0..=MAX_PERCENT).contains(&percent) {
                    return Err(fault(
                        raw.percent.span(),
                        format!("percent must be from 0 to {MAX_PERCENT}, not {percent}"),
                    ));
                }
                LateNight {
                    start_hour,
                    end_hour,
                    percent,
                }
            }
        };

        let places_span = self.places.span();
        let raw_places = self.places.into_inner();
        if raw_places.is_empty() {
            return Err(fault(places_span, "the table names no places".to_owned()));
        }
        let mut places: Vec<Place> = Vec::with_capacity(raw_places.len());
        for raw in raw_places {
            let name = raw
                .name
                .get_ref()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            if name.is_empty() {
                return Err(fault(
                    raw.name.span(),
                    "a place's name must not be blank".to_owned(),
                ));
            }
            if let Some(first) = places
                .iter()
                .find(|p| match_key(&p.name) == match_key(&name))
            {
                return Err(fault(
                    raw.name.span(),
                    format!(
                        "place `{name}` is listed twice (as `{}` before)",
                        first.name
                    ),
                ));
            }
            let area = raw.area.get_ref().trim().to_lowercase();
            if area.is_empty() || area.contains(char::is_whitespace) {
                return Err(fault(
                    raw.area.span(),
                    format!(
                        "the area of `{name}` must be one word, not `{}`",
                        raw.area.get_ref()
                    ),
                ));
            }
            let lat = *raw.lat.get_ref();
            if !(-90.0..=90.0).contains(&lat) {
                return Err(fault(
                    raw.lat.span(),
                    format!("the lat of `{name}` must be from -90 to 90 degrees, not {lat}"),
                ));
            }
            let lon = *raw.lon.get_ref();
            if !(-180.0..=180.0).contains(&lon) {
                return Err(fault(
                    raw.lon.span(),
                    format!("the lon of `{name}` must be from -180 to 180 degrees, not {lon}"),
                ));
            }
            let label = match raw.label {
                None => name.clone(),
                Some(label) => {
                    let label = label
                        .get_ref()
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ");
                    if label.is_empty() {
                        name.clone()
                    } else {
                        label
                    }
                }
            };
            places.push(Place {
                name,
                label,
                area,
                lat,
                lon,
            });
        }

        let neighbours = validate_neighbours(self.neighbours, &places, fault)?;

        Ok(Tariff {
            base_fare,
            per_km,
            road_factor,
            minimum_fare,
            late_night,
            places,
            neighbours,
            // The bundled tz database always has Seoul; KST has been a DST-free UTC+9 since 1988.
            seoul: TimeZone::get(SEOUL).unwrap_or_else(|_| TimeZone::fixed(Offset::constant(9))),
        })
    }
}

/// Checks `neighbours`: each entry two different areas of the table's places, each pair once.
fn validate_neighbours(
    raw: Vec<Spanned<Vec<Spanned<String>>>>,
    places: &[Place],
    fault: impl Fn(Range<usize>, String) -> TariffError,
) -> Result<Vec<(String, String)>, TariffError> {
    let mut pairs: Vec<(String, String)> = Vec::with_capacity(raw.len());
    for entry in raw {
        let span = entry.span();
        let areas = entry.into_inner();
        let [a, b] = areas.as_slice() else {
            return Err(fault(
                span,
                format!("a neighbours entry names two areas, not {}", areas.len()),
            ));
        };
        let mut pair = Vec::with_capacity(2);
        for area in [a, b] {
            let name = area.get_ref().trim().to_lowercase();
            if !places.iter().any(|p| p.area == name) {
                let mut known: Vec<&str> = places.iter().map(|p| p.area.as_str()).collect();
                known.sort_unstable();
                known.dedup();
                return Err(fault(
                    area.span(),
                    format!(
                        "neighbours names `{}`, which is no place's area; the areas are {}",
                        area.get_ref(),
                        known.join(", ")
                    ),
                ));
            }
            pair.push(name);
        }
        let (a, b) = (pair[0].clone(), pair[1].clone());
        if a == b {
            return Err(fault(span, format!("`{a}` cannot neighbour itself")));
        }
        let listed = pairs
            .iter()
            .any(|(x, y)| (*x == a && *y == b) || (*x == b && *y == a));
        if listed {
            return Err(fault(span, format!("`{a}` and `{b}` are listed twice")));
        }
        pairs.push((a, b));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The instant at `hour:minute` on 2025-03-14 in Seoul.
    fn seoul_time(hour: i8, minute: i8) -> SystemTime {
        let zoned = jiff::civil::date(2025, 3, 14)
            .at(hour, minute, 0, 0)
            .in_tz(SEOUL)
            .unwrap();
        SystemTime::from(zoned.timestamp())
    }

    fn krw(amount: i64) -> Krw {
        Krw::new(amount).unwrap()
    }

    fn place(name: &str, lat: f64, lon: f64) -> Place {
        Place {
            name: name.to_owned(),
            label: name.to_owned(),
            area: "test".to_owned(),
            lat,
            lon,
        }
    }

    /// A tariff with the built-in numbers but a custom base fare, for exercising arithmetic.
    fn tariff_with_base(base_fare: i64) -> Tariff {
        Tariff {
            base_fare,
            ..Tariff::builtin()
        }
    }

    fn table_error_line(text: &str) -> usize {
        match Tariff::parse(text) {
            Err(TariffError::Table { line, .. }) => line,
            other => panic!("expected a table error, got {other:?}"),
        }
    }

    fn assert_breakdown_adds_up(fare: &Fare) {
        let sum: i64 = fare.breakdown.iter().map(|i| i.amount).sum();
        assert_eq!(sum, fare.fare.get(), "{:?}", fare.breakdown);
    }

    #[test]
    fn builtin_table_parses() {
        let tariff = Tariff::builtin();
        assert_eq!(tariff.base_fare, 8000);
        assert_eq!(tariff.per_km, 1000);
        assert_eq!(tariff.road_factor, 1.3);
        assert_eq!(tariff.minimum_fare, krw(10_000));
        assert_eq!(tariff.late_night, DEFAULT_LATE_NIGHT);
    }

    #[test]
    fn builtin_table_covers_the_six_default_service_areas() {
        let tariff = Tariff::builtin();
        for area in crate::domain::DEFAULT_SERVICE_AREAS.split(',') {
            let found = tariff.place(area).unwrap();
            assert_eq!(found.area, area);
        }
    }

    #[test]
    fn haversine_matches_known_distances() {
        // One degree along a meridian is pi * R / 180.
        let degree = great_circle_km(&place("a", 0.0, 0.0), &place("b", 1.0, 0.0));
        assert!((degree - 111.195).abs() < 0.001, "{degree}");
        // Seoul station to Gangnam station is about 8.1 km as the crow flies.
        let seoul = place("Seoul station", 37.5547, 126.9707);
        let gangnam = place("Gangnam station", 37.4979, 127.0276);
        let km = great_circle_km(&seoul, &gangnam);
        assert!((km - 8.07).abs() < 0.3, "{km}");
        assert_eq!(great_circle_km(&seoul, &seoul), 0.0);
    }

    #[test]
    fn late_night_surcharge_starts_at_22_and_ends_at_4_seoul_time() {
        let tariff = Tariff::builtin();
        let surcharged = |hour, minute| {
            tariff
                .quote("Hongdae", "Jamsil", seoul_time(hour, minute), krw(0))
                .unwrap()
                .breakdown
                .iter()
                .any(|i| i.item == "late-night surcharge")
        };
        assert!(!surcharged(21, 59));
        assert!(surcharged(22, 0));
        assert!(surcharged(3, 59));
        assert!(!surcharged(4, 0));
    }

    #[test]
    fn late_night_window_that_does_not_wrap_or_is_empty() {
        let day = LateNight {
            start_hour: 1,
            end_hour: 5,
            percent: 10,
        };
        assert!(!day.applies(0) && day.applies(1) && day.applies(4) && !day.applies(5));
        let never = LateNight {
            start_hour: 3,
            end_hour: 3,
            percent: 10,
        };
        assert!((0..24).all(|h| !never.applies(h)));
    }

    #[test]
    fn rounding_is_to_the_nearest_thousand_half_up() {
        // Base 4499 + 8.0 km at 1000 = 12_499; base 4500 + 8000 = 12_500.
        let down = tariff_with_base(4499).price(80, 12, krw(0));
        assert_eq!(down.fare, krw(12_000));
        assert_eq!(down.breakdown.last().unwrap(), &item("rounding", -499));
        let up = tariff_with_base(4500).price(80, 12, krw(0));
        assert_eq!(up.fare, krw(13_000));
        assert_eq!(up.breakdown.last().unwrap(), &item("rounding", 500));
        let exact = tariff_with_base(5000).price(80, 12, krw(0));
        assert_eq!(exact.fare, krw(13_000));
        assert!(exact.breakdown.iter().all(|i| i.item != "rounding"));
    }

    #[test]
    fn minimum_lifts_a_short_trip() {
        let tariff = Tariff::builtin();
        // Kangnam to Kangnam station is 0 km: 8000 base, lifted to the table's 10_000.
        let fare = tariff
            .quote("Kangnam", "Kangnam station", seoul_time(12, 0), krw(5000))
            .unwrap();
        assert_eq!(fare.fare, krw(10_000));
        assert_eq!(fare.distance_km, 0.0);
        assert_eq!(
            fare.breakdown,
            vec![
                item("base", 8000),
                item("distance 0.0 km", 0),
                item("minimum fare", 2000),
            ]
        );
        // A caller's minimum above the table's wins.
        let fare = tariff
            .quote("Kangnam", "Kangnam station", seoul_time(12, 0), krw(15_500))
            .unwrap();
        assert_eq!(fare.fare, krw(15_500));
        assert_eq!(fare.breakdown.last().unwrap(), &item("minimum fare", 7500));
    }

    #[test]
    fn breakdown_lists_every_step_in_order_and_adds_up_to_the_fare() {
        // Hongdae to Jamsil at night: 21.1 km; 8000 + 21_100 = 29_100; +20 % = 5820;
        // 34_920 rounds to 35_000.
        let fare = Tariff::builtin()
            .quote("Hongdae", "Jamsil", seoul_time(23, 30), krw(5000))
            .unwrap();
        assert_eq!(
            fare.breakdown,
            vec![
                item("base", 8000),
                item("distance 21.1 km", 21_100),
                item("late-night surcharge", 5820),
                item("rounding", 80),
            ]
        );
        assert_eq!(fare.fare, krw(35_000));
        assert_breakdown_adds_up(&fare);
    }

    #[test]
    fn builtin_tariff_prices_known_trips() {
        // Expected fares worked out by hand from the table's coordinates: haversine x 1.3 to
        // 0.1 km; 8000 + 1000/km; +20 % at night; nearest 1000; at least 10_000.
        let cases = [
            ("Seoul station", "Kangnam station", false, 10.5, 19_000),
            ("Hongdae", "Jamsil", true, 21.1, 35_000),
            ("Mapo", "Incheon airport", false, 54.4, 62_000),
            ("Bundang", "Jongro", true, 31.9, 48_000),
            ("Nowon", "Gimpo airport", false, 32.7, 41_000),
            ("Gwanghwamun", "Seoul station", true, 2.5, 13_000),
            ("Yeouido", "Pangyo", false, 28.2, 36_000),
            ("Kangnam", "Kangnam station", false, 0.0, 10_000),
        ];
        let tariff = Tariff::builtin();
        for (from, to, night, km, expected) in cases {
            let at = if night {
                seoul_time(23, 30)
            } else {
                seoul_time(14, 0)
            };
            let fare = tariff.quote(from, to, at, krw(5000)).unwrap();
            assert_eq!(
                (fare.distance_km, fare.fare),
                (km, krw(expected)),
                "{from} -> {to}"
            );
            assert_breakdown_adds_up(&fare);
        }
    }

    #[test]
    fn places_match_the_longest_name_at_a_word_boundary_ignoring_case() {
        let tariff = Tariff::builtin();
        let name = |text| tariff.place(text).unwrap().name.as_str();
        assert_eq!(name("Kangnam station exit 5"), "Kangnam station");
        assert_eq!(name("  kangnam   STATION"), "Kangnam station");
        assert_eq!(name("KANGNAM-gu office"), "Kangnam");
        assert_eq!(name("kangnam stationery shop"), "Kangnam");
        assert_eq!(name("Incheon airport terminal 2"), "Incheon airport");
        assert!(tariff.place("Kangnamdaero 10").is_err());
        assert!(tariff.place("").is_err());
    }

    #[test]
    fn unknown_place_lists_every_known_name_sorted() {
        let tariff = Tariff::parse(
            "base_fare = 1\nper_km = 1\nminimum_fare = 0\n\
             [[places]]\nname = \"mapo\"\narea = \"mapo\"\nlat = 37.5\nlon = 126.9\n\
             [[places]]\nname = \"Kangnam\"\narea = \"kangnam\"\nlat = 37.5\nlon = 127.0\n",
        )
        .unwrap();
        let err = tariff
            .quote("Kangnam", "Busan station", seoul_time(12, 0), krw(0))
            .unwrap_err();
        match &err {
            TariffError::UnknownPlace { place, known } => {
                assert_eq!(place, "Busan station");
                assert_eq!(known, &["Kangnam", "mapo"]);
            }
            other => panic!("expected UnknownPlace, got {other:?}"),
        }
        assert_eq!(
            err.to_string(),
            "`Busan station` is not a place the tariff knows; known places: Kangnam, mapo"
        );
    }

    #[test]
    fn builtin_unknown_place_names_all_of_its_places() {
        let tariff = Tariff::builtin();
        let Err(TariffError::UnknownPlace { known, .. }) = tariff.place("Busan") else {
            panic!("Busan is not in the built-in table");
        };
        assert_eq!(known.len(), tariff.places().count());
        assert!(known.is_sorted_by_key(|n| n.to_lowercase()));
    }

    const VALID: &str = "\
base_fare = 8000
per_km = 1000
minimum_fare = 10000
[[places]]
name = \"Mapo\"
area = \"mapo\"
lat = 37.5663
lon = 126.9019
";

    #[test]
    fn a_minimal_table_takes_the_default_road_factor_and_late_night() {
        let tariff = Tariff::parse(VALID).unwrap();
        assert_eq!(tariff.road_factor, DEFAULT_ROAD_FACTOR);
        assert_eq!(tariff.late_night, DEFAULT_LATE_NIGHT);
    }

    #[test]
    fn syntax_error_names_its_line() {
        let text = "base_fare = 8000\nper_km = 1000\nminimum_fare = = 3\n";
        assert_eq!(table_error_line(text), 3);
        let message = Tariff::parse(text).unwrap_err().to_string();
        assert!(message.starts_with("FARE_TABLE line 3: "), "{message}");
    }

    #[test]
    fn negative_or_zero_per_km_names_its_line() {
        assert_eq!(
            table_error_line(&VALID.replace("per_km = 1000", "per_km = -1000")),
            2
        );
        assert_eq!(
            table_error_line(&VALID.replace("per_km = 1000", "per_km = 0")),
            2
        );
        assert_eq!(
            table_error_line(&VALID.replace("base_fare = 8000", "base_fare = 0")),
            1
        );
        assert_eq!(
            table_error_line(&VALID.replace("minimum_fare = 10000", "minimum_fare = -1")),
            3
        );
    }

    #[test]
    fn duplicate_place_names_the_line_of_the_second_one() {
        let text = format!(
            "{VALID}\n[[places]]\nname = \"MAPO\"\narea = \"mapo\"\nlat = 37.5\nlon = 126.9\n"
        );
        assert_eq!(table_error_line(&text), 11);
    }

    #[test]
    fn out_of_range_values_name_their_line() {
        let cases = [
            (
                VALID.replace("per_km = 1000", "per_km = 1000\nroad_factor = 0.9"),
                3,
            ),
            (
                format!("{VALID}[late_night]\nstart_hour = 24\nend_hour = 4\npercent = 20\n"),
                10,
            ),
            (
                format!("{VALID}[late_night]\nstart_hour = 22\nend_hour = -1\npercent = 20\n"),
                11,
            ),
            (
                format!("{VALID}[late_night]\nstart_hour = 22\nend_hour = 4\npercent = 301\n"),
                12,
            ),
            (VALID.replace("lat = 37.5663", "lat = 91.0"), 7),
            (VALID.replace("lon = 126.9019", "lon = -180.5"), 8),
            (VALID.replace("lat = 37.5663", "lat = nan"), 7),
            (VALID.replace("area = \"mapo\"", "area = \" \""), 6),
            (VALID.replace("name = \"Mapo\"", "name = \"\""), 5),
        ];
        for (text, line) in cases {
            assert_eq!(table_error_line(&text), line, "{text}");
        }
    }

    #[test]
    fn unknown_fields_and_wrong_types_are_rejected_with_their_line() {
        assert_eq!(
            table_error_line(&VALID.replace("per_km", "per_kilometre")),
            2
        );
        assert_eq!(
            table_error_line(&VALID.replace("lon = 126.9019", "lon = 126.9019\ncolour = 1")),
            9
        );
        assert_eq!(
            table_error_line(&VALID.replace("per_km = 1000", "per_km = 1000.5")),
            2
        );
        assert!(Tariff::parse(&VALID.replace("per_km = 1000\n", "")).is_err());
    }

    #[test]
    fn load_reads_the_file_or_falls_back_to_the_builtin_table() {
        assert_eq!(
            Tariff::load(None).unwrap().places().count(),
            Tariff::builtin().places().count()
        );
        // No uuid here: the workflows crate generates no ids (clippy.toml); the process is enough.
        let path = std::env::temp_dir().join(format!("fare-table-{}.toml", std::process::id()));
        std::fs::write(&path, VALID).unwrap();
        let loaded = Tariff::load(Some(&path)).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            loaded.places().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            ["Mapo"]
        );
        assert!(matches!(
            Tariff::load(Some(&path)),
            Err(TariffError::Io { .. })
        ));
    }

    #[test]
    fn every_builtin_place_is_in_its_tables_area() {
        let tariff = Tariff::builtin();
        let expected = [
            ("Kangnam", "kangnam"),
            ("Dongjak", "dongjak"),
            ("Nowon", "nowon"),
            ("Mapo", "mapo"),
            ("Jongro", "jongro"),
            ("Bundang", "bundang"),
            ("Kangnam station", "kangnam"),
            ("Seoul station", "jongro"),
            ("Gwanghwamun", "jongro"),
            ("Itaewon", "jongro"),
            ("Hongdae", "mapo"),
            ("Yeouido", "dongjak"),
            ("Sadang", "dongjak"),
            ("Jamsil", "kangnam"),
            ("Pangyo", "bundang"),
            ("Gimpo airport", "mapo"),
            ("Ilsan", "ilsan"),
            ("Suwon", "suwon"),
            ("Incheon airport", "incheon"),
        ];
        assert_eq!(
            tariff.places().count(),
            expected.len(),
            "a place without a row here"
        );
        for (name, area) in expected {
            assert_eq!(tariff.area_of(name), area, "{name}");
            assert_eq!(
                tariff.area_of(&format!("{name} exit 3")),
                area,
                "{name} exit 3"
            );
            assert_eq!(
                tariff.area_of(&name.to_uppercase()),
                area,
                "{name} in capitals"
            );
        }
        // Not a place of the table: its first word, as before places existed.
        assert_eq!(tariff.area_of("Busan station"), "busan");
        assert_eq!(tariff.area_of("  nowon/Sanggye "), "nowon");
    }

    #[test]
    fn every_builtin_place_has_a_korean_label() {
        for place in Tariff::builtin().places() {
            assert!(
                place.label != place.name && !place.label.is_ascii(),
                "{} has no Korean label",
                place.name
            );
        }
    }

    #[test]
    fn builtin_neighbours_are_the_spec_pairs_both_ways() {
        let tariff = Tariff::builtin();
        assert_eq!(tariff.neighbours("kangnam"), ["bundang", "dongjak"]);
        assert_eq!(tariff.neighbours("Mapo"), ["dongjak", "jongro"]);
        assert_eq!(tariff.neighbours("nowon"), ["jongro"]);
        assert_eq!(tariff.neighbours("bundang"), ["kangnam"]);
        assert!(tariff.neighbours("ilsan").is_empty());
    }

    #[test]
    fn neighbours_naming_an_unknown_area_are_refused_with_their_line() {
        let text = VALID.replace(
            "minimum_fare = 10000",
            "minimum_fare = 10000\nneighbours = [\n  [\"mapo\", \"busan\"],\n]",
        );
        let error = Tariff::parse(&text).unwrap_err();
        let TariffError::Table { line, message } = &error else {
            panic!("{error}");
        };
        assert_eq!(*line, 5, "{message}");
        assert!(message.contains("`busan`"), "{message}");
        let twice = VALID.replace(
            "minimum_fare = 10000",
            "minimum_fare = 10000\nneighbours = [[\"mapo\", \"mapo\"]]",
        );
        assert!(
            Tariff::parse(&twice)
                .unwrap_err()
                .to_string()
                .contains("itself")
        );
        let three = VALID.replace(
            "minimum_fare = 10000",
            "minimum_fare = 10000\nneighbours = [[\"mapo\"]]",
        );
        assert!(
            Tariff::parse(&three)
                .unwrap_err()
                .to_string()
                .contains("two areas")
        );
    }
}
