//! The feed role: publishes every event twice, into the framed stream the C strategy reads and
//! into the broadcast stream the Rust strategy reads, stamping each with the publish time.
//!
//! Events are a function of their sequence number (so a feed that takes over from another just
//! continues the sequence). In `market.data`: every 64th a `BookSnapshot`, every 4th of the rest
//! a `Trade`, the others `Quote`s, and a `StatusChange` after every [`STATUS_EVERY`]th. In
//! `market.evo`: every 3rd a `Trade`, the others `Quote`s, and (version 2) a `Heartbeat` after
//! every [`HEARTBEAT_EVERY`]th.
//!
//! Each event is built in place in the framed stream's frame (zero-copy; a copy is sent only
//! when that ring is full, so that the wait parks instead of spinning), then copied into the
//! broadcast stream (a broadcast writer never lends ring memory), then committed.

use flatipc::broadcast::BroadcastStreamWriter;
use flatipc::stream::{InSet, MessageSet, SendError, StreamWriter};

use crate::checksum::{Checksum, Fold};
use crate::report::{self, now_ns, Progress};
use crate::rings::{fanout_options, stream_options};
use crate::schema::{
    evo_v1, evo_v2, market_common, market_data, Schema, HEARTBEAT_EVERY, STATUS_EVERY,
};
use crate::tally::{Kind, Tally};

/// The feed's arguments (`flatipc-demo feed ...`, started by the orchestrator).
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// The schema to write.
    #[arg(long, value_enum)]
    pub schema: Schema,
    /// The framed stream's segment name.
    #[arg(long)]
    pub stream: String,
    /// The broadcast stream's segment name.
    #[arg(long)]
    pub fanout: String,
    /// The first sequence number.
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// Messages with a sequence number to publish.
    #[arg(long)]
    pub count: u64,
    /// The checksum to continue (16 hex digits), when taking over from another feed.
    #[arg(long, value_parser = parse_hex)]
    pub checksum: Option<u64>,
}

fn parse_hex(text: &str) -> Result<u64, String> {
    u64::from_str_radix(text, 16).map_err(|e| format!("not a 64-bit hex number: {e}"))
}

/// The two rings of one library.
struct Rings<S: MessageSet> {
    stream: StreamWriter<S>,
    fanout: BroadcastStreamWriter<S>,
}

impl<S: MessageSet> Rings<S> {
    fn open(args: &Args) -> Result<Self, String> {
        let stream = StreamWriter::<S>::open_or_create(&args.stream, &stream_options())
            .map_err(|e| format!("feed: the framed stream: {e}"))?;
        let fanout = BroadcastStreamWriter::<S>::open_or_create(&args.fanout, &fanout_options())
            .map_err(|e| format!("feed: the broadcast stream: {e}"))?;
        Ok(Rings { stream, fanout })
    }

    /// Publishes one event into both rings, built by `fill`, and folds it into `sum`.
    fn publish<T: InSet<S> + Fold>(
        &mut self,
        sum: &mut Checksum,
        fill: impl FnOnce(&mut T),
    ) -> Result<(), String> {
        let fanout_error = |e: SendError| format!("feed: the broadcast stream: {e}");
        match self.stream.loan::<T>() {
            Ok(mut frame) => {
                fill(&mut frame);
                self.fanout.send(&*frame).map_err(fanout_error)?;
                frame.fold(sum);
                frame.commit();
            }
            Err(SendError::Full) => {
                let mut message = T::new_zeroed();
                fill(&mut message);
                self.stream.send(&message).map_err(|e| format!("feed: the framed stream: {e}"))?;
                self.fanout.send(&message).map_err(fanout_error)?;
                message.fold(sum);
            }
            Err(e) => return Err(format!("feed: the framed stream: {e}")),
        }
        Ok(())
    }
}

/// Runs the feed.
///
/// # Errors
///
/// A ring could not be opened or written.
pub fn run(args: &Args) -> Result<(), String> {
    match args.schema {
        Schema::Market => feed::<market_data::Library>(args, publish_market),
        Schema::EvoV1 => feed::<evo_v1::Library>(args, publish_evo_v1),
        Schema::EvoV2 => feed::<evo_v2::Library>(args, publish_evo_v2),
    }
}

/// Publishes the events of one sequence number (and what follows it) with `publish`.
type Publish<S> = fn(&mut Rings<S>, &mut Tally, u64) -> Result<(), String>;

