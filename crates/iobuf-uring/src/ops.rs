//! Operation builders that take ownership of their buffers.
//!
//! Each builder takes its handles by value; [`Ring::push`](crate::Ring::push) moves them into
//! the ring's in-flight table and the matching [`Completion`](crate::Completion) gives them back
//! with the result. A handle with a `buf_index` (from a registered pool) is read and written with
//! `ReadFixed`/`WriteFixed`; one without, with plain `Read`/`Write` — so a pool that fell back to
//! unregistered memory (memlock) keeps working, only slower.
//!
//! # File descriptors
//!
//! A builder takes its file as `&impl AsRawFd` and keeps only the number, so the operation
//! does not borrow the file and can sit in the ring's in-flight table. Keep the file open until
//! the operation's completion has been reaped: the kernel looks the number up when it issues
//! the operation, which may be after [`Ring::push`](crate::Ring::push) returns (at the next
//! submit, or later on an io-wq worker), and a number closed and reused by then names another
//! file. Memory stays safe either way — the buffers belong to the operation, not to the
//! file — but the read or write would reach the wrong file or fail with `EBADF`.
//!
//! # Examples
//!
//! ```
//! use iobuf_pool::BufferPool;
//! use iobuf_uring::{Ring, ops::{Read, Write}};
//!
//! # if iobuf_uring::probe().is_err() { return Ok(()) }
//! let mut ring = Ring::new(8)?;
//! let pool = BufferPool::builder(4096).capacity(2).build()?;
//! let (reader, writer) = std::io::pipe()?;
//! let mut out = pool.try_get()?;
//! out[..4].copy_from_slice(b"ping");
//! out.set_filled(4);
//! ring.push(Write::new(&writer, out))?;
//! ring.push(Read::new(&reader, pool.try_get()?))?;
//! let mut got = Vec::new();
//! for _ in 0..2 {
//!     let (result, buf) = ring.wait()?.into_buf().unwrap();
//!     assert_eq!(result?, 4);
//!     got.push(buf.filled_slice().to_vec());
//! }
//! assert!(got.iter().all(|bytes| bytes == b"ping"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::os::fd::{AsRawFd, RawFd};

use io_uring::{opcode, squeue, types};

use crate::inflight::{Kind, Payload, Pending};
use crate::iovec::RawIovecs;
use crate::{BufGroup, Features, IoBuf};

/// Offset that means "the file's current position" (and is what streams need).
const CURRENT_POSITION: u64 = u64::MAX;

mod sealed {
    /// Only this crate's builders are operations: they uphold the in-flight contract.
    pub trait Sealed {}
}

/// An operation a [`Ring`](crate::Ring) can push: one of the builders in this module.
///
/// Sealed: the ring's memory safety rests on what these builders put in the submission entry.
///
/// # Examples
///
/// ```
/// use iobuf_uring::{IoBuf, OpId, PushError, Ring, ops::Op};
///
/// /// Pushes any operation, handing its buffers back to their pool if that fails.
/// fn push_any<B: IoBuf, O: Op<B>>(ring: &mut Ring<B>, op: O) -> std::io::Result<OpId> {
///     ring.push(op).map_err(PushError::into_parts).map_err(|(error, _op)| error)
/// }
/// ```
pub trait Op<B: IoBuf>: sealed::Sealed {
    /// Refuses a combination the kernel would carry out wrongly; [`Ring::push`](crate::Ring::push)
    /// hands the operation back with this error.
    #[doc(hidden)]
    fn check(&self) -> std::io::Result<()> {
        Ok(())
    }

    /// Builds the submission entry and the in-flight record holding the buffers.
    #[doc(hidden)]
    fn prepare(self, features: &Features) -> Prepared<B>;
}

/// A submission entry whose pointers refer only to memory held by `pending` (or to a buffer
/// ring of the ring it is pushed on).
#[doc(hidden)]
pub struct Prepared<B> {
    pub(crate) entry: squeue::Entry,
    pub(crate) pending: Pending<B>,
}

/// Length for a submission entry: at most `u32::MAX`.
fn entry_len(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Read into one buffer: `ReadFixed` when the handle has a `buf_index`, `Read` otherwise.
/// On success the handle's filled length is the bytes read (short reads included).
///
/// # Examples
///
/// ```
/// use iobuf_pool::BufferPool;
/// use iobuf_uring::{Ring, ops::Read};
///
/// # if iobuf_uring::probe().is_err() { return Ok(()) }
/// let mut ring = Ring::new(8)?;
/// let pool = BufferPool::builder(4096).capacity(1).build()?;
/// let file = std::fs::File::open("/proc/self/stat")?;
/// ring.push(Read::at(&file, pool.try_get()?, 0).len(16))?;
/// let (result, buf) = ring.wait()?.into_buf().unwrap();
/// assert_eq!(result?, buf.filled());
/// assert!(buf.filled() <= 16);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Read<B> {
    fd: RawFd,
    buf: B,
    offset: u64,
    len: usize,
    unregistered: bool,
}

