//! What the version-skew peers (`src/bin/skew-peer/`, `c/skew.c`) and the matrix
//! (`tests/skew.rs`) share: the three releases of `schemas/evolution/` as generated Rust, which
//! message a writer sends at each sequence number, every member's value as a function of the
//! sequence number, and the checksum over the members a writer and a reader both know.
//!
//! `c/skew.c` defines the same functions independently; a difference between the two shows as a
//! mismatch in the cross-language cells.
//!
//! A message is handled as **words**: each member folded to one `u64` (a string as its length
//! and two little-endian words of its bytes, a price as its mantissa and its exponent,
//! sign-extended), in declaration order, with one word per member of every version (a
//! [`Member`] says in which versions it exists). A writer fills its struct from the words; a
//! reader turns what it read back into words and compares them member by member.

use flatipc::zerocopy::FromZeros;

use crate::{fold, FOLD_INIT};

/// `schemas/evolution/v1/market.fidl`.
#[allow(dead_code, clippy::all)]
pub mod v1 {
    flatipc::include_schema!("skew_v1/market_evo");
}
/// `schemas/evolution/v2/market.fidl`.
#[allow(dead_code, clippy::all)]
pub mod v2 {
    flatipc::include_schema!("skew_v2/market_evo");
}
/// `schemas/evolution/conflict/market.fidl`: a version 2 that diverged from `v2` (attach must
/// refuse it next to a `v2` peer).
#[allow(dead_code, clippy::all)]
pub mod conflict {
    flatipc::include_schema!("skew_conflict/market_evo");
}

/// Messages per cell of the matrix (the issue asks for at least 100k).
pub const MESSAGES: u64 = 100_000;

/// The most words a message has.
pub const MAX_WORDS: usize = 13;

/// A message as one word per member of every version (unused trailing words are 0).
pub type Words = [u64; MAX_WORDS];

/// Never removed.
const NEVER: u16 = u16::MAX;

/// One word of a message: the member it comes from and the versions in which it exists
/// (`added ..< removed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    pub name: &'static str,
    pub added: u16,
    pub removed: u16,
}

impl Member {
    const fn new(name: &'static str, added: u16, removed: u16) -> Self {
        Member { name, added, removed }
    }

    /// Whether a peer built from schema version `version` has this member.
    pub const fn at(&self, version: u16) -> bool {
        self.added <= version && version < self.removed
    }
}

const QUOTE: [Member; 13] = [
    Member::new("sequence", 1, NEVER),
    Member::new("symbol.len", 1, NEVER),
    Member::new("symbol.data[0..8]", 1, NEVER),
    Member::new("symbol.data[8..16]", 1, NEVER),
    Member::new("bid.mantissa", 1, NEVER),
    Member::new("bid.exponent", 1, NEVER),
    Member::new("ask.mantissa", 1, NEVER),
    Member::new("ask.exponent", 1, NEVER),
    Member::new("venue", 1, NEVER),
    Member::new("legacy_flags", 1, 2),
    Member::new("bid_size", 2, NEVER),
    Member::new("ask_size", 2, NEVER),
    Member::new("venue_ts_ns", 2, NEVER),
];

const TRADE: [Member; 9] = [
    Member::new("sequence", 1, NEVER),
    Member::new("symbol.len", 1, NEVER),
    Member::new("symbol.data[0..8]", 1, NEVER),
    Member::new("symbol.data[8..16]", 1, NEVER),
    Member::new("price.mantissa", 1, NEVER),
    Member::new("price.exponent", 1, NEVER),
    Member::new("quantity", 1, NEVER),
    Member::new("aggressor", 1, NEVER),
    Member::new("trade_id", 2, NEVER),
];

/// `Heartbeat` is new in version 2: its member exists from there on.
const HEARTBEAT: [Member; 1] = [Member::new("sent_ns", 2, NEVER)];

/// The messages of `market.evo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Quote,
    Trade,
    Heartbeat,
}

impl Kind {
    pub const fn id(self) -> u32 {
        match self {
            Kind::Quote => 0x0E01,
            Kind::Trade => 0x0E02,
            Kind::Heartbeat => 0x0E03,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Kind::Quote => "Quote",
            Kind::Trade => "Trade",
            Kind::Heartbeat => "Heartbeat",
        }
    }

    pub const fn members(self) -> &'static [Member] {
        match self {
            Kind::Quote => &QUOTE,
            Kind::Trade => &TRADE,
            Kind::Heartbeat => &HEARTBEAT,
        }
    }

    /// The version that introduced the message.
    pub const fn since(self) -> u16 {
        match self {
            Kind::Heartbeat => 2,
            Kind::Quote | Kind::Trade => 1,
        }
    }
}

