//! Ownership-passing operations on a real kernel: fixed and plain reads and writes, short
//! reads, vectored I/O, errors.

mod common;

use std::io;

use common::{Arena, TempFile, TestBuf, features, pattern, require};
use iobuf_uring::ops::{Read, Readv, Write, Writev};
use iobuf_uring::{Completion, IoBuf, RegisterOptions, Ring};

const PAGE: usize = 4096;

fn one(completion: Completion<TestBuf>) -> (io::Result<usize>, TestBuf) {
    completion.into_buf().expect("a single-buffer completion")
}

#[test]
fn fixed_read_and_write_round_trip() {
    let Some(f) = features("fixed_read_and_write_round_trip") else { return };
    if !require("fixed_read_and_write_round_trip", f.sparse_buffers, "sparse buffer table", "5.13")
    {
        return;
    }
    let mut ring = Ring::<TestBuf>::new(8).unwrap();
    let arena = Arena::new(PAGE, 8);
    let registration = ring.register(arena.clone(), RegisterOptions::new()).unwrap();
    assert!(registration.is_registered());
    let index = |i: usize| {
        let buf = arena.buf(i, None);
        let index = registration.buf_index(buf.stable_ptr(), buf.capacity());
        drop(buf);
        index
    };
    // One ≤ 1 GiB chunk: every buffer has the same slot.
    assert!(index(0).is_some());
    assert_eq!(index(0), index(7));

    let file = TempFile::with_pattern("fixed", 3 * PAGE);
    let mut out = arena.buf(0, index(0));
    out.fill(b"written through WriteFixed");
    ring.push(Write::at(&file.file, out, PAGE as u64)).unwrap();
    let (result, _out) = one(ring.wait().unwrap());
    assert_eq!(result.unwrap(), 26);

    ring.push(Read::at(&file.file, arena.buf(1, index(1)), PAGE as u64).len(26)).unwrap();
    let (result, back) = one(ring.wait().unwrap());
    assert_eq!(result.unwrap(), 26);
    assert_eq!(back.bytes(), b"written through WriteFixed");
    // The rest of the file is untouched.
    ring.push(Read::at(&file.file, arena.buf(2, index(2)), 0)).unwrap();
    let (_, first_page) = one(ring.wait().unwrap());
    assert_eq!(first_page.bytes(), &pattern(PAGE)[..]);
}

#[test]
fn plain_read_without_registration_and_short_reads_set_filled() {
    let Some(_) = features("plain_read_without_registration_and_short_reads_set_filled") else {
        return;
    };
    let mut ring = Ring::<TestBuf>::new(8).unwrap();
    let arena = Arena::new(PAGE, 2);
    let file = TempFile::with_pattern("short", PAGE + 100);
    // From offset PAGE only 100 bytes remain: a short read.
    ring.push(Read::at(&file.file, arena.buf(0, None), PAGE as u64)).unwrap();
    let (result, buf) = one(ring.wait().unwrap());
    assert_eq!(result.unwrap(), 100);
    assert_eq!(buf.filled(), 100);
    assert_eq!(buf.bytes(), &pattern(PAGE + 100)[PAGE..]);
    // At end of file: zero bytes, filled 0.
    ring.push(Read::at(&file.file, buf, 10 * PAGE as u64)).unwrap();
    let (result, buf) = one(ring.wait().unwrap());
    assert_eq!((result.unwrap(), buf.filled()), (0, 0));
}

#[test]
fn negative_results_are_os_errors_and_the_buffer_comes_back() {
    let Some(_) = features("negative_results_are_os_errors_and_the_buffer_comes_back") else {
        return;
    };
    let mut ring = Ring::<TestBuf>::new(8).unwrap();
    let arena = Arena::new(PAGE, 1);
    let file = TempFile::with_pattern("ebadf", PAGE);
    let write_only = std::fs::File::options().write(true).open(&file.path).unwrap();
    let mut buf = arena.buf(0, None);
    buf.set_filled(7);
    ring.push(Read::at(&write_only, buf, 0)).unwrap();
    let (result, buf) = one(ring.wait().unwrap());
    assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::EBADF));
    assert_eq!(buf.filled(), 7, "a failed read leaves the filled length alone");
    assert_eq!(arena.outstanding(), 1);
    drop(buf);
    assert_eq!(arena.outstanding(), 0);
}

