//! The end-to-end harness: a real Temporal dev server started by the tests themselves, every
//! context's worker and the real HTTP API on loopback ports, and helpers that poll with a deadline.
//!
//! One environment serves every test of a test binary (calls are independent, each has its own
//! id); it lives on its own thread and runtime so that each `#[tokio::test]` can use it.

pub mod bench;
pub mod dev_server;
pub mod drill;
pub mod replay;
mod session;
pub mod sse;
pub mod supervisor;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use driver_call_api::fares::{FareConfig, Fares};
use driver_call_api::identity::{Identity, IdentityConfig};
use driver_call_api::privacy::{Privacy, PrivacyConfig};
use driver_call_api::{ApiConfig, AppState};
use driver_call_runtime::{Compression, PayloadKeys, TemporalConfig};
use driver_call_stores::catcher::CatchRecord;
use driver_call_stores::{CatcherStore, DashboardStore, PaymentStore};
use driver_call_worker::{Context, WorkerConfig};
use driver_call_workflows::contracts::catcher::CatchStatus;
use driver_call_workflows::contracts::payment::PaymentStatus;
use driver_call_workflows::domain::{CallView, MobileNumber, TimelineEvent};
use secrecy::SecretString;
use serde_json::{Value, json};
use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions, Url};

pub use dev_server::DevServer;
pub use session::{DRIVER_AREAS, OPERATOR_PASSWORD, OPERATOR_USERNAME, Person, driver_password};

/// `PAYMENT_WINDOW` and `DISPATCH_TIMEOUT` of the environment's second API, for expiry tests.
pub const SHORT_WINDOW: Duration = Duration::from_secs(3);

/// `CANCEL_GRACE` and `NO_SHOW_WAIT` of the environment's second API, for the fee tests.
pub const SHORT_GRACE: Duration = Duration::from_secs(2);

/// `OFFER_WINDOW` of the environment's dispatch API, for the widening tests (the other two APIs
/// widen after an hour, so no other test's timeline sees a widening).
pub const SHORT_OFFER_WINDOW: Duration = Duration::from_secs(3);

/// `DISPATCH_TIMEOUT` of the environment's dispatch API: room for both widenings, then expiry.
pub const DISPATCH_API_TIMEOUT: Duration = Duration::from_secs(12);

/// `PRESENCE_TIMEOUT` of the environment's dispatch API (the other two: an hour, so the tests'
/// drivers, signed in once per test binary, stay present however long it runs).
pub const SHORT_PRESENCE: Duration = Duration::from_secs(4);

/// `OFFER_WINDOW` and `PRESENCE_TIMEOUT` of the environment's other APIs.
const LONG: Duration = Duration::from_secs(3600);

/// The timeline of a call that ends in a finished trip (spec section 3).
pub const COMPLETED_TIMELINE: [&str; 8] = [
    "CallMade",
    "PaymentApproved",
    "CallPayed",
    "CallReceived",
    "CallCaught",
    "DriverArrived",
    "TripStarted",
    "TripCompleted",
];

/// What a test binary's environment runs.
#[derive(Debug, Clone, Default)]
pub struct EnvOptions {
    /// Leave the dashboard context out (the test starts it with `start_dashboard_worker`).
    pub without_dashboard: bool,
    /// `NOTIFY_WEBHOOK_URL` of the dashboard worker.
    pub webhook_url: Option<String>,
}

/// The shared environment: one dev server, one worker process-equivalent, two APIs.
pub struct TestEnv {
    /// The dev server's gRPC address (`127.0.0.1:port`).
    pub temporal_address: String,
    /// Base URL of the API with the spec's default time limits.
    pub api: String,
    /// Base URL of an API whose calls get `SHORT_WINDOW` limits.
    pub short_api: String,
    /// Base URL of an API with `SHORT_OFFER_WINDOW` and `SHORT_PRESENCE`.
    pub dispatch_api: String,
    /// The payment database URL.
    pub payment_db: String,
    /// The catcher database URL.
    pub catcher_db: String,
    /// The dashboard database URL.
    pub dashboard_db: String,
    /// The dev server's SQLite database (its write-ahead log beside it).
    pub temporal_db: PathBuf,
    /// The workers' configuration.
    pub workers: WorkerConfig,
    server: Arc<Mutex<Option<DevServer>>>,
}

