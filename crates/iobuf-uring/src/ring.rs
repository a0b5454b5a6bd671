//! The ring: submission, completion, cancellation, and a drop that never frees memory the
//! kernel may still write.
//!
//! # Safety
//!
//! This module owns the in-flight obligation: an entry is pushed only as part of an
//! [`Op`](crate::ops::Op)'s `Prepared` record, whose pointers refer to memory held by the
//! record's payload (handles under the [`IoBuf`] contract, heap iovec arrays) or to a buffer
//! ring this ring registered; the payload stays in the in-flight table until the operation's
//! last completion has been reaped. When dropped with operations in flight, the ring cancels
//! them and waits for those completions; if they do not come within the shutdown timeout, or a
//! panic unwinds through the drop before they have all come, it leaks the payloads, buffer
//! rings and registrations rather than free memory the kernel might still write.
#![allow(unsafe_code)] // reason: pushing submission entries (see module docs).

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use io_uring::{IoUring, cqueue, opcode, squeue, types};

use crate::bufring::GroupEntry;
use crate::completion::to_result;
use crate::inflight::{INTERNAL, InFlight, Kind, Payload, Pending};
use crate::ops::{Op, Prepared};
use crate::registry::SlotTable;
use crate::{
    BufGroup, BufRing, Completion, Features, IoBuf, OpId, RegisterMemory, RegisterOptions,
    Registration, UringError, probe,
};

/// How long dropping a ring waits for cancelled operations before leaking their buffers.
///
/// # Examples
///
/// ```
/// assert_eq!(iobuf_uring::DEFAULT_SHUTDOWN_TIMEOUT.as_secs(), 10);
/// ```
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings for a [`Ring`].
///
/// # Examples
///
/// ```
/// use iobuf_uring::Ring;
/// # if iobuf_uring::probe().is_err() { return Ok(()) }
/// let ring = Ring::<iobuf_pool::Buf>::builder().entries(64).buffer_slots(16).build()?;
/// assert_eq!(ring.entries(), 64);
/// # Ok::<(), iobuf_uring::UringError>(())
/// ```
pub struct RingBuilder<B> {
    entries: u32,
    buffer_slots: u16,
    shutdown_timeout: Duration,
    handles: PhantomData<fn() -> B>,
}

impl<B> Default for RingBuilder<B> {
    fn default() -> Self {
        Self {
            entries: 64,
            buffer_slots: 256,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            handles: PhantomData,
        }
    }
}

impl<B> Clone for RingBuilder<B> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<B> Copy for RingBuilder<B> {}

impl<B> fmt::Debug for RingBuilder<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingBuilder")
            .field("entries", &self.entries)
            .field("buffer_slots", &self.buffer_slots)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .finish()
    }
}

impl<B: IoBuf> RingBuilder<B> {
    /// Submission queue entries (rounded up to a power of two by the kernel); the completion
    /// queue gets twice as many. Default 64.
    ///
    /// # Examples
    ///
    /// ```
    /// # if iobuf_uring::probe().is_err() { return Ok(()) }
    /// let ring = iobuf_uring::Ring::<iobuf_pool::Buf>::builder().entries(256).build()?;
    /// assert_eq!(ring.entries(), 256);
    /// # Ok::<(), iobuf_uring::UringError>(())
    /// ```
    #[must_use]
    pub fn entries(mut self, entries: u32) -> Self {
        self.entries = entries;
        self
    }

    /// Size of the sparse registered-buffer table reserved at the first registration: one slot
    /// per ≤ 1 GiB chunk of registered memory. Default 256; at most 16384 (1024 before 5.14).
    ///
    /// # Examples
    ///
    /// ```
    /// # if iobuf_uring::probe().is_err() { return Ok(()) }
    /// let ring = iobuf_uring::Ring::<iobuf_pool::Buf>::builder().buffer_slots(1024).build()?;
    /// # drop(ring);
    /// # Ok::<(), iobuf_uring::UringError>(())
    /// ```
    #[must_use]
    pub fn buffer_slots(mut self, slots: u16) -> Self {
        self.buffer_slots = slots;
        self
    }

