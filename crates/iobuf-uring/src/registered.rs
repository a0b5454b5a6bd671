//! A pool registered with rings: every handle it gives out carries its `buf_index`.
//!
//! # Safety
//!
//! This module owns the claims that the pool's handles and memory meet [`IoBuf`] and
//! [`RegisterMemory`]: a `Buf` owns its bytes exclusively, at a fixed address inside the pool's
//! regions, until it is dropped; and the regions stay mapped for as long as any clone of the
//! pool (or of the arena) lives. Both are architecture invariants of iobuf-pool (1 and 3).
#![allow(unsafe_code)] // reason: implementing the unsafe IoBuf/RegisterMemory traits.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::time::Duration;

use iobuf_pool::{Arena, BuddyAllocator, Buf, BufferPool, MemoryRegion, PoolError};

use crate::{IoBuf, RegisterMemory, RegisterOptions, Registration, Ring, Span, UringError};

fn span_of(region: &MemoryRegion) -> Span {
    let ptr = NonNull::new(region.as_ptr()).expect("a pool region is never null");
    Span::new(ptr, region.len(), region.page_size())
}

// SAFETY: a pool's regions are mapped, at fixed addresses, until the last clone of the pool and
// the last of its buffers are gone (module docs); `regions()` never changes.
unsafe impl RegisterMemory for BufferPool {
    fn spans(&self) -> Vec<Span> {
        let stride = self.stride();
        self.regions().iter().map(|r| span_of(r).with_stride(stride)).collect()
    }
}

// SAFETY: as for BufferPool: an arena's one region lives as long as any clone or buffer.
unsafe impl RegisterMemory for Arena {
    fn spans(&self) -> Vec<Span> {
        // Tiers of different strides share the region: chunks are cut every 1 GiB (the
        // largest tier, 128 MiB, divides it), and a buffer of an odd-sized tier that would
        // straddle a cut is served unregistered.
        self.regions().iter().map(span_of).collect()
    }
}

// SAFETY: as for BufferPool: a buddy allocator's one region lives as long as any clone or block.
unsafe impl RegisterMemory for BuddyAllocator {
    fn spans(&self) -> Vec<Span> {
        // Blocks are aligned to their size from the region's start and at most 1 GiB unless the
        // builder asked for larger ones, so chunks cut every 1 GiB never split one; a larger
        // block straddles a cut and is served unregistered.
        self.regions().iter().map(span_of).collect()
    }
}

// SAFETY: a Buf owns its `capacity()` bytes exclusively at a fixed address until dropped
// (module docs); `set_filled` panics beyond the capacity.
unsafe impl IoBuf for Buf {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }

    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }

    fn capacity(&self) -> usize {
        Buf::capacity(self)
    }

    fn filled(&self) -> usize {
        Buf::filled(self)
    }

    fn set_filled(&mut self, n: usize) {
        Buf::set_filled(self, n);
    }
}

/// A [`BufferPool`] registered with one or more rings; its handles carry their `buf_index`.
///
/// Cheap to clone (the pool and the registration are both shared). Registration holds a clone
/// of the pool, so the memory outlives every ring it is registered with.
///
/// # Examples
///
/// ```
/// use iobuf_pool::BufferPool;
/// use iobuf_uring::{RegisteredBuf, RegisteredPool, Ring};
///
/// # if iobuf_uring::probe().map_or(true, |f| !f.sparse_buffers) { return Ok(()) }
/// let mut ring = Ring::<RegisteredBuf>::new(8)?;
/// let pool = RegisteredPool::new(BufferPool::builder(4096).capacity(16).build()?, &mut ring)?;
/// let buf = pool.try_get()?;
/// assert_eq!(buf.buf_index(), Some(pool.registration().slots().start));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct RegisteredPool {
    pool: BufferPool,
    registration: Registration,
}

