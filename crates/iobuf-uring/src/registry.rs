//! Registering memory with a ring: chunking, the sparse slot table, memlock, fallback.
//!
//! A ring reserves a sparse table of registered-buffer slots (`IORING_REGISTER_BUFFERS2`,
//! 5.13) the first time memory is registered, and fills slots with
//! `IORING_REGISTER_BUFFERS_UPDATE`, so pools can be added later without re-registering what is
//! there. Each span of memory becomes one registered buffer per ≤ 1 GiB chunk (the kernel's
//! limit per buffer); chunks are cut at multiples of the memory's buffer stride from the span's
//! start, so every buffer lies inside one chunk and `ReadFixed` — which accepts any address
//! inside a registered buffer — serves every buffer of a pool with a handful of slots.
//!
//! # Safety
//!
//! This module owns the obligation that memory handed to the kernel stays valid for as long as
//! the ring may use it: the registered value is kept (inside the [`Registration`]) in the ring's
//! slot table, which the ring drops only after its in-flight operations have completed and the
//! io_uring itself has been closed.
#![allow(unsafe_code)] // reason: IORING_REGISTER_BUFFERS_UPDATE (see module docs).

use std::any::Any;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use io_uring::IoUring;

use crate::memlock::{self, PinCharge};
use crate::{Features, RegisterMemory, Span, UringError};

/// The kernel's limit on one registered buffer: memory is registered in chunks of at most this.
///
/// # Examples
///
/// ```
/// assert_eq!(iobuf_uring::MAX_REGISTERED_CHUNK, 1 << 30);
/// ```
pub const MAX_REGISTERED_CHUNK: usize = 1 << 30;

/// How to register memory.
///
/// # Examples
///
/// ```
/// use iobuf_uring::RegisterOptions;
/// let options = RegisterOptions::new().fallback_to_unregistered(true);
/// assert!(options.falls_back());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RegisterOptions {
    fallback: bool,
}

impl RegisterOptions {
    /// Fail when the memory cannot be registered.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!iobuf_uring::RegisterOptions::new().falls_back());
    /// ```
    pub const fn new() -> Self {
        Self { fallback: false }
    }

    /// When registration is refused for `RLIMIT_MEMLOCK` (or the kernel lacks a sparse buffer
    /// table), return an unregistered [`Registration`] instead of an error: handles then carry
    /// no `buf_index` and operations use plain `Read`/`Write`. The reason is kept in
    /// [`Registration::fallback_reason`].
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_uring::RegisterOptions;
    /// assert!(RegisterOptions::new().fallback_to_unregistered(true).falls_back());
    /// ```
    #[must_use]
    pub const fn fallback_to_unregistered(mut self, fallback: bool) -> Self {
        self.fallback = fallback;
        self
    }

    /// Whether falling back to unregistered I/O was asked for.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!iobuf_uring::RegisterOptions::default().falls_back());
    /// ```
    pub const fn falls_back(&self) -> bool {
        self.fallback
    }
}

/// A span cut into chunks that occupy consecutive slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SpanSlots {
    start: usize,
    end: usize,
    chunk_len: usize,
    /// Slot of the span's first chunk, relative to the registration's first slot.
    first: u16,
}

/// Cuts each span into registered chunks of at most 1 GiB at multiples of its stride.
fn plan(spans: &[Span]) -> Result<(Vec<SpanSlots>, Vec<Span>), UringError> {
    let mut layout = Vec::with_capacity(spans.len());
    let mut chunks = Vec::new();
    for span in spans.iter().filter(|s| s.len() > 0) {
        let stride = span.stride();
        if stride > MAX_REGISTERED_CHUNK {
            return Err(UringError::StrideTooLarge { stride });
        }
        let chunk_len = MAX_REGISTERED_CHUNK / stride * stride;
        let first = u16::try_from(chunks.len())
            .map_err(|_| UringError::SlotsExhausted { needed: chunks.len(), table: u16::MAX })?;
        layout.push(SpanSlots { start: span.start(), end: span.end(), chunk_len, first });
        let mut offset = 0;
        while offset < span.len() {
            let len = chunk_len.min(span.len() - offset);
            let ptr = std::ptr::NonNull::new(span.as_ptr().wrapping_add(offset)).expect("in span");
            chunks.push(Span::new(ptr, len, span.page_size()).with_stride(stride));
            offset += len;
        }
    }
    Ok((layout, chunks))
}