    /// How long dropping the ring waits for cancelled operations to complete before leaking
    /// their buffers (never freeing them). Default [`DEFAULT_SHUTDOWN_TIMEOUT`].
    ///
    /// `Duration::MAX` (any timeout past the end of the clock) means no limit: the drop waits
    /// as long as the kernel takes — a zero-copy send's notification waits for the peer to
    /// acknowledge the data — and never leaks. Before Linux 5.11 the wait polls (it sleeps in
    /// steps of up to 10 ms), since the kernel cannot wait with a timeout there.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = iobuf_uring::Ring::<iobuf_pool::Buf>::builder()
    ///     .shutdown_timeout(std::time::Duration::from_secs(1));
    /// # drop(builder);
    /// ```
    #[must_use]
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Sets up the ring.
    ///
    /// # Errors
    ///
    /// [`UringError::Unavailable`] when io_uring cannot be used here; [`UringError::Os`] for
    /// other set-up failures.
    ///
    /// # Examples
    ///
    /// ```
    /// # if iobuf_uring::probe().is_err() { return Ok(()) }
    /// let ring: iobuf_uring::Ring<iobuf_pool::Buf> = iobuf_uring::Ring::builder().build()?;
    /// assert_eq!(ring.in_flight(), 0);
    /// # Ok::<(), iobuf_uring::UringError>(())
    /// ```
    pub fn build(self) -> Result<Ring<B>, UringError> {
        let features = probe()?;
        let uring = probe::setup(&IoUring::builder(), self.entries)?;
        Ok(Ring {
            uring,
            inflight: InFlight::new(),
            groups: Vec::new(),
            slots: SlotTable::new(self.buffer_slots),
            features,
            shutdown_timeout: self.shutdown_timeout,
            internal_in_flight: 0,
        })
    }
}

/// An io_uring instance whose operations own their buffers.
///
/// Push [operations](crate::ops) that take handles by value, [`submit`](Self::submit), and
/// reap [`Completion`]s that give the handles back with the results. Registered memory, buffer
/// rings and in-flight buffers are all kept alive by the ring until the kernel is done with
/// them; dropping a ring with operations in flight cancels them and waits.
///
/// `B` is the handle type its operations carry (for example `iobuf_pool::Buf` or
/// [`RegisteredBuf`](crate::RegisteredBuf)). `Send`: one ring per thread is the usual set-up.
///
/// # Examples
///
/// ```
/// use iobuf_pool::BufferPool;
/// use iobuf_uring::{RegisteredPool, Ring, ops::Read};
///
/// # if iobuf_uring::probe().map_or(true, |f| !f.sparse_buffers) { return Ok(()) }
/// let mut ring = Ring::new(32)?;
/// let pool = RegisteredPool::new(BufferPool::builder(4096).capacity(32).build()?, &mut ring)?;
/// let file = std::fs::File::open("/proc/self/stat")?;
/// let buf = pool.try_get()?;
/// assert!(buf.buf_index().is_some());
/// ring.push(Read::at(&file, buf, 0))?; // a ReadFixed
/// ring.submit()?;
/// let (result, buf) = ring.wait()?.into_buf().unwrap();
/// assert_eq!(result?, buf.filled());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Ring<B: IoBuf> {
    // Field order is drop order after `Drop::drop` has drained: payloads, buffer groups (already
    // unregistered), the io_uring (closed), then the registered memory.
    inflight: InFlight<B>,
    groups: Vec<GroupEntry>,
    uring: IoUring,
    slots: SlotTable,
    features: Features,
    shutdown_timeout: Duration,
    /// Cancellation requests of our own whose completions have not been reaped.
    internal_in_flight: usize,
}

/// Pushing failed: the submission queue was full and submitting to make room failed. The
/// operation (and its buffers) comes back.
///
/// # Examples
///
/// ```
/// fn retry<B: iobuf_uring::IoBuf, O: iobuf_uring::ops::Op<B>>(
///     ring: &mut iobuf_uring::Ring<B>,
///     op: O,
/// ) -> std::io::Result<iobuf_uring::OpId> {
///     match ring.push(op) {
///         Ok(id) => Ok(id),
///         Err(err) => {
///             let (error, op) = err.into_parts();
///             eprintln!("push failed ({error}), retrying once");
///             ring.push(op).map_err(|e| e.into_parts().0)
///         }
///     }
/// }
/// ```
pub struct PushError<O> {
    error: io::Error,
    op: O,
}

impl<O> PushError<O> {
    /// The error and the operation.
    ///
    /// # Examples
    ///
    /// ```
    /// fn push_or_drop<O: iobuf_uring::ops::Op<iobuf_pool::Buf>>(
    ///     ring: &mut iobuf_uring::Ring<iobuf_pool::Buf>,
    ///     op: O,
    /// ) -> std::io::Result<iobuf_uring::OpId> {
    ///     ring.push(op).map_err(|err| {
    ///         let (error, op) = err.into_parts();
    ///         drop(op); // its buffers go back to their pool
    ///         error
    ///     })
    /// }
    /// ```
    pub fn into_parts(self) -> (io::Error, O) {
        (self.error, self.op)
    }
}

impl<O> fmt::Debug for PushError<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushError").field("error", &self.error).finish_non_exhaustive()
    }
}

impl<O> fmt::Display for PushError<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not push an operation: {}", self.error)
    }
}

impl<O> std::error::Error for PushError<O> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl<O> From<PushError<O>> for io::Error {
    fn from(err: PushError<O>) -> Self {
        err.error
    }
}

