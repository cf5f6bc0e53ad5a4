//! Property tests of the compiler as a whole.
//!
//! - Random valid schemas (`flatipc_gen::testing::random_schema`) compile, and their IR keeps
//!   the layout invariants every backend relies on; equal layouts have equal fingerprints and
//!   different layouts different ones.
//! - The C headers of a few random schemas pass the gcc/g++ layout probe.
//! - No input makes the compiler panic or hang: token soup, random bytes, mutated random
//!   schemas and every truncation of every valid corpus file either compile (and then every
//!   backend runs) or return diagnostics.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use common::c_probe::check_c_layout;
use common::fresh_dir;
use flatipc_gen::builder::{generate, Output};
use flatipc_gen::compile_sources;
use flatipc_gen::ir::{DeclId, DeclKind, Schema, Type, TypeKind};
use flatipc_gen::testing::random_schema;
use proptest::prelude::*;

// ------------------------------------------------------------------------------------------
// Helpers

/// Runs `f` on another thread and fails the test if it takes longer than `limit` (a hang or
/// pathological slowness), or re-raises its panic.
fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let out = f();
        let _ = tx.send(());
        out
    });
    match rx.recv_timeout(limit) {
        // Finished, or dropped the sender by panicking: either way `join` returns promptly and
        // re-raising keeps the closure's own panic message.
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
            handle.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what} took longer than {limit:?} (a hang?)")
        }
    }
}

/// Compiles `sources`; on success runs every backend, which must not panic either. Errors must
/// carry at least one diagnostic and render.
fn compile_and_generate(sources: &[(&str, &str)]) -> Option<Schema> {
    match compile_sources(sources) {
        Ok(schema) => {
            for output in [Output::Rust, Output::C, Output::Json] {
                generate(&schema, output);
            }
            Some(schema)
        }
        Err(d) => {
            assert!(!d.errors.is_empty(), "an Err must carry a diagnostic");
            let text = d.render(false);
            assert!(text.contains("error[FI"), "{text}");
            None
        }
    }
}

/// Like [`compile_and_generate`] for one owned text, under a deadline.
fn survives(text: String) {
    within(Duration::from_secs(10), "compiling one input", move || {
        compile_and_generate(&[("fuzz.fidl", &text)]);
    });
}

fn random_valid(library: &str, seed: u64, decls: usize) -> (String, Schema) {
    let text = random_schema(library, seed, decls);
    match compile_sources(&[("random.fidl", &text)]) {
        Ok(schema) => (text, schema),
        Err(d) => panic!(
            "random schema (seed {seed}, {decls} decls) does not compile:\n{}\n{text}",
            d.render(false)
        ),
    }
}

// ------------------------------------------------------------------------------------------
// (a) IR invariants of random valid schemas

fn check_type(t: &Type, what: &str) {
    assert!(t.align.is_power_of_two() && t.align <= 8, "{what}: alignment {}", t.align);
    assert!(t.size > 0 && t.size % t.align == 0, "{what}: size {} align {}", t.size, t.align);
    if let TypeKind::Array { elem, len } = &t.kind {
        assert!(*len >= 1, "{what}: empty array");
        assert_eq!(t.size, elem.size * len, "{what}: array size");
        assert_eq!(t.align, elem.align, "{what}: array alignment");
        check_type(elem, what);
    }
}

