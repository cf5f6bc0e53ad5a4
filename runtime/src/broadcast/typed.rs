//! The typed broadcast ring (`docs/PROTOCOL.md` §5): one message type `T`, one message per slot.

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{
    load_atomically, store_atomically, BroadcastOptions, BroadcastShared, Found, ReaderEnd,
    ReaderOptions, WriterEnd,
};
use crate::error::OpenError;
use crate::ring::epoch::{self, Epochs};
use crate::ring::{Mode, RecvError, SendError};
use crate::segment::spec::entry_of;
use crate::segment::{Expect, RingKind, Segment, SegmentSpec};
use crate::wait::WaitStrategy;
use crate::FlatMessage;

fn spec_of<T: FlatMessage>(options: &BroadcastOptions) -> SegmentSpec {
    let capacity = options.capacity.max(2).next_power_of_two();
    SegmentSpec::broadcast(capacity, options.max_readers, entry_of::<T>())
}

fn named_segment<T: FlatMessage>(
    name: &str,
    mode: Mode<'_, BroadcastOptions>,
) -> Result<Arc<Segment>, OpenError> {
    let expect = Expect { kind: RingKind::Broadcast, messages: vec![entry_of::<T>()] };
    crate::ring::named_segment(name, mode, spec_of::<T>, &expect)
}

/// An in-process broadcast ring (heap-backed segment, same protocol); attach readers with
/// [`BroadcastWriter::subscribe`].
///
/// # Panics
///
/// If `options.max_readers` is not in `1..=64`.
pub fn broadcast<T: FlatMessage>(options: &BroadcastOptions) -> BroadcastWriter<T> {
    let spec = spec_of::<T>(options);
    if let Err(e) = spec.validate() {
        panic!("invalid broadcast options: {e}");
    }
    let segment = Arc::new(Segment::heap(&spec));
    segment.publish_ready();
    BroadcastWriter::attach(segment, options.wait).expect("a fresh heap segment is consistent")
}

/// The writing end of a typed broadcast ring.
#[derive(Debug)]
pub struct BroadcastWriter<T: FlatMessage> {
    end: WriterEnd,
    /// The message `loan` lends; `commit` copies it into the slot with atomic stores.
    staging: Box<T>,
}

impl<T: FlatMessage> BroadcastWriter<T> {
    fn attach(segment: Arc<Segment>, wait: WaitStrategy) -> Result<Self, OpenError> {
        let staging = T::new_box_zeroed().map_err(|_| OpenError::InvalidSpec {
            reason: format!("cannot allocate the {}-byte loan buffer", size_of::<T>()),
        })?;
        let upgrade = |s: &Segment| epoch::upgrade::<T>(s).map(|size| Some((T::VERSION, size)));
        Ok(Self { end: WriterEnd::attach(segment, wait, upgrade)?, staging })
    }

    /// Creates the named segment `/dev/shm/flatipc.<name>` and attaches as its writer.
    ///
    /// # Errors
    ///
    /// [`OpenError`] if the segment exists, the name or options are invalid, or `/dev/shm` is
    /// too small.
    pub fn create(name: &str, options: &BroadcastOptions) -> Result<Self, OpenError> {
        Self::attach(named_segment::<T>(name, Mode::Create(options))?, options.wait)
    }

    /// Opens the named segment, or creates it (replacing a stale one), and attaches as its
    /// writer; a restarted writer continues after the last published message, and attached
    /// readers stay attached.
    ///
    /// # Errors
    ///
    /// [`OpenError`]: another writer is attached, the segment carries another type, or it is
    /// corrupt.
    pub fn open_or_create(name: &str, options: &BroadcastOptions) -> Result<Self, OpenError> {
        Self::attach(named_segment::<T>(name, Mode::OpenOrCreate(options))?, options.wait)
    }

