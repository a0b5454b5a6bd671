//! Exhaustion: blocking get woken by put, timeouts, and the async acquire under a hand-written
//! executor (FIFO wake-ups, cancellation at every point).

mod common;

use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use common::executor::Executor;
use iobuf_pool::{Buf, BufferPool, PoolError};

fn one_buffer_pool(cache: usize) -> BufferPool {
    BufferPool::builder(128).capacity(1).cache_size(cache).build().unwrap()
}

#[test]
fn a_put_wakes_a_parked_getter() {
    for cache in [0, 8] {
        let pool = one_buffer_pool(cache);
        let held = pool.get();
        let (started_tx, started_rx) = mpsc::channel();
        let getter = {
            let pool = pool.clone();
            thread::spawn(move || {
                started_tx.send(()).unwrap();
                pool.get().index()
            })
        };
        started_rx.recv().unwrap();
        // Let the getter reach the park (it spins and yields first).
        while pool.stats().waiting == 0 {
            thread::yield_now();
        }
        drop(held);
        assert_eq!(getter.join().unwrap(), 0, "cache {cache}");
        assert_eq!(pool.stats().waits, 1);
    }
}

#[test]
fn timeouts_expire_and_succeed() {
    let pool = one_buffer_pool(8);
    let held = pool.get();
    let started = Instant::now();
    assert_eq!(pool.get_timeout(Duration::from_millis(30)).unwrap_err(), PoolError::Timeout);
    assert!(started.elapsed() >= Duration::from_millis(30));
    assert_eq!(pool.stats().waiting, 0, "a timed-out waiter leaves the queue");

    let returner = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        drop(held);
    });
    let buf = pool.get_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(buf.index(), 0);
    returner.join().unwrap();
}

/// Acquires in a task and records completion order.
fn spawn_acquirer(
    exec: &mut Executor,
    pool: &BufferPool,
    done: &Arc<Mutex<Vec<(usize, Buf)>>>,
    tag: usize,
) -> usize {
    let (pool, done) = (pool.clone(), done.clone());
    exec.spawn(async move {
        let buf = pool.acquire().await;
        done.lock().unwrap().push((tag, buf));
    })
}

#[test]
fn async_waiters_are_served_in_fifo_order() {
    let pool = BufferPool::builder(128).capacity(2).build().unwrap();
    let done = Arc::new(Mutex::new(Vec::new()));
    let held: Vec<_> = (0..2).map(|_| pool.try_get().unwrap()).collect();
    let mut exec = Executor::new();
    for tag in 0..4 {
        spawn_acquirer(&mut exec, &pool, &done, tag);
    }
    assert_eq!(exec.run_until_stalled(), 4);
    assert_eq!(pool.stats().waiting, 4);
    drop(held); // two puts serve the first two waiters
    assert_eq!(exec.run_until_stalled(), 2);
    let first: Vec<usize> = done.lock().unwrap().iter().map(|(tag, _)| *tag).collect();
    assert_eq!(first, [0, 1]);
    // Finished tasks hand their buffers back as the results are dropped.
    done.lock().unwrap().clear();
    assert_eq!(exec.run_until_stalled(), 0);
    let order: Vec<usize> = done.lock().unwrap().iter().map(|(tag, _)| *tag).collect();
    assert_eq!(order, [2, 3]);
    done.lock().unwrap().clear();
    assert_eq!(pool.available(), 2);
}

#[test]
fn a_cancelled_waiter_passes_its_wake_up_on() {
    let pool = BufferPool::builder(128).capacity(1).build().unwrap();
    let done = Arc::new(Mutex::new(Vec::new()));
    let held = pool.try_get().unwrap();
    let mut exec = Executor::new();
    let first = spawn_acquirer(&mut exec, &pool, &done, 0);
    spawn_acquirer(&mut exec, &pool, &done, 1);
    assert_eq!(exec.run_until_stalled(), 2);
    // The put grants the buffer to the first waiter, which is cancelled before it runs.
    drop(held);
    exec.cancel(first);
    assert_eq!(exec.run_until_stalled(), 0, "the second waiter got the buffer");
    assert_eq!(done.lock().unwrap()[0].0, 1);
    done.lock().unwrap().clear();
    assert_eq!(pool.available(), 1, "nothing leaked");
    assert_eq!(pool.stats().waiting, 0);
}

#[test]
fn a_cancelled_waiter_with_nobody_behind_returns_the_buffer() {
    let pool = BufferPool::builder(128).capacity(1).build().unwrap();
    let done = Arc::new(Mutex::new(Vec::new()));
    let held = pool.try_get().unwrap();
    let mut exec = Executor::new();
    let only = spawn_acquirer(&mut exec, &pool, &done, 0);
    exec.run_until_stalled();
    exec.cancel(only); // cancelled while queued, before any grant
    assert_eq!(pool.stats().waiting, 0);
    drop(held);
    assert_eq!(pool.available(), 1);
    // And granted-then-cancelled:
    let held = pool.try_get().unwrap();
    let only = spawn_acquirer(&mut exec, &pool, &done, 1);
    exec.run_until_stalled();
    drop(held);
    exec.cancel(only);
    assert_eq!(pool.available(), 1);
    assert!(done.lock().unwrap().is_empty());
}

#[test]
fn blocking_and_async_waiters_share_one_fifo() {
    let pool = BufferPool::builder(128).capacity(1).build().unwrap();
    let done = Arc::new(Mutex::new(Vec::new()));
    let held = pool.try_get().unwrap();
    let mut exec = Executor::new();
    spawn_acquirer(&mut exec, &pool, &done, 0);
    exec.run_until_stalled();
    let blocking = {
        let pool = pool.clone();
        thread::spawn(move || pool.get().index())
    };
    while pool.stats().waiting < 2 {
        thread::yield_now();
    }
    drop(held); // goes to the async waiter, queued first
    assert_eq!(exec.run_until_stalled(), 0);
    assert!(!blocking.is_finished());
    done.lock().unwrap().clear(); // its buffer goes to the blocked thread
    assert_eq!(blocking.join().unwrap(), 0);
}
