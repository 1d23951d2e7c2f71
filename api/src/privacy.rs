//! What keeps customers' numbers and places out of Temporal (spec section 10): the payload keys
//! every payload is encrypted with (`driver_call_runtime::codec`), which the codec server uses
//! too, and the keyed hash `CustomerMobile` holds instead of the number.

use std::path::Path;

use driver_call_runtime::secrets::{self, SecretFileError};
use driver_call_runtime::{KeysError, PayloadKeys, TemporalConfig, secret_value};
use driver_call_workflows::domain::MobileNumber;
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::Sha256;

/// The file under `DATA_DIR` that keeps the embedded default's number hash key.
pub const MOBILE_HASH_KEY_FILE: &str = "mobile-hash.key";
/// The shortest number hash key (bytes).
const MIN_HASH_KEY_BYTES: usize = 32;

/// The key of the numbers' hash, apart from the payload keys (rotating those must not change
/// what a search by number finds).
#[derive(Debug, Clone, clap::Args)]
pub struct PrivacyConfig {
    /// The key of the hash of customers' numbers in `CustomerMobile` (HMAC-SHA-256, at least 32
    /// bytes). Unset while Temporal is on this host (the embedded default), one is generated once
    /// and kept in `DATA_DIR/mobile-hash.key`; with Temporal elsewhere it must be set, the same in
    /// every API replica. Changing it loses the search by number of every earlier call.
    #[arg(long, env = "MOBILE_HASH_KEY", hide_env_values = true, value_parser = secret_value)]
    pub mobile_hash_key: Option<SecretString>,
}

/// Why the API's privacy keys cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    /// The payload keys are missing or invalid.
    #[error(transparent)]
    PayloadKeys(#[from] KeysError),
    /// Temporal is elsewhere and no hash key is set.
    #[error(
        "MOBILE_HASH_KEY must be set when Temporal is not on this host: every API replica hashes \
         numbers with the same key (e.g. `openssl rand -hex 32`)"
    )]
    HashKeyRequired,
    /// The hash key is too short.
    #[error("MOBILE_HASH_KEY must be at least {MIN_HASH_KEY_BYTES} bytes")]
    ShortHashKey,
    /// The embedded default's key file cannot be read or written.
    #[error(transparent)]
    File(#[from] SecretFileError),
}

/// The payload keys and the numbers' hash.
#[derive(Clone)]
pub struct Privacy {
    /// What every payload is sealed and opened with (the codec server's keys too).
    pub keys: PayloadKeys,
    /// What `CustomerMobile` holds of a number.
    pub numbers: NumberHash,
}

impl Privacy {
    /// The keys of `temporal` and `config`, generated into `data_dir` on the embedded default.
    pub fn load(
        temporal: &TemporalConfig,
        config: &PrivacyConfig,
        data_dir: &Path,
    ) -> Result<Self, PrivacyError> {
        let keys = temporal.payload_keys(data_dir)?;
        let hash_key = match &config.mobile_hash_key {
            Some(key) => key.expose_secret().to_owned(),
            None if temporal.temporal_on_this_host() => {
                let file = data_dir.join(MOBILE_HASH_KEY_FILE);
                secrets::load_or_create(&file, generate_hash_key)?.0
            }
            None => return Err(PrivacyError::HashKeyRequired),
        };
        Ok(Self {
            keys,
            numbers: NumberHash::new(hash_key.as_bytes())?,
        })
    }
}

fn generate_hash_key() -> String {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    hex::encode(key)
}

/// The keyed hash of a customer's number (HMAC-SHA-256 of the normalised number, hex): what
/// visibility indexes, so an operator who has the key can still find a customer's calls.
#[derive(Clone)]
pub struct NumberHash(Hmac<Sha256>);

impl NumberHash {
    /// The hash under `key` (at least 32 bytes).
    pub fn new(key: &[u8]) -> Result<Self, PrivacyError> {
        if key.len() < MIN_HASH_KEY_BYTES {
            return Err(PrivacyError::ShortHashKey);
        }
        let mac = Hmac::<Sha256>::new_from_slice(key).map_err(|_| PrivacyError::ShortHashKey)?;
        Ok(Self(mac))
    }

    /// The hash of `mobile`.
    pub fn of(&self, mobile: &MobileNumber) -> String {
        let mut mac = self.0.clone();
        mac.update(mobile.as_ref().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// What identifies a customer in a call's parties: the hash of a number, and a hash (from a
    /// search attribute) as it is.
    pub fn key_of(&self, number_or_hash: &str) -> String {
        match MobileNumber::parse(number_or_hash) {
            Ok(mobile) => self.of(&mobile),
            Err(_) => number_or_hash.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_hashes_the_same_however_written_and_differently_under_another_key() {
        let numbers = NumberHash::new(&[7; 32]).expect("key");
        let a = numbers.of(&MobileNumber::parse("010-4893-1465").expect("mobile"));
        let b = numbers.of(&MobileNumber::parse("01048931465").expect("mobile"));
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
        assert!(!a.contains("48931465"));
        assert_eq!(numbers.key_of("01048931465"), a);
        assert_eq!(numbers.key_of(&a), a, "a hash stays itself");
        let other = NumberHash::new(&[8; 32]).expect("key");
        assert_ne!(
            other.of(&MobileNumber::parse("01048931465").expect("mobile")),
            a
        );
        assert!(matches!(
            NumberHash::new(b"short"),
            Err(PrivacyError::ShortHashKey)
        ));
    }
}
