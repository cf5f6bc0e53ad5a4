//! The runtime helpers of a library with messages: typed wrappers over `flatipc.h`
//! (`runtime/include/flatipc.h`), after the header's include guard, compiled only where
//! `flatipc.h` was included first (`#if defined(FLATIPC_H)`).
//!
//! Names, for a message `lib_T` (a struct with a message id) and a library `lib`:
//!
//! | generated | wraps |
//! |---|---|
//! | `lib_T_message()` | its `flatipc_message` table entry (`FLATIPC_MESSAGE(lib_T)`) |
//! | `lib_T_channel_writer`, `lib_T_channel_reader` | typed channel handles (`raw` is the runtime's; the reader's `widened` is its buffer for older versions) |
//! | `lib_T_channel_{writer,reader}_{create,open,open_or_create,close}` | `flatipc_channel_{writer,reader}_*`, without the message argument |
//! | `lib_T_{loan,loan_timeout,commit,try_send,send}` | `flatipc_channel_writer_*`, typed |
//! | `lib_T_{try_recv,recv,release}` | `flatipc_channel_reader_*`, typed, validated |
//! | `lib_T_stream_{loan,loan_timeout,try_send,send}` | `flatipc_stream_writer_*` for `lib_T` |
//! | `lib_T_from_frame(frame)` | `flatipc_frame_get`, validated |
//! | `lib_MESSAGE_COUNT`, `lib_messages()` | the library's message table (declaration order) |
//! | `lib_message_buffer` | a union of the messages, 16-aligned: a stream reader's buffer for zero-extended frames |
//! | `lib_stream_{writer,reader}_{create,open,open_or_create}` | `flatipc_stream_*` with that table |
//! | `lib_handlers`, `lib_dispatch(frame, handlers, ctx)` | one callback per message, validated |
//!
//! Everything that hands out a `const lib_T *` from a ring has checked it with `lib_T_validate`
//! first; a typed channel message that fails is released (skipped), as the Rust reader does.
//! Messages of another schema version (`docs/EVOLUTION.md` §4) are handed out as the runtime
//! gives them: a newer writer's in place (the reader's prefix), an older, smaller writer's
//! zero-extended into the reader's buffer (`lib_T_channel_reader.widened`, or a
//! `lib_message_buffer` the user gives a stream reader), and validated there.
//!
//! The per-message helpers have one fixed shape in which only the type name varies, so they are
//! a template ([`MESSAGE_TEMPLATE`]) instantiated per message; the parts whose shape depends on
//! the library (the table, the handlers, the dispatch `switch`) go through the [`Writer`].

use super::{c_name, comment_text, file_name, Writer};
use crate::ir::{LibraryId, Schema};

/// The names each message adds, after `lib_T_` (kept equal to [`MESSAGE_TEMPLATE`]'s by a test).
pub(super) const MESSAGE_NAMES: [&str; 24] = [
    "message",
    "channel_writer",
    "channel_reader",
    "channel_writer_create",
    "channel_writer_open",
    "channel_writer_open_or_create",
    "channel_writer_close",
    "channel_reader_create",
    "channel_reader_open",
    "channel_reader_open_or_create",
    "channel_reader_close",
    "loan",
    "loan_timeout",
    "commit",
    "try_send",
    "send",
    "try_recv",
    "recv",
    "release",
    "stream_loan",
    "stream_loan_timeout",
    "stream_try_send",
    "stream_send",
    "from_frame",
];

/// The names a library with messages adds, after `lib_` (kept equal to the generated ones by a
/// test).
pub(super) const LIBRARY_NAMES: [&str; 11] = [
    "MESSAGE_COUNT",
    "messages",
    "message_buffer",
    "stream_writer_create",
    "stream_writer_open",
    "stream_writer_open_or_create",
    "stream_reader_create",
    "stream_reader_open",
    "stream_reader_open_or_create",
    "handlers",
    "dispatch",
];

