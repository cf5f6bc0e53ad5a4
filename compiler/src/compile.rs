//! The driver: finds and reads schema files, parses and checks them. The only part of the
//! pipeline before the backends that touches the file system.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::check::{self, ParsedFile};
use crate::diagnostic::{Diagnostic, Diagnostics, ErrorCode, SourceMap, Span};
use crate::ir::Schema;
use crate::parse;

/// Compiles schema files, resolving `using` through `include_dirs`.
///
/// A library `a.b.c` named in `using a.b.c;` is found by looking in each include directory, in
/// order, for `a.b.c.fidl`, then `a/b/c.fidl`, then every `*.fidl` file in the directory `a/b/c/`
/// (a library may span several files). Files given directly are always used first.
///
/// # Errors
///
/// [`Diagnostics`] with every schema error (including unreadable files).
pub fn compile_files(files: &[PathBuf], include_dirs: &[PathBuf]) -> Result<Schema, Diagnostics> {
    let mut sources = SourceMap::new();
    let mut errors = Vec::new();
    let mut parsed = Vec::new();
    let mut seen_paths = HashSet::new();
    for path in files {
        load(path, true, &mut sources, &mut parsed, &mut errors, &mut seen_paths, None);
    }
    // Resolve imports to files, breadth-first; each library is searched for once.
    let mut searched: HashSet<String> = HashSet::new();
    let mut next = 0;
    while next < parsed.len() {
        let usings: Vec<(String, Span)> = parsed[next]
            .ast
            .usings
            .iter()
            .map(|u: &crate::ast::Using| (u.library.dotted(), u.library.span))
            .collect();
        next += 1;
        for (lib, span) in usings {
            let have = parsed.iter().any(|p: &ParsedFile| p.ast.library.dotted() == lib);
            if have || !searched.insert(lib.clone()) {
                continue;
            }
            for candidate in library_files(&lib, include_dirs) {
                load(
                    &candidate,
                    false,
                    &mut sources,
                    &mut parsed,
                    &mut errors,
                    &mut seen_paths,
                    Some(span),
                );
            }
        }
    }
    finish(parsed, errors, sources)
}

/// Compiles in-memory sources (`(path, text)` pairs); `using` can only refer to libraries among
/// them. Used by tests, fuzzing and benchmarks.
///
/// # Errors
///
/// [`Diagnostics`] with every schema error.
pub fn compile_sources(files: &[(&str, &str)]) -> Result<Schema, Diagnostics> {
    let mut sources = SourceMap::new();
    let mut errors = Vec::new();
    let mut parsed = Vec::new();
    for (path, text) in files {
        let id = sources.add(*path, *text);
        match parse::parse_file(id, text) {
            Ok(ast) => {
                parsed.push(ParsedFile { file: id, path: PathBuf::from(path), ast, root: true })
            }
            Err(e) => errors.extend(e),
        }
    }
    finish(parsed, errors, sources)
}

fn finish(
    parsed: Vec<ParsedFile>,
    mut errors: Vec<Diagnostic>,
    sources: SourceMap,
) -> Result<Schema, Diagnostics> {
    match check::check(&parsed) {
        Ok(schema) if errors.is_empty() => {
            let clashes = c_name_clashes(&schema, &parsed);
            if clashes.is_empty() {
                Ok(schema)
            } else {
                Err(Diagnostics { errors: clashes, sources })
            }
        }
        Ok(_) => Err(Diagnostics { errors, sources }),
        Err(e) => {
            errors.extend(e);
            Err(Diagnostics { errors, sources })
        }
    }
}

