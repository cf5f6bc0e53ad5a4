//! The message set generated for a library with messages (`Library`, `AnyMessage`): what a framed
//! stream of `market.data` records about its messages, and how it views a frame's bytes.

use std::collections::HashMap;
use std::mem::{align_of, size_of};

use flatipc::stream::{InSet, MessageInfo, MessageSet, ViewError};
use flatipc::zerocopy::{Immutable, IntoBytes};
use flatipc::{Bool, FlatMessage, Problem};
use flatipc_codegen_tests::market_common::{Price, Symbol};
use flatipc_codegen_tests::market_data::{
    AnyMessage, BookSnapshot, Level, Library, Quote, StatusChange, Trade, TradeFlags,
    TradingStatus, Venue,
};
use flatipc_codegen_tests::MESSAGE_SETS;
use serde_json::Value;

/// A frame's message bytes: 16-byte aligned, like the bytes a stream hands to `view`.
#[repr(C, align(16))]
struct Frame {
    bytes: [u8; 1024],
    len: usize,
}

impl Frame {
    /// A frame holding exactly the bytes of `message`.
    fn of<T: IntoBytes + Immutable>(message: &T) -> Frame {
        let bytes = message.as_bytes();
        let mut frame = Frame { bytes: [0; 1024], len: bytes.len() };
        frame.bytes[..bytes.len()].copy_from_slice(bytes);
        frame
    }

    /// The message bytes.
    fn message(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// The frame viewed through the generated set, as the message with id `id`.
    fn view(&self, id: u32) -> Option<Result<AnyMessage<'_>, ViewError>> {
        Library::view(id, self.message())
    }
}

/// `MessageInfo` spelled out from the type's own constants (not through `MessageInfo::of`).
fn info<T: FlatMessage>() -> MessageInfo {
    MessageInfo {
        id: T::MESSAGE_ID.expect("a message"),
        fingerprint: T::FINGERPRINT,
        size: u32::try_from(size_of::<T>()).unwrap(),
        align: u32::try_from(align_of::<T>()).unwrap(),
        name: T::NAME,
        version: T::VERSION,
        steps: T::STEPS,
    }
}

fn trade() -> Trade {
    Trade {
        sequence: 42,
        symbol: Symbol::new("AAPL").unwrap(),
        price: Price { mantissa: 18_950, exponent: -2, ..Default::default() },
        quantity: 300,
        venue: Venue::XNAS,
        flags: TradeFlags::AGGRESSOR_BUY,
        is_block: true.into(),
        ..Default::default()
    }
}

#[test]
fn library_lists_every_message_in_declaration_order() {
    assert_eq!(Library::LIBRARY, "market.data");
    assert_eq!(
        Library::MESSAGES,
        [info::<Trade>(), info::<Quote>(), info::<BookSnapshot>(), info::<StatusChange>()]
    );
    assert_eq!(Library::MESSAGES[0].id, Trade::ID);
    assert_eq!(Library::MESSAGES[0].name, "Trade");
    assert_eq!(Library::MESSAGES[1].id, 0x0102);
}

#[test]
fn every_message_is_in_the_set() {
    fn in_set<T: InSet<Library>>() -> u32 {
        T::MESSAGE_ID.unwrap()
    }
    let ids =
        [in_set::<Trade>(), in_set::<Quote>(), in_set::<BookSnapshot>(), in_set::<StatusChange>()];
    assert_eq!(ids.to_vec(), Library::MESSAGES.iter().map(|m| m.id).collect::<Vec<_>>());
}

#[test]
fn view_returns_the_variant_of_the_id_with_the_same_contents() {
    let t = trade();
    let frame = Frame::of(&t);
    match frame.view(Trade::ID) {
        Some(Ok(AnyMessage::Trade(viewed))) => assert_eq!(*viewed, t),
        other => panic!("expected a Trade, got {other:?}"),
    }
    let message = frame.view(Trade::ID).unwrap().unwrap();
    assert_eq!((message.id(), message.name()), (Trade::ID, "Trade"));
    assert_eq!(message, AnyMessage::Trade(&t));
    assert_ne!(message, AnyMessage::Trade(&Trade::default()));

    let q = Quote { bid_size: 5, ask_size: 7, status: TradingStatus::OPEN, ..Default::default() };
    let frame = Frame::of(&q);
    assert!(matches!(frame.view(Quote::ID), Some(Ok(AnyMessage::Quote(v))) if *v == q));

    let mut book = BookSnapshot::default();
    book.bids.push(Level { quantity: 3, ..Default::default() }).unwrap();
    let frame = Frame::of(&book);
    let viewed = frame.view(BookSnapshot::ID).unwrap().unwrap();
    assert!(matches!(viewed, AnyMessage::BookSnapshot(v) if *v == book));
    assert_eq!((viewed.id(), viewed.name()), (BookSnapshot::ID, "BookSnapshot"));

    let mut status = StatusChange { status: TradingStatus::HALTED, ..Default::default() };
    status.reason.set("volatility pause").unwrap();
    let frame = Frame::of(&status);
    let viewed = frame.view(StatusChange::ID).unwrap().unwrap();
    assert!(matches!(viewed, AnyMessage::StatusChange(v) if *v == status));
    assert_eq!((viewed.id(), viewed.name()), (StatusChange::ID, "StatusChange"));
}

