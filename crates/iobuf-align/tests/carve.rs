//! Carving heap blocks and mmap regions into equal blocks.

use iobuf_align::{AlignError, AlignedBlock, BlockLayout, Carved, Region, RegionOptions};

#[test]
fn index_and_pointer_round_trip_on_a_region() {
    let layout = BlockLayout::new(4096, 4096, 64).unwrap();
    let region = Region::map(layout.total_len(), RegionOptions::new()).unwrap();
    let blocks = Carved::new(region, layout).unwrap();
    let base = blocks.base().as_ptr() as usize;
    for index in 0..64 {
        let ptr = blocks.block_ptr(index).unwrap();
        assert_eq!(ptr.as_ptr() as usize, base + index * 4096);
        assert_eq!(blocks.index_of(ptr.as_ptr()), Some(index));
        // A pointer inside a block is not the start of one.
        assert_eq!(blocks.index_of(ptr.as_ptr().wrapping_add(100)), None);
    }
    assert_eq!(blocks.block_ptr(64), None);
    assert_eq!(blocks.index_of((base + 64 * 4096) as *const u8), None);
    assert_eq!(blocks.index_of((base - 4096) as *const u8), None);
}

#[test]
fn odd_block_sizes_are_strided_to_the_alignment() {
    let layout = BlockLayout::new(100, 64, 10).unwrap();
    assert_eq!((layout.stride(), layout.total_len()), (128, 1280));
    let blocks = Carved::heap(layout).unwrap();
    for index in 0..10 {
        let ptr = blocks.block_ptr(index).unwrap().as_ptr() as usize;
        assert_eq!(ptr % 64, 0);
    }
    assert_eq!((blocks.count(), blocks.block_size()), (10, 100));
}

#[test]
fn blocks_do_not_overlap() {
    let layout = BlockLayout::new(24, 8, 50).unwrap();
    let blocks = Carved::heap(layout).unwrap();
    // Write each block's index into all its bytes, then read every block back.
    for index in 0..50 {
        let ptr = blocks.block_ptr(index).unwrap().as_ptr();
        // SAFETY: block `index` is 24 bytes inside the carved allocation, touched by no one else.
        unsafe { ptr.write_bytes(index as u8, 24) };
    }
    for index in 0..50 {
        let ptr = blocks.block_ptr(index).unwrap().as_ptr();
        // SAFETY: as above; the writes are finished.
        let bytes = unsafe { std::slice::from_raw_parts(ptr, 24) };
        assert!(bytes.iter().all(|&b| b == index as u8), "block {index} was overwritten");
    }
}

#[test]
fn bad_layouts_and_memory_return_their_errors() {
    assert_eq!(BlockLayout::new(0, 8, 1), Err(AlignError::ZeroSize));
    assert_eq!(BlockLayout::new(8, 8, 0), Err(AlignError::ZeroSize));
    assert_eq!(BlockLayout::new(8, 12, 1), Err(AlignError::AlignmentNotPowerOfTwo { align: 12 }));
    assert_eq!(BlockLayout::new(usize::MAX, 2, 1), Err(AlignError::SizeOverflow));
    assert_eq!(BlockLayout::new(1 << 40, 8, 1 << 30), Err(AlignError::SizeOverflow));

    let small = AlignedBlock::new(100, 64).unwrap();
    let layout = BlockLayout::new(64, 64, 2).unwrap();
    assert_eq!(
        Carved::new(small, layout).unwrap_err(),
        AlignError::TooSmall { needed: 128, available: 100 }
    );
    let coarse = AlignedBlock::new(8192, 64).unwrap();
    let address = coarse.as_ptr() as usize;
    let wide = BlockLayout::new(64, 1 << 20, 1).unwrap();
    if address % (1 << 20) != 0 {
        assert_eq!(
            Carved::new(coarse, wide).unwrap_err(),
            AlignError::Misaligned { address, align: 1 << 20 }
        );
    }
}

#[test]
fn memory_comes_back_whole() {
    let blocks = Carved::heap(BlockLayout::new(64, 64, 4).unwrap()).unwrap();
    let base = blocks.base().as_ptr().cast_const();
    let memory = blocks.into_memory();
    assert_eq!((memory.as_ptr(), memory.len()), (base, 256));
}
