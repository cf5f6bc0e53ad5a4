//! Lexical helpers: identifier checks, integer literals and string escapes.

pub(super) fn has_bad_underscores(name: &str) -> bool {
    name.starts_with('_') || name.ends_with('_') || name.contains("__")
}

/// `_a__b_` → `a_b`.
pub(super) fn underscore_fix(name: &str) -> String {
    name.split('_').filter(|s| !s.is_empty()).collect::<Vec<_>>().join("_")
}

/// `[a-z][a-z0-9_]*`, without a trailing or doubled `_`.
pub(super) fn is_library_component(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !has_bad_underscores(name)
}

/// An integer literal as matched by `lit_int`; `None` if it does not fit `i128`.
pub(super) fn parse_int(text: &str) -> Option<i128> {
    let (negative, magnitude) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (radix, digits) = if let Some(hex) =
        magnitude.strip_prefix("0x").or_else(|| magnitude.strip_prefix("0X"))
    {
        (16, hex)
    } else if let Some(bin) = magnitude.strip_prefix("0b").or_else(|| magnitude.strip_prefix("0B"))
    {
        (2, bin)
    } else {
        (10, magnitude)
    };
    let value = u128::from_str_radix(digits, radix).ok()?;
    if negative {
        if value == i128::MIN.unsigned_abs() {
            Some(i128::MIN)
        } else {
            i128::try_from(value).ok().map(|v| -v)
        }
    } else {
        i128::try_from(value).ok()
    }
}

/// Decodes the escape at the start of `s` (which starts with `\`): bytes consumed and the
/// character, or what is wrong with it.
pub(super) fn decode_escape(s: &str) -> (usize, Result<char, String>) {
    let mut chars = s.chars().skip(1);
    match chars.next() {
        None => (1, Err("a `\\` ends the string".to_owned())),
        Some('n') => (2, Ok('\n')),
        Some('t') => (2, Ok('\t')),
        Some('r') => (2, Ok('\r')),
        Some('\\') => (2, Ok('\\')),
        Some('"') => (2, Ok('"')),
        Some('u') => {
            let braced = s[2..].strip_prefix('{').and_then(|body| {
                let close = body.find('}').filter(|&c| c <= 8)?;
                Some(&body[..close])
            });
            let Some(hex) = braced else {
                return (
                    2,
                    Err("`\\u` must be followed by `{XXXX}` (1 to 6 hex digits)".to_owned()),
                );
            };
            let len = 2 + 1 + hex.len() + 1;
            let valid_digits =
                (1..=6).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit());
            match u32::from_str_radix(hex, 16)
                .ok()
                .filter(|_| valid_digits)
                .and_then(char::from_u32)
            {
                Some(c) => (len, Ok(c)),
                None if valid_digits => {
                    (len, Err(format!("`\\u{{{hex}}}` is not a Unicode scalar value")))
                }
                None => (len, Err("`\\u{...}` needs 1 to 6 hex digits".to_owned())),
            }
        }
        Some(other) => (1 + other.len_utf8(), Err(format!("unknown escape `\\{other}`"))),
    }
}
