//! Diagnostics for text the grammar rejects: the missing-`library` check and pest's first syntax
//! error.

use pest::error::{ErrorVariant, InputLocation};
use pest::Parser as _;

use super::grammar::{FidlParser, Rule};
use crate::diagnostic::{Diagnostic, ErrorCode, FileId, Span};

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
pub(super) fn missing_library(file: FileId, text: &str) -> Option<Diagnostic> {
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

/// Converts pest's first error into one diagnostic with readable "expected" words.
pub(super) fn syntax_error(file: FileId, text: &str, err: &pest::error::Error<Rule>) -> Diagnostic {
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
