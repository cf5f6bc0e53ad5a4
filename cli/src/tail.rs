//! `flatipc tail`: committed messages as JSON lines, decoded with the schema's IR, read without
//! joining the ring (`Inspector::read`: no lock, no reader entry, no store), so the writer and
//! the readers never notice.
//!
//! Each line is one of:
//! - a message: `{"position", "id", "type", "version", "size", "fields"}` (`type` and `fields`
//!   from the schema; a message whose id the schema lacks has `"type": null` and its `bytes` in
//!   hex; one longer than the schema's layout, from a newer writer, has `unknown_bytes`);
//! - a gap: `{"position", "gap": {"resume", "lost", "unit"}}` when the writer overwrote messages
//!   before they could be copied;
//! - an error: `{"position", "error"}` for an impossible value in the ring.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use flatipc::segment::inspect::{Copied, Read};
use flatipc::{Inspector, MessageEntry, RingKind};
use flatipc_gen::ir::Schema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::decode::{Decoder, MessageType};
use crate::error::{CliError, SegmentProblem};
use crate::segments;

/// What `tail` was asked for.
#[derive(Debug)]
pub struct TailOptions {
    /// The segment.
    pub name: String,
    /// A `.fidl` file, a JSON IR file, or a directory holding `ir.json`.
    pub schema: PathBuf,
    /// Include directories for `.fidl` imports.
    pub include: Vec<PathBuf>,
    /// Start at the next message written instead of the oldest one retained.
    pub from_end: bool,
    /// Start this many messages before the end.
    pub last: Option<u64>,
    /// Keep waiting for new messages.
    pub follow: bool,
    /// Stop after this many messages.
    pub count: Option<u64>,
    /// How long to sleep when no message is ready (`--follow`).
    pub interval: Duration,
}

#[derive(Serialize)]
struct MessageLine<'a> {
    position: u64,
    id: u32,
    #[serde(rename = "type")]
    type_name: Option<&'a str>,
    version: Option<u16>,
    size: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes: Option<String>,
    #[serde(skip_serializing_if = "is_zero")]
    unknown_bytes: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Serialize)]
struct GapLine {
    position: u64,
    gap: Gap,
}

#[derive(Serialize)]
struct Gap {
    resume: u64,
    lost: u64,
    unit: &'static str,
}

#[derive(Serialize)]
struct ErrorLine<'a> {
    position: u64,
    error: &'a str,
}

/// Loads a schema: compiles a `.fidl` file (its own directory and `include` searched for
/// imports), or reads a JSON IR file (or the `ir.json` in a directory).
///
/// # Errors
///
/// [`CliError::Schema`] with the compiler's diagnostics or the JSON IR error.
pub fn load_schema(path: &Path, include: &[PathBuf], color: bool) -> Result<Schema, CliError> {
    let json = if path.is_dir() {
        Some(path.join("ir.json"))
    } else {
        path.extension().is_some_and(|e| e == "json").then(|| path.to_path_buf())
    };
    let schema_error = |message: String| CliError::Schema { message };
    match json {
        Some(file) => {
            let text = std::fs::read_to_string(&file).map_err(|e| {
                schema_error(format!(
                    "cannot read the schema {}: {e}; give --schema a .fidl file or the ir.json \
                     that `flatipc-gen --json-out DIR` writes",
                    file.display()
                ))
            })?;
            flatipc_gen::backend::json::read(&text)
                .map_err(|e| schema_error(format!("{}: {e}", file.display())))
        }
        None => {
            let mut dirs = include.to_vec();
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                dirs.push(parent.to_path_buf());
            }
            flatipc_gen::compile_files(&[path.to_path_buf()], &dirs).map_err(|d| {
                let rendered = d.render(color);
                schema_error(format!(
                    "the schema {} does not compile (add -I DIR for imported libraries):\n{}",
                    path.display(),
                    rendered.trim_end()
                ))
            })
        }
    }
}

