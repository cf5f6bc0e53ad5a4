//! What the typed channel (`docs/PROTOCOL.md` §3) and the framed stream (§4) share: the ring
//! protocol ([`core`], modelled by loom) and [`Shared`], the mapped segment as both ends of
//! either ring see it (positions, frame headers, parking flags, peer entries).

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