/// Every layout invariant the backends rely on (see `ir.rs`).
fn check_invariants(schema: &Schema) {
    for (i, decl) in schema.decls.iter().enumerate() {
        let name = format!("{}/{}", schema.library(decl.library).name, decl.name);
        match &decl.kind {
            DeclKind::Struct(s) => {
                assert!(!s.members.is_empty(), "{name}: no members");
                assert!(s.align.is_power_of_two() && s.align <= 8, "{name}: align {}", s.align);
                assert_eq!(s.size % s.align, 0, "{name}: size {} align {}", s.size, s.align);
                let max_align = s.members.iter().map(|m| m.ty.align).max().unwrap_or(1);
                assert_eq!(s.align, max_align, "{name}: struct align is the largest member align");
                assert_eq!(s.members[0].offset, 0, "{name}: first member at 0");
                for (k, m) in s.members.iter().enumerate() {
                    let what = format!("{name}.{}", m.name);
                    check_type(&m.ty, &what);
                    assert_eq!(m.offset % m.ty.align, 0, "{what}: offset {} misaligned", m.offset);
                    let end = m.offset + m.ty.size + m.padding_after;
                    let next = s.members.get(k + 1).map_or(s.size, |n| n.offset);
                    assert_eq!(end, next, "{what}: offset + size + padding_after");
                    if let Some(n) = s.members.get(k + 1) {
                        assert!(n.offset > m.offset, "{what}: offsets increase");
                        assert!(n.added() >= m.added(), "{what}: members are appended");
                        if n.added() > m.added() {
                            // A new version starts at the size of the one before it.
                            let end = m.offset + m.ty.size;
                            assert_eq!(n.offset, end.div_ceil(s.align) * s.align, "{what}");
                        } else {
                            // Natural layout: padding only to reach the next alignment.
                            assert!(m.padding_after < n.ty.align, "{what}: too much padding");
                        }
                    } else {
                        assert!(m.padding_after < s.align, "{what}: too much trailing padding");
                    }
                }
                // Steps: version 1 first, increasing, sizes growing on the alignment grid,
                // the last one the current layout, at most 4.
                assert!(!s.steps.is_empty() && s.steps.len() <= 4, "{name}: steps");
                assert_eq!(s.steps[0].version, 1, "{name}: first step");
                assert!(s.steps.windows(2).all(|w| w[0].version < w[1].version), "{name}");
                assert!(s.steps.windows(2).all(|w| w[0].size <= w[1].size), "{name}");
                assert!(s.steps.iter().all(|step| step.size % s.align == 0), "{name}");
                let last = s.steps.last().expect("a step");
                assert_eq!((last.size, last.fingerprint), (s.size, s.fingerprint), "{name}");
                if s.message.is_none() {
                    assert_eq!(s.steps.len(), 1, "{name}: only messages have a history");
                }
            }
            DeclKind::String(b) | DeclKind::Vector(b) => {
                check_type(&b.elem, &name);
                assert!(b.capacity >= 1, "{name}: capacity");
                assert_eq!(b.items_offset, 4u64.div_ceil(b.elem.align) * b.elem.align, "{name}");
                assert_eq!(b.align, b.elem.align.max(4), "{name}: align");
                let end = b.items_offset + b.capacity * b.elem.size;
                assert_eq!(end + b.padding_after, b.size, "{name}: size");
                assert_eq!(b.size % b.align, 0, "{name}: size multiple of align");
                assert!(b.padding_after < b.align, "{name}: trailing padding");
            }
            DeclKind::Enum(e) | DeclKind::Bits(e) => {
                assert!(e.underlying.is_integer(), "{name}");
                let (lo, hi) = e.underlying.int_range().unwrap();
                for m in &e.members {
                    assert!((lo..=hi).contains(&m.value), "{name}.{}: out of range", m.name);
                    if matches!(decl.kind, DeclKind::Bits(_)) {
                        assert!(m.value > 0 && m.value & (m.value - 1) == 0, "{name}.{}", m.name);
                    }
                }
            }
            DeclKind::Alias(t) => check_type(t, &name),
            DeclKind::Const(_) => {}
        }
        // Emission order: a declaration comes after every same-library declaration it uses.
        let lib = &schema.library(decl.library).decls;
        let pos = |id: DeclId| lib.iter().position(|d| *d == id);
        let me = pos(DeclId(i)).unwrap_or_else(|| panic!("{name} is not listed in its library"));
        for used in uses(&decl.kind) {
            if schema.decl(used).library == decl.library {
                assert!(
                    pos(used) < Some(me),
                    "{name} is emitted before `{}`",
                    schema.decl(used).name
                );
            }
        }
    }
}

/// Declarations a declaration's layout refers to directly.
fn uses(kind: &DeclKind) -> Vec<DeclId> {
    fn walk(t: &Type, out: &mut Vec<DeclId>) {
        match &t.kind {
            TypeKind::Prim(_) => {}
            TypeKind::Array { elem, .. } => walk(elem, out),
            TypeKind::Named(id) => out.push(*id),
        }
    }
    let mut out = Vec::new();
    match kind {
        DeclKind::Struct(s) => s.members.iter().for_each(|m| walk(&m.ty, &mut out)),
        DeclKind::String(b) | DeclKind::Vector(b) => walk(&b.elem, &mut out),
        DeclKind::Alias(t) => walk(t, &mut out),
        DeclKind::Enum(_) | DeclKind::Bits(_) | DeclKind::Const(_) => {}
    }
    out
}