impl<B: IoBuf> Read<B> {
    /// Reads up to the buffer's capacity from `fd` at `offset`.
    ///
    /// # Examples
    ///
    /// ```
    /// # let pool = iobuf_pool::BufferPool::builder(4096).capacity(1).build()?;
    /// let file = std::fs::File::open("/proc/self/stat")?;
    /// let read = iobuf_uring::ops::Read::at(&file, pool.try_get()?, 0);
    /// # drop(read);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn at(fd: &impl AsRawFd, buf: B, offset: u64) -> Self {
        let len = buf.capacity();
        Self { fd: fd.as_raw_fd(), buf, offset, len, unregistered: false }
    }

    /// Reads from the current position: files advance it, pipes and sockets need it.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::BufferPool;
    /// use iobuf_uring::{Ring, ops::Read};
    ///
    /// # if iobuf_uring::probe().is_err() { return Ok(()) }
    /// let mut ring = Ring::new(8)?;
    /// let pool = BufferPool::builder(4096).capacity(1).build()?;
    /// let (reader, mut writer) = std::io::pipe()?;
    /// std::io::Write::write_all(&mut writer, b"piped")?;
    /// ring.push(Read::new(&reader, pool.try_get()?))?;
    /// let (result, buf) = ring.wait()?.into_buf().unwrap();
    /// assert_eq!((result?, buf.filled_slice()), (5, &b"piped"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(fd: &impl AsRawFd, buf: B) -> Self {
        Self::at(fd, buf, CURRENT_POSITION)
    }

    /// Reads at most `len` bytes.
    ///
    /// # Panics
    ///
    /// When `len` exceeds the buffer's capacity.
    ///
    /// # Examples
    ///
    /// ```
    /// # let pool = iobuf_pool::BufferPool::builder(4096).capacity(1).build()?;
    /// # let file = std::fs::File::open("/proc/self/stat")?;
    /// let read = iobuf_uring::ops::Read::at(&file, pool.try_get()?, 0).len(512);
    /// # drop(read);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// Longer than the buffer:
    ///
    /// ```should_panic
    /// # let pool = iobuf_pool::BufferPool::builder(4096).capacity(1).build().unwrap();
    /// # let file = std::fs::File::open("/proc/self/stat").unwrap();
    /// let read = iobuf_uring::ops::Read::at(&file, pool.try_get().unwrap(), 0).len(8192);
    /// ```
    #[must_use]
    pub fn len(mut self, len: usize) -> Self {
        assert!(len <= self.buf.capacity(), "read of {len} bytes into {}", self.buf.capacity());
        self.len = len;
        self
    }

    /// Uses plain `Read` even when the handle is registered (to compare, or for a file
    /// descriptor type that refuses fixed buffers).
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::BufferPool;
    /// use iobuf_uring::ops::Read;
    ///
    /// let pool = BufferPool::builder(4096).capacity(1).build()?;
    /// let file = std::fs::File::open("/proc/self/stat")?;
    /// let read = Read::at(&file, pool.try_get()?, 0).unregistered();
    /// # drop(read);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn unregistered(mut self) -> Self {
        self.unregistered = true;
        self
    }
}

impl<B: IoBuf> sealed::Sealed for Read<B> {}

impl<B: IoBuf> Op<B> for Read<B> {
    fn prepare(mut self, _: &Features) -> Prepared<B> {
        let (fd, len, ptr) = (types::Fd(self.fd), entry_len(self.len), self.buf.stable_mut_ptr());
        let entry = match self.buf.buf_index().filter(|_| !self.unregistered) {
            Some(index) => opcode::ReadFixed::new(fd, ptr, len, index).offset(self.offset).build(),
            None => opcode::Read::new(fd, ptr, len).offset(self.offset).build(),
        };
        let pending = Pending { kind: Kind::Read, payload: Payload::One(self.buf) };
        Prepared { entry, pending }
    }
}

