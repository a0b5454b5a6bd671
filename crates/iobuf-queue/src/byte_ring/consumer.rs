//! The consumer half: owns the read counter and the filled space.
//!
//! # Safety
//!
//! This module owns the consumer's side of the exclusivity obligation: it asks the shared core
//! for slices only over the filled space `read .. write`, which the producer never touches (it
//! writes only at and above `write`, and never past `read + capacity`, and `read` moves only in
//! [`Consumer::consume`]). The bytes were published by the producer's `Release` publication of
//! `write`, which this module reads with `Acquire`. The slices borrow the consumer, so they are
//! gone before `consume` (which takes it mutably) can hand the bytes back.
#![allow(unsafe_code)] // reason: taking the filled space's slices (see module docs).

use core::cell::Cell;
use core::fmt;
#[cfg(feature = "std")]
use std::time::{Duration, Instant};

use iobuf_align::AlignedBlock;

#[cfg(feature = "std")]
use super::error::WaitError;
use super::memory::RingMemory;
use super::shared::{Shared, Side};
use crate::sync::{Arc, Ordering};

/// The reading half of a byte ring: exposes the filled space and consumes bytes read from it.
///
/// `M` is the memory, as for [`Producer`](super::Producer): the plain ring's filled space comes
/// as up to two slices ([`filled_slices`](Consumer::filled_slices)), the mirrored ring's as one
/// ([`filled_slice`](super::MirroredConsumer::filled_slice)).
///
/// `Send` but neither `Clone` nor `Sync`: exactly one thread reads at a time. Dropping it closes
/// the ring for reading: the producer sees [`is_closed`](super::Producer::is_closed).
///
/// # Examples
///
/// ```
/// let (mut producer, mut consumer) = iobuf_queue::byte_ring::new(16)?;
/// producer.copy_in(b"ping");
/// assert_eq!(consumer.filled_len(), 4);
/// let mut out = [0; 4];
/// consumer.copy_out(&mut out);
/// assert_eq!(&out, b"ping");
/// assert!(consumer.is_empty());
/// # Ok::<(), iobuf_queue::byte_ring::ByteRingError>(())
/// ```
pub struct Consumer<M: RingMemory = AlignedBlock> {
    shared: Arc<Shared<M>>,
    /// This half's counter; `shared`'s copy changes only when this half publishes it.
    read: u64,
    /// The producer's counter as last read. At least `write_seen - read` bytes are filled, so a
    /// consume within that needs no shared load. The `Cell` also keeps the half `!Sync`.
    write_seen: Cell<u64>,
}

impl<M: RingMemory> Consumer<M> {
    pub(crate) fn new(shared: Arc<Shared<M>>, start: u64) -> Self {
        Self { shared, read: start, write_seen: Cell::new(start) }
    }

