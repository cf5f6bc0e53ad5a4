//! The broadcast stream (`flatipc::broadcast::broadcast_stream`, ring kind 4): the messages of a
//! schema library to many readers, one frame per slot of a broadcast ring. In process, across
//! threads, across real processes, and on scribbled segments.
//!
//! Three hand-written messages of 8, 32 and 200 bytes form the set `Lib` (slots of 256 bytes:
//! 16 header bytes plus 200, rounded up to 64); `Subset` knows two of them, `Conflict` gives one
//! of their ids another layout, `Narrow` lacks the large one (slots of 64 bytes), `OddLib` has
//! a 12-byte message (a size that is not a multiple of 8). Message `p` of every test follows
//! from its position `p` alone ([`Sent::of`]): its kind and every byte, so a reader checks each
//! frame whole against its position, and a lost, duplicated, reordered or torn frame is caught.
//!
//! Tests named `in_process_*` and `threads_*` use heap segments only (no `/dev/shm`, fork or
//! long timeouts), so that Miri can run them. Cross-process tests re-run this test binary as the
//! peer: the parent sets `FLATIPC_PEER` and runs the `peer_entry` test in a child process, which
//! acts out the role and exits.
#![cfg(target_os = "linux")]
// Small indexes into test arrays and random test words cut to size.
#![allow(clippy::cast_possible_truncation)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::FileExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use flatipc::broadcast::{
    broadcast_stream, BroadcastFrame, BroadcastOptions, BroadcastReader, BroadcastStreamReader,
    BroadcastStreamWriter, BroadcastWriter, Policy, ReaderOptions, RecvError, SendError, StartAt,
};
use flatipc::prelude::*;
use flatipc::stream::{view, InSet, MessageInfo, MessageSet, ViewError};
use flatipc::wait::WaitStrategy;
use flatipc::{Expect, OpenError, RingKind, Segment};

// ---------------------------------------------------------------------------------------------
// Messages and sets.

const SMALL: u32 = 0x7A01;
const MEDIUM: u32 = 0x7A02;
const LARGE: u32 = 0x7A03;
const FIT: u32 = 0x7A04;
const OVER: u32 = 0x7A05;
const ODD: u32 = 0x7A06;

/// 8 bytes.
#[derive(
    Clone, Copy, Debug, PartialEq, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(id = 0x7A01)]
#[repr(C)]
struct Small {
    seq: u64,
}

/// 32 bytes with a `bool` and padding, so that viewing it validates (and can fail).
#[derive(
    Clone, Copy, Debug, PartialEq, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(id = 0x7A02)]
#[repr(C)]
struct Medium {
    seq: u64,
    check: u64,
    flag: Bool,
    #[flat(padding)]
    _pad0: [u8; 7],
    value: u64,
}

/// 200 bytes: the largest message of `Lib`, so its slots hold 256 bytes.
#[derive(
    Clone, Copy, Debug, PartialEq, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(id = 0x7A03)]
#[repr(C)]
struct Large {
    seq: u64,
    check: u64,
    data: [u64; 23],
}

/// 48 bytes, in no set's message table: exactly what a 64-byte slot holds after its header.
#[derive(
    Clone, Copy, Debug, PartialEq, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(id = 0x7A04)]
#[repr(C)]
struct Fit {
    seq: u64,
    data: [u64; 5],
}

/// 56 bytes, in no set's message table: 8 bytes more than a 64-byte slot holds.
#[derive(
    Clone, Copy, Debug, PartialEq, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(id = 0x7A05)]
#[repr(C)]
struct Over {
    seq: u64,
    data: [u64; 6],
}

/// 12 bytes (4-aligned): a size that is not a multiple of 8.
#[derive(
    Clone, Copy, Debug, PartialEq, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(id = 0x7A06)]
#[repr(C)]
struct Odd {
    lo: u32,
    hi: u32,
    tag: u32,
}

/// `Medium`'s id with another layout (16 bytes).
#[derive(
    Clone, Copy, Debug, PartialEq, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(id = 0x7A02)]
#[repr(C)]
struct MediumOther {
    seq: u64,
    value: f64,
}

#[derive(Debug)]
enum AnyMessage<'a> {
    Small(&'a Small),
    Medium(&'a Medium),
    Large(&'a Large),
}

/// The set under test, written as `flatipc-gen` would generate it.
#[derive(Debug)]
struct Lib;

impl MessageSet for Lib {
    type View<'a> = AnyMessage<'a>;
    const LIBRARY: &'static str = "test.broadcast_stream";
    const MESSAGES: &'static [MessageInfo] =
        &[MessageInfo::of::<Small>(), MessageInfo::of::<Medium>(), MessageInfo::of::<Large>()];
    fn view(id: u32, bytes: &[u8]) -> Option<Result<AnyMessage<'_>, ViewError>> {
        match id {
            SMALL => Some(view::<Small>(bytes).map(AnyMessage::Small)),
            MEDIUM => Some(view::<Medium>(bytes).map(AnyMessage::Medium)),
            LARGE => Some(view::<Large>(bytes).map(AnyMessage::Large)),
            _ => None,
        }
    }
}
impl InSet<Lib> for Small {}
impl InSet<Lib> for Medium {}
impl InSet<Lib> for Large {}
// Sendable on a `Lib` ring but not in `Lib::MESSAGES`: they do not size its slots.
impl InSet<Lib> for Fit {}
impl InSet<Lib> for Over {}
// Useless but allowed (see `InSet`): frames of `Medium`'s id with the wrong size.
impl InSet<Lib> for MediumOther {}

#[derive(Debug)]
enum Known<'a> {
    Small(&'a Small),
    Large(&'a Large),
}

/// An older build of the library: it does not know `Medium`.
#[derive(Debug)]
struct Subset;

impl MessageSet for Subset {
    type View<'a> = Known<'a>;
    const LIBRARY: &'static str = "test.broadcast_stream";
    const MESSAGES: &'static [MessageInfo] =
        &[MessageInfo::of::<Small>(), MessageInfo::of::<Large>()];
    fn view(id: u32, bytes: &[u8]) -> Option<Result<Known<'_>, ViewError>> {
        match id {
            SMALL => Some(view::<Small>(bytes).map(Known::Small)),
            LARGE => Some(view::<Large>(bytes).map(Known::Large)),
            _ => None,
        }
    }
}
impl InSet<Subset> for Small {}
impl InSet<Subset> for Large {}

/// An incompatible build: `Medium`'s id has another layout.
#[derive(Debug)]
struct Conflict;

impl MessageSet for Conflict {
    type View<'a> = &'a MediumOther;
    const LIBRARY: &'static str = "test.broadcast_stream";
    const MESSAGES: &'static [MessageInfo] =
        &[MessageInfo::of::<Small>(), MessageInfo::of::<MediumOther>()];
    fn view(id: u32, bytes: &[u8]) -> Option<Result<&MediumOther, ViewError>> {
        (id == MEDIUM).then(|| view::<MediumOther>(bytes))
    }
}

/// A build without `Large`: its largest message (32 bytes) makes slots of 64 bytes.
#[derive(Debug)]
struct Narrow;

impl MessageSet for Narrow {
    type View<'a> = AnyMessage<'a>;
    const LIBRARY: &'static str = "test.broadcast_stream";
    const MESSAGES: &'static [MessageInfo] =
        &[MessageInfo::of::<Small>(), MessageInfo::of::<Medium>()];
    fn view(id: u32, bytes: &[u8]) -> Option<Result<AnyMessage<'_>, ViewError>> {
        match id {
            SMALL => Some(view::<Small>(bytes).map(AnyMessage::Small)),
            MEDIUM => Some(view::<Medium>(bytes).map(AnyMessage::Medium)),
            _ => None,
        }
    }
}
impl InSet<Narrow> for Small {}
impl InSet<Narrow> for Medium {}

/// A set with a message whose size is not a multiple of 8.
#[derive(Debug)]
struct OddLib;

impl MessageSet for OddLib {
    type View<'a> = &'a Odd;
    const LIBRARY: &'static str = "test.broadcast_stream.odd";
    const MESSAGES: &'static [MessageInfo] =
        &[MessageInfo::of::<Odd>(), MessageInfo::of::<Small>()];
    fn view(id: u32, bytes: &[u8]) -> Option<Result<&Odd, ViewError>> {
        (id == ODD).then(|| view::<Odd>(bytes))
    }
}
impl InSet<OddLib> for Odd {}
impl InSet<OddLib> for Small {}

/// Bytes per slot of a `Lib` ring, and the most a frame's message may hold in it.
const LIB_SLOT: u64 = 256;
const LIB_MAX_MESSAGE: u64 = LIB_SLOT - 16;

// ---------------------------------------------------------------------------------------------
// Messages by position.

fn checksum(seq: u64) -> u64 {
    seq.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17)
}

/// A message as sent, to compare with what arrives.
#[derive(Debug, PartialEq)]
enum Sent {
    Small(Small),
    Medium(Medium),
    Large(Large),
}

impl Sent {
    /// Message `seq`: its kind (pseudo-random, so the kinds interleave irregularly) and every
    /// byte follow from `seq`.
    fn of(seq: u64) -> Sent {
        let check = checksum(seq);
        match (check >> 56) % 3 {
            0 => Sent::Small(Small { seq }),
            1 => Sent::Medium(Medium {
                seq,
                check,
                flag: Bool::from(check & 1 == 1),
                _pad0: [0; 7],
                value: !seq,
            }),
            _ => {
                let mut x = check;
                let data = std::array::from_fn(|_| {
                    x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(seq);
                    x
                });
                Sent::Large(Large { seq, check, data })
            }
        }
    }

    fn id(&self) -> u32 {
        match self {
            Sent::Small(_) => SMALL,
            Sent::Medium(_) => MEDIUM,
            Sent::Large(_) => LARGE,
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Sent::Small(m) => m.as_bytes(),
            Sent::Medium(m) => m.as_bytes(),
            Sent::Large(m) => m.as_bytes(),
        }
    }
}

