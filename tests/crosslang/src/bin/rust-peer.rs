//! The Rust side of the cross-language tests: the roles of `c/peer.c` (same arguments, same
//! output lines), played with the `flatipc` crate.
//!
//! ```text
//! rust-peer chan-write   NAME COUNT WAIT CAP   -> SENT <count> <checksum>
//! rust-peer chan-read    NAME COUNT WAIT CAP   -> RECV <count> <checksum> DISCONNECTED
//! rust-peer chan-endless NAME                  -> READY, then sends until killed
//! rust-peer park-read    NAME ROUNDS           -> READY, GOT <seq> per message
//! rust-peer stream-write NAME COUNT WAIT CAP   -> SENT <count> <checksum>
//! rust-peer stream-read  NAME COUNT WAIT CAP   -> RECV <count> <checksum> DISCONNECTED
//! rust-peer bcast-write  NAME COUNT WAIT CAP   -> SENT <count> <checksum>      (typed ring)
//! rust-peer bcast-read   NAME COUNT WAIT CAP   -> READY, RECV <count> <checksum> DISCONNECTED
//! rust-peer bcast-lossy  NAME WAIT CAP         -> READY, LOSSY <received> <missed> <total> <end>
//! rust-peer bcast-endless NAME                 -> READY, then sends until killed (also bstream-)
//! rust-peer bcast-hold   NAME                  -> READY, then a tethered reader that never reads
//! rust-peer bcast-park-read NAME ROUNDS        -> READY, GOT <seq> per message
//! rust-peer bstream-write / bstream-read / bstream-lossy: the same on a broadcast stream
//! ```
//!
//! Exit status: 0 success, 2 usage, 3 a message differs from what the writer must have sent,
//! 4 an unexpected flatipc error.

use std::process::ExitCode;
use std::time::Duration;

use flatipc::broadcast::{
    BroadcastOptions, BroadcastReader, BroadcastStreamReader, BroadcastStreamWriter,
    BroadcastWriter, Policy, ReaderOptions, StartAt,
};
use flatipc::channel::{ChannelOptions, Reader, RecvError, SendError, Writer};
use flatipc::stream::{StreamOptions, StreamReader, StreamWriter};
use flatipc::wait::WaitStrategy;
use flatipc::zerocopy::IntoBytes;
use flatipc_crosslang_tests::market_data::{Library, Quote};
use flatipc_crosslang_tests::{any, fold, fold_bytes, quote, wait_strategy, Any, FOLD_INIT};

const TIMEOUT: Duration = Duration::from_secs(30);

fn fail(what: &str, e: impl std::fmt::Display) -> ExitCode {
    println!("ERR {what}: {e}");
    ExitCode::from(4)
}

fn chan_write(name: &str, count: u64, options: ChannelOptions) -> ExitCode {
    let mut w = match Writer::<Quote>::open_or_create(name, &options) {
        Ok(w) => w,
        Err(e) => return fail("writer attach", e),
    };
    let start = w.position();
    let mut h = FOLD_INIT;
    for seq in start..start + count {
        let q = quote(seq);
        if seq % 2 == 0 {
            if let Err(e) = w.send_timeout(&q, TIMEOUT) {
                return fail("send", e);
            }
        } else {
            loop {
                match w.loan() {
                    Ok(mut slot) => {
                        *slot = q;
                        slot.commit();
                        break;
                    }
                    Err(SendError::Full) => std::thread::yield_now(),
                    Err(e) => return fail("loan", e),
                }
            }
        }
        h = fold_bytes(h, q.as_bytes());
    }
    println!("SENT {count} {h:016x}");
    ExitCode::SUCCESS
}

