//! Read-only inspection (`flatipc::segment::inspect`): snapshots of live rings of every kind,
//! copies of their committed messages, dead peers, removal of unused segments, and the errors of
//! foreign, truncated and scribbled files.
//!
//! The killed-writer test re-runs this test binary as the writer: the parent sets
//! `FLATIPC_INSPECT_WRITER` and runs the `writer_entry` test in a child process.
#![cfg(target_os = "linux")]

use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use flatipc::broadcast::{BroadcastOptions, BroadcastWriter, Policy, ReaderOptions};
use flatipc::channel::{ChannelOptions, Reader, Writer};
use flatipc::prelude::*;
use flatipc::segment::inspect::{Copied, PeerRole, Read, ReaderPolicy, ReaderState, Removal};
use flatipc::stream::{
    view, InSet, MessageInfo, MessageSet, StreamOptions, StreamReader, StreamWriter, ViewError,
};
use flatipc::wait::WaitStrategy;
use flatipc::{Inspector, OpenError, RingKind, Segment};

/// Version 2 of a message whose `venue` was added in version 2 (version 1 is 16 bytes).
#[derive(
    Clone, Copy, Debug, PartialEq, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(id = 0x7A01, version = 2)]
#[repr(C)]
struct Tick {
    seq: u64,
    price: f64,
    #[flat(added = 2)]
    venue: u32,
    #[flat(padding)]
    _pad0: [u8; 4],
}

/// 24 bytes: a stream frame of 48.
#[derive(
    Clone, Copy, Debug, PartialEq, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(id = 0x7A02)]
#[repr(C)]
struct Note {
    seq: u64,
    text: [u8; 16],
}

/// A one-message library for the framed stream.
#[derive(Debug)]
struct Notes;

impl MessageSet for Notes {
    type View<'a> = &'a Note;
    const LIBRARY: &'static str = "test.inspect";
    const MESSAGES: &'static [MessageInfo] = &[MessageInfo::of::<Note>()];
    fn view(id: u32, bytes: &[u8]) -> Option<Result<&Note, ViewError>> {
        (id == 0x7A02).then(|| view::<Note>(bytes))
    }
}
impl InSet<Notes> for Note {}

fn tick(seq: u64) -> Tick {
    Tick { seq, price: seq as f64 * 0.5, venue: 7, _pad0: [0; 4] }
}

fn note(seq: u64) -> Note {
    Note { seq, text: [b'a' + (seq % 26) as u8; 16] }
}

fn unique(tag: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("test-inspect-{tag}-{}-{n}", std::process::id())
}

/// Removes the named segment when dropped.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Segment::remove(&self.0);
    }
}

/// Held while a test spawns a child process, and by the tests that check that a lock is free: a
/// child shares this process's open file descriptions (and so their locks) from its fork until
/// its `exec` closes them.
fn no_spawning() -> MutexGuard<'static, ()> {
    static SPAWNING: Mutex<()> = Mutex::new(());
    SPAWNING.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn channel_options(capacity: u64) -> ChannelOptions {
    ChannelOptions { capacity, wait: WaitStrategy::Spin }
}

/// Reads position `position`, which must be a whole message, and returns it with its bytes.
fn message(inspector: &Inspector, position: u64) -> (Copied, Vec<u8>) {
    let mut buf = Vec::new();
    match inspector.read(position, &mut buf) {
        Read::Message(copied) => (copied, buf),
        other => panic!("position {position}: expected a message, got {other:?}"),
    }
}

