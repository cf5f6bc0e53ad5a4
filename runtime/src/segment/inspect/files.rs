//! The file side of inspection: opening a segment file with exactly the checks
//! [`Segment::open`] makes (`open.rs`, whose helpers are private to it), mapping it and
//! validating its header for any ring kind; and removing a segment no process uses.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::ptr::NonNull;

use memmap2::{MmapOptions, MmapRaw};

use crate::error::OpenError;
use crate::os;
use crate::segment::header::validate_header;
use crate::segment::layout::*;
use crate::segment::memory::Memory;
use crate::segment::peer::any_lock_held;
use crate::segment::spec::{Expect, RingKind};
use crate::segment::{validate_name, Geometry, Segment};

/// What [`Segment::remove_if_unused`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Removal {
    /// No process held any of the segment's locks: its file was removed (with `dry_run`,
    /// would have been). `ready` is false for a segment whose creator died before making it
    /// ready.
    Removed {
        /// Whether the segment was ready (a valid segment whose peers are all gone).
        ready: bool,
    },
    /// A creator, peer or reader lock is held: the segment is in use and was left alone.
    InUse,
    /// The name now refers to another file than the one checked (a segment was created in
    /// between): nothing was removed.
    Replaced,
}

impl Segment {
    /// Removes segment `name` if no process holds its creator lock or any peer or reader lock,
    /// after checking that the name still refers to the file it checked; with `dry_run`, only
    /// says whether it would.
    ///
    /// Only segments are candidates: a valid one (any kind) whose processes are all gone, or one
    /// whose creator died before making it ready. A file with any other header error (foreign,
    /// corrupt, another protocol version) is left alone and its error returned, as are files
    /// flatipc does not trust (symbolic links, another owner, group or other permissions).
    ///
    /// # Errors
    ///
    /// [`OpenError::InvalidName`], [`OpenError::NotFound`], [`OpenError::Insecure`], the
    /// header errors of [`Segment::open`] other than [`OpenError::NotReady`], or
    /// [`OpenError::Io`].
    pub fn remove_if_unused(name: &str, dry_run: bool) -> Result<Removal, OpenError> {
        validate_name(name)?;
        let path = Self::path(name);
        let file = open_file(&path)?;
        let meta = check_file(&file, &path)?;
        let ready = match map_and_validate(&file, &path, &meta) {
            Ok(_) => true,
            Err(OpenError::NotReady { .. }) => false,
            Err(e) => return Err(e),
        };
        let io = |op| {
            let path = path.clone();
            move |source| OpenError::Io { path, op, source }
        };
        if any_lock_held(&file).map_err(io("fcntl"))? {
            return Ok(Removal::InUse);
        }
        match fs::symlink_metadata(&path) {
            Ok(now) if (now.dev(), now.ino()) == (meta.dev(), meta.ino()) => {}
            Ok(_) => return Ok(Removal::Replaced),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Removal::Replaced),
            Err(e) => return Err(io("lstat")(e)),
        }
        if !dry_run {
            fs::remove_file(&path).map_err(io("remove"))?;
        }
        Ok(Removal::Removed { ready })
    }
}

/// Opens an existing segment file as [`Segment::open`] does (`O_NOFOLLOW`: a symbolic link is
/// refused), mapping the errors the same way.
pub(super) fn open_file(path: &Path) -> Result<File, OpenError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| {
            let path = path.to_path_buf();
            match e.raw_os_error() {
                Some(libc::ENOENT) => OpenError::NotFound { path },
                Some(libc::ELOOP) => {
                    OpenError::Insecure { path, reason: "it is a symbolic link".into() }
                }
                Some(libc::EISDIR) => {
                    OpenError::Insecure { path, reason: "it is a directory".into() }
                }
                _ => OpenError::Io { path, op: "open", source: e },
            }
        })
}

/// The checks [`Segment::open`] makes before mapping a file: a regular file of this user with
/// no group or other permissions.
pub(super) fn check_file(file: &File, path: &Path) -> Result<Metadata, OpenError> {
    let insecure = |reason: String| OpenError::Insecure { path: path.to_path_buf(), reason };
    let meta = file.metadata().map_err(|source| OpenError::Io {
        path: path.to_path_buf(),
        op: "fstat",
        source,
    })?;
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
    Ok(meta)
}

/// Maps the checked file and validates its header as [`Segment::open`] does, for the ring kind
/// its `kind` byte names (a byte no kind has is reported as a bad `kind`, after every field
/// the protocol checks before it).
pub(super) fn map_and_validate(
    file: &File,
    path: &Path,
    meta: &Metadata,
) -> Result<(MmapRaw, Memory, Geometry), OpenError> {
    let file_size = meta.len();
    let bad = |found: String, expected: &str| OpenError::BadHeader {
        path: path.to_path_buf(),
        field: "file size",
        found,
        expected: expected.to_owned(),
    };
    if file_size < DATA_OFFSET as u64 {
        return Err(bad(file_size.to_string(), "at least 4096 bytes"));
    }
    let len = usize::try_from(file_size)
        .ok()
        .filter(|len| *len <= isize::MAX as usize)
        .ok_or_else(|| bad(file_size.to_string(), "a mappable size"))?;
    let io_err = |source| OpenError::Io { path: path.to_path_buf(), op: "mmap", source };
    let map = MmapOptions::new().len(len).map_raw(file).map_err(io_err)?;
    let base = NonNull::new(map.as_mut_ptr()).ok_or_else(|| io_err(io::ErrorKind::Other.into()))?;
    // The `Memory` invariants hold: `base` starts a shared, readable and writable mapping of
    // exactly `len ≤ isize::MAX` bytes, page-aligned, which `map` keeps mapped and which the
    // returned `Segment` keeps alive (its `mem` is declared before its `backing`).
    let mem = Memory { base, len };
    let kind = RingKind::from_byte(mem.load_u8(OFF_KIND)).unwrap_or(RingKind::TypedChannel);
    let geometry = validate_header(&mem, path, file_size, &Expect { kind, messages: Vec::new() })?;
    Ok((map, mem, geometry))
}
