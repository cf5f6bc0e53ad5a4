//! How an [`Inspection`] is shown: as JSON for scripts (`--json`), as a row of `ls`, and as the
//! text of `stat`.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use flatipc::segment::inspect::{PeerInfo, PeerRole, ReaderInfo, ReaderPolicy, ReaderState};
use flatipc::{Inspection, MessageEntry, RingKind};
use serde::Serialize;

/// The `--json` form of an inspection.
#[derive(Debug, Serialize)]
pub struct SegmentJson {
    name: String,
    path: String,
    kind: &'static str,
    segment_size: u64,
    capacity: u64,
    /// `slots` or `bytes`.
    capacity_unit: &'static str,
    slot_size: u32,
    max_readers: u32,
    creator: CreatorJson,
    messages: Vec<MessageJson>,
    write_pos: u64,
    read_pos: Option<u64>,
    lag: Option<u64>,
    peers: Vec<PeerJson>,
    readers: Vec<ReaderJson>,
    epochs: Vec<EpochJson>,
    epochs_recorded: u64,
    wake: WakeJson,
    /// Whether any process holds a lock of the segment (creator, writer or reader).
    alive: bool,
    problems: Vec<String>,
    /// Units committed per second since the previous refresh (`stat --watch` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    write_rate: Option<f64>,
}

#[derive(Debug, Serialize)]
struct CreatorJson {
    pid: u64,
    uid: u32,
    created_unix_ns: u64,
    created: String,
    alive: bool,
}

#[derive(Debug, Serialize)]
struct MessageJson {
    id: u32,
    name: String,
    size: u32,
    align: u32,
    fingerprint: String,
    steps: Vec<StepJson>,
}

#[derive(Debug, Serialize)]
struct StepJson {
    version: u16,
    fingerprint: String,
}

#[derive(Debug, Serialize)]
struct PeerJson {
    role: &'static str,
    pid: u64,
    attached: bool,
    alive: bool,
    attach_unix_ns: u64,
    may_park: u32,
}

#[derive(Debug, Serialize)]
struct ReaderJson {
    index: u32,
    pid: u64,
    state: String,
    generation: u32,
    policy: String,
    read_pos: u64,
    lag: Option<u64>,
    missed: u64,
    alive: bool,
    attach_unix_ns: u64,
}

#[derive(Debug, Serialize)]
struct EpochJson {
    number: u64,
    start: u64,
    version: u16,
    size: u32,
}

#[derive(Debug, Serialize)]
struct WakeJson {
    reader_parked: u32,
    writer_parked: u32,
    readers_parked: u64,
}

/// The `--json` form of `snap`; `write_rate` for `stat --watch`.
pub fn to_json(snap: &Inspection, write_rate: Option<f64>) -> SegmentJson {
    SegmentJson {
        name: snap.name.clone(),
        path: snap.path.display().to_string(),
        kind: kind_word(snap.kind),
        segment_size: snap.segment_size,
        capacity: snap.capacity,
        capacity_unit: if snap.kind == RingKind::FramedStream { "bytes" } else { "slots" },
        slot_size: snap.slot_size,
        max_readers: snap.max_readers,
        creator: CreatorJson {
            pid: snap.creator_pid,
            uid: snap.creator_uid,
            created_unix_ns: snap.created_unix_ns,
            created: iso_time(snap.created_unix_ns),
            alive: snap.creator_alive,
        },
        messages: snap
            .messages
            .iter()
            .map(|m| MessageJson {
                id: m.id,
                name: m.name.clone(),
                size: m.size,
                align: m.align,
                fingerprint: hex64(m.fingerprint),
                steps: m
                    .steps()
                    .into_iter()
                    .map(|(version, fp)| StepJson { version, fingerprint: hex64(fp) })
                    .collect(),
            })
            .collect(),
        write_pos: snap.write_pos,
        read_pos: snap.read_pos,
        lag: snap.lag(),
        peers: snap
            .peers
            .iter()
            .map(|p| PeerJson {
                role: p.role.name(),
                pid: p.pid,
                attached: p.attached,
                alive: p.alive,
                attach_unix_ns: p.attach_unix_ns,
                may_park: p.may_park,
            })
            .collect(),
        readers: snap
            .readers
            .iter()
            .map(|r| ReaderJson {
                index: r.index,
                pid: r.pid,
                state: state_word(r.state),
                generation: r.generation,
                policy: policy_word(r.policy),
                read_pos: r.read_pos,
                lag: reader_lag(snap, r),
                missed: r.missed,
                alive: r.alive,
                attach_unix_ns: r.attach_unix_ns,
            })
            .collect(),
        epochs: snap
            .epochs
            .iter()
            .map(|e| EpochJson {
                number: e.number,
                start: e.start,
                version: e.version,
                size: e.size,
            })
            .collect(),
        epochs_recorded: snap.epochs_recorded,
        wake: WakeJson {
            reader_parked: snap.wake.reader_parked,
            writer_parked: snap.wake.writer_parked,
            readers_parked: snap.wake.readers_parked,
        },
        alive: snap.any_alive(),
        problems: snap.problems.clone(),
        write_rate,
    }
}

