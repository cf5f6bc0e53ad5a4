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
//! ```
//! use flatipc_gen::parse::parse_file;
//!
//! let file = parse_file(0, "library market.data;\ntype Px = struct { v int64; };\n").unwrap();
//! assert_eq!(file.library.dotted(), "market.data");
//! assert_eq!(file.decls[0].name.name, "Px");
//! ```

use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::Pair;
use pest::Parser as _;

use crate::ast::{
    Attribute, AttributeArg, CompoundName, Constant, ConstantKind, Decl, DeclKind, EnumLike,
    EnumMember, File, Ident, StructMember, TypeExpr, TypeExprKind, Using,
};
use crate::diagnostic::{Diagnostic, ErrorCode, FileId, Span};

mod grammar {
    //! The generated pest parser; `Rule` is not part of the public API.
    #![allow(missing_docs, missing_debug_implementations)]

    #[derive(pest_derive::Parser)]
    #[grammar = "fidl.pest"]
    pub(super) struct FidlParser;
}

use grammar::{FidlParser, Rule};

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

// ------------------------------------------------------------------------------------------------
// Pre-scan: nesting depth and doc comments.

/// A `///` comment: `start` is at the first `/`, `end` at the line end (exclusive).
#[derive(Debug, Clone, Copy)]
struct DocComment {
    start: usize,
    end: usize,
    /// Only whitespace precedes it on its line.
    own_line: bool,
}

/// What the pre-scan found.
#[derive(Debug)]
struct Scan {
    /// Every `///` comment, in order.
    docs: Vec<DocComment>,
    /// Offset of the first bracket that opens level `MAX_NESTING + 1`.
    too_deep: Option<usize>,
}

/// Walks the text once, skipping comments and strings the way the grammar does.
fn scan(text: &str) -> Scan {
    let bytes = text.as_bytes();
    let mut docs = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let end = text[i..].find('\n').map_or(text.len(), |n| i + n);
                let is_doc = text[i..end].starts_with("///") && !text[i..end].starts_with("////");
                if is_doc {
                    let line_start = text[..i].rfind('\n').map_or(0, |n| n + 1);
                    let own_line =
                        text[line_start..i].chars().all(|c| matches!(c, ' ' | '\t' | '\u{FEFF}'));
                    docs.push(DocComment { start: i, end, own_line });
                }
                i = end;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' && bytes.get(i + 1).is_some_and(|&b| b != b'\n') {
                        2
                    } else {
                        1
                    };
                }
                if bytes.get(i) == Some(&b'"') {
                    i += 1;
                }
            }
            b'<' | b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Scan { docs, too_deep: Some(i) };
                }
                i += 1;
            }
            b'>' | b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            _ => i += 1,
        }
    }
    Scan { docs, too_deep: None }
}

