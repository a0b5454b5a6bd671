//! io_uring glue for iobuf: registered buffers, ownership-passing operations, IoVec, and
//! provided buffer rings fed from a pool.
//!
//! - **Registration** ([`Ring::register`], [`RegisteredPool`]): a pool's memory is registered
//!   as one buffer per ≤ 1 GiB chunk in a sparse slot table that grows with
//!   `REGISTER_BUFFERS_UPDATE`, so every handle carries a `buf_index` and works with
//!   `ReadFixed`/`WriteFixed`; the same pool can be attached to several rings. Before pinning,
//!   the bytes are checked against `RLIMIT_MEMLOCK` (raising the soft limit when allowed) and a
//!   refusal is a typed [`UringError::Memlock`] — or, when asked, unregistered I/O.
//! - **Operations** ([`ops`]): read, write, readv, writev, zero-copy send and buffer-select
//!   receives take their handles by value and give them back in the [`Completion`] with the
//!   result. A ring never frees memory the kernel may still write: dropping it cancels what is in
//!   flight and waits for the completions.
//! - **[`IoVec`]**: `struct iovec` with a lifetime, for vectored system calls.
//! - **Buffer rings** ([`BufRing`]): a pool's buffers provided to the kernel under a group id,
//!   received into as [`ProvidedBuf`]s that return to the ring when dropped; multishot receive;
//!   incremental consumption where the kernel has it.
//! - **[`probe`]**: which of these the running kernel supports.
//!
//! # Examples
//!
//! ```
//! use iobuf_pool::BufferPool;
//! use iobuf_uring::{RegisteredPool, Ring, ops::{Read, Write}};
//!
//! let mut ring = match Ring::new(32) {
//!     Ok(ring) => ring,
//!     Err(err) if err.is_unavailable() => return Ok(()), // fall back to std I/O here
//!     Err(err) => return Err(err.into()),
//! };
//! let pool = RegisteredPool::new(BufferPool::builder(4096).capacity(32).build()?, &mut ring)?;
//!
//! // Write through a registered buffer, read it back through another.
//! let path = std::env::temp_dir().join(format!("iobuf-uring-doc-{}", std::process::id()));
//! let file = std::fs::File::options().read(true).write(true).create(true).truncate(true).open(&path)?;
//! let mut buf = pool.try_get()?;
//! buf[..5].copy_from_slice(b"fixed");
//! buf.set_filled(5);
//! ring.push(Write::at(&file, buf, 0))?;
//! let (written, _buf) = ring.wait()?.into_buf().unwrap();
//! assert_eq!(written?, 5);
//!
//! ring.push(Read::at(&file, pool.try_get()?, 0))?;
//! let (read, buf) = ring.wait()?.into_buf().unwrap();
//! assert_eq!((read?, buf.filled_slice()), (5, &b"fixed"[..]));
//! std::fs::remove_file(path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(not(target_os = "linux"))]
compile_error!("iobuf-uring needs Linux: io_uring is a Linux interface");

mod buf;
mod bufring;
mod completion;
mod error;
mod inflight;
mod iovec;
mod memlock;
mod memory;
pub mod ops;
mod probe;
mod registered;
mod registry;
mod ring;
mod sys;

pub use buf::IoBuf;
pub use bufring::{BufGroup, BufRing, MAX_BUF_RING_ENTRIES, ProvidedBuf};
pub use completion::Completion;
pub use error::{Unavailable, UringError};
pub use inflight::OpId;
pub use iovec::{IoVec, IoVecMut};
pub use memlock::{MemlockLimit, exempt_from_memlock, pinned_by_this_process, pinned_bytes};
pub use memory::{RegisterMemory, Span};
pub use probe::{Features, probe};
pub use registered::{RegisteredBuf, RegisteredPool};
pub use registry::{MAX_REGISTERED_CHUNK, RegisterOptions, Registration};
pub use ring::{DEFAULT_SHUTDOWN_TIMEOUT, PushError, Ring, RingBuilder};

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The workspace README's example (it shows this crate at work), compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct WorkspaceReadmeDoctests;
