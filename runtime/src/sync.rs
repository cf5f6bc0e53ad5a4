//! The one place atomics come from, switched by `cfg(loom)` so that loom can model every atomic
//! access of the ring protocol (`RUSTFLAGS="--cfg loom" cargo test -p flatipc --test loom`).

#[cfg(loom)]
#[allow(unused_imports)] // under loom only the position protocol is compiled; it needs fewer
pub(crate) use loom::sync::atomic::{fence, AtomicU32, AtomicU64, AtomicU8, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicU32, AtomicU64, AtomicU8, Ordering};
