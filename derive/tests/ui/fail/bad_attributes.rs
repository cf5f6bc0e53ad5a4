// flatipc is a dev-dependency under another name (see derive/Cargo.toml).
extern crate flatipc_renamed as flatipc;
use flatipc::prelude::*;

#[derive(FlatMessage)]
#[flat(id = 0x1_0000_0000)]
#[repr(C)]
struct Msg {
    a: u32,
}

#[derive(FlatMessage)]
#[flat(message)]
#[repr(C)]
struct Other {
    a: u32,
}

#[derive(FlatMessage)]
#[flat(string, strict)]
#[repr(C)]
struct Name {
    len: u32,
    data: [u8; 4],
}

fn main() {}
