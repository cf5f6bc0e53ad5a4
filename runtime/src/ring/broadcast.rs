//! The broadcast ring protocol of `docs/PROTOCOL.md` §5, free of memory mapping and message
//! types so that loom can model it (`loom_tests` below): one writer, many readers with their own
//! cursors. Tethered readers hold the writer back and read in place; lossy readers never do, and
//! validate every copy with the unit's sequence word (a seqlock).

use super::core::{wrap, Corrupt, MAX_POSITION};
use crate::sync::{fence, AtomicU32, AtomicU64, Ordering};

/// Reader entry `state`: free.
pub(crate) const STATE_FREE: u32 = 0;
/// Reader entry `state`: claimed by a reader that is joining.
pub(crate) const STATE_CLAIMED: u32 = 1;
/// Reader entry `state`: an active reader; the writer honours its cursor if it is tethered.
pub(crate) const STATE_ACTIVE: u32 = 2;
/// The low byte of `state` is one of the states above; the upper 24 bits are a generation that
/// each new claim of the entry increments, so that the writer's reclaiming of a dead reader's
/// entry (a compare-and-swap from the value it saw) never clobbers a newer reader.
pub(crate) const STATE_MASK: u32 = 0xFF;

/// `state` with its generation replaced by the next one and its state by `st`.
pub(crate) const fn next_generation(state: u32, st: u32) -> u32 {
    ((state & !STATE_MASK).wrapping_add(1 << 8)) | st
}

/// Reader entry `policy`: the writer never overwrites what this reader has not released.
pub(crate) const POLICY_TETHERED: u32 = 1;
/// Reader entry `policy`: the writer never waits for this reader.
pub(crate) const POLICY_LOSSY: u32 = 2;

/// The sequence word of the unit at `position` while the writer writes it.
pub(crate) const fn seq_busy(position: u64) -> u64 {
    position.wrapping_mul(2).wrapping_add(1)
}

/// The sequence word of the unit at `position` once written.
pub(crate) const fn seq_done(position: u64) -> u64 {
    position.wrapping_mul(2).wrapping_add(2)
}

/// One reader entry's shared words.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cursor<'a> {
    /// Units this reader has released. Owned by the reader.
    pub read_pos: &'a AtomicU64,
    /// [`STATE_FREE`], [`STATE_CLAIMED`] or [`STATE_ACTIVE`].
    pub state: &'a AtomicU32,
    /// [`POLICY_TETHERED`] or [`POLICY_LOSSY`].
    pub policy: &'a AtomicU32,
}

/// The broadcast writer's private state.
#[derive(Debug)]
pub(crate) struct WriterCore {
    /// Next position to write (the shared `write_pos` once published).
    pos: u64,
    /// The smallest tethered cursor seen at the last rescan (clamped to the last lap).
    cached_min: u64,
    capacity: u64,
}

impl WriterCore {
    /// Resumes at `write_pos`; the first reservation rescans the reader table.
    pub(crate) fn attach(write_pos: &AtomicU64, capacity: u64) -> Self {
        let pos = write_pos.load(Ordering::Relaxed);
        Self { pos, cached_min: pos.saturating_sub(capacity), capacity }
    }

    /// Units free for writing, rescanning the tethered cursors (`cursors()` yields every reader
    /// entry) only when the cached minimum shows fewer than `wanted`.
    #[inline]
    pub(crate) fn free<'a, I: Iterator<Item = Cursor<'a>>>(
        &mut self,
        cursors: impl FnOnce() -> I,
        wanted: u64,
    ) -> u64 {
        if self.capacity - (self.pos - self.cached_min) < wanted {
            self.rescan(cursors());
        }
        self.capacity - (self.pos - self.cached_min)
    }

