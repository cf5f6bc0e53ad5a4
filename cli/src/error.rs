//! Errors of the `flatipc` CLI: what went wrong with a segment or a schema, each saying what to
//! do next. Rendered only in `main.rs`.

use std::io;
use std::path::PathBuf;

use flatipc::OpenError;

/// Why the CLI could not do what it was asked (exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// No file for the segment name.
    #[error("no segment `{name}` ({}): {}", path.display(), existing_hint(existing))]
    Missing {
        /// The name asked for.
        name: String,
        /// The file that does not exist.
        path: PathBuf,
        /// The segments that exist, to choose from.
        existing: Vec<String>,
    },

    /// The segment exists but cannot be inspected.
    #[error("{}: {problem}", path.display())]
    Segment {
        /// The segment file.
        path: PathBuf,
        /// What is wrong with it.
        problem: SegmentProblem,
    },

    /// `/dev/shm` cannot be listed.
    #[error("cannot list /dev/shm: {source}; flatipc segments live there (Linux shared memory)")]
    List {
        /// The error of `read_dir`.
        #[source]
        source: io::Error,
    },

    /// The schema given to `tail` cannot be used.
    #[error("{message}")]
    Schema {
        /// What is wrong, rendered (compiler diagnostics, or a JSON IR error), with the fix.
        message: String,
    },

    /// The schema's layout of a message differs from the segment's.
    #[error(
        "the schema's `{schema_name}` (id {id:#x}) differs from the segment's `{segment_name}` at \
         version {version} (layout fingerprint {segment_fp:#018x} in the segment, {schema_fp} in \
         the schema): give --schema the schema the writer was built from"
    )]
    SchemaMismatch {
        /// The message's name in the schema.
        schema_name: String,
        /// The message's name in the segment's table.
        segment_name: String,
        /// The message id.
        id: u32,
        /// The first version at which they differ.
        version: u16,
        /// The segment's fingerprint at that version.
        segment_fp: u64,
        /// The schema's fingerprint at that version (`none` if it records no change there).
        schema_fp: String,
    },

    /// Removing a segment failed.
    #[error("cannot remove {}: {source}", path.display())]
    Remove {
        /// The segment file.
        path: PathBuf,
        /// Why.
        #[source]
        source: OpenError,
    },

    /// Writing to standard output failed (other than a closed pipe, which ends quietly).
    #[error("cannot write the output: {0}")]
    Output(#[source] io::Error),
}

fn existing_hint(existing: &[String]) -> String {
    if existing.is_empty() {
        "there are no flatipc segments in /dev/shm; start the process that creates it".to_owned()
    } else {
        format!(
            "start the process that creates it, or use one of the existing segments: {} (see \
             `flatipc ls`)",
            existing.join(", ")
        )
    }
}

