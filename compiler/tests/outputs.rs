//! Every output of every real schema, snapshot-tested: the JSON IR, the Rust module and the C
//! header of each library of `schemas/` and of `tests/corpus/valid/`, plus a gcc/g++ probe that
//! the headers lay everything out as the IR says, and determinism checks.
//!
//! Data-driven: adding a file to `tests/corpus/valid/` adds its snapshots (review them with
//! `cargo insta review`). Paths are relative to the crate, and outputs name source files by file
//! name only, so snapshots do not depend on the machine.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::c_probe::check_c_layout;
use common::fresh_dir;
use flatipc_gen::builder::{generate, GeneratedFile, Output};
use flatipc_gen::compile_files;
use flatipc_gen::ir::{ConstType, ConstValue, DeclKind, LibraryId, Prim, Schema, TypeKind};

const SCHEMAS: &str = "../schemas";
const CORPUS: &str = "../tests/corpus/valid";

/// The `.fidl` files of a directory, sorted (relative to the crate, like the directory).
fn fidl_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {dir}: {e}"))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "fidl"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .fidl files in {dir}");
    files
}

fn compile(files: &[PathBuf], include: &[&str]) -> Schema {
    let include: Vec<PathBuf> = include.iter().map(PathBuf::from).collect();
    compile_files(files, &include).unwrap_or_else(|d| panic!("{}", d.render(false)))
}

/// The example schemas: `market.fidl`, which pulls in `market.common` through `-I schemas`.
fn market() -> Schema {
    compile(&[Path::new(SCHEMAS).join("market.fidl")], &[SCHEMAS])
}

/// The whole valid corpus, compiled at once (imports between corpus files resolve).
fn corpus() -> Schema {
    compile(&fidl_files(CORPUS), &[])
}

/// Every output file of every kind, in a fixed order.
fn all_outputs(schema: &Schema) -> Vec<GeneratedFile> {
    [Output::Json, Output::Rust, Output::C].into_iter().flat_map(|o| generate(schema, o)).collect()
}

fn library_named(schema: &Schema, name: &str) -> LibraryId {
    let i = schema.libraries.iter().position(|l| l.name == name);
    LibraryId(i.unwrap_or_else(|| panic!("no library {name}")))
}

/// The files of `lib` and of every library it imports, transitively.
fn closure_files(schema: &Schema, lib: LibraryId) -> Vec<PathBuf> {
    let mut libs = BTreeSet::new();
    let mut pending = vec![lib];
    while let Some(l) = pending.pop() {
        if libs.insert(l) {
            pending.extend(&schema.library(l).imports);
        }
    }
    libs.iter().flat_map(|l| schema.library(*l).files.clone()).collect()
}

/// Snapshots the IR, Rust and C of one library, compiled on its own (with only its imports):
/// `<library>_ir`, `<library>_rs` and `<library>_h`.
fn snapshot_library(schema: &Schema, lib: LibraryId) {
    let library = schema.library(lib);
    let m = library.underscored();
    let files: Vec<String> =
        library.files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into()).collect();
    let mut settings = insta::Settings::clone_current();
    settings.set_description(format!("library `{}` from {}", library.name, files.join(", ")));
    settings.set_omit_expression(true);
    settings.bind(|| {
        insta::assert_snapshot!(format!("{m}_ir"), flatipc_gen::backend::json::generate(schema));
        insta::assert_snapshot!(
            format!("{m}_rs"),
            flatipc_gen::backend::rust::generate(schema, lib)
        );
        insta::assert_snapshot!(format!("{m}_h"), flatipc_gen::backend::c::generate(schema, lib));
    });
}

#[test]
fn market_snapshots() {
    let schema = market();
    assert_eq!(
        schema.libraries.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
        ["market.common", "market.data"]
    );
    let mut settings = insta::Settings::clone_current();
    settings.set_omit_expression(true);
    settings.set_description("schemas/market.fidl with -I schemas");
    settings.bind(|| {
        insta::assert_snapshot!("market_ir", flatipc_gen::backend::json::generate(&schema));
        for lib in 0..schema.libraries.len() {
            let lib = LibraryId(lib);
            let m = schema.library(lib).underscored();
            insta::assert_snapshot!(
                format!("{m}_rs"),
                flatipc_gen::backend::rust::generate(&schema, lib)
            );
            insta::assert_snapshot!(
                format!("{m}_h"),
                flatipc_gen::backend::c::generate(&schema, lib)
            );
        }
    });
}

