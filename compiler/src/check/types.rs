//! Type expressions and layout: the one place where sizes, alignments, offsets, padding and
//! fingerprints are computed.

use flatipc::fingerprint::Fingerprinter;

use super::Checker;
use crate::ast;
use crate::diagnostic::{Diagnostic, ErrorCode, Span};
use crate::ir::{self, DeclId, LibraryId, Prim, Type, TypeKind};

/// Largest size of any type, in bytes. Larger sizes are errors, never overflows.
pub const MAX_TYPE_SIZE: u64 = u32::MAX as u64;

/// Largest array length or string/vector bound.
pub const MAX_LENGTH: u64 = u32::MAX as u64;

/// Type-constructor names that denote handles, endpoints or resources.
const HANDLE_NAMES: &[&str] = &["handle", "client_end", "server_end", "Handle", "zx.Handle"];

/// The computed layout of a struct.
#[derive(Debug)]
pub(super) struct StructLayout {
    /// `(offset, padding_after)` per member.
    pub placements: Vec<(u64, u64)>,
    pub size: u64,
    pub align: u64,
    /// The fingerprint of the current version (the last step's).
    pub fingerprint: u64,
    /// One step per version at which the layout changed, oldest first.
    pub steps: Vec<ir::VersionStep>,
}

/// A member as the layout sees it: its name, type and version history.
#[derive(Debug, Clone, Copy)]
pub(super) struct LayoutMember<'t> {
    pub name: &'t str,
    pub ty: &'t Type,
    /// The version that added it (1 for members without `added`).
    pub added: u64,
    /// The version from which it is reserved space.
    pub removed: Option<u64>,
}

fn round_up(value: u64, align: u64) -> Option<u64> {
    value.checked_add(align - 1).map(|v| v / align * align)
}

