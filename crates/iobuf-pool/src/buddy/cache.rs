//! The per-order block cache: for each common order, a small lock-free queue of free blocks
//! in front of the tree, so a size that is allocated and freed again and again takes no lock
//! and does no split or merge.
//!
//! Each cached order has a bounded MPMC queue ([`BoundedQueue`], the SCQ paper's general
//! construction over two index rings) of block start units. A free pushes the block there when
//! there is room and otherwise returns it to the tree (coalescing); an allocation pops from it
//! before it takes the tree's lock. Blocks parked here count as used by the tree, so they cannot
//! coalesce: the allocator flushes every cache back into the tree before it reports exhaustion
//! (and on [`trim`](super::BuddyAllocator::trim)), and each cache holds at most an eighth of
//! the region.

use iobuf_queue::BoundedQueue;

use super::tree::Tree;

/// The caches of every order, `None` where an order is not cached.
#[derive(Debug)]
pub(super) struct OrderCaches {
    min_order: u32,
    queues: Box<[Option<BoundedQueue<u32>>]>,
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
        let queues = (min_order..=max_order)
            .map(|order| {
                let depth = depth.min((region >> order) / 8);
                let cached = cached.as_ref().is_some_and(|orders| orders.contains(&order));
                (cached && depth > 0)
                    .then(|| BoundedQueue::new(depth).expect("depth is within 1..=MAX_CACHE_DEPTH"))
            })
            .collect();
        Self { min_order, queues }
    }

    fn queue(&self, order: u32) -> Option<&BoundedQueue<u32>> {
        self.queues[(order - self.min_order) as usize].as_ref()
    }

    /// Whether `order` is cached.
    pub(super) fn caches(&self, order: u32) -> bool {
        self.queue(order).is_some()
    }

    /// A cached block of `order`, if any.
    #[inline]
    pub(super) fn pop(&self, order: u32) -> Option<u32> {
        self.queue(order)?.try_pop()
    }

    /// Parks a free block of `order`; false when the order is not cached or its cache is full
    /// (the caller returns the block to the tree).
    #[inline]
    pub(super) fn push(&self, order: u32, unit: u32) -> bool {
        self.queue(order).is_some_and(|queue| queue.try_push(unit).is_ok())
    }

    /// Returns every parked block to `tree`, which coalesces them. Blocks parked concurrently
    /// may stay behind.
    pub(super) fn flush(&self, tree: &mut Tree) {
        for (order, queue) in (self.min_order..).zip(self.queues.iter()) {
            let Some(queue) = queue else { continue };
            while let Some(unit) = queue.try_pop() {
                tree.free(order, unit);
            }
        }
    }

    /// Blocks parked for `order` (approximate under concurrent use).
    pub(super) fn parked(&self, order: u32) -> usize {
        self.queue(order).map_or(0, BoundedQueue::len)
    }
}
