//! The `build.rs` API, in the style of `prost-build`: a builder of `&mut self` setters and a
//! terminal [`Builder::compile`]. Generation happens in memory ([`generate`]); writing is a
//! separate step that rewrites only files whose content changed.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::backend;
use crate::compile::compile_files;
use crate::diagnostic::Diagnostics;
use crate::ir::Schema;

/// Configures and runs flatipc-gen from a build script.
///
/// ```no_run
/// // build.rs
/// fn main() -> Result<(), flatipc_gen::BuildError> {
///     flatipc_gen::Builder::new()
///         .schema("schemas/market.fidl")
///         .include_dir("schemas")
///         .c_out("include")
///         .compile()
/// }
/// ```
///
/// Then, in the crate: `mod market_data { flatipc::include_schema!("market_data"); }`.
#[derive(Debug, Clone, Default)]
pub struct Builder {
    schemas: Vec<PathBuf>,
    include_dirs: Vec<PathBuf>,
    rust_out: Option<PathBuf>,
    c_out: Option<PathBuf>,
    json_out: Option<PathBuf>,
    cargo_metadata: Option<bool>,
}

/// Everything that can go wrong in [`Builder::compile`].
#[derive(thiserror::Error)]
pub enum BuildError {
    /// The schemas have errors; the value renders them like rustc.
    #[error("{0}")]
    Schema(Diagnostics),
    /// An output file or directory could not be written.
    #[error("cannot write `{path}`: {source} (check that the directory is writable)")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// No Rust output directory was set and `OUT_DIR` is not set (not running under cargo).
    #[error("no Rust output directory: call `.rust_out(DIR)`, or run from a cargo build script (which sets OUT_DIR)")]
    NoOutDir,
    /// `compile` was called without any schema.
    #[error("no schema files: call `.schema(\"path/to/file.fidl\")` before `.compile()`")]
    NoSchemas,
}

// Build scripts that return `Result<(), BuildError>` print the error with `Debug`; make that the
// rendered diagnostics rather than a struct dump.
impl fmt::Debug for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// One generated output file, not yet written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// File name relative to its output directory.
    pub name: String,
    /// Full contents.
    pub contents: String,
}

/// Which backends to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// One `.rs` module per library.
    Rust,
    /// One `.h` header per library.
    C,
    /// One `ir.json` for the whole schema.
    Json,
}

/// Generates every output file of one kind, in memory, for every library in the schema
/// (the libraries given and everything they import).
pub fn generate(schema: &Schema, output: Output) -> Vec<GeneratedFile> {
    let libs = (0..schema.libraries.len()).map(crate::ir::LibraryId);
    match output {
        Output::Rust => libs
            .map(|l| GeneratedFile {
                name: backend::rust::file_name(schema, l),
                contents: backend::rust::generate(schema, l),
            })
            .collect(),
        Output::C => libs
            .map(|l| GeneratedFile {
                name: backend::c::file_name(schema, l),
                contents: backend::c::generate(schema, l),
            })
            .collect(),
        Output::Json => vec![GeneratedFile {
            name: "ir.json".to_string(),
            contents: backend::json::generate(schema),
        }],
    }
}

/// Writes files into `dir` (created if needed), skipping files whose content is unchanged so
/// that timestamps, and therefore rebuilds, move only when the code does.
///
/// # Errors
///
/// [`BuildError::Io`] for the first file or directory that cannot be written.
pub fn write_if_changed(dir: &Path, files: &[GeneratedFile]) -> Result<(), BuildError> {
    std::fs::create_dir_all(dir)
        .map_err(|source| BuildError::Io { path: dir.to_path_buf(), source })?;
    for f in files {
        let path = dir.join(&f.name);
        if std::fs::read(&path).is_ok_and(|old| old == f.contents.as_bytes()) {
            continue;
        }
        std::fs::write(&path, &f.contents)
            .map_err(|source| BuildError::Io { path: path.clone(), source })?;
    }
    Ok(())
}

impl Builder {
    /// A builder with no schemas; Rust goes to `OUT_DIR` unless [`Builder::rust_out`] is set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a schema file.
    pub fn schema(&mut self, path: impl AsRef<Path>) -> &mut Self {
        self.schemas.push(path.as_ref().to_path_buf());
        self
    }

    /// Adds several schema files.
    pub fn schemas<P: AsRef<Path>>(&mut self, paths: impl IntoIterator<Item = P>) -> &mut Self {
        self.schemas.extend(paths.into_iter().map(|p| p.as_ref().to_path_buf()));
        self
    }

    /// Adds a directory searched for imported libraries (see [`crate::compile_files`]).
    pub fn include_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.include_dirs.push(dir.as_ref().to_path_buf());
        self
    }

    /// Writes Rust modules to `dir` instead of `OUT_DIR`.
    pub fn rust_out(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.rust_out = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Also writes C headers to `dir`.
    pub fn c_out(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.c_out = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Also writes the JSON IR (`ir.json`) to `dir`.
    pub fn json_out(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.json_out = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Whether to print `cargo:rerun-if-changed` lines (default: only when `OUT_DIR` is set,
    /// i.e. inside a build script).
    pub fn cargo_metadata(&mut self, enabled: bool) -> &mut Self {
        self.cargo_metadata = Some(enabled);
        self
    }

    /// Compiles the schemas and writes every requested output.
    ///
    /// # Errors
    ///
    /// [`BuildError::Schema`] with every schema error, rendered like rustc when displayed;
    /// [`BuildError::Io`] when an output cannot be written; [`BuildError::NoOutDir`] and
    /// [`BuildError::NoSchemas`] for a misconfigured builder.
    pub fn compile(&self) -> Result<(), BuildError> {
        if self.schemas.is_empty() {
            return Err(BuildError::NoSchemas);
        }
        let out_dir = std::env::var_os("OUT_DIR").map(PathBuf::from);
        let rust_out =
            self.rust_out.clone().or_else(|| out_dir.clone()).ok_or(BuildError::NoOutDir)?;
        let metadata = self.cargo_metadata.unwrap_or(out_dir.is_some());
        let result = compile_files(&self.schemas, &self.include_dirs);
        if metadata {
            // Rerun when any schema we read changes, even if it failed to compile.
            let mut paths: Vec<PathBuf> = self.schemas.clone();
            if let Ok(schema) = &result {
                paths.extend(schema.libraries.iter().flat_map(|l| l.files.iter().cloned()));
            } else if let Err(d) = &result {
                paths.extend(d.sources.iter().map(|(_, p, _)| p.to_path_buf()));
            }
            paths.sort();
            paths.dedup();
            for p in paths {
                println!("cargo:rerun-if-changed={}", p.display());
            }
        }
        let schema = result.map_err(BuildError::Schema)?;
        write_if_changed(&rust_out, &generate(&schema, Output::Rust))?;
        if let Some(dir) = &self.c_out {
            write_if_changed(dir, &generate(&schema, Output::C))?;
        }
        if let Some(dir) = &self.json_out {
            write_if_changed(dir, &generate(&schema, Output::Json))?;
        }
        Ok(())
    }
}
