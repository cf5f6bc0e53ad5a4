//! The checker: parsed files to the validated [`Schema`], with layout computed once.
//!
//! Every error in every file is reported (not just the first); a declaration that fails is
//! skipped by everything that depends on it, so one mistake produces one error, not a cascade.
//!
//! - `libraries`: grouping files into libraries, imports and their order;
//! - this module: name checks and lazy, cycle-detecting resolution of declarations;
//! - `order`: the dependency order that keeps resolution shallow;
//! - `types`: type expressions and layout;
//! - `consts`: constant evaluation;
//! - `attrs`: `@message`, `@available`, `@doc`;
//! - `versions`: the schema-evolution rules (`added`, `removed`, library versions).

mod attrs;
mod consts;
mod libraries;
pub mod names;
mod order;
mod types;
mod versions;

use std::collections::HashMap;

use crate::ast;
use crate::diagnostic::{Diagnostic, ErrorCode, FileId, Span};
use crate::ir::{self, DeclId, LibraryId, Schema};

/// A parsed file, ready for checking.
#[derive(Debug, Clone)]
pub struct ParsedFile {
    /// Its id in the source map.
    pub file: FileId,
    /// Its path (for banners).
    pub path: std::path::PathBuf,
    /// The syntax tree.
    pub ast: ast::File,
    /// Whether the file was named by the user (as opposed to found through `using`).
    pub root: bool,
}

/// Checks parsed files and builds the IR.
///
/// # Errors
///
/// Every schema error found, in no particular order.
pub fn check(files: &[ParsedFile]) -> Result<Schema, Vec<Diagnostic>> {
    let mut checker = Checker::new(files);
    checker.run();
    if checker.errors.is_empty() {
        Ok(checker.finish())
    } else {
        Err(checker.errors)
    }
}

/// Where an AST declaration lives.
#[derive(Debug, Clone, Copy)]
struct AstRef {
    file: usize,
    decl: usize,
}

/// Resolution state of one declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    InProgress,
    Done(DeclId),
    Failed,
}

/// Per-library working data.
#[derive(Debug)]
struct LibInfo {
    name: String,
    docs: Vec<String>,
    files: Vec<usize>,
    /// Imported libraries by the name (or alias) used to refer to them.
    imports: HashMap<String, LibraryId>,
    import_order: Vec<LibraryId>,
    /// Declarations by name.
    decls: HashMap<String, AstRef>,
    /// Output order of this library's declarations.
    out: Vec<DeclId>,
    /// The current version (`@available(version=N)` on the `library` line), 1 to 255.
    version: u16,
}

struct Checker<'a> {
    files: &'a [ParsedFile],
    errors: Vec<Diagnostic>,
    libs: Vec<LibInfo>,
    /// Library processing order (imports first).
    lib_order: Vec<LibraryId>,
    states: HashMap<(usize, String), State>,
    decls: Vec<ir::Decl>,
    /// Generated bounded types by (library, generated name).
    bounded: HashMap<(usize, String), DeclId>,
    /// Current nesting of `resolve_decl` calls.
    depth: usize,
}

impl<'a> Checker<'a> {
    fn new(files: &'a [ParsedFile]) -> Self {
        Self {
            files,
            errors: Vec::new(),
            libs: Vec::new(),
            lib_order: Vec::new(),
            states: HashMap::new(),
            decls: Vec::new(),
            bounded: HashMap::new(),
            depth: 0,
        }
    }

    fn error(&mut self, d: Diagnostic) {
        self.errors.push(d);
    }

    fn run(&mut self) {
        self.group_libraries();
        self.library_versions();
        self.order_libraries();
        for lib in 0..self.libs.len() {
            self.collect_decls(lib);
        }
        for (lib, name) in self.dependency_order() {
            self.resolve_decl(lib, &name);
        }
        self.check_message_ids();
        self.check_message_set_names();
    }

