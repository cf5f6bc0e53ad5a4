// flatipc is a dev-dependency under another name (see derive/Cargo.toml).
extern crate flatipc_renamed as flatipc;
use flatipc::prelude::*;

#[derive(Clone, Copy, PartialEq, Eq, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(enum, strict)]
#[repr(transparent)]
pub struct Side(pub u8);

impl Side {
    pub const BUY: Side = Side(1);
    pub const SELL: Side = Side(2);

    pub const fn is_known(self) -> bool {
        matches!(self.0, 1 | 2)
    }
}

#[derive(Clone, Copy, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(enum)]
#[repr(transparent)]
pub struct Venue(pub i64);

// Options may be split over several attributes.
#[derive(Clone, Copy, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(bits)]
#[flat(strict)]
#[repr(transparent)]
pub struct Flags(pub u16);

impl Flags {
    pub const fn is_known(self) -> bool {
        self.0 & !0b11 == 0
    }
}

fn main() {
    assert!(Side::BUY.validate().is_ok());
    assert!(Side::SELL.validate().is_ok());
    assert!(Side(3).validate().is_err());
    assert!(Venue(-1).validate().is_ok());
    assert!(Flags(4).validate().is_err());
}
