//! The mirrored ring on a [`MirroredRegion`] (Linux): the memory is mapped twice back to back,
//! so free and filled space are always one contiguous slice — one iovec, and plain
//! `read`/`write` (or any API that wants one buffer) work without splitting at the seam.

#[cfg(feature = "std")]
use std::io::{self, Read, Write};

use iobuf_align::{MirroredRegion, page_size};

#[cfg(feature = "std")]
use super::plain::overclaimed;
use super::{ByteRingError, Consumer, Producer, check_capacity, split};

/// The writing half of a mirrored byte ring: a [`Producer`] whose free space is one slice.
///
/// # Examples
///
/// ```
/// use iobuf_queue::byte_ring::{self, MirroredProducer};
///
/// let (mut producer, _consumer) = byte_ring::new_mirrored(iobuf_align::page_size())?;
/// fn fill(producer: &mut MirroredProducer, byte: u8) -> usize {
///     let free = producer.free_slice();
///     free.fill(byte);
///     let n = free.len();
///     producer.commit(n);
///     n
/// }
/// assert_eq!(fill(&mut producer, 7), iobuf_align::page_size());
/// # Ok::<(), byte_ring::ByteRingError>(())
/// ```
pub type MirroredProducer = Producer<MirroredRegion>;

/// The reading half of a mirrored byte ring: a [`Consumer`] whose filled space is one slice.
///
/// # Examples
///
/// ```
/// use iobuf_queue::byte_ring::{self, MirroredConsumer};
///
/// let (mut producer, consumer) = byte_ring::new_mirrored(iobuf_align::page_size())?;
/// fn peek(consumer: &MirroredConsumer) -> &[u8] {
///     consumer.filled_slice()
/// }
/// producer.copy_in(b"contiguous");
/// assert_eq!(peek(&consumer), b"contiguous");
/// # Ok::<(), byte_ring::ByteRingError>(())
/// ```
pub type MirroredConsumer = Consumer<MirroredRegion>;

/// Makes a mirrored byte ring of `capacity` bytes and splits it into its two halves.
///
/// `capacity` must be a power of two and a multiple of the page size (so at least one page).
/// The memory is one [`MirroredRegion`]: a memfd mapped twice, back to back.
///
/// # Errors
///
/// [`ByteRingError::ZeroCapacity`]; [`ByteRingError::NotPowerOfTwo`];
/// [`ByteRingError::NotPageMultiple`]; [`ByteRingError::Memory`] when `memfd_create` or `mmap`
/// fails.
///
/// # Examples
///
/// ```
/// use iobuf_queue::byte_ring::{self, ByteRingError};
///
/// let page = iobuf_align::page_size();
/// let (mut producer, mut consumer) = byte_ring::new_mirrored(page)?;
/// producer.copy_in(b"data");
/// assert_eq!(consumer.filled_slice(), b"data");
/// assert!(matches!(byte_ring::new_mirrored(page / 2), Err(ByteRingError::NotPageMultiple { .. })));
/// # Ok::<(), ByteRingError>(())
/// ```
pub fn new_mirrored(
    capacity: usize,
) -> Result<(MirroredProducer, MirroredConsumer), ByteRingError> {
    new_mirrored_at(capacity, 0)
}

/// As [`new_mirrored`], with both counters starting at `start` (see
/// [`new_at`](super::new_at)). Not part of the stable API.
///
/// # Errors
///
/// As [`new_mirrored`].
///
/// # Examples
///
/// ```
/// let page = iobuf_align::page_size();
/// let (mut producer, consumer) = iobuf_queue::byte_ring::new_mirrored_at(page, u64::MAX)?;
/// producer.copy_in(b"ab");
/// assert_eq!((producer.position(), consumer.filled_slice()), (1, &b"ab"[..]));
/// # Ok::<(), iobuf_queue::byte_ring::ByteRingError>(())
/// ```
#[doc(hidden)]
pub fn new_mirrored_at(
    capacity: usize,
    start: u64,
) -> Result<(MirroredProducer, MirroredConsumer), ByteRingError> {
    check_capacity(capacity)?;
    let page_size = page_size();
    if capacity % page_size != 0 {
        return Err(ByteRingError::NotPageMultiple { capacity, page_size });
    }
    let memory = MirroredRegion::new(capacity)?;
    Ok(split(memory, capacity, start))
}

