//! Registration: growth through the sparse table, the same memory on several rings, slot
//! accounting, memlock bookkeeping.

mod common;

use std::os::fd::AsRawFd;
use std::ptr::NonNull;
use std::sync::Arc;

use common::{Arena, TempFile, TestBuf, features, pattern, require};
use iobuf_uring::ops::Read;
use iobuf_uring::{
    IoBuf, RegisterMemory, RegisterOptions, Ring, Span, UringError, pinned_by_this_process,
};

const PAGE: usize = 4096;

fn sparse(test: &str) -> bool {
    features(test).is_some_and(|f| require(test, f.sparse_buffers, "sparse buffer table", "5.13"))
}

/// Reads the first page of `file` into `buf` and checks it.
fn read_page(ring: &mut Ring<TestBuf>, file: &TempFile, buf: TestBuf) -> TestBuf {
    ring.push(Read::at(&file.file, buf, 0).len(PAGE)).unwrap();
    let (result, buf) = ring.wait().unwrap().into_buf().unwrap();
    assert_eq!(result.unwrap(), PAGE);
    assert_eq!(buf.filled_bytes(), &pattern(PAGE)[..]);
    buf
}

#[test]
fn pools_added_later_take_the_next_slots_and_all_work() {
    if !sparse("pools_added_later_take_the_next_slots_and_all_work") {
        return;
    }
    let mut ring = Ring::<TestBuf>::builder().buffer_slots(4).build().unwrap();
    let file = TempFile::with_pattern("growth", PAGE);
    let first = Arena::new(PAGE, 4);
    let reg_first = ring.register(first.clone(), RegisterOptions::new()).unwrap();
    assert_eq!(reg_first.slots(), 0..1);
    // Use the first pool, then grow: the first registration stays valid throughout.
    let buf = read_page(&mut ring, &file, first.buf(0, reg_first.slots().start.into()));
    let second = Arena::new(2 * PAGE, 4);
    let reg_second = ring.register(second.clone(), RegisterOptions::new()).unwrap();
    assert_eq!(reg_second.slots(), 1..2);
    let third = Arena::new(PAGE, 1);
    let reg_third = ring.register(third.clone(), RegisterOptions::new()).unwrap();
    assert_eq!(reg_third.slots(), 2..3);
    drop(read_page(&mut ring, &file, buf));
    drop(read_page(&mut ring, &file, second.buf(3, Some(1))));
    drop(read_page(&mut ring, &file, third.buf(0, Some(2))));
    // A stamped index is checked against the memory by the kernel, per slot.
    ring.push(Read::at(&file.file, second.buf(0, Some(0)), 0)).unwrap();
    let (result, _) = ring.wait().unwrap().into_buf().unwrap();
    assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::EFAULT));
}

#[test]
fn a_full_table_says_so() {
    if !sparse("a_full_table_says_so") {
        return;
    }
    let mut ring = Ring::<TestBuf>::builder().buffer_slots(1).build().unwrap();
    ring.register(Arena::new(PAGE, 1), RegisterOptions::new()).unwrap();
    let err = ring.register(Arena::new(PAGE, 1), RegisterOptions::new()).unwrap_err();
    assert!(matches!(err, UringError::SlotsExhausted { needed: 1, table: 1 }), "{err:?}");
    // Fallback covers memlock and old kernels, not a full table: that is a sizing mistake.
    let options = RegisterOptions::new().fallback_to_unregistered(true);
    let err = ring.register(Arena::new(PAGE, 1), options).unwrap_err();
    assert!(matches!(err, UringError::SlotsExhausted { .. }), "{err:?}");
}

#[test]
fn the_same_memory_on_several_rings() {
    if !sparse("the_same_memory_on_several_rings") {
        return;
    }
    let arena = Arena::new(PAGE, 8);
    let file = TempFile::with_pattern("several", PAGE);
    let mut first = Ring::<TestBuf>::new(8).unwrap();
    let registration = first.register(arena.clone(), RegisterOptions::new()).unwrap();
    let slot = registration.slots().start;
    let mut rings: Vec<Ring<TestBuf>> = (0..3).map(|_| Ring::new(8).unwrap()).collect();
    for ring in &mut rings {
        ring.attach(&registration).unwrap();
    }
    // Attaching twice to the same ring: the slots are taken.
    let err = rings[0].attach(&registration).unwrap_err();
    assert!(matches!(err, UringError::SlotsTaken { first: 0, count: 1 }), "{err:?}");
    // A ring whose first slot holds other memory cannot take it at the same index.
    let mut busy = Ring::<TestBuf>::new(8).unwrap();
    busy.register(Arena::new(PAGE, 1), RegisterOptions::new()).unwrap();
    assert!(matches!(busy.attach(&registration), Err(UringError::SlotsTaken { .. })));
    // Every ring reads into the same pool's buffers, with the same buf_index, from its thread.
    std::thread::scope(|scope| {
        for (i, mut ring) in rings.into_iter().enumerate() {
            let buf = arena.buf(i, Some(slot));
            let file = &file;
            scope.spawn(move || drop(read_page(&mut ring, file, buf)));
        }
    });
    drop(read_page(&mut first, &file, arena.buf(7, Some(slot))));
    assert_eq!(arena.outstanding(), 0);
}

