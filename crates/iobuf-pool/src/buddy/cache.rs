//! The per-order block cache: for each common order, a small lock-free array of free blocks in
//! front of the tree, so a size that is allocated and freed again and again takes no lock and
//! does no split or merge.
//!
//! Each cached order has `depth` slots, each 0 (empty) or `1 + unit` of a parked free block.
//! A free claims an empty slot with one compare-and-swap (from the first slot that reads
//! empty); an allocation takes a parked block with one swap to 0 (from the first slot that
//! reads full). So a cache hit costs one atomic read-modify-write, and a block just freed is
//! the next one handed out (the first slots fill and drain first: its bytes are still warm).
//! The slots hold values, not links, so there is no ABA hazard: a slot that held `u`, was
//! emptied and refilled with `u` holds a free block `u` all the same.
//!
//! Slots come in *lanes* of up to 8, each lane on its own padded cache line, and every thread
//! starts its scans in a lane of its own (a hint: threads are numbered as they first come), then
//! goes round the others. Two threads freeing and allocating the same size so mostly work on
//! different lines — on two cores that doubled the two-thread rate of one cached size — and
//! still take each other's blocks when their own lane is empty. A scan that finds nothing reads
//! `depth` (≤ 64) words on up to 8 lines.
//!
//! When every slot is full the free goes to the tree (coalescing). Blocks parked here count as
//! used by the tree, so they cannot coalesce: the allocator flushes every cache back into the
//! tree before it reports exhaustion (and on [`trim`](super::BuddyAllocator::trim)), and each
//! cache holds at most an eighth of the region.
//!
//! Lock-free: a claim or take fails only because another thread's succeeded on that slot.
//! Release on the claim and Acquire on the take order the freeing thread's last writes to the
//! block (zeroing included) before the next owner's first.

use super::tree::Tree;
use crate::sync::{AtomicU32, Ordering};

/// Slots per lane: a lane is one padded line of slots.
const LANE_SLOTS: usize = 8;

