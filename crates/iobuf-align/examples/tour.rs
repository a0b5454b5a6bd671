//! A tour of iobuf-align: the blocks and regions a buffer pool stands on.
//!
//! Run with `cargo run -p iobuf-align --example tour`.

use iobuf_align::{
    AlignError, AlignedBlock, BlockLayout, CACHE_LINE_SIZE, Carved, Lock, MirroredRegion, PageKind,
    Region, RegionOptions, StableMemory, page_size,
};

fn main() -> Result<(), AlignError> {
    println!("page size {} B, cache line {} B", page_size(), CACHE_LINE_SIZE);

    // An O_DIRECT-ready heap block.
    let block = AlignedBlock::page_aligned(64 * 1024)?;
    println!("heap block: {} B at {:p} (page aligned)", block.len(), block.as_ptr());

    // A region that asks for 2 MiB pages and says what it got.
    let options = RegionOptions::new()
        .page(PageKind::Huge2M)
        .allow_fallback(true)
        .populate(true)
        .lock(Lock::BestEffort);
    let region = Region::map(8 << 20, options)?;
    println!(
        "region: {} MiB, asked for 2 MiB pages, got {:?} ({} KiB pages), locked: {}",
        region.len() >> 20,
        region.page_kind(),
        region.page_size() / 1024,
        region.is_locked()
    );

    // Carve it into 4 KiB buffers, as a pool would.
    let buffers = Carved::new(region, BlockLayout::new(4096, 4096, 2048)?)?;
    let last = buffers.block_ptr(2047).expect("in range");
    println!(
        "carved {} buffers of {} B; buffer 2047 at offset {} maps back to index {:?}",
        buffers.count(),
        buffers.block_size(),
        last.as_ptr() as usize - buffers.base().as_ptr() as usize,
        buffers.index_of(last.as_ptr())
    );

    // A mirrored mapping: a write across the seam reads back contiguously.
    let mut mirror = MirroredRegion::new(page_size())?;
    let len = mirror.len();
    if let Some(window) = mirror.slice_mut(len - 3, 6) {
        window.copy_from_slice(b"seam!!");
    }
    let wrapped = mirror.slice(len - 3, 6).map(String::from_utf8_lossy);
    let head = mirror.slice(0, 3).map(String::from_utf8_lossy);
    println!("mirrored: window across the seam reads {wrapped:?}, start of ring reads {head:?}");
    Ok(())
}
