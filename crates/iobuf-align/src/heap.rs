//! Owned, zeroed, aligned heap blocks.
//!
//! # Safety
//!
//! This module owns the allocator obligation for [`AlignedBlock`]: the pointer it holds came
//! from `alloc_zeroed` with exactly the stored layout and is passed back to `dealloc` with that
//! same layout once, in `Drop`.
#![allow(unsafe_code)] // reason: the heap half of the memory gate (see module docs).
#![allow(clippy::disallowed_methods)] // reason: iobuf-align is the one crate allowed to allocate.

use alloc::alloc::{Layout, alloc_zeroed, dealloc};
use core::fmt;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;

use crate::{AlignError, CACHE_LINE_SIZE, StableMemory, page_size};

/// An owned, zeroed heap block of any size ≥ 1 and any power-of-two alignment.
///
/// The block never moves or grows: its address is stable from allocation to drop, so it can
/// back I/O buffers. It dereferences to `[u8]` and is freed on drop.
///
/// # Examples
///
/// ```
/// use iobuf_align::AlignedBlock;
///
/// let mut block = AlignedBlock::new(1000, 512)?; // O_DIRECT-friendly alignment
/// assert_eq!(block.as_ptr() as usize % 512, 0);
/// assert_eq!(block.len(), 1000);
/// block[..5].copy_from_slice(b"hello");
/// assert_eq!(&block[..5], b"hello");
/// # Ok::<(), iobuf_align::AlignError>(())
/// ```
pub struct AlignedBlock {
    ptr: NonNull<u8>,
    layout: Layout,
}

// SAFETY: the block is uniquely owned memory with no interior mutability; moving it to another
// thread moves ownership of plain bytes.
unsafe impl Send for AlignedBlock {}
// SAFETY: shared references only hand out `&[u8]`; mutation needs `&mut self`.
unsafe impl Sync for AlignedBlock {}

impl AlignedBlock {
    /// Allocates `size` zeroed bytes aligned to `align`.
    ///
    /// # Errors
    ///
    /// [`AlignError::ZeroSize`] for `size == 0`; [`AlignError::AlignmentNotPowerOfTwo`];
    /// [`AlignError::SizeOverflow`] when `size` rounded up to `align` exceeds `isize::MAX`;
    /// [`AlignError::OutOfMemory`] when the allocator fails.
    ///
    /// # Examples
    ///
    /// ```
    /// let block = iobuf_align::AlignedBlock::new(3, 1 << 20)?;
    /// assert_eq!(block.as_ptr() as usize % (1 << 20), 0);
    /// assert_eq!(&block[..], &[0, 0, 0]);
    /// # Ok::<(), iobuf_align::AlignError>(())
    /// ```
    pub fn new(size: usize, align: usize) -> Result<Self, AlignError> {
        if size == 0 {
            return Err(AlignError::ZeroSize);
        }
        if !align.is_power_of_two() {
            return Err(AlignError::AlignmentNotPowerOfTwo { align });
        }
        let layout = Layout::from_size_align(size, align).map_err(|_| AlignError::SizeOverflow)?;
        // SAFETY: the layout has a non-zero size (checked above).
        let raw = unsafe { alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).ok_or(AlignError::OutOfMemory { size })?;
        Ok(Self { ptr, layout })
    }

    /// Allocates `size` zeroed bytes aligned to the OS page size (what `O_DIRECT` needs).
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    ///
    /// # Examples
    ///
    /// ```
    /// let block = iobuf_align::AlignedBlock::page_aligned(100)?;
    /// assert_eq!(block.as_ptr() as usize % iobuf_align::page_size(), 0);
    /// # Ok::<(), iobuf_align::AlignError>(())
    /// ```
    pub fn page_aligned(size: usize) -> Result<Self, AlignError> {
        Self::new(size, page_size())
    }

    /// Allocates one whole OS page, page aligned.
    ///
    /// # Errors
    ///
    /// [`AlignError::OutOfMemory`] when the allocator fails.
    ///
    /// # Examples
    ///
    /// ```
    /// let page = iobuf_align::AlignedBlock::one_page()?;
    /// assert_eq!(page.len(), iobuf_align::page_size());
    /// # Ok::<(), iobuf_align::AlignError>(())
    /// ```
    pub fn one_page() -> Result<Self, AlignError> {
        Self::page_aligned(page_size())
    }

    /// Allocates `size` zeroed bytes aligned to [`CACHE_LINE_SIZE`], so no other allocation
    /// shares its first cache line.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    ///
    /// # Examples
    ///
    /// ```
    /// let block = iobuf_align::AlignedBlock::cache_aligned(24)?;
    /// assert_eq!(block.as_ptr() as usize % iobuf_align::CACHE_LINE_SIZE, 0);
    /// # Ok::<(), iobuf_align::AlignError>(())
    /// ```
    pub fn cache_aligned(size: usize) -> Result<Self, AlignError> {
        Self::new(size, CACHE_LINE_SIZE)
    }

    /// The alignment the block was allocated with.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(iobuf_align::AlignedBlock::new(8, 256)?.align(), 256);
    /// # Ok::<(), iobuf_align::AlignError>(())
    /// ```
    pub fn align(&self) -> usize {
        self.layout.align()
    }

    /// The first byte, for handing to system calls. Valid until the block is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut block = iobuf_align::AlignedBlock::new(8, 8)?;
    /// let p = block.as_mut_ptr();
    /// assert_eq!(p as *const u8, block.as_ptr());
    /// # Ok::<(), iobuf_align::AlignError>(())
    /// ```
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }
}

impl Deref for AlignedBlock {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: ptr is valid for layout.size() initialised (zeroed) bytes for self's lifetime.
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.layout.size()) }
    }
}

impl DerefMut for AlignedBlock {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in deref, and `&mut self` makes this the only reference.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.layout.size()) }
    }
}

// SAFETY: the allocation is owned until drop, never reallocated, and only reachable through self.
unsafe impl StableMemory for AlignedBlock {
    fn base(&self) -> NonNull<u8> {
        self.ptr
    }

    fn len(&self) -> usize {
        self.layout.size()
    }
}

impl Drop for AlignedBlock {
    fn drop(&mut self) {
        // SAFETY: ptr came from alloc_zeroed(self.layout) and is freed exactly once, here.
        unsafe { dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

impl fmt::Debug for AlignedBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlignedBlock")
            .field("ptr", &self.ptr)
            .field("len", &self.layout.size())
            .field("align", &self.layout.align())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static_assertions::assert_impl_all!(AlignedBlock: Send, Sync, StableMemory);
    static_assertions::assert_not_impl_any!(AlignedBlock: Clone, Copy);
    // A pointer and a layout (size, align): three words, no hidden overhead.
    static_assertions::assert_eq_size!(AlignedBlock, [usize; 3]);

    #[test]
    fn size_overflow_is_an_error() {
        assert_eq!(AlignedBlock::new(usize::MAX, 1).unwrap_err(), AlignError::SizeOverflow);
        assert_eq!(
            AlignedBlock::new(isize::MAX as usize, 1 << 12).unwrap_err(),
            AlignError::SizeOverflow
        );
    }
}