static ENV: OnceLock<TestEnv> = OnceLock::new();

/// The environment with every context, started on first use.
pub fn env() -> &'static TestEnv {
    env_with(EnvOptions::default())
}

/// The environment, started on first use with `options` (every test of a binary passes the same).
pub fn env_with(options: EnvOptions) -> &'static TestEnv {
    ENV.get_or_init(|| start_env(options).expect("the test environment failed to start"))
}

impl TestEnv {
    /// Kills the Temporal dev server (like `kill -9`); the APIs keep running.
    pub fn kill_server(&self) {
        if let Some(mut server) = self.server.lock().expect("server lock").take() {
            server.kill();
        }
    }

    /// Starts a dashboard worker on its own thread; it runs until stopped.
    pub fn start_dashboard_worker(&self) -> WorkerHandle {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let address = self.temporal_address.clone();
        let workers = self.workers.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let client = connect(&address).await.expect("client");
                let shutdown = async {
                    let _ = stopped.await;
                };
                driver_call_worker::run(client, &workers, &[Context::Dashboard], shutdown)
                    .await
                    .expect("the dashboard worker ran");
            });
        });
        WorkerHandle { stop, thread }
    }
}

/// A worker started by a test.
pub struct WorkerHandle {
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl WorkerHandle {
    /// Shuts the worker down gracefully and waits for it.
    pub fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

fn start_env(options: EnvOptions) -> anyhow::Result<TestEnv> {
    if std::env::var_os("TEST_LOG").is_some() {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
    }
    let data_dir = scratch_dir("e2e")?;
    let mut workers = WorkerConfig::under(data_dir.clone());
    workers.dashboard.notify_webhook_url = options.webhook_url.clone();
    workers.graceful_shutdown = Duration::from_secs(5);
    let contexts: Vec<Context> = Context::ALL
        .into_iter()
        .filter(|c| !(options.without_dashboard && *c == Context::Dashboard))
        .collect();
    let port = dev_server::free_port()?;
    let api_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let short_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let dispatch_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let server = Arc::new(Mutex::new(None));
    let env = TestEnv {
        temporal_address: format!("127.0.0.1:{port}"),
        api: format!("http://{}", api_listener.local_addr()?),
        short_api: format!("http://{}", short_listener.local_addr()?),
        dispatch_api: format!("http://{}", dispatch_listener.local_addr()?),
        payment_db: workers.stores.payment_database_url(),
        catcher_db: workers.stores.catcher_database_url(),
        dashboard_db: workers.stores.dashboard_database_url(),
        temporal_db: data_dir.join("temporal.db"),
        workers: workers.clone(),
        server: server.clone(),
    };
    let address = env.temporal_address.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    // This thread lives as long as the test binary, and so do the server and workers it starts.
    std::thread::spawn(move || {
        match DevServer::start_on(&data_dir.join("temporal.db"), port) {
            Ok(started) => *server.lock().expect("server lock") = Some(started),
            Err(e) => {
                let _ = ready_tx.send(Err(format!("{e:#}")));
                return;
            }
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let result = runtime.block_on(serve_everything(
            address,
            workers,
            contexts,
            [api_listener, short_listener, dispatch_listener],
            ready_tx.clone(),
        ));
        let _ = ready_tx.send(result.map_err(|e| format!("{e:#}")));
        // Keep the thread (and so the server) alive after a worker error; the test reports it.
        std::thread::park();
    });
    match ready_rx.recv_timeout(Duration::from_secs(120)) {
        Ok(Ok(())) => {
            let mut required = vec!["temporal", "paymentStore", "catcherStore"];
            if !options.without_dashboard {
                required.push("dashboardStore");
            }
            wait_until_api_ready(&env.api, &required)?;
            Ok(env)
        }
        Ok(Err(e)) => bail!("environment failed: {e}"),
        Err(_) => bail!("environment did not start within 120 s"),
    }
}

/// Waits until the API's `/readyz` reports the `required` checks true: the workers own their
/// databases, so the API reads them only once each has migrated its own.
/// (On its own thread: the environment starts inside a test's runtime.)
fn wait_until_api_ready(api: &str, required: &[&'static str]) -> anyhow::Result<()> {
    let url = format!("{api}/readyz");
    let required = required.to_vec();
    let waiting = std::thread::spawn(move || -> anyhow::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(eventually(
            Duration::from_secs(60),
            "the API's stores to be ready",
            || async {
                let body: Value = reqwest::get(&url).await.ok()?.json().await.ok()?;
                required
                    .iter()
                    .all(|check| body[*check] == Value::Bool(true))
                    .then_some(())
            },
        ));
        Ok(())
    });
    waiting
        .join()
        .map_err(|_| anyhow::anyhow!("the API never became ready"))?
}

async fn serve_everything(
    address: String,
    workers: WorkerConfig,
    contexts: Vec<Context>,
    [api_listener, short_listener, dispatch_listener]: [std::net::TcpListener; 3],
    ready: std::sync::mpsc::Sender<Result<(), String>>,
) -> anyhow::Result<()> {
    let client = connect(&address).await?;
    let identity_config = identity_config();
    let (identity, _) = Identity::build(&identity_config, &workers.stores).await?;
    let fare_config = FareConfig {
        fare_table: None,
        min_pay_amount: workers.payment.min_pay_amount,
    };
    let fares = Fares::open(&fare_config, &workers.stores.quote_database_url()).await?;
    let apis = [
        (api_listener, None, false),
        (short_listener, Some(SHORT_WINDOW), false),
        (dispatch_listener, None, true),
    ];
    for (listener, window, dispatch) in apis {
        let mut config = ApiConfig {
            api_addr: listener.local_addr()?,
            payment_window: Duration::from_secs(600),
            dispatch_timeout: Duration::from_secs(600),
            temporal_retry_deadline: Duration::from_secs(15),
            web_dir: workspace_root().join("web").join("dist"),
            temporal_ui_url: "http://localhost:8233".to_owned(),
            cancel_grace: Duration::from_secs(120),
            cancel_fee: 5000,
            no_show_wait: Duration::from_secs(600),
            offer_window: if dispatch { SHORT_OFFER_WINDOW } else { LONG },
            presence_timeout: if dispatch { SHORT_PRESENCE } else { LONG },
            temporal: TemporalConfig {
                temporal_address: address.clone(),
                temporal_namespace: "default".to_owned(),
                temporal_grpc_compression: Compression::None,
                payload_keys: Some(SecretString::from(TEST_PAYLOAD_KEYS.to_owned())),
            },
            stores: workers.stores.clone(),
            identity: identity_config.clone(),
            fares: fare_config.clone(),
            privacy: PrivacyConfig {
                mobile_hash_key: Some(SecretString::from(TEST_MOBILE_HASH_KEY.to_owned())),
            },
        };
        if dispatch {
            config.dispatch_timeout = DISPATCH_API_TIMEOUT;
        }
        if let Some(window) = window {
            config.payment_window = window;
            config.dispatch_timeout = window;
            config.cancel_grace = SHORT_GRACE;
            config.no_show_wait = SHORT_GRACE;
        }
        let privacy = Privacy::load(&config.temporal, &config.privacy, &workers.stores.data_dir)?;
        let state = AppState::build(
            &config,
            client.clone(),
            identity.clone(),
            fares.clone(),
            privacy,
        )?;
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let app = driver_call_api::app(state)
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, app).await });
    }
    let _ = ready.send(Ok(()));
    driver_call_worker::run(client, &workers, &contexts, std::future::pending()).await
}

