//! Cross-process benchmark of the typed SPSC channel (`docs/PROTOCOL.md` §3), every figure next
//! to a baseline measured in the same run.
//!
//! Run with `cargo bench -p flatipc --bench channel` (add `-- --plot docs/bench-latency.svg` to
//! also draw the round-trip percentiles, `support/plot.rs`). The binary re-executes itself as the peer
//! process (environment variable `FLATIPC_BENCH_ROLE`), like `tests/channel.rs` does; the parent
//! is pinned to CPU 0 and the peer to CPU 1. It prints one markdown table on stdout. The C rows
//! compile `benches/c/bench_peer.c` against `runtime/include/flatipc.h` with `$CC` (default `cc`)
//! and run it as the peer, or as both ends.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use flatipc::broadcast::{
    BroadcastOptions, BroadcastReader, BroadcastStreamReader, BroadcastStreamWriter,
    BroadcastWriter, Policy, ReaderOptions, StartAt,
};
use flatipc::channel::{ChannelOptions, Reader, RecvError, SendError, Writer};
use flatipc::prelude::*;
use flatipc::segment::Segment;
use flatipc::stream::{
    InSet, MessageInfo, MessageSet, StreamOptions, StreamReader, StreamWriter, ViewError,
};
use flatipc::wait::WaitStrategy;
use hdrhistogram::Histogram;

#[path = "support/plot.rs"]
mod plot;

const ROLE: &str = "FLATIPC_BENCH_ROLE";
const ARG: &str = "FLATIPC_BENCH_ARG";
const PIN: &str = "FLATIPC_BENCH_PIN";

/// End-of-run marker: the peer echoes it and exits.
const STOP: u64 = u64::MAX;

/// Round trips per busy-spin latency row (after `WARMUP`).
const SPIN_ITERS: u64 = 300_000;
const WARMUP: u64 = 50_000;
/// Interleaved rounds of the busy-spin latency rows (floor and flatipc variants).
const RT_ROUNDS: usize = 3;
/// Round trips per syscall-bound row (sockets, pipes, futex, parking).
const SLOW_ITERS: u64 = 10_000;
const SLOW_WARMUP: u64 = 1_000;
/// Messages per throughput measurement, and measurements (interleaved) per throughput row.
const TPUT_MSGS: u64 = 5_000_000;
const TPUT_ROUNDS: usize = 5;
/// Messages per broadcast fan-out measurement (the readers park, so every publish may wake).
const FANOUT_MSGS: u64 = 1_000_000;
/// Ring capacity for the throughput rows (and the rtrb baseline).
const TPUT_CAPACITY: u64 = 4096;

/// A 64-byte message.
#[derive(Clone, Copy, Debug, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(id = 1)]
#[repr(C)]
struct Msg {
    seq: u64,
    payload: [u64; 7],
}

/// The message set of the framed-stream rows: just `Msg`.
struct BenchSet;

impl MessageSet for BenchSet {
    type View<'a> = &'a Msg;
    const LIBRARY: &'static str = "bench";
    const MESSAGES: &'static [MessageInfo] = &[MessageInfo::of::<Msg>()];
    fn view(id: u32, bytes: &[u8]) -> Option<Result<&Msg, ViewError>> {
        (Some(id) == Msg::MESSAGE_ID).then(|| flatipc::stream::view::<Msg>(bytes))
    }
}

impl InSet<BenchSet> for Msg {}

const BIG_DATA: usize = (1 << 20) - 8;

/// A 1 MiB message.
#[derive(Clone, Copy, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[repr(C)]
struct Big {
    seq: u64,
    data: [u8; BIG_DATA],
}

impl std::fmt::Debug for Big {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Big").field("seq", &self.seq).finish_non_exhaustive()
    }
}

fn msg(seq: u64) -> Msg {
    Msg { seq, payload: [seq; 7] }
}

/// Options of the round-trip channels.
fn rt_options(wait: WaitStrategy) -> ChannelOptions {
    ChannelOptions { capacity: 64, wait }
}

fn strategy_arg(wait: WaitStrategy) -> String {
    match wait {
        WaitStrategy::SpinThenPark { spins } => spins.to_string(),
        _ => "spin".to_string(),
    }
}

fn strategy_from(arg: &str) -> WaitStrategy {
    match arg {
        "spin" => WaitStrategy::Spin,
        n => WaitStrategy::SpinThenPark { spins: n.parse().expect("spins") },
    }
}

// ---------------------------------------------------------------------------------------------
// OS helpers.

/// Pins the calling thread to `cpu`; returns whether it worked.
fn pin(cpu: usize) -> bool {
    // SAFETY: `cpu_set_t` is a plain bit array; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` is below `CPU_SETSIZE` (callers pass 0 or 1); `set` is a valid set.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid, initialised `cpu_set_t` of the size passed; pid 0 = this thread.
    let rc = unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) };
    rc == 0
}

fn futex_wait(word: &AtomicU32, expected: u32) {
    // SAFETY: `word` is a live, aligned `u32` for the whole call; FUTEX_WAIT (shared, not
    // private) only reads it; null timeout = wait until woken; the trailing args are ignored.
    let _ = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        )
    };
}

fn futex_wake(word: &AtomicU32) {
    // SAFETY: `word` is a live, aligned `u32`; FUTEX_WAKE uses its address only as a key; the
    // trailing arguments are ignored.
    let _ = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            1u32,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        )
    };
}

/// User + system CPU time of this process.
fn cpu_time() -> Duration {
    // SAFETY: `rusage` is plain data; all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable `rusage`.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    assert_eq!(rc, 0, "getrusage");
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.unsigned_abs())
            + Duration::from_micros(t.tv_usec.unsigned_abs())
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// A file in `/dev/shm` mapped shared, for the raw baselines; removed on drop by its creator.
struct RawShm {
    map: memmap2::MmapMut,
    path: PathBuf,
    owner: bool,
}

impl RawShm {
    const LEN: usize = 4096;

    fn create(tag: &str) -> Self {
        let path =
            PathBuf::from(format!("/dev/shm/flatipc-bench-raw.{}.{tag}", std::process::id()));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .expect("create raw shm file");
        // From here on the file is removed on every path (drop).
        let mut shm = Self::map_file(&file, path);
        shm.owner = true;
        shm
    }

    fn open(path: &Path) -> Self {
        let file = OpenOptions::new().read(true).write(true).open(path).expect("open raw shm file");
        Self::map_file(&file, path.to_path_buf())
    }

    fn map_file(file: &File, path: PathBuf) -> Self {
        file.set_len(Self::LEN as u64).expect("size raw shm file");
        // SAFETY: the file is ours (created by this benchmark) and never truncated while
        // mapped; all accesses to the mapping go through atomics (`atomic_u64`/`atomic_u32`).
        let map = unsafe { memmap2::MmapMut::map_mut(file) }.expect("mmap raw shm file");
        Self { map, path, owner: false }
    }