    /// Recomputes the minimum over active tethered cursors (the writer's own position if there
    /// is none). A cursor outside the last lap is clamped into it: a joining reader's
    /// provisional cursor may be older, and a hostile one cannot make the writer overrun
    /// anything but that reader's view.
    fn rescan<'a>(&mut self, cursors: impl Iterator<Item = Cursor<'a>>) {
        // SYNC POINT J (SeqCst fence): pairs with the SeqCst fence in `join`, between the
        // reader's store of `state` and its load of `write_pos` (a Dekker pair): either a
        // `state` load below sees the new reader, or the reader's load sees the `write_pos`
        // stored before this fence, so it starts where the positions this rescan allows cannot
        // lap it.
        fence(Ordering::SeqCst);
        let oldest = self.pos.saturating_sub(self.capacity);
        let mut min = self.pos;
        for c in cursors {
            // Acquire: pairs with the Release store of `state` in `join`, so the provisional
            // `read_pos` stored before it is visible.
            if c.state.load(Ordering::Acquire) & STATE_MASK == STATE_ACTIVE
                && c.policy.load(Ordering::Relaxed) == POLICY_TETHERED
            {
                // SYNC POINT B (Acquire): pairs with the reader's Release store of its
                // `read_pos`: the units it released are free to overwrite.
                let read_pos = c.read_pos.load(Ordering::Acquire).clamp(oldest, self.pos);
                min = min.min(read_pos);
            }
        }
        self.cached_min = min;
    }

    /// The slot index of position `pos + k`.
    #[inline]
    pub(crate) fn slot_after(&self, k: u64) -> u64 {
        wrap(self.pos + k, self.capacity)
    }

    /// Marks the unit at position `pos + k` as being written (before writing it).
    #[inline]
    pub(crate) fn begin(&self, seq: &AtomicU64, k: u64) {
        seq.store(seq_busy(self.pos + k), Ordering::Relaxed);
        // SYNC POINT L (Release fence): orders the busy mark before the unit's bytes, so a lossy
        // reader whose copy saw any of the new bytes sees a changed sequence word after its
        // Acquire fence.
        fence(Ordering::Release);
    }

    /// Marks the unit at position `pos + k` as written.
    #[inline]
    pub(crate) fn end(&self, seq: &AtomicU64, k: u64) {
        // SYNC POINT L (Release): pairs with the lossy reader's Acquire load of the sequence
        // word: a reader that sees `seq_done` sees the unit's bytes.
        seq.store(seq_done(self.pos + k), Ordering::Release);
    }

    /// Publishes the next `n` units.
    #[inline]
    pub(crate) fn advance(&mut self, write_pos: &AtomicU64, n: u64) {
        self.pos += n;
        // SYNC POINT A (Release): pairs with the readers' Acquire loads of `write_pos`.
        write_pos.store(self.pos, Ordering::Release);
    }

    /// The next position to write.
    #[inline]
    pub(crate) fn position(&self) -> u64 {
        self.pos
    }
}

/// Makes a claimed reader entry active with `policy` (keeping the generation of its `state`) and
/// returns the position it starts at (the next message). See SYNC POINT J in
/// `WriterCore::rescan`.
pub(crate) fn join(write_pos: &AtomicU64, cursor: Cursor<'_>, policy: u32) -> u64 {
    let generation = cursor.state.load(Ordering::Relaxed) & !STATE_MASK;
    // A provisional cursor no newer than anything the writer may still publish: the writer
    // holds back (clamped to its last lap) until the final one below is stored.
    let provisional = write_pos.load(Ordering::Acquire);
    cursor.read_pos.store(provisional, Ordering::Relaxed);
    cursor.policy.store(policy, Ordering::Relaxed);
    cursor.state.store(generation | STATE_ACTIVE, Ordering::Release);
    // SYNC POINT J (SeqCst fence): pairs with the fence in `WriterCore::rescan`.
    fence(Ordering::SeqCst);
    let start = write_pos.load(Ordering::Acquire);
    // Release: pairs with the writer's Acquire load of `read_pos` in `rescan`.
    cursor.read_pos.store(start, Ordering::Release);
    start
}

/// What a lossy read found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lossy {
    /// Nothing new.
    Empty,
    /// The copy of the unit at `position` is valid; `missed` units were skipped before it
    /// because the writer lapped this reader.
    Copied { position: u64, missed: u64 },
}

