//! The one error type of the crate, and why io_uring may be unavailable.

use std::fmt;
use std::io;

/// Why io_uring cannot be used in this process.
///
/// # Examples
///
/// ```
/// use iobuf_uring::Unavailable;
/// let reason = Unavailable::from_errno(libc::ENOSYS);
/// assert_eq!(reason, Unavailable::NotSupported);
/// assert!(reason.to_string().contains("ENOSYS"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Unavailable {
    /// `/proc/sys/kernel/io_uring_disabled` is 2: io_uring is off for every process.
    Disabled,
    /// `io_uring_setup` failed with `EPERM`: `io_uring_disabled` is 1 and this process is not in
    /// `io_uring_group`, or a seccomp filter (containers, sandboxes) refuses the system call.
    NotPermitted,
    /// `io_uring_setup` failed with `ENOSYS`: the kernel was built without io_uring, or a filter
    /// pretends it was.
    NotSupported,
    /// `io_uring_setup` failed with another errno.
    Other(i32),
}

impl Unavailable {
    /// The reason that goes with an errno from `io_uring_setup`, reading
    /// `/proc/sys/kernel/io_uring_disabled` to tell a switched-off kernel from a sandbox.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_uring::Unavailable;
    /// assert_eq!(Unavailable::from_errno(libc::EINVAL), Unavailable::Other(libc::EINVAL));
    /// ```
    pub fn from_errno(errno: i32) -> Self {
        match errno {
            libc::ENOSYS => Self::NotSupported,
            libc::EPERM if disabled_sysctl() == Some(2) => Self::Disabled,
            libc::EPERM => Self::NotPermitted,
            other => Self::Other(other),
        }
    }
}

/// The value of `/proc/sys/kernel/io_uring_disabled` (6.6+), if the file exists.
pub(crate) fn disabled_sysctl() -> Option<u8> {
    std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled").ok()?.trim().parse().ok()
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Disabled => f.write_str("io_uring is disabled (kernel.io_uring_disabled = 2)"),
            Self::NotPermitted => f.write_str(
                "io_uring_setup: EPERM (kernel.io_uring_disabled = 1 without io_uring_group, \
                 or a seccomp filter)",
            ),
            Self::NotSupported => f.write_str("io_uring_setup: ENOSYS (kernel without io_uring)"),
            Self::Other(errno) => {
                write!(f, "io_uring_setup failed: {}", io::Error::from_raw_os_error(*errno))
            }
        }
    }
}

/// Everything that can go wrong setting up rings, registrations and buffer rings.
///
/// Failures of individual I/O operations are not `UringError`s: they come back as
/// `io::Error` in the operation's [`Completion`](crate::Completion).
///
/// # Examples
///
/// ```
/// use iobuf_uring::UringError;
/// let err = UringError::Memlock { needed: 1 << 20, limit: 64 << 10, already_pinned: 0 };
/// assert!(err.to_string().contains("1048576 bytes"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum UringError {
    /// io_uring cannot be used in this process at all.
    Unavailable(Unavailable),
    /// The running kernel lacks a facility this call needs.
    Unsupported {
        /// What is missing.
        feature: &'static str,
        /// The first kernel version that has it.
        since: &'static str,
    },
    /// Pinning `needed` more bytes would exceed `RLIMIT_MEMLOCK` (`limit`), and the soft limit
    /// could not be raised far enough (the hard limit is lower, or raising it failed).
    Memlock {
        /// Bytes this registration pins (page-rounded per registered chunk).
        needed: usize,
        /// The effective limit in bytes (the hard limit when raising failed).
        limit: u64,
        /// Bytes this process has already pinned through iobuf-uring (they count too).
        already_pinned: usize,
    },
    /// The ring's table of registered-buffer slots has no `needed` consecutive free slots.
    SlotsExhausted {
        /// Slots the registration needs (one per ≤ 1 GiB chunk).
        needed: usize,
        /// Size of the ring's slot table.
        table: u16,
    },
    /// Registering memory at the slots of an existing [`Registration`](crate::Registration)
    /// failed because some of those slots are in use on this ring.
    SlotsTaken {
        /// First slot asked for.
        first: u16,
        /// Number of slots asked for.
        count: u16,
    },
    /// A buffer stride larger than the kernel's 1 GiB limit per registered buffer.
    StrideTooLarge {
        /// The stride asked for.
        stride: usize,
    },
    /// A buffer ring needs 1 to 32768 buffers of 1 byte to 4 GiB each.
    InvalidBufRing {
        /// What is wrong.
        reason: &'static str,
    },
    /// A buffer group id already in use on this ring.
    GroupTaken {
        /// The group id.
        group: u16,
    },
    /// A system call failed.
    Os {
        /// The call (or `io_uring_register` opcode) that failed.
        call: &'static str,
        /// Its error.
        source: io::Error,
    },
}

impl UringError {
    pub(crate) fn os(call: &'static str, source: io::Error) -> Self {
        Self::Os { call, source }
    }

    /// Whether this error says io_uring (or the facility asked for) cannot be used here, as
    /// opposed to a resource or usage problem; callers use it to pick a fallback path.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_uring::{Unavailable, UringError};
    /// assert!(UringError::Unavailable(Unavailable::Disabled).is_unavailable());
    /// assert!(!UringError::GroupTaken { group: 1 }.is_unavailable());
    /// ```
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Unsupported { .. })
    }
}

impl fmt::Display for UringError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable(reason) => write!(f, "io_uring unavailable: {reason}"),
            Self::Unsupported { feature, since } => {
                write!(f, "this kernel lacks {feature} (Linux {since} or newer)")
            }
            Self::Memlock { needed, limit, already_pinned } => write!(
                f,
                "registering {needed} bytes would exceed RLIMIT_MEMLOCK of {limit} bytes \
                 ({already_pinned} bytes already pinned by this process); raise it (ulimit -l, \
                 LimitMEMLOCK=, /etc/security/limits.conf), grant CAP_IPC_LOCK, or register \
                 with RegisterOptions::fallback_to_unregistered"
            ),
            Self::SlotsExhausted { needed, table } => write!(
                f,
                "no {needed} consecutive free slots in the ring's {table}-slot buffer table \
                 (RingBuilder::buffer_slots)"
            ),
            Self::SlotsTaken { first, count } => {
                write!(f, "buffer slots {first}..{} are already in use on this ring", first + count)
            }
            Self::StrideTooLarge { stride } => {
                write!(f, "buffer stride {stride} exceeds the kernel's 1 GiB per registered buffer")
            }
            Self::InvalidBufRing { reason } => write!(f, "invalid buffer ring: {reason}"),
            Self::GroupTaken { group } => write!(f, "buffer group {group} is already registered"),
            Self::Os { call, source } => write!(f, "{call}: {source}"),
        }
    }
}

impl std::error::Error for UringError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Os { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<UringError> for io::Error {
    fn from(err: UringError) -> Self {
        let kind = match &err {
            UringError::Unavailable(_) | UringError::Unsupported { .. } => {
                io::ErrorKind::Unsupported
            }
            UringError::Memlock { .. } | UringError::SlotsExhausted { .. } => {
                io::ErrorKind::OutOfMemory
            }
            UringError::Os { source, .. } => source.kind(),
            _ => io::ErrorKind::InvalidInput,
        };
        io::Error::new(kind, err)
    }
}
