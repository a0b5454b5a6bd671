//! Loom models of the byte ring: a producer and a consumer racing over several laps of a tiny
//! ring, every byte checked on the way out.
//!
//! Under loom the ring keeps one shadow cell per byte and touches it whenever a half is handed
//! that byte, so besides the data checks loom proves that each hand-over happens-after the
//! other half was done with the byte (a too-weak ordering on a counter fails as a data race).
//! The blocking models park on loom's condvar, so a lost wake-up fails as a deadlock.
//!
//! Run with `cargo xtask loom [bound]`.
#![cfg(iobuf_loom)]

use iobuf_queue::byte_ring::{self, Consumer, Producer, RingMemory, WaitError};
use loom::thread;

/// Byte `i` of a model's stream: distinct across a few laps, so a stale or skipped byte shows.
fn byte(i: usize) -> u8 {
    (i as u8).wrapping_mul(7).wrapping_add(1)
}

/// Pushes `total` bytes in chunks of up to `chunk`, yielding to loom while the ring is full.
fn spin_push<M: RingMemory>(producer: &mut Producer<M>, total: usize, chunk: usize) {
    let data: Vec<u8> = (0..total).map(byte).collect();
    let mut sent = 0;
    while sent < total {
        let n = producer.copy_in(&data[sent..total.min(sent + chunk)]);
        if n == 0 {
            thread::yield_now();
        }
        sent += n;
    }
}

/// Pops `total` bytes in chunks of up to `chunk`, yielding while the ring is empty, and checks
/// each against the stream.
fn spin_pop<M: RingMemory>(consumer: &mut Consumer<M>, total: usize, chunk: usize) {
    let mut got = 0;
    let mut buf = vec![0; chunk];
    while got < total {
        let n = consumer.copy_out(&mut buf);
        if n == 0 {
            thread::yield_now();
        }
        for (k, &b) in buf[..n].iter().enumerate() {
            assert_eq!(b, byte(got + k), "byte {} of the stream", got + k);
        }
        got += n;
    }
}

#[test]
fn racing_halves_deliver_every_byte_in_order() {
    loom::model(|| {
        // Capacity 4, ten bytes: two and a half laps, chunks that do not divide the capacity.
        let (mut producer, mut consumer) = byte_ring::new(4).unwrap();
        let writer = thread::spawn(move || spin_push(&mut producer, 10, 3));
        spin_pop(&mut consumer, 10, 3);
        writer.join().unwrap();
        assert_eq!(consumer.position(), 10);
    });
}

#[test]
fn counters_wrap_past_u64_max_mid_stream() {
    loom::model(|| {
        let (mut producer, mut consumer) = byte_ring::new_at(4, u64::MAX - 3).unwrap();
        let writer = thread::spawn(move || spin_push(&mut producer, 9, 3));
        spin_pop(&mut consumer, 9, 2);
        writer.join().unwrap();
        assert_eq!(consumer.position(), 5); // u64::MAX - 3 + 9, wrapped
    });
}

#[test]
fn blocking_waits_lose_no_wake_up_and_see_the_close() {
    loom::model(|| {
        let (mut producer, mut consumer) = byte_ring::new(4).unwrap();
        let writer = thread::spawn(move || {
            let data: Vec<u8> = (0..8).map(byte).collect();
            let mut sent = 0;
            while sent < data.len() {
                producer.wait_for_space(1, None).unwrap();
                sent += producer.copy_in(&data[sent..(sent + 3).min(data.len())]);
            }
            // Dropping the producer must wake a consumer parked for more.
        });
        let mut got = 0;
        let mut buf = [0; 3];
        loop {
            match consumer.wait_for_data(1, None) {
                Ok(filled) => assert!(filled >= 1),
                Err(WaitError::Closed) => break,
                Err(other) => panic!("unexpected {other}"),
            }
            let n = consumer.copy_out(&mut buf);
            for (k, &b) in buf[..n].iter().enumerate() {
                assert_eq!(b, byte(got + k));
            }
            got += n;
        }
        assert_eq!(got, 8);
        writer.join().unwrap();
    });
}

#[test]
fn a_producer_parked_for_space_wakes_when_the_consumer_drops() {
    loom::model(|| {
        let (mut producer, consumer) = byte_ring::new(4).unwrap();
        producer.commit(4);
        let reader = thread::spawn(move || drop(consumer));
        assert_eq!(producer.wait_for_space(1, None), Err(WaitError::Closed));
        reader.join().unwrap();
    });
}

#[test]
fn mirrored_windows_cross_the_seam_while_racing() {
    loom::model(|| {
        // Start two bytes before the seam: every window from the first byte on crosses it.
        let page = iobuf_align::page_size();
        let start = page as u64 - 2;
        let (mut producer, mut consumer) = byte_ring::new_mirrored_at(page, start).unwrap();
        let writer = thread::spawn(move || spin_push(&mut producer, 6, 3));
        spin_pop(&mut consumer, 6, 4);
        writer.join().unwrap();
    });
}
