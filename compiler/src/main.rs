//! `flatipc-gen`: the command-line front end of the schema compiler.
//!
//! Exit codes: 0 on success, 1 on schema errors (or unwritable outputs), 2 on usage errors.
//! `compat`: 0 when no change is breaking, 1 when one is, 2 on usage or input errors.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use flatipc_gen::builder::{generate, write_if_changed, Output};
use flatipc_gen::ir::Schema;
use flatipc_gen::{compat, compile_files, ErrorCode};

/// Compile flatipc `.fidl` schemas into layout-proved Rust modules and C headers.
#[derive(Parser, Debug)]
#[command(name = "flatipc-gen", version, args_conflicts_with_subcommands = true)]
#[command(
    after_help = "Examples:\n  flatipc-gen --rust-out src/gen --c-out include schemas/market.fidl\n  flatipc-gen check -I schemas schemas/market.fidl\n  flatipc-gen ir schemas/market.fidl > market.ir.json\n  flatipc-gen compat -I schemas market.ir.json schemas/market.fidl\n  flatipc-gen explain FI0203"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    generate: GenerateArgs,
}

#[derive(Args, Debug, Default)]
struct Inputs {
    /// Schema files (`.fidl`).
    files: Vec<PathBuf>,
    /// Directory searched for imported libraries (`using a.b;` finds `a.b.fidl`, `a/b.fidl` or
    /// `a/b/*.fidl`). May be repeated.
    #[arg(short = 'I', long = "include", value_name = "DIR")]
    include: Vec<PathBuf>,
}

#[derive(Args, Debug, Default)]
struct GenerateArgs {
    #[command(flatten)]
    inputs: Inputs,
    /// Write one Rust module per library (`<library_underscored>.rs`) into DIR.
    #[arg(long, value_name = "DIR")]
    rust_out: Option<PathBuf>,
    /// Write one C header per library (`<library_underscored>.h`) into DIR.
    #[arg(long, value_name = "DIR")]
    c_out: Option<PathBuf>,
    /// Write the JSON IR (`ir.json`) into DIR.
    #[arg(long, value_name = "DIR")]
    json_out: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check schemas and report every error; write nothing.
    Check(Inputs),
    /// Print the JSON IR (documented in docs/IR.md) to standard output.
    Ir(Inputs),
    /// Explain an error code, e.g. `flatipc-gen explain FI0203`.
    Explain {
        /// The code.
        code: String,
    },
    /// Compare two versions of a schema and classify every change as compatible or breaking
    /// (docs/EVOLUTION.md). Exit code 0: no breaking change; 1: at least one; 2: bad input.
    Compat {
        /// The released schema: a `.fidl` file, or the JSON IR written by `--json-out DIR`
        /// (`DIR/ir.json`, or `DIR` itself) or by `flatipc-gen ir`.
        old: PathBuf,
        /// The new schema, in either form.
        new: PathBuf,
        /// Directory searched for imported libraries of `.fidl` inputs. May be repeated.
        #[arg(short = 'I', long = "include", value_name = "DIR")]
        include: Vec<PathBuf>,
    },
}

/// A schema to compare: compiled from a `.fidl` file, or read from JSON IR (a `.json` file, or a
/// directory holding the `ir.json` that `--json-out` writes).
fn load_schema(path: &Path, include: &[PathBuf], color: bool) -> Result<Schema, String> {
    let json = if path.is_dir() {
        Some(path.join("ir.json"))
    } else {
        path.extension().is_some_and(|e| e == "json").then(|| path.to_path_buf())
    };
    match json {
        Some(file) => {
            let text = std::fs::read_to_string(&file).map_err(|e| {
                format!(
                    "error: cannot read {}: {e}
",
                    file.display()
                )
            })?;
            flatipc_gen::backend::json::read(&text).map_err(|e| {
                format!(
                    "error: {}: {e}
",
                    file.display()
                )
            })
        }
        None => compile_files(&[path.to_path_buf()], include).map_err(|d| d.render(color)),
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}\n\nFor more information, try '--help'.");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let color = std::io::stderr().is_terminal();
    let (inputs, outputs) = match cli.command {
        Some(Command::Explain { code }) => {
            return match ErrorCode::ALL.iter().find(|c| c.as_str().eq_ignore_ascii_case(&code)) {
                Some(c) => {
                    println!(
                        "{}: {}\nSee docs/ERRORS.md for an example and the fix.",
                        c.as_str(),
                        c.summary()
                    );
                    ExitCode::SUCCESS
                }
                None => {
                    usage_error(&format!("unknown error code `{code}` (codes look like FI0203)"))
                }
            };
        }
        Some(Command::Compat { old, new, include }) => {
            let (old, new) =
                match (load_schema(&old, &include, color), load_schema(&new, &include, color)) {
                    (Ok(old), Ok(new)) => (old, new),
                    (old, new) => {
                        for e in [old.err(), new.err()].into_iter().flatten() {
                            eprint!("{e}");
                        }
                        return ExitCode::from(2);
                    }
                };
            let changes = compat::compare(&old, &new);
            print!("{}", compat::render(&changes));
            return if compat::is_breaking(&changes) {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
        Some(Command::Check(inputs)) => (inputs, Vec::new()),
        Some(Command::Ir(inputs)) => (inputs, vec![(Output::Json, None)]),
        None => {
            let g = cli.generate;
            let mut outputs = Vec::new();
            if let Some(d) = g.rust_out {
                outputs.push((Output::Rust, Some(d)));
            }
            if let Some(d) = g.c_out {
                outputs.push((Output::C, Some(d)));
            }
            if let Some(d) = g.json_out {
                outputs.push((Output::Json, Some(d)));
            }
            if outputs.is_empty() {
                return usage_error("nothing to do: give --rust-out DIR and/or --c-out DIR, or use `flatipc-gen check FILE...`");
            }
            (g.inputs, outputs)
        }
    };
    if inputs.files.is_empty() {
        return usage_error("no schema files given");
    }
    let schema = match compile_files(&inputs.files, &inputs.include) {
        Ok(s) => s,
        Err(diagnostics) => {
            eprint!("{}", diagnostics.render(color));
            return ExitCode::from(1);
        }
    };
    for (output, dir) in outputs {
        let files = generate(&schema, output);
        match dir {
            Some(dir) => {
                if let Err(e) = write_if_changed(&dir, &files) {
                    eprintln!("error: {e}");
                    return ExitCode::from(1);
                }
            }
            None => {
                for f in files {
                    print!("{}", f.contents);
                }
            }
        }
    }
    ExitCode::SUCCESS
}
