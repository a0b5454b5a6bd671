//! What can be registered: memory described as spans, kept alive by its owner.
//!
//! # Safety
//!
//! This module owns one claim: a [`Span`] is a plain description (address, lengths) that
//! grants no access, so sending and sharing it is sound. The validity of the memory it
//! describes is the [`RegisterMemory`] implementor's promise.
#![allow(unsafe_code)] // reason: Send/Sync for a pointer-carrying description; the unsafe trait.

use std::ptr::NonNull;

/// One contiguous range of memory to register: address, length, the size of the pages backing
/// it (memlock accounting charges a huge page once), and the stride of the buffers carved from
/// it.
///
/// Spans over 1 GiB are registered as several chunks cut at multiples of the stride from the
/// span's start, so no buffer straddles two registered chunks (a buffer that still does — its
/// memory was not carved at the stated stride — simply gets no `buf_index` and is read and
/// written unregistered). A plain description; it grants no access by itself.
///
/// # Examples
///
/// ```
/// use std::ptr::NonNull;
/// use iobuf_uring::Span;
///
/// let mut bytes = [0u8; 64];
/// let span = Span::new(NonNull::from(&mut bytes).cast(), 64, 4096);
/// assert_eq!((span.len(), span.page_size()), (64, 4096));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    ptr: NonNull<u8>,
    len: usize,
    page_size: usize,
    stride: usize,
}

// SAFETY: a description of memory (address and lengths); it grants no access.
unsafe impl Send for Span {}
// SAFETY: as above; it is immutable.
unsafe impl Sync for Span {}

impl Span {
    /// A span of `len` bytes at `ptr` on pages of `page_size` bytes, with no buffer stride
    /// (chunks are cut every 1 GiB).
    ///
    /// # Panics
    ///
    /// When `page_size` is not a power of two.
    ///
    /// # Examples
    ///
    /// ```
    /// let span = iobuf_uring::Span::new(std::ptr::NonNull::dangling(), 0, 4096);
    /// assert_eq!(span.len(), 0);
    /// ```
    pub fn new(ptr: NonNull<u8>, len: usize, page_size: usize) -> Self {
        assert!(page_size.is_power_of_two(), "page size {page_size} is not a power of two");
        Self { ptr, len, page_size, stride: 1 }
    }

    /// States that buffers are carved from the span's start every `stride` bytes.
    ///
    /// # Panics
    ///
    /// When `stride` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let span = iobuf_uring::Span::new(std::ptr::NonNull::dangling(), 1 << 20, 4096).with_stride(3000);
    /// assert_eq!(span.stride(), 3000);
    /// ```
    #[must_use]
    pub fn with_stride(mut self, stride: usize) -> Self {
        assert!(stride > 0, "a buffer stride of 0");
        self.stride = stride;
        self
    }

    /// Distance between buffer starts (1 when not stated).
    ///
    /// # Examples
    ///
    /// ```
    /// let span = iobuf_uring::Span::new(std::ptr::NonNull::dangling(), 0, 4096);
    /// assert_eq!(span.stride(), 1);
    /// ```
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// First byte.
    ///
    /// # Examples
    ///
    /// ```
    /// let span = iobuf_uring::Span::new(std::ptr::NonNull::dangling(), 0, 4096);
    /// assert!(!span.as_ptr().is_null());
    /// ```
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Length in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let span = iobuf_uring::Span::new(std::ptr::NonNull::dangling(), 7, 4096);
    /// assert_eq!(span.len(), 7);
    /// ```
    #[allow(clippy::len_without_is_empty)] // reason: spans come from non-empty regions.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Size of the backing pages.
    ///
    /// # Examples
    ///
    /// ```
    /// let span = iobuf_uring::Span::new(std::ptr::NonNull::dangling(), 7, 2 << 20);
    /// assert_eq!(span.page_size(), 2 << 20);
    /// ```
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    /// Address one past the last byte.
    pub(crate) fn end(&self) -> usize {
        self.ptr.as_ptr() as usize + self.len
    }

    /// Address of the first byte.
    pub(crate) fn start(&self) -> usize {
        self.ptr.as_ptr() as usize
    }
}

/// Memory that can be registered with a ring: a fixed list of spans, valid for as long as the
/// value lives.
///
/// A registration takes the value by value (usually a cheap clone of a pool) and keeps it in the
/// ring until the ring is dropped, after every in-flight operation has completed, so the memory
/// outlives the registration (architecture invariant 3). Implemented for the pool types; a user
/// with memory of their own implements it to build their own registries.
///
/// # Safety
///
/// An implementor guarantees that every span `spans()` returns is valid for reads and writes,
/// at the same address, for as long as the value (or any clone sharing its memory) lives, and
/// that `spans()` returns the same list every time. The kernel will write into these bytes
/// whenever a fixed-buffer operation names them, so they must not back anything that Rust
/// assumes immutable.
///
/// # Examples
///
/// ```
/// use std::ptr::NonNull;
/// use std::sync::Arc;
/// use iobuf_align::Region;
/// use iobuf_uring::{RegisterMemory, Span};
///
/// /// A shared mapping, registered as one span.
/// #[derive(Clone)]
/// struct Shared(Arc<Region>);
///
/// // SAFETY: the region is mapped until the last Arc drops and never moves.
/// unsafe impl RegisterMemory for Shared {
///     fn spans(&self) -> Vec<Span> {
///         let ptr = NonNull::new(self.0.as_ptr().cast_mut()).unwrap();
///         vec![Span::new(ptr, self.0.len(), self.0.page_size()).with_stride(4096)]
///     }
/// }
///
/// let memory = Shared(Arc::new(Region::new(1 << 20)?));
/// assert_eq!(memory.spans()[0].len(), 1 << 20);
/// # Ok::<(), iobuf_align::AlignError>(())
/// ```
pub unsafe trait RegisterMemory: Send + Sync + 'static {
    /// The spans, in any order; never changing while the value lives.
    fn spans(&self) -> Vec<Span>;
}
