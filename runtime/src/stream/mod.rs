//! The framed SPSC stream (`docs/PROTOCOL.md` §4): one writer, one reader, any message of one
//! schema library, each in its own frame, zero-copy in both directions.
//!
//! `flatipc-gen` generates, for each library with messages, a `Library` type implementing
//! [`MessageSet`] and an `AnyMessage<'a>` enum of in-place views; hand-written sets work the same
//! way:
//!
//! ```
//! use flatipc::prelude::*;
//! use flatipc::stream::{stream, view, InSet, MessageInfo, MessageSet, StreamOptions, ViewError};
//!
//! #[derive(Clone, Copy, Debug, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
//! #[zerocopy(crate = "flatipc::zerocopy")]
//! #[flat(id = 1)]
//! #[repr(C)]
//! struct Ping { seq: u64 }
//!
//! #[derive(Clone, Copy, Debug, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
//! #[zerocopy(crate = "flatipc::zerocopy")]
//! #[flat(id = 2)]
//! #[repr(C)]
//! struct Fill { seq: u64, price: f64, qty: u32, _pad: [u8; 4] }
//!
//! #[derive(Debug)]
//! enum Any<'a> { Ping(&'a Ping), Fill(&'a Fill) }
//!
//! struct Lib;
//! impl MessageSet for Lib {
//!     type View<'a> = Any<'a>;
//!     const LIBRARY: &'static str = "example";
//!     const MESSAGES: &'static [MessageInfo] =
//!         &[MessageInfo::of::<Ping>(), MessageInfo::of::<Fill>()];
//!     fn view(id: u32, bytes: &[u8]) -> Option<Result<Any<'_>, ViewError>> {
//!         match id {
//!             1 => Some(view::<Ping>(bytes).map(Any::Ping)),
//!             2 => Some(view::<Fill>(bytes).map(Any::Fill)),
//!             _ => None,
//!         }
//!     }
//! }
//! impl InSet<Lib> for Ping {}
//! impl InSet<Lib> for Fill {}
//!
//! let (mut tx, mut rx) = stream::<Lib>(&StreamOptions::default());
//! tx.try_send(&Ping { seq: 1 }).unwrap();
//! let mut fill = tx.loan::<Fill>().unwrap();   // &mut Fill, zeroed, in the ring itself
//! fill.seq = 2;
//! fill.price = 101.25;
//! fill.commit();
//! for expected in 1..=2 {
//!     let frame = rx.try_recv().unwrap();       // in place; released when dropped
//!     match frame.message() {
//!         Some(Ok(Any::Ping(p))) => assert_eq!(p.seq, expected),
//!         Some(Ok(Any::Fill(f))) => assert_eq!((f.seq, f.price), (expected, 101.25)),
//!         Some(Err(e)) => panic!("invalid frame: {e}"),
//!         None => {} // an id this reader does not know: skipped
//!     }
//! }
//! ```

mod set;
mod versions;

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use set::{view, InSet, MessageInfo, MessageSet, ViewError};
pub(crate) use versions::{is_older, Versions};

use crate::error::OpenError;
use crate::ring::core::{
    check_frame, frame_len, FrameKind, ReaderCore, WriterCore, FRAME_ALIGN, FRAME_HEADER,
    PADDING_ID,
};
use crate::ring::{FrameHeader, Mode, Shared, READER, WRITER};
pub use crate::ring::{RecvError, SendError};
use crate::segment::spec::stream_capacity_for;
use crate::segment::{Expect, MessageEntry, RingKind, Segment, SegmentSpec};
use crate::wait::{wait_for, WaitStrategy};

/// How a stream is created and how its ends wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamOptions {
    /// Bytes of the ring; rounded up to a power of two, and to at least twice the largest frame
    /// (a frame is 16 header bytes plus the message, rounded up to 16).
    pub capacity: u64,
    /// How `send`, `recv` and `recv_timeout` wait.
    pub wait: WaitStrategy,
}

impl Default for StreamOptions {
    fn default() -> Self {
        Self { capacity: 256 * 1024, wait: WaitStrategy::default() }
    }
}