/// The identity settings of the environment's APIs: a fixed key, the development outbox, and
/// the operator `ops` with [`OPERATOR_PASSWORD`].
fn identity_config() -> IdentityConfig {
    IdentityConfig {
        auth_signing_key: Some(SecretString::from(
            "a signing key for the tests, 32 bytes or more".to_owned(),
        )),
        auth_token_ttl: Duration::from_secs(3600),
        sms_sender: "outbox".to_owned(),
        operator_username: OPERATOR_USERNAME.to_owned(),
        operator_password: Some(SecretString::from(OPERATOR_PASSWORD.to_owned())),
    }
}

/// A new, empty PostgreSQL database's URL, on the server `TEST_POSTGRES_URL` names (the
/// machine's own by default), for a test that must have a database nobody else uses.
pub async fn fresh_postgres() -> String {
    use sqlx::Connection;
    let admin = std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let name = format!("dc_{}", uuid::Uuid::new_v4().simple());
    let mut connection = sqlx::PgConnection::connect(&admin)
        .await
        .expect("PostgreSQL at TEST_POSTGRES_URL answers");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut connection)
        .await
        .expect("database created");
    let base = admin.rsplit_once('/').expect("a database in the URL").0;
    format!("{base}/{name}")
}

/// A Temporal client on `address` with the tests' payload keys. A dev server that has just
/// opened its port may still answer "Frontend is not healthy yet" for a moment: that is tried
/// again for up to 30 s.
pub async fn connect(address: &str) -> anyhow::Result<Client> {
    connect_with(address, &test_payload_keys()).await
}

