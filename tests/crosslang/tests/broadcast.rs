//! Broadcast rings across languages: the typed broadcast ring (kind 3) and the broadcast stream
//! (kind 4) of `runtime/include/flatipc.h` (through `c/peer.c`) against the `flatipc` crate
//! (through `src/bin/rust-peer.rs` and this test process), in real processes: fan-out transfers
//! with a tethered and a lossy reader, parking, reclaiming SIGKILLed tethered readers, a
//! SIGKILLed writer, scribbled and fuzzed segments under ASan/UBSan, and a ThreadSanitizer run.

use std::fs::File;
use std::process::Command;
use std::time::{Duration, Instant};

use flatipc::broadcast::{
    BroadcastOptions, BroadcastReader, BroadcastStreamReader, BroadcastStreamWriter,
    BroadcastWriter, Policy, ReaderOptions, RecvError, SendError, StartAt,
};
use flatipc::wait::WaitStrategy;
use flatipc::zerocopy::IntoBytes;
use flatipc::OpenError;
use flatipc_crosslang_tests::market_data::{Library, Quote};
use flatipc_crosslang_tests::{any, channel_checksum, quote, stream_checksum, Any};

mod common;

use common::*;

/// Messages per fan-out transfer.
const FANOUT: u64 = 1_000_000;
/// Messages per broadcast-stream transfer with a Rust end (the debug-built Rust broadcast stream
/// takes 10 to 16 s per million with three processes on two CPUs; the issue asks for a million).
const FANOUT_STREAM_RUST: u64 = 1_000_000;

/// `readers_parked`: the mask of sleeping broadcast readers (PROTOCOL.md §5).
const OFF_READERS_PARKED: u64 = 2832;

/// Which broadcast ring: the typed ring of quotes or the stream of four interleaved types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Typed,
    Stream,
}

impl Kind {
    /// The prefix of the peers' roles.
    fn roles(self) -> &'static str {
        match self {
            Kind::Typed => "bcast",
            Kind::Stream => "bstream",
        }
    }

    /// Bytes per slot of a ring the peers create: a quote (96 bytes), or a frame of the
    /// largest message (16 + 568 bytes), rounded up to 64.
    fn slot_size(self) -> u64 {
        match self {
            Kind::Typed => 128,
            Kind::Stream => 640,
        }
    }

    fn checksum(self, count: u64) -> u64 {
        match self {
            Kind::Typed => channel_checksum(count),
            Kind::Stream => stream_checksum(count),
        }
    }
}

/// Segment file offset of the reader table of a ring of `capacity` slots of `slot` bytes.
fn reader_table(capacity: u64, slot: u64) -> u64 {
    4096 + (capacity * (slot + 8)).next_multiple_of(4096)
}

/// Segment file offset of the sequence word of `position`'s slot.
fn seq_word(capacity: u64, slot: u64, position: u64) -> u64 {
    4096 + capacity * slot + 8 * (position % capacity)
}

fn ring(capacity: u64, max_readers: u32, wait: WaitStrategy) -> BroadcastOptions {
    BroadcastOptions { capacity, max_readers, wait }
}

fn reader(policy: Policy, start: StartAt, wait: WaitStrategy) -> ReaderOptions {
    ReaderOptions { policy, start, wait }
}

/// A reader of either ring, as the tests here use it: the next message's position, how many
/// were missed just before it, and whether its contents are those of its position.
trait AnyReader {
    fn next(&mut self, timeout: Option<Duration>) -> Result<(u64, u64, bool), RecvError>;
    fn writer_alive(&self) -> bool;
    fn missed(&self) -> u64;
}

impl AnyReader for BroadcastReader<Quote> {
    fn next(&mut self, timeout: Option<Duration>) -> Result<(u64, u64, bool), RecvError> {
        let m = match timeout {
            Some(t) => self.recv_timeout(t)?,
            None => self.try_recv()?,
        };
        let ok = m.as_bytes() == quote(m.position()).as_bytes();
        Ok((m.position(), m.missed(), ok))
    }

    fn writer_alive(&self) -> bool {
        BroadcastReader::writer_alive(self)
    }

    fn missed(&self) -> u64 {
        BroadcastReader::missed(self)
    }
}

impl AnyReader for BroadcastStreamReader<Library> {
    fn next(&mut self, timeout: Option<Duration>) -> Result<(u64, u64, bool), RecvError> {
        let f = match timeout {
            Some(t) => self.recv_timeout(t)?,
            None => self.try_recv()?,
        };
        let want = any(f.position());
        let ok = f.id() == want.id() && f.bytes() == want.bytes();
        Ok((f.position(), f.missed(), ok))
    }

    fn writer_alive(&self) -> bool {
        BroadcastStreamReader::writer_alive(self)
    }

    fn missed(&self) -> u64 {
        BroadcastStreamReader::missed(self)
    }
}

fn try_open_reader(
    kind: Kind,
    name: &str,
    options: &ReaderOptions,
) -> Result<Box<dyn AnyReader>, OpenError> {
    Ok(match kind {
        Kind::Typed => Box::new(BroadcastReader::<Quote>::open(name, options)?),
        Kind::Stream => Box::new(BroadcastStreamReader::<Library>::open(name, options)?),
    })
}

fn open_reader(kind: Kind, name: &str, options: &ReaderOptions) -> Box<dyn AnyReader> {
    try_open_reader(kind, name, options).expect("Rust reader attaches")
}

/// A Rust writer of either ring, in this process.
enum RustWriter {
    Typed(BroadcastWriter<Quote>),
    Stream(BroadcastStreamWriter<Library>),
}

