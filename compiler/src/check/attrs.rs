//! Attributes: `@message`, `@available` and `@doc`. Other attributes (FIDL has many) are accepted
//! and ignored, so that FIDL files parse unchanged.

use std::collections::HashMap;

use super::{names, Checker};
use crate::ast;
use crate::diagnostic::{Diagnostic, ErrorCode, Span};
use crate::ir;

/// Doc comment lines plus any `@doc("...")` text.
pub(super) fn docs(lines: &[String], attributes: &[ast::Attribute]) -> Vec<String> {
    let mut out = lines.to_vec();
    for a in attributes.iter().filter(|a| a.name.name == "doc") {
        for arg in &a.args {
            if let ast::ConstantKind::String(s) = &arg.value.kind {
                out.extend(s.lines().map(str::to_string));
            }
        }
    }
    out
}

fn duplicates(checker: &mut Checker<'_>, attributes: &[ast::Attribute]) {
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for a in attributes {
        if let Some(prev) = seen.get(a.name.name.as_str()) {
            let d = Diagnostic::new(
                ErrorCode::DuplicateAttribute,
                a.span,
                format!("attribute `@{}` is given twice", a.name.name),
            )
            .with_label("given again here")
            .with_secondary(*prev, "first given here")
            .with_hint("keep one of them");
            checker.error(d);
        } else {
            seen.insert(&a.name.name, a.span);
        }
    }
}

fn misplaced(checker: &mut Checker<'_>, a: &ast::Attribute, place: &str) {
    let d = Diagnostic::new(
        ErrorCode::MisplacedAttribute,
        a.span,
        format!("`@{}` is not allowed on {place}", a.name.name),
    )
    .with_label("not allowed here")
    .with_hint("remove it; `@message` marks a struct declaration as a top-level message");
    checker.error(d);
}

/// Checks the attributes of a declaration.
pub(super) fn check_placement(checker: &mut Checker<'_>, decl: &ast::Decl) {
    duplicates(checker, &decl.attributes);
    let is_struct = matches!(decl.kind, ast::DeclKind::Struct { .. });
    for a in &decl.attributes {
        if a.name.name == "message" && !is_struct {
            misplaced(checker, a, "this declaration (only on structs)");
        }
    }
}

/// Checks the attributes of a struct member other than `@available`.
pub(super) fn check_member_attributes(checker: &mut Checker<'_>, attributes: &[ast::Attribute]) {
    duplicates(checker, attributes);
    for a in attributes {
        if a.name.name == "message" {
            misplaced(checker, a, "a member");
        }
    }
}

fn bad_arg(checker: &mut Checker<'_>, span: Span, message: String, hint: &str) {
    let d = Diagnostic::new(ErrorCode::BadAttribute, span, message)
        .with_label("invalid argument")
        .with_hint(hint);
    checker.error(d);
}

/// A member's `@available(...)`, with where each version was written.
#[derive(Debug, Clone, Copy)]
pub(super) struct AvailableAttr {
    /// The versions.
    pub value: ir::Available,
    /// The whole attribute.
    pub span: Span,
    /// Where `added=`, `deprecated=` and `removed=` were written (their values).
    pub added: Option<Span>,
    pub deprecated: Option<Span>,
    pub removed: Option<Span>,
}

impl AvailableAttr {
    /// Whether the member changes the layout's history: added after version 1, or removed.
    pub fn is_versioned(&self) -> bool {
        self.value.added.is_some_and(|a| a > 1) || self.value.removed.is_some()
    }
}

/// Reads a member's `@available(added=N, deprecated=N, removed=N)`.
pub(super) fn available(
    checker: &mut Checker<'_>,
    attributes: &[ast::Attribute],
) -> Option<AvailableAttr> {
    let a = attributes.iter().find(|a| a.name.name == "available")?;
    let mut out = AvailableAttr {
        value: ir::Available::default(),
        span: a.span,
        added: None,
        deprecated: None,
        removed: None,
    };
    const HINT: &str = "write `@available(added=N)` with N a positive integer (also \
                        `deprecated=N`, `removed=N`); the library's version goes on the `library` \
                        line: `@available(version=N)`";
    for arg in &a.args {
        let Some(key) = &arg.name else {
            bad_arg(checker, arg.span, "`@available` takes named arguments".to_string(), HINT);
            continue;
        };
        let (slot, span) = match key.name.as_str() {
            "added" => (&mut out.value.added, &mut out.added),
            "deprecated" => (&mut out.value.deprecated, &mut out.deprecated),
            "removed" => (&mut out.value.removed, &mut out.removed),
            "note" | "platform" => continue,
            other => {
                bad_arg(checker, key.span, format!("`@available` has no argument `{other}`"), HINT);
                continue;
            }
        };
        match arg.value.kind {
            ast::ConstantKind::Int(v) if v >= 1 && v <= i128::from(u64::MAX) => {
                *slot = u64::try_from(v).ok();
                *span = Some(arg.value.span);
            }
            _ => bad_arg(
                checker,
                arg.value.span,
                format!("`{}` must be a positive integer version", key.name),
                HINT,
            ),
        }
    }
    if let Some(removed) = out.value.removed {
        let added = out.value.added.unwrap_or(1);
        if removed <= added {
            let what = if out.value.added.is_some() {
                format!("`removed={removed}` is not after `added={added}`")
            } else {
                format!("`removed={removed}` is not after version 1, where the member was added")
            };
            bad_arg(checker, a.span, what, "a member must be removed after it is added");
        }
    }
    Some(out)
}

