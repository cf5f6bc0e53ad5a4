//! Schema evolution on the broadcast rings: the broadcast stream (`docs/PROTOCOL.md` §6 with the
//! frame `version` of §4) and the typed broadcast ring (§5 with the writer epochs of §3).
//! Tethered and lossy readers of version 1 and version 2 read a writer of either version, in
//! place or zero-extended; a diverged writer is refused at attach, or when met. The libraries
//! are in `versions/mod.rs`.

use flatipc::broadcast::{
    BroadcastOptions, BroadcastReader, BroadcastStreamReader, BroadcastStreamWriter,
    BroadcastWriter, Policy, ReaderOptions, RecvError, StartAt,
};
use flatipc::wait::WaitStrategy;
use flatipc::OpenError;

mod versions;

use versions::{unique, v1, v1_quote, v1_to_v2, v2, v2_diverged, v2_quote, Cleanup};

fn ring() -> BroadcastOptions {
    BroadcastOptions { capacity: 64, max_readers: 4, wait: WaitStrategy::Spin }
}

fn reader(policy: Policy) -> ReaderOptions {
    ReaderOptions { policy, start: StartAt::Oldest, wait: WaitStrategy::Spin }
}

/// The next frame as a version 2 `Quote` and its writer's version.
fn next_v2(rx: &mut BroadcastStreamReader<v2::Lib>) -> Result<(v2::Quote, u16), RecvError> {
    let frame = rx.try_recv()?;
    let quote = *frame.get::<v2::Quote>().expect("a Quote frame").expect("a valid Quote");
    let v2::Any::Quote(viewed) = frame.message().expect("known id").expect("valid") else {
        panic!("a Quote")
    };
    assert_eq!(*viewed, quote, "message() and get() agree");
    Ok((quote, frame.version()))
}

fn next_v1(rx: &mut BroadcastStreamReader<v1::Lib>) -> Result<(v1::Quote, u16), RecvError> {
    let frame = rx.try_recv()?;
    let quote = *frame.get::<v1::Quote>().expect("a Quote frame").expect("a valid Quote");
    Ok((quote, frame.version()))
}

#[test]
fn readers_of_both_versions_read_writers_of_both_versions() {
    let name = unique("broadcast");
    let _cleanup = Cleanup(name.clone());
    let mut tx = BroadcastStreamWriter::<v1::Lib>::create(&name, &ring()).unwrap();
    let mut v2_tethered = BroadcastStreamReader::<v2::Lib>::open(&name, &reader(Policy::Tethered));
    let mut v2_lossy = BroadcastStreamReader::<v2::Lib>::open(&name, &reader(Policy::Lossy));
    let mut v1_lossy = BroadcastStreamReader::<v1::Lib>::open(&name, &reader(Policy::Lossy));
    let (v2_tethered, v2_lossy, v1_lossy) =
        (v2_tethered.as_mut().unwrap(), v2_lossy.as_mut().unwrap(), v1_lossy.as_mut().unwrap());
    // A whole lap of version 2 frames first, so that the version 1 frames land in slots whose
    // bytes past version 1's size are not zero.
    drop(tx);
    let mut tx2 = BroadcastStreamWriter::<v2::Lib>::open(&name, WaitStrategy::Spin).unwrap();
    for seq in 0..40 {
        tx2.send(&v2_quote(seq)).unwrap();
        assert_eq!(next_v2(v2_tethered).unwrap(), (v2_quote(seq), 2));
        assert_eq!(next_v2(v2_lossy).unwrap(), (v2_quote(seq), 2));
        assert_eq!(next_v1(v1_lossy).unwrap(), (v1_quote(seq), 2));
    }
    drop(tx2);
    tx = BroadcastStreamWriter::<v1::Lib>::open(&name, WaitStrategy::Spin).unwrap();
    for seq in 40..100 {
        tx.send(&v1_quote(seq)).unwrap();
        let expected = (v1_to_v2(v1_quote(seq)), 1);
        assert_eq!(next_v2(v2_tethered).unwrap(), expected, "tethered, seq {seq}");
        assert_eq!(next_v2(v2_lossy).unwrap(), expected, "lossy, seq {seq}");
        assert_eq!(next_v1(v1_lossy).unwrap(), (v1_quote(seq), 1));
    }
}

