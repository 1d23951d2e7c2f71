//! Driver-Call's HTTP API (spec section 4): starts a `DriverCallWorkflow` per call, sends it the
//! customer's and drivers' signals and updates, and reads the payment, catcher and dashboard
//! stores (which their contexts' workers own).

mod access;
mod answers;
mod apps;
pub mod config;
mod error;
mod extract;
pub mod fares;
pub mod identity;
mod live;
mod offers;
mod openapi;
mod presence;
pub mod privacy;
mod routes;
mod workflow;

use std::num::NonZeroUsize;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum_prometheus::PrometheusMetricLayer;
use axum_prometheus::metrics_exporter_prometheus::PrometheusHandle;
use driver_call_stores::dashboard::StreamedEvent;
use driver_call_stores::{CatcherStore, DashboardStore, PaymentStore, Store};
use driver_call_workflows::contracts::dashboard::ProjectTimelineInput;
use driver_call_workflows::domain::CallView;
use driver_call_workflows::driver_call::CallPolicy;
use temporalio_client::Client;
use tower_http::trace::TraceLayer;

pub use access::{TOKEN_COOKIE, mask_mobile};
pub use config::ApiConfig;
pub use error::ApiError;
pub use openapi::{DOCS_PATH, OPENAPI_PATH};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The Temporal client that starts and drives calls.
    pub temporal: workflow::Temporal,
    /// Read access to the payments ledger.
    pub payments: PaymentStore,
    /// Read access to offers and catches.
    pub catches: CatcherStore,
    /// The myPage read model.
    pub dashboards: DashboardStore,
    /// Its newest events, read once for every open call stream.
    live: live::ReadModelTail,
    /// Writes each step's answer into it.
    answers: answers::AnswerRecorder,
    /// The open offers and busy drivers, read once for every open offers stream.
    offers: offers::OfferFeed,
    /// Which drivers this process heard from.
    presence: presence::Presence,
    /// The time limits new calls get.
    pub policy: Arc<CallPolicy>,
    /// Sign-in, access tokens and driver accounts.
    pub identity: identity::Identity,
    /// The tariff and the quotes.
    pub fares: fares::Fares,
    /// Whose each call is, as far as this process has learnt.
    parties: access::PartyBook,
    /// The payload keys (the codec server's) and the numbers' hash.
    pub privacy: privacy::Privacy,
    /// Where the apps' built files are.
    web_dir: Arc<std::path::Path>,
    /// The Temporal Web UI the console links calls to.
    pub(crate) temporal_ui_url: Arc<str>,
}

/// How many calls' parties an API process remembers (a few hundred bytes each).
const REMEMBERED_CALLS: NonZeroUsize = NonZeroUsize::new(100_000).expect("not zero");

impl AppState {
    /// Hands a step's answer to this process's streams of the call at once
    /// ([`live::ReadModelTail::answered`]) and records it in the read model
    /// ([`answers::AnswerRecorder`]), for every other stream and myPage.
    pub(crate) fn record_answer(&self, view: &CallView) {
        let answer = ProjectTimelineInput::of_view(view.clone());
        self.live.answered(StreamedEvent::unnumbered(&answer));
        self.answers.record(answer);
    }

    /// Opens the stores named in `config` to read them (each context's worker owns and migrates
    /// its own; until it has, `/readyz` says so) and wraps the Temporal client; `identity` is
    /// the identity context and the fares the API owns (see [`identity::Identity::build`] and
    /// [`fares::Fares::open`]).
    pub fn build(
        config: &ApiConfig,
        temporal: Client,
        identity: identity::Identity,
        fares: fares::Fares,
        privacy: privacy::Privacy,
    ) -> Result<Self, driver_call_stores::StoreError> {
        let stores = &config.stores;
        let dashboards = DashboardStore::open_reader(&stores.dashboard_database_url())?;
        let catches = CatcherStore::open_reader(&stores.catcher_database_url())?;
        let drivers = identity.store().clone();
        let feed = answers::FeedWatch::new();
        Ok(Self {
            temporal: workflow::Temporal::new(temporal, config.temporal_retry_deadline),
            payments: PaymentStore::open_reader(&stores.payment_database_url())?,
            catches: catches.clone(),
            dashboards: dashboards.clone(),
            answers: answers::AnswerRecorder::start(dashboards.clone(), feed.clone()),
            live: live::ReadModelTail::new(dashboards, feed),
            offers: offers::OfferFeed::new(catches, drivers.clone()),
            presence: presence::Presence::new(drivers, config.presence_timeout),
            policy: Arc::new(config.call_policy()),
            identity,
            fares,
            privacy,
            parties: access::PartyBook::new(REMEMBERED_CALLS),
            web_dir: config.web_dir.as_path().into(),
            temporal_ui_url: config.temporal_ui_url.trim_end_matches('/').into(),
        })
    }

    /// The stores `/readyz` asks.
    pub(crate) fn stores(&self) -> [Store; 5] {
        [
            Store::Payment(self.payments.clone()),
            Store::Catcher(self.catches.clone()),
            Store::Dashboard(self.dashboards.clone()),
            Store::Identity(self.identity.store().clone()),
            Store::Quote(self.fares.store().clone()),
        ]
    }
}

/// The whole API, with request metrics on `/metrics`, its OpenAPI document on `/openapi.json`
/// and the reference on `/docs`.
pub fn app(state: AppState) -> Router {
    let (metric_layer, metrics) = request_metrics();
    let apps = apps::router(&state.web_dir);
    let (api, _) = routes::router().split_for_parts();
    let (metrics, _) = routes::health::metrics_router()
        .with_state(metrics)
        .split_for_parts();
    let cors = routes::codec::cors(&state.temporal_ui_url);
    api.fallback(|| async { ApiError::NotFound("no such route".to_owned()) })
        .layer(cors)
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(metric_layer)
        .with_state(state)
        .merge(metrics)
        .merge(openapi::serve(openapi()))
        .merge(apps)
}

/// Each request's span: its method and path, never its query, which may carry a customer's
/// number (`/dashboards?mobile=`, `/calls?mobile=`).
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    tracing::debug_span!("request", method = %request.method(), path = %request.uri().path())
}

/// The API's OpenAPI 3.1 document, built from the very routers [`app`] serves.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let routes = routes::router().into_openapi();
    openapi::document(routes.merge_from(routes::health::metrics_router().into_openapi()))
}

/// The request-metrics layer and the handle that renders them. The recorder is process-global,
/// so it is installed once, however many apps a process builds (the tests build several).
fn request_metrics() -> (PrometheusMetricLayer<'static>, PrometheusHandle) {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    let mut first_layer = None;
    let handle = HANDLE.get_or_init(|| {
        let (layer, handle) = PrometheusMetricLayer::pair();
        first_layer = Some(layer);
        handle
    });
    let layer = first_layer.unwrap_or_else(PrometheusMetricLayer::new);
    (layer, handle.clone())
}
