//! Accounts and sign-in state in the identity context's own database (spec section 7): customers
//! (by mobile number), drivers and operators (by username, with a password hash), each number's
//! one-time code, and the log of code requests that the rate limit counts.
//!
//! The API owns this database: it opens it with [`IdentityStore::connect`], which migrates.
//! Every method that depends on the time takes `now`, so the rules can be checked with any clock.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sqlx::migrate::Migrator;

use crate::db::{Database, StoreError};
use crate::db::{format_time, parse_time};

static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/identity/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/identity/postgres");

fn migrator(url: &str) -> &'static Migrator {
    crate::db::migrator_for(url, &SQLITE_MIGRATOR, &POSTGRES_MIGRATOR)
}

/// Who a signed-in person is to the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    /// Anyone with a mobile number, signed in with a one-time code.
    Customer,
    /// A driver an operator registered, signed in with username and password.
    Driver,
    /// Staff, signed in with username and password.
    Operator,
}

impl Role {
    /// The role as tokens and answers spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Driver => "driver",
            Role::Operator => "operator",
        }
    }
}

/// A password's or a one-time code's hash as stored; its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredHash(String);

impl StoredHash {
    /// Wraps a hash (a PHC string, or a code's hex digest).
    pub fn new(hash: String) -> Self {
        Self(hash)
    }

    /// The hash as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for StoredHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoredHash(<redacted>)")
    }
}

/// How many code requests a number may make within a sliding window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed within `window`.
    pub max_requests: u32,
    /// The window's length.
    pub window: Duration,
}

/// What a code request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeIssue {
    /// The code is now the number's live code.
    Issued,
    /// Too many requests: nothing changed; the next one is admitted after `retry_after`.
    Limited {
        /// How long until the oldest request in the window leaves it.
        retry_after: Duration,
    },
}

/// A code about to be issued.
#[derive(Debug, Clone)]
pub struct NewCode<'a> {
    /// The (normalised) number it is sent to.
    pub mobile: &'a str,
    /// Its keyed hash; the code itself is never stored.
    pub code_hash: StoredHash,
    /// How long it stays valid.
    pub valid_for: Duration,
}

/// A number's live one-time code as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCode {
    /// This code's id (a newer code of the same number has another).
    pub code_id: String,
    /// Its keyed hash.
    pub code_hash: StoredHash,
    /// When it was issued.
    pub issued_at: SystemTime,
    /// When it stops being valid.
    pub expires_at: SystemTime,
    /// Wrong answers given for it so far.
    pub failed_attempts: u32,
    /// Whether it has signed someone in already.
    pub used: bool,
}

/// A driver about to be registered.
#[derive(Debug, Clone)]
pub struct NewDriverRecord<'a> {
    /// The sign-in name, also the driver's `driverId`.
    pub username: &'a str,
    /// The name customers see.
    pub name: &'a str,
    /// The driver's (normalised) mobile number.
    pub mobile: &'a str,
    /// The password's hash.
    pub password_hash: StoredHash,
    /// The service areas the driver serves (lower-cased).
    pub areas: &'a [String],
}

/// A driver as operators list them (never with the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DriverRecord {
    /// The sign-in name, also the driver's `driverId`.
    pub username: String,
    /// The name customers see.
    pub name: String,
    /// The driver's mobile number (digits).
    pub mobile: String,
    /// The service areas the driver serves.
    pub areas: Vec<String>,
    /// When an operator disabled the driver, if one has.
    pub disabled_at: Option<String>,
    /// When the driver was registered.
    pub created_at: String,
    /// Whether the driver is online (the driver app's go-online). As the API answers it, false
    /// too once the driver has not been heard from within `PRESENCE_TIMEOUT`
    /// ([`DriverRecord::present`]).
    pub online: bool,
    /// When the driver was last heard from (a request, or their offers stream open).
    pub last_seen_at: Option<String>,
    /// The generation a token must carry to be valid (bumped when the driver is disabled).
    #[serde(skip)]
    pub token_generation: i64,
}

impl DriverRecord {
    /// Whether an operator has disabled the driver.
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }

    /// The driver as they are at `now` under `presence_timeout`: online only while heard from
    /// within it (spec section 9, "Dispatch"); a driver not heard from that long is offline until
    /// they go online again.
    pub fn present(mut self, now: SystemTime, presence_timeout: std::time::Duration) -> Self {
        let cutoff = format_time(now.checked_sub(presence_timeout).unwrap_or(now));
        let heard = self
            .last_seen_at
            .as_deref()
            .is_some_and(|seen| seen >= cutoff.as_str());
        self.online = self.online && heard && !self.is_disabled();
        self
    }
}