impl RegisteredPool {
    /// Registers `pool` with `ring`.
    ///
    /// # Errors
    ///
    /// As [`Ring::register`]: notably [`UringError::Memlock`] naming the bytes needed and the
    /// limit.
    ///
    /// # Examples
    ///
    /// ```
    /// # if iobuf_uring::probe().map_or(true, |f| !f.sparse_buffers) { return Ok(()) }
    /// # let mut ring = iobuf_uring::Ring::<iobuf_uring::RegisteredBuf>::new(8)?;
    /// # let pool = iobuf_uring::RegisteredPool::new(iobuf_pool::BufferPool::builder(4096).capacity(2).build()?, &mut ring)?;
    /// assert!(pool.registration().is_registered());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new<B: IoBuf>(pool: BufferPool, ring: &mut Ring<B>) -> Result<Self, UringError> {
        Self::with_options(pool, ring, RegisterOptions::new())
    }

    /// Registers `pool` with `ring` with `options` — for instance falling back to unregistered
    /// I/O when `RLIMIT_MEMLOCK` is too low.
    ///
    /// # Errors
    ///
    /// As [`Ring::register`].
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::BufferPool;
    /// use iobuf_uring::{RegisterOptions, RegisteredBuf, RegisteredPool, Ring};
    ///
    /// # if iobuf_uring::probe().is_err() { return Ok(()) }
    /// let mut ring = Ring::<RegisteredBuf>::new(8)?;
    /// let pool = BufferPool::builder(4096).capacity(16).build()?;
    /// let options = RegisterOptions::new().fallback_to_unregistered(true);
    /// let pool = RegisteredPool::with_options(pool, &mut ring, options)?;
    /// if let Some(reason) = pool.registration().fallback_reason() {
    ///     eprintln!("unregistered I/O: {reason}");
    ///     assert_eq!(pool.try_get()?.buf_index(), None);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_options<B: IoBuf>(
        pool: BufferPool,
        ring: &mut Ring<B>,
        options: RegisterOptions,
    ) -> Result<Self, UringError> {
        let registration = ring.register(pool.clone(), options)?;
        Ok(Self { pool, registration })
    }

    /// Registers the same memory at the same slots on another ring (one ring per thread), so
    /// every handle works on every ring.
    ///
    /// # Errors
    ///
    /// As [`Ring::attach`].
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::BufferPool;
    /// use iobuf_uring::{RegisteredBuf, RegisteredPool, Ring};
    ///
    /// # if iobuf_uring::probe().map_or(true, |f| !f.sparse_buffers) { return Ok(()) }
    /// let mut first = Ring::<iobuf_uring::RegisteredBuf>::new(8)?;
    /// let pool = RegisteredPool::new(BufferPool::builder(4096).capacity(16).build()?, &mut first)?;
    /// let worker = {
    ///     let pool = pool.clone();
    ///     std::thread::spawn(move || -> Result<(), iobuf_uring::UringError> {
    ///         let mut ring = Ring::<iobuf_uring::RegisteredBuf>::new(8)?;
    ///         pool.attach(&mut ring)?;
    ///         Ok(())
    ///     })
    /// };
    /// worker.join().unwrap()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn attach<B: IoBuf>(&self, ring: &mut Ring<B>) -> Result<(), UringError> {
        ring.attach(&self.registration)
    }

    /// A buffer, without waiting.
    ///
    /// # Errors
    ///
    /// As [`BufferPool::try_get`] (the pool is exhausted).
    ///
    /// # Examples
    ///
    /// ```
    /// # if iobuf_uring::probe().map_or(true, |f| !f.sparse_buffers) { return Ok(()) }
    /// # let mut ring = iobuf_uring::Ring::<iobuf_uring::RegisteredBuf>::new(8)?;
    /// # let pool = iobuf_uring::RegisteredPool::new(iobuf_pool::BufferPool::builder(4096).capacity(2).build()?, &mut ring)?;
    /// let buf = pool.try_get()?;
    /// assert!(buf.buf_index().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_get(&self) -> Result<RegisteredBuf, PoolError> {
        self.pool.try_get().map(|buf| self.stamp(buf))
    }

    /// A buffer, blocking until one is free.
    ///
    /// # Examples
    ///
    /// ```
    /// # use iobuf_pool::BufferPool;
    /// # use iobuf_uring::{RegisteredPool, Ring};
    /// # if iobuf_uring::probe().map_or(true, |f| !f.sparse_buffers) { return Ok(()) }
    /// # let mut ring = Ring::<iobuf_uring::RegisteredBuf>::new(8)?;
    /// let pool = RegisteredPool::new(BufferPool::builder(4096).capacity(1).build()?, &mut ring)?;
    /// let buf = pool.get();
    /// assert_eq!(buf.capacity(), 4096);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(&self) -> RegisteredBuf {
        self.stamp(self.pool.get())
    }

    /// A buffer, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`BufferPool::get_timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use iobuf_pool::BufferPool;
    /// # use iobuf_uring::{RegisteredPool, Ring};
    /// # if iobuf_uring::probe().map_or(true, |f| !f.sparse_buffers) { return Ok(()) }
    /// # let mut ring = Ring::<iobuf_uring::RegisteredBuf>::new(8)?;
    /// let pool = RegisteredPool::new(BufferPool::builder(4096).capacity(1).build()?, &mut ring)?;
    /// let held = pool.try_get()?;
    /// assert!(pool.get_timeout(Duration::from_millis(1)).is_err());
    /// drop(held);
    /// assert!(pool.get_timeout(Duration::from_millis(1)).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<RegisteredBuf, PoolError> {
        self.pool.get_timeout(timeout).map(|buf| self.stamp(buf))
    }

    /// A buffer, awaiting one when none is free (runtime-agnostic).
    ///
    /// # Examples
    ///
    /// ```
    /// # use iobuf_pool::BufferPool;
    /// # use iobuf_uring::{RegisteredPool, Ring};
    /// # if iobuf_uring::probe().map_or(true, |f| !f.sparse_buffers) { return Ok(()) }
    /// # let mut ring = Ring::<iobuf_uring::RegisteredBuf>::new(8)?;
    /// let pool = RegisteredPool::new(BufferPool::builder(4096).capacity(1).build()?, &mut ring)?;
    /// let mut acquire = std::pin::pin!(pool.acquire());
    /// let waker = std::task::Waker::noop();
    /// let mut cx = std::task::Context::from_waker(waker);
    /// let std::task::Poll::Ready(buf) = acquire.as_mut().poll(&mut cx) else { panic!("free") };
    /// assert!(buf.buf_index().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn acquire(&self) -> RegisteredBuf {
        let buf = self.pool.acquire().await;
        self.stamp(buf)
    }

    /// Stamps a handle from this pool (taken from [`pool`](Self::pool) directly) with its
    /// `buf_index`; a handle from another pool gets none.
    ///
    /// # Examples
    ///
    /// ```
    /// # use iobuf_pool::BufferPool;
    /// # use iobuf_uring::{RegisteredPool, Ring};
    /// # if iobuf_uring::probe().map_or(true, |f| !f.sparse_buffers) { return Ok(()) }
    /// # let mut ring = Ring::<iobuf_uring::RegisteredBuf>::new(8)?;
    /// let pool = RegisteredPool::new(BufferPool::builder(4096).capacity(2).build()?, &mut ring)?;
    /// let plain = pool.pool().try_get()?;
    /// assert!(pool.stamp(plain).buf_index().is_some());
    /// let stranger = BufferPool::builder(4096).capacity(1).build()?.try_get()?;
    /// assert_eq!(pool.stamp(stranger).buf_index(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stamp(&self, buf: Buf) -> RegisteredBuf {
        self.registration.stamp(buf)
    }

    /// The pool.
    ///
    /// # Examples
    ///
    /// ```
    /// # if iobuf_uring::probe().map_or(true, |f| !f.sparse_buffers) { return Ok(()) }
    /// # let mut ring = iobuf_uring::Ring::<iobuf_uring::RegisteredBuf>::new(8)?;
    /// # let pool = iobuf_uring::RegisteredPool::new(iobuf_pool::BufferPool::builder(4096).capacity(2).build()?, &mut ring)?;
    /// assert_eq!(pool.pool().capacity(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pool(&self) -> &BufferPool {
        &self.pool
    }

    /// Where the pool is registered (or why it is not).
    ///
    /// # Examples
    ///
    /// ```
    /// # if iobuf_uring::probe().map_or(true, |f| !f.sparse_buffers) { return Ok(()) }
    /// # let mut ring = iobuf_uring::Ring::<iobuf_uring::RegisteredBuf>::new(8)?;
    /// # let pool = iobuf_uring::RegisteredPool::new(iobuf_pool::BufferPool::builder(4096).capacity(2).build()?, &mut ring)?;
    /// assert_eq!(pool.registration().slots(), 0..1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn registration(&self) -> &Registration {
        &self.registration
    }
}