impl<B: IoBuf> Ring<B> {
    /// A ring with `entries` submission entries and default settings.
    ///
    /// # Errors
    ///
    /// As [`RingBuilder::build`].
    ///
    /// # Examples
    ///
    /// ```
    /// # if iobuf_uring::probe().is_err() { return Ok(()) }
    /// let ring = iobuf_uring::Ring::<iobuf_pool::Buf>::new(32)?;
    /// assert_eq!(ring.entries(), 32);
    /// # Ok::<(), iobuf_uring::UringError>(())
    /// ```
    pub fn new(entries: u32) -> Result<Self, UringError> {
        RingBuilder::default().entries(entries).build()
    }

    /// Settings beyond the entry count.
    ///
    /// # Examples
    ///
    /// ```
    /// # if iobuf_uring::probe().is_err() { return Ok(()) }
    /// let ring = iobuf_uring::Ring::<iobuf_pool::Buf>::builder().entries(8).build()?;
    /// # drop(ring);
    /// # Ok::<(), iobuf_uring::UringError>(())
    /// ```
    pub fn builder() -> RingBuilder<B> {
        RingBuilder::default()
    }

    /// What the running kernel supports.
    ///
    /// # Examples
    ///
    /// ```
    /// # if iobuf_uring::probe().is_err() { return Ok(()) }
    /// let ring = iobuf_uring::Ring::<iobuf_pool::Buf>::new(8)?;
    /// println!("send_zc: {}", ring.features().send_zc);
    /// # Ok::<(), iobuf_uring::UringError>(())
    /// ```
    pub fn features(&self) -> &Features {
        &self.features
    }

    /// Submission queue size.
    ///
    /// # Examples
    ///
    /// ```
    /// # if iobuf_uring::probe().is_err() { return Ok(()) }
    /// let ring = iobuf_uring::Ring::<iobuf_pool::Buf>::new(100)?;
    /// assert_eq!(ring.entries(), 128, "rounded up to a power of two");
    /// # Ok::<(), iobuf_uring::UringError>(())
    /// ```
    pub fn entries(&self) -> u32 {
        self.uring.params().sq_entries()
    }

