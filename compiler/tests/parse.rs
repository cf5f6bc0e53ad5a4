//! Parser tests: one realistic file checked in detail, then small data-driven cases.

use flatipc_gen::ast::{Constant, ConstantKind, DeclKind, File, TypeExpr, TypeExprKind};
use flatipc_gen::diagnostic::{Diagnostic, ErrorCode};
use flatipc_gen::parse::{parse_file, MAX_NESTING, MAX_OR_TERMS};

const MARKET: &str = include_str!("parse/market_data.fidl");

/// Parses `src` as file 0, failing the test with every diagnostic if it does not parse.
fn parse_ok(src: &str) -> File {
    match parse_file(0, src) {
        Ok(file) => file,
        Err(errors) => panic!("unexpected errors for {src:?}:\n{errors:#?}"),
    }
}

/// The diagnostics for `src`, as (code, spanned text, message).
fn errors(src: &str) -> Vec<(ErrorCode, &str, String)> {
    match parse_file(0, src) {
        Ok(file) => panic!("expected errors for {src:?}, got {file:#?}"),
        Err(errors) => {
            assert!(!errors.is_empty(), "an Err must carry at least one diagnostic");
            errors
                .iter()
                .map(|d| (d.code, &src[d.span.start..d.span.end], d.message.clone()))
                .collect()
        }
    }
}

fn decl<'f>(file: &'f File, name: &str) -> &'f DeclKind {
    &file
        .decls
        .iter()
        .find(|d| d.name.name == name)
        .unwrap_or_else(|| panic!("no decl {name}"))
        .kind
}

fn named(ty: &TypeExpr) -> String {
    match &ty.kind {
        TypeExprKind::Named(n) => n.dotted(),
        other => panic!("not a named type: {other:?}"),
    }
}

fn const_value(file: &File, name: &str) -> ConstantKind {
    match decl(file, name) {
        DeclKind::Const { value, .. } => value.kind.clone(),
        other => panic!("{name} is not a const: {other:?}"),
    }
}

fn reference(c: &Constant) -> String {
    match &c.kind {
        ConstantKind::Ref(n) => n.dotted(),
        other => panic!("not a reference: {other:?}"),
    }
}

// ------------------------------------------------------------------------------------------------
// The realistic file.

#[test]
fn market_file_header() {
    let file = parse_ok(MARKET);
    assert_eq!(
        file.docs,
        ["Market data messages.", "Shared by the feed handler and the strategies."]
    );
    assert_eq!(file.attributes.len(), 1);
    let available = &file.attributes[0];
    assert_eq!(available.name.name, "available");
    assert_eq!(available.args[0].name.as_ref().map(|n| n.name.as_str()), Some("added"));
    assert_eq!(available.args[0].value.kind, ConstantKind::Int(1));
    assert_eq!(&MARKET[available.span.start..available.span.end], "@available(added=1)");
    assert_eq!(file.library.dotted(), "market.data");
    assert_eq!(&MARKET[file.library.span.start..file.library.span.end], "market.data");
    assert_eq!(file.usings.len(), 2);
    assert_eq!(file.usings[0].library.dotted(), "fuchsia.mem");
    assert!(file.usings[0].alias.is_none());
    assert_eq!(file.usings[1].alias.as_ref().map(|a| a.name.as_str()), Some("kernel"));
    assert_eq!(&MARKET[file.usings[1].span.start..file.usings[1].span.end], "using zx as kernel;");
}

