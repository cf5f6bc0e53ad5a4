//! The `flatipc` binary against live rings created here: a typed channel, a framed stream and a
//! broadcast stream of `tests/clitest.fidl` (compiled by `build.rs`), a ring whose writer
//! process was killed, and files that are not segments.
//!
//! The killed writer is this test binary run again: the parent sets `CLI_TEST_WRITER` and runs
//! the `writer_entry` test in a child process. Every test uses its own segment names, removes
//! them when it ends, and gives `clean` explicit names (so it never touches segments of other
//! programs).
#![cfg(target_os = "linux")]

use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use flatipc::broadcast::{
    BroadcastOptions, BroadcastStreamReader, BroadcastStreamWriter, BroadcastWriter, Policy,
    ReaderOptions,
};
use flatipc::channel::{ChannelOptions, Reader, Writer};
use flatipc::prelude::*;
use flatipc::stream::{InSet, StreamOptions, StreamWriter};
use flatipc::wait::WaitStrategy;
use flatipc::Segment;
use serde_json::{json, Value};

#[allow(dead_code, clippy::all)]
mod clitest {
    flatipc::include_schema!("clitest");
}

use clitest::{Flags, Level, Library, Note, Side, Tick};

/// Version 1 of `Tick` (before `venue`), as an older writer built it.
#[derive(Clone, Copy, Debug, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(id = 0x7001)]
#[repr(C)]
struct TickV1 {
    seq: u64,
    price: f64,
    side: Side,
    live: Bool,
    flags: Flags,
    symbol: clitest::String8,
    levels: clitest::Vector2Level,
    delta: i32,
    #[flat(padding)]
    _pad0: [u8; 4],
}
impl InSet<Library> for TickV1 {}

fn tick(seq: u64) -> Tick {
    let mut tick = Tick {
        seq,
        price: 100.25 + seq as f64,
        side: if seq % 2 == 0 { Side::BUY } else { Side::SELL },
        live: true.into(),
        flags: Flags::URGENT,
        delta: -5,
        venue: 3,
        ..Tick::default()
    };
    tick.symbol.set("AAPL").unwrap();
    tick.levels.push(Level { price: 99.5, quantity: 10, ..Level::default() }).unwrap();
    tick
}

fn tick_v1(seq: u64) -> TickV1 {
    let t = tick(seq);
    TickV1 {
        seq,
        price: t.price,
        side: t.side,
        live: t.live,
        flags: t.flags,
        symbol: t.symbol,
        levels: t.levels,
        delta: t.delta,
        _pad0: [0; 4],
    }
}

fn note(seq: u64) -> Note {
    let mut note = Note { seq, codes: [1, 2, 3], ..Note::default() };
    note.text.set("hello").unwrap();
    note
}

/// The fields `tail` prints for `tick(seq)` at version 2.
fn tick_fields(seq: u64) -> Value {
    json!({
        "seq": seq, "price": 100.25 + seq as f64, "side": if seq % 2 == 0 { "BUY" } else { "SELL" },
        "live": true, "flags": ["URGENT"], "symbol": "AAPL",
        "levels": [{ "price": 99.5, "quantity": 10 }], "delta": -5, "venue": 3,
    })
}

fn unique(tag: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("cli-test-{tag}-{}-{n}", std::process::id())
}

/// Removes the named segment (or file) when dropped.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = fs::remove_file(Segment::path(&self.0));
    }
}

fn schema() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clitest.fidl")
}

fn flatipc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flatipc")).args(args).output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs `flatipc args`, expects success, and returns its standard output.
fn ok(args: &[&str]) -> String {
    let output = flatipc(args);
    assert!(output.status.success(), "flatipc {args:?} failed: {}", stderr(&output));
    stdout(&output)
}

/// Runs `flatipc args`, expects exit code `code`, and returns its standard error.
fn fails(args: &[&str], code: i32) -> String {
    let output = flatipc(args);
    assert_eq!(output.status.code(), Some(code), "flatipc {args:?}: {}", stderr(&output));
    stderr(&output)
}

/// The JSON lines of `text`.
fn lines(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

/// `ls --json`'s entry for `name`.
fn ls_entry(name: &str) -> Value {
    let all: Value = serde_json::from_str(&ok(&["ls", "--json"])).unwrap();
    let entries = all["segments"].as_array().unwrap();
    entries
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("{name} not listed"))
        .clone()
}

