//! The producer half: owns the write counter and the free space.
//!
//! # Safety
//!
//! This module owns the producer's side of the exclusivity obligation: it asks the shared core
//! for writable slices only over the free space `write .. read + capacity`, which the consumer
//! never touches (it reads only below `write`, and `write` moves only in [`Producer::commit`]).
//! The bytes were handed over by the consumer's `Release` publication of `read`, which this
//! module reads with `Acquire`. The slices borrow the producer mutably, so they are gone before
//! `commit` can publish them.
#![allow(unsafe_code)] // reason: taking the free space's slices (see module docs).

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

/// The writing half of a byte ring: exposes the free space and commits bytes written into it.
///
/// `M` is the memory: [`AlignedBlock`] for the plain ring from [`new`](super::new), whose free
/// space comes as up to two slices ([`free_slices`](Producer::free_slices)), or
/// [`MirroredRegion`](iobuf_align::MirroredRegion) for the ring from
/// [`new_mirrored`](super::new_mirrored), whose free space is always one slice
/// ([`free_slice`](super::MirroredProducer::free_slice)).
///
/// `Send` but neither `Clone` nor `Sync`: exactly one thread writes at a time. Dropping it
/// closes the ring for writing; the consumer can still drain what was committed and then sees
/// [`is_closed`](super::Consumer::is_closed).
///
/// # Examples
///
/// ```
/// let (mut producer, mut consumer) = iobuf_queue::byte_ring::new(8)?;
/// assert_eq!(producer.copy_in(b"hello world"), 8); // only 8 fit
/// let mut out = [0; 16];
/// assert_eq!(consumer.copy_out(&mut out), 8);
/// assert_eq!(&out[..8], b"hello wo");
/// # Ok::<(), iobuf_queue::byte_ring::ByteRingError>(())
/// ```
pub struct Producer<M: RingMemory = AlignedBlock> {
    shared: Arc<Shared<M>>,
    /// This half's counter; `shared`'s copy changes only when this half publishes it.
    write: u64,
    /// The consumer's counter as last read. The free space is at least
    /// `capacity - (write - read_seen)`, so a commit within that needs no shared load. The
    /// `Cell` also keeps the half `!Sync`.
    read_seen: Cell<u64>,
}

impl<M: RingMemory> Producer<M> {
    pub(crate) fn new(shared: Arc<Shared<M>>, start: u64) -> Self {
        Self { shared, write: start, read_seen: Cell::new(start) }
    }

