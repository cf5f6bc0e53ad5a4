//! Identifiers, keywords and dotted names.

use pest::iterators::Pair;

use super::{Converter, NameUse};
use crate::ast::{CompoundName, Ident};
use crate::diagnostic::{Diagnostic, ErrorCode};
use crate::parse::grammar::Rule;
use crate::parse::lexical::{has_bad_underscores, is_library_component, underscore_fix};

impl Converter<'_> {
    /// A keyword or modifier, kept as written (no identifier checks).
    pub(super) fn keyword(&self, pair: &Pair<'_, Rule>) -> Ident {
        Ident { name: pair.as_str().to_owned(), span: self.span(pair) }
    }

    /// An identifier; reports leading, trailing or doubled underscores.
    pub(super) fn ident(&mut self, pair: &Pair<'_, Rule>) -> Ident {
        let ident = self.keyword(pair);
        if has_bad_underscores(&ident.name) {
            let fixed = underscore_fix(&ident.name);
            let hint = if fixed.is_empty() {
                "identifiers cannot start or end with `_` or contain `__`; use a descriptive name"
                    .to_owned()
            } else {
                format!("identifiers cannot start or end with `_` or contain `__`; rename it, e.g. `{fixed}`")
            };
            self.error(
                Diagnostic::new(
                    ErrorCode::BadIdentifier,
                    ident.span,
                    format!("malformed identifier `{}`", ident.name),
                )
                .with_label("misplaced `_`")
                .with_hint(hint),
            );
        }
        ident
    }

    pub(super) fn compound_name(&mut self, pair: Pair<'_, Rule>, usage: NameUse) -> CompoundName {
        let span = self.span(&pair);
        let mut parts_out = Vec::new();
        for part in pair.into_inner() {
            let ident = match usage {
                NameUse::Plain => self.ident(&part),
                NameUse::Library => {
                    let ident = self.keyword(&part);
                    if !is_library_component(&ident.name) {
                        self.error(
                            Diagnostic::new(
                                ErrorCode::BadLibraryName,
                                ident.span,
                                format!("malformed library name component `{}`", ident.name),
                            )
                            .with_label("not lowercase letters, digits and `_`")
                            .with_hint(
                                "library name components are lowercase letters, digits and `_`, \
                                 starting with a letter, e.g. `library market.data;`",
                            ),
                        );
                    }
                    ident
                }
            };
            parts_out.push(ident);
        }
        CompoundName { parts: parts_out, span }
    }
}
