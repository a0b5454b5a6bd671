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
//! emptied and refilled with `u` holds a free block `u` all the same. A scan that finds nothing
//! reads at most `depth` (≤ 64) words on two to four cache lines.
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

/// The free blocks parked for one order.
#[derive(Debug)]
struct OrderCache {
    /// 0, or `1 + unit` of a parked block.
    slots: Box<[AtomicU32]>,
}

impl OrderCache {
    fn new(depth: usize) -> Self {
        Self { slots: (0..depth).map(|_| AtomicU32::new(0)).collect() }
    }

    #[inline]
    fn take(&self) -> Option<u32> {
        for slot in self.slots.iter() {
            if slot.load(Ordering::Relaxed) != 0 {
                // Another thread may have taken it since the load: then look further.
                if let Some(unit) = slot.swap(0, Ordering::Acquire).checked_sub(1) {
                    return Some(unit);
                }
            }
        }
        None
    }

    #[inline]
    fn park(&self, unit: u32) -> bool {
        let value = unit + 1;
        self.slots.iter().any(|slot| {
            slot.load(Ordering::Relaxed) == 0
                && slot.compare_exchange(0, value, Ordering::Release, Ordering::Relaxed).is_ok()
        })
    }

    fn parked(&self) -> usize {
        self.slots.iter().filter(|slot| slot.load(Ordering::Relaxed) != 0).count()
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
