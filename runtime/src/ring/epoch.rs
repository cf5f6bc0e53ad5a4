//! Writer epochs of the typed rings (`docs/PROTOCOL.md` §3 "Writer epochs", also §5): which
//! schema version and message size wrote each position, recorded per writer attachment in the
//! header's epoch table, so that peers built from different versions of a schema share one ring.
//! [`Epochs`] is a reader's side: the epoch of each position, cached, and the zero-extension of
//! an older writer's message.

use std::ptr::NonNull;

use crate::error::OpenError;
use crate::ring::{EpochProblem, RecvError, Shared};
use crate::segment::layout::{EPOCH_ENTRIES, EPOCH_ENTRY_SIZE, OFF_EPOCHS, OFF_EPOCH_TABLE};
use crate::segment::spec::entry_of;
use crate::segment::{check_message, Segment};
use crate::sync::{fence, AtomicU64, Ordering};
use crate::{FlatMessage, VersionStep};

/// `start` of an epoch table entry that is being rewritten.
const REWRITING: u64 = u64::MAX;

/// One writer epoch: the version and size of the messages from position `start` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Epoch {
    pub start: u64,
    pub version: u16,
    pub size: u32,
}

fn pack(version: u16, seq: u64, size: u32) -> u64 {
    u64::from(version) | (seq & 0xFFFF) << 16 | u64::from(size) << 32
}

fn words(segment: &Segment, k: u64) -> (&AtomicU64, &AtomicU64) {
    // `k % EPOCH_ENTRIES` < 4, so the entry lies in the header's epoch table.
    let index = usize::try_from(k % EPOCH_ENTRIES as u64).unwrap_or(0);
    let entry = OFF_EPOCH_TABLE + EPOCH_ENTRY_SIZE * index;
    (segment.atomic_u64(entry), segment.atomic_u64(entry + 8))
}

/// Records the writer epoch `(start, version, size)`, unless the newest recorded epoch has the
/// same version and size (the writer then continues it). Call it holding the writer lock, before
/// publishing anything.
pub(crate) fn record(segment: &Segment, start: u64, version: u16, size: u32) {
    let epochs = segment.atomic_u64(OFF_EPOCHS);
    // Only writers, one at a time under the writer lock, store `epochs`; Acquire pairs with the
    // previous writer's Release store below (SYNC POINT E').
    let n = epochs.load(Ordering::Acquire);
    if n > 0 {
        if let Some(newest) = read(segment, n - 1) {
            if (newest.version, newest.size) == (version, size) {
                return;
            }
        }
    }
    let (start_word, meta) = words(segment, n);
    // The seqlock of PROTOCOL §3: a reader that sees `REWRITING`, or two different `start`s,
    // around its load of `meta` discards the entry.
    start_word.store(REWRITING, Ordering::Relaxed);
    // Pairs with the Acquire fence in `read`: a reader whose copy of `meta` saw the store
    // below also sees `REWRITING` (or the new `start`) when it loads `start` again.
    fence(Ordering::Release);
    meta.store(pack(version, n, size), Ordering::Relaxed);
    // SYNC POINT E: pairs with the Acquire load of `start` in `read`.
    start_word.store(start, Ordering::Release);
    // SYNC POINT E': pairs with the Acquire load of `epochs` in `count` (and in `record`).
    // The writer's first Release store of `write_pos` (SYNC POINT A) comes after, so a reader
    // that sees a position committed sees its epoch.
    epochs.store(n + 1, Ordering::Release);
}

/// What a typed-ring writer of `T` does at attach, holding the writer lock and before
/// publishing anything (`docs/PROTOCOL.md` §3): merges its steps into the message table and
/// checks that its message fits the ring's slots. Returns its `size_of` for [`record`].
///
/// # Errors
///
/// [`OpenError::VersionMismatch`] (the table's steps diverged from `T`'s) or
/// [`OpenError::CannotUpgrade`] (too many steps, or `T` outgrew the slots).
pub(crate) fn upgrade<T: FlatMessage>(segment: &Segment) -> Result<u32, OpenError> {
    let size = u32::try_from(size_of::<T>()).unwrap_or(u32::MAX);
    segment.merge_steps(&[entry_of::<T>()])?;
    segment.fits(size).map_err(|reason| OpenError::CannotUpgrade {
        path: Segment::path(segment.name()),
        message: T::NAME.to_owned(),
        version: T::VERSION,
        reason,
    })?;
    Ok(size)
}

