//! The myPage read model in the dashboard context's own database: every timeline event keyed by
//! (call, seq), and one summary row per call.

use driver_call_workflows::contracts::dashboard::ProjectTimelineInput;
use driver_call_workflows::domain::{EventName, TimelineEvent};
use serde::Serialize;
use sqlx::migrate::Migrator;

use crate::db::{self, Database, StoreError};

static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/dashboard/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/dashboard/postgres");

fn migrator(url: &str) -> &'static Migrator {
    crate::db::migrator_for(url, &SQLITE_MIGRATOR, &POSTGRES_MIGRATOR)
}

/// A call on a customer's myPage list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallSummary {
    /// The call.
    pub call_id: String,
    /// Its current status.
    pub status: String,
    /// Its pickup location.
    pub location: String,
    /// Its fare in KRW.
    pub pay_amount: i64,
    /// When the call was made.
    #[serde(skip)]
    pub created_at: String,
    /// When its last event happened.
    pub updated_at: String,
    /// Its customer's number (for operators; never in a customer's list, which is their own).
    #[serde(skip)]
    pub mobile: String,
}

/// Where the next page of a customer's calls starts (opaque to clients).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryCursor {
    created_at: String,
    call_id: String,
}

impl SummaryCursor {
    /// Parses a cursor a client got from an earlier page.
    pub fn parse(s: &str) -> Option<Self> {
        let (created_at, call_id) = s.split_once('~')?;
        Some(Self {
            created_at: created_at.to_owned(),
            call_id: call_id.to_owned(),
        })
    }

    fn after(summary: &CallSummary) -> Self {
        Self {
            created_at: summary.created_at.clone(),
            call_id: summary.call_id.clone(),
        }
    }
}

impl std::fmt::Display for SummaryCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}~{}", self.created_at, self.call_id)
    }
}

/// A timeline event as streamed and delivered to subscribers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StreamedEvent {
    /// Position in the whole read model (the per-customer stream's id), in commit order.
    #[serde(skip)]
    pub event_id: i64,
    /// The call.
    pub call_id: String,
    /// The call's customer (whose streams it goes to).
    #[serde(skip)]
    pub mobile: String,
    /// Position on the call's timeline (the per-call stream's id).
    pub seq: i64,
    /// The event's name.
    pub event: String,
    /// The call's status after the event, when the event changed it.
    pub status: Option<String>,
    /// When it happened.
    pub at: String,
    /// A sentence for the customer.
    pub description: String,
}

impl StreamedEvent {
    /// The events of a step's answer as the read model will stream them once it holds them, but
    /// without their position in it (`event_id` 0), which only the read model gives: what an API
    /// process hands its own streams of the call at once.
    pub fn unnumbered(input: &ProjectTimelineInput) -> Vec<Self> {
        input
            .events
            .iter()
            .map(|event| Self {
                event_id: 0,
                call_id: input.call_id.to_string(),
                mobile: input.mobile.as_ref().to_owned(),
                seq: i64::from(event.seq),
                event: event.event.as_str().to_owned(),
                status: event.event.status_after().map(|s| s.as_str().to_owned()),
                at: event.at.clone(),
                description: event.description.clone(),
            })
            .collect()
    }
}

/// The change of a call the feed read last, and the newest seq it projected.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FeedMark {
    /// The call.
    pub call_id: String,
    /// Its `TimelineAt` then, in ms.
    pub feed_at_ms: i64,
    /// Its history's length then.
    pub feed_length: i64,
    /// The newest seq the read model holds.
    pub last_seq: i64,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    seq: i64,
    event: String,
    at: String,
    description: String,
}

const EVENT_COLUMNS: &str = "event_id, call_id, mobile, seq, event, status, at, description";

/// The lock a PostgreSQL projection holds until it commits, so event ids become visible in the
/// order they were given out: a reader that sees an event has seen every earlier one (on
/// SQLite, writers take turns anyway).
const PROJECTION_LOCK: i64 = 0x6472_6976_6572;

/// The filter on `$1`, a customer's number or none: two statements rather than `$1 IS NULL OR
/// mobile = $1`, so a customer's query keeps its index.
fn whose(mobile: Option<&str>) -> &'static str {
    if mobile.is_some() {
        "mobile = $1"
    } else {
        "$1 IS NULL"
    }
}

/// The dashboard context's store.
#[derive(Debug, Clone)]
pub struct DashboardStore {
    db: Database,
    postgres: bool,
}

