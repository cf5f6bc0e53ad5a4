//! Builds IR [`Schema`] values by hand for backend tests, computing natural layout and real
//! fingerprints the way the checker does (test-only: backends never compute layout).

use std::path::PathBuf;

use flatipc::fingerprint::Fingerprinter;
use flatipc_gen::ir::{
    Bounded, Const, ConstType, ConstValue, Decl, DeclId, DeclKind, EnumLike, EnumMember, Library,
    LibraryId, Member, MessageInfo, Prim, Schema, Struct, Type, TypeKind, VersionStep,
};

/// A schema under construction: declarations are emitted in the order they are added.
#[derive(Debug)]
pub struct SchemaBuilder {
    /// The schema so far; tests may edit it directly (e.g. to add docs or tamper with layout).
    pub schema: Schema,
}

impl Default for SchemaBuilder {
    fn default() -> Self {
        Self::new()
    }
}

fn align_up(n: u64, align: u64) -> u64 {
    n.div_ceil(align) * align
}

impl SchemaBuilder {
    /// An empty schema.
    pub fn new() -> Self {
        Self { schema: Schema { libraries: Vec::new(), decls: Vec::new(), roots: Vec::new() } }
    }

    /// Adds a library (a root) importing `imports`.
    pub fn library(&mut self, name: &str, files: &[&str], imports: &[LibraryId]) -> LibraryId {
        let id = LibraryId(self.schema.libraries.len());
        self.schema.libraries.push(Library {
            name: name.to_owned(),
            docs: Vec::new(),
            files: files.iter().map(|f| PathBuf::from("schemas").join(f)).collect(),
            version: 1,
            imports: imports.to_vec(),
            decls: Vec::new(),
        });
        self.schema.roots.push(id);
        id
    }

    /// Sets the doc lines of a declaration.
    pub fn docs(&mut self, id: DeclId, docs: &[&str]) {
        self.schema.decls[id.0].docs = docs.iter().map(|d| (*d).to_owned()).collect();
    }

    /// A primitive type.
    pub fn prim(p: Prim) -> Type {
        Type {
            kind: TypeKind::Prim(p),
            size: p.size(),
            align: p.size(),
            fingerprint: Fingerprinter::primitive(p.code()),
        }
    }

    /// `array<elem, len>`.
    pub fn array(elem: Type, len: u64) -> Type {
        Type {
            size: elem.size * len,
            align: elem.align,
            fingerprint: Fingerprinter::array(len, elem.fingerprint),
            kind: TypeKind::Array { elem: Box::new(elem), len },
        }
    }

    /// A reference to a declared type (layout numbers are those of the alias target).
    pub fn named(&self, id: DeclId) -> Type {
        let (size, align, fingerprint) = match &self.schema.decl(id).kind {
            DeclKind::Struct(s) => (s.size, s.align, s.fingerprint),
            DeclKind::Enum(e) | DeclKind::Bits(e) => {
                (e.underlying.size(), e.underlying.size(), e.fingerprint)
            }
            DeclKind::String(b) | DeclKind::Vector(b) => (b.size, b.align, b.fingerprint),
            DeclKind::Alias(t) => (t.size, t.align, t.fingerprint),
            DeclKind::Const(_) => panic!("a constant is not a type"),
        };
        Type { kind: TypeKind::Named(id), size, align, fingerprint }
    }

    fn push(&mut self, lib: LibraryId, name: &str, kind: DeclKind) -> DeclId {
        let id = DeclId(self.schema.decls.len());
        let decl = Decl { name: name.to_owned(), library: lib, docs: Vec::new(), kind };
        self.schema.decls.push(decl);
        self.schema.libraries[lib.0].decls.push(id);
        id
    }

