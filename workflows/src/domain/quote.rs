//! A quoted fare the customer accepted when making a call (spec section 9).

use serde::{Deserialize, Serialize};

use super::Krw;

/// One line of a fare's breakdown, in whole KRW (negative only for a rounding down).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FareItem {
    /// What the line is for: `base`, `distance 12.4 km`, `late-night surcharge`, `rounding` or
    /// `minimum fare`.
    #[cfg_attr(feature = "openapi", schema(example = "base"))]
    pub item: String,
    /// Its amount in KRW.
    #[cfg_attr(feature = "openapi", schema(example = 8000))]
    pub amount: i64,
}

/// The quote a call was made with: its fare, the customer's tip and how the fare was made up.
/// The call's `payAmount` is the fare plus the tip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AcceptedQuote {
    /// The quote's id.
    pub quote_id: String,
    /// The quoted fare.
    pub fare: Krw,
    /// What the customer added for faster dispatch (0 when nothing).
    pub tip: Krw,
    /// How the fare was made up.
    pub breakdown: Vec<FareItem>,
}
