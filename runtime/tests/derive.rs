//! Behaviour of `#[derive(FlatMessage)]`: fingerprints, member tables, validation and the
//! bounded string/vector accessors, checked against hand-computed values.

use flatipc::fingerprint::{Fingerprinter, PrimCode};
use flatipc::prelude::*;
use flatipc::{CapacityError, Member, Problem, ValidationError};

/// A nested struct with a `Bool` and explicit trailing padding (size 4, align 2).
#[derive(Clone, Copy, Debug, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[repr(C)]
struct Inner {
    a: u16,
    flag: Bool,
    #[flat(padding)]
    _pad0: [u8; 1],
}

/// `string<10>`: `len` at 0, 10 bytes at 4, 2 bytes of padding (size 16, align 4).
#[derive(Clone, Copy, Debug, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(string)]
#[repr(C)]
struct Name {
    len: u32,
    data: [u8; 10],
    #[flat(padding)]
    _pad0: [u8; 2],
}

/// A strict enum over `u8`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(enum, strict)]
#[repr(transparent)]
struct Kind(pub u8);

impl Kind {
    const LIMIT: Kind = Kind(0);
    const MARKET: Kind = Kind(1);

    const fn is_known(self) -> bool {
        matches!(self, Kind::LIMIT | Kind::MARKET)
    }
}

/// A flexible enum over `i16`: any value is valid data.
#[derive(Clone, Copy, Debug, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(enum)]
#[repr(transparent)]
struct Color(pub i16);

/// Strict bits over `u8`: bits 0..=2 are members.
#[derive(Clone, Copy, Debug, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(bits, strict)]
#[repr(transparent)]
struct Perms(pub u8);

impl Perms {
    const fn is_known(self) -> bool {
        self.0 & !0b111 == 0
    }
}

/// Flexible bits over `u32`.
#[derive(Clone, Copy, Debug, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(bits)]
#[repr(transparent)]
struct Features(pub u32);

/// `vector<uint64, 4>`: padding between `len` and the 8-aligned items (size 40, align 8).
#[derive(Clone, Copy, Debug, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(vector)]
#[repr(C)]
struct Ids {
    len: u32,
    #[flat(padding)]
    _pad0: [u8; 4],
    items: [u64; 4],
}

/// `vector<Kind, 3>`: items need validation (size 8, align 4).
#[derive(Clone, Copy, Debug, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(vector)]
#[repr(C)]
struct Kinds {
    len: u32,
    items: [Kind; 3],
    #[flat(padding)]
    _pad0: [u8; 1],
}

/// A message with a nested struct, an array, a string, an enum, a vector and padding.
#[derive(Clone, Copy, Debug, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(id = 0x0102_0304)]
#[repr(C)]
struct Outer {
    inner: Inner,
    values: [u32; 3],
    name: Name,
    kind: Kind,
    #[flat(padding)]
    _pad0: [u8; 7],
    ts: u64,
    kinds: Kinds,
}

/// Raw identifiers hash and report without their `r#`.
#[derive(Clone, Copy, Debug, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[repr(C)]
struct r#Keywords {
    r#type: u32,
    r#match: f32,
}

/// No member needs validation.
#[derive(Clone, Copy, Debug, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[repr(C)]
struct Plain {
    a: u32,
    b: f32,
    c: [i8; 4],
    color: Color,
    features_hi: u16,
    features: Features,
}

fn prim(code: PrimCode) -> u64 {
    Fingerprinter::primitive(code)
}

fn inner_fingerprint() -> u64 {
    Fingerprinter::structure(4, 2, 2)
        .member("a", 0, prim(PrimCode::Uint16))
        .member("flag", 2, prim(PrimCode::Bool))
        .finish()
}

fn kind_fingerprint() -> u64 {
    Fingerprinter::enumeration(prim(PrimCode::Uint8), true)
}

fn kinds_fingerprint() -> u64 {
    Fingerprinter::vector(3, kind_fingerprint())
}

