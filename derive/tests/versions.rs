//! Schema evolution in `#[derive(FlatMessage)]`: `VERSION`, `STEPS` and `has_<member>` of
//! hand-written structs, equal to what `flatipc-gen` computes for the same schema.
//!
//! `Versioned` is the twin of `corpus.messages/Versioned` (`tests/corpus/valid/messages.fidl`);
//! the expected steps are those of the compiler's IR (`outputs__corpus_messages_ir.snap`), so
//! the derive and the compiler agree on every version's size and fingerprint.

use flatipc_renamed::zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};
use flatipc_renamed::{FlatMessage, FlatType, VersionStep};

#[derive(Clone, Copy, Debug, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc_renamed::zerocopy")]
#[flat(crate = "flatipc_renamed", id = 7, version = 4)]
#[repr(C)]
struct Versioned {
    original: u64,
    #[flat(added = 1, removed = 4, was = u8)]
    _removed_gone: [u8; 1],
    #[flat(padding)]
    _pad0: [u8; 7],
    #[flat(added = 2)]
    second: u32,
    #[flat(added = 2)]
    third: u16,
    #[flat(padding)]
    _pad1: [u8; 2],
}

/// Version 1 of `Versioned`, as an older peer declares it.
#[derive(Clone, Copy, Debug, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc_renamed::zerocopy")]
#[flat(crate = "flatipc_renamed", id = 7)]
#[repr(C)]
struct VersionedV1 {
    original: u64,
    gone: u8,
    #[flat(padding)]
    _pad0: [u8; 7],
}

/// A struct that never changed, in a library at version 3.
#[derive(Clone, Copy, Debug, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc_renamed::zerocopy")]
#[flat(crate = "flatipc_renamed", version = 3)]
#[repr(C)]
struct Frozen {
    a: u32,
}

#[test]
fn steps_equal_the_compilers() {
    assert_eq!(Versioned::VERSION, 4);
    assert_eq!(
        Versioned::STEPS,
        [
            VersionStep { version: 1, size: 16, fingerprint: 0xc4be_a27f_36e5_ab03 },
            VersionStep { version: 2, size: 24, fingerprint: 0x9491_1650_0bc3_da1a },
            VersionStep { version: 4, size: 24, fingerprint: 0xe408_a91c_31fb_ab66 },
        ]
    );
    // The last step is the current layout.
    assert_eq!(Versioned::STEPS[2].fingerprint, Versioned::FINGERPRINT);
    assert_eq!(Versioned::STEPS[2].size as usize, size_of::<Versioned>());
    // Version 1 of the message is what a version-1 peer has.
    assert_eq!(Versioned::STEPS[0].fingerprint, VersionedV1::FINGERPRINT);
    assert_eq!(Versioned::STEPS[0].size as usize, size_of::<VersionedV1>());
}

#[test]
fn unversioned_structs_have_one_step() {
    assert_eq!(VersionedV1::VERSION, 1);
    assert_eq!(
        VersionedV1::STEPS,
        [VersionStep { version: 1, size: 16, fingerprint: VersionedV1::FINGERPRINT }]
    );
    assert_eq!(Frozen::VERSION, 3);
    assert_eq!(
        Frozen::STEPS,
        [VersionStep { version: 1, size: 4, fingerprint: Frozen::FINGERPRINT }]
    );
}

#[test]
fn has_functions_say_when_a_member_joined() {
    assert!(!Versioned::has_second(1));
    assert!(Versioned::has_second(2));
    assert!(Versioned::has_third(4));
    // `const fn`: usable in `const` context.
    const _: () = assert!(Versioned::has_third(2));
}

#[test]
fn removed_members_are_reserved_bytes() {
    // Not a member, not validated: an older writer still writes its value there.
    assert_eq!(
        Versioned::MEMBERS.iter().map(|m| m.name).collect::<Vec<_>>(),
        ["original", "second", "third"]
    );
    let v = Versioned {
        original: 1,
        _removed_gone: [0xff],
        _pad0: [0; 7],
        second: 2,
        third: 3,
        _pad1: [0; 2],
    };
    assert!(v.validate().is_ok());
    let bad_padding = Versioned { _pad1: [0, 1], ..v };
    assert!(bad_padding.validate().is_err());
}
