//! Reading the JSON IR back into a [`Schema`]: what `flatipc-gen compat` compares when it is given
//! a saved IR (a lock file) instead of a schema.
//!
//! The reader trusts the numbers it reads (sizes, offsets, fingerprints, steps): it rebuilds the
//! IR that wrote the document, it does not re-check the schema. It checks the shape of the
//! document and that every reference names a library or declaration written before it (the
//! writer's dependency order), and says where it found anything else. Writing what it read gives
//! back the same document (`tests/compat.rs` checks this round trip).
//!
//! Source paths are file names only (as written), and the roots are the libraries that no other
//! library imports.

use std::collections::HashMap;
use std::path::PathBuf;

use flatipc::fingerprint::Fingerprinter;
use serde_json::Value;

use super::IR_FORMAT_VERSION;
use crate::ir::{
    Available, Bounded, Const, ConstType, ConstValue, Decl, DeclId, DeclKind, EnumLike, EnumMember,
    Library, LibraryId, Member, MessageInfo, Prim, Schema, Struct, Type, TypeKind, VersionStep,
};

/// Why a JSON IR document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The text is not JSON.
    #[error("not a JSON document: {0}")]
    Syntax(#[from] serde_json::Error),
    /// The document is JSON IR of another format version.
    #[error(
        "JSON IR format version {found} is not supported (this flatipc-gen reads version \
         {IR_FORMAT_VERSION}): write it again with this flatipc-gen (`flatipc-gen --json-out DIR \
         FILE...`)"
    )]
    Version {
        /// The `flatipc_ir_version` found (`null` if missing).
        found: String,
    },
    /// A value is missing, of the wrong kind, or refers to something unknown.
    #[error("`{path}`: {problem} (is this a file written by `flatipc-gen --json-out`?)")]
    Invalid {
        /// Where, as a JSON path (`libraries[0].declarations[3].members[1].offset`).
        path: String,
        /// What is wrong.
        problem: String,
    },
}

type Result<T> = std::result::Result<T, ReadError>;

/// Reads a JSON IR document (`docs/IR.md`).
///
/// # Errors
///
/// [`ReadError`] saying where the document is not JSON IR of this version.
pub fn read(text: &str) -> Result<Schema> {
    let value: Value = serde_json::from_str(text)?;
    let root = At { v: &value, path: String::new() };
    let version = root.v.get("flatipc_ir_version").unwrap_or(&Value::Null);
    if version.as_u64() != Some(u64::from(IR_FORMAT_VERSION)) {
        return Err(ReadError::Version { found: version.to_string() });
    }
    let mut reader = Reader::default();
    for lib in root.field("libraries")?.items()? {
        reader.library(&lib)?;
    }
    let imported: Vec<LibraryId> =
        reader.schema.libraries.iter().flat_map(|l| l.imports.iter().copied()).collect();
    reader.schema.roots = (0..reader.schema.libraries.len())
        .map(LibraryId)
        .filter(|l| !imported.contains(l))
        .collect();
    Ok(reader.schema)
}

/// A value and its path in the document, for error messages.
struct At<'v> {
    v: &'v Value,
    path: String,
}

impl<'v> At<'v> {
    fn invalid<T>(&self, problem: impl Into<String>) -> Result<T> {
        Err(ReadError::Invalid { path: self.path.clone(), problem: problem.into() })
    }

