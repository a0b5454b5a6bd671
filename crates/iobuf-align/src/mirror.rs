//! The mirrored mapping: one set of pages mapped twice, back to back.
//!
//! # Safety
//!
//! This module owns the obligation that the two views are made here, from one memfd, and that
//! the whole `2 * len` reservation is unmapped exactly once on drop. Because byte `len + i` *is*
//! byte `i`, no slice handed out may be longer than `len`: a longer one would alias itself, which
//! Rust's references forbid. Every accessor enforces that bound.
#![allow(unsafe_code)] // reason: the two fixed mappings and slices over them (see module docs).

use core::fmt;
use core::ptr::NonNull;

use crate::{AlignError, StableMemory, page_size, sys};

/// `len` bytes of memory mapped twice, back to back: byte `len + i` is byte `i`.
///
/// A ring buffer over it never splits a read or write at the seam: any window of up to `len`
/// bytes starting anywhere in the first view is one contiguous slice. Built from a memfd and two
/// `MAP_FIXED` shared mappings inside one reservation; unmapped on drop.
///
/// # Examples
///
/// ```
/// use iobuf_align::{MirroredRegion, page_size};
///
/// let mut ring = MirroredRegion::new(page_size())?;
/// let len = ring.len();
/// // Write 8 bytes across the seam…
/// ring.slice_mut(len - 4, 8).unwrap().copy_from_slice(b"ABCDEFGH");
/// // …the last 4 land at the end, the first 4 at the start.
/// assert_eq!(ring.slice(len - 4, 4).unwrap(), b"ABCD");
/// assert_eq!(ring.slice(0, 4).unwrap(), b"EFGH");
/// # Ok::<(), iobuf_align::AlignError>(())
/// ```
pub struct MirroredRegion {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: uniquely owned memory; moving it moves ownership of plain bytes.
unsafe impl Send for MirroredRegion {}
// SAFETY: shared references only hand out `&[u8]`; mutation needs `&mut self`.
unsafe impl Sync for MirroredRegion {}

impl MirroredRegion {
    /// Maps `len` bytes twice, back to back. `len` must be a non-zero multiple of the page size.
    ///
    /// # Errors
    ///
    /// [`AlignError::ZeroSize`]; [`AlignError::NotPageMultiple`]; [`AlignError::SizeOverflow`]
    /// when `2 * len` overflows; [`AlignError::Os`] naming the failed call (`memfd_create`,
    /// `ftruncate`, `mmap`).
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_align::{AlignError, MirroredRegion};
    /// let err = MirroredRegion::new(100).unwrap_err();
    /// assert!(matches!(err, AlignError::NotPageMultiple { size: 100, .. }));
    /// ```
    pub fn new(len: usize) -> Result<Self, AlignError> {
        if len == 0 {
            return Err(AlignError::ZeroSize);
        }
        let page = page_size();
        if len % page != 0 {
            return Err(AlignError::NotPageMultiple { size: len, page_size: page });
        }
        let total = len.checked_mul(2).filter(|&t| t <= isize::MAX as usize);
        let total = total.ok_or(AlignError::SizeOverflow)?;
        let file = sys::memfd(len).map_err(|(call, errno)| AlignError::Os { call, errno })?;
        // Reserve 2 * len of address space, then lay the file over each half.
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
        let ptr = sys::map_new(total, libc::PROT_NONE, flags, -1)
            .map_err(|errno| AlignError::Os { call: "mmap", errno })?;
        // From here on `region` owns the reservation and unmaps it on any early return.
        let region = Self { ptr, len };
        let second = ptr.map_addr(|addr| addr.saturating_add(len));
        for view in [ptr, second] {
            // SAFETY: each half lies inside the reservation this function just made and that
            // nothing references yet.
            unsafe { sys::map_fixed_shared(view, len, file.0) }
                .map_err(|errno| AlignError::Os { call: "mmap", errno })?;
        }
        // The mappings keep the file alive; `file` closes the descriptor on return.
        Ok(region)
    }

    /// The first byte of the first view. The two views span `base()..base() + 2 * len()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let ring = iobuf_align::MirroredRegion::new(iobuf_align::page_size())?;
    /// assert_eq!(ring.as_ptr() as usize % iobuf_align::page_size(), 0);
    /// # Ok::<(), iobuf_align::AlignError>(())
    /// ```
    pub fn as_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    /// Length of one view (the ring's capacity).
    ///
    /// # Examples
    ///
    /// ```
    /// let ring = iobuf_align::MirroredRegion::new(2 * iobuf_align::page_size())?;
    /// assert_eq!(ring.len(), 2 * iobuf_align::page_size());
    /// # Ok::<(), iobuf_align::AlignError>(())
    /// ```
    #[allow(clippy::len_without_is_empty)] // reason: never empty; is_empty comes from StableMemory.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The window of `len` bytes starting at `offset` of the first view, or `None` unless
    /// `offset < self.len()` and `len <= self.len()`. The window may run into the second view.
    ///
    /// # Examples
    ///
    /// ```
    /// let ring = iobuf_align::MirroredRegion::new(iobuf_align::page_size())?;
    /// assert_eq!(ring.slice(ring.len() - 1, ring.len()).map(<[u8]>::len), Some(ring.len()));
    /// assert!(ring.slice(0, ring.len() + 1).is_none());
    /// # Ok::<(), iobuf_align::AlignError>(())
    /// ```
    pub fn slice(&self, offset: usize, len: usize) -> Option<&[u8]> {
        let start = self.window(offset, len)?;
        // SAFETY: `window` checked offset < self.len and len <= self.len, so the bytes lie inside
        // the 2 * len mapping and no byte appears twice in the slice; &self excludes writers.
        Some(unsafe { core::slice::from_raw_parts(start.as_ptr(), len) })
    }

    /// As [`slice`](Self::slice), writable.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut ring = iobuf_align::MirroredRegion::new(iobuf_align::page_size())?;
    /// let len = ring.len();
    /// assert!(ring.slice_mut(len, 1).is_none()); // offsets start in the first view
    /// ring.slice_mut(len - 1, 2).unwrap()[1] = 9; // second view's first byte …
    /// assert_eq!(ring.slice(0, 1).unwrap()[0], 9); // … is the first view's first byte
    /// # Ok::<(), iobuf_align::AlignError>(())
    /// ```
    pub fn slice_mut(&mut self, offset: usize, len: usize) -> Option<&mut [u8]> {
        let start = self.window(offset, len)?;
        // SAFETY: as in `slice`; `&mut self` makes this the only reference into the mapping.
        Some(unsafe { core::slice::from_raw_parts_mut(start.as_ptr(), len) })
    }

    fn window(&self, offset: usize, len: usize) -> Option<NonNull<u8>> {
        (offset < self.len && len <= self.len)
            .then(|| self.ptr.map_addr(|addr| addr.saturating_add(offset)))
    }
}

// SAFETY: the first view is owned until drop, never remapped, and reachable only through self.
// Users writing through `base()` must keep each access within `len()` bytes of its start, as the
// mirrored aliasing demands (see the module docs).
unsafe impl StableMemory for MirroredRegion {
    fn base(&self) -> NonNull<u8> {
        self.ptr
    }

    fn len(&self) -> usize {
        self.len
    }
}

impl Drop for MirroredRegion {
    fn drop(&mut self) {
        // SAFETY: the whole 2 * len reservation was mapped in `new` and is unmapped once here.
        unsafe { sys::unmap(self.ptr, 2 * self.len) }
    }
}

impl fmt::Debug for MirroredRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MirroredRegion").field("ptr", &self.ptr).field("len", &self.len).finish()
    }
}
