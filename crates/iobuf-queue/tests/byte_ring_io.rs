//! `read_from`/`write_to`: exactly one call per operation (vectored on the plain ring, plain on
//! the mirrored one), checked with in-memory readers and writers that count their calls, and a
//! real kernel round trip through Unix socket pairs on both variants.

mod common;

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::unix::net::UnixStream;
use std::thread;

use common::{Checksum, Stream};
use iobuf_queue::byte_ring::{self, Consumer, Producer, RingMemory, WaitError};

/// A reader that serves a stream and records each call; it refuses plain `read` when built
/// `vectored_only`, and vectored reads when not.
struct CountingReader {
    stream: Stream,
    at: u64,
    /// Most bytes to hand out per call (a short read when below what is offered).
    limit: usize,
    vectored_only: bool,
    /// The number of buffers each call was given.
    calls: Vec<usize>,
}

impl CountingReader {
    fn new(vectored_only: bool, limit: usize) -> Self {
        Self { stream: Stream::new(31), at: 0, limit, vectored_only, calls: Vec::new() }
    }

    fn serve(&mut self, bufs: &mut [IoSliceMut<'_>]) -> usize {
        self.calls.push(bufs.len());
        let mut left = self.limit;
        let mut n = 0;
        for buf in bufs {
            let take = buf.len().min(left);
            self.stream.fill(&mut buf[..take], self.at + n as u64);
            n += take;
            left -= take;
        }
        self.at += n as u64;
        n
    }
}

impl Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        assert!(!self.vectored_only, "the plain ring must call read_vectored, not read");
        Ok(self.serve(&mut [IoSliceMut::new(buf)]))
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        assert!(self.vectored_only, "the mirrored ring must call read, not read_vectored");
        Ok(self.serve(bufs))
    }
}

/// A writer that keeps what it is given and records each call, like [`CountingReader`].
struct CountingWriter {
    got: Vec<u8>,
    limit: usize,
    vectored_only: bool,
    calls: Vec<usize>,
}

impl CountingWriter {
    fn new(vectored_only: bool, limit: usize) -> Self {
        Self { got: Vec::new(), limit, vectored_only, calls: Vec::new() }
    }

