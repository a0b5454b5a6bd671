//! The index ring: a lock-free bounded MPMC FIFO of `u32` indices, the free list under every
//! iobuf pool. The algorithm is described on [`IndexRing`]; the slot arithmetic lives in
//! [`geometry`].

mod geometry;

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use crossbeam_utils::CachePadded;

use crate::capacity::{self, CapacityError};
use crate::sync::{self, AtomicI64, AtomicU64, Ordering};
use geometry::{Geometry, LANES, UNUSED, precedes};

/// How many times a dequeuer re-reads an empty slot whose enqueuer has claimed it but not yet
/// written it, before closing the slot and moving on. Waiting saves both threads a retry;
/// waiting long is pointless if the enqueuer was preempted. Loom needs only one re-read to
/// explore both outcomes.
const ENQUEUER_WAIT_SPINS: u32 = if cfg!(iobuf_loom) { 1 } else { 32 };

/// One 128-byte block of slots.
#[repr(align(128))]
struct SlotBlock([AtomicU64; LANES]);

impl SlotBlock {
    fn new(mut init: impl FnMut(usize) -> u64) -> Self {
        Self(core::array::from_fn(|lane| AtomicU64::new(init(lane))))
    }
}

/// A lock-free bounded MPMC ring of `u32` indices `< capacity`: the free list of a pool.
///
/// Built either empty ([`new_empty`](Self::new_empty)) or holding every index
/// ([`new_full`](Self::new_full)). [`pop`](Self::pop) takes the oldest index, [`push`](Self::push)
/// returns one; [`pop_many`](Self::pop_many) and [`push_many`](Self::push_many) move a batch with
/// one fetch-and-add on the shared counter. Nothing allocates after construction.
///
/// # Algorithm
///
/// SCQ, the "scalable circular queue" of Ruslan Nikolaev, *A Scalable, Portable, and
/// Memory-Efficient Lock-Free FIFO Queue* (DISC 2019, arXiv:1908.04511), written from the paper
/// and its reference `lfring_cas1.h`:
///
/// - `2n` 64-bit slots for at most `n` indices, so an enqueue always finds room within a lap;
/// - one fetch-and-add on the head (dequeue) or tail (enqueue) claims a position; a position
///   belongs to exactly one dequeuer and one enqueuer per cycle;
/// - every slot is tagged with the cycle it was last used in, so a thread that stalls for a lap
///   can never act on a slot refilled in a later cycle (the ABA trap of value-only rings), and a
///   "safe" bit tells an enqueuer when a dequeuer has already gone past its slot;
/// - a threshold, reset to `3n - 1` by every enqueue and decremented by every failed dequeue
///   (a failed `pop_many` batch counts as one), lets `pop` on an empty ring return after one
///   load and keeps dequeuers from livelocking;
/// - consecutive positions live 128 bytes apart, so neighbouring operations do not share a
///   cache line (nor the adjacent line x86 prefetches with it).
///
/// Departures from `lfring_cas1.h`, all on slow paths or equivalent: a dequeuer that finds an
/// older cycle's entry always writes the slot (even if already unsafe), so that the enqueuer's
/// check of the head is ordered by release/acquire alone; a dequeuer that finds its slot empty
/// waits briefly for the enqueuer only if the tail shows one has claimed the position; an
/// enqueuer first tries its CAS against the word the previous lap leaves, reading the slot only
/// if that fails; and once a dequeue has failed since the last enqueue, a dequeue first checks
/// whether the head has caught up with the tail and, if so, reports empty without claiming a
/// position (SCQ's own empty check, made before the fetch-and-add instead of after it), so
/// polling an empty ring does not write to shared lines.
///
/// # Contract
///
/// The ring holds each index at most once, and never more than `capacity` indices: push only an
/// index that you popped (or, for a ring made empty, that you own) and have not pushed since.
/// Pushing an index twice, or one `≥ capacity` in a release build, is a logic error the ring does
/// not detect: an index may then be handed out twice, and pushes may spin. It never causes
/// undefined behaviour. The pool layer above detects double returns.
///
/// # Progress
///
/// Lock-free: a stalled thread never blocks the others, and some operation always completes.
/// `pop` on an empty ring claims no position once one dequeue has failed since the last
/// enqueue: it returns after reading the threshold, head and tail. The threshold bounds the
/// failed attempts dequeues can make while enqueues are in flight (at most `3n - 1` failed
/// positions after the last enqueue, `n` = [`slot_capacity`](Self::slot_capacity)), after
/// which `pop` returns after one load.
/// `push` of a valid index always succeeds, normally on its first attempt.
///
/// # Examples
///
/// ```
/// use iobuf_queue::IndexRing;
///
/// let free = IndexRing::new_full(4)?;
/// let a = free.pop().unwrap();
/// let b = free.pop().unwrap();
/// assert_eq!((a, b), (0, 1));
/// free.push(a);
/// assert_eq!(free.len(), 3);
///
/// // Indices come back in FIFO order: 2 and 3 were waiting before 0.
/// let mut batch = [0; 8];
/// assert_eq!(free.pop_many(&mut batch), 3);
/// assert_eq!(&batch[..3], &[2, 3, 0]);
/// assert!(free.is_empty());
/// # Ok::<(), iobuf_queue::CapacityError>(())
/// ```
pub struct IndexRing {
    /// Next position to dequeue.
    head: CachePadded<AtomicU64>,
    /// Next position to enqueue.
    tail: CachePadded<AtomicU64>,
    /// Failed dequeues still allowed before the ring counts as empty (negative: empty).
    threshold: CachePadded<AtomicI64>,
    blocks: Box<[SlotBlock]>,
    geometry: Geometry,
    /// `3n - 1`, the value every enqueue restores.
    full_threshold: i64,
    capacity: usize,
    slot_capacity: usize,
}

