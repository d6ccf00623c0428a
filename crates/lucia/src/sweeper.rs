//! [`SessionSweeper`]: a background task that deletes dead sessions periodically.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::{Adapter, Lucia};

impl<A, U, S> Lucia<A, U, S>
where
    A: Adapter + 'static,
    U: Serialize + DeserializeOwned + Send + Sync + 'static,
    S: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// Spawns a tokio task that runs [`delete_dead_sessions`](Self::delete_dead_sessions), then
    /// [`delete_expired_tokens`](Self::delete_expired_tokens), every `every`, until the returned [`SessionSweeper`] is stopped or dropped. Spawn it
    /// once per application instance, next to the server.
    ///
    /// The first sweep runs **at once**, so an application that was down for a while starts
    /// clean; the next ones run `every` apart. Sweeps never overlap: one that takes longer
    /// than `every` is followed by the next at once, and the period counts from there
    /// (tokio's [`MissedTickBehavior::Delay`]); missed periods are not caught up.
    ///
    /// Each sweep is reported through `tracing` (target `lucia::sweeper`): at `info` with the
    /// number of sessions deleted and the time taken, or at `warn` with the error if the sweep
    /// failed (the store was unreachable, say). A failed sweep does not stop the sweeper: the
    /// next one runs on schedule.
    ///
    /// What a sweep costs is the adapter's: the SQL adapter deletes in short batches on the
    /// indexed `idle_expires` column; a Redis adapter lets keys expire and prunes its per-user
    /// indexes.
    ///
    /// ```
    /// use std::time::Duration;
    /// # async fn run<A: lucia::Adapter + 'static>(auth: lucia::Lucia<A>) -> std::io::Result<()> {
    ///
    /// // Once, at start-up: sweep now, then every hour.
    /// let sweeper = auth.spawn_session_sweeper(Duration::from_secs(60 * 60));
    ///
    /// let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    /// axum::serve(listener, app)
    ///     .with_graceful_shutdown(async {
    ///         let _ = tokio::signal::ctrl_c().await;
    ///     })
    ///     .await?;
    ///
    /// // The server has stopped: let a sweep in progress finish, and sweep no more.
    /// sweeper.stop().await;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// If `every` is zero, or if called outside a tokio runtime (as [`tokio::spawn`]).
    pub fn spawn_session_sweeper(&self, every: Duration) -> SessionSweeper {
        assert!(!every.is_zero(), "spawn_session_sweeper: the period must not be zero");
        let (stop_tx, stop_rx) = oneshot::channel();
        let task = tokio::spawn(sweep_loop(self.clone(), every, stop_rx));
        SessionSweeper { stop: stop_tx, task }
    }
}

/// The task started by [`Lucia::spawn_session_sweeper`].
///
/// [`stop`](Self::stop) it at shutdown, after the server has stopped taking requests.
/// Dropping it stops it too, without waiting: a sweep in progress finishes in the background
/// (a sweep is never cut half-way) and no new one starts; an idle sweeper ends at once.
#[derive(Debug)]
#[must_use = "dropping a SessionSweeper stops it"]
pub struct SessionSweeper {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl SessionSweeper {
    /// Stops the sweeper and returns once its task has ended: at once if it is waiting for
    /// the next sweep, or when the sweep in progress finishes. To bound the wait (a sweep
    /// against an unreachable store can take as long as the store's own timeouts), wrap it
    /// in [`tokio::time::timeout`]; if the timeout fires, the sweeper still stops after its
    /// sweep.
    ///
    /// # Panics
    ///
    /// If the sweep panicked (an adapter bug), the panic is resumed here.
    pub async fn stop(self) {
        let Self { stop, task } = self;
        drop(stop);
        if let Err(error) = task.await
            && error.is_panic()
        {
            std::panic::resume_unwind(error.into_panic());
        }
    }

    /// Whether the task has ended (only after a stop, a panic, or a runtime shutdown).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

async fn sweep_loop<A, U, S>(auth: Lucia<A, U, S>, every: Duration, mut stop: oneshot::Receiver<()>)
where
    A: Adapter,
    U: Serialize + DeserializeOwned + Send + Sync,
    S: Serialize + DeserializeOwned + Send + Sync,
{
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tracing::debug!(target: "lucia::sweeper", every_ms = millis(every), "session sweeper started");
    loop {
        // Wait for the next tick unless asked to stop; a stop while sweeping is seen after
        // the sweep, so a sweep always runs to its end. The stop signal is the sender being
        // dropped (by `stop` or by dropping the `SessionSweeper`).
        let stopped = std::future::poll_fn(|cx| {
            if Pin::new(&mut stop).poll(cx).is_ready() {
                return Poll::Ready(true);
            }
            interval.poll_tick(cx).map(|_| false)
        })
        .await;
        if stopped {
            break;
        }
        let started = Instant::now();
        match auth.delete_dead_sessions().await {
            Ok(deleted) => tracing::info!(
                target: "lucia::sweeper",
                deleted,
                elapsed_ms = millis(started.elapsed()),
                "swept dead sessions"
            ),
            Err(error) => tracing::warn!(
                target: "lucia::sweeper",
                error = %error,
                elapsed_ms = millis(started.elapsed()),
                "session sweep failed; trying again at the next period"
            ),
        }
        match auth.delete_expired_tokens().await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(target: "lucia::sweeper", deleted, "swept expired tokens"),
            Err(error) => tracing::warn!(
                target: "lucia::sweeper",
                error = %error,
                "token sweep failed; trying again at the next period"
            ),
        }
    }
    tracing::debug!(target: "lucia::sweeper", "session sweeper stopped");
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
