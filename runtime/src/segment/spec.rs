//! What creators ask for and openers require: [`RingKind`], [`MessageEntry`], [`SegmentSpec`]
//! and [`Expect`].

use crate::error::OpenError;

use super::layout::*;

/// The kind of ring a segment carries (header field `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RingKind {
    /// A typed SPSC channel: `capacity` slots of `slot_size` bytes, one message type.
    TypedChannel = 1,
    /// A framed SPSC byte stream of `capacity` bytes carrying up to 32 message types.
    FramedStream = 2,
    /// A typed broadcast ring: `capacity` slots of `slot_size` bytes and a sequence word per
    /// slot, one writer, up to `max_readers` readers (`docs/PROTOCOL.md` §5).
    Broadcast = 3,
    /// A broadcast stream: a broadcast ring whose slots each hold one frame (a stream frame
    /// header and a message of any of up to 32 types), `docs/PROTOCOL.md` §6.
    BroadcastStream = 4,
}

impl RingKind {
    /// The kind whose header byte is `byte`, if this build knows it.
    pub(super) fn from_byte(byte: u8) -> Option<RingKind> {
        match byte {
            1 => Some(RingKind::TypedChannel),
            2 => Some(RingKind::FramedStream),
            3 => Some(RingKind::Broadcast),
            4 => Some(RingKind::BroadcastStream),
            _ => None,
        }
    }

    /// Whether the data area is `capacity` slots of `slot_size` bytes (every kind but the
    /// framed stream).
    pub(crate) fn has_slots(self) -> bool {
        !matches!(self, RingKind::FramedStream)
    }

    /// Whether messages travel in frames (a stream frame header before each message), so that
    /// the ring carries up to 32 message types and readers skip ids they do not know.
    pub(crate) fn is_framed(self) -> bool {
        matches!(self, RingKind::FramedStream | RingKind::BroadcastStream)
    }

    /// Whether the ring has a reader table (one writer, many readers).
    pub(crate) fn is_broadcast(self) -> bool {
        matches!(self, RingKind::Broadcast | RingKind::BroadcastStream)
    }
}

/// One entry of a segment's message table: the identity of a message type it carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageEntry {
    /// Layout fingerprint of the type ([`crate::FlatType::FINGERPRINT`]).
    pub fingerprint: u64,
    /// Message id ([`crate::FlatMessage::MESSAGE_ID`]).
    pub id: u32,
    /// `size_of` the type in bytes.
    pub size: u32,
    /// `align_of` the type in bytes.
    pub align: u32,
    /// The type's name, for error messages; stored truncated to 39 bytes.
    pub name: String,
    /// The versions at which the type's layout changed ([`crate::FlatMessage::STEPS`]),
    /// ascending, 0 for unused. All zero — an entry written by a build without versions — means
    /// one step at version 1 whose fingerprint is [`MessageEntry::fingerprint`]
    /// (`docs/EVOLUTION.md` §5).
    pub versions: [u8; MAX_STEPS],
    /// The layout fingerprint at each step of `versions` (0 for unused); the last used one is
    /// [`MessageEntry::fingerprint`].
    pub fingerprints: [u64; MAX_STEPS],
}

/// A type's steps as a message table entry records them: `(versions, fingerprints)`, or `None`
/// if it has more than [`MAX_STEPS`] or a version above 255 (the derive and the compiler refuse
/// both).
pub(crate) fn table_steps(
    steps: &[crate::VersionStep],
) -> Option<([u8; MAX_STEPS], [u64; MAX_STEPS])> {
    if steps.len() > MAX_STEPS {
        return None;
    }
    let (mut versions, mut fingerprints) = ([0; MAX_STEPS], [0; MAX_STEPS]);
    for (i, step) in steps.iter().enumerate() {
        versions[i] = u8::try_from(step.version).ok()?;
        fingerprints[i] = step.fingerprint;
    }
    Some((versions, fingerprints))
}

impl MessageEntry {
    /// The entry describing the message type `T`, or `None` if `T` has no message id (a nested
    /// struct) or is larger than `u32::MAX` bytes.
    pub fn of<T: crate::FlatMessage>() -> Option<MessageEntry> {
        let (versions, fingerprints) = table_steps(T::STEPS)?;
        Some(MessageEntry {
            fingerprint: T::FINGERPRINT,
            id: T::MESSAGE_ID?,
            size: u32::try_from(size_of::<T>()).ok()?,
            align: u32::try_from(align_of::<T>()).ok()?,
            name: T::NAME.to_owned(),
            versions,
            fingerprints,
        })
    }

