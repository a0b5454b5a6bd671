//! The `queue` workload: the index ring against crossbeam's `ArrayQueue<u32>` (Vyukov's ring,
//! the peer) and `Mutex<Vec<u32>>`, as a pool's free list is used.
//!
//! - **churn**: every thread takes an index from a full ring of 1024 and gives it back (a
//!   pool's get + put); figures are pairs per second.
//! - **churn, batches of 8**: the same with 8 indices at a time; the index ring uses
//!   `pop_many`/`push_many` (one fetch-and-add per batch), the others loop. Indices per second.
//! - **handoff**: half the threads produce, half consume, as a reactor that gets buffers and
//!   workers that return them: producers move an index from a full `free` ring to an empty
//!   `ready` ring, consumers move it back; figures are indices handed over per second. Needs
//!   two threads, so it starts at 2.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_queue::ArrayQueue;
use crossbeam_utils::Backoff;
use iobuf_queue::IndexRing;

use crate::{Settings, Table, measure};

/// Indices in every ring, as in a pool of 1024 buffers.
const CAPACITY: usize = 1024;
/// Batch size of the batched churn.
const BATCH: usize = 8;
/// Operations between two looks at the stop flag.
const CHECK_EVERY: u64 = 64;

/// A bounded free list of `u32` indices, as each contender provides it.
trait FreeList: Sync + Sized {
    const NAME: &'static str;
    fn new_full(capacity: usize) -> Self;
    fn new_empty(capacity: usize) -> Self;
    fn get(&self) -> Option<u32>;
    fn put(&self, index: u32);

    /// Gets up to `out.len()` indices; the default loops over `get`.
    fn get_many(&self, out: &mut [u32]) -> usize {
        let mut got = 0;
        while got < out.len() {
            match self.get() {
                Some(index) => out[got] = index,
                None => break,
            }
            got += 1;
        }
        got
    }

    /// Puts every index back; the default loops over `put`.
    fn put_many(&self, indices: &[u32]) {
        for &index in indices {
            self.put(index);
        }
    }
}

impl FreeList for IndexRing {
    const NAME: &'static str = "IndexRing";
    fn new_full(capacity: usize) -> Self {
        IndexRing::new_full(capacity).expect("valid capacity")
    }
    fn new_empty(capacity: usize) -> Self {
        IndexRing::new_empty(capacity).expect("valid capacity")
    }
    fn get(&self) -> Option<u32> {
        self.pop()
    }
    fn put(&self, index: u32) {
        self.push(index);
    }
    fn get_many(&self, out: &mut [u32]) -> usize {
        self.pop_many(out)
    }
    fn put_many(&self, indices: &[u32]) {
        self.push_many(indices);
    }
}

impl FreeList for ArrayQueue<u32> {
    const NAME: &'static str = "ArrayQueue";
    fn new_full(capacity: usize) -> Self {
        let queue = ArrayQueue::new(capacity);
        for index in 0..capacity as u32 {
            queue.push(index).expect("room for every index");
        }
        queue
    }
    fn new_empty(capacity: usize) -> Self {
        ArrayQueue::new(capacity)
    }
    fn get(&self) -> Option<u32> {
        self.pop()
    }
    fn put(&self, index: u32) {
        self.push(index).expect("a free list never overflows");
    }
}

impl FreeList for Mutex<Vec<u32>> {
    const NAME: &'static str = "Mutex<Vec>";
    fn new_full(capacity: usize) -> Self {
        Mutex::new((0..capacity as u32).collect())
    }
    fn new_empty(capacity: usize) -> Self {
        Mutex::new(Vec::with_capacity(capacity))
    }
    fn get(&self) -> Option<u32> {
        self.lock().expect("not poisoned").pop()
    }
    fn put(&self, index: u32) {
        self.lock().expect("not poisoned").push(index);
    }
}

/// Pairs of get + put per second on one shared free list.
fn churn<L: FreeList>(threads: usize, settings: &Settings) -> f64 {
    let list = L::new_full(CAPACITY);
    measure(threads, settings.cell, |_, stop| {
        let mut pairs = 0;
        while !stop.load(Ordering::Relaxed) {
            for _ in 0..CHECK_EVERY {
                let index = list.get().expect("capacity exceeds the thread count");
                list.put(std::hint::black_box(index));
            }
            pairs += CHECK_EVERY;
        }
        pairs
    })
}

/// Indices per second moved in batches of [`BATCH`].
fn churn_batched<L: FreeList>(threads: usize, settings: &Settings) -> f64 {
    let list = L::new_full(CAPACITY);
    measure(threads, settings.cell, |_, stop| {
        let mut indices = 0;
        let mut held = [0u32; BATCH];
        while !stop.load(Ordering::Relaxed) {
            for _ in 0..CHECK_EVERY {
                let got = list.get_many(&mut held);
                list.put_many(std::hint::black_box(&held[..got]));
                indices += got as u64;
            }
        }
        indices
    })
}