    fn field(&self, name: &str) -> Result<At<'v>> {
        let path =
            if self.path.is_empty() { name.to_string() } else { format!("{}.{name}", self.path) };
        match self.v.get(name) {
            Some(v) => Ok(At { v, path }),
            None => At { v: self.v, path }.invalid("missing"),
        }
    }

    /// The field, or `None` when it is missing or `null`.
    fn optional(&self, name: &str) -> Result<Option<At<'v>>> {
        match self.v.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.field(name).map(Some),
        }
    }

    fn items(&self) -> Result<Vec<At<'v>>> {
        match self.v.as_array() {
            Some(items) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, v)| At { v, path: format!("{}[{i}]", self.path) })
                .collect()),
            None => self.invalid("expected a list"),
        }
    }

    fn str(&self) -> Result<&'v str> {
        self.v.as_str().map_or_else(|| self.invalid("expected a string"), Ok)
    }

    fn u64(&self) -> Result<u64> {
        self.v.as_u64().map_or_else(|| self.invalid("expected a non-negative integer"), Ok)
    }

    fn bool(&self) -> Result<bool> {
        self.v.as_bool().map_or_else(|| self.invalid("expected true or false"), Ok)
    }

    /// An integer written as a JSON integer (or, beyond 64 bits, as a decimal string).
    fn int(&self) -> Result<i128> {
        if let Some(i) = self.v.as_i64() {
            Ok(i128::from(i))
        } else if let Some(u) = self.v.as_u64() {
            Ok(i128::from(u))
        } else if let Some(i) = self.v.as_str().and_then(|s| s.parse().ok()) {
            Ok(i)
        } else {
            self.invalid("expected an integer")
        }
    }

    /// A fingerprint: `"0x"` and 16 hex digits.
    fn fingerprint(&self) -> Result<u64> {
        let text = self.str()?;
        match text.strip_prefix("0x").map(|h| u64::from_str_radix(h, 16)) {
            Some(Ok(fp)) if text.len() == 18 => Ok(fp),
            _ => self.invalid("expected a fingerprint, \"0x\" and 16 hex digits"),
        }
    }

    fn strings(&self) -> Result<Vec<String>> {
        self.items()?.iter().map(|s| s.str().map(str::to_string)).collect()
    }

    fn prim(&self) -> Result<Prim> {
        let name = self.str()?;
        Prim::from_schema_name(name)
            .map_or_else(|| self.invalid(format!("`{name}` is not a primitive type")), Ok)
    }
}

#[derive(Default)]
struct Reader {
    schema: Schema,
    libraries: HashMap<String, LibraryId>,
    decls: HashMap<String, DeclId>,
}

impl Reader {
    fn library(&mut self, at: &At<'_>) -> Result<()> {
        let name = at.field("name")?.str()?.to_string();
        let id = LibraryId(self.schema.libraries.len());
        let version = at.field("version")?;
        let version = u16::try_from(version.u64()?)
            .ok()
            .filter(|v| *v >= 1)
            .map_or_else(|| version.invalid("expected a version from 1 to 255"), Ok)?;
        let mut imports = Vec::new();
        for import in at.field("imports")?.items()? {
            match self.libraries.get(import.str()?) {
                Some(lib) => imports.push(*lib),
                None => return import.invalid("imports a library that is not written before it"),
            }
        }
        let files = at.field("files")?.strings()?.into_iter().map(PathBuf::from).collect();
        self.schema.libraries.push(Library {
            name: name.clone(),
            docs: at.field("docs")?.strings()?,
            files,
            version,
            imports,
            decls: Vec::new(),
        });
        self.libraries.insert(name, id);
        for decl in at.field("declarations")?.items()? {
            let kind = self.decl_kind(&decl)?;
            let decl_id = DeclId(self.schema.decls.len());
            let fqn = decl.field("fqn")?;
            self.decls.insert(fqn.str()?.to_string(), decl_id);
            self.schema.decls.push(Decl {
                name: decl.field("name")?.str()?.to_string(),
                library: id,
                docs: decl.field("docs")?.strings()?,
                kind,
            });
            self.schema.libraries[id.0].decls.push(decl_id);
        }
        Ok(())
    }

    fn named(&self, at: &At<'_>) -> Result<DeclId> {
        let name = at.str()?;
        self.decls
            .get(name)
            .copied()
            .map_or_else(|| at.invalid(format!("`{name}` is not declared before it is used")), Ok)
    }

    fn ty(&self, at: &At<'_>) -> Result<Type> {
        let kind = match at.field("kind")?.str()? {
            "primitive" => TypeKind::Prim(at.field("name")?.prim()?),
            "array" => TypeKind::Array {
                elem: Box::new(self.ty(&at.field("element")?)?),
                len: at.field("length")?.u64()?,
            },
            "named" => TypeKind::Named(self.named(&at.field("name")?)?),
            other => return at.invalid(format!("unknown type kind `{other}`")),
        };
        Ok(Type {
            kind,
            size: at.field("size")?.u64()?,
            align: at.field("align")?.u64()?,
            fingerprint: at.field("fingerprint")?.fingerprint()?,
        })
    }

    fn decl_kind(&self, at: &At<'_>) -> Result<DeclKind> {
        let kind = at.field("kind")?;
        Ok(match kind.str()? {
            "struct" => DeclKind::Struct(self.structure(at)?),
            "enum" => DeclKind::Enum(Self::enum_like(at)?),
            "bits" => DeclKind::Bits(Self::enum_like(at)?),
            "string" => {
                let uint8 = Type {
                    kind: TypeKind::Prim(Prim::Uint8),
                    size: 1,
                    align: 1,
                    fingerprint: Fingerprinter::primitive(Prim::Uint8.code()),
                };
                DeclKind::String(Self::bounded(at, uint8)?)
            }
            "vector" => DeclKind::Vector(Self::bounded(at, self.ty(&at.field("element")?)?)?),
            "alias" => DeclKind::Alias(self.ty(&at.field("type")?)?),
            "const" => DeclKind::Const(self.constant(at)?),
            other => return kind.invalid(format!("unknown declaration kind `{other}`")),
        })
    }

