//! Arbitrary bytes (as lossy UTF-8) through the whole compiler: `compile_sources` must return
//! a schema or diagnostics, never panic or hang; on success every backend must run without
//! panicking (the Rust backend re-parses its own output, so invalid Rust is a crash too).
//!
//! A NUL byte splits the input into two files, so that imports between libraries, duplicate
//! libraries and cross-library name lookups are exercised as well.
#![no_main]

use flatipc_gen::builder::{generate, Output};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let sources: Vec<(&str, &str)> = match text.split_once('\0') {
        Some((first, second)) => vec![("a.fidl", first), ("b.fidl", second)],
        None => vec![("a.fidl", &text)],
    };
    match flatipc_gen::compile_sources(&sources) {
        Ok(schema) => {
            for output in [Output::Rust, Output::C, Output::Json] {
                let _ = generate(&schema, output);
            }
        }
        Err(diagnostics) => {
            assert!(!diagnostics.errors.is_empty(), "an error without a diagnostic");
            let _ = diagnostics.render(false);
        }
    }
});
