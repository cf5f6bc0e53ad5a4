//! The C backend: snapshots of generated headers, and a compile-and-probe check that gcc and g++
//! lay every type out exactly as the IR says.

mod common;

use common::builder::SchemaBuilder;
use common::c_probe::{
    check_c_layout, compile, run, try_check_c_layout, try_check_headers, write, CXX_COMPILER,
    C_COMPILER,
};
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
    let bool_pair = SchemaBuilder::array(prim(Bool), 2);
    let vec_pairs = b.vector(data, "Vector2Array2Bool", bool_pair.clone(), 2);

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
            ("checks", SchemaBuilder::array(bool_pair, 2)),
            ("pairs", b.named(vec_pairs)),
        ],
        Some(0x1234_abcd),
    );
    b.docs(quote, &[" Top of book.", "", " A doc line may say */ or /* safely."]);
    let members = b.members_mut(quote);
    members[0].docs = vec![" Ticker, e.g. `AAPL` (end */ here).".into()];
    members[1].available =
        Some(flatipc_gen::ir::Available { added: Some(2), deprecated: Some(3), removed: None });
    // A library at version 3 (the hand-built layout keeps one step: backends print what the IR
    // says, they never compute layout).
    b.schema.libraries[data.0].version = 3;
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
    // A library with messages: its runtime helpers follow the include guard, under their own.
    let (types, helpers) =
        header.split_once("#endif /* FLATIPC_GEN_MARKET_DATA_H */\n").expect("include guard");
    assert!(!types.contains("flatipc_channel") && !types.contains("FLATIPC_H"));
    assert!(helpers.contains(
        "#if defined(FLATIPC_H) && !defined(FLATIPC_GEN_MARKET_DATA_RUNTIME_H)\n\
         #define FLATIPC_GEN_MARKET_DATA_RUNTIME_H\n\
         #include \"market_base.h\" /* its runtime helpers, too */\n"
    ));
    assert!(helpers.ends_with("#endif /* FLATIPC_GEN_MARKET_DATA_RUNTIME_H */\n"));
    // A library without messages has none.
    let base = c::generate(&m.schema, m.base);
    assert!(base.ends_with("#endif /* FLATIPC_GEN_MARKET_BASE_H */\n"));
    assert!(!base.contains("FLATIPC_H"));
    assert_eq!(header, c::generate(&m.schema, m.data), "output must be deterministic");
}

/// `line` without its string literals and comments.
fn code_only(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find(['"', '/']) {
        out.push_str(&rest[..i]);
        let (open, close) = match &rest[i..] {
            r if r.starts_with('"') => ("\"", "\""),
            r if r.starts_with("/*") => ("/*", "*/"),
            _ => {
                out.push('/');
                rest = &rest[i + 1..];
                continue;
            }
        };
        let after = &rest[i + open.len()..];
        rest = after.find(close).map_or("", |j| &after[j + close.len()..]);
    }
    out.push_str(rest);
    out
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
    let code = header
        .lines()
        .filter(|l| !l.trim_start().starts_with('*'))
        .map(code_only)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!code.contains("enum "), "C enums have implementation-defined size");
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
    // The runtime helpers: a message's companions, and the library's own names (counted as
    // its first message's).
    let quote = b.structure(ab, "Quote", vec![("x", prim(Prim::Uint8))], Some(7));
    let quote_send = b.constant(ab, "Quote_send", ConstType::Prim(Prim::Uint8), int(1));
    let dispatch = b.structure(ab, "dispatch", vec![("x", prim(Prim::Uint8))], None);
    let symbol = b.string(ab, 4);
    let symbol_validate = b.constant(ab, "String4_validate", ConstType::Prim(Prim::Uint8), int(1));
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
            ("a_b_c_D_validate", clash_a, clash_ab),
            ("a_b_Quote_send", quote, quote_send),
            ("a_b_dispatch", quote, dispatch),
            ("a_b_String4_validate", symbol, symbol_validate),
        ]
    );
    assert!(c::name_clashes(&market().schema, market().data).is_empty());
}

/// The validation codes of the generated headers (`FLATIPC_GEN_INVALID_*`).
mod invalid {
    pub const BOOL: i32 = -101;
    pub const ENUM: i32 = -102;
    pub const BITS: i32 = -103;
    pub const LENGTH: i32 = -104;
    pub const UTF8: i32 = -105;
    pub const PADDING: i32 = -106;
}

