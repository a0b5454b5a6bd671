//! iobuf-uring over iobuf-pool: registered pools, one pool on per-thread rings, the pool's
//! memory outliving the caller's handles, and buffers that go back to the pool only after the
//! kernel let go of them.

mod common;

use std::io::Write as _;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{TempFile, features, pattern, require};
use iobuf_pool::{Arena, BuddyAllocator, Buf, BufferPool, Tier};
use iobuf_uring::ops::{Read, Write};
use iobuf_uring::{IoBuf, RegisterOptions, RegisteredBuf, RegisteredPool, Ring};

const PAGE: usize = 4096;

fn sparse(test: &str) -> bool {
    features(test).is_some_and(|f| require(test, f.sparse_buffers, "sparse buffer table", "5.13"))
}

/// A pool with exact availability counts (no per-thread cache hiding buffers).
fn exact_pool(capacity: usize) -> BufferPool {
    BufferPool::builder(PAGE).capacity(capacity).thread_cache(false).build().unwrap()
}

#[test]
fn a_registered_pool_reads_and_writes_with_fixed_buffers() {
    if !sparse("a_registered_pool_reads_and_writes_with_fixed_buffers") {
        return;
    }
    let mut ring = Ring::<RegisteredBuf>::new(16).unwrap();
    let pool = RegisteredPool::new(exact_pool(8), &mut ring).unwrap();
    let file = TempFile::with_pattern("pool-fixed", 8 * PAGE);
    for i in 0..8 {
        let buf = pool.try_get().unwrap();
        assert_eq!(buf.buf_index(), Some(0), "one chunk, one slot, every buffer");
        ring.push(Read::at(&file.file, buf, (i * PAGE) as u64)).unwrap();
    }
    assert!(pool.try_get().is_err(), "all eight are in the kernel's hands");
    let mut seen = 0;
    while ring.in_flight() > 0 {
        let (result, buf) = ring.wait().unwrap().into_buf().unwrap();
        assert_eq!(result.unwrap(), PAGE);
        let offset = pattern(8 * PAGE)
            .chunks(PAGE)
            .position(|chunk| chunk == buf.filled_slice())
            .expect("the data of one of the pages");
        assert!(offset < 8);
        seen += 1;
    }
    assert_eq!(seen, 8);
    assert_eq!(pool.pool().available(), 8, "every buffer back once dropped");

    // WriteFixed from a registered handle.
    let mut out = pool.try_get().unwrap();
    out[..5].copy_from_slice(b"fixed");
    out.set_filled(5);
    ring.push(Write::at(&file.file, out, 0)).unwrap();
    let (result, _) = ring.wait().unwrap().into_buf().unwrap();
    assert_eq!(result.unwrap(), 5);
    assert_eq!(&std::fs::read(&file.path).unwrap()[..5], b"fixed");
}

#[test]
fn one_pool_on_a_ring_per_thread() {
    if !sparse("one_pool_on_a_ring_per_thread") {
        return;
    }
    let mut first = Ring::<RegisteredBuf>::new(8).unwrap();
    let pool = RegisteredPool::new(exact_pool(16), &mut first).unwrap();
    let file = TempFile::with_pattern("pool-threads", 16 * PAGE);
    std::thread::scope(|scope| {
        for thread in 0..4 {
            let (pool, file) = (pool.clone(), &file);
            scope.spawn(move || {
                let mut ring = Ring::<RegisteredBuf>::new(8).unwrap();
                pool.attach(&mut ring).unwrap();
                for round in 0..50 {
                    let block = (thread * 4 + round) % 16;
                    let buf = pool.get();
                    ring.push(Read::at(&file.file, buf, (block * PAGE) as u64)).unwrap();
                    let (result, buf) = ring.wait().unwrap().into_buf().unwrap();
                    assert_eq!(result.unwrap(), PAGE);
                    assert_eq!(buf.filled_slice(), &pattern(16 * PAGE)[block * PAGE..][..PAGE]);
                    // Handles are Send: drop some on another thread.
                    if round % 10 == 0 {
                        std::thread::spawn(move || drop(buf)).join().unwrap();
                    }
                }
            });
        }
    });
    assert_eq!(pool.pool().available(), 16);
}

