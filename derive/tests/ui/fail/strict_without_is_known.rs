// flatipc is a dev-dependency under another name (see derive/Cargo.toml).
extern crate flatipc_renamed as flatipc;
use flatipc::prelude::*;

#[derive(Clone, Copy, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(enum, strict)]
#[repr(transparent)]
struct Side(pub u8);

fn main() {}
