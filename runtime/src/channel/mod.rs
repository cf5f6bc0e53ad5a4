//! The typed SPSC channel (`docs/PROTOCOL.md` §3): one writer, one reader, one [`FlatMessage`]
//! type, zero-copy in both directions.
//!
//! ```
//! use flatipc::channel::{channel, ChannelOptions};
//! use flatipc::prelude::*;
//!
//! #[derive(Clone, Copy, Debug, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
//! #[zerocopy(crate = "flatipc::zerocopy")]
//! #[repr(C)]
//! struct Tick { seq: u64, price: f64 }
//!
//! let (mut tx, mut rx) = channel::<Tick>(&ChannelOptions::default());
//! let mut slot = tx.loan().unwrap();        // &mut Tick, zeroed, in the ring itself
//! slot.seq = 1;
//! slot.price = 101.25;
//! slot.commit();                            // publish
//! let tick = rx.try_recv().unwrap();        // &Tick, in place; released when dropped
//! assert_eq!((tick.seq, tick.price), (1, 101.25));
//! ```

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::OpenError;
use crate::ring::core::{ReaderCore, WriterCore};
use crate::ring::epoch::{self, Epochs};
use crate::ring::{Mode, Shared};
use crate::segment::spec::entry_of;
use crate::segment::{layout, Expect, RingKind, Segment, SegmentSpec};
use crate::wait::{wait_for, WaitStrategy};
use crate::FlatMessage;

pub use crate::ring::{EpochProblem, RecvError, SendError};

const WRITER: usize = layout::PEER_WRITER;
const READER: usize = layout::PEER_READER;

/// How a channel is created and how its ends wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelOptions {
    /// Number of slots; rounded up to a power of two (at least 2).
    pub capacity: u64,
    /// How `send`, `recv` and `recv_timeout` wait.
    pub wait: WaitStrategy,
}

impl Default for ChannelOptions {
    fn default() -> Self {
        Self { capacity: 1024, wait: WaitStrategy::default() }
    }
}

fn spec_of<T: FlatMessage>(options: &ChannelOptions) -> SegmentSpec {
    SegmentSpec::typed_channel(options.capacity.max(2).next_power_of_two(), entry_of::<T>())
}

fn named_segment<T: FlatMessage>(
    name: &str,
    mode: Mode<'_, ChannelOptions>,
) -> Result<Arc<Segment>, OpenError> {
    let expect = Expect { kind: RingKind::TypedChannel, messages: vec![entry_of::<T>()] };
    crate::ring::named_segment(name, mode, spec_of::<T>, &expect)
}

/// The writing end of a typed channel.
#[derive(Debug)]
pub struct Writer<T: FlatMessage> {
    shared: Shared,
    core: WriterCore,
    wait: WaitStrategy,
    _type: PhantomData<fn(T)>,
}

/// The reading end of a typed channel.
#[derive(Debug)]
pub struct Reader<T: FlatMessage> {
    shared: Shared,
    core: ReaderCore,
    wait: WaitStrategy,
    empty_polls: u32,
    /// The writer epochs, as this reader reads them (`docs/PROTOCOL.md` §3).
    epochs: Epochs<T>,
    _type: PhantomData<fn() -> T>,
}

/// An in-process channel (heap-backed segment, same protocol): for threads of one process.
pub fn channel<T: FlatMessage>(options: &ChannelOptions) -> (Writer<T>, Reader<T>) {
    let segment = Arc::new(Segment::heap(&spec_of::<T>(options)));
    segment.publish_ready();
    let writer = Writer::attach(Arc::clone(&segment), options.wait)
        .expect("a fresh heap segment is consistent");
    let reader = Reader::attach(segment, options.wait).expect("a fresh heap segment is consistent");
    (writer, reader)
}