    /// Operations pushed whose buffers the ring still holds.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_uring::{Ring, ops::Read};
    /// # if iobuf_uring::probe().is_err() { return Ok(()) }
    /// # let pool = iobuf_pool::BufferPool::builder(4096).capacity(1).build()?;
    /// let file = std::fs::File::open("/proc/self/stat")?;
    /// let mut ring = Ring::new(8)?;
    /// ring.push(Read::at(&file, pool.try_get()?, 0))?;
    /// assert_eq!(ring.in_flight(), 1);
    /// drop(ring.wait()?);
    /// assert_eq!(ring.in_flight(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn in_flight(&self) -> usize {
        self.inflight.len()
    }

    /// Registers `memory` (usually a clone of a pool) in the first free slots of this ring's
    /// table, reserving the sparse table on first use. The ring keeps `memory` alive until it
    /// is dropped, after every in-flight operation completed.
    ///
    /// # Errors
    ///
    /// [`UringError::Memlock`] when `RLIMIT_MEMLOCK` does not allow pinning it (the soft limit is
    /// raised toward the hard limit first); [`UringError::Unsupported`] before Linux 5.13 — both
    /// become an unregistered [`Registration`] instead with
    /// [`RegisterOptions::fallback_to_unregistered`]. [`UringError::SlotsExhausted`],
    /// [`UringError::StrideTooLarge`], [`UringError::Os`].
    ///
    /// # Examples
    ///
    /// ```
    /// # if iobuf_uring::probe().map_or(true, |f| !f.sparse_buffers) { return Ok(()) }
    /// let pool = iobuf_pool::BufferPool::builder(4096).capacity(8).build()?;
    /// let mut ring = iobuf_uring::Ring::<iobuf_pool::Buf>::new(8)?;
    /// let first = ring.register(pool.clone(), iobuf_uring::RegisterOptions::new())?;
    /// let more = iobuf_pool::BufferPool::builder(65536).capacity(4).build()?;
    /// let second = ring.register(more, iobuf_uring::RegisterOptions::new())?; // grows the table
    /// assert_eq!((first.slots(), second.slots()), (0..1, 1..2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn register<M: RegisterMemory>(
        &mut self,
        memory: M,
        options: RegisterOptions,
    ) -> Result<Registration, UringError> {
        self.slots.register(&self.uring, &self.features, memory, options)
    }

    /// Registers the memory of `registration` (made on another ring) at the same slots here, so
    /// handles stamped with its `buf_index` work on both rings. A no-op for an unregistered one.
    ///
    /// # Errors
    ///
    /// [`UringError::SlotsTaken`] when those slots are in use here,
    /// [`UringError::SlotsExhausted`] when this ring's table is too small, and the errors of
    /// [`register`](Self::register) except that there is no fallback: the handles already
    /// carry indices.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::BufferPool;
    /// use iobuf_uring::{RegisterOptions, Ring};
    ///
    /// # if iobuf_uring::probe().map_or(true, |f| !f.sparse_buffers) { return Ok(()) }
    /// let pool = BufferPool::builder(4096).capacity(8).build()?;
    /// let mut first = Ring::<iobuf_pool::Buf>::new(8)?;
    /// let mut second = Ring::<iobuf_pool::Buf>::new(8)?;
    /// let registration = first.register(pool, RegisterOptions::new())?;
    /// second.attach(&registration)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn attach(&mut self, registration: &Registration) -> Result<(), UringError> {
        self.slots.attach(&self.uring, &self.features, registration)
    }

    /// Registers a provided buffer ring; buffer-select operations name the returned group.
    ///
    /// # Errors
    ///
    /// [`UringError::Unsupported`] before Linux 5.19; [`UringError::InvalidBufRing`] for 0 or
    /// more than 32768 buffers, or buffers over 4 GiB; [`UringError::GroupTaken`];
    /// [`UringError::Os`].
    ///
    /// # Examples
    ///
    /// ```
    /// # match iobuf_uring::probe() { Ok(f) if f.buf_ring => {}, _ => return Ok(()) }
    /// let pool = iobuf_pool::BufferPool::builder(2048).capacity(8).build()?;
    /// let bufs = (0..8).map(|_| pool.try_get()).collect::<Result<Vec<_>, _>>()?;
    /// let mut ring = iobuf_uring::Ring::<iobuf_pool::Buf>::new(8)?;
    /// let group = ring.add_buf_ring(iobuf_uring::BufRing::new(5, bufs))?;
    /// assert_eq!(group.buffers(), 8);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_buf_ring<T: IoBuf>(&mut self, ring: BufRing<T>) -> Result<BufGroup, UringError> {
        if !self.features.buf_ring {
            return Err(UringError::Unsupported {
                feature: "provided buffer rings",
                since: "5.19",
            });
        }
        let entry = GroupEntry::register(&self.uring, ring, self.features.buf_ring_incremental)?;
        let group = entry.group;
        self.groups.push(entry);
        Ok(group)
    }

    /// Queues `op`; its buffers stay with the ring until its completion. Submits first when the
    /// submission queue is full.
    ///
    /// The operation holds its file's descriptor as a number: keep the file open until the
    /// completion (see [`ops`](crate::ops#file-descriptors)).
    ///
    /// # Errors
    ///
    /// When the queue is full and submitting fails, or the operation is one the kernel would
    /// carry out wrongly (`InvalidInput`: [`ReadSelect::len`](crate::ops::ReadSelect::len) on
    /// an incremental group); the operation comes back in the error.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_uring::{Ring, ops::Read};
    /// # if iobuf_uring::probe().is_err() { return Ok(()) }
    /// # let pool = iobuf_pool::BufferPool::builder(4096).capacity(1).build()?;
    /// let file = std::fs::File::open("/proc/self/stat")?;
    /// let mut ring = Ring::new(8)?;
    /// let id = ring.push(Read::at(&file, pool.try_get()?, 0))?; // queued, the buffer moved in
    /// assert_eq!(ring.wait()?.id(), id);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push<O: Op<B>>(&mut self, op: O) -> Result<OpId, PushError<O>> {
        if let Err(error) = op.check().and_then(|()| self.make_room()) {
            return Err(PushError { error, op });
        }
        let Prepared { entry, pending } = op.prepare(&self.features);
        let id = self.inflight.insert(pending);
        let entry = entry.user_data(id.user_data());
        // SAFETY: the entry's pointers refer to memory held by the in-flight record `id` or to
        // this ring's buffer rings, both kept until the last completion (module docs).
        let pushed = unsafe { self.uring.submission().push(&entry) };
        pushed.expect("make_room left a free submission entry");
        Ok(id)
    }

    /// Submits until the submission queue has a free entry.
    fn make_room(&mut self) -> io::Result<()> {
        while self.uring.submission().is_full() {
            match self.uring.submit() {
                Ok(0) => {
                    // The kernel took nothing (its completion queue is backed up): reaping is
                    // the caller's move, so say so instead of spinning.
                    return Err(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        "submission queue full and the kernel takes no more: reap completions",
                    ));
                }
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }

    /// Submits queued operations to the kernel; returns how many it took.
    ///
    /// # Errors
    ///
    /// The error of `io_uring_enter`.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_uring::{Ring, ops::Read};
    /// # if iobuf_uring::probe().is_err() { return Ok(()) }
    /// # let pool = iobuf_pool::BufferPool::builder(4096).capacity(1).build()?;
    /// let file = std::fs::File::open("/proc/self/stat")?;
    /// let mut ring = Ring::new(8)?;
    /// ring.push(Read::at(&file, pool.try_get()?, 0))?;
    /// assert_eq!(ring.submit()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn submit(&mut self) -> io::Result<usize> {
        self.uring.submit()
    }

    /// Submits queued operations and waits until at least `want` completions are ready.
    ///
    /// # Errors
    ///
    /// The error of `io_uring_enter`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use iobuf_pool::BufferPool;
    /// # use iobuf_uring::{Ring, ops::Read};
    /// # if iobuf_uring::probe().is_err() { return Ok(()) }
    /// # let mut ring = Ring::new(8)?;
    /// # let pool = BufferPool::builder(4096).capacity(2).build()?;
    /// # let file = std::fs::File::open("/proc/self/stat")?;
    /// ring.push(Read::at(&file, pool.try_get()?, 0))?;
    /// ring.push(Read::at(&file, pool.try_get()?, 0))?;
    /// ring.submit_and_wait(2)?;
    /// assert!(ring.completion().is_some() && ring.completion().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn submit_and_wait(&mut self, want: usize) -> io::Result<usize> {
        self.uring.submit_and_wait(want)
    }

    /// Completion queue entries the kernel has posted and [`completion`](Self::completion) has
    /// not reaped yet (including intermediate ones, like a zero-copy send's result before its
    /// notification, and the ring's own).
    ///
    /// # Examples
    ///
    /// ```
    /// # if iobuf_uring::probe().is_err() { return Ok(()) }
    /// let mut ring = iobuf_uring::Ring::<iobuf_pool::Buf>::new(8)?;
    /// assert_eq!(ring.ready(), 0);
    /// # Ok::<(), iobuf_uring::UringError>(())
    /// ```
    pub fn ready(&mut self) -> usize {
        self.uring.completion().len()
    }

    /// The next completion already posted, without waiting or submitting.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_uring::{Ring, ops::Read};
    /// # if iobuf_uring::probe().is_err() { return Ok(()) }
    /// # let pool = iobuf_pool::BufferPool::builder(4096).capacity(1).build()?;
    /// let file = std::fs::File::open("/proc/self/stat")?;
    /// let mut ring = Ring::new(8)?;
    /// assert!(ring.completion().is_none());
    /// ring.push(Read::at(&file, pool.try_get()?, 0))?;
    /// ring.submit_and_wait(1)?;
    /// assert!(ring.completion().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn completion(&mut self) -> Option<Completion<B>> {
        loop {
            let cqe = self.uring.completion().next()?;
            if let Some(completion) = self.complete(&cqe) {
                return Some(completion);
            }
        }
    }

    /// Submits queued operations and waits for the next completion.
    ///
    /// # Errors
    ///
    /// The error of `io_uring_enter` (after retrying `EINTR`); `WouldBlock` when nothing is in
    /// flight, so no completion can come.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_uring::{Ring, ops::Read};
    /// # if iobuf_uring::probe().is_err() { return Ok(()) }
    /// # let pool = iobuf_pool::BufferPool::builder(4096).capacity(1).build()?;
    /// let file = std::fs::File::open("/proc/self/stat")?;
    /// let mut ring = Ring::new(8)?;
    /// ring.push(Read::at(&file, pool.try_get()?, 0))?;
    /// let (result, _buf) = ring.wait()?.into_buf().unwrap(); // submits, then waits
    /// assert!(result? > 0);
    /// assert_eq!(ring.wait().unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait(&mut self) -> io::Result<Completion<B>> {
        loop {
            if let Some(completion) = self.completion() {
                return Ok(completion);
            }
            if self.inflight.is_empty() {
                return Err(io::Error::new(io::ErrorKind::WouldBlock, "no operation in flight"));
            }
            match self.uring.submit_and_wait(1) {
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
    }

    /// Asks the kernel to cancel `id` (queued; [`submit`](Self::submit) or a wait sends it).
    /// The operation's buffers come back with its completion — usually `ECANCELED` — and not a
    /// moment earlier. Returns false when `id` is not in flight.
    ///
    /// # Errors
    ///
    /// When the submission queue is full and submitting fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::BufferPool;
    /// use iobuf_uring::{Ring, ops::Read};
    ///
    /// # if iobuf_uring::probe().is_err() { return Ok(()) }
    /// let mut ring = Ring::new(8)?;
    /// let pool = BufferPool::builder(4096).capacity(1).build()?;
    /// let (reader, _writer) = std::io::pipe()?; // nothing will ever arrive
    /// let id = ring.push(Read::new(&reader, pool.try_get()?))?;
    /// ring.submit()?;
    /// assert!(ring.cancel(id)?);
    /// assert_eq!(ring.in_flight(), 1, "the kernel still has the buffer");
    /// let (result, _buf) = ring.wait()?.into_buf().unwrap();
    /// assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::ECANCELED));
    /// assert_eq!(ring.in_flight(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cancel(&mut self, id: OpId) -> io::Result<bool> {
        if self.inflight.get_mut(id).is_none() {
            return Ok(false);
        }
        self.make_room()?;
        let entry = opcode::AsyncCancel::new(id.user_data()).build().user_data(INTERNAL);
        // SAFETY: a cancellation entry carries no pointers.
        let pushed = unsafe { self.uring.submission().push(&entry) };
        pushed.expect("make_room left a free submission entry");
        self.internal_in_flight += 1;
        Ok(true)
    }

    /// Cancels every operation in flight and waits (up to `timeout`; `Duration::MAX` for no
    /// limit) for their completions, dropping them — buffers go back to their pools. What
    /// [`Drop`] does, except that the drop keeps the completions until nothing is in flight.
    ///
    /// # Errors
    ///
    /// `TimedOut` when some operations did not complete in time (they stay in flight), or the
    /// error of `io_uring_enter`.
    ///
    /// # Panics
    ///
    /// When dropping a completion panics (a handle's own drop). The ring stays usable: what the
    /// kernel still holds is still in flight.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use iobuf_pool::BufferPool;
    /// use iobuf_uring::{Ring, ops::Read};
    ///
    /// # if iobuf_uring::probe().is_err() { return Ok(()) }
    /// let mut ring = Ring::new(8)?;
    /// let pool = BufferPool::builder(4096).capacity(1).build()?;
    /// let (reader, _writer) = std::io::pipe()?;
    /// ring.push(Read::new(&reader, pool.try_get()?))?;
    /// ring.cancel_all(Duration::from_secs(5))?;
    /// assert_eq!(ring.in_flight(), 0);
    /// assert!(pool.try_get().is_ok(), "the buffer is back in the pool");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cancel_all(&mut self, timeout: Duration) -> io::Result<()> {
        self.cancel_all_with(timeout, drop)
    }

    /// [`cancel_all`](Self::cancel_all), handing each completion reaped to `reaped`.
    fn cancel_all_with(
        &mut self,
        timeout: Duration,
        mut reaped: impl FnMut(Completion<B>),
    ) -> io::Result<()> {
        // A timeout past the end of the clock (`Duration::MAX`) is no deadline at all.
        let deadline = Instant::now().checked_add(timeout);
        let left = |deadline: Option<Instant>| {
            deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()))
        };
        // A cancel reaches only what the kernel has taken. Without IORING_SETUP_SUBMIT_ALL it
        // stops taking entries at one it refuses, so entries can still wait in the submission
        // queue: they are handed in first, and the cancel waits until they all are.
        let mut cancelled = false;
        loop {
            while let Some(completion) = self.completion() {
                reaped(completion);
            }
            if self.inflight.is_empty() && self.internal_in_flight == 0 {
                return Ok(());
            }
            if !cancelled && self.submit_queued()? {
                self.cancel_in_kernel(left(deadline).unwrap_or(timeout))?;
                cancelled = true;
            }
            let left = left(deadline);
            if left.is_some_and(|left| left.is_zero()) {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "{} operations did not complete after cancellation",
                        self.inflight.len()
                    ),
                ));
            }
            self.wait_for_one(left)?;
        }
    }

    /// Cancels every operation the kernel holds: at once where the kernel can (6.0), else with
    /// one `AsyncCancel` entry each.
    fn cancel_in_kernel(&mut self, timeout: Duration) -> io::Result<()> {
        if self.inflight.is_empty() {
            return Ok(());
        }
        if self.features.sync_cancel {
            // ENOENT: nothing matched (all done already); ETIME: some could not be cancelled
            // in time. Either way the caller's wait decides.
            let _ = self
                .uring
                .submitter()
                .register_sync_cancel(Some(timespec(timeout)), types::CancelBuilder::any());
        } else {
            for id in self.inflight.ids() {
                self.cancel(id)?;
            }
            self.submit_queued()?;
        }
        Ok(())
    }

    /// Submits until the submission queue is empty; `false` when the kernel takes no more
    /// for now (its completion queue is backed up: reaping makes room).
    fn submit_queued(&mut self) -> io::Result<bool> {
        while !self.uring.submission().is_empty() {
            match self.uring.submit() {
                Ok(0) => return Ok(false),
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) if err.raw_os_error() == Some(libc::EBUSY) => return Ok(false),
                Err(err) => return Err(err),
            }
        }
        Ok(true)
    }

    /// Submits, retrying interruptions.
    fn submit_retrying(&mut self) -> io::Result<()> {
        loop {
            match self.uring.submit() {
                Ok(_) => return Ok(()),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
    }

    /// Waits for one completion, or until `limit` has passed (`None`: no limit).
    ///
    /// With `ext_arg` (5.11) the kernel keeps the time. Before that `io_uring_enter` cannot
    /// wait with a timeout, so the ring polls: it submits, and sleeps in steps growing from
    /// 50 µs to 10 ms until a completion is posted or the limit has passed.
    fn wait_for_one(&mut self, limit: Option<Duration>) -> io::Result<()> {
        let result = match limit {
            None => self.uring.submit_and_wait(1),
            Some(limit) if self.features.ext_arg => {
                let ts = timespec(limit);
                let args = types::SubmitArgs::new().timespec(&ts);
                self.uring.submitter().submit_with_args(1, &args)
            }
            Some(limit) => return self.poll_for_one(limit),
        };
        match result {
            Ok(_) => Ok(()),
            Err(err) if matches!(err.raw_os_error(), Some(libc::ETIME | libc::EINTR)) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// [`wait_for_one`](Self::wait_for_one) without a kernel timeout: submit and sleep.
    fn poll_for_one(&mut self, limit: Duration) -> io::Result<()> {
        let deadline = Instant::now().checked_add(limit);
        let mut nap = Duration::from_micros(50);
        loop {
            self.submit_retrying()?;
            if !self.uring.completion().is_empty() {
                return Ok(());
            }
            let left = deadline.map_or(nap, |d| d.saturating_duration_since(Instant::now()));
            if left.is_zero() {
                return Ok(());
            }
            std::thread::sleep(nap.min(left));
            nap = (nap * 2).min(Duration::from_millis(10));
        }
    }

    /// Turns one completion queue entry into a [`Completion`], or `None` when it is an
    /// intermediate one (a zero-copy send's result before its notification) or our own.
    fn complete(&mut self, cqe: &cqueue::Entry) -> Option<Completion<B>> {
        let Some(id) = InFlight::<B>::id_of(cqe.user_data()) else {
            self.internal_in_flight = self.internal_in_flight.saturating_sub(1);
            return None;
        };
        let (res, flags) = (cqe.result(), cqe.flags());
        match self.inflight.get_mut(id)?.kind {
            Kind::SendZc { .. } if !cqueue::notif(flags) && cqueue::more(flags) => {
                // The result; the buffer stays until the notification.
                if let Some(pending) = self.inflight.get_mut(id) {
                    pending.kind = Kind::SendZc { result: Some(res) };
                }
                return None;
            }
            Kind::Select { group, multishot } => {
                let more = multishot && cqueue::more(flags);
                if !more {
                    self.inflight.remove(id);
                }
                let entry = self.groups.iter_mut().find(|g| g.group.id() == group);
                let result = if res < 0 {
                    // A failure can still name a buffer: files that cannot be polled commit
                    // the selected buffer before the read runs. Take it and give it back (for
                    // an incremental ring, unless the kernel keeps it: BUF_MORE).
                    drop(entry.and_then(|g| g.take(0, flags)));
                    Err(io::Error::from_raw_os_error(-res))
                } else {
                    Ok(entry.and_then(|g| g.take(res, flags)))
                };
                return Some(Completion::Selected { id, result, more });
            }
            _ => {}
        }
        let Pending { kind, payload } = self.inflight.remove(id)?;
        let res = match kind {
            Kind::SendZc { result: Some(first) } => first,
            _ => res,
        };
        let result = to_result(res);
        let is_read = kind == Kind::Read;
        Some(match payload {
            Payload::One(mut buf) => {
                if let (true, Ok(n)) = (is_read, &result) {
                    buf.set_filled(*n);
                }
                Completion::Buf { id, result, buf }
            }
            Payload::Many { mut bufs, iovecs } => {
                drop(iovecs);
                if let (true, Ok(n)) = (is_read, &result) {
                    let mut left = *n;
                    for buf in &mut bufs {
                        let share = left.min(buf.capacity());
                        buf.set_filled(share);
                        left -= share;
                    }
                }
                Completion::Bufs { id, result, bufs }
            }
            Payload::Nothing => unreachable!("only buffer-select operations carry no buffer"),
        })
    }
}

impl<B: IoBuf> AsRawFd for Ring<B> {
    fn as_raw_fd(&self) -> RawFd {
        self.uring.as_raw_fd()
    }
}

impl<B: IoBuf> fmt::Debug for Ring<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ring")
            .field("fd", &self.uring.as_raw_fd())
            .field("entries", &self.entries())
            .field("in_flight", &self.inflight.len())
            .field("buffer_slots_used", &self.slots.used())
            .field("buffer_groups", &self.groups.len())
            .finish()
    }
}

impl<B: IoBuf> Drop for Ring<B> {
    fn drop(&mut self) {
        let timeout = self.shutdown_timeout;
        let mut shutdown = Shutdown {
            ring: self,
            reaped: Vec::new(),
            armed: true,
            unwinding_already: std::thread::panicking(),
        };
        let Shutdown { ring, reaped, .. } = &mut shutdown;
        if ring.cancel_all_with(timeout, |completion| reaped.push(completion)).is_ok() {
            // Nothing in flight: the buffer rings can go, then the reaped completions.
            for group in &ring.groups {
                group.retire(&ring.uring);
            }
            shutdown.armed = false;
        }
        // Dropping `shutdown` drops the reaped completions — and, still armed (the wait failed
        // or timed out, or a panic unwinds through here), leaks what the kernel may still use.
    }
}

/// A ring's drop in progress.
///
/// Until disarmed — once nothing is in flight and the buffer rings are unregistered — dropping
/// it leaks the in-flight table, the buffer rings and the registered memory instead of letting
/// the ring's fields free them: whether the wait for the kernel failed or timed out, or a
/// panic (a buffer's `set_filled`, a completion's drop) is unwinding through the ring's drop.
struct Shutdown<'a, B: IoBuf> {
    ring: &'a mut Ring<B>,
    /// Completions reaped while draining. Dropping one runs other code (a buffer's drop, a pool
    /// waking a waiter) that may panic, so they are dropped only after the kernel is done with
    /// everything else — and not at all while unwinding.
    reaped: Vec<Completion<B>>,
    armed: bool,
    /// The ring was dropped while unwinding from an earlier panic.
    unwinding_already: bool,
}

