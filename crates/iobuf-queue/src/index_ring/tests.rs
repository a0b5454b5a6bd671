//! Single-threaded tests of the index ring: the test ladder's first rungs. Concurrency is
//! tested in `tests/stress_index_ring.rs` and `tests/loom_index_ring.rs`.

use super::*;
use alloc::format;
use alloc::vec;
use static_assertions::assert_impl_all;

assert_impl_all!(IndexRing: Send, Sync, core::fmt::Debug);

/// Pops until empty.
fn drain(ring: &IndexRing) -> Vec<u32> {
    let mut out = Vec::new();
    while let Some(index) = ring.pop() {
        out.push(index);
    }
    out
}

#[test]
fn smoke_full_pops_ascending_then_none() {
    let ring = IndexRing::new_full(5).unwrap();
    assert_eq!(drain(&ring), vec![0, 1, 2, 3, 4]);
    assert_eq!(ring.pop(), None);
    ring.push(3);
    assert_eq!(ring.pop(), Some(3));
}

#[test]
fn smoke_empty_then_fifo() {
    let ring = IndexRing::new_empty(4).unwrap();
    assert_eq!(ring.pop(), None);
    for index in [2, 0, 3, 1] {
        ring.push(index);
    }
    assert_eq!(drain(&ring), vec![2, 0, 3, 1]);
}

#[test]
fn capacity_is_as_requested_slot_capacity_rounds_up() {
    for (capacity, slots) in [(1, 1), (2, 2), (3, 4), (100, 128), (1024, 1024), (1025, 2048)] {
        let ring = IndexRing::new_empty(capacity).unwrap();
        assert_eq!(ring.capacity(), capacity);
        assert_eq!(ring.slot_capacity(), slots);
    }
}

#[test]
fn len_and_is_empty_follow_pushes_and_pops() {
    let ring = IndexRing::new_full(3).unwrap();
    assert_eq!(ring.len(), 3);
    assert!(!ring.is_empty());
    let a = ring.pop().unwrap();
    assert_eq!(ring.len(), 2);
    ring.pop().unwrap();
    ring.pop().unwrap();
    assert_eq!(ring.len(), 0);
    assert!(ring.is_empty());
    // Failed pops move the head past the tail; len must not go negative or wrap.
    assert_eq!(ring.pop(), None);
    assert_eq!(ring.pop(), None);
    assert_eq!(ring.len(), 0);
    ring.push(a);
    assert_eq!(ring.len(), 1);
    assert_eq!(ring.pop(), Some(a));
}

#[test]
fn holds_exactly_capacity_over_many_laps() {
    // Non-power-of-two capacity: positions wrap at 2 * slot_capacity, not at 2 * capacity.
    let ring = IndexRing::new_full(3).unwrap();
    for lap in 0..1000u32 {
        let a = ring.pop().unwrap();
        let b = ring.pop().unwrap();
        let c = ring.pop().unwrap();
        assert_eq!(ring.pop(), None, "lap {lap}: a fourth index appeared");
        // Rotate the order each lap so every slot sees every index.
        let mut held = [a, b, c];
        held.rotate_left((lap % 3) as usize);
        for index in held {
            ring.push(index);
        }
        assert_eq!(ring.len(), 3);
    }
    let mut all = drain(&ring);
    all.sort_unstable();
    assert_eq!(all, vec![0, 1, 2]);
}

#[test]
fn empty_pops_interleaved_with_pushes_lose_nothing() {
    // Every failed pop advances the head and spends threshold; pushes must still land where
    // pops find them, and the threshold must come back after each push.
    let ring = IndexRing::new_empty(2).unwrap();
    for round in 0..500u32 {
        for _ in 0..(round % 7) {
            assert_eq!(ring.pop(), None);
        }
        ring.push(round % 2);
        assert_eq!(ring.pop(), Some(round % 2), "round {round}");
    }
}

