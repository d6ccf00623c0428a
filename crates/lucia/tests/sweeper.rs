//! `Lucia::spawn_session_sweeper` on the memory adapter, in tokio's paused time: sweeps run at
//! once and then every period, `stop` waits for a sweep in progress, dropping the sweeper
//! ends its task, and a failing store is logged and retried.

mod logs;

use logs::Logs;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lucia::memory::MemoryAdapter;
use lucia::{
    AdapterError, AttributeMap, DatabaseSession, Lucia, SessionAdapter, SessionSweeper, SessionUpdate, SplitAdapter,
};
use tokio::sync::{Notify, Semaphore};

const HOUR: Duration = Duration::from_secs(60 * 60);

/// A session store over [`MemoryAdapter`] that counts sweeps, can hold a sweep until released,
/// and can fail as an unreachable store does.
#[derive(Clone)]
struct Probe {
    inner: MemoryAdapter,
    state: Arc<ProbeState>,
}

struct ProbeState {
    started: AtomicUsize,
    finished: AtomicUsize,
    fail: AtomicBool,
    hold: AtomicBool,
    release: Semaphore,
    entered: Notify,
}

impl Probe {
    fn new() -> Self {
        let state = ProbeState {
            started: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            fail: AtomicBool::new(false),
            hold: AtomicBool::new(false),
            release: Semaphore::new(0),
            entered: Notify::new(),
        };
        Self { inner: MemoryAdapter::new().without_foreign_keys(), state: Arc::new(state) }
    }
    fn started(&self) -> usize {
        self.state.started.load(Ordering::SeqCst)
    }
    fn finished(&self) -> usize {
        self.state.finished.load(Ordering::SeqCst)
    }
    fn session_count(&self) -> usize {
        self.inner.sessions().len()
    }
    async fn add_sessions(&self, dead: usize, live: usize) {
        let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap();
        for i in 0..dead + live {
            let idle_expires = if i < dead { now - 2 * 60 * 60 * 1000 } else { now + 24 * 60 * 60 * 1000 };
            let session = DatabaseSession {
                id: lucia::generate_random_string(40),
                user_id: "user".into(),
                active_expires: idle_expires,
                idle_expires,
                attributes: AttributeMap::new(),
            };
            self.inner.set_session(session).await.unwrap();
        }
    }
}

impl SessionAdapter for Probe {
    async fn get_session(&self, session_id: &str) -> Result<Option<DatabaseSession>, AdapterError> {
        self.inner.get_session(session_id).await
    }
    async fn get_sessions_by_user_id(&self, user_id: &str) -> Result<Vec<DatabaseSession>, AdapterError> {
        self.inner.get_sessions_by_user_id(user_id).await
    }
    async fn set_session(&self, session: DatabaseSession) -> Result<(), AdapterError> {
        self.inner.set_session(session).await
    }
    async fn update_session(&self, session_id: &str, update: SessionUpdate) -> Result<(), AdapterError> {
        self.inner.update_session(session_id, update).await
    }
    async fn delete_session(&self, session_id: &str) -> Result<(), AdapterError> {
        self.inner.delete_session(session_id).await
    }
    async fn delete_sessions_by_user_id(&self, user_id: &str) -> Result<(), AdapterError> {
        self.inner.delete_sessions_by_user_id(user_id).await
    }
    async fn delete_dead_sessions_by_user_id(&self, user_id: &str, now_ms: i64) -> Result<(), AdapterError> {
        self.inner.delete_dead_sessions_by_user_id(user_id, now_ms).await
    }
    async fn delete_dead_sessions(&self, now_ms: i64) -> Result<u64, AdapterError> {
        self.state.started.fetch_add(1, Ordering::SeqCst);
        self.state.entered.notify_one();
        if self.state.hold.load(Ordering::SeqCst) {
            self.state.release.acquire().await.unwrap().forget();
        }
        if self.state.fail.load(Ordering::SeqCst) {
            return Err(AdapterError::unavailable("connection refused (test)"));
        }
        let deleted = self.inner.delete_dead_sessions(now_ms).await?;
        self.state.finished.fetch_add(1, Ordering::SeqCst);
        Ok(deleted)
    }
}

