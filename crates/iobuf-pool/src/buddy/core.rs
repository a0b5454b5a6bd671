//! The shared state behind a buddy allocator: one region, the tree behind a mutex, the
//! per-order caches in front of it, the wait queue, and the marks of blocks out as indices.
//!
//! # Lifetime
//!
//! Allocator handles, futures and every buffer hold one strong count of the core's `Arc` (a
//! buffer as a raw pointer; see `buf`), so the memory goes with the last of them, exactly once
//! (architecture invariant 3). A returning buffer gives its block back before it gives up its
//! count. Unlike the tiered pool, a buddy allocation already touches shared lines (the cache
//! queue or the tree lock), so the count costs little beside it, and the core needs no
//! retirement step.
//!
//! # Waiting
//!
//! As in the pool (`crate::wait`): a getter that finds nothing queues (FIFO) with the order it
//! wants, issues a heavy barrier and serves the queue; every free publishes its block, issues a
//! light barrier and serves the queue only if someone waits (one load otherwise). Serving takes
//! a block of each waiter's order in turn (cache, tree, then every cache flushed into the tree),
//! passing over those no block can be made for, and hands it over, so a woken waiter already
//! owns its block.

use core::ptr::NonNull;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use iobuf_align::CachePadded;

use super::cache::OrderCaches;
use super::stats::{BuddyStats, OrderStats};
use super::tree::Tree;
use crate::barrier;
use crate::core::{ThreadWaker, WaitState, next_pool_id, park_timeout};
use crate::index::BufIndex;
use crate::marks::OutMarks;
use crate::memory::{Backing, MemoryOptions, MemoryRegion};
use crate::sync::{self, Arc, AtomicU64, Backoff, Mutex, Ordering};
use crate::wait::WaitQueue;
use crate::{BuddyConfigError, PoolError};

/// The smallest minimum block: one disk sector, what `O_DIRECT` needs at least.
pub(crate) const MIN_BLOCK_FLOOR: usize = 512;
/// The largest default maximum block: io_uring registers at most 1 GiB per buffer, and
/// registration cuts regions every 1 GiB, so no block of the default shape straddles a cut.
pub(crate) const DEFAULT_MAX_BLOCK_CAP: usize = 1 << 30;
/// The most blocks a cached order parks.
pub(crate) const MAX_CACHE_DEPTH: usize = 64;
/// Units (minimum blocks) a region holds at most: a block's start is a `u32`, and a cache slot
/// holds `1 + unit`.
const MAX_UNITS: usize = 1 << 31;

/// How a buddy allocator is to be built (checked by [`BuddyCore::build`]).
#[derive(Debug, Clone)]
pub(crate) struct BuddySpec {
    pub(crate) region_size: usize,
    pub(crate) min_block: usize,
    /// `None`: the largest power of two that divides the region size.
    pub(crate) max_block: Option<usize>,
    pub(crate) cached: core::ops::RangeInclusive<usize>,
    pub(crate) cache_depth: usize,
    pub(crate) memory: MemoryOptions,
    pub(crate) zero_on_return: bool,
}

/// What never changes after build, read by every allocation and free.
#[derive(Debug)]
pub(crate) struct Shape {
    pub(crate) id: u64,
    /// The `region_size` bytes blocks are carved from (the start of the mapping).
    arena: MemoryRegion,
    pub(crate) min_order: u32,
    pub(crate) max_order: u32,
    pub(crate) zero_on_return: bool,
}

/// Slow-path counters.
#[derive(Debug, Default)]
struct Counters {
    exhausted: AtomicU64,
    waits: AtomicU64,
}

/// A buddy allocator's memory and bookkeeping.
pub(crate) struct BuddyCore {
    /// First, and padded: the `Arc` counts every buffer bumps get a line to themselves.
    pub(crate) shape: CachePadded<Shape>,
    tree: CachePadded<Mutex<Tree>>,
    caches: OrderCaches,
    waiters: CachePadded<WaitQueue>,
    /// Per unit: 0, or 1 + the order of the block starting there while it is out as an index
    /// or a raw pointer (so a second put, or a put with a stale index, is refused).
    out_marks: OutMarks,
    counters: Counters,
    pub(crate) regions: [MemoryRegion; 1],
    /// Keeps the memory mapped for as long as the core lives.
    backing: Backing,
}

