// flatipc is a dev-dependency under another name (see derive/Cargo.toml).
extern crate flatipc_renamed as flatipc;
use flatipc::prelude::*;

#[derive(FlatMessage)]
#[repr(C, align(16))]
struct Msg {
    a: u32,
}

fn main() {}
