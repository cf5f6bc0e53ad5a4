//! The SPSC ring protocol of `docs/PROTOCOL.md` §3 and §4, free of memory mapping and message
//! types, so that loom can model it (`loom_tests` below) and the channel and the stream only add
//! slot and frame access.
//!
//! Positions are `u64`s that only grow, counted in slots (typed channel) or bytes (framed
//! stream). The writer owns `write_pos`, the reader owns `read_pos`; each keeps a cached copy of
//! the other side's position and reloads it only when its cached view says full (writer) or
//! empty (typed reader). The two rings publish differently:
//!
//! - **typed channel**: slots hold only the message; the Release store of `write_pos` publishes
//!   (a reader drains everything committed with one load, and a 64-byte message fills exactly one
//!   cache line);
//! - **framed stream**: every frame starts with a 16-byte header whose first word, `commit`, is
//!   stored last, with Release, as [`tag`]`(position)`; the reader polls it and never reads
//!   `write_pos`, so a small message and its publication share a cache line.

use crate::sync::{AtomicU32, AtomicU64, Ordering};

/// Bytes of the frame header at the start of every slot (typed) and frame (stream):
/// `u32 commit; u32 size; u32 id; u16 version; u16 flags`.
pub(crate) const FRAME_HEADER: u64 = 16;
/// [`FRAME_HEADER`] as a `usize`, for offsets into the mapping.
pub(crate) const FRAME_HEADER_BYTES: usize = 16;
/// Frame header offsets.
pub(crate) const FH_COMMIT: usize = 0;
pub(crate) const FH_SIZE: usize = 4;
pub(crate) const FH_ID: usize = 8;
pub(crate) const FH_VERSION_FLAGS: usize = 12;
/// Stream frames start at multiples of this many bytes.
pub(crate) const FRAME_ALIGN: u64 = 16;
/// The id of a stream padding frame, which fills the ring up to its end.
pub(crate) const PADDING_ID: u32 = 0xFFFF_0001;
/// The largest capacity (in slots or bytes): [`tag`] tells positions a lap apart apart only
/// below `2^31`.
pub(crate) const MAX_CAPACITY: u64 = 1 << 30;

/// The commit word of the frame at `position`: `(position × 2 + 1) mod 2^32`. It is never 0 (the
/// value of a frame not yet written) and differs from the tag of the frame one lap earlier at the
/// same place as long as `capacity < 2^31`.
#[allow(clippy::cast_possible_truncation)] // the tag is the position modulo 2^32, by design
pub(crate) const fn tag(position: u64) -> u32 {
    ((position << 1) | 1) as u32
}

/// Length of the stream frame that carries a message of `size` bytes: header plus message,
/// rounded up to [`FRAME_ALIGN`].
pub(crate) const fn frame_len(size: u64) -> u64 {
    (FRAME_HEADER + size).next_multiple_of(FRAME_ALIGN)
}

/// The two shared positions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Positions<'a> {
    /// Units committed. Owned by the writer, stored after each commit; may lag the commit words
    /// by one frame if the writer dies in between (a restarted writer catches up).
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

/// Checks `read_pos <= write_pos <= read_pos + capacity`.
pub(crate) fn check(read_pos: u64, write_pos: u64, capacity: u64) -> Result<(), Corrupt> {
    match write_pos.checked_sub(read_pos) {
        Some(used) if used <= capacity => Ok(()),
        _ => Err(Corrupt::Positions { read_pos, write_pos }),
    }
}

