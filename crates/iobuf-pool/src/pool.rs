//! `BufferPool`: a bounded pool of equal buffers in one region, and its builder.

use core::fmt;
use core::ptr::NonNull;
use std::time::{Duration, Instant};

use iobuf_align::{CACHE_LINE_SIZE, Lock, PageKind, page_size};

use crate::acquire::Acquire;
use crate::buf::Buf;
use crate::cache::DEFAULT_CACHE;
use crate::class::ClassSpec;
use crate::core::{PoolCore, PoolHandle};
use crate::index::BufIndex;
use crate::memory::{MemoryOptions, MemoryRegion, MemoryRegions};
use crate::stats::ClassStats;
use crate::sync::Ordering;
use crate::{PoolError, Tier};

/// The one size class of a `BufferPool`.
const CLASS: usize = 0;

/// A bounded pool of `capacity` equal buffers carved from one memory region.
///
/// Pools start full and never allocate after [`build`](PoolBuilder::build): a get takes a buffer
/// from a per-thread cache or the lock-free SCQ free list, a drop of the [`Buf`] gives it back —
/// from any thread. Cloning the pool is cheap (an `Arc`); the memory lives until the last
/// clone and the last buffer are gone.
///
/// When no buffer is free: [`try_get`](Self::try_get) fails at once,
/// [`get`](Self::get) spins, yields, then parks until a put hands it a buffer,
/// [`get_timeout`](Self::get_timeout) gives up after a while, and [`acquire`](Self::acquire) is
/// a future for async code.
///
/// # Examples
///
/// ```
/// use iobuf_pool::{BufferPool, Tier};
///
/// let pool = BufferPool::builder(Tier::Medium.size()).capacity(64).build()?;
/// let mut buf = pool.get();
/// buf[..4].copy_from_slice(b"data");
/// assert_eq!(pool.available(), 63);
/// drop(buf);
/// assert_eq!(pool.available(), 64);
/// # Ok::<(), iobuf_pool::PoolError>(())
/// ```
#[derive(Clone)]
pub struct BufferPool {
    core: PoolHandle,
}

/// Builds a [`BufferPool`]: buffer size and count, alignment, memory, thread cache, zeroing.
///
/// # Examples
///
/// ```
/// use iobuf_align::PageKind;
/// use iobuf_pool::BufferPool;
///
/// let pool = BufferPool::builder(64 * 1024)
///     .capacity(128)
///     .page(PageKind::TransparentHuge) // falls back to normal pages if it must
///     .cache_size(16)
///     .zero_on_return(true)
///     .build()?;
/// assert_eq!(pool.capacity(), 128);
/// # Ok::<(), iobuf_pool::PoolError>(())
/// ```
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct PoolBuilder {
    buffer_size: usize,
    capacity: usize,
    align: Option<usize>,
    tier: Option<Tier>,
    memory: MemoryOptions,
    cache: Option<usize>,
    zero_on_return: bool,
}

/// The alignment a buffer of `size` bytes gets by default: the page size from a page up
/// (what `O_DIRECT` needs), else the cache line.
pub(crate) fn default_align(size: usize) -> usize {
    if size >= page_size() { page_size() } else { CACHE_LINE_SIZE }
}