    /// Opens an existing segment and attaches as its writer.
    ///
    /// # Errors
    ///
    /// As [`BroadcastWriter::open_or_create`], or the segment does not exist.
    pub fn open(name: &str, wait: WaitStrategy) -> Result<Self, OpenError> {
        Self::attach(named_segment::<T>(name, Mode::Open)?, wait)
    }

    /// Attaches a new reader to this ring (any ring: in-process or named).
    ///
    /// # Errors
    ///
    /// [`OpenError::ReadersFull`], or [`OpenError::Io`].
    pub fn subscribe(&self, options: &ReaderOptions) -> Result<BroadcastReader<T>, OpenError> {
        BroadcastReader::attach(Arc::clone(&self.end.shared.segment), options)
    }

    /// Writes `message` into the next slot (free, reserved by the caller) and publishes it.
    fn publish(&mut self, message: &T) {
        self.end.publish(|slot| store_atomically(slot, message.as_bytes()));
    }

    /// Copies `message` into the next slot and publishes it to every reader.
    ///
    /// # Errors
    ///
    /// [`SendError::Full`]: a tethered reader has not read the oldest slot yet.
    pub fn try_send(&mut self, message: &T) -> Result<(), SendError> {
        self.end.try_reserve()?;
        self.publish(message);
        Ok(())
    }

    /// Lends a zeroed message to build; [`BroadcastLoan::commit`] copies it into the ring (a
    /// broadcast writer never lends ring memory, because lossy readers may read any slot).
    pub fn loan(&mut self) -> BroadcastLoan<'_, T> {
        self.staging.zero();
        BroadcastLoan { writer: self }
    }

    /// Sends, waiting for tethered readers according to the wait strategy.
    ///
    /// # Errors
    ///
    /// [`SendError::Corrupt`] if the shared position is impossible.
    pub fn send(&mut self, message: &T) -> Result<(), SendError> {
        self.end.reserve(None)?;
        self.publish(message);
        Ok(())
    }

    /// Sends, waiting at most `timeout` for tethered readers.
    ///
    /// # Errors
    ///
    /// [`SendError::Timeout`], or as [`BroadcastWriter::send`].
    pub fn send_timeout(&mut self, message: &T, timeout: Duration) -> Result<(), SendError> {
        self.end.reserve(Some(Instant::now() + timeout))?;
        self.publish(message);
        Ok(())
    }

    /// Messages published since the segment was created.
    pub fn position(&self) -> u64 {
        self.end.core.position()
    }
}

/// A message lent by [`BroadcastWriter::loan`], built in the writer's memory;
/// [`BroadcastLoan::commit`] publishes it (waiting for tethered readers like `send`).
#[derive(Debug)]
pub struct BroadcastLoan<'a, T: FlatMessage> {
    writer: &'a mut BroadcastWriter<T>,
}

impl<T: FlatMessage> BroadcastLoan<'_, T> {
    /// Copies the message into the ring and publishes it, waiting for room as `send` does.
    ///
    /// # Errors
    ///
    /// As [`BroadcastWriter::send`].
    pub fn commit(self) -> Result<(), SendError> {
        let writer = self.writer;
        writer.end.reserve(None)?;
        let staging = &writer.staging;
        writer.end.publish(|slot| store_atomically(slot, staging.as_bytes()));
        Ok(())
    }
}

impl<T: FlatMessage> Deref for BroadcastLoan<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.writer.staging
    }
}

impl<T: FlatMessage> DerefMut for BroadcastLoan<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.writer.staging
    }
}

/// Copies a whole `T` out of a slot (lossy reads).
fn copy_message(buffer: &mut [u8], slot: NonNull<u8>) {
    load_atomically(buffer, slot);
}

/// The reading end of a typed broadcast ring.
#[derive(Debug)]
pub struct BroadcastReader<T: FlatMessage> {
    end: ReaderEnd<T>,
    /// The writer epochs, as this reader reads them (`docs/PROTOCOL.md` §3 and §5).
    epochs: Epochs<T>,
    _type: PhantomData<fn() -> T>,
}

