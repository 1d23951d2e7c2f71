//! One-time sign-in codes (spec section 7): 6 digits, valid 5 minutes, at most 5 requests per
//! number per 10 minutes, 5 wrong answers in a row invalidate a code, and a used, expired or
//! replaced code fails.
//!
//! A code is stored as HMAC-SHA256 over the number and the code, keyed with a key derived from
//! the signing key, and not with a slow hash like argon2: a 6-digit code has only 10^6 values, so
//! any unkeyed hash, however slow, is reversed offline in minutes while it costs every sign-in;
//! the secret key is what makes a leaked table useless (and a code lives 5 minutes). The stored
//! and the submitted hashes are compared in constant time.

use std::time::{Duration, SystemTime};

use driver_call_stores::identity::{RateLimit, StoredCode, StoredHash};
use driver_call_workflows::domain::MobileNumber;
use hmac::{Hmac, Mac};
use rand::Rng as _;
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

use super::SigningKey;

/// How long a code stays valid.
pub const CODE_VALIDITY: Duration = Duration::from_secs(5 * 60);
/// Wrong answers in a row that invalidate a code.
pub const MAX_WRONG_CODES: u32 = 5;
/// Code requests a number may make: 5 in any 10 minutes.
pub const CODE_REQUESTS: RateLimit = RateLimit {
    max_requests: 5,
    window: Duration::from_secs(10 * 60),
};

/// A 6-digit code; its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct OneTimeCode(String);

impl OneTimeCode {
    /// A new random code, `000000` to `999999`.
    pub fn generate() -> Self {
        Self(format!("{:06}", rand::rng().random_range(0..1_000_000u32)))
    }

    /// A code as submitted: exactly 6 digits (surrounding white space ignored).
    pub fn parse(code: &str) -> Option<Self> {
        let code = code.trim();
        (code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())).then(|| Self(code.to_owned()))
    }

    /// The digits (to send them).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for OneTimeCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OneTimeCode(<redacted>)")
    }
}

/// Hashes codes with a key of their own, derived from the signing key.
#[derive(Clone)]
pub(crate) struct CodeHasher {
    key: Hmac<Sha256>,
}

impl CodeHasher {
    pub(crate) fn new(signing_key: &SigningKey) -> Self {
        let mut derive = keyed(signing_key.bytes());
        derive.update(b"driver-call one-time codes v1");
        Self {
            key: keyed(&derive.finalize().into_bytes()),
        }
    }

    /// The code's hash for this number (a code sent to one number is no use for another).
    pub(crate) fn hash(&self, mobile: &MobileNumber, code: &OneTimeCode) -> StoredHash {
        let mut mac = self.key.clone();
        mac.update(mobile.as_ref().as_bytes());
        mac.update(b"\0");
        mac.update(code.as_str().as_bytes());
        StoredHash::new(super::hex(&mac.finalize().into_bytes()))
    }
}

fn keyed(key: &[u8]) -> Hmac<Sha256> {
    Hmac::new_from_slice(key).expect("HMAC takes a key of any length")
}

/// What a submitted code comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The right code, in time: it signs in (once).
    Accepted,
    /// Another code: counts towards invalidation.
    Wrong,
    /// Past its 5 minutes.
    Expired,
    /// Invalidated by 5 wrong answers in a row.
    Exhausted,
    /// Already signed someone in.
    Used,
}

/// Judges a submitted code's hash against the number's stored code at `now`.
pub(crate) fn judge(stored: &StoredCode, submitted: &StoredHash, now: SystemTime) -> Verdict {
    if stored.used {
        Verdict::Used
    } else if stored.failed_attempts >= MAX_WRONG_CODES {
        Verdict::Exhausted
    } else if now >= stored.expires_at {
        Verdict::Expired
    } else if bool::from(
        stored
            .code_hash
            .as_str()
            .as_bytes()
            .ct_eq(submitted.as_str().as_bytes()),
    ) {
        Verdict::Accepted
    } else {
        Verdict::Wrong
    }
}

/// `Retry-After` in whole seconds, rounded up and at least 1.
pub fn retry_after_secs(retry_after: Duration) -> u64 {
    let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000 + secs)
    }

    fn hasher() -> CodeHasher {
        CodeHasher::new(&SigningKey::new(vec![7; 32]).expect("key"))
    }

    fn mobile() -> MobileNumber {
        MobileNumber::parse("010-1234-5678").expect("mobile")
    }

    fn code(digits: &str) -> OneTimeCode {
        OneTimeCode::parse(digits).expect("6 digits")
    }

    fn stored(digits: &str) -> StoredCode {
        StoredCode {
            code_id: "c-1".to_owned(),
            code_hash: hasher().hash(&mobile(), &code(digits)),
            issued_at: at(0),
            expires_at: at(0) + CODE_VALIDITY,
            failed_attempts: 0,
            used: false,
        }
    }

    fn submitted(digits: &str) -> StoredHash {
        hasher().hash(&mobile(), &code(digits))
    }

    /// What `digits`, submitted `secs` after the code was issued, come to.
    fn verdict(stored: &StoredCode, digits: &str, secs: u64) -> Verdict {
        judge(stored, &submitted(digits), at(secs))
    }

    #[test]
    fn the_right_code_in_time_is_accepted_and_another_is_wrong() {
        let stored = stored("123456");
        assert_eq!(verdict(&stored, "123456", 299), Verdict::Accepted);
        assert_eq!(verdict(&stored, "123457", 1), Verdict::Wrong);
    }

    #[test]
    fn a_code_expires_after_five_minutes() {
        let stored = stored("123456");
        assert_eq!(verdict(&stored, "123456", 300), Verdict::Expired);
    }

    #[test]
    fn five_wrong_answers_invalidate_even_the_right_code() {
        let mut stored = stored("123456");
        stored.failed_attempts = 4;
        assert_eq!(verdict(&stored, "123456", 1), Verdict::Accepted);
        stored.failed_attempts = 5;
        assert_eq!(verdict(&stored, "123456", 1), Verdict::Exhausted);
    }

    #[test]
    fn a_used_code_cannot_be_used_again() {
        let mut stored = stored("123456");
        stored.used = true;
        assert_eq!(verdict(&stored, "123456", 1), Verdict::Used);
    }

    #[test]
    fn a_code_hash_depends_on_the_number_the_code_and_the_key() {
        let other_number = MobileNumber::parse("01099998888").expect("mobile");
        let hash = submitted("123456");
        assert_ne!(hasher().hash(&other_number, &code("123456")), hash);
        assert_ne!(submitted("123457"), hash);
        let other_key = CodeHasher::new(&SigningKey::new(vec![8; 32]).expect("key"));
        assert_ne!(other_key.hash(&mobile(), &code("123456")), hash);
        assert_eq!(hash.as_str().len(), 64, "hex of SHA-256");
    }

    #[test]
    fn generated_codes_are_six_digits_and_only_six_digits_parse() {
        for _ in 0..100 {
            let generated = OneTimeCode::generate();
            assert_eq!(OneTimeCode::parse(generated.as_str()), Some(generated));
        }
        assert_eq!(
            OneTimeCode::parse(" 012345 ").map(|c| c.0),
            Some("012345".to_owned())
        );
        for bad in ["12345", "1234567", "12345a", "１２３４５６", ""] {
            assert_eq!(OneTimeCode::parse(bad), None, "{bad}");
        }
        assert_eq!(format!("{:?}", code("123456")), "OneTimeCode(<redacted>)");
    }

    #[test]
    fn retry_after_is_rounded_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(59_001)), 60);
        assert_eq!(retry_after_secs(Duration::from_secs(300)), 300);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
