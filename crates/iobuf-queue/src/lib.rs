//! Lock-free bounded rings for I/O buffers.
#![no_std]
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod sync;
mod index_ring;
pub use index_ring::{CapacityError, IndexRing};
