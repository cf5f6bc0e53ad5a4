//! Constants: evaluation of constant expressions, `const` declarations, enums and bits.

use std::collections::HashMap;

use flatipc::fingerprint::Fingerprinter;

use super::{names, Checker};
use crate::ast;
use crate::diagnostic::{Diagnostic, ErrorCode, Span};
use crate::ir::{self, DeclId, Prim, TypeKind};

/// A value during evaluation.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    Int(i128),
    Float(f64),
    Bool(bool),
    Str(String),
    /// A member (or `|` of members) of an enum or bits declaration.
    Member {
        decl: DeclId,
        value: i128,
    },
}

/// What a value must become.
#[derive(Debug, Clone, Copy)]
pub(super) enum Target {
    Prim(Prim),
    Decl(DeclId),
    String,
}

impl Value {
    fn describe(&self, checker: &Checker<'_>) -> String {
        match self {
            Value::Int(v) => format!("the integer {v}"),
            Value::Float(v) => format!("the float {v}"),
            Value::Bool(v) => format!("the bool {v}"),
            Value::Str(_) => "a string".to_string(),
            Value::Member { decl, .. } => format!("a member of `{}`", checker.decls[decl.0].name),
        }
    }
}

impl<'a> Checker<'a> {
    /// Evaluates a constant expression without a target type.
    pub(super) fn eval(&mut self, lib: usize, c: &ast::Constant) -> Option<Value> {
        match &c.kind {
            ast::ConstantKind::Int(v) => Some(Value::Int(*v)),
            ast::ConstantKind::Float(v) => Some(Value::Float(*v)),
            ast::ConstantKind::Bool(v) => Some(Value::Bool(*v)),
            ast::ConstantKind::String(s) => Some(Value::Str(s.clone())),
            ast::ConstantKind::Or(a, b) => {
                let (va, vb) = (self.eval(lib, a), self.eval(lib, b));
                match (va?, vb?) {
                    (
                        Value::Member { decl: da, value: a },
                        Value::Member { decl: db, value: b },
                    ) if da == db && matches!(self.decls[da.0].kind, ir::DeclKind::Bits(_)) => {
                        Some(Value::Member { decl: da, value: a | b })
                    }
                    (Value::Int(a), Value::Int(b)) if a >= 0 && b >= 0 => Some(Value::Int(a | b)),
                    (x, y) => {
                        let enum_name = [&x, &y].into_iter().find_map(|v| match v {
                            Value::Member { decl, .. }
                                if matches!(self.decls[decl.0].kind, ir::DeclKind::Enum(_)) =>
                            {
                                Some(self.decls[decl.0].name.clone())
                            }
                            _ => None,
                        });
                        let hint = match enum_name {
                            Some(e) => format!("`{e}` is an enum, whose values are one member at a time; declare it as `bits` if its members combine"),
                            None => "combine members of the same bits type, e.g. `Flags.A | Flags.B`".to_string(),
                        };
                        let d = Diagnostic::new(
                            ErrorCode::OrOnNonBits,
                            c.span,
                            format!("`|` needs two members of one bits type, or two non-negative integers; found {} and {}", x.describe(self), y.describe(self)),
                        )
                        .with_label("invalid `|`")
                        .with_hint(hint);
                        self.error(d);
                        None
                    }
                }
            }
            ast::ConstantKind::Ref(name) => self.eval_ref(lib, name),
        }
    }

