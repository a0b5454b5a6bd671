//! Multi-thread stress with an ownership bitmap: no buffer is ever held twice, none is lost,
//! and `try_get` never reports exhaustion while buffers are free.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;

use iobuf_pool::{Buf, BufferPool};

/// Marks taken/returned in a bitmap and stamps the buffer with its owner, checking both.
struct Ownership {
    held: Vec<AtomicBool>,
    takes: AtomicU64,
}

impl Ownership {
    fn new(capacity: usize) -> Self {
        Self {
            held: (0..capacity).map(|_| AtomicBool::new(false)).collect(),
            takes: AtomicU64::new(0),
        }
    }

    fn take(&self, mut buf: Buf, owner: u64) -> Buf {
        let was = self.held[buf.index() as usize].swap(true, Ordering::AcqRel);
        assert!(!was, "buffer {} handed out twice", buf.index());
        buf[..8].copy_from_slice(&owner.to_le_bytes());
        self.takes.fetch_add(1, Ordering::Relaxed);
        buf
    }

    fn give(&self, buf: Buf, owner: u64) {
        assert_eq!(
            buf[..8],
            owner.to_le_bytes(),
            "buffer {} written by another owner",
            buf.index()
        );
        let was = self.held[buf.index() as usize].swap(false, Ordering::AcqRel);
        assert!(was, "buffer {} returned but not held", buf.index());
        drop(buf);
    }
}

fn threads() -> usize {
    2 * thread::available_parallelism().map_or(2, usize::from)
}

/// Every thread takes `hold` buffers and gives them back, `rounds` times; with capacity for
/// everyone at once, `try_get` must never fail.
fn churn(cache: usize, hold: usize) {
    let threads = threads();
    let capacity = threads * hold + threads * cache; // caches may park up to `cache` each
    let pool = BufferPool::builder(64).capacity(capacity.max(1)).cache_size(cache).build().unwrap();
    let ownership = Ownership::new(capacity.max(1));
    let rounds = common::scaled(1_000_000 / hold) as u64;
    thread::scope(|scope| {
        let mut workers = Vec::new();
        for t in 0..threads as u64 {
            let (pool, ownership) = (&pool, &ownership);
            workers.push(scope.spawn(move || {
                let mut held = Vec::with_capacity(hold);
                for round in 0..rounds {
                    let owner = t << 32 | round;
                    for _ in 0..hold {
                        let buf = pool.try_get().expect("false exhaustion: buffers were free");
                        held.push(ownership.take(buf, owner));
                    }
                    for buf in held.drain(..) {
                        ownership.give(buf, owner);
                    }
                }
            }));
        }
        common::join_all(workers);
    });
    assert_eq!(ownership.takes.load(Ordering::Relaxed), threads as u64 * rounds * hold as u64);
    let stats = pool.stats();
    assert_eq!((stats.available, stats.in_use), (pool.capacity(), 0), "cache {cache}");
}

#[test]
fn churn_without_cache() {
    churn(0, 1);
}

#[test]
fn churn_with_cache() {
    churn(8, 1);
}

#[test]
fn churn_with_cache_holding_several() {
    churn(4, 3);
}

/// Regression: a pool that is never empty never reports exhaustion — with caches larger than
/// the pool, threads that come and go (flushing at exit), and returns from other threads. A
/// permit count keeps at most `capacity - 1` buffers out, so every `try_get` must succeed. A
/// sweep once let a cache it had already drained refill from the ring behind its back and
/// then found the ring empty.
#[test]
fn a_buffer_free_in_any_cache_is_found() {
    use std::sync::atomic::AtomicUsize;
    const CAPACITY: usize = 6;
    let pool = BufferPool::builder(64).capacity(CAPACITY).cache_size(8).build().unwrap();
    let ownership = Ownership::new(CAPACITY);
    let out = AtomicUsize::new(0); // buffers out, or about to be
    let give = |buf: Buf, owner: u64| {
        ownership.give(buf, owner);
        out.fetch_sub(1, Ordering::SeqCst);
    };
    let (to_returner, returns) = mpsc::channel::<(Buf, u64)>();
    thread::scope(|scope| {
        let give = &give;
        let returner =
            scope.spawn(move || returns.iter().for_each(|(buf, owner)| give(buf, owner)));
        for generation in 0..common::scaled(5000) as u64 {
            let workers: Vec<_> = (0..threads() as u64)
                .map(|t| {
                    let (pool, ownership, out) = (&pool, &ownership, &out);
                    let to_returner = to_returner.clone();
                    scope.spawn(move || {
                        let mut next = common::xorshift((generation << 8 | t) + 1);
                        let mut kept = Vec::new();
                        for op in 0..1 + next() % 64 {
                            let owner = generation << 40 | t << 20 | op;
                            // A permit: fewer than CAPACITY out, so one is always free.
                            while out
                                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                                    (n < CAPACITY - 1).then_some(n + 1)
                                })
                                .is_err()
                            {
                                match kept.pop() {
                                    Some((buf, owner)) => give(buf, owner),
                                    None => thread::yield_now(),
                                }
                            }
                            let buf = pool.try_get().expect("false exhaustion: a buffer was free");
                            let buf = ownership.take(buf, owner);
                            match next() % 3 {
                                0 => to_returner.send((buf, owner)).unwrap(),
                                1 => kept.push((buf, owner)),
                                _ => give(buf, owner),
                            }
                        }
                        kept.into_iter().for_each(|(buf, owner)| give(buf, owner));
                    })
                })
                .collect();
            common::join_all(workers);
        }
        drop(to_returner);
        common::join_all(vec![returner]);
    });
    let stats = pool.stats();
    assert_eq!((stats.available, stats.in_use, stats.exhausted), (CAPACITY, 0, 0));
}

