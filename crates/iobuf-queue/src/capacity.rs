//! The capacity rules shared by [`IndexRing`](crate::IndexRing) and
//! [`BoundedQueue`](crate::BoundedQueue), and the error for breaking them.

use core::fmt;

/// The largest capacity a ring accepts: 2³¹.
///
/// A ring of capacity `n` keeps `2 × n.next_power_of_two()` 64-bit slots, and each slot packs an
/// index, a "safe" bit and a cycle number; at 2³¹ the index field is 32 bits wide and the cycle
/// still has 31 bits, enough that it never wraps in practice.
pub const MAX_CAPACITY: usize = 1 << 31;

/// A capacity that a ring cannot be built with.
///
/// # Examples
///
/// ```
/// use iobuf_queue::{CapacityError, IndexRing, MAX_CAPACITY};
///
/// assert_eq!(IndexRing::new_empty(0).unwrap_err(), CapacityError::Zero);
/// assert_eq!(
///     IndexRing::new_empty(MAX_CAPACITY + 1).unwrap_err(),
///     CapacityError::TooLarge { requested: MAX_CAPACITY + 1, max: MAX_CAPACITY },
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CapacityError {
    /// A capacity of zero: a ring must be able to hold at least one index.
    Zero,
    /// More than [`MAX_CAPACITY`] indices.
    TooLarge {
        /// The capacity asked for.
        requested: usize,
        /// The largest capacity allowed, [`MAX_CAPACITY`].
        max: usize,
    },
}

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Zero => f.write_str("ring capacity must be at least 1"),
            Self::TooLarge { requested, max } => {
                write!(f, "ring capacity {requested} exceeds the maximum of {max}")
            }
        }
    }
}

impl core::error::Error for CapacityError {}

/// Checks `capacity` against the rules above.
pub(crate) fn check(capacity: usize) -> Result<(), CapacityError> {
    match capacity {
        0 => Err(CapacityError::Zero),
        n if n > MAX_CAPACITY => Err(CapacityError::TooLarge { requested: n, max: MAX_CAPACITY }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn zero_and_too_large_are_rejected() {
        assert_eq!(check(0), Err(CapacityError::Zero));
        assert_eq!(check(1), Ok(()));
        assert_eq!(check(MAX_CAPACITY), Ok(()));
        assert_eq!(
            check(MAX_CAPACITY + 1),
            Err(CapacityError::TooLarge { requested: MAX_CAPACITY + 1, max: MAX_CAPACITY })
        );
        assert_eq!(
            check(usize::MAX),
            Err(CapacityError::TooLarge { requested: usize::MAX, max: MAX_CAPACITY })
        );
    }

    #[test]
    fn messages_name_the_numbers() {
        assert_eq!(CapacityError::Zero.to_string(), "ring capacity must be at least 1");
        let too_large = CapacityError::TooLarge { requested: 5_000_000_000, max: MAX_CAPACITY };
        assert_eq!(
            too_large.to_string(),
            "ring capacity 5000000000 exceeds the maximum of 2147483648"
        );
    }
}
