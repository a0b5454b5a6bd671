//! `Arena`: several tiers, each with its own buffer count, in ONE region — one registration
//! covers every buffer of every size.

use core::fmt;
use core::ptr::NonNull;
use std::time::{Duration, Instant};

use iobuf_align::{Lock, PageKind};

use crate::acquire::Acquire;
use crate::buf::Buf;
use crate::cache::DEFAULT_CACHE;
use crate::class::ClassSpec;
use crate::core::{PoolCore, PoolHandle};
use crate::index::BufIndex;
use crate::memory::{MemoryOptions, MemoryRegion, MemoryRegions};
use crate::pool::default_align;
use crate::stats::ClassStats;
use crate::sync::Ordering;
use crate::{PoolError, Tier};

/// What [`Arena::alloc`] does when the tier that fits a request has no free buffer.
///
/// # Examples
///
/// ```
/// use iobuf_pool::{Arena, OnEmpty, Tier};
///
/// let arena = Arena::builder().tier(Tier::Small, 1).tier(Tier::Big, 1).on_empty(OnEmpty::NextTier).build()?;
/// let a = arena.alloc(100)?; // Small
/// let b = arena.alloc(100)?; // Small is empty: a Big buffer instead
/// assert_eq!((a.tier(), b.tier()), (Some(Tier::Small), Some(Tier::Big)));
/// # Ok::<(), iobuf_pool::PoolError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OnEmpty {
    /// Fail with [`PoolError::Exhausted`].
    #[default]
    Error,
    /// Take a buffer of the next larger tier that has one; fail only when all are empty.
    NextTier,
    /// Wait for a buffer of the fitting tier (spin, yield, park; FIFO).
    Wait,
}

/// Builds an [`Arena`].
///
/// # Examples
///
/// ```
/// use iobuf_pool::{Arena, Tier};
/// let arena = Arena::builder().tier(Tier::Small, 256).tier(Tier::Large, 16).build()?;
/// assert_eq!(arena.regions().len(), 1);
/// # Ok::<(), iobuf_pool::PoolError>(())
/// ```
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct ArenaBuilder {
    counts: [usize; 12],
    memory: MemoryOptions,
    cache: Option<usize>,
    zero_on_return: bool,
    on_empty: OnEmpty,
}

impl ArenaBuilder {
    /// Holds `count` buffers of `tier` (replacing an earlier count for it; 0 removes the tier).
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{Arena, Tier};
    /// let arena = Arena::builder().tier(Tier::Pico, 10).build()?;
    /// assert_eq!(arena.capacity(Tier::Pico), 10);
    /// assert_eq!(arena.capacity(Tier::Nano), 0);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn tier(mut self, tier: Tier, count: usize) -> Self {
        self.counts[tier.position()] = count;
        self
    }

    /// What to do when the fitting tier is empty (default [`OnEmpty::Error`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{Arena, OnEmpty, Tier};
    /// let arena = Arena::builder().tier(Tier::Pico, 1).on_empty(OnEmpty::Wait).build()?;
    /// assert_eq!(arena.on_empty(), OnEmpty::Wait);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn on_empty(mut self, policy: OnEmpty) -> Self {
        self.on_empty = policy;
        self
    }

    /// Sets every memory option at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{Arena, MemoryOptions, Tier};
    /// let arena = Arena::builder().tier(Tier::Small, 4).memory(MemoryOptions::new().populate(true)).build()?;
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn memory(mut self, memory: MemoryOptions) -> Self {
        self.memory = memory;
        self
    }

    /// Asks for huge pages (with fallback).
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{Arena, Tier};
    /// let arena = Arena::builder().tier(Tier::Huge, 2).page(iobuf_align::PageKind::Huge2M).build()?;
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn page(mut self, page: PageKind) -> Self {
        self.memory = self.memory.page(page);
        self
    }

    /// Locks the memory in RAM.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{Arena, Tier};
    /// let arena = Arena::builder().tier(Tier::Small, 2).lock(iobuf_align::Lock::BestEffort).build()?;
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn lock(mut self, lock: Lock) -> Self {
        self.memory = self.memory.lock(lock);
        self
    }

    /// Sets the per-thread cache size of every tier (2 to 64; 0 turns caches off).
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{Arena, Tier};
    /// let arena = Arena::builder().tier(Tier::Small, 2).cache_size(0).build()?;
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn cache_size(mut self, size: usize) -> Self {
        self.cache = (size != 0).then_some(size);
        self
    }

    /// Zeroes each buffer when it comes back.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{Arena, Tier};
    /// let arena = Arena::builder().tier(Tier::Pico, 1).zero_on_return(true).build()?;
    /// arena.alloc(1)?[0] = 9;
    /// assert_eq!(arena.alloc(1)?[0], 0);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn zero_on_return(mut self, zero: bool) -> Self {
        self.zero_on_return = zero;
        self
    }

    /// Lays the tiers out in one region and builds the arena, every buffer free.
    ///
    /// # Errors
    ///
    /// [`PoolError::ZeroSize`] when no tier has buffers; otherwise as
    /// [`PoolBuilder::build`](crate::PoolBuilder::build).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(iobuf_pool::Arena::builder().build().unwrap_err(), iobuf_pool::PoolError::ZeroSize);
    /// ```
    pub fn build(self) -> Result<Arena, PoolError> {
        let mut specs = Vec::new();
        let mut class_of_tier = [None; 12];
        for tier in Tier::iter().filter(|tier| self.counts[tier.position()] > 0) {
            class_of_tier[tier.position()] = Some(specs.len() as u8);
            specs.push(ClassSpec {
                buffer_size: tier.size(),
                align: default_align(tier.size()),
                capacity: self.counts[tier.position()],
                tier: Some(tier),
                cache: self.cache,
            });
        }
        if specs.is_empty() {
            return Err(PoolError::ZeroSize);
        }
        let core = PoolCore::build(&specs, self.memory, self.zero_on_return)?;
        Ok(Arena { core, class_of_tier, on_empty: self.on_empty })
    }
}