    fn finish(self) -> Schema {
        let roots = {
            let mut roots = Vec::new();
            for (i, lib) in self.libs.iter().enumerate() {
                if lib.files.iter().any(|f| self.files[*f].root) {
                    roots.push(LibraryId(i));
                }
            }
            roots
        };
        // Renumber libraries into dependency order so that `Schema::libraries` is ordered.
        let mut new_index = vec![0usize; self.libs.len()];
        for (pos, id) in self.lib_order.iter().enumerate() {
            new_index[id.0] = pos;
        }
        let mut libraries: Vec<Option<ir::Library>> = vec![None; self.libs.len()];
        for (i, lib) in self.libs.iter().enumerate() {
            libraries[new_index[i]] = Some(ir::Library {
                name: lib.name.clone(),
                docs: lib.docs.clone(),
                files: lib.files.iter().map(|f| self.files[*f].path.clone()).collect(),
                version: lib.version,
                imports: lib.import_order.iter().map(|l| LibraryId(new_index[l.0])).collect(),
                decls: lib.out.clone(),
            });
        }
        let mut decls = self.decls;
        for d in &mut decls {
            d.library = LibraryId(new_index[d.library.0]);
        }
        Schema {
            libraries: libraries.into_iter().flatten().collect(),
            decls,
            roots: roots.into_iter().map(|l| LibraryId(new_index[l.0])).collect(),
        }
    }

