//! `flatipc clean`: removes segments whose processes are all gone (no creator, writer or reader
//! lock held), never a live one, never a file that is not a flatipc segment.

use std::io::Write;

use flatipc::segment::inspect::Removal;
use flatipc::Segment;
use serde::Serialize;

use crate::error::{CliError, SegmentProblem};
use crate::report;
use crate::segments;

#[derive(Serialize, Default)]
struct CleanJson {
    dry_run: bool,
    removed: Vec<Removed>,
    in_use: Vec<String>,
    skipped: Vec<Skipped>,
}

#[derive(Serialize)]
struct Removed {
    name: String,
    /// False for a segment whose creator died before making it ready.
    ready: bool,
    detail: String,
}

#[derive(Serialize)]
struct Skipped {
    name: String,
    status: &'static str,
    reason: String,
}

/// What is known of a segment before it is removed, for the report.
fn detail(name: &str) -> String {
    match Segment::inspect(name) {
        Ok(snap) => {
            let peers: Vec<String> = snap
                .peers
                .iter()
                .filter(|p| p.pid != 0)
                .map(|p| {
                    let how = if p.attached { "crashed" } else { "detached" };
                    format!("{} pid {} {how}", p.role.name(), p.pid)
                })
                .collect();
            let peers = if peers.is_empty() {
                "no peer ever attached".to_owned()
            } else {
                peers.join(", ")
            };
            format!(
                "{}, created by pid {}; {peers}",
                report::kind_name(snap.kind),
                snap.creator_pid
            )
        }
        Err(_) => "never made ready: its creator died while setting it up".to_owned(),
    }
}

/// Runs `clean` on `names` (every segment if empty).
///
/// # Errors
///
/// [`CliError::Missing`] for a named segment that does not exist, [`CliError::Remove`] if a
/// removal fails (after going through every segment); [`CliError::Output`].
pub fn run(
    names: &[String],
    dry_run: bool,
    json: bool,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let explicit = !names.is_empty();
    let names: Vec<String> = if explicit {
        names.to_vec()
    } else {
        segments::list()?.into_iter().map(|e| e.name).collect()
    };
    let mut report = CleanJson { dry_run, ..CleanJson::default() };
    let mut failure = None;
    for name in names {
        let detail = detail(&name);
        match Segment::remove_if_unused(&name, dry_run) {
            Ok(Removal::Removed { ready }) => report.removed.push(Removed { name, ready, detail }),
            Ok(Removal::InUse) => report.in_use.push(name),
            Ok(_) => report.skipped.push(Skipped {
                name,
                status: "replaced",
                reason: "another segment replaced it while it was checked".to_owned(),
            }),
            Err(error) => match SegmentProblem::of(error) {
                SegmentProblem::Missing if explicit => {
                    failure.get_or_insert(segments::open_error(
                        &name,
                        flatipc::OpenError::NotFound { path: Segment::path(&name) },
                    ));
                }
                SegmentProblem::Missing => {}
                SegmentProblem::Io(source) => {
                    let path = Segment::path(&name);
                    failure.get_or_insert(CliError::Remove { path, source });
                }
                problem => report.skipped.push(Skipped {
                    name,
                    status: problem.status(),
                    reason: problem.to_string(),
                }),
            },
        }
    }
    let written = if json {
        serde_json::to_writer_pretty(&mut *out, &report)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        let verb = if dry_run { "would remove" } else { "removed" };
        let mut text = String::new();
        for r in &report.removed {
            text.push_str(&format!("{verb:<13} {}: {}\n", r.name, r.detail));
        }
        for name in &report.in_use {
            text.push_str(&format!(
                "{:<13} {name}: in use (a process holds one of its locks)\n",
                "kept"
            ));
        }
        for s in &report.skipped {
            text.push_str(&format!("{:<13} {}: {}\n", "skipped", s.name, s.reason));
        }
        text.push_str(&format!(
            "{} {verb}, {} in use, {} skipped\n",
            report.removed.len(),
            report.in_use.len(),
            report.skipped.len()
        ));
        out.write_all(text.as_bytes())
    };
    written.map_err(CliError::Output)?;
    failure.map_or(Ok(()), Err)
}
