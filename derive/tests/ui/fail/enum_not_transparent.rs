// flatipc is a dev-dependency under another name (see derive/Cargo.toml).
extern crate flatipc_renamed as flatipc;
use flatipc::prelude::*;

#[derive(FlatMessage)]
#[flat(enum)]
#[repr(C)]
struct Side(pub u8);

fn main() {}
