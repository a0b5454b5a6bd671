//! A buddy allocator's memory outlives every block out of it — handles, indices and raw
//! pointers — and goes when the last one comes back. One binary of its own: it reads
//! `/proc/self/maps`, which other tests' mappings would disturb.

mod common;

use std::thread;

use iobuf_pool::BuddyAllocator;

#[test]
fn memory_outlives_the_allocator_and_goes_with_the_last_block() {
    // Plain drop: nothing out, the region goes with the allocator.
    let buddy = BuddyAllocator::builder().region_size(4 << 20).build().unwrap();
    let region = buddy.regions()[0].as_ptr() as usize;
    assert!(common::mapped(region));
    drop(buddy);
    assert!(!common::mapped(region), "an idle allocator unmaps on drop");

    // Blocks out as handles (one parked in a cache first), as an index and as a raw pointer.
    let buddy = BuddyAllocator::builder().region_size(4 << 20).build().unwrap();
    let region = buddy.regions()[0].as_ptr() as usize;
    drop(buddy.try_alloc(4096).unwrap()); // parked in the 4 KiB cache
    let mut bufs: Vec<_> =
        [4096, 100_000, 1 << 20].map(|size| buddy.try_alloc(size).unwrap()).into();
    let index = buddy.try_alloc(8192).unwrap().into_index();
    let raw = buddy.try_alloc(8192).unwrap().into_raw();
    let (keeper, waiter) = (buddy.clone(), buddy.acquire(4096).unwrap());
    drop((buddy, waiter));
    assert!(common::mapped(region), "a clone is alive");
    for buf in &mut bufs {
        buf.fill(0xAB); // still valid memory
    }
    // Index and raw pointer come back through the last clone, as handles.
    let from_index = keeper.buf_from_index(index).unwrap();
    // SAFETY: `raw` came from this allocator's `into_raw` and nothing else uses it.
    let from_raw = unsafe { keeper.buf_from_raw(raw) }.unwrap();
    bufs.extend([from_index, from_raw]);
    drop(keeper);
    assert!(common::mapped(region), "blocks are out: the memory stays");
    let last = bufs.pop().unwrap();
    thread::spawn(move || drop(bufs)).join().unwrap();
    assert!(common::mapped(region), "one block still out");
    drop(last);
    assert!(!common::mapped(region), "the last block back frees the allocator");
}
