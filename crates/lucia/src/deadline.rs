//! Every store call of a [`Lucia`](crate::Lucia), its throttle store's too, within a deadline
//! ([`LuciaBuilder::store_timeout`](crate::LuciaBuilder::store_timeout)): a store that stalls
//! (a dead connection, a locked row, a partitioned network) costs a request at most the
//! deadline, then [`AdapterError::Unavailable`], which lucia-axum answers `503` with
//! `Retry-After` and never as a sign-out.
//!
//! A call cut off by the deadline is dropped: SQL drivers roll back its open transaction when
//! the connection is returned; a write already sent may still commit, as with any timeout, and
//! every operation that writes more than one row does it in one atomic call, so the store is
//! never left half-written.

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use tokio::runtime::{self, Handle};
use tokio::sync::Notify;
use tokio::task::{Unconstrained, unconstrained};
use tokio::time::{Instant, Sleep};

use crate::adapter::{
    Adapter, AttributeMap, DatabaseKey, DatabaseSession, DatabaseUser, SessionAdapter, SessionUpdate,
    SignInMethodDeletion, UserAdapter,
};
use crate::error::AdapterError;
use crate::second_factor::{DatabaseTotp, SecondFactorAdapter};
use crate::verification::{DatabaseToken, TokenAdapter, TokenKind};

/// The default deadline of a store call.
pub(crate) const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest deadline [`LuciaBuilder::store_timeout`](crate::LuciaBuilder::store_timeout)
/// accepts: a request waiting longer on its store is an outage, better answered `503`.
pub(crate) const MAX_STORE_TIMEOUT: Duration = Duration::from_secs(10);
/// Calls that start within this fraction of the deadline of each other share one end.
const SHARED_DEADLINE_SLICES: u32 = 10;

/// An adapter whose calls each end within a [`StoreDeadline`].
pub(crate) struct Deadlined<A> {
    adapter: A,
    deadline: StoreDeadline,
}

impl<A> Deadlined<A> {
    pub(crate) fn new(adapter: A, timeout: Duration) -> Self {
        Self { adapter, deadline: StoreDeadline::new(timeout) }
    }

    /// The application's adapter.
    pub(crate) fn inner(&self) -> &A {
        &self.adapter
    }

    /// The deadline of the adapter's calls, for the other stores' calls (the throttle store's).
    pub(crate) fn deadline(&self) -> &StoreDeadline {
        &self.deadline
    }
}

/// The deadline of store calls. Calls that start within a tenth of the deadline of each other
/// share one end, so each call ends after at most the deadline and more than nine tenths of
/// it. Why: tokio wakes its timer driver, on another CPU, whenever a new timer is due earlier
/// than every pending one, which at one request in flight is every call's own deadline (it
/// cost `GET /api/me` on PostgreSQL a quarter of its throughput). A shared end is one timer per
/// slice, whose firing wakes the calls still waiting.
pub(crate) struct StoreDeadline {
    timeout: Duration,
    /// The end shared by the calls that start now, if one was set within the last slice.
    current: Mutex<Option<SharedEnd>>,
}

/// The end shared by the calls of one slice.
struct SharedEnd {
    /// The runtime whose timer driver holds the end's timer: another one (a second runtime,
    /// say in tests, each on a clock of its own when paused) sets its own.
    runtime: runtime::Id,
    started: Instant,
    end: Arc<End>,
}

/// A timer and the calls waiting on it, alive while one of them is (dropping it cancels it).
struct End {
    signal: Arc<Signal>,
    /// Due a deadline after the end was set, registered with the driver then and never polled
    /// again: the driver itself wakes `signal` when it fires, on whichever thread runs the
    /// driver, so no task (and no worker a stalled call may block) stands between.
    _timer: Pin<Box<Unconstrained<Sleep>>>,
}

/// How the calls waiting on an [`End`] learn that it has come.
#[derive(Default)]
struct Signal {
    /// Set before `notify` wakes the waiting calls, for a call that starts waiting after.
    expired: AtomicBool,
    notify: Notify,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.expired.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }
}

impl StoreDeadline {
    fn new(timeout: Duration) -> Self {
        Self { timeout, current: Mutex::new(None) }
    }

    /// `call`, or [`AdapterError::Unavailable`] if it has not answered within the deadline.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime with its time driver, as `tokio::time::timeout`.
    pub(crate) async fn within<T>(
        &self,
        call: impl Future<Output = Result<T, AdapterError>>,
    ) -> Result<T, AdapterError> {
        let end = self.shared_end();
        let signal = &end.signal;
        // `notified` counts the wake-ups from its creation on; the flag covers one before it
        // (a thread descheduled between these lines, with a 1 ms deadline, say).
        let mut ended = pin!(signal.notify.notified());
        let mut call = pin!(call);
        poll_fn(|cx| {
            if let Poll::Ready(result) = call.as_mut().poll(cx) {
                return Poll::Ready(result);
            }
            if signal.expired.load(Ordering::Acquire) || ended.as_mut().poll(cx).is_ready() {
                let timeout = self.timeout;
                return Poll::Ready(Err(AdapterError::unavailable(format!(
                    "the store did not answer within {timeout:?}"
                ))));
            }
            Poll::Pending
        })
        .await
    }