/// Memory registered with one or more rings, and where: stamps `buf_index` on buffers.
///
/// Cheap to clone. It holds the registered value (usually a pool clone), so the memory lives at
/// least as long as any ring that registered it.
///
/// # Examples
///
/// ```
/// use iobuf_pool::BufferPool;
/// use iobuf_uring::{IoBuf, RegisterOptions, Ring};
///
/// # if iobuf_uring::probe().map_or(true, |f| !f.sparse_buffers) { return Ok(()) }
/// let pool = BufferPool::builder(4096).capacity(64).build()?;
/// let mut ring = Ring::<iobuf_pool::Buf>::new(8)?;
/// let registration = ring.register(pool.clone(), RegisterOptions::new())?;
/// assert!(registration.is_registered());
/// let buf = pool.try_get()?;
/// assert_eq!(registration.buf_index(buf.as_ptr(), buf.capacity()), Some(registration.slots().start));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Registration {
    inner: Arc<Inner>,
}

struct Inner {
    spans: Vec<SpanSlots>,
    chunks: Vec<Span>,
    pinned: usize,
    /// First slot on every ring it is registered with; `None` when unregistered.
    first_slot: Option<u16>,
    fallback: Option<UringError>,
    /// The registered value, kept alive with the registration.
    _memory: Box<dyn Any + Send + Sync>,
}

impl Registration {
    /// The slot covering `len` bytes at `ptr`, if they lie inside one registered chunk.
    /// O(number of spans): one for a pool.
    ///
    /// # Examples
    ///
    /// ```
    /// # if iobuf_uring::probe().map_or(true, |f| !f.sparse_buffers) { return Ok(()) }
    /// let pool = iobuf_pool::BufferPool::builder(4096).capacity(8).build()?;
    /// let mut ring = iobuf_uring::Ring::<iobuf_pool::Buf>::builder().buffer_slots(4).build()?;
    /// let registration = ring.register(pool.clone(), iobuf_uring::RegisterOptions::new())?;
    /// let buf = pool.try_get()?;
    /// assert_eq!(registration.buf_index(buf.as_ptr(), buf.capacity()), Some(0));
    /// let elsewhere = [0u8; 16];
    /// assert_eq!(registration.buf_index(elsewhere.as_ptr(), 16), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn buf_index(&self, ptr: *const u8, len: usize) -> Option<u16> {
        let first_slot = self.inner.first_slot?;
        let address = ptr as usize;
        let span = self.inner.spans.iter().find(|s| s.start <= address && address < s.end)?;
        let chunk = (address - span.start) / span.chunk_len;
        let chunk_end = span.start + (chunk + 1) * span.chunk_len;
        if address.checked_add(len)? > chunk_end.min(span.end) {
            return None;
        }
        Some(first_slot + span.first + chunk as u16)
    }

    /// Whether the memory is registered (false after a fallback to unregistered I/O).
    ///
    /// # Examples
    ///
    /// ```
    /// # if iobuf_uring::probe().map_or(true, |f| !f.sparse_buffers) { return Ok(()) }
    /// let pool = iobuf_pool::BufferPool::builder(4096).capacity(8).build()?;
    /// let mut ring = iobuf_uring::Ring::<iobuf_pool::Buf>::builder().buffer_slots(4).build()?;
    /// let registration = ring.register(pool.clone(), iobuf_uring::RegisterOptions::new())?;
    /// assert!(registration.is_registered());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_registered(&self) -> bool {
        self.inner.first_slot.is_some()
    }

    /// The slots it occupies on every ring it is registered with (empty when unregistered).
    ///
    /// # Examples
    ///
    /// ```
    /// # if iobuf_uring::probe().map_or(true, |f| !f.sparse_buffers) { return Ok(()) }
    /// let pool = iobuf_pool::BufferPool::builder(4096).capacity(8).build()?;
    /// let mut ring = iobuf_uring::Ring::<iobuf_pool::Buf>::builder().buffer_slots(4).build()?;
    /// let registration = ring.register(pool.clone(), iobuf_uring::RegisterOptions::new())?;
    /// assert_eq!(registration.slots(), 0..1); // 32 KiB: one chunk, one slot
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn slots(&self) -> Range<u16> {
        match self.inner.first_slot {
            Some(first) => first..first + self.inner.chunks.len() as u16,
            None => 0..0,
        }
    }

    /// Bytes each ring registration pins (page-rounded per chunk, huge pages once).
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::BufferPool;
    /// use iobuf_uring::{RegisterOptions, Ring};
    ///
    /// # if iobuf_uring::probe().map_or(true, |f| !f.sparse_buffers) { return Ok(()) }
    /// let pool = BufferPool::builder(4096).capacity(16).build()?;
    /// let mut ring = Ring::<iobuf_pool::Buf>::new(8)?;
    /// let registration = ring.register(pool, RegisterOptions::new())?;
    /// assert_eq!(registration.pinned_bytes(), 16 * 4096);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pinned_bytes(&self) -> usize {
        self.inner.pinned
    }

    /// Why the memory is not registered, after a fallback.
    ///
    /// # Examples
    ///
    /// ```
    /// # use iobuf_pool::BufferPool;
    /// # use iobuf_uring::{RegisterOptions, Ring};
    /// # if iobuf_uring::probe().is_err() { return Ok(()) }
    /// # let pool = BufferPool::builder(4096).capacity(1).build()?;
    /// # let mut ring = Ring::<iobuf_pool::Buf>::new(8)?;
    /// let options = RegisterOptions::new().fallback_to_unregistered(true);
    /// let registration = ring.register(pool, options)?;
    /// if let Some(reason) = registration.fallback_reason() {
    ///     eprintln!("using unregistered I/O: {reason}");
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fallback_reason(&self) -> Option<&UringError> {
        self.inner.fallback.as_ref()
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("slots", &self.slots())
            .field("chunks", &self.inner.chunks.len())
            .field("pinned_bytes", &self.inner.pinned)
            .field("fallback", &self.inner.fallback)
            .finish()
    }
}

