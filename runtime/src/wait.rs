//! Wait strategies and the futex park protocol of `docs/PROTOCOL.md` §3 ("Parking").
//!
//! The side that may sleep raises a `parked` flag before it sleeps; the other side makes the wake
//! syscall only when it sees that flag, so a peer that never sleeps never costs a syscall (a
//! `FUTEX_WAKE` with nobody waiting costs about as much as the whole hand-off on this hardware).
//! A peer whose strategy never parks (`Spin`, `SpinThenYield`) says so in its peer entry
//! (`may_park = 0`), and then the publishing side skips even the SeqCst fence.

use std::time::{Duration, Instant};

use crate::sync::{fence, AtomicU32, Ordering};

/// How a blocking call waits for its peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitStrategy {
    /// Busy-spin (with `spin_loop` hints): the lowest latency, and one core at 100%.
    Spin,
    /// Spin `spins` times, then yield the CPU between checks: still busy, but polite.
    SpinThenYield {
        /// Checks before the first yield.
        spins: u32,
    },
    /// Spin `spins` times, then sleep on a futex in the shared segment until the peer wakes it:
    /// an idle waiter uses no CPU. Works across processes (the futex is not process-private).
    SpinThenPark {
        /// Checks before the first sleep.
        spins: u32,
    },
}

impl Default for WaitStrategy {
    /// `SpinThenPark { spins: 20_000 }`: low latency under load, no CPU when idle.
    fn default() -> Self {
        WaitStrategy::SpinThenPark { spins: 20_000 }
    }
}

/// The flag and futex word one waiting side uses.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parking<'a> {
    /// Non-zero if the waiter's strategy may park at all (its peer entry's `may_park`). When it
    /// is zero, `wake` costs one load and no fence.
    pub may_park: &'a AtomicU32,
    /// Non-zero while the waiter is (about to be) asleep.
    pub parked: &'a AtomicU32,
    /// The futex word; incremented by every wake.
    pub futex: &'a AtomicU32,
}

impl Parking<'_> {
    /// Called by the other side after it published progress: wakes the waiter if it is parked.
    ///
    /// The SeqCst fence here and the one in [`Parking::sleep`] form a Dekker pair: either the
    /// waiter's re-check sees the progress, or this load sees `parked != 0`.
    #[inline]
    pub(crate) fn wake(&self) {
        if self.may_park.load(Ordering::Relaxed) == 0 {
            // The waiter spins or yields and never sleeps: nothing to wake, no fence needed.
            return;
        }
        fence(Ordering::SeqCst);
        if self.parked.load(Ordering::Relaxed) != 0 {
            // SYNC POINT W (Release): pairs with the Acquire load of the futex word in `sleep`.
            self.futex.fetch_add(1, Ordering::Release);
            #[cfg(not(loom))]
            let _ = crate::os::futex_wake(self.futex, u32::MAX);
        }
    }

    /// Sleeps until woken, `deadline` passes, or `ready()` is true; returns at once if `ready()`
    /// is already true after the flag is raised.
    #[cfg(not(loom))]
    pub(crate) fn sleep(&self, deadline: Option<Instant>, mut ready: impl FnMut() -> bool) {
        // SYNC POINT W (Acquire): pairs with the Release increment in `wake`.
        let seen = self.futex.load(Ordering::Acquire);
        self.parked.store(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if !ready() {
            let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if timeout != Some(Duration::ZERO) {
                // Spurious wake-ups, EINTR and a changed word all return; callers re-check.
                let _ = crate::os::futex_wait(self.futex, seen, timeout);
            }
        }
        self.parked.store(0, Ordering::Relaxed);
    }
}

/// A side that can sleep until its peer wakes it (see [`Parking::sleep`]).
#[cfg(not(loom))]
pub(crate) trait Sleep {
    /// Sleeps until woken, `deadline` passes, or `ready()` is true.
    fn sleep(&self, deadline: Option<Instant>, ready: &mut dyn FnMut() -> bool);
}

#[cfg(not(loom))]
impl Sleep for Parking<'_> {
    fn sleep(&self, deadline: Option<Instant>, ready: &mut dyn FnMut() -> bool) {
        Parking::sleep(self, deadline, ready);
    }
}

