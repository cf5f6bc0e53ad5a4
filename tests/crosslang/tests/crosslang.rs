//! Rust and C processes on the same rings: `runtime/include/flatipc.h` (through `c/peer.c`,
//! built by build.rs, once optimised and once with ASan + UBSan) against the `flatipc` crate
//! (through `src/bin/rust-peer.rs`, and this test process itself).
//!
//! Every transfer runs in real processes and compares three checksums: the writer's, the
//! reader's, and one computed here from the message definitions. Tests that start processes
//! run one at a time (`serial`): the host may have two CPUs, and the park test measures
//! wake-up latency.

use std::fs::File;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use flatipc::channel::{ChannelOptions, Reader, RecvError, Writer};
use flatipc::stream::{StreamOptions, StreamReader, StreamWriter};
use flatipc::wait::WaitStrategy;
use flatipc::zerocopy::IntoBytes;
use flatipc_crosslang_tests::market_data::{Library, Quote, Trade};
use flatipc_crosslang_tests::{any, channel_checksum, quote, stream_checksum, Any};

mod common;

use common::*;

/// Runs a writer and a reader of `kind` (`chan` or `stream`) as separate processes and checks
/// that both saw `COUNT` messages with the checksum computed here, and that the reader then saw
/// the writer's clean detach as a disconnect.
fn transfer(kind: &str, writer: Lang, reader: Lang, count: u64, wait: &str, capacity: u64) {
    let _serial = serial();
    let name = unique(&format!("{kind}-{writer:?}-{reader:?}"));
    let _cleanup = Cleanup(name.clone());
    let (count_s, capacity_s) = (count.to_string(), capacity.to_string());
    let start = Instant::now();
    let read_role = format!("{kind}-read");
    let write_role = format!("{kind}-write");
    let r = Peer::spawn(reader, &[&read_role, &name, &count_s, wait, &capacity_s]);
    let w = Peer::spawn(writer, &[&write_role, &name, &count_s, wait, &capacity_s]);
    let (w_status, w_lines) = w.finish(Duration::from_secs(90));
    let (r_status, r_lines) = r.finish(Duration::from_secs(90));
    let elapsed = start.elapsed();
    assert!(w_status.success(), "writer {writer:?} failed: {w_status}, {w_lines:?}");
    assert!(r_status.success(), "reader {reader:?} failed: {r_status}, {r_lines:?}");
    let sent = w_lines.iter().find(|l| l.starts_with("SENT ")).expect("writer result");
    let received = r_lines.iter().find(|l| l.starts_with("RECV ")).expect("reader result");
    let (w_count, w_sum, _) = parse_result(sent);
    let (r_count, r_sum, end) = parse_result(received);
    let expected = if kind == "chan" { channel_checksum(count) } else { stream_checksum(count) };
    assert_eq!((w_count, r_count), (count, count));
    assert_eq!(w_sum, expected, "writer {writer:?} checksum");
    assert_eq!(r_sum, expected, "reader {reader:?} checksum");
    assert_eq!(end, "DISCONNECTED", "the reader must see the writer's clean detach");
    eprintln!("{kind} {writer:?} -> {reader:?}: {count} messages in {elapsed:?}");
}

// ---------------------------------------------------------------------------------------------
// Typed channel: the four directions

#[test]
fn channel_rust_to_c() {
    transfer("chan", Lang::Rust, Lang::C, COUNT, "park", 1024);
}

#[test]
fn channel_c_to_rust() {
    transfer("chan", Lang::C, Lang::Rust, COUNT, "park", 1024);
}

#[test]
fn channel_c_to_c() {
    transfer("chan", Lang::C, Lang::C, COUNT, "yield", 256);
}

#[test]
fn channel_rust_to_rust() {
    transfer("chan", Lang::Rust, Lang::Rust, COUNT, "park", 1024);
}

/// Both C ends under AddressSanitizer and UndefinedBehaviorSanitizer, spinning, small ring.
#[test]
fn channel_c_to_c_sanitized() {
    transfer("chan", Lang::CAsan, Lang::CAsan, COUNT / 10, "spin", 16);
}

// ---------------------------------------------------------------------------------------------
// Framed stream: four message types interleaved, a 4 KiB ring (frames of 96 to 592 bytes, so
// padding frames are frequent)

#[test]
fn stream_rust_to_c() {
    transfer("stream", Lang::Rust, Lang::C, COUNT, "park", 4096);
}

#[test]
fn stream_c_to_rust() {
    transfer("stream", Lang::C, Lang::Rust, COUNT, "park", 4096);
}

#[test]
fn stream_c_to_c() {
    transfer("stream", Lang::C, Lang::C, COUNT, "yield", 4096);
}

#[test]
fn stream_rust_to_rust() {
    transfer("stream", Lang::Rust, Lang::Rust, COUNT, "park", 4096);
}

#[test]
fn stream_c_to_c_sanitized() {
    transfer("stream", Lang::CAsan, Lang::CAsan, COUNT / 10, "spin", 2048);
}

// ---------------------------------------------------------------------------------------------
// Parking across languages

