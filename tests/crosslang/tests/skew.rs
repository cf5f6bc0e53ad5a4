//! The version-skew matrix (issue 6): a writer built from `schemas/evolution/v1` or `v2`, in
//! Rust (`src/bin/skew-peer/`) or C (`c/skew.c`), and a reader likewise, as two processes on
//! one typed channel of `Quote` and on one framed stream of the library: 2 rings × 4 writers ×
//! 4 readers = 32 cells of `MESSAGES` messages each. In each cell:
//!
//! - the reader checks every message: members both versions know have their values, members the
//!   writer lacks read as 0, and `has_<member>(version)` agrees (the peers' own checks; any
//!   mismatch fails the cell); it prints the writer versions it met (`skew::Runs`, from
//!   `Received::version`, `Frame::version`, `flatipc_channel_reader_version`, `frame.version`
//!   and their broadcast equivalents), which must be the writer's for every message;
//! - the writer prints the checksum of the members it wrote that a version 1 and a version 2
//!   reader know, the reader the checksum of the members it compared, and this test computes
//!   the same from `skew::checksum`: all three must agree, as must the counts;
//! - one side creates the segment and the other opens it, alternating so that every pair of
//!   versions meets both ways (a version 2 writer taking over a ring a version 1 reader created,
//!   a version 1 writer opening a version 2 reader's ring, ...).
//!
//! The broadcast rings (a typed ring of `Quote` and a broadcast stream of the library, 64 slots
//! so that every slot is lapped many times) add the readers' policy: cells pair a writer of one
//! version with a tethered or a lossy reader of the other (and a few of the same), Rust with C
//! both ways, some C peers built with AddressSanitizer and UndefinedBehaviorSanitizer. A lossy
//! reader may miss messages: it checks those it gets, and what it got and missed must add up.
//! Then writers of both versions take over one broadcast ring after another under readers of
//! both versions that stay attached (`takeover`): a version 1 writer's messages land on slots
//! that held version 2 ones, whose bytes past version 1's size a reader must not show.
//!
//! Then the refused pairs: a peer built from `schemas/evolution/conflict` (whose version 2
//! diverged from `v2`'s) and a `v2` peer, either attaching first, in Rust and in C, on every
//! ring: the second must be refused with a version mismatch, and say so. (A diverged writer
//! that attaches after a reader, which meets it at receive, is `c/peer.c`'s `evo-bcast` and
//! `evo-bstream`, in `tests/crosslang.rs`.)
//!
//! Cells run one at a time (`serial`): the host may have two CPUs, and each cell already runs
//! two processes.

use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::serial;

use flatipc_crosslang_tests::skew::{checksum, checksum_from, Ring, Runs, MESSAGES};
use flatipc_crosslang_tests::FOLD_INIT;

mod common;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    Rust,
    C,
    /// The C peer built with AddressSanitizer and UndefinedBehaviorSanitizer.
    CAsan,
}

/// A broadcast reader's policy (the SPSC rings have one reader: `Tethered`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Policy {
    Tethered,
    Lossy,
}

/// The release of `schemas/evolution/` a peer is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Release {
    V1,
    V2,
    Conflict,
}

impl Release {
    fn arg(self) -> &'static str {
        match self {
            Release::V1 => "v1",
            Release::V2 => "v2",
            Release::Conflict => "conflict",
        }
    }

    fn version(self) -> u16 {
        match self {
            Release::V1 => 1,
            Release::V2 | Release::Conflict => 2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Writer,
    Reader,
}

impl Role {
    fn arg(self) -> &'static str {
        match self {
            Role::Writer => "writer",
            Role::Reader => "reader",
        }
    }
}

/// The peer's `RING` argument: a lossy broadcast reader's ends in `-lossy`.
fn ring_arg(ring: Ring, role: Role, policy: Policy) -> String {
    match (role, policy) {
        (Role::Reader, Policy::Lossy) => format!("{}-lossy", ring.arg()),
        _ => ring.arg().to_string(),
    }
}