    /// The entry's steps as `(version, fingerprint)`, oldest first: one step `(1, fingerprint)`
    /// when `versions` is all zero.
    pub fn steps(&self) -> Vec<(u16, u64)> {
        let steps: Vec<(u16, u64)> = self
            .versions
            .iter()
            .zip(self.fingerprints)
            .take_while(|(v, _)| **v != 0)
            .map(|(v, f)| (u16::from(*v), f))
            .collect();
        if steps.is_empty() {
            vec![(1, self.fingerprint)]
        } else {
            steps
        }
    }

    /// The newest version the entry records (1 for an entry without versions).
    pub fn newest_version(&self) -> u16 {
        self.steps().last().map_or(1, |s| s.0)
    }

    /// The entry's steps as a peer whose type is `mine` reads them. An entry without versions
    /// was written by a build that does not record steps (an older Rust runtime, or the C
    /// runtime) from a schema at *some* version: its `fingerprint` is that version's layout. If
    /// it is one of `mine`'s steps, the entry is `mine`'s history up to that step; otherwise it
    /// is one step at version 1 (`docs/EVOLUTION.md` §5).
    pub fn steps_for(&self, mine: &MessageEntry) -> Vec<(u16, u64)> {
        if self.versions != [0; MAX_STEPS] {
            return self.steps();
        }
        let mut known = mine.steps();
        match known.iter().position(|s| s.1 == self.fingerprint) {
            Some(k) => {
                known.truncate(k + 1);
                known
            }
            None => vec![(1, self.fingerprint)],
        }
    }
}

/// The table entry of a typed ring's message type `T` (id 0 when `T` has no message id).
pub(crate) fn entry_of<T: crate::FlatMessage>() -> MessageEntry {
    let (versions, fingerprints) = table_steps(T::STEPS).unwrap_or_default();
    MessageEntry {
        versions,
        fingerprints,
        fingerprint: T::FINGERPRINT,
        id: T::MESSAGE_ID.unwrap_or(0),
        size: u32::try_from(size_of::<T>()).unwrap_or(u32::MAX),
        align: u32::try_from(align_of::<T>()).unwrap_or(u32::MAX),
        name: T::NAME.to_owned(),
    }
}

/// What a creator asks for: the ring kind, its geometry and the message types it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentSpec {
    /// The ring kind.
    pub kind: RingKind,
    /// Slots (typed channel) or bytes (framed stream); a power of two ≥ 2.
    pub capacity: u64,
    /// Bytes per slot for a typed channel: a multiple of 64 at least as large as the message;
    /// 0 for a framed stream.
    pub slot_size: u32,
    /// The message types: exactly one for a typed channel or a broadcast ring, 1 to 32 for a
    /// framed stream.
    pub messages: Vec<MessageEntry>,
    /// Reader entries of a broadcast ring (1 to 64); 0 for the SPSC kinds.
    pub max_readers: u32,
}

impl SegmentSpec {
    /// A typed channel of `capacity` slots carrying `message`, with the smallest valid slot size
    /// (the message size rounded up to a multiple of 64, at least 64).
    pub fn typed_channel(capacity: u64, message: MessageEntry) -> SegmentSpec {
        let slot_size = min_slot_size(message.size);
        let messages = vec![message];
        SegmentSpec { kind: RingKind::TypedChannel, capacity, slot_size, messages, max_readers: 0 }
    }

    /// A broadcast ring of `capacity` slots carrying `message` for up to `max_readers` readers,
    /// with the smallest valid slot size (as for a typed channel).
    pub fn broadcast(capacity: u64, max_readers: u32, message: MessageEntry) -> SegmentSpec {
        let slot_size = min_slot_size(message.size);
        let messages = vec![message];
        SegmentSpec { kind: RingKind::Broadcast, capacity, slot_size, messages, max_readers }
    }

    /// A broadcast stream of `capacity` slots carrying `messages` for up to `max_readers`
    /// readers, with the smallest slot that holds a frame of the largest of them (16 header
    /// bytes plus the message, rounded up to a multiple of 64).
    pub fn broadcast_stream(
        capacity: u64,
        max_readers: u32,
        messages: Vec<MessageEntry>,
    ) -> SegmentSpec {
        let largest = messages.iter().map(|m| m.size).max().unwrap_or(0);
        let slot_size = slot_size_for(RingKind::BroadcastStream, largest);
        SegmentSpec { kind: RingKind::BroadcastStream, capacity, slot_size, messages, max_readers }
    }

