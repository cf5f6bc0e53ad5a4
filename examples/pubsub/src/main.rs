//! Processes over shared memory: a typed channel, a framed stream, then a broadcast ring.
//!
//! `cargo run --release -p flatipc-pubsub` starts a subscriber and a publisher as two separate
//! processes, twice:
//! - over a typed channel, the publisher `loan`s `market.data/Quote` messages directly in shared
//!   memory, fills and commits them; the subscriber reads them in place and checks every one;
//! - over a framed stream of the whole `market.data` library, the publisher interleaves `Trade`s
//!   and `Quote`s; the subscriber dispatches on the generated `market_data::AnyMessage` enum;
//! - over a broadcast ring (`--fanout`), one publisher and two subscribers started at different
//!   times: a tethered one (sees every quote) and a lossy one (`--lossy`, never slows the
//!   publisher down, and reports how many quotes it missed);
//! - over a broadcast stream of the whole library (`--fanout --stream`), the same with
//!   interleaved `Trade`s and `Quote`s.
//!
//! Run the two sides yourself (in two terminals, in either order; add `--stream` and/or
//! `--fanout` to both): `cargo run --release -p flatipc-pubsub -- subscribe` and
//! `cargo run --release -p flatipc-pubsub -- publish --count 1000000`.

use std::process::{Command, ExitCode};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use flatipc::broadcast::{
    BroadcastOptions, BroadcastReader, BroadcastStreamReader, BroadcastStreamWriter,
    BroadcastWriter, Policy, ReaderOptions, StartAt,
};
use flatipc::channel::{ChannelOptions, Reader, RecvError, SendError, Writer};
use flatipc::stream::{StreamOptions, StreamReader, StreamWriter, ViewError};

// A binary uses only part of a schema; the rest would be reported as dead code.
#[allow(dead_code)]
mod market_common {
    flatipc::include_schema!("market_common");
}
#[allow(dead_code)]
mod market_data {
    flatipc::include_schema!("market_data");
}

use market_data::{AnyMessage, Library, Quote, Trade, TradeFlags, TradingStatus, Venue};

#[derive(Parser, Debug)]
#[command(about = "flatipc publisher/subscriber over /dev/shm")]
struct Cli {
    /// Segment name (the file is `/dev/shm/flatipc.<name>`).
    #[arg(long, default_value = "pubsub-quotes", global = true)]
    name: String,
    /// Use a framed stream of every `market.data` message instead of a typed `Quote` channel.
    #[arg(long, global = true)]
    stream: bool,
    /// Use a broadcast ring (many subscribers): of `Quote`s, or with `--stream` of every
    /// `market.data` message.
    #[arg(long, global = true)]
    fanout: bool,
    /// Fan-out subscribers only: be lossy (never slow the publisher down) instead of tethered.
    #[arg(long, global = true)]
    lossy: bool,
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

/// Retries a loan until the ring has room (spinning); any other error ends the run.
macro_rules! wait_loan {
    ($loan:expr) => {
        loop {
            match $loan {
                Ok(loan) => break loan,
                Err(SendError::Full) => std::hint::spin_loop(),
                Err(e) => return Err(e.to_string()),
            }
        }
    };
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
        let mut quote = wait_loan!(writer.loan());
        fill_quote(&mut quote, seq)?;
        quote.commit();
    }
    println!("publisher: sent {count} quotes ({start}..{})", start + count);
    Ok(())
}

/// Fills `quote` as message `seq` of the feed.
fn fill_quote(quote: &mut Quote, seq: u64) -> Result<(), String> {
    quote.sequence = seq;
    quote.exchange_ts_ns = now_ns();
    quote
        .symbol
        .set(if seq.is_multiple_of(2) { "AAPL" } else { "MSFT" })
        .map_err(|e| e.to_string())?;
    quote.bid.mantissa = 18_900 + i64::try_from(seq % 100).unwrap_or(0);
    quote.bid.exponent = -2;
    quote.ask = quote.bid;
    quote.ask.mantissa += 1;
    quote.bid_size = 100;
    quote.ask_size = 200;
    quote.venue = Venue::XNAS;
    quote.status = TradingStatus::OPEN;
    Ok(())
}