/// The executable of a peer; a C peer that build.rs could not compile fails the test with the
/// compiler's output.
fn exe(lang: Lang, release: Release) -> PathBuf {
    let c = match (lang, release) {
        (Lang::Rust, _) => return PathBuf::from(env!("CARGO_BIN_EXE_skew-peer")),
        (Lang::C, Release::V1) => env!("FLATIPC_XL_SKEW_V1"),
        (Lang::C, Release::V2) => env!("FLATIPC_XL_SKEW_V2"),
        (Lang::C, Release::Conflict) => env!("FLATIPC_XL_SKEW_CONFLICT"),
        (Lang::CAsan, Release::V1) => env!("FLATIPC_XL_SKEW_V1_ASAN"),
        (Lang::CAsan, Release::V2) => env!("FLATIPC_XL_SKEW_V2_ASAN"),
        (Lang::CAsan, Release::Conflict) => panic!("no sanitized build of the conflict release"),
    };
    if c.is_empty() {
        let errors = std::fs::read_to_string(env!("FLATIPC_XL_SKEW_C_ERRORS"))
            .unwrap_or_else(|e| format!("(cannot read the compiler output: {e})"));
        panic!("the C skew peer ({}) did not compile:\n{errors}", release.arg());
    }
    PathBuf::from(c)
}

/// A segment name of this process, removed (`/dev/shm/flatipc.<name>`) when dropped.
struct Segment(String);

impl Segment {
    fn new(what: &str) -> Segment {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Segment(format!("xl-skew-{what}-{}-{n}", std::process::id()))
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(format!("/dev/shm/flatipc.{}", self.0));
    }
}

/// A skew peer process (`common::Peer`: stdout lines awaited with a timeout, killed if the test
/// ends first).
struct Peer(common::Peer);

impl Peer {
    /// `skew-peer ROLE RING VERSION MODE NAME N` (see `src/bin/skew-peer/main.rs`).
    fn spawn(
        lang: Lang,
        release: Release,
        (role, policy): (Role, Policy),
        ring: Ring,
        create: bool,
        name: &str,
        count: u64,
    ) -> Peer {
        let mode = if create { "create" } else { "open" };
        let ring = ring_arg(ring, role, policy);
        let count = count.to_string();
        let args = [role.arg(), &ring, release.arg(), mode, name, &count];
        Peer(common::Peer::spawn_exe(&exe(lang, release), &format!("{lang:?}"), &args))
    }

    /// Waits for the `ATTACHED` line (the peer holds the ring from then on).
    fn attached(&mut self) {
        self.0.expect_line("ATTACHED ", Duration::from_secs(10));
    }

    /// Sends a line to the peer's stdin: a broadcast writer's go.
    fn go(&mut self) {
        self.0.send_line("go");
    }

    /// Closes stdin (ending a hold), waits for the exit (killing the process after `timeout`)
    /// and returns the status and every line not consumed yet.
    fn finish(self, timeout: Duration) -> (ExitStatus, Vec<String>) {
        self.0.finish(timeout)
    }
}

/// The words after `tag` on the line starting with it.
fn fields<'a>(lines: &'a [String], tag: &str, who: &str) -> Vec<&'a str> {
    let line = lines
        .iter()
        .find(|l| l.starts_with(tag))
        .unwrap_or_else(|| panic!("{who} printed no {tag:?} line: {lines:?}"));
    line.split_whitespace().skip(1).collect()
}

fn hex(word: &str) -> u64 {
    u64::from_str_radix(word, 16).unwrap_or_else(|e| panic!("checksum {word:?}: {e}"))
}

/// Which side creates the segment. SPSC rings: the reader when both peers are in the same
/// language on a channel or in different languages on a stream, else the writer; each version
/// pair of each ring thus meets both ways, and each language creates in half the cells.
/// Broadcast rings: the reader when the writer is of version 2 (it takes over a ring a version
/// 1 reader made, in the cells across versions), else the writer.
fn reader_creates(ring: Ring, writer: (Lang, Release), reader: Lang) -> bool {
    if ring.broadcast() {
        return writer.1.version() == 2;
    }
    (writer.0 == reader) == (ring == Ring::Channel)
}