impl PoolBuilder {
    /// Sets the number of buffers (required; there is no default).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::builder(32).capacity(10).build()?;
    /// assert_eq!(pool.capacity(), 10);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Sets the alignment of every buffer (a power of two). The default is the page size for
    /// buffers of a page or more, the cache-line size below that; a smaller value is ignored.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::builder(100).capacity(2).align(512).build()?;
    /// assert_eq!(pool.try_get()?.as_ptr() as usize % 512, 0);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn align(mut self, align: usize) -> Self {
        self.align = Some(align);
        self
    }

    /// Sets every memory option at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{BufferPool, MemoryOptions};
    /// let pool = BufferPool::builder(4096).capacity(4).memory(MemoryOptions::new().populate(true)).build()?;
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn memory(mut self, memory: MemoryOptions) -> Self {
        self.memory = memory;
        self
    }

    /// Asks for huge pages (with fallback; [`BufferPool::page_size`] reports what backs it).
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_align::PageKind;
    /// let pool = iobuf_pool::BufferPool::builder(1 << 20).capacity(4).page(PageKind::Huge2M).build()?;
    /// println!("backed by {} KiB pages", pool.page_size() / 1024);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn page(mut self, page: PageKind) -> Self {
        self.memory = self.memory.page(page);
        self
    }

    /// Faults the memory in at build time.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::builder(4096).capacity(4).populate(true).build()?;
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn populate(mut self, populate: bool) -> Self {
        self.memory = self.memory.populate(populate);
        self
    }

    /// Locks the memory in RAM ([`Lock::BestEffort`] reports the outcome in
    /// [`BufferPool::is_locked`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_align::Lock;
    /// let pool = iobuf_pool::BufferPool::builder(4096).capacity(4).lock(Lock::BestEffort).build()?;
    /// println!("locked: {}", pool.is_locked());
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn lock(mut self, lock: Lock) -> Self {
        self.memory = self.memory.lock(lock);
        self
    }

    /// Turns the per-thread cache on (the default) or off.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::builder(64).capacity(4).thread_cache(false).build()?;
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn thread_cache(mut self, on: bool) -> Self {
        self.cache = on.then_some(self.cache.unwrap_or(DEFAULT_CACHE));
        self
    }

    /// Sets the per-thread cache size (2 to 64 indices, default 32); 0 turns the cache off.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{BufferPool, PoolError};
    /// assert!(BufferPool::builder(64).capacity(4).cache_size(8).build().is_ok());
    /// assert!(matches!(
    ///     BufferPool::builder(64).capacity(4).cache_size(65).build(),
    ///     Err(PoolError::CacheSize { .. })
    /// ));
    /// ```
    pub fn cache_size(mut self, size: usize) -> Self {
        self.cache = (size != 0).then_some(size);
        self
    }

    /// Zeroes each buffer when it comes back (so no data leaks from one user to the next).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::builder(64).capacity(1).zero_on_return(true).build()?;
    /// pool.try_get()?[0] = 1;
    /// assert_eq!(pool.try_get()?[0], 0);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn zero_on_return(mut self, zero: bool) -> Self {
        self.zero_on_return = zero;
        self
    }

    /// Maps the memory and builds the pool, every buffer free.
    ///
    /// # Errors
    ///
    /// [`PoolError::ZeroSize`] for a zero buffer size or capacity (capacity unset);
    /// [`PoolError::CapacityTooLarge`] above 2^31 buffers; [`PoolError::CacheSize`];
    /// [`PoolError::Memory`] for a bad alignment, a size overflow, or memory the OS refuses.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{BufferPool, PoolError};
    /// assert_eq!(BufferPool::builder(64).build().unwrap_err(), PoolError::ZeroSize);
    /// ```
    pub fn build(self) -> Result<BufferPool, PoolError> {
        let spec = ClassSpec {
            buffer_size: self.buffer_size,
            align: self.align.map_or(default_align(self.buffer_size), |align| {
                if align.is_power_of_two() {
                    align.max(default_align(self.buffer_size))
                } else {
                    align
                }
            }),
            capacity: self.capacity,
            tier: self.tier,
            cache: self.cache,
        };
        let core = PoolCore::build(&[spec], self.memory, self.zero_on_return)?;
        Ok(BufferPool { core })
    }
}

macro_rules! tier_constructors {
    ($($name:ident => $tier:ident),* $(,)?) => {
        $(
            #[doc = concat!("A pool of `capacity` [`Tier::", stringify!($tier), "`] buffers with the default options.")]
            ///
            /// # Errors
            ///
            /// As [`PoolBuilder::build`].
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let pool = iobuf_pool::BufferPool::", stringify!($name), "(4)?;")]
            #[doc = concat!("assert_eq!(pool.buffer_size(), iobuf_pool::Tier::", stringify!($tier), ".size());")]
            /// # Ok::<(), iobuf_pool::PoolError>(())
            /// ```
            pub fn $name(capacity: usize) -> Result<Self, PoolError> {
                Self::for_tier(Tier::$tier, capacity)
            }
        )*
    };
}

