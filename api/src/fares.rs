//! Quoted fares (spec section 9): the tariff operators configure (`FARE_TABLE`, in the domain:
//! `driver_call_workflows::domain::tariff`) and the
//! quotes the API gives customers, kept in its own quote store and used by one call each.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use driver_call_stores::QuoteStore;
use driver_call_stores::quote::{NewQuote, QuoteUse};
use driver_call_workflows::domain::DEFAULT_MIN_PAY_AMOUNT;
use driver_call_workflows::domain::tariff::{Tariff, TariffError};
use driver_call_workflows::domain::{AcceptedQuote, CallArea, FareItem, Krw, MobileNumber};

use crate::ApiError;

/// How long a quote can be used.
pub const QUOTE_VALIDITY: Duration = Duration::from_secs(10 * 60);

/// Settings of fares.
#[derive(Debug, Clone, clap::Args)]
pub struct FareConfig {
    /// The tariff (a TOML file; see `workflows/src/domain/default-fare-table.toml`). Unset, the
    /// built-in tariff of the six default areas.
    #[arg(long, env = "FARE_TABLE")]
    pub fare_table: Option<PathBuf>,
    /// The minimum fare in KRW (the payment context's `MIN_PAY_AMOUNT`): no quote is below it.
    #[arg(long, env = "MIN_PAY_AMOUNT", default_value_t = DEFAULT_MIN_PAY_AMOUNT)]
    pub min_pay_amount: i64,
}

/// Why fares cannot be offered.
#[derive(Debug, thiserror::Error)]
pub enum FareSetupError {
    /// `FARE_TABLE` cannot be read or is malformed (the error names the line).
    #[error(transparent)]
    Tariff(#[from] TariffError),
    /// `MIN_PAY_AMOUNT` is negative.
    #[error("MIN_PAY_AMOUNT must not be negative")]
    NegativeMinimum,
    /// The quote database cannot be opened or migrated.
    #[error("the quote store cannot be opened")]
    Store(#[from] driver_call_stores::StoreError),
}

/// A quote as `POST /quotes` answers it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Quote {
    /// The quote's id, for `POST /calls`.
    pub quote_id: String,
    /// The fare in KRW.
    #[schema(value_type = u64, example = 19000)]
    pub fare: Krw,
    /// How the fare is made up; the amounts add up to the fare.
    pub breakdown: Vec<FareItem>,
    /// When the quote can no longer be used (RFC 3339).
    #[schema(example = "2026-12-02T09:20:00.000Z")]
    pub expires_at: String,
}

/// The tariff, the quotes and the minimum fare.
#[derive(Debug, Clone)]
pub struct Fares {
    tariff: Tariff,
    quotes: QuoteStore,
    minimum: Krw,
}

impl Fares {
    /// Loads the tariff (failing on a malformed `FARE_TABLE`) and opens the quote database named
    /// by `quote_url`, which the API owns and migrates.
    pub async fn open(config: &FareConfig, quote_url: &str) -> Result<Self, FareSetupError> {
        let tariff = Tariff::load(config.fare_table.as_deref())?;
        let minimum =
            Krw::new(config.min_pay_amount).map_err(|_| FareSetupError::NegativeMinimum)?;
        let quotes = QuoteStore::connect(quote_url).await?;
        Ok(Self {
            tariff,
            quotes,
            minimum,
        })
    }

    /// The tariff: its places, areas and fares.
    pub fn tariff(&self) -> &Tariff {
        &self.tariff
    }

    /// Where a call from `location` is dispatched: its place's area (or, for a place the tariff
    /// does not know, the first word of the location) and that area's neighbours.
    pub fn call_area(&self, location: &str) -> CallArea {
        let area = self.tariff.area_of(location);
        CallArea {
            neighbours: self.tariff.neighbours(&area),
            area,
        }
    }

    /// The quote store (for `/readyz`).
    pub fn store(&self) -> &QuoteStore {
        &self.quotes
    }

    /// Quotes the trip to the customer and keeps the quote for [`QUOTE_VALIDITY`].
    pub async fn quote(
        &self,
        customer: &MobileNumber,
        location: &str,
        destination: &str,
        now: SystemTime,
    ) -> Result<Quote, ApiError> {
        let fare = self
            .tariff
            .quote(location, destination, now, self.minimum)
            .map_err(|e| ApiError::Invalid(e.to_string()))?;
        let quote_id = format!("quote-{}", uuid::Uuid::new_v4());
        let expires_at = now + QUOTE_VALIDITY;
        let breakdown = serde_json::to_string(&fare.breakdown)
            .map_err(|e| ApiError::Unexpected(anyhow::Error::new(e)))?;
        let new = NewQuote {
            quote_id: &quote_id,
            mobile: customer.as_ref(),
            location: location.trim(),
            destination: destination.trim(),
            fare: fare.fare.get(),
            breakdown: &breakdown,
            created_at: now,
            expires_at,
        };
        self.quotes.save(&new).await?;
        Ok(Quote {
            quote_id,
            fare: fare.fare,
            breakdown: fare.breakdown,
            expires_at: humantime::format_rfc3339_millis(expires_at).to_string(),
        })
    }

    /// Uses the customer's quote for the call `call_id` (once; again for the same call), with
    /// `tip`: what the call is made with, and where from and to. Another's, an unknown, an expired
    /// or a used quote is 422.
    pub async fn accept(
        &self,
        customer: &MobileNumber,
        quote_id: &str,
        call_id: &str,
        tip: Krw,
    ) -> Result<(AcceptedQuote, String, String), ApiError> {
        let taken = self
            .quotes
            .take(quote_id, customer.as_ref(), call_id, SystemTime::now())
            .await?;
        let quote = match taken {
            QuoteUse::Taken(quote) => quote,
            QuoteUse::Unknown => {
                return Err(ApiError::Invalid(format!(
                    "quote {quote_id} is not one of yours"
                )));
            }
            QuoteUse::Expired => {
                return Err(ApiError::Invalid(format!(
                    "quote {quote_id} has expired; ask for a new one"
                )));
            }
            QuoteUse::Used => {
                return Err(ApiError::Invalid(format!(
                    "quote {quote_id} was already used for another call"
                )));
            }
        };
        let breakdown: Vec<FareItem> = serde_json::from_str(&quote.breakdown)
            .map_err(|e| ApiError::Unexpected(anyhow::Error::new(e).context("A stored quote")))?;
        let accepted = AcceptedQuote {
            quote_id: quote.quote_id,
            fare: Krw::new(quote.fare)?,
            tip,
            breakdown,
        };
        Ok((accepted, quote.location, quote.destination))
    }
}
