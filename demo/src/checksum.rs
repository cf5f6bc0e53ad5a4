//! The checksum every process computes over the messages it wrote or read, so that the
//! orchestrator can compare them. `c/strategy.c` implements the same definition independently
//! (`fold_*`); a layout or decoding difference between Rust and C shows as unequal checksums.
//!
//! **Definition.** FNV-1a over 64-bit words: start at `0xcbf29ce484222325`, and fold each word
//! `w` as `h = (h ^ w) * 0x100000001b3` (wrapping). For every message, in stream order, fold its
//! message id, then each member in declaration order:
//!
//! - an unsigned integer, enum, bits or bool: its value, zero-extended;
//! - a signed integer: its value, sign-extended;
//! - a `Price`: its mantissa, then its exponent;
//! - a bounded string `string<N>`: its `len`, then its `N` bytes as little-endian 8-byte words
//!   (the last one zero-filled), bytes at or past `len` counted as 0;
//! - a bounded vector: its `len`, then each of its first `len` elements;
//! - an array: each element.
//!
//! Padding is never folded. In `market.evo`, only the members of version 1 are folded (the
//! upgrade mode's strategies are version-1 readers: the checksum covers what both versions
//! know), and `Heartbeat` (new in version 2) not at all; a version-2 writer folds the reserved
//! bytes of the removed `legacy_flags` as the `u32` they hold (it writes zeros).

use crate::schema::{evo_v1, evo_v2, market_common, market_data};

/// A running checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checksum(pub u64);

impl Default for Checksum {
    fn default() -> Self {
        Checksum(0xcbf2_9ce4_8422_2325)
    }
}

impl Checksum {
    /// Folds one word.
    #[inline]
    pub fn word(&mut self, w: u64) {
        self.0 = (self.0 ^ w).wrapping_mul(0x0100_0000_01b3);
    }

    /// Folds a signed value, sign-extended.
    #[inline]
    fn signed(&mut self, v: i64) {
        self.word(v as u64);
    }

    /// Folds a bounded string: `len`, then its bytes as little-endian words (past `len`: 0).
    fn string(&mut self, len: u32, data: &[u8]) {
        self.word(u64::from(len));
        let len = len as usize;
        for (i, chunk) in data.chunks(8).enumerate() {
            let mut bytes = [0u8; 8];
            for (j, b) in chunk.iter().enumerate() {
                if i * 8 + j < len {
                    bytes[j] = *b;
                }
            }
            self.word(u64::from_le_bytes(bytes));
        }
    }

    fn price(&mut self, mantissa: i64, exponent: i8) {
        self.signed(mantissa);
        self.signed(i64::from(exponent));
    }

    /// The value, as `RESULT` lines carry it.
    pub fn hex(self) -> String {
        format!("{:016x}", self.0)
    }
}

/// A message the checksum covers.
pub trait Fold {
    /// Folds the message id and the members (see the module docs).
    fn fold(&self, sum: &mut Checksum);
}

fn market_price(sum: &mut Checksum, p: &market_common::Price) {
    sum.price(p.mantissa, p.exponent);
}

fn market_symbol(sum: &mut Checksum, s: &market_common::Symbol) {
    sum.string(s.len, &s.data);
}

impl Fold for market_data::Quote {
    fn fold(&self, sum: &mut Checksum) {
        sum.word(u64::from(market_data::Quote::ID));
        sum.word(self.exchange_ts_ns);
        sum.word(self.receive_ts_ns);
        sum.word(self.sequence);
        market_symbol(sum, &self.symbol);
        market_price(sum, &self.bid);
        market_price(sum, &self.ask);
        sum.word(u64::from(self.bid_size));
        sum.word(u64::from(self.ask_size));
        sum.word(u64::from(self.venue.0));
        sum.word(u64::from(self.status.0));
    }
}

impl Fold for market_data::Trade {
    fn fold(&self, sum: &mut Checksum) {
        sum.word(u64::from(market_data::Trade::ID));
        sum.word(self.exchange_ts_ns);
        sum.word(self.receive_ts_ns);
        sum.word(self.sequence);
        market_symbol(sum, &self.symbol);
        market_price(sum, &self.price);
        sum.word(u64::from(self.quantity));
        sum.word(u64::from(self.venue.0));
        sum.word(u64::from(self.flags.0));
        sum.word(u64::from(self.is_block.0));
    }
}