/// A full structural description of a type's layout: exactly what a fingerprint is meant to
/// identify (`docs/IR.md`), spelled out instead of hashed.
fn layout_key(schema: &Schema, t: &Type) -> String {
    match &t.kind {
        TypeKind::Prim(p) => p.schema_name().to_string(),
        TypeKind::Array { elem, len } => format!("array<{},{len}>", layout_key(schema, elem)),
        TypeKind::Named(id) => decl_key(schema, *id).expect("a type names a type declaration"),
    }
}

fn decl_key(schema: &Schema, id: DeclId) -> Option<String> {
    Some(match &schema.decl(id).kind {
        DeclKind::Struct(s) => {
            // A removed member is reserved space: the fingerprint of the current version hashes
            // it as padding (`docs/EVOLUTION.md` §3), so two messages that differ only in what
            // they removed have the same layout today.
            let members: Vec<String> = s
                .members
                .iter()
                .filter(|m| !m.available.is_some_and(|a| a.removed.is_some()))
                .map(|m| format!("{}@{}:{}", m.name, m.offset, layout_key(schema, &m.ty)))
                .collect();
            format!("struct[{},{}]{{{}}}", s.size, s.align, members.join(";"))
        }
        DeclKind::Enum(e) => format!("enum:{}:{}", e.underlying.schema_name(), e.strict),
        DeclKind::Bits(e) => format!("bits:{}:{}", e.underlying.schema_name(), e.strict),
        DeclKind::String(b) => format!("string<{}>", b.capacity),
        DeclKind::Vector(b) => format!("vector<{},{}>", layout_key(schema, &b.elem), b.capacity),
        DeclKind::Alias(t) => layout_key(schema, t),
        DeclKind::Const(_) => return None,
    })
}

fn decl_fingerprint(schema: &Schema, id: DeclId) -> Option<u64> {
    match &schema.decl(id).kind {
        DeclKind::Struct(s) => Some(s.fingerprint),
        DeclKind::Enum(e) | DeclKind::Bits(e) => Some(e.fingerprint),
        DeclKind::String(b) | DeclKind::Vector(b) => Some(b.fingerprint),
        DeclKind::Alias(t) => Some(t.fingerprint),
        DeclKind::Const(_) => None,
    }
}

/// Equal layouts ⇔ equal fingerprints, over every type declaration and member type.
fn check_fingerprints(schema: &Schema) {
    let mut by_key: HashMap<String, (u64, String)> = HashMap::new();
    let mut by_fp: HashMap<u64, (String, String)> = HashMap::new();
    let mut record = |key: String, fp: u64, what: String| {
        if let Some((other_fp, other)) = by_key.get(&key) {
            assert_eq!(
                fp, *other_fp,
                "same layout, different fingerprints: {what} and {other}\n{key}"
            );
        } else {
            by_key.insert(key.clone(), (fp, what.clone()));
        }
        if let Some((other_key, other)) = by_fp.get(&fp) {
            assert_eq!(&key, other_key, "fingerprint collision between {what} and {other}");
        } else {
            by_fp.insert(fp, (key, what));
        }
    };
    for (i, decl) in schema.decls.iter().enumerate() {
        let id = DeclId(i);
        let name = format!("{}/{}", schema.library(decl.library).name, decl.name);
        if let (Some(key), Some(fp)) = (decl_key(schema, id), decl_fingerprint(schema, id)) {
            record(key, fp, name.clone());
        }
        if let DeclKind::Struct(s) = &decl.kind {
            for m in &s.members {
                record(layout_key(schema, &m.ty), m.ty.fingerprint, format!("{name}.{}", m.name));
            }
        }
    }
}