/// Codes and helpers shared by the runtime helpers of every library (defined once per TU).
const RUNTIME_BLOCK: &str = "\
#ifndef FLATIPC_GEN_RUNTIME_H
#define FLATIPC_GEN_RUNTIME_H
/* Results of lib_dispatch, besides the FLATIPC_GEN_INVALID_* codes of lib_Type_validate. */
/** A handler ran. */
#define FLATIPC_GEN_HANDLED 1
/** A valid message of the library whose handler is NULL. */
#define FLATIPC_GEN_NO_HANDLER 0
/** An id this library does not know (e.g. a newer writer's message): skip the frame. */
#define FLATIPC_GEN_UNKNOWN_ID 2
/** A known id in a frame smaller than the type that is not an older version of it (a writer
 *  built from another schema; the stream's attach check makes this a corrupt frame). */
#define FLATIPC_GEN_SIZE_MISMATCH (-110)
/** A description of a FLATIPC_GEN_* code, or flatipc_strerror(code) for any other code. */
static inline const char *flatipc_gen_strerror(int code) {
    switch (code) {
    case FLATIPC_GEN_INVALID_BOOL: return \"invalid message: a bool byte other than 0 or 1\";
    case FLATIPC_GEN_INVALID_ENUM: return \"invalid message: an unknown member of a strict enum\";
    case FLATIPC_GEN_INVALID_BITS: return \"invalid message: an unknown bit of strict bits\";
    case FLATIPC_GEN_INVALID_LENGTH: return \"invalid message: a string or vector length above its bound\";
    case FLATIPC_GEN_INVALID_UTF8: return \"invalid message: a string that is not UTF-8\";
    case FLATIPC_GEN_INVALID_PADDING: return \"invalid message: non-zero padding\";
    case FLATIPC_GEN_UNKNOWN_ID: return \"a message id this library does not know\";
    case FLATIPC_GEN_SIZE_MISMATCH: return \"a frame whose size no version of its message type has\";
    default: return flatipc_strerror(code);
    }
}
/* Internal: ends a typed receive. A message that broke its type's data rules (`invalid` != 0)
 * is released, so that one bad message cannot wedge the reader (as in Rust). */
static inline int flatipc_gen_i_accept(flatipc_channel_reader *r, int invalid) {
    if (invalid != 0) {
        (void)flatipc_channel_reader_release(r);
    }
    return invalid;
}
/* Internal: ends a typed reader's attach that returned `rc`: on success gives the reader the
 * buffer where messages of older, smaller versions of its type are zero-extended. */
static inline int flatipc_gen_i_attached(flatipc_channel_reader *r, void *buffer, size_t len,
                                         int rc) {
    return rc == FLATIPC_OK ? flatipc_channel_reader_set_buffer(r, buffer, len) : rc;
}
#endif /* FLATIPC_GEN_RUNTIME_H */
";

/// The helpers of one message `$T`. Every function returns a flatipc.h code (0 is FLATIPC_OK)
/// unless documented otherwise.
const MESSAGE_TEMPLATE: &str = "\
/** The message table entry of `$T`: its id, size, alignment and fingerprint. */
static inline const flatipc_message *$T_message(void) {
    static const flatipc_message entry = FLATIPC_MESSAGE($T);
    return &entry;
}

/** The writing end of a typed channel of `$T` (`raw`: the flatipc.h handle). */
typedef struct $T_channel_writer {
    flatipc_channel_writer raw;
} $T_channel_writer;

/** The reading end of a typed channel of `$T` (`raw`: the flatipc.h handle; `widened`: its
 *  buffer for messages of older, smaller versions, set by the _create/_open helpers). */
typedef struct $T_channel_reader {
    flatipc_channel_reader raw;
    $T widened;
} $T_channel_reader;