/// Creates a file of `bytes` named like segment `name`, mode 0600.
fn write_file(name: &str, bytes: &[u8]) {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(Segment::path(name))
        .unwrap();
    file.write_all(bytes).unwrap();
}

fn channel_options() -> ChannelOptions {
    ChannelOptions { capacity: 8, wait: WaitStrategy::Spin }
}

#[test]
fn ls_and_stat_show_live_rings_of_every_kind() {
    let typed = unique("typed");
    let stream = unique("stream");
    let fanout = unique("fanout");
    let _cleanup = [Cleanup(typed.clone()), Cleanup(stream.clone()), Cleanup(fanout.clone())];
    let mut tx = Writer::<Tick>::create(&typed, &channel_options()).unwrap();
    let mut rx = Reader::<Tick>::open(&typed, WaitStrategy::Spin).unwrap();
    for seq in 0..5 {
        tx.try_send(&tick(seq)).unwrap();
    }
    drop(rx.try_recv().unwrap());
    let stream_options = StreamOptions { capacity: 4096, wait: WaitStrategy::Spin };
    let mut stream_tx = StreamWriter::<Library>::create(&stream, &stream_options).unwrap();
    stream_tx.try_send(&note(0)).unwrap();
    let fanout_options =
        BroadcastOptions { capacity: 16, max_readers: 4, wait: WaitStrategy::Spin };
    let mut fanout_tx = BroadcastStreamWriter::<Library>::create(&fanout, &fanout_options).unwrap();
    let lossy = ReaderOptions { policy: Policy::Lossy, ..ReaderOptions::default() };
    let _fanout_rx = BroadcastStreamReader::<Library>::open(&fanout, &lossy).unwrap();
    for seq in 0..3 {
        fanout_tx.try_send(&tick(seq)).unwrap();
    }

    let text = ok(&["ls"]);
    let row = |name: &str| text.lines().find(|l| l.starts_with(name)).unwrap().to_owned();
    let me = std::process::id();
    let typed_row = row(&typed);
    assert!(typed_row.contains("typed channel") && typed_row.contains(" Tick "), "{text}");
    assert!(typed_row.contains(&format!("writer {me} alive, reader {me} alive")), "{text}");
    assert!(row(&stream).contains("framed stream") && row(&stream).contains("4 KiB"), "{text}");
    assert!(row(&fanout).contains("readers 1 alive 0 dead"), "{text}");

    let entry = ls_entry(&typed);
    assert_eq!(entry["status"], "ok");
    assert_eq!(entry["kind"], "typed_channel");
    assert_eq!((entry["capacity"].as_u64(), entry["slot_size"].as_u64()), (Some(8), Some(128)));
    assert_eq!((entry["write_pos"].as_u64(), entry["read_pos"].as_u64()), (Some(5), Some(1)));
    assert_eq!(entry["lag"], 4);
    assert_eq!(entry["messages"][0]["name"], "Tick");
    assert_eq!(entry["messages"][0]["steps"].as_array().unwrap().len(), 2);
    assert_eq!(
        entry["peers"][0],
        json!({
            "role": "writer", "pid": me, "attached": true, "alive": true,
            "attach_unix_ns": entry["peers"][0]["attach_unix_ns"], "may_park": 0,
        })
    );
    assert_eq!(entry["epochs"][0]["version"], 2);
    let fanout_entry = ls_entry(&fanout);
    assert_eq!(fanout_entry["kind"], "broadcast_stream");
    assert_eq!(fanout_entry["read_pos"], Value::Null);
    assert_eq!(fanout_entry["readers"][0]["policy"], "lossy");
    assert_eq!(fanout_entry["readers"][0]["lag"], 3);
    assert_eq!(fanout_entry["messages"].as_array().unwrap().len(), 2);

    let text = ok(&["stat", &typed]);
    assert!(text.contains("write_pos 5, read_pos 1: 4 messages unread"), "{text}");
    assert!(text.contains("epochs     1 recorded: #0 from 0: version 2, 88 bytes"), "{text}");
    assert!(text.contains(&format!("writer     pid {me} alive")), "{text}");
    let stat: Value = serde_json::from_str(&ok(&["stat", &stream, "--json"])).unwrap();
    assert_eq!(
        (stat["kind"].as_str(), stat["write_pos"].as_u64()),
        (Some("framed_stream"), Some(64))
    );
    assert_eq!(stat["capacity_unit"], "bytes");
    let watched =
        lines(&ok(&["stat", &fanout, "--watch", "--count", "2", "--interval", "10", "--json"]));
    assert_eq!(watched.len(), 2);
    assert!(watched[1]["write_rate"].is_number());
    let text = ok(&["stat", &fanout, "--watch", "--count", "2", "--interval", "10"]);
    assert_eq!(text.matches("segment ").count(), 2, "{text}");
}

