//! A small structural code writer: lines, and blocks that indent their contents, so that no
//! backend ever counts indentation by hand.
//!
//! It also knows the few layouts of rustfmt's default configuration that generated Rust needs
//! (a call whose arguments break onto their own lines, an `if` whose condition breaks, an
//! assignment whose value moves to the next line, an array of tuples, a method chain), so that
//! generated Rust is exactly what `rustfmt` would make of it, whatever the length of the names
//! (tested by `tests/rustfmt.rs`). The widths are rustfmt's defaults, not this repository's
//! `rustfmt.toml`: generated files live in users' `OUT_DIR`.

use std::fmt::Write as _;

/// rustfmt's default `max_width`.
pub const MAX_WIDTH: usize = 100;

/// rustfmt's default `fn_call_width`, `array_width` and `chain_width` (60% of `max_width`, from
/// `use_small_heuristics = "Default"`): the widest argument list, array contents or method chain
/// that stays on one line.
pub const SHORT_WIDTH: usize = 60;

/// Accumulates lines of code with automatic indentation (4 spaces per level).
#[derive(Debug, Default)]
pub struct CodeWriter {
    out: String,
    indent: usize,
}

impl CodeWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes one line at the current indentation (an empty string writes an empty line).
    pub fn line(&mut self, text: impl AsRef<str>) {
        let text = text.as_ref();
        if !text.is_empty() {
            for _ in 0..self.indent {
                self.out.push_str("    ");
            }
            self.out.push_str(text);
        }
        self.out.push('\n');
    }

    /// Writes formatted text as one line.
    pub fn linef(&mut self, args: std::fmt::Arguments<'_>) {
        for _ in 0..self.indent {
            self.out.push_str("    ");
        }
        let _ = self.out.write_fmt(args);
        self.out.push('\n');
    }

    /// Writes `header {`, runs `body` one level deeper, then writes `}` followed by `close`.
    pub fn block(&mut self, header: impl AsRef<str>, close: &str, body: impl FnOnce(&mut Self)) {
        let header = header.as_ref();
        self.line(if header.is_empty() { "{".to_string() } else { format!("{header} {{") });
        self.indent += 1;
        body(self);
        self.indent -= 1;
        self.line(format!("}}{close}"));
    }

    /// Writes `open`, runs `body` one level deeper, then writes `close` (for lists and
    /// parenthesised attribute arguments).
    pub fn group(&mut self, open: &str, close: &str, body: impl FnOnce(&mut Self)) {
        self.line(open);
        self.indent += 1;
        body(self);
        self.indent -= 1;
        self.line(close);
    }

    /// Runs `body` one level deeper, without opening or closing lines (for continuation lines,
    /// such as a method call that rustfmt moves under its receiver).
    pub fn indented(&mut self, body: impl FnOnce(&mut Self)) {
        self.indent += 1;
        body(self);
        self.indent -= 1;
    }

    /// The current indentation width in columns.
    pub fn column(&self) -> usize {
        self.indent * 4
    }

    /// Whether `text` fits on one line at the current indentation.
    pub fn fits(&self, text: &str) -> bool {
        self.fits_at(0, text)
    }

    /// Whether `text` fits on one line `extra` levels deeper than the current indentation.
    pub fn fits_at(&self, extra: usize, text: &str) -> bool {
        self.column() + 4 * extra + text.len() <= MAX_WIDTH
    }

    /// A call with one argument, `{callee}({arg}){tail}` (`tail` such as `;`), on one line if it
    /// fits; else with the argument on its own line. An argument too long even for that line
    /// (rustfmt never breaks string literals) leaves the call on one line, as rustfmt does.
    pub fn call1(&mut self, callee: &str, arg: &str, tail: &str) {
        let one = format!("{callee}({arg}){tail}");
        // 1 = the `)` that follows the argument
        if self.fits(&one) || !self.fits_at(1, &format!("{arg})")) {
            self.line(one);
        } else {
            self.line(format!("{callee}("));
            self.indented(|w| w.line(arg));
            self.line(format!("){tail}"));
        }
    }

    /// A call `{callee}({args}){tail}` on one line if the arguments are at most [`SHORT_WIDTH`]
    /// wide and the line fits; else one argument per line, with a trailing comma unless the
    /// callee is a macro (rustfmt adds none to macro arguments).
    pub fn call(&mut self, callee: &str, args: &[String], tail: &str) {
        if let Some(one) = one_line_call(callee, args) {
            let one = format!("{one}{tail}");
            if self.fits(&one) {
                self.line(one);
                return;
            }
        }
        self.line(format!("{callee}("));
        self.indented(|w| w.list_items(args, !callee.ends_with('!')));
        self.line(format!("){tail}"));
    }

    /// `if {lhs} {rest} {`, `body` and `}`, where `rest` is an operator and its short operand
    /// (`!= 0`), as rustfmt lays it out: the `{` on its own line when the condition does not
    /// leave room for it; `rest` on the next line when the condition does not fit; the
    /// arguments of `lhs` on their own lines when even `if {lhs}` does not fit.
    pub fn if_block(&mut self, lhs: &Expr, rest: &str, body: impl FnOnce(&mut Self)) {
        let lhs_one = lhs.one_line();
        if let Some(cond) = lhs_one.as_ref().map(|l| format!("if {l} {rest}")) {
            if self.fits(&format!("{cond} {{")) {
                self.block(cond, "", body);
                return;
            }
            if self.fits(&cond) {
                self.line(cond);
                self.block("", "", body);
                return;
            }
        }
        match (lhs_one.map(|l| format!("if {l}")), lhs) {
            (Some(head), _) if self.fits(&head) => {
                self.line(head);
                self.indented(|w| w.line(rest));
            }
            (_, Expr::Call { callee, args }) => {
                self.line(format!("if {callee}("));
                self.indented(|w| w.list_items(args, !callee.ends_with('!')));
                self.line(format!(") {rest}"));
            }
            // A path too long for its line: rustfmt leaves it so.
            (_, Expr::Text(text)) => self.line(format!("if {text} {rest}")),
        }
        self.block("", "", body);
    }

    /// `{lhs} {rhs}{tail}` (`lhs` ends with `=`) on one line if it fits; else with `rhs` on the
    /// next line, one level deeper, if it fits there.
    pub fn assign(&mut self, lhs: &str, rhs: &str, tail: &str) {
        let one = format!("{lhs} {rhs}{tail}");
        if self.fits(&one) || !self.fits_at(1, &format!("{rhs}{tail}")) {
            self.line(one);
        } else {
            self.line(lhs);
            self.indented(|w| w.linef(format_args!("{rhs}{tail}")));
        }
    }

    /// `{lhs} &[{tuples}];` (`lhs` ends with `=`), an array of tuples as rustfmt lays it out:
    /// on one line if the contents are at most [`SHORT_WIDTH`] wide and fit, on the next line
    /// if they fit there, else one tuple per line (each broken like a call if it must be).
    pub fn tuple_array(&mut self, lhs: &str, tuples: &[Vec<String>]) {
        let items: Option<Vec<String>> = tuples.iter().map(|t| one_line_call("", t)).collect();
        if let Some(contents) = items.map(|items| items.join(", ")) {
            if contents.len() <= SHORT_WIDTH {
                let rhs = format!("&[{contents}];");
                if self.fits(&format!("{lhs} {rhs}")) {
                    self.linef(format_args!("{lhs} {rhs}"));
                    return;
                }
                if self.fits_at(1, &rhs) {
                    self.line(lhs);
                    self.indented(|w| w.line(rhs));
                    return;
                }
            }
        }
        self.group(&format!("{lhs} &["), "];", |w| {
            for t in tuples {
                w.call("", t, ",");
            }
        });
    }

    /// A method chain `{receiver}{calls}` (each call `(method, args)`) as the tail expression
    /// of a block: on one line if at most [`SHORT_WIDTH`] wide, else one call per line, one
    /// level deeper, each broken like [`CodeWriter::call`] if it must be.
    pub fn chain(&mut self, receiver: &str, calls: &[(&str, Vec<String>)]) {
        let parts: Option<Vec<String>> =
            calls.iter().map(|(m, args)| one_line_call(&format!(".{m}"), args)).collect();
        if let Some(one) = parts.map(|p| format!("{receiver}{}", p.concat())) {
            if one.len() <= SHORT_WIDTH && self.fits(&one) {
                self.line(one);
                return;
            }
        }
        self.line(receiver);
        self.indented(|w| {
            for (method, args) in calls {
                w.call(&format!(".{method}"), args, "");
            }
        });
    }

    /// A match arm `{pattern} => {callee}({args}),` on one line if it fits; else its call in a
    /// block if it fits there on one line; else with the arguments on their own lines.
    pub fn arm_call(&mut self, pattern: &str, callee: &str, args: &[String]) {
        if let Some(call) = one_line_call(callee, args) {
            let one = format!("{pattern} => {call},");
            if self.fits(&one) {
                self.line(one);
                return;
            }
            if self.fits_at(1, &call) {
                self.block(format!("{pattern} =>"), "", |w| w.line(call));
                return;
            }
        }
        self.call(&format!("{pattern} => {callee}"), args, ",");
    }

    /// One item per line, each followed by a comma except, without `trailing_comma`, the last.
    fn list_items(&mut self, items: &[String], trailing_comma: bool) {
        for (i, item) in items.iter().enumerate() {
            let comma = if trailing_comma || i + 1 < items.len() { "," } else { "" };
            self.linef(format_args!("{item}{comma}"));
        }
    }

    /// The text written so far.
    pub fn finish(self) -> String {
        self.out
    }
}

/// An expression that [`CodeWriter::if_block`] may have to break.
#[derive(Debug)]
pub enum Expr {
    /// Text rustfmt does not break (a path).
    Text(String),
    /// A call `{callee}({args})` (a macro when `callee` ends with `!`).
    Call {
        /// The function or macro, with any turbofish (`::core::mem::offset_of!`).
        callee: String,
        /// The arguments.
        args: Vec<String>,
    },
}

impl Expr {
    /// The expression on one line, if rustfmt would keep it there (ignoring the line width).
    fn one_line(&self) -> Option<String> {
        match self {
            Self::Text(text) => Some(text.clone()),
            Self::Call { callee, args } => one_line_call(callee, args),
        }
    }
}

/// `{callee}({args})` if its arguments are at most [`SHORT_WIDTH`] wide (rustfmt's limit for
/// keeping a list of several arguments on one line; a single argument stays whenever it fits).
fn one_line_call(callee: &str, args: &[String]) -> Option<String> {
    let joined = args.join(", ");
    (args.len() <= 1 || joined.len() <= SHORT_WIDTH).then(|| format!("{callee}({joined})"))
}
