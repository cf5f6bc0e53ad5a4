//! The framed SPSC stream (`docs/PROTOCOL.md` §4): one writer, one reader, any message of one
//! schema library, each in its own frame.

mod set;

pub use set::{view, InSet, MessageInfo, MessageSet, ViewError};