/// Why [`SlotTable::install`] failed.
struct Refused {
    error: UringError,
    /// `Some` when slots may still name the memory (emptying them failed too): the caller keeps
    /// the memory, with this charge, for as long as the ring lives.
    stale: Option<PinCharge>,
}

impl Refused {
    /// A failure that left no slot naming the memory.
    fn clean(error: UringError) -> Self {
        Self { error, stale: None }
    }
}

/// A ring's table of registered-buffer slots, and what keeps their memory alive.
pub(crate) struct SlotTable {
    size: u16,
    reserved: bool,
    used: Vec<bool>,
    /// Registrations installed on this ring, with their memlock charges.
    held: Vec<(Registration, PinCharge)>,
}

impl SlotTable {
    pub(crate) fn new(size: u16) -> Self {
        Self { size, reserved: false, used: vec![false; usize::from(size)], held: Vec::new() }
    }

    /// Registers `memory` at the first free run of slots.
    pub(crate) fn register<M: RegisterMemory>(
        &mut self,
        uring: &IoUring,
        features: &Features,
        memory: M,
        options: RegisterOptions,
    ) -> Result<Registration, UringError> {
        let (spans, chunks) = plan(&memory.spans())?;
        let pinned = memlock::pinned_bytes(&chunks);
        let first = match self.free_run(chunks.len()) {
            Some(first) => first,
            None => {
                return Err(UringError::SlotsExhausted { needed: chunks.len(), table: self.size });
            }
        };
        let installed = self.install(uring, features, &chunks, first, pinned);
        let inner = Inner {
            spans,
            chunks,
            pinned,
            first_slot: Some(first),
            fallback: None,
            _memory: Box::new(memory),
        };
        match installed {
            Ok(charge) => {
                let registration = Registration { inner: Arc::new(inner) };
                self.held.push((registration.clone(), charge));
                Ok(registration)
            }
            Err(Refused { error, stale: Some(charge) }) => {
                // Some slots may still name the memory: the ring keeps it (invariant 3).
                self.held.push((Registration { inner: Arc::new(inner) }, charge));
                Err(error)
            }
            Err(Refused {
                error: error @ (UringError::Memlock { .. } | UringError::Unsupported { .. }),
                stale: None,
            }) if options.fallback => {
                let inner = Inner {
                    spans: Vec::new(),
                    chunks: Vec::new(),
                    pinned: 0,
                    first_slot: None,
                    fallback: Some(error),
                    ..inner
                };
                Ok(Registration { inner: Arc::new(inner) })
            }
            Err(Refused { error, stale: None }) => Err(error),
        }
    }