/** flatipc_channel_writer_create for `$T`. */
static inline int $T_channel_writer_create($T_channel_writer *w, const char *name, const flatipc_options *o) {
    return flatipc_channel_writer_create(&w->raw, name, $T_message(), o);
}

/** flatipc_channel_writer_open for `$T`. */
static inline int $T_channel_writer_open($T_channel_writer *w, const char *name, flatipc_wait wait) {
    return flatipc_channel_writer_open(&w->raw, name, $T_message(), wait);
}

/** flatipc_channel_writer_open_or_create for `$T`. */
static inline int $T_channel_writer_open_or_create($T_channel_writer *w, const char *name, const flatipc_options *o) {
    return flatipc_channel_writer_open_or_create(&w->raw, name, $T_message(), o);
}

/** flatipc_channel_writer_close. */
static inline void $T_channel_writer_close($T_channel_writer *w) {
    flatipc_channel_writer_close(&w->raw);
}

/** flatipc_channel_reader_create for `$T`. */
static inline int $T_channel_reader_create($T_channel_reader *r, const char *name, const flatipc_options *o) {
    int rc = flatipc_channel_reader_create(&r->raw, name, $T_message(), o);
    return flatipc_gen_i_attached(&r->raw, &r->widened, sizeof r->widened, rc);
}

/** flatipc_channel_reader_open for `$T`. */
static inline int $T_channel_reader_open($T_channel_reader *r, const char *name, flatipc_wait wait) {
    int rc = flatipc_channel_reader_open(&r->raw, name, $T_message(), wait);
    return flatipc_gen_i_attached(&r->raw, &r->widened, sizeof r->widened, rc);
}

/** flatipc_channel_reader_open_or_create for `$T`. */
static inline int $T_channel_reader_open_or_create($T_channel_reader *r, const char *name, const flatipc_options *o) {
    int rc = flatipc_channel_reader_open_or_create(&r->raw, name, $T_message(), o);
    return flatipc_gen_i_attached(&r->raw, &r->widened, sizeof r->widened, rc);
}

/** flatipc_channel_reader_close. */
static inline void $T_channel_reader_close($T_channel_reader *r) {
    flatipc_channel_reader_close(&r->raw);
}

/** Lends the next free slot, zeroed, as a `$T` to fill in place; $T_commit publishes it.
 *  FLATIPC_E_FULL when the reader has not released a slot. */
static inline int $T_loan($T_channel_writer *w, $T **message) {
    void *slot = NULL;
    int rc;
    if (message == NULL) return FLATIPC_E_INVALID_ARGUMENT;
    rc = flatipc_channel_writer_loan(&w->raw, &slot);
    *message = rc == FLATIPC_OK ? ($T *)slot : NULL;
    return rc;
}

/** $T_loan, waiting for a free slot at most `timeout_ns` (negative: forever). */
static inline int $T_loan_timeout($T_channel_writer *w, $T **message, int64_t timeout_ns) {
    void *slot = NULL;
    int rc;
    if (message == NULL) return FLATIPC_E_INVALID_ARGUMENT;
    rc = flatipc_channel_writer_loan_timeout(&w->raw, &slot, timeout_ns);
    *message = rc == FLATIPC_OK ? ($T *)slot : NULL;
    return rc;
}

/** Publishes the loaned `$T`. */
static inline int $T_commit($T_channel_writer *w) {
    return flatipc_channel_writer_commit(&w->raw);
}

/** Copies `*message` into the next slot and publishes it; FLATIPC_E_FULL when there is none. */
static inline int $T_try_send($T_channel_writer *w, const $T *message) {
    return flatipc_channel_writer_try_send(&w->raw, message);
}

/** $T_try_send, waiting for a free slot at most `timeout_ns` (negative: forever). */
static inline int $T_send($T_channel_writer *w, const $T *message, int64_t timeout_ns) {
    return flatipc_channel_writer_send(&w->raw, message, timeout_ns);
}

