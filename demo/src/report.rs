//! What a role process tells the orchestrator, one line at a time on its standard output
//! (`c/strategy.c` prints the same lines):
//!
//! - `READY`: attached to its rings (a strategy is then sure to see the first message);
//! - `PROGRESS <messages>`: about every 50 ms;
//! - `RESULT key=value ...`: once, at the end (the keys are listed in `summary.rs`).
//!
//! Errors go to standard error, which the orchestrator does not capture.

use std::collections::BTreeMap;
use std::io::Write;

/// Nanoseconds of `CLOCK_MONOTONIC`: the clock every process of the demo stamps and reads
/// messages with (the C strategy calls `clock_gettime(CLOCK_MONOTONIC)` too), so a difference
/// between two processes' readings is a real interval.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable `timespec`; CLOCK_MONOTONIC is always supported on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    debug_assert_eq!(rc, 0);
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
    secs * 1_000_000_000 + nanos
}

/// Prints a line and flushes it (standard output is a pipe, so it is block-buffered).
pub fn line(text: &str) {
    let mut out = std::io::stdout().lock();
    // The orchestrator may be gone (killed); the role then ends at its next failed send anyway.
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// Sends `PROGRESS` lines at most every 50 ms.
#[derive(Debug)]
pub struct Progress {
    next_ns: u64,
}

/// Time between two `PROGRESS` lines.
const PROGRESS_NS: u64 = 50_000_000;

impl Progress {
    /// A reporter whose first line is due in 50 ms.
    pub fn new() -> Self {
        Progress { next_ns: now_ns() + PROGRESS_NS }
    }

    /// Reports `messages` if the last line is 50 ms old (`now` from [`now_ns`]).
    pub fn tick(&mut self, now: u64, messages: u64) {
        if now >= self.next_ns {
            self.next_ns = now + PROGRESS_NS;
            line(&format!("PROGRESS {messages}"));
        }
    }
}

/// Prints the `RESULT` line.
pub fn result(fields: &[(&str, String)]) {
    let mut text = String::from("RESULT");
    for (key, value) in fields {
        text.push_str(&format!(" {key}={value}"));
    }
    line(&text);
}

/// A line a role printed, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Ready,
    Progress(u64),
    Result(Fields),
    /// Anything else (shown as it is).
    Other(String),
}

/// The `key=value` pairs of a `RESULT` line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields(BTreeMap<String, String>);

impl Fields {
    /// The number under `key` (0 when absent or not a number).
    pub fn num(&self, key: &str) -> u64 {
        self.0.get(key).and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    /// The number under `key`, if there is one.
    pub fn opt(&self, key: &str) -> Option<u64> {
        self.0.get(key).and_then(|v| v.parse().ok())
    }

    /// The text under `key` ("?" when absent).
    pub fn text(&self, key: &str) -> &str {
        self.0.get(key).map_or("?", String::as_str)
    }
}

/// Parses one line of a role's output.
pub fn parse(text: &str) -> Line {
    let text = text.trim_end();
    if text == "READY" {
        return Line::Ready;
    }
    if let Some(n) = text.strip_prefix("PROGRESS ").and_then(|n| n.parse().ok()) {
        return Line::Progress(n);
    }
    if let Some(rest) = text.strip_prefix("RESULT") {
        let pairs = rest.split_whitespace().filter_map(|pair| pair.split_once('='));
        return Line::Result(Fields(pairs.map(|(k, v)| (k.to_owned(), v.to_owned())).collect()));
    }
    Line::Other(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse() {
        assert_eq!(parse("READY\n"), Line::Ready);
        assert_eq!(parse("PROGRESS 42"), Line::Progress(42));
        let Line::Result(fields) = parse("RESULT messages=7 checksum=00ff") else { panic!() };
        assert_eq!((fields.num("messages"), fields.text("checksum")), (7, "00ff"));
        assert_eq!(fields.opt("p50"), None);
        assert_eq!(parse("hello"), Line::Other("hello".into()));
    }
}
