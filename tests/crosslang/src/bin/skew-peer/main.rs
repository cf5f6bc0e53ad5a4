//! The Rust peer of the version-skew matrix (`tests/skew.rs`): one end of a typed channel of
//! `Quote`, a framed stream of `market.evo`, a typed broadcast ring of `Quote` or a broadcast
//! stream of `market.evo`, built from one of the three releases of `schemas/evolution/`.
//! `c/skew.c` is the same peer in C (same arguments, same output lines).
//!
//! ```text
//! skew-peer ROLE RING VERSION MODE NAME N
//!   ROLE     writer | reader
//!   RING     channel | stream | broadcast | bstream; a broadcast reader may add -lossy
//!            (broadcast-lossy, bstream-lossy), else it is tethered
//!   VERSION  v1 | v2 | conflict (the conflicting version 2: it only attaches, N must be 0)
//!   MODE     create | open
//!   N        messages to send or receive; 0: attach, then hold the ring until stdin closes
//!
//! ATTACHED <role> <version>                                         once attached (every peer)
//! SENT <count> <sum for a v1 reader> <sum for a v2 reader>          (writer)
//! RECV <count> <mismatches> <sum> <runs> <skipped> <missed> <end>  (reader)
//! MISMATCH <seq> <message> <what> got <value> want <value>     (the first few)
//! REFUSED <VERSION_MISMATCH | TYPE_MISMATCH | CANNOT_UPGRADE | OTHER> <text>
//! ```
//!
//! Message `seq` is `skew::kind` and its members `skew::expected`; each side folds the members
//! both versions know into its checksum (`skew::fold_known`). The writer cannot know its
//! reader's version, so it prints the checksum for either. The reader checks every message
//! (`skew::compare`): members both know are equal, members the writer lacks are 0, and
//! `has_<member>(version)` agrees with the member table. `runs` are the writer versions the
//! reader met (`skew::Runs`: `version:first-last` per run of messages of one version).
//! `skipped` counts messages newer than the reader (a version 2 `Heartbeat` to a version 1
//! reader), which it sees only by id. `end` is `DISCONNECTED` when the writer's detach was seen
//! after the last message.
//!
//! On the SPSC rings, messages are numbered 1 to N. On the broadcast rings (`broadcast.rs`)
//! message `seq` is the one at position `seq - 1`: a writer waits for a line on stdin (so that
//! the test can attach readers first), then sends N messages after the ring's last; a reader
//! reads until it has received or missed (a lossy one) N messages, across writers that take
//! over the ring one after another, and `missed` is what it missed.
//!
//! Exit status: 0 success, 2 usage, 3 a message differed, 4 a flatipc error after attaching,
//! 5 attach refused.

mod broadcast;

use std::process::ExitCode;
use std::time::Duration;

use flatipc::broadcast::{
    BroadcastFrame, BroadcastReader, BroadcastStreamReader, BroadcastStreamWriter, BroadcastWriter,
};
use flatipc::channel::{ChannelOptions, Reader, RecvError, SendError, Writer};
use flatipc::stream::{
    Frame, InSet, MessageSet, StreamOptions, StreamReader, StreamWriter, ViewError,
};
use flatipc::wait::WaitStrategy;
use flatipc::{FlatMessage, OpenError};
use flatipc_crosslang_tests::skew::{
    compare, conflict, expected, fold_known, kind, v1, v2, AsWords, Kind, Ring, Runs, Words,
    MAX_WORDS,
};
use flatipc_crosslang_tests::FOLD_INIT;

const TIMEOUT: Duration = Duration::from_secs(30);
const WAIT: WaitStrategy = WaitStrategy::SpinThenPark { spins: 2000 };
/// Slots of a typed channel: a version 1 creator's `Quote` (72 bytes) gets 128-byte slots, so a
/// version 2 writer (88 bytes) fits.
const CHANNEL_CAPACITY: u64 = 1024;
/// Bytes of a stream: frames are 32 to 112 bytes, so padding frames are frequent.
const STREAM_CAPACITY: u64 = 16 * 1024;
/// `MISMATCH` lines printed at most (all are counted).
const SHOWN: u64 = 10;

/// The release a peer is built from, as the ends and messages it uses.
trait Release {
    const NAME: &'static str;
    const VERSION: u16;
    type Quote: FlatMessage + AsWords + InSet<Self::Library>;
    type Library: MessageSet;

    /// Sends framed message `words` of `kind` and returns the words of the message as built.
    fn send<W: FrameSink<Self::Library>>(
        w: &mut W,
        kind: Kind,
        words: &Words,
        how: How,
    ) -> Result<Words, SendError>;

