//! The broadcast stream (`docs/PROTOCOL.md` §6): the messages of a schema library
//! ([`MessageSet`]) to many readers, one frame per slot of a broadcast ring.
//!
//! ```
//! use flatipc::broadcast::{broadcast_stream, BroadcastOptions, Policy, ReaderOptions};
//! use flatipc::prelude::*;
//! use flatipc::stream::{view, InSet, MessageInfo, MessageSet, ViewError};
//!
//! #[derive(Clone, Copy, Debug, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
//! #[zerocopy(crate = "flatipc::zerocopy")]
//! #[flat(id = 1)]
//! #[repr(C)]
//! struct Trade { price: i64, qty: u32, _pad: u32 }
//!
//! #[derive(Clone, Copy, Debug, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
//! #[zerocopy(crate = "flatipc::zerocopy")]
//! #[flat(id = 2)]
//! #[repr(C)]
//! struct Quote { bid: i64, ask: i64 }
//!
//! // `flatipc-gen` writes this part for a schema library.
//! enum Any<'a> { Trade(&'a Trade), Quote(&'a Quote) }
//! struct Lib;
//! impl MessageSet for Lib {
//!     type View<'a> = Any<'a>;
//!     const LIBRARY: &'static str = "demo";
//!     const MESSAGES: &'static [MessageInfo] = &[MessageInfo::of::<Trade>(), MessageInfo::of::<Quote>()];
//!     fn view(id: u32, bytes: &[u8]) -> Option<Result<Any<'_>, ViewError>> {
//!         match id {
//!             1 => Some(view::<Trade>(bytes).map(Any::Trade)),
//!             2 => Some(view::<Quote>(bytes).map(Any::Quote)),
//!             _ => None,
//!         }
//!     }
//! }
//! impl InSet<Lib> for Trade {}
//! impl InSet<Lib> for Quote {}
//!
//! let mut feed = broadcast_stream::<Lib>(&BroadcastOptions { capacity: 8, ..Default::default() });
//! let mut strategy = feed.subscribe(&ReaderOptions::default()).unwrap();
//! let lossy = ReaderOptions { policy: Policy::Lossy, ..ReaderOptions::default() };
//! let mut recorder = feed.subscribe(&lossy).unwrap();
//! feed.try_send(&Trade { price: 100, qty: 5, _pad: 0 }).unwrap();
//! feed.try_send(&Quote { bid: 99, ask: 101 }).unwrap();
//! for reader in [&mut strategy, &mut recorder] {
//!     assert!(matches!(reader.try_recv().unwrap().message(), Some(Ok(Any::Trade(t))) if t.qty == 5));
//!     assert!(matches!(reader.try_recv().unwrap().message(), Some(Ok(Any::Quote(q))) if q.ask == 101));
//! }
//! ```

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::{Duration, Instant};

use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout};

use super::{
    load_atomically, store_atomically, BroadcastOptions, BroadcastShared, Found, ReaderEnd,
    ReaderOptions, WriterEnd,
};
use crate::error::OpenError;
use crate::ring::core::FRAME_HEADER;
use crate::ring::{FrameHeader, Mode, RecvError, SendError};
use crate::segment::{Expect, RingKind, Segment, SegmentSpec};
use crate::stream::{entries, is_older, view, InSet, MessageInfo, MessageSet, Versions, ViewError};
use crate::wait::WaitStrategy;

/// Bytes of the frame header at the start of each slot.
#[allow(clippy::cast_possible_truncation)] // 16
const HEADER: usize = FRAME_HEADER as usize;

/// One cache line of a slot-sized buffer (the loan and copy buffers are slot-aligned, so that
/// any message of the set is aligned in them).
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C, align(64))]
struct Line([u8; 64]);

/// A zeroed buffer of `slot_size` bytes (a multiple of 64, validated with the segment).
fn slot_buffer(slot_size: usize, what: &str) -> Result<Box<[Line]>, OpenError> {
    <[Line]>::new_box_zeroed_with_elems(slot_size / 64).map_err(|_| OpenError::InvalidSpec {
        reason: format!("cannot allocate the {slot_size}-byte {what} buffer"),
    })
}

fn spec_of<S: MessageSet>(options: &BroadcastOptions) -> SegmentSpec {
    let capacity = options.capacity.max(2).next_power_of_two();
    SegmentSpec::broadcast_stream(capacity, options.max_readers, entries::<S>())
}