/// Whether the commit word `word` of the frame at `position` says it is committed: `Ok(true)` if
/// it holds `tag(position)`, `Ok(false)` if it holds 0 (never written, or cleared ahead by the
/// stream writer) or the tag of the frame a lap earlier, an error otherwise.
pub(crate) fn committed(word: &AtomicU32, position: u64, capacity: u64) -> Result<bool, Corrupt> {
    // SYNC POINT A (Acquire): pairs with the writer's Release store of the commit word in
    // `WriterCore::publish`: every byte of the frame, and the cleared commit word of the next
    // stream frame, happen-before the reader's reads.
    let value = word.load(Ordering::Acquire);
    if value == tag(position) {
        Ok(true)
    } else if value == 0 || value == tag(position.wrapping_sub(capacity)) {
        Ok(false)
    } else {
        Err(Corrupt::Frame { position, field: "commit", value: u64::from(value) })
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
    /// Resumes at the shared `write_pos`, first skipping the frames that a writer which died
    /// between its commit and its `write_pos` store left committed: `committed_len(p)` returns
    /// the length of the committed frame at `p`, `None` if there is none.
    pub(crate) fn attach(
        p: Positions<'_>,
        capacity: u64,
        mut committed_len: impl FnMut(u64) -> Result<Option<u64>, Corrupt>,
    ) -> Result<Self, Corrupt> {
        let mut write_pos = p.write_pos.load(Ordering::Relaxed);
        // SYNC POINT B (Acquire): pairs with the reader's Release store of `read_pos` in
        // `ReaderCore::release`: slots the reader released are free to overwrite.
        let read_pos = p.read_pos.load(Ordering::Acquire);
        check(read_pos, write_pos, capacity)?;
        let start = write_pos;
        while let Some(len) = committed_len(write_pos)? {
            write_pos += len;
            check(read_pos, write_pos, capacity)?;
            if write_pos - start > capacity {
                return Err(Corrupt::Positions { read_pos, write_pos });
            }
        }
        if write_pos != start {
            p.write_pos.store(write_pos, Ordering::Release);
        }
        Ok(Self { pos: write_pos, cached_read: read_pos, capacity })
    }

    /// How many units are free, reloading `read_pos` only when the cached view shows fewer than
    /// `wanted`.
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
    pub(crate) fn try_reserve(&mut self, p: Positions<'_>) -> Result<Option<u64>, Corrupt> {
        Ok((self.free(p, 1)? > 0).then(|| self.pos % self.capacity))
    }

    /// The index of the slot at position `pos + k` (typed channel).
    pub(crate) fn slot_after(&self, k: u64) -> u64 {
        (self.pos + k) % self.capacity
    }

    /// Where the next stream frame of `len` bytes (a multiple of 16, at most `capacity / 2`)
    /// goes, if there is room for it and for the next frame's commit word: `Some((padding, at))`
    /// with `padding` the bytes of a padding frame to write first (0 if the frame fits before
    /// the end of the ring) and `at` the frame's byte offset.
    pub(crate) fn reserve_frame(
        &mut self,
        p: Positions<'_>,
        len: u64,
    ) -> Result<Option<(u64, u64)>, Corrupt> {
        let (padding, needed) = self.frame_needs(len);
        if self.free(p, needed)? < needed {
            return Ok(None);
        }
        let offset = self.pos % self.capacity;
        Ok(Some((padding, (offset + padding) % self.capacity)))
    }

    /// For a stream frame of `len` bytes at the current position: the padding to write first
    /// (0 if the frame fits before the end of the ring) and the free bytes the frame needs — the
    /// padding, the frame, and the next frame's header, whose commit word `publish` clears. At
    /// most `2 × len` (padding is only needed when fewer than `len` bytes are left), so at most
    /// `capacity` when `len ≤ capacity / 2`.
    pub(crate) fn frame_needs(&self, len: u64) -> (u64, u64) {
        let tail = self.capacity - self.pos % self.capacity;
        let padding = if len <= tail { 0 } else { tail };
        (padding, padding + len + FRAME_HEADER)
    }

    /// Publishes the frame at position `pos + k` by storing its tag in its commit word.
    pub(crate) fn publish(&self, commit: &AtomicU32, k: u64) {
        // SYNC POINT A (Release): pairs with the reader's Acquire load in `committed`;
        // everything written to the frame happens-before the reader's reads of it.
        commit.store(tag(self.pos + k), Ordering::Release);
    }

    /// Moves past `n` written units and stores the new `write_pos`. For a typed channel this
    /// publishes the `n` slots; for a stream the frames' commit words already did, and
    /// `write_pos` is for a restarted writer and observers.
    pub(crate) fn advance(&mut self, p: Positions<'_>, n: u64) {
        self.pos += n;
        // SYNC POINT A (Release), typed channel: pairs with the reader's Acquire load of
        // `write_pos` in `ReaderCore::try_acquire`; everything written to the slots
        // happens-before the reader's reads of them. Stream: `write_pos` never runs ahead of the
        // commit words for whoever Acquire-loads it.
        p.write_pos.store(self.pos, Ordering::Release);
    }

    /// The next position to write (the shared `write_pos`).
    pub(crate) fn position(&self) -> u64 {
        self.pos
    }
}

/// The reader's private state.
#[derive(Debug)]
pub(crate) struct ReaderCore {
    /// Next position to read (equals the shared `read_pos`: only this reader stores it).
    pos: u64,
    /// Typed channel: last `write_pos` seen; `cached_write - pos <= capacity` always.
    cached_write: u64,
    capacity: u64,
}

/// How a ring publishes its units (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Publication {
    /// Typed channel: the `write_pos` store.
    WritePos,
    /// Framed stream: each frame's commit word; positions are multiples of 16.
    CommitWord,
}