#[test]
fn market_file_constants() {
    let file = parse_ok(MARKET);
    assert_eq!(const_value(&file, "MAX_SYMBOL"), ConstantKind::Int(16));
    assert_eq!(const_value(&file, "MAX_LEVELS"), ConstantKind::Int(10));
    assert_eq!(const_value(&file, "MASK"), ConstantKind::Int(21));
    assert_eq!(const_value(&file, "NEG"), ConstantKind::Int(-42));
    assert_eq!(const_value(&file, "MIN_I64"), ConstantKind::Int(i128::from(i64::MIN)));
    assert_eq!(const_value(&file, "RATE"), ConstantKind::Float(1.5e-3));
    assert_eq!(const_value(&file, "HALF"), ConstantKind::Float(-2.0));
    assert_eq!(const_value(&file, "BIG"), ConstantKind::Float(1e9));
    assert_eq!(const_value(&file, "ENABLED"), ConstantKind::Bool(true));
    assert_eq!(const_value(&file, "DISABLED"), ConstantKind::Bool(false));
    assert_eq!(const_value(&file, "VENUE"), ConstantKind::String("X\"N\\A\tSD\n".into()));
    let max_symbol = file.decls.iter().find(|d| d.name.name == "MAX_SYMBOL").expect("MAX_SYMBOL");
    assert_eq!(max_symbol.docs, ["Longest symbol, in bytes."]);
    assert_eq!(
        &MARKET[max_symbol.span.start..max_symbol.span.end],
        "const MAX_SYMBOL uint32 = 16;"
    );
    if let DeclKind::Const { ty, .. } = decl(&file, "VENUE") {
        assert_eq!(ty.kind, TypeExprKind::String { bound: None });
    }

    // `Flags.BID | Flags.ASK | other.lib.EXTRA` is `(BID | ASK) | EXTRA`.
    let ConstantKind::Or(left, right) = const_value(&file, "BOTH") else {
        panic!("BOTH is not an Or")
    };
    assert_eq!(reference(&right), "other.lib.EXTRA");
    let ConstantKind::Or(bid, ask) = &left.kind else { panic!("left side is not an Or") };
    assert_eq!((reference(bid), reference(ask)), ("Flags.BID".into(), "Flags.ASK".into()));
    assert_eq!(&MARKET[left.span.start..left.span.end], "Flags.BID | Flags.ASK");
    assert!(matches!(const_value(&file, "GROUPED"), ConstantKind::Or(..)));
}

#[test]
fn market_file_aliases_enums_bits() {
    let file = parse_ok(MARKET);
    let price = file.decls.iter().find(|d| d.name.name == "Price").expect("Price");
    assert_eq!(price.docs, ["Price in ticks."]);
    let DeclKind::Alias { ty } = &price.kind else { panic!("Price is not an alias") };
    assert_eq!(named(ty), "int64");
    let DeclKind::Alias { ty } = decl(&file, "Symbol") else { panic!("Symbol is not an alias") };
    let TypeExprKind::String { bound: Some(bound) } = &ty.kind else { panic!("not string<N>") };
    assert_eq!(reference(bound), "MAX_SYMBOL");

    let side = file.decls.iter().find(|d| d.name.name == "Side").expect("Side");
    assert_eq!(side.docs, ["Which side of the book."]);
    let DeclKind::Enum(side) = &side.kind else { panic!("Side is not an enum") };
    assert_eq!(side.modifiers.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["strict"]);
    assert_eq!(side.subtype.as_ref().map(named).as_deref(), Some("uint8"));
    assert_eq!(side.members.len(), 2);
    assert_eq!(side.members[0].docs, ["Buy side."]);
    assert_eq!(side.members[0].value.kind, ConstantKind::Int(1));
    assert_eq!(side.members[1].attributes[0].name.name, "deprecated");
    assert_eq!(
        side.members[1].attributes[0].args[0].value.kind,
        ConstantKind::String("use BUY".into())
    );
    assert!(side.members[1].attributes[0].args[0].name.is_none());
    let sell = &side.members[1];
    assert_eq!(&MARKET[sell.span.start..sell.span.end], "@deprecated(\"use BUY\")\n    SELL = 2;");

    let DeclKind::Enum(plain) = decl(&file, "Plain") else { panic!("Plain is not an enum") };
    assert!(plain.modifiers.is_empty() && plain.subtype.is_none());
    let DeclKind::Bits(flags) = decl(&file, "Flags") else { panic!("Flags is not bits") };
    assert_eq!(flags.modifiers[0].name, "flexible");
    assert_eq!(flags.subtype.as_ref().map(named).as_deref(), Some("uint16"));
    assert_eq!(flags.members[1].value.kind, ConstantKind::Int(2));
    let DeclKind::Bits(loose) = decl(&file, "Loose") else { panic!("Loose is not bits") };
    assert!(loose.subtype.is_none());
}

