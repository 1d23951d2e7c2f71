//! Replay safety: a finished call's history must replay on the current workflow code. With
//! `UPDATE_FIXTURES=1` the history is also saved under `tests/fixtures/<generation>/`, where `replay.rs`
//! replays it on every later run, so a change that would break running calls fails the tests.

use crate::{connect, env, workspace_root};
use driver_call_workflows::DriverCallWorkflow;
use driver_call_workflows::domain::CallView;
use temporalio_client::WorkflowHistory;
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};

/// Fixtures are kept per generation of the workflow's command sequence: `v1` before the
/// `dashboard-projection` patch, `v2` with it, `v3` with `refund-unconfirmed-charge` too, `v4`
/// with `memo-projection` (the read model follows the history; no `dashboard.project`), `v5`
/// with the fee rules (`cancellation-fees`: a partial refund after a late cancel or a no-show),
/// `v6` with `results-projection` (the start and the updates' results hand the timeline on; a
/// memo only for what the run records by itself), `v7` with `offer-tiers` (a call with an area
/// from the tariff is dispatched in widening tiers; it also holds a widened, an assigned and a
/// widened-then-expired call), `v8` with `timeline-feed` (every change of the timeline sets
/// `TimelineAt`, which the dashboard's feed lists the changed calls by), `v9` with
/// `hashed-mobile` (`CustomerMobile` holds the number's keyed hash) and every payload encrypted
/// with the tests' keys. Histories of every generation must keep replaying.
pub const CURRENT_GENERATION: &str = "v9";

/// Fetches the call's history, replays it, and saves it as fixture `name` when asked to.
pub async fn check_and_record(call: &CallView, name: &str) {
    let client = connect(&env().temporal_address).await.expect("client");
    let handle = client
        .get_workflow_handle::<DriverCallWorkflow>(DriverCallWorkflow::workflow_id(&call.call_id));
    let json = handle
        .fetch_history(Default::default())
        .to_json()
        .await
        .expect("history");
    replay(&json).await;
    if std::env::var_os("UPDATE_FIXTURES").is_some() {
        let dir = workspace_root()
            .join("tests/fixtures")
            .join(CURRENT_GENERATION);
        std::fs::create_dir_all(&dir).expect("fixture directory");
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, &json).expect("fixture written");
    }
}

/// Replays one history in the Rust SDK's JSON layout.
pub async fn replay(json: &[u8]) {
    let replayer = WorkflowReplayer::new(
        WorkflowReplayerOptions::new()
            .register_workflow::<DriverCallWorkflow>()
            .expect("registered")
            // From v9 on the payloads are encrypted with the tests' keys; older ones are plain
            // and pass through.
            .data_converter(crate::test_payload_keys().data_converter())
            .build(),
    )
    .expect("replayer");
    let history = WorkflowHistory::from_json(json).expect("history JSON");
    replayer
        .replay_workflow(history)
        .await
        .expect("the history replays on the current code");
}
