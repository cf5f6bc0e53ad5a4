//! The errors of sending and receiving, shared by the typed channel and the framed stream.

use super::core::Corrupt;
use crate::ValidationError;

/// Why a message could not be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// No room: the reader has not released enough space (only from `try_*` calls).
    #[error(
        "the ring is full: the reader has not released enough space; retry, or use `send` to wait"
    )]
    Full,
    /// `send_timeout` waited for room for the whole timeout.
    #[error("timed out waiting for the reader to free space (is the reader running?)")]
    Timeout,
    /// The message is larger than the largest frame the stream's capacity allows.
    #[error(
        "a {size}-byte message does not fit in this stream (at most {max} bytes per message); \
         create the stream with a capacity of at least {needed} bytes"
    )]
    TooLarge {
        /// `size_of` the message.
        size: u64,
        /// The largest message the stream carries (`capacity / 2 - 16`).
        max: u64,
        /// The smallest capacity that would carry it.
        needed: u64,
    },
    /// The message does not fit in a slot of this broadcast stream: the ring was created for a
    /// library whose largest message is smaller (an older or different schema).
    #[error(
        "a {size}-byte message does not fit in this broadcast stream's slots (at most {max} bytes \
         per message); the ring was created for smaller messages: recreate it from this library"
    )]
    SlotTooSmall {
        /// `size_of` the message.
        size: u64,
        /// The largest message a slot holds (`slot_size - 16`).
        max: u64,
    },
    /// The shared positions are inconsistent: the reader process is buggy or hostile, or the
    /// segment was overwritten.
    #[error("the ring's shared positions are corrupt (read {read_pos}, write {write_pos}); recreate the segment")]
    Corrupt {
        /// `read_pos` as read.
        read_pos: u64,
        /// `write_pos` as read.
        write_pos: u64,
    },
}

/// Why no message was received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecvError {
    /// Nothing committed yet (only from `try_recv`); the writer is still attached.
    #[error("the ring is empty")]
    Empty,
    /// The writer is gone and every message it committed has been received.
    #[error("the writer has disconnected and every committed message has been received")]
    Disconnected,
    /// `recv_timeout` saw no message for the whole timeout.
    #[error("timed out waiting for a message")]
    Timeout,
    /// The shared positions are inconsistent (buggy or hostile peer, or overwritten memory).
    #[error("the ring's shared positions are corrupt (read {read_pos}, write {write_pos}); recreate the segment")]
    Corrupt {
        /// `read_pos` as read.
        read_pos: u64,
        /// `write_pos` as read.
        write_pos: u64,
    },
    /// The frame header at `position` holds an impossible value: the writer is buggy or hostile,
    /// or the segment was overwritten. The reader cannot know where the next frame starts, so
    /// it stops here; recreate the segment.
    #[error(
        "the frame at position {position} is corrupt ({field} = {value:#x}); the writer broke \
         the protocol or the segment was overwritten; recreate the segment"
    )]
    CorruptFrame {
        /// The frame's position.
        position: u64,
        /// The header field: `commit`, `size` or `id`.
        field: &'static str,
        /// Its value.
        value: u64,
    },
    /// The message at `position` broke its type's data rules; it was skipped (released).
    #[error("message {position} is invalid and was skipped: {error}")]
    Invalid {
        /// Its position in the ring.
        position: u64,
        /// What was wrong.
        error: ValidationError,
    },
    /// The frame at `position` carries a message at a writer version this reader had not met,
    /// and the writer's layout of it disagrees with the reader's at a version both know: a
    /// writer built from a diverged schema attached after the reader (`docs/EVOLUTION.md` §5).
    /// The frame was skipped (released), not handed out.
    #[error(
        "message {position} (id {id:#x}) was written at version {version} by a writer whose \
         schema diverged from this reader's at a version both know; it was skipped. Build the \
         writer from the schema this reader was built from (or a later release of it), and run \
         `flatipc-gen compat OLD NEW` in CI to catch such changes"
    )]
    VersionMismatch {
        /// Its position in the ring.
        position: u64,
        /// The message id.
        id: u32,
        /// The writer's version in the frame header.
        version: u16,
    },
    /// The typed channel message at `position` cannot be read: its writer epoch is lost or
    /// impossible (`docs/PROTOCOL.md` §3 "Writer epochs"). It was skipped (released).
    #[error("message {position} was skipped: {problem}")]
    Epoch {
        /// Its position in the ring.
        position: u64,
        /// What was wrong with its epoch.
        problem: EpochProblem,
    },
}

/// Why the writer epoch of a typed channel message (`docs/PROTOCOL.md` §3 "Writer epochs")
/// could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EpochProblem {
    /// The epoch table no longer records the writer of this message: more than 4 writers
    /// attached since it was written.
    #[error(
        "its writer's epoch is no longer recorded (more than 4 writers attached since); keep \
         readers within 4 writer restarts of the writer"
    )]
    Lost,
    /// The epoch's version is impossible (0 or above 255).
    #[error(
        "its writer epoch records version {version}, which is impossible; recreate the segment"
    )]
    Version {
        /// The recorded version.
        version: u16,
    },
    /// The epoch's size is impossible for this ring, or disagrees with the reader's layout at
    /// the epoch's version.
    #[error(
        "its writer epoch records {size} bytes at version {version}, which does not fit the \
         ring's slots or this reader's layout at that version; the writer is buggy or hostile, \
         or the segment was overwritten"
    )]
    Size {
        /// The recorded version.
        version: u16,
        /// The recorded size.
        size: u32,
    },
}

impl From<Corrupt> for SendError {
    fn from(c: Corrupt) -> Self {
        match c {
            Corrupt::Positions { read_pos, write_pos } => {
                SendError::Corrupt { read_pos, write_pos }
            }
            Corrupt::Frame { position, .. } => {
                SendError::Corrupt { read_pos: position, write_pos: position }
            }
        }
    }
}

impl From<Corrupt> for RecvError {
    fn from(c: Corrupt) -> Self {
        match c {
            Corrupt::Positions { read_pos, write_pos } => {
                RecvError::Corrupt { read_pos, write_pos }
            }
            Corrupt::Frame { position, field, value } => {
                RecvError::CorruptFrame { position, field, value }
            }
        }
    }
}
