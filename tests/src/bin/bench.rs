//! `bench`: the load generator of `scripts/bench` (see `driver_call_tests::bench`).

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use driver_call_tests::bench::watchers::{self, WatchersOptions};
use driver_call_tests::bench::{self, BenchOptions, Variant};

/// Drives N calls through their whole lifecycle for each build, alternating, on one dev server;
/// or, with `--watchers`, holds idle offers streams open and times offers onto them.
#[derive(Debug, Parser)]
struct Cli {
    /// Calls per variant and round (default 40); with `--watchers`, the paid calls whose offers
    /// are timed (default 20).
    #[arg(long)]
    calls: Option<usize>,
    /// Calls in flight at once.
    #[arg(long, default_value_t = 20)]
    concurrency: usize,
    /// Rounds (each runs every variant once).
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// The watchers mode: this many drivers' offers streams held open (see
    /// `driver_call_tests::bench::watchers`).
    #[arg(long)]
    watchers: Option<usize>,
    /// With `--watchers`: how long each at-rest CPU measurement lasts.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    window: Duration,
    /// A build to run, `name=dir` (the directory of driver-call-worker and driver-call-api);
    /// repeat for an A/B run (the first is the baseline of the ratio column).
    #[arg(long = "variant", required = true)]
    variants: Vec<String>,
    /// Where the reports (bench.json and bench.md, or watchers.json and watchers.md) and the
    /// logs go.
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
        let options = WatchersOptions {
            watchers,
            calls: cli.calls.unwrap_or(20),
            window: cli.window,
            variants,
            out_dir: cli.out,
        };
        let reports = watchers::run(&options).await?;
        print!("{}", watchers::markdown(&options, &reports));
        println!(
            "\nwritten: {}/watchers.json and watchers.md",
            options.out_dir.display()
        );
        return Ok(());
    }
    let options = BenchOptions {
        calls: cli.calls.unwrap_or(40),
        concurrency: cli.concurrency,
        rounds: cli.rounds,
        variants,
        out_dir: cli.out,
    };
    let reports = bench::run(&options).await?;
    print!("{}", bench::markdown(&options, &reports));
    println!(
        "\nwritten: {}/bench.json and bench.md",
        options.out_dir.display()
    );
    Ok(())
}
