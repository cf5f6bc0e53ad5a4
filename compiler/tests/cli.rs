//! The `flatipc-gen` binary, run as a user would: exit codes (0 success, 1 schema errors,
//! 2 usage errors), files written, messages printed, and write-if-changed.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use common::fresh_dir;
use flatipc_gen::builder::{generate, Output as Kind};

/// The workspace root: commands run there so that schema paths are short and relative.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flatipc-gen"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run flatipc-gen")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("UTF-8 stdout")
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("UTF-8 stderr")
}

/// Asserts the exit code, showing both streams on failure.
#[track_caller]
fn assert_exit(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "expected exit {code}\n--- stdout\n{}\n--- stderr\n{}",
        stdout(o),
        stderr(o)
    );
}

fn path_arg(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// Names of the files in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

fn market_schema() -> flatipc_gen::ir::Schema {
    let r = root();
    flatipc_gen::compile_files(&[r.join("schemas/market.fidl")], &[r.join("schemas")])
        .unwrap_or_else(|d| panic!("{}", d.render(false)))
}

/// A schema with an unknown type on line 3, column 9.
fn write_invalid(dir: &Path) -> PathBuf {
    let path = dir.join("bad.fidl");
    fs::write(&path, "library bad;\ntype S = struct {\n    x Unknwn;\n};\n").unwrap();
    path
}

#[test]
fn generates_rust_and_c_in_one_call() {
    let rust = fresh_dir("cli_generate_rust");
    let c = fresh_dir("cli_generate_c");
    let o = run(&[
        "--rust-out",
        path_arg(&rust),
        "--c-out",
        path_arg(&c),
        "-I",
        "schemas",
        "schemas/market.fidl",
    ]);
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), "");
    assert_eq!(stderr(&o), "");
    assert_eq!(listing(&rust), ["market_common.rs", "market_data.rs"]);
    assert_eq!(listing(&c), ["market_common.h", "market_data.h"]);
    // The files are exactly what the library generates in memory.
    let schema = market_schema();
    for (dir, kind) in [(&rust, Kind::Rust), (&c, Kind::C)] {
        for f in generate(&schema, kind) {
            assert_eq!(fs::read_to_string(dir.join(&f.name)).unwrap(), f.contents, "{}", f.name);
        }
    }
}

#[test]
fn both_outputs_may_share_a_directory_and_json_is_optional() {
    let out = fresh_dir("cli_shared_dir");
    let dir = path_arg(&out);
    let o = run(&[
        "--rust-out",
        dir,
        "--c-out",
        dir,
        "--json-out",
        dir,
        "--include",
        "schemas",
        "schemas/market.fidl",
    ]);
    assert_exit(&o, 0);
    assert_eq!(
        listing(&out),
        ["ir.json", "market_common.h", "market_common.rs", "market_data.h", "market_data.rs"]
    );
    let ir: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("ir.json")).unwrap()).unwrap();
    assert_eq!(ir["libraries"][1]["name"], "market.data");
}

#[test]
fn schema_errors_exit_1_with_code_and_location() {
    let dir = fresh_dir("cli_invalid");
    let bad = write_invalid(&dir);
    let out = dir.join("out");
    for args in [
        vec!["check", path_arg(&bad)],
        vec!["ir", path_arg(&bad)],
        vec!["--rust-out", path_arg(&out), path_arg(&bad)],
    ] {
        let o = run(&args);
        assert_exit(&o, 1);
        let err = stderr(&o);
        assert!(err.contains("error[FI0203]: unknown type `Unknwn`"), "{args:?}:\n{err}");
        assert!(err.contains("bad.fidl:3:7"), "{args:?}: no file:line:col in\n{err}");
        assert!(err.contains("hint:"), "{args:?}: no hint in\n{err}");
        assert!(err.contains("aborting due to 1 schema error"), "{err}");
        assert!(!err.contains('\u{1b}'), "colour codes when stderr is not a terminal:\n{err}");
        assert_eq!(stdout(&o), "", "{args:?}");
    }
    assert!(!out.exists(), "nothing is written when the schema has errors");
}

