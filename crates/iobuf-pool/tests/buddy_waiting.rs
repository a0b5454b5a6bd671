//! The buddy allocator when nothing fits: a blocking alloc woken by a free, timeouts, and the
//! async acquire under the hand-written executor (FIFO among waiters that can be served,
//! cancellation passing its block on, a large waiter served once its block coalesces).

mod common;

use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use common::executor::Executor;
use iobuf_pool::{BuddyAllocator, Buf, PoolError};

const KIB: usize = 1 << 10;

/// 64 KiB of 4 KiB to 64 KiB blocks.
fn small_buddy(cache_depth: usize) -> BuddyAllocator {
    BuddyAllocator::builder().region_size(64 * KIB).cache_depth(cache_depth).build().unwrap()
}

#[test]
fn a_free_wakes_a_parked_alloc() {
    for cache_depth in [0, 8] {
        let buddy = small_buddy(cache_depth);
        let whole = buddy.alloc(64 * KIB).unwrap();
        let (started_tx, started_rx) = mpsc::channel();
        let getter = {
            let buddy = buddy.clone();
            thread::spawn(move || {
                started_tx.send(()).unwrap();
                buddy.alloc(8 * KIB).unwrap().capacity()
            })
        };
        started_rx.recv().unwrap();
        // Let the getter reach the park (it spins and yields first).
        while buddy.stats().waiting == 0 {
            thread::yield_now();
        }
        drop(whole);
        assert_eq!(getter.join().unwrap(), 8 * KIB, "cache depth {cache_depth}");
        assert_eq!(buddy.stats().waits, 1);
    }
}

#[test]
fn a_free_of_a_small_block_wakes_a_waiter_once_its_buddy_merges() {
    let buddy = small_buddy(0);
    let halves = [buddy.alloc(32 * KIB).unwrap(), buddy.alloc(32 * KIB).unwrap()];
    let getter = {
        let buddy = buddy.clone();
        thread::spawn(move || buddy.alloc(64 * KIB).unwrap().capacity())
    };
    while buddy.stats().waiting == 0 {
        thread::yield_now();
    }
    let [first, second] = halves;
    drop(first); // not enough on its own
    thread::sleep(Duration::from_millis(20));
    assert!(!getter.is_finished(), "half the region cannot serve the whole");
    drop(second); // merges with the first: the whole region
    assert_eq!(getter.join().unwrap(), 64 * KIB);
}

#[test]
fn timeouts_expire_and_succeed() {
    let buddy = small_buddy(8);
    let whole = buddy.alloc(64 * KIB).unwrap();
    let started = Instant::now();
    let err = buddy.alloc_timeout(4 * KIB, Duration::from_millis(30)).unwrap_err();
    assert_eq!(err, PoolError::Timeout);
    assert!(started.elapsed() >= Duration::from_millis(30));
    assert_eq!(buddy.stats().waiting, 0, "a timed-out waiter leaves the queue");

    let returner = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        drop(whole);
    });
    let buf = buddy.alloc_timeout(16 * KIB, Duration::from_secs(30)).unwrap();
    assert_eq!(buf.capacity(), 16 * KIB);
    returner.join().unwrap();
}

type Done = Arc<Mutex<Vec<(usize, Buf)>>>;

/// Acquires `size` bytes in a task and records completion order by `tag`.
fn spawn_acquirer(
    exec: &mut Executor,
    buddy: &BuddyAllocator,
    done: &Done,
    tag: usize,
    size: usize,
) -> usize {
    let (buddy, done) = (buddy.clone(), done.clone());
    exec.spawn(async move {
        let buf = buddy.acquire(size).unwrap().await;
        done.lock().unwrap().push((tag, buf));
    })
}

fn tags(done: &Done) -> Vec<usize> {
    done.lock().unwrap().iter().map(|(tag, _)| *tag).collect()
}

#[test]
fn async_waiters_are_served_in_fifo_order() {
    let buddy = small_buddy(8);
    let done = Done::default();
    let quarters: Vec<_> = (0..4).map(|_| buddy.try_alloc(16 * KIB).unwrap()).collect();
    let mut exec = Executor::new();
    for tag in 0..4 {
        spawn_acquirer(&mut exec, &buddy, &done, tag, 16 * KIB);
    }
    assert_eq!(exec.run_until_stalled(), 4);
    assert_eq!(buddy.stats().waiting, 4);
    let mut quarters = quarters.into_iter();
    drop(quarters.next()); // serves the first waiter
    drop(quarters.next()); // and the second
    assert_eq!(exec.run_until_stalled(), 2);
    assert_eq!(tags(&done), [0, 1]);
    drop(quarters); // the last two quarters serve the others
    assert_eq!(exec.run_until_stalled(), 0);
    assert_eq!(tags(&done), [0, 1, 2, 3]);
    done.lock().unwrap().clear();
    buddy.trim();
    assert_eq!(buddy.stats().largest_free, 64 * KIB);
}

