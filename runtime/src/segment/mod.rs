//! Shared-memory segments: the files `/dev/shm/flatipc.<name>` that carry one ring each, their
//! 4096-byte header (`docs/PROTOCOL.md`, section 2) and the liveness locks of their peers.
//!
//! Guarantees:
//!
//! - **A hostile or corrupt file never causes an out-of-bounds access.** [`Segment::open`]
//!   validates every header field that sizes or indexes memory before returning a [`Segment`].
//! - **No references into shared memory.** Another process may write any byte at any time, so this
//!   module reads and writes the header only through atomics, and hands the ring layer raw
//!   pointers (`Segment::data_ptr`); the ring layer owns every access to the data area.
//! - **Liveness that survives `kill -9` and PID reuse.** A peer proves it is alive by holding an
//!   open-file-description lock on its byte of the peer table; the kernel drops it when the
//!   process dies.
//! - **A live segment is never removed.** [`Segment::open_or_create`] removes a segment only when
//!   it fails to open and no process holds any of its locks; [`Segment::remove_if_unused`]
//!   (`flatipc clean`) only when no process holds any of its locks.
//! - **Inspection is read-only.** [`Inspector`] (`flatipc ls`, `stat`, `tail`) validates the
//!   header as [`Segment::open`] does, then only loads: no store, no lock, no reader entry.
//!
//! flatipc supports Linux only (shared futexes, `F_OFD_SETLK`, `/dev/shm`).

use std::alloc::{self, Layout};
use std::fmt;
use std::fs::{self, File};
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use memmap2::MmapRaw;

use crate::error::OpenError;

#[cfg(not(target_endian = "little"))]
compile_error!("flatipc segments are little-endian; big-endian hosts are not supported");
#[cfg(not(target_pointer_width = "64"))]
compile_error!("flatipc segments record pointer_width = 8; only 64-bit hosts are supported");

mod create;
mod header;
pub mod inspect;
pub(crate) mod layout;
mod memory;
mod open;
mod peer;
mod readers;
pub(crate) mod spec;
#[cfg(test)]
mod test_support;

pub(crate) use header::check_message;
pub use inspect::{Inspection, Inspector};
pub use spec::{Expect, MessageEntry, RingKind, SegmentSpec};

use layout::*;
use memory::Memory;

/// Checks a segment name against `[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}`.
fn validate_name(name: &str) -> Result<(), OpenError> {
    let invalid = |reason: String| Err(OpenError::InvalidName { name: name.to_owned(), reason });
    if name.is_empty() {
        return invalid("it is empty".to_owned());
    }
    if name.len() > 100 {
        return invalid(format!("it is {} bytes long", name.len()));
    }
    if name.starts_with('.') {
        return invalid("it starts with '.'".to_owned());
    }
    if let Some(c) =
        name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return invalid(format!("it contains {c:?}"));
    }
    Ok(())
}

fn unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// What keeps the memory alive.
enum Backing {
    /// A shared mapping of the segment file. `file` holds this process's OFD locks.
    Shared { _map: MmapRaw, file: File, path: PathBuf },
    /// A zeroed heap allocation of this layout (in-process channels); freed on drop.
    Heap { layout: Layout },
}

/// The header values validated at open (or written at create).
#[derive(Debug, Clone, Copy)]
struct Geometry {
    kind: RingKind,
    capacity: u64,
    slot_size: u32,
    data_size: u64,
    max_readers: u32,
}

impl Geometry {
    /// The geometry a (validated) spec describes.
    fn of(spec: &SegmentSpec) -> Self {
        Self {
            kind: spec.kind,
            capacity: spec.capacity,
            slot_size: spec.slot_size,
            data_size: spec.data_size(),
            max_readers: spec.max_readers,
        }
    }
}

