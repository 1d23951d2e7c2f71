//! Offers and catches in the catcher context's own database, one row per call.

use driver_call_workflows::contracts::catcher::{CatchStatus, OfferCallInput};
use driver_call_workflows::domain::{CallId, Driver};
use driver_call_workflows::driver_call::Reach;
use serde::Serialize;
use sqlx::migrate::Migrator;

use crate::db::{self, Database, StoreError};

static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/catcher/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/catcher/postgres");

fn migrator(url: &str) -> &'static Migrator {
    db::migrator_for(url, &SQLITE_MIGRATOR, &POSTGRES_MIGRATOR)
}

/// An open offer as drivers see it (`GET /catches?area=`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OpenOffer {
    /// The call on offer.
    pub call_id: String,
    /// The call's own service area (its pickup place's).
    pub area: String,
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

/// What a driver's catch of a call meets in the catcher store ([`CatcherStore::catch_by`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatchBy {
    /// The call was caught by this driver.
    pub theirs: bool,
    /// Its offer reaches one of their areas (or everyone).
    pub reaches: bool,
    /// They hold a call (this one or another).
    pub holding: bool,
}

/// An offer or catch as the offers feed holds it: what drivers see, its status, who caught it and
/// whom it reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveOffer {
    /// The offer as drivers see it.
    pub offer: OpenOffer,
    /// `RECEIVED` (open), `CAUGHT`, or closed.
    pub status: CatchStatus,
    /// The driver who caught it, once caught.
    pub driver_id: Option<String>,
    /// Whom it reaches.
    pub reach: Reach,
}

impl LiveOffer {
    /// Whether a driver of `driver_areas` is offered it (an open offer that reaches them).
    pub fn offered_to(&self, driver_areas: &[String]) -> bool {
        self.status == CatchStatus::Received && self.reach.includes(driver_areas)
    }
}

#[derive(sqlx::FromRow)]
struct LiveOfferRow {
    call_id: String,
    area: String,
    location: String,
    destination: Option<String>,
    pay_amount: i64,
    received_at: String,
    status: String,
    driver_id: Option<String>,
    everyone: i64,
}

impl LiveOfferRow {
    fn into_live(self, areas: Vec<String>) -> Result<LiveOffer, StoreError> {
        Ok(LiveOffer {
            status: db::parse_stored(&self.status, CatchStatus::parse)?,
            driver_id: self.driver_id,
            reach: Reach {
                areas,
                everyone: self.everyone != 0,
            },
            offer: OpenOffer {
                call_id: self.call_id,
                area: self.area,
                location: self.location,
                destination: self.destination,
                pay_amount: self.pay_amount,
                received_at: self.received_at,
            },
        })
    }
}

/// Lets `call_id`'s offer reach `areas` too while it is open (those it reaches already stay);
/// how many it gained.
async fn reach(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    call_id: &str,
    areas: &[String],
) -> Result<u64, StoreError> {
    let mut added = 0;
    for area in areas {
        let inserted = sqlx::query(
            "INSERT INTO offer_areas (call_id, area) SELECT $1, $2 WHERE EXISTS \
             (SELECT 1 FROM catches WHERE call_id = $1 AND status = 'RECEIVED') \
             ON CONFLICT (call_id, area) DO NOTHING",
        )
        .bind(call_id)
        .bind(area.trim().to_lowercase())
        .execute(&mut **tx)
        .await?;
        added += inserted.rows_affected();
    }
    Ok(added)
}

