//! Compile-and-probe check of generated C headers against the IR they came from.
//!
//! [`check_c_layout`] writes every library's header into a directory, compiles each header on
//! its own, then compiles one probe program as C11 (`gcc -std=c11 -Wall -Wextra -Werror
//! -pedantic`) and as C++17 (`g++ -std=c++17 -Wall -Wextra -Werror`). The probe prints, for every
//! declaration, what the C compiler made of it: `sizeof`, `FLATIPC_ALIGNOF` and `offsetof` of
//! every member (padding included) of every struct, bounded string and vector, the size and
//! alignment of aliases, every enum/bits member value (and its type's size), masks,
//! `is_known` answers, fingerprints, message ids and constants (floats bit-exact, strings
//! byte-exact). Every printed line is compared with the number the IR holds.
//!
//! The headers' own static assertions check layout at compile time; the probe checks the
//! things static assertions do not (macro values, fingerprints, literal spelling) and that the
//! assertions themselves name the right members.
//!
//! Every header is also compiled after `flatipc.h` (`runtime/include`), which turns on its
//! runtime helpers: alone as C11, and all together as C11 and as C++17 (`-pedantic` too), each
//! time with the extra warnings users of `flatipc.h` enable ([`C_EXTRA_WARNINGS`]).

use std::fmt::Write as _;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;

use flatipc_gen::backend::c;
use flatipc_gen::ir::{ConstType, ConstValue, DeclKind, EnumLike, LibraryId, Prim, Schema, Struct};

/// The C compiler and flags every generated header must pass.
pub const C_COMPILER: (&str, &[&str]) =
    ("gcc", &["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"]);
/// The C++ compiler and flags every generated header must pass.
pub const CXX_COMPILER: (&str, &[&str]) = ("g++", &["-std=c++17", "-Wall", "-Wextra", "-Werror"]);
/// More warnings, which the runtime helpers must pass too (`flatipc.h` itself passes them).
pub const C_EXTRA_WARNINGS: &[&str] =
    &["-Wconversion", "-Wsign-conversion", "-Wshadow", "-Wcast-qual", "-Wundef"];

/// `runtime/include`, where `flatipc.h` is.
pub fn runtime_include() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime/include")
}

/// Generates the headers of every library of `schema` into `dir` and checks them (see the module
/// docs).
///
/// # Panics
/// If a header does not compile, a probed value differs from the IR, or `gcc`/`g++` is missing;
/// the message names the compiler, its output or each differing line.
pub fn check_c_layout(schema: &Schema, dir: &Path) {
    if let Err(e) = try_check_c_layout(schema, dir) {
        panic!("C layout check failed in {}:\n{e}", dir.display());
    }
}

/// [`check_c_layout`], returning the failure instead of panicking.
pub fn try_check_c_layout(schema: &Schema, dir: &Path) -> Result<(), String> {
    let headers: Vec<(String, String)> = (0..schema.libraries.len())
        .map(|i| (c::file_name(schema, LibraryId(i)), c::generate(schema, LibraryId(i))))
        .collect();
    try_check_headers(schema, &headers, dir)
}

/// Checks the given header texts (`(file name, text)`, one per library of `schema`) against
/// `schema`: lets a test hand in a deliberately broken header to prove the probe notices.
pub fn try_check_headers(
    schema: &Schema,
    headers: &[(String, String)],
    dir: &Path,
) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for (name, text) in headers {
        write(&dir.join(name), text)?;
        // Each header alone: it must pull in everything it needs itself.
        let alone = dir.join(format!("alone_{}.c", name.trim_end_matches(".h")));
        write(&alone, &format!("#include \"{name}\"\n"))?;
        compile(C_COMPILER, dir, &alone, None)?;
        // Each header alone after flatipc.h: its runtime helpers, with more warnings.
        let with_runtime = dir.join(format!("runtime_{}.c", name.trim_end_matches(".h")));
        write(&with_runtime, &format!("#include \"flatipc.h\"\n#include \"{name}\"\n"))?;
        let flags = [C_COMPILER.1, C_EXTRA_WARNINGS].concat();
        compile((C_COMPILER.0, &flags), dir, &with_runtime, None)?;
    }
    // Every header after flatipc.h, in reverse and then forward order, as C11 and C++17.
    let mut all = String::from("#include \"flatipc.h\"\n");
    for (name, _) in headers.iter().rev().chain(headers) {
        writeln!(all, "#include \"{name}\"").unwrap();
    }
    let c_flags = [C_COMPILER.1, C_EXTRA_WARNINGS].concat();
    let cxx_flags = [CXX_COMPILER.1, &["-pedantic"], C_EXTRA_WARNINGS].concat();
    for (compiler, flags, file) in
        [(C_COMPILER.0, c_flags, "runtime_all.c"), (CXX_COMPILER.0, cxx_flags, "runtime_all.cpp")]
    {
        write(&dir.join(file), &all)?;
        compile((compiler, &flags), dir, &dir.join(file), None)?;
    }
    let probe = Probe::new(schema);
    let source = probe.source(headers);
    for (compiler, file, exe) in
        [(C_COMPILER, "probe.c", "probe_c"), (CXX_COMPILER, "probe.cpp", "probe_cpp")]
    {
        write(&dir.join(file), &source)?;
        compile(compiler, dir, &dir.join(file), Some(&dir.join(exe)))?;
        let stdout = run(Command::new(dir.join(exe)), exe)?;
        probe.compare(&stdout, compiler.0)?;
    }
    Ok(())
}