/// One set of snapshots per corpus library. Each library is compiled with only the files it
/// needs, and its Rust and C must equal what compiling the whole corpus at once gives: the
/// output for a library never depends on what else is compiled alongside.
#[test]
fn corpus_snapshots() {
    let whole = corpus();
    for (i, library) in whole.libraries.iter().enumerate() {
        let lib = LibraryId(i);
        let alone = compile(&closure_files(&whole, lib), &[]);
        let alone_lib = library_named(&alone, &library.name);
        for (what, with_all, by_itself) in [
            (
                "Rust",
                flatipc_gen::backend::rust::generate(&whole, lib),
                flatipc_gen::backend::rust::generate(&alone, alone_lib),
            ),
            (
                "C",
                flatipc_gen::backend::c::generate(&whole, lib),
                flatipc_gen::backend::c::generate(&alone, alone_lib),
            ),
        ] {
            assert!(
                with_all == by_itself,
                "{what} for `{}` differs when compiled with the whole corpus",
                library.name
            );
        }
        snapshot_library(&alone, alone_lib);
    }
}

/// The two releases of the schema-evolution example: every output of version 2 (version 1 is
/// plain), and both through the C compilers and the probe.
#[test]
fn evolution_snapshots_and_c_layout() {
    let v1 = compile(&[Path::new(SCHEMAS).join("evolution/v1/market.fidl")], &[]);
    let v2 = compile(&[Path::new(SCHEMAS).join("evolution/v2/market.fidl")], &[]);
    let mut settings = insta::Settings::clone_current();
    settings.set_omit_expression(true);
    settings.set_description("schemas/evolution/v2/market.fidl");
    settings.bind(|| {
        let lib = LibraryId(0);
        insta::assert_snapshot!("evolution_v2_ir", flatipc_gen::backend::json::generate(&v2));
        insta::assert_snapshot!("evolution_v2_rs", flatipc_gen::backend::rust::generate(&v2, lib));
        insta::assert_snapshot!("evolution_v2_h", flatipc_gen::backend::c::generate(&v2, lib));
    });
    check_c_layout(&v1, &fresh_dir("outputs_evolution_v1_c"));
    check_c_layout(&v2, &fresh_dir("outputs_evolution_v2_c"));
}

/// Every example schema and the whole corpus through gcc -std=c11 and g++ -std=c++17: each
/// header compiles on its own, and a probe prints sizes, alignments, offsets, padding,
/// constants and fingerprints, which must equal the IR.
#[test]
fn market_c_layout() {
    check_c_layout(&market(), &fresh_dir("outputs_market_c"));
}

#[test]
fn corpus_c_layout() {
    check_c_layout(&corpus(), &fresh_dir("outputs_corpus_c"));
}

/// Compiling and generating twice (fresh hash maps each time) gives byte-identical files.
#[test]
fn generation_is_deterministic() {
    for schema_fn in [market as fn() -> Schema, corpus] {
        let first = schema_fn();
        let outputs = all_outputs(&first);
        assert_eq!(outputs, all_outputs(&first), "generating twice from one schema");
        for _ in 0..3 {
            let again = schema_fn();
            assert!(first == again, "compiling twice gives different IR");
            assert_eq!(outputs, all_outputs(&again), "compiling and generating again");
        }
        let names: BTreeSet<&str> = outputs.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names.len(), outputs.len(), "two outputs share a file name");
    }
}

