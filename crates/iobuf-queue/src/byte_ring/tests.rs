//! Unit tests: smoke, lengths, misuse, closing, waits. Long runs, wraps at every offset and
//! real pipes are in `tests/`.

use std::io::{self, Read, Write};
use std::string::ToString;
use std::time::{Duration, Instant};
use std::vec::Vec;
use std::{format, thread};

use static_assertions::{assert_impl_all, assert_not_impl_any};

use super::*;

assert_impl_all!(Producer: Send);
assert_impl_all!(Consumer: Send);
assert_not_impl_any!(Producer: Sync, Clone);
assert_not_impl_any!(Consumer: Sync, Clone);
assert_impl_all!(MirroredProducer: Send);
assert_impl_all!(MirroredConsumer: Send);
assert_not_impl_any!(MirroredProducer: Sync, Clone);
assert_not_impl_any!(MirroredConsumer: Sync, Clone);
assert_impl_all!(ByteRingError: core::error::Error, Send, Sync, Copy);
assert_impl_all!(WaitError: core::error::Error, Send, Sync, Copy);

#[test]
fn bytes_come_out_in_order_across_laps() {
    let (mut producer, mut consumer) = new(8).unwrap();
    let mut out = [0u8; 5];
    for lap in 0u8..20 {
        let chunk = [lap, lap + 1, lap + 2, lap + 3, lap + 4];
        assert_eq!(producer.copy_in(&chunk), 5);
        assert_eq!(consumer.copy_out(&mut out), 5);
        assert_eq!(out, chunk);
    }
    assert_eq!((producer.position(), consumer.position()), (100, 100));
}

#[test]
fn lengths_track_commit_and_consume() {
    let (mut producer, mut consumer) = new(16).unwrap();
    assert_eq!((producer.capacity(), consumer.capacity()), (16, 16));
    assert!(consumer.is_empty() && !producer.is_full());
    producer.commit(16);
    assert!(producer.is_full());
    assert_eq!((producer.free_len(), consumer.filled_len()), (0, 16));
    consumer.consume(5);
    assert_eq!((producer.free_len(), consumer.filled_len()), (5, 11));
    consumer.consume(11);
    assert!(consumer.is_empty());
    assert_eq!(producer.free_len(), 16);
}

#[test]
fn zero_length_commit_and_consume_change_nothing() {
    let (mut producer, mut consumer) = new(4).unwrap();
    producer.commit(0);
    consumer.consume(0);
    assert_eq!((producer.position(), consumer.position()), (0, 0));
}

#[test]
fn commit_sees_space_freed_since_the_last_look() {
    // The producer's cached view says full; the consumer has freed space since.
    let (mut producer, mut consumer) = new(8).unwrap();
    producer.commit(8);
    consumer.consume(8);
    producer.commit(8); // must refresh its view instead of panicking
    assert_eq!(consumer.filled_len(), 8);
}

#[test]
#[should_panic(expected = "byte ring: commit of 9 bytes exceeds the 8 free bytes")]
fn committing_more_than_free_panics() {
    let (mut producer, _consumer) = new(8).unwrap();
    producer.commit(9);
}

#[test]
#[should_panic(expected = "byte ring: consume of 3 bytes exceeds the 2 filled bytes")]
fn consuming_more_than_filled_panics() {
    let (mut producer, mut consumer) = new(8).unwrap();
    producer.commit(2);
    consumer.consume(3);
}

#[test]
fn a_rejected_commit_leaves_the_ring_unchanged() {
    let (mut producer, consumer) = new(8).unwrap();
    producer.commit(3);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| producer.commit(6)));
    assert!(result.is_err());
    assert_eq!((producer.position(), consumer.filled_len()), (3, 3));
}

#[test]
#[should_panic(expected = "waiting for 9 filled bytes in a ring of 8")]
fn waiting_for_more_data_than_capacity_panics() {
    let (_producer, mut consumer) = new(8).unwrap();
    let _ = consumer.wait_for_data(9, None);
}

#[test]
#[should_panic(expected = "waiting for 9 free bytes in a ring of 8")]
fn waiting_for_more_space_than_capacity_panics() {
    let (mut producer, _consumer) = new(8).unwrap();
    let _ = producer.wait_for_space(9, None);
}

