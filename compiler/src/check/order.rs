//! Resolution order: declarations sorted so that each comes after the declarations it refers to.
//!
//! Resolution itself is lazy and recursive (a member's type is resolved on first use). Resolving
//! in this order keeps that recursion shallow, so a schema with a chain of thousands of nested
//! structs or constants cannot overflow the stack. Only a reference cycle (an error anyway) can
//! still recurse, and [`MAX_RESOLUTION_DEPTH`] bounds that.

use std::collections::HashMap;

use super::{AstRef, Checker};
use crate::ast;

/// The deepest chain of nested resolutions before the checker gives up with an error.
pub(super) const MAX_RESOLUTION_DEPTH: usize = 64;

impl Checker<'_> {
    /// Every declaration of every library, dependencies first (source order otherwise).
    pub(super) fn dependency_order(&self) -> Vec<(usize, String)> {
        // Nodes: (library, declaration name) in library order, then source order.
        let mut nodes: Vec<(usize, String, AstRef)> = Vec::new();
        for lib in &self.lib_order {
            let mut refs: Vec<(&String, &AstRef)> = self.libs[lib.0].decls.iter().collect();
            refs.sort_by_key(|(_, r)| (r.file, r.decl));
            nodes.extend(refs.into_iter().map(|(n, r)| (lib.0, n.clone(), *r)));
        }
        let index: HashMap<(usize, &str), usize> =
            nodes.iter().enumerate().map(|(i, (l, n, _))| ((*l, n.as_str()), i)).collect();
        let edges: Vec<Vec<usize>> = nodes
            .iter()
            .map(|(lib, _, r)| {
                let mut names = Vec::new();
                references(self.ast_decl(*r), &mut names);
                names
                    .into_iter()
                    .filter_map(|parts| {
                        let (target, decl) = self.quiet_lookup(*lib, parts)?;
                        index.get(&(target, decl)).copied()
                    })
                    .collect()
            })
            .collect();
        // Iterative depth-first post-order.
        let mut visited = vec![false; nodes.len()];
        let mut order = Vec::with_capacity(nodes.len());
        for start in 0..nodes.len() {
            if visited[start] {
                continue;
            }
            visited[start] = true;
            let mut stack = vec![(start, 0usize)];
            while let Some((node, next)) = stack.pop() {
                if let Some(&dep) = edges[node].get(next) {
                    stack.push((node, next + 1));
                    if !visited[dep] {
                        visited[dep] = true;
                        stack.push((dep, 0));
                    }
                } else {
                    order.push(node);
                }
            }
        }
        order.into_iter().map(|i| (nodes[i].0, nodes[i].1.clone())).collect()
    }

    /// Like `lookup`, without reporting: the (library, declaration) a dotted name refers to.
    fn quiet_lookup<'n>(&self, lib: usize, parts: &'n [ast::Ident]) -> Option<(usize, &'n str)> {
        for k in (1..parts.len()).rev() {
            let prefix = parts[..k].iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(".");
            if let Some(target) = self.visible_library(lib, &prefix) {
                return Some((target, parts[k].name.as_str()));
            }
        }
        parts.first().map(|p| (lib, p.name.as_str()))
    }
}

/// Collects every dotted name a declaration refers to (types and constants).
fn references<'a>(decl: &'a ast::Decl, out: &mut Vec<&'a [ast::Ident]>) {
    match &decl.kind {
        ast::DeclKind::Const { ty, value } => {
            type_refs(ty, out);
            const_refs(value, out);
        }
        ast::DeclKind::Alias { ty } => type_refs(ty, out),
        ast::DeclKind::Struct { members, .. } => {
            for m in members {
                type_refs(&m.ty, out);
            }
        }
        ast::DeclKind::Enum(e) | ast::DeclKind::Bits(e) => {
            if let Some(t) = &e.subtype {
                type_refs(t, out);
            }
            for m in &e.members {
                const_refs(&m.value, out);
            }
        }
        ast::DeclKind::Unsupported { .. } => {}
    }
}

fn type_refs<'a>(ty: &'a ast::TypeExpr, out: &mut Vec<&'a [ast::Ident]>) {
    // Type expressions nest at most a few dozen levels (the parser bounds nesting).
    match &ty.kind {
        ast::TypeExprKind::Named(n) => out.push(&n.parts),
        ast::TypeExprKind::Array { elem, len } => {
            type_refs(elem, out);
            const_refs(len, out);
        }
        ast::TypeExprKind::String { bound } => {
            if let Some(b) = bound {
                const_refs(b, out);
            }
        }
        ast::TypeExprKind::Vector { elem, bound } => {
            type_refs(elem, out);
            if let Some(b) = bound {
                const_refs(b, out);
            }
        }
        ast::TypeExprKind::Box(t) => type_refs(t, out),
        ast::TypeExprKind::Other { params, .. } => {
            for p in params {
                type_refs(p, out);
            }
        }
    }
}

fn const_refs<'a>(c: &'a ast::Constant, out: &mut Vec<&'a [ast::Ident]>) {
    match &c.kind {
        ast::ConstantKind::Ref(n) => out.push(&n.parts),
        ast::ConstantKind::Or(a, b) => {
            const_refs(a, out);
            const_refs(b, out);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use crate::diagnostic::ErrorCode;

    /// Runs in a test thread (2 MiB stack in debug builds): long chains must not overflow it.
    #[test]
    fn long_chains_and_cycles_do_not_overflow_the_stack() {
        let mut chain = String::from("library deep.chain;\n");
        for i in 0..5000 {
            let _ = writeln!(chain, "type S{i} = struct {{ next S{}; }};", i + 1);
            let _ = writeln!(chain, "const C{i} uint32 = C{};", i + 1);
        }
        chain.push_str("type S5000 = struct { x uint8; };\nconst C5000 uint32 = 7;\n");
        let schema =
            crate::compile_sources(&[("chain.fidl", &chain)]).expect("a long chain is valid");
        assert_eq!(schema.decls.len(), 10_002);

        let mut cycle = String::from("library deep.cycle;\n");
        for i in 0..3000 {
            let _ = writeln!(cycle, "type S{i} = struct {{ next S{}; }};", (i + 1) % 3000);
        }
        let errors = crate::compile_sources(&[("cycle.fidl", &cycle)]).unwrap_err().errors;
        assert!(errors.iter().all(|e| e.code == ErrorCode::RecursiveStruct), "{errors:?}");
    }
}
