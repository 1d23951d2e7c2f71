//! A smoke run of the load generator behind `scripts/bench` (a few calls), so it never rots. It
//! asserts what the bench reports, not how fast anything is: timing is the bench's, never a test's.
//! The watchers, rest and long-call modes get smoke runs of their own (a few streams, two
//! offers; twenty calls at rest, ten streams, three payments; three calls held a second).

use std::path::PathBuf;
use std::time::Duration;

use driver_call_tests::bench::rest::{self, RestOptions};
use driver_call_tests::bench::watchers::{self, WatchersOptions};
use driver_call_tests::bench::{self, BenchOptions, Variant};
use driver_call_tests::drill::binary;
use driver_call_tests::scratch_dir;

/// The debug build's binaries, as the variant `head`.
fn head() -> Variant {
    Variant {
        name: "head".into(),
        bin_dir: bin_dir(),
    }
}

fn bin_dir() -> PathBuf {
    binary("driver-call-api").parent().unwrap().to_path_buf()
}

/// A report the run wrote in `out_dir`.
fn read_report(out_dir: &std::path::Path, file: &str) -> String {
    std::fs::read_to_string(out_dir.join(file)).unwrap()
}

#[tokio::test]
async fn the_bench_drives_calls_to_completion_and_reports_what_the_histories_hold() {
    let options = BenchOptions {
        calls: 3,
        concurrency: 2,
        rounds: 1,
        hold: Duration::ZERO,
        variants: vec![
            Variant {
                name: "a".into(),
                bin_dir: bin_dir(),
            },
            Variant {
                name: "b".into(),
                bin_dir: bin_dir(),
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
    let table = read_report(&options.out_dir, "bench.md");
    assert!(table.contains("| history events per call |"), "{table}");
    assert!(table.contains("b / a"), "{table}");
    let json: serde_json::Value =
        serde_json::from_str(&read_report(&options.out_dir, "bench.json")).unwrap();
    assert_eq!(json["variants"][1]["calls"], 3);
}

#[tokio::test]
async fn the_watchers_mode_sees_every_offer_on_every_stream_of_its_area_and_off_it_again() {
    // Eight drivers round the six areas: the first call (kangnam) is due on the streams of
    // drivers 0 and 6, the second (dongjak) on those of 1 and 7.
    let options = WatchersOptions {
        watchers: 8,
        calls: 2,
        window: Duration::from_secs(1),
        variants: vec![head()],
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
    let table = read_report(&options.out_dir, "watchers.md");
    assert!(table.contains("| api CPU ms/s, 8 streams |"), "{table}");
    assert!(table.contains("| offers missed | 0 |"), "{table}");
    let json: serde_json::Value =
        serde_json::from_str(&read_report(&options.out_dir, "watchers.json")).unwrap();
    assert_eq!(json["variants"][0]["eligible"], 4);
}

#[tokio::test]
async fn the_rest_mode_measures_every_process_at_rest_and_times_payments_onto_the_streams() {
    // Twenty calls of twenty customers, ten streams (customers 0 to 9, one each): the first
    // payment (customer 0's) is waited for, the three timed ones (customers 1 to 3) are due on
    // one stream each.
    let options = RestOptions {
        calls: 20,
        concurrency: 5,
        settle: Duration::from_secs(2),
        window: Duration::from_secs(2),
        streams: 10,
        timed: 3,
        variants: vec![head()],
        out_dir: scratch_dir("bench-rest").unwrap(),
    };
    let reports = rest::run(&options).await.expect("the rest mode ran");
    let [report] = &reports[..] else {
        panic!("one report per variant: {reports:?}");
    };
    assert_eq!(report.calls, 20, "{report:?}");
    let every = ["server", "caller", "payment", "catcher", "dashboard", "api"];
    for (windows, stopped) in [
        (&report.all_contexts, None),
        (&report.dashboard_stopped, Some("dashboard")),
    ] {
        assert_eq!(windows.len(), 2, "{report:?}");
        for window in windows {
            let expected: Vec<&str> = every.into_iter().filter(|p| Some(*p) != stopped).collect();
            assert_eq!(window.len(), expected.len(), "{window:?}");
            for process in expected {
                let usage = &window[process];
                assert!(usage.cpu_ms_per_sec >= 0.0, "{process}: {window:?}");
                assert!(usage.rss_mib > 0.0, "{process}: {window:?}");
            }
        }
    }
    for window in [&report.no_stream, &report.with_streams] {
        assert!(window["api"].cpu_ms_per_sec >= 0.0, "{window:?}");
        assert!(!window.contains_key("dashboard"), "{window:?}");
    }
    assert_eq!(
        (report.streams, report.streams_heard),
        (10, 10),
        "{report:?}"
    );
    assert_eq!((report.timed, report.due), (3, 3), "{report:?}");
    assert_eq!(
        report.arrived, report.due,
        "every delivery came within 10 s: {report:?}"
    );
    assert_eq!(report.delivery.n, 3, "{report:?}");
    assert_eq!(report.streams_ended, 0, "{report:?}");
    let table = read_report(&options.out_dir, "rest.md");
    for row in [
        "| metric | head, all contexts | head, dashboard stopped |",
        "| server CPU ms/s, window 1 |",
        "| server CPU ms/s, window 2 |",
        "| server RSS MiB |",
        "| caller worker CPU ms/s, window 1 |",
        "| payment worker RSS MiB |",
        "| catcher worker CPU ms/s, window 2 |",
        "| api RSS MiB |",
        "| api CPU ms/s, no stream |",
        "| api CPU ms/s, 10 streams |",
        "| api CPU ms/s added by 10 streams |",
        "| CallPayed on a stream, from the pay answer, p99 ms |",
        "| deliveries due (paid call x stream of its customer) | 3 |",
        "| deliveries arrived within 10 s | 3 |",
    ] {
        assert!(table.contains(row), "{row} in {table}");
    }
    // The dashboard worker is measured with every context, not once it is stopped.
    let dashboard = table
        .lines()
        .find(|l| l.starts_with("| dashboard worker CPU ms/s, window 1 |"))
        .unwrap();
    assert!(dashboard.ends_with(" - |"), "{dashboard}");
    let json: serde_json::Value =
        serde_json::from_str(&read_report(&options.out_dir, "rest.json")).unwrap();
    assert_eq!(json["variants"][0]["arrived"], 3);
}

#[tokio::test]
async fn the_long_call_mode_holds_each_call_between_its_steps() {
    let options = BenchOptions {
        calls: 3,
        concurrency: 3,
        rounds: 1,
        hold: Duration::from_secs(1),
        variants: vec![head()],
        out_dir: scratch_dir("bench-long").unwrap(),
    };
    let reports = bench::run(&options).await.expect("the long-call mode ran");
    let [report] = &reports[..] else {
        panic!("one report per variant: {reports:?}");
    };
    assert_eq!(report.calls, 3, "{report:?}");
    for step in [
        "create", "pay", "dispatch", "catch", "arrive", "start", "complete",
    ] {
        assert_eq!(report.steps[step].n, 3, "{step}: {report:?}");
    }
    // Five holds of a second: before the pay, the catch, and each trip step.
    assert!(report.lifecycle.p50 >= 5000.0, "{report:?}");
    assert_eq!(report.sse_delay.n, 3 * 5, "{report:?}");
    for process in ["server", "worker", "api"] {
        assert!(
            report.cpu_ms_per_call[process] >= 0.0,
            "{process}: {report:?}"
        );
    }
    assert!(report.cpu_ms_per_call["server"] > 0.0, "{report:?}");
    let table = read_report(&options.out_dir, "long.md");
    assert!(
        table.contains("each step after the create 1s later"),
        "{table}"
    );
    assert!(table.contains("| server CPU ms per call |"), "{table}");
    assert!(
        !options.out_dir.join("bench.md").exists(),
        "the ordinary report is kept"
    );
    let json: serde_json::Value =
        serde_json::from_str(&read_report(&options.out_dir, "long.json")).unwrap();
    assert_eq!(json["holdSecs"], 1.0);
}