#[test]
fn capacity_errors_are_typed() {
    assert_eq!(new(0).unwrap_err(), ByteRingError::ZeroCapacity);
    assert_eq!(new(6).unwrap_err(), ByteRingError::NotPowerOfTwo { capacity: 6 });
    assert!(matches!(new(1 << 62).unwrap_err(), ByteRingError::Memory(_)));
    let page = iobuf_align::page_size();
    assert_eq!(new_mirrored(0).unwrap_err(), ByteRingError::ZeroCapacity);
    assert_eq!(
        new_mirrored(page + 1).unwrap_err(),
        ByteRingError::NotPowerOfTwo { capacity: page + 1 }
    );
    assert_eq!(
        new_mirrored(page / 2).unwrap_err(),
        ByteRingError::NotPageMultiple { capacity: page / 2, page_size: page }
    );
}

#[test]
fn errors_explain_themselves() {
    let text = ByteRingError::NotPageMultiple { capacity: 2048, page_size: 4096 }.to_string();
    assert!(text.contains("2048") && text.contains("4096"), "{text}");
    let io: io::Error = ByteRingError::ZeroCapacity.into();
    assert_eq!(io.kind(), io::ErrorKind::InvalidInput);
    let memory = ByteRingError::Memory(iobuf_align::AlignError::Os { call: "mmap", errno: 12 });
    assert!(core::error::Error::source(&memory).is_some());
    assert_eq!(io::Error::from(memory).raw_os_error(), Some(12));
    assert_eq!(io::Error::from(WaitError::Closed).kind(), io::ErrorKind::BrokenPipe);
    assert_eq!(io::Error::from(WaitError::TimedOut).kind(), io::ErrorKind::TimedOut);
}

#[test]
fn small_rings_are_cache_line_aligned_and_large_ones_page_aligned() {
    for (capacity, align) in
        [(64, iobuf_align::CACHE_LINE_SIZE), (1 << 16, iobuf_align::page_size())]
    {
        let (mut producer, _consumer) = new(capacity).unwrap();
        let [first, _] = producer.free_slices();
        assert_eq!(first.as_ptr() as usize % align, 0, "capacity {capacity}");
    }
}

#[test]
fn dropping_a_half_closes_the_ring_for_the_other() {
    let (producer, consumer) = new(8).unwrap();
    assert!(!producer.is_closed() && !consumer.is_closed());
    drop(producer);
    assert!(consumer.is_closed());
    let (producer, consumer) = new(8).unwrap();
    drop(consumer);
    assert!(producer.is_closed());
}

#[test]
fn debug_shows_positions() {
    let (mut producer, consumer) = new(8).unwrap();
    producer.copy_in(b"abc");
    let text = format!("{producer:?} {consumer:?}");
    assert!(text.contains("position: 3") && text.contains("filled_len: 3"), "{text}");
}

#[test]
fn wait_for_data_times_out_when_nothing_comes() {
    let (_producer, mut consumer) = new(8).unwrap();
    let started = Instant::now();
    assert_eq!(
        consumer.wait_for_data(1, Some(Duration::from_millis(30))),
        Err(WaitError::TimedOut)
    );
    assert!(started.elapsed() >= Duration::from_millis(30));
}

#[test]
fn wait_with_zero_minimum_returns_at_once() {
    let (mut producer, mut consumer) = new(8).unwrap();
    assert_eq!(consumer.wait_for_data(0, Some(Duration::ZERO)), Ok(0));
    producer.commit(8);
    assert_eq!(producer.wait_for_space(0, Some(Duration::ZERO)), Ok(0));
}

#[test]
fn wait_for_data_wakes_when_enough_is_committed() {
    let (mut producer, mut consumer) = new(64).unwrap();
    let writer = thread::spawn(move || {
        for _ in 0..4 {
            thread::sleep(Duration::from_millis(5));
            producer.copy_in(&[1; 8]);
        }
        producer
    });
    // Wakes on each commit, parks again until 32 bytes are there.
    assert_eq!(consumer.wait_for_data(32, Some(Duration::from_secs(20))), Ok(32));
    drop(writer.join().unwrap());
}

#[test]
fn wait_for_space_wakes_when_enough_is_consumed() {
    let (mut producer, mut consumer) = new(16).unwrap();
    producer.commit(16);
    let reader = thread::spawn(move || {
        thread::sleep(Duration::from_millis(10));
        consumer.consume(10);
        consumer
    });
    assert_eq!(producer.wait_for_space(10, Some(Duration::from_secs(20))), Ok(10));
    drop(reader.join().unwrap());
}

