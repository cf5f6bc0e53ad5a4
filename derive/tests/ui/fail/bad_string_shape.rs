// flatipc is a dev-dependency under another name (see derive/Cargo.toml).
extern crate flatipc_renamed as flatipc;
use flatipc::prelude::*;

#[derive(FlatMessage)]
#[flat(string)]
#[repr(C)]
struct Name {
    len: u32,
    bytes: [u8; 12],
}

fn main() {}
