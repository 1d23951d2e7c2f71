//! Calls started before patch `timeline-feed` carry no `TimelineAt`, so the feed never lists them
//! as changed: each such call still open is followed as the dashboard used to follow every call,
//! with the server's long poll on its history (`GetWorkflowExecutionHistory` with
//! `waitNewEvent`), until it closes. They are a fixed set that only shrinks: no new call is
//! started without `TimelineAt` by this version's API, and a call started through the `temporal`
//! CLI gains it with its first workflow task.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use driver_call_stores::DashboardStore;
use driver_call_workflows::DriverCallWorkflow;
use driver_call_workflows::domain::CallId;
use futures::StreamExt;
use temporalio_client::{Client, WorkflowFetchHistoryOptions};
use tokio::sync::Notify;

use super::history::{FIRST_RETRY, HistoryError, LAST_RETRY, TimelineReader, opened, retry};

/// Follows the calls without `TimelineAt` to their end, each once at a time.
#[derive(Clone)]
pub(super) struct LegacyFollower {
    client: Client,
    store: DashboardStore,
    projected: Arc<Notify>,
    following: Arc<Mutex<HashSet<CallId>>>,
}

impl LegacyFollower {
    pub(super) fn new(client: Client, store: DashboardStore, projected: Arc<Notify>) -> Self {
        Self {
            client,
            store,
            projected,
            following: Arc::default(),
        }
    }

    /// Follows `call_id` to its end in the background, unless this process already does.
    pub(super) fn follow(&self, call_id: CallId) {
        let newly = self
            .following
            .lock()
            .map(|mut following| following.insert(call_id))
            .unwrap_or(false);
        if !newly {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            this.follow_to_the_end(&call_id).await;
            let finished = call_id.to_string();
            retry("record a finished follow", || {
                this.store.finish_follow(&finished)
            })
            .await;
            if let Ok(mut following) = this.following.lock() {
                following.remove(&call_id);
            }
        });
    }

    /// Follows one call's history to its end, starting again after any failure.
    async fn follow_to_the_end(&self, call_id: &CallId) {
        let mut backoff = FIRST_RETRY;
        loop {
            match self.follow_once(call_id).await {
                Ok(()) => return,
                Err(HistoryError::Gone) => {
                    tracing::warn!(%call_id, "the call's history is gone; nothing more to project");
                    return;
                }
                Err(error) => {
                    tracing::warn!(%call_id, %error, "following the call's history failed; starting again");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(LAST_RETRY);
                }
            }
        }
    }

    /// Reads the call's history, waiting for new events, until the workflow has closed.
    async fn follow_once(&self, call_id: &CallId) -> Result<(), HistoryError> {
        let handle = self
            .client
            .get_workflow_handle::<DriverCallWorkflow>(DriverCallWorkflow::workflow_id(call_id));
        let options = WorkflowFetchHistoryOptions::builder()
            .wait_new_event(true)
            .build();
        let mut history = handle.fetch_history(options);
        let mut timeline = TimelineReader::default();
        while let Some(event) = history.next().await {
            let event = opened(&self.client, event).await?;
            let Some(batch) = timeline.read(&event)? else {
                continue;
            };
            retry("project a batch", || self.store.project(&batch)).await;
            self.projected.notify_one();
        }
        Ok(())
    }
}