impl<T: FlatMessage> Writer<T> {
    fn attach(segment: Arc<Segment>, wait: WaitStrategy) -> Result<Self, OpenError> {
        segment.lock_peer(WRITER)?;
        // A newer writer merges its steps, and must fit the slots of a ring an older peer
        // created (`docs/PROTOCOL.md` §3 "Writer epochs").
        let size = match epoch::upgrade::<T>(&segment) {
            Ok(size) => size,
            Err(e) => {
                segment.unlock_peer(WRITER);
                return Err(e);
            }
        };
        let shared = Shared::new(segment);
        shared.announce(WRITER, wait);
        let core = WriterCore::attach(shared.positions(), shared.capacity, 1)
            .map_err(|c| shared.corrupt_at_attach(c))?;
        epoch::record(&shared.segment, core.position(), T::VERSION, size);
        Ok(Self { shared, core, wait, _type: PhantomData })
    }

    /// Creates the named segment `/dev/shm/flatipc.<name>` and attaches as its writer.
    ///
    /// # Errors
    ///
    /// [`OpenError`] if the segment exists, the name is invalid, or `/dev/shm` is too small.
    pub fn create(name: &str, options: &ChannelOptions) -> Result<Self, OpenError> {
        Self::attach(named_segment::<T>(name, Mode::Create(options))?, options.wait)
    }

    /// Opens an existing segment, or creates it (replacing a stale one left by dead processes),
    /// and attaches as its writer; a restarted writer continues after the last committed message.
    ///
    /// # Errors
    ///
    /// [`OpenError`]: another writer is attached, the segment carries another type, or it is
    /// corrupt.
    pub fn open_or_create(name: &str, options: &ChannelOptions) -> Result<Self, OpenError> {
        Self::attach(named_segment::<T>(name, Mode::OpenOrCreate(options))?, options.wait)
    }

    /// Opens an existing segment and attaches as its writer.
    ///
    /// # Errors
    ///
    /// As [`Writer::open_or_create`], or the segment does not exist.
    pub fn open(name: &str, wait: WaitStrategy) -> Result<Self, OpenError> {
        Self::attach(named_segment::<T>(name, Mode::Open)?, wait)
    }

    /// Lends the next free slot, zeroed, as `&mut T`; [`Loan::commit`] publishes it, dropping the
    /// loan abandons it.
    ///
    /// # Errors
    ///
    /// [`SendError::Full`] or [`SendError::Corrupt`].
    pub fn loan(&mut self) -> Result<Loan<'_, T>, SendError> {
        let loan = self.loan_dirty()?;
        // SAFETY: the loaned slot is valid for writes of one `T` (aligned, in bounds, not
        // accessed by the reader until commit); all-zero bytes are a valid `T` (`FromZeros`).
        // Zeroing in place, not `*loan = T::new_zeroed()`, keeps large messages off the stack.
        unsafe { loan.slot.as_ptr().write_bytes(0, 1) };
        Ok(loan)
    }

    /// Like [`Writer::loan`], but the slot keeps whatever bytes it held (any bytes are a valid
    /// `T`): for large messages whose writer overwrites every field it uses anyway.
    ///
    /// # Errors
    ///
    /// [`SendError::Full`] or [`SendError::Corrupt`].
    pub fn loan_dirty(&mut self) -> Result<Loan<'_, T>, SendError> {
        let index = self.core.try_reserve(self.shared.positions())?.ok_or(SendError::Full)?;
        let slot = self.shared.slot::<T>(index);
        Ok(Loan { writer: self, slot })
    }

    /// Copies `message` into the next slot and publishes it.
    ///
    /// # Errors
    ///
    /// [`SendError::Full`] or [`SendError::Corrupt`].
    pub fn try_send(&mut self, message: &T) -> Result<(), SendError> {
        let mut loan = self.loan_dirty()?;
        *loan = *message;
        loan.commit();
        Ok(())
    }

    /// Copies as many of `messages` as fit and publishes them with one store; returns how many.
    ///
    /// # Errors
    ///
    /// [`SendError::Corrupt`].
    pub fn try_send_batch(&mut self, messages: &[T]) -> Result<usize, SendError> {
        let p = self.shared.positions();
        let free = self.core.free(p, messages.len() as u64)?;
        let n = messages.len().min(usize::try_from(free).unwrap_or(usize::MAX));
        for (k, m) in messages[..n].iter().enumerate() {
            let slot = self.shared.slot::<T>(self.core.slot_after(k as u64));
            // SAFETY: the slot is free (k < free) so the reader does not access it until the
            // commit below; it is aligned and large enough for `T` (see `Shared::slot`); `T` is
            // `Copy`, so overwriting drops nothing.
            unsafe { slot.as_ptr().write(*m) };
        }
        if n > 0 {
            self.core.advance(p, n as u64);
            self.shared.reader_parking().wake();
        }
        Ok(n)
    }

    /// Sends, waiting for a free slot according to the wait strategy.
    ///
    /// # Errors
    ///
    /// [`SendError::Corrupt`].
    pub fn send(&mut self, message: &T) -> Result<(), SendError> {
        self.send_deadline(message, None)
    }

    /// Sends, waiting at most `timeout` for a free slot.
    ///
    /// # Errors
    ///
    /// [`SendError::Timeout`] or [`SendError::Corrupt`].
    pub fn send_timeout(&mut self, message: &T, timeout: Duration) -> Result<(), SendError> {
        self.send_deadline(message, Some(Instant::now() + timeout))
    }

    fn send_deadline(&mut self, message: &T, deadline: Option<Instant>) -> Result<(), SendError> {
        let shared = &self.shared;
        let core = &mut self.core;
        let index = wait_for(
            self.wait,
            shared.writer_parking(),
            deadline,
            || core.try_reserve(shared.positions()).map_err(SendError::from),
            || Ok(()),
            || SendError::Timeout,
        )?;
        let slot = self.shared.slot::<T>(index);
        // SAFETY: `index` was just reserved, so the reader does not access the slot until the
        // commit below; it is aligned and large enough for `T` (`Shared::slot`); `T: Copy`.
        unsafe { slot.as_ptr().write(*message) };
        self.core.advance(self.shared.positions(), 1);
        self.shared.reader_parking().wake();
        Ok(())
    }

    /// Messages committed since the segment was created.
    pub fn position(&self) -> u64 {
        self.core.position()
    }
}