#[test]
fn a_small_waiter_is_not_held_behind_a_large_one() {
    // The large waiter queues first; a free that cannot make its block still serves the small
    // waiter behind it (otherwise a thread holding small blocks while it waits for another
    // would deadlock with the large request).
    let buddy = small_buddy(0);
    let done = Done::default();
    let quarters: Vec<_> = (0..4).map(|_| buddy.try_alloc(16 * KIB).unwrap()).collect();
    let mut exec = Executor::new();
    spawn_acquirer(&mut exec, &buddy, &done, 0, 64 * KIB);
    spawn_acquirer(&mut exec, &buddy, &done, 1, 4 * KIB);
    assert_eq!(exec.run_until_stalled(), 2);
    let mut quarters = quarters.into_iter();
    drop(quarters.next());
    assert_eq!(exec.run_until_stalled(), 1);
    assert_eq!(tags(&done), [1], "the small waiter got a piece of the free quarter");
    // Everything back, the small block included: the large waiter gets the whole region.
    drop(quarters);
    done.lock().unwrap().clear();
    assert_eq!(exec.run_until_stalled(), 0);
    assert_eq!(tags(&done), [0]);
    assert_eq!(done.lock().unwrap()[0].1.capacity(), 64 * KIB);
}

#[test]
fn a_cancelled_waiter_passes_its_block_on() {
    let buddy = small_buddy(8);
    let done = Done::default();
    let whole = buddy.try_alloc(64 * KIB).unwrap();
    let mut exec = Executor::new();
    let first = spawn_acquirer(&mut exec, &buddy, &done, 0, 64 * KIB);
    spawn_acquirer(&mut exec, &buddy, &done, 1, 64 * KIB);
    assert_eq!(exec.run_until_stalled(), 2);
    // The free grants the block to the first waiter, which is cancelled before it runs.
    drop(whole);
    exec.cancel(first);
    assert_eq!(exec.run_until_stalled(), 0, "the second waiter got the block");
    assert_eq!(tags(&done), [1]);
    done.lock().unwrap().clear();
    assert_eq!(buddy.stats().waiting, 0);

    // Cancelled while queued, before any grant; then granted-then-cancelled with nobody
    // behind: either way the block comes back.
    let whole = buddy.try_alloc(64 * KIB).unwrap();
    let only = spawn_acquirer(&mut exec, &buddy, &done, 2, 4 * KIB);
    exec.run_until_stalled();
    exec.cancel(only);
    assert_eq!(buddy.stats().waiting, 0);
    drop(whole);
    let whole = buddy.try_alloc(64 * KIB).unwrap();
    let only = spawn_acquirer(&mut exec, &buddy, &done, 3, 4 * KIB);
    exec.run_until_stalled();
    drop(whole);
    exec.cancel(only);
    assert!(done.lock().unwrap().is_empty());
    buddy.trim();
    let stats = buddy.stats();
    assert_eq!((stats.allocated, stats.largest_free), (0, 64 * KIB), "nothing leaked");
}

#[test]
fn blocking_and_async_waiters_share_one_fifo() {
    let buddy = small_buddy(8);
    let done = Done::default();
    let whole = buddy.try_alloc(64 * KIB).unwrap();
    let mut exec = Executor::new();
    spawn_acquirer(&mut exec, &buddy, &done, 0, 64 * KIB);
    exec.run_until_stalled();
    let blocking = {
        let buddy = buddy.clone();
        thread::spawn(move || buddy.alloc(64 * KIB).unwrap().capacity())
    };
    while buddy.stats().waiting < 2 {
        thread::yield_now();
    }
    drop(whole); // goes to the async waiter, queued first
    assert_eq!(exec.run_until_stalled(), 0);
    assert!(!blocking.is_finished());
    done.lock().unwrap().clear(); // its block goes to the blocked thread
    assert_eq!(blocking.join().unwrap(), 64 * KIB);
}
