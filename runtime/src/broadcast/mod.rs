//! Broadcast rings (`docs/PROTOCOL.md` §5 and §6): one writer, up to 64 readers that attach and
//! leave at any time, each **tethered** (the writer never overwrites what it has not read; it
//! reads in place) or **lossy** (the writer never waits for it; it copies each message out,
//! validates the copy with the slot's sequence word, and learns how many messages it missed).
//!
//! Two rings share one engine and one segment layout:
//! - the typed broadcast ring ([`BroadcastWriter`], [`BroadcastReader`]) carries one message
//!   type, one message per slot;
//! - the broadcast stream ([`BroadcastStreamWriter`], [`BroadcastStreamReader`]) carries the
//!   messages of a schema library ([`crate::stream::MessageSet`]), one frame per slot: a stream
//!   frame header (id, size, version) and the message, the slot sized for the largest message.
//!
//! ```
//! use flatipc::broadcast::{broadcast, BroadcastOptions, Policy, ReaderOptions, StartAt};
//! use flatipc::prelude::*;
//!
//! #[derive(Clone, Copy, Debug, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
//! #[zerocopy(crate = "flatipc::zerocopy")]
//! #[repr(C)]
//! struct Tick { seq: u64, price: f64 }
//!
//! let mut tx = broadcast::<Tick>(&BroadcastOptions { capacity: 4, ..Default::default() });
//! let mut strategy = tx.subscribe(&ReaderOptions::default()).unwrap(); // tethered
//! let lossy = ReaderOptions { policy: Policy::Lossy, ..ReaderOptions::default() };
//! let mut monitor = tx.subscribe(&lossy).unwrap();
//! for seq in 0..4 {
//!     tx.try_send(&Tick { seq, price: 1.5 }).unwrap();
//! }
//! assert!(tx.try_send(&Tick { seq: 4, price: 1.5 }).is_err()); // the tethered reader is behind
//! assert_eq!(strategy.try_recv().unwrap().seq, 0);             // in place
//! tx.try_send(&Tick { seq: 4, price: 1.5 }).unwrap();
//! let m = monitor.try_recv().unwrap();                          // a validated copy
//! assert_eq!((m.seq, m.missed()), (2, 2));                      // lapped: 0 and 1 were lost
//! # let _ = StartAt::Next;
//! ```

mod stream;
mod typed;

use std::ptr::NonNull;
use std::sync::Arc;
use std::time::Instant;

use crate::error::OpenError;
use crate::ring::broadcast::{
    join, next_generation, Cursor, Lossy, LossyCore, WriterCore, POLICY_LOSSY, POLICY_TETHERED,
    STATE_CLAIMED, STATE_FREE, STATE_MASK,
};
use crate::ring::core::{check, wrap, Corrupt, MAX_POSITION};
pub use crate::ring::{RecvError, SendError};
use crate::ring::{Shared, READER, WRITER};
use crate::segment::{layout, Segment};
use crate::sync::{AtomicU32, AtomicU64, Ordering};
use crate::wait::{wait_for, SharedParking, WaitStrategy};

pub use stream::{
    broadcast_stream, BroadcastFrame, BroadcastFrameLoan, BroadcastStreamReader,
    BroadcastStreamWriter,
};
pub use typed::{broadcast, BroadcastLoan, BroadcastReader, BroadcastWriter, Message};

/// How a broadcast ring is created and how its writer waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BroadcastOptions {
    /// Number of slots (messages the ring holds); rounded up to a power of two (at least 2).
    pub capacity: u64,
    /// Reader entries in the segment (1 to 64): how many readers may be attached at once.
    pub max_readers: u32,
    /// How the writer's `send` waits for tethered readers.
    pub wait: WaitStrategy,
}

impl Default for BroadcastOptions {
    fn default() -> Self {
        Self { capacity: 1024, max_readers: 8, wait: WaitStrategy::default() }
    }
}

/// What a reader asks of the writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// The writer never overwrites a message this reader has not read: it waits (or reports
    /// `Full`) instead. The reader reads in place. A tethered reader that dies is detached by the
    /// writer (its liveness lock is gone), so it cannot block the writer forever.
    #[default]
    Tethered,
    /// The writer never waits for this reader. The reader copies each message out and validates
    /// the copy; when the writer laps it, it learns how many messages it missed and resumes at
    /// the oldest one still intact.
    Lossy,
}

