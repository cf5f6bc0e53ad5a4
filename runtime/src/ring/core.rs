//! The SPSC ring protocol of `docs/PROTOCOL.md` §3 and §4, free of memory mapping and message
//! types, so that loom can model it (`loom_tests` below) and the channel and the stream only add
//! slot and frame access.
//!
//! Positions are `u64`s that only grow, counted in slots (typed channel) or bytes (framed
//! stream). The writer owns `write_pos`, the reader owns `read_pos`; each keeps a cached copy of
//! the other side's position and reloads it only when its cached view says full (writer) or
//! empty (reader). Everything below `write_pos` is complete: its Release store publishes every
//! slot or frame written before it, so a reader drains all of them after one Acquire load.
//! (Per-frame commit words that the reader polls were tried and measured: the reader's polling
//! then steals the cache line the writer is filling, and the stream round trip tripled.)

use crate::sync::{AtomicU64, Ordering};

/// Bytes of the header at the start of every stream frame:
/// `u32 size; u32 id; u16 version; u16 flags; u32 reserved`.
pub(crate) const FRAME_HEADER: u64 = 16;
/// [`FRAME_HEADER`] as a `usize`, for offsets into the mapping.
pub(crate) const FRAME_HEADER_BYTES: usize = 16;
/// Frame header offsets.
pub(crate) const FH_SIZE: usize = 0;
pub(crate) const FH_ID: usize = 4;
pub(crate) const FH_VERSION_FLAGS: usize = 8;
/// Frame header: reserved word (written 0, ignored by readers).
pub(crate) const FH_RESERVED: usize = 12;
/// Stream frames start at multiples of this many bytes.
pub(crate) const FRAME_ALIGN: u64 = 16;
/// The id of a stream padding frame, which fills the ring up to its end.
pub(crate) const PADDING_ID: u32 = 0xFFFF_0001;
/// The largest capacity (in slots or bytes): `2^30`, so that every data area fits comfortably
/// in the address space and frame sizes in a `u32`.
pub(crate) const MAX_CAPACITY: u64 = 1 << 30;

/// Length of the stream frame that carries a message of `size` bytes: header plus message,
/// rounded up to [`FRAME_ALIGN`].
#[inline]
pub(crate) const fn frame_len(size: u64) -> u64 {
    (FRAME_HEADER + size).next_multiple_of(FRAME_ALIGN)
}

/// The two shared positions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Positions<'a> {
    /// Units committed. Owned by the writer; its Release store publishes them.
    pub write_pos: &'a AtomicU64,
    /// Units released. Owned by the reader.
    pub read_pos: &'a AtomicU64,
}

/// Shared memory broke the protocol: the other process is buggy or hostile, or the memory was
/// overwritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Corrupt {
    /// The invariant `read_pos <= write_pos <= read_pos + capacity` is broken.
    Positions { read_pos: u64, write_pos: u64 },
    /// The frame at `position` holds an impossible `value` in the named header field.
    Frame { position: u64, field: &'static str, value: u64 },
}

/// `position mod capacity` for a power-of-two capacity (segments guarantee it), without a
/// division; below any non-zero `capacity` even if it were not a power of two, so indexes stay
/// in bounds.
#[inline]
pub(crate) const fn wrap(position: u64, capacity: u64) -> u64 {
    position & capacity.wrapping_sub(1)
}

/// Positions stay below this (2^62): at a billion messages or bytes a second that is 146 years,
/// so a larger value can only come from a corrupt or hostile segment, and refusing it keeps
/// every position sum (and the broadcast sequence words, `2p + 2`) free of overflow.
pub(crate) const MAX_POSITION: u64 = 1 << 62;

/// Checks `read_pos <= write_pos <= read_pos + capacity` and `write_pos < MAX_POSITION`.
#[inline]
pub(crate) fn check(read_pos: u64, write_pos: u64, capacity: u64) -> Result<(), Corrupt> {
    match write_pos.checked_sub(read_pos) {
        Some(used) if used <= capacity && write_pos < MAX_POSITION => Ok(()),
        _ => Err(Corrupt::Positions { read_pos, write_pos }),
    }
}

