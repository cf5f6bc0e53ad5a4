//! Segment files: create/open round trips, permissions, names, every header-field corruption,
//! random files, full `/dev/shm`, type mismatches and stale-segment recovery.
#![cfg(target_os = "linux")]

use std::fs;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::sync::atomic::{AtomicU64, Ordering};

use flatipc::{Expect, MessageEntry, OpenError, RingKind, Segment, SegmentSpec};

/// `state = READY`, little-endian (`docs/PROTOCOL.md`).
const READY: u32 = 0x5944_4552;

fn unique(tag: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("it-{}-{tag}-{n}", std::process::id())
}

/// Removes the segment when the test ends, however it ends.
struct Cleanup(String);
impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Segment::remove(&self.0);
    }
}

fn quote() -> MessageEntry {
    MessageEntry {
        fingerprint: 0x1234_5678_9abc_def0,
        id: 0x1001,
        size: 48,
        align: 8,
        name: "Quote".into(),
        versions: [0; 4],
        fingerprints: [0; 4],
    }
}

fn spec() -> SegmentSpec {
    SegmentSpec::typed_channel(16, quote())
}

fn expect() -> Expect {
    Expect { kind: RingKind::TypedChannel, messages: vec![quote()] }
}

/// Writes `bytes` at `offset` of segment `name`'s file, as a foreign process could.
fn poke(name: &str, offset: u64, bytes: &[u8]) {
    let file = fs::OpenOptions::new().write(true).open(Segment::path(name)).unwrap();
    file.write_all_at(bytes, offset).unwrap();
}

/// Marks the segment ready the way the ring layer's `publish_ready` does.
fn make_ready(name: &str) {
    poke(name, 12, &READY.to_le_bytes());
}

/// A created, ready segment (the creator handle is dropped: no lock is held).
fn ready_segment(tag: &str) -> (Cleanup, String) {
    let name = unique(tag);
    let cleanup = Cleanup(name.clone());
    drop(Segment::create(&name, &spec()).unwrap());
    make_ready(&name);
    (cleanup, name)
}

#[test]
fn create_then_open_round_trips_the_header() {
    let name = unique("round-trip");
    let _cleanup = Cleanup(name.clone());
    let created = Segment::create(&name, &spec()).unwrap();
    assert_eq!(
        (created.name(), created.kind(), created.capacity()),
        (name.as_str(), RingKind::TypedChannel, 16)
    );

    let path = Segment::path(&name);
    let meta = fs::metadata(&path).unwrap();
    assert_eq!(meta.len(), spec().segment_size());
    assert_eq!(meta.len(), 8192, "4096 + 16 × 64, rounded up to a page");
    assert_eq!(meta.mode() & 0o7777, 0o600);
    assert_eq!(meta.uid(), fs::metadata("/proc/self").unwrap().uid());
    let header = fs::read(&path).unwrap();
    assert_eq!(&header[0..8], b"FLATIPC\x01");
    assert_eq!(header[20..22], [8, 1]);
    assert_eq!(u32::from_le_bytes(header[12..16].try_into().unwrap()), 0, "not READY yet");
    assert_eq!(
        u64::from_le_bytes(header[56..64].try_into().unwrap()),
        u64::from(std::process::id())
    );
    assert_eq!(&header[152..158], b"Quote\0");

    assert!(matches!(Segment::open(&name, &expect()), Err(OpenError::NotReady { .. })));
    make_ready(&name);
    let opened = Segment::open(&name, &expect()).unwrap();
    assert_eq!(
        (opened.kind(), opened.capacity(), opened.slot_size()),
        (RingKind::TypedChannel, 16, 64)
    );
    assert_eq!(opened.messages(), vec![quote()]);
    // A tool may open without naming a type.
    Segment::open(&name, &Expect { kind: RingKind::TypedChannel, messages: vec![] }).unwrap();
}

