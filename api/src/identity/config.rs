//! The identity context's settings (spec section 7) and building [`Identity`] from them. The
//! database is `IDENTITY_DATABASE_URL` in the stores' settings, like every context's.
//!
//! The embedded default (the identity database is SQLite, so one host) needs nothing set: it
//! generates the signing key and the first operator's password once and keeps them under
//! `DATA_DIR`. Elsewhere (PostgreSQL, possibly several API replicas) `AUTH_SIGNING_KEY` must be
//! set, so every replica signs with the same key, and `OPERATOR_PASSWORD` until the operator
//! exists.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use driver_call_runtime::secrets::{self, SecretFileError};
use driver_call_runtime::{humantime_duration, secret_value};
use driver_call_stores::{StoreConfig, StoreError};
use rand::Rng as _;
use secrecy::{ExposeSecret as _, SecretString};

use super::{
    GeneratedPassword, Identity, IdentityError, IdentityStore, Password, SigningKey, SmsSetup,
    SystemClock, tokens,
};

/// The file under `DATA_DIR` that keeps the embedded default's signing key.
pub const SIGNING_KEY_FILE: &str = "auth-signing.key";
/// The file under `DATA_DIR` that keeps the embedded default's generated operator password.
pub const OPERATOR_PASSWORD_FILE: &str = "operator-password";

/// Settings of sign-in and access tokens.
#[derive(Debug, Clone, clap::Args)]
pub struct IdentityConfig {
    /// Key that signs access tokens (HS256, at least 32 bytes). Unset on the embedded default,
    /// one is generated once and kept in `DATA_DIR/auth-signing.key`.
    #[arg(long, env = "AUTH_SIGNING_KEY", hide_env_values = true, value_parser = secret_value)]
    pub auth_signing_key: Option<SecretString>,
    /// How long an access token is valid (e.g. `12h`).
    #[arg(long, env = "AUTH_TOKEN_TTL", default_value = "12h", value_parser = humantime_duration)]
    pub auth_token_ttl: Duration,
    /// Where sign-in codes go: `outbox` (development: readable at `GET /dev/sms`).
    #[arg(long, env = "SMS_SENDER", default_value = super::sms::OUTBOX)]
    pub sms_sender: String,
    /// The first operator's username.
    #[arg(long, env = "OPERATOR_USERNAME", default_value = "ops")]
    pub operator_username: String,
    /// The first operator's password. Unset on the embedded default, one is generated once,
    /// kept in `DATA_DIR/operator-password` and printed at start-up.
    #[arg(long, env = "OPERATOR_PASSWORD", hide_env_values = true, value_parser = secret_value)]
    pub operator_password: Option<SecretString>,
}

/// Why the identity context cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// `SMS_SENDER` names no sender this build has.
    #[error("SMS_SENDER `{0}` is not a known sender (known: outbox)")]
    UnknownSmsSender(String),
    /// `AUTH_SIGNING_KEY` is too short for HS256.
    #[error("AUTH_SIGNING_KEY must be at least {} bytes", tokens::MIN_KEY_BYTES)]
    ShortSigningKey,
    /// Replicas on a shared database must share the key, so it cannot be generated.
    #[error("AUTH_SIGNING_KEY must be set when the identity database is not SQLite")]
    SigningKeyRequired,
    /// The operator does not exist yet and nothing says their password.
    #[error("OPERATOR_PASSWORD must be set to create the operator `{0}`")]
    OperatorPasswordRequired(String),
    /// `OPERATOR_USERNAME` is a driver's.
    #[error("OPERATOR_USERNAME `{0}` is a driver's username")]
    OperatorUsernameTaken(String),
    /// A secret file under `DATA_DIR` cannot be read or written.
    #[error(transparent)]
    SecretFile(#[from] SecretFileError),
    /// The identity database cannot be opened or migrated.
    #[error("the identity store cannot be opened")]
    Store(#[from] StoreError),
    /// An invalid setting (the operator's username) or a hash that cannot be computed.
    #[error("the operator cannot be set up")]
    Identity(#[from] IdentityError),
}

impl Identity {
    /// Opens (and migrates) the identity database named in `stores`, loads or generates the
    /// signing key, and makes sure the configured operator exists. Also returns the operator's
    /// password when the embedded default generated it (now or on an earlier start), for the
    /// binary to print.
    pub async fn build(
        config: &IdentityConfig,
        stores: &StoreConfig,
    ) -> Result<(Self, Option<GeneratedPassword>), SetupError> {
        let url = stores.identity_database_url();
        let embedded = url.starts_with("sqlite:");
        let sms = SmsSetup::named(&config.sms_sender)?;
        let key = signing_key(config, embedded, &stores.data_dir)?;
        let store = IdentityStore::connect(&url).await?;
        let identity = Identity::new(
            store,
            &key,
            config.auth_token_ttl,
            sms,
            Arc::new(SystemClock),
        );
        let generated = match (&config.operator_password, embedded) {
            (Some(password), _) => {
                let password = Password::new(password.expose_secret());
                identity
                    .bootstrap_operator(&config.operator_username, Some(&password))
                    .await?;
                None
            }
            (None, true) => {
                let file = stores.data_dir.join(OPERATOR_PASSWORD_FILE);
                let (password, new) = secrets::load_or_create(&file, generate_password)?;
                let password = Password::new(password);
                identity
                    .bootstrap_operator(&config.operator_username, Some(&password))
                    .await?;
                let username = config.operator_username.trim().to_owned();
                Some(GeneratedPassword {
                    username,
                    password,
                    file,
                    new,
                })
            }
            (None, false) => {
                identity
                    .bootstrap_operator(&config.operator_username, None)
                    .await?;
                None
            }
        };
        Ok((identity, generated))
    }
}

fn signing_key(
    config: &IdentityConfig,
    embedded: bool,
    data_dir: &Path,
) -> Result<SigningKey, SetupError> {
    let bytes = match (&config.auth_signing_key, embedded) {
        (Some(key), _) => key.expose_secret().as_bytes().to_vec(),
        (None, true) => {
            let file = data_dir.join(SIGNING_KEY_FILE);
            let (key, _) = secrets::load_or_create(&file, SigningKey::generate_text)?;
            key.into_bytes()
        }
        (None, false) => return Err(SetupError::SigningKeyRequired),
    };
    SigningKey::new(bytes).ok_or(SetupError::ShortSigningKey)
}

/// 24 random letters and digits (about 143 bits).
fn generate_password() -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}