    /// The ring's capacity in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let (producer, _consumer) = iobuf_queue::byte_ring::new(4096)?;
    /// assert_eq!(producer.capacity(), 4096);
    /// # Ok::<(), iobuf_queue::byte_ring::ByteRingError>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.shared.capacity()
    }

    /// Bytes free for writing now: the capacity less what the consumer has not consumed yet.
    /// More may become free at any moment, never less.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut producer, mut consumer) = iobuf_queue::byte_ring::new(16)?;
    /// producer.copy_in(&[7; 10]);
    /// assert_eq!(producer.free_len(), 6);
    /// consumer.consume(4);
    /// assert_eq!(producer.free_len(), 10);
    /// # Ok::<(), iobuf_queue::byte_ring::ByteRingError>(())
    /// ```
    pub fn free_len(&self) -> usize {
        // Acquire: the consumer's reads of the bytes it freed happen-before our writes to them.
        let read = self.shared.counter(Side::Consumer).load(Ordering::Acquire);
        self.read_seen.set(read);
        self.free_since(read)
    }

    /// Whether no byte is free right now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut producer, _consumer) = iobuf_queue::byte_ring::new(4)?;
    /// assert!(!producer.is_full());
    /// producer.copy_in(b"abcd");
    /// assert!(producer.is_full());
    /// # Ok::<(), iobuf_queue::byte_ring::ByteRingError>(())
    /// ```
    pub fn is_full(&self) -> bool {
        self.free_len() == 0
    }

    /// Marks the first `n` bytes of the free space written and hands them to the consumer.
    ///
    /// Write them first through the free-space slices ([`free_slices`](Self::free_slices),
    /// or `free_slice` on a mirrored ring), in order: the first slice, then the second.
    ///
    /// # Panics
    ///
    /// If `n` exceeds the free space ([`free_len`](Self::free_len)); the ring is left unchanged.
    /// A count larger than what was offered is a bug in the caller, and committing it would
    /// hand the consumer bytes nobody wrote.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut producer, consumer) = iobuf_queue::byte_ring::new(8)?;
    /// let [first, _second] = producer.free_slices();
    /// first[..3].copy_from_slice(b"abc");
    /// producer.commit(3);
    /// assert_eq!(consumer.filled_slices(), [&b"abc"[..], &[][..]]);
    /// # Ok::<(), iobuf_queue::byte_ring::ByteRingError>(())
    /// ```
    #[track_caller]
    #[inline]
    pub fn commit(&mut self, n: usize) {
        if n > self.free_since(self.read_seen.get()) {
            let free = self.free_len();
            assert!(n <= free, "byte ring: commit of {n} bytes exceeds the {free} free bytes");
        }
        if n == 0 {
            return;
        }
        self.write = self.write.wrapping_add(n as u64);
        self.shared.publish(Side::Producer, self.write);
    }

    /// Copies as much of `src` as fits into the free space and commits it; returns how many
    /// bytes were copied (0 when the ring is full).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut producer, _consumer) = iobuf_queue::byte_ring::new(4)?;
    /// assert_eq!(producer.copy_in(b"abc"), 3);
    /// assert_eq!(producer.copy_in(b"def"), 1);
    /// assert_eq!(producer.copy_in(b"ghi"), 0);
    /// # Ok::<(), iobuf_queue::byte_ring::ByteRingError>(())
    /// ```
    pub fn copy_in(&mut self, src: &[u8]) -> usize {
        let mut copied = 0;
        for part in self.free_parts() {
            let n = part.len().min(src.len() - copied);
            part[..n].copy_from_slice(&src[copied..copied + n]);
            copied += n;
        }
        self.commit(copied);
        copied
    }

    /// Bytes committed since the ring was made (wrapping at 2^64): this half's counter.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut producer, _consumer) = iobuf_queue::byte_ring::new(64)?;
    /// producer.copy_in(b"12345");
    /// assert_eq!(producer.position(), 5);
    /// # Ok::<(), iobuf_queue::byte_ring::ByteRingError>(())
    /// ```
    pub fn position(&self) -> u64 {
        self.write
    }

    /// Whether the consumer has been dropped: nothing written from now on will be read.
    ///
    /// # Examples
    ///
    /// ```
    /// let (producer, consumer) = iobuf_queue::byte_ring::new(64)?;
    /// assert!(!producer.is_closed());
    /// drop(consumer);
    /// assert!(producer.is_closed());
    /// # Ok::<(), iobuf_queue::byte_ring::ByteRingError>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed(Side::Consumer)
    }

    /// Blocks until at least `min` bytes are free, and returns the free length then.
    ///
    /// Spins briefly, yields the thread for up to 50 µs, then parks until the consumer frees
    /// space, is dropped, or `timeout` passes (`None` waits without limit). Waiting costs the
    /// consumer nothing while nobody waits: one load of a state word after each consume.
    /// `min == 0` returns at once.
    ///
    /// # Errors
    ///
    /// [`WaitError::Closed`] once the consumer has been dropped (even if space is free: nothing
    /// written will be read); [`WaitError::TimedOut`] when `timeout` passes first.
    ///
    /// # Panics
    ///
    /// If `min` exceeds the capacity: that much space can never be free.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let (mut producer, mut consumer) = iobuf_queue::byte_ring::new(4)?;
    /// producer.copy_in(b"full");
    /// let reader = std::thread::spawn(move || {
    ///     std::thread::sleep(Duration::from_millis(10));
    ///     consumer.consume(3);
    ///     consumer
    /// });
    /// assert_eq!(producer.wait_for_space(2, Some(Duration::from_secs(10))), Ok(3));
    /// drop(reader.join().unwrap());
    /// assert_eq!(producer.wait_for_space(1, None), Err(iobuf_queue::byte_ring::WaitError::Closed));
    /// # Ok::<(), iobuf_queue::byte_ring::ByteRingError>(())
    /// ```
    #[cfg(feature = "std")]
    #[track_caller]
    pub fn wait_for_space(
        &mut self,
        min: usize,
        timeout: Option<Duration>,
    ) -> Result<usize, WaitError> {
        let capacity = self.capacity();
        assert!(min <= capacity, "byte ring: waiting for {min} free bytes in a ring of {capacity}");
        let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
        self.shared.wait(Side::Producer, deadline, |read, consumer_gone| {
            if consumer_gone {
                return Some(Err(WaitError::Closed));
            }
            let free = self.free_since(read);
            // Remember what the wait saw, so the commit that follows needs no shared load.
            (free >= min).then(|| {
                self.read_seen.set(read);
                Ok(free)
            })
        })
    }

    /// Free bytes given that the consumer's counter is `read`.
    fn free_since(&self, read: u64) -> usize {
        // The invariant 0 <= write - read <= capacity makes the cast and subtraction exact.
        self.capacity() - self.write.wrapping_sub(read) as usize
    }

    /// The whole free space as up to two slices in ring order.
    pub(crate) fn free_parts(&mut self) -> [&mut [u8]; 2] {
        let free = self.free_len();
        // SAFETY: `write .. write + free` lies between `write` and `read + capacity`: the
        // consumer reads only below `write`, and `write` cannot move while the returned slices
        // borrow `self` mutably. free <= capacity by the counter invariant.
        unsafe { self.shared.parts_mut(self.write, free) }
    }
}

impl<M: RingMemory> Drop for Producer<M> {
    fn drop(&mut self) {
        self.shared.close(Side::Producer);
    }
}

impl<M: RingMemory> fmt::Debug for Producer<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("capacity", &self.capacity())
            .field("position", &self.write)
            .field("free_len", &self.free_len())
            .finish_non_exhaustive()
    }
}