#[test]
fn tail_decodes_every_kind_with_the_schema_or_its_json_ir() {
    let typed = unique("tail-typed");
    let stream = unique("tail-stream");
    let fanout = unique("tail-fanout");
    let _cleanup = [Cleanup(typed.clone()), Cleanup(stream.clone()), Cleanup(fanout.clone())];
    let schema = schema();
    let schema = schema.to_str().unwrap();

    let mut tx = Writer::<Tick>::create(&typed, &channel_options()).unwrap();
    for seq in 0..3 {
        tx.try_send(&tick(seq)).unwrap();
    }
    let out = lines(&ok(&["tail", &typed, "--schema", schema]));
    assert_eq!(out.len(), 3);
    assert_eq!(
        out[1],
        json!({ "position": 1, "id": 0x7001, "type": "clitest/Tick", "version": 2, "size": 88,
                "fields": tick_fields(1) })
    );
    // The same from the JSON IR; -n, --last and --from-end.
    let dir = std::env::temp_dir().join(unique("ir"));
    fs::create_dir_all(&dir).unwrap();
    let ir = flatipc_gen::compile_files(&[schema.into()], &[]).unwrap();
    fs::write(dir.join("ir.json"), flatipc_gen::backend::json::generate(&ir)).unwrap();
    let ir_out = lines(&ok(&["tail", &typed, "--schema", dir.to_str().unwrap(), "-n", "2"]));
    assert_eq!(ir_out, out[..2]);
    fs::remove_dir_all(&dir).unwrap();
    let last = lines(&ok(&["tail", &typed, "--schema", schema, "--last", "1"]));
    assert_eq!(last, out[2..]);
    assert_eq!(ok(&["tail", &typed, "--schema", schema, "--from-end"]), "");

    // A framed stream of both messages.
    let options = StreamOptions { capacity: 4096, wait: WaitStrategy::Spin };
    let mut stream_tx = StreamWriter::<Library>::create(&stream, &options).unwrap();
    stream_tx.try_send(&tick(7)).unwrap();
    stream_tx.try_send(&note(8)).unwrap();
    stream_tx.try_send(&tick(9)).unwrap();
    let out = lines(&ok(&["tail", &stream, "--schema", schema]));
    assert_eq!(out.len(), 3);
    assert_eq!(out[0]["fields"], tick_fields(7));
    assert_eq!(
        out[1],
        json!({ "position": 112, "id": 0x7002, "type": "clitest/Note", "version": 2, "size": 40,
                "fields": { "seq": 8, "text": "hello", "codes": [1, 2, 3] } })
    );
    let last = lines(&ok(&["tail", &stream, "--schema", schema, "--last", "2"]));
    assert_eq!(last, out[1..]);

    // A broadcast stream, read while a tethered reader holds the writer back: it never notices.
    let options = BroadcastOptions { capacity: 4, max_readers: 2, wait: WaitStrategy::Spin };
    let mut fanout_tx = BroadcastStreamWriter::<Library>::create(&fanout, &options).unwrap();
    let mut rx =
        BroadcastStreamReader::<Library>::open(&fanout, &ReaderOptions::default()).unwrap();
    for seq in 0..4 {
        fanout_tx.try_send(&note(seq)).unwrap();
    }
    let out = lines(&ok(&["tail", &fanout, "--schema", schema]));
    let seqs: Vec<u64> = out.iter().map(|l| l["fields"]["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3], "the oldest slot is the writer's next one");
    assert!(fanout_tx.try_send(&note(4)).is_err(), "the tethered reader still holds the writer");
    assert_eq!(rx.try_recv().unwrap().position(), 0, "and reads from where it was");

    // A typed broadcast ring: versions come from its writer epochs.
    let typed_fanout = unique("tail-typed-fanout");
    let _cleanup_typed_fanout = Cleanup(typed_fanout.clone());
    let mut typed_tx = BroadcastWriter::<Tick>::create(&typed_fanout, &options).unwrap();
    typed_tx.try_send(&tick(5)).unwrap();
    let out = lines(&ok(&["tail", &typed_fanout, "--schema", schema]));
    assert_eq!(
        out,
        [json!({ "position": 0, "id": 0x7001, "type": "clitest/Tick", "version": 2, "size": 88,
                 "fields": tick_fields(5) })]
    );
}

#[test]
fn tail_follows_a_writer_and_decodes_older_and_newer_versions() {
    let name = unique("versions");
    let _cleanup = Cleanup(name.clone());
    let schema = schema();
    let schema = schema.to_str().unwrap();
    let mut tx = Writer::<Tick>::create(&name, &channel_options()).unwrap();

    // --follow: waits for messages written after it started.
    let mut follow = Command::new(env!("CARGO_BIN_EXE_flatipc"))
        .args(["tail", &name, "--schema", schema, "--follow", "-n", "3", "--interval", "1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    for seq in 0..2 {
        tx.try_send(&tick(seq)).unwrap();
    }
    drop(tx);
    // An older writer (version 1) continues the ring in a new writer epoch.
    assert_eq!(TickV1::FINGERPRINT, <Tick as FlatMessage>::STEPS[0].fingerprint);
    let mut old = Writer::<TickV1>::open(&name, WaitStrategy::Spin).unwrap();
    old.try_send(&tick_v1(2)).unwrap();
    old.try_send(&tick_v1(3)).unwrap();
    let followed = lines(&wait_output(&mut follow));
    assert_eq!(followed.len(), 3);
    assert_eq!(followed[2]["version"], 1);

    let out = lines(&ok(&["tail", &name, "--schema", schema]));
    let versions: Vec<u64> = out.iter().map(|l| l["version"].as_u64().unwrap()).collect();
    assert_eq!(versions, [2, 2, 1, 1]);
    let mut v1 = tick_fields(2);
    v1.as_object_mut().unwrap().remove("venue");
    assert_eq!((&out[2]["fields"], &out[2]["size"]), (&v1, &json!(80)));
    let text = ok(&["stat", &name]);
    assert!(
        text.contains("#0 from 0: version 2, 88 bytes; #1 from 2: version 1, 80 bytes"),
        "{text}"
    );

    // A reader with the version 1 schema shows a version 2 message's known prefix.
    let dir = std::env::temp_dir().join(unique("v1"));
    fs::create_dir_all(&dir).unwrap();
    let v1_schema = fs::read_to_string(schema)
        .unwrap()
        .replace("@available(version=2)\n", "")
        .replace("    @available(added=2)\n    venue uint16;\n", "");
    fs::write(dir.join("clitest.fidl"), v1_schema).unwrap();
    let out = lines(&ok(&["tail", &name, "--schema", dir.join("clitest.fidl").to_str().unwrap()]));
    let mut v1 = tick_fields(0);
    v1.as_object_mut().unwrap().remove("venue");
    assert_eq!((&out[0]["fields"], &out[0]["unknown_bytes"]), (&v1, &json!(8)));
    fs::remove_dir_all(&dir).unwrap();
}

/// Runs `flatipc tail NAME --follow -n COUNT` while `write(seq)` keeps writing `tick(seq)`
/// (`Ok(false)` when the ring is full) and returns what `tail` printed.
///
/// The writer is paced (bursts of 16, then a short sleep), so that it laps the rings often but
/// a debug build of `tail` on a loaded machine still gets whole copies: a writer that laps a
/// ring faster than one copy takes starves every reader that does not hold it back.
fn tail_while_writing(name: &str, count: u64, mut write: impl FnMut(u64) -> bool) -> Vec<Value> {
    let schema = schema();
    let count = count.to_string();
    let args = ["tail", name, "--schema", schema.to_str().unwrap(), "--follow", "-n", &count];
    let mut tail = Command::new(env!("CARGO_BIN_EXE_flatipc"))
        .args(args.iter().copied().chain(["--interval", "1"]))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let output = read_in_background(&mut tail);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seq = 0;
    while tail.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            tail.kill().unwrap();
            panic!("tail printed fewer than {count} messages in 60 s");
        }
        for _ in 0..16 {
            if write(seq) {
                seq += 1;
            }
        }
        std::thread::sleep(Duration::from_micros(20));
    }
    assert!(tail.wait().unwrap().success());
    lines(&output.join().unwrap())
}

/// Reads a child's standard output to the end on another thread (so that a full pipe never
/// blocks the child).
fn read_in_background(child: &mut Child) -> std::thread::JoinHandle<String> {
    let mut stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).unwrap();
        text
    })
}

