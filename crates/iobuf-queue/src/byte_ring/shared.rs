//! The counter core both halves share: two counters, a state word, the memory, and (with `std`)
//! one parker per waiting direction.
//!
//! # Safety
//!
//! This module owns the *bounds* obligation: [`Shared::parts`] and [`Shared::parts_mut`] build
//! slices only inside the ring's memory — at most `capacity` bytes from `base()`, and on a plain
//! ring never past its end (a region that crosses the seam is split in two), while on a mirrored
//! ring one window of at most `capacity` bytes may run into the second view, which
//! `MirroredRegion` allows. The *exclusivity* obligation (no two live slices overlap) is the
//! callers': it is the contract of those two `unsafe fn`s, discharged by the counter protocol in
//! the producer and consumer modules.
#![allow(unsafe_code)] // reason: slices over the ring's raw memory (see module docs).

#[cfg(iobuf_loom)]
use alloc::vec::Vec;
use core::fmt;

use iobuf_align::CachePadded;

use super::memory::RingMemory;
#[cfg(feature = "std")]
use super::wait::Parker;
use crate::sync::{AtomicU32, AtomicU64, Ordering};

/// One of the two halves; names the counter it owns and the bits it sets in the state word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Producer,
    Consumer,
}

impl Side {
    /// Set in `state` once this side's half is dropped.
    pub(crate) const fn closed_bit(self) -> u32 {
        match self {
            Self::Producer => 1,
            Self::Consumer => 1 << 1,
        }
    }

    /// Set in `state` while this side's half is parked waiting on the other side.
    #[cfg(feature = "std")]
    pub(crate) const fn waiter_bit(self) -> u32 {
        match self {
            Self::Producer => 1 << 2,
            Self::Consumer => 1 << 3,
        }
    }

    #[cfg(feature = "std")]
    pub(crate) const fn other(self) -> Self {
        match self {
            Self::Producer => Self::Consumer,
            Self::Consumer => Self::Producer,
        }
    }
}

/// What the two halves share behind one `Arc`.
pub(crate) struct Shared<M> {
    /// Bytes the producer has committed since creation (plus the start offset), wrapping at
    /// 2^64. Only the producer changes it.
    write: CachePadded<AtomicU64>,
    /// Bytes the consumer has consumed, likewise. Only the consumer changes it. Invariant:
    /// `write - read` (wrapping) is in `0..=capacity`.
    read: CachePadded<AtomicU64>,
    /// `Side::closed_bit`s and `Side::waiter_bit`s. Written only to close or to wait, so while
    /// nobody waits both halves keep its line shared and reading it costs no traffic.
    state: CachePadded<AtomicU32>,
    capacity: usize,
    memory: M,
    /// The producer parks here for space.
    #[cfg(feature = "std")]
    space: Parker,
    /// The consumer parks here for data.
    #[cfg(feature = "std")]
    data: Parker,
    /// Under loom, one cell per byte, touched whenever a half is handed that byte, so loom checks
    /// that each hand-over of a byte happens-after the other half was done with it.
    #[cfg(iobuf_loom)]
    shadow: Vec<crate::sync::UnsafeCell<()>>,
}

