//! Loom models of the buddy allocator's concurrent parts: the per-order block cache (a bounded
//! lock-free queue) against the tree and its flush, the wake-up of a waiter by a free,
//! an async acquire cancelled while a free races it, and the last return freeing the allocator.
//!
//! Regions are 32 KiB of 4 KiB blocks, whose 4 KiB cache holds one block (a cache never parks
//! more than an eighth of the region): the smallest shape with a cache in it.
//!
//! Run with `cargo xtask loom` (RUSTFLAGS="--cfg iobuf_loom", release, bounded preemptions).
#![cfg(iobuf_loom)]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Waker};

use iobuf_pool::{BuddyAllocator, Buf, PoolError};
use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::thread;

const PAGE: usize = 4096;
const REGION: usize = 32 << 10;

/// `loom::model` with room for the longer paths that spin-then-park waits take.
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.max_branches = 20_000;
    builder.check(f);
}

/// A 32 KiB allocator of blocks up to `max_block`, with the 4 KiB cache (one block) or none.
fn buddy(max_block: usize, cache: bool) -> BuddyAllocator {
    BuddyAllocator::builder()
        .region_size(REGION)
        .max_block(max_block)
        .cache_depth(usize::from(cache))
        .build()
        .unwrap()
}

/// One flag per 4 KiB unit: set while a block over it is held. Panics on an overlap.
struct Owners(Vec<AtomicBool>, usize);

impl Owners {
    fn new(buddy: &BuddyAllocator) -> Self {
        Self(
            (0..REGION / PAGE).map(|_| AtomicBool::new(false)).collect(),
            buddy.regions()[0].as_ptr() as usize,
        )
    }
    fn units(&self, buf: &Buf) -> std::ops::Range<usize> {
        let first = (buf.as_ptr() as usize - self.1) / PAGE;
        first..first + buf.capacity() / PAGE
    }
    fn take(&self, buf: &Buf) {
        for unit in self.units(buf) {
            assert!(!self.0[unit].swap(true, Ordering::AcqRel), "unit {unit} held twice");
        }
    }
    fn give(&self, buf: Buf) {
        for unit in self.units(&buf) {
            assert!(self.0[unit].swap(false, Ordering::AcqRel), "unit {unit} not held");
        }
        drop(buf);
    }
}

/// After everything came back, the region coalesces to its maximum blocks again.
fn assert_whole(buddy: &BuddyAllocator) {
    buddy.trim();
    let stats = buddy.stats();
    assert_eq!((stats.allocated, stats.free, stats.waiting), (0, REGION, 0));
    assert_eq!(stats.largest_free, buddy.max_block());
}

#[test]
fn a_free_wakes_a_waiting_acquire() {
    for cache in [false, true] {
        model(move || {
            // The free (into the cache when there is one, else the tree) races the acquire's
            // registration: a lost wake-up leaves `block_on` waiting forever, which loom
            // reports as a deadlock. (A future registers on its first poll; a blocking alloc
            // would first spin and yield, which under loom lets the free land before it parks.)
            let buddy = buddy(8 << 10, cache);
            let mut held: Vec<Buf> =
                (0..REGION / PAGE).map(|_| buddy.try_alloc(PAGE).unwrap()).collect();
            let one = held.pop().unwrap();
            let returner = thread::spawn(move || drop(one));
            let buf = loom::future::block_on(buddy.acquire(PAGE).unwrap());
            assert_eq!(buf.capacity(), PAGE);
            returner.join().unwrap();
            drop((buf, held));
            assert_whole(&buddy);
        });
    }
}

#[test]
fn a_free_wakes_a_blocked_alloc() {
    model(|| {
        let buddy = buddy(8 << 10, true);
        let mut held: Vec<Buf> =
            (0..REGION / PAGE).map(|_| buddy.try_alloc(PAGE).unwrap()).collect();
        let getter = {
            let buddy = buddy.clone();
            thread::spawn(move || buddy.alloc(PAGE).unwrap().capacity())
        };
        drop(held.pop());
        assert_eq!(getter.join().unwrap(), PAGE);
        drop(held);
        assert_whole(&buddy);
    });
}

#[test]
fn a_cancelled_acquire_never_loses_the_block() {
    model(|| {
        let buddy = buddy(8 << 10, true);
        let held: Vec<Buf> = (0..REGION / PAGE).map(|_| buddy.try_alloc(PAGE).unwrap()).collect();
        let mut acquire = Box::pin(buddy.acquire(PAGE).unwrap());
        let first = Pin::new(&mut acquire).poll(&mut Context::from_waker(Waker::noop()));
        assert!(first.is_pending());
        // The free and the cancellation race.
        let mut held = held.into_iter();
        let one = held.next().unwrap();
        let returner = thread::spawn(move || drop(one));
        drop(acquire);
        returner.join().unwrap();
        drop(held);
        assert_whole(&buddy); // the block came back whichever won
    });
}

#[test]
fn the_cache_and_the_tree_never_hand_out_a_block_twice() {
    model(|| {
        // One thread cycles 4 KiB blocks through the cache; the other takes an 8 KiB block
        // from the tree and a 4 KiB one (cache or tree). Neither may get a unit the other holds.
        let buddy = buddy(8 << 10, true);
        let owners = Arc::new(Owners::new(&buddy));
        let cycler = {
            let (buddy, owners) = (buddy.clone(), owners.clone());
            thread::spawn(move || {
                for _ in 0..2 {
                    let buf = buddy.try_alloc(PAGE).expect("room for both threads");
                    owners.take(&buf);
                    owners.give(buf);
                }
            })
        };
        let big = buddy.try_alloc(8 << 10).expect("room for both threads");
        owners.take(&big);
        let small = buddy.try_alloc(PAGE).expect("room for both threads");
        owners.take(&small);
        owners.give(small);
        owners.give(big);
        cycler.join().unwrap();
        assert_whole(&buddy);
    });
}

#[test]
fn exhaustion_flushes_a_block_parked_concurrently() {
    model(|| {
        // One maximum block of 32 KiB; a 4 KiB block is taken and parked in the cache while the
        // main thread asks for the whole region. It may find the block out (exhausted), never
        // lose it: once the other thread is done, the whole region is to be had.
        let buddy = buddy(REGION, true);
        let parker = {
            let buddy = buddy.clone();
            // Finds the region taken, or parks its block when it drops it.
            thread::spawn(move || drop(buddy.try_alloc(PAGE)))
        };
        match buddy.try_alloc(REGION) {
            Ok(whole) => drop(whole),
            Err(err) => assert_eq!(err, PoolError::Exhausted),
        }
        parker.join().unwrap();
        assert_eq!(buddy.try_alloc(REGION).unwrap().capacity(), REGION);
    });
}

#[test]
fn the_last_return_after_the_allocator_is_dropped_frees_it() {
    model(|| {
        // loom reports a leaked or doubly freed Arc: the core must go exactly once, whichever
        // of the drop and the two returns (one through the cache) comes last.
        let buddy = buddy(8 << 10, true);
        let a = buddy.try_alloc(PAGE).unwrap();
        let b = buddy.try_alloc(8 << 10).unwrap();
        let returner = thread::spawn(move || drop(a));
        drop(buddy);
        drop(b);
        returner.join().unwrap();
    });
}
