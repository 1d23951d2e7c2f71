//! Dashboard context: the myPage read model (CQRS), fed by the timeline feed (calls since patch
//! `timeline-feed`), by a follow of the history (calls since `memo-projection`) or by
//! `dashboard.project` (older calls), and webhook notifications of every event, delivered from
//! the read model's outbox.

mod feed;
mod follower;
mod history;
mod notify;
mod shards;
mod worker;

use std::sync::Arc;

use driver_call_workflows::contracts::dashboard::ProjectTimelineInput;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use tokio::sync::Notify;

pub use driver_call_stores::dashboard::{
    CallSummary, DashboardStore, StreamedEvent, SummaryCursor,
};
pub use feed::TimelineFeed;
pub use notify::{WEBHOOK_IDEMPOTENCY_HEADER, WebhookNotifier};
pub use worker::{DashboardConfig, dashboard_worker};

/// The dashboard context's activities.
pub struct Activities {
    store: DashboardStore,
    projected: Arc<Notify>,
}

impl Activities {
    /// Activities over `store` that wake `projected` (the webhook notifier) after each write.
    pub fn new(store: DashboardStore, projected: Arc<Notify>) -> Self {
        Self { store, projected }
    }
}

#[activities]
impl Activities {
    /// Writes the events and the call's summary; replays and retries change nothing.
    #[activity(name = "dashboard.project")]
    pub async fn project(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: ProjectTimelineInput,
    ) -> Result<(), ActivityError> {
        self.store.project(&input).await?;
        self.projected.notify_one();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use driver_call_workflows::contracts::dashboard::DashboardActivities as Contract;
    use temporalio_common::ActivityDefinition;

    use super::Activities;

    #[test]
    fn activities_implement_the_workflow_contract() {
        fn same<A, B>(implementation: A, contract: B)
        where
            A: ActivityDefinition,
            B: ActivityDefinition<Input = A::Input, Output = A::Output>,
        {
            assert_eq!(implementation.name(), contract.name());
        }
        same(Activities::project, Contract::project);
    }
}
