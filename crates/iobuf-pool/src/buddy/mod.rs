//! `BuddyAllocator`: buffers of varying sizes carved from ONE region, so one registration
//! covers them all.
//!
//! A binary buddy allocator (`tree`) over the region, with a small lock-free cache per common
//! order in front of it (`cache`); `core` holds the shared state, its lifetime and the waiting.

mod acquire;
mod bitset;
mod cache;
mod core;
mod stats;
mod tree;

use ::core::fmt;
use ::core::ops::RangeInclusive;
use ::core::ptr::NonNull;
use std::time::{Duration, Instant};

use iobuf_align::{Lock, PageKind};

pub use self::acquire::BuddyAcquire;
pub(crate) use self::core::BuddyCore;
use self::core::{BuddySpec, MAX_CACHE_DEPTH, MIN_BLOCK_FLOOR};
pub use self::stats::{BuddyStats, OrderStats};
use crate::PoolError;
use crate::buf::Buf;
use crate::index::BufIndex;
use crate::memory::{MemoryOptions, MemoryRegion, MemoryRegions};
use crate::sync::Arc;

/// Blocks of varying sizes — powers of two from a minimum to a maximum block — carved from one
/// memory region by a binary buddy allocator.
///
/// For I/O whose buffer sizes vary (pages of several sizes, large reads) and whose memory must
/// still be registered with the kernel once: the whole allocator is one [`MemoryRegion`].
/// A request of `size` bytes gets the smallest block of at least `size` bytes (at least the
/// minimum block); larger blocks are split in halves to make it, and a freed block merges with
/// its free *buddy* (the other half it was split from) up to the maximum block. Blocks of the
/// common sizes (4 KiB to 128 KiB by default) are parked in a small lock-free cache per size
/// when freed, so a size used again and again takes no lock and does no split or merge; the
/// rest goes through the tree under a mutex.
///
/// Allocations come back as the same [`Buf`] a [`BufferPool`](crate::BufferPool) gives —
/// `Send`, returned by dropping it from any thread — with [`capacity`](Buf::capacity) the
/// block's size, [`index`](Buf::index) the block's offset in minimum blocks, and
/// [`tier`](Buf::tier) `None`. A block of `n` bytes starts at an offset from the region's start
/// that is a multiple of `n`; the region starts on a boundary of the pages backing it (4 KiB,
/// or 2 MiB / 1 GiB with huge pages), so a block is aligned to its size up to that page size.
///
/// Cloning is cheap (an `Arc`). The memory lives until the last clone, future and buffer are
/// gone.
///
/// When no block fits: [`try_alloc`](Self::try_alloc) fails at once (after returning every
/// cached block to the tree), [`alloc`](Self::alloc) spins, yields, then parks until a free
/// hands it a block, [`alloc_timeout`](Self::alloc_timeout) gives up after a while, and
/// [`acquire`](Self::acquire) is a future. A free hands blocks straight to waiters, in FIFO
/// order among those whose size can be had: a waiter whose block cannot be made yet does not
/// hold up smaller requests behind it (which would deadlock a thread that holds small blocks
/// while it waits for another), so under steady pressure from small requests a large one can
/// wait long.
///
/// # Examples
///
/// ```
/// use iobuf_pool::{BuddyAllocator, MemoryRegions};
///
/// let buddy = BuddyAllocator::builder().region_size(8 << 20).build()?;
/// let page = buddy.try_alloc(4096)?;
/// let read = buddy.try_alloc(300_000)?; // a 512 KiB block
/// assert_eq!((page.capacity(), read.capacity()), (4096, 512 << 10));
/// assert_eq!(page.tier(), None);
/// assert_eq!(buddy.regions().len(), 1); // one registration covers every block
/// let stats = buddy.stats();
/// assert_eq!(stats.allocated, 4096 + (512 << 10));
/// # Ok::<(), iobuf_pool::PoolError>(())
/// ```
#[derive(Clone)]
pub struct BuddyAllocator {
    core: Arc<BuddyCore>,
}

