//! MPMC stress of `BoundedQueue` on real threads: producers and consumers (twice as many
//! threads as cores) move `10⁶ × IOBUF_STRESS_SCALE` values each; every value arrives exactly
//! once, in order per producer, and is dropped exactly once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, ScopedJoinHandle};

use iobuf_queue::BoundedQueue;

/// Joins every worker explicitly: ThreadSanitizer sees `pthread_join`, but not the end of
/// `thread::scope`, which waits through atomics inside the uninstrumented std.
fn join_all(workers: Vec<ScopedJoinHandle<'_, ()>>) {
    for worker in workers {
        worker.join().expect("worker thread panicked");
    }
}

/// Values per producer: 10⁶ scaled by `IOBUF_STRESS_SCALE` (the sanitizer runs set 0.05).
fn values_per_producer() -> usize {
    let scale: f64 = std::env::var("IOBUF_STRESS_SCALE")
        .ok()
        .map(|value| value.parse().expect("IOBUF_STRESS_SCALE must be a number"))
        .unwrap_or(1.0);
    ((1_000_000.0 * scale) as usize).max(1_000)
}

/// A value that knows where it came from and counts its drops.
#[derive(Debug)]
struct Tracked {
    producer: usize,
    seq: usize,
    drops: Arc<AtomicUsize>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn every_value_arrives_once_in_producer_order_and_drops_once() {
    let threads = 2 * thread::available_parallelism().map_or(1, usize::from);
    let (producers, consumers) = ((threads / 2).max(1), (threads - threads / 2).max(1));
    let per_producer = values_per_producer();
    let total = producers * per_producer;
    let drops = Arc::new(AtomicUsize::new(0));
    let queue = BoundedQueue::new(64).unwrap();
    let arrived: Vec<AtomicBool> = (0..total).map(|_| AtomicBool::new(false)).collect();
    let received = AtomicUsize::new(0);
    thread::scope(|scope| {
        let mut workers = Vec::new();
        for producer in 0..producers {
            let (queue, drops) = (&queue, &drops);
            workers.push(scope.spawn(move || {
                for seq in 0..per_producer {
                    let mut value = Tracked { producer, seq, drops: Arc::clone(drops) };
                    while let Err(back) = queue.try_push(value) {
                        value = back;
                        thread::yield_now(); // more threads than cores: let the one we wait for run
                    }
                }
            }));
        }
        for _ in 0..consumers {
            workers.push(scope.spawn(|| {
                // FIFO per producer: each consumer sees each producer's values in order.
                let mut last_seen = vec![None; producers];
                while received.load(Ordering::Relaxed) < total {
                    let Some(value) = queue.try_pop() else {
                        thread::yield_now(); // more threads than cores: let the one we wait for run
                        continue;
                    };
                    let previous = last_seen[value.producer].replace(value.seq);
                    assert!(
                        previous < Some(value.seq),
                        "producer {} out of order: {previous:?} then {}",
                        value.producer,
                        value.seq
                    );
                    let slot = value.producer * per_producer + value.seq;
                    assert!(!arrived[slot].swap(true, Ordering::Relaxed), "value {slot} twice");
                    received.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        join_all(workers);
    });
    assert!(arrived.iter().all(|flag| flag.load(Ordering::Relaxed)), "values lost");
    assert!(queue.is_empty());
    assert_eq!(queue.try_pop().map(|value| value.seq), None);
    drop(queue);
    assert_eq!(drops.load(Ordering::Relaxed), total);
}

/// Producers race consumers and stop early, leaving values inside: dropping the queue drops
/// exactly those.
#[test]
fn values_left_inside_are_dropped_with_the_queue() {
    let drops = Arc::new(AtomicUsize::new(0));
    let created = AtomicUsize::new(0);
    let queue = BoundedQueue::new(32).unwrap();
    let rounds = values_per_producer() / 10;
    thread::scope(|scope| {
        let mut workers = Vec::new();
        for producer in 0..2 {
            let (queue, drops, created) = (&queue, &drops, &created);
            workers.push(scope.spawn(move || {
                for seq in 0..rounds {
                    created.fetch_add(1, Ordering::Relaxed);
                    // A full queue hands the value back; dropping it counts too.
                    let _ = queue.try_push(Tracked { producer, seq, drops: Arc::clone(drops) });
                }
            }));
        }
        workers.push(scope.spawn(|| {
            for _ in 0..rounds {
                drop(queue.try_pop());
            }
        }));
        join_all(workers);
    });
    let inside = queue.len();
    let before = drops.load(Ordering::Relaxed);
    assert_eq!(before + inside, created.load(Ordering::Relaxed));
    drop(queue);
    assert_eq!(drops.load(Ordering::Relaxed), created.load(Ordering::Relaxed));
}