impl core::fmt::Debug for BuddyCore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BuddyCore")
            .field("id", &self.shape.id)
            .field("min_order", &self.shape.min_order)
            .field("max_order", &self.shape.max_order)
            .field("region", &self.regions[0])
            .finish()
    }
}

/// `log2` of a power of two.
fn order_of(size: usize) -> u32 {
    size.trailing_zeros()
}

impl BuddySpec {
    /// The checked shape: `(min_order, max_order)`.
    fn orders(&self) -> Result<(u32, u32), PoolError> {
        let config = |err| Err(PoolError::BuddyConfig(err));
        let (region_size, min_block) = (self.region_size, self.min_block);
        if region_size == 0 {
            return Err(PoolError::ZeroSize);
        }
        if !min_block.is_power_of_two() {
            return config(BuddyConfigError::MinBlockNotPowerOfTwo { min_block });
        }
        if min_block < MIN_BLOCK_FLOOR {
            return config(BuddyConfigError::MinBlockTooSmall {
                min_block,
                floor: MIN_BLOCK_FLOOR,
            });
        }
        let max_block = match self.max_block {
            Some(max_block) if !max_block.is_power_of_two() => {
                return config(BuddyConfigError::MaxBlockNotPowerOfTwo { max_block });
            }
            Some(max_block) => max_block,
            // The largest power of two the region is a multiple of, capped so that no block
            // straddles a 1 GiB registration chunk.
            None => (1 << region_size.trailing_zeros()).min(DEFAULT_MAX_BLOCK_CAP),
        };
        if min_block > max_block {
            if self.max_block.is_none() {
                // The region is not even a multiple of the minimum block.
                return config(BuddyConfigError::RegionNotMultiple {
                    region_size,
                    max_block: min_block,
                });
            }
            return config(BuddyConfigError::MinAboveMax { min_block, max_block });
        }
        if region_size % max_block != 0 {
            return config(BuddyConfigError::RegionNotMultiple { region_size, max_block });
        }
        let blocks = region_size / min_block;
        if blocks > MAX_UNITS {
            return config(BuddyConfigError::TooManyBlocks { blocks, max: MAX_UNITS });
        }
        if self.cache_depth > MAX_CACHE_DEPTH {
            return config(BuddyConfigError::CacheDepth {
                requested: self.cache_depth,
                max: MAX_CACHE_DEPTH,
            });
        }
        Ok((order_of(min_block), order_of(max_block)))
    }

    /// The orders whose block size lies in the cached range; `None` when none does.
    fn cached_orders(&self) -> Option<core::ops::RangeInclusive<u32>> {
        let (&low, &high) = (self.cached.start(), self.cached.end());
        if high == 0 || low > high {
            return None;
        }
        let first = low.max(1).checked_next_power_of_two().map_or(usize::BITS, order_of);
        let last = usize::BITS - 1 - high.leading_zeros();
        (first <= last).then_some(first..=last)
    }
}

impl BuddyCore {
    /// Checks `spec`, maps the region and builds the allocator, every maximum block free.
    pub(crate) fn build(spec: &BuddySpec) -> Result<Arc<Self>, PoolError> {
        let (min_order, max_order) = spec.orders()?;
        barrier::init();
        let backing = Backing::map(spec.region_size, spec.memory)?;
        let arena = MemoryRegion::new(backing.base(), spec.region_size, backing.page_size());
        let units = spec.region_size >> min_order;
        Ok(Arc::new(Self {
            shape: CachePadded::new(Shape {
                id: next_pool_id(),
                arena,
                min_order,
                max_order,
                zero_on_return: spec.zero_on_return,
            }),
            tree: CachePadded::new(Mutex::new(Tree::new(spec.region_size, min_order, max_order))),
            caches: OrderCaches::new(
                spec.region_size,
                min_order,
                max_order,
                spec.cached_orders(),
                spec.cache_depth,
            ),
            waiters: CachePadded::new(WaitQueue::default()),
            out_marks: OutMarks::new(units),
            counters: Counters::default(),
            // Blocks are carved from the start of the mapping: the region to register is
            // exactly the `region_size` bytes they cover.
            regions: [arena],
            backing,
        }))
    }