/// An account that signs in with a password: what the sign-in check needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordAccount {
    /// `Driver` or `Operator`.
    pub role: Role,
    /// The username.
    pub username: String,
    /// The password's hash.
    pub password_hash: StoredHash,
    /// The generation the account's tokens carry.
    pub token_generation: i64,
    /// Whether the account is disabled (drivers only).
    pub disabled: bool,
}

#[derive(sqlx::FromRow)]
struct DriverRow {
    username: String,
    name: String,
    mobile: String,
    areas: String,
    disabled_at: Option<String>,
    created_at: String,
    online: i64,
    last_seen_at: Option<String>,
    token_generation: i64,
}

impl From<DriverRow> for DriverRecord {
    fn from(row: DriverRow) -> Self {
        Self {
            areas: row.areas.split(',').map(str::to_owned).collect(),
            username: row.username,
            name: row.name,
            mobile: row.mobile,
            disabled_at: row.disabled_at,
            created_at: row.created_at,
            online: row.online != 0,
            last_seen_at: row.last_seen_at,
            token_generation: row.token_generation,
        }
    }
}

#[derive(sqlx::FromRow)]
struct CodeRow {
    code_id: String,
    code_hash: String,
    issued_at: String,
    expires_at: String,
    failed_attempts: i64,
    used_at: Option<String>,
}

impl TryFrom<CodeRow> for StoredCode {
    type Error = StoreError;
    fn try_from(row: CodeRow) -> Result<Self, Self::Error> {
        Ok(Self {
            issued_at: parse_time(&row.issued_at)?,
            expires_at: parse_time(&row.expires_at)?,
            failed_attempts: u32::try_from(row.failed_attempts)
                .map_err(|_| StoreError::Corrupt(row.failed_attempts.to_string()))?,
            used: row.used_at.is_some(),
            code_id: row.code_id,
            code_hash: StoredHash(row.code_hash),
        })
    }
}

#[derive(sqlx::FromRow)]
struct PasswordRow {
    password_hash: String,
    token_generation: i64,
    disabled_at: Option<String>,
}

const DRIVER_COLUMNS: &str = "username, name, mobile, areas, disabled_at, created_at, online, \
     last_seen_at, token_generation";

/// The identity context's store.
#[derive(Debug, Clone)]
pub struct IdentityStore {
    db: Database,
}

