//! The identity context (spec section 7): who may sign in, how, and who a request's bearer is.
//!
//! [`Identity`] ties together the identity store (accounts, one-time codes, the code-request
//! log), the token signer, password hashing and the SMS sender; the routes call its methods:
//!
//! | route | method |
//! |---|---|
//! | `POST /auth/otp` | [`Identity::request_code`] (202, or 429 + `Retry-After`) |
//! | `POST /auth/token` `grantType: otp` | [`Identity::exchange_code`] |
//! | `POST /auth/token` `grantType: password` | [`Identity::password_sign_in`] |
//! | every protected route | [`Identity::verify`] (the bearer token → [`Principal`]) |
//! | `POST /drivers`, `GET /drivers`, `POST /drivers/{username}/disable` | [`Identity::register_driver`], [`Identity::list_drivers`], [`Identity::disable_driver`] |
//! | `GET /dev/sms?mobile=` | [`Identity::outbox`] (only while `SMS_SENDER=outbox`) |

pub mod config;
pub mod otp;
pub mod passwords;
pub mod sms;
pub mod tokens;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::http::StatusCode;
use driver_call_stores::StoreError;
use driver_call_stores::identity::{CodeIssue, NewCode, NewDriverRecord};
use driver_call_workflows::domain::{Driver, MobileNumber};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Deserialize;

pub use config::{IdentityConfig, SetupError};
pub use driver_call_stores::IdentityStore;
pub use driver_call_stores::identity::{DriverRecord, Role};
pub use otp::OneTimeCode;
pub use passwords::Password;
pub use sms::{OutboxMessage, OutboxSender, SmsError, SmsSender, SmsSetup};
pub use tokens::{SigningKey, Token, TokenSigner};

/// Where the identity context reads the time; tests drive their own.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A failure of a sign-in or account operation; [`IdentityError::status`] is its HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// `401 Unauthorized`: a wrong, expired, used or invalidated code, or a wrong username or
    /// password (which one is never said).
    #[error("wrong credentials")]
    WrongCredentials,
    /// `401 Unauthorized`: the access token is missing, malformed, tampered with, expired or
    /// revoked.
    #[error("missing, invalid or expired access token")]
    InvalidToken,
    /// `403 Forbidden`: signed in, but in another role.
    #[error("only the {} role may do this", .0.as_str())]
    Forbidden(Role),
    /// `404 Not Found`: no driver has this username.
    #[error("no driver `{0}`")]
    NoSuchDriver(String),
    /// `409 Conflict`: a driver or operator already has this username.
    #[error("the username `{0}` is taken")]
    UsernameTaken(String),
    /// `422 Unprocessable Entity`: a field is missing or invalid.
    #[error("{0}")]
    Invalid(String),
    /// `429 Too Many Requests` + `Retry-After`: too many codes requested for the number.
    #[error("too many codes requested for this number; retry in {} s", otp::retry_after_secs(*retry_after))]
    RateLimited {
        /// When the next request is admitted.
        retry_after: Duration,
    },
    /// `429 Too Many Requests` + `Retry-After`: too many password sign-ins for the username.
    #[error("too many sign-in attempts for this username; retry in {} s", otp::retry_after_secs(*retry_after))]
    TooManyAttempts {
        /// When the next attempt is admitted.
        retry_after: Duration,
    },
    /// `503 Service Unavailable`: the SMS sender did not take the code.
    #[error("the code could not be sent")]
    Sms(#[from] SmsError),
    /// `500 Internal Server Error`: the identity database failed.
    #[error("identity store error")]
    Store(#[from] StoreError),
    /// `500 Internal Server Error`: anything else (a hash that cannot be computed).
    #[error("unexpected error")]
    Unexpected(#[from] anyhow::Error),
}

impl IdentityError {
    /// The HTTP status the error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            IdentityError::WrongCredentials | IdentityError::InvalidToken => {
                StatusCode::UNAUTHORIZED
            }
            IdentityError::Forbidden(_) => StatusCode::FORBIDDEN,
            IdentityError::NoSuchDriver(_) => StatusCode::NOT_FOUND,
            IdentityError::UsernameTaken(_) => StatusCode::CONFLICT,
            IdentityError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            IdentityError::RateLimited { .. } | IdentityError::TooManyAttempts { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            IdentityError::Sms(_) => StatusCode::SERVICE_UNAVAILABLE,
            IdentityError::Store(_) | IdentityError::Unexpected(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// The `Retry-After` seconds of a 429.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            IdentityError::RateLimited { retry_after }
            | IdentityError::TooManyAttempts { retry_after } => {
                Some(otp::retry_after_secs(*retry_after))
            }
            _ => None,
        }
    }
}

/// Who a valid access token's bearer is, as checked against the store just now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The bearer's role.
    pub role: Role,
    /// The mobile number (digits) of a customer, the username of a driver or operator.
    pub subject: String,
    /// A driver's account (name, service areas); `None` for other roles.
    pub driver: Option<DriverRecord>,
}

