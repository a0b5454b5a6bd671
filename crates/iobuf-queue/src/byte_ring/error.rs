//! Why a byte ring could not be built, and why a wait ended without its bytes.

use core::fmt;

use iobuf_align::AlignError;

/// Why [`new`](super::new) or [`new_mirrored`](super::new_mirrored) refused a capacity.
///
/// # Examples
///
/// ```
/// use iobuf_queue::byte_ring::{self, ByteRingError};
///
/// assert_eq!(byte_ring::new(0).unwrap_err(), ByteRingError::ZeroCapacity);
/// assert_eq!(
///     byte_ring::new(1000).unwrap_err(),
///     ByteRingError::NotPowerOfTwo { capacity: 1000 },
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ByteRingError {
    /// A capacity of zero was asked for.
    ZeroCapacity,
    /// The capacity is not a power of two (offsets are taken with a mask).
    NotPowerOfTwo {
        /// The capacity asked for.
        capacity: usize,
    },
    /// A mirrored ring's capacity is not a multiple of the page size (the two views are mapped
    /// page by page).
    NotPageMultiple {
        /// The capacity asked for.
        capacity: usize,
        /// The OS page size it must be a multiple of.
        page_size: usize,
    },
    /// The memory could not be had: too large for the address space, out of memory, or a failed
    /// `memfd_create`/`mmap` for a mirrored ring.
    Memory(AlignError),
}

impl fmt::Display for ByteRingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::ZeroCapacity => f.write_str("a byte ring needs a non-zero capacity"),
            Self::NotPowerOfTwo { capacity } => {
                write!(f, "byte ring capacity {capacity} is not a power of two")
            }
            Self::NotPageMultiple { capacity, page_size } => write!(
                f,
                "mirrored byte ring capacity {capacity} is not a multiple of the page size \
                 {page_size}"
            ),
            Self::Memory(err) => write!(f, "byte ring memory: {err}"),
        }
    }
}

impl core::error::Error for ByteRingError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Memory(err) => Some(err),
            _ => None,
        }
    }
}

impl From<AlignError> for ByteRingError {
    fn from(err: AlignError) -> Self {
        Self::Memory(err)
    }
}

#[cfg(feature = "std")]
impl From<ByteRingError> for std::io::Error {
    /// Memory failures convert as [`AlignError`] does (keeping the errno); bad capacities are
    /// `InvalidInput`.
    fn from(err: ByteRingError) -> Self {
        match err {
            ByteRingError::Memory(err) => err.into(),
            other => std::io::Error::new(std::io::ErrorKind::InvalidInput, other),
        }
    }
}

/// Why a blocking wait ([`wait_for_data`](super::Consumer::wait_for_data),
/// [`wait_for_space`](super::Producer::wait_for_space)) returned without the bytes it waited for.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use iobuf_queue::byte_ring::{self, WaitError};
///
/// let (producer, mut consumer) = byte_ring::new(64)?;
/// assert_eq!(consumer.wait_for_data(1, Some(Duration::from_millis(1))), Err(WaitError::TimedOut));
/// drop(producer);
/// assert_eq!(consumer.wait_for_data(1, None), Err(WaitError::Closed));
/// # Ok::<(), byte_ring::ByteRingError>(())
/// ```
#[cfg(feature = "std")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitError {
    /// The timeout passed first.
    TimedOut,
    /// The other half was dropped, so the bytes waited for can never come: a consumer's
    /// producer is gone and fewer than `min` bytes are left, or a producer's consumer is gone.
    Closed,
}

#[cfg(feature = "std")]
impl fmt::Display for WaitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TimedOut => "timed out waiting on the byte ring",
            Self::Closed => "the other half of the byte ring was dropped",
        })
    }
}

#[cfg(feature = "std")]
impl core::error::Error for WaitError {}

#[cfg(feature = "std")]
impl From<WaitError> for std::io::Error {
    /// `TimedOut` becomes `ErrorKind::TimedOut`; `Closed` becomes `ErrorKind::BrokenPipe`, what a
    /// pipe says when its other end is gone.
    fn from(err: WaitError) -> Self {
        let kind = match err {
            WaitError::TimedOut => std::io::ErrorKind::TimedOut,
            WaitError::Closed => std::io::ErrorKind::BrokenPipe,
        };
        std::io::Error::new(kind, err)
    }
}
