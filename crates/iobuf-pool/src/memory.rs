//! The memory behind a pool, and how it is shown to registrars (io_uring, RDMA, DPDK).
//!
//! # Safety
//!
//! `MemoryRegion` is a plain description (address, length, page size) of memory a pool owns; it
//! grants no access by itself, so sending or sharing it between threads is sound. This module
//! owns that claim and nothing else.
#![allow(unsafe_code)] // reason: Send/Sync for a pointer-carrying description (see module docs).

use core::ptr::NonNull;

use iobuf_align::{Lock, PageKind, StableMemory};
#[cfg(target_os = "linux")]
use iobuf_align::{Region, RegionOptions};

use crate::PoolError;

/// One contiguous range of memory that backs buffers: what a registrar registers.
///
/// A pool's regions stay valid, at the same address, for as long as the pool or any buffer
/// from it lives (architecture invariant 1 and 3).
///
/// # Examples
///
/// ```
/// use iobuf_pool::{BufferPool, MemoryRegions};
///
/// let pool = BufferPool::builder(4096).capacity(8).build()?;
/// let regions = pool.regions();
/// assert_eq!(regions.len(), 1);
/// assert!(regions[0].len() >= 8 * 4096);
/// let buf = pool.try_get()?;
/// assert!(regions[0].contains(buf.as_ptr()));
/// # Ok::<(), iobuf_pool::PoolError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemoryRegion {
    ptr: NonNull<u8>,
    len: usize,
    page_size: usize,
}

// SAFETY: a description of memory, granting no access (see module docs).
unsafe impl Send for MemoryRegion {}
// SAFETY: as above; it is immutable.
unsafe impl Sync for MemoryRegion {}

impl MemoryRegion {
    pub(crate) fn new(ptr: NonNull<u8>, len: usize, page_size: usize) -> Self {
        Self { ptr, len, page_size }
    }

    pub(crate) fn base(&self) -> NonNull<u8> {
        self.ptr
    }

    /// First byte of the region.
    ///
    /// # Examples
    ///
    /// ```
    /// # let pool = iobuf_pool::BufferPool::builder(4096).capacity(1).build()?;
    /// use iobuf_pool::MemoryRegions;
    /// assert_eq!(pool.regions()[0].as_ptr() as usize % 4096, 0);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Length in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// # let pool = iobuf_pool::BufferPool::builder(4096).capacity(3).build()?;
    /// use iobuf_pool::MemoryRegions;
    /// assert_eq!(pool.regions()[0].len(), 3 * 4096);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    #[allow(clippy::len_without_is_empty)] // reason: a region is never empty.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Size of the pages backing the region (what the kernel pins them in: memlock accounting
    /// charges a huge page once).
    ///
    /// # Examples
    ///
    /// ```
    /// # let pool = iobuf_pool::BufferPool::builder(4096).capacity(1).build()?;
    /// use iobuf_pool::MemoryRegions;
    /// assert!(pool.regions()[0].page_size() >= iobuf_align::page_size());
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    /// Whether `ptr` points into the region.
    ///
    /// # Examples
    ///
    /// ```
    /// # let pool = iobuf_pool::BufferPool::builder(4096).capacity(1).build()?;
    /// use iobuf_pool::MemoryRegions;
    /// let region = pool.regions()[0];
    /// assert!(region.contains(region.as_ptr()));
    /// assert!(!region.contains(region.as_ptr().wrapping_add(region.len())));
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn contains(&self, ptr: *const u8) -> bool {
        (ptr as usize).wrapping_sub(self.ptr.as_ptr() as usize) < self.len
    }
}

/// Anything whose buffers live in a fixed list of [`MemoryRegion`]s: pools, arenas, the buddy
/// allocator. A registrar takes `&impl MemoryRegions` and registers each region once.
///
/// # Examples
///
/// ```
/// use iobuf_pool::{BufferPool, MemoryRegions};
///
/// fn bytes_to_pin(source: &impl MemoryRegions) -> usize {
///     source.regions().iter().map(|r| r.len()).sum()
/// }
/// let pool = BufferPool::builder(2048).capacity(4).build()?;
/// assert!(bytes_to_pin(&pool) >= 4 * 2048);
/// # Ok::<(), iobuf_pool::PoolError>(())
/// ```
pub trait MemoryRegions {
    /// The regions, in address order. Never empty, never changing for the value's lifetime.
    fn regions(&self) -> &[MemoryRegion];
}