/// Builds a [`BuddyAllocator`]: region size, smallest and largest block, cached sizes, memory,
/// zeroing.
///
/// # Examples
///
/// ```
/// use iobuf_align::PageKind;
/// use iobuf_pool::BuddyAllocator;
///
/// let buddy = BuddyAllocator::builder()
///     .region_size(64 << 20)
///     .min_block(4096)
///     .max_block(4 << 20)               // 16 maximum blocks
///     .cached_sizes(4096..=64 << 10)
///     .cache_depth(16)
///     .page(PageKind::TransparentHuge)  // falls back to normal pages if it must
///     .build()?;
/// assert_eq!(buddy.max_block(), 4 << 20);
/// # Ok::<(), iobuf_pool::PoolError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct BuddyBuilder {
    spec: BuddySpec,
}

/// The default smallest block: one page on most systems.
const DEFAULT_MIN_BLOCK: usize = 4096;
/// The default cached sizes.
const DEFAULT_CACHED: RangeInclusive<usize> = 4096..=128 << 10;
/// The default number of blocks each cached size parks.
const DEFAULT_CACHE_DEPTH: usize = 32;

impl BuddyBuilder {
    /// Sets the bytes to carve blocks from (required): a multiple of the largest block.
    ///
    /// # Examples
    ///
    /// ```
    /// let buddy = iobuf_pool::BuddyAllocator::builder().region_size(1 << 30).build()?; // 1 GiB
    /// assert_eq!(buddy.region_size(), 1 << 30);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn region_size(mut self, bytes: usize) -> Self {
        self.spec.region_size = bytes;
        self
    }

    /// Sets the smallest block (a power of two, at least 512 B; default 4 KiB). Requests
    /// below it get a block of this size.
    ///
    /// # Examples
    ///
    /// ```
    /// let buddy = iobuf_pool::BuddyAllocator::builder().region_size(1 << 20).min_block(512).build()?;
    /// assert_eq!(buddy.try_alloc(100)?.capacity(), 512);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn min_block(mut self, bytes: usize) -> Self {
        self.spec.min_block = bytes;
        self
    }

    /// Sets the largest block (a power of two the region size is a multiple of). The default
    /// is the largest power of two the region size is a multiple of, up to 1 GiB: the whole
    /// region when that is a power of two of at most 1 GiB. 1 GiB is the largest buffer
    /// io_uring registers; a larger maximum is allowed, but iobuf-uring serves blocks above
    /// 1 GiB unregistered (they straddle a registration chunk).
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{BuddyAllocator, PoolError};
    /// let buddy = BuddyAllocator::builder().region_size(3 << 20).build()?;
    /// assert_eq!(buddy.max_block(), 1 << 20); // three maximum blocks
    /// assert!(matches!(buddy.try_alloc(2 << 20), Err(PoolError::TooLarge { .. })));
    /// # Ok::<(), PoolError>(())
    /// ```
    pub fn max_block(mut self, bytes: usize) -> Self {
        self.spec.max_block = Some(bytes);
        self
    }

    /// Sets the block sizes that get a cache in front of the tree (default 4 KiB to 128 KiB):
    /// every order whose block size lies in the range. An empty range caches nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// let buddy = iobuf_pool::BuddyAllocator::builder()
    ///     .region_size(16 << 20)
    ///     .cached_sizes(8192..=8192)
    ///     .build()?;
    /// assert!(buddy.caches_size(8192) && !buddy.caches_size(4096));
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn cached_sizes(mut self, sizes: RangeInclusive<usize>) -> Self {
        self.spec.cached = sizes;
        self
    }

    /// Sets how many free blocks each cached size parks (default 32, at most 64; 0 turns the
    /// caches off). A cache never holds more than an eighth of the region.
    ///
    /// # Examples
    ///
    /// ```
    /// let buddy = iobuf_pool::BuddyAllocator::builder().region_size(1 << 20).cache_depth(0).build()?;
    /// assert!(!buddy.caches_size(4096));
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn cache_depth(mut self, blocks: usize) -> Self {
        self.spec.cache_depth = blocks;
        self
    }

    /// Sets every memory option at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{BuddyAllocator, MemoryOptions};
    /// let buddy = BuddyAllocator::builder()
    ///     .region_size(1 << 20)
    ///     .memory(MemoryOptions::new().populate(true))
    ///     .build()?;
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn memory(mut self, memory: MemoryOptions) -> Self {
        self.spec.memory = memory;
        self
    }

    /// Asks for huge pages (with fallback; [`BuddyAllocator::page_size`] reports what backs
    /// the region).
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_align::PageKind;
    /// let buddy = iobuf_pool::BuddyAllocator::builder().region_size(4 << 20).page(PageKind::Huge2M).build()?;
    /// println!("backed by {} KiB pages", buddy.page_size() / 1024);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn page(mut self, page: PageKind) -> Self {
        self.spec.memory = self.spec.memory.page(page);
        self
    }

    /// Faults the memory in at build time.
    ///
    /// # Examples
    ///
    /// ```
    /// let buddy = iobuf_pool::BuddyAllocator::builder().region_size(1 << 20).populate(true).build()?;
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn populate(mut self, populate: bool) -> Self {
        self.spec.memory = self.spec.memory.populate(populate);
        self
    }

    /// Locks the memory in RAM ([`Lock::BestEffort`] reports the outcome in
    /// [`BuddyAllocator::is_locked`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_align::Lock;
    /// let buddy = iobuf_pool::BuddyAllocator::builder().region_size(1 << 16).lock(Lock::BestEffort).build()?;
    /// println!("locked: {}", buddy.is_locked());
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn lock(mut self, lock: Lock) -> Self {
        self.spec.memory = self.spec.memory.lock(lock);
        self
    }

    /// Zeroes each block when it comes back (the whole block), so no data leaks from one user
    /// to the next.
    ///
    /// # Examples
    ///
    /// ```
    /// let buddy = iobuf_pool::BuddyAllocator::builder().region_size(1 << 16).zero_on_return(true).build()?;
    /// buddy.try_alloc(4096)?[0] = 1;
    /// assert_eq!(buddy.try_alloc(4096)?[0], 0);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn zero_on_return(mut self, zero: bool) -> Self {
        self.spec.zero_on_return = zero;
        self
    }

    /// Checks the configuration, maps the region and builds the allocator, every maximum
    /// block free.
    ///
    /// # Errors
    ///
    /// [`PoolError::ZeroSize`] for a region size of 0 (or unset);
    /// [`PoolError::BuddyConfig`] for a block size that is not a power of two, a minimum block
    /// below 512 B or above the maximum, a region that is not a multiple of the maximum block,
    /// more than 2³¹ minimum blocks, or a cache depth above 64; [`PoolError::Memory`] for
    /// memory the OS refuses.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{BuddyAllocator, BuddyConfigError, PoolError};
    /// let err = BuddyAllocator::builder().region_size(1 << 20).max_block(3000).build().unwrap_err();
    /// assert_eq!(err, PoolError::BuddyConfig(BuddyConfigError::MaxBlockNotPowerOfTwo { max_block: 3000 }));
    /// assert_eq!(BuddyAllocator::builder().build().unwrap_err(), PoolError::ZeroSize);
    /// ```
    pub fn build(self) -> Result<BuddyAllocator, PoolError> {
        Ok(BuddyAllocator { core: BuddyCore::build(&self.spec)? })
    }
}

