//! What the running kernel supports, found by asking it.
//!
//! Opcodes come from `IORING_REGISTER_PROBE`; everything else (sparse tables, buffer rings and
//! their incremental mode, multishot recv, clone, sync cancel) from trying it on a scratch ring.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU32, Ordering};

use io_uring::{IoUring, opcode, types};

use crate::{Unavailable, UringError, bufring, sys};

/// The io_uring facilities this crate uses, and whether the running kernel has each.
///
/// # Examples
///
/// ```
/// match iobuf_uring::probe() {
///     Ok(features) => println!("{features}"),
///     Err(err) => println!("no io_uring here: {err}"),
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Features {
    /// `IORING_REGISTER_BUFFERS` with `ReadFixed`/`WriteFixed` (5.1).
    pub register_buffers: bool,
    /// A sparse registered-buffer table grown with `IORING_REGISTER_BUFFERS_UPDATE` (5.13):
    /// what [`Ring::register`](crate::Ring::register) needs.
    pub sparse_buffers: bool,
    /// Provided buffer rings, `IORING_REGISTER_PBUF_RING` (5.19).
    pub buf_ring: bool,
    /// Incremental consumption of provided buffers, `IOU_PBUF_RING_INC` (6.12).
    pub buf_ring_incremental: bool,
    /// `IORING_OP_SEND_ZC`, zero-copy send, with fixed buffers (6.0).
    pub send_zc: bool,
    /// Multishot `recv` with buffer select (6.0).
    pub recv_multishot: bool,
    /// `IORING_OP_READ_MULTISHOT` (6.7).
    pub read_multishot: bool,
    /// `IORING_OP_READV_FIXED` and `WRITEV_FIXED` (6.15).
    pub readv_fixed: bool,
    /// Cloning a registered-buffer table into another ring, `IORING_REGISTER_CLONE_BUFFERS`
    /// (6.12).
    pub clone_buffers: bool,
    /// Synchronous cancellation, `IORING_REGISTER_SYNC_CANCEL` (6.0).
    pub sync_cancel: bool,
    /// Waiting with a timeout, `IORING_FEAT_EXT_ARG` (5.11).
    pub ext_arg: bool,
}

impl Features {
    /// Every feature with its name and the kernel version that brought it.
    ///
    /// # Examples
    ///
    /// ```
    /// let features = iobuf_uring::Features::default();
    /// assert!(features.list().iter().all(|&(_, _, has)| !has));
    /// ```
    pub fn list(&self) -> [(&'static str, &'static str, bool); 11] {
        [
            ("register buffers", "5.1", self.register_buffers),
            ("sparse buffer table + update", "5.13", self.sparse_buffers),
            ("provided buffer ring", "5.19", self.buf_ring),
            ("incremental buffer ring", "6.12", self.buf_ring_incremental),
            ("send_zc", "6.0", self.send_zc),
            ("recv multishot", "6.0", self.recv_multishot),
            ("read multishot", "6.7", self.read_multishot),
            ("readv/writev fixed", "6.15", self.readv_fixed),
            ("clone buffers", "6.12", self.clone_buffers),
            ("sync cancel", "6.0", self.sync_cancel),
            ("wait with timeout (ext_arg)", "5.11", self.ext_arg),
        ]
    }
}

impl Features {
    fn to_bits(self) -> u32 {
        self.list().iter().enumerate().fold(0, |bits, (i, &(_, _, has))| bits | u32::from(has) << i)
    }

    fn from_bits(bits: u32) -> Self {
        let has = |i: u32| bits & (1 << i) != 0;
        Self {
            register_buffers: has(0),
            sparse_buffers: has(1),
            buf_ring: has(2),
            buf_ring_incremental: has(3),
            send_zc: has(4),
            recv_multishot: has(5),
            read_multishot: has(6),
            readv_fixed: has(7),
            clone_buffers: has(8),
            sync_cancel: has(9),
            ext_arg: has(10),
        }
    }
}

impl fmt::Display for Features {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, since, has) in self.list() {
            writeln!(f, "{:<30} {:<4} (Linux {since}+)", name, if has { "yes" } else { "no" })?;
        }
        Ok(())
    }
}

/// Probes the running kernel once per process and returns what it supports.
///
/// # Errors
///
/// [`UringError::Unavailable`] when io_uring cannot be set up at all (`ENOSYS`, `EPERM`,
/// `kernel.io_uring_disabled = 2`); [`UringError::Os`] when a scratch resource (a socket pair,
/// memory) cannot be had.
///
/// # Examples
///
/// ```
/// if let Ok(features) = iobuf_uring::probe() {
///     if !features.buf_ring {
///         println!("skipped: this kernel has no provided buffer rings (5.19+)");
///     }
/// }
/// ```
pub fn probe() -> Result<Features, UringError> {
    // One bit per feature plus PROBED. A plain atomic rather than a OnceLock: two threads that
    // probe at once find the same answer, and sanitizers see this synchronisation (std's is
    // not instrumented).
    static FEATURES: AtomicU32 = AtomicU32::new(0);
    const PROBED: u32 = 1 << 31;
    let cached = FEATURES.load(Ordering::Acquire);
    if cached & PROBED != 0 {
        return Ok(Features::from_bits(cached));
    }
    let features = probe_now()?;
    FEATURES.store(features.to_bits() | PROBED, Ordering::Release);
    Ok(features)
}

