//! Workload `bytes`: pump a long stream between two Unix socket pairs through an SPSC byte ring,
//! comparing iobuf's plain and mirrored rings with the `bytering` crate.
//!
//! Four threads per run, the same for every contender:
//!
//! ```text
//! feeder --64 KiB writes--> socket pair A --ring producer: read_from--> RING
//! RING --ring consumer: write_to--> socket pair B --64 KiB reads--> drain
//! ```
//!
//! The ring's producer reads from A into the free space with one call per operation (iobuf
//! plain and bytering: `readv` over both free slices; iobuf mirrored: one `read`), the consumer
//! writes the filled space to B likewise. The clock runs from a barrier all four threads pass
//! to the drain's last byte.
//!
//! When the ring is full or empty, `bytering` (which has no blocking wait) spins with
//! crossbeam's `Backoff` and then yields; iobuf's rings are run both ways: parking in
//! `wait_for_space`/`wait_for_data` (their intended use) and with the same spin-then-yield
//! loop, so the table separates the ring from the waiting strategy.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::Barrier;
use std::thread;
use std::time::Instant;

use bytering::{ConsumerError, ProducerError};
use crossbeam_utils::Backoff;
use iobuf_queue::byte_ring;

use crate::{Settings, Table};

/// What the feeder writes and the drain reads per call.
const CHUNK: usize = 64 << 10;

/// Ring capacities, one table row each.
const CAPACITIES: [usize; 3] = [64 << 10, 256 << 10, 1 << 20];

/// The contenders, in table order; ratios are to the first.
const CONTENDERS: [Contender; 5] = [
    Contender::Bytering,
    Contender::Plain { park: true },
    Contender::Mirrored { park: true },
    Contender::Plain { park: false },
    Contender::Mirrored { park: false },
];

#[derive(Debug, Clone, Copy)]
enum Contender {
    Bytering,
    Plain { park: bool },
    Mirrored { park: bool },
}

impl Contender {
    fn name(self) -> &'static str {
        match self {
            Self::Bytering => "bytering 0.8 (yield)",
            Self::Plain { park: true } => "iobuf plain (park)",
            Self::Mirrored { park: true } => "iobuf mirrored (park)",
            Self::Plain { park: false } => "iobuf plain (yield)",
            Self::Mirrored { park: false } => "iobuf mirrored (yield)",
        }
    }
}

/// One move of bytes by one half of a ring: `Ok(n)` bytes moved, `WouldBlock` when the ring
/// is full (producer) or empty (consumer).
type Step = Box<dyn FnMut() -> io::Result<usize> + Send>;