/// Where a new reader starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartAt {
    /// At the next message the writer publishes.
    #[default]
    Next,
    /// At the oldest message still in the ring (read as validated copies until the reader
    /// reaches the point where it joined).
    Oldest,
}

/// How a reader attaches and waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReaderOptions {
    /// Tethered or lossy.
    pub policy: Policy,
    /// Next or oldest message.
    pub start: StartAt,
    /// How `recv` and `recv_timeout` wait.
    pub wait: WaitStrategy,
}

/// The words of the shared segment that broadcast ends use beyond [`Shared`].
trait BroadcastShared {
    fn seq(&self, index: u64) -> &AtomicU64;
    fn slot_bytes(&self, index: u64) -> NonNull<u8>;
    fn cursor(&self, reader: u32) -> Cursor<'_>;
    fn write_pos(&self) -> &AtomicU64;
    fn readers_parking(&self, bit: u64) -> SharedParking<'_>;
}

impl BroadcastShared for Shared {
    /// The sequence word of slot `index` (`index < capacity`, asserted): the words follow the
    /// slots, 8 bytes each.
    #[inline]
    fn seq(&self, index: u64) -> &AtomicU64 {
        assert!(index < self.capacity, "slot {index} out of range");
        // Both products lie in the data area (validated at open), so they fit.
        let slots = usize::try_from(self.capacity).unwrap_or(usize::MAX) * self.slot_size;
        let at = layout::DATA_OFFSET + slots + 8 * usize::try_from(index).unwrap_or(usize::MAX);
        self.segment.atomic_u64(at)
    }

    /// The first byte of slot `index`: 64-byte aligned, `slot_size` bytes in bounds (`slot`
    /// asserts both).
    #[inline]
    fn slot_bytes(&self, index: u64) -> NonNull<u8> {
        self.slot::<u8>(index)
    }

    #[inline]
    fn cursor(&self, reader: u32) -> Cursor<'_> {
        let entry = self.segment.reader_entry(reader);
        Cursor {
            read_pos: self.segment.atomic_u64(entry + layout::RD_READ_POS),
            state: self.segment.atomic_u32(entry + layout::RD_STATE),
            policy: self.segment.atomic_u32(entry + layout::RD_POLICY),
        }
    }

    #[inline]
    fn write_pos(&self) -> &AtomicU64 {
        self.positions().write_pos
    }

    #[inline]
    fn readers_parking(&self, bit: u64) -> SharedParking<'_> {
        SharedParking {
            may_park: self.segment.atomic_u32(layout::peer_entry(READER) + layout::PEER_MAY_PARK),
            mask: self.segment.atomic_u64(layout::OFF_READER_PARKED_MASK),
            futex: self.segment.atomic_u32(layout::OFF_READER_FUTEX),
            bit,
        }
    }
}

/// Stores `src` into the slot bytes at `dst` with naturally aligned 8-byte atomic stores: a
/// lossy reader may be copying them concurrently (`docs/PROTOCOL.md` §5). The last word is
/// zero-padded: every access to slot bytes, on either side, is a whole 8-byte word, because
/// overlapping atomic accesses of different sizes are undefined behaviour in the Rust and C11
/// memory models.
///
/// `dst` must be 8-aligned and valid for `src.len()` rounded up to 8 bytes, inside the slot the
/// writer holds (slots are multiples of 64 bytes at least as large as what they hold).
#[inline]
fn store_atomically(dst: NonNull<u8>, src: &[u8]) {
    let store = |k: usize, word: [u8; 8]| {
        // SAFETY: `dst` is valid for `src.len()` rounded up to 8 bytes (the callers get it from
        // `slot_bytes`, which checked the slot's bounds, and stay within the slot), so the word
        // at offset `8k` (`8k < src.len()`) is in bounds.
        let at = unsafe { dst.as_ptr().add(8 * k) };
        // SAFETY: `at` is valid for 8 bytes and 8-aligned (slots are 64-aligned and callers pass
        // offsets that are multiples of 8); those bytes are only ever accessed as atomic 8-byte
        // words while shared (tethered readers read them in place only when the writer cannot
        // be writing them).
        unsafe { AtomicU64::from_ptr(at.cast::<u64>()) }
            .store(u64::from_ne_bytes(word), Ordering::Relaxed);
    };
    let words = src.chunks_exact(8);
    let tail = words.remainder();
    let full = words.len();
    for (k, chunk) in words.enumerate() {
        store(k, <[u8; 8]>::try_from(chunk).unwrap_or_default());
    }
    if !tail.is_empty() {
        let mut word = [0u8; 8];
        word[..tail.len()].copy_from_slice(tail);
        store(full, word);
    }
}