/// C has one namespace for type names and macros: report identifiers that two declarations
/// would both define in the generated headers (e.g. a constant `Side_BUY` next to an enum `Side`
/// with a member `BUY`).
fn c_name_clashes(schema: &Schema, parsed: &[ParsedFile]) -> Vec<Diagnostic> {
    let span_of = |id: crate::ir::DeclId| -> Option<Span> {
        let decl = schema.decl(id);
        let lib = &schema.library(decl.library).name;
        parsed
            .iter()
            .filter(|p| p.ast.library.dotted() == *lib)
            .flat_map(|p| p.ast.decls.iter())
            .find(|d| d.name.name == decl.name)
            .map(|d| d.name.span)
    };
    let mut out: Vec<Diagnostic> = Vec::new();
    for lib in 0..schema.libraries.len() {
        for clash in crate::backend::c::name_clashes(schema, crate::ir::LibraryId(lib)) {
            let (Some(first), second) =
                (span_of(clash.first).or_else(|| span_of(clash.second)), span_of(clash.second))
            else {
                continue;
            };
            let mut d = Diagnostic::new(
                ErrorCode::GeneratedNameClash,
                second.unwrap_or(first),
                format!("the C header would define `{}` twice", clash.name),
            )
            .with_label("defines it again")
            .with_hint("rename one of the declarations; C has one namespace for types and macros");
            if let Some(second) = second.filter(|s| *s != first) {
                d.span = second;
                d = d.with_secondary(first, "first defined here");
            }
            if !out.contains(&d) {
                out.push(d);
            }
        }
    }
    // A member named like a C type of the headers changes that name's meaning inside the struct.
    let c_types: HashSet<String> = schema
        .decls
        .iter()
        .filter(|d| !matches!(d.kind, crate::ir::DeclKind::Const(_)))
        .map(|d| format!("{}_{}", schema.library(d.library).underscored(), d.name))
        .collect();
    for p in parsed {
        for decl in &p.ast.decls {
            if let crate::ast::DeclKind::Struct { members, .. } = &decl.kind {
                for m in members.iter().filter(|m| c_types.contains(&m.name.name)) {
                    let d = Diagnostic::new(
                        ErrorCode::GeneratedNameClash,
                        m.name.span,
                        format!("member `{}` has the name of a type in the generated C headers", m.name.name),
                    )
                    .with_label("C type name")
                    .with_hint("rename the member; C++ rejects a member that changes the meaning of a type name");
                    out.push(d);
                }
            }
        }
    }
    out
}

fn library_files(lib: &str, include_dirs: &[PathBuf]) -> Vec<PathBuf> {
    let nested: PathBuf = lib.split('.').collect();
    for dir in include_dirs {
        let flat = dir.join(format!("{lib}.fidl"));
        if flat.is_file() {
            return vec![flat];
        }
        let file = dir.join(&nested).with_extension("fidl");
        if file.is_file() {
            return vec![file];
        }
        let folder = dir.join(&nested);
        if let Ok(entries) = std::fs::read_dir(&folder) {
            let mut files: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "fidl"))
                .collect();
            files.sort();
            if !files.is_empty() {
                return files;
            }
        }
    }
    Vec::new()
}

#[allow(clippy::too_many_arguments)]
fn load(
    path: &Path,
    root: bool,
    sources: &mut SourceMap,
    parsed: &mut Vec<ParsedFile>,
    errors: &mut Vec<Diagnostic>,
    seen: &mut HashSet<PathBuf>,
    imported_at: Option<Span>,
) {
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    if !seen.insert(canonical) {
        return;
    }
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let id = sources.add(path, text);
            match parse::parse_file(id, sources.text(id)) {
                Ok(ast) => {
                    parsed.push(ParsedFile { file: id, path: path.to_path_buf(), ast, root })
                }
                Err(e) => errors.extend(e),
            }
        }
        Err(e) => {
            // Point at the `using` line that needed the file, or at an empty placeholder file.
            let span = imported_at.unwrap_or_else(|| {
                let id = sources.add(path, String::new());
                Span::new(id, 0, 0)
            });
            let d = Diagnostic::new(
                ErrorCode::IoError,
                span,
                format!("cannot read `{}`: {e}", path.display()),
            )
            .with_label("unreadable schema file")
            .with_hint("check the path and its permissions");
            errors.push(d);
        }
    }
}