/// Runs the workload and returns the table.
pub fn run(settings: &Settings) -> String {
    // The cell duration says how patient the run is: --quick moves 256 MiB three times per
    // cell, a full run 1 GiB five times. Four threads on two cores make single runs swing by
    // 2x with thread placement, so each cell is the median of its rounds.
    let quick = settings.cell.as_millis() < 500;
    let (total, rounds) = if quick { (256u64 << 20, 3) } else { (1u64 << 30, 5) };
    let names: Vec<&str> = CONTENDERS.iter().map(|c| c.name()).collect();
    let title = format!(
        "bytes: {} MiB socketpair -> ring -> socketpair, {} KiB I/O chunks, {rounds} round(s), median",
        total >> 20,
        CHUNK >> 10
    );
    let mut table = Table::new(&title, "B/s", &names, 0).with_row_label("ring KiB");
    for capacity in CAPACITIES {
        let mut samples = vec![Vec::new(); CONTENDERS.len()];
        for _ in 0..rounds {
            // Interleave contenders within a round so drift hits them alike.
            for (i, &contender) in CONTENDERS.iter().enumerate() {
                samples[i].push(pump(contender, capacity, total));
            }
        }
        let medians = samples.iter_mut().map(|s| median(s)).collect();
        table.row(capacity >> 10, medians);
    }
    table.render()
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// One run: moves `total` bytes through a ring of `capacity` and returns bytes per second.
fn pump(contender: Contender, capacity: usize, total: u64) -> f64 {
    let (mut feed_in, src) = UnixStream::pair().expect("socketpair");
    let (dst, mut drain_out) = UnixStream::pair().expect("socketpair");
    let (fill, flush) = ends(contender, capacity, src, dst);
    let barrier = Barrier::new(5);
    thread::scope(|scope| {
        let barrier = &barrier;
        scope.spawn(move || {
            let chunk = vec![0x5A; CHUNK];
            barrier.wait();
            let mut sent = 0;
            while sent < total {
                let n = CHUNK.min((total - sent) as usize);
                feed_in.write_all(&chunk[..n]).expect("feed");
                sent += n as u64;
            }
        });
        scope.spawn(move || {
            barrier.wait();
            drive(total, fill);
        });
        scope.spawn(move || {
            barrier.wait();
            drive(total, flush);
        });
        let drain = scope.spawn(move || {
            let mut buf = vec![0; CHUNK];
            barrier.wait();
            let mut got = 0;
            while got < total {
                match drain_out.read(&mut buf).expect("drain") {
                    0 => panic!("sink closed after {got} of {total} bytes"),
                    n => got += n as u64,
                }
            }
        });
        barrier.wait();
        let started = Instant::now();
        drain.join().expect("drain thread");
        total as f64 / started.elapsed().as_secs_f64()
    })
}

/// Repeats `step` until `total` bytes have moved, backing off while the ring has nothing to
/// offer.
fn drive(total: u64, mut step: Step) {
    let backoff = Backoff::new();
    let mut moved = 0;
    while moved < total {
        match step() {
            Ok(0) => panic!("stream ended after {moved} of {total} bytes"),
            Ok(n) => {
                moved += n as u64;
                backoff.reset();
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => backoff.snooze(),
            Err(err) => panic!("pump: {err}"),
        }
    }
}

/// The producer's and the consumer's step for `contender` over a new ring.
fn ends(
    contender: Contender,
    capacity: usize,
    mut src: UnixStream,
    mut dst: UnixStream,
) -> (Step, Step) {
    match contender {
        Contender::Bytering => {
            let (mut producer, mut consumer) =
                bytering::new(capacity, iobuf_align::page_size()).expect("bytering");
            let fill = move || {
                producer
                    .io_slices(|bufs, len| {
                        if len == 0 {
                            return Err(io::ErrorKind::WouldBlock.into());
                        }
                        src.read_vectored(bufs)
                    })
                    .map_err(|err| match err {
                        ProducerError::Callback(err) => err,
                        other => io::Error::other(other.to_string()),
                    })
            };
            let flush = move || {
                consumer
                    .io_slices(|bufs, len| {
                        if len == 0 {
                            return Err(io::ErrorKind::WouldBlock.into());
                        }
                        dst.write_vectored(bufs)
                    })
                    .map_err(|err| match err {
                        ConsumerError::Callback(err) => err,
                        other => io::Error::other(other.to_string()),
                    })
            };
            (Box::new(fill), Box::new(flush))
        }
        Contender::Plain { park } => {
            let (mut producer, mut consumer) = byte_ring::new(capacity).expect("plain ring");
            let fill = move || {
                if park {
                    producer.wait_for_space(1, None)?;
                }
                producer.read_from(&mut src)
            };
            let flush = move || {
                if park {
                    consumer.wait_for_data(1, None)?;
                }
                consumer.write_to(&mut dst)
            };
            (Box::new(fill), Box::new(flush))
        }
        Contender::Mirrored { park } => {
            let (mut producer, mut consumer) =
                byte_ring::new_mirrored(capacity).expect("mirrored ring");
            let fill = move || {
                if park {
                    producer.wait_for_space(1, None)?;
                }
                producer.read_from(&mut src)
            };
            let flush = move || {
                if park {
                    consumer.wait_for_data(1, None)?;
                }
                consumer.write_to(&mut dst)
            };
            (Box::new(fill), Box::new(flush))
        }
    }
}
