//! What both framed readers (the SPSC stream, §4, and the broadcast stream, §6) do with a
//! frame's `version` and `size` (`docs/EVOLUTION.md` §4-§5): re-check the steps of a writer
//! version met for the first time, and zero-extend a frame of an older, smaller version into a
//! buffer of the reader's own.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::ring::{FrameHeader, RecvError};
use crate::segment::{check_message, MessageEntry, Segment};
use crate::VersionStep;

use super::{MessageInfo, MessageSet};

/// 16 bytes aligned to 16: the unit of [`Versions`]' buffer, so that every message type of a
/// stream (at most 16-byte aligned) can be viewed at its start.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C, align(16))]
struct Block([u8; 16]);

/// A framed reader's version state for the library `S`.
#[derive(Debug)]
pub(crate) struct Versions {
    /// Where a frame of an older, smaller version of a message is zero-extended to the reader's
    /// type; as large as the set's largest message, allocated at attach.
    widened: Box<[Block]>,
    /// Per message of `S::MESSAGES`: the newest writer version whose layout the reader has
    /// checked against its own (at attach, the segment entry's newest version); a frame of a
    /// newer version re-runs the check (`docs/EVOLUTION.md` §5).
    checked: Box<[u16]>,
}

/// The size of the layout at `version` of a type whose history is `steps`: that of the newest
/// step at or before it (a version 0 frame, from a writer that predates versions, is version 1).
fn size_at(steps: &[VersionStep], version: u16) -> Option<u32> {
    steps.iter().take_while(|s| s.version <= version.max(1)).last().map(|s| s.size)
}

/// Whether a frame of `size` bytes written at `version` is an older, smaller version of a type
/// at `current` version, `type_size` bytes, with the history `steps`: the reader zero-extends it
/// (`docs/EVOLUTION.md` §4). A frame smaller than the writer's version allows is not.
pub(crate) fn is_older(
    steps: &[VersionStep],
    current: u16,
    type_size: usize,
    version: u16,
    size: u32,
) -> bool {
    (size as usize) < type_size
        && version < current
        && size_at(steps, version).is_some_and(|at| size >= at)
}

impl Versions {
    /// The state of a reader of `S` attaching to `segment`.
    pub(crate) fn new<S: MessageSet>(segment: &Segment) -> Versions {
        let largest = S::MESSAGES.iter().map(|m| m.size as usize).max().unwrap_or(0);
        let widened = vec![Block([0; 16]); largest.div_ceil(16)].into_boxed_slice();
        let table = segment.messages();
        let checked = S::MESSAGES
            .iter()
            .map(|info| {
                let m = MessageEntry::from(info);
                table.iter().find(|t| t.id == m.id).map_or(0, |t| {
                    t.steps_for(&m).last().map_or(1, |s| s.0).min(m.newest_version())
                })
            })
            .collect();
        Versions { widened, checked }
    }

    /// Re-runs the attach-time comparison of steps (`docs/EVOLUTION.md` §5) when a frame of one
    /// of the set's messages carries a writer version newer than any checked so far: the writer
    /// that wrote it attached after this reader and merged its steps into the segment's entry
    /// before publishing the frame (ordered by the ring's publication, SYNC POINT A).
    pub(crate) fn check<S: MessageSet>(
        &mut self,
        segment: &Segment,
        header: FrameHeader,
        position: u64,
    ) -> Result<(), RecvError> {
        let version = header.version.max(1);
        let Some(index) = S::MESSAGES.iter().position(|m| m.id == header.id) else { return Ok(()) };
        if version <= self.checked[index] {
            return Ok(());
        }
        let want = MessageEntry::from(&S::MESSAGES[index]);
        let path = Segment::path(segment.name());
        match check_message(&segment.messages(), &want, &path, segment.kind()) {
            Ok(()) => {
                self.checked[index] = version;
                Ok(())
            }
            Err(_) => Err(RecvError::VersionMismatch { position, id: header.id, version }),
        }
    }

    /// If the frame is an older, smaller version of one of the set's messages, copies its
    /// message bytes (`message()`, `header.size` long) into the zeroed buffer and returns the
    /// size of the reader's type; otherwise 0 (the frame is read as it is).
    #[inline]
    pub(crate) fn widen<'m, S: MessageSet>(
        &mut self,
        header: FrameHeader,
        message: impl FnOnce() -> &'m [u8],
    ) -> usize {
        let Some(info) = S::MESSAGES.iter().find(|m| m.id == header.id) else { return 0 };
        if !older(info, header) {
            return 0;
        }
        let message = message();
        if message.len() != header.size as usize {
            return 0;
        }
        let (size, to) = (message.len(), info.size as usize);
        let buffer = self.widened.as_mut_bytes();
        buffer[..size].copy_from_slice(message);
        buffer[size..to].fill(0);
        to
    }

    /// The first `len` bytes of the buffer (`len` from [`Versions::widen`]).
    pub(crate) fn widened(&self, len: usize) -> &[u8] {
        &self.widened.as_bytes()[..len]
    }
}

fn older(info: &MessageInfo, header: FrameHeader) -> bool {
    is_older(info.steps, info.version, info.size as usize, header.version, header.size)
}