fn outer() -> Outer {
    Outer {
        inner: Inner { a: 7, flag: true.into(), _pad0: [0] },
        values: [1, 2, 3],
        name: Name::new("ticker").unwrap(),
        kind: Kind::MARKET,
        _pad0: [0; 7],
        ts: 99,
        kinds: Kinds::from_slice(&[Kind::LIMIT, Kind::MARKET]).unwrap(),
    }
}

fn error_of(value: &impl FlatType) -> (&'static str, &'static str, Problem) {
    let err: ValidationError = value.validate().expect_err("the value should be invalid");
    (err.type_name, err.member, err.problem)
}

#[test]
fn layouts_are_the_expected_ones() {
    assert_eq!((size_of::<Inner>(), align_of::<Inner>()), (4, 2));
    assert_eq!((size_of::<Name>(), align_of::<Name>()), (16, 4));
    assert_eq!((size_of::<Ids>(), align_of::<Ids>()), (40, 8));
    assert_eq!((size_of::<Kinds>(), align_of::<Kinds>()), (8, 4));
    assert_eq!((size_of::<Outer>(), align_of::<Outer>()), (56, 8));
}

#[test]
fn struct_fingerprints_match_hand_computed_chains() {
    assert_eq!(Inner::FINGERPRINT, inner_fingerprint());
    let outer = Fingerprinter::structure(56, 8, 6)
        .member("inner", 0, inner_fingerprint())
        .member("values", 4, Fingerprinter::array(3, prim(PrimCode::Uint32)))
        .member("name", 16, Fingerprinter::string(10))
        .member("kind", 32, kind_fingerprint())
        .member("ts", 40, prim(PrimCode::Uint64))
        .member("kinds", 48, kinds_fingerprint())
        .finish();
    assert_eq!(Outer::FINGERPRINT, outer);

    let plain = Fingerprinter::structure(20, 4, 6)
        .member("a", 0, prim(PrimCode::Uint32))
        .member("b", 4, prim(PrimCode::Float32))
        .member("c", 8, Fingerprinter::array(4, prim(PrimCode::Int8)))
        .member("color", 12, Fingerprinter::enumeration(prim(PrimCode::Int16), false))
        .member("features_hi", 14, prim(PrimCode::Uint16))
        .member("features", 16, Fingerprinter::bits(prim(PrimCode::Uint32), false))
        .finish();
    assert_eq!(Plain::FINGERPRINT, plain);
}

#[test]
fn bounded_and_newtype_fingerprints_match_hand_computed_values() {
    assert_eq!(Name::FINGERPRINT, Fingerprinter::string(10));
    assert_eq!(Ids::FINGERPRINT, Fingerprinter::vector(4, prim(PrimCode::Uint64)));
    assert_eq!(Kinds::FINGERPRINT, kinds_fingerprint());
    assert_eq!(Kind::FINGERPRINT, kind_fingerprint());
    assert_eq!(Color::FINGERPRINT, Fingerprinter::enumeration(prim(PrimCode::Int16), false));
    assert_eq!(Perms::FINGERPRINT, Fingerprinter::bits(prim(PrimCode::Uint8), true));
    assert_eq!(Features::FINGERPRINT, Fingerprinter::bits(prim(PrimCode::Uint32), false));
}

#[test]
fn raw_identifiers_are_named_without_their_escape() {
    assert_eq!(Keywords::NAME, "Keywords");
    let names: Vec<_> = Keywords::MEMBERS.iter().map(|m| m.name).collect();
    assert_eq!(names, ["type", "match"]);
    let expected = Fingerprinter::structure(8, 4, 2)
        .member("type", 0, prim(PrimCode::Uint32))
        .member("match", 4, prim(PrimCode::Float32))
        .finish();
    assert_eq!(Keywords::FINGERPRINT, expected);
}