impl IdentityStore {
    /// Opens the identity database as its owner (the API) and migrates it.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Ok(Self {
            db: Database::owned(url, migrator(url)).await?,
        })
    }

    /// Whether the database answers with its schema migrated.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ready().await
    }

    /// Makes `code` the number's live code (replacing an earlier one) unless the number has made
    /// `limit.max_requests` requests within `limit.window` before `now`; a limited request changes
    /// nothing. Concurrent requests for one number are serialised by the code row they all write.
    #[tracing::instrument(skip_all)]
    pub async fn issue_code(
        &self,
        code: NewCode<'_>,
        now: SystemTime,
        limit: RateLimit,
    ) -> Result<CodeIssue, StoreError> {
        let window_start = format_time(now.checked_sub(limit.window).unwrap_or(now));
        let now_text = format_time(now);
        let mut tx = self.db.pool.begin().await?;
        sqlx::query(
            "INSERT INTO one_time_codes (mobile, code_id, code_hash, issued_at, expires_at, \
             failed_attempts, used_at) VALUES ($1, $2, $3, $4, $5, 0, NULL) \
             ON CONFLICT (mobile) DO UPDATE SET code_id = excluded.code_id, \
             code_hash = excluded.code_hash, issued_at = excluded.issued_at, \
             expires_at = excluded.expires_at, failed_attempts = 0, used_at = NULL",
        )
        .bind(code.mobile)
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(code.code_hash.as_str())
        .bind(&now_text)
        .bind(format_time(now + code.valid_for))
        .execute(&mut *tx)
        .await?;
        let (count, oldest): (i64, Option<String>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(requested_at) FROM code_requests \
             WHERE mobile = $1 AND requested_at > $2",
        )
        .bind(code.mobile)
        .bind(&window_start)
        .fetch_one(&mut *tx)
        .await?;
        if count >= i64::from(limit.max_requests) {
            tx.rollback().await?;
            let oldest = oldest
                .as_deref()
                .map(parse_time)
                .transpose()?
                .unwrap_or(now);
            let retry_after = (oldest + limit.window)
                .duration_since(now)
                .unwrap_or_default();
            return Ok(CodeIssue::Limited { retry_after });
        }
        sqlx::query("DELETE FROM code_requests WHERE mobile = $1 AND requested_at <= $2")
            .bind(code.mobile)
            .bind(&window_start)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO code_requests (mobile, requested_at) VALUES ($1, $2)")
            .bind(code.mobile)
            .bind(&now_text)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(CodeIssue::Issued)
    }

    /// The number's live code, used or not.
    pub async fn code_of(&self, mobile: &str) -> Result<Option<StoredCode>, StoreError> {
        let row: Option<CodeRow> = sqlx::query_as(
            "SELECT code_id, code_hash, issued_at, expires_at, failed_attempts, used_at \
             FROM one_time_codes WHERE mobile = $1",
        )
        .bind(mobile)
        .fetch_optional(&self.db.pool)
        .await?;
        row.map(StoredCode::try_from).transpose()
    }

    /// Counts a wrong answer against the code; returns the wrong answers so far (0 when the code
    /// has been replaced or used meanwhile).
    pub async fn record_wrong_code(&self, code_id: &str) -> Result<u32, StoreError> {
        sqlx::query(
            "UPDATE one_time_codes SET failed_attempts = failed_attempts + 1 \
             WHERE code_id = $1 AND used_at IS NULL",
        )
        .bind(code_id)
        .execute(&self.db.pool)
        .await?;
        let attempts: Option<i64> = sqlx::query_scalar(
            "SELECT failed_attempts FROM one_time_codes WHERE code_id = $1 AND used_at IS NULL",
        )
        .bind(code_id)
        .fetch_optional(&self.db.pool)
        .await?;
        Ok(attempts.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)))
    }

    /// Uses the code once: true only for the one caller that finds it unused, unexpired at `now`,
    /// with fewer than `max_attempts` wrong answers and not replaced by a newer code.
    pub async fn use_code(
        &self,
        code_id: &str,
        now: SystemTime,
        max_attempts: u32,
    ) -> Result<bool, StoreError> {
        let now = format_time(now);
        let used = sqlx::query(
            "UPDATE one_time_codes SET used_at = $1 WHERE code_id = $2 AND used_at IS NULL \
             AND expires_at > $1 AND failed_attempts < $3",
        )
        .bind(&now)
        .bind(code_id)
        .bind(i64::from(max_attempts))
        .execute(&self.db.pool)
        .await?;
        Ok(used.rows_affected() == 1)
    }

    /// Records the customer on their first sign-in; returns the generation their tokens carry.
    pub async fn sign_in_customer(&self, mobile: &str, now: SystemTime) -> Result<i64, StoreError> {
        sqlx::query(
            "INSERT INTO customers (mobile, token_generation, created_at) VALUES ($1, 0, $2) \
             ON CONFLICT (mobile) DO NOTHING",
        )
        .bind(mobile)
        .bind(format_time(now))
        .execute(&self.db.pool)
        .await?;
        let generation = self.active_generation(Role::Customer, mobile).await?;
        generation.ok_or_else(|| StoreError::Corrupt(format!("customer {mobile} vanished")))
    }

    /// The generation a valid token of this account carries; `None` when the account does not
    /// exist or is disabled (then none of its tokens is valid).
    pub async fn active_generation(
        &self,
        role: Role,
        subject: &str,
    ) -> Result<Option<i64>, StoreError> {
        let sql = match role {
            Role::Customer => "SELECT token_generation FROM customers WHERE mobile = $1",
            Role::Driver => {
                "SELECT token_generation FROM drivers WHERE username = $1 AND disabled_at IS NULL"
            }
            Role::Operator => "SELECT token_generation FROM operators WHERE username = $1",
        };
        Ok(sqlx::query_scalar(sql)
            .bind(subject)
            .fetch_optional(&self.db.pool)
            .await?)
    }

    /// Registers a driver; `None` when the username is taken (by a driver or an operator).
    #[tracing::instrument(skip_all, fields(username = %driver.username))]
    pub async fn register_driver(
        &self,
        driver: NewDriverRecord<'_>,
        now: SystemTime,
    ) -> Result<Option<DriverRecord>, StoreError> {
        // One statement, not a read and then a write: an SQLite transaction that reads first
        // fails at once ("database is locked") when another write lands in between.
        let inserted = sqlx::query(
            "INSERT INTO drivers (username, name, mobile, password_hash, areas, disabled_at, \
             token_generation, created_at) SELECT $1, $2, $3, $4, $5, NULL, 0, $6 \
             WHERE NOT EXISTS (SELECT 1 FROM operators WHERE username = $1) \
             ON CONFLICT (username) DO NOTHING",
        )
        .bind(driver.username)
        .bind(driver.name)
        .bind(driver.mobile)
        .bind(driver.password_hash.as_str())
        .bind(driver.areas.join(","))
        .bind(format_time(now))
        .execute(&self.db.pool)
        .await?;
        if inserted.rows_affected() == 0 {
            return Ok(None);
        }
        self.driver(driver.username).await
    }

    /// The driver with this username.
    pub async fn driver(&self, username: &str) -> Result<Option<DriverRecord>, StoreError> {
        let sql = format!("SELECT {DRIVER_COLUMNS} FROM drivers WHERE username = $1");
        let row: Option<DriverRow> = sqlx::query_as(&sql)
            .bind(username)
            .fetch_optional(&self.db.pool)
            .await?;
        Ok(row.map(DriverRecord::from))
    }

    /// Every driver, by username.
    pub async fn drivers(&self) -> Result<Vec<DriverRecord>, StoreError> {
        let sql = format!("SELECT {DRIVER_COLUMNS} FROM drivers ORDER BY username");
        let rows: Vec<DriverRow> = sqlx::query_as(&sql).fetch_all(&self.db.pool).await?;
        Ok(rows.into_iter().map(DriverRecord::from).collect())
    }

    /// Disables the driver and revokes every token they hold (their generation moves on); a
    /// second call changes nothing. `None` when there is no such driver.
    #[tracing::instrument(skip(self, now))]
    pub async fn disable_driver(
        &self,
        username: &str,
        now: SystemTime,
    ) -> Result<Option<DriverRecord>, StoreError> {
        let mut tx = self.db.pool.begin().await?;
        let disabled = sqlx::query(
            "UPDATE drivers SET disabled_at = $1, token_generation = token_generation + 1, \
             online = 0 WHERE username = $2 AND disabled_at IS NULL",
        )
        .bind(format_time(now))
        .bind(username)
        .execute(&mut *tx)
        .await?;
        if disabled.rows_affected() > 0 {
            driver_changed(&mut tx, username).await?;
        }
        tx.commit().await?;
        self.driver(username).await
    }

    /// Takes the driver online or offline; `None` when there is no such active driver.
    #[tracing::instrument(skip(self))]
    pub async fn set_online(
        &self,
        username: &str,
        online: bool,
        now: SystemTime,
    ) -> Result<Option<DriverRecord>, StoreError> {
        let mut tx = self.db.pool.begin().await?;
        let set = sqlx::query(
            "UPDATE drivers SET online = $1, last_seen_at = $2 \
             WHERE username = $3 AND disabled_at IS NULL",
        )
        .bind(i64::from(online))
        .bind(format_time(now))
        .bind(username)
        .execute(&mut *tx)
        .await?;
        if set.rows_affected() > 0 {
            driver_changed(&mut tx, username).await?;
        }
        tx.commit().await?;
        Ok(self.driver(username).await?.filter(|d| !d.is_disabled()))
    }

    /// Records that each of `heard` was heard from at the time beside them, one transaction for
    /// them all (the API writes what it heard every third of `PRESENCE_TIMEOUT`): a driver who
    /// was online but had not been heard from within `presence_timeout` before that is taken
    /// offline first. Returns the drivers taken offline.
    pub async fn heard_from(
        &self,
        heard: &[(String, SystemTime)],
        presence_timeout: std::time::Duration,
    ) -> Result<Vec<String>, StoreError> {
        if heard.is_empty() {
            return Ok(Vec::new());
        }
        let stale = self.gone_stale(heard, presence_timeout).await?;
        let mut tx = self.db.pool.begin().await?;
        for (username, at) in heard {
            let cutoff = at.checked_sub(presence_timeout).unwrap_or(*at);
            sqlx::query(
                "UPDATE drivers SET online = CASE WHEN last_seen_at IS NULL OR last_seen_at < $1 \
                 THEN 0 ELSE online END, last_seen_at = $2 \
                 WHERE username = $3 AND (last_seen_at IS NULL OR last_seen_at < $2)",
            )
            .bind(format_time(cutoff))
            .bind(format_time(*at))
            .bind(username)
            .execute(&mut *tx)
            .await?;
        }
        for username in &stale {
            driver_changed(&mut tx, username).await?;
        }
        tx.commit().await?;
        Ok(stale)
    }

    /// Which of `heard` are online but were not heard from within `presence_timeout` before.
    async fn gone_stale(
        &self,
        heard: &[(String, SystemTime)],
        presence_timeout: std::time::Duration,
    ) -> Result<Vec<String>, StoreError> {
        let mut stale = Vec::new();
        for chunk in heard.chunks(500) {
            let sql = format!(
                "SELECT username, last_seen_at FROM drivers WHERE online = 1 AND username IN ({})",
                crate::db::placeholders(chunk.len())
            );
            let mut query = sqlx::query_as::<_, (String, Option<String>)>(&sql);
            for (username, _) in chunk {
                query = query.bind(username);
            }
            for (username, seen) in query.fetch_all(&self.db.pool).await? {
                let Some((_, at)) = chunk.iter().find(|(u, _)| *u == username) else {
                    continue;
                };
                let cutoff = format_time(at.checked_sub(presence_timeout).unwrap_or(*at));
                if seen.is_none_or(|seen| seen < cutoff) {
                    stale.push(username);
                }
            }
        }
        Ok(stale)
    }

    /// The number of the newest change to a driver (0 before the first).
    pub async fn newest_driver_change(&self) -> Result<i64, StoreError> {
        let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM driver_changes")
            .fetch_one(&self.db.pool)
            .await?;
        Ok(newest.unwrap_or(0))
    }

    /// The changes to drivers numbered after `after`, in order: a change's number and its driver.
    pub async fn driver_changes_after(&self, after: i64) -> Result<Vec<(i64, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, username FROM driver_changes WHERE id > $1 ORDER BY id LIMIT 1000",
        )
        .bind(after)
        .fetch_all(&self.db.pool)
        .await?)
    }

    /// The drivers named in `usernames` (unknown names are left out).
    pub async fn drivers_named(
        &self,
        usernames: &[String],
    ) -> Result<Vec<DriverRecord>, StoreError> {
        let mut drivers = Vec::with_capacity(usernames.len());
        for chunk in usernames.chunks(500) {
            let sql = format!(
                "SELECT {DRIVER_COLUMNS} FROM drivers WHERE username IN ({})",
                crate::db::placeholders(chunk.len())
            );
            let mut query = sqlx::query_as::<_, DriverRow>(&sql);
            for username in chunk {
                query = query.bind(username);
            }
            drivers.extend(
                query
                    .fetch_all(&self.db.pool)
                    .await?
                    .into_iter()
                    .map(DriverRecord::from),
            );
        }
        Ok(drivers)
    }

    /// The account that signs in as `username`: an operator's, else a driver's.
    pub async fn password_account(
        &self,
        username: &str,
    ) -> Result<Option<PasswordAccount>, StoreError> {
        let queries = [
            (
                Role::Operator,
                "SELECT password_hash, token_generation, CAST(NULL AS TEXT) AS disabled_at \
                 FROM operators WHERE username = $1",
            ),
            (
                Role::Driver,
                "SELECT password_hash, token_generation, disabled_at \
                 FROM drivers WHERE username = $1",
            ),
        ];
        for (role, sql) in queries {
            let row: Option<PasswordRow> = sqlx::query_as(sql)
                .bind(username)
                .fetch_optional(&self.db.pool)
                .await?;
            if let Some(row) = row {
                return Ok(Some(PasswordAccount {
                    role,
                    username: username.to_owned(),
                    password_hash: StoredHash(row.password_hash),
                    token_generation: row.token_generation,
                    disabled: row.disabled_at.is_some(),
                }));
            }
        }
        Ok(None)
    }

    /// Creates the operator unless the username exists; false when it does (as an operator or a
    /// driver).
    pub async fn create_operator(
        &self,
        username: &str,
        password_hash: &StoredHash,
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        // One statement, for the reason `register_driver` gives.
        let now = format_time(now);
        let inserted = sqlx::query(
            "INSERT INTO operators (username, password_hash, token_generation, created_at, \
             updated_at) SELECT $1, $2, 0, $3, $3 \
             WHERE NOT EXISTS (SELECT 1 FROM drivers WHERE username = $1) \
             ON CONFLICT (username) DO NOTHING",
        )
        .bind(username)
        .bind(password_hash.as_str())
        .bind(&now)
        .execute(&self.db.pool)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    /// Replaces an operator's password and revokes their tokens; false when there is no such
    /// operator.
    pub async fn replace_operator_password(
        &self,
        username: &str,
        password_hash: &StoredHash,
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        let updated = sqlx::query(
            "UPDATE operators SET password_hash = $1, token_generation = token_generation + 1, \
             updated_at = $2 WHERE username = $3",
        )
        .bind(password_hash.as_str())
        .bind(format_time(now))
        .bind(username)
        .execute(&self.db.pool)
        .await?;
        Ok(updated.rows_affected() == 1)
    }
}

/// Numbers a change to `username`'s availability or account, in the transaction that makes it.
async fn driver_changed(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    username: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO driver_changes (username) VALUES ($1)")
        .bind(username)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
