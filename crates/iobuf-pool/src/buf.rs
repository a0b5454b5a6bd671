//! The owning buffer handle.
//!
//! # Safety
//!
//! This module owns the claim that a [`Buf`] is the only way to reach its buffer's bytes: the
//! free list hands each index to one owner at a time (architecture invariant 2), the handle is
//! neither `Clone` nor `Copy`, and it gives the index back exactly once — in `Drop`, or never
//! when turned into a raw pointer or an index that then carries the ownership. The memory and
//! the core stay alive while the handle lives because the handle holds one count of the core's
//! `out_refs` (see `core`), which keeps the core's self-reference alive.
#![allow(unsafe_code)] // reason: slices over owned pool memory; raw hand-over (see module docs).

use core::fmt;
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;

use crate::Tier;
use crate::core::PoolCore;
use crate::index::BufIndex;
use crate::sync::Arc;

/// A buffer from a pool: owns its bytes until dropped, then returns itself to its pool — from
/// any thread.
///
/// The address never changes while the handle lives, so the buffer can be handed to the kernel.
/// It dereferences to the whole buffer (`capacity()` bytes, always initialised: pool memory is
/// zeroed when mapped). A separate *filled length* records how much of it holds data, for I/O
/// results.
///
/// The same handle type comes from a [`BufferPool`](crate::BufferPool) and from every tier of an
/// [`Arena`](crate::Arena), so code that passes buffers around need not know which pool is
/// behind them.
///
/// # Examples
///
/// ```
/// use iobuf_pool::BufferPool;
///
/// let pool = BufferPool::builder(4096).capacity(2).build()?;
/// let mut buf = pool.try_get()?;
/// buf[..5].copy_from_slice(b"hello");
/// buf.set_filled(5);
/// assert_eq!(buf.filled_slice(), b"hello");
/// // Return it from another thread.
/// std::thread::spawn(move || drop(buf)).join().unwrap();
/// assert_eq!(pool.available(), 2);
/// # Ok::<(), iobuf_pool::PoolError>(())
/// ```
pub struct Buf {
    /// The core, kept alive by the count this handle holds (see the module docs).
    core: NonNull<PoolCore>,
    ptr: NonNull<u8>,
    capacity: usize,
    filled: usize,
    /// Index and class packed in one word (`class << 32 | index`): written and read whole, so
    /// moving a handle never loads a word that was stored in pieces (a store-forwarding stall
    /// that once cost half of an uncontended get).
    at: u64,
}

// SAFETY: the handle owns its bytes exclusively (module docs); moving it to another thread moves
// that ownership, and returning the index from any thread is what the pool is built for.
unsafe impl Send for Buf {}
// SAFETY: `&Buf` gives only `&[u8]` and reads of plain fields; mutation needs `&mut Buf`.
unsafe impl Sync for Buf {}

impl Buf {
    /// A handle for index `index` of `class`, which the caller took out of the free list
    /// together with one count, which the handle now holds.
    #[inline]
    pub(crate) fn new(core: &Arc<PoolCore>, class: usize, index: u32) -> Self {
        let size_class = &core.classes[class];
        let ptr = size_class.ptr(index);
        let capacity = size_class.buffer_size;
        let core = NonNull::from(&**core);
        let at = (class as u64) << 32 | u64::from(index);
        Self { core, ptr, capacity, filled: 0, at }
    }

    /// The core this buffer belongs to.
    #[inline(always)]
    fn core(&self) -> &PoolCore {
        // SAFETY: the count this handle holds keeps the core alive (module docs).
        unsafe { self.core.as_ref() }
    }

    /// The core as an `Arc`, without touching its strong count, for paths that register thread
    /// caches. Must not be dropped (it is `ManuallyDrop`) nor outlive `self`.
    #[inline(always)]
    fn core_arc(&self) -> ManuallyDrop<Arc<PoolCore>> {
        // SAFETY: `self.core` is the pointer of an `Arc<PoolCore>` (from `Arc`'s deref in
        // `new`) whose allocation the held count keeps alive; ManuallyDrop leaves the strong
        // count as it was.
        ManuallyDrop::new(unsafe { Arc::from_raw(self.core.as_ptr().cast_const()) })
    }

    /// The buffer's index in its pool (or tier): what io_uring and index-level code use.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::builder(64).capacity(4).thread_cache(false).build()?;
    /// assert_eq!(pool.try_get()?.index(), 0); // a fresh pool hands out 0, 1, 2, …
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn index(&self) -> u32 {
        self.at as u32
    }

    /// The size class (arena tier) within the pool.
    #[inline(always)]
    fn class(&self) -> usize {
        (self.at >> 32) as usize
    }