/** Receives the next `$T` (valid until $T_release), checked with $T_validate: in place,
 *  or zero-extended into `r->widened` when an older version wrote it (members it lacks read as
 *  zero; flatipc_channel_reader_version(&r->raw) is the writer's version). An invalid one is
 *  released (skipped) and its FLATIPC_GEN_INVALID_* code returned; else FLATIPC_E_EMPTY,
 *  FLATIPC_E_DISCONNECTED or another flatipc.h code. */
static inline int $T_try_recv($T_channel_reader *r, const $T **message) {
    const void *slot = NULL;
    int rc;
    if (message == NULL) return FLATIPC_E_INVALID_ARGUMENT;
    *message = NULL;
    rc = flatipc_channel_reader_try_recv(&r->raw, &slot);
    if (rc != FLATIPC_OK) return rc;
    rc = flatipc_gen_i_accept(&r->raw, $T_validate((const $T *)slot));
    if (rc == FLATIPC_OK) *message = (const $T *)slot;
    return rc;
}

/** $T_try_recv, waiting at most `timeout_ns` (negative: forever; FLATIPC_E_TIMEOUT). */
static inline int $T_recv($T_channel_reader *r, const $T **message, int64_t timeout_ns) {
    const void *slot = NULL;
    int rc;
    if (message == NULL) return FLATIPC_E_INVALID_ARGUMENT;
    *message = NULL;
    rc = flatipc_channel_reader_recv(&r->raw, &slot, timeout_ns);
    if (rc != FLATIPC_OK) return rc;
    rc = flatipc_gen_i_accept(&r->raw, $T_validate((const $T *)slot));
    if (rc == FLATIPC_OK) *message = (const $T *)slot;
    return rc;
}

/** Releases the `$T` from the last receive. */
static inline int $T_release($T_channel_reader *r) {
    return flatipc_channel_reader_release(&r->raw);
}

/** Lends a zeroed frame for a `$T` on a framed stream; flatipc_stream_writer_commit publishes
 *  it. FLATIPC_E_UNKNOWN_MESSAGE if the stream's table lacks `$T`. */
static inline int $T_stream_loan(flatipc_stream_writer *w, $T **message) {
    void *slot = NULL;
    int rc;
    if (message == NULL) return FLATIPC_E_INVALID_ARGUMENT;
    rc = flatipc_stream_writer_loan(w, $T_MESSAGE_ID, (uint32_t)sizeof($T), &slot);
    *message = rc == FLATIPC_OK ? ($T *)slot : NULL;
    return rc;
}

/** $T_stream_loan, waiting for room at most `timeout_ns` (negative: forever). */
static inline int $T_stream_loan_timeout(flatipc_stream_writer *w, $T **message, int64_t timeout_ns) {
    void *slot = NULL;
    int rc;
    if (message == NULL) return FLATIPC_E_INVALID_ARGUMENT;
    rc = flatipc_stream_writer_loan_timeout(w, $T_MESSAGE_ID, (uint32_t)sizeof($T), &slot, timeout_ns);
    *message = rc == FLATIPC_OK ? ($T *)slot : NULL;
    return rc;
}

/** Copies `*message` into the next frame of a framed stream and publishes it. */
static inline int $T_stream_try_send(flatipc_stream_writer *w, const $T *message) {
    return flatipc_stream_writer_try_send(w, $T_MESSAGE_ID, (uint32_t)sizeof($T), message);
}

/** $T_stream_try_send, waiting for room at most `timeout_ns` (negative: forever). */
static inline int $T_stream_send(flatipc_stream_writer *w, const $T *message, int64_t timeout_ns) {
    return flatipc_stream_writer_send(w, $T_MESSAGE_ID, (uint32_t)sizeof($T), message, timeout_ns);
}

/** The frame's message as a `$T` (flatipc_frame_get: in place, or zero-extended from an
 *  older version): NULL unless the frame carries `$T`'s id and a size of some version of it,
 *  and passes $T_validate (lib_dispatch tells those cases apart). */