impl IndexRing {
    /// A ring with room for indices `0..capacity`, holding none of them.
    ///
    /// Allocates `16 × slot_capacity` bytes of slots (at least 128), once.
    ///
    /// # Errors
    ///
    /// [`CapacityError::Zero`] for `capacity == 0`; [`CapacityError::TooLarge`] above
    /// [`MAX_CAPACITY`](crate::MAX_CAPACITY) (2³¹).
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_queue::IndexRing;
    ///
    /// let ring = IndexRing::new_empty(100)?;
    /// assert_eq!(ring.pop(), None);
    /// ring.push(42);
    /// assert_eq!(ring.pop(), Some(42));
    /// # Ok::<(), iobuf_queue::CapacityError>(())
    /// ```
    pub fn new_empty(capacity: usize) -> Result<Self, CapacityError> {
        Self::with_prefix(capacity, 0)
    }

    /// A ring holding every index `0..capacity`; they pop in ascending order first.
    ///
    /// Allocates `16 × slot_capacity` bytes of slots (at least 128), once.
    ///
    /// # Errors
    ///
    /// [`CapacityError::Zero`] for `capacity == 0`; [`CapacityError::TooLarge`] above
    /// [`MAX_CAPACITY`](crate::MAX_CAPACITY) (2³¹).
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_queue::IndexRing;
    ///
    /// let ring = IndexRing::new_full(3)?;
    /// assert_eq!([ring.pop(), ring.pop(), ring.pop(), ring.pop()], [Some(0), Some(1), Some(2), None]);
    /// # Ok::<(), iobuf_queue::CapacityError>(())
    /// ```
    pub fn new_full(capacity: usize) -> Result<Self, CapacityError> {
        Self::with_prefix(capacity, capacity)
    }

    /// A ring holding indices `0..filled` at positions `0..filled`.
    fn with_prefix(capacity: usize, filled: usize) -> Result<Self, CapacityError> {
        capacity::check(capacity)?;
        let slot_capacity = capacity.next_power_of_two();
        let geometry = Geometry::new(slot_capacity);
        let slots = 2 * slot_capacity;
        // Slot word for each flat slot number; positions `0..filled` are in cycle 0.
        let mut initial = Vec::new();
        initial.resize(geometry.blocks() * LANES, UNUSED);
        for pos in 0..filled {
            let (block, lane) = geometry.slot_of(pos as u64);
            initial[block * LANES + lane] = geometry.occupied(pos as u64, pos as u32);
        }
        let blocks = (0..geometry.blocks())
            .map(|block| SlotBlock::new(|lane| initial[block * LANES + lane]))
            .collect();
        debug_assert!(slots <= geometry.blocks() * LANES);
        let full_threshold = 3 * slot_capacity as i64 - 1;
        Ok(Self {
            head: CachePadded::new(AtomicU64::new(0)),
            tail: CachePadded::new(AtomicU64::new(filled as u64)),
            threshold: CachePadded::new(AtomicI64::new(if filled == 0 {
                -1
            } else {
                full_threshold
            })),
            blocks,
            geometry,
            full_threshold,
            capacity,
            slot_capacity,
        })
    }

