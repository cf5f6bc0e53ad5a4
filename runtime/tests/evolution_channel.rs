//! Schema evolution on the typed channel (`docs/PROTOCOL.md` §3 "Writer epochs"): writers built
//! from version 1 and version 2 of one library take turns on a ring while readers of either
//! version read every message, in place or zero-extended; diverged, lost and impossible epochs
//! are errors, never misread messages. The libraries are in `versions/mod.rs`.

use std::io::{Read, Seek, SeekFrom, Write};

use flatipc::channel::{ChannelOptions, EpochProblem, Reader, RecvError, Writer};
use flatipc::prelude::*;
use flatipc::wait::WaitStrategy;
use flatipc::{OpenError, Segment};

mod versions;

use versions::{unique, v1, v1_quote, v1_to_v2, v2, v2_diverged, v2_quote, Cleanup};

const EPOCHS: u64 = 2496;
const EPOCH_TABLE: u64 = 2432;

fn options() -> ChannelOptions {
    ChannelOptions { capacity: 64, wait: WaitStrategy::SpinThenPark { spins: 2_000 } }
}

fn header_u64(name: &str, offset: u64) -> u64 {
    let mut file = std::fs::File::open(Segment::path(name)).unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    let mut word = [0; 8];
    file.read_exact(&mut word).unwrap();
    u64::from_le_bytes(word)
}

fn scribble_u64(name: &str, offset: u64, value: u64) {
    let mut file = std::fs::OpenOptions::new().write(true).open(Segment::path(name)).unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.write_all(&value.to_le_bytes()).unwrap();
}

fn send_v1(name: &str, seqs: std::ops::Range<u64>) {
    let mut tx = Writer::<v1::Quote>::open(name, options().wait).unwrap();
    for seq in seqs {
        tx.try_send(&v1_quote(seq)).unwrap();
    }
}

fn send_v2(name: &str, seqs: std::ops::Range<u64>) {
    let mut tx = Writer::<v2::Quote>::open(name, options().wait).unwrap();
    for seq in seqs {
        tx.try_send(&v2_quote(seq)).unwrap();
    }
}

/// Receives the next message as a version 2 reader: its value and the writer's version.
fn recv_v2(rx: &mut Reader<v2::Quote>) -> Result<(v2::Quote, u16), RecvError> {
    rx.try_recv().map(|m| (*m, m.version()))
}

fn recv_v1(rx: &mut Reader<v1::Quote>) -> Result<(v1::Quote, u16), RecvError> {
    rx.try_recv().map(|m| (*m, m.version()))
}

#[test]
fn a_v2_reader_zero_extends_a_v1_writer_and_reads_a_v2_writer_in_place() {
    let name = unique("v2-reader");
    let _cleanup = Cleanup(name.clone());
    let mut rx = Reader::<v2::Quote>::create(&name, &options()).unwrap();
    send_v1(&name, 0..5);
    send_v2(&name, 5..10);
    send_v1(&name, 10..15);
    for seq in 0..15 {
        let (quote, version) = recv_v2(&mut rx).unwrap();
        if (5..10).contains(&seq) {
            assert_eq!((quote, version), (v2_quote(seq), 2));
            assert!(v2::Quote::has_bid_size(version));
        } else {
            assert_eq!((quote, version), (v1_to_v2(v1_quote(seq)), 1), "seq {seq}");
            assert!(!v2::Quote::has_bid_size(version));
        }
    }
    assert_eq!(rx.try_recv().unwrap_err(), RecvError::Disconnected);
}

#[test]
fn stale_bytes_of_a_newer_message_in_the_slot_read_as_zero() {
    let name = unique("stale");
    let _cleanup = Cleanup(name.clone());
    let mut rx = Reader::<v2::Quote>::create(&name, &options()).unwrap();
    // A whole lap of version 2 messages leaves non-zero sizes in every slot.
    for lap in [0..64, 128..192] {
        send_v2(&name, lap.clone());
        for seq in lap {
            assert_eq!(recv_v2(&mut rx).unwrap(), (v2_quote(seq), 2));
        }
        let next = rx.position();
        send_v1(&name, next..next + 64);
        for seq in next..next + 64 {
            assert_eq!(recv_v2(&mut rx).unwrap(), (v1_to_v2(v1_quote(seq)), 1));
        }
    }
}