/// The ring kind as a word for scripts.
pub fn kind_word(kind: RingKind) -> &'static str {
    match kind {
        RingKind::TypedChannel => "typed_channel",
        RingKind::FramedStream => "framed_stream",
        RingKind::Broadcast => "broadcast",
        RingKind::BroadcastStream => "broadcast_stream",
    }
}

/// The ring kind in words.
pub fn kind_name(kind: RingKind) -> &'static str {
    match kind {
        RingKind::TypedChannel => "typed channel",
        RingKind::FramedStream => "framed stream",
        RingKind::Broadcast => "broadcast",
        RingKind::BroadcastStream => "broadcast stream",
    }
}

fn state_word(state: ReaderState) -> String {
    match state {
        ReaderState::Free => "free".to_owned(),
        ReaderState::Claimed => "claimed".to_owned(),
        ReaderState::Active => "active".to_owned(),
        ReaderState::Invalid(byte) => format!("invalid({byte})"),
        _ => "unknown".to_owned(),
    }
}

fn policy_word(policy: ReaderPolicy) -> String {
    match policy {
        ReaderPolicy::Tethered => "tethered".to_owned(),
        ReaderPolicy::Lossy => "lossy".to_owned(),
        ReaderPolicy::Unknown(value) => format!("unknown({value})"),
        _ => "unknown".to_owned(),
    }
}

/// Messages an active broadcast reader has not read yet.
fn reader_lag(snap: &Inspection, reader: &ReaderInfo) -> Option<u64> {
    (reader.state == ReaderState::Active).then(|| snap.write_pos.checked_sub(reader.read_pos))?
}

/// `0x` and 16 hex digits.
pub fn hex64(value: u64) -> String {
    format!("{value:#018x}")
}

fn now_unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// `ns` since the Unix epoch as UTC, `2025-06-01T12:00:00.123Z` (`-` for 0).
pub fn iso_time(ns: u64) -> String {
    if ns == 0 {
        return "-".to_owned();
    }
    let secs = ns / 1_000_000_000;
    let millis = ns % 1_000_000_000 / 1_000_000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The proleptic Gregorian date of `days` after 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// How long ago `ns` was, roughly: `4s`, `3m 12s`, `2h 5m`, `3d 4h`.
pub fn age(ns: u64) -> String {
    let secs = now_unix_ns().saturating_sub(ns) / 1_000_000_000;
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m {}s", secs / 60, secs % 60),
        3600..=86_399 => format!("{}h {}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d {}h", secs / 86_400, secs % 86_400 / 3600),
    }
}

/// The message table in short: `Trade, Quote` (at most 3 names, then `+N`).
fn messages_short(messages: &[MessageEntry]) -> String {
    let mut names: Vec<String> = messages
        .iter()
        .take(3)
        .map(|m| if m.name.is_empty() { format!("{:#x}", m.id) } else { m.name.clone() })
        .collect();
    if messages.len() > 3 {
        names.push(format!("+{}", messages.len() - 3));
    }
    names.join(", ")
}

/// The capacity in short: `1024 x 64 B` (slots) or `256 KiB` (a stream's bytes).
fn capacity_short(snap: &Inspection) -> String {
    if snap.kind == RingKind::FramedStream {
        bytes_short(snap.capacity)
    } else {
        format!("{} x {} B", snap.capacity, snap.slot_size)
    }
}