/// Fills `trade` as message `seq` of the feed.
fn fill_trade(trade: &mut Trade, seq: u64) {
    trade.sequence = seq;
    trade.exchange_ts_ns = now_ns();
    trade.price.mantissa = 18_900 + i64::try_from(seq % 100).unwrap_or(0);
    trade.price.exponent = -2;
    trade.quantity = 100;
    trade.venue = Venue::XNAS;
    trade.flags = TradeFlags::empty();
}

/// Publishes `count` messages on a framed stream, numbered by one sequence: every third one a
/// `Trade`, the others `Quote`s, each built in place in the ring.
fn publish_stream(name: &str, count: u64) -> Result<(), String> {
    let mut writer = StreamWriter::<Library>::open_or_create(name, &stream_options())
        .map_err(|e| e.to_string())?;
    for seq in 0..count {
        if seq.is_multiple_of(3) {
            let mut trade = wait_loan!(writer.loan::<Trade>());
            fill_trade(&mut trade, seq);
            trade.commit();
        } else {
            let mut quote = wait_loan!(writer.loan::<Quote>());
            fill_quote(&mut quote, seq)?;
            quote.commit();
        }
    }
    println!("publisher: sent {count} trades and quotes on a framed stream");
    Ok(())
}

fn stream_options() -> StreamOptions {
    StreamOptions { capacity: 1 << 20, ..StreamOptions::default() }
}

/// The sequence number of a frame's message, dispatching on the generated view enum (each
/// variant is `&T` into the ring or the reader's copy) and counting trades and quotes; `None`
/// for an id this build does not know.
fn sequence_of(
    message: Option<Result<AnyMessage<'_>, ViewError>>,
    trades: &mut u64,
    quotes: &mut u64,
) -> Result<Option<u64>, String> {
    match message {
        Some(Ok(AnyMessage::Trade(trade))) => {
            *trades += 1;
            Ok(Some(trade.sequence))
        }
        Some(Ok(AnyMessage::Quote(quote))) => {
            *quotes += 1;
            if quote.ask.mantissa != quote.bid.mantissa + 1 {
                return Err(format!("quote {} is wrong", quote.sequence));
            }
            Ok(Some(quote.sequence))
        }
        Some(Ok(other)) => Err(format!("unexpected message {}", other.name())),
        Some(Err(e)) => Err(e.to_string()),
        None => Ok(None),
    }
}