impl ReaderCore {
    /// Resumes at the shared `read_pos` (a restarted reader continues where the last one
    /// stopped), after checking it against `write_pos`: exactly for a typed channel; for a
    /// stream `write_pos` may lag the commit words by a frame, so within a lap either way.
    pub(crate) fn attach(
        p: Positions<'_>,
        capacity: u64,
        publication: Publication,
    ) -> Result<Self, Corrupt> {
        let read_pos = p.read_pos.load(Ordering::Relaxed);
        // SYNC POINT A (Acquire), typed channel: pairs with the writer's Release in
        // `WriterCore::advance`.
        let write_pos = p.write_pos.load(Ordering::Acquire);
        let consistent = match publication {
            Publication::WritePos => check(read_pos, write_pos, capacity).is_ok(),
            Publication::CommitWord => {
                read_pos % FRAME_ALIGN == 0 && read_pos.abs_diff(write_pos) <= capacity
            }
        };
        if !consistent {
            return Err(Corrupt::Positions { read_pos, write_pos });
        }
        let cached_write = if publication == Publication::WritePos { write_pos } else { read_pos };
        Ok(Self { pos: read_pos, cached_write, capacity })
    }

    /// Typed channel: the slot index of the next committed message, or `None` when empty.
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
        Ok(Some(self.pos % self.capacity))
    }

    /// Typed channel: messages committed and not yet released, as last seen.
    pub(crate) fn pending(&self) -> u64 {
        self.cached_write - self.pos
    }

    /// Stream: whether the frame at the reader's position is committed (`commit` is its commit
    /// word).
    pub(crate) fn committed(&self, commit: &AtomicU32) -> Result<bool, Corrupt> {
        committed(commit, self.pos, self.capacity)
    }

    /// Typed channel: the index of the slot at position `pos + k`.
    pub(crate) fn slot_after(&self, k: u64) -> u64 {
        (self.pos + k) % self.capacity
    }

    /// Stream: the byte offset of the reader's position in the ring.
    pub(crate) fn offset(&self) -> u64 {
        self.pos % self.capacity
    }

    /// Releases `n` units (the slots or frames read) back to the writer.
    pub(crate) fn release(&mut self, p: Positions<'_>, n: u64) {
        self.pos += n;
        // SYNC POINT B (Release): pairs with the writer's Acquire loads of `read_pos`; all reads
        // of the released units happen-before the writer reuses them.
        p.read_pos.store(self.pos, Ordering::Release);
    }

    /// The next position to read (the shared `read_pos`).
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

