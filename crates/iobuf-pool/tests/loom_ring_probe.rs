#![cfg(iobuf_loom)]
use iobuf_queue::IndexRing;
use loom::sync::Arc;
use loom::thread;

#[test]
fn push_then_own_pop_after_failed_pops() {
    loom::model(|| {
        let ring = Arc::new(IndexRing::new_full(1).unwrap());
        assert_eq!(ring.pop(), Some(0));
        let r2 = ring.clone();
        let t = thread::spawn(move || {
            r2.push_many(&[0]);
            r2.pop()
        });
        let mut out = [0u32; 1];
        let a = ring.pop();
        let b = ring.pop_many(&mut out);
        let c = ring.pop();
        let got = t.join().unwrap();
        let total = a.is_some() as usize + b + c.is_some() as usize + got.is_some() as usize;
        assert_eq!(total, 1, "a={a:?} b={b} c={c:?} got={got:?}");
    });
}
