//! Compiles `schemas/market.fidl` to Rust (into OUT_DIR) and to C headers (into OUT_DIR/include).
fn main() -> Result<(), flatipc_gen::BuildError> {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    flatipc_gen::Builder::new()
        .schema("../../schemas/market.fidl")
        .include_dir("../../schemas")
        .c_out(out.join("include"))
        .compile()?;
    println!("cargo:rustc-env=QUICKSTART_C_INCLUDE={}", out.join("include").display());
    Ok(())
}
