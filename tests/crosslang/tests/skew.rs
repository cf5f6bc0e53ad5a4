//! The version-skew matrix (issue 6): a writer built from `schemas/evolution/v1` or `v2`, in
//! Rust (`src/bin/skew-peer.rs`) or C (`c/skew.c`), and a reader likewise, as two processes on
//! one typed channel of `Quote` and on one framed stream of the library: 2 rings × 4 writers ×
//! 4 readers = 32 cells of `MESSAGES` messages each. In each cell:
//!
//! - the reader checks every message: members both versions know have their values, members the
//!   writer lacks read as 0, the writer version it reports (`Received::version`,
//!   `Frame::version`, `flatipc_channel_reader_version`, `frame.version`) is the writer's, and
//!   `has_<member>(version)` agrees (the peers' own checks; any mismatch fails the cell);
//! - the writer prints the checksum of the members it wrote that a version 1 and a version 2
//!   reader know, the reader the checksum of the members it compared, and this test computes
//!   the same from `skew::checksum`: all three must agree, as must the counts;
//! - one side creates the segment and the other opens it, alternating so that every pair of
//!   versions meets both ways (a version 2 writer taking over a ring a version 1 reader created,
//!   a version 1 writer opening a version 2 reader's ring, ...).
//!
//! Then the refused pairs: a peer built from `schemas/evolution/conflict` (whose version 2
//! diverged from `v2`'s) and a `v2` peer, either attaching first, in Rust and in C, on both
//! rings: the second must be refused with a version mismatch, and say so.
//!
//! Cells run one at a time (`serial`): the host may have two CPUs, and each cell already runs
//! two processes.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use flatipc_crosslang_tests::skew::{checksum, Ring, MESSAGES};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    Rust,
    C,
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

fn ring_arg(ring: Ring) -> &'static str {
    match ring {
        Ring::Channel => "channel",
        Ring::Stream => "stream",
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
    };
    if c.is_empty() {
        let errors = std::fs::read_to_string(env!("FLATIPC_XL_SKEW_C_ERRORS"))
            .unwrap_or_else(|e| format!("(cannot read the compiler output: {e})"));
        panic!("the C skew peer ({}) did not compile:\n{errors}", release.arg());
    }
    PathBuf::from(c)
}

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
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

/// A peer process whose stdout lines arrive on a channel, so that waits can time out.
struct Peer {
    what: String,
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Peer {
    /// `skew-peer ROLE RING VERSION MODE NAME N` (see `src/bin/skew-peer.rs`).
    fn spawn(
        lang: Lang,
        release: Release,
        role: Role,
        ring: Ring,
        create: bool,
        name: &str,
        count: u64,
    ) -> Peer {
        let mode = if create { "create" } else { "open" };
        let args = [role.arg(), ring_arg(ring), release.arg(), mode, name, &count.to_string()]
            .map(String::from);
        let what = format!("{lang:?} {args:?}");
        let mut child = Command::new(exe(lang, release))
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Peer { what, child, lines, seen: Vec::new() }
    }

    /// Waits for the `ATTACHED` line (the peer holds the ring from then on).
    fn attached(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with("ATTACHED ") => return,
                Ok(line) => self.seen.push(line),
                Err(e) => panic!("{}: did not attach ({e}); output {:?}", self.what, self.seen),
            }
        }
    }

    /// Closes stdin (ending a hold), waits for the exit (killing the process after `timeout`)
    /// and returns the status and every line not consumed yet.
    fn finish(mut self, timeout: Duration) -> (ExitStatus, Vec<String>) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("{} did not finish within {timeout:?}; output {:?}", self.what, self.seen);
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let mut lines = std::mem::take(&mut self.seen);
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            lines.push(line);
        }
        (status, lines)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
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

/// Which side creates the segment: the reader when both peers are in the same language on a
/// channel or in different languages on a stream, else the writer. Each version pair of each
/// ring thus meets both ways, and each language creates in half the cells.
fn reader_creates(ring: Ring, writer: Lang, reader: Lang) -> bool {
    (writer == reader) == (ring == Ring::Channel)
}

/// Runs one cell: a writer and a reader process, `MESSAGES` messages, every check above.
fn cell(ring: Ring, writer: (Lang, Release), reader: (Lang, Release)) {
    let _serial = serial();
    let segment = Segment::new(ring_arg(ring));
    let name = segment.0.as_str();
    let start = Instant::now();
    let spawn = |(lang, release): (Lang, Release), role, create| {
        Peer::spawn(lang, release, role, ring, create, name, MESSAGES)
    };
    let (w, r) = if reader_creates(ring, writer.0, reader.0) {
        let mut r = spawn(reader, Role::Reader, true);
        r.attached();
        (spawn(writer, Role::Writer, false), r)
    } else {
        let mut w = spawn(writer, Role::Writer, true);
        w.attached();
        (w, spawn(reader, Role::Reader, false))
    };
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
    let recv = fields(&r_lines, "RECV ", "the reader");
    let [count, mismatches, sum, version, seen_skipped, end] = recv[..] else {
        panic!("{cell}: RECV <count> <mismatches> <sum> <version> <skipped> <end>: {recv:?}")
    };
    assert_eq!(count, MESSAGES.to_string(), "{cell}: messages received");
    assert_eq!(mismatches, "0", "{cell}: {r_lines:?}");
    assert_eq!(version, wv.to_string(), "{cell}: the writer version the reader saw");
    assert_eq!(hex(sum), expected, "{cell}: the reader's checksum");
    assert_eq!(seen_skipped, skipped.to_string(), "{cell}: messages newer than the reader");
    assert_eq!(end, "DISCONNECTED", "{cell}: the reader must see the writer's detach");
    eprintln!("{cell}: {MESSAGES} messages in {elapsed:?}");
}

/// One test per cell: `ring: writer lang release => reader lang release`.
macro_rules! matrix {
    ($($test:ident: $ring:ident $wl:ident $wr:ident => $rl:ident $rr:ident;)*) => {$(
        #[test]
        fn $test() {
            cell(Ring::$ring, (Lang::$wl, Release::$wr), (Lang::$rl, Release::$rr));
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
            Lang::C => (Role::Writer, Role::Reader),
        };
        let segment = Segment::new("refused");
        let mut holder = Peer::spawn(first_lang, first, first_role, ring, true, &segment.0, 0);
        holder.attached();
        // N = 0: if it attached, it would hold until its stdin closes (in `finish`).
        let opener = Peer::spawn(second.0, second.1, second_role, ring, false, &segment.0, 0);
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