static inline const $T *$T_from_frame(const flatipc_frame *frame) {
    const $T *m = (const $T *)flatipc_frame_get(frame, $T_message());
    return m != NULL && $T_validate(m) == 0 ? m : NULL;
}
";

/// Writes the runtime section of library `lib` after the header's include guard, after a blank
/// line; nothing if the library has no messages.
pub(super) fn emit(w: &mut Writer, schema: &Schema, lib: LibraryId) {
    let library = schema.library(lib);
    let messages: Vec<(String, &str)> = schema
        .messages(lib)
        .map(|(id, decl, _)| (c_name(schema, id), decl.name.as_str()))
        .collect();
    if messages.is_empty() {
        return;
    }
    let prefix = library.underscored();
    let guard = format!("FLATIPC_GEN_{}_RUNTIME_H", prefix.to_uppercase());
    w.blank();
    w.line(format!(
        "/* Runtime helpers for the messages of `{}` over flatipc.h: compiled only where",
        comment_text(&library.name)
    ));
    for line in [
        " * flatipc.h is visible, so #include \"flatipc.h\" first (or include this header again",
        " * after it). For each message lib_T: lib_T_message(), lib_T_channel_writer/_reader and",
        " * their _create/_open/_open_or_create/_close, lib_T_loan/_loan_timeout/_commit/",
        " * _try_send/_send, lib_T_try_recv/_recv/_release (validated), lib_T_stream_loan/",
        " * _loan_timeout/_try_send/_send, lib_T_from_frame (validated). For the library:",
        " * lib_MESSAGE_COUNT, lib_messages(), lib_message_buffer, lib_stream_writer_* /",
        " * lib_stream_reader_* (create, open, open_or_create) over that table, lib_handlers and",
        " * lib_dispatch. */",
    ] {
        w.line(line);
    }
    w.line(format!("#if defined(FLATIPC_H) && !defined({guard})"));
    w.line(format!("#define {guard}"));
    for import in &library.imports {
        w.line(format!(
            "#include \"{}\" /* its runtime helpers, too */",
            file_name(schema, *import)
        ));
    }
    w.blank();
    w.text.push_str(RUNTIME_BLOCK);
    for (c, _) in &messages {
        w.blank();
        w.text.push_str(&MESSAGE_TEMPLATE.replace("$T", c));
    }
    w.blank();
    emit_table(w, &prefix, &library.name, &messages);
    w.blank();
    emit_buffer(w, &prefix, &library.name, &messages);
    w.blank();
    emit_stream_opens(w, &prefix);
    w.blank();
    emit_dispatch(w, &prefix, &library.name, &messages);
    w.blank();
    w.line(format!("#endif /* {guard} */"));
}

fn emit_table(w: &mut Writer, prefix: &str, library: &str, messages: &[(String, &str)]) {
    let count = messages.len();
    w.doc(&[format!("Messages of `{library}`.")]);
    w.line(format!("#define {prefix}_MESSAGE_COUNT {count}u"));
    w.doc(&[format!(
        "The message table of `{library}`, in declaration order ({prefix}_MESSAGE_COUNT \
         entries): what a framed stream of the library carries."
    )]);
    w.line(format!("static inline const flatipc_message *{prefix}_messages(void) {{"));
    w.indent += 1;
    w.line(format!("static const flatipc_message table[{count}] = {{"));
    w.indent += 1;
    for (c, _) in messages {
        w.line(format!("FLATIPC_MESSAGE({c}),"));
    }
    w.indent -= 1;
    w.line("};");
    w.line("return table;");
    w.indent -= 1;
    w.line("}");
}

