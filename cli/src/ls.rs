//! `flatipc ls`: every segment with its kind, messages, capacity, positions, lag and peers; and
//! every other file named like a segment, with the reason it cannot be inspected.

use std::io::Write;

use flatipc::Inspector;
use serde::Serialize;

use crate::error::{CliError, SegmentProblem};
use crate::report::{self, SegmentJson};
use crate::segments::{self, Entry};

#[derive(Serialize)]
#[serde(untagged)]
enum LsEntry {
    Segment {
        status: &'static str,
        #[serde(flatten)]
        segment: Box<SegmentJson>,
    },
    Problem {
        name: String,
        path: String,
        status: &'static str,
        error: String,
        uid: Option<u32>,
    },
}

#[derive(Serialize)]
struct LsJson {
    segments: Vec<LsEntry>,
}

/// The reason an entry cannot be inspected, with the owner when that explains it.
fn reason(entry: &Entry, problem: &SegmentProblem) -> String {
    match (problem, entry.uid) {
        (SegmentProblem::Io(_), Some(uid)) => format!("{problem} (the file belongs to uid {uid})"),
        _ => problem.to_string(),
    }
}

/// Runs `ls`.
///
/// # Errors
///
/// [`CliError::List`] if `/dev/shm` cannot be read; [`CliError::Output`].
pub fn run(json: bool, out: &mut impl Write) -> Result<(), CliError> {
    let entries = segments::list()?;
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut json_entries = Vec::new();
    for entry in &entries {
        match Inspector::open(&entry.name) {
            Ok(inspector) => {
                let snap = inspector.snapshot();
                rows.push(report::ls_row(&snap));
                let segment = Box::new(report::to_json(&snap, None));
                json_entries.push(LsEntry::Segment { status: "ok", segment });
            }
            Err(error) => {
                let problem = SegmentProblem::of(error);
                if matches!(problem, SegmentProblem::Missing) {
                    continue; // removed since it was listed
                }
                let why = reason(entry, &problem);
                json_entries.push(LsEntry::Problem {
                    name: entry.name.clone(),
                    path: entry.path.display().to_string(),
                    status: problem.status(),
                    error: why.clone(),
                    uid: entry.uid,
                });
                problems.push(format!("  {}: {why}", entry.path.display()));
            }
        }
    }
    let written = if json {
        serde_json::to_writer_pretty(&mut *out, &LsJson { segments: json_entries })
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        let mut text = String::new();
        if rows.is_empty() {
            text.push_str("no flatipc segments in /dev/shm\n");
        } else {
            text.push_str(&report::table(&report::LS_HEADER, &rows));
        }
        if !problems.is_empty() {
            let files = if problems.len() == 1 { "file" } else { "files" };
            text.push_str(&format!(
                "\n{} other {files} named like segments cannot be inspected:\n{}\n",
                problems.len(),
                problems.join("\n")
            ));
        }
        out.write_all(text.as_bytes())
    };
    written.map_err(CliError::Output)
}
