//! The shared state behind every pool type: one memory region, one or more size classes in
//! it, the take/give paths (thread cache → ring → caches of other threads → waiting), and how
//! long it all lives.
//!
//! # Lifetime
//!
//! Pool handles ([`PoolHandle`]: `BufferPool`, `Arena` and `Acquire` hold one) keep the core
//! alive with an `Arc`. Buffers and out-of-pool indices do not touch that `Arc` — two atomic
//! read-modify-writes per get and put on one shared line would cap every thread count at one
//! cache line's speed. Instead each holds one count of `out_refs`, mostly handed out of and
//! back into per-thread stashes (see `cache`), and `out_refs` keeps a self-reference (the
//! *keeper*) alive. `out_refs` starts at 1, a token held by the handles together. When the
//! last handle drops, the pool *retires*: it collects every stash, releases those credits and
//! the token, and from then on each return releases its count directly. The release that takes
//! `out_refs` to zero drops the keeper, and the memory goes when the last `Arc` does — never
//! while a buffer, an index or the kernel may still use it (architecture invariant 3).

use core::ops::Deref;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

use crate::cache::{self, MAX_CACHE};
use crate::class::{ClassSpec, SizeClass};
use crate::memory::{Backing, MemoryOptions, MemoryRegion};
use crate::sync::{self, Arc, AtomicBool, AtomicUsize, Backoff, Mutex, Ordering};
use crate::wait::Waiter;
use crate::{PoolError, barrier};

/// The largest number of buffers in one size class (indices are `u32`, the ring takes 2^31).
pub(crate) const MAX_CAPACITY: usize = 1 << 31;

/// Source of process-unique pool ids (never reused, so a stale index cannot match a new pool).
static NEXT_POOL_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A process-unique id for a new pool, arena or buddy allocator (one sequence for all, so an
/// index of one can never be taken for another's).
pub(crate) fn next_pool_id() -> u64 {
    NEXT_POOL_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A pool's memory and its size classes.
pub(crate) struct PoolCore {
    pub(crate) id: u64,
    pub(crate) classes: Box<[SizeClass]>,
    pub(crate) regions: [MemoryRegion; 1],
    pub(crate) zero_on_return: bool,
    /// Counts held by buffers and indices out of the pool, by per-thread stashes, and one by
    /// the handles together (see the module docs).
    out_refs: AtomicUsize,
    /// Handles alive.
    handles: AtomicUsize,
    /// Set once the last handle is gone.
    pub(crate) retired: AtomicBool,
    /// The self-reference `out_refs` keeps alive.
    keeper: Mutex<Option<Arc<PoolCore>>>,
    /// Keeps the memory mapped for as long as the core lives.
    backing: Backing,
}

impl std::fmt::Debug for PoolCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolCore")
            .field("id", &self.id)
            .field("classes", &self.classes.len())
            .field("region", &self.regions[0])
            .finish()
    }
}

/// A pool handle: keeps the core alive and, when the last one drops, retires the pool.
pub(crate) struct PoolHandle(Arc<PoolCore>);

impl Clone for PoolHandle {
    fn clone(&self) -> Self {
        self.0.handles.fetch_add(1, Ordering::Relaxed);
        Self(self.0.clone())
    }
}

impl Drop for PoolHandle {
    fn drop(&mut self) {
        if self.0.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            PoolCore::retire(&self.0);
        }
    }
}

impl Deref for PoolHandle {
    type Target = Arc<PoolCore>;

    fn deref(&self) -> &Arc<PoolCore> {
        &self.0
    }
}

/// Where a `get` that finds nothing stands while it waits.
#[derive(Debug, Default)]
pub(crate) enum WaitState {
    /// Not queued yet.
    #[default]
    Idle,
    /// Queued; the waiter will be granted an index.
    Queued(Arc<Waiter>),
    /// Finished: an index was returned.
    Done,
}

