//! A small structural code writer: lines, and blocks that indent their contents, so that no
//! backend ever counts indentation by hand. Output follows rustfmt's default style closely
//! enough that `rustfmt --check` accepts generated Rust (tested).

use std::fmt::Write as _;

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

    /// The text written so far.
    pub fn finish(self) -> String {
        self.out
    }
}
