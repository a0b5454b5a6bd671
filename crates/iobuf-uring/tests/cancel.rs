//! Cancelling and dropping with operations in flight never releases a buffer the kernel may
//! still write: the buffer comes back only with (or after) the cancellation's completion.

mod common;

use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Arena, TestBuf, features};
use iobuf_uring::ops::{Read, RecvMulti};
use iobuf_uring::{BufRing, IoBuf, Ring};

const PAGE: usize = 4096;

/// Whether a byte is waiting on `fd`, without consuming it or blocking.
fn byte_waiting(fd: RawFd) -> bool {
    let mut byte = 0u8;
    // SAFETY: recv writes at most one byte into the live local; MSG_PEEK | MSG_DONTWAIT only
    // apply to this call.
    let n =
        unsafe { libc::recv(fd, (&raw mut byte).cast(), 1, libc::MSG_PEEK | libc::MSG_DONTWAIT) };
    n == 1
}

#[test]
fn cancelled_read_keeps_its_buffer_until_the_cancellation_completes() {
    let Some(_) = features("cancelled_read_keeps_its_buffer_until_the_cancellation_completes")
    else {
        return;
    };
    let mut ring = Ring::<TestBuf>::new(8).unwrap();
    let arena = Arena::new(PAGE, 1);
    let (_peer, socket) = UnixStream::pair().unwrap(); // the peer never writes
    let id = ring.push(Read::new(&socket, arena.buf(0, None))).unwrap();
    ring.submit().unwrap();
    assert!(ring.completion().is_none(), "nothing to read yet");
    assert!(ring.cancel(id).unwrap());
    // Requested, not yet completed: the ring still holds the buffer.
    assert_eq!(arena.outstanding(), 1);
    assert_eq!(ring.in_flight(), 1);
    let (result, buf) = ring.wait().unwrap().into_buf().unwrap();
    let errno = result.unwrap_err().raw_os_error();
    assert!(matches!(errno, Some(libc::ECANCELED | libc::EINTR)), "{errno:?}");
    assert_eq!(ring.in_flight(), 0);
    assert_eq!(buf.filled(), 0);
    assert_eq!(arena.outstanding(), 1, "now it is ours");
    drop(buf);
    assert_eq!(arena.outstanding(), 0);
    assert!(!ring.cancel(id).unwrap(), "no longer in flight");
}

/// The heart of architecture invariant 3: when a ring is dropped with a read pending, the buffer
/// is released only after the kernel has let go of it. The buffer's drop hook sends a byte to the
/// socket the read was waiting on: if the read were still pending, the kernel would take the
/// byte (into freed memory, had we released early); it must still be waiting there.
#[test]
fn dropping_the_ring_releases_a_pending_read_only_after_the_kernel_let_go() {
    let Some(_) =
        features("dropping_the_ring_releases_a_pending_read_only_after_the_kernel_let_go")
    else {
        return;
    };
    let mut ring = Ring::<TestBuf>::new(8).unwrap();
    let arena = Arena::new(PAGE, 1);
    let (peer, socket) = UnixStream::pair().unwrap();
    let verdict = Arc::new(Mutex::new(None));
    let mut buf = arena.buf(0, None);
    let (peer_clone, socket_fd, seen) =
        (peer.try_clone().unwrap(), socket.as_raw_fd(), Arc::clone(&verdict));
    buf.on_drop = Some(Box::new(move |_bytes| {
        use std::io::Write;
        (&peer_clone).write_all(b"!").unwrap();
        // Give a still-pending read every chance to run and take the byte.
        std::thread::sleep(Duration::from_millis(50));
        *seen.lock().unwrap() = Some(byte_waiting(socket_fd));
    }));
    ring.push(Read::new(&socket, buf)).unwrap();
    ring.submit().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(arena.outstanding(), 1);
    drop(ring);
    assert_eq!(arena.outstanding(), 0, "the buffer was released by the drop");
    let verdict = verdict.lock().unwrap().expect("drop hook ran");
    assert!(verdict, "the kernel's read was still pending when the buffer was released");
}

