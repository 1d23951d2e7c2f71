//! The fares quoted to customers (spec section 9), in a database the API owns: each quote with
//! its owner, breakdown and expiry, used by one call only.

use std::time::SystemTime;

use sqlx::migrate::Migrator;

use crate::db::{Database, StoreError, format_time, parse_time};

static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/quote/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/quote/postgres");

fn migrator(url: &str) -> &'static Migrator {
    crate::db::migrator_for(url, &SQLITE_MIGRATOR, &POSTGRES_MIGRATOR)
}

/// A quote to store.
#[derive(Debug, Clone)]
pub struct NewQuote<'a> {
    /// The quote's id.
    pub quote_id: &'a str,
    /// The customer it was quoted to (digits).
    pub mobile: &'a str,
    /// The pickup place as the customer typed it.
    pub location: &'a str,
    /// The destination as the customer typed it.
    pub destination: &'a str,
    /// The fare in KRW.
    pub fare: i64,
    /// The breakdown, as JSON `[{item, amount}]`.
    pub breakdown: &'a str,
    /// When it was quoted.
    pub created_at: SystemTime,
    /// When it stops being usable.
    pub expires_at: SystemTime,
}

/// A stored quote.
#[derive(Debug, Clone, PartialEq)]
pub struct QuoteRecord {
    /// The quote's id.
    pub quote_id: String,
    /// The customer it was quoted to (digits).
    pub mobile: String,
    /// The pickup place.
    pub location: String,
    /// The destination.
    pub destination: String,
    /// The fare in KRW.
    pub fare: i64,
    /// The breakdown, as JSON `[{item, amount}]`.
    pub breakdown: String,
    /// When it stops being usable.
    pub expires_at: SystemTime,
    /// The call it priced, once used.
    pub used_by_call: Option<String>,
}

/// What asking to use a quote for a call found.
#[derive(Debug, Clone, PartialEq)]
pub enum QuoteUse {
    /// The quote is now this call's (or already was: a retry of the same call).
    Taken(QuoteRecord),
    /// No such quote, or another customer's: the same answer, so ids leak nothing.
    Unknown,
    /// The quote has expired.
    Expired,
    /// Another call already used it.
    Used,
}

#[derive(sqlx::FromRow)]
struct QuoteRow {
    quote_id: String,
    mobile: String,
    location: String,
    destination: String,
    fare: i64,
    breakdown: String,
    expires_at: String,
    used_by_call: Option<String>,
}

impl TryFrom<QuoteRow> for QuoteRecord {
    type Error = StoreError;

    fn try_from(row: QuoteRow) -> Result<Self, StoreError> {
        Ok(Self {
            quote_id: row.quote_id,
            mobile: row.mobile,
            location: row.location,
            destination: row.destination,
            fare: row.fare,
            breakdown: row.breakdown,
            expires_at: parse_time(&row.expires_at)?,
            used_by_call: row.used_by_call,
        })
    }
}

/// The quotes' store.
#[derive(Debug, Clone)]
pub struct QuoteStore {
    db: Database,
}

impl QuoteStore {
    /// Opens the quote database as its owner (the API) and migrates it.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Ok(Self {
            db: Database::owned(url, migrator(url)).await?,
        })
    }

    /// Whether the database answers with its schema migrated.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ready().await
    }

    /// Stores a new quote.
    pub async fn save(&self, quote: &NewQuote<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO quotes (quote_id, mobile, location, destination, fare, breakdown, \
             created_at, expires_at, used_by_call, used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, NULL)",
        )
        .bind(quote.quote_id)
        .bind(quote.mobile)
        .bind(quote.location)
        .bind(quote.destination)
        .bind(quote.fare)
        .bind(quote.breakdown)
        .bind(format_time(quote.created_at))
        .bind(format_time(quote.expires_at))
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// The quote, if it exists.
    pub async fn find(&self, quote_id: &str) -> Result<Option<QuoteRecord>, StoreError> {
        let row: Option<QuoteRow> = sqlx::query_as(
            "SELECT quote_id, mobile, location, destination, fare, breakdown, expires_at, \
             used_by_call FROM quotes WHERE quote_id = $1",
        )
        .bind(quote_id)
        .fetch_optional(&self.db.pool)
        .await?;
        row.map(QuoteRecord::try_from).transpose()
    }

    /// Uses the customer's quote for `call_id`, once: in one statement, so two calls racing for
    /// one quote cannot both have it. Using it again for the same call changes nothing.
    pub async fn take(
        &self,
        quote_id: &str,
        mobile: &str,
        call_id: &str,
        now: SystemTime,
    ) -> Result<QuoteUse, StoreError> {
        let now = format_time(now);
        let taken = sqlx::query(
            "UPDATE quotes SET used_by_call = $1, used_at = COALESCE(used_at, $2) \
             WHERE quote_id = $3 AND mobile = $4 AND expires_at > $2 \
             AND (used_by_call IS NULL OR used_by_call = $1)",
        )
        .bind(call_id)
        .bind(&now)
        .bind(quote_id)
        .bind(mobile)
        .execute(&self.db.pool)
        .await?;
        let found = self.find(quote_id).await?.filter(|q| q.mobile == mobile);
        let Some(quote) = found else {
            return Ok(QuoteUse::Unknown);
        };
        if taken.rows_affected() == 1 {
            return Ok(QuoteUse::Taken(quote));
        }
        if quote.used_by_call.as_deref().is_some_and(|c| c != call_id) {
            return Ok(QuoteUse::Used);
        }
        Ok(QuoteUse::Expired)
    }
}