impl DashboardStore {
    /// Opens the dashboard database as its owner and migrates it (the dashboard worker).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Ok(Self {
            db: Database::owned(url, migrator(url)).await?,
            postgres: url.starts_with("postgres"),
        })
    }

    /// Opens the dashboard database to read it, without migrating (the API).
    pub fn open_reader(url: &str) -> Result<Self, StoreError> {
        Ok(Self {
            db: Database::read(url, migrator(url))?,
            postgres: url.starts_with("postgres"),
        })
    }

    /// Whether the database answers with its schema migrated.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ready().await
    }

    /// Writes a batch of events and moves the call's summary forward; an event seen before and a
    /// batch older than the summary change nothing.
    #[tracing::instrument(skip_all, fields(call_id = %input.call_id, events = input.events.len()))]
    pub async fn project(&self, input: &ProjectTimelineInput) -> Result<(), StoreError> {
        self.project_all(std::slice::from_ref(input)).await
    }

    /// Writes several calls' batches in one transaction (the API's answers, gathered while the
    /// previous write was under way), as [`Self::project`] writes one.
    pub async fn project_all(&self, inputs: &[ProjectTimelineInput]) -> Result<(), StoreError> {
        let mut tx = self.db.pool.begin().await?;
        if self.postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(PROJECTION_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        for input in inputs {
            project_in(&mut tx, input).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The newest seq the read model holds of the call (0 for a call it does not know).
    pub async fn last_seq(&self, call_id: &str) -> Result<i64, StoreError> {
        let last: Option<i64> = sqlx::query_scalar("SELECT last_seq FROM calls WHERE call_id = $1")
            .bind(call_id)
            .fetch_optional(&self.db.pool)
            .await?;
        Ok(last.unwrap_or(0))
    }

    /// Records that the feed has read the call's history as of its change (`TimelineAt` in ms,
    /// and the history's length then).
    pub async fn mark_read(
        &self,
        call_id: &str,
        at_ms: i64,
        history_length: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE calls SET feed_at_ms = $2, feed_length = $3 WHERE call_id = $1")
            .bind(call_id)
            .bind(at_ms)
            .bind(history_length)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    /// What the feed has read of the calls among `call_ids` (those it has read at all).
    pub async fn feed_marks(&self, call_ids: &[String]) -> Result<Vec<FeedMark>, StoreError> {
        if call_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT call_id, feed_at_ms, feed_length, last_seq FROM calls \
             WHERE feed_at_ms IS NOT NULL AND call_id IN ({})",
            db::placeholders(call_ids.len())
        );
        let mut query = sqlx::query_as(&sql);
        for call_id in call_ids {
            query = query.bind(call_id);
        }
        Ok(query.fetch_all(&self.db.pool).await?)
    }

    /// Says that the feed worker `holder` is alive until `until_ms`; answers how many are
    /// alive at `now_ms`, itself included.
    pub async fn feed_heartbeat(
        &self,
        holder: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<usize, StoreError> {
        sqlx::query(
            "INSERT INTO feed_workers (holder, expires_at_ms) VALUES ($1, $2) \
             ON CONFLICT (holder) DO UPDATE SET expires_at_ms = $2",
        )
        .bind(holder)
        .bind(until_ms)
        .execute(&self.db.pool)
        .await?;
        let alive: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM feed_workers WHERE expires_at_ms >= $1")
                .bind(now_ms)
                .fetch_one(&self.db.pool)
                .await?;
        Ok(usize::try_from(alive).unwrap_or(1).max(1))
    }

    /// Renews every shard `holder` holds until `until_ms` and moves their checkpoints on to
    /// `checkpoint_ms` (never back); answers the shards it still holds.
    pub async fn renew_shards(
        &self,
        holder: &str,
        until_ms: i64,
        checkpoint_ms: i64,
    ) -> Result<Vec<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "UPDATE feed_shards SET expires_at_ms = $2, checkpoint_ms = \
             CASE WHEN checkpoint_ms < $3 THEN $3 ELSE checkpoint_ms END \
             WHERE holder = $1 RETURNING shard",
        )
        .bind(holder)
        .bind(until_ms)
        .bind(checkpoint_ms)
        .fetch_all(&self.db.pool)
        .await?)
    }

    /// Takes `shard` for `holder` until `until_ms` if nobody holds it at `now_ms`; answers its
    /// checkpoint when taken.
    pub async fn take_shard(
        &self,
        shard: i64,
        holder: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "INSERT INTO feed_shards (shard, holder, expires_at_ms, checkpoint_ms) \
             VALUES ($1, $2, $3, 0) ON CONFLICT (shard) DO UPDATE SET holder = $2, \
             expires_at_ms = $3 WHERE feed_shards.expires_at_ms < $4 RETURNING checkpoint_ms",
        )
        .bind(shard)
        .bind(holder)
        .bind(until_ms)
        .bind(now_ms)
        .fetch_optional(&self.db.pool)
        .await?)
    }

    /// Lets go of `shard`, so another worker may take it at once.
    pub async fn release_shard(&self, shard: i64, holder: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE feed_shards SET expires_at_ms = 0 WHERE shard = $1 AND holder = $2")
            .bind(shard)
            .bind(holder)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    /// Records that the dashboard follows the call's history; answers whether it has already
    /// been followed to its end (then there is nothing left to project).
    pub async fn follow(&self, call_id: &str, started_at_ms: i64) -> Result<bool, StoreError> {
        sqlx::query(
            "INSERT INTO followed_calls (call_id, started_at_ms) VALUES ($1, $2) \
             ON CONFLICT (call_id) DO NOTHING",
        )
        .bind(call_id)
        .bind(started_at_ms)
        .execute(&self.db.pool)
        .await?;
        let finished: Option<String> =
            sqlx::query_scalar("SELECT finished_at FROM followed_calls WHERE call_id = $1")
                .bind(call_id)
                .fetch_one(&self.db.pool)
                .await?;
        Ok(finished.is_some())
    }

    /// Records that the call's history has closed and every batch in it is projected.
    pub async fn finish_follow(&self, call_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE followed_calls SET finished_at = $1 WHERE call_id = $2")
            .bind(crate::now_rfc3339())
            .bind(call_id)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    /// The calls followed but not yet to their end (to resume after a restart), with their
    /// start times.
    pub async fn unfinished_follows(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT call_id, started_at_ms FROM followed_calls WHERE finished_at IS NULL \
             ORDER BY started_at_ms",
        )
        .fetch_all(&self.db.pool)
        .await?)
    }

    /// The start time of the newest call followed: where discovery goes on from.
    pub async fn newest_follow(&self) -> Result<Option<i64>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT MAX(started_at_ms) FROM followed_calls")
                .fetch_one(&self.db.pool)
                .await?,
        )
    }

    /// Takes or renews the follower's lease for `holder` until `expires_at_ms`; answers whether
    /// `holder` holds it (false while another holder's lease has not lapsed at `now_ms`).
    pub async fn hold_follower_lease(
        &self,
        holder: &str,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> Result<bool, StoreError> {
        let taken = sqlx::query(
            "INSERT INTO follower_lease (name, holder, expires_at_ms) VALUES ('follower', $1, $2) \
             ON CONFLICT (name) DO UPDATE SET holder = $1, expires_at_ms = $2 \
             WHERE follower_lease.holder = $1 OR follower_lease.expires_at_ms < $3",
        )
        .bind(holder)
        .bind(expires_at_ms)
        .bind(now_ms)
        .execute(&self.db.pool)
        .await?;
        Ok(taken.rows_affected() == 1)
    }

    /// The call's timeline as myPage shows it (empty when the call is unknown).
    pub async fn timeline(&self, call_id: &str) -> Result<Vec<TimelineEvent>, StoreError> {
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT seq, event, at, description FROM timeline_events \
             WHERE call_id = $1 ORDER BY seq",
        )
        .bind(call_id)
        .fetch_all(&self.db.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(TimelineEvent {
                    seq: u32::try_from(row.seq)
                        .map_err(|_| StoreError::Corrupt(row.seq.to_string()))?,
                    event: db::parse_stored(&row.event, EventName::parse)?,
                    at: row.at,
                    description: row.description,
                })
            })
            .collect()
    }

    /// The mobile number of the call's customer, once the read model has the call.
    pub async fn customer_of(&self, call_id: &str) -> Result<Option<String>, StoreError> {
        let mobile = sqlx::query_scalar("SELECT mobile FROM calls WHERE call_id = $1")
            .bind(call_id)
            .fetch_optional(&self.db.pool)
            .await?;
        Ok(mobile)
    }

    /// A page of the customer's calls (every customer's when `mobile` is `None`), newest first,
    /// and the cursor of the next page.
    pub async fn calls_of(
        &self,
        mobile: Option<&str>,
        after: Option<&SummaryCursor>,
        limit: u32,
    ) -> Result<(Vec<CallSummary>, Option<SummaryCursor>), StoreError> {
        let (created_at, call_id) =
            after.map_or(("~", ""), |c| (c.created_at.as_str(), c.call_id.as_str()));
        let sql = format!(
            "SELECT call_id, status, location, pay_amount, created_at, updated_at, mobile FROM calls \
             WHERE {} AND (created_at < $2 OR (created_at = $2 AND call_id < $3)) \
             ORDER BY created_at DESC, call_id DESC LIMIT $4",
            whose(mobile)
        );
        let mut page: Vec<CallSummary> = sqlx::query_as(&sql)
            .bind(mobile)
            .bind(created_at)
            .bind(if after.is_some() { call_id } else { "~" })
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.db.pool)
            .await?;
        let has_more = page.len() > limit as usize;
        page.truncate(limit as usize);
        let next = has_more
            .then(|| page.last().map(SummaryCursor::after))
            .flatten();
        Ok((page, next))
    }

    /// The call's events after `seq`, in order.
    pub async fn call_events_after(
        &self,
        call_id: &str,
        seq: i64,
    ) -> Result<Vec<StreamedEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM timeline_events WHERE call_id = $1 AND seq > $2 ORDER BY seq"
        );
        Ok(sqlx::query_as(&sql)
            .bind(call_id)
            .bind(seq)
            .fetch_all(&self.db.pool)
            .await?)
    }

    /// The customer's events (every customer's when `mobile` is `None`) after `event_id`, in
    /// the order they were committed.
    pub async fn customer_events_after(
        &self,
        mobile: Option<&str>,
        event_id: i64,
    ) -> Result<Vec<StreamedEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM timeline_events WHERE {} AND event_id > $2 \
             ORDER BY event_id LIMIT 500",
            whose(mobile)
        );
        Ok(sqlx::query_as(&sql)
            .bind(mobile)
            .bind(event_id)
            .fetch_all(&self.db.pool)
            .await?)
    }

    /// The summaries of the calls among `call_ids` that the read model holds.
    pub async fn summaries(&self, call_ids: &[String]) -> Result<Vec<CallSummary>, StoreError> {
        if call_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT call_id, status, location, pay_amount, created_at, updated_at, mobile FROM calls \
             WHERE call_id IN ({})",
            db::placeholders(call_ids.len())
        );
        let mut query = sqlx::query_as(&sql);
        for call_id in call_ids {
            query = query.bind(call_id);
        }
        Ok(query.fetch_all(&self.db.pool).await?)
    }

    /// The position of the newest event (0 when there is none): where a stream that wants only
    /// what happens from now on starts.
    pub async fn newest_event_id(&self) -> Result<i64, StoreError> {
        let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(event_id) FROM timeline_events")
            .fetch_one(&self.db.pool)
            .await?;
        Ok(newest.unwrap_or(0))
    }

    /// How many calls the read model holds in each status.
    pub async fn status_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT status, COUNT(*) FROM calls GROUP BY status ORDER BY status")
                .fetch_all(&self.db.pool)
                .await?,
        )
    }

    /// Events not yet delivered to the webhook, oldest first.
    pub async fn undelivered(&self, limit: i64) -> Result<Vec<StreamedEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM timeline_events WHERE delivered_at IS NULL \
             ORDER BY event_id LIMIT $1"
        );
        Ok(sqlx::query_as(&sql)
            .bind(limit)
            .fetch_all(&self.db.pool)
            .await?)
    }

    /// Marks an event delivered to the webhook.
    pub async fn mark_delivered(&self, event_id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE timeline_events SET delivered_at = $1 WHERE event_id = $2")
            .bind(crate::now_rfc3339())
            .bind(event_id)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }
}

