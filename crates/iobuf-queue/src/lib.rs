//! Lock-free bounded rings for I/O buffers.
//!
//! [`byte_ring`]: the SPSC byte ring for vectored I/O — a producer and a consumer half over a
//! power-of-two ring whose free and filled space go straight into `readv`/`writev`, plus a
//! mirrored variant (Linux) whose free and filled space are always one contiguous slice.
#![no_std]
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod byte_ring;
mod sync;
