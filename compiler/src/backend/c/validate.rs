//! `lib_Type_validate`: the data rules of a value read from shared memory, in C, exactly as the
//! Rust side's `FlatType::validate` checks them (`runtime/src/flat.rs` and the code
//! `#[derive(FlatMessage)]` generates in `derive/src/{structs,bounded,newtype}.rs`).
//!
//! Rules, per type:
//! - `bool`: the byte is 0 or 1 ([`INVALID_BOOL`]).
//! - strict enum / strict bits: a known member / only member bits ([`INVALID_ENUM`] /
//!   [`INVALID_BITS`], through the header's `lib_E_is_known`); flexible ones accept any value.
//! - `string<N>`: `len <= N` ([`INVALID_LENGTH`]), then the first `len` bytes are UTF-8 by the
//!   rules of Rust's `str::from_utf8` ([`INVALID_UTF8`]), then its padding is zero. The bytes
//!   after `len` are not checked (Rust does not check them either).
//! - `vector<T, N>`: `len <= N`, then each of the first `len` items, then its padding (the
//!   padding before the items, then the padding after them, as the derive orders them).
//! - `array<T, N>`: every element.
//! - struct: each member in declaration order, each followed by its explicit padding `_padN`,
//!   which must be zero ([`INVALID_PADDING`]); members removed by schema evolution
//!   (`_removed_<name>`) are reserved bytes that older writers still fill, and are not checked.
//! - integers and floats: anything.
//!
//! Violations are found in the same order as in Rust, so both sides report the same problem
//! for the same bytes (the C code names the kind of problem, not the member). A type whose
//! every bit pattern is valid data (Rust's `NEEDS_VALIDATION == false`) still gets a
//! `lib_T_validate`, which returns 0.

use super::{c_name, Padding, Writer};
use crate::ir::{Bounded, DeclId, DeclKind, Prim, Schema, Struct, Type, TypeKind};

/// The C macro of a `bool` byte other than 0 or 1.
pub const INVALID_BOOL: &str = "FLATIPC_GEN_INVALID_BOOL";
/// The C macro of a strict enum holding an unknown value.
pub const INVALID_ENUM: &str = "FLATIPC_GEN_INVALID_ENUM";
/// The C macro of strict bits with an unknown bit set.
pub const INVALID_BITS: &str = "FLATIPC_GEN_INVALID_BITS";
/// The C macro of a bounded length above its bound.
pub const INVALID_LENGTH: &str = "FLATIPC_GEN_INVALID_LENGTH";
/// The C macro of a bounded string that is not UTF-8.
pub const INVALID_UTF8: &str = "FLATIPC_GEN_INVALID_UTF8";
/// The C macro of a non-zero explicit padding byte.
pub const INVALID_PADDING: &str = "FLATIPC_GEN_INVALID_PADDING";

/// The codes and helpers every `lib_Type_validate` uses (defined once per translation unit).
pub(super) const VALIDATE_BLOCK: &str = "\
#ifndef FLATIPC_GEN_VALIDATE_H
#define FLATIPC_GEN_VALIDATE_H
/* lib_Type_validate(const lib_Type *v) checks the data rules that bytes read from shared memory
 * may break, as the Rust side's FlatType::validate does and in the same order (members in
 * declaration order, each followed by its padding). It returns 0 when *v is valid, else the
 * code of the first violation found (all codes are <= -100, apart from flatipc.h's codes): */
/** A bool byte other than 0 or 1. */
#define FLATIPC_GEN_INVALID_BOOL (-101)
/** A strict enum holding a value that is not one of its members. */
#define FLATIPC_GEN_INVALID_ENUM (-102)
/** Strict bits with a bit set that is not one of its members. */
#define FLATIPC_GEN_INVALID_BITS (-103)
/** A bounded string or vector whose `len` exceeds its bound. */
#define FLATIPC_GEN_INVALID_LENGTH (-104)
/** A bounded string whose first `len` bytes are not UTF-8. */
#define FLATIPC_GEN_INVALID_UTF8 (-105)
/** An explicit padding byte (a `_padN` member) that is not zero. */
#define FLATIPC_GEN_INVALID_PADDING (-106)
/** Whether `code` is one of the FLATIPC_GEN_INVALID_* codes. */
static inline int flatipc_gen_is_invalid(int code) {
    return code <= FLATIPC_GEN_INVALID_BOOL && code >= FLATIPC_GEN_INVALID_PADDING;
}
/** Whether the `n` bytes at `p` are all zero. */
static inline int flatipc_gen_all_zero(const uint8_t *p, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        if (p[i] != 0) {
            return 0;
        }
    }
    return 1;
}
/** Whether the `len` bytes at `text` are UTF-8 by the rules of Rust's str::from_utf8: shortest
 *  forms only, no surrogates, nothing above U+10FFFF (NUL bytes are valid). */
