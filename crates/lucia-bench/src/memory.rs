//! What an operation allocates, and what a thousand sign-ins at once cost in memory.
//!
//! Allocations are counted by `allocation-counter`, the binary's global allocator, on the
//! thread that polls the operation: everything the operation's own future does (lucia, the
//! adapter, the driver's encoding and decoding), not what other threads do for it (sqlx's
//! SQLite worker thread, the Redis connection's driver task, the hashing threads).

use std::sync::Arc;
use std::time::Duration;

use allocation_counter::AllocationInfo;

use crate::measure::Op;

/// Operations measured per figure.
const OPS: usize = 200;

/// Allocations and bytes allocated per call of `op`, on average over [`OPS`] calls made one
/// after another (after one call to warm caches and pools up).
pub fn allocations_per_op(op: &Op) -> (f64, f64) {
    let handle = tokio::runtime::Handle::current();
    // `block_on` on this worker thread, so that the whole future is polled here, where the
    // counter counts.
    tokio::task::block_in_place(|| {
        handle.block_on(op(0));
        let info: AllocationInfo = allocation_counter::measure(|| {
            for i in 1..=OPS {
                handle.block_on(op(i));
            }
        });
        (info.count_total as f64 / OPS as f64, info.bytes_total as f64 / OPS as f64)
    })
}

/// The process's resident memory now and its peak since the last [`reset_peak_rss`], in MiB
/// (Linux's `/proc/self/status`), or `None` elsewhere.
fn rss_mib() -> Option<(f64, f64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map(|kib| kib / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Resets the peak resident memory to the current (Linux's `clear_refs`).
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// What `count` sign-ins started at once cost: the resident memory before, and the peak while
/// they run (for `duration`, after which the ones still waiting are cancelled), and how many
/// finished meanwhile. `None` where the OS does not tell.
pub async fn concurrent_sign_ins(sign_in: &Op, count: usize, duration: Duration) -> Option<SignInMemory> {
    if !reset_peak_rss() {
        return None;
    }
    let (before, _) = rss_mib()?;
    let finished = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..count {
        let (sign_in, finished) = (Arc::clone(sign_in), Arc::clone(&finished));
        tasks.spawn(async move {
            sign_in(i).await;
            finished.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        });
    }
    tokio::time::sleep(duration).await;
    let (_, peak) = rss_mib()?;
    // Cancels those still waiting.
    tasks.shutdown().await;
    Some(SignInMemory {
        before_mib: before,
        peak_mib: peak,
        finished: finished.load(std::sync::atomic::Ordering::Relaxed),
    })
}

/// See [`concurrent_sign_ins`].
pub struct SignInMemory {
    pub before_mib: f64,
    pub peak_mib: f64,
    pub finished: usize,
}