/// Buffers of several tiers, each tier with its own count, all in one memory region.
///
/// [`alloc`](Self::alloc) picks the smallest configured tier that fits the size; when that tier
/// is empty, the [`OnEmpty`] policy decides. The whole arena is one [`MemoryRegion`], so one
/// registration with io_uring covers every buffer. Handles are the same [`Buf`] a
/// [`BufferPool`](crate::BufferPool) gives.
///
/// # Examples
///
/// ```
/// use iobuf_pool::{Arena, Tier};
///
/// let arena = Arena::builder().tier(Tier::Small, 64).tier(Tier::Large, 8).build()?;
/// let header = arena.alloc(300)?;     // Small: 2 KiB
/// let body = arena.alloc(100_000)?;   // Large: 128 KiB
/// assert_eq!(header.capacity(), 2048);
/// assert_eq!(body.capacity(), 128 << 10);
/// assert!(arena.alloc(200_000).is_err()); // nothing configured that large
/// # Ok::<(), iobuf_pool::PoolError>(())
/// ```
#[derive(Clone)]
pub struct Arena {
    core: PoolHandle,
    class_of_tier: [Option<u8>; 12],
    on_empty: OnEmpty,
}

impl Arena {
    /// A builder with no tiers.
    ///
    /// # Examples
    ///
    /// ```
    /// let arena = iobuf_pool::Arena::builder().tier(iobuf_pool::Tier::Micro, 4).build()?;
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn builder() -> ArenaBuilder {
        ArenaBuilder {
            counts: [0; 12],
            memory: MemoryOptions::new(),
            cache: Some(DEFAULT_CACHE),
            zero_on_return: false,
            on_empty: OnEmpty::Error,
        }
    }

    /// The smallest configured tier whose buffers hold `size` bytes.
    ///
    /// # Errors
    ///
    /// [`PoolError::TooLarge`] when no configured tier is that large.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{Arena, Tier};
    /// let arena = Arena::builder().tier(Tier::Pico, 1).tier(Tier::Big, 1).build()?;
    /// assert_eq!(arena.tier_for(33)?, Tier::Big); // Nano..Medium are not configured
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn tier_for(&self, size: usize) -> Result<Tier, PoolError> {
        // Above the largest tier too, the limit that matters is this arena's.
        let too_large = PoolError::TooLarge { size, max: self.max_size() };
        let fit = Tier::for_size(size).map_err(|err| match err {
            PoolError::TooLarge { .. } => too_large,
            other => other,
        })?;
        Tier::iter()
            .skip(fit.position())
            .find(|tier| self.class_of_tier[tier.position()].is_some())
            .ok_or(too_large)
    }

