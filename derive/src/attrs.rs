//! Parsing of `#[flat(...)]` (container and field) and `#[repr(...)]` attributes.
//!
//! Nothing here generates code: every function returns plain data or a `syn::Error` spanned on
//! the token the user has to change.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Attribute, Error, LitInt, LitStr, Path, Result};

/// Which of the derive's forms a container attribute asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `#[flat(string)]`: a bounded string `{ len: u32, data: [u8; N], pad.. }`.
    String,
    /// `#[flat(vector)]`: a bounded vector `{ len: u32, pad.., items: [T; N], pad.. }`.
    Vector,
    /// `#[flat(enum)]`: a `#[repr(transparent)]` integer newtype.
    Enum,
    /// `#[flat(bits)]`: a `#[repr(transparent)]` unsigned integer newtype.
    Bits,
}

impl Kind {
    /// The attribute spelling, for messages.
    pub(crate) fn keyword(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Vector => "vector",
            Kind::Enum => "enum",
            Kind::Bits => "bits",
        }
    }
}

/// Everything the container's `#[flat(...)]` attributes said.
pub(crate) struct ContainerAttrs {
    /// Path of the flatipc crate in generated code (`::flatipc` unless `crate = "..."`).
    pub(crate) krate: Path,
    /// `id = N`, with the span of the literal.
    pub(crate) id: Option<(u32, Span)>,
    /// `string`, `vector`, `enum` or `bits`, with the span of the keyword.
    pub(crate) kind: Option<(Kind, Span)>,
    /// Span of `strict`, if present.
    pub(crate) strict: Option<Span>,
}

impl ContainerAttrs {
    /// Parses every `#[flat(...)]` attribute of the container.
    pub(crate) fn parse(attrs: &[Attribute]) -> Result<Self> {
        let mut krate: Option<Path> = None;
        let mut id = None;
        let mut kind: Option<(Kind, Span)> = None;
        let mut strict = None;

        for attr in attrs.iter().filter(|a| a.path().is_ident("flat")) {
            attr.parse_nested_meta(|meta| {
                let span = meta.path.span();
                let mut set_kind = |new: Kind| -> Result<()> {
                    if let Some((old, _)) = kind {
                        return Err(Error::new(
                            span,
                            format!(
                                "`#[flat({})]` and `#[flat({})]` exclude each other: keep one",
                                old.keyword(),
                                new.keyword()
                            ),
                        ));
                    }
                    kind = Some((new, span));
                    Ok(())
                };
                if meta.path.is_ident("crate") {
                    if krate.is_some() {
                        return Err(meta.error("`crate` is given twice: keep one"));
                    }
                    let lit: LitStr = meta.value()?.parse()?;
                    krate = Some(lit.parse().map_err(|_| {
                        Error::new(
                            lit.span(),
                            "expected the path of the flatipc crate, e.g. `crate = \"::flatipc\"`",
                        )
                    })?);
                } else if meta.path.is_ident("id") {
                    if id.is_some() {
                        return Err(meta.error("`id` is given twice: keep one"));
                    }
                    let lit: LitInt = meta.value()?.parse()?;
                    let value = lit.base10_parse::<u32>().map_err(|_| {
                        Error::new(
                            lit.span(),
                            "a message id must be an integer literal that fits in `u32`",
                        )
                    })?;
                    id = Some((value, lit.span()));
                } else if meta.path.is_ident("string") {
                    set_kind(Kind::String)?;
                } else if meta.path.is_ident("vector") {
                    set_kind(Kind::Vector)?;
                } else if meta.path.is_ident("enum") {
                    set_kind(Kind::Enum)?;
                } else if meta.path.is_ident("bits") {
                    set_kind(Kind::Bits)?;
                } else if meta.path.is_ident("strict") {
                    if strict.is_some() {
                        return Err(meta.error("`strict` is given twice: keep one"));
                    }
                    strict = Some(span);
                } else if meta.path.is_ident("padding") {
                    return Err(meta.error(
                        "`#[flat(padding)]` goes on a member (`#[flat(padding)] _pad0: [u8; N]`), \
                         not on the struct",
                    ));
                } else {
                    return Err(meta.error(
                        "unknown `#[flat]` option: expected `crate = \"path\"`, `id = N`, \
                         `string`, `vector`, `enum`, `bits` or `strict`",
                    ));
                }
                Ok(())
            })?;
        }

        if let Some(strict) = strict {
            if !matches!(kind, Some((Kind::Enum | Kind::Bits, _))) {
                return Err(Error::new(
                    strict,
                    "`strict` applies only to `#[flat(enum)]` and `#[flat(bits)]` newtypes: \
                     remove it",
                ));
            }
        }
        if let (Some((_, id_span)), Some((kind, _))) = (id, kind) {
            return Err(Error::new(
                id_span,
                format!(
                    "a `#[flat({})]` type is not a message and has no id: remove `id`, or give \
                     the id to the struct that contains it",
                    kind.keyword()
                ),
            ));
        }

        let krate = krate.unwrap_or_else(|| syn::parse_quote!(::flatipc));
        Ok(Self { krate, id, kind, strict })
    }
}

