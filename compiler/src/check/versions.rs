//! Schema evolution (`docs/EVOLUTION.md` §1): which members may carry `added`/`removed`, in
//! which order, and what a later version may not change. The layout of each version is
//! computed with every other layout in `types.rs`; this module only decides whether a struct's
//! history is allowed.
//!
//! Rules, each with its error:
//! - every version written on a member is at most the library's current version (FI0602);
//! - only members of top-level messages, after the first, may be added later or removed; every
//!   other struct's layout is frozen (FI0603);
//! - a message with such members may not be nested in another type (FI0604, reported where it
//!   is used);
//! - members are appended: in declaration order, `added` never decreases (FI0605);
//! - a later version may not raise the alignment, and removing a member may not lower it
//!   (FI0606);
//! - a message changes layout in at most [`ir::MAX_STEPS`] versions (FI0607).

use std::collections::BTreeSet;

use super::attrs::AvailableAttr;
use super::Checker;
use crate::ast;
use crate::diagnostic::{Diagnostic, ErrorCode, Span};
use crate::ir::{self, DeclId, Type, TypeKind};

/// A struct member as the evolution rules see it.
pub(super) struct VersionedMember<'m> {
    pub ast: &'m ast::StructMember,
    pub ty: &'m Type,
    pub available: Option<AvailableAttr>,
}

impl VersionedMember<'_> {
    fn added(&self) -> u64 {
        self.available.and_then(|a| a.value.added).unwrap_or(1)
    }

    fn removed(&self) -> Option<u64> {
        self.available.and_then(|a| a.value.removed)
    }

    fn is_versioned(&self) -> bool {
        self.available.is_some_and(|a| a.is_versioned())
    }

    /// Where the member's `added=` is written, else its attribute, else its name.
    fn added_span(&self) -> Span {
        self.available.map_or(self.ast.name.span, |a| a.added.unwrap_or(a.span))
    }
}

