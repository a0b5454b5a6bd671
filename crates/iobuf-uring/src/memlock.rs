//! `RLIMIT_MEMLOCK` accounting for registered buffers.
//!
//! The kernel charges the pages a registration pins against the user's `RLIMIT_MEMLOCK`, summed
//! over all of the user's rings, unless the process has `CAP_IPC_LOCK`; per page touched (an
//! unaligned 4 KiB buffer costs two pages), a huge page once. Over the limit, registration fails
//! with a bare `ENOMEM` — the most common io_uring support question there is. So before
//! registering, [`charge`] computes the bytes to pin, compares them with the limit, raises the
//! soft limit to the hard limit when that makes them fit, and otherwise returns
//! [`UringError::Memlock`] naming the bytes needed and the limit.

use std::collections::BTreeSet;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::{Span, UringError, sys};

/// Bytes this process has pinned through iobuf-uring registrations that are still alive.
static PINNED: AtomicUsize = AtomicUsize::new(0);

/// The process's `RLIMIT_MEMLOCK`; `None` means unlimited.
///
/// # Examples
///
/// ```
/// let limit = iobuf_uring::MemlockLimit::current()?;
/// if let (Some(soft), Some(hard)) = (limit.soft, limit.hard) {
///     assert!(soft <= hard);
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemlockLimit {
    /// The soft limit in bytes, the one the kernel enforces.
    pub soft: Option<u64>,
    /// The hard limit in bytes: how far an unprivileged process may raise the soft limit.
    pub hard: Option<u64>,
}

impl MemlockLimit {
    /// Reads the limit with `getrlimit`.
    ///
    /// # Errors
    ///
    /// The error of `getrlimit` (in practice none).
    ///
    /// # Examples
    ///
    /// ```
    /// println!("{:?}", iobuf_uring::MemlockLimit::current()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn current() -> io::Result<Self> {
        let (soft, hard) = sys::memlock_rlimit()?;
        let bytes = |value: libc::rlim_t| (value != libc::RLIM_INFINITY).then_some(value);
        Ok(Self { soft: bytes(soft), hard: bytes(hard) })
    }
}

/// Whether the kernel skips memlock accounting for this process: it has `CAP_IPC_LOCK` in its
/// effective set (root usually does).
///
/// # Examples
///
/// ```
/// if iobuf_uring::exempt_from_memlock() {
///     println!("registrations are not charged against RLIMIT_MEMLOCK here");
/// }
/// ```
pub fn exempt_from_memlock() -> bool {
    const CAP_IPC_LOCK: u32 = 14;
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else { return false };
    status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_IPC_LOCK) != 0)
}

/// Bytes this process currently has pinned through iobuf-uring registrations (summed over its
/// rings; dropped when the rings are).
///
/// # Examples
///
/// ```
/// let before = iobuf_uring::pinned_by_this_process();
/// # let _ = before;
/// ```
pub fn pinned_by_this_process() -> usize {
    PINNED.load(Ordering::Relaxed)
}

/// Bytes the kernel charges for registering `chunks`, one registered buffer each: every chunk
/// is rounded out to whole pages on its own (pages shared by two chunks are charged twice, as
/// the kernel does), except that a huge page is charged once however many chunks touch it.
///
/// # Examples
///
/// ```
/// use std::ptr::NonNull;
/// use iobuf_uring::{Span, pinned_bytes};
///
/// let page = 4096;
/// let at = |address: usize, len: usize| {
///     Span::new(NonNull::new(address as *mut u8).unwrap(), len, page)
/// };
/// // A page-aligned 8 KiB chunk pins two pages; 4 KiB straddling a boundary pins two too.
/// assert_eq!(pinned_bytes(&[at(0x10000, 8192)]), 8192);
/// assert_eq!(pinned_bytes(&[at(0x10800, 4096)]), 8192);
/// ```
pub fn pinned_bytes(chunks: &[Span]) -> usize {
    let os_page = iobuf_align::page_size();
    let mut huge_pages = BTreeSet::new();
    let mut bytes = 0usize;
    for chunk in chunks.iter().filter(|c| c.len() > 0) {
        let page = chunk.page_size().max(os_page);
        let first = chunk.start() / page;
        let last = (chunk.end() - 1) / page;
        if page == os_page {
            bytes = bytes.saturating_add((last - first + 1) * page);
        } else {
            huge_pages.extend((first..=last).map(|index| (page, index)));
        }
    }
    huge_pages.iter().fold(bytes, |sum, (page, _)| sum.saturating_add(*page))
}

/// A charge of pinned bytes against the process-wide count, released on drop (when the ring
/// holding the registration goes).
#[derive(Debug)]
pub(crate) struct PinCharge {
    bytes: usize,
    counter: &'static AtomicUsize,
}