fn bytes_short(bytes: u64) -> String {
    match bytes {
        _ if bytes >= 1 << 30 && bytes % (1 << 30) == 0 => format!("{} GiB", bytes >> 30),
        _ if bytes >= 1 << 20 && bytes % (1 << 20) == 0 => format!("{} MiB", bytes >> 20),
        _ if bytes >= 1 << 10 && bytes % (1 << 10) == 0 => format!("{} KiB", bytes >> 10),
        _ => format!("{bytes} B"),
    }
}

/// A peer's liveness in words: `alive`, `dead (crashed)`, `gone`, or `none`.
fn peer_state(peer: &PeerInfo) -> &'static str {
    match (peer.alive, peer.attached, peer.pid) {
        (true, _, _) => "alive",
        (false, _, 0) => "none",
        (false, true, _) => "dead (crashed)",
        (false, false, _) => "gone",
    }
}

/// The peers in short, for `ls`: `writer 1234 alive, reader 1240 dead (crashed)`, or for a
/// broadcast ring `writer 1234 alive, readers 2 alive 1 dead`.
fn peers_short(snap: &Inspection) -> String {
    let mut parts = Vec::new();
    for peer in &snap.peers {
        if is_broadcast(snap.kind) && peer.role == PeerRole::Reader {
            let alive = snap.readers.iter().filter(|r| r.alive).count();
            let dead = snap.readers.iter().filter(|r| !r.alive && r.state != ReaderState::Free);
            parts.push(format!("readers {alive} alive {} dead", dead.count()));
        } else if peer.pid == 0 && !peer.alive {
            parts.push(format!("{} none", peer.role.name()));
        } else {
            parts.push(format!("{} {} {}", peer.role.name(), peer.pid, peer_state(peer)));
        }
    }
    parts.join(", ")
}

/// `ls` columns.
pub const LS_HEADER: [&str; 8] =
    ["NAME", "KIND", "MESSAGES", "CAPACITY", "WRITE_POS", "READ_POS", "LAG", "PEERS"];

/// One `ls` row.
pub fn ls_row(snap: &Inspection) -> Vec<String> {
    let (read, lag) = match snap.read_pos {
        Some(read) => {
            let unit = if snap.kind == RingKind::FramedStream { " B" } else { "" };
            (read.to_string(), snap.lag().map_or("?".to_owned(), |l| format!("{l}{unit}")))
        }
        None => {
            let lags = snap.readers.iter().filter_map(|r| reader_lag(snap, r));
            ("-".to_owned(), lags.max().map_or("-".to_owned(), |l| format!("{l} (max)")))
        }
    };
    vec![
        snap.name.clone(),
        kind_name(snap.kind).to_owned(),
        messages_short(&snap.messages),
        capacity_short(snap),
        snap.write_pos.to_string(),
        read,
        lag,
        peers_short(snap),
    ]
}

/// Renders rows as a table with columns padded to their widest cell (the last one unpadded).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let last = row.len().saturating_sub(1);
        for (i, cell) in row.iter().enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                let pad = widths[i] - cell.chars().count();
                let _ = write!(out, "{cell}{}  ", " ".repeat(pad));
            }
        }
        out.push('\n');
    }
    out
}