#[test]
fn market_file_structs() {
    let file = parse_ok(MARKET);
    let level = file.decls.iter().find(|d| d.name.name == "Level").expect("Level");
    assert_eq!(level.docs, ["One price level."]);
    assert_eq!(
        level.attributes.iter().map(|a| a.name.name.as_str()).collect::<Vec<_>>(),
        ["packed", "message"]
    );
    let message = &level.attributes[1];
    assert_eq!(message.args.len(), 2);
    assert_eq!(message.args[1].value.kind, ConstantKind::String("v1".into()));
    assert_eq!(&MARKET[message.args[1].span.start..message.args[1].span.end], "version=\"v1\"");
    assert!(MARKET[level.span.start..level.span.end].starts_with("@packed\n@message"));
    let DeclKind::Struct { members, modifiers } = &level.kind else {
        panic!("Level is not a struct")
    };
    assert!(modifiers.is_empty());
    assert_eq!(members[1].docs, ["Quantity at this price."]);
    assert!(members[0].docs.is_empty());

    let DeclKind::Struct { members, modifiers } = decl(&file, "Quote") else { panic!("Quote") };
    assert_eq!(modifiers[0].name, "resource");
    let member = |name: &str| members.iter().find(|m| m.name.name == name).expect(name);
    let TypeExprKind::Array { elem, len } = &member("bids").ty.kind else { panic!("bids") };
    assert_eq!((named(elem), reference(len)), ("Level".into(), "MAX_LEVELS".into()));
    let TypeExprKind::Array { elem, len } = &member("grid").ty.kind else { panic!("grid") };
    assert_eq!(len.kind, ConstantKind::Int(8));
    let TypeExprKind::Array { elem: inner, len: inner_len } = &elem.kind else {
        panic!("grid inner")
    };
    assert_eq!((named(inner), &inner_len.kind), ("int32".into(), &ConstantKind::Int(4)));
    assert_eq!(&MARKET[elem.span.start..elem.span.end], "array<int32, 4>");
    let TypeExprKind::String { bound: Some(bound) } = &member("name").ty.kind else {
        panic!("name")
    };
    assert_eq!(bound.kind, ConstantKind::Int(32));
    let TypeExprKind::Vector { elem, bound: Some(bound) } = &member("trades").ty.kind else {
        panic!("trades")
    };
    assert_eq!((named(elem), &bound.kind), ("uint64".into(), &ConstantKind::Int(128)));
    let TypeExprKind::Vector { elem, .. } = &member("nested").ty.kind else { panic!("nested") };
    assert!(matches!(elem.kind, TypeExprKind::Array { .. }));
    assert_eq!(named(&member("remote").ty), "other.lib.Thing");
    assert_eq!(
        member("level_default").default.as_ref().map(|d| &d.kind),
        Some(&ConstantKind::Int(3))
    );
    assert!(matches!(
        member("flags").default.as_ref().map(|d| &d.kind),
        Some(ConstantKind::Or(..))
    ));
    let flags = member("flags");
    assert_eq!(&MARKET[flags.span.start..flags.span.end], "flags Flags = Flags.BID | Flags.ASK;");
    assert!(members.iter().all(|m| m.ty.constraints.is_empty()));
}

// ------------------------------------------------------------------------------------------------
// Small accepted inputs.