impl fmt::Debug for RegisteredPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisteredPool")
            .field("pool", &self.pool)
            .field("registration", &self.registration)
            .finish()
    }
}

impl Registration {
    /// Stamps a pool handle with the slot covering it — for memory registered directly, such as
    /// an [`Arena`] (a handle from memory this registration does not cover gets none).
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{Arena, Tier};
    /// use iobuf_uring::{RegisterOptions, RegisteredBuf, Ring};
    ///
    /// # if iobuf_uring::probe().map_or(true, |f| !f.sparse_buffers) { return Ok(()) }
    /// let arena = Arena::builder().tier(Tier::Small, 8).tier(Tier::Big, 2).build()?;
    /// let mut ring = Ring::<RegisteredBuf>::new(8)?;
    /// let registration = ring.register(arena.clone(), RegisterOptions::new())?;
    /// let small = registration.stamp(arena.alloc(1000)?);
    /// let big = registration.stamp(arena.alloc(20_000)?);
    /// assert!(small.buf_index().is_some() && small.buf_index() == big.buf_index());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stamp(&self, buf: Buf) -> RegisteredBuf {
        let index = self.buf_index(buf.as_ptr(), buf.capacity());
        RegisteredBuf { buf, index }
    }
}

/// A pool handle stamped with its registered slot: operations use `ReadFixed`/`WriteFixed`
/// with it. Dereferences to the whole buffer; returns to its pool when dropped, on any thread.
///
/// # Examples
///
/// ```
/// # if iobuf_uring::probe().map_or(true, |f| !f.sparse_buffers) { return Ok(()) }
/// # let mut ring = iobuf_uring::Ring::<iobuf_uring::RegisteredBuf>::new(8)?;
/// # let pool = iobuf_uring::RegisteredPool::new(iobuf_pool::BufferPool::builder(4096).capacity(2).build()?, &mut ring)?;
/// let mut buf = pool.try_get()?;
/// buf[..3].copy_from_slice(b"abc");
/// buf.set_filled(3);
/// assert_eq!((buf.filled_slice(), buf.buf_index()), (&b"abc"[..], Some(0)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RegisteredBuf {
    buf: Buf,
    index: Option<u16>,
}