impl From<&MessageInfo> for MessageEntry {
    fn from(m: &MessageInfo) -> Self {
        let (versions, fingerprints) =
            crate::segment::spec::table_steps(m.steps).unwrap_or_default();
        MessageEntry {
            versions,
            fingerprints,
            fingerprint: m.fingerprint,
            id: m.id,
            size: m.size,
            align: m.align,
            name: m.name.to_owned(),
        }
    }
}

pub(crate) fn entries<S: MessageSet>() -> Vec<MessageEntry> {
    S::MESSAGES.iter().map(MessageEntry::from).collect()
}

fn spec_of<S: MessageSet>(options: &StreamOptions) -> SegmentSpec {
    let largest = S::MESSAGES.iter().map(|m| u64::from(m.size)).max().unwrap_or(0);
    SegmentSpec {
        kind: RingKind::FramedStream,
        capacity: options.capacity.max(stream_capacity_for(largest)).next_power_of_two(),
        slot_size: 0,
        messages: entries::<S>(),
        max_readers: 0,
    }
}

fn named_segment<S: MessageSet>(
    name: &str,
    mode: Mode<'_, StreamOptions>,
) -> Result<Arc<Segment>, OpenError> {
    let expect = Expect { kind: RingKind::FramedStream, messages: entries::<S>() };
    crate::ring::named_segment(name, mode, spec_of::<S>, &expect)
}

/// An in-process stream (heap-backed segment, same protocol): for threads of one process.
///
/// # Panics
///
/// If `S` has no messages or more than 32 (a segment's message table holds 32).
pub fn stream<S: MessageSet>(options: &StreamOptions) -> (StreamWriter<S>, StreamReader<S>) {
    let spec = spec_of::<S>(options);
    if let Err(e) = spec.validate() {
        panic!("library `{}` cannot be carried by a stream: {e}", S::LIBRARY);
    }
    let segment = Arc::new(Segment::heap(&spec));
    segment.publish_ready();
    let writer = StreamWriter::attach(Arc::clone(&segment), options.wait)
        .expect("a fresh heap segment is consistent");
    let reader =
        StreamReader::attach(segment, options.wait).expect("a fresh heap segment is consistent");
    (writer, reader)
}

/// The writing end of a framed stream of the library `S`.
#[derive(Debug)]
pub struct StreamWriter<S: MessageSet> {
    shared: Shared,
    core: WriterCore,
    wait: WaitStrategy,
    _set: PhantomData<fn(S)>,
}

impl<S: MessageSet> StreamWriter<S> {
    fn attach(segment: Arc<Segment>, wait: WaitStrategy) -> Result<Self, OpenError> {
        segment.lock_peer(WRITER)?;
        if let Err(e) = segment.merge_steps(&entries::<S>()) {
            segment.unlock_peer(WRITER);
            return Err(e);
        }
        let shared = Shared::new(segment);
        shared.announce(WRITER, wait);
        let core = WriterCore::attach(shared.positions(), shared.capacity, FRAME_ALIGN)
            .map_err(|c| shared.corrupt_at_attach(c))?;
        Ok(Self { shared, core, wait, _set: PhantomData })
    }

    /// Creates the named segment `/dev/shm/flatipc.<name>` and attaches as its writer.
    ///
    /// # Errors
    ///
    /// [`OpenError`] if the segment exists, the name is invalid, `S` has more than 32 messages,
    /// or `/dev/shm` is too small.
    pub fn create(name: &str, options: &StreamOptions) -> Result<Self, OpenError> {
        Self::attach(named_segment::<S>(name, Mode::Create(options))?, options.wait)
    }

    /// Opens an existing segment, or creates it (replacing a stale one left by dead processes),
    /// and attaches as its writer; a restarted writer continues after the last committed frame.
    ///
    /// # Errors
    ///
    /// [`OpenError`]: another writer is attached, a message id both sides know has another
    /// layout, or the segment is corrupt.
    pub fn open_or_create(name: &str, options: &StreamOptions) -> Result<Self, OpenError> {
        Self::attach(named_segment::<S>(name, Mode::OpenOrCreate(options))?, options.wait)
    }

    /// Opens an existing segment and attaches as its writer.
    ///
    /// # Errors
    ///
    /// As [`StreamWriter::open_or_create`], or the segment does not exist.
    pub fn open(name: &str, wait: WaitStrategy) -> Result<Self, OpenError> {
        Self::attach(named_segment::<S>(name, Mode::Open)?, wait)
    }