    /// The capacity asked for: valid indices are `0..capacity()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let ring = iobuf_queue::IndexRing::new_empty(100)?;
    /// assert_eq!(ring.capacity(), 100);
    /// # Ok::<(), iobuf_queue::CapacityError>(())
    /// ```
    #[inline]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The capacity rounded up to a power of two: the ring's real size, `n`, which sets its
    /// memory (`2n` slots of 8 bytes) and its threshold (`3n - 1`). Indices
    /// `capacity()..slot_capacity()` are still invalid.
    ///
    /// # Examples
    ///
    /// ```
    /// let ring = iobuf_queue::IndexRing::new_empty(100)?;
    /// assert_eq!(ring.slot_capacity(), 128);
    /// # Ok::<(), iobuf_queue::CapacityError>(())
    /// ```
    #[inline]
    pub fn slot_capacity(&self) -> usize {
        self.slot_capacity
    }

    /// Takes the oldest index, or `None` if the ring is empty.
    ///
    /// Acquires what the thread that pushed the index released: whatever it wrote before its
    /// `push` is visible after this `pop`.
    ///
    /// # Examples
    ///
    /// ```
    /// let ring = iobuf_queue::IndexRing::new_full(2)?;
    /// assert_eq!(ring.pop(), Some(0));
    /// assert_eq!(ring.pop(), Some(1));
    /// assert_eq!(ring.pop(), None);
    /// # Ok::<(), iobuf_queue::CapacityError>(())
    /// ```
    #[inline]
    pub fn pop(&self) -> Option<u32> {
        if self.looks_empty() {
            return None;
        }
        loop {
            let pos = self.head.fetch_add(1, Ordering::SeqCst);
            if let Some(index) = self.take_at(pos) {
                return Some(index);
            }
            if self.after_failed_dequeue(pos) {
                return None;
            }
        }
    }

    /// Returns `index` to the ring.
    ///
    /// Releases everything this thread wrote before the call to whichever thread pops `index`.
    ///
    /// # Panics
    ///
    /// In debug builds, if `index >= capacity()`. See the [contract](Self#contract) for what
    /// else must hold.
    ///
    /// # Examples
    ///
    /// ```
    /// let ring = iobuf_queue::IndexRing::new_empty(8)?;
    /// ring.push(5);
    /// ring.push(1);
    /// assert_eq!(ring.pop(), Some(5));
    /// # Ok::<(), iobuf_queue::CapacityError>(())
    /// ```
    #[inline]
    pub fn push(&self, index: u32) {
        debug_assert!(
            (index as usize) < self.capacity,
            "index {index} pushed to an IndexRing of capacity {}",
            self.capacity
        );
        loop {
            let pos = self.tail.fetch_add(1, Ordering::SeqCst);
            if self.put_at(pos, index) {
                break;
            }
        }
        self.restore_threshold();
    }

    /// Pops up to `out.len()` indices into the front of `out` and returns how many, claiming
    /// them with one fetch-and-add on the head. Returns 0 only if the ring is empty (or `out`
    /// is); it may return fewer than are there when other threads race for them.
    ///
    /// # Examples
    ///
    /// ```
    /// let ring = iobuf_queue::IndexRing::new_full(5)?;
    /// let mut out = [0; 3];
    /// assert_eq!(ring.pop_many(&mut out), 3);
    /// assert_eq!(out, [0, 1, 2]);
    /// assert_eq!(ring.pop_many(&mut out), 2);
    /// assert_eq!(&out[..2], &[3, 4]);
    /// assert_eq!(ring.pop_many(&mut out), 0);
    /// # Ok::<(), iobuf_queue::CapacityError>(())
    /// ```
    pub fn pop_many(&self, out: &mut [u32]) -> usize {
        if out.is_empty() || self.looks_empty() {
            return 0;
        }
        loop {
            // Claim no more positions than seem to hold entries: each position claimed past
            // the tail is burnt, and enqueuers must skip it.
            let head = self.head.load(Ordering::Relaxed);
            let tail = self.tail.load(Ordering::Relaxed);
            // The two loads can be far apart (a preemption between them), so the distance is
            // capped at the capacity too: more can never be there.
            let apparent = tail.wrapping_sub(head) as i64;
            let want = (apparent.clamp(1, out.len().min(self.capacity) as i64)) as u64;

            let first = self.head.fetch_add(want, Ordering::SeqCst);
            let mut taken = 0;
            for pos in first..first + want {
                if let Some(index) = self.take_at(pos) {
                    out[taken] = index;
                    taken += 1;
                }
            }
            let failed = want as usize - taken;
            if failed == 0 {
                return taken;
            }
            let empty = self.after_failed_dequeue(first + want - 1);
            if taken > 0 || empty {
                return taken;
            }
        }
    }

