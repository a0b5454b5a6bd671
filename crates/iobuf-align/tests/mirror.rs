//! MirroredRegion: one set of pages seen through two consecutive views.

use iobuf_align::{AlignError, MirroredRegion, StableMemory, page_size};

#[test]
fn writes_across_the_seam_read_back_through_both_views() {
    let mut ring = MirroredRegion::new(4 * page_size()).unwrap();
    let len = ring.len();
    let message: Vec<u8> = (0..64u8).collect();
    // Write 64 bytes starting 20 before the end of the first view.
    ring.slice_mut(len - 20, 64).unwrap().copy_from_slice(&message);
    // First view: the head of the message at the end, the tail at the start.
    assert_eq!(ring.slice(len - 20, 20).unwrap(), &message[..20]);
    assert_eq!(ring.slice(0, 44).unwrap(), &message[20..]);
    // Second view: the same window reads the message contiguously.
    assert_eq!(ring.slice(len - 20, 64).unwrap(), &message[..]);
}

#[test]
fn every_offset_sees_the_same_bytes_in_both_views() {
    let mut ring = MirroredRegion::new(page_size()).unwrap();
    let len = ring.len();
    for (i, byte) in ring.slice_mut(0, len).unwrap().iter_mut().enumerate() {
        *byte = (i % 251) as u8;
    }
    for offset in 0..len {
        // The window from `offset` runs `len` bytes, through the seam into the second view.
        let window = ring.slice(offset, len).unwrap();
        assert_eq!(window[0], (offset % 251) as u8);
        assert_eq!(window[len - offset - 1], ((len - 1) % 251) as u8);
        if offset > 0 {
            // First byte of the second view is byte 0.
            assert_eq!(window[len - offset], 0);
        }
    }
}

#[test]
fn starts_zeroed_and_page_aligned() {
    let ring = MirroredRegion::new(2 * page_size()).unwrap();
    assert_eq!(ring.base().as_ptr() as usize % page_size(), 0);
    assert!(ring.slice(0, ring.len()).unwrap().iter().all(|&b| b == 0));
}

#[test]
fn windows_longer_than_a_view_are_refused() {
    let mut ring = MirroredRegion::new(page_size()).unwrap();
    let len = ring.len();
    assert!(ring.slice(0, len + 1).is_none());
    assert!(ring.slice(len, 1).is_none());
    assert!(ring.slice_mut(0, len + 1).is_none());
    assert!(ring.slice_mut(len, 0).is_none());
    assert_eq!(ring.slice(len - 1, 0).map(<[u8]>::len), Some(0));
}

#[test]
fn bad_sizes_return_their_errors() {
    assert_eq!(MirroredRegion::new(0).unwrap_err(), AlignError::ZeroSize);
    assert_eq!(
        MirroredRegion::new(page_size() + 1).unwrap_err(),
        AlignError::NotPageMultiple { size: page_size() + 1, page_size: page_size() }
    );
    let huge = (usize::MAX / page_size()) * page_size();
    assert_eq!(MirroredRegion::new(huge).unwrap_err(), AlignError::SizeOverflow);
}