/// `lib_Type_validate` applies Rust's `FlatType::validate` rules, in Rust's order: each case
/// edits a valid `market_data_Quote q` with C statements, then prints what the expression (by
/// default `market_data_Quote_validate(&q)`) returns, compiled as C11 and as C++17.
#[test]
fn validate_applies_the_rust_rules_in_rust_order() {
    use invalid::*;
    let q = "market_data_Quote_validate(&q)";
    #[rustfmt::skip]
    let cases: &[(&str, &str, &str, i32)] = &[
        ("valid", "", q, 0),
        ("zeroed: levels[0].side is no Side", "memset(&q, 0, sizeof q);", q, ENUM),
        ("symbol at its bound", r#"q.symbol.len = 8; memcpy(q.symbol.data, "ABCDEFGH", 8);"#, q, 0),
        ("symbol above its bound", "q.symbol.len = 9;", q, LENGTH),
        ("two-byte UTF-8", r#"q.symbol.len = 2; memcpy(q.symbol.data, "\xc3\xa9", 2);"#, q, 0),
        ("four-byte UTF-8", r#"q.symbol.len = 4; memcpy(q.symbol.data, "\xf0\x9f\x98\x80", 4);"#, q, 0),
        ("NUL is UTF-8", "q.symbol.len = 3;", q, 0),
        ("lone continuation byte", r#"q.symbol.len = 1; q.symbol.data[0] = '\x80';"#, q, UTF8),
        ("overlong two-byte NUL", r#"q.symbol.len = 2; memcpy(q.symbol.data, "\xc0\x80", 2);"#, q, UTF8),
        ("overlong three-byte", r#"q.symbol.len = 3; memcpy(q.symbol.data, "\xe0\x80\x80", 3);"#, q, UTF8),
        ("surrogate", r#"q.symbol.len = 3; memcpy(q.symbol.data, "\xed\xa0\x80", 3);"#, q, UTF8),
        ("above U+10FFFF", r#"q.symbol.len = 4; memcpy(q.symbol.data, "\xf4\x90\x80\x80", 4);"#, q, UTF8),
        ("U+10FFFF", r#"q.symbol.len = 4; memcpy(q.symbol.data, "\xf4\x8f\xbf\xbf", 4);"#, q, 0),
        ("F5 lead byte", r#"q.symbol.len = 1; q.symbol.data[0] = '\xf5';"#, q, UTF8),
        ("truncated sequence", r#"q.symbol.len = 2; memcpy(q.symbol.data, "\xe2\x82", 2);"#, q, UTF8),
        ("bytes after len are not checked", r#"q.symbol.len = 1; q.symbol.data[1] = '\xff';"#, q, 0),
        ("string padding", "q.venue._pad0[2] = 1;", q, PADDING),
        ("enum in an array of structs", "q.levels[1].side = 3;", q, ENUM),
        ("bool in an array of structs", "q.levels[0].flag = 2;", q, BOOL),
        ("padding in an array of structs", "q.levels[1]._pad0[1] = 1;", q, PADDING),
        ("padding through an alias", "q.levels[0].price._pad0[6] = 9;", q, PADDING),
        ("known bits", "q.flags = market_data_Flags_A | market_data_Flags_HIGH;", q, 0),
        ("unknown bit", "q.flags = 0x04;", q, BITS),
        ("64-bit enum", "q.wide = 5;", q, ENUM),
        ("bool through an alias", "q.flag = 7;", q, BOOL),
        ("array of bools", "q.bools[2] = 2;", q, BOOL),
        ("struct padding", "q._pad0[6] = 1;", q, PADDING),
        ("vector above its bound", "q.sizes.len = 4;", q, LENGTH),
        ("vector padding after the items", "q.sizes._pad0[1] = 1;", q, PADDING),
        ("vector of structs above its bound", "q.prices.len = 3;", q, LENGTH),
        ("vector item", "q.prices.len = 1; q.prices.items[0]._pad0[0] = 1;", q, PADDING),
        ("items after len are not checked", "q.prices.len = 1; q.prices.items[1]._pad0[0] = 1;", q, 0),
        ("vector padding before the items", "q.prices._pad0[3] = 1;", q, PADDING),
        ("vector of arrays", "q.cells.len = 3;", q, LENGTH),
        ("vector of bools", "q.votes.len = 2; q.votes.items[1] = 2;", q, BOOL),
        ("bools after len are not checked", "q.votes.len = 2; q.votes.items[2] = 2;", q, 0),
        ("enum through an alias", "q.direction = 0;", q, ENUM),
        ("nested struct bool", "q.prims.b = 2;", q, BOOL),
        ("nested struct padding", "q.prims._pad1[3] = 1;", q, PADDING),
        ("array of arrays of bools", "q.checks[1][0] = 2;", q, BOOL),
        ("vector of arrays of bools", "q.pairs.len = 1; q.pairs.items[0][1] = 3;", q, BOOL),
        ("arrays after len are not checked", "q.pairs.len = 1; q.pairs.items[1][0] = 3;", q, 0),
        ("integers and floats are anything", "q.grid[2][1] = -1; q.matrix[1][2] = 255; q.prims.f64 = NAN;", q, 0),
        ("first violation: members in order", "q.symbol.len = 9; q.levels[0].side = 0;", q, LENGTH),
        ("first violation: items before padding", "q.votes.len = 1; q.votes.items[0] = 2; q.votes._pad0[0] = 1;", q, BOOL),
        ("an alias has the target's rules", "q.levels[0].price._pad0[0] = 1;", "market_data_Px_validate(&q.levels[0].price)", PADDING),
        ("a nested struct alone", "", "market_base_Price_validate(&q.levels[0].price)", 0),
        ("a string alone", "q.venue.len = 6;", "market_data_String5_validate(&q.venue)", LENGTH),
    ];
    let m = market();
    let dir = fresh_dir("c_backend/validate");
    for lib in [m.base, m.data] {
        write(&dir.join(c::file_name(&m.schema, lib)), &c::generate(&m.schema, lib)).unwrap();
    }
    let mut body = String::new();
    let mut expected = String::new();
    for (name, edit, expr, code) in cases {
        body.push_str(&format!(
            "    {{\n        market_data_Quote q;\n        valid(&q);\n        {edit}\n        \
             printf(\"%s %d\\n\", \"{name}\", (int)({expr}));\n    }}\n"
        ));
        expected.push_str(&format!("{name} {code}\n"));
    }
    let source = format!(
        "#include <math.h>\n#include <stdio.h>\n#include <string.h>\n#include \"market_data.h\"\n\
         static void valid(market_data_Quote *q) {{\n    memset(q, 0, sizeof *q);\n    \
         q->levels[0].side = market_base_Side_BUY;\n    q->levels[1].side = market_base_Side_SELL;\n    \
         q->wide = market_data_Wide_NEG;\n    q->direction = market_base_Side_BUY;\n}}\n\
         int main(void) {{\n{body}    return 0;\n}}\n"
    );
    for (compiler, file, exe) in
        [(C_COMPILER, "cases.c", "cases_c"), (CXX_COMPILER, "cases.cpp", "cases_cpp")]
    {
        write(&dir.join(file), &source).unwrap();
        compile(compiler, &dir, &dir.join(file), Some(&dir.join(exe)))
            .unwrap_or_else(|e| panic!("{e}"));
        let printed = run(std::process::Command::new(dir.join(exe)), exe).unwrap();
        assert_eq!(printed, expected, "{}", compiler.0);
    }
}

/// Members removed by schema evolution are reserved bytes that older writers still fill:
/// `lib_Type_validate` does not check them (as Rust's `validate` does not), even when their old
/// type could hold invalid data; the padding after them is still checked.
#[test]
fn validate_skips_removed_members() {
    let schema = flatipc_gen::compile_sources(&[(
        "ev.fidl",
        "@available(version=2)\nlibrary ev;\n\
         type Side = strict enum : uint8 { BID = 1; };\n\
         @message\n\
         type M = struct { a uint64; @available(removed=2) side Side; \
         @available(removed=2) flag bool; b Side; };\n",
    )])
    .unwrap_or_else(|d| panic!("{}", d.render(false)));
    let dir = fresh_dir("c_backend/validate_removed");
    write(&dir.join("ev.h"), &c::generate(&schema, LibraryId(0))).unwrap();
    let cases = [
        ("valid", "", 0),
        ("removed members hold anything", "m._removed_side[0] = 9; m._removed_flag[0] = 7;", 0),
        ("the padding after them is checked", "m._pad0[0] = 1;", invalid::PADDING),
        ("later members are checked", "m.b = 3;", invalid::ENUM),
    ];
    let mut body = String::new();
    let mut expected = String::new();
    for (name, edit, code) in cases {
        body.push_str(&format!(
            "    {{\n        ev_M m;\n        memset(&m, 0, sizeof m);\n        m.b = ev_Side_BID;\n        \
             {edit}\n        printf(\"%s %d\\n\", \"{name}\", ev_M_validate(&m));\n    }}\n"
        ));
        expected.push_str(&format!("{name} {code}\n"));
    }
    let source = format!(
        "#include <stdio.h>\n#include <string.h>\n#include \"ev.h\"\n\
         int main(void) {{\n{body}    return 0;\n}}\n"
    );
    for (compiler, file, exe) in
        [(C_COMPILER, "cases.c", "cases_c"), (CXX_COMPILER, "cases.cpp", "cases_cpp")]
    {
        write(&dir.join(file), &source).unwrap();
        compile(compiler, &dir, &dir.join(file), Some(&dir.join(exe)))
            .unwrap_or_else(|e| panic!("{e}"));
        let printed = run(std::process::Command::new(dir.join(exe)), exe).unwrap();
        assert_eq!(printed, expected, "{}", compiler.0);
    }
}
