//! flatipc-gen: the flatipc schema compiler.
#![deny(missing_docs)]

pub mod ast;
pub mod diagnostic;
pub mod ir;
pub mod parse;
