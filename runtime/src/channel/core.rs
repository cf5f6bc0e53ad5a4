//! The SPSC position protocol of `docs/PROTOCOL.md` §3, free of memory mapping and message types,
//! so that loom can model it (`tests/loom.rs`) and the typed channel only adds slot access.
//!
//! Positions are `u64`s that only grow; position `p` lives in slot `p % capacity`. The writer owns
//! `write_pos`, the reader owns `read_pos`; each keeps a cached copy of the other side's position
//! and reloads it only when its cached view says full (writer) or empty (reader).

use crate::sync::{AtomicU64, Ordering};

/// The two shared positions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Positions<'a> {
    /// Messages committed. Range: `read_pos ..= read_pos + capacity`. Owned by the writer.
    pub write_pos: &'a AtomicU64,
    /// Messages released. Range: `write_pos - capacity ..= write_pos`. Owned by the reader.
    pub read_pos: &'a AtomicU64,
}

/// The shared positions broke the invariant `read_pos <= write_pos <= read_pos + capacity`:
/// the other process is buggy or hostile, or the memory was overwritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Corrupt {
    pub read_pos: u64,
    pub write_pos: u64,
}

/// The writer's private state.
#[derive(Debug)]
pub(crate) struct WriterCore {
    /// Next position to commit (equals the shared `write_pos`: only this writer stores it).
    pos: u64,
    /// Last `read_pos` seen; `pos - cached_read <= capacity` always.
    cached_read: u64,
    capacity: u64,
}

impl WriterCore {
    /// Resumes at the shared positions (a restarted writer continues where the last one stopped).
    pub(crate) fn attach(p: Positions<'_>, capacity: u64) -> Result<Self, Corrupt> {
        let write_pos = p.write_pos.load(Ordering::Relaxed);
        // SYNC POINT B (Acquire): pairs with the reader's Release store of `read_pos` in
        // `ReaderCore::release`: slots the reader released are free to overwrite.
        let read_pos = p.read_pos.load(Ordering::Acquire);
        check(read_pos, write_pos, capacity)?;
        Ok(Self { pos: write_pos, cached_read: read_pos, capacity })
    }

    /// The slot index the next message goes to, if there is room.
    pub(crate) fn try_reserve(&mut self, p: Positions<'_>) -> Result<Option<u64>, Corrupt> {
        if self.pos - self.cached_read == self.capacity {
            // SYNC POINT B (Acquire): pairs with the reader's Release in `ReaderCore::release`.
            let read_pos = p.read_pos.load(Ordering::Acquire);
            check(read_pos, self.pos, self.capacity)?;
            self.cached_read = read_pos;
            if self.pos - read_pos == self.capacity {
                return Ok(None);
            }
        }
        Ok(Some(self.pos % self.capacity))
    }

    /// Publishes the reserved slot.
    pub(crate) fn commit(&mut self, p: Positions<'_>) {
        self.pos += 1;
        // SYNC POINT A (Release): pairs with the reader's Acquire load of `write_pos` in
        // `ReaderCore::try_acquire`; everything written to the slot happens-before the reader's
        // reads of it.
        p.write_pos.store(self.pos, Ordering::Release);
    }

    /// How many slots are free, reloading `read_pos` only when the cached view shows fewer
    /// than `wanted`.
    pub(crate) fn free(&mut self, p: Positions<'_>, wanted: u64) -> Result<u64, Corrupt> {
        if self.capacity - (self.pos - self.cached_read) < wanted {
            // SYNC POINT B (Acquire): pairs with the reader's Release in `ReaderCore::release_n`.
            let read_pos = p.read_pos.load(Ordering::Acquire);
            check(read_pos, self.pos, self.capacity)?;
            self.cached_read = read_pos;
        }
        Ok(self.capacity - (self.pos - self.cached_read))
    }

    /// The slot index of the `k`-th free position (`k < free()`).
    pub(crate) fn slot_after(&self, k: u64) -> u64 {
        (self.pos + k) % self.capacity
    }

    /// Publishes `n` reserved slots at once (`n <= free()`).
    pub(crate) fn commit_n(&mut self, p: Positions<'_>, n: u64) {
        self.pos += n;
        // SYNC POINT A (Release): as in `commit`.
        p.write_pos.store(self.pos, Ordering::Release);
    }

