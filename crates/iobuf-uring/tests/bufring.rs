//! Provided buffer rings: recycling on drop, exhaustion, incremental consumption, several
//! groups, buffers outliving the ring.

mod common;

use std::io::Write;
use std::os::unix::net::UnixStream;

use common::{Arena, TestBuf, features, require};
use iobuf_uring::ops::{ReadSelect, RecvMulti, RecvSelect};
use iobuf_uring::{BufGroup, BufRing, Completion, OpId, ProvidedBuf, Ring, UringError};

const PAGE: usize = 4096;

/// The next selected completion: (result, more).
fn selected(ring: &mut Ring<TestBuf>) -> (std::io::Result<Option<ProvidedBuf>>, bool, OpId) {
    match ring.wait().unwrap() {
        Completion::Selected { result, more, id } => (result, more, id),
        other => panic!("expected a buffer-select completion, got {other:?}"),
    }
}

fn group_of(ring: &mut Ring<TestBuf>, arena: &Arena, id: u16, incremental: bool) -> BufGroup {
    let bufs = (0..arena.count()).map(|i| arena.buf(i, None)).collect();
    ring.add_buf_ring(BufRing::new(id, bufs).incremental(incremental)).unwrap()
}

#[test]
fn multishot_recv_recycles_dropped_buffers_and_stops_when_all_are_held() {
    let name = "multishot_recv_recycles_dropped_buffers_and_stops_when_all_are_held";
    let Some(f) = features(name) else { return };
    if !require(name, f.recv_multishot, "multishot recv", "6.0") {
        return;
    }
    let mut ring = Ring::<TestBuf>::new(8).unwrap();
    let arena = Arena::new(PAGE, 4);
    let group = group_of(&mut ring, &arena, 1, false);
    assert!(!group.is_incremental());
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let id = ring.push(RecvMulti::new(&rx, group)).unwrap();

    let mut held = Vec::new();
    for message in 0..4u8 {
        tx.write_all(&[message; 10]).unwrap();
        let (result, more, from) = selected(&mut ring);
        let buf = result.unwrap().unwrap();
        assert_eq!((from, more), (id, true));
        assert_eq!(&*buf, &[message; 10]);
        assert_eq!(buf.group(), 1);
        held.push(buf);
    }
    let mut ids: Vec<_> = held.iter().map(ProvidedBuf::buffer_id).collect();
    ids.sort_unstable();
    assert_eq!(ids, vec![0, 1, 2, 3], "every buffer used once");

    // All four held: the fifth message finds no buffer and ends the multishot.
    tx.write_all(b"fifth").unwrap();
    let (result, more, _) = selected(&mut ring);
    assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::ENOBUFS));
    assert!(!more);
    assert_eq!(ring.in_flight(), 0);

    // Drop one on another thread: it goes back to the ring, and a re-armed recv gets it.
    let returned = held.remove(2);
    let returned_id = returned.buffer_id();
    std::thread::spawn(move || drop(returned)).join().unwrap();
    ring.push(RecvMulti::new(&rx, group)).unwrap();
    let (result, more, _) = selected(&mut ring);
    let buf = result.unwrap().unwrap();
    assert!(more);
    assert_eq!(&*buf, b"fifth");
    assert_eq!(buf.buffer_id(), returned_id);
}

