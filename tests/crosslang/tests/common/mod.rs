//! What the cross-language test binaries share: the peer executables, processes whose output
//! lines can be awaited with a timeout, unique segment names and their clean-up, and raw reads
//! and writes of segment files.

// Each test binary uses a part of this module.
#![allow(dead_code)]

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub const C_PEER: &str = env!("FLATIPC_XL_PEER");
pub const C_PEER_ASAN: &str = env!("FLATIPC_XL_PEER_ASAN");
pub const RUST_PEER: &str = env!("CARGO_BIN_EXE_rust-peer");

/// Messages per transfer test (each direction takes a second or two in a debug build).
pub const COUNT: u64 = 1_000_000;

/// The flatipc result codes of `flatipc.h` that these tests expect.
pub mod code {
    pub const DISCONNECTED: i32 = -4;
    pub const CORRUPT: i32 = -5;
    pub const CORRUPT_FRAME: i32 = -6;
    pub const INSECURE: i32 = -15;
    pub const NOT_READY: i32 = -16;
    pub const BAD_HEADER: i32 = -17;
    pub const VERSION: i32 = -18;
    pub const WRONG_KIND: i32 = -19;
    pub const TYPE_MISMATCH: i32 = -20;
}

pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn unique(what: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!("xl-{what}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

pub fn segment_path(name: &str) -> PathBuf {
    PathBuf::from(format!("/dev/shm/flatipc.{name}"))
}

/// Removes the named segment when dropped.
pub struct Cleanup(pub String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(segment_path(&self.0));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    C,
    CAsan,
    Rust,
}

impl Lang {
    pub fn exe(self) -> &'static str {
        match self {
            Lang::C => C_PEER,
            Lang::CAsan => C_PEER_ASAN,
            Lang::Rust => RUST_PEER,
        }
    }
}

/// A peer process whose stdout lines arrive on a channel (so that waits can time out).
pub struct Peer {
    what: String,
    pub child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Peer {
    pub fn spawn(lang: Lang, args: &[&str]) -> Peer {
        Peer::spawn_exe(lang.exe().as_ref(), &format!("{lang:?}"), args)
    }

    /// Runs `exe` with `args` (`what` names it in failure messages).
    pub fn spawn_exe(exe: &Path, what: &str, args: &[&str]) -> Peer {
        let mut child = Command::new(exe)
            .args(args)
            .env("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=0")
            .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {what} {args:?}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Peer { what: format!("{what} {args:?}"), child, stdin, lines, seen: Vec::new() }
    }

    /// The next line starting with `prefix` (earlier lines are kept in `seen`).
    pub fn expect_line(&mut self, prefix: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(line) => self.seen.push(line),
                Err(e) => panic!(
                    "{}: no line starting with {prefix:?} ({e}); output so far: {:?}",
                    self.what, self.seen
                ),
            }
        }
    }

    pub fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").and_then(|()| stdin.flush()).expect("write to peer");
    }

    /// Waits for the process to exit (killing it after `timeout`); returns its status and the
    /// lines it printed that were not consumed yet.
    pub fn finish(mut self, timeout: Duration) -> (ExitStatus, Vec<String>) {
        self.stdin = None;
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("{} did not finish within {timeout:?}; output {:?}", self.what, self.seen);
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let mut lines = std::mem::take(&mut self.seen);
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            lines.push(line);
        }
        (status, lines)
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill(); // SIGKILL: no destructor or atexit handler runs
        let _ = self.child.wait();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}

/// Reads the `u32` / `u64` at `offset` of a segment file (the page cache is the mapping).
pub fn read_u32(file: &File, offset: u64) -> u32 {
    let mut b = [0u8; 4];
    file.read_exact_at(&mut b, offset).expect("read segment");
    u32::from_le_bytes(b)
}

pub fn read_u64(file: &File, offset: u64) -> u64 {
    let mut b = [0u8; 8];
    file.read_exact_at(&mut b, offset).expect("read segment");
    u64::from_le_bytes(b)
}

pub const OFF_WRITE_POS: u64 = 2560;
pub const OFF_READ_POS: u64 = 2688;
pub const OFF_READER_PARKED: u64 = 2816;
pub const OFF_READER_FUTEX: u64 = 2820;
pub const READER_MAY_PARK: u64 = 2176 + 64 + 32;

/// Parses `<tag> <count> <checksum> [rest]`.
pub fn parse_result(line: &str) -> (u64, u64, String) {
    let mut words = line.split_whitespace().skip(1);
    let count = words.next().and_then(|w| w.parse().ok()).expect("count");
    let sum = words.next().and_then(|w| u64::from_str_radix(w, 16).ok()).expect("checksum");
    (count, sum, words.collect::<Vec<_>>().join(" "))
}

/// Runs the C peer to completion and returns its output lines.
pub fn c_run(args: &[&str]) -> (ExitStatus, Vec<String>) {
    Peer::spawn(Lang::C, args).finish(Duration::from_secs(30))
}

pub fn scribble(name: &str, offset: u64, bytes: &[u8]) {
    let file = File::options().write(true).open(segment_path(name)).expect("open segment");
    file.write_all_at(bytes, offset).expect("scribble");
}
