//! The README's byte ring example: pump a socket into another through a mirrored ring, the
//! producer and consumer on their own threads.
//!
//! `cargo run -p iobuf-queue --example byte_ring_pump`

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::thread;

use iobuf_queue::byte_ring::{self, WaitError};

fn main() -> std::io::Result<()> {
    let (mut feed, mut src) = UnixStream::pair()?;
    let (mut dst, mut sink) = UnixStream::pair()?;
    let message: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let expected = message.clone();
    let feeder = thread::spawn(move || feed.write_all(&message)); // then closes `feed`
    let drain = thread::spawn(move || {
        let mut got = Vec::new();
        sink.read_to_end(&mut got).map(|_| got)
    });

    // One page-multiple ring; its free and filled space are always one slice.
    let (mut producer, mut consumer) = byte_ring::new_mirrored(64 << 10)?;
    let reader = thread::spawn(move || -> std::io::Result<()> {
        loop {
            producer.wait_for_space(1, None)?; // parks while the ring is full
            if producer.read_from(&mut src)? == 0 {
                return Ok(()); // end of input; dropping the producer closes the ring
            }
        }
    });
    loop {
        match consumer.wait_for_data(1, None) {
            Ok(_) => {
                consumer.write_to(&mut dst)?;
            }
            Err(WaitError::Closed) => break, // producer gone and the ring drained
            Err(err) => return Err(err.into()),
        }
    }
    drop(dst); // end of output for the drain
    reader.join().expect("reader thread")?;
    feeder.join().expect("feeder thread")?;
    let got = drain.join().expect("drain thread")?;
    assert_eq!(got, expected);
    println!("pumped {} bytes through a mirrored byte ring", got.len());
    Ok(())
}
