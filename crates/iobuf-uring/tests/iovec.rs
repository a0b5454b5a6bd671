//! IoVec against the real system calls and std's vectored I/O.

mod common;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

use common::{Arena, pattern};
use iobuf_uring::{IoBuf, IoVec, IoVecMut};

#[test]
fn layout_matches_libc_iovec_at_run_time_too() {
    let bytes = [1u8, 2, 3];
    let v = IoVec::new(&bytes);
    // SAFETY: IoVec is layout-identical to libc::iovec (asserted at compile time in the crate).
    let raw: libc::iovec = unsafe { std::mem::transmute(v) };
    assert_eq!((raw.iov_base as usize, raw.iov_len), (bytes.as_ptr() as usize, 3));
}

#[test]
fn writev_with_raw_parts_sends_every_buffer_in_order() {
    let arena = Arena::new(4096, 3);
    let mut bufs: Vec<_> = (0..3).map(|i| arena.buf(i, None)).collect();
    let source = pattern(3 * 1000);
    for (i, buf) in bufs.iter_mut().enumerate() {
        buf.fill(&source[i * 1000..(i + 1) * 1000]);
    }
    let (mut rx, tx) = UnixStream::pair().unwrap();
    let iovecs = IoVec::from_bufs(&bufs);
    assert_eq!(IoVec::total_len(&iovecs), 3000);
    let (address, count) = IoVec::raw_parts(&iovecs);
    // SAFETY: `address` points at `count` iovecs over buffers that all outlive this call.
    let written = unsafe { libc::writev(tx.as_raw_fd(), address, count) };
    assert_eq!(written, 3000);
    let mut got = vec![0; 3000];
    rx.read_exact(&mut got).unwrap();
    assert_eq!(got, source);
}

#[test]
fn readv_fills_whole_capacities_in_order() {
    let arena = Arena::new(4096, 2);
    let mut bufs: Vec<_> = (0..2).map(|i| arena.buf(i, None)).collect();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let source = pattern(5000);
    tx.write_all(&source).unwrap();
    let mut iovecs = IoVecMut::from_bufs(&mut bufs);
    assert_eq!(IoVecMut::total_len(&iovecs), 8192);
    let (address, count) = IoVecMut::raw_parts(&mut iovecs);
    // SAFETY: `address` points at `count` iovecs exclusively borrowing both buffers.
    let read = unsafe { libc::readv(rx.as_raw_fd(), address, count) };
    assert_eq!(read, 5000);
    drop(iovecs);
    bufs[0].set_filled(4096);
    bufs[1].set_filled(904);
    assert_eq!(bufs[0].filled_bytes(), &source[..4096]);
    assert_eq!(bufs[1].filled_bytes(), &source[4096..]);
}

#[test]
fn std_vectored_io_through_the_slice_casts() {
    let parts: [&[u8]; 3] = [b"a", b"", b"bcd"];
    let iovecs = IoVec::from_slices(&parts);
    let slices = IoVec::as_io_slices(&iovecs);
    assert_eq!(slices.len(), 3);
    assert_eq!(&*slices[2], b"bcd");
    assert!(iovecs[1].is_empty());
    let mut out = Vec::new();
    out.write_all(&[]).unwrap();
    let n = out.write_vectored(slices).unwrap();
    assert_eq!((n, &out[..]), (4, &b"abcd"[..]));
    assert_eq!(iovecs[0].as_io_slice().len(), 1);

    let (mut x, mut y) = ([0u8; 2], [0u8; 3]);
    let mut iovecs = IoVecMut::from_slices(vec![&mut x[..], &mut y[..]]);
    iovecs[1].as_mut_slice()[2] = 9;
    let mut src: &[u8] = b"12";
    let n = src.read_vectored(IoVecMut::as_io_slices_mut(&mut iovecs)).unwrap();
    assert_eq!(n, 2);
    let slice = iovecs.pop().unwrap().into_io_slice_mut();
    assert_eq!(slice.len(), 3);
    drop(iovecs);
    assert_eq!((x, y), ([b'1', b'2'], [0, 0, 9]));
}
