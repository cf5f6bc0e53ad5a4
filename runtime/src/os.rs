//! Thin, safe wrappers over the Linux system calls the shared-memory layer needs: futexes shared
//! across processes and open-file-description (OFD) byte locks.
//!
//! flatipc supports Linux only: shared futexes and `F_OFD_SETLK` are Linux interfaces.
//!
//! Nothing here knows the segment layout; [`crate::segment`] decides which words and bytes are
//! used. Loom cannot model futexes: under `cfg(loom)` the ring layer does not call these.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::ptr;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Sleeps while `*word == expected`, for at most `timeout` (forever when `None`).
///
/// Uses `FUTEX_WAIT` *without* `FUTEX_PRIVATE_FLAG`, so a `futex_wake` from another process that
/// maps the same file wakes it. Returns `Ok(())` when woken, when the value already differed
/// (`EAGAIN`), on a signal (`EINTR`) and on timeout (`ETIMEDOUT`): the caller always re-checks its
/// condition, so these outcomes need not be told apart.
///
/// # Errors
///
/// Any other error of the system call (for example `EFAULT` or `EINVAL`), which indicates a bug.
#[allow(dead_code)] // used by the ring layer (wait.rs)
pub(crate) fn futex_wait(
    word: &AtomicU32,
    expected: u32,
    timeout: Option<Duration>,
) -> io::Result<()> {
    let timespec = timeout.map(|d| libc::timespec {
        tv_sec: libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
        // Always below 1e9, so it fits in every `c_long`.
        tv_nsec: d.subsec_nanos().into(),
    });
    let timespec_ptr = timespec.as_ref().map_or(ptr::null(), ptr::from_ref);
    // SAFETY:
    // - `word.as_ptr()` points to a live, 4-byte aligned `u32` for the whole call (it comes from
    //   a reference); the kernel only reads it atomically.
    // - `timespec_ptr` is null or points to `timespec`, which outlives the call; for FUTEX_WAIT
    //   it is a relative timeout, as intended.
    // - The two trailing arguments (`uaddr2`, `val3`) are ignored by FUTEX_WAIT.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            timespec_ptr,
            ptr::null::<u32>(),
            0u32,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EAGAIN | libc::EINTR | libc::ETIMEDOUT) => Ok(()),
        _ => Err(err),
    }
}

/// Wakes up to `count` processes or threads sleeping in [`futex_wait`] on `word` (in any process
/// that maps the same file) and returns how many were woken.
///
/// # Errors
///
/// An error of the system call, which indicates a bug.
#[allow(dead_code)] // used by the ring layer (wait.rs)
pub(crate) fn futex_wake(word: &AtomicU32, count: u32) -> io::Result<u32> {
    let count = libc::c_int::try_from(count).unwrap_or(libc::c_int::MAX);
    // SAFETY:
    // - `word.as_ptr()` points to a live, 4-byte aligned `u32` (it comes from a reference); the
    //   kernel uses its address only as a key and does not access memory through it.
    // - FUTEX_WAKE ignores the timeout, `uaddr2` and `val3` arguments; null and 0 are passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            count,
            ptr::null::<libc::timespec>(),
            ptr::null::<u32>(),
            0u32,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(u32::try_from(rc).unwrap_or(u32::MAX))
}

/// A one-byte `struct flock` at `offset` of the given lock type, for the `F_OFD_*` commands.
fn one_byte_lock(offset: u64, lock_type: libc::c_int) -> io::Result<libc::flock> {
    let start = libc::off_t::try_from(offset)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "lock offset too large"))?;
    // SAFETY:
    // - `libc::flock` is a plain C struct of integers, for which all-zero bytes are a valid value
    //   (and `l_pid` must be 0 for the OFD commands).
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    // `F_WRLCK`, `F_RDLCK`, `F_UNLCK` and `SEEK_SET` are small constants that fit in a `c_short`.
    lock.l_type = libc::c_short::try_from(lock_type).unwrap_or(libc::c_short::MAX);
    lock.l_whence = libc::c_short::try_from(libc::SEEK_SET).unwrap_or(0);
    lock.l_start = start;
    lock.l_len = 1;
    Ok(lock)
}

