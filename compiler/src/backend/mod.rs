//! Backends: each turns the checked IR ([`crate::ir`]) into the text of generated files.
//!
//! Architecture invariant: backends read only the IR; they never see the AST or source text and
//! never compute layout.

pub mod c;
pub mod json;
pub mod rust;
pub mod writer;