#[test]
fn member_tables_list_non_padding_members_with_true_offsets() {
    const MEMBER_COUNT: usize = Outer::MEMBERS.len();
    const NAME_OFFSET: usize = Outer::MEMBERS[2].offset;
    assert_eq!((MEMBER_COUNT, NAME_OFFSET), (6, 16));

    let expected = [
        Member { name: "inner", offset: 0, size: 4, fingerprint: inner_fingerprint() },
        Member {
            name: "values",
            offset: 4,
            size: 12,
            fingerprint: Fingerprinter::array(3, prim(PrimCode::Uint32)),
        },
        Member { name: "name", offset: 16, size: 16, fingerprint: Fingerprinter::string(10) },
        Member { name: "kind", offset: 32, size: 1, fingerprint: kind_fingerprint() },
        Member { name: "ts", offset: 40, size: 8, fingerprint: prim(PrimCode::Uint64) },
        Member { name: "kinds", offset: 48, size: 8, fingerprint: kinds_fingerprint() },
    ];
    assert_eq!(Outer::MEMBERS, expected);
    assert_eq!(Inner::MEMBERS.len(), 2);
}

#[test]
fn message_ids_and_names() {
    assert_eq!(Outer::MESSAGE_ID, Some(0x0102_0304));
    assert_eq!(Outer::NAME, "Outer");
    assert_eq!(Inner::MESSAGE_ID, None);
}

#[test]
fn needs_validation_follows_members_and_padding() {
    let flags = [
        ("Plain", Plain::NEEDS_VALIDATION, false),
        ("Keywords", Keywords::NEEDS_VALIDATION, false),
        ("Color", Color::NEEDS_VALIDATION, false),
        ("Features", Features::NEEDS_VALIDATION, false),
        ("Inner", Inner::NEEDS_VALIDATION, true),
        ("Outer", Outer::NEEDS_VALIDATION, true),
        ("Kind", Kind::NEEDS_VALIDATION, true),
        ("Perms", Perms::NEEDS_VALIDATION, true),
        ("Name", Name::NEEDS_VALIDATION, true),
        ("Ids", Ids::NEEDS_VALIDATION, true),
    ];
    for (name, actual, expected) in flags {
        assert_eq!(actual, expected, "{name}::NEEDS_VALIDATION");
    }
}

#[test]
fn valid_values_pass() {
    assert!(outer().validate().is_ok());
    assert!(Plain {
        a: 1,
        b: 2.0,
        c: [3; 4],
        color: Color(-7),
        features_hi: 0,
        features: Features(!0)
    }
    .validate()
    .is_ok());
    assert!(Perms(0b101).validate().is_ok());
}

#[test]
fn validation_names_the_innermost_struct_and_member() {
    // A bad `Bool` two levels down is attributed to `Inner.flag`, not `Outer.inner`.
    let mut msg = outer();
    msg.inner.flag = Bool(2);
    assert_eq!(error_of(&msg), ("Inner", "flag", Problem::InvalidBool { byte: 2 }));

    let mut msg = outer();
    msg.inner._pad0 = [1];
    assert_eq!(error_of(&msg), ("Inner", "_pad0", Problem::NonZeroPadding));

    let mut msg = outer();
    msg._pad0[6] = 0xff;
    assert_eq!(error_of(&msg), ("Outer", "_pad0", Problem::NonZeroPadding));

    let mut msg = outer();
    msg.kind = Kind(9);
    assert_eq!(error_of(&msg), ("Outer", "kind", Problem::UnknownEnumValue { raw: 9 }));

    // Items of a vector are validated up to `len` only.
    let mut msg = outer();
    msg.kinds.items[1] = Kind(5);
    assert_eq!(error_of(&msg), ("Outer", "kinds", Problem::UnknownEnumValue { raw: 5 }));
    msg.kinds.len = 1;
    assert!(msg.validate().is_ok());
    msg.kinds.len = 4;
    let bound = Problem::LengthOutOfBounds { len: 4, capacity: 3 };
    assert_eq!(error_of(&msg), ("Outer", "kinds", bound));
}

#[test]
fn validation_of_strings_read_from_raw_bytes() {
    let mut msg = outer();
    msg.name.len = 11;
    let bound = Problem::LengthOutOfBounds { len: 11, capacity: 10 };
    assert_eq!(error_of(&msg), ("Outer", "name", bound));

    // Bytes as a peer might have written them: "ab" then a lone continuation byte.
    let mut bytes = outer().as_bytes().to_vec();
    bytes[16..20].copy_from_slice(&3u32.to_le_bytes());
    bytes[20..23].copy_from_slice(&[b'a', b'b', 0x80]);
    let msg = Outer::read_from_bytes(&bytes).unwrap();
    assert_eq!(error_of(&msg), ("Outer", "name", Problem::InvalidUtf8 { valid_up_to: 2 }));

    let mut msg = outer();
    msg.name._pad0 = [0, 1];
    assert_eq!(error_of(&msg), ("Outer", "name", Problem::NonZeroPadding));
}

