//! A loopback TCP echo server on multishot receive and a provided buffer ring, with a bounded
//! built-in client; prints messages per second and exits.
//!
//! ```sh
//! cargo run --release -p iobuf-uring --example echo
//! ```
//!
//! The server takes 256 buffers of 2 KiB from a pool, provides them to the kernel as a buffer
//! ring, and arms one multishot receive per connection. Each received piece is written straight
//! back from the buffer it arrived in (a `ProvidedBuf` is an `IoBuf`), and returns to the ring
//! when the write completes. The client opens 4 connections and keeps 16 messages of 64 bytes
//! in flight on each until 50 000 per connection have come back.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

use iobuf_pool::BufferPool;
use iobuf_uring::ops::{RecvMulti, Write};
use iobuf_uring::{BufRing, Completion, OpId, ProvidedBuf, Ring};

const CONNECTIONS: usize = 4;
const MESSAGES: usize = 50_000;
const MESSAGE: usize = 64;
const WINDOW: usize = 16;
const BUFFERS: usize = 256;

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let features = match iobuf_uring::probe() {
        Ok(features) => features,
        Err(err) => {
            println!("io_uring unavailable ({err}): this example needs it; nothing to do");
            return Ok(());
        }
    };
    if !features.recv_multishot {
        println!("this kernel lacks multishot recv (Linux 6.0+): nothing to do");
        return Ok(());
    }
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let clients: Vec<_> =
        (0..CONNECTIONS).map(|_| std::thread::spawn(move || client(address))).collect();
    let connections: Vec<TcpStream> =
        (0..CONNECTIONS).map(|_| listener.accept().map(|(c, _)| c)).collect::<Result<_, _>>()?;
    for connection in &connections {
        connection.set_nodelay(true)?;
    }

    let started = Instant::now();
    let stats = serve(&connections, features.buf_ring_incremental)?;
    let mut echoed = 0;
    for client in clients {
        echoed += client.join().expect("client thread")?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "echoed {echoed} messages of {MESSAGE} bytes over {CONNECTIONS} connections in {elapsed:.2} s: \
         {:.0} messages/s",
        echoed as f64 / elapsed
    );
    println!(
        "server: {} receive completions, {} re-arms, buffer ring of {BUFFERS} x 2 KiB ({})",
        stats.receives,
        stats.rearms,
        if stats.incremental { "incremental consumption" } else { "whole buffers" }
    );
    Ok(())
}

#[derive(Default)]
struct Stats {
    receives: usize,
    rearms: usize,
    incremental: bool,
}

/// Echoes every connection until all of them are closed.
fn serve(connections: &[TcpStream], incremental: bool) -> Result<Stats, Error> {
    let pool = BufferPool::builder(2048).capacity(BUFFERS).build()?;
    let bufs = (0..BUFFERS).map(|_| pool.try_get()).collect::<Result<Vec<_>, _>>()?;
    let mut ring = Ring::<ProvidedBuf>::new(256)?;
    let group = ring.add_buf_ring(BufRing::new(0, bufs).incremental(incremental))?;
    let mut stats = Stats { incremental: group.is_incremental(), ..Stats::default() };

    // Which connection each receive serves; connections waiting for buffers to re-arm.
    let mut receives: HashMap<OpId, usize> = HashMap::new();
    let mut starved: Vec<usize> = Vec::new();
    let mut open = connections.len();
    let arm = |ring: &mut Ring<ProvidedBuf>, receives: &mut HashMap<OpId, usize>, c: usize| {
        ring.push(RecvMulti::new(&connections[c], group)).map(|id| receives.insert(id, c))
    };
    for c in 0..connections.len() {
        arm(&mut ring, &mut receives, c)?;
    }
    while open > 0 {
        match ring.wait()? {
            Completion::Selected { id, result, more } => {
                let c = if more { receives[&id] } else { receives.remove(&id).expect("ours") };
                match result {
                    Ok(Some(received)) => {
                        stats.receives += 1;
                        ring.push(Write::new(&connections[c], received))?;
                        if !more {
                            stats.rearms += 1;
                            arm(&mut ring, &mut receives, c)?;
                        }
                    }
                    Ok(None) => open -= 1, // the client closed the connection
                    Err(err) if err.raw_os_error() == Some(libc::ENOBUFS) => starved.push(c),
                    Err(err) => return Err(err.into()),
                }
            }
            Completion::Buf { result, buf, .. } => {
                let written = result?;
                if written != iobuf_uring::IoBuf::filled(&buf) {
                    return Err("short write on loopback".into());
                }
                drop(buf); // back to the buffer ring
                for c in starved.drain(..) {
                    stats.rearms += 1;
                    arm(&mut ring, &mut receives, c)?;
                }
            }
            _ => unreachable!("no vectored operations here"),
        }
    }
    Ok(stats)
}

/// Keeps `WINDOW` messages in flight until `MESSAGES` have been echoed; returns the count.
fn client(address: std::net::SocketAddr) -> Result<usize, std::io::Error> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_nodelay(true)?;
    let message = [0x5a_u8; MESSAGE];
    let mut sent = 0;
    let mut received_bytes = 0;
    let mut buf = vec![0u8; WINDOW * MESSAGE];
    while sent < WINDOW.min(MESSAGES) {
        stream.write_all(&message)?;
        sent += 1;
    }
    while received_bytes < MESSAGES * MESSAGE {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if buf[..n].iter().any(|&b| b != 0x5a) {
            return Err(std::io::Error::other("echo corrupted"));
        }
        let before = received_bytes / MESSAGE;
        received_bytes += n;
        for _ in before..received_bytes / MESSAGE {
            if sent < MESSAGES {
                stream.write_all(&message)?;
                sent += 1;
            }
        }
    }
    Ok(MESSAGES)
}
