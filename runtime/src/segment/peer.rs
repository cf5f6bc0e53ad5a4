//! Peer liveness: the OFD lock on each peer's byte of the peer table (the `attached` word for
//! heap segments), and the informational fields its holder records.

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use crate::error::OpenError;
use crate::os;

use super::layout::*;
use super::{unix_ns, Backing, Segment};

impl Segment {
    /// Attaches this handle as peer `role` (`layout::PEER_WRITER`, `PEER_READER`): takes the
    /// role's liveness lock and records pid, attach time, role and `attached = 1` in the peer
    /// entry. Shared segments use an OFD lock on byte `2176 + 64 × role`, released by
    /// `unlock_peer`, by dropping the segment, or by the kernel when the process dies. Heap
    /// segments use the entry's `attached` word as the lock.
    ///
    /// # Errors
    ///
    /// [`OpenError::PeerBusy`] with the pid recorded by the holder (0 if it has not written it
    /// yet) if another handle or process holds the role; [`OpenError::Io`] if `fcntl` fails.
    ///
    /// # Panics
    ///
    /// If `role >= 4`.
    pub(crate) fn lock_peer(&self, role: usize) -> Result<(), OpenError> {
        assert!(role < MAX_PEERS, "peer role {role} out of range");
        let entry = peer_entry(role);
        let busy = || OpenError::PeerBusy {
            path: self.path_buf(),
            role: role_name(role),
            pid: self.mem.load_u64(entry + PEER_PID),
        };
        if self.held[role].swap(true, Ordering::AcqRel) {
            return Err(busy());
        }
        let locked = match &self.backing {
            Backing::Shared { file, path, .. } => os::ofd_try_lock(file, entry as u64)
                .map_err(|source| OpenError::Io { path: path.clone(), op: "fcntl", source }),
            Backing::Heap { .. } => Ok(self
                .mem
                .atomic_u32(entry + PEER_ATTACHED)
                .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()),
        };
        match locked {
            Ok(true) => {}
            Ok(false) => {
                self.held[role].store(false, Ordering::Release);
                return Err(busy());
            }
            Err(e) => {
                self.held[role].store(false, Ordering::Release);
                return Err(e);
            }
        }
        // Informational fields, written by the lock holder only.
        self.mem.store_u64(entry + PEER_PID, u64::from(std::process::id()));
        self.mem.store_u64(entry + PEER_ATTACH_NS, unix_ns());
        // `role < 4`.
        self.mem.store_u32(entry + PEER_ROLE, u32::try_from(role).unwrap_or(u32::MAX));
        // SYNC POINT P (Release): pairs with the Acquire loads of `attached` by the other side
        // (`Reader::empty_or_disconnected`, `peer_alive` for heap segments), which may then read
        // the pid and attach time written above.
        self.mem.atomic_u32(entry + PEER_ATTACHED).store(1, Ordering::Release);
        Ok(())
    }

    /// Detaches this handle from peer `role`: clears `attached` and releases the lock. A no-op if
    /// this handle does not hold the role.
    pub(crate) fn unlock_peer(&self, role: usize) {
        if role >= MAX_PEERS || !self.held[role].swap(false, Ordering::AcqRel) {
            return;
        }
        let entry = peer_entry(role);
        // Cleared before the lock is released, so it never overwrites a successor's entry.
        // SYNC POINT P (Release): pairs with the same Acquire loads of `attached`; everything this
        // peer published before detaching (its last positions) is visible to a reader that sees
        // the flag cleared.
        self.mem.atomic_u32(entry + PEER_ATTACHED).store(0, Ordering::Release);
        if let Backing::Shared { file, .. } = &self.backing {
            // Failure is impossible for a valid descriptor and an owned lock; if it happened,
            // the lock would be released when the file is closed.
            let _ = os::ofd_unlock(file, entry as u64);
        }
    }

    /// Whether peer `role` is attached and alive: held by this handle, or (shared segments) its
    /// lock byte is locked by another open file description; (heap) its `attached` word is set.
    /// An error of `fcntl` counts as alive, so a live peer is never declared dead.
    pub(crate) fn peer_alive(&self, role: usize) -> bool {
        if role >= MAX_PEERS {
            return false;
        }
        if self.held[role].load(Ordering::Acquire) {
            return true;
        }
        let entry = peer_entry(role);
        match &self.backing {
            Backing::Shared { file, .. } => os::ofd_is_locked(file, entry as u64).unwrap_or(true),
            Backing::Heap { .. } => {
                self.mem.atomic_u32(entry + PEER_ATTACHED).load(Ordering::Acquire) != 0
            }
        }
    }

    /// The pid recorded in peer `role`'s entry (informational; 0 if never attached).
    pub(crate) fn peer_pid(&self, role: usize) -> u64 {
        if role >= MAX_PEERS {
            return 0;
        }
        self.mem.load_u64(peer_entry(role) + PEER_PID)
    }

    pub(super) fn path_buf(&self) -> PathBuf {
        match &self.backing {
            Backing::Shared { path, .. } => path.clone(),
            Backing::Heap { .. } => PathBuf::from("heap"),
        }
    }
}