/// Starts a parking reader, then, round by round, waits until it has raised `reader_parked`
/// (read from the segment file), has the writer commit one message and measures how long the
/// reader takes to print it. A reader that is not woken sleeps out its 100 ms slice, so the
/// latency tells a futex wake from a time-out; the futex word moving shows that the writer
/// took the wake path.
fn parked_reader_is_woken(reader: Lang, writer: Lang) {
    const ROUNDS: u64 = 5;
    let _serial = serial();
    let name = unique(&format!("park-{reader:?}-{writer:?}"));
    let _cleanup = Cleanup(name.clone());
    let rounds = ROUNDS.to_string();
    let mut r = Peer::spawn(reader, &["park-read", &name, &rounds]);
    r.expect_line("READY", Duration::from_secs(10));
    let mut w = match writer {
        Lang::Rust => None,
        c => Some(Peer::spawn(c, &["park-write", &name, &rounds])),
    };
    let mut rust_writer = match &mut w {
        Some(peer) => {
            peer.expect_line("READY", Duration::from_secs(10));
            None
        }
        None => {
            Some(Writer::<Quote>::open(&name, WaitStrategy::Spin).expect("Rust writer attaches"))
        }
    };
    let file = File::open(segment_path(&name)).expect("segment file");
    assert_eq!(read_u32(&file, READER_MAY_PARK), 1, "the reader announces that it may park");
    let mut futex_wakes = 0;
    for round in 0..ROUNDS {
        let deadline = Instant::now() + Duration::from_secs(10);
        while read_u32(&file, OFF_READER_PARKED) == 0 {
            assert!(Instant::now() < deadline, "round {round}: the reader never parked");
            std::thread::sleep(Duration::from_millis(1));
        }
        let futex_before = read_u32(&file, OFF_READER_FUTEX);
        let start = Instant::now();
        match (&mut w, &mut rust_writer) {
            (Some(peer), _) => peer.send_line("go"),
            (None, Some(rw)) => rw.try_send(&quote(round)).expect("send"),
            _ => unreachable!(),
        }
        let got = r.expect_line("GOT ", Duration::from_secs(10));
        let latency = start.elapsed();
        assert_eq!(got, format!("GOT {round}"));
        if read_u32(&file, OFF_READER_FUTEX) != futex_before {
            futex_wakes += 1;
        }
        eprintln!("park {reader:?} <- {writer:?}: round {round} woken after {latency:?}");
        assert!(
            latency < Duration::from_millis(50),
            "round {round}: the parked {reader:?} reader took {latency:?} to see a message from \
             the {writer:?} writer (not woken: it slept out its slice)"
        );
    }
    // Normally every round; a reader caught between two sleep slices sees the message by
    // itself, without a wake.
    assert!(futex_wakes >= 3, "only {futex_wakes} of {ROUNDS} rounds were futex wakes");
    drop(rust_writer);
    if let Some(peer) = w {
        let (status, lines) = peer.finish(Duration::from_secs(10));
        assert!(status.success(), "writer failed: {lines:?}");
    }
    let (status, lines) = r.finish(Duration::from_secs(10));
    assert!(status.success(), "reader failed: {lines:?}");
}

#[test]
fn parked_c_reader_is_woken_by_a_rust_writer() {
    parked_reader_is_woken(Lang::C, Lang::Rust);
}

#[test]
fn parked_rust_reader_is_woken_by_a_c_writer() {
    parked_reader_is_woken(Lang::Rust, Lang::C);
}

#[test]
fn parked_c_reader_is_woken_by_a_c_writer() {
    parked_reader_is_woken(Lang::C, Lang::C);
}

// ---------------------------------------------------------------------------------------------
// Death of a peer

/// A C writer killed with SIGKILL mid-stream: this Rust reader drains what it committed, in
/// order, then reports Disconnected (the writer's OFD lock died with it).
#[test]
fn sigkilled_c_writer_is_disconnected_for_a_rust_reader() {
    let _serial = serial();
    let name = unique("kill-c-writer");
    let _cleanup = Cleanup(name.clone());
    let mut writer = Peer::spawn(Lang::C, &["chan-endless", &name]);
    writer.expect_line("READY", Duration::from_secs(10));
    let mut reader = Reader::<Quote>::open(&name, WaitStrategy::SpinThenPark { spins: 2000 })
        .expect("Rust reader attaches to the C segment");
    let check = |m: &Quote, expected: u64| {
        assert_eq!(m.as_bytes(), quote(expected).as_bytes(), "message {expected}");
    };
    let mut next = 0;
    for _ in 0..2000 {
        let m = reader.recv_timeout(Duration::from_secs(10)).expect("message from C");
        check(&m, next);
        next += 1;
    }
    assert!(reader.writer_alive());
    writer.kill();
    let killed = Instant::now();
    let drained_from = next;
    loop {
        match reader.recv_timeout(Duration::from_secs(10)) {
            Ok(m) => {
                check(&m, next);
                next += 1;
            }
            Err(RecvError::Disconnected) => break,
            Err(e) => panic!("after {next} messages: {e}"),
        }
    }
    let file = File::open(segment_path(&name)).expect("segment file");
    assert_eq!(read_u64(&file, OFF_WRITE_POS), next, "every committed message was delivered");
    assert!(killed.elapsed() < Duration::from_secs(5), "disconnect took {:?}", killed.elapsed());
    assert!(!reader.writer_alive());
    // Once told Disconnected, the reader keeps being told so (it no longer reports Empty until
    // its next periodic check of the writer's lock).
    for poll in 0..5000 {
        assert!(matches!(reader.try_recv(), Err(RecvError::Disconnected)), "poll {poll}");
    }
    eprintln!("drained {} messages after the kill", next - drained_from);
}

