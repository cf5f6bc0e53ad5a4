//! Diagnostics: spans, source files, the error-code catalog, and rendering.
//!
//! Every stage reports problems as [`Diagnostic`] values; only the edges (CLI, `Builder`) render
//! them, with `codespan-reporting`, as `file:line:col`, the source line, an underline, a message and
//! a hint. Codes are stable and listed in `docs/ERRORS.md`.

use std::fmt;
use std::path::{Path, PathBuf};

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term;

/// Index of a file in a [`SourceMap`].
pub type FileId = usize;

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// The file.
    pub file: FileId,
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span in `file` from `start` to `end`.
    pub const fn new(file: FileId, start: usize, end: usize) -> Self {
        Self { file, start, end }
    }
}

/// All source files read in one compilation.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    files: Vec<(PathBuf, String)>,
}

impl SourceMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file and returns its id.
    pub fn add(&mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> FileId {
        self.files.push((path.into(), text.into()));
        self.files.len() - 1
    }

    /// The path of a file.
    pub fn path(&self, id: FileId) -> &Path {
        &self.files[id].0
    }

    /// The text of a file.
    pub fn text(&self, id: FileId) -> &str {
        &self.files[id].1
    }

    /// Every file, in the order added.
    pub fn iter(&self) -> impl Iterator<Item = (FileId, &Path, &str)> {
        self.files.iter().enumerate().map(|(i, (p, t))| (i, p.as_path(), t.as_str()))
    }

    /// 1-based line and column of a byte offset.
    pub fn line_col(&self, id: FileId, offset: usize) -> (usize, usize) {
        let text = self.text(id);
        let offset = offset.min(text.len());
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let col = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
        (line, col)
    }
}

macro_rules! error_codes {
    ($($variant:ident = $code:literal : $summary:literal,)*) => {
        /// Stable error codes. `docs/ERRORS.md` lists each with an example and a fix.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $(
                #[doc = $summary]
                $variant,
            )*
        }

        impl ErrorCode {
            /// Every code, in numeric order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The code as printed, e.g. `FI0203`.
            pub const fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }

            /// One-line summary.
            pub const fn summary(self) -> &'static str {
                match self { $(ErrorCode::$variant => $summary,)* }
            }
        }
    };
}

error_codes! {
    Syntax = "FI0101": "syntax error",
    MissingLibrary = "FI0102": "the file does not start with a `library` declaration",
    BadLibraryName = "FI0103": "malformed library name",
    IntLiteralRange = "FI0104": "integer literal too large",
    BadStringLiteral = "FI0105": "malformed string literal",
    BadIdentifier = "FI0106": "malformed identifier",
    IoError = "FI0107": "a schema file could not be read",

    DuplicateDecl = "FI0201": "duplicate declaration name",
    DuplicateMember = "FI0202": "duplicate member name",
    UnknownType = "FI0203": "unknown type",
    UnknownConst = "FI0204": "unknown constant or member",
    LibraryNotFound = "FI0205": "imported library not found",
    LibraryConflict = "FI0206": "conflicting libraries: a self-import, an import cycle, or shared output names",
    ReservedName = "FI0207": "name is a keyword in C or C++, or reserved",
    GeneratedNameClash = "FI0208": "name clashes with a generated name",
    NotImported = "FI0209": "reference to a library that is not imported",
    DuplicateImport = "FI0210": "library imported twice",
    MessageSetNameClash = "FI0211": "name clashes with the generated message set (`AnyMessage`, `Library`)",

    UnsupportedDecl = "FI0301": "declaration kind is not flat",
    UnboundedString = "FI0302": "string without a bound",
    UnboundedVector = "FI0303": "vector without a bound",
    BoxNotFlat = "FI0304": "`box` is not flat",
    ConstraintNotFlat = "FI0305": "optional types and constraints are not flat",
    HandleNotFlat = "FI0306": "handles, endpoints and resources are not flat",
    RecursiveStruct = "FI0307": "recursive struct",
    ZeroLength = "FI0308": "zero-length array, string or vector",
    BadLength = "FI0309": "array length or bound is not a positive integer constant",
    EmptyStruct = "FI0310": "empty struct",
    TypeTooLarge = "FI0311": "type size overflows",
    BadEnumSubtype = "FI0312": "enum underlying type is not an integer type",
    BadBitsSubtype = "FI0313": "bits underlying type is not an unsigned integer type",
    BadTypeArgs = "FI0314": "wrong type parameters",
    ResourceNotFlat = "FI0315": "`resource` types are not flat",
    BadModifier = "FI0316": "modifier not allowed here",
    AliasCycle = "FI0317": "alias cycle",
    NotAType = "FI0318": "a constant or member is used as a type",
    MemberDefault = "FI0319": "struct member defaults are not supported",

    ConstOutOfRange = "FI0401": "constant out of range of its type",
    ConstTypeMismatch = "FI0402": "constant of the wrong kind for its type",
    DuplicateValue = "FI0403": "duplicate enum or bits value",
    BitsNotSingleBit = "FI0404": "bits member is not a single bit",
    ConstCycle = "FI0405": "constant defined in terms of itself",
    BadConstType = "FI0406": "type cannot be a constant",
    OrOnNonBits = "FI0407": "`|` used on values that are not bits",
    EmptyEnum = "FI0408": "enum or bits without members",

    BadAttribute = "FI0501": "malformed attribute arguments",
    MessageIdCollision = "FI0502": "two messages have the same id",
    MisplacedAttribute = "FI0503": "attribute not allowed here",
    DuplicateAttribute = "FI0504": "attribute given twice",
    ReservedMessageId = "FI0505": "message id is reserved",

    LibraryVersionMismatch = "FI0601": "the files of a library disagree on its version",
    VersionTooNew = "FI0602": "version newer than the library's current version",
    VersionedMemberNotAllowed = "FI0603": "`added` or `removed` on a member whose layout is frozen",
    VersionedMessageNested = "FI0604": "a message with versioned members is nested in another type",
    MemberNotAppended = "FI0605": "a member of an older version follows a newer one",
    VersionChangesAlignment = "FI0606": "a version would change the message's alignment",
    TooManySteps = "FI0607": "a message changes layout in more than 4 versions",
}