    fn structure(&self, at: &At<'_>) -> Result<Struct> {
        let message = match at.optional("message")? {
            Some(m) => Some(MessageInfo {
                id: u32::try_from(m.field("id")?.u64()?)
                    .map_or_else(|_| m.invalid("a message id fits in 32 bits"), Ok)?,
                explicit: m.field("explicit")?.bool()?,
            }),
            None => None,
        };
        let mut members = Vec::new();
        for m in at.field("members")?.items()? {
            let available = match m.optional("available")? {
                Some(a) => {
                    let version = |key: &str| -> Result<Option<u64>> {
                        a.optional(key)?.map(|v| v.u64()).transpose()
                    };
                    Some(Available {
                        added: version("added")?,
                        deprecated: version("deprecated")?,
                        removed: version("removed")?,
                    })
                }
                None => None,
            };
            members.push(Member {
                name: m.field("name")?.str()?.to_string(),
                docs: m.field("docs")?.strings()?,
                ty: self.ty(&m.field("type")?)?,
                offset: m.field("offset")?.u64()?,
                padding_after: m.field("padding_after")?.u64()?,
                available,
            });
        }
        let mut steps = Vec::new();
        for step in at.field("steps")?.items()? {
            let version = step.field("version")?;
            steps.push(VersionStep {
                version: u16::try_from(version.u64()?)
                    .map_or_else(|_| version.invalid("a version fits in 16 bits"), Ok)?,
                size: step.field("size")?.u64()?,
                fingerprint: step.field("fingerprint")?.fingerprint()?,
            });
        }
        if steps.is_empty() {
            return at.field("steps")?.invalid("a struct has at least one step");
        }
        Ok(Struct {
            members,
            size: at.field("size")?.u64()?,
            align: at.field("align")?.u64()?,
            fingerprint: at.field("fingerprint")?.fingerprint()?,
            message,
            steps,
        })
    }

    fn enum_like(at: &At<'_>) -> Result<EnumLike> {
        let mut members = Vec::new();
        for m in at.field("members")?.items()? {
            members.push(EnumMember {
                name: m.field("name")?.str()?.to_string(),
                docs: m.field("docs")?.strings()?,
                value: m.field("value")?.int()?,
            });
        }
        Ok(EnumLike {
            underlying: at.field("underlying")?.prim()?,
            strict: at.field("strict")?.bool()?,
            members,
            fingerprint: at.field("fingerprint")?.fingerprint()?,
        })
    }

    fn bounded(at: &At<'_>, elem: Type) -> Result<Bounded> {
        Ok(Bounded {
            elem,
            capacity: at.field("capacity")?.u64()?,
            items_offset: at.field("items_offset")?.u64()?,
            padding_after: at.field("padding_after")?.u64()?,
            size: at.field("size")?.u64()?,
            align: at.field("align")?.u64()?,
            fingerprint: at.field("fingerprint")?.fingerprint()?,
        })
    }

    fn constant(&self, at: &At<'_>) -> Result<Const> {
        let ty_at = at.field("type")?;
        let ty = match ty_at.field("kind")?.str()? {
            "primitive" => ConstType::Prim(ty_at.field("name")?.prim()?),
            "named" => ConstType::Named(self.named(&ty_at.field("name")?)?),
            "string" => ConstType::String,
            other => return ty_at.invalid(format!("unknown constant type kind `{other}`")),
        };
        let value = at.field("value")?;
        let value = match &ty {
            ConstType::Prim(Prim::Bool) => ConstValue::Bool(value.bool()?),
            // JSON has no NaN or infinities: the writer prints them as `null`.
            ConstType::Prim(Prim::Float32 | Prim::Float64) if value.v.is_null() => {
                ConstValue::Float(f64::NAN)
            }
            ConstType::Prim(Prim::Float32 | Prim::Float64) => match value.v.as_f64() {
                Some(f) if value.v.is_f64() => ConstValue::Float(f),
                _ => ConstValue::Int(value.int()?),
            },
            ConstType::Prim(_) | ConstType::Named(_) => ConstValue::Int(value.int()?),
            ConstType::String => ConstValue::String(value.str()?.to_string()),
        };
        Ok(Const { ty, value })
    }
}