/// What a reader printed: `RECV <count> <mismatches> <sum> <runs> <skipped> <missed> <end>`.
#[derive(Debug)]
struct Recv {
    count: u64,
    mismatches: u64,
    sum: u64,
    runs: Runs,
    skipped: u64,
    missed: u64,
    end: String,
}

impl Recv {
    fn parse(lines: &[String], who: &str) -> Recv {
        let recv = fields(lines, "RECV ", who);
        let [count, mismatches, sum, runs, skipped, missed, end] = recv[..] else {
            panic!(
                "{who}: RECV <count> <mismatches> <sum> <runs> <skipped> <missed> <end>: {recv:?}"
            )
        };
        let number = |w: &str| w.parse().unwrap_or_else(|e| panic!("{who}: {w:?}: {e}"));
        Recv {
            count: number(count),
            mismatches: number(mismatches),
            sum: hex(sum),
            runs: Runs::parse(runs).unwrap_or_else(|| panic!("{who}: runs {runs:?}")),
            skipped: number(skipped),
            missed: number(missed),
            end: end.to_string(),
        }
    }
}

/// Runs one cell: a writer and a reader process, `MESSAGES` messages, every check above.
fn cell(ring: Ring, writer: (Lang, Release), reader: (Lang, Release, Policy)) {
    let _serial = serial();
    let segment = Segment::new(ring.arg());
    let name = segment.0.as_str();
    let start = Instant::now();
    let (reader_end, policy) = ((reader.0, reader.1), reader.2);
    let spawn = |(lang, release): (Lang, Release), role, create| {
        Peer::spawn(lang, release, role, ring, create, name, MESSAGES)
    };
    let (writer_role, reader_role) = ((Role::Writer, Policy::Tethered), (Role::Reader, policy));
    let reader_first = reader_creates(ring, writer, reader.0);
    let (mut w, mut r) = if reader_first {
        let mut r = spawn(reader_end, reader_role, true);
        r.attached();
        (spawn(writer, writer_role, false), r)
    } else {
        let mut w = spawn(writer, writer_role, true);
        w.attached();
        (w, spawn(reader_end, reader_role, false))
    };
    if ring.broadcast() {
        // A broadcast writer waits for its go, so that the reader is attached from the first
        // message on.
        if reader_first {
            w.attached();
        } else {
            r.attached();
        }
        w.go();
    }
    let (w_status, w_lines) = w.finish(Duration::from_secs(120));
    let (r_status, r_lines) = r.finish(Duration::from_secs(120));
    let elapsed = start.elapsed();
    let cell = format!("{ring:?} {writer:?} -> {reader:?}");
    assert!(w_status.success(), "{cell}: writer failed ({w_status}): {w_lines:?}");
    assert!(r_status.success(), "{cell}: reader failed ({r_status}): {r_lines:?}");

    let (wv, rv) = (writer.1.version(), reader.1.version());
    let (expected, skipped) = checksum(ring, wv, rv, MESSAGES);
    let sent = fields(&w_lines, "SENT ", "the writer");
    assert_eq!(sent.len(), 3, "{cell}: SENT <count> <v1 sum> <v2 sum>: {sent:?}");
    assert_eq!(sent[0], MESSAGES.to_string(), "{cell}: messages sent");
    assert_eq!(hex(sent[usize::from(rv)]), expected, "{cell}: the writer's checksum");
    let recv = Recv::parse(&r_lines, &format!("{cell}: the reader"));
    assert_eq!(recv.mismatches, 0, "{cell}: {r_lines:?}");
    assert_eq!(recv.end, "DISCONNECTED", "{cell}: the reader must see the writer's detach");
    match policy {
        Policy::Tethered => {
            assert_eq!((recv.count, recv.missed), (MESSAGES, 0), "{cell}: messages received");
            assert_eq!(recv.runs, Runs(vec![(wv, 1, MESSAGES)]), "{cell}: the writer version");
            assert_eq!(recv.sum, expected, "{cell}: the reader's checksum");
            assert_eq!(recv.skipped, skipped, "{cell}: messages newer than the reader");
        }
        Policy::Lossy => {
            assert_eq!(recv.count + recv.missed, MESSAGES, "{cell}: received and missed");
            assert!(recv.count > 0, "{cell}: a lossy reader received nothing");
            let one_writer = matches!(recv.runs.0[..], [(v, first, last)]
                if v == wv && 1 <= first && last <= MESSAGES);
            assert!(one_writer, "{cell}: the writer version: {:?}", recv.runs);
            assert!(recv.skipped <= skipped, "{cell}: messages newer than the reader");
        }
    }
    eprintln!(
        "{cell}: {MESSAGES} messages ({} received, {} missed) in {elapsed:?}",
        recv.count, recv.missed
    );
}

