//! Finding segments: the files `/dev/shm/flatipc.<name>`, and opening one for inspection with
//! errors that say what to do.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use flatipc::{Inspector, OpenError, Segment};

use crate::error::{CliError, SegmentProblem};

/// Where segments live.
pub const SHM_DIR: &str = "/dev/shm";
/// Every segment file name starts with this.
const PREFIX: &str = "flatipc.";

/// One file named like a segment.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The segment name (the file name after `flatipc.`).
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// The file's owner, if it could be read.
    pub uid: Option<u32>,
}

/// Every `flatipc.*` file in `/dev/shm`, sorted by name. Files whose names are not UTF-8 are
/// listed with their lossy names (opening them then fails with a clear reason).
///
/// # Errors
///
/// [`CliError::List`] if the directory cannot be read.
pub fn list() -> Result<Vec<Entry>, CliError> {
    let dir = fs::read_dir(SHM_DIR).map_err(|source| CliError::List { source })?;
    let mut entries = Vec::new();
    for item in dir {
        let item = item.map_err(|source| CliError::List { source })?;
        let file_name = item.file_name();
        let file_name = file_name.to_string_lossy();
        let Some(name) = file_name.strip_prefix(PREFIX) else { continue };
        let path = item.path();
        let uid = fs::symlink_metadata(&path).ok().map(|m| m.uid());
        entries.push(Entry { name: name.to_owned(), path, uid });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// The names of the segments that exist, for "did you mean" hints (empty if `/dev/shm` cannot be
/// read).
pub fn existing_names() -> Vec<String> {
    list().map(|l| l.into_iter().map(|e| e.name).collect()).unwrap_or_default()
}

/// Opens segment `name` for inspection.
///
/// # Errors
///
/// [`CliError::Missing`] (with the existing names) or [`CliError::Segment`] saying what is
/// wrong with the file.
pub fn open(name: &str) -> Result<Inspector, CliError> {
    Inspector::open(name).map_err(|e| open_error(name, e))
}

/// The CLI error for an error of opening segment `name`.
pub fn open_error(name: &str, error: OpenError) -> CliError {
    let path = Segment::path(name);
    match error {
        OpenError::NotFound { .. } => {
            CliError::Missing { name: name.to_owned(), path, existing: existing_names() }
        }
        other => CliError::Segment { path, problem: SegmentProblem::of(other) },
    }
}
