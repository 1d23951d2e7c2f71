//! The API's side of the Temporal boundary: one function per thing the API asks of a call's
//! workflow, each turning Temporal's errors into the answers of spec section 4.
//!
//! A Temporal server that is briefly unavailable (a restart, a leader change) costs a client
//! nothing: every request retries it for up to `TEMPORAL_RETRY_DEADLINE` before answering 503.
//! That is safe because each request is idempotent by id: a start by the call's workflow id, an
//! update by an update id chosen once per request, a signal whose repeat changes nothing.

use std::future::Future;
use std::time::Duration;

use driver_call_workflows::DriverCallWorkflow;
use driver_call_workflows::contracts::CALLER_TASK_QUEUE;
use driver_call_workflows::domain::{CallId, CallView, MobileNumber, NewCall};
use driver_call_workflows::driver_call::{
    AssignRequest, CALL_STATUS, CUSTOMER_MOBILE, CallPolicy, CancelRequest, CatchRequest,
    DRIVER_ID, DenyRequest, DriverCallInput, PayRequest, PayResult, SERVICE_AREA, TripStepRequest,
};
use temporalio_client::errors::{
    WorkflowInteractionError, WorkflowQueryError, WorkflowStartError, WorkflowUpdateError,
};
use temporalio_client::{
    Client, WorkflowExecuteUpdateOptions, WorkflowExecutionStatus, WorkflowHandle,
    WorkflowIdReusePolicy, WorkflowQueryOptions, WorkflowSignalOptions, WorkflowStartOptions,
};

use crate::ApiError;
use crate::access::Parties;

/// The API's Temporal client and how long a request keeps retrying it while it is unavailable.
#[derive(Clone)]
pub struct Temporal {
    /// The client.
    pub client: Client,
    patience: Duration,
}

impl Temporal {
    /// `client`, retried for up to `patience` while unavailable.
    pub fn new(client: Client, patience: Duration) -> Self {
        Self { client, patience }
    }

    /// Runs `request` again while Temporal is unavailable, until the patience has passed since
    /// the first try, so a short outage answers late rather than 503. (The client itself retries
    /// a refused connection for a while within each try; this also covers the answers it does not
    /// retry, such as a deadline exceeded while the server restarts.)
    async fn patiently<T, F, Fut>(&self, request: F) -> Result<T, ApiError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        use backon::{ExponentialBuilder, Retryable};
        let deadline = std::time::Instant::now() + self.patience;
        request
            .retry(
                ExponentialBuilder::default()
                    .with_min_delay(Duration::from_millis(100))
                    .with_max_delay(Duration::from_secs(2))
                    .without_max_times(),
            )
            .when(move |e| {
                matches!(e, ApiError::Unavailable(_)) && std::time::Instant::now() < deadline
            })
            .notify(|error, wait| tracing::info!(%error, ?wait, "Temporal unavailable; retrying"))
            .await
    }
}

/// A fresh update id for one API request, reused by its retries.
fn update_options() -> WorkflowExecuteUpdateOptions {
    WorkflowExecuteUpdateOptions::builder()
        .update_id(uuid::Uuid::new_v4().to_string())
        .build()
}

/// A trip step reported by the call's driver.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TripStep {
    Arrive,
    StartTrip,
    Complete,
    NoShow,
}

fn handle(client: &Client, call_id: &CallId) -> WorkflowHandle<Client, DriverCallWorkflow> {
    client.get_workflow_handle::<DriverCallWorkflow>(DriverCallWorkflow::workflow_id(call_id))
}

