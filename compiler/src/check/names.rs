//! Name rules: reserved words of the target languages, and names generated code claims.

/// Words flatipc rejects as schema names because C or C++ has no way to escape them (keywords,
/// and macros from headers the generated code includes). Rust keywords are escaped instead
/// (`r#type`), except the four that Rust cannot escape, listed in [`RUST_UNESCAPABLE`].
// C11/C23 and C++17 keywords; macros and types from <stdint.h>, <stddef.h>, <stdbool.h>,
// <assert.h> and <errno.h> (a member named like a type the struct uses changes that name's
// meaning inside the struct, which C++ rejects).
#[rustfmt::skip]
pub const C_RESERVED: &[&str] = &[
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
    "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register",
    "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch", "typedef",
    "union", "unsigned", "void", "volatile", "while", "_Alignas", "_Alignof", "_Atomic", "_Bool",
    "_Complex", "_Generic", "_Imaginary", "_Noreturn", "_Static_assert", "_Thread_local",
    "alignas", "alignof", "bool", "constexpr", "false", "nullptr", "static_assert", "thread_local",
    "true", "typeof", "typeof_unqual", "and", "and_eq", "asm", "bitand", "bitor", "catch",
    "char16_t", "char32_t", "char8_t", "class", "compl", "concept", "consteval", "constinit",
    "const_cast", "co_await", "co_return", "co_yield", "decltype", "delete", "dynamic_cast",
    "explicit", "export", "friend", "mutable", "namespace", "new", "noexcept", "not", "not_eq",
    "operator", "or", "or_eq", "private", "protected", "public", "reinterpret_cast", "requires",
    "static_cast", "template", "this", "throw", "try", "typeid", "typename", "using", "virtual",
    "wchar_t", "xor", "xor_eq", "NULL", "offsetof", "assert", "errno", "noreturn", "int8_t",
    "int16_t", "int32_t", "int64_t", "uint8_t", "uint16_t", "uint32_t", "uint64_t", "size_t",
    "ptrdiff_t", "intptr_t", "uintptr_t", "intmax_t", "uintmax_t", "max_align_t",
];

/// Declaration names that generated Rust relies on meaning the primitive or `core` type.
pub const RUST_TYPE_RESERVED: &[&str] = &[
    "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize", "f32",
    "f64", "char", "str", "Option", "Result", "Vec", "String", "Box",
];

/// Rust keywords that cannot be written as raw identifiers.
pub const RUST_UNESCAPABLE: &[&str] = &["self", "Self", "super", "crate"];

/// Names of items that generated code adds to enum and bits types.
pub const ENUM_MEMBER_RESERVED: &[&str] = &[
    "FINGERPRINT",
    "MASK",
    "MEMBERS",
    "MESSAGE_ID",
    "is_known",
    "name",
    "raw",
    "empty",
    "is_empty",
    "contains",
    "intersection",
    "difference",
];

/// The items generated Rust adds to the module of a library with at least one message (its
/// message set, for framed streams: `enum AnyMessage` and `struct Library`). Such a library may
/// not declare these names (FI0211); a library without messages may.
pub const MESSAGE_SET_NAMES: &[&str] = &["AnyMessage", "Library"];

/// Why a name may not be used, if it may not.
pub fn reserved_reason(name: &str) -> Option<&'static str> {
    if C_RESERVED.contains(&name) {
        Some("is a keyword or standard macro in C or C++, where it cannot be escaped")
    } else if RUST_UNESCAPABLE.contains(&name) {
        Some("is a Rust keyword that cannot be escaped as a raw identifier")
    } else {
        None
    }
}

/// FNV-1a 32-bit, used to derive message ids from fully qualified names.
pub fn fnv1a32(text: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in text.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// First message id reserved for the protocol (ids `0` and `FIRST_RESERVED_ID..` are reserved).
pub const FIRST_RESERVED_ID: u32 = 0xFFFF_0000;

/// The message id derived from a fully qualified name (`market.data/Quote`): FNV-1a 32 of the
/// name, mapped into `1..FIRST_RESERVED_ID`.
pub fn derived_message_id(fully_qualified: &str) -> u32 {
    1 + fnv1a32(fully_qualified) % (FIRST_RESERVED_ID - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a32_reference_vectors() {
        assert_eq!(fnv1a32(""), 0x811c_9dc5);
        assert_eq!(fnv1a32("a"), 0xe40c_292c);
        assert_eq!(fnv1a32("foobar"), 0xbf9c_f968);
    }

    #[test]
    fn derived_ids_avoid_reserved_range() {
        for name in ["a/B", "market.data/Quote", "x/Y"] {
            let id = derived_message_id(name);
            assert!(id != 0 && id < FIRST_RESERVED_ID);
        }
    }
}
