//! The in-flight table: every buffer the kernel may be using, keyed by `user_data`.
//!
//! An operation's buffers move in here when it is pushed and come out only with its last
//! completion (for zero-copy send, the notification), so nothing the kernel may still touch is
//! ever dropped early (architecture invariant 3).

use crate::iovec::RawIovecs;

/// `user_data` bit marking the ring's own requests (cancellations); never an [`OpId`].
pub(crate) const INTERNAL: u64 = 1 << 63;

/// Identifies one pushed operation: its `user_data`, returned with its completions.
///
/// An id means something only to the ring that returned it: ids are a slot of the ring's
/// in-flight table and a 31-bit generation of that slot, so another ring's operation can have
/// the same id, and an id kept after its operation finished names a later one in the same
/// slot only after 2³¹ reuses of that slot.
///
/// # Examples
///
/// ```
/// use iobuf_pool::BufferPool;
/// use iobuf_uring::{Ring, ops::Read};
///
/// # let features = match iobuf_uring::probe() { Ok(f) => f, Err(_) => return Ok(()) };
/// let mut ring = Ring::new(8)?;
/// let pool = BufferPool::builder(4096).capacity(1).build()?;
/// let file = std::fs::File::open("/proc/self/stat")?;
/// let id = ring.push(Read::at(&file, pool.try_get()?, 0))?;
/// let completion = ring.wait()?;
/// assert_eq!(completion.id(), id);
/// assert_ne!(id.user_data() >> 63, 1, "the top bit is reserved for the ring's own requests");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OpId(u64);

impl OpId {
    /// The `user_data` the kernel echoes in the operation's completions.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_uring::{Ring, ops::Read};
    /// # if iobuf_uring::probe().is_err() { return Ok(()) }
    /// # let pool = iobuf_pool::BufferPool::builder(4096).capacity(1).build()?;
    /// let file = std::fs::File::open("/proc/self/stat")?;
    /// let mut ring = Ring::new(8)?;
    /// let id = ring.push(Read::at(&file, pool.try_get()?, 0))?;
    /// println!("in flight as user_data {:#x}", id.user_data());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn user_data(self) -> u64 {
        self.0
    }

    /// Table slot and generation (which reuse of the slot).
    fn split(self) -> (usize, u32) {
        ((self.0 & 0xffff_ffff) as usize, ((self.0 >> 32) & 0x7fff_ffff) as u32)
    }

    fn join(index: usize, generation: u32) -> Self {
        Self(u64::from(generation & 0x7fff_ffff) << 32 | index as u64)
    }
}

/// What an in-flight operation holds for the kernel.
pub(crate) enum Payload<B> {
    /// Nothing (buffer-select operations take their buffers from a buffer ring).
    Nothing,
    /// One handle.
    One(B),
    /// Several handles and the iovec array describing them.
    Many { bufs: Vec<B>, iovecs: RawIovecs },
}

/// How to turn an operation's completion queue entries into a [`Completion`](crate::Completion).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A read: success sets the handles' filled lengths.
    Read,
    /// A write or send: the handles come back unchanged.
    Write,
    /// Zero-copy send: the result CQE (with `F_MORE`) is held until the notification.
    SendZc { result: Option<i32> },
    /// Buffer select from `group`; `multishot` while the kernel sets `F_MORE`.
    Select { group: u16, multishot: bool },
}

/// One in-flight operation.
pub(crate) struct Pending<B> {
    pub(crate) kind: Kind,
    pub(crate) payload: Payload<B>,
}

struct Slot<B> {
    generation: u32,
    pending: Option<Pending<B>>,
}

/// A slab of pending operations; `user_data` is (generation << 32 | slot).
pub(crate) struct InFlight<B> {
    slots: Vec<Slot<B>>,
    free: Vec<u32>,
    len: usize,
}

impl<B> InFlight<B> {
    pub(crate) fn new() -> Self {
        Self { slots: Vec::new(), free: Vec::new(), len: 0 }
    }

    pub(crate) fn insert(&mut self, pending: Pending<B>) -> OpId {
        self.len += 1;
        if let Some(index) = self.free.pop() {
            let slot = &mut self.slots[index as usize];
            slot.generation = slot.generation.wrapping_add(1) & 0x7fff_ffff;
            slot.pending = Some(pending);
            return OpId::join(index as usize, slot.generation);
        }
        let index = self.slots.len();
        assert!(index < u32::MAX as usize, "more than 2^32 operations in flight");
        self.slots.push(Slot { generation: 0, pending: Some(pending) });
        OpId::join(index, 0)
    }

    pub(crate) fn get_mut(&mut self, id: OpId) -> Option<&mut Pending<B>> {
        let (index, generation) = id.split();
        let slot = self.slots.get_mut(index)?;
        if slot.generation != generation {
            return None;
        }
        slot.pending.as_mut()
    }

    pub(crate) fn remove(&mut self, id: OpId) -> Option<Pending<B>> {
        let (index, generation) = id.split();
        let slot = self.slots.get_mut(index)?;
        if slot.generation != generation {
            return None;
        }
        let pending = slot.pending.take()?;
        self.free.push(index as u32);
        self.len -= 1;
        Some(pending)
    }

    /// Looks up an id from a CQE's `user_data`.
    pub(crate) fn id_of(user_data: u64) -> Option<OpId> {
        (user_data & INTERNAL == 0).then_some(OpId(user_data))
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Ids of every pending operation.
    pub(crate) fn ids(&self) -> Vec<OpId> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.pending.is_some())
            .map(|(index, slot)| OpId::join(index, slot.generation))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(tag: u32) -> Pending<u32> {
        Pending { kind: Kind::Read, payload: Payload::One(tag) }
    }

    fn tag(p: Pending<u32>) -> u32 {
        match p.payload {
            Payload::One(tag) => tag,
            _ => unreachable!(),
        }
    }

    #[test]
    fn insert_remove_round_trip() {
        let mut table = InFlight::new();
        let a = table.insert(pending(1));
        let b = table.insert(pending(2));
        assert_ne!(a, b);
        assert_eq!(table.len(), 2);
        assert_eq!(tag(table.remove(b).unwrap()), 2);
        assert_eq!(tag(table.remove(a).unwrap()), 1);
        assert!(table.is_empty());
        assert!(table.remove(a).is_none(), "removed twice");
    }

    #[test]
    fn a_reused_slot_rejects_the_stale_id() {
        let mut table = InFlight::new();
        let old = table.insert(pending(1));
        table.remove(old).unwrap();
        let new = table.insert(pending(2));
        assert_ne!(old, new, "same slot, new generation");
        assert!(table.get_mut(old).is_none());
        assert!(table.remove(old).is_none());
        assert_eq!(tag(table.remove(new).unwrap()), 2);
    }

    #[test]
    fn ids_never_carry_the_internal_bit() {
        let mut table = InFlight::new();
        for round in 0..3 {
            let id = table.insert(pending(round));
            assert_eq!(id.user_data() & INTERNAL, 0);
            assert_eq!(InFlight::<u32>::id_of(id.user_data()), Some(id));
            table.remove(id).unwrap();
        }
        assert_eq!(InFlight::<u32>::id_of(INTERNAL | 5), None);
        let ids: Vec<_> = (0..4).map(|t| table.insert(pending(t))).collect();
        let mut listed = table.ids();
        listed.sort_by_key(|id| id.user_data());
        let mut expected = ids.clone();
        expected.sort_by_key(|id| id.user_data());
        assert_eq!(listed, expected);
    }
}