/// Takes an index from `from`, waiting while it is empty; `None` once `stop` is set. Waits as
/// a pool would (spin, then yield the thread), the same for every contender: a pure spin
/// burns whole time slices whenever the other side is not running.
fn take<L: FreeList>(from: &L, stop: &AtomicBool) -> Option<u32> {
    let backoff = Backoff::new();
    loop {
        if let Some(index) = from.get() {
            return Some(index);
        }
        if stop.load(Ordering::Relaxed) {
            return None;
        }
        backoff.snooze();
    }
}

/// Indices handed from producers to consumers per second.
fn handoff<L: FreeList>(threads: usize, settings: &Settings) -> f64 {
    let free = L::new_full(CAPACITY);
    let ready = L::new_empty(CAPACITY);
    let producers = threads / 2;
    measure(threads, settings.cell, |thread, stop| {
        let (from, to) = if thread < producers { (&free, &ready) } else { (&ready, &free) };
        let mut moved = 0;
        while let Some(index) = take(from, stop) {
            to.put(index);
            moved += 1;
        }
        // Only consumers count: each handoff is one producer move and one consumer move.
        if thread < producers { 0 } else { moved }
    })
}

/// One table: `run_one::<L>` for every contender at every thread count from `min_threads`.
fn table(
    title: &str,
    unit: &'static str,
    settings: &Settings,
    min_threads: usize,
    runs: [fn(usize, &Settings) -> f64; 3],
) -> String {
    let names = [IndexRing::NAME, ArrayQueue::<u32>::NAME, Mutex::<Vec<u32>>::NAME];
    let mut table = Table::new(title, unit, &names, 1);
    for threads in settings.thread_counts().into_iter().filter(|&t| t >= min_threads) {
        table.row(threads, runs.iter().map(|run| run(threads, settings)).collect());
    }
    table.render()
}

/// Runs the three queue workloads and returns the tables.
pub fn run(settings: &Settings) -> String {
    let mut out = table(
        "queue churn: get + put on one free list of 1024",
        "pairs/s",
        settings,
        1,
        [churn::<IndexRing>, churn::<ArrayQueue<u32>>, churn::<Mutex<Vec<u32>>>],
    );
    out += &table(
        "queue churn, batches of 8 (IndexRing: pop_many/push_many)",
        "indices/s",
        settings,
        1,
        [
            churn_batched::<IndexRing>,
            churn_batched::<ArrayQueue<u32>>,
            churn_batched::<Mutex<Vec<u32>>>,
        ],
    );
    out += &table(
        "queue handoff: half produce, half consume, through free + ready lists",
        "handoffs/s",
        settings,
        2,
        [handoff::<IndexRing>, handoff::<ArrayQueue<u32>>, handoff::<Mutex<Vec<u32>>>],
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn quick() -> Settings {
        Settings { cell: Duration::from_millis(20), max_threads: 2 }
    }

    #[test]
    fn every_workload_makes_progress_for_every_contender() {
        let settings = quick();
        for run in [churn::<IndexRing>, churn::<ArrayQueue<u32>>, churn::<Mutex<Vec<u32>>>] {
            assert!(run(2, &settings) > 0.0);
        }
        for run in [churn_batched::<IndexRing>, churn_batched::<ArrayQueue<u32>>] {
            assert!(run(2, &settings) > 0.0);
        }
        for run in [handoff::<IndexRing>, handoff::<ArrayQueue<u32>>, handoff::<Mutex<Vec<u32>>>] {
            assert!(run(2, &settings) > 0.0);
        }
    }

    #[test]
    fn default_batch_calls_stop_at_empty() {
        let list = <Mutex<Vec<u32>> as FreeList>::new_full(3);
        let mut out = [0; 8];
        assert_eq!(list.get_many(&mut out), 3);
        list.put_many(&out[..3]);
        assert_eq!(list.get_many(&mut out), 3);
    }

    #[test]
    fn tables_have_a_row_per_thread_count() {
        let text = run(&Settings { cell: Duration::from_millis(5), max_threads: 2 });
        assert_eq!(text.matches("ratio to ArrayQueue").count(), 3, "{text}");
        // Rows are "threads | figure (ratio)x | ...": 1 and 2 threads twice, handoff only 2.
        let rows: Vec<&str> = text.lines().filter(|line| line.contains("x) |")).collect();
        let threads: Vec<&str> =
            rows.iter().map(|row| row.split('|').next().unwrap().trim()).collect();
        assert_eq!(threads, ["1", "2", "1", "2", "2"], "{text}");
    }
}
