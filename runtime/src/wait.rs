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

/// Waits until `ready()` returns `Some`, following `strategy`, or until `deadline`.
/// `check_peer` is called occasionally while waiting (about every millisecond of spinning and
/// after every sleep); returning `Err` stops the wait with that error.
#[cfg(not(loom))]
pub(crate) fn wait_for<T, E>(
    strategy: WaitStrategy,
    parking: Parking<'_>,
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
                    parking.sleep(Some(until), || matches!(ready(), Ok(Some(_)) | Err(_)));
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
