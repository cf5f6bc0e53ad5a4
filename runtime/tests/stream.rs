//! The framed stream (`flatipc::stream`), in process and across real processes.
//!
//! Three hand-written messages of 8, 32 and 200 bytes (frames of 32, 48 and 224 bytes) form the
//! set `Lib`; `LibSubset` knows two of them, `LibConflict` gives one of their ids another layout.
//! Every test sends sequence numbers: the kind and every byte of message `seq` follow from `seq`
//! alone ([`Sent::of`]), so a reader checks that nothing is lost, duplicated, reordered or altered.
//!
//! Cross-process tests re-run this test binary as the peer: the parent sets `FLATIPC_PEER` and
//! runs the `peer_entry` test in a child process, which acts out the role and exits.
#![cfg(target_os = "linux")]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use flatipc::prelude::*;
use flatipc::stream::{
    stream, view, Frame, InSet, MessageInfo, MessageSet, RecvError, SendError, StreamOptions,
    StreamReader, StreamWriter, ViewError,
};
use flatipc::wait::WaitStrategy;
use flatipc::{OpenError, Problem, Segment};

// ---------------------------------------------------------------------------------------------
// Messages and sets.

const SMALL: u32 = 0x5101;
const MEDIUM: u32 = 0x5102;
const LARGE: u32 = 0x5103;
const HUGE: u32 = 0x51F0;
const BIG: u32 = 0x51F1;

/// 8 bytes: a frame of 32.
#[derive(
    Clone, Copy, Debug, PartialEq, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(id = 0x5101)]
#[repr(C)]
struct Small {
    seq: u64,
}

/// 32 bytes with a `bool` and padding, so that validation can fail: a frame of 48.
#[derive(
    Clone, Copy, Debug, PartialEq, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(id = 0x5102)]
#[repr(C)]
struct Medium {
    seq: u64,
    check: u64,
    flag: Bool,
    #[flat(padding)]
    _pad0: [u8; 7],
    value: u64,
}

/// 200 bytes: a frame of 224.
#[derive(
    Clone, Copy, Debug, PartialEq, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(id = 0x5103)]
#[repr(C)]
struct Large {
    seq: u64,
    check: u64,
    data: [u64; 23],
}

/// 304 bytes (a frame of 320): sendable on a `Lib` stream but not in `Lib::MESSAGES`, so
/// `stream()` does not raise the capacity for it.
#[derive(
    Clone, Copy, Debug, PartialEq, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(id = 0x51F0)]
#[repr(C)]
struct Huge {
    seq: u64,
    data: [u64; 37],
}

/// 240 bytes: a frame of 256, the largest a 512-byte stream carries (`capacity / 2`).
#[derive(
    Clone, Copy, Debug, PartialEq, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(id = 0x51F1)]
#[repr(C)]
struct Big {
    seq: u64,
    data: [u64; 29],
}

/// `Medium`'s id with another layout.
#[derive(
    Clone, Copy, Debug, PartialEq, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(id = 0x5102)]
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
    const LIBRARY: &'static str = "test.stream";
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
impl InSet<Lib> for Huge {}
impl InSet<Lib> for Big {}
// Useless but allowed (see `InSet`): frames of `Medium`'s id with the wrong size.
impl InSet<Lib> for MediumOther {}