    fn atomic_u64(&self, offset: usize) -> &AtomicU64 {
        assert!(offset % 8 == 0 && offset + 8 <= self.map.len());
        let ptr = self.map.as_ptr().wrapping_add(offset).cast::<AtomicU64>();
        // SAFETY: in bounds and 8-aligned (asserted; the mapping is page-aligned), valid for the
        // mapping's lifetime, which `&self` bounds; only ever accessed atomically.
        unsafe { &*ptr }
    }

    fn atomic_u32(&self, offset: usize) -> &AtomicU32 {
        assert!(offset % 4 == 0 && offset + 4 <= self.map.len());
        let ptr = self.map.as_ptr().wrapping_add(offset).cast::<AtomicU32>();
        // SAFETY: as in `atomic_u64`, with 4-byte alignment.
        unsafe { &*ptr }
    }
}

impl Drop for RawShm {
    fn drop(&mut self) {
        if self.owner {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Removes flatipc segments when dropped (also on panic).
struct Segments(Vec<String>);

impl Segments {
    fn new(tag: &str, count: usize) -> Self {
        Self((0..count).map(|k| format!("bench-{}-{tag}-{k}", std::process::id())).collect())
    }
}

impl Drop for Segments {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = Segment::remove(name);
        }
    }
}

/// A peer process running this binary in `role`; killed on drop if still running.
struct Peer {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl Peer {
    fn spawn(role: &str, arg: &str, pinned: bool) -> Self {
        let mut child = Command::new(std::env::current_exe().expect("bench binary path"))
            .env(ROLE, role)
            .env(ARG, arg)
            .env(PIN, if pinned { "1" } else { "" })
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn peer");
        let out = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut peer = Self { child, out };
        assert_eq!(peer.line(), "READY", "peer {role} did not start");
        peer
    }