fn feed<S: MessageSet>(args: &Args, publish: Publish<S>) -> Result<(), String> {
    let mut rings = Rings::<S>::open(args)?;
    report::line("READY");
    let mut tally = Tally::new(args.checksum.map_or_else(Checksum::default, Checksum));
    let mut progress = Progress::new();
    for seq in args.from..args.from + args.count {
        publish(&mut rings, &mut tally, seq)?;
        if seq.is_multiple_of(64) {
            progress.tick(now_ns(), tally.messages);
        }
    }
    // Dropping the writers detaches them: once drained, the strategies see the feed gone.
    drop(rings);
    report::result(&tally.fields());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// market.data

const SYMBOLS: [&str; 8] = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "BRK.B"];

/// Venue time of sequence number 0 (the venue's clock is simulated: 1 µs per message).
const VENUE_EPOCH_NS: u64 = 1_767_225_600_000_000_000;

fn symbol(seq: u64) -> market_common::Symbol {
    let mut s = market_common::Symbol::default();
    s.set(SYMBOLS[(seq % 8) as usize]).expect("the symbols fit in string<16>");
    s
}

/// A price in cents around $100-$150, `offset` ticks above the event's base price.
fn price(seq: u64, offset: i64) -> market_common::Price {
    let base = 10_000 + i64::try_from(seq.wrapping_mul(7919) % 5000).unwrap_or(0);
    market_common::Price { mantissa: base + offset, exponent: -2, ..Default::default() }
}

fn small(seq: u64, modulo: u64) -> u32 {
    u32::try_from(seq % modulo).unwrap_or(0)
}

