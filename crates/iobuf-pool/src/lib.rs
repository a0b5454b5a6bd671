//! Bounded, lock-free pools of I/O buffers.
//!
//! - [`Tier`]: 12 size tiers, ×4 each from 32 B (`Pico`) to 128 MiB (`Titan`);
//!   [`Tier::for_size`] errors above 128 MiB instead of returning a tier too small.
//! - [`BufferPool`]: `capacity` equal buffers carved from one memory region (page aligned from
//!   a page up, cache-line aligned below; huge pages optional), free list on the SCQ
//!   [`IndexRing`](iobuf_queue::IndexRing), a per-thread cache in front. Starts full; never
//!   allocates after it is built.
//! - [`Buf`]: the owning handle — `Deref<[u8]>`, stable address, a filled length for I/O
//!   results, `Send + Sync`, returns itself on drop from any thread; `into_raw` / `into_index`
//!   hand it to the kernel or to index-level code.
//! - Exhaustion: [`try_get`](BufferPool::try_get) (no wait, typed error),
//!   [`get`](BufferPool::get) (spin → yield → park, woken by a put),
//!   [`get_timeout`](BufferPool::get_timeout), [`acquire`](BufferPool::acquire) (a
//!   runtime-agnostic future; FIFO, cancel-safe).
//! - Index-level access ([`BufIndex`], [`IndirectPool`]) with every bad put refused.
//! - [`Arena`]: several tiers in ONE region (one registration covers all), with an
//!   [`OnEmpty`] policy.
//! - [`BuddyAllocator`]: buffers of varying sizes (powers of two from a minimum to a maximum
//!   block) split from and coalesced back into ONE region, a lock-free cache per common size in
//!   front; the same [`Buf`] handle.
//! - [`MemoryRegions`]: every pool lists the memory behind it, for io_uring, RDMA or DPDK.
//! - [`ClassStats`]: capacity, available, in use, high-water mark, exhaustions, waits.
//!
//! # How a get and a put stay cheap
//!
//! A thread's get and put touch only its own cache (no atomic read-modify-write, no shared cache
//! line); the cache refills from and flushes to the ring in halves with one fetch-and-add each.
//! A put checks for waiters with one load. Getters that find nothing drain other threads' caches
//! before reporting exhaustion or parking; the owner/thief handshake uses an asymmetric barrier
//! (`membarrier`) so the owner's side stays a compiler fence. See `docs/architecture.md`.
//!
//! # Examples
//!
//! ```
//! use iobuf_pool::{Arena, BufferPool, MemoryRegions, Tier};
//!
//! let pool = BufferPool::for_tier(Tier::Medium, 128)?;
//! let mut buf = pool.try_get()?;
//! buf[..3].copy_from_slice(b"abc");
//! buf.set_filled(3);
//! let worker = std::thread::spawn(move || buf.filled_slice().to_vec()); // returned by the worker
//! assert_eq!(worker.join().unwrap(), b"abc");
//!
//! let arena = Arena::builder().tier(Tier::Small, 256).tier(Tier::Large, 16).build()?;
//! let big = arena.alloc(100_000)?;
//! assert_eq!(big.tier(), Some(Tier::Large));
//! assert_eq!(arena.regions().len(), 1); // register once, use every tier
//! # Ok::<(), iobuf_pool::PoolError>(())
//! ```
#![deny(unsafe_code)]

#[cfg(not(target_pointer_width = "64"))]
compile_error!("iobuf-pool needs a 64-bit target");

mod acquire;
mod arena;
mod barrier;
mod buddy;
mod buf;
mod cache;
mod class;
mod core;
mod error;
mod index;
mod marks;
mod memory;
mod pool;
mod stats;
mod sync;
mod tier;
mod traits;
mod wait;

pub use acquire::Acquire;
pub use arena::{Arena, ArenaBuilder, OnEmpty};
pub use buddy::{BuddyAcquire, BuddyAllocator, BuddyBuilder, BuddyStats, OrderStats};
pub use buf::Buf;
pub use error::{BuddyConfigError, PoolError};
pub use index::BufIndex;
pub use memory::{MemoryOptions, MemoryRegion, MemoryRegions};
pub use pool::{BufferPool, PoolBuilder};
pub use stats::ClassStats;
pub use tier::Tier;
pub use traits::{IndirectPool, Pool};

/// Whether this process pairs a compiler fence with `membarrier` for the cache and wake-up
/// handshakes (`true`), or uses full fences on both sides (`false`, when the kernel refuses
/// `membarrier`). Decided when the first pool is built; for diagnostics.
///
/// # Examples
///
/// ```
/// let _pool = iobuf_pool::BufferPool::pico(1)?;
/// println!("membarrier: {}", iobuf_pool::uses_membarrier());
/// # Ok::<(), iobuf_pool::PoolError>(())
/// ```
pub fn uses_membarrier() -> bool {
    barrier::uses_membarrier()
}

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