impl<T: FlatMessage> Drop for Writer<T> {
    fn drop(&mut self) {
        self.shared.segment.unlock_peer(WRITER);
        // A reader parked on an empty ring must see the disconnect.
        self.shared.reader_parking().wake();
    }
}

/// A slot lent by [`Writer::loan`]: `&mut T` into the ring. Publish it with [`Loan::commit`];
/// dropping it without committing abandons it (the reader never sees it).
#[derive(Debug)]
pub struct Loan<'a, T: FlatMessage> {
    writer: &'a mut Writer<T>,
    slot: NonNull<T>,
}

impl<T: FlatMessage> Loan<'_, T> {
    /// Publishes the message to the reader.
    pub fn commit(self) {
        let shared = &self.writer.shared;
        self.writer.core.advance(shared.positions(), 1);
        shared.reader_parking().wake();
    }
}

impl<T: FlatMessage> Deref for Loan<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the slot is aligned and in bounds (`Shared::slot`); it holds initialised bytes
        // (segments are zero-filled on creation and only ever hold whole `T`s), every bit pattern
        // is a valid `T` (`T: FromBytes`), and the reader does not touch it until commit, so
        // nothing else accesses it while this loan lives.
        unsafe { self.slot.as_ref() }
    }
}

impl<T: FlatMessage> DerefMut for Loan<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; the loan borrows the writer mutably, so this is the only
        // reference to the slot in this process.
        unsafe { self.slot.as_mut() }
    }
}

impl<T: FlatMessage> Reader<T> {
    fn attach(segment: Arc<Segment>, wait: WaitStrategy) -> Result<Self, OpenError> {
        segment.lock_peer(READER)?;
        let shared = Shared::new(segment);
        shared.announce(READER, wait);
        let core = ReaderCore::attach(shared.positions(), shared.capacity, 1)
            .map_err(|c| shared.corrupt_at_attach(c))?;
        let epochs = Epochs::new(&shared.segment)?;
        Ok(Self { shared, core, wait, empty_polls: 0, epochs, _type: PhantomData })
    }

    /// Creates the named segment and attaches as its reader (a writer may attach later).
    ///
    /// # Errors
    ///
    /// As [`Writer::create`].
    pub fn create(name: &str, options: &ChannelOptions) -> Result<Self, OpenError> {
        Self::attach(named_segment::<T>(name, Mode::Create(options))?, options.wait)
    }