#[test]
fn a_v1_reader_reads_its_prefix_of_a_v2_writer() {
    let name = unique("v1-reader");
    let _cleanup = Cleanup(name.clone());
    let mut rx = Reader::<v1::Quote>::create(&name, &options()).unwrap();
    send_v2(&name, 0..5);
    send_v1(&name, 5..8);
    for seq in 0..8 {
        let expected = if seq < 5 { 2 } else { 1 };
        assert_eq!(recv_v1(&mut rx).unwrap(), (v1_quote(seq), expected), "seq {seq}");
    }
}

#[test]
fn a_v2_writer_takes_over_a_ring_a_v1_writer_created() {
    let name = unique("take-over");
    let _cleanup = Cleanup(name.clone());
    let mut tx = Writer::<v1::Quote>::create(&name, &options()).unwrap();
    tx.try_send(&v1_quote(0)).unwrap();
    drop(tx);
    send_v2(&name, 1..3);
    // Readers of both versions attach afterwards and read from the start.
    let mut rx = Reader::<v2::Quote>::open(&name, options().wait).unwrap();
    assert_eq!(recv_v2(&mut rx).unwrap(), (v1_to_v2(v1_quote(0)), 1));
    assert_eq!(recv_v2(&mut rx).unwrap(), (v2_quote(1), 2));
    drop(rx);
    let mut rx = Reader::<v1::Quote>::open(&name, options().wait).unwrap();
    assert_eq!(recv_v1(&mut rx).unwrap(), (v1_quote(2), 2));
}

#[test]
fn drain_crosses_epochs() {
    let name = unique("drain");
    let _cleanup = Cleanup(name.clone());
    let mut rx = Reader::<v2::Quote>::create(&name, &options()).unwrap();
    send_v1(&name, 0..3);
    send_v2(&name, 3..6);
    let mut seen = Vec::new();
    assert_eq!(rx.drain(|q| seen.push(*q)).unwrap(), 6);
    let expected: Vec<v2::Quote> =
        (0..6).map(|s| if s < 3 { v1_to_v2(v1_quote(s)) } else { v2_quote(s) }).collect();
    assert_eq!(seen, expected);
}

#[test]
fn a_writer_of_the_same_version_continues_the_epoch() {
    let name = unique("same-epoch");
    let _cleanup = Cleanup(name.clone());
    let _rx = Reader::<v1::Quote>::create(&name, &options()).unwrap();
    for round in 0..6 {
        send_v1(&name, round..round + 1);
    }
    assert_eq!(header_u64(&name, EPOCHS), 1);
    send_v2(&name, 6..7);
    send_v2(&name, 7..8);
    assert_eq!(header_u64(&name, EPOCHS), 2);
    // Epoch 1 starts at position 6.
    assert_eq!(header_u64(&name, EPOCH_TABLE + 16), 6);
}

#[test]
fn a_reader_more_than_four_writers_behind_reports_the_lost_epoch_and_moves_on() {
    let name = unique("lost");
    let _cleanup = Cleanup(name.clone());
    let mut rx = Reader::<v2::Quote>::create(&name, &options()).unwrap();
    // Five epochs of one message each: epoch 4 overwrites epoch 0's entry.
    for seq in 0..5 {
        if seq % 2 == 0 {
            send_v1(&name, seq..seq + 1);
        } else {
            send_v2(&name, seq..seq + 1);
        }
    }
    assert_eq!(
        recv_v2(&mut rx).unwrap_err(),
        RecvError::Epoch { position: 0, problem: EpochProblem::Lost }
    );
    assert_eq!(recv_v2(&mut rx).unwrap(), (v2_quote(1), 2));
    assert_eq!(recv_v2(&mut rx).unwrap(), (v1_to_v2(v1_quote(2)), 1));
}