fn named_segment<S: MessageSet>(
    name: &str,
    mode: Mode<'_, BroadcastOptions>,
) -> Result<Arc<Segment>, OpenError> {
    let expect = Expect { kind: RingKind::BroadcastStream, messages: entries::<S>() };
    crate::ring::named_segment(name, mode, spec_of::<S>, &expect)
}

/// An in-process broadcast stream (heap-backed segment, same protocol); attach readers with
/// [`BroadcastStreamWriter::subscribe`].
///
/// # Panics
///
/// If `options.max_readers` is not in `1..=64`, or `S` has no messages or more than 32.
pub fn broadcast_stream<S: MessageSet>(options: &BroadcastOptions) -> BroadcastStreamWriter<S> {
    let spec = spec_of::<S>(options);
    if let Err(e) = spec.validate() {
        panic!("library `{}` cannot be carried by a broadcast stream: {e}", S::LIBRARY);
    }
    let segment = Arc::new(Segment::heap(&spec));
    segment.publish_ready();
    BroadcastStreamWriter::attach(segment, options.wait)
        .expect("a fresh heap segment is consistent")
}

/// The writing end of a broadcast stream of the library `S`.
#[derive(Debug)]
pub struct BroadcastStreamWriter<S: MessageSet> {
    end: WriterEnd,
    /// The message `loan` lends (slot-sized, 64-aligned); `commit` copies it into the slot.
    staging: Box<[Line]>,
    _set: PhantomData<fn(S)>,
}

impl<S: MessageSet> BroadcastStreamWriter<S> {
    fn attach(segment: Arc<Segment>, wait: WaitStrategy) -> Result<Self, OpenError> {
        let staging = slot_buffer(segment.slot_size() as usize, "loan")?;
        let end =
            WriterEnd::attach(segment, wait, |s| s.merge_steps(&entries::<S>()).map(|()| None))?;
        Ok(Self { end, staging, _set: PhantomData })
    }

    /// Creates the named segment `/dev/shm/flatipc.<name>` and attaches as its writer.
    ///
    /// # Errors
    ///
    /// [`OpenError`] if the segment exists, the name or options are invalid, or `/dev/shm` is
    /// too small.
    pub fn create(name: &str, options: &BroadcastOptions) -> Result<Self, OpenError> {
        Self::attach(named_segment::<S>(name, Mode::Create(options))?, options.wait)
    }

    /// Opens the named segment, or creates it (replacing a stale one), and attaches as its
    /// writer; a restarted writer continues after the last published message.
    ///
    /// # Errors
    ///
    /// [`OpenError`]: another writer is attached, a message id both sides know has another
    /// layout, or the segment is corrupt.
    pub fn open_or_create(name: &str, options: &BroadcastOptions) -> Result<Self, OpenError> {
        Self::attach(named_segment::<S>(name, Mode::OpenOrCreate(options))?, options.wait)
    }

    /// Opens an existing segment and attaches as its writer.
    ///
    /// # Errors
    ///
    /// As [`BroadcastStreamWriter::open_or_create`], or the segment does not exist.
    pub fn open(name: &str, wait: WaitStrategy) -> Result<Self, OpenError> {
        Self::attach(named_segment::<S>(name, Mode::Open)?, wait)
    }

    /// Attaches a new reader to this ring.
    ///
    /// # Errors
    ///
    /// [`OpenError::ReadersFull`], or [`OpenError::Io`].
    pub fn subscribe(
        &self,
        options: &ReaderOptions,
    ) -> Result<BroadcastStreamReader<S>, OpenError> {
        BroadcastStreamReader::attach(Arc::clone(&self.end.shared.segment), options)
    }

    /// `T`'s frame header, if a slot holds `T`.
    fn header_of<T: InSet<S>>(&self) -> Result<FrameHeader, SendError> {
        let info = const { MessageInfo::of::<T>() };
        let max = self.end.shared.slot_size - HEADER;
        if info.size as usize > max {
            return Err(SendError::SlotTooSmall { size: u64::from(info.size), max: max as u64 });
        }
        Ok(FrameHeader { size: info.size, id: info.id, version: info.version, flags: 0 })
    }

