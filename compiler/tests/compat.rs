//! `flatipc-gen compat`: one snapshot per rule of `docs/EVOLUTION.md` §6 (an old and a new
//! schema, inline), the v1 → v2 example pair of `schemas/evolution/`, the JSON IR round trip that
//! lets `compat` read a saved IR (a lock file), and the command line's exit codes.
//!
//! Each case says whether it must be breaking; the snapshot holds what the user reads.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::fresh_dir;
use flatipc_gen::backend::json;
use flatipc_gen::compat::{compare, is_breaking, render, Class};
use flatipc_gen::ir::{DeclKind, Schema};
use flatipc_gen::{compile_files, compile_sources};

fn compile(text: &str) -> Schema {
    compile_sources(&[("schema.fidl", text)]).unwrap_or_else(|d| panic!("{}", d.render(false)))
}

/// The one helper: compares `old` with `new` (one library each), checks the verdict and
/// snapshots the report.
#[track_caller]
fn check(name: &str, old: &str, new: &str, breaking: bool) {
    let changes = compare(&compile(old), &compile(new));
    let report = render(&changes);
    assert!(!changes.is_empty(), "{name}: no change found");
    assert_eq!(is_breaking(&changes), breaking, "{name}:\n{report}");
    insta::with_settings!({ omit_expression => true, description => format!("OLD:\n{old}\nNEW:\n{new}") }, {
        insta::assert_snapshot!(name, report);
    });
}

const QUOTE_V1: &str = "library m;\n\
    @message(id=1)\n\
    type Quote = struct { bid int64; ask int64; venue uint16; };\n";

// ---- compatible -------------------------------------------------------------------------

#[test]
fn member_appended_with_added_is_compatible() {
    let new = "@available(version=2)\nlibrary m;\n\
        @message(id=1)\n\
        type Quote = struct { bid int64; ask int64; venue uint16; @available(added=2) bid_size uint32; };\n";
    check("appended_with_added", QUOTE_V1, new, false);
}

#[test]
fn member_marked_removed_is_compatible() {
    let new = "@available(version=2)\nlibrary m;\n\
        @message(id=1)\n\
        type Quote = struct { bid int64; ask int64; @available(removed=2) venue uint16; };\n";
    check("marked_removed", QUOTE_V1, new, false);
}

#[test]
fn flexible_enum_and_bits_gaining_members_is_compatible() {
    let old = "library m;\n\
        type Venue = flexible enum : uint16 { XNAS = 1; };\n\
        type Flags = flexible bits : uint8 { AUCTION = 1; };\n";
    let new = "library m;\n\
        type Venue = flexible enum : uint16 { XNAS = 1; BATS = 3; };\n\
        type Flags = flexible bits : uint8 { AUCTION = 1; ODD_LOT = 2; };\n";
    check("flexible_gains_member", old, new, false);
}

#[test]
fn new_declarations_and_messages_are_compatible() {
    let new = "library m;\n\
        @message(id=1)\n\
        type Quote = struct { bid int64; ask int64; venue uint16; };\n\
        const DEPTH uint32 = 10;\n\
        type Side = strict enum : uint8 { BID = 1; };\n\
        @message(id=2)\n\
        type Heartbeat = struct { sent_ns uint64; };\n";
    check("new_declarations", QUOTE_V1, new, false);
}

#[test]
fn raising_the_library_version_is_compatible() {
    let new = format!("@available(version=3)\n{QUOTE_V1}");
    check("version_raised", QUOTE_V1, &new, false);
}

// ---- breaking ---------------------------------------------------------------------------

#[test]
fn reordered_members_break() {
    let new = "library m;\n@message(id=1)\ntype Quote = struct { ask int64; bid int64; venue uint16; };\n";
    check("member_reordered", QUOTE_V1, new, true);
}

#[test]
fn retyped_members_break() {
    let new = "library m;\n@message(id=1)\ntype Quote = struct { bid float64; ask int64; venue uint16; };\n";
    check("member_retyped", QUOTE_V1, new, true);
}