/// Checks that every message `tail` printed is one whole `tick`, never a mix of two, that
/// positions only grow, and (where positions count messages) that each is at its position.
fn assert_whole(out: &[Value], positions_are_seqs: bool) {
    let mut last = None;
    let mut messages = 0;
    for line in out {
        let position = line["position"].as_u64().unwrap();
        assert!(last.map_or(true, |last| position > last), "{line}");
        last = Some(position);
        if line.get("gap").is_some() {
            continue;
        }
        let seq = line["fields"]["seq"].as_u64().unwrap_or_else(|| panic!("{line}"));
        assert_eq!(line["fields"], tick_fields(seq), "a torn copy at {position}");
        if positions_are_seqs {
            assert_eq!(seq, position);
        }
        messages += 1;
    }
    assert!(messages > 0);
    eprintln!("{messages} whole messages, {} gaps", out.len() - messages);
}

#[test]
fn tail_never_prints_a_torn_message_while_the_writer_laps_it() {
    let typed = unique("race-typed");
    let stream = unique("race-stream");
    let fanout = unique("race-fanout");
    let _cleanup = [Cleanup(typed.clone()), Cleanup(stream.clone()), Cleanup(fanout.clone())];

    // A typed channel whose reader drains it, so the writer keeps reusing released slots. (The
    // rings are small, but large enough that a copy usually finishes before the writer laps
    // it: a ring the writer laps faster than one copy takes starves any reader that does not
    // hold it back, so tail would print only gaps.)
    let options = ChannelOptions { capacity: 64, wait: WaitStrategy::Spin };
    let mut tx = Writer::<Tick>::create(&typed, &options).unwrap();
    let mut rx = Reader::<Tick>::open(&typed, WaitStrategy::Spin).unwrap();
    let out = tail_while_writing(&typed, 200, |seq| {
        while rx.try_recv().is_ok() {}
        tx.try_send(&tick(seq)).is_ok()
    });
    assert_whole(&out, true);

    // A framed stream (frames of 112 bytes in 8 KiB), drained the same way.
    let options = StreamOptions { capacity: 8192, wait: WaitStrategy::Spin };
    let mut tx = StreamWriter::<Library>::create(&stream, &options).unwrap();
    let mut rx =
        flatipc::stream::StreamReader::<Library>::open(&stream, WaitStrategy::Spin).unwrap();
    let out = tail_while_writing(&stream, 200, |seq| {
        while rx.try_recv().is_ok() {}
        tx.try_send(&tick(seq)).is_ok()
    });
    assert_whole(&out, false);

    // A broadcast stream without readers: the writer never waits.
    let options = BroadcastOptions { capacity: 64, max_readers: 1, wait: WaitStrategy::Spin };
    let mut tx = BroadcastStreamWriter::<Library>::create(&fanout, &options).unwrap();
    let out = tail_while_writing(&fanout, 200, |seq| tx.try_send(&tick(seq)).is_ok());
    assert_whole(&out, true);
}