/// `pos` advanced past whitespace and `//` comments.
fn skip_trivia(text: &str, mut pos: usize) -> usize {
    loop {
        let rest = &text[pos..];
        let trimmed = rest.trim_start_matches([' ', '\t', '\r', '\n', '\u{FEFF}']);
        pos += rest.len() - trimmed.len();
        if trimmed.starts_with("//") {
            pos += trimmed.find('\n').unwrap_or(trimmed.len());
        } else {
            return pos;
        }
    }
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// End of the token starting at `pos` (a word, or one character) and how to show it.
fn token_at(text: &str, pos: usize) -> (usize, String) {
    let rest = &text[pos..];
    let Some(first) = rest.chars().next() else {
        return (pos, "end of file".to_owned());
    };
    let len = if is_ident_char(first) {
        rest.find(|c: char| !is_ident_char(c)).unwrap_or(rest.len())
    } else {
        first.len_utf8()
    };
    let token = &rest[..len];
    let shown = if token.len() > 40 {
        let cut = (37..=40).rev().find(|&n| token.is_char_boundary(n)).unwrap_or(0);
        format!("`{}...`", &token[..cut])
    } else {
        format!("`{token}`")
    };
    (pos + len, shown)
}

/// Reports a file whose first item (after any attributes) is not `library`.
fn missing_library(file: FileId, text: &str) -> Option<Diagnostic> {
    let head_end = match FidlParser::parse(Rule::library_head, text) {
        Ok(mut pairs) => pairs.next().map_or(0, |p| p.as_span().end()),
        Err(_) => 0,
    };
    let pos = skip_trivia(text, head_end);
    let rest = &text[pos..];
    let is_library =
        rest.strip_prefix("library").is_some_and(|after| !after.starts_with(is_ident_char));
    if is_library || rest.starts_with('@') {
        // A malformed attribute is a syntax error, reported by the full parse.
        return None;
    }
    let (end, found) = token_at(text, pos);
    let message = if rest.is_empty() {
        "the file has no `library` declaration".to_owned()
    } else {
        format!("expected `library` at the start of the file, found {found}")
    };
    Some(
        Diagnostic::new(ErrorCode::MissingLibrary, Span::new(file, pos, end), message)
            .with_label("expected `library <name>;` here")
            .with_hint("start the file with `library <name>;`"),
    )
}

// ------------------------------------------------------------------------------------------------
// Syntax errors.

/// Converts pest's first error into one diagnostic with readable "expected" words.
fn syntax_error(file: FileId, text: &str, err: &pest::error::Error<Rule>) -> Diagnostic {
    let pos = match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    }
    .min(text.len());
    let pos = (0..=pos).rev().find(|&p| text.is_char_boundary(p)).unwrap_or(0);
    let (end, found) = token_at(text, pos);
    let span = Span::new(file, pos, end);
    if text[pos..].starts_with('"') && !string_closes(&text[pos..]) {
        return Diagnostic::new(ErrorCode::Syntax, span, "unterminated string literal")
            .with_label("this string has no closing `\"`")
            .with_hint("close the string with `\"` on the same line; strings cannot span lines");
    }
    let positives = match &err.variant {
        ErrorVariant::ParsingError { positives, .. } => positives.as_slice(),
        ErrorVariant::CustomError { message } => {
            return Diagnostic::new(ErrorCode::Syntax, span, format!("cannot parse: {message}"))
                .with_hint("simplify deeply nested types or constants");
        }
    };
    let mut expected: Vec<&str> = Vec::new();
    let everything_is_continuation = positives.iter().all(|r| is_continuation(*r));
    for rule in positives {
        if is_continuation(*rule) && !everything_is_continuation {
            continue;
        }
        let word = describe(*rule);
        if !word.is_empty() && !expected.contains(&word) {
            expected.push(word);
        }
    }
    // A constant may be a name: "a name or a constant" says nothing more than "a constant".
    if expected.contains(&"a constant") {
        expected.retain(|word| *word != "a name");
    }
    // Keep pest's order, but "end of file" reads best last.
    expected.sort_by_key(|word| *word == END_OF_FILE);
    let message = if expected.is_empty() {
        format!("unexpected {found}")
    } else {
        format!("unexpected {found}, expected {}", join_or(&expected))
    };
    let label = match expected.as_slice() {
        [one] => format!("expected {one}"),
        _ => "unexpected here".to_owned(),
    };
    let diag = Diagnostic::new(ErrorCode::Syntax, span, message).with_label(label);
    if pos >= text.len() {
        diag.with_hint(
            "the file ends in the middle of a declaration: look for a missing `}` or `;`",
        )
    } else if found == "`using`" && !expected.contains(&"`using`") {
        diag.with_hint("move `using` lines above the first declaration")
    } else if expected.contains(&"`;`") {
        // The usual cause is a `;` forgotten at the end of the previous line: point there too.
        let before = text[..pos].trim_end_matches([' ', '\t', '\r', '\n']);
        let line_start = before.rfind('\n').map_or(0, |n| n + 1);
        let diag = if text[before.len()..pos].contains('\n') && !before[line_start..].contains("//")
        {
            let start = before
                .char_indices()
                .rev()
                .take_while(|(_, c)| is_ident_char(*c))
                .last()
                .map_or(before.len().saturating_sub(1), |(i, _)| i);
            let start = (0..=start).rev().find(|&p| before.is_char_boundary(p)).unwrap_or(0);
            diag.with_secondary(Span::new(file, start, before.len()), "is a `;` missing here?")
        } else {
            diag
        };
        diag.with_hint("every declaration, member and `using` line ends with `;`")
    } else {
        diag
    }
}

