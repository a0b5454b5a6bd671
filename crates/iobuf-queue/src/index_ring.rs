//! TEMPORARY stand-in with the agreed API, replaced by the SCQ ring when branch `queue` merges.
#![allow(missing_docs, dead_code)]
extern crate std;
use alloc::collections::VecDeque;
use std::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CapacityError {
    Zero,
    TooLarge { requested: usize, max: usize },
}

#[derive(Debug)]
pub struct IndexRing {
    cap: usize,
    q: Mutex<VecDeque<u32>>,
}

impl IndexRing {
    pub fn new_empty(capacity: usize) -> Result<Self, CapacityError> {
        if capacity == 0 {
            return Err(CapacityError::Zero);
        }
        Ok(Self { cap: capacity, q: Mutex::new(VecDeque::with_capacity(capacity)) })
    }
    pub fn new_full(capacity: usize) -> Result<Self, CapacityError> {
        let r = Self::new_empty(capacity)?;
        r.q.lock().unwrap().extend(0..capacity as u32);
        Ok(r)
    }
    pub fn capacity(&self) -> usize {
        self.cap
    }
    pub fn slot_capacity(&self) -> usize {
        self.cap.next_power_of_two()
    }
    pub fn pop(&self) -> Option<u32> {
        self.q.lock().unwrap().pop_front()
    }
    pub fn push(&self, index: u32) {
        self.q.lock().unwrap().push_back(index)
    }
    pub fn pop_many(&self, out: &mut [u32]) -> usize {
        let mut q = self.q.lock().unwrap();
        let mut n = 0;
        while n < out.len() {
            match q.pop_front() {
                Some(i) => {
                    out[n] = i;
                    n += 1
                }
                None => break,
            }
        }
        n
    }
    pub fn push_many(&self, indices: &[u32]) {
        self.q.lock().unwrap().extend(indices.iter().copied())
    }
    pub fn len(&self) -> usize {
        self.q.lock().unwrap().len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
