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
//!   it fails to open and no process holds any of its locks.
//!
//! flatipc supports Linux only (shared futexes, `F_OFD_SETLK`, `/dev/shm`).

use std::alloc::{self, Layout};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use memmap2::{MmapOptions, MmapRaw};

use crate::error::OpenError;
use crate::os;

#[cfg(not(target_endian = "little"))]
compile_error!("flatipc segments are little-endian; big-endian hosts are not supported");
#[cfg(not(target_pointer_width = "64"))]
compile_error!("flatipc segments record pointer_width = 8; only 64-bit hosts are supported");

/// Byte offsets and constants of the segment header, exactly as `docs/PROTOCOL.md` section 2
/// lists them.
// The complete table is kept here; the ring layer uses the entries this module does not.
#[allow(dead_code)]
pub(crate) mod layout {
    /// `magic`: the bytes `F L A T I P C 0x01`.
    pub(crate) const MAGIC: [u8; 8] = *b"FLATIPC\x01";
    /// `protocol_version` this build writes and accepts.
    pub(crate) const PROTOCOL_VERSION: u32 = 1;
    /// `state` of a segment whose creator has finished initialising it.
    pub(crate) const STATE_READY: u32 = 0x5944_4552;
    /// `state` while the creator initialises the segment.
    pub(crate) const STATE_INITIALISING: u32 = 0;
    /// `endian_marker`, written natively (reads as this value on a little-endian host).
    pub(crate) const ENDIAN_MARKER: u32 = 0x0102_0304;
    /// `pointer_width` in bytes.
    pub(crate) const POINTER_WIDTH: u8 = 8;

    pub(crate) const OFF_MAGIC: usize = 0;
    pub(crate) const OFF_VERSION: usize = 8;
    pub(crate) const OFF_STATE: usize = 12;
    pub(crate) const OFF_ENDIAN: usize = 16;
    pub(crate) const OFF_POINTER_WIDTH: usize = 20;
    pub(crate) const OFF_KIND: usize = 21;
    pub(crate) const OFF_SEGMENT_SIZE: usize = 24;
    pub(crate) const OFF_CAPACITY: usize = 32;
    pub(crate) const OFF_SLOT_SIZE: usize = 40;
    pub(crate) const OFF_MESSAGE_COUNT: usize = 44;
    pub(crate) const OFF_DATA_OFFSET: usize = 48;
    pub(crate) const OFF_CREATOR_PID: usize = 56;
    pub(crate) const OFF_CREATOR_UID: usize = 64;
    pub(crate) const OFF_CREATED_NS: usize = 72;

    /// Message table: [`MAX_MESSAGES`] entries of [`MESSAGE_ENTRY_SIZE`] bytes.
    pub(crate) const OFF_MESSAGES: usize = 128;
    pub(crate) const MESSAGE_ENTRY_SIZE: usize = 64;
    pub(crate) const MAX_MESSAGES: usize = 32;
    /// Within a message entry: `u64 fingerprint; u32 id; u32 size; u32 align; u32 reserved;
    /// u8 name[40]`.
    pub(crate) const MSG_FINGERPRINT: usize = 0;
    pub(crate) const MSG_ID: usize = 8;
    pub(crate) const MSG_SIZE: usize = 12;
    pub(crate) const MSG_ALIGN: usize = 16;
    pub(crate) const MSG_NAME: usize = 24;
    /// Bytes of the NUL-padded name field (names are stored truncated to `MSG_NAME_LEN - 1`).
    pub(crate) const MSG_NAME_LEN: usize = 40;

    /// Peer table: [`MAX_PEERS`] entries of [`PEER_ENTRY_SIZE`] bytes; peer `k`'s liveness lock
    /// is on the byte at `OFF_PEERS + PEER_ENTRY_SIZE * k`.
    pub(crate) const OFF_PEERS: usize = 2176;
    pub(crate) const PEER_ENTRY_SIZE: usize = 64;
    pub(crate) const MAX_PEERS: usize = 4;
    /// Peer index of the writer.
    pub(crate) const PEER_WRITER: usize = 0;
    /// Peer index of the reader.
    pub(crate) const PEER_READER: usize = 1;
    /// Within a peer entry: `u64 pid; u64 attach_unix_ns; u32 role; u32 attached;
    /// u32 schema_version; u32 message_size`.
    pub(crate) const PEER_PID: usize = 0;
    pub(crate) const PEER_ATTACH_NS: usize = 8;
    pub(crate) const PEER_ROLE: usize = 16;
    pub(crate) const PEER_ATTACHED: usize = 20;
    pub(crate) const PEER_SCHEMA_VERSION: usize = 24;
    pub(crate) const PEER_MESSAGE_SIZE: usize = 28;

    /// Writer line: `u64 write_pos`.
    pub(crate) const OFF_WRITE_POS: usize = 2560;
    /// Reader line: `u64 read_pos`.
    pub(crate) const OFF_READ_POS: usize = 2688;
    /// Wake line: `u32 reader_parked; u32 reader_futex; u32 writer_parked; u32 writer_futex`.
    pub(crate) const OFF_WAKE: usize = 2816;
    pub(crate) const OFF_READER_PARKED: usize = OFF_WAKE;
    pub(crate) const OFF_READER_FUTEX: usize = OFF_WAKE + 4;
    pub(crate) const OFF_WRITER_PARKED: usize = OFF_WAKE + 8;
    pub(crate) const OFF_WRITER_FUTEX: usize = OFF_WAKE + 12;

    /// `data_offset`: the header size; the data area starts here.
    pub(crate) const DATA_OFFSET: usize = 4096;
    /// Segment sizes are rounded up to this.
    pub(crate) const PAGE: u64 = 4096;
    /// Slot sizes of typed channels are multiples of this (one cache line).
    pub(crate) const SLOT_ALIGN: u32 = 64;

    /// The byte the creator locks (OFD) from before its file becomes visible until it drops its
    /// [`Segment`](super::Segment), so that a segment being initialised is never taken as stale.
    pub(crate) const OFF_CREATOR_LOCK: usize = OFF_STATE;

    /// Offset of peer `role`'s entry (and of its liveness lock byte).
    pub(crate) const fn peer_entry(role: usize) -> usize {
        OFF_PEERS + PEER_ENTRY_SIZE * role
    }

    /// Offset of message table entry `index`.
    pub(crate) const fn message_entry(index: usize) -> usize {
        OFF_MESSAGES + MESSAGE_ENTRY_SIZE * index
    }
}

use layout::*;

