//! The invalid-schema corpus: every file in `tests/corpus/invalid/` must fail to compile with the
//! error code its name starts with, and what the user sees (`file:line:col`, the source line, an
//! underline, a message and a hint for every error in the file) is snapshot-tested.
//!
//! Each corpus file is compiled together with the valid library `schemas/market.common.fidl`, so
//! that a file can `using market.common;` (or forget to) like a real schema would.

use std::path::{Path, PathBuf};

use flatipc_gen::{compile_files, compile_sources, ErrorCode};

/// The corpus, relative to the repository root.
const CORPUS: &str = "tests/corpus/invalid";

/// A valid library every corpus file may import.
const SHARED: &str = "schemas/market.common.fidl";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("compiler/ has a parent").to_path_buf()
}

/// Corpus file names, sorted.
fn corpus_names() -> Vec<String> {
    let dir = repo_root().join(CORPUS);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".fidl"))
        .collect();
    names.sort();
    names
}

/// The code a corpus file is named after: `FI0203-unknown-type.fidl` → `UnknownType`.
fn code_of(name: &str) -> ErrorCode {
    let prefix = name.split('-').next().unwrap_or_default();
    *ErrorCode::ALL
        .iter()
        .find(|c| c.as_str() == prefix)
        .unwrap_or_else(|| panic!("{name}: must start with an error code, e.g. `FI0203-...`"))
}

/// The one helper: compiles a corpus file, checks that it fails with the code in its name and
/// that every error points into it with a hint, and snapshots the rendered errors.
fn check_invalid(name: &str) {
    let root = repo_root();
    let path = format!("{CORPUS}/{name}");
    let text = std::fs::read_to_string(root.join(&path)).expect("corpus file");
    let shared = std::fs::read_to_string(root.join(SHARED)).expect("shared schema");
    let first_line = text.lines().next().unwrap_or_default();
    assert!(first_line.starts_with("//"), "{path}: start with a `//` comment saying what it tests");

    let Err(diagnostics) = compile_sources(&[(&path, &text), (SHARED, &shared)]) else {
        panic!("{path}: compiled without errors, but the corpus holds only invalid schemas");
    };
    let expected = code_of(name);
    let codes: Vec<&str> = diagnostics.errors.iter().map(|d| d.code.as_str()).collect();
    assert!(
        codes.contains(&expected.as_str()),
        "{path}: expected {} among {codes:?}",
        expected.as_str()
    );
    for d in &diagnostics.errors {
        assert_eq!(d.span.file, 0, "{path}: error outside the corpus file: {d:?}");
        assert!(d.hint.is_some(), "{path}: error without a hint: {d:?}");
    }

    let rendered = diagnostics.render(false);
    let snapshot = name.trim_end_matches(".fidl");
    insta::with_settings!({ description => first_line, omit_expression => true }, {
        insta::assert_snapshot!(snapshot, rendered);
    });
}

#[test]
fn corpus() {
    let names = corpus_names();
    assert!(names.len() >= 40, "the corpus should hold at least 40 files, has {}", names.len());
    for name in &names {
        check_invalid(name);
    }
}

#[test]
fn every_code_has_a_corpus_file() {
    let names = corpus_names();
    let missing: Vec<&str> = ErrorCode::ALL
        .iter()
        .filter(|c| **c != ErrorCode::IoError)
        .filter(|c| !names.iter().any(|n| code_of(n) == **c))
        .map(|c| c.as_str())
        .collect();
    assert!(missing.is_empty(), "no file in {CORPUS} for {missing:?}");
}

/// FI0211 applies only to libraries with messages: elsewhere `AnyMessage` and `Library` are
/// ordinary names.
#[test]
fn message_set_names_are_reserved_only_in_libraries_with_messages() {
    let plain = "library shop.catalog;\n\
                 type Library = struct { shelves uint16; };\n\
                 type AnyMessage = struct { raw uint8; };\n";
    if let Err(d) = compile_sources(&[("catalog.fidl", plain)]) {
        panic!("a library without messages may use the names:\n{}", d.render(false));
    }
    let with_message = format!("{plain}@message\ntype Added = struct {{ id uint64; }};\n");
    let Err(diagnostics) = compile_sources(&[("catalog.fidl", &with_message)]) else {
        panic!("`Library` and `AnyMessage` next to a message compiled");
    };
    let codes: Vec<ErrorCode> = diagnostics.errors.iter().map(|d| d.code).collect();
    assert_eq!(codes, [ErrorCode::MessageSetNameClash; 2], "{}", diagnostics.render(false));
}

#[test]
fn unreadable_file_is_an_io_error() {
    let missing = repo_root().join(CORPUS).join("does-not-exist.fidl");
    let Err(diagnostics) = compile_files(&[missing], &[]) else {
        panic!("a missing file compiled");
    };
    assert_eq!(diagnostics.errors.len(), 1);
    let error = &diagnostics.errors[0];
    assert_eq!(error.code, ErrorCode::IoError);
    assert!(error.message.contains("does-not-exist.fidl"), "{}", error.message);
    assert!(error.hint.is_some());
    assert!(diagnostics.render(false).contains("error[FI0107]"));
}

#[test]
fn errors_md_documents_every_code() {
    let path = repo_root().join("docs/ERRORS.md");
    let doc = std::fs::read_to_string(&path).expect("docs/ERRORS.md");
    let missing: Vec<String> = ErrorCode::ALL
        .iter()
        .map(|c| format!("## {}: {}", c.as_str(), c.summary()))
        .filter(|heading| !doc.lines().any(|line| line == heading))
        .collect();
    assert!(missing.is_empty(), "docs/ERRORS.md lacks these headings:\n{}", missing.join("\n"));
}
