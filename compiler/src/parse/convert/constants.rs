//! Constant expressions and literals.

use pest::iterators::Pair;

use super::{need, parts, Converter, Cv, Malformed, NameUse};
use crate::ast::{Constant, ConstantKind};
use crate::diagnostic::{Diagnostic, ErrorCode, Span};
use crate::parse::grammar::Rule;
use crate::parse::lexical::{decode_escape, parse_int};
use crate::parse::MAX_OR_TERMS;

impl Converter<'_> {
    /// A whole constant expression: checks the term budget, then converts.
    pub(super) fn constant_top(&mut self, pair: Pair<'_, Rule>) -> Cv<Constant> {
        let pipes =
            pair.clone().into_inner().flatten().filter(|p| p.as_rule() == Rule::pipe).count();
        if pipes >= MAX_OR_TERMS {
            let span = self.span(&pair);
            self.error(
                Diagnostic::new(
                    ErrorCode::Syntax,
                    span,
                    format!("constant expression has more than {MAX_OR_TERMS} `|` terms"),
                )
                .with_hint("split it into several named constants and combine those"),
            );
            return Ok(Constant { kind: ConstantKind::Int(0), span });
        }
        self.constant(pair)
    }

    /// `a | b | c`, left-associative. Recursion only through parentheses (bounded by the scan).
    fn constant(&mut self, pair: Pair<'_, Rule>) -> Cv<Constant> {
        let mut terms = parts(pair);
        let mut acc = self.const_term(need(terms.next())?)?;
        for term in terms {
            let rhs = self.const_term(term)?;
            let span = Span::new(self.file, acc.span.start, rhs.span.end);
            acc = Constant { kind: ConstantKind::Or(Box::new(acc), Box::new(rhs)), span };
        }
        Ok(acc)
    }

    fn const_term(&mut self, pair: Pair<'_, Rule>) -> Cv<Constant> {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::lit_bool => ConstantKind::Bool(pair.as_str() == "true"),
            Rule::lit_int => match parse_int(pair.as_str()) {
                Some(value) => ConstantKind::Int(value),
                None => {
                    self.error(
                        Diagnostic::new(
                            ErrorCode::IntLiteralRange,
                            span,
                            format!("integer literal `{}` does not fit in 128 bits", pair.as_str()),
                        )
                        .with_label("too large")
                        .with_hint("use a value that fits the constant's type (at most 64 bits)"),
                    );
                    ConstantKind::Int(0)
                }
            },
            Rule::lit_float => match pair.as_str().parse::<f64>() {
                Ok(value) => ConstantKind::Float(value),
                Err(_) => {
                    self.error(
                        Diagnostic::new(
                            ErrorCode::Syntax,
                            span,
                            "malformed floating-point literal",
                        )
                        .with_hint("write floats like `1.5`, `-2.0` or `1.5e-3`"),
                    );
                    ConstantKind::Float(0.0)
                }
            },
            Rule::lit_string => ConstantKind::String(self.string_literal(&pair)),
            Rule::compound_name => ConstantKind::Ref(self.compound_name(pair, NameUse::Plain)),
            Rule::constant => return self.constant(pair),
            _ => return Err(Malformed),
        };
        Ok(Constant { kind, span })
    }

    /// The value of a string literal; reports every bad escape.
    fn string_literal(&mut self, pair: &Pair<'_, Rule>) -> String {
        let raw = pair.as_str();
        let base = pair.as_span().start() + 1;
        let inner = raw.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or("");
        let mut out = String::with_capacity(inner.len());
        let mut offset = 0;
        while let Some(found) = inner[offset..].find('\\') {
            let at = offset + found;
            out.push_str(&inner[offset..at]);
            let (len, decoded) = decode_escape(&inner[at..]);
            match decoded {
                Ok(c) => out.push(c),
                Err(message) => {
                    let span = Span::new(self.file, base + at, base + at + len);
                    self.error(
                        Diagnostic::new(ErrorCode::BadStringLiteral, span, message)
                            .with_label("bad escape")
                            .with_hint(
                                "supported escapes are `\\\\`, `\\\"`, `\\n`, `\\t`, `\\r` and `\\u{XXXX}`",
                            ),
                    );
                }
            }
            offset = at + len;
        }
        out.push_str(&inner[offset..]);
        out
    }
}
