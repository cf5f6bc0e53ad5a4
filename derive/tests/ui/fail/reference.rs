// flatipc is a dev-dependency under another name (see derive/Cargo.toml).
extern crate flatipc_renamed as flatipc;
use flatipc::prelude::*;

#[derive(FlatMessage)]
#[repr(C)]
struct Msg {
    value: &'static u64,
}

fn main() {}
