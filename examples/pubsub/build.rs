//! Compiles `schemas/market.fidl` to Rust in OUT_DIR.
fn main() -> Result<(), flatipc_gen::BuildError> {
    flatipc_gen::Builder::new()
        .schema("../../schemas/market.fidl")
        .include_dir("../../schemas")
        .compile()
}