#[test]
fn spec_sizes() {
    let typed = SegmentSpec {
        kind: RingKind::TypedChannel,
        capacity: 4,
        slot_size: 128,
        messages: vec![quote()],
        max_readers: 0,
    };
    assert_eq!((typed.data_size(), typed.segment_size()), (512, 8192));
    let stream = SegmentSpec {
        kind: RingKind::FramedStream,
        capacity: 1 << 20,
        slot_size: 0,
        messages: vec![quote()],
        max_readers: 0,
    };
    assert_eq!((stream.data_size(), stream.segment_size()), (1 << 20, 4096 + (1 << 20)));
    assert_eq!(SegmentSpec::typed_channel(2, MessageEntry { size: 65, ..quote() }).slot_size, 128);
    // A broadcast ring: slots, a sequence word per slot, then the reader table (page aligned),
    // 64 bytes per reader.
    let broadcast = SegmentSpec::broadcast(4, 3, quote());
    assert_eq!(broadcast.slot_size, 64);
    assert_eq!((broadcast.data_size(), broadcast.segment_size()), (4096 + 3 * 64, 12288));
    assert!(broadcast.validate().is_ok());
    let big = SegmentSpec::broadcast(64, 1, MessageEntry { size: 65, ..quote() });
    assert_eq!(big.slot_size, 128);
    assert_eq!(big.data_size(), (64 * 128 + 64 * 8_u64).next_multiple_of(4096) + 64);
}

#[test]
fn invalid_specs_are_refused() {
    let cases = [
        SegmentSpec { capacity: 3, ..spec() },
        SegmentSpec { capacity: 1, ..spec() },
        SegmentSpec { slot_size: 100, ..spec() },
        SegmentSpec { slot_size: 0, ..spec() },
        SegmentSpec { messages: vec![], ..spec() },
        SegmentSpec { messages: vec![quote(), quote()], ..spec() },
        SegmentSpec { messages: vec![MessageEntry { size: 65, ..quote() }], ..spec() },
        SegmentSpec { messages: vec![MessageEntry { align: 3, ..quote() }], ..spec() },
        SegmentSpec { capacity: 1 << 62, ..spec() },
        SegmentSpec { kind: RingKind::FramedStream, ..spec() },
        SegmentSpec { max_readers: 1, ..spec() },
        SegmentSpec::broadcast(4, 0, quote()),
        SegmentSpec::broadcast(4, 65, quote()),
        SegmentSpec {
            slot_size: 64,
            ..SegmentSpec::broadcast(4, 1, MessageEntry { size: 65, ..quote() })
        },
        SegmentSpec {
            messages: vec![MessageEntry { align: 128, ..quote() }],
            ..SegmentSpec::broadcast(4, 1, quote())
        },
        SegmentSpec {
            kind: RingKind::FramedStream,
            slot_size: 0,
            messages: vec![quote(); 33],
            ..spec()
        },
    ];
    for case in cases {
        let name = unique("bad-spec");
        let err = Segment::create(&name, &case).unwrap_err();
        assert!(matches!(err, OpenError::InvalidSpec { .. }), "{case:?}: {err}");
        assert!(!Segment::path(&name).exists());
    }
}

#[test]
fn names_are_checked() {
    for bad in ["", ".hidden", "a/b", "a b", "é", "x\0", &"n".repeat(101)] {
        let err = Segment::create(bad, &spec()).unwrap_err();
        assert!(matches!(err, OpenError::InvalidName { .. }), "{bad:?}: {err}");
        assert!(err.to_string().contains("A-Z, a-z, 0-9"), "{err}");
        assert!(matches!(Segment::open(bad, &expect()), Err(OpenError::InvalidName { .. })));
    }
    for good in ["-dash", "_x.y-z", &format!("{}{}", unique("long"), "n".repeat(60))] {
        let _cleanup = Cleanup(good.to_string());
        Segment::create(good, &spec()).unwrap_or_else(|e| panic!("{good:?}: {e}"));
    }
}

#[test]
fn create_is_exclusive() {
    let name = unique("exclusive");
    let _cleanup = Cleanup(name.clone());
    let _first = Segment::create(&name, &spec()).unwrap();
    let err = Segment::create(&name, &spec()).unwrap_err();
    assert!(matches!(err, OpenError::AlreadyExists { .. }), "{err}");
    assert!(err.to_string().contains(&Segment::path(&name).display().to_string()));
}