    fn take(&mut self, bufs: &[IoSlice<'_>]) -> usize {
        self.calls.push(bufs.len());
        let mut left = self.limit;
        let mut n = 0;
        for buf in bufs {
            let take = buf.len().min(left);
            self.got.extend_from_slice(&buf[..take]);
            n += take;
            left -= take;
        }
        n
    }
}

impl Write for CountingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        assert!(!self.vectored_only, "the plain ring must call write_vectored, not write");
        Ok(self.take(&[IoSlice::new(buf)]))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        assert!(self.vectored_only, "the mirrored ring must call write, not write_vectored");
        Ok(self.take(bufs))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn plain_ring_makes_one_vectored_call_with_two_slices_only_when_wrapped() {
    let capacity = 64;
    for offset in [0, 1, 32, 63] {
        let (mut producer, mut consumer) = byte_ring::new_at(capacity, offset).unwrap();
        let mut src = CountingReader::new(true, usize::MAX);
        assert_eq!(producer.read_from(&mut src).unwrap(), capacity);
        let iovecs = if offset == 0 { 1 } else { 2 };
        assert_eq!(src.calls, [iovecs], "offset {offset}: one call, one iovec per piece");

        let mut dst = CountingWriter::new(true, usize::MAX);
        assert_eq!(consumer.write_to(&mut dst).unwrap(), capacity);
        assert_eq!(dst.calls, [iovecs], "offset {offset}");
        assert_eq!(dst.got, Stream::new(31).bytes(0, capacity));
    }
}

#[test]
fn mirrored_ring_makes_one_plain_call_even_across_the_seam() {
    let page = iobuf_align::page_size();
    for offset in [0, 1, page as u64 / 2, page as u64 - 1] {
        let (mut producer, mut consumer) = byte_ring::new_mirrored_at(page, offset).unwrap();
        let mut src = CountingReader::new(false, usize::MAX);
        assert_eq!(producer.read_from(&mut src).unwrap(), page);
        assert_eq!(src.calls, [1], "offset {offset}");
        let mut dst = CountingWriter::new(false, usize::MAX);
        assert_eq!(consumer.write_to(&mut dst).unwrap(), page);
        assert_eq!(dst.calls, [1], "offset {offset}");
        assert_eq!(dst.got, Stream::new(31).bytes(0, page));
    }
}

#[test]
fn short_reads_and_writes_commit_and_consume_only_what_moved() {
    let (mut producer, mut consumer) = byte_ring::new_at(64, 60).unwrap();
    let mut src = CountingReader::new(true, 10); // 4 before the seam, 6 after
    assert_eq!(producer.read_from(&mut src).unwrap(), 10);
    assert_eq!((producer.position(), consumer.filled_len()), (70, 10));
    let mut dst = CountingWriter::new(true, 3);
    assert_eq!(consumer.write_to(&mut dst).unwrap(), 3);
    assert_eq!(consumer.filled_len(), 7);
    let mut rest = CountingWriter::new(true, usize::MAX);
    assert_eq!(consumer.write_to(&mut rest).unwrap(), 7);
    dst.got.extend_from_slice(&rest.got);
    assert_eq!(dst.got, Stream::new(31).bytes(0, 10));
}

#[test]
fn end_of_input_reads_zero_and_commits_nothing() {
    let (mut producer, consumer) = byte_ring::new(64).unwrap();
    assert_eq!(producer.read_from(&mut io::empty()).unwrap(), 0);
    assert_eq!(consumer.filled_len(), 0);
}

/// Moves `total` bytes: a feeder thread writes the stream into one socket pair, the ring's
/// producer `read_from`s the other end, the ring's consumer `write_to`s a second socket pair,
/// and a drain thread checksums what comes out. Returns (sent, received) checksums.
fn socket_round_trip<M: RingMemory + 'static>(
    mut producer: Producer<M>,
    mut consumer: Consumer<M>,
    total: usize,
    read_from: fn(&mut Producer<M>, &mut UnixStream) -> io::Result<usize>,
    write_to: fn(&mut Consumer<M>, &mut UnixStream) -> io::Result<usize>,
) -> ((u64, u64), (u64, u64)) {
    let (mut feed_in, mut ring_src) = UnixStream::pair().unwrap();
    let (mut ring_dst, mut drain_out) = UnixStream::pair().unwrap();
    let feeder = thread::spawn(move || {
        let stream = Stream::new(41);
        let mut sum = Checksum::default();
        let mut at = 0;
        while at < total {
            let chunk = stream.bytes(at as u64, (total - at).min(50_000));
            feed_in.write_all(&chunk).unwrap();
            sum.update(&chunk);
            at += chunk.len();
        }
        sum.finish() // dropping feed_in is end of input for the ring's producer
    });
    let pump_in = thread::spawn(move || {
        loop {
            match producer.wait_for_space(1, None) {
                Ok(_) => {}
                Err(WaitError::Closed) => panic!("consumer gone early"),
                Err(err) => panic!("{err}"),
            }
            if read_from(&mut producer, &mut ring_src).unwrap() == 0 {
                return; // end of input: dropping the producer closes the ring
            }
        }
    });
    let drain = thread::spawn(move || {
        let mut sum = Checksum::default();
        let mut buf = vec![0; 1 << 16];
        loop {
            let n = drain_out.read(&mut buf).unwrap();
            if n == 0 {
                return sum.finish();
            }
            sum.update(&buf[..n]);
        }
    });
    while consumer.wait_for_data(1, None).is_ok() {
        write_to(&mut consumer, &mut ring_dst).unwrap();
    }
    drop(ring_dst); // end of output for the drain
    pump_in.join().unwrap();
    (feeder.join().unwrap(), drain.join().unwrap())
}

#[test]
fn plain_ring_moves_bytes_between_real_sockets_intact() {
    let (producer, consumer) = byte_ring::new(1 << 16).unwrap();
    let total = 32 << 20;
    let (sent, received) = socket_round_trip(
        producer,
        consumer,
        total,
        |p, src| p.read_from(src),
        |c, dst| c.write_to(dst),
    );
    assert_eq!(received, sent);
    assert_eq!(received.1, total as u64);
}

#[test]
fn mirrored_ring_moves_bytes_between_real_sockets_intact() {
    let (producer, consumer) = byte_ring::new_mirrored(1 << 16).unwrap();
    let total = 32 << 20;
    let (sent, received) = socket_round_trip(
        producer,
        consumer,
        total,
        |p, src| p.read_from(src),
        |c, dst| c.write_to(dst),
    );
    assert_eq!(received, sent);
    assert_eq!(received.1, total as u64);
}
