//! Using the generated market-data types as a user would.
#![allow(clippy::field_reassign_with_default)] // the test shows the `Default` + assignment style on purpose

use flatipc::{FlatMessage, FlatType, Problem};
use flatipc_codegen_tests::market_common::{Price, Side, Symbol};
use flatipc_codegen_tests::market_data::{
    BookSnapshot, Level, Quote, Trade, TradeFlags, TradingStatus, Venue, BOOK_DEPTH,
    IGNORED_CONDITIONS,
};

#[test]
fn build_a_trade_with_default_and_field_assignment() {
    let mut t = Trade::default();
    t.sequence = 42;
    t.symbol = Symbol::new("AAPL").unwrap();
    t.price = Price { mantissa: 18_950, exponent: -2, ..Default::default() };
    t.venue = Venue::XNAS;
    t.flags = TradeFlags::AGGRESSOR_BUY | TradeFlags::AUCTION;
    t.is_block = true.into();
    assert_eq!(t.symbol.as_str().unwrap(), "AAPL");
    assert!(t.validate().is_ok());
    assert_eq!(Trade::ID, 0x0101);
    assert_eq!(<Trade as FlatMessage>::MESSAGE_ID, Some(0x0101));
    let dbg = format!("{t:?}");
    assert!(dbg.contains("\"AAPL\""), "{dbg}");
    assert!(dbg.contains("AGGRESSOR_BUY | AUCTION"), "{dbg}");
    assert!(dbg.contains("Venue::XNAS"), "{dbg}");
    assert!(!dbg.contains("_pad"), "{dbg}");
}

#[test]
fn struct_literal_with_defaults() {
    let q = Quote { bid_size: 5, ask_size: 7, status: TradingStatus::OPEN, ..Default::default() };
    assert_eq!(q.ask_size, 7);
    assert!(q.validate().is_ok());
}

#[test]
fn validation_catches_bad_bytes_and_names_the_member() {
    let mut t = Trade::default();
    t.is_block = flatipc::Bool(7);
    let e = t.validate().unwrap_err();
    assert_eq!((e.type_name, e.member), ("Trade", "is_block"));
    assert_eq!(e.problem, Problem::InvalidBool { byte: 7 });

    let mut t = Trade::default();
    t.flags = TradeFlags(0x100);
    assert_eq!(t.validate().unwrap_err().problem, Problem::UnknownBits { raw: 0x100 });

    let mut q = Quote::default();
    q.status = TradingStatus(9);
    assert_eq!(q.validate().unwrap_err().member, "status");

    // Flexible enums accept unknown values.
    let mut q = Quote::default();
    q.venue = Venue(999);
    assert!(q.validate().is_ok());
    assert!(!q.venue.is_known());

    let mut t = Trade::default();
    t.symbol.len = 17;
    assert!(matches!(
        t.validate().unwrap_err().problem,
        Problem::LengthOutOfBounds { len: 17, capacity: 16 }
    ));
}

#[test]
fn bounded_vectors() {
    let mut book = BookSnapshot::default();
    for i in 0..BOOK_DEPTH {
        let level = Level { quantity: i, ..Default::default() };
        book.bids.push(level).unwrap();
    }
    assert!(book.bids.push(Level::default()).is_err());
    assert_eq!(book.bids.as_slice().unwrap().len(), 10);
    assert!(book.validate().is_ok());
    book.asks.len = 11;
    assert!(book.validate().is_err());
}

#[test]
fn enums_and_bits_helpers() {
    assert_eq!(Side::BID.name(), Some("BID"));
    assert_eq!(format!("{:?}", Side(3)), "Side(3)");
    assert!(IGNORED_CONDITIONS.contains(TradeFlags::CORRECTION));
    assert!(!IGNORED_CONDITIONS.contains(TradeFlags::AUCTION));
    assert_eq!(TradeFlags::MASK.0, 0xF);
    assert_ne!(<Side as FlatType>::FINGERPRINT, <Venue as FlatType>::FINGERPRINT);
}

#[test]
fn bytes_round_trip() {
    use flatipc::zerocopy::{FromBytes, IntoBytes};
    let mut q = Quote::default();
    q.sequence = 7;
    q.symbol.set("MSFT").unwrap();
    let bytes = q.as_bytes().to_vec();
    let back = Quote::read_from_bytes(&bytes).unwrap();
    assert_eq!(back, q);
}