    /// Bytes blocks are carved from.
    pub(crate) fn region_size(&self) -> usize {
        self.shape.arena.len()
    }

    /// Whether the memory is locked in RAM.
    pub(crate) fn is_locked(&self) -> bool {
        self.backing.is_locked()
    }

    /// Whether `order` has a cache in front of the tree.
    pub(crate) fn caches(&self, order: u32) -> bool {
        self.caches.caches(order)
    }

    /// The order of the block that serves `size` bytes.
    #[inline]
    pub(crate) fn order_for(&self, size: usize) -> Result<u32, PoolError> {
        let max = 1usize << self.shape.max_order;
        if size == 0 {
            return Err(PoolError::ZeroSize);
        }
        if size > max {
            return Err(PoolError::TooLarge { size, max });
        }
        Ok(order_of(size.next_power_of_two()).max(self.shape.min_order))
    }

    /// The first byte of the block starting at `unit`.
    #[inline]
    pub(crate) fn ptr(&self, unit: u32) -> NonNull<u8> {
        let offset = (unit as usize) << self.shape.min_order;
        self.shape.arena.base().map_addr(|addr| addr.saturating_add(offset))
    }

    /// Takes a free block of `order` without waiting: its cache, then the tree. `None` means
    /// none is free even after every cache went back into the tree.
    #[inline]
    pub(crate) fn take(&self, order: u32) -> Option<u32> {
        self.caches.pop(order).or_else(|| self.take_from_tree(order))
    }

    #[inline(never)]
    fn take_from_tree(&self, order: u32) -> Option<u32> {
        let mut tree = sync::lock(&self.tree);
        tree.alloc(order).or_else(|| {
            // Blocks parked in caches cannot coalesce: give them back and look again.
            self.caches.flush(&mut tree);
            tree.alloc(order)
        })
    }

    /// Gives a free block back — to its order's cache when there is room, else to the tree —
    /// then serves waiters, if any. The caller has finished with the block's bytes.
    #[inline]
    pub(crate) fn give(&self, order: u32, unit: u32) {
        if !self.caches.push(order, unit) {
            sync::lock(&self.tree).free(order, unit);
        }
        // Orders the publication above before the waiter check (see `crate::wait`).
        barrier::light();
        if self.waiters.has_waiters() {
            self.serve_waiters();
        }
    }

    /// Hands free blocks to queued waiters in FIFO order.
    #[cold]
    #[inline(never)]
    fn serve_waiters(&self) -> usize {
        self.waiters.serve(|order| self.take(u32::from(order)))
    }

    /// Counts a request that found nothing.
    pub(crate) fn saw_exhaustion(&self) {
        self.counters.exhausted.fetch_add(1, Ordering::Relaxed);
    }

    /// One poll of a wait for a block of `order`.
    pub(crate) fn poll_take(
        &self,
        order: u32,
        state: &mut WaitState,
        cx: &mut Context<'_>,
    ) -> Poll<u32> {
        let granted = match state {
            WaitState::Idle => {
                if let Some(unit) = self.take(order) {
                    *state = WaitState::Done;
                    return Poll::Ready(unit);
                }
                self.saw_exhaustion();
                self.counters.waits.fetch_add(1, Ordering::Relaxed);
                let waiter = self.waiters.register(order as u8, cx.waker().clone());
                // Pairs with the light barrier of every free: a free that published before our
                // registration was visible is found by this serve.
                barrier::heavy();
                self.serve_waiters();
                let granted = waiter.granted();
                *state = WaitState::Queued(waiter);
                granted
            }
            WaitState::Queued(waiter) => {
                waiter.granted().or_else(|| self.waiters.update_waker(waiter, cx.waker()))
            }
            WaitState::Done => panic!("iobuf-pool: wait polled after it completed"),
        };
        match granted {
            Some(unit) => {
                *state = WaitState::Done;
                Poll::Ready(unit)
            }
            None => Poll::Pending,
        }
    }

    /// Leaves the wait queue; returns the block granted before leaving, if any (the caller
    /// owns it: use it or [`give`](Self::give) it back).
    pub(crate) fn cancel_wait(&self, state: &mut WaitState) -> Option<u32> {
        match core::mem::take(state) {
            WaitState::Queued(waiter) => self.waiters.cancel(&waiter),
            _ => None,
        }
    }

