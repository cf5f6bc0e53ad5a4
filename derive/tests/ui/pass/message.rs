// flatipc is a dev-dependency under another name (see derive/Cargo.toml).
extern crate flatipc_renamed as flatipc;
use flatipc::prelude::*;

/// A nested struct: no id.
#[derive(Clone, Copy, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[repr(C)]
pub struct Point {
    pub x: i32,
    pub y: i32,
}

/// A message with nested structs, arrays, floats, a `Bool`, raw identifiers and padding.
#[derive(Clone, Copy, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(id = 4_294_967_295)]
#[repr(C)]
pub struct Shape {
    pub r#type: u8,
    pub visible: flatipc::Bool,
    #[flat(padding)]
    _pad0: [u8; 2],
    pub corners: [Point; 4],
    #[flat(padding)]
    _pad1: [u8; 4],
    pub area: f64,
    pub grid: [[u16; 3]; 2],
    #[flat(padding)]
    _pad2: [u8; 4],
}

/// Only padding: no members to hash.
#[derive(Clone, Copy, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[repr(C)]
pub struct Reserved {
    #[flat(padding)]
    _pad0: [u8; 8],
}

// Members are usable in `const` context.
const CORNERS_OFFSET: usize = Shape::MEMBERS[2].offset;
const _: () = assert!(CORNERS_OFFSET == 4);
const _: () = assert!(Shape::MEMBERS.len() == 5);
const _: () = assert!(Reserved::MEMBERS.is_empty());
const _: () = assert!(matches!(Shape::MESSAGE_ID, Some(u32::MAX)));

fn main() {
    let shape = Shape::new_zeroed();
    assert!(shape.validate().is_ok());
    assert_eq!(Shape::MEMBERS[0].name, "type");
    assert_eq!(Point::FINGERPRINT, Point::FINGERPRINT);
}
