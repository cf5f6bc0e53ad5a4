//! Read-only inspection of segments, for tools such as the `flatipc` CLI: what a segment
//! carries, where its positions are, which of its peers are alive, and copies of the messages
//! it still holds (`docs/PROTOCOL.md` §2-§6).
//!
//! Guarantees:
//!
//! - **Nothing is written, nothing is locked, nothing is joined.** An [`Inspector`] only loads
//!   from the segment (atomics); it never stores to it, never takes a creator, peer or reader
//!   lock (liveness is read with `F_OFD_GETLK`, which takes nothing) and never claims a reader
//!   entry: writers and readers cannot tell that it is there.
//! - **The header is validated exactly as [`Segment::open`] validates it**: the same file
//!   checks (regular file, owner, mode), then the same header checks in the same order with the
//!   same errors, for whatever ring kind the segment holds.
//! - **Every other value read from the segment is untrusted.** Positions, epochs, reader
//!   entries and frame headers are checked before they index anything; an impossible value is
//!   reported (in [`Inspection::problems`], or as [`Read::Corrupt`]), never followed out of
//!   bounds, and nothing here panics on it.
//! - **Copies are never torn.** [`Inspector::read`] copies a committed message with 8-byte
//!   atomic loads and returns it only if the writer cannot have been writing those bytes while
//!   they were copied (module `copy`).
//!
//! Limits: like every user of a segment, an inspector whose file is truncated by another
//! process of the same user faults (`SIGBUS`) on its next access. A typed channel's or framed
//! stream's writer writes its slots with plain stores, so read their messages from another
//! process (as the CLI does): in the writer's own process, copying a slot while the writer
//! fills it would be a data race.

mod copy;
mod files;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use crate::error::OpenError;
use crate::os;
use crate::ring::broadcast::{POLICY_LOSSY, POLICY_TETHERED, STATE_MASK};
use crate::ring::core::{check, MAX_POSITION};

use super::layout::*;
use super::spec::{MessageEntry, RingKind};
use super::{validate_name, Backing, Segment};
use files::{check_file, map_and_validate, open_file};

pub use copy::{Copied, Read};
pub use files::Removal;

/// A read-only view of a segment of any kind: see the [module documentation](self).
#[derive(Debug)]
pub struct Inspector {
    /// The mapping and its cached, validated geometry. No lock is ever taken through it: its
    /// `held` flags stay clear, so dropping it releases nothing.
    segment: Segment,
    /// Device and inode of the file when it was opened.
    file_id: (u64, u64),
}

/// Everything a segment's header, ring lines and reader table say, read at one moment (each
/// field with its own load: a live ring moves while it is read).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Inspection {
    /// The segment name.
    pub name: String,
    /// Its file, `/dev/shm/flatipc.<name>`.
    pub path: PathBuf,
    /// The ring kind.
    pub kind: RingKind,
    /// Bytes of the file.
    pub segment_size: u64,
    /// Slots (typed channel, broadcast rings) or bytes (framed stream).
    pub capacity: u64,
    /// Bytes per slot (0 for a framed stream).
    pub slot_size: u32,
    /// Reader entries of a broadcast ring (0 for the SPSC kinds).
    pub max_readers: u32,
    /// The pid of the process that created the segment (informational).
    pub creator_pid: u64,
    /// The effective uid of the creator (informational).
    pub creator_uid: u32,
    /// When the segment was created, in nanoseconds since the Unix epoch (informational).
    pub created_unix_ns: u64,
    /// Whether a process holds the creator lock (the creator is still attached).
    pub creator_alive: bool,
    /// The message table, with each message's steps (`MessageEntry::steps`).
    pub messages: Vec<MessageEntry>,
    /// Units committed: messages (typed kinds, broadcast stream) or bytes (framed stream).
    pub write_pos: u64,
    /// Units released by the reader of an SPSC ring; `None` for broadcast rings (each reader
    /// has its own, in [`Inspection::readers`]).
    pub read_pos: Option<u64>,
    /// The writer's and the reader's peer entries (entry 1 of a broadcast ring stands for all
    /// its readers: alive while any reader is attached).
    pub peers: Vec<PeerInfo>,
    /// Broadcast reader entries that are claimed, active, held or were ever used.
    pub readers: Vec<ReaderInfo>,
    /// Writer epochs still recorded (typed rings: typed channel and typed broadcast), oldest
    /// first.
    pub epochs: Vec<EpochInfo>,
    /// Writer epochs ever recorded (typed rings).
    pub epochs_recorded: u64,
    /// The wake line: parked flags.
    pub wake: WakeInfo,
    /// Impossible values found in the ring lines or the reader table (the header itself was
    /// validated): each says what was found.
    pub problems: Vec<String>,
}

