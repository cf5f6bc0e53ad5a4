//! Type expressions.

use pest::iterators::Pair;

use super::{need, parts, Converter, Cv, Malformed, NameUse};
use crate::ast::{CompoundName, Constant, ConstantKind, Ident, TypeExpr, TypeExprKind};
use crate::diagnostic::{Diagnostic, ErrorCode, Span};
use crate::parse::grammar::Rule;

/// A parameter of a parameterised type, before we know whether it is a type or a length.
#[derive(Debug)]
enum Param {
    Type(TypeExpr),
    Const(Constant),
}

impl Converter<'_> {
    pub(super) fn type_expr(&mut self, pair: Pair<'_, Rule>) -> Cv<TypeExpr> {
        let span = self.span(&pair);
        // The pair also covers whitespace and comments skipped while looking for optional
        // constraints; the span ends where the last part does.
        let content_end =
            pair.clone().into_inner().map(|p| p.as_span().end()).max().unwrap_or(span.end);
        let mut name = None;
        let mut params = None;
        let mut constraints = Vec::new();
        for part in parts(pair) {
            match part.as_rule() {
                Rule::compound_name => name = Some(self.compound_name(part, NameUse::Plain)),
                Rule::type_params => {
                    let mut list = Vec::new();
                    for param in parts(part) {
                        list.push(match param.as_rule() {
                            Rule::constant => Param::Const(self.constant_top(param)?),
                            Rule::type_expr => Param::Type(self.type_expr(param)?),
                            _ => return Err(Malformed),
                        });
                    }
                    params = Some(list);
                }
                Rule::constraints => {
                    for constraint in parts(part) {
                        constraints.push(self.constant_top(constraint)?);
                    }
                }
                Rule::inline_layout => name = Some(self.inline_layout(part)?),
                _ => return Err(Malformed),
            }
        }
        let name = need(name)?;
        let kind = self.type_kind(name, params);
        Ok(TypeExpr { kind, constraints, span: Span { end: content_end, ..span } })
    }

    /// Reports an anonymous layout used as a type; returns its keyword as a stand-in name.
    fn inline_layout(&mut self, pair: Pair<'_, Rule>) -> Cv<CompoundName> {
        let span = self.span(&pair);
        let keyword = need(
            pair.into_inner()
                .find(|p| !matches!(p.as_rule(), Rule::modifier))
                .map(|p| self.keyword(&p)),
        )?;
        self.error(
            Diagnostic::new(
                ErrorCode::Syntax,
                span,
                format!("anonymous `{}` layouts are not supported", keyword.name),
            )
            .with_label("inline layout")
            .with_hint(format!(
                "declare it separately, e.g. `type MyName = {} {{ ... }};`, and use `MyName` as the type",
                keyword.name
            )),
        );
        Ok(CompoundName { span: keyword.span, parts: vec![keyword] })
    }

    fn type_kind(&mut self, name: CompoundName, params: Option<Vec<Param>>) -> TypeExprKind {
        let builtin = match name.parts.as_slice() {
            [only] => only.name.clone(),
            _ => String::new(),
        };
        let Some(params) = params else {
            return if builtin == "string" {
                TypeExprKind::String { bound: None }
            } else {
                TypeExprKind::Named(name)
            };
        };
        let count = params.len();
        let mut iter = params.into_iter();
        match (builtin.as_str(), iter.next(), iter.next(), count) {
            ("array", Some(elem), Some(len), 2) => TypeExprKind::Array {
                elem: Box::new(self.param_as_type(elem)),
                len: self.param_as_const(len),
            },
            ("string", Some(bound), None, 1) => {
                TypeExprKind::String { bound: Some(self.param_as_const(bound)) }
            }
            ("vector", Some(elem), bound, 1 | 2) => TypeExprKind::Vector {
                elem: Box::new(self.param_as_type(elem)),
                bound: bound.map(|b| self.param_as_const(b)),
            },
            ("box", Some(elem), None, 1) => TypeExprKind::Box(Box::new(self.param_as_type(elem))),
            (_, first, second, _) => {
                // Always rejected by the checker (with a precise error), so a constant among
                // the parameters is kept as a placeholder rather than reported here.
                let all: Vec<Param> = first.into_iter().chain(second).chain(iter).collect();
                let params = all
                    .into_iter()
                    .map(|p| match p {
                        Param::Const(c) if !matches!(c.kind, ConstantKind::Ref(_)) => {
                            let placeholder = Ident { name: String::new(), span: c.span };
                            TypeExpr {
                                kind: TypeExprKind::Named(CompoundName {
                                    parts: vec![placeholder],
                                    span: c.span,
                                }),
                                constraints: Vec::new(),
                                span: c.span,
                            }
                        }
                        p => self.param_as_type(p),
                    })
                    .collect();
                TypeExprKind::Other { name, params }
            }
        }
    }

    fn param_as_type(&mut self, param: Param) -> TypeExpr {
        match param {
            Param::Type(ty) => ty,
            Param::Const(Constant { kind: ConstantKind::Ref(name), span }) => {
                TypeExpr { kind: TypeExprKind::Named(name), constraints: Vec::new(), span }
            }
            Param::Const(constant) => {
                self.error(
                    Diagnostic::new(ErrorCode::Syntax, constant.span, "expected a type, found a constant")
                        .with_label("not a type")
                        .with_hint(
                            "only the last parameter of `array<T, N>`, `string<N>` and `vector<T, N>` is a length",
                        ),
                );
                let placeholder = Ident { name: String::new(), span: constant.span };
                TypeExpr {
                    kind: TypeExprKind::Named(CompoundName {
                        parts: vec![placeholder],
                        span: constant.span,
                    }),
                    constraints: Vec::new(),
                    span: constant.span,
                }
            }
        }
    }

    fn param_as_const(&mut self, param: Param) -> Constant {
        match param {
            Param::Const(constant) => constant,
            Param::Type(TypeExpr { kind: TypeExprKind::Named(name), constraints, span })
                if constraints.is_empty() =>
            {
                Constant { kind: ConstantKind::Ref(name), span }
            }
            Param::Type(ty) => {
                self.error(
                    Diagnostic::new(ErrorCode::Syntax, ty.span, "expected a length, found a type")
                        .with_label("not a constant")
                        .with_hint("a length is an integer or the name of an integer constant, e.g. `16` or `MAX_LEN`"),
                );
                Constant { kind: ConstantKind::Int(0), span: ty.span }
            }
        }
    }
}
