//! The header: written by the creator, validated field by field by every opener.

use std::path::Path;
use std::sync::atomic::Ordering;

use crate::error::OpenError;
use crate::os;

use super::layout::*;
use super::memory::Memory;
use super::spec::{
    data_size, frame_fits, max_align, message_count_ok, readers_ok, slot_size_for, Expect,
    MessageEntry, RingKind, SegmentSpec,
};
use super::{unix_ns, Geometry};

impl Memory {
    /// Writes the header of a new segment with `state = 0`: identity, geometry, creator and
    /// message table. The peer table and ring lines stay zero (the memory is zeroed).
    pub(super) fn write_header(&self, spec: &SegmentSpec, segment_size: u64) {
        self.store_u64(OFF_MAGIC, u64::from_ne_bytes(MAGIC));
        self.store_u32(OFF_VERSION, PROTOCOL_VERSION);
        self.store_u32(OFF_STATE, STATE_INITIALISING);
        self.store_u32(OFF_ENDIAN, ENDIAN_MARKER);
        self.store_u8(OFF_POINTER_WIDTH, POINTER_WIDTH);
        self.store_u8(OFF_KIND, spec.kind as u8);
        self.store_u64(OFF_SEGMENT_SIZE, segment_size);
        self.store_u64(OFF_CAPACITY, spec.capacity);
        self.store_u32(OFF_SLOT_SIZE, spec.slot_size);
        // `validate` bounds the message count by 32.
        self.store_u32(OFF_MESSAGE_COUNT, u32::try_from(spec.messages.len()).unwrap_or(0));
        self.store_u64(OFF_DATA_OFFSET, DATA_OFFSET as u64);
        self.store_u64(OFF_CREATOR_PID, u64::from(std::process::id()));
        self.store_u32(OFF_CREATOR_UID, os::effective_uid());
        self.store_u32(OFF_MAX_READERS, spec.max_readers);
        self.store_u64(OFF_CREATED_NS, unix_ns());
        for (index, m) in spec.messages.iter().enumerate() {
            let entry = message_entry(index);
            self.store_u64(entry + MSG_FINGERPRINT, m.fingerprint);
            self.store_u32(entry + MSG_ID, m.id);
            self.store_u32(entry + MSG_SIZE, m.size);
            self.store_u32(entry + MSG_ALIGN, m.align);
            for (i, byte) in truncated_name(&m.name).bytes().enumerate() {
                self.store_u8(entry + MSG_NAME + i, byte);
            }
            self.write_steps(index, m);
        }
    }

    /// Writes the `versions` of message table entry `index` and its version table entry.
    fn write_steps(&self, index: usize, m: &MessageEntry) {
        let (entry, table) = (message_entry(index), version_entry(index));
        for i in 0..MAX_STEPS {
            self.store_u8(entry + MSG_VERSIONS + i, m.versions[i]);
            self.store_u64(table + 8 * i, m.fingerprints[i]);
        }
    }

    /// Merges the steps of `mine` (a writer's type, the same id as message table entry `index`,
    /// whose shared steps agree with the entry's: it passed [`check_message`]) into the entry:
    /// appends the versions the entry lacks, and makes `size` and `fingerprint` those of the
    /// newest step (`docs/EVOLUTION.md` §5). `Err` says why it cannot; nothing is written then.
    pub(super) fn merge_steps(
        &self,
        index: usize,
        mine: &MessageEntry,
        fits: impl Fn(u32) -> Result<(), String>,
    ) -> Result<(), String> {
        let have = self.read_message(index);
        let theirs = have.steps_for(mine);
        let newest = theirs.last().map_or(1, |s| s.0);
        if mine.newest_version() <= newest {
            return Ok(());
        }
        let steps: Vec<(u16, u64)> =
            theirs.into_iter().chain(mine.steps().into_iter().filter(|s| s.0 > newest)).collect();
        if steps.len() > MAX_STEPS {
            let versions: Vec<String> = steps.iter().map(|s| s.0.to_string()).collect();
            return Err(format!(
                "its layout would change at {} versions ({}), and a segment records at most \
                 {MAX_STEPS}; recreate the segment (remove it while no peer is attached)",
                steps.len(),
                versions.join(", ")
            ));
        }
        fits(mine.size)?;
        let mut merged =
            MessageEntry { versions: [0; MAX_STEPS], fingerprints: [0; MAX_STEPS], ..have };
        for (i, (version, fingerprint)) in steps.into_iter().enumerate() {
            // Versions are at most 255 (`table_steps`, and one byte in the table).
            merged.versions[i] = u8::try_from(version).unwrap_or(u8::MAX);
            merged.fingerprints[i] = fingerprint;
        }
        let entry = message_entry(index);
        self.write_steps(index, &merged);
        self.store_u32(entry + MSG_SIZE, mine.size);
        self.store_u64(entry + MSG_FINGERPRINT, mine.fingerprint);
        Ok(())
    }