#[test]
fn a_diverged_writer_is_refused_at_attach_and_a_late_one_when_met() {
    let name = unique("broadcast-diverged");
    let _cleanup = Cleanup(name.clone());
    let _rx =
        BroadcastStreamReader::<v2::Lib>::open_or_create(&name, &ring(), &reader(Policy::Tethered))
            .unwrap();
    let err = BroadcastStreamWriter::<v2_diverged::Lib>::open(&name, WaitStrategy::Spin);
    assert!(matches!(err, Err(OpenError::VersionMismatch { version: 2, .. })), "{err:?}");

    // A version 2 reader attached while the table knew only version 1 checks the diverged
    // writer when it meets its first frame, and skips it.
    let name = unique("broadcast-diverged-late");
    let _cleanup = Cleanup(name.clone());
    let tx = BroadcastStreamWriter::<v1::Lib>::create(&name, &ring()).unwrap();
    let mut rx = BroadcastStreamReader::<v2::Lib>::open(&name, &reader(Policy::Tethered)).unwrap();
    drop(tx);
    let mut late = BroadcastStreamWriter::<v2_diverged::Lib>::open(&name, WaitStrategy::Spin)
        .expect("its version 1 agrees with the table's");
    late.send(&v2_diverged::Quote { seq: 1, bid: 2, ask: 3, venue_ts: 4 }).unwrap();
    late.send(&v2_diverged::Quote { seq: 2, bid: 2, ask: 3, venue_ts: 4 }).unwrap();
    for position in 0..2 {
        let err = rx.try_recv().map(|f| f.id()).unwrap_err();
        assert_eq!(err, RecvError::VersionMismatch { position, id: 0x10, version: 2 });
    }
    assert_eq!(rx.try_recv().map(|f| f.id()).unwrap_err(), RecvError::Empty);
}

/// The next message of a typed broadcast reader and its writer's version.
fn typed_next<T: flatipc::FlatMessage>(rx: &mut BroadcastReader<T>) -> Result<(T, u16), RecvError> {
    rx.try_recv().map(|m| (*m, m.version()))
}

#[test]
fn typed_readers_of_both_versions_read_writers_of_both_versions() {
    let name = unique("typed-broadcast");
    let _cleanup = Cleanup(name.clone());
    let tx = BroadcastWriter::<v1::Quote>::create(&name, &ring()).unwrap();
    let mut v2_tethered =
        BroadcastReader::<v2::Quote>::open(&name, &reader(Policy::Tethered)).unwrap();
    let mut v2_lossy = BroadcastReader::<v2::Quote>::open(&name, &reader(Policy::Lossy)).unwrap();
    let mut v1_lossy = BroadcastReader::<v1::Quote>::open(&name, &reader(Policy::Lossy)).unwrap();
    drop(tx);
    // A lap of version 2 messages leaves non-zero bytes past version 1's size in every slot.
    let mut tx2 = BroadcastWriter::<v2::Quote>::open(&name, WaitStrategy::Spin).unwrap();
    for seq in 0..70 {
        tx2.send(&v2_quote(seq)).unwrap();
        assert_eq!(typed_next(&mut v2_tethered).unwrap(), (v2_quote(seq), 2));
        assert_eq!(typed_next(&mut v2_lossy).unwrap(), (v2_quote(seq), 2));
        assert_eq!(typed_next(&mut v1_lossy).unwrap(), (v1_quote(seq), 2));
    }
    drop(tx2);
    let mut tx = BroadcastWriter::<v1::Quote>::open(&name, WaitStrategy::Spin).unwrap();
    for seq in 70..140 {
        tx.send(&v1_quote(seq)).unwrap();
        let expected = (v1_to_v2(v1_quote(seq)), 1);
        assert_eq!(typed_next(&mut v2_tethered).unwrap(), expected, "tethered, seq {seq}");
        assert_eq!(typed_next(&mut v2_lossy).unwrap(), expected, "lossy, seq {seq}");
        assert_eq!(typed_next(&mut v1_lossy).unwrap(), (v1_quote(seq), 1));
    }
}

#[test]
fn a_diverged_typed_writer_is_refused_at_attach_and_a_late_one_when_met() {
    let name = unique("typed-diverged");
    let _cleanup = Cleanup(name.clone());
    let _rx =
        BroadcastReader::<v2::Quote>::open_or_create(&name, &ring(), &reader(Policy::Tethered))
            .unwrap();
    let err = BroadcastWriter::<v2_diverged::Quote>::open(&name, WaitStrategy::Spin);
    assert!(matches!(err, Err(OpenError::VersionMismatch { version: 2, .. })), "{err:?}");

    let name = unique("typed-diverged-late");
    let _cleanup = Cleanup(name.clone());
    let tx = BroadcastWriter::<v1::Quote>::create(&name, &ring()).unwrap();
    let mut rx = BroadcastReader::<v2::Quote>::open(&name, &reader(Policy::Lossy)).unwrap();
    drop(tx);
    let mut late = BroadcastWriter::<v2_diverged::Quote>::open(&name, WaitStrategy::Spin)
        .expect("its version 1 agrees with the table's");
    late.send(&v2_diverged::Quote { seq: 1, bid: 2, ask: 3, venue_ts: 4 }).unwrap();
    let err = typed_next(&mut rx).unwrap_err();
    assert_eq!(err, RecvError::VersionMismatch { position: 0, id: 0x10, version: 2 });
}
