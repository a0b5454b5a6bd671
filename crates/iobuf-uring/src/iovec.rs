//! `struct iovec` with a lifetime: vectors that cannot outlive the buffers they describe.
//!
//! The Go original handed out the bare address of an iovec array that the collector could free
//! while the kernel still read it. Here an [`IoVec<'a>`] borrows the bytes it points at for
//! `'a`, so a `Vec<IoVec<'a>>` cannot outlive them, and the raw `(address, count)` for a system
//! call comes from [`IoVec::raw_parts`] on a borrowed slice of them.
//!
//! # Safety
//!
//! This module owns two obligations: that [`IoVec`]/[`IoVecMut`] have exactly the layout of
//! `libc::iovec` and of std's `IoSlice`/`IoSliceMut` (asserted at compile time below; std
//! documents `IoSlice` and `IoSliceMut` as ABI-compatible with `iovec` on Unix), which makes the
//! slice casts sound; and that every `(base, len)` inside one was taken from a live borrow of
//! `'a`, which makes turning it back into a slice sound.
#![allow(unsafe_code)] // reason: iovec ↔ slice conversions (see module docs).

use std::io::{IoSlice, IoSliceMut};
use std::marker::PhantomData;
use std::mem::{align_of, offset_of, size_of};

use static_assertions::{assert_eq_align, assert_eq_size, const_assert_eq};

use crate::IoBuf;

/// A read-only `struct iovec` borrowing `'a` bytes: what `writev` and `WriteFixed` read.
///
/// # Examples
///
/// ```
/// use iobuf_uring::IoVec;
///
/// let parts: [&[u8]; 2] = [b"hello, ", b"world"];
/// let iovecs = IoVec::from_slices(&parts);
/// assert_eq!(IoVec::total_len(&iovecs), 12);
/// assert_eq!(iovecs[1].as_slice(), b"world");
/// ```
///
/// The vector cannot outlive the bytes it describes:
///
/// ```compile_fail
/// let iovecs = {
///     let bytes = vec![1u8; 4];
///     iobuf_uring::IoVec::from_slices(&[&bytes[..]])
/// }; // `bytes` dropped here while still borrowed
/// assert_eq!(iobuf_uring::IoVec::total_len(&iovecs), 4);
/// ```
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct IoVec<'a> {
    iov_base: *mut libc::c_void,
    iov_len: usize,
    borrow: PhantomData<&'a [u8]>,
}

/// A writable `struct iovec` exclusively borrowing `'a` bytes: what `readv` fills.
///
/// # Examples
///
/// ```
/// use iobuf_uring::IoVecMut;
///
/// let (mut a, mut b) = ([0u8; 4], [0u8; 8]);
/// let mut iovecs = vec![IoVecMut::new(&mut a), IoVecMut::new(&mut b)];
/// let mut reader: &[u8] = b"0123456789ab";
/// let n = std::io::Read::read_vectored(&mut reader, IoVecMut::as_io_slices_mut(&mut iovecs))?;
/// assert_eq!(n, 12);
/// drop(iovecs);
/// assert_eq!(&b, b"456789ab");
/// # Ok::<(), std::io::Error>(())
/// ```
#[repr(C)]
#[derive(Debug)]
pub struct IoVecMut<'a> {
    iov_base: *mut libc::c_void,
    iov_len: usize,
    borrow: PhantomData<&'a mut [u8]>,
}

