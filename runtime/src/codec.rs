//! Payload encryption: every payload a Driver-Call process sends to Temporal (workflow input,
//! updates, queries, signals, memos, activity input and results) is AES-256-GCM ciphertext, so
//! the server's database and its backups hold no customer's number or place.
//!
//! An encrypted payload is the whole plain payload (metadata and data, protobuf-encoded), sealed
//! under a random 96-bit nonce: `data` is the nonce then the ciphertext, and its metadata says
//! `encoding: binary/encrypted` and which key sealed it. The first of the [`PayloadKeys`]
//! encrypts; every one decrypts, so a key is rotated by putting a new one first. A payload without
//! that encoding (written before encryption was switched on) passes through, so calls in flight
//! then carry on. Search attributes are never encoded: the server must read them to index them.

use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use futures::future::BoxFuture;
use prost::Message as _;
use rand::RngCore as _;
use temporalio_common::data_converters::{
    DataConverter, DefaultFailureConverter, PayloadCodec, PayloadConversionError, PayloadConverter,
    SerializationContextData,
};
use temporalio_common::protos::temporal::api::common::v1::Payload;

/// The metadata key of a payload's encoding.
pub const ENCODING_KEY: &str = "encoding";
/// The encoding of an encrypted payload.
pub const ENCRYPTED_ENCODING: &str = "binary/encrypted";
/// The metadata key naming the key that sealed a payload.
pub const KEY_ID_KEY: &str = "encryption-key-id";

const NONCE_LEN: usize = 12;
const KEY_LEN: usize = 32;

/// Why payload keys or a payload could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// `PAYLOAD_KEYS` holds no key.
    #[error("PAYLOAD_KEYS holds no key: give one or more `id:key` pairs, comma-separated")]
    NoKeys,
    /// An entry is not `id:key`, or its id is not a short name.
    #[error(
        "PAYLOAD_KEYS entry {0} is not `id:key` with an id of letters, digits, `_` or `-` \
         (at most 64)"
    )]
    BadEntry(usize),
    /// A key is not 32 bytes in hex.
    #[error("PAYLOAD_KEYS key `{0}` is not 64 hex digits (32 bytes, e.g. `openssl rand -hex 32`)")]
    BadKey(String),
    /// Two keys share an id.
    #[error("PAYLOAD_KEYS names key `{0}` twice")]
    DuplicateId(String),
    /// A payload was sealed with a key this process does not hold.
    #[error("a payload is encrypted with key `{0}`, which PAYLOAD_KEYS does not hold")]
    UnknownKey(String),
    /// A payload says it is encrypted but does not open.
    #[error("an encrypted payload does not open with key `{0}` (corrupt, or not ours)")]
    Corrupt(String),
}

struct PayloadKey {
    id: String,
    cipher: Aes256Gcm,
}

/// The keys payloads are sealed and opened with: the first seals, every one opens.
#[derive(Clone)]
pub struct PayloadKeys(Arc<[PayloadKey]>);

impl std::fmt::Debug for PayloadKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The ids only: the keys never reach a log.
        f.debug_list()
            .entries(self.0.iter().map(|k| &k.id))
            .finish()
    }
}

impl PayloadKeys {
    /// Parses `id:hexkey[,id:hexkey...]` (`PAYLOAD_KEYS`).
    pub fn parse(text: &str) -> Result<Self, CodecError> {
        let mut keys: Vec<PayloadKey> = Vec::new();
        for (index, entry) in text.split(',').map(str::trim).enumerate() {
            if entry.is_empty() {
                continue;
            }
            let (id, hex_key) = entry
                .split_once(':')
                .filter(|(id, _)| valid_id(id))
                .ok_or(CodecError::BadEntry(index + 1))?;
            let key = hex::decode(hex_key.trim())
                .ok()
                .filter(|key| key.len() == KEY_LEN)
                .ok_or_else(|| CodecError::BadKey(id.to_owned()))?;
            if keys.iter().any(|known| known.id == id) {
                return Err(CodecError::DuplicateId(id.to_owned()));
            }
            let cipher =
                Aes256Gcm::new_from_slice(&key).map_err(|_| CodecError::BadKey(id.to_owned()))?;
            keys.push(PayloadKey {
                id: id.to_owned(),
                cipher,
            });
        }
        if keys.is_empty() {
            return Err(CodecError::NoKeys);
        }
        Ok(Self(keys.into()))
    }

    /// A new key as `PAYLOAD_KEYS` text, named by when it was made.
    pub fn generate_text() -> String {
        let mut key = [0u8; KEY_LEN];
        rand::rng().fill_bytes(&mut key);
        let made = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        let id: String = made.chars().filter(char::is_ascii_digit).take(8).collect();
        format!("k{id}:{}", hex::encode(key))
    }

    /// The id of the key that seals new payloads.
    pub fn sealing_id(&self) -> &str {
        &self.0[0].id
    }

