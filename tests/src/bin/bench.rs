//! `bench`: the load generator of `scripts/bench` (see `driver_call_tests::bench`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use driver_call_tests::bench::rest::{self, RestOptions};
use driver_call_tests::bench::watchers::{self, WatchersOptions};
use driver_call_tests::bench::{self, BenchOptions, Variant, long};

/// Drives N calls through their whole lifecycle for each build, alternating, on one dev server
/// (with `--long`, each step after a hold); or, with `--watchers`, holds idle offers streams
/// open and times offers onto them; or, with `--rest`, leaves open calls alone and measures
/// what they cost at rest.
#[derive(Debug, Parser)]
struct Cli {
    /// Calls per variant and round (default 40, with `--long` too); with `--watchers`, the paid
    /// calls whose offers are timed (default 20).
    #[arg(long)]
    calls: Option<usize>,
    /// Calls in flight at once (default 20; with `--long`, all the calls; with `--rest`, calls
    /// opened at once).
    #[arg(long)]
    concurrency: Option<usize>,
    /// Rounds (each runs every variant once; default 2, with `--long` 1).
    #[arg(long)]
    rounds: Option<usize>,
    /// The long-call mode: each call waits this long before each step after the create (see
    /// `driver_call_tests::bench::long`).
    #[arg(long, value_parser = humantime::parse_duration)]
    long: Option<Duration>,
    /// The watchers mode: this many drivers' offers streams held open (see
    /// `driver_call_tests::bench::watchers`).
    #[arg(long)]
    watchers: Option<usize>,
    /// The rest mode: this many calls opened and left alone (see
    /// `driver_call_tests::bench::rest`).
    #[arg(long)]
    rest: Option<usize>,
    /// With `--watchers` or `--rest`: how long each CPU measurement lasts.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    window: Duration,
    /// With `--rest`: how long everything rests before a measurement.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    settle: Duration,
    /// With `--rest`: customers' event streams held open.
    #[arg(long, default_value_t = 1000)]
    streams: usize,
    /// With `--rest`: open calls paid one at a time and timed onto their customers' streams.
    #[arg(long, default_value_t = 20)]
    timed: usize,
    /// A build to run, `name=dir` (the directory of driver-call-worker and driver-call-api);
    /// repeat for an A/B run (the first is the baseline of the ratio column).
    #[arg(long = "variant", required = true)]
    variants: Vec<String>,
    /// Where the reports (bench.json and bench.md; long, watchers or rest .json and .md in the
    /// other modes) and the logs go.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let variants = cli
        .variants
        .iter()
        .map(|v| {
            let (name, dir) = v
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--variant takes name=dir, got {v}"))?;
            Ok(Variant {
                name: name.to_owned(),
                bin_dir: PathBuf::from(dir),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let Some(watchers) = cli.watchers {
        return run_watchers(&cli, watchers, variants).await;
    }
    if let Some(calls) = cli.rest {
        return run_rest(&cli, calls, variants).await;
    }
    run_bench(&cli, variants).await
}

async fn run_watchers(cli: &Cli, watchers: usize, variants: Vec<Variant>) -> anyhow::Result<()> {
    let options = WatchersOptions {
        watchers,
        calls: cli.calls.unwrap_or(20),
        window: cli.window,
        variants,
        out_dir: cli.out.clone(),
    };
    let reports = watchers::run(&options).await?;
    show(
        &watchers::markdown(&options, &reports),
        &options.out_dir,
        "watchers",
    );
    Ok(())
}

async fn run_rest(cli: &Cli, calls: usize, variants: Vec<Variant>) -> anyhow::Result<()> {
    let options = RestOptions {
        calls,
        concurrency: cli.concurrency.unwrap_or(20),
        settle: cli.settle,
        window: cli.window,
        streams: cli.streams,
        timed: cli.timed,
        variants,
        out_dir: cli.out.clone(),
    };
    let reports = rest::run(&options).await?;
    show(
        &rest::markdown(&options, &reports),
        &options.out_dir,
        "rest",
    );
    Ok(())
}

/// The ordinary bench, or with `--long` the long-call mode (its own defaults: every call at
/// once, one round).
async fn run_bench(cli: &Cli, variants: Vec<Variant>) -> anyhow::Result<()> {
    let hold = cli.long.unwrap_or(Duration::ZERO);
    let calls = cli
        .calls
        .unwrap_or(if hold.is_zero() { 40 } else { long::CALLS });
    let (concurrency, rounds) = if hold.is_zero() {
        (20, 2)
    } else {
        (long::concurrency(calls), long::ROUNDS)
    };
    let options = BenchOptions {
        calls,
        concurrency: cli.concurrency.unwrap_or(concurrency),
        rounds: cli.rounds.unwrap_or(rounds),
        hold,
        variants,
        out_dir: cli.out.clone(),
    };
    if !hold.is_zero() {
        println!(
            "long-call mode: {} calls per variant and round, concurrency {}, {} round(s), a hold \
             of {} before each step after the create\n",
            options.calls,
            options.concurrency,
            options.rounds,
            humantime::format_duration(hold)
        );
    }
    let reports = bench::run(&options).await?;
    let name = options.report_name();
    show(&bench::markdown(&options, &reports), &options.out_dir, name);
    Ok(())
}

/// Prints a mode's table, and where its reports are.
fn show(markdown: &str, out_dir: &Path, name: &str) {
    print!("{markdown}");
    println!("\nwritten: {}/{name}.json and {name}.md", out_dir.display());
}
