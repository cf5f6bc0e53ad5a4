//! Schema evolution on framed streams (`docs/EVOLUTION.md` §4 and §5): peers built from version 1
//! and version 2 of one library share a stream in either direction; peers whose version 2
//! diverged are refused at attach. The libraries are in `versions/mod.rs`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use flatipc::prelude::*;
use flatipc::stream::{
    MessageInfo, MessageSet, RecvError, StreamOptions, StreamReader, StreamWriter,
};
use flatipc::wait::WaitStrategy;
use flatipc::{Expect, MessageEntry, OpenError, RingKind, Segment, SegmentSpec};

mod versions;

use versions::{unique, v1, v1_quote, v2, v2_diverged, v2_quote, Cleanup};

struct Counting;

thread_local! {
    /// Allocations made by this thread (const-initialised, no destructor: usable by the
    /// allocator without allocating).
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so `System`'s
// guarantees hold; the counter is a side effect that cannot affect the returned memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // `try_with`: the slot is gone while the thread is being torn down.
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; `ptr` was allocated by `System` through `alloc` above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn options() -> StreamOptions {
    StreamOptions { capacity: 4096, wait: WaitStrategy::SpinThenPark { spins: 2_000 } }
}

/// Marks segment `name` ready (`state = READY`) the way the ring layer does after creating it.
fn make_ready(name: &str) {
    use std::io::{Seek, SeekFrom, Write};
    let mut file = std::fs::OpenOptions::new().write(true).open(Segment::path(name)).unwrap();
    file.seek(SeekFrom::Start(12)).unwrap();
    file.write_all(&0x5944_4552u32.to_le_bytes()).unwrap();
}

fn expect_stream<S: MessageSet>() -> Expect {
    Expect { kind: RingKind::FramedStream, messages: S::MESSAGES.iter().map(Into::into).collect() }
}

#[test]
fn the_versions_and_steps_are_those_of_the_attributes() {
    assert_eq!((v1::Quote::VERSION, v2::Quote::VERSION), (1, 2));
    let [v1_step] = v1::Quote::STEPS else { panic!("one step") };
    let [first, second] = v2::Quote::STEPS else { panic!("two steps") };
    assert_eq!(first, v1_step, "version 1 of v2's Quote is v1's Quote");
    assert_eq!((second.version, second.size), (2, 24));
    let [diverged_first, diverged] = v2_diverged::Quote::STEPS else { panic!("two steps") };
    assert_eq!(diverged_first, v1_step);
    assert_ne!(diverged.fingerprint, second.fingerprint);
    assert_eq!(MessageInfo::of::<v2::Quote>().steps, v2::Quote::STEPS);
    assert_eq!(MessageInfo::of::<v2::Quote>().version, 2);
}

fn check_v1_frames_through_a_v2_reader(rx: &mut StreamReader<v2::Lib>, seqs: std::ops::Range<u64>) {
    for seq in seqs {
        let frame = rx.recv_timeout(Duration::from_secs(10)).expect("a frame");
        assert_eq!(frame.version(), 1);
        assert_eq!(frame.bytes().len(), 16, "the writer's bytes");
        assert!(!v2::Quote::has_bid_size(frame.version()));
        let want = v2::Quote { bid_size: 0, ask_size: 0, ..v2_quote(seq) };
        match frame.message() {
            Some(Ok(v2::Any::Quote(q))) => assert_eq!(*q, want, "zero-extended"),
            other => panic!("expected a Quote, got {other:?}"),
        }
        assert_eq!(frame.get::<v2::Quote>(), Some(Ok(&want)));
    }
}

#[test]
fn a_v1_writer_and_a_v2_reader_share_a_stream() {
    let name = unique("v1-to-v2");
    let _cleanup = Cleanup(name.clone());
    let mut tx = StreamWriter::<v1::Lib>::create(&name, &options()).unwrap();
    let mut rx = StreamReader::<v2::Lib>::open(&name, options().wait).unwrap();
    // An unchanged message in between is read in place, whatever the versions.
    for seq in 0..3 {
        tx.try_send(&v1_quote(seq)).unwrap();
        tx.try_send(&v1::Other { seq }).unwrap();
    }
    for seq in 0..3 {
        check_v1_frames_through_a_v2_reader(&mut rx, seq..seq + 1);
        let frame = rx.try_recv().unwrap();
        assert_eq!(frame.version(), 1);
        assert!(matches!(frame.message(), Some(Ok(v2::Any::Other(o))) if o.seq == seq));
    }
}

#[test]
fn zero_extending_and_reading_in_place_do_not_allocate() {
    let name = unique("no-alloc");
    let _cleanup = Cleanup(name.clone());
    let mut tx = StreamWriter::<v1::Lib>::create(&name, &options()).unwrap();
    let mut rx = StreamReader::<v2::Lib>::open(&name, options().wait).unwrap();
    // Warm up: the first frame of each kind, then count the steady state.
    tx.try_send(&v1_quote(0)).unwrap();
    check_v1_frames_through_a_v2_reader(&mut rx, 0..1);
    let before = allocations();
    for seq in 1..100 {
        tx.try_send(&v1_quote(seq)).unwrap();
        let frame = rx.try_recv().unwrap();
        let Some(Ok(v2::Any::Quote(q))) = frame.message() else { panic!("a Quote") };
        assert_eq!((q.seq, q.bid_size), (seq, 0));
    }
    assert_eq!(allocations(), before, "steady state allocated");
}

#[test]
fn a_v2_writer_and_a_v1_reader_share_a_stream_in_place() {
    let name = unique("v2-to-v1");
    let _cleanup = Cleanup(name.clone());
    let mut rx = StreamReader::<v1::Lib>::create(&name, &options()).unwrap();
    let mut tx = StreamWriter::<v2::Lib>::open(&name, options().wait).unwrap();
    for seq in 0..3 {
        tx.try_send(&v2_quote(seq)).unwrap();
    }
    for seq in 0..3 {
        let frame = rx.try_recv().unwrap();
        assert_eq!((frame.version(), frame.bytes().len()), (2, 24));
        let Some(Ok(v1::Any::Quote(q))) = frame.message() else { panic!("a Quote") };
        assert_eq!(*q, v1_quote(seq));
        assert!(std::ptr::eq(q.as_bytes().as_ptr(), frame.bytes().as_ptr()), "in place");
        assert_eq!(frame.get::<v1::Quote>(), Some(Ok(&v1_quote(seq))));
    }
    // The writer recorded its steps: the entry now describes version 2.
    let segment = Segment::open(&name, &expect_stream::<v1::Lib>()).unwrap();
    let quote = segment.messages().into_iter().find(|m| m.id == 0x10).unwrap();
    assert_eq!((quote.versions, quote.size), ([1, 2, 0, 0], 24));
    assert_eq!(quote.fingerprint, v2::Quote::FINGERPRINT);
    assert_eq!(quote.fingerprints[..2], [v1::Quote::FINGERPRINT, v2::Quote::FINGERPRINT]);
}

#[test]
fn a_diverged_version_2_is_refused() {
    let name = unique("diverged");
    let _cleanup = Cleanup(name.clone());
    let _tx = StreamWriter::<v2::Lib>::create(&name, &options()).unwrap();
    let err = StreamReader::<v2_diverged::Lib>::open(&name, options().wait).unwrap_err();
    match &err {
        OpenError::VersionMismatch { message, version: 2, .. } => assert_eq!(message, "Quote"),
        other => panic!("expected VersionMismatch, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("version 2") && text.contains("flatipc-gen compat"), "{text}");
    // A version 1 peer shares only version 1, which agrees.
    StreamReader::<v1::Lib>::open(&name, options().wait).unwrap();
}

#[test]
fn a_diverged_writer_cannot_take_over_a_v2_ring() {
    let name = unique("diverged-writer");
    let _cleanup = Cleanup(name.clone());
    let _rx = StreamReader::<v2::Lib>::create(&name, &options()).unwrap();
    let err = StreamWriter::<v2_diverged::Lib>::open(&name, options().wait).unwrap_err();
    assert!(matches!(err, OpenError::VersionMismatch { version: 2, .. }), "{err:?}");
}

#[test]
fn a_diverged_writer_is_refused_after_another_v2_writer_merged() {
    let name = unique("merged");
    let _cleanup = Cleanup(name.clone());
    let _rx = StreamReader::<v1::Lib>::create(&name, &options()).unwrap();
    drop(StreamWriter::<v2::Lib>::open(&name, options().wait).unwrap());
    let err = StreamWriter::<v2_diverged::Lib>::open(&name, options().wait).unwrap_err();
    assert!(matches!(err, OpenError::VersionMismatch { version: 2, .. }), "{err:?}");
}

#[test]
fn a_reader_checks_a_writer_that_attached_after_it() {
    let name = unique("late-writer");
    let _cleanup = Cleanup(name.clone());
    let tx = StreamWriter::<v1::Lib>::create(&name, &options()).unwrap();
    let mut rx = StreamReader::<v2::Lib>::open(&name, options().wait).unwrap();
    drop(tx);
    // The segment records only version 1, so the diverged writer's own check passes; it merges
    // its version 2, and the reader meets it in the first version 2 frame.
    let mut tx = StreamWriter::<v2_diverged::Lib>::open(&name, options().wait).unwrap();
    let quote = v2_diverged::Quote { seq: 1, bid: 2, ask: 3, venue_ts: 4 };
    tx.try_send(&quote).unwrap();
    tx.try_send(&v2_diverged::Other { seq: 5 }).unwrap();
    match rx.try_recv() {
        Err(RecvError::VersionMismatch { position: 0, id: 0x10, version: 2 }) => {}
        other => panic!("expected VersionMismatch, got {other:?}"),
    }
    // The frame was skipped; the unchanged message still arrives.
    let frame = rx.try_recv().unwrap();
    assert!(matches!(frame.message(), Some(Ok(v2::Any::Other(o))) if o.seq == 5));
}

#[test]
fn a_reader_accepts_a_compatible_writer_that_attached_after_it() {
    let name = unique("late-compatible");
    let _cleanup = Cleanup(name.clone());
    let tx = StreamWriter::<v1::Lib>::create(&name, &options()).unwrap();
    let mut rx = StreamReader::<v1::Lib>::open(&name, options().wait).unwrap();
    drop(tx);
    let mut tx = StreamWriter::<v2::Lib>::open(&name, options().wait).unwrap();
    tx.try_send(&v2_quote(3)).unwrap();
    let frame = rx.try_recv().unwrap();
    assert_eq!(frame.version(), 2);
    assert_eq!(frame.get::<v1::Quote>(), Some(Ok(&v1_quote(3))));
}

#[test]
fn an_entry_without_versions_is_version_1() {
    let name = unique("old-format");
    let _cleanup = Cleanup(name.clone());
    // A segment as a build without versions writes it: `versions` (was `reserved`) all zero.
    let messages: Vec<MessageEntry> = v1::Lib::MESSAGES
        .iter()
        .map(|m| MessageEntry { versions: [0; 4], fingerprints: [0; 4], ..m.into() })
        .collect();
    let spec = SegmentSpec {
        kind: RingKind::FramedStream,
        capacity: 4096,
        slot_size: 0,
        messages,
        max_readers: 0,
    };
    let creator = Segment::create(&name, &spec).unwrap();
    make_ready(&name);
    let mut rx = StreamReader::<v2::Lib>::open(&name, options().wait).unwrap();
    let mut tx = StreamWriter::<v1::Lib>::open(&name, options().wait).unwrap();
    tx.try_send(&v1_quote(5)).unwrap();
    check_v1_frames_through_a_v2_reader(&mut rx, 5..6);
    drop((tx, rx));
    // A v2 writer merges its steps into the old entry.
    drop(StreamWriter::<v2::Lib>::open(&name, options().wait).unwrap());
    let quote = creator.messages().into_iter().find(|m| m.id == 0x10).unwrap();
    assert_eq!((quote.versions, quote.size), ([1, 2, 0, 0], 24));
}

#[test]
fn an_entry_without_versions_and_another_layout_is_a_type_mismatch() {
    let name = unique("old-mismatch");
    let _cleanup = Cleanup(name.clone());
    let messages: Vec<MessageEntry> = v1::Lib::MESSAGES
        .iter()
        .map(|m| MessageEntry {
            fingerprint: m.fingerprint ^ 1,
            versions: [0; 4],
            fingerprints: [0; 4],
            ..m.into()
        })
        .collect();
    let spec = SegmentSpec {
        kind: RingKind::FramedStream,
        capacity: 4096,
        slot_size: 0,
        messages,
        max_readers: 0,
    };
    let _creator = Segment::create(&name, &spec).unwrap();
    make_ready(&name);
    let err = StreamReader::<v2::Lib>::open(&name, options().wait).unwrap_err();
    assert!(matches!(err, OpenError::TypeMismatch { .. }), "{err:?}");
}

/// Not a test of its own: the body of the child process. Does nothing unless
/// `FLATIPC_EVOLUTION_PEER` is set.
#[test]
fn peer_entry() {
    let Ok(name) = std::env::var("FLATIPC_EVOLUTION_PEER") else { return };
    let mut tx = StreamWriter::<v1::Lib>::open(&name, options().wait).expect("attach");
    for seq in 0..100 {
        tx.send(&v1_quote(seq)).expect("send");
    }
}

#[test]
fn a_v1_writer_process_and_a_v2_reader_process_share_a_stream() {
    let name = unique("processes");
    let _cleanup = Cleanup(name.clone());
    let mut rx = StreamReader::<v2::Lib>::create(&name, &options()).unwrap();
    let mut child = Command::new(std::env::current_exe().expect("test binary path"))
        .args(["peer_entry", "--exact", "--nocapture", "--test-threads=1", "-q"])
        .env("FLATIPC_EVOLUTION_PEER", &name)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn peer");
    check_v1_frames_through_a_v2_reader(&mut rx, 0..100);
    let status = child.wait().expect("child exit");
    let mut out = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        out.push_str(&line.unwrap());
    }
    assert!(status.success(), "child failed: {out}");
}