/// Starts the call's workflow; a call id is used once, ever. Answers `false` when a workflow
/// with this call id already exists (running or ended): a repeated idempotency key, or a retry
/// of this very start whose first answer was lost.
pub(crate) async fn start(
    temporal: &Temporal,
    call: NewCall,
    policy: CallPolicy,
) -> Result<bool, ApiError> {
    let workflow_id = DriverCallWorkflow::workflow_id(&call.call_id);
    let input = DriverCallInput { call, policy };
    let search_attributes =
        DriverCallWorkflow::start_search_attributes(&input, std::time::SystemTime::now());
    temporal
        .patiently(|| async {
            let options = WorkflowStartOptions::new(CALLER_TASK_QUEUE, workflow_id.clone())
                .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
                .search_attributes(search_attributes.clone())
                .build();
            let started = temporal
                .client
                .start_workflow(DriverCallWorkflow::run, input.clone(), options)
                .await;
            match started {
                Ok(_) => Ok(true),
                Err(WorkflowStartError::AlreadyStarted { .. }) => Ok(false),
                Err(WorkflowStartError::Rpc(status)) => Err(rpc_error(status)),
                Err(e) => Err(ApiError::Unexpected(
                    anyhow::Error::new(e).context("Failed to start the call"),
                )),
            }
        })
        .await
}

/// The call's view. A finished call's view is its workflow's result, read from history: no
/// worker has to replay the whole history for it, so it is readable even while no caller worker
/// runs. A running call answers its workflow's `dashboard` query.
pub(crate) async fn view(temporal: &Temporal, call_id: &CallId) -> Result<CallView, ApiError> {
    temporal
        .patiently(|| async {
            match finished_view(&temporal.client, call_id).await? {
                Some(view) => Ok(view),
                None => running_view(&temporal.client, call_id).await,
            }
        })
        .await
}

/// The result of the call's workflow if it has completed, `None` while it runs.
async fn finished_view(client: &Client, call_id: &CallId) -> Result<Option<CallView>, ApiError> {
    let handle = handle(client, call_id);
    let description = handle
        .describe(Default::default())
        .await
        .map_err(|e| match e {
            WorkflowInteractionError::NotFound(_) => not_found(call_id),
            WorkflowInteractionError::Rpc(status) => rpc_error(status),
            other => ApiError::Unexpected(
                anyhow::Error::new(other).context("Failed to describe the call"),
            ),
        })?;
    if description.status() != WorkflowExecutionStatus::Completed {
        return Ok(None);
    }
    let view = handle.get_result(Default::default()).await.map_err(|e| {
        ApiError::Unexpected(anyhow::Error::new(e).context("Failed to read the call's result"))
    })?;
    Ok(Some(view))
}

/// A query that meets a workflow task in progress is answered "please retry" (Unavailable) by
/// the server, which [`Temporal::patiently`] does.
async fn running_view(client: &Client, call_id: &CallId) -> Result<CallView, ApiError> {
    let result = handle(client, call_id)
        .query(
            DriverCallWorkflow::dashboard,
            (),
            WorkflowQueryOptions::default(),
        )
        .await;
    result.map_err(|e| match e {
        WorkflowQueryError::NotFound(_) => not_found(call_id),
        WorkflowQueryError::Rpc(status) => rpc_error(status),
        other => {
            ApiError::Unexpected(anyhow::Error::new(other).context("Failed to query the call"))
        }
    })
}

/// Runs the `pay` update.
pub(crate) async fn pay(temporal: &Temporal, call_id: &CallId) -> Result<PayResult, ApiError> {
    let options = update_options();
    temporal
        .patiently(|| async {
            let result = handle(&temporal.client, call_id)
                .execute_update(
                    DriverCallWorkflow::pay,
                    PayRequest::default(),
                    options.clone(),
                )
                .await;
            update_answer(&temporal.client, call_id, result).await
        })
        .await
}

/// Runs the `catch` update.
pub(crate) async fn catch(
    temporal: &Temporal,
    call_id: &CallId,
    request: CatchRequest,
) -> Result<CallView, ApiError> {
    let options = update_options();
    temporal
        .patiently(|| async {
            let result = handle(&temporal.client, call_id)
                .execute_update(DriverCallWorkflow::catch, request.clone(), options.clone())
                .await;
            update_answer(&temporal.client, call_id, result).await
        })
        .await
}

