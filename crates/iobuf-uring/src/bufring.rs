//! Provided buffer rings (5.19): buffers the kernel picks from when data arrives.
//!
//! A ring of N entries (a power of two ≤ 32768, page-aligned memory from iobuf-align) is
//! registered under a buffer group id and filled with N buffers taken from a pool. A
//! buffer-select completion names a buffer id; it becomes a [`ProvidedBuf`] that dereferences to
//! the received bytes and puts the buffer back in the ring when dropped, from any thread. With
//! incremental consumption (`IOU_PBUF_RING_INC`, 6.12) the kernel fills a buffer piece by piece
//! across completions; each piece is its own `ProvidedBuf`, and the buffer goes back once the
//! kernel is done with it and every piece has been dropped.
//!
//! # Safety
//!
//! This module owns two obligations. The ring memory, which the kernel shares: we write it
//! only here, by the single producer holding `Shared::producer`'s lock, only the entry at
//! `tail & mask`, and only before publishing the new tail with a release store. The kernel owns
//! the entries from its head up to our tail; at most N buffers exist for a ring of at least N
//! entries, so the entry at our tail is never one of them while it holds a buffer. The kernel
//! reads entries at its head — and with incremental consumption (`IOU_PBUF_RING_INC`) also
//! writes the head entry's `addr` and `len` as it uses the buffer piece by piece — but that
//! entry holds a buffer still in the ring, which we do not write again until the kernel has
//! moved its head past it and handed the buffer back (a completion without `BUF_MORE`). So no
//! entry is written by both sides at once. The kernel never writes `resv`, whose copy in entry
//! 0 is our tail. The memory stays allocated until the group is unregistered (the
//! [`Ring`](crate::Ring) does that in its drop, after every operation completed).
//!
//! The buffer memory: a [`ProvidedBuf`] reads bytes the kernel finished writing before it
//! posted the completion, and the buffer is handed back to the kernel only when its holder
//! count — the kernel's reference plus one per live `ProvidedBuf` — reaches zero.
#![allow(unsafe_code)] // reason: shared ring memory and buffer bytes (see module docs).

use std::any::Any;
use std::fmt;
use std::mem::offset_of;
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use io_uring::{IoUring, cqueue};
use iobuf_align::AlignedBlock;

use crate::{IoBuf, UringError};

/// Most entries a buffer ring may have (the kernel's limit).
///
/// # Examples
///
/// ```
/// assert_eq!(iobuf_uring::MAX_BUF_RING_ENTRIES, 32768);
/// ```
pub const MAX_BUF_RING_ENTRIES: usize = 1 << 15;

/// `IOU_PBUF_RING_INC` (6.12): consume buffers incrementally.
const IOU_PBUF_RING_INC: u16 = 2;

/// `struct io_uring_buf`; the `resv` field of entry 0 is the ring's tail.
#[repr(C)]
struct RawEntry {
    addr: u64,
    len: u32,
    bid: u16,
    resv: u16,
}

/// A field of a ring entry, without creating a reference to memory the kernel shares.
fn field<T>(entry: *mut RawEntry, offset: usize) -> *mut T {
    entry.cast::<u8>().wrapping_add(offset).cast()
}

static_assertions::assert_eq_size!(RawEntry, [u8; 16]);
static_assertions::assert_eq_size!(RawEntry, io_uring::types::BufRingEntry);
static_assertions::const_assert_eq!(offset_of!(RawEntry, resv), 14);

/// N buffers to provide to the kernel under one buffer group id.
///
/// # Examples
///
/// ```
/// use iobuf_pool::BufferPool;
/// use iobuf_uring::{BufRing, Ring};
///
/// # match iobuf_uring::probe() { Ok(f) if f.buf_ring => {}, _ => return Ok(()) }
/// let pool = BufferPool::builder(2048).capacity(16).build()?;
/// let bufs = (0..16).map(|_| pool.try_get()).collect::<Result<Vec<_>, _>>()?;
/// let mut ring = Ring::<iobuf_pool::Buf>::new(8)?;
/// let group = ring.add_buf_ring(BufRing::new(0, bufs).incremental(true))?;
/// assert_eq!((group.id(), group.buffers()), (0, 16));
/// println!("incremental consumption: {}", group.is_incremental());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct BufRing<T> {
    group: u16,
    bufs: Vec<T>,
    incremental: bool,
}