#[test]
fn the_pool_outlives_its_owner_while_the_kernel_uses_it() {
    if !sparse("the_pool_outlives_its_owner_while_the_kernel_uses_it") {
        return;
    }
    let mut ring = Ring::<RegisteredBuf>::new(8).unwrap();
    let (reader, mut writer) = std::io::pipe().unwrap();
    {
        let pool = RegisteredPool::new(exact_pool(2), &mut ring).unwrap();
        ring.push(Read::new(&reader, pool.try_get().unwrap())).unwrap();
        ring.submit().unwrap();
        // The caller's pool and registration handles are gone; the read is still pending.
    }
    writer.write_all(b"late").unwrap();
    let (result, buf) = ring.wait().unwrap().into_buf().unwrap();
    assert_eq!((result.unwrap(), buf.filled_slice()), (4, &b"late"[..]));
}

/// Bytes waiting in a pipe, without reading them.
fn pipe_bytes(fd: RawFd) -> i32 {
    let mut waiting: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int into the live local.
    let rc = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut waiting) };
    assert_eq!(rc, 0, "FIONREAD: {}", std::io::Error::last_os_error());
    waiting
}

#[test]
fn a_cancelled_pipe_read_returns_its_buffer_to_the_pool_only_with_the_completion() {
    let name = "a_cancelled_pipe_read_returns_its_buffer_to_the_pool_only_with_the_completion";
    if features(name).is_none() {
        return;
    }
    let pool = exact_pool(1);
    let mut ring = Ring::<Buf>::new(8).unwrap();
    let (reader, _writer) = std::io::pipe().unwrap(); // no writer data, ever
    let id = ring.push(Read::new(&reader, pool.try_get().unwrap())).unwrap();
    ring.submit().unwrap();
    std::thread::sleep(Duration::from_millis(10));
    assert_eq!(pool.available(), 0);
    assert!(ring.cancel(id).unwrap());
    ring.submit().unwrap();
    // Asked to cancel; until the completion is reaped the buffer is not the pool's.
    assert_eq!(pool.available(), 0);
    let (result, buf) = ring.wait().unwrap().into_buf().unwrap();
    assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::ECANCELED));
    assert_eq!(pool.available(), 0, "the completion hands the buffer to us, not the pool");
    drop(buf);
    assert_eq!(pool.available(), 1);
}

/// A pool handle that runs a check when it is released.
struct Hooked {
    buf: Buf,
    on_drop: Option<Box<dyn FnOnce() + Send>>,
}

// SAFETY: every method delegates to the pool handle, which meets the contract.
unsafe impl IoBuf for Hooked {
    fn stable_ptr(&self) -> *const u8 {
        self.buf.as_ptr()
    }
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.buf.as_mut_ptr()
    }
    fn capacity(&self) -> usize {
        self.buf.capacity()
    }
    fn filled(&self) -> usize {
        self.buf.filled()
    }
    fn set_filled(&mut self, n: usize) {
        self.buf.set_filled(n);
    }
}

impl Drop for Hooked {
    fn drop(&mut self) {
        if let Some(hook) = self.on_drop.take() {
            hook();
        }
    }
}

