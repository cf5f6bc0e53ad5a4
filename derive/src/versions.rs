//! Schema evolution on form 1 (`docs/EVOLUTION.md` §1–§3): `#[flat(version = N)]` on the struct,
//! `#[flat(added = N)]` and `#[flat(removed = N, was = T)]` on members.
//!
//! The rules the schema compiler checks are checked here too: by syntax ([`check`]: versions
//! in range and not newer than the struct's, only on messages, members appended, at most
//! [`MAX_STEPS`] steps) and by compile-time assertions on the real layout ([`assertions`]: a
//! later version does not raise the alignment, starts at or after the size of the layout before
//! it, and a removed member keeps the size and alignment of its old type). The steps
//! (`FlatMessage::STEPS`) are computed in `const` context with the same `Fingerprinter` calls as
//! the compiler's, from `size_of`, `align_of` and `offset_of!`.

use std::collections::BTreeSet;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{DeriveInput, Error, LitStr, Path, Result};

use crate::attrs::ContainerAttrs;
use crate::structs::flat_item;
use crate::types::Member;
use crate::Errors;

/// Most versions at which a message's layout may change (its steps), version 1 included.
pub(crate) const MAX_STEPS: usize = 4;

/// The versions at which the layout changes: 1, every `added` and every `removed`.
pub(crate) fn step_versions(members: &[Member<'_>]) -> Vec<u16> {
    let versions: BTreeSet<u16> = std::iter::once(1)
        .chain(
            members
                .iter()
                .filter(|m| !m.padding)
                .flat_map(|m| std::iter::once(m.added_version()).chain(m.removed_version())),
        )
        .collect();
    versions.into_iter().collect()
}

/// The rules that need no type information. Reports every violation.
pub(crate) fn check(
    input: &DeriveInput,
    attrs: &ContainerAttrs,
    members: &[Member<'_>],
) -> Result<()> {
    let mut errors = Errors::default();
    let version = attrs.version.map_or(1, |(v, _)| v);
    let flat: Vec<&Member<'_>> = members.iter().filter(|m| !m.padding).collect();
    let add_version = |v: u16| {
        if attrs.version.is_some() {
            format!("raise the struct's `#[flat(version = ..)]` to {v}")
        } else {
            format!("add `#[flat(version = {v})]` to the struct")
        }
    };
    for m in &flat {
        for (what, option) in [("added", m.added), ("removed", m.removed)] {
            if let Some((v, span)) = option.filter(|(v, _)| *v > version) {
                errors.push(Error::new(
                    span,
                    format!(
                        "`{what} = {v}` is newer than the struct's version {version}: {}",
                        add_version(v)
                    ),
                ));
            }
        }
        if let Some((removed, span)) = m.removed {
            if removed <= m.added_version() {
                errors.push(Error::new(
                    span,
                    format!(
                        "`removed = {removed}` is not after version {}, where `{}` was added: a \
                         member is removed after it is added",
                        m.added_version(),
                        m.name
                    ),
                ));
            }
        }
        if attrs.id.is_none() {
            let versioned = m.added.filter(|(v, _)| *v > 1).or(m.removed);
            if let Some((_, span)) = versioned {
                errors.push(Error::new(
                    span,
                    "only a message (`#[flat(id = N)]`) may have members added or removed in \
                     later versions: a struct that is not a message is frozen (its size is part \
                     of the messages that nest it); put the new member in a new struct",
                ));
            }
        }
    }
    if let Some((v, span)) = flat.first().and_then(|m| m.added).filter(|(v, _)| *v > 1) {
        errors.push(Error::new(
            span,
            format!(
                "the first member belongs to version 1 (the message would have no layout before \
                 version {v}): remove `added`; a message that is new in a later version needs no \
                 `added` on its members"
            ),
        ));
    }
    let mut newest: Option<&Member<'_>> = None;
    for m in &flat {
        match newest {
            Some(n) if m.added_version() < n.added_version() => {
                let span = m.added.map_or(m.ident.span(), |(_, s)| s);
                errors.push(Error::new(
                    span,
                    format!(
                        "`{}` belongs to version {}, but it follows `{}`, added in version {}: \
                         members are only appended; move it before `{}`",
                        m.name,
                        m.added_version(),
                        n.name,
                        n.added_version(),
                        n.name
                    ),
                ));
            }
            Some(n) if m.added_version() == n.added_version() => {}
            _ => newest = Some(m),
        }
    }
    let steps = step_versions(members);
    if steps.len() > MAX_STEPS {
        let list: Vec<String> = steps.iter().map(u16::to_string).collect();
        errors.push(Error::new(
            input.ident.span(),
            format!(
                "the layout changes in {} versions ({}), more than {MAX_STEPS}: add or remove the \
                 members of several versions in one version, or start a new message",
                steps.len(),
                list.join(", ")
            ),
        ));
    }
    errors.finish()
}

fn lit(text: String) -> LitStr {
    LitStr::new(&text, Span::call_site())
}

/// `offset + size` of member `m`: where its bytes end.
fn end_of(ident: &syn::Ident, m: &Member<'_>) -> TokenStream {
    let (field, ty) = (m.ident, m.ty);
    quote! { ::core::mem::offset_of!(#ident, #field) + ::core::mem::size_of::<#ty>() }
}

/// `value` rounded up to the struct's alignment.
fn round_up(ident: &syn::Ident, value: &TokenStream) -> TokenStream {
    quote! {
        ::core::primitive::usize::div_ceil(#value, ::core::mem::align_of::<#ident>())
            * ::core::mem::align_of::<#ident>()
    }
}

/// The compile-time proofs of a versioned struct's layout, for its `const _` block (empty for a
/// struct whose layout never changed).
pub(crate) fn assertions(krate: &Path, input: &DeriveInput, members: &[Member<'_>]) -> TokenStream {
    let flat: Vec<&Member<'_>> = members.iter().filter(|m| !m.padding).collect();
    if step_versions(members).len() < 2 {
        return TokenStream::new();
    }
    let ident = &input.ident;
    let name = syn::ext::IdentExt::unraw(ident).to_string();
    let mut checks = Vec::new();
    // Removed members: reserved bytes the size of their old type, where that type could sit,
    // and not more aligned than the struct (their bytes have alignment 1).
    for m in flat.iter().filter(|m| m.removed.is_some()) {
        let (field, ty, was) = (m.ident, m.ty, m.layout_type());
        let flat_was = flat_item(krate, was, "FINGERPRINT");
        let size = lit(format!(
            "flatipc: the reserved bytes of the removed member `{}` of `{name}` must be as many as \
             the size of its old type (`was`)",
            m.name
        ));
        let align = lit(format!(
            "flatipc: removing `{}` lowers the alignment of `{name}` (its reserved bytes have \
             alignment 1): keep the member, or keep another member with its alignment",
            m.name
        ));
        let offset = lit(format!(
            "flatipc: the removed member `{}` of `{name}` is not where its old type (`was`) could \
             sit: its offset is not a multiple of that type's alignment",
            m.name
        ));
        checks.push(quote! {
            let _ = #flat_was;
            if ::core::mem::size_of::<#was>() != ::core::mem::size_of::<#ty>() {
                ::core::panic!(#size);
            }
            if ::core::mem::align_of::<#was>() > ::core::mem::align_of::<#ident>() {
                ::core::panic!(#align);
            }
            if ::core::mem::offset_of!(#ident, #field) % ::core::mem::align_of::<#was>() != 0 {
                ::core::panic!(#offset);
            }
        });
    }
    // Each later version: not more aligned than the layout before it, and starting at or after
    // that layout's size.
    for (i, m) in flat.iter().enumerate().skip(1) {
        let previous = flat[i - 1];
        if m.added_version() == previous.added_version() {
            continue;
        }
        let earlier_aligns = flat[..i].iter().map(|e| {
            let ty = e.layout_type();
            quote! {
                if ::core::mem::align_of::<#ty>() > before {
                    before = ::core::mem::align_of::<#ty>();
                }
            }
        });
        let ty = m.layout_type();
        let field = m.ident;
        let end = end_of(ident, previous);
        let size_before = round_up(ident, &end);
        let raises = lit(format!(
            "flatipc: member `{}` of `{name}`, added in version {}, would raise the alignment of \
             the layout before it, so peers of older versions would lay it out differently: add it \
             to a new message",
            m.name,
            m.added_version()
        ));
        let overlaps = lit(format!(
            "flatipc: member `{}` of `{name}`, the first of version {}, starts inside the layout \
             of the versions before it (their size, rounded up to the alignment): add \
             `#[flat(padding)]` bytes before it",
            m.name,
            m.added_version()
        ));
        checks.push(quote! {
            let mut before = 1;
            #(#earlier_aligns)*
            if ::core::mem::align_of::<#ty>() > before {
                ::core::panic!(#raises);
            }
            if ::core::mem::offset_of!(#ident, #field) < #size_before {
                ::core::panic!(#overlaps);
            }
        });
    }
    // The last step is the current layout: no padding after the last member beyond the
    // alignment, so that its size is `size_of`.
    if let Some(last) = flat.last() {
        let end = end_of(ident, last);
        let size = round_up(ident, &end);
        let message = lit(format!(
            "flatipc: a versioned struct has no explicit padding after its last member beyond \
             its alignment (`{name}` is larger than its last member's end, rounded up)"
        ));
        checks.push(quote! {
            if ::core::mem::size_of::<#ident>() != #size {
                ::core::panic!(#message);
            }
        });
    }
    quote! { #({ #checks })* }
}

/// `VERSION` and `STEPS` for the `FlatMessage` impl (each only when it differs from the trait's
/// default).
pub(crate) fn message_items(
    krate: &Path,
    attrs: &ContainerAttrs,
    members: &[Member<'_>],
) -> TokenStream {
    let version = attrs.version.map(|(v, _)| {
        quote! { const VERSION: ::core::primitive::u16 = #v; }
    });
    let versions = step_versions(members);
    if versions.len() < 2 {
        return quote! { #version };
    }
    let flat: Vec<&Member<'_>> = members.iter().filter(|m| !m.padding).collect();
    let steps = versions.iter().map(|&v| {
        // The layout's bytes reach the end of the last member added by `v` ...
        let last = flat.iter().rev().find(|m| m.added_version() <= v);
        let end = match last {
            Some(m) => {
                let (field, ty) = (m.ident, m.ty);
                quote! { ::core::mem::offset_of!(Self, #field) + ::core::mem::size_of::<#ty>() }
            }
            None => quote! { 0 },
        };
        // ... and its fingerprint hashes the members present then.
        let present: Vec<&&Member<'_>> = flat
            .iter()
            .filter(|m| m.added_version() <= v && m.removed_version().map_or(true, |r| v < r))
            .collect();
        let count = present.len() as u64;
        let hashed = present.iter().map(|m| {
            let (field, name) = (m.ident, &m.name);
            let fingerprint = flat_item(krate, m.layout_type(), "FINGERPRINT");
            quote! {
                .member(
                    #name,
                    ::core::mem::offset_of!(Self, #field) as ::core::primitive::u64,
                    #fingerprint,
                )
            }
        });
        quote! {
            {
                let align = ::core::mem::align_of::<Self>();
                let size = ::core::primitive::usize::div_ceil(#end, align) * align;
                #krate::VersionStep {
                    version: #v,
                    size: size as ::core::primitive::u32,
                    fingerprint: #krate::fingerprint::Fingerprinter::structure(
                        size as ::core::primitive::u64,
                        align as ::core::primitive::u64,
                        #count,
                    )
                    #(#hashed)*
                    .finish(),
                }
            }
        }
    });
    quote! {
        #version
        #[allow(clippy::cast_possible_truncation)]
        const STEPS: &'static [#krate::VersionStep] = &[#(#steps),*];
    }
}

/// `has_<member>(version)` for every member added after version 1 (and not removed).
pub(crate) fn has_functions(input: &DeriveInput, members: &[Member<'_>]) -> TokenStream {
    let ident = &input.ident;
    let functions: Vec<TokenStream> = members
        .iter()
        .filter(|m| !m.padding && m.removed.is_none() && m.added_version() > 1)
        .map(|m| {
            let function = format_ident!("has_{}", m.name);
            let added = m.added_version();
            let doc = lit(format!(
                "Whether member `{}` is present in a message written at `version`: it was added \
                 in version {added}.",
                m.name
            ));
            quote! {
                #[doc = #doc]
                #[allow(non_snake_case)]
                pub const fn #function(version: ::core::primitive::u16) -> ::core::primitive::bool {
                    version >= #added
                }
            }
        })
        .collect();
    if functions.is_empty() {
        return TokenStream::new();
    }
    quote! {
        #[automatically_derived]
        impl #ident {
            #(#functions)*
        }
    }
}
