//! Which memories a byte ring can stand on.

#[cfg(target_os = "linux")]
use iobuf_align::MirroredRegion;
use iobuf_align::{AlignedBlock, StableMemory};

/// Memory a byte ring can stand on: [`AlignedBlock`] for the plain ring, [`MirroredRegion`]
/// (Linux) for the mirrored one.
///
/// Sealed: the ring's slicing depends on knowing exactly how each memory is laid out. It is the
/// type parameter of [`Producer`](super::Producer) and [`Consumer`](super::Consumer), which pick
/// their slice-shaped methods by it (two slices for the plain ring, one for the mirrored).
///
/// # Examples
///
/// ```
/// use iobuf_queue::byte_ring::{Producer, RingMemory};
///
/// fn free_bytes<M: RingMemory>(producer: &Producer<M>) -> usize {
///     producer.free_len()
/// }
/// let (producer, _consumer) = iobuf_queue::byte_ring::new(256)?;
/// assert_eq!(free_bytes(&producer), 256);
/// # Ok::<(), iobuf_queue::byte_ring::ByteRingError>(())
/// ```
pub trait RingMemory: StableMemory + sealed::Sealed {}

impl RingMemory for AlignedBlock {}

#[cfg(target_os = "linux")]
impl RingMemory for MirroredRegion {}

pub(crate) mod sealed {
    /// The layout facts the ring's slicing needs; outside crates cannot name or implement it.
    #[allow(unreachable_pub)] // reason: sealed-trait pattern; unnameable outside the crate.
    pub trait Sealed {
        /// Whether any window of up to `capacity` bytes is one contiguous slice (the memory is
        /// mapped twice back to back), so the ring never splits a region at the seam.
        const MIRRORED: bool;
    }

    impl Sealed for iobuf_align::AlignedBlock {
        const MIRRORED: bool = false;
    }

    #[cfg(target_os = "linux")]
    impl Sealed for iobuf_align::MirroredRegion {
        const MIRRORED: bool = true;
    }
}