    /// Messages committed so far (the shared `write_pos`).
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
    /// Resumes at the shared positions (a restarted reader continues where the last one stopped).
    pub(crate) fn attach(p: Positions<'_>, capacity: u64) -> Result<Self, Corrupt> {
        let read_pos = p.read_pos.load(Ordering::Relaxed);
        // SYNC POINT A (Acquire): pairs with the writer's Release store in `WriterCore::commit`.
        let write_pos = p.write_pos.load(Ordering::Acquire);
        check(read_pos, write_pos, capacity)?;
        Ok(Self { pos: read_pos, cached_write: write_pos, capacity })
    }

    /// The slot index of the next committed message, or `None` when empty.
    pub(crate) fn try_acquire(&mut self, p: Positions<'_>) -> Result<Option<u64>, Corrupt> {
        if self.pos == self.cached_write {
            // SYNC POINT A (Acquire): pairs with the writer's Release in `WriterCore::commit`.
            let write_pos = p.write_pos.load(Ordering::Acquire);
            check(self.pos, write_pos, self.capacity)?;
            self.cached_write = write_pos;
            if write_pos == self.pos {
                return Ok(None);
            }
        }
        Ok(Some(self.pos % self.capacity))
    }

    /// Releases the acquired slot back to the writer.
    #[cfg_attr(not(any(test, loom)), allow(dead_code))] // the channel releases through `release_n`
    pub(crate) fn release(&mut self, p: Positions<'_>) {
        self.release_n(p, 1);
    }

    /// Releases `n` acquired slots at once (`n <= pending()` after an acquire).
    pub(crate) fn release_n(&mut self, p: Positions<'_>, n: u64) {
        self.pos += n;
        // SYNC POINT B (Release): pairs with the writer's Acquire loads of `read_pos`; all reads
        // of the slots happen-before the writer reuses them.
        p.read_pos.store(self.pos, Ordering::Release);
    }

    /// The slot index of the `k`-th pending message (`k < pending()`).
    pub(crate) fn slot_after(&self, k: u64) -> u64 {
        (self.pos + k) % self.capacity
    }

    /// Messages released so far (the shared `read_pos`).
    pub(crate) fn position(&self) -> u64 {
        self.pos
    }

    /// Messages committed and not yet released, as last seen.
    pub(crate) fn pending(&self) -> u64 {
        self.cached_write - self.pos
    }
}

