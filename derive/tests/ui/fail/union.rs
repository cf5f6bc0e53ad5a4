// flatipc is a dev-dependency under another name (see derive/Cargo.toml).
extern crate flatipc_renamed as flatipc;
use flatipc::prelude::*;

#[derive(FlatMessage)]
#[repr(C)]
union Msg {
    a: u32,
    b: f32,
}

fn main() {}
