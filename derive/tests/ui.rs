//! Compile-time behaviour of `#[derive(FlatMessage)]`: what must compile (`ui/pass`) and what must
//! not, with the exact error (`ui/fail/*.stderr`).
//!
//! The expected `.stderr` files depend on the rustc version. After a toolchain update, regenerate
//! them with `TRYBUILD=overwrite cargo test -p flatipc-derive --test ui` and read the diff: every
//! message must still say what is wrong and what to do.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