/// Writes a file, or says which one could not be written.
pub fn write(path: &Path, text: &str) -> Result<(), String> {
    fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Compiles `source` (to `exe`, or only checks its syntax), with `dir` and `runtime/include` on
/// the include path.
pub fn compile(
    (compiler, flags): (&str, &[&str]),
    dir: &Path,
    source: &Path,
    exe: Option<&Path>,
) -> Result<(), String> {
    let mut cmd = Command::new(compiler);
    cmd.args(flags).arg("-I").arg(dir).arg("-I").arg(runtime_include()).arg(source);
    match exe {
        Some(exe) => cmd.arg("-o").arg(exe),
        None => cmd.arg("-fsyntax-only"),
    };
    run(cmd, compiler).map(drop)
}

/// Runs a command, returning its stdout, or a message saying what failed and how to fix it.
pub fn run(mut cmd: Command, what: &str) -> Result<String, String> {
    let output = cmd.output().map_err(|e| {
        if e.kind() == ErrorKind::NotFound {
            format!(
                "`{what}` was not found on PATH: the C backend tests compile the generated \
                 headers and need gcc and g++ (e.g. `apt-get install gcc g++`)"
            )
        } else {
            format!("cannot run `{what}`: {e}")
        }
    })?;
    if !output.status.success() {
        return Err(format!(
            "`{cmd:?}` failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        ));
    }
    String::from_utf8(output.stdout).map_err(|e| format!("`{what}` printed non-UTF-8: {e}"))
}

/// The probe program's statements and, line for line, what each must print.
struct Probe {
    body: String,
    expected: Vec<String>,
}

impl Probe {
    fn new(schema: &Schema) -> Self {
        let mut p = Probe { body: String::new(), expected: Vec::new() };
        for library in &schema.libraries {
            for id in &library.decls {
                let decl = schema.decl(*id);
                let name = format!("{}_{}", schema.library(decl.library).underscored(), decl.name);
                p.decl(schema, &name, &decl.kind, library.version);
            }
        }
        p
    }

    fn decl(&mut self, schema: &Schema, c: &str, kind: &DeclKind, version: u16) {
        match kind {
            DeclKind::Struct(s) => {
                self.layout(c, s.size, s.align);
                let mut pads = 0;
                for m in &s.members {
                    // Members removed by schema evolution are reserved bytes `_removed_<name>`.
                    let name = match m.removed() {
                        Some(_) => format!("_removed_{}", m.name),
                        None => m.name.clone(),
                    };
                    self.offset(c, &name, m.offset);
                    self.pad(c, &mut pads, m.offset + m.ty.size, m.padding_after);
                }
                self.unsigned(
                    format!("fingerprint {c}"),
                    format!("{c}_FINGERPRINT"),
                    s.fingerprint,
                );
                if let Some(m) = s.message {
                    self.unsigned(
                        format!("message_id {c}"),
                        format!("{c}_MESSAGE_ID"),
                        m.id.into(),
                    );
                    self.versions(c, version, s);
                }
            }
            DeclKind::String(b) | DeclKind::Vector(b) => {
                let items = if matches!(kind, DeclKind::String(_)) { "data" } else { "items" };
                self.layout(c, b.size, b.align);
                self.offset(c, "len", 0);
                let mut pads = 0;
                self.pad(c, &mut pads, 4, b.padding_before_items());
                if b.capacity > 0 {
                    self.offset(c, items, b.items_offset);
                }
                let end = b.items_offset + b.capacity * b.elem.size;
                self.pad(c, &mut pads, end, b.padding_after);
                self.unsigned(
                    format!("fingerprint {c}"),
                    format!("{c}_FINGERPRINT"),
                    b.fingerprint,
                );
            }
            DeclKind::Enum(e) => self.enum_like(c, e, false),
            DeclKind::Bits(e) => self.enum_like(c, e, true),
            DeclKind::Alias(ty) => self.layout(c, ty.size, ty.align),
            DeclKind::Const(k) => {
                let label = format!("const {c}");
                let c = c.to_owned();
                match (&k.ty, &k.value) {
                    (ConstType::Prim(Prim::Bool), ConstValue::Bool(b)) => {
                        self.signed(label, c, i128::from(*b))
                    }
                    (ConstType::Prim(p @ (Prim::Float32 | Prim::Float64)), v) => {
                        let v = match v {
                            ConstValue::Float(f) => *f,
                            ConstValue::Int(i) => *i as f64,
                            other => panic!("float constant with value {other:?}"),
                        };
                        self.float(label, c, v, *p == Prim::Float32)
                    }
                    (ConstType::Prim(p), ConstValue::Int(v)) => self.int(*p, label, c, *v),
                    (ConstType::Named(id), ConstValue::Int(v)) => {
                        match &schema.decl(schema.resolve_alias(*id)).kind {
                            DeclKind::Enum(e) | DeclKind::Bits(e) => {
                                self.int(e.underlying, label, c, *v)
                            }
                            other => panic!("constant of named type {other:?}"),
                        }
                    }
                    (ConstType::String, ConstValue::String(s)) => {
                        self.bytes(label, c, s.as_bytes())
                    }
                    (ty, v) => panic!("constant of type {ty:?} with value {v:?}"),
                }
            }
        }
    }

    /// A message's `_VERSION`, `_STEP_COUNT`, `_STEPS` and `_has_<member>` answers just before
    /// and at the version that added each member.
    fn versions(&mut self, c: &str, version: u16, s: &Struct) {
        self.unsigned(format!("version {c}"), format!("{c}_VERSION"), version.into());
        self.unsigned(format!("step_count {c}"), format!("{c}_STEP_COUNT"), s.steps.len() as u64);
        for (i, step) in s.steps.iter().enumerate() {
            let at = format!("{c}_STEPS[{i}]");
            self.unsigned(
                format!("step {c}[{i}].version"),
                format!("{at}.version"),
                step.version.into(),
            );
            self.unsigned(format!("step {c}[{i}].size"), format!("{at}.size"), step.size);
            self.unsigned(
                format!("step {c}[{i}].fingerprint"),
                format!("{at}.fingerprint"),
                step.fingerprint,
            );
        }
        for m in s.members.iter().filter(|m| m.removed().is_none() && m.added() > 1) {
            let added = m.added();
            for v in [added - 1, added] {
                let label = format!("has {c}.{}({v})", m.name);
                self.signed(label, format!("{c}_has_{}({v})", m.name), i128::from(v >= added));
            }
        }
    }

    fn enum_like(&mut self, c: &str, e: &EnumLike, bits: bool) {
        let size = e.underlying.size();
        for m in &e.members {
            let member = format!("{c}_{}", m.name);
            self.int(e.underlying, format!("value {member}"), member.clone(), m.value);
            self.unsigned(format!("sizeof {member}"), format!("sizeof({member})"), size);
            self.signed(format!("known {member}"), format!("{c}_is_known({member})"), 1);
        }
        self.unsigned(format!("fingerprint {c}"), format!("{c}_FINGERPRINT"), e.fingerprint);
        let values: Vec<i128> = e.members.iter().map(|m| m.value).collect();
        if bits {
            let mask = values.iter().fold(0, |acc, v| acc | v);
            self.int(e.underlying, format!("mask {c}"), format!("{c}_MASK"), mask);
            if let Some(bit) = (0..size * 8).find(|b| mask & (1 << b) == 0) {
                let expr = format!("{c}_is_known(({c})(UINT64_C(1) << {bit}))");
                self.signed(format!("known {c}(1 << {bit})"), expr, 0);
            }
        } else if let Some(v) = (0..256).find(|v| !values.contains(v)) {
            self.signed(format!("known {c}({v})"), format!("{c}_is_known(({c}){v})"), 0);
        }
    }

    fn layout(&mut self, c: &str, size: u64, align: u64) {
        self.unsigned(format!("sizeof {c}"), format!("sizeof({c})"), size);
        self.unsigned(format!("alignof {c}"), format!("FLATIPC_ALIGNOF({c})"), align);
    }

    fn offset(&mut self, c: &str, member: &str, offset: u64) {
        self.unsigned(format!("offsetof {c}.{member}"), format!("offsetof({c}, {member})"), offset);
    }

    /// Padding members are named `_pad0`, `_pad1`, ... per type, like the backends name them.
    fn pad(&mut self, c: &str, next: &mut usize, at: u64, len: u64) {
        if len > 0 {
            let pad = format!("_pad{next}");
            *next += 1;
            self.offset(c, &pad, at);
            self.unsigned(format!("sizeof {c}.{pad}"), format!("sizeof((({c} *)0)->{pad})"), len);
        }
    }

    fn int(&mut self, p: Prim, label: String, expr: String, v: i128) {
        if p.is_signed() {
            self.signed(label, expr, v);
        } else {
            self.unsigned(label, expr, u64::try_from(v).expect("unsigned value in range"));
        }
    }

    fn unsigned(&mut self, label: String, expr: String, v: u64) {
        self.call("probe_u", &label, &format!("(unsigned long long)({expr})"));
        self.expected.push(format!("{label} {v}"));
    }

    fn signed(&mut self, label: String, expr: String, v: i128) {
        self.call("probe_s", &label, &format!("(long long)({expr})"));
        self.expected.push(format!("{label} {v}"));
    }

    /// Floats are compared bit-exactly; a float32 constant is the IR's f64 rounded to f32.
    #[allow(clippy::cast_possible_truncation)]
    fn float(&mut self, label: String, expr: String, v: f64, single: bool) {
        if single {
            self.call("probe_f32", &label, &expr);
            self.expected.push(format!("{label} {}", (v as f32).to_bits()));
        } else {
            self.call("probe_f64", &label, &expr);
            self.expected.push(format!("{label} {}", v.to_bits()));
        }
    }

    fn bytes(&mut self, label: String, expr: String, bytes: &[u8]) {
        self.call("probe_bytes", &label, &format!("{expr}, sizeof({expr}) - 1"));
        let mut line = label;
        bytes.iter().for_each(|b| write!(line, " {b:02x}").unwrap());
        self.expected.push(line);
    }

    fn call(&mut self, function: &str, label: &str, args: &str) {
        writeln!(self.body, "    {function}(\"{label}\", {args});").unwrap();
    }

    /// The probe program: includes every header in reverse and then forward order (each must
    /// include its own imports, and include guards must hold), then prints.
    fn source(&self, headers: &[(String, String)]) -> String {
        let mut s = String::from("#include <stdio.h>\n#include <string.h>\n");
        for (name, _) in headers.iter().rev().chain(headers) {
            writeln!(s, "#include \"{name}\"").unwrap();
        }
        s.push_str(PROBE_HELPERS);
        write!(s, "int main(void) {{\n{}    return 0;\n}}\n", self.body).unwrap();
        s
    }

    fn compare(&self, stdout: &str, compiler: &str) -> Result<(), String> {
        let printed: Vec<&str> = stdout.lines().collect();
        let mut diffs = String::new();
        for i in 0..printed.len().max(self.expected.len()) {
            let want = self.expected.get(i).map_or("<nothing>", String::as_str);
            let got = printed.get(i).copied().unwrap_or("<nothing>");
            if want != got {
                writeln!(
                    diffs,
                    "  line {}: the IR says `{want}`, {compiler} printed `{got}`",
                    i + 1
                )
                .unwrap();
            }
        }
        if diffs.is_empty() {
            Ok(())
        } else {
            Err(format!("the {compiler}-compiled probe disagrees with the IR:\n{diffs}"))
        }
    }
}

/// Printing helpers of the probe program (C11 and C++17).
const PROBE_HELPERS: &str = r#"
static inline void probe_u(const char *label, unsigned long long v) {
    printf("%s %llu\n", label, v);
}
static inline void probe_s(const char *label, long long v) {
    printf("%s %lld\n", label, v);
}
static inline void probe_f32(const char *label, float v) {
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    probe_u(label, bits);
}
static inline void probe_f64(const char *label, double v) {
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    probe_u(label, bits);
}
static inline void probe_bytes(const char *label, const char *s, size_t n) {
    size_t i;
    printf("%s", label);
    for (i = 0; i < n; i++) {
        printf(" %02x", (unsigned)(unsigned char)s[i]);
    }
    printf("\n");
}
"#;