#[test]
fn incremental_consumption_fills_one_buffer_in_pieces() {
    let name = "incremental_consumption_fills_one_buffer_in_pieces";
    let Some(f) = features(name) else { return };
    if !require(name, f.buf_ring_incremental, "incremental buffer rings", "6.12")
        || !require(name, f.recv_multishot, "multishot recv", "6.0")
    {
        return;
    }
    let mut ring = Ring::<TestBuf>::new(8).unwrap();
    let arena = Arena::new(PAGE, 1);
    let group = group_of(&mut ring, &arena, 2, true);
    assert!(group.is_incremental());
    let (mut tx, rx) = UnixStream::pair().unwrap();
    ring.push(RecvMulti::new(&rx, group)).unwrap();

    let mut next = |tx: &mut UnixStream, bytes: &[u8]| {
        tx.write_all(bytes).unwrap();
        let (result, more, _) = selected(&mut ring);
        (result, more)
    };
    let (a, _) = next(&mut tx, &[b'a'; 100]);
    let (b, _) = next(&mut tx, &[b'b'; 100]);
    let (a, b) = (a.unwrap().unwrap(), b.unwrap().unwrap());
    assert_eq!((a.buffer_id(), a.offset(), a.len()), (0, 0, 100));
    assert_eq!((b.buffer_id(), b.offset(), b.len()), (0, 100, 100));
    assert!(a.iter().all(|&x| x == b'a') && b.iter().all(|&x| x == b'b'));
    // Dropping both pieces must not hand the buffer back: the kernel is still filling it.
    drop((a, b));
    let (c, _) = next(&mut tx, &[b'c'; 100]);
    let c = c.unwrap().unwrap();
    assert_eq!((c.buffer_id(), c.offset()), (0, 200));
    // Fill the rest exactly: the kernel is done with the buffer.
    let (d, _) = next(&mut tx, &vec![b'd'; PAGE - 300]);
    let d = d.unwrap().unwrap();
    assert_eq!((d.offset(), d.len()), (300, PAGE - 300));
    drop(c);
    // `d` still holds the only buffer: nothing to receive into.
    let (e, more) = next(&mut tx, b"e");
    assert_eq!(e.unwrap_err().raw_os_error(), Some(libc::ENOBUFS));
    assert!(!more);
    // Releasing the last piece recycles the whole buffer, from offset 0 again.
    drop(d);
    ring.push(RecvMulti::new(&rx, group)).unwrap();
    let (e, _, _) = selected(&mut ring);
    let e = e.unwrap().unwrap();
    assert_eq!((e.offset(), &*e), (0, &b"e"[..]));
}

/// Regression: the kernel consumes a limited read's *limit* from an incremental buffer when
/// it cannot poll the file, so a short read left the next piece pointing at the wrong bytes.
/// A limit on an incremental group is refused; without one, a short read ends the buffer and
/// every piece shows what was read.
#[test]
fn limited_reads_are_refused_on_incremental_groups_and_short_reads_stay_in_place() {
    let name = "limited_reads_are_refused_on_incremental_groups_and_short_reads_stay_in_place";
    let Some(f) = features(name) else { return };
    if !require(name, f.buf_ring_incremental, "incremental buffer rings", "6.12") {
        return;
    }
    let mut ring = Ring::<TestBuf>::new(8).unwrap();
    let arena = Arena::new(PAGE, 2);
    let group = group_of(&mut ring, &arena, 6, true);
    let file = common::TempFile::with_pattern("incremental-short-read", 1000);
    let pattern = common::pattern(1000);

    let refused = ring.push(ReadSelect::at(&file.file, group, 970).len(100)).unwrap_err();
    let (error, _op) = refused.into_parts();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(ring.in_flight(), 0, "nothing was queued");

    // 30 bytes before the end: a short read into the first buffer.
    ring.push(ReadSelect::at(&file.file, group, 970)).unwrap();
    let (short, _, _) = selected(&mut ring);
    let short = short.unwrap().unwrap();
    assert_eq!(&*short, &pattern[970..]);
    // A failed read (a directory) in between names no piece that could shift the next one.
    let dir = std::fs::File::open(env!("CARGO_MANIFEST_DIR")).unwrap();
    ring.push(ReadSelect::at(&dir, group, 0)).unwrap();
    let (failed, _, _) = selected(&mut ring);
    assert_eq!(failed.unwrap_err().raw_os_error(), Some(libc::EISDIR));
    ring.push(ReadSelect::at(&file.file, group, 0)).unwrap();
    let (next, _, _) = selected(&mut ring);
    let next = next.unwrap().unwrap();
    assert_eq!(&*next, &pattern[..], "the next piece shows what was read");
    assert_eq!(&*short, &pattern[970..], "the short piece is untouched");
}