fn subscribe_stream(name: &str) -> Result<(), String> {
    let mut reader = StreamReader::<Library>::open_or_create(name, &stream_options())
        .map_err(|e| e.to_string())?;
    let (mut trades, mut quotes, mut expected) = (0u64, 0u64, 0u64);
    loop {
        let frame = match reader.recv_timeout(Duration::from_secs(30)) {
            Ok(frame) => frame,
            Err(RecvError::Disconnected) => break,
            Err(e) => return Err(e.to_string()),
        };
        let Some(sequence) = sequence_of(frame.message(), &mut trades, &mut quotes)? else {
            continue; // an id this build does not know: skip it
        };
        if sequence != expected {
            return Err(format!("message {sequence} arrived, expected {expected}"));
        }
        expected += 1;
    }
    println!(
        "subscriber: received {trades} trades and {quotes} quotes in order on a framed stream"
    );
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

fn fanout_options() -> BroadcastOptions {
    BroadcastOptions { capacity: 4096, max_readers: 4, ..BroadcastOptions::default() }
}

/// Publishes `count` quotes on a broadcast ring: `send` waits for tethered subscribers only.
fn publish_fanout(name: &str, count: u64) -> Result<(), String> {
    let mut writer = BroadcastWriter::<Quote>::open_or_create(name, &fanout_options())
        .map_err(|e| e.to_string())?;
    let start = writer.position();
    for seq in start..start + count {
        let mut quote = writer.loan();
        fill_quote(&mut quote, seq)?;
        quote.commit().map_err(|e| e.to_string())?;
    }
    println!("publisher: sent {count} quotes on a broadcast ring");
    Ok(())
}

/// Receives quotes from a broadcast ring until the publisher has gone: a tethered subscriber
/// must see every quote from the one it started at; a lossy one may miss some, and says how many.
fn subscribe_fanout(name: &str, lossy: bool) -> Result<(), String> {
    let policy = if lossy { Policy::Lossy } else { Policy::Tethered };
    let options = ReaderOptions { policy, start: StartAt::Next, ..ReaderOptions::default() };
    let mut reader = BroadcastReader::<Quote>::open_or_create(name, &fanout_options(), &options)
        .map_err(|e| e.to_string())?;
    let (mut received, mut first, mut expected) = (0u64, None, 0u64);
    loop {
        let quote = match reader.recv_timeout(Duration::from_secs(30)) {
            Ok(quote) => quote,
            Err(RecvError::Disconnected) => break,
            Err(e) => return Err(e.to_string()),
        };
        let sequence = quote.sequence;
        let first = *first.get_or_insert(sequence);
        if sequence != first && sequence != expected + quote.missed() {
            return Err(format!("quote {sequence} arrived, expected {expected}"));
        }
        if quote.ask.mantissa != quote.bid.mantissa + 1 {
            return Err(format!("quote {sequence} is wrong"));
        }
        expected = sequence + 1;
        received += 1;
    }
    let kind = if lossy { "lossy" } else { "tethered" };
    println!(
        "{kind} subscriber: received {received} quotes in order from quote {}, missed {}",
        first.unwrap_or(0),
        reader.missed()
    );
    if !lossy && reader.missed() != 0 {
        return Err("a tethered subscriber missed quotes".into());
    }
    Ok(())
}

/// Publishes `count` trades and quotes (one sequence, every third a `Trade`) on a broadcast
/// stream of the whole library.
fn publish_fanout_stream(name: &str, count: u64) -> Result<(), String> {
    let mut writer = BroadcastStreamWriter::<Library>::open_or_create(name, &fanout_options())
        .map_err(|e| e.to_string())?;
    let start = writer.position();
    for seq in start..start + count {
        if seq.is_multiple_of(3) {
            let mut trade = writer.loan::<Trade>().map_err(|e| e.to_string())?;
            fill_trade(&mut trade, seq);
            trade.commit().map_err(|e| e.to_string())?;
        } else {
            let mut quote = writer.loan::<Quote>().map_err(|e| e.to_string())?;
            fill_quote(&mut quote, seq)?;
            quote.commit().map_err(|e| e.to_string())?;
        }
    }
    println!("publisher: sent {count} trades and quotes on a broadcast stream");
    Ok(())
}

/// Receives trades and quotes from a broadcast stream until the publisher has gone, dispatching
/// on the generated `AnyMessage`; checks order as `subscribe_fanout` does.
fn subscribe_fanout_stream(name: &str, lossy: bool) -> Result<(), String> {
    let policy = if lossy { Policy::Lossy } else { Policy::Tethered };
    let options = ReaderOptions { policy, start: StartAt::Next, ..ReaderOptions::default() };
    let mut reader =
        BroadcastStreamReader::<Library>::open_or_create(name, &fanout_options(), &options)
            .map_err(|e| e.to_string())?;
    let (mut trades, mut quotes, mut first, mut expected) = (0u64, 0u64, None, 0u64);
    loop {
        let frame = match reader.recv_timeout(Duration::from_secs(30)) {
            Ok(frame) => frame,
            Err(RecvError::Disconnected) => break,
            Err(e) => return Err(e.to_string()),
        };
        let Some(sequence) = sequence_of(frame.message(), &mut trades, &mut quotes)? else {
            continue; // an id this build does not know: skip it
        };
        let first = *first.get_or_insert(sequence);
        if sequence != first && sequence != expected + frame.missed() {
            return Err(format!("message {sequence} arrived, expected {expected}"));
        }
        expected = sequence + 1;
    }
    let kind = if lossy { "lossy" } else { "tethered" };
    println!(
        "{kind} subscriber: received {trades} trades and {quotes} quotes in order from message {}, missed {}",
        first.unwrap_or(0),
        reader.missed()
    );
    if !lossy && reader.missed() != 0 {
        return Err("a tethered subscriber missed messages".into());
    }
    Ok(())
}

/// One publisher, two subscribers started at different times: a tethered one before the
/// publisher, a lossy one while it runs.
fn demo_fanout(name: &str, stream: bool, count: u64) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let what = if stream { "broadcast stream" } else { "broadcast ring" };
    println!("starting a publisher and two subscribers (tethered first, lossy later) on a {what}, /dev/shm/flatipc.{name}");
    let count = count.to_string();
    let spawn = |extra: &[&str]| {
        Command::new(&exe)
            .args(["--fanout", "--name", name])
            .args(if stream { &["--stream"][..] } else { &[] })
            .args(extra)
            .spawn()
            .map_err(|e| e.to_string())
    };
    let mut tethered = spawn(&["subscribe"])?;
    std::thread::sleep(Duration::from_millis(100));
    let mut publisher = spawn(&["publish", "--count", &count])?;
    std::thread::sleep(Duration::from_millis(20));
    let mut lossy = spawn(&["--lossy", "subscribe"])?;
    let published = publisher.wait().map_err(|e| e.to_string())?;
    let ok =
        [tethered.wait(), lossy.wait()].into_iter().all(|status| status.is_ok_and(|s| s.success()));
    let _ = flatipc::Segment::remove(name);
    if published.success() && ok {
        println!("done: every subscriber saw valid messages in order");
        Ok(())
    } else {
        Err("a process failed".to_string())
    }
}