    /// Takes a block of `order`, waiting as long as it takes or until `deadline`: spin, then
    /// yield, then park until a free hands one over.
    pub(crate) fn take_blocking(&self, order: u32, deadline: Option<Instant>) -> Option<u32> {
        let backoff = Backoff::new();
        while !backoff.is_completed() {
            if let Some(unit) = self.take(order) {
                return Some(unit);
            }
            backoff.snooze();
        }
        let waker = Waker::from(std::sync::Arc::new(ThreadWaker(sync::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut state = WaitState::Idle;
        loop {
            if let Poll::Ready(unit) = self.poll_take(order, &mut state, &mut cx) {
                return Some(unit);
            }
            match deadline {
                None => sync::thread::park(),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        // A grant that raced the timeout is a success, not a loss.
                        return self.cancel_wait(&mut state);
                    }
                    park_timeout(deadline - now);
                }
            }
        }
    }

    /// Marks the block of `order` at `unit` out as an index; the buffer's count moves to it.
    pub(crate) fn mark_out(&self, order: u32, unit: u32) -> BufIndex {
        let stamp = self.out_marks.mark_out(unit, order as u8 + 1);
        BufIndex::new(self.shape.id, order as u8, unit, stamp)
    }

    /// Checks `index` names a block of this allocator that is out as an index, and marks it
    /// back in. Returns `(order, unit)`; the index's count moves to the caller.
    pub(crate) fn mark_in(&self, index: BufIndex) -> Result<(u32, u32), PoolError> {
        if index.pool() != self.shape.id {
            return Err(PoolError::ForeignIndex);
        }
        let (order, unit) = (index.class() as u32, index.index());
        let units = self.out_marks.len();
        if unit as usize >= units {
            return Err(PoolError::OutOfRange { index: unit, capacity: units });
        }
        // The stamp's tag is the order the block went out with: a forged order cannot match.
        if OutMarks::tag(index.stamp()) != order as u8 + 1
            || !self.out_marks.mark_in(unit, index.stamp())
        {
            return Err(PoolError::NotOut { index: unit });
        }
        Ok((order, unit))
    }

    /// The index of the block that starts at `ptr` and is out (as an index or raw pointer).
    pub(crate) fn index_at(&self, ptr: *const u8) -> Result<BufIndex, PoolError> {
        let arena = &self.shape.arena;
        if !arena.contains(ptr) {
            return Err(PoolError::ForeignIndex);
        }
        let offset = ptr as usize - arena.as_ptr() as usize;
        if offset % (1 << self.shape.min_order) != 0 {
            return Err(PoolError::ForeignIndex);
        }
        let unit = (offset >> self.shape.min_order) as u32;
        match self.out_marks.current(unit) {
            None => Err(PoolError::NotOut { index: unit }),
            Some(stamp) => Ok(BufIndex::new(self.shape.id, OutMarks::tag(stamp) - 1, unit, stamp)),
        }
    }

    /// Returns every cached block to the tree.
    pub(crate) fn trim(&self) {
        let mut tree = sync::lock(&self.tree);
        self.caches.flush(&mut tree);
    }

    /// A snapshot of the bookkeeping.
    pub(crate) fn stats(&self) -> BuddyStats {
        let tree = sync::lock(&self.tree);
        let orders: Vec<OrderStats> = (self.shape.min_order..=self.shape.max_order)
            .map(|order| OrderStats {
                block_size: 1 << order,
                free_blocks: tree.free_blocks(order),
                cached_blocks: self.caches.parked(order),
            })
            .collect();
        let cached: usize = orders.iter().map(|o| o.block_size * o.cached_blocks).sum();
        let used = tree.used();
        BuddyStats {
            region_size: self.region_size(),
            min_block: 1 << self.shape.min_order,
            max_block: 1 << self.shape.max_order,
            allocated: used.saturating_sub(cached),
            cached: cached.min(used),
            free: self.region_size() - used,
            largest_free: tree.largest_free(),
            orders,
            exhausted: self.counters.exhausted.load(Ordering::Relaxed),
            waits: self.counters.waits.load(Ordering::Relaxed),
            waiting: self.waiters.len(),
        }
    }
}
