//! Anonymous mmap regions: normal pages, transparent huge pages, explicit huge pages.
//!
//! # Safety
//!
//! This module owns the obligation that a [`Region`]'s mapping is created here, never handed
//! out for unmapping, and unmapped exactly once on drop; `Deref` relies on it.
#![allow(unsafe_code)] // reason: turning the owned mapping into slices (see module docs).

use core::fmt;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;

use crate::{AlignError, StableMemory, page_size, sys};

const MIB: usize = 1 << 20;
const GIB: usize = 1 << 30;

/// What backs a [`Region`]: asked for in [`RegionOptions::page`], reported by
/// [`Region::page_kind`].
///
/// # Examples
///
/// ```
/// use iobuf_align::PageKind;
/// assert_eq!(PageKind::Huge2M.page_size(), 2 << 20);
/// assert_eq!(PageKind::Normal.page_size(), iobuf_align::page_size());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PageKind {
    /// The OS page size.
    Normal,
    /// Transparent huge pages: a 2 MiB-aligned mapping advised with `MADV_HUGEPAGE`. The kernel
    /// backs it with 2 MiB pages when it can find them, page by page; it may use small pages.
    TransparentHuge,
    /// Explicit 2 MiB pages from the hugetlb pool (`MAP_HUGETLB | MAP_HUGE_2MB`).
    Huge2M,
    /// Explicit 1 GiB pages from the hugetlb pool (`MAP_HUGETLB | MAP_HUGE_1GB`).
    Huge1G,
}

impl PageKind {
    /// The page size of this kind in bytes (2 MiB for transparent huge pages).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(iobuf_align::PageKind::Huge1G.page_size(), 1 << 30);
    /// ```
    pub fn page_size(self) -> usize {
        match self {
            Self::Normal => page_size(),
            Self::TransparentHuge | Self::Huge2M => 2 * MIB,
            Self::Huge1G => GIB,
        }
    }
}

/// Whether to `mlock` a [`Region`] so its pages stay in RAM.
///
/// # Examples
///
/// ```
/// use iobuf_align::{Lock, RegionOptions};
/// let options = RegionOptions::new().lock(Lock::BestEffort);
/// assert_eq!(options.locking(), Lock::BestEffort);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lock {
    /// Do not lock.
    #[default]
    No,
    /// Try to lock; on failure (`RLIMIT_MEMLOCK`, say) keep the region unlocked and report it in
    /// [`Region::is_locked`].
    BestEffort,
    /// Lock or fail with [`AlignError::Os`] naming `mlock` and its errno.
    Required,
}

/// How to map a [`Region`]. Built by chaining; the default is normal pages, no fallback, no
/// populate, no lock.
///
/// # Examples
///
/// ```
/// use iobuf_align::{Lock, PageKind, RegionOptions};
///
/// let options = RegionOptions::new()
///     .page(PageKind::Huge2M)
///     .allow_fallback(true)
///     .populate(true)
///     .lock(Lock::BestEffort);
/// assert_eq!(options.page_kind(), PageKind::Huge2M);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RegionOptions {
    page: PageKind,
    allow_fallback: bool,
    populate: bool,
    lock: Lock,
}

impl Default for RegionOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl RegionOptions {
    /// Normal pages, no fallback, no populate, no lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = iobuf_align::RegionOptions::new();
    /// assert_eq!(options.page_kind(), iobuf_align::PageKind::Normal);
    /// ```
    pub const fn new() -> Self {
        Self { page: PageKind::Normal, allow_fallback: false, populate: false, lock: Lock::No }
    }

    /// The page kind to ask for.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_align::{PageKind, RegionOptions};
    /// assert_eq!(RegionOptions::new().page(PageKind::Huge1G).page_kind(), PageKind::Huge1G);
    /// ```
    #[must_use]
    pub const fn page(mut self, page: PageKind) -> Self {
        self.page = page;
        self
    }

    /// When the huge pages asked for cannot be had, step down (1 GiB → 2 MiB → transparent →
    /// normal) instead of failing. [`Region::page_kind`] reports what was obtained.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(iobuf_align::RegionOptions::new().allow_fallback(true).fallback_allowed());
    /// ```
    #[must_use]
    pub const fn allow_fallback(mut self, allow: bool) -> Self {
        self.allow_fallback = allow;
        self
    }

