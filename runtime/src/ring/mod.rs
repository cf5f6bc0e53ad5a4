//! What the typed channel (`docs/PROTOCOL.md` §3) and the framed stream (§4) share: the ring
//! protocol ([`core`], modelled by loom) and [`Shared`], the mapped segment as both ends of
//! either ring see it (positions, frame headers, parking flags, peer entries).

// The broadcast protocol core is modelled (loom) and unit-tested ahead of the broadcast rings
// that will use it (docs/PROTOCOL.md §5).
#[allow(dead_code)] // until the broadcast rings use it
pub(crate) mod broadcast;
pub(crate) mod core;
#[cfg(not(loom))]
mod error;

#[cfg(not(loom))]
mod shared;

#[cfg(not(loom))]
pub use error::{RecvError, SendError};
#[cfg(not(loom))]
pub(crate) use shared::{FrameHeader, Shared, READER, WRITER};