#[test]
fn empty_pops_stop_claiming_positions_and_pushes_restore_the_threshold() {
    let ring = IndexRing::new_full(2).unwrap();
    let full_threshold = 3 * 2 - 1;
    assert_eq!(ring.threshold.load(Ordering::SeqCst), full_threshold);
    assert_eq!(drain(&ring), vec![0, 1]);
    // The pop that ended `drain` claimed a position, found it empty, spent one unit of
    // threshold and pulled the tail up to the head.
    assert_eq!(ring.threshold.load(Ordering::SeqCst), full_threshold - 1);
    assert_eq!(ring.head.load(Ordering::SeqCst), ring.tail.load(Ordering::SeqCst));
    // From then on an empty pop (single or batch) is loads only: it claims nothing.
    let head = ring.head.load(Ordering::SeqCst);
    for _ in 0..10 {
        assert_eq!(ring.pop(), None);
        assert_eq!(ring.pop_many(&mut [0; 4]), 0);
    }
    assert_eq!(ring.head.load(Ordering::SeqCst), head, "an empty pop claimed a position");
    assert_eq!(ring.threshold.load(Ordering::SeqCst), full_threshold - 1);
    // A push lands where the next pop looks, and restores the threshold.
    ring.push(1);
    assert_eq!(ring.threshold.load(Ordering::SeqCst), full_threshold);
    assert_eq!(ring.pop(), Some(1));
}

#[test]
fn a_negative_threshold_reads_empty_without_loads_of_head_or_tail() {
    let ring = IndexRing::new_empty(4).unwrap();
    assert!(ring.threshold.load(Ordering::SeqCst) < 0);
    assert_eq!(ring.pop(), None);
    assert_eq!(ring.head.load(Ordering::SeqCst), 0, "a pop on a new empty ring claimed");
    ring.push(3);
    assert_eq!(ring.pop(), Some(3));
}

#[test]
fn batch_ops_keep_fifo_order() {
    let ring = IndexRing::new_full(10).unwrap();
    let mut out = [u32::MAX; 4];
    assert_eq!(ring.pop_many(&mut out), 4);
    assert_eq!(out, [0, 1, 2, 3]);
    ring.push_many(&[3, 1]);
    let mut rest = [u32::MAX; 16];
    assert_eq!(ring.pop_many(&mut rest), 8);
    assert_eq!(&rest[..8], &[4, 5, 6, 7, 8, 9, 3, 1]);
    assert_eq!(ring.pop_many(&mut rest), 0);
    assert_eq!(ring.pop_many(&mut []), 0);
    ring.push_many(&[]);
    assert!(ring.is_empty());
    ring.push_many(&[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    assert_eq!(ring.len(), 10);
    assert_eq!(ring.pop_many(&mut rest), 10);
    assert_eq!(&rest[..10], &[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
}

#[test]
fn batch_and_single_ops_mix_over_laps() {
    let ring = IndexRing::new_full(6).unwrap();
    let mut out = [0; 4];
    for lap in 0..300 {
        let got = ring.pop_many(&mut out);
        assert_eq!(got, 4, "lap {lap}");
        let single = ring.pop().unwrap();
        ring.push(single);
        ring.push_many(&out[..got]);
        assert_eq!(ring.len(), 6);
    }
    let mut all = drain(&ring);
    all.sort_unstable();
    assert_eq!(all, vec![0, 1, 2, 3, 4, 5]);
}

#[test]
fn zero_capacity_is_an_error() {
    assert_eq!(IndexRing::new_empty(0).unwrap_err(), CapacityError::Zero);
    assert_eq!(IndexRing::new_full(0).unwrap_err(), CapacityError::Zero);
}

#[test]
fn capacity_above_two_to_the_31_is_an_error() {
    let max = crate::MAX_CAPACITY;
    for capacity in [max + 1, usize::MAX] {
        assert_eq!(
            IndexRing::new_full(capacity).unwrap_err(),
            CapacityError::TooLarge { requested: capacity, max }
        );
    }
}

#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "index 4 pushed to an IndexRing of capacity 4")]
fn push_out_of_range_panics_in_debug() {
    IndexRing::new_empty(4).unwrap().push(4);
}

#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "index out of range pushed to an IndexRing of capacity 3")]
fn push_many_out_of_range_panics_in_debug() {
    IndexRing::new_empty(3).unwrap().push_many(&[0, 3]);
}

#[test]
fn slots_are_128_byte_blocks() {
    assert_eq!(core::mem::align_of::<SlotBlock>(), 128);
    assert_eq!(core::mem::size_of::<SlotBlock>(), 128);
    // Head, tail and threshold each sit on their own padded line.
    let ring = IndexRing::new_empty(1).unwrap();
    let head = &ring.head as *const _ as usize;
    let tail = &ring.tail as *const _ as usize;
    assert!(head.abs_diff(tail) >= 128);
}

#[test]
fn debug_shows_sizes() {
    let ring = IndexRing::new_full(3).unwrap();
    assert_eq!(format!("{ring:?}"), "IndexRing { capacity: 3, slot_capacity: 4, len: 3, .. }");
}