impl BufferPool {
    /// A builder for a pool of `buffer_size`-byte buffers.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::builder(1500).capacity(256).build()?;
    /// assert_eq!(pool.buffer_size(), 1500);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn builder(buffer_size: usize) -> PoolBuilder {
        PoolBuilder {
            buffer_size,
            capacity: 0,
            align: None,
            tier: None,
            memory: MemoryOptions::new(),
            cache: Some(DEFAULT_CACHE),
            zero_on_return: false,
        }
    }

    /// A builder for a pool of `tier`-sized buffers.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{BufferPool, Tier};
    /// let pool = BufferPool::tier_builder(Tier::Big).capacity(8).build()?;
    /// assert_eq!(pool.tier(), Some(Tier::Big));
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn tier_builder(tier: Tier) -> PoolBuilder {
        PoolBuilder { tier: Some(tier), ..Self::builder(tier.size()) }
    }

    /// A pool of `capacity` buffers of `tier`, default options.
    ///
    /// # Errors
    ///
    /// As [`PoolBuilder::build`].
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{BufferPool, Tier};
    /// let pool = BufferPool::for_tier(Tier::Small, 16)?;
    /// assert_eq!(pool.buffer_size(), 2048);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn for_tier(tier: Tier, capacity: usize) -> Result<Self, PoolError> {
        Self::tier_builder(tier).capacity(capacity).build()
    }

    tier_constructors! {
        pico => Pico, nano => Nano, micro => Micro, small => Small, medium => Medium, big => Big,
        large => Large, great => Great, huge => Huge, vast => Vast, giant => Giant, titan => Titan,
    }

    /// Takes a buffer if one is free, without waiting.
    ///
    /// # Errors
    ///
    /// [`PoolError::Exhausted`] when none is free (every thread cache drained first).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::builder(64).capacity(1).build()?;
    /// let first = pool.try_get()?;
    /// assert_eq!(pool.try_get().unwrap_err(), iobuf_pool::PoolError::Exhausted);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    #[inline]
    pub fn try_get(&self) -> Result<Buf, PoolError> {
        match PoolCore::take_counted(&self.core, CLASS) {
            Some(index) => Ok(Buf::new(&self.core, CLASS, index)),
            None => Err(self.exhausted()),
        }
    }

    /// Takes a buffer, waiting as long as it takes: spin, yield, then park until a put hands
    /// one over. FIFO among waiters.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::builder(64).capacity(1).build()?;
    /// let held = pool.get();
    /// let other = pool.clone();
    /// let waiter = std::thread::spawn(move || other.get().index());
    /// drop(held); // wakes the waiter
    /// assert_eq!(waiter.join().unwrap(), 0);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn get(&self) -> Buf {
        let index = PoolCore::take_blocking(&self.core, CLASS, None)
            .expect("an unbounded wait returns a buffer");
        Buf::new(&self.core, CLASS, index)
    }

    /// Takes a buffer, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`PoolError::Timeout`] when none came in time.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = iobuf_pool::BufferPool::builder(64).capacity(1).build()?;
    /// let held = pool.get();
    /// let err = pool.get_timeout(Duration::from_millis(10)).unwrap_err();
    /// assert_eq!(err, iobuf_pool::PoolError::Timeout);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<Buf, PoolError> {
        let deadline = Instant::now().checked_add(timeout);
        match PoolCore::take_blocking(&self.core, CLASS, deadline) {
            Some(index) => Ok(Buf::new(&self.core, CLASS, index)),
            None => Err(PoolError::Timeout),
        }
    }

    /// A future that resolves to a buffer once one is free; see [`Acquire`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::task::{Context, Poll, Waker};
    /// use std::pin::pin;
    /// let pool = iobuf_pool::BufferPool::builder(64).capacity(1).build()?;
    /// let mut fut = pin!(pool.acquire());
    /// let ready = fut.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    /// assert!(matches!(ready, Poll::Ready(_)));
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn acquire(&self) -> Acquire {
        Acquire::new(self.core.clone(), CLASS)
    }

    /// Takes a buffer as a bare index, without waiting, for code that keeps indices itself.
    /// The index stays out until [`put_index`](Self::put_index) or
    /// [`buf_from_index`](Self::buf_from_index).
    ///
    /// # Errors
    ///
    /// [`PoolError::Exhausted`] when none is free.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::builder(64).capacity(2).build()?;
    /// let index = pool.try_get_index()?;
    /// assert_eq!(pool.available(), 1);
    /// pool.put_index(index)?;
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn try_get_index(&self) -> Result<BufIndex, PoolError> {
        PoolCore::try_take_index(&self.core, CLASS).ok_or_else(|| self.exhausted())
    }

    /// Gives an index back.
    ///
    /// The check costs one compare-and-swap on the index's own out-mark (a word per index
    /// holding a generation, so a stale copy from an earlier time out is refused as well as a
    /// second put); handles skip it: the type system already makes them unique.
    ///
    /// # Errors
    ///
    /// [`PoolError::NotOut`] for an index that is not out (a second put, or one a handle owns);
    /// [`PoolError::ForeignIndex`] for another pool's; the free list is never touched then.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{BufferPool, PoolError};
    /// let pool = BufferPool::builder(64).capacity(2).build()?;
    /// let other = BufferPool::builder(64).capacity(2).build()?;
    /// let index = pool.try_get_index()?;
    /// assert_eq!(other.put_index(index), Err(PoolError::ForeignIndex));
    /// pool.put_index(index)?;
    /// assert_eq!(pool.put_index(index), Err(PoolError::NotOut { index: index.index() }));
    /// # Ok::<(), PoolError>(())
    /// ```
    pub fn put_index(&self, index: BufIndex) -> Result<(), PoolError> {
        PoolCore::put_index(&self.core, index)
    }

    /// Turns an index that is out back into an owning handle.
    ///
    /// # Errors
    ///
    /// As [`put_index`](Self::put_index).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::builder(64).capacity(1).build()?;
    /// let index = pool.try_get_index()?;
    /// let buf = pool.buf_from_index(index)?;
    /// assert_eq!(buf.index(), index.index());
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn buf_from_index(&self, index: BufIndex) -> Result<Buf, PoolError> {
        PoolCore::buf_from_index(&self.core, index)
    }

    /// The first byte of the buffer `index` names. Does not check that the index is out.
    ///
    /// # Errors
    ///
    /// [`PoolError::ForeignIndex`] for another pool's index.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::builder(4096).capacity(2).build()?;
    /// let index = pool.try_get_index()?;
    /// assert_eq!(pool.index_ptr(index)?.as_ptr() as usize % 4096, 0);
    /// # pool.put_index(index)?;
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn index_ptr(&self, index: BufIndex) -> Result<NonNull<u8>, PoolError> {
        self.core.index_ptr(index)
    }

    /// The bytes of the buffer `index` names.
    ///
    /// # Safety
    ///
    /// The caller must own `index` (taken with [`try_get_index`](Self::try_get_index) or
    /// [`Buf::into_index`] and not put back) and must not create another reference to the same
    /// buffer (through this method or [`index_slice_mut`](Self::index_slice_mut)) while this
    /// one lives, unless both are shared.
    ///
    /// # Errors
    ///
    /// [`PoolError::ForeignIndex`] for another pool's index.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::builder(64).capacity(1).build()?;
    /// let index = pool.try_get_index()?;
    /// // SAFETY: we own `index` and hold no other reference to its buffer.
    /// let bytes = unsafe { pool.index_slice_mut(index)? };
    /// bytes[0] = 7;
    /// // SAFETY: as above; the mutable reference is gone.
    /// assert_eq!(unsafe { pool.index_slice(index)? }[0], 7);
    /// # pool.put_index(index)?;
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    #[allow(unsafe_code)] // reason: index-level access is unsafe by nature; contract above.
    pub unsafe fn index_slice(&self, index: BufIndex) -> Result<&[u8], PoolError> {
        let ptr = self.core.index_ptr(index)?;
        let len = self.core.index_len(index)?;
        // SAFETY: the buffer is `len` initialised bytes inside memory `self` keeps mapped, and
        // the caller owns it without conflicting references (the contract).
        Ok(unsafe { core::slice::from_raw_parts(ptr.as_ptr(), len) })
    }

    /// The bytes of the buffer `index` names, writable.
    ///
    /// # Safety
    ///
    /// As [`index_slice`](Self::index_slice), and no other reference to the buffer may exist
    /// while this one lives.
    ///
    /// # Errors
    ///
    /// [`PoolError::ForeignIndex`] for another pool's index.
    ///
    /// # Examples
    ///
    /// See [`index_slice`](Self::index_slice).
    #[allow(unsafe_code)] // reason: index-level access is unsafe by nature; contract above.
    #[allow(clippy::mut_from_ref)] // reason: the index, not `&self`, carries the ownership.
    pub unsafe fn index_slice_mut(&self, index: BufIndex) -> Result<&mut [u8], PoolError> {
        let ptr = self.core.index_ptr(index)?;
        let len = self.core.index_len(index)?;
        // SAFETY: as in `index_slice`, and the caller holds no other reference (the contract).
        Ok(unsafe { core::slice::from_raw_parts_mut(ptr.as_ptr(), len) })
    }

    /// Takes back a buffer given up with [`Buf::into_raw`].
    ///
    /// # Safety
    ///
    /// `ptr` must come from `into_raw` on a buffer of this pool, and nothing (the kernel
    /// included) may still use the buffer through it. A second call with the same pointer, a
    /// pointer that is not the start of one of this pool's buffers, or one whose buffer is not
    /// out is refused with an error rather than trusted.
    ///
    /// # Errors
    ///
    /// [`PoolError::ForeignIndex`] when `ptr` is not the start of one of this pool's buffers;
    /// [`PoolError::NotOut`] when that buffer is not out.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::builder(64).capacity(1).build()?;
    /// let raw = pool.try_get()?.into_raw();
    /// // SAFETY: `raw` came from this pool's `into_raw`, and nothing else uses it.
    /// let buf = unsafe { pool.buf_from_raw(raw)? };
    /// assert_eq!(buf.as_ptr(), raw.as_ptr());
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    #[allow(unsafe_code)] // reason: the raw hand-over contract above.
    pub unsafe fn buf_from_raw(&self, ptr: NonNull<u8>) -> Result<Buf, PoolError> {
        PoolCore::buf_from_raw(&self.core, ptr)
    }

    /// The memory backing every buffer (one region), for registration with io_uring, RDMA or
    /// DPDK; the same as [`MemoryRegions::regions`].
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::builder(4096).capacity(2).build()?;
    /// assert_eq!(pool.regions()[0].len(), 8192);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn regions(&self) -> &[MemoryRegion] {
        &self.core.regions
    }

    /// Bytes per buffer.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(iobuf_pool::BufferPool::builder(100).capacity(1).build()?.buffer_size(), 100);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn buffer_size(&self) -> usize {
        self.core.classes[CLASS].buffer_size
    }

    /// Bytes from the start of one buffer to the start of the next: the buffer size rounded
    /// up to the alignment. Buffer `i` starts `i * stride()` bytes into the pool's region.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::BufferPool;
    /// let pool = BufferPool::builder(5000).capacity(2).build()?;
    /// assert_eq!(pool.stride(), 8192); // page aligned from a page up
    /// let first = pool.try_get()?;
    /// assert_eq!(first.as_ptr() as usize - pool.regions()[0].as_ptr() as usize, first.index() as usize * pool.stride());
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn stride(&self) -> usize {
        self.core.classes[CLASS].stride
    }

    /// The tier, when built for one.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(iobuf_pool::BufferPool::nano(1)?.tier(), Some(iobuf_pool::Tier::Nano));
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn tier(&self) -> Option<Tier> {
        self.core.classes[CLASS].tier
    }

    /// Number of buffers.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(iobuf_pool::BufferPool::pico(7)?.capacity(), 7);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.core.classes[CLASS].capacity
    }

    /// Buffers free now (in the free list or parked in thread caches); approximate under
    /// concurrent use.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::pico(3)?;
    /// let _held = pool.try_get()?;
    /// assert_eq!(pool.available(), 2);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn available(&self) -> usize {
        self.stats().available
    }

    /// A snapshot of the pool's counters.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::pico(1)?;
    /// let _held = pool.try_get()?;
    /// assert!(pool.try_get().is_err());
    /// assert_eq!(pool.stats().exhausted, 1);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn stats(&self) -> ClassStats {
        self.core.classes[CLASS].stats()
    }

    /// The size of the pages backing the pool (after any huge-page fallback).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(iobuf_pool::BufferPool::pico(1)?.page_size() >= iobuf_align::page_size());
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn page_size(&self) -> usize {
        self.core.regions[0].page_size()
    }

    /// Whether the pool's memory is locked in RAM.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!iobuf_pool::BufferPool::pico(1)?.is_locked());
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn is_locked(&self) -> bool {
        self.core.is_locked()
    }

    /// Whether `buf` came from this pool.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = (iobuf_pool::BufferPool::pico(1)?, iobuf_pool::BufferPool::pico(1)?);
    /// let buf = a.try_get()?;
    /// assert!(a.owns(&buf) && !b.owns(&buf));
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn owns(&self, buf: &Buf) -> bool {
        buf.pool_id() == self.core.id
    }

    fn exhausted(&self) -> PoolError {
        let class = &self.core.classes[CLASS];
        class.counters.exhausted.fetch_add(1, Ordering::Relaxed);
        class.counters.saw_in_use(class.capacity);
        PoolError::Exhausted
    }
}

impl MemoryRegions for BufferPool {
    fn regions(&self) -> &[MemoryRegion] {
        &self.core.regions
    }
}

impl fmt::Debug for BufferPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufferPool")
            .field("id", &self.core.id)
            .field("buffer_size", &self.buffer_size())
            .field("capacity", &self.capacity())
            .field("region", &self.core.regions[0])
            .finish()
    }
}