fn chan_read(name: &str, count: u64, options: ChannelOptions) -> ExitCode {
    let mut r = match Reader::<Quote>::open_or_create(name, &options) {
        Ok(r) => r,
        Err(e) => return fail("reader attach", e),
    };
    let mut h = FOLD_INIT;
    let start = r.position();
    for expected in start..start + count {
        let m = match r.recv_timeout(TIMEOUT) {
            Ok(m) => m,
            Err(e) => return fail("recv", e),
        };
        if m.as_bytes() != quote(expected).as_bytes() {
            println!("MISMATCH at {expected} (sequence field {})", m.sequence);
            return ExitCode::from(3);
        }
        h = fold_bytes(h, m.as_bytes());
    }
    let end = match r.recv_timeout(TIMEOUT) {
        Err(RecvError::Disconnected) => "DISCONNECTED".to_string(),
        Err(e) => e.to_string(),
        Ok(m) => format!("unexpected message {}", m.sequence),
    };
    println!("RECV {count} {h:016x} {end}");
    ExitCode::SUCCESS
}

fn chan_endless(name: &str) -> ExitCode {
    let options = ChannelOptions { capacity: 64, wait: WaitStrategy::SpinThenPark { spins: 2000 } };
    let mut w = match Writer::<Quote>::open_or_create(name, &options) {
        Ok(w) => w,
        Err(e) => return fail("writer attach", e),
    };
    println!("READY");
    let mut seq = w.position();
    loop {
        if let Err(e) = w.send(&quote(seq)) {
            return fail("send", e);
        }
        if seq % 64 == 0 {
            std::thread::sleep(Duration::from_micros(200));
        }
        seq += 1;
    }
}

fn park_read(name: &str, rounds: u64) -> ExitCode {
    let options = ChannelOptions { capacity: 64, wait: WaitStrategy::SpinThenPark { spins: 100 } };
    let mut r = match Reader::<Quote>::open_or_create(name, &options) {
        Ok(r) => r,
        Err(e) => return fail("reader attach", e),
    };
    println!("READY");
    for _ in 0..rounds {
        match r.recv_timeout(TIMEOUT) {
            Ok(m) => println!("GOT {}", m.sequence),
            Err(e) => return fail("recv", e),
        }
    }
    ExitCode::SUCCESS
}

fn stream_write(name: &str, count: u64, options: StreamOptions) -> ExitCode {
    let mut w = match StreamWriter::<Library>::open_or_create(name, &options) {
        Ok(w) => w,
        Err(e) => return fail("stream writer attach", e),
    };
    let mut h = FOLD_INIT;
    for seq in 0..count {
        let m = any(seq);
        let sent = if seq % 3 == 0 {
            // In place: retry while full (the stream has no blocking loan).
            loop {
                let loaned = match m {
                    Any::Trade(t) => w.loan().map(|mut l| {
                        *l = t;
                        l.commit()
                    }),
                    Any::Quote(q) => w.loan().map(|mut l| {
                        *l = q;
                        l.commit()
                    }),
                    Any::Book(b) => w.loan().map(|mut l| {
                        *l = b;
                        l.commit()
                    }),
                    Any::Status(s) => w.loan().map(|mut l| {
                        *l = s;
                        l.commit()
                    }),
                };
                match loaned {
                    Err(SendError::Full) => std::thread::yield_now(),
                    other => break other,
                }
            }
        } else {
            match &m {
                Any::Trade(t) => w.send_timeout(t, TIMEOUT),
                Any::Quote(q) => w.send_timeout(q, TIMEOUT),
                Any::Book(b) => w.send_timeout(b, TIMEOUT),
                Any::Status(s) => w.send_timeout(s, TIMEOUT),
            }
        };
        if let Err(e) = sent {
            return fail("stream send", e);
        }
        h = fold_bytes(fold(h, u64::from(m.id())), m.bytes());
    }
    println!("SENT {count} {h:016x}");
    ExitCode::SUCCESS
}

fn stream_read(name: &str, count: u64, options: StreamOptions) -> ExitCode {
    let mut r = match StreamReader::<Library>::open_or_create(name, &options) {
        Ok(r) => r,
        Err(e) => return fail("stream reader attach", e),
    };
    let mut h = FOLD_INIT;
    for seq in 0..count {
        let frame = match r.recv_timeout(TIMEOUT) {
            Ok(f) => f,
            Err(e) => return fail("stream recv", e),
        };
        let want = any(seq);
        let valid = matches!(frame.message(), Some(Ok(_)));
        if frame.id() != want.id() || frame.bytes() != want.bytes() || !valid {
            println!(
                "MISMATCH at {seq} (id {:#x} size {} valid {valid})",
                frame.id(),
                frame.bytes().len()
            );
            return ExitCode::from(3);
        }
        h = fold_bytes(fold(h, u64::from(frame.id())), frame.bytes());
    }
    let end = match r.recv_timeout(TIMEOUT) {
        Err(RecvError::Disconnected) => "DISCONNECTED".to_string(),
        Err(e) => e.to_string(),
        Ok(f) => format!("unexpected frame {:#x}", f.id()),
    };
    println!("RECV {count} {h:016x} {end}");
    ExitCode::SUCCESS
}