impl<T: IoBuf> BufRing<T> {
    /// The buffers `bufs` under group id `group`. Each buffer is provided whole (its capacity).
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::BufferPool;
    /// let pool = BufferPool::builder(4096).capacity(2).build()?;
    /// let ring = iobuf_uring::BufRing::new(7, vec![pool.try_get()?, pool.try_get()?]);
    /// assert!(format!("{ring:?}").contains("buffers: 2"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(group: u16, bufs: Vec<T>) -> Self {
        Self { group, bufs, incremental: false }
    }

    /// Asks for incremental consumption (6.12): small messages share a buffer instead of each
    /// taking a whole one. Ignored on kernels without it; [`BufGroup::is_incremental`] says
    /// which mode was set up.
    ///
    /// # Examples
    ///
    /// ```
    /// # let pool = iobuf_pool::BufferPool::builder(4096).capacity(1).build()?;
    /// let ring = iobuf_uring::BufRing::new(7, vec![pool.try_get()?]).incremental(true);
    /// assert!(format!("{ring:?}").contains("incremental: true"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn incremental(mut self, incremental: bool) -> Self {
        self.incremental = incremental;
        self
    }
}

impl BufRing<iobuf_pool::Buf> {
    /// `count` buffers taken from `pool` (one tier), under group id `group`.
    ///
    /// # Errors
    ///
    /// [`PoolError`](iobuf_pool::PoolError) when the pool has fewer than `count` free buffers
    /// (those taken go back).
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{BufferPool, Tier};
    /// use iobuf_uring::{BufRing, Ring};
    ///
    /// # match iobuf_uring::probe() { Ok(f) if f.buf_ring => {}, _ => return Ok(()) }
    /// let pool = BufferPool::for_tier(Tier::Small, 64)?;
    /// let mut ring = Ring::<iobuf_pool::Buf>::new(8)?;
    /// let group = ring.add_buf_ring(BufRing::from_pool(3, &pool, 64)?)?;
    /// assert_eq!(group.buffers(), 64);
    /// assert!(pool.try_get().is_err(), "all 64 are provided to the kernel");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_pool(
        group: u16,
        pool: &iobuf_pool::BufferPool,
        count: usize,
    ) -> Result<Self, iobuf_pool::PoolError> {
        let bufs = (0..count).map(|_| pool.try_get()).collect::<Result<Vec<_>, _>>()?;
        Ok(BufRing::new(group, bufs))
    }
}

impl<T> fmt::Debug for BufRing<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufRing")
            .field("group", &self.group)
            .field("buffers", &self.bufs.len())
            .field("incremental", &self.incremental)
            .finish()
    }
}

/// A registered buffer group: what buffer-select operations name.
///
/// # Examples
///
/// ```
/// # match iobuf_uring::probe() { Ok(f) if f.buf_ring => {}, _ => return Ok(()) }
/// let pool = iobuf_pool::BufferPool::builder(4096).capacity(4).build()?;
/// let bufs = (0..4).map(|_| pool.try_get()).collect::<Result<Vec<_>, _>>()?;
/// let mut ring = iobuf_uring::Ring::<iobuf_pool::Buf>::new(8)?;
/// let group = ring.add_buf_ring(iobuf_uring::BufRing::new(9, bufs))?;
/// assert_eq!((group.id(), group.buffers(), group.is_incremental()), (9, 4, false));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BufGroup {
    id: u16,
    buffers: u16,
    incremental: bool,
}