/// Waits (at most 20 s) for a child to exit successfully and returns its standard output.
fn wait_output(child: &mut Child) -> String {
    let output = read_in_background(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("flatipc did not finish");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(child.wait().unwrap().success());
    output.join().unwrap()
}

const WRITER_ENV: &str = "CLI_TEST_WRITER";

/// Not a test of its own: the body of the child process of `a_killed_writer_...`. Creates a
/// typed channel, sends 3 ticks, says `ready` and waits to be killed. Does nothing unless
/// `CLI_TEST_WRITER` is set.
#[test]
fn writer_entry() {
    let Ok(name) = std::env::var(WRITER_ENV) else { return };
    let mut tx = Writer::<Tick>::create(&name, &channel_options()).unwrap();
    for seq in 0..3 {
        tx.try_send(&tick(seq)).unwrap();
    }
    println!("ready");
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn a_killed_writer_shows_dead_and_only_its_segment_is_cleaned() {
    let dead = unique("killed");
    let live = unique("live");
    let junk = unique("junk");
    let _cleanup = [Cleanup(dead.clone()), Cleanup(live.clone()), Cleanup(junk.clone())];
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "writer_entry", "--nocapture"])
        .env(WRITER_ENV, &dead)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ready = BufReader::new(child.stdout.take().unwrap());
    assert!(ready.lines().map_while(Result::ok).any(|l| l.trim() == "ready"));
    let pid = u64::from(child.id());
    let _live_tx = Writer::<Tick>::create(&live, &channel_options()).unwrap();
    write_file(&junk, &[0xEE; 8192]);

    let entry = ls_entry(&dead);
    assert_eq!(
        (entry["peers"][0]["pid"].as_u64(), entry["peers"][0]["alive"].as_bool()),
        (Some(pid), Some(true))
    );
    let all = [dead.as_str(), live.as_str(), junk.as_str()];
    let kept = ok(&[&["clean", "--dry-run"][..], &all].concat());
    assert!(kept.contains("0 would remove, 2 in use, 1 skipped"), "{kept}");

    child.kill().unwrap(); // SIGKILL: no destructor runs, the locks go with the process
    child.wait().unwrap();
    let entry = ls_entry(&dead);
    assert_eq!(entry["peers"][0]["alive"], false);
    assert_eq!(entry["peers"][0]["attached"], true, "it did not detach");
    assert_eq!(
        (entry["alive"].as_bool(), entry["creator"]["alive"].as_bool()),
        (Some(false), Some(false))
    );
    let text = ok(&["ls"]);
    let row = text.lines().find(|l| l.starts_with(&dead)).unwrap();
    assert!(row.contains(&format!("writer {pid} dead (crashed)")), "{text}");

    let dry: Value =
        serde_json::from_str(&ok(&[&["clean", "--dry-run", "--json"][..], &all].concat())).unwrap();
    assert_eq!(dry["removed"][0]["name"], dead.as_str());
    assert_eq!(dry["in_use"], json!([live]));
    assert_eq!(dry["skipped"][0]["status"], "foreign");
    assert!(Segment::path(&dead).exists(), "a dry run removes nothing");
    let text = ok(&[&["clean"][..], &all].concat());
    assert!(
        text.contains(&format!(
            "removed       {dead}: typed channel, created by pid {pid}; writer pid {pid} crashed"
        )),
        "{text}"
    );
    assert!(text.contains("1 removed, 1 in use, 1 skipped"), "{text}");
    assert!(!Segment::path(&dead).exists());
    assert!(Segment::path(&live).exists() && Segment::path(&junk).exists());
    let err = fails(&["clean", &dead], 1);
    assert!(err.contains(&format!("no segment `{dead}`")), "{err}");
}