impl Producer<MirroredRegion> {
    /// The whole free space as one slice (it may run across the seam into the second view):
    /// write into it, then [`commit`](Self::commit) what was written. Empty when the ring is
    /// full.
    ///
    /// # Examples
    ///
    /// ```
    /// let page = iobuf_align::page_size();
    /// let (mut producer, mut consumer) = iobuf_queue::byte_ring::new_mirrored(page)?;
    /// producer.commit(page - 2);
    /// consumer.consume(page - 2);
    /// let free = producer.free_slice(); // from 2 bytes before the seam, `page` bytes long
    /// assert_eq!(free.len(), page);
    /// free[..4].copy_from_slice(b"seam");
    /// producer.commit(4);
    /// assert_eq!(consumer.filled_slice(), b"seam");
    /// # Ok::<(), iobuf_queue::byte_ring::ByteRingError>(())
    /// ```
    pub fn free_slice(&mut self) -> &mut [u8] {
        let [whole, rest] = self.free_parts();
        debug_assert!(rest.is_empty(), "a mirrored region is never split");
        whole
    }

    /// Reads once from `src` into the free space with one plain `read` call (one `read(2)` for
    /// files, pipes and sockets) and commits what was read. Returns the byte count; `Ok(0)`
    /// means end of input.
    ///
    /// # Errors
    ///
    /// As the plain ring's [`read_from`](super::Producer::read_from): `src`'s error unchanged;
    /// `ErrorKind::WouldBlock` without calling `src` when the ring is full;
    /// `ErrorKind::InvalidData` if `src` claims more than it was offered.
    ///
    /// # Examples
    ///
    /// ```
    /// let page = iobuf_align::page_size();
    /// let (mut producer, consumer) = iobuf_queue::byte_ring::new_mirrored(page)?;
    /// let mut src: &[u8] = b"one read";
    /// assert_eq!(producer.read_from(&mut src)?, 8);
    /// assert_eq!(consumer.filled_slice(), b"one read");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(feature = "std")]
    pub fn read_from<R: Read + ?Sized>(&mut self, src: &mut R) -> io::Result<usize> {
        let free = self.free_slice();
        let offered = free.len();
        if offered == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let read = src.read(free)?;
        if read > offered {
            return Err(overclaimed("reader", read, offered));
        }
        self.commit(read);
        Ok(read)
    }
}

impl Consumer<MirroredRegion> {
    /// The whole filled space as one slice (it may run across the seam into the second view):
    /// read it, then [`consume`](Self::consume) what was read. Empty when the ring is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// let page = iobuf_align::page_size();
    /// let (mut producer, mut consumer) = iobuf_queue::byte_ring::new_mirrored(page)?;
    /// producer.commit(page - 1);
    /// consumer.consume(page - 1);
    /// producer.copy_in(b"across");
    /// assert_eq!(consumer.filled_slice(), b"across"); // one slice across the seam
    /// # Ok::<(), iobuf_queue::byte_ring::ByteRingError>(())
    /// ```
    pub fn filled_slice(&self) -> &[u8] {
        let [whole, rest] = self.filled_parts();
        debug_assert!(rest.is_empty(), "a mirrored region is never split");
        whole
    }

    /// Writes once from the filled space to `dst` with one plain `write` call (one `write(2)`
    /// for files, pipes and sockets) and consumes what was written. Returns the byte count.
    ///
    /// # Errors
    ///
    /// As the plain ring's [`write_to`](super::Consumer::write_to): `dst`'s error unchanged;
    /// `ErrorKind::WouldBlock` without calling `dst` when the ring is empty;
    /// `ErrorKind::InvalidData` if `dst` claims more than it was offered.
    ///
    /// # Examples
    ///
    /// ```
    /// let page = iobuf_align::page_size();
    /// let (mut producer, mut consumer) = iobuf_queue::byte_ring::new_mirrored(page)?;
    /// producer.copy_in(b"one write");
    /// let mut dst = Vec::new();
    /// assert_eq!(consumer.write_to(&mut dst)?, 9);
    /// assert_eq!(dst, b"one write");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(feature = "std")]
    pub fn write_to<W: Write + ?Sized>(&mut self, dst: &mut W) -> io::Result<usize> {
        let filled = self.filled_slice();
        let offered = filled.len();
        if offered == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let written = dst.write(filled)?;
        if written > offered {
            return Err(overclaimed("writer", written, offered));
        }
        self.consume(written);
        Ok(written)
    }
}
