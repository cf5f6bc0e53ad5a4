//! JSON backend: the IR as a stable, documented JSON document (`docs/IR.md`).
//!
//! Types refer to declarations by fully qualified name (`market.data/Quote`); fingerprints are
//! hex strings, since JSON numbers above 2^53 lose precision in many readers. [`read`] reads a
//! document back (for `flatipc-gen compat`).

mod read;

pub use read::{read, ReadError};

use serde_json::{json, Value};

use crate::ir::{ConstType, ConstValue, DeclKind, Schema, Type, TypeKind};

/// Version of the JSON IR format; bumped on any incompatible change.
pub const IR_FORMAT_VERSION: u32 = 2;

/// The whole schema as a JSON value.
pub fn to_value(schema: &Schema) -> Value {
    let libraries: Vec<Value> = schema
        .libraries
        .iter()
        .map(|lib| {
            json!({
                "name": lib.name,
                "version": lib.version,
                "docs": lib.docs,
                "files": lib.files.iter().map(|p| p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())).collect::<Vec<_>>(),
                "imports": lib.imports.iter().map(|l| schema.library(*l).name.clone()).collect::<Vec<_>>(),
                "declarations": lib.decls.iter().map(|id| decl(schema, *id)).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "flatipc_ir_version": IR_FORMAT_VERSION,
        "libraries": libraries,
    })
}

/// The whole schema as pretty-printed JSON text (with a trailing newline).
pub fn generate(schema: &Schema) -> String {
    let mut s = serde_json::to_string_pretty(&to_value(schema)).unwrap_or_default();
    s.push('\n');
    s
}

fn hex(fp: u64) -> String {
    format!("{fp:#018x}")
}

fn int(v: i128) -> Value {
    if let Ok(i) = i64::try_from(v) {
        json!(i)
    } else if let Ok(u) = u64::try_from(v) {
        json!(u)
    } else {
        json!(v.to_string())
    }
}

fn fqn(schema: &Schema, id: crate::ir::DeclId) -> String {
    let d = schema.decl(id);
    format!("{}/{}", schema.library(d.library).name, d.name)
}

fn ty(schema: &Schema, t: &Type) -> Value {
    let mut v = match &t.kind {
        TypeKind::Prim(p) => json!({ "kind": "primitive", "name": p.schema_name() }),
        TypeKind::Array { elem, len } => {
            json!({ "kind": "array", "element": ty(schema, elem), "length": len })
        }
        TypeKind::Named(id) => json!({ "kind": "named", "name": fqn(schema, *id) }),
    };
    v["size"] = json!(t.size);
    v["align"] = json!(t.align);
    v["fingerprint"] = json!(hex(t.fingerprint));
    v
}

fn decl(schema: &Schema, id: crate::ir::DeclId) -> Value {
    let d = schema.decl(id);
    let mut v = match &d.kind {
        DeclKind::Struct(s) => json!({
            "kind": "struct",
            "size": s.size,
            "align": s.align,
            "fingerprint": hex(s.fingerprint),
            "message": s.message.map(|m| json!({ "id": m.id, "explicit": m.explicit })),
            "steps": s.steps.iter().map(|step| json!({
                "version": step.version,
                "size": step.size,
                "fingerprint": hex(step.fingerprint),
            })).collect::<Vec<_>>(),
            "members": s.members.iter().map(|m| json!({
                "name": m.name,
                "docs": m.docs,
                "type": ty(schema, &m.ty),
                "offset": m.offset,
                "size": m.ty.size,
                "align": m.ty.align,
                "padding_after": m.padding_after,
                "available": m.available.map(|a| json!({ "added": a.added, "deprecated": a.deprecated, "removed": a.removed })),
            })).collect::<Vec<_>>(),
        }),
        DeclKind::Enum(e) | DeclKind::Bits(e) => {
            let bits = matches!(d.kind, DeclKind::Bits(_));
            let mut v = json!({
                "kind": if bits { "bits" } else { "enum" },
                "size": e.underlying.size(),
                "align": e.underlying.size(),
                "fingerprint": hex(e.fingerprint),
                "underlying": e.underlying.schema_name(),
                "strict": e.strict,
                "members": e.members.iter().map(|m| json!({ "name": m.name, "docs": m.docs, "value": int(m.value) })).collect::<Vec<_>>(),
            });
            if bits {
                v["mask"] = int(e.members.iter().fold(0, |acc, m| acc | m.value));
            }
            v
        }
        DeclKind::String(b) | DeclKind::Vector(b) => {
            let vector = matches!(d.kind, DeclKind::Vector(_));
            let mut v = json!({
                "kind": if vector { "vector" } else { "string" },
                "size": b.size,
                "align": b.align,
                "fingerprint": hex(b.fingerprint),
                "capacity": b.capacity,
                "items_offset": b.items_offset,
                "padding_after": b.padding_after,
            });
            if vector {
                v["element"] = ty(schema, &b.elem);
            }
            v
        }
        DeclKind::Alias(t) => json!({
            "kind": "alias",
            "type": ty(schema, t),
            "size": t.size,
            "align": t.align,
            "fingerprint": hex(t.fingerprint),
        }),
        DeclKind::Const(c) => json!({
            "kind": "const",
            "type": match &c.ty {
                ConstType::Prim(p) => json!({ "kind": "primitive", "name": p.schema_name() }),
                ConstType::Named(id) => json!({ "kind": "named", "name": fqn(schema, *id) }),
                ConstType::String => json!({ "kind": "string" }),
            },
            "value": match &c.value {
                ConstValue::Int(i) => int(*i),
                ConstValue::Float(f) => json!(f),
                ConstValue::Bool(b) => json!(b),
                ConstValue::String(s) => json!(s),
            },
        }),
    };
    v["name"] = json!(d.name);
    v["fqn"] = json!(fqn(schema, id));
    v["docs"] = json!(d.docs);
    v
}
