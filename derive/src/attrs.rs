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
    /// `version = N` (1 to 255), with the span of the literal.
    pub(crate) version: Option<(u16, Span)>,
}

/// Largest schema version (`#[flat(version = N)]`, `added`, `removed`).
pub(crate) const MAX_VERSION: u16 = 255;

/// Parses a version literal (`1..=255`) of option `what`.
fn version_literal(meta: &syn::meta::ParseNestedMeta<'_>, what: &str) -> Result<(u16, Span)> {
    let lit: LitInt = meta.value()?.parse()?;
    match lit.base10_parse::<u16>() {
        Ok(v) if (1..=MAX_VERSION).contains(&v) => Ok((v, lit.span())),
        _ => Err(Error::new(
            lit.span(),
            format!("`{what}` must be a version, an integer literal from 1 to {MAX_VERSION}"),
        )),
    }
}

impl ContainerAttrs {
    /// Parses every `#[flat(...)]` attribute of the container.
    pub(crate) fn parse(attrs: &[Attribute]) -> Result<Self> {
        let mut krate: Option<Path> = None;
        let mut id = None;
        let mut kind: Option<(Kind, Span)> = None;
        let mut strict = None;
        let mut version = None;

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
                } else if meta.path.is_ident("version") {
                    if version.is_some() {
                        return Err(meta.error("`version` is given twice: keep one"));
                    }
                    version = Some(version_literal(&meta, "version")?);
                } else if meta.path.is_ident("padding") {
                    return Err(meta.error(
                        "`#[flat(padding)]` goes on a member (`#[flat(padding)] _pad0: [u8; N]`), \
                         not on the struct",
                    ));
                } else if ["added", "removed", "was"].iter().any(|o| meta.path.is_ident(o)) {
                    return Err(meta.error(
                        "`added`, `removed` and `was` go on a member (`#[flat(added = 2)] x: u32`); \
                         the struct takes `version = N`",
                    ));
                } else {
                    return Err(meta.error(
                        "unknown `#[flat]` option: expected `crate = \"path\"`, `id = N`, \
                         `version = N`, `string`, `vector`, `enum`, `bits` or `strict`",
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

        if let (Some((_, version_span)), Some((kind, _))) = (version, kind) {
            return Err(Error::new(
                version_span,
                format!(
                    "a `#[flat({})]` type has no version (its layout never changes): remove \
                     `version`",
                    kind.keyword()
                ),
            ));
        }

        let krate = krate.unwrap_or_else(|| syn::parse_quote!(::flatipc));
        Ok(Self { krate, id, kind, strict, version })
    }
}

/// What a member's `#[flat(...)]` attributes said.
#[derive(Default)]
pub(crate) struct MemberAttrs {
    /// `padding`: explicit padding, `[u8; N]`.
    pub(crate) padding: Option<Span>,
    /// `added = N`: the version at which the member joined the layout.
    pub(crate) added: Option<(u16, Span)>,
    /// `removed = N`: from this version on, the member is reserved bytes.
    pub(crate) removed: Option<(u16, Span)>,
    /// `was = T`: the type a removed member had.
    pub(crate) was: Option<syn::Type>,
}

/// Reads a member's `#[flat(...)]` options: `padding`, `added = N`, `removed = N`, `was = T`.
pub(crate) fn member(attrs: &[Attribute]) -> Result<MemberAttrs> {
    let mut out = MemberAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("flat")) {
        attr.parse_nested_meta(|meta| {
            let twice = |name: &str| meta.error(format!("`{name}` is given twice: keep one"));
            if meta.path.is_ident("padding") {
                if out.padding.is_some() {
                    return Err(twice("padding"));
                }
                out.padding = Some(meta.path.span());
            } else if meta.path.is_ident("added") {
                if out.added.is_some() {
                    return Err(twice("added"));
                }
                out.added = Some(version_literal(&meta, "added")?);
            } else if meta.path.is_ident("removed") {
                if out.removed.is_some() {
                    return Err(twice("removed"));
                }
                out.removed = Some(version_literal(&meta, "removed")?);
            } else if meta.path.is_ident("was") {
                if out.was.is_some() {
                    return Err(twice("was"));
                }
                out.was = Some(meta.value()?.parse()?);
            } else {
                return Err(meta.error(
                    "unknown `#[flat]` member option: expected `padding`, `added = N`, \
                     `removed = N` or `was = T` (struct options such as `id` go on the struct)",
                ));
            }
            Ok(())
        })?;
    }
    Ok(out)
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
