//! Everything the demo runs, built by `cargo run -p flatipc-demo` alone (a fresh machine needs
//! Rust and a C compiler, nothing else):
//!
//! 1. `schemas/market.fidl` (library `market.data`, which imports `market.common`) for Rust
//!    (`OUT_DIR/market_data.rs`, `OUT_DIR/market_common.rs`) and for C (`OUT_DIR/include/`);
//! 2. the two releases of `schemas/evolution/` (library `market.evo`, versions 1 and 2) for the
//!    `--upgrade` mode, each into its own directory because they declare the same library
//!    (`OUT_DIR/evo_v1/market_evo.rs`, `OUT_DIR/evo_v1/include/market_evo.h`, same for `evo_v2`);
//! 3. the C strategy `c/strategy.c`, compiled with the `cc` crate's compiler (C11, warnings as
//!    errors) against `runtime/include/flatipc.h` once per schema it reads: `strategy-market`
//!    (`-DDEMO_MARKET`, the basic mode) and `strategy-evo-v1` (`-DDEMO_EVO_V1`, the upgrade mode's
//!    version-1 consumer).
//!
//! The binary finds the executables through `FLATIPC_DEMO_C_MARKET` and `FLATIPC_DEMO_C_EVO_V1`.
//! A failed compile of the basic strategy fails the build with the compiler's output; a failed
//! compile of the upgrade strategy only warns (the versioned C runtime may be older than the
//! demo), and `--upgrade` then reports the compiler output from `FLATIPC_DEMO_C_ERRORS`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Flags of every C compile: the strictest the project asks of C code, and optimised.
const C_FLAGS: [&str; 6] = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2"];

fn main() -> Result<(), flatipc_gen::BuildError> {
    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest.join("..");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let runtime_include = root.join("runtime/include");
    let source = manifest.join("c/strategy.c");
    for watched in [&source, &runtime_include.join("flatipc.h")] {
        println!("cargo:rerun-if-changed={}", watched.display());
    }
    let compiler = cc::Build::new().cargo_metadata(false).get_compiler();

    // The basic mode: market.data, Rust into OUT_DIR, C into OUT_DIR/include.
    let market_include = out.join("include");
    flatipc_gen::Builder::new()
        .schema(root.join("schemas/market.fidl"))
        .include_dir(root.join("schemas"))
        .c_out(&market_include)
        .compile()?;
    let market = out.join("strategy-market");
    let includes = [runtime_include.clone(), market_include];
    if let Err(e) = compile(compiler.path(), "-DDEMO_MARKET", &includes, &source, &market) {
        panic!("{e}");
    }

    // The upgrade mode: market.evo at versions 1 and 2; the C strategy is a version-1 reader.
    let mut errors = String::new();
    let mut evo_v1 = PathBuf::new();
    for release in ["v1", "v2"] {
        let dir = out.join(format!("evo_{release}"));
        flatipc_gen::Builder::new()
            .schema(root.join(format!("schemas/evolution/{release}/market.fidl")))
            .rust_out(&dir)
            .c_out(dir.join("include"))
            .compile()?;
        if release == "v1" {
            let exe = out.join("strategy-evo-v1");
            let includes = [runtime_include.clone(), dir.join("include")];
            match compile(compiler.path(), "-DDEMO_EVO_V1", &includes, &source, &exe) {
                Ok(()) => evo_v1 = exe,
                Err(e) => {
                    println!(
                        "cargo:warning=the C strategy of the upgrade mode is not built; \
                         `flatipc-demo --upgrade` will fail with the compiler output"
                    );
                    errors.push_str(&e);
                }
            }
        }
    }
    let errors_file = out.join("strategy-errors.txt");
    std::fs::write(&errors_file, errors)
        .map_err(|source| flatipc_gen::BuildError::Io { path: errors_file.clone(), source })?;

    for (key, path) in [
        ("FLATIPC_DEMO_C_MARKET", market),
        ("FLATIPC_DEMO_C_EVO_V1", evo_v1),
        ("FLATIPC_DEMO_C_ERRORS", errors_file),
    ] {
        println!("cargo:rustc-env={key}={}", path.display());
    }
    Ok(())
}

/// Compiles `source` with `define` into the executable `exe`, or says why it could not.
fn compile(
    compiler: &Path,
    define: &str,
    includes: &[PathBuf],
    source: &Path,
    exe: &Path,
) -> Result<(), String> {
    let mut command = Command::new(compiler);
    command.args(C_FLAGS).arg(define);
    for dir in includes {
        command.arg("-I").arg(dir);
    }
    command.arg(source).arg("-o").arg(exe);
    let output = command.output().map_err(|e| {
        format!("cannot run the C compiler {}: {e} (install gcc, or set CC)", compiler.display())
    })?;
    if !output.status.success() {
        return Err(format!(
            "{command:?} failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}