#[test]
fn several_groups_at_once() {
    let name = "several_groups_at_once";
    let Some(f) = features(name) else { return };
    if !require(name, f.buf_ring, "provided buffer rings", "5.19") {
        return;
    }
    let mut ring = Ring::<TestBuf>::new(8).unwrap();
    let (small, large) = (Arena::new(PAGE, 2), Arena::new(4 * PAGE, 2));
    let small_group = group_of(&mut ring, &small, 10, false);
    let large_group = group_of(&mut ring, &large, 11, false);
    let taken = ring.add_buf_ring(BufRing::new(10, vec![small.buf(0, None)]));
    assert!(matches!(taken, Err(UringError::GroupTaken { group: 10 })), "{taken:?}");
    let (mut tx_small, rx_small) = UnixStream::pair().unwrap();
    let (mut tx_large, rx_large) = UnixStream::pair().unwrap();
    tx_small.write_all(b"small").unwrap();
    tx_large.write_all(&[7; 3 * PAGE]).unwrap();
    let small_id = ring.push(RecvSelect::new(&rx_small, small_group)).unwrap();
    ring.push(RecvSelect::new(&rx_large, large_group)).unwrap();
    for _ in 0..2 {
        let (result, more, id) = selected(&mut ring);
        let buf = result.unwrap().unwrap();
        assert!(!more, "single shot");
        if id == small_id {
            assert_eq!((buf.group(), &*buf), (10, &b"small"[..]));
        } else {
            assert_eq!((buf.group(), buf.len()), (11, 3 * PAGE));
        }
    }
}

#[test]
fn a_selected_read_from_a_file_and_a_zero_length_result() {
    let name = "a_selected_read_from_a_file_and_a_zero_length_result";
    let Some(f) = features(name) else { return };
    if !require(name, f.buf_ring, "provided buffer rings", "5.19") {
        return;
    }
    let mut ring = Ring::<TestBuf>::new(8).unwrap();
    let arena = Arena::new(PAGE, 1);
    let group = group_of(&mut ring, &arena, 3, false);
    let file = common::TempFile::with_pattern("select", 100);
    ring.push(ReadSelect::at(&file.file, group, 0)).unwrap();
    let (result, _, _) = selected(&mut ring);
    assert_eq!(&*result.unwrap().unwrap(), &common::pattern(100)[..]);
    // The only buffer went back when the ProvidedBuf dropped; at end of file nothing is
    // received and the buffer is recycled at once.
    for _ in 0..3 {
        ring.push(ReadSelect::at(&file.file, group, 100)).unwrap();
        let (result, _, _) = selected(&mut ring);
        assert!(result.unwrap().is_none());
    }
    ring.push(ReadSelect::at(&file.file, group, 0).len(10)).unwrap();
    let (result, _, _) = selected(&mut ring);
    assert_eq!(result.unwrap().unwrap().len(), 10);
}

#[test]
fn received_buffers_outlive_the_ring() {
    let name = "received_buffers_outlive_the_ring";
    let Some(f) = features(name) else { return };
    if !require(name, f.recv_multishot, "multishot recv", "6.0") {
        return;
    }
    let arena = Arena::new(PAGE, 2);
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let kept = {
        let mut ring = Ring::<TestBuf>::new(8).unwrap();
        let group = group_of(&mut ring, &arena, 4, false);
        ring.push(RecvMulti::new(&rx, group)).unwrap();
        tx.write_all(b"keep me").unwrap();
        let (result, _, _) = selected(&mut ring);
        result.unwrap().unwrap()
        // The ring drops here with the multishot recv still armed: it is cancelled first.
    };
    assert_eq!(&*kept, b"keep me");
    assert_eq!(arena.outstanding(), 2, "the group's buffers live as long as a received one");
    drop(kept);
    assert_eq!(arena.outstanding(), 0);
}

