//! Per-thread caches in front of a size class's ring (Bonwick's magazines): free indices, and
//! credits of the pool's reference count.
//!
//! A thread's get and put touch only its own cache: no shared cache line, no atomic
//! read-modify-write. The cache refills from the ring and flushes to it in halves, with one
//! fetch-and-add each (`pop_many` / `push_many`), and is flushed when the thread exits.
//!
//! Each buffer out of the pool holds one count of the pool's reference count
//! ([`PoolCore::out_refs`]); a shared counter bumped per get and per put would be the one line
//! every thread fights over, so a cache also keeps a stash of *credits* — counts taken from the
//! counter `CREDIT_BATCH` at a time and handed to buffers as they leave, taken back as they
//! return. Once the pool's last handle is gone (retired), returns release their count
//! directly, so the last buffer back frees the pool.
//!
//! Indices and credits parked in a cache are invisible to other threads, so before a pool
//! reports itself exhausted (or parks a getter), a *thief* drains every cache; and when the
//! pool retires, a thief collects every stash. The owner's side must stay free of atomic
//! read-modify-writes, so the two meet Dekker-style through an asymmetric barrier (see
//! [`crate::barrier`]):
//!
//! - owner: `busy = true`; light barrier; if `steal` is set, step aside (`busy = false`, wait
//!   until `steal` clears, retry); else work on the items, then `busy = false` (Release);
//! - thief (one sweep at a time per class, under the registry lock): `steal = true` on every
//!   slot; heavy barrier; per slot, wait until `busy` is false (Acquire) and take what it came
//!   for; a getter then pops the ring; last, `steal = false` (Release) on every slot. Owners
//!   stay out until the very end, so no drained cache refills from the ring before that pop.
//!
//! The barriers guarantee the owner sees `steal` or the thief sees `busy`, so the two never
//! touch the items at once.
//!
//! # Safety
//!
//! This module owns the exclusive access to each slot's items: the owner thread touches them
//! only between `busy = true` (with `steal` seen clear after the light barrier) and
//! `busy = false`; a thief only between seeing `busy` clear after its heavy barrier and clearing
//! `steal`. The protocol above makes those windows disjoint.
#![allow(unsafe_code)] // reason: the owner/thief protocol over each slot's items (see module docs).

use core::cell::RefCell;

use iobuf_align::CachePadded;
use iobuf_queue::IndexRing;

use crate::barrier;
use crate::core::PoolCore;
use crate::sync::{self, Arc, AtomicBool, AtomicU32, Backoff, Mutex, Ordering, UnsafeCell, Weak};

/// The largest per-thread index cache.
pub(crate) const MAX_CACHE: usize = 64;
/// The default per-thread index cache: large enough that refills are rare, small enough that
/// few buffers sit idle (the brief's 8–32).
pub(crate) const DEFAULT_CACHE: usize = 32;
/// Reference counts a stash takes from (and gives back to) the shared counter at a time.
const CREDIT_BATCH: usize = 32;

/// One thread's cache for one size class.
pub(crate) struct CacheSlot {
    busy: AtomicBool,
    steal: AtomicBool,
    /// Index count as last published by whoever touched the items; for stats.
    published: AtomicU32,
    items: UnsafeCell<Items>,
}

// SAFETY: the items are reached only inside the owner/thief windows, which the protocol keeps
// disjoint (module docs); everything else in the slot is atomic.
unsafe impl Sync for CacheSlot {}
// SAFETY: plain data; which thread owns the slot is a matter of the protocol, not of the type.
unsafe impl Send for CacheSlot {}

struct Items {
    len: usize,
    credits: usize,
    buf: [u32; MAX_CACHE],
}

impl CacheSlot {
    fn new() -> Self {
        Self {
            busy: AtomicBool::new(false),
            steal: AtomicBool::new(false),
            published: AtomicU32::new(0),
            items: UnsafeCell::new(Items { len: 0, credits: 0, buf: [0; MAX_CACHE] }),
        }
    }