/// Checks `read_pos <= write_pos <= read_pos + capacity`.
pub(crate) fn check(read_pos: u64, write_pos: u64, capacity: u64) -> Result<(), Corrupt> {
    match write_pos.checked_sub(read_pos) {
        Some(used) if used <= capacity => Ok(()),
        _ => Err(Corrupt { read_pos, write_pos }),
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn fill_drain_and_wrap() {
        let (w, r) = (AtomicU64::new(0), AtomicU64::new(0));
        let p = Positions { write_pos: &w, read_pos: &r };
        let mut wc = WriterCore::attach(p, 4).unwrap();
        let mut rc = ReaderCore::attach(p, 4).unwrap();
        assert_eq!(rc.try_acquire(p).unwrap(), None);
        for round in 0..3u64 {
            for i in 0..4 {
                assert_eq!(wc.try_reserve(p).unwrap(), Some(i));
                wc.commit(p);
            }
            assert_eq!(wc.try_reserve(p).unwrap(), None, "full at round {round}");
            for i in 0..4 {
                assert_eq!(rc.try_acquire(p).unwrap(), Some(i));
                rc.release(p);
            }
            assert_eq!(rc.try_acquire(p).unwrap(), None);
        }
        assert_eq!((wc.position(), rc.position()), (12, 12));
    }

    #[test]
    fn corrupt_positions_are_errors() {
        let (w, r) = (AtomicU64::new(10), AtomicU64::new(0));
        let p = Positions { write_pos: &w, read_pos: &r };
        assert!(ReaderCore::attach(p, 4).is_err());
        assert!(WriterCore::attach(p, 4).is_err());
        let (w, r) = (AtomicU64::new(0), AtomicU64::new(0));
        let p = Positions { write_pos: &w, read_pos: &r };
        let mut rc = ReaderCore::attach(p, 4).unwrap();
        w.store(u64::MAX, Ordering::Relaxed);
        assert_eq!(rc.try_acquire(p), Err(Corrupt { read_pos: 0, write_pos: u64::MAX }));
        let mut wc =
            WriterCore::attach(Positions { write_pos: &AtomicU64::new(4), read_pos: &r }, 4)
                .unwrap();
        r.store(9, Ordering::Relaxed);
        assert!(wc.try_reserve(Positions { write_pos: &AtomicU64::new(4), read_pos: &r }).is_err());
    }
}

#[cfg(loom)]
mod loom_tests {
    //! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p flatipc --lib --release loom`
    //! explores every interleaving (up to the preemption bound) of a writer and a reader thread
    //! and checks, through loom's `UnsafeCell` tracking, that no slot is read while it is written.

    use loom::cell::UnsafeCell;
    use loom::sync::Arc;
    use loom::thread;

    use super::*;

    struct Ring {
        write_pos: AtomicU64,
        read_pos: AtomicU64,
        slots: [UnsafeCell<u64>; 2],
    }

    impl Ring {
        fn positions(&self) -> Positions<'_> {
            Positions { write_pos: &self.write_pos, read_pos: &self.read_pos }
        }
    }

    fn ring() -> Arc<Ring> {
        Arc::new(Ring {
            write_pos: AtomicU64::new(0),
            read_pos: AtomicU64::new(0),
            slots: [UnsafeCell::new(0), UnsafeCell::new(0)],
        })
    }

    const MESSAGES: u64 = 3;

    #[test]
    fn single_messages_arrive_in_order_without_data_races() {
        loom::model(|| {
            let ring = ring();
            let w = Arc::clone(&ring);
            let writer = thread::spawn(move || {
                let p = w.positions();
                let mut core = WriterCore::attach(p, 2).unwrap();
                let mut sent = 0;
                while sent < MESSAGES {
                    match core.try_reserve(p).unwrap() {
                        Some(i) => {
                            // SAFETY: the core hands out a slot the reader has released.
                            w.slots[i as usize].with_mut(|v| unsafe { *v = 100 + sent });
                            core.commit(p);
                            sent += 1;
                        }
                        None => thread::yield_now(),
                    }
                }
            });
            let p = ring.positions();
            let mut core = ReaderCore::attach(p, 2).unwrap();
            let mut received = 0;
            while received < MESSAGES {
                match core.try_acquire(p).unwrap() {
                    Some(i) => {
                        // SAFETY: the core hands out a committed, unreleased slot.
                        let v = ring.slots[i as usize].with(|v| unsafe { *v });
                        assert_eq!(v, 100 + received);
                        core.release(p);
                        received += 1;
                    }
                    None => thread::yield_now(),
                }
            }
            writer.join().unwrap();
        });
    }

    #[test]
    fn batches_arrive_in_order_without_data_races() {
        loom::model(|| {
            let ring = ring();
            let w = Arc::clone(&ring);
            let writer = thread::spawn(move || {
                let p = w.positions();
                let mut core = WriterCore::attach(p, 2).unwrap();
                let mut sent = 0;
                while sent < MESSAGES {
                    let n = core.free(p, MESSAGES - sent).unwrap().min(MESSAGES - sent);
                    if n == 0 {
                        thread::yield_now();
                        continue;
                    }
                    for k in 0..n {
                        let i = core.slot_after(k);
                        // SAFETY: slots `pos .. pos + free` are released by the reader.
                        w.slots[i as usize].with_mut(|v| unsafe { *v = 100 + sent + k });
                    }
                    core.commit_n(p, n);
                    sent += n;
                }
            });
            let p = ring.positions();
            let mut core = ReaderCore::attach(p, 2).unwrap();
            let mut received = 0;
            while received < MESSAGES {
                if core.try_acquire(p).unwrap().is_none() {
                    thread::yield_now();
                    continue;
                }
                let n = core.pending();
                for k in 0..n {
                    let i = core.slot_after(k);
                    // SAFETY: slots `pos .. pos + pending` are committed and unreleased.
                    let v = ring.slots[i as usize].with(|v| unsafe { *v });
                    assert_eq!(v, 100 + received + k);
                }
                core.release_n(p, n);
                received += n;
            }
            writer.join().unwrap();
        });
    }
}