    /// Opens or creates the named segment and attaches as its reader; a restarted reader resumes
    /// after the last message it released.
    ///
    /// # Errors
    ///
    /// As [`Writer::open_or_create`].
    pub fn open_or_create(name: &str, options: &ChannelOptions) -> Result<Self, OpenError> {
        Self::attach(named_segment::<T>(name, Mode::OpenOrCreate(options))?, options.wait)
    }

    /// Opens an existing segment and attaches as its reader.
    ///
    /// # Errors
    ///
    /// As [`Writer::open`].
    pub fn open(name: &str, wait: WaitStrategy) -> Result<Self, OpenError> {
        Self::attach(named_segment::<T>(name, Mode::Open)?, wait)
    }

    /// Whether a writer is attached (a live process holds the writer lock).
    pub fn writer_alive(&self) -> bool {
        self.shared.segment.peer_alive(WRITER)
    }

    fn poll(&mut self) -> Result<Option<u64>, RecvError> {
        Ok(self.core.try_acquire(self.shared.positions())?)
    }

    fn empty_or_disconnected(&mut self) -> RecvError {
        if !self.shared.writer_left(&mut self.empty_polls) {
            return RecvError::Empty;
        }
        // The writer is gone. Re-check: it may have committed just before it left.
        match self.poll() {
            Ok(None) => RecvError::Disconnected,
            Ok(Some(_)) => RecvError::Empty,
            Err(e) => e,
        }
    }

    /// Receives the next message in place, if one is committed.
    ///
    /// # Errors
    ///
    /// [`RecvError::Empty`], [`RecvError::Disconnected`] (writer gone, ring drained),
    /// [`RecvError::Corrupt`], or [`RecvError::Invalid`] (the message broke its type's data
    /// rules; it is skipped, so the next call moves on).
    pub fn try_recv(&mut self) -> Result<Received<'_, T>, RecvError> {
        match self.poll()? {
            Some(index) => self.received(index),
            None => Err(self.empty_or_disconnected()),
        }
    }

    fn received(&mut self, index: u64) -> Result<Received<'_, T>, RecvError> {
        let position = self.core.position();
        let slot = match self.message_at(position, index) {
            Ok(slot) => slot,
            Err(e) => {
                self.release(1);
                return Err(e);
            }
        };
        if T::NEEDS_VALIDATION {
            // SAFETY: as in `Received::deref`: the slot is committed, aligned, in bounds, and the
            // writer does not touch it until we release it (or it is our own widened copy).
            let value = unsafe { slot.as_ref() };
            if let Err(error) = value.validate() {
                self.release(1);
                return Err(RecvError::Invalid { position, error });
            }
        }
        let version = self.epochs.version();
        Ok(Received { reader: self, slot, version })
    }

    /// The message at `position` (committed, in slot `index`) as this reader's `T`: the slot
    /// itself, or the widened copy of an older writer's message (`docs/PROTOCOL.md` §3 "Writer
    /// epochs"). `Err` if its epoch cannot be used or its writer's schema diverged.
    #[inline]
    fn message_at(&mut self, position: u64, index: u64) -> Result<NonNull<T>, RecvError> {
        // Every position below the `write_pos` the core last loaded is committed.
        let committed = self.core.position() + self.core.pending();
        if !self.epochs.at(&self.shared, position, committed)? {
            // The epoch's size is at least `size_of::<T>()` and at most `slot_size`.
            return Ok(self.shared.slot::<T>(index));
        }
        // SAFETY: the slot is committed and not yet released, so the writer does not write it
        // while we copy; `slot::<u8>` points to the slot's `slot_size` bytes in bounds, and the
        // epoch's size is at most `slot_size` (checked by `Epochs::at`).
        Ok(unsafe { self.epochs.widen(self.shared.slot::<u8>(index)) })
    }

    fn release(&mut self, n: u64) {
        self.core.release(self.shared.positions(), n);
        self.shared.writer_parking().wake();
    }

    /// Receives the next message, waiting according to the wait strategy.
    ///
    /// # Errors
    ///
    /// [`RecvError::Disconnected`], [`RecvError::Corrupt`] or [`RecvError::Invalid`].
    pub fn recv(&mut self) -> Result<Received<'_, T>, RecvError> {
        self.recv_deadline(None)
    }

    /// Receives the next message, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Reader::recv`], or [`RecvError::Timeout`].
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Received<'_, T>, RecvError> {
        self.recv_deadline(Some(Instant::now() + timeout))
    }

    fn recv_deadline(&mut self, deadline: Option<Instant>) -> Result<Received<'_, T>, RecvError> {
        let shared = &self.shared;
        let core = &mut self.core;
        let index = wait_for(
            self.wait,
            shared.reader_parking(),
            deadline,
            || core.try_acquire(shared.positions()).map_err(RecvError::from),
            || {
                if shared.writer_gone() {
                    Err(RecvError::Disconnected)
                } else {
                    Ok(())
                }
            },
            || RecvError::Timeout,
        );
        match index {
            Ok(index) => self.received(index),
            // The writer died: deliver what it committed first.
            Err(RecvError::Disconnected) => match self.poll()? {
                Some(index) => self.received(index),
                None => {
                    self.empty_polls = crate::ring::WRITER_SEEN_GONE;
                    Err(RecvError::Disconnected)
                }
            },
            Err(e) => Err(e),
        }
    }

    /// Calls `f` on every message committed so far, in order, then releases them all with one
    /// store; returns how many. Invalid messages are skipped and reported after the batch.
    ///
    /// # Errors
    ///
    /// [`RecvError::Corrupt`], or the first [`RecvError::Invalid`] (the batch is still drained).
    pub fn drain(&mut self, mut f: impl FnMut(&T)) -> Result<usize, RecvError> {
        if self.poll()?.is_none() {
            return Ok(0);
        }
        let n = self.core.pending();
        let mut first_error = None;
        for k in 0..n {
            let position = self.core.position() + k;
            let slot = match self.message_at(position, self.core.slot_after(k)) {
                Ok(slot) => slot,
                Err(e) => {
                    first_error.get_or_insert(e);
                    continue;
                }
            };
            // SAFETY: positions `pos .. pos + n` are committed (n = pending after an Acquire load
            // of write_pos) and not yet released, so the writer does not touch these slots; each
            // is aligned and in bounds (`Shared::slot`), or `slot` is our own widened copy.
            let value = unsafe { slot.as_ref() };
            match value.validate() {
                Ok(()) => f(value),
                Err(error) => {
                    first_error.get_or_insert(RecvError::Invalid { position, error });
                }
            }
        }
        self.release(n);
        first_error.map_or(Ok(usize::try_from(n).unwrap_or(usize::MAX)), Err)
    }

    /// Messages released since the segment was created.
    pub fn position(&self) -> u64 {
        self.core.position()
    }
}

