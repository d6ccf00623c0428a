//! A closed-loop load generator: `in_flight` tasks each run one operation after another
//! until the time is up, and every operation's latency is recorded.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

/// One operation of a scenario, called with a number unique within the whole run (to pick a
/// session, or to name a new user).
pub type Op = Arc<dyn Fn(usize) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Boxes an async closure as an [`Op`]. The operation panics if it fails: a benchmark of a
/// failing operation measures nothing.
pub fn op<F, Fut>(f: F) -> Op
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Arc::new(move |i| Box::pin(f(i)))
}

/// Throughput and latency of one measurement.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub ops_per_sec: f64,
    pub p50_us: f64,
    pub p99_us: f64,
}

impl Sample {
    /// The median of each figure over several rounds.
    pub fn median(samples: &[Sample]) -> Sample {
        let pick = |f: fn(&Sample) -> f64| median(samples.iter().map(f).collect());
        Sample { ops_per_sec: pick(|s| s.ops_per_sec), p50_us: pick(|s| s.p50_us), p99_us: pick(|s| s.p99_us) }
    }
}

pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The median of `subject[i] / floor[i]` over rates measured side by side: a drift of the
/// machine's speed moves both of a pair alike, and cancels.
pub fn paired_ratio(subject: impl IntoIterator<Item = f64>, floor: impl IntoIterator<Item = f64>) -> f64 {
    median(subject.into_iter().zip(floor).map(|(s, f)| s / f).collect())
}

/// Numbers handed to operations, unique over the whole run.
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Runs `op` from `in_flight` tasks for `duration`.
pub async fn run(op: &Op, in_flight: usize, duration: Duration) -> Sample {
    let start = Instant::now();
    let deadline = start + duration;
    // In a JoinSet, so that a run stopped part way (see `main`'s `unless_stopped`) ends its
    // tasks too.
    let mut tasks = JoinSet::new();
    for _ in 0..in_flight {
        let op = Arc::clone(op);
        tasks.spawn(async move {
            let mut latencies_ns = Vec::with_capacity(4096);
            loop {
                let began = Instant::now();
                if began >= deadline {
                    break latencies_ns;
                }
                op(NEXT.fetch_add(1, Ordering::Relaxed)).await;
                latencies_ns.push(began.elapsed().as_nanos() as u64);
            }
        });
    }
    let mut latencies_ns: Vec<u64> = tasks.join_all().await.into_iter().flatten().collect();
    let elapsed = start.elapsed().as_secs_f64();
    latencies_ns.sort_unstable();
    let percentile = |p: f64| {
        let index = ((latencies_ns.len() as f64 * p).ceil() as usize).saturating_sub(1);
        latencies_ns.get(index).map_or(f64::NAN, |&ns| ns as f64 / 1000.0)
    };
    Sample { ops_per_sec: latencies_ns.len() as f64 / elapsed, p50_us: percentile(0.50), p99_us: percentile(0.99) }
}

/// Password checks per second of `hasher` (a `hasher` field) on `threads` OS threads with
/// nothing else running: the most any sign-in path could reach on this machine. Measured in a
/// process of its own (this binary with [`RAW_HASHES_FLAG`]): in this long-running one, which
/// threads' glibc arenas already hold an `s2` hash's 32 MiB, and so hash without page faults,
/// depends on what ran on them before, and the floor swung between 19 and 24 hashes/s with it
/// (run 11); a fresh process starts where a fresh application does.
pub async fn raw_hashes(hasher: &str, threads: usize, duration: Duration) -> f64 {
    let output = tokio::process::Command::new(std::env::current_exe().expect("this binary's path"))
        .args([RAW_HASHES_FLAG, hasher, &threads.to_string(), &duration.as_secs_f64().to_string()])
        .kill_on_drop(true)
        .output()
        .await
        .expect("run the raw hashes");
    let printed = String::from_utf8_lossy(&output.stdout);
    match printed.trim().parse() {
        Ok(rate) if output.status.success() => rate,
        _ => panic!("the raw hashes failed ({}): {printed}{}", output.status, String::from_utf8_lossy(&output.stderr)),
    }
}

/// The argument that makes this binary the process of [`raw_hashes`]: `RAW_HASHES_FLAG HASHER
/// THREADS SECONDS` prints the rate of [`hashes_per_second`].
pub const RAW_HASHES_FLAG: &str = "--raw-hashes";

/// Calls of `check` per second on `threads` OS threads, each calling it back to back for
/// `duration`.
pub fn hashes_per_second(threads: usize, duration: Duration, check: &(dyn Fn() + Sync)) -> f64 {
    let start = Instant::now();
    let deadline = start + duration;
    let total: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut count = 0;
                    while Instant::now() < deadline {
                        check();
                        count += 1;
                    }
                    count
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("hashing thread panicked")).sum()
    });
    total as f64 / start.elapsed().as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paired_ratio_cancels_a_drift_that_the_ratio_of_medians_does_not() {
        // The subject is half its floor in every pair, while the machine slows tenfold and one
        // floor slice is disturbed.
        let (subject, floor) = ([10.0, 100.0, 100.0], [20.0, 200.0, 20.0]);
        assert_eq!(paired_ratio(subject, floor), 0.5);
        assert_eq!(median(subject.to_vec()) / median(floor.to_vec()), 5.0);
        assert!(paired_ratio([], []).is_nan());
    }
}