/// Write one buffer's valid bytes (`[0, filled)`): `WriteFixed` when the handle has a
/// `buf_index`, `Write` otherwise. The result is the bytes written (maybe fewer).
///
/// # Examples
///
/// ```
/// use iobuf_pool::BufferPool;
/// use iobuf_uring::{Ring, ops::Write};
///
/// # if iobuf_uring::probe().is_err() { return Ok(()) }
/// let mut ring = Ring::new(8)?;
/// let pool = BufferPool::builder(4096).capacity(1).build()?;
/// let mut buf = pool.try_get()?;
/// buf[..5].copy_from_slice(b"hello");
/// buf.set_filled(5);
/// let file = tempfile_in_target()?;
/// ring.push(Write::at(&file, buf, 0))?;
/// let (result, _buf) = ring.wait()?.into_buf().unwrap();
/// assert_eq!(result?, 5);
/// # fn tempfile_in_target() -> std::io::Result<std::fs::File> {
/// #     let path = std::env::temp_dir().join(format!("iobuf-doc-write-{}", std::process::id()));
/// #     let file = std::fs::File::options().read(true).write(true).create(true).truncate(true).open(&path)?;
/// #     std::fs::remove_file(&path)?;
/// #     Ok(file)
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Write<B> {
    fd: RawFd,
    buf: B,
    offset: u64,
    unregistered: bool,
}

impl<B: IoBuf> Write<B> {
    /// Writes the buffer's valid bytes to `fd` at `offset`.
    ///
    /// # Examples
    ///
    /// ```
    /// # let pool = iobuf_pool::BufferPool::builder(4096).capacity(1).build()?;
    /// let file = std::fs::File::options().write(true).open("/dev/null")?;
    /// let write = iobuf_uring::ops::Write::at(&file, pool.try_get()?, 0);
    /// # drop(write);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn at(fd: &impl AsRawFd, buf: B, offset: u64) -> Self {
        Self { fd: fd.as_raw_fd(), buf, offset, unregistered: false }
    }

    /// Writes at the current position (files append at it; pipes and sockets need it).
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::BufferPool;
    /// use iobuf_uring::{Ring, ops::Write};
    ///
    /// # if iobuf_uring::probe().is_err() { return Ok(()) }
    /// let mut ring = Ring::new(8)?;
    /// let pool = BufferPool::builder(4096).capacity(1).build()?;
    /// let (mut reader, writer) = std::io::pipe()?;
    /// let mut buf = pool.try_get()?;
    /// buf[..2].copy_from_slice(b"ok");
    /// buf.set_filled(2);
    /// ring.push(Write::new(&writer, buf))?;
    /// assert_eq!(ring.wait()?.into_buf().unwrap().0?, 2);
    /// let mut got = [0; 2];
    /// std::io::Read::read_exact(&mut reader, &mut got)?;
    /// assert_eq!(&got, b"ok");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(fd: &impl AsRawFd, buf: B) -> Self {
        Self::at(fd, buf, CURRENT_POSITION)
    }

    /// Uses plain `Write` even when the handle is registered.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::BufferPool;
    /// let pool = BufferPool::builder(4096).capacity(1).build()?;
    /// let write = iobuf_uring::ops::Write::new(&std::io::stdout(), pool.try_get()?).unregistered();
    /// # drop(write);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn unregistered(mut self) -> Self {
        self.unregistered = true;
        self
    }
}

impl<B: IoBuf> sealed::Sealed for Write<B> {}

impl<B: IoBuf> Op<B> for Write<B> {
    fn prepare(self, _: &Features) -> Prepared<B> {
        let (fd, len, ptr) =
            (types::Fd(self.fd), entry_len(self.buf.filled()), self.buf.stable_ptr());
        let entry = match self.buf.buf_index().filter(|_| !self.unregistered) {
            Some(index) => opcode::WriteFixed::new(fd, ptr, len, index).offset(self.offset).build(),
            None => opcode::Write::new(fd, ptr, len).offset(self.offset).build(),
        };
        let pending = Pending { kind: Kind::Write, payload: Payload::One(self.buf) };
        Prepared { entry, pending }
    }
}

/// The registered slot all handles share, if they share one (what `ReadvFixed` needs).
fn common_index<B: IoBuf>(bufs: &[B]) -> Option<u16> {
    let first = bufs.first()?.buf_index()?;
    bufs.iter().all(|b| b.buf_index() == Some(first)).then_some(first)
}

/// Vectored read into several buffers, filled in order (`preadv2`). Uses `ReadvFixed` (6.15)
/// when the kernel has it and every handle lies in the same registered slot, `Readv` otherwise.
/// On success each handle's filled length is its share of the bytes read.
///
/// # Examples
///
/// ```
/// use iobuf_uring::{IoBuf, Ring, ops::Readv};
/// # if iobuf_uring::probe().is_err() { return Ok(()) }
/// let pool = iobuf_pool::BufferPool::builder(4096).capacity(2).build()?;
/// let mut ring = Ring::new(8)?;
/// let file = std::fs::File::open("/proc/self/stat")?;
/// ring.push(Readv::at(&file, vec![pool.try_get()?, pool.try_get()?], 0))?;
/// let (result, bufs) = ring.wait()?.into_bufs().unwrap();
/// assert_eq!(bufs[0].filled(), result?.min(4096));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Readv<B> {
    fd: RawFd,
    bufs: Vec<B>,
    offset: u64,
}