impl BufGroup {
    /// The buffer group id.
    ///
    /// # Examples
    ///
    /// ```
    /// # match iobuf_uring::probe() { Ok(f) if f.buf_ring => {}, _ => return Ok(()) }
    /// let pool = iobuf_pool::BufferPool::builder(4096).capacity(4).build()?;
    /// let bufs = (0..4).map(|_| pool.try_get()).collect::<Result<Vec<_>, _>>()?;
    /// let mut ring = iobuf_uring::Ring::<iobuf_pool::Buf>::new(8)?;
    /// let group = ring.add_buf_ring(iobuf_uring::BufRing::new(9, bufs))?;
    /// assert_eq!((group.id(), group.buffers(), group.is_incremental()), (9, 4, false));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn id(self) -> u16 {
        self.id
    }

    /// Number of buffers in the group.
    ///
    /// # Examples
    ///
    /// ```
    /// # match iobuf_uring::probe() { Ok(f) if f.buf_ring => {}, _ => return Ok(()) }
    /// let pool = iobuf_pool::BufferPool::builder(4096).capacity(4).build()?;
    /// let bufs = (0..4).map(|_| pool.try_get()).collect::<Result<Vec<_>, _>>()?;
    /// let mut ring = iobuf_uring::Ring::<iobuf_pool::Buf>::new(8)?;
    /// let group = ring.add_buf_ring(iobuf_uring::BufRing::new(9, bufs))?;
    /// assert_eq!((group.id(), group.buffers(), group.is_incremental()), (9, 4, false));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn buffers(self) -> usize {
        usize::from(self.buffers)
    }

    /// Whether the kernel consumes its buffers incrementally.
    ///
    /// # Examples
    ///
    /// ```
    /// # match iobuf_uring::probe() { Ok(f) if f.buf_ring => {}, _ => return Ok(()) }
    /// let pool = iobuf_pool::BufferPool::builder(4096).capacity(4).build()?;
    /// let bufs = (0..4).map(|_| pool.try_get()).collect::<Result<Vec<_>, _>>()?;
    /// let mut ring = iobuf_uring::Ring::<iobuf_pool::Buf>::new(8)?;
    /// let group = ring.add_buf_ring(iobuf_uring::BufRing::new(9, bufs))?;
    /// assert_eq!((group.id(), group.buffers(), group.is_incremental()), (9, 4, false));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_incremental(self) -> bool {
        self.incremental
    }
}

/// The producer side of the ring: our tail, and whether the ring is still registered.
struct Producer {
    tail: u16,
    retired: bool,
}

/// What a group's [`ProvidedBuf`]s share with the ring.
struct Shared {
    group: u16,
    /// First entry of the ring memory (inside `_ring_memory`).
    entries: NonNull<RawEntry>,
    mask: u16,
    /// (address, length) of each buffer, by buffer id.
    bufs: Box<[(usize, u32)]>,
    /// Per buffer id: the kernel's reference (1 while provided) + live `ProvidedBuf`s.
    holders: Box<[AtomicU32]>,
    producer: Mutex<Producer>,
    _ring_memory: AlignedBlock,
    /// The handles owning the buffer memory; only ever dropped.
    _owners: Mutex<Box<dyn Any + Send>>,
}

// SAFETY: `entries` is written only under `producer`'s lock (module docs); everything else is
// atomics, immutable data, or locked.
unsafe impl Send for Shared {}
// SAFETY: as above.
unsafe impl Sync for Shared {}

impl Shared {
    /// The tail field the kernel reads (the `resv` of entry 0).
    fn tail(&self) -> &AtomicU16 {
        // SAFETY: `entries` points at the live, 16-byte-aligned ring memory; `resv` of entry 0
        // is a naturally aligned u16 that the kernel only reads (incremental consumption writes
        // the head entry's `addr` and `len`, never `resv`); every write to it goes through this
        // atomic.
        unsafe { AtomicU16::from_ptr(field(self.entries.as_ptr(), offset_of!(RawEntry, resv))) }
    }