/// One test per cell: `ring: writer lang release => reader lang release`.
macro_rules! matrix {
    ($($test:ident: $ring:ident $wl:ident $wr:ident => $rl:ident $rr:ident;)*) => {$(
        #[test]
        fn $test() {
            cell(Ring::$ring, (Lang::$wl, Release::$wr), (Lang::$rl, Release::$rr, Policy::Tethered));
        }
    )*};
}

matrix! {
    channel_rust_v1_to_rust_v1: Channel Rust V1 => Rust V1;
    channel_rust_v1_to_rust_v2: Channel Rust V1 => Rust V2;
    channel_rust_v1_to_c_v1: Channel Rust V1 => C V1;
    channel_rust_v1_to_c_v2: Channel Rust V1 => C V2;
    channel_rust_v2_to_rust_v1: Channel Rust V2 => Rust V1;
    channel_rust_v2_to_rust_v2: Channel Rust V2 => Rust V2;
    channel_rust_v2_to_c_v1: Channel Rust V2 => C V1;
    channel_rust_v2_to_c_v2: Channel Rust V2 => C V2;
    channel_c_v1_to_rust_v1: Channel C V1 => Rust V1;
    channel_c_v1_to_rust_v2: Channel C V1 => Rust V2;
    channel_c_v1_to_c_v1: Channel C V1 => C V1;
    channel_c_v1_to_c_v2: Channel C V1 => C V2;
    channel_c_v2_to_rust_v1: Channel C V2 => Rust V1;
    channel_c_v2_to_rust_v2: Channel C V2 => Rust V2;
    channel_c_v2_to_c_v1: Channel C V2 => C V1;
    channel_c_v2_to_c_v2: Channel C V2 => C V2;
    stream_rust_v1_to_rust_v1: Stream Rust V1 => Rust V1;
    stream_rust_v1_to_rust_v2: Stream Rust V1 => Rust V2;
    stream_rust_v1_to_c_v1: Stream Rust V1 => C V1;
    stream_rust_v1_to_c_v2: Stream Rust V1 => C V2;
    stream_rust_v2_to_rust_v1: Stream Rust V2 => Rust V1;
    stream_rust_v2_to_rust_v2: Stream Rust V2 => Rust V2;
    stream_rust_v2_to_c_v1: Stream Rust V2 => C V1;
    stream_rust_v2_to_c_v2: Stream Rust V2 => C V2;
    stream_c_v1_to_rust_v1: Stream C V1 => Rust V1;
    stream_c_v1_to_rust_v2: Stream C V1 => Rust V2;
    stream_c_v1_to_c_v1: Stream C V1 => C V1;
    stream_c_v1_to_c_v2: Stream C V1 => C V2;
    stream_c_v2_to_rust_v1: Stream C V2 => Rust V1;
    stream_c_v2_to_rust_v2: Stream C V2 => Rust V2;
    stream_c_v2_to_c_v1: Stream C V2 => C V1;
    stream_c_v2_to_c_v2: Stream C V2 => C V2;
}

