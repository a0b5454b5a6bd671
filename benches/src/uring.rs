//! Workload `uring`: 4 KiB random reads from a file on tmpfs at queue depth 32.
//!
//! Contenders, each with one ring (or file handle) per thread:
//! - `iobuf ReadFixed`: iobuf-uring's [`Ring`] with a [`RegisteredPool`] (ownership passing,
//!   in-flight table, `buf_index` stamped on the handle);
//! - `uring Read`: the io-uring crate with ordinary heap buffers and plain `Read` (the baseline);
//! - `raw ReadFixed`: the io-uring crate, buffers registered and `ReadFixed` written by hand —
//!   what iobuf-uring must come within a few percent of;
//! - `pread`: one `pread(2)` at a time, no ring.
//!
//! Page-cache reads from tmpfs pin nothing expensive, so on small VMs the gain of fixed buffers
//! over plain reads may be nil; on the 16-core reference machine it was 1.72×.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use io_uring::{IoUring, opcode, types};
use iobuf_align::AlignedBlock;
use iobuf_pool::BufferPool;
use iobuf_uring::ops::Read;
use iobuf_uring::{Completion, RegisteredBuf, RegisteredPool, Ring};

use crate::{Settings, Table, measure};

/// Queue depth of every ring contender.
const DEPTH: usize = 32;
/// Read size.
const BLOCK: usize = 4096;

/// A tmpfs file of `len` bytes, removed on drop.
struct ShmFile {
    path: PathBuf,
    blocks: u64,
}

impl ShmFile {
    fn create(len: usize) -> std::io::Result<Self> {
        let dir = ["/dev/shm"]
            .iter()
            .map(PathBuf::from)
            .find(|d| d.is_dir())
            .unwrap_or_else(std::env::temp_dir);
        let path = dir.join(format!("iobuf-bench-uring-{}", std::process::id()));
        let chunk: Vec<u8> = (0..1 << 20).map(|i: usize| (i * 7 + i / 4096) as u8).collect();
        let file = File::create(&path)?;
        for offset in (0..len).step_by(chunk.len()) {
            file.write_all_at(&chunk, offset as u64)?;
        }
        Ok(Self { path, blocks: (len / BLOCK) as u64 })
    }

    fn open(&self) -> File {
        File::open(&self.path).expect("opening the bench file")
    }
}

impl Drop for ShmFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// xorshift64*: a random block offset per read, cheap and different per thread.
struct Offsets(u64, u64);

impl Offsets {
    fn new(thread: usize, blocks: u64) -> Self {
        Self(
            0x9e37_79b9_7f4a_7c15 ^ (thread as u64 + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9),
            blocks,
        )
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % self.1) * BLOCK as u64
    }
}

fn iobuf_read_fixed(file: &ShmFile, thread: usize, stop: &AtomicBool) -> u64 {
    let handle = file.open();
    let mut ring = Ring::<RegisteredBuf>::new(2 * DEPTH as u32).expect("ring");
    let pool = BufferPool::builder(BLOCK).capacity(DEPTH).build().expect("pool");
    let pool = RegisteredPool::new(pool, &mut ring).expect("registration");
    let mut offsets = Offsets::new(thread, file.blocks);
    for _ in 0..DEPTH {
        let buf = pool.try_get().expect("a buffer per slot");
        ring.push(Read::at(&handle, buf, offsets.next())).expect("push");
    }
    let mut done = 0u64;
    while !stop.load(Ordering::Relaxed) {
        ring.submit_and_wait(1).expect("submit");
        while let Some(completion) = ring.completion() {
            let Completion::Buf { result, buf, .. } = completion else { unreachable!() };
            assert_eq!(result.expect("read"), BLOCK);
            ring.push(Read::at(&handle, buf, offsets.next())).expect("push");
            done += 1;
        }
    }
    done
}

/// The hand-written loops share this: keep `DEPTH` reads in flight, `entry(slot, offset)`
/// builds the read for buffer `slot`.
fn raw_loop(
    file: &ShmFile,
    thread: usize,
    stop: &AtomicBool,
    ring: &mut IoUring,
    entry: impl Fn(usize, u64) -> io_uring::squeue::Entry,
) -> u64 {
    let mut offsets = Offsets::new(thread, file.blocks);
    let push = |ring: &mut IoUring, slot: usize, offset: u64| {
        let entry = entry(slot, offset).user_data(slot as u64);
        // SAFETY: the entry points at buffer `slot`, which lives (unused elsewhere) until the
        // ring is dropped after the loop has reaped every completion.
        unsafe { ring.submission().push(&entry) }.expect("submission queue has room");
    };
    for slot in 0..DEPTH {
        push(ring, slot, offsets.next());
    }
    let mut done = 0u64;
    let mut in_flight = DEPTH;
    loop {
        ring.submit_and_wait(1).expect("submit");
        loop {
            let next = ring.completion().next();
            let Some(cqe) = next else { break };
            assert_eq!(cqe.result(), BLOCK as i32);
            in_flight -= 1;
            done += 1;
            if !stop.load(Ordering::Relaxed) {
                push(ring, cqe.user_data() as usize, offsets.next());
                in_flight += 1;
            }
        }
        if stop.load(Ordering::Relaxed) && in_flight == 0 {
            return done;
        }
    }
}