    /// Hands buffer `bid` to the kernel at the tail.
    fn provide(&self, producer: &mut Producer, bid: u16) {
        let (addr, len) = self.bufs[usize::from(bid)];
        let entry = self.entries.as_ptr().wrapping_add(usize::from(producer.tail & self.mask));
        // SAFETY: `entry` is inside the ring memory; the kernel neither reads it until the tail
        // store below nor writes it (it writes only the head entry, which is never ours at the
        // tail while it holds a buffer), and we hold the producer lock (module docs). Field-wise
        // raw writes leave `resv` — entry 0's copy is the tail — untouched.
        unsafe { field::<u64>(entry, offset_of!(RawEntry, addr)).write(addr as u64) };
        // SAFETY: as above.
        unsafe { field::<u32>(entry, offset_of!(RawEntry, len)).write(len) };
        // SAFETY: as above.
        unsafe { field::<u16>(entry, offset_of!(RawEntry, bid)).write(bid) };
        self.holders[usize::from(bid)].store(1, Ordering::Relaxed);
        producer.tail = producer.tail.wrapping_add(1);
        self.tail().store(producer.tail, Ordering::Release);
    }

    /// Drops one holder of `bid`; the last one puts the buffer back in the ring.
    fn release(&self, bid: u16) {
        if self.holders[usize::from(bid)].fetch_sub(1, Ordering::AcqRel) == 1 {
            let mut producer = self.producer.lock().unwrap_or_else(PoisonError::into_inner);
            if !producer.retired {
                self.provide(&mut producer, bid);
            }
        }
    }
}

/// A buffer of a buffer ring holding received bytes; back to the ring when dropped.
///
/// Dereferences to the bytes received (for incremental rings, this completion's piece of the
/// buffer). `Send + Sync`: drop it on any thread. It is an [`IoBuf`] too, whose capacity is
/// the piece: write it back out (an echo, a proxy) without copying, on a `Ring<ProvidedBuf>`,
/// and it returns to its buffer ring when the write's completion is dropped.
///
/// # Examples
///
/// ```
/// use std::io::Write as _;
/// use std::os::unix::net::UnixStream;
/// use iobuf_uring::{BufRing, Completion, ProvidedBuf, Ring, ops::{RecvSelect, Write}};
/// # match iobuf_uring::probe() { Ok(f) if f.buf_ring => {}, _ => return Ok(()) }
/// let pool = iobuf_pool::BufferPool::builder(4096).capacity(2).build()?;
/// let mut ring = Ring::<ProvidedBuf>::new(8)?;
/// let group = ring.add_buf_ring(BufRing::new(1, vec![pool.try_get()?, pool.try_get()?]))?;
/// let (mut client, server) = UnixStream::pair()?;
/// client.write_all(b"echo")?;
/// ring.push(RecvSelect::new(&server, group))?;
/// let Completion::Selected { result, .. } = ring.wait()? else { unreachable!() };
/// let received = result?.expect("four bytes");
/// assert_eq!(&*received, b"echo");
/// ring.push(Write::new(&server, received))?; // written back from the same buffer
/// let (written, buf) = ring.wait()?.into_buf().unwrap();
/// assert_eq!(written?, 4);
/// drop(buf); // back to the buffer ring
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ProvidedBuf {
    shared: Arc<Shared>,
    bid: u16,
    offset: u32,
    len: u32,
    filled: u32,
}

impl ProvidedBuf {
    /// The buffer id within its group.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn f(buf: iobuf_uring::ProvidedBuf) {
    /// println!("buffer {} of group {}", buf.buffer_id(), buf.group());
    /// # }
    /// ```
    pub fn buffer_id(&self) -> u16 {
        self.bid
    }

    /// The buffer group id.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn f(buf: iobuf_uring::ProvidedBuf) {
    /// println!("group {} buffer {}", buf.group(), buf.buffer_id());
    /// # }
    /// ```
    pub fn group(&self) -> u16 {
        self.shared.group
    }

    /// Where this piece starts within the buffer (non-zero only for incremental rings).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn f(buf: iobuf_uring::ProvidedBuf) {
    /// assert!(buf.offset() + buf.len() <= 1 << 20);
    /// # }
    /// ```
    pub fn offset(&self) -> usize {
        self.offset as usize
    }
}

