//! The pool's memory outlives every buffer and index out of it, and goes when the last one
//! comes back. One binary of its own: it reads `/proc/self/maps`, which other tests' mappings
//! would disturb.

mod common;

use std::thread;

use iobuf_pool::BufferPool;

#[test]
fn memory_outlives_the_pool_and_goes_with_the_last_buffer() {
    // Plain drop: no buffer out, the region goes with the pool.
    let pool = BufferPool::builder(1 << 20).capacity(4).build().unwrap();
    let region = pool.regions()[0].as_ptr() as usize;
    assert!(common::mapped(region));
    drop(pool);
    assert!(!common::mapped(region), "an idle pool unmaps on drop");

    // Buffers out (some parked in this thread's cache first): the memory stays until the
    // last one is back, from whichever thread.
    let pool = BufferPool::builder(1 << 20).capacity(4).cache_size(4).build().unwrap();
    let region = pool.regions()[0].as_ptr() as usize;
    drop(pool.try_get().unwrap()); // leaves credits and an index in this thread's cache
    let mut bufs: Vec<_> = (0..4).map(|_| pool.try_get().unwrap()).collect();
    drop(pool);
    assert!(common::mapped(region), "buffers are out: the memory stays");
    for buf in &mut bufs {
        buf.fill(0xAB); // still valid memory
    }
    let last = bufs.pop().unwrap();
    let others = thread::spawn(move || drop(bufs));
    others.join().unwrap();
    assert!(common::mapped(region), "one buffer still out");
    drop(last);
    assert!(!common::mapped(region), "the last buffer back frees the pool");
}
