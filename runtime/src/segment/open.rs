//! Opening a segment: checking the file is safe to map, mapping it and validating its header;
//! and the open-or-create loop that removes stale segments.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::ptr::NonNull;
use std::time::{Duration, Instant};

use memmap2::{MmapOptions, MmapRaw};

use crate::error::OpenError;
use crate::os;

use super::header::validate_header;
use super::layout::*;
use super::memory::Memory;
use super::peer::any_lock_held;
use super::spec::{Expect, SegmentSpec};
use super::{validate_name, Backing, Geometry, Segment};

impl Segment {
    /// Opens the existing segment `name`, checks that it is safe to map and ready, and validates
    /// every header field and the expected message type.
    ///
    /// # Errors
    ///
    /// [`OpenError::NotFound`], [`OpenError::Insecure`] (not a private regular file of this
    /// user), [`OpenError::NotReady`], [`OpenError::BadHeader`],
    /// [`OpenError::UnsupportedVersion`], [`OpenError::WrongKind`], [`OpenError::TypeMismatch`],
    /// [`OpenError::InvalidName`] or [`OpenError::Io`].
    pub fn open(name: &str, expect: &Expect) -> Result<Segment, OpenError> {
        Self::open_keeping_file(name, expect).map_err(|(e, _)| e)
    }