impl ProvidedBuf {
    /// First byte of this piece.
    fn start(&self) -> *mut u8 {
        let (addr, _) = self.shared.bufs[usize::from(self.bid)];
        (addr + self.offset as usize) as *mut u8
    }
}

impl Deref for ProvidedBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: the kernel wrote these bytes before posting the completion we built this
        // from, and writes none of the piece again until this holder is dropped (module
        // docs); the owners in `shared` keep the memory alive.
        unsafe { std::slice::from_raw_parts(self.start(), self.filled as usize) }
    }
}

// SAFETY: the piece `[offset, offset + len)` of buffer `bid` belongs to this holder alone until
// it is dropped (module docs): the kernel does not write it and no other holder covers it; the
// address is fixed and the memory lives in `shared`; `filled <= len` is kept by `set_filled`.
unsafe impl IoBuf for ProvidedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.start()
    }

    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.start()
    }

    fn capacity(&self) -> usize {
        self.len as usize
    }

    fn filled(&self) -> usize {
        self.filled as usize
    }

    fn set_filled(&mut self, n: usize) {
        assert!(n <= self.len as usize, "filled {n} > capacity {}", self.len);
        self.filled = n as u32;
    }
}

impl Drop for ProvidedBuf {
    fn drop(&mut self) {
        self.shared.release(self.bid);
    }
}

impl fmt::Debug for ProvidedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProvidedBuf")
            .field("group", &self.shared.group)
            .field("bid", &self.bid)
            .field("offset", &self.offset)
            .field("len", &self.len)
            .field("filled", &self.filled)
            .finish()
    }
}

/// A registered group as the ring keeps it.
pub(crate) struct GroupEntry {
    shared: Arc<Shared>,
    /// Incremental mode: bytes of each buffer the kernel has consumed so far. Touched only by
    /// the ring's completion path (`&mut Ring`).
    consumed: Option<Box<[u32]>>,
    pub(crate) group: BufGroup,
}

impl GroupEntry {
    /// Registers `ring` with `uring` and provides every buffer.
    pub(crate) fn register<T: IoBuf>(
        uring: &IoUring,
        ring: BufRing<T>,
        incremental_supported: bool,
    ) -> Result<Self, UringError> {
        let BufRing { group, mut bufs, incremental } = ring;
        let count = bufs.len();
        if count == 0 || count > MAX_BUF_RING_ENTRIES {
            return Err(UringError::InvalidBufRing { reason: "needs 1 to 32768 buffers" });
        }
        let layout: Box<[(usize, u32)]> = bufs
            .iter_mut()
            .map(|b| Ok((b.stable_mut_ptr() as usize, u32::try_from(b.capacity())?)))
            .collect::<Result<_, std::num::TryFromIntError>>()
            .map_err(|_| UringError::InvalidBufRing { reason: "a buffer is larger than 4 GiB" })?;
        if layout.iter().any(|&(_, len)| len == 0) {
            return Err(UringError::InvalidBufRing { reason: "a buffer is empty" });
        }
        let entries = count.next_power_of_two();
        let bytes = (entries * size_of::<RawEntry>()).max(iobuf_align::page_size());
        let mut memory = AlignedBlock::page_aligned(bytes).map_err(|_| {
            UringError::os("buffer ring memory", std::io::ErrorKind::OutOfMemory.into())
        })?;
        let base = NonNull::new(memory.as_mut_ptr().cast::<RawEntry>()).expect("allocation");
        let incremental = incremental && incremental_supported;
        let flags = if incremental { IOU_PBUF_RING_INC } else { 0 };
        // `entries` ≤ 32768 fits u16 (checked above).
        let ring_entries = entries as u16;
        // SAFETY: `base` is page-aligned memory for `entries` entries, zeroed (so the tail
        // starts at 0) and owned by `shared` below, which the Ring unregisters before it drops
        // its reference (module docs).
        unsafe {
            uring.submitter().register_buf_ring_with_flags(
                base.as_ptr() as u64,
                ring_entries,
                group,
                flags,
            )
        }
        .map_err(|err| match err.raw_os_error() {
            Some(libc::EEXIST) => UringError::GroupTaken { group },
            _ => UringError::os("IORING_REGISTER_PBUF_RING", err),
        })?;
        let shared = Arc::new(Shared {
            group,
            entries: base,
            mask: (entries - 1) as u16,
            holders: (0..count).map(|_| AtomicU32::new(0)).collect(),
            bufs: layout,
            producer: Mutex::new(Producer { tail: 0, retired: false }),
            _ring_memory: memory,
            _owners: Mutex::new(Box::new(bufs)),
        });
        {
            let mut producer = shared.producer.lock().unwrap_or_else(PoisonError::into_inner);
            for bid in 0..count {
                shared.provide(&mut producer, bid as u16);
            }
        }
        let consumed = incremental.then(|| vec![0; count].into_boxed_slice());
        let group = BufGroup { id: group, buffers: count as u16, incremental };
        Ok(Self { shared, consumed, group })
    }