/// The parking words of broadcast readers: many readers share one futex word, and each sleeping
/// reader raises its own bit in one 64-bit mask, so the writer checks a single word however
/// many readers sleep (`docs/PROTOCOL.md` §5).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SharedParking<'a> {
    /// Number of attached readers whose strategy may park (0: `wake` costs one load).
    pub may_park: &'a AtomicU32,
    /// Bit `i` set while reader `i` is (about to be) asleep.
    pub mask: &'a crate::sync::AtomicU64,
    /// The futex word all readers sleep on; incremented by every wake.
    pub futex: &'a AtomicU32,
    /// This reader's bit (unused by the writer).
    pub bit: u64,
}

#[cfg(not(loom))]
impl SharedParking<'_> {
    /// Called by the writer after publishing: wakes every sleeping reader, with one syscall,
    /// only if some reader's bit is set. Same Dekker pair as [`Parking::wake`].
    #[inline]
    pub(crate) fn wake(&self) {
        if self.may_park.load(Ordering::Relaxed) == 0 {
            return;
        }
        fence(Ordering::SeqCst);
        // Clearing the mask here (not only when each sleeper wakes up) makes the publishes that
        // follow, until a reader parks again, skip the syscall: a cleared sleeper still returns
        // from its futex wait, because the futex word changes below.
        if self.mask.load(Ordering::Relaxed) != 0 && self.mask.swap(0, Ordering::Relaxed) != 0 {
            // SYNC POINT W (Release): pairs with the Acquire load of the futex word in `sleep`.
            self.futex.fetch_add(1, Ordering::Release);
            let _ = crate::os::futex_wake(self.futex, u32::MAX);
        }
    }
}

#[cfg(not(loom))]
impl Sleep for SharedParking<'_> {
    fn sleep(&self, deadline: Option<Instant>, ready: &mut dyn FnMut() -> bool) {
        // SYNC POINT W (Acquire): pairs with the Release increment in `wake`.
        let seen = self.futex.load(Ordering::Acquire);
        self.mask.fetch_or(self.bit, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if !ready() {
            let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if timeout != Some(Duration::ZERO) {
                let _ = crate::os::futex_wait(self.futex, seen, timeout);
            }
        }
        self.mask.fetch_and(!self.bit, Ordering::Relaxed);
    }
}

/// Waits until `ready()` returns `Some`, following `strategy`, or until `deadline`.
/// `check_peer` is called occasionally while waiting (about every millisecond of spinning and
/// after every sleep); returning `Err` stops the wait with that error.
#[cfg(not(loom))]
pub(crate) fn wait_for<T, E>(
    strategy: WaitStrategy,
    parking: impl Sleep,
    deadline: Option<Instant>,
    mut ready: impl FnMut() -> Result<Option<T>, E>,
    mut check_peer: impl FnMut() -> Result<(), E>,
    timed_out: impl FnOnce() -> E,
) -> Result<T, E> {
    let mut checks: u64 = 0;
    loop {
        if let Some(v) = ready()? {
            return Ok(v);
        }
        checks += 1;
        if checks % 4096 == 0 {
            check_peer()?;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(timed_out());
            }
        }
        match strategy {
            WaitStrategy::Spin => std::hint::spin_loop(),
            WaitStrategy::SpinThenYield { spins } => {
                if checks < u64::from(spins) {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
            WaitStrategy::SpinThenPark { spins } => {
                if checks < u64::from(spins) {
                    std::hint::spin_loop();
                } else {
                    check_peer()?;
                    // Sleep at most 100 ms at a time so that a peer that died without waking us
                    // is noticed by `check_peer`.
                    let slice = Instant::now() + Duration::from_millis(100);
                    let until = deadline.map_or(slice, |d| d.min(slice));
                    parking.sleep(Some(until), &mut || matches!(ready(), Ok(Some(_)) | Err(_)));
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        if let Some(v) = ready()? {
                            return Ok(v);
                        }
                        return Err(timed_out());
                    }
                }
            }
        }
    }
}
