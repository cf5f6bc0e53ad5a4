//! Runs the demo binary in both modes with a small count, and once into its timeout: the exit
//! status, the summary's verdict, and that no segment of the run is left in `/dev/shm`.
//!
//! The runs take turns (a lock): each starts three busy processes, and the machine may have
//! two CPUs.

use std::process::{Command, Output};
use std::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs `flatipc-demo` with `args` and segment names starting with `prefix`.
fn demo(prefix: &str, args: &[&str]) -> (Output, String) {
    demo_with(prefix, args, &[])
}

/// [`demo`] with environment variables.
fn demo_with(prefix: &str, args: &[&str], env: &[(&str, &str)]) -> (Output, String) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let prefix = format!("{prefix}-{}", std::process::id());
    let output = Command::new(env!("CARGO_BIN_EXE_flatipc-demo"))
        .args(["--name", &prefix])
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("the demo binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let left: Vec<String> = std::fs::read_dir("/dev/shm")
        .expect("/dev/shm exists")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(&format!("flatipc.{prefix}")))
        .collect();
    assert!(left.is_empty(), "segments left behind: {left:?}\n{stdout}");
    (output, stdout)
}

fn assert_agreed(output: &Output, stdout: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{}\n{stdout}\n{stderr}", output.status);
    assert!(stdout.contains("checksums equal: yes"), "{stdout}\n{stderr}");
    assert!(stdout.contains("result: OK"), "{stdout}\n{stderr}");
    assert!(stdout.contains("0 gaps, 0 misplaced, 0 invalid"), "{stdout}");
}

#[test]
fn basic_mode_agrees_and_cleans_up() {
    let (output, stdout) = demo("test-basic", &["--count", "120000"]);
    assert_agreed(&output, &stdout);
    for row in ["feed ", "C strategy ", "Rust strategy ", "feed → C strategy", "p99.9"] {
        assert!(stdout.contains(row), "no `{row}` in the summary:\n{stdout}");
    }
}

#[test]
fn upgrade_mode_agrees_and_cleans_up() {
    let (output, stdout) = demo("test-upgrade", &["--upgrade", "--count", "120000"]);
    assert_agreed(&output, &stdout);
    for line in ["killed the C strategy (SIGKILL)", "starting the version-2 feed", "C strategy v1"]
    {
        assert!(stdout.contains(line), "no `{line}` in the output:\n{stdout}");
    }
}

/// The C strategy pauses itself after counting message 30,000 (a quarter of the count, where
/// the orchestrator kills it) and before releasing it: its successor is handed that message
/// again and must skip it.
#[test]
fn upgrade_mode_skips_a_redelivered_message() {
    let (output, stdout) = demo_with(
        "test-redelivery",
        &["--upgrade", "--count", "120000"],
        &[("FLATIPC_DEMO_C_PAUSE_AT", "30000")],
    );
    assert_agreed(&output, &stdout);
    assert!(stdout.contains("resumed with 30,000 messages counted"), "{stdout}");
    assert!(stdout.contains("0 invalid, 1 redelivered (skipped)"), "{stdout}");
}

#[test]
fn a_timeout_fails_and_still_cleans_up() {
    let (output, stdout) = demo("test-timeout", &["--count", "1000000000", "--timeout", "1"]);
    assert!(!output.status.success(), "{stdout}");
    assert!(stdout.contains("timed out"), "{stdout}");
}
