//! The buffer contract every ownership-passing operation is written against.
//!
//! # Safety
//!
//! This module declares the [`IoBuf`] contract and performs no unsafe operation itself; the
//! ring relies on the contract (see `ring.rs`), implementors promise it.
#![allow(unsafe_code)] // reason: declaring the unsafe IoBuf trait.

/// An owned I/O buffer whose memory stays at one address while the kernel uses it.
///
/// Operations on a [`Ring`](crate::Ring) take an `IoBuf` by value, keep it in the ring's
/// in-flight table while the kernel may read or write its memory, and give it back with the
/// result. Implemented for the pool's handles (`iobuf_pool::Buf`, [`RegisteredBuf`]) — and by
/// anyone with memory of their own who can keep the promises below.
///
/// [`RegisteredBuf`]: crate::RegisteredBuf
///
/// # Safety
///
/// An implementor guarantees, for as long as the value lives (moves included):
/// - `stable_mut_ptr()` returns the same address every time, and `stable_ptr()` returns it too;
/// - that address is valid for reads and writes of `capacity()` bytes, and `capacity()` never
///   changes;
/// - nothing reads or writes those bytes except through this value (the kernel may write them
///   while the ring holds the value, so no other alias may exist);
/// - the memory is neither freed nor reused before the value is dropped;
/// - `filled() <= capacity()` always.
///
/// `buf_index` is not part of the promise: a wrong index only makes the kernel refuse the
/// operation (`EFAULT`), because it checks the address range against the registered buffer.
///
/// # Examples
///
/// ```
/// use iobuf_align::AlignedBlock;
/// use iobuf_uring::IoBuf;
///
/// /// A heap buffer of one's own.
/// struct Block { block: AlignedBlock, filled: usize }
///
/// // SAFETY: AlignedBlock is owned, never moves or shrinks, and is only reached through
/// // `self`; `set_filled` keeps `filled <= capacity`.
/// unsafe impl IoBuf for Block {
///     fn stable_ptr(&self) -> *const u8 { self.block.as_ptr() }
///     fn stable_mut_ptr(&mut self) -> *mut u8 { self.block.as_mut_ptr() }
///     fn capacity(&self) -> usize { self.block.len() }
///     fn filled(&self) -> usize { self.filled }
///     fn set_filled(&mut self, n: usize) {
///         assert!(n <= self.capacity());
///         self.filled = n;
///     }
/// }
///
/// let mut buf = Block { block: AlignedBlock::page_aligned(4096)?, filled: 0 };
/// buf.set_filled(10);
/// assert_eq!(buf.filled_bytes().len(), 10);
/// assert_eq!(buf.buf_index(), None);
/// # Ok::<(), iobuf_align::AlignError>(())
/// ```
pub unsafe trait IoBuf: Send + 'static {
    /// The first byte; stable for the value's life.
    fn stable_ptr(&self) -> *const u8;

    /// The first byte, for the kernel to write; the same address as
    /// [`stable_ptr`](Self::stable_ptr).
    fn stable_mut_ptr(&mut self) -> *mut u8;

    /// Size of the buffer in bytes.
    fn capacity(&self) -> usize;

    /// Bytes of valid data from the start: what a write sends, what a read received.
    fn filled(&self) -> usize;

    /// Sets the valid length; a completed read sets it to the bytes read.
    ///
    /// # Panics
    ///
    /// Implementations panic when `n > capacity()`.
    fn set_filled(&mut self, n: usize);

    /// The registered-buffer slot that covers this buffer on the rings it was registered
    /// with, if any. Operations use `ReadFixed`/`WriteFixed` when it is `Some`, plain
    /// `Read`/`Write` otherwise.
    fn buf_index(&self) -> Option<u16> {
        None
    }

    /// The valid bytes, `[0, filled())`.
    fn filled_bytes(&self) -> &[u8] {
        let len = self.filled().min(self.capacity());
        // Reached through the shared helper so the one unsafe step lives in one module.
        crate::iovec::bytes_of(self.stable_ptr(), len, self)
    }
}