    fn eval_ref(&mut self, lib: usize, name: &ast::CompoundName) -> Option<Value> {
        let found = self.lookup(lib, name, "constant")?;
        let (target_lib, decl_name) = (found.lib, found.decl.name.clone());
        let member = found.rest.first().cloned();
        if found.rest.len() > 1 {
            let d = Diagnostic::new(
                ErrorCode::UnknownConst,
                name.span,
                format!("unknown constant `{}`", name.dotted()),
            )
            .with_label("too many components")
            .with_hint("refer to a constant as `NAME` or to a member as `Type.MEMBER`");
            self.error(d);
            return None;
        }
        if self.in_progress(target_lib, &decl_name) {
            let d = Diagnostic::new(
                ErrorCode::ConstCycle,
                name.span,
                format!("`{}` is defined in terms of itself", name.dotted()),
            )
            .with_label("this reference closes the cycle")
            .with_hint("give one of the constants a literal value");
            self.error(d);
            return None;
        }
        let id = self.resolve_decl(target_lib, &decl_name)?;
        match (&self.decls[id.0].kind, member) {
            (ir::DeclKind::Const(c), None) => Some(match (&c.ty, &c.value) {
                (ir::ConstType::Named(d), ir::ConstValue::Int(v)) => {
                    Value::Member { decl: *d, value: *v }
                }
                (_, ir::ConstValue::Int(v)) => Value::Int(*v),
                (_, ir::ConstValue::Float(v)) => Value::Float(*v),
                (_, ir::ConstValue::Bool(v)) => Value::Bool(*v),
                (_, ir::ConstValue::String(v)) => Value::Str(v.clone()),
            }),
            (ir::DeclKind::Enum(e) | ir::DeclKind::Bits(e), Some(member)) => {
                if let Some(m) = e.members.iter().find(|m| m.name == member.name) {
                    return Some(Value::Member { decl: id, value: m.value });
                }
                let candidates: Vec<&str> = e.members.iter().map(|m| m.name.as_str()).collect();
                let mut d = Diagnostic::new(
                    ErrorCode::UnknownConst,
                    member.span,
                    format!("`{decl_name}` has no member `{}`", member.name),
                )
                .with_label("unknown member");
                d = match super::types::closest(&member.name, &candidates) {
                    Some(best) => d.with_hint(format!("did you mean `{decl_name}.{best}`?")),
                    None => d.with_hint(format!("the members are: {}", candidates.join(", "))),
                };
                self.error(d);
                None
            }
            _ => {
                let d = Diagnostic::new(
                    ErrorCode::UnknownConst,
                    name.span,
                    format!("`{}` is not a constant or member", name.dotted()),
                )
                .with_label("not a value")
                .with_hint("refer to a `const`, or to an enum or bits member as `Type.MEMBER`");
                self.error(d);
                None
            }
        }
    }

    /// Converts a value to a target type, reporting mismatches and range errors.
    pub(super) fn coerce(
        &mut self,
        value: Value,
        target: Target,
        span: Span,
        what: &str,
    ) -> Option<ir::ConstValue> {
        let mismatch = |checker: &mut Self, expected: &str| {
            let d = Diagnostic::new(
                ErrorCode::ConstTypeMismatch,
                span,
                format!("{what} must be {expected}, but this is {}", value.describe(checker)),
            )
            .with_label(format!("expected {expected}"))
            .with_hint(format!("write {expected} here"));
            checker.error(d);
            None
        };
        match target {
            Target::Prim(Prim::Bool) => match value {
                Value::Bool(b) => Some(ir::ConstValue::Bool(b)),
                _ => mismatch(self, "`true` or `false`"),
            },
            Target::Prim(p @ (Prim::Float32 | Prim::Float64)) => {
                let v = match value {
                    Value::Float(f) => f,
                    #[allow(clippy::cast_precision_loss)]
                    Value::Int(i) => i as f64,
                    _ => return mismatch(self, "a number"),
                };
                let max = if p == Prim::Float32 { f64::from(f32::MAX) } else { f64::MAX };
                if !v.is_finite() || v.abs() > max {
                    return self.out_of_range(span, what, &format!("{v}"), p.schema_name());
                }
                Some(ir::ConstValue::Float(v))
            }
            Target::Prim(p) => match value {
                Value::Int(v) => self.int_in_range(v, p, span, what).map(ir::ConstValue::Int),
                _ => mismatch(self, &format!("an integer ({})", p.schema_name())),
            },
            Target::String => match value {
                Value::Str(s) => Some(ir::ConstValue::String(s)),
                _ => mismatch(self, "a string"),
            },
            Target::Decl(decl) => {
                let (underlying, name) = match &self.decls[decl.0].kind {
                    ir::DeclKind::Enum(e) | ir::DeclKind::Bits(e) => {
                        (e.underlying, self.decls[decl.0].name.clone())
                    }
                    _ => return mismatch(self, "an enum or bits member"),
                };
                match value {
                    Value::Member { decl: d, value } if d == decl => {
                        Some(ir::ConstValue::Int(value))
                    }
                    Value::Int(v) => {
                        self.int_in_range(v, underlying, span, what).map(ir::ConstValue::Int)
                    }
                    _ => mismatch(self, &format!("a member of `{name}`")),
                }
            }
        }
    }

    fn int_in_range(&mut self, v: i128, p: Prim, span: Span, what: &str) -> Option<i128> {
        let (lo, hi) = p.int_range()?;
        if v < lo || v > hi {
            return self.out_of_range(span, what, &v.to_string(), p.schema_name());
        }
        Some(v)
    }

