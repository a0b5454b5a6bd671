//! Dropping a ring whose zero-copy send the kernel still holds: whatever goes wrong during the
//! drop (an overflowing shutdown timeout, a panicking buffer), the buffer is released only after
//! the kernel's notification, or leaked — never handed back while the kernel still reads it.
//!
//! The kernel holds a zero-copy send's pages until the peer has acknowledged them, so a send
//! queued behind a full TCP window keeps its buffer in flight (result posted, notification not)
//! for as long as the peer does not read.

mod common;

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Arena, TestBuf, features, require};
use iobuf_uring::ops::{Read, SendZc};
use iobuf_uring::{IoBuf, Ring};

const PAGE: usize = 4096;

fn set_int_option(fd: RawFd, option: libc::c_int, value: libc::c_int) {
    let len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: setsockopt reads `len` bytes from the live local passed by pointer.
    let rc =
        unsafe { libc::setsockopt(fd, libc::SOL_SOCKET, option, (&raw const value).cast(), len) };
    assert_eq!(rc, 0, "setsockopt: {}", std::io::Error::last_os_error());
}

/// A loopback TCP pair whose receiver's window is full while the sender still has room to
/// queue: (client, server, bytes already queued by the client).
fn stalled_pair() -> (TcpStream, TcpStream, usize) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    set_int_option(listener.as_raw_fd(), libc::SO_RCVBUF, 4096);
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    set_int_option(client.as_raw_fd(), libc::SO_SNDBUF, 8 << 20);
    client.set_nonblocking(true).unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    let mut queued = 0;
    for _ in 0..32 {
        match (&client).write(&chunk) {
            Ok(n) => queued += n,
            Err(_) => break,
        }
    }
    client.set_nonblocking(false).unwrap();
    (client, server, queued)
}

/// A ring whose zero-copy send the kernel holds: one page of `A`s from `held` (buffer 0),
/// queued behind the full window of `stalled`.
struct HeldSend<B: IoBuf> {
    ring: Ring<B>,
    held: Arena,
    /// (client, server, bytes queued before the send); the sockets keep the send stalled.
    stalled: (TcpStream, TcpStream, usize),
}

/// Sets up a [`HeldSend`] on a ring with `shutdown_timeout`, the held buffer wrapped by `wrap`.
/// `None` (the test skips, saying why) without send_zc, or when the kernel did not hold the
/// notification back.
fn held_send<B: IoBuf>(
    test: &str,
    shutdown_timeout: Duration,
    wrap: impl FnOnce(TestBuf) -> B,
) -> Option<HeldSend<B>> {
    let features = features(test)?;
    if !require(test, features.send_zc, "send_zc", "6.0") {
        return None;
    }
    let stalled = stalled_pair();
    let held = Arena::new(PAGE, 1);
    let mut ring = Ring::<B>::builder().shutdown_timeout(shutdown_timeout).build().unwrap();
    let mut buf = held.buf(0, None);
    buf.fill(&[b'A'; PAGE]);
    ring.push(SendZc::new(&stalled.0, wrap(buf)).flags(libc::MSG_NOSIGNAL)).unwrap();
    ring.submit_and_wait(1).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    if ring.completion().is_some() || ring.in_flight() != 1 {
        eprintln!("skipped {test}: the kernel did not hold the zero-copy notification back");
        return None;
    }
    Some(HeldSend { ring, held, stalled })
}

/// Reads everything the client sends until `want` bytes or `patience` without data.
fn read_all(mut server: TcpStream, want: usize, patience: Duration) -> Vec<u8> {
    server.set_read_timeout(Some(patience)).unwrap();
    let mut all = Vec::with_capacity(want);
    let mut chunk = vec![0; 64 * 1024];
    while all.len() < want {
        match server.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => all.extend_from_slice(&chunk[..n]),
        }
    }
    all
}

/// `shutdown_timeout(Duration::MAX)` means "wait as long as it takes": the drop must neither
/// panic (an `Instant` overflow) nor let the buffer go before the notification.
#[test]
fn a_ring_with_an_unbounded_shutdown_timeout_waits_for_the_notification() {
    let name = "a_ring_with_an_unbounded_shutdown_timeout_waits_for_the_notification";
    let Some(HeldSend { ring, held: arena, stalled: (_client, server, queued) }) =
        held_send(name, Duration::MAX, |buf| buf)
    else {
        return;
    };
    // The peer starts reading only after the drop has had time to release the buffer early.
    let dropped = Arc::new(AtomicBool::new(false));
    let reader = {
        let (arena, dropped) = (arena.clone(), Arc::clone(&dropped));
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            let early = dropped.load(Ordering::SeqCst) || arena.outstanding() == 0;
            (early, read_all(server, queued + PAGE, Duration::from_secs(5)))
        })
    };
    let drop_result = catch_unwind(AssertUnwindSafe(|| drop(ring)));
    dropped.store(true, Ordering::SeqCst);
    // On failure, give the buffer's page a new owner that writes into it, as a pool would.
    if arena.outstanding() == 0 {
        arena.buf(0, None).fill(&[b'Z'; PAGE]);
    }
    let (early, received) = reader.join().unwrap();
    assert!(drop_result.is_ok(), "dropping the ring panicked");
    assert!(!early, "the drop let the buffer go while the kernel still held it");
    assert_eq!(arena.outstanding(), 0, "released once the notification came");
    assert_eq!(received.len(), queued + PAGE);
    assert!(received[queued..].iter().all(|&b| b == b'A'), "the peer got bytes of a reused buffer");
}

