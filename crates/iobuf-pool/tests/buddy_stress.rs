//! The buddy allocator across threads, with a byte-range ownership map: no two live blocks
//! ever share a byte, each block is freed (from whichever thread) with its owner's stamp
//! intact, and every block coalesces back once all are free.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

use iobuf_pool::{BuddyAllocator, Buf, PoolError};
// Hand-overs go through iobuf's own bounded queue rather than std's channels: std is not
// instrumented under ThreadSanitizer, whose reports on channel internals would be noise.
use iobuf_queue::BoundedQueue;

const MIN_BLOCK: usize = 4096;

/// Per minimum block of the region: 0, or the id of the owner holding the block over it.
struct Ownership {
    base: usize,
    units: Vec<AtomicU64>,
    allocations: AtomicU64,
}

impl Ownership {
    fn new(buddy: &BuddyAllocator) -> Self {
        Self {
            base: buddy.regions()[0].as_ptr() as usize,
            units: (0..buddy.region_size() / MIN_BLOCK).map(|_| AtomicU64::new(0)).collect(),
            allocations: AtomicU64::new(0),
        }
    }

    fn span(&self, buf: &Buf) -> std::ops::Range<usize> {
        let first = (buf.as_ptr() as usize - self.base) / MIN_BLOCK;
        first..first + buf.capacity() / MIN_BLOCK
    }

    /// Claims every unit of `buf` for `owner` and stamps both ends of the block.
    fn take(&self, mut buf: Buf, owner: u64) -> Buf {
        assert_eq!((buf.as_ptr() as usize - self.base) % buf.capacity(), 0, "aligned");
        for unit in self.span(&buf) {
            let previous = self.units[unit].swap(owner, Ordering::AcqRel);
            assert_eq!(previous, 0, "unit {unit} given to {owner} while {previous} held it");
        }
        let end = buf.capacity() - 8;
        buf[..8].copy_from_slice(&owner.to_le_bytes());
        buf[end..].copy_from_slice(&owner.to_le_bytes());
        self.allocations.fetch_add(1, Ordering::Relaxed);
        buf
    }

    /// Checks the stamps and releases every unit; the block is freed by this thread.
    fn give(&self, buf: Buf, owner: u64) {
        let end = buf.capacity() - 8;
        assert_eq!(buf[..8], owner.to_le_bytes(), "block of {owner} written by another");
        assert_eq!(buf[end..], owner.to_le_bytes(), "block of {owner} written by another");
        for unit in self.span(&buf) {
            let previous = self.units[unit].swap(0, Ordering::AcqRel);
            assert_eq!(previous, owner, "unit {unit} of {owner} was held by {previous}");
        }
        drop(buf);
    }
}

fn threads() -> usize {
    2 * thread::available_parallelism().map_or(2, usize::from)
}

/// Every thread allocates mixed sizes (4 KiB to 128 KiB, weighted toward small), holds up to
/// `HOLD` blocks, frees most itself and hands some (at most `HOLD` in flight) to a neighbour
/// thread to free.
fn churn(cache_depth: usize) {
    const HOLD: usize = 16;
    let threads = threads();
    let buddy = BuddyAllocator::builder()
        .region_size(32 << 20)
        .max_block(1 << 20)
        .cache_depth(cache_depth)
        .build()
        .unwrap();
    let ownership = Ownership::new(&buddy);
    let rounds = common::scaled(100_000) as u64;
    let exhausted = AtomicU64::new(0);
    // Thread t hands blocks to thread t + 1, which frees them with the sender's stamp.
    let inboxes: Vec<BoundedQueue<(Buf, u64)>> =
        (0..threads).map(|_| BoundedQueue::new(HOLD).unwrap()).collect();
    thread::scope(|scope| {
        let mut workers = Vec::new();
        for t in 0..threads {
            let (inbox, next_thread) = (&inboxes[t], &inboxes[(t + 1) % threads]);
            let (buddy, ownership, exhausted) = (&buddy, &ownership, &exhausted);
            workers.push(scope.spawn(move || {
                let mut next = common::xorshift(0xC0FFEE + t as u64);
                let mut held: Vec<(Buf, u64)> = Vec::with_capacity(HOLD);
                for round in 0..rounds {
                    while let Some((buf, owner)) = inbox.try_pop() {
                        ownership.give(buf, owner);
                    }
                    if held.len() == HOLD || (!held.is_empty() && next() % 2 == 0) {
                        let (buf, owner) = held.swap_remove(next() as usize % held.len());
                        if next() % 8 != 0 {
                            ownership.give(buf, owner);
                        } else if let Err((buf, owner)) = next_thread.try_push((buf, owner)) {
                            ownership.give(buf, owner);
                        }
                        continue;
                    }
                    let size = 4096 << (next() | 1 << 5).trailing_zeros();
                    let size = size - (next() as usize % (size / 2));
                    let owner = (t as u64 + 1) << 40 | round;
                    match buddy.try_alloc(size) {
                        Ok(buf) => held.push((ownership.take(buf, owner), owner)),
                        Err(PoolError::Exhausted) => {
                            exhausted.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(other) => panic!("unexpected error {other}"),
                    }
                }
                for (buf, owner) in held {
                    ownership.give(buf, owner);
                }
            }));
        }
        common::join_all(workers);
    });
    // What was still in flight when the threads finished, freed from this thread.
    for inbox in &inboxes {
        while let Some((buf, owner)) = inbox.try_pop() {
            ownership.give(buf, owner);
        }
    }
    assert!(ownership.units.iter().all(|unit| unit.load(Ordering::Relaxed) == 0));
    assert!(ownership.allocations.load(Ordering::Relaxed) > rounds, "the threads allocated");
    // Held and in-flight blocks (2 × 16 per thread, at most 128 KiB each) and the caches can
    // outgrow 32 MiB on many cores: some exhaustion is expected there, and is no failure.
    eprintln!(
        "cache depth {cache_depth}: {} allocations, {} exhausted",
        ownership.allocations.load(Ordering::Relaxed),
        exhausted.load(Ordering::Relaxed)
    );
    buddy.trim();
    let stats = buddy.stats();
    assert_eq!((stats.allocated, stats.cached, stats.free), (0, 0, 32 << 20), "{stats:#?}");
    assert_eq!(stats.orders.last().unwrap().free_blocks, 32, "coalesced to maximum blocks");
    assert_eq!(stats.largest_free, 1 << 20);
}

#[test]
fn threads_never_share_a_byte_with_caches() {
    churn(32);
}

#[test]
fn threads_never_share_a_byte_without_caches() {
    churn(0);
}

#[test]
fn try_alloc_never_fails_while_a_block_is_free() {
    // Every thread takes one 4 KiB block at a time from a region with room for all of them at
    // once (caches included): an exhaustion here would be a block lost in a cache or a race.
    let threads = threads();
    let buddy = BuddyAllocator::builder()
        .region_size(threads * 2 * MIN_BLOCK + (1 << 20))
        .max_block(MIN_BLOCK)
        .build()
        .unwrap();
    let rounds = common::scaled(200_000);
    thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    for _ in 0..rounds {
                        let buf = buddy.try_alloc(MIN_BLOCK).expect("false exhaustion");
                        drop(buf);
                    }
                })
            })
            .collect();
        common::join_all(workers);
    });
    assert_eq!(buddy.stats().exhausted, 0);
}
