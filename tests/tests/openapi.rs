//! The API's OpenAPI description (spec section 10), against the live API: `GET /openapi.json`
//! describes every route the API serves, `/docs` is a reference served from the binary alone, and
//! schemathesis (installed into `.venv` by `scripts/setup`) finds no server error and no answer
//! that disagrees with the document.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use driver_call_api::{DOCS_PATH, OPENAPI_PATH};
use driver_call_tests::{Api, env, scratch_dir, workspace_root};
use reqwest::Method;
use serde_json::Value;

/// Every operation the API serves (besides `/openapi.json` and `/docs`, which serve the
/// description itself). A route added to the API without being added here, or the other way
/// round, fails `the_document_is_openapi_3_1_and_describes_every_route_the_api_serves`.
const OPERATIONS: [(&str, &str); 39] = [
    ("POST", "/calls"),
    ("POST", "/quotes"),
    ("GET", "/places"),
    ("GET", "/calls/{call_id}"),
    ("DELETE", "/calls/{call_id}"),
    ("POST", "/calls/{call_id}/pay"),
    ("POST", "/calls/{call_id}/cancel"),
    ("GET", "/calls/{call_id}/events"),
    ("GET", "/catches"),
    ("POST", "/catches/{call_id}"),
    ("POST", "/catches/{call_id}/deny"),
    ("POST", "/catches/{call_id}/assign"),
    ("POST", "/catches/{call_id}/arrive"),
    ("POST", "/catches/{call_id}/start"),
    ("POST", "/catches/{call_id}/complete"),
    ("POST", "/catches/{call_id}/no-show"),
    ("GET", "/payments"),
    ("GET", "/payments/{payment_id}"),
    ("GET", "/dashboards"),
    ("GET", "/dashboards/myPage/{call_id}"),
    ("GET", "/dashboards/events"),
    ("POST", "/auth/otp"),
    ("POST", "/auth/token"),
    ("GET", "/dev/sms"),
    ("POST", "/drivers"),
    ("GET", "/drivers"),
    ("POST", "/drivers/{username}/disable"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/calls"),
    ("GET", "/catches/events"),
    ("GET", "/dashboards/counts"),
    ("GET", "/drivers/me"),
    ("PUT", "/drivers/me/availability"),
    ("GET", "/drivers/me/earnings"),
    ("GET", "/operations/status"),
    ("POST", "/codec/decode"),
    ("POST", "/codec/encode"),
];

/// The operations that cannot fail with a client error, so list no problem answer.
const PROBES: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// What schemathesis checks of every answer: no 5xx, and a status, content type, headers and
/// body that the document lists for the operation.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
    response_headers_conformance,response_schema_conformance";

/// The event streams never end: schemathesis leaves them out (the document still describes them).
const STREAMS: &str = "/events$";

async fn document(api: &Api) -> Value {
    let answer = api.send(Method::GET, OPENAPI_PATH, None).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    answer.body
}

/// `(method, path, operation)` of every operation in the document.
fn operations(document: &Value) -> Vec<(String, String, &Value)> {
    let paths = document["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            let item = item.as_object().expect("a path item");
            item.iter()
                .filter(|(method, _)| !matches!(method.as_str(), "parameters" | "summary"))
                .map(move |(method, operation)| (method.to_uppercase(), path.clone(), operation))
        })
        .collect()
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_describes_every_route_the_api_serves() {
    let api = Api::at(&env().api);
    let document = document(&api).await;

    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1.")),
        "not OpenAPI 3.1: {}",
        document["openapi"]
    );
    let described: BTreeSet<(String, String)> = operations(&document)
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();
    let expected: BTreeSet<(String, String)> = OPERATIONS
        .iter()
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .collect();
    assert_eq!(described, expected);

    // Each described operation is routed: it answers neither 405 nor the fallback's 404.
    let id = uuid::Uuid::new_v4().to_string();
    let http = reqwest::Client::new();
    for (method, path) in &described {
        let url = format!(
            "{}{}",
            api.base,
            path.replace("{call_id}", &id)
                .replace("{payment_id}", &id)
                .replace("{username}", "nobody")
        );
        let answer = http
            .request(method.parse().expect("a method"), &url)
            .send()
            .await
            .expect("the API answers");
        let status = answer.status().as_u16();
        // Headers only: an event stream answers 200 and then never ends.
        let problem = if status == 404 {
            answer.json::<Value>().await.unwrap_or_default()
        } else {
            Value::Null
        };
        assert_ne!(status, 405, "{method} {path} is not routed");
        assert_ne!(
            problem["detail"], "no such route",
            "{method} {path} is not routed"
        );
    }
}