/// The kind of ring a segment carries (header field `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RingKind {
    /// A typed SPSC channel: `capacity` slots of `slot_size` bytes, one message type.
    TypedChannel = 1,
    /// A framed SPSC byte stream of `capacity` bytes carrying up to 32 message types.
    FramedStream = 2,
}

impl RingKind {
    /// The kind whose header byte is `byte`, if this build knows it.
    fn from_byte(byte: u8) -> Option<RingKind> {
        match byte {
            1 => Some(RingKind::TypedChannel),
            2 => Some(RingKind::FramedStream),
            _ => None,
        }
    }
}

/// One entry of a segment's message table: the identity of a message type it carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageEntry {
    /// Layout fingerprint of the type ([`crate::FlatType::FINGERPRINT`]).
    pub fingerprint: u64,
    /// Message id ([`crate::FlatMessage::MESSAGE_ID`]).
    pub id: u32,
    /// `size_of` the type in bytes.
    pub size: u32,
    /// `align_of` the type in bytes.
    pub align: u32,
    /// The type's name, for error messages; stored truncated to 39 bytes.
    pub name: String,
}

impl MessageEntry {
    /// The entry describing the message type `T`, or `None` if `T` has no message id (a nested
    /// struct) or is larger than `u32::MAX` bytes.
    pub fn of<T: crate::FlatMessage>() -> Option<MessageEntry> {
        Some(MessageEntry {
            fingerprint: T::FINGERPRINT,
            id: T::MESSAGE_ID?,
            size: u32::try_from(size_of::<T>()).ok()?,
            align: u32::try_from(align_of::<T>()).ok()?,
            name: T::NAME.to_owned(),
        })
    }
}

/// What a creator asks for: the ring kind, its geometry and the message types it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentSpec {
    /// The ring kind.
    pub kind: RingKind,
    /// Slots (typed channel) or bytes (framed stream); a power of two ≥ 2.
    pub capacity: u64,
    /// Bytes per slot for a typed channel: a multiple of 64 at least as large as the message;
    /// 0 for a framed stream.
    pub slot_size: u32,
    /// The message types: exactly one for a typed channel, 1 to 32 for a framed stream.
    pub messages: Vec<MessageEntry>,
}

impl SegmentSpec {
    /// A typed channel of `capacity` slots carrying `message`, with the smallest valid slot size
    /// (the message size rounded up to a multiple of 64, at least 64).
    pub fn typed_channel(capacity: u64, message: MessageEntry) -> SegmentSpec {
        let slot_size = message.size.max(1).div_ceil(SLOT_ALIGN).saturating_mul(SLOT_ALIGN);
        SegmentSpec { kind: RingKind::TypedChannel, capacity, slot_size, messages: vec![message] }
    }

    /// Bytes of the data area: `capacity × slot_size` for a typed channel, `capacity` for a
    /// stream (saturating at `u64::MAX` for specs that [`SegmentSpec::validate`] rejects).
    pub fn data_size(&self) -> u64 {
        data_size(self.kind, self.capacity, self.slot_size).unwrap_or(u64::MAX)
    }

    /// Bytes of the whole segment file: the 4096-byte header plus [`SegmentSpec::data_size`],
    /// rounded up to a multiple of 4096 (saturating at `u64::MAX` for invalid specs).
    pub fn segment_size(&self) -> u64 {
        segment_size(self.data_size()).unwrap_or(u64::MAX)
    }

    /// Checks the rules of `docs/PROTOCOL.md` for the header this spec produces.
    ///
    /// # Errors
    ///
    /// [`OpenError::InvalidSpec`] saying which rule is broken.
    pub fn validate(&self) -> Result<(), OpenError> {
        let invalid = |reason: String| Err(OpenError::InvalidSpec { reason });
        if self.capacity < 2 || !self.capacity.is_power_of_two() {
            return invalid(format!(
                "capacity {} is not a power of two ≥ 2; round it up to the next power of two",
                self.capacity
            ));
        }
        match self.kind {
            RingKind::TypedChannel => {
                if self.slot_size == 0 || self.slot_size % SLOT_ALIGN != 0 {
                    return invalid(format!(
                        "slot_size {} of a typed channel is not a non-zero multiple of 64",
                        self.slot_size
                    ));
                }
                if self.messages.len() != 1 {
                    return invalid(format!(
                        "a typed channel carries exactly one message type, not {}",
                        self.messages.len()
                    ));
                }
            }
            RingKind::FramedStream => {
                if self.slot_size != 0 {
                    return invalid(format!(
                        "slot_size {} of a framed stream must be 0",
                        self.slot_size
                    ));
                }
                if self.messages.is_empty() || self.messages.len() > MAX_MESSAGES {
                    return invalid(format!(
                        "a framed stream carries 1 to {MAX_MESSAGES} message types, not {}",
                        self.messages.len()
                    ));
                }
            }
        }
        for m in &self.messages {
            if self.kind == RingKind::TypedChannel && m.size > self.slot_size {
                return invalid(format!(
                    "message `{}` of {} bytes does not fit in slot_size {}; raise slot_size to {}",
                    m.name,
                    m.size,
                    self.slot_size,
                    m.size.div_ceil(SLOT_ALIGN).saturating_mul(SLOT_ALIGN)
                ));
            }
            if !m.align.is_power_of_two() || m.align > SLOT_ALIGN {
                return invalid(format!(
                    "message `{}` has alignment {}; flatipc needs a power of two ≤ 64",
                    m.name, m.align
                ));
            }
        }
        let size = data_size(self.kind, self.capacity, self.slot_size).and_then(segment_size);
        match size {
            Some(size) if usize::try_from(size).is_ok_and(|s| s <= isize::MAX as usize) => Ok(()),
            _ => invalid(format!(
                "capacity {} × slot_size {} overflows the address space; use a smaller capacity",
                self.capacity, self.slot_size
            )),
        }
    }
}

/// `capacity × slot_size` (typed) or `capacity` (stream), `None` on overflow.
fn data_size(kind: RingKind, capacity: u64, slot_size: u32) -> Option<u64> {
    match kind {
        RingKind::TypedChannel => capacity.checked_mul(u64::from(slot_size)),
        RingKind::FramedStream => Some(capacity),
    }
}

/// Header plus `data_size`, rounded up to a page; `None` on overflow.
fn segment_size(data_size: u64) -> Option<u64> {
    data_size.checked_add(DATA_OFFSET as u64)?.checked_next_multiple_of(PAGE)
}

/// What an opener requires of an existing segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    /// The ring kind the opener speaks.
    pub kind: RingKind,
    /// The opener's message type, compared (fingerprint, size, align) with the segment's entry
    /// of the same id; `None` skips the check (tools that only inspect).
    pub message: Option<MessageEntry>,
}

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