impl BuddyAllocator {
    /// A builder; only the region size is required.
    ///
    /// # Examples
    ///
    /// ```
    /// let buddy = iobuf_pool::BuddyAllocator::builder().region_size(1 << 20).build()?;
    /// assert_eq!((buddy.min_block(), buddy.max_block()), (4096, 1 << 20));
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn builder() -> BuddyBuilder {
        BuddyBuilder {
            spec: BuddySpec {
                region_size: 0,
                min_block: DEFAULT_MIN_BLOCK,
                max_block: None,
                cached: DEFAULT_CACHED,
                cache_depth: DEFAULT_CACHE_DEPTH,
                memory: MemoryOptions::new(),
                zero_on_return: false,
            },
        }
    }

    /// The smallest block size able to hold `size` bytes: what an allocation of `size` gets.
    ///
    /// # Errors
    ///
    /// [`PoolError::ZeroSize`] for 0; [`PoolError::TooLarge`] above the largest block.
    ///
    /// # Examples
    ///
    /// ```
    /// let buddy = iobuf_pool::BuddyAllocator::builder().region_size(1 << 20).build()?;
    /// assert_eq!(buddy.block_size_for(1)?, 4096);
    /// assert_eq!(buddy.block_size_for(4097)?, 8192);
    /// assert!(buddy.block_size_for((1 << 20) + 1).is_err());
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn block_size_for(&self, size: usize) -> Result<usize, PoolError> {
        Ok(1 << self.core.order_for(size)?)
    }