static inline int flatipc_gen_utf8_valid(const char *text, uint32_t len) {
    const unsigned char *s = (const unsigned char *)text;
    uint32_t i = 0;
    while (i < len) {
        unsigned int c = s[i];
        unsigned int lo = 0x80u;
        unsigned int hi = 0xBFu;
        uint32_t more;
        uint32_t k;
        if (c < 0x80u) {
            i++;
            continue;
        }
        if (c >= 0xC2u && c <= 0xDFu) {
            more = 1;
        } else if (c >= 0xE0u && c <= 0xEFu) {
            more = 2;
            lo = c == 0xE0u ? 0xA0u : 0x80u;
            hi = c == 0xEDu ? 0x9Fu : 0xBFu;
        } else if (c >= 0xF0u && c <= 0xF4u) {
            more = 3;
            lo = c == 0xF0u ? 0x90u : 0x80u;
            hi = c == 0xF4u ? 0x8Fu : 0xBFu;
        } else {
            return 0;
        }
        if (len - i <= more || s[i + 1] < lo || s[i + 1] > hi) {
            return 0;
        }
        for (k = 2; k <= more; k++) {
            if (s[i + k] < 0x80u || s[i + k] > 0xBFu) {
                return 0;
            }
        }
        i += more + 1;
    }
    return 1;
}
#endif /* FLATIPC_GEN_VALIDATE_H */
";

/// Whether values of `ty` can hold invalid data (Rust's `FlatType::NEEDS_VALIDATION`).
pub(super) fn needs_validation(schema: &Schema, ty: &Type) -> bool {
    match &ty.kind {
        TypeKind::Prim(p) => *p == Prim::Bool,
        TypeKind::Array { elem, .. } => needs_validation(schema, elem),
        TypeKind::Named(id) => decl_needs_validation(schema, *id),
    }
}

fn decl_needs_validation(schema: &Schema, id: DeclId) -> bool {
    match &schema.decl(id).kind {
        // Members removed by schema evolution are reserved bytes, never validated.
        DeclKind::Struct(s) => s.members.iter().any(|m| {
            m.padding_after > 0 || (m.removed().is_none() && needs_validation(schema, &m.ty))
        }),
        DeclKind::String(_) | DeclKind::Vector(_) => true,
        DeclKind::Enum(e) | DeclKind::Bits(e) => e.strict,
        DeclKind::Alias(ty) => needs_validation(schema, ty),
        DeclKind::Const(_) => false,
    }
}

/// The struct, string or vector declaration that an alias of `ty` stands for, if any: such an
/// alias gets its own `lib_Alias_validate`.
pub(super) fn alias_target(schema: &Schema, ty: &Type) -> Option<DeclId> {
    let TypeKind::Named(id) = ty.kind else { return None };
    let target = schema.resolve_alias(id);
    matches!(
        schema.decl(target).kind,
        DeclKind::Struct(_) | DeclKind::String(_) | DeclKind::Vector(_)
    )
    .then_some(target)
}

/// The statements of one function body, and whether they use the `rc` variable.
struct Body {
    w: Writer,
    uses_rc: bool,
}

impl Body {
    fn new() -> Self {
        Body { w: Writer { text: String::new(), indent: 1 }, uses_rc: false }
    }

    fn fail_if(&mut self, cond: &str, code: &str) {
        self.w.line(format!("if ({cond}) return {code};"));
    }

    fn padding(&mut self, name: &str) {
        self.fail_if(
            &format!("!flatipc_gen_all_zero(v->{name}, sizeof v->{name})"),
            INVALID_PADDING,
        );
    }

