//! Parser: `.fidl` text to [`crate::ast::File`] (placeholder).
use crate::ast;
use crate::diagnostic::{Diagnostic, FileId};

/// Parses one file.
///
/// # Errors
///
/// Syntax errors.
pub fn parse_file(_file: FileId, _text: &str) -> Result<ast::File, Vec<Diagnostic>> {
    Err(Vec::new())
}