#[test]
fn strict_newtypes_reject_unknown_values() {
    assert_eq!(error_of(&Kind(2)), ("", "", Problem::UnknownEnumValue { raw: 2 }));
    assert_eq!(error_of(&Perms(0b1000)), ("", "", Problem::UnknownBits { raw: 8 }));
    assert!(Color(i16::MIN).validate().is_ok());
    assert!(Features(u32::MAX).validate().is_ok());
}

#[test]
fn string_accessors() {
    assert_eq!(Name::CAPACITY, 10);
    let mut name = Name::new("hello wide").unwrap();
    assert_eq!((name.as_str(), name.len(), name.is_empty()), (Ok("hello wide"), 10, false));

    name.set("hi").unwrap();
    assert_eq!(name.as_str(), Ok("hi"));
    assert_eq!(name.data[2..], [0; 8], "set zeroes the unused tail");

    // Multi-byte UTF-8 counts bytes: "é" is two.
    name.set("ééééé").unwrap();
    assert_eq!(name.len(), 10);
    let err = name.set("éééééé").unwrap_err();
    assert_eq!(err, CapacityError { requested: 12, capacity: 10 });
    assert_eq!(name.as_str(), Ok("ééééé"), "a failed set leaves the value unchanged");
    assert_eq!(Name::new("eleven byte").unwrap_err().requested, 11);

    name.set("").unwrap();
    assert!(name.is_empty());
    assert_eq!(name.as_str(), Ok(""));

    // A length written by a peer is clamped by `len` and rejected by `as_str`.
    name.len = 100;
    assert_eq!(name.len(), 10);
    assert_eq!(
        name.as_str().unwrap_err().problem,
        Problem::LengthOutOfBounds { len: 100, capacity: 10 }
    );
}

#[test]
fn vector_accessors() {
    assert_eq!(Ids::CAPACITY, 4);
    let mut ids = Ids::from_slice(&[1, 2]).unwrap();
    assert_eq!((ids.as_slice(), ids.len(), ids.is_empty()), (Ok(&[1, 2][..]), 2, false));

    ids.push(3).unwrap();
    ids.push(4).unwrap();
    assert_eq!(ids.push(5), Err(CapacityError { requested: 5, capacity: 4 }));
    assert_eq!(ids.as_slice(), Ok(&[1, 2, 3, 4][..]));

    ids.as_mut_slice().unwrap()[0] = 10;
    assert_eq!(ids.items[0], 10);

    ids.set_from_slice(&[7]).unwrap();
    assert_eq!(ids.items, [7, 0, 0, 0], "set_from_slice zeroes the unused slots");
    assert_eq!(ids.set_from_slice(&[0; 5]), Err(CapacityError { requested: 5, capacity: 4 }));
    assert_eq!(ids.as_slice(), Ok(&[7][..]), "a failed set leaves the value unchanged");
    assert!(Ids::from_slice(&[0; 5]).is_err());

    ids.clear();
    assert!(ids.is_empty());
    assert_eq!(ids.items, [0; 4]);
    assert_eq!(ids.as_slice(), Ok(&[][..]));

    ids.len = 9;
    assert_eq!(ids.len(), 4);
    assert!(ids.as_slice().is_err());
    assert!(ids.as_mut_slice().is_err());
    assert_eq!(ids.push(1).unwrap_err().capacity, 4);
    assert_eq!(error_of(&ids).2, Problem::LengthOutOfBounds { len: 9, capacity: 4 });

    let mut ids = Ids::from_slice(&[1]).unwrap();
    ids._pad0 = [0, 0, 0, 1];
    assert_eq!(error_of(&ids).2, Problem::NonZeroPadding);
}