impl Principal {
    /// Passes only a bearer in `role` (a route that only operators may use, ...).
    pub fn require(&self, role: Role) -> Result<(), IdentityError> {
        if self.role == role {
            Ok(())
        } else {
            Err(IdentityError::Forbidden(role))
        }
    }
}

/// A driver an operator registers (`POST /drivers`).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewDriver {
    /// The sign-in name, also the driver's `driverId`.
    pub username: String,
    /// The name customers see.
    pub name: String,
    /// The driver's mobile number.
    pub mobile: String,
    /// The initial password (8 to 128 characters).
    #[schema(value_type = String, format = Password, min_length = 8, max_length = 128)]
    pub password: Password,
    /// The service areas the driver serves (at least one).
    pub areas: Vec<String>,
}

/// The bootstrap operator's password, generated once on the embedded default and kept in a
/// file, for the binary to print at start-up; its `Debug` never shows it.
#[derive(Debug, Clone)]
pub struct GeneratedPassword {
    /// The operator it signs in (`OPERATOR_USERNAME`).
    pub username: String,
    /// The password.
    pub password: Password,
    /// The file it is kept in (mode 0600).
    pub file: PathBuf,
    /// Whether it was generated by this start (else an earlier one did).
    pub new: bool,
}

/// The identity context's service: sign-in, token checks and driver accounts.
#[derive(Clone)]
pub struct Identity {
    store: IdentityStore,
    tokens: TokenSigner,
    codes: otp::CodeHasher,
    sms: SmsSetup,
    clock: Arc<dyn Clock>,
    password_attempts: Arc<DefaultKeyedRateLimiter<String>>,
}