/// What is wrong with a file named like a segment, classified for `ls` and for errors.
#[derive(Debug, thiserror::Error)]
pub enum SegmentProblem {
    /// The file does not exist (any more).
    #[error("it does not exist (any more)")]
    Missing,
    /// The name after `flatipc.` is not a valid segment name.
    #[error("not a segment name: {reason}")]
    InvalidName {
        /// Why.
        reason: String,
    },
    /// The file does not start with the flatipc magic.
    #[error(
        "not a flatipc segment (its magic is {found}, not {expected}): flatipc did not write \
         it; remove it only if you know which program made it"
    )]
    Foreign {
        /// The first 8 bytes, as an escaped string.
        found: String,
        /// The flatipc magic, as an escaped string.
        expected: String,
    },
    /// The file is shorter than a header.
    #[error(
        "truncated: {found} bytes, a segment has at least 4096; remove it if no process uses it"
    )]
    Truncated {
        /// The file size.
        found: String,
    },
    /// A header field holds an impossible value.
    #[error(
        "corrupted: header field `{field}` is {found}, expected {expected}; remove it if no \
         process uses it"
    )]
    Corrupt {
        /// The field, as `docs/PROTOCOL.md` names it.
        field: &'static str,
        /// The value found.
        found: String,
        /// What the protocol allows.
        expected: String,
    },
    /// The ring holds an impossible value past a valid header.
    #[error(
        "the ring is corrupted: {reason}; stop the processes that use it and remove it (`flatipc \
         clean` once they are gone)"
    )]
    CorruptRing {
        /// What was found.
        reason: String,
    },
    /// Its creator has not made it ready.
    #[error(
        "not initialised: its creator is still setting it up or died doing so (`flatipc clean` \
         removes it if no process holds it)"
    )]
    NotReady,
    /// Another protocol version.
    #[error(
        "written by flatipc protocol version {found}, and this tool reads version {supported}: \
         use the flatipc CLI of the release that wrote it"
    )]
    OtherVersion {
        /// The version in the header.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// Not a file flatipc trusts (another user's, a symbolic link, group/other permissions).
    #[error("not inspected: {reason}; flatipc only opens regular files of mode 0600 owned by you")]
    Insecure {
        /// What was found.
        reason: String,
    },
    /// A system call failed.
    #[error("cannot read it: {0}")]
    Io(#[source] OpenError),
}

impl SegmentProblem {
    /// Classifies an error of opening a segment.
    pub fn of(error: OpenError) -> SegmentProblem {
        match error {
            OpenError::NotFound { .. } => SegmentProblem::Missing,
            OpenError::InvalidName { reason, .. } => SegmentProblem::InvalidName { reason },
            OpenError::BadHeader { field: "magic", found, expected, .. } => {
                SegmentProblem::Foreign { found: as_text(&found), expected: as_text(&expected) }
            }
            OpenError::BadHeader { field: "file size", found, .. } => {
                SegmentProblem::Truncated { found }
            }
            OpenError::BadHeader { field, found, expected, .. } => {
                SegmentProblem::Corrupt { field, found, expected }
            }
            OpenError::WrongKind { found, .. } => SegmentProblem::Corrupt {
                field: "kind",
                found: format!("{found:?}, changing while it was read"),
                expected: "a stable value".to_owned(),
            },
            OpenError::CorruptRing { read_pos, write_pos, .. } => SegmentProblem::CorruptRing {
                reason: format!(
                    "read_pos {read_pos} and write_pos {write_pos} break read_pos ≤ write_pos ≤ \
                     read_pos + capacity"
                ),
            },
            OpenError::NotReady { .. } => SegmentProblem::NotReady,
            OpenError::UnsupportedVersion { found, supported, .. } => {
                SegmentProblem::OtherVersion { found, supported }
            }
            OpenError::Insecure { reason, .. } => SegmentProblem::Insecure { reason },
            other => SegmentProblem::Io(other),
        }
    }

    /// A stable word for scripts (`--json`).
    pub fn status(&self) -> &'static str {
        match self {
            SegmentProblem::Missing => "missing",
            SegmentProblem::InvalidName { .. } => "invalid_name",
            SegmentProblem::Foreign { .. } => "foreign",
            SegmentProblem::Truncated { .. } => "truncated",
            SegmentProblem::Corrupt { .. } | SegmentProblem::CorruptRing { .. } => "corrupt",
            SegmentProblem::NotReady => "not_ready",
            SegmentProblem::OtherVersion { .. } => "other_version",
            SegmentProblem::Insecure { .. } => "insecure",
            SegmentProblem::Io(_) => "io",
        }
    }
}

/// The bytes of a byte list as the runtime prints them (`[46, 4c, 41, ...]`, hex) as an escaped
/// string (`"FLA..."`), which says more about a foreign file; the text as it is if it is not
/// such a list.
fn as_text(list: &str) -> String {
    let inner = list.trim_start_matches("the bytes ").trim_start_matches('[').trim_end_matches(']');
    let bytes: Result<Vec<u8>, _> =
        inner.split(", ").map(|b| u8::from_str_radix(b.trim(), 16)).collect();
    match bytes {
        Ok(bytes) if !bytes.is_empty() => format!("\"{}\"", bytes.escape_ascii()),
        _ => list.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_foreign_magic_reads_as_text() {
        assert_eq!(as_text("[46, 4c, 41, 54, 49, 50, 43, 01]"), "\"FLATIPC\\x01\"");
        assert_eq!(as_text("the bytes [23, 21]"), "\"#!\"");
        assert_eq!(as_text("something else"), "something else");
    }
}