#[test]
fn invalid_buffer_rings_are_refused() {
    let name = "invalid_buffer_rings_are_refused";
    let Some(f) = features(name) else { return };
    if !require(name, f.buf_ring, "provided buffer rings", "5.19") {
        return;
    }
    let mut ring = Ring::<TestBuf>::new(8).unwrap();
    let empty = ring.add_buf_ring(BufRing::<TestBuf>::new(5, Vec::new()));
    assert!(matches!(empty, Err(UringError::InvalidBufRing { .. })), "{empty:?}");
}

#[test]
fn received_buffers_are_written_back_without_copying_and_then_recycled() {
    let name = "received_buffers_are_written_back_without_copying_and_then_recycled";
    let Some(f) = features(name) else { return };
    if !require(name, f.recv_multishot, "multishot recv", "6.0") {
        return;
    }
    let mut ring = Ring::<ProvidedBuf>::new(8).unwrap();
    let arena = Arena::new(PAGE, 1);
    let bufs = vec![arena.buf(0, None)];
    let group = ring.add_buf_ring(BufRing::new(6, bufs)).unwrap();
    let (mut client, server) = UnixStream::pair().unwrap();
    // One buffer only: each echo must recycle it before the next message can be received.
    for round in 0..5u8 {
        ring.push(RecvSelect::new(&server, group)).unwrap();
        client.write_all(&[round; 32]).unwrap();
        let Completion::Selected { result, .. } = ring.wait().unwrap() else { panic!() };
        let received = result.unwrap().unwrap();
        assert_eq!(iobuf_uring::IoBuf::filled(&received), 32);
        ring.push(iobuf_uring::ops::Write::new(&server, received)).unwrap();
        let (written, buf) = ring.wait().unwrap().into_buf().unwrap();
        assert_eq!(written.unwrap(), 32);
        drop(buf);
        let mut echo = [0u8; 32];
        std::io::Read::read_exact(&mut client, &mut echo).unwrap();
        assert_eq!(echo, [round; 32]);
    }
}

/// A read that fails after the kernel committed the selected buffer (files that cannot be
/// polled pick their buffer before the read runs) still names the buffer in its completion:
/// the buffer goes back to the group instead of being lost to it.
#[test]
fn a_failed_selected_read_that_names_a_buffer_gives_it_back() {
    let name = "a_failed_selected_read_that_names_a_buffer_gives_it_back";
    let Some(f) = features(name) else { return };
    if !require(name, f.buf_ring, "provided buffer rings", "5.19") {
        return;
    }
    let directory = std::fs::File::open(env!("CARGO_MANIFEST_DIR")).unwrap();
    let file = common::TempFile::with_pattern("select-after-failure", 100);
    for incremental in [false, true] {
        if incremental && !require(name, f.buf_ring_incremental, "incremental rings", "6.12") {
            continue;
        }
        let mut ring = Ring::<TestBuf>::new(8).unwrap();
        let arena = Arena::new(PAGE, 1);
        let group = group_of(&mut ring, &arena, 12, incremental);
        for _ in 0..3 {
            ring.push(ReadSelect::at(&directory, group, 0)).unwrap();
            let (result, _, _) = selected(&mut ring);
            let errno = result.unwrap_err().raw_os_error();
            assert_eq!(errno, Some(libc::EISDIR), "ENOBUFS: a failed read lost the only buffer");
        }
        // The group's only buffer must still be there.
        ring.push(ReadSelect::at(&file.file, group, 0)).unwrap();
        let (result, _, _) = selected(&mut ring);
        let received = result.unwrap_or_else(|err| {
            panic!("the group lost its only buffer to the failed reads (incremental: {incremental}): {err}")
        });
        assert_eq!(&*received.unwrap(), &common::pattern(100)[..]);
    }
}
