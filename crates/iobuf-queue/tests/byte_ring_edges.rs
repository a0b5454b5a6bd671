//! Edges of the byte ring: every offset of the seam, counters running across 2^64, and the
//! capacities it must refuse.

mod common;

use std::thread;

use common::{Stream, XorShift};
use iobuf_queue::byte_ring::{self, ByteRingError};

const SMALL: usize = 64;

#[test]
fn plain_ring_splits_at_the_seam_from_every_offset_for_every_length() {
    let stream = Stream::new(11);
    for offset in 0..SMALL {
        for len in 1..=SMALL {
            let (mut producer, mut consumer) = byte_ring::new_at(SMALL, offset as u64).unwrap();
            let data = stream.bytes((offset * SMALL + len) as u64, len);
            let head = len.min(SMALL - offset);
            {
                let [first, second] = producer.free_slices();
                // An empty ring offers everything: up to the end, then from the start.
                assert_eq!((first.len(), second.len()), (SMALL - offset, offset));
                first[..head].copy_from_slice(&data[..head]);
                second[..len - head].copy_from_slice(&data[head..]);
            }
            producer.commit(len);
            let [first, second] = consumer.filled_slices();
            assert_eq!(first, &data[..head], "offset {offset} len {len}");
            assert_eq!(second, &data[head..], "offset {offset} len {len}");
            consumer.consume(len);
            assert_eq!(producer.free_len(), SMALL);
        }
    }
}

#[test]
fn mirrored_ring_is_one_slice_from_every_offset() {
    let page = iobuf_align::page_size();
    let stream = Stream::new(12);
    for offset in 0..page {
        let (mut producer, mut consumer) = byte_ring::new_mirrored_at(page, offset as u64).unwrap();
        // Lengths that stop short of the seam, reach it, cross it by one, and fill the ring.
        let to_seam = page - offset;
        for len in [1, to_seam, (to_seam + 1).min(page), page] {
            let data = stream.bytes(offset as u64, len);
            let free = producer.free_slice();
            assert_eq!(free.len(), page, "offset {offset}");
            free[..len].copy_from_slice(&data);
            producer.commit(len);
            assert_eq!(consumer.filled_slice(), &data[..], "offset {offset} len {len}");
            consumer.consume(len);
            // Back to the same ring offset for the next length.
            producer.commit(page - len);
            consumer.consume(page - len);
        }
    }
}

/// Pushes and pops `total` bytes on one thread with random chunk sizes, checking every byte,
/// starting with both counters at `start`.
fn laps_from(start: u64, mirrored: bool, capacity: usize, total: usize, seed: u64) {
    let stream = Stream::new(seed);
    let data = stream.bytes(0, total);
    let mut rng = XorShift::new(seed);
    let mut out = vec![0; capacity * 2];
    let (mut sent, mut got) = (0, 0);
    macro_rules! run {
        ($producer:ident, $consumer:ident) => {
            while got < total {
                let chunk = rng.below_or_eq(capacity * 2).min(total - sent);
                sent += $producer.copy_in(&data[sent..sent + chunk]);
                let want = rng.below_or_eq(capacity * 2);
                let n = $consumer.copy_out(&mut out[..want]);
                assert_eq!(&out[..n], &data[got..got + n], "from start {start:#x}");
                got += n;
            }
            assert_eq!($producer.position(), start.wrapping_add(total as u64));
            assert_eq!($consumer.position(), start.wrapping_add(total as u64));
        };
    }
    if mirrored {
        let (mut producer, mut consumer) = byte_ring::new_mirrored_at(capacity, start).unwrap();
        run!(producer, consumer);
    } else {
        let (mut producer, mut consumer) = byte_ring::new_at(capacity, start).unwrap();
        run!(producer, consumer);
    }
}

#[test]
fn counters_run_across_u64_max_on_both_variants() {
    let page = iobuf_align::page_size();
    for back in [0, 1, 7, 63, 64, 65, 4095] {
        let start = u64::MAX - back;
        laps_from(start, false, SMALL, SMALL * 5, back);
        laps_from(start, true, page, page * 5, back);
    }
}

#[test]
fn two_threads_keep_the_stream_intact_across_u64_max() {
    let total = 1 << 20;
    let (mut producer, mut consumer) = byte_ring::new_at(256, u64::MAX - 1000).unwrap();
    let stream = Stream::new(21);
    let data = stream.bytes(0, total);
    let expected = data.clone();
    let writer = thread::spawn(move || {
        let mut sent = 0;
        let mut rng = XorShift::new(5);
        while sent < total {
            producer.wait_for_space(1, None).unwrap();
            let chunk = rng.below_or_eq(300).min(total - sent);
            sent += producer.copy_in(&data[sent..sent + chunk]);
        }
    });
    let mut got = Vec::with_capacity(total);
    let mut buf = [0; 300];
    while consumer.wait_for_data(1, None).is_ok() {
        let n = consumer.copy_out(&mut buf);
        got.extend_from_slice(&buf[..n]);
    }
    writer.join().unwrap();
    assert!(got == expected, "stream differs after crossing 2^64");
    assert_eq!(consumer.position(), (u64::MAX - 1000).wrapping_add(total as u64));
}

#[test]
fn bad_capacities_are_refused_with_the_reason() {
    for capacity in [3, 6, 100, 4097, usize::MAX] {
        assert_eq!(
            byte_ring::new(capacity).unwrap_err(),
            ByteRingError::NotPowerOfTwo { capacity }
        );
    }
    assert_eq!(byte_ring::new(0).unwrap_err(), ByteRingError::ZeroCapacity);
    // A power of two beyond the address space: the allocator's refusal, typed.
    assert!(matches!(byte_ring::new(1 << 63), Err(ByteRingError::Memory(_))));
    // The smallest ring works.
    let (mut producer, consumer) = byte_ring::new(1).unwrap();
    assert_eq!(producer.copy_in(b"ab"), 1);
    assert_eq!(consumer.filled_slices(), [&b"a"[..], &[][..]]);

    let page = iobuf_align::page_size();
    assert_eq!(byte_ring::new_mirrored(0).unwrap_err(), ByteRingError::ZeroCapacity);
    for capacity in [page * 3, page + 1, 100] {
        assert_eq!(
            byte_ring::new_mirrored(capacity).unwrap_err(),
            ByteRingError::NotPowerOfTwo { capacity }
        );
    }
    for capacity in [1, 64, page / 2] {
        assert_eq!(
            byte_ring::new_mirrored(capacity).unwrap_err(),
            ByteRingError::NotPageMultiple { capacity, page_size: page }
        );
    }
}
