//! Pure arithmetic of the index ring: how a slot's 64 bits are split, and which slot a position
//! lands in. No atomics here, so every rule can be unit-tested on its own.
//!
//! For a ring whose slot capacity is `n` (a power of two) there are `2n` slots, and a slot word
//! is laid out as in Nikolaev's SCQ (`lfring_cas1.h`):
//!
//! ```text
//!  63                 b+1   b   b-1              0      b = log2(2n)
//! +----------------------+----+-------------------+
//! |        cycle         |safe|       index       |
//! +----------------------+----+-------------------+
//! ```
//!
//! - `index`: `b` bits, enough for every index `< n` plus the all-ones value, which means "no
//!   index" (empty);
//! - `safe`: cleared by a dequeuer that passes the slot while it still holds an entry from an
//!   older cycle, so a later enqueuer knows to check the head before filling it;
//! - `cycle`: which lap over the ring the slot was last used in: position `p` belongs to cycle
//!   `p / 2n`.
//!
//! A "tag" is a slot word or position with the safe bit and index field forced to ones
//! (`word | low_mask`, `(pos << 1) | low_mask`); tags compare cycles directly, with wrapping
//! arithmetic so that the comparison stays right if the 64-bit counters ever wrap.

/// 64-bit slots per 128 bytes: consecutive positions are spread this far apart, so threads
/// working on neighbouring positions do not share a cache line, nor the adjacent line that
/// x86 prefetches in pairs (the same 128 bytes that `CachePadded` pads to).
pub(super) const LANES: usize = 16;

/// The all-ones word: an empty slot, marked safe, of the cycle before cycle 0.
pub(super) const UNUSED: u64 = u64::MAX;

/// Bit layout and position-to-slot mapping for one ring size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Geometry {
    /// `2n - 1`: the index field. All ones means "empty".
    index_mask: u64,
    /// `2n`: set while the slot is safe.
    safe_bit: u64,
    /// `4n - 1`: index field and safe bit together.
    low_mask: u64,
    /// `2n - 1` as a position mask: `pos & slot_mask` is the position within its cycle.
    slot_mask: u64,
    /// Low position bits that choose the 128-byte block.
    block_mask: u64,
    /// `log2(blocks)`: the position bits above this choose the lane within the block.
    block_shift: u32,
    /// Number of 128-byte blocks of [`LANES`] slots.
    blocks: usize,
}

impl Geometry {
    /// The geometry for a ring holding up to `slot_capacity` indices (a power of two `≤ 2³¹`).
    pub(super) fn new(slot_capacity: usize) -> Self {
        debug_assert!(slot_capacity.is_power_of_two() && slot_capacity <= 1 << 31);
        let slots = 2 * slot_capacity as u64;
        let blocks = (slots as usize).div_ceil(LANES);
        Self {
            index_mask: slots - 1,
            safe_bit: slots,
            low_mask: 2 * slots - 1,
            slot_mask: slots - 1,
            block_mask: blocks as u64 - 1,
            block_shift: blocks.trailing_zeros(),
            blocks,
        }
    }

    /// How many 128-byte blocks of slots the ring needs.
    pub(super) fn blocks(&self) -> usize {
        self.blocks
    }

    /// Which slot position `pos` uses, as `(block, lane)`.
    ///
    /// Consecutive positions go to consecutive blocks and wrap to the next lane only after
    /// every block has been used once (the lane and block bits of the position are swapped,
    /// like lfring's `__lfring_map`). A ring smaller than one block has one block.
    #[inline(always)]
    pub(super) fn slot_of(&self, pos: u64) -> (usize, usize) {
        let within_cycle = pos & self.slot_mask;
        let block = within_cycle & self.block_mask;
        // `& (LANES - 1)` is a no-op for valid geometries; it lets the compiler drop the
        // bounds check on the lane.
        let lane = (within_cycle >> self.block_shift) as usize & (LANES - 1);
        (block as usize, lane)
    }

    /// The tag of position `pos`: its cycle, with the safe bit and index field all ones.
    #[inline(always)]
    pub(super) fn position_tag(&self, pos: u64) -> u64 {
        (pos << 1) | self.low_mask
    }

    /// The tag of a slot word: its cycle, with the safe bit and index field all ones.
    #[inline(always)]
    pub(super) fn word_tag(&self, word: u64) -> u64 {
        word | self.low_mask
    }

    /// Whether the slot word holds no index.
    #[inline(always)]
    pub(super) fn is_empty(&self, word: u64) -> bool {
        word & self.index_mask == self.index_mask
    }

    /// Whether the slot word has its safe bit set.
    #[inline(always)]
    pub(super) fn is_safe(&self, word: u64) -> bool {
        word & self.safe_bit != 0
    }

    /// The index held by a non-empty slot word.
    #[inline(always)]
    pub(super) fn index_of(&self, word: u64) -> u32 {
        (word & self.index_mask) as u32
    }

    /// A safe slot word of position `pos`'s cycle holding `index`.
    #[inline(always)]
    pub(super) fn occupied(&self, pos: u64, index: u32) -> u64 {
        self.position_tag(pos) ^ self.index_mask ^ u64::from(index)
    }

    /// The word a slot holds once the dequeuer of the previous lap's position has taken its
    /// index: empty, safe, cycle of `pos - 2n`. What an enqueuer at `pos` usually finds.
    #[inline(always)]
    pub(super) fn previous_lap_taken(&self, pos: u64) -> u64 {
        self.position_tag(pos.wrapping_sub(self.slot_mask + 1))
    }