impl RegisteredBuf {
    /// The registered slot, `None` when the pool fell back to unregistered I/O.
    ///
    /// # Examples
    ///
    /// ```
    /// # if iobuf_uring::probe().map_or(true, |f| !f.sparse_buffers) { return Ok(()) }
    /// # let mut ring = iobuf_uring::Ring::<iobuf_uring::RegisteredBuf>::new(8)?;
    /// # let pool = iobuf_uring::RegisteredPool::new(iobuf_pool::BufferPool::builder(4096).capacity(2).build()?, &mut ring)?;
    /// assert_eq!(pool.try_get()?.buf_index(), Some(pool.registration().slots().start));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn buf_index(&self) -> Option<u16> {
        self.index
    }

    /// The plain pool handle.
    ///
    /// # Examples
    ///
    /// ```
    /// # use iobuf_pool::BufferPool;
    /// # use iobuf_uring::{RegisteredPool, Ring};
    /// # if iobuf_uring::probe().map_or(true, |f| !f.sparse_buffers) { return Ok(()) }
    /// # let mut ring = Ring::<iobuf_uring::RegisteredBuf>::new(8)?;
    /// # let pool = RegisteredPool::new(BufferPool::builder(4096).capacity(1).build()?, &mut ring)?;
    /// let buf: iobuf_pool::Buf = pool.try_get()?.into_inner();
    /// # drop(buf);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_inner(self) -> Buf {
        self.buf
    }

    /// The plain pool handle, by reference (index, tier, …).
    ///
    /// # Examples
    ///
    /// ```
    /// # use iobuf_pool::BufferPool;
    /// # use iobuf_uring::{RegisteredPool, Ring};
    /// # if iobuf_uring::probe().map_or(true, |f| !f.sparse_buffers) { return Ok(()) }
    /// # let mut ring = Ring::<iobuf_uring::RegisteredBuf>::new(8)?;
    /// # let pool = RegisteredPool::new(BufferPool::builder(4096).capacity(1).build()?, &mut ring)?;
    /// assert_eq!(pool.try_get()?.inner().index(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn inner(&self) -> &Buf {
        &self.buf
    }

    /// Size of the buffer.
    ///
    /// # Examples
    ///
    /// ```
    /// # if iobuf_uring::probe().map_or(true, |f| !f.sparse_buffers) { return Ok(()) }
    /// # let mut ring = iobuf_uring::Ring::<iobuf_uring::RegisteredBuf>::new(8)?;
    /// # let pool = iobuf_uring::RegisteredPool::new(iobuf_pool::BufferPool::builder(4096).capacity(2).build()?, &mut ring)?;
    /// assert_eq!(pool.try_get()?.capacity(), 4096);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Bytes of valid data.
    ///
    /// # Examples
    ///
    /// ```
    /// # if iobuf_uring::probe().map_or(true, |f| !f.sparse_buffers) { return Ok(()) }
    /// # let mut ring = iobuf_uring::Ring::<iobuf_uring::RegisteredBuf>::new(8)?;
    /// # let pool = iobuf_uring::RegisteredPool::new(iobuf_pool::BufferPool::builder(4096).capacity(2).build()?, &mut ring)?;
    /// let mut buf = pool.try_get()?;
    /// assert_eq!(buf.filled(), 0);
    /// buf.set_filled(10);
    /// assert_eq!(buf.filled(), 10);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn filled(&self) -> usize {
        self.buf.filled()
    }

    /// Sets the valid length.
    ///
    /// # Panics
    ///
    /// When `n` exceeds the capacity.
    ///
    /// # Examples
    ///
    /// ```
    /// # use iobuf_pool::BufferPool;
    /// # use iobuf_uring::{RegisteredPool, Ring};
    /// # if iobuf_uring::probe().map_or(true, |f| !f.sparse_buffers) { return Ok(()) }
    /// # let mut ring = Ring::<iobuf_uring::RegisteredBuf>::new(8)?;
    /// # let pool = RegisteredPool::new(BufferPool::builder(4096).capacity(1).build()?, &mut ring)?;
    /// let mut buf = pool.try_get()?;
    /// buf[..2].copy_from_slice(b"hi");
    /// buf.set_filled(2);
    /// assert_eq!(buf.filled_slice(), b"hi");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_filled(&mut self, n: usize) {
        self.buf.set_filled(n);
    }

    /// The valid bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// # if iobuf_uring::probe().map_or(true, |f| !f.sparse_buffers) { return Ok(()) }
    /// # let mut ring = iobuf_uring::Ring::<iobuf_uring::RegisteredBuf>::new(8)?;
    /// # let pool = iobuf_uring::RegisteredPool::new(iobuf_pool::BufferPool::builder(4096).capacity(2).build()?, &mut ring)?;
    /// let mut buf = pool.try_get()?;
    /// buf[..2].copy_from_slice(b"ok");
    /// buf.set_filled(2);
    /// assert_eq!(buf.filled_slice(), b"ok");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn filled_slice(&self) -> &[u8] {
        self.buf.filled_slice()
    }
}