/// A pointer to `len` bytes of memory that other processes may read and write at any time.
///
/// Only atomics and raw pointers are ever derived from it.
struct Memory {
    base: NonNull<u8>,
    len: usize,
}

impl Memory {
    /// A pointer to `size` bytes at `offset`, after checking they are in bounds and aligned to
    /// `size` (which is 1, 4 or 8).
    ///
    /// # Panics
    ///
    /// If `offset..offset + size` is outside the memory or `offset` is not a multiple of `size`.
    fn ptr_at(&self, offset: usize, size: usize) -> *mut u8 {
        assert!(
            offset.checked_add(size).is_some_and(|end| end <= self.len),
            "segment access at {offset}+{size} is outside the {} mapped bytes",
            self.len
        );
        assert!(offset % size == 0, "segment access at {offset} is not aligned to {size}");
        // SAFETY:
        // - `offset + size ≤ len` (checked above), so the result stays within the allocation or
        //   mapping of `len` bytes that `base` points to.
        unsafe { self.base.as_ptr().add(offset) }
    }

    fn atomic_u8(&self, offset: usize) -> &AtomicU8 {
        let ptr = self.ptr_at(offset, 1);
        // SAFETY:
        // - `ptr` is in bounds and trivially aligned (checked by `ptr_at`).
        // - The memory stays allocated or mapped as long as `self` lives, which bounds the
        //   returned lifetime.
        // - Within this process every access to header bytes goes through atomics; other
        //   processes are outside the Rust abstract machine and the protocol requires them to
        //   use atomics too.
        unsafe { AtomicU8::from_ptr(ptr) }
    }

    fn atomic_u32(&self, offset: usize) -> &AtomicU32 {
        let ptr = self.ptr_at(offset, 4).cast::<u32>();
        // SAFETY:
        // - `ptr` is in bounds and 4-byte aligned (`ptr_at` checks `offset % 4 == 0` and `base`
        //   is page-aligned).
        // - The memory stays allocated or mapped as long as `self` lives.
        // - Accesses to these bytes are atomic (see `atomic_u8`).
        unsafe { AtomicU32::from_ptr(ptr) }
    }

    fn atomic_u64(&self, offset: usize) -> &AtomicU64 {
        let ptr = self.ptr_at(offset, 8).cast::<u64>();
        // SAFETY:
        // - `ptr` is in bounds and 8-byte aligned (`ptr_at` checks `offset % 8 == 0` and `base`
        //   is page-aligned).
        // - The memory stays allocated or mapped as long as `self` lives.
        // - Accesses to these bytes are atomic (see `atomic_u8`).
        unsafe { AtomicU64::from_ptr(ptr) }
    }

    fn load_u8(&self, offset: usize) -> u8 {
        self.atomic_u8(offset).load(Ordering::Relaxed)
    }
    fn load_u32(&self, offset: usize) -> u32 {
        self.atomic_u32(offset).load(Ordering::Relaxed)
    }
    fn load_u64(&self, offset: usize) -> u64 {
        self.atomic_u64(offset).load(Ordering::Relaxed)
    }
    fn store_u8(&self, offset: usize, value: u8) {
        self.atomic_u8(offset).store(value, Ordering::Relaxed);
    }
    fn store_u32(&self, offset: usize, value: u32) {
        self.atomic_u32(offset).store(value, Ordering::Relaxed);
    }
    fn store_u64(&self, offset: usize, value: u64) {
        self.atomic_u64(offset).store(value, Ordering::Relaxed);
    }

    /// Writes the header of a new segment with `state = 0`: identity, geometry, creator and
    /// message table. The peer table and ring lines stay zero (the memory is zeroed).
    fn write_header(&self, spec: &SegmentSpec, segment_size: u64) {
        self.store_u64(OFF_MAGIC, u64::from_ne_bytes(MAGIC));
        self.store_u32(OFF_VERSION, PROTOCOL_VERSION);
        self.store_u32(OFF_STATE, STATE_INITIALISING);
        self.store_u32(OFF_ENDIAN, ENDIAN_MARKER);
        self.store_u8(OFF_POINTER_WIDTH, POINTER_WIDTH);
        self.store_u8(OFF_KIND, spec.kind as u8);
        self.store_u64(OFF_SEGMENT_SIZE, segment_size);
        self.store_u64(OFF_CAPACITY, spec.capacity);
        self.store_u32(OFF_SLOT_SIZE, spec.slot_size);
        // `validate` bounds the message count by 32.
        self.store_u32(OFF_MESSAGE_COUNT, u32::try_from(spec.messages.len()).unwrap_or(0));
        self.store_u64(OFF_DATA_OFFSET, DATA_OFFSET as u64);
        self.store_u64(OFF_CREATOR_PID, u64::from(std::process::id()));
        self.store_u32(OFF_CREATOR_UID, os::effective_uid());
        self.store_u64(OFF_CREATED_NS, unix_ns());
        for (index, m) in spec.messages.iter().enumerate() {
            let entry = message_entry(index);
            self.store_u64(entry + MSG_FINGERPRINT, m.fingerprint);
            self.store_u32(entry + MSG_ID, m.id);
            self.store_u32(entry + MSG_SIZE, m.size);
            self.store_u32(entry + MSG_ALIGN, m.align);
            for (i, byte) in truncated_name(&m.name).bytes().enumerate() {
                self.store_u8(entry + MSG_NAME + i, byte);
            }
        }
    }

    /// Reads message table entry `index` (the name up to its first NUL, lossily decoded).
    fn read_message(&self, index: usize) -> MessageEntry {
        let entry = message_entry(index);
        let name: Vec<u8> = (0..MSG_NAME_LEN)
            .map(|i| self.load_u8(entry + MSG_NAME + i))
            .take_while(|b| *b != 0)
            .collect();
        MessageEntry {
            fingerprint: self.load_u64(entry + MSG_FINGERPRINT),
            id: self.load_u32(entry + MSG_ID),
            size: self.load_u32(entry + MSG_SIZE),
            align: self.load_u32(entry + MSG_ALIGN),
            name: String::from_utf8_lossy(&name).into_owned(),
        }
    }
}

/// `name` cut to at most `MSG_NAME_LEN - 1` bytes at a character boundary.
fn truncated_name(name: &str) -> &str {
    let mut end = name.len().min(MSG_NAME_LEN - 1);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

fn unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The role names used in errors.
fn role_name(role: usize) -> &'static str {
    match role {
        PEER_WRITER => "writer",
        PEER_READER => "reader",
        _ => "reserved peer",
    }
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
    held: [AtomicBool; MAX_PEERS],
}