    /// Registers the memory of `registration` at the same slots on this ring.
    pub(crate) fn attach(
        &mut self,
        uring: &IoUring,
        features: &Features,
        registration: &Registration,
    ) -> Result<(), UringError> {
        let Some(first) = registration.inner.first_slot else { return Ok(()) };
        let chunks = &registration.inner.chunks;
        let range = usize::from(first)..usize::from(first) + chunks.len();
        if range.end > usize::from(self.size) {
            return Err(UringError::SlotsExhausted { needed: range.end, table: self.size });
        }
        if self.used[range].iter().any(|&used| used) {
            return Err(UringError::SlotsTaken { first, count: chunks.len() as u16 });
        }
        match self.install(uring, features, chunks, first, registration.inner.pinned) {
            Ok(charge) => {
                self.held.push((registration.clone(), charge));
                Ok(())
            }
            Err(Refused { error, stale }) => {
                if let Some(charge) = stale {
                    // Some slots may still name the memory: the ring keeps it (invariant 3).
                    self.held.push((registration.clone(), charge));
                }
                Err(error)
            }
        }
    }

    /// First slot of `count` consecutive free ones.
    fn free_run(&self, count: usize) -> Option<u16> {
        if count == 0 {
            return Some(0);
        }
        let mut run = 0;
        for (slot, &used) in self.used.iter().enumerate() {
            run = if used { 0 } else { run + 1 };
            if run == count {
                return Some((slot + 1 - count) as u16);
            }
        }
        None
    }

    /// Reserves the table if needed, charges memlock, and fills slots `first..` with `chunks`.
    ///
    /// One `IORING_REGISTER_BUFFERS_UPDATE` per chunk: for several entries the kernel returns
    /// how many it installed before one failed (and `io-uring` drops that count), which would
    /// pass a partial registration off as a whole one. When a chunk is refused, the slots of
    /// the chunks before it are emptied again; should even that fail, they are marked used and
    /// the charge comes back in [`Refused::stale`] for the caller to keep with the memory.
    fn install(
        &mut self,
        uring: &IoUring,
        features: &Features,
        chunks: &[Span],
        first: u16,
        pinned: usize,
    ) -> Result<PinCharge, Refused> {
        if !features.sparse_buffers {
            return Err(Refused::clean(UringError::Unsupported {
                feature: "a sparse registered-buffer table (IORING_REGISTER_BUFFERS2)",
                since: "5.13",
            }));
        }
        if !self.reserved {
            uring.submitter().register_buffers_sparse(u32::from(self.size)).map_err(|e| {
                Refused::clean(UringError::os("IORING_REGISTER_BUFFERS2 (sparse)", e))
            })?;
            self.reserved = true;
        }
        let charge = memlock::charge(pinned).map_err(Refused::clean)?;
        for (offset, chunk) in (0u16..).zip(chunks) {
            let iovec = [libc::iovec { iov_base: chunk.as_ptr().cast(), iov_len: chunk.len() }];
            // SAFETY: the chunk lies inside memory that the caller's Registration keeps alive,
            // and this table holds that Registration until the ring is closed — or, when the
            // registration fails with slots left naming it, keeps it all the same (module docs).
            let installed = unsafe {
                uring.submitter().register_buffers_update(u32::from(first + offset), &iovec, None)
            };
            if let Err(err) = installed {
                let error = match err.raw_os_error() {
                    Some(libc::ENOMEM) => memlock::refused_by_kernel(pinned),
                    _ => UringError::os("IORING_REGISTER_BUFFERS_UPDATE", err),
                };
                return Err(match self.empty(uring, first, offset) {
                    Ok(()) => Refused::clean(error),
                    Err(_) => {
                        self.mark_used(first, offset);
                        Refused { error, stale: Some(charge) }
                    }
                });
            }
        }
        self.mark_used(first, chunks.len() as u16);
        Ok(charge)
    }

    /// Empties `count` slots from `first` in the kernel's table (NULL/0 entries), one update
    /// per slot so that none can fail unnoticed.
    fn empty(&self, uring: &IoUring, first: u16, count: u16) -> std::io::Result<()> {
        let empty = [libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 }];
        for slot in first..first + count {
            // SAFETY: a NULL/0 entry names no memory; it empties the slot.
            unsafe { uring.submitter().register_buffers_update(u32::from(slot), &empty, None) }?;
        }
        Ok(())
    }

    /// Marks `count` slots from `first` as used.
    fn mark_used(&mut self, first: u16, count: u16) {
        let range = usize::from(first)..usize::from(first) + usize::from(count);
        self.used[range].iter_mut().for_each(|used| *used = true);
    }

    /// Slots in use.
    pub(crate) fn used(&self) -> usize {
        self.used.iter().filter(|&&used| used).count()
    }
}

#[cfg(test)]
mod tests {
    use std::ptr::NonNull;

    use super::*;

