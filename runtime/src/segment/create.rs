//! Creating a segment: a new file under a temporary name, locked, sized, mapped and filled, then
//! linked to its final name; or the same header on the heap.

use std::alloc::{self, Layout};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::MmapOptions;

use crate::error::OpenError;
use crate::os;

use super::layout::*;
use super::memory::Memory;
use super::spec::SegmentSpec;
use super::{validate_name, Backing, Geometry, Segment};

impl Segment {
    /// Creates segment `name` for `spec`: reserves its whole size, maps it and writes the header
    /// with `state = 0` (initialising).
    ///
    /// The segment is not visible as ready until the ring layer has initialised the ring and
    /// called `publish_ready`. The file is prepared under a temporary name and linked to its
    /// final name only when complete, so no process ever sees a partly written header; the
    /// creator holds a lock on it for as long as this `Segment` lives, so that it is never taken
    /// for stale.
    ///
    /// # Errors
    ///
    /// [`OpenError::InvalidName`], [`OpenError::InvalidSpec`], [`OpenError::AlreadyExists`],
    /// [`OpenError::NoSpace`] (the segment does not fit in `/dev/shm`) or [`OpenError::Io`].
    pub fn create(name: &str, spec: &SegmentSpec) -> Result<Segment, OpenError> {
        validate_name(name)?;
        spec.validate()?;
        let path = Self::path(name);
        let size = spec.segment_size();
        let tmp_path = temporary_path(name);
        let io_err = |op: &'static str, p: &Path| {
            let p = p.to_path_buf();
            move |source| OpenError::Io { path: p, op, source }
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(&tmp_path)
            .map_err(io_err("create", &tmp_path))?;
        let prepared = Self::prepare(name, spec, file, &path, &tmp_path, size);
        let linked = prepared.and_then(|segment| match fs::hard_link(&tmp_path, &path) {
            Ok(()) => Ok(segment),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                Err(OpenError::AlreadyExists { path: path.clone() })
            }
            Err(e) => Err(io_err("link", &path)(e)),
        });
        // Whatever happened, the temporary name goes; the segment (if any) lives at `path`.
        let _ = fs::remove_file(&tmp_path);
        linked
    }

    /// Locks, sizes, maps and fills the new file at `tmp_path`.
    fn prepare(
        name: &str,
        spec: &SegmentSpec,
        file: File,
        path: &Path,
        tmp_path: &Path,
        size: u64,
    ) -> Result<Segment, OpenError> {
        let io_err = |op: &'static str| {
            let p = tmp_path.to_path_buf();
            move |source| OpenError::Io { path: p, op, source }
        };
        // The umask may have removed bits, never added them; make the mode exactly 0600.
        file.set_permissions(fs::Permissions::from_mode(0o600)).map_err(io_err("chmod"))?;
        if !os::ofd_try_lock(&file, OFF_CREATOR_LOCK as u64).map_err(io_err("lock"))? {
            return Err(io_err("lock")(io::Error::from(io::ErrorKind::WouldBlock)));
        }
        let available = os::available_space(&file).map_err(io_err("fstatvfs"))?;
        let no_space = || OpenError::NoSpace { needed: size, available, path: path.to_path_buf() };
        if size > available {
            return Err(no_space());
        }
        match os::reserve(&file, size) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => return Err(no_space()),
            Err(e) => return Err(io_err("posix_fallocate")(e)),
        }
        // `spec.validate` proved that `size` fits in `isize`.
        let len = usize::try_from(size).map_err(|_| no_space())?;
        let map = MmapOptions::new().len(len).map_raw(&file).map_err(io_err("mmap"))?;
        let base = NonNull::new(map.as_mut_ptr())
            .ok_or_else(|| io_err("mmap")(io::ErrorKind::Other.into()))?;
        let mem = Memory { base, len };
        mem.write_header(spec, size);
        Ok(Segment {
            mem,
            backing: Backing::Shared { _map: map, file, path: path.to_path_buf() },
            name: name.to_owned(),
            geometry: Geometry::of(spec),
            held: Default::default(),
            readers_held: Default::default(),
        })
    }

    /// An in-process segment on the heap with the same header as a shared one (`state = 0`
    /// until `publish_ready`). Peer liveness uses the `attached` flag of the peer table instead
    /// of file locks.
    ///
    /// # Panics
    ///
    /// If `spec` is invalid (check it with [`SegmentSpec::validate`] first); aborts through
    /// [`std::alloc::handle_alloc_error`] if the allocation fails.
    pub fn heap(spec: &SegmentSpec) -> Segment {
        if let Err(e) = spec.validate() {
            panic!("Segment::heap: {e}");
        }
        let size = spec.segment_size();
        // `validate` proved that the size fits in `isize`; 4096 is a power of two.
        let layout = usize::try_from(size)
            .ok()
            .and_then(|len| Layout::from_size_align(len, DATA_OFFSET).ok())
            .expect("validated segment size fits a Layout");
        // SAFETY:
        // - `layout` has a non-zero size: `segment_size` includes the 4096-byte header.
        let raw = unsafe { alloc::alloc_zeroed(layout) };
        let Some(base) = NonNull::new(raw) else { alloc::handle_alloc_error(layout) };
        let mem = Memory { base, len: layout.size() };
        mem.write_header(spec, size);
        Segment {
            mem,
            backing: Backing::Heap { layout },
            name: String::from("heap"),
            geometry: Geometry::of(spec),
            held: Default::default(),
            readers_held: Default::default(),
        }
    }
}

/// A name in `/dev/shm` that no segment can have (segments start with `flatipc.`).
fn temporary_path(name: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    PathBuf::from(format!("/dev/shm/.flatipc-creating.{}.{n}.{name}", std::process::id()))
}
