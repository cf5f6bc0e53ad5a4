//! Layout fingerprints: a 64-bit FNV-1a hash of a type's canonical layout description.
//!
//! The same code runs in three places, so the three always agree:
//! `flatipc-gen` (when it computes the IR), `#[derive(FlatMessage)]` (in `const` context, when the
//! user's crate compiles) and, through the numbers they print, the C headers.
//!
//! The canonical encoding is normative and documented in `docs/IR.md` ("Fingerprints"). In short,
//! every type is hashed as a stream of items (`byte`, `u64` as 8 little-endian bytes, `str` as its
//! `u64` byte length then its UTF-8 bytes), starting from the FNV-1a offset basis:
//!
//! | type | items |
//! |---|---|
//! | primitive | `b'P'`, primitive code ([`PrimCode`]) |
//! | `array<T, N>` | `b'A'`, `N`, fingerprint(T) |
//! | struct | `b'S'`, size, align, member count, then per member: name, offset, fingerprint(member type) |
//! | enum | `b'E'`, fingerprint(underlying), strict as `0`/`1` |
//! | bits | `b'B'`, fingerprint(underlying), strict as `0`/`1` |
//! | `string<N>` | `b'T'`, `N` |
//! | `vector<T, N>` | `b'V'`, `N`, fingerprint(T) |
//!
//! Explicit padding members are not hashed (the size and the offsets already pin them down).
//! Declaration names are not hashed; member names are, so that reordering two members of the same
//! type changes the fingerprint.

const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Primitive codes used in fingerprints (`docs/IR.md`). Stable: never renumber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PrimCode {
    /// `bool` (one byte, 0 or 1).
    Bool = 1,
    /// `int8`.
    Int8 = 2,
    /// `int16`.
    Int16 = 3,
    /// `int32`.
    Int32 = 4,
    /// `int64`.
    Int64 = 5,
    /// `uint8`.
    Uint8 = 6,
    /// `uint16`.
    Uint16 = 7,
    /// `uint32`.
    Uint32 = 8,
    /// `uint64`.
    Uint64 = 9,
    /// `float32`.
    Float32 = 10,
    /// `float64`.
    Float64 = 11,
}

/// An incremental, `const`-evaluable FNV-1a 64 hasher over fingerprint items.
///
/// ```
/// use flatipc::fingerprint::{Fingerprinter, PrimCode};
/// const U8: u64 = Fingerprinter::primitive(PrimCode::Uint8);
/// const ARR: u64 = Fingerprinter::array(4, U8);
/// assert_ne!(U8, ARR);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Fingerprinter {
    state: u64,
}

impl Default for Fingerprinter {
    fn default() -> Self {
        Self::new()
    }
}

impl Fingerprinter {
    /// A hasher in its initial state (the FNV-1a offset basis).
    pub const fn new() -> Self {
        Self { state: FNV_OFFSET_BASIS }
    }

    /// Hashes one byte.
    pub const fn byte(self, b: u8) -> Self {
        Self { state: (self.state ^ b as u64).wrapping_mul(FNV_PRIME) }
    }

    /// Hashes a `u64` as 8 little-endian bytes.
    pub const fn u64(self, v: u64) -> Self {
        let bytes = v.to_le_bytes();
        let mut s = self;
        let mut i = 0;
        while i < 8 {
            s = s.byte(bytes[i]);
            i += 1;
        }
        s
    }

    /// Hashes a string as its byte length (`u64`) followed by its UTF-8 bytes.
    pub const fn str(self, text: &str) -> Self {
        let bytes = text.as_bytes();
        let mut s = self.u64(bytes.len() as u64);
        let mut i = 0;
        while i < bytes.len() {
            s = s.byte(bytes[i]);
            i += 1;
        }
        s
    }

    /// The finished 64-bit fingerprint.
    pub const fn finish(self) -> u64 {
        self.state
    }

    /// Fingerprint of a primitive type.
    pub const fn primitive(code: PrimCode) -> u64 {
        Self::new().byte(b'P').byte(code as u8).finish()
    }

    /// Fingerprint of `array<elem, len>`.
    pub const fn array(len: u64, elem: u64) -> u64 {
        Self::new().byte(b'A').u64(len).u64(elem).finish()
    }

    /// Fingerprint of an enum over the given underlying primitive fingerprint.
    pub const fn enumeration(underlying: u64, strict: bool) -> u64 {
        Self::new().byte(b'E').u64(underlying).byte(strict as u8).finish()
    }

    /// Fingerprint of a bits type over the given underlying primitive fingerprint.
    pub const fn bits(underlying: u64, strict: bool) -> u64 {
        Self::new().byte(b'B').u64(underlying).byte(strict as u8).finish()
    }

    /// Fingerprint of `string<capacity>`.
    pub const fn string(capacity: u64) -> u64 {
        Self::new().byte(b'T').u64(capacity).finish()
    }

    /// Fingerprint of `vector<elem, capacity>`.
    pub const fn vector(capacity: u64, elem: u64) -> u64 {
        Self::new().byte(b'V').u64(capacity).u64(elem).finish()
    }

    /// Starts a struct fingerprint; follow with one [`Fingerprinter::member`] per non-padding
    /// member, in declaration order, then [`Fingerprinter::finish`].
    pub const fn structure(size: u64, align: u64, member_count: u64) -> Self {
        Self::new().byte(b'S').u64(size).u64(align).u64(member_count)
    }

    /// Adds one struct member.
    pub const fn member(self, name: &str, offset: u64, fingerprint: u64) -> Self {
        self.str(name).u64(offset).u64(fingerprint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_reference_vectors() {
        // Reference values of FNV-1a 64 (from the FNV specification's test suite).
        assert_eq!(Fingerprinter::new().finish(), 0xcbf2_9ce4_8422_2325);
        assert_eq!(Fingerprinter::new().byte(b'a').finish(), 0xaf63_dc4c_8601_ec8c);
        let foobar = b"foobar".iter().fold(Fingerprinter::new(), |h, b| h.byte(*b));
        assert_eq!(foobar.finish(), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn documented_example_in_docs_ir_md() {
        // docs/IR.md: `fp(uint8)` hashes the bytes `50 06` and is 0x09426207b5d2628b.
        let by_hand = Fingerprinter::new().byte(0x50).byte(0x06).finish();
        assert_eq!(by_hand, 0x0942_6207_b5d2_628b);
        assert_eq!(Fingerprinter::primitive(PrimCode::Uint8), by_hand);
    }

    #[test]
    fn distinct_shapes_have_distinct_fingerprints() {
        let u8_fp = Fingerprinter::primitive(PrimCode::Uint8);
        let i8_fp = Fingerprinter::primitive(PrimCode::Int8);
        assert_ne!(u8_fp, i8_fp);
        assert_ne!(Fingerprinter::array(3, u8_fp), Fingerprinter::array(4, u8_fp));
        assert_ne!(Fingerprinter::string(8), Fingerprinter::vector(8, u8_fp));
        assert_ne!(
            Fingerprinter::enumeration(u8_fp, true),
            Fingerprinter::enumeration(u8_fp, false)
        );
        let a = Fingerprinter::structure(2, 1, 2).member("a", 0, u8_fp).member("b", 1, u8_fp);
        let b = Fingerprinter::structure(2, 1, 2).member("b", 0, u8_fp).member("a", 1, u8_fp);
        assert_ne!(a.finish(), b.finish());
    }
}
