//! Libraries: grouping files by their `library` line, resolving `using`, and ordering libraries
//! so that every library comes after the ones it imports.

use std::collections::HashMap;

use super::{Checker, LibInfo};
use crate::diagnostic::{Diagnostic, ErrorCode, Span};
use crate::ir::LibraryId;

impl Checker<'_> {
    /// Groups files into libraries (several files may declare the same library).
    pub(super) fn group_libraries(&mut self) {
        let mut by_name: HashMap<String, usize> = HashMap::new();
        for (i, f) in self.files.iter().enumerate() {
            let name = f.ast.library.dotted();
            let lib = *by_name.entry(name.clone()).or_insert_with(|| {
                self.libs.push(LibInfo {
                    name,
                    docs: Vec::new(),
                    files: Vec::new(),
                    imports: HashMap::new(),
                    import_order: Vec::new(),
                    decls: HashMap::new(),
                    out: Vec::new(),
                    version: 1,
                });
                self.libs.len() - 1
            });
            if self.libs[lib].files.is_empty() {
                self.check_library_name(lib, &f.ast.library);
            }
            self.libs[lib].files.push(i);
            self.libs[lib].docs.extend(f.ast.docs.iter().cloned());
        }
        for lib in 0..self.libs.len() {
            for f in self.libs[lib].files.clone() {
                // Imports are shared by the files of a library, so only a second import of the
                // same library within one file is a duplicate.
                let mut in_file: HashMap<usize, Span> = HashMap::new();
                for using in &self.files[f].ast.usings {
                    let target = using.library.dotted();
                    let Some(&target_lib) = by_name.get(&target) else {
                        let d = Diagnostic::new(
                            ErrorCode::LibraryNotFound,
                            using.library.span,
                            format!("library `{target}` was not found"),
                        )
                        .with_label("imported here")
                        .with_hint(format!(
                            "pass its file, or add the directory that holds `{target}.fidl` with `-I DIR`"
                        ));
                        self.error(d);
                        continue;
                    };
                    if target_lib == lib {
                        let d = Diagnostic::new(
                            ErrorCode::LibraryConflict,
                            using.library.span,
                            format!("library `{target}` imports itself"),
                        )
                        .with_label("self-import")
                        .with_hint("remove this `using` line");
                        self.error(d);
                        continue;
                    }
                    if let Some(first) = in_file.get(&target_lib) {
                        let d = Diagnostic::new(
                            ErrorCode::DuplicateImport,
                            using.span,
                            format!("library `{target}` is imported twice"),
                        )
                        .with_label("imported again here")
                        .with_secondary(*first, "first imported here")
                        .with_hint("remove one of the `using` lines");
                        self.error(d);
                        // Still register an alias, so that references through it resolve.
                    }
                    in_file.entry(target_lib).or_insert(using.span);
                    let key = using.alias.as_ref().map_or(target.clone(), |a| a.name.clone());
                    if let Some(prev) = self.libs[lib].imports.get(&key) {
                        if prev.0 != target_lib {
                            let d = Diagnostic::new(
                                ErrorCode::DuplicateImport,
                                using.span,
                                format!(
                                    "`{key}` already names library `{}`",
                                    self.libs[prev.0].name
                                ),
                            )
                            .with_label("imported again here")
                            .with_hint("give this import a different name with `as`");
                            self.error(d);
                        }
                        continue;
                    }
                    self.libs[lib].imports.insert(key, LibraryId(target_lib));
                    if !self.libs[lib].import_order.contains(&LibraryId(target_lib)) {
                        self.libs[lib].import_order.push(LibraryId(target_lib));
                    }
                }
            }
        }
    }

    /// Reads each library's version from the `library` lines of its files, which must agree
    /// (a file without `@available(version=N)` says version 1).
    pub(super) fn library_versions(&mut self) {
        for lib in 0..self.libs.len() {
            let mut stated: Vec<(u16, Span, bool)> = Vec::new();
            for f in self.libs[lib].files.clone() {
                let ast = &self.files[f].ast;
                let (library_span, attributes) = (ast.library.span, &ast.attributes);
                match super::attrs::library_version(self, attributes) {
                    Some((version, span)) => stated.push((version, span, true)),
                    None => stated.push((1, library_span, false)),
                }
            }
            let Some(&(first, first_span, first_explicit)) = stated.first() else { continue };
            for &(version, span, explicit) in &stated[1..] {
                if version == first {
                    continue;
                }
                // Point at a written version: an absent one is the default, shown alongside.
                let ((version, span, explicit), (first, first_span, first_explicit)) =
                    if explicit || !first_explicit {
                        ((version, span, explicit), (first, first_span, first_explicit))
                    } else {
                        ((first, first_span, first_explicit), (version, span, explicit))
                    };
                let said = |v: u16, explicit: bool| {
                    if explicit {
                        format!("version {v} here")
                    } else {
                        format!("no `@available(version=N)` here: version {v}")
                    }
                };
                let d = Diagnostic::new(
                    ErrorCode::LibraryVersionMismatch,
                    span,
                    format!(
                        "the files of library `{}` disagree on its version: {version} here, {first} in another file",
                        self.libs[lib].name
                    ),
                )
                .with_label(said(version, explicit))
                .with_secondary(first_span, said(first, first_explicit))
                .with_hint(format!(
                    "write the same `@available(version=N)` before the `library {}` line of every file of the library",
                    self.libs[lib].name
                ));
                self.error(d);
            }
            // After a disagreement, the newest version avoids follow-on errors on members.
            self.libs[lib].version = stated.iter().map(|s| s.0).max().unwrap_or(1);
        }
    }

    /// Reports library names whose generated module, file or C prefix would be unusable or
    /// shared with another library's.
    fn check_library_name(&mut self, lib: usize, name: &crate::ast::CompoundName) {
        let underscored = self.libs[lib].name.replace('.', "_");
        if super::names::RUST_UNESCAPABLE.contains(&underscored.as_str())
            || super::names::C_RESERVED.contains(&underscored.as_str())
        {
            let d = Diagnostic::new(
                ErrorCode::ReservedName,
                name.span,
                format!("library `{}` would generate a module or C prefix named `{underscored}`, which is reserved", self.libs[lib].name),
            )
            .with_label("reserved library name")
            .with_hint("add a component, e.g. `library market.core;`");
            self.error(d);
        }
        if let Some(other) =
            self.libs[..lib].iter().find(|l| l.name.replace('.', "_") == underscored)
        {
            let d = Diagnostic::new(
                ErrorCode::LibraryConflict,
                name.span,
                format!("libraries `{}` and `{}` would both generate `{underscored}.rs` and `{underscored}.h`", other.name, self.libs[lib].name),
            )
            .with_label("same generated name")
            .with_hint("rename one of the libraries");
            self.error(d);
        }
    }

    /// Orders libraries so that imports come first, reporting cycles.
    pub(super) fn order_libraries(&mut self) {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            None,
            Active,
            Done,
        }
        let n = self.libs.len();
        let mut marks = vec![Mark::None; n];
        let mut order = Vec::new();
        // Iterative DFS (no recursion on user-controlled depth).
        for start in 0..n {
            if marks[start] != Mark::None {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            marks[start] = Mark::Active;
            while let Some((lib, next)) = stack.pop() {
                let imports = &self.libs[lib].import_order;
                if let Some(&dep) = imports.get(next) {
                    stack.push((lib, next + 1));
                    match marks[dep.0] {
                        Mark::None => {
                            marks[dep.0] = Mark::Active;
                            stack.push((dep.0, 0));
                        }
                        Mark::Active => {
                            let span = self.using_span(lib, dep.0);
                            let d = Diagnostic::new(
                                ErrorCode::LibraryConflict,
                                span,
                                format!(
                                    "import cycle: `{}` imports `{}`, which imports it back",
                                    self.libs[lib].name, self.libs[dep.0].name
                                ),
                            )
                            .with_label("this import closes the cycle")
                            .with_hint("move the shared declarations into a third library that both import");
                            self.error(d);
                        }
                        Mark::Done => {}
                    }
                } else {
                    marks[lib] = Mark::Done;
                    order.push(LibraryId(lib));
                }
            }
        }
        self.lib_order = order;
    }

    fn using_span(&self, lib: usize, target: usize) -> Span {
        for f in &self.libs[lib].files {
            for u in &self.files[*f].ast.usings {
                if u.library.dotted() == self.libs[target].name {
                    return u.library.span;
                }
            }
        }
        Span::default()
    }
}