/// Runs `fcntl(file, command, &mut lock)`.
fn fcntl_lock(file: &File, command: libc::c_int, lock: &mut libc::flock) -> io::Result<()> {
    // SAFETY:
    // - `file` keeps its descriptor open for the duration of the call.
    // - `command` is one of the `F_OFD_*` lock commands, whose third argument is a pointer to a
    //   `struct flock`; `lock` is a valid, exclusive reference to one for the whole call.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), command, ptr::from_mut(lock)) };
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Takes an OFD write lock on the byte at `offset` (`F_OFD_SETLK`, `F_WRLCK`, length 1).
///
/// Returns `Ok(false)` when another open file description holds a conflicting lock. The lock
/// belongs to the open file description of `file`: it is released by [`ofd_unlock`] or when the
/// last descriptor of it is closed, including when the process dies. Locking again through the
/// same description succeeds (it already owns the lock).
///
/// # Errors
///
/// Errors of `fcntl` other than the lock being held.
pub(crate) fn ofd_try_lock(file: &File, offset: u64) -> io::Result<bool> {
    let mut lock = one_byte_lock(offset, libc::F_WRLCK)?;
    match fcntl_lock(file, libc::F_OFD_SETLK, &mut lock) {
        Ok(()) => Ok(true),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EACCES)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Takes an OFD read (shared) lock on the byte at `offset`: any number of open file
/// descriptions may hold one at once, and [`ofd_is_locked`] reports it. Returns `Ok(false)` if a
/// write lock is held there.
///
/// # Errors
///
/// Errors of `fcntl` other than a conflicting lock.
pub(crate) fn ofd_try_read_lock(file: &File, offset: u64) -> io::Result<bool> {
    let mut lock = one_byte_lock(offset, libc::F_RDLCK)?;
    match fcntl_lock(file, libc::F_OFD_SETLK, &mut lock) {
        Ok(()) => Ok(true),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EACCES)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether another open file description holds a lock on the byte at `offset` (`F_OFD_GETLK`).
///
/// A lock held through `file`'s own description does not count (it does not conflict).
///
/// # Errors
///
/// Errors of `fcntl`.
pub(crate) fn ofd_is_locked(file: &File, offset: u64) -> io::Result<bool> {
    let mut lock = one_byte_lock(offset, libc::F_WRLCK)?;
    fcntl_lock(file, libc::F_OFD_GETLK, &mut lock)?;
    Ok(libc::c_int::from(lock.l_type) != libc::F_UNLCK)
}

/// Releases the OFD lock that `file`'s description holds on the byte at `offset` (a no-op if it
/// holds none).
///
/// # Errors
///
/// Errors of `fcntl`.
pub(crate) fn ofd_unlock(file: &File, offset: u64) -> io::Result<()> {
    let mut lock = one_byte_lock(offset, libc::F_UNLCK)?;
    fcntl_lock(file, libc::F_OFD_SETLK, &mut lock)
}

/// Free space of the file system holding `file`, in bytes, for an unprivileged user
/// (`f_bavail × f_frsize` from `fstatvfs`).
///
/// # Errors
///
/// Errors of `fstatvfs`.
pub(crate) fn available_space(file: &File) -> io::Result<u64> {
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY:
    // - `file` keeps its descriptor open for the duration of the call.
    // - `stat.as_mut_ptr()` is valid for writes of one `statvfs`, which `fstatvfs` fills in.
    let rc = unsafe { libc::fstatvfs(file.as_raw_fd(), stat.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY:
    // - `fstatvfs` returned 0, so it initialised the whole struct.
    let stat = unsafe { stat.assume_init() };
    #[allow(clippy::useless_conversion)] // the field types differ between targets
    let (blocks, block_size) = (u64::from(stat.f_bavail), u64::from(stat.f_frsize));
    Ok(blocks.saturating_mul(block_size))
}

/// Reserves `len` bytes of `file` (`posix_fallocate(fd, 0, len)`), growing it to `len` if it is
/// shorter, so that the pages exist now and a full file system is an error here rather than a
/// `SIGBUS` on first touch.
///
/// # Errors
///
/// The error `posix_fallocate` returns (`ENOSPC` when the file system is full).
pub(crate) fn reserve(file: &File, len: u64) -> io::Result<()> {
    let len = libc::off_t::try_from(len)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "segment size too large"))?;
    // SAFETY:
    // - `file` keeps its descriptor open for the duration of the call; the call has no memory
    //   arguments.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) };
    // posix_fallocate returns the error number instead of setting errno.
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

/// The effective user id of this process.
pub(crate) fn effective_uid() -> u32 {
    // SAFETY:
    // - `geteuid` has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn wait_returns_when_the_value_differs() {
        let word = AtomicU32::new(1);
        futex_wait(&word, 0, None).unwrap();
    }

    #[test]
    fn wait_times_out() {
        let word = AtomicU32::new(0);
        let start = Instant::now();
        futex_wait(&word, 0, Some(Duration::from_millis(20))).unwrap();
        assert!(start.elapsed() >= Duration::from_millis(15));
    }

    #[test]
    fn wake_with_nobody_waiting_wakes_nobody() {
        let word = AtomicU32::new(0);
        assert_eq!(futex_wake(&word, u32::MAX).unwrap(), 0);
    }

    #[test]
    fn wake_reaches_a_waiting_thread() {
        let word = Arc::new(AtomicU32::new(0));
        let waiter = {
            let word = Arc::clone(&word);
            std::thread::spawn(move || {
                while word.load(Ordering::Acquire) == 0 {
                    futex_wait(&word, 0, Some(Duration::from_secs(10))).unwrap();
                }
            })
        };
        // Wake until the waiter has been seen asleep and woken (it may not be asleep yet).
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut woken = 0;
        while woken == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
            word.store(1, Ordering::Release);
            woken = futex_wake(&word, 1).unwrap();
            if woken == 0 && waiter.is_finished() {
                break; // it saw the store before sleeping
            }
        }
        waiter.join().unwrap();
        assert!(woken <= 1);
    }

    #[test]
    fn ofd_locks_conflict_between_descriptions_only() {
        let dir = std::env::temp_dir().join(format!("flatipc-os-lock-{}", std::process::id()));
        let a = File::options().read(true).write(true).create(true).truncate(true).open(&dir);
        let a = a.unwrap();
        let b = File::options().read(true).write(true).open(&dir).unwrap();
        assert!(ofd_try_lock(&a, 100).unwrap());
        assert!(ofd_try_lock(&a, 100).unwrap(), "relocking through the owner succeeds");
        assert!(!ofd_is_locked(&a, 100).unwrap(), "own lock does not conflict");
        assert!(ofd_is_locked(&b, 100).unwrap());
        assert!(!ofd_try_lock(&b, 100).unwrap());
        assert!(!ofd_is_locked(&b, 101).unwrap(), "only one byte is locked");
        ofd_unlock(&a, 100).unwrap();
        assert!(!ofd_is_locked(&b, 100).unwrap());
        assert!(ofd_try_lock(&b, 100).unwrap());
        drop(b);
        assert!(!ofd_is_locked(&a, 100).unwrap(), "closing the description releases its lock");
        std::fs::remove_file(&dir).unwrap();
    }
}
