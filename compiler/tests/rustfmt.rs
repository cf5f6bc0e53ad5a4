//! Generated Rust is already rustfmt-formatted: for every library of `schemas/`, of
//! `tests/corpus/valid/`, of a few random schemas and of a schema of long names, `rustfmt` with
//! its DEFAULT configuration (generated files live in users' `OUT_DIR`, out of reach of any
//! `rustfmt.toml`, including this repository's) must give back exactly what the backend wrote.
//!
//! Skipped, with a message, when rustfmt is not installed, unless `CI` is set (CI installs it).

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::fresh_dir;
use flatipc_gen::ir::{LibraryId, Schema};

const SCHEMAS: &str = "../schemas";
const CORPUS: &str = "../tests/corpus/valid";

/// Lines of context around a difference.
const CONTEXT: usize = 3;

#[test]
fn generated_rust_is_rustfmt_formatted() {
    let Some(rustfmt) = Rustfmt::find() else { return };
    let mut modules: Vec<(String, String)> = Vec::new();
    let mut add = |origin: &str, schema: &Schema| {
        for (i, library) in schema.libraries.iter().enumerate() {
            let text = flatipc_gen::backend::rust::generate(schema, LibraryId(i));
            modules.push((format!("{origin}: library `{}`", library.name), text));
        }
    };

    let market = Path::new(SCHEMAS).join("market.fidl");
    add("schemas/market.fidl", &compile_files(&[market], &[SCHEMAS]));
    add("tests/corpus/valid", &compile_files(&fidl_files(CORPUS), &[]));
    for version in ["v1", "v2"] {
        let path = Path::new(SCHEMAS).join(format!("evolution/{version}/market.fidl"));
        add(&format!("schemas/evolution/{version}"), &compile_files(&[path], &[]));
    }
    for seed in 0..8 {
        let text = flatipc_gen::testing::random_schema("random", seed, 40);
        add(&format!("random schema (seed {seed})"), &compile_sources(&[("random.fidl", &text)]));
    }
    let long = long_names();
    add("long names", &compile_sources(&[("long.fidl", &long)]));

    let mut failures = Vec::new();
    for (origin, text) in &modules {
        let formatted = rustfmt.format(text);
        if formatted != *text {
            failures.push(format!("{origin}:\n{}", first_difference(text, &formatted)));
        }
    }
    assert!(
        failures.is_empty(),
        "rustfmt (default configuration) changes {} of {} generated modules \
         (`-` generated, `+` rustfmt):\n\n{}",
        failures.len(),
        modules.len(),
        failures.join("\n")
    );
}

/// A schema whose names make lines of many lengths around rustfmt's limits: type and member
/// names of 1 to 40 characters, in structs, enums, bits, vectors and versioned messages (with
/// added and removed members). (Past about 40 characters some lines, such as
/// `pub const NAME: Type =`, still differ from rustfmt's.)
fn long_names() -> String {
    let mut text = String::from("@available(version=2)\nlibrary long.names;\n");
    for len in (1..=40).step_by(3) {
        let name = format!("T{}", "a".repeat(len - 1));
        let member = format!("m{}", "b".repeat(len - 1));
        text.push_str(&format!(
            "type S{name} = struct {{ {member} uint8; x vector<S{name}Inner, 2>; }};\n\
             type S{name}Inner = struct {{ {member} uint64; }};\n\
             type E{name} = strict enum : uint8 {{ {}A = 1; {}B = 2; }};\n\
             type B{name} = flexible bits : uint16 {{ {}X = 1; {}Y = 4; }};\n\
             @message\n\
             type M{name} = struct {{ {member} uint64; @available(removed=2) r{member} S{name}Inner; \
             @available(added=2) a{member} uint32; }};\n",
            member.to_uppercase(),
            member.to_uppercase(),
            member.to_uppercase(),
            member.to_uppercase(),
        ));
    }
    text
}

/// `rustfmt`, run with its default configuration and the workspace's edition.
struct Rustfmt {
    /// An empty directory holding an empty `rustfmt.toml`.
    config_dir: PathBuf,
    edition: String,
}