    /// The frame's message as words.
    fn read<F: FrameView<Self::Library>>(frame: &F) -> Read;

    /// Whether the generated `has_<member>(version)` of `kind` agree with `skew`'s table.
    fn has_agrees(kind: Kind, version: u16) -> bool;
}

/// A framed writer: the SPSC stream's or the broadcast stream's.
trait FrameSink<L: MessageSet> {
    /// Sends `T` built from `words` the way `how` says; returns its words as built.
    fn put<T: InSet<L> + AsWords>(&mut self, words: &Words, how: How) -> Result<Words, SendError>;
}

/// A received frame: the SPSC stream's or the broadcast stream's.
trait FrameView<L: MessageSet> {
    fn view(&self) -> Option<Result<L::View<'_>, ViewError>>;
}

impl<L: MessageSet> FrameView<L> for Frame<'_, L> {
    fn view(&self) -> Option<Result<L::View<'_>, ViewError>> {
        self.message()
    }
}

impl<L: MessageSet> FrameView<L> for BroadcastFrame<'_, L> {
    fn view(&self) -> Option<Result<L::View<'_>, ViewError>> {
        self.message()
    }
}

struct V1;
struct V2;

impl Release for V1 {
    const NAME: &'static str = "v1";
    const VERSION: u16 = 1;
    type Quote = v1::Quote;
    type Library = v1::Library;

    fn send<W: FrameSink<v1::Library>>(
        w: &mut W,
        kind: Kind,
        words: &Words,
        how: How,
    ) -> Result<Words, SendError> {
        match kind {
            Kind::Quote => w.put::<v1::Quote>(words, how),
            Kind::Trade => w.put::<v1::Trade>(words, how),
            Kind::Heartbeat => unreachable!("version 1 writers send no Heartbeat (skew::kind)"),
        }
    }

    fn read<F: FrameView<v1::Library>>(frame: &F) -> Read {
        match frame.view() {
            Some(Ok(v1::AnyMessage::Quote(q))) => Read::Known(Kind::Quote, q.words()),
            Some(Ok(v1::AnyMessage::Trade(t))) => Read::Known(Kind::Trade, t.words()),
            Some(Err(e)) => Read::Invalid(e.to_string()),
            None => Read::Unknown,
        }
    }

    fn has_agrees(_: Kind, _: u16) -> bool {
        true // version 1 has no member added later, so no `has_` functions
    }
}

impl Release for V2 {
    const NAME: &'static str = "v2";
    const VERSION: u16 = 2;
    type Quote = v2::Quote;
    type Library = v2::Library;

    fn send<W: FrameSink<v2::Library>>(
        w: &mut W,
        kind: Kind,
        words: &Words,
        how: How,
    ) -> Result<Words, SendError> {
        match kind {
            Kind::Quote => w.put::<v2::Quote>(words, how),
            Kind::Trade => w.put::<v2::Trade>(words, how),
            Kind::Heartbeat => w.put::<v2::Heartbeat>(words, how),
        }
    }

    fn read<F: FrameView<v2::Library>>(frame: &F) -> Read {
        match frame.view() {
            Some(Ok(v2::AnyMessage::Quote(q))) => Read::Known(Kind::Quote, q.words()),
            Some(Ok(v2::AnyMessage::Trade(t))) => Read::Known(Kind::Trade, t.words()),
            Some(Ok(v2::AnyMessage::Heartbeat(h))) => Read::Known(Kind::Heartbeat, h.words()),
            Some(Err(e)) => Read::Invalid(e.to_string()),
            None => Read::Unknown,
        }
    }

    fn has_agrees(kind: Kind, version: u16) -> bool {
        let has = |name| kind.members().iter().any(|m| m.name == name && m.at(version));
        match kind {
            Kind::Quote => {
                v2::Quote::has_bid_size(version) == has("bid_size")
                    && v2::Quote::has_ask_size(version) == has("ask_size")
                    && v2::Quote::has_venue_ts_ns(version) == has("venue_ts_ns")
            }
            Kind::Trade => v2::Trade::has_trade_id(version) == has("trade_id"),
            Kind::Heartbeat => true,
        }
    }
}

/// How message `seq` is sent (as in `c/skew.c`): loaned and filled in place, `try_send`
/// retried while full, or `send`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    Loan,
    TrySend,
    Send,
}

impl How {
    fn of(seq: u64) -> How {
        match seq % 3 {
            0 => How::Loan,
            1 => How::TrySend,
            _ => How::Send,
        }
    }
}