/// A Rust writer killed with SIGKILL mid-stream: the C reader drains, then reports
/// FLATIPC_E_DISCONNECTED.
#[test]
fn sigkilled_rust_writer_is_disconnected_for_a_c_reader() {
    for reader_wait in ["park", "spin"] {
        let _serial = serial();
        let name = unique("kill-rust-writer");
        let _cleanup = Cleanup(name.clone());
        let mut writer = Peer::spawn(Lang::Rust, &["chan-endless", &name]);
        writer.expect_line("READY", Duration::from_secs(10));
        let mut reader = Peer::spawn(Lang::C, &["chan-drain", &name, reader_wait]);
        reader.expect_line("READY", Duration::from_secs(10));
        assert_eq!(reader.expect_line("FIRST ", Duration::from_secs(10)), "FIRST 0");
        std::thread::sleep(Duration::from_millis(100));
        writer.kill();
        let killed = Instant::now();
        let drained = reader.expect_line("DRAINED ", Duration::from_secs(10));
        let elapsed = killed.elapsed();
        let (status, lines) = reader.finish(Duration::from_secs(10));
        assert!(status.success(), "C reader failed: {lines:?}");
        let words: Vec<u64> =
            drained.split_whitespace().skip(1).map(|w| w.parse().unwrap()).collect();
        let file = File::open(segment_path(&name)).expect("segment file");
        let write_pos = read_u64(&file, OFF_WRITE_POS);
        assert!(words[0] > 0);
        assert_eq!(words[1], write_pos, "every committed message was delivered");
        assert_eq!(words[2], 5000, "every try_recv after the disconnect reports it");
        assert_eq!(read_u64(&file, OFF_READ_POS), write_pos);
        assert!(elapsed < Duration::from_secs(5), "disconnect took {elapsed:?}");
        eprintln!("{reader_wait}: C reader saw the disconnect {elapsed:?} after the kill");
    }
}

// ---------------------------------------------------------------------------------------------
// Liveness locks and stale segments across languages

#[test]
fn one_writer_at_a_time_across_languages() {
    let _serial = serial();
    // A live Rust writer: the C writer is refused with FLATIPC_E_PEER_BUSY (-21).
    let name = unique("busy");
    let _cleanup = Cleanup(name.clone());
    let options = ChannelOptions { capacity: 16, wait: WaitStrategy::Spin };
    let rust_writer = Writer::<Quote>::create(&name, &options).expect("Rust writer");
    let (status, lines) = c_run(&["chan-write", &name, "1", "spin", "16"]);
    assert_eq!(status.code(), Some(4), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("ERR -21 ")), "{lines:?}");
    // Once it detaches, the C writer attaches and continues at write_pos.
    drop(rust_writer);
    let (status, lines) = c_run(&["chan-write", &name, "5", "spin", "16"]);
    assert!(status.success(), "{lines:?}");
    // A live C writer: the Rust writer is refused, naming the C process.
    let mut c_writer = Peer::spawn(Lang::C, &["chan-endless", &name]);
    c_writer.expect_line("READY", Duration::from_secs(10));
    match Writer::<Quote>::open(&name, WaitStrategy::Spin) {
        Err(e) => {
            let pid = c_writer.child.id().to_string();
            assert!(e.to_string().contains(&pid), "{e} does not name pid {pid}");
        }
        Ok(_) => panic!("a second writer attached next to the live C writer"),
    }
    c_writer.kill();
    // Its lock died with it: a Rust writer attaches and continues where C stopped.
    let w = Writer::<Quote>::open(&name, WaitStrategy::Spin).expect("writer after the kill");
    assert!(w.position() >= 5);
}

#[test]
fn stale_segments_are_replaced_and_live_ones_kept_across_languages() {
    let _serial = serial();
    // Garbage left under the name, no lock held: the C open_or_create replaces it, and a Rust
    // reader then receives what the C writer sent.
    let name = unique("stale");
    let _cleanup = Cleanup(name.clone());
    let path = segment_path(&name);
    std::fs::write(&path, vec![0xA5u8; 8192]).expect("write garbage");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let (status, lines) = c_run(&["chan-write", &name, "10", "spin", "16"]);
    assert!(status.success(), "{lines:?}");
    let mut reader = Reader::<Quote>::open(&name, WaitStrategy::Spin).expect("Rust reader");
    for seq in 0..10 {
        let m = reader.try_recv().expect("message");
        assert_eq!(m.as_bytes(), quote(seq).as_bytes());
    }
    assert!(matches!(reader.try_recv(), Err(RecvError::Disconnected)));
    drop(reader);
    // The same with a C reader over a segment the Rust side left stale (another type, no lock):
    // C replaces it too.
    let name = unique("stale");
    let _cleanup = Cleanup(name.clone());
    drop(Writer::<Trade>::create(
        &name,
        &ChannelOptions { capacity: 16, wait: WaitStrategy::Spin },
    ));
    let (status, lines) = c_run(&["chan-write", &name, "3", "spin", "16"]);
    assert!(status.success(), "stale Trade channel not replaced: {lines:?}");
    // A segment of another type whose Rust writer is alive is never removed: C is refused with
    // FLATIPC_E_TYPE_MISMATCH (-20) and the Rust writer keeps its file.
    let name = unique("live");
    let _cleanup = Cleanup(name.clone());
    let options = ChannelOptions { capacity: 16, wait: WaitStrategy::Spin };
    let mut trades = Writer::<Trade>::create(&name, &options).unwrap();
    let inode = std::fs::metadata(segment_path(&name)).expect("segment").ino();
    let (status, lines) = c_run(&["chan-write", &name, "1", "spin", "16"]);
    assert_eq!(status.code(), Some(4), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("ERR -20 ")), "{lines:?}");
    assert_eq!(std::fs::metadata(segment_path(&name)).expect("still there").ino(), inode);
    trades.try_send(&Default::default()).expect("the live writer still works");
}

