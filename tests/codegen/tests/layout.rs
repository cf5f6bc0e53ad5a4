//! The layout rustc computes for generated types equals the layout in the IR, for every struct of
//! the example schemas, the valid corpus and the random schemas (the property test: random
//! valid schemas, IR layout == rustc layout).

use std::collections::HashMap;

use flatipc_codegen_tests::LAYOUTS;
use serde_json::Value;

fn ir_structs() -> HashMap<String, Value> {
    let mut out = HashMap::new();
    for file in ["market/ir.json", "corpus/ir.json"] {
        let path = std::path::Path::new(env!("OUT_DIR")).join(file);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let ir: Value = serde_json::from_str(&text).expect("ir.json is JSON");
        for lib in ir["libraries"].as_array().expect("libraries") {
            for decl in lib["declarations"].as_array().expect("declarations") {
                if decl["kind"] == "struct" {
                    out.insert(decl["fqn"].as_str().expect("fqn").to_string(), decl.clone());
                }
            }
        }
    }
    out
}

fn hex(v: &Value) -> u64 {
    let s = v.as_str().expect("fingerprint string");
    u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex fingerprint")
}

#[test]
fn rustc_layout_equals_ir_layout() {
    let ir = ir_structs();
    assert!(LAYOUTS.len() > 50, "expected many structs, got {}", LAYOUTS.len());
    for (fqn, size, align, fingerprint, members) in LAYOUTS {
        let decl = ir.get(*fqn).unwrap_or_else(|| panic!("{fqn} missing from the IR"));
        assert_eq!(*size as u64, decl["size"].as_u64().unwrap(), "{fqn} size");
        assert_eq!(*align as u64, decl["align"].as_u64().unwrap(), "{fqn} align");
        assert_eq!(*fingerprint, hex(&decl["fingerprint"]), "{fqn} fingerprint");
        // Members removed by schema evolution are reserved bytes, not `MEMBERS`.
        let ir_members: Vec<&Value> = decl["members"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["available"]["removed"].is_null())
            .collect();
        assert_eq!(members.len(), ir_members.len(), "{fqn} member count");
        for (m, irm) in members.iter().zip(ir_members) {
            assert_eq!(m.name, irm["name"].as_str().unwrap(), "{fqn} member order");
            assert_eq!(m.offset as u64, irm["offset"].as_u64().unwrap(), "{fqn}.{} offset", m.name);
            assert_eq!(m.size as u64, irm["size"].as_u64().unwrap(), "{fqn}.{} size", m.name);
            assert_eq!(
                m.fingerprint,
                hex(&irm["type"]["fingerprint"]),
                "{fqn}.{} fingerprint",
                m.name
            );
        }
    }
}
