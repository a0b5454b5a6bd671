//! Machine constants: the cache-line size per architecture and the OS page size.

use core::sync::atomic::{AtomicUsize, Ordering};

/// The cache-line size of the target architecture, in bytes.
///
/// 64 on x86_64, 128 on aarch64 (Apple and Neoverse cores fetch in 128-byte pairs), 64 elsewhere.
/// Use it for the *alignment of data* (buffers at least this aligned never share a line). To pad
/// hot atomics apart, use [`CachePadded`](crate::CachePadded), which pads to 128 on x86_64
/// because the adjacent-line prefetcher pulls lines in pairs.
///
/// # Examples
///
/// ```
/// assert!(iobuf_align::CACHE_LINE_SIZE.is_power_of_two());
/// # #[cfg(target_arch = "x86_64")]
/// assert_eq!(iobuf_align::CACHE_LINE_SIZE, 64);
/// ```
pub const CACHE_LINE_SIZE: usize = if cfg!(target_arch = "aarch64") { 128 } else { 64 };

/// 0 until the first call of [`page_size`] reads it from the OS.
static PAGE_SIZE: AtomicUsize = AtomicUsize::new(0);

/// The OS page size in bytes, read with `sysconf(_SC_PAGESIZE)` on the first call and cached.
///
/// On targets without `sysconf` it is 4096. Always a power of two.
///
/// # Examples
///
/// ```
/// let page = iobuf_align::page_size();
/// assert!(page.is_power_of_two() && page >= 4096);
/// ```
pub fn page_size() -> usize {
    match PAGE_SIZE.load(Ordering::Relaxed) {
        0 => {
            let size = os_page_size();
            // Racing first calls store the same value; Relaxed is enough for a constant.
            PAGE_SIZE.store(size, Ordering::Relaxed);
            size
        }
        size => size,
    }
}

#[cfg(unix)]
#[allow(unsafe_code)] // reason: one FFI call with no pointer arguments.
fn os_page_size() -> usize {
    // SAFETY: sysconf takes an integer name and touches no caller memory.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    match usize::try_from(size) {
        Ok(size) if size.is_power_of_two() => size,
        // sysconf cannot fail for _SC_PAGESIZE on Linux; keep a sane value if an OS disagrees.
        _ => 4096,
    }
}

#[cfg(not(unix))]
fn os_page_size() -> usize {
    4096
}

#[cfg(test)]
mod tests {
    use super::*;

    static_assertions::const_assert!(CACHE_LINE_SIZE.is_power_of_two());
    static_assertions::const_assert!(CACHE_LINE_SIZE >= 32);

    #[test]
    fn page_size_is_cached_and_matches_the_os() {
        let first = page_size();
        assert_eq!(first, os_page_size());
        assert_eq!(page_size(), first);
        assert_eq!(PAGE_SIZE.load(Ordering::Relaxed), first);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn cache_padded_pads_to_two_lines_on_x86_64() {
        assert_eq!(core::mem::align_of::<crate::CachePadded<u64>>(), 2 * CACHE_LINE_SIZE);
    }
}