    /// Bytes of the data area: `capacity × slot_size` for a typed channel, `capacity` for a
    /// stream (saturating at `u64::MAX` for specs that [`SegmentSpec::validate`] rejects).
    pub fn data_size(&self) -> u64 {
        data_size(self.kind, self.capacity, self.slot_size, self.max_readers).unwrap_or(u64::MAX)
    }

    /// Bytes of the whole segment file: the 4096-byte header plus [`SegmentSpec::data_size`],
    /// rounded up to a multiple of 4096 (saturating at `u64::MAX` for invalid specs).
    pub fn segment_size(&self) -> u64 {
        segment_size(self.data_size()).unwrap_or(u64::MAX)
    }

    /// Checks the rules of `docs/PROTOCOL.md` for the header this spec produces.
    ///
    /// # Errors
    ///
    /// [`OpenError::InvalidSpec`] saying which rule is broken.
    pub fn validate(&self) -> Result<(), OpenError> {
        let invalid = |reason: String| Err(OpenError::InvalidSpec { reason });
        if self.capacity < 2 || !self.capacity.is_power_of_two() {
            return invalid(format!(
                "capacity {} is not a power of two ≥ 2; round it up to the next power of two",
                self.capacity
            ));
        }
        if self.capacity > MAX_CAPACITY {
            return invalid(format!(
                "capacity {} exceeds the maximum 2^30 (slots or bytes)",
                self.capacity
            ));
        }
        if self.kind == RingKind::FramedStream && self.capacity < MIN_STREAM_CAPACITY {
            return invalid(format!(
                "a framed stream needs a capacity of at least {MIN_STREAM_CAPACITY} bytes, not {}",
                self.capacity
            ));
        }
        if self.kind.has_slots() {
            if self.slot_size == 0 || self.slot_size % SLOT_ALIGN != 0 {
                return invalid(format!(
                    "slot_size {} of a {:?} ring is not a non-zero multiple of 64",
                    self.slot_size, self.kind
                ));
            }
        } else if self.slot_size != 0 {
            return invalid(format!("slot_size {} of a framed stream must be 0", self.slot_size));
        }
        if let Err(expected) = message_count_ok(self.kind, self.messages.len()) {
            return invalid(format!(
                "a {:?} ring carries {expected} message types, not {}",
                self.kind,
                self.messages.len()
            ));
        }
        if let Err(expected) = readers_ok(self.kind, self.max_readers) {
            return invalid(format!("max_readers is {}, expected {expected}", self.max_readers));
        }
        for m in &self.messages {
            let need = slot_size_for(self.kind, m.size);
            if self.kind.has_slots() && need > self.slot_size {
                return invalid(format!(
                    "message `{}` of {} bytes does not fit in slot_size {}; raise slot_size to {}",
                    m.name, m.size, self.slot_size, need
                ));
            }
            if self.kind == RingKind::FramedStream && frame_fits(m.size, self.capacity).is_err() {
                return invalid(format!(
                    "message `{}` of {} bytes does not fit in a stream of {} bytes (a frame is at \
                     most half the capacity); use a capacity of at least {}",
                    m.name,
                    m.size,
                    self.capacity,
                    stream_capacity_for(u64::from(m.size))
                ));
            }
            if !m.align.is_power_of_two() || m.align > max_align(self.kind) {
                return invalid(format!(
                    "message `{}` has alignment {}; this ring needs a power of two ≤ {}",
                    m.name,
                    m.align,
                    max_align(self.kind)
                ));
            }
        }
        let size = data_size(self.kind, self.capacity, self.slot_size, self.max_readers)
            .and_then(segment_size);
        match size {
            Some(size) if usize::try_from(size).is_ok_and(|s| s <= isize::MAX as usize) => Ok(()),
            _ => invalid(format!(
                "capacity {} × slot_size {} overflows the address space; use a smaller capacity",
                self.capacity, self.slot_size
            )),
        }
    }
}

/// The largest message alignment of a ring kind: typed and broadcast slots are 64-byte aligned,
/// stream messages start 16 bytes into a 16-aligned frame.
pub(crate) fn max_align(kind: RingKind) -> u32 {
    if kind.is_framed() {
        STREAM_MAX_ALIGN
    } else {
        SLOT_ALIGN
    }
}