/// A mapped segment: a 4096-byte header followed by a ring's data area, in a file shared with
/// other processes (or on the heap for in-process rings).
///
/// The header values returned by [`Segment::capacity`], [`Segment::slot_size`] and
/// [`Segment::kind`] were validated when the segment was created or opened and are cached here:
/// a peer that later scribbles over the header cannot change them.
///
/// Dropping a `Segment` unmaps it and releases the liveness locks it holds.
///
/// Limit: a process of the same user that truncates the file makes later accesses to the
/// mapping fault (`SIGBUS`); mode 0600 confines that to the owner, and flatipc cannot prevent it.
pub struct Segment {
    /// Declared before `backing` so it is never used after the memory is released.
    mem: Memory,
    backing: Backing,
    name: String,
    geometry: Geometry,
    /// Peer roles this handle holds (`lock_peer` succeeded and `unlock_peer` was not called).
    /// Process-local; every store is a Release (`lock_peer`, `unlock_peer`) paired with the
    /// Acquire of the `swap`s there and of the load in `peer_alive` (SYNC POINT H).
    held: [AtomicBool; MAX_PEERS],
    /// Broadcast reader entries this handle holds, bit `i` for entry `i` (`max_readers ≤ 64`),
    /// set by `lock_reader` and cleared by `unlock_reader` with the same orderings as `held`.
    readers_held: AtomicU64,
}

// SAFETY:
// - The only `!Send` field is `mem`, whose raw pointer refers to memory that `Segment` owns
//   (through `backing`); moving the owner to another thread moves nothing the pointer depends on.
// - Nothing is tied to the creating thread: the heap block may be freed and the mapping unmapped
//   on any thread, and the OFD locks belong to the open file description in `backing`, not to a
//   thread.
unsafe impl Send for Segment {}
// SAFETY:
// - Header: through `&Segment` it is only accessed with atomics (`Memory`).
// - Data area: only through the raw pointer from `data_ptr`, whose users (the ring layer)
//   synchronise with the protocol's atomics.
// - `held` is atomic; `name`, `geometry` and `backing` are never mutated after construction,
//   and the `File` in `backing` is only used through `&File` for `fcntl`, a thread-safe system
//   call.
unsafe impl Sync for Segment {}

impl fmt::Debug for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Segment")
            .field("name", &self.name)
            .field("shared", &matches!(self.backing, Backing::Shared { .. }))
            .field("kind", &self.geometry.kind)
            .field("capacity", &self.geometry.capacity)
            .field("slot_size", &self.geometry.slot_size)
            .finish_non_exhaustive()
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        for role in 0..MAX_PEERS {
            self.unlock_peer(role);
        }
        for index in 0..self.geometry.max_readers {
            self.unlock_reader(index);
        }
        if let Backing::Heap { layout } = self.backing {
            // SAFETY:
            // - Currently allocated by the global allocator: `mem.base` was returned by
            //   `alloc::alloc_zeroed` in `Segment::heap` (the only place that builds a
            //   `Backing::Heap`), is never changed, and is freed only here, once.
            // - Same layout: `Backing::Heap` stores the very `layout` passed to `alloc_zeroed`.
            // - Not used afterwards: no reference into it outlives `self` (accessors borrow
            //   `self`), and the fields' destructors do not touch it.
            unsafe { alloc::dealloc(self.mem.base.as_ptr(), layout) };
        }
        // A shared mapping is unmapped and its file closed (dropping its OFD locks) by the
        // fields' own destructors.
    }
}

impl Segment {
    /// The file of segment `name`: `/dev/shm/flatipc.<name>` (the name is not validated here).
    pub fn path(name: &str) -> PathBuf {
        PathBuf::from(format!("/dev/shm/flatipc.{name}"))
    }

    /// Removes the file of segment `name`. Processes that have it mapped keep their mapping.
    ///
    /// Only remove a segment that no process uses; [`Segment::open_or_create`] does it safely
    /// for stale segments.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an invalid name; otherwise the error of `unlink`.
    pub fn remove(name: &str) -> io::Result<()> {
        validate_name(name).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        fs::remove_file(Self::path(name))
    }

    /// The segment name (`"heap"` for heap segments).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The ring kind (validated).
    pub fn kind(&self) -> RingKind {
        self.geometry.kind
    }

    /// Slots (typed channel) or bytes (stream) of the ring: a power of two ≥ 2 (validated).
    pub fn capacity(&self) -> u64 {
        self.geometry.capacity
    }

    /// Bytes per slot (a multiple of 64 for typed channels, 0 for streams; validated).
    #[inline]
    pub fn slot_size(&self) -> u32 {
        self.geometry.slot_size
    }

    /// The message table (as read now; names are for messages only).
    pub fn messages(&self) -> Vec<MessageEntry> {
        let count = self.mem.load_u32(OFF_MESSAGE_COUNT) as usize;
        (0..count.min(MAX_MESSAGES)).map(|i| self.mem.read_message(i)).collect()
    }