#[test]
fn a_live_typed_channel_shows_positions_peers_epochs_and_messages() {
    let _no_spawning = no_spawning();
    let name = unique("typed");
    let _cleanup = Cleanup(name.clone());
    let mut tx = Writer::<Tick>::create(&name, &channel_options(8)).unwrap();
    let mut rx = Reader::<Tick>::open(&name, WaitStrategy::Spin).unwrap();
    for seq in 0..6 {
        tx.try_send(&tick(seq)).unwrap();
    }
    for _ in 0..2 {
        drop(rx.try_recv().unwrap());
    }

    let inspector = Inspector::open(&name).unwrap();
    let snap = inspector.snapshot();
    assert_eq!((snap.kind, snap.capacity, snap.slot_size), (RingKind::TypedChannel, 8, 64));
    assert_eq!((snap.write_pos, snap.read_pos, snap.lag()), (6, Some(2), Some(4)));
    assert_eq!(snap.messages.len(), 1);
    assert_eq!((snap.messages[0].id, snap.messages[0].size), (0x7A01, 24));
    assert_eq!(snap.messages[0].steps().iter().map(|s| s.0).collect::<Vec<_>>(), [1, 2]);
    let me = u64::from(std::process::id());
    assert_eq!(snap.creator_pid, me);
    assert!(snap.creator_alive, "the writer created it and is attached");
    for peer in &snap.peers {
        assert_eq!((peer.pid, peer.attached, peer.alive), (me, true, true), "{peer:?}");
    }
    assert_eq!(snap.peers[0].role, PeerRole::Writer);
    assert_eq!(snap.epochs_recorded, 1);
    assert_eq!((snap.epochs[0].start, snap.epochs[0].version, snap.epochs[0].size), (0, 2, 24));
    assert!(snap.problems.is_empty(), "{:?}", snap.problems);
    assert!(snap.readers.is_empty());

    // Released messages are still in their slots until the writer reuses them.
    assert_eq!(inspector.oldest(), 0);
    for seq in 0..6 {
        let (copied, bytes) = message(&inspector, seq);
        assert_eq!((copied.position, copied.next, copied.id), (seq, seq + 1, 0x7A01));
        assert_eq!((copied.version, copied.size), (Some(2), 24));
        assert_eq!(bytes, tick(seq).as_bytes());
    }
    assert_eq!(inspector.read(6, &mut Vec::new()), Read::Pending);

    // The writer laps released positions: they are lost, the rest are intact.
    for _ in 0..4 {
        drop(rx.try_recv().unwrap());
    }
    for seq in 6..14 {
        tx.try_send(&tick(seq)).unwrap();
    }
    // Full: read_pos 6, write_pos 14; position 6 is not released, so its slot is stable.
    assert_eq!(inspector.oldest(), 6);
    assert_eq!(message(&inspector, 6).1, tick(6).as_bytes());
    assert_eq!(inspector.read(5, &mut Vec::new()), Read::Lost { resume: 6 });
    for _ in 0..4 {
        drop(rx.try_recv().unwrap());
    }
    // read_pos 10: the writer may now be writing position 14 into position 6's slot.
    assert_eq!(inspector.oldest(), 7);
    assert_eq!(inspector.read(6, &mut Vec::new()), Read::Lost { resume: 7 });
    assert_eq!(message(&inspector, 7).1, tick(7).as_bytes());
    assert_eq!(message(&inspector, 13).1, tick(13).as_bytes());

    // A clean detach clears `attached` and the lock.
    drop(tx);
    let snap = inspector.snapshot();
    let writer = &snap.peers[0];
    assert_eq!((writer.attached, writer.alive), (false, false));
    assert!(!snap.creator_alive);
    assert!(snap.any_alive(), "the reader is still attached");
    assert_eq!(Segment::remove_if_unused(&name, true).unwrap(), Removal::InUse);
    drop(rx);
    assert!(!inspector.snapshot().any_alive());
    assert!(inspector.still_linked());
}