/// Lays out members in declaration order at their natural alignment, except that the first
/// member of a later version starts at or after the size of the layout before it (its end
/// rounded up to its alignment): an older version's trailing padding is never reused, so every
/// version's layout is a byte prefix of the next one. `None` on overflow.
///
/// The caller has checked the evolution rules (`versions.rs`): `added` never decreases, the
/// first member is in version 1, later versions do not raise the alignment and every version
/// fits in `u16`.
pub(super) fn struct_layout(members: &[LayoutMember<'_>]) -> Option<StructLayout> {
    let mut offset = 0u64;
    let mut align = 1u64;
    let mut offsets = Vec::with_capacity(members.len());
    let mut previous_version = None;
    for m in members {
        if previous_version.is_some_and(|v| m.added > v) {
            offset = round_up(offset, align)?;
        }
        previous_version = Some(m.added);
        offset = round_up(offset, m.ty.align)?;
        offsets.push((offset, m.ty.size));
        offset = offset.checked_add(m.ty.size)?;
        align = align.max(m.ty.align);
    }
    let size = round_up(offset, align)?;
    if size > MAX_TYPE_SIZE {
        return None;
    }
    let mut placements = Vec::with_capacity(offsets.len());
    for (i, (off, sz)) in offsets.iter().enumerate() {
        let next = offsets.get(i + 1).map_or(size, |n| n.0);
        placements.push((*off, next - off - sz));
    }
    let mut versions: Vec<u64> = std::iter::once(1)
        .chain(members.iter().flat_map(|m| std::iter::once(m.added).chain(m.removed)))
        .collect();
    versions.sort_unstable();
    versions.dedup();
    let mut steps = Vec::with_capacity(versions.len());
    for version in versions {
        // The bytes of every member added by `version` (removed ones keep theirs) ...
        let end = members
            .iter()
            .zip(&offsets)
            .filter(|(m, _)| m.added <= version)
            .map(|(_, (off, sz))| off + sz)
            .max()
            .unwrap_or(0);
        let step_size = round_up(end, align)?;
        // ... and the members present then, hashed as `docs/IR.md` says.
        let present: Vec<(&LayoutMember<'_>, u64)> = members
            .iter()
            .zip(&offsets)
            .filter(|(m, _)| m.added <= version && m.removed.map_or(true, |r| version < r))
            .map(|(m, (off, _))| (m, *off))
            .collect();
        let mut fp = Fingerprinter::structure(step_size, align, present.len() as u64);
        for (m, off) in present {
            fp = fp.member(m.name, off, m.ty.fingerprint);
        }
        steps.push(ir::VersionStep {
            version: u16::try_from(version).ok()?,
            size: step_size,
            fingerprint: fp.finish(),
        });
    }
    let fingerprint = steps.last()?.fingerprint;
    Some(StructLayout { placements, size, align, fingerprint, steps })
}

/// The "type too large" error.
pub(super) fn too_large(span: Span, what: &str) -> Diagnostic {
    Diagnostic::new(
        ErrorCode::TypeTooLarge,
        span,
        format!("`{what}` would be larger than {MAX_TYPE_SIZE} bytes"),
    )
    .with_label("too large")
    .with_hint("shrink the arrays or bounds; shared-memory slots are far smaller than this anyway")
}

/// A primitive type with its layout.
pub(super) fn prim_type(p: Prim) -> Type {
    Type {
        kind: TypeKind::Prim(p),
        size: p.size(),
        align: p.size(),
        fingerprint: Fingerprinter::primitive(p.code()),
    }
}

/// What a dotted name refers to.
pub(super) struct Found<'n> {
    pub lib: usize,
    /// The declaration name.
    pub decl: &'n ast::Ident,
    /// Remaining components after the declaration (e.g. an enum member).
    pub rest: &'n [ast::Ident],
}

impl<'a> Checker<'a> {
    /// The library that `prefix` names from inside `lib`: `lib` itself, or one it imports (by
    /// name or `as` alias).
    pub(super) fn visible_library(&self, lib: usize, prefix: &str) -> Option<usize> {
        if prefix == self.libs[lib].name {
            Some(lib)
        } else {
            self.libs[lib].imports.get(prefix).map(|l| l.0)
        }
    }

    /// Splits a dotted name into a library (own or imported) and a declaration path. Reports
    /// references to libraries that exist but are not imported, and unknown names.
    pub(super) fn lookup<'n>(
        &mut self,
        lib: usize,
        name: &'n ast::CompoundName,
        what: &str,
    ) -> Option<Found<'n>> {
        let parts = &name.parts;
        for k in (1..parts.len()).rev() {
            let prefix = parts[..k].iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(".");
            if let Some(target) = self.visible_library(lib, &prefix) {
                return self.find_in(target, &parts[k], &parts[k + 1..], name, what);
            }
            if self.libs.iter().any(|l| l.name == prefix) {
                let d = Diagnostic::new(
                    ErrorCode::NotImported,
                    name.span,
                    format!("library `{prefix}` is used but not imported"),
                )
                .with_label("not imported")
                .with_hint(format!("add `using {prefix};` after the `library` line"));
                self.error(d);
                return None;
            }
        }
        self.find_in(lib, &parts[0], &parts[1..], name, what)
    }

    fn find_in<'n>(
        &mut self,
        lib: usize,
        decl: &'n ast::Ident,
        rest: &'n [ast::Ident],
        whole: &ast::CompoundName,
        what: &str,
    ) -> Option<Found<'n>> {
        if self.libs[lib].decls.contains_key(&decl.name) {
            return Some(Found { lib, decl, rest });
        }
        let code = if what == "type" { ErrorCode::UnknownType } else { ErrorCode::UnknownConst };
        let mut d =
            Diagnostic::new(code, whole.span, format!("unknown {what} `{}`", whole.dotted()))
                .with_label(format!("not found in library `{}`", self.libs[lib].name));
        let mut candidates: Vec<&str> = self.libs[lib].decls.keys().map(String::as_str).collect();
        if what == "type" {
            candidates.extend(Prim::ALL.iter().map(|p| p.schema_name()));
        }
        let prefix = whole.parts[..whole.parts.len().saturating_sub(1)]
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(".");
        let library_like = !rest.is_empty()
            && prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
        match closest(&decl.name, &candidates) {
            Some(best) => d = d.with_hint(format!("did you mean `{best}`?")),
            None if library_like => {
                d = d.with_hint(format!(
                    "no library `{prefix}` is imported: add `using {prefix};` after the `library` line and pass its file (or `-I DIR`)"
                ));
            }
            None => {
                d = d.with_hint(format!(
                    "declare `{}`, or import the library that declares it with `using`",
                    decl.name
                ));
            }
        }
        self.error(d);
        None
    }

    /// Resolves a type expression to a type with layout. `alias` is set when resolving the
    /// target of `alias Name = ...` (for cycle messages).
    pub(super) fn resolve_type(
        &mut self,
        lib: usize,
        ty: &'a ast::TypeExpr,
        alias: Option<&ast::Ident>,
    ) -> Option<Type> {
        if !ty.constraints.is_empty() {
            let optional = ty
                .constraints
                .iter()
                .any(|c| matches!(&c.kind, ast::ConstantKind::Ref(n) if n.dotted() == "optional"));
            let (msg, hint) = if optional {
                (
                    "optional types are not flat",
                    "remove `:optional`; use a `bool` member alongside the value to mark presence",
                )
            } else {
                (
                    "FIDL constraints (`:N`) describe out-of-line data, which is not flat",
                    "use the inline forms `string<N>` and `vector<T, N>`",
                )
            };
            let first = &ty.constraints[0];
            let d = Diagnostic::new(ErrorCode::ConstraintNotFlat, first.span, msg)
                .with_label("constraint not allowed")
                .with_hint(hint);
            self.error(d);
            return None;
        }
        match &ty.kind {
            ast::TypeExprKind::Named(name) => self.resolve_named_type(lib, name, alias),
            ast::TypeExprKind::Array { elem, len } => {
                let elem_ty = self.resolve_type(lib, elem, None);
                let n = self.eval_length(lib, len, "array length");
                let (elem_ty, n) = (elem_ty?, n?);
                let Some(size) = elem_ty.size.checked_mul(n).filter(|s| *s <= MAX_TYPE_SIZE) else {
                    self.error(too_large(ty.span, "array"));
                    return None;
                };
                Some(Type {
                    fingerprint: Fingerprinter::array(n, elem_ty.fingerprint),
                    size,
                    align: elem_ty.align,
                    kind: TypeKind::Array { elem: Box::new(elem_ty), len: n },
                })
            }
            ast::TypeExprKind::String { bound } => {
                let Some(bound) = bound else {
                    let d = Diagnostic::new(
                        ErrorCode::UnboundedString,
                        ty.span,
                        "`string` needs a bound to be flat",
                    )
                    .with_label("unbounded string")
                    .with_hint("write `string<N>`: an inline UTF-8 string of at most N bytes");
                    self.error(d);
                    return None;
                };
                let n = self.eval_length(lib, bound, "string bound")?;
                self.bounded_type(lib, false, prim_type(Prim::Uint8), n, ty.span)
            }
            ast::TypeExprKind::Vector { elem, bound } => {
                let elem_ty = self.resolve_type(lib, elem, None);
                let Some(bound) = bound else {
                    let d = Diagnostic::new(
                        ErrorCode::UnboundedVector,
                        ty.span,
                        "`vector` needs a bound to be flat",
                    )
                    .with_label("unbounded vector")
                    .with_hint("write `vector<T, N>`: an inline vector of at most N elements");
                    self.error(d);
                    return None;
                };
                let n = self.eval_length(lib, bound, "vector bound");
                self.bounded_type(lib, true, elem_ty?, n?, ty.span)
            }
            ast::TypeExprKind::Box(_) => {
                let d = Diagnostic::new(
                    ErrorCode::BoxNotFlat,
                    ty.span,
                    "`box<T>` is an out-of-line pointer, which is not flat",
                )
                .with_label("not flat")
                .with_hint("embed the struct directly: write `T` instead of `box<T>`");
                self.error(d);
                None
            }
            ast::TypeExprKind::Other { name, .. } => {
                let dotted = name.dotted();
                if HANDLE_NAMES.iter().any(|h| dotted == *h || dotted.ends_with(&format!(".{h}"))) {
                    self.handle_error(name.span, &dotted);
                } else if ["array", "vector", "string", "box"].contains(&dotted.as_str())
                    || Prim::from_schema_name(&dotted).is_some()
                {
                    let d = Diagnostic::new(
                        ErrorCode::BadTypeArgs,
                        ty.span,
                        format!("wrong type parameters for `{dotted}`"),
                    )
                    .with_label("wrong parameters")
                    .with_hint(match dotted.as_str() {
                        "array" => "`array` takes an element type and a length: `array<T, N>`, e.g. `array<uint8, 12>`".to_string(),
                        "vector" => "`vector` takes an element type and a bound: `vector<T, N>`".to_string(),
                        "string" => "`string` takes one bound: `string<N>`".to_string(),
                        _ => format!("`{dotted}` takes no parameters; the forms with parameters are `array<T, N>`, `string<N>` and `vector<T, N>`"),
                    });
                    self.error(d);
                } else {
                    let d = Diagnostic::new(
                        ErrorCode::BadTypeArgs,
                        ty.span,
                        format!("`{dotted}` does not take type parameters"),
                    )
                    .with_label("unexpected `<...>`")
                    .with_hint("only `array`, `string` and `vector` take parameters");
                    self.error(d);
                }
                None
            }
        }
    }

    fn handle_error(&mut self, span: Span, what: &str) {
        let d = Diagnostic::new(
            ErrorCode::HandleNotFlat,
            span,
            format!("`{what}` is a handle or endpoint, which cannot cross shared memory"),
        )
        .with_label("not flat")
        .with_hint("send plain data; pass handles through a separate channel");
        self.error(d);
    }

    fn resolve_named_type(
        &mut self,
        lib: usize,
        name: &ast::CompoundName,
        alias: Option<&ast::Ident>,
    ) -> Option<Type> {
        let dotted = name.dotted();
        if name.parts.len() == 1 {
            if let Some(p) = Prim::from_schema_name(&dotted) {
                return Some(prim_type(p));
            }
            if ["array", "vector"].contains(&dotted.as_str()) {
                let d = Diagnostic::new(
                    ErrorCode::BadTypeArgs,
                    name.span,
                    format!("`{dotted}` needs type parameters"),
                )
                .with_label("missing parameters")
                .with_hint(format!("write `{dotted}<T, N>`: an element type and a length"));
                self.error(d);
                return None;
            }
            if dotted == "box" {
                let d = Diagnostic::new(ErrorCode::BoxNotFlat, name.span, "`box` is not flat")
                    .with_label("not flat")
                    .with_hint("embed the struct directly");
                self.error(d);
                return None;
            }
        }
        if HANDLE_NAMES.iter().any(|h| dotted == *h || dotted.ends_with(&format!(".{h}"))) {
            self.handle_error(name.span, &dotted);
            return None;
        }
        let found = self.lookup(lib, name, "type")?;
        if let Some(extra) = found.rest.first() {
            let d = Diagnostic::new(
                ErrorCode::NotAType,
                name.span,
                format!("`{dotted}` is a member, not a type"),
            )
            .with_label("not a type")
            .with_hint(format!("use the type `{}` itself", found.decl.name));
            let _ = extra;
            self.error(d);
            return None;
        }
        let (target_lib, decl_name) = (found.lib, found.decl.name.clone());
        if self.in_progress(target_lib, &decl_name) {
            let is_alias = self.libs[target_lib]
                .decls
                .get(&decl_name)
                .is_some_and(|r| matches!(self.ast_decl(*r).kind, ast::DeclKind::Alias { .. }));
            let d = if is_alias || alias.is_some() {
                Diagnostic::new(
                    ErrorCode::AliasCycle,
                    name.span,
                    format!("alias `{decl_name}` refers to itself"),
                )
                .with_label("this reference closes the cycle")
                .with_hint("an alias must end at a concrete type")
            } else {
                Diagnostic::new(
                    ErrorCode::RecursiveStruct,
                    name.span,
                    format!("struct `{decl_name}` contains itself, so its size would be infinite"),
                )
                .with_label("this member closes the cycle")
                .with_hint("flat structs cannot be recursive; store an index or id instead of the nested value")
            };
            self.error(d);
            return None;
        }
        let id = self.resolve_decl(target_lib, &decl_name)?;
        self.named_type(id, name)
    }

    fn named_type(&mut self, id: DeclId, name: &ast::CompoundName) -> Option<Type> {
        let decl = &self.decls[id.0];
        let (size, align, fingerprint) = match &decl.kind {
            ir::DeclKind::Struct(s) => (s.size, s.align, s.fingerprint),
            ir::DeclKind::Enum(e) | ir::DeclKind::Bits(e) => {
                (e.underlying.size(), e.underlying.size(), e.fingerprint)
            }
            ir::DeclKind::String(b) | ir::DeclKind::Vector(b) => (b.size, b.align, b.fingerprint),
            ir::DeclKind::Alias(t) => (t.size, t.align, t.fingerprint),
            ir::DeclKind::Const(_) => {
                let d = Diagnostic::new(
                    ErrorCode::NotAType,
                    name.span,
                    format!("`{}` is a constant, not a type", name.dotted()),
                )
                .with_label("not a type")
                .with_hint(format!(
                    "use a type here (e.g. `uint32`); a constant can be a length, as in `array<T, {}>`",
                    name.dotted()
                ));
                self.error(d);
                return None;
            }
        };
        Some(Type { kind: TypeKind::Named(id), size, align, fingerprint })
    }

    /// Returns (creating on first use) the generated `String<N>` / `Vector<N><Elem>` type.
    fn bounded_type(
        &mut self,
        lib: usize,
        vector: bool,
        elem: Type,
        n: u64,
        span: Span,
    ) -> Option<Type> {
        let name = if vector {
            format!("Vector{n}{}", self.mangle(lib, &elem))
        } else {
            format!("String{n}")
        };
        if let Some(id) = self.bounded.get(&(lib, name.clone())) {
            let id = *id;
            let same = match &self.decls[id.0].kind {
                ir::DeclKind::String(b) | ir::DeclKind::Vector(b) => b.elem == elem,
                _ => false,
            };
            if !same {
                let d = Diagnostic::new(
                    ErrorCode::GeneratedNameClash,
                    span,
                    format!("two different vectors in this library would both be named `{name}`"),
                )
                .with_label("its element type mangles to the same name as another vector's")
                .with_hint(
                    "rename the element type (e.g. a struct named like `Array3Uint8` clashes with `array<uint8, 3>`)",
                );
                self.error(d);
                return None;
            }
            return self.named_type(id, &ast::CompoundName { parts: Vec::new(), span });
        }
        if let Some(r) = self.libs[lib].decls.get(&name) {
            let user_span = self.ast_decl(*r).name.span;
            let d = Diagnostic::new(
                ErrorCode::GeneratedNameClash,
                user_span,
                format!(
                    "`{name}` is the name flatipc generates for this library's `{}`",
                    if vector { "vector" } else { "string" }
                ),
            )
            .with_label("clashes with a generated type")
            .with_secondary(span, "the generated type is needed here")
            .with_hint(format!("rename `{name}`"));
            self.error(d);
            return None;
        }
        let items_offset = round_up(4, elem.align)?;
        let end = elem.size.checked_mul(n).and_then(|s| s.checked_add(items_offset));
        let align = elem.align.max(4);
        let Some(size) = end.and_then(|e| round_up(e, align)).filter(|s| *s <= MAX_TYPE_SIZE)
        else {
            self.error(too_large(span, &name));
            return None;
        };
        let end = end.unwrap_or(size);
        let fingerprint = if vector {
            Fingerprinter::vector(n, elem.fingerprint)
        } else {
            Fingerprinter::string(n)
        };
        let bounded = ir::Bounded {
            elem,
            capacity: n,
            items_offset,
            padding_after: size - end,
            size,
            align,
            fingerprint,
        };
        let decl = ir::Decl {
            name: name.clone(),
            library: LibraryId(lib),
            docs: Vec::new(),
            kind: if vector {
                ir::DeclKind::Vector(bounded)
            } else {
                ir::DeclKind::String(bounded)
            },
        };
        let id = self.push_decl(decl);
        self.bounded.insert((lib, name), id);
        Some(Type { kind: TypeKind::Named(id), size, align, fingerprint })
    }

    /// The part of a generated vector name that names its element type: `Uint8`, `Level`,
    /// `Array3Uint8`, or `MarketCommonPrice` for a declaration of another library.
    fn mangle(&self, lib: usize, ty: &Type) -> String {
        fn capitalized(s: &str) -> String {
            let mut c = s.chars();
            c.next().map_or(String::new(), |f| f.to_ascii_uppercase().to_string() + c.as_str())
        }
        match &ty.kind {
            TypeKind::Prim(p) => capitalized(p.schema_name()),
            TypeKind::Array { elem, len } => format!("Array{len}{}", self.mangle(lib, elem)),
            TypeKind::Named(id) => {
                let decl = &self.decls[id.0];
                if decl.library.0 == lib {
                    decl.name.clone()
                } else {
                    let prefix: String =
                        self.libs[decl.library.0].name.split('.').map(capitalized).collect();
                    format!("{prefix}{}", decl.name)
                }
            }
        }
    }
}

/// The closest candidate by edit distance, if close enough to be a plausible typo.
pub(super) fn closest<'c>(name: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let limit = (name.len() / 3).max(1);
    candidates
        .iter()
        .map(|c| (edit_distance(&name.to_lowercase(), &c.to_lowercase()), *c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
