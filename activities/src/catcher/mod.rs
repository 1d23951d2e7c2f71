//! Catcher context: checks service areas, opens offers to drivers and keeps each call's catch.
//! Which driver wins is decided by the workflow's `catch` update; this context records it.

mod worker;

use std::sync::Arc;

use driver_call_workflows::contracts::catcher::{
    CloseCatchInput, OfferCallInput, OfferResult, RecordCatchInput, WidenOfferInput,
};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

pub use driver_call_stores::catcher::{CatchRecord, CatcherStore, LiveOffer, OpenOffer};
pub use worker::{CatcherConfig, catcher_worker};

pub use driver_call_workflows::domain::DEFAULT_SERVICE_AREAS;

/// The areas drivers serve, matched case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAreas(Vec<String>);

impl ServiceAreas {
    /// Parses a comma-separated list such as `kangnam, Mapo`.
    pub fn parse(list: &str) -> Self {
        Self(
            list.split(',')
                .map(|a| a.trim().to_lowercase())
                .filter(|a| !a.is_empty())
                .collect(),
        )
    }

    /// Whether `area` is served.
    pub fn contains(&self, area: &str) -> bool {
        let area = area.to_lowercase();
        self.0.contains(&area)
    }
}

impl Default for ServiceAreas {
    fn default() -> Self {
        Self::parse(DEFAULT_SERVICE_AREAS)
    }
}

/// The catcher context's activities.
pub struct Activities {
    store: CatcherStore,
    areas: ServiceAreas,
}

impl Activities {
    /// Activities over `store` for the drivers of `areas`.
    pub fn new(store: CatcherStore, areas: ServiceAreas) -> Self {
        Self { store, areas }
    }
}

#[activities]
impl Activities {
    /// Opens an offer to the drivers of the call's area (its place's, or for calls made before
    /// places had areas, the first word of its location), or says it is out of area.
    #[activity(name = "catcher.offer")]
    pub async fn offer(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: OfferCallInput,
    ) -> Result<OfferResult, ActivityError> {
        let area = match &input.area {
            Some(area) => area.trim().to_lowercase(),
            None => input.location.service_area(),
        };
        if !self.areas.contains(&area) {
            tracing::info!(call_id = %input.call_id, %area, "call is out of the service areas");
            return Ok(OfferResult::OutOfArea { area });
        }
        self.store.open_offer(&input, &area).await?;
        Ok(OfferResult::Received { area })
    }

    /// Widens an open offer to the areas (or everyone) the workflow's dispatch tier reaches.
    #[activity(name = "catcher.widen")]
    pub async fn widen(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: WidenOfferInput,
    ) -> Result<(), ActivityError> {
        self.store
            .widen(&input.call_id, &input.areas, input.everyone)
            .await?;
        Ok(())
    }

    /// Records the driver the workflow let win.
    #[activity(name = "catcher.catch")]
    pub async fn catch(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: RecordCatchInput,
    ) -> Result<(), ActivityError> {
        self.store
            .record_catch(&input.call_id, &input.driver)
            .await?;
        Ok(())
    }

    /// Closes the call's offer or catch as denied, withdrawn or completed.
    #[activity(name = "catcher.close")]
    pub async fn close(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: CloseCatchInput,
    ) -> Result<(), ActivityError> {
        self.store.close(&input.call_id, input.status).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use driver_call_workflows::contracts::catcher::CatcherActivities as Contract;
    use temporalio_common::ActivityDefinition;

    use super::*;

    fn same_contract<A, B>(implementation: A, contract: B)
    where
        A: ActivityDefinition,
        B: ActivityDefinition<Input = A::Input, Output = A::Output>,
    {
        assert_eq!(implementation.name(), contract.name());
    }

    #[test]
    fn activities_implement_the_workflow_contract() {
        same_contract(Activities::offer, Contract::offer);
        same_contract(Activities::widen, Contract::widen);
        same_contract(Activities::catch, Contract::catch);
        same_contract(Activities::close, Contract::close);
    }

    #[test]
    fn service_areas_match_case_insensitively() {
        let areas = ServiceAreas::parse(" Kangnam, MAPO ,,");
        assert!(areas.contains("kangnam"));
        assert!(areas.contains("Mapo"));
        assert!(!areas.contains("busan"));
    }

    #[test]
    fn default_service_areas_are_the_spec_list() {
        let areas = ServiceAreas::default();
        for area in ["kangnam", "dongjak", "nowon", "mapo", "jongro", "bundang"] {
            assert!(areas.contains(area), "{area}");
        }
    }
}
