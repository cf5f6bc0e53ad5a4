//! The flat-type contract: [`FlatType`] for every value that may live in shared memory, and
//! [`FlatMessage`] for `#[repr(C)]` structs built from them.

use core::fmt;

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::fingerprint::{Fingerprinter, PrimCode};

/// A type whose every byte is meaningful data with a layout fixed by `docs/IR.md`, so that it can
/// be placed in shared memory and read by a peer built separately, in Rust or in C.
///
/// Any byte pattern is a valid *Rust* value of a `FlatType` (it is [`FromBytes`]): reading one from
/// untrusted memory is never undefined behaviour. Some patterns are still *invalid data* (a `bool`
/// byte of 7, an unknown member of a strict enum, a string length above its bound, bad UTF-8);
/// [`FlatType::validate`] reports those, and readers call it before trusting the value.
///
/// Implement it with `#[derive(FlatMessage)]`, never by hand.
///
/// # Safety
///
/// An implementation promises that:
/// - the type has no implicit padding and no interior mutability (it is [`IntoBytes`] and
///   [`Immutable`]), and every bit pattern is a valid value (it is [`FromBytes`]);
/// - its size and alignment are those given by the flatipc layout rules for the schema type it
///   represents (natural alignment, declaration order, little-endian), so that a C peer compiled
///   from the same schema agrees on every byte;
/// - [`FlatType::FINGERPRINT`] is computed from that layout as `docs/IR.md` specifies.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a flat type (it does not implement `flatipc::FlatType`)",
    label = "not a flat type",
    note = "flat types are the primitive integers and floats, `flatipc::Bool`, arrays of flat \
            types, and types that `#[derive(FlatMessage)]`",
    note = "if `{Self}` is your struct, derive `FlatMessage` on it (with zerocopy's `FromBytes`, \
            `IntoBytes`, `KnownLayout` and `Immutable`)"
)]
pub unsafe trait FlatType:
    FromBytes + IntoBytes + KnownLayout + Immutable + Copy + 'static
{
    /// Hash of the canonical layout description (see [`crate::fingerprint`]).
    const FINGERPRINT: u64;

    /// `false` when every bit pattern is also valid data, so [`FlatType::validate`] is a no-op
    /// and containers may skip calling it.
    const NEEDS_VALIDATION: bool;

    /// Checks the data-level invariants that the bit-level type cannot express: `bool` bytes are
    /// 0 or 1, strict enums and bits hold known members, bounded lengths are within their bound,
    /// strings are UTF-8 and explicit padding is zero.
    ///
    /// # Errors
    ///
    /// The first violation found, with the innermost struct and member that holds it.
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

/// A `#[repr(C)]` struct of flat members: a nested struct, or a top-level message when
/// [`FlatMessage::MESSAGE_ID`] is set.
///
/// # Safety
///
/// In addition to the [`FlatType`] contract: the type is a `#[repr(C)]` struct, and
/// [`FlatMessage::MEMBERS`] lists every non-padding member in declaration order with its true
/// offset, size and fingerprint (`#[derive(FlatMessage)]` proves this with compile-time
/// assertions).
pub unsafe trait FlatMessage: FlatType {
    /// The type's name as written in the schema (or in Rust for a hand-written struct).
    const NAME: &'static str;
    /// The stable message id, for top-level messages; `None` for nested structs.
    const MESSAGE_ID: Option<u32>;
    /// Every non-padding member, in declaration order (members removed by schema evolution are
    /// reserved space, not members).
    const MEMBERS: &'static [Member];

    /// The schema version this type describes: the version of its library
    /// (`@available(version=N)` on the `library` line, `#[flat(version = N)]` in Rust). A writer
    /// built from it writes this version; a reader understands every version up to it.
    const VERSION: u16 = 1;

    /// The versions at which the type's layout changed, oldest first: version 1 first, then
    /// each version that appended members or removed one (at most 4). Each step holds the size
    /// and the layout fingerprint of the type restricted to the members present at that version
    /// (`docs/EVOLUTION.md` §3). A type that never changed has one step,
    /// `(1, size_of::<Self>(), FINGERPRINT)`; the last step is always the current layout.
    #[allow(clippy::cast_possible_truncation)] // flat types are at most `u32::MAX` bytes
    const STEPS: &'static [VersionStep] = &[VersionStep {
        version: 1,
        size: size_of::<Self>() as u32,
        fingerprint: Self::FINGERPRINT,
    }];
}

/// One step of a [`FlatMessage`]'s version history: the layout of the type at `version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VersionStep {
    /// The version at which the layout changed (1 for the first step), at most 255.
    pub version: u16,
    /// The size in bytes of the layout at that version (members present then, rounded up to
    /// the type's alignment); a prefix of every later step's layout.
    pub size: u32,
    /// The layout fingerprint at that version (`docs/EVOLUTION.md` §3).
    pub fingerprint: u64,
}

/// One member of a [`FlatMessage`] struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// Member name (without any `r#` escape).
    pub name: &'static str,
    /// Byte offset from the start of the struct.
    pub offset: usize,
    /// Size in bytes.
    pub size: usize,
    /// Fingerprint of the member's type.
    pub fingerprint: u64,
}