fn publish_market(
    rings: &mut Rings<market_data::Library>,
    tally: &mut Tally,
    seq: u64,
) -> Result<(), String> {
    use market_data::{BookSnapshot, Level, Quote, StatusChange, Trade, TradeFlags, Venue};
    let now = now_ns();
    let venue = Venue(1 + u16::try_from(seq % 4).unwrap_or(0));
    let kind = if seq % 64 == 63 {
        rings.publish(&mut tally.checksum, |b: &mut BookSnapshot| {
            // The snapshot has no receive time: the demo's venue is the feed, which stamps
            // `exchange_ts_ns` at publish time.
            b.exchange_ts_ns = now;
            b.sequence = seq;
            b.symbol = symbol(seq);
            b.venue = venue;
            for depth in 0..1 + small(seq, 10) {
                let level = |offset| Level {
                    price: price(seq, offset),
                    quantity: 100 * (depth + 1),
                    order_count: u16::try_from(depth + 1).unwrap_or(0),
                    ..Default::default()
                };
                let _ = b.bids.push(level(-i64::from(depth)));
                let _ = b.asks.push(level(1 + i64::from(depth)));
            }
            b.auction_prices = [price(seq, 0), price(seq, 1)];
        })?;
        Kind::Book
    } else if seq % 4 == 1 {
        rings.publish(&mut tally.checksum, |t: &mut Trade| {
            t.exchange_ts_ns = VENUE_EPOCH_NS + seq * 1000;
            t.receive_ts_ns = now;
            t.sequence = seq;
            t.symbol = symbol(seq);
            t.price = price(seq, 0);
            t.quantity = 1 + small(seq, 500);
            t.venue = venue;
            t.flags = if seq % 8 == 1 { TradeFlags::AGGRESSOR_BUY } else { TradeFlags::empty() };
            t.is_block = (t.quantity >= 400).into();
        })?;
        Kind::Trade
    } else {
        rings.publish(&mut tally.checksum, |q: &mut Quote| {
            q.exchange_ts_ns = VENUE_EPOCH_NS + seq * 1000;
            q.receive_ts_ns = now;
            q.sequence = seq;
            q.symbol = symbol(seq);
            q.bid = price(seq, 0);
            q.ask = price(seq, 1);
            q.bid_size = 100 * (1 + small(seq, 9));
            q.ask_size = 100 * (1 + small(seq, 7));
            q.venue = venue;
            q.status = market_data::TradingStatus::OPEN;
        })?;
        Kind::Quote
    };
    tally.sequenced(seq);
    tally.count(kind, 2, now);
    if (seq + 1).is_multiple_of(STATUS_EVERY) {
        let halted = ((seq + 1) / STATUS_EVERY) % 2 == 1;
        rings.publish(&mut tally.checksum, |s: &mut StatusChange| {
            s.exchange_ts_ns = now;
            s.symbol = symbol(seq);
            s.status = if halted {
                market_data::TradingStatus::HALTED
            } else {
                market_data::TradingStatus::OPEN
            };
            let _ = s.reason.set(if halted { "volatility pause (LULD)" } else { "resumed" });
            s.expected_resume_ns = if halted { now + 5_000_000_000 } else { 0 };
        })?;
        tally.marker(STATUS_EVERY);
        tally.count(Kind::Status, 2, now);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// market.evo

fn evo_symbol(seq: u64) -> (u32, [u8; 16]) {
    let text = SYMBOLS[(seq % 8) as usize].as_bytes();
    let mut data = [0u8; 16];
    data[..text.len()].copy_from_slice(text);
    (u32::try_from(text.len()).unwrap_or(0), data)
}

fn publish_evo_v1(
    rings: &mut Rings<evo_v1::Library>,
    tally: &mut Tally,
    seq: u64,
) -> Result<(), String> {
    let (len, data) = evo_symbol(seq);
    let p = price(seq, 0);
    let kind = if seq.is_multiple_of(3) {
        rings.publish(&mut tally.checksum, |t: &mut evo_v1::Trade| {
            t.sequence = seq;
            (t.symbol.len, t.symbol.data) = (len, data);
            (t.price.mantissa, t.price.exponent) = (p.mantissa, p.exponent);
            t.quantity = 1 + small(seq, 500);
            t.aggressor = evo_v1::Side(1 + u8::try_from(seq % 2).unwrap_or(0));
        })?;
        Kind::Trade
    } else {
        rings.publish(&mut tally.checksum, |q: &mut evo_v1::Quote| {
            q.sequence = seq;
            (q.symbol.len, q.symbol.data) = (len, data);
            (q.bid.mantissa, q.bid.exponent) = (p.mantissa, p.exponent);
            (q.ask.mantissa, q.ask.exponent) = (p.mantissa + 1, p.exponent);
            q.venue = evo_v1::Venue(1 + u16::try_from(seq % 2).unwrap_or(0));
            q.legacy_flags = 0x4C00_0000 | small(seq, 0x1_0000);
        })?;
        Kind::Quote
    };
    tally.sequenced(seq);
    tally.count(kind, 1, now_ns());
    Ok(())
}

fn publish_evo_v2(
    rings: &mut Rings<evo_v2::Library>,
    tally: &mut Tally,
    seq: u64,
) -> Result<(), String> {
    let (len, data) = evo_symbol(seq);
    let p = price(seq, 0);
    let kind = if seq.is_multiple_of(3) {
        rings.publish(&mut tally.checksum, |t: &mut evo_v2::Trade| {
            t.sequence = seq;
            (t.symbol.len, t.symbol.data) = (len, data);
            (t.price.mantissa, t.price.exponent) = (p.mantissa, p.exponent);
            t.quantity = 1 + small(seq, 500);
            t.aggressor = evo_v2::Side(1 + u8::try_from(seq % 2).unwrap_or(0));
            t.trade_id = (seq << 8) | 0xAB;
        })?;
        Kind::Trade
    } else {
        rings.publish(&mut tally.checksum, |q: &mut evo_v2::Quote| {
            q.sequence = seq;
            (q.symbol.len, q.symbol.data) = (len, data);
            (q.bid.mantissa, q.bid.exponent) = (p.mantissa, p.exponent);
            (q.ask.mantissa, q.ask.exponent) = (p.mantissa + 1, p.exponent);
            // BATS (3) is new in version 2; the enum is flexible, so version-1 readers accept it.
            q.venue = evo_v2::Venue(1 + u16::try_from(seq % 3).unwrap_or(0));
            // `legacy_flags` was removed in version 2: its bytes stay zero.
            q.bid_size = 100 * (1 + small(seq, 9));
            q.ask_size = 100 * (1 + small(seq, 7));
            q.venue_ts_ns = VENUE_EPOCH_NS + seq * 1000;
        })?;
        Kind::Quote
    };
    let now = now_ns();
    tally.sequenced(seq);
    tally.count(kind, 2, now);
    if (seq + 1).is_multiple_of(HEARTBEAT_EVERY) {
        rings.publish(&mut tally.checksum, |h: &mut evo_v2::Heartbeat| h.sent_ns = now)?;
        tally.marker(HEARTBEAT_EVERY);
        tally.count(Kind::Heartbeat, 2, now);
    }
    Ok(())
}
