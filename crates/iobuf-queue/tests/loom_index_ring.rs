//! Loom models of the index ring: every interleaving (up to `LOOM_MAX_PREEMPTIONS`) of small
//! rings and two or three threads. Run with `cargo xtask loom [bound]`.
//!
//! Each model tracks who owns each index and asserts on every hand-out that the index was
//! free, and at the end that the ring holds exactly the indices nobody holds.
//!
//! Loom 0.7's partial-order reduction can skip interleavings: it remembers only the last access
//! to each atomic, so when a thread loads and then writes a location that another thread loaded
//! earlier, the write is never tried before that load (tokio-rs/loom#166, #392). The models
//! that race a reader against a writer therefore run with the roles both ways round and record
//! the outcomes they reached, asserting that together they explored every outcome the ring
//! allows: a model that stops exploring fails instead of passing quietly.
#![cfg(iobuf_loom)]

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use iobuf_queue::IndexRing;
use loom::sync::Arc;
use loom::thread;

/// Who holds each index. Plain std atomics: loom runs one thread at a time, so these are
/// exact and add nothing to the state space.
struct Owners(Vec<AtomicBool>);

impl Owners {
    fn new(capacity: usize) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self((0..capacity).map(|_| AtomicBool::new(false)).collect()))
    }

    /// Records that the caller now holds `index`; fails if someone already does.
    fn take(&self, index: u32) {
        let was_held = self.0[index as usize].swap(true, Ordering::SeqCst);
        assert!(!was_held, "index {index} handed out while another thread holds it");
    }

    /// Records that the caller gives `index` back; call before pushing it.
    fn give(&self, index: u32) {
        let was_held = self.0[index as usize].swap(false, Ordering::SeqCst);
        assert!(was_held, "index {index} returned but not held");
    }
}

/// The distinct outcomes a model reached over all its executions.
#[derive(Default)]
struct Outcomes<T>(Mutex<BTreeSet<T>>);

impl<T: Ord + std::fmt::Debug> Outcomes<T> {
    fn new() -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self(Mutex::new(BTreeSet::new())))
    }

    fn record(&self, outcome: T) {
        self.0.lock().unwrap().insert(outcome);
    }

    fn assert_reached(&self, expected: impl IntoIterator<Item = T>) {
        let reached = self.0.lock().unwrap();
        let expected: BTreeSet<T> = expected.into_iter().collect();
        assert_eq!(*reached, expected, "loom explored a different set of outcomes");
    }
}

/// Pops `rounds` times, holding each index briefly and pushing it back. With capacity at least
/// the number of threads, each of which holds at most one index, the ring is never empty while
/// this thread pops, so `pop` must not return `None`.
fn churn(ring: &IndexRing, owners: &Owners, rounds: usize) {
    for round in 0..rounds {
        let index = ring.pop().unwrap_or_else(|| panic!("false empty in round {round}"));
        owners.take(index);
        owners.give(index);
        ring.push(index);
    }
}

/// Pops everything and checks the ring held each of `0..capacity` exactly once.
fn assert_holds_all(ring: &IndexRing, capacity: usize) {
    let mut seen = vec![false; capacity];
    while let Some(index) = ring.pop() {
        assert!(!seen[index as usize], "index {index} was in the ring twice");
        seen[index as usize] = true;
    }
    let missing: Vec<usize> = (0..capacity).filter(|&i| !seen[i]).collect();
    assert!(missing.is_empty(), "indices lost: {missing:?}");
}

#[test]
fn pop_push_race_never_shares_or_loses_an_index() {
    loom::model(|| {
        let ring = Arc::new(IndexRing::new_full(2).unwrap());
        let owners = Owners::new(2);
        let other = {
            let (ring, owners) = (Arc::clone(&ring), std::sync::Arc::clone(&owners));
            thread::spawn(move || churn(&ring, &owners, 2))
        };
        churn(&ring, &owners, 2);
        other.join().unwrap();
        assert_holds_all(&ring, 2);
    });
}

/// The ABA trap of value-only rings: a popper reads a slot and stalls while the other thread
/// pops and pushes the same indices around the whole ring (4 slots, 4 rounds). Loom preempts
/// the stalled popper at every atomic step, including between reading the slot and emptying
/// it; cycle tags must keep it from taking an index refilled in a later lap. The model also
/// asserts that loom did run the popper's `pop` across all four of the other thread's rounds.
#[test]
fn popper_stalled_for_a_lap_never_double_owns() {
    let spans = Outcomes::new();
    let record = std::sync::Arc::clone(&spans);
    loom::model(move || {
        let ring = Arc::new(IndexRing::new_full(2).unwrap());
        let owners = Owners::new(2);
        // Rounds the lapping thread has finished; plain std atomic, invisible to loom.
        let rounds = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stalled = {
            let (ring, owners) = (Arc::clone(&ring), std::sync::Arc::clone(&owners));
            let rounds = std::sync::Arc::clone(&rounds);
            thread::spawn(move || {
                let before = rounds.load(Ordering::SeqCst);
                let index = ring.pop().expect("false empty in the stalled pop");
                let span = rounds.load(Ordering::SeqCst) - before;
                owners.take(index);
                owners.give(index);
                ring.push(index);
                span
            })
        };
        for _ in 0..4 {
            churn(&ring, &owners, 1);
            rounds.fetch_add(1, Ordering::SeqCst);
        }
        record.record(stalled.join().unwrap());
        assert_holds_all(&ring, 2);
    });
    spans.assert_reached([0, 1, 2, 3, 4]);
}