    /// Reserves a frame for a `T` (writing a padding frame first if it would not fit before the
    /// end of the ring); returns where the frame and its message go, and the bytes to publish.
    fn reserve<T: InSet<S>>(&mut self) -> Result<Reserved<T>, SendError> {
        const { assert!(align_of::<T>() <= 16, "stream messages are at most 16-byte aligned") };
        let capacity = self.shared.capacity;
        let size = size_of::<T>() as u64;
        let len = frame_len(size);
        if len > capacity / 2 {
            return Err(SendError::TooLarge {
                size,
                max: capacity / 2 - FRAME_HEADER,
                needed: stream_capacity_for(size),
            });
        }
        let p = self.shared.positions();
        let (padding, at) = self.core.reserve_frame(p, len)?.ok_or(SendError::Full)?;
        if padding > 0 {
            // Fill the rest of the ring with a padding frame; it is published with the message
            // frame, which starts at offset 0.
            let pad = self.shared.frame_offset(capacity - padding);
            let size = u32::try_from(padding - FRAME_HEADER).unwrap_or(u32::MAX);
            let header = FrameHeader { size, id: PADDING_ID, version: 0, flags: 0 };
            self.shared.write_header(pad, header);
        }
        let frame = self.shared.frame_offset(at);
        // `message_ptr` asserts the bounds; the pointer is 16-byte aligned (frames start at
        // multiples of 16 in a 4096-aligned data area, the message 16 bytes in), which suffices
        // for `T` (asserted above).
        let message = self.shared.message_ptr(frame, size_of::<T>()).cast::<T>();
        Ok(Reserved { frame, message, publish: padding + len })
    }

    /// Writes the header of the reserved frame and publishes it (with any padding before it).
    fn commit<T: InSet<S>>(&mut self, frame: usize, publish: u64) {
        let info = const { MessageInfo::of::<T>() };
        let header = FrameHeader { size: info.size, id: info.id, version: info.version, flags: 0 };
        self.shared.write_header(frame, header);
        self.core.advance(self.shared.positions(), publish);
        self.shared.reader_parking().wake();
    }

    /// Lends a frame for a `T`, zeroed, as `&mut T`; [`FrameLoan::commit`] publishes it, dropping
    /// the loan abandons it.
    ///
    /// # Errors
    ///
    /// [`SendError::Full`], [`SendError::TooLarge`] or [`SendError::Corrupt`].
    pub fn loan<T: InSet<S>>(&mut self) -> Result<FrameLoan<'_, S, T>, SendError> {
        let loan = self.loan_dirty::<T>()?;
        // SAFETY: the frame is reserved, so the reader does not access it until commit; the
        // pointer is valid for writes of one aligned `T` (`reserve`); all-zero bytes are a valid
        // `T` (`FromZeros`).
        unsafe { loan.reserved.message.as_ptr().write_bytes(0, 1) };
        Ok(loan)
    }

    /// Like [`StreamWriter::loan`], but the frame keeps whatever bytes it held.
    ///
    /// # Errors
    ///
    /// As [`StreamWriter::loan`].
    pub fn loan_dirty<T: InSet<S>>(&mut self) -> Result<FrameLoan<'_, S, T>, SendError> {
        let reserved = self.reserve::<T>()?;
        Ok(FrameLoan { writer: self, reserved })
    }

    /// Copies `message` into the next frame and publishes it.
    ///
    /// # Errors
    ///
    /// As [`StreamWriter::loan`].
    pub fn try_send<T: InSet<S>>(&mut self, message: &T) -> Result<(), SendError> {
        let reserved = self.reserve::<T>()?;
        // SAFETY: as in `loan`; `T: Copy`, so overwriting drops nothing.
        unsafe { reserved.message.as_ptr().write(*message) };
        self.commit::<T>(reserved.frame, reserved.publish);
        Ok(())
    }

    /// Sends, waiting for room according to the wait strategy.
    ///
    /// # Errors
    ///
    /// [`SendError::TooLarge`] or [`SendError::Corrupt`].
    pub fn send<T: InSet<S>>(&mut self, message: &T) -> Result<(), SendError> {
        self.send_deadline(message, None)
    }

    /// Sends, waiting at most `timeout` for room.
    ///
    /// # Errors
    ///
    /// [`SendError::Timeout`], [`SendError::TooLarge`] or [`SendError::Corrupt`].
    pub fn send_timeout<T: InSet<S>>(
        &mut self,
        message: &T,
        timeout: Duration,
    ) -> Result<(), SendError> {
        self.send_deadline(message, Some(Instant::now() + timeout))
    }

    fn send_deadline<T: InSet<S>>(
        &mut self,
        message: &T,
        deadline: Option<Instant>,
    ) -> Result<(), SendError> {
        match self.try_send(message) {
            Err(SendError::Full) => {}
            other => return other,
        }
        let shared = &self.shared;
        let core = &mut self.core;
        let (_, needed) = core.frame_needs(frame_len(size_of::<T>() as u64));
        wait_for(
            self.wait,
            shared.writer_parking(),
            deadline,
            || Ok((core.free(shared.positions(), needed)? >= needed).then_some(())),
            || Ok(()),
            || SendError::Timeout,
        )?;
        self.try_send(message)
    }

    /// Bytes written since the segment was created (the shared `write_pos`).
    pub fn position(&self) -> u64 {
        self.core.position()
    }
}