#[test]
fn resized_members_break() {
    let new = "library m;\n@message(id=1)\ntype Quote = struct { bid int64; ask int64; venue uint32; };\n";
    check("member_resized", QUOTE_V1, new, true);
}

#[test]
fn members_inserted_before_existing_ones_break() {
    let new = "@available(version=2)\nlibrary m;\n@message(id=1)\n\
        type Quote = struct { bid int64; mid int64; ask int64; venue uint16; };\n";
    check("member_inserted", QUOTE_V1, new, true);
}

#[test]
fn renamed_members_break() {
    let new = "library m;\n@message(id=1)\ntype Quote = struct { bid int64; offer int64; venue uint16; };\n";
    check("member_renamed", QUOTE_V1, new, true);
}

#[test]
fn members_deleted_without_removed_break() {
    let new = "library m;\n@message(id=1)\ntype Quote = struct { bid int64; ask int64; };\n";
    check("member_deleted", QUOTE_V1, new, true);
}

#[test]
fn members_appended_without_a_new_version_break() {
    // No `added` at all ...
    let new = "library m;\n@message(id=1)\n\
        type Quote = struct { bid int64; ask int64; venue uint16; bid_size uint16; };\n";
    check("appended_without_added", QUOTE_V1, new, true);
    // ... or a version the old schema already had.
    let old = format!("@available(version=2)\n{QUOTE_V1}");
    let new = "@available(version=3)\nlibrary m;\n@message(id=1)\n\
        type Quote = struct { bid int64; ask int64; venue uint16; @available(added=2) bid_size uint16; };\n";
    check("appended_with_old_version", &old, new, true);
}

#[test]
fn nested_and_non_message_structs_are_frozen() {
    let old = "library m;\n\
        type Price = struct { mantissa int64; };\n\
        type Level = struct { price int64; orders uint32; };\n\
        @message(id=1)\n\
        type Quote = struct { bid Price; };\n";
    let new = "library m;\n\
        type Price = struct { mantissa int64; exponent int8; };\n\
        type Level = struct { price int64; };\n\
        @message(id=1)\n\
        type Quote = struct { bid Price; };\n";
    check("nested_struct_changed", old, new, true);
}

#[test]
fn changed_message_ids_break() {
    let new = "library m;\n@message(id=2)\ntype Quote = struct { bid int64; ask int64; venue uint16; };\n";
    check("message_id_changed", QUOTE_V1, new, true);
}

#[test]
fn changed_or_removed_enum_and_bits_members_break() {
    let old = "library m;\n\
        type Venue = flexible enum : uint16 { XNAS = 1; XNYS = 2; };\n\
        type Flags = flexible bits : uint8 { AUCTION = 1; ODD_LOT = 2; };\n";
    let new = "library m;\n\
        type Venue = flexible enum : uint16 { XNAS = 1; };\n\
        type Flags = flexible bits : uint8 { AUCTION = 4; ODD_LOT = 2; };\n";
    check("enum_members_changed", old, new, true);
}

#[test]
fn strict_enum_and_bits_gaining_members_break() {
    let old = "library m;\n\
        type Side = strict enum : uint8 { BID = 1; ASK = 2; };\n\
        type Flags = strict bits : uint8 { AUCTION = 1; };\n";
    let new = "library m;\n\
        type Side = strict enum : uint8 { BID = 1; ASK = 2; CROSS = 3; };\n\
        type Flags = strict bits : uint8 { AUCTION = 1; ODD_LOT = 2; };\n";
    check("strict_gains_member", old, new, true);
}

#[test]
fn changed_lengths_and_bounds_break() {
    let old = "library m;\n@message(id=1)\n\
        type Book = struct { symbol string<16>; prices array<int64, 4>; sizes vector<uint32, 4>; };\n";
    let new = "library m;\n@message(id=1)\n\
        type Book = struct { symbol string<32>; prices array<int64, 8>; sizes vector<uint32, 8>; };\n";
    check("bounds_changed", old, new, true);
}

