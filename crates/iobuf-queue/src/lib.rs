//! Lock-free bounded rings for I/O buffers.
#![no_std]
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod index_ring;
mod sync;
pub use index_ring::{CapacityError, IndexRing};
