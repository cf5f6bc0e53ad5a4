//! Generated code names everything by absolute path through `#[flat(crate = "...")]`: it compiles
//! without the prelude, with flatipc under another name (`::flatipc` does not exist here, see
//! `derive/Cargo.toml`), and next to items that shadow the names it might otherwise rely on.
#![no_implicit_prelude]

mod shadowed {
    // Every derive in this module would pick these up if the generated code named `Ok`, `Some`,
    // `Result`, `FlatType`, `size_of`, `u64`, ... without a path.
    #![allow(dead_code, non_camel_case_types)]

    use ::flatipc_renamed::zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};
    use ::flatipc_renamed::FlatMessage;

    pub struct Ok;
    pub struct Err;
    pub struct Some;
    pub struct None;
    pub struct Option;
    pub struct Result;
    pub struct Member;
    pub struct Fingerprinter;
    pub struct ValidationError;
    pub struct CapacityError;
    pub struct Problem;
    pub struct VersionStep;
    pub trait FlatType {}
    pub trait FromZeros {}
    pub trait TryFrom {}
    pub fn size_of() {}
    pub fn offset_of() {}
    pub fn check_padding() {}
    pub fn checked_str() {}
    pub fn checked_prefix() {}
    pub type u64 = ();
    pub type usize = ();
    pub type bool = ();
    pub type str = ();
    pub mod core {}
    pub mod flatipc {}

    #[derive(
        ::core::clone::Clone,
        ::core::marker::Copy,
        FlatMessage,
        FromBytes,
        IntoBytes,
        KnownLayout,
        Immutable,
    )]
    #[zerocopy(crate = "::flatipc_renamed::zerocopy")]
    #[flat(crate = "::flatipc_renamed", id = 3)]
    #[repr(C)]
    pub struct Msg {
        pub r#type: Side,
        pub ok: ::flatipc_renamed::Bool,
        #[flat(padding)]
        pub _pad0: [u8; 2],
        pub name: Name,
        pub ids: Ids,
    }

    /// A message with a version history: a member added in version 2, one removed in 3.
    #[derive(
        ::core::clone::Clone,
        ::core::marker::Copy,
        FlatMessage,
        FromBytes,
        IntoBytes,
        KnownLayout,
        Immutable,
    )]
    #[zerocopy(crate = "::flatipc_renamed::zerocopy")]
    #[flat(crate = "::flatipc_renamed", id = 4, version = 3)]
    #[repr(C)]
    pub struct Evolved {
        pub a: ::core::primitive::u32,
        #[flat(removed = 3, was = Side)]
        pub _removed_side: [u8; 1],
        #[flat(padding)]
        pub _pad0: [u8; 3],
        #[flat(added = 2)]
        pub r#type: ::core::primitive::u32,
    }

    #[derive(
        ::core::clone::Clone,
        ::core::marker::Copy,
        FlatMessage,
        FromBytes,
        IntoBytes,
        KnownLayout,
        Immutable,
    )]
    #[zerocopy(crate = "::flatipc_renamed::zerocopy")]
    #[flat(crate = "::flatipc_renamed", string)]
    #[repr(C)]
    pub struct Name {
        pub len: ::core::primitive::u32,
        pub data: [u8; 6],
        #[flat(padding)]
        pub _pad0: [u8; 2],
    }

    #[derive(
        ::core::clone::Clone,
        ::core::marker::Copy,
        FlatMessage,
        FromBytes,
        IntoBytes,
        KnownLayout,
        Immutable,
    )]
    #[zerocopy(crate = "::flatipc_renamed::zerocopy")]
    #[flat(crate = "::flatipc_renamed", vector)]
    #[repr(C)]
    pub struct Ids {
        pub len: ::core::primitive::u32,
        pub items: [::core::primitive::u32; 2],
    }

    #[derive(
        ::core::clone::Clone,
        ::core::marker::Copy,
        FlatMessage,
        FromBytes,
        IntoBytes,
        KnownLayout,
        Immutable,
    )]
    #[zerocopy(crate = "::flatipc_renamed::zerocopy")]
    #[flat(crate = "::flatipc_renamed", enum, strict)]
    #[repr(transparent)]
    pub struct Side(pub u8);

    impl Side {
        pub const fn is_known(self) -> ::core::primitive::bool {
            self.0 < 2
        }
    }
}

#[::core::prelude::v1::test]
fn derives_compile_and_work_without_prelude_or_the_usual_crate_name() {
    use ::core::result::Result::Ok;
    use ::core::{assert, assert_eq};
    use ::flatipc_renamed::{FlatMessage, FlatType};
    use shadowed::{Ids, Msg, Name, Side};

    let mut msg = Msg {
        r#type: Side(1),
        ok: ::flatipc_renamed::Bool::TRUE,
        _pad0: [0; 2],
        name: Name::new("abc").unwrap(),
        ids: Ids::from_slice(&[4]).unwrap(),
    };
    msg.ids.push(5).unwrap();
    assert!(msg.ids.push(6).is_err());
    assert_eq!(msg.name.as_str(), Ok("abc"));
    assert_eq!(msg.ids.as_slice(), Ok(&[4, 5][..]));
    assert!(msg.validate().is_ok());

    msg.r#type = Side(7);
    let err = msg.validate().unwrap_err();
    assert_eq!((err.type_name, err.member), ("Msg", "type"));

    assert_eq!(Msg::MESSAGE_ID, ::core::option::Option::Some(3));
    assert_eq!(Msg::MEMBERS.len(), 4);
    assert_eq!(Msg::MEMBERS[3].offset, 16);
    assert_eq!(Name::CAPACITY, 6);
}

// The generated constants are usable in `const` context.
const _: () = ::core::assert!(<shadowed::Side as ::flatipc_renamed::FlatType>::NEEDS_VALIDATION);
const _: () =
    ::core::assert!(<shadowed::Msg as ::flatipc_renamed::FlatMessage>::MEMBERS.len() == 4);
const _: () = ::core::assert!(<shadowed::Evolved as ::flatipc_renamed::FlatMessage>::VERSION == 3);
const _: () =
    ::core::assert!(<shadowed::Evolved as ::flatipc_renamed::FlatMessage>::STEPS.len() == 3);
const _: () = ::core::assert!(shadowed::Evolved::has_type(2) && !shadowed::Evolved::has_type(1));