impl<S: MessageSet> Drop for StreamWriter<S> {
    fn drop(&mut self) {
        self.shared.segment.unlock_peer(WRITER);
        // A reader parked on an empty ring must see the disconnect.
        self.shared.reader_parking().wake();
    }
}

/// A reserved frame: its data offset, where its message goes, and the bytes to publish (the
/// frame and any padding frame before it).
#[derive(Debug)]
struct Reserved<T> {
    frame: usize,
    message: NonNull<T>,
    publish: u64,
}

/// A frame lent by [`StreamWriter::loan`]: `&mut T` into the ring. Publish it with
/// [`FrameLoan::commit`]; dropping it without committing abandons it.
#[derive(Debug)]
pub struct FrameLoan<'a, S: MessageSet, T: InSet<S>> {
    writer: &'a mut StreamWriter<S>,
    reserved: Reserved<T>,
}

impl<S: MessageSet, T: InSet<S>> FrameLoan<'_, S, T> {
    /// Publishes the message to the reader.
    pub fn commit(self) {
        self.writer.commit::<T>(self.reserved.frame, self.reserved.publish);
    }
}

impl<S: MessageSet, T: InSet<S>> Deref for FrameLoan<'_, S, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the pointer is aligned and in bounds (`reserve`); the bytes are initialised
        // (segments are zero-filled on creation), every bit pattern is a valid `T`, and the
        // reader does not touch the frame until commit.
        unsafe { self.reserved.message.as_ref() }
    }
}

impl<S: MessageSet, T: InSet<S>> DerefMut for FrameLoan<'_, S, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; the loan borrows the writer mutably, so this is the only
        // reference to the frame in this process.
        unsafe { self.reserved.message.as_mut() }
    }
}

/// The reading end of a framed stream of the library `S`.
#[derive(Debug)]
pub struct StreamReader<S: MessageSet> {
    shared: Shared,
    core: ReaderCore,
    wait: WaitStrategy,
    empty_polls: u32,
    /// Version checks and zero-extension (`docs/EVOLUTION.md` §4-§5).
    versions: Versions,
    _set: PhantomData<fn() -> S>,
}

/// A committed message frame found by the reader: data offset, header, frame length, and the
/// length of its zero-extended copy in the reader's [`Versions`] (0 when it is read in place).
#[derive(Debug, Clone, Copy)]
struct Found {
    frame: usize,
    header: FrameHeader,
    len: u64,
    widened: usize,
}

/// The bytes of the message of the frame at data offset `frame`, `len` bytes long, in place.
fn message_bytes(shared: &Shared, frame: usize, len: usize) -> &[u8] {
    let ptr = shared.message_ptr(frame, len);
    // SAFETY: `message_ptr` checked that the `len` bytes lie in the data area; the frame is
    // committed (below the `write_pos` the reader Acquire-loaded, SYNC POINT A; checked by
    // `check_frame`) and not yet released, so the writer does not write these bytes while the
    // caller's borrow of the reader lives; they are initialised (the segment was zero-filled on
    // creation).
    unsafe { std::slice::from_raw_parts(ptr.as_ptr(), len) }
}

