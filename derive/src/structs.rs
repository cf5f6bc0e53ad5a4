//! Form 1: a `#[repr(C)]` struct with named members: `FlatType` + `FlatMessage`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, Ident, LitStr, Path, Type};

use crate::attrs::ContainerAttrs;
use crate::types::Member;
use crate::versions;

/// `<ty as FlatType>::item` (a constant or `validate`), spanned on the member type, so that a
/// type that is not flat is reported on the member, once, rather than once per use.
pub(crate) fn flat_item(krate: &Path, ty: &Type, item: &str) -> TokenStream {
    let item = Ident::new(item, Span::call_site());
    quote_spanned! {ty.span()=> <#ty as #krate::FlatType>::#item }
}

/// The compile-time proofs every `#[repr(C)]` form shares, as a `const _: () = { ... };` item:
/// each non-padding member type implements `FlatType`, and the members' sizes add up to the
/// struct's size (no implicit padding, which would leave uninitialised bytes and let C and Rust
/// disagree). `extra` is appended inside the block.
pub(crate) fn layout_assertions(
    krate: &Path,
    input: &DeriveInput,
    members: &[Member<'_>],
    extra: TokenStream,
) -> TokenStream {
    let ident = &input.ident;
    let flat_checks = members.iter().filter(|m| !m.padding).map(|m| {
        let ty = m.layout_type();
        quote_spanned! {ty.span()=> member_types_must_implement_FlatType::<#ty>(); }
    });
    let sizes = members.iter().map(|m| {
        let ty = m.ty;
        quote! { + ::core::mem::size_of::<#ty>() }
    });
    let padding_message = LitStr::new(
        &format!(
            "flatipc: `{}` has implicit padding between or after its fields; add explicit \
             `#[flat(padding)] _padN: [u8; K]` members (flatipc-gen does this for you)",
            syn::ext::IdentExt::unraw(ident)
        ),
        Span::call_site(),
    );
    quote! {
        const _: () = {
            // Named for the error note it appears in ("required by a bound in ...").
            #[allow(non_snake_case)]
            const fn member_types_must_implement_FlatType<T: #krate::FlatType>() {}
            #(#flat_checks)*
            if ::core::mem::size_of::<#ident>() != 0 #(#sizes)* {
                ::core::panic!(#padding_message);
            }
            #extra
        };
    }
}

/// `validate` statements for the members, in declaration order: each non-padding member whose
/// type needs validation, and each padding member (must be zero). Errors are attributed to
/// `Struct.member` unless an inner struct already claimed them.
pub(crate) fn validate_members(
    krate: &Path,
    struct_name: &str,
    members: &[Member<'_>],
) -> TokenStream {
    // Removed members are reserved bytes that older writers still fill: never validated.
    let checks = members.iter().filter(|m| m.removed.is_none()).map(|m| {
        let ident = m.ident;
        let ty = m.ty;
        let name = &m.name;
        if m.padding {
            quote! {
                #krate::check_padding(&self.#ident)
                    .map_err(|e| e.within(#struct_name, #name))?;
            }
        } else {
            let ty_needs_validation = flat_item(krate, ty, "NEEDS_VALIDATION");
            let ty_validate = flat_item(krate, ty, "validate");
            quote! {
                if #ty_needs_validation {
                    #ty_validate(&self.#ident)
                        .map_err(|e| e.within(#struct_name, #name))?;
                }
            }
        }
    });
    quote! { #(#checks)* }
}

/// Expands form 1.
pub(crate) fn expand(
    input: &DeriveInput,
    attrs: &ContainerAttrs,
    members: &[Member<'_>],
) -> TokenStream {
    let krate = &attrs.krate;
    let ident = &input.ident;
    let struct_name = syn::ext::IdentExt::unraw(ident).to_string();
    // The members of the current version: removed ones are reserved bytes, hashed only in the
    // steps of the versions before their removal.
    let flat: Vec<&Member<'_>> =
        members.iter().filter(|m| !m.padding && m.removed.is_none()).collect();
    let member_count = flat.len() as u64;
    let has_padding = members.iter().any(|m| m.padding);

    let fingerprint_members = flat.iter().map(|m| {
        let (field, name) = (m.ident, &m.name);
        let ty_fingerprint = flat_item(krate, m.ty, "FINGERPRINT");
        quote! {
            .member(
                #name,
                ::core::mem::offset_of!(Self, #field) as ::core::primitive::u64,
                #ty_fingerprint,
            )
        }
    });
    let needs_validation = flat.iter().map(|m| {
        let ty_needs_validation = flat_item(krate, m.ty, "NEEDS_VALIDATION");
        quote! { || #ty_needs_validation }
    });
    let validate = validate_members(krate, &struct_name, members);
    let member_table = flat.iter().map(|m| {
        let (field, ty, name) = (m.ident, m.ty, &m.name);
        let ty_fingerprint = flat_item(krate, ty, "FINGERPRINT");
        quote! {
            #krate::Member {
                name: #name,
                offset: ::core::mem::offset_of!(Self, #field),
                size: ::core::mem::size_of::<#ty>(),
                fingerprint: #ty_fingerprint,
            }
        }
    });
    let message_id = match attrs.id {
        Some((id, _)) => quote! { ::core::option::Option::Some(#id) },
        None => quote! { ::core::option::Option::None },
    };
    let assertions =
        layout_assertions(krate, input, members, versions::assertions(krate, input, members));
    let version_items = versions::message_items(krate, attrs, members);
    let has_functions = versions::has_functions(input, members);

    // SAFETY (of the generated impls), one point per obligation of `FlatType` and `FlatMessage`:
    // - no implicit padding: the `const _` block fails to compile unless the members' sizes add
    //   up to the struct's size; no interior mutability and every bit pattern valid: the
    //   `FromBytes + IntoBytes + Immutable` supertraits, which the compiler checks;
    // - the flatipc layout: `lib.rs` only calls this for `#[repr(C)]` structs without generics,
    //   `packed` or `align`, and every member is a `FlatType` (asserted in the `const _` block),
    //   so each member sits at the next offset aligned for it, in declaration order, as in C;
    // - `FINGERPRINT` and `MEMBERS` are computed from `size_of`, `align_of` and `offset_of!` of
    //   the type itself, for every non-padding member in declaration order, as `docs/IR.md` says.
    quote! {
        #assertions

        #[automatically_derived]
        unsafe impl #krate::FlatType for #ident {
            const FINGERPRINT: ::core::primitive::u64 =
                #krate::fingerprint::Fingerprinter::structure(
                    ::core::mem::size_of::<Self>() as ::core::primitive::u64,
                    ::core::mem::align_of::<Self>() as ::core::primitive::u64,
                    #member_count,
                )
                #(#fingerprint_members)*
                .finish();
            const NEEDS_VALIDATION: ::core::primitive::bool =
                #has_padding #(#needs_validation)*;

            fn validate(&self) -> ::core::result::Result<(), #krate::ValidationError> {
                #validate
                ::core::result::Result::Ok(())
            }
        }

        #[automatically_derived]
        unsafe impl #krate::FlatMessage for #ident {
            const NAME: &'static ::core::primitive::str = #struct_name;
            const MESSAGE_ID: ::core::option::Option<::core::primitive::u32> = #message_id;
            const MEMBERS: &'static [#krate::Member] = &[#(#member_table),*];
            #version_items
        }

        #has_functions
    }
}