/// Loads the slot bytes at `src` into `dst` with naturally aligned 8-byte atomic loads (the
/// writer may be storing them concurrently; the caller validates the copy with the slot's
/// sequence word). The last word may reach past `dst.len()`; only its first bytes are kept.
///
/// `src` must be 8-aligned and valid for `dst.len()` rounded up to 8 bytes, inside one slot.
#[inline]
fn load_atomically(dst: &mut [u8], src: NonNull<u8>) {
    let load = |k: usize| {
        // SAFETY: as in `store_atomically`: `src` is valid for `dst.len()` rounded up to 8
        // bytes, so the word at offset `8k` (`8k < dst.len()`) is in bounds.
        let at = unsafe { src.as_ptr().add(8 * k) };
        // SAFETY: valid for 8 bytes, 8-aligned, only accessed as atomic 8-byte words while
        // shared.
        unsafe { AtomicU64::from_ptr(at.cast::<u64>()) }.load(Ordering::Relaxed).to_ne_bytes()
    };
    let mut words = dst.chunks_exact_mut(8);
    let mut k = 0;
    for chunk in &mut words {
        chunk.copy_from_slice(&load(k));
        k += 1;
    }
    let tail = words.into_remainder();
    if !tail.is_empty() {
        let len = tail.len();
        tail.copy_from_slice(&load(k)[..len]);
    }
}

/// The writing end of either broadcast ring, over untyped slots: reservation against tethered
/// cursors, reclaiming dead readers, publication and waking.
#[derive(Debug)]
struct WriterEnd {
    shared: Shared,
    core: WriterCore,
    wait: WaitStrategy,
    full_polls: u32,
    /// Hot-path words resolved (and bounds-checked) once at attach, so that `publish` does no
    /// segment lookups: slot 0, the sequence word of slot 0 (the others follow, 8 bytes
    /// apart), `write_pos` and the readers' `may_park` count.
    slot0: NonNull<u8>,
    seq0: NonNull<AtomicU64>,
    write_pos: NonNull<AtomicU64>,
    readers_may_park: NonNull<AtomicU32>,
}

// SAFETY: the `NonNull`s point into the segment that `shared` (an `Arc`) keeps alive, and are
// only used for atomics and for the slot bytes the ring protocol lets the writer store.
unsafe impl Send for WriterEnd {}
// SAFETY: as for `Send`; `&WriterEnd` gives access to nothing mutable.
unsafe impl Sync for WriterEnd {}

