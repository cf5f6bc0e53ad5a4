// The shape of a removed member: `_removed_<name>: [u8; N]` with `removed = N, was = T`.
extern crate flatipc_renamed as flatipc;
use flatipc::prelude::*;

#[derive(FlatMessage)]
#[flat(id = 1, version = 2)]
#[repr(C)]
struct WithoutWas {
    a: u32,
    #[flat(removed = 2)]
    _removed_b: [u8; 4],
}

#[derive(FlatMessage)]
#[flat(id = 2, version = 2)]
#[repr(C)]
struct WasWithoutRemoved {
    a: u32,
    #[flat(was = u32)]
    b: u32,
}

#[derive(FlatMessage)]
#[flat(id = 3, version = 2)]
#[repr(C)]
struct NotBytes {
    a: u32,
    #[flat(removed = 2, was = u32)]
    _removed_b: u32,
}

#[derive(FlatMessage)]
#[flat(id = 4, version = 2)]
#[repr(C)]
struct NotNamedRemoved {
    a: u32,
    #[flat(removed = 2, was = u32)]
    b: [u8; 4],
}

#[derive(FlatMessage)]
#[flat(id = 5, version = 2)]
#[repr(C)]
struct PaddingWithVersion {
    a: u32,
    #[flat(padding, added = 2)]
    _pad0: [u8; 4],
}

#[derive(FlatMessage)]
#[flat(id = 6, version = 2, added = 2)]
#[repr(C)]
struct AddedOnStruct {
    a: u32,
}

fn main() {}