/// Runs the `assign` update (an operator's assigned dispatch).
pub(crate) async fn assign(
    temporal: &Temporal,
    call_id: &CallId,
    request: AssignRequest,
) -> Result<CallView, ApiError> {
    let options = update_options();
    temporal
        .patiently(|| async {
            let result = handle(&temporal.client, call_id)
                .execute_update(DriverCallWorkflow::assign, request.clone(), options.clone())
                .await;
            update_answer(&temporal.client, call_id, result).await
        })
        .await
}

/// Runs one of the trip-step updates.
pub(crate) async fn trip_step(
    temporal: &Temporal,
    call_id: &CallId,
    step: TripStep,
    request: TripStepRequest,
) -> Result<CallView, ApiError> {
    let options = update_options();
    temporal
        .patiently(|| async {
            let handle = handle(&temporal.client, call_id);
            let (request, options) = (request.clone(), options.clone());
            let result = match step {
                TripStep::Arrive => {
                    handle
                        .execute_update(DriverCallWorkflow::arrive, request, options)
                        .await
                }
                TripStep::StartTrip => {
                    handle
                        .execute_update(DriverCallWorkflow::start_trip, request, options)
                        .await
                }
                TripStep::Complete => {
                    handle
                        .execute_update(DriverCallWorkflow::complete, request, options)
                        .await
                }
                TripStep::NoShow => {
                    handle
                        .execute_update(DriverCallWorkflow::no_show, request, options)
                        .await
                }
            };
            update_answer(&temporal.client, call_id, result).await
        })
        .await
}

/// Sends the `cancel` signal (a repeat changes nothing: a cancelled call stays cancelled).
pub(crate) async fn cancel(
    temporal: &Temporal,
    call_id: &CallId,
    request: CancelRequest,
) -> Result<(), ApiError> {
    temporal
        .patiently(|| async {
            let result = handle(&temporal.client, call_id)
                .signal(
                    DriverCallWorkflow::cancel,
                    request.clone(),
                    WorkflowSignalOptions::default(),
                )
                .await;
            result.map_err(|e| signal_error(e, call_id))
        })
        .await
}

/// Sends the `deny` signal (a repeat changes nothing).
pub(crate) async fn deny(
    temporal: &Temporal,
    call_id: &CallId,
    request: DenyRequest,
) -> Result<(), ApiError> {
    temporal
        .patiently(|| async {
            let result = handle(&temporal.client, call_id)
                .signal(
                    DriverCallWorkflow::deny,
                    request.clone(),
                    WorkflowSignalOptions::default(),
                )
                .await;
            result.map_err(|e| signal_error(e, call_id))
        })
        .await
}

/// Who the call is about, from its search attributes (a describe: the server answers without a
/// worker). `None` when no such call exists.
pub(crate) async fn parties(
    temporal: &Temporal,
    call_id: &CallId,
) -> Result<Option<Parties>, ApiError> {
    temporal
        .patiently(|| async {
            let described = handle(&temporal.client, call_id)
                .describe(Default::default())
                .await;
            let description = match described {
                Ok(description) => description,
                Err(WorkflowInteractionError::NotFound(_)) => return Ok(None),
                Err(WorkflowInteractionError::Rpc(status)) => return Err(rpc_error(status)),
                Err(other) => {
                    return Err(ApiError::Unexpected(
                        anyhow::Error::new(other).context("Failed to describe the call"),
                    ));
                }
            };
            let attributes = description.search_attributes();
            let Some(customer) = attributes.get(&CUSTOMER_MOBILE) else {
                // Not one of our calls (a workflow id reused by hand): nobody's.
                return Ok(None);
            };
            Ok(Some(Parties {
                customer,
                area: attributes.get(&SERVICE_AREA).unwrap_or_default(),
                driver: attributes.get(&DRIVER_ID),
            }))
        })
        .await
}

fn not_found(call_id: &CallId) -> ApiError {
    ApiError::NotFound(format!("call {call_id} not found"))
}

