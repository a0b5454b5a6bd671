//! Zero-copy send over a loopback TCP pair, from registered and unregistered buffers.

mod common;

use std::io::Read as _;
use std::net::{TcpListener, TcpStream};

use common::{Arena, TestBuf, features, pattern, require};
use iobuf_uring::ops::SendZc;
use iobuf_uring::{IoBuf, RegisterOptions, Ring};

const LEN: usize = 256 * 1024;

fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

/// Sends `buf` with SendZc and returns what the peer received and the handle.
fn send_and_receive(ring: &mut Ring<TestBuf>, buf: TestBuf) -> (Vec<u8>, TestBuf) {
    let (client, mut server) = tcp_pair();
    let expected = buf.filled();
    let reader = std::thread::spawn(move || {
        let mut got = vec![0; expected];
        server.read_exact(&mut got).unwrap();
        got
    });
    let id = ring.push(SendZc::new(&client, buf).flags(libc::MSG_NOSIGNAL)).unwrap();
    ring.submit().unwrap();
    let mut sent = 0;
    let mut back = None;
    // The handle comes back exactly once: with the notification, after the result.
    while ring.in_flight() > 0 {
        let completion = ring.wait().unwrap();
        assert_eq!(completion.id(), id);
        assert!(back.is_none(), "the buffer came back twice");
        let (result, buf) = completion.into_buf().unwrap();
        sent = result.unwrap();
        back = Some(buf);
    }
    assert_eq!(sent, expected);
    let received = reader.join().unwrap();
    // Had the handle come back with the result instead of the notification, the notification
    // would still arrive now.
    std::thread::sleep(std::time::Duration::from_millis(50));
    ring.submit().unwrap();
    assert_eq!(ring.ready(), 0, "a completion arrived after the buffer was returned");
    (received, back.unwrap())
}

#[test]
fn send_zc_from_a_registered_buffer() {
    let name = "send_zc_from_a_registered_buffer";
    let Some(f) = features(name) else { return };
    if !require(name, f.send_zc, "send_zc", "6.0")
        || !require(name, f.sparse_buffers, "sparse buffer table", "5.13")
    {
        return;
    }
    let mut ring = Ring::<TestBuf>::new(8).unwrap();
    let arena = Arena::new(LEN, 2);
    let registration = ring.register(arena.clone(), RegisterOptions::new()).unwrap();
    let buf = arena.buf(1, None);
    let index = registration.buf_index(buf.stable_ptr(), buf.capacity());
    assert!(index.is_some());
    let mut buf = {
        drop(buf);
        arena.buf(1, index)
    };
    buf.fill(&pattern(LEN));
    let (received, back) = send_and_receive(&mut ring, buf);
    assert!(received == pattern(LEN), "payload corrupted");
    assert_eq!(back.filled(), LEN, "a send leaves the handle's data alone");
    assert_eq!(arena.outstanding(), 1);
}

#[test]
fn send_zc_from_an_unregistered_buffer() {
    let name = "send_zc_from_an_unregistered_buffer";
    let Some(f) = features(name) else { return };
    if !require(name, f.send_zc, "send_zc", "6.0") {
        return;
    }
    let mut ring = Ring::<TestBuf>::new(8).unwrap();
    let arena = Arena::new(LEN, 1);
    let mut buf = arena.buf(0, None);
    buf.fill(&pattern(1000));
    let (received, _) = send_and_receive(&mut ring, buf);
    assert_eq!(received, pattern(1000));
}

#[test]
fn send_zc_errors_come_back_with_the_buffer() {
    let name = "send_zc_errors_come_back_with_the_buffer";
    let Some(f) = features(name) else { return };
    if !require(name, f.send_zc, "send_zc", "6.0") {
        return;
    }
    let mut ring = Ring::<TestBuf>::new(8).unwrap();
    let arena = Arena::new(4096, 1);
    let mut buf = arena.buf(0, None);
    buf.fill(b"nowhere");
    let file = common::TempFile::with_pattern("not-a-socket", 0);
    ring.push(SendZc::new(&file.file, buf)).unwrap();
    let (result, buf) = ring.wait().unwrap().into_buf().unwrap();
    assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::ENOTSOCK));
    assert_eq!(buf.filled_bytes(), b"nowhere");
    assert_eq!(ring.in_flight(), 0);
}
