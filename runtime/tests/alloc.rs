//! Steady-state send and receive allocate nothing (checked with a counting global allocator).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use flatipc::channel::{channel, ChannelOptions};
use flatipc::prelude::*;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so `System`'s
// guarantees hold; the counter is a side effect that cannot affect the returned memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; `ptr` was allocated by `System` through `alloc` above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(Clone, Copy, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[repr(C)]
struct Tick {
    seq: u64,
    price: f64,
}

#[test]
fn steady_state_send_and_recv_do_not_allocate() {
    let (mut tx, mut rx) = channel::<Tick>(&ChannelOptions { capacity: 64, ..Default::default() });
    // Warm up (first use of any lazily initialised state).
    tx.try_send(&Tick { seq: 0, price: 1.0 }).unwrap();
    drop(rx.try_recv().unwrap());

    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let mut sum = 0.0;
    for seq in 1..100_000u64 {
        let mut slot = tx.loan().unwrap();
        slot.seq = seq;
        slot.price = seq as f64;
        slot.commit();
        tx.try_send(&Tick { seq, price: 0.5 }).unwrap();
        let a = rx.try_recv().unwrap();
        sum += a.price;
        drop(a);
        let b = rx.try_recv().unwrap();
        sum += b.price;
        drop(b);
        let batch = [Tick { seq, price: 0.25 }; 4];
        assert_eq!(tx.try_send_batch(&batch).unwrap(), 4);
        rx.drain(|t| sum += t.price).unwrap();
    }
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    assert!(sum > 0.0);
    assert_eq!(after - before, 0, "send/recv allocated {} times", after - before);
}
