//! The message set the Rust backend writes after the types of a library with messages
//! (`AnyMessage`, `Library`): only for such libraries, with every message (also past the 32 a
//! stream accepts), and laid out exactly as rustfmt would lay it out, whatever the length of the
//! names. (That the generated code compiles, is clippy-clean and works is tested by the
//! `tests/codegen` crate, which builds every schema of `schemas/` and `tests/corpus/valid/`.)

mod common;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use common::fresh_dir;
use flatipc_gen::ir::{LibraryId, Schema};

/// Where the message set starts in a generated module.
const START: &str = "\n/// Every message of library `";

fn compile(sources: &[(&str, &str)]) -> Schema {
    flatipc_gen::compile_sources(sources).unwrap_or_else(|d| panic!("{}", d.render(false)))
}

fn rust(schema: &Schema, library: &str) -> String {
    let i = schema.libraries.iter().position(|l| l.name == library).expect("library");
    flatipc_gen::backend::rust::generate(schema, LibraryId(i))
}

/// The message set of a generated module (everything from its doc comment on).
fn message_set(module: &str) -> &str {
    let start = module.find(START).unwrap_or_else(|| panic!("no message set in:\n{module}"));
    &module[start + 1..]
}

/// A message name of `len` characters: `M`, `Ma`, `Maa`, ...
fn name_of_len(len: usize) -> String {
    format!("M{}", "a".repeat(len - 1))
}

#[test]
fn only_libraries_with_messages_get_a_message_set() {
    let schema = compile(&[
        ("plain.fidl", "library plain;\ntype Point = struct { x int32; y int32; };"),
        (
            "msgs.fidl",
            "library msgs;\n@message\ntype Ping = struct { seq uint64; };\n\
             type NotAMessage = struct { seq uint64; };",
        ),
    ]);
    let plain = rust(&schema, "plain");
    assert!(!plain.contains("AnyMessage") && !plain.contains("MessageSet"), "{plain}");
    let set = message_set(&rust(&schema, "msgs")).to_string();
    assert!(set.contains("    Ping(&'a Ping),\n"), "{set}");
    assert!(set.contains("const LIBRARY: &'static str = \"msgs\";"), "{set}");
    assert!(set.contains("impl ::flatipc::stream::InSet<Library> for Ping {}"), "{set}");
    assert!(!set.contains("NotAMessage"), "{set}");
}

/// A stream refuses a set of more than 32 messages when it is created; generation does not.
#[test]
fn every_message_is_in_the_set_even_past_32() {
    let mut text = String::from("library many;\n");
    for i in 0..40 {
        text.push_str(&format!("@message\ntype M{i} = struct {{ a uint8; }};\n"));
    }
    let schema = compile(&[("many.fidl", &text)]);
    let set = message_set(&rust(&schema, "many")).to_string();
    for i in 0..40 {
        assert!(set.contains(&format!("    M{i}(&'a M{i}),\n")), "variant M{i}");
        assert!(set.contains(&format!("MessageInfo::of::<M{i}>(),\n")), "entry M{i}");
        assert!(set.contains(&format!("for M{i} {{}}\n")), "InSet for M{i}");
    }
}

/// The message sets of many libraries, one file: names of every length from 1 to 100 (the lines
/// that hold them break at different lengths), keyword and snake-case names, a library name too
/// long for its line, one message and several. rustfmt must leave all of it as it is, with its
/// default configuration and with `use_small_heuristics = "Max"` (this repository's).
#[test]
fn message_sets_are_rustfmt_formatted() {
    let mut files: Vec<(String, String)> = (1..=100)
        .map(|len| {
            let text = format!(
                "library len{len};\n@message\ntype {} = struct {{ a uint8; }};\n\
                 @message\ntype B = struct {{ a uint8; }};\n",
                name_of_len(len)
            );
            (format!("len{len}.fidl"), text)
        })
        .collect();
    let long_library = format!("l{}", ".abcdefghi".repeat(10));
    files.push((
        "long.fidl".into(),
        format!("library {long_library};\n@message\ntype A = struct {{ a uint8; }};\n"),
    ));
    files.push((
        "names.fidl".into(),
        "library names;\n@message\ntype match = struct { a uint8; };\n\
         @message\ntype snake_case = struct { a float32; };\n"
            .into(),
    ));
    let sources: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    let schema = compile(&sources);
    let sets: String =
        schema.libraries.iter().map(|l| message_set(&rust(&schema, &l.name)).to_string()).collect();

    let dir = fresh_dir("message_set_rustfmt");
    let Ok(version) = Command::new("rustfmt").arg("--version").output() else {
        eprintln!("rustfmt is not installed: skipping (CI installs it)");
        return;
    };
    assert!(version.status.success(), "rustfmt --version failed");
    for (config, toml) in [("default", ""), ("max", "use_small_heuristics = \"Max\"\n")] {
        let config_dir = dir.join(config);
        std::fs::create_dir_all(&config_dir).expect("scratch directory");
        std::fs::write(config_dir.join("rustfmt.toml"), toml).expect("rustfmt.toml");
        let diff = rustfmt_check(&sets, &config_dir);
        assert!(diff.is_empty(), "rustfmt ({config} configuration) would change:\n{diff}");
    }
}

/// What `rustfmt --check` prints for `text` (nothing if it is formatted).
fn rustfmt_check(text: &str, config_dir: &Path) -> String {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2021", "--check", "--color", "never", "--config-path"])
        .arg(config_dir)
        .current_dir(config_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rustfmt");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write to rustfmt");
    let out = child.wait_with_output().expect("rustfmt output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.trim().is_empty(), "rustfmt reported errors:\n{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