    /// Allocates a buffer of at least `size` bytes, applying the [`OnEmpty`] policy.
    ///
    /// # Errors
    ///
    /// [`PoolError::TooLarge`] when no configured tier fits; [`PoolError::Exhausted`] when the
    /// policy is `Error` or `NextTier` and no buffer could be had.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{Arena, Tier};
    /// let arena = Arena::builder().tier(Tier::Medium, 1).build()?;
    /// let buf = arena.alloc(5000)?;
    /// assert_eq!(buf.tier(), Some(Tier::Medium));
    /// assert_eq!(arena.alloc(5000).unwrap_err(), iobuf_pool::PoolError::Exhausted);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn alloc(&self, size: usize) -> Result<Buf, PoolError> {
        match self.on_empty {
            OnEmpty::Wait => self.alloc_waiting(size, None),
            _ => self.try_alloc(size),
        }
    }

    /// Allocates without waiting: the fitting tier, then (under [`OnEmpty::NextTier`]) larger
    /// ones.
    ///
    /// # Errors
    ///
    /// As [`alloc`](Self::alloc).
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{Arena, OnEmpty, Tier};
    /// let arena = Arena::builder().tier(Tier::Pico, 1).on_empty(OnEmpty::Wait).build()?;
    /// let _held = arena.try_alloc(8)?;
    /// assert!(arena.try_alloc(8).is_err()); // never waits, whatever the policy
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn try_alloc(&self, size: usize) -> Result<Buf, PoolError> {
        let fit = self.tier_for(size)?;
        self.take_from(fit).ok_or_else(|| {
            self.exhausted(self.class(fit).expect("tier_for returns a configured tier"))
        })
    }

    /// A buffer from `fit` (or, under [`OnEmpty::NextTier`], a larger tier), counting nothing
    /// when there is none: the caller decides whether that is an exhaustion or a wait.
    fn take_from(&self, fit: Tier) -> Option<Buf> {
        let candidates = Tier::iter().skip(fit.position());
        let limit = if self.on_empty == OnEmpty::NextTier { usize::MAX } else { 1 };
        candidates.filter_map(|tier| self.class(tier)).take(limit).find_map(|class| {
            PoolCore::take_counted(&self.core, class)
                .map(|index| Buf::new(&self.core, class, index))
        })
    }

    /// Allocates, waiting at most `timeout` for the fitting tier (after trying larger ones
    /// under [`OnEmpty::NextTier`]).
    ///
    /// # Errors
    ///
    /// [`PoolError::TooLarge`]; [`PoolError::Timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use iobuf_pool::{Arena, PoolError, Tier};
    /// let arena = Arena::builder().tier(Tier::Pico, 1).build()?;
    /// let _held = arena.alloc(1)?;
    /// assert_eq!(arena.alloc_timeout(1, Duration::from_millis(5)).unwrap_err(), PoolError::Timeout);
    /// # Ok::<(), PoolError>(())
    /// ```
    pub fn alloc_timeout(&self, size: usize, timeout: Duration) -> Result<Buf, PoolError> {
        self.alloc_waiting(size, Instant::now().checked_add(timeout))
    }

    fn alloc_waiting(&self, size: usize, deadline: Option<Instant>) -> Result<Buf, PoolError> {
        let fit = self.tier_for(size)?;
        if let Some(buf) = self.take_from(fit) {
            return Ok(buf);
        }
        // The wait counts the exhaustion (and the wait) itself.
        let class = self.class(fit).expect("configured tier");
        match PoolCore::take_blocking(&self.core, class, deadline) {
            Some(index) => Ok(Buf::new(&self.core, class, index)),
            None => Err(PoolError::Timeout),
        }
    }

    /// A future for a buffer of at least `size` bytes: waits on the fitting tier (FIFO).
    ///
    /// # Errors
    ///
    /// [`PoolError::TooLarge`] at once when no configured tier fits.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::task::{Context, Waker};
    /// use std::pin::pin;
    /// use iobuf_pool::{Arena, Tier};
    /// let arena = Arena::builder().tier(Tier::Small, 1).build()?;
    /// let mut fut = pin!(arena.acquire(2000)?);
    /// assert!(fut.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_ready());
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn acquire(&self, size: usize) -> Result<Acquire, PoolError> {
        let class = self.class(self.tier_for(size)?).expect("configured tier");
        Ok(Acquire::new(self.core.clone(), class))
    }

    /// Allocates a buffer of at least `size` bytes as a bare index, without waiting.
    ///
    /// # Errors
    ///
    /// As [`try_alloc`](Self::try_alloc).
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{Arena, Tier};
    /// let arena = Arena::builder().tier(Tier::Small, 1).build()?;
    /// let index = arena.try_alloc_index(10)?;
    /// arena.put_index(index)?;
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn try_alloc_index(&self, size: usize) -> Result<BufIndex, PoolError> {
        self.try_alloc(size).map(Buf::into_index)
    }

    /// Gives an index back (checked as for [`BufferPool::put_index`](crate::BufferPool::put_index)).
    ///
    /// # Errors
    ///
    /// [`PoolError::NotOut`], [`PoolError::ForeignIndex`].
    ///
    /// # Examples
    ///
    /// See [`try_alloc_index`](Self::try_alloc_index).
    pub fn put_index(&self, index: BufIndex) -> Result<(), PoolError> {
        PoolCore::put_index(&self.core, index)
    }

    /// Turns an index that is out back into a handle.
    ///
    /// # Errors
    ///
    /// As [`put_index`](Self::put_index).
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{Arena, Tier};
    /// let arena = Arena::builder().tier(Tier::Small, 1).build()?;
    /// let index = arena.try_alloc_index(10)?;
    /// assert_eq!(arena.buf_from_index(index)?.capacity(), 2048);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn buf_from_index(&self, index: BufIndex) -> Result<Buf, PoolError> {
        PoolCore::buf_from_index(&self.core, index)
    }

    /// Takes back a buffer given up with [`Buf::into_raw`].
    ///
    /// # Safety
    ///
    /// As [`BufferPool::buf_from_raw`](crate::BufferPool::buf_from_raw).
    ///
    /// # Errors
    ///
    /// [`PoolError::ForeignIndex`], [`PoolError::NotOut`].
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{Arena, Tier};
    /// let arena = Arena::builder().tier(Tier::Small, 1).build()?;
    /// let raw = arena.alloc(1)?.into_raw();
    /// // SAFETY: `raw` came from this arena's `into_raw`, and nothing else uses it.
    /// let buf = unsafe { arena.buf_from_raw(raw)? };
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    #[allow(unsafe_code)] // reason: the raw hand-over contract above.
    pub unsafe fn buf_from_raw(&self, ptr: NonNull<u8>) -> Result<Buf, PoolError> {
        PoolCore::buf_from_raw(&self.core, ptr)
    }

    /// The configured tiers, smallest first.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{Arena, Tier};
    /// let arena = Arena::builder().tier(Tier::Big, 1).tier(Tier::Nano, 1).build()?;
    /// assert_eq!(arena.tiers().collect::<Vec<_>>(), [Tier::Nano, Tier::Big]);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn tiers(&self) -> impl Iterator<Item = Tier> + '_ {
        Tier::iter().filter(|tier| self.class(*tier).is_some())
    }

    /// Buffers of `tier` (0 when not configured).
    ///
    /// # Examples
    ///
    /// See [`ArenaBuilder::tier`].
    pub fn capacity(&self, tier: Tier) -> usize {
        self.class(tier).map_or(0, |class| self.core.classes[class].capacity)
    }

    /// The policy for an empty tier.
    ///
    /// # Examples
    ///
    /// See [`ArenaBuilder::on_empty`].
    pub fn on_empty(&self) -> OnEmpty {
        self.on_empty
    }

    /// Stats of every configured tier, smallest first.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{Arena, Tier};
    /// let arena = Arena::builder().tier(Tier::Small, 2).tier(Tier::Big, 3).build()?;
    /// let _held = arena.alloc(10_000)?;
    /// let stats = arena.stats();
    /// assert_eq!(stats[1].tier, Some(Tier::Big));
    /// assert_eq!((stats[1].capacity, stats[1].in_use), (3, 1));
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn stats(&self) -> Vec<ClassStats> {
        self.core.classes.iter().map(|class| class.stats()).collect()
    }

    /// Stats of one tier, if configured.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{Arena, Tier};
    /// let arena = Arena::builder().tier(Tier::Small, 2).build()?;
    /// assert_eq!(arena.tier_stats(Tier::Small).map(|s| s.available), Some(2));
    /// assert!(arena.tier_stats(Tier::Big).is_none());
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn tier_stats(&self, tier: Tier) -> Option<ClassStats> {
        self.class(tier).map(|class| self.core.classes[class].stats())
    }

    /// The one memory region behind every tier.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{Arena, Tier};
    /// let arena = Arena::builder().tier(Tier::Small, 2).tier(Tier::Big, 1).build()?;
    /// let region = arena.regions()[0];
    /// assert!(region.contains(arena.alloc(1)?.as_ptr()) && region.contains(arena.alloc(10_000)?.as_ptr()));
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn regions(&self) -> &[MemoryRegion] {
        &self.core.regions
    }

    fn class(&self, tier: Tier) -> Option<usize> {
        self.class_of_tier[tier.position()].map(usize::from)
    }

    fn max_size(&self) -> usize {
        self.tiers().last().map_or(0, Tier::size)
    }

    fn exhausted(&self, class: usize) -> PoolError {
        let size_class = &self.core.classes[class];
        size_class.counters.exhausted.fetch_add(1, Ordering::Relaxed);
        size_class.counters.saw_in_use(size_class.capacity);
        PoolError::Exhausted
    }
}

impl MemoryRegions for Arena {
    fn regions(&self) -> &[MemoryRegion] {
        &self.core.regions
    }
}

impl fmt::Debug for Arena {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Arena")
            .field("id", &self.core.id)
            .field("tiers", &self.tiers().collect::<Vec<_>>())
            .field("on_empty", &self.on_empty)
            .field("region", &self.core.regions[0])
            .finish()
    }
}
