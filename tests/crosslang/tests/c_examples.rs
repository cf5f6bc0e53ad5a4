//! The C and C++ examples of `examples/c` against a Rust publisher, as a new user runs them.
//!
//! Each subscriber is compiled with exactly the command `examples/c/README.md` documents
//! (`cc -std=c11 -O2 subscriber.c -I<runtime/include> -I<generated>`, `c++ -std=c++17 -O2
//! subscriber.cpp ...`; no `make`, which a fresh machine may lack) against the headers that
//! build.rs generated from `schemas/market.fidl`, then run against a publisher that is this test
//! binary itself, re-executed in the role that `FLATIPC_C_EXAMPLES_ROLE` names. The publisher
//! sends what `examples/pubsub` sends; the subscriber's count and checksum must equal the ones
//! computed here.
//!
//! A third test feeds the same randomly damaged messages to the generated C `_validate`
//! functions and to Rust's `FlatType::validate`: both must find the same first problem.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use flatipc::channel::{ChannelOptions, SendError, Writer};
use flatipc::stream::{StreamOptions, StreamWriter};
use flatipc::zerocopy::IntoBytes;
use flatipc::{FlatType, Problem};
use flatipc_crosslang_tests::market_data::{
    BookSnapshot, Library, Quote, StatusChange, Trade, TradeFlags, TradingStatus, Venue,
};
use flatipc_crosslang_tests::{book, quote, status, trade, FOLD_INIT};

/// Messages per run.
const COUNT: u64 = 100_000;
/// The publisher's role (`channel` or `stream`), segment name and count, in the child.
const ROLE: &str = "FLATIPC_C_EXAMPLES_ROLE";
const NAME: &str = "FLATIPC_C_EXAMPLES_NAME";
const COUNT_VAR: &str = "FLATIPC_C_EXAMPLES_COUNT";

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/c")
}

/// Processes run one at a time: the host may have two CPUs and both sides may spin.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Removes `/dev/shm/flatipc.<name>` when dropped.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(format!("/dev/shm/flatipc.{}", self.0));
    }
}