    /// Runs `f` on the items as their owner.
    #[inline(always)]
    fn with_owned<R>(&self, f: impl FnOnce(&mut Items) -> R) -> R {
        loop {
            self.busy.store(true, Ordering::Relaxed);
            barrier::light();
            // Acquire: when the clear flag we read is a thief's release, its item writes must
            // happen before ours.
            if !self.steal.load(Ordering::Acquire) {
                let result = self.items.with_mut(|items| {
                    // SAFETY: busy is set and steal was seen clear after the barrier, so no
                    // thief touches the items until busy clears (module docs).
                    let items = unsafe { &mut *items };
                    let result = f(items);
                    self.published.store(items.len as u32, Ordering::Relaxed);
                    result
                });
                self.busy.store(false, Ordering::Release);
                return result;
            }
            self.step_aside();
        }
    }

    /// A thief is draining us: let it finish before retrying.
    #[cold]
    #[inline(never)]
    fn step_aside(&self) {
        self.busy.store(false, Ordering::Release);
        let backoff = Backoff::new();
        while self.steal.load(Ordering::Acquire) {
            backoff.snooze();
        }
    }

    /// Marks the slot for stealing. The thief issues one heavy barrier after marking every
    /// slot it will drain, then calls [`take_all`](Self::take_all) on each.
    fn mark_steal(&self) {
        self.steal.store(true, Ordering::Relaxed);
    }

    /// Waits until the owner is out of its items, then moves the indices out (the first into
    /// `keep` when `keep` is empty, the rest into `ring`) and, if `credits` is given, adds the
    /// stash to it. Call only after `mark_steal` and a heavy barrier; the owner stays locked
    /// out until [`release`](Self::release).
    fn take_all(&self, ring: &IndexRing, keep: &mut Option<u32>, credits: Option<&mut usize>) {
        let backoff = Backoff::new();
        while self.busy.load(Ordering::Acquire) {
            backoff.snooze();
        }
        self.items.with_mut(|items| {
            // SAFETY: steal is set and busy was seen clear after the heavy barrier, so the owner
            // stays out of the items until steal clears (module docs).
            let items = unsafe { &mut *items };
            let mut cached = &items.buf[..items.len];
            if keep.is_none() {
                if let Some((&first, rest)) = cached.split_first() {
                    *keep = Some(first);
                    cached = rest;
                }
            }
            ring.push_many(cached);
            items.len = 0;
            if let Some(credits) = credits {
                *credits += core::mem::take(&mut items.credits);
            }
        });
        self.published.store(0, Ordering::Relaxed);
    }

    /// Lets the owner back in after [`take_all`](Self::take_all).
    fn release(&self) {
        self.steal.store(false, Ordering::Release);
    }

    /// Indices currently parked here, as last published.
    fn published(&self) -> usize {
        self.published.load(Ordering::Relaxed) as usize
    }
}

/// Every cache of one size class, for thieves and stats.
pub(crate) struct CacheRegistry {
    /// Indices a cache holds at most; 0 = no index caching (credits only).
    size: usize,
    slots: Mutex<Vec<Arc<CachePadded<CacheSlot>>>>,
}

impl CacheRegistry {
    pub(crate) fn new(size: usize) -> Self {
        debug_assert!(size == 0 || (2..=MAX_CACHE).contains(&size));
        Self { size, slots: Mutex::new(Vec::new()) }
    }

    /// Drains every thread's index cache — waiting for owners in the middle of an operation —
    /// into `ring`, and takes one index for the caller: the first one drained, else one from
    /// the ring. `None` means the class had no free index at one moment of the call. One heavy
    /// barrier for the whole sweep.
    ///
    /// Keeping the first drained index back is what stops a thief from losing everything it
    /// drained to other threads' refills before it can pop. Popping the ring while every owner
    /// is still locked out is what makes `None` true: a cache already drained cannot refill
    /// from the ring behind the sweep's back, so an index in the ring then is found.
    pub(crate) fn drain_all(&self, ring: &IndexRing) -> Option<u32> {
        self.sweep(ring, None, true)
    }

    /// Drains every cache and collects every stash of credits (the pool is retiring).
    /// Returns the credits collected.
    pub(crate) fn collect_credits(&self, ring: &IndexRing) -> usize {
        let mut credits = 0;
        if let Some(index) = self.sweep(ring, Some(&mut credits), false) {
            ring.push(index);
        }
        credits
    }

