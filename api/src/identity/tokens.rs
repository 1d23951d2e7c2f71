//! Access tokens: HS256 JWTs that say who (`sub`, `role`), since and until when (`iat`, `exp`),
//! and which revocation generation of the account they belong to (`gen`), signed with the key
//! from `AUTH_SIGNING_KEY` or the one the embedded default keeps under `DATA_DIR`.
//!
//! Expiry is checked against the identity context's [`Clock`](super::Clock) rather than
//! jsonwebtoken's own, so tests can move time; the signature, the algorithm and the presence of
//! `exp` and `sub` are jsonwebtoken's checks.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::{IdentityError, Role};

/// The shortest signing key accepted: 256 bits, HS256's own strength.
pub const MIN_KEY_BYTES: usize = 32;

/// The key that signs access tokens (and keys the one-time codes' hashes); its `Debug` never
/// shows it.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl SigningKey {
    /// A key from its bytes (`AUTH_SIGNING_KEY`'s UTF-8); `None` below [`MIN_KEY_BYTES`].
    pub fn new(bytes: Vec<u8>) -> Option<Self> {
        (bytes.len() >= MIN_KEY_BYTES).then_some(Self(bytes))
    }

    /// A new random key: 32 random bytes as 64 hex digits (see [`Self::generate_text`]).
    pub fn generate() -> Self {
        Self(Self::generate_text().into_bytes())
    }

    /// A new random key's text: 32 random bytes as 64 hex digits, so a kept key can be copied
    /// into `AUTH_SIGNING_KEY` as it is (the key is the text's bytes either way).
    pub fn generate_text() -> String {
        super::hex(&rand::random::<[u8; 32]>())
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

/// A signed-in answer (`POST /auth/token`'s 200 body); its `Debug` never shows the token.
#[derive(Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Token {
    /// The bearer token to send as `Authorization: Bearer <accessToken>`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
    /// The bearer's role.
    pub role: Role,
    /// The mobile number of a customer, the username of a driver or operator.
    pub subject: String,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("access_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("role", &self.role)
            .field("subject", &self.subject)
            .finish()
    }
}

/// What an access token carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The mobile number of a customer, the username of a driver or operator.
    pub sub: String,
    /// The bearer's role.
    pub role: Role,
    /// Expiry, in seconds since the Unix epoch.
    pub exp: u64,
    /// Issue time, in seconds since the Unix epoch.
    pub iat: u64,
    /// The account's token generation when issued (`gen`); a different current one revokes the
    /// token.
    #[serde(rename = "gen")]
    pub generation: i64,
}

impl Claims {
    /// When the token stops being valid.
    pub fn expires_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.exp)
    }
}

/// Issues and checks access tokens with one key.
#[derive(Clone)]
pub struct TokenSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl TokenSigner {
    /// A signer with `key` whose tokens live `ttl` (at least a second).
    pub fn new(key: &SigningKey, ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false; // checked in `check`, against the injected clock
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(key.bytes()),
            decoding: DecodingKey::from_secret(key.bytes()),
            validation,
            ttl: ttl.max(Duration::from_secs(1)),
        }
    }

    /// A token for `subject` in `role`, valid from `now` for the signer's lifetime.
    pub fn issue(
        &self,
        role: Role,
        subject: &str,
        generation: i64,
        now: SystemTime,
    ) -> Result<Token, jsonwebtoken::errors::Error> {
        let iat = unix_secs(now);
        let claims = Claims {
            sub: subject.to_owned(),
            role,
            exp: iat + self.ttl.as_secs(),
            iat,
            generation,
        };
        let access_token =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok(Token {
            access_token,
            token_type: "Bearer",
            expires_in: self.ttl.as_secs(),
            role,
            subject: claims.sub,
        })
    }

    /// The claims of a token this key signed with HS256 that has not expired at `now`.
    pub fn check(&self, token: &str, now: SystemTime) -> Result<Claims, IdentityError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation);
        let claims = data.map_err(|_| IdentityError::InvalidToken)?.claims;
        if claims.exp <= unix_secs(now) {
            return Err(IdentityError::InvalidToken);
        }
        Ok(claims)
    }
}