impl Inspection {
    /// Units committed but not yet released by the reader of an SPSC ring (`None` for broadcast
    /// rings, and for positions that break the ring invariant).
    pub fn lag(&self) -> Option<u64> {
        self.write_pos.checked_sub(self.read_pos?)
    }

    /// Whether any process still holds a lock of the segment: its creator, its writer, or a
    /// reader.
    pub fn any_alive(&self) -> bool {
        self.creator_alive
            || self.peers.iter().any(|p| p.alive)
            || self.readers.iter().any(|r| r.alive)
    }
}

/// The role of a peer entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PeerRole {
    /// Peer entry 0.
    Writer,
    /// Peer entry 1.
    Reader,
}

impl PeerRole {
    /// `"writer"` or `"reader"`.
    pub fn name(self) -> &'static str {
        match self {
            PeerRole::Writer => "writer",
            PeerRole::Reader => "reader",
        }
    }
}

/// One peer entry (`docs/PROTOCOL.md` §2 "Peers and liveness").
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeerInfo {
    /// Which entry.
    pub role: PeerRole,
    /// The pid the last peer in this role recorded (0 if none ever attached; informational:
    /// pids are reused, `alive` is what counts).
    pub pid: u64,
    /// When it attached, in nanoseconds since the Unix epoch.
    pub attach_unix_ns: u64,
    /// Its `attached` flag (cleared by a clean detach; a crashed peer leaves it set).
    pub attached: bool,
    /// Whether a process holds the role's liveness lock now.
    pub alive: bool,
    /// Its `may_park` word (for a broadcast ring's entry 1: readers that may sleep).
    pub may_park: u32,
}

/// The state of a broadcast reader entry (`docs/PROTOCOL.md` §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReaderState {
    /// Free.
    Free,
    /// Claimed by a reader that is joining.
    Claimed,
    /// Attached and reading.
    Active,
    /// Any other low byte: corrupt.
    Invalid(u8),
}

/// The policy of a broadcast reader entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReaderPolicy {
    /// Holds the writer back; reads in place.
    Tethered,
    /// Never holds the writer back; copies and may miss messages.
    Lossy,
    /// 0 (never set) or an impossible value.
    Unknown(u32),
}

/// One broadcast reader entry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReaderInfo {
    /// The entry's index (0..max_readers).
    pub index: u32,
    /// The pid of the last reader that claimed it (informational).
    pub pid: u64,
    /// When that reader attached, in nanoseconds since the Unix epoch.
    pub attach_unix_ns: u64,
    /// Messages that reader has released.
    pub read_pos: u64,
    /// The entry's state.
    pub state: ReaderState,
    /// The generation in `state`'s upper 24 bits (incremented by each claim).
    pub generation: u32,
    /// Tethered or lossy.
    pub policy: ReaderPolicy,
    /// Messages the reader missed so far (its own running total).
    pub missed: u64,
    /// Whether a process holds the entry's liveness lock now.
    pub alive: bool,
}

/// One writer epoch of a typed ring (`docs/PROTOCOL.md` §3 "Writer epochs", §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EpochInfo {
    /// The epoch number `k` (it lives in table entry `k mod 4`).
    pub number: u64,
    /// Its first position.
    pub start: u64,
    /// The writer's schema version.
    pub version: u16,
    /// The writer's message size in bytes.
    pub size: u32,
}

