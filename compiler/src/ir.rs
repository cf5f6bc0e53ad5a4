//! The validated intermediate representation, with layout computed once.
//!
//! Produced by [`crate::check`] from the AST; the only input of every backend (Rust, C, JSON).
//! Every size, alignment, offset, padding and fingerprint a backend prints is read from here.
//!
//! Architecture invariant: nothing in this module refers to the AST or to source text, except the
//! source path of each library, kept for `@generated` banners.

use std::path::PathBuf;

use flatipc::fingerprint::PrimCode;

/// Index of a library in [`Schema::libraries`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LibraryId(pub usize);

/// Index of a declaration in [`Schema::decls`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeclId(pub usize);

/// A compiled set of libraries: the files given plus everything they import.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Schema {
    /// Libraries in dependency order: every library comes after the libraries it imports.
    pub libraries: Vec<Library>,
    /// Every declaration of every library (including generated bounded string/vector types).
    pub decls: Vec<Decl>,
    /// The libraries named on the command line (or given to the builder), in the order given.
    pub roots: Vec<LibraryId>,
}

/// One library (`library a.b.c;`), possibly spread over several files.
#[derive(Debug, Clone, PartialEq)]
pub struct Library {
    /// Dotted name, e.g. `market.data`.
    pub name: String,
    /// Doc comment lines from the `library` line(s).
    pub docs: Vec<String>,
    /// Source files, in the order read.
    pub files: Vec<PathBuf>,
    /// The library's current version (`@available(version=N)` on the `library` line, 1 to
    /// 255, default 1): the version its writers write and the newest its readers understand.
    pub version: u16,
    /// Libraries imported with `using`.
    pub imports: Vec<LibraryId>,
    /// Declarations to emit, in dependency order: every declaration comes after the declarations
    /// of this library that it uses (a stable topological sort of source order, with generated
    /// bounded string/vector types placed before their first user). Backends emit in this order.
    pub decls: Vec<DeclId>,
}

impl Library {
    /// The name with `.` replaced by `_`: the Rust module, file and C prefix (`market_data`).
    pub fn underscored(&self) -> String {
        self.name.replace('.', "_")
    }
}

/// A primitive type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prim {
    /// `bool`: one byte, 0 or 1.
    Bool,
    /// `int8`.
    Int8,
    /// `int16`.
    Int16,
    /// `int32`.
    Int32,
    /// `int64`.
    Int64,
    /// `uint8`.
    Uint8,
    /// `uint16`.
    Uint16,
    /// `uint32`.
    Uint32,
    /// `uint64`.
    Uint64,
    /// `float32`.
    Float32,
    /// `float64`.
    Float64,
}

impl Prim {
    /// Every primitive.
    pub const ALL: [Prim; 11] = [
        Prim::Bool,
        Prim::Int8,
        Prim::Int16,
        Prim::Int32,
        Prim::Int64,
        Prim::Uint8,
        Prim::Uint16,
        Prim::Uint32,
        Prim::Uint64,
        Prim::Float32,
        Prim::Float64,
    ];

    /// The schema spelling (`uint32`).
    pub const fn schema_name(self) -> &'static str {
        match self {
            Prim::Bool => "bool",
            Prim::Int8 => "int8",
            Prim::Int16 => "int16",
            Prim::Int32 => "int32",
            Prim::Int64 => "int64",
            Prim::Uint8 => "uint8",
            Prim::Uint16 => "uint16",
            Prim::Uint32 => "uint32",
            Prim::Uint64 => "uint64",
            Prim::Float32 => "float32",
            Prim::Float64 => "float64",
        }
    }

    /// Parses a schema spelling.
    pub fn from_schema_name(name: &str) -> Option<Prim> {
        Prim::ALL.into_iter().find(|p| p.schema_name() == name)
    }

    /// Size in bytes (equal to the alignment).
    pub const fn size(self) -> u64 {
        match self {
            Prim::Bool | Prim::Int8 | Prim::Uint8 => 1,
            Prim::Int16 | Prim::Uint16 => 2,
            Prim::Int32 | Prim::Uint32 | Prim::Float32 => 4,
            Prim::Int64 | Prim::Uint64 | Prim::Float64 => 8,
        }
    }

    /// Whether this is an integer type (not bool, not float).
    pub const fn is_integer(self) -> bool {
        !matches!(self, Prim::Bool | Prim::Float32 | Prim::Float64)
    }

    /// Whether this is a signed integer type.
    pub const fn is_signed(self) -> bool {
        matches!(self, Prim::Int8 | Prim::Int16 | Prim::Int32 | Prim::Int64)
    }

    /// The inclusive value range of an integer type (`None` for bool and floats).
    pub const fn int_range(self) -> Option<(i128, i128)> {
        Some(match self {
            Prim::Int8 => (i8::MIN as i128, i8::MAX as i128),
            Prim::Int16 => (i16::MIN as i128, i16::MAX as i128),
            Prim::Int32 => (i32::MIN as i128, i32::MAX as i128),
            Prim::Int64 => (i64::MIN as i128, i64::MAX as i128),
            Prim::Uint8 => (0, u8::MAX as i128),
            Prim::Uint16 => (0, u16::MAX as i128),
            Prim::Uint32 => (0, u32::MAX as i128),
            Prim::Uint64 => (0, u64::MAX as i128),
            Prim::Bool | Prim::Float32 | Prim::Float64 => return None,
        })
    }

    /// The fingerprint code.
    pub const fn code(self) -> PrimCode {
        match self {
            Prim::Bool => PrimCode::Bool,
            Prim::Int8 => PrimCode::Int8,
            Prim::Int16 => PrimCode::Int16,
            Prim::Int32 => PrimCode::Int32,
            Prim::Int64 => PrimCode::Int64,
            Prim::Uint8 => PrimCode::Uint8,
            Prim::Uint16 => PrimCode::Uint16,
            Prim::Uint32 => PrimCode::Uint32,
            Prim::Uint64 => PrimCode::Uint64,
            Prim::Float32 => PrimCode::Float32,
            Prim::Float64 => PrimCode::Float64,
        }
    }
}