#[test]
fn cancel_all_returns_every_buffer() {
    let Some(_) = features("cancel_all_returns_every_buffer") else { return };
    let mut ring = Ring::<TestBuf>::new(4).unwrap();
    let arena = Arena::new(PAGE, 8);
    let pairs: Vec<_> = (0..8).map(|_| UnixStream::pair().unwrap()).collect();
    for (i, (_, socket)) in pairs.iter().enumerate() {
        ring.push(Read::new(socket, arena.buf(i, None))).unwrap();
    }
    assert_eq!(ring.in_flight(), 8);
    ring.cancel_all(Duration::from_secs(5)).unwrap();
    assert_eq!(ring.in_flight(), 0);
    assert_eq!(arena.outstanding(), 0);
}

#[test]
fn a_completed_read_is_delivered_not_lost_when_cancelled_too_late() {
    let Some(_) = features("a_completed_read_is_delivered_not_lost_when_cancelled_too_late") else {
        return;
    };
    let mut ring = Ring::<TestBuf>::new(8).unwrap();
    let arena = Arena::new(PAGE, 1);
    let (peer, socket) = UnixStream::pair().unwrap();
    std::io::Write::write_all(&mut &peer, b"early").unwrap();
    let id = ring.push(Read::new(&socket, arena.buf(0, None))).unwrap();
    ring.submit_and_wait(1).unwrap();
    // Completed in the kernel, not yet reaped: cancelling finds nothing to cancel there.
    assert!(ring.cancel(id).unwrap());
    let (result, buf) = ring.wait().unwrap().into_buf().unwrap();
    assert_eq!(result.unwrap(), 5);
    assert_eq!(buf.filled_bytes(), b"early");
    // The cancellation's own completion is reaped silently.
    ring.submit_and_wait(1).unwrap();
    assert!(ring.completion().is_none());
}

/// A ring with a one-buffer group, and a multishot recv the kernel refuses while preparing it
/// (MSG_WAITALL: EINVAL). Without IORING_SETUP_SUBMIT_ALL the kernel stops taking entries at
/// the refused one, so what was pushed after it still waits in the submission queue.
fn ring_with_refused_entry(
    test: &str,
    timeout: Duration,
) -> Option<(Ring<iobuf_pool::Buf>, UnixStream, UnixStream)> {
    let features = features(test)?;
    if !common::require(test, features.buf_ring, "provided buffer rings", "5.19") {
        return None;
    }
    let mut ring =
        Ring::<iobuf_pool::Buf>::builder().entries(8).shutdown_timeout(timeout).build().unwrap();
    let provided = iobuf_pool::BufferPool::builder(PAGE).capacity(1).build().unwrap();
    let group = ring.add_buf_ring(BufRing::new(1, vec![provided.try_get().unwrap()])).unwrap();
    let (peer, socket) = UnixStream::pair().unwrap();
    ring.push(RecvMulti::new(&socket, group).flags(libc::MSG_WAITALL)).unwrap();
    Some((ring, peer, socket))
}

#[test]
fn cancel_all_reaches_operations_queued_behind_a_refused_entry() {
    let test = "cancel_all_reaches_operations_queued_behind_a_refused_entry";
    let Some((mut ring, _peer, socket)) = ring_with_refused_entry(test, Duration::from_secs(5))
    else {
        return;
    };
    let pool = iobuf_pool::BufferPool::builder(PAGE).capacity(1).build().unwrap();
    ring.push(Read::new(&socket, pool.try_get().unwrap())).unwrap(); // blocks until cancelled
    ring.cancel_all(Duration::from_secs(5)).unwrap();
    assert_eq!(ring.in_flight(), 0);
    assert!(pool.try_get().is_ok(), "the cancelled read's buffer is back");
}

#[test]
fn an_unlimited_drop_returns_operations_queued_behind_a_refused_entry() {
    let test = "an_unlimited_drop_returns_operations_queued_behind_a_refused_entry";
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Some((mut ring, _peer, socket)) = ring_with_refused_entry(test, Duration::MAX) else {
            done.send(None).unwrap();
            return;
        };
        let pool = iobuf_pool::BufferPool::builder(PAGE).capacity(1).build().unwrap();
        ring.push(Read::new(&socket, pool.try_get().unwrap())).unwrap();
        drop(ring); // no limit: it must cancel the read, not wait for data that never comes
        done.send(Some(pool.try_get().is_ok())).unwrap();
    });
    let returned = finished.recv_timeout(Duration::from_secs(10)).expect("the drop still waits");
    assert_ne!(returned, Some(false), "the read's buffer was not returned");
}