#[test]
fn keywords_are_not_reserved_as_names() {
    let file = parse_ok(
        "library k;\n\
         type type = struct { type uint8; struct type; enum bits; const alias; library using; resource strict; };\n\
         type E = enum { type = 1; true = 2; };\n\
         const const uint8 = 1;\n\
         alias alias = type;\n",
    );
    let DeclKind::Struct { members, .. } = decl(&file, "type") else { panic!("struct") };
    let pairs: Vec<(String, String)> =
        members.iter().map(|m| (m.name.name.clone(), named(&m.ty))).collect();
    let expected = [
        ("type", "uint8"),
        ("struct", "type"),
        ("enum", "bits"),
        ("const", "alias"),
        ("library", "using"),
        ("resource", "strict"),
    ];
    assert_eq!(pairs, expected.map(|(a, b)| (a.to_owned(), b.to_owned())));
    let DeclKind::Enum(e) = decl(&file, "E") else { panic!("enum") };
    assert_eq!(e.members[0].name.name, "type");
    assert!(matches!(decl(&file, "const"), DeclKind::Const { .. }));
}

#[test]
fn unsupported_declarations_parse_to_unsupported() {
    let file = parse_ok(
        "library u;\n\
         type T = table { 1: a uint8; };\n\
         type U = strict union { 1: a uint8; 2: b Inner; };\n\
         type O = overlay { 1: a uint8; };\n\
         type R = resource table {};\n\
         protocol P { Method(struct { a uint8; }) -> (struct {}) error uint32; // a } in a comment\n\
           @selector(\"x}\") Other(); };\n\
         protocol NoSemi { compose P; }\n\
         service S { p client_end:P; };\n\
         resource_definition handle : uint32 { properties { subtype obj_type; }; };\n\
         type After = struct { a uint8; };\n",
    );
    let got: Vec<(String, String)> = file
        .decls
        .iter()
        .map(|d| match &d.kind {
            DeclKind::Unsupported { keyword } => (d.name.name.clone(), keyword.name.clone()),
            other => (d.name.name.clone(), format!("{other:?}")),
        })
        .collect();
    let expected = [
        ("T", "table"),
        ("U", "union"),
        ("O", "overlay"),
        ("R", "table"),
        ("P", "protocol"),
        ("NoSemi", "protocol"),
        ("S", "service"),
        ("handle", "resource_definition"),
    ];
    assert_eq!(got[..8], expected.map(|(a, b)| (a.to_owned(), b.to_owned())));
    assert!(matches!(decl(&file, "After"), DeclKind::Struct { .. }));
}

#[test]
fn empty_bodies_parse() {
    let file =
        parse_ok("library e;\ntype S = struct {};\ntype E = enum : uint8 {};\ntype B = bits {};\n");
    assert!(matches!(decl(&file, "S"), DeclKind::Struct { members, .. } if members.is_empty()));
    assert!(matches!(decl(&file, "E"), DeclKind::Enum(e) if e.members.is_empty()));
    assert!(matches!(decl(&file, "B"), DeclKind::Bits(b) if b.members.is_empty()));
}

const TYPE_FORMS: &str = "library t;\n\
    type S = struct {\n\
      a string:optional;\n\
      b vector<uint8>:16;\n\
      c zx.Handle:<VMO, zx.Rights.READ | zx.Rights.WRITE>;\n\
      d box<Inner>;\n\
      e client_end<P>;\n\
      f zx.Handle<VMO>;\n\
      g array<uint8>;\n\
      h vector<uint8>;\n\
      i string;\n\
      j array<uint8, 3>:optional;\n\
      k vector<vector<uint8, 2>:optional, 3>;\n\
    };\n";

