//! What the operations console reads beyond the calls themselves (spec section 8): the calls
//! found by Temporal's visibility (status, customer, area, driver), each linked to its workflow in
//! the Web UI; every context's workers as Temporal sees them polling; and the payment workers'
//! circuit breakers as they report themselves into the payment database.

use std::time::{Duration, SystemTime};

use axum::Json;
use axum::extract::State;
use driver_call_stores::payment::CircuitReport;
use driver_call_workflows::contracts::{CALLER_TASK_QUEUE, catcher, dashboard, payment};
use driver_call_workflows::domain::{CallStatus, MobileNumber};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access::Operator;
use crate::extract::AppQuery;
use crate::openapi::problems::{Forbidden, Invalid, Unauthorized, Unavailable, Unexpected};
use crate::privacy::NumberHash;
use crate::workflow::{self, CallFilter, ListedCall, Poller};
use crate::{ApiError, AppState};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search_calls))
        .routes(routes!(status))
}

/// How many calls one search lists at most.
const SEARCH_LIMIT: usize = 50;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
struct SearchQuery {
    /// Only calls in this status.
    #[param(value_type = Option<CallStatus>)]
    status: Option<String>,
    /// Only this customer's calls.
    #[param(value_type = Option<MobileNumber>)]
    mobile: Option<String>,
    /// Only calls of this service area.
    #[param(example = "kangnam")]
    area: Option<String>,
    /// Only calls this driver caught.
    #[param(example = "kim")]
    driver_id: Option<String>,
}

impl SearchQuery {
    /// The filter, each value checked so that it can only ever be a value in the query; a
    /// number is looked for as `CustomerMobile` holds it: its keyed hash, or in calls made before
    /// numbers were hashed, the number itself.
    fn filter(self, numbers: &NumberHash) -> Result<CallFilter, ApiError> {
        let status = self
            .status
            .map(|s| CallStatus::ALL.into_iter().find(|c| c.as_str() == s.trim()))
            .map(|found| {
                found.ok_or_else(|| ApiError::Invalid("status is not a call status".to_owned()))
            })
            .transpose()?;
        let mobile = self
            .mobile
            .as_deref()
            .map(MobileNumber::parse)
            .transpose()?;
        Ok(CallFilter {
            status: status.map(|s| s.as_str().to_owned()),
            mobile: mobile.map(|m| vec![numbers.of(&m), m.as_ref().to_owned()]),
            area: self
                .area
                .map(|a| keyword("area", &a.to_lowercase()))
                .transpose()?,
            driver_id: self
                .driver_id
                .map(|d| keyword("driverId", &d))
                .transpose()?,
        })
    }
}

/// A search value: a word of letters, digits, `_` and `-` (areas and usernames are).
fn keyword(name: &str, value: &str) -> Result<String, ApiError> {
    let value = value.trim();
    let fits = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if fits {
        Ok(value.to_owned())
    } else {
        Err(ApiError::Invalid(format!(
            "{name} must be letters, digits, `_` or `-`"
        )))
    }
}

/// Search the calls.
///
/// Newest first, at most 50, from Temporal's visibility (its search attributes), each with a
/// link to its workflow in the Temporal Web UI.
#[utoipa::path(
    get,
    path = "/calls",
    tag = "operations",
    params(SearchQuery),
    responses(
        (status = 200, description = "The calls found.", body = Vec<ListedCall>),
        Invalid, Unauthorized, Forbidden, Unavailable, Unexpected,
    ),
)]
async fn search_calls(
    State(state): State<AppState>,
    _operator: Operator,
    AppQuery(query): AppQuery<SearchQuery>,
) -> Result<Json<Vec<ListedCall>>, ApiError> {
    let filter = query.filter(&state.privacy.numbers)?;
    let mut found = workflow::list_calls(
        &state.temporal,
        &filter,
        SEARCH_LIMIT,
        &state.temporal_ui_url,
    )
    .await?;
    // Visibility holds whose and where; the read model holds the place and the fare.
    let ids: Vec<String> = found.iter().map(|c| c.call_id.to_string()).collect();
    let summaries = state.dashboards.summaries(&ids).await?;
    for call in &mut found {
        let id = call.call_id.to_string();
        if let Some(summary) = summaries.iter().find(|s| s.call_id == id) {
            call.location = Some(summary.location.clone());
            call.pay_amount = Some(summary.pay_amount);
            // Visibility holds the number's hash; the read model the number.
            call.mobile = summary.mobile.clone();
        }
    }
    Ok(Json(found))
}

/// A task queue and the workers polling it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct TaskQueueHealth {
    /// The task queue (one per context).
    task_queue: String,
    /// The workers Temporal saw polling it lately; none means the context is not served.
    pollers: Vec<Poller>,
}

/// The service's moving parts, as operators watch them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct OperationsStatus {
    /// The Temporal namespace.
    namespace: String,
    /// The Temporal Web UI.
    temporal_ui: String,
    /// Each payment worker's circuit breaker, as it last reported (within a minute).
    payment_circuits: Vec<CircuitReport>,
    /// Each context's task queue and its workers.
    task_queues: Vec<TaskQueueHealth>,
}

/// A breaker report older than this is of a worker that has stopped.
const REPORT_FRESHNESS: Duration = Duration::from_secs(60);

/// The workers and the payment circuit breakers.
///
/// Workers as Temporal sees them polling each context's task queue; breakers as the payment
/// workers report them.
#[utoipa::path(
    get,
    path = "/operations/status",
    tag = "operations",
    responses(
        (status = 200, description = "The workers and breakers.", body = OperationsStatus),
        Unauthorized, Forbidden, Unavailable, Unexpected,
    ),
)]
async fn status(
    State(state): State<AppState>,
    _operator: Operator,
) -> Result<Json<OperationsStatus>, ApiError> {
    let since = SystemTime::now() - REPORT_FRESHNESS;
    let payment_circuits = state.payments.circuits_since(since).await?;
    let queues = [
        (CALLER_TASK_QUEUE, true),
        (payment::TASK_QUEUE, false),
        (catcher::TASK_QUEUE, false),
        (dashboard::TASK_QUEUE, false),
    ];
    let temporal = &state.temporal;
    // The four queues are asked together: one round trip's wait, not four.
    let task_queues =
        futures::future::try_join_all(queues.map(|(task_queue, workflows)| async move {
            Ok::<_, ApiError>(TaskQueueHealth {
                task_queue: task_queue.to_owned(),
                pollers: workflow::pollers(temporal, task_queue, workflows).await?,
            })
        }))
        .await?;
    Ok(Json(OperationsStatus {
        namespace: temporalio_client::NamespacedClient::namespace(&state.temporal.client),
        temporal_ui: state.temporal_ui_url.to_string(),
        payment_circuits,
        task_queues,
    }))
}