    /// The buffer a completion with `flags` and result `res` names, as a holder.
    ///
    /// `None` for a completion without a buffer id, and for a zero-length result: that
    /// holder is dropped at once, which recycles the buffer unless the kernel keeps it
    /// (`BUF_MORE`). Failed completions that name a buffer come here with `res` 0.
    pub(crate) fn take(&mut self, res: i32, flags: u32) -> Option<ProvidedBuf> {
        let bid = cqueue::buffer_select(flags)?;
        let index = usize::from(bid);
        if index >= self.shared.bufs.len() {
            debug_assert!(
                false,
                "kernel named buffer {bid} of a {}-buffer group",
                self.shared.bufs.len()
            );
            return None;
        }
        let len = u32::try_from(res).unwrap_or(0);
        let offset = match &mut self.consumed {
            None => 0,
            Some(consumed) => {
                let offset = consumed[index];
                if cqueue::buffer_more(flags) {
                    // The kernel keeps the rest of the buffer: one more holder for this piece.
                    consumed[index] = offset + len;
                    self.shared.holders[index].fetch_add(1, Ordering::Relaxed);
                } else {
                    consumed[index] = 0;
                }
                offset
            }
        };
        // Without BUF_MORE the kernel's reference passes to this holder.
        let piece = ProvidedBuf { shared: Arc::clone(&self.shared), bid, offset, len, filled: len };
        if len == 0 {
            // Nothing to read: drop the holder now, which recycles a finished buffer.
            drop(piece);
            return None;
        }
        Some(piece)
    }

    /// Unregisters the ring from the kernel; recycling stops, the memory lives on with the
    /// last [`ProvidedBuf`].
    pub(crate) fn retire(&self, uring: &IoUring) {
        let mut producer = self.shared.producer.lock().unwrap_or_else(PoisonError::into_inner);
        producer.retired = true;
        // Failure would mean the group is already gone; nothing more to do either way.
        let _ = uring.submitter().unregister_buf_ring(self.shared.group);
    }
}

/// Whether the kernel takes buffer rings, and incremental ones, tried on `uring` (which must
/// have no buffer groups 0xfff0 and 0xfff1).
pub(crate) fn probe_support(uring: &IoUring) -> (bool, bool) {
    let Ok(mut memory) = AlignedBlock::page_aligned(iobuf_align::page_size()) else {
        return (false, false);
    };
    let address = memory.as_mut_ptr() as u64;
    let mut still_registered = false;
    let mut try_flags = |group: u16, flags: u16| {
        // SAFETY: one zeroed, page-aligned entry that outlives the registration: it is
        // unregistered right below, or leaked if that fails.
        let ok =
            unsafe { uring.submitter().register_buf_ring_with_flags(address, 1, group, flags) }
                .is_ok();
        if ok && uring.submitter().unregister_buf_ring(group).is_err() {
            still_registered = true;
        }
        ok
    };
    let plain = try_flags(0xfff0, 0);
    let incremental = plain && try_flags(0xfff1, IOU_PBUF_RING_INC);
    if still_registered {
        // The kernel may still read it: never free it.
        std::mem::forget(memory);
    }
    (plain, incremental)
}