/// Races after the counters have wrapped the slot array twice: cycle comparisons, not raw
/// positions, must decide.
#[test]
fn races_after_several_cycles() {
    loom::model(|| {
        let ring = Arc::new(IndexRing::new_full(2).unwrap());
        let owners = Owners::new(2);
        // 9 rounds alone: head 9, tail 11, into cycle 2 of the 4 slots.
        churn(&ring, &owners, 9);
        let other = {
            let (ring, owners) = (Arc::clone(&ring), std::sync::Arc::clone(&owners));
            thread::spawn(move || churn(&ring, &owners, 2))
        };
        churn(&ring, &owners, 2);
        other.join().unwrap();
        assert_holds_all(&ring, 2);
    });
}

/// An empty ring: a popper races a pusher. Failed pops burn positions, spend threshold and
/// pull the tail along; the pushed indices must still be found, by the racing pops or after.
/// Run with the popper spawned and with the pusher spawned (see the module docs).
#[test]
fn empty_ring_pop_races_push() {
    let outcomes = Outcomes::new();
    for popper_spawned in [true, false] {
        let record = std::sync::Arc::clone(&outcomes);
        loom::model(move || {
            let ring = Arc::new(IndexRing::new_empty(2).unwrap());
            let pops = |ring: &IndexRing| [ring.pop(), ring.pop()];
            let pushes = |ring: &IndexRing| {
                ring.push(1);
                ring.push(0);
            };
            let other = {
                let ring = Arc::clone(&ring);
                thread::spawn(move || {
                    if popper_spawned {
                        Some(pops(&ring))
                    } else {
                        pushes(&ring);
                        None
                    }
                })
            };
            let mine = if popper_spawned {
                pushes(&ring);
                None
            } else {
                Some(pops(&ring))
            };
            let popped = other.join().unwrap().or(mine).unwrap();
            let mut held: Vec<u32> = popped.iter().flatten().copied().collect();
            // FIFO: whatever the popper got came out in push order.
            assert!(held.is_empty() || held == [1] || held == [1, 0], "popped {popped:?}");
            record.record(held.clone());
            while let Some(index) = ring.pop() {
                held.push(index);
            }
            held.sort_unstable();
            assert_eq!(held, [0, 1]);
            // The threshold is back: the ring works as new.
            ring.push(1);
            assert_eq!(ring.pop(), Some(1));
        });
    }
    outcomes.assert_reached([vec![], vec![1], vec![1, 0]]);
}

/// Two poppers on a ring that runs empty: one gets the index, the other fails, and the pushes
/// after that must not be hidden by a threshold left negative or a tail left behind the head.
#[test]
fn empty_threshold_recovers_after_racing_failures() {
    let outcomes = Outcomes::new();
    let record = std::sync::Arc::clone(&outcomes);
    loom::model(move || {
        let ring = Arc::new(IndexRing::new_full(1).unwrap());
        let other = {
            let ring = Arc::clone(&ring);
            thread::spawn(move || ring.pop())
        };
        let mine = ring.pop();
        let theirs = other.join().unwrap();
        assert!(
            matches!((mine, theirs), (Some(0), None) | (None, Some(0))),
            "exactly one pop gets the index: {mine:?} {theirs:?}"
        );
        record.record(mine);
        assert_eq!(ring.pop(), None);
        ring.push(0);
        assert_eq!(ring.pop(), Some(0));
        assert_eq!(ring.pop(), None);
    });
    outcomes.assert_reached([None, Some(0)]);
}