impl PoolCore {
    /// Lays `specs` out one after another in one region (each class aligned to its own
    /// alignment) and builds their classes, all buffers free.
    pub(crate) fn build(
        specs: &[ClassSpec],
        memory: MemoryOptions,
        zero_on_return: bool,
    ) -> Result<PoolHandle, PoolError> {
        barrier::init();
        let mut offsets = Vec::with_capacity(specs.len());
        let mut total = 0usize;
        let mut max_align = 1;
        for spec in specs {
            validate(spec)?;
            max_align = max_align.max(spec.align);
            let start = total.checked_next_multiple_of(spec.align).ok_or(overflow())?;
            let len = spec.stride().checked_mul(spec.capacity).ok_or(overflow())?;
            offsets.push(start);
            total = start.checked_add(len).ok_or(overflow())?;
        }
        // The region is page aligned; a stricter alignment needs slack to slide the start.
        let slack = max_align.saturating_sub(iobuf_align::page_size());
        let backing = Backing::map(total.checked_add(slack).ok_or(overflow())?, memory)?;
        let base = backing.base();
        let lead = (max_align - base.as_ptr() as usize % max_align) % max_align;
        let classes = specs
            .iter()
            .zip(offsets)
            .map(|(spec, offset)| {
                let start = base.map_addr(|addr| addr.saturating_add(lead + offset));
                SizeClass::new(*spec, start, backing.page_size())
            })
            .collect::<Result<Box<[_]>, _>>()?;
        // The region registrars see starts at the first buffer (past any alignment slack), so
        // chunks cut at multiples of a class's stride from its start never split a buffer.
        let region = MemoryRegion::new(
            base.map_addr(|addr| addr.saturating_add(lead)),
            total,
            backing.page_size(),
        );
        let id = next_pool_id();
        let core = Arc::new(Self {
            id,
            classes,
            regions: [region],
            zero_on_return,
            out_refs: AtomicUsize::new(1),
            handles: AtomicUsize::new(1),
            retired: AtomicBool::new(false),
            keeper: Mutex::new(None),
            backing,
        });
        *sync::lock(&core.keeper) = Some(core.clone());
        Ok(PoolHandle(core))
    }

    /// Whether the memory is locked in RAM.
    pub(crate) fn is_locked(&self) -> bool {
        self.backing.is_locked()
    }

    /// Adds `n` counts. The caller holds a count or a handle already, so the total is not 0.
    #[inline]
    pub(crate) fn acquire_refs(&self, n: usize) {
        self.out_refs.fetch_add(n, Ordering::Relaxed);
    }

    /// Gives up `n` counts the caller holds. When that was the last count, the pool's memory
    /// may be freed before this returns, so it must be the caller's last use of the core
    /// unless it holds a handle. Takes the `Arc` rather than `&self`: a `&self` argument would
    /// still be live (and protected) when the last count frees the core under it.
    #[inline]
    pub(crate) fn release_refs(this: &Arc<Self>, n: usize) {
        if n != 0 {
            Self::release_refs_slow(this, n);
        }
    }

    #[inline(never)]
    fn release_refs_slow(this: &Arc<Self>, n: usize) {
        if this.out_refs.fetch_sub(n, Ordering::Release) == n {
            // Pairs with every release above: all uses of the pool happen before the free.
            sync::fence_acquire();
            let keeper = sync::lock(&this.keeper).take();
            drop(keeper);
        }
    }

    /// The last handle is gone: collect every stash of credits, then give them and the
    /// handles' token back. Returns still under way release their own counts from now on.
    fn retire(this: &Arc<Self>) {
        this.retired.store(true, Ordering::Relaxed);
        // Each sweep's heavy barrier orders the store above before its reads of owners' flags.
        let credits: usize =
            this.classes.iter().map(|class| class.caches.collect_credits(&class.free)).sum();
        Self::release_refs(this, credits + 1);
    }

    /// Takes a free index of `class` without waiting — thread cache, ring, then other threads'
    /// caches — together with one count for the buffer or index it becomes. `None` means the
    /// class is exhausted.
    #[inline]
    pub(crate) fn take_counted(this: &Arc<Self>, class: usize) -> Option<u32> {
        let size_class = &this.classes[class];
        if size_class.caches.caches_indices() {
            if let Some(Some(index)) = cache::with_thread_cache(this, class, |c| c.take_counted()) {
                return Some(index);
            }
        }
        let index = size_class.take_uncached()?;
        Self::acquire_ref(this, class);
        Some(index)
    }

    /// One count for an index obtained without one.
    #[inline(never)]
    fn acquire_ref(this: &Arc<Self>, class: usize) {
        if cache::with_thread_cache(this, class, |c| c.credit()).is_none() {
            this.acquire_refs(1);
        }
    }

    /// Gives back index `index` of `class` and the count it held: the index to a waiter if one
    /// is queued, else to the thread cache, else to the ring. May free the pool (see
    /// [`release_refs`](Self::release_refs)): the caller's last use of the core.
    #[inline]
    pub(crate) fn give_counted(this: &Arc<Self>, class: usize, index: u32) {
        let size_class = &this.classes[class];
        // Waiters queued: publish where they can be served from (not this thread's cache).
        let cache_index = size_class.caches.caches_indices() && !size_class.waiters.has_waiters();
        let offered = cache_index.then_some(index);
        let release = match cache::with_thread_cache(this, class, |c| c.give_counted(offered)) {
            Some(release) => {
                if !cache_index {
                    size_class.free.push(index);
                }
                release
            }
            None => {
                size_class.free.push(index);
                1
            }
        };
        size_class.after_publish();
        Self::release_refs(this, release);
    }

