//! What a strategy counts, and how it tells new messages from redelivered ones: the same fields
//! and rules as `struct counts` in `c/strategy.c`.
//!
//! - A message with a sequence number `s` is **new** if `s >= next` (then `next = s + 1`, and
//!   `s > next` counts `s - next` **gaps**), and **redelivered** otherwise: a reader that
//!   restarts resumes at the ring's read position, which may be before messages it had already
//!   handled (at-least-once), so it skips those.
//! - A message without one (a `StatusChange` of `market.data`, a `Heartbeat` of `market.evo`
//!   version 2, which a version-1 reader sees as an unknown id) is expected right after the
//!   message whose sequence number is `≡ every - 1 (mod every)`, i.e. when `next` is a positive
//!   multiple of `every`. It is redelivered if one was already handled at this `next`, and
//!   **misplaced** (a disagreement) if `next` is not such a multiple.
//!
//! Only new messages are counted and folded into the checksum.

use crate::checksum::Checksum;

/// The kinds of message the demo counts, in `RESULT` key order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Quote,
    Trade,
    Book,
    Status,
    Heartbeat,
    /// An id the reader's schema does not know.
    Unknown,
}

/// The `RESULT` keys of the kinds, by `Kind as usize`.
pub const KIND_KEYS: [&str; 6] = ["quote", "trade", "book", "status", "heartbeat", "unknown"];

/// A strategy's (or the feed's) counts.
#[derive(Debug, Clone)]
pub struct Tally {
    /// The next sequence number expected.
    pub next: u64,
    /// New messages, of every kind.
    pub messages: u64,
    /// New messages by kind.
    pub by_kind: [u64; 6],
    /// New messages by their writer's schema version (1, 2, other).
    pub by_version: [u64; 3],
    pub redelivered: u64,
    pub gaps: u64,
    pub misplaced: u64,
    /// Messages whose bytes broke their type's data rules (never handed out as valid).
    pub invalid: u64,
    /// `next` when the last message without a sequence number was handled (`u64::MAX`: none).
    marker_after: u64,
    pub checksum: Checksum,
    /// `CLOCK_MONOTONIC` of the first and last new message (0: none).
    pub first_ns: u64,
    pub last_ns: u64,
}

impl Tally {
    /// Nothing seen yet; a feed that takes over from another continues its checksum.
    pub fn new(checksum: Checksum) -> Self {
        Tally {
            next: 0,
            messages: 0,
            by_kind: [0; 6],
            by_version: [0; 3],
            redelivered: 0,
            gaps: 0,
            misplaced: 0,
            invalid: 0,
            marker_after: u64::MAX,
            checksum,
            first_ns: 0,
            last_ns: 0,
        }
    }

    /// Whether the message with sequence number `seq` is new (see the module docs).
    pub fn sequenced(&mut self, seq: u64) -> bool {
        if seq < self.next {
            self.redelivered += 1;
            return false;
        }
        self.gaps += seq - self.next;
        self.next = seq + 1;
        true
    }

    /// Whether a message without a sequence number, expected after every `every` messages, is
    /// new (see the module docs).
    pub fn marker(&mut self, every: u64) -> bool {
        if self.marker_after == self.next {
            self.redelivered += 1;
            return false;
        }
        if self.next == 0 || !self.next.is_multiple_of(every) {
            self.misplaced += 1;
        }
        self.marker_after = self.next;
        true
    }

    /// Counts a new message of `kind` from a writer of `version`, handled at `now`.
    pub fn count(&mut self, kind: Kind, version: u16, now: u64) {
        self.messages += 1;
        self.by_kind[kind as usize] += 1;
        self.by_version[usize::from(version.clamp(1, 3)) - 1] += 1;
        if self.first_ns == 0 {
            self.first_ns = now;
        }
        self.last_ns = now;
    }

    /// The `RESULT` fields of the counts.
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        let mut fields = vec![("messages", self.messages.to_string())];
        for (key, n) in KIND_KEYS.iter().zip(self.by_kind) {
            fields.push((key, n.to_string()));
        }
        fields.extend([
            ("v1", self.by_version[0].to_string()),
            ("v2", self.by_version[1].to_string()),
            ("vother", self.by_version[2].to_string()),
            ("next", self.next.to_string()),
            ("redelivered", self.redelivered.to_string()),
            ("gaps", self.gaps.to_string()),
            ("misplaced", self.misplaced.to_string()),
            ("invalid", self.invalid.to_string()),
            ("checksum", self.checksum.hex()),
            ("first_ns", self.first_ns.to_string()),
            ("last_ns", self.last_ns.to_string()),
        ]);
        fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redelivery_gaps_and_markers() {
        let mut t = Tally::new(Checksum::default());
        assert!(t.sequenced(0) && t.sequenced(1));
        assert!(!t.sequenced(1)); // redelivered after a restart
        assert!(t.marker(2)); // after sequence 1: expected
        assert!(!t.marker(2)); // the same one again
        assert!(t.sequenced(4)); // 2 and 3 missing
        assert!(t.marker(2)); // next = 5: misplaced
        assert_eq!((t.redelivered, t.gaps, t.misplaced, t.next), (2, 2, 1, 5));
    }
}