impl WriterEnd {
    /// Attaches as the writer. `upgrade` runs under the writer lock before anything is
    /// published (`docs/PROTOCOL.md` §2 "Steps" and §3 "Writer epochs"): it merges a newer
    /// writer's steps into the message table and, for the typed ring, returns the writer
    /// epoch's `(version, size)`, recorded at the writer's first position.
    fn attach(
        segment: Arc<Segment>,
        wait: WaitStrategy,
        upgrade: impl FnOnce(&Segment) -> Result<Option<(u16, u32)>, OpenError>,
    ) -> Result<Self, OpenError> {
        segment.lock_peer(WRITER)?;
        let epoch = match upgrade(&segment) {
            Ok(epoch) => epoch,
            Err(e) => {
                segment.unlock_peer(WRITER);
                return Err(e);
            }
        };
        let shared = Shared::new(segment);
        shared.announce(WRITER, wait);
        let write_pos = shared.write_pos().load(Ordering::Acquire);
        if write_pos >= MAX_POSITION {
            return Err(shared.corrupt_at_attach(Corrupt::Positions { read_pos: 0, write_pos }));
        }
        let core = WriterCore::attach(shared.write_pos(), shared.capacity);
        if let Some((version, size)) = epoch {
            crate::ring::epoch::record(&shared.segment, write_pos, version, size);
        }
        // Bounds-checked here once: `seq` asserts the last slot's word is in range, so every
        // `seq0 + index` with `index < capacity` is (the words are contiguous).
        let _ = shared.seq(shared.capacity - 1);
        // Likewise for the slots (`slot_bytes` asserts the last one lies in the data area).
        let _ = shared.slot_bytes(shared.capacity - 1);
        let slot0 = shared.slot_bytes(0);
        // From the data pointer (which may reach the whole data area), not from the reference
        // `seq(0)` returns, which may reach only its own 8 bytes. The words follow the
        // `capacity × slot_size` slot bytes.
        let slots = usize::try_from(shared.capacity).unwrap_or(usize::MAX) * shared.slot_size;
        // SAFETY: `seq(capacity - 1)` above asserted that every sequence word lies in the data
        // area, so `slot0 + slots` (the first word) is in bounds of the same mapping.
        let seq0 = unsafe { slot0.add(slots) }.cast::<AtomicU64>();
        let write_pos = NonNull::from(shared.write_pos());
        let readers_may_park = NonNull::from(shared.readers_parking(0).may_park);
        Ok(Self { shared, core, wait, full_polls: 0, slot0, seq0, write_pos, readers_may_park })
    }

    /// Slots free for writing, honouring tethered readers.
    #[inline]
    fn free(&mut self) -> u64 {
        let shared = &self.shared;
        let readers = shared.segment.max_readers();
        self.core.free(|| (0..readers).map(|i| shared.cursor(i)), 1)
    }

    /// Detaches tethered readers whose process is gone (their liveness lock is free): they would
    /// otherwise hold the writer back forever. A compare-and-swap from the exact `state` seen,
    /// so a reader that claimed the entry since is left alone.
    fn reclaim_dead_readers(shared: &Shared) {
        for i in 0..shared.segment.max_readers() {
            let cursor = shared.cursor(i);
            let state = cursor.state.load(Ordering::Acquire);
            if state & STATE_MASK != STATE_FREE && !shared.segment.reader_alive(i) {
                let freed = (state & !STATE_MASK) | STATE_FREE;
                // The entry's parked bit is left alone: it may already belong to a new reader,
                // and a dead reader's bit costs at most one wake (`wake` clears the mask).
                // Its `may_park` count, if any, is taken back by the next reader to claim the
                // entry (which holds the entry's lock; the writer does not, so it could race
                // with that reader).
                let _ = cursor.state.compare_exchange(
                    state,
                    freed,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                );
            }
        }
    }

    /// Positions never reach [`MAX_POSITION`] (a corrupt `write_pos` found at attach is refused;
    /// this guards the arithmetic of a writer that started just below it).
    #[inline]
    fn check_position(&self) -> Result<(), SendError> {
        let write_pos = self.core.position();
        if write_pos >= MAX_POSITION - 1 {
            return Err(SendError::Corrupt { read_pos: 0, write_pos });
        }
        Ok(())
    }

    /// Makes sure the next slot is free, without waiting.
    #[inline]
    fn try_reserve(&mut self) -> Result<(), SendError> {
        self.check_position()?;
        if self.free() == 0 {
            self.full_polls = self.full_polls.wrapping_add(1);
            if self.full_polls % 256 == 0 {
                Self::reclaim_dead_readers(&self.shared);
            }
            return Err(SendError::Full);
        }
        Ok(())
    }

    /// Makes sure the next slot is free, waiting for tethered readers by the wait strategy.
    fn reserve(&mut self, deadline: Option<Instant>) -> Result<(), SendError> {
        self.check_position()?;
        if self.free() == 0 {
            let shared = &self.shared;
            let core = &mut self.core;
            let readers = shared.segment.max_readers();
            wait_for(
                self.wait,
                shared.writer_parking(),
                deadline,
                || Ok((core.free(|| (0..readers).map(|i| shared.cursor(i)), 1) > 0).then_some(())),
                || {
                    Self::reclaim_dead_readers(shared);
                    Ok(())
                },
                || SendError::Timeout,
            )?;
        }
        Ok(())
    }