    const GIB: usize = MAX_REGISTERED_CHUNK;

    fn span(address: usize, len: usize) -> Span {
        Span::new(NonNull::new(address as *mut u8).unwrap(), len, 4096)
    }

    fn strided(address: usize, len: usize, stride: usize) -> Span {
        span(address, len).with_stride(stride)
    }

    #[test]
    fn small_span_is_one_chunk() {
        let (layout, chunks) = plan(&[strided(0x10000, 1 << 20, 4096)]).unwrap();
        assert_eq!(chunks, vec![strided(0x10000, 1 << 20, 4096)]);
        assert_eq!(layout[0].first, 0);
    }

    #[test]
    fn chunks_split_at_stride_multiples_below_one_gib() {
        // A 3 MiB stride does not divide 1 GiB: chunks are 341 buffers (1023 MiB) long.
        let stride = 3 << 20;
        let len = 1000 * stride;
        let (_, chunks) = plan(&[strided(GIB, len, stride)]).unwrap();
        let chunk_len = GIB / stride * stride;
        assert_eq!(chunk_len, 341 * stride);
        assert_eq!(chunks.len(), 3);
        assert!(chunks.iter().all(|c| c.len() <= GIB && (c.start() - GIB) % stride == 0));
        assert_eq!(chunks.iter().map(Span::len).sum::<usize>(), len);
        // No buffer straddles: every buffer start + stride stays within its chunk.
        for buffer in 0..1000 {
            let start = GIB + buffer * stride;
            let chunk = chunks.iter().find(|c| c.start() <= start && start < c.end()).unwrap();
            assert!(start + stride <= chunk.end(), "buffer {buffer} straddles");
        }
    }

    #[test]
    fn without_a_stride_chunks_are_one_gib() {
        let (_, chunks) = plan(&[span(GIB, 2 * GIB + 4096)]).unwrap();
        let lens: Vec<_> = chunks.iter().map(Span::len).collect();
        assert_eq!(lens, vec![GIB, GIB, 4096]);
    }

    #[test]
    fn a_stride_over_one_gib_is_refused() {
        let err = plan(&[strided(GIB, 4 * GIB, 2 * GIB)]).unwrap_err();
        assert!(matches!(err, UringError::StrideTooLarge { stride } if stride == 2 * GIB));
    }

    #[test]
    fn several_spans_take_consecutive_slots() {
        let (layout, chunks) = plan(&[span(GIB, 2 * GIB), span(8 * GIB, 4096)]).unwrap();
        assert_eq!(chunks.len(), 3);
        assert_eq!((layout[0].first, layout[1].first), (0, 2));
    }

    fn registration(spans: &[Span], first_slot: u16) -> Registration {
        let (spans, chunks) = plan(spans).unwrap();
        Registration {
            inner: Arc::new(Inner {
                spans,
                chunks,
                pinned: 0,
                first_slot: Some(first_slot),
                fallback: None,
                _memory: Box::new(()),
            }),
        }
    }

    #[test]
    fn buf_index_maps_addresses_to_slots() {
        let reg = registration(&[span(GIB, 2 * GIB), span(8 * GIB, 8192)], 10);
        assert_eq!(reg.slots(), 10..13);
        let at = |address: usize| address as *const u8;
        assert_eq!(reg.buf_index(at(GIB), 4096), Some(10));
        assert_eq!(reg.buf_index(at(2 * GIB - 4096), 4096), Some(10));
        assert_eq!(reg.buf_index(at(2 * GIB), 4096), Some(11));
        assert_eq!(reg.buf_index(at(8 * GIB + 4096), 4096), Some(12));
        // Outside every span, or straddling a chunk boundary: no index (plain I/O).
        assert_eq!(reg.buf_index(at(GIB - 1), 1), None);
        assert_eq!(reg.buf_index(at(8 * GIB + 8192), 1), None);
        assert_eq!(reg.buf_index(at(2 * GIB - 2048), 4096), None);
    }

    #[test]
    fn free_run_finds_the_first_fit() {
        let mut table = SlotTable::new(8);
        assert_eq!(table.free_run(8), Some(0));
        assert_eq!(table.free_run(9), None);
        table.used[1] = true;
        table.used[4] = true;
        assert_eq!(table.free_run(1), Some(0));
        assert_eq!(table.free_run(2), Some(2));
        assert_eq!(table.free_run(3), Some(5));
        assert_eq!(table.free_run(4), None);
        assert_eq!(table.used(), 2);
    }
}