/// Sends the message of the writer's next position without waiting.
fn try_send_next(tx: &mut BroadcastStreamWriter<Lib>) -> Result<(), SendError> {
    match Sent::of(tx.position()) {
        Sent::Small(m) => tx.try_send(&m),
        Sent::Medium(m) => tx.try_send(&m),
        Sent::Large(m) => tx.try_send(&m),
    }
}

const PATIENCE: Duration = Duration::from_secs(30);

/// Sends the message of the writer's next position, waiting for tethered readers: `send`,
/// `send_timeout`, or (every other `Large`) built in a loan and committed.
fn send_next(tx: &mut BroadcastStreamWriter<Lib>) -> Result<(), SendError> {
    let position = tx.position();
    match Sent::of(position) {
        Sent::Small(m) => tx.send(&m),
        Sent::Medium(m) => tx.send_timeout(&m, PATIENCE),
        Sent::Large(m) if position % 2 == 0 => tx.send_timeout(&m, PATIENCE),
        Sent::Large(m) => {
            let mut loan = tx.loan::<Large>()?;
            *loan = m;
            loan.commit()
        }
    }
}

/// Checks that `frame` carries the message of its position through every accessor: id, bytes,
/// alignment, version, the library view and `get` for each type.
fn check_frame(frame: &BroadcastFrame<'_, Lib>) {
    let position = frame.position();
    let sent = Sent::of(position);
    assert_eq!(frame.id(), sent.id(), "frame {position}: id");
    assert_eq!(frame.bytes(), sent.bytes(), "frame {position}: altered, torn or misplaced");
    assert_eq!(frame.bytes().as_ptr() as usize % 16, 0, "frame {position}: not 16-aligned");
    assert_eq!(frame.version(), 1, "the writer's VERSION");
    let got = match frame.message() {
        Some(Ok(AnyMessage::Small(m))) => Sent::Small(*m),
        Some(Ok(AnyMessage::Medium(m))) => Sent::Medium(*m),
        Some(Ok(AnyMessage::Large(m))) => Sent::Large(*m),
        Some(Err(e)) => panic!("frame {position}: {e}"),
        None => panic!("frame {position}: unknown id {:#x}", frame.id()),
    };
    assert_eq!(got, sent, "frame {position}: view");
    let (small, medium, large) =
        (frame.get::<Small>(), frame.get::<Medium>(), frame.get::<Large>());
    match &sent {
        Sent::Small(m) => assert_eq!((small, medium, large), (Some(Ok(m)), None, None)),
        Sent::Medium(m) => assert_eq!((small, medium, large), (None, Some(Ok(m)), None)),
        Sent::Large(m) => assert_eq!((small, medium, large), (None, None, Some(Ok(m)))),
    }
    assert_eq!(frame.get::<Fit>(), None);
}

/// Folds a frame into a running digest.
fn digest(sum: u64, id: u32, bytes: &[u8]) -> u64 {
    bytes.chunks(8).fold(sum.rotate_left(7) ^ u64::from(id), |s, chunk| {
        let mut word = [0; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        s.rotate_left(5) ^ u64::from_le_bytes(word)
    })
}

/// The digest of the messages of `positions`.
fn expected_digest(positions: std::ops::Range<u64>) -> u64 {
    positions.fold(0, |s, p| {
        let sent = Sent::of(p);
        digest(s, sent.id(), sent.bytes())
    })
}

/// What a reader saw, checked frame by frame.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Seen {
    first: Option<u64>,
    last: Option<u64>,
    received: u64,
    missed: u64,
    digest: u64,
}

impl Seen {
    /// Checks `frame` (id and bytes, against its position) and that it follows the last one,
    /// with exactly `frame.missed()` skipped in between. Any library: only raw bytes are read.
    fn see<S: MessageSet>(&mut self, frame: &BroadcastFrame<'_, S>) {
        let position = frame.position();
        let sent = Sent::of(position);
        assert_eq!(frame.id(), sent.id(), "frame {position}: id");
        assert_eq!(frame.bytes(), sent.bytes(), "frame {position}: altered, torn or misplaced");
        match self.last {
            Some(last) => assert_eq!(position, last + 1 + frame.missed(), "lost or duplicated"),
            None => self.first = Some(position),
        }
        self.last = Some(position);
        self.received += 1;
        self.missed += frame.missed();
        self.digest = digest(self.digest, frame.id(), frame.bytes());
    }
}

/// Receives until `Disconnected`, checking every frame whole.
fn drain_until_disconnected(rx: &mut BroadcastStreamReader<Lib>, seen: &mut Seen) {
    loop {
        match rx.recv_timeout(PATIENCE) {
            Ok(frame) => {
                check_frame(&frame);
                seen.see(&frame);
            }
            Err(RecvError::Disconnected) => return,
            Err(e) => panic!("after {seen:?}: {e}"),
        }
    }
}

fn ring(capacity: u64, max_readers: u32) -> BroadcastOptions {
    BroadcastOptions { capacity, max_readers, wait: WaitStrategy::SpinThenPark { spins: 2_000 } }
}

fn reader(policy: Policy, start: StartAt) -> ReaderOptions {
    ReaderOptions { policy, start, wait: WaitStrategy::SpinThenPark { spins: 2_000 } }
}

fn tethered(start: StartAt) -> ReaderOptions {
    reader(Policy::Tethered, start)
}

fn lossy(start: StartAt) -> ReaderOptions {
    reader(Policy::Lossy, start)
}

fn unique(name: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!("test-bs-{name}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Removes the named segment when dropped.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Segment::remove(&self.0);
    }
}

fn count_for(release: u64, debug: u64) -> u64 {
    if cfg!(debug_assertions) {
        debug
    } else {
        release
    }
}

// ---------------------------------------------------------------------------------------------
// The segment layout (`docs/PROTOCOL.md` §2 and §5), to inspect and scribble on named segments.

/// Where the words of a broadcast segment lie: slots from 4096, one `u64` sequence word per slot
/// after them, the reader table at the next multiple of 4096.
#[derive(Debug, Clone, Copy)]
struct Layout {
    capacity: u64,
    slot_size: u64,
    max_readers: u64,
}

/// The writer line's `write_pos`.
const WRITE_POS: u64 = 2560;

impl Layout {
    /// The start of slot `index`: the frame header `{u32 size; u32 id; u16 version; u16 flags;
    /// u32 reserved}`, then the message.
    fn slot(&self, index: u64) -> u64 {
        4096 + self.slot_size * index
    }

    fn seq(&self, index: u64) -> u64 {
        4096 + self.capacity * self.slot_size + 8 * index
    }

    /// Reader entry `index`: `{u64 read_pos; u64 pid; u64 attach_unix_ns; u32 state; u32
    /// policy; u64 missed; u32 heap_lock}`.
    fn entry(&self, index: u64) -> u64 {
        4096 + (self.capacity * (self.slot_size + 8)).next_multiple_of(4096) + 64 * index
    }

    fn len(&self) -> u64 {
        self.entry(self.max_readers).next_multiple_of(4096)
    }
}

/// Writes `bytes` at `offset` of the file of segment `name` (the mappings see it at once).
fn poke(name: &str, offset: u64, bytes: &[u8]) {
    let file = std::fs::OpenOptions::new().write(true).open(Segment::path(name)).unwrap();
    file.write_all_at(bytes, offset).unwrap();
}

/// Reads `N` bytes at `offset` of the file of segment `name`.
fn peek<const N: usize>(name: &str, offset: u64) -> [u8; N] {
    let file = std::fs::File::open(Segment::path(name)).unwrap();
    let mut bytes = [0; N];
    file.read_exact_at(&mut bytes, offset).unwrap();
    bytes
}

fn peek_u32(name: &str, offset: u64) -> u32 {
    u32::from_le_bytes(peek(name, offset))
}

fn peek_u64(name: &str, offset: u64) -> u64 {
    u64::from_le_bytes(peek(name, offset))
}

// ---------------------------------------------------------------------------------------------
// The child side.

/// Capacity and readers of the segments children create.
fn child_ring() -> BroadcastOptions {
    BroadcastOptions {
        capacity: 1024,
        max_readers: 8,
        wait: WaitStrategy::SpinThenPark { spins: 500 },
    }
}

fn env_u64(key: &str, default: u64) -> u64 {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The lines arriving on this process's stdin, read by a thread.
fn stdin_lines() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line.trim().to_string()).is_err() {
                break;
            }
        }
    });
    rx
}

