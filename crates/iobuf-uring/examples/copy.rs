//! Copies a file through registered buffers at queue depth 32, verifies the copy, and prints the
//! throughput next to a plain `std` read/write loop.
//!
//! ```sh
//! cargo run --release -p iobuf-uring --example copy              # a generated 256 MiB file
//! cargo run --release -p iobuf-uring --example copy -- SRC DST   # your own files
//! cargo run --release -p iobuf-uring --example copy -- --readv   # the fallback path
//! ```
//!
//! Each buffer cycles read → write → read at the next offset, so 32 buffers keep 32 operations
//! in flight. When io_uring is unavailable (or `--readv` is given) it copies with
//! `readv`/`writev` over the same pool's buffers instead, and says so; when `RLIMIT_MEMLOCK` is
//! too low to register the pool it copies with unregistered reads and writes, and says so.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use iobuf_pool::{Buf, BufferPool};
use iobuf_uring::ops::{Read, Write};
use iobuf_uring::{
    Completion, IoVec, IoVecMut, OpId, RegisterOptions, RegisteredBuf, RegisteredPool, Ring,
};

const DEPTH: usize = 32;
const BUFFER: usize = 128 * 1024;
const GENERATED: usize = 256 << 20;

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let force_readv = args.iter().any(|a| a == "--readv");
    let paths: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let generated;
    let (source, target): (PathBuf, PathBuf) = match paths.as_slice() {
        [] => {
            generated = Scratch::generate(GENERATED)?;
            (generated.source.clone(), generated.target.clone())
        }
        [source, target] => (source.into(), target.into()),
        _ => return Err("usage: copy [SRC DST] [--readv]".into()),
    };
    let len = std::fs::metadata(&source)?.len();
    println!("copying {} ({:.1} MiB)", source.display(), len as f64 / (1 << 20) as f64);

    let pool = BufferPool::builder(BUFFER).capacity(DEPTH).build()?;
    let uring = if force_readv {
        println!("--readv: copying with readv/writev");
        None
    } else {
        match Ring::<RegisteredBuf>::new(2 * DEPTH as u32) {
            Ok(ring) => Some(ring),
            Err(err) => {
                println!("io_uring unavailable ({err}): copying with readv/writev instead");
                None
            }
        }
    };
    let (label, elapsed) = match uring {
        Some(mut ring) => {
            let options = RegisterOptions::new().fallback_to_unregistered(true);
            let pool = RegisteredPool::with_options(pool, &mut ring, options)?;
            let label = match pool.registration().fallback_reason() {
                None => "io_uring, registered buffers",
                Some(reason) => {
                    println!("registration refused ({reason}): unregistered reads and writes");
                    "io_uring, unregistered buffers"
                }
            };
            (label, timed(|| copy_uring(&mut ring, &pool, &source, &target, len))?)
        }
        None => ("readv/writev", timed(|| copy_vectored(&pool, &source, &target))?),
    };
    verify(&source, &target)?;
    report(label, len, elapsed);

    let std_target = target.with_extension("std");
    let std_elapsed = timed(|| copy_std(&source, &std_target))?;
    verify(&source, &std_target)?;
    std::fs::remove_file(&std_target)?;
    report("std read/write loop", len, std_elapsed);
    println!(
        "{label}: {:.2}x the std loop (both copies verified)",
        std_elapsed.as_secs_f64() / elapsed.as_secs_f64()
    );
    Ok(())
}

/// Keeps `DEPTH` buffers cycling read → write. Returns once every byte is written.
fn copy_uring(
    ring: &mut Ring<RegisteredBuf>,
    pool: &RegisteredPool,
    source: &Path,
    target: &Path,
    len: u64,
) -> Result<(), Error> {
    let input = File::open(source)?;
    let output = File::create(target)?;
    output.set_len(len)?;
    // What each operation in flight is: a read or a write of the block at this offset.
    let mut ops: HashMap<OpId, (bool, u64)> = HashMap::new();
    let mut next_read = 0u64;
    let mut written = 0u64;
    let mut start_read = |ring: &mut Ring<RegisteredBuf>,
                          ops: &mut HashMap<OpId, (bool, u64)>,
                          buf: RegisteredBuf|
     -> io::Result<()> {
        if next_read < len {
            let id = ring.push(Read::at(&input, buf, next_read))?;
            ops.insert(id, (true, next_read));
            next_read += BUFFER as u64;
        }
        Ok(())
    };
    for _ in 0..DEPTH {
        start_read(ring, &mut ops, pool.try_get()?)?;
    }
    while written < len {
        let Completion::Buf { id, result, buf } = ring.wait()? else {
            unreachable!("only reads and writes are in flight")
        };
        let (is_read, offset) = ops.remove(&id).expect("an operation we started");
        let n = result?;
        if is_read {
            let expected = (len - offset).min(BUFFER as u64) as usize;
            if n != expected {
                return Err(format!("short read at {offset}: {n} of {expected} bytes").into());
            }
            let id = ring.push(Write::at(&output, buf, offset))?;
            ops.insert(id, (false, offset));
        } else {
            if n != buf.filled() {
                return Err(format!("short write at {offset}: {n} of {}", buf.filled()).into());
            }
            written += n as u64;
            start_read(ring, &mut ops, buf)?;
        }
    }
    output.sync_all()?;
    Ok(())
}