    /// `word` with its index field set to empty, cycle and safe bit kept: what the dequeuer
    /// that takes the index leaves behind (applied with `fetch_or`).
    #[inline(always)]
    pub(super) fn emptied_bits(&self) -> u64 {
        self.index_mask
    }

    /// An empty slot word of position `pos`'s cycle, with `word`'s safe bit: a dequeuer that
    /// found the slot empty closes it for its cycle, so a late enqueuer of that cycle fails.
    #[inline(always)]
    pub(super) fn closed(&self, pos: u64, word: u64) -> u64 {
        self.position_tag(pos) ^ (!word & self.safe_bit)
    }

    /// `word` marked unsafe.
    #[inline(always)]
    pub(super) fn unsafe_version(&self, word: u64) -> u64 {
        word & !self.safe_bit
    }
}

/// `a < b` for cycle tags and positions, robust to the 64-bit counters wrapping.
#[inline(always)]
pub(super) fn precedes(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) < 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn slot_mapping_is_a_bijection_that_spreads_neighbours() {
        for slot_capacity in [1, 2, 4, 8, 16, 32, 64, 1024] {
            let geometry = Geometry::new(slot_capacity);
            let slots = 2 * slot_capacity;
            let mut seen = vec![false; geometry.blocks() * LANES];
            for pos in 0..slots as u64 {
                let (block, lane) = geometry.slot_of(pos);
                assert!(block < geometry.blocks(), "block {block} out of range");
                let flat = block * LANES + lane;
                assert!(!seen[flat], "slot {flat} used twice at capacity {slot_capacity}");
                seen[flat] = true;
                // The mapping repeats every cycle.
                assert_eq!(geometry.slot_of(pos + slots as u64), (block, lane));
                if geometry.blocks() > 1 {
                    let next = geometry.slot_of(pos + 1).0;
                    assert_ne!(next, block, "neighbours share a block at {pos}");
                }
            }
            assert_eq!(seen.iter().filter(|&&s| s).count(), slots);
        }
    }

    #[test]
    fn words_round_trip_index_cycle_and_safety() {
        let geometry = Geometry::new(4); // 8 slots: 3 index bits, safe bit 8, cycle from bit 4.
        let word = geometry.occupied(8 + 3, 2); // position 11 is in cycle 1
        // cycle 1 | safe | index 2
        assert_eq!(word, (1 << 4) | 8 | 2);
        assert!(!geometry.is_empty(word));
        assert!(geometry.is_safe(word));
        assert_eq!(geometry.index_of(word), 2);
        assert_eq!(geometry.word_tag(word), geometry.position_tag(11));
        assert_eq!(geometry.word_tag(word), geometry.position_tag(8));
        assert_ne!(geometry.word_tag(word), geometry.position_tag(16));

        let taken = word | geometry.emptied_bits();
        assert!(geometry.is_empty(taken) && geometry.is_safe(taken));
        assert_eq!(geometry.word_tag(taken), geometry.word_tag(word));

        let marked = geometry.unsafe_version(word);
        assert!(!geometry.is_safe(marked));
        assert_eq!(geometry.index_of(marked), 2);

        // Closing keeps the safe bit of the word it replaces.
        let closed = geometry.closed(16, taken);
        assert!(geometry.is_empty(closed) && geometry.is_safe(closed));
        assert_eq!(geometry.word_tag(closed), geometry.position_tag(16));
        let closed_unsafe = geometry.closed(16, marked | geometry.emptied_bits());
        assert!(geometry.is_empty(closed_unsafe) && !geometry.is_safe(closed_unsafe));
    }

    #[test]
    fn previous_lap_taken_is_what_an_enqueuer_accepts() {
        let geometry = Geometry::new(4);
        let pos = 8 * 5 + 3;
        let taken = geometry.occupied(pos - 8, 1) | geometry.emptied_bits();
        assert_eq!(geometry.previous_lap_taken(pos), taken);
        let word = geometry.previous_lap_taken(pos);
        assert!(geometry.is_empty(word) && geometry.is_safe(word));
        assert!(precedes(geometry.word_tag(word), geometry.position_tag(pos)));
    }

    #[test]
    fn unused_slots_precede_cycle_zero() {
        let geometry = Geometry::new(8);
        assert!(geometry.is_empty(UNUSED) && geometry.is_safe(UNUSED));
        assert!(precedes(geometry.word_tag(UNUSED), geometry.position_tag(0)));
        assert!(precedes(geometry.position_tag(0), geometry.position_tag(16)));
        assert!(!precedes(geometry.position_tag(16), geometry.position_tag(15)));
    }

    #[test]
    fn comparison_survives_counter_wrap() {
        assert!(precedes(u64::MAX - 1, 3));
        assert!(!precedes(3, u64::MAX - 1));
        assert!(!precedes(5, 5));
    }

    #[test]
    fn largest_ring_keeps_31_cycle_bits() {
        let geometry = Geometry::new(1 << 31);
        let last = (1u64 << 31) - 1;
        let word = geometry.occupied(0, last as u32);
        assert_eq!(geometry.index_of(word), last as u32);
        assert!(!geometry.is_empty(word));
        // Cycle 1 starts at position 2^32 and is still distinguishable.
        assert!(precedes(geometry.position_tag(0), geometry.position_tag(1 << 32)));
        assert_eq!(geometry.position_tag(1 << 32) >> 33, 1);
    }
}