/// The role names used in errors.
fn role_name(role: usize) -> &'static str {
    match role {
        PEER_WRITER => "writer",
        PEER_READER => "reader",
        _ => "reserved peer",
    }
}

/// Whether any process holds the creator lock or any peer lock of the segment open as `file`.
pub(super) fn any_lock_held(file: &File) -> io::Result<bool> {
    let bytes = std::iter::once(OFF_CREATOR_LOCK).chain((0..MAX_PEERS).map(peer_entry));
    for byte in bytes {
        if os::ofd_is_locked(file, byte as u64)? {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::test_support::{expect, ready_pair, spec, unique, Cleanup};
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    use std::time::Duration;

    #[test]
    fn heap_peer_flag_is_the_lock() {
        let segment = Segment::heap(&spec());
        assert!(!segment.peer_alive(PEER_WRITER));
        segment.lock_peer(PEER_WRITER).unwrap();
        assert!(segment.peer_alive(PEER_WRITER));
        assert_eq!(segment.peer_pid(PEER_WRITER), u64::from(std::process::id()));
        let err = segment.lock_peer(PEER_WRITER).unwrap_err();
        assert!(matches!(err, OpenError::PeerBusy { role: "writer", .. }), "{err}");
        segment.lock_peer(PEER_READER).unwrap();
        segment.unlock_peer(PEER_WRITER);
        assert!(!segment.peer_alive(PEER_WRITER));
        segment.lock_peer(PEER_WRITER).unwrap();
    }

    #[test]
    fn second_writer_through_another_handle_is_busy() {
        let (_cleanup, creator, other) = ready_pair("busy");
        creator.lock_peer(PEER_WRITER).unwrap();
        assert!(other.peer_alive(PEER_WRITER));
        assert!(!other.peer_alive(PEER_READER));
        let err = other.lock_peer(PEER_WRITER).unwrap_err();
        match &err {
            OpenError::PeerBusy { role, pid, .. } => {
                assert_eq!((*role, *pid), ("writer", u64::from(std::process::id())));
            }
            other => panic!("unexpected {other}"),
        }
        assert!(err.to_string().contains(&format!("pid {}", std::process::id())));
        // The same handle cannot take the role twice either.
        assert!(matches!(creator.lock_peer(PEER_WRITER), Err(OpenError::PeerBusy { .. })));
        other.lock_peer(PEER_READER).unwrap();
        assert!(creator.peer_alive(PEER_READER));
        creator.unlock_peer(PEER_WRITER);
        assert!(!other.peer_alive(PEER_WRITER));
        other.lock_peer(PEER_WRITER).unwrap();
    }

    #[test]
    fn dropping_a_segment_releases_its_locks() {
        let (_cleanup, creator, other) = ready_pair("drop");
        other.lock_peer(PEER_READER).unwrap();
        assert!(creator.peer_alive(PEER_READER));
        drop(other);
        assert!(!creator.peer_alive(PEER_READER));
        assert_eq!(creator.mem.load_u32(peer_entry(PEER_READER) + PEER_ATTACHED), 0);
        creator.lock_peer(PEER_READER).unwrap();
    }

    const HOLD_ENV: &str = "FLATIPC_TEST_HOLD_WRITER";

    /// Run by `writer_lock_dies_with_its_process` in a child process: holds the writer lock of
    /// the segment named in the environment until killed. Does nothing in a normal test run.
    #[test]
    fn writer_lock_holder_child() {
        let Ok(name) = std::env::var(HOLD_ENV) else { return };
        let segment = Segment::open(&name, &expect()).unwrap();
        segment.lock_peer(PEER_WRITER).unwrap();
        println!("locked");
        loop {
            std::thread::sleep(Duration::from_secs(60));
        }
    }

    #[test]
    fn writer_lock_dies_with_its_process() {
        let (_cleanup, creator, _other) = ready_pair("child");
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "segment::peer::tests::writer_lock_holder_child", "--nocapture"])
            .env(HOLD_ENV, creator.name())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = io::BufReader::new(child.stdout.take().unwrap());
        let locked = stdout.lines().map_while(Result::ok).any(|line| line.trim() == "locked");
        assert!(locked, "child did not take the lock");
        assert!(creator.peer_alive(PEER_WRITER));
        match creator.lock_peer(PEER_WRITER) {
            Err(OpenError::PeerBusy { pid, .. }) => assert_eq!(pid, u64::from(child.id())),
            other => panic!("unexpected {other:?}"),
        }
        child.kill().unwrap(); // SIGKILL: no destructor runs
        child.wait().unwrap();
        assert!(!creator.peer_alive(PEER_WRITER));
        creator.lock_peer(PEER_WRITER).unwrap();
    }

    #[test]
    fn stale_check_sees_the_creator_lock() {
        let name = unique("creator-lock");
        let _cleanup = Cleanup(name.clone());
        let creator = Segment::create(&name, &spec()).unwrap();
        let file = File::open(Segment::path(&name)).unwrap();
        assert!(any_lock_held(&file).unwrap());
        drop(creator);
        assert!(!any_lock_held(&file).unwrap());
    }
}