#[test]
fn opening_a_missing_segment_says_so() {
    let err = Segment::open(&unique("missing"), &expect()).unwrap_err();
    assert!(matches!(err, OpenError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("open_or_create"));
}

/// One corruption: bytes written at an offset, and the error it must produce.
struct Corruption {
    offset: u64,
    bytes: Vec<u8>,
    check: fn(&OpenError) -> bool,
}

fn field(name: &'static str) -> impl Fn(&OpenError) -> bool {
    move |e| matches!(e, OpenError::BadHeader { field, .. } if *field == name)
}

#[test]
fn every_header_field_is_validated() {
    let le32 = |v: u32| v.to_le_bytes().to_vec();
    let le64 = |v: u64| v.to_le_bytes().to_vec();
    let size = spec().segment_size();
    #[rustfmt::skip]
    let cases: Vec<(&str, Corruption)> = vec![
        ("magic", Corruption { offset: 0, bytes: b"XLATIPC\x01".to_vec(), check: |e| field("magic")(e) }),
        ("magic version byte", Corruption { offset: 7, bytes: vec![2], check: |e| field("magic")(e) }),
        ("version", Corruption { offset: 8, bytes: le32(2), check: |e| matches!(e, OpenError::UnsupportedVersion { found: 2, supported: 1, .. }) }),
        ("state garbage", Corruption { offset: 12, bytes: le32(0x1234), check: |e| field("state")(e) }),
        ("state initialising", Corruption { offset: 12, bytes: le32(0), check: |e| matches!(e, OpenError::NotReady { .. }) }),
        ("endian", Corruption { offset: 16, bytes: le32(0x0403_0201), check: |e| field("endian_marker")(e) }),
        ("pointer width", Corruption { offset: 20, bytes: vec![4], check: |e| field("pointer_width")(e) }),
        ("kind reserved", Corruption { offset: 21, bytes: vec![5], check: |e| field("kind")(e) }),
        ("kind broadcast", Corruption { offset: 21, bytes: vec![3], check: |e| matches!(e, OpenError::WrongKind { found: RingKind::Broadcast, .. }) }),
        ("max_readers on an SPSC ring", Corruption { offset: 68, bytes: le32(1), check: |e| field("max_readers")(e) }),
        ("kind zero", Corruption { offset: 21, bytes: vec![0], check: |e| field("kind")(e) }),
        ("kind other", Corruption { offset: 21, bytes: vec![2], check: |e| matches!(e, OpenError::WrongKind { found: RingKind::FramedStream, .. }) }),
        ("segment_size", Corruption { offset: 24, bytes: le64(size + 4096), check: |e| field("segment_size")(e) }),
        ("capacity not pow2", Corruption { offset: 32, bytes: le64(3), check: |e| field("capacity")(e) }),
        ("capacity 0", Corruption { offset: 32, bytes: le64(0), check: |e| field("capacity")(e) }),
        ("capacity 1", Corruption { offset: 32, bytes: le64(1), check: |e| field("capacity")(e) }),
        ("capacity too big", Corruption { offset: 32, bytes: le64(128), check: |e| field("capacity")(e) }),
        ("capacity overflow", Corruption { offset: 32, bytes: le64(1 << 63), check: |e| field("capacity")(e) }),
        ("slot_size not x64", Corruption { offset: 40, bytes: le32(100), check: |e| field("slot_size")(e) }),
        ("slot_size 0", Corruption { offset: 40, bytes: le32(0), check: |e| field("slot_size")(e) }),
        ("slot_size too big", Corruption { offset: 40, bytes: le32(512), check: |e| field("capacity")(e) }),
        ("slot_size huge", Corruption { offset: 40, bytes: le32(u32::MAX - 63), check: |e| field("capacity")(e) }),
        ("message_count 0", Corruption { offset: 44, bytes: le32(0), check: |e| field("message_count")(e) }),
        ("message_count 2", Corruption { offset: 44, bytes: le32(2), check: |e| field("message_count")(e) }),
        ("message_count huge", Corruption { offset: 44, bytes: le32(u32::MAX), check: |e| field("message_count")(e) }),
        ("data_offset", Corruption { offset: 48, bytes: le64(0), check: |e| field("data_offset")(e) }),
        ("message larger than slot", Corruption { offset: 128 + 12, bytes: le32(65), check: |e| field("slot_size")(e) }),
        ("message align 128", Corruption { offset: 128 + 16, bytes: le32(128), check: |e| field("message align")(e) }),
        ("capacity above 2^30", Corruption { offset: 32, bytes: le64(1 << 31), check: |e| field("capacity")(e) }),
        ("fingerprint", Corruption { offset: 128, bytes: le64(7), check: |e| matches!(e, OpenError::TypeMismatch { what, .. } if what.contains("fingerprint 0x0000000000000007 vs 0x123456789abcdef0")) }),
        ("id", Corruption { offset: 128 + 8, bytes: le32(0x1002), check: |e| matches!(e, OpenError::TypeMismatch { what, .. } if what == "id 0x1002 vs 0x1001") }),
        ("size", Corruption { offset: 128 + 12, bytes: le32(56), check: |e| matches!(e, OpenError::TypeMismatch { what, .. } if what == "size 56 vs 48") }),
        ("align", Corruption { offset: 128 + 16, bytes: le32(4), check: |e| matches!(e, OpenError::TypeMismatch { what, .. } if what == "align 4 vs 8") }),
    ];
    // Informational and reserved fields are not checked.
    let harmless = [(22, 2), (56, 8), (64, 4), (72, 8), (80, 48), (152, 40), (2176, 256)];
    for (what, case) in cases {
        let (_cleanup, name) = ready_segment("corrupt");
        poke(&name, case.offset, &case.bytes);
        let err = Segment::open(&name, &expect()).expect_err(what);
        assert!((case.check)(&err), "{what}: unexpected error {err:?}");
        if let OpenError::BadHeader { .. } = err {
            assert!(err.to_string().contains("remove /dev/shm/flatipc."), "{err}");
        }
    }
    for (offset, len) in harmless {
        let (_cleanup, name) = ready_segment("harmless");
        poke(&name, offset, &vec![0xA5; len]);
        Segment::open(&name, &Expect { kind: RingKind::TypedChannel, messages: vec![] }).unwrap();
    }
}

#[test]
fn file_level_problems_are_refused() {
    // Truncated below the header, and grown past segment_size.
    for len in [0, 100, 4095, 4096, 12288] {
        let (_cleanup, name) = ready_segment("size");
        fs::OpenOptions::new()
            .write(true)
            .open(Segment::path(&name))
            .unwrap()
            .set_len(len)
            .unwrap();
        let err = Segment::open(&name, &expect()).unwrap_err();
        assert!(matches!(err, OpenError::BadHeader { .. }), "{len}: {err}");
    }
    // Group or other permission bits.
    let (_cleanup, name) = ready_segment("mode");
    fs::set_permissions(Segment::path(&name), fs::Permissions::from_mode(0o640)).unwrap();
    let err = Segment::open(&name, &expect()).unwrap_err();
    assert!(matches!(err, OpenError::Insecure { .. }), "{err}");
    assert!(err.to_string().contains("0640"), "{err}");
    // A symbolic link, even to a valid segment.
    let (_cleanup2, target) = ready_segment("target");
    let link = unique("link");
    let _cleanup3 = Cleanup(link.clone());
    std::os::unix::fs::symlink(Segment::path(&target), Segment::path(&link)).unwrap();
    let err = Segment::open(&link, &expect()).unwrap_err();
    assert!(matches!(err, OpenError::Insecure { .. }), "{err}");
    // A directory.
    let dir = unique("dir");
    fs::create_dir(Segment::path(&dir)).unwrap();
    let err = Segment::open(&dir, &expect()).unwrap_err();
    fs::remove_dir(Segment::path(&dir)).unwrap();
    assert!(matches!(err, OpenError::Insecure { .. }), "{err}");
}

/// xorshift64*: deterministic bytes without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
#[allow(clippy::cast_possible_truncation)] // random bytes and small values by construction
fn random_files_never_panic() {
    let name = unique("random");
    let _cleanup = Cleanup(name.clone());
    let path = Segment::path(&name);
    for seed in 1..=300u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let len = match seed % 4 {
            0 => rng.next() % 5000,
            1 => 4096,
            _ => 4096 + 64 * (rng.next() % 40),
        };
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // Most cases get a plausible prefix so that validation goes deeper than the magic.
        if seed % 3 != 0 && bytes.len() >= 64 {
            bytes[0..8].copy_from_slice(b"FLATIPC\x01");
            bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
            bytes[12..16].copy_from_slice(&READY.to_le_bytes());
            bytes[16..20].copy_from_slice(&0x0102_0304u32.to_le_bytes());
            bytes[20] = 8;
            bytes[21] = 1 + (rng.next() % 2) as u8;
            bytes[24..32].copy_from_slice(&len.to_le_bytes());
            if seed % 2 == 0 {
                bytes[48..56].copy_from_slice(&4096u64.to_le_bytes());
                bytes[32..40].copy_from_slice(&(1u64 << (rng.next() % 8)).to_le_bytes());
                bytes[40..44].copy_from_slice(&(64 * (rng.next() % 3) as u32).to_le_bytes());
                bytes[44..48].copy_from_slice(&((rng.next() % 3) as u32).to_le_bytes());
            }
        }
        let _ = fs::remove_file(&path);
        fs::write(&path, &bytes).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        for kind in [RingKind::TypedChannel, RingKind::FramedStream] {
            if let Ok(segment) = Segment::open(&name, &Expect { kind, messages: vec![quote()] }) {
                // Whatever was accepted is internally consistent.
                assert!(segment.capacity().is_power_of_two());
                assert!(4096 + segment.capacity() * u64::from(segment.slot_size()) <= len);
            }
        }
    }
}

