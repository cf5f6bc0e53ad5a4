//! Writer epochs of the typed channel (`docs/PROTOCOL.md` §3 "Writer epochs"): which schema
//! version and message size wrote each position, recorded per writer attachment in the header's
//! epoch table, so that peers built from different versions of a schema share one ring.

use crate::ring::EpochProblem;
use crate::segment::layout::{EPOCH_ENTRIES, EPOCH_ENTRY_SIZE, OFF_EPOCHS, OFF_EPOCH_TABLE};
use crate::segment::Segment;
use crate::sync::{fence, AtomicU64, Ordering};
use crate::VersionStep;

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
    fence(Ordering::Release);
    meta.store(pack(version, n, size), Ordering::Relaxed);
    // SYNC POINT E: pairs with the Acquire load of `start` in `read`.
    start_word.store(start, Ordering::Release);
    // SYNC POINT E': pairs with the Acquire load of `epochs` in `count` (and in `record`).
    // The writer's first Release store of `write_pos` (SYNC POINT A) comes after, so a reader
    // that sees a position committed sees its epoch.
    epochs.store(n + 1, Ordering::Release);
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