#[test]
fn impossible_epochs_are_errors_and_the_message_is_skipped() {
    let name = unique("impossible");
    let _cleanup = Cleanup(name.clone());
    let mut rx = Reader::<v2::Quote>::create(&name, &options()).unwrap();
    send_v1(&name, 0..3);
    let meta = header_u64(&name, EPOCH_TABLE + 8);
    assert_eq!(meta, 1 | (16 << 32), "version 1, seq 0, 16 bytes");
    // A size above the slot, a version-1 size that is not version 1's, and version 0.
    for (bad, problem) in [
        (1 | (65 << 32), EpochProblem::Size { version: 1, size: 65 }),
        (1 | (24 << 32), EpochProblem::Size { version: 1, size: 24 }),
        (16 << 32, EpochProblem::Version { version: 0 }),
    ] {
        scribble_u64(&name, EPOCH_TABLE + 8, bad);
        let position = rx.position();
        assert_eq!(recv_v2(&mut rx).unwrap_err(), RecvError::Epoch { position, problem });
    }
    // A reader caches its epoch per batch; the repaired epoch is read afresh.
    scribble_u64(&name, EPOCH_TABLE + 8, meta);
    send_v1(&name, 3..4);
    assert_eq!(recv_v2(&mut rx).unwrap(), (v1_to_v2(v1_quote(3)), 1));
    // An epoch count the table cannot back is a lost epoch, not a guess.
    send_v1(&name, 4..5);
    scribble_u64(&name, EPOCHS, 77);
    assert!(matches!(recv_v2(&mut rx), Err(RecvError::Epoch { position: 4, .. })));
}

#[test]
fn a_diverged_writer_is_refused_at_attach_and_a_late_one_when_met() {
    let name = unique("diverged");
    let _cleanup = Cleanup(name.clone());
    let rx = Reader::<v2::Quote>::create(&name, &options()).unwrap();
    let err = Writer::<v2_diverged::Quote>::open(&name, options().wait).unwrap_err();
    assert!(matches!(err, OpenError::VersionMismatch { version: 2, .. }), "{err:?}");
    drop(rx);

    // A version 2 reader attached while the table knew only version 1 checks the diverged
    // writer when it meets its first message.
    let name = unique("diverged-late");
    let _cleanup = Cleanup(name.clone());
    let tx = Writer::<v1::Quote>::create(&name, &options()).unwrap();
    let mut rx = Reader::<v2::Quote>::open(&name, options().wait).unwrap();
    drop(tx);
    let mut late = Writer::<v2_diverged::Quote>::open(&name, options().wait).unwrap();
    late.try_send(&v2_diverged::Quote { seq: 1, bid: 2, ask: 3, venue_ts: 4 }).unwrap();
    assert_eq!(
        recv_v2(&mut rx).unwrap_err(),
        RecvError::VersionMismatch { position: 0, id: 0x10, version: 2 }
    );
    assert_eq!(rx.try_recv().unwrap_err(), RecvError::Empty, "the message was skipped");
}

/// A version 1 message that fills its 64-byte slot, and its version 2 that would not fit.
mod big {
    use super::*;

    #[derive(Clone, Copy, Debug, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
    #[zerocopy(crate = "flatipc::zerocopy")]
    #[flat(id = 0x20)]
    #[repr(C)]
    pub struct V1 {
        pub words: [u64; 8],
    }

    #[derive(Clone, Copy, Debug, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
    #[zerocopy(crate = "flatipc::zerocopy")]
    #[flat(id = 0x20, version = 2)]
    #[repr(C)]
    pub struct V2 {
        pub words: [u64; 8],
        #[flat(added = 2)]
        pub more: u64,
    }
}

#[test]
fn a_newer_writer_whose_message_outgrew_the_slots_is_refused() {
    let name = unique("outgrown");
    let _cleanup = Cleanup(name.clone());
    let rx = Reader::<big::V1>::create(&name, &options()).unwrap();
    let err = Writer::<big::V2>::open(&name, options().wait).unwrap_err();
    let OpenError::CannotUpgrade { version: 2, reason, .. } = &err else {
        panic!("expected CannotUpgrade, got {err:?}")
    };
    assert!(reason.contains("72 bytes need slots of 128 bytes"), "{reason}");
    // Nothing was merged: a version 1 writer still attaches.
    let mut tx = Writer::<big::V1>::open(&name, options().wait).unwrap();
    tx.try_send(&big::V1 { words: [5; 8] }).unwrap();
    // A version 2 reader, whose type is larger than the slots, reads it zero-extended.
    drop(rx);
    let mut rx = Reader::<big::V2>::open(&name, options().wait).unwrap();
    let message = rx.try_recv().unwrap();
    assert_eq!((message.words, message.more, message.version()), ([5; 8], 0, 1));
}
