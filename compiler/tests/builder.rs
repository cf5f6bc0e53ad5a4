//! The `build.rs` API (`flatipc_gen::Builder`): where each output goes, its configuration
//! errors, how schema errors render, and write-if-changed.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::fresh_dir;
use flatipc_gen::builder::{generate, write_if_changed, GeneratedFile, Output};
use flatipc_gen::{BuildError, Builder};

fn schemas() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas")
}

/// A builder for the example schemas, with no outputs set.
fn market_builder() -> Builder {
    let mut b = Builder::new();
    b.schema(schemas().join("market.fidl")).include_dir(schemas()).cargo_metadata(false);
    b
}

fn market_schema() -> flatipc_gen::ir::Schema {
    flatipc_gen::compile_files(&[schemas().join("market.fidl")], &[schemas()])
        .unwrap_or_else(|d| panic!("{}", d.render(false)))
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// Asserts that `dir` holds exactly `files`, byte for byte.
#[track_caller]
fn assert_written(dir: &Path, files: &[GeneratedFile]) {
    let mut expected: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
    expected.sort();
    assert_eq!(listing(dir), expected, "files in {}", dir.display());
    for f in files {
        assert_eq!(fs::read_to_string(dir.join(&f.name)).unwrap(), f.contents, "{}", f.name);
    }
}

#[test]
fn writes_each_output_to_its_directory() {
    let root = fresh_dir("builder_outputs");
    let (rust, c, json) = (root.join("rust"), root.join("c/include"), root.join("json"));
    market_builder().rust_out(&rust).c_out(&c).json_out(&json).compile().unwrap();
    let schema = market_schema();
    assert_written(&rust, &generate(&schema, Output::Rust));
    assert_written(&c, &generate(&schema, Output::C));
    assert_written(&json, &generate(&schema, Output::Json));
    assert_eq!(listing(&rust), ["market_common.rs", "market_data.rs"]);
    assert_eq!(listing(&c), ["market_common.h", "market_data.h"]);
    assert_eq!(listing(&json), ["ir.json"]);
}

#[test]
fn only_rust_unless_asked() {
    let root = fresh_dir("builder_rust_only");
    market_builder().rust_out(root.join("rust")).compile().unwrap();
    assert_eq!(listing(&root), ["rust"]);
    assert_eq!(listing(&root.join("rust")), ["market_common.rs", "market_data.rs"]);
}

#[test]
fn several_schemas_and_setters_chain() {
    let root = fresh_dir("builder_several");
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus/valid");
    Builder::new()
        .schemas([corpus.join("importer.fidl"), corpus.join("imported.fidl")])
        .schema(corpus.join("keywords.fidl"))
        .rust_out(&root)
        .cargo_metadata(false)
        .compile()
        .unwrap();
    assert_eq!(listing(&root), ["corpus_imported.rs", "corpus_importer.rs", "corpus_keywords.rs"]);
}

#[test]
fn no_schemas_is_an_error() {
    let dir = fresh_dir("builder_no_schemas");
    let e = Builder::new().rust_out(&dir).compile().unwrap_err();
    assert!(matches!(e, BuildError::NoSchemas), "{e:?}");
    assert!(e.to_string().contains(".schema("), "the message says what to call: {e}");
    assert!(listing(&dir).is_empty());
}

#[test]
fn no_out_dir_is_an_error_outside_build_scripts() {
    if std::env::var_os("OUT_DIR").is_some() {
        // Under a runner that sets OUT_DIR, the builder rightly falls back to it.
        return;
    }
    let e = market_builder().compile().unwrap_err();
    assert!(matches!(e, BuildError::NoOutDir), "{e:?}");
    let message = e.to_string();
    assert!(message.contains(".rust_out(") && message.contains("OUT_DIR"), "{message}");
    // Asking for C only still needs somewhere to put the Rust.
    let dir = fresh_dir("builder_no_out_dir");
    let e = market_builder().c_out(&dir).compile().unwrap_err();
    assert!(matches!(e, BuildError::NoOutDir), "{e:?}");
    assert!(listing(&dir).is_empty());
}

/// `BuildError::Schema` prints like rustc, for `Display` and for `Debug` (which is what a build
/// script returning `Result<(), BuildError>` shows): code, message, `file:line:col`, the source
/// line, a hint. Nothing is written.
#[test]
fn schema_errors_render_like_rustc() {
    let dir = fresh_dir("builder_schema_error");
    let bad = dir.join("bad.fidl");
    fs::write(&bad, "library bad;\ntype S = struct {\n    x Unknwn;\n    y uint8 = 3;\n};\n")
        .unwrap();
    let out = dir.join("out");
    let e = Builder::new()
        .schema(&bad)
        .rust_out(&out)
        .c_out(&out)
        .cargo_metadata(false)
        .compile()
        .unwrap_err();
    let BuildError::Schema(diagnostics) = &e else { panic!("expected a schema error: {e}") };
    let codes: Vec<&str> = diagnostics.errors.iter().map(|d| d.code.as_str()).collect();
    assert!(codes.contains(&"FI0203") && codes.contains(&"FI0319"), "{codes:?}");
    let display = e.to_string();
    let debug = format!("{e:?}");
    assert_eq!(display, debug, "Debug renders the diagnostics, not a struct dump");
    for expected in [
        "error[FI0203]: unknown type `Unknwn`",
        "error[FI0319]",
        "bad.fidl:3:7",
        "bad.fidl:4:15",
        "    x Unknwn;",
        "^^^^^^",
        "hint:",
        "aborting due to 2 schema errors",
    ] {
        assert!(display.contains(expected), "`{expected}` missing from\n{display}");
    }
    // rustc marks the location with `-->`; codespan's default style draws `┌─` instead.
    assert!(display.contains("--> ") || display.contains("┌─ "), "{display}");
    assert!(!display.contains('\u{1b}'), "no colour codes in Display:\n{display}");
    assert!(!out.exists(), "nothing is written when the schema has errors");
}

#[test]
fn unwritable_output_is_an_io_error_naming_the_path() {
    let dir = fresh_dir("builder_io_error");
    let blocker = dir.join("not_a_dir");
    fs::write(&blocker, "a file where a directory should be").unwrap();
    let e = market_builder().rust_out(&blocker).compile().unwrap_err();
    let BuildError::Io { path, .. } = &e else { panic!("expected an IO error: {e:?}") };
    assert_eq!(path, &blocker);
    assert!(e.to_string().contains("not_a_dir"), "{e}");
    assert!(std::error::Error::source(&e).is_some(), "the io::Error is the source");
}

/// Unchanged files keep their timestamps (so cargo does not rebuild dependents); a changed or
/// missing file is written.
#[test]
fn unchanged_files_are_not_rewritten() {
    let root = fresh_dir("builder_rewrite");
    let (rust, c) = (root.join("rust"), root.join("c"));
    let build = || market_builder().rust_out(&rust).c_out(&c).compile().unwrap();
    build();
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    let all: Vec<PathBuf> =
        [&rust, &c].iter().flat_map(|d| listing(d).into_iter().map(move |n| d.join(n))).collect();
    assert_eq!(all.len(), 4);
    let backdate = |p: &Path| {
        fs::File::options().write(true).open(p).unwrap().set_modified(old).unwrap();
    };
    let mtime = |p: &Path| fs::metadata(p).unwrap().modified().unwrap();
    all.iter().for_each(|p| backdate(p));
    build();
    for p in &all {
        assert_eq!(mtime(p), old, "{} was rewritten although unchanged", p.display());
    }
    // Edit one file and delete another: only those two are written again.
    let edited = rust.join("market_data.rs");
    let deleted = c.join("market_common.h");
    fs::write(&edited, "// edited by hand\n").unwrap();
    backdate(&edited);
    fs::remove_file(&deleted).unwrap();
    build();
    for p in &all {
        let rewritten = *p == edited || *p == deleted;
        assert_eq!(mtime(p) != old, rewritten, "{}", p.display());
    }
    assert_written(&rust, &generate(&market_schema(), Output::Rust));
}

#[test]
fn write_if_changed_creates_directories() {
    let root = fresh_dir("builder_write_if_changed");
    let nested = root.join("a/b/c");
    let files = vec![GeneratedFile { name: "x.rs".into(), contents: "// x\n".into() }];
    write_if_changed(&nested, &files).unwrap();
    assert_written(&nested, &files);
    write_if_changed(&nested, &[]).unwrap();
    assert_written(&nested, &files);
}
