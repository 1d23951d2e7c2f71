//! The API's side of the Temporal boundary: one function per thing the API asks of a call's
//! workflow, each turning Temporal's errors into the answers of spec section 4.

use driver_call_workflows::DriverCallWorkflow;
use driver_call_workflows::contracts::CALLER_TASK_QUEUE;
use driver_call_workflows::domain::{CallId, CallView, NewCall};
use driver_call_workflows::driver_call::{
    CallPolicy, CancelRequest, CatchRequest, DenyRequest, DriverCallInput, PayRequest, PayResult,
    TripStepRequest,
};
use temporalio_client::errors::{
    WorkflowInteractionError, WorkflowQueryError, WorkflowStartError, WorkflowUpdateError,
};
use temporalio_client::{
    Client, WorkflowExecuteUpdateOptions, WorkflowExecutionStatus, WorkflowHandle,
    WorkflowIdReusePolicy, WorkflowQueryOptions, WorkflowSignalOptions, WorkflowStartOptions,
};

use crate::ApiError;

/// A trip step reported by the call's driver.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TripStep {
    Arrive,
    StartTrip,
    Complete,
}

fn handle(client: &Client, call_id: &CallId) -> WorkflowHandle<Client, DriverCallWorkflow> {
    client.get_workflow_handle::<DriverCallWorkflow>(DriverCallWorkflow::workflow_id(call_id))
}

/// Starts the call's workflow; a call id is used once, ever. Answers `false` when a workflow
/// with this call id already exists (running or ended), which only a repeated idempotency key
/// can cause.
pub(crate) async fn start(
    client: &Client,
    call: NewCall,
    policy: CallPolicy,
) -> Result<bool, ApiError> {
    let workflow_id = DriverCallWorkflow::workflow_id(&call.call_id);
    let options = WorkflowStartOptions::new(CALLER_TASK_QUEUE, workflow_id)
        .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
        .build();
    let input = DriverCallInput { call, policy };
    match client
        .start_workflow(DriverCallWorkflow::run, input, options)
        .await
    {
        Ok(_) => Ok(true),
        Err(WorkflowStartError::AlreadyStarted { .. }) => Ok(false),
        Err(WorkflowStartError::Rpc(status)) => Err(rpc_error(status)),
        Err(e) => Err(ApiError::Unexpected(
            anyhow::Error::new(e).context("Failed to start the call"),
        )),
    }
}

/// The call's view. A finished call's view is its workflow's result, read from history: no
/// worker has to replay the whole history for it, so it is readable even while no caller worker
/// runs. A running call answers its workflow's `dashboard` query.
pub(crate) async fn view(client: &Client, call_id: &CallId) -> Result<CallView, ApiError> {
    match finished_view(client, call_id).await? {
        Some(view) => Ok(view),
        None => running_view(client, call_id).await,
    }
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

/// A query that meets a workflow task in progress is answered "please retry" by the server, so
/// it is retried a few times.
async fn running_view(client: &Client, call_id: &CallId) -> Result<CallView, ApiError> {
    use backon::{ExponentialBuilder, Retryable};
    let query = || async {
        handle(client, call_id)
            .query(
                DriverCallWorkflow::dashboard,
                (),
                WorkflowQueryOptions::default(),
            )
            .await
    };
    let result = query
        .retry(
            ExponentialBuilder::default()
                .with_min_delay(std::time::Duration::from_millis(50))
                .with_max_times(4),
        )
        .when(|e| matches!(e, WorkflowQueryError::Rpc(s) if s.code() == tonic::Code::Unavailable))
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
pub(crate) async fn pay(client: &Client, call_id: &CallId) -> Result<PayResult, ApiError> {
    let result = handle(client, call_id)
        .execute_update(
            DriverCallWorkflow::pay,
            PayRequest::default(),
            WorkflowExecuteUpdateOptions::default(),
        )
        .await;
    result.map_err(|e| update_error(e, call_id))
}

/// Runs the `catch` update.
pub(crate) async fn catch(
    client: &Client,
    call_id: &CallId,
    request: CatchRequest,
) -> Result<CallView, ApiError> {
    let result = handle(client, call_id)
        .execute_update(
            DriverCallWorkflow::catch,
            request,
            WorkflowExecuteUpdateOptions::default(),
        )
        .await;
    result.map_err(|e| update_error(e, call_id))
}

/// Runs one of the trip-step updates.
pub(crate) async fn trip_step(
    client: &Client,
    call_id: &CallId,
    step: TripStep,
    request: TripStepRequest,
) -> Result<CallView, ApiError> {
    let handle = handle(client, call_id);
    let options = WorkflowExecuteUpdateOptions::default();
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
    };
    result.map_err(|e| update_error(e, call_id))
}

/// Sends the `cancel` signal.
pub(crate) async fn cancel(
    client: &Client,
    call_id: &CallId,
    request: CancelRequest,
) -> Result<(), ApiError> {
    let result = handle(client, call_id)
        .signal(
            DriverCallWorkflow::cancel,
            request,
            WorkflowSignalOptions::default(),
        )
        .await;
    result.map_err(|e| signal_error(e, call_id))
}

/// Sends the `deny` signal.
pub(crate) async fn deny(
    client: &Client,
    call_id: &CallId,
    request: DenyRequest,
) -> Result<(), ApiError> {
    let result = handle(client, call_id)
        .signal(
            DriverCallWorkflow::deny,
            request,
            WorkflowSignalOptions::default(),
        )
        .await;
    result.map_err(|e| signal_error(e, call_id))
}

fn not_found(call_id: &CallId) -> ApiError {
    ApiError::NotFound(format!("call {call_id} not found"))
}

/// A rejected update (its validator said no) is a conflict with the call's state; a workflow
/// that has finished answers NotFound to updates, which is a conflict too (its view exists).
fn update_error(error: WorkflowUpdateError, call_id: &CallId) -> ApiError {
    match error {
        WorkflowUpdateError::Failed(failure) => ApiError::Conflict(failure.message.clone()),
        WorkflowUpdateError::NotFound(_) => {
            ApiError::Conflict(format!("call {call_id} has already ended"))
        }
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