/// Guards the corpus itself: it must keep exercising every feature the snapshots are meant to
/// cover, so that deleting or simplifying a corpus file cannot silently drop coverage.
#[test]
fn corpus_covers_every_feature() {
    let schema = corpus();
    let mut member_prims = BTreeSet::new();
    let mut enum_underlying = BTreeSet::new();
    let mut bits_underlying = BTreeSet::new();
    let mut strictness = BTreeSet::new();
    let mut features = BTreeSet::new();
    for decl in &schema.decls {
        match &decl.kind {
            DeclKind::Struct(s) => {
                for m in &s.members {
                    match &m.ty.kind {
                        TypeKind::Prim(p) => {
                            member_prims.insert(p.schema_name());
                        }
                        TypeKind::Array { elem, .. } => {
                            features.insert("array");
                            if matches!(elem.kind, TypeKind::Array { .. }) {
                                features.insert("nested array");
                            }
                        }
                        TypeKind::Named(_) => {}
                    }
                    if m.padding_after > 0 {
                        features.insert("padding");
                    }
                    if m.available.is_some() {
                        features.insert("@available");
                    }
                    if !m.docs.is_empty() {
                        features.insert("member docs");
                    }
                }
                if s.members.last().is_some_and(|m| m.padding_after > 0) {
                    features.insert("trailing padding");
                }
                match s.message {
                    Some(m) if m.explicit => features.insert("explicit message id"),
                    Some(_) => features.insert("derived message id"),
                    None => false,
                };
            }
            DeclKind::Enum(e) | DeclKind::Bits(e) => {
                let set = if matches!(decl.kind, DeclKind::Enum(_)) {
                    &mut enum_underlying
                } else {
                    &mut bits_underlying
                };
                set.insert(e.underlying.schema_name());
                strictness.insert((matches!(decl.kind, DeclKind::Enum(_)), e.strict));
                let values: Vec<i128> = e.members.iter().map(|m| m.value).collect();
                if values.contains(&i128::from(i64::MIN)) && values.contains(&i128::from(i64::MAX))
                {
                    features.insert("int64 extremes");
                }
                if values.contains(&i128::from(u64::MAX)) {
                    features.insert("uint64 max");
                }
                if values.contains(&(1 << 63)) && matches!(decl.kind, DeclKind::Bits(_)) {
                    features.insert("bit 63");
                }
            }
            DeclKind::String(b) | DeclKind::Vector(b) => {
                if b.padding_before_items() > 0 {
                    features.insert("padding before items");
                }
                if b.padding_after > 0 {
                    features.insert("padding after items");
                }
                let string_len = match b.capacity {
                    1 => "string<1>",
                    3 => "string<3>",
                    4 => "string<4>",
                    5 => "string<5>",
                    64 => "string<64>",
                    _ => "",
                };
                if matches!(decl.kind, DeclKind::String(_)) && !string_len.is_empty() {
                    features.insert(string_len);
                }
            }
            DeclKind::Alias(t) => {
                if let TypeKind::Named(id) = t.kind {
                    if matches!(schema.decl(id).kind, DeclKind::Alias(_)) {
                        features.insert("alias of alias");
                    }
                }
            }
            DeclKind::Const(c) => {
                features.insert(match (&c.ty, &c.value) {
                    (ConstType::Prim(Prim::Bool), _) => "bool const",
                    (ConstType::Prim(_), ConstValue::Float(_)) => "float const",
                    (ConstType::Prim(_), ConstValue::Int(v)) if *v < 0 => "negative const",
                    (ConstType::Prim(_), _) => "integer const",
                    (ConstType::Named(id), _)
                        if matches!(schema.decl(*id).kind, DeclKind::Bits(_)) =>
                    {
                        "bits const"
                    }
                    (ConstType::Named(_), _) => "enum const",
                    (ConstType::String, _) => "string const",
                });
            }
        }
        if decl.name.chars().all(|c| c.is_ascii_lowercase()) {
            features.insert("lowercase (keyword) declaration name");
        }
    }
    if schema.libraries.iter().any(|l| !l.imports.is_empty()) {
        features.insert("import");
    }
    let all_prims: BTreeSet<&str> = Prim::ALL.iter().map(|p| p.schema_name()).collect();
    assert_eq!(member_prims, all_prims, "every primitive as a struct member");
    let ints: BTreeSet<&str> =
        Prim::ALL.iter().filter(|p| p.is_integer()).map(|p| p.schema_name()).collect();
    assert_eq!(enum_underlying, ints, "every integer type under an enum");
    let unsigned: BTreeSet<&str> = ints.iter().copied().filter(|p| p.starts_with('u')).collect();
    assert_eq!(bits_underlying, unsigned, "every unsigned type under bits");
    assert_eq!(strictness.len(), 4, "strict and flexible enums and bits: {strictness:?}");
    let expected = [
        "array",
        "nested array",
        "padding",
        "trailing padding",
        "@available",
        "member docs",
        "explicit message id",
        "derived message id",
        "int64 extremes",
        "uint64 max",
        "bit 63",
        "padding before items",
        "padding after items",
        "string<1>",
        "string<3>",
        "string<4>",
        "string<5>",
        "string<64>",
        "alias of alias",
        "bool const",
        "float const",
        "negative const",
        "integer const",
        "bits const",
        "enum const",
        "string const",
        "lowercase (keyword) declaration name",
        "import",
    ];
    let missing: Vec<&str> = expected.into_iter().filter(|f| !features.contains(f)).collect();
    assert!(missing.is_empty(), "the corpus no longer covers: {missing:?}");
}

// ------------------------------------------------------------------------------------------
// Known bugs, found while writing these tests. Each is ignored until fixed; run them with
// `cargo test -p flatipc-gen --test outputs -- --ignored`.

fn compile_text(sources: &[(&str, &str)]) -> Result<Schema, String> {
    flatipc_gen::compile_sources(sources).map_err(|d| d.render(false))
}

/// The generated element type of the vector member `member` of struct `strukt`.
fn vector_elem(schema: &Schema, strukt: &str, member: &str) -> flatipc_gen::ir::Type {
    let decl = schema.decls.iter().find(|d| d.name == strukt).expect("struct");
    let DeclKind::Struct(s) = &decl.kind else { panic!("{strukt} is not a struct") };
    let m = s.members.iter().find(|m| m.name == member).expect("member");
    let TypeKind::Named(id) = m.ty.kind else { panic!("{member} is not named") };
    match &schema.decl(id).kind {
        DeclKind::Vector(b) => b.elem.clone(),
        other => panic!("{member} is not a vector: {other:?}"),
    }
}