/// The parked flags of the wake line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct WakeInfo {
    /// `reader_parked` (SPSC kinds).
    pub reader_parked: u32,
    /// `writer_parked`.
    pub writer_parked: u32,
    /// `readers_parked`: the mask of sleeping broadcast readers.
    pub readers_parked: u64,
}

impl Segment {
    /// Reads everything segment `name` says about itself, without attaching to it: see
    /// [`Inspector`].
    ///
    /// # Errors
    ///
    /// Those of [`Inspector::open`].
    pub fn inspect(name: &str) -> Result<Inspection, OpenError> {
        Ok(Inspector::open(name)?.snapshot())
    }
}

impl Inspector {
    /// Opens segment `name` read-only in effect: checks the file as [`Segment::open`] does,
    /// maps it and validates every header field, whatever its ring kind. The mapping is
    /// read-write because the segment's atomics require writable memory, but nothing is ever
    /// stored through it.
    ///
    /// # Errors
    ///
    /// Those of [`Segment::open`] except the type checks: [`OpenError::InvalidName`],
    /// [`OpenError::NotFound`], [`OpenError::Insecure`], [`OpenError::NotReady`],
    /// [`OpenError::BadHeader`] (a foreign file has a bad `magic`),
    /// [`OpenError::UnsupportedVersion`], [`OpenError::Io`]; [`OpenError::WrongKind`] only if
    /// the `kind` byte changes while it is validated.
    pub fn open(name: &str) -> Result<Inspector, OpenError> {
        validate_name(name)?;
        let path = Segment::path(name);
        let file = open_file(&path)?;
        let meta = check_file(&file, &path)?;
        let (map, mem, geometry) = map_and_validate(&file, &path, &meta)?;
        let segment = Segment {
            mem,
            backing: Backing::Shared { _map: map, file, path },
            name: name.to_owned(),
            geometry,
            held: Default::default(),
            readers_held: Default::default(),
        };
        Ok(Inspector { segment, file_id: (meta.dev(), meta.ino()) })
    }

    /// The segment name.
    pub fn name(&self) -> &str {
        self.segment.name()
    }

    /// The ring kind (validated).
    pub fn kind(&self) -> RingKind {
        self.segment.kind()
    }

    /// Slots or bytes of the ring (validated).
    pub fn capacity(&self) -> u64 {
        self.segment.capacity()
    }

    /// Bytes per slot, 0 for a framed stream (validated).
    pub fn slot_size(&self) -> u32 {
        self.segment.slot_size()
    }

    /// The message table as it is now.
    pub fn messages(&self) -> Vec<MessageEntry> {
        self.segment.messages()
    }

    /// Whether the segment's name still refers to the file this inspector mapped (false once it
    /// was removed, or removed and created again).
    pub fn still_linked(&self) -> bool {
        fs::symlink_metadata(self.segment.path_buf())
            .is_ok_and(|now| (now.dev(), now.ino()) == self.file_id)
    }

    /// `write_pos`, with Acquire (SYNC POINT A: everything committed below it is visible).
    pub fn write_pos(&self) -> u64 {
        self.segment.mem.atomic_u64(OFF_WRITE_POS).load(Ordering::Acquire)
    }

    /// `read_pos` of an SPSC ring, with Acquire; `None` for broadcast rings (each reader has
    /// its own, [`Inspection::readers`]).
    pub fn read_pos(&self) -> Option<u64> {
        (!self.kind().is_broadcast()).then(|| self.spsc_read_pos())
    }

    /// `read_pos` of an SPSC ring (meaningless for broadcast rings).
    fn spsc_read_pos(&self) -> u64 {
        self.segment.mem.atomic_u64(OFF_READ_POS).load(Ordering::Acquire)
    }