    /// [`Segment::open`], handing back the open file on failure so that the caller can check
    /// its locks.
    fn open_keeping_file(
        name: &str,
        expect: &Expect,
    ) -> Result<Segment, (OpenError, Option<File>)> {
        validate_name(name).map_err(|e| (e, None))?;
        let path = Self::path(name);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| (open_error(&path, e), None))?;
        match attach(&file, &path, expect) {
            Ok((map, mem, geometry)) => Ok(Segment {
                mem,
                backing: Backing::Shared { _map: map, file, path },
                name: name.to_owned(),
                geometry,
                held: Default::default(),
                readers_held: Default::default(),
            }),
            Err(e) => Err((e, Some(file))),
        }
    }

    /// Opens segment `name`, or creates it from `spec` if it does not exist. Returns the segment
    /// and whether it was created (then the caller initialises the ring and publishes it).
    ///
    /// A segment that fails to open because it is stale — never made ready, or its header does
    /// not match (`BadHeader`, `UnsupportedVersion`, `WrongKind`, `TypeMismatch`) — while **no**
    /// process holds any of its locks is removed and created again, once. A segment with a live
    /// peer or creator is never removed: its error is returned (a segment that is still being
    /// initialised is waited for, up to 200 ms). An existing valid segment is opened as it is,
    /// even if its capacity differs from `spec`.
    ///
    /// # Errors
    ///
    /// Those of [`Segment::create`] and [`Segment::open`]; [`OpenError::InvalidSpec`] if
    /// `expect.kind` differs from `spec.kind`.
    pub fn open_or_create(
        name: &str,
        spec: &SegmentSpec,
        expect: &Expect,
    ) -> Result<(Segment, bool), OpenError> {
        if spec.kind != expect.kind {
            return Err(OpenError::InvalidSpec {
                reason: format!(
                    "spec.kind {:?} differs from expect.kind {:?}",
                    spec.kind, expect.kind
                ),
            });
        }
        let deadline = Instant::now() + Duration::from_millis(200);
        let mut removed_stale = false;
        let mut try_create = true;
        loop {
            if try_create {
                match Self::create(name, spec) {
                    Ok(segment) => return Ok((segment, true)),
                    Err(OpenError::AlreadyExists { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            try_create = true;
            let (error, file) = match Self::open_keeping_file(name, expect) {
                Ok(segment) => return Ok((segment, false)),
                // Removed between our create and open: try again.
                Err((OpenError::NotFound { .. }, _)) if !removed_stale => {
                    removed_stale = true;
                    continue;
                }
                Err((error, Some(file))) if error.is_stale_candidate() => (error, file),
                Err((error, _)) => return Err(error),
            };
            let path = Self::path(name);
            let locked = any_lock_held(&file).map_err(|source| OpenError::Io {
                path: path.clone(),
                op: "fcntl",
                source,
            })?;
            if locked {
                if matches!(error, OpenError::NotReady { .. }) && Instant::now() < deadline {
                    // Its creator is initialising it: wait, then open again.
                    std::thread::sleep(Duration::from_millis(1));
                    try_create = false;
                    continue;
                }
                return Err(error);
            }
            if removed_stale {
                return Err(error);
            }
            removed_stale = true;
            remove_if_same_file(&path, &file).map_err(|source| OpenError::Io {
                path: path.clone(),
                op: "remove",
                source,
            })?;
        }
    }
}

/// Maps an error of `open` on an existing segment.
fn open_error(path: &Path, e: io::Error) -> OpenError {
    let path = path.to_path_buf();
    match e.raw_os_error() {
        Some(libc::ENOENT) => OpenError::NotFound { path },
        Some(libc::ELOOP) => OpenError::Insecure { path, reason: "it is a symbolic link".into() },
        Some(libc::EISDIR) => OpenError::Insecure { path, reason: "it is a directory".into() },
        _ => OpenError::Io { path, op: "open", source: e },
    }
}

/// Removes `path` if it is still the file open as `file` (not a segment created since).
fn remove_if_same_file(path: &Path, file: &File) -> io::Result<()> {
    let open = file.metadata()?;
    match fs::symlink_metadata(path) {
        Ok(now) if now.dev() == open.dev() && now.ino() == open.ino() => fs::remove_file(path),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Checks the open file, maps it and validates its header.
fn attach(
    file: &File,
    path: &Path,
    expect: &Expect,
) -> Result<(MmapRaw, Memory, Geometry), OpenError> {
    let io_err = |op: &'static str| {
        let p = path.to_path_buf();
        move |source| OpenError::Io { path: p, op, source }
    };
    let insecure = |reason: String| OpenError::Insecure { path: path.to_path_buf(), reason };
    let meta = file.metadata().map_err(io_err("fstat"))?;
    if !meta.file_type().is_file() {
        return Err(insecure("it is not a regular file".into()));
    }
    let euid = os::effective_uid();
    if meta.uid() != euid {
        return Err(insecure(format!("it is owned by uid {}, not by uid {euid}", meta.uid())));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(insecure(format!("its mode is {:04o}", meta.mode() & 0o7777)));
    }
    let file_size = meta.len();
    let bad = |field: &'static str, found: String, expected: String| OpenError::BadHeader {
        path: path.to_path_buf(),
        field,
        found,
        expected,
    };
    if file_size < DATA_OFFSET as u64 {
        return Err(bad("file size", file_size.to_string(), "at least 4096 bytes".into()));
    }
    let len = usize::try_from(file_size)
        .ok()
        .filter(|len| *len <= isize::MAX as usize)
        .ok_or_else(|| bad("file size", file_size.to_string(), "a mappable size".into()))?;
    let map = MmapOptions::new().len(len).map_raw(file).map_err(io_err("mmap"))?;
    let base = NonNull::new(map.as_mut_ptr())
        .ok_or_else(|| io_err("mmap")(io::ErrorKind::Other.into()))?;
    let mem = Memory { base, len };
    let geometry = validate_header(&mem, path, file_size, expect)?;
    Ok((map, mem, geometry))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::test_support::{expect, spec, unique, Cleanup};

    #[test]
    fn open_or_create_waits_for_a_creator_that_is_initialising() {
        let name = unique("wait-ready");
        let _cleanup = Cleanup(name.clone());
        let creator = Segment::create(&name, &spec()).unwrap();
        let opener = {
            let name = name.clone();
            std::thread::spawn(move || Segment::open_or_create(&name, &spec(), &expect()))
        };
        std::thread::sleep(Duration::from_millis(20));
        creator.publish_ready();
        let (segment, created) = opener.join().unwrap().unwrap();
        assert!(!created);
        assert_eq!(segment.capacity(), 8);
    }
}
