//! The C backend: snapshots of generated headers, and a compile-and-probe check that gcc and g++
//! lay every type out exactly as the IR says.

mod common;

use common::builder::SchemaBuilder;
use common::c_probe::{check_c_layout, try_check_c_layout, try_check_headers};
use common::fresh_dir;
use flatipc_gen::backend::c;
use flatipc_gen::ir::{ConstType, ConstValue, DeclId, DeclKind, LibraryId, Prim, Schema};

fn prim(p: Prim) -> flatipc_gen::ir::Type {
    SchemaBuilder::prim(p)
}

fn int(v: i128) -> ConstValue {
    ConstValue::Int(v)
}

/// Two libraries exercising every feature of the backend: `market.base` (an enum and a struct)
/// and `market.data`, which imports it.
struct Market {
    schema: Schema,
    base: LibraryId,
    data: LibraryId,
    quote: DeclId,
}

fn market() -> Market {
    use Prim::*;
    let mut b = SchemaBuilder::new();
    let base = b.library("market.base", &["base.fidl"], &[]);
    b.schema.libraries[base.0].docs = vec![" Types shared by market libraries.".into()];
    let side = b.enumeration(base, "Side", Uint8, &[("BUY", 1), ("SELL", 2)]);
    b.docs(side, &[" Which side of the book an order rests on."]);
    if let DeclKind::Enum(e) = &mut b.schema.decls[side.0].kind {
        e.members[0].docs = vec![" Bids.".into()];
    }
    let price =
        b.structure(base, "Price", vec![("mantissa", prim(Int64)), ("exponent", prim(Int8))], None);
    b.docs(price, &[" A decimal price: mantissa * 10^exponent."]);

    let data = b.library("market.data", &["market.fidl", "extra/levels.fidl"], &[base]);
    b.schema.libraries[data.0].docs = vec![
        " Market data: quotes and book levels.".into(),
        "".into(),
        " Hostile text: end */ open /* trigraph ??/".into(),
    ];

    // Constants of every kind.
    let u32_const = ConstType::Prim(Uint32);
    let max_levels = b.constant(data, "MAX_LEVELS", u32_const.clone(), int(10));
    b.docs(max_levels, &[" Depth of the book we publish."]);
    b.constant(data, "I8_MIN", ConstType::Prim(Int8), int(-128));
    b.constant(data, "I16_NEG", ConstType::Prim(Int16), int(-5));
    b.constant(data, "I32_MIN", ConstType::Prim(Int32), int(i32::MIN.into()));
    b.constant(data, "I64_MIN", ConstType::Prim(Int64), int(i64::MIN.into()));
    b.constant(data, "I64_MAX", ConstType::Prim(Int64), int(i64::MAX.into()));
    b.constant(data, "U8_MAX", ConstType::Prim(Uint8), int(255));
    b.constant(data, "U16_MAX", ConstType::Prim(Uint16), int(65535));
    b.constant(data, "U32_MAX", u32_const, int(u32::MAX.into()));
    b.constant(data, "U64_MAX", ConstType::Prim(Uint64), int(u64::MAX.into()));
    b.constant(data, "ENABLED", ConstType::Prim(Bool), ConstValue::Bool(true));
    b.constant(data, "DISABLED", ConstType::Prim(Bool), ConstValue::Bool(false));
    b.constant(data, "F32_HALF", ConstType::Prim(Float32), ConstValue::Float(1.5));
    b.constant(data, "F32_TENTH", ConstType::Prim(Float32), ConstValue::Float(0.1));
    b.constant(data, "F32_TINY", ConstType::Prim(Float32), ConstValue::Float(1e-7));
    b.constant(data, "F64_TENTH", ConstType::Prim(Float64), ConstValue::Float(0.1));
    b.constant(data, "F64_HUGE", ConstType::Prim(Float64), ConstValue::Float(1e300));
    b.constant(data, "F64_NEG_ZERO", ConstType::Prim(Float64), ConstValue::Float(-0.0));
    b.constant(data, "F64_NEG", ConstType::Prim(Float64), ConstValue::Float(-2.5e-300));
    b.constant(data, "F64_THREE", ConstType::Prim(Float64), int(3));
    b.constant(data, "F64_INF", ConstType::Prim(Float64), ConstValue::Float(f64::INFINITY));
    b.constant(data, "F32_NEG_INF", ConstType::Prim(Float32), ConstValue::Float(f64::NEG_INFINITY));
    let text = "say \"hi\" \\ tab\t nl\n ??= ??/ caf\u{e9} nul\0 7\x017 */";
    b.constant(data, "GREETING", ConstType::String, ConstValue::String(text.into()));
    b.constant(data, "EMPTY", ConstType::String, ConstValue::String(String::new()));

    // Enums over every integer type, with extreme values.
    b.enumeration(data, "Tiny", Int8, &[("MIN", -128), ("NEG", -1), ("MAX", 127)]);
    b.enumeration(data, "Short", Int16, &[("MIN", i16::MIN.into()), ("MAX", i16::MAX.into())]);
    let mid = [("MIN", i32::MIN.into()), ("ZERO", 0), ("MAX", i32::MAX.into())];
    b.enumeration(data, "Mid", Int32, &mid);
    let wide = [("MIN", i64::MIN.into()), ("NEG", -1), ("MAX", i64::MAX.into())];
    let wide_enum = b.enumeration(data, "Wide", Int64, &wide);
    b.enumeration(data, "Code16", Uint16, &[("LOW", 0), ("HIGH", 65535)]);
    b.enumeration(data, "Code32", Uint32, &[("LOW", 0), ("HIGH", u32::MAX.into())]);
    b.enumeration(data, "Big", Uint64, &[("ONE", 1), ("MAX", u64::MAX.into())]);
    b.enumeration(data, "Empty", Uint32, &[]);

    // Bits, including the top bit of every width.
    let flags = b.bits(data, "Flags", Uint8, &[("A", 1), ("B", 2), ("HIGH", 0x80)]);
    b.bits(data, "Flags16", Uint16, &[("TOP", 1 << 15)]);
    b.bits(data, "Flags32", Uint32, &[("LOW", 1), ("TOP", 1 << 31)]);
    b.bits(data, "Flags64", Uint64, &[("LOW", 1), ("TOP", 1 << 63)]);
    let all: Vec<(String, i128)> = (0..8).map(|i| (format!("B{i}"), 1 << i)).collect();
    let all: Vec<(&str, i128)> = all.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    b.bits(data, "AllBits", Uint8, &all);

    // Aliases (of an array, of bool, of a nested array, of imported types).
    let row = b.alias(data, "Row", SchemaBuilder::array(prim(Uint8), 3));
    b.docs(row, &[" Three bytes."]);
    let flag = b.alias(data, "Flag", prim(Bool));
    let grid = b.alias(data, "Grid", SchemaBuilder::array(SchemaBuilder::array(prim(Int16), 2), 3));
    let px = b.alias(data, "Px", b.named(price));
    let side_alias = b.alias(data, "Direction", b.named(side));

    // Constants of enum and bits type (also through an alias, and from another library).
    b.constant(data, "DEFAULT_SIDE", ConstType::Named(side), int(2));
    b.constant(data, "DEFAULT_DIRECTION", ConstType::Named(side_alias), int(1));
    b.constant(data, "DEFAULT_FLAGS", ConstType::Named(flags), int(0x81));
    b.constant(data, "WIDE_MIN", ConstType::Named(wide_enum), int(i64::MIN.into()));

    // Bounded strings and vectors: padding after the items, padding before them, nested arrays.
    let string8 = b.string(data, 8);
    let string5 = b.string(data, 5);
    let vec_u16 = b.vector(data, "Vector3Uint16", prim(Uint16), 3);
    let vec_price = b.vector(data, "Vector2Price", b.named(price), 2);
    let vec_rows = b.vector(data, "Vector2Row", b.named(row), 2);
    let vec_bool = b.vector(data, "Vector3Bool", prim(Bool), 3);

    let level = b.structure(
        data,
        "Level",
        vec![
            ("price", b.named(px)),
            ("qty", prim(Uint32)),
            ("side", b.named(side)),
            ("flag", prim(Bool)),
        ],
        None,
    );
    let all_prims = b.structure(
        data,
        "AllPrims",
        vec![
            ("b", prim(Bool)),
            ("i8", prim(Int8)),
            ("i16", prim(Int16)),
            ("i32", prim(Int32)),
            ("i64", prim(Int64)),
            ("u8", prim(Uint8)),
            ("u16", prim(Uint16)),
            ("u32", prim(Uint32)),
            ("u64", prim(Uint64)),
            ("f32", prim(Float32)),
            ("f64", prim(Float64)),
        ],
        None,
    );
    let quote = b.structure(
        data,
        "Quote",
        vec![
            ("symbol", b.named(string8)),
            ("venue", b.named(string5)),
            ("levels", SchemaBuilder::array(b.named(level), 2)),
            ("matrix", SchemaBuilder::array(SchemaBuilder::array(prim(Uint8), 3), 2)),
            ("rows", SchemaBuilder::array(b.named(row), 2)),
            ("grid", b.named(grid)),
            ("flags", b.named(flags)),
            ("wide", b.named(wide_enum)),
            ("flag", b.named(flag)),
            ("bools", SchemaBuilder::array(prim(Bool), 3)),
            ("sizes", b.named(vec_u16)),
            ("prices", b.named(vec_price)),
            ("cells", b.named(vec_rows)),
            ("votes", b.named(vec_bool)),
            ("direction", b.named(side_alias)),
            ("prims", b.named(all_prims)),
        ],
        Some(0x1234_abcd),
    );
    b.docs(quote, &[" Top of book.", "", " A doc line may say */ or /* safely."]);
    let members = b.members_mut(quote);
    members[0].docs = vec![" Ticker, e.g. `AAPL` (end */ here).".into()];
    members[1].available =
        Some(flatipc_gen::ir::Available { added: Some(2), deprecated: Some(3), removed: None });
    Market { schema: b.build(), base, data, quote }
}