/// A flat `bool`: one byte that holds 0 (`false`) or 1 (`true`).
///
/// Rust's `bool` cannot be read from shared memory (a peer may write 7 there, and a Rust `bool`
/// of 7 is undefined behaviour). `Bool` accepts every byte; [`Bool::get`] treats any non-zero byte
/// as `true`, and [`FlatType::validate`] rejects bytes other than 0 and 1.
///
/// ```
/// use flatipc::Bool;
/// let b = Bool::from(true);
/// assert!(b.get());
/// assert_eq!(format!("{b:?}"), "true");
/// ```
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Default, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(transparent)]
pub struct Bool(pub u8);

impl Bool {
    /// `false` (byte 0).
    pub const FALSE: Bool = Bool(0);
    /// `true` (byte 1).
    pub const TRUE: Bool = Bool(1);

    /// The value as a Rust `bool`: any non-zero byte is `true`.
    pub const fn get(self) -> bool {
        self.0 != 0
    }

    /// The value, or `None` if the byte is neither 0 nor 1.
    pub const fn checked(self) -> Option<bool> {
        match self.0 {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
}

impl From<bool> for Bool {
    fn from(b: bool) -> Self {
        Bool(u8::from(b))
    }
}

impl From<Bool> for bool {
    fn from(b: Bool) -> Self {
        b.get()
    }
}

impl fmt::Debug for Bool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.checked() {
            Some(b) => fmt::Debug::fmt(&b, f),
            None => write!(f, "Bool({:#04x})", self.0),
        }
    }
}

// SAFETY: `Bool` is `repr(transparent)` over `u8`: size 1, align 1, no padding, every bit pattern
// is a valid `Bool` (it derives `FromBytes`); the layout is the schema `bool` (one byte); the
// fingerprint is the primitive fingerprint of `bool`.
unsafe impl FlatType for Bool {
    const FINGERPRINT: u64 = Fingerprinter::primitive(PrimCode::Bool);
    const NEEDS_VALIDATION: bool = true;

    fn validate(&self) -> Result<(), ValidationError> {
        match self.0 {
            0 | 1 => Ok(()),
            other => Err(ValidationError::new(Problem::InvalidBool { byte: other })),
        }
    }
}

macro_rules! flat_primitive {
    ($($ty:ty => $code:ident),* $(,)?) => {$(
        // SAFETY: a primitive integer or float: no padding, every bit pattern valid, size and
        // alignment equal (natural alignment) on every platform flatipc supports (checked by
        // `layout_of_primitives_is_natural` below); the fingerprint is its primitive fingerprint.
        unsafe impl FlatType for $ty {
            const FINGERPRINT: u64 = Fingerprinter::primitive(PrimCode::$code);
            const NEEDS_VALIDATION: bool = false;
        }
    )*};
}

flat_primitive! {
    i8 => Int8, i16 => Int16, i32 => Int32, i64 => Int64,
    u8 => Uint8, u16 => Uint16, u32 => Uint32, u64 => Uint64,
    f32 => Float32, f64 => Float64,
}

// SAFETY: an array of a `FlatType` has no padding (Rust array stride equals the element size,
// which is a multiple of its alignment), every bit pattern is valid when it is for the element, and
// the layout is the schema `array<T, N>` (element stride, element alignment). The fingerprint
// follows `docs/IR.md`.
unsafe impl<T: FlatType, const N: usize> FlatType for [T; N] {
    const FINGERPRINT: u64 = Fingerprinter::array(N as u64, T::FINGERPRINT);
    const NEEDS_VALIDATION: bool = T::NEEDS_VALIDATION;

    fn validate(&self) -> Result<(), ValidationError> {
        if T::NEEDS_VALIDATION {
            for item in self {
                item.validate()?;
            }
        }
        Ok(())
    }
}

/// What was wrong with a value that failed [`FlatType::validate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// A `bool` byte other than 0 or 1.
    InvalidBool {
        /// The byte found.
        byte: u8,
    },
    /// A strict enum holding a value that is not one of its members.
    UnknownEnumValue {
        /// The raw value, converted with `as u64`.
        raw: u64,
    },
    /// Strict bits with a bit set that is not one of its members.
    UnknownBits {
        /// The raw value, converted with `as u64`.
        raw: u64,
    },
    /// A bounded string or vector whose length exceeds its capacity.
    LengthOutOfBounds {
        /// The length found.
        len: u32,
        /// The declared bound.
        capacity: u32,
    },
    /// A bounded string whose bytes are not UTF-8.
    InvalidUtf8 {
        /// Length of the longest valid UTF-8 prefix.
        valid_up_to: usize,
    },
    /// An explicit padding byte that is not zero.
    NonZeroPadding,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::InvalidBool { byte } => write!(f, "bool byte is {byte:#04x}, expected 0 or 1"),
            Problem::UnknownEnumValue { raw } => {
                write!(f, "value {raw:#x} is not a member of the strict enum")
            }
            Problem::UnknownBits { raw } => {
                write!(f, "value {raw:#x} has bits that are not members of the strict bits type")
            }
            Problem::LengthOutOfBounds { len, capacity } => {
                write!(f, "length {len} exceeds the bound {capacity}")
            }
            Problem::InvalidUtf8 { valid_up_to } => {
                write!(f, "string is not UTF-8 (valid up to byte {valid_up_to})")
            }
            Problem::NonZeroPadding => write!(f, "explicit padding is not zero"),
        }
    }
}