/// The second of two peers whose schemas diverged at version 2 must be refused at attach with
/// a version mismatch (and say so), whichever language attached first, as writer or as reader:
/// the first attacher (language `first`) creates the segment and holds it; a Rust first
/// attacher is the reader, a C one the writer, and the second takes the other role.
fn refused(ring: Ring, first: Release, second: (Lang, Release)) {
    let _serial = serial();
    for first_lang in [Lang::Rust, Lang::C] {
        let (first_role, second_role) = match first_lang {
            Lang::Rust => (Role::Reader, Role::Writer),
            _ => (Role::Writer, Role::Reader),
        };
        let segment = Segment::new("refused");
        let (first_end, second_end) =
            ((first_role, Policy::Tethered), (second_role, Policy::Tethered));
        let mut holder = Peer::spawn(first_lang, first, first_end, ring, true, &segment.0, 0);
        holder.attached();
        // N = 0: if it attached, it would hold until its stdin closes (in `finish`).
        let opener = Peer::spawn(second.0, second.1, second_end, ring, false, &segment.0, 0);
        let (status, lines) = opener.finish(Duration::from_secs(10));
        let case = format!(
            "{ring:?}: {:?} {first_lang:?} {} first, then {second:?} {}",
            first,
            first_role.arg(),
            second_role.arg()
        );
        let refusal = lines.iter().find(|l| l.starts_with("REFUSED ")).unwrap_or_else(|| {
            panic!("{case}: the second peer was not refused ({status}): {lines:?}")
        });
        assert!(
            refusal.starts_with("REFUSED VERSION_MISMATCH "),
            "{case}: refused, but not with a version mismatch: {refusal}"
        );
        assert_eq!(status.code(), Some(5), "{case}: exit status after a refusal: {lines:?}");
        let (status, lines) = holder.finish(Duration::from_secs(10));
        assert!(status.success(), "{case}: the first peer failed ({status}): {lines:?}");
        eprintln!("{case}: {refusal}");
    }
}

#[test]
fn channel_conflict_after_v2_is_refused_in_rust() {
    refused(Ring::Channel, Release::V2, (Lang::Rust, Release::Conflict));
}

#[test]
fn channel_conflict_after_v2_is_refused_in_c() {
    refused(Ring::Channel, Release::V2, (Lang::C, Release::Conflict));
}

#[test]
fn channel_v2_after_conflict_is_refused_in_rust() {
    refused(Ring::Channel, Release::Conflict, (Lang::Rust, Release::V2));
}

#[test]
fn channel_v2_after_conflict_is_refused_in_c() {
    refused(Ring::Channel, Release::Conflict, (Lang::C, Release::V2));
}

#[test]
fn stream_conflict_after_v2_is_refused_in_rust() {
    refused(Ring::Stream, Release::V2, (Lang::Rust, Release::Conflict));
}

#[test]
fn stream_conflict_after_v2_is_refused_in_c() {
    refused(Ring::Stream, Release::V2, (Lang::C, Release::Conflict));
}

#[test]
fn stream_v2_after_conflict_is_refused_in_rust() {
    refused(Ring::Stream, Release::Conflict, (Lang::Rust, Release::V2));
}

#[test]
fn stream_v2_after_conflict_is_refused_in_c() {
    refused(Ring::Stream, Release::Conflict, (Lang::C, Release::V2));
}

#[test]
fn broadcast_conflict_after_v2_is_refused_in_c() {
    refused(Ring::Broadcast, Release::V2, (Lang::C, Release::Conflict));
}

#[test]
fn broadcast_v2_after_conflict_is_refused_in_c() {
    refused(Ring::Broadcast, Release::Conflict, (Lang::C, Release::V2));
}

#[test]
fn broadcast_v2_after_conflict_is_refused_in_rust() {
    refused(Ring::Broadcast, Release::Conflict, (Lang::Rust, Release::V2));
}

#[test]
fn bstream_conflict_after_v2_is_refused_in_c() {
    refused(Ring::BroadcastStream, Release::V2, (Lang::C, Release::Conflict));
}

#[test]
fn bstream_v2_after_conflict_is_refused_in_c() {
    refused(Ring::BroadcastStream, Release::Conflict, (Lang::C, Release::V2));
}

#[test]
fn bstream_v2_after_conflict_is_refused_in_rust() {
    refused(Ring::BroadcastStream, Release::Conflict, (Lang::Rust, Release::V2));
}

// ---------------------------------------------------------------------------------------------
// Broadcast rings

/// One test per cell: `ring: writer lang release => reader lang release policy`.
macro_rules! broadcast_matrix {
    ($($test:ident: $ring:ident $wl:ident $wr:ident => $rl:ident $rr:ident $policy:ident;)*) => {$(
        #[test]
        fn $test() {
            cell(Ring::$ring, (Lang::$wl, Release::$wr), (Lang::$rl, Release::$rr, Policy::$policy));
        }
    )*};
}

