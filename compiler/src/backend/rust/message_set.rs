//! The message set of a library with messages: `enum AnyMessage<'a>` (a frame viewed as one of
//! the library's messages) and `struct Library`, which implements `flatipc::stream::MessageSet`
//! (plus `InSet<Library>` for every message), so that a framed stream can carry the library.
//!
//! Written after the types, messages in the IR's declaration order. The checker rejects
//! declarations named `AnyMessage` or `Library` in libraries with messages (FI0211,
//! `check::names::MESSAGE_SET_NAMES`). Lines that hold message names can outgrow rustfmt's 100
//! columns; they are then laid out the way rustfmt lays them out.

use super::{ident, is_camel, str_lit};
use crate::backend::writer::{CodeWriter, MAX_WIDTH};
use crate::ir::{DeclKind, LibraryId, Schema};

/// What `AnyMessage` derives (on one line: it fits). Every message type derives `Clone`, `Copy`
/// and `PartialEq` and implements `Debug`; none derives `Eq` or `Hash` (members may be floats).
const ANY_MESSAGE_DERIVES: [&str; 4] = [
    "::core::fmt::Debug",
    "::core::clone::Clone",
    "::core::marker::Copy",
    "::core::cmp::PartialEq",
];

/// What `Library` derives (one per line: they do not fit on one).
const LIBRARY_DERIVES: [&str; 7] = [
    "::core::fmt::Debug",
    "::core::clone::Clone",
    "::core::marker::Copy",
    "::core::cmp::PartialEq",
    "::core::cmp::Eq",
    "::core::hash::Hash",
    "::core::default::Default",
];

/// One message of the library, as the message set names it.
struct Message {
    /// The schema name (`Trade`).
    name: String,
    /// The Rust identifier of the type and of its `AnyMessage` variant (`Trade`, `r#type`).
    ident: String,
    /// The message id, as a literal (`0x00000101`).
    id: String,
}

/// Writes the message set of library `lib`, after a blank line; nothing if it has no messages.
pub(super) fn generate(w: &mut CodeWriter, schema: &Schema, lib: LibraryId) {
    let library = schema.library(lib);
    let messages: Vec<Message> = library
        .decls
        .iter()
        .map(|id| schema.decl(*id))
        .filter_map(|decl| match &decl.kind {
            DeclKind::Struct(s) => s.message.map(|m| Message {
                name: decl.name.clone(),
                ident: ident(&decl.name),
                id: format!("0x{:08x}", m.id),
            }),
            _ => None,
        })
        .collect();
    if messages.is_empty() {
        return;
    }
    let lib_name = &library.name;
    w.line("");
    any_message(w, lib_name, &messages);
    w.line("");
    library_impl(w, lib_name, &messages);
}

/// `enum AnyMessage<'a>` and its `id()` and `name()`.
fn any_message(w: &mut CodeWriter, lib_name: &str, messages: &[Message]) {
    w.linef(format_args!(
        "/// Every message of library `{lib_name}`, viewed in place in a framed stream's frame."
    ));
    w.group("#[derive(", ")]", |w| {
        w.line(ANY_MESSAGE_DERIVES.join(", ") + ",");
    });
    // The variants are named after the messages, which may share a prefix or suffix (`...Event`);
    // clippy says so when the enum is not exported (a module included into a private `mod`).
    w.line("#[allow(clippy::enum_variant_names)]");
    if !messages.iter().all(|m| is_camel(&m.name)) {
        w.line("#[allow(non_camel_case_types)]");
    }
    w.block("pub enum AnyMessage<'a>", "", |w| {
        for m in messages {
            w.linef(format_args!("/// Message `{}` (id {}).", m.name, m.id));
            let variant = format!("{}(&'a {}),", m.ident, m.ident);
            if fits(w, &variant) {
                w.line(variant);
            } else {
                w.group(&format!("{}(", m.ident), "),", |w| {
                    w.linef(format_args!("&'a {},", m.ident));
                });
            }
        }
    });
    w.block("impl AnyMessage<'_>", "", |w| {
        w.line("/// The message id of the variant (`FlatMessage::MESSAGE_ID` of its type).");
        w.block("pub const fn id(&self) -> u32", "", |w| {
            w.block("match self", "", |w| {
                for m in messages {
                    variant_arm(w, &m.ident, &m.id);
                }
            });
        });
        w.line("/// The name of the variant's message type, as written in the schema.");
        w.block("pub const fn name(&self) -> &'static str", "", |w| {
            w.block("match self", "", |w| {
                for m in messages {
                    variant_arm(w, &m.ident, &str_lit(&m.name));
                }
            });
        });
    });
}

