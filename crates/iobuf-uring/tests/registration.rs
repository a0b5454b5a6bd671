//! Registration: growth through the sparse table, the same memory on several rings, slot
//! accounting, memlock bookkeeping.

mod common;

use common::{Arena, TempFile, TestBuf, features, pattern, require};
use iobuf_uring::ops::Read;
use iobuf_uring::{IoBuf, RegisterOptions, Ring, UringError, pinned_by_this_process};

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
