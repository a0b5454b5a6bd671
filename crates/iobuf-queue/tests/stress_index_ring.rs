//! MPMC stress of the index ring on real threads: twice as many threads as cores, each doing
//! `10⁶ × IOBUF_STRESS_SCALE` operations, with an ownership bitmap that catches an index handed
//! out twice, lost, or returned by someone who did not hold it, and checks that `pop` never
//! reports empty while an index is free.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::thread::{self, ScopedJoinHandle};

use iobuf_queue::IndexRing;

/// Joins every worker explicitly: ThreadSanitizer sees `pthread_join`, but not the end of
/// `thread::scope`, which waits through atomics inside the uninstrumented std.
fn join_all(workers: Vec<ScopedJoinHandle<'_, ()>>) {
    for worker in workers {
        worker.join().expect("worker thread panicked");
    }
}

/// Operations per thread: 10⁶ scaled by `IOBUF_STRESS_SCALE` (the sanitizer runs set 0.05).
fn ops_per_thread() -> usize {
    let scale: f64 = std::env::var("IOBUF_STRESS_SCALE")
        .ok()
        .map(|value| value.parse().expect("IOBUF_STRESS_SCALE must be a number"))
        .unwrap_or(1.0);
    ((1_000_000.0 * scale) as usize).max(1_000)
}

fn thread_count() -> usize {
    2 * thread::available_parallelism().map_or(1, usize::from)
}

/// One flag per index: set while some thread holds it.
struct Ownership(Vec<AtomicBool>);

impl Ownership {
    fn new(capacity: usize) -> Self {
        Self((0..capacity).map(|_| AtomicBool::new(false)).collect())
    }

    fn take(&self, index: u32) {
        let was_held = self.0[index as usize].swap(true, Ordering::AcqRel);
        assert!(!was_held, "index {index} handed out while another thread holds it");
    }

    fn give(&self, index: u32) {
        let was_held = self.0[index as usize].swap(false, Ordering::AcqRel);
        assert!(was_held, "index {index} returned but not held");
    }
}

/// Drains the ring and checks it holds each of `0..capacity` exactly once.
fn assert_holds_exactly_all(ring: &IndexRing, capacity: usize) {
    assert_eq!(ring.len(), capacity);
    let mut seen = vec![false; capacity];
    while let Some(index) = ring.pop() {
        assert!(!std::mem::replace(&mut seen[index as usize], true), "index {index} twice");
    }
    let lost = seen.iter().filter(|&&s| !s).count();
    assert_eq!(lost, 0, "{lost} indices lost");
}

/// Every thread pops one index and pushes it back. With `capacity ≥ threads`, at most
/// `threads - 1` indices are out while a thread pops, so `pop` must never return `None`.
fn churn_singles(capacity: usize) {
    let threads = thread_count();
    assert!(capacity >= threads);
    let ring = IndexRing::new_full(capacity).unwrap();
    let owners = Ownership::new(capacity);
    let ops = ops_per_thread();
    thread::scope(|scope| {
        let mut workers = Vec::new();
        for _ in 0..threads {
            workers.push(scope.spawn(|| {
                for op in 0..ops {
                    let index = ring.pop().unwrap_or_else(|| panic!("false empty at op {op}"));
                    owners.take(index);
                    owners.give(index);
                    ring.push(index);
                }
            }));
        }
        join_all(workers);
    });
    assert_holds_exactly_all(&ring, capacity);
}

#[test]
fn churn_with_capacity_equal_to_threads() {
    churn_singles(thread_count());
}

#[test]
fn churn_with_non_power_of_two_capacity() {
    // thread_count() + 1 is odd, so slot capacity rounds up and positions wrap at 2n.
    churn_singles(thread_count() + 1);
}

/// Batches and singles mixed: each thread holds up to `BATCH` indices at once, and the ring
/// has room for every thread's batch, so `pop_many` must never come back with nothing.
#[test]
fn churn_with_batches() {
    const BATCH: usize = 8;
    let threads = thread_count();
    let capacity = threads * BATCH;
    let ring = IndexRing::new_full(capacity).unwrap();
    let owners = Ownership::new(capacity);
    let ops = ops_per_thread();
    thread::scope(|scope| {
        let mut workers = Vec::new();
        for thread_index in 0..threads {
            let (ring, owners) = (&ring, &owners);
            workers.push(scope.spawn(move || {
                let mut held = [0u32; BATCH];
                let mut done = 0;
                let mut round = thread_index;
                while done < ops {
                    // Vary the batch size so batches straddle cycle boundaries in every phase.
                    let want = 1 + round % BATCH;
                    round += 1;
                    let got = if want == 1 {
                        held[0] = ring.pop().expect("false empty (pop)");
                        1
                    } else {
                        ring.pop_many(&mut held[..want])
                    };
                    assert!(got >= 1, "false empty (pop_many of {want})");
                    for &index in &held[..got] {
                        owners.take(index);
                    }
                    for &index in &held[..got] {
                        owners.give(index);
                    }
                    if round % 3 == 0 {
                        for &index in &held[..got] {
                            ring.push(index);
                        }
                    } else {
                        ring.push_many(&held[..got]);
                    }
                    done += 2 * got;
                }
            }));
        }
        join_all(workers);
    });
    assert_holds_exactly_all(&ring, capacity);
}

