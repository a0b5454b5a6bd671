//! AlignedBlock: every power-of-two alignment up to 1 GiB, zeroed memory, errors.

use iobuf_align::{AlignError, AlignedBlock, CACHE_LINE_SIZE, StableMemory, page_size};

/// 1 byte, an odd size, and a large size that spans many pages.
const SIZES: [usize; 3] = [1, 4099, (3 << 20) + 1];

#[test]
fn every_power_of_two_alignment_up_to_1_gib() {
    for shift in 0..=30 {
        let align = 1usize << shift;
        for size in SIZES {
            let mut block = AlignedBlock::new(size, align)
                .unwrap_or_else(|e| panic!("size {size} align {align}: {e}"));
            assert_eq!(block.as_ptr() as usize % align, 0, "size {size} align {align}");
            assert_eq!(block.len(), size);
            assert_eq!(block.align(), align);
            assert!(block.iter().all(|&b| b == 0), "not zeroed: size {size} align {align}");
            // The whole range is writable: touch first and last byte.
            block[0] = 0xA5;
            block[size - 1] = 0x5A;
            assert_eq!(block[0] ^ block[size - 1], if size == 1 { 0 } else { 0xFF });
        }
    }
}

#[test]
fn address_is_stable_across_moves() {
    let block = AlignedBlock::new(4096, 4096).unwrap();
    let before = block.as_ptr();
    let moved = [block];
    assert_eq!(moved[0].as_ptr(), before);
    assert_eq!(moved[0].base().as_ptr().cast_const(), before);
}

#[test]
fn convenience_constructors_align_as_named() {
    let page = AlignedBlock::one_page().unwrap();
    assert_eq!((page.len(), page.as_ptr() as usize % page_size()), (page_size(), 0));
    let cache = AlignedBlock::cache_aligned(3).unwrap();
    assert_eq!(cache.as_ptr() as usize % CACHE_LINE_SIZE, 0);
    let paged = AlignedBlock::page_aligned(page_size() + 1).unwrap();
    assert_eq!((paged.len(), paged.align()), (page_size() + 1, page_size()));
}

#[test]
fn bad_inputs_return_their_errors() {
    assert_eq!(AlignedBlock::new(0, 64).unwrap_err(), AlignError::ZeroSize);
    for align in [0, 3, 24, 100, usize::MAX] {
        assert_eq!(
            AlignedBlock::new(64, align).unwrap_err(),
            AlignError::AlignmentNotPowerOfTwo { align }
        );
    }
    assert_eq!(AlignedBlock::new(usize::MAX - 10, 1).unwrap_err(), AlignError::SizeOverflow);
    assert_eq!(AlignedBlock::new(isize::MAX as usize, 64).unwrap_err(), AlignError::SizeOverflow);
}

#[test]
fn impossible_allocation_is_out_of_memory() {
    // 64 TiB: no machine this runs on has it, and the allocator reports failure (calloc path,
    // alignment 8, so nothing is written).
    let size = 1usize << 46;
    assert_eq!(AlignedBlock::new(size, 8).unwrap_err(), AlignError::OutOfMemory { size });
}