fn uring_read(file: &ShmFile, thread: usize, stop: &AtomicBool) -> u64 {
    let handle = file.open();
    let fd = types::Fd(handle.as_raw_fd());
    let mut ring = IoUring::new(2 * DEPTH as u32).expect("ring");
    let buffers: Vec<Vec<u8>> = (0..DEPTH).map(|_| vec![0; BLOCK]).collect();
    raw_loop(file, thread, stop, &mut ring, |slot, offset| {
        opcode::Read::new(fd, buffers[slot].as_ptr().cast_mut(), BLOCK as u32)
            .offset(offset)
            .build()
    })
}

fn raw_read_fixed(file: &ShmFile, thread: usize, stop: &AtomicBool) -> u64 {
    let handle = file.open();
    let fd = types::Fd(handle.as_raw_fd());
    let mut ring = IoUring::new(2 * DEPTH as u32).expect("ring");
    let mut memory = AlignedBlock::page_aligned(DEPTH * BLOCK).expect("memory");
    let base = memory.as_mut_ptr();
    let iovec = libc::iovec { iov_base: base.cast(), iov_len: DEPTH * BLOCK };
    // SAFETY: `memory` outlives the ring (declared before it is dropped below).
    unsafe { ring.submitter().register_buffers(&[iovec]) }.expect("register_buffers");
    let done = raw_loop(file, thread, stop, &mut ring, |slot, offset| {
        let buf = base.wrapping_add(slot * BLOCK);
        opcode::ReadFixed::new(fd, buf, BLOCK as u32, 0).offset(offset).build()
    });
    drop(ring);
    drop(memory);
    done
}

fn pread(file: &ShmFile, thread: usize, stop: &AtomicBool) -> u64 {
    let handle = file.open();
    let mut buf = vec![0u8; BLOCK];
    let mut offsets = Offsets::new(thread, file.blocks);
    let mut done = 0u64;
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..64 {
            let n = handle.read_at(&mut buf, offsets.next()).expect("pread");
            assert_eq!(n, BLOCK);
        }
        done += 64;
    }
    done
}

/// Runs the workload and returns its table: each cell the median of a few rounds, contenders
/// interleaved within a round so drift hits them alike.
pub fn run(settings: &Settings) -> String {
    if let Err(err) = iobuf_uring::probe() {
        return format!("\nuring: skipped, io_uring is unavailable here: {err}\n");
    }
    let quick = settings.cell.as_millis() < 500;
    let (len, rounds) = if quick { (64 << 20, 3) } else { (256 << 20, 5) };
    let file = match ShmFile::create(len) {
        Ok(file) => file,
        Err(err) => return format!("\nuring: skipped, could not create the file: {err}\n"),
    };
    type Work = fn(&ShmFile, usize, &AtomicBool) -> u64;
    let contenders: [(&str, Work); 4] = [
        ("uring Read", uring_read),
        ("iobuf ReadFixed", iobuf_read_fixed),
        ("raw ReadFixed", raw_read_fixed),
        ("pread", pread),
    ];
    let names: Vec<&str> = contenders.iter().map(|(name, _)| *name).collect();
    let title = format!(
        "uring: 4 KiB random reads, {} MiB file in {}, queue depth {DEPTH}, one ring per thread, \
         median of {rounds}",
        len >> 20,
        file.path.parent().map_or_else(|| "?".into(), |p| p.display().to_string())
    );
    let mut table = Table::new(&title, "reads/s", &names, 0);
    for threads in settings.thread_counts() {
        let mut samples = vec![Vec::new(); contenders.len()];
        for _ in 0..rounds {
            for (i, (_, work)) in contenders.iter().enumerate() {
                let rate =
                    measure(threads, settings.cell, |thread, stop| work(&file, thread, stop));
                samples[i].push(rate);
            }
        }
        let medians = samples
            .iter_mut()
            .map(|s| {
                s.sort_by(f64::total_cmp);
                s[s.len() / 2]
            })
            .collect();
        table.row(threads, medians);
    }
    table.render()
}