impl<B: IoBuf> Readv<B> {
    /// Reads into `bufs` (each up to its capacity) from `fd` at `offset`.
    ///
    /// # Panics
    ///
    /// When `bufs` is empty or holds more than `IOV_MAX` (1024) handles.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::builder(4096).capacity(2).build()?;
    /// let file = std::fs::File::open("/proc/self/stat")?;
    /// let readv = iobuf_uring::ops::Readv::at(&file, vec![pool.try_get()?, pool.try_get()?], 0);
    /// # drop(readv);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn at(fd: &impl AsRawFd, bufs: Vec<B>, offset: u64) -> Self {
        assert!((1..=1024).contains(&bufs.len()), "readv of {} buffers", bufs.len());
        Self { fd: fd.as_raw_fd(), bufs, offset }
    }
}

impl<B: IoBuf> sealed::Sealed for Readv<B> {}

impl<B: IoBuf> Op<B> for Readv<B> {
    fn prepare(mut self, features: &Features) -> Prepared<B> {
        let fd = types::Fd(self.fd);
        let iovecs =
            RawIovecs::new(self.bufs.iter_mut().map(|b| (b.stable_mut_ptr(), b.capacity())));
        let count = iovecs.len() as u32;
        let entry = match common_index(&self.bufs).filter(|_| features.readv_fixed) {
            Some(index) => opcode::ReadvFixed::new(fd, iovecs.as_ptr(), count, index)
                .offset(self.offset)
                .build(),
            None => opcode::Readv::new(fd, iovecs.as_ptr(), count).offset(self.offset).build(),
        };
        let pending =
            Pending { kind: Kind::Read, payload: Payload::Many { bufs: self.bufs, iovecs } };
        Prepared { entry, pending }
    }
}

/// Vectored write of several buffers' valid bytes, in order (`pwritev2`). Uses `WritevFixed`
/// (6.15) when the kernel has it and every handle lies in the same registered slot.
///
/// # Examples
///
/// ```
/// use iobuf_pool::BufferPool;
/// use iobuf_uring::{Ring, ops::Writev};
///
/// # if iobuf_uring::probe().is_err() { return Ok(()) }
/// let mut ring = Ring::new(8)?;
/// let pool = BufferPool::builder(4096).capacity(2).build()?;
/// let mut parts = Vec::new();
/// for text in [&b"vec"[..], &b"tored"[..]] {
///     let mut buf = pool.try_get()?;
///     buf[..text.len()].copy_from_slice(text);
///     buf.set_filled(text.len());
///     parts.push(buf);
/// }
/// let (mut reader, writer) = std::io::pipe()?;
/// ring.push(Writev::new(&writer, parts))?;
/// let (result, _parts) = ring.wait()?.into_bufs().unwrap();
/// assert_eq!(result?, 8);
/// let mut got = [0; 8];
/// std::io::Read::read_exact(&mut reader, &mut got)?;
/// assert_eq!(&got, b"vectored");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Writev<B> {
    fd: RawFd,
    bufs: Vec<B>,
    offset: u64,
}

impl<B: IoBuf> Writev<B> {
    /// Writes `bufs` to `fd` at `offset`.
    ///
    /// # Panics
    ///
    /// When `bufs` is empty or holds more than `IOV_MAX` (1024) handles.
    ///
    /// # Examples
    ///
    /// ```
    /// # let pool = iobuf_pool::BufferPool::builder(4096).capacity(1).build()?;
    /// let file = std::fs::File::options().write(true).open("/dev/null")?;
    /// let writev = iobuf_uring::ops::Writev::at(&file, vec![pool.try_get()?], 0);
    /// # drop(writev);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn at(fd: &impl AsRawFd, bufs: Vec<B>, offset: u64) -> Self {
        assert!((1..=1024).contains(&bufs.len()), "writev of {} buffers", bufs.len());
        Self { fd: fd.as_raw_fd(), bufs, offset }
    }

    /// Writes `bufs` at the current position (pipes and sockets).
    ///
    /// # Panics
    ///
    /// As [`at`](Self::at).
    ///
    /// # Examples
    ///
    /// ```
    /// # let pool = iobuf_pool::BufferPool::builder(4096).capacity(1).build()?;
    /// let (_reader, writer) = std::io::pipe()?;
    /// let writev = iobuf_uring::ops::Writev::new(&writer, vec![pool.try_get()?]);
    /// # drop(writev);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(fd: &impl AsRawFd, bufs: Vec<B>) -> Self {
        Self::at(fd, bufs, CURRENT_POSITION)
    }
}

impl<B: IoBuf> sealed::Sealed for Writev<B> {}

