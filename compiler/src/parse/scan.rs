//! Pre-scan: nesting depth and doc comments.

use super::MAX_NESTING;

/// A `///` comment: `start` is at the first `/`, `end` at the line end (exclusive).
#[derive(Debug, Clone, Copy)]
pub(super) struct DocComment {
    pub(super) start: usize,
    pub(super) end: usize,
    /// Only whitespace precedes it on its line.
    pub(super) own_line: bool,
}

/// What the pre-scan found.
#[derive(Debug)]
pub(super) struct Scan {
    /// Every `///` comment, in order.
    pub(super) docs: Vec<DocComment>,
    /// Offset of the first bracket that opens level `MAX_NESTING + 1`.
    pub(super) too_deep: Option<usize>,
}

/// Walks the text once, skipping comments and strings the way the grammar does.
pub(super) fn scan(text: &str) -> Scan {
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