/// Checks a committed stream frame header read at byte `offset` of a ring of `capacity` bytes:
/// a padding frame must end exactly at the end of the ring, a message frame must fit before it
/// and be at most `capacity / 2` long.
pub(crate) fn check_frame(
    position: u64,
    offset: u64,
    capacity: u64,
    size: u32,
    id: u32,
) -> Result<FrameKind, Corrupt> {
    let size = u64::from(size);
    let bad = |field, value| Err(Corrupt::Frame { position, field, value });
    if id == PADDING_ID {
        let len = capacity - offset;
        if size + FRAME_HEADER != len {
            return bad("size", size);
        }
        return Ok(FrameKind::Padding { len });
    }
    let len = frame_len(size);
    if len > capacity / 2 || offset + len > capacity {
        return bad("size", size);
    }
    Ok(FrameKind::Message { len, size })
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn tags_are_never_zero_and_differ_from_the_previous_lap() {
        for position in [0, 1, 2, u32::MAX as u64, (1 << 31) - 1, u64::MAX - 1, u64::MAX] {
            assert_ne!(tag(position), 0);
            for capacity in [2, 16, MAX_CAPACITY] {
                assert_ne!(tag(position), tag(position.wrapping_sub(capacity)));
            }
        }
        assert_eq!(frame_len(64), 80);
        assert_eq!(frame_len(1), 32);
        assert_eq!(frame_len(0), 16);
    }

    #[test]
    fn typed_fill_drain_and_wrap() {
        let (w, r) = (AtomicU64::new(0), AtomicU64::new(0));
        let p = Positions { write_pos: &w, read_pos: &r };
        let mut wc = WriterCore::attach(p, 4, |_| Ok(None)).unwrap();
        let mut rc = ReaderCore::attach(p, 4, Publication::WritePos).unwrap();
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
    fn stream_commit_words_publish_frames() {
        let (w, r) = (AtomicU64::new(0), AtomicU64::new(0));
        let p = Positions { write_pos: &w, read_pos: &r };
        let word = AtomicU32::new(0);
        let mut wc = WriterCore::attach(p, 256, |_| Ok(None)).unwrap();
        let mut rc = ReaderCore::attach(p, 256, Publication::CommitWord).unwrap();
        assert!(!rc.committed(&word).unwrap());
        wc.publish(&word, 0);
        wc.advance(p, 32);
        assert!(rc.committed(&word).unwrap());
        rc.release(p, 256);
        // A lap later the same word holds the previous lap's tag: not committed.
        assert!(!rc.committed(&word).unwrap());
    }

    #[test]
    fn corrupt_positions_and_words_are_errors() {
        let (w, r) = (AtomicU64::new(10), AtomicU64::new(0));
        let p = Positions { write_pos: &w, read_pos: &r };
        assert!(ReaderCore::attach(p, 4, Publication::WritePos).is_err());
        assert!(WriterCore::attach(p, 4, |_| Ok(None)).is_err());
        let (w, r) = (AtomicU64::new(0), AtomicU64::new(0));
        let p = Positions { write_pos: &w, read_pos: &r };
        assert!(ReaderCore::attach(p, 4, Publication::WritePos).is_ok());
        r.store(3, Ordering::Relaxed);
        assert!(ReaderCore::attach(p, 64, Publication::CommitWord).is_err(), "misaligned");
        r.store(0, Ordering::Relaxed);
        let mut rc = ReaderCore::attach(p, 4, Publication::WritePos).unwrap();
        w.store(u64::MAX, Ordering::Relaxed);
        assert_eq!(rc.try_acquire(p), Err(Corrupt::Positions { read_pos: 0, write_pos: u64::MAX }));
        w.store(0, Ordering::Relaxed);
        let word = AtomicU32::new(0x1234);
        assert_eq!(
            committed(&word, 0, 4),
            Err(Corrupt::Frame { position: 0, field: "commit", value: 0x1234 })
        );
        r.store(0, Ordering::Relaxed);
        let mut wc = WriterCore::attach(p, 4, |_| Ok(None)).unwrap();
        r.store(9, Ordering::Relaxed);
        assert!(wc.free(p, 5).is_err());
    }

    #[test]
    fn a_restarted_writer_skips_frames_committed_after_its_last_write_pos() {
        let (w, r) = (AtomicU64::new(2), AtomicU64::new(0));
        let p = Positions { write_pos: &w, read_pos: &r };
        let wc = WriterCore::attach(p, 8, |pos| Ok((pos < 4).then_some(1))).unwrap();
        assert_eq!((wc.position(), w.load(Ordering::Relaxed)), (4, 4));
        // A writer whose frames never end is refused rather than looping.
        assert!(WriterCore::attach(p, 8, |_| Ok(Some(1))).is_err());
    }

    #[test]
    fn frames_never_wrap_and_leave_room_for_the_next_commit_word() {
        let (w, r) = (AtomicU64::new(0), AtomicU64::new(0));
        let p = Positions { write_pos: &w, read_pos: &r };
        let mut wc = WriterCore::attach(p, 128, |_| Ok(None)).unwrap();
        assert_eq!(wc.reserve_frame(p, 64).unwrap(), Some((0, 0)));
        wc.advance(p, 64);
        assert_eq!(wc.reserve_frame(p, 64).unwrap(), None, "64 + 16 > 64 free");
        assert_eq!(wc.reserve_frame(p, 48).unwrap(), Some((0, 64)));
        wc.advance(p, 48);
        r.store(96, Ordering::Release);
        // 16 bytes left before the end: a 48-byte frame goes to offset 0 after 16 of padding.
        assert_eq!(wc.reserve_frame(p, 48).unwrap(), Some((16, 0)));
        assert_eq!(check_frame(112, 112, 128, 0, PADDING_ID), Ok(FrameKind::Padding { len: 16 }));
        assert!(check_frame(112, 112, 128, 16, PADDING_ID).is_err());
        assert_eq!(check_frame(0, 0, 128, 20, 7), Ok(FrameKind::Message { len: 48, size: 20 }));
        assert!(check_frame(0, 0, 128, 60, 7).is_err(), "longer than capacity / 2");
        assert!(check_frame(0, 96, 128, 32, 7).is_err(), "runs past the end");
    }
}

#[cfg(loom)]
mod loom_tests {
    //! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p flatipc --lib --release loom`
    //! explores every interleaving (up to the preemption bound) of a writer and a reader thread
    //! and checks, through loom's `UnsafeCell` tracking, that no frame is read while it is
    //! written, for both the typed channel (fixed slots) and the framed stream (variable frames
    //! with padding and the cleared next commit word).

    use loom::cell::UnsafeCell;
    use loom::sync::Arc;
    use loom::thread;

    use super::*;

    /// One 16-byte unit of a modelled ring: its first word (a commit word when a frame starts
    /// here) and the rest (frame header fields or message bytes).
    struct Unit {
        word: AtomicU32,
        rest: UnsafeCell<[u32; 3]>,
    }

    struct Ring {
        write_pos: AtomicU64,
        read_pos: AtomicU64,
        units: Vec<Unit>,
    }

    impl Ring {
        fn new(units: usize) -> Arc<Ring> {
            Arc::new(Ring {
                write_pos: AtomicU64::new(0),
                read_pos: AtomicU64::new(0),
                units: (0..units)
                    .map(|_| Unit { word: AtomicU32::new(0), rest: UnsafeCell::new([0; 3]) })
                    .collect(),
            })
        }

        fn positions(&self) -> Positions<'_> {
            Positions { write_pos: &self.write_pos, read_pos: &self.read_pos }
        }
    }

    const MESSAGES: u64 = 3;

    /// Typed channel: 2 slots, each one unit; the message is `rest[0]`; `write_pos` publishes.
    #[test]
    fn loom_typed_slots_arrive_in_order_without_data_races() {
        loom::model(|| {
            let ring = Ring::new(2);
            let w = Arc::clone(&ring);
            let writer = thread::spawn(move || {
                let p = w.positions();
                let mut core = WriterCore::attach(p, 2, |_| Ok(None)).unwrap();
                let mut sent = 0;
                while sent < MESSAGES {
                    match core.try_reserve(p).unwrap() {
                        Some(i) => {
                            // SAFETY: the slot is free: the reader released it (SYNC POINT B).
                            let slot = &w.units[i as usize].rest;
                            slot.with_mut(|r| unsafe { (*r)[0] = 100 + sent as u32 });
                            core.advance(p, 1);
                            sent += 1;
                        }
                        None => thread::yield_now(),
                    }
                }
            });
            let p = ring.positions();
            let mut core = ReaderCore::attach(p, 2, Publication::WritePos).unwrap();
            let mut received = 0;
            while received < MESSAGES {
                match core.try_acquire(p).unwrap() {
                    Some(i) => {
                        // SAFETY: the slot is committed (SYNC POINT A) and not released.
                        let v = ring.units[i as usize].rest.with(|r| unsafe { (*r)[0] });
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

    /// Typed channel, batches: the writer fills every free slot and publishes them with one
    /// store; the reader drains everything pending and releases it with one store.
    #[test]
    fn loom_typed_batches_arrive_in_order_without_data_races() {
        loom::model(|| {
            let ring = Ring::new(2);
            let w = Arc::clone(&ring);
            let writer = thread::spawn(move || {
                let p = w.positions();
                let mut core = WriterCore::attach(p, 2, |_| Ok(None)).unwrap();
                let mut sent = 0;
                while sent < MESSAGES {
                    let n = core.free(p, MESSAGES - sent).unwrap().min(MESSAGES - sent);
                    if n == 0 {
                        thread::yield_now();
                        continue;
                    }
                    for k in 0..n {
                        let slot = &w.units[core.slot_after(k) as usize].rest;
                        // SAFETY: slots `pos .. pos + free` are released by the reader.
                        slot.with_mut(|r| unsafe { (*r)[0] = (100 + sent + k) as u32 });
                    }
                    core.advance(p, n);
                    sent += n;
                }
            });
            let p = ring.positions();
            let mut core = ReaderCore::attach(p, 2, Publication::WritePos).unwrap();
            let mut received = 0;
            while received < MESSAGES {
                if core.try_acquire(p).unwrap().is_none() {
                    thread::yield_now();
                    continue;
                }
                let n = core.pending();
                for k in 0..n {
                    let slot = &ring.units[core.slot_after(k) as usize].rest;
                    // SAFETY: slots `pos .. pos + pending` are committed and unreleased.
                    let v = slot.with(|r| unsafe { (*r)[0] });
                    assert_eq!(v, (100 + received + k) as u32);
                }
                core.release(p, n);
                received += n;
            }
            writer.join().unwrap();
        });
    }

    /// Framed stream: 128 bytes (8 units); frames of 32 and 48 bytes alternate, so the fourth
    /// frame needs a padding frame and goes to offset 0. Header `rest` = `[size, id, value]`.
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
                let mut core = WriterCore::attach(p, CAPACITY, |_| Ok(None)).unwrap();
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
                        let pad = unit(CAPACITY - padding);
                        // SAFETY: reserved bytes are free (SYNC POINT B).
                        pad.rest.with_mut(|r| unsafe {
                            *r = [(padding - FRAME_HEADER) as u32, PADDING_ID, 0];
                        });
                        unit(0).word.store(0, Ordering::Relaxed);
                        core.publish(&pad.word, 0);
                        core.advance(p, padding);
                    }
                    let frame = unit(at);
                    // SAFETY: as above.
                    frame.rest.with_mut(|r| unsafe { *r = [size as u32, 7, 100 + sent as u32] });
                    // Clear the next frame's commit word before publishing this one.
                    unit((at + len) % CAPACITY).word.store(0, Ordering::Relaxed);
                    core.publish(&frame.word, 0);
                    core.advance(p, len);
                    sent += 1;
                }
            });
            let p = ring.positions();
            let mut core = ReaderCore::attach(p, CAPACITY, Publication::CommitWord).unwrap();
            let mut received = 0;
            while received < FRAMES {
                let offset = core.offset();
                let unit = &ring.units[(offset / 16) as usize];
                if !core.committed(&unit.word).unwrap() {
                    thread::yield_now();
                    continue;
                }
                // SAFETY: committed (SYNC POINT A) and not yet released.
                let [size, id, value] = unit.rest.with(|r| unsafe { *r });
                match check_frame(core.position(), offset, CAPACITY, size, id).unwrap() {
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
