//! Syntactic checks of member types, and the shared reading of named members.
//!
//! The trait bound `T: FlatType` (asserted in the generated code) is what proves a member flat.
//! These checks only catch, before type checking, the common mistakes whose trait error would be
//! unhelpful, and say what to use instead.

use proc_macro2::Span;
use syn::{Error, Expr, Field, FieldsNamed, Ident, Result, Type, TypeArray};

use crate::attrs;

/// One named member of a `#[repr(C)]` struct, as the generators see it.
pub(crate) struct Member<'a> {
    /// The identifier as written (possibly `r#type`).
    pub(crate) ident: &'a Ident,
    /// The name without any `r#` escape: what fingerprints, `MEMBERS` and errors use.
    pub(crate) name: String,
    /// The declared type.
    pub(crate) ty: &'a Type,
    /// `#[flat(padding)]`: explicit padding, `[u8; N]`, zero, not hashed.
    pub(crate) padding: bool,
    /// `#[flat(added = N)]`, with the span of `N`.
    pub(crate) added: Option<(u16, Span)>,
    /// `#[flat(removed = N)]`, with the span of `N`: the member is reserved bytes
    /// (`_removed_<name>: [u8; K]`), not validated, hashed as `was` before version `N`.
    pub(crate) removed: Option<(u16, Span)>,
    /// `#[flat(was = T)]`: the type a removed member had.
    pub(crate) was: Option<Type>,
}

/// The prefix of a removed member's field name; the rest is its name in earlier versions.
pub(crate) const REMOVED_PREFIX: &str = "_removed_";

impl Member<'_> {
    /// The version at which the member joined the layout (1 unless `added` says otherwise).
    pub(crate) fn added_version(&self) -> u16 {
        self.added.map_or(1, |(v, _)| v)
    }

    /// The version from which the member is reserved bytes.
    pub(crate) fn removed_version(&self) -> Option<u16> {
        self.removed.map(|(v, _)| v)
    }

    /// The type the member is laid out and hashed as: `was` for a removed member.
    pub(crate) fn layout_type(&self) -> &Type {
        self.was.as_ref().unwrap_or(self.ty)
    }
}

/// Reads and checks every named member: its `#[flat]` options, its type (syntactically) and, for
/// padding, the `[u8; N]` shape. Reports every bad member at once.
pub(crate) fn members(fields: &FieldsNamed) -> Result<Vec<Member<'_>>> {
    let mut out = Vec::new();
    let mut errors: Option<Error> = None;
    for field in &fields.named {
        match member(field) {
            Ok(m) => out.push(m),
            Err(e) => match &mut errors {
                Some(all) => all.combine(e),
                None => errors = Some(e),
            },
        }
    }
    match errors {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

fn member(field: &Field) -> Result<Member<'_>> {
    let ident = field.ident.as_ref().ok_or_else(|| Error::new_spanned(field, "expected a name"))?;
    let options = attrs::member(&field.attrs)?;
    let mut name = syn::ext::IdentExt::unraw(ident).to_string();
    if let Some(padding) = options.padding {
        if options.added.is_some() || options.removed.is_some() || options.was.is_some() {
            return Err(Error::new(
                padding,
                "padding has no version: remove `added`, `removed` or `was` from a \
                 `#[flat(padding)]` member",
            ));
        }
        if byte_array_len(&field.ty).is_none() {
            return Err(Error::new_spanned(
                &field.ty,
                "a `#[flat(padding)]` member must be a byte array `[u8; N]`",
            ));
        }
    } else if let Some((_, removed)) = options.removed {
        let Some(was) = &options.was else {
            return Err(Error::new(
                removed,
                "a removed member needs `was = T`, the type it had: the layouts of the versions \
                 before its removal are fingerprinted with it",
            ));
        };
        if byte_array_len(&field.ty).is_none() {
            return Err(Error::new_spanned(
                &field.ty,
                "a removed member is reserved bytes: write its type as `[u8; N]`, N being the \
                 size of its old type (given in `was = T`)",
            ));
        }
        match name.strip_prefix(REMOVED_PREFIX) {
            Some(old) if !old.is_empty() => name = old.to_string(),
            _ => {
                return Err(Error::new(
                    ident.span(),
                    format!(
                        "a removed member is named `{REMOVED_PREFIX}<its name>`: rename it \
                         `{REMOVED_PREFIX}{name}`"
                    ),
                ))
            }
        }
        check_type(was)?;
    } else if let Some(was) = &options.was {
        return Err(Error::new_spanned(
            was,
            "`was` gives the old type of a removed member: add `removed = N`, or remove `was`",
        ));
    } else {
        check_type(&field.ty)?;
    }
    Ok(Member {
        ident,
        name,
        ty: &field.ty,
        padding: options.padding.is_some(),
        added: options.added,
        removed: options.removed,
        was: options.was,
    })
}

/// The length expression of a type written `[u8; N]`.
pub(crate) fn byte_array_len(ty: &Type) -> Option<&Expr> {
    let array = as_array(ty)?;
    is_ident_type(&array.elem, "u8").then_some(&array.len)
}

