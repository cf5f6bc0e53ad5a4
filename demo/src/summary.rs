//! The end of a run: the summary tables, every agreement check, and the exit status.
//!
//! `RESULT` keys (`tally.rs`, `c/strategy.c`): `messages`, per kind `quote` `trade` `book`
//! `status` `heartbeat` `unknown`, per writer version `v1` `v2` `vother`, `next` (one past the
//! highest sequence number), `redelivered` `gaps` `misplaced` `invalid`, `checksum`,
//! `first_ns` `last_ns` (`CLOCK_MONOTONIC` of the first and last message); strategies add
//! `samples` `p50` `p90` `p99` `p999` `max` (latency, ns) when the messages carry a publish
//! time, the C strategy `starts`, the Rust strategy `missed`.

use std::process::ExitCode;
use std::time::Duration;

use crate::orchestrate::group;
use crate::report::Fields;

/// What a finished run produced.
#[derive(Debug)]
pub struct Outcome {
    pub upgrade: bool,
    pub count: u64,
    /// Each feed's label and result (the upgrade mode has two, in order).
    pub feeds: Vec<(String, Fields)>,
    /// Each strategy's label and result.
    pub strategies: Vec<(String, Fields)>,
    pub elapsed: Duration,
}

/// The ring each strategy reads.
fn ring_of(label: &str) -> &'static str {
    if label.starts_with('C') {
        "framed stream"
    } else {
        "broadcast stream, tethered"
    }
}

/// Messages per second between a result's first and last message.
fn rate(f: &Fields) -> String {
    let secs = f.num("last_ns").saturating_sub(f.num("first_ns")) as f64 / 1e9;
    if secs <= 0.0 {
        return "-".into();
    }
    format!("{:.2} M/s", f.num("messages") as f64 / secs / 1e6)
}

/// A latency in ns, with a unit that keeps it short.
fn duration(ns: u64) -> String {
    match ns {
        0..=999 => format!("{ns} ns"),
        1_000..=999_999 => format!("{:.1} µs", ns as f64 / 1e3),
        _ => format!("{:.2} ms", ns as f64 / 1e6),
    }
}

/// The feeds' results combined: counts added up, the last feed's checksum (each continues the
/// previous one's).
fn combined(feeds: &[(String, Fields)]) -> (u64, [u64; 6], u64, String) {
    let keys = crate::tally::KIND_KEYS;
    let mut kinds = [0u64; 6];
    let mut messages = 0;
    let mut next = 0;
    for (_, f) in feeds {
        messages += f.num("messages");
        for (k, key) in kinds.iter_mut().zip(keys) {
            *k += f.num(key);
        }
        next = next.max(f.num("next"));
    }
    let checksum = feeds.last().map_or("?", |(_, f)| f.text("checksum")).to_owned();
    (messages, kinds, next, checksum)
}

/// Prints the summary and returns every disagreement found.
pub fn print(o: &Outcome) -> Vec<String> {
    let mut problems = Vec::new();
    let (messages, kinds, next, checksum) = combined(&o.feeds);
    println!();
    println!(
        "summary ({:.1} s wall time, {} messages per process)",
        o.elapsed.as_secs_f64(),
        group(messages)
    );
    if o.upgrade {
        upgrade_tables(o, &mut problems);
    } else {
        basic_tables(o);
    }
    // Every strategy saw exactly what the feeds wrote.
    if next != o.count {
        problems
            .push(format!("the feeds published sequence numbers up to {next}, not {}", o.count));
    }
    let keys = crate::tally::KIND_KEYS;
    for (label, f) in &o.strategies {
        let mut check = |what: &str, got: u64, want: u64| {
            if got != want {
                problems.push(format!("{label}: {what} {got}, expected {want}"));
            }
        };
        check("messages", f.num("messages"), messages);
        check("next sequence number", f.num("next"), o.count);
        for (i, key) in keys.iter().enumerate().take(4) {
            check(key, f.num(key), kinds[i]);
        }
        // A version-1 reader sees version 2's Heartbeats as unknown ids.
        check("unknown ids", f.num("unknown"), kinds[4]);
        check("gaps", f.num("gaps"), 0);
        check("misplaced", f.num("misplaced"), 0);
        check("invalid", f.num("invalid"), 0);
        check("missed", f.num("missed"), 0);
        if !o.upgrade {
            check("redelivered", f.num("redelivered"), 0);
        }
        if f.text("checksum") != checksum {
            problems.push(format!(
                "{label}: checksum {} differs from the feed's {checksum}",
                f.text("checksum")
            ));
        }
    }
    let equal = o.strategies.iter().all(|(_, f)| f.text("checksum") == checksum);
    println!();
    println!(
        "checksums equal: {} ({}: {checksum})",
        if equal { "yes" } else { "NO" },
        if o.upgrade {
            "feed and both strategies, over the members version 1 knows"
        } else {
            "feed and both strategies"
        }
    );
    let sum = |key| o.strategies.iter().map(|(_, f)| f.num(key)).sum::<u64>();
    println!(
        "sequence numbers: {} gaps, {} misplaced, {} invalid, {} redelivered (skipped)",
        sum("gaps"),
        sum("misplaced"),
        sum("invalid"),
        sum("redelivered")
    );
    problems
}

