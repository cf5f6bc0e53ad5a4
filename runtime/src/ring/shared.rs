//! [`Shared`]: the parts of a segment both ends of a ring use, with bounds-checked access to
//! frame headers and message bytes.

use std::ptr::NonNull;
use std::sync::Arc;

use super::core::{
    Corrupt, Positions, FH_ID, FH_RESERVED, FH_SIZE, FH_VERSION_FLAGS, FRAME_HEADER_BYTES,
};
use crate::error::OpenError;
use crate::segment::{layout, Segment};
use crate::sync::{AtomicU32, AtomicU64, Ordering};
use crate::wait::{Parking, WaitStrategy};

/// Peer index of the writer and of the reader.
pub(crate) const WRITER: usize = layout::PEER_WRITER;
pub(crate) const READER: usize = layout::PEER_READER;

/// A stream frame header (`docs/PROTOCOL.md` §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameHeader {
    /// Message bytes the writer wrote.
    pub size: u32,
    /// Message id (or the padding id).
    pub id: u32,
    /// The writer's schema version (0 until versioned attach lands).
    pub version: u16,
    /// Reserved, 0.
    pub flags: u16,
}

impl FrameHeader {
    /// The 16 header bytes as `write_header` stores them (native byte order; bytes 12..16 0).
    pub(crate) fn to_bytes(self) -> [u8; 16] {
        let mut bytes = [0; 16];
        bytes[0..4].copy_from_slice(&self.size.to_ne_bytes());
        bytes[4..8].copy_from_slice(&self.id.to_ne_bytes());
        let version_flags = u32::from(self.version) | (u32::from(self.flags) << 16);
        bytes[8..12].copy_from_slice(&version_flags.to_ne_bytes());
        bytes
    }

    /// The header stored in `bytes` (the inverse of [`FrameHeader::to_bytes`]).
    pub(crate) fn from_bytes(bytes: [u8; 16]) -> Self {
        let word = |at: usize| {
            u32::from_ne_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let version_flags = word(8);
        FrameHeader {
            size: word(0),
            id: word(4),
            version: (version_flags & 0xFFFF) as u16,
            flags: (version_flags >> 16) as u16,
        }
    }
}

/// A reader's empty-poll count once it has seen the writer crash: the next `writer_left` call
/// (which wraps it to 0) checks the writer's lock again.
pub(crate) const WRITER_SEEN_GONE: u32 = u32::MAX;

/// The mapped segment and its geometry, cached at attach.
#[derive(Debug)]
pub(crate) struct Shared {
    pub segment: Arc<Segment>,
    /// Slots (typed) or bytes (stream).
    pub capacity: u64,
    /// Bytes per slot (typed), 0 for a stream.
    pub slot_size: usize,
    /// `segment.data_ptr()` and `segment.data_len()`, cached.
    data: NonNull<u8>,
    data_len: usize,
    /// The control words, resolved (and bounds-checked) once at attach so that the hot path does
    /// no lookups: `write_pos`, `read_pos`, then the reader's and the writer's parking words.
    write_pos: NonNull<AtomicU64>,
    read_pos: NonNull<AtomicU64>,
    /// The typed channel's writer epoch count (`docs/PROTOCOL.md` §3 "Writer epochs").
    epochs: NonNull<AtomicU64>,
    reader: [NonNull<AtomicU32>; 3],
    writer: [NonNull<AtomicU32>; 3],
}

// SAFETY: `data` points into the segment's mapping, which `segment` (an `Arc`, `Send + Sync`)
// keeps alive; all shared access to that memory goes through atomics or through the ring
// protocol, which is what makes the segment itself `Send + Sync`.
unsafe impl Send for Shared {}
// SAFETY: as for `Send`: `&Shared` only hands out atomics and raw pointers.
unsafe impl Sync for Shared {}

impl Shared {
    pub(crate) fn new(segment: Arc<Segment>) -> Self {
        let capacity = segment.capacity();
        let slot_size = segment.slot_size() as usize;
        let data = NonNull::new(segment.data_ptr()).expect("mapped memory is never at address 0");
        let data_len = segment.data_len();
        let word = |offset| NonNull::from(segment.atomic_u32(offset));
        let reader = [
            word(layout::peer_entry(READER) + layout::PEER_MAY_PARK),
            word(layout::OFF_READER_PARKED),
            word(layout::OFF_READER_FUTEX),
        ];
        let writer = [
            word(layout::peer_entry(WRITER) + layout::PEER_MAY_PARK),
            word(layout::OFF_WRITER_PARKED),
            word(layout::OFF_WRITER_FUTEX),
        ];
        let write_pos = NonNull::from(segment.atomic_u64(layout::OFF_WRITE_POS));
        let read_pos = NonNull::from(segment.atomic_u64(layout::OFF_READ_POS));
        let epochs = NonNull::from(segment.atomic_u64(layout::OFF_EPOCHS));
        Self {
            segment,
            capacity,
            slot_size,
            data,
            data_len,
            write_pos,
            read_pos,
            epochs,
            reader,
            writer,
        }
    }

