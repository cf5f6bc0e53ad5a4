//! What the Rust peer (`src/bin/rust-peer.rs`) and the tests share with the C peer
//! (`c/peer.c`): the market-data schema, the messages (each a function of its sequence number,
//! defined identically in both languages) and the checksum both sides print; and, in [`skew`],
//! what the version-skew peers (`src/bin/skew-peer/`, `c/skew.c`) and their matrix share.

#![allow(missing_docs)]
// The message contents truncate sequence numbers on purpose, exactly as the C peer's casts do.
#![allow(clippy::cast_possible_truncation)]

use flatipc::zerocopy::{FromZeros, IntoBytes};

pub mod skew;

// The generated modules are used only in part.
#[allow(dead_code, clippy::all)]
pub mod market_common {
    flatipc::include_schema!("market_common");
}
#[allow(dead_code, clippy::all)]
pub mod market_data {
    flatipc::include_schema!("market_data");
}

use market_common::{Price, Symbol};
use market_data::{
    BookSnapshot, Ladder, Level, Quote, StatusChange, Trade, TradeFlags, TradingStatus, Venue,
};

/// FNV-1a over 64-bit words: the checksum every peer prints.
pub const FOLD_INIT: u64 = 0xcbf2_9ce4_8422_2325;

pub fn fold(h: u64, x: u64) -> u64 {
    (h ^ x).wrapping_mul(0x100_0000_01b3)
}

/// Folds `bytes` (a multiple of 8 long) as little-endian 64-bit words.
pub fn fold_bytes(mut h: u64, bytes: &[u8]) -> u64 {
    for chunk in bytes.chunks_exact(8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = fold(h, u64::from_le_bytes(word));
    }
    h
}

fn letters(first: u8, seq: u64, len: u64, out: &mut [u8]) {
    for (i, byte) in out.iter_mut().take(len as usize).enumerate() {
        *byte = first + ((seq + i as u64) % 26) as u8;
    }
}

fn symbol(seq: u64) -> Symbol {
    let mut s = Symbol::new_zeroed();
    let len = 1 + seq % 16;
    s.len = len as u32;
    letters(b'A', seq, len, &mut s.data);
    s
}

fn price(mantissa: i64, exponent: i8) -> Price {
    Price { mantissa, exponent, ..Default::default() }
}

/// The typed channel's message `seq` (and the stream's when it carries a quote).
pub fn quote(seq: u64) -> Quote {
    let bid = (seq.wrapping_mul(3) as i64).wrapping_sub(1000);
    Quote {
        exchange_ts_ns: seq * 1000 + 7,
        receive_ts_ns: seq ^ 0x5555,
        sequence: seq,
        symbol: symbol(seq),
        bid: price(bid, -2),
        ask: price(bid + 1 + (seq % 5) as i64, -2),
        bid_size: seq as u32,
        ask_size: ((seq >> 3) as u32) ^ 0xABCD,
        venue: Venue(1 + (seq % 4) as u16),
        status: TradingStatus((seq % 4) as u8),
        ..Default::default()
    }
}

pub fn trade(seq: u64) -> Trade {
    Trade {
        exchange_ts_ns: seq * 10 + 1,
        receive_ts_ns: seq * 10 + 2,
        sequence: seq,
        symbol: symbol(seq),
        price: price((seq.wrapping_mul(7) as i64).wrapping_sub(3), -4),
        quantity: (seq % 1000 + 1) as u32,
        venue: Venue(1 + (seq % 4) as u16),
        flags: TradeFlags((seq & 0xF) as u32),
        is_block: (seq & 1 == 1).into(),
        ..Default::default()
    }
}

fn ladder(len: u64, base: i64) -> Ladder {
    let mut l = Ladder::new_zeroed();
    l.len = len as u32;
    for (i, level) in l.items.iter_mut().take(len as usize).enumerate() {
        *level = Level {
            price: price(base + i as i64, -2),
            quantity: i as u32 + 1,
            order_count: i as u16,
            ..Default::default()
        };
    }
    l
}

pub fn book(seq: u64) -> BookSnapshot {
    let mut b = BookSnapshot::new_zeroed();
    b.exchange_ts_ns = seq;
    b.sequence = seq;
    b.symbol = symbol(seq);
    b.venue = Venue(1 + (seq % 4) as u16);
    b.bids = ladder(seq % 11, seq as i64);
    b.asks = ladder((seq / 11) % 11, seq as i64 + 100);
    b.auction_prices = [price(seq as i64, 0), price(seq as i64 + 1, 0)];
    b
}

pub fn status(seq: u64) -> StatusChange {
    let mut s = StatusChange::new_zeroed();
    s.exchange_ts_ns = seq;
    s.symbol = symbol(seq);
    s.status = TradingStatus((seq % 4) as u8);
    let len = seq % 65;
    s.reason.len = len as u32;
    letters(b'a', seq, len, &mut s.reason.data);
    s.expected_resume_ns = seq * 3;
    s
}

/// The stream's message `seq`: one of four types, interleaved irregularly.
// One value at a time, by value: boxing the 568-byte snapshot would only add allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy)]
pub enum Any {
    Trade(Trade),
    Quote(Quote),
    Book(BookSnapshot),
    Status(StatusChange),
}

pub fn any(seq: u64) -> Any {
    match (seq ^ (seq >> 3) ^ (seq >> 7)) % 4 {
        0 => Any::Trade(trade(seq)),
        1 => Any::Quote(quote(seq)),
        2 => Any::Book(book(seq)),
        _ => Any::Status(status(seq)),
    }
}

impl Any {
    pub fn id(&self) -> u32 {
        match self {
            Any::Trade(_) => Trade::ID,
            Any::Quote(_) => Quote::ID,
            Any::Book(_) => BookSnapshot::ID,
            Any::Status(_) => StatusChange::ID,
        }
    }

    pub fn bytes(&self) -> &[u8] {
        match self {
            Any::Trade(m) => m.as_bytes(),
            Any::Quote(m) => m.as_bytes(),
            Any::Book(m) => m.as_bytes(),
            Any::Status(m) => m.as_bytes(),
        }
    }
}

/// The checksum of the first `count` channel messages, computed here independently of both
/// peers.
pub fn channel_checksum(count: u64) -> u64 {
    (0..count).fold(FOLD_INIT, |h, seq| fold_bytes(h, quote(seq).as_bytes()))
}

/// The checksum of the first `count` stream messages.
pub fn stream_checksum(count: u64) -> u64 {
    (0..count).fold(FOLD_INIT, |h, seq| {
        let m = any(seq);
        fold_bytes(fold(h, u64::from(m.id())), m.bytes())
    })
}

/// `spin`, `yield` or `park`, as the C peer reads them.
pub fn wait_strategy(name: &str) -> flatipc::wait::WaitStrategy {
    use flatipc::wait::WaitStrategy;
    match name {
        "spin" => WaitStrategy::Spin,
        "yield" => WaitStrategy::SpinThenYield { spins: 100 },
        _ => WaitStrategy::SpinThenPark { spins: 2000 },
    }
}
