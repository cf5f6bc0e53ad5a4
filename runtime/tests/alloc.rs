//! Steady-state send and receive allocate nothing (checked with a counting global allocator).
//!
//! Each test counts only the allocations of its own thread: the test harness allocates on other
//! threads while tests run in parallel.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use flatipc::broadcast::{
    broadcast, broadcast_stream, BroadcastOptions, Policy, ReaderOptions, RecvError,
};
use flatipc::channel::{channel, ChannelOptions};
use flatipc::prelude::*;
use flatipc::stream::{stream, view, InSet, MessageInfo, MessageSet, StreamOptions, ViewError};

struct Counting;

thread_local! {
    /// Allocations made by this thread. Const-initialised and without a destructor, so the
    /// allocator can use it without allocating.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so `System`'s
// guarantees hold; the counter is a side effect that cannot affect the returned memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // `try_with`: the slot is gone while the thread is being torn down.
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
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

    let before = allocations();
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
    let after = allocations();
    assert!(sum > 0.0);
    assert_eq!(after - before, 0, "send/recv allocated {} times", after - before);
}

/// A quote with a `bool`, so that reading it runs validation: a frame of 48 bytes.
#[derive(Clone, Copy, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(id = 0x4101)]
#[repr(C)]
struct Quote {
    seq: u64,
    price: f64,
    firm: Bool,
    #[flat(padding)]
    _pad0: [u8; 7],
}

/// A frame of 96 bytes.
#[derive(Clone, Copy, FlatMessage, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "flatipc::zerocopy")]
#[flat(id = 0x4102)]
#[repr(C)]
struct Trade {
    seq: u64,
    qty: u64,
    fills: [u64; 8],
}

enum AnyMarket<'a> {
    Quote(&'a Quote),
    Trade(&'a Trade),
}

struct Market;

impl MessageSet for Market {
    type View<'a> = AnyMarket<'a>;
    const LIBRARY: &'static str = "test.alloc";
    const MESSAGES: &'static [MessageInfo] =
        &[MessageInfo::of::<Quote>(), MessageInfo::of::<Trade>()];
    fn view(id: u32, bytes: &[u8]) -> Option<Result<AnyMarket<'_>, ViewError>> {
        match id {
            0x4101 => Some(view::<Quote>(bytes).map(AnyMarket::Quote)),
            0x4102 => Some(view::<Trade>(bytes).map(AnyMarket::Trade)),
            _ => None,
        }
    }
}
impl InSet<Market> for Quote {}
impl InSet<Market> for Trade {}

#[test]
fn steady_state_stream_send_and_recv_do_not_allocate() {
    // 4096 bytes: frames of 48 and 96 wrap around often, with padding frames.
    let (mut tx, mut rx) =
        stream::<Market>(&StreamOptions { capacity: 4096, ..Default::default() });
    let quote = |seq, firm| Quote { seq, price: 0.5, firm: Bool(firm), _pad0: [0; 7] };
    // Warm up (first use of any lazily initialised state), a few laps.
    for seq in 0..200 {
        tx.try_send(&quote(seq, 1)).unwrap();
        drop(rx.try_recv().unwrap());
    }

    let before = allocations();
    let (mut sum, mut invalid) = (0.0, 0u64);
    for seq in 1..100_000u64 {
        tx.try_send(&quote(seq, 1)).unwrap();
        let mut trade = tx.loan::<Trade>().unwrap();
        trade.seq = seq;
        trade.qty = 3;
        trade.commit();
        // An invalid `bool`: the error path must not allocate either.
        tx.try_send(&quote(seq, 7)).unwrap();
        for _ in 0..3 {
            let frame = rx.try_recv().unwrap();
            match frame.message() {
                Some(Ok(AnyMarket::Quote(q))) => sum += q.price,
                Some(Ok(AnyMarket::Trade(t))) => sum += t.qty as f64,
                Some(Err(_)) => invalid += 1,
                None => panic!("unknown id {:#x}", frame.id()),
            }
        }
    }
    let after = allocations();
    assert_eq!((sum, invalid), (99_999.0 * 3.5, 99_999));
    assert_eq!(after - before, 0, "stream send/recv allocated {} times", after - before);
}

