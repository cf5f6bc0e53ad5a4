//! Decoding message bytes as JSON with the schema's IR: every number, offset and size comes from
//! the IR (`docs/IR.md`); nothing here computes a layout.
//!
//! The bytes are untrusted: a value the schema does not allow is shown as it is (an unknown enum
//! value or bit as its number), or as `{"invalid": "<why>"}` when it has no meaning (a `bool`
//! byte other than 0 and 1, a bounded string or vector longer than its bound, a string that is
//! not UTF-8), and no slice ever reaches past the bytes given.

use std::collections::HashMap;

use flatipc::MessageEntry;
use flatipc_gen::ir::{Bounded, DeclId, DeclKind, EnumLike, Prim, Schema, Struct, Type, TypeKind};
use serde_json::{json, Map, Number, Value};

/// A message type of the schema.
#[derive(Debug, Clone, Copy)]
pub struct MessageType<'s> {
    /// `<library>/<name>`.
    pub decl: DeclId,
    /// Its layout.
    pub layout: &'s Struct,
}

/// Decodes messages with one compiled schema.
#[derive(Debug)]
pub struct Decoder {
    schema: Schema,
    /// Message id → the struct with that id (messages of every library of the schema).
    by_id: HashMap<u32, DeclId>,
}

/// How a top-level message was decoded.
#[derive(Debug)]
pub struct Decoded {
    /// `<library>/<name>`.
    pub type_name: String,
    /// The members present at the message's version that its bytes hold.
    pub fields: Map<String, Value>,
    /// Bytes past the schema's layout (a newer writer's members this schema does not know).
    pub unknown_bytes: u64,
}

/// Nesting deeper than this is shown as `null` (the compiler bounds nesting at 64 anyway).
const MAX_DEPTH: usize = 80;

impl Decoder {
    /// A decoder for `schema`.
    pub fn new(schema: Schema) -> Decoder {
        let mut by_id = HashMap::new();
        for (index, decl) in schema.decls.iter().enumerate() {
            if let DeclKind::Struct(Struct { message: Some(info), .. }) = &decl.kind {
                by_id.entry(info.id).or_insert(DeclId(index));
            }
        }
        Decoder { schema, by_id }
    }

    /// `<library>/<name>` of a declaration.
    pub fn fqn(&self, id: DeclId) -> String {
        let decl = self.schema.decl(id);
        format!("{}/{}", self.schema.library(decl.library).name, decl.name)
    }

