//! The typed SPSC channel, in process and across real processes.
//!
//! Cross-process tests re-run this test binary as the peer: the parent sets `FLATIPC_PEER` and
//! runs the `peer_entry` test in a child process, which acts out the role and exits.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use flatipc::channel::{channel, ChannelOptions, Reader, RecvError, SendError, Writer};
use flatipc::prelude::*;
use flatipc::wait::WaitStrategy;

/// A 64-byte message: sequence number, checksum of the sequence, payload.
#[derive(
    Clone, Copy, Debug, PartialEq, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(id = 0x7701)]
#[repr(C)]
struct Msg {
    seq: u64,
    check: u64,
    payload: [u64; 6],
}

/// A different type, to test refusal at attach.
#[derive(Clone, Copy, Debug, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(id = 0x7701)]
#[repr(C)]
struct Other {
    seq: u64,
    value: f64,
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

fn msg(seq: u64) -> Msg {
    Msg { seq, check: checksum(seq), payload: [seq; 6] }
}

fn unique(name: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!("test-{name}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Removes the named segment when dropped.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = flatipc::segment::Segment::remove(&self.0);
    }
}

fn options(capacity: u64) -> ChannelOptions {
    ChannelOptions { capacity, wait: WaitStrategy::SpinThenPark { spins: 2_000 } }
}

// ---------------------------------------------------------------------------------------------
// The child side.

/// Not a test of its own: the body of every child process. Does nothing unless `FLATIPC_PEER`
/// is set.
#[test]
fn peer_entry() {
    let Ok(role) = std::env::var("FLATIPC_PEER") else { return };
    let name = std::env::var("FLATIPC_NAME").expect("FLATIPC_NAME");
    let count: u64 = std::env::var("FLATIPC_COUNT").ok().and_then(|c| c.parse().ok()).unwrap_or(0);
    match role.as_str() {
        // Sends `count` messages continuing from the ring's position, then exits.
        "writer" => {
            let mut w =
                Writer::<Msg>::open_or_create(&name, &options(1024)).expect("writer attaches");
            let start = w.position();
            for seq in start..start + count {
                w.send(&msg(seq)).expect("send");
            }
        }
        // Sends forever (until killed), slowly enough that the parent can kill it mid-stream.
        "endless-writer" => {
            let mut w =
                Writer::<Msg>::open_or_create(&name, &options(64)).expect("writer attaches");
            let mut seq = w.position();
            loop {
                w.send(&msg(seq)).expect("send");
                seq += 1;
                if seq % 64 == 0 {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        }
        // Reads forever, printing the first position it receives, until killed.
        "endless-reader" => {
            let mut r =
                Reader::<Msg>::open_or_create(&name, &options(64)).expect("reader attaches");
            let mut first = true;
            loop {
                match r.recv_timeout(Duration::from_secs(10)) {
                    Ok(m) => {
                        assert_eq!(m.check, checksum(m.seq));
                        if first {
                            println!("FIRST {}", m.seq);
                            first = false;
                        }
                    }
                    Err(e) => panic!("reader: {e}"),
                }
            }
        }
        // Attaches as writer and waits to be killed.
        "idle-writer" => {
            let _w = Writer::<Msg>::open_or_create(&name, &options(64)).expect("writer attaches");
            println!("READY");
            std::thread::sleep(Duration::from_secs(60));
        }
        other => panic!("unknown peer role {other}"),
    }
}

fn spawn(role: &str, name: &str, count: u64) -> Child {
    Command::new(std::env::current_exe().expect("test binary path"))
        .args(["peer_entry", "--exact", "--nocapture", "--test-threads=1", "-q"])
        .env("FLATIPC_PEER", role)
        .env("FLATIPC_NAME", name)
        .env("FLATIPC_COUNT", count.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn peer")
}

fn wait_for_line(child: &mut Child, prefix: &str) -> String {
    use std::io::BufRead;
    let stdout = child.stdout.as_mut().expect("piped stdout");
    let mut reader = std::io::BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            reader.read_line(&mut line).expect("read child output") > 0,
            "child exited before {prefix}"
        );
        if line.starts_with(prefix) {
            return line.trim().to_string();
        }
    }
}

fn kill(child: &mut Child) {
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
}

// ---------------------------------------------------------------------------------------------
// In-process behaviour.

#[test]
fn loan_commit_and_receive_in_place() {
    let (mut tx, mut rx) = channel::<Msg>(&options(4));
    assert!(matches!(rx.try_recv(), Err(RecvError::Empty)));
    let mut slot = tx.loan().unwrap();
    assert_eq!(*slot, Msg { seq: 0, check: 0, payload: [0; 6] }, "loans are zeroed");
    *slot = msg(7);
    slot.commit();
    let got = rx.try_recv().unwrap();
    assert_eq!(*got, msg(7));
    assert_eq!(got.position(), 0);
    drop(got);
    assert!(matches!(rx.try_recv(), Err(RecvError::Empty)));
}

#[test]
fn abandoned_loans_are_never_visible() {
    let (mut tx, mut rx) = channel::<Msg>(&options(4));
    {
        let mut slot = tx.loan().unwrap();
        *slot = msg(1);
        // Dropped without `commit`: abandoned.
    }
    assert!(matches!(rx.try_recv(), Err(RecvError::Empty)));
    tx.try_send(&msg(2)).unwrap();
    assert_eq!(rx.try_recv().unwrap().seq, 2);
}

#[test]
fn full_ring_reports_full_and_batches_work() {
    let (mut tx, mut rx) = channel::<Msg>(&options(4));
    let batch: Vec<Msg> = (0..10).map(msg).collect();
    assert_eq!(tx.try_send_batch(&batch).unwrap(), 4);
    assert_eq!(tx.try_send(&msg(99)), Err(SendError::Full));
    let mut seen = Vec::new();
    assert_eq!(rx.drain(|m| seen.push(m.seq)).unwrap(), 4);
    assert_eq!(seen, vec![0, 1, 2, 3]);
    assert_eq!(tx.try_send_batch(&batch[4..]).unwrap(), 4);
    assert_eq!(rx.drain(|m| seen.push(m.seq)).unwrap(), 4);
    assert_eq!(seen, (0..8).collect::<Vec<_>>());
}

#[test]
fn invalid_messages_are_reported_and_skipped() {
    let (mut tx, mut rx) = channel::<Flagged>(&options(4));
    tx.try_send(&Flagged { seq: 1, flag: Bool(9), _pad0: [0; 7] }).unwrap();
    tx.try_send(&Flagged { seq: 2, flag: Bool(1), _pad0: [0; 7] }).unwrap();
    match rx.try_recv() {
        Err(RecvError::Invalid { position: 0, error }) => assert_eq!(error.member, "flag"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(rx.try_recv().unwrap().seq, 2);
}

#[test]
fn threads_transfer_a_million_messages_in_order() {
    // Under Miri (which checks the two threads for data races) a few hundred messages suffice.
    const N: u64 = if cfg!(miri) { 300 } else { 1_000_000 };
    let (mut tx, mut rx) = channel::<Msg>(&options(256));
    let writer = std::thread::spawn(move || {
        for seq in 0..N {
            tx.send(&msg(seq)).unwrap();
        }
    });
    let mut expected = 0;
    while expected < N {
        let m = rx.recv_timeout(Duration::from_secs(10)).expect("message");
        assert_eq!((m.seq, m.check), (expected, checksum(expected)));
        expected += 1;
    }
    writer.join().unwrap();
    assert!(matches!(rx.recv_timeout(Duration::from_secs(5)), Err(RecvError::Disconnected)));
}

#[test]
fn parked_reader_is_woken_by_the_writer() {
    let (mut tx, mut rx) = channel::<Msg>(&ChannelOptions {
        capacity: 8,
        wait: WaitStrategy::SpinThenPark { spins: 10 },
    });
    let reader = std::thread::spawn(move || {
        let start = Instant::now();
        let seq = rx.recv_timeout(Duration::from_secs(10)).unwrap().seq;
        (seq, start.elapsed())
    });
    std::thread::sleep(Duration::from_millis(300));
    tx.try_send(&msg(5)).unwrap();
    let (seq, waited) = reader.join().unwrap();
    assert_eq!(seq, 5);
    assert!(waited < Duration::from_secs(5), "the reader slept through the wake-up");
}

#[test]
fn recv_timeout_times_out_while_the_writer_lives() {
    let (_tx, mut rx) = channel::<Msg>(&options(8));
    assert!(matches!(rx.recv_timeout(Duration::from_millis(50)), Err(RecvError::Timeout)));
}

// ---------------------------------------------------------------------------------------------
// Named segments and real processes.

#[test]
fn second_writer_is_refused() {
    let name = unique("second-writer");
    let _cleanup = Cleanup(name.clone());
    let _w = Writer::<Msg>::create(&name, &options(8)).unwrap();
    let err = Writer::<Msg>::open(&name, WaitStrategy::Spin).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("writer"), "{text}");
}

#[test]
fn attaching_with_another_type_is_refused() {
    let name = unique("type-mismatch");
    let _cleanup = Cleanup(name.clone());
    let _w = Writer::<Msg>::create(&name, &options(8)).unwrap();
    let err = Reader::<Other>::open(&name, WaitStrategy::Spin).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("Msg") && text.contains("Other"), "{text}");
}

#[test]
fn cross_process_stream_keeps_every_message_in_order() {
    let count: u64 = std::env::var("FLATIPC_STREAM_COUNT")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(10_000_000);
    let name = unique("stream");
    let _cleanup = Cleanup(name.clone());
    let mut rx = Reader::<Msg>::create(&name, &options(1024)).unwrap();
    let mut child = spawn("writer", &name, count);
    let mut expected = 0u64;
    let mut sum = 0u64;
    loop {
        match rx.drain(|m| {
            assert_eq!(
                (m.seq, m.check),
                (expected, checksum(expected)),
                "lost, duplicated or reordered"
            );
            sum = sum.wrapping_add(m.payload[5]);
            expected += 1;
        }) {
            Ok(0) => match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(m) => {
                    assert_eq!(m.seq, expected);
                    sum = sum.wrapping_add(m.payload[5]);
                    expected += 1;
                }
                Err(RecvError::Disconnected) => break,
                Err(e) => panic!("{e}"),
            },
            Ok(_) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert!(child.wait().unwrap().success());
    assert_eq!(expected, count);
    assert_eq!(sum, (0..count).fold(0u64, |a, s| a.wrapping_add(s)));
}

#[test]
fn sigkilled_writer_is_seen_as_disconnected_and_a_restarted_writer_continues() {
    let name = unique("kill-writer");
    let _cleanup = Cleanup(name.clone());
    let mut rx = Reader::<Msg>::create(&name, &options(64)).unwrap();
    let mut child = spawn("endless-writer", &name, 0);
    let mut expected = 0u64;
    while expected < 2_000 {
        let m = rx.recv_timeout(Duration::from_secs(10)).expect("message");
        assert_eq!(m.seq, expected);
        expected += 1;
    }
    kill(&mut child);
    // Drain what was committed before the kill, then Disconnected.
    loop {
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(m) => {
                assert_eq!((m.seq, m.check), (expected, checksum(expected)));
                expected += 1;
            }
            Err(RecvError::Disconnected) => break,
            Err(e) => panic!("{e}"),
        }
    }
    // A new writer continues after the last committed message. Until it attaches, the reader
    // keeps seeing the old writer's disconnect.
    let mut child = spawn("writer", &name, 500);
    let stop = expected + 500;
    let deadline = Instant::now() + Duration::from_secs(30);
    while expected < stop {
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(m) => {
                assert_eq!((m.seq, m.check), (expected, checksum(expected)));
                expected += 1;
            }
            Err(RecvError::Disconnected) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("waiting for the restarted writer: {e}"),
        }
    }
    assert!(child.wait().unwrap().success());
}

#[test]
fn sigkilled_reader_is_replaced_and_resumes() {
    let name = unique("kill-reader");
    let _cleanup = Cleanup(name.clone());
    let mut tx = Writer::<Msg>::create(&name, &options(64)).unwrap();
    let mut child = spawn("endless-reader", &name, 0);
    let mut seq = 0;
    while seq < 5_000 {
        tx.send_timeout(&msg(seq), Duration::from_secs(10)).expect("send");
        seq += 1;
    }
    kill(&mut child);
    let released = {
        // Whatever the dead reader released is gone; the rest is still in the ring.
        let mut child = spawn("endless-reader", &name, 0);
        for _ in 0..100 {
            tx.send_timeout(&msg(seq), Duration::from_secs(10)).expect("send after restart");
            seq += 1;
        }
        let first: u64 =
            wait_for_line(&mut child, "FIRST").trim_start_matches("FIRST ").parse().unwrap();
        kill(&mut child);
        first
    };
    assert!(
        released <= 5_000,
        "the new reader must resume at or before the old reader's position, got {released}"
    );
}

#[test]
fn stale_segment_of_a_sigkilled_writer_does_not_block_a_restart() {
    let name = unique("stale");
    let _cleanup = Cleanup(name.clone());
    let mut child = spawn("idle-writer", &name, 0);
    wait_for_line(&mut child, "READY");
    // While it lives, a second writer is refused.
    assert!(Writer::<Msg>::open_or_create(&name, &options(64)).is_err());
    kill(&mut child);
    let mut w = Writer::<Msg>::open_or_create(&name, &options(64))
        .expect("the dead writer's segment is reusable");
    w.try_send(&msg(0)).unwrap();
}

#[test]
fn scribbled_segments_give_errors_not_crashes() {
    use std::io::{Seek, SeekFrom, Write};
    let mut rng = 0x1234_5678_9abc_def0u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for round in 0..200 {
        let name = unique("scribble");
        let _cleanup = Cleanup(name.clone());
        {
            let mut w = Writer::<Msg>::create(&name, &options(8)).unwrap();
            for seq in 0..5 {
                w.try_send(&msg(seq)).unwrap();
            }
        }
        let path = flatipc::segment::Segment::path(&name);
        let mut file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let len = file.metadata().unwrap().len();
        for _ in 0..1 + round % 8 {
            // Mostly the header and control lines, sometimes the slots.
            let offset = if next() % 4 == 0 { next() % len } else { next() % 4096 };
            file.seek(SeekFrom::Start(offset)).unwrap();
            file.write_all(&next().to_le_bytes()[..1 + (next() % 8) as usize]).unwrap();
        }
        drop(file);
        // Whatever happens must be a value: Ok or Err, never a crash or a hang.
        if let Ok(mut r) = Reader::<Msg>::open(&name, WaitStrategy::Spin) {
            for _ in 0..20 {
                match r.try_recv() {
                    Ok(m) => {
                        let _ = m.seq;
                    }
                    Err(RecvError::Empty | RecvError::Disconnected) => break,
                    Err(_) => {}
                }
            }
        }
    }
}
