//! Helpers shared by the byte ring's integration tests: a tiny RNG, a deterministic byte stream
//! and a chunking-independent checksum.
#![allow(dead_code)] // reason: each test file uses the subset it needs.

/// xorshift64* (Vigna): enough randomness for chunk sizes and test data, no dependency.
pub(crate) struct XorShift(u64);

impl XorShift {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish in `1..=max`.
    pub(crate) fn below_or_eq(&mut self, max: usize) -> usize {
        (self.next_u64() % max as u64) as usize + 1
    }
}

/// A random stream whose byte at position `p` is `pattern[p % len]`, with a prime length so the
/// stream never lines up with a power-of-two ring.
pub(crate) struct Stream {
    pattern: Vec<u8>,
}

impl Stream {
    pub(crate) const LEN: usize = 1_048_573;

    pub(crate) fn new(seed: u64) -> Self {
        let mut rng = XorShift::new(seed);
        let mut pattern: Vec<u8> =
            (0..Self::LEN.div_ceil(8)).flat_map(|_| rng.next_u64().to_le_bytes()).collect();
        pattern.truncate(Self::LEN);
        Self { pattern }
    }

    /// Fills `dst` with the stream from position `at`.
    pub(crate) fn fill(&self, mut dst: &mut [u8], mut at: u64) {
        while !dst.is_empty() {
            let offset = (at % Self::LEN as u64) as usize;
            let n = dst.len().min(Self::LEN - offset);
            let (head, rest) = dst.split_at_mut(n);
            head.copy_from_slice(&self.pattern[offset..offset + n]);
            dst = rest;
            at += n as u64;
        }
    }

    /// Folds the `len` bytes from position `at` into `sum` without copying them.
    pub(crate) fn checksum_into(&self, sum: &mut Checksum, mut at: u64, mut len: usize) {
        while len > 0 {
            let offset = (at % Self::LEN as u64) as usize;
            let n = len.min(Self::LEN - offset);
            sum.update(&self.pattern[offset..offset + n]);
            at += n as u64;
            len -= n;
        }
    }

    /// The `len` bytes from position `at`.
    pub(crate) fn bytes(&self, at: u64, len: usize) -> Vec<u8> {
        let mut out = vec![0; len];
        self.fill(&mut out, at);
        out
    }
}

/// A position-sensitive 64-bit checksum of a byte stream that does not depend on how the
/// stream was cut into chunks: words are folded in stream order, partial words carried over.
#[derive(Debug, Default)]
pub(crate) struct Checksum {
    state: u64,
    pending: [u8; 8],
    pending_len: usize,
    total: u64,
}

impl Checksum {
    pub(crate) fn update(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        if self.pending_len > 0 {
            let n = bytes.len().min(8 - self.pending_len);
            self.pending[self.pending_len..self.pending_len + n].copy_from_slice(&bytes[..n]);
            self.pending_len += n;
            bytes = &bytes[n..];
            if self.pending_len < 8 {
                return;
            }
            self.fold(u64::from_le_bytes(self.pending));
            self.pending_len = 0;
        }
        let words = bytes.chunks_exact(8);
        let rest = words.remainder();
        for word in words {
            self.fold(u64::from_le_bytes(word.try_into().unwrap()));
        }
        self.pending[..rest.len()].copy_from_slice(rest);
        self.pending_len = rest.len();
    }

    fn fold(&mut self, word: u64) {
        self.state = (self.state ^ word).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
    }

    /// (checksum, byte count).
    pub(crate) fn finish(mut self) -> (u64, u64) {
        let mut last = [0; 8];
        last[..self.pending_len].copy_from_slice(&self.pending[..self.pending_len]);
        self.fold(u64::from_le_bytes(last) ^ self.pending_len as u64);
        (self.state ^ self.total, self.total)
    }
}

/// `IOBUF_STRESS_SCALE` (default 1.0): sanitizer runs set 0.05 to shrink long tests.
pub(crate) fn stress_scale() -> f64 {
    std::env::var("IOBUF_STRESS_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0)
}