/// Checks that the schema agrees with the segment on every message both know: the layouts at
/// the versions both know (`docs/EVOLUTION.md` §5, as peers compare them at attach). Entries
/// the schema lacks are reported on `warnings` (their messages are shown as bytes).
fn check_schema(
    decoder: &Decoder,
    table: &[MessageEntry],
    warnings: &mut impl Write,
) -> Result<(), CliError> {
    for entry in table {
        let Some(message) = decoder.for_entry(entry) else {
            let _ = writeln!(
                warnings,
                "flatipc: note: the segment carries `{}` (id {:#x}), which the schema does not \
                 have; its messages are shown as bytes",
                entry.name, entry.id
            );
            continue;
        };
        let mine: Vec<(u16, u64)> =
            message.layout.steps.iter().map(|s| (s.version, s.fingerprint)).collect();
        let mut as_entry = entry.clone();
        as_entry.versions = [0; 4];
        as_entry.fingerprints = [0; 4];
        for (i, (version, fp)) in mine.iter().take(4).enumerate() {
            as_entry.versions[i] = u8::try_from(*version).unwrap_or(u8::MAX);
            as_entry.fingerprints[i] = *fp;
        }
        as_entry.fingerprint = message.layout.fingerprint;
        let theirs = entry.steps_for(&as_entry);
        let newest = |s: &[(u16, u64)]| s.last().map_or(1, |s| s.0);
        let at = |s: &[(u16, u64)], v: u16| s.iter().find(|s| s.0 == v).map(|s| s.1);
        let common = newest(&theirs).min(newest(&mine));
        if let Some(version) = (1..=common).find(|v| at(&theirs, *v) != at(&mine, *v)) {
            return Err(CliError::SchemaMismatch {
                schema_name: decoder.fqn(message.decl),
                segment_name: entry.name.clone(),
                id: entry.id,
                version,
                segment_fp: at(&theirs, version).unwrap_or(0),
                schema_fp: at(&mine, version).map_or("none".to_owned(), |fp| format!("{fp:#018x}")),
            });
        }
    }
    Ok(())
}

/// Runs `tail`, writing JSON lines to `out`.
///
/// # Errors
///
/// Segment and schema errors; [`CliError::Output`] if `out` fails.
pub fn run(options: &TailOptions, out: &mut impl Write, color: bool) -> Result<(), CliError> {
    let inspector = segments::open(&options.name)?;
    let decoder = Decoder::new(load_schema(&options.schema, &options.include, color)?);
    let table = inspector.messages();
    check_schema(&decoder, &table, &mut io::stderr())?;
    // A typed ring's one type (matched by id, or by fingerprint if it has none).
    let typed = match inspector.kind() {
        RingKind::TypedChannel | RingKind::Broadcast => {
            table.first().and_then(|e| decoder.for_entry(e))
        }
        RingKind::FramedStream | RingKind::BroadcastStream => None,
    };
    let end = inspector.write_pos();
    let mut position = if options.from_end {
        end
    } else if let Some(n) = options.last {
        start_of_last(&inspector, n, end)
    } else {
        inspector.oldest()
    };
    let mut buf = Vec::new();
    let mut printed = 0u64;
    let mut reported: Option<u64> = None;
    let mut last_activity = Instant::now();
    let mut last_link_check = Instant::now();
    let output = CliError::Output;
    while options.count.map_or(true, |count| printed < count) {
        if !options.follow && position >= end {
            break;
        }
        match inspector.read(position, &mut buf) {
            Read::Message(copied) => {
                last_activity = Instant::now();
                let message = match inspector.kind() {
                    RingKind::TypedChannel | RingKind::Broadcast => typed,
                    _ => decoder.by_id(copied.id),
                };
                write_message(out, &decoder, message, &copied, &buf).map_err(output)?;
                printed += 1;
                position = copied.next;
            }
            Read::Padding { next } => position = next,
            Read::Lost { resume } if resume > position => {
                last_activity = Instant::now();
                let resume = resume_after_gap(&inspector, resume);
                let unit =
                    if inspector.kind() == RingKind::FramedStream { "bytes" } else { "messages" };
                let gap = Gap { resume, lost: resume - position, unit };
                line(out, &GapLine { position, gap }).map_err(output)?;
                position = resume;
            }
            Read::Corrupt { reason, resume } => {
                if reported != Some(position) {
                    line(out, &ErrorLine { position, error: &reason }).map_err(output)?;
                    reported = Some(position);
                }
                match resume {
                    Some(resume) if resume > position => position = resume,
                    // Nothing known past it: wait for the ring's reader to move on.
                    _ if options.follow => {
                        out.flush().map_err(output)?;
                        thread::sleep(options.interval);
                    }
                    _ => {
                        return Err(CliError::Segment {
                            path: flatipc::Segment::path(&options.name),
                            problem: SegmentProblem::CorruptRing { reason },
                        })
                    }
                }
            }
            // Pending (or a `Lost` that would not move forward, which no ring produces).
            _ => {
                if !options.follow {
                    break;
                }
                out.flush().map_err(output)?;
                if last_activity.elapsed() < HOT_POLL {
                    thread::yield_now();
                    continue;
                }
                if last_link_check.elapsed() >= Duration::from_secs(1) {
                    if !inspector.still_linked() {
                        eprintln!(
                            "flatipc: segment `{}` was removed; nothing more can arrive",
                            options.name
                        );
                        break;
                    }
                    last_link_check = Instant::now();
                }
                thread::sleep(options.interval);
            }
        }
    }
    out.flush().map_err(output)
}