/// Not a test of its own: the body of every child process. Does nothing unless `FLATIPC_PEER`
/// is set.
#[test]
fn peer_entry() {
    let Ok(role) = std::env::var("FLATIPC_PEER") else { return };
    let name = std::env::var("FLATIPC_NAME").expect("FLATIPC_NAME");
    let mut out = std::io::stdout();
    let mut say = |line: String| {
        writeln!(out, "{line}").expect("stdout");
        out.flush().expect("stdout");
    };
    match role.as_str() {
        // Sends the message of each position from the ring's position on, `FLATIPC_COUNT`
        // messages (default: until told `STOP` on stdin). Prints `MARK` once `FLATIPC_MARK_AT`
        // are sent; sleeps `FLATIPC_PACE_US` every 64 messages; prints `LAST <position>` at the
        // end.
        "writer" => {
            let count = env_u64("FLATIPC_COUNT", u64::MAX);
            let mark_at = env_u64("FLATIPC_MARK_AT", u64::MAX);
            let pace = Duration::from_micros(env_u64("FLATIPC_PACE_US", 0));
            let commands = stdin_lines();
            let mut tx =
                BroadcastStreamWriter::<Lib>::open_or_create(&name, &child_ring()).expect("attach");
            say(format!("START {}", tx.position()));
            for k in 0..count {
                if k == mark_at {
                    say("MARK".into());
                }
                if k % 64 == 63 {
                    if !pace.is_zero() {
                        thread::sleep(pace);
                    }
                    if commands.try_recv().is_ok_and(|c| c == "STOP") {
                        break;
                    }
                }
                send_next(&mut tx).expect("send");
            }
            say(format!("LAST {}", tx.position().wrapping_sub(1)));
        }
        // Attaches (`FLATIPC_POLICY` tethered or lossy, from the next message), prints `READY`,
        // receives and checks every frame until `Disconnected`, then prints `DONE` and what it
        // saw. With `FLATIPC_STOP_AFTER`, stops reading after that many, prints `STOPPED <last
        // position>` and waits (still attached) to be killed.
        "reader" => {
            let policy = match std::env::var("FLATIPC_POLICY").as_deref() {
                Ok("lossy") => Policy::Lossy,
                _ => Policy::Tethered,
            };
            let stop_after = env_u64("FLATIPC_STOP_AFTER", u64::MAX);
            let options = ReaderOptions { policy, start: StartAt::Next, wait: child_ring().wait };
            let mut rx =
                BroadcastStreamReader::<Lib>::open_or_create(&name, &child_ring(), &options)
                    .expect("attach");
            say("READY".into());
            let mut seen = Seen::default();
            loop {
                if seen.received == stop_after {
                    say(format!("STOPPED {}", seen.last.expect("received some")));
                    thread::sleep(Duration::from_secs(120));
                }
                match rx.recv_timeout(PATIENCE) {
                    Ok(frame) => {
                        check_frame(&frame);
                        seen.see(&frame);
                        if policy == Policy::Tethered {
                            assert_eq!(frame.missed(), 0, "a tethered reader missed frames");
                        }
                    }
                    Err(RecvError::Disconnected) => break,
                    Err(e) => panic!("reader after {seen:?}: {e}"),
                }
            }
            assert_eq!(rx.missed(), seen.missed, "missed() is the sum of the frames' missed()");
            let first = seen.first.map_or(-1, i128::from);
            let last = seen.last.map_or(-1, i128::from);
            say(format!("DONE {first} {last} {} {} {}", seen.received, seen.missed, seen.digest));
        }
        other => panic!("unknown peer role {other}"),
    }
}

/// A child process and the lines it prints, read by a thread.
struct Peer {
    child: Child,
    lines: mpsc::Receiver<String>,
    stdin: Option<ChildStdin>,
}