impl Checker<'_> {
    /// Checks the version history of struct `decl` of library `lib`; `false` if it broke a rule
    /// (reported). Run after every member type resolved.
    pub(super) fn check_versions(
        &mut self,
        lib: usize,
        decl: &ast::Decl,
        is_message: bool,
        members: &[VersionedMember<'_>],
    ) -> bool {
        let errors = self.errors.len();
        let version = u64::from(self.libs[lib].version);
        for m in members {
            self.version_not_newer(lib, version, m);
        }
        if !is_message {
            for m in members.iter().filter(|m| m.is_versioned()) {
                let span = m.available.map_or(m.ast.name.span, |a| a.span);
                let d = Diagnostic::new(
                    ErrorCode::VersionedMemberNotAllowed,
                    span,
                    format!(
                        "member `{}` of struct `{}` is added or removed in a later version, but `{}` is not a message",
                        m.ast.name.name, decl.name.name, decl.name.name
                    ),
                )
                .with_label("only members of `@message` structs may change")
                .with_hint(format!(
                    "a struct that is not a message is frozen (its size is part of the messages that contain it): put the new member in a new struct, or make `{}` a top-level `@message` that nothing nests",
                    decl.name.name
                ));
                self.error(d);
            }
            return self.errors.len() == errors;
        }
        if let Some(first) = members.first().filter(|m| m.added() > 1) {
            let d = Diagnostic::new(
                ErrorCode::VersionedMemberNotAllowed,
                first.added_span(),
                format!(
                    "the first member of message `{}`, `{}`, is added in version {}: the message would have no layout before it",
                    decl.name.name,
                    first.ast.name.name,
                    first.added()
                ),
            )
            .with_label("the first member belongs to version 1")
            .with_hint(
                "remove `added` from the first member: a message that is new in a later version needs no `added` on its members",
            );
            self.error(d);
        }
        self.members_appended(decl, members);
        self.alignment_kept(decl, members);
        self.steps_bounded(decl, members);
        self.errors.len() == errors
    }

    /// FI0602: `added`, `removed` and `deprecated` are at most the library's version.
    fn version_not_newer(&mut self, lib: usize, version: u64, m: &VersionedMember<'_>) {
        let Some(a) = m.available else { return };
        for (key, value, span) in [
            ("added", a.value.added, a.added),
            ("removed", a.value.removed, a.removed),
            ("deprecated", a.value.deprecated, a.deprecated),
        ] {
            let (Some(value), Some(span)) = (value, span) else { continue };
            if value <= version {
                continue;
            }
            let d = Diagnostic::new(
                ErrorCode::VersionTooNew,
                span,
                format!(
                    "`{key}={value}` on member `{}` is newer than library `{}`, which is at version {version}",
                    m.ast.name.name, self.libs[lib].name
                ),
            )
            .with_label(format!("version {value} does not exist yet"))
            .with_hint(format!(
                "raise the library's version with `@available(version={value})` before the `library` line (in every file of the library), or use a version up to {version}"
            ));
            self.error(d);
        }
    }

    /// FI0605: in declaration order, `added` never decreases.
    fn members_appended(&mut self, decl: &ast::Decl, members: &[VersionedMember<'_>]) {
        let mut newest: Option<&VersionedMember<'_>> = None;
        for m in members {
            match newest {
                Some(n) if m.added() < n.added() => {
                    let d = Diagnostic::new(
                        ErrorCode::MemberNotAppended,
                        m.ast.name.span,
                        format!(
                            "member `{}` of message `{}` belongs to version {}, but it follows `{}`, added in version {}",
                            m.ast.name.name,
                            decl.name.name,
                            m.added(),
                            n.ast.name.name,
                            n.added()
                        ),
                    )
                    .with_label(format!("version {} member", m.added()))
                    .with_secondary(n.added_span(), format!("`{}` is added in version {}", n.ast.name.name, n.added()))
                    .with_hint(format!(
                        "members are only appended: move `{}` before `{}`, or give it `@available(added={})` or later if it is new",
                        m.ast.name.name,
                        n.ast.name.name,
                        n.added()
                    ));
                    self.error(d);
                }
                Some(n) if m.added() == n.added() => {}
                _ => newest = Some(m),
            }
        }
    }

    /// FI0606: a later version never raises the alignment of the layout before it, and a
    /// removed member (reserved bytes, alignment 1) never lowers it.
    fn alignment_kept(&mut self, decl: &ast::Decl, members: &[VersionedMember<'_>]) {
        // The alignment of the layout before the version being read, and of everything so far.
        let mut before: Option<u64> = None;
        let mut so_far = 1;
        let mut version = members.first().map_or(1, VersionedMember::added);
        for m in members {
            if m.added() > version {
                before = Some(so_far);
                version = m.added();
            }
            if let Some(before) = before.filter(|b| m.ty.align > *b) {
                let d = Diagnostic::new(
                    ErrorCode::VersionChangesAlignment,
                    m.ast.ty.span,
                    format!(
                        "member `{}` would change the alignment of `{}` from {before} to {} in version {}, so peers of older versions would lay it out differently",
                        m.ast.name.name,
                        decl.name.name,
                        m.ty.align,
                        m.added()
                    ),
                )
                .with_label(format!("alignment {}", m.ty.align))
                .with_hint(format!(
                    "add it to a new message, or use a member type with alignment at most {before} (e.g. `array<uint8, {}>`)",
                    m.ty.size
                ));
                self.error(d);
            }
            so_far = so_far.max(m.ty.align);
        }
        let kept = members.iter().filter(|m| m.removed().is_none()).map(|m| m.ty.align).max();
        let all = members.iter().map(|m| m.ty.align).max().unwrap_or(1);
        if kept.unwrap_or(1) < all {
            for m in members.iter().filter(|m| m.removed().is_some() && m.ty.align == all) {
                let span = m.available.and_then(|a| a.removed).unwrap_or(m.ast.name.span);
                let d = Diagnostic::new(
                    ErrorCode::VersionChangesAlignment,
                    span,
                    format!(
                        "removing `{}` would lower the alignment of `{}` from {all} to {}: its bytes stay as reserved space, which has alignment 1",
                        m.ast.name.name,
                        decl.name.name,
                        kept.unwrap_or(1)
                    ),
                )
                .with_label("the only member with this alignment")
                .with_hint(format!(
                    "keep `{}` (mark it `@available(deprecated=N)` instead), or keep another member with alignment {all}",
                    m.ast.name.name
                ));
                self.error(d);
            }
        }
    }

    /// FI0607: at most [`ir::MAX_STEPS`] versions change the layout.
    fn steps_bounded(&mut self, decl: &ast::Decl, members: &[VersionedMember<'_>]) {
        let versions: BTreeSet<u64> = std::iter::once(1)
            .chain(members.iter().flat_map(|m| std::iter::once(m.added()).chain(m.removed())))
            .collect();
        if versions.len() <= ir::MAX_STEPS {
            return;
        }
        let list: Vec<String> = versions.iter().map(u64::to_string).collect();
        let d = Diagnostic::new(
            ErrorCode::TooManySteps,
            decl.name.span,
            format!(
                "message `{}` changes layout in {} versions ({}), more than {}",
                decl.name.name,
                versions.len(),
                list.join(", "),
                ir::MAX_STEPS
            ),
        )
        .with_label("too many layout versions")
        .with_hint(format!(
            "add or remove the members of several versions in one version, or start a new message; a segment records at most {} steps per message",
            ir::MAX_STEPS
        ));
        self.error(d);
    }

    /// FI0604: the message with versioned members that `ty` holds (through aliases, arrays and
    /// vectors), if any. Its size is part of its container's layout, so it may not grow.
    pub(super) fn nested_versioned_message(&self, ty: &Type) -> Option<DeclId> {
        match &ty.kind {
            TypeKind::Prim(_) => None,
            TypeKind::Array { elem, .. } => self.nested_versioned_message(elem),
            TypeKind::Named(id) => match &self.decls[id.0].kind {
                ir::DeclKind::Struct(s) if s.is_versioned() => Some(*id),
                ir::DeclKind::Alias(t) => self.nested_versioned_message(t),
                ir::DeclKind::Vector(b) => self.nested_versioned_message(&b.elem),
                _ => None,
            },
        }
    }

    /// Reports member `m` of `container`, whose type holds the versioned message `nested`.
    pub(super) fn versioned_message_nested(
        &mut self,
        container: &str,
        m: &ast::StructMember,
        nested: DeclId,
    ) {
        let decl = &self.decls[nested.0];
        let (name, library) = (decl.name.clone(), decl.library.0);
        let steps = match &decl.kind {
            ir::DeclKind::Struct(s) => s.steps.iter().map(|s| s.version.to_string()).collect(),
            _ => Vec::new(),
        };
        let mut d = Diagnostic::new(
            ErrorCode::VersionedMessageNested,
            m.ty.span,
            format!(
                "member `{}` of `{container}` holds message `{name}`, whose layout changes with versions ({})",
                m.name.name,
                steps.join(", ")
            ),
        )
        .with_label("a versioned message cannot be nested")
        .with_hint(format!(
            "`{name}` grows in later versions, which would move everything after it in `{container}`: send it as its own message, or nest a frozen struct with its version-1 members"
        ));
        let span = self.decl_name_span(library, &name);
        if span.file == m.ty.span.file {
            d = d.with_secondary(span, "declared here, with `added`/`removed` members");
        }
        self.error(d);
    }
}