#[test]
fn steady_state_broadcast_send_and_recv_do_not_allocate() {
    let mut tx =
        broadcast::<Tick>(&BroadcastOptions { capacity: 64, max_readers: 4, ..Default::default() });
    let mut tethered = tx.subscribe(&ReaderOptions::default()).unwrap();
    let lossy = ReaderOptions { policy: Policy::Lossy, ..ReaderOptions::default() };
    let mut lossy = tx.subscribe(&lossy).unwrap();
    // Warm up (first use of any lazily initialised state), a few laps.
    for seq in 0..200 {
        tx.try_send(&Tick { seq, price: 1.0 }).unwrap();
        drop(tethered.try_recv().unwrap());
        drop(lossy.try_recv().unwrap());
    }

    let before = allocations();
    let (mut sum, mut lossy_received) = (0.0, 0u64);
    for seq in 1..100_000u64 {
        tx.try_send(&Tick { seq, price: 0.5 }).unwrap();
        let mut loan = tx.loan();
        loan.seq = seq;
        loan.price = 0.25;
        loan.commit().unwrap();
        for _ in 0..2 {
            let t = tethered.try_recv().unwrap();
            sum += t.price;
        }
        assert!(matches!(tethered.try_recv(), Err(RecvError::Empty)));
        // The lossy reader sleeps 40 rounds in 64 (80 messages on a 64-slot ring), so the
        // writer laps it: the skip-and-count path must not allocate either.
        if seq % 64 >= 40 {
            while let Ok(m) = lossy.try_recv() {
                sum += m.price;
                lossy_received += 1;
            }
        }
    }
    while let Ok(m) = lossy.try_recv() {
        sum += m.price;
        lossy_received += 1;
    }
    let after = allocations();
    assert!(sum > 0.0 && lossy_received > 0 && lossy.missed() > 0);
    assert_eq!(lossy_received + lossy.missed(), 2 * 99_999, "every message accounted for");
    assert_eq!(after - before, 0, "broadcast send/recv allocated {} times", after - before);
}

#[test]
fn steady_state_broadcast_stream_send_and_recv_do_not_allocate() {
    // Slots of 128 bytes (the 80-byte `Trade` plus the 16-byte frame header, rounded up to 64).
    let mut tx = broadcast_stream::<Market>(&BroadcastOptions {
        capacity: 64,
        max_readers: 4,
        ..Default::default()
    });
    let mut tethered = tx.subscribe(&ReaderOptions::default()).unwrap();
    let lossy = ReaderOptions { policy: Policy::Lossy, ..ReaderOptions::default() };
    let mut lossy = tx.subscribe(&lossy).unwrap();
    let quote = |seq, firm| Quote { seq, price: 0.5, firm: Bool(firm), _pad0: [0; 7] };
    // Warm up (first use of any lazily initialised state), a few laps.
    for seq in 0..200 {
        tx.try_send(&quote(seq, 1)).unwrap();
        drop(tethered.try_recv().unwrap());
        drop(lossy.try_recv().unwrap());
    }

    let before = allocations();
    let (mut sum, mut invalid, mut lossy_received) = (0.0, 0u64, 0u64);
    let mut add = |message: Option<Result<AnyMarket<'_>, ViewError>>| match message {
        Some(Ok(AnyMarket::Quote(q))) => sum += q.price,
        Some(Ok(AnyMarket::Trade(t))) => sum += t.qty as f64,
        Some(Err(_)) => invalid += 1,
        None => panic!("unknown id"),
    };
    for seq in 1..100_000u64 {
        tx.try_send(&quote(seq, 1)).unwrap();
        let mut trade = tx.loan::<Trade>().unwrap();
        trade.seq = seq;
        trade.qty = 3;
        trade.commit().unwrap();
        // An invalid `bool`: the error path must not allocate either.
        tx.try_send(&quote(seq, 7)).unwrap();
        for _ in 0..3 {
            add(tethered.try_recv().unwrap().message());
        }
        assert!(matches!(tethered.try_recv(), Err(RecvError::Empty)));
        // The lossy reader sleeps 40 rounds in 64 (120 frames on a 64-slot ring), so the
        // writer laps it: the skip-and-count path must not allocate either.
        if seq % 64 >= 40 {
            while let Ok(frame) = lossy.try_recv() {
                add(frame.message());
                lossy_received += 1;
            }
        }
    }
    while let Ok(frame) = lossy.try_recv() {
        add(frame.message());
        lossy_received += 1;
    }
    let after = allocations();
    assert!(sum > 0.0 && invalid > 99_999 && lossy_received > 0 && lossy.missed() > 0);
    assert_eq!(lossy_received + lossy.missed(), 3 * 99_999, "every frame accounted for");
    assert_eq!(after - before, 0, "broadcast stream send/recv allocated {} times", after - before);
}
