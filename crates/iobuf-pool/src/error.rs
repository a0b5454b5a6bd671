//! The one error type of iobuf-pool.

use core::fmt;

use iobuf_align::AlignError;

/// Why a pool could not be built, or a buffer or index could not be had or given back.
///
/// # Examples
///
/// ```
/// use iobuf_pool::{BufferPool, PoolError};
///
/// let pool = BufferPool::builder(4096).capacity(1).build()?;
/// let held = pool.try_get()?;
/// assert_eq!(pool.try_get().unwrap_err(), PoolError::Exhausted);
/// drop(held);
/// assert!(pool.try_get().is_ok());
/// # Ok::<(), PoolError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PoolError {
    /// No buffer is free (after draining every thread cache), and the call does not wait.
    Exhausted,
    /// A timed wait ended without a buffer.
    Timeout,
    /// A size above the largest tier (128 MiB), the largest size an arena holds, or a buddy
    /// allocator's largest block.
    TooLarge {
        /// The size asked for.
        size: usize,
        /// The largest size available.
        max: usize,
    },
    /// A pool of zero buffers, or buffers of zero bytes, was asked for.
    ZeroSize,
    /// More buffers than one pool indexes (2^31).
    CapacityTooLarge {
        /// The capacity asked for.
        requested: usize,
        /// The largest capacity.
        max: usize,
    },
    /// A thread cache size outside `2..=max` (0 turns the cache off instead).
    CacheSize {
        /// The cache size asked for.
        requested: usize,
        /// The largest cache size.
        max: usize,
    },
    /// The memory for the pool could not be had (allocation, mapping, huge pages, locking).
    Memory(AlignError),
    /// An index returned to the pool that is not out of it: returned twice, or never taken with
    /// [`try_get_index`](crate::BufferPool::try_get_index) (a handle owns it, say).
    NotOut {
        /// The index.
        index: u32,
    },
    /// An index at or above the pool's capacity.
    OutOfRange {
        /// The index.
        index: u32,
        /// The pool's capacity.
        capacity: usize,
    },
    /// An index or handle that belongs to another pool (or another tier of an arena).
    ForeignIndex,
    /// A buddy allocator configuration that cannot be built.
    BuddyConfig(BuddyConfigError),
}

/// Why a [`BuddyAllocator`](crate::BuddyAllocator) configuration was refused.
///
/// # Examples
///
/// ```
/// use iobuf_pool::{BuddyAllocator, BuddyConfigError, PoolError};
///
/// let err = BuddyAllocator::builder().region_size(3 << 20).max_block(2 << 20).build().unwrap_err();
/// assert_eq!(
///     err,
///     PoolError::BuddyConfig(BuddyConfigError::RegionNotMultiple {
///         region_size: 3 << 20,
///         max_block: 2 << 20
///     })
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuddyConfigError {
    /// The minimum block is not a power of two.
    MinBlockNotPowerOfTwo {
        /// The size asked for.
        min_block: usize,
    },
    /// The maximum block is not a power of two.
    MaxBlockNotPowerOfTwo {
        /// The size asked for.
        max_block: usize,
    },
    /// The minimum block is below the smallest supported (512 B).
    MinBlockTooSmall {
        /// The size asked for.
        min_block: usize,
        /// The smallest minimum block.
        floor: usize,
    },
    /// The minimum block is larger than the maximum block.
    MinAboveMax {
        /// The minimum block asked for.
        min_block: usize,
        /// The maximum block asked for.
        max_block: usize,
    },
    /// The region size is not a whole number of maximum blocks (or, with no maximum block
    /// set, not even of minimum blocks).
    RegionNotMultiple {
        /// The region size asked for.
        region_size: usize,
        /// The block size it must be a multiple of.
        max_block: usize,
    },
    /// More minimum blocks than a region may hold (2³¹: a block index is a `u32`).
    TooManyBlocks {
        /// Minimum blocks in the region asked for.
        blocks: usize,
        /// The most minimum blocks a region may hold.
        max: usize,
    },
    /// A per-size cache deeper than the largest supported.
    CacheDepth {
        /// The depth asked for.
        requested: usize,
        /// The deepest cache.
        max: usize,
    },
}