/// The writer's private state.
#[derive(Debug)]
pub(crate) struct WriterCore {
    /// Next position to write (the shared `write_pos` once published).
    pos: u64,
    /// Last `read_pos` seen; `pos - cached_read <= capacity` always.
    cached_read: u64,
    capacity: u64,
}

impl WriterCore {
    /// Resumes at the shared positions (a restarted writer continues after the last committed
    /// unit).
    pub(crate) fn attach(p: Positions<'_>, capacity: u64, align: u64) -> Result<Self, Corrupt> {
        let write_pos = p.write_pos.load(Ordering::Relaxed);
        // SYNC POINT B (Acquire): pairs with the reader's Release store of `read_pos` in
        // `ReaderCore::release`: units the reader released are free to overwrite.
        let read_pos = p.read_pos.load(Ordering::Acquire);
        check(read_pos, write_pos, capacity)?;
        // A stream's positions are multiples of 16: a scribbled one would put frames off their
        // alignment (the reader checks the same at its attach).
        if read_pos % align != 0 || write_pos % align != 0 {
            return Err(Corrupt::Positions { read_pos, write_pos });
        }
        Ok(Self { pos: write_pos, cached_read: read_pos, capacity })
    }

    /// How many units are free, reloading `read_pos` only when the cached view shows fewer than
    /// `wanted`.
    #[inline]
    pub(crate) fn free(&mut self, p: Positions<'_>, wanted: u64) -> Result<u64, Corrupt> {
        if self.capacity - (self.pos - self.cached_read) < wanted {
            // SYNC POINT B (Acquire): pairs with the reader's Release in `ReaderCore::release`.
            let read_pos = p.read_pos.load(Ordering::Acquire);
            check(read_pos, self.pos, self.capacity)?;
            self.cached_read = read_pos;
        }
        Ok(self.capacity - (self.pos - self.cached_read))
    }

    /// The slot index the next message goes to, if there is room (typed channel).
    #[inline]
    pub(crate) fn try_reserve(&mut self, p: Positions<'_>) -> Result<Option<u64>, Corrupt> {
        Ok((self.free(p, 1)? > 0).then(|| wrap(self.pos, self.capacity)))
    }

    /// The index of the slot at position `pos + k` (typed channel).
    #[inline]
    pub(crate) fn slot_after(&self, k: u64) -> u64 {
        wrap(self.pos + k, self.capacity)
    }

    /// Where the next stream frame of `len` bytes (a multiple of 16, at most `capacity / 2`)
    /// goes, if there is room: `Some((padding, at))` with `padding` the bytes of a padding frame
    /// to write first (0 if the frame fits before the end of the ring) and `at` the frame's byte
    /// offset.
    #[inline]
    pub(crate) fn reserve_frame(
        &mut self,
        p: Positions<'_>,
        len: u64,
    ) -> Result<Option<(u64, u64)>, Corrupt> {
        let (padding, needed) = self.frame_needs(len);
        if self.free(p, needed)? < needed {
            return Ok(None);
        }
        let offset = wrap(self.pos, self.capacity);
        Ok(Some((padding, wrap(offset + padding, self.capacity))))
    }

    /// For a stream frame of `len` bytes at the current position: the padding to write first
    /// (0 if the frame fits before the end of the ring) and the free bytes the two need. Less
    /// than `2 × len` (padding is only needed when fewer than `len` bytes are left), so at most
    /// `capacity` when `len ≤ capacity / 2`: a frame always fits in an empty ring.
    #[inline]
    pub(crate) fn frame_needs(&self, len: u64) -> (u64, u64) {
        let tail = self.capacity - wrap(self.pos, self.capacity);
        let padding = if len <= tail { 0 } else { tail };
        (padding, padding + len)
    }

