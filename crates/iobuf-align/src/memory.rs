//! The contract every backing memory in iobuf meets.

use core::ptr::NonNull;

/// Memory that stays at one address for as long as the value that owns it lives.
///
/// Moving the owner does not move the memory; that is what lets a pool hand a buffer's address
/// to the kernel while the pool itself is moved around (architecture invariant 1).
///
/// # Safety
///
/// An implementor guarantees that, from construction until drop:
/// - `base()..base() + len()` is one allocation, valid for reads and writes of `len()` bytes;
/// - `base()` and `len()` always return the same values;
/// - the memory is not freed, moved or reused while the value lives;
/// - nothing else reads or writes it except through pointers derived from `base()`.
///
/// # Examples
///
/// ```
/// use iobuf_align::{AlignedBlock, StableMemory};
///
/// fn describe(memory: &dyn StableMemory) -> (usize, usize) {
///     (memory.base().as_ptr() as usize, memory.len())
/// }
/// let block = AlignedBlock::new(100, 64)?;
/// let (address, len) = describe(&block);
/// assert_eq!((address % 64, len), (0, 100));
/// # Ok::<(), iobuf_align::AlignError>(())
/// ```
#[allow(unsafe_code)] // reason: implementors promise address stability; see `# Safety`.
pub unsafe trait StableMemory: Send + Sync {
    /// The first byte.
    fn base(&self) -> NonNull<u8>;

    /// Number of usable bytes from [`base`](Self::base).
    fn len(&self) -> usize;

    /// Always `false`: no constructor in this crate makes empty memory.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
