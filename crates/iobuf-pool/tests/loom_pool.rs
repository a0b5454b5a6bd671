//! Loom models of the pool's handshakes: park/wake on put, async cancellation passing its
//! wake-up on, the thread-cache owner/thief protocol, and the thread-exit flush.
//!
//! Run with `cargo xtask loom` (RUSTFLAGS="--cfg iobuf_loom", release, bounded preemptions).
#![cfg(iobuf_loom)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering as StdOrdering};
use std::task::{Context, Wake, Waker};

use iobuf_pool::{Buf, BufferPool};
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;

/// `loom::model` with room for the longer paths that spin-then-park waits take at bound 3.
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.max_branches = 20_000;
    builder.check(f);
}

/// As [`model`], at most `bound` preemptions whatever `LOOM_MAX_PREEMPTIONS` says: for models
/// whose paths outgrow loom at a higher bound.
fn model_bounded(bound: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.max_branches = 20_000;
    builder.preemption_bound = Some(builder.preemption_bound.map_or(bound, |b| b.min(bound)));
    builder.check(f);
}

fn pool(capacity: usize, cache: usize) -> BufferPool {
    BufferPool::builder(64).capacity(capacity).cache_size(cache).build().unwrap()
}

/// One flag per index: set while someone holds it. Panics on a double take.
struct Owners(Vec<AtomicBool>);

impl Owners {
    fn new(n: usize) -> Self {
        Self((0..n).map(|_| AtomicBool::new(false)).collect())
    }
    fn take(&self, buf: &Buf) {
        assert!(!self.0[buf.index() as usize].swap(true, Ordering::AcqRel), "held twice");
    }
    fn give(&self, buf: Buf) {
        assert!(self.0[buf.index() as usize].swap(false, Ordering::AcqRel), "not held");
        drop(buf);
    }
}

#[test]
fn a_put_wakes_a_blocked_getter() {
    for cache in [0, 2] {
        model(move || {
            let pool = pool(1, cache);
            let held = pool.try_get().unwrap();
            let getter = {
                let pool = pool.clone();
                thread::spawn(move || pool.get().index())
            };
            drop(held);
            // A lost wake-up leaves the getter parked forever: loom reports a deadlock.
            assert_eq!(getter.join().unwrap(), 0);
            assert_eq!(pool.available(), 1);
        });
    }
}

struct CountingWaker(StdAtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, StdOrdering::Relaxed);
    }
}

#[test]
fn a_cancelled_acquire_never_loses_the_buffer() {
    model(|| {
        let pool = pool(1, 0);
        let held = pool.try_get().unwrap();
        let waker = Waker::from(std::sync::Arc::new(CountingWaker(StdAtomicUsize::new(0))));
        let mut acquire = Box::pin(pool.acquire());
        let first = Pin::new(&mut acquire).poll(&mut Context::from_waker(&waker));
        assert!(first.is_pending());
        // The put and the cancellation race.
        let returner = thread::spawn(move || drop(held));
        drop(acquire);
        returner.join().unwrap();
        assert_eq!(pool.available(), 1, "the buffer came back whichever won");
        assert_eq!(pool.stats().waiting, 0);
    });
}

#[test]
fn an_acquire_is_woken_with_its_buffer() {
    let cache: usize = std::env::var("MODEL_CACHE").ok().and_then(|s| s.parse().ok()).unwrap_or(2);
    loom::model(move || {
        let pool = pool(1, cache);
        let held = pool.try_get().unwrap();
        let returner = thread::spawn(move || drop(held));
        let buf = loom::future::block_on(pool.acquire());
        assert_eq!(buf.index(), 0);
        returner.join().unwrap();
    });
}

#[test]
fn the_owner_and_a_thief_never_share_a_cache() {
    model(|| {
        // Capacity 2, one held by each thread at most: a try_get must never fail, and no
        // index is ever held twice, whatever the thief does to the owner's cache.
        let pool = pool(2, 2);
        let owners = Arc::new(Owners::new(2));
        let owner_thread = {
            let (pool, owners) = (pool.clone(), owners.clone());
            thread::spawn(move || {
                for _ in 0..2 {
                    let buf = pool.try_get().expect("one of two is free");
                    owners.take(&buf);
                    owners.give(buf); // parks it in this thread's cache
                }
            })
        };
        let buf = pool.try_get().expect("one of two is free");
        owners.take(&buf);
        owners.give(buf);
        owner_thread.join().unwrap();
        let a = pool.try_get().expect("both are free after the join");
        let b = pool.try_get().expect("both are free after the join");
        assert_ne!(a.index(), b.index());
    });
}

