//! The identity service's rules end to end on a fresh SQLite store, with a clock the tests move.

use std::sync::Mutex;

use clap::Parser as _;
use driver_call_stores::StoreConfig;

use super::*;

const TOKEN_TTL: Duration = Duration::from_secs(3600);

/// A clock that stands still until a test moves it.
struct ManualClock(Mutex<SystemTime>);

impl ManualClock {
    fn advance(&self, by: Duration) {
        *self.0.lock().expect("clock") += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().expect("clock")
    }
}

fn temp_dir() -> PathBuf {
    std::env::temp_dir().join(format!("dc-identity-{}", uuid::Uuid::new_v4()))
}

async fn service() -> (Identity, Arc<ManualClock>) {
    let url = format!("sqlite://{}/identity.db", temp_dir().display());
    let store = IdentityStore::connect(&url).await.expect("identity store");
    let clock = Arc::new(ManualClock(Mutex::new(SystemTime::now())));
    let key = SigningKey::generate();
    let identity = Identity::new(store, &key, TOKEN_TTL, SmsSetup::outbox(), clock.clone());
    (identity, clock)
}

fn mobile() -> MobileNumber {
    MobileNumber::parse("010-1234-5678").expect("mobile")
}

/// The newest code the outbox holds for the number.
fn latest_code(identity: &Identity, mobile: &MobileNumber) -> String {
    let outbox = identity.outbox().expect("the outbox is on");
    let newest = outbox.messages_to(mobile).into_iter().next();
    newest.expect("a code was sent").code
}

/// A six-digit code that is not `code`.
fn other_than(code: &str) -> String {
    let n: u32 = code.parse().expect("digits");
    format!("{:06}", (n + 1) % 1_000_000)
}

async fn sent_code(identity: &Identity) -> String {
    identity.request_code(&mobile()).await.expect("code sent");
    latest_code(identity, &mobile())
}

fn new_driver(username: &str) -> NewDriver {
    NewDriver {
        username: username.to_owned(),
        name: "Kim Driver".to_owned(),
        mobile: "010-2222-3333".to_owned(),
        password: Password::new("driver-password"),
        areas: vec!["Mapo".to_owned(), "kangnam".to_owned(), "mapo".to_owned()],
    }
}

fn is_wrong_credentials(result: Result<Token, IdentityError>) -> bool {
    matches!(result, Err(IdentityError::WrongCredentials))
}

#[tokio::test]
async fn a_customer_signs_in_with_the_code_sent_to_their_number() {
    // Arrange
    let (identity, _) = service().await;
    let code = sent_code(&identity).await;
    let text = &identity.outbox().expect("outbox").messages_to(&mobile())[0].text;
    assert!(text.contains(&code), "{text}");

    // Act
    let token = identity
        .exchange_code(&mobile(), &code)
        .await
        .expect("signed in");
    let principal = identity.verify(&token.access_token).await.expect("valid");

    // Assert
    assert_eq!(
        (token.role, token.subject.as_str()),
        (Role::Customer, "01012345678")
    );
    assert_eq!((token.token_type, token.expires_in), ("Bearer", 3600));
    assert_eq!(principal.role, Role::Customer);
    assert_eq!(principal.subject, "01012345678");
    assert_eq!(principal.driver, None);
    let body = serde_json::to_value(&token).expect("json");
    let mut keys: Vec<_> = body.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["accessToken", "expiresIn", "role", "subject", "tokenType"]
    );
    assert_eq!(body["role"], "customer");
}

#[tokio::test]
async fn a_used_code_cannot_sign_in_again() {
    let (identity, _) = service().await;
    let code = sent_code(&identity).await;
    identity
        .exchange_code(&mobile(), &code)
        .await
        .expect("signed in");
    assert!(is_wrong_credentials(
        identity.exchange_code(&mobile(), &code).await
    ));
}

#[tokio::test]
async fn a_code_fails_once_five_minutes_have_passed() {
    let (identity, clock) = service().await;
    let code = sent_code(&identity).await;
    clock.advance(Duration::from_secs(300));
    assert!(is_wrong_credentials(
        identity.exchange_code(&mobile(), &code).await
    ));
}

