//! Carving one piece of memory into `n` equal blocks.
//!
//! This is what pools stand on: block `i` starts at `base + i * stride`, found in O(1), and the
//! inverse (pointer → index) is O(1) too, so a buffer handed to the kernel as a bare pointer can
//! be traced back to its index.

use core::ptr::NonNull;

use crate::{AlignError, AlignedBlock, StableMemory};

/// The shape of `count` equal blocks of `block_size` bytes, each aligned to `align`.
///
/// Blocks are laid out `stride` bytes apart, where `stride` is `block_size` rounded up to
/// `align`; the whole carving needs `stride * count` bytes starting at an `align`-aligned base.
///
/// # Examples
///
/// ```
/// use iobuf_align::BlockLayout;
///
/// let layout = BlockLayout::new(100, 64, 10)?;
/// assert_eq!(layout.stride(), 128);
/// assert_eq!(layout.total_len(), 1280);
/// # Ok::<(), iobuf_align::AlignError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockLayout {
    block_size: usize,
    align: usize,
    stride: usize,
    count: usize,
}

impl BlockLayout {
    /// Describes `count` blocks of `block_size` bytes aligned to `align`.
    ///
    /// # Errors
    ///
    /// [`AlignError::ZeroSize`] when `block_size` or `count` is 0;
    /// [`AlignError::AlignmentNotPowerOfTwo`]; [`AlignError::SizeOverflow`] when the total does
    /// not fit `isize::MAX`.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_align::{AlignError, BlockLayout};
    /// assert_eq!(BlockLayout::new(64, 64, 0), Err(AlignError::ZeroSize));
    /// ```
    pub fn new(block_size: usize, align: usize, count: usize) -> Result<Self, AlignError> {
        if block_size == 0 || count == 0 {
            return Err(AlignError::ZeroSize);
        }
        if !align.is_power_of_two() {
            return Err(AlignError::AlignmentNotPowerOfTwo { align });
        }
        let stride = block_size.checked_next_multiple_of(align).ok_or(AlignError::SizeOverflow)?;
        let total = stride.checked_mul(count).ok_or(AlignError::SizeOverflow)?;
        if total > isize::MAX as usize {
            return Err(AlignError::SizeOverflow);
        }
        Ok(Self { block_size, align, stride, count })
    }

    /// Bytes per block, as asked for.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(iobuf_align::BlockLayout::new(100, 64, 2)?.block_size(), 100);
    /// # Ok::<(), iobuf_align::AlignError>(())
    /// ```
    pub fn block_size(&self) -> usize {
        self.block_size
    }

    /// Alignment of every block.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(iobuf_align::BlockLayout::new(100, 64, 2)?.align(), 64);
    /// # Ok::<(), iobuf_align::AlignError>(())
    /// ```
    pub fn align(&self) -> usize {
        self.align
    }

    /// Distance between the starts of consecutive blocks: `block_size` rounded up to `align`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(iobuf_align::BlockLayout::new(4096, 4096, 2)?.stride(), 4096);
    /// # Ok::<(), iobuf_align::AlignError>(())
    /// ```
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Number of blocks.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(iobuf_align::BlockLayout::new(8, 8, 5)?.count(), 5);
    /// # Ok::<(), iobuf_align::AlignError>(())
    /// ```
    pub fn count(&self) -> usize {
        self.count
    }

    /// Bytes the whole carving needs: `stride * count`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(iobuf_align::BlockLayout::new(8, 8, 5)?.total_len(), 40);
    /// # Ok::<(), iobuf_align::AlignError>(())
    /// ```
    pub fn total_len(&self) -> usize {
        self.stride * self.count
    }
}

/// Memory split into equal blocks, owning the memory it was carved from.
///
/// Index → pointer and pointer → index are O(1) and bounds-checked. `Carved` hands out
/// pointers, not references: who may touch which block at a time is the owner's business (a
/// pool tracks that with its free list).
///
/// # Examples
///
/// ```
/// use iobuf_align::{BlockLayout, Carved, Region, RegionOptions};
///
/// let layout = BlockLayout::new(4096, 4096, 16)?;
/// let region = Region::map(layout.total_len(), RegionOptions::new())?;
/// let blocks = Carved::new(region, layout)?;
/// let third = blocks.block_ptr(2).unwrap();
/// assert_eq!(blocks.index_of(third.as_ptr()), Some(2));
/// assert!(blocks.block_ptr(16).is_none());
/// # Ok::<(), iobuf_align::AlignError>(())
/// ```
#[derive(Debug)]
pub struct Carved<M> {
    memory: M,
    layout: BlockLayout,
}

impl Carved<AlignedBlock> {
    /// Allocates one zeroed heap block big enough for `layout` and carves it.
    ///
    /// # Errors
    ///
    /// As [`AlignedBlock::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_align::{BlockLayout, Carved, CACHE_LINE_SIZE};
    ///
    /// // n cache-line-aligned blocks
    /// let blocks = Carved::heap(BlockLayout::new(48, CACHE_LINE_SIZE, 4)?)?;
    /// assert_eq!(blocks.count(), 4);
    /// # Ok::<(), iobuf_align::AlignError>(())
    /// ```
    pub fn heap(layout: BlockLayout) -> Result<Self, AlignError> {
        let memory = AlignedBlock::new(layout.total_len(), layout.align())?;
        Self::new(memory, layout)
    }
}

