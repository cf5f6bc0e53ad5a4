// flatipc is a dev-dependency under another name (see derive/Cargo.toml).
extern crate flatipc_renamed as flatipc;
use flatipc::prelude::*;

#[derive(FlatMessage)]
#[flat(bits)]
#[repr(transparent)]
struct Perms(pub i32);

fn main() {}