// ---------------------------------------------------------------------------------------------
// Corrupt segments: the C reader (sanitized) returns an error code and never crashes; the Rust
// runtime refuses the same segments

/// A channel segment written by Rust: 10 messages committed, the writer detached.
fn rust_channel_segment(name: &str) {
    let options = ChannelOptions { capacity: 16, wait: WaitStrategy::Spin };
    let mut w = Writer::<Quote>::create(name, &options).expect("create channel");
    for seq in 0..10 {
        w.try_send(&quote(seq)).expect("send");
    }
}

/// A stream segment written by Rust: messages up to a full 4 KiB ring, the writer detached.
fn rust_stream_segment(name: &str) {
    let options = StreamOptions { capacity: 4096, wait: WaitStrategy::Spin };
    let mut w = StreamWriter::<Library>::create(name, &options).expect("create stream");
    for seq in 0.. {
        let sent = match any(seq) {
            Any::Trade(m) => w.try_send(&m),
            Any::Quote(m) => w.try_send(&m),
            Any::Book(m) => w.try_send(&m),
            Any::Status(m) => w.try_send(&m),
        };
        if sent.is_err() {
            break;
        }
    }
}

/// Runs the sanitized C peer's `role` on the segment and returns the code it printed.
fn c_result(role: &str, name: &str) -> i32 {
    let peer = Peer::spawn(Lang::CAsan, &[role, name]);
    let (status, lines) = peer.finish(Duration::from_secs(30));
    assert!(status.success(), "C {role} crashed or failed on {name}: {status} {lines:?}");
    let result = lines.iter().find(|l| l.starts_with("RESULT ")).expect("RESULT line");
    result.split_whitespace().nth(1).and_then(|c| c.parse().ok()).expect("code")
}

#[test]
fn corrupt_channel_headers_and_positions_are_refused_by_c_and_rust() {
    let _serial = serial();
    let u32le = |v: u32| v.to_le_bytes().to_vec();
    let u64le = |v: u64| v.to_le_bytes().to_vec();
    // (what, offset, bytes, the C code)
    let cases: Vec<(&str, u64, Vec<u8>, i32)> = vec![
        ("magic", 0, b"X".to_vec(), code::BAD_HEADER),
        ("protocol_version", 8, u32le(2), code::VERSION),
        ("state garbage", 12, u32le(0x1234_5678), code::BAD_HEADER),
        ("state initialising", 12, u32le(0), code::NOT_READY),
        ("endian_marker", 16, u32le(0x0403_0201), code::BAD_HEADER),
        ("pointer_width", 20, vec![4], code::BAD_HEADER),
        ("kind stream", 21, vec![2], code::WRONG_KIND),
        ("kind unknown", 21, vec![9], code::BAD_HEADER),
        ("segment_size", 24, u64le(4096 * 3), code::BAD_HEADER),
        ("capacity not a power of two", 32, u64le(3), code::BAD_HEADER),
        ("capacity too large", 32, u64le(1 << 40), code::BAD_HEADER),
        ("capacity beyond the file", 32, u64le(1 << 20), code::BAD_HEADER),
        ("slot_size odd", 40, u32le(65), code::BAD_HEADER),
        ("slot_size zero", 40, u32le(0), code::BAD_HEADER),
        ("message_count", 44, u32le(2), code::BAD_HEADER),
        ("data_offset", 48, u64le(0), code::BAD_HEADER),
        ("max_readers", 68, u32le(1), code::BAD_HEADER),
        ("message fingerprint", 128, u64le(0x0123_4567_89ab_cdef), code::TYPE_MISMATCH),
        ("message id", 136, u32le(0x999), code::TYPE_MISMATCH),
        ("message size beyond the slot", 140, u32le(1000), code::BAD_HEADER),
        ("message size", 140, u32le(88), code::TYPE_MISMATCH),
        ("message align", 144, u32le(3), code::BAD_HEADER),
        ("message align too large", 144, u32le(128), code::BAD_HEADER),
        ("write_pos past capacity", OFF_WRITE_POS, u64le(10 + 17), code::CORRUPT),
        ("write_pos huge", OFF_WRITE_POS, u64le(u64::MAX), code::CORRUPT),
        ("read_pos past write_pos", OFF_READ_POS, u64le(11), code::CORRUPT),
    ];
    for (what, offset, bytes, expected) in cases {
        let name = unique("corrupt-chan");
        let _cleanup = Cleanup(name.clone());
        rust_channel_segment(&name);
        scribble(&name, offset, &bytes);
        let got = c_result("chan-corrupt", &name);
        assert_eq!(got, expected, "{what}: C returned {got}, expected {expected}");
        let rust = Reader::<Quote>::open(&name, WaitStrategy::Spin);
        assert!(rust.is_err(), "{what}: the Rust reader accepted what C refused");
    }
    // Positions at the 2^62 limit (read_pos = write_pos - 1 keeps the span valid).
    let name = unique("corrupt-chan");
    let _cleanup = Cleanup(name.clone());
    rust_channel_segment(&name);
    scribble(&name, OFF_READ_POS, &u64le((1 << 62) - 1));
    scribble(&name, OFF_WRITE_POS, &u64le(1 << 62));
    assert_eq!(c_result("chan-corrupt", &name), code::CORRUPT, "positions at 2^62");
    assert!(Reader::<Quote>::open(&name, WaitStrategy::Spin).is_err());
    // Not a scribble but refused all the same: group-readable.
    let name = unique("corrupt-chan");
    let _cleanup = Cleanup(name.clone());
    rust_channel_segment(&name);
    std::fs::set_permissions(segment_path(&name), std::fs::Permissions::from_mode(0o640))
        .expect("chmod");
    assert_eq!(c_result("chan-corrupt", &name), code::INSECURE, "mode 0640");
    // And the intact segment drains and disconnects.
    let name = unique("corrupt-chan");
    let _cleanup = Cleanup(name.clone());
    rust_channel_segment(&name);
    assert_eq!(c_result("chan-corrupt", &name), code::DISCONNECTED, "intact segment");
}