/// Writes `bytes` at `offset` of segment `name`'s file.
fn scribble(name: &str, offset: u64, bytes: &[u8]) {
    let mut file = OpenOptions::new().write(true).open(Segment::path(name)).unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.write_all(bytes).unwrap();
}

#[test]
fn missing_foreign_corrupted_and_truncated_segments_are_clear_errors() {
    let good = unique("good");
    let foreign = unique("foreign");
    let corrupt = unique("corrupt");
    let short = unique("short");
    let _cleanup = [
        Cleanup(good.clone()),
        Cleanup(foreign.clone()),
        Cleanup(corrupt.clone()),
        Cleanup(short.clone()),
    ];
    let _tx = Writer::<Tick>::create(&good, &channel_options()).unwrap();
    write_file(&foreign, b"#!/bin/sh\necho this is not a segment\n".repeat(200).as_slice());
    drop(Writer::<Tick>::create(&corrupt, &channel_options()).unwrap());
    scribble(&corrupt, 32, &3u64.to_le_bytes()); // capacity
    write_file(&short, &[0; 100]);

    let missing = unique("missing");
    let err = fails(&["stat", &missing], 1);
    assert!(err.contains(&format!("no segment `{missing}`")), "{err}");
    assert!(err.contains(&good), "the existing segments are listed: {err}");
    let err = fails(&["stat", &foreign], 1);
    assert!(
        err.contains(r##"not a flatipc segment (its magic is "#!/bin/s", not "FLATIPC\x01")"##),
        "{err}"
    );
    let err = fails(&["tail", &corrupt, "--schema", schema().to_str().unwrap()], 1);
    assert!(
        err.contains("corrupted: header field `capacity` is 3, expected a power of two"),
        "{err}"
    );
    let err = fails(&["stat", &short, "--json"], 1);
    assert!(err.contains("truncated: 100 bytes"), "{err}");

    let text = ok(&["ls"]);
    assert!(
        text.contains(&format!("{}: not a flatipc segment", Segment::path(&foreign).display())),
        "{text}"
    );
    assert!(text.contains(&format!("{}: corrupted", Segment::path(&corrupt).display())), "{text}");
    assert_eq!(ls_entry(&foreign)["status"], "foreign");
    assert_eq!(ls_entry(&corrupt)["status"], "corrupt");
    assert_eq!(ls_entry(&short)["status"], "truncated");
    assert_eq!(ls_entry(&good)["status"], "ok");

    // Another user's file (only root can make one here): reported, never opened.
    let theirs = unique("theirs");
    let _cleanup_theirs = Cleanup(theirs.clone());
    write_file(&theirs, &[0; 8192]);
    if std::os::unix::fs::chown(Segment::path(&theirs), Some(4242), None).is_ok() {
        let entry = ls_entry(&theirs);
        assert_eq!(
            (entry["status"].as_str(), entry["uid"].as_u64()),
            (Some("insecure"), Some(4242))
        );
        assert!(entry["error"].as_str().unwrap().contains("owned by uid 4242"), "{entry}");
    }

    // An impossible frame is reported where it is; reading cannot go past it.
    let bad_frame = unique("bad-frame");
    let _cleanup_bad_frame = Cleanup(bad_frame.clone());
    let options = StreamOptions { capacity: 4096, wait: WaitStrategy::Spin };
    let mut stream_tx = StreamWriter::<Library>::create(&bad_frame, &options).unwrap();
    stream_tx.try_send(&note(0)).unwrap();
    scribble(&bad_frame, 4096, &0xFFFFu32.to_le_bytes()); // the first frame's `size`
    let output = flatipc(&["tail", &bad_frame, "--schema", schema().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        lines(&stdout(&output)),
        [json!({ "position": 0, "error": "frame at 0 has an impossible size 65535 (id 0x7002)" })]
    );
    assert!(stderr(&output).contains("the ring is corrupted: frame at 0"), "{}", stderr(&output));

    // A schema whose `Tick` has another layout is refused; so is one that does not compile.
    let dir = std::env::temp_dir().join(unique("bad-schema"));
    fs::create_dir_all(&dir).unwrap();
    let other = fs::read_to_string(schema()).unwrap().replace("delta int32;", "delta int64;");
    fs::write(dir.join("other.fidl"), other).unwrap();
    fs::write(dir.join("broken.fidl"), "library clitest; type T = struct { a nosuch; };").unwrap();
    let err = fails(&["tail", &good, "--schema", dir.join("other.fidl").to_str().unwrap()], 1);
    assert!(err.contains("differs from the segment's `Tick` at version 1"), "{err}");
    let err = fails(&["tail", &good, "--schema", dir.join("broken.fidl").to_str().unwrap()], 1);
    assert!(err.contains("does not compile") && err.contains("nosuch"), "{err}");
    fs::remove_dir_all(&dir).unwrap();

    // Usage errors exit with 2.
    fails(&["stat"], 2);
    fails(&["tail", &good], 2);
    fails(&["frobnicate"], 2);
    fails(&["tail", &good, "--schema", "x.fidl", "--from-end", "--last", "3"], 2);
}