    /// A struct with natural layout; `message` is the message id, if it is one.
    pub fn structure(
        &mut self,
        lib: LibraryId,
        name: &str,
        members: Vec<(&str, Type)>,
        message: Option<u32>,
    ) -> DeclId {
        let mut placed: Vec<Member> = Vec::new();
        let mut end = 0;
        let mut align = 1;
        for (member_name, ty) in members {
            let offset = align_up(end, ty.align);
            if let Some(prev) = placed.last_mut() {
                prev.padding_after = offset - end;
            }
            end = offset + ty.size;
            align = align.max(ty.align);
            placed.push(Member {
                name: member_name.to_owned(),
                docs: Vec::new(),
                ty,
                offset,
                padding_after: 0,
                available: None,
            });
        }
        let size = align_up(end, align);
        if let Some(last) = placed.last_mut() {
            last.padding_after = size - end;
        }
        let fingerprint = placed
            .iter()
            .fold(Fingerprinter::structure(size, align, placed.len() as u64), |h, m| {
                h.member(&m.name, m.offset, m.ty.fingerprint)
            })
            .finish();
        let message = message.map(|id| MessageInfo { id, explicit: true });
        let steps = vec![VersionStep { version: 1, size, fingerprint }];
        let s = Struct { members: placed, size, align, fingerprint, message, steps };
        self.push(lib, name, DeclKind::Struct(s))
    }

    /// Mutable access to the members of a struct (for docs, `@available` or tampering).
    pub fn members_mut(&mut self, id: DeclId) -> &mut Vec<Member> {
        match &mut self.schema.decls[id.0].kind {
            DeclKind::Struct(s) => &mut s.members,
            other => panic!("not a struct: {other:?}"),
        }
    }

    fn enum_like(underlying: Prim, members: &[(&str, i128)], bits: bool) -> EnumLike {
        let up = Fingerprinter::primitive(underlying.code());
        EnumLike {
            underlying,
            strict: true,
            members: members
                .iter()
                .map(|(n, v)| EnumMember { name: (*n).to_owned(), docs: Vec::new(), value: *v })
                .collect(),
            fingerprint: if bits {
                Fingerprinter::bits(up, true)
            } else {
                Fingerprinter::enumeration(up, true)
            },
        }
    }

    /// A strict enum.
    pub fn enumeration(
        &mut self,
        lib: LibraryId,
        name: &str,
        underlying: Prim,
        members: &[(&str, i128)],
    ) -> DeclId {
        self.push(lib, name, DeclKind::Enum(Self::enum_like(underlying, members, false)))
    }

    /// A strict bits type.
    pub fn bits(
        &mut self,
        lib: LibraryId,
        name: &str,
        underlying: Prim,
        members: &[(&str, i128)],
    ) -> DeclId {
        self.push(lib, name, DeclKind::Bits(Self::enum_like(underlying, members, true)))
    }

    fn bounded(elem: Type, capacity: u64, fingerprint: u64) -> Bounded {
        let items_offset = align_up(4, elem.align);
        let align = elem.align.max(4);
        let end = items_offset + elem.size * capacity;
        let size = align_up(end, align);
        Bounded {
            elem,
            capacity,
            items_offset,
            padding_after: size - end,
            size,
            align,
            fingerprint,
        }
    }

    /// The generated `String<N>` type.
    pub fn string(&mut self, lib: LibraryId, capacity: u64) -> DeclId {
        let b = Self::bounded(Self::prim(Prim::Uint8), capacity, Fingerprinter::string(capacity));
        self.push(lib, &format!("String{capacity}"), DeclKind::String(b))
    }

    /// The generated `Vector<N><Elem>` type, named `name`.
    pub fn vector(&mut self, lib: LibraryId, name: &str, elem: Type, capacity: u64) -> DeclId {
        let fingerprint = Fingerprinter::vector(capacity, elem.fingerprint);
        self.push(lib, name, DeclKind::Vector(Self::bounded(elem, capacity, fingerprint)))
    }

    /// `alias name = ty;`.
    pub fn alias(&mut self, lib: LibraryId, name: &str, ty: Type) -> DeclId {
        self.push(lib, name, DeclKind::Alias(ty))
    }

    /// `const name ty = value;`.
    pub fn constant(
        &mut self,
        lib: LibraryId,
        name: &str,
        ty: ConstType,
        value: ConstValue,
    ) -> DeclId {
        self.push(lib, name, DeclKind::Const(Const { ty, value }))
    }

    /// The finished schema.
    pub fn build(self) -> Schema {
        self.schema
    }
}