#[test]
fn market_data_header_snapshot() {
    let m = market();
    insta::assert_snapshot!("market_data_h", c::generate(&m.schema, m.data));
}

#[test]
fn market_base_header_snapshot() {
    let m = market();
    insta::assert_snapshot!("market_base_h", c::generate(&m.schema, m.base));
}

#[test]
fn headers_compile_as_c_and_cpp_and_match_the_ir() {
    let m = market();
    check_c_layout(&m.schema, &fresh_dir("c_backend/market"));
}

#[test]
fn file_names_banner_guard_and_includes() {
    let m = market();
    assert_eq!(c::file_name(&m.schema, m.data), "market_data.h");
    assert_eq!(c::file_name(&m.schema, m.base), "market_base.h");
    let header = c::generate(&m.schema, m.data);
    let first = header.lines().next().unwrap();
    assert_eq!(
        first,
        "/* @generated by flatipc-gen from market.fidl, levels.fidl. Do not edit. */"
    );
    assert!(
        header.contains("#ifndef FLATIPC_GEN_MARKET_DATA_H\n#define FLATIPC_GEN_MARKET_DATA_H\n")
    );
    assert!(header.contains("#include \"market_base.h\"\n"));
    assert!(header.ends_with("#endif /* FLATIPC_GEN_MARKET_DATA_H */\n"));
    assert_eq!(header, c::generate(&m.schema, m.data), "output must be deterministic");
}