/// A lossy reader's private state.
#[derive(Debug)]
pub(crate) struct LossyCore {
    /// Next position to read.
    pos: u64,
    /// Units skipped since the last valid copy (reported with it).
    missed: u64,
    /// The position where this reader stops (`u64::MAX`: never); a tethered reader reads the
    /// backlog before its cursor this way.
    end: u64,
    capacity: u64,
}

impl LossyCore {
    pub(crate) fn new(start: u64, capacity: u64) -> Self {
        Self { pos: start, missed: 0, end: u64::MAX, capacity }
    }

    /// A lossy reader of positions `start .. end` only.
    pub(crate) fn until(start: u64, end: u64, capacity: u64) -> Self {
        Self { pos: start.min(end), missed: 0, end, capacity }
    }

    /// Copies the next unit out with `copy(slot_index)` and validates the copy with the unit's
    /// sequence word (`seq(slot_index)`); skips forward when lapped. Never trusts the copy
    /// unless the sequence word was `seq_done(position)` both before and after it.
    #[inline]
    pub(crate) fn read<'a>(
        &mut self,
        write_pos: &AtomicU64,
        seq: impl Fn(u64) -> &'a AtomicU64,
        mut copy: impl FnMut(u64),
    ) -> Result<Lossy, Corrupt> {
        // A reader that keeps losing the race to a writer lapping it returns `Empty` after a few
        // tries instead of spinning here; the skipped count is kept for the next valid copy.
        for _ in 0..4 {
            // SYNC POINT A (Acquire): pairs with the writer's Release store of `write_pos`.
            let write = write_pos.load(Ordering::Acquire);
            if write == self.pos || self.pos >= self.end {
                return Ok(Lossy::Empty);
            }
            // Positions stay below 2^62 (`docs/PROTOCOL.md` §5): a larger one is corruption,
            // and would overflow the missed count of a reader that took it as a lap.
            if write < self.pos || write >= MAX_POSITION {
                return Err(Corrupt::Positions { read_pos: self.pos, write_pos: write });
            }
            if write - self.pos > self.capacity - 1 {
                // Lapped: resume at the oldest unit that cannot be being overwritten now.
                let oldest = (write - (self.capacity - 1)).min(self.end);
                self.missed += oldest - self.pos;
                self.pos = oldest;
                if self.pos == self.end {
                    return Ok(Lossy::Empty);
                }
            }
            let index = wrap(self.pos, self.capacity);
            let word = seq(index);
            // SYNC POINT L (Acquire): pairs with the writer's Release store of `seq_done`.
            let before = word.load(Ordering::Acquire);
            if before == seq_done(self.pos) {
                copy(index);
                // SYNC POINT L (Acquire fence): pairs with the writer's Release fence after
                // `seq_busy`: if the copy read any byte of a later unit, `after` differs.
                fence(Ordering::Acquire);
                let after = word.load(Ordering::Relaxed);
                if after == before {
                    let position = self.pos;
                    self.pos += 1;
                    return Ok(Lossy::Copied {
                        position,
                        missed: std::mem::take(&mut self.missed),
                    });
                }
            } else if before < seq_done(self.pos) {
                // Published units always carry their own or a later sequence word. Skip the bad
                // one (counted as missed) so that it cannot wedge the reader, and report it.
                let position = self.pos;
                self.missed += 1;
                self.pos += 1;
                return Err(Corrupt::Frame { position, field: "seq", value: before });
            }
            // Overwritten before or during the copy: skip it and look again.
            self.missed += 1;
            self.pos += 1;
        }
        Ok(Lossy::Empty)
    }

    /// The next position to read.
    #[inline]
    pub(crate) fn position(&self) -> u64 {
        self.pos
    }

    /// Units skipped since the last valid copy, taken (a tethered reader leaving its backlog
    /// reports them with its first in-place message).
    pub(crate) fn take_missed(&mut self) -> u64 {
        std::mem::take(&mut self.missed)
    }
}

#[cfg(all(test, not(loom)))]
#[allow(clippy::cast_possible_truncation)] // indexes into a two-slot test ring
mod tests {
    use super::*;

