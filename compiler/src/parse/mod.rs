//! Parser: `.fidl` text to [`crate::ast::File`].
//!
//! Guarantees:
//! - [`parse_file`] never panics, whatever the input, and its recursion is bounded: input nested
//!   deeper than [`MAX_NESTING`] levels of `<`, `(`, `[` or `{` is rejected by a linear pre-scan
//!   before the (recursive) pest grammar runs, and a constant expression may have at most
//!   [`MAX_OR_TERMS`] `|` terms, so every AST it returns is shallow.
//! - Spans are byte offsets into the text that was passed in.
//! - Only the first syntax error of a file is reported (pest stops there), but every lexical
//!   problem in a file that parses (bad identifier, bad library name, integer out of range, bad
//!   string escape) is reported, not only the first.
//!
//! Stages, in order: `scan` (nesting depth, positions of `///` comments), the
//! missing-`library` check, the grammar in `fidl.pest`, and `Converter`, which turns the pest
//! tree into the AST and runs the lexical checks. Doc comments are skipped by the grammar like
//! any comment and re-attached by position: consecutive `///` lines, each on its own line,
//! directly above an item (or between its attributes and the item) become its `docs`.
//!
//! Submodules: `scan` (the pre-scan), `errors` (the missing-`library` check and pest's syntax
//! errors as diagnostics), `convert` (the `Converter`: pest pairs to AST, split into declarations,
//! types, constants and names) and `lexical` (identifier, integer and string-escape helpers used
//! by the converter).
//!
//! ```
//! use flatipc_gen::parse::parse_file;
//!
//! let file = parse_file(0, "library market.data;\ntype Px = struct { v int64; };\n").unwrap();
//! assert_eq!(file.library.dotted(), "market.data");
//! assert_eq!(file.decls[0].name.name, "Px");
//! ```

use pest::Parser as _;

use crate::ast::File;
use crate::diagnostic::{Diagnostic, ErrorCode, FileId, Span};

mod convert;
mod errors;
mod lexical;
mod scan;

mod grammar {
    //! The generated pest parser; `Rule` is not part of the public API.
    #![allow(missing_docs, missing_debug_implementations)]

    #[derive(pest_derive::Parser)]
    #[grammar = "parse/fidl.pest"]
    pub(super) struct FidlParser;
}

use convert::{Converter, Malformed};
use errors::{missing_library, syntax_error};
use grammar::{FidlParser, Rule};
use scan::scan;

/// Deepest nesting of `<`, `(`, `[` and `{` accepted (counted outside comments and strings).
pub const MAX_NESTING: usize = 64;

/// Most terms a single constant expression (`A | B | ...`, parentheses included) may have.
pub const MAX_OR_TERMS: usize = 256;

/// Parses one file into its syntax tree.
///
/// `file` is stored in every span; spans are byte offsets into `text`.
///
/// # Errors
///
/// [`ErrorCode::MissingLibrary`] if the file does not start with `library`; otherwise one
/// [`ErrorCode::Syntax`] error for the first syntax error, or every
/// [`ErrorCode::BadLibraryName`], [`ErrorCode::BadIdentifier`], [`ErrorCode::IntLiteralRange`]
/// and [`ErrorCode::BadStringLiteral`] problem in a file that is syntactically valid.
pub fn parse_file(file: FileId, text: &str) -> Result<File, Vec<Diagnostic>> {
    let scanned = scan(text);
    if let Some(pos) = scanned.too_deep {
        let end = pos + 1;
        return Err(vec![Diagnostic::new(
            ErrorCode::Syntax,
            Span::new(file, pos, end),
            format!("nesting deeper than {MAX_NESTING} levels"),
        )
        .with_label("too deeply nested")
        .with_hint(
            "flatten the type or expression: name intermediate types with `alias` or `type`",
        )]);
    }
    if let Some(diag) = missing_library(file, text) {
        return Err(vec![diag]);
    }
    let root = match FidlParser::parse(Rule::file, text) {
        Ok(mut pairs) => pairs.next(),
        Err(err) => return Err(vec![syntax_error(file, text, &err)]),
    };
    let mut cx = Converter { file, text, docs: scanned.docs, errors: Vec::new() };
    let parsed = root.ok_or(Malformed).and_then(|root| cx.file(root));
    match parsed {
        Ok(ast) if cx.errors.is_empty() => Ok(ast),
        Ok(_) => Err(cx.errors),
        Err(Malformed) => {
            cx.errors.push(
                Diagnostic::new(
                    ErrorCode::Syntax,
                    Span::new(file, 0, 0),
                    "internal error: unexpected parse tree",
                )
                .with_hint("this is a bug in flatipc-gen; please report it with the schema file"),
            );
            Err(cx.errors)
        }
    }
}