/// Password sign-ins per username: 10 at once, then one more every 30 seconds, so guessing a
/// password costs hours even before argon2's own cost. Kept in each API process (a limit per
/// replica, which only multiplies that cost by the replicas).
fn password_quota() -> Quota {
    Quota::with_period(Duration::from_secs(30))
        .expect("a non-zero period")
        .allow_burst(std::num::NonZeroU32::new(10).expect("not zero"))
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("store", &self.store)
            .field("outbox", &self.sms.outbox.is_some())
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// The service over an open store, signing with `key`; tokens live `token_ttl`.
    pub fn new(
        store: IdentityStore,
        key: &SigningKey,
        token_ttl: Duration,
        sms: SmsSetup,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            tokens: TokenSigner::new(key, token_ttl),
            codes: otp::CodeHasher::new(key),
            sms,
            clock,
            password_attempts: Arc::new(RateLimiter::keyed(password_quota())),
        }
    }

    /// The identity store (for `/readyz`).
    pub fn store(&self) -> &IdentityStore {
        &self.store
    }

    /// The development outbox, while `SMS_SENDER=outbox` (then `GET /dev/sms` exists).
    pub fn outbox(&self) -> Option<&OutboxSender> {
        self.sms.outbox.as_deref()
    }

    /// Sends the number a new 6-digit code valid 5 minutes (replacing an earlier one), unless it
    /// has had 5 codes in the last 10 minutes: then [`IdentityError::RateLimited`].
    #[tracing::instrument(skip_all)]
    pub async fn request_code(&self, mobile: &MobileNumber) -> Result<(), IdentityError> {
        let code = OneTimeCode::generate();
        let new = NewCode {
            mobile: mobile.as_ref(),
            code_hash: self.codes.hash(mobile, &code),
            valid_for: otp::CODE_VALIDITY,
        };
        let now = self.clock.now();
        match self.store.issue_code(new, now, otp::CODE_REQUESTS).await? {
            CodeIssue::Issued => {}
            CodeIssue::Limited { retry_after } => {
                return Err(IdentityError::RateLimited { retry_after });
            }
        }
        self.sms.sender.send_code(mobile, &code).await?;
        Ok(())
    }

    /// Signs the customer in with the code sent to their number; a wrong code counts against
    /// it (the fifth in a row invalidates it), and a used, expired or replaced code fails.
    #[tracing::instrument(skip_all)]
    pub async fn exchange_code(
        &self,
        mobile: &MobileNumber,
        code: &str,
    ) -> Result<Token, IdentityError> {
        let code = OneTimeCode::parse(code)
            .ok_or_else(|| IdentityError::Invalid("code must be 6 digits".to_owned()))?;
        let now = self.clock.now();
        let stored = self.store.code_of(mobile.as_ref()).await?;
        let stored = stored.ok_or(IdentityError::WrongCredentials)?;
        match otp::judge(&stored, &self.codes.hash(mobile, &code), now) {
            otp::Verdict::Accepted => {}
            otp::Verdict::Wrong => {
                self.store.record_wrong_code(&stored.code_id).await?;
                return Err(IdentityError::WrongCredentials);
            }
            otp::Verdict::Expired | otp::Verdict::Exhausted | otp::Verdict::Used => {
                return Err(IdentityError::WrongCredentials);
            }
        }
        let used = self
            .store
            .use_code(&stored.code_id, now, otp::MAX_WRONG_CODES);
        if !used.await? {
            // Another request used it, or a new code replaced it, since it was read.
            return Err(IdentityError::WrongCredentials);
        }
        let generation = self.store.sign_in_customer(mobile.as_ref(), now).await?;
        self.issue(Role::Customer, mobile.as_ref(), generation, now)
    }

    /// Signs a driver or an operator in with username and password. An unknown username costs
    /// the same hash as a known one, so the answer time tells nothing.
    #[tracing::instrument(skip_all)]
    pub async fn password_sign_in(
        &self,
        username: &str,
        password: &Password,
    ) -> Result<Token, IdentityError> {
        let attempts = self
            .password_attempts
            .check_key(&username.trim().to_lowercase());
        if let Err(not_until) = attempts {
            let retry_after = not_until.wait_time_from(DefaultClock::default().now());
            return Err(IdentityError::TooManyAttempts { retry_after });
        }
        let now = self.clock.now();
        let Some(account) = self.store.password_account(username.trim()).await? else {
            passwords::verify_nobody(password).await?;
            return Err(IdentityError::WrongCredentials);
        };
        let right = passwords::verify(password, &account.password_hash).await?;
        if !right || account.disabled {
            return Err(IdentityError::WrongCredentials);
        }
        self.issue(
            account.role,
            &account.username,
            account.token_generation,
            now,
        )
    }

    /// Checks a bearer token: its signature, its expiry and, in the store, that its account
    /// still exists, is not disabled and has not revoked it.
    pub async fn verify(&self, token: &str) -> Result<Principal, IdentityError> {
        let now = self.clock.now();
        let claims = self.tokens.check(token, now)?;
        // A driver's account holds its generation: one read gives both (4 of a call's 6
        // requests are a driver's).
        let driver = match claims.role {
            Role::Driver => {
                let account = self.store.driver(&claims.sub).await?;
                let active =
                    account.filter(|d| !d.is_disabled() && d.token_generation == claims.generation);
                Some(active.ok_or(IdentityError::InvalidToken)?)
            }
            Role::Customer | Role::Operator => {
                let current = self
                    .store
                    .active_generation(claims.role, &claims.sub)
                    .await?;
                if current != Some(claims.generation) {
                    return Err(IdentityError::InvalidToken);
                }
                None
            }
        };
        Ok(Principal {
            role: claims.role,
            subject: claims.sub,
            driver,
        })
    }

    /// Registers a driver (an operator's act); 409 when the username is taken.
    #[tracing::instrument(skip_all, fields(username = %new.username))]
    pub async fn register_driver(&self, new: NewDriver) -> Result<DriverRecord, IdentityError> {
        let username = parse_username(&new.username)?;
        let driver = Driver::parse(&username, &new.name)
            .map_err(|e| IdentityError::Invalid(e.to_string()))?;
        let mobile =
            MobileNumber::parse(&new.mobile).map_err(|e| IdentityError::Invalid(e.to_string()))?;
        let areas = parse_areas(&new.areas)?;
        new.password.check_policy()?;
        let record = NewDriverRecord {
            username: &username,
            name: &driver.driver_name,
            mobile: mobile.as_ref(),
            password_hash: passwords::hash(&new.password).await?,
            areas: &areas,
        };
        let registered = self.store.register_driver(record, self.clock.now()).await?;
        registered.ok_or(IdentityError::UsernameTaken(username))
    }

    /// Every driver, by username.
    pub async fn list_drivers(&self) -> Result<Vec<DriverRecord>, IdentityError> {
        Ok(self.store.drivers().await?)
    }

    /// Takes a driver online (available for offers) or offline.
    #[tracing::instrument(skip(self))]
    pub async fn set_online(
        &self,
        username: &str,
        online: bool,
    ) -> Result<DriverRecord, IdentityError> {
        let driver = self
            .store
            .set_online(username, online, self.clock.now())
            .await?;
        driver.ok_or_else(|| IdentityError::NoSuchDriver(username.to_owned()))
    }

    /// Disables a driver: their tokens stop working at once and they cannot sign in again.
    /// Disabling a disabled driver changes nothing.
    #[tracing::instrument(skip(self))]
    pub async fn disable_driver(&self, username: &str) -> Result<DriverRecord, IdentityError> {
        let disabled = self
            .store
            .disable_driver(username, self.clock.now())
            .await?;
        disabled.ok_or_else(|| IdentityError::NoSuchDriver(username.to_owned()))
    }

    /// Makes `username` an operator with `password`: creates the account, or replaces a different
    /// stored password (revoking the operator's tokens). Without a password, an existing operator
    /// is kept as it is.
    pub async fn bootstrap_operator(
        &self,
        username: &str,
        password: Option<&Password>,
    ) -> Result<(), SetupError> {
        let username = parse_username(username)?;
        let now = self.clock.now();
        let existing = self.store.password_account(&username).await?;
        match (existing, password) {
            (Some(account), _) if account.role != Role::Operator => {
                Err(SetupError::OperatorUsernameTaken(username))
            }
            (Some(_), None) => Ok(()),
            (Some(account), Some(password)) => {
                if !passwords::verify(password, &account.password_hash).await? {
                    password.check_policy()?;
                    let hash = passwords::hash(password).await?;
                    self.store
                        .replace_operator_password(&username, &hash, now)
                        .await?;
                    tracing::info!(operator = %username, "operator password replaced from the configuration");
                }
                Ok(())
            }
            (None, Some(password)) => {
                password.check_policy()?;
                let hash = passwords::hash(password).await?;
                if self.store.create_operator(&username, &hash, now).await? {
                    tracing::info!(operator = %username, "operator created");
                    return Ok(());
                }
                // Another replica starting at the same time may have created them first.
                match self.store.password_account(&username).await? {
                    Some(account) if account.role == Role::Operator => Ok(()),
                    _ => Err(SetupError::OperatorUsernameTaken(username)),
                }
            }
            (None, None) => Err(SetupError::OperatorPasswordRequired(username)),
        }
    }

    fn issue(
        &self,
        role: Role,
        subject: &str,
        generation: i64,
        now: SystemTime,
    ) -> Result<Token, IdentityError> {
        let token = self.tokens.issue(role, subject, generation, now);
        token.map_err(|e| {
            anyhow::Error::new(e)
                .context("Failed to sign an access token")
                .into()
        })
    }
}