    /// Fault every page in at mapping time, so the first I/O does not pay for it.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(iobuf_align::RegionOptions::new().populate(true).populates());
    /// ```
    #[must_use]
    pub const fn populate(mut self, populate: bool) -> Self {
        self.populate = populate;
        self
    }

    /// Whether to `mlock` the region.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_align::{Lock, RegionOptions};
    /// assert_eq!(RegionOptions::new().lock(Lock::Required).locking(), Lock::Required);
    /// ```
    #[must_use]
    pub const fn lock(mut self, lock: Lock) -> Self {
        self.lock = lock;
        self
    }

    /// The page kind asked for.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(iobuf_align::RegionOptions::new().page_kind(), iobuf_align::PageKind::Normal);
    /// ```
    pub const fn page_kind(&self) -> PageKind {
        self.page
    }

    /// Whether fallback to smaller pages is allowed.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!iobuf_align::RegionOptions::new().fallback_allowed());
    /// ```
    pub const fn fallback_allowed(&self) -> bool {
        self.allow_fallback
    }

    /// Whether pages are faulted in at mapping time.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!iobuf_align::RegionOptions::new().populates());
    /// ```
    pub const fn populates(&self) -> bool {
        self.populate
    }

    /// The locking asked for.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(iobuf_align::RegionOptions::new().locking(), iobuf_align::Lock::No);
    /// ```
    pub const fn locking(&self) -> Lock {
        self.lock
    }
}

/// An anonymous, zero-filled, read-write memory mapping, unmapped on drop.
///
/// Its length is the requested length rounded up to the page size actually obtained. It reports
/// what it got: the page kind (after any fallback) and whether it is locked.
///
/// # Examples
///
/// ```
/// use iobuf_align::{Lock, PageKind, Region, RegionOptions};
///
/// let options = RegionOptions::new()
///     .page(PageKind::Huge2M)
///     .allow_fallback(true)
///     .lock(Lock::BestEffort);
/// let mut region = Region::map(3 << 20, options)?;
/// println!("got {:?} pages, locked: {}", region.page_kind(), region.is_locked());
/// assert!(region.len() >= 3 << 20);
/// assert_eq!(region.len() % region.page_kind().page_size(), 0);
/// region[0] = 7;
/// # Ok::<(), iobuf_align::AlignError>(())
/// ```
pub struct Region {
    ptr: NonNull<u8>,
    len: usize,
    kind: PageKind,
    locked: bool,
}

// SAFETY: the region is uniquely owned memory; moving it moves ownership of plain bytes.
unsafe impl Send for Region {}
// SAFETY: shared references only hand out `&[u8]`; mutation needs `&mut self`.
unsafe impl Sync for Region {}

impl Region {
    /// Maps at least `len` bytes with `options`.
    ///
    /// # Errors
    ///
    /// [`AlignError::ZeroSize`]; [`AlignError::SizeOverflow`] when `len` rounded up to the page
    /// size overflows; [`AlignError::HugePagesUnavailable`] when huge pages were asked for
    /// without fallback and could not be had; [`AlignError::OutOfMemory`] when `mmap` reports
    /// `ENOMEM` for normal pages; [`AlignError::Os`] for other `mmap` or `mlock` failures.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_align::{AlignError, Region, RegionOptions};
    /// assert_eq!(Region::map(0, RegionOptions::new()).unwrap_err(), AlignError::ZeroSize);
    /// ```
    pub fn map(len: usize, options: RegionOptions) -> Result<Self, AlignError> {
        if len == 0 {
            return Err(AlignError::ZeroSize);
        }
        let mut kind = options.page;
        let mut region = loop {
            match Self::map_kind(len, kind, options.populate) {
                Ok(region) => break region,
                Err(err @ AlignError::HugePagesUnavailable { .. }) => {
                    kind = match (options.allow_fallback, kind) {
                        (true, PageKind::Huge1G) => PageKind::Huge2M,
                        (true, PageKind::Huge2M) => PageKind::TransparentHuge,
                        (true, PageKind::TransparentHuge) => PageKind::Normal,
                        _ => return Err(err),
                    };
                }
                Err(err) => return Err(err),
            }
        };
        match options.lock {
            Lock::No => {}
            Lock::BestEffort => {
                // SAFETY: the range is the region's own mapping.
                region.locked = unsafe { sys::lock(region.ptr, region.len) }.is_ok();
            }
            Lock::Required => {
                // SAFETY: the range is the region's own mapping.
                unsafe { sys::lock(region.ptr, region.len) }
                    .map_err(|errno| AlignError::Os { call: "mlock", errno })?;
                region.locked = true;
            }
        }
        Ok(region)
    }