/// Which ring a cell runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ring {
    /// A typed channel of `Quote`.
    Channel,
    /// A framed stream of the whole library.
    Stream,
    /// A typed broadcast ring of `Quote`.
    Broadcast,
    /// A broadcast stream of the whole library.
    BroadcastStream,
}

impl Ring {
    /// The peers' `RING` argument (a broadcast reader adds `-lossy` for the lossy policy).
    pub const fn arg(self) -> &'static str {
        match self {
            Ring::Channel => "channel",
            Ring::Stream => "stream",
            Ring::Broadcast => "broadcast",
            Ring::BroadcastStream => "bstream",
        }
    }

    /// Whether the ring carries the whole library (else one `Quote`).
    pub const fn framed(self) -> bool {
        matches!(self, Ring::Stream | Ring::BroadcastStream)
    }

    /// Whether the ring has many readers, whose positions are message numbers.
    pub const fn broadcast(self) -> bool {
        matches!(self, Ring::Broadcast | Ring::BroadcastStream)
    }
}

/// Slots of the broadcast rings: few, so that 100k messages lap each slot many times.
pub const BROADCAST_CAPACITY: u64 = 64;

/// The message a writer of schema `version` sends as message `seq` (1-based): on the typed
/// rings always a `Quote`; on the framed ones every seventh a `Heartbeat` (version 2 writers
/// only), every third a `Trade`, else a `Quote`.
pub fn kind(ring: Ring, seq: u64, version: u16) -> Kind {
    match ring {
        _ if !ring.framed() => Kind::Quote,
        _ if version >= 2 && seq.is_multiple_of(7) => Kind::Heartbeat,
        _ if seq.is_multiple_of(3) => Kind::Trade,
        _ => Kind::Quote,
    }
}

/// The symbol of message `seq`: `9 + seq % 8` letters (so that neither data word is 0) from
/// `'A' + seq % 26` on, zero after; as `(len, data[0..8], data[8..16])`, the data words
/// little-endian.
fn symbol(seq: u64) -> [u64; 3] {
    let len = 9 + seq % 8;
    let mut data = [0u8; 16];
    for (i, byte) in data.iter_mut().take(len as usize).enumerate() {
        *byte = b'A' + ((seq + i as u64) % 26) as u8;
    }
    let (lo, hi) = data.split_at(8);
    [len, u64::from_le_bytes(lo.try_into().unwrap()), u64::from_le_bytes(hi.try_into().unwrap())]
}

/// An `int8` exponent as its word (sign-extended).
const fn exponent(e: i8) -> u64 {
    e as i64 as u64
}

/// Every member's value in message `seq`, whatever the version: no member is ever 0, so a
/// member a writer lacks (which reads as 0) is told apart from one it wrote.
pub fn expected(kind: Kind, seq: u64) -> Words {
    let mut w = [0; MAX_WORDS];
    let [len, lo, hi] = symbol(seq);
    match kind {
        Kind::Quote => {
            let bid = 1000 + 3 * seq;
            w[..13].copy_from_slice(&[
                seq,
                len,
                lo,
                hi,
                bid,
                exponent(-2),
                bid + 1 + seq % 5,
                exponent(-2),
                1 + seq % 3, // XNAS, XNYS, BATS: a flexible enum, so version 1 reads BATS too
                0x4C00_0000 | (seq & 0xFFFF),
                100 * (1 + seq % 1000),
                10 * (1 + seq % 997),
                1_700_000_000_000_000_000 + 1000 * seq,
            ]);
        }
        Kind::Trade => {
            w[..9].copy_from_slice(&[
                seq,
                len,
                lo,
                hi,
                5 * seq + 3,
                exponent(-4),
                1 + seq % 1000,
                1 + seq % 2, // BID or ASK: a strict enum
                (seq << 20) | 0xABC,
            ]);
        }
        Kind::Heartbeat => w[0] = 1_700_000_000_000_000_000 + 7 * seq,
    }
    w
}

/// Folds message `seq` of `kind`, as read from a writer of `writer` version by a reader of
/// `reader` version, into the checksum `h`: its id, then the words of the members both know.
pub fn fold_known(mut h: u64, kind: Kind, words: &Words, writer: u16, reader: u16) -> u64 {
    h = fold(h, u64::from(kind.id()));
    for (member, &word) in kind.members().iter().zip(words) {
        if member.at(writer) && member.at(reader) {
            h = fold(h, word);
        }
    }
    h
}

/// The checksum a reader of `reader` version computes over `count` messages from a writer of
/// `writer` version, and the number of them it cannot read (messages newer than it).
pub fn checksum(ring: Ring, writer: u16, reader: u16, count: u64) -> (u64, u64) {
    checksum_from((FOLD_INIT, 0), ring, writer, reader, 1..=count)
}