#[test]
fn a_framed_stream_is_read_from_its_reader_position_across_padding() {
    let name = unique("stream");
    let _cleanup = Cleanup(name.clone());
    let options = StreamOptions { capacity: 256, wait: WaitStrategy::Spin };
    let mut tx = StreamWriter::<Notes>::create(&name, &options).unwrap();
    let mut rx = StreamReader::<Notes>::open(&name, WaitStrategy::Spin).unwrap();
    for seq in 0..5 {
        tx.try_send(&note(seq)).unwrap(); // frames of 48 bytes: 0, 48, ..., 192
    }
    for _ in 0..5 {
        drop(rx.try_recv().unwrap());
    }
    // 16 bytes are left before the end of the ring: a padding frame, then the frame at 256.
    tx.try_send(&note(5)).unwrap();
    let inspector = Inspector::open(&name).unwrap();
    let snap = inspector.snapshot();
    assert_eq!(
        (snap.kind, snap.write_pos, snap.read_pos),
        (RingKind::FramedStream, 304, Some(240))
    );
    assert_eq!(inspector.oldest(), 240);
    assert_eq!(inspector.read(240, &mut Vec::new()), Read::Padding { next: 256 });
    let (copied, bytes) = message(&inspector, 256);
    assert_eq!((copied.next, copied.id, copied.version, copied.size), (304, 0x7A02, Some(1), 24));
    assert_eq!(bytes, note(5).as_bytes());
    // Released frames the writer cannot be about to overwrite are still readable...
    assert_eq!(message(&inspector, 192).1, note(4).as_bytes());
    // ... older ones may be: reading resumes at the reader's position.
    assert_eq!(inspector.read(0, &mut Vec::new()), Read::Lost { resume: 240 });
    assert_eq!(inspector.read(304, &mut Vec::new()), Read::Pending);
    assert!(matches!(
        inspector.read(248, &mut Vec::new()),
        Read::Corrupt { .. } | Read::Lost { .. }
    ));
}

#[test]
fn a_broadcast_ring_shows_its_readers_and_copies_with_the_sequence_words() {
    let _no_spawning = no_spawning();
    let name = unique("broadcast");
    let _cleanup = Cleanup(name.clone());
    let options = BroadcastOptions { capacity: 4, max_readers: 3, wait: WaitStrategy::Spin };
    let mut tx = BroadcastWriter::<Tick>::create(&name, &options).unwrap();
    let lossy = ReaderOptions { policy: Policy::Lossy, ..ReaderOptions::default() };
    let mut slow = tx.subscribe(&lossy).unwrap();
    let tethered = tx.subscribe(&ReaderOptions::default()).unwrap();
    for seq in 0..3 {
        tx.try_send(&tick(seq)).unwrap();
    }
    drop(tethered);
    for seq in 3..10 {
        tx.try_send(&tick(seq)).unwrap();
    }
    assert_eq!(slow.try_recv().unwrap().seq, 7);

    let inspector = Inspector::open(&name).unwrap();
    let snap = inspector.snapshot();
    assert_eq!((snap.kind, snap.write_pos, snap.read_pos), (RingKind::Broadcast, 10, None));
    assert_eq!(snap.readers.len(), 2, "{:?}", snap.readers);
    let (first, second) = (&snap.readers[0], &snap.readers[1]);
    assert_eq!(
        (first.state, first.policy, first.alive),
        (ReaderState::Active, ReaderPolicy::Lossy, true)
    );
    assert_eq!((first.read_pos, first.missed), (8, 7));
    assert_eq!((second.state, second.alive), (ReaderState::Free, false));
    assert_eq!(snap.peers[1].role, PeerRole::Reader);
    assert_eq!((snap.epochs_recorded, snap.epochs[0].version, snap.epochs[0].size), (1, 2, 24));
    assert!(snap.peers[1].alive, "a reader holds the shared reader lock");

    assert_eq!(inspector.oldest(), 7);
    assert_eq!(inspector.read(6, &mut Vec::new()), Read::Lost { resume: 7 });
    for seq in 7..10 {
        let (copied, bytes) = message(&inspector, seq);
        assert_eq!((copied.id, copied.version, copied.size), (0x7A01, Some(2), 24));
        assert_eq!(bytes, tick(seq).as_bytes());
    }
    assert_eq!(inspector.read(10, &mut Vec::new()), Read::Pending);
}

const WRITER_ENV: &str = "FLATIPC_INSPECT_WRITER";

