//! The plain ring on an [`AlignedBlock`]: free and filled space come as up to two slices, split
//! at the end of the memory, ready for `readv`/`writev`.

#[cfg(feature = "std")]
use std::io::{self, IoSlice, IoSliceMut, Read, Write};

use iobuf_align::{AlignedBlock, CACHE_LINE_SIZE, page_size};

use super::{ByteRingError, Consumer, Producer, check_capacity, split};

/// Makes a plain byte ring of `capacity` bytes and splits it into its two halves.
///
/// `capacity` must be a power of two. The memory is one zeroed [`AlignedBlock`], page aligned
/// from a page up and cache-line aligned below, allocated here once and never again.
///
/// # Errors
///
/// [`ByteRingError::ZeroCapacity`]; [`ByteRingError::NotPowerOfTwo`];
/// [`ByteRingError::Memory`] when the block cannot be allocated.
///
/// # Examples
///
/// ```
/// use iobuf_queue::byte_ring::{self, ByteRingError};
///
/// let (mut producer, mut consumer) = byte_ring::new(1 << 16)?;
/// producer.copy_in(b"data");
/// assert_eq!(consumer.filled_len(), 4);
/// assert_eq!(byte_ring::new(3).unwrap_err(), ByteRingError::NotPowerOfTwo { capacity: 3 });
/// # Ok::<(), ByteRingError>(())
/// ```
pub fn new(capacity: usize) -> Result<(Producer, Consumer), ByteRingError> {
    new_at(capacity, 0)
}

/// As [`new`], with both counters starting at `start` instead of 0, so tests can run the
/// counters across 2^64 without pushing 16 EiB first. Not part of the stable API.
///
/// # Errors
///
/// As [`new`].
///
/// # Examples
///
/// ```
/// let (mut producer, _consumer) = iobuf_queue::byte_ring::new_at(8, u64::MAX - 2)?;
/// producer.copy_in(b"wrap");
/// assert_eq!(producer.position(), 1);
/// # Ok::<(), iobuf_queue::byte_ring::ByteRingError>(())
/// ```
#[doc(hidden)]
pub fn new_at(capacity: usize, start: u64) -> Result<(Producer, Consumer), ByteRingError> {
    check_capacity(capacity)?;
    let align = if capacity >= page_size() { page_size() } else { CACHE_LINE_SIZE };
    let memory = AlignedBlock::new(capacity, align)?;
    Ok(split(memory, capacity, start))
}

impl Producer<AlignedBlock> {
    /// The free space as two slices in ring order: write the first, then the second, then
    /// [`commit`](Self::commit) what was written. The second is empty unless the free space
    /// wraps past the end of the memory; both are empty when the ring is full.
    ///
    /// Each converts to an [`IoSliceMut`](std::io::IoSliceMut) for `readv`;
    /// [`read_from`](Self::read_from) does that for any [`Read`](std::io::Read).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut producer, mut consumer) = iobuf_queue::byte_ring::new(8)?;
    /// producer.copy_in(b"123456");
    /// consumer.consume(6);
    /// // Free space now runs from offset 6 to the end, then wraps to the start.
    /// let [first, second] = producer.free_slices();
    /// assert_eq!((first.len(), second.len()), (2, 6));
    /// first.copy_from_slice(b"ab");
    /// second[..1].copy_from_slice(b"c");
    /// producer.commit(3);
    /// assert_eq!(consumer.filled_slices(), [&b"ab"[..], &b"c"[..]]);
    /// # Ok::<(), iobuf_queue::byte_ring::ByteRingError>(())
    /// ```
    pub fn free_slices(&mut self) -> [&mut [u8]; 2] {
        self.free_parts()
    }

