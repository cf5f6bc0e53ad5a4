//! Byte offsets and constants of the segment header, exactly as `docs/PROTOCOL.md` section 2
//! lists them.
// The complete table is kept here; the ring layer uses the entries this module does not.
#![allow(dead_code)]

/// `magic`: the bytes `F L A T I P C 0x01`.
pub(crate) const MAGIC: [u8; 8] = *b"FLATIPC\x01";
/// `protocol_version` this build writes and accepts.
pub(crate) const PROTOCOL_VERSION: u32 = 1;
/// `state` of a segment whose creator has finished initialising it.
pub(crate) const STATE_READY: u32 = 0x5944_4552;
/// `state` while the creator initialises the segment.
pub(crate) const STATE_INITIALISING: u32 = 0;
/// `endian_marker`, written natively (reads as this value on a little-endian host).
pub(crate) const ENDIAN_MARKER: u32 = 0x0102_0304;
/// `pointer_width` in bytes.
pub(crate) const POINTER_WIDTH: u8 = 8;

pub(crate) const OFF_MAGIC: usize = 0;
pub(crate) const OFF_VERSION: usize = 8;
pub(crate) const OFF_STATE: usize = 12;
pub(crate) const OFF_ENDIAN: usize = 16;
pub(crate) const OFF_POINTER_WIDTH: usize = 20;
pub(crate) const OFF_KIND: usize = 21;
pub(crate) const OFF_SEGMENT_SIZE: usize = 24;
pub(crate) const OFF_CAPACITY: usize = 32;
pub(crate) const OFF_SLOT_SIZE: usize = 40;
pub(crate) const OFF_MESSAGE_COUNT: usize = 44;
pub(crate) const OFF_DATA_OFFSET: usize = 48;
pub(crate) const OFF_CREATOR_PID: usize = 56;
pub(crate) const OFF_CREATOR_UID: usize = 64;
/// `max_readers` of a broadcast ring (0 for the SPSC kinds).
pub(crate) const OFF_MAX_READERS: usize = 68;
pub(crate) const OFF_CREATED_NS: usize = 72;

/// Message table: [`MAX_MESSAGES`] entries of [`MESSAGE_ENTRY_SIZE`] bytes.
pub(crate) const OFF_MESSAGES: usize = 128;
pub(crate) const MESSAGE_ENTRY_SIZE: usize = 64;
pub(crate) const MAX_MESSAGES: usize = 32;
/// Within a message entry: `u64 fingerprint; u32 id; u32 size; u32 align; u8 versions[4];
/// u8 name[40]` (`docs/EVOLUTION.md` §5; `versions` was `u32 reserved`, all zero, before).
pub(crate) const MSG_FINGERPRINT: usize = 0;
pub(crate) const MSG_ID: usize = 8;
pub(crate) const MSG_SIZE: usize = 12;
pub(crate) const MSG_ALIGN: usize = 16;
pub(crate) const MSG_VERSIONS: usize = 20;
pub(crate) const MSG_NAME: usize = 24;
/// The most steps (layout changes) a message may record: `versions[4]`, `fingerprints[4]`.
pub(crate) const MAX_STEPS: usize = 4;
/// Version table: entry `i` (for message table entry `i`) is `u64 fingerprints[4]`, the layout
/// fingerprint at each step of the entry's `versions`.
pub(crate) const OFF_VERSION_TABLE: usize = 3072;
pub(crate) const VERSION_ENTRY_SIZE: usize = 32;
/// Bytes of the NUL-padded name field (names are stored truncated to `MSG_NAME_LEN - 1`).
pub(crate) const MSG_NAME_LEN: usize = 40;

/// Peer table: [`MAX_PEERS`] entries of [`PEER_ENTRY_SIZE`] bytes; peer `k`'s liveness lock
/// is on the byte at `OFF_PEERS + PEER_ENTRY_SIZE * k`.
pub(crate) const OFF_PEERS: usize = 2176;
pub(crate) const PEER_ENTRY_SIZE: usize = 64;
pub(crate) const MAX_PEERS: usize = 4;
/// Peer index of the writer.
pub(crate) const PEER_WRITER: usize = 0;
/// Peer index of the reader.
pub(crate) const PEER_READER: usize = 1;
/// Within a peer entry: `u64 pid; u64 attach_unix_ns; u32 role; u32 attached;
/// u32 schema_version; u32 message_size`.
pub(crate) const PEER_PID: usize = 0;
pub(crate) const PEER_ATTACH_NS: usize = 8;
pub(crate) const PEER_ROLE: usize = 16;
pub(crate) const PEER_ATTACHED: usize = 20;
pub(crate) const PEER_SCHEMA_VERSION: usize = 24;
pub(crate) const PEER_MESSAGE_SIZE: usize = 28;
/// Peer entry: non-zero if this peer's wait strategy may park on its futex (the other side
/// then fences and checks the parked flag after publishing; otherwise it skips both).
pub(crate) const PEER_MAY_PARK: usize = 32;

/// Typed channel epoch table (`docs/PROTOCOL.md` §3 "Writer epochs"): [`EPOCH_ENTRIES`]
/// entries `{ u64 start; u64 meta }`, `meta` = `version | seq << 16 | size << 32`; epoch `k` in
/// entry `k mod 4`.
pub(crate) const OFF_EPOCH_TABLE: usize = 2432;
pub(crate) const EPOCH_ENTRY_SIZE: usize = 16;
pub(crate) const EPOCH_ENTRIES: usize = 4;
/// `u64 epochs`: how many writer epochs were ever recorded.
pub(crate) const OFF_EPOCHS: usize = 2496;

