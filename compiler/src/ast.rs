//! The syntax tree of one `.fidl` file, exactly as written: nothing is resolved or checked here.
//!
//! Produced by [`crate::parse`], consumed only by [`crate::check`]. Backends never see it.

use crate::diagnostic::Span;

/// An identifier with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    /// The identifier text.
    pub name: String,
    /// Where it was written.
    pub span: Span,
}

/// A dotted name: `fuchsia.mem`, `Side.BUY`, `other.lib.Type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompoundName {
    /// The components, in order (at least one).
    pub parts: Vec<Ident>,
    /// The whole name.
    pub span: Span,
}

impl CompoundName {
    /// The components joined with `.`.
    pub fn dotted(&self) -> String {
        self.parts.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(".")
    }
}

/// One parsed file.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    /// `///` doc comment lines before the `library` line.
    pub docs: Vec<String>,
    /// Attributes before the `library` line (e.g. `@available(added=1)`).
    pub attributes: Vec<Attribute>,
    /// The `library a.b.c;` name.
    pub library: CompoundName,
    /// `using x.y;` lines.
    pub usings: Vec<Using>,
    /// Declarations, in source order.
    pub decls: Vec<Decl>,
}

/// `using other.lib;` or `using other.lib as alias;`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Using {
    /// The imported library.
    pub library: CompoundName,
    /// Optional `as` alias.
    pub alias: Option<Ident>,
    /// The whole statement.
    pub span: Span,
}

/// `@name`, `@name(value)` or `@name(key=value, ...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// Attribute name without the `@`.
    pub name: Ident,
    /// Arguments; a single positional argument has `name: None`.
    pub args: Vec<AttributeArg>,
    /// The whole attribute.
    pub span: Span,
}

/// One attribute argument.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeArg {
    /// `key` of `key=value`; `None` for a positional value.
    pub name: Option<Ident>,
    /// The value.
    pub value: Constant,
    /// The whole argument.
    pub span: Span,
}

/// A constant expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Constant {
    /// What was written.
    pub kind: ConstantKind,
    /// Where.
    pub span: Span,
}

/// The forms a constant expression can take.
#[derive(Debug, Clone, PartialEq)]
pub enum ConstantKind {
    /// An integer literal (decimal, `0x`, `0b`, optionally negative), already converted.
    Int(i128),
    /// A floating-point literal.
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
    /// A string literal, with escapes resolved.
    String(String),
    /// A reference to a constant or an enum/bits member: `MAX`, `Side.BUY`, `lib.MAX`.
    Ref(CompoundName),
    /// `a | b`.
    Or(Box<Constant>, Box<Constant>),
}

/// A type expression.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeExpr {
    /// The type constructor.
    pub kind: TypeExprKind,
    /// FIDL constraints after `:` (`:optional`, `:16`, `:<16, optional>`); flatipc rejects them.
    pub constraints: Vec<Constant>,
    /// The whole expression including constraints.
    pub span: Span,
}

/// Type constructors.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeExprKind {
    /// A primitive or a declared type: `uint8`, `Quote`, `other.lib.Quote`.
    Named(CompoundName),
    /// `array<T, N>`.
    Array {
        /// Element type.
        elem: Box<TypeExpr>,
        /// Length.
        len: Constant,
    },
    /// `string<N>` (flat extension), or bare `string` (`bound: None`, rejected later).
    String {
        /// The bound.
        bound: Option<Constant>,
    },
    /// `vector<T, N>` (flat extension), or `vector<T>` (`bound: None`, rejected later).
    Vector {
        /// Element type.
        elem: Box<TypeExpr>,
        /// The bound.
        bound: Option<Constant>,
    },
    /// `box<T>` (rejected later).
    Box(Box<TypeExpr>),
    /// Any other parameterised type, e.g. `client_end<P>`, `zx.Handle<VMO>` (rejected later).
    Other {
        /// The constructor name.
        name: CompoundName,
        /// Its parameters as written.
        params: Vec<TypeExpr>,
    },
}

/// A top-level declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct Decl {
    /// `///` doc comment lines.
    pub docs: Vec<String>,
    /// Attributes.
    pub attributes: Vec<Attribute>,
    /// The declared name.
    pub name: Ident,
    /// What is declared.
    pub kind: DeclKind,
    /// The whole declaration.
    pub span: Span,
}

/// Declaration kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum DeclKind {
    /// `const NAME TYPE = VALUE;`
    Const {
        /// Declared type.
        ty: TypeExpr,
        /// Value.
        value: Constant,
    },
    /// `alias Name = Type;`
    Alias {
        /// Target type.
        ty: TypeExpr,
    },
    /// `type Name = [modifiers] struct { ... };`
    Struct {
        /// Modifiers written before `struct` (`resource`, ...).
        modifiers: Vec<Ident>,
        /// Members in declaration order.
        members: Vec<StructMember>,
    },
    /// `type Name = [strict|flexible] enum [: T] { ... };`
    Enum(EnumLike),
    /// `type Name = [strict|flexible] bits [: T] { ... };`
    Bits(EnumLike),
    /// `type Name = table|union {...};`, `protocol Name {...}`, `service Name {...}`,
    /// `resource_definition ...`: parsed only to be rejected with a precise error.
    Unsupported {
        /// The keyword (`table`, `union`, `protocol`, `service`, `resource_definition`, ...).
        keyword: Ident,
    },
}

/// A struct member.
#[derive(Debug, Clone, PartialEq)]
pub struct StructMember {
    /// `///` doc comment lines.
    pub docs: Vec<String>,
    /// Attributes (e.g. `@available(added=2)`).
    pub attributes: Vec<Attribute>,
    /// Member name.
    pub name: Ident,
    /// Member type.
    pub ty: TypeExpr,
    /// A FIDL default value (`name T = value;`), rejected later.
    pub default: Option<Constant>,
    /// The whole member.
    pub span: Span,
}

/// The body of an enum or bits declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct EnumLike {
    /// Modifiers (`strict`, `flexible`, ...), as written.
    pub modifiers: Vec<Ident>,
    /// The `: T` underlying type, if written.
    pub subtype: Option<TypeExpr>,
    /// Members.
    pub members: Vec<EnumMember>,
}

/// An enum or bits member.
#[derive(Debug, Clone, PartialEq)]
pub struct EnumMember {
    /// `///` doc comment lines.
    pub docs: Vec<String>,
    /// Attributes.
    pub attributes: Vec<Attribute>,
    /// Member name.
    pub name: Ident,
    /// Value.
    pub value: Constant,
    /// The whole member.
    pub span: Span,
}