    /// Reads message table entry `index` (the name up to its first NUL, lossily decoded).
    pub(super) fn read_message(&self, index: usize) -> MessageEntry {
        let entry = message_entry(index);
        let name: Vec<u8> = (0..MSG_NAME_LEN)
            .map(|i| self.load_u8(entry + MSG_NAME + i))
            .take_while(|b| *b != 0)
            .collect();
        MessageEntry {
            fingerprint: self.load_u64(entry + MSG_FINGERPRINT),
            id: self.load_u32(entry + MSG_ID),
            size: self.load_u32(entry + MSG_SIZE),
            align: self.load_u32(entry + MSG_ALIGN),
            name: String::from_utf8_lossy(&name).into_owned(),
            versions: std::array::from_fn(|i| self.load_u8(entry + MSG_VERSIONS + i)),
            fingerprints: std::array::from_fn(|i| self.load_u64(version_entry(index) + 8 * i)),
        }
    }
}

/// `name` cut to at most `MSG_NAME_LEN - 1` bytes at a character boundary.
fn truncated_name(name: &str) -> &str {
    let mut end = name.len().min(MSG_NAME_LEN - 1);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// Validates every header field of `mem` (a segment file of `file_size` bytes) per
/// `docs/PROTOCOL.md` section 2, then the expected kind and message type.
pub(super) fn validate_header(
    mem: &Memory,
    path: &Path,
    file_size: u64,
    expect: &Expect,
) -> Result<Geometry, OpenError> {
    let bad = |field: &'static str, found: String, expected: String| OpenError::BadHeader {
        path: path.to_path_buf(),
        field,
        found,
        expected,
    };
    // SYNC POINT S: pairs with the Release store in `Segment::publish_ready`; once READY is seen,
    // the creator's header and ring initialisation are visible.
    let state = mem.atomic_u32(OFF_STATE).load(Ordering::Acquire);
    let magic = mem.load_u64(OFF_MAGIC).to_ne_bytes();
    if magic != MAGIC {
        if magic == [0; 8] && state == STATE_INITIALISING {
            return Err(OpenError::NotReady { path: path.to_path_buf() });
        }
        return Err(bad("magic", format!("{magic:02x?}"), format!("the bytes {MAGIC:02x?}")));
    }
    let version = mem.load_u32(OFF_VERSION);
    if version != PROTOCOL_VERSION {
        return Err(OpenError::UnsupportedVersion {
            path: path.to_path_buf(),
            found: version,
            supported: PROTOCOL_VERSION,
        });
    }
    match state {
        STATE_READY => {}
        STATE_INITIALISING => return Err(OpenError::NotReady { path: path.to_path_buf() }),
        other => {
            return Err(bad("state", format!("{other:#010x}"), format!("0 or {STATE_READY:#010x}")))
        }
    }
    let endian = mem.load_u32(OFF_ENDIAN);
    if endian != ENDIAN_MARKER {
        return Err(bad(
            "endian_marker",
            format!("{endian:#010x}"),
            format!("{ENDIAN_MARKER:#010x} (written by a little-endian host)"),
        ));
    }
    let width = mem.load_u8(OFF_POINTER_WIDTH);
    if width != POINTER_WIDTH {
        return Err(bad("pointer_width", width.to_string(), POINTER_WIDTH.to_string()));
    }
    let kind_byte = mem.load_u8(OFF_KIND);
    let kind = RingKind::from_byte(kind_byte).ok_or_else(|| {
        bad(
            "kind",
            kind_byte.to_string(),
            "1 (typed channel) or 2 (framed stream); 3 and 4 are reserved".into(),
        )
    })?;
    if kind != expect.kind {
        return Err(OpenError::WrongKind {
            path: path.to_path_buf(),
            found: kind,
            expected: expect.kind,
        });
    }
    let segment_size = mem.load_u64(OFF_SEGMENT_SIZE);
    if segment_size != file_size {
        return Err(bad(
            "segment_size",
            segment_size.to_string(),
            format!("the file size {file_size}"),
        ));
    }
    let data_offset = mem.load_u64(OFF_DATA_OFFSET);
    if data_offset != DATA_OFFSET as u64 {
        return Err(bad("data_offset", data_offset.to_string(), DATA_OFFSET.to_string()));
    }
    let capacity = mem.load_u64(OFF_CAPACITY);
    let min_capacity = if kind.has_slots() { 2 } else { MIN_STREAM_CAPACITY };
    if capacity < min_capacity || capacity > MAX_CAPACITY || !capacity.is_power_of_two() {
        return Err(bad(
            "capacity",
            capacity.to_string(),
            format!("a power of two in {min_capacity}..=2^30"),
        ));
    }
    let slot_size = mem.load_u32(OFF_SLOT_SIZE);
    let slot_ok = if kind.has_slots() {
        slot_size != 0 && slot_size % SLOT_ALIGN == 0
    } else {
        slot_size == 0
    };
    if !slot_ok {
        let expected =
            if kind.has_slots() { "a non-zero multiple of 64" } else { "0 for a framed stream" };
        return Err(bad("slot_size", slot_size.to_string(), expected.into()));
    }
    let max_readers = mem.load_u32(OFF_MAX_READERS);
    if let Err(expected) = readers_ok(kind, max_readers) {
        return Err(bad("max_readers", max_readers.to_string(), expected.into()));
    }
    let data_size = data_size(kind, capacity, slot_size, max_readers)
        .filter(|size| size.checked_add(data_offset).is_some_and(|end| end <= segment_size))
        .ok_or_else(|| {
            bad(
                "capacity",
                format!("{capacity} (× slot_size {slot_size})"),
                format!("a data area that fits in segment_size {segment_size}"),
            )
        })?;
    let count = mem.load_u32(OFF_MESSAGE_COUNT);
    if let Err(expected) = message_count_ok(kind, count as usize) {
        return Err(bad("message_count", count.to_string(), format!("{expected} for {kind:?}")));
    }
    let messages: Vec<MessageEntry> = (0..count as usize).map(|i| mem.read_message(i)).collect();
    for m in &messages {
        if !m.align.is_power_of_two() || m.align > max_align(kind) {
            return Err(bad(
                "message align",
                format!("{} (message `{}`)", m.align, m.name),
                format!("a power of two ≤ {}", max_align(kind)),
            ));
        }
        let need = slot_size_for(kind, m.size);
        match kind {
            _ if kind.has_slots() && need > slot_size => {
                return Err(bad(
                    "slot_size",
                    slot_size.to_string(),
                    format!("at least {need} for message `{}`", m.name),
                ));
            }
            RingKind::FramedStream if frame_fits(m.size, capacity).is_err() => {
                return Err(bad(
                    "message size",
                    format!("{} (message `{}`)", m.size, m.name),
                    format!("a frame of at most half the capacity {capacity}"),
                ));
            }
            _ => {}
        }
    }
    for want in &expect.messages {
        // A framed reader skips ids it does not know, so a framed ring only needs the ids both
        // sides know to agree; a typed ring needs its one type.
        check_message(&messages, want, path, kind)?;
    }
    Ok(Geometry { kind, capacity, slot_size, data_size, max_readers })
}

