//! Copying committed messages out of a ring without joining it: the reads behind `flatipc
//! tail`.
//!
//! Every slot or frame byte is copied with naturally aligned 8-byte atomic loads (never through
//! a reference), and a copy is returned only if the writer cannot have been writing those bytes
//! while they were copied:
//!
//! - **Broadcast rings** (§5, §6): exactly as a lossy reader validates, with the slot's
//!   sequence word (SYNC POINT L): `2p + 2` before the copy, an Acquire fence, the same word
//!   after it. No reader entry is claimed, so the writer never waits for the inspector.
//! - **Typed channel** (§3): the writer writes only the slot of its current `write_pos`. After
//!   the copy, an Acquire fence and a reload of the positions: the copy of position `p` is whole
//!   if `write_pos < p + capacity` (the writer has not reached `p`'s slot again), or if
//!   `read_pos ≤ p` (the reader has not released `p`, so the writer may not reuse its slot).
//! - **Framed stream** (§4): the same with byte positions. A writer at `write_pos = w` writes at
//!   most a frame of `capacity / 2` bytes, after a padding frame when fewer bytes are left
//!   before the end of the ring, so it writes below `w + capacity / 2` if `w mod capacity ≤
//!   capacity / 2`, else below the next multiple of `capacity` plus `capacity / 2`. The copy of
//!   the frame at `p` is whole if that bound is at most `p + capacity`, or if `read_pos ≤ p`.
//!
//! (The SPSC writers publish slots with plain stores and no fence after `write_pos`, so the
//! writer-position test relies on the hardware keeping stores in order, as x86-64 does: on
//! other architectures only the `read_pos ≤ p` test is used ([`WRITER_BOUND_EXACT`]), and a
//! message the reader has released is reported lost rather than risk a torn copy. The broadcast
//! rings' seqlock is exact on every architecture.)

use std::sync::atomic::{fence, AtomicU64, Ordering};

/// Whether the SPSC copies may trust the writer's position (stores become visible in program
/// order: x86-64), see the module docs.
const WRITER_BOUND_EXACT: bool = cfg!(target_arch = "x86_64");

use crate::ring::broadcast::seq_done;
use crate::ring::core::{check_frame, wrap, FrameKind, FRAME_HEADER, MAX_POSITION};
use crate::segment::layout::OFF_EPOCHS;
use crate::segment::spec::{MessageEntry, RingKind};

use super::{EpochInfo, Inspector};

/// A message [`Inspector::read`] copied out of the ring: its bytes are in the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Copied {
    /// Its position.
    pub position: u64,
    /// The position of the next message (typed kinds and broadcast stream: `position + 1`;
    /// framed stream: the end of this frame).
    pub next: u64,
    /// Its message id (a typed ring's one id; 0 if the type has none).
    pub id: u32,
    /// The writer's schema version of the message: the frame's `version` (0 read as 1), or the
    /// version of a typed ring's writer epoch. `None` when a typed ring no longer records the
    /// epoch (more than 4 writers since).
    pub version: Option<u16>,
    /// Its size in bytes, as the writer wrote it (the bytes copied).
    pub size: u32,
}

/// What [`Inspector::read`] found at a position.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Read {
    /// A whole message, copied into the buffer.
    Message(Copied),
    /// A padding frame of a framed stream: the next frame starts at `next`.
    Padding {
        /// The position after the padding frame (a multiple of the capacity).
        next: u64,
    },
    /// Nothing is committed at this position yet.
    Pending,
    /// The writer has overwritten this position (or may have been writing it during the copy):
    /// its message is gone. Continue at `resume`, the oldest position worth trying now.
    Lost {
        /// Where to continue.
        resume: u64,
    },
    /// The ring holds an impossible value here.
    Corrupt {
        /// What was found.
        reason: String,
        /// Where reading may continue (`None` if nothing is known yet: a framed stream's next
        /// frame cannot be found past an impossible frame header until its reader moves past
        /// it).
        resume: Option<u64>,
    },
}

/// The writer epoch that covers a typed ring's position.
enum Covering {
    /// A recorded epoch.
    Epoch(EpochInfo),
    /// The position precedes every recorded epoch and epoch 0 is still in the table: a writer
    /// that records no epochs wrote it, at the table's version and size.
    BeforeEpochs,
    /// The table no longer records it.
    Lost,
}