/// Whether a member carries `#[flat(padding)]` (the only member option).
pub(crate) fn is_padding(attrs: &[Attribute]) -> Result<bool> {
    let mut padding = false;
    for attr in attrs.iter().filter(|a| a.path().is_ident("flat")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("padding") {
                if padding {
                    return Err(meta.error("`padding` is given twice: keep one"));
                }
                padding = true;
                Ok(())
            } else {
                Err(meta.error(
                    "unknown `#[flat]` member option: the only one is `padding` (struct options \
                     such as `id` go on the struct)",
                ))
            }
        })?;
    }
    Ok(padding)
}

/// The representation a `#[repr(...)]` set asked for, as far as flatipc cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repr {
    /// `#[repr(C)]`.
    C,
    /// `#[repr(transparent)]`.
    Transparent,
}

/// Reads the container's `#[repr(...)]` attributes. Returns the one accepted representation
/// (with its span), `None` when there is no `repr`, or an error on any modifier flatipc rejects.
pub(crate) fn repr(attrs: &[Attribute]) -> Result<Option<(Repr, Span)>> {
    let mut found: Option<(Repr, Span)> = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("repr")) {
        attr.parse_nested_meta(|meta| {
            let span = meta.path.span();
            let this = if meta.path.is_ident("C") {
                Repr::C
            } else if meta.path.is_ident("transparent") {
                Repr::Transparent
            } else if meta.path.is_ident("packed") {
                return Err(Error::new(
                    span,
                    "flatipc types cannot be `repr(packed)`: members must sit at their natural \
                     alignment so that C and Rust agree on the layout and references to members \
                     are sound; remove `packed` (add explicit `#[flat(padding)]` members instead)",
                ));
            } else if meta.path.is_ident("align") {
                return Err(Error::new(
                    span,
                    "flatipc types cannot be `repr(align(N))`: their alignment is the largest \
                     member alignment, as in the schema; remove `align(..)`",
                ));
            } else if meta.path.is_ident("Rust") {
                return Err(Error::new(
                    span,
                    "`repr(Rust)` has no stable layout that C can share: use `#[repr(C)]`",
                ));
            } else if is_integer_repr(&meta.path) {
                return Err(Error::new(
                    span,
                    "integer representations are for Rust enums, which flatipc does not accept: \
                     use `#[repr(C)]` on a struct, or `#[repr(transparent)]` on a newtype with \
                     `#[flat(enum)]`",
                ));
            } else {
                return Err(Error::new(
                    span,
                    "unsupported representation for a flatipc type: use `#[repr(C)]` (or \
                     `#[repr(transparent)]` on a `#[flat(enum)]`/`#[flat(bits)]` newtype)",
                ));
            };
            if let Some((other, _)) = found {
                if other != this {
                    return Err(Error::new(
                        span,
                        "`repr(C)` and `repr(transparent)` exclude each other: keep one",
                    ));
                }
            }
            found = Some((this, span));
            Ok(())
        })?;
    }
    Ok(found)
}

fn is_integer_repr(path: &Path) -> bool {
    const INTS: [&str; 12] =
        ["u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize"];
    INTS.iter().any(|int| path.is_ident(int))
}