#[test]
fn corrupt_stream_frames_are_errors_in_c_and_rust() {
    let _serial = serial();
    let u32le = |v: u32| v.to_le_bytes().to_vec();
    const DATA: u64 = 4096;
    // The first frame starts at data offset 0 and its message is 80 to 568 bytes long.
    let cases: Vec<(&str, u64, Vec<u8>, i32)> = vec![
        ("intact", DATA, vec![], code::DISCONNECTED),
        ("size beyond half the ring", DATA, u32le(3000), code::CORRUPT_FRAME),
        ("size swallowing later frames", DATA, u32le(2000), code::CORRUPT_FRAME),
        (
            "frame beyond write_pos",
            OFF_WRITE_POS,
            16u64.to_le_bytes().to_vec(),
            code::CORRUPT_FRAME,
        ),
        ("size u32::MAX", DATA, u32le(u32::MAX), code::CORRUPT_FRAME),
        ("padding not to the end", DATA + 4, u32le(0xFFFF_0001), code::CORRUPT_FRAME),
        // An unknown id with a plausible size is skipped, not an error.
        ("unknown id", DATA + 4, u32le(0x4242), code::DISCONNECTED),
        ("stream kind as channel", 21, vec![1], code::WRONG_KIND),
        ("capacity below 256", 32, 128u64.to_le_bytes().to_vec(), code::BAD_HEADER),
        ("slot_size of a stream", 40, u32le(64), code::BAD_HEADER),
        ("message_count 33", 44, u32le(33), code::BAD_HEADER),
        ("message align 32", 144, u32le(32), code::BAD_HEADER),
        ("message size beyond half", 140, u32le(2040), code::BAD_HEADER),
        (
            "write_pos not a multiple of 16",
            OFF_WRITE_POS,
            8u64.to_le_bytes().to_vec(),
            code::CORRUPT,
        ),
    ];
    for (what, offset, bytes, expected) in cases {
        let [c_name, rust_name] = [unique("corrupt-stream"), unique("corrupt-stream")];
        let _cleanup = (Cleanup(c_name.clone()), Cleanup(rust_name.clone()));
        for name in [&c_name, &rust_name] {
            rust_stream_segment(name);
            scribble(name, offset, &bytes);
        }
        let got = c_result("stream-corrupt", &c_name);
        assert_eq!(got, expected, "{what}: C returned {got}, expected {expected}");
        // The Rust reader on an identical segment ends the same way.
        let rust = match StreamReader::<Library>::open(&rust_name, WaitStrategy::Spin) {
            Err(_) => None,
            Ok(mut r) => loop {
                match r.try_recv() {
                    Ok(_) => {}
                    Err(e) => break Some(e),
                }
            },
        };
        let agrees = match expected {
            code::DISCONNECTED => matches!(rust, Some(RecvError::Disconnected)),
            code::CORRUPT_FRAME => matches!(rust, Some(RecvError::CorruptFrame { .. })),
            _ => rust.is_none(),
        };
        assert!(agrees, "{what}: Rust ended with {rust:?}, C with {got}");
    }
}

