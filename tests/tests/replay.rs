//! Every recorded history under `tests/fixtures/` must replay on the current workflow code: a
//! change that would break calls already running fails here. Record new fixtures with
//! `UPDATE_FIXTURES=1 cargo test -p driver-call-tests --test saga --test fees` (into the current
//! generation).

use driver_call_tests::workspace_root;

fn fixtures_of(generation: &str) -> Vec<std::path::PathBuf> {
    let dir = workspace_root().join("tests/fixtures").join(generation);
    let mut fixtures: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{} exists: {e}", dir.display()))
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    fixtures.sort();
    let names: Vec<_> = fixtures
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    for required in [
        "completed",
        "payment_rejected",
        "out_of_area",
        "cancelled_after_dispatch",
        "denied",
    ] {
        assert!(
            names.iter().any(|n| n == required),
            "{generation}: fixture {required} is missing: {names:?}"
        );
    }
    fixtures
}

#[tokio::test]
async fn histories_recorded_before_the_dashboard_projection_still_replay() {
    for path in fixtures_of("v1") {
        driver_call_tests::replay::replay(&std::fs::read(&path).expect("fixture")).await;
    }
}

#[tokio::test]
async fn histories_recorded_with_the_dashboard_projection_still_replay() {
    for path in fixtures_of("v2") {
        driver_call_tests::replay::replay(&std::fs::read(&path).expect("fixture")).await;
    }
}

#[tokio::test]
async fn histories_recorded_with_the_unconfirmed_charge_refund_replay() {
    for path in fixtures_of("v3") {
        driver_call_tests::replay::replay(&std::fs::read(&path).expect("fixture")).await;
    }
}

#[tokio::test]
async fn histories_recorded_with_the_memo_projection_replay() {
    for path in fixtures_of("v4") {
        driver_call_tests::replay::replay(&std::fs::read(&path).expect("fixture")).await;
    }
}

#[tokio::test]
async fn histories_recorded_with_the_fee_rules_replay() {
    replay_with_fees("v5").await;
}

#[tokio::test]
async fn histories_recorded_with_the_results_projection_replay() {
    replay_with_fees("v6").await;
}

#[tokio::test]
async fn histories_recorded_with_offer_tiers_replay() {
    replay_with_tiers("v7").await;
}

#[tokio::test]
async fn histories_recorded_with_the_timeline_feed_replay() {
    replay_with_tiers("v8").await;
}

#[tokio::test]
async fn histories_recorded_with_hashed_numbers_and_encrypted_payloads_replay() {
    let generation = driver_call_tests::replay::CURRENT_GENERATION;
    // The generation's payloads are ciphertext (`binary/encrypted`, in base64 in the JSON): the
    // replay opens them with the tests' keys.
    for path in fixtures_of(generation) {
        let text = std::fs::read_to_string(&path).expect("fixture");
        assert!(
            text.contains("YmluYXJ5L2VuY3J5cHRlZA=="),
            "{}: no payload is encrypted",
            path.display()
        );
    }
    replay_with_tiers(generation).await;
}

/// A generation recorded with dispatch tiers also holds a widened, an assigned and a
/// widened-then-expired call.
async fn replay_with_tiers(generation: &str) {
    let fixtures = fixtures_of(generation);
    for required in ["widened_then_caught", "assigned", "widened_then_expired"] {
        assert!(
            fixtures
                .iter()
                .any(|p| p.file_stem().is_some_and(|s| s == required)),
            "{generation}: fixture {required} is missing"
        );
    }
    replay_with_fees(generation).await;
}

/// A generation recorded with the fee rules also holds a late cancel and a no-show.
async fn replay_with_fees(generation: &str) {
    let fixtures = fixtures_of(generation);
    for required in ["cancelled_with_fee", "no_show"] {
        assert!(
            fixtures
                .iter()
                .any(|p| p.file_stem().is_some_and(|s| s == required)),
            "{generation}: fixture {required} is missing"
        );
    }
    for path in fixtures {
        driver_call_tests::replay::replay(&std::fs::read(&path).expect("fixture")).await;
    }
}
