//! Payload privacy (spec section 10): what the Temporal server keeps of a call holds no
//! customer's number or place; the codec server opens it for operators alone; visibility finds a
//! customer's calls by the keyed hash of the number.

use driver_call_tests::{Api, env, mobile_hash, temporal};
use driver_call_workflows::domain::CallView;
use reqwest::Method;
use serde_json::{Value, json};

const MOBILE: &str = "010-4893-1465";
const DIGITS: &str = "01048931465";
const PICKUP: &str = "Kangnam Yeoksam-ro 427 5F";
const DESTINATION: &str = "Bundang Jeongja-ro 178";

/// A call of [`MOBILE`] from [`PICKUP`] to [`DESTINATION`], taken through to COMPLETED and
/// caught by `driver` (a driver has one call at a time, so each test has its own).
async fn completed_call(api: &Api, driver: &str) -> CallView {
    let customer = api.as_customer(MOBILE);
    let body = json!({
        "mobile": MOBILE,
        "location": PICKUP,
        "destination": DESTINATION,
        "payType": "CARD",
        "payAmount": 23000,
    });
    let made = customer.send(Method::POST, "/calls", Some(body)).await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let call = made.view();
    assert_eq!(customer.pay(&call).await.status, 200);
    api.wait_for_status(&call, "DISPATCHED").await;
    assert_eq!(api.catch(&call, driver).await.status, 200);
    api.drive_home(&call, driver).await;
    call
}

/// Every file of the SQLite database at `path` (with its write-ahead log), as bytes.
fn database_bytes(path: &std::path::Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for suffix in ["", "-wal"] {
        let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        if let Ok(mut read) = std::fs::read(&file) {
            bytes.append(&mut read);
        }
    }
    assert!(!bytes.is_empty(), "{} holds something", path.display());
    bytes
}

fn holds(bytes: &[u8], text: &str) -> bool {
    bytes.windows(text.len()).any(|w| w == text.as_bytes())
}

#[tokio::test]
async fn the_temporal_database_holds_no_number_or_place_of_a_call() {
    let api = Api::default_limits();
    let call = completed_call(&api, "p-1").await;

    let temporal = database_bytes(&env().temporal_db);
    for secret in [DIGITS, MOBILE, PICKUP, DESTINATION] {
        assert!(
            !holds(&temporal, secret),
            "the server's database holds {secret:?}"
        );
    }
    // The call is there, found by its id and by the hash of its number.
    assert!(holds(&temporal, &call.call_id.to_string()));
    assert!(holds(&temporal, &mobile_hash(MOBILE)));
    // The scan finds what is there: the dashboard's own database keeps the number and places.
    let dashboard = database_bytes(&env().workers.stores.data_dir.join("dashboard.db"));
    assert!(holds(&dashboard, DIGITS) && holds(&dashboard, PICKUP));
}

#[tokio::test]
async fn the_cli_shows_ciphertext_and_with_the_codec_server_and_an_operator_the_call() {
    let api = Api::default_limits();
    let call = completed_call(&api, "p-2").await;
    let workflow_id = format!("call-{}", call.call_id);
    let show = [
        "workflow",
        "show",
        "--workflow-id",
        &workflow_id,
        "--output",
        "json",
    ];

    // Without the codec the payloads are ciphertext; with it, and an operator's token, the
    // workflow's input is the call (the CLI's JSON keeps each payload's data in base64).
    let plain = temporal(&show);
    assert!(
        plain.contains("YmluYXJ5L2VuY3J5cHRlZA=="),
        "encrypted payloads: {plain}"
    );
    let seen = payload_texts(&plain);
    assert!(
        !seen
            .iter()
            .any(|t| t.contains(DIGITS) || t.contains(PICKUP)),
        "{seen:?}"
    );

    let token = api.as_operator().token().await.expect("an operator token");
    let codec = format!("{}/codec", api.base);
    let auth = format!("Bearer {token}");
    let mut decoded = show.to_vec();
    decoded.extend(["--codec-endpoint", &codec, "--codec-auth", &auth]);
    let opened = payload_texts(&temporal(&decoded));
    assert!(
        opened
            .iter()
            .any(|t| t.contains(DIGITS) && t.contains(PICKUP)),
        "the operator sees the number and the pickup: {opened:?}"
    );
}