/// A resolved type with its layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Type {
    /// What the type is.
    pub kind: TypeKind,
    /// Size in bytes (a multiple of `align`).
    pub size: u64,
    /// Alignment in bytes (a power of two, at most 8).
    pub align: u64,
    /// Layout fingerprint (`docs/IR.md`).
    pub fingerprint: u64,
}

/// Type constructors after resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeKind {
    /// A primitive.
    Prim(Prim),
    /// `array<elem, len>`: `len` elements at the element stride (= element size).
    Array {
        /// Element type.
        elem: Box<Type>,
        /// Number of elements (at least 1).
        len: u64,
    },
    /// A declared type: a struct, enum, bits, bounded string or vector, or an alias of one.
    /// Layout numbers on the [`Type`] are those of the alias target.
    Named(DeclId),
}

/// A declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct Decl {
    /// Name within its library (schema spelling).
    pub name: String,
    /// The library that declares it.
    pub library: LibraryId,
    /// Doc comment lines.
    pub docs: Vec<String>,
    /// What it declares.
    pub kind: DeclKind,
}

/// Declaration kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum DeclKind {
    /// A struct (possibly a top-level message).
    Struct(Struct),
    /// An enum.
    Enum(EnumLike),
    /// A bits type.
    Bits(EnumLike),
    /// A bounded inline string `string<N>` (generated, named `String<N>`).
    String(Bounded),
    /// A bounded inline vector `vector<T, N>` (generated, named `Vector<N><Elem>`).
    Vector(Bounded),
    /// `alias Name = Type;`
    Alias(Type),
    /// `const NAME TYPE = VALUE;`
    Const(Const),
}

/// A struct with computed layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Struct {
    /// Members in declaration order.
    pub members: Vec<Member>,
    /// Size in bytes.
    pub size: u64,
    /// Alignment in bytes.
    pub align: u64,
    /// Layout fingerprint of the current version (members removed by `removed=` are reserved
    /// space and not hashed); equal to the last step's.
    pub fingerprint: u64,
    /// Set for top-level messages (`@message`).
    pub message: Option<MessageInfo>,
    /// The versions at which the layout changed, oldest first (`docs/EVOLUTION.md` §3): the
    /// first is version 1; a struct without `added`/`removed` members has exactly one step,
    /// `(1, size, fingerprint)`, and only messages have more (at most [`MAX_STEPS`]).
    pub steps: Vec<VersionStep>,
}

/// Most versions at which a message's layout may change (its steps), version 1 included.
pub const MAX_STEPS: usize = 4;

/// Largest library version.
pub const MAX_VERSION: u16 = 255;

/// The layout of a struct at one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionStep {
    /// The version at which the layout changed.
    pub version: u16,
    /// Size in bytes of the layout at that version: the end of the members present then
    /// (removed ones included: their bytes stay), rounded up to the struct's alignment.
    pub size: u64,
    /// Fingerprint of the struct restricted to the members present and not removed at that
    /// version, with size `size`.
    pub fingerprint: u64,
}

impl Struct {
    /// Whether the struct has members added after version 1 or removed (more than one step).
    pub fn is_versioned(&self) -> bool {
        self.steps.len() > 1
    }
}

/// Message identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageInfo {
    /// The stable message id.
    pub id: u32,
    /// `true` if written as `@message(id=...)`, `false` if derived from the qualified name.
    pub explicit: bool,
}