    /// Checks the value `expr` of type `ty`; `depth` numbers the loop variables (`i0`, ...).
    fn value(&mut self, schema: &Schema, ty: &Type, expr: &str, depth: usize) {
        if !needs_validation(schema, ty) {
            return;
        }
        match &ty.kind {
            TypeKind::Prim(_) => self.fail_if(&format!("{expr} > 1"), INVALID_BOOL),
            TypeKind::Array { elem, len } => {
                let i = format!("i{depth}");
                self.w.line(format!("for (size_t {i} = 0; {i} < {len}u; {i}++) {{"));
                self.w.indent += 1;
                self.value(schema, elem, &format!("{expr}[{i}]"), depth + 1);
                self.w.indent -= 1;
                self.w.line("}");
            }
            TypeKind::Named(id) => {
                let target = schema.resolve_alias(*id);
                let c = c_name(schema, target);
                match &schema.decl(target).kind {
                    DeclKind::Struct(_) | DeclKind::String(_) | DeclKind::Vector(_) => {
                        self.uses_rc = true;
                        self.fail_if(&format!("(rc = {c}_validate(&{expr})) != 0"), "rc");
                    }
                    DeclKind::Enum(_) => {
                        self.fail_if(&format!("!{c}_is_known({expr})"), INVALID_ENUM)
                    }
                    DeclKind::Bits(_) => {
                        self.fail_if(&format!("!{c}_is_known({expr})"), INVALID_BITS)
                    }
                    // An alias of an array or a primitive (aliases of named types were resolved).
                    DeclKind::Alias(inner) => self.value(schema, inner, expr, depth),
                    DeclKind::Const(_) => {}
                }
            }
        }
    }

    /// The function `c_validate` around these statements.
    fn finish(self, w: &mut Writer, c: &str, doc: &str) {
        w.doc(&[doc.to_owned()]);
        w.line(format!("static inline int {c}_validate(const {c} *v) {{"));
        w.indent += 1;
        if self.w.text.is_empty() {
            w.line("(void)v;");
        } else if self.uses_rc {
            w.line("int rc;");
        }
        w.indent -= 1;
        w.text.push_str(&self.w.text);
        w.indent += 1;
        w.line("return 0;");
        w.indent -= 1;
        w.line("}");
    }
}

const DOC: &str = "0 if `*v` keeps the schema's data rules, else the first FLATIPC_GEN_INVALID_* \
                   code (as Rust's `validate`).";

/// `c_validate` for a struct.
pub(super) fn emit_struct(w: &mut Writer, schema: &Schema, c: &str, s: &Struct) {
    let mut body = Body::new();
    let mut pads = Padding::default();
    for m in &s.members {
        if m.removed().is_none() {
            body.value(schema, &m.ty, &format!("v->{}", m.name), 0);
        }
        if let Some(pad) = pads.next_name(m.padding_after) {
            body.padding(&pad);
        }
    }
    body.finish(w, c, DOC);
}

/// `c_validate` for a bounded string or vector.
pub(super) fn emit_bounded(w: &mut Writer, schema: &Schema, c: &str, b: &Bounded, string: bool) {
    let mut body = Body::new();
    body.fail_if(&format!("v->len > {}u", b.capacity), INVALID_LENGTH);
    let mut pads = Padding::default();
    let before = pads.next_name(b.padding_before_items());
    let after = pads.next_name(b.padding_after);
    if string {
        // A `string<0>` has no `data` (the checker rejects zero bounds; the layout allows it).
        if b.capacity > 0 {
            body.fail_if("!flatipc_gen_utf8_valid(v->data, v->len)", INVALID_UTF8);
        }
    } else if needs_validation(schema, &b.elem) {
        body.w.line("for (uint32_t i0 = 0; i0 < v->len; i0++) {");
        body.w.indent += 1;
        body.value(schema, &b.elem, "v->items[i0]", 1);
        body.w.indent -= 1;
        body.w.line("}");
    }
    for pad in before.iter().chain(&after) {
        body.padding(pad);
    }
    body.finish(w, c, DOC);
}

/// `c_validate` for an alias of a struct, string or vector `target`: the target's rules.
pub(super) fn emit_alias(w: &mut Writer, schema: &Schema, c: &str, target: DeclId) {
    w.doc(&[format!("{}_validate, for the alias `{c}`.", c_name(schema, target))]);
    w.line(format!("static inline int {c}_validate(const {c} *v) {{"));
    w.indent += 1;
    w.line(format!("return {}_validate(v);", c_name(schema, target)));
    w.indent -= 1;
    w.line("}");
}