/// `lib_message_buffer`: a union of every message of the library, 16-byte aligned, for
/// `flatipc_stream_reader_set_buffer`.
fn emit_buffer(w: &mut Writer, prefix: &str, library: &str, messages: &[(String, &str)]) {
    w.doc(&[
        format!("Room for any message of `{library}`, 16-byte aligned: a stream reader's buffer,"),
        "where it zero-extends frames that older versions of the messages wrote:".into(),
        format!(
            "`{prefix}_message_buffer buf; flatipc_stream_reader_set_buffer(&r, &buf, sizeof buf);`."
        ),
    ]);
    w.line(format!("typedef union {prefix}_message_buffer {{"));
    w.indent += 1;
    for (c, name) in messages {
        w.line(format!("{c} {name};"));
    }
    w.line("FLATIPC_ALIGNAS(16) unsigned char _flatipc_alignment[16];");
    w.indent -= 1;
    w.line(format!("}} {prefix}_message_buffer;"));
}

fn emit_stream_opens(w: &mut Writer, prefix: &str) {
    const OPTIONS: (&str, &str) = ("const flatipc_options *o", "o");
    const WAIT: (&str, &str) = ("flatipc_wait wait", "wait");
    let modes = [("create", OPTIONS), ("open", WAIT), ("open_or_create", OPTIONS)];
    for (i, (mode, (param, arg))) in modes.into_iter().enumerate() {
        for (j, (end, handle)) in [("writer", "w"), ("reader", "r")].into_iter().enumerate() {
            if i + j > 0 {
                w.blank();
            }
            w.doc(&[format!("flatipc_stream_{end}_{mode} with {prefix}_messages().")]);
            w.line(format!(
                "static inline int {prefix}_stream_{end}_{mode}(flatipc_stream_{end} *{handle}, \
                 const char *name, {param}) {{"
            ));
            w.indent += 1;
            w.line(format!(
                "return flatipc_stream_{end}_{mode}({handle}, name, {prefix}_messages(), \
                 {prefix}_MESSAGE_COUNT, {arg});"
            ));
            w.indent -= 1;
            w.line("}");
        }
    }
}