    fn out_of_range<T>(&mut self, span: Span, what: &str, value: &str, ty: &str) -> Option<T> {
        let hint = match Prim::from_schema_name(ty).and_then(Prim::int_range) {
            Some((0, hi)) if value.starts_with('-') => {
                format!("`{ty}` holds 0 ..= {hi}; use a signed type or a non-negative value")
            }
            Some((lo, hi)) => {
                format!("`{ty}` holds {lo} ..= {hi}; use a wider type or a value in that range")
            }
            None => format!("use a value that `{ty}` can hold"),
        };
        let d = Diagnostic::new(
            ErrorCode::ConstOutOfRange,
            span,
            format!("{what} is {value}, which does not fit in `{ty}`"),
        )
        .with_label("out of range")
        .with_hint(hint);
        self.error(d);
        None
    }

    /// Evaluates an array length or string/vector bound: an integer in `1..=MAX_LENGTH`.
    pub(super) fn eval_length(&mut self, lib: usize, c: &ast::Constant, what: &str) -> Option<u64> {
        let value = self.eval(lib, c)?;
        match value {
            Value::Int(0) => {
                let d = Diagnostic::new(ErrorCode::ZeroLength, c.span, format!("{what} is zero"))
                    .with_label("zero")
                    .with_hint("use a length of at least 1, or remove the member");
                self.error(d);
                None
            }
            Value::Int(v) if v > 0 && v <= i128::from(super::types::MAX_LENGTH) => {
                u64::try_from(v).ok()
            }
            other => {
                let d = Diagnostic::new(
                    ErrorCode::BadLength,
                    c.span,
                    format!(
                        "{what} must be a positive integer up to {}, but this is {}",
                        super::types::MAX_LENGTH,
                        other.describe(self)
                    ),
                )
                .with_label("invalid length")
                .with_hint("use a positive integer literal or `const`, e.g. `16`");
                self.error(d);
                None
            }
        }
    }

    pub(super) fn build_const(
        &mut self,
        lib: usize,
        decl: &'a ast::Decl,
        ty: &'a ast::TypeExpr,
        value: &ast::Constant,
    ) -> Option<ir::Const> {
        let (ir_ty, target) = match &ty.kind {
            ast::TypeExprKind::String { .. } if ty.constraints.is_empty() => {
                (ir::ConstType::String, Target::String)
            }
            _ => {
                let resolved = self.resolve_type(lib, ty, None)?;
                match self.chase(&resolved.kind) {
                    Some(TypeKind::Prim(p)) => (ir::ConstType::Prim(p), Target::Prim(p)),
                    Some(TypeKind::Named(id))
                        if matches!(
                            self.decls[id.0].kind,
                            ir::DeclKind::Enum(_) | ir::DeclKind::Bits(_)
                        ) =>
                    {
                        (ir::ConstType::Named(id), Target::Decl(id))
                    }
                    _ => {
                        let d = Diagnostic::new(
                            ErrorCode::BadConstType,
                            ty.span,
                            match &ty.kind {
                                ast::TypeExprKind::Named(n) => format!(
                                    "constant `{}` cannot have type `{}`",
                                    decl.name.name,
                                    n.dotted()
                                ),
                                _ => format!("constant `{}` cannot have this type", decl.name.name),
                            },
                        )
                        .with_label("not a constant type")
                        .with_hint(
                            "constants are bool, integer, float, string, enum or bits values",
                        );
                        self.error(d);
                        return None;
                    }
                }
            }
        };
        let v = self.eval(lib, value)?;
        let what = format!("constant `{}`", decl.name.name);
        let value = self.coerce(v, target, value.span, &what)?;
        Some(ir::Const { ty: ir_ty, value })
    }

    /// Follows aliases: the kind of the type an alias finally names.
    pub(super) fn chase(&self, kind: &TypeKind) -> Option<TypeKind> {
        let mut kind = kind.clone();
        for _ in 0..=self.decls.len() {
            match &kind {
                TypeKind::Named(id) => match &self.decls[id.0].kind {
                    ir::DeclKind::Alias(t) => kind = t.kind.clone(),
                    _ => return Some(kind),
                },
                _ => return Some(kind),
            }
        }
        None
    }