fn ladder(sum: &mut Checksum, ladder: &market_data::Ladder) {
    sum.word(u64::from(ladder.len));
    // A validated ladder has `len <= 10`; `take` keeps an unvalidated one in bounds too.
    for level in ladder.items.iter().take(ladder.len as usize) {
        market_price(sum, &level.price);
        sum.word(u64::from(level.quantity));
        sum.word(u64::from(level.order_count));
    }
}

impl Fold for market_data::BookSnapshot {
    fn fold(&self, sum: &mut Checksum) {
        sum.word(u64::from(market_data::BookSnapshot::ID));
        sum.word(self.exchange_ts_ns);
        sum.word(self.sequence);
        market_symbol(sum, &self.symbol);
        sum.word(u64::from(self.venue.0));
        ladder(sum, &self.bids);
        ladder(sum, &self.asks);
        for price in &self.auction_prices {
            market_price(sum, price);
        }
    }
}

impl Fold for market_data::StatusChange {
    fn fold(&self, sum: &mut Checksum) {
        sum.word(u64::from(market_data::StatusChange::ID));
        sum.word(self.exchange_ts_ns);
        market_symbol(sum, &self.symbol);
        sum.word(u64::from(self.status.0));
        sum.string(self.reason.len, &self.reason.data);
        sum.word(self.expected_resume_ns);
    }
}

impl Fold for evo_v1::Quote {
    fn fold(&self, sum: &mut Checksum) {
        sum.word(u64::from(evo_v1::Quote::ID));
        sum.word(self.sequence);
        sum.string(self.symbol.len, &self.symbol.data);
        sum.price(self.bid.mantissa, self.bid.exponent);
        sum.price(self.ask.mantissa, self.ask.exponent);
        sum.word(u64::from(self.venue.0));
        sum.word(u64::from(self.legacy_flags));
    }
}

impl Fold for evo_v1::Trade {
    fn fold(&self, sum: &mut Checksum) {
        sum.word(u64::from(evo_v1::Trade::ID));
        sum.word(self.sequence);
        sum.string(self.symbol.len, &self.symbol.data);
        sum.price(self.price.mantissa, self.price.exponent);
        sum.word(u64::from(self.quantity));
        sum.word(u64::from(self.aggressor.0));
    }
}

impl Fold for evo_v2::Quote {
    /// The members version 1 knows: `legacy_flags` is reserved space in version 2.
    fn fold(&self, sum: &mut Checksum) {
        sum.word(u64::from(evo_v2::Quote::ID));
        sum.word(self.sequence);
        sum.string(self.symbol.len, &self.symbol.data);
        sum.price(self.bid.mantissa, self.bid.exponent);
        sum.price(self.ask.mantissa, self.ask.exponent);
        sum.word(u64::from(self.venue.0));
        sum.word(u64::from(u32::from_le_bytes(self._removed_legacy_flags)));
    }
}

impl Fold for evo_v2::Trade {
    /// The members version 1 knows (not `trade_id`).
    fn fold(&self, sum: &mut Checksum) {
        sum.word(u64::from(evo_v2::Trade::ID));
        sum.word(self.sequence);
        sum.string(self.symbol.len, &self.symbol.data);
        sum.price(self.price.mantissa, self.price.exponent);
        sum.word(u64::from(self.quantity));
        sum.word(u64::from(self.aggressor.0));
    }
}

impl Fold for evo_v2::Heartbeat {
    /// Nothing: version 1 does not know this message.
    fn fold(&self, _sum: &mut Checksum) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_fold_only_their_bytes() {
        let (mut a, mut b) = (Checksum::default(), Checksum::default());
        a.string(3, b"abcXXXXXXX");
        b.string(3, b"abc\0\0\0\0\0\0\0");
        assert_eq!(a, b);
        let mut c = Checksum::default();
        c.string(4, b"abcXXXXXXX");
        assert_ne!(a, c);
    }

    #[test]
    fn v2_folds_what_v1_knows() {
        let mut v1 = evo_v1::Quote { sequence: 9, legacy_flags: 0, ..Default::default() };
        v1.symbol.set("ABC").unwrap();
        let mut v2 =
            evo_v2::Quote { sequence: 9, bid_size: 5, venue_ts_ns: 7, ..Default::default() };
        v2.symbol.set("ABC").unwrap();
        let (mut a, mut b) = (Checksum::default(), Checksum::default());
        v1.fold(&mut a);
        v2.fold(&mut b);
        assert_eq!(a, b);
    }
}
