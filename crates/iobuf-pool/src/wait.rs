//! Waiting for a free buffer: a FIFO queue of waiters served by direct hand-off.
//!
//! A getter that finds nothing registers at the back of the queue, then (after a heavy barrier)
//! asks the queue to be served. Every `put` publishes its index, then (after a light barrier)
//! checks whether anyone waits — one load when nobody does. Serving hands free indices to the
//! waiters at the front, in order, and wakes them; so wake-ups are FIFO and a woken waiter
//! already owns its buffer (no thundering herd, no barging past it).
//!
//! Each waiter says what it waits for (`want`): 0 for a pool's class (every index fits), the
//! block order for the buddy allocator. Wants are ordered — when nothing can be had for `w`,
//! nothing can for a larger one — so a serve passes over a waiter whose want is at least one
//! that already found nothing, and serves the smaller ones behind it: FIFO among the waiters
//! that can be served. (Holding them all behind the front one would turn a thread that holds
//! small blocks while it waits for another small one into a deadlock with a large request.)
//! For a pool, the first waiter that finds nothing ends the serve.
//!
//! A waiter that gives up (a dropped future, a timed-out get) removes itself; if it was granted
//! an index in the meantime, it puts that index back, which serves the next waiter: no wake-up
//! and no buffer is lost.

use std::collections::VecDeque;
use std::task::Waker;

use crate::sync::{self, Arc, AtomicU64, AtomicUsize, Mutex, Ordering};

const NOT_GRANTED: u64 = u64::MAX;

/// Wakes the wakers it still holds when dropped (on a panic in an earlier wake).
struct WakeRemaining(std::vec::IntoIter<Waker>);

impl Drop for WakeRemaining {
    fn drop(&mut self) {
        self.0.by_ref().for_each(Waker::wake);
    }
}

/// One parked getter.
#[derive(Debug)]
pub(crate) struct Waiter {
    /// The index handed to this waiter, or `NOT_GRANTED`.
    granted: AtomicU64,
    waker: Mutex<Option<Waker>>,
    /// What the waiter waits for, passed to the serve's `take_free` (see the module docs).
    want: u8,
}

impl Waiter {
    /// The granted index, if any.
    pub(crate) fn granted(&self) -> Option<u32> {
        match self.granted.load(Ordering::Acquire) {
            NOT_GRANTED => None,
            index => Some(index as u32),
        }
    }
}

/// The FIFO of getters waiting on one size class.
#[derive(Debug, Default)]
pub(crate) struct WaitQueue {
    /// Number of queued waiters; what a put reads.
    count: AtomicUsize,
    queue: Mutex<VecDeque<Arc<Waiter>>>,
}

impl WaitQueue {
    /// Whether anyone waits. The caller orders this read after publishing with a light barrier.
    #[inline]
    pub(crate) fn has_waiters(&self) -> bool {
        self.count.load(Ordering::Relaxed) != 0
    }

    /// Queues a new waiter for `want` at the back. The caller must then issue a heavy barrier
    /// and [`serve`](Self::serve) the queue, so an index published meanwhile is not missed.
    pub(crate) fn register(&self, want: u8, waker: Waker) -> Arc<Waiter> {
        let waiter = Arc::new(Waiter {
            granted: AtomicU64::new(NOT_GRANTED),
            waker: Mutex::new(Some(waker)),
            want,
        });
        let mut queue = sync::lock(&self.queue);
        queue.push_back(waiter.clone());
        self.count.fetch_add(1, Ordering::Relaxed);
        waiter
    }

    /// Hands indices from `take_free(want)` to waiters, front first, passing over those that
    /// want at least as much as one that found nothing (see the module docs). Returns how many
    /// waiters were served.
    pub(crate) fn serve(&self, mut take_free: impl FnMut(u8) -> Option<u32>) -> usize {
        let mut wakers = Vec::new();
        {
            let mut queue = sync::lock(&self.queue);
            // The smallest want that found nothing (256: none yet).
            let mut failed = 256u16;
            let mut at = 0;
            while failed > 0 && at < queue.len() {
                let waiter = &queue[at];
                if u16::from(waiter.want) >= failed {
                    at += 1;
                    continue;
                }
                let Some(index) = take_free(waiter.want) else {
                    failed = u16::from(waiter.want);
                    at += 1;
                    continue;
                };
                waiter.granted.store(u64::from(index), Ordering::Release);
                if let Some(waker) = sync::lock(&waiter.waker).take() {
                    wakers.push(waker);
                }
                queue.remove(at);
                self.count.fetch_sub(1, Ordering::Relaxed);
            }
        }
        // Wake outside the lock: an executor's wake may take locks of its own. Every waiter
        // here was already granted its buffer, so a panicking wake must not strand the rest:
        // the guard wakes whoever is left while the panic unwinds.
        let served = wakers.len();
        let mut pending = WakeRemaining(wakers.into_iter());
        for waker in pending.0.by_ref() {
            waker.wake();
        }
        served
    }

    /// Replaces the waker a waiter will be woken with, unless it was granted meanwhile.
    /// Returns the granted index, if any.
    pub(crate) fn update_waker(&self, waiter: &Waiter, waker: &Waker) -> Option<u32> {
        let _queue = sync::lock(&self.queue);
        // Grants happen under the queue lock, so this check and the update are atomic with
        // respect to them.
        if let Some(index) = waiter.granted() {
            return Some(index);
        }
        let mut slot = sync::lock(&waiter.waker);
        if !slot.as_ref().is_some_and(|current| current.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
        None
    }

    /// Removes a waiter that gives up. Returns the index it was granted before it could leave,
    /// which the caller must put back.
    pub(crate) fn cancel(&self, waiter: &Arc<Waiter>) -> Option<u32> {
        let mut queue = sync::lock(&self.queue);
        if let Some(position) = queue.iter().position(|w| Arc::ptr_eq(w, waiter)) {
            queue.remove(position);
            self.count.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        waiter.granted()
    }

    /// Number of queued waiters.
    pub(crate) fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }
}

#[cfg(all(test, not(iobuf_loom)))]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    use super::*;

    /// Panics on its first wake; counts every wake.
    struct Fickle {
        wakes: AtomicUsize,
        panic_first: bool,
    }

    impl Wake for Fickle {
        fn wake(self: std::sync::Arc<Self>) {
            let before = self.wakes.fetch_add(1, Ordering::SeqCst);
            assert!(!(self.panic_first && before == 0), "a broken executor's wake");
        }
    }

    #[test]
    fn a_panicking_wake_does_not_strand_the_waiters_behind_it() {
        let queue = WaitQueue::default();
        let broken = std::sync::Arc::new(Fickle { wakes: AtomicUsize::new(0), panic_first: true });
        let fine = std::sync::Arc::new(Fickle { wakes: AtomicUsize::new(0), panic_first: false });
        let first = queue.register(0, Waker::from(broken.clone()));
        let second = queue.register(0, Waker::from(fine.clone()));
        let mut next = 0;
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            queue.serve(|_| {
                next += 1;
                Some(next)
            })
        }));
        assert!(outcome.is_err(), "the broken wake's panic comes through");
        assert_eq!((first.granted(), second.granted()), (Some(1), Some(2)));
        assert_eq!(fine.wakes.load(Ordering::SeqCst), 1, "the second waiter was still woken");
        assert_eq!(queue.len(), 0);
    }
}