/// `struct Library`, its `MessageSet` implementation and `InSet<Library>` for every message.
fn library_impl(w: &mut CodeWriter, lib_name: &str, messages: &[Message]) {
    w.linef(format_args!(
        "/// The messages of library `{lib_name}`, for `flatipc::stream`: a framed stream of"
    ));
    w.line("/// `Library` carries any of them.");
    w.group("#[derive(", ")]", |w| {
        for d in LIBRARY_DERIVES {
            w.linef(format_args!("{d},"));
        }
    });
    w.line("pub struct Library;");
    w.block("impl ::flatipc::stream::MessageSet for Library", "", |w| {
        w.line("type View<'a> = AnyMessage<'a>;");
        let library = format!("const LIBRARY: &'static str = {};", str_lit(lib_name));
        if fits(w, &library) {
            w.line(library);
        } else {
            w.group("const LIBRARY: &'static str =", "", |w| {
                w.linef(format_args!("{};", str_lit(lib_name)));
            });
        }
        w.group("const MESSAGES: &'static [::flatipc::stream::MessageInfo] = &[", "];", |w| {
            // The comment also keeps rustfmt from reflowing a one-message list.
            w.linef(format_args!("// Every message of `{lib_name}`."));
            for m in messages {
                let entry = format!("::flatipc::stream::MessageInfo::of::<{}>(),", m.ident);
                let call = format!("::flatipc::stream::MessageInfo::of::<{}>(", m.ident);
                if fits(w, &entry) {
                    w.line(entry);
                } else if w.column() + call.len() <= MAX_WIDTH + 2 {
                    // rustfmt 1.9 lets this line overflow by two columns rather than break the
                    // turbofish.
                    w.line(call);
                    w.line("),");
                } else {
                    w.group("::flatipc::stream::MessageInfo::of::<", ">(),", |w| {
                        w.linef(format_args!("{},", m.ident));
                    });
                }
            }
        });
        // The signature as rustfmt lays it out: the return type alone is 93 columns.
        let returns = "::core::option::Option<::core::result::Result<AnyMessage<'_>, \
                       ::flatipc::stream::ViewError>>";
        w.group("fn view(", &format!(") -> {returns}"), |w| {
            w.line("id: u32,");
            w.line("bytes: &[u8],");
        });
        w.block("", "", |w| {
            w.block("let message = match id", ";", |w| {
                for m in messages {
                    view_arm(w, &m.id, &m.ident);
                }
                w.line("_ => return ::core::option::Option::None,");
            });
            w.line("::core::option::Option::Some(message)");
        });
    });
    for m in messages {
        let header = format!("impl ::flatipc::stream::InSet<Library> for {}", m.ident);
        let target = format!("    for {}", m.ident);
        // rustfmt keeps `{}` on the line when `header {` fits (the final `}` may overflow).
        if fits(w, &format!("{header} {{")) || !fits(w, &target) {
            w.linef(format_args!("{header} {{}}"));
        } else {
            w.line("impl ::flatipc::stream::InSet<Library>");
            w.line(target);
            w.line("{");
            w.line("}");
        }
    }
}

/// Whether `text` fits on one line at the writer's indentation (plus `extra` levels).
fn fits_at(w: &CodeWriter, extra: usize, text: &str) -> bool {
    w.fits_at(extra, text)
}

/// Whether `text` fits on one line at the writer's indentation.
fn fits(w: &CodeWriter, text: &str) -> bool {
    w.fits(text)
}

/// `Self::Variant(_) => value,` as rustfmt lays it out: on one line; else the value in a block;
/// else, when even `Self::Variant(_) => {` is too long, with the pattern's `_` on its own line.
fn variant_arm(w: &mut CodeWriter, variant: &str, value: &str) {
    let pattern = format!("Self::{variant}(_)");
    let arm = format!("{pattern} => {value},");
    let block = format!("{pattern} => {{");
    if fits(w, &arm) {
        w.line(arm);
    } else if fits(w, &block) && fits_at(w, 1, value) {
        w.block(format!("{pattern} =>"), "", |w| w.line(value));
    } else {
        w.group(&format!("Self::{variant}("), &format!(") => {value},"), |w| w.line("_,"));
    }
}

/// `id => ::flatipc::stream::view(bytes).map(AnyMessage::Variant),` as rustfmt lays it out: on
/// one line; else in a block; else with `.map(...)` on the next line; else with the argument of
/// `map` on its own line.
fn view_arm(w: &mut CodeWriter, id: &str, variant: &str) {
    let view = "::flatipc::stream::view(bytes)";
    let map = format!(".map(AnyMessage::{variant})");
    let arm = format!("{id} => {view}{map},");
    if fits(w, &arm) {
        w.line(arm);
    } else if fits_at(w, 1, &format!("{view}{map}")) {
        w.block(format!("{id} =>"), "", |w| w.line(format!("{view}{map}")));
    } else if fits_at(w, 1, &format!("{map},")) {
        w.linef(format_args!("{id} => {view}"));
        w.indented(|w| w.linef(format_args!("{map},")));
    } else {
        w.group(&format!("{id} => {view}.map("), "),", |w| {
            w.linef(format_args!("AnyMessage::{variant},"));
        });
    }
}