impl<B: IoBuf> Op<B> for Writev<B> {
    fn prepare(self, features: &Features) -> Prepared<B> {
        let fd = types::Fd(self.fd);
        let iovecs =
            RawIovecs::new(self.bufs.iter().map(|b| (b.stable_ptr().cast_mut(), b.filled())));
        let count = iovecs.len() as u32;
        let entry = match common_index(&self.bufs).filter(|_| features.readv_fixed) {
            Some(index) => opcode::WritevFixed::new(fd, iovecs.as_ptr(), count, index)
                .offset(self.offset)
                .build(),
            None => opcode::Writev::new(fd, iovecs.as_ptr(), count).offset(self.offset).build(),
        };
        let pending =
            Pending { kind: Kind::Write, payload: Payload::Many { bufs: self.bufs, iovecs } };
        Prepared { entry, pending }
    }
}

/// Zero-copy send of one buffer's valid bytes on a socket (`IORING_OP_SEND_ZC`, 6.0), from its
/// registered slot when it has one.
///
/// The kernel posts two completions: the result, then a notification once the network stack
/// has let go of the pages. The handle comes back only with the notification, so it can never
/// be reused while the NIC may still read it.
///
/// # Examples
///
/// ```
/// use std::net::{TcpListener, TcpStream};
/// use iobuf_pool::BufferPool;
/// use iobuf_uring::{Ring, ops::SendZc};
///
/// # match iobuf_uring::probe() { Ok(f) if f.send_zc => {}, _ => return Ok(()) }
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let client = TcpStream::connect(listener.local_addr()?)?;
/// let (mut server, _) = listener.accept()?;
/// let mut ring = Ring::new(8)?;
/// let pool = BufferPool::builder(4096).capacity(1).build()?;
/// let mut buf = pool.try_get()?;
/// buf[..4].copy_from_slice(b"zero");
/// buf.set_filled(4);
/// ring.push(SendZc::new(&client, buf))?;
/// let (result, _buf) = ring.wait()?.into_buf().unwrap();
/// assert_eq!(result?, 4);
/// let mut got = [0; 4];
/// std::io::Read::read_exact(&mut server, &mut got)?;
/// assert_eq!(&got, b"zero");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct SendZc<B> {
    fd: RawFd,
    buf: B,
    flags: i32,
}

impl<B: IoBuf> SendZc<B> {
    /// Sends the buffer's valid bytes on the socket `fd`.
    ///
    /// # Examples
    ///
    /// ```
    /// # let pool = iobuf_pool::BufferPool::builder(4096).capacity(1).build()?;
    /// let (socket, _peer) = std::os::unix::net::UnixStream::pair()?;
    /// let send = iobuf_uring::ops::SendZc::new(&socket, pool.try_get()?);
    /// # drop(send);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(fd: &impl AsRawFd, buf: B) -> Self {
        Self { fd: fd.as_raw_fd(), buf, flags: 0 }
    }

    /// `send(2)` flags (`MSG_*`).
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::BufferPool;
    /// let pool = BufferPool::builder(4096).capacity(1).build()?;
    /// let send = iobuf_uring::ops::SendZc::new(&std::io::stdout(), pool.try_get()?)
    ///     .flags(libc::MSG_NOSIGNAL);
    /// # drop(send);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn flags(mut self, flags: i32) -> Self {
        self.flags = flags;
        self
    }
}

impl<B: IoBuf> sealed::Sealed for SendZc<B> {}

impl<B: IoBuf> Op<B> for SendZc<B> {
    fn prepare(self, _: &Features) -> Prepared<B> {
        let entry = opcode::SendZc::new(
            types::Fd(self.fd),
            self.buf.stable_ptr(),
            entry_len(self.buf.filled()),
        )
        .buf_index(self.buf.buf_index())
        .flags(self.flags)
        .build();
        let pending =
            Pending { kind: Kind::SendZc { result: None }, payload: Payload::One(self.buf) };
        Prepared { entry, pending }
    }
}

/// Read with buffer select: the kernel picks a buffer from `group`'s ring when data is there.
/// The completion is [`Completion::Selected`](crate::Completion::Selected).
///
/// # Examples
///
/// ```
/// use iobuf_pool::BufferPool;
/// use iobuf_uring::{BufRing, Completion, Ring, ops::ReadSelect};
///
/// # match iobuf_uring::probe() { Ok(f) if f.buf_ring => {}, _ => return Ok(()) }
/// let pool = BufferPool::builder(4096).capacity(4).build()?;
/// let mut ring = Ring::<iobuf_pool::Buf>::new(8)?;
/// let bufs = (0..4).map(|_| pool.try_get()).collect::<Result<Vec<_>, _>>()?;
/// let group = ring.add_buf_ring(BufRing::new(1, bufs))?;
/// let file = std::fs::File::open("/proc/self/stat")?;
/// ring.push(ReadSelect::at(&file, group, 0))?;
/// let Completion::Selected { result, .. } = ring.wait()? else { unreachable!() };
/// let bytes = result?.expect("stat is not empty");
/// assert!(bytes.starts_with(std::process::id().to_string().as_bytes()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ReadSelect {
    fd: RawFd,
    group: u16,
    incremental: bool,
    offset: u64,
    len: u32,
}

