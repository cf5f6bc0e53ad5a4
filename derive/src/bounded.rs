//! Form 2: `#[flat(string)]` and `#[flat(vector)]` bounded types over a `#[repr(C)]` struct:
//! `FlatType` and inherent accessors, no `FlatMessage`.
//!
//! Required shape (the layout `flatipc-gen` computes, `docs/IR.md`):
//! `{ len: u32, [#[flat(padding)] ..]*, data: [u8; N] | items: [T; N], [#[flat(padding)] ..]* }`
//! (padding between `len` and the items only for vectors).

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::{DeriveInput, Error, Expr, Ident, Result, Type};

use crate::attrs::ContainerAttrs;
use crate::structs::{flat_item, layout_assertions};
use crate::types::{self, Member};

/// The parts of a bounded type the generator needs.
struct Shape<'a> {
    /// `data` or `items`.
    items: &'a Ident,
    /// The element type (`u8` for strings).
    elem: &'a Type,
    /// `N`, as written.
    capacity: &'a Expr,
    /// Every padding member.
    padding: Vec<&'a Ident>,
}

/// Checks the member shape and returns its parts.
fn shape<'a>(input: &DeriveInput, string: bool, members: &'a [Member<'a>]) -> Result<Shape<'a>> {
    let (kind, items_name, items_ty) =
        if string { ("string", "data", "[u8; N]") } else { ("vector", "items", "[T; N]") };
    let expected = format!(
        "a `#[flat({kind})]` struct has the members `len: u32`, {}`{items_name}: {items_ty}`, then \
         optional `#[flat(padding)]` members",
        if string { "" } else { "optional `#[flat(padding)]` members, " },
    );
    let fail = |tokens: &dyn ToTokens, what: &str| {
        Err(Error::new_spanned(tokens, format!("{what}: {expected}")))
    };

    let mut iter = members.iter();
    let Some(len) = iter.next() else {
        return fail(&input.ident, "missing members");
    };
    if len.padding || len.name != "len" || !types::is_ident_type(len.ty, "u32") {
        return fail(len.ident, "expected `len: u32` first");
    }

    let mut padding = Vec::new();
    let mut items = None;
    for m in iter {
        if m.padding {
            if items.is_none() && string {
                return fail(
                    m.ident,
                    "no padding can go between `len` and `data` (bytes need no alignment)",
                );
            }
            padding.push(m.ident);
        } else if items.is_none() && m.name == items_name {
            items = Some(m);
        } else if items.is_none() {
            return fail(m.ident, &format!("expected `{items_name}` here"));
        } else {
            return fail(m.ident, "only `#[flat(padding)]` members may follow");
        }
    }
    let Some(items) = items else {
        return fail(&input.ident, &format!("missing `{items_name}`"));
    };
    let Some(array) = types::as_array(items.ty) else {
        return fail(items.ty, &format!("`{items_name}` must be an array"));
    };
    if string && !types::is_ident_type(&array.elem, "u8") {
        return fail(&array.elem, "a string's `data` holds UTF-8 bytes, `u8`");
    }
    Ok(Shape { items: items.ident, elem: &array.elem, capacity: &array.len, padding })
}

/// Expands form 2.
pub(crate) fn expand(
    input: &DeriveInput,
    attrs: &ContainerAttrs,
    string: bool,
    members: &[Member<'_>],
) -> Result<TokenStream> {
    let shape = shape(input, string, members)?;
    let krate = &attrs.krate;
    let ident = &input.ident;
    let Shape { items, elem, capacity, padding } = &shape;

    let capacity_message = syn::LitStr::new(
        &format!(
            "flatipc: the capacity of `{}` does not fit its `u32` length",
            syn::ext::IdentExt::unraw(ident)
        ),
        proc_macro2::Span::call_site(),
    );
    let assertions = layout_assertions(
        krate,
        input,
        members,
        quote! {
            if #ident::CAPACITY > ::core::primitive::u32::MAX as ::core::primitive::usize {
                ::core::panic!(#capacity_message);
            }
        },
    );
    let elem_fingerprint = flat_item(krate, elem, "FINGERPRINT");
    let elem_needs_validation = flat_item(krate, elem, "NEEDS_VALIDATION");
    let elem_validate = flat_item(krate, elem, "validate");
    let fingerprint = if string {
        quote! {
            #krate::fingerprint::Fingerprinter::string(Self::CAPACITY as ::core::primitive::u64)
        }
    } else {
        quote! {
            #krate::fingerprint::Fingerprinter::vector(
                Self::CAPACITY as ::core::primitive::u64,
                #elem_fingerprint,
            )
        }
    };
    let validate_items = if string {
        quote! { #krate::checked_str(self.len, &self.#items[..])?; }
    } else {
        quote! {
            let items = #krate::checked_prefix(self.len, &self.#items[..])?;
            if #elem_needs_validation {
                for item in items {
                    #elem_validate(item)?;
                }
            }
        }
    };
    let methods =
        if string { string_methods(krate, items) } else { vector_methods(krate, items, elem) };
    let capacity_doc = if string {
        "The bound: the longest string it holds, in UTF-8 bytes."
    } else {
        "The bound: the most items it holds."
    };

    // SAFETY (of the generated impl), one point per obligation of `FlatType`:
    // - no implicit padding: asserted by the `const _` block; no interior mutability and every
    //   bit pattern valid: the `FromBytes + IntoBytes + Immutable` supertraits;
    // - the flatipc layout of `string<N>` / `vector<T, N>`: a `#[repr(C)]` struct (checked by
    //   `lib.rs`) of `len: u32`, explicit padding and `[T; N]` with `T: FlatType` (checked by
    //   `shape` and the `const _` block), which is `{ uint32 len; [pad]; T items[N]; [pad] }`;
    // - `FINGERPRINT` is `Fingerprinter::string(N)` / `vector(N, fingerprint(T))`, as
    //   `docs/IR.md` says.
    Ok(quote! {
        #assertions

        #[automatically_derived]
        unsafe impl #krate::FlatType for #ident {
            const FINGERPRINT: ::core::primitive::u64 = #fingerprint;
            const NEEDS_VALIDATION: ::core::primitive::bool = true;

            fn validate(&self) -> ::core::result::Result<(), #krate::ValidationError> {
                #validate_items
                #(#krate::check_padding(&self.#padding)?;)*
                ::core::result::Result::Ok(())
            }
        }

        #[automatically_derived]
        impl #ident {
            #[doc = #capacity_doc]
            pub const CAPACITY: ::core::primitive::usize = #capacity;

            #methods

            /// The stored length, clamped to [`Self::CAPACITY`] (a peer may have written any
            /// `len`; use `validate` to reject an out-of-bounds one).
            pub fn len(&self) -> ::core::primitive::usize {
                match <::core::primitive::usize as ::core::convert::TryFrom<::core::primitive::u32>>::try_from(self.len) {
                    ::core::result::Result::Ok(len) if len <= Self::CAPACITY => len,
                    _ => Self::CAPACITY,
                }
            }

            /// Whether the stored length is zero.
            pub fn is_empty(&self) -> ::core::primitive::bool {
                self.len == 0
            }
        }
    })
}

