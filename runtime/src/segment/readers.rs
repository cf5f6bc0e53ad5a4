//! Broadcast reader entries (`docs/PROTOCOL.md` §5): where they are, and the liveness lock each
//! attached reader holds on its entry (an OFD write lock on the entry's first byte; the entry's
//! lock word for heap segments), plus the shared read lock on the reader peer byte that tells
//! stale-segment detection that some reader is alive.

use std::sync::atomic::Ordering;

use crate::error::OpenError;
use crate::os;

use super::layout::*;
use super::spec::reader_table_offset;
use super::{unix_ns, Backing, Segment};

impl Segment {
    /// Reader entries of a broadcast ring (0 for the SPSC kinds).
    #[inline]
    pub fn max_readers(&self) -> u32 {
        self.geometry.max_readers
    }

    /// Offset in the segment of reader entry `index`.
    ///
    /// # Panics
    ///
    /// If `index >= max_readers`.
    #[inline]
    pub(crate) fn reader_entry(&self, index: u32) -> usize {
        assert!(index < self.geometry.max_readers, "reader entry {index} out of range");
        // Validated at create/open: the table lies inside the data area, so this fits.
        let table = reader_table_offset(self.geometry.capacity, self.geometry.slot_size)
            .and_then(|t| usize::try_from(t).ok())
            .expect("a validated reader table fits the mapping");
        DATA_OFFSET + table + READER_ENTRY_SIZE * index as usize
    }

    /// Attaches this handle as the reader of entry `index`: takes the entry's liveness lock and
    /// records pid and attach time. Returns `Ok(false)` if another live reader holds it.
    ///
    /// # Errors
    ///
    /// [`OpenError::Io`] if `fcntl` fails.
    ///
    /// # Panics
    ///
    /// If `index >= max_readers`.
    pub(crate) fn lock_reader(&self, index: u32) -> Result<bool, OpenError> {
        let entry = self.reader_entry(index);
        let bit = 1u64 << index;
        if self.readers_held.fetch_or(bit, Ordering::AcqRel) & bit != 0 {
            return Ok(false);
        }
        let io = |source| OpenError::Io { path: self.path_buf(), op: "fcntl", source };
        let locked = match &self.backing {
            Backing::Shared { file, .. } => os::ofd_try_lock(file, entry as u64)
                .and_then(|ok| {
                    // Every attached reader also holds a shared lock on the reader peer byte,
                    // which stale-segment detection checks (`any_lock_held`).
                    Ok(ok && os::ofd_try_read_lock(file, peer_entry(PEER_READER) as u64)?)
                })
                .map_err(io),
            Backing::Heap { .. } => Ok(self
                .mem
                .atomic_u32(entry + RD_HEAP_LOCK)
                .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()),
        };
        match locked {
            Ok(true) => {}
            other => {
                if let Backing::Shared { file, .. } = &self.backing {
                    let _ = os::ofd_unlock(file, entry as u64);
                }
                self.readers_held.fetch_and(!bit, Ordering::AcqRel);
                return other;
            }
        }
        // Informational fields, written by the lock holder only.
        self.mem.store_u64(entry + RD_PID, u64::from(std::process::id()));
        self.mem.store_u64(entry + RD_ATTACH_NS, unix_ns());
        Ok(true)
    }

    /// Takes the first reader entry no live reader holds.
    ///
    /// # Errors
    ///
    /// [`OpenError::ReadersFull`], or [`OpenError::Io`].
    pub(crate) fn claim_reader(&self) -> Result<u32, OpenError> {
        for index in 0..self.geometry.max_readers {
            if self.lock_reader(index)? {
                return Ok(index);
            }
        }
        Err(OpenError::ReadersFull { path: self.path_buf(), max_readers: self.max_readers() })
    }

    /// Releases reader entry `index` (a no-op unless this handle holds it).
    pub(crate) fn unlock_reader(&self, index: u32) {
        if index >= self.geometry.max_readers {
            return;
        }
        let bit = 1u64 << index;
        if self.readers_held.fetch_and(!bit, Ordering::AcqRel) & bit == 0 {
            return;
        }
        let entry = self.reader_entry(index);
        match &self.backing {
            Backing::Shared { file, .. } => {
                // Failure is impossible for a valid descriptor and an owned lock; the lock goes
                // when the file is closed anyway. The shared reader-byte lock stays until the
                // segment is dropped (other entries of this handle may still be attached).
                let _ = os::ofd_unlock(file, entry as u64);
            }
            Backing::Heap { .. } => {
                // Release: pairs with the Acquire of the compare-and-swap in `lock_reader` and
                // the Acquire load in `reader_alive`.
                self.mem.atomic_u32(entry + RD_HEAP_LOCK).store(0, Ordering::Release);
            }
        }
    }