    /// Merges a writer's newer steps into the message table entries of the same ids
    /// (`docs/EVOLUTION.md` §5). Call it holding the writer lock, after the open checked that
    /// the steps both sides know agree, and before publishing anything.
    ///
    /// # Errors
    ///
    /// [`OpenError::CannotUpgrade`] if an entry would record more than 4 steps or the newer
    /// message does not fit in a frame; nothing of that entry is written then.
    pub(crate) fn merge_steps(&self, mine: &[MessageEntry]) -> Result<(), OpenError> {
        if mine.is_empty() {
            return Ok(());
        }
        // The open checked the table before this writer took the lock; a writer that held the
        // lock in between may have merged steps since, so compare again, under the lock.
        let table = self.messages();
        for want in mine {
            check_message(&table, want, &Self::path(&self.name), self.kind())?;
        }
        let count = self.mem.load_u32(OFF_MESSAGE_COUNT) as usize;
        for index in 0..count.min(MAX_MESSAGES) {
            let id = self.mem.read_message(index).id;
            let Some(want) = mine.iter().find(|m| m.id == id) else { continue };
            self.mem.merge_steps(index, want, |size| self.fits(size)).map_err(|reason| {
                OpenError::CannotUpgrade {
                    path: Self::path(&self.name),
                    message: want.name.clone(),
                    version: want.newest_version(),
                    reason,
                }
            })?;
        }
        Ok(())
    }

    /// Whether a message of `size` bytes fits this ring: in a frame of a framed stream, in a slot
    /// of the other kinds; `Err` says why not and what to do.
    pub(crate) fn fits(&self, size: u32) -> Result<(), String> {
        let (kind, capacity, slot_size) = (self.kind(), self.capacity(), self.slot_size());
        if kind == RingKind::FramedStream {
            return spec::frame_fits(size, capacity).map_err(|_| {
                format!(
                    "its {size} bytes do not fit in a frame of this stream of {capacity} bytes; \
                     create the stream with a capacity of at least {}",
                    spec::stream_capacity_for(u64::from(size))
                )
            });
        }
        let need = spec::slot_size_for(kind, size);
        if need > slot_size {
            return Err(format!(
                "its {size} bytes need slots of {need} bytes, and this ring's are {slot_size} \
                 (it was created for an older, smaller version); remove the segment while no peer \
                 is attached and let the newer peer create it"
            ));
        }
        Ok(())
    }

    /// The header word at `offset` as an atomic (for the ring layer's positions and wake words,
    /// `layout::OFF_*`).
    ///
    /// # Panics
    ///
    /// If `offset` is not 4-byte aligned or `offset + 4` exceeds the segment.
    #[inline]
    pub(crate) fn atomic_u32(&self, offset: usize) -> &AtomicU32 {
        self.mem.atomic_u32(offset)
    }

    /// The 64-bit word at `offset` as an atomic.
    ///
    /// # Panics
    ///
    /// If `offset` is not 8-byte aligned or `offset + 8` exceeds the segment.
    #[inline]
    pub(crate) fn atomic_u64(&self, offset: usize) -> &AtomicU64 {
        self.mem.atomic_u64(offset)
    }

    /// The start of the data area (`data_offset` = 4096 bytes into the segment, so 4096-byte
    /// aligned). Valid for reads and writes of [`Segment::data_len`] bytes while `self` lives;
    /// other processes access the same bytes, so the ring layer must never create references to
    /// them and must synchronise through the protocol's atomics.
    pub(crate) fn data_ptr(&self) -> *mut u8 {
        self.mem.ptr_at(DATA_OFFSET, 1)
    }

    /// Bytes of the data area the ring uses: `capacity × slot_size` (typed) or `capacity`
    /// (stream); validated to lie within the segment.
    pub(crate) fn data_len(&self) -> usize {
        // Validated ≤ segment size, which fits in `usize`.
        usize::try_from(self.geometry.data_size).unwrap_or(0)
    }

    /// Marks the segment ready once the creator has initialised the ring.
    ///
    /// SYNC POINT S: this Release store of `state = READY` pairs with the Acquire load of
    /// `state` in [`Segment::open`]; everything the creator wrote before (header, ring
    /// initialisation) is visible to an opener that sees READY.
    pub(crate) fn publish_ready(&self) {
        self.mem.atomic_u32(OFF_STATE).store(STATE_READY, Ordering::Release);
    }
}
