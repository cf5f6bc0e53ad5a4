//! Helpers shared by the unit tests of the segment modules.

use std::sync::atomic::{AtomicU64, Ordering};

use super::{Expect, MessageEntry, RingKind, Segment, SegmentSpec};

pub(super) fn unique(tag: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("unit-{}-{tag}-{n}", std::process::id())
}

/// Removes the segment when the test ends, however it ends.
pub(super) struct Cleanup(pub(super) String);
impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Segment::remove(&self.0);
    }
}

pub(super) fn entry() -> MessageEntry {
    MessageEntry {
        fingerprint: 0xABCD,
        id: 0x1001,
        size: 48,
        align: 8,
        name: "Quote".into(),
        versions: [0; 4],
        fingerprints: [0; 4],
    }
}

pub(super) fn spec() -> SegmentSpec {
    SegmentSpec::typed_channel(8, entry())
}

pub(super) fn expect() -> Expect {
    Expect { kind: RingKind::TypedChannel, messages: vec![entry()] }
}

/// A ready shared segment and a second handle to it (a different open file description).
pub(super) fn ready_pair(tag: &str) -> (Cleanup, Segment, Segment) {
    let name = unique(tag);
    let cleanup = Cleanup(name.clone());
    let creator = Segment::create(&name, &spec()).unwrap();
    creator.publish_ready();
    let other = Segment::open(&name, &expect()).unwrap();
    (cleanup, creator, other)
}