/// How a reader read a message.
enum Read {
    /// As one of its own kinds.
    Known(Kind, Words),
    /// An id its release does not know.
    Unknown,
    /// A known id whose bytes do not view as its type.
    Invalid(String),
}

impl<L: MessageSet> FrameSink<L> for StreamWriter<L> {
    fn put<T: InSet<L> + AsWords>(&mut self, words: &Words, how: How) -> Result<Words, SendError> {
        let message = T::from_words(words);
        match how {
            // In place: retry while full (the stream has no blocking loan).
            How::Loan => loop {
                match self.loan::<T>() {
                    Ok(mut slot) => {
                        *slot = message;
                        slot.commit();
                        break;
                    }
                    Err(SendError::Full) => std::thread::yield_now(),
                    Err(e) => return Err(e),
                }
            },
            How::TrySend => loop {
                match self.try_send(&message) {
                    Err(SendError::Full) => std::thread::yield_now(),
                    other => break other?,
                }
            },
            How::Send => self.send_timeout(&message, TIMEOUT)?,
        }
        Ok(message.words())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Writer,
    Reader,
}

/// One attached end of a ring of message `Q` (typed rings) or library `L` (framed rings).
enum End<Q: FlatMessage, L: MessageSet> {
    ChannelWriter(Writer<Q>),
    ChannelReader(Reader<Q>),
    StreamWriter(StreamWriter<L>),
    StreamReader(StreamReader<L>),
    BroadcastWriter(BroadcastWriter<Q>),
    BroadcastReader(BroadcastReader<Q>),
    BroadcastStreamWriter(BroadcastStreamWriter<L>),
    BroadcastStreamReader(BroadcastStreamReader<L>),
}

fn attach<Q: FlatMessage, L: MessageSet>(
    role: Role,
    ring: Ring,
    lossy: bool,
    create: bool,
    name: &str,
) -> Result<End<Q, L>, OpenError> {
    let channel = ChannelOptions { capacity: CHANNEL_CAPACITY, wait: WAIT };
    let stream = StreamOptions { capacity: STREAM_CAPACITY, wait: WAIT };
    Ok(match (role, ring, create) {
        (_, Ring::Broadcast | Ring::BroadcastStream, _) => {
            broadcast::attach(role, ring, lossy, create, name)?
        }
        (Role::Writer, Ring::Channel, true) => End::ChannelWriter(Writer::create(name, &channel)?),
        (Role::Writer, Ring::Channel, false) => End::ChannelWriter(Writer::open(name, WAIT)?),
        (Role::Reader, Ring::Channel, true) => End::ChannelReader(Reader::create(name, &channel)?),
        (Role::Reader, Ring::Channel, false) => End::ChannelReader(Reader::open(name, WAIT)?),
        (Role::Writer, Ring::Stream, true) => {
            End::StreamWriter(StreamWriter::create(name, &stream)?)
        }
        (Role::Writer, Ring::Stream, false) => End::StreamWriter(StreamWriter::open(name, WAIT)?),
        (Role::Reader, Ring::Stream, true) => {
            End::StreamReader(StreamReader::create(name, &stream)?)
        }
        (Role::Reader, Ring::Stream, false) => End::StreamReader(StreamReader::open(name, WAIT)?),
    })
}

/// Attaches (printing `ATTACHED`, or `REFUSED` and exit status 5).
fn attach_or_refuse<Q: FlatMessage, L: MessageSet>(
    args: &Args,
    version: &str,
) -> Result<End<Q, L>, ExitCode> {
    match attach(args.role, args.ring, args.lossy, args.create, &args.name) {
        Ok(end) => {
            let role = if args.role == Role::Writer { "writer" } else { "reader" };
            println!("ATTACHED {role} {version}");
            Ok(end)
        }
        Err(e) => {
            let what = match e {
                OpenError::VersionMismatch { .. } => "VERSION_MISMATCH",
                OpenError::TypeMismatch { .. } => "TYPE_MISMATCH",
                OpenError::CannotUpgrade { .. } => "CANNOT_UPGRADE",
                _ => "OTHER",
            };
            println!("REFUSED {what} {e}");
            Err(ExitCode::from(5))
        }
    }
}

fn fail(what: &str, e: impl std::fmt::Display) -> ExitCode {
    println!("ERR {what}: {e}");
    ExitCode::from(4)
}

/// N = 0: keeps the end attached until stdin closes.
fn hold<Q: FlatMessage, L: MessageSet>(end: End<Q, L>) -> ExitCode {
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
    drop(end);
    ExitCode::SUCCESS
}

/// The checksums of what a writer sent, for a version 1 and a version 2 reader.
struct Sums([u64; 2]);

impl Sums {
    fn new() -> Sums {
        Sums([FOLD_INIT; 2])
    }