/// A username: as a `driverId` (1 to 64 characters), with no white space or control characters.
fn parse_username(username: &str) -> Result<String, IdentityError> {
    let username = username.trim();
    let valid = !username.is_empty()
        && username.chars().count() <= 64
        && !username
            .chars()
            .any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(username.to_owned())
    } else {
        Err(IdentityError::Invalid(
            "username must be 1 to 64 characters without spaces".to_owned(),
        ))
    }
}

/// Service areas as the catcher matches them: single words, lower-cased, each once, at least one.
fn parse_areas(areas: &[String]) -> Result<Vec<String>, IdentityError> {
    let mut parsed: Vec<String> = Vec::with_capacity(areas.len());
    for area in areas {
        let area = area.trim().to_lowercase();
        let word = !area.is_empty()
            && area.chars().count() <= 64
            && !area.contains(|c: char| c.is_whitespace() || c == ',' || c == '/');
        if !word {
            return Err(IdentityError::Invalid(format!(
                "`{area}` is not a service area (one word, like `kangnam`)"
            )));
        }
        if !parsed.contains(&area) {
            parsed.push(area);
        }
    }
    if parsed.is_empty() {
        return Err(IdentityError::Invalid(
            "areas must name at least one service area".to_owned(),
        ));
    }
    Ok(parsed)
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

#[cfg(test)]
mod tests;