#[test]
fn missing_input_file_exits_1() {
    let o = run(&["check", "schemas/does_not_exist.fidl"]);
    assert_exit(&o, 1);
    let err = stderr(&o);
    assert!(err.contains("error[FI0107]"), "{err}");
    assert!(err.contains("does_not_exist.fidl"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let out = fresh_dir("cli_usage");
    let dir = path_arg(&out);
    for (args, expected) in [
        (vec![], "nothing to do"),
        (vec!["--bogus", "schemas/market.fidl"], "--bogus"),
        (vec!["schemas/market.fidl"], "nothing to do"),
        (vec!["--rust-out", dir], "no schema files"),
        (vec!["check"], "no schema files"),
        (vec!["explain", "FI9999"], "unknown error code `FI9999`"),
        (vec!["explain"], "<CODE>"),
        (vec!["--rust-out"], "--rust-out"),
    ] {
        let o = run(&args);
        assert_exit(&o, 2);
        let err = stderr(&o);
        assert!(err.contains("error"), "{args:?}:\n{err}");
        assert!(err.contains(expected), "{args:?}: expected `{expected}` in\n{err}");
        assert_eq!(stdout(&o), "", "{args:?}");
    }
    assert!(listing(&out).is_empty(), "usage errors write nothing");
}

#[test]
fn help_and_version_exit_0() {
    let o = run(&["--help"]);
    assert_exit(&o, 0);
    let help = stdout(&o);
    for word in ["--rust-out", "--c-out", "--json-out", "check", "ir", "explain", "Examples"] {
        assert!(help.contains(word), "`{word}` missing from --help:\n{help}");
    }
    let o = run(&["--version"]);
    assert_exit(&o, 0);
    assert!(stdout(&o).starts_with("flatipc-gen "), "{}", stdout(&o));
}

#[test]
fn check_reports_success_silently_and_writes_nothing() {
    let o = run(&["check", "-I", "schemas", "schemas/market.fidl"]);
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), "");
    assert_eq!(stderr(&o), "");
}

#[test]
fn ir_prints_the_json_ir() {
    let o = run(&["ir", "-I", "schemas", "schemas/market.fidl"]);
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), flatipc_gen::backend::json::generate(&market_schema()));
    let ir: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("valid JSON");
    assert_eq!(ir["flatipc_ir_version"], 2);
}

#[test]
fn explain_prints_the_summary() {
    for code in ["FI0203", "fi0203"] {
        let o = run(&["explain", code]);
        assert_exit(&o, 0);
        let out = stdout(&o);
        assert!(out.starts_with("FI0203: unknown type\n"), "{out}");
        assert!(out.contains("docs/ERRORS.md"), "{out}");
    }
    // Every code has an explanation.
    for code in flatipc_gen::ErrorCode::ALL {
        let o = run(&["explain", code.as_str()]);
        assert_exit(&o, 0);
        assert!(stdout(&o).contains(code.summary()), "{}", code.as_str());
    }
}

/// A second run with unchanged schemas rewrites nothing (timestamps stay put, so build systems
/// do not rebuild); an output edited by hand is restored, and only that one.
#[test]
fn rerun_writes_only_changed_files() {
    let out = fresh_dir("cli_rerun");
    let dir = path_arg(&out);
    let args = ["--rust-out", dir, "--c-out", dir, "-I", "schemas", "schemas/market.fidl"];
    assert_exit(&run(&args), 0);
    let files = listing(&out);
    assert_eq!(files.len(), 4);
    // Backdate every output, so that any rewrite is visible whatever the clock resolution.
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    let mtime = |name: &str| fs::metadata(out.join(name)).unwrap().modified().unwrap();
    for name in &files {
        let f = fs::File::options().write(true).open(out.join(name)).unwrap();
        f.set_modified(old).unwrap();
    }
    assert_exit(&run(&args), 0);
    for name in &files {
        assert_eq!(mtime(name), old, "{name} was rewritten although unchanged");
    }
    let edited = "market_data.h";
    let original = fs::read_to_string(out.join(edited)).unwrap();
    fs::write(out.join(edited), "/* edited */").unwrap();
    let f = fs::File::options().write(true).open(out.join(edited)).unwrap();
    f.set_modified(old).unwrap();
    assert_exit(&run(&args), 0);
    assert_eq!(fs::read_to_string(out.join(edited)).unwrap(), original);
    for name in &files {
        assert_eq!(mtime(name) == old, name != edited, "{name}");
    }
}