    /// Folds message `seq` of kind `k` as written (`written`) by a writer of `writer` version.
    fn add(&mut self, k: Kind, written: &Words, writer: u16) {
        for (sum, reader) in self.0.iter_mut().zip([1, 2]) {
            *sum = fold_known(*sum, k, written, writer, reader);
        }
    }

    fn print(&self, count: u64) {
        println!("SENT {count} {:016x} {:016x}", self.0[0], self.0[1]);
    }
}

/// Sends messages 1 to `count` (a third each loaned, `try_send` and `send`), prints `SENT`.
fn write<R: Release>(end: End<R::Quote, R::Library>, ring: Ring, count: u64) -> ExitCode {
    let (mut channel, mut stream) = match end {
        End::ChannelWriter(w) => (Some(w), None),
        End::StreamWriter(w) => (None, Some(w)),
        _ => unreachable!("an SPSC writer writes"),
    };
    let mut sums = Sums::new();
    for seq in 1..=count {
        let k = kind(ring, seq, R::VERSION);
        let words = expected(k, seq);
        let sent = match (&mut channel, &mut stream) {
            (Some(w), _) => send_quote::<R>(w, &words, How::of(seq)),
            (_, Some(w)) => R::send(w, k, &words, How::of(seq)),
            _ => unreachable!(),
        };
        match sent {
            Ok(written) => sums.add(k, &written, R::VERSION),
            Err(e) => return fail("send", e),
        }
    }
    sums.print(count);
    ExitCode::SUCCESS
}

fn send_quote<R: Release>(
    w: &mut Writer<R::Quote>,
    words: &Words,
    how: How,
) -> Result<Words, SendError> {
    let quote = R::Quote::from_words(words);
    match how {
        How::Loan => loop {
            match w.loan() {
                Ok(mut slot) => {
                    *slot = quote;
                    slot.commit();
                    break;
                }
                Err(SendError::Full) => std::thread::yield_now(),
                Err(e) => return Err(e),
            }
        },
        How::TrySend => loop {
            match w.try_send(&quote) {
                Err(SendError::Full) => std::thread::yield_now(),
                other => break other?,
            }
        },
        How::Send => w.send_timeout(&quote, TIMEOUT)?,
    }
    Ok(quote.words())
}

/// What a reader found so far.
struct Tally {
    count: u64,
    mismatches: u64,
    sum: u64,
    /// The writer versions met, in order.
    runs: Runs,
    skipped: u64,
}

impl Tally {
    fn new() -> Tally {
        Tally { count: 0, mismatches: 0, sum: FOLD_INIT, runs: Runs::default(), skipped: 0 }
    }

    fn mismatch(&mut self, seq: u64, k: Kind, what: &str, got: u64, want: u64) {
        if self.mismatches < SHOWN {
            println!("MISMATCH {seq} {} {what} got {got:#x} want {want:#x}", k.name());
        }
        self.mismatches += 1;
    }

    /// Checks message `seq` as read and folds what both sides know into the checksum.
    fn check<R: Release>(&mut self, ring: Ring, seq: u64, version: u16, id: u32, read: Read) {
        self.count += 1;
        self.runs.push(version, seq);
        let want = kind(ring, seq, version);
        if id != want.id() {
            return self.mismatch(seq, want, "id", id.into(), want.id().into());
        }
        if !R::has_agrees(want, version) {
            self.mismatch(seq, want, "has_<member>", version.into(), version.into());
        }
        let words = match read {
            Read::Invalid(e) => {
                println!("MISMATCH {seq} {} does not view: {e}", want.name());
                self.mismatches += 1;
                return;
            }
            Read::Unknown if want.since() <= R::VERSION => {
                return self.mismatch(seq, want, "unknown-id", id.into(), want.id().into());
            }
            // A message newer than this reader: seen only by its id.
            Read::Unknown => {
                self.skipped += 1;
                [0; MAX_WORDS]
            }
            Read::Known(k, _) if k != want => {
                return self.mismatch(seq, want, "kind", k.id().into(), want.id().into());
            }
            Read::Known(_, words) => words,
        };
        if let Some((member, got, want_value)) = compare(want, seq, &words, version, R::VERSION) {
            self.mismatch(seq, want, member, got, want_value);
        }
        self.sum = fold_known(self.sum, want, &words, version, R::VERSION);
    }