    /// Writes a frame of `header` and `bytes` into the next slot (reserved by the caller).
    fn publish(end: &mut WriterEnd, header: FrameHeader, bytes: &[u8]) {
        end.publish(|slot| {
            store_atomically(slot, &header.to_bytes());
            // SAFETY: the slot holds `slot_size ≥ 16 + bytes.len()` bytes (`header_of` checked
            // the message against the slot size), so offset 16 stays in it.
            let message = unsafe { slot.add(HEADER) };
            store_atomically(message, bytes);
        });
    }

    /// Copies `message` into the next slot and publishes it to every reader.
    ///
    /// # Errors
    ///
    /// [`SendError::Full`] (a tethered reader has not read the oldest slot yet),
    /// [`SendError::SlotTooSmall`], [`SendError::Corrupt`].
    pub fn try_send<T: InSet<S>>(&mut self, message: &T) -> Result<(), SendError> {
        let header = self.header_of::<T>()?;
        self.end.try_reserve()?;
        Self::publish(&mut self.end, header, message.as_bytes());
        Ok(())
    }

    /// Sends, waiting for tethered readers according to the wait strategy.
    ///
    /// # Errors
    ///
    /// [`SendError::SlotTooSmall`] or [`SendError::Corrupt`].
    pub fn send<T: InSet<S>>(&mut self, message: &T) -> Result<(), SendError> {
        let header = self.header_of::<T>()?;
        self.end.reserve(None)?;
        Self::publish(&mut self.end, header, message.as_bytes());
        Ok(())
    }

    /// Sends, waiting at most `timeout` for tethered readers.
    ///
    /// # Errors
    ///
    /// [`SendError::Timeout`], or as [`BroadcastStreamWriter::send`].
    pub fn send_timeout<T: InSet<S>>(
        &mut self,
        message: &T,
        timeout: Duration,
    ) -> Result<(), SendError> {
        let header = self.header_of::<T>()?;
        self.end.reserve(Some(Instant::now() + timeout))?;
        Self::publish(&mut self.end, header, message.as_bytes());
        Ok(())
    }

    /// Lends a zeroed `T` to build in the writer's memory; [`BroadcastFrameLoan::commit`]
    /// copies it into the ring (a broadcast writer never lends ring memory, because lossy
    /// readers may read any slot).
    ///
    /// # Errors
    ///
    /// [`SendError::SlotTooSmall`].
    pub fn loan<T: InSet<S>>(&mut self) -> Result<BroadcastFrameLoan<'_, S, T>, SendError> {
        let header = self.header_of::<T>()?;
        self.staging.as_mut_bytes()[..size_of::<T>()].fill(0);
        Ok(BroadcastFrameLoan { writer: self, header, _type: PhantomData })
    }

    /// Messages published since the segment was created.
    pub fn position(&self) -> u64 {
        self.end.core.position()
    }
}

/// A message lent by [`BroadcastStreamWriter::loan`]; [`BroadcastFrameLoan::commit`]
/// publishes it.
#[derive(Debug)]
pub struct BroadcastFrameLoan<'a, S: MessageSet, T: InSet<S>> {
    writer: &'a mut BroadcastStreamWriter<S>,
    header: FrameHeader,
    _type: PhantomData<T>,
}

impl<S: MessageSet, T: InSet<S>> BroadcastFrameLoan<'_, S, T> {
    /// Copies the message into the ring and publishes it, waiting for room as `send` does.
    ///
    /// # Errors
    ///
    /// As [`BroadcastStreamWriter::send`].
    pub fn commit(self) -> Result<(), SendError> {
        let writer = self.writer;
        writer.end.reserve(None)?;
        let bytes = &writer.staging.as_bytes()[..size_of::<T>()];
        BroadcastStreamWriter::<S>::publish(&mut writer.end, self.header, bytes);
        Ok(())
    }
}

impl<S: MessageSet, T: InSet<S>> Deref for BroadcastFrameLoan<'_, S, T> {
    type Target = T;
    fn deref(&self) -> &T {
        let bytes = &self.writer.staging.as_bytes()[..size_of::<T>()];
        T::ref_from_bytes(bytes).expect("the loan buffer is 64-aligned and slot-sized")
    }
}

impl<S: MessageSet, T: InSet<S>> DerefMut for BroadcastFrameLoan<'_, S, T> {
    fn deref_mut(&mut self) -> &mut T {
        let bytes = &mut self.writer.staging.as_mut_bytes()[..size_of::<T>()];
        T::mut_from_bytes(bytes).expect("the loan buffer is 64-aligned and slot-sized")
    }
}

