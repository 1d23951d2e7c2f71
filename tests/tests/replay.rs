//! Every recorded history under `tests/fixtures/` must replay on the current workflow code: a
//! change that would break calls already running fails here. Record new fixtures with
//! `UPDATE_FIXTURES=1 cargo test -p driver-call-tests --test saga`.

use driver_call_tests::workspace_root;

#[tokio::test]
async fn recorded_histories_of_the_main_paths_replay_on_the_current_code() {
    let dir = workspace_root().join("tests/fixtures");
    let mut fixtures: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/fixtures exists")
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
            "fixture {required} is missing: {names:?}"
        );
    }
    for path in fixtures {
        let json = std::fs::read(&path).expect("fixture readable");
        driver_call_tests::replay::replay(&json).await;
    }
}