/// Numbers a change to `call_id`'s offer or catch, in the transaction that makes it.
async fn changed(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    call_id: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO catch_changes (call_id) VALUES ($1)")
        .bind(call_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
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
            db: Database::owned(url, migrator(url)).await?,
        })
    }

    /// Opens the catcher database to read it, without migrating (the API); see
    /// [`Self::ping`] for when it is ready.
    pub fn open_reader(url: &str) -> Result<Self, StoreError> {
        Ok(Self {
            db: Database::read(url, migrator(url))?,
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
        let call_id = offer.call_id.to_string();
        let area = area.trim().to_lowercase();
        let mut tx = self.db.pool.begin().await?;
        let opened = sqlx::query(
            "INSERT INTO catches (call_id, area, location, destination, pay_amount, status, \
             received_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'RECEIVED', $6, $6) \
             ON CONFLICT (call_id) DO NOTHING",
        )
        .bind(&call_id)
        .bind(&area)
        .bind(offer.location.as_ref())
        .bind(offer.destination.as_deref())
        .bind(offer.pay_amount.get())
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        if opened.rows_affected() > 0 {
            reach(&mut tx, &call_id, std::slice::from_ref(&area)).await?;
            changed(&mut tx, &call_id).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Widens an open offer to `areas` (adding to those it reaches) and, with `everyone`, to
    /// every available driver; a retry, or an offer no longer open, changes nothing.
    #[tracing::instrument(skip(self))]
    pub async fn widen(
        &self,
        call_id: &CallId,
        areas: &[String],
        everyone: bool,
    ) -> Result<(), StoreError> {
        let call_id = call_id.to_string();
        let mut tx = self.db.pool.begin().await?;
        // Each statement changes only an open offer, and only what is new to it.
        let flagged = sqlx::query(
            "UPDATE catches SET everyone = $1, updated_at = $2 \
             WHERE call_id = $3 AND status = 'RECEIVED' AND everyone <> $1",
        )
        .bind(i64::from(everyone))
        .bind(crate::now_rfc3339())
        .bind(&call_id)
        .execute(&mut *tx)
        .await?;
        let added = reach(&mut tx, &call_id, areas).await?;
        if flagged.rows_affected() + added > 0 {
            changed(&mut tx, &call_id).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records the winner of an open offer. Idempotent: a retry finds the offer caught already.
    #[tracing::instrument(skip(self))]
    pub async fn record_catch(&self, call_id: &CallId, driver: &Driver) -> Result<(), StoreError> {
        let call_id = call_id.to_string();
        let mut tx = self.db.pool.begin().await?;
        let caught = sqlx::query(
            "UPDATE catches SET status = 'CAUGHT', driver_id = $1, driver_name = $2, updated_at = $3 \
             WHERE call_id = $4 AND status = 'RECEIVED'",
        )
        .bind(driver.driver_id.as_ref())
        .bind(&driver.driver_name)
        .bind(crate::now_rfc3339())
        .bind(&call_id)
        .execute(&mut *tx)
        .await?;
        if caught.rows_affected() > 0 {
            changed(&mut tx, &call_id).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Closes an open offer or a catch; a closed one stays as it is.
    #[tracing::instrument(skip(self))]
    pub async fn close(&self, call_id: &CallId, status: CatchStatus) -> Result<(), StoreError> {
        let call_id = call_id.to_string();
        let mut tx = self.db.pool.begin().await?;
        let closed = sqlx::query(
            "UPDATE catches SET status = $1, updated_at = $2 \
             WHERE call_id = $3 AND status IN ('RECEIVED', 'CAUGHT')",
        )
        .bind(status.as_str())
        .bind(crate::now_rfc3339())
        .bind(&call_id)
        .execute(&mut *tx)
        .await?;
        if closed.rows_affected() > 0 {
            changed(&mut tx, &call_id).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Open offers that reach `area` (case-insensitive), oldest first.
    pub async fn open_offers(&self, area: &str) -> Result<Vec<OpenOffer>, StoreError> {
        self.open_offers_in(&[area]).await
    }

    /// Open offers that reach any of `areas` (case-insensitive; an offer widened to everyone
    /// reaches them all), oldest first: one query however many areas a driver serves.
    pub async fn open_offers_in(
        &self,
        areas: &[impl AsRef<str>],
    ) -> Result<Vec<OpenOffer>, StoreError> {
        if areas.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT call_id, area, location, destination, pay_amount, received_at FROM catches c \
             WHERE status = 'RECEIVED' AND (everyone = 1 OR EXISTS (SELECT 1 FROM offer_areas o \
             WHERE o.call_id = c.call_id AND o.area IN ({}))) ORDER BY received_at, call_id",
            db::placeholders(areas.len())
        );
        let mut query = sqlx::query_as(&sql);
        for area in areas {
            query = query.bind(area.as_ref().trim().to_lowercase());
        }
        Ok(query.fetch_all(&self.db.pool).await?)
    }

    /// What a catch by `driver_id` (serving `driver_areas`) meets, in one read: whether the call
    /// has an offer, whether it was caught by this very driver, whether it reaches their areas,
    /// and whether they hold a call. `None` when the call has no offer.
    pub async fn catch_by(
        &self,
        call_id: &str,
        driver_id: &str,
        driver_areas: &[String],
    ) -> Result<Option<CatchBy>, StoreError> {
        let areas = if driver_areas.is_empty() {
            "NULL".to_owned()
        } else {
            db::placeholders_from(3, driver_areas.len())
        };
        let sql = format!(
            "SELECT c.driver_id, c.everyone, \
             (SELECT COUNT(*) FROM offer_areas o WHERE o.call_id = c.call_id AND o.area IN ({areas})), \
             (SELECT COUNT(*) FROM catches h WHERE h.driver_id = $2 AND h.status = 'CAUGHT') \
             FROM catches c WHERE c.call_id = $1"
        );
        let mut query = sqlx::query_as::<_, (Option<String>, i64, i64, i64)>(&sql)
            .bind(call_id)
            .bind(driver_id);
        for area in driver_areas {
            query = query.bind(area.trim().to_lowercase());
        }
        let row = query.fetch_optional(&self.db.pool).await?;
        Ok(row.map(|(caught_by, everyone, reached, holding)| CatchBy {
            theirs: caught_by.as_deref() == Some(driver_id),
            reaches: everyone != 0 || reached > 0,
            holding: holding > 0,
        }))
    }

    /// Whether `driver_id` holds a call (caught and not yet ended): they get no other offers.
    pub async fn on_a_call(&self, driver_id: &str) -> Result<bool, StoreError> {
        let held: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM catches WHERE driver_id = $1 AND status = 'CAUGHT'",
        )
        .bind(driver_id)
        .fetch_one(&self.db.pool)
        .await?;
        Ok(held > 0)
    }

    /// The number of the newest change to any offer or catch (0 before the first).
    pub async fn newest_change(&self) -> Result<i64, StoreError> {
        let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM catch_changes")
            .fetch_one(&self.db.pool)
            .await?;
        Ok(newest.unwrap_or(0))
    }

    /// The changes numbered after `after`, in order: each a change's number and its call.
    pub async fn changes_after(&self, after: i64) -> Result<Vec<(i64, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, call_id FROM catch_changes WHERE id > $1 ORDER BY id LIMIT 1000",
        )
        .bind(after)
        .fetch_all(&self.db.pool)
        .await?)
    }

    /// Every offer that is open or caught, with whom it reaches: what the offers feed starts from.
    pub async fn live_offers(&self) -> Result<Vec<LiveOffer>, StoreError> {
        self.live_offers_where("status IN ('RECEIVED', 'CAUGHT')", &[])
            .await
    }

    /// The offers or catches of `call_ids` as they are now, with whom they reach.
    pub async fn offers_of(&self, call_ids: &[String]) -> Result<Vec<LiveOffer>, StoreError> {
        if call_ids.is_empty() {
            return Ok(Vec::new());
        }
        let filter = format!("call_id IN ({})", db::placeholders(call_ids.len()));
        self.live_offers_where(&filter, call_ids).await
    }

    async fn live_offers_where(
        &self,
        filter: &str,
        binds: &[String],
    ) -> Result<Vec<LiveOffer>, StoreError> {
        let sql = format!(
            "SELECT call_id, area, location, destination, pay_amount, received_at, status, \
             driver_id, everyone FROM catches WHERE {filter} ORDER BY received_at, call_id"
        );
        let mut query = sqlx::query_as::<_, LiveOfferRow>(&sql);
        for bind in binds {
            query = query.bind(bind);
        }
        let rows = query.fetch_all(&self.db.pool).await?;
        let ids: Vec<String> = rows.iter().map(|r| r.call_id.clone()).collect();
        let mut areas = self.areas_of(&ids).await?;
        rows.into_iter()
            .map(|row| {
                let reach = areas.remove(&row.call_id).unwrap_or_default();
                row.into_live(reach)
            })
            .collect()
    }

    /// The areas each of `call_ids`' offers reaches.
    async fn areas_of(
        &self,
        call_ids: &[String],
    ) -> Result<std::collections::HashMap<String, Vec<String>>, StoreError> {
        let mut areas: std::collections::HashMap<String, Vec<String>> = Default::default();
        // In chunks, so a large snapshot stays within every backend's limit on binds.
        for chunk in call_ids.chunks(500) {
            let sql = format!(
                "SELECT call_id, area FROM offer_areas WHERE call_id IN ({}) ORDER BY call_id, area",
                db::placeholders(chunk.len())
            );
            let mut query = sqlx::query_as::<_, (String, String)>(&sql);
            for id in chunk {
                query = query.bind(id);
            }
            for (call_id, area) in query.fetch_all(&self.db.pool).await? {
                areas.entry(call_id).or_default().push(area);
            }
        }
        Ok(areas)
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