    /// Publishes the next `n` units (slots or bytes, written since the last call).
    #[inline]
    pub(crate) fn advance(&mut self, p: Positions<'_>, n: u64) {
        self.pos += n;
        // SYNC POINT A (Release): pairs with the reader's Acquire load of `write_pos` in
        // `ReaderCore::try_acquire`; everything written to the units happens-before the reader's
        // reads of them.
        p.write_pos.store(self.pos, Ordering::Release);
    }

    /// The next position to write (the shared `write_pos`).
    #[inline]
    pub(crate) fn position(&self) -> u64 {
        self.pos
    }
}

/// The reader's private state.
#[derive(Debug)]
pub(crate) struct ReaderCore {
    /// Next position to read (equals the shared `read_pos`: only this reader stores it).
    pos: u64,
    /// Last `write_pos` seen; `cached_write - pos <= capacity` always.
    cached_write: u64,
    capacity: u64,
}

impl ReaderCore {
    /// Resumes at the shared positions (a restarted reader continues where the last one
    /// stopped); `read_pos` must be a multiple of `align` (1 for slots, 16 for stream bytes).
    pub(crate) fn attach(p: Positions<'_>, capacity: u64, align: u64) -> Result<Self, Corrupt> {
        let read_pos = p.read_pos.load(Ordering::Relaxed);
        // SYNC POINT A (Acquire): pairs with the writer's Release in `WriterCore::advance`.
        let write_pos = p.write_pos.load(Ordering::Acquire);
        check(read_pos, write_pos, capacity)?;
        if read_pos % align != 0 || write_pos % align != 0 {
            return Err(Corrupt::Positions { read_pos, write_pos });
        }
        Ok(Self { pos: read_pos, cached_write: write_pos, capacity })
    }

    /// The slot index (or byte offset) of the next committed unit, or `None` when empty.
    #[inline]
    pub(crate) fn try_acquire(&mut self, p: Positions<'_>) -> Result<Option<u64>, Corrupt> {
        if self.pos == self.cached_write {
            // SYNC POINT A (Acquire): pairs with the writer's Release in `WriterCore::advance`.
            let write_pos = p.write_pos.load(Ordering::Acquire);
            check(self.pos, write_pos, self.capacity)?;
            self.cached_write = write_pos;
            if write_pos == self.pos {
                return Ok(None);
            }
        }
        Ok(Some(wrap(self.pos, self.capacity)))
    }

    /// Units committed and not yet released, as last seen.
    #[inline]
    pub(crate) fn pending(&self) -> u64 {
        self.cached_write - self.pos
    }

    /// Typed channel: the index of the slot at position `pos + k`.
    #[inline]
    pub(crate) fn slot_after(&self, k: u64) -> u64 {
        wrap(self.pos + k, self.capacity)
    }

    /// Releases `n` units (the slots or frames read) back to the writer.
    #[inline]
    pub(crate) fn release(&mut self, p: Positions<'_>, n: u64) {
        self.pos += n;
        // SYNC POINT B (Release): pairs with the writer's Acquire loads of `read_pos`; all reads
        // of the released units happen-before the writer reuses them.
        p.read_pos.store(self.pos, Ordering::Release);
    }

    /// The next position to read (the shared `read_pos`).
    #[inline]
    pub(crate) fn position(&self) -> u64 {
        self.pos
    }
}

/// What the stream reader found in a committed frame header, checked against the ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameKind {
    /// A padding frame of `len` bytes up to the end of the ring: skip it.
    Padding { len: u64 },
    /// A message frame of `len` bytes whose message has `size` bytes.
    Message { len: u64, size: u64 },
}