/// Reads the library version of one file: `@available(version=N)` before its `library` line,
/// 1 to 255. Returns the version and where it was written; `None` when the file does not say
/// (version 1) or says it wrongly (reported).
pub(super) fn library_version(
    checker: &mut Checker<'_>,
    attributes: &[ast::Attribute],
) -> Option<(u16, Span)> {
    duplicates(checker, attributes);
    let a = attributes.iter().find(|a| a.name.name == "available")?;
    const HINT: &str = "write `@available(version=N)` before the `library` line, with N from 1 \
                        to 255: the library's current version";
    let mut version = None;
    for arg in &a.args {
        match arg.name.as_ref().map(|n| n.name.as_str()) {
            Some("version") => match arg.value.kind {
                ast::ConstantKind::Int(v) if (1..=i128::from(ir::MAX_VERSION)).contains(&v) => {
                    version = u16::try_from(v).ok().map(|v| (v, arg.span));
                }
                _ => bad_arg(
                    checker,
                    arg.value.span,
                    format!("the library version must be an integer from 1 to {}", ir::MAX_VERSION),
                    HINT,
                ),
            },
            // FIDL's API levels of the library itself: no wire meaning, accepted and ignored.
            Some("added" | "platform" | "note") => {}
            Some(other) => bad_arg(
                checker,
                arg.span,
                format!("`@available` on a library has no argument `{other}`"),
                HINT,
            ),
            None => {
                bad_arg(checker, arg.span, "`@available` takes named arguments".to_string(), HINT)
            }
        }
    }
    version
}

/// Reads `@message` / `@message(id=N)`: `Some(None)` for a plain struct, `Some(Some(_))` for a
/// message, `None` after an error.
pub(super) fn message(
    checker: &mut Checker<'_>,
    lib: usize,
    decl: &ast::Decl,
) -> Option<Option<ir::MessageInfo>> {
    let Some(a) = decl.attributes.iter().find(|a| a.name.name == "message") else {
        return Some(None);
    };
    const HINT: &str =
        "write `@message` (id derived from the name) or `@message(id=N)` with 1 <= N < 0xFFFF0000";
    let mut explicit = None;
    for arg in &a.args {
        if arg.name.as_ref().is_some_and(|n| n.name != "id") {
            bad_arg(checker, arg.span, "`@message` takes only `id`".to_string(), HINT);
            return None;
        }
        match arg.value.kind {
            ast::ConstantKind::Int(v) => match u32::try_from(v) {
                Ok(0) => {
                    reserved(checker, arg.value.span, 0);
                    return None;
                }
                Ok(id) if id >= names::FIRST_RESERVED_ID => {
                    reserved(checker, arg.value.span, id);
                    return None;
                }
                Ok(id) => explicit = Some(id),
                Err(_) => {
                    bad_arg(
                        checker,
                        arg.value.span,
                        format!("message id {v} does not fit in 32 bits"),
                        HINT,
                    );
                    return None;
                }
            },
            _ => {
                bad_arg(
                    checker,
                    arg.value.span,
                    "message id must be an integer literal".to_string(),
                    HINT,
                );
                return None;
            }
        }
    }
    Some(Some(match explicit {
        Some(id) => ir::MessageInfo { id, explicit: true },
        None => ir::MessageInfo {
            id: names::derived_message_id(&format!(
                "{}/{}",
                checker.libs[lib].name, decl.name.name
            )),
            explicit: false,
        },
    }))
}

fn reserved(checker: &mut Checker<'_>, span: Span, id: u32) {
    let d = Diagnostic::new(
        ErrorCode::ReservedMessageId,
        span,
        format!("message id {id:#x} is reserved for the flatipc protocol"),
    )
    .with_label("reserved id")
    .with_hint("use an id from 1 to 0xFFFEFFFF");
    checker.error(d);
}