impl fmt::Display for BuddyConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::MinBlockNotPowerOfTwo { min_block } => {
                write!(f, "minimum block {min_block} is not a power of two")
            }
            Self::MaxBlockNotPowerOfTwo { max_block } => {
                write!(f, "maximum block {max_block} is not a power of two")
            }
            Self::MinBlockTooSmall { min_block, floor } => {
                write!(f, "minimum block {min_block} is below {floor} B")
            }
            Self::MinAboveMax { min_block, max_block } => {
                write!(f, "minimum block {min_block} exceeds maximum block {max_block}")
            }
            Self::RegionNotMultiple { region_size, max_block } => {
                write!(f, "region size {region_size} is not a positive multiple of {max_block}")
            }
            Self::TooManyBlocks { blocks, max } => {
                write!(f, "{blocks} minimum blocks exceed the maximum {max}")
            }
            Self::CacheDepth { requested, max } => {
                write!(f, "cache depth {requested} exceeds the maximum {max}")
            }
        }
    }
}

impl std::error::Error for BuddyConfigError {}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Exhausted => f.write_str("pool exhausted: no free buffer"),
            Self::Timeout => f.write_str("timed out waiting for a free buffer"),
            Self::TooLarge { size, max } => {
                write!(f, "size {size} is larger than the largest buffer ({max} B)")
            }
            Self::ZeroSize => f.write_str("zero buffers or zero-byte buffers asked for"),
            Self::CapacityTooLarge { requested, max } => {
                write!(f, "capacity {requested} exceeds the maximum {max}")
            }
            Self::CacheSize { requested, max } => {
                write!(f, "thread cache size {requested} is outside 2..={max}")
            }
            Self::Memory(err) => write!(f, "pool memory: {err}"),
            Self::NotOut { index } => {
                write!(f, "index {index} is not out of the pool (double put, or never taken)")
            }
            Self::OutOfRange { index, capacity } => {
                write!(f, "index {index} out of range for capacity {capacity}")
            }
            Self::ForeignIndex => f.write_str("index or handle belongs to another pool"),
            Self::BuddyConfig(err) => write!(f, "buddy allocator configuration: {err}"),
        }
    }
}

impl std::error::Error for PoolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Memory(err) => Some(err),
            Self::BuddyConfig(err) => Some(err),
            _ => None,
        }
    }
}

impl From<AlignError> for PoolError {
    fn from(err: AlignError) -> Self {
        match err {
            AlignError::ZeroSize => Self::ZeroSize,
            other => Self::Memory(other),
        }
    }
}

impl From<PoolError> for std::io::Error {
    /// Exhaustion becomes `WouldBlock`, a timeout `TimedOut`, memory errors keep their errno.
    fn from(err: PoolError) -> Self {
        use std::io::{Error, ErrorKind};
        match err {
            PoolError::Exhausted => Error::new(ErrorKind::WouldBlock, err),
            PoolError::Timeout => Error::new(ErrorKind::TimedOut, err),
            PoolError::Memory(inner) => inner.into(),
            other => Error::new(ErrorKind::InvalidInput, other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_error_kinds_follow_the_variant() {
        use std::io::ErrorKind;
        let io: std::io::Error = PoolError::Exhausted.into();
        assert_eq!(io.kind(), ErrorKind::WouldBlock);
        let io: std::io::Error = PoolError::Timeout.into();
        assert_eq!(io.kind(), ErrorKind::TimedOut);
        let io: std::io::Error =
            PoolError::Memory(AlignError::Os { call: "mmap", errno: 12 }).into();
        assert_eq!(io.raw_os_error(), Some(12));
        let io: std::io::Error = PoolError::NotOut { index: 3 }.into();
        assert_eq!(io.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn display_names_the_numbers() {
        let text = PoolError::OutOfRange { index: 9, capacity: 4 }.to_string();
        assert!(text.contains('9') && text.contains('4'), "{text}");
    }
}