fn broadcast_options(wait: WaitStrategy, capacity: u64) -> BroadcastOptions {
    BroadcastOptions { capacity, max_readers: 8, wait }
}

fn reader_options(policy: Policy, wait: WaitStrategy) -> ReaderOptions {
    ReaderOptions { policy, start: StartAt::Next, wait }
}

/// Sends message `seq` on a typed broadcast ring: try_send retried, send, or loan + commit.
fn bcast_send(w: &mut BroadcastWriter<Quote>, seq: u64) -> Result<(), SendError> {
    let q = quote(seq);
    match seq % 3 {
        0 => loop {
            match w.try_send(&q) {
                Err(SendError::Full) => std::thread::yield_now(),
                other => break other,
            }
        },
        1 => w.send_timeout(&q, TIMEOUT),
        _ => {
            let mut l = w.loan();
            *l = q;
            l.commit()
        }
    }
}

fn bcast_write(name: &str, count: u64, options: BroadcastOptions) -> ExitCode {
    let mut w = match BroadcastWriter::<Quote>::open_or_create(name, &options) {
        Ok(w) => w,
        Err(e) => return fail("broadcast writer attach", e),
    };
    let mut h = FOLD_INIT;
    for seq in 0..count {
        if let Err(e) = bcast_send(&mut w, seq) {
            return fail("broadcast send", e);
        }
        h = fold_bytes(h, quote(seq).as_bytes());
    }
    println!("SENT {count} {h:016x}");
    ExitCode::SUCCESS
}

fn bcast_read(name: &str, count: u64, options: BroadcastOptions) -> ExitCode {
    let ro = reader_options(Policy::Tethered, options.wait);
    let mut r = match BroadcastReader::<Quote>::open_or_create(name, &options, &ro) {
        Ok(r) => r,
        Err(e) => return fail("broadcast reader attach", e),
    };
    println!("READY");
    let mut h = FOLD_INIT;
    for seq in 0..count {
        let m = match r.recv_timeout(TIMEOUT) {
            Ok(m) => m,
            Err(e) => return fail("broadcast recv", e),
        };
        if m.as_bytes() != quote(seq).as_bytes() || m.position() != seq || m.missed() != 0 {
            println!("MISMATCH at {seq} (position {}, missed {})", m.position(), m.missed());
            return ExitCode::from(3);
        }
        h = fold_bytes(h, m.as_bytes());
    }
    let end = match r.recv_timeout(TIMEOUT) {
        Err(RecvError::Disconnected) => "DISCONNECTED".to_string(),
        Err(e) => e.to_string(),
        Ok(m) => format!("unexpected message {}", m.position()),
    };
    println!("RECV {count} {h:016x} {end}");
    ExitCode::SUCCESS
}

fn bcast_lossy(name: &str, options: BroadcastOptions) -> ExitCode {
    let ro = reader_options(Policy::Lossy, options.wait);
    let mut r = match BroadcastReader::<Quote>::open_or_create(name, &options, &ro) {
        Ok(r) => r,
        Err(e) => return fail("lossy reader attach", e),
    };
    println!("READY");
    let (mut received, mut missed, mut next) = (0u64, 0u64, 0u64);
    let end = loop {
        let m = match r.recv_timeout(TIMEOUT) {
            Ok(m) => m,
            Err(e) => break e,
        };
        let position = m.position();
        if position != next + m.missed() || m.as_bytes() != quote(position).as_bytes() {
            println!("MISMATCH at {position} (expected {next} + {} missed)", m.missed());
            return ExitCode::from(3);
        }
        received += 1;
        missed += m.missed();
        next = position + 1;
    };
    let end = if end == RecvError::Disconnected { "DISCONNECTED".into() } else { end.to_string() };
    println!("LOSSY {received} {missed} {} {end}", r.missed());
    ExitCode::SUCCESS
}

