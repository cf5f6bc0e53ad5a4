//! Schema evolution in the IR (`docs/EVOLUTION.md` §1 and §3): library versions, the layout rule
//! that every version is a byte prefix of the next, and the steps with their fingerprints.
//! (The errors are in the invalid corpus, `FI06xx-*.fidl`; the backends' output in the
//! snapshots of `tests/corpus/valid/messages.fidl` and `schemas/`.)

use std::path::Path;

use flatipc::fingerprint::{Fingerprinter, PrimCode};
use flatipc_gen::ir::{DeclKind, Schema, Struct, VersionStep};
use flatipc_gen::{compile_files, compile_sources};

fn compile(sources: &[(&str, &str)]) -> Schema {
    compile_sources(sources).unwrap_or_else(|d| panic!("{}", d.render(false)))
}

fn structure<'s>(schema: &'s Schema, name: &str) -> &'s Struct {
    let decl = schema.decls.iter().find(|d| d.name == name).expect("declared");
    match &decl.kind {
        DeclKind::Struct(s) => s,
        other => panic!("{name} is not a struct: {other:?}"),
    }
}

fn offsets(s: &Struct) -> Vec<(&str, u64)> {
    s.members.iter().map(|m| (m.name.as_str(), m.offset)).collect()
}

/// A later version starts at the size of the one before it, never in its trailing padding:
/// `c` goes at 16 (version 1's size), not at 9 where natural layout would put it.
#[test]
fn later_versions_start_at_the_previous_size() {
    let schema = compile(&[(
        "m.fidl",
        "@available(version=3)\nlibrary m;\n@message\n\
         type M = struct { a uint64; b uint8; @available(added=2) c uint8; @available(added=2) d uint16; \
         @available(added=3) e uint32; };",
    )]);
    let m = structure(&schema, "M");
    // Version 2 (c, d) starts at 16; version 3 (e) at 24, after version 2's end (20 → 24).
    assert_eq!(offsets(m), [("a", 0), ("b", 8), ("c", 16), ("d", 18), ("e", 24)]);
    assert_eq!(m.size, 32);
    let steps: Vec<(u16, u64)> = m.steps.iter().map(|s| (s.version, s.size)).collect();
    assert_eq!(steps, [(1, 16), (2, 24), (3, 32)]);
    // Within one version, members pack as usual.
    assert_eq!(m.members[1].padding_after, 7);
    assert_eq!(m.members[3].padding_after, 4);
}

/// The fingerprint of a message at version k is the fingerprint of the message as the schema
/// of version k declared it: `schemas/evolution/v2`'s steps at version 1 are `v1`'s layouts.
#[test]
fn the_first_step_is_the_previous_release() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/evolution");
    let v1 = compile_files(&[dir.join("v1/market.fidl")], &[]).expect("v1 compiles");
    let v2 = compile_files(&[dir.join("v2/market.fidl")], &[]).expect("v2 compiles");
    assert_eq!((v1.libraries[0].version, v2.libraries[0].version), (1, 2));
    for name in ["Quote", "Trade"] {
        let (old, new) = (structure(&v1, name), structure(&v2, name));
        assert_eq!(old.steps.len(), 1);
        assert_eq!(new.steps.len(), 2, "{name}");
        assert_eq!(
            new.steps[0],
            VersionStep { version: 1, size: old.size, fingerprint: old.fingerprint }
        );
        // Version 1's members keep their offsets: the version-1 layout is a byte prefix.
        for (m, n) in old.members.iter().zip(&new.members) {
            assert_eq!((&m.name, m.offset), (&n.name, n.offset), "{name}");
        }
    }
}

/// A removed member keeps its bytes (the layout does not change) but is not hashed from its
/// `removed` version on; the struct's fingerprint is that of the current version.
#[test]
fn removed_members_are_hashed_until_their_removal() {
    let schema = compile(&[(
        "m.fidl",
        "@available(version=2)\nlibrary m;\n@message\n\
         type M = struct { a uint32; @available(removed=2) b uint32; };",
    )]);
    let m = structure(&schema, "M");
    assert_eq!(m.size, 8);
    let u32_fp = Fingerprinter::primitive(PrimCode::Uint32);
    let v1 = Fingerprinter::structure(8, 4, 2).member("a", 0, u32_fp).member("b", 4, u32_fp);
    let v2 = Fingerprinter::structure(8, 4, 1).member("a", 0, u32_fp);
    assert_eq!(
        m.steps,
        [
            VersionStep { version: 1, size: 8, fingerprint: v1.finish() },
            VersionStep { version: 2, size: 8, fingerprint: v2.finish() },
        ]
    );
    assert_eq!(m.fingerprint, v2.finish());
}

/// Structs without history have one step, whatever the library's version.
#[test]
fn unversioned_structs_have_one_step() {
    let schema = compile(&[(
        "m.fidl",
        "@available(version=7)\nlibrary m;\ntype P = struct { x int64; };\n\
         @message\ntype M = struct { p P; @available(added=1, deprecated=3) q uint8; };",
    )]);
    assert_eq!(schema.libraries[0].version, 7);
    for name in ["P", "M"] {
        let s = structure(&schema, name);
        assert_eq!(s.steps, [VersionStep { version: 1, size: s.size, fingerprint: s.fingerprint }]);
    }
}

/// `added=1` says what no `added` says, so it is accepted on any member, also of nested structs;
/// FIDL's own arguments on the library line are accepted and ignored.
#[test]
fn added_1_and_fidl_library_availability_are_accepted() {
    let schema = compile(&[(
        "m.fidl",
        "@available(platform=\"market\", added=1, version=2)\nlibrary m;\n\
         type P = struct { @available(added=1) x int64; };\n\
         @message\ntype M = struct { p P; @available(added=2) y uint8; };",
    )]);
    assert_eq!(schema.libraries[0].version, 2);
    assert_eq!(structure(&schema, "M").steps.len(), 2);
}

/// Files of one library agree on its version (and a file that says nothing says 1).
#[test]
fn every_file_of_a_library_gives_its_version() {
    let a = "@available(version=2)\nlibrary m;\ntype A = struct { x uint8; };";
    let b = "@available(version=2)\nlibrary m;\ntype B = struct { y uint8; };";
    assert_eq!(compile(&[("a.fidl", a), ("b.fidl", b)]).libraries[0].version, 2);
    let silent = "library m;\ntype B = struct { y uint8; };";
    let errors = compile_sources(&[("a.fidl", a), ("b.fidl", silent)])
        .expect_err("version 2 and version 1")
        .render(false);
    assert_eq!(errors.matches("error[FI0601]").count(), 1, "{errors}");
}
