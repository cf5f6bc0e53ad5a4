//! Generates the market-data schema for Rust (OUT_DIR) and C (OUT_DIR/include), then compiles
//! the C peer (`c/peer.c`, against `runtime/include/flatipc.h`) with the system C compiler twice:
//! optimised, and with AddressSanitizer and UndefinedBehaviorSanitizer; and the threaded
//! broadcast stress run (`c/tsan.c`) with ThreadSanitizer, if the compiler can (the test that
//! runs it says so when it could not be built).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() -> Result<(), flatipc_gen::BuildError> {
    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest.join("../..");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let generated = out.join("include");
    flatipc_gen::Builder::new()
        .schema(root.join("schemas/market.fidl"))
        .include_dir(root.join("schemas"))
        .c_out(&generated)
        .compile()?;

    let runtime_include = root.join("runtime/include");
    for watched in [manifest.join("c"), runtime_include.join("flatipc.h")] {
        println!("cargo:rerun-if-changed={}", watched.display());
    }
    let cc = cc::Build::new().cargo_metadata(false).get_compiler();
    let cxx = cc::Build::new().cargo_metadata(false).cpp(true).get_compiler();
    let includes = [runtime_include.clone(), generated.clone()];
    let source = manifest.join("c/peer.c");
    let warnings = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"];
    compile(cc.path(), &warnings, &["-O2"], &includes, &source, &out.join("peer"));
    compile(
        cc.path(),
        &warnings,
        &[
            "-O1",
            "-g",
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            "-fno-omit-frame-pointer",
        ],
        &includes,
        &source,
        &out.join("peer-asan"),
    );
    // ThreadSanitizer cannot model fences (-Wtsan says so); every slot byte the broadcast rings
    // share is an atomic, so no race can hide behind one.
    let tsan = out.join("tsan");
    let tsan_built = try_compile(
        cc.path(),
        &warnings,
        &["-O1", "-g", "-fsanitize=thread", "-Wno-tsan", "-pthread"],
        &includes,
        &manifest.join("c/tsan.c"),
        &tsan,
    );
    if let Err(e) = &tsan_built {
        println!("cargo:warning=the ThreadSanitizer stress run is not built: {e}");
    }
    let env = [
        ("FLATIPC_XL_TSAN", if tsan_built.is_ok() { tsan } else { PathBuf::new() }),
        ("FLATIPC_XL_PEER", out.join("peer")),
        ("FLATIPC_XL_PEER_ASAN", out.join("peer-asan")),
        ("FLATIPC_XL_CC", cc.path().to_path_buf()),
        ("FLATIPC_XL_CXX", cxx.path().to_path_buf()),
        ("FLATIPC_XL_RUNTIME_INCLUDE", runtime_include),
        ("FLATIPC_XL_GENERATED_INCLUDE", generated),
        ("FLATIPC_XL_C_DIR", manifest.join("c")),
    ];
    for (key, path) in env {
        println!("cargo:rustc-env={key}={}", path.display());
    }
    Ok(())
}

/// Compiles `source` into the executable `exe`; a compiler error fails the build with its output.
fn compile(
    compiler: &Path,
    warnings: &[&str],
    flags: &[&str],
    includes: &[PathBuf],
    source: &Path,
    exe: &Path,
) {
    if let Err(e) = try_compile(compiler, warnings, flags, includes, source, exe) {
        panic!("{e}");
    }
}

/// Compiles `source` into the executable `exe`, or says why it could not.
fn try_compile(
    compiler: &Path,
    warnings: &[&str],
    flags: &[&str],
    includes: &[PathBuf],
    source: &Path,
    exe: &Path,
) -> Result<(), String> {
    let mut command = Command::new(compiler);
    command.args(warnings).args(flags);
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