    fn ast_decl(&self, r: AstRef) -> &'a ast::Decl {
        &self.files[r.file].ast.decls[r.decl]
    }

    /// Registers each library's declarations, reporting duplicates and bad names.
    fn collect_decls(&mut self, lib: usize) {
        let files = self.libs[lib].files.clone();
        let mut seen: HashMap<String, Span> = HashMap::new();
        for f in files {
            for (i, decl) in self.files[f].ast.decls.iter().enumerate() {
                let name = &decl.name;
                if let Some(prev) = seen.get(&name.name) {
                    let d = Diagnostic::new(
                        ErrorCode::DuplicateDecl,
                        name.span,
                        format!(
                            "`{}` is declared more than once in library `{}`",
                            name.name, self.libs[lib].name
                        ),
                    )
                    .with_label("declared again here")
                    .with_secondary(*prev, "first declared here")
                    .with_hint("rename one of the declarations");
                    self.error(d);
                    continue;
                }
                if ir::Prim::from_schema_name(&name.name).is_some()
                    || ["string", "vector", "array", "box"].contains(&name.name.as_str())
                {
                    let d = Diagnostic::new(
                        ErrorCode::ReservedName,
                        name.span,
                        format!("`{}` is a built-in type name and cannot be declared", name.name),
                    )
                    .with_label("built-in type name")
                    .with_hint("choose another name");
                    self.error(d);
                    continue;
                }
                if names::RUST_TYPE_RESERVED.contains(&name.name.as_str()) {
                    let d = Diagnostic::new(
                        ErrorCode::ReservedName,
                        name.span,
                        format!(
                            "`{}` names a Rust primitive or standard type that generated code uses",
                            name.name
                        ),
                    )
                    .with_label("reserved name")
                    .with_hint(format!("choose another name, e.g. `{}Value`", name.name));
                    self.error(d);
                    continue;
                }
                self.check_name(name, "declaration");
                seen.insert(name.name.clone(), name.span);
                self.libs[lib].decls.insert(name.name.clone(), AstRef { file: f, decl: i });
                self.states.insert((lib, name.name.clone()), State::Pending);
            }
        }
    }

    /// Reports names that no backend can spell.
    fn check_name(&mut self, name: &ast::Ident, what: &str) {
        if let Some(reason) = names::reserved_reason(&name.name) {
            let d = Diagnostic::new(
                ErrorCode::ReservedName,
                name.span,
                format!("{what} name `{}` {reason}", name.name),
            )
            .with_label("reserved name")
            .with_hint(format!("rename it, e.g. `{}_value`", name.name));
            self.error(d);
        }
    }

    /// Records a member name, reporting a duplicate (returns `false`) or a reserved name.
    fn new_member<'n>(
        &mut self,
        seen: &mut HashMap<&'n str, Span>,
        name: &'n ast::Ident,
        container: &str,
    ) -> bool {
        if let Some(prev) = seen.get(name.name.as_str()) {
            let d = Diagnostic::new(
                ErrorCode::DuplicateMember,
                name.span,
                format!("member `{}` appears twice in {container}", name.name),
            )
            .with_label("duplicate member")
            .with_secondary(*prev, "first declared here")
            .with_hint("rename or remove one of them");
            self.error(d);
            return false;
        }
        seen.insert(&name.name, name.span);
        self.check_name(name, "member");
        true
    }

    /// Resolves a declaration of library `lib` by name, building its IR on first use.
    /// Returns `None` if it failed (the error was already reported) or is part of a cycle.
    fn resolve_decl(&mut self, lib: usize, name: &str) -> Option<DeclId> {
        let key = (lib, name.to_string());
        match self.states.get(&key).copied() {
            None | Some(State::Failed) => return None,
            Some(State::Done(id)) => return Some(id),
            Some(State::InProgress) => return None, // the caller that closes the cycle reports it
            Some(State::Pending) => {}
        }
        let r = *self.libs[lib].decls.get(name)?;
        if self.depth >= order::MAX_RESOLUTION_DEPTH {
            let d = Diagnostic::new(
                ErrorCode::RecursiveStruct,
                self.ast_decl(r).name.span,
                format!(
                    "`{name}` is reached through more than {} nested references, which only a reference cycle produces",
                    order::MAX_RESOLUTION_DEPTH
                ),
            )
            .with_label("chain too long")
            .with_hint("this is almost always a reference cycle; break it");
            self.error(d);
            self.states.insert(key, State::Failed);
            return None;
        }
        self.depth += 1;
        self.states.insert(key.clone(), State::InProgress);
        let decl = self.ast_decl(r);
        let result = self.build_decl(lib, decl);
        let state = match result {
            Some(kind) => {
                let id = self.push_decl(ir::Decl {
                    name: name.to_string(),
                    library: LibraryId(lib),
                    docs: attrs::docs(&decl.docs, &decl.attributes),
                    kind,
                });
                State::Done(id)
            }
            None => State::Failed,
        };
        self.depth -= 1;
        self.states.insert(key, state);
        match state {
            State::Done(id) => Some(id),
            _ => None,
        }
    }

    fn push_decl(&mut self, decl: ir::Decl) -> DeclId {
        let id = DeclId(self.decls.len());
        self.libs[decl.library.0].out.push(id);
        self.decls.push(decl);
        id
    }

    /// `true` if the declaration is currently being resolved (a reference to it closes a cycle).
    fn in_progress(&self, lib: usize, name: &str) -> bool {
        self.states.get(&(lib, name.to_string())) == Some(&State::InProgress)
    }

    fn build_decl(&mut self, lib: usize, decl: &'a ast::Decl) -> Option<ir::DeclKind> {
        attrs::check_placement(self, decl);
        match &decl.kind {
            ast::DeclKind::Unsupported { keyword } => {
                self.unsupported_decl(decl, keyword);
                None
            }
            ast::DeclKind::Alias { ty } => {
                let ty = self.resolve_type(lib, ty, Some(&decl.name))?;
                Some(ir::DeclKind::Alias(ty))
            }
            ast::DeclKind::Const { ty, value } => {
                let c = self.build_const(lib, decl, ty, value)?;
                Some(ir::DeclKind::Const(c))
            }
            ast::DeclKind::Struct { modifiers, members } => {
                self.build_struct(lib, decl, modifiers, members).map(ir::DeclKind::Struct)
            }
            ast::DeclKind::Enum(e) => {
                self.build_enum_like(lib, decl, e, false).map(ir::DeclKind::Enum)
            }
            ast::DeclKind::Bits(e) => {
                self.build_enum_like(lib, decl, e, true).map(ir::DeclKind::Bits)
            }
        }
    }

    fn unsupported_decl(&mut self, decl: &ast::Decl, keyword: &ast::Ident) {
        let hint = match keyword.name.as_str() {
            "table" => "tables are variable-size and out-of-line; use a struct, and evolve it by appending members with `@available(added=N)`",
            "union" => "unions are not supported; use a struct with an enum tag member and one member per variant",
            "overlay" => "overlays are not supported; use a struct with an enum tag member",
            "protocol" | "service" => "flatipc moves messages, not calls: declare the messages as structs marked `@message`",
            _ => "flatipc supports const, alias, struct, enum and bits declarations",
        };
        let d = Diagnostic::new(
            ErrorCode::UnsupportedDecl,
            keyword.span,
            format!(
                "`{}` declarations are not flat (declaration `{}`)",
                keyword.name, decl.name.name
            ),
        )
        .with_label(format!("`{}` is not supported", keyword.name))
        .with_hint(hint);
        self.error(d);
    }

    fn build_struct(
        &mut self,
        lib: usize,
        decl: &'a ast::Decl,
        modifiers: &[ast::Ident],
        members: &'a [ast::StructMember],
    ) -> Option<ir::Struct> {
        let mut ok = true;
        for m in modifiers {
            ok = false;
            if m.name == "resource" {
                let d = Diagnostic::new(
                    ErrorCode::ResourceNotFlat,
                    m.span,
                    format!("struct `{}` is declared `resource`", decl.name.name),
                )
                .with_label("resources hold handles, which cannot cross shared memory")
                .with_hint("remove `resource`; flat structs hold only plain data");
                self.error(d);
            } else {
                let d = Diagnostic::new(
                    ErrorCode::BadModifier,
                    m.span,
                    format!("`{}` is not allowed on a struct", m.name),
                )
                .with_label("not allowed here")
                .with_hint(
                    "structs take no modifiers; `strict` and `flexible` apply to enums and bits",
                );
                self.error(d);
            }
        }
        if members.is_empty() {
            let d = Diagnostic::new(
                ErrorCode::EmptyStruct,
                decl.name.span,
                format!("struct `{}` has no members", decl.name.name),
            )
            .with_label("empty struct")
            .with_hint("add a member; empty structs have different sizes in C and C++ so flatipc rejects them");
            self.error(d);
            return None;
        }
        let mut seen: HashMap<&str, Span> = HashMap::new();
        let mut resolved = Vec::new();
        let container = format!("struct `{}`", decl.name.name);
        for m in members {
            if !self.new_member(&mut seen, &m.name, &container) {
                ok = false;
                continue;
            }
            if let Some(default) = &m.default {
                let d = Diagnostic::new(
                    ErrorCode::MemberDefault,
                    default.span,
                    format!("member `{}` has a default value", m.name.name),
                )
                .with_label("defaults are not supported")
                .with_hint("remove the default; flat messages start zeroed (use `Default` in Rust and `{0}` in C)");
                self.error(d);
                ok = false;
            }
            let available = attrs::available(self, &m.attributes);
            attrs::check_member_attributes(self, &m.attributes);
            match self.resolve_type(lib, &m.ty, None) {
                Some(ty) => {
                    if let Some(nested) = self.nested_versioned_message(&ty) {
                        self.versioned_message_nested(&decl.name.name, m, nested);
                        ok = false;
                    }
                    resolved.push((m, ty, available));
                }
                None => ok = false,
            }
        }
        // Read `@message` even if a member failed, so that its errors are reported too.
        let message = attrs::message(self, lib, decl);
        if !ok {
            return None;
        }
        let is_message = decl.attributes.iter().any(|a| a.name.name == "message");
        let versioned: Vec<versions::VersionedMember<'_>> = resolved
            .iter()
            .map(|(m, ty, available)| versions::VersionedMember {
                ast: m,
                ty,
                available: *available,
            })
            .collect();
        if !self.check_versions(lib, decl, is_message, &versioned) {
            return None;
        }
        let layout_members: Vec<types::LayoutMember<'_>> = resolved
            .iter()
            .map(|(m, ty, available)| {
                let available = available.map(|a| a.value).unwrap_or_default();
                types::LayoutMember {
                    name: &m.name.name,
                    ty,
                    added: available.added.unwrap_or(1),
                    removed: available.removed,
                }
            })
            .collect();
        let Some(layout) = types::struct_layout(&layout_members) else {
            self.error(types::too_large(decl.name.span, &decl.name.name));
            return None;
        };
        let members = resolved
            .into_iter()
            .zip(layout.placements)
            .map(|((m, ty, available), (offset, padding_after))| ir::Member {
                name: m.name.name.clone(),
                docs: attrs::docs(&m.docs, &m.attributes),
                ty,
                offset,
                padding_after,
                available: available.map(|a| a.value),
            })
            .collect();
        Some(ir::Struct {
            members,
            size: layout.size,
            align: layout.align,
            fingerprint: layout.fingerprint,
            message: message?,
            steps: layout.steps,
        })
    }

    fn check_message_ids(&mut self) {
        let mut seen: HashMap<u32, (String, Span)> = HashMap::new();
        let mut errors = Vec::new();
        for d in &self.decls {
            if let ir::DeclKind::Struct(ir::Struct { message: Some(info), .. }) = &d.kind {
                let fq = format!("{}/{}", self.libs[d.library.0].name, d.name);
                let span = self.decl_name_span(d.library.0, &d.name);
                if let Some((other, other_span)) = seen.get(&info.id) {
                    errors.push((fq, span, other.clone(), *other_span, info.id));
                } else {
                    seen.insert(info.id, (fq, span));
                }
            }
        }
        for (fq, span, other, other_span, id) in errors {
            let d = Diagnostic::new(
                ErrorCode::MessageIdCollision,
                span,
                format!("message `{fq}` has id {id:#010x}, which `{other}` already uses"),
            )
            .with_label("duplicate message id")
            .with_secondary(other_span, "this message has the same id")
            .with_hint("give one of them an explicit, unique id with `@message(id=N)`");
            self.error(d);
        }
    }

    /// Reports declarations named like the items generated for a library with messages
    /// ([`names::MESSAGE_SET_NAMES`]). Messages are found in the syntax tree, so that the clash
    /// is reported even when a message has errors of its own.
    fn check_message_set_names(&mut self) {
        let mut errors = Vec::new();
        for lib in &self.libs {
            let messages: Vec<&ast::Ident> = lib
                .files
                .iter()
                .flat_map(|f| &self.files[*f].ast.decls)
                .filter(|d| matches!(d.kind, ast::DeclKind::Struct { .. }))
                .filter(|d| d.attributes.iter().any(|a| a.name.name == "message"))
                .map(|d| &d.name)
                .collect();
            for name in names::MESSAGE_SET_NAMES {
                let Some(r) = lib.decls.get(*name) else { continue };
                let clash = &self.ast_decl(*r).name;
                // Point at another message when there is one: the clash may be a message itself.
                let Some(message) =
                    messages.iter().find(|m| m.name != clash.name).or(messages.first())
                else {
                    continue;
                };
                let mut d = Diagnostic::new(
                    ErrorCode::MessageSetNameClash,
                    clash.span,
                    format!(
                        "`{name}` clashes with the message set that flatipc-gen generates for library `{}` (it has messages)",
                        lib.name
                    ),
                )
                .with_label(format!("clashes with the generated `{name}`"))
                .with_hint(
                    "rename the declaration; flatipc-gen generates `AnyMessage` and `Library` for libraries with messages",
                );
                if message.span != clash.span {
                    d = d.with_secondary(
                        message.span,
                        "a message: the library gets `AnyMessage` and `Library`",
                    );
                }
                errors.push(d);
            }
        }
        for d in errors {
            self.error(d);
        }
    }

    fn decl_name_span(&self, lib: usize, name: &str) -> Span {
        self.libs[lib].decls.get(name).map(|r| self.ast_decl(*r).name.span).unwrap_or_default()
    }
}