    /// The buffer's size in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::builder(1000).capacity(1).build()?;
    /// assert_eq!(pool.try_get()?.capacity(), 1000);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The tier of the buffer, when its pool is tiered.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{BufferPool, Tier};
    /// let pool = BufferPool::small(2)?;
    /// assert_eq!(pool.try_get()?.tier(), Some(Tier::Small));
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn tier(&self) -> Option<Tier> {
        self.core().classes[self.class()].tier
    }

    /// Bytes of valid data (set by I/O completions or [`set_filled`](Self::set_filled)).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::builder(64).capacity(1).build()?;
    /// assert_eq!(pool.try_get()?.filled(), 0);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn filled(&self) -> usize {
        self.filled
    }

    /// Records that the first `len` bytes hold data.
    ///
    /// # Panics
    ///
    /// If `len > capacity()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::builder(64).capacity(1).build()?;
    /// let mut buf = pool.try_get()?;
    /// buf.set_filled(10);
    /// assert_eq!(buf.filled_slice().len(), 10);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn set_filled(&mut self, len: usize) {
        assert!(len <= self.capacity, "filled length {len} exceeds capacity {}", self.capacity);
        self.filled = len;
    }

    /// The filled part: `&self[..filled()]`.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::builder(64).capacity(1).build()?;
    /// let buf = pool.try_get()?;
    /// assert!(buf.filled_slice().is_empty());
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn filled_slice(&self) -> &[u8] {
        &self[..self.filled]
    }

    /// The first byte, for system calls. Valid while the handle lives.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::builder(4096).capacity(1).build()?;
    /// assert_eq!(pool.try_get()?.as_ptr() as usize % 4096, 0);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn as_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    /// The first byte, writable, for system calls that fill the buffer.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::builder(64).capacity(1).build()?;
    /// let mut buf = pool.try_get()?;
    /// assert_eq!(buf.as_mut_ptr() as *const u8, buf.as_ptr());
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Gives up the handle without returning the buffer, for handing it to the kernel or across
    /// an FFI boundary. The buffer stays out of the pool (and the pool's memory stays alive)
    /// until [`BufferPool::buf_from_raw`](crate::BufferPool::buf_from_raw) or
    /// [`Arena::buf_from_raw`](crate::Arena::buf_from_raw) takes it back; never calling it leaks
    /// the buffer and keeps the pool's memory mapped. It costs one atomic mark, so a second
    /// `buf_from_raw` of the same pointer is refused.
    ///
    /// The filled length is not kept.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::builder(64).capacity(1).build()?;
    /// let raw = pool.try_get()?.into_raw();
    /// assert!(pool.try_get().is_err()); // still out
    /// // SAFETY: `raw` came from `into_raw` on a buffer of this pool and is used once.
    /// let buf = unsafe { pool.buf_from_raw(raw) }?;
    /// drop(buf);
    /// assert!(pool.try_get().is_ok());
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn into_raw(self) -> NonNull<u8> {
        let ptr = self.ptr;
        let _index = self.into_index();
        ptr
    }

    /// Moves the buffer into the index-level world: the buffer stays out of the pool, owned by
    /// whoever holds the returned [`BufIndex`], until
    /// [`BufferPool::put_index`](crate::BufferPool::put_index) (or `Arena::put_index`) or
    /// [`BufferPool::buf_from_index`](crate::BufferPool::buf_from_index).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::builder(64).capacity(1).build()?;
    /// let index = pool.try_get()?.into_index();
    /// pool.put_index(index)?;
    /// assert!(pool.put_index(index).is_err()); // a second put is refused
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn into_index(self) -> BufIndex {
        let this = ManuallyDrop::new(self);
        // The count moves to the index; the handle is forgotten without giving it back.
        this.core().mark_out(this.class(), this.index())
    }

    /// The id of the pool the buffer belongs to.
    pub(crate) fn pool_id(&self) -> u64 {
        self.core().id
    }
}

impl Deref for Buf {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        // SAFETY: the handle owns these `capacity` initialised bytes exclusively for its
        // lifetime, and the core it holds keeps them mapped (module docs).
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.capacity) }
    }
}

impl DerefMut for Buf {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in deref; `&mut self` makes this the only reference.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.capacity) }
    }
}

impl AsRef<[u8]> for Buf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl AsMut<[u8]> for Buf {
    fn as_mut(&mut self) -> &mut [u8] {
        self
    }
}

impl Drop for Buf {
    #[inline]
    fn drop(&mut self) {
        if self.core().zero_on_return {
            // SAFETY: the handle still owns the bytes; nothing else can observe the write.
            unsafe { self.ptr.as_ptr().write_bytes(0, self.capacity) };
        }
        // Last use of the core: giving the count back may free it.
        PoolCore::give_counted(&self.core_arc(), self.class(), self.index());
    }
}

impl fmt::Debug for Buf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buf")
            .field("pool", &self.core().id)
            .field("index", &self.index())
            .field("ptr", &self.ptr)
            .field("capacity", &self.capacity)
            .field("filled", &self.filled)
            .finish()
    }
}