fn emit_dispatch(w: &mut Writer, prefix: &str, library: &str, messages: &[(String, &str)]) {
    w.doc(&[
        format!("One optional callback per message of `{library}`, for {prefix}_dispatch."),
        "Each gets the message (valid until the frame is released: in place, or the reader's"
            .into(),
        "zero-extended copy of an older version's) and `ctx`.".into(),
    ]);
    w.line(format!("typedef struct {prefix}_handlers {{"));
    w.indent += 1;
    for (c, name) in messages {
        w.line(format!("void (*on_{name})(const {c} *message, void *ctx);"));
    }
    w.indent -= 1;
    w.line(format!("}} {prefix}_handlers;"));
    w.blank();
    w.doc(&[
        "Calls the handler of the frame's message, after checking the frame's size (a newer".into(),
        "version's message is read in place, an older one's zero-extended by the reader: see"
            .into(),
        "flatipc_frame_get) and the message's data rules. FLATIPC_GEN_HANDLED (a handler ran),"
            .into(),
        "FLATIPC_GEN_NO_HANDLER (valid, but its handler is NULL), FLATIPC_GEN_UNKNOWN_ID (skip"
            .into(),
        "the frame), or, without calling a handler, FLATIPC_GEN_SIZE_MISMATCH or a".into(),
        "FLATIPC_GEN_INVALID_* code.".into(),
    ]);
    w.line(format!(
        "static inline int {prefix}_dispatch(const flatipc_frame *frame, \
         const {prefix}_handlers *handlers, void *ctx) {{"
    ));
    w.indent += 1;
    w.line("const void *data;");
    w.line("int rc;");
    w.line("if (frame == NULL) return FLATIPC_E_INVALID_ARGUMENT;");
    w.line("switch (frame->id) {");
    for (c, name) in messages {
        w.line(format!("case {c}_MESSAGE_ID:"));
        w.indent += 1;
        w.line(format!("data = flatipc_frame_get(frame, {c}_message());"));
        w.line("if (data == NULL) return FLATIPC_GEN_SIZE_MISMATCH;");
        w.line(format!("rc = {c}_validate((const {c} *)data);"));
        w.line("if (rc != 0) return rc;");
        w.line(format!(
            "if (handlers == NULL || handlers->on_{name} == NULL) return FLATIPC_GEN_NO_HANDLER;"
        ));
        w.line(format!("handlers->on_{name}((const {c} *)data, ctx);"));
        w.line("return FLATIPC_GEN_HANDLED;");
        w.indent -= 1;
    }
    w.line("default:");
    w.indent += 1;
    w.line("return FLATIPC_GEN_UNKNOWN_ID;");
    w.indent -= 1;
    w.line("}");
    w.indent -= 1;
    w.line("}");
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use crate::backend::c::{defined_names, generate};
    use crate::ir::LibraryId;

    /// The identifiers a header defines at file scope (macros, typedefs, functions).
    fn defined_in(header: &str) -> BTreeSet<String> {
        let ident = |text: &str| -> String {
            let text = text.trim_start_matches('*');
            text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .next()
                .unwrap_or("")
                .into()
        };
        let mut names = BTreeSet::new();
        for line in header.lines() {
            if let Some(rest) = line.strip_prefix("#define ") {
                names.insert(ident(rest));
            } else if line.starts_with("static inline ") {
                let head = line.split('(').next().unwrap_or("");
                names.insert(ident(head.rsplit(' ').next().unwrap_or("")));
            } else if let Some(rest) = line.strip_prefix("static const ") {
                let head = rest.split('[').next().unwrap_or("");
                names.insert(ident(head.rsplit(' ').next().unwrap_or("")));
            } else if let Some(rest) = line.strip_prefix("} ") {
                names.insert(ident(rest));
            } else if line.starts_with("typedef ") && line.ends_with(';') {
                let head = line.trim_end_matches(';').split('[').next().unwrap_or("");
                names.insert(ident(head.rsplit(' ').next().unwrap_or("")));
            }
        }
        names
    }

    /// `name_clashes` must know every name a header defines, or a clash would reach the C
    /// compiler; this keeps [`super::MESSAGE_NAMES`] and [`super::LIBRARY_NAMES`] in step with
    /// the template and the library helpers.
    #[test]
    fn every_generated_name_is_known_to_the_clash_check() {
        let schema = crate::compile_sources(&[(
            "shop.fidl",
            "@available(version=2)\nlibrary shop;\n\
             type Side = strict enum : uint8 { BUY = 1; };\n\
             type Flags = flexible bits : uint8 { A = 1; };\n\
             const LIMIT uint32 = 3;\n\
             alias Name = string<8>;\n\
             alias Row = array<uint8, 3>;\n\
             type Item = struct { sku uint32; side Side; };\n\
             @message(id=1)\n\
             type Order = struct { name Name; items vector<Item, 4>; flags Flags; row Row; };\n\
             @message\n\
             type Cancel = struct { id uint64; urgent bool; @available(added=2) reason uint8; };\n",
        )])
        .unwrap_or_else(|e| panic!("{}", e.render(false)));
        let lib = LibraryId(0);
        let header = generate(&schema, lib);
        let found: BTreeSet<String> =
            defined_in(&header).into_iter().filter(|n| n.starts_with("shop_")).collect();
        let known: BTreeSet<String> =
            schema.library(lib).decls.iter().flat_map(|id| defined_names(&schema, *id)).collect();
        assert_eq!(found, known);
        assert!(found.contains("shop_Order_recv") && found.contains("shop_dispatch"));
        assert!(found.contains("shop_Name_validate") && !found.contains("shop_Row_validate"));
        assert!(found.contains("shop_Cancel_STEPS") && found.contains("shop_Cancel_has_reason"));
        assert!(found.contains("shop_message_buffer"));
    }
}
