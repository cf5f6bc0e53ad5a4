// flatipc is a dev-dependency under another name (see derive/Cargo.toml).
extern crate flatipc_renamed as flatipc;
use flatipc::prelude::*;

#[derive(FlatMessage)]
#[repr(C, packed)]
struct Msg {
    a: u8,
    b: u32,
}

fn main() {}
