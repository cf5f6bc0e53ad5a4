//! Broadcast rings (`flatipc::broadcast`), in process and across real processes.
//!
//! Every message is a function of its position ([`msg`]): a reader compares each whole message
//! with the one it expects, so a lost, duplicated, reordered or torn message is caught.
//!
//! Cross-process tests re-run this test binary as the peer: the parent sets `FLATIPC_PEER` and
//! runs the `peer_entry` test in a child process, which acts out the role and exits.
#![cfg(target_os = "linux")]
// Small indexes into test arrays and random test words cut to size.
#![allow(clippy::cast_possible_truncation)]

use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use flatipc::broadcast::{
    broadcast, BroadcastOptions, BroadcastReader, BroadcastWriter, Policy, ReaderOptions,
    RecvError, SendError, StartAt,
};
use flatipc::prelude::*;
use flatipc::wait::WaitStrategy;
use flatipc::{OpenError, Segment};

// ---------------------------------------------------------------------------------------------
// Messages.

/// 64 bytes (one slot): position, checksum, payload, all following from the position.
#[derive(
    Clone, Copy, Debug, PartialEq, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(id = 0x7801)]
#[repr(C)]
struct Msg {
    seq: u64,
    check: u64,
    payload: [u64; 6],
}

/// A message with a restricted field, to test validation.
#[derive(Clone, Copy, Debug, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[repr(C)]
struct Flagged {
    seq: u64,
    flag: Bool,
    #[flat(padding)]
    _pad0: [u8; 7],
}

fn checksum(seq: u64) -> u64 {
    seq.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17)
}

/// Message `seq`: every byte follows from `seq`, and no two words are equal.
fn msg(seq: u64) -> Msg {
    let check = checksum(seq);
    Msg { seq, check, payload: std::array::from_fn(|i| check ^ (i as u64 + 1).wrapping_mul(seq)) }
}

/// Folds a received message into a running digest.
fn digest(sum: u64, m: &Msg) -> u64 {
    m.as_bytes()
        .chunks_exact(8)
        .fold(sum, |s, w| s.rotate_left(5) ^ u64::from_le_bytes(w.try_into().expect("8 bytes")))
}

/// The digest of messages `0 .. count`.
fn expected_digest(range: std::ops::Range<u64>) -> u64 {
    range.fold(0, |s, seq| digest(s, &msg(seq)))
}

const PATIENCE: Duration = Duration::from_secs(30);

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
    format!("test-bc-{name}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Removes the named segment when dropped.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Segment::remove(&self.0);
    }
}

/// What a reader saw, checked message by message.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Seen {
    first: Option<u64>,
    last: Option<u64>,
    received: u64,
    missed: u64,
    digest: u64,
}

impl Seen {
    /// Checks message `m` (whole, against its position) and that it follows the last one, with
    /// exactly `m.missed()` skipped in between.
    fn see(&mut self, m: &flatipc::broadcast::Message<'_, Msg>) {
        let position = m.position();
        assert_eq!(**m, msg(position), "message {position} altered or torn");
        match self.last {
            Some(last) => assert_eq!(position, last + 1 + m.missed(), "lost or duplicated"),
            None => self.first = Some(position),
        }
        self.last = Some(position);
        self.received += 1;
        self.missed += m.missed();
        self.digest = digest(self.digest, m);
    }
}