impl Inspector {
    /// The oldest position whose message may still be in the ring: for a typed channel the
    /// oldest slot the writer is not about to reuse (or the reader's `read_pos` when the ring
    /// is full), for a broadcast ring the oldest position a lossy reader could still copy, for
    /// a framed stream the reader's `read_pos` (the frames before it cannot be found: frames
    /// have no fixed size, and only positions the ring recorded are known to start one).
    pub fn oldest(&self) -> u64 {
        let capacity = self.capacity();
        let write_pos = self.write_pos();
        match self.kind() {
            RingKind::TypedChannel => {
                let read_pos = self.spsc_read_pos().max(write_pos.saturating_sub(capacity));
                write_pos.saturating_sub(capacity - 1).min(read_pos)
            }
            RingKind::FramedStream => self.spsc_read_pos().min(write_pos),
            RingKind::Broadcast | RingKind::BroadcastStream => {
                write_pos.saturating_sub(capacity - 1)
            }
        }
    }

    /// Copies the committed message at `position` into `buf` (replacing its contents), if it is
    /// still in the ring and the copy is whole. Takes no lock and stores nothing.
    ///
    /// Positions are those of [`Inspector::oldest`], [`Inspector::write_pos`] and
    /// [`Copied::next`]; a framed stream position that does not start a frame reads as
    /// [`Read::Corrupt`] or garbage that fails its checks, never out of bounds.
    pub fn read(&self, position: u64, buf: &mut Vec<u8>) -> Read {
        buf.clear();
        match self.kind() {
            RingKind::TypedChannel => self.read_typed(position, buf),
            RingKind::FramedStream => self.read_stream(position, buf),
            RingKind::Broadcast | RingKind::BroadcastStream => self.read_broadcast(position, buf),
        }
    }

    fn read_typed(&self, position: u64, buf: &mut Vec<u8>) -> Read {
        let capacity = self.capacity();
        let write_pos = self.write_pos();
        if position >= write_pos {
            return Read::Pending;
        }
        if write_pos >= MAX_POSITION {
            return corrupt(format!("write_pos {write_pos} is not below 2^62"), None);
        }
        if write_pos - position > capacity {
            return Read::Lost { resume: self.oldest() };
        }
        let slot_size = self.slot_size();
        let table = self.segment.mem.read_message(0);
        let (version, size) = match self.typed_epoch(position, &table) {
            Ok(found) => found,
            Err(reason) => return corrupt(reason, Some(position + 1)),
        };
        let offset = wrap(position, capacity) * u64::from(slot_size);
        if !self.copy_words(offset, size, buf) {
            return corrupt(format!("slot of position {position} is outside the ring"), None);
        }
        // The copy's loads come before the positions' reloads.
        fence(Ordering::Acquire);
        let (write_pos, read_pos) = (self.write_pos(), self.spsc_read_pos());
        if (WRITER_BOUND_EXACT && write_pos < position + capacity) || read_pos <= position {
            let id = table.id;
            Read::Message(Copied { position, next: position + 1, id, version, size })
        } else {
            Read::Lost { resume: self.oldest().max(position + 1) }
        }
    }

    /// The writer epoch covering `position` (`docs/PROTOCOL.md` §3, as a reader finds it).
    fn covering(&self, position: u64) -> Covering {
        // SYNC POINT E' (Acquire), paired with the writer's Release store of `epochs`.
        let count = self.segment.mem.atomic_u64(OFF_EPOCHS).load(Ordering::Acquire);
        let oldest = count.saturating_sub(4);
        for k in (oldest..count).rev() {
            match self.epoch(k) {
                Some(epoch) if epoch.start <= position => return Covering::Epoch(epoch),
                Some(_) => {}
                None => return Covering::Lost,
            }
        }
        if oldest == 0 {
            Covering::BeforeEpochs
        } else {
            Covering::Lost
        }
    }

    /// The version and size of a typed ring's message at `position` (committed), from the writer
    /// epoch covering it: the table's newest version and size if it precedes every epoch (a
    /// writer that records none wrote it), no version and the table's size if the epoch is no
    /// longer recorded. `Err` says why the epoch is impossible.
    fn typed_epoch(
        &self,
        position: u64,
        table: &MessageEntry,
    ) -> Result<(Option<u16>, u32), String> {
        let slot_size = self.slot_size();
        let (version, size) = match self.covering(position) {
            Covering::Epoch(epoch) => (Some(epoch.version), epoch.size),
            Covering::BeforeEpochs => (Some(table.newest_version()), table.size),
            Covering::Lost => (None, table.size.min(slot_size)),
        };
        if let Some(version @ (0 | 256..)) = version {
            return Err(format!("the writer epoch of position {position} has version {version}"));
        }
        if size > slot_size {
            return Err(format!(
                "the message at position {position} has {size} bytes, more than a slot \
                 ({slot_size})"
            ));
        }
        Ok((version, size))
    }