/// Random scribbles over a live stream (positions, frame headers, header bytes with re-opens),
/// read by the sanitized C reader: every result must be a valid code and every frame it hands
/// out must lie in the ring.
#[test]
fn scribbled_streams_never_crash_the_sanitized_c_reader() {
    let _serial = serial();
    for seed in 1..=8u64 {
        let name = unique("fuzz-stream");
        let _cleanup = Cleanup(name.clone());
        rust_stream_segment(&name);
        let seed_s = seed.to_string();
        let peer = Peer::spawn(Lang::CAsan, &["stream-fuzz", &name, &seed_s, "3000"]);
        let (status, lines) = peer.finish(Duration::from_secs(60));
        assert!(status.success(), "seed {seed}: {status} {lines:?}");
        let fuzzed = lines.iter().find(|l| l.starts_with("FUZZED ")).expect("FUZZED line");
        eprintln!("seed {seed}: {fuzzed}");
    }
}

// ---------------------------------------------------------------------------------------------
// Schema evolution in the C runtime (docs/EVOLUTION.md §4-§5): the C peer's hand-written
// version 3 of `Quote` (the version-2 layout plus `u64 venue_seq`) against the generated
// version 2

/// The C peer's version-3 `Quote`: its size and its (stand-in) layout fingerprint at version 3.
const QUOTE_V3_SIZE: usize = 104;
const QUOTE_V3_FP: u64 = 0x0003_c0ff_ee00_03ab;

/// The result codes of `flatipc.h` for schema evolution.
mod evo_code {
    pub const CORRUPT_FRAME: i32 = -6;
    pub const EPOCH_LOST: i32 = -28;
}

/// Versions 2, 3 and 5 of `Quote` on one typed channel, all in the sanitized C peer: epochs
/// recorded and continued, steps merged, older messages zero-extended (after
/// `FLATIPC_E_NEEDS_BUFFER` without a buffer), newer ones read in place, a diverged version 3
/// and a version 5 that outgrew the slots refused, and a message whose epoch was overwritten
/// skipped as lost.
#[test]
fn c_channel_peers_of_three_versions_share_a_ring() {
    let _serial = serial();
    let name = unique("evo-chan");
    let _cleanup = Cleanup(name.clone());
    let (status, lines) =
        Peer::spawn(Lang::CAsan, &["evo-chan", &name]).finish(Duration::from_secs(30));
    assert!(status.success(), "{status} {lines:?}");
    assert!(lines.iter().any(|l| l == "EVO-CHAN OK"), "{lines:?}");
}

/// Versions 2, 3 and 5 of `Quote` on broadcast rings, typed (`evo-bcast`: writer epochs) and
/// framed (`evo-bstream`: frame versions), all in the sanitized C peer: version 2 writes over
/// slots version 3 filled, and version-3 readers, tethered (zero-extending into their
/// `set_buffer` buffer after `FLATIPC_E_NEEDS_BUFFER`), lossy (in their copies) and from the
/// oldest message, read zeros past version 2's bytes; version-2 readers read version 3's prefix
/// (a lossy one whose buffer holds only its own size too); a version 5 larger than the slots is
/// refused as reader and as writer; a lost epoch is skipped; and a diverged version 3 that takes
/// over a version-2 ring is met by the version-3 readers as a version mismatch, skipped.
#[test]
fn c_broadcast_readers_of_three_versions_share_a_ring() {
    let _serial = serial();
    for (role, ok) in [("evo-bcast", "EVO-BCAST OK"), ("evo-bstream", "EVO-BSTREAM OK")] {
        let name = unique(role);
        let _cleanup = (Cleanup(name.clone()), Cleanup(format!("{name}-diverged")));
        let (status, lines) =
            Peer::spawn(Lang::CAsan, &[role, &name]).finish(Duration::from_secs(30));
        assert!(status.success(), "{role}: {status} {lines:?}");
        assert!(lines.iter().any(|l| l == ok), "{role}: {lines:?}");
    }
}

/// A Rust writer of version 2 fills a stream; a C reader of version 3 gets every frame
/// zero-extended (`widened`), with the writer's version and size.
#[test]
fn a_newer_c_stream_reader_zero_extends_a_rust_writers_frames() {
    const COUNT: u64 = 30;
    let _serial = serial();
    for lang in [Lang::C, Lang::CAsan] {
        let name = unique("evo-stream-read");
        let _cleanup = Cleanup(name.clone());
        let options = StreamOptions { capacity: 4096, wait: WaitStrategy::Spin };
        let mut w = StreamWriter::<Library>::create(&name, &options).expect("Rust writer");
        for seq in 0..COUNT {
            w.try_send(&quote(seq)).expect("send");
        }
        drop(w);
        let count = COUNT.to_string();
        let (status, lines) =
            Peer::spawn(lang, &["evo-stream-read", &name, &count]).finish(Duration::from_secs(30));
        assert!(status.success(), "{lang:?}: {status} {lines:?}");
        let line = lines.iter().find(|l| l.starts_with("EVO-READ ")).expect("result line");
        let (n, sum, end) = parse_result(line);
        assert_eq!((n, sum, end.as_str()), (COUNT, channel_checksum(COUNT), "DISCONNECTED"));
    }
}

