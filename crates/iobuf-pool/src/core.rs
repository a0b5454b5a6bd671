//! The shared state behind every pool handle type: one memory region, one or more size
//! classes in it, and the take/give paths (thread cache → ring → caches of other threads →
//! waiting) that pools, arenas and buffer handles all use.

use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

use crate::cache::{self, MAX_CACHE};
use crate::class::{ClassSpec, SizeClass};
use crate::memory::{Backing, MemoryOptions, MemoryRegion};
use crate::sync::{self, Arc, Backoff, Ordering};
use crate::wait::Waiter;
use crate::{PoolError, barrier};

/// The largest number of buffers in one size class (indices are `u32`, the ring takes 2^31).
pub(crate) const MAX_CAPACITY: usize = 1 << 31;

/// Source of process-unique pool ids (never reused, so a stale index cannot match a new pool).
static NEXT_POOL_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A pool's memory and its size classes.
pub(crate) struct PoolCore {
    pub(crate) id: u64,
    pub(crate) classes: Box<[SizeClass]>,
    pub(crate) regions: [MemoryRegion; 1],
    pub(crate) zero_on_return: bool,
    /// Keeps the memory mapped for as long as any pool clone or buffer lives; dropped last.
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
    ) -> Result<Arc<Self>, PoolError> {
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
        let id = NEXT_POOL_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Arc::new(Self { id, classes, regions: [backing.region()], zero_on_return, backing }))
    }

    /// Whether the memory is locked in RAM.
    pub(crate) fn is_locked(&self) -> bool {
        self.backing.is_locked()
    }

    /// Takes a free index of `class` without waiting: thread cache, ring, then other threads'
    /// caches. `None` means the class is exhausted.
    #[inline]
    pub(crate) fn take(this: &Arc<Self>, class: usize) -> Option<u32> {
        let size_class = &this.classes[class];
        if size_class.caches.is_some() {
            if let Some(Some(index)) = cache::with_thread_cache(this, class, |c| c.take()) {
                return Some(index);
            }
        }
        size_class.take_uncached()
    }

    /// Gives index `index` of `class` back: to a waiter if one is queued, else to the thread
    /// cache, else to the ring.
    #[inline]
    pub(crate) fn give(this: &Arc<Self>, class: usize, index: u32) {
        let size_class = &this.classes[class];
        // Waiters queued: publish where they can be served from (not this thread's cache).
        let cached = !size_class.waiters.has_waiters()
            && size_class.caches.is_some()
            && cache::with_thread_cache(this, class, |c| c.give(index)).is_some();
        if !cached {
            size_class.free.push(index);
        }
        size_class.after_publish();
    }

    /// One poll of a wait for an index of `class`.
    pub(crate) fn poll_take(
        this: &Arc<Self>,
        class: usize,
        state: &mut WaitState,
        cx: &mut Context<'_>,
    ) -> Poll<u32> {
        let size_class = &this.classes[class];
        let granted = match state {
            WaitState::Idle => match PoolCore::take(&this, class) {
                Some(index) => Some(index),
                None => {
                    size_class.counters.exhausted.fetch_add(1, Ordering::Relaxed);
                    size_class.counters.waits.fetch_add(1, Ordering::Relaxed);
                    let waiter = size_class.waiters.register(cx.waker().clone());
                    // Pairs with the light barrier of every put (see `wait`): a put that
                    // published before our registration was visible is found by this serve.
                    barrier::heavy();
                    size_class.serve_waiters();
                    let granted = waiter.granted();
                    *state = WaitState::Queued(waiter);
                    granted
                }
            },
            WaitState::Queued(waiter) => {
                waiter.granted().or_else(|| size_class.waiters.update_waker(waiter, cx.waker()))
            }
            WaitState::Done => panic!("iobuf-pool: wait polled after it completed"),
        };
        match granted {
            Some(index) => {
                *state = WaitState::Done;
                Poll::Ready(index)
            }
            None => Poll::Pending,
        }
    }

    /// Leaves the wait queue; returns the index granted before leaving, if any (the caller
    /// owns it and must use it or give it back).
    pub(crate) fn cancel_wait(&self, class: usize, state: &mut WaitState) -> Option<u32> {
        match core::mem::take(state) {
            WaitState::Queued(waiter) => self.classes[class].waiters.cancel(&waiter),
            _ => None,
        }
    }

    /// Takes an index of `class`, waiting as long as it takes or until `deadline`: spin, then
    /// yield, then park until a put hands one over.
    pub(crate) fn take_blocking(
        this: &Arc<Self>,
        class: usize,
        deadline: Option<Instant>,
    ) -> Option<u32> {
        let backoff = Backoff::new();
        while !backoff.is_completed() {
            if let Some(index) = PoolCore::take(&this, class) {
                return Some(index);
            }
            backoff.snooze();
        }
        let waker = Waker::from(std::sync::Arc::new(ThreadWaker(sync::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut state = WaitState::Idle;
        loop {
            if let Poll::Ready(index) = PoolCore::poll_take(&this, class, &mut state, &mut cx) {
                return Some(index);
            }
            match deadline {
                None => sync::thread::park(),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        // A grant that raced the timeout is a success, not a loss.
                        return this.cancel_wait(class, &mut state);
                    }
                    park_timeout(deadline - now);
                }
            }
        }
    }
}

#[cfg(not(iobuf_loom))]
fn park_timeout(timeout: std::time::Duration) {
    std::thread::park_timeout(timeout);
}

/// loom has no time: a timed park is a park (models never rely on timing out).
#[cfg(iobuf_loom)]
fn park_timeout(_timeout: std::time::Duration) {
    loom::thread::park();
}

/// Wakes a parked getter.
struct ThreadWaker(sync::thread::Thread);

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