/// The token of an `Authorization` header value: `Bearer <token>` (the scheme in any case).
pub fn bearer(header_value: &str) -> Option<&str> {
    let (scheme, token) = header_value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn unix_secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn signer(key: &str) -> TokenSigner {
        let key = SigningKey::new(key.as_bytes().to_vec()).expect("a long enough key");
        TokenSigner::new(&key, HOUR)
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_790_000_000 + secs)
    }

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    /// The claims of a token issued at `at(0)` for an hour.
    fn claims(sub: &str, role: Role, generation: i64) -> Claims {
        Claims {
            sub: sub.to_owned(),
            role,
            exp: unix_secs(at(3600)),
            iat: unix_secs(at(0)),
            generation,
        }
    }

    #[test]
    fn a_token_round_trips_its_claims() {
        let signer = signer(KEY);
        let token = signer.issue(Role::Driver, "kim", 3, at(0)).expect("signed");
        assert_eq!(
            (token.token_type, token.expires_in, token.role),
            ("Bearer", 3600, Role::Driver)
        );
        let claims = signer.check(&token.access_token, at(10)).expect("valid");
        assert_eq!(claims, self::claims("kim", Role::Driver, 3));
        assert_eq!(claims.expires_at(), at(3600));
    }

    #[test]
    fn the_claims_are_sub_role_exp_iat_and_gen() {
        use base64::Engine as _;
        let token = signer(KEY).issue(Role::Customer, "01012345678", 2, at(0));
        let token = token.expect("signed").access_token;
        let payload = token.split('.').nth(1).expect("a payload");
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload);
        let claims: serde_json::Value =
            serde_json::from_slice(&json.expect("base64url")).expect("json");
        let expected = serde_json::json!({
            "sub": "01012345678",
            "role": "customer",
            "exp": unix_secs(at(3600)),
            "iat": unix_secs(at(0)),
            "gen": 2,
        });
        assert_eq!(claims, expected);
    }

    #[test]
    fn an_expired_token_is_rejected() {
        let signer = signer(KEY);
        let token = signer.issue(Role::Customer, "01012345678", 0, at(0));
        let token = token.expect("signed").access_token;
        assert!(signer.check(&token, at(3599)).is_ok());
        assert!(matches!(
            signer.check(&token, at(3600)),
            Err(IdentityError::InvalidToken)
        ));
    }

    #[test]
    fn a_tampered_token_is_rejected() {
        let signer = signer(KEY);
        let token = signer.issue(Role::Customer, "01012345678", 0, at(0));
        let token = token.expect("signed").access_token;
        let (header_and_payload, signature) = token.rsplit_once('.').expect("a JWS");
        let (header, _) = header_and_payload.split_once('.').expect("a JWS");
        // The same signature over claims that name an operator.
        let forged = claims("ops", Role::Operator, 0);
        let payload = base64_url(&serde_json::to_vec(&forged).expect("json"));
        let tampered = format!("{header}.{payload}.{signature}");
        assert!(signer.check(&tampered, at(1)).is_err());
        let mut flipped = token.clone();
        flipped.pop();
        flipped.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert!(signer.check(&flipped, at(1)).is_err());
        assert!(signer.check("not a token", at(1)).is_err());
    }

    #[test]
    fn a_token_signed_with_another_key_is_rejected() {
        let theirs = signer("another key, also 32 bytes or more");
        let token = theirs.issue(Role::Operator, "ops", 0, at(0));
        let token = token.expect("signed").access_token;
        assert!(signer(KEY).check(&token, at(1)).is_err());
    }

    #[test]
    fn an_unsigned_token_is_rejected() {
        let header = base64_url(br#"{"alg":"none","typ":"JWT"}"#);
        let claims = format!(
            r#"{{"sub":"ops","role":"operator","exp":{},"iat":0,"gen":0}}"#,
            unix_secs(at(3600))
        );
        let unsigned = format!("{header}.{}.", base64_url(claims.as_bytes()));
        assert!(signer(KEY).check(&unsigned, at(1)).is_err());
    }

    #[test]
    fn a_short_key_is_refused_and_a_generated_one_is_64_hex_digits() {
        assert!(SigningKey::new(b"too short".to_vec()).is_none());
        let key = SigningKey::generate();
        assert_eq!(key.bytes().len(), 64);
        assert!(key.bytes().iter().all(u8::is_ascii_hexdigit));
        assert_ne!(key.bytes(), SigningKey::generate().bytes());
        assert_eq!(format!("{key:?}"), "SigningKey(<redacted>)");
    }

    #[test]
    fn the_bearer_scheme_is_read_in_any_case() {
        assert_eq!(bearer("Bearer abc.def.ghi"), Some("abc.def.ghi"));
        assert_eq!(bearer("bearer  abc"), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("abc"), None);
    }

    #[test]
    fn a_token_is_never_debug_printed() {
        let token = signer(KEY).issue(Role::Operator, "ops", 0, at(0));
        let token = token.expect("signed");
        assert!(!format!("{token:?}").contains(&token.access_token));
    }

    /// Unpadded base64url, as JWTs encode their parts.
    fn base64_url(bytes: &[u8]) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }
}