    /// The schema's message with id `id`.
    pub fn by_id(&self, id: u32) -> Option<MessageType<'_>> {
        let decl = *self.by_id.get(&id)?;
        self.message(decl)
    }

    /// The schema's struct that a segment's message table entry describes: the message with its
    /// id, or, for an entry without an id (a typed ring of a type that is not a message), the
    /// struct with one of its layout fingerprints.
    pub fn for_entry(&self, entry: &MessageEntry) -> Option<MessageType<'_>> {
        if entry.id != 0 {
            return self.by_id(entry.id);
        }
        let fingerprints: Vec<u64> = entry.steps().iter().map(|s| s.1).collect();
        (0..self.schema.decls.len())
            .map(DeclId)
            .filter_map(|id| self.message(id))
            .find(|m| m.layout.steps.iter().any(|s| fingerprints.contains(&s.fingerprint)))
    }

    fn message(&self, decl: DeclId) -> Option<MessageType<'_>> {
        match &self.schema.decl(decl).kind {
            DeclKind::Struct(layout) => Some(MessageType { decl, layout }),
            _ => None,
        }
    }

    /// Decodes a top-level message of type `message` written at `version` (`None`: unknown).
    /// Members added after `version`, or removed at or before it, are left out, as are members
    /// whose bytes `bytes` does not hold (an older, smaller message).
    pub fn decode(&self, message: MessageType<'_>, bytes: &[u8], version: Option<u16>) -> Decoded {
        let mut fields = Map::new();
        for member in &message.layout.members {
            if version.is_some_and(|v| !member.present_at(u64::from(v))) {
                continue;
            }
            let Some(member_bytes) = slice(bytes, member.offset, member.ty.size) else { continue };
            fields.insert(member.name.clone(), self.value(&member.ty, member_bytes, 0));
        }
        let unknown_bytes = (bytes.len() as u64).saturating_sub(message.layout.size);
        Decoded { type_name: self.fqn(message.decl), fields, unknown_bytes }
    }

    /// The value of type `ty` held by `bytes` (exactly `ty.size` bytes).
    fn value(&self, ty: &Type, bytes: &[u8], depth: usize) -> Value {
        if depth > MAX_DEPTH {
            return Value::Null;
        }
        match &ty.kind {
            TypeKind::Prim(prim) => prim_value(*prim, bytes),
            TypeKind::Array { elem, len } => Value::Array(
                (0..*len)
                    .map_while(|i| slice(bytes, i.checked_mul(elem.size)?, elem.size))
                    .map(|b| self.value(elem, b, depth + 1))
                    .collect(),
            ),
            TypeKind::Named(id) => self.named(*id, bytes, depth),
        }
    }

    fn named(&self, id: DeclId, bytes: &[u8], depth: usize) -> Value {
        let id = self.schema.resolve_alias(id);
        match &self.schema.decl(id).kind {
            DeclKind::Struct(s) => {
                let mut object = Map::new();
                for member in &s.members {
                    if let Some(b) = slice(bytes, member.offset, member.ty.size) {
                        object.insert(member.name.clone(), self.value(&member.ty, b, depth + 1));
                    }
                }
                Value::Object(object)
            }
            DeclKind::Enum(e) => enum_value(e, bytes),
            DeclKind::Bits(b) => bits_value(b, bytes),
            DeclKind::String(s) => string_value(s, bytes),
            DeclKind::Vector(v) => self.vector_value(v, bytes, depth),
            DeclKind::Alias(ty) => self.value(ty, bytes, depth + 1),
            DeclKind::Const(_) => Value::Null,
        }
    }

    fn vector_value(&self, v: &Bounded, bytes: &[u8], depth: usize) -> Value {
        let Some(len) = length(bytes) else { return Value::Null };
        if len > v.capacity {
            return json!({ "invalid": format!("length {len} exceeds the bound {}", v.capacity) });
        }
        Value::Array(
            (0..len)
                .map_while(|i| {
                    let offset = v.items_offset.checked_add(i.checked_mul(v.elem.size)?)?;
                    slice(bytes, offset, v.elem.size)
                })
                .map(|b| self.value(&v.elem, b, depth + 1))
                .collect(),
        )
    }
}

/// `bytes[offset .. offset + len]`, if it is inside.
fn slice(bytes: &[u8], offset: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    bytes.get(start..end)
}

/// The first `N` bytes as an array.
fn first<const N: usize>(bytes: &[u8]) -> Option<[u8; N]> {
    bytes.get(..N)?.try_into().ok()
}

/// The little-endian integer of a primitive's bytes, widened (`None` for floats, bool handled as
/// an integer).
fn integer(prim: Prim, bytes: &[u8]) -> Option<i128> {
    Some(match prim {
        Prim::Bool | Prim::Uint8 => i128::from(*bytes.first()?),
        Prim::Int8 => i128::from(i8::from_le_bytes(first(bytes)?)),
        Prim::Int16 => i128::from(i16::from_le_bytes(first(bytes)?)),
        Prim::Uint16 => i128::from(u16::from_le_bytes(first(bytes)?)),
        Prim::Int32 => i128::from(i32::from_le_bytes(first(bytes)?)),
        Prim::Uint32 => i128::from(u32::from_le_bytes(first(bytes)?)),
        Prim::Int64 => i128::from(i64::from_le_bytes(first(bytes)?)),
        Prim::Uint64 => i128::from(u64::from_le_bytes(first(bytes)?)),
        Prim::Float32 | Prim::Float64 => return None,
    })
}

/// A JSON number for an integer (exact for the whole `int64`/`uint64` range).
fn int_json(value: i128) -> Value {
    if let Ok(v) = u64::try_from(value) {
        Value::Number(v.into())
    } else if let Ok(v) = i64::try_from(value) {
        Value::Number(v.into())
    } else {
        Value::String(value.to_string())
    }
}

/// A float as a JSON number; `"NaN"`, `"inf"` and `"-inf"` as strings (JSON has no such numbers).
fn float_json(value: f64) -> Value {
    match Number::from_f64(value) {
        Some(n) => Value::Number(n),
        None if value.is_nan() => Value::String("NaN".to_owned()),
        None if value > 0.0 => Value::String("inf".to_owned()),
        None => Value::String("-inf".to_owned()),
    }
}

