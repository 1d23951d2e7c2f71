//! Offers and catches in the catcher context's own database, one row per call.

use driver_call_workflows::contracts::catcher::{CatchStatus, OfferCallInput};
use driver_call_workflows::domain::{CallId, Driver};
use serde::Serialize;
use sqlx::migrate::Migrator;

use crate::db::{self, Database, StoreError};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/catcher");

/// An open offer as drivers see it (`GET /catches?area=`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OpenOffer {
    /// The call on offer.
    pub call_id: String,
    /// Its pickup location.
    pub location: String,
    /// Its destination, if given.
    pub destination: Option<String>,
    /// What the driver earns, in KRW.
    pub pay_amount: i64,
    /// When the offer opened.
    pub received_at: String,
}

/// A trip a driver finished (the driver app's earnings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CompletedTrip {
    /// The call.
    pub call_id: String,
    /// Its pickup location.
    pub location: String,
    /// Its destination, if given.
    pub destination: Option<String>,
    /// What the driver earned, in KRW.
    pub pay_amount: i64,
    /// When the trip was completed.
    pub completed_at: String,
}

/// A call's offer or catch as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CatchRecord {
    /// The call.
    pub call_id: String,
    /// Its service area.
    pub area: String,
    /// `RECEIVED`, `CAUGHT`, `DENIED`, `WITHDRAWN` or `COMPLETED`.
    pub status: CatchStatus,
    /// The winning driver, once caught.
    pub driver_id: Option<String>,
    /// The winning driver's name, once caught.
    pub driver_name: Option<String>,
    /// When the offer opened.
    pub received_at: String,
    /// When the status last changed.
    pub updated_at: String,
}

#[derive(sqlx::FromRow)]
struct CatchRow {
    call_id: String,
    area: String,
    status: String,
    driver_id: Option<String>,
    driver_name: Option<String>,
    received_at: String,
    updated_at: String,
}

impl TryFrom<CatchRow> for CatchRecord {
    type Error = StoreError;
    fn try_from(row: CatchRow) -> Result<Self, Self::Error> {
        Ok(Self {
            status: db::parse_stored(&row.status, CatchStatus::parse)?,
            call_id: row.call_id,
            area: row.area,
            driver_id: row.driver_id,
            driver_name: row.driver_name,
            received_at: row.received_at,
            updated_at: row.updated_at,
        })
    }
}

/// The catcher context's store.
#[derive(Debug, Clone)]
pub struct CatcherStore {
    db: Database,
}

impl CatcherStore {
    /// Opens the catcher database as its owner and migrates it (the catcher worker).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Ok(Self {
            db: Database::owned(url, &MIGRATOR).await?,
        })
    }

    /// Opens the catcher database to read it, without migrating (the API); see
    /// [`Self::ping`] for when it is ready.
    pub fn open_reader(url: &str) -> Result<Self, StoreError> {
        Ok(Self {
            db: Database::read(url, &MIGRATOR)?,
        })
    }

    /// Whether the database answers with its schema migrated.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ready().await
    }

    /// Opens the call's offer in `area`; a retry, or an offer already closed, changes nothing.
    #[tracing::instrument(skip_all, fields(call_id = %offer.call_id, area))]
    pub async fn open_offer(&self, offer: &OfferCallInput, area: &str) -> Result<(), StoreError> {
        let now = crate::now_rfc3339();
        sqlx::query(
            "INSERT INTO catches (call_id, area, location, destination, pay_amount, status, \
             received_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'RECEIVED', $6, $6) \
             ON CONFLICT (call_id) DO NOTHING",
        )
        .bind(offer.call_id.to_string())
        .bind(area)
        .bind(offer.location.as_ref())
        .bind(offer.destination.as_deref())
        .bind(offer.pay_amount.get())
        .bind(&now)
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// Records the winner of an open offer. Idempotent: a retry finds the offer caught already.
    #[tracing::instrument(skip(self))]
    pub async fn record_catch(&self, call_id: &CallId, driver: &Driver) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE catches SET status = 'CAUGHT', driver_id = $1, driver_name = $2, updated_at = $3 \
             WHERE call_id = $4 AND status = 'RECEIVED'",
        )
        .bind(driver.driver_id.as_ref())
        .bind(&driver.driver_name)
        .bind(crate::now_rfc3339())
        .bind(call_id.to_string())
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// Closes an open offer or a catch; a closed one stays as it is.
    #[tracing::instrument(skip(self))]
    pub async fn close(&self, call_id: &CallId, status: CatchStatus) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE catches SET status = $1, updated_at = $2 \
             WHERE call_id = $3 AND status IN ('RECEIVED', 'CAUGHT')",
        )
        .bind(status.as_str())
        .bind(crate::now_rfc3339())
        .bind(call_id.to_string())
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// Open offers in `area` (case-insensitive), oldest first.
    pub async fn open_offers(&self, area: &str) -> Result<Vec<OpenOffer>, StoreError> {
        self.open_offers_in(&[area]).await
    }

    /// Open offers in any of `areas` (case-insensitive), oldest first: one query however many
    /// areas a driver serves (the offers stream asks twice a second).
    pub async fn open_offers_in(
        &self,
        areas: &[impl AsRef<str>],
    ) -> Result<Vec<OpenOffer>, StoreError> {
        if areas.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT call_id, location, destination, pay_amount, received_at FROM catches \
             WHERE status = 'RECEIVED' AND area IN ({}) ORDER BY received_at, call_id",
            db::placeholders(areas.len())
        );
        let mut query = sqlx::query_as(&sql);
        for area in areas {
            query = query.bind(area.as_ref().trim().to_lowercase());
        }
        Ok(query.fetch_all(&self.db.pool).await?)
    }

    /// The trips `driver_id` completed at or after `since`, newest first.
    pub async fn completed_since(
        &self,
        driver_id: &str,
        since: std::time::SystemTime,
    ) -> Result<Vec<CompletedTrip>, StoreError> {
        let trips = sqlx::query_as(
            "SELECT call_id, location, destination, pay_amount, updated_at AS completed_at \
             FROM catches WHERE driver_id = $1 AND status = 'COMPLETED' AND updated_at >= $2 \
             ORDER BY updated_at DESC, call_id",
        )
        .bind(driver_id)
        .bind(db::format_time(since))
        .fetch_all(&self.db.pool)
        .await?;
        Ok(trips)
    }

    /// The call's offer or catch.
    pub async fn find(&self, call_id: &str) -> Result<Option<CatchRecord>, StoreError> {
        let row: Option<CatchRow> = sqlx::query_as(
            "SELECT call_id, area, status, driver_id, driver_name, received_at, updated_at \
             FROM catches WHERE call_id = $1",
        )
        .bind(call_id)
        .fetch_optional(&self.db.pool)
        .await?;
        row.map(CatchRecord::try_from).transpose()
    }
}