fn basic_tables(o: &Outcome) {
    println!();
    println!(
        "  {:<17} {:<27} {:>11} {:>10} {:>10} {:>7} {:>7} {:>10}  checksum",
        "process", "ring", "messages", "quotes", "trades", "books", "status", "rate"
    );
    let rows = o.feeds.iter().map(|(l, f)| (l, "writes both", f));
    let rows = rows.chain(o.strategies.iter().map(|(l, f)| (l, ring_of(l), f)));
    for (label, ring, f) in rows {
        println!(
            "  {:<17} {:<27} {:>11} {:>10} {:>10} {:>7} {:>7} {:>10}  {}",
            label,
            ring,
            group(f.num("messages")),
            group(f.num("quote")),
            group(f.num("trade")),
            group(f.num("book")),
            group(f.num("status")),
            rate(f),
            f.text("checksum")
        );
    }
    println!();
    let source = "CLOCK_MONOTONIC stamp in each message";
    println!("  latency per hop, publish → read ({source}; includes queueing)");
    println!(
        "  {:<22} {:>11} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "hop", "samples", "p50", "p90", "p99", "p99.9", "max"
    );
    for (label, f) in &o.strategies {
        let p = |key| f.opt(key).map_or("-".to_owned(), duration);
        println!(
            "  {:<22} {:>11} {:>9} {:>9} {:>9} {:>9} {:>9}",
            format!("feed → {label}"),
            group(f.num("samples")),
            p("p50"),
            p("p90"),
            p("p99"),
            p("p999"),
            p("max")
        );
    }
}

fn upgrade_tables(o: &Outcome, problems: &mut Vec<String>) {
    println!();
    println!(
        "  {:<17} {:<27} {:>11} {:>11} {:>11} {:>11} {:>7} {:>10}  checksum",
        "process", "ring", "from v1", "from v2", "unknown id", "redelivered", "starts", "rate"
    );
    for (label, f) in &o.feeds {
        let v2 = label.ends_with("v2");
        let count = group(f.num("messages"));
        let heartbeats = format!("{} sent", group(f.num("heartbeat")));
        println!(
            "  {:<17} {:<27} {:>11} {:>11} {:>11} {:>11} {:>7} {:>10}  {}",
            label,
            "writes both",
            if v2 { "-".into() } else { count.clone() },
            if v2 { count } else { "-".into() },
            if v2 { heartbeats } else { "-".into() },
            "-",
            "1",
            rate(f),
            f.text("checksum")
        );
    }
    let written = |i: usize| o.feeds.get(i).map_or(0, |(_, f)| f.num("messages"));
    for (label, f) in &o.strategies {
        println!(
            "  {:<17} {:<27} {:>11} {:>11} {:>11} {:>11} {:>7} {:>10}  {}",
            format!("{label} v1"),
            ring_of(label),
            group(f.num("v1")),
            group(f.num("v2")),
            group(f.num("unknown")),
            group(f.num("redelivered")),
            f.opt("starts").unwrap_or(1),
            rate(f),
            f.text("checksum")
        );
        for (version, i) in [("v1", 0), ("v2", 1)] {
            if f.num(version) != written(i) {
                problems.push(format!(
                    "{label}: {} messages from the {version} feed, expected {}",
                    f.num(version),
                    written(i)
                ));
            }
        }
        if label.starts_with('C') && f.num("starts") != 2 {
            problems.push(format!("{label}: started {} times, expected 2", f.num("starts")));
        }
    }
    println!();
    println!("  latency: not measured in this mode (market.evo version 1 has no timestamp member)");
}

/// Prints the clean-up report and the verdict; the exit status.
pub fn finish(segments: &[String], left: &[String], mut problems: Vec<String>) -> ExitCode {
    let names: Vec<String> = segments.iter().map(|s| format!("/dev/shm/flatipc.{s}")).collect();
    if left.is_empty() {
        println!("segments removed: {} (none left in /dev/shm)", names.join(", "));
    } else {
        problems.push(format!("left in /dev/shm: {}", left.join(", ")));
    }
    if problems.is_empty() {
        println!("result: OK, every process agrees");
        return ExitCode::SUCCESS;
    }
    println!("result: FAILED");
    for p in &problems {
        println!("  - {p}");
    }
    ExitCode::FAILURE
}
