//! Stress: push a long random stream through each ring variant with random chunk sizes on two
//! threads, parking when full or empty, and compare checksums taken on both ends.
//!
//! Volume: 1 GiB per variant (about 4–5 s each in a debug build on two cores: the data is
//! copied with `memcpy` and checksummed a word at a time). `IOBUF_STRESS_SCALE` (a float,
//! default 1.0) scales it; the sanitizer runs set 0.05.

mod common;

use std::thread;
use std::time::Instant;

use common::{Checksum, Stream, XorShift, stress_scale};
use iobuf_queue::byte_ring::{
    self, Consumer, MirroredConsumer, MirroredProducer, Producer, RingMemory,
};

const VOLUME: u64 = 1 << 30;

fn volume() -> u64 {
    ((VOLUME as f64 * stress_scale()) as u64).max(1 << 20)
}

/// The producer's side of one chunk: write up to `max` bytes of the stream into the free
/// space through the variant's slice API, commit them, return the count.
trait WriteChunk {
    fn write_chunk(&mut self, stream: &Stream, at: u64, max: usize) -> usize;
}

/// The consumer's side: fold up to `max` filled bytes into `sum`, consume them.
trait ReadChunk {
    fn read_chunk(&mut self, sum: &mut Checksum, max: usize) -> usize;
}

impl WriteChunk for Producer {
    fn write_chunk(&mut self, stream: &Stream, at: u64, max: usize) -> usize {
        let [first, second] = self.free_slices();
        let a = first.len().min(max);
        let b = second.len().min(max - a);
        stream.fill(&mut first[..a], at);
        stream.fill(&mut second[..b], at + a as u64);
        self.commit(a + b);
        a + b
    }
}

impl ReadChunk for Consumer {
    fn read_chunk(&mut self, sum: &mut Checksum, max: usize) -> usize {
        let [first, second] = self.filled_slices();
        let a = first.len().min(max);
        let b = second.len().min(max - a);
        sum.update(&first[..a]);
        sum.update(&second[..b]);
        self.consume(a + b);
        a + b
    }
}

impl WriteChunk for MirroredProducer {
    fn write_chunk(&mut self, stream: &Stream, at: u64, max: usize) -> usize {
        let free = self.free_slice();
        let n = free.len().min(max);
        stream.fill(&mut free[..n], at);
        self.commit(n);
        n
    }
}

impl ReadChunk for MirroredConsumer {
    fn read_chunk(&mut self, sum: &mut Checksum, max: usize) -> usize {
        let filled = self.filled_slice();
        let n = filled.len().min(max);
        sum.update(&filled[..n]);
        self.consume(n);
        n
    }
}

/// Pumps `total` bytes from a producer thread to this thread with random chunks up to 1.5×
/// the capacity (so some chunks fill the ring and some wrap), and checks both checksums.
fn pump<M>(mut producer: Producer<M>, mut consumer: Consumer<M>, total: u64, seed: u64)
where
    M: RingMemory + 'static,
    Producer<M>: WriteChunk,
    Consumer<M>: ReadChunk,
{
    let capacity = producer.capacity();
    let max_chunk = capacity + capacity / 2;
    let started = Instant::now();
    let writer = thread::spawn(move || {
        let stream = Stream::new(seed);
        let mut rng = XorShift::new(seed ^ 0x5EED);
        let mut sum = Checksum::default();
        let mut sent = 0;
        while sent < total {
            producer.wait_for_space(1, None).expect("consumer alive");
            let max = rng.below_or_eq(max_chunk).min((total - sent) as usize);
            let n = producer.write_chunk(&stream, sent, max);
            assert!(n > 0, "free space was promised");
            // Checksum what went in, read back from the stream (the ring's copy is gone).
            stream.checksum_into(&mut sum, sent, n);
            sent += n as u64;
        }
        sum.finish()
    });
    let mut rng = XorShift::new(seed ^ 0xC0FFEE);
    let mut sum = Checksum::default();
    loop {
        match consumer.wait_for_data(1, None) {
            Ok(_) => {
                consumer.read_chunk(&mut sum, rng.below_or_eq(max_chunk));
            }
            Err(byte_ring::WaitError::Closed) => break,
            Err(err) => panic!("{err}"),
        }
    }
    let sent = writer.join().unwrap();
    let received = sum.finish();
    assert_eq!(received.1, total, "byte count");
    assert_eq!(received, sent, "checksums (sum, count) differ between the two ends");
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "pumped {} MiB through a {capacity} B ring in {secs:.2}s ({:.0} MiB/s)",
        total >> 20,
        (total >> 20) as f64 / secs
    );
}

#[test]
fn plain_ring_carries_a_long_random_stream_intact() {
    let (producer, consumer) = byte_ring::new(1 << 16).unwrap();
    pump(producer, consumer, volume(), 1);
}

#[test]
fn mirrored_ring_carries_a_long_random_stream_intact() {
    let (producer, consumer) = byte_ring::new_mirrored(1 << 16).unwrap();
    pump(producer, consumer, volume(), 2);
}

#[test]
fn a_small_plain_ring_wraps_constantly_and_stays_intact() {
    // 256 bytes: chunks of up to 384 wrap on most operations.
    let (producer, consumer) = byte_ring::new(256).unwrap();
    pump(producer, consumer, volume() / 16, 3);
}
