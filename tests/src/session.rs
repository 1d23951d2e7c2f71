//! Signing the tests' people in, as a person would: a customer asks for a code and reads it from
//! the development outbox (`GET /dev/sms`), a driver is registered by the operator and signs in
//! with a password, the operator with the configured one. Tokens are kept per API and person for
//! the whole test binary, so a number is not sent more codes than the rate limit allows.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use serde_json::{Value, json};

/// The bootstrap operator of every API the tests start.
pub const OPERATOR_USERNAME: &str = "ops";
/// Their password (`OPERATOR_PASSWORD`).
pub const OPERATOR_PASSWORD: &str = "operator-password-for-tests";
/// The service areas every test driver serves (the first word of the tests' locations).
pub const DRIVER_AREAS: [&str; 12] = [
    "kangnam", "mapo", "nowon", "jongro", "dongjak", "bundang", "busan", "seocho", "songpa",
    "yongsan", "jamsil", "itaewon",
];

/// Who a test request is sent as.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Person {
    /// Nobody: no token.
    Anonymous,
    /// The customer with this mobile number (digits).
    Customer(String),
    /// The driver with this username.
    Driver(String),
    /// The bootstrap operator.
    Operator,
}

impl Person {
    /// The customer with `mobile` (spaces and dashes dropped, as the API normalises it).
    pub fn customer(mobile: &str) -> Self {
        Person::Customer(mobile.chars().filter(|c| *c != '-' && *c != ' ').collect())
    }
}

type Key = (String, Person);

static TOKENS: LazyLock<Mutex<HashMap<Key, Option<String>>>> = LazyLock::new(Default::default);
/// One sign-in at a time: two at once for one number would replace each other's codes.
static SIGNING_IN: LazyLock<tokio::sync::Mutex<()>> = LazyLock::new(Default::default);

fn cached(key: &Key) -> Option<Option<String>> {
    TOKENS.lock().expect("tokens").get(key).cloned()
}

/// `person`'s token at the API at `base`, signing in when there is none (or `renew`). `None`
/// for nobody, and for an API that signs nobody in (an older build, in the benchmark's A/B).
pub(crate) async fn token(
    http: &reqwest::Client,
    base: &str,
    person: &Person,
    renew: bool,
) -> Option<String> {
    if *person == Person::Anonymous {
        return None;
    }
    let key = (base.to_owned(), person.clone());
    if renew {
        TOKENS.lock().expect("tokens").remove(&key);
    }
    if let Some(token) = cached(&key) {
        return token;
    }
    let _one_at_a_time = SIGNING_IN.lock().await;
    signed_in(http, base, person).await
}

/// The token from the cache or a new sign-in (the caller holds `SIGNING_IN`).
async fn signed_in(http: &reqwest::Client, base: &str, person: &Person) -> Option<String> {
    let key = (base.to_owned(), person.clone());
    if let Some(token) = cached(&key) {
        return token;
    }
    let token = match person {
        Person::Anonymous => None,
        Person::Operator => password_grant(http, base, OPERATOR_USERNAME, OPERATOR_PASSWORD).await,
        Person::Customer(mobile) => code_grant(http, base, mobile).await,
        Person::Driver(username) => {
            let operator = Box::pin(signed_in(http, base, &Person::Operator)).await;
            register_driver(http, base, operator.as_deref(), username).await;
            let token = password_grant(http, base, username, &driver_password(username)).await;
            // A driver who signs in to work goes online, as the driver app's go-online does.
            go_online(http, base, token.as_deref()).await;
            token
        }
    };
    TOKENS.lock().expect("tokens").insert(key, token.clone());
    token
}

/// `PUT /drivers/me/availability {online: true}` with `token` (an API from before availability
/// answers 404, which is fine: its drivers are always offered their areas' calls).
async fn go_online(http: &reqwest::Client, base: &str, token: Option<&str>) {
    let Some(token) = token else { return };
    let response = http
        .put(format!("{base}/drivers/me/availability"))
        .bearer_auth(token)
        .json(&json!({"online": true}))
        .send()
        .await
        .expect("the API answers");
    let status = response.status().as_u16();
    assert!([200, 404, 405].contains(&status), "go online: {status}");
}

/// A test driver's password.
pub fn driver_password(username: &str) -> String {
    format!("password of {username}")
}

async fn post(
    http: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut request = http.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the API answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn password_grant(
    http: &reqwest::Client,
    base: &str,
    username: &str,
    password: &str,
) -> Option<String> {
    let body = json!({"grantType": "password", "username": username, "password": password});
    let (status, answer) = post(http, format!("{base}/auth/token"), None, body).await;
    if status == 404 {
        return None;
    }
    assert_eq!(status, 200, "sign in as {username}: {answer}");
    Some(access_token(&answer))
}

async fn code_grant(http: &reqwest::Client, base: &str, mobile: &str) -> Option<String> {
    let (status, answer) = post(
        http,
        format!("{base}/auth/otp"),
        None,
        json!({"mobile": mobile}),
    )
    .await;
    if status == 404 {
        return None;
    }
    assert_eq!(status, 202, "send a code to {mobile}: {answer}");
    let outbox: Value = http
        .get(format!("{base}/dev/sms"))
        .query(&[("mobile", mobile)])
        .send()
        .await
        .expect("the API answers")
        .json()
        .await
        .expect("the outbox answers JSON");
    let code = outbox[0]["code"].as_str().expect("a code in the outbox");
    let body = json!({"grantType": "otp", "mobile": mobile, "code": code});
    let (status, answer) = post(http, format!("{base}/auth/token"), None, body).await;
    assert_eq!(status, 200, "sign in as {mobile}: {answer}");
    Some(access_token(&answer))
}

fn access_token(answer: &Value) -> String {
    answer["accessToken"]
        .as_str()
        .expect("an access token")
        .to_owned()
}

/// Registers the driver `username` (named `Driver <username>`, serving [`DRIVER_AREAS`]) unless
/// they already are.
async fn register_driver(
    http: &reqwest::Client,
    base: &str,
    operator: Option<&str>,
    username: &str,
) {
    let body = json!({
        "username": username,
        "name": format!("Driver {username}"),
        "mobile": "010-5555-0000",
        "password": driver_password(username),
        "areas": DRIVER_AREAS,
    });
    let (status, answer) = post(http, format!("{base}/drivers"), operator, body).await;
    assert!(
        [201, 409, 404].contains(&status),
        "register driver {username}: {status} {answer}"
    );
}
