//! Waiting for a free buffer: a FIFO queue of waiters served by direct hand-off.
//!
//! A getter that finds nothing registers at the back of the queue, then (after a heavy barrier)
//! asks the queue to be served. Every `put` publishes its index, then (after a light barrier)
//! checks whether anyone waits — one load when nobody does. Serving hands free indices to the
//! waiters at the front, in order, and wakes them; so wake-ups are FIFO and a woken waiter
//! already owns its buffer (no thundering herd, no barging past it).
//!
//! A waiter that gives up (a dropped future, a timed-out get) removes itself; if it was granted
//! an index in the meantime, it puts that index back, which serves the next waiter: no wake-up
//! and no buffer is lost.

use std::collections::VecDeque;
use std::task::Waker;

use crate::sync::{self, Arc, AtomicU64, AtomicUsize, Mutex, Ordering};

const NOT_GRANTED: u64 = u64::MAX;

/// One parked getter.
#[derive(Debug)]
pub(crate) struct Waiter {
    /// The index handed to this waiter, or `NOT_GRANTED`.
    granted: AtomicU64,
    waker: Mutex<Option<Waker>>,
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

    /// Queues a new waiter at the back. The caller must then issue a heavy barrier and
    /// [`serve`](Self::serve) the queue, so an index published meanwhile is not missed.
    pub(crate) fn register(&self, waker: Waker) -> Arc<Waiter> {
        let waiter = Arc::new(Waiter {
            granted: AtomicU64::new(NOT_GRANTED),
            waker: Mutex::new(Some(waker)),
        });
        let mut queue = sync::lock(&self.queue);
        queue.push_back(waiter.clone());
        self.count.fetch_add(1, Ordering::Relaxed);
        waiter
    }

    /// Hands indices from `take_free` to waiters, front first, until one of them runs out.
    /// Returns how many waiters were served.
    pub(crate) fn serve(&self, mut take_free: impl FnMut() -> Option<u32>) -> usize {
        let mut wakers = Vec::new();
        {
            let mut queue = sync::lock(&self.queue);
            while let Some(front) = queue.front() {
                let Some(index) = take_free() else { break };
                front.granted.store(u64::from(index), Ordering::Release);
                if let Some(waker) = sync::lock(&front.waker).take() {
                    wakers.push(waker);
                }
                queue.pop_front();
                self.count.fetch_sub(1, Ordering::Relaxed);
            }
        }
        // Wake outside the lock: an executor's wake may take locks of its own.
        let served = wakers.len();
        wakers.into_iter().for_each(Waker::wake);
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
