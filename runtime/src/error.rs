//! Errors of creating and attaching to shared-memory segments.

use std::io;
use std::path::PathBuf;

/// Why a segment could not be created, opened or attached to.
///
/// Every variant names the file concerned and its message says what to do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The segment name does not match `[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}`.
    #[error(
        "invalid segment name {name:?}: {reason}; use 1 to 100 characters from A-Z, a-z, 0-9, \
         '_', '-' and '.', not starting with '.'"
    )]
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The [`SegmentSpec`](crate::SegmentSpec) given to a constructor is not a valid segment.
    #[error("invalid segment spec: {reason}")]
    InvalidSpec {
        /// What is wrong and what is allowed.
        reason: String,
    },

    /// No segment file exists under that name.
    #[error(
        "no segment at {}: start the process that creates it first, or use \
         Segment::open_or_create",
        path.display()
    )]
    NotFound {
        /// The segment file.
        path: PathBuf,
    },

    /// `create` found a file under that name.
    #[error(
        "segment {} already exists: open it, use Segment::open_or_create, or remove it if no \
         process uses it",
        path.display()
    )]
    AlreadyExists {
        /// The segment file.
        path: PathBuf,
    },

    /// The file system holding the segments is too small for the segment.
    #[error(
        "not enough space for segment {}: it needs {needed} bytes but {available} are free; \
         enlarge /dev/shm (for example `mount -o remount,size=2G /dev/shm`, or \
         `docker run --shm-size=2g`), remove unused segments, or use a smaller capacity",
        path.display()
    )]
    NoSpace {
        /// Bytes the segment needs.
        needed: u64,
        /// Bytes free for this user when creation was tried.
        available: u64,
        /// The segment file.
        path: PathBuf,
    },

    /// The file is not one flatipc would trust: not a regular file, a symbolic link, owned by
    /// another user, or readable or writable by group or others.
    #[error(
        "refusing to attach to {}: {reason}; flatipc only attaches to regular files of mode \
         0600 owned by the current user (remove the file if no process uses it)",
        path.display()
    )]
    Insecure {
        /// The segment file.
        path: PathBuf,
        /// What was found.
        reason: String,
    },

    /// The segment exists but its creator has not finished initialising it (or died doing so).
    #[error(
        "segment {} is not initialised yet: its creator is still setting it up or died doing \
         so; retry shortly, or use Segment::open_or_create, which recreates a stale segment",
        path.display()
    )]
    NotReady {
        /// The segment file.
        path: PathBuf,
    },

    /// A header field holds a value the protocol does not allow: the file is corrupt, foreign
    /// or written by an incompatible build.
    #[error(
        "{} is not a valid flatipc segment: {field} is {found}, expected {expected}; remove {} \
         if no process uses it",
        path.display(),
        path.display()
    )]
    BadHeader {
        /// The segment file.
        path: PathBuf,
        /// The header field (as named in `docs/PROTOCOL.md`).
        field: &'static str,
        /// The value found.
        found: String,
        /// What the protocol requires.
        expected: String,
    },

    /// The segment was written by a different protocol version.
    #[error(
        "segment {} uses flatipc protocol version {found} but this build speaks version \
         {supported}: build both peers with the same flatipc release, or remove {} if no \
         process uses it",
        path.display(),
        path.display()
    )]
    UnsupportedVersion {
        /// The segment file.
        path: PathBuf,
        /// The version in the header.
        found: u32,
        /// The version this build implements.
        supported: u32,
    },

    /// The segment holds a different kind of ring than the one asked for.
    #[error(
        "segment {} is a {found:?} but a {expected:?} was asked for: use the matching ring type \
         or another segment name",
        path.display()
    )]
    WrongKind {
        /// The segment file.
        path: PathBuf,
        /// The kind in the segment.
        found: crate::RingKind,
        /// The kind asked for.
        expected: crate::RingKind,
    },

    /// The message type in the segment does not match the attaching peer's type.
    #[error(
        "segment {} carries `{segment}` but this peer uses `{expected}` ({what}): build both \
         peers from the same schema version, or use another segment name",
        path.display()
    )]
    TypeMismatch {
        /// The segment file.
        path: PathBuf,
        /// The name of the type recorded in the segment (names joined by ", " when the segment
        /// carries several and none has the expected id).
        segment: String,
        /// The name of the attaching peer's type.
        expected: String,
        /// What differs, for example `fingerprint 0x12 vs 0x34` or `size 64 vs 72` (segment's
        /// value first).
        what: String,
    },

    /// A message both sides know has a different layout at a version both know: the two schemas
    /// diverged (for example one added `u32 c` in version 2, the other `i32 d`),
    /// `docs/EVOLUTION.md` §5.
    #[error(
        "segment {} carries message `{message}` whose layout at version {version} differs from \
         this peer's ({member_hint}): the two schemas diverged at that version; build this peer \
         from the schema the other peer was built from (or a later release of it), and run \
         `flatipc-gen compat OLD NEW` in CI to catch such changes",
        path.display()
    )]
    VersionMismatch {
        /// The segment file (`heap` for an in-process segment).
        path: PathBuf,
        /// The attaching peer's name of the message.
        message: String,
        /// The first version at which the layouts disagree.
        version: u16,
        /// What changed at that version: the runtime knows only each version's fingerprint, so
        /// it names the version's members generically.
        member_hint: String,
    },

    /// A writer with a newer schema cannot record its message's new version in the segment.
    #[error(
        "segment {} cannot take version {version} of message `{message}`: {reason}",
        path.display()
    )]
    CannotUpgrade {
        /// The segment file (`heap` for an in-process segment).
        path: PathBuf,
        /// The writer's name of the message.
        message: String,
        /// The writer's version.
        version: u16,
        /// Why, and what to do.
        reason: String,
    },

    /// Another live process (or another handle in this process) already attached in that role.
    #[error(
        "another {role} (pid {pid}) is attached to {}: a ring has one {role} at a time; stop \
         that process or drop the other handle first",
        path.display()
    )]
    PeerBusy {
        /// The segment file (or `heap` for an in-process segment).
        path: PathBuf,
        /// `"writer"`, `"reader"` or `"reserved peer"`.
        role: &'static str,
        /// The pid recorded in the peer table (0 if the holder has not written it yet).
        pid: u64,
    },

    /// Every reader entry of a broadcast ring is held by a live reader.
    #[error(
        "all {max_readers} reader entries of {} are in use by live readers; detach one, or \
         create the ring with a larger max_readers",
        path.display()
    )]
    ReadersFull {
        /// The segment file (or `heap`).
        path: PathBuf,
        /// The ring's `max_readers`.
        max_readers: u32,
    },

    /// The ring's shared positions are inconsistent (`read_pos ≤ write_pos ≤ read_pos +
    /// capacity` does not hold): a peer is buggy or hostile, or the memory was overwritten.
    #[error(
        "the ring in segment `{name}` is corrupt (read position {read_pos}, write position \
         {write_pos}); stop its processes and remove /dev/shm/flatipc.{name}"
    )]
    CorruptRing {
        /// The segment name.
        name: String,
        /// `read_pos` as read.
        read_pos: u64,
        /// `write_pos` as read.
        write_pos: u64,
    },

    /// A system call failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// The segment file.
        path: PathBuf,
        /// What was being done, for example `open` or `map`.
        op: &'static str,
        /// The error of the system call.
        #[source]
        source: io::Error,
    },
}

impl OpenError {
    /// Whether this error, when no process holds a lock on the segment, marks it as stale (left
    /// by dead peers or by a creator that died), so that open-or-create may remove it.
    ///
    /// Never true for files flatipc must not remove (wrong owner, symbolic links, permissions).
    pub(crate) fn is_stale_candidate(&self) -> bool {
        matches!(
            self,
            OpenError::NotReady { .. }
                | OpenError::CorruptRing { .. }
                | OpenError::BadHeader { .. }
                | OpenError::UnsupportedVersion { .. }
                | OpenError::WrongKind { .. }
                | OpenError::TypeMismatch { .. }
                | OpenError::VersionMismatch { .. }
        )
    }
}
