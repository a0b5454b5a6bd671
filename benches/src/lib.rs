//! The scaling harness: run one workload on 1, 2, 4, … threads in one process and print a table
//! with every figure's ratio to a named peer measured in the same run.
//!
//! Only ratios from one run mean anything: absolute figures on shared machines move by tens of
//! percent between runs.

pub mod buddy;
pub mod bytes;
pub mod peer_pools;
pub mod pool;
pub mod queue;
pub mod uring;

use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Settings shared by every scaling workload.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// How long each (workload, contender, thread count) cell runs.
    pub cell: Duration,
    /// The largest thread count to try (the machine's core count unless overridden).
    pub max_threads: usize,
}

impl Settings {
    /// Reads `--quick` (short cells) and `--threads N` from the arguments.
    pub fn from_args(args: &[String]) -> Result<Self, String> {
        let cores = thread::available_parallelism().map_or(1, usize::from);
        let mut settings = Self { cell: Duration::from_millis(1000), max_threads: cores };
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            match arg.as_str() {
                "--quick" => settings.cell = Duration::from_millis(150),
                "--threads" => {
                    let value = iter.next().ok_or("--threads needs a number")?;
                    settings.max_threads =
                        value.parse().map_err(|_| format!("bad thread count `{value}`"))?;
                }
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        Ok(settings)
    }

    /// 1, 2, 4, 8, 16 … up to `max_threads` (plus `max_threads` itself if not a power of two).
    pub fn thread_counts(&self) -> Vec<usize> {
        let mut counts: Vec<usize> =
            (0..).map(|k| 1usize << k).take_while(|&n| n <= self.max_threads).collect();
        if counts.last() != Some(&self.max_threads) {
            counts.push(self.max_threads);
        }
        counts
    }
}

/// Runs `work(thread_index, stop)` on `threads` threads at once for about `cell`, and returns
/// operations per second summed over threads. `work` returns how many operations it did; it
/// must poll `stop` often (every few hundred operations) and return once it is set.
pub fn measure<F>(threads: usize, cell: Duration, work: F) -> f64
where
    F: Fn(usize, &AtomicBool) -> u64 + Sync,
{
    let stop = AtomicBool::new(false);
    let barrier = Barrier::new(threads + 1);
    let (total, elapsed) = thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|index| {
                let (work, stop, barrier) = (&work, &stop, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    work(index, stop)
                })
            })
            .collect();
        barrier.wait();
        let started = Instant::now();
        thread::sleep(cell);
        stop.store(true, Ordering::Relaxed);
        let total: u64 =
            handles.into_iter().map(|h| h.join().expect("bench thread panicked")).sum();
        (total, started.elapsed())
    });
    total as f64 / elapsed.as_secs_f64()
}

/// One printed table: rows are thread counts, columns contenders, each figure followed by its
/// ratio to the baseline column.
#[derive(Debug)]
pub struct Table {
    title: String,
    unit: &'static str,
    row_label: &'static str,
    contenders: Vec<String>,
    baseline: usize,
    rows: Vec<(usize, Vec<f64>)>,
}

impl Table {
    /// A table whose ratios are taken against `contenders[baseline]`.
    pub fn new(title: &str, unit: &'static str, contenders: &[&str], baseline: usize) -> Self {
        assert!(baseline < contenders.len(), "baseline {baseline} out of range");
        Self {
            title: title.to_owned(),
            unit,
            row_label: "threads",
            contenders: contenders.iter().map(|&c| c.to_owned()).collect(),
            baseline,
            rows: Vec::new(),
        }
    }

    /// Names the row key (default `threads`) for workloads whose rows vary something else.
    pub fn with_row_label(mut self, label: &'static str) -> Self {
        self.row_label = label;
        self
    }

    /// Adds the figures for one thread count, one per contender in order.
    pub fn row(&mut self, threads: usize, figures: Vec<f64>) {
        assert_eq!(figures.len(), self.contenders.len(), "one figure per contender");
        self.rows.push((threads, figures));
    }

    /// The table as text.
    pub fn render(&self) -> String {
        let mut out = format!(
            "\n{} ({}; ratio to {})\n",
            self.title, self.unit, self.contenders[self.baseline]
        );
        out += &format!("{:>8}", self.row_label);
        for name in &self.contenders {
            out += &format!(" | {name:>24}");
        }
        out.push('\n');
        for (threads, figures) in &self.rows {
            out += &format!("{threads:>8}");
            let base = figures[self.baseline];
            for &figure in figures {
                let cell = format!("{} ({:.2}x)", human(figure), figure / base);
                out += &format!(" | {cell:>24}");
            }
            out.push('\n');
        }
        out
    }
}

/// 12.3 M, 456.7 k, …
pub fn human(value: f64) -> String {
    match value {
        v if v >= 1e9 => format!("{:.2} G", v / 1e9),
        v if v >= 1e6 => format!("{:.2} M", v / 1e6),
        v if v >= 1e3 => format!("{:.1} k", v / 1e3),
        v => format!("{v:.1}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_counts_are_powers_of_two_then_the_max() {
        let settings = Settings { cell: Duration::ZERO, max_threads: 12 };
        assert_eq!(settings.thread_counts(), vec![1, 2, 4, 8, 12]);
        let settings = Settings { cell: Duration::ZERO, max_threads: 16 };
        assert_eq!(settings.thread_counts(), vec![1, 2, 4, 8, 16]);
    }

    #[test]
    fn measure_sums_operations_over_threads() {
        let rate = measure(2, Duration::from_millis(20), |_, stop| {
            let mut ops = 0;
            while !stop.load(Ordering::Relaxed) {
                ops += 1;
                std::hint::spin_loop();
            }
            ops
        });
        assert!(rate > 0.0);
    }

    #[test]
    fn row_label_names_the_first_column() {
        let mut table = Table::new("t", "B/s", &["a"], 0).with_row_label("ring KiB");
        table.row(64, vec![1.0]);
        let text = table.render();
        assert!(text.contains("ring KiB") && !text.contains("threads"), "{text}");
    }

    #[test]
    fn table_shows_ratio_to_baseline() {
        let mut table = Table::new("t", "ops/s", &["a", "b"], 0);
        table.row(1, vec![1e6, 3e6]);
        let text = table.render();
        assert!(text.contains("(1.00x)") && text.contains("(3.00x)"), "{text}");
    }
}
