//! Index-level (indirect) access for code that keeps buffer indices itself.
//!
//! An index taken through this API is marked out in its class's out-marks (see `marks`: a tag
//! and a generation per index, so a stale copy is refused too) and holds one count of the pool's `out_refs` (see `core`), so the memory outlives every
//! index that is out even if every pool handle is dropped. Putting it back checks and clears
//! the mark: a double put, an index never taken this way, an out-of-range index or another
//! pool's index is refused with a typed error and never reaches the free list.
//!
//! # Safety
//!
//! This module owns one write: zeroing the buffer of an index that was just checked out and
//! marked back in, which no one else may touch by the index contract.

use core::ptr::NonNull;

use crate::PoolError;
use crate::buf::Buf;
use crate::core::PoolCore;
use crate::sync::Arc;

/// A buffer index handed out by the index-level API: which pool, which tier, which buffer.
///
/// It is `Copy`, like the integers it replaces; the pool still knows which indices are out
/// and refuses a second put.
///
/// # Examples
///
/// ```
/// let pool = iobuf_pool::BufferPool::builder(512).capacity(4).thread_cache(false).build()?;
/// let index = pool.try_get_index()?;
/// assert_eq!(index.index(), 0);
/// pool.put_index(index)?;
/// # Ok::<(), iobuf_pool::PoolError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BufIndex {
    pool: u64,
    /// The out-mark word at the time it went out (see `marks`): a stale copy cannot match.
    stamp: u64,
    index: u32,
    class: u8,
}

impl BufIndex {
    pub(crate) fn new(pool: u64, class: u8, index: u32, stamp: u64) -> Self {
        Self { pool, stamp, index, class }
    }

    /// The out-mark stamp it carries.
    pub(crate) fn stamp(&self) -> u64 {
        self.stamp
    }

    /// The buffer's position in its pool (or tier), `0..capacity`; for a buddy allocator's
    /// block, its offset in minimum blocks (as [`Buf::index`](crate::Buf::index)).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::builder(512).capacity(4).build()?;
    /// assert!(pool.try_get_index()?.index() < 4);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn index(&self) -> u32 {
        self.index
    }

    pub(crate) fn class(&self) -> usize {
        usize::from(self.class)
    }

    /// The id of the pool (or buddy allocator) the index belongs to.
    pub(crate) fn pool(&self) -> u64 {
        self.pool
    }
}

impl PoolCore {
    /// The class of `index`, after checking it names a buffer of this pool.
    fn check(&self, index: BufIndex) -> Result<usize, PoolError> {
        let class = self.classes.get(index.class()).filter(|_| index.pool == self.id);
        let class = class.ok_or(PoolError::ForeignIndex)?;
        if index.index as usize >= class.capacity {
            return Err(PoolError::OutOfRange { index: index.index, capacity: class.capacity });
        }
        Ok(index.class())
    }

    /// Marks `index` of `class` out; the count its buffer held moves to the returned index.
    pub(crate) fn mark_out(&self, class: usize, index: u32) -> BufIndex {
        let stamp = self.classes[class].out_marks.mark_out(index, 1);
        BufIndex::new(self.id, class as u8, index, stamp)
    }

    /// Checks `index` is out (this very time out: not a stale copy), marks it in, and returns
    /// its class; its count moves to the caller.
    fn mark_in(&self, index: BufIndex) -> Result<usize, PoolError> {
        let class = self.check(index)?;
        if !self.classes[class].out_marks.mark_in(index.index, index.stamp()) {
            return Err(PoolError::NotOut { index: index.index });
        }
        Ok(class)
    }

    /// Takes a free index of `class` without waiting, marked out.
    pub(crate) fn try_take_index(this: &Arc<Self>, class: usize) -> Option<BufIndex> {
        let index = PoolCore::take_counted(this, class)?;
        Some(this.mark_out(class, index))
    }

    /// Gives an index back, after checking it is out.
    #[allow(unsafe_code)] // reason: zeroing the buffer the index owns (module docs).
    pub(crate) fn put_index(this: &Arc<Self>, index: BufIndex) -> Result<(), PoolError> {
        let class = this.mark_in(index)?;
        let size_class = &this.classes[class];
        if this.zero_on_return {
            // SAFETY: the index was out and is now ours alone; nothing else writes it.
            unsafe { size_class.ptr(index.index).as_ptr().write_bytes(0, size_class.buffer_size) };
        }
        // Last use of the core: giving the count back may free it (the caller's handle keeps
        // it alive here).
        PoolCore::give_counted(this, class, index.index);
        Ok(())
    }

    /// The first byte of the buffer `index` names (checked to be this pool's, not to be out).
    pub(crate) fn index_ptr(&self, index: BufIndex) -> Result<NonNull<u8>, PoolError> {
        let class = self.check(index)?;
        Ok(self.classes[class].ptr(index.index))
    }

    /// Bytes per buffer of the class `index` names.
    pub(crate) fn index_len(&self, index: BufIndex) -> Result<usize, PoolError> {
        Ok(self.classes[self.check(index)?].buffer_size)
    }

    /// Turns an out index back into a handle.
    pub(crate) fn buf_from_index(this: &Arc<Self>, index: BufIndex) -> Result<Buf, PoolError> {
        let class = this.mark_in(index)?;
        Ok(Buf::new(this, class, index.index))
    }

    /// Turns a pointer from `Buf::into_raw` back into a handle.
    pub(crate) fn buf_from_raw(this: &Arc<Self>, ptr: NonNull<u8>) -> Result<Buf, PoolError> {
        let (class, index) = this
            .classes
            .iter()
            .enumerate()
            .find_map(|(class, c)| c.index_of(ptr.as_ptr()).map(|index| (class, index)))
            .ok_or(PoolError::ForeignIndex)?;
        // A raw pointer carries no stamp: it takes back whatever time out is current.
        let stamp =
            this.classes[class].out_marks.current(index).ok_or(PoolError::NotOut { index })?;
        PoolCore::buf_from_index(this, BufIndex::new(this.id, class as u8, index, stamp))
    }
}