impl Deref for RegisteredBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.buf
    }
}

impl DerefMut for RegisteredBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.buf
    }
}

impl fmt::Debug for RegisteredBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisteredBuf")
            .field("buf", &self.buf)
            .field("buf_index", &self.index)
            .finish()
    }
}

// SAFETY: as for Buf (the inner handle cannot be swapped out: there is no `&mut Buf` access).
unsafe impl IoBuf for RegisteredBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.buf.as_ptr()
    }

    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.buf.as_mut_ptr()
    }

    fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    fn filled(&self) -> usize {
        self.buf.filled()
    }

    fn set_filled(&mut self, n: usize) {
        self.buf.set_filled(n);
    }

    fn buf_index(&self) -> Option<u16> {
        self.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static_assertions::assert_impl_all!(RegisteredBuf: Send, Sync, IoBuf);
    static_assertions::assert_impl_all!(RegisteredPool: Send, Sync, Clone);

    #[test]
    fn spans_carry_the_pool_stride_from_the_first_buffer() {
        for (size, align) in [(3000, None), (100, None), (5000, Some(1 << 21))] {
            let mut builder = BufferPool::builder(size).capacity(4);
            if let Some(align) = align {
                builder = builder.align(align);
            }
            let pool = builder.build().unwrap();
            let spans = pool.spans();
            assert_eq!(spans[0].stride(), pool.stride());
            let first = pool.try_get().unwrap();
            let offset = first.as_ptr() as usize - spans[0].as_ptr() as usize;
            assert_eq!(offset, first.index() as usize * pool.stride(), "size {size}");
        }
    }
}