    fn read_stream(&self, position: u64, buf: &mut Vec<u8>) -> Read {
        let capacity = self.capacity();
        // `read_pos` first: then `read_pos ≤ write_pos` holds for honest peers even while both
        // move (the rest of the invariant may not hold for a pair loaded at two moments).
        let read_pos = self.spsc_read_pos();
        let write_pos = self.write_pos();
        if position >= write_pos {
            return Read::Pending;
        }
        if read_pos > write_pos || write_pos >= MAX_POSITION {
            let reason = format!(
                "positions break read_pos ≤ write_pos < 2^62: read_pos {read_pos}, write_pos \
                 {write_pos}"
            );
            return corrupt(reason, None);
        }
        let after_reader = (read_pos > position).then_some(read_pos);
        if position % 16 != 0 {
            return corrupt(format!("position {position} is not a multiple of 16"), after_reader);
        }
        if let Err(resume) = self.stream_intact(position) {
            return Read::Lost { resume };
        }
        let offset = wrap(position, capacity);
        let (Some(head), Some(version)) = (self.word(offset), self.word(offset + 8)) else {
            return corrupt(format!("frame at {position} is outside the ring"), None);
        };
        let (head, version) = (head.load(Ordering::Relaxed), version.load(Ordering::Relaxed));
        // Truncations on purpose: the header packs `u32 size; u32 id` and `u16 version`.
        #[allow(clippy::cast_possible_truncation)]
        let (size, id, version) = (head as u32, (head >> 32) as u32, version as u16);
        let frame = check_frame(position, offset, capacity, write_pos - position, size, id);
        let (next, copied) = match frame {
            Err(_) => {
                return match self.stream_intact(position) {
                    Ok(()) => corrupt(
                        format!("frame at {position} has an impossible size {size} (id {id:#x})"),
                        after_reader,
                    ),
                    Err(resume) => Read::Lost { resume },
                };
            }
            Ok(FrameKind::Padding { len }) => (position + len, None),
            Ok(FrameKind::Message { len, .. }) => {
                if !self.copy_words(offset + FRAME_HEADER, size, buf) {
                    return corrupt(format!("frame at {position} is outside the ring"), None);
                }
                let version = Some(version.max(1));
                (position + len, Some(Copied { position, next: position + len, id, version, size }))
            }
        };
        if let Err(resume) = self.stream_intact(position) {
            return Read::Lost { resume };
        }
        match copied {
            Some(copied) => Read::Message(copied),
            None => Read::Padding { next },
        }
    }

    /// Whether the frame at stream `position` (committed) cannot have been overwritten so far:
    /// `Err` holds where to continue if it may have been (the reader's `read_pos`, which starts
    /// a frame and is still in the ring).
    fn stream_intact(&self, position: u64) -> Result<(), u64> {
        // Orders the loads before (the copy) before the positions' reloads.
        fence(Ordering::Acquire);
        let (write_pos, read_pos) = (self.write_pos(), self.spsc_read_pos());
        let capacity = self.capacity();
        let half = capacity / 2;
        let offset = wrap(write_pos, capacity);
        // Everything the writer may be writing lies below `bound` (module documentation).
        let bound = if offset <= half {
            write_pos.saturating_add(half)
        } else {
            (write_pos - offset).saturating_add(capacity).saturating_add(half)
        };
        if read_pos <= position
            || (WRITER_BOUND_EXACT && bound <= position.saturating_add(capacity))
        {
            Ok(())
        } else {
            Err(read_pos)
        }
    }