    /// Maps `len` bytes of normal pages (no populate, no lock).
    ///
    /// # Errors
    ///
    /// As [`map`](Self::map).
    ///
    /// # Examples
    ///
    /// ```
    /// let region = iobuf_align::Region::new(100)?;
    /// assert_eq!(region.len(), iobuf_align::page_size());
    /// # Ok::<(), iobuf_align::AlignError>(())
    /// ```
    pub fn new(len: usize) -> Result<Self, AlignError> {
        Self::map(len, RegionOptions::new())
    }

    /// One attempt at one page kind, no fallback, no lock.
    fn map_kind(len: usize, kind: PageKind, populate: bool) -> Result<Self, AlignError> {
        let page = kind.page_size();
        let len = len.checked_next_multiple_of(page).ok_or(AlignError::SizeOverflow)?;
        if len > isize::MAX as usize {
            return Err(AlignError::SizeOverflow);
        }
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        let private = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
        let populate_flag = if populate { libc::MAP_POPULATE } else { 0 };
        match kind {
            PageKind::Normal => {
                let ptr =
                    sys::map_new(len, prot, private | populate_flag, -1).map_err(|errno| {
                        if errno == libc::ENOMEM {
                            AlignError::OutOfMemory { size: len }
                        } else {
                            AlignError::Os { call: "mmap", errno }
                        }
                    })?;
                Ok(Self { ptr, len, kind, locked: false })
            }
            PageKind::Huge2M | PageKind::Huge1G => {
                let size_flag =
                    if kind == PageKind::Huge2M { libc::MAP_HUGE_2MB } else { libc::MAP_HUGE_1GB };
                let flags = private | libc::MAP_HUGETLB | size_flag | populate_flag;
                // hugetlb reserves the pages at mmap time, so an empty pool fails right here
                // instead of with SIGBUS on first touch.
                let ptr = sys::map_new(len, prot, flags, -1)
                    .map_err(|errno| AlignError::HugePagesUnavailable { page_size: page, errno })?;
                Ok(Self { ptr, len, kind, locked: false })
            }
            PageKind::TransparentHuge => Self::map_transparent(len, populate),
        }
    }

    /// A 2 MiB-aligned mapping advised `MADV_HUGEPAGE`, populated after the advice so the
    /// faults can take huge pages.
    fn map_transparent(len: usize, populate: bool) -> Result<Self, AlignError> {
        let huge = PageKind::TransparentHuge.page_size();
        if !transparent_huge_pages_enabled() {
            return Err(AlignError::HugePagesUnavailable { page_size: huge, errno: 0 });
        }
        // Over-map by one huge page, then trim both ends so the start is 2 MiB aligned.
        let padded = len.checked_add(huge).ok_or(AlignError::SizeOverflow)?;
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        let raw = sys::map_new(padded, prot, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1)
            .map_err(|errno| AlignError::Os { call: "mmap", errno })?;
        let head = (huge - raw.as_ptr() as usize % huge) % huge;
        let ptr = raw.map_addr(|addr| addr.saturating_add(head));
        let tail = padded - head - len;
        if head > 0 {
            // SAFETY: raw..raw+head is the unused front of the mapping just made.
            unsafe { sys::unmap(raw, head) };
        }
        if tail > 0 {
            // SAFETY: the unused back of the mapping just made.
            unsafe { sys::unmap(ptr.map_addr(|addr| addr.saturating_add(len)), tail) };
        }
        let region = Self { ptr, len, kind: PageKind::TransparentHuge, locked: false };
        // SAFETY: the region's own fresh mapping; MADV_HUGEPAGE keeps content.
        if let Err(errno) = unsafe { sys::advise(ptr, len, libc::MADV_HUGEPAGE) } {
            // EINVAL: kernel without THP. `region` unmaps itself on return.
            return Err(AlignError::HugePagesUnavailable { page_size: huge, errno });
        }
        if populate {
            region.populate_writable();
        }
        Ok(region)
    }

