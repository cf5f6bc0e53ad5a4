//! The runtime helpers of generated C headers at work: `tests/c/runtime_helpers.c` includes
//! `flatipc.h` (`runtime/include`) and the headers of `schemas/market.fidl`, and drives a typed
//! channel and a framed stream through the generated wrappers in one process, with valid and
//! invalid messages, dispatch and hand-made frames. Compiled as C11 and as C++17; each prints
//! one line per check, compared here with what the helpers must return.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::c_probe::{compile, run, write, CXX_COMPILER, C_COMPILER};
use common::fresh_dir;
use flatipc_gen::backend::c;
use flatipc_gen::compile_files;
use flatipc_gen::ir::LibraryId;

/// What the program prints: flatipc.h codes (FLATIPC_E_EMPTY -1, FLATIPC_E_DISCONNECTED -4,
/// FLATIPC_E_INVALID_ARGUMENT -11) and the generated ones (FLATIPC_GEN_INVALID_ENUM -102,
/// FLATIPC_GEN_INVALID_LENGTH -104, FLATIPC_GEN_SIZE_MISMATCH -110, FLATIPC_GEN_HANDLED 1,
/// FLATIPC_GEN_NO_HANDLER 0, FLATIPC_GEN_UNKNOWN_ID 2).
const EXPECTED: &str = "\
channel writer 0
channel reader 0
loan 0
commit 0
send invalid 0
send 0
loan_timeout 0
abandon 1
recv 0
recv sequence 1
release 0
recv invalid (skipped) -102
null after invalid 1
try_recv 0
try_recv sequence 3
release 0
empty -1
null out-pointer -11
disconnected -4
remove 0
stream writer 0
stream reader 0
message count 4
table quote id 1
send trade 0
loan quote 0
commit quote 0
send invalid status 0
send book 0
loan_timeout book 0
abandon 1
recv trade 0
dispatch trade 1
trade from_frame 1
quote from_frame 0
release 0
recv quote 0
dispatch quote 1
release 0
recv status 0
dispatch invalid status -104
invalid from_frame 0
release 0
recv book 0
dispatch without handler 0
dispatch without handlers 0
release 0
trades 1
quotes 1
last 11
unknown id 2
size mismatch -110
size mismatch from_frame 0
null frame -11
quotes unchanged 1
widened dispatch 1
widened from_frame 1
newer dispatch 1
quotes 3
set_buffer 0
set_buffer too small -11
disconnected -4
remove 0
strerror invalid message: a string that is not UTF-8
strerror falls back 1
is_invalid 1
is_invalid 0
";

/// Removes `/dev/shm/flatipc.<prefix>*` when dropped (the program removes them itself unless
/// it fails half-way).
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for end in ["channel", "stream"] {
            let _ = std::fs::remove_file(format!("/dev/shm/flatipc.{}-{end}", self.0));
        }
    }
}

#[test]
fn generated_wrappers_drive_channels_streams_and_dispatch() {
    let schemas = Path::new("../schemas");
    let schema = compile_files(&[schemas.join("market.fidl")], &[PathBuf::from(schemas)])
        .unwrap_or_else(|d| panic!("{}", d.render(false)));
    let dir = fresh_dir("c_runtime");
    for lib in 0..schema.libraries.len() {
        let lib = LibraryId(lib);
        let header = c::generate(&schema, lib);
        write(&dir.join(c::file_name(&schema, lib)), &header).unwrap();
    }
    let source = Path::new("tests/c/runtime_helpers.c");
    for (compiler, file, exe) in [
        (C_COMPILER, "runtime_helpers.c", "helpers_c"),
        (CXX_COMPILER, "runtime_helpers.cpp", "helpers_cpp"),
    ] {
        std::fs::copy(source, dir.join(file)).expect("copy the C program");
        compile(compiler, &dir, &dir.join(file), Some(&dir.join(exe)))
            .unwrap_or_else(|e| panic!("{e}"));
        let prefix = format!("cgen-rt-{}-{exe}", std::process::id());
        let _cleanup = Cleanup(prefix.clone());
        let mut cmd = Command::new(dir.join(exe));
        cmd.arg(&prefix);
        let printed = run(cmd, exe).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(printed, EXPECTED, "{} build", compiler.0);
    }
}