/// A Temporal client on `address` whose payloads are sealed and opened with `keys`.
pub async fn connect_with(address: &str, keys: &PayloadKeys) -> anyhow::Result<Client> {
    let url = Url::parse(&format!("http://{address}"))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let connection = loop {
        match Connection::connect(ConnectionOptions::new(url.clone()).build()).await {
            Ok(connection) => break connection,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => return Err(error).context("Failed to connect to the dev server"),
        }
    };
    let options = ClientOptions::new("default")
        .data_converter(keys.data_converter())
        .build();
    Ok(Client::new(connection, options)?)
}

/// The payload keys of every Temporal client, worker and API of the tests; the binaries they
/// start get them as `PAYLOAD_KEYS` ([`drill`]), so the tests read what the binaries write.
pub const TEST_PAYLOAD_KEYS: &str =
    "test-a:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
/// The numbers' hash key of the tests' APIs (`MOBILE_HASH_KEY` of the binaries they start).
pub const TEST_MOBILE_HASH_KEY: &str = "a number hash key for the tests, 32 bytes or more";

/// [`TEST_PAYLOAD_KEYS`], parsed.
pub fn test_payload_keys() -> PayloadKeys {
    PayloadKeys::parse(TEST_PAYLOAD_KEYS).expect("the tests' payload keys parse")
}

/// What `CustomerMobile` holds of `mobile` in the tests' calls.
pub fn mobile_hash(mobile: &str) -> String {
    let numbers = driver_call_api::privacy::NumberHash::new(TEST_MOBILE_HASH_KEY.as_bytes())
        .expect("the tests' hash key is long enough");
    numbers.of(&MobileNumber::parse(mobile).expect("a mobile number"))
}