    /// Reads once from `src` into the free space with one `read_vectored` call (one `readv`
    /// for files, pipes and sockets), offering both free slices when the space wraps, and
    /// commits what was read. Returns the byte count; `Ok(0)` means end of input.
    ///
    /// # Errors
    ///
    /// `src`'s error, unchanged (including `Interrupted` and `WouldBlock`), with nothing
    /// committed; `ErrorKind::WouldBlock` without calling `src` when the ring is full (wait with
    /// [`wait_for_space`](Self::wait_for_space)); `ErrorKind::InvalidData` if `src` claims more
    /// bytes than it was offered (nothing is committed).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut producer, consumer) = iobuf_queue::byte_ring::new(16)?;
    /// let mut src: &[u8] = b"from a reader";
    /// assert_eq!(producer.read_from(&mut src)?, 13);
    /// assert_eq!(consumer.filled_len(), 13);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(feature = "std")]
    pub fn read_from<R: Read + ?Sized>(&mut self, src: &mut R) -> io::Result<usize> {
        let [first, second] = self.free_parts();
        let offered = first.len() + second.len();
        if offered == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        // Offer the second slice only when it is there: one iovec is cheaper than two.
        let read = if second.is_empty() {
            src.read_vectored(&mut [IoSliceMut::new(first)])?
        } else {
            src.read_vectored(&mut [IoSliceMut::new(first), IoSliceMut::new(second)])?
        };
        if read > offered {
            return Err(overclaimed("reader", read, offered));
        }
        self.commit(read);
        Ok(read)
    }
}

impl Consumer<AlignedBlock> {
    /// The filled space as two slices in ring order: read the first, then the second, then
    /// [`consume`](Self::consume) what was read. The second is empty unless the filled space
    /// wraps past the end of the memory; both are empty when the ring is empty.
    ///
    /// Each converts to an [`IoSlice`](std::io::IoSlice) for `writev`;
    /// [`write_to`](Self::write_to) does that for any [`Write`](std::io::Write).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut producer, mut consumer) = iobuf_queue::byte_ring::new(4)?;
    /// producer.copy_in(b"abc");
    /// consumer.consume(3);
    /// producer.copy_in(b"defg"); // wraps: offset 3, then 0..3
    /// assert_eq!(consumer.filled_slices(), [&b"d"[..], &b"efg"[..]]);
    /// # Ok::<(), iobuf_queue::byte_ring::ByteRingError>(())
    /// ```
    pub fn filled_slices(&self) -> [&[u8]; 2] {
        self.filled_parts()
    }

    /// Writes once from the filled space to `dst` with one `write_vectored` call (one `writev`
    /// for files, pipes and sockets), offering both filled slices when the data wraps, and
    /// consumes what was written. Returns the byte count (`Ok(0)` when `dst` took nothing).
    ///
    /// # Errors
    ///
    /// `dst`'s error, unchanged, with nothing consumed; `ErrorKind::WouldBlock` without calling
    /// `dst` when the ring is empty (wait with [`wait_for_data`](Self::wait_for_data));
    /// `ErrorKind::InvalidData` if `dst` claims more bytes than it was offered (nothing is
    /// consumed).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut producer, mut consumer) = iobuf_queue::byte_ring::new(16)?;
    /// producer.copy_in(b"to a writer");
    /// let mut dst = Vec::new();
    /// assert_eq!(consumer.write_to(&mut dst)?, 11);
    /// assert_eq!(dst, b"to a writer");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(feature = "std")]
    pub fn write_to<W: Write + ?Sized>(&mut self, dst: &mut W) -> io::Result<usize> {
        let [first, second] = self.filled_parts();
        let offered = first.len() + second.len();
        if offered == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let written = if second.is_empty() {
            dst.write_vectored(&[IoSlice::new(first)])?
        } else {
            dst.write_vectored(&[IoSlice::new(first), IoSlice::new(second)])?
        };
        if written > offered {
            return Err(overclaimed("writer", written, offered));
        }
        self.consume(written);
        Ok(written)
    }
}

/// The error for a `Read`/`Write` that reports more bytes than it was given room for.
#[cfg(feature = "std")]
pub(crate) fn overclaimed(what: &str, claimed: usize, offered: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        std::format!("{what} reported {claimed} bytes but was offered {offered}"),
    )
}