/// A secondary location with a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What it shows.
    pub message: String,
}

/// One problem in the input, with everything needed to render it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable code.
    pub code: ErrorCode,
    /// What is wrong.
    pub message: String,
    /// The primary location.
    pub span: Span,
    /// Label text at the primary location (may be empty).
    pub label: String,
    /// Secondary locations.
    pub secondary: Vec<Label>,
    /// How to fix it.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A new error.
    pub fn new(code: ErrorCode, span: Span, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            span,
            label: String::new(),
            secondary: Vec::new(),
            hint: None,
        }
    }

    /// Sets the label at the primary location.
    #[must_use]
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// Adds a secondary location.
    #[must_use]
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.secondary.push(Label { span, message: message.into() });
        self
    }

    /// Sets the hint.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Schema errors from one compilation, with the sources needed to render them.
#[derive(Debug, Clone)]
pub struct Diagnostics {
    /// The errors, in the order found (sorted by file and position when rendered).
    pub errors: Vec<Diagnostic>,
    /// The sources they point into.
    pub sources: SourceMap,
}

impl Diagnostics {
    /// Renders every error like rustc: `error[FI0203]: ...`, `--> file:line:col`, the source
    /// line, an underline and a hint. `color` adds ANSI colours.
    pub fn render(&self, color: bool) -> String {
        let mut files = SimpleFiles::new();
        for (_, path, text) in self.sources.iter() {
            files.add(path.display().to_string(), text);
        }
        let mut sorted: Vec<&Diagnostic> = self.errors.iter().collect();
        sorted.sort_by_key(|d| (d.span.file, d.span.start, d.code));
        let config = term::Config { chars: term::Chars::ascii(), ..term::Config::default() };
        let mut out = Vec::new();
        for d in &sorted {
            let mut labels = vec![cs::Label::primary(d.span.file, d.span.start..d.span.end)
                .with_message(d.label.clone())];
            labels.extend(d.secondary.iter().map(|l| {
                cs::Label::secondary(l.span.file, l.span.start..l.span.end)
                    .with_message(l.message.clone())
            }));
            let mut diag = cs::Diagnostic::error()
                .with_code(d.code.as_str())
                .with_message(d.message.clone())
                .with_labels(labels);
            if let Some(hint) = &d.hint {
                diag = diag.with_notes(vec![format!("hint: {hint}")]);
            }
            let result = if color {
                let mut w = term::termcolor::Ansi::new(&mut out);
                term::emit(&mut w, &config, &files, &diag)
            } else {
                let mut w = term::termcolor::NoColor::new(&mut out);
                term::emit(&mut w, &config, &files, &diag)
            };
            if result.is_err() {
                // A span outside its file is a compiler bug; still say something useful.
                let (line, col) = self.sources.line_col(d.span.file, d.span.start);
                out.extend_from_slice(
                    format!(
                        "error[{}]: {}\n --> {}:{line}:{col}\n",
                        d.code.as_str(),
                        d.message,
                        self.sources.path(d.span.file).display()
                    )
                    .as_bytes(),
                );
            }
        }
        let n = sorted.len();
        out.extend_from_slice(
            format!("error: aborting due to {n} schema error{}\n", if n == 1 { "" } else { "s" })
                .as_bytes(),
        );
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

impl std::error::Error for Diagnostics {}