    fn sweep(
        &self,
        ring: &IndexRing,
        mut credits: Option<&mut usize>,
        pop_if_none: bool,
    ) -> Option<u32> {
        let slots = sync::lock(&self.slots);
        slots.iter().for_each(|slot| slot.mark_steal());
        if !slots.is_empty() {
            barrier::heavy();
        }
        let mut keep = None;
        for slot in slots.iter() {
            slot.take_all(ring, &mut keep, credits.as_deref_mut());
        }
        if keep.is_none() && pop_if_none {
            keep = ring.pop();
        }
        slots.iter().for_each(|slot| slot.release());
        keep
    }

    /// Whether caches hold indices (not only credits).
    pub(crate) fn caches_indices(&self) -> bool {
        self.size != 0
    }

    /// Indices parked in caches, approximately (each cache's last published count).
    pub(crate) fn parked(&self) -> usize {
        sync::lock(&self.slots).iter().map(|slot| slot.published()).sum()
    }

    fn register(&self) -> Arc<CachePadded<CacheSlot>> {
        let slot = Arc::new(CachePadded::new(CacheSlot::new()));
        sync::lock(&self.slots).push(slot.clone());
        slot
    }

    fn unregister(&self, slot: &Arc<CachePadded<CacheSlot>>) {
        sync::lock(&self.slots).retain(|other| !Arc::ptr_eq(other, slot));
    }
}

/// A thread's entry for one (pool, class).
struct LocalEntry {
    key: u64,
    class: usize,
    slot: Arc<CachePadded<CacheSlot>>,
    owner: Weak<PoolCore>,
}

/// The thread's caches, flushed back to their pools when the thread exits.
#[derive(Default)]
struct LocalCaches {
    entries: Vec<LocalEntry>,
}

impl Drop for LocalCaches {
    fn drop(&mut self) {
        last::forget();
        for entry in self.entries.drain(..) {
            let Some(core) = sync::upgrade(&entry.owner) else { continue };
            let class = &core.classes[entry.class];
            let credits = entry.slot.with_owned(|items| {
                class.free.push_many(&items.buf[..items.len]);
                items.len = 0;
                core::mem::take(&mut items.credits)
            });
            class.caches.unregister(&entry.slot);
            class.after_publish();
            // Last: the release may free the pool (our upgraded `core` keeps the memory until
            // it drops at the end of this iteration).
            PoolCore::release_refs(&core, credits);
        }
    }
}

sync::thread_local! {
    static LOCAL: RefCell<LocalCaches> = RefCell::new(LocalCaches::default());
}

/// The calling thread's cache for one class of one pool.
pub(crate) struct ThreadCache<'a> {
    slot: &'a CacheSlot,
    core: &'a PoolCore,
    ring: &'a IndexRing,
    size: usize,
}

impl ThreadCache<'_> {
    /// Takes an index from the cache (refilling half of it from the ring when empty) together
    /// with one reference count for the buffer. `None` when the cache and ring are empty, or
    /// when the class caches no indices.
    #[inline]
    pub(crate) fn take_counted(&self) -> Option<u32> {
        self.slot.with_owned(|items| {
            if items.len == 0 {
                items.len = self.ring.pop_many(&mut items.buf[..self.size / 2]);
            }
            items.len = items.len.checked_sub(1)?;
            self.spend_credit(items);
            Some(items.buf[items.len])
        })
    }

    /// One reference count for a buffer taken some other way.
    #[inline]
    pub(crate) fn credit(&self) {
        self.slot.with_owned(|items| self.spend_credit(items));
    }

    #[inline(always)]
    fn spend_credit(&self, items: &mut Items) {
        if items.credits == 0 {
            self.core.acquire_refs(CREDIT_BATCH);
            items.credits = CREDIT_BATCH;
        }
        items.credits -= 1;
    }

    /// Takes back a returning buffer's reference count, and its index when `index` is given
    /// (flushing the older half of the cache to the ring when full). Returns how many counts
    /// the caller must release once it is done with the pool (see [`PoolCore::release_refs`]).
    #[inline]
    pub(crate) fn give_counted(&self, index: Option<u32>) -> usize {
        self.slot.with_owned(|items| {
            if let Some(index) = index {
                if items.len == self.size {
                    let half = self.size / 2;
                    self.ring.push_many(&items.buf[..half]);
                    items.buf.copy_within(half..items.len, 0);
                    items.len -= half;
                }
                items.buf[items.len] = index;
                items.len += 1;
            }
            // Read after the light barrier in `with_owned`: a retiring thief either sees this
            // operation as busy or this read sees the retirement (module docs).
            if self.core.retired.load(Ordering::Relaxed) {
                return 1;
            }
            items.credits += 1;
            if items.credits > 2 * CREDIT_BATCH {
                items.credits -= CREDIT_BATCH;
                return CREDIT_BATCH;
            }
            0
        })
    }
}