#[test]
fn type_forms_and_constraints() {
    let file = parse_ok(TYPE_FORMS);
    let DeclKind::Struct { members, .. } = decl(&file, "S") else { panic!("S") };
    let ty = |i: usize| &members[i].ty;
    assert_eq!(ty(0).kind, TypeExprKind::String { bound: None });
    assert_eq!(ty(0).constraints.iter().map(reference).collect::<Vec<_>>(), ["optional"]);
    assert_eq!(ty(1).constraints[0].kind, ConstantKind::Int(16));
    assert!(matches!(&ty(1).kind, TypeExprKind::Vector { bound: None, .. }));
    assert_eq!(ty(2).constraints.len(), 2);
    assert!(matches!(ty(2).constraints[1].kind, ConstantKind::Or(..)));
    assert_eq!(named(ty(2)), "zx.Handle");
    assert!(matches!(&ty(3).kind, TypeExprKind::Box(inner) if named(inner) == "Inner"));
    for (i, ctor, param) in [(4, "client_end", "P"), (5, "zx.Handle", "VMO"), (6, "array", "uint8")]
    {
        let TypeExprKind::Other { name, params } = &ty(i).kind else {
            panic!("{ctor} is not Other")
        };
        assert_eq!(name.dotted(), ctor);
        assert_eq!(params.iter().map(named).collect::<Vec<_>>(), [param]);
    }
    assert!(matches!(&ty(7).kind, TypeExprKind::Vector { bound: None, .. }));
    assert_eq!(ty(8).kind, TypeExprKind::String { bound: None });
    assert!(matches!(ty(9).kind, TypeExprKind::Array { .. }));
    assert_eq!(ty(9).constraints.len(), 1);
    let TypeExprKind::Vector { elem, .. } = &ty(10).kind else { panic!("k") };
    assert_eq!(elem.constraints.iter().map(reference).collect::<Vec<_>>(), ["optional"]);
    let span = members[10].ty.span;
    assert_eq!(&TYPE_FORMS[span.start..span.end], "vector<vector<uint8, 2>:optional, 3>");
}

#[test]
fn integer_literals() {
    let cases: &[(&str, i128)] = &[
        ("0", 0),
        ("-0", 0),
        ("255", 255),
        ("0xff", 255),
        ("0XFF", 255),
        ("-0x10", -16),
        ("0b101", 5),
        ("-0B1", -1),
        ("170141183460469231731687303715884105727", i128::MAX),
        ("-170141183460469231731687303715884105728", i128::MIN),
        ("0x7fffffffffffffffffffffffffffffff", i128::MAX),
    ];
    for &(literal, value) in cases {
        let file = parse_ok(&format!("library n;\nconst X int64 = {literal};\n"));
        assert_eq!(const_value(&file, "X"), ConstantKind::Int(value), "{literal}");
    }
}