/// Checks the header of a committed stream frame at `position` (byte `offset` of a ring of
/// `capacity` bytes, with `pending` committed bytes from there on): a padding frame must end
/// exactly at the end of the ring, a message frame must fit before it and be at most
/// `capacity / 2` long, and either must end within the committed bytes.
#[inline]
pub(crate) fn check_frame(
    position: u64,
    offset: u64,
    capacity: u64,
    pending: u64,
    size: u32,
    id: u32,
) -> Result<FrameKind, Corrupt> {
    let size = u64::from(size);
    let bad = |field, value| Err(Corrupt::Frame { position, field, value });
    let kind = if id == PADDING_ID {
        let len = capacity - offset;
        if size + FRAME_HEADER != len {
            return bad("size", size);
        }
        FrameKind::Padding { len }
    } else {
        let len = frame_len(size);
        if len > capacity / 2 || offset + len > capacity {
            return bad("size", size);
        }
        FrameKind::Message { len, size }
    };
    let (FrameKind::Padding { len } | FrameKind::Message { len, .. }) = kind;
    if len > pending {
        return bad("size", size);
    }
    Ok(kind)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn frame_lengths_round_up_to_16() {
        assert_eq!(frame_len(64), 80);
        assert_eq!(frame_len(1), 32);
        assert_eq!(frame_len(0), 16);
    }

    #[test]
    fn typed_fill_drain_and_wrap() {
        let (w, r) = (AtomicU64::new(0), AtomicU64::new(0));
        let p = Positions { write_pos: &w, read_pos: &r };
        let mut wc = WriterCore::attach(p, 4, 1).unwrap();
        let mut rc = ReaderCore::attach(p, 4, 1).unwrap();
        assert_eq!(rc.try_acquire(p).unwrap(), None);
        for round in 0..3u64 {
            for i in 0..4 {
                assert_eq!(wc.try_reserve(p).unwrap(), Some(i));
                wc.advance(p, 1);
            }
            assert_eq!(wc.try_reserve(p).unwrap(), None, "full at round {round}");
            assert_eq!(rc.try_acquire(p).unwrap(), Some(0));
            assert_eq!(rc.pending(), 4);
            rc.release(p, 4);
            assert_eq!(rc.try_acquire(p).unwrap(), None);
        }
        assert_eq!((wc.position(), rc.position()), (12, 12));
    }

    #[test]
    fn corrupt_positions_are_errors() {
        let (w, r) = (AtomicU64::new(10), AtomicU64::new(0));
        let p = Positions { write_pos: &w, read_pos: &r };
        assert!(ReaderCore::attach(p, 4, 1).is_err());
        assert!(WriterCore::attach(p, 4, 1).is_err());
        // Stream positions off the 16-byte frame grid are refused by both ends.
        let (w, r) = (AtomicU64::new(8), AtomicU64::new(0));
        let p = Positions { write_pos: &w, read_pos: &r };
        assert!(ReaderCore::attach(p, 256, FRAME_ALIGN).is_err());
        assert!(WriterCore::attach(p, 256, FRAME_ALIGN).is_err());
        assert!(WriterCore::attach(p, 256, 1).is_ok());
        assert!(check(MAX_POSITION - 1, MAX_POSITION, 4).is_err(), "positions stay below 2^62");
        assert!(check(MAX_POSITION - 2, MAX_POSITION - 1, 4).is_ok());
        let (w, r) = (AtomicU64::new(0), AtomicU64::new(0));
        let p = Positions { write_pos: &w, read_pos: &r };
        let mut rc = ReaderCore::attach(p, 4, 1).unwrap();
        w.store(u64::MAX, Ordering::Relaxed);
        assert_eq!(rc.try_acquire(p), Err(Corrupt::Positions { read_pos: 0, write_pos: u64::MAX }));
        w.store(8, Ordering::Relaxed);
        r.store(3, Ordering::Relaxed);
        assert!(ReaderCore::attach(p, 64, 16).is_err(), "a stream position not a multiple of 16");
        r.store(0, Ordering::Relaxed);
        w.store(4, Ordering::Relaxed);
        let mut wc = WriterCore::attach(p, 4, 1).unwrap();
        r.store(9, Ordering::Relaxed);
        assert!(wc.free(p, 5).is_err());
    }

    #[test]
    fn frames_never_wrap() {
        let (w, r) = (AtomicU64::new(0), AtomicU64::new(0));
        let p = Positions { write_pos: &w, read_pos: &r };
        let mut wc = WriterCore::attach(p, 128, 1).unwrap();
        assert_eq!(wc.reserve_frame(p, 64).unwrap(), Some((0, 0)));
        wc.advance(p, 64);
        assert_eq!(wc.reserve_frame(p, 64).unwrap(), Some((0, 64)));
        wc.advance(p, 48);
        assert_eq!(wc.reserve_frame(p, 32).unwrap(), None, "16 bytes free");
        r.store(96, Ordering::Release);
        // 16 bytes left before the end: a 48-byte frame goes to offset 0 after 16 of padding.
        assert_eq!(wc.frame_needs(48), (16, 64));
        assert_eq!(wc.reserve_frame(p, 48).unwrap(), Some((16, 0)));
        let pad = check_frame(112, 112, 128, 16, 0, PADDING_ID);
        assert_eq!(pad, Ok(FrameKind::Padding { len: 16 }));
        assert!(check_frame(112, 112, 128, 16, 16, PADDING_ID).is_err(), "not to the end");
        assert!(check_frame(112, 112, 128, 8, 0, PADDING_ID).is_err(), "beyond write_pos");
        let message = check_frame(0, 0, 128, 128, 20, 7);
        assert_eq!(message, Ok(FrameKind::Message { len: 48, size: 20 }));
        assert!(check_frame(0, 0, 128, 32, 20, 7).is_err(), "beyond write_pos");
        assert!(check_frame(0, 0, 128, 128, 60, 7).is_err(), "longer than capacity / 2");
        assert!(check_frame(0, 96, 128, 128, 32, 7).is_err(), "runs past the end");
    }
}