    /// Returns every index in `indices` to the ring, in order, claiming positions for the batch
    /// with one fetch-and-add on the tail (and one more for any that had to be retried).
    ///
    /// # Panics
    ///
    /// In debug builds, if any index is `>= capacity()`. See the [contract](Self#contract).
    ///
    /// # Examples
    ///
    /// ```
    /// let ring = iobuf_queue::IndexRing::new_empty(8)?;
    /// ring.push_many(&[7, 3, 5]);
    /// assert_eq!(ring.len(), 3);
    /// assert_eq!(ring.pop(), Some(7));
    /// # Ok::<(), iobuf_queue::CapacityError>(())
    /// ```
    pub fn push_many(&self, indices: &[u32]) {
        debug_assert!(
            indices.iter().all(|&index| (index as usize) < self.capacity),
            "index out of range pushed to an IndexRing of capacity {}",
            self.capacity
        );
        let mut rest = indices;
        while !rest.is_empty() {
            let want = rest.len() as u64;
            let first = self.tail.fetch_add(want, Ordering::SeqCst);
            let mut placed = 0;
            for pos in first..first + want {
                if self.put_at(pos, rest[placed]) {
                    placed += 1;
                }
            }
            rest = &rest[placed..];
        }
        if !indices.is_empty() {
            self.restore_threshold();
        }
    }

    /// How many indices the ring holds, approximately: the distance from head to tail, read
    /// without stopping other threads, clamped to `0..=capacity()`. Exact when no other thread
    /// is using the ring.
    ///
    /// # Examples
    ///
    /// ```
    /// let ring = iobuf_queue::IndexRing::new_full(10)?;
    /// ring.pop();
    /// assert_eq!(ring.len(), 9);
    /// # Ok::<(), iobuf_queue::CapacityError>(())
    /// ```
    pub fn len(&self) -> usize {
        let head = self.head.load(Ordering::SeqCst);
        let tail = self.tail.load(Ordering::SeqCst);
        let distance = tail.wrapping_sub(head) as i64;
        distance.clamp(0, self.capacity as i64) as usize
    }

    /// Whether [`len`](Self::len) is 0: as approximate as `len` while other threads run.
    ///
    /// # Examples
    ///
    /// ```
    /// let ring = iobuf_queue::IndexRing::new_empty(10)?;
    /// assert!(ring.is_empty());
    /// ring.push(3);
    /// assert!(!ring.is_empty());
    /// # Ok::<(), iobuf_queue::CapacityError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The checks a dequeue makes before claiming a position: the threshold has run out, or
    /// (once a dequeue has failed since the last enqueue, a hint that the ring runs dry) no
    /// position between head and tail is left to claim. Either way the ring was empty at the
    /// moment of the last load, and a pop that claimed a position would only burn it.
    #[inline(always)]
    fn looks_empty(&self) -> bool {
        let threshold = self.threshold.load(Ordering::SeqCst);
        if threshold == self.full_threshold {
            // The common case on a busy free list: no extra loads.
            return false;
        }
        if threshold < 0 {
            return true;
        }
        // Head first: both only grow, so head ≥ tail here means head ≥ tail when tail was read.
        let head = self.head.load(Ordering::SeqCst);
        let tail = self.tail.load(Ordering::SeqCst);
        !precedes(head, tail)
    }

    #[inline(always)]
    fn slot(&self, pos: u64) -> &AtomicU64 {
        let (block, lane) = self.geometry.slot_of(pos);
        &self.blocks[block].0[lane]
    }

    /// The dequeue step at one claimed position: the index enqueued there in this position's
    /// cycle, or `None` after making sure no enqueuer of this cycle can still fill the slot.
    #[inline(always)]
    fn take_at(&self, pos: u64) -> Option<u32> {
        let g = &self.geometry;
        let slot = self.slot(pos);
        let tag = g.position_tag(pos);
        // Acquire: pairs with the enqueuer's release, handing over the index and what its
        // pusher wrote; and with the release of any dequeuer that marked the slot (see
        // `put_at`).
        let mut word = slot.load(Ordering::Acquire);
        let mut waits = 0;
        loop {
            let word_tag = g.word_tag(word);
            if word_tag == tag {
                // Ours: this position is claimed by no other dequeuer, so only a dequeuer a
                // lap ahead can touch the slot now (to clear its safe bit). `fetch_or` keeps
                // that bit. Relaxed: the index was acquired by the load above, and the RMW
                // continues the release sequence of whoever wrote the slot before.
                slot.fetch_or(g.emptied_bits(), Ordering::Relaxed);
                return Some(g.index_of(word));
            }
            if !precedes(word_tag, tag) {
                // Already used by a later cycle: we were lapped, nothing here is ours.
                return None;
            }
            let replacement = if !g.is_empty(word) {
                // An older cycle's entry whose dequeuer has not taken it yet. Mark the slot
                // unsafe so that an enqueuer of our cycle checks the head before filling it.
                // Written even if already unsafe: the release makes our head increment
                // visible to that enqueuer.
                g.unsafe_version(word)
            } else {
                if waits < ENQUEUER_WAIT_SPINS && precedes(pos, self.tail.load(Ordering::Relaxed)) {
                    // An enqueuer has claimed this position and is about to fill it.
                    waits += 1;
                    sync::spin();
                    word = slot.load(Ordering::Acquire);
                    continue;
                }
                // Close the slot for our cycle so its enqueuer, if any, fails and retries.
                g.closed(pos, word)
            };
            match slot.compare_exchange_weak(word, replacement, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return None,
                Err(current) => word = current,
            }
        }
    }