/// How long `--follow` keeps polling without sleeping after the last message or gap, so that
/// it keeps up with a busy writer; an idle ring is polled every `--interval`.
const HOT_POLL: Duration = Duration::from_millis(2);

/// Where to continue after a gap. The runtime's `resume` is the oldest message left, which is
/// the next one the writer overwrites: a writer that lapped tail once laps it again there. So
/// unless the ring's reader holds that message back (a typed channel's unreleased messages are
/// stable), skip ahead to half a ring behind the writer. A framed stream can only resume where
/// its reader is (the only frame start it records).
fn resume_after_gap(inspector: &Inspector, resume: u64) -> u64 {
    match inspector.kind() {
        RingKind::FramedStream => resume,
        RingKind::TypedChannel if inspector.read_pos().is_some_and(|r| r <= resume) => resume,
        _ => resume.max(inspector.write_pos().saturating_sub(inspector.capacity() / 2)),
    }
}

/// Where the last `n` messages before `end` start: `n` positions back for the kinds whose
/// positions count messages; for a framed stream, found by walking its frames from the oldest
/// one that can be found.
fn start_of_last(inspector: &Inspector, n: u64, end: u64) -> u64 {
    let oldest = inspector.oldest();
    if inspector.kind() != RingKind::FramedStream {
        return end.saturating_sub(n).max(oldest);
    }
    let mut starts = VecDeque::new();
    let mut buf = Vec::new();
    let mut position = oldest;
    while position < end {
        match inspector.read(position, &mut buf) {
            Read::Message(Copied { next, .. }) => {
                starts.push_back(position);
                if starts.len() as u64 > n {
                    starts.pop_front();
                }
                position = next;
            }
            Read::Padding { next } => position = next,
            Read::Lost { resume } if resume > position => {
                starts.clear();
                position = resume;
            }
            _ => break,
        }
    }
    starts.front().copied().unwrap_or(position)
}

fn write_message(
    out: &mut impl Write,
    decoder: &Decoder,
    message: Option<MessageType<'_>>,
    copied: &Copied,
    bytes: &[u8],
) -> io::Result<()> {
    let decoded = message.map(|m| decoder.decode(m, bytes, copied.version));
    let (type_name, fields, unknown_bytes) = match decoded {
        Some(d) => (Some(d.type_name), Some(d.fields), d.unknown_bytes),
        None => (None, None, 0),
    };
    let record = MessageLine {
        position: copied.position,
        id: copied.id,
        type_name: type_name.as_deref(),
        version: copied.version,
        size: copied.size,
        bytes: fields.is_none().then(|| hex(bytes)),
        fields,
        unknown_bytes,
    };
    line(out, &record)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `value` as one JSON line.
fn line(out: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(io::Error::from)?;
    out.write_all(b"\n")
}