#[derive(Debug)]
enum Known<'a> {
    Small(&'a Small),
    Large(&'a Large),
}

/// An older build of the library: it does not know `Medium`.
#[derive(Debug)]
struct LibSubset;

impl MessageSet for LibSubset {
    type View<'a> = Known<'a>;
    const LIBRARY: &'static str = "test.stream";
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
impl InSet<LibSubset> for Small {}
impl InSet<LibSubset> for Large {}

/// An incompatible build: `Medium`'s id has another layout.
#[derive(Debug)]
struct LibConflict;

impl MessageSet for LibConflict {
    type View<'a> = &'a MediumOther;
    const LIBRARY: &'static str = "test.stream";
    const MESSAGES: &'static [MessageInfo] =
        &[MessageInfo::of::<Small>(), MessageInfo::of::<MediumOther>()];
    fn view(id: u32, bytes: &[u8]) -> Option<Result<&MediumOther, ViewError>> {
        (id == MEDIUM).then(|| view::<MediumOther>(bytes))
    }
}

// ---------------------------------------------------------------------------------------------
// Sequence numbers.

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
    /// Message `seq`: its kind (pseudo-random, so that padding lands at many offsets) and every
    /// byte follow from `seq`.
    fn of(seq: u64) -> Sent {
        let check = checksum(seq);
        match (check >> 32) % 3 {
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

/// Sends message `seq` without waiting; every other `Large` is built in place with `loan`.
fn try_send_seq(tx: &mut StreamWriter<Lib>, seq: u64) -> Result<(), SendError> {
    match Sent::of(seq) {
        Sent::Small(m) => tx.try_send(&m),
        Sent::Medium(m) => tx.try_send(&m),
        Sent::Large(m) if seq % 2 == 0 => tx.try_send(&m),
        Sent::Large(m) => {
            let mut loan = tx.loan::<Large>()?;
            *loan = m;
            loan.commit();
            Ok(())
        }
    }
}

const PATIENCE: Duration = Duration::from_secs(30);

/// Sends message `seq`, waiting for room (`send_timeout`, or `loan` retried for loaned ones).
fn send_seq(tx: &mut StreamWriter<Lib>, seq: u64) -> Result<(), SendError> {
    match Sent::of(seq) {
        Sent::Small(m) => tx.send_timeout(&m, PATIENCE),
        Sent::Medium(m) => tx.send_timeout(&m, PATIENCE),
        Sent::Large(m) if seq % 2 == 0 => tx.send_timeout(&m, PATIENCE),
        Sent::Large(_) => {
            let deadline = Instant::now() + PATIENCE;
            loop {
                match try_send_seq(tx, seq) {
                    Err(SendError::Full) if Instant::now() < deadline => thread::yield_now(),
                    other => return other,
                }
            }
        }
    }
}

/// The sequence number of any frame (every message starts with it).
fn seq_of<S: MessageSet>(frame: &Frame<'_, S>) -> u64 {
    u64::from_le_bytes(frame.bytes()[..8].try_into().expect("messages hold at least 8 bytes"))
}

/// Checks that `frame` carries message `seq`: id, size, alignment, bytes and typed view.
fn check_frame(frame: &Frame<'_, Lib>, seq: u64) {
    let sent = Sent::of(seq);
    assert_eq!(frame.id(), sent.id(), "frame {seq}: id");
    assert_eq!(frame.bytes(), sent.bytes(), "frame {seq}: lost, duplicated, reordered or altered");
    assert_eq!(frame.bytes().as_ptr() as usize % 16, 0, "frame {seq}: message not 16-aligned");
    assert_eq!(frame.version(), 1, "frame {seq}: the writer's FlatMessage::VERSION");
    let got = match frame.message() {
        Some(Ok(AnyMessage::Small(m))) => Sent::Small(*m),
        Some(Ok(AnyMessage::Medium(m))) => Sent::Medium(*m),
        Some(Ok(AnyMessage::Large(m))) => Sent::Large(*m),
        Some(Err(e)) => panic!("frame {seq}: {e}"),
        None => panic!("frame {seq}: unknown id {:#x}", frame.id()),
    };
    assert_eq!(got, sent, "frame {seq}: view");
}

/// Bytes of the frame that carries `message_len` bytes: header plus message, rounded up to 16.
fn frame_len(message_len: usize) -> u64 {
    u64::try_from(16 + message_len).unwrap().next_multiple_of(16)
}

/// Follows the frame positions a reader sees: frames are contiguous except where a padding
/// frame filled the ring up to its end, and no frame wraps.
struct Positions {
    capacity: u64,
    end: u64,
    padding_offsets: BTreeSet<u64>,
}

impl Positions {
    fn new(capacity: u64) -> Self {
        Self { capacity, end: 0, padding_offsets: BTreeSet::new() }
    }

    fn see<S: MessageSet>(&mut self, frame: &Frame<'_, S>) {
        let position = frame.position();
        if position != self.end {
            let offset = self.end % self.capacity;
            assert_eq!(position, self.end + (self.capacity - offset), "only padding is skipped");
            self.padding_offsets.insert(offset);
        }
        let len = frame_len(frame.bytes().len());
        assert!(position % self.capacity + len <= self.capacity, "frame at {position} wraps");
        self.end = position + len;
    }
}

fn options(capacity: u64) -> StreamOptions {
    StreamOptions { capacity, wait: WaitStrategy::SpinThenPark { spins: 2_000 } }
}

fn unique(name: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!("test-stream-{name}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Removes the named segment when dropped.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Segment::remove(&self.0);
    }
}

// ---------------------------------------------------------------------------------------------
// The child side.

/// Capacity of the segments children create.
const CHILD_CAPACITY: u64 = 16 * 1024;

fn env_u64(key: &str) -> u64 {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Not a test of its own: the body of every child process. Does nothing unless `FLATIPC_PEER`
/// is set.
#[test]
fn peer_entry() {
    let Ok(role) = std::env::var("FLATIPC_PEER") else { return };
    let name = std::env::var("FLATIPC_NAME").expect("FLATIPC_NAME");
    let start = env_u64("FLATIPC_START");
    let count = env_u64("FLATIPC_COUNT");
    let options = options(CHILD_CAPACITY);
    match role.as_str() {
        // Sends messages `start .. start + count`, then exits.
        "writer" => {
            let mut tx = StreamWriter::<Lib>::open_or_create(&name, &options).expect("attach");
            for seq in start..start + count {
                send_seq(&mut tx, seq).expect("send");
            }
        }
        // Sends from `start` until killed.
        "endless-writer" => {
            let mut tx = StreamWriter::<Lib>::open_or_create(&name, &options).expect("attach");
            for seq in start.. {
                send_seq(&mut tx, seq).expect("send");
            }
        }
        // Sends `0 .. count`, then fills a loan with junk and waits, uncommitted, to be killed.
        "loaning-writer" => {
            let mut tx = StreamWriter::<Lib>::open_or_create(&name, &options).expect("attach");
            for seq in 0..count {
                send_seq(&mut tx, seq).expect("send");
            }
            let mut loan = tx.loan::<Large>().expect("room for a loan");
            *loan = Large { seq: u64::MAX, check: 1, data: [0xA5A5; 23] };
            println!("READY");
            thread::sleep(Duration::from_secs(60));
        }
        // Receives and checks consecutive messages until `count - 1`, printing `S <seq>` for
        // each before releasing it.
        "reader" => {
            let mut rx = StreamReader::<Lib>::open_or_create(&name, &options).expect("attach");
            let mut out = std::io::stdout().lock();
            let mut expected = None;
            while expected != Some(count) {
                let frame = rx.recv_timeout(PATIENCE).expect("receive");
                let seq = seq_of(&frame);
                if let Some(expected) = expected {
                    assert_eq!(seq, expected, "lost or duplicated");
                }
                check_frame(&frame, seq);
                writeln!(out, "S {seq}").expect("stdout");
                out.flush().expect("stdout");
                drop(frame);
                expected = Some(seq + 1);
            }
        }
        other => panic!("unknown peer role {other}"),
    }
}

fn spawn(role: &str, name: &str, vars: &[(&str, u64)]) -> Child {
    let mut command = Command::new(std::env::current_exe().expect("test binary path"));
    command
        .args(["peer_entry", "--exact", "--nocapture", "--test-threads=1", "-q"])
        .env("FLATIPC_PEER", role)
        .env("FLATIPC_NAME", name)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (key, value) in vars {
        command.env(key, value.to_string());
    }
    command.spawn().expect("spawn peer")
}

fn wait_for_line(child: &mut Child, wanted: &str) {
    let mut reader = BufReader::new(child.stdout.as_mut().expect("piped stdout"));
    let mut line = String::new();
    while line.trim() != wanted {
        line.clear();
        assert!(reader.read_line(&mut line).expect("child output") > 0, "child exited early");
    }
}

/// The `S <seq>` lines a reader child prints, complete lines only, until its stdout closes.
fn seen_by(child: &mut Child) -> mpsc::Receiver<u64> {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
            let seq = line.strip_prefix("S ").and_then(|s| s.strip_suffix('\n'));
            if let Some(seq) = seq.and_then(|s| s.parse().ok()) {
                if tx.send(seq).is_err() {
                    break;
                }
            }
            line.clear();
        }
    });
    rx
}

fn kill(child: &mut Child) {
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
}

// ---------------------------------------------------------------------------------------------
// In-process behaviour.

#[test]
fn mixed_messages_arrive_in_order_through_every_accessor() {
    assert_eq!((Small::MESSAGE_ID, Medium::MESSAGE_ID), (Some(SMALL), Some(MEDIUM)));
    assert_eq!((Large::MESSAGE_ID, Huge::MESSAGE_ID), (Some(LARGE), Some(HUGE)));
    assert_eq!(Big::MESSAGE_ID, Some(BIG));
    assert_eq!((size_of::<Small>(), size_of::<Medium>(), size_of::<Large>()), (8, 32, 200));

    let (mut tx, mut rx) = stream::<Lib>(&StreamOptions::default());
    assert!(matches!(rx.try_recv(), Err(RecvError::Empty)));
    let mut kinds = BTreeSet::new();
    for seq in 0..300 {
        try_send_seq(&mut tx, seq).unwrap();
        kinds.insert(Sent::of(seq).id());
    }
    assert_eq!(kinds.len(), 3, "every kind was sent");
    let mut positions = Positions::new(256 * 1024);
    for seq in 0..300 {
        let frame = rx.try_recv().unwrap();
        check_frame(&frame, seq);
        positions.see(&frame);
        match Sent::of(seq) {
            Sent::Small(m) => {
                assert_eq!(frame.get::<Small>(), Some(Ok(&m)));
                assert_eq!(frame.get::<Medium>(), None);
            }
            Sent::Medium(m) => {
                assert_eq!(frame.get::<Medium>(), Some(Ok(&m)));
                assert_eq!(frame.get::<Large>(), None);
            }
            Sent::Large(m) => {
                assert_eq!(frame.get::<Large>(), Some(Ok(&m)));
                assert_eq!(frame.get::<Small>(), None);
            }
        }
    }
    assert!(matches!(rx.try_recv(), Err(RecvError::Empty)));
    assert_eq!((tx.position(), rx.position()), (positions.end, positions.end));
}

#[test]
fn loans_are_zeroed_and_abandoned_loans_are_never_visible() {
    let (mut tx, mut rx) = stream::<Lib>(&options(512));
    // Leave non-zero bytes all over the ring.
    for seq in 0..40 {
        try_send_seq(&mut tx, seq).unwrap();
        drop(rx.try_recv().unwrap());
    }
    for _ in 0..6 {
        let loan = tx.loan::<Large>().unwrap();
        assert_eq!(*loan, Large { seq: 0, check: 0, data: [0; 23] }, "loans are zeroed");
        // Dropped without `commit`: abandoned.
    }
    {
        let mut loan = tx.loan_dirty::<Medium>().unwrap();
        loan.seq = 7;
    }
    assert!(matches!(rx.try_recv(), Err(RecvError::Empty)));
    try_send_seq(&mut tx, 40).unwrap();
    check_frame(&rx.try_recv().unwrap(), 40);
    assert!(matches!(rx.try_recv(), Err(RecvError::Empty)));
}

#[test]
fn small_capacities_are_raised_to_carry_the_largest_message() {
    let (mut tx, mut rx) = stream::<Lib>(&options(1));
    for _ in 0..3 {
        tx.try_send(&Large { seq: 1, check: 2, data: [3; 23] }).unwrap();
        assert_eq!(rx.try_recv().unwrap().get::<Large>().unwrap().unwrap().data, [3; 23]);
    }
}

/// Sequence numbers through a 512-byte ring, writer and reader taking turns in bursts of 1 to 5
/// messages.
#[test]
fn wrap_around_single_thread_keeps_every_message() {
    // Fewer under Miri (about 50x slower), still hundreds of laps.
    const MESSAGES: u64 = if cfg!(miri) { 1_200 } else { 20_000 };
    let (mut tx, mut rx) = stream::<Lib>(&options(512));
    let mut positions = Positions::new(512);
    let (mut sent, mut received) = (0, 0);
    while received < MESSAGES {
        for _ in 0..1 + checksum(sent) % 5 {
            match try_send_seq(&mut tx, sent) {
                Ok(()) => sent += 1,
                Err(SendError::Full) => break,
                Err(e) => panic!("send {sent}: {e}"),
            }
        }
        for _ in 0..1 + checksum(received ^ 0x5555) % 5 {
            match rx.try_recv() {
                Ok(frame) => {
                    check_frame(&frame, received);
                    positions.see(&frame);
                    received += 1;
                }
                Err(RecvError::Empty) => break,
                Err(e) => panic!("receive {received}: {e}"),
            }
        }
    }
    assert!(positions.end > 100 * 512, "many laps");
    // Frames of 32, 48 and 224 bytes leave padding at 13 possible offsets (304 ..= 496).
    let offsets = &positions.padding_offsets;
    assert!(offsets.len() >= 10, "padding at too few offsets: {offsets:?}");
    assert!(offsets.iter().all(|o| (304..512).contains(o)), "{offsets:?}");
}

#[test]
fn wrap_around_two_threads_keeps_every_message() {
    // Under Miri (which checks the two threads for data races) a few hundred messages suffice.
    const MESSAGES: u64 = if cfg!(miri) { 400 } else { 100_000 };
    let (mut tx, mut rx) = stream::<Lib>(&StreamOptions { capacity: 512, ..Default::default() });
    let writer = thread::spawn(move || {
        for seq in 0..MESSAGES {
            send_seq(&mut tx, seq).unwrap();
        }
    });
    let mut positions = Positions::new(512);
    for seq in 0..MESSAGES {
        let frame = rx.recv_timeout(PATIENCE).expect("message");
        check_frame(&frame, seq);
        positions.see(&frame);
    }
    writer.join().unwrap();
    assert!(matches!(rx.recv_timeout(PATIENCE), Err(RecvError::Disconnected)));
    let enough = if cfg!(miri) { 4 } else { 10 };
    assert!(positions.padding_offsets.len() >= enough, "{:?}", positions.padding_offsets);
}

#[test]
fn full_ring_reports_full_and_works_again_after_draining() {
    let (mut tx, mut rx) =
        stream::<Lib>(&StreamOptions { capacity: 512, wait: WaitStrategy::Spin });
    let mut sent = 0;
    while sent < 100 && tx.try_send(&Small { seq: sent }).is_ok() {
        sent += 1;
    }
    // 512 bytes hold 16 frames of 32.
    assert_eq!(sent, 16);
    assert_eq!(tx.try_send(&Small { seq: sent }), Err(SendError::Full));
    assert!(matches!(tx.loan::<Small>(), Err(SendError::Full)));
    assert_eq!(
        tx.send_timeout(&Small { seq: sent }, Duration::from_millis(20)),
        Err(SendError::Timeout)
    );
    // One frame released: room for one more.
    assert_eq!(rx.try_recv().unwrap().get::<Small>(), Some(Ok(&Small { seq: 0 })));
    tx.try_send(&Small { seq: sent }).unwrap();
    sent += 1;
    assert_eq!(tx.try_send(&Small { seq: sent }), Err(SendError::Full));
    for seq in 1..sent {
        assert_eq!(rx.try_recv().unwrap().get::<Small>(), Some(Ok(&Small { seq })));
    }
    assert!(matches!(rx.try_recv(), Err(RecvError::Empty)));
    // Drained: two frames of 224 (the largest of the set) fit again, a third does not.
    let large = Large { seq: 9, check: 9, data: [9; 23] };
    tx.try_send(&large).unwrap();
    tx.try_send(&large).unwrap();
    assert_eq!(tx.try_send(&large), Err(SendError::Full));
    assert_eq!(rx.try_recv().unwrap().get::<Large>(), Some(Ok(&large)));
}

#[test]
fn messages_larger_than_half_the_ring_are_too_large() {
    let huge = Huge { seq: 5, data: [5; 37] };
    let (mut tx, mut rx) = stream::<Lib>(&options(512));
    let too_large = SendError::TooLarge { size: 304, max: 240, needed: 1024 };
    assert_eq!(tx.try_send(&huge), Err(too_large));
    assert_eq!(tx.send(&huge), Err(too_large), "send does not wait for what never fits");
    assert!(matches!(tx.loan::<Huge>(), Err(e) if e == too_large));
    assert!(matches!(rx.try_recv(), Err(RecvError::Empty)));
    // The capacity the error names carries it; a reader of `Lib` does not know its id.
    let (mut tx, mut rx) = stream::<Lib>(&options(1024));
    tx.try_send(&huge).unwrap();
    let frame = rx.try_recv().unwrap();
    assert!(frame.message().is_none());
    assert_eq!((frame.id(), frame.bytes().len()), (HUGE, 304));
    assert_eq!(frame.get::<Huge>(), Some(Ok(&huge)));
}

/// A frame of exactly `capacity / 2` is allowed; `send` must then wait only until it fits.
#[test]
fn send_waits_only_for_the_room_its_frame_needs() {
    let (mut tx, mut rx) = stream::<Lib>(&StreamOptions {
        capacity: 512,
        wait: WaitStrategy::SpinThenYield { spins: 100 },
    });
    let big = |seq| Big { seq, data: [seq; 29] };
    tx.try_send(&big(0)).unwrap();
    tx.try_send(&big(1)).unwrap();
    assert_eq!(tx.try_send(&big(2)), Err(SendError::Full));
    let reader = thread::spawn(move || {
        thread::sleep(Duration::from_millis(50));
        assert_eq!(rx.try_recv().unwrap().get::<Big>(), Some(Ok(&big(0))));
        rx
    });
    // Once the reader released the first frame, its 256 bytes are free, and that is enough.
    let result = tx.send_timeout(&big(2), Duration::from_secs(2));
    let mut rx = reader.join().unwrap();
    assert_eq!(result, Ok(()), "send_timeout once one frame was released");
    assert_eq!(rx.try_recv().unwrap().get::<Big>(), Some(Ok(&big(1))));
    assert_eq!(rx.try_recv().unwrap().get::<Big>(), Some(Ok(&big(2))));
}

#[test]
fn invalid_data_is_reported_and_the_next_frame_still_arrives() {
    let (mut tx, mut rx) = stream::<Lib>(&StreamOptions::default());
    let good = Medium { seq: 1, check: 2, flag: Bool::TRUE, _pad0: [0; 7], value: 3 };
    tx.try_send(&Medium { flag: Bool(7), ..good }).unwrap();
    tx.try_send(&MediumOther { seq: 2, value: 2.5 }).unwrap();
    tx.try_send(&Medium { _pad0: [0, 0, 1, 0, 0, 0, 0], ..good }).unwrap();
    tx.try_send(&good).unwrap();

    let frame = rx.try_recv().unwrap();
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
    let size = ViewError::Size { name: "Medium", expected: 32, found: 16 };
    assert!(matches!(frame.message(), Some(Err(e)) if e == size), "{:?}", frame.message());
    assert_eq!(frame.get::<MediumOther>(), Some(Ok(&MediumOther { seq: 2, value: 2.5 })));
    drop(frame);

    let frame = rx.try_recv().unwrap();
    match frame.message() {
        Some(Err(ViewError::Invalid(e))) => assert_eq!(e.problem, Problem::NonZeroPadding),
        other => panic!("expected Invalid, got {other:?}"),
    }
    drop(frame);

    assert!(
        matches!(rx.try_recv().unwrap().message(), Some(Ok(AnyMessage::Medium(m))) if *m == good)
    );
    assert!(matches!(rx.try_recv(), Err(RecvError::Empty)));
    // A hand-built slice can be misaligned; frames never are.
    let words = [0u64; 5];
    let misaligned = ViewError::Misaligned { name: "Medium", align: 8 };
    assert_eq!(view::<Medium>(&words.as_bytes()[4..36]).unwrap_err(), misaligned);
}

#[test]
fn reader_sees_disconnected_after_draining_a_dropped_writer() {
    let (mut tx, mut rx) = stream::<Lib>(&options(4096));
    assert!(rx.writer_alive());
    for seq in 0..3 {
        try_send_seq(&mut tx, seq).unwrap();
    }
    drop(tx);
    assert!(!rx.writer_alive());
    for seq in 0..3 {
        check_frame(&rx.try_recv().unwrap(), seq);
    }
    assert!(matches!(rx.try_recv(), Err(RecvError::Disconnected)));
    assert!(matches!(rx.recv_timeout(Duration::from_secs(5)), Err(RecvError::Disconnected)));
    assert!(matches!(rx.recv(), Err(RecvError::Disconnected)));
}

#[test]
fn recv_timeout_times_out_while_the_writer_lives() {
    for wait in [
        WaitStrategy::Spin,
        WaitStrategy::SpinThenYield { spins: 10 },
        WaitStrategy::SpinThenPark { spins: 0 },
    ] {
        let (_tx, mut rx) = stream::<Lib>(&StreamOptions { capacity: 4096, wait });
        let start = Instant::now();
        assert!(matches!(rx.recv_timeout(Duration::from_millis(30)), Err(RecvError::Timeout)));
        assert!(start.elapsed() >= Duration::from_millis(30), "{wait:?} returned early");
    }
}

/// Without the writer's wake-up a parked reader would notice a frame only on its 100 ms
/// re-check; the median latency tells the two apart.
#[test]
fn parked_reader_is_woken_by_the_writer() {
    const ROUNDS: usize = 7;
    let base = Instant::now();
    let nanos = move || u64::try_from(base.elapsed().as_nanos()).unwrap();
    let (mut tx, mut rx) = stream::<Lib>(&StreamOptions {
        capacity: 4096,
        wait: WaitStrategy::SpinThenPark { spins: 0 },
    });
    let reader = thread::spawn(move || {
        let mut latencies = Vec::new();
        for _ in 0..ROUNDS {
            let frame = rx.recv_timeout(Duration::from_secs(10)).unwrap();
            let sent = frame.get::<Small>().unwrap().unwrap().seq;
            latencies.push(Duration::from_nanos(nanos().saturating_sub(sent)));
        }
        latencies
    });
    for _ in 0..ROUNDS {
        thread::sleep(Duration::from_millis(40)); // the reader parks
        tx.try_send(&Small { seq: nanos() }).unwrap();
    }
    let mut latencies = reader.join().unwrap();
    latencies.sort();
    assert!(latencies[ROUNDS / 2] < Duration::from_millis(25), "not woken: {latencies:?}");
}

/// As above for a writer parked on a full ring, woken by the reader's release.
#[test]
fn parked_writer_is_woken_by_the_reader() {
    const ROUNDS: usize = 7;
    let base = Instant::now();
    let nanos = move || u64::try_from(base.elapsed().as_nanos()).unwrap();
    let (mut tx, mut rx) = stream::<Lib>(&StreamOptions {
        capacity: 512,
        wait: WaitStrategy::SpinThenPark { spins: 0 },
    });
    let released_at = Arc::new(AtomicU64::new(0));
    let released = Arc::clone(&released_at);
    let (full, ring_is_full) = mpsc::channel();
    let reader = thread::spawn(move || {
        while ring_is_full.recv().is_ok() {
            thread::sleep(Duration::from_millis(40)); // the writer parks
            released.store(nanos(), Ordering::SeqCst);
            while rx.try_recv().is_ok() {}
        }
    });
    let mut latencies = Vec::new();
    for _ in 0..ROUNDS {
        while tx.try_send(&Small { seq: 0 }).is_ok() {}
        full.send(()).unwrap();
        tx.send_timeout(&Small { seq: 0 }, Duration::from_secs(10)).unwrap();
        let at = nanos();
        latencies.push(Duration::from_nanos(at.saturating_sub(released_at.load(Ordering::SeqCst))));
    }
    drop(full);
    reader.join().unwrap();
    latencies.sort();
    assert!(latencies[ROUNDS / 2] < Duration::from_millis(25), "not woken: {latencies:?}");
}

// ---------------------------------------------------------------------------------------------
// Named segments.

#[test]
fn second_writer_and_second_reader_are_refused() {
    let name = unique("second");
    let _cleanup = Cleanup(name.clone());
    let mut tx = StreamWriter::<Lib>::create(&name, &options(4096)).unwrap();
    let mut rx = StreamReader::<Lib>::open(&name, WaitStrategy::Spin).unwrap();
    let pid = u64::from(std::process::id());
    for attempt in [
        StreamWriter::<Lib>::open(&name, WaitStrategy::Spin).map(drop),
        StreamWriter::<Lib>::open_or_create(&name, &options(4096)).map(drop),
        StreamReader::<Lib>::open(&name, WaitStrategy::Spin).map(drop),
    ]
    .into_iter()
    .zip(["writer", "writer", "reader"])
    {
        match attempt {
            (Err(OpenError::PeerBusy { role, pid: holder, .. }), wanted) => {
                assert_eq!((role, holder), (wanted, pid));
            }
            (other, wanted) => panic!("a second {wanted} attached: {other:?}"),
        }
    }
    // The refused attempts disturbed nothing; a writer that detaches can be replaced and
    // continues at the ring's position.
    try_send_seq(&mut tx, 0).unwrap();
    let position = tx.position();
    drop(tx);
    let mut tx = StreamWriter::<Lib>::open(&name, WaitStrategy::Spin).unwrap();
    assert_eq!(tx.position(), position);
    try_send_seq(&mut tx, 1).unwrap();
    for seq in 0..2 {
        check_frame(&rx.try_recv().unwrap(), seq);
    }
}

#[test]
fn a_reader_of_a_subset_skips_unknown_ids_and_a_conflicting_layout_is_refused() {
    let name = unique("subset");
    let _cleanup = Cleanup(name.clone());
    let mut tx = StreamWriter::<Lib>::create(&name, &options(4096)).unwrap();
    let mut rx = StreamReader::<LibSubset>::open(&name, WaitStrategy::Spin).unwrap();
    let (mut known, mut skipped) = (0, 0);
    for chunk in 0..30 {
        for seq in chunk * 10..chunk * 10 + 10 {
            try_send_seq(&mut tx, seq).unwrap();
        }
        for seq in chunk * 10..chunk * 10 + 10 {
            let frame = rx.try_recv().unwrap();
            assert_eq!(seq_of(&frame), seq);
            match (Sent::of(seq), frame.message()) {
                (Sent::Medium(_), None) => {
                    assert_eq!((frame.id(), frame.bytes().len()), (MEDIUM, 32));
                    skipped += 1;
                }
                (Sent::Small(m), Some(Ok(Known::Small(got)))) => {
                    assert_eq!(*got, m);
                    known += 1;
                }
                (Sent::Large(m), Some(Ok(Known::Large(got)))) => {
                    assert_eq!(*got, m);
                    known += 1;
                }
                (sent, got) => panic!("frame {seq}: sent {sent:?}, got {got:?}"),
            }
        }
    }
    assert!(known > 50 && skipped > 50, "{known} known, {skipped} skipped");

    let refusals = [
        StreamReader::<LibConflict>::open(&name, WaitStrategy::Spin).map(drop),
        StreamReader::<LibConflict>::open_or_create(&name, &options(4096)).map(drop),
        StreamWriter::<LibConflict>::open(&name, WaitStrategy::Spin).map(drop),
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
    // Still in use, so not replaced as stale: the stream goes on.
    try_send_seq(&mut tx, 300).unwrap();
    assert_eq!(seq_of(&rx.try_recv().unwrap()), 300);
    // A reader of the full set replaces the subset reader where it stopped.
    drop(rx);
    let mut rx = StreamReader::<Lib>::open(&name, WaitStrategy::Spin).unwrap();
    try_send_seq(&mut tx, 301).unwrap();
    check_frame(&rx.try_recv().unwrap(), 301);
}

#[test]
fn a_writer_may_attach_to_a_segment_created_by_a_subset_reader() {
    let name = unique("subset-first");
    let _cleanup = Cleanup(name.clone());
    let mut rx = StreamReader::<LibSubset>::create(&name, &options(4096)).unwrap();
    let mut tx = StreamWriter::<Lib>::open(&name, WaitStrategy::Spin).unwrap();
    for seq in 0..30 {
        try_send_seq(&mut tx, seq).unwrap();
        let frame = rx.try_recv().unwrap();
        assert_eq!(seq_of(&frame), seq);
        assert_eq!(frame.message().is_some(), !matches!(Sent::of(seq), Sent::Medium(_)));
    }
}

// ---------------------------------------------------------------------------------------------
// Real processes.

#[test]
fn cross_process_stream_keeps_every_message_in_order() {
    // 10 million in release; 1 million in debug builds, so that `cargo test --workspace` (CI
    // runs it in debug) stays fast. FLATIPC_STREAM_COUNT overrides both.
    let default = if cfg!(debug_assertions) { 1_000_000 } else { 10_000_000 };
    let count =
        std::env::var("FLATIPC_STREAM_COUNT").ok().and_then(|c| c.parse().ok()).unwrap_or(default);
    let name = unique("cross");
    let _cleanup = Cleanup(name.clone());
    let mut rx = StreamReader::<Lib>::create(&name, &options(64 * 1024)).unwrap();
    let mut child = spawn("writer", &name, &[("FLATIPC_COUNT", count)]);
    let digest = |sum: u64, bytes: &[u8]| {
        bytes
            .chunks_exact(8)
            .fold(sum, |s, w| s.rotate_left(5) ^ u64::from_le_bytes(w.try_into().expect("8 bytes")))
    };
    let (mut expected, mut sum) = (0u64, 0u64);
    loop {
        match rx.recv_timeout(PATIENCE) {
            Ok(frame) => {
                assert_eq!(seq_of(&frame), expected, "lost, duplicated or reordered");
                check_frame(&frame, expected);
                sum = digest(sum, frame.bytes());
                expected += 1;
            }
            Err(RecvError::Disconnected) => break,
            Err(e) => panic!("after {expected} messages: {e}"),
        }
    }
    assert!(child.wait().unwrap().success());
    assert_eq!(expected, count);
    assert_eq!(sum, (0..count).fold(0, |s, seq| digest(s, Sent::of(seq).bytes())));
}

#[test]
fn sigkilled_writers_are_restarted_and_the_stream_goes_on() {
    let name = unique("kill-writer");
    let _cleanup = Cleanup(name.clone());
    let mut rx = StreamReader::<Lib>::create(&name, &options(4096)).unwrap();
    let mut next = 0u64;
    for _ in 0..8 {
        // Each writer continues at the ring's position with the next sequence number.
        let mut child = spawn("endless-writer", &name, &[("FLATIPC_START", next)]);
        let (target, deadline) = (next + 1_000, Instant::now() + PATIENCE);
        while next < target {
            match rx.recv_timeout(PATIENCE) {
                Ok(frame) => {
                    check_frame(&frame, next);
                    next += 1;
                }
                // Until the new writer attaches, the reader sees its predecessor's death.
                Err(RecvError::Disconnected) if Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(1));
                }
                Err(e) => panic!("waiting for message {next}: {e}"),
            }
        }
        kill(&mut child);
        // Everything it committed arrives, then Disconnected.
        loop {
            match rx.recv_timeout(PATIENCE) {
                Ok(frame) => {
                    check_frame(&frame, next);
                    next += 1;
                }
                Err(RecvError::Disconnected) => break,
                Err(e) => panic!("draining after the kill, at {next}: {e}"),
            }
        }
    }
}

#[test]
fn sigkilled_readers_are_restarted_and_resume() {
    const TOTAL: u64 = 60_000;
    let name = unique("kill-reader");
    let _cleanup = Cleanup(name.clone());
    let mut tx = StreamWriter::<Lib>::create(&name, &options(4096)).unwrap();
    let sender = thread::spawn(move || {
        for seq in 0..TOTAL {
            send_seq(&mut tx, seq).expect("send");
        }
        tx
    });
    let mut last_printed: Option<u64> = None;
    for round in 0..4 {
        let mut child = spawn("reader", &name, &[("FLATIPC_COUNT", TOTAL)]);
        let seen = seen_by(&mut child);
        let first = seen.recv_timeout(PATIENCE).expect("the restarted reader receives");
        // At least once: the frame the dead reader printed but had not released yet may come
        // again; nothing after it is lost.
        match last_printed {
            None => assert_eq!(first, 0),
            Some(last) => assert!(first == last || first == last + 1, "{first} after {last}"),
        }
        let mut last = first;
        let finished = round == 3;
        while finished || last < first + 2_000 {
            match seen.recv_timeout(PATIENCE) {
                Ok(seq) => {
                    assert_eq!(seq, last + 1, "lost or duplicated");
                    last = seq;
                }
                Err(_) if finished => break,
                Err(e) => panic!("reader {round} stalled after {last}: {e}"),
            }
        }
        if finished {
            assert!(child.wait().unwrap().success());
            assert_eq!(last, TOTAL - 1);
            break;
        }
        kill(&mut child);
        for seq in seen.iter() {
            assert_eq!(seq, last + 1, "lost or duplicated");
            last = seq;
        }
        assert!(last + 1 < TOTAL, "reader {round} finished before it was killed");
        last_printed = Some(last);
    }
    drop(sender.join().unwrap());
}

#[test]
fn stale_segment_of_a_sigkilled_writer_does_not_block_a_restart() {
    let name = unique("stale");
    let _cleanup = Cleanup(name.clone());
    // A writer that dies holding a loan: its frame is written but never committed.
    let mut child = spawn("loaning-writer", &name, &[("FLATIPC_COUNT", 20)]);
    wait_for_line(&mut child, "READY");
    match StreamWriter::<Lib>::open_or_create(&name, &options(4096)) {
        Err(OpenError::PeerBusy { role: "writer", .. }) => {}
        other => panic!("a second writer attached: {other:?}"),
    }
    kill(&mut child);
    let mut tx = StreamWriter::<Lib>::open_or_create(&name, &options(4096))
        .expect("the dead writer's segment is reusable");
    let mut rx = StreamReader::<Lib>::open_or_create(&name, &options(4096)).unwrap();
    for seq in 20..30 {
        try_send_seq(&mut tx, seq).unwrap();
    }
    for seq in 0..30 {
        check_frame(&rx.try_recv().unwrap(), seq);
    }
    assert!(matches!(rx.try_recv(), Err(RecvError::Empty)), "the abandoned loan never shows");
}

// ---------------------------------------------------------------------------------------------
// Hostile memory.

/// One scribble on a 512-byte stream segment of `len` bytes whose reader and writer stopped at
/// `positions`: where, and which bytes.
fn scribble(next: &mut impl FnMut() -> u64, len: u64, positions: [u64; 2]) -> (u64, Vec<u8>) {
    let pick = |next: &mut dyn FnMut() -> u64, n: u64| usize::try_from(next() % n).unwrap();
    let random_bytes = |next: &mut dyn FnMut() -> u64| {
        let n = 1 + pick(next, 8);
        next().to_le_bytes()[..n].to_vec()
    };
    let small = |next: &mut dyn FnMut() -> u64, n: u64| u32::try_from(next() % n).unwrap();
    match next() % 5 {
        // Anywhere, random bytes.
        0 => (next() % len, random_bytes(next)),
        // A plausible but wrong position (`write_pos` at 2560, `read_pos` at 2688).
        1 => ([2560, 2688][pick(next, 2)], ((next() % 128) * 16).to_le_bytes().to_vec()),
        // A frame header the reader may accept, at the reader's or the writer's position (or a
        // random one): any size, a known, padding or random id.
        2 => {
            let position = [positions[0], positions[1], (next() % 128) * 16][pick(next, 3)];
            let ids = [SMALL, MEDIUM, LARGE, HUGE, 0xFFFF_0001, small(next, 1 << 32)];
            let size = [small(next, 600), small(next, 1 << 32)][pick(next, 2)];
            let header = [size, ids[pick(next, 6)], 0, 0];
            (4096 + position % 512, header.as_bytes().to_vec())
        }
        // The data area, random bytes.
        _ => (4096 + next() % (len - 4096), random_bytes(next)),
    }
}

#[test]
fn scribbled_segments_give_errors_not_crashes() {
    let mut rng = 0x1234_5678_9abc_def0u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for round in 0..300 {
        let name = unique("scribble");
        let _cleanup = Cleanup(name.clone());
        let positions = {
            let mut tx = StreamWriter::<Lib>::create(&name, &options(512)).unwrap();
            let mut rx = StreamReader::<Lib>::open(&name, WaitStrategy::Spin).unwrap();
            // A few laps (frames of two laps and padding in the ring), then a few frames unread.
            for seq in 0..10 + round % 40 {
                try_send_seq(&mut tx, seq).unwrap();
                drop(rx.try_recv().unwrap());
            }
            for seq in 0..round % 4 {
                try_send_seq(&mut tx, seq).unwrap();
            }
            [rx.position(), tx.position()]
        };
        let path = Segment::path(&name);
        let mut file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let len = file.metadata().unwrap().len();
        for _ in 0..1 + round % 6 {
            let (offset, bytes) = scribble(&mut next, len, positions);
            file.seek(SeekFrom::Start(offset)).unwrap();
            file.write_all(&bytes[..bytes.len().min(usize::try_from(len - offset).unwrap())])
                .unwrap();
        }
        drop(file);
        // Whatever happens must be a value: Ok or Err, never a panic, a crash or a hang.
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            if let Ok(mut rx) = StreamReader::<Lib>::open(&name, WaitStrategy::Spin) {
                for _ in 0..64 {
                    match rx.try_recv() {
                        Ok(frame) => {
                            let _ = (frame.id(), frame.position(), frame.bytes().len());
                            let _ = frame.message().map(|m| m.is_ok());
                            let _ = (frame.get::<Huge>().is_some(), frame.get::<Big>().is_some());
                        }
                        Err(RecvError::Empty | RecvError::Disconnected) => break,
                        Err(_) => {}
                    }
                }
                let _ = rx.recv_timeout(Duration::from_millis(1)).map(|f| f.id());
            }
            if let Ok(mut tx) = StreamWriter::<Lib>::open(&name, WaitStrategy::Spin) {
                for seq in 0..8 {
                    let _ = try_send_seq(&mut tx, seq);
                }
                let _ = tx.send_timeout(&Small { seq: 0 }, Duration::from_millis(1));
            }
        }));
        assert!(outcome.is_ok(), "round {round} panicked");
    }
}