type Auth = Lucia<SplitAdapter<MemoryAdapter, Probe>>;

fn auth(probe: &Probe) -> Auth {
    Lucia::builder(SplitAdapter::new(MemoryAdapter::new(), probe.clone())).build()
}

/// Lets the sweeper task run until `done` holds (the memory store never waits on anything).
async fn settle(what: &str, done: impl Fn() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("timed out waiting for: {what}");
}

/// Lets the sweeper task run for a while, for checks that something does not happen.
async fn idle() {
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn sweeps_at_once_then_every_period() {
    let logs = Logs::install();
    let probe = Probe::new();
    probe.add_sessions(3, 1).await;
    let sweeper = auth(&probe).spawn_session_sweeper(HOUR);

    settle("the first sweep", || probe.finished() == 1).await;
    assert_eq!(probe.session_count(), 1, "the dead sessions are gone, the live one stays");
    let log = logs.text();
    assert!(log.contains("INFO") && log.contains("swept dead sessions") && log.contains("deleted=3"), "{log}");
    assert!(log.contains("elapsed_ms="), "{log}");

    probe.add_sessions(2, 0).await;
    tokio::time::advance(HOUR - Duration::from_secs(1)).await;
    idle().await;
    assert_eq!(probe.started(), 1, "no sweep before the period is over");
    assert_eq!(probe.session_count(), 3);

    tokio::time::advance(Duration::from_secs(1)).await;
    settle("the second sweep", || probe.finished() == 2).await;
    assert_eq!(probe.session_count(), 1);
    assert!(logs.text().contains("deleted=2"), "{}", logs.text());

    tokio::time::advance(HOUR).await;
    settle("the third sweep", || probe.finished() == 3).await;
    assert!(logs.text().contains("deleted=0"), "{}", logs.text());

    sweeper.stop().await;
    tokio::time::advance(3 * HOUR).await;
    idle().await;
    assert_eq!(probe.started(), 3, "no sweep after stop");
}

#[tokio::test(start_paused = true)]
async fn stop_waits_for_the_sweep_in_progress() {
    let probe = Probe::new();
    probe.add_sessions(2, 0).await;
    probe.state.hold.store(true, Ordering::SeqCst);
    let sweeper = auth(&probe).spawn_session_sweeper(HOUR);
    probe.state.entered.notified().await;
    assert_eq!(probe.started(), 1);

    let stopping = tokio::spawn(sweeper.stop());
    tokio::time::advance(3 * HOUR).await;
    idle().await;
    assert!(!stopping.is_finished(), "stop returned while a sweep was in progress");
    assert_eq!((probe.started(), probe.finished()), (1, 0));

    probe.state.release.add_permits(1);
    stopping.await.unwrap();
    assert_eq!(probe.finished(), 1, "the sweep in progress ran to its end");
    assert_eq!(probe.session_count(), 0);

    tokio::time::advance(3 * HOUR).await;
    idle().await;
    assert_eq!(probe.started(), 1, "no sweep after stop");
}

#[tokio::test(start_paused = true)]
async fn stop_of_an_idle_sweeper_returns_at_once() {
    let probe = Probe::new();
    let sweeper = auth(&probe).spawn_session_sweeper(HOUR);
    settle("the first sweep", || probe.finished() == 1).await;
    // Paused time only moves when the runtime is idle; a `stop` that waited for the next tick
    // would move it by an hour.
    let before = tokio::time::Instant::now();
    sweeper.stop().await;
    assert!(before.elapsed() < Duration::from_secs(1));
    assert_eq!(probe.started(), 1);
}

/// The task holds the only other `Lucia`, so the probe's state is shared by two owners while
/// it runs and by one once it has ended.
#[tokio::test(start_paused = true)]
async fn dropping_the_sweeper_ends_its_task() {
    let probe = Probe::new();
    let auth = auth(&probe);
    let sweeper = auth.spawn_session_sweeper(HOUR);
    drop(auth);
    settle("the first sweep", || probe.finished() == 1).await;
    assert_eq!(Arc::strong_count(&probe.state), 2, "the task is running");

    drop(sweeper);
    settle("the task to end", || Arc::strong_count(&probe.state) == 1).await;
    tokio::time::advance(3 * HOUR).await;
    idle().await;
    assert_eq!(probe.started(), 1, "no sweep after drop");
}

#[tokio::test(start_paused = true)]
async fn dropping_the_sweeper_mid_sweep_lets_the_sweep_finish_then_ends() {
    let probe = Probe::new();
    probe.add_sessions(2, 0).await;
    probe.state.hold.store(true, Ordering::SeqCst);
    let auth = auth(&probe);
    let sweeper: SessionSweeper = auth.spawn_session_sweeper(HOUR);
    drop(auth);
    probe.state.entered.notified().await;

    drop(sweeper);
    idle().await;
    assert_eq!(Arc::strong_count(&probe.state), 2, "the sweep is still in progress");
    probe.state.release.add_permits(1);
    settle("the task to end", || Arc::strong_count(&probe.state) == 1).await;
    assert_eq!((probe.started(), probe.finished()), (1, 1));
    assert_eq!(probe.session_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_failing_store_is_logged_and_swept_again_next_period() {
    let logs = Logs::install();
    let probe = Probe::new();
    probe.add_sessions(2, 1).await;
    probe.state.fail.store(true, Ordering::SeqCst);
    let sweeper = auth(&probe).spawn_session_sweeper(Duration::from_secs(60));

    settle("the first sweep", || probe.started() == 1).await;
    idle().await;
    let log = logs.text();
    assert!(log.contains("WARN") && log.contains("session sweep failed"), "{log}");
    assert!(log.contains("store unavailable: connection refused (test)"), "{log}");

    tokio::time::advance(Duration::from_secs(60)).await;
    settle("the second sweep", || probe.started() == 2).await;
    assert_eq!(probe.finished(), 0);
    assert_eq!(probe.session_count(), 3);

    probe.state.fail.store(false, Ordering::SeqCst);
    tokio::time::advance(Duration::from_secs(60)).await;
    settle("a sweep after the store is back", || probe.finished() == 1).await;
    assert_eq!(probe.session_count(), 1);
    assert!(logs.text().contains("deleted=2"), "{}", logs.text());
    sweeper.stop().await;
}

/// A sweep slower than the period delays the next one instead of queueing catch-up sweeps.
#[tokio::test(start_paused = true)]
async fn a_slow_sweep_delays_the_next_instead_of_piling_up() {
    let probe = Probe::new();
    probe.state.hold.store(true, Ordering::SeqCst);
    let sweeper = auth(&probe).spawn_session_sweeper(Duration::from_secs(60));
    probe.state.entered.notified().await;

    // The first sweep takes ten periods.
    tokio::time::advance(Duration::from_secs(600)).await;
    probe.state.hold.store(false, Ordering::SeqCst);
    probe.state.release.add_permits(1);
    // Missed ticks are not caught up: one sweep at once after the slow one (in the same poll
    // of the task, as the memory store never waits), then one a period later.
    settle("the slow sweep and the next", || probe.finished() == 2).await;
    idle().await;
    assert_eq!(probe.started(), 2, "missed periods were swept back to back");
    tokio::time::advance(Duration::from_secs(59)).await;
    idle().await;
    assert_eq!(probe.started(), 2);
    tokio::time::advance(Duration::from_secs(1)).await;
    settle("the next period's sweep", || probe.finished() == 3).await;
    sweeper.stop().await;
}
