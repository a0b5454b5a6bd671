//! Test buffers of our own (no pool needed) and the skip helper.
#![allow(dead_code, unreachable_pub)] // reason: each test binary uses a different subset.

use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use iobuf_align::Region;
use iobuf_uring::{Features, IoBuf, RegisterMemory, Span};

/// The kernel's features, or `None` (printing why) when io_uring is unavailable here.
///
/// # Panics
///
/// On any other probe failure (out of memory, say): that is a failure, not a reason to skip.
pub fn features(test: &str) -> Option<Features> {
    match iobuf_uring::probe() {
        Ok(features) => Some(features),
        Err(err) if err.is_unavailable() => {
            eprintln!("skipped {test}: {err}");
            None
        }
        Err(err) => panic!("{test}: probing io_uring failed: {err}"),
    }
}

/// Whether `has` holds; prints that `test` skipped for lack of `feature` otherwise.
pub fn require(test: &str, has: bool, feature: &str, since: &str) -> bool {
    if !has {
        eprintln!("skipped {test}: this kernel lacks {feature} (Linux {since}+)");
    }
    has
}

/// An mmap region carved into equal buffers, registrable as one span.
#[derive(Clone)]
pub struct Arena {
    region: Arc<Region>,
    stride: usize,
    /// Buffers handed out and not yet dropped.
    pub out: Arc<AtomicUsize>,
}

impl Arena {
    pub fn new(stride: usize, count: usize) -> Self {
        let region = Region::new(stride * count).expect("mmap");
        Self { region: Arc::new(region), stride, out: Arc::new(AtomicUsize::new(0)) }
    }

    /// Address of buffer 0.
    pub fn base(&self) -> usize {
        self.region.as_ptr() as usize
    }

    pub fn count(&self) -> usize {
        self.region.len() / self.stride
    }

    /// Buffer `i`, stamped with `index`. The caller hands out each `i` at most once at a time.
    pub fn buf(&self, i: usize, index: Option<u16>) -> TestBuf {
        assert!(i < self.count());
        let ptr =
            NonNull::new(self.region.as_ptr().cast_mut().wrapping_add(i * self.stride)).unwrap();
        self.out.fetch_add(1, Ordering::SeqCst);
        TestBuf {
            _arena: Arc::clone(&self.region),
            ptr,
            capacity: self.stride,
            filled: 0,
            index,
            out: Arc::clone(&self.out),
            on_drop: None,
        }
    }

    pub fn outstanding(&self) -> usize {
        self.out.load(Ordering::SeqCst)
    }
}

// SAFETY: the region stays mapped while any clone of the Arc lives, and never moves.
unsafe impl RegisterMemory for Arena {
    fn spans(&self) -> Vec<Span> {
        let ptr = NonNull::new(self.region.as_ptr().cast_mut()).unwrap();
        vec![Span::new(ptr, self.region.len(), self.region.page_size()).with_stride(self.stride)]
    }
}

/// What runs when a [`TestBuf`] is released, with its bytes.
pub type DropHook = Box<dyn FnOnce(&[u8]) + Send>;

/// One buffer of an [`Arena`].
pub struct TestBuf {
    _arena: Arc<Region>,
    ptr: NonNull<u8>,
    capacity: usize,
    filled: usize,
    index: Option<u16>,
    out: Arc<AtomicUsize>,
    /// Runs when the buffer is dropped (released), with its bytes.
    pub on_drop: Option<DropHook>,
}

// SAFETY: the buffer is a distinct stride of a region the Arc keeps mapped; the arena hands
// each out once at a time (test discipline), so nothing else touches it.
unsafe impl Send for TestBuf {}
// SAFETY: shared access only reads.
unsafe impl Sync for TestBuf {}

// SAFETY: `ptr` is fixed for the value's life, valid for `capacity` bytes while `_arena` keeps
// the region mapped; `set_filled` keeps `filled <= capacity`.
unsafe impl IoBuf for TestBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    fn capacity(&self) -> usize {
        self.capacity
    }

    fn filled(&self) -> usize {
        self.filled
    }

    fn set_filled(&mut self, n: usize) {
        assert!(n <= self.capacity, "filled {n} > capacity {}", self.capacity);
        self.filled = n;
    }

    fn buf_index(&self) -> Option<u16> {
        self.index
    }
}

impl TestBuf {
    /// Copies `bytes` in and marks them filled.
    pub fn fill(&mut self, bytes: &[u8]) {
        // SAFETY: exclusive access through &mut self to the buffer's own `capacity` bytes; the
        // slice index panics if `bytes` is longer.
        let dst = unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.capacity) };
        dst[..bytes.len()].copy_from_slice(bytes);
        self.set_filled(bytes.len());
    }

    pub fn bytes(&self) -> &[u8] {
        self.filled_bytes()
    }
}

impl std::fmt::Debug for TestBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestBuf").field("ptr", &self.ptr).field("filled", &self.filled).finish()
    }
}

impl Drop for TestBuf {
    fn drop(&mut self) {
        if let Some(hook) = self.on_drop.take() {
            // SAFETY: the buffer's own bytes, still mapped; we are being dropped, so no one
            // else holds it.
            hook(unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.capacity) });
        }
        self.out.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A temporary file with `len` bytes of a known pattern, removed on drop.
pub struct TempFile {
    pub path: std::path::PathBuf,
    pub file: std::fs::File,
}

impl TempFile {
    pub fn with_pattern(name: &str, len: usize) -> Self {
        let path = std::env::temp_dir().join(format!(
            "iobuf-uring-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::write(&path, pattern(len)).unwrap();
        let file = std::fs::File::options().read(true).write(true).open(&path).unwrap();
        Self { path, file }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Byte `i` of the test pattern.
pub fn pattern_byte(i: usize) -> u8 {
    (i.wrapping_mul(31) ^ (i >> 8)) as u8
}

pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(pattern_byte).collect()
}