    /// Runs the C peer `exe` with `args`, pinned to `cpu` if given.
    fn spawn_c(exe: &Path, args: &[&str], cpu: Option<usize>) -> Self {
        let mut child = Command::new(exe)
            .args(args)
            .env("FLATIPC_BENCH_CPU", cpu.map(|c| c.to_string()).unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the C peer");
        let out = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut peer = Self { child, out };
        assert_eq!(peer.line(), "READY", "C peer {args:?} did not start");
        peer
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.out.read_line(&mut line).expect("read peer stdout");
        line.trim().to_string()
    }

    fn finish(mut self) {
        let status = self.child.wait().expect("wait for peer");
        assert!(status.success(), "peer failed: {status}");
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn ready() {
    println!("READY");
}

// ---------------------------------------------------------------------------------------------
// Measurement.

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000_000, 3).expect("histogram bounds")
}

/// Runs `warmup` then `iters` round trips `rt(seq)` (seq from 1), timing each one.
fn latency(warmup: u64, iters: u64, mut rt: impl FnMut(u64)) -> Histogram<u64> {
    let mut h = histogram();
    for seq in 1..=warmup {
        rt(seq);
    }
    let mut prev = Instant::now();
    for seq in warmup + 1..=warmup + iters {
        rt(seq);
        let now = Instant::now();
        let ns = u64::try_from((now - prev).as_nanos()).unwrap_or(u64::MAX);
        h.record(ns.max(1)).expect("record");
        prev = now;
    }
    h
}

/// Like [`latency`], but idles `gap` (busy, untimed) before each round trip, so that a peer
/// with a parking strategy is asleep when the request arrives; times each round trip alone.
fn latency_gap(warmup: u64, iters: u64, gap: Duration, mut rt: impl FnMut(u64)) -> Histogram<u64> {
    let mut h = histogram();
    for seq in 1..=warmup + iters {
        let idle = Instant::now();
        while idle.elapsed() < gap {
            std::hint::spin_loop();
        }
        let t0 = Instant::now();
        rt(seq);
        let ns = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
        if seq > warmup {
            h.record(ns.max(1)).expect("record");
        }
    }
    h
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[derive(Clone)]
struct Lat {
    p50: u64,
    p99: u64,
    p999: u64,
    max: u64,
    /// The percentile curve, for `--plot`.
    curve: plot::Curve,
}

impl From<&Histogram<u64>> for Lat {
    fn from(h: &Histogram<u64>) -> Self {
        let curve =
            plot::quantiles().map(|q| (plot::nines(q), h.value_at_quantile(q) as f64)).collect();
        Self {
            p50: h.value_at_quantile(0.5),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            curve,
        }
    }
}

fn ns(v: u64) -> String {
    if v >= 10_000_000 {
        format!("{:.1} ms", v as f64 / 1e6)
    } else if v >= 10_000 {
        format!("{:.1} µs", v as f64 / 1e3)
    } else {
        format!("{v} ns")
    }
}

struct Row {
    name: String,
    cells: [String; 4],
    value: String,
    baseline: String,
    ratio: String,
    target: String,
    met: bool,
}

fn lat_row(name: &str, lat: &Lat, baseline: &str, base_p50: u64, max_ratio: f64) -> Row {
    let ratio = lat.p50 as f64 / base_p50 as f64;
    Row {
        name: name.to_string(),
        cells: [ns(lat.p50), ns(lat.p99), ns(lat.p999), ns(lat.max)],
        value: String::new(),
        baseline: format!("{baseline}: p50 {}", ns(base_p50)),
        ratio: format!("{ratio:.2}x"),
        target: format!("≤ {max_ratio}x"),
        met: ratio <= max_ratio,
    }
}

fn tput_row(name: &str, rate: f64, baseline: &str, base_rate: f64, min_ratio: f64) -> Row {
    let ratio = rate / base_rate;
    Row {
        name: name.to_string(),
        cells: Default::default(),
        value: format!("{:.1} M msg/s", rate / 1e6),
        baseline: format!("{baseline}: {:.1} M msg/s", base_rate / 1e6),
        ratio: format!("{ratio:.2}x"),
        target: format!("≥ {min_ratio}x"),
        met: ratio >= min_ratio,
    }
}

fn print_table(rows: &[Row]) {
    println!(
        "| row | p50 | p99 | p99.9 | max / msgs/s | baseline (same run) | ratio | target | met? |"
    );
    println!("|---|---:|---:|---:|---:|---|---:|---|---|");
    for r in rows {
        let dash = |s: &String| if s.is_empty() { "–".to_string() } else { s.clone() };
        let last = if r.value.is_empty() { r.cells[3].clone() } else { r.value.clone() };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.name,
            dash(&r.cells[0]),
            dash(&r.cells[1]),
            dash(&r.cells[2]),
            last,
            r.baseline,
            r.ratio,
            r.target,
            if r.met { "yes" } else { "**no**" }
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Peer roles (child processes).

fn peer_main(role: &str) {
    let arg = std::env::var(ARG).unwrap_or_default();
    if std::env::var(PIN).is_ok_and(|p| p == "1") {
        assert!(pin(1), "pin peer to CPU 1");
    }
    let mut parts = arg.split(',');
    let mut next = || parts.next().expect("peer argument").to_string();
    match role {
        // Raw ping-pong on two cache lines.
        "floor" => {
            let shm = RawShm::open(Path::new(&next()));
            let (ping, pong) = (shm.atomic_u64(0), shm.atomic_u64(128));
            ready();
            let mut last = 0;
            loop {
                let v = ping.load(Ordering::Acquire);
                if v == last {
                    std::hint::spin_loop();
                    continue;
                }
                pong.store(v, Ordering::Release);
                last = v;
                if v == STOP {
                    break;
                }
            }
        }
        // Raw futex hand-off: wait on `req`, publish on `resp`, always wake.
        "futex" => {
            let shm = RawShm::open(Path::new(&next()));
            let (req, resp) = (shm.atomic_u32(0), shm.atomic_u32(128));
            ready();
            let mut last = 0;
            loop {
                let v = req.load(Ordering::Acquire);
                if v == last {
                    futex_wait(req, last);
                    continue;
                }
                resp.store(v, Ordering::Release);
                futex_wake(resp);
                last = v;
                if v == u32::MAX {
                    break;
                }
            }
        }
        // Byte-stream echo of 64-byte messages (socket or pipe).
        "stream" => {
            let rfd: RawFd = next().parse().expect("fd");
            let wfd: RawFd = next().parse().expect("fd");
            // SAFETY: the parent passed us these descriptors (inherited, not close-on-exec);
            // nothing else in this process owns them.
            let mut input = unsafe { File::from_raw_fd(rfd) };
            let wfd = if wfd == rfd {
                // SAFETY: `dup` of an open descriptor (a socket is passed twice, and each `File`
                // must own its own descriptor); the result is checked below.
                unsafe { libc::dup(rfd) }
            } else {
                wfd
            };
            assert!(wfd >= 0, "dup");
            // SAFETY: as above; `wfd` is open and owned by nothing else.
            let mut output = unsafe { File::from_raw_fd(wfd) };
            ready();
            let mut buf = [0u8; 64];
            loop {
                input.read_exact(&mut buf).expect("read");
                output.write_all(&buf).expect("write");
                if buf[..8] == STOP.to_ne_bytes() {
                    break;
                }
            }
        }
        // flatipc echo: receive on `req`, send the same 64 bytes back on `resp`.
        "echo" => {
            let (req, resp, mode) = (next(), next(), next());
            let wait = strategy_from(&next());
            let mut r = Reader::<Msg>::open(&req, wait).expect("open request reader");
            let mut w = Writer::<Msg>::open(&resp, wait).expect("open response writer");
            ready();
            loop {
                let m = if mode == "try" {
                    loop {
                        match r.try_recv() {
                            Ok(m) => break m,
                            Err(RecvError::Empty) => std::hint::spin_loop(),
                            Err(e) => panic!("echo: {e}"),
                        }
                    }
                } else {
                    r.recv().expect("echo recv")
                };
                let seq = m.seq;
                w.try_send(&m).expect("echo send");
                drop(m);
                if seq == STOP {
                    break;
                }
            }
        }
        // Broadcast echo: a tethered reader of `req` that sends each message back on `resp`.
        "bc-echo" => {
            let (req, resp) = (next(), next());
            let tethered = ReaderOptions { wait: WaitStrategy::Spin, ..ReaderOptions::default() };
            let mut r =
                BroadcastReader::<Msg>::open(&req, &tethered).expect("open request broadcast");
            let mut w = BroadcastWriter::<Msg>::open(&resp, WaitStrategy::Spin)
                .expect("open response broadcast");
            ready();
            loop {
                let m = r.recv().expect("broadcast echo recv");
                let seq = m.seq;
                w.try_send(&m).expect("broadcast echo send");
                drop(m);
                if seq == STOP {
                    break;
                }
            }
        }
        // Broadcast writer for throughput: `count` messages with `send` (Spin).
        "bc-writer" => {
            let name = next();
            let count: u64 = next().parse().expect("count");
            let mut w = BroadcastWriter::<Msg>::open(&name, WaitStrategy::Spin)
                .expect("open broadcast writer");
            ready();
            for seq in 0..count {
                w.send(&msg(seq)).expect("broadcast send");
            }
        }
        // Broadcast-stream writer for throughput: `count` `Msg` frames with `send` (Spin).
        "bcs-writer" => {
            let name = next();
            let count: u64 = next().parse().expect("count");
            let mut w = BroadcastStreamWriter::<BenchSet>::open(&name, WaitStrategy::Spin)
                .expect("open broadcast stream writer");
            ready();
            for seq in 0..count {
                w.send(&msg(seq)).expect("broadcast stream send");
            }
        }
        // A lossy broadcast reader that parks whenever the ring is empty, until disconnected.
        "bc-lossy" => {
            let name = next();
            let options = ReaderOptions {
                policy: Policy::Lossy,
                start: StartAt::Next,
                wait: WaitStrategy::SpinThenPark { spins: 0 },
            };
            let mut r = BroadcastReader::<Msg>::open(&name, &options).expect("open lossy reader");
            ready();
            loop {
                match r.recv() {
                    Ok(_) => {}
                    Err(RecvError::Disconnected) => break,
                    Err(e) => panic!("lossy reader: {e}"),
                }
            }
        }
        // Framed-stream echo: receive a frame on `req`, send its message back on `resp`.
        "stream-echo" => {
            let (req, resp) = (next(), next());
            let mut r = StreamReader::<BenchSet>::open(&req, WaitStrategy::Spin)
                .expect("open request stream");
            let mut w = StreamWriter::<BenchSet>::open(&resp, WaitStrategy::Spin)
                .expect("open response stream");
            ready();
            loop {
                let frame = r.recv().expect("stream echo recv");
                let m = frame.get::<Msg>().expect("a Msg frame").expect("a valid Msg");
                let seq = m.seq;
                w.try_send(m).expect("stream echo send");
                drop(frame);
                if seq == STOP {
                    break;
                }
            }
        }
        // 1 MiB echo: read `seq` in place, write only `seq` into a dirty loan.
        "big-echo" => {
            let (req, resp) = (next(), next());
            let mut r = Reader::<Big>::open(&req, WaitStrategy::Spin).expect("open big reader");
            let mut w = Writer::<Big>::open(&resp, WaitStrategy::Spin).expect("open big writer");
            ready();
            loop {
                let m = r.recv().expect("big recv");
                let seq = m.seq;
                let mut loan = w.loan_dirty().expect("big loan");
                loan.seq = seq;
                loan.commit();
                drop(m);
                if seq == STOP {
                    break;
                }
            }
        }
        // Throughput writer.
        "writer" => {
            let (name, mode) = (next(), next());
            let count: u64 = next().parse().expect("count");
            let wait = strategy_from(&next());
            let mut w = Writer::<Msg>::open(&name, wait).expect("open writer");
            ready();
            match mode.as_str() {
                "batch" => {
                    let mut buf = [msg(0); 256];
                    let mut seq = 0;
                    while seq < count {
                        let k = usize::try_from((count - seq).min(256)).expect("small");
                        for (i, m) in buf[..k].iter_mut().enumerate() {
                            m.seq = seq + i as u64;
                        }
                        let mut off = 0;
                        while off < k {
                            let n = w.try_send_batch(&buf[off..k]).expect("send batch");
                            if n == 0 {
                                std::hint::spin_loop();
                            }
                            off += n;
                        }
                        seq += k as u64;
                    }
                }
                "loan" => {
                    let mut seq = 0;
                    while seq < count {
                        match w.loan() {
                            Ok(mut loan) => {
                                loan.seq = seq;
                                loan.commit();
                                seq += 1;
                            }
                            Err(SendError::Full) => std::hint::spin_loop(),
                            Err(e) => panic!("loan: {e}"),
                        }
                    }
                }
                _ => {
                    for seq in 0..count {
                        w.send(&msg(seq)).expect("send");
                    }
                }
            }
        }
        // Idle reader: CPU time spent in one `recv_timeout(1 s)` that times out.
        "idle" => {
            let name = next();
            let wait = WaitStrategy::SpinThenPark { spins: 20_000 };
            let mut r = Reader::<Msg>::open(&name, wait).expect("open idle reader");
            ready();
            let (cpu0, t0) = (cpu_time(), Instant::now());
            let res = r.recv_timeout(Duration::from_secs(1)).map(|_| ());
            let (cpu, wall) = (cpu_time() - cpu0, t0.elapsed());
            assert_eq!(res, Err(RecvError::Timeout), "idle reader");
            println!("{} {}", cpu.as_micros(), wall.as_micros());
        }
        other => panic!("unknown peer role {other}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The rows (parent side).

fn floor(pinned: bool) -> Lat {
    let shm = RawShm::create("floor");
    let (ping, pong) = (shm.atomic_u64(0), shm.atomic_u64(128));
    let peer = Peer::spawn("floor", shm.path.to_str().expect("utf-8 path"), pinned);
    let h = latency(WARMUP, SPIN_ITERS, |seq| {
        ping.store(seq, Ordering::Release);
        while pong.load(Ordering::Acquire) != seq {
            std::hint::spin_loop();
        }
    });
    ping.store(STOP, Ordering::Release);
    peer.finish();
    Lat::from(&h)
}

fn futex_rt(gap: Option<Duration>, pinned: bool) -> Lat {
    let shm = RawShm::create("futex");
    let (req, resp) = (shm.atomic_u32(0), shm.atomic_u32(128));
    let peer = Peer::spawn("futex", shm.path.to_str().expect("utf-8 path"), pinned);
    let rt = |seq: u64| {
        let seq = u32::try_from(seq).expect("few round trips");
        req.store(seq, Ordering::Release);
        futex_wake(req);
        loop {
            let v = resp.load(Ordering::Acquire);
            if v == seq {
                break;
            }
            futex_wait(resp, v);
        }
    };
    let h = match gap {
        Some(gap) => latency_gap(SLOW_WARMUP, SLOW_ITERS, gap, rt),
        None => latency(SLOW_WARMUP, SLOW_ITERS, rt),
    };
    req.store(u32::MAX, Ordering::Release);
    futex_wake(req);
    peer.finish();
    Lat::from(&h)
}

/// flatipc round trip over two channels; `mode` is "recv" or "try" (see the "echo" role).
/// The peer is this binary's "echo" role, or with `c_echo` the C peer's (busy-spin `recv`).
fn flatipc_rt(
    tag: &str,
    mode: &str,
    options: ChannelOptions,
    pinned: bool,
    slow: Option<Option<Duration>>,
    c_echo: Option<&Path>,
) -> Lat {
    let names = Segments::new(tag, 2);
    let mut w = Writer::<Msg>::create(&names.0[0], &options).expect("create request channel");
    let mut r = Reader::<Msg>::create(&names.0[1], &options).expect("create response channel");
    let peer = match c_echo {
        Some(exe) => {
            let args = ["echo", &names.0[0], &names.0[1], &fingerprint()];
            Peer::spawn_c(exe, &args, pinned.then_some(1))
        }
        None => {
            let arg =
                format!("{},{},{mode},{}", names.0[0], names.0[1], strategy_arg(options.wait));
            Peer::spawn("echo", &arg, pinned)
        }
    };
    let recv = |r: &mut Reader<Msg>| -> u64 {
        if mode == "try" {
            loop {
                match r.try_recv() {
                    Ok(m) => return m.seq,
                    Err(RecvError::Empty) => std::hint::spin_loop(),
                    Err(e) => panic!("try_recv: {e}"),
                }
            }
        }
        r.recv().expect("recv").seq
    };
    let rt = |seq: u64| {
        let mut loan = w.loan().expect("loan");
        loan.seq = seq;
        loan.commit();
        assert_eq!(recv(&mut r), seq);
    };
    let h = match slow {
        None => latency(WARMUP, SPIN_ITERS, rt),
        Some(None) => latency(SLOW_WARMUP, SLOW_ITERS, rt),
        Some(Some(gap)) => latency_gap(SLOW_WARMUP, SLOW_ITERS, gap, rt),
    };
    w.try_send(&msg(STOP)).expect("send stop");
    assert_eq!(recv(&mut r), STOP);
    peer.finish();
    Lat::from(&h)
}

/// `Msg`'s layout fingerprint, as the C peer takes it.
fn fingerprint() -> String {
    format!("{:x}", Msg::FINGERPRINT)
}

/// The C peer, compiled for this run (removed when dropped).
struct CPeerExe(PathBuf);

impl CPeerExe {
    fn build() -> Self {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let exe = std::env::temp_dir().join(format!("flatipc-bench-peer-{}", std::process::id()));
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
        let output = Command::new(&cc)
            .args(["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I"])
            .arg(manifest.join("include"))
            .arg(manifest.join("benches/c/bench_peer.c"))
            .arg("-o")
            .arg(&exe)
            .output()
            .unwrap_or_else(|e| {
                panic!("the C rows need a C compiler: cannot run `{cc}` ({e}); set CC")
            });
        assert!(
            output.status.success(),
            "compiling benches/c/bench_peer.c failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        Self(exe)
    }
}

impl Drop for CPeerExe {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Round trips between two C processes (the C peer's "driver" and "echo" roles): the driver
/// times them exactly as [`latency`] does and prints each one.
fn c_rt(exe: &Path, pinned: bool) -> Lat {
    let names = Segments::new("crt", 2);
    let (warm, iters) = (WARMUP.to_string(), SPIN_ITERS.to_string());
    let args = ["driver", &names.0[0], &names.0[1], &fingerprint(), &warm, &iters];
    let mut driver = Peer::spawn_c(exe, &args, pinned.then_some(0));
    let echo = Peer::spawn_c(
        exe,
        &["echo", &names.0[0], &names.0[1], &fingerprint()],
        pinned.then_some(1),
    );
    let mut h = histogram();
    for _ in 0..SPIN_ITERS {
        let ns: u64 = driver.line().parse().expect("a latency from the C driver");
        h.record(ns.max(1)).expect("record");
    }
    echo.finish();
    driver.finish();
    Lat::from(&h)
}

/// Throughput between two C processes (send + recv, busy-spin), measured by the C reader from
/// its first message on, as [`flatipc_tput`] measures.
fn c_tput(exe: &Path, count: u64, pinned: bool) -> f64 {
    let names = Segments::new("ctput", 1);
    let count_arg = count.to_string();
    let args = ["reader", &names.0[0], &fingerprint(), &count_arg];
    let mut reader = Peer::spawn_c(exe, &args, pinned.then_some(0));
    let args = ["writer", &names.0[0], &fingerprint(), &count_arg];
    let writer = Peer::spawn_c(exe, &args, pinned.then_some(1));
    let rate: f64 = reader.line().parse().expect("a rate from the C reader");
    writer.finish();
    reader.finish();
    rate
}

/// flatipc round trip over two framed streams (busy-spin), 64-byte messages.
fn stream_flatipc_rt(pinned: bool) -> Lat {
    let names = Segments::new("frames", 2);
    let options = StreamOptions { capacity: 8 * 1024, wait: WaitStrategy::Spin };
    let mut w =
        StreamWriter::<BenchSet>::create(&names.0[0], &options).expect("create request stream");
    let mut r =
        StreamReader::<BenchSet>::create(&names.0[1], &options).expect("create response stream");
    let peer = Peer::spawn("stream-echo", &format!("{},{}", names.0[0], names.0[1]), pinned);
    let mut rt = |seq: u64| {
        let mut loan = w.loan::<Msg>().expect("stream loan");
        loan.seq = seq;
        loan.commit();
        let frame = r.recv().expect("stream recv");
        let m = frame.get::<Msg>().expect("a Msg frame").expect("a valid Msg");
        assert_eq!(m.seq, seq);
    };
    let h = latency(WARMUP, SPIN_ITERS, &mut rt);
    rt(STOP);
    peer.finish();
    Lat::from(&h)
}

fn bc_options(capacity: u64) -> BroadcastOptions {
    BroadcastOptions { capacity, max_readers: 8, wait: WaitStrategy::Spin }
}

/// Round trip over two broadcast rings, each with one tethered reader (busy-spin).
fn broadcast_rt(pinned: bool) -> Lat {
    let names = Segments::new("bcrt", 2);
    let mut w = BroadcastWriter::<Msg>::create(&names.0[0], &bc_options(64))
        .expect("create request broadcast");
    let response = BroadcastWriter::<Msg>::create(&names.0[1], &bc_options(64))
        .expect("create response broadcast");
    let tethered = ReaderOptions { wait: WaitStrategy::Spin, ..ReaderOptions::default() };
    let mut r = response.subscribe(&tethered).expect("subscribe to responses");
    drop(response); // the peer writes responses
    let peer = Peer::spawn("bc-echo", &format!("{},{}", names.0[0], names.0[1]), pinned);
    let mut rt = |seq: u64| {
        w.try_send(&msg(seq)).expect("broadcast send");
        assert_eq!(r.recv().expect("broadcast recv").seq, seq);
    };
    let h = latency(WARMUP, SPIN_ITERS, &mut rt);
    rt(STOP);
    peer.finish();
    Lat::from(&h)
}

/// Broadcast throughput: the peer writes, this process is one tethered reader (Spin).
fn broadcast_tput(count: u64, pinned: bool) -> f64 {
    let names = Segments::new("bctput", 1);
    let tethered = ReaderOptions { wait: WaitStrategy::Spin, ..ReaderOptions::default() };
    let mut r =
        BroadcastReader::<Msg>::open_or_create(&names.0[0], &bc_options(TPUT_CAPACITY), &tethered)
            .expect("create broadcast");
    let peer = Peer::spawn("bc-writer", &format!("{},{count}", names.0[0]), pinned);
    let mut next = 0;
    let mut start = None;
    while next < count {
        let m = r.recv().expect("broadcast recv");
        assert_eq!(m.seq, next, "messages arrive in order");
        next += 1;
        if start.is_none() {
            start = Some((Instant::now(), next));
        }
    }
    let (t0, n0) = start.expect("received something");
    let rate = (count - n0) as f64 / t0.elapsed().as_secs_f64();
    peer.finish();
    rate
}

/// Broadcast-stream throughput: the peer writes `Msg` frames, this process is one tethered
/// reader (Spin) that views each frame as a `Msg`.
fn broadcast_stream_tput(count: u64, pinned: bool) -> f64 {
    let names = Segments::new("bcstput", 1);
    let tethered = ReaderOptions { wait: WaitStrategy::Spin, ..ReaderOptions::default() };
    let mut r = BroadcastStreamReader::<BenchSet>::open_or_create(
        &names.0[0],
        &bc_options(TPUT_CAPACITY),
        &tethered,
    )
    .expect("create broadcast stream");
    let peer = Peer::spawn("bcs-writer", &format!("{},{count}", names.0[0]), pinned);
    let mut next = 0;
    let mut start = None;
    while next < count {
        let frame = r.recv().expect("broadcast stream recv");
        let m = frame.get::<Msg>().expect("a Msg frame").expect("a valid Msg");
        assert_eq!(m.seq, next, "messages arrive in order");
        next += 1;
        if start.is_none() {
            start = Some((Instant::now(), next));
        }
    }
    let (t0, n0) = start.expect("received something");
    let rate = (count - n0) as f64 / t0.elapsed().as_secs_f64();
    peer.finish();
    rate
}

/// Publish throughput of a broadcast writer (this process) with `readers` lossy reader
/// processes attached, each parked whenever it has caught up.
fn broadcast_fanout(readers: usize, count: u64, pinned: bool) -> f64 {
    let names = Segments::new("bcfan", 1);
    let mut w = BroadcastWriter::<Msg>::create(&names.0[0], &bc_options(TPUT_CAPACITY))
        .expect("create broadcast");
    let peers: Vec<Peer> =
        (0..readers).map(|_| Peer::spawn("bc-lossy", &names.0[0], pinned)).collect();
    let t0 = Instant::now();
    for seq in 0..count {
        w.try_send(&msg(seq)).expect("a lossy-only ring never fills");
    }
    let rate = count as f64 / t0.elapsed().as_secs_f64();
    drop(w);
    for peer in peers {
        peer.finish();
    }
    rate
}

fn big_rt(pinned: bool) -> Lat {
    let names = Segments::new("big", 2);
    let options = ChannelOptions { capacity: 4, wait: WaitStrategy::Spin };
    let mut w = Writer::<Big>::create(&names.0[0], &options).expect("create big request");
    let mut r = Reader::<Big>::create(&names.0[1], &options).expect("create big response");
    let peer = Peer::spawn("big-echo", &format!("{},{}", names.0[0], names.0[1]), pinned);
    let mut rt = |seq: u64| {
        let mut loan = w.loan_dirty().expect("big loan");
        loan.seq = seq;
        loan.commit();
        assert_eq!(r.recv().expect("big recv").seq, seq);
    };
    let h = latency(WARMUP / 5, SPIN_ITERS / 5, &mut rt);
    rt(STOP);
    peer.finish();
    Lat::from(&h)
}

/// Socket (`socket = true`) or pipe ping-pong of 64 bytes.
fn stream_rt(socket: bool, pinned: bool) -> Lat {
    // (parent read, parent write, child read, child write); all close-on-exec except the child's.
    let (pr, pw, cr, cw) = if socket {
        let mut fds = [0; 2];
        // SAFETY: `fds` is a valid array of two descriptors for the kernel to fill.
        let rc = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        };
        assert_eq!(rc, 0, "socketpair");
        (fds[0], fds[0], fds[1], fds[1])
    } else {
        let (mut down, mut up) = ([0; 2], [0; 2]);
        // SAFETY: `down` is a valid array of two descriptors for the kernel to fill.
        let rc = unsafe { libc::pipe2(down.as_mut_ptr(), libc::O_CLOEXEC) };
        assert_eq!(rc, 0, "pipe2");
        // SAFETY: as above, for `up`.
        let rc = unsafe { libc::pipe2(up.as_mut_ptr(), libc::O_CLOEXEC) };
        assert_eq!(rc, 0, "pipe2");
        (up[0], down[1], down[0], up[1])
    };
    for fd in [cr, cw] {
        // SAFETY: `fd` is an open descriptor we own; clearing FD_CLOEXEC lets the peer inherit it.
        let rc = unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
        assert_eq!(rc, 0, "fcntl");
    }
    // SAFETY: `pr` is an open descriptor owned by nobody else in this process.
    let mut input = unsafe { File::from_raw_fd(pr) };
    let pw = if pw == pr {
        // SAFETY: `dup` of an open descriptor; the result is checked below.
        unsafe { libc::dup(pr) }
    } else {
        pw
    };
    assert!(pw >= 0, "dup");
    // SAFETY: `pw` is an open descriptor owned by nobody else in this process.
    let mut output = unsafe { File::from_raw_fd(pw) };
    let peer = Peer::spawn("stream", &format!("{cr},{cw}"), pinned);
    // The child has its copies now.
    for fd in if cr == cw { vec![cr] } else { vec![cr, cw] } {
        // SAFETY: `fd` is open and owned by no `File` in this process.
        unsafe { libc::close(fd) };
    }
    let mut buf = [0u8; 64];
    let mut rt = |seq: u64| {
        buf[..8].copy_from_slice(&seq.to_ne_bytes());
        output.write_all(&buf).expect("write");
        input.read_exact(&mut buf).expect("read");
    };
    let h = latency(SLOW_WARMUP, SLOW_ITERS, &mut rt);
    rt(STOP);
    peer.finish();
    Lat::from(&h)
}

/// Throughput of a writer process into a reader (this process); `mode` is the writer's API
/// ("batch", "loan", "send"); the reader uses `drain`, `try_recv` or `recv` respectively.
fn flatipc_tput(tag: &str, mode: &str, wait: WaitStrategy, count: u64, pinned: bool) -> f64 {
    let names = Segments::new(tag, 1);
    let options = ChannelOptions { capacity: TPUT_CAPACITY, wait };
    let mut r = Reader::<Msg>::create(&names.0[0], &options).expect("create channel");
    let arg = format!("{},{mode},{count},{}", names.0[0], strategy_arg(wait));
    let peer = Peer::spawn("writer", &arg, pinned);
    let next = std::cell::Cell::new(0u64);
    let mut start = None;
    let check = |m: &Msg| {
        assert_eq!(m.seq, next.get(), "messages arrive in order");
        next.set(next.get() + 1);
    };
    while next.get() < count {
        match mode {
            "batch" => {
                if r.drain(check).expect("drain") == 0 {
                    std::hint::spin_loop();
                }
            }
            "loan" => match r.try_recv() {
                Ok(m) => check(&m),
                Err(RecvError::Empty) => std::hint::spin_loop(),
                Err(e) => panic!("try_recv: {e}"),
            },
            _ => check(&r.recv().expect("recv")),
        }
        if start.is_none() && next.get() > 0 {
            start = Some((Instant::now(), next.get()));
        }
    }
    let (t0, n0) = start.expect("received something");
    let rate = (count - n0) as f64 / t0.elapsed().as_secs_f64();
    peer.finish();
    rate
}

/// rtrb SPSC between two threads of this process, pinned like the processes.
fn rtrb_tput(count: u64, pinned: bool) -> f64 {
    let (mut tx, mut rx) =
        rtrb::RingBuffer::<Msg>::new(usize::try_from(TPUT_CAPACITY).expect("small"));
    let producer = std::thread::spawn(move || {
        if pinned {
            assert!(pin(1), "pin rtrb producer");
        }
        let mut seq = 0;
        while seq < count {
            match tx.push(msg(seq)) {
                Ok(()) => seq += 1,
                Err(_) => std::hint::spin_loop(),
            }
        }
    });
    let mut next = 0;
    let mut start = None;
    while next < count {
        match rx.pop() {
            Ok(m) => {
                assert_eq!(m.seq, next);
                next += 1;
                if start.is_none() {
                    start = Some((Instant::now(), next));
                }
            }
            Err(_) => std::hint::spin_loop(),
        }
    }
    producer.join().expect("producer");
    let (t0, n0) = start.expect("received something");
    (count - n0) as f64 / t0.elapsed().as_secs_f64()
}

/// CPU time (µs) and wall time (µs) of a reader process blocked in `recv_timeout(1 s)`.
fn idle_reader(pinned: bool) -> (u64, u64) {
    let names = Segments::new("idle", 1);
    let options = ChannelOptions { capacity: 64, wait: WaitStrategy::default() };
    let _w = Writer::<Msg>::create(&names.0[0], &options).expect("create idle channel");
    let mut peer = Peer::spawn("idle", &names.0[0], pinned);
    let line = peer.line();
    peer.finish();
    let mut it = line.split_whitespace().map(|v| v.parse::<u64>().expect("number"));
    (it.next().expect("cpu"), it.next().expect("wall"))
}

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        peer_main(&role);
        return;
    }
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let pinned = cpus >= 2 && pin(0);
    println!("# flatipc channel benchmark");
    println!();
    if pinned {
        println!("{cpus} CPUs; this process pinned to CPU 0, each peer process to CPU 1.");
    } else {
        println!("ONLY {cpus} CPU available (or pinning failed): processes are NOT pinned apart; latencies below are meaningless for cross-CPU claims.");
    }
    println!(
        "Latency: {SPIN_ITERS} round trips per busy-spin row and round ({RT_ROUNDS} interleaved rounds with the floor; the round with the median ratio is reported), {SLOW_ITERS} per syscall row, after warm-up; 64-byte messages unless stated; one `Instant::now()` per round trip is included in every row."
    );
    println!(
        "Throughput: {TPUT_MSGS} messages per measurement, ring capacity {TPUT_CAPACITY}, variants interleaved over {TPUT_ROUNDS} rounds, median reported; the reader checks every sequence number."
    );
    println!();

    let mut rows = Vec::new();
    let step = |what: &str| eprintln!("[channel bench] {what}...");

    // The busy-spin rows are measured in interleaved rounds (floor, then each flatipc variant,
    // RT_ROUNDS times), and each row reports the round whose ratio to that round's floor is the
    // median: load from other tenants of this shared machine drifts over seconds, and a floor
    // measured next to each row cancels most of it.
    step("compiling the C peer (benches/c/bench_peer.c)");
    let c_peer = CPeerExe::build();
    let mut rounds: Vec<[Lat; 7]> = Vec::new();
    for round in 1..=RT_ROUNDS {
        step(&format!("busy-spin round trips, round {round}/{RT_ROUNDS}"));
        let fl = floor(pinned);
        let sp = flatipc_rt("spin", "recv", rt_options(WaitStrategy::Spin), pinned, None, None);
        let tr = flatipc_rt("try", "try", rt_options(WaitStrategy::Spin), pinned, None, None);
        let st = stream_flatipc_rt(pinned);
        let bc = broadcast_rt(pinned);
        let cc = c_rt(&c_peer.0, pinned);
        let rc = flatipc_rt(
            "rustc",
            "recv",
            rt_options(WaitStrategy::Spin),
            pinned,
            None,
            Some(&c_peer.0),
        );
        rounds.push([fl, sp, tr, st, bc, cc, rc]);
    }
    let median_round = |k: usize| {
        let mut order: Vec<usize> = (0..rounds.len()).collect();
        order.sort_by(|&a, &b| {
            let ratio = |r: usize| rounds[r][k].p50 as f64 / rounds[r][0].p50 as f64;
            ratio(a).total_cmp(&ratio(b))
        });
        order[order.len() / 2]
    };
    let fl = {
        let mut order: Vec<usize> = (0..rounds.len()).collect();
        order.sort_by_key(|&r| rounds[r][0].p50);
        rounds[order[order.len() / 2]][0].clone()
    };
    rows.push(lat_row(
        "1. floor: raw 2-line ping-pong (baseline, median round)",
        &fl,
        "itself",
        fl.p50,
        1.0,
    ));
    let pick = |k: usize| {
        let r = median_round(k);
        (rounds[r][k].clone(), rounds[r][0].p50)
    };
    let (sp, sp_floor) = pick(1);
    rows.push(lat_row("2. flatipc RT, Spin, loan/commit + recv", &sp, "floor", sp_floor, 1.3));
    let (tr, tr_floor) = pick(2);
    rows.push(lat_row(
        "2b. flatipc RT, Spin, loan/commit + try_recv loop",
        &tr,
        "floor",
        tr_floor,
        1.3,
    ));
    let (st, st_floor) = pick(3);
    rows.push(lat_row(
        "2c. flatipc framed-stream RT, Spin, loan/commit + recv",
        &st,
        "floor",
        st_floor,
        1.5,
    ));
    let (bc, bc_floor) = pick(4);
    rows.push(lat_row(
        "2d. flatipc broadcast RT, tethered readers, Spin, try_send + recv",
        &bc,
        "floor",
        bc_floor,
        1.5,
    ));
    // The C rows compare with row 2 (Rust ↔ Rust) of the same round.
    let pick_vs_rust = |k: usize| {
        let mut order: Vec<usize> = (0..rounds.len()).collect();
        order.sort_by(|&a, &b| {
            let ratio = |r: usize| rounds[r][k].p50 as f64 / rounds[r][1].p50 as f64;
            ratio(a).total_cmp(&ratio(b))
        });
        let r = order[order.len() / 2];
        (rounds[r][k].clone(), rounds[r][1].p50)
    };
    let (cc, cc_rust) = pick_vs_rust(5);
    rows.push(lat_row(
        "2e. C ↔ C RT (flatipc.h), Spin, loan/commit + recv",
        &cc,
        "row 2 (Rust ↔ Rust)",
        cc_rust,
        1.1,
    ));
    let (rc, rc_rust) = pick_vs_rust(6);
    rows.push(lat_row(
        "2f. Rust ↔ C RT (C echo), Spin, loan/commit + recv",
        &rc,
        "row 2 (Rust ↔ Rust)",
        rc_rust,
        1.1,
    ));

    step("unix socket");
    let us = stream_rt(true, pinned);
    let mut row =
        lat_row("3a. Unix socketpair RT (baseline)", &us, "flatipc RT p50", sp.p50, f64::INFINITY);
    row.ratio = format!("flatipc {:.0}x lower", us.p50 as f64 / sp.p50 as f64);
    row.target = "flatipc ≥ 50x lower".to_string();
    row.met = us.p50 as f64 / sp.p50 as f64 >= 50.0;
    rows.push(row);
    step("pipe");
    let pi = stream_rt(false, pinned);
    let mut row = lat_row("3b. pipe RT (baseline)", &pi, "flatipc RT p50", sp.p50, f64::INFINITY);
    row.ratio = format!("flatipc {:.0}x lower", pi.p50 as f64 / sp.p50 as f64);
    row.target = "flatipc ≥ 50x lower".to_string();
    row.met = pi.p50 as f64 / sp.p50 as f64 >= 50.0;
    rows.push(row);

    // Throughput is sensitive to whatever else the host runs: the variants are interleaved
    // over several rounds and each reports its median.
    step("throughput rounds (rtrb, batch, loan, send Spin, send Park, broadcast)");
    let park_spin = WaitStrategy::SpinThenPark { spins: 1_000_000 };
    let mut samples: [Vec<f64>; 10] = Default::default();
    for _ in 0..TPUT_ROUNDS {
        samples[0].push(rtrb_tput(TPUT_MSGS, pinned));
        samples[1].push(flatipc_tput("tbatch", "batch", WaitStrategy::Spin, TPUT_MSGS, pinned));
        samples[2].push(flatipc_tput("tloan", "loan", WaitStrategy::Spin, TPUT_MSGS, pinned));
        samples[3].push(flatipc_tput("tsend", "send", WaitStrategy::Spin, TPUT_MSGS, pinned));
        samples[4].push(flatipc_tput("tpark", "send", park_spin, TPUT_MSGS, pinned));
        samples[5].push(broadcast_tput(TPUT_MSGS, pinned));
        samples[6].push(broadcast_fanout(1, FANOUT_MSGS, pinned));
        samples[7].push(broadcast_fanout(4, FANOUT_MSGS, pinned));
        samples[8].push(broadcast_stream_tput(TPUT_MSGS, pinned));
        samples[9].push(c_tput(&c_peer.0, TPUT_MSGS, pinned));
    }
    let [rt, tb, tl, ts, tp, bt, f1, f4, bs, ct] = samples.map(median);
    rows.push(tput_row("4. rtrb push/pop, 2 threads (baseline)", rt, "itself", rt, 1.0));
    rows.push(tput_row("4a. flatipc tput, try_send_batch(256) + drain", tb, "rtrb", rt, 1.0));
    rows.push(tput_row("4b. flatipc tput, loan/commit + try_recv", tl, "rtrb", rt, 1.0));
    rows.push(tput_row("4c. flatipc tput, send + recv, Spin", ts, "rtrb", rt, 1.0));
    rows.push(tput_row(
        "4d. C → C tput (flatipc.h), send + recv, Spin",
        ct,
        "4c (Rust → Rust)",
        ts,
        0.9,
    ));
    rows.push(tput_row(
        "7a. broadcast tput, 1 tethered reader, send + recv, Spin",
        bt,
        "4c (typed send + recv)",
        ts,
        0.8,
    ));
    rows.push(tput_row(
        "7d. broadcast stream tput (frames of a library), 1 tethered reader, send + recv + get",
        bs,
        "7a (typed broadcast)",
        bt,
        0.8,
    ));
    rows.push(tput_row(
        "7b. broadcast publish rate, 1 parked lossy reader process (baseline)",
        f1,
        "itself",
        f1,
        1.0,
    ));
    rows.push(tput_row(
        "7c. broadcast publish rate, 4 parked lossy reader processes",
        f4,
        "7b (1 reader)",
        f1,
        0.8,
    ));

    let park = rt_options(WaitStrategy::SpinThenPark { spins: 0 });
    step("raw futex round trip");
    let fx = futex_rt(None, pinned);
    rows.push(lat_row(
        "5. raw futex hand-off RT, back to back (baseline)",
        &fx,
        "itself",
        fx.p50,
        1.0,
    ));
    step("flatipc park round trip");
    let pk = flatipc_rt("park", "recv", park, pinned, Some(None), None);
    rows.push(lat_row(
        "5a. flatipc RT, SpinThenPark{spins:0}, back to back",
        &pk,
        "raw futex (5)",
        fx.p50,
        1.2,
    ));
    let gap = Duration::from_micros(200);
    step("raw futex round trip, idle gap");
    let fxg = futex_rt(Some(gap), pinned);
    rows.push(lat_row(
        "5'. raw futex hand-off RT, 200 µs idle before each (baseline)",
        &fxg,
        "itself",
        fxg.p50,
        1.0,
    ));
    step("flatipc park round trip, idle gap");
    let pkg = flatipc_rt("parkgap", "recv", park, pinned, Some(Some(gap)), None);
    rows.push(lat_row(
        "5a'. flatipc RT, SpinThenPark{spins:0}, 200 µs idle before each",
        &pkg,
        "raw futex (5')",
        fxg.p50,
        1.2,
    ));
    rows.push(tput_row(
        "5b. flatipc tput, send + recv, SpinThenPark{1M}",
        tp,
        "4c (Spin)",
        ts,
        0.8,
    ));
    step("idle reader");
    let (cpu_us, wall_us) = idle_reader(pinned);
    rows.push(Row {
        name: "5c. idle reader CPU in recv_timeout(1 s), SpinThenPark{20k}".to_string(),
        cells: Default::default(),
        value: format!("{:.2} ms CPU", cpu_us as f64 / 1e3),
        baseline: format!("wall {:.0} ms", wall_us as f64 / 1e3),
        ratio: format!("{:.2}%", cpu_us as f64 * 100.0 / wall_us as f64),
        target: "~0 ms (≤ 1%)".to_string(),
        met: cpu_us * 100 <= wall_us,
    });

    step("1 MiB round trip");
    let bg = big_rt(pinned);
    rows.push(lat_row(
        "6. flatipc RT, 1 MiB msg, loan_dirty, cap 4",
        &bg,
        "row 2 (64 B)",
        sp.p50,
        1.5,
    ));

    print_table(&rows);

    if let Some(path) = plot_path() {
        let curves: Vec<(String, plot::Curve)> = [
            ("floor: raw 2-line ping-pong", &fl),
            ("typed channel (2)", &sp),
            ("framed stream (2c)", &st),
            ("broadcast, tethered (2d)", &bc),
            ("C ↔ C typed channel (2e)", &cc),
            ("Rust ↔ C typed channel (2f)", &rc),
            ("Unix socketpair (3a)", &us),
            ("pipe (3b)", &pi),
        ]
        .into_iter()
        .map(|(label, lat)| (label.to_string(), lat.curve.clone()))
        .collect();
        let title = "flatipc round trips between two pinned processes, 64-byte messages";
        match plot::write(&path, title, &curves) {
            Ok(()) => eprintln!("[channel bench] plot written to {}", path.display()),
            Err(e) => {
                eprintln!("[channel bench] {e}");
                std::process::exit(1);
            }
        }
    }
}

/// The file `--plot PATH` asks for (cargo passes its own `--bench` too); a relative path is
/// relative to the workspace root (cargo runs benchmarks in the package directory).
fn plot_path() -> Option<PathBuf> {
    let mut args = std::env::args().skip_while(|a| a != "--plot");
    args.next()?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    args.next().map(|path| root.join(path))
}