/// Converts a requested length to the `len` member, or the capacity error.
fn checked_len(krate: &syn::Path) -> TokenStream {
    quote! {
        let len: ::core::primitive::u32 = match <::core::primitive::u32 as ::core::convert::TryFrom<::core::primitive::usize>>::try_from(requested) {
            ::core::result::Result::Ok(len) if requested <= Self::CAPACITY => len,
            _ => {
                return ::core::result::Result::Err(#krate::CapacityError {
                    requested,
                    capacity: Self::CAPACITY,
                });
            }
        };
    }
}

fn string_methods(krate: &syn::Path, data: &Ident) -> TokenStream {
    let checked_len = checked_len(krate);
    quote! {
        /// A string holding a copy of `text`, with the unused bytes zeroed.
        ///
        /// # Errors
        ///
        /// `CapacityError` if `text` is longer than
        /// [`Self::CAPACITY`] bytes.
        pub fn new(text: &::core::primitive::str) -> ::core::result::Result<Self, #krate::CapacityError> {
            let mut value = <Self as #krate::zerocopy::FromZeros>::new_zeroed();
            value.set(text)?;
            ::core::result::Result::Ok(value)
        }

        /// Replaces the contents with a copy of `text` and zeroes the unused bytes.
        ///
        /// # Errors
        ///
        /// `CapacityError` if `text` is longer than
        /// [`Self::CAPACITY`] bytes; `self` is then unchanged.
        pub fn set(&mut self, text: &::core::primitive::str) -> ::core::result::Result<(), #krate::CapacityError> {
            let bytes = text.as_bytes();
            let requested = bytes.len();
            #checked_len
            let (used, unused) = self.#data.split_at_mut(requested);
            used.copy_from_slice(bytes);
            unused.fill(0);
            self.len = len;
            ::core::result::Result::Ok(())
        }

        /// The text, after checking the length against the bound and the bytes for UTF-8.
        ///
        /// # Errors
        ///
        /// A `ValidationError` if a peer wrote a length above
        /// [`Self::CAPACITY`] or bytes that are not UTF-8.
        pub fn as_str(&self) -> ::core::result::Result<&::core::primitive::str, #krate::ValidationError> {
            #krate::checked_str(self.len, &self.#data[..])
        }
    }
}

