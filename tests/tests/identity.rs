//! Identity and access end to end (spec section 7): signing in over HTTP, and who may use which
//! route, read from the API's own OpenAPI document so that a new route cannot be left out.

use std::collections::BTreeMap;

use driver_call_tests::{Api, Person, Stores, unique_mobile};
use driver_call_workflows::domain::CallView;
use reqwest::Method;
use serde_json::{Value, json};

/// What a person gets from a route: let through (any answer but 401, 403 and 404, and never a
/// 5xx), or turned away with exactly this status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Allowed,
    Denied(u16),
}

use Expect::{Allowed, Denied};

/// The people of the matrix, in the order of each row's expectations.
const PEOPLE: [&str; 6] = [
    "anonymous",
    "owner customer",
    "another customer",
    "driver who caught",
    "another driver",
    "operator",
];

/// Every route of the API and what each person gets from it. A route that is in the OpenAPI
/// document but not here fails the test.
fn expectations() -> BTreeMap<&'static str, [Expect; 6]> {
    const PUBLIC: [Expect; 6] = [Allowed; 6];
    const CUSTOMER_ONLY: [Expect; 6] = [
        Denied(401),
        Allowed,
        Denied(404),
        Denied(403),
        Denied(403),
        Denied(403),
    ];
    const CUSTOMER_OR_OPERATOR: [Expect; 6] = [
        Denied(401),
        Allowed,
        Denied(404),
        Denied(403),
        Denied(403),
        Allowed,
    ];
    const CATCHING_DRIVER: [Expect; 6] = [
        Denied(401),
        Denied(403),
        Denied(403),
        Allowed,
        Denied(404),
        Denied(403),
    ];
    // The call's customer, the driver who caught it, operators.
    const CALL_READERS: [Expect; 6] = [
        Denied(401),
        Allowed,
        Denied(404),
        Allowed,
        Denied(404),
        Allowed,
    ];
    const DRIVERS_ONLY: [Expect; 6] = [
        Denied(401),
        Denied(403),
        Denied(403),
        Allowed,
        Allowed,
        Denied(403),
    ];
    const OPERATOR_ONLY: [Expect; 6] = [
        Denied(401),
        Denied(403),
        Denied(403),
        Denied(403),
        Denied(403),
        Allowed,
    ];
    BTreeMap::from([
        ("GET /healthz", PUBLIC),
        ("GET /readyz", PUBLIC),
        ("GET /metrics", PUBLIC),
        ("POST /auth/otp", PUBLIC),
        ("POST /auth/token", PUBLIC),
        ("GET /dev/sms", PUBLIC),
        (
            "POST /calls",
            [
                Denied(401),
                Allowed,
                Allowed,
                Denied(403),
                Denied(403),
                Denied(403),
            ],
        ),
        ("GET /calls/{call_id}", CALL_READERS),
        ("POST /calls/{call_id}/pay", CUSTOMER_ONLY),
        ("POST /calls/{call_id}/cancel", CUSTOMER_ONLY),
        ("DELETE /calls/{call_id}", CUSTOMER_ONLY),
        ("GET /calls/{call_id}/events", CALL_READERS),
        (
            "POST /quotes",
            [
                Denied(401),
                Allowed,
                Allowed,
                Denied(403),
                Denied(403),
                Denied(403),
            ],
        ),
        (
            "GET /catches",
            [
                Denied(401),
                Denied(403),
                Denied(403),
                Allowed,
                Denied(403),
                Allowed,
            ],
        ),
        (
            "POST /catches/{call_id}",
            [
                Denied(401),
                Denied(403),
                Denied(403),
                Allowed,
                Denied(404),
                Denied(403),
            ],
        ),
        ("POST /catches/{call_id}/deny", OPERATOR_ONLY),
        ("POST /catches/{call_id}/assign", OPERATOR_ONLY),
        (
            "GET /places",
            [Denied(401), Allowed, Allowed, Allowed, Allowed, Allowed],
        ),
        ("POST /catches/{call_id}/arrive", CATCHING_DRIVER),
        ("POST /catches/{call_id}/start", CATCHING_DRIVER),
        ("POST /catches/{call_id}/complete", CATCHING_DRIVER),
        ("POST /catches/{call_id}/no-show", CATCHING_DRIVER),
        ("GET /payments/{payment_id}", CUSTOMER_OR_OPERATOR),
        ("GET /payments", CUSTOMER_OR_OPERATOR),
        ("GET /dashboards", CUSTOMER_OR_OPERATOR),
        ("GET /dashboards/events", CUSTOMER_OR_OPERATOR),
        ("GET /dashboards/myPage/{call_id}", CUSTOMER_OR_OPERATOR),
        ("POST /drivers", OPERATOR_ONLY),
        ("GET /drivers", OPERATOR_ONLY),
        ("POST /drivers/{username}/disable", OPERATOR_ONLY),
        ("GET /calls", OPERATOR_ONLY),
        ("GET /dashboards/counts", OPERATOR_ONLY),
        ("GET /operations/status", OPERATOR_ONLY),
        ("POST /codec/decode", OPERATOR_ONLY),
        ("POST /codec/encode", OPERATOR_ONLY),
        ("GET /drivers/me", DRIVERS_ONLY),
        ("PUT /drivers/me/availability", DRIVERS_ONLY),
        ("GET /drivers/me/earnings", DRIVERS_ONLY),
        (
            "GET /catches/events",
            [
                Denied(401),
                Denied(403),
                Denied(403),
                Allowed,
                Denied(403),
                Allowed,
            ],
        ),
    ])
}