#[test]
fn a_thread_s_cache_is_flushed_at_exit() {
    model(|| {
        let pool = pool(2, 2);
        let worker = {
            let pool = pool.clone();
            thread::spawn(move || {
                let a = pool.try_get().unwrap();
                let b = pool.try_get().unwrap();
                drop((a, b));
            })
        };
        worker.join().unwrap();
        let a = pool.try_get().unwrap();
        let b = pool.try_get().unwrap();
        assert_ne!(a.index(), b.index());
    });
}

#[test]
fn returns_from_two_threads_to_two_waits_are_not_lost() {
    // Four threads, each waking or parking through the ring: at bound 3 one path outgrows
    // loom's branch limit, so this model stays at bound 2.
    model_bounded(2, || {
        // Without thread caches (their protocol has models of its own above) so the state
        // space stays small: two returns on two threads race two blocking gets on a third.
        let pool = pool(2, 0);
        let a = pool.try_get().unwrap();
        let b = pool.try_get().unwrap();
        // The gets run on a thread of their own that ends after them: a late unpark aimed at
        // a finished wait then lands nowhere, where on the main thread loom would take it for
        // a wake-up of the join that follows (std ignores such a stray token).
        let getter = {
            let pool = pool.clone();
            thread::spawn(move || {
                let first = pool.get();
                let second = pool.get();
                assert_ne!(first.index(), second.index());
            })
        };
        let returners: Vec<_> =
            [a, b].into_iter().map(|buf| thread::spawn(move || drop(buf))).collect();
        getter.join().unwrap();
        for returner in returners {
            returner.join().unwrap();
        }
    });
}

#[test]
fn the_last_return_after_the_pool_is_dropped_frees_it() {
    model(|| {
        // loom reports a leaked or doubly freed Arc: the core must go exactly once, whichever
        // of the drop and the two returns (one through a thread cache) comes last.
        let pool = pool(2, 2);
        let a = pool.try_get().unwrap();
        let b = pool.try_get().unwrap();
        let returner = thread::spawn(move || drop(a));
        drop(pool);
        drop(b);
        returner.join().unwrap();
    });
}

/// Regression: three buffers free in one thread's cache and three concurrent `try_get`s with
/// nothing returned: each must get one. A sweep once let a cache it had already drained refill
/// from the ring behind its back, so its final pop found the ring empty and reported
/// exhaustion while a buffer sat free in that cache. Bound 2: at 3 the sweeps' spin-waits
/// outgrow loom's branch limit; 2 already finds the old interleaving.
#[test]
fn every_getter_finds_a_buffer_that_is_free_in_some_cache() {
    model_bounded(2, || {
        let pool = pool(3, 4);
        let held: Vec<Buf> = (0..3).map(|_| pool.try_get().unwrap()).collect();
        drop(held); // all three in this thread's cache; the ring is empty
        let other = {
            let pool = pool.clone();
            thread::spawn(move || pool.try_get().ok())
        };
        // This one stays alive (no thread-exit flush of what its refill cached) until main
        // has taken its own buffer.
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let cacher = {
            let (pool, gate) = (pool.clone(), gate.clone());
            thread::spawn(move || {
                let got = pool.try_get().ok();
                let mut open = gate.0.lock().unwrap();
                while !*open {
                    open = gate.1.wait(open).unwrap();
                }
                got
            })
        };
        let mine = pool.try_get();
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        let (other, cacher) = (other.join().unwrap(), cacher.join().unwrap());
        assert!(
            mine.is_ok() && other.is_some() && cacher.is_some(),
            "3 free buffers and 3 getters, yet: mine {:?}, other {}, cacher {}",
            mine.as_ref().err(),
            other.is_some(),
            cacher.is_some()
        );
    });
}