#[test]
fn unknown_ids_are_none() {
    let frame = Frame::of(&trade());
    let known: Vec<u32> = Library::MESSAGES.iter().map(|m| m.id).collect();
    for id in [0, 0x0103, 0xDEAD_BEEF, 0xFFFF_0001, u32::MAX] {
        assert!(!known.contains(&id));
        assert!(frame.view(id).is_none(), "id {id:#x}");
    }
}

#[test]
fn bytes_of_the_wrong_size_are_a_size_error() {
    let frame = Frame::of(&trade());
    let len = frame.len;
    for found in [0, len - 8] {
        let Some(Err(e)) = Library::view(Trade::ID, &frame.bytes[..found]) else {
            panic!("{found} bytes viewed as a Trade");
        };
        assert_eq!(e, ViewError::Size { name: "Trade", expected: size_of::<Trade>(), found });
    }
    // More bytes than the type has are a newer version's: the view reads its prefix in place.
    let Some(Ok(AnyMessage::Trade(t))) = Library::view(Trade::ID, &frame.bytes[..len + 16]) else {
        panic!("a longer frame is not viewed as a Trade");
    };
    assert_eq!(*t, trade());
    // A Quote's bytes under the id of a Trade: too short, or a prefix that breaks its rules.
    let frame = Frame::of(&Quote::default());
    assert_ne!(frame.len, size_of::<Trade>());
    if frame.len < size_of::<Trade>() {
        assert!(matches!(frame.view(Trade::ID), Some(Err(ViewError::Size { name: "Trade", .. }))));
    }
}

#[test]
fn misaligned_bytes_are_refused() {
    let frame = Frame::of(&trade());
    let Some(Err(e)) = Library::view(Trade::ID, &frame.bytes[1..=frame.len]) else {
        panic!("misaligned bytes viewed as a Trade");
    };
    assert_eq!(e, ViewError::Misaligned { name: "Trade", align: align_of::<Trade>() });
}

#[test]
fn bytes_that_break_a_data_rule_are_invalid() {
    let mut t = trade();
    t.is_block = Bool(7);
    let frame = Frame::of(&t);
    let Some(Err(ViewError::Invalid(e))) = frame.view(Trade::ID) else {
        panic!("a bool of 7 was viewed");
    };
    assert_eq!((e.type_name, e.member), ("Trade", "is_block"));
    assert_eq!(e.problem, Problem::InvalidBool { byte: 7 });

    let mut t = trade();
    t.symbol.len = 17;
    let frame = Frame::of(&t);
    let Some(Err(ViewError::Invalid(e))) = frame.view(Trade::ID) else {
        panic!("a Symbol (string<16>) of 17 bytes was viewed");
    };
    assert_eq!(e.problem, Problem::LengthOutOfBounds { len: 17, capacity: 16 });

    let status = StatusChange { status: TradingStatus(9), ..Default::default() };
    let frame = Frame::of(&status);
    assert!(matches!(frame.view(StatusChange::ID), Some(Err(ViewError::Invalid(_)))));
}

/// Every generated `Library` (example schemas, valid corpus, random schemas) lists the messages
/// of its library as the IR has them, in the IR's order.
#[test]
fn every_generated_message_set_matches_the_ir() {
    let mut ir_messages: HashMap<String, Vec<Value>> = HashMap::new();
    for file in ["market/ir.json", "corpus/ir.json"] {
        let path = std::path::Path::new(env!("OUT_DIR")).join(file);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let ir: Value = serde_json::from_str(&text).expect("ir.json is JSON");
        for lib in ir["libraries"].as_array().expect("libraries") {
            let name = lib["name"].as_str().expect("library name").to_string();
            let messages = lib["declarations"]
                .as_array()
                .expect("declarations")
                .iter()
                .filter(|d| d["kind"] == "struct" && !d["message"].is_null())
                .cloned()
                .collect();
            ir_messages.insert(name, messages);
        }
    }
    let with_messages = ir_messages.values().filter(|m| !m.is_empty()).count();
    assert_eq!(MESSAGE_SETS.len(), with_messages, "one message set per library with messages");
    assert!(MESSAGE_SETS.len() > 10, "expected many message sets, got {}", MESSAGE_SETS.len());
    for (library, set_library, messages) in MESSAGE_SETS {
        assert_eq!(library, set_library);
        let ir = &ir_messages[*library];
        assert_eq!(messages.len(), ir.len(), "{library}: message count");
        for (m, d) in messages.iter().zip(ir) {
            let fingerprint = d["fingerprint"].as_str().unwrap().trim_start_matches("0x");
            assert_eq!(m.name, d["name"].as_str().unwrap(), "{library}: order");
            assert_eq!(
                u64::from(m.id),
                d["message"]["id"].as_u64().unwrap(),
                "{library}/{}",
                m.name
            );
            assert_eq!(u64::from(m.size), d["size"].as_u64().unwrap(), "{library}/{}", m.name);
            assert_eq!(u64::from(m.align), d["align"].as_u64().unwrap(), "{library}/{}", m.name);
            assert_eq!(m.fingerprint, u64::from_str_radix(fingerprint, 16).unwrap());
        }
    }
}