/// Random valid schemas compile, keep every layout invariant, and fingerprint exactly their
/// layout. The same text compiled as a second library must give the same fingerprints.
fn keep_ir_invariants(seed: u64, decls: usize) {
    let a = random_schema("prop.a", seed, decls);
    let b = random_schema("prop.b", seed, decls);
    let schema = match compile_sources(&[("a.fidl", &a), ("b.fidl", &b)]) {
        Ok(s) => s,
        Err(d) => panic!("seed {seed}, {decls} decls:\n{}\n{a}", d.render(false)),
    };
    check_invariants(&schema);
    check_fingerprints(&schema);
    let fps = |lib: &str| -> Vec<(String, Option<u64>)> {
        let lib = schema.libraries.iter().position(|l| l.name == lib).unwrap();
        schema.libraries[lib]
            .decls
            .iter()
            .map(|id| (schema.decl(*id).name.clone(), decl_fingerprint(&schema, *id)))
            .collect()
    };
    assert_eq!(fps("prop.a"), fps("prop.b"));
    for output in [Output::Rust, Output::C, Output::Json] {
        let files = generate(&schema, output);
        assert_eq!(&files, &generate(&schema, output));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_schemas_keep_ir_invariants(seed in any::<u64>(), decls in 1usize..40) {
        keep_ir_invariants(seed, decls);
    }
}

/// A case the property found: two messages that differ only in a member both removed (an
/// `int32` added at 2 and removed at 3, an `int16` removed at 2) have the same layout at the
/// current version, so the same fingerprint; the test's layout key once kept removed members.
#[test]
fn messages_that_differ_only_in_removed_members_share_a_fingerprint() {
    keep_ir_invariants(14_041_227_117_201_054_842, 19);
}

// ------------------------------------------------------------------------------------------
// (b) The C probe over random schemas

static PROBE_DIRS: AtomicUsize = AtomicUsize::new(0);

proptest! {
    // Each case runs gcc and g++ twice; a few cases cover the generator's variety.
    #![proptest_config(ProptestConfig { cases: 8, max_shrink_iters: 16, ..ProptestConfig::default() })]

    #[test]
    fn random_schemas_pass_the_c_probe(seed in any::<u64>(), decls in 1usize..40) {
        // Two libraries in one probe: both headers are included together.
        let (a, _) = random_valid("probe.a", seed, decls);
        let b = random_schema("probe.b", seed.wrapping_add(1), decls);
        let schema = compile_sources(&[("a.fidl", &a), ("b.fidl", &b)])
            .unwrap_or_else(|d| panic!("{}", d.render(false)));
        check_invariants(&schema);
        let n = PROBE_DIRS.fetch_add(1, Ordering::Relaxed);
        check_c_layout(&schema, &fresh_dir(&format!("properties_probe_{n}")));
    }
}

// ------------------------------------------------------------------------------------------
// (c) Robustness: arbitrary input never panics or hangs

/// Words and punctuation of the schema language, plus near misses.
const TOKENS: &[&str] = &[
    "library",
    "using",
    "as",
    "const",
    "alias",
    "type",
    "struct",
    "enum",
    "bits",
    "table",
    "union",
    "overlay",
    "protocol",
    "service",
    "resource_definition",
    "strict",
    "flexible",
    "resource",
    "{",
    "}",
    "<",
    ">",
    "(",
    ")",
    ";",
    ":",
    ",",
    "=",
    "|",
    ".",
    "-",
    "@message",
    "@message(id=1)",
    "@message(id=0xFFFF0000)",
    "@available(added=2)",
    "@available(removed=1)",
    "@doc(\"d\")",
    "@",
    "///",
    "/// doc\n",
    "// c\n",
    "\n",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "int8",
    "int64",
    "bool",
    "float32",
    "float64",
    "string",
    "vector",
    "array",
    "box",
    "handle",
    "client_end",
    "optional",
    "a",
    "b",
    "c",
    "A",
    "B",
    "T",
    "x",
    "a.b",
    "a.b.c",
    "prop",
    "MAX",
    "_",
    "__x",
    "x_",
    "Self",
    "self",
    "int",
    "type",
    "match",
    "Vector2Uint8",
    "String3",
    "0",
    "1",
    "2",
    "3",
    "64",
    "-1",
    "-128",
    "255",
    "0x10",
    "0xFFFFFFFFFFFFFFFF",
    "0b101",
    "1.5",
    "-2.5e3",
    "1e999",
    "18446744073709551616",
    "340282366920938463463374607431768211456",
    "\"s\"",
    "\"\\u{41}\"",
    "\"\\u{D800}\"",
    "\"\\q\"",
    "\"",
    "true",
    "false",
    "\u{FEFF}",
    "é",
    "\r\n",
    "\t",
];

/// Something that looks like the start of a valid file, so token soup reaches the checker.
const PREFIXES: &[&str] =
    &["", "library a.b;\n", "library a;\nusing b;\n", "library a.b;\ntype T = struct {\n"];

fn token_soup() -> impl Strategy<Value = String> {
    let token = prop::sample::select(TOKENS);
    let sep = prop::sample::select(&[" ", " ", " ", "", "\n"][..]);
    (prop::sample::select(PREFIXES), prop::collection::vec((token, sep), 0..80)).prop_map(
        |(prefix, tokens)| {
            let mut s = prefix.to_string();
            for (t, sep) in tokens {
                s.push_str(t);
                s.push_str(sep);
            }
            s
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn token_soup_never_panics(text in token_soup()) {
        survives(text);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        survives(String::from_utf8_lossy(&bytes).into_owned());
    }

    /// Valid random schemas with tokens inserted and spans deleted: mostly parse, then fail
    /// (or pass) the checker in varied ways. Also compiled next to an intact second library
    /// that imports the mutated one.
    #[test]
    fn mutated_random_schemas_never_panic(
        seed in any::<u64>(),
        decls in 1usize..20,
        edits in prop::collection::vec(
            (any::<prop::sample::Index>(), 0usize..6, prop::sample::select(TOKENS)),
            1..6,
        ),
    ) {
        let mut text = random_schema("mut.a", seed, decls).into_bytes();
        for (at, delete, insert) in edits {
            let at = at.index(text.len() + 1);
            let end = (at + delete).min(text.len());
            text.splice(at..end, insert.bytes());
        }
        let text = String::from_utf8_lossy(&text).into_owned();
        let user = "library mut.b;\nusing mut.a;\ntype U = struct { t mut.a.T0; v vector<mut.a.T0, 2>; };\nconst C uint32 = mut.a.T1;\n".to_string();
        within(Duration::from_secs(10), "compiling a mutated schema", move || {
            compile_and_generate(&[("a.fidl", &text), ("b.fidl", &user)]);
            compile_and_generate(&[("a.fidl", &text)]);
        });
    }
}

/// Offsets at which to cut `text`: every byte offset, except those deep inside a `//` comment.
/// A cut in the middle of a comment's text leaves the same tokens as a cut a few bytes after
/// the `//` (only the comment text differs), so those cuts add time, not coverage; the first
/// five and the last two offsets of each comment are kept.
fn cut_points(text: &[u8]) -> Vec<usize> {
    let mut skip = vec![false; text.len() + 1];
    let (mut i, mut in_string) = (0, false);
    while i < text.len() {
        match text[i] {
            b'\\' if in_string => i += 1,
            b'"' => in_string = !in_string,
            b'\n' => in_string = false,
            b'/' if !in_string && text.get(i + 1) == Some(&b'/') => {
                let end = text[i..].iter().position(|b| *b == b'\n').map_or(text.len(), |n| i + n);
                if let Some(inside) = skip.get_mut(i + 5..end.saturating_sub(1)) {
                    inside.fill(true);
                }
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    (0..=text.len()).filter(|cut| !skip[*cut]).collect()
}

/// Every prefix of every valid corpus file (cut at every byte offset of [`cut_points`]; a cut
/// inside a UTF-8 sequence is replaced by U+FFFD), compiled on its own: an error or a schema,
/// never a panic or a hang.
#[test]
fn corpus_truncations_never_panic() {
    let dir = "../tests/corpus/valid";
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("corpus directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "fidl"))
        .collect();
    files.sort();
    assert!(files.len() > 10, "expected the valid corpus, found {files:?}");
    let count = files.len();
    let compiled_whole = within(Duration::from_secs(120), "every truncation", move || {
        let mut compiled_whole = 0;
        std::thread::scope(|scope| {
            let workers: Vec<_> = files
                .iter()
                .map(|path| {
                    scope.spawn(move || {
                        let bytes = std::fs::read(path).expect("corpus file");
                        let name = path.file_name().unwrap().to_string_lossy().into_owned();
                        let mut whole = false;
                        for cut in cut_points(&bytes) {
                            let text = String::from_utf8_lossy(&bytes[..cut]);
                            let ok = compile_and_generate(&[(&name, &text)]).is_some();
                            whole |= ok && cut == bytes.len();
                        }
                        whole
                    })
                })
                .collect();
            for w in workers {
                compiled_whole += usize::from(w.join().expect("no panic"));
            }
        });
        compiled_whole
    });
    // Files without imports compile when not truncated.
    assert!(
        compiled_whole >= count - 2,
        "only {compiled_whole} of {count} corpus files compile alone"
    );
}
