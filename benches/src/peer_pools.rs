//! Buffer pools built the way people hand-roll them, as peers for iobuf-pool: a free list of
//! indices (crossbeam's `ArrayQueue<u32>`, or `Mutex<Vec<u32>>`) over one carved region, and
//! a handle that puts its index back on drop. Same memory layout as an iobuf pool, so the
//! comparison is the free list and the handle, nothing else.

use std::sync::Mutex;

use crossbeam_queue::ArrayQueue;
use iobuf_align::{AlignedBlock, BlockLayout, Carved};
use iobuf_pool::{Buf, BufferPool};

/// A pool whose handles return their buffer when dropped.
pub trait BenchPool: Sync {
    /// The owning handle.
    type Handle<'a>: Send
    where
        Self: 'a;
    /// Name in tables.
    fn name(&self) -> &'static str;
    /// A buffer, or `None` when all are out.
    fn get(&self) -> Option<Self::Handle<'_>>;
    /// Touches the handle's buffer (one write), as real use would.
    fn touch(handle: &mut Self::Handle<'_>, value: u8);
}

/// A free list of indices for [`ListPool`].
pub trait FreeList: Sync {
    /// A full list of `0..capacity`.
    fn full(capacity: usize) -> Self;
    /// Takes an index.
    fn take(&self) -> Option<u32>;
    /// Gives an index back.
    fn give(&self, index: u32);
}

impl FreeList for ArrayQueue<u32> {
    fn full(capacity: usize) -> Self {
        let queue = ArrayQueue::new(capacity);
        (0..capacity as u32).for_each(|i| queue.push(i).expect("room for every index"));
        queue
    }
    fn take(&self) -> Option<u32> {
        self.pop()
    }
    fn give(&self, index: u32) {
        self.push(index).expect("a returned index always fits");
    }
}

impl FreeList for Mutex<Vec<u32>> {
    fn full(capacity: usize) -> Self {
        Mutex::new((0..capacity as u32).collect())
    }
    fn take(&self) -> Option<u32> {
        self.lock().unwrap().pop()
    }
    fn give(&self, index: u32) {
        self.lock().unwrap().push(index);
    }
}

/// A hand-rolled pool: a free list over carved memory.
pub struct ListPool<L> {
    name: &'static str,
    free: L,
    memory: Carved<AlignedBlock>,
}

impl<L: FreeList> ListPool<L> {
    /// `capacity` page-aligned buffers of `size` bytes.
    pub fn new(name: &'static str, size: usize, capacity: usize) -> Self {
        let layout = BlockLayout::new(
            size,
            iobuf_align::page_size().min(size.next_power_of_two()),
            capacity,
        )
        .expect("valid layout");
        Self { name, free: L::full(capacity), memory: Carved::heap(layout).expect("memory") }
    }
}

/// The handle of a [`ListPool`].
pub struct ListHandle<'a, L: FreeList> {
    pool: &'a ListPool<L>,
    index: u32,
}

impl<L: FreeList> Drop for ListHandle<'_, L> {
    fn drop(&mut self) {
        self.pool.free.give(self.index);
    }
}

impl<L: FreeList + Send> BenchPool for ListPool<L> {
    type Handle<'a>
        = ListHandle<'a, L>
    where
        L: 'a;

    fn name(&self) -> &'static str {
        self.name
    }

    fn get(&self) -> Option<ListHandle<'_, L>> {
        self.free.take().map(|index| ListHandle { pool: self, index })
    }

    fn touch(handle: &mut ListHandle<'_, L>, value: u8) {
        let ptr = handle.pool.memory.block_ptr(handle.index as usize).expect("index in range");
        // SAFETY: the handle owns buffer `index` exclusively until it drops (the free list hands
        // each index to one owner), and the memory lives as long as the pool it borrows.
        unsafe { ptr.as_ptr().write_volatile(value) };
    }
}

/// iobuf's pool, named for the table.
pub struct IobufPool {
    name: &'static str,
    pool: BufferPool,
}

impl IobufPool {
    /// `capacity` buffers of `size` bytes with a thread cache of `cache` (0 = off).
    pub fn new(name: &'static str, size: usize, capacity: usize, cache: usize) -> Self {
        let pool =
            BufferPool::builder(size).capacity(capacity).cache_size(cache).build().expect("pool");
        Self { name, pool }
    }
}

impl BenchPool for IobufPool {
    type Handle<'a> = Buf;

    fn name(&self) -> &'static str {
        self.name
    }

    fn get(&self) -> Option<Buf> {
        self.pool.try_get().ok()
    }

    fn touch(handle: &mut Buf, value: u8) {
        handle[0] = value;
    }
}
