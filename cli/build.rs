//! Compiles the tests' message library, `tests/clitest.fidl`, to Rust in OUT_DIR, as users do:
//! the tests create live rings of it and run the `flatipc` binary against them. The binary
//! itself does not use the generated code.
fn main() -> Result<(), flatipc_gen::BuildError> {
    flatipc_gen::Builder::new().schema("tests/clitest.fidl").compile()
}