impl Drop for PinCharge {
    fn drop(&mut self) {
        self.counter.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// Checks that `needed` more pinned bytes fit under `RLIMIT_MEMLOCK` with what this process has
/// already pinned, raising the soft limit to the hard limit when they do not.
///
/// The check is advisory: the kernel also counts other processes of the same user and, since
/// Linux 6.13, the rings' own queue memory. That is why the soft limit goes all the way to the
/// hard limit rather than to exactly what this registration needs, and why an `ENOMEM` from the
/// registration itself is still mapped to [`UringError::Memlock`] by the caller.
pub(crate) fn charge(needed: usize) -> Result<PinCharge, UringError> {
    charge_against(&PINNED, needed)
}

/// [`charge`] against a given counter (tests use their own).
fn charge_against(counter: &'static AtomicUsize, needed: usize) -> Result<PinCharge, UringError> {
    let already = counter.fetch_add(needed, Ordering::Relaxed);
    let charge = PinCharge { bytes: needed, counter };
    if needed == 0 || exempt_from_memlock() {
        return Ok(charge);
    }
    let limit = MemlockLimit::current().map_err(|e| UringError::os("getrlimit", e))?;
    let Some(soft) = limit.soft else { return Ok(charge) };
    let total = (already as u64).saturating_add(needed as u64);
    if total <= soft {
        return Ok(charge);
    }
    let refuse = |limit: u64| UringError::Memlock { needed, limit, already_pinned: already };
    match limit.hard {
        Some(hard) if hard < total => Err(refuse(hard)),
        hard => {
            let hard = hard.unwrap_or(libc::RLIM_INFINITY);
            sys::set_memlock_rlimit(hard, hard).map_err(|_| refuse(soft))?;
            Ok(charge)
        }
    }
}

/// Raises the soft `RLIMIT_MEMLOCK` to the hard limit; whether that changed anything.
pub(crate) fn raise_soft_to_hard() -> bool {
    match sys::memlock_rlimit() {
        Ok((soft, hard)) if soft != hard => sys::set_memlock_rlimit(hard, hard).is_ok(),
        _ => false,
    }
}

/// The error for an `ENOMEM` from the kernel's own memlock check.
pub(crate) fn refused_by_kernel(needed: usize) -> UringError {
    let soft = MemlockLimit::current().ok().and_then(|l| l.soft).unwrap_or(u64::MAX);
    UringError::Memlock {
        needed,
        limit: soft,
        already_pinned: pinned_by_this_process().saturating_sub(needed),
    }
}

#[cfg(test)]
mod tests {
    use std::ptr::NonNull;

    use super::*;

    fn span(address: usize, len: usize, page: usize) -> Span {
        Span::new(NonNull::new(address as *mut u8).unwrap(), len, page)
    }

    #[test]
    fn normal_pages_round_out_per_chunk() {
        let page = iobuf_align::page_size();
        assert_eq!(pinned_bytes(&[span(page, page, page)]), page);
        assert_eq!(pinned_bytes(&[span(page + 1, page, page)]), 2 * page);
        // Two chunks sharing one page: charged twice.
        assert_eq!(pinned_bytes(&[span(page, 100, page), span(page + 100, 100, page)]), 2 * page);
        assert_eq!(pinned_bytes(&[]), 0);
    }

    #[test]
    fn huge_pages_are_charged_once() {
        let huge = 2 << 20;
        // Two chunks inside huge page 1: charged once.
        let shared = [span(huge, 4096, huge), span(huge + 8192, 4096, huge)];
        assert_eq!(pinned_bytes(&shared), huge);
        // Plus two bytes straddling pages 2 and 3, and a chunk inside page 3 again.
        let more = [shared[0], shared[1], span(3 * huge - 1, 2, huge), span(3 * huge, 10, huge)];
        assert_eq!(pinned_bytes(&more), 3 * huge);
    }

    #[test]
    fn charge_is_counted_until_dropped() {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        // 4 KiB fits under any limit a test runs with (and root is exempt anyway).
        let first = charge_against(&COUNTER, 4096).unwrap();
        let second = charge_against(&COUNTER, 8192).unwrap();
        assert_eq!(COUNTER.load(Ordering::Relaxed), 12288);
        drop(first);
        assert_eq!(COUNTER.load(Ordering::Relaxed), 8192);
        drop(second);
        assert_eq!(COUNTER.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_refused_charge_is_not_counted() {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        if exempt_from_memlock() || MemlockLimit::current().unwrap().hard.is_none() {
            eprintln!(
                "skipped a_refused_charge_is_not_counted: no finite hard limit applies \
                 (CAP_IPC_LOCK or RLIMIT_MEMLOCK unlimited); the memlock child test covers it"
            );
            return;
        }
        let err = charge_against(&COUNTER, usize::MAX / 2).unwrap_err();
        assert!(matches!(err, UringError::Memlock { .. }), "{err:?}");
        assert_eq!(COUNTER.load(Ordering::Relaxed), 0);
    }
}
