//! `#[derive(FlatMessage)]` (placeholder while the derive is written).
use proc_macro::TokenStream;

/// Derives `flatipc::FlatType` and `flatipc::FlatMessage`.
#[proc_macro_derive(FlatMessage, attributes(flat))]
pub fn derive_flat_message(_input: TokenStream) -> TokenStream {
    TokenStream::new()
}