/// A buffer whose `set_filled` can panic, to make the ring's own completion handling panic.
struct Touchy {
    inner: TestBuf,
    panic_on_fill: bool,
}

// SAFETY: every method delegates to `TestBuf`, which meets the contract; the extra panic
// happens before the filled length changes.
unsafe impl IoBuf for Touchy {
    fn stable_ptr(&self) -> *const u8 {
        self.inner.stable_ptr()
    }

    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.inner.stable_mut_ptr()
    }

    fn capacity(&self) -> usize {
        self.inner.capacity()
    }

    fn filled(&self) -> usize {
        self.inner.filled()
    }

    fn set_filled(&mut self, n: usize) {
        assert!(!self.panic_on_fill, "set_filled panicked");
        self.inner.set_filled(n);
    }

    fn buf_index(&self) -> Option<u16> {
        self.inner.buf_index()
    }
}

/// Pushes a read of `/proc/self/stat` into `buf` and waits until it has completed (unreaped).
fn completed_read<B: IoBuf>(ring: &mut Ring<B>, buf: B) {
    let file = std::fs::File::open("/proc/self/stat").unwrap();
    ring.push(Read::at(&file, buf, 0)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while ring.ready() == 0 && Instant::now() < deadline {
        ring.submit_and_wait(1).unwrap();
    }
    assert_eq!(ring.ready(), 1, "the read completed");
}

/// A buffer whose drop panics, reaped while the ring drains in its drop: the panic must not
/// free the zero-copy buffer the kernel still holds (the drop glue would, unwinding).
#[test]
fn a_panicking_buffer_drop_during_the_ring_drop_leaks_what_the_kernel_holds() {
    let name = "a_panicking_buffer_drop_during_the_ring_drop_leaks_what_the_kernel_holds";
    let Some(HeldSend { mut ring, held, stalled: _stalled }) =
        held_send(name, Duration::from_millis(200), |buf| buf)
    else {
        return;
    };
    let other = Arena::new(PAGE, 1);
    let mut bomb = other.buf(0, None);
    let released = Arc::new(AtomicBool::new(false));
    let seen = Arc::clone(&released);
    bomb.on_drop = Some(Box::new(move |_| {
        seen.store(true, Ordering::SeqCst);
        panic!("a buffer's drop panicked");
    }));
    completed_read(&mut ring, bomb);
    let drop_result = catch_unwind(AssertUnwindSafe(|| drop(ring)));
    assert!(drop_result.is_err(), "the buffer's panic comes out of the drop");
    assert_eq!(held.outstanding(), 1, "the zero-copy buffer was released while the kernel held it");
    assert!(released.load(Ordering::SeqCst), "the completed read's buffer was released");
}

/// A panic inside the ring's completion handling during its drop (here the buffer's
/// `set_filled`): the in-flight table is leaked, not dropped.
#[test]
fn a_panic_while_the_ring_drop_reaps_leaks_what_the_kernel_holds() {
    let name = "a_panic_while_the_ring_drop_reaps_leaks_what_the_kernel_holds";
    let touchy = |inner| Touchy { inner, panic_on_fill: false };
    let Some(HeldSend { mut ring, held, stalled: _stalled }) =
        held_send(name, Duration::from_millis(200), touchy)
    else {
        return;
    };
    let other = Arena::new(PAGE, 1);
    completed_read(&mut ring, Touchy { inner: other.buf(0, None), panic_on_fill: true });
    let drop_result = catch_unwind(AssertUnwindSafe(|| drop(ring)));
    assert!(drop_result.is_err(), "set_filled's panic comes out of the drop");
    assert_eq!(held.outstanding(), 1, "the zero-copy buffer was released while the kernel held it");
}

/// Without a panic, a drop whose timeout runs out leaks the held buffer and still returns the
/// completed ones to their owners.
#[test]
fn a_drop_that_times_out_leaks_only_what_the_kernel_holds() {
    let name = "a_drop_that_times_out_leaks_only_what_the_kernel_holds";
    let Some(HeldSend { mut ring, held, stalled: _stalled }) =
        held_send(name, Duration::from_millis(200), |buf| buf)
    else {
        return;
    };
    let other = Arena::new(PAGE, 1);
    completed_read(&mut ring, other.buf(0, None));
    let started = Instant::now();
    drop(ring);
    assert!(started.elapsed() >= Duration::from_millis(200), "the drop waited for the timeout");
    assert_eq!(held.outstanding(), 1, "leaked: the kernel still holds it");
    assert_eq!(other.outstanding(), 0, "the completed read's buffer came back");
}