impl<T: FlatMessage> Drop for Reader<T> {
    fn drop(&mut self) {
        self.shared.segment.unlock_peer(READER);
        self.shared.writer_parking().wake();
    }
}

/// A received message, read in place in the ring; the slot is released when this is dropped.
#[derive(Debug)]
pub struct Received<'a, T: FlatMessage> {
    reader: &'a mut Reader<T>,
    slot: NonNull<T>,
    version: u16,
}

impl<T: FlatMessage> Received<'_, T> {
    /// The message's position in the stream (0 for the first message ever committed).
    pub fn position(&self) -> u64 {
        self.reader.core.position()
    }

    /// The schema version its writer was built from (its [`FlatMessage::VERSION`]). When it is
    /// older than `T::VERSION`, the members added since read as zero and `T::has_<member>`
    /// says which; when newer, this is the prefix `T` knows.
    pub fn version(&self) -> u16 {
        self.version
    }
}

impl<T: FlatMessage> Deref for Received<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the slot is committed (the reader's Acquire load of `write_pos` saw it, SYNC
        // POINT A) and not yet released, so the writer does not write it while this guard lives;
        // it is aligned and in bounds (`Shared::slot`); every bit pattern is a valid `T`. Or it
        // is the reader's widened copy, which this guard's borrow of the reader keeps unchanged.
        unsafe { self.slot.as_ref() }
    }
}

impl<T: FlatMessage> Drop for Received<'_, T> {
    fn drop(&mut self) {
        self.reader.release(1);
    }
}
