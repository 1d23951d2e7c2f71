//! `bench`: the load generator of `scripts/bench` (see `driver_call_tests::bench`).

use std::path::PathBuf;

use clap::Parser;
use driver_call_tests::bench::{self, BenchOptions, Variant};

/// Drives N calls through their whole lifecycle for each build, alternating, on one dev server.
#[derive(Debug, Parser)]
struct Cli {
    /// Calls per variant and round.
    #[arg(long, default_value_t = 40)]
    calls: usize,
    /// Calls in flight at once.
    #[arg(long, default_value_t = 20)]
    concurrency: usize,
    /// Rounds (each runs every variant once).
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// A build to run, `name=dir` (the directory of driver-call-worker and driver-call-api);
    /// repeat for an A/B run (the first is the baseline of the ratio column).
    #[arg(long = "variant", required = true)]
    variants: Vec<String>,
    /// Where bench.json, bench.md and the logs go.
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
    let options = BenchOptions {
        calls: cli.calls,
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
