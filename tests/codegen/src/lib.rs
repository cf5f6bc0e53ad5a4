//! Generated code for every schema in `schemas/`, `tests/corpus/valid/` and a set of random
//! schemas, compiled through `flatipc_gen::Builder` as a user's build script would.
#![allow(missing_docs)]

include!(concat!(env!("OUT_DIR"), "/modules.rs"));
include!(concat!(env!("OUT_DIR"), "/layouts.rs"));

/// The two releases of `schemas/evolution/`: peers built from each must read the other's
/// messages (`tests/evolution.rs`).
pub mod evolution {
    /// Release 1.
    pub mod v1 {
        flatipc::include_schema!("evolution_v1/market_evo");
    }
    /// Release 2.
    pub mod v2 {
        flatipc::include_schema!("evolution_v2/market_evo");
    }
}
