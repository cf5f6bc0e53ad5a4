//! Compiles the example schemas, the valid corpus and a set of random schemas with
//! `flatipc_gen::Builder`, exactly as a user's build script would, and writes a table of
//! rustc-computed layouts and one of the generated message sets for the tests to compare with the
//! IR.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() -> Result<(), flatipc_gen::BuildError> {
    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest.join("../..");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));

    // 1. The example schemas, through the public builder API.
    flatipc_gen::Builder::new()
        .schema(root.join("schemas/market.fidl"))
        .include_dir(root.join("schemas"))
        .json_out(out.join("market"))
        .compile()?;

    // 2. The two releases of the schema-evolution example, each in its own directory (they
    //    declare the same library): `evolution_v1/market_evo.rs`, `evolution_v2/market_evo.rs`.
    for version in ["v1", "v2"] {
        flatipc_gen::Builder::new()
            .schema(root.join(format!("schemas/evolution/{version}/market.fidl")))
            .rust_out(out.join(format!("evolution_{version}")))
            .compile()?;
    }

    // 3. The valid corpus and random schemas, each in its own library.
    let mut sources: Vec<(String, String)> = Vec::new();
    let corpus = root.join("tests/corpus/valid");
    println!("cargo:rerun-if-changed={}", corpus.display());
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    entries.sort();
    for path in entries.iter().filter(|p| p.extension().is_some_and(|e| e == "fidl")) {
        let text = std::fs::read_to_string(path).expect("corpus file is readable");
        sources.push((path.display().to_string(), text));
    }
    for seed in 0..RANDOM_SCHEMAS {
        let text = flatipc_gen::testing::random_schema(&format!("random.s{seed}"), seed, 12);
        sources.push((format!("random{seed}.fidl"), text));
    }
    let refs: Vec<(&str, &str)> = sources.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    let schema = flatipc_gen::compile_sources(&refs).map_err(flatipc_gen::BuildError::Schema)?;
    flatipc_gen::builder::write_if_changed(
        &out,
        &flatipc_gen::builder::generate(&schema, flatipc_gen::Output::Rust),
    )?;
    flatipc_gen::builder::write_if_changed(
        &out.join("corpus"),
        &flatipc_gen::builder::generate(&schema, flatipc_gen::Output::Json),
    )?;

    // 4. Module declarations, the layout table and the message sets.
    let market =
        flatipc_gen::compile_files(&[root.join("schemas/market.fidl")], &[root.join("schemas")])
            .map_err(flatipc_gen::BuildError::Schema)?;
    let mut modules = String::new();
    let mut table = String::from("/// `(fully qualified name, size, align, fingerprint, members)` as rustc and the derive see them.\npub const LAYOUTS: &[(&str, usize, usize, u64, &[::flatipc::Member])] = &[\n");
    let mut sets = String::from("/// `(library, MessageSet::LIBRARY, MessageSet::MESSAGES)` of every generated `Library`.\npub const MESSAGE_SETS: &[(&str, &str, &[::flatipc::stream::MessageInfo])] = &[\n");
    for s in [&market, &schema] {
        for lib in &s.libraries {
            let m = lib.underscored();
            if modules.contains(&format!("pub mod {m} ")) {
                continue;
            }
            let _ = writeln!(modules, "pub mod {m} {{ ::flatipc::include_schema!(\"{m}\"); }}");
            let has_messages = lib.decls.iter().any(|id| {
                matches!(&s.decl(*id).kind, flatipc_gen::ir::DeclKind::Struct(st) if st.message.is_some())
            });
            if has_messages {
                let set = format!(
                    "<{}::Library as ::flatipc::stream::MessageSet>",
                    flatipc_gen::backend::rust::ident(&m)
                );
                let _ = writeln!(sets, "    (\"{}\", {set}::LIBRARY, {set}::MESSAGES),", lib.name);
            }
            for id in &lib.decls {
                let d = s.decl(*id);
                if let flatipc_gen::ir::DeclKind::Struct(_) = d.kind {
                    let path = format!(
                        "{}::{}",
                        flatipc_gen::backend::rust::ident(&m),
                        flatipc_gen::backend::rust::ident(&d.name)
                    );
                    let _ = writeln!(
                        table,
                        "    (\"{}/{}\", ::core::mem::size_of::<{path}>(), ::core::mem::align_of::<{path}>(), <{path} as ::flatipc::FlatType>::FINGERPRINT, <{path} as ::flatipc::FlatMessage>::MEMBERS),",
                        lib.name, d.name
                    );
                }
            }
        }
    }
    table.push_str("];\n");
    sets.push_str("];\n");
    table.push_str(&sets);
    write(&out.join("modules.rs"), &modules);
    write(&out.join("layouts.rs"), &table);
    Ok(())
}

const RANDOM_SCHEMAS: u64 = 40;

fn write(path: &Path, text: &str) {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return;
    }
    std::fs::write(path, text).expect("OUT_DIR is writable");
}
