//! The snapshot a buddy allocator reports.

/// A snapshot of a [`BuddyAllocator`](crate::BuddyAllocator).
///
/// Taken under the tree's lock, so the tree's figures are exact at that instant; cached-block
/// counts are read from lock-free queues and are approximate while other threads allocate.
///
/// # Examples
///
/// ```
/// use iobuf_pool::BuddyAllocator;
///
/// let buddy = BuddyAllocator::builder().region_size(1 << 20).build()?;
/// let held = buddy.try_alloc(5000)?; // an 8 KiB block
/// let stats = buddy.stats();
/// assert_eq!(stats.allocated, 8192);
/// assert_eq!(stats.free, (1 << 20) - 8192);
/// assert_eq!(stats.largest_free, 512 << 10);
/// # drop(held);
/// # Ok::<(), iobuf_pool::PoolError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BuddyStats {
    /// Bytes blocks are carved from.
    pub region_size: usize,
    /// The smallest block.
    pub min_block: usize,
    /// The largest block.
    pub max_block: usize,
    /// Bytes in blocks held by buffers, indices or the kernel (whole blocks: a 5000-byte
    /// request holds 8 KiB).
    pub allocated: usize,
    /// Bytes in free blocks parked in the per-order caches.
    pub cached: usize,
    /// Bytes free in the tree (not counting cached blocks).
    pub free: usize,
    /// The largest free block in the tree, in bytes (0 when none); cached blocks are not
    /// coalesced into it until they go back to the tree (on exhaustion, or
    /// [`trim`](crate::BuddyAllocator::trim)).
    pub largest_free: usize,
    /// One entry per order, smallest block first.
    pub orders: Vec<OrderStats>,
    /// Times an allocation found no block (after flushing every cache into the tree).
    pub exhausted: u64,
    /// Times an allocation queued to wait.
    pub waits: u64,
    /// Allocations waiting now.
    pub waiting: usize,
}

/// The free blocks of one order, in a [`BuddyStats`].
///
/// # Examples
///
/// ```
/// let buddy = iobuf_pool::BuddyAllocator::builder().region_size(64 << 10).build()?;
/// let top = buddy.stats().orders.last().copied().unwrap();
/// assert_eq!((top.block_size, top.free_blocks, top.cached_blocks), (64 << 10, 1, 0));
/// # Ok::<(), iobuf_pool::PoolError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct OrderStats {
    /// Bytes per block of this order.
    pub block_size: usize,
    /// Free blocks of this order in the tree.
    pub free_blocks: usize,
    /// Free blocks of this order parked in its cache.
    pub cached_blocks: usize,
}

impl BuddyStats {
    /// Free bytes by block size, counting cached blocks as free: `(block_size, bytes)` per
    /// order.
    ///
    /// # Examples
    ///
    /// ```
    /// let buddy = iobuf_pool::BuddyAllocator::builder().region_size(16 << 10).build()?;
    /// let held = buddy.try_alloc(4096)?;
    /// // 4 KiB and 8 KiB halves are left free by the split.
    /// assert_eq!(buddy.stats().free_bytes_by_order(), [(4096, 4096), (8192, 8192), (16384, 0)]);
    /// # drop(held);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn free_bytes_by_order(&self) -> Vec<(usize, usize)> {
        self.orders
            .iter()
            .map(|o| (o.block_size, o.block_size * (o.free_blocks + o.cached_blocks)))
            .collect()
    }
}