    /// Allocates a block of at least `size` bytes if one is free, without waiting.
    ///
    /// # Errors
    ///
    /// [`PoolError::ZeroSize`] for 0; [`PoolError::TooLarge`] above the largest block;
    /// [`PoolError::Exhausted`] when no block that large is free, even after every cached
    /// block went back to the tree.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{BuddyAllocator, PoolError};
    /// let buddy = BuddyAllocator::builder().region_size(64 << 10).build()?;
    /// let half = buddy.try_alloc(32 << 10)?;
    /// let quarter = buddy.try_alloc(16 << 10)?;
    /// assert_eq!(buddy.try_alloc(32 << 10).unwrap_err(), PoolError::Exhausted);
    /// assert!(buddy.try_alloc(16 << 10).is_ok()); // the last quarter
    /// # Ok::<(), PoolError>(())
    /// ```
    #[inline]
    pub fn try_alloc(&self, size: usize) -> Result<Buf, PoolError> {
        let order = self.core.order_for(size)?;
        match self.core.take(order) {
            Some(unit) => Ok(Buf::buddy(self.core.clone(), order, unit)),
            None => {
                self.core.saw_exhaustion();
                Err(PoolError::Exhausted)
            }
        }
    }

    /// Allocates a block of at least `size` bytes, waiting as long as it takes: spin, yield,
    /// then park until a free hands one over. FIFO among waiters.
    ///
    /// # Errors
    ///
    /// [`PoolError::ZeroSize`] for 0; [`PoolError::TooLarge`] above the largest block (at once:
    /// no wait could end).
    ///
    /// # Examples
    ///
    /// ```
    /// let buddy = iobuf_pool::BuddyAllocator::builder().region_size(64 << 10).build()?;
    /// let all = buddy.alloc(64 << 10)?;
    /// let other = buddy.clone();
    /// let waiter = std::thread::spawn(move || other.alloc(4096).map(|buf| buf.capacity()));
    /// drop(all); // wakes the waiter
    /// assert_eq!(waiter.join().unwrap()?, 4096);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn alloc(&self, size: usize) -> Result<Buf, PoolError> {
        let order = self.core.order_for(size)?;
        let unit = self.core.take_blocking(order, None).expect("an unbounded wait gets a block");
        Ok(Buf::buddy(self.core.clone(), order, unit))
    }

    /// Allocates a block of at least `size` bytes, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`PoolError::ZeroSize`]; [`PoolError::TooLarge`]; [`PoolError::Timeout`] when no block
    /// came in time.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use iobuf_pool::{BuddyAllocator, PoolError};
    /// let buddy = BuddyAllocator::builder().region_size(64 << 10).build()?;
    /// let _all = buddy.alloc(64 << 10)?;
    /// assert_eq!(buddy.alloc_timeout(1, Duration::from_millis(5)).unwrap_err(), PoolError::Timeout);
    /// # Ok::<(), PoolError>(())
    /// ```
    pub fn alloc_timeout(&self, size: usize, timeout: Duration) -> Result<Buf, PoolError> {
        let order = self.core.order_for(size)?;
        let deadline = Instant::now().checked_add(timeout);
        match self.core.take_blocking(order, deadline) {
            Some(unit) => Ok(Buf::buddy(self.core.clone(), order, unit)),
            None => Err(PoolError::Timeout),
        }
    }

    /// A future for a block of at least `size` bytes; see [`BuddyAcquire`].
    ///
    /// # Errors
    ///
    /// [`PoolError::ZeroSize`]; [`PoolError::TooLarge`] (at once, before any wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::pin::pin;
    /// use std::task::{Context, Poll, Waker};
    /// let buddy = iobuf_pool::BuddyAllocator::builder().region_size(1 << 20).build()?;
    /// let mut fut = pin!(buddy.acquire(10_000)?);
    /// let ready = fut.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    /// assert!(matches!(ready, Poll::Ready(buf) if buf.capacity() == 16 << 10));
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn acquire(&self, size: usize) -> Result<BuddyAcquire, PoolError> {
        Ok(BuddyAcquire::new(self.core.clone(), self.core.order_for(size)?))
    }

    /// Gives back a block that is out as an index ([`Buf::into_index`]).
    ///
    /// # Errors
    ///
    /// [`PoolError::NotOut`] for an index that is not out (a second put); [`PoolError::ForeignIndex`]
    /// for another allocator's or pool's; nothing is freed then.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{BuddyAllocator, PoolError};
    /// let buddy = BuddyAllocator::builder().region_size(1 << 20).build()?;
    /// let index = buddy.try_alloc(8192)?.into_index();
    /// assert_eq!(buddy.stats().allocated, 8192);
    /// buddy.put_index(index)?;
    /// assert_eq!(buddy.stats().allocated, 0);
    /// assert_eq!(buddy.put_index(index), Err(PoolError::NotOut { index: index.index() }));
    /// # Ok::<(), PoolError>(())
    /// ```
    pub fn put_index(&self, index: BufIndex) -> Result<(), PoolError> {
        // Through a handle, so zeroing and waking happen as for any returning buffer.
        drop(self.buf_from_index(index)?);
        Ok(())
    }

    /// Turns a block that is out as an index back into an owning handle.
    ///
    /// # Errors
    ///
    /// As [`put_index`](Self::put_index).
    ///
    /// # Examples
    ///
    /// ```
    /// let buddy = iobuf_pool::BuddyAllocator::builder().region_size(1 << 20).build()?;
    /// let index = buddy.try_alloc(20_000)?.into_index();
    /// let buf = buddy.buf_from_index(index)?;
    /// assert_eq!((buf.index(), buf.capacity()), (index.index(), 32 << 10));
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn buf_from_index(&self, index: BufIndex) -> Result<Buf, PoolError> {
        Buf::buddy_from_index(&self.core, index)
    }

    /// Takes back a buffer given up with [`Buf::into_raw`].
    ///
    /// # Safety
    ///
    /// `ptr` must come from `into_raw` on a buffer of this allocator, and nothing (the kernel
    /// included) may still use the block through it. A pointer that is not the start of one of
    /// this allocator's blocks, or whose block is not out, is refused with an error rather
    /// than trusted.
    ///
    /// # Errors
    ///
    /// [`PoolError::ForeignIndex`] when `ptr` is not the start of a block of this allocator;
    /// [`PoolError::NotOut`] when no block given up with `into_raw` starts there.
    ///
    /// # Examples
    ///
    /// ```
    /// let buddy = iobuf_pool::BuddyAllocator::builder().region_size(1 << 20).build()?;
    /// let raw = buddy.try_alloc(4096)?.into_raw();
    /// // SAFETY: `raw` came from this allocator's `into_raw`, and nothing else uses it.
    /// let buf = unsafe { buddy.buf_from_raw(raw)? };
    /// assert_eq!((buf.as_ptr(), buf.capacity()), (raw.as_ptr().cast_const(), 4096));
    /// // SAFETY: as above; the second call is refused, not trusted.
    /// assert!(unsafe { buddy.buf_from_raw(raw) }.is_err());
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    #[allow(unsafe_code)] // reason: the raw hand-over contract above.
    pub unsafe fn buf_from_raw(&self, ptr: NonNull<u8>) -> Result<Buf, PoolError> {
        self.buf_from_index(self.core.index_at(ptr.as_ptr())?)
    }

    /// Returns every block parked in the per-size caches to the tree, where it merges with its
    /// free buddies. Allocation does this by itself before it reports exhaustion; call it to
    /// read [`stats`](Self::stats) with every free block coalesced, or to hand cached memory
    /// back before a phase of large requests.
    ///
    /// # Examples
    ///
    /// ```
    /// let buddy = iobuf_pool::BuddyAllocator::builder().region_size(1 << 20).build()?;
    /// drop(buddy.try_alloc(4096)?); // parked in the 4 KiB cache
    /// assert_eq!(buddy.stats().cached, 4096);
    /// buddy.trim();
    /// assert_eq!((buddy.stats().cached, buddy.stats().largest_free), (0, 1 << 20));
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn trim(&self) {
        self.core.trim();
    }

    /// A snapshot of the allocator's bookkeeping.
    ///
    /// # Examples
    ///
    /// ```
    /// let buddy = iobuf_pool::BuddyAllocator::builder().region_size(1 << 20).build()?;
    /// let _held = buddy.try_alloc(1 << 20)?;
    /// assert!(buddy.try_alloc(1).is_err());
    /// let stats = buddy.stats();
    /// assert_eq!((stats.allocated, stats.free, stats.exhausted), (1 << 20, 0, 1));
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn stats(&self) -> BuddyStats {
        self.core.stats()
    }

    /// Whether blocks of `size` bytes (rounded up to a block size) are cached in front of the
    /// tree.
    ///
    /// # Examples
    ///
    /// ```
    /// let buddy = iobuf_pool::BuddyAllocator::builder().region_size(16 << 20).build()?;
    /// assert!(buddy.caches_size(4096) && buddy.caches_size(100_000));
    /// assert!(!buddy.caches_size(1 << 20));
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn caches_size(&self, size: usize) -> bool {
        self.core.order_for(size).is_ok_and(|order| self.core.caches(order))
    }

    /// The memory backing every block (one region), for registration with io_uring, RDMA or
    /// DPDK; the same as [`MemoryRegions::regions`].
    ///
    /// # Examples
    ///
    /// ```
    /// let buddy = iobuf_pool::BuddyAllocator::builder().region_size(1 << 20).build()?;
    /// let buf = buddy.try_alloc(4096)?;
    /// assert!(buddy.regions()[0].contains(buf.as_ptr()));
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn regions(&self) -> &[MemoryRegion] {
        &self.core.regions
    }

    /// Bytes blocks are carved from.
    ///
    /// # Examples
    ///
    /// ```
    /// let buddy = iobuf_pool::BuddyAllocator::builder().region_size(3 << 20).build()?;
    /// assert_eq!(buddy.region_size(), 3 << 20);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn region_size(&self) -> usize {
        self.core.region_size()
    }

    /// The smallest block.
    ///
    /// # Examples
    ///
    /// ```
    /// let buddy = iobuf_pool::BuddyAllocator::builder().region_size(1 << 20).min_block(8192).build()?;
    /// assert_eq!(buddy.min_block(), 8192);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn min_block(&self) -> usize {
        1 << self.core.shape.min_order
    }

    /// The largest block.
    ///
    /// # Examples
    ///
    /// ```
    /// let buddy = iobuf_pool::BuddyAllocator::builder().region_size(1 << 20).max_block(1 << 18).build()?;
    /// assert_eq!(buddy.max_block(), 1 << 18);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn max_block(&self) -> usize {
        1 << self.core.shape.max_order
    }

    /// The size of the pages backing the region (after any huge-page fallback).
    ///
    /// # Examples
    ///
    /// ```
    /// let buddy = iobuf_pool::BuddyAllocator::builder().region_size(1 << 20).build()?;
    /// assert!(buddy.page_size() >= iobuf_align::page_size());
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn page_size(&self) -> usize {
        self.core.regions[0].page_size()
    }

    /// Whether the region is locked in RAM.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!iobuf_pool::BuddyAllocator::builder().region_size(1 << 20).build()?.is_locked());
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn is_locked(&self) -> bool {
        self.core.is_locked()
    }

    /// Whether `buf` came from this allocator.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{BuddyAllocator, BufferPool};
    /// let buddy = BuddyAllocator::builder().region_size(1 << 20).build()?;
    /// let pool = BufferPool::builder(4096).capacity(1).build()?;
    /// assert!(buddy.owns(&buddy.try_alloc(1)?));
    /// assert!(!buddy.owns(&pool.try_get()?));
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn owns(&self, buf: &Buf) -> bool {
        buf.pool_id() == self.core.shape.id
    }
}

impl MemoryRegions for BuddyAllocator {
    fn regions(&self) -> &[MemoryRegion] {
        &self.core.regions
    }
}

impl fmt::Debug for BuddyAllocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuddyAllocator")
            .field("id", &self.core.shape.id)
            .field("region_size", &self.region_size())
            .field("min_block", &self.min_block())
            .field("max_block", &self.max_block())
            .field("region", &self.core.regions[0])
            .finish()
    }
}

// The floor and depth limits are part of the documented contract above.
const _: () = assert!(MIN_BLOCK_FLOOR == 512 && MAX_CACHE_DEPTH == 64);