/// An update's answer. The validator guards every update, so the API does not read the call
/// first: a rejection (the validator said no) is a conflict with the call's state, and a workflow
/// that is not running answers NotFound, which is a 404 when the call never existed and a 409 when
/// it has ended (only then does the API ask which).
async fn update_answer<T>(
    client: &Client,
    call_id: &CallId,
    result: Result<T, WorkflowUpdateError>,
) -> Result<T, ApiError> {
    match result {
        Ok(answer) => Ok(answer),
        Err(WorkflowUpdateError::NotFound(_)) => Err(not_running(client, call_id).await),
        Err(error) => Err(update_error(error)),
    }
}

/// A call whose workflow does not take updates: it never existed, or it has ended.
async fn not_running(client: &Client, call_id: &CallId) -> ApiError {
    match handle(client, call_id).describe(Default::default()).await {
        Err(WorkflowInteractionError::NotFound(_)) => not_found(call_id),
        Err(WorkflowInteractionError::Rpc(status)) => rpc_error(status),
        _ => ApiError::Conflict(format!("call {call_id} has already ended")),
    }
}

fn update_error(error: WorkflowUpdateError) -> ApiError {
    match error {
        WorkflowUpdateError::Failed(failure) => ApiError::Conflict(failure.message.clone()),
        WorkflowUpdateError::NotFound(_) => ApiError::Conflict("the call has ended".to_owned()),
        WorkflowUpdateError::Rpc(status) => rpc_error(status),
        other => {
            ApiError::Unexpected(anyhow::Error::new(other).context("Failed to update the call"))
        }
    }
}

fn signal_error(error: WorkflowInteractionError, call_id: &CallId) -> ApiError {
    match error {
        WorkflowInteractionError::NotFound(_) => {
            ApiError::Conflict(format!("call {call_id} has already ended"))
        }
        WorkflowInteractionError::Rpc(status) => rpc_error(status),
        other => {
            ApiError::Unexpected(anyhow::Error::new(other).context("Failed to signal the call"))
        }
    }
}

fn rpc_error(status: tonic::Status) -> ApiError {
    match status.code() {
        tonic::Code::Unavailable
        | tonic::Code::DeadlineExceeded
        | tonic::Code::ResourceExhausted => {
            ApiError::Unavailable(format!("Temporal is not reachable: {}", status.message()))
        }
        _ => ApiError::Unexpected(anyhow::Error::new(status).context("Temporal call failed")),
    }
}

/// A call as Temporal's visibility lists it (the operations console's search).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListedCall {
    /// The call.
    pub call_id: CallId,
    /// Its status, as its search attribute says.
    pub status: String,
    /// The customer's number.
    pub mobile: String,
    /// The service area.
    pub area: String,
    /// The driver who caught it, if one has.
    pub driver_id: Option<String>,
    /// Its pickup location, once the read model has the call.
    pub location: Option<String>,
    /// Its fare in KRW, once the read model has the call.
    pub pay_amount: Option<i64>,
    /// When its workflow started (RFC 3339).
    pub started_at: Option<String>,
    /// Its workflow in the Temporal Web UI.
    pub workflow_url: String,
}

/// What the operations console searches calls by; each filter is optional.
#[derive(Debug, Default)]
pub(crate) struct CallFilter {
    pub status: Option<String>,
    /// The values `CustomerMobile` may hold for the customer (any of them matches).
    pub mobile: Option<Vec<String>>,
    pub area: Option<String>,
    pub driver_id: Option<String>,
}

impl CallFilter {
    /// The visibility query: every value has been validated to a keyword (letters, digits, `_`
    /// and `-`), so quoting it cannot change the query.
    fn query(&self) -> String {
        let mut query = "WorkflowType = 'DriverCallWorkflow'".to_owned();
        for (attribute, value) in [
            ("CallStatus", &self.status),
            ("ServiceArea", &self.area),
            ("DriverId", &self.driver_id),
        ] {
            if let Some(value) = value {
                query.push_str(&format!(" AND {attribute} = '{value}'"));
            }
        }
        if let Some(values) = &self.mobile {
            let quoted: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
            query.push_str(&format!(" AND CustomerMobile IN ({})", quoted.join(", ")));
        }
        query
    }
}