    /// The ring's capacity in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_producer, consumer) = iobuf_queue::byte_ring::new(1 << 16)?;
    /// assert_eq!(consumer.capacity(), 65536);
    /// # Ok::<(), iobuf_queue::byte_ring::ByteRingError>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.shared.capacity()
    }

    /// Bytes filled and not yet consumed. More may arrive at any moment, never fewer.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut producer, consumer) = iobuf_queue::byte_ring::new(16)?;
    /// assert_eq!(consumer.filled_len(), 0);
    /// producer.copy_in(b"abc");
    /// assert_eq!(consumer.filled_len(), 3);
    /// # Ok::<(), iobuf_queue::byte_ring::ByteRingError>(())
    /// ```
    pub fn filled_len(&self) -> usize {
        // Acquire: the producer's writes of the bytes it committed happen-before our reads.
        let write = self.shared.counter(Side::Producer).load(Ordering::Acquire);
        self.write_seen.set(write);
        self.filled_until(write)
    }

    /// Whether no byte is filled right now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut producer, consumer) = iobuf_queue::byte_ring::new(16)?;
    /// assert!(consumer.is_empty());
    /// producer.copy_in(b"x");
    /// assert!(!consumer.is_empty());
    /// # Ok::<(), iobuf_queue::byte_ring::ByteRingError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.filled_len() == 0
    }

    /// Marks the first `n` filled bytes read and hands their space back to the producer.
    ///
    /// # Panics
    ///
    /// If `n` exceeds the filled length ([`filled_len`](Self::filled_len)); the ring is left
    /// unchanged. Consuming bytes that were never filled is a bug in the caller.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut producer, mut consumer) = iobuf_queue::byte_ring::new(8)?;
    /// producer.copy_in(b"abcdef");
    /// consumer.consume(4);
    /// assert_eq!(consumer.filled_slices(), [&b"ef"[..], &[][..]]);
    /// # Ok::<(), iobuf_queue::byte_ring::ByteRingError>(())
    /// ```
    #[track_caller]
    #[inline]
    pub fn consume(&mut self, n: usize) {
        if n > self.filled_until(self.write_seen.get()) {
            let filled = self.filled_len();
            assert!(
                n <= filled,
                "byte ring: consume of {n} bytes exceeds the {filled} filled bytes"
            );
        }
        if n == 0 {
            return;
        }
        self.read = self.read.wrapping_add(n as u64);
        self.shared.publish(Side::Consumer, self.read);
    }

    /// Copies as many filled bytes as fit into `dst` and consumes them; returns how many bytes
    /// were copied (0 when the ring is empty).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut producer, mut consumer) = iobuf_queue::byte_ring::new(8)?;
    /// producer.copy_in(b"abcde");
    /// let mut two = [0; 2];
    /// assert_eq!(consumer.copy_out(&mut two), 2);
    /// assert_eq!(&two, b"ab");
    /// assert_eq!(consumer.filled_len(), 3);
    /// # Ok::<(), iobuf_queue::byte_ring::ByteRingError>(())
    /// ```
    pub fn copy_out(&mut self, dst: &mut [u8]) -> usize {
        let mut copied = 0;
        for part in self.filled_parts() {
            let n = part.len().min(dst.len() - copied);
            dst[copied..copied + n].copy_from_slice(&part[..n]);
            copied += n;
        }
        self.consume(copied);
        copied
    }

    /// Bytes consumed since the ring was made (wrapping at 2^64): this half's counter.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut producer, mut consumer) = iobuf_queue::byte_ring::new(64)?;
    /// producer.copy_in(b"12345");
    /// consumer.consume(2);
    /// assert_eq!(consumer.position(), 2);
    /// # Ok::<(), iobuf_queue::byte_ring::ByteRingError>(())
    /// ```
    pub fn position(&self) -> u64 {
        self.read
    }

    /// Whether the producer has been dropped: what is filled now is all there will ever be.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut producer, consumer) = iobuf_queue::byte_ring::new(64)?;
    /// producer.copy_in(b"last words");
    /// drop(producer);
    /// assert!(consumer.is_closed());
    /// assert_eq!(consumer.filled_len(), 10); // still there to drain
    /// # Ok::<(), iobuf_queue::byte_ring::ByteRingError>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed(Side::Producer)
    }

    /// Blocks until at least `min` bytes are filled, and returns the filled length then.
    ///
    /// Spins briefly, yields the thread for up to 50 µs, then parks until the producer commits,
    /// is dropped, or `timeout` passes (`None` waits without limit). Waiting costs the producer
    /// nothing while nobody waits: one load of a state word after each commit. `min == 0`
    /// returns at once.
    ///
    /// # Errors
    ///
    /// [`WaitError::Closed`] once the producer has been dropped and fewer than `min` bytes are
    /// left (with `min` or more left it returns them: drain first, then see `Closed`);
    /// [`WaitError::TimedOut`] when `timeout` passes first.
    ///
    /// # Panics
    ///
    /// If `min` exceeds the capacity: that many bytes can never be filled.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_queue::byte_ring::{self, WaitError};
    ///
    /// let (mut producer, mut consumer) = byte_ring::new(64)?;
    /// let writer = std::thread::spawn(move || {
    ///     producer.copy_in(b"hello");
    /// }); // dropping the producer closes the ring
    /// let mut got = Vec::new();
    /// loop {
    ///     match consumer.wait_for_data(1, None) {
    ///         Ok(_) => {
    ///             let [first, second] = consumer.filled_slices();
    ///             got.extend_from_slice(first);
    ///             got.extend_from_slice(second);
    ///             let n = first.len() + second.len();
    ///             consumer.consume(n);
    ///         }
    ///         Err(WaitError::Closed) => break,
    ///         Err(err) => panic!("{err}"),
    ///     }
    /// }
    /// writer.join().unwrap();
    /// assert_eq!(got, b"hello");
    /// # Ok::<(), byte_ring::ByteRingError>(())
    /// ```
    #[cfg(feature = "std")]
    #[track_caller]
    pub fn wait_for_data(
        &mut self,
        min: usize,
        timeout: Option<Duration>,
    ) -> Result<usize, WaitError> {
        let capacity = self.capacity();
        assert!(
            min <= capacity,
            "byte ring: waiting for {min} filled bytes in a ring of {capacity}"
        );
        let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
        self.shared.wait(Side::Consumer, deadline, |write, producer_gone| {
            let filled = self.filled_until(write);
            if filled >= min {
                // Remember what the wait saw, so the consume that follows needs no shared load.
                self.write_seen.set(write);
                Some(Ok(filled))
            } else {
                producer_gone.then_some(Err(WaitError::Closed))
            }
        })
    }

    /// Filled bytes given that the producer's counter is `write`.
    fn filled_until(&self, write: u64) -> usize {
        // The invariant 0 <= write - read <= capacity makes the cast exact.
        write.wrapping_sub(self.read) as usize
    }

    /// The whole filled space as up to two slices in ring order.
    pub(crate) fn filled_parts(&self) -> [&[u8]; 2] {
        let filled = self.filled_len();
        // SAFETY: `read .. read + filled` lies between `read` and `write`, which the producer
        // does not write; `read` cannot move while the returned slices borrow `self` (consume
        // takes `&mut self`). filled <= capacity by the counter invariant.
        unsafe { self.shared.parts(self.read, filled) }
    }
}

impl<M: RingMemory> Drop for Consumer<M> {
    fn drop(&mut self) {
        self.shared.close(Side::Consumer);
    }
}

impl<M: RingMemory> fmt::Debug for Consumer<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("capacity", &self.capacity())
            .field("position", &self.read)
            .field("filled_len", &self.filled_len())
            .finish_non_exhaustive()
    }
}
