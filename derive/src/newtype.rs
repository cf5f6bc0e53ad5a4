//! Form 3: `#[flat(enum)]` and `#[flat(bits)]` over a `#[repr(transparent)]` integer newtype:
//! `FlatType` only.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::{DeriveInput, Error, FieldsUnnamed, Result};

use crate::attrs::{self, ContainerAttrs, Kind};

/// Underlying types of a `#[flat(enum)]`.
const INTEGERS: [&str; 8] = ["u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64"];
/// Underlying types of a `#[flat(bits)]`.
const UNSIGNED: [&str; 4] = ["u8", "u16", "u32", "u64"];

/// Expands form 3. `kind` is [`Kind::Enum`] or [`Kind::Bits`].
pub(crate) fn expand(
    input: &DeriveInput,
    attrs: &ContainerAttrs,
    kind: Kind,
    fields: &FieldsUnnamed,
) -> Result<TokenStream> {
    let keyword = kind.keyword();
    let example = format!(
        "`#[flat({keyword})] #[repr(transparent)] struct {}(pub u8);`",
        syn::ext::IdentExt::unraw(&input.ident)
    );
    let mut iter = fields.unnamed.iter();
    let (Some(field), None) = (iter.next(), iter.next()) else {
        return Err(Error::new_spanned(
            fields,
            format!(
                "a `#[flat({keyword})]` newtype has exactly one member, the integer: {example}"
            ),
        ));
    };
    let options = attrs::member(&field.attrs)?;
    if options.padding.is_some() {
        return Err(Error::new_spanned(
            field,
            "a newtype has no padding: remove `#[flat(padding)]`",
        ));
    }
    if options.added.is_some() || options.removed.is_some() || options.was.is_some() {
        return Err(Error::new_spanned(
            field,
            "a newtype has no versions (its layout never changes): remove `added`, `removed` \
             and `was`",
        ));
    }
    let ty = &field.ty;
    let allowed: &[&str] = match kind {
        Kind::Bits => &UNSIGNED,
        _ => &INTEGERS,
    };
    let accepted = allowed.iter().any(|prim| crate::types::is_ident_type(ty, prim));
    if !accepted {
        let list = allowed.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ");
        return Err(Error::new_spanned(
            ty,
            format!(
                "the member of a `#[flat({keyword})]` newtype must be one of {list}: {example}"
            ),
        ));
    }

    let krate = &attrs.krate;
    let ident = &input.ident;
    let strict = attrs.strict.is_some();
    let constructor = match kind {
        Kind::Bits => quote! { bits },
        _ => quote! { enumeration },
    };
    let ty_fingerprint = crate::structs::flat_item(krate, ty, "FINGERPRINT");
    let validate = attrs.strict.map(|strict_span| validate(krate, kind, strict_span));

    // SAFETY (of the generated impl), one point per obligation of `FlatType`:
    // - `lib.rs` only calls this for a `#[repr(transparent)]` struct, and its one member is a
    //   primitive integer (checked above), so it has the integer's size and alignment, no
    //   padding, no interior mutability and every bit pattern is a valid value (the supertraits
    //   are still checked by the compiler);
    // - that is the layout of a schema enum / bits over that integer;
    // - `FINGERPRINT` is `Fingerprinter::enumeration` / `bits` of the integer's fingerprint and
    //   `strict`, as `docs/IR.md` says.
    Ok(quote! {
        #[automatically_derived]
        unsafe impl #krate::FlatType for #ident {
            const FINGERPRINT: ::core::primitive::u64 =
                #krate::fingerprint::Fingerprinter::#constructor(
                    #ty_fingerprint,
                    #strict,
                );
            const NEEDS_VALIDATION: ::core::primitive::bool = #strict;
            #validate
        }
    })
}

/// `validate` for a strict newtype: the user's (or flatipc-gen's) `const fn is_known(self) ->
/// bool` decides. The call is spanned on `strict`, so a missing `is_known` is reported there.
fn validate(krate: &syn::Path, kind: Kind, strict_span: Span) -> TokenStream {
    let problem = match kind {
        Kind::Bits => quote! { UnknownBits },
        _ => quote! { UnknownEnumValue },
    };
    let is_known = quote_spanned! {strict_span=> Self::is_known(*self) };
    quote! {
        fn validate(&self) -> ::core::result::Result<(), #krate::ValidationError> {
            if #is_known {
                ::core::result::Result::Ok(())
            } else {
                ::core::result::Result::Err(#krate::ValidationError::new(
                    #krate::Problem::#problem { raw: self.0 as ::core::primitive::u64 },
                ))
            }
        }
    }
}