    /// The end of a call that starts now: the current one, or a new one a deadline from now.
    fn shared_end(&self) -> Arc<End> {
        let runtime = Handle::current();
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        // Read under the lock, so that no end set after it (later than now + timeout) is taken.
        let now = Instant::now();
        if let Some(shared) = current.as_ref()
            && shared.runtime == runtime.id()
            && now.duration_since(shared.started) < self.timeout / SHARED_DEADLINE_SLICES
        {
            return Arc::clone(&shared.end);
        }
        let signal = Arc::new(Signal::default());
        // Panics here, in the caller, on a runtime without its time driver, as
        // `tokio::time::timeout` would. Unconstrained: a task that has spent its budget would
        // get `Pending` from the first poll without the timer being registered.
        let mut timer = Box::pin(unconstrained(tokio::time::sleep_until(now + self.timeout)));
        // The first poll registers the timer, with `signal` as the waker the driver calls.
        if timer.as_mut().poll(&mut Context::from_waker(&Waker::from(Arc::clone(&signal)))).is_ready() {
            signal.wake_by_ref();
        }
        let end = Arc::new(End { signal, _timer: timer });
        *current = Some(SharedEnd { runtime: runtime.id(), started: now, end: Arc::clone(&end) });
        end
    }
}

/// Trait methods that forward to the wrapped adapter within the deadline.
macro_rules! within_deadline {
    ($(fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $out:ty;)*) => {
        $(fn $name(&self $(, $arg: $ty)*) -> impl Future<Output = Result<$out, AdapterError>> + Send {
            self.deadline.within(self.adapter.$name($($arg),*))
        })*
    };
}

impl<A: UserAdapter> UserAdapter for Deadlined<A> {
    within_deadline! {
        fn get_user(&self, user_id: &str) -> Option<DatabaseUser>;
        fn set_user(&self, user: DatabaseUser, key: Option<DatabaseKey>) -> ();
        fn update_user(&self, user_id: &str, attributes: AttributeMap) -> ();
        fn delete_user(&self, user_id: &str) -> ();
        fn get_key(&self, key_id: &str) -> Option<DatabaseKey>;
        fn get_key_latest(&self, key_id: &str) -> Option<DatabaseKey>;
        fn get_keys_by_user_id(&self, user_id: &str) -> Vec<DatabaseKey>;
        fn set_key(&self, key: DatabaseKey) -> ();
        fn update_key(&self, key_id: &str, hashed_password: Option<&str>) -> ();
        fn replace_key_password(&self, key_id: &str, current: &str, new: &str) -> bool;
        fn delete_key(&self, key_id: &str) -> ();
        fn delete_key_unless_last(&self, user_id: &str, key_id: &str, uncounted_providers: &[&str]) -> SignInMethodDeletion;
        fn delete_keys_by_user_id(&self, user_id: &str) -> ();
        fn delete_user_and_keys(&self, user_id: &str) -> ();
    }

    /// A background sweep in batches, which may rightly take longer on a large table: no
    /// deadline.
    fn delete_expired_tokens(&self, now_ms: i64) -> impl Future<Output = Result<u64, AdapterError>> + Send {
        self.adapter.delete_expired_tokens(now_ms)
    }

    fn new_user_id(&self) -> String {
        self.adapter.new_user_id()
    }
}

impl<A: SessionAdapter> SessionAdapter for Deadlined<A> {
    within_deadline! {
        fn get_session(&self, session_id: &str) -> Option<DatabaseSession>;
        fn get_sessions_by_user_id(&self, user_id: &str) -> Vec<DatabaseSession>;
        fn set_session(&self, session: DatabaseSession) -> ();
        fn update_session(&self, session_id: &str, update: SessionUpdate) -> ();
        fn delete_session(&self, session_id: &str) -> ();
        fn delete_sessions_by_user_id(&self, user_id: &str) -> ();
        fn delete_dead_sessions_by_user_id(&self, user_id: &str, now_ms: i64) -> ();
    }

    /// A background sweep, as [`delete_expired_tokens`](UserAdapter::delete_expired_tokens):
    /// no deadline.
    fn delete_dead_sessions(&self, now_ms: i64) -> impl Future<Output = Result<u64, AdapterError>> + Send {
        self.adapter.delete_dead_sessions(now_ms)
    }
}

impl<A: Adapter> Adapter for Deadlined<A> {
    within_deadline! {
        fn get_session_and_user(&self, session_id: &str) -> Option<(DatabaseSession, DatabaseUser)>;
        fn delete_user_cascade(&self, user_id: &str) -> ();
        fn update_key_and_end_sessions(&self, key_id: &str, hashed_password: Option<&str>, user_id: &str) -> ();
    }
}

impl<A: TokenAdapter> TokenAdapter for Deadlined<A> {
    within_deadline! {
        fn set_token(&self, token: DatabaseToken) -> ();
        fn get_token(&self, token_id: &str) -> Option<DatabaseToken>;
        fn get_user_token(&self, user_id: &str, kind: TokenKind) -> Option<DatabaseToken>;
        fn count_token_attempt(&self, token_id: &str) -> Option<u32>;
        fn consume_token(&self, token_id: &str, attributes: AttributeMap) -> bool;
        fn revoke_user_tokens(&self, user_id: &str, attributes: AttributeMap) -> ();
    }
}

impl<A: SecondFactorAdapter> SecondFactorAdapter for Deadlined<A> {
    within_deadline! {
        fn get_totp(&self, user_id: &str) -> Option<DatabaseTotp>;
        fn set_totp(&self, totp: DatabaseTotp) -> ();
        fn use_totp_step(&self, user_id: &str, encrypted_secret: &str, step: i64, confirm: bool) -> bool;
        fn delete_totp(&self, user_id: &str) -> ();
        fn set_recovery_codes(&self, user_id: &str, code_hashes: Vec<String>) -> ();
        fn consume_recovery_code(&self, user_id: &str, code_hash: &str) -> bool;
        fn count_recovery_codes(&self, user_id: &str) -> u64;
    }
}
