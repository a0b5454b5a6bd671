//! The 12 buffer size tiers, ×4 each from 32 B to 128 MiB.

use core::fmt;

use crate::PoolError;

/// A buffer size tier. Each is 4× the one before: 32 B … 128 MiB.
///
/// | tier | size | | tier | size |
/// |---|---|---|---|---|
/// | `Pico` | 32 B | | `Large` | 128 KiB |
/// | `Nano` | 128 B | | `Great` | 512 KiB |
/// | `Micro` | 512 B | | `Huge` | 2 MiB |
/// | `Small` | 2 KiB | | `Vast` | 8 MiB |
/// | `Medium` | 8 KiB | | `Giant` | 32 MiB |
/// | `Big` | 32 KiB | | `Titan` | 128 MiB |
///
/// # Examples
///
/// ```
/// use iobuf_pool::Tier;
///
/// assert_eq!(Tier::for_size(3000)?, Tier::Medium);
/// assert_eq!(Tier::Medium.size(), 8192);
/// assert_eq!(Tier::iter().count(), 12);
/// assert!(Tier::for_size(200 << 20).is_err()); // above 128 MiB is an error, not a small tier
/// # Ok::<(), iobuf_pool::PoolError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Tier {
    /// 32 B.
    Pico,
    /// 128 B.
    Nano,
    /// 512 B.
    Micro,
    /// 2 KiB.
    Small,
    /// 8 KiB.
    Medium,
    /// 32 KiB.
    Big,
    /// 128 KiB.
    Large,
    /// 512 KiB.
    Great,
    /// 2 MiB.
    Huge,
    /// 8 MiB.
    Vast,
    /// 32 MiB.
    Giant,
    /// 128 MiB.
    Titan,
}

impl Tier {
    /// Every tier, smallest first.
    pub const ALL: [Tier; 12] = [
        Tier::Pico,
        Tier::Nano,
        Tier::Micro,
        Tier::Small,
        Tier::Medium,
        Tier::Big,
        Tier::Large,
        Tier::Great,
        Tier::Huge,
        Tier::Vast,
        Tier::Giant,
        Tier::Titan,
    ];

    /// The smallest tier's buffer size.
    pub const MIN_SIZE: usize = 32;
    /// The largest tier's buffer size (128 MiB).
    pub const MAX_SIZE: usize = 128 << 20;

    /// Buffer size of this tier in bytes: `32 << (2 * position)`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(iobuf_pool::Tier::Titan.size(), 128 << 20);
    /// ```
    pub const fn size(self) -> usize {
        Self::MIN_SIZE << (2 * self as u32)
    }

    /// The smallest tier whose buffers hold `size` bytes (`Pico` for 0).
    ///
    /// # Errors
    ///
    /// [`PoolError::TooLarge`] above 128 MiB.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::{PoolError, Tier};
    /// assert_eq!(Tier::for_size(32)?, Tier::Pico);
    /// assert_eq!(Tier::for_size(33)?, Tier::Nano);
    /// assert!(matches!(Tier::for_size((128 << 20) + 1), Err(PoolError::TooLarge { .. })));
    /// # Ok::<(), PoolError>(())
    /// ```
    pub const fn for_size(size: usize) -> Result<Tier, PoolError> {
        if size > Self::MAX_SIZE {
            return Err(PoolError::TooLarge { size, max: Self::MAX_SIZE });
        }
        let mut position = 0;
        while Self::ALL[position].size() < size {
            position += 1;
        }
        Ok(Self::ALL[position])
    }

    /// All tiers, smallest first.
    ///
    /// # Examples
    ///
    /// ```
    /// let sizes: Vec<usize> = iobuf_pool::Tier::iter().map(|t| t.size()).take(3).collect();
    /// assert_eq!(sizes, [32, 128, 512]);
    /// ```
    pub fn iter() -> impl DoubleEndedIterator<Item = Tier> + ExactSizeIterator + Clone {
        Self::ALL.into_iter()
    }

    /// Position of the tier, 0 (`Pico`) to 11 (`Titan`).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(iobuf_pool::Tier::Small.position(), 3);
    /// ```
    pub const fn position(self) -> usize {
        self as usize
    }

    /// The next larger tier, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::Tier;
    /// assert_eq!(Tier::Small.next(), Some(Tier::Medium));
    /// assert_eq!(Tier::Titan.next(), None);
    /// ```
    pub const fn next(self) -> Option<Tier> {
        match self {
            Tier::Titan => None,
            other => Some(Self::ALL[other as usize + 1]),
        }
    }

    /// The tier's name (`"Pico"` … `"Titan"`).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(iobuf_pool::Tier::Huge.name(), "Huge");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Tier::Pico => "Pico",
            Tier::Nano => "Nano",
            Tier::Micro => "Micro",
            Tier::Small => "Small",
            Tier::Medium => "Medium",
            Tier::Big => "Big",
            Tier::Large => "Large",
            Tier::Great => "Great",
            Tier::Huge => "Huge",
            Tier::Vast => "Vast",
            Tier::Giant => "Giant",
            Tier::Titan => "Titan",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} B)", self.name(), self.size())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_grow_by_four_from_32_bytes_to_128_mib() {
        let sizes: Vec<usize> = Tier::iter().map(Tier::size).collect();
        assert_eq!(sizes.first(), Some(&32));
        assert_eq!(sizes.last(), Some(&(128 << 20)));
        assert!(sizes.windows(2).all(|w| w[1] == 4 * w[0]));
    }

    #[test]
    fn for_size_picks_the_smallest_tier_that_fits_at_every_boundary() {
        assert_eq!(Tier::for_size(0).unwrap(), Tier::Pico);
        for tier in Tier::iter() {
            assert_eq!(Tier::for_size(tier.size()).unwrap(), tier);
            assert_eq!(Tier::for_size(tier.size() - 1).unwrap(), tier);
            assert_eq!(Tier::for_size(tier.size() + 1).ok(), tier.next());
        }
        assert_eq!(
            Tier::for_size(usize::MAX).unwrap_err(),
            PoolError::TooLarge { size: usize::MAX, max: 128 << 20 }
        );
    }

    #[test]
    fn positions_and_next_agree() {
        for (position, tier) in Tier::iter().enumerate() {
            assert_eq!(tier.position(), position);
            assert_eq!(tier.next().map(Tier::position), (position < 11).then_some(position + 1));
        }
    }
}
