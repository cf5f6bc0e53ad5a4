//! The schemas `build.rs` compiled, as Rust modules: `market.data` (with `market.common`, which
//! it imports) for the basic mode, and both releases of `market.evo` for the upgrade mode (each
//! in its own module, as they declare the same library).

// Generated code: the demo uses only part of each schema.
#[allow(dead_code, clippy::all)]
pub mod market_common {
    flatipc::include_schema!("market_common");
}
#[allow(dead_code, clippy::all)]
pub mod market_data {
    flatipc::include_schema!("market_data");
}
/// `schemas/evolution/v1/market.fidl`: `market.evo` at version 1.
#[allow(dead_code, clippy::all)]
pub mod evo_v1 {
    flatipc::include_schema!("evo_v1/market_evo");
}
/// `schemas/evolution/v2/market.fidl`: `market.evo` at version 2.
#[allow(dead_code, clippy::all)]
pub mod evo_v2 {
    flatipc::include_schema!("evo_v2/market_evo");
}

/// Which schema a feed writes or a strategy reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Schema {
    /// `market.data` (schemas/market.fidl).
    Market,
    /// `market.evo` version 1 (schemas/evolution/v1).
    EvoV1,
    /// `market.evo` version 2 (schemas/evolution/v2).
    EvoV2,
}

impl Schema {
    /// The value of the `--schema` argument.
    pub fn arg(self) -> &'static str {
        match self {
            Schema::Market => "market",
            Schema::EvoV1 => "evo-v1",
            Schema::EvoV2 => "evo-v2",
        }
    }
}

/// In `market.data`, a `StatusChange` follows every message whose sequence number is
/// `≡ STATUS_EVERY - 1 (mod STATUS_EVERY)`; `c/strategy.c` has the same constant.
pub const STATUS_EVERY: u64 = 25_000;

/// In `market.evo` version 2, a `Heartbeat` follows every message whose sequence number is
/// `≡ HEARTBEAT_EVERY - 1 (mod HEARTBEAT_EVERY)`; `c/strategy.c` has the same constant.
pub const HEARTBEAT_EVERY: u64 = 5_000;