/// A C writer of version 3 takes over a stream a Rust reader of version 2 created: it merges
/// its steps into the message table and writes version 3 in each frame; the Rust reader
/// re-checks the steps and reads its version-2 prefix in place.
#[test]
fn a_newer_c_stream_writer_upgrades_a_rust_readers_stream() {
    const COUNT: u64 = 30;
    let _serial = serial();
    let name = unique("evo-stream-write");
    let _cleanup = Cleanup(name.clone());
    let options = StreamOptions { capacity: 4096, wait: WaitStrategy::Spin };
    let mut reader = StreamReader::<Library>::create(&name, &options).expect("Rust reader");
    let count = COUNT.to_string();
    let (status, lines) = c_run(&["evo-stream-write", &name, &count]);
    assert!(status.success(), "{status} {lines:?}");
    let (n, sum, _) = parse_result(lines.iter().find(|l| l.starts_with("SENT ")).expect("SENT"));
    assert_eq!((n, sum), (COUNT, channel_checksum(COUNT)));
    // The Quote entry now records versions [1, 3], version 3's fingerprint and size.
    let file = File::open(segment_path(&name)).expect("segment file");
    let index = (0..4u64).find(|i| read_u32(&file, 128 + 64 * i + 8) == 0x102).expect("Quote");
    let entry = 128 + 64 * index;
    assert_eq!(read_u32(&file, entry + 20), u32::from_le_bytes([1, 3, 0, 0]), "versions");
    assert_eq!(read_u64(&file, 3072 + 32 * index + 8), QUOTE_V3_FP, "version 3's fingerprint");
    assert_eq!((read_u32(&file, entry + 12), read_u64(&file, entry)), (104, QUOTE_V3_FP));
    for seq in 0..COUNT {
        let frame = reader.try_recv().expect("frame");
        assert_eq!((frame.version(), frame.bytes().len()), (3, QUOTE_V3_SIZE), "frame {seq}");
        let q = frame.get::<Quote>().expect("a Quote").expect("valid");
        assert_eq!(q.as_bytes(), quote(seq).as_bytes(), "the version-2 prefix of {seq}");
        assert_eq!(frame.bytes()[96..], (seq * 7 + 1).to_le_bytes(), "venue_seq of {seq}");
    }
    assert!(matches!(reader.try_recv(), Err(RecvError::Disconnected)));
}

/// C broadcast writers record their version for readers of other versions: the typed one its
/// writer epoch (PROTOCOL.md §5), the broadcast stream's each frame's header (§6).
#[test]
fn c_broadcast_writers_record_their_version() {
    let _serial = serial();
    let name = unique("evo-bcast");
    let _cleanup = Cleanup(name.clone());
    let (status, lines) = c_run(&["bcast-write", &name, "3", "spin", "16"]);
    assert!(status.success(), "{lines:?}");
    let file = File::open(segment_path(&name)).expect("segment file");
    let epoch = (read_u64(&file, 2496), read_u64(&file, 2432), read_u64(&file, 2440));
    assert_eq!(epoch, (1, 0, 2 | 96 << 32), "one epoch: from 0, version 2, 96 bytes");
    let name = unique("evo-bstream");
    let _cleanup = Cleanup(name.clone());
    let (status, lines) = c_run(&["bstream-write", &name, "3", "spin", "16"]);
    assert!(status.success(), "{lines:?}");
    let file = File::open(segment_path(&name)).expect("segment file");
    let slot_size = u64::from(read_u32(&file, 40));
    for slot in 0..3 {
        let version = read_u32(&file, 4096 + slot * slot_size + 8) & 0xFFFF;
        assert_eq!(version, 2, "frame {slot}: market.data's version");
    }
}

/// A scribble of an epoch table: what it is, where, the bytes, then what the C reader reports
/// (its first error code, 0 for none, and that error's detail field) and how many messages it
/// delivers and skips.
type EpochCase = (&'static str, u64, Vec<u8>, i32, &'static str, u64, u64);