/// Receives until `Disconnected`.
fn drain_until_disconnected(rx: &mut BroadcastReader<Msg>, seen: &mut Seen) {
    loop {
        match rx.recv_timeout(PATIENCE) {
            Ok(m) => seen.see(&m),
            Err(RecvError::Disconnected) => return,
            Err(e) => panic!("after {seen:?}: {e}"),
        }
    }
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
        // Sends `msg(position)` from the ring's position on, `FLATIPC_COUNT` messages (default:
        // until told `STOP` on stdin). Prints `MARK` once `FLATIPC_MARK_AT` are sent; prints
        // `PAUSED` once `FLATIPC_PAUSE_AT` are sent and waits for `GO`; sleeps
        // `FLATIPC_PACE_US` every 64 messages; prints `LAST <position>` at the end.
        "writer" => {
            let count = env_u64("FLATIPC_COUNT", u64::MAX);
            let mark_at = env_u64("FLATIPC_MARK_AT", u64::MAX);
            let pause_at = env_u64("FLATIPC_PAUSE_AT", u64::MAX);
            let pace = Duration::from_micros(env_u64("FLATIPC_PACE_US", 0));
            let commands = stdin_lines();
            let mut tx =
                BroadcastWriter::<Msg>::open_or_create(&name, &child_ring()).expect("attach");
            say(format!("START {}", tx.position()));
            for k in 0..count {
                if k == mark_at {
                    say("MARK".into());
                }
                if k == pause_at {
                    say("PAUSED".into());
                    while commands.recv().expect("GO on stdin") != "GO" {}
                }
                if k % 64 == 63 {
                    if !pace.is_zero() {
                        thread::sleep(pace);
                    }
                    if commands.try_recv().is_ok_and(|c| c == "STOP") {
                        break;
                    }
                }
                let position = tx.position();
                // Alternately built in the writer's memory and copied.
                if k % 2 == 0 {
                    tx.send(&msg(position)).expect("send");
                } else {
                    let mut loan = tx.loan();
                    *loan = msg(position);
                    loan.commit().expect("commit");
                }
            }
            say(format!("LAST {}", tx.position().wrapping_sub(1)));
        }
        // Attaches (`FLATIPC_POLICY` tethered or lossy, from the next message), prints `READY`,
        // receives and checks until `Disconnected`, then prints `DONE` and what it saw. With
        // `FLATIPC_STOP_AFTER`, stops reading after that many, prints `STOPPED <last position>`
        // and waits (still attached) to be killed.
        "reader" => {
            let policy = match std::env::var("FLATIPC_POLICY").as_deref() {
                Ok("lossy") => Policy::Lossy,
                _ => Policy::Tethered,
            };
            let stop_after = env_u64("FLATIPC_STOP_AFTER", u64::MAX);
            let options = ReaderOptions { policy, start: StartAt::Next, wait: child_ring().wait };
            let mut rx = BroadcastReader::<Msg>::open_or_create(&name, &child_ring(), &options)
                .expect("attach");
            say("READY".into());
            let mut seen = Seen::default();
            loop {
                if seen.received == stop_after {
                    say(format!("STOPPED {}", seen.last.expect("received some")));
                    thread::sleep(Duration::from_secs(120));
                }
                match rx.recv_timeout(PATIENCE) {
                    Ok(m) => {
                        seen.see(&m);
                        if policy == Policy::Tethered {
                            assert_eq!(m.missed(), 0, "a tethered reader missed messages");
                        }
                    }
                    Err(RecvError::Disconnected) => break,
                    Err(e) => panic!("reader after {seen:?}: {e}"),
                }
            }
            assert_eq!(rx.missed(), seen.missed, "missed() is the sum of the messages' missed()");
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
// In-process behaviour.

#[test]
fn tethered_reader_reads_every_message_in_place_and_holds_the_writer_back() {
    let mut tx = broadcast::<Msg>(&ring(4, 4));
    let mut rx = tx.subscribe(&tethered(StartAt::Next)).unwrap();
    assert!(matches!(rx.try_recv(), Err(RecvError::Empty)));
    for seq in 0..4 {
        tx.try_send(&msg(seq)).unwrap();
    }
    assert_eq!(tx.position(), 4);
    assert_eq!(tx.try_send(&msg(4)), Err(SendError::Full), "a full ring behind");
    let start = Instant::now();
    assert_eq!(tx.send_timeout(&msg(4), Duration::from_millis(30)), Err(SendError::Timeout));
    assert!(start.elapsed() >= Duration::from_millis(30), "send_timeout returned early");
    // The reader reads in place: consecutive positions lie a slot apart, and position `p` and
    // `p + capacity` share a slot.
    let addresses: Vec<usize> = (0..4)
        .map(|seq| {
            let m = rx.try_recv().unwrap();
            assert_eq!((*m, m.position(), m.missed()), (msg(seq), seq, 0));
            let address = std::ptr::from_ref::<Msg>(&m) as usize;
            drop(m);
            // Each release makes room for exactly one more (sent with `send`, then `loan`).
            if seq % 2 == 0 {
                tx.send(&msg(seq + 4)).unwrap();
            } else {
                let mut loan = tx.loan();
                assert_eq!(*loan, Msg { seq: 0, check: 0, payload: [0; 6] }, "loans are zeroed");
                *loan = msg(seq + 4);
                loan.commit().unwrap();
            }
            assert_eq!(tx.try_send(&msg(99)), Err(SendError::Full));
            address
        })
        .collect();
    assert_eq!(addresses[1] - addresses[0], 64, "slots of 64 bytes");
    assert_eq!(addresses[3] - addresses[2], 64);
    for seq in 4..8 {
        let m = rx.try_recv().unwrap();
        assert_eq!((*m, m.position()), (msg(seq), seq));
        assert_eq!(
            std::ptr::from_ref::<Msg>(&m) as usize,
            addresses[(seq - 4) as usize],
            "in place"
        );
    }
    assert!(matches!(rx.try_recv(), Err(RecvError::Empty)));
    // Many laps, writer and reader taking turns in bursts.
    let (mut sent, mut seen) = (8, Seen::default());
    while sent < 5_000 {
        for _ in 0..1 + checksum(sent) % 6 {
            match tx.try_send(&msg(sent)) {
                Ok(()) => sent += 1,
                Err(SendError::Full) => break,
                Err(e) => panic!("{e}"),
            }
        }
        for _ in 0..1 + checksum(sent ^ 0x55) % 6 {
            match rx.try_recv() {
                Ok(m) => seen.see(&m),
                Err(RecvError::Empty) => break,
                Err(e) => panic!("{e}"),
            }
        }
    }
    while let Ok(m) = rx.try_recv() {
        seen.see(&m);
    }
    assert_eq!((seen.first, seen.last, seen.missed), (Some(8), Some(sent - 1), 0));
    assert_eq!(seen.digest, expected_digest(8..sent));
    assert_eq!(rx.missed(), 0);
}

#[test]
fn lossy_reader_never_blocks_the_writer_and_counts_exactly_what_it_missed() {
    let mut tx = broadcast::<Msg>(&ring(8, 4));
    let mut rx = tx.subscribe(&lossy(StartAt::Next)).unwrap();
    for seq in 0..100 {
        tx.try_send(&msg(seq)).unwrap();
    }
    // Lapped: it resumes at the oldest message the writer cannot be rewriting (capacity - 1
    // back) and reports the 93 before it.
    let m = rx.try_recv().unwrap();
    assert_eq!((*m, m.position(), m.missed()), (msg(93), 93, 93));
    let copy_at = std::ptr::from_ref::<Msg>(&m) as usize;
    drop(m);
    for seq in 94..100 {
        let m = rx.try_recv().unwrap();
        assert_eq!((*m, m.position(), m.missed()), (msg(seq), seq, 0));
        assert_eq!(std::ptr::from_ref::<Msg>(&m) as usize, copy_at, "copies, not in place");
    }
    assert!(matches!(rx.try_recv(), Err(RecvError::Empty)));
    assert_eq!(rx.missed(), 93);

    // Bursts of every size against a reader that reads in bursts: every message it gets is
    // whole and it accounts for every one it did not get.
    let mut seen = Seen { last: Some(99), missed: 93, received: 7, ..Seen::default() };
    let mut sent = 100;
    for round in 0..3_000u64 {
        for _ in 0..checksum(round) % 20 {
            tx.try_send(&msg(sent)).expect("a lossy reader never holds the writer back");
            sent += 1;
        }
        for _ in 0..checksum(round ^ 0xAA) % 10 {
            match rx.try_recv() {
                Ok(m) => seen.see(&m),
                Err(RecvError::Empty) => break,
                Err(e) => panic!("{e}"),
            }
        }
    }
    while let Ok(m) = rx.try_recv() {
        seen.see(&m);
    }
    assert_eq!(seen.last, Some(sent - 1), "the last message is never lost");
    assert_eq!(seen.received + seen.missed, sent, "received + missed == published");
    assert_eq!(rx.missed(), seen.missed);
    assert!(seen.missed > 93 && seen.received > 7, "{seen:?}");
}

#[test]
fn start_at_oldest_gets_the_retained_backlog_and_next_only_new_messages() {
    let mut tx = broadcast::<Msg>(&ring(8, 8));
    for seq in 0..5 {
        tx.try_send(&msg(seq)).unwrap();
    }
    let mut oldest_t = tx.subscribe(&tethered(StartAt::Oldest)).unwrap();
    let mut oldest_l = tx.subscribe(&lossy(StartAt::Oldest)).unwrap();
    let mut next_t = tx.subscribe(&tethered(StartAt::Next)).unwrap();
    let mut next_l = tx.subscribe(&lossy(StartAt::Next)).unwrap();
    for seq in 5..7 {
        tx.try_send(&msg(seq)).unwrap();
    }
    let read_all = |rx: &mut BroadcastReader<Msg>| {
        let mut seen = Seen::default();
        while let Ok(m) = rx.try_recv() {
            seen.see(&m);
        }
        assert!(matches!(rx.try_recv(), Err(RecvError::Empty)));
        (seen.first, seen.last, seen.received, seen.missed)
    };
    assert_eq!(read_all(&mut oldest_t), (Some(0), Some(6), 7, 0));
    assert_eq!(read_all(&mut oldest_l), (Some(0), Some(6), 7, 0));
    assert_eq!(read_all(&mut next_t), (Some(5), Some(6), 2, 0));
    assert_eq!(read_all(&mut next_l), (Some(5), Some(6), 2, 0));
    drop((oldest_t, oldest_l, next_t, next_l));

    // More than a ring published: the backlog is the last `capacity - 1` messages.
    for seq in 7..40 {
        tx.try_send(&msg(seq)).unwrap();
    }
    let mut oldest_t = tx.subscribe(&tethered(StartAt::Oldest)).unwrap();
    let mut oldest_l = tx.subscribe(&lossy(StartAt::Oldest)).unwrap();
    assert_eq!(read_all(&mut oldest_t), (Some(33), Some(39), 7, 0));
    assert_eq!(read_all(&mut oldest_l), (Some(33), Some(39), 7, 0));
    // The backlog reader is tethered from its join on: it holds the writer back there.
    for seq in 40..48 {
        tx.try_send(&msg(seq)).unwrap();
    }
    assert_eq!(tx.try_send(&msg(48)), Err(SendError::Full));
    assert_eq!(read_all(&mut oldest_t), (Some(40), Some(47), 8, 0));
    tx.try_send(&msg(48)).unwrap();
}

/// A tethered reader that starts at the oldest message reads its backlog with the lossy rules;
/// when the writer laps that backlog, the messages it lost must be counted like a lossy
/// reader's.
#[test]
fn tethered_oldest_reader_lapped_in_its_backlog_counts_what_it_missed() {
    let mut tx = broadcast::<Msg>(&ring(8, 4));
    for seq in 0..20 {
        tx.try_send(&msg(seq)).unwrap();
    }
    // Joins at 20 with the backlog 13..20.
    let mut rx = tx.subscribe(&tethered(StartAt::Oldest)).unwrap();
    // The writer may overwrite the backlog (the reader's cursor is at 20): 20..28 fit.
    for seq in 20..28 {
        tx.try_send(&msg(seq)).unwrap();
    }
    assert_eq!(tx.try_send(&msg(28)), Err(SendError::Full));
    let mut got = Vec::new();
    while let Ok(m) = rx.try_recv() {
        assert_eq!(*m, msg(m.position()));
        got.push((m.position(), m.missed()));
    }
    // 13..20 were overwritten before the reader got to them; 20..28 arrive in place, and the
    // first of them reports the 7 lost before it.
    let positions: Vec<u64> = got.iter().map(|&(p, _)| p).collect();
    assert_eq!(positions, (20..28).collect::<Vec<_>>());
    assert_eq!(rx.missed(), 7, "the reader's total counts the lost backlog");
    assert_eq!(got[0].1, 7, "the first message after the lost backlog reports it");
}

#[test]
fn readers_beyond_max_readers_are_refused_and_dropping_one_frees_its_entry() {
    let mut tx = broadcast::<Msg>(&ring(8, 3));
    let a = tx.subscribe(&tethered(StartAt::Next)).unwrap();
    let b = tx.subscribe(&lossy(StartAt::Next)).unwrap();
    let mut c = tx.subscribe(&tethered(StartAt::Next)).unwrap();
    for options in [tethered(StartAt::Next), lossy(StartAt::Oldest)] {
        match tx.subscribe(&options) {
            Err(OpenError::ReadersFull { max_readers: 3, .. }) => {}
            other => panic!("a fourth reader attached: {other:?}"),
        }
    }
    drop(b);
    let mut d = tx.subscribe(&lossy(StartAt::Next)).unwrap();
    assert!(matches!(tx.subscribe(&lossy(StartAt::Next)), Err(OpenError::ReadersFull { .. })));
    drop(a);
    let mut e = tx.subscribe(&tethered(StartAt::Next)).unwrap();
    tx.try_send(&msg(0)).unwrap();
    for rx in [&mut c, &mut d, &mut e] {
        assert_eq!(*rx.try_recv().unwrap(), msg(0));
    }
    // The refused attempts disturbed nothing: the text says what to do.
    let text = tx.subscribe(&tethered(StartAt::Next)).unwrap_err().to_string();
    assert!(text.contains("max_readers"), "{text}");
}

#[test]
fn dropping_a_tethered_reader_unblocks_the_writer() {
    let mut tx = broadcast::<Msg>(&BroadcastOptions {
        capacity: 4,
        max_readers: 4,
        wait: WaitStrategy::SpinThenPark { spins: 100 },
    });
    let mut slow = tx.subscribe(&tethered(StartAt::Next)).unwrap();
    let mut other = tx.subscribe(&tethered(StartAt::Next)).unwrap();
    let _lossy = tx.subscribe(&lossy(StartAt::Next)).unwrap();
    for seq in 0..4 {
        tx.try_send(&msg(seq)).unwrap();
    }
    // The other tethered reader keeps up; `slow` holds the writer back alone.
    for seq in 0..4 {
        assert_eq!(*other.try_recv().unwrap(), msg(seq));
    }
    assert_eq!(*slow.try_recv().unwrap(), msg(0));
    tx.try_send(&msg(4)).unwrap();
    assert_eq!(tx.try_send(&msg(5)), Err(SendError::Full));
    let writer = thread::spawn(move || {
        let start = Instant::now();
        let sent = tx.send_timeout(&msg(5), Duration::from_secs(20));
        (sent, start.elapsed(), tx)
    });
    thread::sleep(Duration::from_millis(100)); // the writer parks
    drop(slow);
    let (sent, waited, mut tx) = writer.join().unwrap();
    assert_eq!(sent, Ok(()));
    assert!(waited < Duration::from_secs(5), "the writer stayed blocked: {waited:?}");
    // The other reader has released 0..4 of 0..6: two more fit.
    for seq in 6..8 {
        tx.try_send(&msg(seq)).unwrap();
    }
    assert_eq!(tx.try_send(&msg(8)), Err(SendError::Full), "the other reader still holds");
    let mut seen = Seen { last: Some(3), ..Seen::default() };
    while let Ok(m) = other.try_recv() {
        seen.see(&m);
    }
    assert_eq!((seen.last, seen.missed), (Some(7), 0));
}

#[test]
fn readers_see_disconnected_after_the_writer_is_dropped_and_drained() {
    let mut tx = broadcast::<Msg>(&ring(8, 4));
    let mut readers = [
        tx.subscribe(&tethered(StartAt::Next)).unwrap(),
        tx.subscribe(&lossy(StartAt::Next)).unwrap(),
        tx.subscribe(&tethered(StartAt::Oldest)).unwrap(),
    ];
    for seq in 0..3 {
        tx.try_send(&msg(seq)).unwrap();
    }
    assert!(readers.iter().all(BroadcastReader::writer_alive));
    drop(tx);
    for rx in &mut readers {
        assert!(!rx.writer_alive());
        for seq in 0..3 {
            let m = rx.try_recv().unwrap();
            assert_eq!((*m, m.position()), (msg(seq), seq));
        }
        assert!(matches!(rx.try_recv(), Err(RecvError::Disconnected)));
        assert!(matches!(rx.recv_timeout(Duration::from_secs(5)), Err(RecvError::Disconnected)));
        assert!(matches!(rx.recv(), Err(RecvError::Disconnected)));
    }
}

#[test]
fn recv_timeout_times_out_while_the_writer_lives() {
    let tx = broadcast::<Msg>(&ring(8, 4));
    for wait in [
        WaitStrategy::Spin,
        WaitStrategy::SpinThenYield { spins: 10 },
        WaitStrategy::SpinThenPark { spins: 0 },
    ] {
        for policy in [Policy::Tethered, Policy::Lossy] {
            let mut rx =
                tx.subscribe(&ReaderOptions { policy, start: StartAt::Oldest, wait }).unwrap();
            let start = Instant::now();
            let got = rx.recv_timeout(Duration::from_millis(30));
            assert!(matches!(got, Err(RecvError::Timeout)), "{got:?}");
            assert!(start.elapsed() >= Duration::from_millis(30), "{wait:?} returned early");
        }
    }
}

#[test]
fn invalid_data_is_reported_and_the_next_message_still_arrives() {
    let mut tx = broadcast::<Flagged>(&ring(4, 4));
    let mut readers = [
        tx.subscribe(&tethered(StartAt::Next)).unwrap(),
        tx.subscribe(&lossy(StartAt::Next)).unwrap(),
    ];
    for round in 0..3u64 {
        tx.try_send(&Flagged { seq: 2 * round, flag: Bool(7), _pad0: [0; 7] }).unwrap();
        tx.try_send(&Flagged { seq: 2 * round + 1, flag: Bool(1), _pad0: [0; 7] }).unwrap();
        for rx in &mut readers {
            match rx.try_recv() {
                Err(RecvError::Invalid { position, error }) => {
                    assert_eq!((position, error.member), (2 * round, "flag"));
                }
                other => panic!("expected Invalid, got {other:?}"),
            }
            let m = rx.try_recv().unwrap();
            assert_eq!((m.seq, m.position(), m.flag), (2 * round + 1, 2 * round + 1, Bool(1)));
            drop(m);
            assert!(matches!(rx.try_recv(), Err(RecvError::Empty)));
        }
    }
}

/// Without the writer's wake-up a parked reader would notice a message only on its 100 ms
/// re-check; the median latency tells the two apart. Two readers park at once.
#[test]
fn parked_readers_are_all_woken_by_the_writer() {
    const ROUNDS: u64 = 7;
    let base = Instant::now();
    let nanos = move || u64::try_from(base.elapsed().as_nanos()).unwrap();
    let mut tx = broadcast::<Msg>(&ring(16, 4));
    let parked = WaitStrategy::SpinThenPark { spins: 0 };
    let readers: Vec<_> = [Policy::Tethered, Policy::Lossy]
        .into_iter()
        .map(|policy| {
            let mut rx = tx
                .subscribe(&ReaderOptions { policy, start: StartAt::Next, wait: parked })
                .unwrap();
            thread::spawn(move || {
                let mut latencies = Vec::new();
                for _ in 0..ROUNDS {
                    let m = rx.recv_timeout(Duration::from_secs(10)).unwrap();
                    latencies.push(Duration::from_nanos(nanos().saturating_sub(m.seq)));
                }
                latencies
            })
        })
        .collect();
    for _ in 0..ROUNDS {
        thread::sleep(Duration::from_millis(40)); // both readers park
        let now = nanos();
        tx.try_send(&Msg { seq: now, ..msg(0) }).unwrap();
    }
    for reader in readers {
        let mut latencies = reader.join().unwrap();
        latencies.sort();
        let median = latencies[latencies.len() / 2];
        assert!(median < Duration::from_millis(25), "not woken: {latencies:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Threads.

#[test]
fn threads_two_tethered_readers_get_everything_and_a_lossy_one_accounts_for_all() {
    // Under Miri (which checks the threads for data races) a few hundred messages suffice; in
    // debug builds (CI runs `cargo test --workspace` in debug) a quarter.
    const N: u64 = if cfg!(miri) {
        300
    } else if cfg!(debug_assertions) {
        50_000
    } else {
        200_000
    };
    let mut tx = broadcast::<Msg>(&BroadcastOptions {
        capacity: 256,
        max_readers: 4,
        wait: WaitStrategy::SpinThenYield { spins: 100 },
    });
    let yielding = |policy| ReaderOptions {
        policy,
        start: StartAt::Next,
        wait: WaitStrategy::SpinThenYield { spins: 100 },
    };
    let readers: Vec<_> = [Policy::Tethered, Policy::Tethered, Policy::Lossy]
        .into_iter()
        .map(|policy| {
            let mut rx = tx.subscribe(&yielding(policy)).unwrap();
            thread::spawn(move || {
                let mut seen = Seen::default();
                drain_until_disconnected(&mut rx, &mut seen);
                assert_eq!(rx.missed(), seen.missed);
                (policy, seen)
            })
        })
        .collect();
    let writer = thread::spawn(move || {
        let mut sum = 0;
        for seq in 0..N {
            let m = msg(seq);
            tx.send_timeout(&m, PATIENCE).unwrap();
            sum = digest(sum, &m);
        }
        sum
    });
    let sum = writer.join().unwrap();
    for reader in readers {
        let (policy, seen) = reader.join().unwrap();
        assert_eq!(seen.last, Some(N - 1), "{policy:?}: the last message arrives");
        if policy == Policy::Tethered {
            assert_eq!((seen.first, seen.received, seen.missed), (Some(0), N, 0));
            assert_eq!(seen.digest, sum, "tethered checksum");
        } else {
            assert_eq!(seen.received + seen.missed, N, "lossy: received + missed == published");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Real processes.

fn count_for(release: u64, debug: u64) -> u64 {
    if cfg!(debug_assertions) {
        debug
    } else {
        release
    }
}

#[test]
fn cross_process_readers_and_a_sigkilled_tethered_reader_that_restarts() {
    // The writer pauses after N1 (long after the stopped reader holds it back), then sends N2.
    let (n1, n2) = (count_for(300_000, 50_000), count_for(300_000, 50_000));
    let n = n1 + n2;
    assert!(n1 > 1_000 + 2 * child_ring().capacity);
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
    let mut doomed = spawn_reader(&[("FLATIPC_STOP_AFTER", "1000")]);
    let (n1_text, n_text) = (n1.to_string(), n.to_string());
    let mut writer =
        Peer::spawn("writer", &name, &[("FLATIPC_COUNT", &n_text), ("FLATIPC_PAUSE_AT", &n1_text)]);
    assert_eq!(writer.expect("START"), "0");
    assert_eq!(doomed.expect("STOPPED"), "999");
    // The stopped reader holds the writer back a ring after its cursor...
    thread::sleep(Duration::from_millis(200));
    assert!(
        !writer.lines.try_iter().any(|line| line == "PAUSED"),
        "the writer ran past a tethered reader that stopped reading"
    );
    // ...until it dies: the writer, waiting in `send`, detaches it.
    doomed.kill();
    writer.expect("PAUSED");
    // A restarted reader joins at the next message and sees the whole tail.
    let restarted = spawn_reader(&[]);
    writer.tell("GO");
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
    assert_eq!(seen.last, Some(n - 1));
    assert_eq!(seen.received + seen.missed, n, "lossy: received + missed == published");
    let seen = restarted.done();
    assert_eq!((seen.first, seen.last, seen.received, seen.missed), (Some(n1), Some(n - 1), n2, 0));
    assert_eq!(seen.digest, expected_digest(n1..n));
}

/// Peer entry 1's `may_park`: how many attached readers may sleep (`docs/PROTOCOL.md` §5).
fn readers_may_park(name: &str) -> u32 {
    let bytes = std::fs::read(format!("/dev/shm/flatipc.{name}")).expect("read the segment");
    let at = 2176 + 64 + 32;
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

#[test]
fn a_sigkilled_parking_readers_may_park_count_is_taken_back_by_the_next_reader_of_its_entry() {
    let name = unique("maypark");
    let _cleanup = Cleanup(name.clone());
    let tx = BroadcastWriter::<Msg>::create(&name, &child_ring()).expect("create");
    let mut child = Peer::spawn("reader", &name, &[]);
    child.expect("READY");
    assert_eq!(readers_may_park(&name), 1, "the child reader may park");
    child.kill();
    assert_eq!(readers_may_park(&name), 1, "a dead reader cannot take its count back itself");
    // A spinning reader claims the dead reader's entry (the first free one) and takes its count.
    let spin = ReaderOptions { wait: WaitStrategy::Spin, ..ReaderOptions::default() };
    let rx = BroadcastReader::<Msg>::open(&name, &spin).expect("attach");
    assert_eq!(readers_may_park(&name), 0, "the dead reader's count was taken back");
    let parking = BroadcastReader::<Msg>::open(&name, &tethered(StartAt::Next)).expect("attach");
    assert_eq!(readers_may_park(&name), 1);
    drop(parking);
    drop(rx);
    assert_eq!(readers_may_park(&name), 0, "leaving readers take their counts back");
    drop(tx);
}

#[test]
fn cross_process_reader_joining_mid_stream_sees_a_contiguous_suffix() {
    let name = unique("join");
    let _cleanup = Cleanup(name.clone());
    // A paced writer that runs until told to stop.
    let mut writer =
        Peer::spawn("writer", &name, &[("FLATIPC_MARK_AT", "2000"), ("FLATIPC_PACE_US", "200")]);
    writer.expect("MARK");
    let mut rx = BroadcastReader::<Msg>::open(&name, &tethered(StartAt::Next)).unwrap();
    let mut seen = Seen::default();
    while seen.received < 3_000 {
        let m = rx.recv_timeout(PATIENCE).expect("message");
        seen.see(&m);
        assert_eq!(m.missed(), 0);
    }
    writer.tell("STOP");
    let last: u64 = writer.expect("LAST").parse().unwrap();
    drain_until_disconnected(&mut rx, &mut seen);
    assert!(writer.child.wait().unwrap().success());
    let first = seen.first.unwrap();
    assert!(first >= 2_000, "joined mid-stream, at {first}");
    assert_eq!((seen.last, seen.missed), (Some(last), 0), "a contiguous suffix to the end");
    assert_eq!(seen.received, last + 1 - first);
}

#[test]
fn cross_process_sigkilled_writer_restarts_and_attached_readers_keep_going() {
    let name = unique("kill-writer");
    let _cleanup = Cleanup(name.clone());
    let mut t =
        BroadcastReader::<Msg>::open_or_create(&name, &child_ring(), &tethered(StartAt::Next))
            .unwrap();
    let mut l = BroadcastReader::<Msg>::open_or_create(&name, &child_ring(), &lossy(StartAt::Next))
        .unwrap();
    let (mut seen_t, mut seen_l) = (Seen::default(), Seen::default());
    for round in 0..4 {
        let mut writer = Peer::spawn("writer", &name, &[("FLATIPC_PACE_US", "100")]);
        // Each writer continues at the ring's position.
        let start: u64 = writer.expect("START").parse().unwrap();
        assert_eq!(start, seen_t.last.map_or(0, |l| l + 1), "round {round}");
        let (target, deadline) = (start + 2_000, Instant::now() + PATIENCE);
        while seen_t.last.map_or(0, |l| l + 1) < target {
            match t.recv_timeout(PATIENCE) {
                Ok(m) => {
                    seen_t.see(&m);
                    assert_eq!(m.missed(), 0);
                }
                // Until the new writer attaches, the reader may still see its predecessor's
                // death.
                Err(RecvError::Disconnected) if Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(1));
                }
                Err(e) => panic!("round {round}, after {seen_t:?}: {e}"),
            }
            while let Ok(m) = l.try_recv() {
                seen_l.see(&m);
            }
        }
        writer.kill();
        // Everything it published arrives, then Disconnected.
        drain_until_disconnected(&mut t, &mut seen_t);
        drain_until_disconnected(&mut l, &mut seen_l);
        assert_eq!(seen_l.last, seen_t.last, "round {round}: the lossy reader catches up");
    }
    let published = seen_t.last.unwrap() + 1;
    assert_eq!((seen_t.first, seen_t.received, seen_t.missed), (Some(0), published, 0));
    assert_eq!(seen_t.digest, expected_digest(0..published));
    assert_eq!(seen_l.received + seen_l.missed, published, "lossy: received + missed");
}

// ---------------------------------------------------------------------------------------------
// Hostile memory.

/// Layout of the scribbled segments: 8 slots of 64 bytes at 4096, their 8 sequence words after
/// them, the reader table (4 entries of 64 bytes) at the next page.
const SEQS: u64 = 4096 + 8 * 64;
const TABLE: u64 = 8192;

/// One scribble on a broadcast segment of `len` bytes published up to `write_pos`: where, and
/// which bytes.
fn scribble(next: &mut impl FnMut() -> u64, len: u64, write_pos: u64) -> (u64, Vec<u8>) {
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
    match next() % 6 {
        // A reader entry: its cursor, state (any generation, any state) or policy.
        0 | 1 => {
            let entry = TABLE + 64 * pick(next, 4);
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
        2 | 3 => {
            let seq = match pick(next, 3) {
                0 => position(next).wrapping_mul(2).wrapping_add(1),
                1 => position(next).wrapping_mul(2).wrapping_add(2),
                _ => next(),
            };
            (SEQS + 8 * pick(next, 8), seq.to_le_bytes().to_vec())
        }
        // The header: write position, geometry, or anywhere.
        4 => match pick(next, 4) {
            0 => (2560, position(next).to_le_bytes().to_vec()),
            1 => ([32, 40, 68][pick(next, 3) as usize], random_bytes(next)),
            _ => (pick(next, 4096), random_bytes(next)),
        },
        // Anywhere.
        _ => (pick(next, len), random_bytes(next)),
    }
}

/// Attaches a writer and readers of every kind to a scribbled segment and runs each a bounded
/// number of times; only values may come out.
fn exercise(name: &str) {
    let options = [
        tethered(StartAt::Oldest),
        lossy(StartAt::Oldest),
        tethered(StartAt::Next),
        ReaderOptions { wait: WaitStrategy::Spin, ..lossy(StartAt::Next) },
    ];
    let read = |rx: &mut BroadcastReader<Msg>| {
        for _ in 0..24 {
            match rx.try_recv() {
                Ok(m) => {
                    let _ = (m.seq, m.position(), m.missed());
                }
                Err(RecvError::Empty | RecvError::Disconnected) => break,
                Err(_) => {}
            }
        }
        let _ = rx.recv_timeout(Duration::from_millis(1)).map(|m| m.position());
        let _ = rx.missed();
    };
    let mut readers: Vec<_> =
        options.iter().filter_map(|o| BroadcastReader::<Msg>::open(name, o).ok()).collect();
    readers.iter_mut().for_each(read);
    if let Ok(mut tx) = BroadcastWriter::<Msg>::open(name, WaitStrategy::Spin) {
        // More than 256 refusals: the writer's reclaiming of dead readers runs too.
        for seq in 0..300 {
            let _ = tx.try_send(&msg(seq));
        }
        let _ = tx.send_timeout(&msg(0), Duration::from_millis(1));
        let _ = tx.subscribe(&tethered(StartAt::Oldest)).map(|mut rx| read(&mut rx));
        readers.iter_mut().for_each(read);
        for seq in 0..20 {
            let _ = tx.try_send(&msg(seq));
        }
        readers.iter_mut().for_each(read);
        let _ = tx.position();
    }
}

#[test]
fn scribbled_segments_give_errors_not_crashes_or_hangs() {
    const ROUNDS: u64 = if cfg!(debug_assertions) { 150 } else { 400 };
    let (done, finished) = mpsc::channel();
    let worker = thread::spawn(move || {
        let mut rng = 0x1234_5678_9abc_def0u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for round in 0..ROUNDS {
            let name = unique("scribble");
            let _cleanup = Cleanup(name.clone());
            let write_pos = {
                let mut tx = BroadcastWriter::<Msg>::create(&name, &ring(8, 4)).unwrap();
                let mut t = tx.subscribe(&tethered(StartAt::Next)).unwrap();
                let mut l = tx.subscribe(&lossy(StartAt::Next)).unwrap();
                // A few laps, then some unread.
                for seq in 0..5 + round % 30 {
                    tx.try_send(&msg(seq)).unwrap();
                    drop(t.try_recv().unwrap());
                    if seq % 3 == 0 {
                        let _ = l.try_recv();
                    }
                }
                for seq in 0..round % 5 {
                    tx.try_send(&msg(seq)).unwrap();
                }
                tx.position()
            };
            let path = Segment::path(&name);
            let mut file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            let len = file.metadata().unwrap().len();
            assert!(len >= TABLE + 4 * 64, "the layout this test scribbles on");
            for _ in 0..1 + round % 6 {
                let (offset, bytes) = scribble(&mut next, len, write_pos);
                let n = bytes.len().min(usize::try_from(len - offset).unwrap());
                file.seek(SeekFrom::Start(offset)).unwrap();
                file.write_all(&bytes[..n]).unwrap();
            }
            drop(file);
            let outcome = catch_unwind(AssertUnwindSafe(|| exercise(&name)));
            assert!(outcome.is_ok(), "round {round} panicked");
        }
        done.send(()).unwrap();
    });
    // A hang is a failure too.
    match finished.recv_timeout(Duration::from_secs(60)) {
        Ok(()) => worker.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(worker.join().unwrap_err())
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("a scribbled segment hung an end"),
    }
}