/// Writer line: `u64 write_pos`.
pub(crate) const OFF_WRITE_POS: usize = 2560;
/// Reader line: `u64 read_pos`.
pub(crate) const OFF_READ_POS: usize = 2688;
/// Wake line: `u32 reader_parked; u32 reader_futex; u32 writer_parked; u32 writer_futex`.
pub(crate) const OFF_WAKE: usize = 2816;
pub(crate) const OFF_READER_PARKED: usize = OFF_WAKE;
pub(crate) const OFF_READER_FUTEX: usize = OFF_WAKE + 4;
pub(crate) const OFF_WRITER_PARKED: usize = OFF_WAKE + 8;
pub(crate) const OFF_WRITER_FUTEX: usize = OFF_WAKE + 12;
/// Broadcast rings: `u64` mask of sleeping readers (bit `i` for reader entry `i`); they sleep on
/// `reader_futex`, and `may_park` of peer entry 1 counts readers that may sleep.
pub(crate) const OFF_READER_PARKED_MASK: usize = OFF_WAKE + 16;

/// Reader table of a broadcast ring: at most [`MAX_READERS`] entries of [`READER_ENTRY_SIZE`]
/// bytes after the slots (`docs/PROTOCOL.md` §5). Within an entry: `u64 read_pos; u64 pid;
/// u64 attach_unix_ns; u32 state; u32 policy; u64 missed`; reader `i`'s liveness lock is on the
/// entry's first byte, and every attached reader also holds a read lock on the reader peer byte
/// (`peer_entry(PEER_READER)`), so that stale-segment detection sees live readers.
pub(crate) const MAX_READERS: u32 = 64;
pub(crate) const READER_ENTRY_SIZE: usize = 64;
pub(crate) const RD_READ_POS: usize = 0;
pub(crate) const RD_PID: usize = 8;
pub(crate) const RD_ATTACH_NS: usize = 16;
pub(crate) const RD_STATE: usize = 24;
pub(crate) const RD_POLICY: usize = 28;
pub(crate) const RD_MISSED: usize = 32;
/// Heap segments only: the entry's lock word (shared segments use the OFD lock instead).
pub(crate) const RD_HEAP_LOCK: usize = 40;
/// 1 while the entry's reader is counted in peer entry 1's `may_park` (whoever frees the entry
/// of a reader that died swaps it to 0 and, if it was 1, takes the count back).
pub(crate) const RD_PARKS: usize = 44;

/// `data_offset`: the header size; the data area starts here.
pub(crate) const DATA_OFFSET: usize = 4096;
/// Segment sizes are rounded up to this.
pub(crate) const PAGE: u64 = 4096;
/// Slot sizes of typed channels are multiples of this (one cache line).
pub(crate) const SLOT_ALIGN: u32 = 64;
/// Every stream frame starts with a frame header of this many bytes (`docs/PROTOCOL.md` §4);
/// the message follows, 16-byte aligned.
pub(crate) const FRAME_HEADER_SIZE: u64 = crate::ring::core::FRAME_HEADER;
/// The largest message alignment a stream supports (messages start 16 bytes into a frame).
pub(crate) const STREAM_MAX_ALIGN: u32 = 16;
/// The largest capacity, in slots or bytes.
pub(crate) const MAX_CAPACITY: u64 = crate::ring::core::MAX_CAPACITY;
/// The smallest stream capacity in bytes.
pub(crate) const MIN_STREAM_CAPACITY: u64 = 256;

/// The byte the creator locks (OFD) from before its file becomes visible until it drops its
/// [`Segment`](super::Segment), so that a segment being initialised is never taken as stale.
pub(crate) const OFF_CREATOR_LOCK: usize = OFF_STATE;

/// Offset of peer `role`'s entry (and of its liveness lock byte).
pub(crate) const fn peer_entry(role: usize) -> usize {
    OFF_PEERS + PEER_ENTRY_SIZE * role
}

/// Offset of version table entry `index` (the steps of message table entry `index`).
pub(crate) const fn version_entry(index: usize) -> usize {
    OFF_VERSION_TABLE + VERSION_ENTRY_SIZE * index
}

/// Offset of message table entry `index`.
pub(crate) const fn message_entry(index: usize) -> usize {
    OFF_MESSAGES + MESSAGE_ENTRY_SIZE * index
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_protocol_md() {
        assert_eq!(peer_entry(PEER_WRITER), 2176);
        assert_eq!(peer_entry(MAX_PEERS), OFF_EPOCH_TABLE);
        assert_eq!(OFF_EPOCH_TABLE + EPOCH_ENTRY_SIZE * EPOCH_ENTRIES, OFF_EPOCHS);
        assert_eq!(OFF_EPOCHS, 2496); // 2504..2560 is unlisted, hence reserved
        assert!(peer_entry(MAX_PEERS) <= OFF_WRITE_POS);
        assert_eq!(message_entry(MAX_MESSAGES), OFF_PEERS);
        assert_eq!((OFF_WRITE_POS, OFF_READ_POS, OFF_WAKE), (2560, 2688, 2816));
        assert_eq!(OFF_WRITER_FUTEX + 4, 2832);
        assert_eq!(MSG_NAME + MSG_NAME_LEN, MESSAGE_ENTRY_SIZE);
        assert_eq!((MSG_VERSIONS, MSG_VERSIONS + MAX_STEPS), (20, MSG_NAME));
        assert_eq!(version_entry(0), 3072);
        assert_eq!(version_entry(MAX_MESSAGES), DATA_OFFSET);
        assert_eq!(VERSION_ENTRY_SIZE, 8 * MAX_STEPS);
        assert_eq!(u32::from_le_bytes(*b"REDY"), STATE_READY);
    }
}