    /// `(write_pos, read_pos, consistent)` of an SPSC ring. `read_pos` is loaded between two
    /// loads of `write_pos` (retried a few times until they agree): then `consistent` is true
    /// and the pair keeps the ring invariant for honest peers. Otherwise (both sides kept
    /// moving) the pair only has `read_pos ≤ write_pos`, `read_pos` being loaded first.
    fn spsc_positions(&self) -> (u64, u64, bool) {
        let mut write_pos = self.write_pos();
        for _ in 0..8 {
            let read_pos = self.spsc_read_pos();
            let again = self.write_pos();
            if again == write_pos {
                return (write_pos, read_pos, true);
            }
            write_pos = again;
        }
        let read_pos = self.spsc_read_pos();
        (self.write_pos(), read_pos, false)
    }

    /// Reads the header, the ring lines, the peer table and the reader table now.
    pub fn snapshot(&self) -> Inspection {
        let seg = &self.segment;
        let mem = &seg.mem;
        let kind = seg.kind();
        let mut problems = Vec::new();
        let (write_pos, read_pos) = if kind.is_broadcast() {
            let write_pos = self.write_pos();
            if write_pos >= MAX_POSITION {
                problems.push(format!("write_pos {write_pos} is not below 2^62"));
            }
            (write_pos, None)
        } else {
            let (write_pos, read_pos, consistent) = self.spsc_positions();
            // A pair read while both sides move only has `read_pos ≤ write_pos` for sure.
            let broken = if consistent {
                check(read_pos, write_pos, seg.capacity()).is_err()
            } else {
                read_pos > write_pos || write_pos >= MAX_POSITION
            };
            if broken {
                problems.push(format!(
                    "positions break read_pos ≤ write_pos ≤ read_pos + capacity < 2^62: \
                     read_pos {read_pos}, write_pos {write_pos}, capacity {}",
                    seg.capacity()
                ));
            }
            if kind == RingKind::FramedStream && (read_pos % 16 != 0 || write_pos % 16 != 0) {
                problems.push(format!(
                    "stream positions are not multiples of 16: read_pos {read_pos}, \
                     write_pos {write_pos}"
                ));
            }
            (write_pos, Some(read_pos))
        };
        let creator_alive = self.locked(OFF_CREATOR_LOCK);
        let peers = [PeerRole::Writer, PeerRole::Reader]
            .into_iter()
            .map(|role| {
                let index = match role {
                    PeerRole::Writer => PEER_WRITER,
                    PeerRole::Reader => PEER_READER,
                };
                let entry = peer_entry(index);
                PeerInfo {
                    role,
                    pid: mem.load_u64(entry + PEER_PID),
                    attach_unix_ns: mem.load_u64(entry + PEER_ATTACH_NS),
                    attached: mem.atomic_u32(entry + PEER_ATTACHED).load(Ordering::Acquire) != 0,
                    alive: seg.peer_alive(index),
                    may_park: mem.load_u32(entry + PEER_MAY_PARK),
                }
            })
            .collect();
        let readers: Vec<ReaderInfo> =
            (0..seg.max_readers()).filter_map(|i| self.reader(i)).collect();
        for r in &readers {
            if r.read_pos > write_pos && r.state == ReaderState::Active {
                problems.push(format!(
                    "reader {} is at {} but write_pos is {write_pos}",
                    r.index, r.read_pos
                ));
            }
            if let ReaderState::Invalid(byte) = r.state {
                problems.push(format!("reader {} has an impossible state {byte}", r.index));
            }
        }
        let (epochs, epochs_recorded) = if !kind.is_framed() {
            let recorded = mem.atomic_u64(OFF_EPOCHS).load(Ordering::Acquire);
            let oldest = recorded.saturating_sub(EPOCH_ENTRIES as u64);
            ((oldest..recorded).filter_map(|k| self.epoch(k)).collect(), recorded)
        } else {
            (Vec::new(), 0)
        };
        Inspection {
            name: seg.name().to_owned(),
            path: seg.path_buf(),
            kind,
            segment_size: mem.load_u64(OFF_SEGMENT_SIZE),
            capacity: seg.capacity(),
            slot_size: seg.slot_size(),
            max_readers: seg.max_readers(),
            creator_pid: mem.load_u64(OFF_CREATOR_PID),
            creator_uid: mem.load_u32(OFF_CREATOR_UID),
            created_unix_ns: mem.load_u64(OFF_CREATED_NS),
            creator_alive,
            messages: seg.messages(),
            write_pos,
            read_pos,
            peers,
            readers,
            epochs,
            epochs_recorded,
            wake: WakeInfo {
                reader_parked: mem.load_u32(OFF_READER_PARKED),
                writer_parked: mem.load_u32(OFF_WRITER_PARKED),
                readers_parked: if kind.is_broadcast() {
                    mem.load_u64(OFF_READER_PARKED_MASK)
                } else {
                    0
                },
            },
            problems,
        }
    }