/// How a pool's memory is mapped.
///
/// # Examples
///
/// ```
/// use iobuf_pool::MemoryOptions;
/// use iobuf_align::{Lock, PageKind};
///
/// let options = MemoryOptions::new().page(PageKind::Huge2M).populate(true).lock(Lock::BestEffort);
/// assert_eq!(options.page_kind(), PageKind::Huge2M);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MemoryOptions {
    page: Option<PageKind>,
    populate: bool,
    lock: Lock,
}

impl MemoryOptions {
    /// Normal pages, not populated, not locked.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!iobuf_pool::MemoryOptions::new().populates());
    /// ```
    pub const fn new() -> Self {
        Self { page: None, populate: false, lock: Lock::No }
    }

    /// Page kind to ask for. Huge pages always fall back (explicit → transparent → normal);
    /// the pool's [`MemoryRegion::page_size`] reports what was obtained.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_align::PageKind;
    /// let options = iobuf_pool::MemoryOptions::new().page(PageKind::TransparentHuge);
    /// assert_eq!(options.page_kind(), PageKind::TransparentHuge);
    /// ```
    #[must_use]
    pub const fn page(mut self, page: PageKind) -> Self {
        self.page = Some(page);
        self
    }

    /// Fault every page in when the pool is built, so the first I/O does not pay for it.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(iobuf_pool::MemoryOptions::new().populate(true).populates());
    /// ```
    #[must_use]
    pub const fn populate(mut self, populate: bool) -> Self {
        self.populate = populate;
        self
    }

    /// Whether to `mlock` the pool's memory.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_align::Lock;
    /// assert_eq!(iobuf_pool::MemoryOptions::new().lock(Lock::Required).locking(), Lock::Required);
    /// ```
    #[must_use]
    pub const fn lock(mut self, lock: Lock) -> Self {
        self.lock = lock;
        self
    }

    /// The page kind asked for (normal unless set).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(iobuf_pool::MemoryOptions::new().page_kind(), iobuf_align::PageKind::Normal);
    /// ```
    pub const fn page_kind(&self) -> PageKind {
        match self.page {
            Some(page) => page,
            None => PageKind::Normal,
        }
    }

    /// Whether pages are faulted in at build time.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!iobuf_pool::MemoryOptions::new().populates());
    /// ```
    pub const fn populates(&self) -> bool {
        self.populate
    }

    /// The locking asked for.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(iobuf_pool::MemoryOptions::new().locking(), iobuf_align::Lock::No);
    /// ```
    pub const fn locking(&self) -> Lock {
        self.lock
    }
}

/// The owned memory under a pool: one mmap region on Linux, one page-aligned heap block
/// elsewhere.
#[derive(Debug)]
pub(crate) struct Backing {
    #[cfg(target_os = "linux")]
    memory: Region,
    #[cfg(not(target_os = "linux"))]
    memory: iobuf_align::AlignedBlock,
}

impl Backing {
    /// At least `len` bytes aligned to at least `align` (≤ the page size, or ≤ the huge page
    /// size when huge pages were obtained; callers check).
    pub(crate) fn map(len: usize, options: MemoryOptions) -> Result<Self, PoolError> {
        #[cfg(target_os = "linux")]
        {
            let region_options = RegionOptions::new()
                .page(options.page_kind())
                .allow_fallback(true)
                .populate(options.populate)
                .lock(options.lock);
            Ok(Self { memory: Region::map(len, region_options)? })
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = options;
            Ok(Self { memory: iobuf_align::AlignedBlock::page_aligned(len)? })
        }
    }

    pub(crate) fn base(&self) -> NonNull<u8> {
        self.memory.base()
    }

    /// The page size backing the memory.
    pub(crate) fn page_size(&self) -> usize {
        #[cfg(target_os = "linux")]
        return self.memory.page_size();
        #[cfg(not(target_os = "linux"))]
        return iobuf_align::page_size();
    }

    /// Whether the memory is locked in RAM.
    pub(crate) fn is_locked(&self) -> bool {
        #[cfg(target_os = "linux")]
        return self.memory.is_locked();
        #[cfg(not(target_os = "linux"))]
        return false;
    }
}
