//! The catcher and dashboard activities through the SDK's `ActivityEnvironment`, each on a new
//! SQLite database: no Temporal server.

use std::sync::Arc;

use driver_call_activities::catcher::{self, CatcherStore, ServiceAreas};
use driver_call_activities::dashboard::{self, DashboardStore};
use driver_call_workflows::contracts::catcher::{
    CatchStatus, CloseCatchInput, OfferCallInput, OfferResult, RecordCatchInput,
};
use driver_call_workflows::contracts::dashboard::ProjectTimelineInput;
use driver_call_workflows::domain::{
    CallId, CallStatus, Driver, EventName, Krw, Location, MobileNumber, TimelineEvent,
};
use temporalio_sdk::testing::ActivityEnvironment;

fn sqlite(context: &str) -> String {
    let dir = std::env::temp_dir().join(format!("driver-call-{context}-{}", uuid::Uuid::new_v4()));
    format!("sqlite://{}/{context}.db", dir.display())
}

fn new_call() -> CallId {
    CallId::from_uuid(uuid::Uuid::new_v4())
}

fn offer(call_id: CallId, location: &str) -> OfferCallInput {
    OfferCallInput {
        call_id,
        location: Location::parse(location).unwrap(),
        destination: Some("Home".to_owned()),
        pay_amount: Krw::new(15000).unwrap(),
        area: None,
    }
}

#[tokio::test]
async fn an_offer_opens_in_a_served_area_and_a_far_call_is_out_of_area_with_no_offer() {
    let store = CatcherStore::connect(&sqlite("catcher")).await.unwrap();
    let activities = catcher::Activities::new(store.clone(), ServiceAreas::parse("mapo, Kangnam"));
    let env = ActivityEnvironment::builder()
        .register_activities(activities)
        .build();

    let near = new_call();
    let opened = env
        .run(catcher::Activities::offer, offer(near, "Mapo Hapjeong"))
        .await
        .unwrap();
    assert_eq!(
        opened,
        OfferResult::Received {
            area: "mapo".into()
        }
    );
    let listed = store.open_offers("mapo").await.unwrap();
    assert_eq!(
        listed
            .iter()
            .filter(|o| o.call_id == near.to_string())
            .count(),
        1
    );

    let far = new_call();
    let refused = env
        .run(catcher::Activities::offer, offer(far, "Busan Haeundae"))
        .await
        .unwrap();
    assert_eq!(
        refused,
        OfferResult::OutOfArea {
            area: "busan".into()
        }
    );
    assert!(store.find(&far.to_string()).await.unwrap().is_none());

    let driver = Driver::parse("d-1", "Kim").unwrap();
    let caught = RecordCatchInput {
        call_id: near,
        driver,
    };
    env.run(catcher::Activities::catch, caught).await.unwrap();
    let close = CloseCatchInput {
        call_id: near,
        status: CatchStatus::Completed,
    };
    env.run(catcher::Activities::close, close).await.unwrap();
    let row = store.find(&near.to_string()).await.unwrap().unwrap();
    assert_eq!(row.status, CatchStatus::Completed);
    assert_eq!(row.driver_id.as_deref(), Some("d-1"));
}

#[tokio::test]
async fn a_projected_batch_lands_once_on_the_timeline_and_the_customers_list() {
    let store = DashboardStore::connect(&sqlite("dashboard")).await.unwrap();
    let activities =
        dashboard::Activities::new(store.clone(), Arc::new(tokio::sync::Notify::new()));
    let env = ActivityEnvironment::builder()
        .register_activities(activities)
        .build();
    let call_id = new_call();
    let events: Vec<TimelineEvent> = [
        EventName::CallMade,
        EventName::PaymentApproved,
        EventName::CallPayed,
    ]
    .into_iter()
    .enumerate()
    .map(|(i, event)| TimelineEvent {
        seq: i as u32 + 1,
        event,
        at: format!("2026-12-01T10:00:0{i}.000Z"),
        description: event.as_str().to_owned(),
    })
    .collect();
    let input = ProjectTimelineInput {
        call_id,
        mobile: MobileNumber::parse("010-3333-4444").unwrap(),
        location: Location::parse("Mapo").unwrap(),
        pay_amount: Krw::new(9000).unwrap(),
        status: CallStatus::Paid,
        events: events.clone(),
    };
    env.run(dashboard::Activities::project, input.clone())
        .await
        .unwrap();
    env.run(dashboard::Activities::project, input)
        .await
        .unwrap(); // a retry
    assert_eq!(store.timeline(&call_id.to_string()).await.unwrap(), events);
    let (calls, _) = store.calls_of(Some("01033334444"), None, 10).await.unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].status, "PAID");
}
