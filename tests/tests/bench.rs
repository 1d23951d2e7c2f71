//! A smoke run of the load generator behind `scripts/bench` (a few calls), so it never rots. It
//! asserts what the bench reports, not how fast anything is: timing is the bench's, never a test's.
//! The watchers mode gets a smoke run of its own (a few streams, two offers).

use std::time::Duration;

use driver_call_tests::bench::watchers::{self, WatchersOptions};
use driver_call_tests::bench::{self, BenchOptions, Variant};
use driver_call_tests::drill::binary;
use driver_call_tests::scratch_dir;

#[tokio::test]
async fn the_bench_drives_calls_to_completion_and_reports_what_the_histories_hold() {
    let bin_dir = binary("driver-call-api").parent().unwrap().to_path_buf();
    let options = BenchOptions {
        calls: 3,
        concurrency: 2,
        rounds: 1,
        variants: vec![
            Variant {
                name: "a".into(),
                bin_dir: bin_dir.clone(),
            },
            Variant {
                name: "b".into(),
                bin_dir,
            },
        ],
        out_dir: scratch_dir("bench").unwrap(),
    };
    let reports = bench::run(&options).await.expect("the bench ran");
    assert_eq!(reports.len(), 2);
    for report in &reports {
        assert_eq!(report.calls, 3, "{report:?}");
        assert!(report.calls_per_second > 0.0, "{report:?}");
        // Every call ran create, pay, catch and three trip steps, each a completed update or
        // start: a happy-path history holds at least these activities and tasks.
        assert!(report.activities_per_call >= 4.0, "{report:?}");
        assert!(report.workflow_tasks_per_call >= 6.0, "{report:?}");
        assert!(
            report.events_per_call > report.activities_per_call * 3.0,
            "{report:?}"
        );
        for step in [
            "create", "pay", "dispatch", "catch", "arrive", "start", "complete",
        ] {
            assert_eq!(report.steps[step].n, 3, "{step}: {report:?}");
        }
        assert_eq!(report.sse_delay.n, 3 * 5, "{report:?}");
        assert!(report.cpu_ms_per_call["server"] > 0.0, "{report:?}");
    }
    let table = std::fs::read_to_string(options.out_dir.join("bench.md")).unwrap();
    assert!(table.contains("| history events per call |"), "{table}");
    assert!(table.contains("b / a"), "{table}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(options.out_dir.join("bench.json")).unwrap())
            .unwrap();
    assert_eq!(json["variants"][1]["calls"], 3);
}

#[tokio::test]
async fn the_watchers_mode_sees_every_offer_on_every_stream_of_its_area_and_off_it_again() {
    let bin_dir = binary("driver-call-api").parent().unwrap().to_path_buf();
    // Eight drivers round the six areas: the first call (kangnam) is due on the streams of
    // drivers 0 and 6, the second (dongjak) on those of 1 and 7.
    let options = WatchersOptions {
        watchers: 8,
        calls: 2,
        window: Duration::from_secs(1),
        variants: vec![Variant {
            name: "head".into(),
            bin_dir,
        }],
        out_dir: scratch_dir("bench-watchers").unwrap(),
    };
    let reports = watchers::run(&options)
        .await
        .expect("the watchers mode ran");
    let [report] = &reports[..] else {
        panic!("one report per variant: {reports:?}");
    };
    assert_eq!((report.streams, report.calls), (8, 2), "{report:?}");
    assert_eq!(report.eligible, 4, "{report:?}");
    assert_eq!(
        report.missed, 0,
        "every stream of the area got the offer: {report:?}"
    );
    assert_eq!(report.delivery.n, 4, "{report:?}");
    assert_eq!(report.delivery_from_recorded.n, 4, "{report:?}");
    assert_eq!(report.not_withdrawn, 0, "{report:?}");
    assert_eq!(report.withdrawal.n, 4, "{report:?}");
    assert_eq!(
        report.strays, 0,
        "no other area's stream got it: {report:?}"
    );
    assert_eq!(report.streams_ended, 0, "{report:?}");
    for process in ["server", "worker", "api"] {
        assert!(
            report.idle_cpu_ms_per_sec.contains_key(process),
            "{report:?}"
        );
        assert!(
            report.watched_cpu_ms_per_sec.contains_key(process),
            "{report:?}"
        );
    }
    let table = std::fs::read_to_string(options.out_dir.join("watchers.md")).unwrap();
    assert!(table.contains("| api CPU ms/s, 8 streams |"), "{table}");
    assert!(table.contains("| offers missed | 0 |"), "{table}");
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(options.out_dir.join("watchers.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json["variants"][0]["eligible"], 4);
}
