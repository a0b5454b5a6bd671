//! Thin wrappers over the Linux memory system calls, returning errno on failure.
//!
//! # Safety
//!
//! This module owns the mapping half of the memory gate. Each wrapper states what it needs; the
//! callers in `region` and `mirror` own the ranges they pass (they mapped them) and unmap each
//! range exactly once.
#![allow(unsafe_code)] // reason: the mmap half of the memory gate (see module docs).
#![allow(clippy::disallowed_methods)] // reason: iobuf-align is the one crate allowed to mmap.

use core::ptr::{self, NonNull};

use crate::error::last_errno;

/// Maps `len` bytes of fresh anonymous memory (or `fd` at offset 0 when `fd >= 0`) at an address
/// the kernel picks. `flags` are added to nothing: the caller names `MAP_PRIVATE`/`MAP_SHARED`.
pub(crate) fn map_new(len: usize, prot: i32, flags: i32, fd: i32) -> Result<NonNull<u8>, i32> {
    // SAFETY: a NULL hint without MAP_FIXED never replaces an existing mapping, so no memory
    // the program uses can be affected; the result is checked before use.
    let addr = unsafe { libc::mmap(ptr::null_mut(), len, prot, flags, fd, 0) };
    if addr == libc::MAP_FAILED {
        return Err(last_errno());
    }
    NonNull::new(addr.cast()).ok_or(libc::ENOMEM)
}

/// Maps `fd` (offset 0, `len` bytes, shared, read-write) exactly at `at`, replacing what is there.
///
/// # Safety
///
/// `at..at + len` must be a range the caller mapped itself and that nothing references.
pub(crate) unsafe fn map_fixed_shared(at: NonNull<u8>, len: usize, fd: i32) -> Result<(), i32> {
    let prot = libc::PROT_READ | libc::PROT_WRITE;
    let flags = libc::MAP_SHARED | libc::MAP_FIXED;
    // SAFETY: the caller owns the range, so replacing it cannot clobber anyone else's memory.
    let addr = unsafe { libc::mmap(at.as_ptr().cast(), len, prot, flags, fd, 0) };
    if addr == libc::MAP_FAILED { Err(last_errno()) } else { Ok(()) }
}

/// Unmaps `ptr..ptr + len`.
///
/// # Safety
///
/// The range must have been mapped by the caller, and nothing may use it afterwards.
pub(crate) unsafe fn unmap(ptr: NonNull<u8>, len: usize) {
    // SAFETY: per the contract the caller owns the range and no reference outlives this call.
    let rc = unsafe { libc::munmap(ptr.as_ptr().cast(), len) };
    // munmap only fails for a bad range, which the contract rules out.
    debug_assert_eq!(rc, 0, "munmap({ptr:p}, {len}) failed: errno {}", last_errno());
}

/// `madvise(ptr, len, advice)`.
///
/// # Safety
///
/// The range must be mapped by the caller, and `advice` must not discard or move data the
/// program still needs (this crate uses only `MADV_HUGEPAGE` and `MADV_POPULATE_WRITE`).
pub(crate) unsafe fn advise(ptr: NonNull<u8>, len: usize, advice: i32) -> Result<(), i32> {
    // SAFETY: per the contract the advice keeps every byte's content.
    let rc = unsafe { libc::madvise(ptr.as_ptr().cast(), len, advice) };
    if rc == 0 { Ok(()) } else { Err(last_errno()) }
}

/// `mlock(ptr, len)`: pins the pages in RAM (and faults them in).
///
/// # Safety
///
/// The range must be mapped by the caller.
pub(crate) unsafe fn lock(ptr: NonNull<u8>, len: usize) -> Result<(), i32> {
    // SAFETY: mlock changes residency only, never content.
    let rc = unsafe { libc::mlock(ptr.as_ptr().cast(), len) };
    if rc == 0 { Ok(()) } else { Err(last_errno()) }
}

/// An anonymous in-memory file of `len` bytes (`memfd_create` + `ftruncate`), close-on-exec.
pub(crate) fn memfd(len: usize) -> Result<OwnedFd, (&'static str, i32)> {
    let len = libc::off_t::try_from(len).map_err(|_| ("ftruncate", libc::EFBIG))?;
    // SAFETY: the name is a valid NUL-terminated string; the flags are plain bits.
    let fd = unsafe { libc::memfd_create(c"iobuf-mirror".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(("memfd_create", last_errno()));
    }
    let file = OwnedFd(fd);
    // SAFETY: fd is a descriptor this function just opened.
    if unsafe { libc::ftruncate(file.0, len) } != 0 {
        return Err(("ftruncate", last_errno()));
    }
    Ok(file)
}

/// A file descriptor closed on drop (no_std stand-in for `std::os::fd::OwnedFd`).
pub(crate) struct OwnedFd(pub(crate) i32);

impl Drop for OwnedFd {
    fn drop(&mut self) {
        // SAFETY: the descriptor is owned by this value and closed exactly once.
        unsafe { libc::close(self.0) };
    }
}