fn bcast_hold(name: &str) -> ExitCode {
    let ro = reader_options(Policy::Tethered, WaitStrategy::default());
    let _r = match BroadcastReader::<Quote>::open(name, &ro) {
        Ok(r) => r,
        Err(e) => return fail("holding reader attach", e),
    };
    println!("READY");
    // Never reads: holds the writer back until killed (or stdin closes).
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
    ExitCode::SUCCESS
}

fn bcast_endless(name: &str, framed: bool) -> ExitCode {
    let options = broadcast_options(WaitStrategy::SpinThenPark { spins: 2000 }, 64);
    let (mut typed, mut stream) = (None, None);
    let attached = if framed {
        BroadcastStreamWriter::<Library>::open_or_create(name, &options).map(|w| stream = Some(w))
    } else {
        BroadcastWriter::<Quote>::open_or_create(name, &options).map(|w| typed = Some(w))
    };
    if let Err(e) = attached {
        return fail("writer attach", e);
    }
    println!("READY");
    for seq in 0.. {
        let sent = match (&mut typed, &mut stream) {
            (Some(w), _) => bcast_send(w, seq),
            (_, Some(w)) => bstream_send(w, seq),
            _ => unreachable!(),
        };
        if let Err(e) = sent {
            return fail("send", e);
        }
        if seq % 64 == 0 {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    ExitCode::SUCCESS
}

fn bcast_park_read(name: &str, rounds: u64) -> ExitCode {
    let options = broadcast_options(WaitStrategy::SpinThenPark { spins: 100 }, 64);
    let ro = reader_options(Policy::Tethered, options.wait);
    let mut r = match BroadcastReader::<Quote>::open_or_create(name, &options, &ro) {
        Ok(r) => r,
        Err(e) => return fail("parking reader attach", e),
    };
    println!("READY");
    for _ in 0..rounds {
        match r.recv_timeout(TIMEOUT) {
            Ok(m) => println!("GOT {}", m.sequence),
            Err(e) => return fail("recv", e),
        }
    }
    ExitCode::SUCCESS
}

/// Sends stream message `seq` (any of four types): try_send retried, send, or loan + commit.
fn bstream_send(w: &mut BroadcastStreamWriter<Library>, seq: u64) -> Result<(), SendError> {
    macro_rules! send {
        ($m:expr) => {{
            let m = $m;
            match seq % 3 {
                0 => loop {
                    match w.try_send(&m) {
                        Err(SendError::Full) => std::thread::yield_now(),
                        other => break other,
                    }
                },
                1 => w.send_timeout(&m, TIMEOUT),
                _ => {
                    let mut l = w.loan()?;
                    *l = m;
                    l.commit()
                }
            }
        }};
    }
    match any(seq) {
        Any::Trade(m) => send!(m),
        Any::Quote(m) => send!(m),
        Any::Book(m) => send!(m),
        Any::Status(m) => send!(m),
    }
}

fn bstream_write(name: &str, count: u64, options: BroadcastOptions) -> ExitCode {
    let mut w = match BroadcastStreamWriter::<Library>::open_or_create(name, &options) {
        Ok(w) => w,
        Err(e) => return fail("broadcast stream writer attach", e),
    };
    let mut h = FOLD_INIT;
    for seq in 0..count {
        if let Err(e) = bstream_send(&mut w, seq) {
            return fail("broadcast stream send", e);
        }
        let m = any(seq);
        h = fold_bytes(fold(h, u64::from(m.id())), m.bytes());
    }
    println!("SENT {count} {h:016x}");
    ExitCode::SUCCESS
}

fn bstream_read(name: &str, count: u64, options: BroadcastOptions) -> ExitCode {
    let ro = reader_options(Policy::Tethered, options.wait);
    let mut r = match BroadcastStreamReader::<Library>::open_or_create(name, &options, &ro) {
        Ok(r) => r,
        Err(e) => return fail("broadcast stream reader attach", e),
    };
    println!("READY");
    let mut h = FOLD_INIT;
    for seq in 0..count {
        let frame = match r.recv_timeout(TIMEOUT) {
            Ok(f) => f,
            Err(e) => return fail("broadcast stream recv", e),
        };
        let want = any(seq);
        let valid = matches!(frame.message(), Some(Ok(_)));
        if frame.id() != want.id()
            || frame.bytes() != want.bytes()
            || !valid
            || frame.position() != seq
            || frame.missed() != 0
        {
            println!("MISMATCH at {seq} (id {:#x}, position {})", frame.id(), frame.position());
            return ExitCode::from(3);
        }
        h = fold_bytes(fold(h, u64::from(frame.id())), frame.bytes());
    }
    let end = match r.recv_timeout(TIMEOUT) {
        Err(RecvError::Disconnected) => "DISCONNECTED".to_string(),
        Err(e) => e.to_string(),
        Ok(f) => format!("unexpected frame {}", f.position()),
    };
    println!("RECV {count} {h:016x} {end}");
    ExitCode::SUCCESS
}

fn bstream_lossy(name: &str, options: BroadcastOptions) -> ExitCode {
    let ro = reader_options(Policy::Lossy, options.wait);
    let mut r = match BroadcastStreamReader::<Library>::open_or_create(name, &options, &ro) {
        Ok(r) => r,
        Err(e) => return fail("lossy stream reader attach", e),
    };
    println!("READY");
    let (mut received, mut missed, mut next) = (0u64, 0u64, 0u64);
    let end = loop {
        let frame = match r.recv_timeout(TIMEOUT) {
            Ok(f) => f,
            Err(e) => break e,
        };
        let position = frame.position();
        let want = any(position);
        if position != next + frame.missed()
            || frame.id() != want.id()
            || frame.bytes() != want.bytes()
        {
            println!("MISMATCH at {position} (expected {next} + {} missed)", frame.missed());
            return ExitCode::from(3);
        }
        received += 1;
        missed += frame.missed();
        next = position + 1;
    };
    let end = if end == RecvError::Disconnected { "DISCONNECTED".into() } else { end.to_string() };
    println!("LOSSY {received} {missed} {} {end}", r.missed());
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    let number = |i: usize| arg(i).parse::<u64>().unwrap_or(0);
    let channel = || ChannelOptions { capacity: number(4), wait: wait_strategy(arg(3)) };
    let stream = || StreamOptions { capacity: number(4), wait: wait_strategy(arg(3)) };
    let bcast = |wait: usize, cap: usize| broadcast_options(wait_strategy(arg(wait)), number(cap));
    let (role, name) = (arg(0), arg(1));
    match (role, args.len()) {
        ("chan-write", 5) => chan_write(name, number(2), channel()),
        ("chan-read", 5) => chan_read(name, number(2), channel()),
        ("chan-endless", 2) => chan_endless(name),
        ("park-read", 3) => park_read(name, number(2)),
        ("stream-write", 5) => stream_write(name, number(2), stream()),
        ("stream-read", 5) => stream_read(name, number(2), stream()),
        ("bcast-write", 5) => bcast_write(name, number(2), bcast(3, 4)),
        ("bcast-read", 5) => bcast_read(name, number(2), bcast(3, 4)),
        ("bcast-lossy", 4) => bcast_lossy(name, bcast(2, 3)),
        ("bcast-hold", 2) => bcast_hold(name),
        ("bcast-endless", 2) => bcast_endless(name, false),
        ("bstream-endless", 2) => bcast_endless(name, true),
        ("bcast-park-read", 3) => bcast_park_read(name, number(2)),
        ("bstream-write", 5) => bstream_write(name, number(2), bcast(3, 4)),
        ("bstream-read", 5) => bstream_read(name, number(2), bcast(3, 4)),
        ("bstream-lossy", 4) => bstream_lossy(name, bcast(2, 3)),
        _ => {
            eprintln!("usage: rust-peer ROLE NAME ... (see the source); got {args:?}");
            ExitCode::from(2)
        }
    }
}