broadcast_matrix! {
    broadcast_rust_v1_to_c_v2_tethered: Broadcast Rust V1 => C V2 Tethered;
    broadcast_rust_v1_to_c_v2_lossy: Broadcast Rust V1 => C V2 Lossy;
    broadcast_rust_v2_to_c_v1_tethered: Broadcast Rust V2 => C V1 Tethered;
    broadcast_rust_v2_to_c_v1_lossy: Broadcast Rust V2 => C V1 Lossy;
    broadcast_rust_v1_to_c_asan_v2_tethered: Broadcast Rust V1 => CAsan V2 Tethered;
    broadcast_rust_v2_to_c_asan_v1_lossy: Broadcast Rust V2 => CAsan V1 Lossy;
    broadcast_c_v1_to_rust_v2_tethered: Broadcast C V1 => Rust V2 Tethered;
    broadcast_c_v1_to_rust_v2_lossy: Broadcast C V1 => Rust V2 Lossy;
    broadcast_c_v2_to_rust_v1_tethered: Broadcast C V2 => Rust V1 Tethered;
    broadcast_c_v2_to_rust_v1_lossy: Broadcast C V2 => Rust V1 Lossy;
    broadcast_c_v1_to_c_asan_v2_lossy: Broadcast C V1 => CAsan V2 Lossy;
    broadcast_c_asan_v2_to_c_v1_tethered: Broadcast CAsan V2 => C V1 Tethered;
    broadcast_c_v2_to_c_v2_tethered: Broadcast C V2 => C V2 Tethered;
    bstream_rust_v1_to_c_v2_tethered: BroadcastStream Rust V1 => C V2 Tethered;
    bstream_rust_v1_to_c_v2_lossy: BroadcastStream Rust V1 => C V2 Lossy;
    bstream_rust_v2_to_c_v1_tethered: BroadcastStream Rust V2 => C V1 Tethered;
    bstream_rust_v2_to_c_v1_lossy: BroadcastStream Rust V2 => C V1 Lossy;
    bstream_rust_v1_to_c_asan_v2_tethered: BroadcastStream Rust V1 => CAsan V2 Tethered;
    bstream_rust_v2_to_c_asan_v1_lossy: BroadcastStream Rust V2 => CAsan V1 Lossy;
    bstream_c_v1_to_rust_v2_tethered: BroadcastStream C V1 => Rust V2 Tethered;
    bstream_c_v1_to_rust_v2_lossy: BroadcastStream C V1 => Rust V2 Lossy;
    bstream_c_v2_to_rust_v1_tethered: BroadcastStream C V2 => Rust V1 Tethered;
    bstream_c_v2_to_rust_v1_lossy: BroadcastStream C V2 => Rust V1 Lossy;
    bstream_c_v1_to_c_asan_v2_lossy: BroadcastStream C V1 => CAsan V2 Lossy;
    bstream_c_asan_v2_to_c_v1_tethered: BroadcastStream CAsan V2 => C V1 Tethered;
    bstream_c_v2_to_c_v2_tethered: BroadcastStream C V2 => C V2 Tethered;
}

/// Messages each writer of a takeover sends.
const TAKEOVER_MESSAGES: u64 = 20_000;