    /// Writes the next slot (free: the caller reserved it) with `write(slot)`, which must store
    /// into the slot's `slot_size` bytes with [`store_atomically`] only, and publishes it.
    #[inline]
    fn publish(&mut self, write: impl FnOnce(NonNull<u8>)) {
        // `slot_after` reduces modulo the (power-of-two) capacity: `index < capacity`.
        let index = usize::try_from(self.core.slot_after(0)).unwrap_or(usize::MAX);
        // SAFETY: `index < capacity`; the `capacity` sequence words are contiguous from `seq0`
        // and were bounds-checked at attach, so the word is in bounds of the mapping.
        let word = unsafe { self.seq0.add(index) };
        // SAFETY: `word` is an aligned, in-bounds sequence word of the mapping that
        // `self.shared` keeps alive for as long as `self` (and so this borrow) lives; it is only
        // ever accessed atomically.
        let seq = unsafe { word.as_ref() };
        // SAFETY: slots are `slot_size` bytes apart from `slot0`, `capacity × slot_size` bytes
        // in the data area (validated at open), so slot `index` is in bounds and 64-aligned.
        let slot = unsafe { self.slot0.add(index * self.shared.slot_size) };
        self.core.begin(seq, 0);
        write(slot);
        self.core.end(seq, 0);
        // SAFETY: resolved at attach from the segment `self.shared` keeps alive.
        self.core.advance(unsafe { self.write_pos.as_ref() }, 1);
        // SAFETY: as above. The full wake (fence, mask, syscall) only when a reader may park.
        if unsafe { self.readers_may_park.as_ref() }.load(Ordering::Relaxed) != 0 {
            Self::wake_readers(&self.shared);
        }
    }

    /// The slow half of the readers' wake, out of line so that `publish` stays short.
    #[cold]
    #[inline(never)]
    fn wake_readers(shared: &Shared) {
        shared.readers_parking(0).wake();
    }
}

impl Drop for WriterEnd {
    fn drop(&mut self) {
        self.shared.segment.unlock_peer(WRITER);
        // Parked readers must see the disconnect.
        self.shared.readers_parking(0).wake();
    }
}

