//! The contract between a framed stream and the code `flatipc-gen` generates for a schema
//! library: [`MessageSet`] (the library's messages and how to view a frame as one of them) and
//! [`InSet`] (which message types a writer may send on a stream of that library).

use crate::{FlatMessage, ValidationError, VersionStep};

/// The identity of one message type of a [`MessageSet`], as recorded in a segment's message
/// table (`docs/PROTOCOL.md` §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageInfo {
    /// The message id ([`FlatMessage::MESSAGE_ID`]).
    pub id: u32,
    /// The layout fingerprint ([`crate::FlatType::FINGERPRINT`]).
    pub fingerprint: u64,
    /// `size_of` the type.
    pub size: u32,
    /// `align_of` the type.
    pub align: u32,
    /// The type's name ([`FlatMessage::NAME`]).
    pub name: &'static str,
    /// The schema version a writer of the type writes in each frame header
    /// ([`FlatMessage::VERSION`]).
    pub version: u16,
    /// The type's layout history, oldest first ([`FlatMessage::STEPS`]); the last step is the
    /// current layout (`size`, `fingerprint`).
    pub steps: &'static [VersionStep],
}

impl MessageInfo {
    /// The description of `T`. Evaluated in a `const`, it fails to compile when `T` has no message
    /// id (a nested struct) or does not fit in a frame (larger than `u32::MAX` bytes).
    #[allow(clippy::cast_possible_truncation)] // both casts are checked by the asserts
    pub const fn of<T: FlatMessage>() -> MessageInfo {
        let Some(id) = T::MESSAGE_ID else {
            panic!("a framed stream carries top-level messages only (this type has no message id)")
        };
        assert!(size_of::<T>() <= u32::MAX as usize, "message larger than u32::MAX bytes");
        assert!(align_of::<T>() <= u32::MAX as usize);
        MessageInfo {
            id,
            fingerprint: T::FINGERPRINT,
            size: size_of::<T>() as u32,
            align: align_of::<T>() as u32,
            name: T::NAME,
            version: T::VERSION,
            steps: T::STEPS,
        }
    }
}

/// The messages of one schema library, as one framed stream carries them.
///
/// `flatipc-gen` implements it for each library with at least one message, on a unit struct
/// `Library` whose [`MessageSet::View`] is the generated `enum AnyMessage<'a>` (one variant per
/// message, holding `&'a Message`). It is safe to implement by hand: the stream checks every id,
/// size and byte it hands to [`MessageSet::view`], and `view` only reinterprets bytes as flat
/// types, which accept every bit pattern.
pub trait MessageSet: 'static {
    /// A frame viewed as one of the library's messages, in place.
    type View<'a>;

    /// The library's name as written in the schema (for error messages).
    const LIBRARY: &'static str;

    /// Every message of the library, in declaration order; at most 32 (the segment's message
    /// table holds 32).
    const MESSAGES: &'static [MessageInfo];

    /// Views `bytes` (a frame's message bytes, 16-byte aligned) as the message with id `id`:
    /// `None` for an id this library does not know (the reader skips the frame), an error if the
    /// bytes are too short or break the type's data rules. Bytes beyond the type's size (a frame
    /// of a newer writer, `docs/EVOLUTION.md` §4) are ignored; a stream reader hands a frame of
    /// an older, smaller version here as a zero-extended copy. Generated code calls [`view`] for
    /// each of its ids.
    fn view(id: u32, bytes: &[u8]) -> Option<Result<Self::View<'_>, ViewError>>;
}

/// Marks `Self` as one of the messages of the set `S`: a stream writer of `S` may send it.
///
/// Generated for every message of a library. A hand-written implementation for a type outside
/// the set is not unsafe, only useless: a reader of `S` skips frames whose id it does not know
/// and refuses (with [`ViewError`]) frames whose bytes do not match its type.
pub trait InSet<S: MessageSet>: FlatMessage {}

/// Why a frame's bytes could not be viewed as the message its id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ViewError {
    /// The frame holds fewer bytes than the reader's type has (and was not zero-extended: a
    /// stream reader zero-extends frames of older versions of the messages its set lists).
    #[error(
        "frame of message `{name}` holds {found} bytes, the reader's type needs at least \
         {expected}; view it through the stream's `Frame::message` or `Frame::get` (which \
         zero-extend frames of older schema versions), or check that the peers' schemas agree"
    )]
    Size {
        /// The reader's type.
        name: &'static str,
        /// `size_of` the reader's type.
        expected: usize,
        /// Bytes in the frame.
        found: usize,
    },
    /// The bytes are not aligned for the type (a frame's message bytes always are 16-aligned, so
    /// only a hand-built slice produces this).
    #[error("bytes of message `{name}` are not aligned to {align}")]
    Misaligned {
        /// The reader's type.
        name: &'static str,
        /// `align_of` the type.
        align: usize,
    },
    /// The bytes broke a data rule of the type (see [`crate::FlatType::validate`]).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
}

/// Views the first `size_of::<T>()` bytes of `bytes` as a `T` in place, after checking the size,
/// the alignment and the type's data rules; bytes beyond them (members a newer writer appended,
/// `docs/EVOLUTION.md` §4) are ignored. This is what generated [`MessageSet::view`]
/// implementations call.
///
/// # Errors
///
/// [`ViewError::Size`] if `bytes.len() < size_of::<T>()`, [`ViewError::Misaligned`],
/// [`ViewError::Invalid`].
pub fn view<T: FlatMessage>(bytes: &[u8]) -> Result<&T, ViewError> {
    if bytes.len() < size_of::<T>() {
        return Err(ViewError::Size {
            name: T::NAME,
            expected: size_of::<T>(),
            found: bytes.len(),
        });
    }
    let value = T::ref_from_bytes(&bytes[..size_of::<T>()])
        .map_err(|_| ViewError::Misaligned { name: T::NAME, align: align_of::<T>() })?;
    if T::NEEDS_VALIDATION {
        value.validate()?;
    }
    Ok(value)
}
