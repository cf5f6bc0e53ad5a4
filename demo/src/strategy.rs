//! The Rust strategy role: a tethered reader of the broadcast stream. It reads every frame in
//! place (zero-copy; the feed cannot overwrite a slot it has not released), dispatches on the
//! generated `AnyMessage`, checks sequence numbers ([`Tally`]), folds the checksum, and records
//! publish-to-read latency from the timestamp inside each `market.data` message.
//!
//! It runs until it has seen every sequence number below `--count` and the feed has gone; a feed
//! that leaves earlier (the upgrade mode's version-1 feed) is waited for: the next writer to
//! attach continues on the same ring.

use std::time::Duration;

use flatipc::broadcast::{BroadcastFrame, BroadcastStreamReader, RecvError};
use flatipc::stream::MessageSet;
use hdrhistogram::Histogram;

use crate::checksum::Fold;
use crate::report::{self, now_ns, Progress};
use crate::rings::{fanout_options, reader_options};
use crate::schema::{evo_v1, market_data, Schema, HEARTBEAT_EVERY, STATUS_EVERY};
use crate::tally::{Kind, Tally};

/// The strategy's arguments (`flatipc-demo strategy ...`, started by the orchestrator).
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// The schema to read (`market` or `evo-v1`).
    #[arg(long, value_enum)]
    pub schema: Schema,
    /// The broadcast stream's segment name.
    #[arg(long)]
    pub fanout: String,
    /// Sequence numbers to expect (0 to count - 1).
    #[arg(long)]
    pub count: u64,
}

/// Give up when no message arrives and no feed is attached for this long.
const IDLE: Duration = Duration::from_secs(30);

/// Publish-to-read latencies, in nanoseconds.
struct Latency(Histogram<u64>);

impl Latency {
    fn new() -> Self {
        Latency(Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds"))
    }

    fn record(&mut self, now: u64, published: u64) {
        self.0.saturating_record(now.saturating_sub(published).max(1));
    }

    fn fields(&self) -> Vec<(&'static str, String)> {
        if self.0.is_empty() {
            return Vec::new();
        }
        let q = |q: f64| self.0.value_at_quantile(q).to_string();
        vec![
            ("samples", self.0.len().to_string()),
            ("p50", q(0.5)),
            ("p90", q(0.9)),
            ("p99", q(0.99)),
            ("p999", q(0.999)),
            ("max", self.0.max().to_string()),
        ]
    }
}

/// Runs the strategy.
///
/// # Errors
///
/// The ring could not be opened or read, or nothing arrived for 30 s.
pub fn run(args: &Args) -> Result<(), String> {
    match args.schema {
        Schema::Market => consume::<market_data::Library>(args, market),
        Schema::EvoV1 => consume::<evo_v1::Library>(args, evo),
        Schema::EvoV2 => Err("the upgrade mode's strategies read version 1".into()),
    }
}

/// Handles one frame: counts it in the tally, records its latency.
type Handle<S> = fn(&BroadcastFrame<'_, S>, &mut Tally, &mut Latency, u64);

fn consume<S: MessageSet>(args: &Args, handle: Handle<S>) -> Result<(), String> {
    let mut reader = BroadcastStreamReader::<S>::open_or_create(
        &args.fanout,
        &fanout_options(),
        &reader_options(),
    )
    .map_err(|e| format!("Rust strategy: {e}"))?;
    report::line("READY");
    let mut tally = Tally::new(Default::default());
    let mut latency = Latency::new();
    let mut progress = Progress::new();
    let mut idle_since = now_ns();
    loop {
        let now = match reader.recv_timeout(Duration::from_millis(100)) {
            Ok(frame) => {
                let now = now_ns();
                handle(&frame, &mut tally, &mut latency, now);
                idle_since = now;
                now
            }
            Err(RecvError::Disconnected) if tally.next >= args.count => break,
            Err(RecvError::Disconnected | RecvError::Timeout) => {
                // No feed (yet, or between two feeds), or a quiet one.
                std::thread::sleep(Duration::from_millis(1));
                let now = now_ns();
                if now - idle_since > IDLE.as_secs() * 1_000_000_000 {
                    return Err(format!(
                        "Rust strategy: nothing arrived for {} s (at sequence {})",
                        IDLE.as_secs(),
                        tally.next
                    ));
                }
                now
            }
            Err(e) => return Err(format!("Rust strategy: {e}")),
        };
        progress.tick(now, tally.messages);
    }
    let mut fields = tally.fields();
    fields.push(("missed", reader.missed().to_string()));
    fields.extend(latency.fields());
    report::result(&fields);
    Ok(())
}

/// Counts a message with a sequence number (and its latency, if it carries a publish time).
fn sequenced<T: Fold>(
    tally: &mut Tally,
    message: &T,
    seq: u64,
    kind: Kind,
    version: u16,
    now: u64,
) -> bool {
    let new = tally.sequenced(seq);
    if new {
        message.fold(&mut tally.checksum);
        tally.count(kind, version, now);
    }
    new
}

fn market(
    frame: &BroadcastFrame<'_, market_data::Library>,
    tally: &mut Tally,
    latency: &mut Latency,
    now: u64,
) {
    use market_data::AnyMessage;
    let version = frame.version();
    match frame.message() {
        Some(Ok(AnyMessage::Quote(q))) => {
            if sequenced(tally, q, q.sequence, Kind::Quote, version, now) {
                latency.record(now, q.receive_ts_ns);
            }
        }
        Some(Ok(AnyMessage::Trade(t))) => {
            if sequenced(tally, t, t.sequence, Kind::Trade, version, now) {
                latency.record(now, t.receive_ts_ns);
            }
        }
        Some(Ok(AnyMessage::BookSnapshot(b))) => {
            if sequenced(tally, b, b.sequence, Kind::Book, version, now) {
                latency.record(now, b.exchange_ts_ns);
            }
        }
        Some(Ok(AnyMessage::StatusChange(s))) => {
            if tally.marker(STATUS_EVERY) {
                s.fold(&mut tally.checksum);
                tally.count(Kind::Status, version, now);
                latency.record(now, s.exchange_ts_ns);
            }
        }
        Some(Err(_)) => tally.invalid += 1,
        None => {
            if tally.marker(STATUS_EVERY) {
                tally.count(Kind::Unknown, version, now);
            }
        }
    }
}

fn evo(
    frame: &BroadcastFrame<'_, evo_v1::Library>,
    tally: &mut Tally,
    _latency: &mut Latency,
    now: u64,
) {
    use evo_v1::AnyMessage;
    // A version-2 writer's frame is read in place: this reader's version-1 prefix of it.
    let version = frame.version();
    match frame.message() {
        Some(Ok(AnyMessage::Quote(q))) => {
            sequenced(tally, q, q.sequence, Kind::Quote, version, now);
        }
        Some(Ok(AnyMessage::Trade(t))) => {
            sequenced(tally, t, t.sequence, Kind::Trade, version, now);
        }
        Some(Err(_)) => tally.invalid += 1,
        // An id version 1 does not know: version 2's Heartbeat.
        None => {
            if tally.marker(HEARTBEAT_EVERY) {
                tally.count(Kind::Unknown, version, now);
            }
        }
    }
}