/// Runs `f` with the calling thread's cache for class `class` of `core`, creating and
/// registering it on first use. Returns `None` when thread-locals are unusable (the thread is
/// exiting, or a re-entrant call): the caller then uses the ring and the shared counter.
#[inline(always)]
pub(crate) fn with_thread_cache<R>(
    core: &Arc<PoolCore>,
    class: usize,
    f: impl FnOnce(&ThreadCache<'_>) -> R,
) -> Option<R> {
    let size_class = &core.classes[class];
    let key = core.id << 8 | class as u64;
    if let Some(slot) = last::slot(key) {
        // SAFETY: `last` only holds a slot of this thread's `LocalCaches` entry for `key`,
        // which keeps it alive; the entry is forgotten from `last` before it goes.
        let slot = unsafe { &*slot };
        let cache =
            ThreadCache { slot, core, ring: &size_class.free, size: size_class.caches.size };
        return Some(f(&cache));
    }
    with_thread_cache_slow(core, class, key, f)
}

#[inline(never)]
fn with_thread_cache_slow<R>(
    core: &Arc<PoolCore>,
    class: usize,
    key: u64,
    f: impl FnOnce(&ThreadCache<'_>) -> R,
) -> Option<R> {
    let size_class = &core.classes[class];
    LOCAL
        .try_with(|local| {
            let mut local = local.try_borrow_mut().ok()?;
            let position = match local.entries.iter().position(|e| e.key == key) {
                Some(position) => position,
                None => {
                    // Forget caches of pools that are gone, then register with this one.
                    last::forget();
                    local.entries.retain(|e| sync::upgrade(&e.owner).is_some());
                    let entry = LocalEntry {
                        key,
                        class,
                        slot: size_class.caches.register(),
                        owner: sync::downgrade(core),
                    };
                    local.entries.push(entry);
                    local.entries.len() - 1
                }
            };
            let slot: &CacheSlot = &local.entries[position].slot;
            last::remember(key, slot);
            let cache =
                ThreadCache { slot, core, ring: &size_class.free, size: size_class.caches.size };
            Some(f(&cache))
        })
        .ok()
        .flatten()
}

/// The calling thread's most recently used cache slot, in a const-initialised thread-local
/// without a destructor: one load and one compare on the hot path instead of a lookup through
/// `LOCAL`. It only ever names a slot owned by a live entry of this thread's `LocalCaches`
/// (cleared before entries are dropped), and is unused under loom.
mod last {
    use super::CacheSlot;

    #[cfg(not(iobuf_loom))]
    std::thread_local! {
        static LAST: core::cell::Cell<(u64, *const CacheSlot)> =
            const { core::cell::Cell::new((0, core::ptr::null())) };
    }

    /// The remembered slot if it is `key`'s.
    #[inline(always)]
    pub(super) fn slot(key: u64) -> Option<*const CacheSlot> {
        #[cfg(not(iobuf_loom))]
        {
            let (last_key, slot) = LAST.with(core::cell::Cell::get);
            (last_key == key && !slot.is_null()).then_some(slot)
        }
        #[cfg(iobuf_loom)]
        {
            let _ = key;
            None
        }
    }

    pub(super) fn remember(key: u64, slot: &CacheSlot) {
        #[cfg(not(iobuf_loom))]
        LAST.with(|last| last.set((key, slot)));
        #[cfg(iobuf_loom)]
        let _ = (key, slot);
    }

    pub(super) fn forget() {
        #[cfg(not(iobuf_loom))]
        LAST.with(|last| last.set((0, core::ptr::null())));
    }
}