impl<S: MessageSet> StreamReader<S> {
    fn attach(segment: Arc<Segment>, wait: WaitStrategy) -> Result<Self, OpenError> {
        segment.lock_peer(READER)?;
        let shared = Shared::new(segment);
        shared.announce(READER, wait);
        let core = ReaderCore::attach(shared.positions(), shared.capacity, FRAME_ALIGN)
            .map_err(|c| shared.corrupt_at_attach(c))?;
        let versions = Versions::new::<S>(&shared.segment);
        Ok(Self { shared, core, wait, empty_polls: 0, versions, _set: PhantomData })
    }

    /// Creates the named segment and attaches as its reader (a writer may attach later).
    ///
    /// # Errors
    ///
    /// As [`StreamWriter::create`].
    pub fn create(name: &str, options: &StreamOptions) -> Result<Self, OpenError> {
        Self::attach(named_segment::<S>(name, Mode::Create(options))?, options.wait)
    }

    /// Opens or creates the named segment and attaches as its reader; a restarted reader resumes
    /// after the last frame it released.
    ///
    /// # Errors
    ///
    /// As [`StreamWriter::open_or_create`].
    pub fn open_or_create(name: &str, options: &StreamOptions) -> Result<Self, OpenError> {
        Self::attach(named_segment::<S>(name, Mode::OpenOrCreate(options))?, options.wait)
    }

    /// Opens an existing segment and attaches as its reader.
    ///
    /// # Errors
    ///
    /// As [`StreamWriter::open`].
    pub fn open(name: &str, wait: WaitStrategy) -> Result<Self, OpenError> {
        Self::attach(named_segment::<S>(name, Mode::Open)?, wait)
    }

    /// Whether a writer is attached (a live process holds the writer lock).
    pub fn writer_alive(&self) -> bool {
        self.shared.segment.peer_alive(WRITER)
    }

    /// The next committed message frame, skipping (and releasing) padding frames.
    fn next(&mut self) -> Result<Option<Found>, RecvError> {
        loop {
            let Some(offset) = self.core.try_acquire(self.shared.positions())? else {
                return Ok(None);
            };
            let frame = self.shared.frame_offset(offset);
            let (position, pending) = (self.core.position(), self.core.pending());
            self.shared.touch_line_after(frame, pending);
            let header = self.shared.read_header(frame);
            let capacity = self.shared.capacity;
            match check_frame(position, offset, capacity, pending, header.size, header.id)? {
                FrameKind::Padding { len } => self.release(len),
                FrameKind::Message { len, .. } => {
                    if let Err(e) = self.versions.check::<S>(&self.shared.segment, header, position)
                    {
                        self.release(len);
                        return Err(e);
                    }
                    let shared = &self.shared;
                    let message = || message_bytes(shared, frame, header.size as usize);
                    let widened = self.versions.widen::<S>(header, message);
                    return Ok(Some(Found { frame, header, len, widened }));
                }
            }
        }
    }

    fn release(&mut self, len: u64) {
        self.core.release(self.shared.positions(), len);
        self.shared.writer_parking().wake();
    }

    fn empty_or_disconnected(&mut self) -> RecvError {
        if !self.shared.writer_left(&mut self.empty_polls) {
            return RecvError::Empty;
        }
        // The writer is gone. Re-check: it may have committed just before it left.
        match self.core.try_acquire(self.shared.positions()) {
            Ok(None) => RecvError::Disconnected,
            Ok(Some(_)) => RecvError::Empty,
            Err(e) => e.into(),
        }
    }