/// `vector<Foo, 2>` and `vector<other.Foo, 2>` must be different generated types (the one from
/// another library is named after its library: `Vector2OFoo`), and when two element types still
/// mangle to the same name (`array<uint8, 3>` next to a struct named `Array3Uint8`) the checker
/// reports the clash instead of silently sharing one type.
#[test]
fn generated_vector_names_never_alias_different_types() {
    let schema = compile_text(&[
        ("o.fidl", "library o;\ntype Foo = struct { a uint64; };"),
        (
            "m.fidl",
            "library m;\nusing o;\ntype Foo = struct { a uint8; };\n\
             type S = struct { x vector<Foo, 2>; y vector<o.Foo, 2>; };",
        ),
    ])
    .expect("compiles");
    assert_eq!(vector_elem(&schema, "S", "x").size, 1);
    assert_eq!(vector_elem(&schema, "S", "y").size, 8, "y is a vector of o.Foo");

    let errors = compile_text(&[(
        "m.fidl",
        "library m;\ntype Array3Uint8 = struct { a uint64; };\n\
         type S = struct { x vector<array<uint8, 3>, 5>; y vector<Array3Uint8, 5>; };",
    )])
    .expect_err("the generated names clash");
    assert!(errors.contains("error[FI0208]"), "{errors}");
}

/// Libraries `a.b` and `a_b` both generate `a_b.rs` and `a_b.h` (the second file written
/// overwrites the first) and share the C prefix `a_b_`. Should be an error naming both.
#[test]
fn library_names_that_share_output_files_are_rejected() {
    let result = compile_text(&[
        ("a.fidl", "library a.b;\ntype X = struct { a uint8; };"),
        ("b.fidl", "library a_b;\ntype Y = struct { a uint8; };"),
    ]);
    let errors = result.expect_err("`a.b` and `a_b` would share a_b.rs and a_b.h");
    assert!(errors.contains("error[FI0206]"), "{errors}");
}

/// A library whose module name is a Rust keyword (`library type;`) is referred to from an
/// importing library as `super::type::A`, which is not valid Rust. Fix: spell the module with
/// `ident()` (`super::r#type::A`) in `backend/rust.rs` `type_name`, and have the checker reject
/// library names whose module would be `self`, `super` or `crate`.
#[test]
fn keyword_library_names_are_escaped_in_rust_paths() {
    let schema = compile_text(&[
        ("t.fidl", "library type;\ntype A = struct { x uint8; };"),
        ("b.fidl", "library b;\nusing type;\ntype B = struct { a type.A; };"),
    ])
    .expect("compiles");
    let b = library_named(&schema, "b");
    let rust = flatipc_gen::backend::rust::generate(&schema, b);
    assert!(!rust.contains("super::type::"), "{rust}");
}

/// A member named like a C type that the same struct uses (`uint8_t uint8_t;`, or a member
/// named after its own type's C name) changes the meaning of that name inside the struct:
/// g++ rejects the header ("changes meaning of `uint8_t`"). Should be rejected by the checker
/// (reserve the `<stdint.h>` `*_t` names as member names) or avoided by the backend.
#[test]
fn members_named_like_c_types_are_rejected() {
    let errors = compile_text(&[(
        "ct.fidl",
        "library ct;\ntype S = struct { uint8_t uint8; b uint8; int64_t int64; c int64; };",
    )])
    .expect_err("members named uint8_t/int64_t break the C++ build");
    assert_eq!(errors.matches("error[FI0207]").count(), 2, "{errors}");

    let errors = compile_text(&[(
        "ct2.fidl",
        "library ct2;\ntype Inner = struct { a uint8; };\ntype S = struct { ct2_Inner Inner; };",
    )])
    .expect_err("a member named like a C type of the header");
    assert!(errors.contains("error[FI0208]"), "{errors}");

    // A library whose module would be a Rust keyword that cannot be escaped.
    let errors = compile_text(&[("s.fidl", "library self;\ntype A = struct { x uint8; };")])
        .expect_err("`self` cannot be a module name");
    assert!(errors.contains("error[FI0207]"), "{errors}");
}

/// Two libraries that import each other are an import cycle (FI0206), reported once.
#[test]
fn import_cycles_are_rejected() {
    let errors = compile_text(&[
        ("a.fidl", "library cyc.a;\nusing cyc.b;\ntype A = struct { x uint8; };"),
        ("b.fidl", "library cyc.b;\nusing cyc.a;\ntype B = struct { y uint8; };"),
    ])
    .expect_err("an import cycle");
    assert_eq!(errors.matches("error[FI0206]").count(), 1, "{errors}");
    assert!(errors.contains("import cycle"), "{errors}");
}