    fn read_broadcast(&self, position: u64, buf: &mut Vec<u8>) -> Read {
        let capacity = self.capacity();
        let write_pos = self.write_pos();
        if position >= write_pos {
            return Read::Pending;
        }
        if write_pos >= MAX_POSITION {
            return corrupt(format!("write_pos {write_pos} is not below 2^62"), None);
        }
        if write_pos - position > capacity - 1 {
            return Read::Lost { resume: write_pos - (capacity - 1) };
        }
        let slot_size = u64::from(self.slot_size());
        let index = wrap(position, capacity);
        let slot = index * slot_size;
        let Some(seq) = self.word(capacity * slot_size + 8 * index) else {
            return corrupt(format!("the sequence word of slot {index} is outside the ring"), None);
        };
        // SYNC POINT L (Acquire): pairs with the writer's Release store of `seq_done`, so the
        // slot's bytes of that position are visible.
        let before = seq.load(Ordering::Acquire);
        let done = seq_done(position);
        if before > done {
            return Read::Lost { resume: self.oldest().max(position + 1) };
        }
        if before < done {
            let reason = format!(
                "the sequence word of slot {index} is {before}, below {done} for committed \
                 position {position}"
            );
            return corrupt(reason, Some(position + 1));
        }
        let (id, version, size, copied) = if self.kind() == RingKind::Broadcast {
            // The writer recorded its epoch before publishing: the Acquire load of `seq` above
            // orders the epoch before the loads below.
            let table = self.segment.mem.read_message(0);
            let (version, size) = match self.typed_epoch(position, &table) {
                Ok(found) => found,
                Err(reason) => return corrupt(reason, Some(position + 1)),
            };
            (table.id, version, size, self.copy_words(slot, size, buf))
        } else {
            let (Some(head), Some(version)) = (self.word(slot), self.word(slot + 8)) else {
                return corrupt(format!("slot {index} is outside the ring"), None);
            };
            let (head, version) = (head.load(Ordering::Relaxed), version.load(Ordering::Relaxed));
            // Truncations on purpose: the frame header packs `u32 size; u32 id; u16 version`.
            #[allow(clippy::cast_possible_truncation)]
            let (size, id, version) = (head as u32, (head >> 32) as u32, version as u16);
            // At most the slot's message bytes; `size` is checked once the copy is known whole.
            let room = u32::try_from(slot_size - FRAME_HEADER).unwrap_or(u32::MAX);
            let copied = self.copy_words(slot + FRAME_HEADER, size.min(room), buf);
            (id, Some(version.max(1)), size, copied)
        };
        // SYNC POINT L (Acquire fence): if the copy saw any byte of a later write, the reload
        // below sees that write's sequence word.
        fence(Ordering::Acquire);
        if seq.load(Ordering::Relaxed) != before {
            return Read::Lost { resume: self.oldest().max(position + 1) };
        }
        if !copied || (self.kind().is_framed() && FRAME_HEADER + u64::from(size) > slot_size) {
            let reason = format!(
                "the message at position {position} has {size} bytes, more than its slot holds"
            );
            return corrupt(reason, Some(position + 1));
        }
        Read::Message(Copied { position, next: position + 1, id, version, size })
    }

    /// The data-area word at byte `offset`, if it is 8-aligned and inside the data area.
    fn word(&self, offset: u64) -> Option<&AtomicU64> {
        let offset = usize::try_from(offset).ok()?;
        if offset % 8 != 0 || offset.checked_add(8)? > self.segment.data_len() {
            return None;
        }
        // SAFETY: in bounds: `offset + 8 ≤ data_len` (checked above), and `data_ptr` points to
        // a data area of `data_len` bytes inside the mapping (`Segment::data_ptr`).
        let ptr = unsafe { self.segment.data_ptr().add(offset) };
        // SAFETY:
        // - Aligned: the data area starts 4096-aligned (`Segment::data_ptr`) and `offset` is a
        //   multiple of 8.
        // - Valid for reads and writes for the returned lifetime: the 8 bytes lie in the
        //   mapping (above), which is readable and writable and stays mapped while `self` (and
        //   so `self.segment`) lives; the lifetime borrows `self`.
        // - Memory model: this handle accesses data-area bytes only here, with 8-byte atomic
        //   loads of 8-aligned words (so never mixed-size); other processes are outside the
        //   Rust abstract machine, and the module documentation says why their concurrent
        //   stores cannot make a returned copy torn.
        Some(unsafe { AtomicU64::from_ptr(ptr.cast::<u64>()) })
    }

    /// Copies `len` bytes from data-area byte `offset` (8-aligned) into `buf` with whole 8-byte
    /// atomic loads (the last one may reach up to 7 bytes past `len`, inside the slot or
    /// frame). `false` if a word lies outside the data area.
    fn copy_words(&self, offset: u64, len: u32, buf: &mut Vec<u8>) -> bool {
        buf.clear();
        let len = len as usize;
        let mut at = offset;
        while buf.len() < len {
            let Some(word) = self.word(at) else { return false };
            buf.extend_from_slice(&word.load(Ordering::Relaxed).to_ne_bytes());
            at += 8;
        }
        buf.truncate(len);
        true
    }
}

fn corrupt(reason: String, resume: Option<u64>) -> Read {
    Read::Corrupt { reason, resume }
}