/// Epoch `k` as entry `k mod 4` holds it, or `None` if the entry is being rewritten or holds
/// another epoch.
fn read(segment: &Segment, k: u64) -> Option<Epoch> {
    let (start_word, meta) = words(segment, k);
    // SYNC POINT E (Acquire), paired with the writer's Release store of `start`.
    let start = start_word.load(Ordering::Acquire);
    let packed = meta.load(Ordering::Relaxed);
    fence(Ordering::Acquire);
    if start == REWRITING || start_word.load(Ordering::Relaxed) != start {
        return None;
    }
    if (packed >> 16) & 0xFFFF != k & 0xFFFF {
        return None;
    }
    // Truncations on purpose: the fields are packed in these widths.
    #[allow(clippy::cast_possible_truncation)]
    Some(Epoch { start, version: packed as u16, size: (packed >> 32) as u32 })
}

/// What a reader knows of the epoch covering a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Covering {
    /// The epoch, or `None`: the position precedes every recorded epoch (written by a writer
    /// that records none), so it has the reader's own version and size.
    pub epoch: Option<Epoch>,
    /// The start of the next recorded epoch, if any.
    pub next: Option<u64>,
    /// The epoch count this was found in.
    pub count: u64,
}

/// How many epochs were ever recorded.
pub(crate) fn count(segment: &Segment) -> u64 {
    // SYNC POINT E' (Acquire), paired with the writer's Release store of `epochs`.
    segment.atomic_u64(OFF_EPOCHS).load(Ordering::Acquire)
}

/// The epoch covering `position`, which the reader saw committed (its Acquire load of
/// `write_pos` returned more than `position`).
///
/// # Errors
///
/// [`EpochProblem::Lost`] if the table no longer holds it (more than 4 writers since).
pub(crate) fn covering(segment: &Segment, position: u64) -> Result<Covering, EpochProblem> {
    let c = count(segment);
    let oldest = c.saturating_sub(EPOCH_ENTRIES as u64);
    let mut next = None;
    for k in (oldest..c).rev() {
        match read(segment, k) {
            Some(epoch) if epoch.start <= position => {
                return Ok(Covering { epoch: Some(epoch), next, count: c });
            }
            Some(epoch) => next = Some(epoch.start),
            // Being rewritten by a newer writer: it was an older epoch's entry.
            None => return Err(EpochProblem::Lost),
        }
    }
    if oldest == 0 {
        Ok(Covering { epoch: None, next, count: c })
    } else {
        Err(EpochProblem::Lost)
    }
}

/// The size of the layout at `version` of a type whose history is `steps`: that of its newest
/// step at or before `version`.
pub(crate) fn size_at(steps: &[VersionStep], version: u16) -> Option<u32> {
    steps.iter().take_while(|s| s.version <= version).last().map(|s| s.size)
}

/// How a reader of a type at `current` version, `type_size` bytes, with history `steps`, reads a
/// message of `epoch` in a ring of `slot_size`-byte slots: `Ok(false)` in place (its prefix),
/// `Ok(true)` zero-extended from the epoch's `size` bytes (an older version whose layout is
/// smaller).
///
/// # Errors
///
/// The epoch is impossible for this ring and this type.
pub(crate) fn widens(
    epoch: &Epoch,
    current: u16,
    type_size: usize,
    steps: &[VersionStep],
    slot_size: usize,
) -> Result<bool, EpochProblem> {
    let size = epoch.size as usize;
    let bad_size = EpochProblem::Size { version: epoch.version, size: epoch.size };
    if epoch.version == 0 || epoch.version > 255 {
        return Err(EpochProblem::Version { version: epoch.version });
    }
    if size > slot_size {
        return Err(bad_size);
    }
    match epoch.version.cmp(&current) {
        std::cmp::Ordering::Equal if size == type_size => Ok(false),
        std::cmp::Ordering::Greater if size >= type_size => Ok(false),
        std::cmp::Ordering::Less if size_at(steps, epoch.version) == Some(epoch.size) => {
            Ok(size < type_size)
        }
        _ => Err(bad_size),
    }
}

/// A reader's cached writer epoch: the positions from the current one up to `end` were written
/// at `version`, `size` bytes each, and are read in place or (`widen`) zero-extended. `newest`:
/// the epoch count when it was the newest epoch (while the count stays, it extends to every
/// committed position).
#[derive(Debug, Clone, Copy)]
struct Current {
    end: u64,
    newest: Option<u64>,
    version: u16,
    widen: bool,
    size: u32,
}

/// A typed-ring reader's view of the writer epochs, for its type `T`.
#[derive(Debug)]
pub(crate) struct Epochs<T> {
    current: Current,
    /// Where a message of an older, smaller writer version is zero-extended (only for a type
    /// that has older, smaller layouts).
    widened: Option<Box<T>>,
    /// The newest writer version whose layout this reader has checked against its own.
    checked: u16,
}

