//! Lock-free bounded rings for I/O buffers.
//!
//! - [`IndexRing`]: a lock-free MPMC FIFO of `u32` indices `< capacity`, the free list under
//!   every iobuf pool. It is SCQ (Nikolaev, *A Scalable, Portable, and Memory-Efficient
//!   Lock-Free FIFO Queue*, DISC 2019): one fetch-and-add per operation on a padded head or
//!   tail, cycle-tagged slots so that a stalled thread can never hand out an index twice, a
//!   threshold that keeps failed dequeues bounded and empty polls cheap, and batch
//!   [`pop_many`](IndexRing::pop_many)/[`push_many`](IndexRing::push_many) that claim a whole
//!   batch with one fetch-and-add.
//! - [`BoundedQueue`]: a lock-free bounded MPMC FIFO of any `T`, built as in the SCQ paper from
//!   two index rings (free slots and filled slots) and an array of `T`.
//! - [`byte_ring`]: the SPSC byte ring for vectored I/O — a producer and a consumer half over a
//!   power-of-two ring whose free and filled space go straight into `readv`/`writev`, plus a
//!   mirrored variant (Linux) whose free and filled space are always one contiguous slice.
//!
//! Nothing here allocates after construction, and nothing knows about buffers or io_uring.
//!
//! # Examples
//!
//! ```
//! use iobuf_queue::{BoundedQueue, IndexRing};
//!
//! // A pool's free list: every buffer index starts out free.
//! let free = IndexRing::new_full(1024)?;
//! let index = free.pop().expect("a free buffer");
//! // ... fill buffer `index`, hand it to the kernel, get it back ...
//! free.push(index);
//!
//! // A bounded channel of owned values.
//! let queue = BoundedQueue::new(2)?;
//! queue.try_push(String::from("a")).unwrap();
//! queue.try_push(String::from("b")).unwrap();
//! assert_eq!(queue.try_push(String::from("c")), Err(String::from("c")));
//! assert_eq!(queue.try_pop().as_deref(), Some("a"));
//! # Ok::<(), iobuf_queue::CapacityError>(())
//! ```
#![no_std]
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod bounded;
pub mod byte_ring;
mod capacity;
mod index_ring;
mod sync;

pub use bounded::BoundedQueue;
pub use capacity::{CapacityError, MAX_CAPACITY};
pub use index_ring::IndexRing;