/// Takes back the `may_park` count of reader entry `index` if its reader holds one (called with
/// the entry's lock held: by the reader leaving, or by a new reader claiming the entry of one
/// that died attached).
fn take_back_may_park(shared: &Shared, index: u32) {
    let parks = shared.segment.atomic_u32(shared.segment.reader_entry(index) + layout::RD_PARKS);
    if parks.swap(0, Ordering::Relaxed) == 1 {
        shared.readers_parking(0).may_park.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A message found by a reader: in place in slot `index` (tethered) or copied into the
/// reader's buffer (lossy).
#[derive(Debug, Clone, Copy)]
enum Found {
    InPlace { index: u64, missed: u64 },
    Copied { missed: u64 },
}

impl Found {
    #[inline]
    fn missed(self) -> u64 {
        match self {
            Found::InPlace { missed, .. } | Found::Copied { missed } => missed,
        }
    }
}

/// The reading end of either broadcast ring, over untyped slots: joining, the tethered and
/// lossy reads, waiting and leaving. Lossy copies go to `buffer` (slot-sized or larger).
#[derive(Debug)]
struct ReaderEnd<B: ?Sized> {
    shared: Shared,
    index: u32,
    /// This reader's `read_pos` (in its entry), resolved and bounds-checked once at attach.
    read_pos: NonNull<AtomicU64>,
    /// The writer's `may_park`, resolved once at attach.
    writer_may_park: NonNull<AtomicU32>,
    policy: Policy,
    wait: WaitStrategy,
    /// Next position to read in place (tethered), from `in_place_from` on.
    pos: u64,
    cached_write: u64,
    /// Lossy readers always; tethered readers while they read the backlog before their cursor.
    lossy: Option<LossyCore>,
    /// Where the last lossy copy goes.
    buffer: Box<B>,
    /// Position of the message last handed out.
    last: u64,
    missed_total: u64,
    /// Messages the tethered backlog lost, reported with the first in-place message.
    backlog_missed: u64,
    empty_polls: u32,
    counted_may_park: bool,
}

impl<B: ?Sized + zerocopy::IntoBytes + zerocopy::FromBytes + zerocopy::Immutable> ReaderEnd<B> {
    /// Claims a reader entry and joins. `buffer` is allocated by the caller before the entry is
    /// claimed, so that a failed allocation leaves no entry claimed by a reader that will never
    /// release it.
    fn attach(
        segment: Arc<Segment>,
        options: &ReaderOptions,
        buffer: Box<B>,
    ) -> Result<Self, OpenError> {
        let index = segment.claim_reader()?;
        let shared = Shared::new(segment);
        // The entry's previous reader, if it died attached, may still be counted as parking.
        take_back_may_park(&shared, index);
        let cursor = shared.cursor(index);
        let state = cursor.state.load(Ordering::Relaxed);
        cursor.state.store(next_generation(state, STATE_CLAIMED), Ordering::Relaxed);
        let bit = 1u64 << index;
        shared.readers_parking(bit).mask.fetch_and(!bit, Ordering::Relaxed);
        let counted_may_park = matches!(options.wait, WaitStrategy::SpinThenPark { .. });
        if counted_may_park {
            let parks = shared.segment.reader_entry(index) + layout::RD_PARKS;
            shared.segment.atomic_u32(parks).store(1, Ordering::Relaxed);
            shared.readers_parking(bit).may_park.fetch_add(1, Ordering::Relaxed);
        }
        let code = match options.policy {
            Policy::Tethered => POLICY_TETHERED,
            Policy::Lossy => POLICY_LOSSY,
        };
        let start = join(shared.write_pos(), cursor, code);
        if start >= MAX_POSITION {
            // Release: pairs with the Acquire load of `state` in the writer's rescan, like the
            // store in `Drop`; the entry is handed back before its lock is released.
            cursor.state.store(next_generation(state, STATE_FREE), Ordering::Release);
            if counted_may_park {
                take_back_may_park(&shared, index);
            }
            shared.segment.unlock_reader(index);
            return Err(
                shared.corrupt_at_attach(Corrupt::Positions { read_pos: start, write_pos: start })
            );
        }
        let capacity = shared.capacity;
        let oldest = start.saturating_sub(capacity - 1);
        let lossy = match (options.policy, options.start) {
            (Policy::Tethered, StartAt::Next) => None,
            (Policy::Tethered, StartAt::Oldest) => Some(LossyCore::until(oldest, start, capacity)),
            (Policy::Lossy, StartAt::Next) => Some(LossyCore::new(start, capacity)),
            (Policy::Lossy, StartAt::Oldest) => Some(LossyCore::new(oldest, capacity)),
        };
        let read_pos = NonNull::from(
            shared.segment.atomic_u64(shared.segment.reader_entry(index) + layout::RD_READ_POS),
        );
        let writer_may_park = NonNull::from(shared.writer_parking().may_park);
        Ok(Self {
            shared,
            index,
            read_pos,
            writer_may_park,
            policy: options.policy,
            wait: options.wait,
            pos: start,
            cached_write: start,
            lossy,
            buffer,
            last: start,
            missed_total: 0,
            backlog_missed: 0,
            empty_polls: 0,
            counted_may_park,
        })
    }

    /// The next message, if one is ready. A lossy read copies with `copy(buffer, slot)`, which
    /// must load from the slot with [`load_atomically`] only.
    #[inline]
    fn poll(
        &mut self,
        copy: &mut impl FnMut(&mut [u8], NonNull<u8>),
    ) -> Result<Option<Found>, RecvError> {
        if let Some(core) = &mut self.lossy {
            let shared = &self.shared;
            let buffer = self.buffer.as_mut_bytes();
            let found = core.read(
                shared.write_pos(),
                |i| shared.seq(i),
                |i| copy(&mut *buffer, shared.slot_bytes(i)),
            )?;
            match found {
                Lossy::Copied { position, missed } => {
                    self.last = position;
                    self.missed_total += missed;
                    if self.policy == Policy::Lossy {
                        // For observers only; the writer ignores lossy cursors.
                        let cursor = shared.cursor(self.index);
                        cursor.read_pos.store(position + 1, Ordering::Relaxed);
                    }
                    let entry = shared.segment.reader_entry(self.index);
                    let total = shared.segment.atomic_u64(entry + layout::RD_MISSED);
                    total.store(self.missed_total, Ordering::Relaxed);
                    return Ok(Some(Found::Copied { missed }));
                }
                Lossy::Empty if self.policy == Policy::Lossy => return Ok(None),
                Lossy::Empty if core.position() < self.pos => return Ok(None),
                // The tethered backlog is done: continue in place at the cursor, reporting what
                // the backlog lost with the first message read there.
                Lossy::Empty => {
                    let missed = core.take_missed();
                    self.missed_total += missed;
                    self.backlog_missed = missed;
                    self.lossy = None;
                }
            }
        }
        self.poll_in_place()
    }

    /// Releases the message read in place (tethered).
    #[inline]
    fn release(&mut self) {
        self.pos += 1;
        // SYNC POINT B (Release): pairs with the writer's Acquire load of this cursor in its
        // rescan: the slot may be overwritten once the writer sees it.
        // SAFETY: resolved at attach from the segment `self.shared` keeps alive.
        unsafe { self.read_pos.as_ref() }.store(self.pos, Ordering::Release);
        // SAFETY: as above. The full wake only when the writer may park.
        if unsafe { self.writer_may_park.as_ref() }.load(Ordering::Relaxed) != 0 {
            Self::wake_writer(&self.shared);
        }
    }

    /// The slow half of the writer's wake, out of line so that `release` stays short.
    #[cold]
    #[inline(never)]
    fn wake_writer(shared: &Shared) {
        shared.writer_parking().wake();
    }

    /// A tethered reader past its backlog: the next message in place, if published. The fast
    /// path of `poll`, small enough to inline into the spin loop of `next`.
    #[inline]
    fn poll_in_place(&mut self) -> Result<Option<Found>, RecvError> {
        poll_in_place(
            &self.shared,
            self.pos,
            &mut self.cached_write,
            &mut self.last,
            &mut self.backlog_missed,
        )
    }

    fn empty_or_disconnected(&mut self) -> RecvError {
        if !self.shared.writer_left(&mut self.empty_polls) {
            return RecvError::Empty;
        }
        let write = self.shared.write_pos().load(Ordering::Acquire);
        let next = self.lossy.as_ref().map_or(self.pos, LossyCore::position);
        if write > next {
            RecvError::Empty
        } else {
            RecvError::Disconnected
        }
    }

    /// The next message if one is ready (`Empty` or `Disconnected` otherwise).
    #[inline]
    fn try_next(
        &mut self,
        mut copy: impl FnMut(&mut [u8], NonNull<u8>),
    ) -> Result<Found, RecvError> {
        match self.poll(&mut copy)? {
            Some(found) => Ok(found),
            None => Err(self.empty_or_disconnected()),
        }
    }

    /// The next message, waiting by the wait strategy until `deadline` (`None`: for ever).
    fn next(
        &mut self,
        deadline: Option<Instant>,
        mut copy: impl FnMut(&mut [u8], NonNull<u8>),
    ) -> Result<Found, RecvError> {
        if self.lossy.is_none() {
            if let Some(found) = self.poll_in_place()? {
                return Ok(found);
            }
            let bit = 1u64 << self.index;
            let Self { shared, pos, cached_write, last, backlog_missed, wait, .. } = self;
            let waited = wait_for(
                *wait,
                shared.readers_parking(bit),
                deadline,
                || poll_in_place(shared, *pos, cached_write, last, backlog_missed),
                || if shared.writer_gone() { Err(RecvError::Disconnected) } else { Ok(()) },
                || RecvError::Timeout,
            );
            return match waited {
                Ok(found) => Ok(found),
                // The writer died: deliver what it published first.
                Err(RecvError::Disconnected) => {
                    let found = self.poll_in_place()?;
                    if found.is_none() {
                        self.empty_polls = crate::ring::WRITER_SEEN_GONE;
                    }
                    found.ok_or(RecvError::Disconnected)
                }
                Err(e) => Err(e),
            };
        }
        loop {
            if let Some(found) = self.poll(&mut copy)? {
                return Ok(found);
            }
            let next = self.lossy.as_ref().map_or(self.pos, LossyCore::position);
            let shared = &self.shared;
            let waited = wait_for(
                self.wait,
                shared.readers_parking(1u64 << self.index),
                deadline,
                || Ok((shared.write_pos().load(Ordering::Acquire) > next).then_some(())),
                || if shared.writer_gone() { Err(RecvError::Disconnected) } else { Ok(()) },
                || RecvError::Timeout,
            );
            match waited {
                Ok(()) => {}
                // The writer died: deliver what it published first.
                Err(RecvError::Disconnected) => {
                    let found = self.poll(&mut copy)?;
                    if found.is_none() {
                        self.empty_polls = crate::ring::WRITER_SEEN_GONE;
                    }
                    return found.ok_or(RecvError::Disconnected);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The message bytes of a found message: the slot in place, or the copy buffer; `len`
    /// bytes (at most the slot size, asserted) from the slot's start.
    #[inline]
    fn bytes(&self, found: Found, len: usize) -> &[u8] {
        match found {
            Found::InPlace { index, .. } => {
                assert!(len <= self.shared.slot_size);
                let ptr = self.shared.slot_bytes(index);
                // SAFETY: `slot_bytes` checked that the slot's `slot_size ≥ len` bytes lie in the
                // data area; the slot is published (below the Acquire-loaded `write_pos`, SYNC
                // POINT A) and this tethered reader's cursor keeps the writer off it until
                // `release`, which needs `&mut self` (so not while this borrow lives); the bytes
                // are initialised (the segment was zero-filled on creation).
                unsafe { std::slice::from_raw_parts(ptr.as_ptr(), len) }
            }
            Found::Copied { .. } => &self.buffer.as_bytes()[..len],
        }
    }
}

/// The in-place read of a tethered reader at `pos` (see `ReaderEnd::poll_in_place`), over
/// the reader's fields split so that the spin loop in `ReaderEnd::next` can borrow the parking
/// words of `shared` at the same time.
#[inline]
fn poll_in_place(
    shared: &Shared,
    pos: u64,
    cached_write: &mut u64,
    last: &mut u64,
    backlog_missed: &mut u64,
) -> Result<Option<Found>, RecvError> {
    if pos == *cached_write {
        // SYNC POINT A (Acquire): pairs with the writer's Release store of `write_pos`.
        let write = shared.write_pos().load(Ordering::Acquire);
        check(pos, write, shared.capacity)?;
        *cached_write = write;
        if write == pos {
            return Ok(None);
        }
    }
    *last = pos;
    Ok(Some(Found::InPlace {
        index: wrap(pos, shared.capacity),
        missed: std::mem::take(backlog_missed),
    }))
}

// SAFETY: the `NonNull`s point into the segment that `shared` (an `Arc`) keeps alive and are
// only used for atomics; the rest is owned data.
unsafe impl<B: ?Sized + Send> Send for ReaderEnd<B> {}
// SAFETY: as for `Send`.
unsafe impl<B: ?Sized + Sync> Sync for ReaderEnd<B> {}

impl<B: ?Sized> Drop for ReaderEnd<B> {
    fn drop(&mut self) {
        let cursor = self.shared.cursor(self.index);
        let state = cursor.state.load(Ordering::Relaxed);
        // Release: pairs with the Acquire load of `state` in the writer's rescan
        // (`ring::broadcast::WriterCore::rescan`), which stops honouring this cursor once it
        // sees the entry free.
        cursor.state.store((state & !STATE_MASK) | STATE_FREE, Ordering::Release);
        if self.counted_may_park {
            take_back_may_park(&self.shared, self.index);
        }
        self.shared.segment.unlock_reader(self.index);
        self.shared.writer_parking().wake();
    }
}
