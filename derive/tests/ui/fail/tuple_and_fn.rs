// flatipc is a dev-dependency under another name (see derive/Cargo.toml).
extern crate flatipc_renamed as flatipc;
use flatipc::prelude::*;

#[derive(FlatMessage)]
#[repr(C)]
struct Msg {
    pair: (u32, u32),
    callback: fn(u32),
    boxed: Box<u32>,
    ch: char,
}

fn main() {}