// Layout: identical to `struct iovec`, field by field, so a slice of either is an iovec array.
assert_eq_size!(IoVec<'static>, libc::iovec);
assert_eq_align!(IoVec<'static>, libc::iovec);
const_assert_eq!(offset_of!(IoVec<'static>, iov_base), offset_of!(libc::iovec, iov_base));
const_assert_eq!(offset_of!(IoVec<'static>, iov_len), offset_of!(libc::iovec, iov_len));
assert_eq_size!(IoVecMut<'static>, libc::iovec);
assert_eq_align!(IoVecMut<'static>, libc::iovec);
const_assert_eq!(offset_of!(IoVecMut<'static>, iov_base), offset_of!(libc::iovec, iov_base));
const_assert_eq!(offset_of!(IoVecMut<'static>, iov_len), offset_of!(libc::iovec, iov_len));
// And identical in size and alignment to std's own iovec wrappers.
assert_eq_size!(IoVec<'static>, IoSlice<'static>);
assert_eq_align!(IoVec<'static>, IoSlice<'static>);
assert_eq_size!(IoVecMut<'static>, IoSliceMut<'static>);
assert_eq_align!(IoVecMut<'static>, IoSliceMut<'static>);
const _: () = assert!(size_of::<libc::iovec>() == 2 * size_of::<usize>());
const _: () = assert!(align_of::<libc::iovec>() == align_of::<usize>());

// SAFETY: an IoVec is a shared borrow of bytes (`&'a [u8]` is Send + Sync).
unsafe impl Send for IoVec<'_> {}
// SAFETY: as above.
unsafe impl Sync for IoVec<'_> {}
// SAFETY: an IoVecMut is an exclusive borrow of bytes (`&'a mut [u8]` is Send + Sync).
unsafe impl Send for IoVecMut<'_> {}
// SAFETY: as above; shared access to an IoVecMut only reads its fields.
unsafe impl Sync for IoVecMut<'_> {}

impl<'a> IoVec<'a> {
    /// The iovec of `bytes`.
    ///
    /// # Examples
    ///
    /// ```
    /// let v = iobuf_uring::IoVec::new(b"abc");
    /// assert_eq!((v.len(), v.as_slice()), (3, &b"abc"[..]));
    /// ```
    pub fn new(bytes: &'a [u8]) -> Self {
        Self {
            iov_base: bytes.as_ptr().cast_mut().cast(),
            iov_len: bytes.len(),
            borrow: PhantomData,
        }
    }

    /// The iovec of a buffer's valid bytes (`[0, filled)`), what a write of it sends.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::BufferPool;
    /// use iobuf_uring::{IoBuf, IoVec};
    ///
    /// let pool = BufferPool::builder(4096).capacity(1).build()?;
    /// let mut buf = pool.try_get()?;
    /// buf[..2].copy_from_slice(b"hi");
    /// buf.set_filled(2);
    /// assert_eq!(IoVec::from_buf(&buf).as_slice(), b"hi");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_buf<B: IoBuf>(buf: &'a B) -> Self {
        Self::new(buf.filled_bytes())
    }

    /// One iovec per buffer, each over its valid bytes. The vector borrows the buffers, so it
    /// cannot outlive them.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::BufferPool;
    /// use iobuf_uring::IoVec;
    ///
    /// let pool = BufferPool::builder(4096).capacity(3).build()?;
    /// let mut bufs: Vec<_> = (0..3).map(|_| pool.try_get()).collect::<Result<_, _>>()?;
    /// for buf in &mut bufs {
    ///     buf.set_filled(100);
    /// }
    /// let iovecs = IoVec::from_bufs(&bufs);
    /// assert_eq!(IoVec::total_len(&iovecs), 300);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_bufs<B: IoBuf>(bufs: &'a [B]) -> Vec<Self> {
        bufs.iter().map(Self::from_buf).collect()
    }

    /// One iovec per byte slice.
    ///
    /// # Examples
    ///
    /// ```
    /// let iovecs = iobuf_uring::IoVec::from_slices(&[&b"ab"[..], &b"c"[..]]);
    /// assert_eq!(iovecs.len(), 2);
    /// ```
    pub fn from_slices(slices: &[&'a [u8]]) -> Vec<Self> {
        slices.iter().map(|s| Self::new(s)).collect()
    }

    /// The bytes this iovec describes.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(iobuf_uring::IoVec::new(b"xy").as_slice(), b"xy");
    /// ```
    pub fn as_slice(&self) -> &'a [u8] {
        // SAFETY: (base, len) came from a `&'a [u8]` (module docs), still borrowed for 'a.
        unsafe { std::slice::from_raw_parts(self.iov_base.cast::<u8>().cast_const(), self.iov_len) }
    }

    /// Length in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(iobuf_uring::IoVec::new(b"xyz").len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        self.iov_len
    }

    /// Whether it describes no bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(iobuf_uring::IoVec::new(b"").is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.iov_len == 0
    }

    /// The std `IoSlice` of the same bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let slice = iobuf_uring::IoVec::new(b"ab").as_io_slice();
    /// assert_eq!(&*slice, b"ab");
    /// ```
    pub fn as_io_slice(&self) -> IoSlice<'a> {
        IoSlice::new(self.as_slice())
    }

    /// The same array as std `IoSlice`s, without copying: ready for `write_vectored`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use iobuf_uring::IoVec;
    ///
    /// let iovecs = IoVec::from_slices(&[&b"ab"[..], &b"cd"[..]]);
    /// let mut out = Vec::new();
    /// let n = out.write_vectored(IoVec::as_io_slices(&iovecs))?;
    /// assert_eq!((n, &out[..]), (4, &b"abcd"[..]));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn as_io_slices<'s>(iovecs: &'s [IoVec<'a>]) -> &'s [IoSlice<'a>] {
        // SAFETY: IoVec<'a> and IoSlice<'a> are both layout-identical to `struct iovec`
        // (asserted above; std guarantees IoSlice's ABI on Unix) and both are shared borrows
        // of 'a bytes, so the cast reinterprets nothing but the type.
        unsafe { std::slice::from_raw_parts(iovecs.as_ptr().cast(), iovecs.len()) }
    }

    /// Total bytes over an array of iovecs.
    ///
    /// # Examples
    ///
    /// ```
    /// let v = iobuf_uring::IoVec::from_slices(&[&b"a"[..], &b"bc"[..]]);
    /// assert_eq!(iobuf_uring::IoVec::total_len(&v), 3);
    /// ```
    pub fn total_len(iovecs: &[IoVec<'_>]) -> usize {
        iovecs.iter().map(IoVec::len).sum()
    }

    /// `(address, count)` of the array, for `writev`, `pwritev2` and the like.
    ///
    /// The address is valid only while `iovecs` is borrowed: call the system call inside the
    /// borrow (the vector of iovecs and the buffers both outlive it there).
    ///
    /// # Panics
    ///
    /// When the array holds more than `c_int::MAX` iovecs.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_uring::IoVec;
    /// let iovecs = IoVec::from_slices(&[&b"ab"[..], &b"c\n"[..]]);
    /// let (address, count) = IoVec::raw_parts(&iovecs);
    /// assert_eq!(count, 2);
    /// // SAFETY: `address` points at `count` live iovecs over live bytes for this call.
    /// let written = unsafe { libc::writev(1, address, count) };
    /// assert_eq!(written, 4);
    /// ```
    pub fn raw_parts(iovecs: &[IoVec<'_>]) -> (*const libc::iovec, libc::c_int) {
        let count = libc::c_int::try_from(iovecs.len()).expect("more than c_int::MAX iovecs");
        (iovecs.as_ptr().cast(), count)
    }
}

impl<'a> IoVecMut<'a> {
    /// The iovec of `bytes`.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut bytes = [0u8; 4];
    /// assert_eq!(iobuf_uring::IoVecMut::new(&mut bytes).len(), 4);
    /// ```
    pub fn new(bytes: &'a mut [u8]) -> Self {
        Self { iov_base: bytes.as_mut_ptr().cast(), iov_len: bytes.len(), borrow: PhantomData }
    }

    /// The iovec of a buffer's whole capacity, what a read into it fills.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::BufferPool;
    /// use iobuf_uring::IoVecMut;
    ///
    /// let pool = BufferPool::builder(4096).capacity(1).build()?;
    /// let mut buf = pool.try_get()?;
    /// assert_eq!(IoVecMut::from_buf(&mut buf).len(), 4096);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_buf<B: IoBuf>(buf: &'a mut B) -> Self {
        let len = buf.capacity();
        Self { iov_base: buf.stable_mut_ptr().cast(), iov_len: len, borrow: PhantomData }
    }

    /// One iovec per buffer, each over its whole capacity. The vector borrows the buffers
    /// exclusively, so it cannot outlive them and nothing else touches them meanwhile.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::BufferPool;
    /// use iobuf_uring::IoVecMut;
    ///
    /// let pool = BufferPool::builder(4096).capacity(2).build()?;
    /// let mut bufs = vec![pool.try_get()?, pool.try_get()?];
    /// let iovecs = IoVecMut::from_bufs(&mut bufs);
    /// assert_eq!(iovecs.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_bufs<B: IoBuf>(bufs: &'a mut [B]) -> Vec<Self> {
        bufs.iter_mut().map(Self::from_buf).collect()
    }

    /// One iovec per mutable byte slice.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut a, mut b) = ([0u8; 2], [0u8; 3]);
    /// let iovecs = iobuf_uring::IoVecMut::from_slices(vec![&mut a[..], &mut b[..]]);
    /// assert_eq!(iovecs[1].len(), 3);
    /// ```
    pub fn from_slices(slices: Vec<&'a mut [u8]>) -> Vec<Self> {
        slices.into_iter().map(Self::new).collect()
    }

    /// Length in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut b = [0u8; 5];
    /// assert_eq!(iobuf_uring::IoVecMut::new(&mut b).len(), 5);
    /// ```
    pub fn len(&self) -> usize {
        self.iov_len
    }

    /// Whether it describes no bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(iobuf_uring::IoVecMut::new(&mut []).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.iov_len == 0
    }

    /// The bytes, for writing.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut b = [0u8; 2];
    /// let mut v = iobuf_uring::IoVecMut::new(&mut b);
    /// v.as_mut_slice()[0] = 9;
    /// drop(v);
    /// assert_eq!(b, [9, 0]);
    /// ```
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: (base, len) came from a `&'a mut [u8]` that this value holds exclusively;
        // `&mut self` makes this the only access for the returned borrow.
        unsafe { std::slice::from_raw_parts_mut(self.iov_base.cast::<u8>(), self.iov_len) }
    }

    /// Turns it into the std `IoSliceMut` of the same bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut b = [0u8; 2];
    /// let slice = iobuf_uring::IoVecMut::new(&mut b).into_io_slice_mut();
    /// assert_eq!(slice.len(), 2);
    /// ```
    pub fn into_io_slice_mut(self) -> IoSliceMut<'a> {
        // SAFETY: as in `as_mut_slice`; `self` is consumed, so the exclusive borrow moves on.
        let bytes =
            unsafe { std::slice::from_raw_parts_mut(self.iov_base.cast::<u8>(), self.iov_len) };
        IoSliceMut::new(bytes)
    }

    /// The same array as std `IoSliceMut`s, without copying: ready for `read_vectored`.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut b = [0u8; 3];
    /// let mut iovecs = vec![iobuf_uring::IoVecMut::new(&mut b)];
    /// let mut src: &[u8] = b"xyz";
    /// std::io::Read::read_vectored(&mut src, iobuf_uring::IoVecMut::as_io_slices_mut(&mut iovecs))?;
    /// drop(iovecs);
    /// assert_eq!(&b, b"xyz");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn as_io_slices_mut<'s>(iovecs: &'s mut [IoVecMut<'a>]) -> &'s mut [IoSliceMut<'a>] {
        // SAFETY: IoVecMut<'a> and IoSliceMut<'a> are both layout-identical to `struct iovec`
        // (asserted above; std guarantees IoSliceMut's ABI on Unix) and both are exclusive
        // borrows of 'a bytes; the `&'s mut` keeps the array itself exclusively borrowed.
        unsafe { std::slice::from_raw_parts_mut(iovecs.as_mut_ptr().cast(), iovecs.len()) }
    }

    /// Total bytes over an array of iovecs.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut a, mut b) = ([0u8; 2], [0u8; 3]);
    /// let v = iobuf_uring::IoVecMut::from_slices(vec![&mut a[..], &mut b[..]]);
    /// assert_eq!(iobuf_uring::IoVecMut::total_len(&v), 5);
    /// ```
    pub fn total_len(iovecs: &[IoVecMut<'_>]) -> usize {
        iovecs.iter().map(IoVecMut::len).sum()
    }

    /// `(address, count)` of the array, for `readv`, `preadv2` and the like. The address is
    /// valid only while `iovecs` stays exclusively borrowed (see [`IoVec::raw_parts`]).
    ///
    /// # Panics
    ///
    /// When the array holds more than `c_int::MAX` iovecs.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut b = [0u8; 4];
    /// let mut iovecs = vec![iobuf_uring::IoVecMut::new(&mut b)];
    /// let (_address, count) = iobuf_uring::IoVecMut::raw_parts(&mut iovecs);
    /// assert_eq!(count, 1);
    /// ```
    pub fn raw_parts(iovecs: &mut [IoVecMut<'_>]) -> (*const libc::iovec, libc::c_int) {
        let count = libc::c_int::try_from(iovecs.len()).expect("more than c_int::MAX iovecs");
        (iovecs.as_mut_ptr().cast_const().cast(), count)
    }
}

/// `len` bytes at `ptr`, borrowed for as long as `owner`.
///
/// Used by [`IoBuf::filled_bytes`]; `owner` is the buffer whose contract makes the bytes valid.
pub(crate) fn bytes_of<B: IoBuf + ?Sized>(ptr: *const u8, len: usize, owner: &B) -> &[u8] {
    debug_assert!(len <= owner.capacity());
    // SAFETY: the IoBuf contract makes `ptr` valid for reads of `capacity() >= len` bytes and
    // reachable only through `owner`, which is borrowed shared for 'b.
    unsafe { std::slice::from_raw_parts(ptr, len) }
}

/// An owned iovec array for a vectored operation in flight, kept with its buffers until the
/// kernel's completion.
pub(crate) struct RawIovecs(Box<[libc::iovec]>);

// SAFETY: the array only describes memory owned by the handles it travels with (which are
// Send); the raw pointers inside are never dereferenced by this crate.
unsafe impl Send for RawIovecs {}

impl RawIovecs {
    /// Iovecs over `(address, len)` pairs.
    pub(crate) fn new(parts: impl Iterator<Item = (*mut u8, usize)>) -> Self {
        Self(parts.map(|(base, len)| libc::iovec { iov_base: base.cast(), iov_len: len }).collect())
    }

    /// The array's address, stable while `self` lives (it is on the heap).
    pub(crate) fn as_ptr(&self) -> *const libc::iovec {
        self.0.as_ptr()
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}