impl<T: FlatMessage> BroadcastReader<T> {
    fn attach(segment: Arc<Segment>, options: &ReaderOptions) -> Result<Self, OpenError> {
        let buffer = T::new_box_zeroed().map_err(|_| OpenError::InvalidSpec {
            reason: format!("cannot allocate the {}-byte copy buffer", size_of::<T>()),
        })?;
        if size_of::<T>() > segment.slot_size() as usize {
            // Tethered readers read in place and lossy ones copy a whole `T` out of the slot.
            return Err(OpenError::CannotUpgrade {
                path: Segment::path(segment.name()),
                message: T::NAME.to_owned(),
                version: T::VERSION,
                reason: format!(
                    "its {} bytes do not fit this ring's {}-byte slots (it was created for an \
                     older, smaller version); remove the segment while no peer is attached and \
                     let the newer peer create it",
                    size_of::<T>(),
                    segment.slot_size()
                ),
            });
        }
        let epochs = Epochs::new(&segment)?;
        Ok(Self { end: ReaderEnd::attach(segment, options, buffer)?, epochs, _type: PhantomData })
    }

    /// Opens the named segment and attaches a new reader.
    ///
    /// # Errors
    ///
    /// [`OpenError`]: the segment does not exist or carries another type,
    /// [`OpenError::ReadersFull`].
    pub fn open(name: &str, options: &ReaderOptions) -> Result<Self, OpenError> {
        Self::attach(named_segment::<T>(name, Mode::Open)?, options)
    }

    /// Opens the named segment, or creates it with `ring` (a reader may start before the
    /// writer), and attaches a new reader.
    ///
    /// # Errors
    ///
    /// As [`BroadcastReader::open`], or those of creating the segment.
    pub fn open_or_create(
        name: &str,
        ring: &BroadcastOptions,
        options: &ReaderOptions,
    ) -> Result<Self, OpenError> {
        Self::attach(named_segment::<T>(name, Mode::OpenOrCreate(ring))?, options)
    }

    /// Messages this reader missed because the writer lapped it (lossy readers, and tethered
    /// readers reading the backlog of [`super::StartAt::Oldest`]).
    pub fn missed(&self) -> u64 {
        self.end.missed_total
    }

    /// Whether a writer is attached.
    pub fn writer_alive(&self) -> bool {
        self.end.shared.segment.peer_alive(crate::ring::WRITER)
    }