    /// Whether another open file description holds a lock on the segment byte at `offset`
    /// (`F_OFD_GETLK`; an error counts as alive, so nothing live is ever reported dead).
    fn locked(&self, offset: usize) -> bool {
        match &self.segment.backing {
            Backing::Shared { file, .. } => os::ofd_is_locked(file, offset as u64).unwrap_or(true),
            Backing::Heap { .. } => false,
        }
    }

    /// Broadcast reader entry `index`, unless it is free, unheld and was never used.
    fn reader(&self, index: u32) -> Option<ReaderInfo> {
        let mem = &self.segment.mem;
        let entry = self.segment.reader_entry(index);
        let state = mem.atomic_u32(entry + RD_STATE).load(Ordering::Acquire);
        let pid = mem.load_u64(entry + RD_PID);
        let alive = self.segment.reader_alive(index);
        // The low byte is the state (the mask keeps it in a `u8`).
        #[allow(clippy::cast_possible_truncation)]
        let state_byte = (state & STATE_MASK) as u8;
        let reader_state = match u32::from(state_byte) {
            0 => ReaderState::Free,
            1 => ReaderState::Claimed,
            2 => ReaderState::Active,
            _ => ReaderState::Invalid(state_byte),
        };
        if reader_state == ReaderState::Free && !alive && pid == 0 {
            return None;
        }
        let policy = match mem.load_u32(entry + RD_POLICY) {
            POLICY_TETHERED => ReaderPolicy::Tethered,
            POLICY_LOSSY => ReaderPolicy::Lossy,
            other => ReaderPolicy::Unknown(other),
        };
        Some(ReaderInfo {
            index,
            pid,
            attach_unix_ns: mem.load_u64(entry + RD_ATTACH_NS),
            read_pos: mem.atomic_u64(entry + RD_READ_POS).load(Ordering::Acquire),
            state: reader_state,
            generation: state >> 8,
            policy,
            missed: mem.load_u64(entry + RD_MISSED),
            alive,
        })
    }

    /// Epoch `k` as table entry `k mod 4` holds it, read as a seqlock (`docs/PROTOCOL.md` §3):
    /// `None` if the entry is being rewritten or holds another epoch.
    fn epoch(&self, k: u64) -> Option<EpochInfo> {
        // `k % 4 < 4`: the entry lies in the header's epoch table.
        let index = usize::try_from(k % EPOCH_ENTRIES as u64).unwrap_or(0);
        let entry = OFF_EPOCH_TABLE + EPOCH_ENTRY_SIZE * index;
        let mem = &self.segment.mem;
        // SYNC POINT E (Acquire): pairs with the writer's Release store of `start`.
        let start = mem.atomic_u64(entry).load(Ordering::Acquire);
        let meta = mem.load_u64(entry + 8);
        std::sync::atomic::fence(Ordering::Acquire);
        if start == u64::MAX || mem.load_u64(entry) != start || (meta >> 16) & 0xFFFF != k & 0xFFFF
        {
            return None;
        }
        // Truncations on purpose: the fields are packed in these widths.
        #[allow(clippy::cast_possible_truncation)]
        Some(EpochInfo { number: k, start, version: meta as u16, size: (meta >> 32) as u32 })
    }
}