/// [`checksum`] continued from `(h, skipped)` over the messages `seqs` of a writer of `writer`
/// version (writers that take over a broadcast ring one after the other).
pub fn checksum_from(
    (h, skipped): (u64, u64),
    ring: Ring,
    writer: u16,
    reader: u16,
    seqs: std::ops::RangeInclusive<u64>,
) -> (u64, u64) {
    seqs.fold((h, skipped), |(h, skipped), seq| {
        let k = kind(ring, seq, writer);
        let words = expected(k, seq);
        (fold_known(h, k, &words, writer, reader), skipped + u64::from(k.since() > reader))
    })
}

/// The writer versions a reader met, in order: runs of consecutive messages of one writer
/// version (`version:first-last`, sequence numbers), as the peers print them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Runs(pub Vec<(u16, u64, u64)>);

impl Runs {
    /// Adds message `seq`, read as written at `version`.
    pub fn push(&mut self, version: u16, seq: u64) {
        match self.0.last_mut() {
            Some((v, _, last)) if *v == version => *last = seq,
            _ => self.0.push((version, seq, seq)),
        }
    }

    /// Parses the printed form (`-` for none).
    pub fn parse(text: &str) -> Option<Runs> {
        if text == "-" {
            return Some(Runs::default());
        }
        let run = |r: &str| {
            let (version, seqs) = r.split_once(':')?;
            let (first, last) = seqs.split_once('-')?;
            Some((version.parse().ok()?, first.parse().ok()?, last.parse().ok()?))
        };
        text.split(',').map(run).collect::<Option<Vec<_>>>().map(Runs)
    }
}

impl std::fmt::Display for Runs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("-");
        }
        for (i, (version, first, last)) in self.0.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            write!(f, "{sep}{version}:{first}-{last}")?;
        }
        Ok(())
    }
}

/// What a peer's struct of one release is to the words: built from them (members it lacks
/// dropped, removed ones written as zeros) and read back into them (members it lacks as 0).
pub trait AsWords: Sized {
    fn from_words(w: &Words) -> Self;
    fn words(&self) -> Words;
}

/// Words `[at ..][..3]` as a `string<16>` of the module `$m`.
macro_rules! string16 {
    ($m:ident, $w:expr, $at:expr) => {{
        let mut s = $m::String16::new_zeroed();
        s.len = $w[$at] as u32;
        s.data[..8].copy_from_slice(&$w[$at + 1].to_le_bytes());
        s.data[8..].copy_from_slice(&$w[$at + 2].to_le_bytes());
        s
    }};
}

/// Words `[at ..][..2]` as a `Price` of the module `$m`.
macro_rules! price {
    ($m:ident, $w:expr, $at:expr) => {
        $m::Price { mantissa: $w[$at] as i64, exponent: $w[$at + 1] as i8, ..Default::default() }
    };
}

fn string_words(len: u32, data: &[u8; 16]) -> [u64; 3] {
    let (lo, hi) = data.split_at(8);
    [
        u64::from(len),
        u64::from_le_bytes(lo.try_into().unwrap()),
        u64::from_le_bytes(hi.try_into().unwrap()),
    ]
}

fn price_words(mantissa: i64, exponent: i8) -> [u64; 2] {
    [mantissa as u64, i64::from(exponent) as u64]
}

/// The words of the members common to every release (`sequence` .. `venue`) of a `Quote`.
macro_rules! quote_common {
    ($q:expr) => {{
        let q = $q;
        let [len, lo, hi] = string_words(q.symbol.len, &q.symbol.data);
        let [bm, be] = price_words(q.bid.mantissa, q.bid.exponent);
        let [am, ae] = price_words(q.ask.mantissa, q.ask.exponent);
        [q.sequence, len, lo, hi, bm, be, am, ae, u64::from(q.venue.0)]
    }};
}

/// The words of the members common to every release (`sequence` .. `aggressor`) of a `Trade`.
macro_rules! trade_common {
    ($t:expr) => {{
        let t = $t;
        let [len, lo, hi] = string_words(t.symbol.len, &t.symbol.data);
        let [pm, pe] = price_words(t.price.mantissa, t.price.exponent);
        [t.sequence, len, lo, hi, pm, pe, u64::from(t.quantity), u64::from(t.aggressor.0)]
    }};
}

impl AsWords for v1::Quote {
    fn from_words(w: &Words) -> Self {
        v1::Quote {
            sequence: w[0],
            symbol: string16!(v1, w, 1),
            bid: price!(v1, w, 4),
            ask: price!(v1, w, 6),
            venue: v1::Venue(w[8] as u16),
            legacy_flags: w[9] as u32,
            ..Default::default()
        }
    }

    fn words(&self) -> Words {
        let mut w = [0; MAX_WORDS];
        w[..9].copy_from_slice(&quote_common!(self));
        w[9] = u64::from(self.legacy_flags);
        w
    }
}