impl Rustfmt {
    /// rustfmt if it is installed; `None` (after saying so) if not. Panics if it is missing and
    /// `CI` is set.
    fn find() -> Option<Self> {
        match Command::new("rustfmt").arg("--version").output() {
            Ok(out) => assert!(out.status.success(), "`rustfmt --version` failed"),
            Err(e) if std::env::var_os("CI").is_some() => {
                panic!("rustfmt is required when CI is set (`rustup component add rustfmt`): {e}")
            }
            Err(e) => {
                eprintln!("rustfmt is not installed ({e}): skipping (CI installs it)");
                return None;
            }
        }
        let config_dir = fresh_dir("rustfmt_default_config");
        std::fs::write(config_dir.join("rustfmt.toml"), "").expect("write an empty rustfmt.toml");
        Some(Self { config_dir, edition: workspace_edition() })
    }

    /// What rustfmt makes of `text`.
    fn format(&self, text: &str) -> String {
        let mut child = Command::new("rustfmt")
            .args(["--edition", &self.edition, "--emit", "stdout", "--color", "never"])
            .arg("--config-path")
            .arg(&self.config_dir)
            .current_dir(&self.config_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run rustfmt");
        let mut stdin = child.stdin.take().expect("rustfmt stdin");
        let input = text.to_string();
        // Written from another thread so that a large output cannot block the pipe.
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let out = child.wait_with_output().expect("rustfmt output");
        writer.join().expect("writer thread").expect("write to rustfmt");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && stderr.trim().is_empty(), "rustfmt failed:\n{stderr}");
        String::from_utf8(out.stdout).expect("rustfmt output is UTF-8")
    }
}

/// The `edition` of the workspace's `[workspace.package]`.
fn workspace_edition() -> String {
    let manifest = std::fs::read_to_string("../Cargo.toml").expect("read the workspace Cargo.toml");
    manifest
        .lines()
        .filter_map(|l| l.trim().strip_prefix("edition"))
        .filter_map(|rest| rest.trim().strip_prefix('='))
        .map(|value| value.trim().trim_matches('"').to_string())
        .next()
        .expect("an edition in the workspace Cargo.toml")
}

/// The first hunk where `generated` and `formatted` differ, unified-diff style.
fn first_difference(generated: &str, formatted: &str) -> String {
    let a: Vec<&str> = generated.lines().collect();
    let b: Vec<&str> = formatted.lines().collect();
    let start = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    // The nearest point after `start` where both sides agree again for a few lines.
    let agree = |i: usize, j: usize| (0..CONTEXT).all(|k| a.get(i + k) == b.get(j + k));
    let (end_a, end_b) = (0..)
        .take_while(|d| *d <= a.len() + b.len())
        .flat_map(|d| (0..=d).map(move |i| (start + i, start + d - i)))
        .find(|&(i, j)| i <= a.len() && j <= b.len() && agree(i, j))
        .unwrap_or((a.len(), b.len()));
    let from = start.saturating_sub(CONTEXT);
    let mut out = format!(
        "@@ -{},{} +{},{} @@\n",
        from + 1,
        end_a + CONTEXT.min(a.len() - end_a) - from,
        from + 1,
        end_b + CONTEXT.min(b.len() - end_b) - from
    );
    for line in &a[from..start] {
        out.push_str(&format!(" {line}\n"));
    }
    for line in &a[start..end_a] {
        out.push_str(&format!("-{line}\n"));
    }
    for line in &b[start..end_b] {
        out.push_str(&format!("+{line}\n"));
    }
    for line in a.iter().skip(end_a).take(CONTEXT) {
        out.push_str(&format!(" {line}\n"));
    }
    if generated.ends_with('\n') != formatted.ends_with('\n') {
        out.push_str("\\ the files differ in their final newline\n");
    }
    out
}

/// The `.fidl` files of a directory, sorted.
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

fn compile_files(files: &[PathBuf], include: &[&str]) -> Schema {
    let include: Vec<PathBuf> = include.iter().map(PathBuf::from).collect();
    flatipc_gen::compile_files(files, &include).unwrap_or_else(|d| panic!("{}", d.render(false)))
}

fn compile_sources(sources: &[(&str, &str)]) -> Schema {
    flatipc_gen::compile_sources(sources).unwrap_or_else(|d| panic!("{}", d.render(false)))
}