/// Not a test of its own: the body of the child process of `a_killed_writer_...`. Creates a
/// channel, sends 3 messages, says `ready` and waits to be killed. Does nothing unless
/// `FLATIPC_INSPECT_WRITER` is set.
#[test]
fn writer_entry() {
    let Ok(name) = std::env::var(WRITER_ENV) else { return };
    let mut tx = Writer::<Tick>::create(&name, &channel_options(8)).unwrap();
    for seq in 0..3 {
        tx.try_send(&tick(seq)).unwrap();
    }
    println!("ready");
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn a_killed_writer_is_dead_and_its_segment_is_removed_only_then() {
    let name = unique("killed");
    let _cleanup = Cleanup(name.clone());
    let spawning = no_spawning();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "writer_entry", "--nocapture"])
        .env(WRITER_ENV, &name)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    assert!(stdout.lines().map_while(Result::ok).any(|l| l.trim() == "ready"));
    drop(spawning); // the child has run `exec`

    let snap = Segment::inspect(&name).unwrap();
    let pid = u64::from(child.id());
    assert_eq!((snap.creator_pid, snap.peers[0].pid, snap.peers[0].alive), (pid, pid, true));
    assert_eq!(Segment::remove_if_unused(&name, false).unwrap(), Removal::InUse);

    child.kill().unwrap(); // SIGKILL: no destructor runs
    child.wait().unwrap();
    let snap = Segment::inspect(&name).unwrap();
    let writer = &snap.peers[0];
    assert_eq!((writer.pid, writer.attached, writer.alive), (pid, true, false), "crashed");
    assert!(!snap.any_alive());
    assert_eq!(snap.write_pos, 3);
    assert_eq!(Segment::remove_if_unused(&name, true).unwrap(), Removal::Removed { ready: true });
    assert!(Segment::path(&name).exists(), "a dry run removes nothing");
    assert_eq!(Segment::remove_if_unused(&name, false).unwrap(), Removal::Removed { ready: true });
    assert!(matches!(Segment::inspect(&name), Err(OpenError::NotFound { .. })));
}

/// Writes `bytes` at `offset` of the segment file.
fn scribble(name: &str, offset: u64, bytes: &[u8]) {
    let mut file = OpenOptions::new().write(true).open(Segment::path(name)).unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.write_all(bytes).unwrap();
}

/// Creates a file of `len` bytes of `byte` as segment `name`, mode 0600.
fn foreign(name: &str, len: usize, byte: u8) {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(Segment::path(name))
        .unwrap();
    file.write_all(&vec![byte; len]).unwrap();
}

fn bad_field(name: &str) -> &'static str {
    match Inspector::open(name) {
        Err(OpenError::BadHeader { field, .. }) => field,
        other => panic!("expected a bad header, got {other:?}"),
    }
}

#[test]
fn scribbled_foreign_and_truncated_files_are_bad_headers_naming_the_field() {
    let name = unique("scribbled");
    let _cleanup = Cleanup(name.clone());
    drop(Writer::<Tick>::create(&name, &channel_options(8)).unwrap());
    assert!(Inspector::open(&name).is_ok());
    scribble(&name, 32, &3u64.to_le_bytes()); // capacity: not a power of two
    assert_eq!(bad_field(&name), "capacity");
    let err = Inspector::open(&name).unwrap_err().to_string();
    assert!(err.contains("capacity is 3"), "{err}");
    // Corrupt files are left alone by removal, even with no process attached.
    assert!(matches!(Segment::remove_if_unused(&name, false), Err(OpenError::BadHeader { .. })));
    assert!(Segment::path(&name).exists());
    scribble(&name, 0, b"NOTFLAT!");
    assert_eq!(bad_field(&name), "magic");

    let other = unique("foreign");
    let _cleanup_other = Cleanup(other.clone());
    foreign(&other, 8192, b'x');
    assert_eq!(bad_field(&other), "magic");
    fs::remove_file(Segment::path(&other)).unwrap();
    foreign(&other, 100, 0);
    assert_eq!(bad_field(&other), "file size");

    // A scribbled ring line is reported, not followed.
    let lines = unique("lines");
    let _cleanup_lines = Cleanup(lines.clone());
    drop(Writer::<Tick>::create(&lines, &channel_options(8)).unwrap());
    scribble(&lines, 2560, &5u64.to_le_bytes()); // write_pos 5
    scribble(&lines, 2688, &9u64.to_le_bytes()); // read_pos 9 > write_pos
    let snap = Segment::inspect(&lines).unwrap();
    assert_eq!(snap.lag(), None);
    assert!(snap.problems[0].contains("read_pos 9, write_pos 5"), "{:?}", snap.problems);

    let missing = unique("missing");
    assert!(matches!(Inspector::open(&missing), Err(OpenError::NotFound { .. })));
    assert!(matches!(Inspector::open("../etc"), Err(OpenError::InvalidName { .. })));
}