impl AsWords for v2::Quote {
    fn from_words(w: &Words) -> Self {
        v2::Quote {
            sequence: w[0],
            symbol: string16!(v2, w, 1),
            bid: price!(v2, w, 4),
            ask: price!(v2, w, 6),
            venue: v2::Venue(w[8] as u16),
            // `legacy_flags` was removed in version 2: its bytes are written as zeros, which a
            // version 1 reader reads as "no flags".
            _removed_legacy_flags: [0; 4],
            bid_size: w[10] as u32,
            ask_size: w[11] as u32,
            venue_ts_ns: w[12],
            ..Default::default()
        }
    }

    fn words(&self) -> Words {
        let mut w = [0; MAX_WORDS];
        w[..9].copy_from_slice(&quote_common!(self));
        w[10] = u64::from(self.bid_size);
        w[11] = u64::from(self.ask_size);
        w[12] = self.venue_ts_ns;
        w
    }
}

impl AsWords for v1::Trade {
    fn from_words(w: &Words) -> Self {
        v1::Trade {
            sequence: w[0],
            symbol: string16!(v1, w, 1),
            price: price!(v1, w, 4),
            quantity: w[6] as u32,
            aggressor: v1::Side(w[7] as u8),
            ..Default::default()
        }
    }

    fn words(&self) -> Words {
        let mut w = [0; MAX_WORDS];
        w[..8].copy_from_slice(&trade_common!(self));
        w
    }
}

impl AsWords for v2::Trade {
    fn from_words(w: &Words) -> Self {
        v2::Trade {
            sequence: w[0],
            symbol: string16!(v2, w, 1),
            price: price!(v2, w, 4),
            quantity: w[6] as u32,
            aggressor: v2::Side(w[7] as u8),
            trade_id: w[8],
            ..Default::default()
        }
    }

    fn words(&self) -> Words {
        let mut w = [0; MAX_WORDS];
        w[..8].copy_from_slice(&trade_common!(self));
        w[8] = self.trade_id;
        w
    }
}

impl AsWords for v2::Heartbeat {
    fn from_words(w: &Words) -> Self {
        v2::Heartbeat { sent_ns: w[0] }
    }

    fn words(&self) -> Words {
        let mut w = [0; MAX_WORDS];
        w[0] = self.sent_ns;
        w
    }
}

/// Compares message `seq` as a reader of `reader` version read it from a writer of `writer`
/// version: members both know must have their expected values, members only the reader knows
/// must be 0 (their default). Returns the first differing member as `(name, got, want)`.
pub fn compare(
    kind: Kind,
    seq: u64,
    got: &Words,
    writer: u16,
    reader: u16,
) -> Option<(&'static str, u64, u64)> {
    let want = expected(kind, seq);
    kind.members().iter().zip(got.iter().zip(&want)).find_map(|(member, (&got, &want))| {
        let want = match (member.at(reader), member.at(writer)) {
            (true, true) => want,
            (true, false) => 0,
            (false, _) => return None,
        };
        (got != want).then_some((member.name, got, want))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_member_is_non_zero_and_round_trips_through_each_release() {
        for seq in [1, 2, 3, 7, 26, 255, 65_536, MESSAGES] {
            for kind in [Kind::Quote, Kind::Trade, Kind::Heartbeat] {
                let w = expected(kind, seq);
                assert!(w[..kind.members().len()].iter().all(|&x| x != 0), "{kind:?} {seq}");
            }
            let (q, t) = (expected(Kind::Quote, seq), expected(Kind::Trade, seq));
            for (got, writer) in
                [(v1::Quote::from_words(&q).words(), 1), (v2::Quote::from_words(&q).words(), 2)]
            {
                assert_eq!(compare(Kind::Quote, seq, &got, writer, writer), None);
            }
            for (got, writer) in
                [(v1::Trade::from_words(&t).words(), 1), (v2::Trade::from_words(&t).words(), 2)]
            {
                assert_eq!(compare(Kind::Trade, seq, &got, writer, writer), None);
            }
            let h = expected(Kind::Heartbeat, seq);
            assert_eq!(
                compare(Kind::Heartbeat, seq, &v2::Heartbeat::from_words(&h).words(), 2, 2),
                None
            );
        }
    }

    #[test]
    fn a_version_2_quote_read_as_version_1_has_no_legacy_flags() {
        let q = v2::Quote::from_words(&expected(Kind::Quote, 5));
        let prefix = &flatipc::zerocopy::IntoBytes::as_bytes(&q)[..size_of::<v1::Quote>()];
        let old = <v1::Quote as flatipc::zerocopy::FromBytes>::read_from_bytes(prefix).unwrap();
        assert_eq!(old.legacy_flags, 0);
        assert_eq!(compare(Kind::Quote, 5, &old.words(), 2, 1), None);
    }
}
