//! Per-thread caches: flushed on thread exit, drained before exhaustion, cheap foreign returns.

mod common;

use std::sync::{Barrier, mpsc};
use std::thread;

use iobuf_pool::{BufferPool, PoolError};

fn cached_pool(capacity: usize, cache: usize) -> BufferPool {
    BufferPool::builder(256).capacity(capacity).cache_size(cache).build().unwrap()
}

#[test]
fn a_thread_s_cache_is_flushed_when_it_exits() {
    let pool = cached_pool(16, 32);
    let worker = {
        let pool = pool.clone();
        thread::spawn(move || {
            let bufs: Vec<_> = (0..16).map(|_| pool.try_get().unwrap()).collect();
            drop(bufs); // all 16 land in this thread's cache
            pool.stats().available
        })
    };
    assert_eq!(worker.join().unwrap(), 16);
    // After the exit every buffer is back in the shared ring: no stealing needed.
    let stats = pool.stats();
    assert_eq!((stats.available, stats.in_use), (16, 0));
    let bufs: Vec<_> = (0..16).map(|_| pool.try_get().unwrap()).collect();
    assert_eq!(bufs.len(), 16);
}

#[test]
fn other_threads_caches_are_drained_before_exhaustion() {
    let pool = cached_pool(8, 32);
    let parked = Barrier::new(2);
    let (release_tx, release_rx) = mpsc::channel::<()>();
    thread::scope(|scope| {
        let (pool, parked) = (&pool, &parked);
        let worker = scope.spawn(move || {
            let bufs: Vec<_> = (0..8).map(|_| pool.try_get().unwrap()).collect();
            drop(bufs); // parked in this live thread's cache
            parked.wait();
            release_rx.recv().unwrap(); // stay alive, idle, while the main thread takes them
        });
        parked.wait();
        assert_eq!(pool.stats().available, 8);
        let taken: Vec<_> = (0..8).map(|_| pool.try_get().unwrap()).collect();
        assert_eq!(pool.try_get().unwrap_err(), PoolError::Exhausted);
        drop(taken);
        release_tx.send(()).unwrap();
        common::join_all([worker]);
    });
}

#[test]
fn reactor_gets_and_worker_returns() {
    // The reactor only takes, the worker only gives back: buffers flow through the ring in
    // halves of the cache, and none is lost or duplicated.
    let pool = cached_pool(64, 16);
    let (tx, rx) = mpsc::sync_channel(32);
    thread::scope(|scope| {
        let reactor = scope.spawn(|| {
            let mut seen = 0u64;
            for buf in rx {
                let buf: iobuf_pool::Buf = buf;
                seen += u64::from(buf[0]);
            }
            seen
        });
        for round in 0..10_000u32 {
            let mut buf = pool.get();
            buf[0] = (round % 2) as u8;
            tx.send(buf).unwrap();
        }
        drop(tx);
        common::join_all([reactor]);
    });
    assert_eq!(pool.stats().available, 64);
    let all: Vec<_> = (0..64).map(|_| pool.try_get().unwrap()).collect();
    let mut indices: Vec<u32> = all.iter().map(|b| b.index()).collect();
    indices.sort_unstable();
    assert_eq!(indices, (0..64).collect::<Vec<_>>());
}

#[test]
fn a_waiter_is_served_from_an_idle_thread_s_cache() {
    let pool = cached_pool(4, 8);
    let parked = Barrier::new(2);
    let (release_tx, release_rx) = mpsc::channel::<()>();
    thread::scope(|scope| {
        let (pool, parked) = (&pool, &parked);
        let worker = scope.spawn(move || {
            let bufs: Vec<_> = (0..4).map(|_| pool.try_get().unwrap()).collect();
            drop(bufs);
            parked.wait();
            release_rx.recv().unwrap();
        });
        parked.wait();
        // Blocking get: the spin phase drains the idle thread's cache.
        let got: Vec<_> = (0..4).map(|_| pool.get()).collect();
        assert_eq!(got.len(), 4);
        release_tx.send(()).unwrap();
        common::join_all([worker]);
    });
}