/// The type as an array `[T; N]`, looking through parentheses and invisible groups.
pub(crate) fn as_array(ty: &Type) -> Option<&TypeArray> {
    match ty {
        Type::Array(array) => Some(array),
        Type::Paren(inner) => as_array(&inner.elem),
        Type::Group(inner) => as_array(&inner.elem),
        _ => None,
    }
}

/// Whether the type is written as the primitive `name` (e.g. `u32`), either bare or as
/// `core::primitive::u32` / `std::primitive::u32` (with or without a leading `::`).
pub(crate) fn is_ident_type(ty: &Type, name: &str) -> bool {
    match ty {
        Type::Path(path) if path.qself.is_none() => {
            let segments: Vec<String> = path
                .path
                .segments
                .iter()
                .filter(|s| s.arguments.is_empty())
                .map(|s| s.ident.to_string())
                .collect();
            if segments.len() != path.path.segments.len() {
                return false;
            }
            match segments.as_slice() {
                [ty] => ty == name && path.path.leading_colon.is_none(),
                [krate, module, ty] => {
                    (krate == "core" || krate == "std") && module == "primitive" && ty == name
                }
                _ => false,
            }
        }
        Type::Paren(inner) => is_ident_type(&inner.elem, name),
        Type::Group(inner) => is_ident_type(&inner.elem, name),
        _ => false,
    }
}

/// Rejects member types that can never be flat, with a message that says what to use instead.
pub(crate) fn check_type(ty: &Type) -> Result<()> {
    let reject = |message: &str| Err(Error::new_spanned(ty, message));
    match ty {
        Type::Array(array) => check_type(&array.elem),
        Type::Paren(inner) => check_type(&inner.elem),
        Type::Group(inner) => check_type(&inner.elem),
        Type::Ptr(_) => reject(
            "a raw pointer cannot cross a process boundary (the peer maps memory at other \
             addresses): store an index or an offset, e.g. `u64`, instead",
        ),
        Type::Reference(reference) if is_ident_type(&reference.elem, "str") => reject(
            "`&str` points into this process's memory: use a bounded string (a `#[flat(string)]` \
             struct; `string<N>` in a schema)",
        ),
        Type::Reference(_) => reject(
            "a reference cannot cross a process boundary (it points into this process's memory): \
             store the value itself, which must be a flat type",
        ),
        Type::Slice(_) => reject(
            "a slice has no fixed size: use an array `[T; N]` or a bounded vector (a \
             `#[flat(vector)]` struct; `vector<T, N>` in a schema)",
        ),
        Type::Tuple(tuple) if tuple.elems.is_empty() => {
            reject("`()` carries no data: remove the member")
        }
        Type::Tuple(_) => reject(
            "tuples have no layout that C can share: use a `#[repr(C)]` struct that derives \
             `FlatMessage`",
        ),
        Type::BareFn(_) => reject(
            "a function pointer means nothing in another process: send an id or a \
             `#[flat(enum)]` value that selects the action instead",
        ),
        Type::TraitObject(_) | Type::ImplTrait(_) => reject(
            "a trait object has no fixed layout: use a concrete flat type (a struct that derives \
             `FlatMessage`)",
        ),
        Type::Never(_) => reject("`!` has no values and cannot be a member"),
        Type::Path(path) if path.qself.is_none() => {
            let Some(last) = path.path.segments.last() else {
                return Ok(());
            };
            match last.ident.to_string().as_str() {
                "bool" => reject(
                    "`bool` cannot be read from shared memory (a peer may write a byte other than \
                     0 or 1, which is undefined behaviour for a Rust `bool`): use `flatipc::Bool`",
                ),
                "usize" | "isize" => reject(
                    "`usize` and `isize` change size between 32- and 64-bit peers: use `u64`/`i64` \
                     (or `u32`/`i32`)",
                ),
                "char" => reject(
                    "`char` is not valid for every bit pattern a peer may write: use `u32` for a \
                     code point, or a bounded string",
                ),
                "str" => reject(
                    "`str` has no fixed size: use a bounded string (a `#[flat(string)]` struct; \
                     `string<N>` in a schema)",
                ),
                "String" => reject(
                    "`String` keeps its bytes on this process's heap, which the peer cannot see: \
                     use a bounded string (a `#[flat(string)]` struct; `string<N>` in a schema)",
                ),
                "Vec" => reject(
                    "`Vec` keeps its items on this process's heap, which the peer cannot see: use \
                     a bounded vector (a `#[flat(vector)]` struct; `vector<T, N>` in a schema) or \
                     an array `[T; N]`",
                ),
                "Box" | "Rc" | "Arc" => reject(
                    "a smart pointer points into this process's heap, which the peer cannot see: \
                     store the value itself, inline",
                ),
                "Option" => reject(
                    "`Option` has no layout that C can share, and not every bit pattern is valid: \
                     store a `flatipc::Bool` presence flag next to the value",
                ),
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    }
}