/// A fresh directory under the target directory (kept after the run for inspection).
pub fn scratch_dir(name: &str) -> anyhow::Result<PathBuf> {
    let dir = workspace_root()
        .join("target")
        .join("test-data")
        .join(format!("{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The repository's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The `temporal` CLI: `$TEMPORAL_CLI`, or the one the project installs in `.venv`.
pub fn temporal_cli() -> PathBuf {
    std::env::var_os("TEMPORAL_CLI")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/temporal"))
}

/// Runs `temporal <args>` against the environment's dev server and namespace, and returns what it
/// printed (the command must succeed).
pub fn temporal(args: &[&str]) -> String {
    let output = std::process::Command::new(temporal_cli())
        .args(args)
        .args([
            "--address",
            &env().temporal_address,
            "--namespace",
            "default",
        ])
        .output()
        .expect("the temporal CLI runs");
    assert!(
        output.status.success(),
        "temporal {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

/// Polls `check` until it returns `Some`, or fails after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An HTTP client for one API, signed in as one [`Person`] (an operator unless told otherwise;
/// the helpers below act as the person each step belongs to).
#[derive(Clone)]
pub struct Api {
    /// The API's base URL.
    pub base: String,
    http: reqwest::Client,
    person: Person,
}

/// What an API call answered.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body as JSON (`Null` when empty or not JSON).
    pub body: Value,
}

impl Answer {
    /// The body as a call view.
    pub fn view(&self) -> CallView {
        serde_json::from_value(self.body.clone())
            .unwrap_or_else(|e| panic!("not a call view ({e}): {}", self.body))
    }
}

impl Api {
    /// The API with the spec's default time limits.
    pub fn default_limits() -> Self {
        Self::at(&env().api)
    }

    /// The API whose calls expire after `SHORT_WINDOW`.
    pub fn short_limits() -> Self {
        Self::at(&env().short_api)
    }

    /// The API with `SHORT_OFFER_WINDOW` and `SHORT_PRESENCE`.
    pub fn dispatch_limits() -> Self {
        Self::at(&env().dispatch_api)
    }

    /// An API at `base`, as its operator.
    pub fn at(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            http: reqwest::Client::new(),
            person: Person::Operator,
        }
    }

    /// The same API, as `person`.
    pub fn as_person(&self, person: Person) -> Self {
        Self {
            person,
            ..self.clone()
        }
    }

    /// The same API, as the customer with `mobile` (signed in with a code from the outbox).
    pub fn as_customer(&self, mobile: &str) -> Self {
        self.as_person(Person::customer(mobile))
    }

    /// The same API, as the driver `username` (registered on first use, serving
    /// [`DRIVER_AREAS`]).
    pub fn as_driver(&self, username: &str) -> Self {
        self.as_person(Person::Driver(username.to_owned()))
    }

    /// Runs the caught call's trip to the end as `driver` (arrive, start, complete), each step
    /// answered 200, and waits until the call is COMPLETED.
    pub async fn drive_home(&self, call: &CallView, driver: &str) {
        for step in ["arrive", "start", "complete"] {
            let answer = self.trip_step(call, step, driver).await;
            assert_eq!(answer.status, 200, "{step}: {:?}", answer.body);
        }
        self.wait_for_status(call, "COMPLETED").await;
    }

    /// The same API, as its operator.
    pub fn as_operator(&self) -> Self {
        self.as_person(Person::Operator)
    }

    /// The same API, signed in as nobody.
    pub fn anonymous(&self) -> Self {
        self.as_person(Person::Anonymous)
    }

    /// Who this client is.
    pub fn person(&self) -> &Person {
        &self.person
    }

    /// This person's access token (signing in on first use).
    pub async fn token(&self) -> Option<String> {
        session::token(&self.http, &self.base, &self.person, false).await
    }

    /// Sends a request as this client's person and reads the answer.
    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Answer {
        self.send_with(method, path, |request| match &body {
            Some(body) => request.json(body),
            None => request,
        })
        .await
    }

    /// Sends a raw body with a content type.
    pub async fn send_raw(&self, path: &str, content_type: &str, body: &'static str) -> Answer {
        let raw = |request: reqwest::RequestBuilder| {
            request.header("content-type", content_type).body(body)
        };
        self.send_with(reqwest::Method::POST, path, raw).await
    }

    /// Sends the request `build` makes, with this person's token, and reads the answer. A token
    /// the API no longer takes (it restarted with a new identity database) is renewed once.
    async fn send_with(
        &self,
        method: reqwest::Method,
        path: &str,
        build: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Answer {
        let mut renew = false;
        loop {
            let token = session::token(&self.http, &self.base, &self.person, renew).await;
            let mut request = self
                .http
                .request(method.clone(), format!("{}{path}", self.base));
            if let Some(token) = &token {
                request = request.bearer_auth(token);
            }
            let response = build(request).send().await.expect("the API answers");
            let answer = Self::read(response).await;
            if answer.status != 401 || token.is_none() || renew {
                return answer;
            }
            renew = true;
        }
    }

    async fn read(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("a body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    /// `POST /calls` with a valid body for `location` and `amount`.
    pub async fn create_call(&self, location: &str, amount: i64) -> CallView {
        self.create_call_for("010-1234-5678", location, amount)
            .await
    }

    /// `POST /calls` as the customer with `mobile`.
    pub async fn create_call_for(&self, mobile: &str, location: &str, amount: i64) -> CallView {
        let answer = self
            .as_customer(mobile)
            .send(
                reqwest::Method::POST,
                "/calls",
                Some(json!({
                    "mobile": mobile,
                    "location": location,
                    "destination": "Home",
                    "payType": "CARD",
                    "payAmount": amount,
                })),
            )
            .await;
        assert_eq!(answer.status, 201, "create call: {:?}", answer.body);
        answer.view()
    }

    /// `POST /calls` with an `Idempotency-Key` header, as the customer the body names.
    pub async fn create_call_with_key(&self, key: &str, body: &Value) -> Answer {
        let mobile = body["mobile"].as_str().expect("a body with a mobile");
        let keyed =
            |request: reqwest::RequestBuilder| request.header("Idempotency-Key", key).json(body);
        let customer = self.as_customer(mobile);
        customer
            .send_with(reqwest::Method::POST, "/calls", keyed)
            .await
    }

    /// `POST /calls/{id}/pay`, as the call's customer.
    pub async fn pay(&self, call: &CallView) -> Answer {
        self.customer_of(call)
            .send(
                reqwest::Method::POST,
                &format!("/calls/{}/pay", call.call_id),
                None,
            )
            .await
    }

    /// `GET /calls/{id}`, as the call's customer.
    pub async fn get_call(&self, call: &CallView) -> CallView {
        let answer = self
            .customer_of(call)
            .send(
                reqwest::Method::GET,
                &format!("/calls/{}", call.call_id),
                None,
            )
            .await;
        assert_eq!(answer.status, 200, "get call: {:?}", answer.body);
        answer.view()
    }

    /// `POST /calls/{id}/cancel`, as the call's customer.
    pub async fn cancel(&self, call: &CallView) -> Answer {
        self.customer_of(call)
            .send(
                reqwest::Method::POST,
                &format!("/calls/{}/cancel", call.call_id),
                Some(json!({"reason": "changed my mind"})),
            )
            .await
    }

    /// `POST /catches/{id}`, as the driver `driver`.
    pub async fn catch(&self, call: &CallView, driver: &str) -> Answer {
        self.as_driver(driver)
            .send(
                reqwest::Method::POST,
                &format!("/catches/{}", call.call_id),
                Some(json!({"driverId": driver, "driverName": format!("Driver {driver}")})),
            )
            .await
    }

    /// `POST /catches/{id}/{step}` as the driver `driver` (`arrive`, `start`, `complete`).
    pub async fn trip_step(&self, call: &CallView, step: &str, driver: &str) -> Answer {
        self.as_driver(driver)
            .send(
                reqwest::Method::POST,
                &format!("/catches/{}/{step}", call.call_id),
                Some(json!({"driverId": driver})),
            )
            .await
    }

    /// `GET /dashboards/myPage/{id}`, as the call's customer.
    pub async fn my_page(&self, call: &CallView) -> Answer {
        let path = format!("/dashboards/myPage/{}", call.call_id);
        let customer = self.customer_of(call);
        customer.send(reqwest::Method::GET, &path, None).await
    }

    /// The same API, as the call's customer.
    pub fn customer_of(&self, call: &CallView) -> Self {
        self.as_customer(call.mobile.as_ref())
    }

    /// Polls the call until it reaches `status`.
    pub async fn wait_for_status(&self, call: &CallView, status: &str) -> CallView {
        eventually(
            Duration::from_secs(30),
            &format!("call to be {status}"),
            || async {
                let view = self.get_call(call).await;
                (view.status.as_str() == status).then_some(view)
            },
        )
        .await
    }

    /// Polls the call until its timeline has `event`.
    pub async fn wait_for_event(&self, call: &CallView, event: &str) -> CallView {
        eventually(
            Duration::from_secs(30),
            &format!("timeline event {event}"),
            || async {
                let view = self.get_call(call).await;
                let names: Vec<String> = view
                    .timeline
                    .iter()
                    .map(|e| format!("{:?}", e.event))
                    .collect();
                names.iter().any(|n| n == event).then_some(view)
            },
        )
        .await
    }
}

/// The environment's stores, opened on the caller's runtime, with the questions tests ask them.
pub struct Stores {
    /// The payment context's store.
    pub payments: PaymentStore,
    /// The catcher context's store.
    pub catches: CatcherStore,
    /// The dashboard context's read model.
    pub dashboards: DashboardStore,
}

impl Stores {
    /// Opens the stores of the environment (after `env` or `env_with` started it).
    pub async fn open() -> Self {
        let env = env();
        Self {
            payments: PaymentStore::open_reader(&env.payment_db).expect("payment db"),
            catches: CatcherStore::open_reader(&env.catcher_db).expect("catcher db"),
            dashboards: DashboardStore::open_reader(&env.dashboard_db).expect("dashboard db"),
        }
    }

    /// The status of the call's payment row, if it has one.
    pub async fn payment_status(&self, call: &CallView) -> Option<PaymentStatus> {
        let id = call.call_id.to_string();
        let record = self
            .payments
            .find_by_call(&id)
            .await
            .expect("payment query");
        record.map(|p| p.status)
    }

    /// How many of the call's payment rows have `status`.
    pub async fn payments_with(&self, call: &CallView, status: PaymentStatus) -> i64 {
        let id = call.call_id.to_string();
        self.payments
            .count_by_call_and_status(&id, status)
            .await
            .expect("payment query")
    }

    /// The call's catch row, if it has one.
    pub async fn catch_row(&self, call: &CallView) -> Option<CatchRecord> {
        let id = call.call_id.to_string();
        self.catches.find(&id).await.expect("catch query")
    }

    /// Polls until the read model holds exactly `timeline` for the call.
    pub async fn wait_for_projection(&self, call: &CallView, timeline: &[TimelineEvent]) {
        let id = call.call_id.to_string();
        eventually(
            Duration::from_secs(60),
            "the read model to catch up",
            || async {
                // Until the dashboard worker has created its database, nothing is projected.
                let projected = self.dashboards.timeline(&id).await.ok()?;
                (projected == timeline).then_some(())
            },
        )
        .await
    }

    /// Polls until the call's catch row has `status` (the catcher lane runs after the status).
    pub async fn wait_for_catch(&self, call: &CallView, status: CatchStatus) -> CatchRecord {
        eventually(
            Duration::from_secs(20),
            &format!("catch row {status:?}"),
            || async { self.catch_row(call).await.filter(|c| c.status == status) },
        )
        .await
    }
}

/// A mobile number no other test uses.
pub fn unique_mobile() -> String {
    let n = uuid::Uuid::new_v4().as_u128() % 100_000_000;
    format!("010{n:08}")
}
