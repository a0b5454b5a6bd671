//! The `pool` workload: get + put through iobuf-pool with and without its thread cache, against
//! pools hand-rolled on crossbeam's `ArrayQueue<u32>` and on `Mutex<Vec<u32>>` (see
//! [`peer_pools`](crate::peer_pools)). Every get writes one byte of its buffer.
//!
//! - **churn**: every thread takes a buffer and gives it back; pairs per second.
//! - **cross-thread return**: threads in pairs; one takes buffers and passes them through a
//!   small queue to the other, which drops them (a reactor that reads into buffers, a worker
//!   that returns them). Buffers handed over per second. Starts at 2 threads.

use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_queue::ArrayQueue;
use crossbeam_utils::Backoff;

use crate::peer_pools::{BenchPool, IobufPool, ListPool};
use crate::{Settings, Table, measure};

/// Buffers in every pool.
const CAPACITY: usize = 1024;
/// Bytes per buffer: one page, as for `O_DIRECT` reads.
const BUFFER: usize = 4096;
/// Operations between two looks at the stop flag.
const CHECK_EVERY: u64 = 64;
/// Depth of the hand-over queue of each pair.
const HANDOFF_DEPTH: usize = 64;

/// The four pools every workload runs on, in table order.
type Contenders =
    (IobufPool, IobufPool, ListPool<ArrayQueue<u32>>, ListPool<std::sync::Mutex<Vec<u32>>>);

fn contenders() -> Contenders {
    (
        IobufPool::new("iobuf (cache)", BUFFER, CAPACITY, 32),
        IobufPool::new("iobuf (no cache)", BUFFER, CAPACITY, 0),
        ListPool::new("ArrayQueue pool", BUFFER, CAPACITY),
        ListPool::new("Mutex<Vec> pool", BUFFER, CAPACITY),
    )
}

const NAMES: [&str; 4] =
    ["iobuf (cache)", "iobuf (no cache)", "ArrayQueue pool", "Mutex<Vec> pool"];
/// Ratios are against the ArrayQueue pool.
const BASELINE: usize = 2;

/// Every thread takes a buffer, writes a byte, gives it back.
fn churn<P: BenchPool>(pool: &P, threads: usize, settings: &Settings) -> f64 {
    measure(threads, settings.cell, |_, stop: &AtomicBool| {
        let mut ops = 0u64;
        loop {
            for _ in 0..CHECK_EVERY {
                let mut handle = pool.get().expect("capacity exceeds the thread count");
                P::touch(&mut handle, ops as u8);
                drop(handle);
            }
            ops += CHECK_EVERY;
            if stop.load(Ordering::Relaxed) {
                return ops;
            }
        }
    })
}

/// Pairs of threads: even ones take and pass on, odd ones drop.
fn cross_thread<P: BenchPool>(pool: &P, threads: usize, settings: &Settings) -> f64 {
    let pairs = threads / 2;
    let queues: Vec<ArrayQueue<P::Handle<'_>>> =
        (0..pairs).map(|_| ArrayQueue::new(HANDOFF_DEPTH)).collect();
    measure(pairs * 2, settings.cell, |thread, stop: &AtomicBool| {
        let queue = &queues[thread / 2];
        let backoff = Backoff::new();
        let mut ops = 0u64;
        if thread % 2 == 0 {
            // Taker: stops when told; counts nothing (the returner counts hand-overs).
            while !stop.load(Ordering::Relaxed) {
                let Some(mut handle) = pool.get() else {
                    backoff.snooze();
                    continue;
                };
                P::touch(&mut handle, 1);
                let mut pending = handle;
                while let Err(back) = queue.push(pending) {
                    pending = back;
                    if stop.load(Ordering::Relaxed) {
                        return 0;
                    }
                    backoff.snooze();
                }
                backoff.reset();
            }
            0
        } else {
            loop {
                match queue.pop() {
                    Some(handle) => {
                        drop(handle);
                        ops += 1;
                        backoff.reset();
                    }
                    None if stop.load(Ordering::Relaxed) => return ops,
                    None => backoff.snooze(),
                }
            }
        }
    })
}

/// Runs both workloads on every contender and renders the tables.
pub fn run(settings: &Settings) -> String {
    let (cached, uncached, array_queue, mutex) = contenders();
    let mut out = String::new();

    let mut table = Table::new(
        &format!("pool churn: get + write 1 byte + put, {CAPACITY} buffers of {BUFFER} B"),
        "pairs/s",
        &NAMES,
        BASELINE,
    );
    for threads in settings.thread_counts() {
        table.row(
            threads,
            vec![
                churn(&cached, threads, settings),
                churn(&uncached, threads, settings),
                churn(&array_queue, threads, settings),
                churn(&mutex, threads, settings),
            ],
        );
    }
    out += &table.render();

    let mut table = Table::new(
        "pool cross-thread return: taker threads pass buffers to returner threads",
        "buffers/s",
        &NAMES,
        BASELINE,
    );
    for threads in settings.thread_counts().into_iter().filter(|&t| t >= 2) {
        table.row(
            threads,
            vec![
                cross_thread(&cached, threads, settings),
                cross_thread(&uncached, threads, settings),
                cross_thread(&array_queue, threads, settings),
                cross_thread(&mutex, threads, settings),
            ],
        );
    }
    out += &table.render();
    out
}