impl<M: RingMemory> Shared<M> {
    /// Shares `memory`, of which the ring uses the first `capacity` bytes (a power of two), with
    /// both counters at `start`.
    pub(crate) fn new(memory: M, capacity: usize, start: u64) -> Self {
        debug_assert!(capacity.is_power_of_two() && capacity <= memory.len());
        Self {
            write: CachePadded::new(AtomicU64::new(start)),
            read: CachePadded::new(AtomicU64::new(start)),
            state: CachePadded::new(AtomicU32::new(0)),
            capacity,
            memory,
            #[cfg(feature = "std")]
            space: Parker::default(),
            #[cfg(feature = "std")]
            data: Parker::default(),
            #[cfg(iobuf_loom)]
            shadow: (0..capacity).map(|_| crate::sync::UnsafeCell::new(())).collect(),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// The counter `side` owns.
    pub(crate) fn counter(&self, side: Side) -> &AtomicU64 {
        match side {
            Side::Producer => &self.write,
            Side::Consumer => &self.read,
        }
    }

    /// Whether `side`'s half has been dropped. `Acquire`: once this says yes, `side`'s counter
    /// is final and a load of it sees the last value.
    pub(crate) fn is_closed(&self, side: Side) -> bool {
        self.state.load(Ordering::Acquire) & side.closed_bit() != 0
    }

    /// Publishes `side`'s counter as `value` and wakes the other side if it is parked.
    ///
    /// With `std` the publication is a `swap`, not a store: a waiter sets its bit and then reads
    /// this counter with an RMW (see `wait.rs`), and two RMWs on one location are totally
    /// ordered, so either the waiter sees `value` or this side sees the bit. A plain store
    /// followed by a load could miss both (store buffering). The swap is the only cost over a
    /// plain release store; the bit check is one load of a line nobody writes while no one waits.
    #[inline]
    pub(crate) fn publish(&self, side: Side, value: u64) {
        #[cfg(feature = "std")]
        {
            self.counter(side).swap(value, Ordering::AcqRel);
            let waiter = side.other();
            if self.state.load(Ordering::Acquire) & waiter.waiter_bit() != 0 {
                self.parker(waiter).notify();
            }
        }
        #[cfg(not(feature = "std"))]
        self.counter(side).store(value, Ordering::Release);
    }

    /// Marks `side` dropped and wakes the other side if it is parked. `AcqRel`: ordered after
    /// `side`'s last publication, and one RMW on the state word, ordered against the waiter's.
    pub(crate) fn close(&self, side: Side) {
        #[cfg_attr(not(feature = "std"), allow(unused_variables))] // reason: only waiters need it.
        let before = self.state.fetch_or(side.closed_bit(), Ordering::AcqRel);
        #[cfg(feature = "std")]
        if before & side.other().waiter_bit() != 0 {
            self.parker(side.other()).notify();
        }
    }

    /// The state word, for the wait protocol.
    #[cfg(feature = "std")]
    pub(crate) fn state(&self) -> &AtomicU32 {
        &self.state
    }

    /// Where `side` parks.
    #[cfg(feature = "std")]
    pub(crate) fn parker(&self, side: Side) -> &Parker {
        match side {
            Side::Producer => &self.space,
            Side::Consumer => &self.data,
        }
    }

    /// The ring offset of counter value `position`.
    fn offset(&self, position: u64) -> usize {
        // Truncation is the point: capacity is a power of two no larger than usize::MAX.
        (position & (self.capacity as u64 - 1)) as usize
    }

    /// Where the `len` bytes from counter value `start` lie: `(offset, first, second)` with
    /// `first + second == len`; `second` is non-zero only on a plain ring whose region crosses
    /// the seam.
    fn layout(&self, start: u64, len: usize) -> (usize, usize, usize) {
        debug_assert!(len <= self.capacity);
        let offset = self.offset(start);
        let first = if M::MIRRORED { len } else { len.min(self.capacity - offset) };
        (offset, first, len - first)
    }

    /// The `len` bytes from counter value `start`, as up to two slices in ring order (the second
    /// is empty unless a plain ring's region crosses the seam).
    ///
    /// # Safety
    ///
    /// `len <= capacity`, and for as long as the returned slices live nobody writes those bytes:
    /// the caller holds them by the counter protocol (they lie between `read` and `write`, and
    /// only the consumer calls this).
    pub(crate) unsafe fn parts(&self, start: u64, len: usize) -> [&[u8]; 2] {
        #[cfg(iobuf_loom)]
        self.track(start, len, false);
        let (offset, first, second) = self.layout(start, len);
        let base = self.memory.base().as_ptr();
        // SAFETY: offset + first <= capacity on a plain ring (layout splits at the seam) and
        // first <= capacity from any offset < capacity on a mirrored one (the second view holds
        // the rest); both lie in memory valid for the ring's life, which &self keeps alive. The
        // caller promises no writer for the slice's life.
        let head = unsafe { core::slice::from_raw_parts(base.wrapping_add(offset), first) };
        // SAFETY: `second` bytes from the start of the memory, second < capacity; as above.
        let tail = unsafe { core::slice::from_raw_parts(base, second) };
        [head, tail]
    }

    /// As [`parts`](Self::parts), writable.
    ///
    /// # Safety
    ///
    /// `len <= capacity`, and for as long as the returned slices live nobody else reads or writes
    /// those bytes: the caller holds them by the counter protocol (they lie between `write` and
    /// `read + capacity`, and only the producer calls this).
    #[allow(clippy::mut_from_ref)] // reason: exclusivity comes from the counter protocol; see # Safety.
    pub(crate) unsafe fn parts_mut(&self, start: u64, len: usize) -> [&mut [u8]; 2] {
        #[cfg(iobuf_loom)]
        self.track(start, len, true);
        let (offset, first, second) = self.layout(start, len);
        let base = self.memory.base().as_ptr();
        // SAFETY: bounds as in `parts`; the caller promises no other access for the slice's
        // life, and head and tail are disjoint (head ends at the seam where tail's bytes begin
        // only when second > 0, and first + second <= capacity).
        let head = unsafe { core::slice::from_raw_parts_mut(base.wrapping_add(offset), first) };
        // SAFETY: as above.
        let tail = unsafe { core::slice::from_raw_parts_mut(base, second) };
        [head, tail]
    }

    /// Loom: records an access to each of the `len` bytes from `start`.
    #[cfg(iobuf_loom)]
    fn track(&self, start: u64, len: usize, write: bool) {
        for i in 0..len as u64 {
            let cell = &self.shadow[self.offset(start.wrapping_add(i))];
            if write {
                cell.with_mut(|_| ());
            } else {
                cell.with(|_| ());
            }
        }
    }
}

impl<M> fmt::Debug for Shared<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("capacity", &self.capacity)
            .field("write", &self.write.load(Ordering::Relaxed))
            .field("read", &self.read.load(Ordering::Relaxed))
            .field("state", &self.state.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}
