//! `Pool` and `IndirectPool`: what generic code asks of any pool.

use std::time::Duration;

use crate::{Buf, BufIndex, BufferPool, PoolError};

/// A bounded pool that hands out owned items and takes them back.
///
/// # Examples
///
/// ```
/// use iobuf_pool::{BufferPool, Pool};
///
/// fn take_two<P: Pool>(pool: &P) -> Result<(P::Item, P::Item), iobuf_pool::PoolError> {
///     Ok((pool.try_get()?, pool.try_get()?))
/// }
/// let pool = BufferPool::small(2)?;
/// let (a, b) = take_two(&pool)?;
/// assert_eq!(pool.available(), 0);
/// pool.put(a)?;
/// assert_eq!(pool.available(), 1);
/// # Ok::<(), iobuf_pool::PoolError>(())
/// ```
pub trait Pool {
    /// What the pool hands out.
    type Item;

    /// An item if one is free, without waiting.
    ///
    /// # Errors
    ///
    /// [`PoolError::Exhausted`] when none is free.
    fn try_get(&self) -> Result<Self::Item, PoolError>;

    /// An item, waiting as long as it takes.
    fn get(&self) -> Self::Item;

    /// An item, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`PoolError::Timeout`].
    fn get_timeout(&self, timeout: Duration) -> Result<Self::Item, PoolError>;

    /// Gives an item back explicitly (dropping it does the same for pools whose items return
    /// themselves).
    ///
    /// # Errors
    ///
    /// [`PoolError::ForeignIndex`] when the item belongs to another pool (it still goes back
    /// to its own pool).
    fn put(&self, item: Self::Item) -> Result<(), PoolError>;

    /// Items in the pool when all are free.
    fn capacity(&self) -> usize;

    /// Items free now (approximate under concurrent use).
    fn available(&self) -> usize;
}

/// A bounded pool addressed by index: take an index, reach its value by index, give the index
/// back. For code (io_uring rings, slab tables) that keeps indices rather than handles.
///
/// # Examples
///
/// ```
/// use iobuf_pool::{BufferPool, IndirectPool};
///
/// fn stamp<P: IndirectPool<Value = [u8]>>(pool: &P) -> Result<P::Index, iobuf_pool::PoolError> {
///     let index = pool.try_get_index()?;
///     // SAFETY: we own `index` and hold no other reference to its value.
///     let bytes = unsafe { pool.value_mut(index)? };
///     bytes[0] = 0xAB;
///     Ok(index)
/// }
/// let pool = BufferPool::micro(4)?;
/// let index = stamp(&pool)?;
/// // SAFETY: we still own `index`.
/// assert_eq!(unsafe { pool.value(index)? }[0], 0xAB);
/// pool.put_index(index)?;
/// # Ok::<(), iobuf_pool::PoolError>(())
/// ```
pub trait IndirectPool {
    /// The index type (cheap to copy).
    type Index: Copy;
    /// What an index names.
    type Value: ?Sized;

    /// A free index, without waiting.
    ///
    /// # Errors
    ///
    /// [`PoolError::Exhausted`] when none is free.
    fn try_get_index(&self) -> Result<Self::Index, PoolError>;

    /// Gives an index back, refusing ones that are not out.
    ///
    /// # Errors
    ///
    /// [`PoolError::NotOut`], [`PoolError::ForeignIndex`], [`PoolError::OutOfRange`].
    fn put_index(&self, index: Self::Index) -> Result<(), PoolError>;

    /// The value `index` names.
    ///
    /// # Safety
    ///
    /// The caller must own `index` (taken and not given back) and hold no mutable reference to
    /// the same value while this one lives.
    ///
    /// # Errors
    ///
    /// [`PoolError::ForeignIndex`], [`PoolError::OutOfRange`].
    #[allow(unsafe_code)] // reason: index-level access is unsafe by nature; contract above.
    unsafe fn value(&self, index: Self::Index) -> Result<&Self::Value, PoolError>;

    /// The value `index` names, writable (Go's `SetValue`).
    ///
    /// # Safety
    ///
    /// The caller must own `index` and hold no other reference to the value while this one
    /// lives.
    ///
    /// # Errors
    ///
    /// [`PoolError::ForeignIndex`], [`PoolError::OutOfRange`].
    #[allow(unsafe_code)] // reason: index-level access is unsafe by nature; contract above.
    #[allow(clippy::mut_from_ref)] // reason: the index, not `&self`, carries the ownership.
    unsafe fn value_mut(&self, index: Self::Index) -> Result<&mut Self::Value, PoolError>;
}

impl Pool for BufferPool {
    type Item = Buf;

    fn try_get(&self) -> Result<Buf, PoolError> {
        BufferPool::try_get(self)
    }

    fn get(&self) -> Buf {
        BufferPool::get(self)
    }

    fn get_timeout(&self, timeout: Duration) -> Result<Buf, PoolError> {
        BufferPool::get_timeout(self, timeout)
    }

    fn put(&self, item: Buf) -> Result<(), PoolError> {
        let ours = self.owns(&item);
        drop(item);
        if ours { Ok(()) } else { Err(PoolError::ForeignIndex) }
    }

    fn capacity(&self) -> usize {
        BufferPool::capacity(self)
    }

    fn available(&self) -> usize {
        BufferPool::available(self)
    }
}

impl IndirectPool for BufferPool {
    type Index = BufIndex;
    type Value = [u8];

    fn try_get_index(&self) -> Result<BufIndex, PoolError> {
        BufferPool::try_get_index(self)
    }

    fn put_index(&self, index: BufIndex) -> Result<(), PoolError> {
        BufferPool::put_index(self, index)
    }

    #[allow(unsafe_code)] // reason: forwards the same contract.
    unsafe fn value(&self, index: BufIndex) -> Result<&[u8], PoolError> {
        // SAFETY: the caller upholds `index_slice`'s contract, which is this method's.
        unsafe { self.index_slice(index) }
    }

    #[allow(unsafe_code)] // reason: forwards the same contract.
    unsafe fn value_mut(&self, index: BufIndex) -> Result<&mut [u8], PoolError> {
        // SAFETY: the caller upholds `index_slice_mut`'s contract, which is this method's.
        unsafe { self.index_slice_mut(index) }
    }
}