    struct Entry {
        read_pos: AtomicU64,
        state: AtomicU32,
        policy: AtomicU32,
    }

    impl Entry {
        fn new() -> Self {
            Self {
                read_pos: AtomicU64::new(0),
                state: AtomicU32::new(0),
                policy: AtomicU32::new(0),
            }
        }
        fn cursor(&self) -> Cursor<'_> {
            Cursor { read_pos: &self.read_pos, state: &self.state, policy: &self.policy }
        }
    }

    #[test]
    fn tethered_cursors_hold_the_writer_back_and_lossy_ones_do_not() {
        let write_pos = AtomicU64::new(0);
        let entries = [Entry::new(), Entry::new()];
        let cursors = || entries.iter().map(Entry::cursor);
        let mut w = WriterCore::attach(&write_pos, 4);
        assert_eq!(w.free(cursors, 1), 4, "no reader: the writer runs free");
        assert_eq!(join(&write_pos, entries[0].cursor(), POLICY_LOSSY), 0);
        assert_eq!(join(&write_pos, entries[1].cursor(), POLICY_TETHERED), 0);
        w.advance(&write_pos, 4);
        assert_eq!(w.free(cursors, 1), 0, "the tethered reader has released nothing");
        entries[1].read_pos.store(3, Ordering::Release);
        assert_eq!(w.free(cursors, 1), 3);
        entries[1].state.store(STATE_FREE, Ordering::Release);
        w.advance(&write_pos, 3);
        assert_eq!(w.free(cursors, 4), 4, "a detached reader holds nothing back");
        // A cursor outside the last lap is clamped into it.
        entries[1].state.store(STATE_ACTIVE, Ordering::Release);
        entries[1].read_pos.store(u64::MAX, Ordering::Release);
        assert_eq!(w.free(cursors, 5), 4);
        entries[1].read_pos.store(0, Ordering::Release);
        assert_eq!(w.free(cursors, 5), 0);
    }

    #[test]
    fn lossy_reads_validate_and_count_what_they_missed() {
        let write_pos = AtomicU64::new(0);
        let seqs = [AtomicU64::new(0), AtomicU64::new(0)];
        let data = [AtomicU64::new(0), AtomicU64::new(0)];
        let entry = Entry::new();
        let mut w = WriterCore::attach(&write_pos, 2);
        let start = join(&write_pos, entry.cursor(), POLICY_LOSSY);
        let mut r = LossyCore::new(start, 2);
        let got = std::cell::Cell::new(0);
        let read = |r: &mut LossyCore| {
            let copy = |i: u64| got.set(data[i as usize].load(Ordering::Relaxed));
            r.read(&write_pos, |i| &seqs[i as usize], copy)
        };
        assert_eq!(read(&mut r), Ok(Lossy::Empty));
        for value in 0..5u64 {
            let i = w.slot_after(0) as usize;
            w.begin(&seqs[i], 0);
            data[i].store(100 + value, Ordering::Relaxed);
            w.end(&seqs[i], 0);
            w.advance(&write_pos, 1);
        }
        // Five published in two slots: position 4 is the only one that is not the oldest slot
        // the writer could be rewriting; positions 0..4 are missed.
        assert_eq!(read(&mut r), Ok(Lossy::Copied { position: 4, missed: 4 }));
        assert_eq!(got.get(), 104);
        assert_eq!(read(&mut r), Ok(Lossy::Empty));
        // A sequence word older than the published position is corruption.
        let i = w.slot_after(0) as usize;
        w.advance(&write_pos, 1);
        seqs[i].store(1, Ordering::Relaxed);
        assert!(matches!(read(&mut r), Err(Corrupt::Frame { field: "seq", .. })));
    }
}

#[cfg(loom)]
mod loom_tests {
    //! Run with the loom models of `core.rs` (see there). The tethered model checks, through
    //! loom's `UnsafeCell` tracking, that a reader joining while the writer runs is never lapped;
    //! the lossy model checks that every copy the seqlock accepts is one whole message.

    use loom::cell::UnsafeCell;
    use loom::sync::Arc;
    use loom::thread;

    use super::*;

    const MESSAGES: u64 = 3;