/// The fallback: `readv` into four pool buffers at a time, `writev` of what was read.
fn copy_vectored(pool: &BufferPool, source: &Path, target: &Path) -> Result<(), Error> {
    let mut input = File::open(source)?;
    let mut output = File::create(target)?;
    let mut bufs: Vec<Buf> = (0..4).map(|_| pool.try_get()).collect::<Result<_, _>>()?;
    loop {
        let mut iovecs = IoVecMut::from_bufs(&mut bufs);
        let mut n = input.read_vectored(IoVecMut::as_io_slices_mut(&mut iovecs))?;
        drop(iovecs);
        if n == 0 {
            break;
        }
        for buf in &mut bufs {
            let share = n.min(buf.capacity());
            buf.set_filled(share);
            n -= share;
        }
        let filled: Vec<&Buf> = bufs.iter().filter(|b| b.filled() > 0).collect();
        let parts: Vec<&[u8]> = filled.iter().map(|b| b.filled_slice()).collect();
        write_all_vectored(&mut output, &IoVec::from_slices(&parts))?;
    }
    output.sync_all()?;
    Ok(())
}

/// `writev` until every byte of `iovecs` is written.
fn write_all_vectored(output: &mut File, iovecs: &[IoVec<'_>]) -> io::Result<()> {
    let mut slices: Vec<io::IoSlice<'_>> = IoVec::as_io_slices(iovecs).to_vec();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        let n = output.write_vectored(rest)?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        io::IoSlice::advance_slices(&mut rest, n);
    }
    Ok(())
}

/// The baseline: a plain loop of `read` and `write_all` with one buffer of the same size.
fn copy_std(source: &Path, target: &Path) -> Result<(), Error> {
    let mut input = File::open(source)?;
    let mut output = File::create(target)?;
    let mut buf = vec![0u8; BUFFER];
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        output.write_all(&buf[..n])?;
    }
    output.sync_all()?;
    Ok(())
}

fn timed(f: impl FnOnce() -> Result<(), Error>) -> Result<Duration, Error> {
    let started = Instant::now();
    f()?;
    Ok(started.elapsed())
}

fn report(label: &str, len: u64, elapsed: Duration) {
    let mib = len as f64 / (1 << 20) as f64;
    println!(
        "{label:<32} {:>8.1} MiB/s  ({:.3} s)",
        mib / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
}

/// Compares the two files chunk by chunk.
fn verify(source: &Path, target: &Path) -> Result<(), Error> {
    let (mut a, mut b) = (File::open(source)?, File::open(target)?);
    let (mut x, mut y) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    let mut offset = 0u64;
    loop {
        let n = read_full(&mut a, &mut x)?;
        let m = read_full(&mut b, &mut y)?;
        if n != m || x[..n] != y[..m] {
            return Err(format!("copy differs from the source near byte {offset}").into());
        }
        if n == 0 {
            return Ok(());
        }
        offset += n as u64;
    }
}

fn read_full(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// A generated source file and the copy's path in the temp directory, both removed on drop.
struct Scratch {
    source: PathBuf,
    target: PathBuf,
}

impl Scratch {
    fn generate(len: usize) -> io::Result<Self> {
        let dir = std::env::temp_dir();
        let stem = format!("iobuf-copy-{}", std::process::id());
        let scratch = Self {
            source: dir.join(format!("{stem}.src")),
            target: dir.join(format!("{stem}.dst")),
        };
        let mut file = File::create(&scratch.source)?;
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut block = vec![0u8; 1 << 20];
        for _ in 0..len / block.len() {
            for word in block.chunks_exact_mut(8) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                word.copy_from_slice(&state.to_le_bytes());
            }
            file.write_all(&block)?;
        }
        file.sync_all()?;
        Ok(scratch)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.source);
        let _ = std::fs::remove_file(&self.target);
    }
}
