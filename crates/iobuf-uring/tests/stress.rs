//! Stress with an ownership bitmap: every buffer comes back exactly once, whatever mix of
//! completing, cancelled and dropped operations; received buffers recycled from many threads
//! while the ring keeps receiving. Misuse is refused with the documented panics.

mod common;

use std::collections::HashSet;
use std::io::Write as _;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{features, require};
use iobuf_pool::{Buf, BufferPool};
use iobuf_queue::BoundedQueue;
use iobuf_uring::ops::{Read, Readv, RecvMulti};
use iobuf_uring::{BufRing, Completion, ProvidedBuf, Ring};

/// Iterations scaled by `IOBUF_STRESS_SCALE` (sanitizer runs shrink them).
fn scaled(n: usize) -> usize {
    let scale: f64 =
        std::env::var("IOBUF_STRESS_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    ((n as f64 * scale) as usize).max(4)
}

/// Tiny deterministic generator so failures reproduce.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn every_buffer_comes_back_exactly_once_through_completions_cancels_and_drops() {
    let name = "every_buffer_comes_back_exactly_once_through_completions_cancels_and_drops";
    if features(name).is_none() {
        return;
    }
    const BUFFERS: usize = 32;
    let pool = BufferPool::builder(256).capacity(BUFFERS).thread_cache(false).build().unwrap();
    let sockets: Vec<(UnixStream, UnixStream)> =
        (0..8).map(|_| UnixStream::pair().unwrap()).collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..scaled(200) {
        let mut ring = Ring::<Buf>::new(8).unwrap();
        let mut in_kernel = HashSet::new();
        let mut ids = Vec::new();
        // Push reads until the pool is dry: some sockets get data, some never do.
        while let Ok(buf) = pool.try_get() {
            assert!(in_kernel.insert(buf.index()), "index {} handed out twice", buf.index());
            let (tx, rx) = &sockets[rng.below(sockets.len() as u64) as usize];
            if rng.below(3) == 0 {
                (&*tx).write_all(&[round as u8; 16]).unwrap();
            }
            ids.push(ring.push(Read::new(rx, buf)).unwrap());
        }
        assert_eq!(pool.available(), 0);
        ring.submit().unwrap();
        // Cancel a random few, reap a random number, drop the ring with the rest in flight.
        for id in &ids {
            if rng.below(4) == 0 {
                ring.cancel(*id).unwrap();
            }
        }
        let reap = rng.below(BUFFERS as u64) as usize;
        for _ in 0..reap {
            match ring.completion() {
                Some(Completion::Buf { result, buf, .. }) => {
                    assert!(
                        in_kernel.remove(&buf.index()),
                        "index {} came back twice",
                        buf.index()
                    );
                    if let Ok(n) = result {
                        assert_eq!(buf.filled(), n);
                    }
                }
                Some(other) => panic!("unexpected completion {other:?}"),
                None => break,
            }
        }
        assert_eq!(ring.in_flight(), in_kernel.len());
        drop(ring);
        assert_eq!(pool.available(), BUFFERS, "round {round}: the ring's drop returned the rest");
        // Drain what the peers sent but no read took, so rounds stay independent.
        for (_, rx) in &sockets {
            rx.set_nonblocking(true).unwrap();
            let mut sink = [0u8; 4096];
            while std::io::Read::read(&mut &*rx, &mut sink).is_ok_and(|n| n > 0) {}
            rx.set_nonblocking(false).unwrap();
        }
    }
}

#[test]
fn received_buffers_dropped_on_other_threads_recycle_while_receiving() {
    let name = "received_buffers_dropped_on_other_threads_recycle_while_receiving";
    let Some(f) = features(name) else { return };
    if !require(name, f.recv_multishot, "multishot recv", "6.0") {
        return;
    }
    const MESSAGES: usize = 2000;
    let messages = scaled(MESSAGES);
    let pool = BufferPool::builder(2048).capacity(8).build().unwrap();
    let mut ring = Ring::<ProvidedBuf>::new(32).unwrap();
    let group = ring.add_buf_ring(BufRing::from_pool(0, &pool, 8).unwrap()).unwrap();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    // Droppers: received buffers travel through a lock-free queue (ours, so the sanitizers
    // see its synchronisation) to two threads and are dropped there.
    let handoff = Arc::new(BoundedQueue::<ProvidedBuf>::new(8).unwrap());
    let done = Arc::new(AtomicBool::new(false));
    let droppers: Vec<_> = (0..2)
        .map(|_| {
            let (handoff, done) = (Arc::clone(&handoff), Arc::clone(&done));
            std::thread::spawn(move || {
                let mut bytes = 0;
                loop {
                    match handoff.try_pop() {
                        Some(buf) => bytes += buf.len(),
                        None if done.load(Ordering::Acquire) && handoff.is_empty() => return bytes,
                        None => std::thread::yield_now(),
                    }
                }
            })
        })
        .collect();
    let writer = std::thread::spawn(move || {
        for i in 0..messages {
            tx.write_all(&(i as u32).to_le_bytes()).unwrap();
        }
    });
    let mut received = Vec::new();
    ring.push(RecvMulti::new(&rx, group)).unwrap();
    while received.len() < messages * 4 {
        let Completion::Selected { result, more, .. } = ring.wait().unwrap() else { panic!() };
        match result {
            Ok(Some(buf)) => {
                received.extend_from_slice(&buf);
                // At most 8 buffers exist, so the 8-slot queue always has room.
                assert!(handoff.try_push(buf).is_ok(), "more buffers out than the ring has");
            }
            Ok(None) => panic!("the writer does not close"),
            // All eight buffers on their way to the droppers: re-arm once some came back.
            Err(err) if err.raw_os_error() == Some(libc::ENOBUFS) => std::thread::yield_now(),
            Err(err) => panic!("{err}"),
        }
        if !more {
            ring.push(RecvMulti::new(&rx, group)).unwrap();
        }
    }
    writer.join().unwrap();
    done.store(true, Ordering::Release);
    let dropped: usize = droppers.into_iter().map(|d| d.join().unwrap()).sum();
    assert_eq!(dropped, messages * 4);
    let values: Vec<u32> =
        received.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
    assert!(values.iter().enumerate().all(|(i, &v)| v == i as u32), "stream reordered or lost");
}

#[test]
#[should_panic(expected = "readv of 0 buffers")]
fn readv_of_no_buffers_panics() {
    let file = std::fs::File::open("/proc/self/stat").unwrap();
    let _ = Readv::<Buf>::at(&file, Vec::new(), 0);
}

#[test]
#[should_panic(expected = "read of 8192 bytes into 4096")]
fn a_read_longer_than_its_buffer_panics() {
    let pool = BufferPool::builder(4096).capacity(1).build().unwrap();
    let file = std::fs::File::open("/proc/self/stat").unwrap();
    let _ = Read::at(&file, pool.try_get().unwrap(), 0).len(8192);
}