/// A struct member with its placement.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// Name (schema spelling).
    pub name: String,
    /// Doc comment lines.
    pub docs: Vec<String>,
    /// Type and its layout.
    pub ty: Type,
    /// Byte offset within the struct.
    pub offset: u64,
    /// Padding bytes that follow this member (before the next member or the end).
    pub padding_after: u64,
    /// `@available` data: `added` and `removed` give the versions at which the member joined
    /// the layout and became reserved space (checked: see `docs/LANGUAGE.md`).
    pub available: Option<Available>,
}

/// `@available(added=N, deprecated=N, removed=N)` as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Available {
    /// `added=`: the version at which the member joined the layout.
    pub added: Option<u64>,
    /// `deprecated=` (documentation only).
    pub deprecated: Option<u64>,
    /// `removed=`: from this version on, the member is reserved space (`_removed_<name>`).
    pub removed: Option<u64>,
}

impl Member {
    /// The version at which the member joined the layout (`added`, 1 when not given).
    pub fn added(&self) -> u64 {
        self.available.and_then(|a| a.added).unwrap_or(1)
    }

    /// The version from which the member is reserved space, if it was removed.
    pub fn removed(&self) -> Option<u64> {
        self.available.and_then(|a| a.removed)
    }

    /// Whether the member is present (and not removed) at `version`.
    pub fn present_at(&self, version: u64) -> bool {
        self.added() <= version && self.removed().map_or(true, |r| version < r)
    }
}

/// An enum or bits type.
#[derive(Debug, Clone, PartialEq)]
pub struct EnumLike {
    /// Underlying integer type.
    pub underlying: Prim,
    /// `strict` (unknown values are invalid data) or flexible.
    pub strict: bool,
    /// Members in declaration order.
    pub members: Vec<EnumMember>,
    /// Layout fingerprint.
    pub fingerprint: u64,
}

/// An enum or bits member.
#[derive(Debug, Clone, PartialEq)]
pub struct EnumMember {
    /// Name.
    pub name: String,
    /// Doc comment lines.
    pub docs: Vec<String>,
    /// Value, within the range of the underlying type.
    pub value: i128,
}

/// Layout of a bounded string or vector: `{ uint32 len; [pad]; T items[capacity]; [pad] }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounded {
    /// Element type (`uint8` for strings).
    pub elem: Type,
    /// The bound `N`.
    pub capacity: u64,
    /// Offset of the first element (4 rounded up to the element alignment).
    pub items_offset: u64,
    /// Padding after the items.
    pub padding_after: u64,
    /// Size in bytes.
    pub size: u64,
    /// Alignment in bytes.
    pub align: u64,
    /// Layout fingerprint.
    pub fingerprint: u64,
}

impl Bounded {
    /// Padding between `len` and the first element.
    pub fn padding_before_items(&self) -> u64 {
        self.items_offset - 4
    }
}

/// A constant.
#[derive(Debug, Clone, PartialEq)]
pub struct Const {
    /// Declared type.
    pub ty: ConstType,
    /// Value, checked against the type.
    pub value: ConstValue,
}

/// Types a constant may have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConstType {
    /// A primitive.
    Prim(Prim),
    /// An enum or bits declaration.
    Named(DeclId),
    /// `string`.
    String,
}

/// A constant value.
#[derive(Debug, Clone, PartialEq)]
pub enum ConstValue {
    /// An integer (also the value of an enum/bits constant).
    Int(i128),
    /// A float.
    Float(f64),
    /// A bool.
    Bool(bool),
    /// A string.
    String(String),
}

impl Schema {
    /// The declaration behind an id.
    pub fn decl(&self, id: DeclId) -> &Decl {
        &self.decls[id.0]
    }

    /// The library behind an id.
    pub fn library(&self, id: LibraryId) -> &Library {
        &self.libraries[id.0]
    }

    /// Follows aliases to the declaration that defines the layout.
    pub fn resolve_alias(&self, mut id: DeclId) -> DeclId {
        // Alias cycles are rejected by the checker; the bound keeps this total anyway.
        for _ in 0..self.decls.len() {
            match &self.decl(id).kind {
                DeclKind::Alias(Type { kind: TypeKind::Named(next), .. }) => id = *next,
                _ => return id,
            }
        }
        id
    }

    /// Every message (struct with `@message`) of a library, in declaration order.
    pub fn messages(&self, lib: LibraryId) -> impl Iterator<Item = (DeclId, &Decl, &Struct)> {
        self.library(lib).decls.iter().filter_map(move |id| match &self.decl(*id).kind {
            DeclKind::Struct(s) if s.message.is_some() => Some((*id, self.decl(*id), s)),
            _ => None,
        })
    }
}
