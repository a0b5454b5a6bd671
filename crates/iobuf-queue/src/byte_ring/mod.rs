//! The SPSC byte ring: bytes between one producer and one consumer, with free and filled space
//! handed out as slices ready for `readv`/`writev`.
//!
//! A ring of a fixed power-of-two capacity is split at creation into a [`Producer`] and a
//! [`Consumer`]. Each half owns one monotonically increasing 64-bit counter (cache-padded, so the
//! two never share a line): the producer's counts bytes committed, the consumer's bytes consumed.
//! The producer never gets more than `capacity` ahead and the consumer never passes the producer,
//! so `write - read` is the filled length; offsets are the counters masked by `capacity - 1`.
//! Each half also caches the other's counter, so a commit or consume within what it already knows
//! touches no shared line but its own.
//!
//! Two variants share that core:
//!
//! - [`new`]: the plain ring on one [`AlignedBlock`](iobuf_align::AlignedBlock). Free and filled
//!   space come as up to two slices, split at the end of the memory;
//!   [`read_from`](Producer::read_from)/[`write_to`](Consumer::write_to) pass both to one
//!   `read_vectored`/`write_vectored` call.
//! - [`new_mirrored`] (Linux): the mirrored ring on one
//!   [`MirroredRegion`](iobuf_align::MirroredRegion), the same pages mapped twice back to back.
//!   Free and filled space are always one slice, so one iovec or a plain `read`/`write` moves
//!   everything, and code that wants contiguous bytes (parsers, compressors) never copies to
//!   undo a wrap. Capacity must also be a multiple of the page size.
//!
//! The non-blocking core is `no_std`. With the `std` feature (default) each half can block:
//! [`Producer::wait_for_space`] and [`Consumer::wait_for_data`] spin briefly, yield for up to
//! 50 µs, then park until the other side moves, drops its half, or a timeout passes. While
//! nobody waits this costs the other side one load of a state word per commit or consume, and
//! its counter publication becomes a `swap` instead of a plain store (the RMW is what makes a
//! lost wake-up impossible without a fence; see the `wait` module's source). Dropping a half closes the ring: the other half sees
//! `is_closed`, and a waiter gets [`WaitError::Closed`] instead of hanging.
//!
//! No allocation happens after [`new`]/[`new_mirrored`]; no lock or system call is taken on the
//! non-blocking paths.
//!
//! # Examples
//!
//! A pump from a reader to a writer through the ring, on two threads:
//!
//! ```
//! use std::io::{Read, Write};
//! use iobuf_queue::byte_ring::{self, WaitError};
//!
//! let (mut producer, mut consumer) = byte_ring::new(4096)?;
//! let input: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
//! let expected = input.clone();
//!
//! let reader = std::thread::spawn(move || -> std::io::Result<()> {
//!     let mut src = &input[..];
//!     loop {
//!         producer.wait_for_space(1, None)?;
//!         if producer.read_from(&mut src)? == 0 {
//!             return Ok(()); // end of input; dropping the producer closes the ring
//!         }
//!     }
//! });
//! let mut sink = Vec::new();
//! loop {
//!     match consumer.wait_for_data(1, None) {
//!         Ok(_) => { consumer.write_to(&mut sink)?; }
//!         Err(WaitError::Closed) => break,
//!         Err(err) => return Err(err.into()),
//!     }
//! }
//! reader.join().unwrap()?;
//! assert_eq!(sink, expected);
//! # Ok::<(), std::io::Error>(())
//! ```

mod consumer;
mod error;
mod memory;
#[cfg(target_os = "linux")]
mod mirrored;
mod plain;
mod producer;
mod shared;
#[cfg(feature = "std")]
mod wait;

pub use consumer::Consumer;
pub use error::ByteRingError;
#[cfg(feature = "std")]
pub use error::WaitError;
pub use memory::RingMemory;
#[cfg(target_os = "linux")]
#[doc(hidden)]
pub use mirrored::new_mirrored_at;
#[cfg(target_os = "linux")]
pub use mirrored::{MirroredConsumer, MirroredProducer, new_mirrored};
pub use plain::new;
#[doc(hidden)]
pub use plain::new_at;
pub use producer::Producer;

use shared::Shared;

use crate::sync::Arc;

/// The capacity rules both variants share.
fn check_capacity(capacity: usize) -> Result<(), ByteRingError> {
    match capacity {
        0 => Err(ByteRingError::ZeroCapacity),
        c if !c.is_power_of_two() => Err(ByteRingError::NotPowerOfTwo { capacity }),
        _ => Ok(()),
    }
}

/// Shares `memory` between a new producer and consumer with both counters at `start`.
fn split<M: RingMemory>(memory: M, capacity: usize, start: u64) -> (Producer<M>, Consumer<M>) {
    let shared = Arc::new(Shared::new(memory, capacity, start));
    (Producer::new(Arc::clone(&shared), start), Consumer::new(shared, start))
}

#[cfg(all(test, feature = "std", target_os = "linux", not(iobuf_loom)))]
mod tests;