/// The data of every payload in the CLI's JSON output, decoded from base64 (lossily).
fn payload_texts(output: &str) -> Vec<String> {
    use base64::Engine as _;
    fn walk(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(fields) => {
                if let Some(Value::String(data)) = fields.get("data")
                    && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(data)
                {
                    found.push(String::from_utf8_lossy(&bytes).into_owned());
                }
                fields.values().for_each(|v| walk(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, found)),
            _ => {}
        }
    }
    let json: Value = serde_json::from_str(output).expect("the CLI's JSON");
    let mut found = Vec::new();
    walk(&json, &mut found);
    assert!(!found.is_empty(), "payloads in {output}");
    found
}

fn payloads(texts: &[&str]) -> Value {
    use base64::Engine as _;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let payloads: Vec<Value> = texts
        .iter()
        .map(|text| json!({"metadata": {"encoding": b64(b"json/plain")}, "data": b64(text.as_bytes())}))
        .collect();
    json!({ "payloads": payloads })
}

#[tokio::test]
async fn the_codec_server_opens_payloads_for_operators_alone() {
    let api = Api::default_limits();
    let plain = payloads(&[r#""01048931465""#, r#"{"location":"Yeoksam"}"#]);

    let anonymous = api
        .anonymous()
        .send(Method::POST, "/codec/encode", Some(plain.clone()))
        .await;
    assert_eq!(anonymous.status, 401, "{:?}", anonymous.body);
    let customer = api.as_customer(MOBILE);
    let refused = customer
        .send(Method::POST, "/codec/decode", Some(plain.clone()))
        .await;
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    let driver = api
        .as_driver("p-1")
        .send(Method::POST, "/codec/encode", Some(plain.clone()))
        .await;
    assert_eq!(driver.status, 403);

    let operator = api.as_operator();
    let sealed = operator
        .send(Method::POST, "/codec/encode", Some(plain.clone()))
        .await;
    assert_eq!(sealed.status, 200, "{:?}", sealed.body);
    let first = &sealed.body["payloads"][0];
    assert_ne!(first["data"], plain["payloads"][0]["data"]);
    assert_eq!(first["metadata"]["encoding"], "YmluYXJ5L2VuY3J5cHRlZA==");
    let opened = operator
        .send(Method::POST, "/codec/decode", Some(sealed.body))
        .await;
    assert_eq!(opened.status, 200, "{:?}", opened.body);
    assert_eq!(opened.body, plain, "decode undoes encode");
    // A plain payload passes through; a payload that is not base64 is the client's to fix.
    let through = operator
        .send(Method::POST, "/codec/decode", Some(plain.clone()))
        .await;
    assert_eq!(through.body, plain);
    let broken = json!({"payloads": [{"metadata": {}, "data": "not base64!"}]});
    let bad = operator
        .send(Method::POST, "/codec/decode", Some(broken))
        .await;
    assert_eq!(bad.status, 422, "{:?}", bad.body);
}

#[tokio::test]
async fn the_web_ui_origin_may_call_the_codec_routes_and_nothing_else() {
    let http = reqwest::Client::new();
    let preflight = |path: &str, origin: &str| {
        http.request(Method::OPTIONS, format!("{}{path}", env().api))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type,x-namespace")
            .send()
    };
    let ui = "http://localhost:8233";
    let allowed = preflight("/codec/decode", ui).await.expect("preflight");
    let headers = allowed.headers();
    assert_eq!(headers["access-control-allow-origin"], ui);
    assert_eq!(headers["access-control-allow-credentials"], "true");
    for (path, origin) in [("/codec/decode", "http://evil.example"), ("/calls", ui)] {
        let answer = preflight(path, origin).await.expect("preflight");
        assert!(
            !answer.headers().contains_key("access-control-allow-origin"),
            "{origin} may not call {path}"
        );
    }
}

#[tokio::test]
async fn visibility_finds_a_customers_calls_by_the_hash_of_the_number_never_the_number() {
    let api = Api::default_limits();
    let mobile = "010-7733-2211";
    let call = api.create_call_for(mobile, "Mapo Hapjeong", 12000).await;
    let id = call.call_id.to_string();
    let by = |value: &str| {
        temporal(&[
            "workflow",
            "list",
            "--query",
            &format!("CustomerMobile=\"{value}\""),
            "--output",
            "json",
        ])
    };
    let hash = mobile_hash(mobile);
    assert_eq!(hash.len(), 64);
    driver_call_tests::eventually(std::time::Duration::from_secs(10), "listed by hash", || {
        let listed = by(&hash).contains(&id);
        async move { listed.then_some(()) }
    })
    .await;
    assert!(!by("01077332211").contains(&id));
    // The console's search by number computes the hash, and shows the number from the read model.
    let operator = api.as_operator();
    let found = driver_call_tests::eventually(
        std::time::Duration::from_secs(10),
        "found by the console",
        || async {
            let answer = operator
                .send(Method::GET, "/calls?mobile=010-7733-2211", None)
                .await;
            let calls = answer.body.as_array().cloned().unwrap_or_default();
            calls
                .into_iter()
                .find(|c| c["callId"] == id.as_str() && c["mobile"] == "01077332211")
        },
    )
    .await;
    assert_eq!(found["location"], "Mapo Hapjeong");
}

#[tokio::test]
async fn the_web_ui_shows_a_call_decoded_to_a_signed_in_operator_and_encrypted_to_anyone_else() {
    // The embedded default as `scripts/up` runs it: the Web UI's codec endpoint is the API's,
    // and the payload keys are generated under its DATA_DIR.
    let supervised = driver_call_tests::supervisor::Supervised::start("web-ui-codec").await;
    assert!(
        supervised.dir.join("payload-keys").is_file(),
        "the embedded default keeps its payload key"
    );
    let web = driver_call_tests::workspace_root().join("web");
    let status = std::process::Command::new("node")
        .args(["--test", "--test-reporter=spec", "e2e/codec.test.mjs"])
        .current_dir(&web)
        .env("API_URL", &supervised.api_url)
        .env("TEMPORAL_UI_URL", &supervised.ui_url)
        .env("OPERATOR_PASSWORD", driver_call_tests::OPERATOR_PASSWORD)
        .env(
            "SCREENSHOT_DIR",
            driver_call_tests::workspace_root().join("target/app-screenshots"),
        )
        .status()
        .expect("node runs");
    assert!(
        status.success(),
        "the Web UI journey failed (logs: {})",
        supervised.dir.join("supervise.log").display()
    );
}

/// Two payload keys of the rotation drill: `rot-a` before, `rot-b` after (with `rot-a` kept).
const KEY_A: &str = "rot-a:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const KEY_B: &str = "rot-b:a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

/// How many of the call's history payloads each key sealed, and whether every payload opens
/// with `keys`.
async fn sealed_by(
    client: &temporalio_client::Client,
    call: &CallView,
) -> std::collections::BTreeMap<String, usize> {
    use driver_call_runtime::codec::{KEY_ID_KEY, is_encrypted};
    use driver_call_workflows::DriverCallWorkflow;
    use futures::StreamExt as _;
    use temporalio_client::NamespacedClient as _;
    use temporalio_common::data_converters::SerializationContextData;
    use temporalio_common::payload_visitor::{
        AsyncPayloadVisitor, PayloadField, PayloadFieldData, decode_payloads,
    };

    /// Counts the key id of every sealed payload it visits.
    #[derive(Default)]
    struct KeyIds(std::collections::BTreeMap<String, usize>);
    impl AsyncPayloadVisitor for KeyIds {
        fn visit<'a>(
            &'a mut self,
            field: PayloadField<'a>,
        ) -> futures::future::BoxFuture<
            'a,
            Result<(), temporalio_common::data_converters::PayloadConversionError>,
        > {
            let payloads: Vec<_> = match field.data {
                PayloadFieldData::Single(p) => vec![p.clone()],
                PayloadFieldData::Repeated(ps) => ps.clone(),
                PayloadFieldData::Payloads(ps) => ps.payloads.clone(),
            };
            for payload in payloads.iter().filter(|p| is_encrypted(p)) {
                let id = String::from_utf8_lossy(&payload.metadata[KEY_ID_KEY]).into_owned();
                *self.0.entry(id).or_default() += 1;
            }
            Box::pin(async { Ok(()) })
        }
    }

    let handle = client
        .get_workflow_handle::<DriverCallWorkflow>(DriverCallWorkflow::workflow_id(&call.call_id));
    let mut history = handle.fetch_history(Default::default());
    let mut ids = KeyIds::default();
    while let Some(event) = history.next().await {
        let mut event = event.expect("a history event");
        use temporalio_common::payload_visitor::PayloadVisitable as _;
        event.visit_payloads_mut(&mut ids).await.expect("visited");
        let codec = client.data_converter().codec();
        decode_payloads(&mut event, codec, &SerializationContextData::None)
            .await
            .expect("every payload of the history opens with the keys");
    }
    ids.0
}

#[tokio::test]
async fn payload_keys_rotate_while_calls_are_open_and_every_call_finishes() {
    use driver_call_tests::drill::{Drill, DrillOptions};
    use driver_call_workflows::contracts::payment::PaymentStatus;

    // Logged at debug, so a number in any request or task would show (docs/privacy.md, Logs).
    let options = DrillOptions {
        api_env: vec![
            ("PAYLOAD_KEYS", KEY_A.to_owned()),
            ("RUST_LOG", "debug".to_owned()),
        ],
        ..DrillOptions::default()
    };
    let mut drill = Drill::start("key-rotation", options).await;
    let mut worker = drill
        .worker(
            "caller,payment,catcher,dashboard",
            &[("PAYLOAD_KEYS", KEY_A), ("RUST_LOG", "debug")],
        )
        .await;
    let api = drill.api.clone();

    // Under key A: a call made and not paid, and one paid and caught.
    let unpaid = api.create_call("Kangnam station exit 5", 15000).await;
    let caught = api.create_call("Kangnam station exit 6", 16000).await;
    assert_eq!(api.pay(&caught).await.status, 200);
    api.wait_for_status(&caught, "DISPATCHED").await;
    assert_eq!(api.catch(&caught, "r-1").await.status, 200);

    // Rotation: B first, A kept; every process restarted with them.
    let rotated = format!("{KEY_B},{KEY_A}");
    worker.terminate(std::time::Duration::from_secs(30)).await;
    drill
        .api_process
        .terminate(std::time::Duration::from_secs(30))
        .await;
    for process in [&mut worker, &mut drill.api_process] {
        process.set_env("PAYLOAD_KEYS", &rotated);
        process.restart().await;
    }

    // Both calls finish; a new one is sealed with B alone.
    assert_eq!(api.pay(&unpaid).await.status, 200);
    api.wait_for_status(&unpaid, "DISPATCHED").await;
    assert_eq!(api.catch(&unpaid, "r-2").await.status, 200);
    for (call, driver) in [(&caught, "r-1"), (&unpaid, "r-2")] {
        api.drive_home(call, driver).await;
        assert_eq!(drill.payments_with(call, PaymentStatus::Approved).await, 1);
    }
    let fresh = api.create_call("Kangnam station exit 7", 17000).await;

    let keys = driver_call_runtime::PayloadKeys::parse(&rotated).expect("keys");
    let client = driver_call_tests::connect_with(&drill.temporal_address(), &keys)
        .await
        .expect("client");
    let both = sealed_by(&client, &caught).await;
    assert!(both.get("rot-a").is_some_and(|n| *n > 0), "{both:?}");
    assert!(both.get("rot-b").is_some_and(|n| *n > 0), "{both:?}");
    let new = sealed_by(&client, &fresh).await;
    assert!(
        new.get("rot-b").is_some_and(|n| *n > 0) && !new.contains_key("rot-a"),
        "{new:?}"
    );
    // No log line of the API or the worker holds the customer's number (`create_call`'s), even
    // with the console's search by it asked for.
    let search = api
        .send(reqwest::Method::GET, "/calls?mobile=010-1234-5678", None)
        .await;
    assert_eq!(search.status, 200);
    for entry in std::fs::read_dir(&drill.dir).expect("the drill's directory") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "log") {
            let log = std::fs::read_to_string(&path).expect("a log");
            assert!(
                !log.is_empty() || !path.ends_with("api.log"),
                "the API logs"
            );
            for number in ["01012345678", "010-1234-5678"] {
                assert!(!log.contains(number), "{} holds {number}", path.display());
            }
        }
    }
    // A process with key A alone cannot open what B sealed.
    let old = driver_call_runtime::PayloadKeys::parse(KEY_A).expect("key");
    let sealed_b = keys.encrypt(Default::default());
    assert!(old.decrypt(sealed_b).is_err());
}