impl RustWriter {
    fn create(kind: Kind, name: &str, options: &BroadcastOptions) -> RustWriter {
        match kind {
            Kind::Typed => RustWriter::Typed(BroadcastWriter::create(name, options).unwrap()),
            Kind::Stream => {
                RustWriter::Stream(BroadcastStreamWriter::create(name, options).unwrap())
            }
        }
    }

    fn try_send(&mut self, seq: u64) -> Result<(), SendError> {
        match self {
            RustWriter::Typed(w) => w.try_send(&quote(seq)),
            RustWriter::Stream(w) => match any(seq) {
                Any::Trade(m) => w.try_send(&m),
                Any::Quote(m) => w.try_send(&m),
                Any::Book(m) => w.try_send(&m),
                Any::Status(m) => w.try_send(&m),
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Fan-out transfers: a writer, a tethered reader and a lossy reader in three processes

/// The tethered and the lossy reader attach (in `readers`' language), then the writer (in
/// `writer`'s) publishes `count` messages and detaches. The tethered reader must receive every
/// message with the checksum computed here; the lossy one must account for every message as
/// received (each checked against its position by the reader) or missed.
fn fanout(kind: Kind, writer: Lang, readers: Lang, count: u64, wait: &str, capacity: u64) {
    let _serial = serial();
    let name = unique(&format!("{}-{writer:?}-{readers:?}", kind.roles()));
    let _cleanup = Cleanup(name.clone());
    let (count_s, capacity_s) = (count.to_string(), capacity.to_string());
    let role = |r: &str| format!("{}-{r}", kind.roles());
    let start = Instant::now();
    let (read_role, lossy_role, write_role) = (role("read"), role("lossy"), role("write"));
    let mut t = Peer::spawn(readers, &[&read_role, &name, &count_s, wait, &capacity_s]);
    t.expect_line("READY", Duration::from_secs(10));
    let mut l = Peer::spawn(readers, &[&lossy_role, &name, wait, &capacity_s]);
    l.expect_line("READY", Duration::from_secs(10));
    let w = Peer::spawn(writer, &[&write_role, &name, &count_s, wait, &capacity_s]);
    let (w_status, w_lines) = w.finish(Duration::from_secs(120));
    let (t_status, t_lines) = t.finish(Duration::from_secs(30));
    let (l_status, l_lines) = l.finish(Duration::from_secs(30));
    let elapsed = start.elapsed();
    assert!(w_status.success(), "writer {writer:?} failed: {w_status}, {w_lines:?}");
    assert!(t_status.success(), "tethered {readers:?} failed: {t_status}, {t_lines:?}");
    assert!(l_status.success(), "lossy {readers:?} failed: {l_status}, {l_lines:?}");
    let sent = w_lines.iter().find(|l| l.starts_with("SENT ")).expect("writer result");
    let received = t_lines.iter().find(|l| l.starts_with("RECV ")).expect("tethered result");
    let (w_count, w_sum, _) = parse_result(sent);
    let (t_count, t_sum, end) = parse_result(received);
    let expected = kind.checksum(count);
    assert_eq!((w_count, t_count), (count, count));
    assert_eq!(w_sum, expected, "writer {writer:?} checksum");
    assert_eq!(t_sum, expected, "tethered reader {readers:?} checksum");
    assert_eq!(end, "DISCONNECTED", "the tethered reader must see the writer's clean detach");
    let lossy = l_lines.iter().find(|l| l.starts_with("LOSSY ")).expect("lossy result");
    let words: Vec<&str> = lossy.split_whitespace().collect();
    let number = |i: usize| words[i].parse::<u64>().expect("number");
    let (got, missed, total) = (number(1), number(2), number(3));
    assert_eq!(got + missed, count, "lossy reader: received + missed = published ({lossy})");
    assert_eq!(missed, total, "the lossy reader's total is the sum of its per-message counts");
    assert!(got > 0, "the lossy reader received nothing");
    assert_eq!(words[4], "DISCONNECTED", "{lossy}");
    eprintln!(
        "{kind:?} {writer:?} -> {readers:?}: {count} messages in {elapsed:?}; lossy reader got \
         {got}, missed {missed}"
    );
}

#[test]
fn broadcast_rust_to_c() {
    fanout(Kind::Typed, Lang::Rust, Lang::C, FANOUT, "park", 256);
}

#[test]
fn broadcast_c_to_rust() {
    fanout(Kind::Typed, Lang::C, Lang::Rust, FANOUT, "park", 256);
}

#[test]
fn broadcast_c_to_c() {
    fanout(Kind::Typed, Lang::C, Lang::C, FANOUT, "yield", 256);
}

#[test]
fn broadcast_rust_to_rust() {
    fanout(Kind::Typed, Lang::Rust, Lang::Rust, FANOUT, "yield", 256);
}

/// All three C ends under AddressSanitizer and UndefinedBehaviorSanitizer, small ring.
#[test]
fn broadcast_c_to_c_sanitized() {
    fanout(Kind::Typed, Lang::CAsan, Lang::CAsan, FANOUT / 10, "yield", 16);
}

#[test]
fn broadcast_stream_rust_to_c() {
    fanout(Kind::Stream, Lang::Rust, Lang::C, FANOUT_STREAM_RUST, "park", 64);
}

#[test]
fn broadcast_stream_c_to_rust() {
    fanout(Kind::Stream, Lang::C, Lang::Rust, FANOUT_STREAM_RUST, "park", 64);
}

#[test]
fn broadcast_stream_c_to_c() {
    fanout(Kind::Stream, Lang::C, Lang::C, FANOUT, "yield", 64);
}

#[test]
fn broadcast_stream_rust_to_rust() {
    fanout(Kind::Stream, Lang::Rust, Lang::Rust, FANOUT_STREAM_RUST, "yield", 64);
}

#[test]
fn broadcast_stream_c_to_c_sanitized() {
    fanout(Kind::Stream, Lang::CAsan, Lang::CAsan, FANOUT / 10, "yield", 16);
}

// ---------------------------------------------------------------------------------------------
// Parking: one futex and one mask for all readers

/// A tethered reader that parks at once; round by round, once its bit is up in
/// `readers_parked`, the writer publishes one message and the reader must print it well within
/// its 100 ms sleep slice (so it was woken, not timed out), and the futex word must move.
fn parked_broadcast_reader_is_woken(reader: Lang, writer: Lang) {
    const ROUNDS: u64 = 5;
    let _serial = serial();
    let name = unique(&format!("bpark-{reader:?}-{writer:?}"));
    let _cleanup = Cleanup(name.clone());
    let rounds = ROUNDS.to_string();
    let mut r = Peer::spawn(reader, &["bcast-park-read", &name, &rounds]);
    r.expect_line("READY", Duration::from_secs(10));
    let mut c_writer = (writer != Lang::Rust).then(|| {
        let mut w = Peer::spawn(writer, &["bcast-park-write", &name, &rounds]);
        w.expect_line("READY", Duration::from_secs(10));
        w
    });
    let mut rust_writer = (writer == Lang::Rust).then(|| {
        BroadcastWriter::<Quote>::open(&name, WaitStrategy::Spin).expect("Rust writer attaches")
    });
    let file = File::open(segment_path(&name)).expect("segment file");
    assert_eq!(read_u32(&file, READER_MAY_PARK), 1, "one attached reader may park");
    let mut futex_wakes = 0;
    for round in 0..ROUNDS {
        let deadline = Instant::now() + Duration::from_secs(10);
        while read_u64(&file, OFF_READERS_PARKED) == 0 {
            assert!(Instant::now() < deadline, "round {round}: the reader never parked");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(read_u64(&file, OFF_READERS_PARKED), 1, "reader entry 0's bit");
        let futex_before = read_u32(&file, OFF_READER_FUTEX);
        let start = Instant::now();
        match (&mut c_writer, &mut rust_writer) {
            (Some(peer), _) => peer.send_line("go"),
            (None, Some(w)) => w.try_send(&quote(round)).expect("send"),
            _ => unreachable!(),
        }
        let got = r.expect_line("GOT ", Duration::from_secs(10));
        let latency = start.elapsed();
        assert_eq!(got, format!("GOT {round}"));
        if read_u32(&file, OFF_READER_FUTEX) != futex_before {
            futex_wakes += 1;
        }
        eprintln!("broadcast park {reader:?} <- {writer:?}: round {round} woken after {latency:?}");
        assert!(
            latency < Duration::from_millis(50),
            "round {round}: the parked {reader:?} reader took {latency:?} to see a message from \
             the {writer:?} writer (not woken: it slept out its slice)"
        );
    }
    assert!(futex_wakes >= 3, "only {futex_wakes} of {ROUNDS} rounds were futex wakes");
    drop(rust_writer);
    if let Some(peer) = c_writer {
        let (status, lines) = peer.finish(Duration::from_secs(10));
        assert!(status.success(), "writer failed: {lines:?}");
    }
    let (status, lines) = r.finish(Duration::from_secs(10));
    assert!(status.success(), "reader failed: {lines:?}");
    assert_eq!(read_u32(&file, READER_MAY_PARK), 0, "the reader took its may_park count back");
}

#[test]
fn parked_c_broadcast_reader_is_woken_by_a_rust_writer() {
    parked_broadcast_reader_is_woken(Lang::C, Lang::Rust);
}

#[test]
fn parked_rust_broadcast_reader_is_woken_by_a_c_writer() {
    parked_broadcast_reader_is_woken(Lang::Rust, Lang::C);
}

// ---------------------------------------------------------------------------------------------
// Death of a peer

/// `state` of reader entry `index` of a typed ring of 16 quote slots.
fn entry_state(file: &File, index: u64) -> u32 {
    read_u32(file, reader_table(16, Kind::Typed.slot_size()) + 64 * index + 24)
}

/// A C tethered reader that never reads holds the Rust writer back; SIGKILLed, it is reclaimed
/// by the writer: once while `send_timeout` waits, once by `try_send` (every 256th `Full`).
/// The dead readers parked: each one's `may_park` count stays until the next reader claims its
/// entry and takes it back (`parks`, PROTOCOL.md §5), the last time a Rust reader.
#[test]
fn rust_writer_reclaims_sigkilled_c_tethered_readers() {
    let _serial = serial();
    let name = unique("reclaim-c");
    let _cleanup = Cleanup(name.clone());
    let options = ring(16, 4, WaitStrategy::SpinThenPark { spins: 100 });
    let mut w = BroadcastWriter::<Quote>::create(&name, &options).expect("writer");
    let file = File::open(segment_path(&name)).expect("segment file");
    let mut seq = 0;
    for by_wait in [true, false] {
        let mut holder = Peer::spawn(Lang::C, &["bcast-hold", &name]);
        assert_eq!(holder.expect_line("READY", Duration::from_secs(10)), "READY 0");
        assert_eq!(entry_state(&file, 0) & 0xFF, 2, "the C reader's entry is active");
        assert_eq!(read_u32(&file, READER_MAY_PARK), 1, "a dead reader's count was taken back");
        let mut sent = 0;
        while w.try_send(&quote(seq)).is_ok() {
            seq += 1;
            sent += 1;
        }
        assert_eq!(sent, 16, "the tethered C reader holds the writer back after one lap");
        holder.kill();
        let killed = Instant::now();
        if by_wait {
            w.send_timeout(&quote(seq), Duration::from_secs(10)).expect("reclaimed while waiting");
        } else {
            let mut fulls = 0;
            loop {
                match w.try_send(&quote(seq)) {
                    Ok(()) => break,
                    Err(SendError::Full) => fulls += 1,
                    Err(e) => panic!("try_send: {e}"),
                }
                assert!(fulls < 256, "not reclaimed within 256 Full results");
            }
        }
        seq += 1;
        assert_eq!(entry_state(&file, 0) & 0xFF, 0, "the dead reader's entry is free again");
        assert_eq!(read_u32(&file, READER_MAY_PARK), 1, "the dead reader is still counted");
        eprintln!("reclaimed (by wait: {by_wait}) {:?} after the kill", killed.elapsed());
    }
    let spin = reader(Policy::Tethered, StartAt::Next, WaitStrategy::Spin);
    let successor = BroadcastReader::<Quote>::open(&name, &spin).expect("Rust reader");
    assert_eq!(entry_state(&file, 0) & 0xFF, 2, "the Rust reader took entry 0");
    assert_eq!(read_u32(&file, READER_MAY_PARK), 0, "it took the dead C reader's count back");
    drop(successor);
}

/// The reverse: the C writer (`bcast-reclaim`) reclaims SIGKILLed Rust tethered readers, once
/// while its send waits and once by try_send; then a non-parking C reader takes the last dead
/// Rust reader's `may_park` count back.
#[test]
fn c_writer_reclaims_sigkilled_rust_tethered_readers() {
    let _serial = serial();
    let name = unique("reclaim-rust");
    let _cleanup = Cleanup(name.clone());
    let mut w = Peer::spawn(Lang::CAsan, &["bcast-reclaim", &name, "16"]);
    w.expect_line("READY", Duration::from_secs(10));
    let file = File::open(segment_path(&name)).expect("segment file");
    for phase in 0..2 {
        let mut holder = Peer::spawn(Lang::Rust, &["bcast-hold", &name]);
        holder.expect_line("READY", Duration::from_secs(10));
        assert_eq!(entry_state(&file, 0) & 0xFF, 2, "the Rust reader's entry is active");
        assert_eq!(read_u32(&file, READER_MAY_PARK), 1, "a dead reader's count was taken back");
        w.send_line("go");
        // FLATIPC_E_FULL is -2.
        assert_eq!(w.expect_line("FULL ", Duration::from_secs(10)), "FULL 16 -2");
        holder.kill();
        w.send_line("killed");
        if phase == 0 {
            assert_eq!(w.expect_line("BY-WAIT ", Duration::from_secs(15)), "BY-WAIT 0");
        } else {
            let line = w.expect_line("BY-TRY ", Duration::from_secs(15));
            let words: Vec<u64> =
                line.split_whitespace().skip(1).map(|w| w.parse().unwrap()).collect();
            assert_eq!(words[0], 0, "{line}");
            assert!(words[1] < 256, "not reclaimed within 256 FLATIPC_E_FULL: {line}");
        }
        assert_eq!(entry_state(&file, 0) & 0xFF, 0, "the dead reader's entry is free again");
        assert_eq!(read_u32(&file, READER_MAY_PARK), 1, "the dead reader is still counted");
    }
    let (status, lines) = w.finish(Duration::from_secs(10));
    assert!(status.success(), "C writer failed: {lines:?}");
    let mut successor = Peer::spawn(Lang::CAsan, &["bcast-hold", &name, "spin"]);
    assert_eq!(successor.expect_line("READY", Duration::from_secs(10)), "READY 0");
    assert_eq!(read_u32(&file, READER_MAY_PARK), 0, "it took the dead Rust reader's count back");
    successor.kill();
}

/// A C writer killed with SIGKILL: a tethered and a lossy Rust reader drain what it published
/// (the tethered one every message, the lossy one accounting for each), then report
/// Disconnected, and keep reporting it.
fn sigkilled_c_writer_is_disconnected_for_rust_readers(kind: Kind) {
    let _serial = serial();
    let name = unique("kill-c-bwriter");
    let _cleanup = Cleanup(name.clone());
    let mut writer = Peer::spawn(Lang::C, &[&format!("{}-endless", kind.roles()), &name]);
    writer.expect_line("READY", Duration::from_secs(10));
    let park = WaitStrategy::SpinThenPark { spins: 2000 };
    let mut tethered = open_reader(kind, &name, &reader(Policy::Tethered, StartAt::Next, park));
    let mut lossy = open_reader(kind, &name, &reader(Policy::Lossy, StartAt::Next, park));
    let timeout = Some(Duration::from_secs(10));
    let (mut next, mut first) = (None::<u64>, None::<u64>);
    // Where the lossy reader joined (its first message's position minus what it missed before
    // it), the next position it expects, and the positions it accounted for.
    let (mut lossy_join, mut lossy_next, mut lossy_accounted) = (None::<u64>, None::<u64>, 0);
    let mut lossy_poll = |lossy: &mut Box<dyn AnyReader>, wait: Option<Duration>| loop {
        match lossy.next(wait) {
            Ok((position, missed, ok)) => {
                assert!(ok, "lossy copy at {position} differs from the message");
                if let Some(n) = lossy_next {
                    assert_eq!(position, n + missed, "lossy positions advance by 1 + missed");
                }
                lossy_join.get_or_insert(position - missed);
                lossy_accounted += 1 + missed;
                lossy_next = Some(position + 1);
            }
            Err(RecvError::Empty) => return false,
            Err(RecvError::Disconnected) => return true,
            Err(e) => panic!("lossy reader: {e}"),
        }
    };
    for i in 0..2000 {
        let (position, missed, ok) = tethered.next(timeout).expect("message from C");
        assert!(ok && missed == 0, "tethered message at {position}");
        assert!(next.is_none_or(|n| n == position), "tethered reader skipped to {position}");
        first.get_or_insert(position);
        next = Some(position + 1);
        if i % 100 == 0 {
            lossy_poll(&mut lossy, None);
        }
    }
    assert!(tethered.writer_alive());
    writer.kill();
    let killed = Instant::now();
    loop {
        match tethered.next(timeout) {
            Ok((position, missed, ok)) => {
                assert!(ok && missed == 0 && Some(position) == next, "after the kill: {position}");
                next = Some(position + 1);
            }
            Err(RecvError::Disconnected) => break,
            Err(e) => panic!("tethered reader after the kill: {e}"),
        }
    }
    assert!(lossy_poll(&mut lossy, timeout), "the lossy reader sees the disconnect");
    let file = File::open(segment_path(&name)).expect("segment file");
    let write_pos = read_u64(&file, OFF_WRITE_POS);
    assert_eq!(next, Some(write_pos), "the tethered reader received every published message");
    assert_eq!(lossy_next, Some(write_pos), "the lossy reader reached the end");
    let lossy_join = lossy_join.expect("the lossy reader received messages");
    assert_eq!(write_pos - lossy_accounted, lossy_join, "lossy: received + missed = published");
    assert!(lossy_join >= first.expect("first"), "the lossy reader joined after the tethered one");
    assert!(killed.elapsed() < Duration::from_secs(5), "disconnect took {:?}", killed.elapsed());
    assert!(!tethered.writer_alive() && !lossy.writer_alive());
    for poll in 0..5000 {
        assert!(matches!(tethered.next(None), Err(RecvError::Disconnected)), "poll {poll}");
        assert!(matches!(lossy.next(None), Err(RecvError::Disconnected)), "poll {poll}");
    }
    eprintln!("{kind:?}: drained to {write_pos} after the kill in {:?}", killed.elapsed());
}

#[test]
fn sigkilled_c_broadcast_writer_is_disconnected_for_rust_readers() {
    sigkilled_c_writer_is_disconnected_for_rust_readers(Kind::Typed);
}

#[test]
fn sigkilled_c_broadcast_stream_writer_is_disconnected_for_rust_readers() {
    sigkilled_c_writer_is_disconnected_for_rust_readers(Kind::Stream);
}

/// The reverse: a Rust writer killed with SIGKILL; the C tethered reader receives every message
/// it published, the lossy one accounts for every position up to the end, and both then keep
/// reporting FLATIPC_E_DISCONNECTED.
fn sigkilled_rust_writer_is_disconnected_for_c_readers(kind: Kind) {
    let _serial = serial();
    let name = unique("kill-rust-bwriter");
    let _cleanup = Cleanup(name.clone());
    let mut writer = Peer::spawn(Lang::Rust, &[&format!("{}-endless", kind.roles()), &name]);
    writer.expect_line("READY", Duration::from_secs(10));
    let mut readers = Peer::spawn(Lang::CAsan, &[&format!("{}-drain", kind.roles()), &name]);
    readers.expect_line("READY", Duration::from_secs(10));
    readers.expect_line("FIRST ", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(100));
    writer.kill();
    let killed = Instant::now();
    let drained = readers.expect_line("DRAINED ", Duration::from_secs(10));
    let elapsed = killed.elapsed();
    let (status, lines) = readers.finish(Duration::from_secs(10));
    assert!(status.success(), "C readers failed: {lines:?}");
    let w: Vec<u64> = drained.split_whitespace().skip(1).map(|w| w.parse().unwrap()).collect();
    let write_pos = read_u64(&File::open(segment_path(&name)).expect("segment"), OFF_WRITE_POS);
    assert_eq!(w[0], write_pos, "the tethered C reader received every message: {drained}");
    assert_eq!(w[1], write_pos, "the lossy C reader reached the end: {drained}");
    assert!(w[2] > 0 && w[2] <= write_pos, "{drained}");
    assert_eq!((w[3], w[4]), (5000, 5000), "every try_recv after the disconnect reports it");
    assert!(elapsed < Duration::from_secs(5), "disconnect took {elapsed:?}");
    eprintln!(
        "{kind:?}: C readers drained to {write_pos}, disconnected {elapsed:?} after the kill"
    );
}

#[test]
fn sigkilled_rust_broadcast_writer_is_disconnected_for_c_readers() {
    sigkilled_rust_writer_is_disconnected_for_c_readers(Kind::Typed);
}

#[test]
fn sigkilled_rust_broadcast_stream_writer_is_disconnected_for_c_readers() {
    sigkilled_rust_writer_is_disconnected_for_c_readers(Kind::Stream);
}

// ---------------------------------------------------------------------------------------------
// Scribbled segments: the sanitized C peer returns codes and never crashes; Rust agrees

/// How draining one reader ended: the last code (flatipc.h's numbering), messages received,
/// corrupt frames skipped, the reader's missed total.
type Drained = (i32, u64, u64, u64);

/// Drains a Rust reader as the C peer's `drain_report` does.
fn rust_drain(r: &mut dyn AnyReader) -> Drained {
    let (mut ok, mut bad) = (0, 0);
    for _ in 0..1000 {
        match r.next(None) {
            Ok(_) => ok += 1,
            Err(RecvError::CorruptFrame { .. }) => bad += 1,
            Err(e) => {
                let code = match e {
                    RecvError::Empty => -1,
                    RecvError::Disconnected => code::DISCONNECTED,
                    RecvError::Corrupt { .. } => code::CORRUPT,
                    other => panic!("unexpected {other}"),
                };
                return (code, ok, bad, r.missed());
            }
        }
    }
    (0, ok, bad, r.missed())
}

/// Parses "<tag> <code> <ok> <bad> <missed>".
fn c_drained(lines: &[String], tag: &str) -> Drained {
    let line = lines.iter().find(|l| l.starts_with(&format!("{tag} "))).expect("drain line");
    let w: Vec<&str> = line.split_whitespace().collect();
    let n = |i: usize| w[i].parse::<u64>().expect("number");
    (w[1].parse().expect("code"), n(2), n(3), n(4))
}

/// A scribble: what it breaks, and the bytes written at a segment offset (computed from the
/// ring's capacity and slot size).
struct Scribble {
    what: &'static str,
    kind: Kind,
    at: fn(u64, u64) -> u64,
    bytes: Vec<u8>,
    /// What the C peer's tethered, lossy, and tethered-from-the-oldest readers end with.
    expect: [Drained; 3],
    /// Whether the Rust lossy readers end the same way (false: the implementations differ
    /// where PROTOCOL.md leaves room; only the tethered readers are compared).
    rust_agrees: bool,
}

/// Ring capacity and messages published in the scribble tests.
const SCRIBBLE_CAP: u64 = 16;
const SCRIBBLE_SENT: u64 = 10;

/// A C peer (sanitized) attaches a tethered and a lossy reader, and so does this process; a
/// Rust writer publishes 10 messages into a 16-slot ring and leaves; the scribble lands; both
/// sides drain (the C peer also attaches a tethered reader starting at the oldest message, and
/// so does this process). Each reader must end with a code, never a crash, and both languages
/// must agree.
fn scribbled_ring(case: &Scribble) {
    let name = unique(&format!("bscribble-{}", case.kind.roles()));
    let _cleanup = Cleanup(name.clone());
    let options = ring(SCRIBBLE_CAP, 8, WaitStrategy::Spin);
    let mut w = RustWriter::create(case.kind, &name, &options);
    let role = format!("{}-corrupt", case.kind.roles());
    let mut c = Peer::spawn(Lang::CAsan, &[&role, &name]);
    c.expect_line("READY", Duration::from_secs(10));
    let spin = WaitStrategy::Spin;
    let mut t = open_reader(case.kind, &name, &reader(Policy::Tethered, StartAt::Next, spin));
    let mut l = open_reader(case.kind, &name, &reader(Policy::Lossy, StartAt::Next, spin));
    for seq in 0..SCRIBBLE_SENT {
        w.try_send(seq).expect("send");
    }
    drop(w);
    scribble(&name, (case.at)(SCRIBBLE_CAP, case.kind.slot_size()), &case.bytes);
    c.send_line("go");
    let (status, lines) = c.finish(Duration::from_secs(30));
    assert!(status.success(), "{}: the C peer failed: {status} {lines:?}", case.what);
    let c_results = [c_drained(&lines, "T"), c_drained(&lines, "L"), c_drained(&lines, "O")];
    let oldest = reader(Policy::Tethered, StartAt::Oldest, spin);
    let rust_results = [
        rust_drain(t.as_mut()),
        rust_drain(l.as_mut()),
        match try_open_reader(case.kind, &name, &oldest) {
            Ok(mut o) => rust_drain(o.as_mut()),
            Err(_) => (code::CORRUPT, 0, 0, 0),
        },
    ];
    eprintln!("{}: C {c_results:?}, Rust {rust_results:?}", case.what);
    assert_eq!(c_results, case.expect, "{}: the C readers", case.what);
    if case.rust_agrees {
        assert_eq!(rust_results, c_results, "{}: Rust and C disagree", case.what);
    } else {
        assert_eq!(rust_results[0], c_results[0], "{}: the tethered readers", case.what);
    }
}

fn u32le(v: u32) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

fn u64le(v: u64) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

#[test]
fn scribbled_broadcast_rings_are_errors_in_c_and_rust() {
    let _serial = serial();
    const D: i32 = code::DISCONNECTED;
    const C: i32 = code::CORRUPT;
    let all = |d: Drained| [d, d, d];
    let seq3: fn(u64, u64) -> u64 = |cap, slot| seq_word(cap, slot, 3);
    let slot2: fn(u64, u64) -> u64 = |_, slot| 4096 + 2 * slot;
    let write_pos: fn(u64, u64) -> u64 = |_, _| OFF_WRITE_POS;
    let mut cases = Vec::new();
    for kind in [Kind::Typed, Kind::Stream] {
        cases.extend([
            Scribble {
                what: "intact",
                kind,
                at: write_pos,
                bytes: u64le(SCRIBBLE_SENT),
                expect: all((D, 10, 0, 0)),
                rust_agrees: true,
            },
            // A sequence word below its position's: the lossy reads report it, count it
            // missed and move on; the in-place read does not look at it.
            Scribble {
                what: "seq word below",
                kind,
                at: seq3,
                bytes: u64le(1),
                expect: [(D, 10, 0, 0), (D, 9, 1, 1), (D, 9, 1, 1)],
                rust_agrees: true,
            },
            // Above: as if the writer had lapped the reader there (missed, not an error).
            Scribble {
                what: "seq word above",
                kind,
                at: seq3,
                bytes: u64le(2 * 19 + 2),
                expect: [(D, 10, 0, 0), (D, 9, 0, 1), (D, 9, 0, 1)],
                rust_agrees: true,
            },
            // Beyond a lap: the tethered reader refuses the positions; the lossy ones skip to
            // the last lap, whose sequence words are all stale.
            Scribble {
                what: "write_pos past a lap",
                kind,
                at: write_pos,
                bytes: u64le(SCRIBBLE_SENT + SCRIBBLE_CAP + 1),
                expect: [(C, 0, 0, 0), (D, 0, 15, 0), (D, 0, 15, 15)],
                rust_agrees: true,
            },
            // At 2^64 - 1: refused as corrupt by every reader, tethered or lossy, in both
            // languages (PROTOCOL.md §5 "Positions").
            Scribble {
                what: "write_pos huge",
                kind,
                at: write_pos,
                bytes: u64le(u64::MAX),
                expect: all((C, 0, 0, 0)),
                rust_agrees: true,
            },
        ]);
    }
    let room = u32::try_from(Kind::Stream.slot_size() - 16).unwrap();
    for (what, size, expect) in [
        // 16 + size > slot_size: reported and skipped by every reader.
        ("frame size beyond the slot", room + 1, [(D, 9, 1, 0); 3]),
        ("frame size u32::MAX", u32::MAX, [(D, 9, 1, 0); 3]),
        // Within the slot: delivered (with a size that matches no message; the C lossy reader's
        // buffer holds only the largest message, so it hands out the prefix it copied, as it
        // would for a newer, larger version of the frame's message).
        ("frame size beyond the largest message", room, [(D, 10, 0, 0); 3]),
        ("frame size small", 8, [(D, 10, 0, 0); 3]),
    ] {
        cases.push(Scribble {
            what,
            kind: Kind::Stream,
            at: slot2,
            bytes: u32le(size),
            expect,
            rust_agrees: true,
        });
    }
    cases.push(Scribble {
        what: "frame id unknown",
        kind: Kind::Stream,
        at: |_, slot| 4096 + 2 * slot + 4,
        bytes: u32le(0x4242),
        expect: [(D, 10, 0, 0); 3],
        rust_agrees: true,
    });
    for case in &cases {
        scribbled_ring(case);
    }
}

/// Header fields a broadcast ring adds or constrains differently: refused at attach by the
/// sanitized C reader with the code of flatipc.h, and by the Rust reader.
#[test]
fn corrupt_broadcast_headers_are_refused_by_c_and_rust() {
    let _serial = serial();
    // (kind, what, offset, bytes, the C code)
    let cases: Vec<(Kind, &str, u64, Vec<u8>, i32)> = vec![
        (Kind::Typed, "max_readers 0", 68, u32le(0), code::BAD_HEADER),
        (Kind::Typed, "max_readers 65", 68, u32le(65), code::BAD_HEADER),
        (Kind::Typed, "kind channel", 21, vec![1], code::WRONG_KIND),
        (Kind::Typed, "kind broadcast stream", 21, vec![4], code::WRONG_KIND),
        (Kind::Stream, "kind typed broadcast", 21, vec![3], code::WRONG_KIND),
        (Kind::Typed, "slot_size below the message", 40, u32le(64), code::BAD_HEADER),
        (Kind::Stream, "slot_size below the frame", 40, u32le(576), code::BAD_HEADER),
        (Kind::Typed, "capacity beyond the file", 32, u64le(1 << 12), code::BAD_HEADER),
        (Kind::Typed, "message_count 2", 44, u32le(2), code::BAD_HEADER),
        (Kind::Stream, "message_count 33", 44, u32le(33), code::BAD_HEADER),
        (Kind::Typed, "message align 128", 144, u32le(128), code::BAD_HEADER),
        (Kind::Stream, "message align 32", 144, u32le(32), code::BAD_HEADER),
        (Kind::Typed, "message fingerprint", 128, u64le(0x0123_4567), code::TYPE_MISMATCH),
        (Kind::Typed, "write_pos at 2^62", OFF_WRITE_POS, u64le(1 << 62), code::CORRUPT),
        (Kind::Stream, "write_pos at 2^62", OFF_WRITE_POS, u64le(1 << 62), code::CORRUPT),
    ];
    for (kind, what, offset, bytes, expected) in cases {
        let name = unique("bcorrupt-header");
        let _cleanup = Cleanup(name.clone());
        let options = ring(SCRIBBLE_CAP, 8, WaitStrategy::Spin);
        let mut w = RustWriter::create(kind, &name, &options);
        w.try_send(0).expect("send");
        drop(w);
        scribble(&name, offset, &bytes);
        let peer = Peer::spawn(Lang::CAsan, &[&format!("{}-corrupt", kind.roles()), &name]);
        let (status, lines) = peer.finish(Duration::from_secs(30));
        assert!(status.success(), "{what}: the C peer failed: {status} {lines:?}");
        let result = lines.iter().find(|l| l.starts_with("RESULT ")).expect("RESULT line");
        let got: i32 = result.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap();
        assert_eq!(got, expected, "{what}: C returned {result}");
        let rust =
            try_open_reader(kind, &name, &reader(Policy::Lossy, StartAt::Next, WaitStrategy::Spin));
        assert!(rust.is_err(), "{what}: the Rust reader accepted what C refused");
    }
}

/// A reader table scribbled with a dead tethered reader (active, no lock, cursor at 0),
/// garbage states and policies, and an impossible cursor: neither the C writer nor the Rust
/// writer crashes or stops; each is held back by the dead entry for one lap at most, reclaims
/// it (every 256th Full), and frees the garbage entry, keeping its generation.
#[test]
fn scribbled_reader_tables_do_not_stop_c_or_rust_writers() {
    let _serial = serial();
    for kind in [Kind::Typed, Kind::Stream] {
        let table = reader_table(SCRIBBLE_CAP, kind.slot_size());
        let entries: [(u64, u32, u32); 4] = [
            (0, 0x0000_0102, 1),                  // a dead tethered reader at position 0
            (u64::MAX, 0xFFFF_FFFF, 0xFFFF_FFFF), // garbage
            (u64::MAX, 0x0000_0302, 1),           // a tethered cursor beyond the writer: clamped
            (3, 0x0000_0402, 7),                  // an unknown policy: ignored
        ];
        for lang in [Lang::CAsan, Lang::Rust] {
            let name = unique("bscribbled-table");
            let _cleanup = Cleanup(name.clone());
            drop(RustWriter::create(kind, &name, &ring(SCRIBBLE_CAP, 4, WaitStrategy::Spin)));
            for (i, (read_pos, state, policy)) in entries.into_iter().enumerate() {
                let entry = table + 64 * i as u64;
                scribble(&name, entry, &u64le(read_pos));
                scribble(&name, entry + 24, &u32le(state));
                scribble(&name, entry + 28, &u32le(policy));
            }
            let (sent, fulls) = if lang == Lang::Rust {
                let mut w = match kind {
                    Kind::Typed => RustWriter::Typed(
                        BroadcastWriter::open(&name, WaitStrategy::Spin).expect("writer"),
                    ),
                    Kind::Stream => RustWriter::Stream(
                        BroadcastStreamWriter::open(&name, WaitStrategy::Spin).expect("writer"),
                    ),
                };
                let (mut sent, mut fulls) = (0u64, 0u64);
                while sent < 100 && fulls < 100_000 {
                    match w.try_send(sent) {
                        Ok(()) => sent += 1,
                        Err(SendError::Full) => fulls += 1,
                        Err(e) => panic!("{kind:?}: Rust writer: {e}"),
                    }
                }
                (sent, fulls)
            } else {
                let role = format!("{}-write-scribbled", kind.roles());
                let (status, lines) =
                    Peer::spawn(lang, &[&role, &name, "100"]).finish(Duration::from_secs(30));
                assert!(status.success(), "{kind:?}: C writer failed: {lines:?}");
                let result = lines.iter().find(|l| l.starts_with("RESULT ")).expect("RESULT");
                let w: Vec<i64> =
                    result.split_whitespace().skip(1).map(|w| w.parse().unwrap()).collect();
                assert_eq!(w[0], 0, "{kind:?}: C writer ended with {result}");
                (w[1] as u64, w[2] as u64)
            };
            assert_eq!(sent, 100, "{kind:?} {lang:?}");
            assert!((1..=256).contains(&fulls), "{kind:?} {lang:?}: {fulls} Full results");
            let file = File::open(segment_path(&name)).expect("segment");
            let state = |i: u64| read_u32(&file, table + 64 * i + 24);
            assert_eq!(state(0), 0x0000_0100, "{kind:?} {lang:?}: the dead reader is reclaimed");
            assert_eq!(state(1), 0xFFFF_FF00, "{kind:?} {lang:?}: the garbage entry is freed");
            eprintln!("{kind:?} {lang:?}: 100 sent past a scribbled table, {fulls} Full results");
        }
    }
}

/// Random scribbles over live rings (positions, sequence words, frame headers and message
/// bytes, reader table, wake line, header bytes with re-attaches) under a C writer, tethered
/// reader and lossy reader in one sanitized process: every result is a valid code and every
/// message lies in the ring or the copy buffer.
#[test]
fn fuzzed_broadcast_rings_never_crash_the_sanitized_c_peer() {
    let _serial = serial();
    for kind in [Kind::Typed, Kind::Stream] {
        for seed in 1..=4u64 {
            let name = unique("bfuzz");
            let _cleanup = Cleanup(name.clone());
            let mut w = RustWriter::create(kind, &name, &ring(SCRIBBLE_CAP, 4, WaitStrategy::Spin));
            for seq in 0..SCRIBBLE_SENT {
                w.try_send(seq).expect("send");
            }
            drop(w);
            let role = format!("{}-fuzz", kind.roles());
            let seed_s = seed.to_string();
            let peer = Peer::spawn(Lang::CAsan, &[&role, &name, &seed_s, "2000"]);
            let (status, lines) = peer.finish(Duration::from_secs(60));
            assert!(status.success(), "{kind:?} seed {seed}: {status} {lines:?}");
            let fuzzed = lines.iter().find(|l| l.starts_with("FUZZED ")).expect("FUZZED line");
            eprintln!("{kind:?} seed {seed}: {fuzzed}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ThreadSanitizer: writer, tethered reader and lossy reader as threads of one C process

#[test]
fn broadcast_threads_are_race_free_under_thread_sanitizer() {
    let exe = env!("FLATIPC_XL_TSAN");
    if exe.is_empty() {
        eprintln!("SKIPPED: the C compiler could not build c/tsan.c with -fsanitize=thread");
        return;
    }
    let _serial = serial();
    let name = unique("tsan");
    let _cleanup = (Cleanup(format!("{name}-typed")), Cleanup(format!("{name}-stream")));
    let output = Command::new(exe)
        .args([&name, "100000"])
        .env("TSAN_OPTIONS", "halt_on_error=1:exitcode=66")
        .output()
        .expect("run the ThreadSanitizer build");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{}\n{stdout}\n{stderr}", output.status);
    assert!(!stderr.contains("ThreadSanitizer"), "{stderr}");
    for kind in ["typed", "stream"] {
        let line =
            stdout.lines().find(|l| l.starts_with(&format!("TSAN {kind} "))).expect("result");
        eprintln!("{line}");
    }
}