/// Whether a string literal starting at `s[0] == '"'` is closed on its line.
fn string_closes(s: &str) -> bool {
    let mut chars = s.chars().skip(1);
    while let Some(c) = chars.next() {
        match c {
            '"' => return true,
            '\n' => return false,
            '\\' if chars.next().map_or(true, |n| n == '\n') => return false,
            _ => {}
        }
    }
    false
}

/// "a, b or c".
fn join_or(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Tokens that may optionally continue what came before (`<` params, `:` constraints, `|`,
/// attribute `(`): listed only when nothing else was possible.
fn is_continuation(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::langle
            | Rule::colon
            | Rule::pipe
            | Rule::lparen
            | Rule::type_params
            | Rule::constraints
    )
}

const END_OF_FILE: &str = "end of file";

/// How a rule is named in "expected ..." messages (empty: not worth listing).
fn describe(rule: Rule) -> &'static str {
    match rule {
        Rule::EOI => END_OF_FILE,
        Rule::WHITESPACE | Rule::COMMENT => "whitespace",
        Rule::ident | Rule::compound_name => "a name",
        Rule::ident_cont => "a letter, digit or `_`",
        Rule::exponent => "an exponent",
        Rule::const_term => "a constant",
        Rule::type_ctor | Rule::type_param => "a type",
        Rule::kw_library | Rule::library_decl | Rule::library_head => "`library`",
        Rule::kw_using | Rule::using_decl => "`using`",
        Rule::kw_as => "`as`",
        Rule::kw_const | Rule::const_decl => "`const`",
        Rule::kw_alias | Rule::alias_decl => "`alias`",
        Rule::kw_type | Rule::type_decl => "`type`",
        Rule::kw_struct | Rule::struct_layout => "`struct`",
        Rule::kw_enum | Rule::enum_layout => "`enum`",
        Rule::kw_bits | Rule::bits_layout => "`bits`",
        Rule::kw_table => "`table`",
        Rule::kw_union => "`union`",
        Rule::kw_overlay => "`overlay`",
        // Not advertised: the checker rejects these anyway.
        Rule::unsupported_layout => "",
        Rule::kw_protocol | Rule::protocol_decl => "`protocol`",
        Rule::kw_service | Rule::service_decl => "`service`",
        Rule::kw_resource_definition | Rule::resource_def_decl => "`resource_definition`",
        Rule::modifier => "a modifier (`strict`, `flexible`, `resource`)",
        Rule::semi => "`;`",
        Rule::eq => "`=`",
        Rule::colon | Rule::constraints => "`:`",
        Rule::comma => "`,`",
        Rule::pipe => "`|`",
        Rule::lbrace | Rule::balanced_body => "`{`",
        Rule::rbrace => "`}`",
        Rule::langle | Rule::type_params => "`<`",
        Rule::rangle => "`>`",
        Rule::lparen => "`(`",
        Rule::rparen => "`)`",
        Rule::lit_bool | Rule::lit_float | Rule::lit_int | Rule::lit_string | Rule::constant => {
            "a constant"
        }
        Rule::type_expr | Rule::inline_layout => "a type",
        Rule::attribute | Rule::attr_name => "an attribute",
        Rule::attr_arg_named => "an attribute argument",
        Rule::file | Rule::decl => "a declaration",
        Rule::struct_member => "a struct member",
        Rule::enum_member => "a member",
    }
}

/// Punctuation (and end-of-input) pairs, which carry no information for the AST.
fn is_token(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::semi
            | Rule::eq
            | Rule::colon
            | Rule::comma
            | Rule::pipe
            | Rule::lbrace
            | Rule::rbrace
            | Rule::langle
            | Rule::rangle
            | Rule::lparen
            | Rule::rparen
            | Rule::EOI
    )
}

