//! Out-marks for the index-level API: which indices are out as a bare [`BufIndex`] (or raw
//! pointer), and since when.
//!
//! Handles need no mark (the type system makes each one unique); the index-level API is where a
//! double put or a stray index can happen. Each slot is one 64-bit word: a *tag* in the low
//! byte (0 while the index is in; the caller's non-zero tag — a buddy block's order + 1 — while
//! it is out) and a *generation* above it, bumped every time the index goes out. A `BufIndex`
//! carries the whole word as its *stamp*, and taking it back in is a compare-and-swap against
//! that stamp: a second put, or a stale copy from an earlier time out, finds another word and is
//! refused. One atomic read-modify-write per mark, on a word of its own (8 per cache line).
//! The generation has 56 bits: it does not wrap in the life of a process.

use crate::sync::{AtomicU64, Ordering};

const TAG_MASK: u64 = 0xff;
const GENERATION: u64 = 1 << 8;

/// One out-mark per index.
#[derive(Debug)]
pub(crate) struct OutMarks {
    words: Box<[AtomicU64]>,
}

impl OutMarks {
    pub(crate) fn new(slots: usize) -> Self {
        Self { words: (0..slots).map(|_| AtomicU64::new(0)).collect() }
    }

    /// Number of slots.
    pub(crate) fn len(&self) -> usize {
        self.words.len()
    }

    /// Marks `slot` out with `tag` (non-zero) and returns its stamp. The caller owns the index
    /// (it is not out already).
    pub(crate) fn mark_out(&self, slot: u32, tag: u8) -> u64 {
        debug_assert_ne!(tag, 0, "tag 0 means in");
        let word = &self.words[slot as usize];
        let before = word.fetch_add(GENERATION + u64::from(tag), Ordering::AcqRel);
        debug_assert_eq!(before & TAG_MASK, 0, "slot {slot} marked out twice");
        before + GENERATION + u64::from(tag)
    }

    /// Marks `slot` back in if it is out under `stamp`. Returns whether it was.
    pub(crate) fn mark_in(&self, slot: u32, stamp: u64) -> bool {
        stamp & TAG_MASK != 0
            && self.words[slot as usize]
                .compare_exchange(stamp, stamp & !TAG_MASK, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    /// The current stamp of `slot` if it is out (for raw pointers, which carry no stamp).
    pub(crate) fn current(&self, slot: u32) -> Option<u64> {
        let word = self.words[slot as usize].load(Ordering::Acquire);
        (word & TAG_MASK != 0).then_some(word)
    }

    /// The tag in a stamp.
    pub(crate) fn tag(stamp: u64) -> u8 {
        (stamp & TAG_MASK) as u8
    }
}

#[cfg(all(test, not(iobuf_loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_takes_its_index_back_once_and_stale_stamps_never() {
        let marks = OutMarks::new(2);
        let first = marks.mark_out(1, 1);
        assert!(marks.mark_in(1, first));
        assert!(!marks.mark_in(1, first), "a second put");
        let second = marks.mark_out(1, 1);
        assert_ne!(first, second);
        assert!(!marks.mark_in(1, first), "a stale copy of the first time out");
        assert_eq!(marks.current(1), Some(second));
        assert!(marks.mark_in(1, second));
        assert_eq!(marks.current(1), None);
        assert_eq!(OutMarks::tag(marks.mark_out(0, 7)), 7);
        assert!(!marks.mark_in(0, 0), "a stamp of an index that is in");
    }
}