impl<M: StableMemory> Carved<M> {
    /// Carves `memory` into the blocks `layout` describes. Bytes past `layout.total_len()` stay
    /// unused.
    ///
    /// # Errors
    ///
    /// [`AlignError::TooSmall`] when `memory` is shorter than `layout.total_len()`;
    /// [`AlignError::Misaligned`] when its base is not aligned to `layout.align()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_align::{AlignError, AlignedBlock, BlockLayout, Carved};
    ///
    /// let small = AlignedBlock::new(100, 64)?;
    /// let err = Carved::new(small, BlockLayout::new(64, 64, 2)?).unwrap_err();
    /// assert_eq!(err, AlignError::TooSmall { needed: 128, available: 100 });
    /// # Ok::<(), iobuf_align::AlignError>(())
    /// ```
    pub fn new(memory: M, layout: BlockLayout) -> Result<Self, AlignError> {
        let address = memory.base().as_ptr() as usize;
        if address % layout.align() != 0 {
            return Err(AlignError::Misaligned { address, align: layout.align() });
        }
        if memory.len() < layout.total_len() {
            return Err(AlignError::TooSmall {
                needed: layout.total_len(),
                available: memory.len(),
            });
        }
        Ok(Self { memory, layout })
    }

    /// The first byte of block `index`, or `None` when `index >= count()`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use iobuf_align::{BlockLayout, Carved};
    /// let blocks = Carved::heap(BlockLayout::new(10, 16, 3)?)?;
    /// let base = blocks.base().as_ptr() as usize;
    /// assert_eq!(blocks.block_ptr(1).map(|p| p.as_ptr() as usize - base), Some(16));
    /// assert_eq!(blocks.block_ptr(3), None);
    /// # Ok::<(), iobuf_align::AlignError>(())
    /// ```
    #[inline]
    pub fn block_ptr(&self, index: usize) -> Option<NonNull<u8>> {
        if index >= self.layout.count {
            return None;
        }
        // index < count and stride * count <= memory.len(), so the offset stays in bounds and
        // `map_addr`-style arithmetic keeps the pointer's provenance.
        let offset = index * self.layout.stride;
        // The base is non-null and offset stays inside the allocation, so the result is non-null.
        Some(self.memory.base().map_addr(|addr| addr.saturating_add(offset)))
    }

    /// The index of the block that starts at `ptr`, or `None` when `ptr` is not the first byte
    /// of one of the blocks (outside the carving, or inside a block).
    ///
    /// # Examples
    ///
    /// ```
    /// # use iobuf_align::{BlockLayout, Carved};
    /// let blocks = Carved::heap(BlockLayout::new(64, 64, 4)?)?;
    /// let second = blocks.block_ptr(1).unwrap().as_ptr();
    /// assert_eq!(blocks.index_of(second), Some(1));
    /// assert_eq!(blocks.index_of(second.wrapping_add(1)), None);
    /// # Ok::<(), iobuf_align::AlignError>(())
    /// ```
    #[inline]
    pub fn index_of(&self, ptr: *const u8) -> Option<usize> {
        let offset = (ptr as usize).checked_sub(self.memory.base().as_ptr() as usize)?;
        let index = offset / self.layout.stride;
        (offset % self.layout.stride == 0 && index < self.layout.count).then_some(index)
    }

    /// The first byte of the carved memory (block 0).
    ///
    /// # Examples
    ///
    /// ```
    /// # use iobuf_align::{BlockLayout, Carved};
    /// let blocks = Carved::heap(BlockLayout::new(64, 64, 4)?)?;
    /// assert_eq!(blocks.base(), blocks.block_ptr(0).unwrap());
    /// # Ok::<(), iobuf_align::AlignError>(())
    /// ```
    pub fn base(&self) -> NonNull<u8> {
        self.memory.base()
    }

    /// The layout the memory was carved with.
    ///
    /// # Examples
    ///
    /// ```
    /// # use iobuf_align::{BlockLayout, Carved};
    /// let layout = BlockLayout::new(64, 64, 4)?;
    /// assert_eq!(Carved::heap(layout)?.layout(), layout);
    /// # Ok::<(), iobuf_align::AlignError>(())
    /// ```
    pub fn layout(&self) -> BlockLayout {
        self.layout
    }

    /// Number of blocks.
    ///
    /// # Examples
    ///
    /// ```
    /// # use iobuf_align::{BlockLayout, Carved};
    /// assert_eq!(Carved::heap(BlockLayout::new(64, 64, 4)?)?.count(), 4);
    /// # Ok::<(), iobuf_align::AlignError>(())
    /// ```
    pub fn count(&self) -> usize {
        self.layout.count
    }

    /// Bytes per block.
    ///
    /// # Examples
    ///
    /// ```
    /// # use iobuf_align::{BlockLayout, Carved};
    /// assert_eq!(Carved::heap(BlockLayout::new(60, 64, 4)?)?.block_size(), 60);
    /// # Ok::<(), iobuf_align::AlignError>(())
    /// ```
    pub fn block_size(&self) -> usize {
        self.layout.block_size
    }

    /// The memory the blocks were carved from (for registering it with the kernel, say).
    ///
    /// # Examples
    ///
    /// ```
    /// # use iobuf_align::{BlockLayout, Carved, StableMemory};
    /// let blocks = Carved::heap(BlockLayout::new(64, 64, 4)?)?;
    /// assert_eq!(blocks.memory().len(), 256);
    /// # Ok::<(), iobuf_align::AlignError>(())
    /// ```
    pub fn memory(&self) -> &M {
        &self.memory
    }

    /// Gives the memory back, ending the carving.
    ///
    /// # Examples
    ///
    /// ```
    /// # use iobuf_align::{BlockLayout, Carved};
    /// let block = Carved::heap(BlockLayout::new(64, 64, 4)?)?.into_memory();
    /// assert_eq!(block.len(), 256);
    /// # Ok::<(), iobuf_align::AlignError>(())
    /// ```
    pub fn into_memory(self) -> M {
        self.memory
    }
}