#[test]
fn string_literals() {
    let cases: &[(&str, &str)] = &[
        (r#""""#, ""),
        (r#""plain // not a comment""#, "plain // not a comment"),
        (r#""a\\b\"c\n\t\r""#, "a\\b\"c\n\t\r"),
        (r#""\u{1F600}\u{e9}x""#, "\u{1F600}\u{e9}x"),
        ("\"h\u{e9}llo\"", "h\u{e9}llo"),
    ];
    for &(literal, value) in cases {
        let file = parse_ok(&format!("library s;\nconst X string = {literal};\n"));
        assert_eq!(const_value(&file, "X"), ConstantKind::String(value.into()), "{literal}");
    }
}

#[test]
fn doc_comment_attachment() {
    let src = "/// lib\nlibrary d;\n\
               /// detached by a blank line\n\n\
               /// first\n///second\n///   indented\n\
               type A = struct {\n  x uint8; /// trailing, not a doc\n  y uint8;\n};\n\
               //// four slashes: ordinary comment\n\
               type B = struct { x uint8; };\n\
               @attr\n/// after attributes\n\
               type C = struct { x uint8; };\n\
               /// before a plain comment\n// plain\n\
               type D = struct { x uint8; };\n";
    let file = parse_ok(src);
    assert_eq!(file.docs, ["lib"]);
    let docs =
        |name: &str| file.decls.iter().find(|d| d.name.name == name).expect(name).docs.clone();
    assert_eq!(docs("A"), ["first", "second", "  indented"]);
    assert!(docs("B").is_empty());
    assert_eq!(docs("C"), ["after attributes"]);
    assert!(docs("D").is_empty());
    let DeclKind::Struct { members, .. } = decl(&file, "A") else { panic!("A") };
    assert!(members[1].docs.is_empty(), "a trailing `///` is not a doc comment");
}

#[test]
fn comments_and_crlf_anywhere() {
    let src = "library c; // trailing\r\n/// doc\r\ntype A = struct { // open\r\n  a // name\r\n  uint8 // type\r\n  ; };\r\n";
    let file = parse_ok(src);
    assert_eq!(file.decls[0].docs, ["doc"]);
    let with_bom = parse_ok("\u{FEFF}/// lib\r\nlibrary c;\r\n");
    assert_eq!(with_bom.docs, ["lib"]);
    let DeclKind::Struct { members, .. } = decl(&file, "A") else { panic!("A") };
    assert_eq!(named(&members[0].ty), "uint8");
}

#[test]
fn nesting_at_the_limit_parses() {
    let depth = MAX_NESTING - 2; // the struct body and the outermost `<` use two levels
    let ty = format!("{}uint8{}", "array<".repeat(depth), ", 2>".repeat(depth));
    let file = parse_ok(&format!("library n;\ntype S = struct {{ a {ty}; }};\n"));
    assert_eq!(file.decls.len(), 1);
    let value = format!("{}1{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
    let file = parse_ok(&format!("library n;\nconst X uint8 = {value};\n"));
    assert_eq!(const_value(&file, "X"), ConstantKind::Int(1));
}

#[test]
fn or_chain_at_the_limit_parses() {
    let terms = vec!["A"; MAX_OR_TERMS].join(" | ");
    let file = parse_ok(&format!("library n;\nconst X uint8 = {terms};\n"));
    assert!(matches!(const_value(&file, "X"), ConstantKind::Or(..)));
}

// ------------------------------------------------------------------------------------------------
// Errors, data-driven: (source, code, text under the primary span, substring of the message).

const ERROR_CASES: &[(&str, ErrorCode, &str, &str)] = &[
    ("library a.b;\ntype X = struct { a uint8 };", ErrorCode::Syntax, "}", "expected `;`"),
    ("library a.b", ErrorCode::Syntax, "", "unexpected end of file, expected `;`"),
    (
        "library a.b;\ntype X = struct { 123 };",
        ErrorCode::Syntax,
        "123",
        "expected `}` or a struct member",
    ),
    ("library a.b;\nconst X uint8 5;", ErrorCode::Syntax, "5", "expected `=`"),
    (
        "library a.b;\ntype X = foo {};",
        ErrorCode::Syntax,
        "foo",
        "expected `struct`, `enum`, `bits`",
    ),
    (
        "library a.b;\nxyz",
        ErrorCode::Syntax,
        "xyz",
        "expected `using`, a declaration or end of file",
    ),
    (
        "library a.b;\ntype X = struct { a array<uint8, 4 };",
        ErrorCode::Syntax,
        "}",
        "expected `,` or `>`",
    ),
    (
        "library a.b;\nconst X string = \"abc;\n",
        ErrorCode::Syntax,
        "\"",
        "unterminated string literal",
    ),
    ("library a.b;\nconst X uint8 = 0x;", ErrorCode::Syntax, "0x", "expected a constant"),
    ("library a.b;\nconst X uint8 = 12ab;", ErrorCode::Syntax, "12ab", "expected a constant"),
    (
        "library a.b;\ntype S = struct { a struct { b uint8; }; };",
        ErrorCode::Syntax,
        "struct { b uint8; }",
        "anonymous `struct`",
    ),
    ("library a.b;\ntype S = struct { a vector<5>; };", ErrorCode::Syntax, "5", "expected a type"),
    (
        "library a.b;\ntype S = struct { a array<uint8, vector<uint8>>; };",
        ErrorCode::Syntax,
        "vector<uint8>",
        "expected a length",
    ),
    (
        "library a;\nconst X uint8 = 1;\nusing b;",
        ErrorCode::Syntax,
        "using",
        "expected a declaration or end of file",
    ),
    ("", ErrorCode::MissingLibrary, "", "no `library`"),
    ("// only a comment\n", ErrorCode::MissingLibrary, "", "no `library`"),
    ("type X = struct {};", ErrorCode::MissingLibrary, "type", "found `type`"),
    (
        "@available(added=1)\nconst X uint8 = 1;",
        ErrorCode::MissingLibrary,
        "const",
        "found `const`",
    ),
    ("libraryx a;", ErrorCode::MissingLibrary, "libraryx", "found `libraryx`"),
    ("library Market.data;", ErrorCode::BadLibraryName, "Market", "`Market`"),
    ("library market.9data;", ErrorCode::Syntax, "9data", "expected a name"),
    ("library market.data_;", ErrorCode::BadLibraryName, "data_", "`data_`"),
    ("library a;\ntype _X = struct { a uint8; };", ErrorCode::BadIdentifier, "_X", "`_X`"),
    ("library a;\ntype X = struct { a__b uint8; };", ErrorCode::BadIdentifier, "a__b", "`a__b`"),
    ("library a;\nconst X uint8 = Y_;", ErrorCode::BadIdentifier, "Y_", "`Y_`"),
    (
        "library a;\nconst X uint8 = 170141183460469231731687303715884105728;",
        ErrorCode::IntLiteralRange,
        "170141183460469231731687303715884105728",
        "does not fit",
    ),
    (
        "library a;\nconst X uint8 = -0x800000000000000000000000000000001;",
        ErrorCode::IntLiteralRange,
        "-0x800000000000000000000000000000001",
        "does not fit",
    ),
    (
        "library a;\nconst X string = \"a\\qb\";",
        ErrorCode::BadStringLiteral,
        "\\q",
        "unknown escape",
    ),
    (
        "library a;\nconst X string = \"\\u{110000}\";",
        ErrorCode::BadStringLiteral,
        "\\u{110000}",
        "not a Unicode scalar",
    ),
    (
        "library a;\nconst X string = \"\\u{D800}\";",
        ErrorCode::BadStringLiteral,
        "\\u{D800}",
        "not a Unicode scalar",
    ),
    (
        "library a;\nconst X string = \"\\u{}\";",
        ErrorCode::BadStringLiteral,
        "\\u{}",
        "1 to 6 hex digits",
    ),
    (
        "library a;\nconst X string = \"\\u0041\";",
        ErrorCode::BadStringLiteral,
        "\\u",
        "followed by `{XXXX}`",
    ),
];

#[test]
fn error_cases() {
    for &(src, code, spanned, message) in ERROR_CASES {
        let got = errors(src);
        assert_eq!(got.len(), 1, "{src:?}: {got:#?}");
        let (got_code, got_text, got_message) = &got[0];
        assert_eq!((*got_code, *got_text), (code, spanned), "{src:?}: {got_message}");
        assert!(got_message.contains(message), "{src:?}: {got_message:?} lacks {message:?}");
    }
}

#[test]
fn every_diagnostic_has_a_hint_or_label() {
    for &(src, ..) in ERROR_CASES {
        let Err(diags) = parse_file(0, src) else { panic!("{src:?} parsed") };
        for d in &diags {
            assert!(d.hint.is_some() || !d.label.is_empty(), "{src:?}: {d:?}");
        }
    }
}

#[test]
fn lexical_errors_are_all_reported() {
    let src = "library Bad._x;\n\
               type _S = struct { a_ uint8 = 999999999999999999999999999999999999999999; };\n\
               const C string = \"\\q \\z\";\n";
    let got: Vec<(ErrorCode, &str)> = errors(src).into_iter().map(|(c, t, _)| (c, t)).collect();
    assert_eq!(
        got,
        [
            (ErrorCode::BadLibraryName, "Bad"),
            (ErrorCode::BadLibraryName, "_x"),
            (ErrorCode::BadIdentifier, "_S"),
            (ErrorCode::BadIdentifier, "a_"),
            (ErrorCode::IntLiteralRange, "999999999999999999999999999999999999999999"),
            (ErrorCode::BadStringLiteral, "\\q"),
            (ErrorCode::BadStringLiteral, "\\z"),
        ]
    );
}

#[test]
fn file_id_is_carried_into_spans() {
    let Err(diags) = parse_file(7, "library a;\nconst X uint8 = 1") else { panic!("parsed") };
    assert_eq!(diags[0].span.file, 7);
    let file = parse_file(3, "library a;").expect("parses");
    assert_eq!(file.library.span.file, 3);
}

#[test]
fn too_many_or_terms() {
    let terms = vec!["A"; MAX_OR_TERMS + 1].join("|");
    let src = format!("library n;\nconst X uint8 = {terms};\n");
    let got = errors(&src);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, ErrorCode::Syntax);
    assert!(got[0].2.contains("`|` terms"), "{}", got[0].2);
}

#[test]
fn deep_nesting_is_rejected_without_overflowing() {
    let n = 100_000;
    let inputs = [
        format!(
            "library n;\ntype S = struct {{ a {}uint8{}; }};",
            "array<".repeat(n),
            ", 2>".repeat(n)
        ),
        format!("library n;\nconst X uint8 = {}1{};", "(".repeat(n), ")".repeat(n)),
        format!("library n;\nprotocol P {};", "{".repeat(n)),
        format!("@a({}", "(".repeat(n)),
        "<".repeat(n),
        format!("library n;\ntype S = struct {{ a vector<{}", "vector<".repeat(MAX_NESTING)),
    ];
    for src in &inputs {
        let got = errors(src);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, ErrorCode::Syntax);
        assert!(
            got[0].2.contains(&format!("nesting deeper than {MAX_NESTING} levels")),
            "{}",
            got[0].2
        );
    }
    // Brackets in comments and strings do not count.
    let quiet = "(".repeat(n);
    parse_ok(&format!("library n; // {quiet}\nconst X string = \"{quiet}\";\n"));
}

#[test]
fn workspace_schemas_parse() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut seen = 0;
    for dir in ["schemas", "tests/corpus/valid"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "fidl") {
                let text = std::fs::read_to_string(&path).expect("readable schema");
                if let Err(errors) = parse_file(0, &text) {
                    panic!("{} does not parse:\n{errors:#?}", path.display());
                }
                seen += 1;
            }
        }
    }
    eprintln!("parsed {seen} workspace schemas");
}