#[test]
fn a_full_dev_shm_is_reported_before_mapping() {
    let name = unique("nospace");
    let _cleanup = Cleanup(name.clone());
    // 2^30 slots of 1 MiB: 1 EiB, more than any /dev/shm.
    let huge = SegmentSpec::typed_channel(1 << 30, MessageEntry { size: 1 << 20, ..quote() });
    let err = Segment::create(&name, &huge).unwrap_err();
    match &err {
        OpenError::NoSpace { needed, available, path } => {
            assert_eq!(*needed, huge.segment_size());
            assert!(available < needed);
            assert_eq!(path, &Segment::path(&name));
        }
        other => panic!("unexpected {other}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("mount -o remount,size=") && message.contains("smaller capacity"),
        "{message}"
    );
    assert!(!Segment::path(&name).exists());
    let leftovers: Vec<_> = fs::read_dir("/dev/shm")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(&name))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn type_mismatch_names_both_types() {
    let (_cleanup, name) = ready_segment("mismatch");
    let v2 = MessageEntry { fingerprint: 0x77, size: 56, name: "QuoteV2".into(), ..quote() };
    let err = Segment::open(&name, &Expect { kind: RingKind::TypedChannel, messages: vec![v2] })
        .unwrap_err();
    match &err {
        OpenError::TypeMismatch { segment, expected, what, .. } => {
            assert_eq!((segment.as_str(), expected.as_str()), ("Quote", "QuoteV2"));
            assert_eq!(what, "size 48 vs 56, fingerprint 0x123456789abcdef0 vs 0x0000000000000077");
        }
        other => panic!("unexpected {other}"),
    }
    let message = err.to_string();
    assert!(message.contains("`Quote`") && message.contains("`QuoteV2`"), "{message}");

    let err = Segment::open(&name, &Expect { kind: RingKind::FramedStream, messages: vec![] })
        .unwrap_err();
    assert!(
        matches!(
            err,
            OpenError::WrongKind {
                found: RingKind::TypedChannel,
                expected: RingKind::FramedStream,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn long_message_names_are_truncated() {
    let name = unique("long-type");
    let _cleanup = Cleanup(name.clone());
    let long = MessageEntry { name: format!("{}é", "N".repeat(38)), ..quote() };
    drop(Segment::create(&name, &SegmentSpec::typed_channel(2, long)).unwrap());
    make_ready(&name);
    let segment =
        Segment::open(&name, &Expect { kind: RingKind::TypedChannel, messages: vec![] }).unwrap();
    assert_eq!(segment.messages()[0].name, "N".repeat(38), "cut at a character boundary");
}

#[test]
fn open_or_create_creates_then_opens() {
    let name = unique("ooc");
    let _cleanup = Cleanup(name.clone());
    let (first, created) = Segment::open_or_create(&name, &spec(), &expect()).unwrap();
    assert!(created);
    drop(first);
    make_ready(&name);
    let (_second, created) = Segment::open_or_create(&name, &spec(), &expect()).unwrap();
    assert!(!created);
}

#[test]
fn stale_segments_are_recreated() {
    // Never made ready, creator gone.
    let name = unique("stale");
    let _cleanup = Cleanup(name.clone());
    drop(Segment::create(&name, &spec()).unwrap());
    let (_segment, created) = Segment::open_or_create(&name, &spec(), &expect()).unwrap();
    assert!(created);

    // Garbage with the right owner and mode.
    let garbage = unique("garbage");
    let _cleanup2 = Cleanup(garbage.clone());
    fs::write(Segment::path(&garbage), vec![0xEE; 8192]).unwrap();
    fs::set_permissions(Segment::path(&garbage), fs::Permissions::from_mode(0o600)).unwrap();
    let (_segment, created) = Segment::open_or_create(&garbage, &spec(), &expect()).unwrap();
    assert!(created);

    // An incompatible type nobody uses any more.
    let (_cleanup3, old) = ready_segment("old-type");
    let v2 = MessageEntry { fingerprint: 0x77, name: "QuoteV2".into(), ..quote() };
    let v2_expect = Expect { kind: RingKind::TypedChannel, messages: vec![v2.clone()] };
    let (_segment, created) =
        Segment::open_or_create(&old, &SegmentSpec::typed_channel(16, v2), &v2_expect).unwrap();
    assert!(created);
}

#[test]
fn live_segments_are_never_removed() {
    // Still initialising: its creator holds the creator lock.
    let name = unique("live");
    let _cleanup = Cleanup(name.clone());
    let creator = Segment::create(&name, &spec()).unwrap();
    let ino = fs::metadata(Segment::path(&name)).unwrap().ino();
    let err = Segment::open_or_create(&name, &spec(), &expect()).unwrap_err();
    assert!(matches!(err, OpenError::NotReady { .. }), "{err}");
    // Ready, alive, but an incompatible type is asked for.
    make_ready(&name);
    let v2 = MessageEntry { fingerprint: 0x77, name: "QuoteV2".into(), ..quote() };
    let v2_expect = Expect { kind: RingKind::TypedChannel, messages: vec![v2.clone()] };
    let err = Segment::open_or_create(&name, &SegmentSpec::typed_channel(16, v2), &v2_expect)
        .unwrap_err();
    assert!(matches!(err, OpenError::TypeMismatch { .. }), "{err}");
    assert_eq!(fs::metadata(Segment::path(&name)).unwrap().ino(), ino, "the live segment was kept");
    drop(creator);

    // Files flatipc must not trust are not removed either.
    let foreign = unique("foreign");
    let _cleanup2 = Cleanup(foreign.clone());
    fs::write(Segment::path(&foreign), b"not ours").unwrap();
    fs::set_permissions(Segment::path(&foreign), fs::Permissions::from_mode(0o644)).unwrap();
    let err = Segment::open_or_create(&foreign, &spec(), &expect()).unwrap_err();
    assert!(matches!(err, OpenError::Insecure { .. }), "{err}");
    assert!(Segment::path(&foreign).exists());
}

#[test]
fn remove_rejects_bad_names() {
    assert_eq!(Segment::remove("../etc").unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(
        Segment::remove(&unique("absent")).unwrap_err().kind(),
        std::io::ErrorKind::NotFound
    );
}