/// The text of `stat`; `write_rate` for `stat --watch`.
pub fn stat_text(snap: &Inspection, write_rate: Option<f64>) -> String {
    let mut out = String::new();
    let mut line = |label: &str, text: String| {
        let _ = writeln!(out, "{label:<10} {text}");
    };
    line("segment", format!("{}  ({})", snap.name, snap.path.display()));
    let geometry = match snap.kind {
        RingKind::FramedStream => format!("{} bytes", snap.capacity),
        _ => format!("{} slots of {} bytes", snap.capacity, snap.slot_size),
    };
    let readers = if snap.max_readers > 0 {
        format!(", {} reader entries", snap.max_readers)
    } else {
        String::new()
    };
    line(
        "kind",
        format!("{}: {geometry}{readers} ({}-byte file)", kind_name(snap.kind), snap.segment_size),
    );
    line(
        "created",
        format!(
            "{} ({} ago) by pid {}, uid {}; creator {}",
            iso_time(snap.created_unix_ns),
            age(snap.created_unix_ns),
            snap.creator_pid,
            snap.creator_uid,
            if snap.creator_alive { "attached" } else { "gone" }
        ),
    );
    for (i, m) in snap.messages.iter().enumerate() {
        let steps: Vec<String> =
            m.steps().iter().map(|(v, fp)| format!("v{v} {}", hex64(*fp))).collect();
        line(
            if i == 0 { "messages" } else { "" },
            format!(
                "{:#010x} {}: {} bytes, align {}; layouts {}",
                m.id,
                m.name,
                m.size,
                m.align,
                steps.join(", ")
            ),
        );
    }
    let unit = if snap.kind == RingKind::FramedStream { "bytes" } else { "messages" };
    let positions = match (snap.read_pos, snap.lag()) {
        (Some(read), Some(lag)) => {
            format!("write_pos {}, read_pos {read}: {lag} {unit} unread", snap.write_pos)
        }
        (Some(read), None) => format!("write_pos {}, read_pos {read}", snap.write_pos),
        (None, _) => format!("write_pos {}", snap.write_pos),
    };
    let rate = write_rate.map_or(String::new(), |r| format!("; {} {unit}/s", rate_short(r)));
    line("positions", format!("{positions}{rate}"));
    if matches!(snap.kind, RingKind::TypedChannel | RingKind::Broadcast) {
        let epochs: Vec<String> = snap
            .epochs
            .iter()
            .map(|e| {
                format!("#{} from {}: version {}, {} bytes", e.number, e.start, e.version, e.size)
            })
            .collect();
        let listed =
            if epochs.is_empty() { String::new() } else { format!(": {}", epochs.join("; ")) };
        line("epochs", format!("{} recorded{listed}", snap.epochs_recorded));
    }
    for peer in &snap.peers {
        if is_broadcast(snap.kind) && peer.role == PeerRole::Reader {
            let attached = snap.readers.iter().filter(|r| r.alive).count();
            let lock = if peer.alive { "held" } else { "free" };
            line(
                "readers",
                format!(
                    "{attached} attached (shared reader lock {lock}), {} may sleep",
                    peer.may_park
                ),
            );
            continue;
        }
        let since = if peer.attach_unix_ns == 0 {
            String::new()
        } else {
            format!(", attached {} ago", age(peer.attach_unix_ns))
        };
        let text = match peer.pid {
            0 if !peer.alive => "never attached".to_owned(),
            pid => format!("pid {pid} {}{since}", peer_state(peer)),
        };
        line(peer.role.name(), text);
    }
    for r in &snap.readers {
        let lag = reader_lag(snap, r).map_or(String::new(), |l| format!(", lag {l}"));
        line(
            &format!("  #{}", r.index),
            format!(
                "pid {} {} {} at {}{lag}, missed {}, {}",
                r.pid,
                state_word(r.state),
                policy_word(r.policy),
                r.read_pos,
                r.missed,
                if r.alive { "alive" } else { "dead" }
            ),
        );
    }
    let parked = if is_broadcast(snap.kind) {
        format!("readers mask {:#x}, writer {}", snap.wake.readers_parked, snap.wake.writer_parked)
    } else {
        format!("reader {}, writer {}", snap.wake.reader_parked, snap.wake.writer_parked)
    };
    line("parked", parked);
    for problem in &snap.problems {
        line("PROBLEM", problem.clone());
    }
    out
}

/// `1.2M`, `35.0k`, `12`.
fn rate_short(rate: f64) -> String {
    if rate >= 1e6 {
        format!("{:.1}M", rate / 1e6)
    } else if rate >= 1e3 {
        format!("{:.1}k", rate / 1e3)
    } else {
        format!("{rate:.0}")
    }
}

/// Whether a ring of `kind` has a reader table (many readers, no shared `read_pos`).
fn is_broadcast(kind: RingKind) -> bool {
    matches!(kind, RingKind::Broadcast | RingKind::BroadcastStream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc() {
        assert_eq!(iso_time(0), "-");
        assert_eq!(iso_time(1), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_time(951_782_400_123_000_000), "2000-02-29T00:00:00.123Z");
        assert_eq!(iso_time(1_735_689_599_000_000_000), "2024-12-31T23:59:59.000Z");
    }

    #[test]
    fn tables_pad_every_column_but_the_last() {
        let rows = vec![vec!["a".to_owned(), "long cell".to_owned(), "x".to_owned()]];
        assert_eq!(table(&["N", "K", "P"], &rows), "N  K          P\na  long cell  x\n");
    }
}