    /// One of the control words resolved in `new`.
    #[inline]
    fn control<A>(&self, word: NonNull<A>) -> &A {
        // SAFETY: `word` came from `Segment::atomic_u32` / `atomic_u64` on `self.segment`, which
        // checked bounds and alignment; the mapping it points into stays in place while
        // `self.segment` (an `Arc` this struct owns) lives, and the returned borrow of `self`
        // cannot outlive it. Atomics may be shared between threads and processes.
        unsafe { word.as_ref() }
    }

    /// The typed channel's writer epoch count (header word `epochs`).
    #[inline]
    pub(crate) fn epochs(&self) -> &AtomicU64 {
        self.control(self.epochs)
    }

    #[inline]
    pub(crate) fn positions(&self) -> Positions<'_> {
        Positions { write_pos: self.control(self.write_pos), read_pos: self.control(self.read_pos) }
    }

    #[inline]
    fn parking(&self, words: &[NonNull<AtomicU32>; 3]) -> Parking<'_> {
        Parking {
            may_park: self.control(words[0]),
            parked: self.control(words[1]),
            futex: self.control(words[2]),
        }
    }

    #[inline]
    pub(crate) fn reader_parking(&self) -> Parking<'_> {
        self.parking(&self.reader)
    }

    #[inline]
    pub(crate) fn writer_parking(&self) -> Parking<'_> {
        self.parking(&self.writer)
    }

    /// Records in `role`'s peer entry whether its strategy may park (read by the other side).
    pub(crate) fn announce(&self, role: usize, wait: WaitStrategy) {
        let may_park = u32::from(matches!(wait, WaitStrategy::SpinThenPark { .. }));
        // Relaxed: the flag is advisory and orders nothing. A publisher that reads a stale 0
        // skips one wake; the sleeper re-checks at the end of every sleep slice (100 ms), so the
        // worst case is one delayed wake-up right after attach (docs/PROTOCOL.md §3).
        self.segment
            .atomic_u32(layout::peer_entry(role) + layout::PEER_MAY_PARK)
            .store(may_park, Ordering::Relaxed);
    }

    /// Whether a writer attached at some point and is no longer alive. A reader that starts
    /// before any writer waits for one rather than reporting a disconnect.
    pub(crate) fn writer_gone(&self) -> bool {
        self.segment.peer_pid(WRITER) != 0 && !self.segment.peer_alive(WRITER)
    }

    /// Whether the writer has certainly left, checked cheaply: its `attached` flag is clear
    /// (a clean detach), or, every 4096th call (`polls` counts them), its liveness lock is free
    /// (a crash). False while no writer has ever attached. Once a crash is seen, `polls` is set
    /// to [`WRITER_SEEN_GONE`], so that the next call checks the lock again instead of
    /// reporting the ring merely empty for another 4095 calls (a reader that was told
    /// *disconnected* keeps being told so until a writer attaches again).
    pub(crate) fn writer_left(&self, polls: &mut u32) -> bool {
        let segment = &self.segment;
        if segment.peer_pid(WRITER) == 0 {
            return false;
        }
        let attached = segment
            .atomic_u32(layout::peer_entry(WRITER) + layout::PEER_ATTACHED)
            .load(Ordering::Acquire)
            != 0;
        if attached {
            *polls = polls.wrapping_add(1);
            if *polls % 4096 != 0 || segment.peer_alive(WRITER) {
                return false;
            }
            *polls = WRITER_SEEN_GONE;
        }
        true
    }

    /// Typed channel: slot `index` as a `T`.
    #[inline]
    pub(crate) fn slot<T>(&self, index: u64) -> NonNull<T> {
        // The segment was validated on open: `capacity * slot_size <= data_len`, every slot is
        // 64-byte aligned (data starts at 4096 and `slot_size` is a multiple of 64), and
        // `size_of::<T>() <= slot_size` (the header's message entry matched `T`). `index` comes
        // from the core, which always reduces positions modulo `capacity`; the asserts keep this
        // true in release builds whatever the caller passes.
        assert!(index < self.capacity && size_of::<T>() <= self.slot_size);
        let offset = usize::try_from(index).expect("index < capacity, which fits the mapping")
            * self.slot_size;
        assert!(offset + self.slot_size <= self.data_len);
        // SAFETY: `offset` is within the data area (asserted above), so the resulting pointer is
        // in bounds of the same mapping as `data`, and non-null because the mapping is.
        unsafe { self.data.add(offset) }.cast::<T>()
    }

    /// Stream: the frame at ring byte `offset` (below `capacity`), checked to be in bounds.
    #[inline]
    pub(crate) fn frame_offset(&self, offset: u64) -> usize {
        // `offset < capacity` (the core reduces positions modulo capacity), so it is within the
        // data area that `Segment::open` validated; the assert keeps that true in release builds
        // whatever the caller passes.
        let offset = usize::try_from(offset).unwrap_or(usize::MAX);
        assert!(
            offset % 16 == 0
                && offset.checked_add(FRAME_HEADER_BYTES).is_some_and(|end| end <= self.data_len),
            "frame at {offset} is outside the data area or misaligned"
        );
        offset
    }

    /// The frame header word at byte `field` of the frame at data offset `frame`, a value
    /// that `frame_offset` returned (so `frame + 16 <= data_len`).
    #[inline]
    fn word(&self, frame: usize, field: usize) -> &AtomicU32 {
        assert!(field + 4 <= FRAME_HEADER_BYTES && field % 4 == 0);
        assert!(frame % 16 == 0 && frame + FRAME_HEADER_BYTES <= self.data_len);
        // SAFETY: `frame + field + 4 <= data_len` (asserted), so the offset stays in bounds of
        // the mapping `data` points into (which lives as long as `self.segment`) and cannot
        // overflow `isize`.
        let ptr = unsafe { self.data.as_ptr().add(frame + field) };
        // SAFETY: `ptr` is valid for 4 bytes (above) for the lifetime of `&self`, and 4-byte
        // aligned (`data` is page-aligned, `frame` a multiple of 16, `field` of 4). The word is
        // shared with another process, hence only ever accessed atomically while it is a header
        // word; when the same bytes carry a message in another lap, the ring protocol orders the
        // two uses (the writer writes them only after the reader released them).
        unsafe { AtomicU32::from_ptr(ptr.cast::<u32>()) }
    }

    /// Writes the header of the frame at data offset `frame` (before publishing it).
    #[inline]
    pub(crate) fn write_header(&self, frame: usize, header: FrameHeader) {
        // Relaxed: published by the Release store of `write_pos` (SYNC POINT A).
        self.word(frame, FH_SIZE).store(header.size, Ordering::Relaxed);
        self.word(frame, FH_ID).store(header.id, Ordering::Relaxed);
        let version_flags = u32::from(header.version) | (u32::from(header.flags) << 16);
        self.word(frame, FH_VERSION_FLAGS).store(version_flags, Ordering::Relaxed);
        self.word(frame, FH_RESERVED).store(0, Ordering::Relaxed);
    }

    /// Reads the header of a committed frame (after the Acquire load of `write_pos`, SYNC POINT
    /// A). Atomic loads, so that even a writer that breaks the protocol cannot make this a data
    /// race.
    #[inline]
    pub(crate) fn read_header(&self, frame: usize) -> FrameHeader {
        let [v0, v1, f0, f1] =
            self.word(frame, FH_VERSION_FLAGS).load(Ordering::Relaxed).to_le_bytes();
        FrameHeader {
            size: self.word(frame, FH_SIZE).load(Ordering::Relaxed),
            id: self.word(frame, FH_ID).load(Ordering::Relaxed),
            version: u16::from_le_bytes([v0, v1]),
            flags: u16::from_le_bytes([f0, f1]),
        }
    }

    /// Starts loading the cache line after the one holding the frame header at data offset
    /// `frame`, if the committed bytes reach it, so that its transfer overlaps that of the
    /// header's line instead of following it.
    #[inline]
    pub(crate) fn touch_line_after(&self, frame: usize, pending: u64) {
        let next = (frame | 63) + 1;
        let reach = frame.saturating_add(usize::try_from(pending).unwrap_or(usize::MAX));
        if next < reach && next < self.data_len {
            // SAFETY: `next < data_len`, so the byte is inside the data area of the mapping
            // `data` points into, and the offset cannot overflow `isize`.
            let ptr = unsafe { self.data.as_ptr().add(next) };
            // SAFETY: valid for one byte for the lifetime of `&self`; `AtomicU8` has alignment
            // 1; the byte is committed (below `write_pos`), and an atomic load of it can race
            // with nothing.
            let byte = unsafe { crate::sync::AtomicU8::from_ptr(ptr) };
            std::hint::black_box(byte.load(Ordering::Relaxed));
        }
    }

    /// A pointer to `len` message bytes of the frame at data offset `frame` (they start
    /// [`FRAME_HEADER`] bytes in, 16-byte aligned).
    ///
    /// # Panics
    ///
    /// If the bytes are not all inside the data area.
    #[inline]
    pub(crate) fn message_ptr(&self, frame: usize, len: usize) -> NonNull<u8> {
        let start = frame + FRAME_HEADER_BYTES;
        assert!(
            start.checked_add(len).is_some_and(|end| end <= self.data_len),
            "message bytes {start}+{len} are outside the data area of {} bytes",
            self.data_len
        );
        // SAFETY: `start + len <= data_len` (asserted above), and `data` is valid for
        // `data_len` bytes (`Segment::data_ptr`), so the result is in bounds of the same mapping
        // and non-null.
        unsafe { self.data.add(start) }
    }

    /// An [`OpenError`] for a ring whose shared state broke the protocol at attach.
    pub(crate) fn corrupt_at_attach(&self, c: Corrupt) -> OpenError {
        let name = self.segment.name().to_string();
        match c {
            Corrupt::Positions { read_pos, write_pos } => {
                OpenError::CorruptRing { name, read_pos, write_pos }
            }
            Corrupt::Frame { position, .. } => {
                let positions = self.positions();
                OpenError::CorruptRing {
                    name,
                    read_pos: positions.read_pos.load(Ordering::Relaxed),
                    write_pos: position,
                }
            }
        }
    }
}
