//! Uncontended cost of the index ring against its peers: one thread taking an index and giving
//! it back, as a pool's get + put does, on `IndexRing`, crossbeam's `ArrayQueue<u32>` (the
//! Vyukov ring the brief measures against) and `Mutex<Vec<u32>>`; and the batch calls.
//!
//! `cargo bench -p iobuf-queue --bench index_ring`

use std::hint::black_box;
use std::sync::Mutex;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use crossbeam_queue::ArrayQueue;
use iobuf_queue::IndexRing;

const CAPACITY: usize = 1024;
const BATCH: usize = 16;

fn full_array_queue() -> ArrayQueue<u32> {
    let queue = ArrayQueue::new(CAPACITY);
    for index in 0..CAPACITY as u32 {
        queue.push(index).unwrap();
    }
    queue
}

fn pop_push_pair(c: &mut Criterion) {
    let mut group = c.benchmark_group("pop_push_pair");
    group.throughput(Throughput::Elements(1));

    let ring = IndexRing::new_full(CAPACITY).unwrap();
    group.bench_function("IndexRing", |b| {
        b.iter(|| {
            let index = ring.pop().unwrap();
            ring.push(black_box(index));
        })
    });

    let queue = full_array_queue();
    group.bench_function("ArrayQueue", |b| {
        b.iter(|| {
            let index = queue.pop().unwrap();
            queue.push(black_box(index)).unwrap();
        })
    });

    let stack = Mutex::new((0..CAPACITY as u32).collect::<Vec<_>>());
    group.bench_function("Mutex<Vec>", |b| {
        b.iter(|| {
            let index = stack.lock().unwrap().pop().unwrap();
            stack.lock().unwrap().push(black_box(index));
        })
    });
    group.finish();
}

fn batch_of_16(c: &mut Criterion) {
    let mut group = c.benchmark_group("batch_of_16");
    group.throughput(Throughput::Elements(BATCH as u64));

    let ring = IndexRing::new_full(CAPACITY).unwrap();
    group.bench_function("IndexRing pop_many+push_many", |b| {
        let mut out = [0u32; BATCH];
        b.iter(|| {
            let got = ring.pop_many(&mut out);
            ring.push_many(black_box(&out[..got]));
        })
    });

    group.bench_function("IndexRing 16 x pop+push", |b| {
        let mut out = [0u32; BATCH];
        b.iter(|| {
            for slot in &mut out {
                *slot = ring.pop().unwrap();
            }
            for &index in black_box(&out) {
                ring.push(index);
            }
        })
    });

    let queue = full_array_queue();
    group.bench_function("ArrayQueue 16 x pop+push", |b| {
        let mut out = [0u32; BATCH];
        b.iter(|| {
            for slot in &mut out {
                *slot = queue.pop().unwrap();
            }
            for &index in black_box(&out) {
                queue.push(index).unwrap();
            }
        })
    });
    group.finish();
}

criterion_group!(benches, pop_push_pair, batch_of_16);
criterion_main!(benches);