#[test]
fn hostile_doc_text_cannot_leave_its_comment() {
    let m = market();
    let header = c::generate(&m.schema, m.data);
    for line in header.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("/*") || trimmed.starts_with('*') {
            // Every comment line opens at most once and closes at most once, at its end.
            let body = trimmed.trim_start_matches("/**").trim_start_matches("/*");
            let body = body.strip_suffix("*/").unwrap_or(body);
            assert!(!body.contains("*/") && !body.contains("/*"), "unsafe comment line: {line}");
            assert!(!body.contains("??/"), "trigraph in comment: {line}");
        }
    }
    assert!(header.contains(" * Hostile text: end * / open / * trigraph ?? /\n"));
}

#[test]
fn no_c_enum_and_no_overflowing_literals() {
    let m = market();
    let header = c::generate(&m.schema, m.data);
    assert!(!header.contains("enum "), "C enums have implementation-defined size");
    assert!(!header.contains("<< 63"));
    assert!(header.contains("#define market_data_I64_MIN (-INT64_C(9223372036854775807) - 1)\n"));
    assert!(header.contains(
        "#define market_data_Flags64_TOP ((market_data_Flags64)UINT64_C(0x8000000000000000))\n"
    ));
    assert!(header.contains("#define market_data_Quote_MESSAGE_ID UINT32_C(0x1234abcd)\n"));
}

