//! Developer tasks for the iobuf workspace, after the cargo-xtask convention.
//!
//! `cargo xtask ci` is the one command CI runs; plain `cargo build` / `cargo test` never need it.

use std::env;
use std::process::{Command, ExitCode};
use std::time::Instant;

const USAGE: &str = "\
usage: cargo xtask <task> [args]

tasks:
  ci              fmt --check, clippy -D warnings, tests, docs -D warnings, loom models
  loom [bound]    loom models in release (LOOM_MAX_PREEMPTIONS=bound, default 3)
  san [asan|tsan] sanitizer test runs (both when omitted); needs RUSTC_BOOTSTRAP, set here
  bench <what> [--quick]
                  scaling harness: what = queue | pool | uring | bytes | buddy | all
";

/// Loom bound used inside `ci`: the full bound 3 is `cargo xtask loom`'s job.
const CI_LOOM_BOUND: &str = "2";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("loom") => loom(args.get(1).map_or("3", String::as_str)),
        Some("san") => san(args.get(1).map(String::as_str)),
        Some("bench") => bench(&args[1..]),
        Some("-h" | "--help" | "help") | None => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(format!("unknown task `{other}`\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("xtask: FAILED: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// One step of a task: a cargo invocation with extra environment.
struct Step<'a> {
    name: &'a str,
    args: &'a [&'a str],
    env: &'a [(&'a str, &'a str)],
}

fn run(step: &Step<'_>) -> Result<(), String> {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    eprintln!("xtask: ==> {} (cargo {})", step.name, step.args.join(" "));
    let started = Instant::now();
    let mut cmd = Command::new(cargo);
    cmd.args(step.args);
    for (key, value) in step.env {
        cmd.env(key, value);
    }
    let status = cmd.status().map_err(|e| format!("{}: could not start cargo: {e}", step.name))?;
    if !status.success() {
        return Err(format!("step `{}` failed ({status})", step.name));
    }
    eprintln!("xtask: <== {} ok in {:.1}s", step.name, started.elapsed().as_secs_f64());
    Ok(())
}

fn ci() -> Result<(), String> {
    let steps = [
        Step { name: "fmt", args: &["fmt", "--all", "--check"], env: &[] },
        Step {
            name: "clippy",
            args: &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"],
            env: &[],
        },
        Step { name: "test", args: &["test", "--workspace"], env: &[] },
        Step {
            name: "doc",
            args: &["doc", "--workspace", "--no-deps"],
            env: &[("RUSTDOCFLAGS", "-D warnings")],
        },
    ];
    for step in &steps {
        run(step)?;
    }
    loom(CI_LOOM_BOUND)?;
    eprintln!("xtask: ci passed");
    Ok(())
}

/// Packages that have loom models (`tests/loom*.rs` gated on `cfg(iobuf_loom)`).
const LOOM_PACKAGES: &[&str] = &["iobuf-queue", "iobuf-pool"];

fn loom(bound: &str) -> Result<(), String> {
    if LOOM_PACKAGES.is_empty() {
        eprintln!("xtask: loom: no crate has loom models yet; nothing to run");
        return Ok(());
    }
    let mut args = vec!["test", "--profile", "loom"];
    for package in LOOM_PACKAGES {
        args.extend(["--package", package]);
    }
    args.extend(["--test", "loom*"]);
    // A separate target dir keeps the loom cfg from invalidating the normal build.
    run(&Step {
        name: "loom",
        args: &args,
        env: &[
            ("RUSTFLAGS", "--cfg iobuf_loom"),
            ("RUSTDOCFLAGS", "--cfg iobuf_loom"),
            ("LOOM_MAX_PREEMPTIONS", bound),
            ("CARGO_TARGET_DIR", "target/loom"),
        ],
    })
}

fn san(which: Option<&str>) -> Result<(), String> {
    let kinds: Vec<&str> = match which {
        None => vec!["asan", "tsan"],
        Some(kind @ ("asan" | "tsan")) => vec![kind],
        Some(other) => return Err(format!("unknown sanitizer `{other}` (asan or tsan)")),
    };
    // With the rust-src component, std itself is rebuilt instrumented (-Zbuild-std), so TSan
    // sees the synchronisation inside std's Mutex, Arc and thread join. Without it, the
    // suppressions name std's known false reports instead.
    let build_std = has_rust_src();
    if !build_std {
        eprintln!(
            "xtask: san: no rust-src component: std stays uninstrumented and TSan relies on \
             xtask/tsan-suppressions.txt (`rustup component add rust-src` for the full check)"
        );
    }
    // Absolute, so the test binaries find it whatever their working directory.
    let tsan_options = if build_std {
        "halt_on_error=1 allocator_may_return_null=1".to_owned()
    } else {
        format!(
            "halt_on_error=1 allocator_may_return_null=1 suppressions={}/tsan-suppressions.txt",
            env!("CARGO_MANIFEST_DIR")
        )
    };
    // Tests that leak on purpose (a ring never frees what the kernel may still write).
    let lsan_options = format!("suppressions={}/lsan-suppressions.txt", env!("CARGO_MANIFEST_DIR"));
    for kind in kinds {
        let (flags, dir) = match kind {
            "asan" => ("-Zsanitizer=address", "target/asan"),
            _ => ("-Zsanitizer=thread -Cunsafe-allow-abi-mismatch=sanitizer", "target/tsan"),
        };
        let mut args = vec!["test"];
        if build_std {
            args.push("-Zbuild-std");
        }
        args.extend([
            "--workspace",
            "--exclude",
            "xtask",
            "--lib",
            "--tests",
            "--target",
            "x86_64-unknown-linux-gnu",
        ]);
        run(&Step {
            name: kind,
            args: &args,
            env: &[
                ("RUSTC_BOOTSTRAP", "1"),
                ("RUSTFLAGS", flags),
                ("RUSTDOCFLAGS", flags),
                ("CARGO_TARGET_DIR", dir),
                // Sanitized runs are slow: stress tests read this to shrink themselves.
                ("IOBUF_STRESS_SCALE", "0.05"),
                // Tests that a sanitizer falsifies (both make mlock a no-op) skip, saying why.
                ("IOBUF_SANITIZER", kind),
                ("TSAN_OPTIONS", &tsan_options),
                // Out-of-memory tests ask for 64 TiB on purpose and expect a null, not an abort.
                ("ASAN_OPTIONS", "allocator_may_return_null=1"),
                ("LSAN_OPTIONS", &lsan_options),
                // The sanitizers print their own stacks. Without build-std, panic backtraces
                // would have `should_panic` tests symbolise at once through state std shares
                // under a lock TSan cannot see, whatever the caller's shell sets.
                ("RUST_BACKTRACE", "0"),
            ],
        })?;
    }
    Ok(())
}

/// Whether the toolchain has the rust-src component `-Zbuild-std` needs.
fn has_rust_src() -> bool {
    let sysroot = Command::new(env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned()))
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok());
    sysroot.is_some_and(|root| {
        std::path::Path::new(root.trim()).join("lib/rustlib/src/rust/library/std").is_dir()
    })
}

fn bench(args: &[String]) -> Result<(), String> {
    let Some(what) = args.first() else {
        return Err(format!("bench needs a target\n{USAGE}"));
    };
    let mut cargo_args =
        vec!["run", "--release", "--package", "iobuf-benches", "--bin", "scaling", "--"];
    cargo_args.push(what.as_str());
    cargo_args.extend(args[1..].iter().map(String::as_str));
    run(&Step { name: "bench", args: &cargo_args, env: &[] })
}
