//! `cargo bench -p flatipc-gen --bench compile`: compiler throughput on a generated schema of
//! 10,000 declarations (structs with nested structs, arrays, strings and vectors; enums; bits;
//! aliases; constants). Prints a table; the target is < 1 s end to end.
//!
//! Baseline (measured in the same run): the I/O floor, i.e. reading the schema and writing output
//! files of the same total size, so the ratio shows how far the compiler is above raw I/O.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const DECLS: usize = 10_000;
const RUNS: usize = 7;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time<T>(mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..RUNS {
        let start = Instant::now();
        let out = f();
        times.push(start.elapsed());
        last = Some(out);
    }
    (median(times), last.expect("RUNS > 0"))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let text = flatipc_gen::testing::random_schema("bench.big", 2026, DECLS);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-compile");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("out")).expect("tmp dir");
    let input = dir.join("big.fidl");
    std::fs::write(&input, &text).expect("write schema");

    let (check, schema) =
        time(|| flatipc_gen::compile_sources(&[("big.fidl", &text)]).expect("valid schema"));
    let lib = schema.roots[0];
    let (rust, rust_out) = time(|| flatipc_gen::backend::rust::generate(&schema, lib));
    let (c, c_out) = time(|| flatipc_gen::backend::c::generate(&schema, lib));
    let (json, json_out) = time(|| flatipc_gen::backend::json::generate(&schema));

    let bin = env!("CARGO_BIN_EXE_flatipc-gen");
    let (cli, ok) = time(|| {
        let _ = std::fs::remove_dir_all(dir.join("out"));
        Command::new(bin)
            .arg("--rust-out")
            .arg(dir.join("out"))
            .arg("--c-out")
            .arg(dir.join("out"))
            .arg(&input)
            .status()
            .is_ok_and(|s| s.success())
    });
    assert!(ok, "flatipc-gen failed on the benchmark schema");

    let out_bytes = rust_out.len() + c_out.len();
    let (floor, ()) = time(|| {
        let read = std::fs::read(&input).expect("read");
        std::fs::write(dir.join("floor.out"), vec![0u8; out_bytes]).expect("write");
        std::hint::black_box(read);
    });

    let structs = schema
        .decls
        .iter()
        .filter(|d| matches!(d.kind, flatipc_gen::ir::DeclKind::Struct(_)))
        .count();
    println!("flatipc-gen on a generated schema: {DECLS} declarations ({structs} structs, {} decls in the IR incl. generated string/vector types)", schema.decls.len());
    println!("input {} KiB; output Rust {} KiB, C {} KiB, JSON {} KiB; median of {RUNS} runs, release build", text.len() / 1024, rust_out.len() / 1024, c_out.len() / 1024, json_out.len() / 1024);
    println!();
    println!("| stage | median | vs I/O floor |");
    println!("|---|---:|---:|");
    let ratio = |d: Duration| d.as_secs_f64() / floor.as_secs_f64();
    println!("| I/O floor (read input, write {} KiB) | {} | 1.0x |", out_bytes / 1024, ms(floor));
    println!("| parse + check (AST, IR, layout) | {} | {:.1}x |", ms(check), ratio(check));
    println!("| Rust backend (structural text writer) | {} | {:.1}x |", ms(rust), ratio(rust));
    println!("| C backend | {} | {:.1}x |", ms(c), ratio(c));
    println!("| JSON backend | {} | {:.1}x |", ms(json), ratio(json));
    println!(
        "| **CLI end to end** (`--rust-out --c-out`, process start to exit) | **{}** | {:.1}x |",
        ms(cli),
        ratio(cli)
    );
    println!();
    println!(
        "target: end to end < 1000 ms -> {}",
        if cli < Duration::from_secs(1) { "met" } else { "NOT met" }
    );
}
