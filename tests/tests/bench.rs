//! A smoke run of the load generator behind `scripts/bench` (a few calls), so it never rots. It
//! asserts what the bench reports, not how fast anything is: timing is the bench's, never a test's.

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