impl<B: IoBuf> Drop for Shutdown<'_, B> {
    fn drop(&mut self) {
        if self.armed {
            // The kernel may still use these: never free them (module docs). Nothing here
            // allocates or runs other code, so this cannot panic.
            std::mem::forget(std::mem::replace(&mut self.ring.inflight, InFlight::new()));
            std::mem::forget(std::mem::take(&mut self.ring.groups));
            std::mem::forget(std::mem::replace(&mut self.ring.slots, SlotTable::new(0)));
        }
        if std::thread::panicking() && !self.unwinding_already {
            // A panic in the drain is unwinding: a second one would abort the process.
            std::mem::forget(std::mem::take(&mut self.reaped));
        }
    }
}

/// The longest wait handed to the kernel: about 136 years. Longer ones (`Duration::MAX`) would
/// overflow the kernel's deadline arithmetic (now + timeout, in nanoseconds) and end at once.
const LONGEST_WAIT: Duration = Duration::from_secs(u32::MAX as u64);

/// `timeout` for the kernel, capped at [`LONGEST_WAIT`].
fn timespec(timeout: Duration) -> types::Timespec {
    types::Timespec::from(timeout.min(LONGEST_WAIT))
}

/// Pushes a pointer-free entry on a scratch ring (the probe's).
pub(crate) fn push_without_buffers(uring: &mut IoUring, entry: &squeue::Entry) -> io::Result<()> {
    // SAFETY: the caller's entry refers to no memory (a buffer-select recv on a group that does
    // not exist).
    unsafe { uring.submission().push(entry) }
        .map_err(|_| io::Error::new(io::ErrorKind::WouldBlock, "submission queue full"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{IoVec, IoVecMut, ProvidedBuf};

    // One ring per thread means rings move to their threads; handles and registrations cross
    // threads freely.
    static_assertions::assert_impl_all!(Ring<ProvidedBuf>: Send);
    static_assertions::assert_impl_all!(ProvidedBuf: Send, Sync, IoBuf);
    static_assertions::assert_impl_all!(Registration: Send, Sync, Clone);
    static_assertions::assert_impl_all!(IoVec<'static>: Send, Sync, Copy);
    static_assertions::assert_impl_all!(IoVecMut<'static>: Send, Sync);
    static_assertions::assert_not_impl_any!(IoVecMut<'static>: Clone, Copy);

    /// Runs `f` on its own thread; `None` when it has not returned within `patience`.
    fn within<T: Send + 'static>(
        patience: Duration,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(f()).unwrap());
        rx.recv_timeout(patience).ok()
    }

    /// Without `ext_arg` (before 5.11) and sync cancel (before 6.0) the wait is still bounded:
    /// cancelling waits for the completions it can get, and gives up at the timeout on one that
    /// never comes (here a stand-in: a cancellation of our own counted but never submitted).
    #[test]
    fn cancel_all_is_bounded_without_ext_arg_or_sync_cancel() {
        let Ok(features) = probe() else {
            eprintln!("skipped cancel_all_is_bounded_without_ext_arg_or_sync_cancel: no io_uring");
            return;
        };
        let mut ring = Ring::<iobuf_pool::Buf>::new(8).unwrap();
        ring.features = Features { ext_arg: false, sync_cancel: false, ..features };
        let pool = iobuf_pool::BufferPool::builder(4096).capacity(1).build().unwrap();
        let (reader, writer) = std::io::pipe().unwrap();
        ring.push(crate::ops::Read::new(&reader, pool.try_get().unwrap())).unwrap();
        ring.submit().unwrap();
        let started = Instant::now();
        ring.cancel_all(Duration::from_secs(5)).unwrap();
        assert!(started.elapsed() < Duration::from_secs(1), "waited past the completion");
        assert!(pool.try_get().is_ok(), "the cancelled read's buffer is back");
        ring.internal_in_flight += 1;
        let waited = within(Duration::from_secs(5), move || {
            let started = Instant::now();
            let result = ring.cancel_all(Duration::from_millis(100));
            let elapsed = started.elapsed();
            // The stand-in never completes: take it back so the drop does not wait for it.
            ring.internal_in_flight -= 1;
            drop(ring);
            (result.map_err(|e| e.kind()), elapsed)
        });
        let (result, elapsed) = waited.expect("cancel_all waited past its timeout");
        assert_eq!(result, Err(io::ErrorKind::TimedOut));
        assert!(elapsed >= Duration::from_millis(100), "{elapsed:?}");
        drop((reader, writer));
    }
}