    /// Finds the message's writer epoch (zero-extending an older writer's message), checks its
    /// type's data rules and wraps it; a message that fails is skipped and reported.
    fn found(&mut self, found: Found) -> Result<Message<'_, T>, RecvError> {
        let position = self.end.last;
        let skip = |end: &mut ReaderEnd<T>, error| {
            if matches!(found, Found::InPlace { .. }) {
                end.release();
            }
            Err(error)
        };
        // The message was published (seen by the Acquire load of its slot's sequence word or of
        // `write_pos`), so its epoch is visible; positions after it may not be yet.
        let widened = match self.epochs.at(&self.end.shared, position, position + 1) {
            Ok(false) => None,
            Ok(true) => {
                let bytes = match found {
                    Found::InPlace { index, .. } => self.end.shared.slot_bytes(index),
                    Found::Copied { .. } => NonNull::from(&mut *self.end.buffer).cast::<u8>(),
                };
                // SAFETY: an in-place slot is published and this tethered reader's cursor keeps
                // the writer off it until released; the copy buffer is the reader's own, so no
                // one writes either during the copy. `widen` reads the epoch's size, which
                // `Epochs::at` checked to be at most `slot_size` (the slot's bytes) and, as it
                // widens, below `size_of::<T>()` (the copy buffer's bytes).
                Some(unsafe { self.epochs.widen(bytes) })
            }
            Err(e) => return skip(&mut self.end, e),
        };
        if T::NEEDS_VALIDATION {
            let value = match widened {
                // SAFETY: the reader's own buffer, which nothing else writes while `self` is
                // borrowed.
                Some(ptr) => unsafe { ptr.as_ref() },
                None => T::ref_from_bytes(self.end.bytes(found, size_of::<T>()))
                    .expect("a slot or copy buffer holds an aligned T"),
            };
            if let Err(error) = value.validate() {
                return skip(&mut self.end, RecvError::Invalid { position, error });
            }
        }
        let version = self.epochs.version();
        Ok(Message { reader: &mut self.end, found, widened, version })
    }

    /// Receives the next message if one is ready: in place for a tethered reader, as a
    /// validated copy for a lossy one.
    ///
    /// # Errors
    ///
    /// [`RecvError::Empty`], [`RecvError::Disconnected`] (writer gone, ring drained),
    /// [`RecvError::Corrupt`], [`RecvError::CorruptFrame`], [`RecvError::Invalid`] (skipped).
    pub fn try_recv(&mut self) -> Result<Message<'_, T>, RecvError> {
        let found = self.end.try_next(copy_message)?;
        self.found(found)
    }

    /// Receives the next message, waiting according to the wait strategy.
    ///
    /// # Errors
    ///
    /// As [`BroadcastReader::try_recv`], except `Empty`.
    pub fn recv(&mut self) -> Result<Message<'_, T>, RecvError> {
        let found = self.end.next(None, copy_message)?;
        self.found(found)
    }

    /// Receives the next message, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`BroadcastReader::recv`], or [`RecvError::Timeout`].
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Message<'_, T>, RecvError> {
        let found = self.end.next(Some(Instant::now() + timeout), copy_message)?;
        self.found(found)
    }
}

/// A received message: `&T` in place (tethered reader) or in the reader's copy buffer (lossy);
/// a tethered reader's slot is released when this is dropped.
#[derive(Debug)]
pub struct Message<'a, T: FlatMessage> {
    reader: &'a mut ReaderEnd<T>,
    found: Found,
    /// The reader's zero-extended copy of an older writer's message, if it is one.
    widened: Option<NonNull<T>>,
    version: u16,
}

impl<T: FlatMessage> Message<'_, T> {
    /// The message's position in the ring (0 for the first message ever published).
    pub fn position(&self) -> u64 {
        self.reader.last
    }

    /// The schema version its writer was built from (its [`FlatMessage::VERSION`]). When it is
    /// older than `T::VERSION`, the members added since read as zero and `T::has_<member>`
    /// says which; when newer, this is the prefix `T` knows.
    pub fn version(&self) -> u16 {
        self.version
    }

    /// Messages this reader missed just before this one (lapped by the writer).
    pub fn missed(&self) -> u64 {
        self.found.missed()
    }
}

impl<T: FlatMessage> Deref for Message<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        if let Some(widened) = self.widened {
            // SAFETY: the reader's zero-extended copy (`Epochs::widen`), which the reader does
            // not touch while this guard borrows it mutably.
            return unsafe { widened.as_ref() };
        }
        match self.found {
            Found::InPlace { index, .. } => {
                let ptr = self.reader.shared.slot::<T>(index);
                // SAFETY: the slot is published (below the Acquire-loaded `write_pos`, SYNC
                // POINT A) and this tethered reader's cursor keeps the writer off it until the
                // release in `drop`; `slot` checked that it is in bounds and 64-aligned (so
                // aligned for `T`, whose alignment the segment's message entry bounds by 64) and
                // holds `size_of::<T>()` bytes; every bit pattern is a valid `T`.
                unsafe { ptr.as_ref() }
            }
            Found::Copied { .. } => &self.reader.buffer,
        }
    }
}

impl<T: FlatMessage> Drop for Message<'_, T> {
    fn drop(&mut self) {
        if matches!(self.found, Found::InPlace { .. }) {
            self.reader.release();
        }
    }
}
