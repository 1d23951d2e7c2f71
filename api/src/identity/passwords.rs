//! Passwords: held only as [`Password`] (never printed) and stored only as an Argon2id PHC string
//! with a random 16-byte salt, at argon2's default cost (19 MiB, 2 passes: OWASP's minimum).
//! Hashing takes tens of milliseconds of CPU on purpose, so it runs off the async workers.

use std::sync::OnceLock;

use anyhow::Context as _;
use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use driver_call_stores::identity::StoredHash;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};

use super::IdentityError;

/// The shortest new password accepted.
pub const MIN_LEN: usize = 8;
/// The longest new password accepted.
pub const MAX_LEN: usize = 128;

/// A password as typed; its `Debug` never shows it, and it is zeroed when dropped.
#[derive(Clone)]
pub struct Password(SecretString);

impl Password {
    /// Wraps a password as typed (any text: the policy applies to new passwords only).
    pub fn new(password: impl Into<String>) -> Self {
        Self(SecretString::from(password.into()))
    }

    /// The password itself, to hash it or to show a generated one once.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// Passes a new password of [`MIN_LEN`] to [`MAX_LEN`] characters.
    pub fn check_policy(&self) -> Result<(), IdentityError> {
        let len = self.expose_secret().chars().count();
        if (MIN_LEN..=MAX_LEN).contains(&len) {
            Ok(())
        } else {
            Err(IdentityError::Invalid(format!(
                "password must be {MIN_LEN} to {MAX_LEN} characters"
            )))
        }
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl<'de> Deserialize<'de> for Password {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Password::new)
    }
}

/// The password's Argon2id hash with a new random salt.
pub async fn hash(password: &Password) -> Result<StoredHash, IdentityError> {
    let password = password.clone();
    blocking(move || hash_now(&password)).await
}

/// Whether `password` is the one `hash` was made from.
pub async fn verify(password: &Password, hash: &StoredHash) -> Result<bool, IdentityError> {
    let (password, hash) = (password.clone(), hash.clone());
    blocking(move || verify_now(&password, &hash)).await
}

/// Spends what checking a password against a real hash spends, and answers nothing: for an
/// unknown username, so the answer's timing does not tell which usernames exist.
pub async fn verify_nobody(password: &Password) -> Result<(), IdentityError> {
    static NOBODY: OnceLock<StoredHash> = OnceLock::new();
    let password = password.clone();
    blocking(move || {
        let nobody = match NOBODY.get() {
            Some(hash) => hash,
            None => {
                let hash = hash_now(&Password::new(uuid::Uuid::new_v4().to_string()))?;
                NOBODY.get_or_init(|| hash)
            }
        };
        verify_now(&password, nobody).map(|_| ())
    })
    .await
}

fn hash_now(password: &Password) -> Result<StoredHash, IdentityError> {
    let salt = SaltString::generate(&mut OsRng);
    let hash = Argon2::default()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("Failed to hash a password")?;
    Ok(StoredHash::new(hash.to_string()))
}

fn verify_now(password: &Password, hash: &StoredHash) -> Result<bool, IdentityError> {
    let parsed = PasswordHash::new(hash.as_str())
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("A stored password hash is not a PHC string")?;
    let matches = Argon2::default().verify_password(password.expose_secret().as_bytes(), &parsed);
    Ok(matches.is_ok())
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, IdentityError> + Send + 'static,
) -> Result<T, IdentityError> {
    tokio::task::spawn_blocking(work)
        .await
        .context("The password hashing task failed")?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_password_verifies_against_its_hash_and_no_other() {
        let password = Password::new("correct horse battery");
        let stored = hash(&password).await.expect("hashed");
        assert!(
            stored
                .as_str()
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
        );
        assert!(!stored.as_str().contains("correct horse"));
        assert!(verify(&password, &stored).await.expect("checked"));
        let wrong = Password::new("correct horse battery!");
        assert!(!verify(&wrong, &stored).await.expect("checked"));
    }

    #[tokio::test]
    async fn the_same_password_hashes_differently_each_time() {
        let password = Password::new("same password");
        let first = hash(&password).await.expect("hashed");
        let second = hash(&password).await.expect("hashed");
        assert_ne!(first, second, "the salt is random");
        assert!(verify(&password, &second).await.expect("checked"));
    }

    #[tokio::test]
    async fn a_corrupt_hash_is_an_error_not_a_match() {
        let corrupt = StoredHash::new("not a phc string".to_owned());
        let checked = verify(&Password::new("anything"), &corrupt).await;
        assert!(matches!(checked, Err(IdentityError::Unexpected(_))));
        verify_nobody(&Password::new("anything"))
            .await
            .expect("spent");
    }

    #[test]
    fn passwords_and_hashes_are_never_debug_printed() {
        let password = Password::new("hunter2hunter2");
        assert_eq!(format!("{password:?}"), "Password(<redacted>)");
        let stored = StoredHash::new("$argon2id$secret".to_owned());
        assert!(!format!("{stored:?}").contains("argon2id"));
    }

    #[test]
    fn a_new_password_must_be_8_to_128_characters() {
        assert!(Password::new("1234567").check_policy().is_err());
        assert!(Password::new("12345678").check_policy().is_ok());
        assert!(Password::new("비밀번호비밀번호").check_policy().is_ok());
        assert!(Password::new("x".repeat(129)).check_policy().is_err());
    }

    #[test]
    fn a_password_deserializes_from_a_json_string() {
        let password: Password = serde_json::from_str(r#""s3cret-pass""#).expect("json");
        assert_eq!(password.expose_secret(), "s3cret-pass");
    }
}