    struct Ring {
        write_pos: AtomicU64,
        read_pos: AtomicU64,
        state: AtomicU32,
        policy: AtomicU32,
        slots: [UnsafeCell<u64>; 2],
        seqs: [AtomicU64; 2],
        data: [[AtomicU64; 2]; 2],
    }

    impl Ring {
        fn new() -> Arc<Ring> {
            Arc::new(Ring {
                write_pos: AtomicU64::new(0),
                read_pos: AtomicU64::new(0),
                state: AtomicU32::new(STATE_FREE),
                policy: AtomicU32::new(0),
                slots: [UnsafeCell::new(0), UnsafeCell::new(0)],
                seqs: [AtomicU64::new(0), AtomicU64::new(0)],
                data: [
                    [AtomicU64::new(0), AtomicU64::new(0)],
                    [AtomicU64::new(0), AtomicU64::new(0)],
                ],
            })
        }

        fn cursor(&self) -> Cursor<'_> {
            Cursor { read_pos: &self.read_pos, state: &self.state, policy: &self.policy }
        }
    }

    #[test]
    fn loom_broadcast_tethered_reader_joining_mid_stream_is_never_lapped() {
        loom::model(|| {
            let ring = Ring::new();
            let w = Arc::clone(&ring);
            let writer = thread::spawn(move || {
                let mut core = WriterCore::attach(&w.write_pos, 2);
                while core.position() < MESSAGES {
                    if core.free(|| std::iter::once(w.cursor()), 1) == 0 {
                        thread::yield_now();
                        continue;
                    }
                    let slot = &w.slots[core.slot_after(0) as usize];
                    let value = 100 + core.position();
                    // SAFETY: the slot is free: no active tethered cursor is a lap behind it.
                    slot.with_mut(|v| unsafe { *v = value });
                    core.advance(&w.write_pos, 1);
                }
            });
            ring.state.store(STATE_CLAIMED, Ordering::Relaxed);
            let mut pos = join(&ring.write_pos, ring.cursor(), POLICY_TETHERED);
            while pos < MESSAGES {
                if ring.write_pos.load(Ordering::Acquire) == pos {
                    thread::yield_now();
                    continue;
                }
                // SAFETY: published and not released, so the writer does not write it.
                let v = ring.slots[(pos % 2) as usize].with(|v| unsafe { *v });
                assert_eq!(v, 100 + pos);
                pos += 1;
                ring.read_pos.store(pos, Ordering::Release);
            }
            writer.join().unwrap();
        });
    }

    #[test]
    fn loom_broadcast_lossy_copies_are_whole_messages() {
        loom::model(|| {
            let ring = Ring::new();
            let w = Arc::clone(&ring);
            let writer = thread::spawn(move || {
                let mut core = WriterCore::attach(&w.write_pos, 2);
                while core.position() < MESSAGES {
                    let i = core.slot_after(0) as usize;
                    let value = 100 + core.position();
                    core.begin(&w.seqs[i], 0);
                    w.data[i][0].store(value, Ordering::Relaxed);
                    w.data[i][1].store(value * 7, Ordering::Relaxed);
                    core.end(&w.seqs[i], 0);
                    core.advance(&w.write_pos, 1);
                }
            });
            let mut reader = LossyCore::new(0, 2);
            let (mut copied, mut missed) = (0, 0);
            while reader.position() < MESSAGES {
                let mut copy = [0; 2];
                let found = reader
                    .read(
                        &ring.write_pos,
                        |i| &ring.seqs[i as usize],
                        |i| {
                            let d = &ring.data[i as usize];
                            copy = [d[0].load(Ordering::Relaxed), d[1].load(Ordering::Relaxed)];
                        },
                    )
                    .unwrap();
                match found {
                    Lossy::Empty => thread::yield_now(),
                    Lossy::Copied { position, missed: m } => {
                        assert_eq!(copy, [100 + position, (100 + position) * 7]);
                        copied += 1;
                        missed += m;
                    }
                }
            }
            assert_eq!(copied + missed, MESSAGES);
            writer.join().unwrap();
        });
    }
}