#[test]
fn changed_alignment_breaks() {
    let old = "library m;\n@message(id=1)\ntype Stamp = struct { ns array<uint8, 8>; };\n";
    let new = "library m;\n@message(id=1)\ntype Stamp = struct { ns uint64; };\n";
    check("alignment_changed", old, new, true);
}

#[test]
fn removed_messages_and_declarations_break() {
    let old = "library m;\n\
        const DEPTH uint32 = 10;\n\
        type Side = strict enum : uint8 { BID = 1; };\n\
        @message(id=1)\n\
        type Quote = struct { bid int64; ask int64; venue uint16; };\n\
        @message(id=2)\n\
        type Heartbeat = struct { sent_ns uint64; };\n";
    check("declarations_removed", old, QUOTE_V1, true);
}

#[test]
fn lowering_the_library_version_breaks() {
    let old = format!("@available(version=2)\n{QUOTE_V1}");
    check("version_lowered", &old, QUOTE_V1, true);
}

/// A layout difference no rule names (here: the fingerprint of version 1 of a message, edited
/// in the IR) is still caught by the attach-time check, as peers would catch it.
#[test]
fn unexplained_layout_differences_break() {
    let old = compile(QUOTE_V1);
    let mut new = old.clone();
    for decl in &mut new.decls {
        if let DeclKind::Struct(s) = &mut decl.kind {
            s.steps[0].fingerprint ^= 1;
        }
    }
    let changes = compare(&old, &new);
    assert!(is_breaking(&changes), "{}", render(&changes));
    insta::with_settings!({ omit_expression => true }, {
        insta::assert_snapshot!("unexplained_layout_difference", render(&changes));
    });
}

#[test]
fn identical_schemas_have_no_changes() {
    let changes = compare(&compile(QUOTE_V1), &compile(QUOTE_V1));
    assert!(changes.is_empty(), "{}", render(&changes));
    assert_eq!(render(&changes), "no changes\n");
}

// ---- the example pair and the JSON IR ----------------------------------------------------

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn evolution(version: &str) -> Schema {
    let path = root().join(format!("schemas/evolution/{version}/market.fidl"));
    compile_files(&[path], &[]).unwrap_or_else(|d| panic!("{}", d.render(false)))
}

/// `schemas/evolution/v2` is a compatible successor of `v1` (and going back is not).
#[test]
fn evolution_example_v1_to_v2_is_compatible() {
    let (v1, v2) = (evolution("v1"), evolution("v2"));
    let forward = compare(&v1, &v2);
    assert!(!is_breaking(&forward), "{}", render(&forward));
    assert!(forward.iter().all(|c| c.class == Class::Compatible));
    let backward = compare(&v2, &v1);
    assert!(is_breaking(&backward), "{}", render(&backward));
    insta::with_settings!({ omit_expression => true }, {
        insta::assert_snapshot!("evolution_v1_to_v2", render(&forward));
        insta::assert_snapshot!("evolution_v2_to_v1", render(&backward));
    });
}

/// Reading the JSON IR back and writing it again gives the same document, and the schema read
/// back has no changes against the compiled one: a saved IR is as good as the schema for
/// `compat`.
#[test]
fn json_ir_round_trips() {
    let market = compile_files(&[root().join("schemas/market.fidl")], &[root().join("schemas")])
        .unwrap_or_else(|d| panic!("{}", d.render(false)));
    let mut corpus_files: Vec<PathBuf> = std::fs::read_dir(root().join("tests/corpus/valid"))
        .expect("corpus")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "fidl"))
        .collect();
    corpus_files.sort();
    let corpus =
        compile_files(&corpus_files, &[]).unwrap_or_else(|d| panic!("{}", d.render(false)));
    let random = compile_sources(&[(
        "random.fidl",
        &flatipc_gen::testing::random_schema("random.rt", 7, 40),
    )])
    .unwrap_or_else(|d| panic!("{}", d.render(false)));
    for (what, schema) in [
        ("market", market),
        ("corpus", corpus),
        ("evolution v2", evolution("v2")),
        ("random", random),
    ] {
        let text = json::generate(&schema);
        let back = json::read(&text).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(json::generate(&back), text, "{what}: the IR does not round-trip");
        let changes = compare(&schema, &back);
        assert!(changes.is_empty(), "{what}:\n{}", render(&changes));
    }
}