/// The first version at which the steps `a` and `b` (`(version, fingerprint)`, ascending)
/// disagree, among the versions both know (up to the smaller newest version): one records a
/// layout change there and the other does not, or both do with different fingerprints.
fn first_disagreement(a: &[(u16, u64)], b: &[(u16, u64)]) -> Option<u16> {
    let newest = |s: &[(u16, u64)]| s.last().map_or(1, |s| s.0);
    let common = newest(a).min(newest(b));
    let at = |s: &[(u16, u64)], v: u16| s.iter().find(|s| s.0 == v).map(|s| s.1);
    (1..=common).find(|v| at(a, *v) != at(b, *v))
}

/// Finds the entry with `want`'s id (required unless the ring of `kind` is framed: framed readers
/// skip ids they do not know) and compares align and the steps both sides know
/// (`docs/EVOLUTION.md` §5); when both are at the same version, also size and fingerprint.
pub(crate) fn check_message(
    messages: &[MessageEntry],
    want: &MessageEntry,
    path: &Path,
    kind: RingKind,
) -> Result<(), OpenError> {
    let required = !kind.is_framed();
    let mismatch = |segment: String, what: String| OpenError::TypeMismatch {
        path: path.to_path_buf(),
        segment,
        expected: want.name.clone(),
        what,
    };
    let Some(have) = messages.iter().find(|m| m.id == want.id) else {
        if !required {
            return Ok(());
        }
        return Err(match messages {
            [only] => mismatch(only.name.clone(), format!("id {:#x} vs {:#x}", only.id, want.id)),
            _ => mismatch(
                messages.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", "),
                format!("no message with id {:#x} in the segment", want.id),
            ),
        });
    };
    let (theirs, mine) = (have.steps_for(want), want.steps());
    let newest = |s: &[(u16, u64)]| s.last().map_or(1, |s| s.0);
    let (their_version, my_version) = (newest(&theirs), newest(&mine));
    match first_disagreement(&theirs, &mine) {
        Some(version) if version > 1 => {
            return Err(OpenError::VersionMismatch {
                path: path.to_path_buf(),
                message: want.name.clone(),
                version,
                member_hint: format!(
                    "the members added at version {version} (the runtime records only each \
                     version's layout fingerprint, not member names)"
                ),
            });
        }
        Some(_) => {}
        None if their_version == my_version => {}
        None => {
            return if have.align == want.align {
                Ok(())
            } else {
                Err(mismatch(have.name.clone(), format!("align {} vs {}", have.align, want.align)))
            };
        }
    }
    let mut differences = Vec::new();
    if their_version != my_version {
        differences.push(format!("version {their_version} vs {my_version}"));
    }
    if have.size != want.size {
        differences.push(format!("size {} vs {}", have.size, want.size));
    }
    if have.align != want.align {
        differences.push(format!("align {} vs {}", have.align, want.align));
    }
    if have.fingerprint != want.fingerprint {
        differences
            .push(format!("fingerprint {:#018x} vs {:#018x}", have.fingerprint, want.fingerprint));
    }
    if differences.is_empty() {
        Ok(())
    } else {
        Err(mismatch(have.name.clone(), differences.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::test_support::{entry, spec};
    use crate::segment::Segment;

    /// `entry()` at version 2: version 1 is `entry()`'s layout, version 2 appends bytes whose
    /// layout `v2_fingerprint` stands for.
    fn at_version_2(v2_fingerprint: u64) -> MessageEntry {
        MessageEntry {
            fingerprint: v2_fingerprint,
            size: 56,
            versions: [1, 2, 0, 0],
            fingerprints: [0xABCD, v2_fingerprint, 0, 0],
            ..entry()
        }
    }

    #[test]
    fn a_merge_compares_again_under_the_writer_lock() {
        let segment = Segment::heap(&spec());
        segment.merge_steps(&[at_version_2(0x2222)]).unwrap();
        let merged = &segment.messages()[0];
        assert_eq!((merged.versions, merged.size), ([1, 2, 0, 0], 56));
        // A diverged version 2 writer that checked the table before that merge (while it
        // still said version 1) is refused when it merges, instead of writing over it.
        let err = segment.merge_steps(&[at_version_2(0x3333)]).unwrap_err();
        assert!(matches!(err, OpenError::VersionMismatch { version: 2, .. }), "{err:?}");
        assert_eq!(segment.messages()[0].fingerprints[1], 0x2222);
        // The same version 2 merges again without change.
        segment.merge_steps(&[at_version_2(0x2222)]).unwrap();
    }

    #[test]
    fn heap_segment_has_the_same_header() {
        let segment = Segment::heap(&spec());
        assert_eq!(segment.mem.load_u64(OFF_MAGIC).to_ne_bytes(), MAGIC);
        assert_eq!(segment.mem.load_u32(OFF_STATE), STATE_INITIALISING);
        segment.publish_ready();
        assert_eq!(segment.atomic_u32(OFF_STATE).load(Ordering::Acquire), STATE_READY);
        assert_eq!(segment.messages(), vec![entry()]);
        assert_eq!((segment.capacity(), segment.slot_size(), segment.data_len()), (8, 64, 512));
        assert_eq!(segment.data_ptr() as usize % 4096, 0);
        assert_eq!(segment.atomic_u64(OFF_WRITE_POS).load(Ordering::Relaxed), 0);
    }
}