fn vector_methods(krate: &syn::Path, items: &Ident, elem: &Type) -> TokenStream {
    let checked_len = checked_len(krate);
    quote! {
        /// A vector holding a copy of `items`, with the unused slots zeroed.
        ///
        /// # Errors
        ///
        /// `CapacityError` if there are more than [`Self::CAPACITY`]
        /// items.
        pub fn from_slice(items: &[#elem]) -> ::core::result::Result<Self, #krate::CapacityError> {
            let mut value = <Self as #krate::zerocopy::FromZeros>::new_zeroed();
            value.set_from_slice(items)?;
            ::core::result::Result::Ok(value)
        }

        /// Replaces the contents with a copy of `items` and zeroes the unused slots.
        ///
        /// # Errors
        ///
        /// `CapacityError` if there are more than [`Self::CAPACITY`]
        /// items; `self` is then unchanged.
        pub fn set_from_slice(&mut self, items: &[#elem]) -> ::core::result::Result<(), #krate::CapacityError> {
            let requested = items.len();
            #checked_len
            let (used, unused) = self.#items.split_at_mut(requested);
            used.copy_from_slice(items);
            #krate::zerocopy::FromZeros::zero(unused);
            self.len = len;
            ::core::result::Result::Ok(())
        }

        /// Appends `item` after the first [`len`](Self::len) items.
        ///
        /// # Errors
        ///
        /// `CapacityError` if the vector already holds
        /// [`Self::CAPACITY`] items; `self` is then unchanged.
        pub fn push(&mut self, item: #elem) -> ::core::result::Result<(), #krate::CapacityError> {
            let index = self.len();
            let requested = index + 1;
            #checked_len
            self.#items[index] = item;
            self.len = len;
            ::core::result::Result::Ok(())
        }

        /// Removes every item and zeroes the storage.
        pub fn clear(&mut self) {
            #krate::zerocopy::FromZeros::zero(&mut self.#items[..]);
            self.len = 0;
        }

        /// The items, after checking the length against the bound (the items themselves are not
        /// validated; `validate` does that).
        ///
        /// # Errors
        ///
        /// A `ValidationError` if a peer wrote a length above
        /// [`Self::CAPACITY`].
        pub fn as_slice(&self) -> ::core::result::Result<&[#elem], #krate::ValidationError> {
            #krate::checked_prefix(self.len, &self.#items[..])
        }

        /// The items, mutably, after checking the length against the bound.
        ///
        /// # Errors
        ///
        /// A `ValidationError` if a peer wrote a length above
        /// [`Self::CAPACITY`].
        pub fn as_mut_slice(&mut self) -> ::core::result::Result<&mut [#elem], #krate::ValidationError> {
            let len = #krate::checked_prefix(self.len, &self.#items[..])?.len();
            ::core::result::Result::Ok(&mut self.#items[..len])
        }
    }
}
