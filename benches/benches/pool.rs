//! Uncontended cost of one get + put (with one byte written) through iobuf-pool, with and
//! without its thread cache, against pools hand-rolled on crossbeam's `ArrayQueue<u32>` and on
//! `Mutex<Vec<u32>>`.
//!
//! `cargo bench -p iobuf-benches --bench pool`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use crossbeam_queue::ArrayQueue;
use iobuf_benches::peer_pools::{BenchPool, IobufPool, ListPool};

const CAPACITY: usize = 1024;
const BUFFER: usize = 4096;

fn pair<P: BenchPool>(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    pool: &P,
) {
    c.bench_function(pool.name(), |b| {
        b.iter(|| {
            let mut handle = pool.get().expect("a free buffer");
            P::touch(&mut handle, 1);
            drop(black_box(handle));
        })
    });
}

fn get_put_pair(c: &mut Criterion) {
    let mut group = c.benchmark_group("pool_get_put_pair");
    group.throughput(Throughput::Elements(1));
    pair(&mut group, &IobufPool::new("iobuf (cache)", BUFFER, CAPACITY, 32));
    pair(&mut group, &IobufPool::new("iobuf (no cache)", BUFFER, CAPACITY, 0));
    pair(&mut group, &ListPool::<ArrayQueue<u32>>::new("ArrayQueue pool", BUFFER, CAPACITY));
    pair(
        &mut group,
        &ListPool::<std::sync::Mutex<Vec<u32>>>::new("Mutex<Vec> pool", BUFFER, CAPACITY),
    );
    group.finish();
}

criterion_group!(benches, get_put_pair);
criterion_main!(benches);
