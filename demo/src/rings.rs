//! How the demo's two rings are sized and how their ends wait (the C strategy, which usually
//! creates the framed stream, uses the same numbers).
//!
//! **Small rings.** The feed is faster than the strategies, so the rings run full and every
//! message waits behind a ring's worth of others: the latency the strategies measure is mostly
//! that queue. 8 KiB of frames (about 70 quotes) and 64 slots keep it to microseconds while
//! still letting each side work in batches.
//!
//! **Yielding waits.** Three busy processes share two CPUs, so one of them is always waiting
//! for a CPU. A waiter that spins keeps the CPU from the very process it waits for, and one that
//! parks on a futex costs its peer a wake-up system call per message; `SpinThenYield { spins: 0
//! }` gives the CPU away at once and needs no wake-up (a yielding peer is never woken). On a
//! machine with a core per process, `WaitStrategy::Spin` would be the low-latency choice.

use flatipc::broadcast::{BroadcastOptions, Policy, ReaderOptions, StartAt};
use flatipc::stream::StreamOptions;
use flatipc::wait::WaitStrategy;

/// Bytes of the framed stream (`STREAM_CAPACITY` in `c/strategy.c`).
pub const STREAM_CAPACITY: u64 = 8 * 1024;

/// Slots of the broadcast stream.
pub const FANOUT_CAPACITY: u64 = 64;

/// How every end of both rings waits (see the module docs).
pub const WAIT: WaitStrategy = WaitStrategy::SpinThenYield { spins: 0 };

/// The framed stream, for whichever side creates it.
pub fn stream_options() -> StreamOptions {
    StreamOptions { capacity: STREAM_CAPACITY, wait: WAIT }
}

/// The broadcast stream, for whichever side creates it.
pub fn fanout_options() -> BroadcastOptions {
    BroadcastOptions { capacity: FANOUT_CAPACITY, max_readers: 4, wait: WAIT }
}

/// The Rust strategy: tethered (never overwritten, reads in place), from the next message.
pub fn reader_options() -> ReaderOptions {
    ReaderOptions { policy: Policy::Tethered, start: StartAt::Next, wait: WAIT }
}