/// Batch operations race each other and a single pop: one fetch-and-add claims several
/// positions, some of which may be empty or contended.
#[test]
fn batch_ops_race_without_sharing_or_losing() {
    loom::model(|| {
        let ring = Arc::new(IndexRing::new_full(4).unwrap());
        let owners = Owners::new(4);
        let batcher = {
            let (ring, owners) = (Arc::clone(&ring), std::sync::Arc::clone(&owners));
            thread::spawn(move || {
                let mut out = [0; 3];
                let got = ring.pop_many(&mut out);
                assert!(got >= 1, "pop_many found nothing while at least 2 indices were free");
                for &index in &out[..got] {
                    owners.take(index);
                }
                for &index in &out[..got] {
                    owners.give(index);
                }
                ring.push_many(&out[..got]);
            })
        };
        let mut out = [0; 2];
        let got = ring.pop_many(&mut out);
        assert!(got >= 1, "pop_many found nothing while at least 1 index was free");
        for &index in &out[..got] {
            owners.take(index);
        }
        for &index in &out[..got] {
            owners.give(index);
        }
        ring.push_many(&out[..got]);
        churn(&ring, &owners, 1);
        batcher.join().unwrap();
        assert_holds_all(&ring, 4);
    });
}

/// Batches on a ring that runs dry: both claims reach past the tail, so positions are burnt,
/// failures are counted in bulk, and the tail is caught up; a later push must still be found.
#[test]
fn batch_claims_past_the_tail() {
    let splits = Outcomes::new();
    let record = std::sync::Arc::clone(&splits);
    loom::model(move || {
        let ring = Arc::new(IndexRing::new_full(2).unwrap());
        let owners = Owners::new(2);
        let other = {
            let (ring, owners) = (Arc::clone(&ring), std::sync::Arc::clone(&owners));
            thread::spawn(move || {
                let mut out = [0; 2];
                let got = ring.pop_many(&mut out);
                for &index in &out[..got] {
                    owners.take(index);
                }
                out[..got].to_vec()
            })
        };
        let mut out = [0; 2];
        let got = ring.pop_many(&mut out);
        for &index in &out[..got] {
            owners.take(index);
        }
        let theirs = other.join().unwrap();
        assert_eq!(got + theirs.len(), 2, "mine {:?}, theirs {theirs:?}", &out[..got]);
        record.record((got, theirs.len()));
        assert_eq!(ring.pop_many(&mut out), 0);
        for &index in theirs.iter().chain(&out[..got]) {
            owners.give(index);
        }
        ring.push_many(&theirs);
        ring.push_many(&out[..got]);
        assert_holds_all(&ring, 2);
    });
    // Whoever claims first sizes its claim to both indices; the other claims past the tail.
    splits.assert_reached([(0, 2), (2, 0)]);
}

/// Three threads on a ring of three: the tightest no-false-empty case, where the popping
/// thread's index is the only one in the ring at times.
#[test]
fn three_threads_capacity_three() {
    loom::model(|| {
        let ring = Arc::new(IndexRing::new_full(3).unwrap());
        let owners = Owners::new(3);
        let others: Vec<_> = (0..2)
            .map(|_| {
                let (ring, owners) = (Arc::clone(&ring), std::sync::Arc::clone(&owners));
                thread::spawn(move || churn(&ring, &owners, 2))
            })
            .collect();
        churn(&ring, &owners, 2);
        for other in others {
            other.join().unwrap();
        }
        assert_holds_all(&ring, 3);
    });
}

/// Regression: an index pushed while another thread's pops fail (driving the threshold below
/// zero and the head past the tail) must still be found — by the pusher's own pop right after,
/// or by one of the failing pops. An earlier version lost it: every pop came back empty.
#[test]
fn a_push_after_failed_pops_is_not_lost() {
    loom::model(|| {
        let ring = Arc::new(IndexRing::new_full(1).unwrap());
        assert_eq!(ring.pop(), Some(0));
        let pusher = {
            let ring = ring.clone();
            thread::spawn(move || {
                ring.push(0);
                ring.pop()
            })
        };
        let mut batch = [0u32; 1];
        let first = ring.pop().is_some() as usize;
        let batched = ring.pop_many(&mut batch);
        let last = ring.pop().is_some() as usize;
        let own = pusher.join().unwrap().is_some() as usize;
        assert_eq!(first + batched + last + own, 1, "the pushed index was lost or duplicated");
        assert!(ring.pop().is_none());
    });
}

/// Regression: a batch claiming more positions than the ring holds, racing a thread that pops
/// and pushes the only index. A push landing after the batch's claim resets the threshold;
/// the batch's failures must not then run it out while that index waits in the ring.
#[test]
fn a_failed_batch_never_hides_a_later_push() {
    loom::model(|| {
        let ring = Arc::new(IndexRing::new_full(1).unwrap());
        let other = {
            let ring = Arc::clone(&ring);
            thread::spawn(move || {
                for _ in 0..3 {
                    if let Some(index) = ring.pop() {
                        ring.push(index);
                    }
                }
            })
        };
        let mut out = [0; 4];
        let got = ring.pop_many(&mut out);
        ring.push_many(&out[..got]);
        other.join().unwrap();
        assert_eq!(ring.pop(), Some(0), "the only index is free, yet the ring reports empty");
    });
}