/// Registers the driver `username` serving `areas` (as the operator), so the harness signs them
/// in with their password.
async fn register(api: &Api, username: &str, areas: &[&str]) {
    let answer = api
        .as_operator()
        .send(
            Method::POST,
            "/drivers",
            Some(json!({
                "username": username,
                "name": format!("Driver {username}"),
                "mobile": "010-2222-3333",
                "password": driver_call_tests::driver_password(username),
                "areas": areas,
            })),
        )
        .await;
    assert!([201, 409].contains(&answer.status), "{:?}", answer.body);
}

/// A call in Kangnam, paid and caught by `driver`.
async fn caught_call(api: &Api, mobile: &str, driver: &str) -> CallView {
    let call = api.create_call_for(mobile, "Kangnam matrix", 15000).await;
    assert_eq!(api.pay(&call).await.status, 200);
    api.wait_for_status(&call, "DISPATCHED").await;
    let caught = api.catch(&call, driver).await;
    assert_eq!(caught.status, 200, "{:?}", caught.body);
    let view = api.get_call(&call).await;
    Stores::open()
        .await
        .wait_for_projection(&view, &view.timeline)
        .await;
    view
}

/// The request that exercises `route` for the matrix's call.
fn request(route: &str, call: &CallView, person: usize) -> (Method, String, Option<Value>) {
    let (method, template) = route.split_once(' ').expect("METHOD path");
    let method: Method = method.parse().expect("a method");
    let id = call.call_id.to_string();
    let payment = call.payment_id.clone().unwrap_or_default();
    let mobile = call.mobile.as_ref();
    let path = template
        .replace("{call_id}", &id)
        .replace("{payment_id}", &payment)
        .replace("{username}", "matrix-gone");
    let (query, body) = match route {
        "GET /catches" | "GET /catches/events" => ("?area=kangnam".to_owned(), None),
        "GET /calls" => (format!("?mobile={mobile}"), None),
        "PUT /drivers/me/availability" => (String::new(), Some(json!({"online": true}))),
        "GET /payments" => (format!("?callId={id}"), None),
        "GET /dashboards" | "GET /dashboards/events" | "GET /dev/sms" => {
            (format!("?mobile={mobile}"), None)
        }
        // A number of its own for each person, so no number meets the code limit.
        "POST /auth/otp" => (String::new(), Some(json!({"mobile": unique_mobile()}))),
        "POST /auth/token" => (
            String::new(),
            Some(json!({
                "grantType": "password",
                "username": driver_call_tests::OPERATOR_USERNAME,
                "password": driver_call_tests::OPERATOR_PASSWORD,
            })),
        ),
        "POST /calls" => (
            String::new(),
            Some(json!({"location": "Mapo matrix", "payType": "CARD", "payAmount": 9000})),
        ),
        "POST /catches/{call_id}/deny" => (String::new(), Some(json!({"reason": "matrix"}))),
        "POST /codec/decode" | "POST /codec/encode" => {
            (String::new(), Some(json!({"payloads": []})))
        }
        "POST /catches/{call_id}/assign" => {
            (String::new(), Some(json!({"driverId": "matrix-lee"})))
        }
        "POST /quotes" => (
            String::new(),
            Some(json!({"location": "Seoul station", "destination": "Kangnam station"})),
        ),
        "POST /drivers" => (
            String::new(),
            Some(json!({
                "username": format!("matrix-new-{person}-{}", uuid::Uuid::new_v4().simple()),
                "name": "New", "mobile": "010-3333-4444",
                "password": "a new driver's password", "areas": ["mapo"],
            })),
        ),
        _ => (String::new(), None),
    };
    (method, format!("{path}{query}"), body)
}