    /// Gives back an index that holds no count (one granted to a waiter that left).
    pub(crate) fn give_uncounted(&self, class: usize, index: u32) {
        let size_class = &self.classes[class];
        size_class.free.push(index);
        size_class.after_publish();
    }

    /// One poll of a wait for an index of `class`; a ready index holds a count.
    pub(crate) fn poll_take(
        this: &Arc<Self>,
        class: usize,
        state: &mut WaitState,
        cx: &mut Context<'_>,
    ) -> Poll<u32> {
        let size_class = &this.classes[class];
        let granted = match state {
            WaitState::Idle => {
                if let Some(index) = Self::take_counted(this, class) {
                    *state = WaitState::Done;
                    return Poll::Ready(index);
                }
                size_class.counters.exhausted.fetch_add(1, Ordering::Relaxed);
                size_class.counters.waits.fetch_add(1, Ordering::Relaxed);
                let waiter = size_class.waiters.register(0, cx.waker().clone());
                // Pairs with the light barrier of every put (see `wait`): a put that published
                // before our registration was visible is found by this serve.
                barrier::heavy();
                size_class.serve_waiters();
                let granted = waiter.granted();
                *state = WaitState::Queued(waiter);
                granted
            }
            WaitState::Queued(waiter) => {
                waiter.granted().or_else(|| size_class.waiters.update_waker(waiter, cx.waker()))
            }
            WaitState::Done => panic!("iobuf-pool: wait polled after it completed"),
        };
        match granted {
            Some(index) => {
                *state = WaitState::Done;
                Self::acquire_ref(this, class);
                Poll::Ready(index)
            }
            None => Poll::Pending,
        }
    }

    /// Leaves the wait queue; returns the index granted before leaving, if any. It holds no
    /// count: the caller must count it or give it back with `give_uncounted`.
    pub(crate) fn cancel_wait(&self, class: usize, state: &mut WaitState) -> Option<u32> {
        match core::mem::take(state) {
            WaitState::Queued(waiter) => self.classes[class].waiters.cancel(&waiter),
            _ => None,
        }
    }

    /// Takes an index of `class` with a count, waiting as long as it takes or until
    /// `deadline`: spin, then yield, then park until a put hands one over.
    pub(crate) fn take_blocking(
        this: &Arc<Self>,
        class: usize,
        deadline: Option<Instant>,
    ) -> Option<u32> {
        let backoff = Backoff::new();
        while !backoff.is_completed() {
            if let Some(index) = Self::take_counted(this, class) {
                return Some(index);
            }
            backoff.snooze();
        }
        let waker = Waker::from(std::sync::Arc::new(ThreadWaker(sync::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut state = WaitState::Idle;
        loop {
            if let Poll::Ready(index) = Self::poll_take(this, class, &mut state, &mut cx) {
                return Some(index);
            }
            match deadline {
                None => sync::thread::park(),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        // A grant that raced the timeout is a success, not a loss.
                        let index = this.cancel_wait(class, &mut state)?;
                        Self::acquire_ref(this, class);
                        return Some(index);
                    }
                    park_timeout(deadline - now);
                }
            }
        }
    }
}

#[cfg(not(iobuf_loom))]
pub(crate) fn park_timeout(timeout: std::time::Duration) {
    std::thread::park_timeout(timeout);
}

/// loom has no time: a timed park is a park (models never rely on timing out).
#[cfg(iobuf_loom)]
pub(crate) fn park_timeout(_timeout: std::time::Duration) {
    loom::thread::park();
}

/// Wakes a parked getter.
pub(crate) struct ThreadWaker(pub(crate) sync::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0.unpark();
    }
}

fn overflow() -> PoolError {
    PoolError::Memory(iobuf_align::AlignError::SizeOverflow)
}

fn validate(spec: &ClassSpec) -> Result<(), PoolError> {
    if spec.capacity == 0 || spec.buffer_size == 0 {
        return Err(PoolError::ZeroSize);
    }
    if spec.capacity > MAX_CAPACITY {
        return Err(PoolError::CapacityTooLarge { requested: spec.capacity, max: MAX_CAPACITY });
    }
    if !spec.align.is_power_of_two() {
        return Err(PoolError::Memory(iobuf_align::AlignError::AlignmentNotPowerOfTwo {
            align: spec.align,
        }));
    }
    if let Some(size) = spec.cache {
        if !(2..=MAX_CACHE).contains(&size) {
            return Err(PoolError::CacheSize { requested: size, max: MAX_CACHE });
        }
    }
    Ok(())
}