/// Producers take buffers and hand them to consumers over channels, which return them: every
/// return is from a thread that did not take the buffer. The pool is smaller than the
/// channels, so producers block in `get` and are woken by foreign returns.
#[test]
fn cross_thread_returns_with_blocking_gets() {
    let pairs = threads() / 2;
    let pool = BufferPool::builder(64).capacity(pairs * 2).cache_size(4).build().unwrap();
    let ownership = Ownership::new(pool.capacity());
    let per_producer = common::scaled(300_000) as u64;
    thread::scope(|scope| {
        let mut workers = Vec::new();
        for p in 0..pairs as u64 {
            let (tx, rx) = mpsc::sync_channel::<(Buf, u64)>(64);
            let (pool, ownership) = (&pool, &ownership);
            workers.push(scope.spawn(move || {
                for n in 0..per_producer {
                    let owner = p << 32 | n;
                    tx.send((ownership.take(pool.get(), owner), owner)).unwrap();
                }
            }));
            workers.push(scope.spawn(move || {
                for (buf, owner) in rx {
                    ownership.give(buf, owner);
                }
            }));
        }
        common::join_all(workers);
    });
    assert_eq!(ownership.takes.load(Ordering::Relaxed), pairs as u64 * per_producer);
    assert_eq!(pool.stats().available, pool.capacity());
}

/// Async acquirers and blocking getters contend on a pool of 2 with a hand-written executor
/// per thread; every future completes (no lost wake-up) and every buffer comes back.
#[test]
fn async_and_blocking_waiters_under_contention() {
    use common::executor::Executor;
    let pool = BufferPool::builder(64).capacity(2).cache_size(2).build().unwrap();
    let ownership = Ownership::new(2);
    let per_thread = common::scaled(20_000) as u64;
    thread::scope(|scope| {
        let mut workers = Vec::new();
        for t in 0..threads() as u64 {
            let (pool, ownership) = (&pool, &ownership);
            workers.push(scope.spawn(move || {
                for n in 0..per_thread {
                    let owner = t << 32 | n;
                    let buf = if t % 2 == 0 {
                        pool.get()
                    } else {
                        let mut exec = Executor::new();
                        let slot = std::sync::Arc::new(std::sync::Mutex::new(None));
                        let (fut_pool, fut_slot) = (pool.clone(), slot.clone());
                        exec.spawn(async move {
                            *fut_slot.lock().unwrap() = Some(fut_pool.acquire().await);
                        });
                        // The waker runs on the putting thread and queues the task; a
                        // lost wake-up would leave it pending and hang this loop.
                        while exec.run_until_stalled() > 0 {
                            thread::yield_now();
                        }
                        let buf = slot.lock().unwrap().take();
                        buf.expect("acquire completed")
                    };
                    ownership.give(ownership.take(buf, owner), owner);
                }
            }));
        }
        common::join_all(workers);
    });
    assert_eq!(pool.stats().available, 2);
}

/// Buffers returned from many threads after the last pool handle is gone: the pool is freed
/// exactly once (ASan and the maps test in `lifetime.rs` check the freeing itself).
#[test]
fn buffers_returned_after_the_pool_is_gone() {
    for _ in 0..common::scaled(200) {
        let pool = BufferPool::builder(4096).capacity(8).cache_size(2).build().unwrap();
        let bufs: Vec<_> = (0..8).map(|_| pool.try_get().unwrap()).collect();
        drop(pool);
        let handles: Vec<_> =
            bufs.into_iter().map(|buf| thread::spawn(move || drop(buf))).collect();
        for handle in handles {
            handle.join().unwrap();
        }
    }
}