/// Sends one request of the matrix; a stream's answer is judged by its status alone.
async fn status_of(api: &Api, method: Method, path: &str, body: Option<Value>) -> u16 {
    if path.ends_with("/events") || path.contains("/events?") {
        let mut request = reqwest::Client::new().get(format!("{}{path}", api.base));
        if let Some(token) = api.token().await {
            request = request.bearer_auth(token);
        }
        return request
            .send()
            .await
            .expect("the API answers")
            .status()
            .as_u16();
    }
    api.send(method, path, body).await.status
}

#[tokio::test]
async fn every_route_answers_each_person_as_section_7_says() {
    let api = Api::default_limits();
    register(&api, "matrix-kim", &["kangnam"]).await;
    register(&api, "matrix-lee", &["mapo"]).await;
    register(&api, "matrix-gone", &["mapo"]).await;
    let owner = unique_mobile();
    let call = caught_call(&api, &owner, "matrix-kim").await;
    let people = [
        api.anonymous(),
        api.as_customer(&owner),
        api.as_customer(&unique_mobile()),
        api.as_driver("matrix-kim"),
        api.as_driver("matrix-lee"),
        api.as_operator(),
    ];

    let document = api.send(Method::GET, "/openapi.json", None).await.body;
    let expectations = expectations();
    let mut routes = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            routes.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    let missing: Vec<&String> = routes
        .iter()
        .filter(|r| !expectations.contains_key(r.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "routes with no expectations: {missing:?}"
    );
    // Requests that change the call (cancel, the trip steps) come after those that read it.
    routes.sort_by_key(|route| {
        route.starts_with("POST") || route.starts_with("DELETE") || route.starts_with("PUT")
    });

    let mut wrong = Vec::new();
    for route in &routes {
        for (person, client) in people.iter().enumerate() {
            let (method, path, body) = request(route, &call, person);
            let status = status_of(client, method, &path, body).await;
            let expected = expectations[route.as_str()][person];
            let right = match expected {
                Allowed => ![401, 403, 404].contains(&status) && status < 500,
                Denied(denied) => status == denied,
            };
            if !right {
                wrong.push(format!(
                    "{route} as {}: {status}, expected {expected:?}",
                    PEOPLE[person]
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test]
async fn a_driver_sees_the_customers_number_masked_and_the_customer_sees_it_whole() {
    let api = Api::default_limits();
    register(&api, "mask-kim", &["kangnam"]).await;
    let owner = "010-4321-8765";
    let call = caught_call(&api, owner, "mask-kim").await;
    let path = format!("/calls/{}", call.call_id);
    let seen_by_driver = api
        .as_driver("mask-kim")
        .send(Method::GET, &path, None)
        .await;
    assert_eq!(seen_by_driver.status, 200, "{:?}", seen_by_driver.body);
    assert_eq!(seen_by_driver.body["mobile"], "010-****-8765");
    assert_eq!(seen_by_driver.body["driver"]["driverId"], "mask-kim");
    let step = api.trip_step(&call, "arrive", "mask-kim").await;
    assert_eq!(step.body["mobile"], "010-****-8765");
    assert_eq!(api.get_call(&call).await.mobile.as_ref(), "01043218765");
}

#[tokio::test]
async fn the_identity_in_the_token_wins_over_the_body() {
    let api = Api::default_limits();
    let mobile = unique_mobile();
    let customer = api.as_customer(&mobile);
    let someone_else = json!({
        "mobile": unique_mobile(), "location": "Mapo", "payType": "CARD", "payAmount": 9000,
    });
    let refused = customer
        .send(Method::POST, "/calls", Some(someone_else))
        .await;
    assert_eq!(refused.status, 422, "{:?}", refused.body);
    let listed = customer.send(Method::GET, "/dashboards", None).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body, json!([]), "the refused request started a call");

    // Left out, the number is the signed-in customer's.
    let own = customer
        .send(
            Method::POST,
            "/calls",
            Some(json!({"location": "Kangnam", "payType": "CARD", "payAmount": 9000})),
        )
        .await;
    assert_eq!(own.status, 201, "{:?}", own.body);
    let call = own.view();
    assert_eq!(call.mobile.as_ref(), mobile);

    // A catch naming another driver is refused; the driver's own account names the catch.
    assert_eq!(api.pay(&call).await.status, 200);
    api.wait_for_status(&call, "DISPATCHED").await;
    let driver = api.as_driver("wins-park");
    let path = format!("/catches/{}", call.call_id);
    let as_other = driver
        .send(
            Method::POST,
            &path,
            Some(json!({"driverId": "someone-else", "driverName": "Someone"})),
        )
        .await;
    assert_eq!(as_other.status, 403, "{:?}", as_other.body);
    let caught = driver
        .send(
            Method::POST,
            &path,
            Some(json!({"driverName": "Not my name"})),
        )
        .await;
    assert_eq!(caught.status, 200, "{:?}", caught.body);
    assert_eq!(caught.body["driver"]["driverId"], "wins-park");
    assert_eq!(caught.body["driver"]["driverName"], "Driver wins-park");
}

/// `POST /auth/otp` for `mobile`.
async fn request_code(api: &Api, mobile: &str) -> driver_call_tests::Answer {
    api.anonymous()
        .send(Method::POST, "/auth/otp", Some(json!({"mobile": mobile})))
        .await
}

/// The newest code in the outbox for `mobile`.
async fn newest_code(api: &Api, mobile: &str) -> String {
    let outbox = api
        .anonymous()
        .send(Method::GET, &format!("/dev/sms?mobile={mobile}"), None)
        .await;
    assert_eq!(outbox.status, 200);
    outbox.body[0]["code"].as_str().expect("a code").to_owned()
}

async fn exchange(api: &Api, mobile: &str, code: &str) -> driver_call_tests::Answer {
    api.anonymous()
        .send(
            Method::POST,
            "/auth/token",
            Some(json!({"grantType": "otp", "mobile": mobile, "code": code})),
        )
        .await
}

/// A six-digit code that is not `code`.
fn wrong(code: &str) -> String {
    let n: u32 = code.parse().expect("digits");
    format!("{:06}", (n + 1) % 1_000_000)
}

#[tokio::test]
async fn a_wrong_code_is_401_and_changes_nothing_and_five_of_them_invalidate_the_code() {
    let api = Api::default_limits();
    let mobile = unique_mobile();
    assert_eq!(request_code(&api, &mobile).await.status, 202);
    let code = newest_code(&api, &mobile).await;
    let refused = exchange(&api, &mobile, &wrong(&code)).await;
    assert_eq!(refused.status, 401, "{:?}", refused.body);
    assert_eq!(refused.headers["content-type"], "application/problem+json");
    let signed_in = exchange(&api, &mobile, &code).await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    assert_eq!(signed_in.body["role"], "customer");
    assert_eq!(signed_in.body["tokenType"], "Bearer");
    let cookie = signed_in.headers["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");

    let mobile = unique_mobile();
    assert_eq!(request_code(&api, &mobile).await.status, 202);
    let code = newest_code(&api, &mobile).await;
    for _ in 0..5 {
        assert_eq!(exchange(&api, &mobile, &wrong(&code)).await.status, 401);
    }
    let too_late = exchange(&api, &mobile, &code).await;
    assert_eq!(too_late.status, 401, "the right code after five wrong ones");
}

#[tokio::test]
async fn the_sixth_code_request_in_ten_minutes_is_429_with_retry_after() {
    let api = Api::default_limits();
    let mobile = unique_mobile();
    for n in 1..=5 {
        assert_eq!(request_code(&api, &mobile).await.status, 202, "request {n}");
    }
    let limited = request_code(&api, &mobile).await;
    assert_eq!(limited.status, 429, "{:?}", limited.body);
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=600).contains(&retry_after), "{retry_after}");
}

#[tokio::test]
async fn a_disabled_drivers_token_stops_working_at_once() {
    let api = Api::default_limits();
    let username = format!("disabled-{}", uuid::Uuid::new_v4().simple());
    register(&api, &username, &["kangnam"]).await;
    let driver = api.as_driver(&username);
    let offers = driver
        .send(Method::GET, "/catches?area=kangnam", None)
        .await;
    assert_eq!(offers.status, 200, "{:?}", offers.body);

    let disabled = api
        .as_operator()
        .send(Method::POST, &format!("/drivers/{username}/disable"), None)
        .await;
    assert_eq!(disabled.status, 200, "{:?}", disabled.body);
    assert!(disabled.body["disabledAt"].is_string());

    let token = driver.token().await.expect("the old token");
    let after = reqwest::Client::new()
        .get(format!("{}/catches?area=kangnam", api.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);
    let again = api
        .anonymous()
        .send(
            Method::POST,
            "/auth/token",
            Some(json!({
                "grantType": "password",
                "username": username,
                "password": driver_call_tests::driver_password(&username),
            })),
        )
        .await;
    assert_eq!(again.status, 401, "a disabled driver signs in again");
}

#[tokio::test]
async fn without_a_valid_token_a_protected_route_is_401_problem_json() {
    let api = Api::default_limits();
    for token in [None, Some("not-a-token")] {
        let mut request = reqwest::Client::new().get(format!("{}/drivers", api.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), 401);
        assert_eq!(answer.headers()["www-authenticate"], "Bearer");
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["status"], 401);
    }
    assert_eq!(
        api.as_person(Person::Anonymous)
            .send(Method::POST, "/calls", Some(json!({})))
            .await
            .status,
        401,
        "no token: 401 before the body is even read"
    );
}

#[tokio::test]
async fn a_driver_who_names_no_area_sees_the_offers_of_all_their_areas() {
    let api = Api::default_limits();
    let username = format!("areas-{}", uuid::Uuid::new_v4().simple());
    register(&api, &username, &["kangnam", "mapo"]).await;
    let mut ids = Vec::new();
    for location in ["Kangnam offers", "Mapo offers", "Nowon offers"] {
        let call = api.create_call_for(&unique_mobile(), location, 12000).await;
        assert_eq!(api.pay(&call).await.status, 200);
        api.wait_for_status(&call, "DISPATCHED").await;
        ids.push(call.call_id.to_string());
    }
    let offers = api
        .as_driver(&username)
        .send(Method::GET, "/catches", None)
        .await;
    assert_eq!(offers.status, 200, "{:?}", offers.body);
    let listed: Vec<&str> = offers
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["callId"].as_str())
        .collect();
    assert!(listed.contains(&ids[0].as_str()) && listed.contains(&ids[1].as_str()));
    assert!(!listed.contains(&ids[2].as_str()), "nowon is not theirs");
    let operator = api.as_operator().send(Method::GET, "/catches", None).await;
    assert_eq!(operator.status, 422, "an operator names the area");
}