/// A value read from (untrusted) memory broke a data-level invariant of its type.
///
/// It names the innermost struct and member that hold the bad value; the message says what the
/// writer did wrong, since a correct flatipc writer never produces one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidationError {
    /// The innermost struct that holds the bad value (empty for a bare value).
    pub type_name: &'static str,
    /// The member of `type_name` that holds it (empty for a bare value).
    pub member: &'static str,
    /// What is wrong.
    pub problem: Problem,
}

impl ValidationError {
    /// An error for a bare value, not yet attributed to a struct member.
    pub const fn new(problem: Problem) -> Self {
        Self { type_name: "", member: "", problem }
    }

    /// Attributes the error to `type_name.member`, unless an inner struct already claimed it.
    #[must_use]
    pub const fn within(self, type_name: &'static str, member: &'static str) -> Self {
        if self.type_name.is_empty() {
            Self { type_name, member, problem: self.problem }
        } else {
            self
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.type_name.is_empty() {
            write!(f, "invalid flat value: {}", self.problem)?;
        } else {
            write!(f, "invalid `{}.{}`: {}", self.type_name, self.member, self.problem)?;
        }
        write!(f, " (the writer broke the schema's rules; a flatipc-generated writer never does)")
    }
}

impl std::error::Error for ValidationError {}

/// A value does not fit in a bounded string or vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapacityError {
    /// Length that was asked for (bytes for strings, elements for vectors).
    pub requested: usize,
    /// The bound.
    pub capacity: usize,
}

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} does not fit in a bound of {}: shorten the value or raise the bound in the schema",
            self.requested, self.capacity
        )
    }
}

impl std::error::Error for CapacityError {}

/// Checks a bounded string's raw parts and returns the text. Used by the code that
/// `#[derive(FlatMessage)]` generates for `#[flat(string)]` structs.
///
/// # Errors
///
/// [`Problem::LengthOutOfBounds`] or [`Problem::InvalidUtf8`].
pub fn checked_str(len: u32, data: &[u8]) -> Result<&str, ValidationError> {
    let bytes = checked_prefix(len, data)?;
    core::str::from_utf8(bytes)
        .map_err(|e| ValidationError::new(Problem::InvalidUtf8 { valid_up_to: e.valid_up_to() }))
}

/// Checks a bounded length against its storage and returns the used prefix.
///
/// # Errors
///
/// [`Problem::LengthOutOfBounds`] when `len > items.len()`.
pub fn checked_prefix<T>(len: u32, items: &[T]) -> Result<&[T], ValidationError> {
    match items.get(..len as usize) {
        Some(prefix) => Ok(prefix),
        None => Err(ValidationError::new(Problem::LengthOutOfBounds {
            len,
            capacity: u32::try_from(items.len()).unwrap_or(u32::MAX),
        })),
    }
}

/// Checks that explicit padding bytes are zero.
///
/// # Errors
///
/// [`Problem::NonZeroPadding`].
pub fn check_padding(bytes: &[u8]) -> Result<(), ValidationError> {
    if bytes.iter().all(|b| *b == 0) {
        Ok(())
    } else {
        Err(ValidationError::new(Problem::NonZeroPadding))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_of_primitives_is_natural() {
        fn check<T>(size: usize) {
            assert_eq!(size_of::<T>(), size);
            assert_eq!(align_of::<T>(), size);
        }
        check::<u8>(1);
        check::<i16>(2);
        check::<u32>(4);
        check::<f32>(4);
        check::<i64>(8);
        check::<u64>(8);
        check::<f64>(8);
        check::<Bool>(1);
    }

    #[test]
    fn bool_validation() {
        assert!(Bool(0).validate().is_ok());
        assert!(Bool(1).validate().is_ok());
        let err = Bool(2).validate().unwrap_err();
        assert_eq!(err.problem, Problem::InvalidBool { byte: 2 });
        assert!([Bool(1), Bool(9)].validate().is_err());
    }

    #[test]
    fn bounded_helpers() {
        assert_eq!(checked_str(2, b"hi\0\0").unwrap(), "hi");
        assert!(checked_str(5, b"hi\0\0").is_err());
        assert!(checked_str(1, &[0xff, 0]).is_err());
        assert!(check_padding(&[0, 0]).is_ok());
        assert!(check_padding(&[0, 1]).is_err());
    }

    #[test]
    fn errors_name_the_innermost_member() {
        let e =
            ValidationError::new(Problem::NonZeroPadding).within("Inner", "x").within("Outer", "y");
        assert_eq!((e.type_name, e.member), ("Inner", "x"));
        assert!(e.to_string().contains("Inner.x"));
    }
}