fn demo(name: &str, stream: bool) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let what = if stream { "framed stream" } else { "typed channel" };
    println!("starting a subscriber and a publisher as two processes on a {what}, /dev/shm/flatipc.{name}");
    let flags: &[&str] = if stream { &["--stream", "--name", name] } else { &["--name", name] };
    let mut subscriber =
        Command::new(&exe).args(flags).arg("subscribe").spawn().map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_millis(100));
    let publisher = Command::new(&exe)
        .args(flags)
        .args(["publish", "--count", "1000000"])
        .status()
        .map_err(|e| e.to_string())?;
    let subscribed = subscriber.wait().map_err(|e| e.to_string())?;
    let _ = flatipc::Segment::remove(name);
    if publisher.success() && subscribed.success() {
        println!("done: both processes agree on every message");
        Ok(())
    } else {
        Err("a process failed".to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.role {
        Some(Role::Publish { count }) if cli.fanout && cli.stream => {
            publish_fanout_stream(&cli.name, count)
        }
        Some(Role::Subscribe) if cli.fanout && cli.stream => {
            subscribe_fanout_stream(&cli.name, cli.lossy)
        }
        Some(Role::Publish { count }) if cli.fanout => publish_fanout(&cli.name, count),
        Some(Role::Subscribe) if cli.fanout => subscribe_fanout(&cli.name, cli.lossy),
        Some(Role::Publish { count }) if cli.stream => publish_stream(&cli.name, count),
        Some(Role::Publish { count }) => publish(&cli.name, count),
        Some(Role::Subscribe) if cli.stream => subscribe_stream(&cli.name),
        Some(Role::Subscribe) => subscribe(&cli.name),
        None => demo(&cli.name, false)
            .and_then(|()| demo(&format!("{}-stream", cli.name), true))
            .and_then(|()| demo_fanout(&format!("{}-fanout", cli.name), false, 2_000_000))
            .and_then(|()| demo_fanout(&format!("{}-fanout-stream", cli.name), true, 1_000_000)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
