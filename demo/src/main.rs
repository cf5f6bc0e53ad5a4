//! `flatipc-demo`, README command 1: `cargo run --release -p flatipc-demo`.
//!
//! One command builds everything (`build.rs`: the schema compiled for Rust and for C, the C
//! strategy compiled against `flatipc.h`) and starts three processes:
//!
//! ```text
//!                      ┌─ framed stream ─────────────────▶ C strategy (C11, reads in place)
//!  feed (Rust) ────────┤
//!                      └─ broadcast stream (tethered) ───▶ Rust strategy (reads in place)
//! ```
//!
//! The feed publishes 20 million `market.data` messages of four types, each stamped with
//! its publish time; both strategies check sequence numbers, fold a checksum over every field
//! and record publish-to-read latency. A live line shows the rates; the summary shows counts,
//! throughput, latency percentiles per hop and whether all checksums are equal. The exit status
//! is non-zero if anything disagrees, a process fails, the run times out, or a segment is left
//! in `/dev/shm`.
//!
//! `--upgrade` tells the second story (`demo/README.md`): a version-1 `market.evo` feed, the C
//! strategy killed with SIGKILL and restarted mid-stream (it resumes from the ring and skips
//! what is redelivered), then a version-2 feed on the same rings, read by the version-1
//! strategies that kept running.
//!
//! The orchestrator runs the Rust roles by re-executing itself (`feed`, `strategy`: hidden
//! subcommands).

mod checksum;
mod feed;
mod orchestrate;
mod procs;
mod report;
mod rings;
mod schema;
mod strategy;
mod summary;
mod tally;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    about = "flatipc demo: a Rust feed, a C strategy and a Rust strategy on shared-memory rings"
)]
struct Cli {
    /// Messages with a sequence number the feed publishes.
    #[arg(long, default_value_t = 20_000_000)]
    count: u64,
    /// The upgrade story: a version-1 feed, a restarted C strategy, then a version-2 feed
    /// serving the version-1 strategies.
    #[arg(long)]
    upgrade: bool,
    /// Prefix of the segment names (default `demo-<pid>`).
    #[arg(long)]
    name: Option<String>,
    /// Stop everything and fail after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    #[command(subcommand)]
    role: Option<Role>,
}

#[derive(Subcommand, Debug)]
enum Role {
    /// Publish (started by the orchestrator).
    #[command(hide = true)]
    Feed(feed::Args),
    /// Read the broadcast stream (started by the orchestrator).
    #[command(hide = true)]
    Strategy(strategy::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.role {
        Some(Role::Feed(args)) => feed::run(args),
        Some(Role::Strategy(args)) => strategy::run(args),
        None => {
            procs::install_signal_handlers();
            let prefix = cli.name.clone().unwrap_or_else(|| format!("demo-{}", std::process::id()));
            let valid = |c: char| c.is_ascii_alphanumeric() || "_-.".contains(c);
            if prefix.is_empty() || prefix.len() > 90 || !prefix.chars().all(valid) {
                eprintln!(
                    "error: --name: use 1 to 90 characters from A-Z, a-z, 0-9, '_', '-', '.'"
                );
                return ExitCode::from(2);
            }
            return orchestrate::run(orchestrate::Plan {
                count: cli.count.max(1),
                upgrade: cli.upgrade,
                prefix,
                timeout: Duration::from_secs(cli.timeout),
            });
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