// ------------------------------------------------------------------------------------------------
// Conversion of the pest tree into the AST.

/// The parse tree did not have the shape the grammar promises (a bug in this module).
#[derive(Debug)]
struct Malformed;

type Cv<T> = Result<T, Malformed>;

fn need<T>(value: Option<T>) -> Cv<T> {
    value.ok_or(Malformed)
}

/// The meaningful children of a pair.
fn parts(pair: Pair<'_, Rule>) -> impl Iterator<Item = Pair<'_, Rule>> {
    pair.into_inner().filter(|p| !is_token(p.as_rule()))
}

/// How the components of a dotted name are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameUse {
    /// Any identifier.
    Plain,
    /// A `library` line: lowercase components.
    Library,
}

/// A parameter of a parameterised type, before we know whether it is a type or a length.
#[derive(Debug)]
enum Param {
    Type(TypeExpr),
    Const(Constant),
}

/// Builds the AST and collects lexical diagnostics.
#[derive(Debug)]
struct Converter<'t> {
    file: FileId,
    text: &'t str,
    docs: Vec<DocComment>,
    errors: Vec<Diagnostic>,
}

impl Converter<'_> {
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        Span::new(self.file, s.start(), s.end())
    }

    fn error(&mut self, diag: Diagnostic) {
        self.errors.push(diag);
    }

    /// Consecutive own-line `///` comments ending directly above `pos`, first line first.
    fn docs_before(&self, pos: usize) -> Vec<String> {
        let mut idx = self.docs.partition_point(|d| d.end <= pos);
        let mut cursor = pos;
        let mut lines = Vec::new();
        while idx > 0 {
            let doc = self.docs[idx - 1];
            let gap = &self.text[doc.end..cursor];
            let only_space = gap.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
            if !doc.own_line || !only_space || gap.bytes().filter(|&b| b == b'\n').count() != 1 {
                break;
            }
            let body = self.text[doc.start + 3..doc.end].trim_end_matches('\r');
            lines.push(body.strip_prefix(' ').unwrap_or(body).to_owned());
            cursor = doc.start;
            idx -= 1;
        }
        lines.reverse();
        lines
    }

    /// Docs above an item that starts at `start`, plus any between its attributes and `body`.
    fn docs_for(&self, start: usize, body: usize) -> Vec<String> {
        let mut docs = self.docs_before(start);
        if body != start {
            docs.extend(self.docs_before(body));
        }
        docs
    }

    fn file(&mut self, root: Pair<'_, Rule>) -> Cv<File> {
        let mut library = None;
        let mut usings = Vec::new();
        let mut decls = Vec::new();
        for part in parts(root) {
            match part.as_rule() {
                Rule::library_decl => library = Some(self.library_decl(part)?),
                Rule::using_decl => usings.push(self.using_decl(part)?),
                Rule::decl => decls.push(self.decl(part)?),
                _ => return Err(Malformed),
            }
        }
        let (docs, attributes, library) = need(library)?;
        Ok(File { docs, attributes, library, usings, decls })
    }

    fn library_decl(
        &mut self,
        pair: Pair<'_, Rule>,
    ) -> Cv<(Vec<String>, Vec<Attribute>, CompoundName)> {
        let start = pair.as_span().start();
        let mut attributes = Vec::new();
        let mut name = None;
        let mut body = start;
        for part in parts(pair) {
            match part.as_rule() {
                Rule::attribute => attributes.push(self.attribute(part)?),
                Rule::kw_library => body = part.as_span().start(),
                Rule::compound_name => name = Some(self.compound_name(part, NameUse::Library)),
                _ => return Err(Malformed),
            }
        }
        Ok((self.docs_for(start, body), attributes, need(name)?))
    }

    fn using_decl(&mut self, pair: Pair<'_, Rule>) -> Cv<Using> {
        let span = self.span(&pair);
        let mut library = None;
        let mut alias = None;
        for part in parts(pair) {
            match part.as_rule() {
                Rule::compound_name => library = Some(self.compound_name(part, NameUse::Plain)),
                Rule::ident => alias = Some(self.ident(&part)),
                Rule::kw_using | Rule::kw_as => {}
                _ => return Err(Malformed),
            }
        }
        Ok(Using { library: need(library)?, alias, span })
    }

    fn decl(&mut self, pair: Pair<'_, Rule>) -> Cv<Decl> {
        let span = self.span(&pair);
        let mut attributes = Vec::new();
        let mut body = None;
        for part in parts(pair) {
            match part.as_rule() {
                Rule::attribute => attributes.push(self.attribute(part)?),
                _ => body = Some(part),
            }
        }
        let body = need(body)?;
        let docs = self.docs_for(span.start, body.as_span().start());
        let (name, kind) = match body.as_rule() {
            Rule::const_decl => self.const_decl(body)?,
            Rule::alias_decl => self.alias_decl(body)?,
            Rule::type_decl => self.type_decl(body)?,
            Rule::protocol_decl | Rule::service_decl | Rule::resource_def_decl => {
                self.unsupported_decl(body)?
            }
            _ => return Err(Malformed),
        };
        Ok(Decl { docs, attributes, name, kind, span })
    }

    fn const_decl(&mut self, pair: Pair<'_, Rule>) -> Cv<(Ident, DeclKind)> {
        let mut name = None;
        let mut ty = None;
        let mut value = None;
        for part in parts(pair) {
            match part.as_rule() {
                Rule::kw_const => {}
                Rule::ident => name = Some(self.ident(&part)),
                Rule::type_expr => ty = Some(self.type_expr(part)?),
                Rule::constant => value = Some(self.constant_top(part)?),
                _ => return Err(Malformed),
            }
        }
        Ok((need(name)?, DeclKind::Const { ty: need(ty)?, value: need(value)? }))
    }

    fn alias_decl(&mut self, pair: Pair<'_, Rule>) -> Cv<(Ident, DeclKind)> {
        let mut name = None;
        let mut ty = None;
        for part in parts(pair) {
            match part.as_rule() {
                Rule::kw_alias => {}
                Rule::ident => name = Some(self.ident(&part)),
                Rule::type_expr => ty = Some(self.type_expr(part)?),
                _ => return Err(Malformed),
            }
        }
        Ok((need(name)?, DeclKind::Alias { ty: need(ty)? }))
    }

    fn type_decl(&mut self, pair: Pair<'_, Rule>) -> Cv<(Ident, DeclKind)> {
        let mut name = None;
        let mut modifiers = Vec::new();
        let mut kind = None;
        for part in parts(pair) {
            match part.as_rule() {
                Rule::kw_type => {}
                Rule::ident => name = Some(self.ident(&part)),
                Rule::modifier => modifiers.push(self.keyword(&part)),
                Rule::struct_layout => {
                    let members = self.struct_members(part)?;
                    kind = Some(DeclKind::Struct {
                        modifiers: std::mem::take(&mut modifiers),
                        members,
                    });
                }
                Rule::enum_layout => {
                    kind =
                        Some(DeclKind::Enum(self.enum_like(part, std::mem::take(&mut modifiers))?));
                }
                Rule::bits_layout => {
                    kind =
                        Some(DeclKind::Bits(self.enum_like(part, std::mem::take(&mut modifiers))?));
                }
                Rule::unsupported_layout => {
                    let keyword = need(part.into_inner().next())?;
                    kind = Some(DeclKind::Unsupported { keyword: self.keyword(&keyword) });
                }
                _ => return Err(Malformed),
            }
        }
        Ok((need(name)?, need(kind)?))
    }

    fn unsupported_decl(&mut self, pair: Pair<'_, Rule>) -> Cv<(Ident, DeclKind)> {
        let mut keyword = None;
        let mut name = None;
        for part in parts(pair) {
            match part.as_rule() {
                Rule::kw_protocol | Rule::kw_service | Rule::kw_resource_definition => {
                    keyword = Some(self.keyword(&part));
                }
                Rule::ident => name = Some(self.ident(&part)),
                Rule::type_expr => {
                    self.type_expr(part)?;
                }
                Rule::balanced_body => {}
                _ => return Err(Malformed),
            }
        }
        Ok((need(name)?, DeclKind::Unsupported { keyword: need(keyword)? }))
    }

    fn struct_members(&mut self, pair: Pair<'_, Rule>) -> Cv<Vec<StructMember>> {
        let mut members = Vec::new();
        for part in parts(pair) {
            match part.as_rule() {
                Rule::kw_struct => {}
                Rule::struct_member => members.push(self.struct_member(part)?),
                _ => return Err(Malformed),
            }
        }
        Ok(members)
    }

    fn struct_member(&mut self, pair: Pair<'_, Rule>) -> Cv<StructMember> {
        let span = self.span(&pair);
        let mut attributes = Vec::new();
        let mut name = None;
        let mut ty = None;
        let mut default = None;
        let mut body = span.start;
        for part in parts(pair) {
            match part.as_rule() {
                Rule::attribute => attributes.push(self.attribute(part)?),
                Rule::ident => {
                    body = part.as_span().start();
                    name = Some(self.ident(&part));
                }
                Rule::type_expr => ty = Some(self.type_expr(part)?),
                Rule::constant => default = Some(self.constant_top(part)?),
                _ => return Err(Malformed),
            }
        }
        let docs = self.docs_for(span.start, body);
        Ok(StructMember { docs, attributes, name: need(name)?, ty: need(ty)?, default, span })
    }

    fn enum_like(&mut self, pair: Pair<'_, Rule>, modifiers: Vec<Ident>) -> Cv<EnumLike> {
        let mut subtype = None;
        let mut members = Vec::new();
        for part in parts(pair) {
            match part.as_rule() {
                Rule::kw_enum | Rule::kw_bits => {}
                Rule::type_expr => subtype = Some(self.type_expr(part)?),
                Rule::enum_member => members.push(self.enum_member(part)?),
                _ => return Err(Malformed),
            }
        }
        Ok(EnumLike { modifiers, subtype, members })
    }

    fn enum_member(&mut self, pair: Pair<'_, Rule>) -> Cv<EnumMember> {
        let span = self.span(&pair);
        let mut attributes = Vec::new();
        let mut name = None;
        let mut value = None;
        let mut body = span.start;
        for part in parts(pair) {
            match part.as_rule() {
                Rule::attribute => attributes.push(self.attribute(part)?),
                Rule::ident => {
                    body = part.as_span().start();
                    name = Some(self.ident(&part));
                }
                Rule::constant => value = Some(self.constant_top(part)?),
                _ => return Err(Malformed),
            }
        }
        let docs = self.docs_for(span.start, body);
        Ok(EnumMember { docs, attributes, name: need(name)?, value: need(value)?, span })
    }

    fn attribute(&mut self, pair: Pair<'_, Rule>) -> Cv<Attribute> {
        let span = self.span(&pair);
        let mut name = None;
        let mut args = Vec::new();
        for part in parts(pair) {
            match part.as_rule() {
                Rule::attr_name => {
                    let ident = need(part.into_inner().next())?;
                    name = Some(self.ident(&ident));
                }
                Rule::attr_arg_named => {
                    let arg_span = self.span(&part);
                    let mut key = None;
                    let mut value = None;
                    for piece in parts(part) {
                        match piece.as_rule() {
                            Rule::ident => key = Some(self.ident(&piece)),
                            Rule::constant => value = Some(self.constant_top(piece)?),
                            _ => return Err(Malformed),
                        }
                    }
                    args.push(AttributeArg { name: key, value: need(value)?, span: arg_span });
                }
                Rule::constant => {
                    let value = self.constant_top(part)?;
                    args.push(AttributeArg { name: None, span: value.span, value });
                }
                _ => return Err(Malformed),
            }
        }
        Ok(Attribute { name: need(name)?, args, span })
    }

    // -------------------------------------------------------------------------------- types

    fn type_expr(&mut self, pair: Pair<'_, Rule>) -> Cv<TypeExpr> {
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

    // -------------------------------------------------------------------------------- constants

    /// A whole constant expression: checks the term budget, then converts.
    fn constant_top(&mut self, pair: Pair<'_, Rule>) -> Cv<Constant> {
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

    // -------------------------------------------------------------------------------- names

    /// A keyword or modifier, kept as written (no identifier checks).
    fn keyword(&self, pair: &Pair<'_, Rule>) -> Ident {
        Ident { name: pair.as_str().to_owned(), span: self.span(pair) }
    }

    /// An identifier; reports leading, trailing or doubled underscores.
    fn ident(&mut self, pair: &Pair<'_, Rule>) -> Ident {
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

    fn compound_name(&mut self, pair: Pair<'_, Rule>, usage: NameUse) -> CompoundName {
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

// ------------------------------------------------------------------------------------------------
// Lexical helpers.

fn has_bad_underscores(name: &str) -> bool {
    name.starts_with('_') || name.ends_with('_') || name.contains("__")
}

/// `_a__b_` → `a_b`.
fn underscore_fix(name: &str) -> String {
    name.split('_').filter(|s| !s.is_empty()).collect::<Vec<_>>().join("_")
}

/// `[a-z][a-z0-9_]*`, without a trailing or doubled `_`.
fn is_library_component(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !has_bad_underscores(name)
}

/// An integer literal as matched by `lit_int`; `None` if it does not fit `i128`.
fn parse_int(text: &str) -> Option<i128> {
    let (negative, magnitude) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (radix, digits) = if let Some(hex) =
        magnitude.strip_prefix("0x").or_else(|| magnitude.strip_prefix("0X"))
    {
        (16, hex)
    } else if let Some(bin) = magnitude.strip_prefix("0b").or_else(|| magnitude.strip_prefix("0B"))
    {
        (2, bin)
    } else {
        (10, magnitude)
    };
    let value = u128::from_str_radix(digits, radix).ok()?;
    if negative {
        if value == i128::MIN.unsigned_abs() {
            Some(i128::MIN)
        } else {
            i128::try_from(value).ok().map(|v| -v)
        }
    } else {
        i128::try_from(value).ok()
    }
}

/// Decodes the escape at the start of `s` (which starts with `\`): bytes consumed and the
/// character, or what is wrong with it.
fn decode_escape(s: &str) -> (usize, Result<char, String>) {
    let mut chars = s.chars().skip(1);
    match chars.next() {
        None => (1, Err("a `\\` ends the string".to_owned())),
        Some('n') => (2, Ok('\n')),
        Some('t') => (2, Ok('\t')),
        Some('r') => (2, Ok('\r')),
        Some('\\') => (2, Ok('\\')),
        Some('"') => (2, Ok('"')),
        Some('u') => {
            let braced = s[2..].strip_prefix('{').and_then(|body| {
                let close = body.find('}').filter(|&c| c <= 8)?;
                Some(&body[..close])
            });
            let Some(hex) = braced else {
                return (
                    2,
                    Err("`\\u` must be followed by `{XXXX}` (1 to 6 hex digits)".to_owned()),
                );
            };
            let len = 2 + 1 + hex.len() + 1;
            let valid_digits =
                (1..=6).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit());
            match u32::from_str_radix(hex, 16)
                .ok()
                .filter(|_| valid_digits)
                .and_then(char::from_u32)
            {
                Some(c) => (len, Ok(c)),
                None if valid_digits => {
                    (len, Err(format!("`\\u{{{hex}}}` is not a Unicode scalar value")))
                }
                None => (len, Err("`\\u{...}` needs 1 to 6 hex digits".to_owned())),
            }
        }
        Some(other) => (1 + other.len_utf8(), Err(format!("unknown escape `\\{other}`"))),
    }
}