#[test]
fn json_ir_errors_say_where() {
    let cases: [(&str, &str); 4] = [
        ("not json", "not a JSON document"),
        ("{\"flatipc_ir_version\": 1, \"libraries\": []}", "format version 1 is not supported"),
        ("{\"flatipc_ir_version\": 2}", "`libraries`: missing"),
        (
            "{\"flatipc_ir_version\": 2, \"libraries\": [{\"name\": \"m\", \"version\": 1, \
             \"docs\": [], \"files\": [], \"imports\": [\"other\"], \"declarations\": []}]}",
            "`libraries[0].imports[0]`: imports a library that is not written before it",
        ),
    ];
    for (text, expected) in cases {
        let error = json::read(text).expect_err(text).to_string();
        assert!(error.contains(expected), "{text}: {error}");
    }
}

// ---- the command line ---------------------------------------------------------------------

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flatipc-gen"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run flatipc-gen")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The lock-file workflow of the README: save the released IR with `--json-out`, then compare
/// the schema against it. Exit 0 when compatible, 1 when breaking, 2 on bad input.
#[test]
fn command_line_lock_file_workflow() {
    let lock = fresh_dir("compat_lock");
    let lock_arg = lock.to_str().expect("UTF-8 path");
    let o = run(&["--json-out", lock_arg, "schemas/evolution/v1/market.fidl"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let ir = lock.join("ir.json");
    let ir_arg = ir.to_str().expect("UTF-8 path");

    let o = run(&["compat", ir_arg, "schemas/evolution/v2/market.fidl"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", text(&o.stdout), text(&o.stderr));
    assert!(
        text(&o.stdout).ends_with("8 changes: 8 compatible, 0 breaking\n"),
        "{}",
        text(&o.stdout)
    );

    // The directory `--json-out` wrote works too; going back is breaking.
    let o = run(&["compat", "schemas/evolution/v2/market.fidl", lock_arg]);
    assert_eq!(o.status.code(), Some(1), "{}{}", text(&o.stdout), text(&o.stderr));
    assert!(text(&o.stdout).contains("breaking    market.evo/Heartbeat: message removed"));

    // With imports through -I.
    let o = run(&["compat", "-I", "schemas", "schemas/market.fidl", "schemas/market.fidl"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", text(&o.stdout), text(&o.stderr));
    assert_eq!(text(&o.stdout), "no changes\n");
}

#[test]
fn command_line_input_errors_exit_2() {
    let dir = fresh_dir("compat_inputs");
    let bad_json = dir.join("bad.json");
    std::fs::write(&bad_json, "{\"flatipc_ir_version\": 1}").expect("write");
    let bad_fidl = dir.join("bad.fidl");
    std::fs::write(&bad_fidl, "library bad;\ntype S = struct { x Unknwn; };\n").expect("write");
    let v1 = "schemas/evolution/v1/market.fidl";
    for (old, new, expected) in [
        (bad_json.to_str().unwrap(), v1, "format version 1 is not supported"),
        (v1, bad_fidl.to_str().unwrap(), "error[FI0203]"),
        ("does-not-exist.json", v1, "cannot read does-not-exist.json"),
        (v1, "does-not-exist.fidl", "error[FI0107]"),
    ] {
        let o = run(&["compat", old, new]);
        assert_eq!(o.status.code(), Some(2), "{old} {new}: {}", text(&o.stderr));
        assert!(text(&o.stderr).contains(expected), "{old} {new}: {}", text(&o.stderr));
        assert!(o.stdout.is_empty());
    }
    let o = run(&["compat", v1]);
    assert_eq!(o.status.code(), Some(2), "a missing argument is a usage error");
}