/// Writers of both versions, in both languages, take over one broadcast ring one after another
/// (`TAKEOVER_MESSAGES` each) under readers of both versions, tethered and lossy, that stay
/// attached throughout. A version 1 writer's messages land on slots where version 2 ones were
/// (each slot is lapped many times): a version 2 reader must read zeros past version 1's size,
/// never the stale bytes. Every reader checks every message it gets against the version its
/// writer wrote; the tethered ones get all of them, with the checksum of the whole sequence, and
/// name each writer's version for its range; the lossy ones account for what they missed and
/// attribute each message they got to the right writer.
fn takeover(ring: Ring) {
    let _serial = serial();
    let segment = Segment::new("takeover");
    let name = segment.0.as_str();
    let writers = [
        (Lang::Rust, Release::V2),
        (Lang::C, Release::V1),
        (Lang::Rust, Release::V1),
        (Lang::CAsan, Release::V2),
        (Lang::C, Release::V1),
    ];
    let readers = [
        (Lang::C, Release::V2, Policy::Tethered),
        (Lang::CAsan, Release::V2, Policy::Lossy),
        (Lang::Rust, Release::V2, Policy::Tethered),
        (Lang::C, Release::V1, Policy::Tethered),
        (Lang::Rust, Release::V1, Policy::Lossy),
    ];
    let total = TAKEOVER_MESSAGES * writers.len() as u64;
    let start = Instant::now();
    let mut attached: Vec<Peer> = Vec::new();
    for (i, (lang, release, policy)) in readers.into_iter().enumerate() {
        // The first reader creates the ring (a version 2 reader: slots for version 2).
        let mut r = Peer::spawn(lang, release, (Role::Reader, policy), ring, i == 0, name, total);
        r.attached();
        attached.push(r);
    }
    // (first seq, last seq, writer version) of each writer.
    let mut ranges = Vec::new();
    for (i, (lang, release)) in writers.into_iter().enumerate() {
        let end = (Role::Writer, Policy::Tethered);
        let mut w = Peer::spawn(lang, release, end, ring, false, name, TAKEOVER_MESSAGES);
        w.attached();
        w.go();
        let (status, lines) = w.finish(Duration::from_secs(120));
        let who = format!("{ring:?} takeover: writer {i} ({lang:?} {release:?})");
        assert!(status.success(), "{who} failed ({status}): {lines:?}");
        let sent = fields(&lines, "SENT ", &who);
        assert_eq!(sent[0], TAKEOVER_MESSAGES.to_string(), "{who}: messages sent");
        let first = 1 + TAKEOVER_MESSAGES * i as u64;
        ranges.push((first, first + TAKEOVER_MESSAGES - 1, release.version()));
    }
    for (r, (lang, release, policy)) in attached.into_iter().zip(readers) {
        let who = format!("{ring:?} takeover: reader {lang:?} {release:?} {policy:?}");
        let (status, lines) = r.finish(Duration::from_secs(120));
        assert!(status.success(), "{who} failed ({status}): {lines:?}");
        let recv = Recv::parse(&lines, &who);
        assert_eq!(recv.mismatches, 0, "{who}: {lines:?}");
        assert_eq!(recv.end, "DISCONNECTED", "{who}: the last writer's detach");
        assert_eq!(recv.count + recv.missed, total, "{who}: received and missed");
        // Each run of one writer version starts and ends in the range of a writer of that
        // version (a lossy reader may have missed whole writers in between).
        let version_of =
            |seq: u64| ranges.iter().find(|&&(from, to, _)| from <= seq && seq <= to).map(|r| r.2);
        for &(version, first, last) in &recv.runs.0 {
            let right = version_of(first) == Some(version) && version_of(last) == Some(version);
            assert!(right, "{who}: version {version} for messages {first}-{last}: {ranges:?}");
        }
        if policy == Policy::Tethered {
            let rv = release.version();
            let (sum, skipped) = ranges.iter().fold((FOLD_INIT, 0), |acc, &(from, to, wv)| {
                checksum_from(acc, ring, wv, rv, from..=to)
            });
            let mut runs = Runs::default();
            for &(from, to, wv) in &ranges {
                runs.push(wv, from);
                runs.push(wv, to);
            }
            assert_eq!((recv.count, recv.missed), (total, 0), "{who}: messages received");
            assert_eq!(recv.runs, runs, "{who}: each writer's version");
            assert_eq!((recv.sum, recv.skipped), (sum, skipped), "{who}: checksum and skipped");
        }
        eprintln!("{who}: {} received, {} missed, runs {}", recv.count, recv.missed, recv.runs);
    }
    eprintln!("{ring:?} takeover: {total} messages in {:?}", start.elapsed());
}

#[test]
fn broadcast_writers_of_both_versions_take_over_under_readers_of_both() {
    takeover(Ring::Broadcast);
}

#[test]
fn bstream_writers_of_both_versions_take_over_under_readers_of_both() {
    takeover(Ring::BroadcastStream);
}
