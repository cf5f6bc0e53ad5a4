// flatipc is a dev-dependency under another name (see derive/Cargo.toml).
extern crate flatipc_renamed as flatipc;
use flatipc::prelude::*;

#[derive(FlatMessage)]
#[flat(vector)]
#[repr(C)]
struct Ids {
    count: u32,
    items: [u64; 4],
}

fn main() {}
