//! Blocking waits (`std`): spin a little, yield for a while, then park until the other side
//! publishes, closes, or the deadline passes (the ladder of the design brief, §5).
//!
//! The protocol, for a consumer waiting for data (a producer waiting for space is the mirror
//! image):
//!
//! 1. The waiter takes the parker's mutex and sets its waiter bit in the state word (an RMW).
//! 2. It re-reads the producer's counter with an RMW (`fetch_add(0)`), and parks on the condvar
//!    only if that shows too little data. The producer publishes with an RMW on the same counter
//!    and then loads the state word. Two RMWs on one location are totally ordered: if the
//!    producer's comes second it reads-from the waiter's, which happens-after the bit was set,
//!    so the producer sees the bit; if it comes first the waiter's RMW reads the new value.
//!    Either way no wake-up is lost, with no fence on the producer's path.
//! 3. A producer that sees the bit takes the mutex before notifying, so the notification cannot
//!    fall between the waiter's re-check and its wait (the waiter holds the mutex until the
//!    condvar releases it).
//!
//! Closing is an RMW on the state word, so it is ordered against step 1 the same way.

use std::sync::PoisonError;
use std::time::{Duration, Instant};

use super::error::WaitError;
use super::memory::RingMemory;
use super::shared::{Shared, Side};
use crate::sync::{self, Backoff, Condvar, Mutex, Ordering};

/// How long a waiter yields its thread, looking again after each yield, before it parks.
/// Measured with `cargo xtask bench bytes` on two cores: parking straight after the spin made
/// a socket pump 2x slower than yielding, because each hand-over then paid a futex wake and a
/// reschedule; 20 µs recovered most of it and 50 µs all. Under loom there is no yield phase:
/// the models check the park protocol, and yields would only multiply interleavings.
const YIELD_PHASE: Duration =
    if cfg!(iobuf_loom) { Duration::ZERO } else { Duration::from_micros(50) };

/// Where one side sleeps while it waits for the other.
#[derive(Debug, Default)]
pub(crate) struct Parker {
    lock: Mutex<()>,
    wake: Condvar,
}

impl Parker {
    /// Wakes the side parked here, if any. Taking the mutex first orders this after the
    /// waiter's re-check (see the module docs).
    pub(crate) fn notify(&self) {
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        self.wake.notify_one();
    }
}

/// What a wait decides on each look at the other side's counter.
pub(crate) type Verdict = Option<Result<usize, WaitError>>;

impl<M: RingMemory> Shared<M> {
    /// Blocks `waiter` until `decide(other_counter, other_closed)` returns a verdict or the
    /// deadline passes. `decide` is called with the other side's closed flag read *before* its
    /// counter, so once the flag is set the counter passed is final.
    pub(crate) fn wait(
        &self,
        waiter: Side,
        deadline: Option<Instant>,
        mut decide: impl FnMut(u64, bool) -> Verdict,
    ) -> Result<usize, WaitError> {
        let other = waiter.other();
        // Plain loads while spinning and yielding; an RMW in a loop would steal the other
        // side's line. The closed flag goes first: once it is set, the counter read after it is
        // final (read the other way round, a last publication could slip between the two).
        let mut look = || {
            let closed = self.is_closed(other);
            decide(self.counter(other).load(Ordering::Acquire), closed)
        };
        // Spin first: a wait that ends within a few hundred nanoseconds should not even yield.
        let backoff = Backoff::new();
        while !backoff.is_completed() {
            if let Some(verdict) = look() {
                return verdict;
            }
            backoff.snooze();
        }
        // Then yield for a while: costs nothing when the core is idle and hands it over when
        // not, while a park and its wake-up cost a futex call on each side and a reschedule.
        let yield_until = Instant::now() + YIELD_PHASE;
        let yield_until = deadline.map_or(yield_until, |deadline| deadline.min(yield_until));
        loop {
            if let Some(verdict) = look() {
                return verdict;
            }
            if Instant::now() >= yield_until {
                break;
            }
            sync::yield_now();
        }
        self.park(waiter, deadline, decide)
    }

    fn park(
        &self,
        waiter: Side,
        deadline: Option<Instant>,
        mut decide: impl FnMut(u64, bool) -> Verdict,
    ) -> Result<usize, WaitError> {
        let other = waiter.other();
        let parker = self.parker(waiter);
        let mut guard = parker.lock.lock().unwrap_or_else(PoisonError::into_inner);
        self.state().fetch_or(waiter.waiter_bit(), Ordering::AcqRel);
        let verdict = loop {
            let closed = self.is_closed(other);
            // An RMW that changes nothing: it reads the latest value in the counter's
            // modification order (step 2 of the module docs).
            let counter = self.counter(other).fetch_add(0, Ordering::AcqRel);
            if let Some(verdict) = decide(counter, closed) {
                break verdict;
            }
            guard = match deadline {
                None => parker.wake.wait(guard).unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                        break Err(WaitError::TimedOut);
                    };
                    let (guard, _) = parker
                        .wake
                        .wait_timeout(guard, left)
                        .unwrap_or_else(PoisonError::into_inner);
                    guard
                }
            };
        };
        self.state().fetch_and(!waiter.waiter_bit(), Ordering::Release);
        drop(guard);
        verdict
    }
}