// SAFETY:
// - `Segment` owns its mapping or allocation (the raw pointer in `mem` is what makes it
//   `!Send`); moving the owner to another thread moves nothing the pointer depends on.
unsafe impl Send for Segment {}
// SAFETY:
// - Through `&Segment`, the header is only accessed with atomics, and the data area only through
//   the raw pointer from `data_ptr`, whose users (the ring layer) synchronise with the protocol's
//   atomics. The remaining fields are immutable or atomic.
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
        if let Backing::Heap { layout } = self.backing {
            // SAFETY:
            // - `mem.base` was returned by `alloc_zeroed(layout)` in `Segment::heap` and is
            //   freed only here, once.
            // - No reference into it outlives `self` (accessors borrow `self`).
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

    /// Creates segment `name` for `spec`: reserves its whole size, maps it and writes the header
    /// with `state = 0` (initialising).
    ///
    /// The segment is not visible as ready until the ring layer has initialised the ring and
    /// called `publish_ready`. The file is prepared under a temporary name and linked to its
    /// final name only when complete, so no process ever sees a partly written header; the
    /// creator holds a lock on it for as long as this `Segment` lives, so that it is never taken
    /// for stale.
    ///
    /// # Errors
    ///
    /// [`OpenError::InvalidName`], [`OpenError::InvalidSpec`], [`OpenError::AlreadyExists`],
    /// [`OpenError::NoSpace`] (the segment does not fit in `/dev/shm`) or [`OpenError::Io`].
    pub fn create(name: &str, spec: &SegmentSpec) -> Result<Segment, OpenError> {
        validate_name(name)?;
        spec.validate()?;
        let path = Self::path(name);
        let size = spec.segment_size();
        let tmp_path = temporary_path(name);
        let io_err = |op: &'static str, p: &Path| {
            let p = p.to_path_buf();
            move |source| OpenError::Io { path: p, op, source }
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(&tmp_path)
            .map_err(io_err("create", &tmp_path))?;
        let prepared = Self::prepare(name, spec, file, &path, &tmp_path, size);
        let linked = prepared.and_then(|segment| match fs::hard_link(&tmp_path, &path) {
            Ok(()) => Ok(segment),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                Err(OpenError::AlreadyExists { path: path.clone() })
            }
            Err(e) => Err(io_err("link", &path)(e)),
        });
        // Whatever happened, the temporary name goes; the segment (if any) lives at `path`.
        let _ = fs::remove_file(&tmp_path);
        linked
    }

    /// Locks, sizes, maps and fills the new file at `tmp_path`.
    fn prepare(
        name: &str,
        spec: &SegmentSpec,
        file: File,
        path: &Path,
        tmp_path: &Path,
        size: u64,
    ) -> Result<Segment, OpenError> {
        let io_err = |op: &'static str| {
            let p = tmp_path.to_path_buf();
            move |source| OpenError::Io { path: p, op, source }
        };
        // The umask may have removed bits, never added them; make the mode exactly 0600.
        file.set_permissions(fs::Permissions::from_mode(0o600)).map_err(io_err("chmod"))?;
        if !os::ofd_try_lock(&file, OFF_CREATOR_LOCK as u64).map_err(io_err("lock"))? {
            return Err(io_err("lock")(io::Error::from(io::ErrorKind::WouldBlock)));
        }
        let available = os::available_space(&file).map_err(io_err("fstatvfs"))?;
        let no_space = || OpenError::NoSpace { needed: size, available, path: path.to_path_buf() };
        if size > available {
            return Err(no_space());
        }
        match os::reserve(&file, size) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => return Err(no_space()),
            Err(e) => return Err(io_err("posix_fallocate")(e)),
        }
        // `spec.validate` proved that `size` fits in `isize`.
        let len = usize::try_from(size).map_err(|_| no_space())?;
        let map = MmapOptions::new().len(len).map_raw(&file).map_err(io_err("mmap"))?;
        let base = NonNull::new(map.as_mut_ptr())
            .ok_or_else(|| io_err("mmap")(io::ErrorKind::Other.into()))?;
        let mem = Memory { base, len };
        mem.write_header(spec, size);
        Ok(Segment {
            mem,
            backing: Backing::Shared { _map: map, file, path: path.to_path_buf() },
            name: name.to_owned(),
            geometry: Geometry {
                kind: spec.kind,
                capacity: spec.capacity,
                slot_size: spec.slot_size,
                data_size: spec.data_size(),
            },
            held: Default::default(),
        })
    }

    /// An in-process segment on the heap with the same header as a shared one (`state = 0`
    /// until `publish_ready`). Peer liveness uses the `attached` flag of the peer table instead
    /// of file locks.
    ///
    /// # Panics
    ///
    /// If `spec` is invalid (check it with [`SegmentSpec::validate`] first); aborts through
    /// [`std::alloc::handle_alloc_error`] if the allocation fails.
    pub fn heap(spec: &SegmentSpec) -> Segment {
        if let Err(e) = spec.validate() {
            panic!("Segment::heap: {e}");
        }
        let size = spec.segment_size();
        // `validate` proved that the size fits in `isize`; 4096 is a power of two.
        let layout = usize::try_from(size)
            .ok()
            .and_then(|len| Layout::from_size_align(len, DATA_OFFSET).ok())
            .expect("validated segment size fits a Layout");
        // SAFETY:
        // - `layout` has a non-zero size (at least 4096 bytes).
        let raw = unsafe { alloc::alloc_zeroed(layout) };
        let Some(base) = NonNull::new(raw) else { alloc::handle_alloc_error(layout) };
        let mem = Memory { base, len: layout.size() };
        mem.write_header(spec, size);
        Segment {
            mem,
            backing: Backing::Heap { layout },
            name: String::from("heap"),
            geometry: Geometry {
                kind: spec.kind,
                capacity: spec.capacity,
                slot_size: spec.slot_size,
                data_size: spec.data_size(),
            },
            held: Default::default(),
        }
    }

    /// Opens the existing segment `name`, checks that it is safe to map and ready, and validates
    /// every header field and the expected message type.
    ///
    /// # Errors
    ///
    /// [`OpenError::NotFound`], [`OpenError::Insecure`] (not a private regular file of this
    /// user), [`OpenError::NotReady`], [`OpenError::BadHeader`],
    /// [`OpenError::UnsupportedVersion`], [`OpenError::WrongKind`], [`OpenError::TypeMismatch`],
    /// [`OpenError::InvalidName`] or [`OpenError::Io`].
    pub fn open(name: &str, expect: &Expect) -> Result<Segment, OpenError> {
        Self::open_keeping_file(name, expect).map_err(|(e, _)| e)
    }

    /// [`Segment::open`], handing back the open file on failure so that the caller can check
    /// its locks.
    fn open_keeping_file(
        name: &str,
        expect: &Expect,
    ) -> Result<Segment, (OpenError, Option<File>)> {
        validate_name(name).map_err(|e| (e, None))?;
        let path = Self::path(name);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| (open_error(&path, e), None))?;
        match attach(&file, &path, expect) {
            Ok((map, mem, geometry)) => Ok(Segment {
                mem,
                backing: Backing::Shared { _map: map, file, path },
                name: name.to_owned(),
                geometry,
                held: Default::default(),
            }),
            Err(e) => Err((e, Some(file))),
        }
    }

    /// Opens segment `name`, or creates it from `spec` if it does not exist. Returns the segment
    /// and whether it was created (then the caller initialises the ring and publishes it).
    ///
    /// A segment that fails to open because it is stale — never made ready, or its header does
    /// not match (`BadHeader`, `UnsupportedVersion`, `WrongKind`, `TypeMismatch`) — while **no**
    /// process holds any of its locks is removed and created again, once. A segment with a live
    /// peer or creator is never removed: its error is returned (a segment that is still being
    /// initialised is waited for, up to 200 ms). An existing valid segment is opened as it is,
    /// even if its capacity differs from `spec`.
    ///
    /// # Errors
    ///
    /// Those of [`Segment::create`] and [`Segment::open`]; [`OpenError::InvalidSpec`] if
    /// `expect.kind` differs from `spec.kind`.
    pub fn open_or_create(
        name: &str,
        spec: &SegmentSpec,
        expect: &Expect,
    ) -> Result<(Segment, bool), OpenError> {
        if spec.kind != expect.kind {
            return Err(OpenError::InvalidSpec {
                reason: format!(
                    "spec.kind {:?} differs from expect.kind {:?}",
                    spec.kind, expect.kind
                ),
            });
        }
        let deadline = Instant::now() + Duration::from_millis(200);
        let mut removed_stale = false;
        let mut try_create = true;
        loop {
            if try_create {
                match Self::create(name, spec) {
                    Ok(segment) => return Ok((segment, true)),
                    Err(OpenError::AlreadyExists { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            try_create = true;
            let (error, file) = match Self::open_keeping_file(name, expect) {
                Ok(segment) => return Ok((segment, false)),
                // Removed between our create and open: try again.
                Err((OpenError::NotFound { .. }, _)) if !removed_stale => {
                    removed_stale = true;
                    continue;
                }
                Err((error, Some(file))) if error.is_stale_candidate() => (error, file),
                Err((error, _)) => return Err(error),
            };
            let path = Self::path(name);
            let locked = any_lock_held(&file).map_err(|source| OpenError::Io {
                path: path.clone(),
                op: "fcntl",
                source,
            })?;
            if locked {
                if matches!(error, OpenError::NotReady { .. }) && Instant::now() < deadline {
                    // Its creator is initialising it: wait, then open again.
                    std::thread::sleep(Duration::from_millis(1));
                    try_create = false;
                    continue;
                }
                return Err(error);
            }
            if removed_stale {
                return Err(error);
            }
            removed_stale = true;
            remove_if_same_file(&path, &file).map_err(|source| OpenError::Io {
                path: path.clone(),
                op: "remove",
                source,
            })?;
        }
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
    pub fn slot_size(&self) -> u32 {
        self.geometry.slot_size
    }

    /// The message table (as read now; names are for messages only).
    pub fn messages(&self) -> Vec<MessageEntry> {
        let count = self.mem.load_u32(OFF_MESSAGE_COUNT) as usize;
        (0..count.min(MAX_MESSAGES)).map(|i| self.mem.read_message(i)).collect()
    }

    /// The header word at `offset` as an atomic (for the ring layer's positions and wake words,
    /// `layout::OFF_*`).
    ///
    /// # Panics
    ///
    /// If `offset` is not 4-byte aligned or `offset + 4` exceeds the segment.
    pub(crate) fn atomic_u32(&self, offset: usize) -> &AtomicU32 {
        self.mem.atomic_u32(offset)
    }

    /// The 64-bit word at `offset` as an atomic.
    ///
    /// # Panics
    ///
    /// If `offset` is not 8-byte aligned or `offset + 8` exceeds the segment.
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

    /// Attaches this handle as peer `role` (`layout::PEER_WRITER`, `PEER_READER`): takes the
    /// role's liveness lock and records pid, attach time, role and `attached = 1` in the peer
    /// entry. Shared segments use an OFD lock on byte `2176 + 64 × role`, released by
    /// `unlock_peer`, by dropping the segment, or by the kernel when the process dies. Heap
    /// segments use the entry's `attached` word as the lock.
    ///
    /// # Errors
    ///
    /// [`OpenError::PeerBusy`] with the pid recorded by the holder (0 if it has not written it
    /// yet) if another handle or process holds the role; [`OpenError::Io`] if `fcntl` fails.
    ///
    /// # Panics
    ///
    /// If `role >= 4`.
    pub(crate) fn lock_peer(&self, role: usize) -> Result<(), OpenError> {
        assert!(role < MAX_PEERS, "peer role {role} out of range");
        let entry = peer_entry(role);
        let busy = || OpenError::PeerBusy {
            path: self.path_buf(),
            role: role_name(role),
            pid: self.mem.load_u64(entry + PEER_PID),
        };
        if self.held[role].swap(true, Ordering::AcqRel) {
            return Err(busy());
        }
        let locked = match &self.backing {
            Backing::Shared { file, path, .. } => os::ofd_try_lock(file, entry as u64)
                .map_err(|source| OpenError::Io { path: path.clone(), op: "fcntl", source }),
            Backing::Heap { .. } => Ok(self
                .mem
                .atomic_u32(entry + PEER_ATTACHED)
                .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()),
        };
        match locked {
            Ok(true) => {}
            Ok(false) => {
                self.held[role].store(false, Ordering::Release);
                return Err(busy());
            }
            Err(e) => {
                self.held[role].store(false, Ordering::Release);
                return Err(e);
            }
        }
        // Informational fields, written by the lock holder only.
        self.mem.store_u64(entry + PEER_PID, u64::from(std::process::id()));
        self.mem.store_u64(entry + PEER_ATTACH_NS, unix_ns());
        // `role < 4`.
        self.mem.store_u32(entry + PEER_ROLE, u32::try_from(role).unwrap_or(u32::MAX));
        self.mem.atomic_u32(entry + PEER_ATTACHED).store(1, Ordering::Release);
        Ok(())
    }

    /// Detaches this handle from peer `role`: clears `attached` and releases the lock. A no-op if
    /// this handle does not hold the role.
    pub(crate) fn unlock_peer(&self, role: usize) {
        if role >= MAX_PEERS || !self.held[role].swap(false, Ordering::AcqRel) {
            return;
        }
        let entry = peer_entry(role);
        // Cleared before the lock is released, so it never overwrites a successor's entry.
        self.mem.atomic_u32(entry + PEER_ATTACHED).store(0, Ordering::Release);
        if let Backing::Shared { file, .. } = &self.backing {
            // Failure is impossible for a valid descriptor and an owned lock; if it happened,
            // the lock would be released when the file is closed.
            let _ = os::ofd_unlock(file, entry as u64);
        }
    }

    /// Whether peer `role` is attached and alive: held by this handle, or (shared segments) its
    /// lock byte is locked by another open file description; (heap) its `attached` word is set.
    /// An error of `fcntl` counts as alive, so a live peer is never declared dead.
    pub(crate) fn peer_alive(&self, role: usize) -> bool {
        if role >= MAX_PEERS {
            return false;
        }
        if self.held[role].load(Ordering::Acquire) {
            return true;
        }
        let entry = peer_entry(role);
        match &self.backing {
            Backing::Shared { file, .. } => os::ofd_is_locked(file, entry as u64).unwrap_or(true),
            Backing::Heap { .. } => {
                self.mem.atomic_u32(entry + PEER_ATTACHED).load(Ordering::Acquire) != 0
            }
        }
    }

    /// The pid recorded in peer `role`'s entry (informational; 0 if never attached).
    pub(crate) fn peer_pid(&self, role: usize) -> u64 {
        if role >= MAX_PEERS {
            return 0;
        }
        self.mem.load_u64(peer_entry(role) + PEER_PID)
    }

    fn path_buf(&self) -> PathBuf {
        match &self.backing {
            Backing::Shared { path, .. } => path.clone(),
            Backing::Heap { .. } => PathBuf::from("heap"),
        }
    }
}

/// A name in `/dev/shm` that no segment can have (segments start with `flatipc.`).
fn temporary_path(name: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    PathBuf::from(format!("/dev/shm/.flatipc-creating.{}.{n}.{name}", std::process::id()))
}

/// Maps an error of `open` on an existing segment.
fn open_error(path: &Path, e: io::Error) -> OpenError {
    let path = path.to_path_buf();
    match e.raw_os_error() {
        Some(libc::ENOENT) => OpenError::NotFound { path },
        Some(libc::ELOOP) => OpenError::Insecure { path, reason: "it is a symbolic link".into() },
        Some(libc::EISDIR) => OpenError::Insecure { path, reason: "it is a directory".into() },
        _ => OpenError::Io { path, op: "open", source: e },
    }
}

/// Whether any process holds the creator lock or any peer lock of the segment open as `file`.
fn any_lock_held(file: &File) -> io::Result<bool> {
    let bytes = std::iter::once(OFF_CREATOR_LOCK).chain((0..MAX_PEERS).map(peer_entry));
    for byte in bytes {
        if os::ofd_is_locked(file, byte as u64)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Removes `path` if it is still the file open as `file` (not a segment created since).
fn remove_if_same_file(path: &Path, file: &File) -> io::Result<()> {
    let open = file.metadata()?;
    match fs::symlink_metadata(path) {
        Ok(now) if now.dev() == open.dev() && now.ino() == open.ino() => fs::remove_file(path),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Checks the open file, maps it and validates its header.
fn attach(
    file: &File,
    path: &Path,
    expect: &Expect,
) -> Result<(MmapRaw, Memory, Geometry), OpenError> {
    let io_err = |op: &'static str| {
        let p = path.to_path_buf();
        move |source| OpenError::Io { path: p, op, source }
    };
    let insecure = |reason: String| OpenError::Insecure { path: path.to_path_buf(), reason };
    let meta = file.metadata().map_err(io_err("fstat"))?;
    if !meta.file_type().is_file() {
        return Err(insecure("it is not a regular file".into()));
    }
    let euid = os::effective_uid();
    if meta.uid() != euid {
        return Err(insecure(format!("it is owned by uid {}, not by uid {euid}", meta.uid())));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(insecure(format!("its mode is {:04o}", meta.mode() & 0o7777)));
    }
    let file_size = meta.len();
    let bad = |field: &'static str, found: String, expected: String| OpenError::BadHeader {
        path: path.to_path_buf(),
        field,
        found,
        expected,
    };
    if file_size < DATA_OFFSET as u64 {
        return Err(bad("file size", file_size.to_string(), "at least 4096 bytes".into()));
    }
    let len = usize::try_from(file_size)
        .ok()
        .filter(|len| *len <= isize::MAX as usize)
        .ok_or_else(|| bad("file size", file_size.to_string(), "a mappable size".into()))?;
    let map = MmapOptions::new().len(len).map_raw(file).map_err(io_err("mmap"))?;
    let base = NonNull::new(map.as_mut_ptr())
        .ok_or_else(|| io_err("mmap")(io::ErrorKind::Other.into()))?;
    let mem = Memory { base, len };
    let geometry = validate_header(&mem, path, file_size, expect)?;
    Ok((map, mem, geometry))
}

/// Validates every header field of `mem` (a segment file of `file_size` bytes) per
/// `docs/PROTOCOL.md` section 2, then the expected kind and message type.
fn validate_header(
    mem: &Memory,
    path: &Path,
    file_size: u64,
    expect: &Expect,
) -> Result<Geometry, OpenError> {
    let bad = |field: &'static str, found: String, expected: String| OpenError::BadHeader {
        path: path.to_path_buf(),
        field,
        found,
        expected,
    };
    // SYNC POINT S: pairs with the Release store in `Segment::publish_ready`; once READY is seen,
    // the creator's header and ring initialisation are visible.
    let state = mem.atomic_u32(OFF_STATE).load(Ordering::Acquire);
    let magic = mem.load_u64(OFF_MAGIC).to_ne_bytes();
    if magic != MAGIC {
        if magic == [0; 8] && state == STATE_INITIALISING {
            return Err(OpenError::NotReady { path: path.to_path_buf() });
        }
        return Err(bad("magic", format!("{magic:02x?}"), format!("the bytes {MAGIC:02x?}")));
    }
    let version = mem.load_u32(OFF_VERSION);
    if version != PROTOCOL_VERSION {
        return Err(OpenError::UnsupportedVersion {
            path: path.to_path_buf(),
            found: version,
            supported: PROTOCOL_VERSION,
        });
    }
    match state {
        STATE_READY => {}
        STATE_INITIALISING => return Err(OpenError::NotReady { path: path.to_path_buf() }),
        other => {
            return Err(bad("state", format!("{other:#010x}"), format!("0 or {STATE_READY:#010x}")))
        }
    }
    let endian = mem.load_u32(OFF_ENDIAN);
    if endian != ENDIAN_MARKER {
        return Err(bad(
            "endian_marker",
            format!("{endian:#010x}"),
            format!("{ENDIAN_MARKER:#010x} (written by a little-endian host)"),
        ));
    }
    let width = mem.load_u8(OFF_POINTER_WIDTH);
    if width != POINTER_WIDTH {
        return Err(bad("pointer_width", width.to_string(), POINTER_WIDTH.to_string()));
    }
    let kind_byte = mem.load_u8(OFF_KIND);
    let kind = RingKind::from_byte(kind_byte).ok_or_else(|| {
        bad(
            "kind",
            kind_byte.to_string(),
            "1 (typed channel) or 2 (framed stream); 3 and 4 are reserved".into(),
        )
    })?;
    if kind != expect.kind {
        return Err(OpenError::WrongKind {
            path: path.to_path_buf(),
            found: kind,
            expected: expect.kind,
        });
    }
    let segment_size = mem.load_u64(OFF_SEGMENT_SIZE);
    if segment_size != file_size {
        return Err(bad(
            "segment_size",
            segment_size.to_string(),
            format!("the file size {file_size}"),
        ));
    }
    let data_offset = mem.load_u64(OFF_DATA_OFFSET);
    if data_offset != DATA_OFFSET as u64 {
        return Err(bad("data_offset", data_offset.to_string(), DATA_OFFSET.to_string()));
    }
    let capacity = mem.load_u64(OFF_CAPACITY);
    if capacity < 2 || !capacity.is_power_of_two() {
        return Err(bad("capacity", capacity.to_string(), "a power of two ≥ 2".into()));
    }
    let slot_size = mem.load_u32(OFF_SLOT_SIZE);
    let slot_ok = match kind {
        RingKind::TypedChannel => slot_size != 0 && slot_size % SLOT_ALIGN == 0,
        RingKind::FramedStream => slot_size == 0,
    };
    if !slot_ok {
        let expected = match kind {
            RingKind::TypedChannel => "a non-zero multiple of 64",
            RingKind::FramedStream => "0 for a framed stream",
        };
        return Err(bad("slot_size", slot_size.to_string(), expected.into()));
    }
    let data_size = data_size(kind, capacity, slot_size)
        .filter(|size| size.checked_add(data_offset).is_some_and(|end| end <= segment_size))
        .ok_or_else(|| {
            bad(
                "capacity",
                format!("{capacity} (× slot_size {slot_size})"),
                format!("a data area that fits in segment_size {segment_size}"),
            )
        })?;
    let count = mem.load_u32(OFF_MESSAGE_COUNT);
    let count_ok = match kind {
        RingKind::TypedChannel => count == 1,
        RingKind::FramedStream => (1..=MAX_MESSAGES).contains(&(count as usize)),
    };
    if !count_ok {
        let expected = match kind {
            RingKind::TypedChannel => "1 for a typed channel".to_owned(),
            RingKind::FramedStream => format!("1..={MAX_MESSAGES} for a framed stream"),
        };
        return Err(bad("message_count", count.to_string(), expected));
    }
    let messages: Vec<MessageEntry> = (0..count as usize).map(|i| mem.read_message(i)).collect();
    if kind == RingKind::TypedChannel {
        if let Some(m) = messages.iter().find(|m| m.size > slot_size) {
            return Err(bad(
                "slot_size",
                slot_size.to_string(),
                format!("at least the size {} of message `{}`", m.size, m.name),
            ));
        }
    }
    if let Some(want) = &expect.message {
        check_message(&messages, want, path)?;
    }
    Ok(Geometry { kind, capacity, slot_size, data_size })
}

/// Finds the entry with `want`'s id and compares fingerprint, size and align.
fn check_message(
    messages: &[MessageEntry],
    want: &MessageEntry,
    path: &Path,
) -> Result<(), OpenError> {
    let mismatch = |segment: String, what: String| OpenError::TypeMismatch {
        path: path.to_path_buf(),
        segment,
        expected: want.name.clone(),
        what,
    };
    let Some(have) = messages.iter().find(|m| m.id == want.id) else {
        return Err(match messages {
            [only] => mismatch(only.name.clone(), format!("id {:#x} vs {:#x}", only.id, want.id)),
            _ => mismatch(
                messages.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", "),
                format!("no message with id {:#x} in the segment", want.id),
            ),
        });
    };
    let mut differences = Vec::new();
    if have.size != want.size {
        differences.push(format!("size {} vs {}", have.size, want.size));
    }
    if have.align != want.align {
        differences.push(format!("align {} vs {}", have.align, want.align));
    }
    if have.fingerprint != want.fingerprint {
        differences
            .push(format!("fingerprint {:#018x} vs {:#018x}", have.fingerprint, want.fingerprint));
    }
    if differences.is_empty() {
        Ok(())
    } else {
        Err(mismatch(have.name.clone(), differences.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::process::{Command, Stdio};

    fn unique(tag: &str) -> String {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        format!("unit-{}-{tag}-{n}", std::process::id())
    }

    /// Removes the segment when the test ends, however it ends.
    struct Cleanup(String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = Segment::remove(&self.0);
        }
    }

    fn entry() -> MessageEntry {
        MessageEntry { fingerprint: 0xABCD, id: 0x1001, size: 48, align: 8, name: "Quote".into() }
    }

    fn spec() -> SegmentSpec {
        SegmentSpec::typed_channel(8, entry())
    }

    fn expect() -> Expect {
        Expect { kind: RingKind::TypedChannel, message: Some(entry()) }
    }

    /// A ready shared segment and a second handle to it (a different open file description).
    fn ready_pair(tag: &str) -> (Cleanup, Segment, Segment) {
        let name = unique(tag);
        let cleanup = Cleanup(name.clone());
        let creator = Segment::create(&name, &spec()).unwrap();
        creator.publish_ready();
        let other = Segment::open(&name, &expect()).unwrap();
        (cleanup, creator, other)
    }

    #[test]
    fn layout_matches_protocol_md() {
        assert_eq!(peer_entry(PEER_WRITER), 2176);
        assert_eq!(peer_entry(MAX_PEERS), 2432); // 2432..2560 is unlisted, hence reserved
        assert!(peer_entry(MAX_PEERS) <= OFF_WRITE_POS);
        assert_eq!(message_entry(MAX_MESSAGES), OFF_PEERS);
        assert_eq!((OFF_WRITE_POS, OFF_READ_POS, OFF_WAKE), (2560, 2688, 2816));
        assert_eq!(OFF_WRITER_FUTEX + 4, 2832);
        assert_eq!(MSG_NAME + MSG_NAME_LEN, MESSAGE_ENTRY_SIZE);
        assert_eq!(u32::from_le_bytes(*b"REDY"), STATE_READY);
    }

    #[test]
    fn heap_segment_has_the_same_header() {
        let segment = Segment::heap(&spec());
        assert_eq!(segment.mem.load_u64(OFF_MAGIC).to_ne_bytes(), MAGIC);
        assert_eq!(segment.mem.load_u32(OFF_STATE), STATE_INITIALISING);
        segment.publish_ready();
        assert_eq!(segment.atomic_u32(OFF_STATE).load(Ordering::Acquire), STATE_READY);
        assert_eq!(segment.messages(), vec![entry()]);
        assert_eq!((segment.capacity(), segment.slot_size(), segment.data_len()), (8, 64, 512));
        assert_eq!(segment.data_ptr() as usize % 4096, 0);
        assert_eq!(segment.atomic_u64(OFF_WRITE_POS).load(Ordering::Relaxed), 0);
    }

    #[test]
    fn heap_peer_flag_is_the_lock() {
        let segment = Segment::heap(&spec());
        assert!(!segment.peer_alive(PEER_WRITER));
        segment.lock_peer(PEER_WRITER).unwrap();
        assert!(segment.peer_alive(PEER_WRITER));
        assert_eq!(segment.peer_pid(PEER_WRITER), u64::from(std::process::id()));
        let err = segment.lock_peer(PEER_WRITER).unwrap_err();
        assert!(matches!(err, OpenError::PeerBusy { role: "writer", .. }), "{err}");
        segment.lock_peer(PEER_READER).unwrap();
        segment.unlock_peer(PEER_WRITER);
        assert!(!segment.peer_alive(PEER_WRITER));
        segment.lock_peer(PEER_WRITER).unwrap();
    }

    #[test]
    fn second_writer_through_another_handle_is_busy() {
        let (_cleanup, creator, other) = ready_pair("busy");
        creator.lock_peer(PEER_WRITER).unwrap();
        assert!(other.peer_alive(PEER_WRITER));
        assert!(!other.peer_alive(PEER_READER));
        let err = other.lock_peer(PEER_WRITER).unwrap_err();
        match &err {
            OpenError::PeerBusy { role, pid, .. } => {
                assert_eq!((*role, *pid), ("writer", u64::from(std::process::id())));
            }
            other => panic!("unexpected {other}"),
        }
        assert!(err.to_string().contains(&format!("pid {}", std::process::id())));
        // The same handle cannot take the role twice either.
        assert!(matches!(creator.lock_peer(PEER_WRITER), Err(OpenError::PeerBusy { .. })));
        other.lock_peer(PEER_READER).unwrap();
        assert!(creator.peer_alive(PEER_READER));
        creator.unlock_peer(PEER_WRITER);
        assert!(!other.peer_alive(PEER_WRITER));
        other.lock_peer(PEER_WRITER).unwrap();
    }

    #[test]
    fn dropping_a_segment_releases_its_locks() {
        let (_cleanup, creator, other) = ready_pair("drop");
        other.lock_peer(PEER_READER).unwrap();
        assert!(creator.peer_alive(PEER_READER));
        drop(other);
        assert!(!creator.peer_alive(PEER_READER));
        assert_eq!(creator.mem.load_u32(peer_entry(PEER_READER) + PEER_ATTACHED), 0);
        creator.lock_peer(PEER_READER).unwrap();
    }

    #[test]
    #[should_panic(expected = "not aligned")]
    fn misaligned_atomic_panics() {
        let _ = Segment::heap(&spec()).atomic_u32(OFF_WRITE_POS + 2);
    }

    #[test]
    #[should_panic(expected = "outside")]
    fn out_of_bounds_atomic_panics() {
        let segment = Segment::heap(&spec());
        let _ = segment.atomic_u64(segment.mem.len);
    }

    const HOLD_ENV: &str = "FLATIPC_TEST_HOLD_WRITER";

    /// Run by `writer_lock_dies_with_its_process` in a child process: holds the writer lock of
    /// the segment named in the environment until killed. Does nothing in a normal test run.
    #[test]
    fn writer_lock_holder_child() {
        let Ok(name) = std::env::var(HOLD_ENV) else { return };
        let segment = Segment::open(&name, &expect()).unwrap();
        segment.lock_peer(PEER_WRITER).unwrap();
        println!("locked");
        loop {
            std::thread::sleep(Duration::from_secs(60));
        }
    }

    #[test]
    fn writer_lock_dies_with_its_process() {
        let (_cleanup, creator, _other) = ready_pair("child");
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "segment::tests::writer_lock_holder_child", "--nocapture"])
            .env(HOLD_ENV, creator.name())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = io::BufReader::new(child.stdout.take().unwrap());
        let locked = stdout.lines().map_while(Result::ok).any(|line| line.trim() == "locked");
        assert!(locked, "child did not take the lock");
        assert!(creator.peer_alive(PEER_WRITER));
        match creator.lock_peer(PEER_WRITER) {
            Err(OpenError::PeerBusy { pid, .. }) => assert_eq!(pid, u64::from(child.id())),
            other => panic!("unexpected {other:?}"),
        }
        child.kill().unwrap(); // SIGKILL: no destructor runs
        child.wait().unwrap();
        assert!(!creator.peer_alive(PEER_WRITER));
        creator.lock_peer(PEER_WRITER).unwrap();
    }

    #[test]
    fn open_or_create_waits_for_a_creator_that_is_initialising() {
        let name = unique("wait-ready");
        let _cleanup = Cleanup(name.clone());
        let creator = Segment::create(&name, &spec()).unwrap();
        let opener = {
            let name = name.clone();
            std::thread::spawn(move || Segment::open_or_create(&name, &spec(), &expect()))
        };
        std::thread::sleep(Duration::from_millis(20));
        creator.publish_ready();
        let (segment, created) = opener.join().unwrap().unwrap();
        assert!(!created);
        assert_eq!(segment.capacity(), 8);
    }

    #[test]
    fn stale_check_sees_the_creator_lock() {
        let name = unique("creator-lock");
        let _cleanup = Cleanup(name.clone());
        let creator = Segment::create(&name, &spec()).unwrap();
        let file = File::open(Segment::path(&name)).unwrap();
        assert!(any_lock_held(&file).unwrap());
        drop(creator);
        assert!(!any_lock_held(&file).unwrap());
    }
}
