//! # flatipc-gen — the flatipc schema compiler
//!
//! Turns `.fidl` schemas (FIDL syntax, flat subset, plus inline `string<N>` and `vector<T, N>`)
//! into `#[repr(C)]` Rust types and C headers with the same layout, proved on both sides by
//! compile-time assertions, and into a JSON IR.
//!
//! Guarantees:
//! - **One layout.** Sizes, alignments, offsets, padding and fingerprints are computed once, in
//!   the [`ir`], and every backend prints those numbers.
//! - **Deterministic output.** The same input gives byte-identical files.
//! - **Every error, with a fix.** [`compile_files`] reports every schema error it finds, each with
//!   a stable code (`docs/ERRORS.md`), a location and a hint. It never panics on any input.
//!
//! Pipeline: [`parse`] (text → [`ast`]) → [`check`] (AST → validated [`ir`] with layout) →
//! [`backend`] (IR → Rust, C, JSON). Only [`compile`] and [`builder`] touch the file system.
//! [`compat`] compares two IRs (compiled, or read back from JSON) for `flatipc-gen compat`.
//!
//! ```
//! let schema = flatipc_gen::compile_sources(&[(
//!     "ping.fidl",
//!     "library demo.ping;\n@message(id=1)\ntype Ping = struct { seq uint64; urgent bool; };",
//! )])
//! .unwrap();
//! let rust = flatipc_gen::backend::rust::generate(&schema, schema.roots[0]);
//! assert!(rust.starts_with("// @generated"));
//! assert!(rust.contains("pub _pad0: [u8; 7]"));
//! ```
#![deny(missing_docs)]

pub mod ast;
pub mod backend;
pub mod builder;
pub mod check;
pub mod compat;
pub mod compile;
pub mod diagnostic;
pub mod ir;
pub mod parse;
#[doc(hidden)]
pub mod testing;

pub use builder::{BuildError, Builder, GeneratedFile, Output};
pub use compile::{compile_files, compile_sources};
pub use diagnostic::{Diagnostic, Diagnostics, ErrorCode};