/// One call's batch inside a projection's transaction.
async fn project_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    input: &ProjectTimelineInput,
) -> Result<(), StoreError> {
    let call_id = input.call_id.to_string();
    if !input.events.is_empty() {
        // One statement for the whole batch: an update's answer carries the whole timeline,
        // most of it already here, and a statement per event would cost a round trip each.
        let rows = (0..input.events.len())
            .map(|i| format!("({})", db::placeholders_from(i * 7 + 1, 7)))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO timeline_events (call_id, seq, mobile, event, status, at, description) \
             VALUES {rows} ON CONFLICT (call_id, seq) DO NOTHING"
        );
        let mut insert = sqlx::query(&sql);
        for event in &input.events {
            insert = insert
                .bind(&call_id)
                .bind(i64::from(event.seq))
                .bind(input.mobile.as_ref())
                .bind(event.event.as_str())
                .bind(event.event.status_after().map(|s| s.as_str()))
                .bind(&event.at)
                .bind(&event.description);
        }
        insert.execute(&mut **tx).await?;
    }
    if let Some(last) = input.events.last() {
        let created_at = input
            .events
            .iter()
            .find(|e| e.seq == 1)
            .map_or_else(|| last.at.clone(), |e| e.at.clone());
        sqlx::query(
            "INSERT INTO calls (call_id, mobile, status, location, pay_amount, last_seq, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (call_id) DO UPDATE SET status = excluded.status, \
             last_seq = excluded.last_seq, updated_at = excluded.updated_at \
             WHERE calls.last_seq < excluded.last_seq",
        )
        .bind(&call_id)
        .bind(input.mobile.as_ref())
        .bind(input.status.as_str())
        .bind(input.location.as_ref())
        .bind(input.pay_amount.get())
        .bind(i64::from(last.seq))
        .bind(created_at)
        .bind(&last.at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
