//! Generates the market-data schema for Rust (OUT_DIR) and C (OUT_DIR/include), then compiles
//! the C peer (`c/peer.c`, against `runtime/include/flatipc.h`) with the system C compiler twice:
//! optimised, and with AddressSanitizer and UndefinedBehaviorSanitizer; and the threaded
//! broadcast stress run (`c/tsan.c`) with ThreadSanitizer, if the compiler can (the test that
//! runs it says so when it could not be built).
//!
//! For the version-skew matrix (`tests/skew.rs`) it also generates the three releases of
//! `schemas/evolution/` (`v1`, `v2` and the deliberately incompatible `conflict`), each into its
//! own directory (`OUT_DIR/skew_<release>/market_evo.rs` and `.../include/market_evo.h`, as they
//! declare the same library), and compiles the C skew peer (`c/skew.c`) once per release, and
//! for `v1` and `v2` once more with AddressSanitizer and UndefinedBehaviorSanitizer. Those
//! compiles are allowed to fail: the build goes on with a warning and the skew tests report the
//! compiler's output.

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
    compile(cc.path(), &warnings, &SANITIZED, &includes, &source, &out.join("peer-asan"));
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
    let skew_source = manifest.join("c/skew.c");
    let skew = skew_peers(&root, &out, cc.path(), &warnings, &runtime_include, &skew_source)?;
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
    for (key, path) in skew {
        println!("cargo:rustc-env={key}={}", path.display());
    }
    Ok(())
}

/// The flags of the sanitized C peers (AddressSanitizer and UndefinedBehaviorSanitizer).
const SANITIZED: [&str; 5] = [
    "-O1",
    "-g",
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
    "-fno-omit-frame-pointer",
];

/// The releases of `schemas/evolution/` that the skew peers are built from: (directory under
/// `schemas/evolution/`, the C peer's define, whether a sanitized peer is built too).
const SKEW_RELEASES: [(&str, &str, bool); 3] =
    [("v1", "-DSKEW_V1", true), ("v2", "-DSKEW_V2", true), ("conflict", "-DSKEW_CONFLICT", false)];

/// Generates each skew release for Rust and C into `OUT_DIR/skew_<release>/` and compiles
/// `source` (`c/skew.c`) against each header. Returns the environment the tests read:
/// `FLATIPC_XL_SKEW_<RELEASE>` (the C peer) and, for the releases marked so,
/// `FLATIPC_XL_SKEW_<RELEASE>_ASAN` (its sanitized build), each an empty path when it did not
/// compile; and
/// `FLATIPC_XL_SKEW_C_ERRORS` (a file holding the compiler output of the failed compiles).
fn skew_peers(
    root: &Path,
    out: &Path,
    compiler: &Path,
    warnings: &[&str],
    runtime_include: &Path,
    source: &Path,
) -> Result<Vec<(String, PathBuf)>, flatipc_gen::BuildError> {
    let mut env = Vec::new();
    let mut errors = String::new();
    for (release, define, sanitized) in SKEW_RELEASES {
        let dir = out.join(format!("skew_{release}"));
        let include = dir.join("include");
        flatipc_gen::Builder::new()
            .schema(root.join(format!("schemas/evolution/{release}/market.fidl")))
            .rust_out(&dir)
            .c_out(&include)
            .compile()?;
        let includes = [runtime_include.to_path_buf(), include];
        let key = format!("FLATIPC_XL_SKEW_{}", release.to_uppercase());
        // (environment key suffix, executable suffix, flags)
        let plain: (&str, &str, &[&str]) = ("", "", &["-O2"]);
        let asan: (&str, &str, &[&str]) = ("_ASAN", "-asan", &SANITIZED);
        let builds = if sanitized { vec![plain, asan] } else { vec![plain] };
        for (key_suffix, exe_suffix, flags) in builds {
            let exe = out.join(format!("skew-{release}{exe_suffix}"));
            let flags = [flags, &[define]].concat();
            let path = match try_compile(compiler, warnings, &flags, &includes, source, &exe) {
                Ok(()) => exe,
                Err(e) => {
                    println!(
                        "cargo:warning=the C skew peer ({release}{exe_suffix}) is not built; the \
                         skew tests that need it will fail with the compiler output"
                    );
                    errors.push_str(&format!("c/skew.c ({release}{exe_suffix}): {e}\n"));
                    PathBuf::new()
                }
            };
            env.push((format!("{key}{key_suffix}"), path));
        }
    }
    let errors_file = out.join("skew-c-errors.txt");
    std::fs::write(&errors_file, errors)
        .map_err(|source| flatipc_gen::BuildError::Io { path: errors_file.clone(), source })?;
    env.push(("FLATIPC_XL_SKEW_C_ERRORS".to_string(), errors_file));
    Ok(env)
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