/// Whether `count` message types suit `kind`: exactly 1 for a typed ring, 1 to 32 for a framed
/// one; `Err` says what was expected.
pub(crate) fn message_count_ok(kind: RingKind, count: usize) -> Result<(), String> {
    match kind.is_framed() {
        false if count == 1 => Ok(()),
        false => Err("exactly 1".to_owned()),
        true if (1..=MAX_MESSAGES).contains(&count) => Ok(()),
        true => Err(format!("1 to {MAX_MESSAGES}")),
    }
}

/// The smallest slot of a ring of `kind` that holds a `size`-byte message: the message (typed
/// kinds) or its frame (a broadcast stream: 16 header bytes plus the message), rounded up to a
/// multiple of 64. Meaningless for a framed stream, which has no slots.
#[allow(clippy::cast_possible_truncation)] // FRAME_HEADER_SIZE is 16
pub(crate) fn slot_size_for(kind: RingKind, size: u32) -> u32 {
    match kind {
        RingKind::BroadcastStream => min_slot_size(size.saturating_add(FRAME_HEADER_SIZE as u32)),
        _ => min_slot_size(size),
    }
}

/// Whether `max_readers` suits `kind`: 1 to 64 for a broadcast ring, 0 otherwise; `Err` says
/// what was expected.
pub(crate) fn readers_ok(kind: RingKind, max_readers: u32) -> Result<(), &'static str> {
    match kind {
        _ if kind.is_broadcast() && (1..=MAX_READERS).contains(&max_readers) => Ok(()),
        _ if kind.is_broadcast() => Err("1..=64 for a broadcast ring"),
        _ if max_readers == 0 => Ok(()),
        _ => Err("0 for an SPSC ring"),
    }
}

/// The smallest typed-channel slot for a `size`-byte message: a multiple of 64, at least 64.
pub(crate) fn min_slot_size(size: u32) -> u32 {
    u64::from(size.max(1))
        .div_ceil(u64::from(SLOT_ALIGN))
        .saturating_mul(u64::from(SLOT_ALIGN))
        .try_into()
        .unwrap_or(u32::MAX)
}

/// Whether a `size`-byte message fits in a stream of `capacity` bytes: its frame (16-byte header
/// plus the message, rounded up to 16) is at most half the capacity. `Err` holds the largest
/// message size that fits.
pub(crate) fn frame_fits(size: u32, capacity: u64) -> Result<(), u64> {
    let frame = crate::ring::core::frame_len(u64::from(size));
    let max = (capacity / 2).saturating_sub(FRAME_HEADER_SIZE);
    if frame <= capacity / 2 {
        Ok(())
    } else {
        Err(max)
    }
}

/// The smallest stream capacity (a power of two) whose frames hold a `size`-byte message.
pub(crate) fn stream_capacity_for(size: u64) -> u64 {
    (crate::ring::core::frame_len(size) * 2).next_power_of_two().max(MIN_STREAM_CAPACITY)
}

/// `capacity × slot_size` (typed), `capacity` (stream), or for a broadcast ring the slots and
/// their sequence words rounded up to a page, plus the reader table (`max_readers × 64`);
/// `None` on overflow.
pub(super) fn data_size(
    kind: RingKind,
    capacity: u64,
    slot_size: u32,
    max_readers: u32,
) -> Option<u64> {
    match kind {
        RingKind::TypedChannel => capacity.checked_mul(u64::from(slot_size)),
        RingKind::FramedStream => Some(capacity),
        RingKind::Broadcast | RingKind::BroadcastStream => {
            reader_table_offset(capacity, slot_size)?
                .checked_add(u64::from(max_readers) * READER_ENTRY_SIZE as u64)
        }
    }
}

/// Offset of a broadcast ring's reader table in the data area: the slots, then one 8-byte
/// sequence word per slot, rounded up to a page.
pub(super) fn reader_table_offset(capacity: u64, slot_size: u32) -> Option<u64> {
    capacity
        .checked_mul(u64::from(slot_size))?
        .checked_add(capacity.checked_mul(8)?)?
        .checked_next_multiple_of(PAGE)
}

/// Header plus `data_size`, rounded up to a page; `None` on overflow.
fn segment_size(data_size: u64) -> Option<u64> {
    data_size.checked_add(DATA_OFFSET as u64)?.checked_next_multiple_of(PAGE)
}

/// What an opener requires of an existing segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    /// The ring kind the opener speaks.
    pub kind: RingKind,
    /// The opener's message types, each compared (fingerprint, size, align) with the segment's
    /// entry of the same id. A typed channel's one type must be in the segment; a stream's
    /// types need only agree where both sides know the id (readers skip unknown ids). Empty for
    /// tools that only inspect.
    pub messages: Vec<MessageEntry>,
}