    /// Receives the next frame in place, if one is committed.
    ///
    /// # Errors
    ///
    /// [`RecvError::Empty`], [`RecvError::Disconnected`] (writer gone, ring drained),
    /// [`RecvError::Corrupt`] or [`RecvError::CorruptFrame`] (the reader stays at the bad frame).
    pub fn try_recv(&mut self) -> Result<Frame<'_, S>, RecvError> {
        match self.next()? {
            Some(found) => Ok(Frame { reader: self, found }),
            None => Err(self.empty_or_disconnected()),
        }
    }

    /// Receives the next frame, waiting according to the wait strategy.
    ///
    /// # Errors
    ///
    /// [`RecvError::Disconnected`], [`RecvError::Corrupt`] or [`RecvError::CorruptFrame`].
    pub fn recv(&mut self) -> Result<Frame<'_, S>, RecvError> {
        self.recv_deadline(None)
    }

    /// Receives the next frame, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`StreamReader::recv`], or [`RecvError::Timeout`].
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Frame<'_, S>, RecvError> {
        self.recv_deadline(Some(Instant::now() + timeout))
    }

    fn recv_deadline(&mut self, deadline: Option<Instant>) -> Result<Frame<'_, S>, RecvError> {
        let found = loop {
            if let Some(found) = self.next()? {
                break found;
            }
            let shared = &self.shared;
            let core = &mut self.core;
            let waited = wait_for(
                self.wait,
                shared.reader_parking(),
                deadline,
                || Ok(core.try_acquire(shared.positions())?.map(|_| ())),
                || if shared.writer_gone() { Err(RecvError::Disconnected) } else { Ok(()) },
                || RecvError::Timeout,
            );
            match waited {
                Ok(()) => {}
                // The writer died: deliver what it committed first.
                Err(RecvError::Disconnected) => match self.next()? {
                    Some(found) => break found,
                    None => {
                        self.empty_polls = crate::ring::WRITER_SEEN_GONE;
                        return Err(RecvError::Disconnected);
                    }
                },
                Err(e) => return Err(e),
            }
        };
        Ok(Frame { reader: self, found })
    }

    /// Bytes released since the segment was created (the shared `read_pos`).
    pub fn position(&self) -> u64 {
        self.core.position()
    }
}

impl<S: MessageSet> Drop for StreamReader<S> {
    fn drop(&mut self) {
        self.shared.segment.unlock_peer(READER);
        self.shared.writer_parking().wake();
    }
}

/// A received frame, read in place in the ring; it is released when this is dropped.
#[derive(Debug)]
pub struct Frame<'a, S: MessageSet> {
    reader: &'a mut StreamReader<S>,
    found: Found,
}

impl<S: MessageSet> Frame<'_, S> {
    /// The message id in the frame header.
    pub fn id(&self) -> u32 {
        self.found.header.id
    }

    /// The writer's schema version, from the frame header (its [`crate::FlatMessage::VERSION`];
    /// a header `version` of 0, from a writer that predates versions, is version 1). When it is older than the reader's, members added
    /// since read as zero; `T::has_<member>(version)` says which.
    pub fn version(&self) -> u16 {
        self.found.header.version.max(1)
    }

    /// The frame's position in the stream, in bytes.
    pub fn position(&self) -> u64 {
        self.reader.core.position()
    }

    /// The message bytes as the writer wrote them, in place (`size` from the frame header,
    /// checked to lie in the ring).
    pub fn bytes(&self) -> &[u8] {
        message_bytes(&self.reader.shared, self.found.frame, self.found.header.size as usize)
    }

    /// The bytes the reader's type is viewed from: the frame in place, or its zero-extended copy
    /// when the writer's version is older and smaller.
    fn view_bytes(&self) -> &[u8] {
        match self.found.widened {
            0 => self.bytes(),
            len => self.reader.versions.widened(len),
        }
    }

    /// The message as one of the library's views: `None` for an id the library does not know
    /// (skip it), an error if its bytes do not fit the reader's type or break its data rules.
    ///
    /// A message of a newer writer is viewed in place (the reader's prefix of it); one of an
    /// older writer is a zero-extended copy, so members it lacks read as zero (see
    /// [`Frame::version`]).
    pub fn message(&self) -> Option<Result<S::View<'_>, ViewError>> {
        S::view(self.found.header.id, self.view_bytes())
    }

    /// Views the message as a `T`, if the frame carries `T`'s id (in place or zero-extended, as
    /// [`Frame::message`]).
    pub fn get<T: InSet<S>>(&self) -> Option<Result<&T, ViewError>> {
        let header = self.found.header;
        (T::MESSAGE_ID == Some(header.id)).then(|| {
            let older = is_older(T::STEPS, T::VERSION, size_of::<T>(), header.version, header.size);
            if older && self.found.widened == size_of::<T>() {
                view::<T>(self.view_bytes())
            } else {
                view::<T>(self.bytes())
            }
        })
    }
}

impl<S: MessageSet> Drop for Frame<'_, S> {
    fn drop(&mut self) {
        self.reader.release(self.found.len);
    }
}
