//! Thin, safe wrappers over the few libc calls the crate makes outside io-uring.
//!
//! # Safety
//!
//! This module owns the obligation that every libc call here is passed pointers to live,
//! correctly sized values of this stack frame and nothing else; each wrapper is safe to call
//! with any arguments.
#![allow(unsafe_code)] // reason: libc system calls (see module docs).

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// `getrlimit(RLIMIT_MEMLOCK)`: (soft, hard), `RLIM_INFINITY` as is.
pub(crate) fn memlock_rlimit() -> io::Result<(libc::rlim_t, libc::rlim_t)> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes one rlimit into the live local passed by pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((limit.rlim_cur, limit.rlim_max))
}

/// `setrlimit(RLIMIT_MEMLOCK)` with the given soft and hard limits.
pub(crate) fn set_memlock_rlimit(soft: libc::rlim_t, hard: libc::rlim_t) -> io::Result<()> {
    let limit = libc::rlimit { rlim_cur: soft, rlim_max: hard };
    // SAFETY: setrlimit reads one rlimit from the live local passed by pointer.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A connected `AF_UNIX` stream socket pair (close-on-exec).
pub(crate) fn socket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    let kind = libc::SOCK_STREAM | libc::SOCK_CLOEXEC;
    // SAFETY: socketpair writes two descriptors into the live two-element array.
    if unsafe { libc::socketpair(libc::AF_UNIX, kind, 0, fds.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created by socketpair and are owned by no one else.
    let first = unsafe { OwnedFd::from_raw_fd(fds[0]) };
    // SAFETY: as above.
    let second = unsafe { OwnedFd::from_raw_fd(fds[1]) };
    Ok((first, second))
}
