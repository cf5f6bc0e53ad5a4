//! `flatipc`: look inside live flatipc shared-memory rings, as AeronStat does for Aeron and
//! `iox2` for iceoryx2.
//!
//! - `flatipc ls`: every segment in `/dev/shm` with its kind, message types, capacity,
//!   positions, lag and peers alive or dead (and why other `flatipc.*` files cannot be read);
//! - `flatipc stat NAME [--watch]`: the header and counters of one segment;
//! - `flatipc tail NAME --schema FILE`: committed messages as JSON lines, decoded with the
//!   schema;
//! - `flatipc clean [NAME...]`: removes segments whose processes are all gone.
//!
//! Guarantees: nothing here writes to a segment, takes one of its locks or joins its ring (see
//! `flatipc::segment::inspect`); `clean` removes a segment only when no process holds any of its
//! locks, and never a file that is not a flatipc segment. `--json` prints JSON for scripts.
//! Exit codes: 0 success, 1 an error (the message says what to do), 2 a usage error.

mod clean;
mod decode;
mod error;
mod ls;
mod report;
mod segments;
mod stat;
mod tail;

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::error::CliError;

const EXAMPLES: &str = "Examples:
  flatipc ls
  flatipc stat quotes --watch
  flatipc tail quotes --schema schemas/market.fidl --follow
  flatipc tail quotes --schema market.ir.json --last 10
  flatipc clean --dry-run";

#[derive(Parser, Debug)]
#[command(
    name = "flatipc",
    version,
    about = "Look inside live flatipc shared-memory rings (segments in /dev/shm): positions, lag, \
             peers, decoded messages",
    after_help = EXAMPLES
)]
struct Cli {
    /// Print JSON for scripts instead of text (`tail` always prints JSON lines).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List segments: kind, message types, capacity, positions, lag, and peers alive or dead.
    Ls,
    /// Show the header and counters of one segment.
    Stat {
        /// Segment name (the file is /dev/shm/flatipc.NAME).
        name: String,
        /// Refresh in place until interrupted (with --json: one JSON object per line).
        #[arg(short, long)]
        watch: bool,
        /// Milliseconds between refreshes.
        #[arg(long, value_name = "MS", default_value_t = 1000)]
        interval: u64,
        /// Stop after this many refreshes.
        #[arg(long, value_name = "N")]
        count: Option<u64>,
    },
    /// Print committed messages as JSON lines, decoded with the schema; read-only, never
    /// disturbs the writer or the readers.
    Tail {
        /// Segment name.
        name: String,
        /// The schema: a .fidl file, or the JSON IR that `flatipc-gen --json-out` writes.
        #[arg(short, long, value_name = "FILE")]
        schema: PathBuf,
        /// Directory searched for imported libraries (the schema's own directory is searched
        /// too). May be repeated.
        #[arg(short = 'I', long = "include", value_name = "DIR")]
        include: Vec<PathBuf>,
        /// Start with the next message written, not the oldest one still in the ring.
        #[arg(long, conflicts_with = "last")]
        from_end: bool,
        /// Start with the last N messages committed.
        #[arg(long, value_name = "N")]
        last: Option<u64>,
        /// Keep printing messages as they are committed.
        #[arg(short, long)]
        follow: bool,
        /// Stop after N messages.
        #[arg(short = 'n', long = "count", value_name = "N")]
        count: Option<u64>,
        /// Milliseconds to sleep when --follow finds nothing new.
        #[arg(long, value_name = "MS", default_value_t = 10)]
        interval: u64,
    },
    /// Remove segments whose processes are all gone (no creator, writer or reader is alive);
    /// never touches live segments or files that are not flatipc segments.
    Clean {
        /// Only these segments (default: every segment in /dev/shm).
        names: Vec<String>,
        /// Say what would be removed, remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

fn run(cli: Cli) -> Result<(), CliError> {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match cli.command {
        Command::Ls => ls::run(cli.json, &mut out)?,
        Command::Stat { name, watch, interval, count } => {
            let interval = Duration::from_millis(interval);
            stat::run(
                &stat::StatOptions { name, json: cli.json, watch, interval, count },
                &mut out,
            )?;
        }
        Command::Tail { name, schema, include, from_end, last, follow, count, interval } => {
            let options = tail::TailOptions {
                name,
                schema,
                include,
                from_end,
                last,
                follow,
                count,
                interval: Duration::from_millis(interval),
            };
            tail::run(&options, &mut out, io::stderr().is_terminal())?;
        }
        Command::Clean { names, dry_run } => clean::run(&names, dry_run, cli.json, &mut out)?,
    }
    out.flush().map_err(CliError::Output)
}

fn main() -> ExitCode {
    // Usage errors exit with 2 (clap), `--help` and `--version` with 0.
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`flatipc tail ... | head`) is a normal end.
        Err(CliError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