#[test]
fn a_wrong_buf_index_is_refused_by_the_kernel_not_trusted() {
    let name = "a_wrong_buf_index_is_refused_by_the_kernel_not_trusted";
    let Some(f) = features(name) else { return };
    if !require(name, f.sparse_buffers, "sparse buffer table", "5.13") {
        return;
    }
    let mut ring = Ring::<TestBuf>::new(8).unwrap();
    let registered = Arena::new(PAGE, 2);
    let other = Arena::new(PAGE, 2);
    let registration = ring.register(registered, RegisterOptions::new()).unwrap();
    let slot = registration.slots().start;
    let file = TempFile::with_pattern("wrong-index", PAGE);
    // A buffer outside the registered memory claiming its slot: the kernel checks the range.
    ring.push(Read::at(&file.file, other.buf(0, Some(slot)), 0)).unwrap();
    let (result, buf) = one(ring.wait().unwrap());
    assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::EFAULT));
    assert!(buf.bytes().is_empty());
    // An empty slot of the sparse table: refused too.
    ring.push(Read::at(&file.file, buf, 0)).unwrap();
    drop(ring.wait().unwrap());
    let mut stray = other.buf(1, Some(slot + 1));
    stray.set_filled(0);
    ring.push(Read::at(&file.file, stray, 0)).unwrap();
    let (result, _) = one(ring.wait().unwrap());
    assert!(result.is_err(), "an empty slot must not be usable: {result:?}");
}

#[test]
fn readv_fills_buffers_in_order_and_writev_sends_filled_bytes() {
    let name = "readv_fills_buffers_in_order_and_writev_sends_filled_bytes";
    let Some(f) = features(name) else { return };
    let mut ring = Ring::<TestBuf>::new(8).unwrap();
    let arena = Arena::new(PAGE, 8);
    // Registered when the kernel can (then ReadvFixed is used on 6.15+), plain otherwise.
    let registration =
        f.sparse_buffers.then(|| ring.register(arena.clone(), RegisterOptions::new()).unwrap());
    let index = |i: usize| registration.as_ref().map(|r| r.slots().start).filter(|_| i < 8);
    let file = TempFile::with_pattern("readv", 2 * PAGE + 10);
    let bufs = vec![arena.buf(0, index(0)), arena.buf(1, index(1)), arena.buf(2, index(2))];
    ring.push(Readv::at(&file.file, bufs, 0)).unwrap();
    let (result, bufs) = ring.wait().unwrap().into_bufs().unwrap();
    assert_eq!(result.unwrap(), 2 * PAGE + 10);
    let filled: Vec<_> = bufs.iter().map(IoBuf::filled).collect();
    assert_eq!(filled, vec![PAGE, PAGE, 10]);
    let joined: Vec<u8> = bufs.iter().flat_map(|b| b.bytes().to_vec()).collect();
    assert_eq!(joined, pattern(2 * PAGE + 10));

    // Write the three back reversed, at offset 0 of a fresh file.
    let out = TempFile::with_pattern("writev", 0);
    let reversed: Vec<TestBuf> = bufs.into_iter().rev().collect();
    ring.push(Writev::at(&out.file, reversed, 0)).unwrap();
    let (result, _) = ring.wait().unwrap().into_bufs().unwrap();
    assert_eq!(result.unwrap(), 2 * PAGE + 10);
    let written = std::fs::read(&out.path).unwrap();
    let source = pattern(2 * PAGE + 10);
    assert_eq!(&written[..10], &source[2 * PAGE..]);
    assert_eq!(&written[10..10 + PAGE], &source[PAGE..2 * PAGE]);
    assert_eq!(&written[10 + PAGE..], &source[..PAGE]);
}

#[test]
fn queue_depth_beyond_the_submission_queue_submits_on_push() {
    let name = "queue_depth_beyond_the_submission_queue_submits_on_push";
    let Some(_) = features(name) else { return };
    // 4 entries, 16 reads: push must make room by submitting.
    let mut ring = Ring::<TestBuf>::new(4).unwrap();
    let arena = Arena::new(PAGE, 16);
    let file = TempFile::with_pattern("depth", 16 * PAGE);
    for i in 0..16 {
        ring.push(Read::at(&file.file, arena.buf(i, None), (i * PAGE) as u64)).unwrap();
    }
    let mut seen = 0;
    while ring.in_flight() > 0 {
        let (result, buf) = one(ring.wait().unwrap());
        assert_eq!(result.unwrap(), PAGE);
        let offset = (buf.stable_ptr() as usize - arena.base()) / PAGE;
        assert_eq!(buf.bytes(), &pattern(16 * PAGE)[offset * PAGE..(offset + 1) * PAGE]);
        seen += 1;
    }
    assert_eq!(seen, 16);
    assert_eq!(arena.outstanding(), 0);
    assert_eq!(ring.wait().unwrap_err().kind(), io::ErrorKind::WouldBlock);
}