#[cfg(loom)]
mod loom_tests {
    //! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p flatipc --lib --release loom`
    //! explores every interleaving (up to the preemption bound) of a writer and a reader thread
    //! and checks, through loom's `UnsafeCell` tracking, that no slot or frame is read while it
    //! is written: the typed channel (single messages and batches) and the framed stream
    //! (variable frames with padding).

    use loom::cell::UnsafeCell;
    use loom::sync::Arc;
    use loom::thread;

    use super::*;

    struct Ring {
        write_pos: AtomicU64,
        read_pos: AtomicU64,
        /// 16-byte units: a slot, or a stream frame header `[size, id, value]` or message bytes.
        units: Vec<UnsafeCell<[u32; 3]>>,
    }

    impl Ring {
        fn new(units: usize) -> Arc<Ring> {
            Arc::new(Ring {
                write_pos: AtomicU64::new(0),
                read_pos: AtomicU64::new(0),
                units: (0..units).map(|_| UnsafeCell::new([0; 3])).collect(),
            })
        }

        fn positions(&self) -> Positions<'_> {
            Positions { write_pos: &self.write_pos, read_pos: &self.read_pos }
        }
    }

    const MESSAGES: u64 = 3;

    #[test]
    fn loom_typed_slots_arrive_in_order_without_data_races() {
        loom::model(|| {
            let ring = Ring::new(2);
            let w = Arc::clone(&ring);
            let writer = thread::spawn(move || {
                let p = w.positions();
                let mut core = WriterCore::attach(p, 2, 1).unwrap();
                let mut sent = 0;
                while sent < MESSAGES {
                    match core.try_reserve(p).unwrap() {
                        Some(i) => {
                            // SAFETY: the slot is free: the reader released it (SYNC POINT B).
                            w.units[i as usize]
                                .with_mut(|u| unsafe { (*u)[0] = 100 + sent as u32 });
                            core.advance(p, 1);
                            sent += 1;
                        }
                        None => thread::yield_now(),
                    }
                }
            });
            let p = ring.positions();
            let mut core = ReaderCore::attach(p, 2, 1).unwrap();
            let mut received = 0;
            while received < MESSAGES {
                match core.try_acquire(p).unwrap() {
                    Some(i) => {
                        // SAFETY: the slot is committed (SYNC POINT A) and not released.
                        let v = ring.units[i as usize].with(|u| unsafe { (*u)[0] });
                        assert_eq!(v, 100 + received as u32);
                        core.release(p, 1);
                        received += 1;
                    }
                    None => thread::yield_now(),
                }
            }
            writer.join().unwrap();
        });
    }

    #[test]
    fn loom_typed_batches_arrive_in_order_without_data_races() {
        loom::model(|| {
            let ring = Ring::new(2);
            let w = Arc::clone(&ring);
            let writer = thread::spawn(move || {
                let p = w.positions();
                let mut core = WriterCore::attach(p, 2, 1).unwrap();
                let mut sent = 0;
                while sent < MESSAGES {
                    let n = core.free(p, MESSAGES - sent).unwrap().min(MESSAGES - sent);
                    if n == 0 {
                        thread::yield_now();
                        continue;
                    }
                    for k in 0..n {
                        let unit = &w.units[core.slot_after(k) as usize];
                        // SAFETY: slots `pos .. pos + free` are released by the reader.
                        unit.with_mut(|u| unsafe { (*u)[0] = (100 + sent + k) as u32 });
                    }
                    core.advance(p, n);
                    sent += n;
                }
            });
            let p = ring.positions();
            let mut core = ReaderCore::attach(p, 2, 1).unwrap();
            let mut received = 0;
            while received < MESSAGES {
                if core.try_acquire(p).unwrap().is_none() {
                    thread::yield_now();
                    continue;
                }
                let n = core.pending();
                for k in 0..n {
                    let unit = &ring.units[core.slot_after(k) as usize];
                    // SAFETY: slots `pos .. pos + pending` are committed and unreleased.
                    let v = unit.with(|u| unsafe { (*u)[0] });
                    assert_eq!(v, (100 + received + k) as u32);
                }
                core.release(p, n);
                received += n;
            }
            writer.join().unwrap();
        });
    }

    /// Framed stream: 128 bytes (8 units); frames of 32 and 48 bytes alternate, so the fourth
    /// frame needs a padding frame and goes to offset 0.
    #[test]
    fn loom_stream_frames_wrap_with_padding_without_data_races() {
        const CAPACITY: u64 = 128;
        const FRAMES: u64 = 4;
        let size_of = |n: u64| if n % 2 == 0 { 16 } else { 32 };
        loom::model(move || {
            let ring = Ring::new((CAPACITY / 16) as usize);
            let w = Arc::clone(&ring);
            let writer = thread::spawn(move || {
                let p = w.positions();
                let mut core = WriterCore::attach(p, CAPACITY, 1).unwrap();
                let mut sent = 0;
                while sent < FRAMES {
                    let size = size_of(sent);
                    let len = frame_len(size);
                    let Some((padding, at)) = core.reserve_frame(p, len).unwrap() else {
                        thread::yield_now();
                        continue;
                    };
                    let unit = |offset: u64| &w.units[(offset / 16) as usize];
                    if padding > 0 {
                        let header = [(padding - FRAME_HEADER) as u32, PADDING_ID, 0];
                        // SAFETY: reserved bytes are free (SYNC POINT B).
                        unit(CAPACITY - padding).with_mut(|u| unsafe { *u = header });
                    }
                    // SAFETY: as above. The frame's message bytes are modelled by `value`.
                    unit(at).with_mut(|u| unsafe { *u = [size as u32, 7, 100 + sent as u32] });
                    core.advance(p, padding + len);
                    sent += 1;
                }
            });
            let p = ring.positions();
            let mut core = ReaderCore::attach(p, CAPACITY, 16).unwrap();
            let mut received = 0;
            while received < FRAMES {
                let Some(offset) = core.try_acquire(p).unwrap() else {
                    thread::yield_now();
                    continue;
                };
                // SAFETY: committed (SYNC POINT A) and not yet released.
                let [size, id, value] = ring.units[(offset / 16) as usize].with(|u| unsafe { *u });
                let pending = core.pending();
                match check_frame(core.position(), offset, CAPACITY, pending, size, id).unwrap() {
                    FrameKind::Padding { len } => core.release(p, len),
                    FrameKind::Message { len, size } => {
                        assert_eq!((size, value), (size_of(received), 100 + received as u32));
                        core.release(p, len);
                        received += 1;
                    }
                }
            }
            writer.join().unwrap();
        });
    }
}
