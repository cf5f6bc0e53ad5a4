//! Libraries: grouping files by their `library` line, resolving `using`, and ordering libraries
//! so that every library comes after the ones it imports.

use std::collections::HashMap;

use super::{Checker, LibInfo};
use crate::diagnostic::{Diagnostic, ErrorCode};
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
                let mut in_file: HashMap<usize, crate::diagnostic::Span> = HashMap::new();
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

    fn using_span(&self, lib: usize, target: usize) -> crate::diagnostic::Span {
        for f in &self.libs[lib].files {
            for u in &self.files[*f].ast.usings {
                if u.library.dotted() == self.libs[target].name {
                    return u.library.span;
                }
            }
        }
        crate::diagnostic::Span::default()
    }
}
