// The rules the derive checks on the real layout, at compile time.
extern crate flatipc_renamed as flatipc;
use flatipc::prelude::*;

// Version 2 would raise the alignment from 4 to 8.
#[derive(Clone, Copy, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(id = 1, version = 2)]
#[repr(C)]
struct RaisesAlignment {
    a: u32,
    #[flat(padding)]
    _pad0: [u8; 4],
    #[flat(added = 2)]
    b: u64,
}

// Version 2 starts inside version 1's trailing padding (at 9, version 1 has size 16).
#[derive(Clone, Copy, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(id = 2, version = 2)]
#[repr(C)]
struct ReusesPadding {
    a: u64,
    b: u8,
    #[flat(added = 2)]
    c: u8,
    #[flat(padding)]
    _pad0: [u8; 6],
}

// The reserved bytes are not the size of the old type.
#[derive(Clone, Copy, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(id = 3, version = 2)]
#[repr(C)]
struct WrongReservedSize {
    a: u32,
    #[flat(removed = 2, was = u32)]
    _removed_b: [u8; 2],
    #[flat(padding)]
    _pad0: [u8; 2],
}

// Removing the only 8-aligned member lowers the alignment.
#[derive(Clone, Copy, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(id = 4, version = 2)]
#[repr(C)]
struct LowersAlignment {
    a: u32,
    #[flat(padding)]
    _pad0: [u8; 4],
    #[flat(removed = 2, was = u64)]
    _removed_b: [u8; 8],
}

// The old type could not sit at the reserved bytes' offset.
#[derive(Clone, Copy, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(id = 5, version = 2)]
#[repr(C)]
struct MisplacedReserved {
    a: u32,
    b: u8,
    #[flat(removed = 2, was = u16)]
    _removed_c: [u8; 2],
    #[flat(padding)]
    _pad0: [u8; 1],
}

// Padding after the last member beyond the alignment.
#[derive(Clone, Copy, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(id = 6, version = 2)]
#[repr(C)]
struct TrailingPadding {
    a: u32,
    #[flat(added = 2)]
    b: u32,
    #[flat(padding)]
    _pad0: [u8; 4],
}

fn main() {}