impl ReadSelect {
    /// Reads from `fd` at `offset` into a buffer of `group`.
    ///
    /// # Examples
    ///
    /// ```
    /// # match iobuf_uring::probe() { Ok(f) if f.buf_ring => {}, _ => return Ok(()) }
    /// # let pool = iobuf_pool::BufferPool::builder(4096).capacity(1).build()?;
    /// # let mut ring = iobuf_uring::Ring::<iobuf_pool::Buf>::new(8)?;
    /// # let group = ring.add_buf_ring(iobuf_uring::BufRing::new(0, vec![pool.try_get()?]))?;
    /// let file = std::fs::File::open("/proc/self/stat")?;
    /// ring.push(iobuf_uring::ops::ReadSelect::at(&file, group, 0))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn at(fd: &impl AsRawFd, group: BufGroup, offset: u64) -> Self {
        let (group, incremental) = (group.id(), group.is_incremental());
        Self { fd: fd.as_raw_fd(), group, incremental, offset, len: 0 }
    }

    /// Reads from the current position (pipes, sockets).
    ///
    /// # Examples
    ///
    /// ```
    /// # match iobuf_uring::probe() { Ok(f) if f.buf_ring => {}, _ => return Ok(()) }
    /// # let pool = iobuf_pool::BufferPool::builder(4096).capacity(1).build()?;
    /// # let mut ring = iobuf_uring::Ring::<iobuf_pool::Buf>::new(8)?;
    /// # let group = ring.add_buf_ring(iobuf_uring::BufRing::new(0, vec![pool.try_get()?]))?;
    /// let (reader, _writer) = std::io::pipe()?;
    /// ring.push(iobuf_uring::ops::ReadSelect::new(&reader, group))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(fd: &impl AsRawFd, group: BufGroup) -> Self {
        Self::at(fd, group, CURRENT_POSITION)
    }

    /// Reads at most `len` bytes (default: the whole selected buffer).
    ///
    /// Not on a group with incremental consumption: [`Ring::push`](crate::Ring::push) refuses
    /// it with `InvalidInput`. From files it cannot poll (regular files), and on its io-wq
    /// workers, the kernel consumes the requested length of the buffer when it selects it,
    /// not the length read, so after a short or failed read the pieces that follow would lose
    /// their place in the buffer. Without a limit the kernel takes the rest of the buffer, and
    /// the next read starts in a fresh one.
    ///
    /// # Examples
    ///
    /// ```
    /// # match iobuf_uring::probe() { Ok(f) if f.buf_ring => {}, _ => return Ok(()) }
    /// # let pool = iobuf_pool::BufferPool::builder(4096).capacity(1).build()?;
    /// # let mut ring = iobuf_uring::Ring::<iobuf_pool::Buf>::new(8)?;
    /// # let group = ring.add_buf_ring(iobuf_uring::BufRing::new(0, vec![pool.try_get()?]))?;
    /// let file = std::fs::File::open("/proc/self/stat")?;
    /// ring.push(iobuf_uring::ops::ReadSelect::at(&file, group, 0).len(64))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn len(mut self, len: u32) -> Self {
        self.len = len;
        self
    }
}

impl sealed::Sealed for ReadSelect {}

impl<B: IoBuf> Op<B> for ReadSelect {
    fn check(&self) -> std::io::Result<()> {
        if self.incremental && self.len != 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "ReadSelect::len on a buffer group with incremental consumption: the kernel \
                 may consume the limit rather than the bytes read, and later pieces would lose \
                 their place; read without a limit, or use a group without incremental \
                 consumption",
            ));
        }
        Ok(())
    }

    fn prepare(self, _: &Features) -> Prepared<B> {
        let entry = opcode::Read::new(types::Fd(self.fd), std::ptr::null_mut(), self.len)
            .offset(self.offset)
            .buf_group(self.group)
            .build()
            .flags(squeue::Flags::BUFFER_SELECT);
        let kind = Kind::Select { group: self.group, multishot: false };
        Prepared { entry, pending: Pending { kind, payload: Payload::Nothing } }
    }
}