#[tokio::test]
async fn five_wrong_codes_in_a_row_invalidate_the_code_and_a_new_one_works() {
    let (identity, _) = service().await;
    let code = sent_code(&identity).await;
    for _ in 0..5 {
        let wrong = identity.exchange_code(&mobile(), &other_than(&code)).await;
        assert!(is_wrong_credentials(wrong));
    }
    assert!(is_wrong_credentials(
        identity.exchange_code(&mobile(), &code).await
    ));

    let fresh = sent_code(&identity).await;
    let token = identity.exchange_code(&mobile(), &fresh).await;
    assert_eq!(token.expect("signed in").role, Role::Customer);
}

#[tokio::test]
async fn a_malformed_code_is_invalid_and_does_not_count() {
    let (identity, _) = service().await;
    let code = sent_code(&identity).await;
    for _ in 0..6 {
        let malformed = identity.exchange_code(&mobile(), "12345").await;
        assert_eq!(
            malformed.expect_err("rejected").status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
    identity
        .exchange_code(&mobile(), &code)
        .await
        .expect("signed in");
    let never_sent = MobileNumber::parse("010-0000-0000").expect("mobile");
    assert!(is_wrong_credentials(
        identity.exchange_code(&never_sent, &code).await
    ));
}

#[tokio::test]
async fn a_sixth_code_request_within_ten_minutes_is_limited_until_the_window_slides() {
    let (identity, clock) = service().await;
    for _ in 0..5 {
        identity.request_code(&mobile()).await.expect("sent");
        clock.advance(Duration::from_secs(30));
    }
    let limited = identity.request_code(&mobile()).await.expect_err("limited");
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.retry_after_secs(), Some(600 - 150));
    let sent = identity
        .outbox()
        .expect("outbox")
        .messages_to(&mobile())
        .len();
    assert_eq!(sent, 5, "a limited request sent a code");
    let other = MobileNumber::parse("010-9999-0000").expect("mobile");
    identity
        .request_code(&other)
        .await
        .expect("another number is not limited");

    clock.advance(Duration::from_secs(450));
    identity
        .request_code(&mobile())
        .await
        .expect("the oldest request left the window");
}

#[tokio::test]
async fn a_driver_signs_in_with_a_password_and_a_disabled_driver_loses_access_at_once() {
    // Arrange
    let (identity, _) = service().await;
    let registered = identity
        .register_driver(new_driver("kim"))
        .await
        .expect("registered");
    assert_eq!(registered.areas, ["mapo", "kangnam"]);
    assert_eq!(registered.mobile, "01022223333");
    let password = Password::new("driver-password");
    let token = identity
        .password_sign_in("kim", &password)
        .await
        .expect("signed in");
    let principal = identity.verify(&token.access_token).await.expect("valid");
    assert_eq!(
        (principal.role, principal.subject.as_str()),
        (Role::Driver, "kim")
    );
    assert_eq!(
        principal.driver.expect("a driver's account").name,
        "Kim Driver"
    );
    let wrong = identity
        .password_sign_in("kim", &Password::new("driver-passwort"))
        .await;
    assert!(is_wrong_credentials(wrong));

    // Act
    let disabled = identity.disable_driver("kim").await.expect("disabled");

    // Assert
    assert!(disabled.is_disabled());
    let revoked = identity.verify(&token.access_token).await;
    assert!(matches!(revoked, Err(IdentityError::InvalidToken)));
    assert!(is_wrong_credentials(
        identity.password_sign_in("kim", &password).await
    ));
    let listed = identity.list_drivers().await.expect("drivers");
    assert_eq!(listed, [disabled]);
    let unknown = identity
        .disable_driver("nobody")
        .await
        .expect_err("unknown");
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_driver_is_registered_once_with_valid_fields_only() {
    let (identity, _) = service().await;
    let ops = Password::new("operator-password");
    identity
        .bootstrap_operator("ops", Some(&ops))
        .await
        .expect("operator");
    identity
        .register_driver(new_driver("kim"))
        .await
        .expect("registered");
    for taken in ["kim", "ops"] {
        let again = identity
            .register_driver(new_driver(taken))
            .await
            .expect_err("taken");
        assert_eq!(again.status(), StatusCode::CONFLICT, "{taken}");
    }
    let invalid = [
        NewDriver {
            username: "lee park".to_owned(),
            ..new_driver("x")
        },
        NewDriver {
            name: " ".to_owned(),
            ..new_driver("lee")
        },
        NewDriver {
            mobile: "call me".to_owned(),
            ..new_driver("lee")
        },
        NewDriver {
            password: Password::new("short"),
            ..new_driver("lee")
        },
        NewDriver {
            areas: vec![],
            ..new_driver("lee")
        },
        NewDriver {
            areas: vec!["mapo gu".to_owned()],
            ..new_driver("lee")
        },
    ];
    for driver in invalid {
        let rejected = identity.register_driver(driver).await.expect_err("invalid");
        assert_eq!(
            rejected.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{rejected}"
        );
    }
    let drivers = identity.list_drivers().await.expect("drivers");
    assert_eq!(drivers.len(), 1);
}

#[tokio::test]
async fn an_expired_tampered_or_foreign_token_is_rejected() {
    let (identity, clock) = service().await;
    let code = sent_code(&identity).await;
    let token = identity
        .exchange_code(&mobile(), &code)
        .await
        .expect("signed in");
    let (other, _) = service().await;
    let foreign = other
        .tokens
        .issue(Role::Customer, "01012345678", 0, clock.now());
    let foreign = foreign.expect("signed").access_token;
    assert!(matches!(
        identity.verify(&foreign).await,
        Err(IdentityError::InvalidToken)
    ));
    let tampered = format!("{}x", token.access_token);
    assert!(matches!(
        identity.verify(&tampered).await,
        Err(IdentityError::InvalidToken)
    ));

    clock.advance(TOKEN_TTL);
    let expired = identity.verify(&token.access_token).await;
    assert_eq!(
        expired.expect_err("expired").status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_eleventh_password_sign_in_in_a_row_for_a_username_waits() {
    let (identity, _) = service().await;
    identity
        .register_driver(new_driver("kim"))
        .await
        .expect("registered");
    for _ in 0..10 {
        let wrong = identity
            .password_sign_in("kim", &Password::new("a wrong password"))
            .await;
        assert_eq!(wrong.expect_err("wrong").status(), StatusCode::UNAUTHORIZED);
    }
    // Even the right password waits now, and another username does not.
    let limited = identity
        .password_sign_in(
            "KIM",
            &Password::new(new_driver("kim").password.expose_secret()),
        )
        .await
        .expect_err("limited");
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!((1..=30).contains(&limited.retry_after_secs().expect("a wait")));
    let other = identity
        .password_sign_in("lee", &Password::new("whatever"))
        .await;
    assert_eq!(
        other.expect_err("unknown").status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn an_unknown_username_is_told_apart_from_a_wrong_password_by_nothing() {
    let (identity, _) = service().await;
    let unknown = identity
        .password_sign_in("nobody", &Password::new("whatever"))
        .await;
    let unknown = unknown.expect_err("unknown");
    identity
        .register_driver(new_driver("kim"))
        .await
        .expect("registered");
    let wrong = identity
        .password_sign_in("kim", &Password::new("whatever"))
        .await;
    let wrong = wrong.expect_err("wrong");
    assert_eq!(unknown.to_string(), wrong.to_string());
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_configured_operator_password_replaces_the_stored_one_and_revokes_tokens() {
    let (identity, _) = service().await;
    let first = Password::new("first-password");
    identity
        .bootstrap_operator("ops", Some(&first))
        .await
        .expect("created");
    let token = identity
        .password_sign_in("ops", &first)
        .await
        .expect("signed in");
    let principal = identity.verify(&token.access_token).await.expect("valid");
    assert_eq!(principal.role, Role::Operator);
    principal.require(Role::Operator).expect("an operator");
    let forbidden = principal.require(Role::Driver).expect_err("not a driver");
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);

    identity
        .bootstrap_operator("ops", Some(&first))
        .await
        .expect("unchanged");
    identity
        .verify(&token.access_token)
        .await
        .expect("the same password revokes nothing");
    identity
        .bootstrap_operator("ops", None)
        .await
        .expect("kept as it is");
    let second = Password::new("second-password");
    identity
        .bootstrap_operator("ops", Some(&second))
        .await
        .expect("replaced");
    assert!(identity.verify(&token.access_token).await.is_err());
    assert!(is_wrong_credentials(
        identity.password_sign_in("ops", &first).await
    ));
    identity
        .password_sign_in("ops", &second)
        .await
        .expect("signed in");

    let missing = identity.bootstrap_operator("ops2", None).await;
    assert!(matches!(
        missing,
        Err(SetupError::OperatorPasswordRequired(_))
    ));
    identity
        .register_driver(new_driver("kim"))
        .await
        .expect("registered");
    let taken = identity.bootstrap_operator("kim", Some(&second)).await;
    assert!(matches!(taken, Err(SetupError::OperatorUsernameTaken(_))));
}

/// A CLI around the identity settings, as the API's config will flatten them.
#[derive(clap::Parser)]
struct Cli {
    #[command(flatten)]
    identity: IdentityConfig,
}

fn settings(args: &[&str]) -> IdentityConfig {
    let args = std::iter::once("api").chain(args.iter().copied());
    Cli::try_parse_from(args).expect("settings").identity
}

#[tokio::test]
async fn the_embedded_default_generates_its_key_and_operator_password_once() {
    // Arrange
    let data_dir = temp_dir();
    let stores = StoreConfig::under(data_dir.clone());
    let config = settings(&[]);
    assert_eq!(config.auth_token_ttl, Duration::from_secs(12 * 3600));
    assert_eq!(
        (
            config.sms_sender.as_str(),
            config.operator_username.as_str()
        ),
        ("outbox", "ops")
    );

    // Act
    let (first, generated) = Identity::build(&config, &stores).await.expect("built");
    let (second, again) = Identity::build(&config, &stores)
        .await
        .expect("built again");

    // Assert
    let generated = generated.expect("a generated password");
    let again = again.expect("the kept password");
    assert!(generated.new && !again.new);
    assert_eq!(
        generated.password.expose_secret(),
        again.password.expose_secret()
    );
    assert_eq!(generated.password.expose_secret().len(), 24);
    assert!(!format!("{generated:?}").contains(generated.password.expose_secret()));
    for file in [config::SIGNING_KEY_FILE, config::OPERATOR_PASSWORD_FILE] {
        use std::os::unix::fs::PermissionsExt as _;
        let metadata = std::fs::metadata(data_dir.join(file)).expect("kept");
        assert_eq!(metadata.permissions().mode() & 0o777, 0o600, "{file}");
    }
    let token = first
        .password_sign_in("ops", &generated.password)
        .await
        .expect("signed in");
    let principal = second
        .verify(&token.access_token)
        .await
        .expect("the same key");
    assert_eq!(principal.subject, "ops");
}

#[tokio::test]
async fn a_shared_database_needs_a_configured_key_and_senders_must_be_known() {
    let mut stores = StoreConfig::under(temp_dir());
    stores.identity_database_url = Some("postgres://127.0.0.1:1/nowhere".to_owned());
    let keyless = Identity::build(&settings(&[]), &stores).await;
    assert!(matches!(keyless, Err(SetupError::SigningKeyRequired)));
    let short = Identity::build(&settings(&["--auth-signing-key", "short"]), &stores).await;
    assert!(matches!(short, Err(SetupError::ShortSigningKey)));
    let unknown = Identity::build(&settings(&["--sms-sender", "carrier-pigeon"]), &stores).await;
    assert!(matches!(unknown, Err(SetupError::UnknownSmsSender(name)) if name == "carrier-pigeon"));
}

#[test]
fn every_error_maps_to_its_status() {
    let cases = [
        (IdentityError::WrongCredentials, StatusCode::UNAUTHORIZED),
        (IdentityError::InvalidToken, StatusCode::UNAUTHORIZED),
        (
            IdentityError::Forbidden(Role::Operator),
            StatusCode::FORBIDDEN,
        ),
        (
            IdentityError::NoSuchDriver("x".to_owned()),
            StatusCode::NOT_FOUND,
        ),
        (
            IdentityError::UsernameTaken("x".to_owned()),
            StatusCode::CONFLICT,
        ),
        (
            IdentityError::Invalid("x".to_owned()),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            IdentityError::RateLimited {
                retry_after: Duration::from_secs(1),
            },
            StatusCode::TOO_MANY_REQUESTS,
        ),
        (
            IdentityError::Sms(SmsError("down".to_owned())),
            StatusCode::SERVICE_UNAVAILABLE,
        ),
    ];
    for (error, status) in cases {
        assert_eq!(error.status(), status, "{error}");
    }
}
