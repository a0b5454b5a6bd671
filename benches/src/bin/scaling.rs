//! The multi-thread scaling harness: `cargo xtask bench <what> [--quick] [--threads N]`.

use std::process::ExitCode;

use iobuf_benches::{Settings, buddy, pool, queue, uring};

const USAGE: &str = "usage: scaling <queue|pool|uring|bytes|buddy|all> [--quick] [--threads N]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(what) = args.first() else {
        eprintln!("{USAGE}");
        return ExitCode::FAILURE;
    };
    let settings = match Settings::from_args(&args[1..]) {
        Ok(settings) => settings,
        Err(msg) => {
            eprintln!("{msg}\n{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "iobuf scaling harness: {} cores visible, threads {:?}, {:?} per cell",
        std::thread::available_parallelism().map_or(1, usize::from),
        settings.thread_counts(),
        settings.cell
    );
    match what.as_str() {
        "queue" => print!("{}", queue::run(&settings)),
        "pool" => print!("{}", pool::run(&settings)),
        "uring" => print!("{}", uring::run(&settings)),
        "bytes" => println!("{}", iobuf_benches::bytes::run(&settings)),
        "buddy" => print!("{}", buddy::run(&settings)),
        "all" => {
            print!("{}", queue::run(&settings));
            print!("{}", pool::run(&settings));
            print!("{}", uring::run(&settings));
            println!("{}", iobuf_benches::bytes::run(&settings));
            print!("{}", buddy::run(&settings));
        }
        other => {
            eprintln!("unknown workload `{other}`\n{USAGE}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