impl Peer {
    fn spawn(role: &str, name: &str, vars: &[(&str, &str)]) -> Peer {
        let mut command = Command::new(std::env::current_exe().expect("test binary path"));
        command
            .args(["peer_entry", "--exact", "--nocapture", "--test-threads=1", "-q"])
            .env("FLATIPC_PEER", role)
            .env("FLATIPC_NAME", name)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (key, value) in vars {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("spawn peer");
        let stdout = child.stdout.take().expect("piped stdout");
        let stdin = child.stdin.take();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line.trim().to_string()).is_err() {
                    break;
                }
            }
        });
        Peer { child, lines, stdin }
    }

    /// Waits for the next line starting with `prefix` and returns the rest of it.
    fn expect(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return rest.trim().to_string();
                    }
                }
                Err(e) => panic!("waiting for {prefix:?} from the child: {e}"),
            }
        }
    }

    fn tell(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{line}").expect("write to child");
        stdin.flush().expect("write to child");
    }

    /// Waits for `DONE` and the child's successful exit; returns what it saw.
    fn done(mut self) -> Seen {
        let fields: Vec<i128> =
            self.expect("DONE").split(' ').map(|f| f.parse().expect("a number")).collect();
        assert!(self.child.wait().expect("wait").success());
        let position = |v: i128| u64::try_from(v).ok();
        let number = |v: i128| u64::try_from(v).expect("a count");
        Seen {
            first: position(fields[0]),
            last: position(fields[1]),
            received: number(fields[2]),
            missed: number(fields[3]),
            digest: number(fields[4]),
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // A failing test must not leave children behind.
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// In process (Miri runs these).

#[test]
fn in_process_interleaved_frames_reach_a_tethered_reader_in_place_and_a_lossy_one_as_copies() {
    assert_eq!((size_of::<Small>(), size_of::<Medium>(), size_of::<Large>()), (8, 32, 200));
    let mut tx = broadcast_stream::<Lib>(&ring(8, 4));
    let mut t = tx.subscribe(&tethered(StartAt::Next)).unwrap();
    let mut l = tx.subscribe(&lossy(StartAt::Next)).unwrap();
    assert!(matches!(t.try_recv(), Err(RecvError::Empty)));
    assert!(matches!(l.try_recv(), Err(RecvError::Empty)));
    for _ in 0..8 {
        try_send_next(&mut tx).unwrap();
    }
    assert_eq!(tx.position(), 8);
    assert_eq!(try_send_next(&mut tx), Err(SendError::Full), "the tethered reader holds it back");
    assert_eq!(tx.position(), 8, "a refused send publishes nothing");

    // The lossy reader starts one behind a full ring: slot 0 is the next the writer may
    // overwrite, so it resumes at 1 and reports 0 as missed. Its frames are copies.
    let frame = l.try_recv().unwrap();
    assert_eq!((frame.position(), frame.missed()), (1, 1));
    check_frame(&frame);
    let copy_at = frame.bytes().as_ptr() as usize;
    drop(frame);
    for position in 2..8 {
        let frame = l.try_recv().unwrap();
        assert_eq!((frame.position(), frame.missed()), (position, 0));
        check_frame(&frame);
        assert_eq!(frame.bytes().as_ptr() as usize, copy_at, "copies, not in place");
    }
    assert!(matches!(l.try_recv(), Err(RecvError::Empty)));

    // The tethered reader reads in place: consecutive positions lie a slot (256 bytes) apart,
    // and positions `p` and `p + 8` share a slot. Each release makes room for exactly one more.
    let mut kinds = BTreeSet::new();
    let mut addresses = Vec::new();
    for position in 0..8 {
        let frame = t.try_recv().unwrap();
        assert_eq!((frame.position(), frame.missed()), (position, 0));
        check_frame(&frame);
        kinds.insert(frame.id());
        addresses.push(frame.bytes().as_ptr() as usize);
        assert_ne!(frame.bytes().as_ptr() as usize, copy_at);
        drop(frame);
        try_send_next(&mut tx).unwrap();
        assert_eq!(try_send_next(&mut tx), Err(SendError::Full));
    }
    assert_eq!(kinds.len(), 3, "every kind was sent: {kinds:x?}");
    for pair in addresses.windows(2) {
        assert_eq!(pair[1] - pair[0], LIB_SLOT as usize, "slots of 256 bytes, message at +16");
    }
    for position in 8..16 {
        let frame = t.try_recv().unwrap();
        assert_eq!(frame.position(), position);
        check_frame(&frame);
        assert_eq!(frame.bytes().as_ptr() as usize, addresses[position as usize - 8], "in place");
    }
    assert!(matches!(t.try_recv(), Err(RecvError::Empty)));

    // The tethered reader keeps pace for 100 more; the lossy one, left at 8, is lapped: it
    // resumes at 116 - 7 and counts exactly the 101 before it.
    for _ in 0..100 {
        try_send_next(&mut tx).unwrap();
        check_frame(&t.try_recv().unwrap());
    }
    let frame = l.try_recv().unwrap();
    assert_eq!((frame.position(), frame.missed()), (109, 101));
    check_frame(&frame);
    drop(frame);
    for position in 110..116 {
        let frame = l.try_recv().unwrap();
        assert_eq!((frame.position(), frame.missed()), (position, 0));
        check_frame(&frame);
    }
    assert!(matches!(l.try_recv(), Err(RecvError::Empty)));
    assert_eq!((l.missed(), t.missed()), (102, 0));
    assert_eq!(l.missed() + 7 + 7, tx.position(), "missed + received == published");
}

#[test]
fn in_process_lossy_reader_in_bursts_accounts_for_every_frame() {
    const ROUNDS: u64 = if cfg!(miri) { 100 } else { 3_000 };
    let mut tx = broadcast_stream::<Lib>(&ring(8, 4));
    let mut rx = tx.subscribe(&lossy(StartAt::Next)).unwrap();
    let mut seen = Seen::default();
    for round in 0..ROUNDS {
        for _ in 0..checksum(round) % 20 {
            try_send_next(&mut tx).expect("a lossy reader never holds the writer back");
        }
        for _ in 0..checksum(round ^ 0xAA) % 10 {
            match rx.try_recv() {
                Ok(frame) => {
                    check_frame(&frame);
                    seen.see(&frame);
                }
                Err(RecvError::Empty) => break,
                Err(e) => panic!("{e}"),
            }
        }
    }
    while let Ok(frame) = rx.try_recv() {
        check_frame(&frame);
        seen.see(&frame);
    }
    let sent = tx.position();
    assert_eq!(seen.last, Some(sent - 1), "the last frame is never lost");
    // It attached at 0: the frames before the first it received count in that one's missed().
    assert_eq!(seen.received + seen.missed, sent, "received + missed == published");
    assert_eq!(rx.missed(), seen.missed, "missed() is the sum of the frames' missed()");
    assert!(seen.missed > 0 && seen.received > 0, "{seen:?}");
}

#[test]
fn in_process_invalid_and_foreign_frames_are_reported_by_the_view_and_the_next_arrives() {
    let mut tx = broadcast_stream::<Lib>(&ring(8, 4));
    let mut readers = [
        tx.subscribe(&tethered(StartAt::Next)).unwrap(),
        tx.subscribe(&lossy(StartAt::Next)).unwrap(),
    ];
    let good = Medium { seq: 1, check: 2, flag: Bool::TRUE, _pad0: [0; 7], value: 3 };
    let fit = Fit { seq: 4, data: [5; 5] };
    tx.try_send(&Medium { flag: Bool(7), ..good }).unwrap();
    tx.try_send(&MediumOther { seq: 2, value: 2.5 }).unwrap();
    tx.try_send(&Medium { _pad0: [0, 0, 1, 0, 0, 0, 0], ..good }).unwrap();
    tx.try_send(&fit).unwrap();
    tx.try_send(&good).unwrap();
    for rx in &mut readers {
        let frame = rx.try_recv().unwrap();
        assert_eq!((frame.position(), frame.id()), (0, MEDIUM));
        match frame.message() {
            Some(Err(ViewError::Invalid(e))) => {
                assert_eq!((e.type_name, e.member), ("Medium", "flag"));
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
        assert!(matches!(frame.get::<Medium>(), Some(Err(ViewError::Invalid(_)))));
        assert_eq!(frame.bytes()[16], 7, "the bytes are still readable");
        drop(frame);

        let frame = rx.try_recv().unwrap();
        assert_eq!((frame.position(), frame.id(), frame.bytes().len()), (1, MEDIUM, 16));
        let size = ViewError::Size { name: "Medium", expected: 32, found: 16 };
        assert!(matches!(frame.message(), Some(Err(e)) if e == size), "{:?}", frame.message());
        assert_eq!(frame.get::<MediumOther>(), Some(Ok(&MediumOther { seq: 2, value: 2.5 })));
        drop(frame);

        let frame = rx.try_recv().unwrap();
        assert_eq!(frame.position(), 2);
        assert!(matches!(frame.message(), Some(Err(ViewError::Invalid(_)))), "padding");
        drop(frame);

        // An id `Lib` does not know: no view, but `get` of a type sent with it works.
        let frame = rx.try_recv().unwrap();
        assert_eq!((frame.position(), frame.id(), frame.bytes().len()), (3, FIT, 48));
        assert!(frame.message().is_none());
        assert_eq!(frame.get::<Small>(), None);
        assert_eq!(frame.get::<Fit>(), Some(Ok(&fit)));
        drop(frame);

        let frame = rx.try_recv().unwrap();
        assert_eq!(frame.position(), 4);
        assert!(matches!(frame.message(), Some(Ok(AnyMessage::Medium(m))) if *m == good));
        drop(frame);
        assert!(matches!(rx.try_recv(), Err(RecvError::Empty)));
        assert_eq!(rx.missed(), 0);
    }
}

#[test]
fn in_process_start_at_oldest_gets_the_retained_backlog_and_next_only_new_frames() {
    let mut tx = broadcast_stream::<Lib>(&ring(8, 8));
    for _ in 0..5 {
        try_send_next(&mut tx).unwrap();
    }
    let mut oldest_t = tx.subscribe(&tethered(StartAt::Oldest)).unwrap();
    let mut oldest_l = tx.subscribe(&lossy(StartAt::Oldest)).unwrap();
    let mut next_t = tx.subscribe(&tethered(StartAt::Next)).unwrap();
    let mut next_l = tx.subscribe(&lossy(StartAt::Next)).unwrap();
    for _ in 5..7 {
        try_send_next(&mut tx).unwrap();
    }
    let read_all = |rx: &mut BroadcastStreamReader<Lib>| {
        let mut seen = Seen::default();
        while let Ok(frame) = rx.try_recv() {
            check_frame(&frame);
            seen.see(&frame);
        }
        assert!(matches!(rx.try_recv(), Err(RecvError::Empty)));
        assert_eq!(rx.missed(), seen.missed);
        (seen.first, seen.last, seen.received, seen.missed)
    };
    assert_eq!(read_all(&mut oldest_t), (Some(0), Some(6), 7, 0));
    assert_eq!(read_all(&mut oldest_l), (Some(0), Some(6), 7, 0));
    assert_eq!(read_all(&mut next_t), (Some(5), Some(6), 2, 0));
    assert_eq!(read_all(&mut next_l), (Some(5), Some(6), 2, 0));
    drop((oldest_t, oldest_l, next_t, next_l));

    // More than a ring published: the backlog is the last `capacity - 1` frames.
    for _ in 7..40 {
        try_send_next(&mut tx).unwrap();
    }
    let mut oldest_t = tx.subscribe(&tethered(StartAt::Oldest)).unwrap();
    let mut oldest_l = tx.subscribe(&lossy(StartAt::Oldest)).unwrap();
    assert_eq!(read_all(&mut oldest_t), (Some(33), Some(39), 7, 0));
    assert_eq!(read_all(&mut oldest_l), (Some(33), Some(39), 7, 0));
    // The backlog reader is tethered from its join on: it holds the writer back there.
    for _ in 40..48 {
        try_send_next(&mut tx).unwrap();
    }
    assert_eq!(try_send_next(&mut tx), Err(SendError::Full));
    assert_eq!(read_all(&mut oldest_t), (Some(40), Some(47), 8, 0));
    try_send_next(&mut tx).unwrap();
    // The lossy one, left at 40 with 49 published, resumes at 49 - 7: 40 and 41 were missed.
    assert_eq!(read_all(&mut oldest_l), (Some(42), Some(48), 7, 2));
}

/// A tethered reader that starts at the oldest frame reads its backlog as copies; when the
/// writer laps that backlog, the frames it lost are counted, and reported with the first frame
/// read in place.
#[test]
fn in_process_tethered_oldest_reader_lapped_in_its_backlog_counts_what_it_missed() {
    let mut tx = broadcast_stream::<Lib>(&ring(8, 4));
    for _ in 0..20 {
        try_send_next(&mut tx).unwrap();
    }
    // Joins at 20 with the backlog 13..20.
    let mut rx = tx.subscribe(&tethered(StartAt::Oldest)).unwrap();
    for _ in 20..28 {
        try_send_next(&mut tx).unwrap();
    }
    assert_eq!(try_send_next(&mut tx), Err(SendError::Full));
    let mut got = Vec::new();
    while let Ok(frame) = rx.try_recv() {
        check_frame(&frame);
        got.push((frame.position(), frame.missed()));
    }
    let positions: Vec<u64> = got.iter().map(|&(p, _)| p).collect();
    assert_eq!(positions, (20..28).collect::<Vec<_>>());
    assert_eq!(got[0].1, 7, "the first frame after the lost backlog reports it");
    assert_eq!(rx.missed(), 7);
}

#[test]
fn in_process_loans_are_zeroed_commit_publishes_and_dropped_loans_publish_nothing() {
    let mut tx = broadcast_stream::<Lib>(&ring(8, 4));
    let mut t = tx.subscribe(&tethered(StartAt::Next)).unwrap();
    let mut l = tx.subscribe(&lossy(StartAt::Next)).unwrap();
    // Leave non-zero bytes in every slot.
    for _ in 0..20 {
        try_send_next(&mut tx).unwrap();
        drop(t.try_recv().unwrap());
    }
    while l.try_recv().is_ok() {}
    // Dropped without `commit`: abandoned, and it leaves the loan buffer dirty.
    {
        let mut loan = tx.loan::<Large>().unwrap();
        assert_eq!(*loan, Large { seq: 0, check: 0, data: [0; 23] }, "loans are zeroed");
        *loan = Large { seq: u64::MAX, check: 1, data: [0xA5A5; 23] };
    }
    assert_eq!(tx.position(), 20);
    assert!(matches!(t.try_recv(), Err(RecvError::Empty)));
    assert!(matches!(l.try_recv(), Err(RecvError::Empty)));

    // Each loan is zeroed whatever the last one held; commit publishes exactly its type.
    let mut loan = tx.loan::<Medium>().unwrap();
    assert_eq!(*loan, Medium { seq: 0, check: 0, flag: Bool(0), _pad0: [0; 7], value: 0 });
    loan.seq = 20;
    loan.flag = Bool::TRUE;
    loan.commit().unwrap();
    let mut loan = tx.loan::<Small>().unwrap();
    assert_eq!(*loan, Small { seq: 0 });
    loan.seq = 21;
    loan.commit().unwrap();
    let mut loan = tx.loan::<Large>().unwrap();
    assert_eq!(*loan, Large { seq: 0, check: 0, data: [0; 23] });
    loan.seq = 22;
    loan.data[22] = 99;
    loan.commit().unwrap();
    let mut loan = tx.loan::<Fit>().unwrap();
    loan.seq = 23;
    loan.commit().unwrap();
    assert_eq!(tx.position(), 24);

    for rx in [&mut t, &mut l] {
        let frame = rx.try_recv().unwrap();
        assert_eq!((frame.position(), frame.id(), frame.bytes().len()), (20, MEDIUM, 32));
        let want = Medium { seq: 20, check: 0, flag: Bool::TRUE, _pad0: [0; 7], value: 0 };
        assert_eq!(frame.get::<Medium>(), Some(Ok(&want)));
        drop(frame);
        let frame = rx.try_recv().unwrap();
        assert_eq!((frame.position(), frame.id()), (21, SMALL));
        assert!(matches!(frame.message(), Some(Ok(AnyMessage::Small(Small { seq: 21 })))));
        drop(frame);
        let frame = rx.try_recv().unwrap();
        assert_eq!((frame.position(), frame.id(), frame.bytes().len()), (22, LARGE, 200));
        let mut data = [0; 23];
        data[22] = 99;
        assert_eq!(frame.get::<Large>(), Some(Ok(&Large { seq: 22, check: 0, data })));
        drop(frame);
        let frame = rx.try_recv().unwrap();
        assert_eq!(frame.get::<Fit>(), Some(Ok(&Fit { seq: 23, data: [0; 5] })));
        drop(frame);
        assert!(matches!(rx.try_recv(), Err(RecvError::Empty)));
    }
}

#[test]
fn in_process_readers_see_disconnected_after_the_writer_is_dropped_and_drained() {
    let mut tx = broadcast_stream::<Lib>(&ring(8, 4));
    let mut readers = [
        tx.subscribe(&tethered(StartAt::Next)).unwrap(),
        tx.subscribe(&lossy(StartAt::Next)).unwrap(),
        tx.subscribe(&tethered(StartAt::Oldest)).unwrap(),
    ];
    for _ in 0..3 {
        try_send_next(&mut tx).unwrap();
    }
    assert!(readers.iter().all(BroadcastStreamReader::writer_alive));
    drop(tx);
    for rx in &mut readers {
        assert!(!rx.writer_alive());
        for position in 0..3 {
            let frame = rx.try_recv().unwrap();
            assert_eq!(frame.position(), position);
            check_frame(&frame);
        }
        assert!(matches!(rx.try_recv(), Err(RecvError::Disconnected)));
        assert!(matches!(rx.recv_timeout(Duration::from_secs(5)), Err(RecvError::Disconnected)));
        assert!(matches!(rx.recv(), Err(RecvError::Disconnected)));
    }
}

// ---------------------------------------------------------------------------------------------
// Threads (Miri runs these, and checks them for data races).

#[test]
fn threads_writer_tethered_and_lossy_reader_threads_account_for_every_frame() {
    const N: u64 = if cfg!(miri) { 300 } else { 100_000 };
    let yielding = WaitStrategy::SpinThenYield { spins: 100 };
    let mut tx =
        broadcast_stream::<Lib>(&BroadcastOptions { capacity: 64, max_readers: 4, wait: yielding });
    let readers: Vec<_> = [Policy::Tethered, Policy::Lossy]
        .into_iter()
        .map(|policy| {
            let options = ReaderOptions { policy, start: StartAt::Next, wait: yielding };
            let mut rx = tx.subscribe(&options).unwrap();
            thread::spawn(move || {
                let mut seen = Seen::default();
                drain_until_disconnected(&mut rx, &mut seen);
                assert_eq!(rx.missed(), seen.missed);
                (policy, seen)
            })
        })
        .collect();
    let writer = thread::spawn(move || {
        for _ in 0..N {
            send_next(&mut tx).unwrap();
        }
        tx.position()
    });
    assert_eq!(writer.join().unwrap(), N);
    let all = expected_digest(0..N);
    for reader in readers {
        let (policy, seen) = reader.join().unwrap();
        assert_eq!(seen.last, Some(N - 1), "{policy:?}: the last frame arrives");
        if policy == Policy::Tethered {
            assert_eq!((seen.first, seen.received, seen.missed), (Some(0), N, 0));
            assert_eq!(seen.digest, all, "tethered checksum");
        } else {
            assert_eq!(seen.received + seen.missed, N, "lossy: received + missed == published");
        }
    }
}

/// The writer stores a message whose size is not a multiple of 8 with 8-byte stores and then
/// 1-byte stores for the tail; a lossy reader copying the frame concurrently must load those
/// bytes with accesses of the same sizes, since racing atomic accesses of different sizes are
/// not allowed by the Rust memory model (Miri reports them).
#[test]
fn threads_lossy_copies_of_odd_sized_messages_are_whole() {
    const N: u64 = if cfg!(miri) { 300 } else { 100_000 };
    let odd = |k: u64| Odd { lo: k as u32, hi: (k >> 32) as u32, tag: (k as u32) ^ 0x5A5A_5A5A };
    let mut tx = broadcast_stream::<OddLib>(&BroadcastOptions {
        capacity: 4,
        max_readers: 2,
        wait: WaitStrategy::SpinThenYield { spins: 100 },
    });
    let options = ReaderOptions {
        policy: Policy::Lossy,
        start: StartAt::Next,
        wait: WaitStrategy::SpinThenYield { spins: 100 },
    };
    let mut rx = tx.subscribe(&options).unwrap();
    let reader = thread::spawn(move || {
        let (mut received, mut last) = (0u64, None);
        loop {
            match rx.recv_timeout(PATIENCE) {
                Ok(frame) => {
                    let position = frame.position();
                    if position % 5 == 4 {
                        assert_eq!(frame.get::<Small>(), Some(Ok(&Small { seq: position })));
                    } else {
                        assert_eq!(frame.bytes().len(), 12);
                        let got = frame.message().expect("an Odd frame").expect("valid");
                        assert_eq!(*got, odd(position), "torn copy at {position}");
                    }
                    received += 1;
                    last = Some(position);
                }
                Err(RecvError::Disconnected) => break,
                Err(e) => panic!("{e}"),
            }
        }
        (received, rx.missed(), last)
    });
    for k in 0..N {
        if k % 5 == 4 {
            tx.send(&Small { seq: k }).unwrap();
        } else {
            tx.send(&odd(k)).unwrap();
        }
    }
    drop(tx);
    let (received, missed, last) = reader.join().unwrap();
    assert_eq!((received + missed, last), (N, Some(N - 1)));
}

// ---------------------------------------------------------------------------------------------
// Named segments.

#[test]
fn named_segment_layout_matches_the_protocol() {
    let name = unique("layout");
    let _cleanup = Cleanup(name.clone());
    let mut tx = BroadcastStreamWriter::<Lib>::create(&name, &ring(8, 4)).unwrap();
    let mut t = tx.subscribe(&tethered(StartAt::Next)).unwrap();
    let _l = tx.subscribe(&lossy(StartAt::Next)).unwrap();
    for _ in 0..3 {
        try_send_next(&mut tx).unwrap();
    }
    drop(t.try_recv().unwrap());
    let layout = Layout { capacity: 8, slot_size: LIB_SLOT, max_readers: 4 };
    assert_eq!(std::fs::metadata(Segment::path(&name)).unwrap().len(), layout.len());
    assert_eq!(layout.len(), 3 * 4096);
    assert_eq!(peek::<1>(&name, 21), [4], "kind 4: broadcast stream");
    assert_eq!(peek_u64(&name, 24), layout.len(), "segment_size");
    assert_eq!(peek_u64(&name, 32), 8, "capacity");
    assert_eq!(peek_u32(&name, 40), 256, "slot_size = 16 + 200 rounded up to 64");
    assert_eq!(peek_u32(&name, 44), 3, "message_count");
    assert_eq!(peek_u32(&name, 68), 4, "max_readers");
    let table: Vec<(u32, u32)> = (0..3)
        .map(|i| (peek_u32(&name, 128 + 64 * i + 8), peek_u32(&name, 128 + 64 * i + 12)))
        .collect();
    assert_eq!(table, [(SMALL, 8), (MEDIUM, 32), (LARGE, 200)]);
    let segment =
        Segment::open(&name, &Expect { kind: RingKind::BroadcastStream, messages: Vec::new() })
            .unwrap();
    assert_eq!(
        (segment.kind(), segment.capacity(), segment.slot_size()),
        (RingKind::BroadcastStream, 8, 256)
    );
    drop(segment);
    for position in 0..3 {
        let sent = Sent::of(position);
        let slot = layout.slot(position);
        let header: [u8; 16] = peek(&name, slot);
        let mut want = [0; 16];
        want[0..4].copy_from_slice(&(sent.bytes().len() as u32).to_le_bytes());
        want[4..8].copy_from_slice(&sent.id().to_le_bytes());
        want[8..10].copy_from_slice(&1u16.to_le_bytes());
        assert_eq!(header, want, "frame header {{size, id, version 1, flags 0, reserved 0}}");
        let message: [u8; 200] = peek(&name, slot + 16);
        assert_eq!(&message[..sent.bytes().len()], sent.bytes(), "the message at slot + 16");
        assert_eq!(peek_u64(&name, layout.seq(position)), 2 * position + 2, "sequence word");
    }
    assert_eq!(peek_u64(&name, WRITE_POS), 3);
    // Entry 0 is the tethered reader (released 1), entry 1 the lossy one (read nothing).
    for (entry, read_pos, policy) in [(0, 1, 1), (1, 0, 2)] {
        let at = layout.entry(entry);
        assert_eq!(peek_u64(&name, at), read_pos, "entry {entry}: read_pos");
        assert_eq!(peek_u64(&name, at + 8), u64::from(std::process::id()), "entry {entry}: pid");
        assert_eq!(peek_u32(&name, at + 24) & 0xFF, 2, "entry {entry}: active");
        assert_eq!(peek_u32(&name, at + 28), policy, "entry {entry}: policy");
    }
    assert_eq!(peek_u32(&name, layout.entry(2) + 24) & 0xFF, 0, "entry 2 is free");
}

#[test]
fn named_subset_reader_skips_unknown_ids_and_a_conflicting_layout_is_refused() {
    let name = unique("subset");
    let _cleanup = Cleanup(name.clone());
    let mut tx = BroadcastStreamWriter::<Lib>::create(&name, &ring(16, 4)).unwrap();
    let mut readers = [
        BroadcastStreamReader::<Subset>::open(&name, &tethered(StartAt::Next)).unwrap(),
        BroadcastStreamReader::<Subset>::open(&name, &lossy(StartAt::Next)).unwrap(),
    ];
    let (mut known, mut skipped) = (0, 0);
    for chunk in 0..20 {
        for _ in 0..10 {
            try_send_next(&mut tx).unwrap();
        }
        for rx in &mut readers {
            for position in chunk * 10..chunk * 10 + 10 {
                let frame = rx.try_recv().unwrap();
                assert_eq!((frame.position(), frame.missed()), (position, 0));
                match (Sent::of(position), frame.message()) {
                    (Sent::Medium(m), None) => {
                        assert_eq!((frame.id(), frame.bytes()), (MEDIUM, m.as_bytes()));
                        assert_eq!((frame.get::<Small>(), frame.get::<Large>()), (None, None));
                        skipped += 1;
                    }
                    (Sent::Small(m), Some(Ok(Known::Small(got)))) => {
                        assert_eq!((*got, frame.get::<Small>()), (m, Some(Ok(&m))));
                        known += 1;
                    }
                    (Sent::Large(m), Some(Ok(Known::Large(got)))) => {
                        assert_eq!((*got, frame.get::<Large>()), (m, Some(Ok(&m))));
                        known += 1;
                    }
                    (sent, got) => panic!("frame {position}: sent {sent:?}, got {got:?}"),
                }
            }
            assert!(matches!(rx.try_recv(), Err(RecvError::Empty)));
        }
    }
    assert!(known > 100 && skipped > 50, "{known} known, {skipped} skipped");

    let refusals = [
        BroadcastStreamReader::<Conflict>::open(&name, &tethered(StartAt::Next)).map(drop),
        BroadcastStreamReader::<Conflict>::open(&name, &lossy(StartAt::Oldest)).map(drop),
        BroadcastStreamReader::<Conflict>::open_or_create(
            &name,
            &ring(16, 4),
            &lossy(StartAt::Next),
        )
        .map(drop),
        BroadcastStreamWriter::<Conflict>::open(&name, WaitStrategy::Spin).map(drop),
        BroadcastStreamWriter::<Conflict>::open_or_create(&name, &ring(16, 4)).map(drop),
    ];
    for refusal in refusals {
        match refusal {
            Err(OpenError::TypeMismatch { segment, expected, what, .. }) => {
                assert_eq!((segment.as_str(), expected.as_str()), ("Medium", "MediumOther"));
                assert!(what.contains("size 32 vs 16"), "{what}");
            }
            other => panic!("expected TypeMismatch, got {other:?}"),
        }
    }
    // A typed broadcast ring is another kind.
    match BroadcastReader::<Small>::open(&name, &tethered(StartAt::Next)) {
        Err(OpenError::WrongKind { found, expected, .. }) => {
            assert_eq!((found, expected), (RingKind::BroadcastStream, RingKind::Broadcast));
        }
        other => panic!("expected WrongKind, got {other:?}"),
    }
    // Still in use, so not replaced as stale: the stream goes on, and the refused attempts took
    // no reader entry (4 more fit).
    let more: Vec<_> = (0..2)
        .map(|_| BroadcastStreamReader::<Lib>::open(&name, &lossy(StartAt::Next)).unwrap())
        .collect();
    assert!(matches!(
        BroadcastStreamReader::<Lib>::open(&name, &lossy(StartAt::Next)),
        Err(OpenError::ReadersFull { max_readers: 4, .. })
    ));
    drop(more);
    try_send_next(&mut tx).unwrap();
    for rx in &mut readers {
        assert_eq!(rx.try_recv().unwrap().position(), 200);
    }
    // A writer of the subset may take over; a reader of the whole library sees its frames.
    drop(tx);
    let mut full = BroadcastStreamReader::<Lib>::open(&name, &tethered(StartAt::Next)).unwrap();
    let mut tx = BroadcastStreamWriter::<Subset>::open(&name, WaitStrategy::Spin).unwrap();
    assert_eq!(tx.position(), 201, "a restarted writer continues");
    tx.try_send(&Small { seq: 201 }).unwrap();
    let frame = full.try_recv().unwrap();
    assert_eq!(frame.position(), 201);
    assert!(matches!(frame.message(), Some(Ok(AnyMessage::Small(Small { seq: 201 })))));
}

#[test]
fn named_typed_broadcast_segment_is_refused_as_a_broadcast_stream() {
    let name = unique("typed");
    let _cleanup = Cleanup(name.clone());
    let _tx = BroadcastWriter::<Small>::create(&name, &ring(8, 4)).unwrap();
    match BroadcastStreamReader::<Lib>::open(&name, &tethered(StartAt::Next)) {
        Err(OpenError::WrongKind { found, expected, .. }) => {
            assert_eq!((found, expected), (RingKind::Broadcast, RingKind::BroadcastStream));
        }
        other => panic!("expected WrongKind, got {other:?}"),
    }
}

#[test]
fn named_writer_with_a_larger_message_than_the_slots_gets_slot_too_small() {
    let name = unique("narrow");
    let _cleanup = Cleanup(name.clone());
    // Created by an older build without `Large`: slots of 64 bytes, 48 for the message.
    let creator = BroadcastStreamWriter::<Narrow>::create(&name, &ring(4, 4)).unwrap();
    let mut narrow =
        BroadcastStreamReader::<Narrow>::open(&name, &tethered(StartAt::Next)).unwrap();
    let mut full = BroadcastStreamReader::<Lib>::open(&name, &lossy(StartAt::Next)).unwrap();
    drop(creator);
    let mut tx = BroadcastStreamWriter::<Lib>::open(&name, WaitStrategy::Spin).unwrap();
    assert_eq!(peek_u32(&name, 40), 64, "slot_size of the older build");

    let large = Large { seq: 1, check: 2, data: [3; 23] };
    let too_small = SendError::SlotTooSmall { size: 200, max: 48 };
    assert_eq!(tx.try_send(&large), Err(too_small));
    assert_eq!(tx.send(&large), Err(too_small));
    assert_eq!(tx.send_timeout(&large, PATIENCE), Err(too_small));
    assert!(matches!(tx.loan::<Large>(), Err(e) if e == too_small));
    assert_eq!((Fit::MESSAGE_ID, Over::MESSAGE_ID), (Some(FIT), Some(OVER)));
    let over = Over { seq: 4, data: [4; 6] };
    assert_eq!(tx.try_send(&over), Err(SendError::SlotTooSmall { size: 56, max: 48 }));
    assert_eq!(tx.position(), 0, "nothing published");
    assert!(matches!(narrow.try_recv(), Err(RecvError::Empty)));

    // The messages that fit still go through, up to exactly 48 bytes.
    let small = Small { seq: 7 };
    let medium = Medium { seq: 8, check: 9, flag: Bool::TRUE, _pad0: [0; 7], value: 10 };
    let fit = Fit { seq: 11, data: [12; 5] };
    tx.try_send(&small).unwrap();
    tx.send(&medium).unwrap();
    let mut loan = tx.loan::<Fit>().unwrap();
    *loan = fit;
    loan.commit().unwrap();
    assert_eq!(tx.position(), 3);
    let frame = narrow.try_recv().unwrap();
    assert!(matches!(frame.message(), Some(Ok(AnyMessage::Small(m))) if *m == small));
    drop(frame);
    let frame = narrow.try_recv().unwrap();
    assert!(matches!(frame.message(), Some(Ok(AnyMessage::Medium(m))) if *m == medium));
    drop(frame);
    let frame = narrow.try_recv().unwrap();
    assert_eq!((frame.id(), frame.bytes()), (FIT, fit.as_bytes()));
    assert!(frame.message().is_none());
    drop(frame);
    for position in 0..3 {
        let frame = full.try_recv().unwrap();
        assert_eq!(frame.position(), position);
    }

    // A full ring: a message that can never fit is refused at once, not waited for.
    for seq in 0..4 {
        tx.try_send(&Small { seq }).unwrap();
    }
    assert_eq!(tx.try_send(&small), Err(SendError::Full));
    let start = Instant::now();
    assert_eq!(tx.send_timeout(&large, PATIENCE), Err(too_small));
    assert_eq!(tx.send(&large), Err(too_small));
    assert!(start.elapsed() < Duration::from_secs(5), "waited for a message that never fits");

    // The error tells what happened and how to fix it.
    let text = too_small.to_string();
    for needle in ["200-byte", "at most 48", "recreate", "library"] {
        assert!(text.contains(needle), "{needle:?} not in {text:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Real processes.

#[test]
fn cross_process_two_tethered_and_a_lossy_reader_process_account_for_every_frame() {
    let n = count_for(1_000_000, 300_000);
    let name = unique("procs");
    let _cleanup = Cleanup(name.clone());
    let spawn_reader = |vars: &[(&str, &str)]| {
        let mut peer = Peer::spawn("reader", &name, vars);
        peer.expect("READY");
        peer
    };
    let a = spawn_reader(&[]);
    let b = spawn_reader(&[]);
    let lossy = spawn_reader(&[("FLATIPC_POLICY", "lossy")]);
    let n_text = n.to_string();
    let mut writer = Peer::spawn("writer", &name, &[("FLATIPC_COUNT", &n_text)]);
    assert_eq!(writer.expect("START"), "0");
    assert_eq!(writer.expect("LAST"), (n - 1).to_string());
    assert!(writer.child.wait().unwrap().success());
    let all = expected_digest(0..n);
    for peer in [a, b] {
        let seen = peer.done();
        assert_eq!(
            (seen.first, seen.last, seen.received, seen.missed),
            (Some(0), Some(n - 1), n, 0)
        );
        assert_eq!(seen.digest, all, "tethered checksum");
    }
    let seen = lossy.done();
    assert_eq!(seen.last, Some(n - 1), "the lossy reader gets the last frame");
    assert_eq!(seen.received + seen.missed, n, "lossy: received + missed == published");
}

#[test]
fn cross_process_sigkilled_tethered_reader_does_not_block_the_writer_forever() {
    let n = count_for(200_000, 50_000);
    let capacity = child_ring().capacity;
    // The stopped reader lets the writer get at most a ring past its cursor.
    let mark_at = 1_000 + capacity + 500;
    assert!(n > mark_at + 1_000);
    let name = unique("kill-reader");
    let _cleanup = Cleanup(name.clone());
    let mut survivor = Peer::spawn("reader", &name, &[]);
    survivor.expect("READY");
    let mut doomed = Peer::spawn("reader", &name, &[("FLATIPC_STOP_AFTER", "1000")]);
    doomed.expect("READY");
    let (n_text, mark_text) = (n.to_string(), mark_at.to_string());
    let mut writer = Peer::spawn(
        "writer",
        &name,
        &[("FLATIPC_COUNT", &n_text), ("FLATIPC_MARK_AT", &mark_text)],
    );
    assert_eq!(writer.expect("START"), "0");
    assert_eq!(doomed.expect("STOPPED"), "999");
    thread::sleep(Duration::from_millis(300));
    assert!(
        !writer.lines.try_iter().any(|line| line == "MARK"),
        "the writer ran past a tethered reader that stopped reading"
    );
    assert!(writer.child.try_wait().unwrap().is_none(), "the writer waits, it does not fail");
    // Killed: the writer, waiting in `send`, finds its entry lock free and detaches it.
    doomed.kill();
    writer.expect("MARK");
    assert_eq!(writer.expect("LAST"), (n - 1).to_string());
    assert!(writer.child.wait().unwrap().success());
    let seen = survivor.done();
    assert_eq!((seen.first, seen.last, seen.received, seen.missed), (Some(0), Some(n - 1), n, 0));
    assert_eq!(seen.digest, expected_digest(0..n));
}

// ---------------------------------------------------------------------------------------------
// Hostile memory.

/// Frames whose `size` field does not fit the slot are reported and skipped; sequence words
/// below the published position are reported to lossy readers; cursors and `write_pos` that
/// break the invariants give errors.
#[test]
fn named_corrupt_sizes_sequence_words_and_positions_are_reported_and_skipped() {
    let name = unique("corrupt");
    let _cleanup = Cleanup(name.clone());
    let layout = Layout { capacity: 8, slot_size: LIB_SLOT, max_readers: 4 };
    let mut tx = BroadcastStreamWriter::<Lib>::create(&name, &ring(8, 4)).unwrap();
    let mut t = tx.subscribe(&tethered(StartAt::Next)).unwrap();
    let mut l = tx.subscribe(&lossy(StartAt::Next)).unwrap();
    for _ in 0..4 {
        try_send_next(&mut tx).unwrap();
    }
    let max = LIB_MAX_MESSAGE as u32;
    poke(&name, layout.slot(1), &(max + 1).to_le_bytes());
    poke(&name, layout.slot(2), &max.to_le_bytes());
    poke(&name, layout.slot(3), &u32::MAX.to_le_bytes());
    for rx in [&mut t, &mut l] {
        check_frame(&rx.try_recv().unwrap());
        match rx.try_recv() {
            Err(RecvError::CorruptFrame { position: 1, field: "size", value }) => {
                assert_eq!(value, LIB_MAX_MESSAGE + 1);
            }
            other => panic!("expected CorruptFrame, got {other:?}"),
        }
        // The largest size that fits the slot is a frame; larger than the reader's type, it
        // reads as a newer writer's version would: the reader's prefix, in place
        // (`docs/EVOLUTION.md` §4).
        let frame = rx.try_recv().unwrap();
        assert_eq!((frame.position(), frame.bytes().len()), (2, max as usize));
        assert!(matches!(frame.message(), Some(Ok(_))), "{:?}", frame.message());
        drop(frame);
        match rx.try_recv() {
            Err(RecvError::CorruptFrame { position: 3, field: "size", value }) => {
                assert_eq!(value, u64::from(u32::MAX));
            }
            other => panic!("expected CorruptFrame, got {other:?}"),
        }
        assert!(matches!(rx.try_recv(), Err(RecvError::Empty)), "skipped, not stuck");
    }
    // The tethered reader released the corrupt frames: the writer has a whole ring again.
    for _ in 0..8 {
        try_send_next(&mut tx).unwrap();
    }
    assert_eq!(try_send_next(&mut tx), Err(SendError::Full));
    // The lossy reader, a ring behind, resumes at 12 - 7 and reports 4 as missed.
    for (rx, first, missed) in [(&mut t, 4, 0), (&mut l, 5, 1)] {
        for position in first..12 {
            let frame = rx.try_recv().unwrap();
            let want = if position == first { missed } else { 0 };
            assert_eq!((frame.position(), frame.missed()), (position, want));
            check_frame(&frame);
        }
    }

    // Sequence words: below the position's own (corrupt) and above it (as if overwritten).
    for _ in 12..16 {
        try_send_next(&mut tx).unwrap();
    }
    poke(&name, layout.seq(13 % 8), &(2 * 12 + 2u64).to_le_bytes());
    poke(&name, layout.seq(14 % 8), &(2 * 13 + 1u64).to_le_bytes());
    poke(&name, layout.seq(15 % 8), &(2 * 23 + 2u64).to_le_bytes());
    check_frame(&l.try_recv().unwrap());
    for (position, value) in [(13, 26), (14, 27)] {
        match l.try_recv() {
            Err(RecvError::CorruptFrame { position: p, field: "seq", value: v }) => {
                assert_eq!((p, v), (position, value));
            }
            other => panic!("expected a corrupt sequence word, got {other:?}"),
        }
    }
    // 15 looks overwritten: skipped and counted, reported with the next frame.
    assert!(matches!(l.try_recv(), Err(RecvError::Empty)));
    try_send_next(&mut tx).unwrap();
    let frame = l.try_recv().unwrap();
    assert_eq!((frame.position(), frame.missed()), (16, 3), "13, 14 and 15 are missed");
    check_frame(&frame);
    drop(frame);
    assert_eq!(l.missed(), 1 + 3);
    // The tethered reader does not read sequence words.
    for position in 12..17 {
        let frame = t.try_recv().unwrap();
        assert_eq!(frame.position(), position);
        check_frame(&frame);
    }

    // `write_pos` beyond a ring ahead of the readers: reported, and repaired by the writer's
    // next publication.
    poke(&name, WRITE_POS, &(17 + 9u64).to_le_bytes());
    assert!(matches!(t.try_recv(), Err(RecvError::Corrupt { read_pos: 17, write_pos: 26 })));
    poke(&name, WRITE_POS, &17u64.to_le_bytes());
    try_send_next(&mut tx).unwrap();
    check_frame(&t.try_recv().unwrap());

    // The tethered reader's cursor moved back: the writer honours it (clamped to a lap behind;
    // it cannot tell it from a slow reader). Once the writer's cached room is used up and the
    // reader has read everything, the reader has nothing to release, so nothing repairs its
    // cursor: the writer stays held back until that reader leaves (a `send` would wait as long).
    while try_send_next(&mut tx).is_ok() {}
    while let Ok(frame) = t.try_recv() {
        check_frame(&frame);
    }
    assert_eq!(peek_u64(&name, layout.entry(0)), tx.position());
    poke(&name, layout.entry(0), &0u64.to_le_bytes());
    assert_eq!(try_send_next(&mut tx), Err(SendError::Full));
    assert!(matches!(t.try_recv(), Err(RecvError::Empty)));
    assert_eq!(try_send_next(&mut tx), Err(SendError::Full));
    drop(t);
    try_send_next(&mut tx).unwrap();
}

/// One scribble on a `Lib` broadcast segment of `layout` published up to `write_pos`: where,
/// and which bytes.
fn scribble(next: &mut impl FnMut() -> u64, layout: Layout, write_pos: u64) -> (u64, Vec<u8>) {
    let pick = |next: &mut dyn FnMut() -> u64, n: u64| next() % n;
    let random_bytes = |next: &mut dyn FnMut() -> u64| {
        let n = 1 + usize::try_from(next() % 8).unwrap();
        next().to_le_bytes()[..n].to_vec()
    };
    // A plausible position: near the writer's, or anything.
    let position = |next: &mut dyn FnMut() -> u64| match pick(next, 3) {
        0 => write_pos.wrapping_add(next() % 24).wrapping_sub(12),
        1 => next() % 64,
        _ => next(),
    };
    let slot = |next: &mut dyn FnMut() -> u64| {
        // Mostly the slots of the last few positions.
        let p = write_pos.wrapping_sub(1 + pick(next, 4)).wrapping_add(layout.capacity);
        if pick(next, 2) == 0 {
            p % layout.capacity
        } else {
            pick(next, layout.capacity)
        }
    };
    match next() % 8 {
        // A frame header: size (around the slot's limit, or anything), id, version and flags.
        0..=2 => {
            let at = layout.slot(slot(next));
            match pick(next, 5) {
                0 | 1 => {
                    let size = match pick(next, 4) {
                        0 => LIB_MAX_MESSAGE as u32 + pick(next, 3) as u32 - 1,
                        1 => pick(next, 256) as u32,
                        2 => u32::MAX - pick(next, 2) as u32,
                        _ => next() as u32,
                    };
                    (at, size.to_le_bytes().to_vec())
                }
                2 => {
                    let ids = [SMALL, MEDIUM, LARGE, FIT, 0, 0xFFFF_0001, next() as u32];
                    (at + 4, ids[pick(next, ids.len() as u64) as usize].to_le_bytes().to_vec())
                }
                3 => (at + 8, random_bytes(next)),
                _ => (at + 16 + pick(next, LIB_SLOT - 16), random_bytes(next)),
            }
        }
        // A reader entry: its cursor, state (any generation, any state) or policy.
        3 | 4 => {
            let entry = layout.entry(pick(next, layout.max_readers));
            match pick(next, 4) {
                0 => (entry, position(next).to_le_bytes().to_vec()),
                1 => {
                    let state = (next() & !0xFF) as u32 | [0, 1, 2, 3][pick(next, 4) as usize];
                    (entry + 24, state.to_le_bytes().to_vec())
                }
                2 => (entry + 28, [1u32, 2, 3][pick(next, 3) as usize].to_le_bytes().to_vec()),
                _ => (entry + pick(next, 64), random_bytes(next)),
            }
        }
        // A slot's sequence word: busy, done, for a near position or anything.
        5 | 6 => {
            let seq = match pick(next, 3) {
                0 => position(next).wrapping_mul(2).wrapping_add(1),
                1 => position(next).wrapping_mul(2).wrapping_add(2),
                _ => next(),
            };
            (layout.seq(slot(next)), seq.to_le_bytes().to_vec())
        }
        // The header (write position, geometry, message table) or anywhere.
        _ => match pick(next, 5) {
            0 => (WRITE_POS, position(next).to_le_bytes().to_vec()),
            1 => ([32, 40, 44, 68][pick(next, 4) as usize], random_bytes(next)),
            2 => (128 + pick(next, 3 * 64), random_bytes(next)),
            3 => (pick(next, 4096), random_bytes(next)),
            _ => (pick(next, layout.len()), random_bytes(next)),
        },
    }
}

/// What readers of scribbled segments got.
#[derive(Debug, Default)]
struct Tally {
    frames: u64,
    /// Frames whose bytes are exactly the message of their position.
    intact: u64,
    corrupt_size: u64,
    corrupt_seq: u64,
    corrupt_positions: u64,
    other_errors: u64,
}

impl Tally {
    /// Looks at everything a frame offers: only in-range values may come out.
    fn frame<S: MessageSet>(&mut self, frame: &BroadcastFrame<'_, S>) {
        let bytes = frame.bytes();
        assert!(bytes.len() as u64 <= LIB_MAX_MESSAGE, "a frame of {} bytes", bytes.len());
        let _ = (frame.id(), frame.version(), frame.missed(), frame.message().is_some());
        let sent = Sent::of(frame.position());
        if (frame.id(), bytes) == (sent.id(), sent.bytes()) {
            self.intact += 1;
        }
        self.frames += 1;
    }

    fn error(&mut self, e: &RecvError) {
        match e {
            RecvError::CorruptFrame { field: "size", .. } => self.corrupt_size += 1,
            RecvError::CorruptFrame { field: "seq", .. } => self.corrupt_seq += 1,
            RecvError::Corrupt { .. } => self.corrupt_positions += 1,
            RecvError::Empty | RecvError::Disconnected | RecvError::Timeout => {}
            _ => self.other_errors += 1,
        }
    }

    fn read<S: MessageSet>(&mut self, rx: &mut BroadcastStreamReader<S>) {
        for _ in 0..24 {
            match rx.try_recv() {
                Ok(frame) => self.frame(&frame),
                Err(RecvError::Empty | RecvError::Disconnected) => break,
                Err(e) => self.error(&e),
            }
        }
        match rx.recv_timeout(Duration::from_millis(1)) {
            Ok(frame) => self.frame(&frame),
            Err(e) => self.error(&e),
        }
        let _ = (rx.missed(), rx.writer_alive());
    }
}

/// Attaches readers of every kind (and of the subset) and a writer to a scribbled segment and
/// runs each a bounded number of times.
fn exercise(name: &str, readers: &mut Vec<BroadcastStreamReader<Lib>>, tally: &mut Tally) {
    let options = [
        tethered(StartAt::Oldest),
        lossy(StartAt::Oldest),
        tethered(StartAt::Next),
        ReaderOptions { wait: WaitStrategy::Spin, ..lossy(StartAt::Next) },
    ];
    readers.extend(options.iter().filter_map(|o| BroadcastStreamReader::<Lib>::open(name, o).ok()));
    let mut subset = BroadcastStreamReader::<Subset>::open(name, &lossy(StartAt::Oldest)).ok();
    readers.iter_mut().for_each(|rx| tally.read(rx));
    if let Some(rx) = &mut subset {
        tally.read(rx);
    }
    if let Ok(mut tx) = BroadcastStreamWriter::<Lib>::open(name, WaitStrategy::Spin) {
        // More than 256 refusals: the writer's reclaiming of dead readers runs too.
        for _ in 0..300 {
            let _ = try_send_next(&mut tx);
        }
        let _ = tx.send_timeout(&Small { seq: 0 }, Duration::from_millis(1));
        if let Ok(mut rx) = tx.subscribe(&tethered(StartAt::Oldest)) {
            tally.read(&mut rx);
        }
        readers.iter_mut().for_each(|rx| tally.read(rx));
        for _ in 0..20 {
            let _ = try_send_next(&mut tx);
        }
        readers.iter_mut().for_each(|rx| tally.read(rx));
        if let Some(rx) = &mut subset {
            tally.read(rx);
        }
        let _ = tx.position();
    }
}

#[test]
fn scribbled_segments_give_errors_or_whole_frames_not_crashes_or_hangs() {
    const ROUNDS: u64 = if cfg!(debug_assertions) { 150 } else { 400 };
    let layout = Layout { capacity: 8, slot_size: LIB_SLOT, max_readers: 6 };
    let (done, finished) = mpsc::channel();
    let worker = thread::spawn(move || {
        let mut rng = 0x1234_5678_9abc_def0u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut tally = Tally::default();
        for round in 0..ROUNDS {
            let name = unique("scribble");
            let _cleanup = Cleanup(name.clone());
            let mut tx = BroadcastStreamWriter::<Lib>::create(&name, &ring(8, 6)).unwrap();
            // Readers attached while the segment is scribbled on.
            let mut readers = vec![
                tx.subscribe(&tethered(StartAt::Next)).unwrap(),
                tx.subscribe(&lossy(StartAt::Next)).unwrap(),
            ];
            // A few laps, then some unread.
            for k in 0..5 + round % 30 {
                try_send_next(&mut tx).unwrap();
                drop(readers[0].try_recv().unwrap());
                if k % 3 == 0 {
                    let _ = readers[1].try_recv();
                }
            }
            for _ in 0..round % 5 {
                try_send_next(&mut tx).unwrap();
            }
            let write_pos = tx.position();
            drop(tx);
            assert_eq!(std::fs::metadata(Segment::path(&name)).unwrap().len(), layout.len());
            let file = std::fs::OpenOptions::new().write(true).open(Segment::path(&name)).unwrap();
            for _ in 0..1 + round % 6 {
                let (offset, bytes) = scribble(&mut next, layout, write_pos);
                let n = bytes.len().min(usize::try_from(layout.len() - offset).unwrap());
                file.write_all_at(&bytes[..n], offset).unwrap();
            }
            drop(file);
            let outcome =
                catch_unwind(AssertUnwindSafe(|| exercise(&name, &mut readers, &mut tally)));
            assert!(outcome.is_ok(), "round {round} panicked");
        }
        done.send(tally).unwrap();
    });
    // A hang is a failure too.
    let tally = match finished.recv_timeout(Duration::from_secs(60)) {
        Ok(tally) => {
            worker.join().unwrap();
            tally
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(worker.join().unwrap_err())
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("a scribbled segment hung an end"),
    };
    // Each kind of damage was met and reported, and most frames still came through whole.
    assert!(tally.corrupt_size > 0 && tally.corrupt_seq > 0, "{tally:?}");
    assert!(tally.intact > tally.frames / 2, "{tally:?}");
}

/// Scribbles frame sizes, sequence words, reader cursors and `write_pos` of a live ring (a
/// writer process publishing, readers in this process reading) while the readers read: each
/// read gives an error or a frame of in-range size, and neither side crashes or hangs.
#[test]
fn scribbling_a_live_ring_while_readers_read_gives_errors_or_frames_never_crashes() {
    let run_for = Duration::from_millis(count_for(1_500, 1_000));
    let name = unique("live");
    let _cleanup = Cleanup(name.clone());
    let options = child_ring();
    let layout = Layout { capacity: options.capacity, slot_size: LIB_SLOT, max_readers: 8 };
    let mut writer = Peer::spawn("writer", &name, &[("FLATIPC_PACE_US", "50")]);
    writer.expect("START");
    let worker_name = name.clone();
    let (done, finished) = mpsc::channel();
    let worker = thread::spawn(move || {
        let name = worker_name;
        let mut readers: Vec<_> =
            [tethered(StartAt::Next), lossy(StartAt::Next), tethered(StartAt::Oldest)]
                .iter()
                .map(|o| BroadcastStreamReader::<Lib>::open(&name, o).unwrap())
                .collect();
        let mut subset =
            BroadcastStreamReader::<Subset>::open(&name, &lossy(StartAt::Oldest)).unwrap();
        let file = std::fs::OpenOptions::new().write(true).open(Segment::path(&name)).unwrap();
        let mut rng = 0x0bad_cafe_f00d_d00du64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut tally = Tally::default();
        let start = Instant::now();
        let mut round = 0u64;
        while start.elapsed() < run_for {
            round += 1;
            // Every 8th round, one scribble near the writer's position: a frame size, a
            // sequence word, a reader's cursor, state or policy, or `write_pos` nearby.
            if round % 8 == 0 {
                let write_pos = peek_u64(&name, WRITE_POS);
                let index = write_pos.wrapping_sub(next() % 8) % layout.capacity;
                let (offset, bytes) = match next() % 6 {
                    0 | 1 => {
                        let size = [LIB_MAX_MESSAGE as u32 + 1, u32::MAX, next() as u32]
                            [(next() % 3) as usize];
                        (layout.slot(index), size.to_le_bytes().to_vec())
                    }
                    2 | 3 => (layout.seq(index), next().to_le_bytes().to_vec()),
                    4 => {
                        let entry = layout.entry(next() % 4);
                        match next() % 3 {
                            0 => (
                                entry,
                                write_pos
                                    .wrapping_add(next() % 8)
                                    .wrapping_sub(4)
                                    .to_le_bytes()
                                    .to_vec(),
                            ),
                            1 => (
                                entry + 24,
                                ((next() as u32) & !0xFF | (next() % 3) as u32)
                                    .to_le_bytes()
                                    .to_vec(),
                            ),
                            _ => (entry + 28, (1 + (next() % 2) as u32).to_le_bytes().to_vec()),
                        }
                    }
                    _ => (WRITE_POS, write_pos.wrapping_add(next() % 4).to_le_bytes().to_vec()),
                };
                file.write_all_at(&bytes, offset).unwrap();
            }
            for rx in &mut readers {
                for _ in 0..16 {
                    match rx.try_recv() {
                        Ok(frame) => tally.frame(&frame),
                        Err(RecvError::Empty) => break,
                        Err(e) => tally.error(&e),
                    }
                }
            }
            for _ in 0..16 {
                match subset.try_recv() {
                    Ok(frame) => tally.frame(&frame),
                    Err(RecvError::Empty) => break,
                    Err(e) => tally.error(&e),
                }
            }
        }
        drop((readers, subset));
        done.send(tally).unwrap();
    });
    let tally = match finished.recv_timeout(Duration::from_secs(60)) {
        Ok(tally) => {
            worker.join().unwrap();
            tally
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(worker.join().unwrap_err())
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("a scribbled live ring hung a reader"),
    };
    assert!(writer.child.try_wait().unwrap().is_none(), "the writer survived the scribbles");
    // The readers are gone (and any entry scribbled active is reclaimed): the writer goes on.
    writer.tell("STOP");
    writer.expect("LAST");
    assert!(writer.child.wait().unwrap().success());
    assert!(tally.frames > 100 && tally.intact > 0, "{tally:?}");
    assert!(tally.corrupt_size > 0 && tally.corrupt_seq > 0, "{tally:?}");
}