/// Receive with buffer select, once (`recv(2)` into a buffer of `group`).
///
/// # Examples
///
/// ```
/// use std::io::Write as _;
/// use std::os::unix::net::UnixStream;
/// use iobuf_uring::{Completion, ops::RecvSelect};
/// # match iobuf_uring::probe() { Ok(f) if f.buf_ring => {}, _ => return Ok(()) }
/// # let pool = iobuf_pool::BufferPool::builder(4096).capacity(1).build()?;
/// # let mut ring = iobuf_uring::Ring::<iobuf_pool::Buf>::new(8)?;
/// # let group = ring.add_buf_ring(iobuf_uring::BufRing::new(0, vec![pool.try_get()?]))?;
/// let (mut tx, rx) = UnixStream::pair()?;
/// tx.write_all(b"once")?;
/// ring.push(RecvSelect::new(&rx, group))?;
/// let Completion::Selected { result, more, .. } = ring.wait()? else { unreachable!() };
/// assert_eq!((&*result?.unwrap(), more), (&b"once"[..], false));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RecvSelect {
    fd: RawFd,
    group: u16,
    flags: i32,
}

impl RecvSelect {
    /// Receives from the socket `fd` into a buffer of `group`.
    ///
    /// # Examples
    ///
    /// ```
    /// # match iobuf_uring::probe() { Ok(f) if f.buf_ring => {}, _ => return Ok(()) }
    /// # let pool = iobuf_pool::BufferPool::builder(4096).capacity(1).build()?;
    /// # let mut ring = iobuf_uring::Ring::<iobuf_pool::Buf>::new(8)?;
    /// # let group = ring.add_buf_ring(iobuf_uring::BufRing::new(0, vec![pool.try_get()?]))?;
    /// let (socket, _peer) = std::os::unix::net::UnixStream::pair()?;
    /// ring.push(iobuf_uring::ops::RecvSelect::new(&socket, group))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(fd: &impl AsRawFd, group: BufGroup) -> Self {
        Self { fd: fd.as_raw_fd(), group: group.id(), flags: 0 }
    }

    /// `recv(2)` flags (`MSG_*`).
    ///
    /// # Examples
    ///
    /// ```
    /// # match iobuf_uring::probe() { Ok(f) if f.buf_ring => {}, _ => return Ok(()) }
    /// # let pool = iobuf_pool::BufferPool::builder(4096).capacity(1).build()?;
    /// # let mut ring = iobuf_uring::Ring::<iobuf_pool::Buf>::new(8)?;
    /// # let group = ring.add_buf_ring(iobuf_uring::BufRing::new(0, vec![pool.try_get()?]))?;
    /// let (socket, _peer) = std::os::unix::net::UnixStream::pair()?;
    /// ring.push(iobuf_uring::ops::RecvSelect::new(&socket, group).flags(libc::MSG_PEEK))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn flags(mut self, flags: i32) -> Self {
        self.flags = flags;
        self
    }
}

impl sealed::Sealed for RecvSelect {}

impl<B: IoBuf> Op<B> for RecvSelect {
    fn prepare(self, _: &Features) -> Prepared<B> {
        let entry = opcode::Recv::new(types::Fd(self.fd), std::ptr::null_mut(), 0)
            .buf_group(self.group)
            .flags(self.flags)
            .build()
            .flags(squeue::Flags::BUFFER_SELECT);
        let kind = Kind::Select { group: self.group, multishot: false };
        Prepared { entry, pending: Pending { kind, payload: Payload::Nothing } }
    }
}

/// Multishot receive (6.0): armed once, it posts a completion per arrival, each in a buffer of
/// `group`, while [`Completion::Selected`](crate::Completion::Selected)'s `more` is true. It ends
/// on error, end of stream, or when the group runs out of buffers (`ENOBUFS`); re-arm then.
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// use std::os::unix::net::UnixStream;
/// use iobuf_pool::BufferPool;
/// use iobuf_uring::{BufRing, Completion, Ring, ops::RecvMulti};
///
/// # match iobuf_uring::probe() { Ok(f) if f.recv_multishot => {}, _ => return Ok(()) }
/// let pool = BufferPool::builder(4096).capacity(8).build()?;
/// let mut ring = Ring::<iobuf_pool::Buf>::new(8)?;
/// let bufs = (0..8).map(|_| pool.try_get()).collect::<Result<Vec<_>, _>>()?;
/// let group = ring.add_buf_ring(BufRing::new(3, bufs))?;
/// let (mut tx, rx) = UnixStream::pair()?;
/// ring.push(RecvMulti::new(&rx, group))?;
/// tx.write_all(b"one")?;
/// let Completion::Selected { result, more, .. } = ring.wait()? else { unreachable!() };
/// assert_eq!(&*result?.unwrap(), b"one");
/// assert!(more, "still armed");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RecvMulti {
    fd: RawFd,
    group: u16,
    flags: i32,
}