fn output_text(output: &Output) -> String {
    format!(
        "{}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `compiler` with `args` in `examples/c`, as the README does; panics with its output.
fn compile(compiler: &str, args: &[&str]) {
    let mut command = Command::new(compiler);
    command
        .current_dir(examples_dir())
        .args(args)
        .arg(format!("-I{}", env!("FLATIPC_XL_RUNTIME_INCLUDE")))
        .arg(format!("-I{}", env!("FLATIPC_XL_GENERATED_INCLUDE")));
    let output = command.output().unwrap_or_else(|e| panic!("cannot run {compiler}: {e}"));
    assert!(output.status.success(), "{command:?} failed: {}", output_text(&output));
}

/// Compiles an example the documented way into the scratch directory (returning the
/// executable), and once more with every warning as an error.
fn build(compiler: &str, std: &str, source: &str, warnings: &[&str]) -> PathBuf {
    let exe = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("example-{source}"));
    let start = Instant::now();
    compile(compiler, &[std, "-O2", source, "-o", exe.to_str().expect("UTF-8 path")]);
    eprintln!("{compiler} {std} -O2 {source}: {:?}", start.elapsed());
    compile(compiler, &[&[std, "-fsyntax-only", source][..], warnings].concat());
    exe
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn fold(h: u64, x: u64) -> u64 {
    (h ^ x).wrapping_mul(0x100_0000_01b3)
}

/// The bid of message `seq`, as `examples/pubsub` sets it.
fn bid(seq: u64) -> i64 {
    18_900 + i64::try_from(seq % 100).unwrap_or(0)
}

/// `examples/pubsub`'s `fill_quote`.
fn fill_quote(q: &mut Quote, seq: u64) {
    q.sequence = seq;
    q.exchange_ts_ns = now_ns();
    q.symbol.set(if seq.is_multiple_of(2) { "AAPL" } else { "MSFT" }).expect("fits");
    q.bid.mantissa = bid(seq);
    q.bid.exponent = -2;
    q.ask = q.bid;
    q.ask.mantissa += 1;
    q.bid_size = 100;
    q.ask_size = 200;
    q.venue = Venue::XNAS;
    q.status = TradingStatus::OPEN;
}

/// `examples/pubsub`'s `fill_trade`.
fn fill_trade(t: &mut Trade, seq: u64) {
    t.sequence = seq;
    t.exchange_ts_ns = now_ns();
    t.price.mantissa = bid(seq);
    t.price.exponent = -2;
    t.quantity = 100;
    t.venue = Venue::XNAS;
    t.flags = TradeFlags::empty();
}

/// What `subscriber.c` prints for quotes `0..count`.
fn channel_checksum(count: u64) -> u64 {
    (0..count)
        .fold(FOLD_INIT, |h, seq| fold(fold(fold(h, seq), bid(seq) as u64), (bid(seq) + 1) as u64))
}

/// What `subscriber.cpp` prints for messages `0..count` (every third a trade).
fn stream_checksum(count: u64) -> u64 {
    (0..count).fold(FOLD_INIT, |h, seq| {
        let h = fold(fold(h, seq), bid(seq) as u64);
        if seq.is_multiple_of(3) {
            h
        } else {
            fold(h, (bid(seq) + 1) as u64)
        }
    })
}

/// Retries a loan while the ring is full.
macro_rules! wait_loan {
    ($loan:expr) => {
        loop {
            match $loan {
                Ok(loan) => break loan,
                Err(SendError::Full) => std::thread::yield_now(),
                Err(e) => panic!("publisher: {e}"),
            }
        }
    };
}

/// The publisher, in the re-executed child (does nothing in a normal test run): the quotes, or
/// the trades and quotes, that `examples/pubsub` publishes, built in place.
#[test]
fn publisher_entry() {
    let Ok(role) = std::env::var(ROLE) else { return };
    let name = std::env::var(NAME).expect("segment name");
    let count: u64 = std::env::var(COUNT_VAR).expect("count").parse().expect("a number");
    match role.as_str() {
        "channel" => {
            let options = ChannelOptions { capacity: 4096, ..ChannelOptions::default() };
            let mut writer = Writer::<Quote>::open_or_create(&name, &options).expect("attach");
            for seq in 0..count {
                let mut q = wait_loan!(writer.loan());
                fill_quote(&mut q, seq);
                q.commit();
            }
        }
        "stream" => {
            let options = StreamOptions { capacity: 1 << 20, ..StreamOptions::default() };
            let mut writer =
                StreamWriter::<Library>::open_or_create(&name, &options).expect("attach");
            for seq in 0..count {
                if seq.is_multiple_of(3) {
                    let mut t = wait_loan!(writer.loan::<Trade>());
                    fill_trade(&mut t, seq);
                    t.commit();
                } else {
                    let mut q = wait_loan!(writer.loan::<Quote>());
                    fill_quote(&mut q, seq);
                    q.commit();
                }
            }
        }
        other => panic!("unknown role {other}"),
    }
    println!("SENT {count}");
}

/// Runs the subscriber `exe` and a Rust publisher in `role` on a fresh segment; returns the
/// subscriber's last line.
fn run_against_rust(exe: &Path, role: &str) -> String {
    let _serial = serial();
    let name = format!("c-examples-{role}-{}", std::process::id());
    let _cleanup = Cleanup(name.clone());
    let start = Instant::now();
    let subscriber = Command::new(exe)
        .arg(&name)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", exe.display()));
    let publisher = Command::new(std::env::current_exe().expect("test binary"))
        .args(["publisher_entry", "--exact", "--nocapture", "--test-threads=1", "-q"])
        .env(ROLE, role)
        .env(NAME, &name)
        .env(COUNT_VAR, COUNT.to_string())
        .output()
        .expect("run the publisher");
    let subscribed = subscriber.wait_with_output().expect("wait for the subscriber");
    eprintln!("{role}: {COUNT} messages Rust -> {} in {:?}", exe.display(), start.elapsed());
    assert!(publisher.status.success(), "publisher: {}", output_text(&publisher));
    let sent = String::from_utf8_lossy(&publisher.stdout);
    assert!(sent.lines().any(|l| l == format!("SENT {COUNT}")), "publisher: {sent}");
    assert!(subscribed.status.success(), "subscriber: {}", output_text(&subscribed));
    let printed = String::from_utf8_lossy(&subscribed.stdout);
    printed.lines().last().unwrap_or_default().to_owned()
}

#[test]
fn c_subscriber_reads_the_rust_publishers_quotes() {
    let warnings = ["-Wall", "-Wextra", "-Werror", "-pedantic"];
    let exe = build(env!("FLATIPC_XL_CC"), "-std=c11", "subscriber.c", &warnings);
    let line = run_against_rust(&exe, "channel");
    let expected = format!(
        "subscriber: received {COUNT} quotes in order, checksum {:016x}",
        channel_checksum(COUNT)
    );
    assert_eq!(line, expected);
}

#[test]
fn cpp_subscriber_dispatches_the_rust_publishers_stream() {
    let warnings = ["-Wall", "-Wextra", "-Werror", "-pedantic"];
    let exe = build(env!("FLATIPC_XL_CXX"), "-std=c++17", "subscriber.cpp", &warnings);
    let line = run_against_rust(&exe, "stream");
    let trades = COUNT.div_ceil(3);
    let expected = format!(
        "subscriber-cpp: received {trades} trades and {} quotes in order, checksum {:016x}",
        COUNT - trades,
        stream_checksum(COUNT)
    );
    assert_eq!(line, expected);
}

// ---------------------------------------------------------------------------------------------
// The generated C `_validate` against Rust's `validate`

/// Reads records `{u32 kind; u32 size; bytes}` from the file named by argv[1] and prints what
/// the generated validate function of that message returns.
const VALIDATE_PROGRAM: &str = r#"
#include <stdio.h>
#include <string.h>
#include "market_data.h"
int main(int argc, char **argv) {
    union {
        market_data_Trade trade;
        market_data_Quote quote;
        market_data_BookSnapshot book;
        market_data_StatusChange status;
    } m;
    uint32_t head[2];
    FILE *f = argc == 2 ? fopen(argv[1], "rb") : NULL;
    if (f == NULL) return 2;
    while (fread(head, sizeof head, 1, f) == 1) {
        int rc;
        if (head[1] > sizeof m || fread(&m, head[1], 1, f) != 1) return 2;
        switch (head[0]) {
        case 0: rc = market_data_Trade_validate(&m.trade); break;
        case 1: rc = market_data_Quote_validate(&m.quote); break;
        case 2: rc = market_data_BookSnapshot_validate(&m.book); break;
        case 3: rc = market_data_StatusChange_validate(&m.status); break;
        default: return 2;
        }
        printf("%d\n", rc);
    }
    fclose(f);
    return 0;
}
"#;

/// The C code for Rust's verdict (`FLATIPC_GEN_INVALID_*`).
fn c_code<T: FlatType>(value: &T) -> i32 {
    match value.validate().map_err(|e| e.problem) {
        Ok(()) => 0,
        Err(Problem::InvalidBool { .. }) => -101,
        Err(Problem::UnknownEnumValue { .. }) => -102,
        Err(Problem::UnknownBits { .. }) => -103,
        Err(Problem::LengthOutOfBounds { .. }) => -104,
        Err(Problem::InvalidUtf8 { .. }) => -105,
        Err(Problem::NonZeroPadding) => -106,
        Err(other) => panic!("a problem the C side has no code for: {other:?}"),
    }
}

/// A damaged copy of the valid message `value`: up to three bytes replaced, mostly by values
/// that break a rule somewhere (small integers for lengths, bools and enums; UTF-8 lead and
/// continuation bytes for strings).
fn damaged<T: FlatType>(value: &T, rng: &mut u64) -> T {
    const BYTES: [u8; 14] = [0, 1, 2, 3, 4, 5, 0x11, 0x41, 0x80, 0xC3, 0xE0, 0xED, 0xF4, 0xFF];
    let mut next = || {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        *rng
    };
    let mut bytes = value.as_bytes().to_vec();
    for _ in 0..=next() % 3 {
        let at = usize::try_from(next()).expect("64-bit") % bytes.len();
        let r = usize::try_from(next()).expect("64-bit");
        bytes[at] = if r % 4 == 0 { r.to_le_bytes()[1] } else { BYTES[(r >> 8) % BYTES.len()] };
    }
    T::read_from_bytes(&bytes).expect("same size")
}

#[test]
fn generated_validate_agrees_with_rust_validate() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let source = dir.join("c-examples-validate.c");
    let exe = dir.join("c-examples-validate");
    std::fs::write(&source, VALIDATE_PROGRAM).expect("write the C program");
    let flags = ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic"];
    let output = Command::new(env!("FLATIPC_XL_CC"))
        .args(flags)
        .arg(format!("-I{}", env!("FLATIPC_XL_GENERATED_INCLUDE")))
        .arg(&source)
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("run the C compiler");
    assert!(output.status.success(), "{}", output_text(&output));

    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut records = Vec::new();
    let mut expected = String::new();
    let mut add = |kind: u32, bytes: &[u8], code: i32| {
        records.extend_from_slice(&kind.to_le_bytes());
        records.extend_from_slice(&u32::try_from(bytes.len()).expect("small").to_le_bytes());
        records.extend_from_slice(bytes);
        writeln!(expected, "{code}").unwrap();
    };
    for seq in 0..5_000u64 {
        let t: Trade = damaged(&trade(seq), &mut rng);
        add(0, t.as_bytes(), c_code(&t));
        let q: Quote = damaged(&quote(seq), &mut rng);
        add(1, q.as_bytes(), c_code(&q));
        let b: BookSnapshot = damaged(&book(seq), &mut rng);
        add(2, b.as_bytes(), c_code(&b));
        let s: StatusChange = damaged(&status(seq), &mut rng);
        add(3, s.as_bytes(), c_code(&s));
    }
    let input = dir.join("c-examples-validate.bin");
    std::fs::write(&input, &records).expect("write the records");
    let output = Command::new(&exe).arg(&input).output().expect("run the C program");
    assert!(output.status.success(), "{}", output_text(&output));
    let printed = String::from_utf8(output.stdout).expect("UTF-8");
    for (i, (c, rust)) in printed.lines().zip(expected.lines()).enumerate() {
        assert_eq!(c, rust, "record {i} (kind {}): C and Rust disagree", i % 4);
    }
    assert_eq!(printed.lines().count(), expected.lines().count());
    // The damage must have exercised every rule (and left some messages valid).
    for code in ["0", "-101", "-102", "-103", "-104", "-105", "-106"] {
        let n = expected.lines().filter(|l| *l == code).count();
        assert!(n >= 10, "only {n} messages with code {code}");
    }
}