    /// Whether reader entry `index` is held by a live reader (this handle, another handle's
    /// open file description, or, on the heap, its lock word). An `fcntl` error counts as alive.
    pub(crate) fn reader_alive(&self, index: u32) -> bool {
        if index >= self.geometry.max_readers {
            return false;
        }
        if self.readers_held.load(Ordering::Acquire) & (1u64 << index) != 0 {
            return true;
        }
        let entry = self.reader_entry(index);
        match &self.backing {
            Backing::Shared { file, .. } => os::ofd_is_locked(file, entry as u64).unwrap_or(true),
            Backing::Heap { .. } => {
                self.mem.atomic_u32(entry + RD_HEAP_LOCK).load(Ordering::Acquire) != 0
            }
        }
    }

    /// The pid recorded in reader entry `index` (informational; 0 if never attached).
    #[cfg(test)]
    pub(crate) fn reader_pid(&self, index: u32) -> u64 {
        self.mem.load_u64(self.reader_entry(index) + RD_PID)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::test_support::{entry, unique, Cleanup};
    use crate::segment::{Expect, RingKind, SegmentSpec};

    fn spec() -> SegmentSpec {
        SegmentSpec::broadcast(8, 3, entry())
    }

    #[test]
    fn reader_entries_follow_the_slots_page_aligned() {
        let segment = Segment::heap(&spec());
        assert_eq!(segment.max_readers(), 3);
        // 8 slots of 64 bytes (16-byte header + 48-byte message) = 512, rounded up to a page.
        assert_eq!(segment.reader_entry(0), 4096 + 4096);
        assert_eq!(segment.reader_entry(2), 4096 + 4096 + 128);
        assert_eq!(segment.data_len(), 4096 + 3 * 64);
    }

    #[test]
    fn heap_reader_entries_are_claimed_once_until_released() {
        let segment = Segment::heap(&spec());
        assert_eq!(segment.claim_reader().unwrap(), 0);
        assert_eq!(segment.claim_reader().unwrap(), 1);
        assert_eq!(segment.claim_reader().unwrap(), 2);
        assert!(matches!(
            segment.claim_reader(),
            Err(OpenError::ReadersFull { max_readers: 3, .. })
        ));
        assert!(segment.reader_alive(1));
        segment.unlock_reader(1);
        assert!(!segment.reader_alive(1));
        assert_eq!(segment.claim_reader().unwrap(), 1);
        assert_eq!(segment.reader_pid(1), u64::from(std::process::id()));
    }

    #[test]
    fn shared_reader_locks_are_per_handle_and_seen_by_stale_detection() {
        let name = unique("readers");
        let _cleanup = Cleanup(name.clone());
        let creator = Segment::create(&name, &spec()).unwrap();
        creator.publish_ready();
        drop(creator); // releases the creator lock
        let expect = Expect { kind: RingKind::Broadcast, messages: vec![entry()] };
        let a = Segment::open(&name, &expect).unwrap();
        let b = Segment::open(&name, &expect).unwrap();
        let probe = Segment::open(&name, &expect).unwrap();
        let Backing::Shared { file, .. } = &probe.backing else { unreachable!() };
        assert!(!super::super::peer::any_lock_held(file).unwrap(), "no reader yet");
        assert_eq!(a.claim_reader().unwrap(), 0);
        assert!(super::super::peer::any_lock_held(file).unwrap(), "a live reader is seen");
        assert_eq!(b.claim_reader().unwrap(), 1, "entry 0 is held by another description");
        assert!(b.reader_alive(0) && a.reader_alive(1) && !a.reader_alive(2));
        drop(a);
        assert!(!b.reader_alive(0), "dropping a handle releases its reader entries");
        assert_eq!(b.claim_reader().unwrap(), 0);
    }
}