impl RecvMulti {
    /// Arms a multishot receive on the socket `fd` with buffers from `group`.
    ///
    /// # Examples
    ///
    /// ```
    /// # match iobuf_uring::probe() { Ok(f) if f.buf_ring => {}, _ => return Ok(()) }
    /// # let pool = iobuf_pool::BufferPool::builder(4096).capacity(1).build()?;
    /// # let mut ring = iobuf_uring::Ring::<iobuf_pool::Buf>::new(8)?;
    /// # let group = ring.add_buf_ring(iobuf_uring::BufRing::new(0, vec![pool.try_get()?]))?;
    /// let (socket, _peer) = std::os::unix::net::UnixStream::pair()?;
    /// ring.push(iobuf_uring::ops::RecvMulti::new(&socket, group))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(fd: &impl AsRawFd, group: BufGroup) -> Self {
        Self { fd: fd.as_raw_fd(), group: group.id(), flags: 0 }
    }

    /// `recv(2)` flags (`MSG_*`; not `MSG_WAITALL`).
    ///
    /// # Examples
    ///
    /// ```
    /// # match iobuf_uring::probe() { Ok(f) if f.buf_ring => {}, _ => return Ok(()) }
    /// # let pool = iobuf_pool::BufferPool::builder(4096).capacity(1).build()?;
    /// # let mut ring = iobuf_uring::Ring::<iobuf_pool::Buf>::new(8)?;
    /// # let group = ring.add_buf_ring(iobuf_uring::BufRing::new(0, vec![pool.try_get()?]))?;
    /// let (socket, _peer) = std::os::unix::net::UnixStream::pair()?;
    /// ring.push(iobuf_uring::ops::RecvMulti::new(&socket, group).flags(libc::MSG_DONTWAIT))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn flags(mut self, flags: i32) -> Self {
        self.flags = flags;
        self
    }
}

impl sealed::Sealed for RecvMulti {}

impl<B: IoBuf> Op<B> for RecvMulti {
    fn prepare(self, _: &Features) -> Prepared<B> {
        let entry =
            opcode::RecvMulti::new(types::Fd(self.fd), self.group).flags(self.flags).build();
        let kind = Kind::Select { group: self.group, multishot: true };
        Prepared { entry, pending: Pending { kind, payload: Payload::Nothing } }
    }
}

/// Multishot read (6.7) from a pipe or socket, each completion in a buffer of `group`.
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// use iobuf_pool::BufferPool;
/// use iobuf_uring::{BufRing, Completion, Ring, ops::ReadMulti};
///
/// # match iobuf_uring::probe() { Ok(f) if f.read_multishot => {}, _ => return Ok(()) }
/// let pool = BufferPool::builder(4096).capacity(4).build()?;
/// let mut ring = Ring::<iobuf_pool::Buf>::new(8)?;
/// let bufs = (0..4).map(|_| pool.try_get()).collect::<Result<Vec<_>, _>>()?;
/// let group = ring.add_buf_ring(BufRing::new(4, bufs))?;
/// let (reader, mut writer) = std::io::pipe()?;
/// ring.push(ReadMulti::new(&reader, group))?;
/// writer.write_all(b"first")?;
/// let Completion::Selected { result, .. } = ring.wait()? else { unreachable!() };
/// assert_eq!(&*result?.unwrap(), b"first");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ReadMulti {
    fd: RawFd,
    group: u16,
}

impl ReadMulti {
    /// Arms a multishot read on `fd` (a pipe or socket) with buffers from `group`.
    ///
    /// # Examples
    ///
    /// ```
    /// # match iobuf_uring::probe() { Ok(f) if f.buf_ring => {}, _ => return Ok(()) }
    /// # let pool = iobuf_pool::BufferPool::builder(4096).capacity(1).build()?;
    /// # let mut ring = iobuf_uring::Ring::<iobuf_pool::Buf>::new(8)?;
    /// # let group = ring.add_buf_ring(iobuf_uring::BufRing::new(0, vec![pool.try_get()?]))?;
    /// let (reader, _writer) = std::io::pipe()?;
    /// ring.push(iobuf_uring::ops::ReadMulti::new(&reader, group))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(fd: &impl AsRawFd, group: BufGroup) -> Self {
        Self { fd: fd.as_raw_fd(), group: group.id() }
    }
}

impl sealed::Sealed for ReadMulti {}

impl<B: IoBuf> Op<B> for ReadMulti {
    fn prepare(self, _: &Features) -> Prepared<B> {
        let entry = opcode::ReadMulti::new(types::Fd(self.fd), 0, self.group).build();
        let kind = Kind::Select { group: self.group, multishot: true };
        Prepared { entry, pending: Pending { kind, payload: Payload::Nothing } }
    }
}
