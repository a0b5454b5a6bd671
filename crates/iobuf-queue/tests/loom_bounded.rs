//! Loom models of `BoundedQueue`: its slot array is a loom `UnsafeCell`, so besides the
//! assertions here loom checks that no two threads ever touch a slot without a
//! happens-before edge between them. Run with `cargo xtask loom [bound]`.
//!
//! As in `loom_index_ring.rs`, models that race a reader against a writer record their outcomes
//! and assert that loom reached all of them (loom 0.7 can skip interleavings: tokio-rs/loom#166,
//! #392), running the roles both ways round where one way is not enough.
#![cfg(iobuf_loom)]

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use iobuf_queue::BoundedQueue;
use loom::sync::Arc;
use loom::thread;

/// The distinct outcomes a model reached over all its executions.
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

    /// Like `assert_reached`, for models where some outcomes need more preemptions than the
    /// bound allows: `required` must all be reached, and nothing outside `allowed`.
    fn assert_reached_within(
        &self,
        required: impl IntoIterator<Item = T>,
        allowed: impl IntoIterator<Item = T>,
    ) {
        let reached = self.0.lock().unwrap();
        let allowed: BTreeSet<T> = allowed.into_iter().collect();
        for outcome in required {
            assert!(reached.contains(&outcome), "loom never reached {outcome:?}: {reached:?}");
        }
        assert!(reached.is_subset(&allowed), "outcomes {reached:?} outside {allowed:?}");
    }
}

/// A value that counts its drops.
#[derive(Debug)]
struct Counted {
    id: usize,
    drops: std::sync::Arc<AtomicUsize>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn push_pop_race_moves_each_value_once() {
    let outcomes = Outcomes::new();
    for consumer_spawned in [true, false] {
        let record = std::sync::Arc::clone(&outcomes);
        loom::model(move || {
            let drops = std::sync::Arc::new(AtomicUsize::new(0));
            let queue = Arc::new(BoundedQueue::new(2).unwrap());
            let consume = |queue: &BoundedQueue<Counted>| {
                [queue.try_pop().map(|value| value.id), queue.try_pop().map(|value| value.id)]
            };
            let produce = {
                let drops = std::sync::Arc::clone(&drops);
                move |queue: &BoundedQueue<Counted>| {
                    for id in 0..2 {
                        let value = Counted { id, drops: std::sync::Arc::clone(&drops) };
                        queue.try_push(value).unwrap();
                    }
                }
            };
            let other = {
                let queue = Arc::clone(&queue);
                let produce = produce.clone();
                thread::spawn(move || {
                    if consumer_spawned {
                        Some(consume(&queue))
                    } else {
                        produce(&queue);
                        None
                    }
                })
            };
            let mine = if consumer_spawned {
                produce(&queue);
                None
            } else {
                Some(consume(&queue))
            };
            let popped = other.join().unwrap().or(mine).unwrap();
            let mut ids: Vec<usize> = popped.iter().flatten().copied().collect();
            assert!(ids.is_empty() || ids == [0] || ids == [0, 1], "not FIFO: {popped:?}");
            record.record(ids.len());
            let left = Arc::try_unwrap(queue).unwrap();
            assert_eq!(left.len(), 2 - ids.len());
            while let Some(value) = left.try_pop() {
                ids.push(value.id);
            }
            assert_eq!(ids, [0, 1]);
            drop(left);
            assert_eq!(drops.load(Ordering::SeqCst), 2);
        });
    }
    outcomes.assert_reached([0, 1, 2]);
}

#[test]
fn racing_producers_on_a_full_queue_one_gets_its_value_back() {
    let winners = Outcomes::new();
    let record = std::sync::Arc::clone(&winners);
    loom::model(move || {
        let queue = Arc::new(BoundedQueue::new(1).unwrap());
        let other = {
            let queue = Arc::clone(&queue);
            thread::spawn(move || queue.try_push(1))
        };
        let mine = queue.try_push(2);
        let theirs = other.join().unwrap();
        record.record(mine.is_ok());
        match (mine, theirs) {
            (Ok(()), Err(1)) => assert_eq!(queue.try_pop(), Some(2)),
            (Err(2), Ok(())) => assert_eq!(queue.try_pop(), Some(1)),
            other => panic!("exactly one push must fit: {other:?}"),
        }
        assert_eq!(queue.try_pop(), None);
    });
    winners.assert_reached([false, true]);
}

/// A producer pushes three values through a one-slot queue while the consumer pops three
/// times, neither waiting: in the interleavings where the consumer empties the slot between
/// pushes the slot is reused, and loom checks each write happens after the previous read.
#[test]
fn slot_reuse_is_ordered_through_both_rings() {
    let outcomes = Outcomes::new();
    for consumer_spawned in [true, false] {
        let record = std::sync::Arc::clone(&outcomes);
        loom::model(move || {
            let queue = Arc::new(BoundedQueue::new(1).unwrap());
            let produce = |queue: &BoundedQueue<u32>| {
                (0..3u32).filter(|&value| queue.try_push(value).is_ok()).count()
            };
            let consume =
                |queue: &BoundedQueue<u32>| (0..3).filter_map(|_| queue.try_pop()).collect();
            let other = {
                let queue = Arc::clone(&queue);
                thread::spawn(move || {
                    if consumer_spawned { (0, consume(&queue)) } else { (produce(&queue), vec![]) }
                })
            };
            let mine =
                if consumer_spawned { (produce(&queue), vec![]) } else { (0, consume(&queue)) };
            let theirs = other.join().unwrap();
            let (pushed, received): (usize, Vec<u32>) =
                if consumer_spawned { (mine.0, theirs.1) } else { (theirs.0, mine.1) };
            assert!(received.windows(2).all(|pair| pair[0] < pair[1]), "not FIFO: {received:?}");
            let left = queue.try_pop();
            assert_eq!(pushed, received.len() + usize::from(left.is_some()));
            assert_eq!(queue.try_pop(), None);
            record.record(pushed);
        });
    }
    // Two pushes fit only if the slot was emptied and refilled; three need it twice, which
    // takes four preemptions (reached from `cargo xtask loom 4` on).
    outcomes.assert_reached_within([1, 2], [1, 2, 3]);
}

/// Values still inside when the last handle drops are dropped exactly once, after racing
/// pushes and pops.
#[test]
fn drop_with_values_inside_after_a_race() {
    loom::model(|| {
        let drops = std::sync::Arc::new(AtomicUsize::new(0));
        let queue = Arc::new(BoundedQueue::new(2).unwrap());
        let producer = {
            let (queue, drops) = (Arc::clone(&queue), std::sync::Arc::clone(&drops));
            thread::spawn(move || {
                let _ = queue.try_push(Counted { id: 0, drops: std::sync::Arc::clone(&drops) });
                let _ = queue.try_push(Counted { id: 1, drops });
            })
        };
        let taken = queue.try_pop();
        producer.join().unwrap();
        drop(taken);
        drop(queue);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}