    /// Faults every page in: `MADV_POPULATE_WRITE` (Linux 5.14+), else one write per page.
    fn populate_writable(&self) {
        // SAFETY: the region's own mapping; POPULATE_WRITE only faults pages in.
        if unsafe { sys::advise(self.ptr, self.len, libc::MADV_POPULATE_WRITE) }.is_ok() {
            return;
        }
        for offset in (0..self.len).step_by(page_size()) {
            let page = self.ptr.as_ptr().wrapping_add(offset);
            // SAFETY: offset < len, so `page` is inside the mapping; writing the zero already
            // there keeps the content and faults the page in writable. Volatile so it stays.
            unsafe { page.write_volatile(0) };
        }
    }

    /// The page kind actually backing the region, after any fallback.
    ///
    /// # Examples
    ///
    /// ```
    /// let region = iobuf_align::Region::new(1)?;
    /// assert_eq!(region.page_kind(), iobuf_align::PageKind::Normal);
    /// # Ok::<(), iobuf_align::AlignError>(())
    /// ```
    pub fn page_kind(&self) -> PageKind {
        self.kind
    }

    /// The size of the pages backing the region (of [`page_kind`](Self::page_kind)).
    ///
    /// # Examples
    ///
    /// ```
    /// let region = iobuf_align::Region::new(1)?;
    /// assert_eq!(region.page_size(), iobuf_align::page_size());
    /// # Ok::<(), iobuf_align::AlignError>(())
    /// ```
    pub fn page_size(&self) -> usize {
        self.kind.page_size()
    }

    /// Whether the region is locked in RAM.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!iobuf_align::Region::new(1)?.is_locked());
    /// # Ok::<(), iobuf_align::AlignError>(())
    /// ```
    pub fn is_locked(&self) -> bool {
        self.locked
    }

    /// The first byte. Valid until the region is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut region = iobuf_align::Region::new(1)?;
    /// assert_eq!(region.as_mut_ptr() as usize % iobuf_align::page_size(), 0);
    /// # Ok::<(), iobuf_align::AlignError>(())
    /// ```
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }
}

/// Whether transparent huge pages can be had with `madvise` (sysfs says `always` or `madvise`).
#[cfg(feature = "std")]
fn transparent_huge_pages_enabled() -> bool {
    match std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled") {
        Ok(setting) => !setting.contains("[never]"),
        // No sysfs entry: let madvise decide.
        Err(_) => true,
    }
}

/// Without std the madvise result alone decides.
#[cfg(not(feature = "std"))]
fn transparent_huge_pages_enabled() -> bool {
    true
}

impl Deref for Region {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: ptr..ptr+len is this region's readable, zero-initialised mapping for as long
        // as self lives.
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for Region {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in deref; `&mut self` makes this the only reference.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

// SAFETY: the mapping is owned until drop, never remapped, and reachable only through self.
unsafe impl StableMemory for Region {
    fn base(&self) -> NonNull<u8> {
        self.ptr
    }

    fn len(&self) -> usize {
        self.len
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: the mapping was made by `map_kind`/`map_transparent` and is unmapped once.
        unsafe { sys::unmap(self.ptr, self.len) }
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Region")
            .field("ptr", &self.ptr)
            .field("len", &self.len)
            .field("kind", &self.kind)
            .field("locked", &self.locked)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static_assertions::assert_impl_all!(Region: Send, Sync, StableMemory);
    static_assertions::assert_not_impl_any!(Region: Clone, Copy);

    #[test]
    fn transparent_region_is_2mib_aligned_or_reported_unavailable() {
        match Region::map(1, RegionOptions::new().page(PageKind::TransparentHuge)) {
            Ok(region) => {
                assert_eq!(region.base().as_ptr() as usize % (2 * MIB), 0);
                assert_eq!(region.len(), 2 * MIB);
                assert_eq!(region.page_kind(), PageKind::TransparentHuge);
            }
            Err(err) => assert!(
                matches!(err, AlignError::HugePagesUnavailable { page_size, .. } if page_size == 2 * MIB),
                "{err:?}"
            ),
        }
    }
}