/// A thread's home lane, as a hint: threads start their scans in different lanes, so two
/// threads parking and taking blocks of one size mostly touch different cache lines. Threads
/// are numbered in the order they first ask; a hint needs no loom model.
#[inline]
fn home_lane() -> usize {
    use core::cell::Cell;
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::thread_local! {
        static HOME: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    HOME.try_with(|home| {
        if home.get() == usize::MAX {
            home.set(NEXT.fetch_add(1, Ordering::Relaxed) % (usize::MAX / 2));
        }
        home.get()
    })
    .unwrap_or(0)
}

/// The free blocks parked for one order, in lanes of slots.
#[derive(Debug)]
struct OrderCache {
    /// Each slot 0, or `1 + unit` of a parked block.
    lanes: Box<[iobuf_align::CachePadded<[AtomicU32; LANE_SLOTS]>]>,
    /// Slots in use in all: full lanes, the last one possibly partly.
    depth: usize,
}

impl OrderCache {
    fn new(depth: usize) -> Self {
        let lanes = (0..depth.div_ceil(LANE_SLOTS))
            .map(|_| iobuf_align::CachePadded::new(core::array::from_fn(|_| AtomicU32::new(0))))
            .collect();
        Self { lanes, depth }
    }

    /// The lane a scan starts in: the calling thread's.
    #[inline]
    fn first_lane(&self) -> usize {
        match self.lanes.len() {
            1 => 0,
            lanes => home_lane() % lanes,
        }
    }

    /// Lane `i` of a scan that starts in lane `first`.
    #[inline]
    fn lane(&self, first: usize, i: usize) -> &[AtomicU32] {
        let lanes = self.lanes.len();
        let at = if first + i < lanes { first + i } else { first + i - lanes };
        let used = (self.depth - at * LANE_SLOTS).min(LANE_SLOTS);
        &self.lanes[at][..used]
    }

    #[inline]
    fn take(&self) -> Option<u32> {
        let first = self.first_lane();
        for i in 0..self.lanes.len() {
            for slot in self.lane(first, i) {
                if slot.load(Ordering::Relaxed) != 0 {
                    // Another thread may have taken it since the load: then look further.
                    if let Some(unit) = slot.swap(0, Ordering::Acquire).checked_sub(1) {
                        return Some(unit);
                    }
                }
            }
        }
        None
    }

    #[inline]
    fn park(&self, unit: u32) -> bool {
        let value = unit + 1;
        let first = self.first_lane();
        (0..self.lanes.len()).any(|i| {
            self.lane(first, i).iter().any(|slot| {
                slot.load(Ordering::Relaxed) == 0
                    && slot.compare_exchange(0, value, Ordering::Release, Ordering::Relaxed).is_ok()
            })
        })
    }

    fn parked(&self) -> usize {
        self.lanes
            .iter()
            .flat_map(|lane| lane.iter())
            .filter(|slot| slot.load(Ordering::Relaxed) != 0)
            .count()
    }
}

/// The caches of every order, `None` where an order is not cached.
#[derive(Debug)]
pub(super) struct OrderCaches {
    min_order: u32,
    caches: Box<[Option<OrderCache>]>,
}

impl OrderCaches {
    /// Caches of up to `depth` blocks for each order in `cached` (clipped to the tree's orders,
    /// and to an eighth of the region's blocks of that order); `None` caches nothing.
    pub(super) fn new(
        region: usize,
        min_order: u32,
        max_order: u32,
        cached: Option<core::ops::RangeInclusive<u32>>,
        depth: usize,
    ) -> Self {
        let caches = (min_order..=max_order)
            .map(|order| {
                let depth = depth.min((region >> order) / 8);
                let cached = cached.as_ref().is_some_and(|orders| orders.contains(&order));
                (cached && depth > 0).then(|| OrderCache::new(depth))
            })
            .collect();
        Self { min_order, caches }
    }

    #[inline]
    fn cache(&self, order: u32) -> Option<&OrderCache> {
        self.caches[(order - self.min_order) as usize].as_ref()
    }

    /// Whether `order` is cached.
    pub(super) fn caches(&self, order: u32) -> bool {
        self.cache(order).is_some()
    }

    /// A parked block of `order`, if any.
    #[inline]
    pub(super) fn pop(&self, order: u32) -> Option<u32> {
        self.cache(order)?.take()
    }

    /// Parks a free block of `order`; false when the order is not cached or its cache is full
    /// (the caller returns the block to the tree).
    #[inline]
    pub(super) fn push(&self, order: u32, unit: u32) -> bool {
        self.cache(order).is_some_and(|cache| cache.park(unit))
    }

    /// Returns every parked block to `tree`, which coalesces them. Blocks parked concurrently
    /// may stay behind.
    pub(super) fn flush(&self, tree: &mut Tree) {
        for (order, cache) in (self.min_order..).zip(self.caches.iter()) {
            let Some(cache) = cache else { continue };
            while let Some(unit) = cache.take() {
                tree.free(order, unit);
            }
        }
    }

    /// Blocks parked for `order` (approximate under concurrent use).
    pub(super) fn parked(&self, order: u32) -> usize {
        self.cache(order).map_or(0, OrderCache::parked)
    }
}

#[cfg(all(test, not(iobuf_loom)))]
mod tests {
    use super::*;

    #[test]
    fn lanes_hold_depth_blocks_and_threads_take_each_other_s() {
        let cache = OrderCache::new(30);
        assert_eq!(cache.lanes.len(), 4, "30 slots in lanes of 8, 8, 8 and 6");
        // One thread fills every slot (its own lane first, then the others).
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for unit in 0..30 {
                    assert!(cache.park(unit), "slot for block {unit}");
                }
                assert!(!cache.park(30), "30 slots in use: the next free goes to the tree");
            });
        });
        assert_eq!(cache.parked(), 30);
        // Another thread, with another home lane, takes all of them, each once.
        let taken = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let mut taken: Vec<u32> = core::iter::from_fn(|| cache.take()).collect();
                    taken.sort_unstable();
                    taken
                })
                .join()
                .unwrap()
        });
        assert_eq!(taken, (0..30).collect::<Vec<_>>());
        assert_eq!(cache.parked(), 0);
    }

    #[test]
    fn a_thread_takes_back_what_it_parked_last_first() {
        let cache = OrderCache::new(8);
        assert!(cache.park(7) && cache.park(9));
        assert_eq!(cache.take(), Some(7), "the first slot, still warm");
        assert!(cache.park(11));
        assert_eq!((cache.take(), cache.take(), cache.take()), (Some(11), Some(9), None));
    }
}
