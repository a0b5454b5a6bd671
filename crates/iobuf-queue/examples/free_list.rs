//! The README's example, plus a free list shared by threads.
//!
//! Run with `cargo run -p iobuf-queue --example free_list`.

use std::thread;

use iobuf_queue::{BoundedQueue, CapacityError, IndexRing};

fn main() -> Result<(), CapacityError> {
    // A pool's free list: all 1024 buffer indices start out free.
    let free = IndexRing::new_full(1024)?;
    let index = free.pop().expect("a free buffer");
    // ... use buffer `index`, from this thread or any other ...
    free.push(index);

    // Refill a per-thread cache with one fetch-and-add.
    let mut cache = [0u32; 16];
    let got = free.pop_many(&mut cache);
    free.push_many(&cache[..got]);

    // A bounded channel of owned values.
    let queue = BoundedQueue::new(2)?;
    queue.try_push("first").unwrap();
    queue.try_push("second").unwrap();
    assert_eq!(queue.try_push("third"), Err("third"));
    assert_eq!(queue.try_pop(), Some("first"));

    // Four threads taking and returning buffers: every index comes back.
    thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..100_000 {
                    let index = free.pop().expect("more buffers than threads");
                    free.push(index);
                }
            });
        }
    });
    println!("free list of {} holds {} after 400 000 get/put pairs", free.capacity(), free.len());
    assert_eq!(free.len(), 1024);
    Ok(())
}