    /// Seals `payload` with the first key; an already sealed payload is left as it is.
    pub fn encrypt(&self, payload: Payload) -> Payload {
        if is_encrypted(&payload) {
            return payload;
        }
        let key = &self.0[0];
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = key
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                payload.encode_to_vec().as_slice(),
            )
            .expect("AES-GCM seals any payload under the size limit");
        let mut data = Vec::with_capacity(NONCE_LEN + sealed.len());
        data.extend_from_slice(&nonce);
        data.extend_from_slice(&sealed);
        Payload {
            metadata: [
                (
                    ENCODING_KEY.to_owned(),
                    ENCRYPTED_ENCODING.as_bytes().to_vec(),
                ),
                (KEY_ID_KEY.to_owned(), key.id.as_bytes().to_vec()),
            ]
            .into(),
            data,
            ..Default::default()
        }
    }

    /// Opens a sealed payload with the key it names; a plain payload passes through.
    pub fn decrypt(&self, payload: Payload) -> Result<Payload, CodecError> {
        if !is_encrypted(&payload) {
            return Ok(payload);
        }
        let id = payload
            .metadata
            .get(KEY_ID_KEY)
            .map(|id| String::from_utf8_lossy(id).into_owned())
            .unwrap_or_default();
        let key = self
            .0
            .iter()
            .find(|key| key.id == id)
            .ok_or_else(|| CodecError::UnknownKey(id.clone()))?;
        if payload.data.len() < NONCE_LEN {
            return Err(CodecError::Corrupt(id));
        }
        let (nonce, sealed) = payload.data.split_at(NONCE_LEN);
        let plain = key
            .cipher
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map_err(|_| CodecError::Corrupt(id.clone()))?;
        Payload::decode(plain.as_slice()).map_err(|_| CodecError::Corrupt(id))
    }

    /// The data converter of every Temporal client and worker: JSON payloads, sealed with these
    /// keys.
    pub fn data_converter(&self) -> DataConverter {
        DataConverter::new(
            PayloadConverter::default(),
            DefaultFailureConverter::default(),
            EncryptionCodec(self.clone()),
        )
    }
}

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Whether `payload` is sealed by a codec like this one.
pub fn is_encrypted(payload: &Payload) -> bool {
    payload.metadata.get(ENCODING_KEY).map(Vec::as_slice) == Some(ENCRYPTED_ENCODING.as_bytes())
}

/// The SDK's [`PayloadCodec`] over [`PayloadKeys`].
struct EncryptionCodec(PayloadKeys);

impl PayloadCodec for EncryptionCodec {
    fn encode(
        &self,
        _: &SerializationContextData,
        payloads: Vec<Payload>,
    ) -> BoxFuture<'static, Result<Vec<Payload>, PayloadConversionError>> {
        let sealed = payloads.into_iter().map(|p| self.0.encrypt(p)).collect();
        Box::pin(std::future::ready(Ok(sealed)))
    }

    fn decode(
        &self,
        _: &SerializationContextData,
        payloads: Vec<Payload>,
    ) -> BoxFuture<'static, Result<Vec<Payload>, PayloadConversionError>> {
        let opened = payloads
            .into_iter()
            .map(|p| self.0.decrypt(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| PayloadConversionError::EncodingError(Box::new(e)));
        Box::pin(std::future::ready(opened))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "a:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const B: &str = "b:1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";

    fn json(text: &str) -> Payload {
        Payload {
            metadata: [(ENCODING_KEY.to_owned(), b"json/plain".to_vec())].into(),
            data: text.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn a_sealed_payload_hides_its_text_names_its_key_and_opens_again() {
        let keys = PayloadKeys::parse(A).expect("keys");
        let plain = json(r#"{"mobile":"01048931465"}"#);
        let sealed = keys.encrypt(plain.clone());
        assert!(is_encrypted(&sealed));
        assert_eq!(sealed.metadata[KEY_ID_KEY], b"a");
        let bytes = sealed.encode_to_vec();
        assert!(!bytes.windows(11).any(|w| w == b"01048931465"));
        assert_eq!(keys.decrypt(sealed.clone()).expect("opens"), plain);
        // A fresh nonce each time: the same payload never seals to the same bytes.
        assert_ne!(keys.encrypt(plain).data, sealed.data);
    }

    #[test]
    fn the_first_key_seals_every_key_opens_and_a_plain_payload_passes_through() {
        let old = PayloadKeys::parse(A).expect("keys");
        let rotated = PayloadKeys::parse(&format!("{B}, {A}")).expect("keys");
        let under_a = old.encrypt(json("1"));
        let under_b = rotated.encrypt(json("2"));
        assert_eq!(rotated.sealing_id(), "b");
        assert_eq!(under_b.metadata[KEY_ID_KEY], b"b");
        assert_eq!(rotated.decrypt(under_a).expect("old key opens"), json("1"));
        assert!(matches!(old.decrypt(under_b), Err(CodecError::UnknownKey(id)) if id == "b"));
        assert_eq!(old.decrypt(json("3")).expect("plain"), json("3"));
        let mut tampered = old.encrypt(json("4"));
        *tampered.data.last_mut().expect("data") ^= 1;
        assert!(matches!(old.decrypt(tampered), Err(CodecError::Corrupt(_))));
    }

    #[test]
    fn bad_key_text_is_refused_with_what_is_wrong() {
        assert!(matches!(PayloadKeys::parse(" , "), Err(CodecError::NoKeys)));
        assert!(matches!(
            PayloadKeys::parse("nocolon"),
            Err(CodecError::BadEntry(1))
        ));
        assert!(matches!(PayloadKeys::parse("a:abcd"), Err(CodecError::BadKey(id)) if id == "a"));
        assert!(matches!(
            PayloadKeys::parse(&format!("{A},{A}")),
            Err(CodecError::DuplicateId(id)) if id == "a"
        ));
        let generated = PayloadKeys::generate_text();
        let keys = PayloadKeys::parse(&generated).expect("a generated key parses");
        assert!(!format!("{keys:?}").contains(generated.split_once(':').expect("id").1));
    }
}