#[test]
fn dropping_the_ring_returns_a_pending_pipe_read_only_after_the_kernel_let_go() {
    let name = "dropping_the_ring_returns_a_pending_pipe_read_only_after_the_kernel_let_go";
    if features(name).is_none() {
        return;
    }
    let pool = exact_pool(1);
    let mut ring = Ring::<Hooked>::new(8).unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    let (reader_fd, verdict) = (reader.as_raw_fd(), Arc::new(Mutex::new(None)));
    let seen = Arc::clone(&verdict);
    let mut writer_clone = writer.try_clone().unwrap();
    let buf = Hooked {
        buf: pool.try_get().unwrap(),
        on_drop: Some(Box::new(move || {
            // If the read were still pending, it would take this byte.
            writer_clone.write_all(b"!").unwrap();
            std::thread::sleep(Duration::from_millis(50));
            *seen.lock().unwrap() = Some(pipe_bytes(reader_fd));
        })),
    };
    ring.push(Read::new(&reader, buf)).unwrap();
    ring.submit().unwrap();
    std::thread::sleep(Duration::from_millis(10));
    assert_eq!(pool.available(), 0);
    drop(ring);
    assert_eq!(pool.available(), 1, "back in the pool after the ring's drop");
    assert_eq!(*verdict.lock().unwrap(), Some(1), "the kernel still had a read pending");
}

#[test]
fn an_arena_registers_as_one_region_for_every_tier() {
    if !sparse("an_arena_registers_as_one_region_for_every_tier") {
        return;
    }
    let arena = Arena::builder().tier(Tier::Small, 4).tier(Tier::Big, 2).build().unwrap();
    let mut ring = Ring::<RegisteredBuf>::new(8).unwrap();
    let registration = ring.register(arena.clone(), RegisterOptions::new()).unwrap();
    assert_eq!(registration.slots().len(), 1);
    let file = TempFile::with_pattern("arena", 40_000);
    for size in [2048, 32 * 1024] {
        let buf = registration.stamp(arena.alloc(size).unwrap());
        assert_eq!(buf.buf_index(), Some(registration.slots().start));
        ring.push(Read::at(&file.file, buf, 0)).unwrap();
        let (result, buf) = ring.wait().unwrap().into_buf().unwrap();
        assert_eq!(result.unwrap(), size);
        assert_eq!(buf.filled_slice(), &pattern(size)[..]);
    }
}

#[test]
fn a_buddy_allocator_registers_and_reads_with_fixed_buffers() {
    if !sparse("a_buddy_allocator_registers_and_reads_with_fixed_buffers") {
        return;
    }
    let buddy = BuddyAllocator::builder().region_size(1 << 20).build().unwrap();
    let mut ring = Ring::<RegisteredBuf>::new(8).unwrap();
    let registration = ring.register(buddy.clone(), RegisterOptions::new()).unwrap();
    let file = TempFile::with_pattern("buddy", 64 * 1024);
    for size in [4096, 20_000, 64 * 1024] {
        let buf = registration.stamp(buddy.try_alloc(size).unwrap());
        assert_eq!(buf.buf_index(), Some(registration.slots().start), "{size}-byte block");
        ring.push(Read::at(&file.file, buf, 0)).unwrap();
        let (result, buf) = ring.wait().unwrap().into_buf().unwrap();
        let read = result.unwrap();
        assert!(read >= size.min(64 * 1024), "read {read} for a {size}-byte block");
        assert_eq!(buf.filled_slice(), &pattern(64 * 1024)[..read]);
    }
}

#[test]
fn a_buffer_of_another_pool_is_not_stamped() {
    if !sparse("a_buffer_of_another_pool_is_not_stamped") {
        return;
    }
    let mut ring = Ring::<RegisteredBuf>::new(8).unwrap();
    let pool = RegisteredPool::new(exact_pool(1), &mut ring).unwrap();
    let stranger = exact_pool(1);
    let buf = pool.stamp(stranger.try_get().unwrap());
    assert_eq!(buf.buf_index(), None);
    // It still works, unregistered.
    let file = TempFile::with_pattern("stranger", PAGE);
    ring.push(Read::at(&file.file, buf, 0)).unwrap();
    let (result, buf) = ring.wait().unwrap().into_buf().unwrap();
    assert_eq!(result.unwrap(), PAGE);
    assert_eq!(buf.into_inner().filled(), PAGE);
}
