//! The `buddy` workload: allocate and free blocks of mixed sizes through iobuf-pool's buddy
//! allocator, with and without its per-size cache, against the global allocator
//! (`std::alloc::alloc`/`dealloc` with the same 4 KiB alignment: what a program that wants
//! page-aligned I/O buffers of varying sizes does without a buddy allocator).
//!
//! - **mixed sizes**: every thread keeps a window of live blocks; each step frees the oldest
//!   and allocates a new one of 4 KiB to 128 KiB (each doubling half as likely, sizes spread
//!   within each doubling), writing one byte into it. Pairs (alloc + free) per second.
//! - **one size**: every thread allocates and frees 64 KiB blocks, one at a time: the cached
//!   size's best case.
//!
//! Each thread frees its own blocks; cross-thread return is the pool workload's subject.

use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};

use iobuf_pool::{BuddyAllocator, Buf};

use crate::{Settings, Table, measure};

/// Operations between two looks at the stop flag.
const CHECK_EVERY: u64 = 64;
/// Live blocks per thread in the mixed workload.
const WINDOW: usize = 8;
/// Alignment of every block (the buddy's blocks are aligned to their size, at least this).
const ALIGN: usize = 4096;
/// The buddy allocator's region: room for 16 threads' windows of the largest size (16 MiB),
/// the caches and fragmentation several times over.
const REGION: usize = 128 << 20;

/// Something that hands out blocks of a given size, freed by dropping the handle.
trait BlockSource: Sync {
    type Block: Send;
    fn alloc(&self, size: usize) -> Self::Block;
    fn touch(block: &mut Self::Block, value: u8);
}

/// The global allocator, 4 KiB aligned.
struct Global;

/// A block from the global allocator, freed on drop.
struct GlobalBlock {
    ptr: NonNull<u8>,
    layout: Layout,
}

// SAFETY: the block is owned memory from the global allocator; freeing it from another thread
// is allowed.
unsafe impl Send for GlobalBlock {}

impl BlockSource for Global {
    type Block = GlobalBlock;

    #[allow(clippy::disallowed_methods)] // reason: the global allocator is the measured peer.
    fn alloc(&self, size: usize) -> GlobalBlock {
        let layout = Layout::from_size_align(size, ALIGN).expect("valid layout");
        // SAFETY: `layout` has a non-zero size (every request is at least one byte).
        let ptr = unsafe { std::alloc::alloc(layout) };
        let ptr = NonNull::new(ptr).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        GlobalBlock { ptr, layout }
    }

    fn touch(block: &mut GlobalBlock, value: u8) {
        // SAFETY: the block owns at least one byte at `ptr` until it drops.
        unsafe { block.ptr.as_ptr().write_volatile(value) };
    }
}

impl Drop for GlobalBlock {
    #[allow(clippy::disallowed_methods)] // reason: frees the measured peer's block.
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `std::alloc::alloc(self.layout)` and is freed once, here.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), self.layout) };
    }
}

/// The buddy allocator.
struct Buddy(BuddyAllocator);

impl Buddy {
    fn new(cache: bool) -> Self {
        let depth = if cache { 32 } else { 0 };
        Self(
            BuddyAllocator::builder()
                .region_size(REGION)
                .max_block(1 << 20)
                .cache_depth(depth)
                .populate(true)
                .build()
                .expect("buddy allocator"),
        )
    }
}

impl BlockSource for Buddy {
    type Block = Buf;

    fn alloc(&self, size: usize) -> Buf {
        self.0.try_alloc(size).expect("the region has room for every thread's window")
    }

    fn touch(block: &mut Buf, value: u8) {
        block[0] = value;
    }
}

/// Request sizes for thread `thread`: 4 KiB to 128 KiB, each doubling half as likely (half of
/// them exactly 4 KiB), spread uniformly within the doubling above that. A fixed table, so the timed loop does no random numbers.
fn mixed_sizes(thread: usize) -> Vec<usize> {
    let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ thread as u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    (0..1024)
        .map(|_| match 4096 << (next() | 1 << 5).trailing_zeros() {
            4096 => 4096,
            top => top - (next() as usize % (top / 2)),
        })
        .collect()
}

/// Each thread keeps `WINDOW` live blocks, replacing the oldest each step.
fn mixed<S: BlockSource>(source: &S, threads: usize, settings: &Settings) -> f64 {
    measure(threads, settings.cell, |thread, stop: &AtomicBool| {
        let sizes = mixed_sizes(thread);
        let mut window: Vec<Option<S::Block>> = (0..WINDOW).map(|_| None).collect();
        let mut ops = 0u64;
        loop {
            for step in ops..ops + CHECK_EVERY {
                let slot = &mut window[step as usize % WINDOW];
                drop(slot.take());
                let mut block = source.alloc(sizes[step as usize % sizes.len()]);
                S::touch(&mut block, step as u8);
                *slot = Some(block);
            }
            ops += CHECK_EVERY;
            if stop.load(Ordering::Relaxed) {
                return ops;
            }
        }
    })
}

/// Each thread allocates and frees one 64 KiB block at a time.
fn one_size<S: BlockSource>(source: &S, threads: usize, settings: &Settings) -> f64 {
    measure(threads, settings.cell, |_, stop: &AtomicBool| {
        let mut ops = 0u64;
        loop {
            for _ in 0..CHECK_EVERY {
                let mut block = source.alloc(64 << 10);
                S::touch(&mut block, ops as u8);
                drop(block);
            }
            ops += CHECK_EVERY;
            if stop.load(Ordering::Relaxed) {
                return ops;
            }
        }
    })
}

const NAMES: [&str; 3] =
    ["global alloc (4K align)", "iobuf buddy (cache)", "iobuf buddy (no cache)"];

/// Runs both workloads on every contender and renders the tables.
pub fn run(settings: &Settings) -> String {
    let (cached, uncached) = (Buddy::new(true), Buddy::new(false));
    let mut out = String::new();
    let mut table = Table::new(
        &format!("buddy mixed sizes: free oldest + alloc 4-128 KiB, window {WINDOW}/thread"),
        "pairs/s",
        &NAMES,
        0,
    );
    for threads in settings.thread_counts() {
        table.row(
            threads,
            vec![
                mixed(&Global, threads, settings),
                mixed(&cached, threads, settings),
                mixed(&uncached, threads, settings),
            ],
        );
    }
    out += &table.render();
    let mut table = Table::new("buddy one size: alloc + free 64 KiB", "pairs/s", &NAMES, 0);
    for threads in settings.thread_counts() {
        table.row(
            threads,
            vec![
                one_size(&Global, threads, settings),
                one_size(&cached, threads, settings),
                one_size(&uncached, threads, settings),
            ],
        );
    }
    out += &table.render();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_span_4_to_128_kib_weighted_small() {
        let sizes = mixed_sizes(0);
        assert!(sizes.iter().all(|&s| (4096..=128 << 10).contains(&s)), "{sizes:?}");
        let small = sizes.iter().filter(|&&s| s <= 4096).count();
        let large = sizes.iter().filter(|&&s| s > 64 << 10).count();
        assert!(small > 4 * large, "small {small}, large {large}");
    }

    #[test]
    fn every_contender_allocates_and_frees() {
        let settings = Settings { cell: std::time::Duration::from_millis(5), max_threads: 2 };
        assert!(mixed(&Global, 2, &settings) > 0.0);
        assert!(mixed(&Buddy::new(true), 2, &settings) > 0.0);
        assert!(one_size(&Buddy::new(false), 1, &settings) > 0.0);
    }
}