#[test]
fn registered_memory_outlives_the_caller_and_pinned_bytes_are_counted() {
    if !sparse("registered_memory_outlives_the_caller_and_pinned_bytes_are_counted") {
        return;
    }
    let mut ring = Ring::<TestBuf>::new(8).unwrap();
    let arena = Arena::new(PAGE, 16);
    let buf = arena.buf(0, Some(0));
    let registration = ring.register(arena, RegisterOptions::new()).unwrap();
    assert_eq!(registration.pinned_bytes(), 16 * PAGE);
    // Other tests in this binary register concurrently: only a lower bound holds.
    assert!(pinned_by_this_process() >= 16 * PAGE);
    // The caller dropped its arena: the registration keeps the memory mapped.
    drop(registration);
    let file = TempFile::with_pattern("outlive", PAGE);
    drop(read_page(&mut ring, &file, buf));
}

/// A shared, writable mapping of a file in the target directory (a disk file system, where the
/// kernel refuses to pin file pages for the long term), unmapped on drop.
struct FileMapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is only ever described (spans), never accessed through this value.
unsafe impl Send for FileMapping {}
// SAFETY: as above.
unsafe impl Sync for FileMapping {}

impl FileMapping {
    fn new(len: usize) -> Self {
        let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("iobuf-uring-file-mapping-{}", std::process::id()));
        let file = std::fs::File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        file.set_len(len as u64).unwrap();
        std::fs::remove_file(&path).unwrap();
        let (prot, flags) = (libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED);
        #[allow(clippy::disallowed_methods)]
        // reason: iobuf-align maps no files; the test needs one.
        // SAFETY: a fresh mapping chosen by the kernel, of a file we keep open for the call.
        let ptr =
            unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, file.as_raw_fd(), 0) };
        assert_ne!(ptr, libc::MAP_FAILED, "mmap: {}", std::io::Error::last_os_error());
        Self { ptr: NonNull::new(ptr.cast()).unwrap(), len }
    }
}

impl Drop for FileMapping {
    fn drop(&mut self) {
        #[allow(clippy::disallowed_methods)] // reason: undoes the mapping made in `new`.
        // SAFETY: the mapping made in `new`, unmapped once, when its last owner goes.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len)
        };
    }
}

/// Anonymous memory first, then a file mapping: two spans, two chunks, two slots.
#[derive(Clone)]
struct AnonThenFile {
    anon: Arena,
    file: Arc<FileMapping>,
}

// SAFETY: both spans are writable mappings that stay mapped, at the same addresses, as long as
// a clone holds the Arena's region and the Arc'd file mapping; the list never changes.
unsafe impl RegisterMemory for AnonThenFile {
    fn spans(&self) -> Vec<Span> {
        let mut spans = self.anon.spans();
        spans.push(Span::new(self.file.ptr, self.file.len, PAGE));
        spans
    }
}

/// The file mapping alone.
struct FileOnly(Arc<FileMapping>);

// SAFETY: one span, the whole mapping, which lives as long as any clone of the Arc.
unsafe impl RegisterMemory for FileOnly {
    fn spans(&self) -> Vec<Span> {
        vec![Span::new(self.0.ptr, self.0.len, PAGE)]
    }
}

/// The kernel registers the first chunk and refuses the second: that is an error (not a
/// registration with a dead slot), and the first chunk's slot is emptied again.
#[test]
fn a_registration_the_kernel_takes_only_in_part_is_refused_and_leaves_no_slot_behind() {
    let name = "a_registration_the_kernel_takes_only_in_part_is_refused_and_leaves_no_slot_behind";
    if !sparse(name) {
        return;
    }
    let file = Arc::new(FileMapping::new(4 * PAGE));
    let mut probe = Ring::<TestBuf>::new(8).unwrap();
    if probe.register(FileOnly(Arc::clone(&file)), RegisterOptions::new()).is_ok() {
        eprintln!("skipped {name}: this kernel pins file pages of the target directory");
        return;
    }
    let anon = Arena::new(PAGE, 4);
    let mut ring = Ring::<TestBuf>::builder().buffer_slots(4).build().unwrap();
    let memory = AnonThenFile { anon: anon.clone(), file };
    let err = ring.register(memory.clone(), RegisterOptions::new()).unwrap_err();
    assert!(matches!(err, UringError::Os { .. }), "{err:?}");
    // Falling back covers memlock refusals and old kernels, not this.
    let options = RegisterOptions::new().fallback_to_unregistered(true);
    let err = ring.register(memory, options).unwrap_err();
    assert!(matches!(err, UringError::Os { .. }), "{err:?}");
    // The anonymous chunk's slot names nothing any more: a fixed read there is refused.
    let file = TempFile::with_pattern("partial", PAGE);
    ring.push(Read::at(&file.file, anon.buf(0, Some(0)), 0)).unwrap();
    let (result, _) = ring.wait().unwrap().into_buf().unwrap();
    assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::EFAULT), "slot 0 left behind");
    // And the slots are free for the next registration.
    let next = Arena::new(PAGE, 1);
    let registration = ring.register(next.clone(), RegisterOptions::new()).unwrap();
    assert_eq!(registration.slots(), 0..1);
    drop(read_page(&mut ring, &file, next.buf(0, Some(0))));
}
