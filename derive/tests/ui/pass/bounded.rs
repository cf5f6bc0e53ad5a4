//! Bounded strings and vectors; the generated accessors are documented (`missing_docs`).
#![deny(missing_docs)]

// flatipc is a dev-dependency under another name (see derive/Cargo.toml).
extern crate flatipc_renamed as flatipc;
use flatipc::prelude::*;

/// The bound of `Symbol`.
pub const SYMBOL_LEN: usize = 12;

/// A string whose bound is a named constant; `len` then `data`, no padding needed.
#[derive(Clone, Copy, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(string)]
#[repr(C)]
pub struct Symbol {
    len: u32,
    data: [u8; SYMBOL_LEN],
}

/// A vector of 8-aligned items: padding before and (none) after the items.
#[derive(Clone, Copy, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(vector)]
#[repr(C)]
pub struct Prices {
    len: u32,
    #[flat(padding)]
    _pad0: [u8; 4],
    items: [f64; 3],
}

/// A vector of strings, with trailing padding.
#[derive(Clone, Copy, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(vector)]
#[repr(C)]
pub struct Symbols {
    len: u32,
    items: [Symbol; 2],
}

/// A message built from them.
#[derive(Clone, Copy, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(id = 1)]
#[repr(C)]
pub struct Quote {
    symbol: Symbol,
    #[flat(padding)]
    _pad0: [u8; 0],
    prices: Prices,
    symbols: Symbols,
    #[flat(padding)]
    _pad1: [u8; 4],
}

fn main() {
    let quote = Quote {
        symbol: Symbol::new("ACME").unwrap(),
        _pad0: [],
        prices: Prices::from_slice(&[1.5, 2.5]).unwrap(),
        symbols: Symbols::from_slice(&[Symbol::new("A").unwrap()]).unwrap(),
        _pad1: [0; 4],
    };
    assert!(quote.validate().is_ok());
    assert_eq!(quote.symbol.as_str(), Ok("ACME"));
    assert_eq!(Symbol::CAPACITY, 12);
    assert_eq!(Prices::CAPACITY, 3);
}