    pub(super) fn build_enum_like(
        &mut self,
        lib: usize,
        decl: &'a ast::Decl,
        e: &'a ast::EnumLike,
        bits: bool,
    ) -> Option<ir::EnumLike> {
        let what = if bits { "bits" } else { "enum" };
        let mut ok = true;
        let mut strictness: Option<(bool, Span)> = None;
        for m in &e.modifiers {
            let strict = match m.name.as_str() {
                "strict" => true,
                "flexible" => false,
                _ => {
                    let d = Diagnostic::new(
                        ErrorCode::BadModifier,
                        m.span,
                        format!("`{}` is not allowed on {what} `{}`", m.name, decl.name.name),
                    )
                    .with_label("not allowed here")
                    .with_hint(format!("{what} declarations take `strict` or `flexible`"));
                    self.error(d);
                    ok = false;
                    continue;
                }
            };
            if let Some((_, prev)) = strictness {
                let d = Diagnostic::new(
                    ErrorCode::BadModifier,
                    m.span,
                    format!("{what} `{}` has more than one strictness modifier", decl.name.name),
                )
                .with_label("second modifier")
                .with_secondary(prev, "first modifier")
                .with_hint("keep exactly one of `strict` and `flexible`");
                self.error(d);
                ok = false;
            }
            strictness = Some((strict, m.span));
        }
        let strict = strictness.is_some_and(|(s, _)| s);
        let underlying = match &e.subtype {
            None => Prim::Uint32,
            Some(ty) => {
                let resolved = self.resolve_type(lib, ty, None)?;
                match self.chase(&resolved.kind) {
                    Some(TypeKind::Prim(p)) if p.is_integer() && (!bits || !p.is_signed()) => p,
                    _ => {
                        let (code, need) = if bits {
                            (
                                ErrorCode::BadBitsSubtype,
                                "an unsigned integer type (uint8, uint16, uint32 or uint64)",
                            )
                        } else {
                            (
                                ErrorCode::BadEnumSubtype,
                                "an integer type (int8 … int64, uint8 … uint64)",
                            )
                        };
                        let d = Diagnostic::new(
                            code,
                            ty.span,
                            format!(
                                "the underlying type of {what} `{}` must be {need}",
                                decl.name.name
                            ),
                        )
                        .with_label("invalid underlying type")
                        .with_hint(format!("write e.g. `{what} : uint8`"));
                        self.error(d);
                        return None;
                    }
                }
            }
        };
        if e.members.is_empty() {
            let d = Diagnostic::new(
                ErrorCode::EmptyEnum,
                decl.name.span,
                format!("{what} `{}` has no members", decl.name.name),
            )
            .with_label(format!("empty {what}"))
            .with_hint("add at least one member");
            self.error(d);
            return None;
        }
        let mut names_seen: HashMap<&str, Span> = HashMap::new();
        let mut values_seen: HashMap<i128, (&str, Span)> = HashMap::new();
        let mut members = Vec::new();
        let container = format!("{what} `{}`", decl.name.name);
        for m in &e.members {
            if !self.new_member(&mut names_seen, &m.name, &container) {
                ok = false;
                continue;
            }
            if names::ENUM_MEMBER_RESERVED.contains(&m.name.name.as_str()) {
                let d = Diagnostic::new(
                    ErrorCode::GeneratedNameClash,
                    m.name.span,
                    format!(
                        "member name `{}` clashes with an item generated for every {what} type",
                        m.name.name
                    ),
                )
                .with_label("reserved member name")
                .with_hint(format!(
                    "rename it; these names are reserved: {}",
                    names::ENUM_MEMBER_RESERVED.join(", ")
                ));
                self.error(d);
                ok = false;
            }
            let Some(v) = self.eval(lib, &m.value) else {
                ok = false;
                continue;
            };
            let label = format!("member `{}.{}`", decl.name.name, m.name.name);
            let Some(ir::ConstValue::Int(value)) =
                self.coerce(v, Target::Prim(underlying), m.value.span, &label)
            else {
                ok = false;
                continue;
            };
            if bits && (value <= 0 || value & (value - 1) != 0) {
                let d = Diagnostic::new(ErrorCode::BitsNotSingleBit, m.value.span, format!("bits member `{}` is {value:#x}, which is not a single bit", m.name.name))
                    .with_label("not a power of two")
                    .with_hint("each bits member is one bit (1, 2, 4, 8, …); name combinations with a `const` using `|`");
                self.error(d);
                ok = false;
                continue;
            }
            if let Some((other, prev)) = values_seen.get(&value) {
                let d = Diagnostic::new(
                    ErrorCode::DuplicateValue,
                    m.value.span,
                    format!("`{}` has the same value ({value}) as `{other}`", m.name.name),
                )
                .with_label("duplicate value")
                .with_secondary(*prev, "first used here")
                .with_hint("give every member a distinct value");
                self.error(d);
                ok = false;
                continue;
            }
            values_seen.insert(value, (&m.name.name, m.value.span));
            members.push(ir::EnumMember {
                name: m.name.name.clone(),
                docs: super::attrs::docs(&m.docs, &m.attributes),
                value,
            });
        }
        if !ok {
            return None;
        }
        let prim_fp = Fingerprinter::primitive(underlying.code());
        let fingerprint = if bits {
            Fingerprinter::bits(prim_fp, strict)
        } else {
            Fingerprinter::enumeration(prim_fp, strict)
        };
        Some(ir::EnumLike { underlying, strict, members, fingerprint })
    }
}
