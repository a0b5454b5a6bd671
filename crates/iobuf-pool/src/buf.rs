//! The owning buffer handle, for every pool type: a tiered pool's or arena's buffer, or a
//! buddy allocator's block.
//!
//! # Safety
//!
//! This module owns the claim that a [`Buf`] is the only way to reach its buffer's bytes: the
//! free list (or the buddy allocator) hands each buffer to one owner at a time (architecture
//! invariant 2), the handle is neither `Clone` nor `Copy`, and it gives the buffer back exactly
//! once — in `Drop`, or never when turned into a raw pointer or an index that then carries the
//! ownership. The memory and the owner stay alive while the handle lives because the handle
//! holds a count: for a pool, one count of the core's `out_refs` (see `core`), which keeps the
//! core's self-reference alive; for a buddy block (`at` has [`BUDDY`] set), one strong count
//! of the `Arc<BuddyCore>` whose pointer `owner` is. An index made by `into_index` carries that
//! count on, and the handle that takes the index back (after the owner checked and cleared the
//! index's mark) takes the count over.
#![allow(unsafe_code)] // reason: slices over owned pool memory; raw hand-over (see module docs).

use core::fmt;
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;

use crate::buddy::BuddyCore;
use crate::core::PoolCore;
use crate::index::BufIndex;
use crate::sync::Arc;
use crate::{PoolError, Tier};

/// Set in `at` for a buddy block; a pool's `at` (class below 256) never has it.
const BUDDY: u64 = 1 << 63;

/// A buffer from a pool: owns its bytes until dropped, then returns itself to its pool — from
/// any thread.
///
/// The address never changes while the handle lives, so the buffer can be handed to the kernel.
/// It dereferences to the whole buffer (`capacity()` bytes, always initialised: pool memory is
/// zeroed when mapped). A separate *filled length* records how much of it holds data, for I/O
/// results.
///
/// The same handle type comes from a [`BufferPool`](crate::BufferPool), from every tier of an
/// [`Arena`](crate::Arena) and from a [`BuddyAllocator`](crate::BuddyAllocator), so code that
/// passes buffers around (or registers them with the kernel) need not know what is behind them.
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
    /// The owner — a `PoolCore`, or a `BuddyCore` when `at` has `BUDDY` set — kept alive by
    /// the count this handle holds (see the module docs).
    owner: NonNull<()>,
    ptr: NonNull<u8>,
    capacity: usize,
    filled: usize,
    /// Index and class packed in one word (`class << 32 | index`; a buddy block's is
    /// `BUDDY | order << 32 | unit`): written and read whole, so moving a handle never loads a
    /// word that was stored in pieces (a store-forwarding stall that once cost half of an
    /// uncontended get). The pool's drop tests one bit of it, already in a register.
    at: u64,
}

/// The pointer an `Arc` hands out, with the provenance `Arc::from_raw` needs, type-erased.
fn arc_ptr<T>(arc: &Arc<T>) -> NonNull<()> {
    NonNull::new(Arc::as_ptr(arc).cast_mut()).expect("an Arc is never null").cast()
}