/// The newest `limit` calls that match `filter`, from Temporal's visibility store.
pub(crate) async fn list_calls(
    temporal: &Temporal,
    filter: &CallFilter,
    limit: usize,
    ui: &str,
) -> Result<Vec<ListedCall>, ApiError> {
    use futures::TryStreamExt;
    let query = filter.query();
    let namespace = temporalio_client::NamespacedClient::namespace(&temporal.client);
    temporal
        .patiently(|| async {
            let options = temporalio_client::WorkflowListOptions::builder()
                .limit(limit)
                .build();
            let executions: Vec<_> = temporal
                .client
                .list_workflows(query.clone(), options)
                .try_collect()
                .await
                .map_err(|e| match e {
                    temporalio_client::errors::ClientError::Rpc(status) => rpc_error(status),
                    other => ApiError::Unexpected(
                        anyhow::Error::new(other).context("Failed to list the calls"),
                    ),
                })?;
            Ok(executions
                .iter()
                .filter_map(|execution| {
                    let call_id = DriverCallWorkflow::call_id_of(execution.id())?;
                    let attributes = execution.search_attributes();
                    Some(ListedCall {
                        call_id,
                        status: attributes.get(&CALL_STATUS).unwrap_or_default(),
                        // A hash (the read model's number replaces it), or in calls made before
                        // numbers were hashed, the number.
                        mobile: attributes
                            .get(&CUSTOMER_MOBILE)
                            .filter(|held| MobileNumber::parse(held).is_ok())
                            .unwrap_or_default(),
                        area: attributes.get(&SERVICE_AREA).unwrap_or_default(),
                        driver_id: attributes.get(&DRIVER_ID),
                        location: None,
                        pay_amount: None,
                        started_at: execution
                            .start_time()
                            .map(|t| humantime::format_rfc3339_millis(t).to_string()),
                        workflow_url: workflow_url(ui, &namespace, execution.id()),
                    })
                })
                .collect())
        })
        .await
}

/// A workflow's page in the Temporal Web UI.
pub(crate) fn workflow_url(ui: &str, namespace: &str, workflow_id: &str) -> String {
    format!("{ui}/namespaces/{namespace}/workflows/{workflow_id}")
}

/// A worker polling a task queue, as Temporal saw it last.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Poller {
    /// The worker's identity (`pid@host` by default).
    pub identity: String,
    /// When it last polled (RFC 3339).
    pub last_access_time: Option<String>,
}

/// The workers polling `task_queue` (workflow pollers when `workflows`, else activity pollers).
pub(crate) async fn pollers(
    temporal: &Temporal,
    task_queue: &str,
    workflows: bool,
) -> Result<Vec<Poller>, ApiError> {
    use temporalio_client::grpc::WorkflowService;
    use temporalio_common::protos::temporal::api::enums::v1::{TaskQueueKind, TaskQueueType};
    use temporalio_common::protos::temporal::api::taskqueue::v1::TaskQueue;
    use temporalio_common::protos::temporal::api::workflowservice::v1::DescribeTaskQueueRequest;

    let kind = if workflows {
        TaskQueueType::Workflow
    } else {
        TaskQueueType::Activity
    };
    let request = DescribeTaskQueueRequest {
        namespace: temporalio_client::NamespacedClient::namespace(&temporal.client),
        task_queue: Some(TaskQueue {
            name: task_queue.to_owned(),
            kind: TaskQueueKind::Normal.into(),
            ..Default::default()
        }),
        task_queue_type: kind.into(),
        ..Default::default()
    };
    let mut client = temporal.client.clone();
    let described = client
        .describe_task_queue(tonic::Request::new(request))
        .await
        .map_err(rpc_error)?
        .into_inner();
    Ok(described
        .pollers
        .into_iter()
        .map(|poller| Poller {
            identity: poller.identity,
            last_access_time: poller.last_access_time.and_then(|t| {
                let t = std::time::SystemTime::try_from(t).ok()?;
                Some(humantime::format_rfc3339_millis(t).to_string())
            }),
        })
        .collect())
}