/// Copies a frame out of a slot (lossy reads): the header, then as many message bytes as it
/// claims, bounded by the slot (`buffer` is slot-sized). The size may be torn or bad; it is
/// checked after the copy is validated.
fn copy_frame(buffer: &mut [u8], slot: NonNull<u8>) {
    let (header, rest) = buffer.split_at_mut(HEADER);
    load_atomically(header, slot);
    let size = u32::from_ne_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let len = size.min(rest.len()).next_multiple_of(8).min(rest.len());
    // SAFETY: the slot holds `buffer.len() = 16 + rest.len()` bytes, so offset 16 stays in it.
    let message = unsafe { slot.add(HEADER) };
    load_atomically(&mut rest[..len], message);
}

/// The reading end of a broadcast stream of the library `S` (any subset of the writer's
/// library: frames with ids it does not know are handed out with [`BroadcastFrame::message`]
/// returning `None`).
#[derive(Debug)]
pub struct BroadcastStreamReader<S: MessageSet> {
    end: ReaderEnd<[Line]>,
    /// Version checks and zero-extension (`docs/EVOLUTION.md` §4-§5).
    versions: Versions,
    _set: PhantomData<fn() -> S>,
}

impl<S: MessageSet> BroadcastStreamReader<S> {
    fn attach(segment: Arc<Segment>, options: &ReaderOptions) -> Result<Self, OpenError> {
        let buffer = slot_buffer(segment.slot_size() as usize, "copy")?;
        let versions = Versions::new::<S>(&segment);
        Ok(Self { end: ReaderEnd::attach(segment, options, buffer)?, versions, _set: PhantomData })
    }

    /// Opens the named segment and attaches a new reader.
    ///
    /// # Errors
    ///
    /// [`OpenError`]: the segment does not exist, a message id both sides know has another
    /// layout, [`OpenError::ReadersFull`].
    pub fn open(name: &str, options: &ReaderOptions) -> Result<Self, OpenError> {
        Self::attach(named_segment::<S>(name, Mode::Open)?, options)
    }

    /// Opens the named segment, or creates it with `ring` (a reader may start before the
    /// writer), and attaches a new reader.
    ///
    /// # Errors
    ///
    /// As [`BroadcastStreamReader::open`], or those of creating the segment.
    pub fn open_or_create(
        name: &str,
        ring: &BroadcastOptions,
        options: &ReaderOptions,
    ) -> Result<Self, OpenError> {
        Self::attach(named_segment::<S>(name, Mode::OpenOrCreate(ring))?, options)
    }

    /// Messages this reader missed because the writer lapped it.
    pub fn missed(&self) -> u64 {
        self.end.missed_total
    }

    /// Whether a writer is attached.
    pub fn writer_alive(&self) -> bool {
        self.end.shared.segment.peer_alive(crate::ring::WRITER)
    }

    /// Reads and checks the frame header of a found message and wraps it; a frame whose size
    /// does not fit its slot is skipped (released) and reported.
    fn found(&mut self, found: Found) -> Result<BroadcastFrame<'_, S>, RecvError> {
        let mut bytes = [0; HEADER];
        match found {
            Found::InPlace { index, .. } => {
                load_atomically(&mut bytes, self.end.shared.slot_bytes(index));
            }
            Found::Copied { .. } => bytes.copy_from_slice(&self.end.buffer.as_bytes()[..HEADER]),
        }
        let header = FrameHeader::from_bytes(bytes);
        let position = self.end.last;
        let skip = |end: &mut ReaderEnd<[Line]>, error| {
            if matches!(found, Found::InPlace { .. }) {
                end.release();
            }
            Err(error)
        };
        let size = header.size as usize;
        if size > self.end.shared.slot_size - HEADER {
            let value = u64::from(header.size);
            return skip(&mut self.end, RecvError::CorruptFrame { position, field: "size", value });
        }
        if let Err(e) = self.versions.check::<S>(&self.end.shared.segment, header, position) {
            return skip(&mut self.end, e);
        }
        let end = &self.end;
        let widened =
            self.versions.widen::<S>(header, || &end.bytes(found, HEADER + size)[HEADER..]);
        Ok(BroadcastFrame {
            reader: &mut self.end,
            versions: &self.versions,
            found,
            header,
            widened,
            _set: PhantomData,
        })
    }

    /// Receives the next frame if one is ready: in place for a tethered reader, as a validated
    /// copy for a lossy one.
    ///
    /// # Errors
    ///
    /// [`RecvError::Empty`], [`RecvError::Disconnected`] (writer gone, ring drained),
    /// [`RecvError::Corrupt`], [`RecvError::CorruptFrame`] (the frame was skipped).
    pub fn try_recv(&mut self) -> Result<BroadcastFrame<'_, S>, RecvError> {
        let found = self.end.try_next(copy_frame)?;
        self.found(found)
    }

    /// Receives the next frame, waiting according to the wait strategy.
    ///
    /// # Errors
    ///
    /// As [`BroadcastStreamReader::try_recv`], except `Empty`.
    pub fn recv(&mut self) -> Result<BroadcastFrame<'_, S>, RecvError> {
        let found = self.end.next(None, copy_frame)?;
        self.found(found)
    }

    /// Receives the next frame, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`BroadcastStreamReader::recv`], or [`RecvError::Timeout`].
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<BroadcastFrame<'_, S>, RecvError> {
        let found = self.end.next(Some(Instant::now() + timeout), copy_frame)?;
        self.found(found)
    }
}

