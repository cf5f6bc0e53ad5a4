//! The three versions of one library that the evolution tests share: `v1` (the original), `v2`
//! (appends two members to `Quote` at version 2) and `v2_diverged` (appends a different member
//! at version 2), hand-written twins of what `flatipc-gen` generates.

#![allow(dead_code)] // each test file uses part of it

use std::sync::atomic::{AtomicU32, Ordering};

use flatipc::prelude::*;
use flatipc::stream::{view, InSet, MessageInfo, MessageSet, ViewError};
use flatipc::Segment;

/// A segment name no other test (or test process) uses.
pub fn unique(name: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("test-evolution-{name}-{}-{n}", std::process::id())
}

/// Removes the named segment when dropped.
pub struct Cleanup(pub String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Segment::remove(&self.0);
    }
}

/// Defines a library `Lib` of the module's `Quote` and `Other`, with its view enum `Any`.
macro_rules! library {
    ($name:literal) => {
        #[derive(Debug)]
        #[allow(dead_code)] // read through `Debug` in failure messages
        pub enum Any<'a> {
            Quote(&'a Quote),
            Other(&'a Other),
        }

        #[derive(Debug)]
        pub struct Lib;
        impl MessageSet for Lib {
            type View<'a> = Any<'a>;
            const LIBRARY: &'static str = $name;
            const MESSAGES: &'static [MessageInfo] =
                &[MessageInfo::of::<Quote>(), MessageInfo::of::<Other>()];
            fn view(id: u32, bytes: &[u8]) -> Option<Result<Any<'_>, ViewError>> {
                match id {
                    0x10 => Some(view::<Quote>(bytes).map(Any::Quote)),
                    0x11 => Some(view::<Other>(bytes).map(Any::Other)),
                    _ => None,
                }
            }
        }
        impl InSet<Lib> for Quote {}
        impl InSet<Lib> for Other {}

        /// Unchanged since version 1.
        #[derive(
            Clone, Copy, Debug, PartialEq, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable,
        )]
        #[zerocopy(crate = "flatipc::zerocopy")]
        #[flat(id = 0x11)]
        #[repr(C)]
        pub struct Other {
            pub seq: u64,
        }
    };
}

pub mod v1 {
    use super::*;
    library!("market.v1");

    #[derive(
        Clone, Copy, Debug, PartialEq, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable,
    )]
    #[zerocopy(crate = "flatipc::zerocopy")]
    #[flat(id = 0x10)]
    #[repr(C)]
    pub struct Quote {
        pub seq: u64,
        pub bid: u32,
        pub ask: u32,
    }
}

pub mod v2 {
    use super::*;
    library!("market.v2");

    #[derive(
        Clone, Copy, Debug, PartialEq, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable,
    )]
    #[zerocopy(crate = "flatipc::zerocopy")]
    #[flat(id = 0x10, version = 2)]
    #[repr(C)]
    pub struct Quote {
        pub seq: u64,
        pub bid: u32,
        pub ask: u32,
        #[flat(added = 2)]
        pub bid_size: u32,
        #[flat(added = 2)]
        pub ask_size: u32,
    }
}

pub mod v2_diverged {
    use super::*;
    library!("market.v2-diverged");

    #[derive(
        Clone, Copy, Debug, PartialEq, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable,
    )]
    #[zerocopy(crate = "flatipc::zerocopy")]
    #[flat(id = 0x10, version = 2)]
    #[repr(C)]
    pub struct Quote {
        pub seq: u64,
        pub bid: u32,
        pub ask: u32,
        #[flat(added = 2)]
        pub venue_ts: u64,
    }
}

/// Version 1's `Quote` for `seq`.
pub fn v1_quote(seq: u64) -> v1::Quote {
    let low = u32::try_from(seq).unwrap();
    v1::Quote { seq, bid: 100 + low, ask: 101 + low }
}

/// Version 2's `Quote` for `seq`: version 1's members equal, the added ones non-zero.
pub fn v2_quote(seq: u64) -> v2::Quote {
    v2::Quote { bid_size: 7, ask_size: 9, ..v1_to_v2(v1_quote(seq)) }
}

/// The version 2 `Quote` a version 1 `Quote` becomes (the added members zero).
pub fn v1_to_v2(q: v1::Quote) -> v2::Quote {
    v2::Quote { seq: q.seq, bid: q.bid, ask: q.ask, bid_size: 0, ask_size: 0 }
}