/// A typed channel written by Rust (10 messages, epoch 0: version 2, 96 bytes), its epoch
/// table scribbled; the sanitized C reader and the Rust reader read it to the end and must
/// agree on what they deliver and what they skip.
#[test]
fn scribbled_epochs_are_skipped_alike_in_c_and_rust() {
    use flatipc::channel::EpochProblem;
    const META: u64 = 2440; // epoch 0's meta: version (u16), seq (u16), size (u32)
    let _serial = serial();
    let u16le = |v: u16| v.to_le_bytes().to_vec();
    let u32le = |v: u32| v.to_le_bytes().to_vec();
    let u64le = |v: u64| v.to_le_bytes().to_vec();
    let cases: Vec<EpochCase> = vec![
        ("intact", META, vec![], 0, "-", 10, 0),
        ("version 0", META, u16le(0), evo_code::CORRUPT_FRAME, "epoch version", 0, 10),
        ("version 256", META, u16le(256), evo_code::CORRUPT_FRAME, "epoch version", 0, 10),
        (
            "size beyond the slot",
            META + 4,
            u32le(200),
            evo_code::CORRUPT_FRAME,
            "epoch size",
            0,
            10,
        ),
        ("size of no layout", META + 4, u32le(88), evo_code::CORRUPT_FRAME, "epoch size", 0, 10),
        ("older version, same layout", META, u16le(1), 0, "-", 10, 0),
        (
            "older version, smaller",
            META,
            u64le(1 | 64 << 32),
            evo_code::CORRUPT_FRAME,
            "epoch size",
            0,
            10,
        ),
        ("newer version, same size", META, u16le(3), 0, "-", 10, 0),
        (
            "newer version, smaller",
            META,
            u64le(3 | 64 << 32),
            evo_code::CORRUPT_FRAME,
            "epoch size",
            0,
            10,
        ),
        ("seq of another epoch", META + 2, u16le(7), evo_code::EPOCH_LOST, "epoch", 0, 10),
        ("entry being rewritten", 2432, u64le(u64::MAX), evo_code::EPOCH_LOST, "epoch", 0, 10),
        ("overwritten epochs", 2496, u64le(9), evo_code::EPOCH_LOST, "epoch", 0, 10),
        // Epoch 0 is still in the table: positions before it precede every epoch.
        ("start after the messages", 2432, u64le(100), 0, "-", 10, 0),
        ("start mid-way", 2432, u64le(5), 0, "-", 10, 0),
    ];
    for (what, offset, bytes, code, field, delivered, skipped) in cases {
        let [c_name, rust_name] = [unique("epoch"), unique("epoch")];
        let _cleanup = (Cleanup(c_name.clone()), Cleanup(rust_name.clone()));
        for name in [&c_name, &rust_name] {
            rust_channel_segment(name);
            scribble(name, offset, &bytes);
        }
        let peer = Peer::spawn(Lang::CAsan, &["chan-epoch", &c_name]);
        let (status, lines) = peer.finish(Duration::from_secs(30));
        assert!(status.success(), "{what}: {status} {lines:?}");
        let result = lines.iter().find(|l| l.starts_with("RESULT ")).expect("RESULT line");
        let words: Vec<&str> = result.split_whitespace().collect();
        let want = format!("RESULT {code} {field} {delivered} {skipped} {}", code::DISCONNECTED);
        assert_eq!(words.join(" "), want, "{what}: C");
        // The Rust reader on an identical segment.
        let mut reader = Reader::<Quote>::open(&rust_name, WaitStrategy::Spin).expect("open");
        let (mut got, mut lost, mut problems) = (0, 0, Vec::new());
        loop {
            match reader.try_recv() {
                Ok(_) => got += 1,
                Err(RecvError::Epoch { problem, .. }) => {
                    lost += 1;
                    problems.push(problem);
                }
                Err(RecvError::Disconnected) => break,
                Err(e) => panic!("{what}: Rust: {e}"),
            }
        }
        assert_eq!((got, lost), (delivered, skipped), "{what}: Rust");
        let kind_agrees = problems.iter().all(|p| match code {
            evo_code::EPOCH_LOST => matches!(p, EpochProblem::Lost),
            _ if field == "epoch version" => matches!(p, EpochProblem::Version { .. }),
            _ => matches!(p, EpochProblem::Size { .. }),
        });
        assert!(kind_agrees, "{what}: Rust reported {problems:?}, C {code} {field}");
    }
}

// ---------------------------------------------------------------------------------------------
// The header compiles cleanly as C11 and as C++17

fn compile(compiler: &str, args: &[&str], source: &Path) -> Result<(), String> {
    let out = std::env::temp_dir().join(format!("flatipc-xl-compile-{}.o", std::process::id()));
    let output = Command::new(compiler)
        .args(args)
        .arg("-I")
        .arg(env!("FLATIPC_XL_RUNTIME_INCLUDE"))
        .arg("-I")
        .arg(env!("FLATIPC_XL_GENERATED_INCLUDE"))
        .arg("-c")
        .arg(source)
        .arg("-o")
        .arg(&out)
        .output()
        .map_err(|e| format!("cannot run {compiler}: {e}"))?;
    let _ = std::fs::remove_file(&out);
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

#[test]
fn header_compiles_warning_free_as_c11_and_cpp17() {
    let dir = Path::new(env!("FLATIPC_XL_C_DIR"));
    let (cc, cxx) = (env!("FLATIPC_XL_CC"), env!("FLATIPC_XL_CXX"));
    let strict = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"];
    let extra = ["-Wconversion", "-Wsign-conversion", "-Wshadow", "-Wcast-qual", "-Wundef"];
    let ok = |compiler: &str, args: &[&str], file: &str| {
        if let Err(e) = compile(compiler, args, &dir.join(file)) {
            panic!("{compiler} {args:?} {file}:\n{e}");
        }
    };
    for opt in ["-O0", "-O2"] {
        ok(cc, &[&strict[..], &[opt]].concat(), "compile_check.c");
        ok(cc, &[&strict[..], &extra[..], &[opt]].concat(), "compile_check.c");
        ok(
            cxx,
            &["-x", "c++", "-std=c++17", "-Wall", "-Wextra", "-Werror", opt],
            "compile_check.c",
        );
    }
    // Included after other headers: fine with the default GNU dialect or -D_GNU_SOURCE ...
    ok(cc, &["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-pedantic"], "compile_late.c");
    ok(cc, &[&strict[..], &["-D_GNU_SOURCE"]].concat(), "compile_late.c");
    ok(cxx, &["-x", "c++", "-std=c++17", "-Wall", "-Wextra", "-Werror"], "compile_late.c");
    // ... and a strict -std=c11 without it stops with the header's own explanation.
    match compile(cc, &strict, &dir.join("compile_late.c")) {
        Ok(()) => panic!("strict C11 after <stdio.h> should stop at the header's #error"),
        Err(e) => assert!(e.contains("-D_GNU_SOURCE"), "unexpected error:\n{e}"),
    }
}