#[test]
fn a_parked_consumer_wakes_when_the_producer_drops() {
    let (mut producer, mut consumer) = new(16).unwrap();
    producer.commit(3);
    let waiter = thread::spawn(move || {
        let outcome = consumer.wait_for_data(4, None);
        (outcome, consumer.filled_len())
    });
    thread::sleep(Duration::from_millis(20));
    drop(producer);
    // Three bytes stay readable; the wait for four ends instead of hanging.
    assert_eq!(waiter.join().unwrap(), (Err(WaitError::Closed), 3));
}

#[test]
fn a_closed_ring_still_hands_over_what_was_committed() {
    let (mut producer, mut consumer) = new(16).unwrap();
    producer.commit(5);
    drop(producer);
    assert_eq!(consumer.wait_for_data(5, None), Ok(5));
    consumer.consume(5);
    assert_eq!(consumer.wait_for_data(1, None), Err(WaitError::Closed));
}

#[test]
fn a_parked_producer_wakes_when_the_consumer_drops() {
    let (mut producer, consumer) = new(16).unwrap();
    producer.commit(16);
    let waiter = thread::spawn(move || producer.wait_for_space(1, None));
    thread::sleep(Duration::from_millis(20));
    drop(consumer);
    assert_eq!(waiter.join().unwrap(), Err(WaitError::Closed));
}

#[test]
fn read_from_a_full_ring_would_block_without_reading() {
    struct Untouchable;
    impl Read for Untouchable {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            panic!("a full ring must not call its source");
        }
    }
    let (mut producer, _consumer) = new(4).unwrap();
    producer.commit(4);
    let err = producer.read_from(&mut Untouchable).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
}

#[test]
fn write_to_from_an_empty_ring_would_block_without_writing() {
    struct Untouchable;
    impl Write for Untouchable {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            panic!("an empty ring must not call its sink");
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let (_producer, mut consumer) = new(4).unwrap();
    let err = consumer.write_to(&mut Untouchable).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
}

/// Claims to have read or written more than it was offered.
struct Liar;

impl Read for Liar {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(buf.len() + 1)
    }
}

impl Write for Liar {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len() + 1)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn an_overclaiming_reader_or_writer_is_an_error_and_moves_nothing() {
    let (mut producer, mut consumer) = new(8).unwrap();
    assert_eq!(producer.read_from(&mut Liar).unwrap_err().kind(), io::ErrorKind::InvalidData);
    assert_eq!(producer.position(), 0);
    producer.commit(4);
    assert_eq!(consumer.write_to(&mut Liar).unwrap_err().kind(), io::ErrorKind::InvalidData);
    assert_eq!(consumer.filled_len(), 4);

    let page = iobuf_align::page_size();
    let (mut producer, mut consumer) = new_mirrored(page).unwrap();
    assert_eq!(producer.read_from(&mut Liar).unwrap_err().kind(), io::ErrorKind::InvalidData);
    producer.commit(4);
    assert_eq!(consumer.write_to(&mut Liar).unwrap_err().kind(), io::ErrorKind::InvalidData);
    assert_eq!(consumer.filled_len(), 4);
}

#[test]
fn a_source_error_passes_through_and_commits_nothing() {
    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::from_raw_os_error(5))
        }
    }
    let (mut producer, _consumer) = new(8).unwrap();
    assert_eq!(producer.read_from(&mut Failing).unwrap_err().raw_os_error(), Some(5));
    assert_eq!(producer.position(), 0);
}

#[test]
fn the_mirrored_ring_hands_out_one_slice_across_the_seam() {
    let page = iobuf_align::page_size();
    let (mut producer, mut consumer) = new_mirrored(page).unwrap();
    producer.commit(page - 3);
    consumer.consume(page - 3);
    let data: Vec<u8> = (0..page).map(|i| (i % 251) as u8).collect();
    assert_eq!(producer.copy_in(&data), page);
    assert_eq!(consumer.filled_slice(), &data[..]);
    assert!(producer.free_slice().is_empty());
    let mut out = std::vec![0; page];
    assert_eq!(consumer.copy_out(&mut out), page);
    assert_eq!(out, data);
}
