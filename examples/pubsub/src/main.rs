//! Two processes, one typed shared-memory channel.
//!
//! `cargo run --release -p flatipc-pubsub` starts a subscriber and a publisher as two separate
//! processes: the publisher `loan`s `market.data/Quote` messages directly in shared memory,
//! fills and commits them; the subscriber reads them in place and checks every one.
//!
//! Run the two sides yourself (in two terminals, in either order):
//! `cargo run --release -p flatipc-pubsub -- subscribe` and
//! `cargo run --release -p flatipc-pubsub -- publish --count 1000000`.

use std::process::{Command, ExitCode};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use flatipc::channel::{ChannelOptions, Reader, RecvError, Writer};

// A binary uses only part of a schema; the rest would be reported as dead code.
#[allow(dead_code)]
mod market_common {
    flatipc::include_schema!("market_common");
}
#[allow(dead_code)]
mod market_data {
    flatipc::include_schema!("market_data");
}

use market_data::{Quote, TradingStatus, Venue};

#[derive(Parser, Debug)]
#[command(about = "flatipc publisher/subscriber over /dev/shm")]
struct Cli {
    /// Segment name (the file is `/dev/shm/flatipc.<name>`).
    #[arg(long, default_value = "pubsub-quotes", global = true)]
    name: String,
    #[command(subcommand)]
    role: Option<Role>,
}

#[derive(Subcommand, Debug)]
enum Role {
    /// Publish quotes, then exit.
    Publish {
        /// How many quotes.
        #[arg(long, default_value_t = 1_000_000)]
        count: u64,
    },
    /// Receive quotes until the publisher has gone and everything was read.
    Subscribe,
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn options() -> ChannelOptions {
    ChannelOptions { capacity: 4096, ..ChannelOptions::default() }
}

fn publish(name: &str, count: u64) -> Result<(), String> {
    let mut writer =
        Writer::<Quote>::open_or_create(name, &options()).map_err(|e| e.to_string())?;
    let start = writer.position();
    for seq in start..start + count {
        // Wait for a free slot, then build the message in place.
        let mut quote = loop {
            match writer.loan() {
                Ok(q) => break q,
                Err(flatipc::channel::SendError::Full) => std::hint::spin_loop(),
                Err(e) => return Err(e.to_string()),
            }
        };
        quote.sequence = seq;
        quote.exchange_ts_ns = now_ns();
        quote.symbol.set(if seq % 2 == 0 { "AAPL" } else { "MSFT" }).map_err(|e| e.to_string())?;
        quote.bid.mantissa = 18_900 + i64::try_from(seq % 100).unwrap_or(0);
        quote.bid.exponent = -2;
        quote.ask = quote.bid;
        quote.ask.mantissa += 1;
        quote.bid_size = 100;
        quote.ask_size = 200;
        quote.venue = Venue::XNAS;
        quote.status = TradingStatus::OPEN;
        quote.commit();
    }
    println!("publisher: sent {count} quotes ({start}..{})", start + count);
    Ok(())
}

fn subscribe(name: &str) -> Result<(), String> {
    let mut reader =
        Reader::<Quote>::open_or_create(name, &options()).map_err(|e| e.to_string())?;
    let mut received = 0u64;
    let mut expected = reader.position();
    let mut latency_sum = 0u64;
    let start = Instant::now();
    loop {
        match reader.recv_timeout(Duration::from_secs(30)) {
            Ok(quote) => {
                if quote.sequence != expected || quote.ask.mantissa != quote.bid.mantissa + 1 {
                    return Err(format!(
                        "quote {} is wrong (expected sequence {expected})",
                        quote.sequence
                    ));
                }
                latency_sum += now_ns().saturating_sub(quote.exchange_ts_ns);
                expected += 1;
                received += 1;
            }
            Err(RecvError::Disconnected) => break,
            Err(e) => return Err(e.to_string()),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "subscriber: received {received} quotes in order, {:.1} M/s, mean time from publish to read (incl. queueing) {} ns",
        received as f64 / secs / 1e6,
        latency_sum / received.max(1)
    );
    Ok(())
}

fn demo(name: &str) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    println!("starting a subscriber and a publisher as two processes on /dev/shm/flatipc.{name}");
    let mut subscriber = Command::new(&exe)
        .args(["--name", name, "subscribe"])
        .spawn()
        .map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_millis(100));
    let publisher = Command::new(&exe)
        .args(["--name", name, "publish", "--count", "1000000"])
        .status()
        .map_err(|e| e.to_string())?;
    let subscribed = subscriber.wait().map_err(|e| e.to_string())?;
    let _ = flatipc::Segment::remove(name);
    if publisher.success() && subscribed.success() {
        println!("done: both processes agree on every quote");
        Ok(())
    } else {
        Err("a process failed".to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.role {
        Some(Role::Publish { count }) => publish(&cli.name, count),
        Some(Role::Subscribe) => subscribe(&cli.name),
        None => demo(&cli.name),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