#[tokio::test]
async fn every_operation_that_can_fail_lists_its_problem_answers() {
    let api = Api::at(&env().api);
    let document = document(&api).await;

    for (method, path, operation) in operations(&document) {
        let responses = operation["responses"].as_object().expect("responses");
        let problems: Vec<&String> = responses
            .iter()
            .filter(|(status, response)| {
                status.starts_with('4')
                    && response["content"]["application/problem+json"]["schema"]["$ref"]
                        == "#/components/schemas/Problem"
            })
            .map(|(status, _)| status)
            .collect();
        if PROBES.contains(&path.as_str()) {
            assert!(problems.is_empty(), "{method} {path}: {problems:?}");
        } else {
            assert!(
                !problems.is_empty(),
                "{method} {path} lists no 4xx problem answer: {:?}",
                responses.keys().collect::<Vec<_>>()
            );
        }
    }
    let problem = &document["components"]["schemas"]["Problem"];
    let fields: BTreeSet<&str> = problem["properties"]
        .as_object()
        .expect("the problem's fields")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        BTreeSet::from(["type", "title", "status", "detail"])
    );
}

#[tokio::test]
async fn the_reference_at_docs_is_served_from_the_binary_alone() {
    let base = &env().api;
    let http = reqwest::Client::new();
    let page = http
        .get(format!("{base}{DOCS_PATH}"))
        .send()
        .await
        .expect("the API answers");
    assert_eq!(page.status(), 200);
    let content_type = page.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let page_url = page.url().clone();
    let html = page.text().await.unwrap();

    // Every script and style the page loads is the API's own, and is there.
    let assets = linked(&html);
    assert!(!assets.is_empty(), "the page loads nothing: {html}");
    for asset in assets {
        assert!(
            !asset.contains("//") && !asset.contains(':'),
            "{asset} is not served by the API"
        );
        let answer = http
            .get(page_url.join(&asset).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{asset}");
    }
    // The page's configuration names the API's own document and no other server.
    let initializer = http
        .get(page_url.join("swagger-initializer.js").unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(initializer.contains(OPENAPI_PATH), "{initializer}");
    for text in [&html, &initializer] {
        let lowered = text.to_lowercase();
        assert!(
            !lowered.contains("cdn") && !lowered.contains("https://"),
            "{text}"
        );
    }
}

/// The `src` and `href` attributes of an HTML page.
fn linked(html: &str) -> Vec<String> {
    ["src=\"", "href=\""]
        .iter()
        .flat_map(|attribute| {
            html.split(attribute)
                .skip(1)
                .filter_map(|rest| rest.split('"').next())
                .map(str::to_owned)
        })
        .collect()
}

/// schemathesis in the project's `.venv` (`scripts/setup` installs it).
fn schemathesis() -> PathBuf {
    let path = workspace_root().join(".venv/bin/schemathesis");
    assert!(
        path.is_file(),
        "{} is missing: run scripts/setup",
        path.display()
    );
    path
}

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_answer_the_document_does_not_describe() {
    let base = &env().api;
    // Signed in as a customer: what a customer may do is exercised to the end, and what they may
    // not is answered 403 or 404 as the document says.
    let token = Api::at(base)
        .as_customer(&driver_call_tests::unique_mobile())
        .token()
        .await
        .expect("a customer's token");
    let scratch = scratch_dir("schemathesis").unwrap();
    let mut command = Command::new(schemathesis());
    command
        .current_dir(&scratch)
        .args(["run", &format!("{base}{OPENAPI_PATH}"), "--url", base])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--checks", CHECKS])
        .args(["--exclude-path-regex", STREAMS])
        .args(["--max-examples", "50", "--seed", "1"])
        // One worker: hypothesis' source inspection is not thread-safe on CPython 3.11 ("AST
        // constructor recursion depth mismatch" from concurrent `ast.parse`). A cancel or deny
        // makes three Temporal calls, each retried for up to TEMPORAL_RETRY_DEADLINE (15 s
        // here) while Temporal is slow: on a loaded machine an answer may take that long.
        .args(["--workers", "1", "--request-timeout", "60"])
        .args(["--generation-database", "none", "--no-color"]);
    let started = Instant::now();
    let (status, output) = run_for_at_most(command, &scratch, Duration::from_secs(300));
    let summary = output
        .find("SUMMARY")
        .map_or(&output[..], |start| &output[start..]);
    println!("schemathesis ({:.0?}):\n{summary}", started.elapsed());
    assert!(
        status.success(),
        "schemathesis failed ({status}):\n{output}"
    );
}

/// Runs `command` to its end, killing it after `limit`; its exit status and its output (stdout,
/// then stderr, kept in files in `scratch` so that a long output never blocks it).
fn run_for_at_most(
    mut command: Command,
    scratch: &std::path::Path,
    limit: Duration,
) -> (std::process::ExitStatus, String) {
    let (out, err) = (scratch.join("stdout"), scratch.join("stderr"));
    command
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    let mut child = command.spawn().expect("the command starts");
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("the command runs") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break child.wait().expect("the command ends");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let read = |path| std::fs::read_to_string(path).unwrap_or_default();
    (status, format!("{}{}", read(&out), read(&err)))
}
