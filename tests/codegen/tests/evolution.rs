//! The two releases of `schemas/evolution/`, generated as users generate them: the Rust types of
//! version 2 keep version 1's layout as a byte prefix, their steps name version 1's layout, and
//! each release reads the other's bytes the way `docs/EVOLUTION.md` §4 says readers will (a
//! newer reader zero-extends an older message; an older reader reads its own prefix).

use flatipc::zerocopy::{FromBytes, IntoBytes};
use flatipc::{FlatMessage, FlatType, VersionStep};
use flatipc_codegen_tests::evolution::{v1, v2};

/// An older message as a newer reader sees it: its bytes, then zeros.
fn zero_extended<New: FromBytes + IntoBytes>(old: &[u8]) -> New {
    let mut bytes = vec![0u8; size_of::<New>()];
    bytes[..old.len()].copy_from_slice(old);
    New::read_from_bytes(&bytes).expect("the buffer has the new size")
}

fn symbol_v1(text: &str) -> v1::String16 {
    v1::String16::new(text).expect("fits")
}

#[test]
fn versions_and_steps() {
    assert_eq!((v1::Quote::VERSION, v2::Quote::VERSION), (1, 2));
    assert_eq!(
        v1::Quote::STEPS,
        [VersionStep { version: 1, size: 72, fingerprint: v1::Quote::FINGERPRINT }]
    );
    // Version 2's first step is version 1's layout, its last the current one.
    for (v2_steps, v1_size, v1_fingerprint, v2_size, v2_fingerprint) in [
        (
            v2::Quote::STEPS,
            size_of::<v1::Quote>(),
            v1::Quote::FINGERPRINT,
            size_of::<v2::Quote>(),
            v2::Quote::FINGERPRINT,
        ),
        (
            v2::Trade::STEPS,
            size_of::<v1::Trade>(),
            v1::Trade::FINGERPRINT,
            size_of::<v2::Trade>(),
            v2::Trade::FINGERPRINT,
        ),
    ] {
        assert_eq!(v2_steps.len(), 2);
        assert_eq!(
            v2_steps[0],
            VersionStep {
                version: 1,
                size: u32::try_from(v1_size).unwrap(),
                fingerprint: v1_fingerprint
            }
        );
        assert_eq!(
            v2_steps[1],
            VersionStep {
                version: 2,
                size: u32::try_from(v2_size).unwrap(),
                fingerprint: v2_fingerprint
            }
        );
    }
    assert!(!v2::Quote::has_bid_size(1) && v2::Quote::has_bid_size(2));
    assert!(v2::Trade::has_trade_id(2));
}

/// A version-2 writer, a version-1 reader: the reader's prefix holds what it knows, and the
/// removed member reads as zero, its default.
#[test]
fn old_reader_reads_the_prefix_of_a_new_message() {
    let new = v2::Quote {
        sequence: 9,
        symbol: v2::String16::new("MSFT").unwrap(),
        bid: v2::Price { mantissa: 41_000, exponent: -2, ..Default::default() },
        ask: v2::Price { mantissa: 41_010, exponent: -2, ..Default::default() },
        venue: v2::Venue::BATS,
        bid_size: 100,
        ask_size: 200,
        venue_ts_ns: 77,
        ..Default::default()
    };
    assert!(new.validate().is_ok());
    let bytes = new.as_bytes();
    let old = v1::Quote::read_from_bytes(&bytes[..size_of::<v1::Quote>()]).unwrap();
    assert!(old.validate().is_ok());
    assert_eq!((old.sequence, old.symbol.as_str().unwrap()), (9, "MSFT"));
    assert_eq!((old.bid.mantissa, old.ask.mantissa), (41_000, 41_010));
    assert_eq!(old.legacy_flags, 0, "version-2 writers write zeros in removed members");
    // A venue added in version 2 is unknown to version 1, which is fine: `Venue` is flexible.
    assert_eq!(old.venue.0, 3);
    assert!(!old.venue.is_known());
}

/// A version-1 writer, a version-2 reader: members of version 2 read as zeros, `has_*` says
/// they were absent, and whatever version 1 wrote in the removed member is not checked.
#[test]
fn new_reader_zero_extends_an_old_message() {
    let old = v1::Quote {
        sequence: 5,
        symbol: symbol_v1("AAPL"),
        venue: v1::Venue::XNYS,
        legacy_flags: 0xdead_beef,
        ..Default::default()
    };
    let new: v2::Quote = zero_extended(old.as_bytes());
    assert!(new.validate().is_ok(), "removed members are never validated");
    assert_eq!((new.sequence, new.symbol.as_str().unwrap()), (5, "AAPL"));
    assert_eq!(new.venue, v2::Venue::XNYS);
    assert_eq!((new.bid_size, new.ask_size, new.venue_ts_ns), (0, 0, 0));
    assert_eq!(new._removed_legacy_flags, 0xdead_beef_u32.to_le_bytes());
    assert!(!v2::Quote::has_venue_ts_ns(1));

    let trade =
        v1::Trade { sequence: 1, quantity: 10, aggressor: v1::Side::ASK, ..Default::default() };
    let new: v2::Trade = zero_extended(trade.as_bytes());
    assert!(new.validate().is_ok());
    assert_eq!((new.quantity, new.aggressor, new.trade_id), (10, v2::Side::ASK, 0));
}

/// Debug output names the members of the current version only.
#[test]
fn removed_members_are_not_in_the_api() {
    let text = format!("{:?}", v2::Quote::default());
    assert!(!text.contains("legacy_flags"), "{text}");
    let names: Vec<&str> = v2::Quote::MEMBERS.iter().map(|m| m.name).collect();
    assert!(!names.contains(&"legacy_flags"), "{names:?}");
    assert_eq!(names.last(), Some(&"venue_ts_ns"));
}