/// Who a handle goes back to.
enum Owner<'a> {
    Pool(&'a PoolCore),
    Buddy(&'a BuddyCore),
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
        // `Arc::as_ptr`, not a reference: the pointer keeps the provenance of the whole
        // allocation, which `core_arc` needs to rebuild the `Arc`.
        let owner = arc_ptr(core);
        let at = (class as u64) << 32 | u64::from(index);
        Self { owner, ptr, capacity, filled: 0, at }
    }

    /// A handle for the block of `order` starting at `unit`, which the caller took from the
    /// allocator; `core` is the strong count the handle holds from now on.
    #[inline]
    pub(crate) fn buddy(core: Arc<BuddyCore>, order: u32, unit: u32) -> Self {
        let ptr = core.ptr(unit);
        // The count goes with the handle, as this raw pointer, until `drop_buddy` takes it back.
        let owner =
            NonNull::new(Arc::into_raw(core).cast_mut()).expect("an Arc is never null").cast();
        let at = BUDDY | u64::from(order) << 32 | u64::from(unit);
        Self { owner, ptr, capacity: 1 << order, filled: 0, at }
    }

    /// Turns a buddy block that is out as an index back into a handle, which takes over the
    /// strong count the index carries.
    pub(crate) fn buddy_from_index(
        core: &Arc<BuddyCore>,
        index: BufIndex,
    ) -> Result<Self, PoolError> {
        // Checks the index is out and clears its mark: from here the count is ours.
        let (order, unit) = core.mark_in(index)?;
        let owner = arc_ptr(core);
        let at = BUDDY | u64::from(order) << 32 | u64::from(unit);
        Ok(Self { owner, ptr: core.ptr(unit), capacity: 1 << order, filled: 0, at })
    }

    #[inline(always)]
    fn is_buddy(&self) -> bool {
        self.at & BUDDY != 0
    }

    /// The pool core this buffer belongs to; only for a pool's buffer.
    #[inline(always)]
    fn core(&self) -> &PoolCore {
        debug_assert!(!self.is_buddy());
        // SAFETY: a pool's buffer points at its `PoolCore`, which the count this handle holds
        // keeps alive (module docs).
        unsafe { self.owner.cast::<PoolCore>().as_ref() }
    }

    /// The owner, by kind.
    #[inline]
    fn owner(&self) -> Owner<'_> {
        if self.is_buddy() {
            // SAFETY: a buddy block points at its `BuddyCore`, kept alive by the strong count
            // this handle holds (module docs).
            Owner::Buddy(unsafe { self.owner.cast::<BuddyCore>().as_ref() })
        } else {
            Owner::Pool(self.core())
        }
    }

    /// The core as an `Arc`, without touching its strong count, for paths that register thread
    /// caches. Must not be dropped (it is `ManuallyDrop`) nor outlive `self`.
    #[inline(always)]
    fn core_arc(&self) -> ManuallyDrop<Arc<PoolCore>> {
        // SAFETY: a pool's `owner` is the pointer of an `Arc<PoolCore>` (from `Arc`'s deref in
        // `new`) whose allocation the held count keeps alive; ManuallyDrop leaves the strong
        // count as it was.
        ManuallyDrop::new(unsafe { Arc::from_raw(self.owner.cast::<PoolCore>().as_ptr()) })
    }

    /// The buffer's index in its pool (or tier): what index-level code uses. For a buddy
    /// block, its offset from the region's start in minimum blocks (`offset / min_block`).
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

    /// The size class (arena tier) within the pool; only for a pool's buffer.
    #[inline(always)]
    fn class(&self) -> usize {
        (self.at >> 32) as usize
    }

    /// A buddy block's order (`log2` of its size).
    #[inline(always)]
    fn order(&self) -> u32 {
        (self.at >> 32) as u32 & 0xFF
    }

    /// The buffer's size in bytes; for a buddy block, the block's size (the request rounded
    /// up to a power of two, at least the minimum block).
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

    /// The tier of the buffer, when its pool is tiered (`None` for a buddy block).
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{BuddyAllocator, BufferPool, Tier};
    /// let pool = BufferPool::small(2)?;
    /// assert_eq!(pool.try_get()?.tier(), Some(Tier::Small));
    /// let buddy = BuddyAllocator::builder().region_size(1 << 20).build()?;
    /// assert_eq!(buddy.try_alloc(2048)?.tier(), None);
    /// # Ok::<(), iobuf_pool::PoolError>(())
    /// ```
    pub fn tier(&self) -> Option<Tier> {
        match self.owner() {
            Owner::Pool(core) => core.classes[self.class()].tier,
            Owner::Buddy(_) => None,
        }
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
    /// until [`BufferPool::buf_from_raw`](crate::BufferPool::buf_from_raw),
    /// [`Arena::buf_from_raw`](crate::Arena::buf_from_raw) or
    /// [`BuddyAllocator::buf_from_raw`](crate::BuddyAllocator::buf_from_raw) takes it back;
    /// never calling it leaks the buffer and keeps the pool's memory mapped. It costs one
    /// atomic mark, so a second `buf_from_raw` of the same pointer is refused.
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
    /// [`BufferPool::put_index`](crate::BufferPool::put_index) (or `Arena::put_index`,
    /// [`BuddyAllocator::put_index`](crate::BuddyAllocator::put_index)) or
    /// [`BufferPool::buf_from_index`](crate::BufferPool::buf_from_index) (or the arena's or
    /// allocator's).
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
        match this.owner() {
            Owner::Pool(core) => core.mark_out(this.class(), this.index()),
            Owner::Buddy(core) => core.mark_out(this.order(), this.index()),
        }
    }

    /// The id of the pool (or buddy allocator) the buffer belongs to.
    pub(crate) fn pool_id(&self) -> u64 {
        match self.owner() {
            Owner::Pool(core) => core.id,
            Owner::Buddy(core) => core.shape.id,
        }
    }

    /// Gives a buddy block back, then the strong count: the last use of the core.
    #[inline(never)]
    fn drop_buddy(&mut self) {
        // SAFETY: a buddy block's `owner` is the pointer of an `Arc<BuddyCore>` whose strong
        // count this handle holds (`buddy` / `buddy_from_index`); the handle is being dropped,
        // so the count is given up exactly once, here.
        let core = unsafe { Arc::from_raw(self.owner.cast::<BuddyCore>().as_ptr().cast_const()) };
        if core.shape.zero_on_return {
            // SAFETY: the handle still owns the block's bytes; nothing else can observe them.
            unsafe { self.ptr.as_ptr().write_bytes(0, self.capacity) };
        }
        core.give(self.order(), self.index());
        // `core` drops here, after the block went back: the memory may go with it.
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
        if self.is_buddy() {
            self.drop_buddy();
            return;
        }
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
            .field("pool", &self.pool_id())
            .field("index", &self.index())
            .field("ptr", &self.ptr)
            .field("capacity", &self.capacity)
            .field("filled", &self.filled)
            .finish()
    }
}