/// Deliberately wrong layout numbers in the IR must make the header's static assertions fail
/// compilation (here: gcc lays the types out naturally, the IR claims otherwise).
#[test]
fn tampered_layout_fails_the_static_assertions() {
    type Tamper = fn(&mut Schema, DeclId);
    let cases: [(&str, Tamper, &str); 3] = [
        (
            "offset",
            |s, q| match &mut s.decls[q.0].kind {
                DeclKind::Struct(st) => st.members[2].offset += 4,
                _ => unreachable!(),
            },
            "market_data_Quote.levels: offset must be",
        ),
        (
            "size",
            |s, q| match &mut s.decls[q.0].kind {
                DeclKind::Struct(st) => st.size += 8,
                _ => unreachable!(),
            },
            "market_data_Quote: size must be",
        ),
        (
            "align",
            |s, q| match &mut s.decls[q.0].kind {
                DeclKind::Struct(st) => st.align = 4,
                _ => unreachable!(),
            },
            "market_data_Quote: alignment must be 4",
        ),
    ];
    for (name, tamper, message) in cases {
        let mut m = market();
        tamper(&mut m.schema, m.quote);
        let dir = fresh_dir(&format!("c_backend/tampered_{name}"));
        let err =
            try_check_c_layout(&m.schema, &dir).expect_err("tampered layout must not compile");
        assert!(err.contains("static assert"), "{name}: not a static assertion failure:\n{err}");
        assert!(err.contains(message), "{name}: expected `{message}` in:\n{err}");
    }
}

/// A header whose macros disagree with the IR (a backend bug) must be caught by the probe.
#[test]
fn probe_reports_values_that_disagree_with_the_ir() {
    let m = market();
    let headers: Vec<(String, String)> = [m.base, m.data]
        .into_iter()
        .map(|lib| {
            let text = c::generate(&m.schema, lib).replace(
                "#define market_data_Big_MAX ((market_data_Big)UINT64_C(18446744073709551615))",
                "#define market_data_Big_MAX ((market_data_Big)UINT64_C(18446744073709551614))",
            );
            (c::file_name(&m.schema, lib), text)
        })
        .collect();
    assert!(headers[1].1.contains("18446744073709551614"), "the replacement must apply");
    let err = try_check_headers(&m.schema, &headers, &fresh_dir("c_backend/wrong_value"))
        .expect_err("a wrong value must be reported");
    assert!(
        err.contains("the IR says `value market_data_Big_MAX 18446744073709551615`, gcc printed `value market_data_Big_MAX 18446744073709551614`"),
        "{err}"
    );
}

#[test]
fn name_clashes_are_reported() {
    let mut b = SchemaBuilder::new();
    let a = b.library("a", &["a.fidl"], &[]);
    let clash_a = b.structure(a, "b_c_D", vec![("x", prim(Prim::Uint8))], None);
    let ab = b.library("a.b", &["ab.fidl"], &[a]);
    let side = b.enumeration(ab, "Side", Prim::Uint8, &[("BUY", 1)]);
    let side_buy = b.constant(ab, "Side_BUY", ConstType::Prim(Prim::Uint8), int(1));
    let clash_ab = b.structure(ab, "c_D", vec![("x", prim(Prim::Uint8))], None);
    let schema = b.build();
    let clashes = c::name_clashes(&schema, ab);
    let found: Vec<(&str, DeclId, DeclId)> =
        clashes.iter().map(|c| (c.name.as_str(), c.first, c.second)).collect();
    assert_eq!(
        found,
        [
            ("a_b_Side_BUY", side, side_buy),
            ("a_b_c_D", clash_a, clash_ab),
            ("a_b_c_D_FINGERPRINT", clash_a, clash_ab),
        ]
    );
    assert!(c::name_clashes(&market().schema, market().data).is_empty());
}