fn prim_value(prim: Prim, bytes: &[u8]) -> Value {
    match prim {
        // Through its shortest decimal form, so that `0.1f32` shows as 0.1, not 0.100000001….
        Prim::Float32 => first(bytes).map_or(Value::Null, |b| {
            let value = f32::from_le_bytes(b);
            float_json(value.to_string().parse().unwrap_or(f64::from(value)))
        }),
        Prim::Float64 => first(bytes).map_or(Value::Null, |b| float_json(f64::from_le_bytes(b))),
        Prim::Bool => match bytes.first() {
            Some(0) => Value::Bool(false),
            Some(1) => Value::Bool(true),
            Some(other) => json!({ "invalid": format!("bool byte {other}") }),
            None => Value::Null,
        },
        _ => integer(prim, bytes).map_or(Value::Null, int_json),
    }
}

/// An enum value: its member's name, or its number if no member has it.
fn enum_value(e: &EnumLike, bytes: &[u8]) -> Value {
    let Some(value) = integer(e.underlying, bytes) else { return Value::Null };
    match e.members.iter().find(|m| m.value == value) {
        Some(member) => Value::String(member.name.clone()),
        None => int_json(value),
    }
}

/// A bits value: the names of the member bits set, then the number of any other bits set.
fn bits_value(b: &EnumLike, bytes: &[u8]) -> Value {
    let Some(value) = integer(b.underlying, bytes) else { return Value::Null };
    let mut rest = value;
    let mut out = Vec::new();
    for member in &b.members {
        if member.value != 0 && value & member.value == member.value {
            out.push(Value::String(member.name.clone()));
            rest &= !member.value;
        }
    }
    if rest != 0 {
        out.push(int_json(rest));
    }
    Value::Array(out)
}

/// The `uint32` length at the start of a bounded string or vector.
fn length(bytes: &[u8]) -> Option<u64> {
    first(bytes).map(|b| u64::from(u32::from_le_bytes(b)))
}

fn string_value(s: &Bounded, bytes: &[u8]) -> Value {
    let Some(len) = length(bytes) else { return Value::Null };
    if len > s.capacity {
        return json!({ "invalid": format!("length {len} exceeds the bound {}", s.capacity) });
    }
    let Some(text) = slice(bytes, s.items_offset, len) else { return Value::Null };
    match std::str::from_utf8(text) {
        Ok(text) => Value::String(text.to_owned()),
        Err(_) => json!({ "invalid": "not UTF-8", "lossy": String::from_utf8_lossy(text) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoder(source: &str) -> Decoder {
        Decoder::new(flatipc_gen::compile_sources(&[("t.fidl", source)]).unwrap())
    }

    #[test]
    fn every_kind_of_member_decodes_and_bad_values_show_as_they_are() {
        let d = decoder(
            "library t; type E = flexible enum : uint8 { A = 1; }; \
             type B = strict bits : uint8 { X = 1; Y = 4; }; \
             @message(id=9) type M = struct { e E; b B; ok bool; s string<3>; v vector<int16, 2>; \
             a array<float32, 2>; n int64; };",
        );
        let m = d.by_id(9).unwrap();
        let mut bytes = vec![0u8; usize::try_from(m.layout.size).unwrap()];
        let at = |name: &str| {
            let member = m.layout.members.iter().find(|x| x.name == name).unwrap();
            usize::try_from(member.offset).unwrap()
        };
        bytes[at("e")] = 7;
        bytes[at("b")] = 0b1011;
        bytes[at("ok")] = 2;
        bytes[at("s")..at("s") + 7].copy_from_slice(&[2, 0, 0, 0, b'h', b'i', 0]);
        bytes[at("v")..at("v") + 6].copy_from_slice(&[3, 0, 0, 0, 1, 0]);
        bytes[at("a")..at("a") + 4].copy_from_slice(&f32::NAN.to_le_bytes());
        bytes[at("n")..at("n") + 8].copy_from_slice(&i64::MIN.to_le_bytes());
        let decoded = d.decode(m, &bytes, Some(1));
        assert_eq!(decoded.type_name, "t/M");
        assert_eq!(
            Value::Object(decoded.fields),
            json!({
                "e": 7, "b": ["X", 10], "ok": { "invalid": "bool byte 2" }, "s": "hi",
                "v": { "invalid": "length 3 exceeds the bound 2" }, "a": ["NaN", 0.0],
                "n": i64::MIN,
            })
        );
        // Short bytes (an older, smaller message) leave out what they do not hold.
        let decoded = d.decode(m, &bytes[..2], Some(1));
        assert_eq!(Value::Object(decoded.fields), json!({ "e": 7, "b": ["X", 10] }));
    }
}
