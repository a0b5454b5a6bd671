//! Per-class counters and the snapshot users read.

use crate::Tier;
use crate::sync::{AtomicU64, Ordering};

/// Counters updated on slow paths only (refills, exhaustion, waits), never per get/put.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) high_water: AtomicU64,
    pub(crate) exhausted: AtomicU64,
    pub(crate) waits: AtomicU64,
}

impl Counters {
    /// Raises the high-water mark to `in_use` if it is higher.
    pub(crate) fn saw_in_use(&self, in_use: usize) {
        let in_use = in_use as u64;
        // Read first: the mark is read-mostly, so the common case stays a shared load.
        if self.high_water.load(Ordering::Relaxed) < in_use {
            self.high_water.fetch_max(in_use, Ordering::Relaxed);
        }
    }
}

/// A snapshot of one size class (a pool, or one tier of an arena).
///
/// Figures are read without stopping the pool, so under concurrent use they are approximate.
///
/// # Examples
///
/// ```
/// let pool = iobuf_pool::BufferPool::builder(4096).capacity(4).thread_cache(false).build()?;
/// let held = pool.try_get()?;
/// let stats = pool.stats();
/// assert_eq!((stats.capacity, stats.in_use, stats.available), (4, 1, 3));
/// assert_eq!(stats.high_water, 1);
/// # drop(held);
/// # Ok::<(), iobuf_pool::PoolError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClassStats {
    /// The tier, when the class is one.
    pub tier: Option<Tier>,
    /// Bytes per buffer.
    pub buffer_size: usize,
    /// Buffers in the class.
    pub capacity: usize,
    /// Buffers free: in the shared free list or parked in thread caches.
    pub available: usize,
    /// Buffers out: held by handles, by index-level users, or by the kernel.
    pub in_use: usize,
    /// The most buffers seen out at once. Sampled on slow paths (exhaustion, stats reads), not
    /// on every get, so a brief peak between samples can be missed.
    pub high_water: usize,
    /// Times a get found no buffer (after draining thread caches).
    pub exhausted: u64,
    /// Times a getter queued to wait.
    pub waits: u64,
    /// Getters waiting now.
    pub waiting: usize,
}