impl<T: FlatMessage> Epochs<T> {
    /// The state of a reader of `T` attaching to `segment` (whose header check passed).
    pub(crate) fn new(segment: &Segment) -> Result<Self, OpenError> {
        let mine = entry_of::<T>();
        let table = segment.messages().into_iter().find(|m| m.id == mine.id);
        let checked = table.map_or(1, |t| t.steps_for(&mine).last().map_or(1, |s| s.0));
        let widened = match T::STEPS.len() > 1 {
            true => Some(T::new_box_zeroed().map_err(|_| OpenError::InvalidSpec {
                reason: format!("cannot allocate {} bytes for `{}`", size_of::<T>(), T::NAME),
            })?),
            false => None,
        };
        let current = Current { end: 0, newest: None, version: 0, widen: false, size: 0 };
        Ok(Self { current, widened, checked: checked.min(T::VERSION) })
    }

    /// The writer version of the message at the position last passed to [`Epochs::at`].
    #[inline]
    pub(crate) fn version(&self) -> u16 {
        self.current.version
    }

    /// Makes the cached epoch that of `position`, which the reader saw committed, as were all
    /// positions below `committed` (from the same Acquire load of `write_pos` or of the slot's
    /// sequence word, made before this call); returns whether its message is zero-extended
    /// (then [`Epochs::widen`] makes the copy) rather than read as it is. Positions only grow.
    ///
    /// # Errors
    ///
    /// [`RecvError::Epoch`] (lost or impossible epoch) or [`RecvError::VersionMismatch`].
    #[inline]
    pub(crate) fn at(
        &mut self,
        shared: &Shared,
        position: u64,
        committed: u64,
    ) -> Result<bool, RecvError> {
        if position >= self.current.end {
            // SYNC POINT E' (Acquire), paired with a writer's Release store of `epochs`.
            let epochs = shared.epochs().load(Ordering::Acquire);
            if self.current.newest == Some(epochs) {
                // No writer recorded an epoch since: the newest epoch goes on.
                self.current.end = committed;
            } else {
                self.resolve(shared, position, committed)?;
            }
        }
        Ok(self.current.widen)
    }

    /// Finds and checks the writer epoch of `position` (the slow path: once per writer epoch).
    #[cold]
    fn resolve(&mut self, shared: &Shared, position: u64, committed: u64) -> Result<(), RecvError> {
        let bad = |problem| RecvError::Epoch { position, problem };
        let covering = covering(&shared.segment, position).map_err(bad)?;
        let end = covering.next.unwrap_or(committed);
        let size = u32::try_from(size_of::<T>()).unwrap_or(u32::MAX);
        let found = covering.epoch.unwrap_or(Epoch { start: 0, version: T::VERSION, size });
        let widen =
            widens(&found, T::VERSION, size_of::<T>(), T::STEPS, shared.slot_size).map_err(bad)?;
        if widen && self.widened.is_none() {
            return Err(bad(EpochProblem::Size { version: found.version, size: found.size }));
        }
        if found.version > self.checked {
            // A writer that attached after this reader merged its steps into the message table
            // before recording its epoch: re-run the attach-time comparison (EVOLUTION §5).
            let path = Segment::path(shared.segment.name());
            let table = shared.segment.messages();
            if check_message(&table, &entry_of::<T>(), &path, shared.segment.kind()).is_err() {
                let id = T::MESSAGE_ID.unwrap_or(0);
                return Err(RecvError::VersionMismatch { position, id, version: found.version });
            }
            self.checked = found.version;
        }
        self.current = Current {
            end,
            newest: covering.next.is_none().then_some(covering.count),
            version: found.version,
            widen,
            size: found.size,
        };
        Ok(())
    }

    /// Zero-extends the message at `bytes` (the current epoch's `size` bytes of it, which the
    /// writer does not write during the copy) into the reader's buffer, and points at it. Only
    /// after [`Epochs::at`] returned `true`.
    ///
    /// # Safety
    ///
    /// `bytes` must be valid for reads of the current epoch's `size` bytes, which no one writes
    /// during the call.
    pub(crate) unsafe fn widen(&mut self, bytes: NonNull<u8>) -> NonNull<T> {
        let size = self.current.size as usize;
        // `resolve` only sets `widen` when the buffer exists.
        let Some(widened) = self.widened.as_mut() else { unreachable!("widen without a buffer") };
        let out = widened.as_mut_bytes();
        // SAFETY: the caller guarantees `size` readable, stable bytes at `bytes`; `size <
        // size_of::<T>()` (checked by `widens`) so the destination range is in bounds; they do
        // not overlap (one is in the mapping, one on the heap).
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), out.as_mut_ptr(), size) };
        out[size..].fill(0);
        NonNull::from(&mut **widened)
    }
}