    /// The enqueue step at one claimed position: writes `index` if the slot is free for this
    /// position's cycle, else returns `false` and the caller claims another position.
    #[inline(always)]
    fn put_at(&self, pos: u64, index: u32) -> bool {
        let g = &self.geometry;
        let slot = self.slot(pos);
        let tag = g.position_tag(pos);
        // Fast path: the slot is as the previous lap's dequeuer left it (empty, safe, previous
        // cycle), which the checks below would accept; try the CAS without reading first.
        let mut word = match slot.compare_exchange(
            g.previous_lap_taken(pos),
            g.occupied(pos, index),
            Ordering::Release,
            Ordering::Acquire,
        ) {
            Ok(_) => return true,
            Err(current) => current,
        };
        loop {
            if !precedes(g.word_tag(word), tag) || !g.is_empty(word) {
                // Closed by this cycle's dequeuer, or still holding an older entry.
                return false;
            }
            // An unsafe slot was passed by a dequeuer while it held an older entry; filling it
            // is right only if this position's dequeuer has not started yet. The word was read
            // with acquire from a release sequence that includes that marking, so the head
            // loaded here already counts every dequeuer that marked it.
            if !g.is_safe(word) && precedes(pos, self.head.load(Ordering::SeqCst)) {
                return false;
            }
            // Release: hands `index`, and everything the pusher wrote, to the dequeuer.
            match slot.compare_exchange_weak(
                word,
                g.occupied(pos, index),
                Ordering::Release,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(current) => word = current,
            }
        }
    }

    /// Bookkeeping after a dequeue — one `pop`, or one `pop_many` batch — found nothing at its
    /// last claimed position `last`. Returns whether the ring should be reported empty.
    ///
    /// A batch costs the threshold one, like a single failed pop, however many of its positions
    /// failed: an enqueue landing after the batch's claim resets the threshold, and the batch's
    /// subtraction comes after that reset. Subtracting every failed position could drive the
    /// fresh threshold negative while the new index waits in the ring — every later dequeue
    /// would report empty until the next enqueue, which for a full free list never comes. At
    /// one per operation, the stale subtractions are one per racing dequeuer, as SCQ's bound
    /// assumes; a failed batch still counts, so failing dequeues still run the threshold out.
    #[cold]
    fn after_failed_dequeue(&self, last: u64) -> bool {
        let next = last.wrapping_add(1);
        let tail = self.tail.load(Ordering::SeqCst);
        if !precedes(next, tail) {
            // Nothing enqueued past us: empty. Pull the tail up to the head so enqueuers do not
            // spend attempts on the positions dequeuers have already closed.
            self.catch_up_tail(tail, next);
            self.threshold.fetch_sub(1, Ordering::SeqCst);
            return true;
        }
        self.threshold.fetch_sub(1, Ordering::SeqCst) <= 0
    }

    /// Moves the tail forward to `head` unless enqueuers already passed it.
    fn catch_up_tail(&self, mut tail: u64, mut head: u64) {
        while let Err(current) =
            self.tail.compare_exchange_weak(tail, head, Ordering::SeqCst, Ordering::SeqCst)
        {
            tail = current;
            head = self.head.load(Ordering::SeqCst);
            if !precedes(tail, head) {
                break;
            }
        }
    }

    /// After an enqueue: make the ring non-empty again for `pop`'s first check.
    #[inline(always)]
    fn restore_threshold(&self) {
        if self.threshold.load(Ordering::SeqCst) != self.full_threshold {
            self.threshold.store(self.full_threshold, Ordering::SeqCst);
        }
    }
}

impl fmt::Debug for IndexRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IndexRing")
            .field("capacity", &self.capacity)
            .field("slot_capacity", &self.slot_capacity)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(iobuf_loom)))]
mod tests;