/// Regression: batches far larger than the ring, on rings of 1 and 4. A batch whose head and
/// tail loads straddle other threads' work once claimed dozens of positions and, after a push
/// had reset the threshold, subtracted every failed one: the threshold went negative with the
/// only free index in the ring, and every pop said empty from then on. Here every index is
/// back in the ring between rounds, so a stall (no round trip for seconds) is a false empty.
#[test]
fn oversized_batches_never_hide_a_free_index() {
    use std::time::{Duration, Instant};
    for (capacity, batch) in [(1, 64), (4, 16)] {
        let ring = IndexRing::new_full(capacity).unwrap();
        let owners = Ownership::new(capacity);
        let (round_trips, stop) = (AtomicUsize::new(0), AtomicBool::new(false));
        let target = 4 * ops_per_thread();
        thread::scope(|scope| {
            let workers = (0..thread_count())
                .map(|_| {
                    let (ring, owners, round_trips, stop) = (&ring, &owners, &round_trips, &stop);
                    scope.spawn(move || {
                        let mut held = vec![0u32; batch];
                        while !stop.load(Ordering::Relaxed) {
                            let got = ring.pop_many(&mut held);
                            for &index in &held[..got] {
                                owners.take(index);
                            }
                            for &index in &held[..got] {
                                owners.give(index);
                            }
                            ring.push_many(&held[..got]);
                            if got > 0 {
                                round_trips.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    })
                })
                .collect();
            let (mut seen, mut since) = (0, Instant::now());
            let stalled = loop {
                thread::sleep(Duration::from_millis(20));
                let now = round_trips.load(Ordering::Relaxed);
                if now >= target {
                    break None;
                }
                if now != seen {
                    (seen, since) = (now, Instant::now());
                } else if since.elapsed() > Duration::from_secs(5) {
                    break Some(now);
                }
            };
            stop.store(true, Ordering::Relaxed);
            join_all(workers);
            assert_eq!(
                stalled,
                None,
                "capacity {capacity}, batches of {batch}: no round trip for 5 s with every index \
                 free (len {}, pop {:?})",
                ring.len(),
                ring.pop()
            );
        });
        assert_holds_exactly_all(&ring, capacity);
    }
}

/// Where an index is, for the handoff test.
const IN_FREE: u8 = 0;
const WITH_PRODUCER: u8 = 1;
const IN_READY: u8 = 2;
const WITH_CONSUMER: u8 = 3;

/// The pool's producer/consumer pattern: producers take indices from a full `free` ring and
/// hand them to consumers through an initially empty `ready` ring, which runs empty all the
/// time (threshold, catch-up and empty pops under fire). Each index's location is tracked.
#[test]
fn handoff_through_a_second_ring() {
    let threads = thread_count();
    let (producers, consumers) = (threads / 2, threads - threads / 2);
    let capacity = 16;
    let free = IndexRing::new_full(capacity).unwrap();
    let ready = IndexRing::new_empty(capacity).unwrap();
    let location: Vec<AtomicU8> = (0..capacity).map(|_| AtomicU8::new(IN_FREE)).collect();
    let moves = |index: u32, from: u8, to: u8| {
        let previous = location[index as usize].swap(to, Ordering::AcqRel);
        assert_eq!(previous, from, "index {index} was in state {previous}, expected {from}");
    };
    let per_producer = ops_per_thread() / 2;
    let total = producers * per_producer;
    let received = AtomicUsize::new(0);
    thread::scope(|scope| {
        let mut workers = Vec::new();
        for _ in 0..producers {
            workers.push(scope.spawn(|| {
                for _ in 0..per_producer {
                    let index = loop {
                        match free.pop() {
                            Some(index) => break index,
                            None => thread::yield_now(), // more threads than cores: let the one we wait for run
                        }
                    };
                    moves(index, IN_FREE, WITH_PRODUCER);
                    moves(index, WITH_PRODUCER, IN_READY);
                    ready.push(index);
                }
            }));
        }
        for _ in 0..consumers {
            workers.push(scope.spawn(|| {
                while received.load(Ordering::Relaxed) < total {
                    let Some(index) = ready.pop() else {
                        thread::yield_now();
                        continue;
                    };
                    moves(index, IN_READY, WITH_CONSUMER);
                    moves(index, WITH_CONSUMER, IN_FREE);
                    free.push(index);
                    received.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        join_all(workers);
    });
    assert_eq!(received.load(Ordering::Relaxed), total);
    assert_eq!(ready.pop(), None);
    assert_holds_exactly_all(&free, capacity);
}
