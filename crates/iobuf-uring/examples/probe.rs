//! Prints which io_uring facilities the running kernel supports, and the memlock situation.
//!
//! `cargo run -p iobuf-uring --example probe`

fn main() {
    match iobuf_uring::probe() {
        Ok(features) => print!("{features}"),
        Err(err) => println!("io_uring unavailable: {err}"),
    }
    match iobuf_uring::MemlockLimit::current() {
        Ok(limit) => println!(
            "RLIMIT_MEMLOCK soft {:?} hard {:?} bytes; CAP_IPC_LOCK: {}",
            limit.soft,
            limit.hard,
            iobuf_uring::exempt_from_memlock()
        ),
        Err(err) => println!("getrlimit: {err}"),
    }
}