/// Sets up a ring, mapping set-up failures to [`Unavailable`].
///
/// Since Linux 6.13 the queues' own memory counts against `RLIMIT_MEMLOCK` too, so an `ENOMEM`
/// here is usually that limit: the soft limit is raised to the hard limit and set-up retried
/// once.
pub(crate) fn setup(builder: &io_uring::Builder, entries: u32) -> Result<IoUring, UringError> {
    let mut result = builder.build(entries);
    if result.as_ref().is_err_and(|err| err.raw_os_error() == Some(libc::ENOMEM))
        && crate::memlock::raise_soft_to_hard()
    {
        result = builder.build(entries);
    }
    result.map_err(|err| match err.raw_os_error() {
        Some(errno @ (libc::ENOSYS | libc::EPERM)) => {
            UringError::Unavailable(Unavailable::from_errno(errno))
        }
        _ => UringError::os("io_uring_setup", err),
    })
}

fn probe_now() -> Result<Features, UringError> {
    let ring = setup(&IoUring::builder(), 8)?;
    let submitter = ring.submitter();
    let mut opcodes = io_uring::Probe::new();
    // Before 5.6 there is no probe; the opcode features then stay false, which is right for
    // all of them (each is newer than the probe).
    let probed = submitter.register_probe(&mut opcodes).is_ok();
    let has = |code: u8| opcodes.is_supported(code);
    let mut features = Features {
        ext_arg: ring.params().is_feature_ext_arg(),
        register_buffers: !probed || has(opcode::ReadFixed::CODE),
        send_zc: probed && has(opcode::SendZc::CODE),
        read_multishot: probed && has(opcode::ReadMulti::CODE),
        readv_fixed: probed && has(opcode::ReadvFixed::CODE),
        ..Features::default()
    };
    features.sparse_buffers = submitter.register_buffers_sparse(1).is_ok();
    features.sync_cancel = match submitter.register_sync_cancel(None, types::CancelBuilder::any()) {
        Ok(()) => true,
        // No request matched: the opcode exists.
        Err(err) => err.raw_os_error() == Some(libc::ENOENT),
    };
    features.clone_buffers = features.sparse_buffers && clone_works(&ring);
    (features.buf_ring, features.buf_ring_incremental) = bufring::probe_support(&ring);
    features.recv_multishot = features.buf_ring && recv_multishot_works()?;
    Ok(features)
}

/// Clones `source`'s (sparse, one-slot) buffer table into a fresh ring.
fn clone_works(source: &IoUring) -> bool {
    use std::os::fd::AsRawFd;
    let Ok(target) = IoUring::new(2) else { return false };
    target.submitter().register_buffers_clone(source.as_raw_fd()).is_ok()
}

/// Issues one multishot recv on a socket with a byte waiting and a buffer group that does not
/// exist: a kernel with multishot recv fails it with `ENOBUFS` (no buffer to select), one
/// without rejects the multishot flag with `EINVAL`.
fn recv_multishot_works() -> Result<bool, UringError> {
    use std::os::fd::AsRawFd;
    let (ours, theirs) = sys::socket_pair().map_err(|e| UringError::os("socketpair", e))?;
    let mut stream = std::os::unix::net::UnixStream::from(theirs);
    io::Write::write_all(&mut stream, b"x").map_err(|e| UringError::os("write", e))?;
    let mut ring = setup(&IoUring::builder(), 2)?;
    const UNUSED_GROUP: u16 = 0xfffe;
    let entry = opcode::RecvMulti::new(types::Fd(ours.as_raw_fd()), UNUSED_GROUP).build();
    crate::ring::push_without_buffers(&mut ring, &entry)
        .map_err(|e| UringError::os("io_uring_enter", e))?;
    ring.submit_and_wait(1).map_err(|e| UringError::os("io_uring_enter", e))?;
    let Some(cqe) = ring.completion().next() else { return Ok(false) };
    Ok(cqe.result() != -libc::EINVAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_is_stable_and_consistent() {
        let Ok(first) = probe() else {
            eprintln!("skipped probe_is_stable_and_consistent: io_uring unavailable");
            return;
        };
        assert_eq!(probe().unwrap(), first);
        // Implications that hold on every kernel.
        assert!(!first.buf_ring_incremental || first.buf_ring);
        assert!(!first.readv_fixed || first.register_buffers);
        assert!(!first.clone_buffers || first.sparse_buffers);
        assert_eq!(Features::from_bits(first.to_bits()), first);
        let all_but_one = Features { send_zc: false, ..Features::from_bits(u32::MAX) };
        assert_eq!(Features::from_bits(all_but_one.to_bits()), all_but_one);
        let text = first.to_string();
        assert_eq!(text.lines().count(), 11, "{text}");
    }
}