    /// Prints `RECV` (with what followed the last message) and returns the exit status.
    fn report(self, missed: u64, end: &str) -> ExitCode {
        let Tally { count, mismatches, sum, runs, skipped } = self;
        println!("RECV {count} {mismatches} {sum:016x} {runs} {skipped} {missed} {end}");
        if mismatches == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(3)
        }
    }
}

/// Receives `count` messages, checks each, then waits for the writer's detach; prints `RECV`.
fn read<R: Release>(end: End<R::Quote, R::Library>, ring: Ring, count: u64) -> ExitCode {
    let mut tally = Tally::new();
    let end = match end {
        End::ChannelReader(mut r) => {
            for seq in 1..=count {
                let m = match r.recv_timeout(TIMEOUT) {
                    Ok(m) => m,
                    Err(e) => return fail("recv", e),
                };
                let read = Read::Known(Kind::Quote, m.words());
                tally.check::<R>(ring, seq, m.version(), Kind::Quote.id(), read);
            }
            end_of(r.recv_timeout(TIMEOUT).map(|m| m.position()))
        }
        End::StreamReader(mut r) => {
            for seq in 1..=count {
                let frame = match r.recv_timeout(TIMEOUT) {
                    Ok(f) => f,
                    Err(e) => return fail("stream recv", e),
                };
                tally.check::<R>(ring, seq, frame.version(), frame.id(), R::read(&frame));
            }
            end_of(r.recv_timeout(TIMEOUT).map(|f| f.position()))
        }
        _ => unreachable!("an SPSC reader reads"),
    };
    tally.report(0, &end)
}

/// What followed the last message: the writer's detach, or what else.
fn end_of(next: Result<u64, RecvError>) -> String {
    match next {
        Err(RecvError::Disconnected) => "DISCONNECTED".to_string(),
        Err(e) => e.to_string().replace(' ', "_"),
        Ok(position) => format!("unexpected-message-at-{position}"),
    }
}

/// The command line.
struct Args {
    role: Role,
    ring: Ring,
    /// A lossy broadcast reader (`RING` ends in `-lossy`).
    lossy: bool,
    create: bool,
    name: String,
    count: u64,
}

/// Attaches, then holds, writes or reads.
fn run<R: Release>(args: &Args) -> ExitCode {
    let end = match attach_or_refuse::<R::Quote, R::Library>(args, R::NAME) {
        Ok(end) => end,
        Err(code) => return code,
    };
    match (args.count, args.role, args.ring.broadcast()) {
        (0, _, _) => hold(end),
        (_, Role::Writer, false) => write::<R>(end, args.ring, args.count),
        (_, Role::Reader, false) => read::<R>(end, args.ring, args.count),
        (_, Role::Writer, true) => broadcast::write::<R>(end, args.ring, args.count),
        (_, Role::Reader, true) => broadcast::read::<R>(end, args.ring, args.count),
    }
}

fn usage(args: &[String]) -> ExitCode {
    eprintln!(
        "usage: skew-peer writer|reader channel|stream|broadcast[-lossy]|bstream[-lossy] \
         v1|v2|conflict create|open NAME N (conflict: N = 0); got {args:?}"
    );
    ExitCode::from(2)
}

fn parse(args: &[String]) -> Option<(Args, &str)> {
    let [role, ring, version, mode, name, count] = args else { return None };
    let role = match role.as_str() {
        "writer" => Role::Writer,
        "reader" => Role::Reader,
        _ => return None,
    };
    let (ring, lossy) = match ring.strip_suffix("-lossy") {
        Some(ring) => (ring, true),
        None => (ring.as_str(), false),
    };
    let ring = [Ring::Channel, Ring::Stream, Ring::Broadcast, Ring::BroadcastStream]
        .into_iter()
        .find(|r| r.arg() == ring && (!lossy || (r.broadcast() && role == Role::Reader)))?;
    let create = match mode.as_str() {
        "create" => true,
        "open" => false,
        _ => return None,
    };
    let count = count.parse::<u64>().ok()?;
    Some((Args { role, ring, lossy, create, name: name.clone(), count }, version.as_str()))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((parsed, version)) = parse(&args) else { return usage(&args) };
    match (version, parsed.count) {
        ("v1", _) => run::<V1>(&parsed),
        ("v2", _) => run::<V2>(&parsed),
        ("conflict", 0) => {
            match attach_or_refuse::<conflict::Quote, conflict::Library>(&parsed, "conflict") {
                Ok(end) => hold(end),
                Err(code) => code,
            }
        }
        _ => usage(&args),
    }
}
