//! The one error type of iobuf-align.

use core::fmt;

/// Why a block, region or carving could not be made.
///
/// Every constructor in this crate returns it instead of panicking on bad input.
///
/// # Examples
///
/// ```
/// use iobuf_align::{AlignError, AlignedBlock};
///
/// assert_eq!(AlignedBlock::new(0, 8).unwrap_err(), AlignError::ZeroSize);
/// assert_eq!(
///     AlignedBlock::new(64, 24).unwrap_err(),
///     AlignError::AlignmentNotPowerOfTwo { align: 24 },
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AlignError {
    /// A size or a count of zero was asked for.
    ZeroSize,
    /// The alignment is zero or not a power of two.
    AlignmentNotPowerOfTwo {
        /// The alignment that was asked for.
        align: usize,
    },
    /// The size, rounded up to the alignment or page size, or multiplied by a count, does not fit
    /// the address space (`isize::MAX`).
    SizeOverflow,
    /// The allocator or the kernel had no memory for the request.
    OutOfMemory {
        /// Bytes asked for.
        size: usize,
    },
    /// Explicit huge pages (or transparent ones) were asked for without fallback and could not be
    /// had, typically because none are reserved (`/proc/sys/vm/nr_hugepages` is 0).
    HugePagesUnavailable {
        /// The huge page size asked for, in bytes (2 MiB or 1 GiB; 2 MiB for transparent ones).
        page_size: usize,
        /// The errno the kernel answered with (0 when the refusal was read from sysfs).
        errno: i32,
    },
    /// A size that must be a multiple of the page size is not.
    NotPageMultiple {
        /// The size asked for.
        size: usize,
        /// The page size it must be a multiple of.
        page_size: usize,
    },
    /// Memory handed to [`Carved`](crate::Carved) is shorter than the blocks need.
    TooSmall {
        /// Bytes the layout needs.
        needed: usize,
        /// Bytes the memory has.
        available: usize,
    },
    /// Memory handed to [`Carved`](crate::Carved) starts at an address that does not meet the
    /// blocks' alignment.
    Misaligned {
        /// The base address of the memory.
        address: usize,
        /// The alignment the blocks need.
        align: usize,
    },
    /// A system call failed.
    Os {
        /// The call that failed (`"mmap"`, `"mlock"`, `"memfd_create"`, …).
        call: &'static str,
        /// The errno it set.
        errno: i32,
    },
}

impl fmt::Display for AlignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::ZeroSize => f.write_str("a size or count of zero was asked for"),
            Self::AlignmentNotPowerOfTwo { align } => {
                write!(f, "alignment {align} is not a power of two")
            }
            Self::SizeOverflow => f.write_str("size overflows the address space"),
            Self::OutOfMemory { size } => write!(f, "out of memory allocating {size} bytes"),
            Self::HugePagesUnavailable { page_size, errno } => write!(
                f,
                "huge pages of {} KiB unavailable (errno {errno}); reserve some or allow fallback",
                page_size / 1024
            ),
            Self::NotPageMultiple { size, page_size } => {
                write!(f, "size {size} is not a multiple of the page size {page_size}")
            }
            Self::TooSmall { needed, available } => {
                write!(f, "memory of {available} bytes is too small for blocks needing {needed}")
            }
            Self::Misaligned { address, align } => {
                write!(f, "memory at {address:#x} is not aligned to {align}")
            }
            Self::Os { call, errno } => write!(f, "{call} failed with errno {errno}"),
        }
    }
}

impl core::error::Error for AlignError {}

#[cfg(feature = "std")]
impl From<AlignError> for std::io::Error {
    /// OS failures keep their errno; out-of-memory maps to `ENOMEM`; the rest are `InvalidInput`.
    fn from(err: AlignError) -> Self {
        use std::io::{Error, ErrorKind};
        match err {
            AlignError::Os { errno, .. } | AlignError::HugePagesUnavailable { errno, .. }
                if errno != 0 =>
            {
                Error::from_raw_os_error(errno)
            }
            AlignError::OutOfMemory { .. } => Error::from_raw_os_error(libc::ENOMEM),
            other => Error::new(ErrorKind::InvalidInput, other),
        }
    }
}

/// The calling thread's errno after a failed libc call.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)] // reason: reading errno through libc's thread-local location.
pub(crate) fn last_errno() -> i32 {
    // SAFETY: __errno_location has no preconditions.
    let location = unsafe { libc::__errno_location() };
    // SAFETY: it points to this thread's errno, valid for reads for the thread's lifetime.
    unsafe { *location }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn display_names_the_numbers() {
        let text = AlignError::TooSmall { needed: 8192, available: 4096 }.to_string();
        assert!(text.contains("8192") && text.contains("4096"), "{text}");
        let text = AlignError::Os { call: "mmap", errno: 12 }.to_string();
        assert!(text.contains("mmap") && text.contains("12"), "{text}");
    }

    #[cfg(feature = "std")]
    #[test]
    fn converts_to_io_error_keeping_errno() {
        let io: std::io::Error = AlignError::Os { call: "mlock", errno: libc::EPERM }.into();
        assert_eq!(io.raw_os_error(), Some(libc::EPERM));
        let io: std::io::Error = AlignError::ZeroSize.into();
        assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
        let io: std::io::Error = AlignError::OutOfMemory { size: 1 }.into();
        assert_eq!(io.raw_os_error(), Some(libc::ENOMEM));
    }
}
