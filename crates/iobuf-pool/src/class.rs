//! One size class: equal buffers carved from a slice of the pool's region, their free list,
//! thread caches, waiters and counters. A `BufferPool` has one; an `Arena` one per tier.

use core::ptr::NonNull;

use iobuf_queue::IndexRing;

use crate::barrier;
use crate::cache::CacheRegistry;
use crate::marks::OutMarks;
use crate::memory::MemoryRegion;
use crate::stats::{ClassStats, Counters};
use crate::sync::Ordering;
use crate::wait::WaitQueue;
use crate::{PoolError, Tier};

/// Equal buffers in one slice of the pool's memory.
pub(crate) struct SizeClass {
    pub(crate) buffer_size: usize,
    pub(crate) stride: usize,
    /// The slice of the pool's region this class's buffers occupy.
    slice: MemoryRegion,
    pub(crate) capacity: usize,
    pub(crate) tier: Option<Tier>,
    pub(crate) free: IndexRing,
    pub(crate) out_marks: OutMarks,
    pub(crate) waiters: WaitQueue,
    pub(crate) caches: CacheRegistry,
    pub(crate) counters: Counters,
}

/// How a class is to be built.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClassSpec {
    pub(crate) buffer_size: usize,
    pub(crate) align: usize,
    pub(crate) capacity: usize,
    pub(crate) tier: Option<Tier>,
    pub(crate) cache: Option<usize>,
}

impl ClassSpec {
    /// Bytes between buffer starts.
    pub(crate) fn stride(&self) -> usize {
        self.buffer_size.next_multiple_of(self.align)
    }
}

impl SizeClass {
    /// A class over `capacity` buffers starting at `base`, all free.
    pub(crate) fn new(
        spec: ClassSpec,
        base: NonNull<u8>,
        page_size: usize,
    ) -> Result<Self, PoolError> {
        let free = IndexRing::new_full(spec.capacity).map_err(|_| PoolError::CapacityTooLarge {
            requested: spec.capacity,
            max: crate::core::MAX_CAPACITY,
        })?;
        Ok(Self {
            buffer_size: spec.buffer_size,
            stride: spec.stride(),
            slice: MemoryRegion::new(base, spec.stride() * spec.capacity, page_size),
            capacity: spec.capacity,
            tier: spec.tier,
            free,
            out_marks: OutMarks::new(spec.capacity),
            waiters: WaitQueue::default(),
            caches: CacheRegistry::new(spec.cache.unwrap_or(0)),
            counters: Counters::default(),
        })
    }

    /// First byte of buffer `index` (`index < capacity`).
    #[inline]
    pub(crate) fn ptr(&self, index: u32) -> NonNull<u8> {
        debug_assert!((index as usize) < self.capacity);
        let offset = index as usize * self.stride;
        self.slice.base().map_addr(|addr| addr.saturating_add(offset))
    }

    /// The index of the buffer starting at `ptr`, if it is one of this class's.
    pub(crate) fn index_of(&self, ptr: *const u8) -> Option<u32> {
        let offset = (ptr as usize).checked_sub(self.slice.as_ptr() as usize)?;
        let index = offset / self.stride;
        (offset % self.stride == 0 && index < self.capacity).then_some(index as u32)
    }

    /// Takes a free index straight from the ring, or — when the ring is empty — after draining
    /// every thread cache into it.
    #[inline(never)]
    pub(crate) fn take_uncached(&self) -> Option<u32> {
        self.free.pop().or_else(|| self.take_after_drain())
    }

    /// Drains every thread cache into the ring and takes one index (see
    /// [`CacheRegistry::drain_all`](crate::cache::CacheRegistry::drain_all)).
    fn take_after_drain(&self) -> Option<u32> {
        if !self.caches.caches_indices() {
            return None;
        }
        self.caches.drain_all(&self.free)
    }

    /// After an index was published (to a cache or the ring): serve waiters if there are any.
    /// The light barrier orders the publication before the waiter-count read (see `wait`).
    #[inline]
    pub(crate) fn after_publish(&self) {
        barrier::light();
        if self.waiters.has_waiters() {
            self.serve_waiters();
        }
    }

    /// Hands free indices to queued waiters in FIFO order.
    #[cold]
    #[inline(never)]
    pub(crate) fn serve_waiters(&self) -> usize {
        self.waiters.serve(|_| self.take_uncached())
    }

    /// A snapshot of the class's counters.
    pub(crate) fn stats(&self) -> ClassStats {
        let parked = self.caches.parked();
        let available = (self.free.len() + parked).min(self.capacity);
        let in_use = self.capacity - available;
        self.counters.saw_in_use(in_use);
        ClassStats {
            tier: self.tier,
            buffer_size: self.buffer_size,
            capacity: self.capacity,
            available,
            in_use,
            high_water: self.counters.high_water.load(Ordering::Relaxed) as usize,
            exhausted: self.counters.exhausted.load(Ordering::Relaxed),
            waits: self.counters.waits.load(Ordering::Relaxed),
            waiting: self.waiters.len(),
        }
    }
}
