//! The two releases of `schemas/evolution/` on one framed stream (`docs/EVOLUTION.md` §4, §5):
//! a version-1 writer and a version-2 reader attach to the same segment and the reader sees
//! version 2's members as zeros; a version-2 writer and a version-1 reader share it the other
//! way, the reader viewing its prefix in place and skipping the message it does not know.

use flatipc::stream::{StreamOptions, StreamReader, StreamWriter};
use flatipc::wait::WaitStrategy;
use flatipc::Segment;
use flatipc_codegen_tests::evolution::{v1, v2};

fn options() -> StreamOptions {
    StreamOptions { capacity: 16 * 1024, wait: WaitStrategy::SpinThenPark { spins: 2_000 } }
}

/// A segment name of this test process, removed when dropped.
struct Name(String);

impl Name {
    fn new(tag: &str) -> Self {
        Name(format!("test-codegen-evolution-{tag}-{}", std::process::id()))
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = Segment::remove(&self.0);
    }
}

#[test]
fn version_1_writer_version_2_reader() {
    let name = Name::new("v1-v2");
    let mut tx = StreamWriter::<v1::Library>::create(&name.0, &options()).unwrap();
    let mut rx = StreamReader::<v2::Library>::open(&name.0, options().wait).unwrap();
    let old = v1::Quote {
        sequence: 5,
        symbol: v1::String16::new("AAPL").unwrap(),
        venue: v1::Venue::XNYS,
        ..Default::default()
    };
    tx.try_send(&old).unwrap();
    let frame = rx.try_recv().unwrap();
    assert_eq!(frame.version(), 1);
    assert_eq!(frame.bytes().len(), size_of::<v1::Quote>());
    assert!(!v2::Quote::has_bid_size(frame.version()));
    let Some(Ok(v2::AnyMessage::Quote(q))) = frame.message() else { panic!("a Quote") };
    assert_eq!((q.sequence, q.symbol.as_str().unwrap()), (5, "AAPL"));
    assert_eq!((q.bid_size, q.ask_size, q.venue_ts_ns), (0, 0, 0));
}

#[test]
fn version_2_writer_version_1_reader() {
    let name = Name::new("v2-v1");
    let mut rx = StreamReader::<v1::Library>::create(&name.0, &options()).unwrap();
    let mut tx = StreamWriter::<v2::Library>::open(&name.0, options().wait).unwrap();
    tx.try_send(&v2::Heartbeat::default()).unwrap();
    let new = v2::Quote { sequence: 9, bid_size: 100, venue_ts_ns: 77, ..Default::default() };
    tx.try_send(&new).unwrap();
    let frame = rx.try_recv().unwrap();
    assert!(frame.message().is_none(), "version 1 does not know Heartbeat: skipped");
    drop(frame);
    let frame = rx.try_recv().unwrap();
    assert_eq!((frame.version(), frame.bytes().len()), (2, size_of::<v2::Quote>()));
    let Some(Ok(v1::AnyMessage::Quote(q))) = frame.message() else { panic!("a Quote") };
    assert_eq!((q.sequence, q.legacy_flags), (9, 0));
    assert_eq!(std::ptr::from_ref(q).cast::<u8>(), frame.bytes().as_ptr(), "in place");
}