// ------------------------------------------------------------------------------------------------
// Robustness: mutated and truncated versions of the realistic file never panic.

/// Checks that diagnostics point inside the text, on character boundaries.
fn check_diagnostics(src: &str, diags: &[Diagnostic]) {
    assert!(!diags.is_empty());
    for d in diags {
        assert!(d.span.start <= d.span.end && d.span.end <= src.len(), "{d:?}");
        assert!(src.is_char_boundary(d.span.start) && src.is_char_boundary(d.span.end), "{d:?}");
        assert!(!d.message.is_empty());
    }
}

fn parse_checked(src: &str) {
    if let Err(diags) = parse_file(0, src) {
        check_diagnostics(src, &diags);
    }
}

#[test]
fn truncations_never_panic() {
    let mut n = 0;
    for end in (0..=MARKET.len()).filter(|&e| MARKET.is_char_boundary(e)).step_by(3) {
        parse_checked(&MARKET[..end]);
        n += 1;
    }
    assert!(n > 300);
}

#[test]
fn mutations_never_panic() {
    // A fixed linear congruential generator keeps this deterministic without a dependency.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state =
            state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(state >> 33).unwrap_or(0)
    };
    let inserts = [
        "<", ">", "(", ")", "{", "}", ";", "\"", "\\", "@", "|", ":", ",", "-", "0x", "///", "é",
        "\n", "type", "_",
    ];
    let bytes: Vec<char> = MARKET.chars().collect();
    for _ in 0..400 {
        let mut chars = bytes.clone();
        for _ in 0..(1 + next() % 4) {
            let at = next() % chars.len();
            match next() % 3 {
                0 => {
                    chars.remove(at);
                }
                1 => {
                    let insert = inserts[next() % inserts.len()];
                    for (k, c) in insert.chars().enumerate() {
                        chars.insert(at + k, c);
                    }
                }
                _ => {
                    let other = next() % chars.len();
                    chars.swap(at, other);
                }
            }
        }
        let src: String = chars.into_iter().collect();
        parse_checked(&src);
    }
}