/// A received frame: in place in the ring (tethered reader; released when this is dropped) or
/// in the reader's copy buffer (lossy).
#[derive(Debug)]
pub struct BroadcastFrame<'a, S: MessageSet> {
    reader: &'a mut ReaderEnd<[Line]>,
    versions: &'a Versions,
    found: Found,
    header: FrameHeader,
    /// The length of the zero-extended copy in `versions` (0: the frame is read as it is).
    widened: usize,
    _set: PhantomData<fn() -> S>,
}

impl<S: MessageSet> BroadcastFrame<'_, S> {
    /// The message id in the frame header.
    pub fn id(&self) -> u32 {
        self.header.id
    }

    /// The writer's schema version, from the frame header (its [`crate::FlatMessage::VERSION`];
    /// a header `version` of 0, from a writer that predates versions, is version 1). When it is
    /// older than the reader's, members added since read as zero; `T::has_<member>(version)`
    /// says which.
    pub fn version(&self) -> u16 {
        self.header.version.max(1)
    }

    /// The message's position in the ring (0 for the first message ever published).
    pub fn position(&self) -> u64 {
        self.reader.last
    }

    /// Messages this reader missed just before this one (lapped by the writer).
    pub fn missed(&self) -> u64 {
        self.found.missed()
    }

    /// The message bytes (`size` from the frame header, checked to fit the slot).
    pub fn bytes(&self) -> &[u8] {
        let len = self.header.size as usize;
        &self.reader.bytes(self.found, HEADER + len)[HEADER..]
    }

    /// The bytes the reader's type is viewed from: the frame as it is, or its zero-extended
    /// copy when the writer's version is older and smaller.
    fn view_bytes(&self) -> &[u8] {
        match self.widened {
            0 => self.bytes(),
            len => self.versions.widened(len),
        }
    }

    /// The message as one of the library's views: `None` for an id the library does not know
    /// (skip it), an error if its bytes do not fit the reader's type or break its data rules.
    ///
    /// A message of a newer writer is viewed as it is (the reader's prefix of it); one of an
    /// older writer is a zero-extended copy, so members it lacks read as zero (see
    /// [`BroadcastFrame::version`]).
    pub fn message(&self) -> Option<Result<S::View<'_>, ViewError>> {
        S::view(self.header.id, self.view_bytes())
    }

    /// Views the message as a `T`, if the frame carries `T`'s id (zero-extended as
    /// [`BroadcastFrame::message`] says).
    pub fn get<T: InSet<S>>(&self) -> Option<Result<&T, ViewError>> {
        let header = self.header;
        (T::MESSAGE_ID == Some(header.id)).then(|| {
            let older = is_older(T::STEPS, T::VERSION, size_of::<T>(), header.version, header.size);
            if older && self.widened == size_of::<T>() {
                view::<T>(self.view_bytes())
            } else {
                view::<T>(self.bytes())
            }
        })
    }
}

impl<S: MessageSet> Drop for BroadcastFrame<'_, S> {
    fn drop(&mut self) {
        if matches!(self.found, Found::InPlace { .. }) {
            self.reader.release();
        }
    }
}
