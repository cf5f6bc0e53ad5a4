//! Helpers shared by the compiler's integration tests (each test crate uses a subset).
#![allow(dead_code)]

pub mod builder;
pub mod c_probe;

use std::fs;
use std::path::{Path, PathBuf};

/// An empty scratch directory `name` under Cargo's per-target temporary directory.
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    if dir.exists() {
        fs::remove_dir_all(&dir).expect("remove old scratch directory");
    }
    fs::create_dir_all(&dir).expect("create scratch directory");
    dir
}
