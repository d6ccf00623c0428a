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
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
use std::time::Duration;

use tokio::runtime::{self, Handle};
use tokio::sync::Notify;
use tokio::time::Instant;

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
/// Calls that start within this fraction of the deadline of each other share one timer.
const SHARED_TIMER_SLICES: u32 = 10;

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
/// share one timer, so each call ends after at most the deadline and at least nine tenths of
/// it. A tokio timer per call would cost a cross-CPU wake-up on most calls: tokio wakes its
/// timer driver whenever a new timer is the earliest pending one, which at one request in
/// flight is every call (it cost `GET /api/me` on PostgreSQL a quarter of its throughput).
pub(crate) struct StoreDeadline {
    timeout: Duration,
    /// The timer of the calls that start now, if one was started within the last slice.
    current: Mutex<Option<SharedTimer>>,
}

/// One timer, and the calls that wait on it.
struct SharedTimer {
    /// The timer runs on this runtime: a call on another one (a second runtime, say in tests)
    /// must not wait on a timer that runtime's shutdown may drop.
    runtime: runtime::Id,
    started: Instant,
    expiry: Arc<Expiry>,
}

/// The end of a shared timer.
#[derive(Default)]
struct Expiry {
    /// Set before `notify` wakes the waiting calls, for a call that starts waiting after it.
    expired: AtomicBool,
    notify: Notify,
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
        let expiry = self.shared_timer();
        // `notified` counts from its creation: the timer's end after this line wakes it, and
        // the flag covers an end before it.
        let mut ended = pin!(expiry.notify.notified());
        let mut call = pin!(call);
        poll_fn(|cx| {
            if let Poll::Ready(result) = call.as_mut().poll(cx) {
                return Poll::Ready(result);
            }
            if expiry.expired.load(Ordering::Acquire) || ended.as_mut().poll(cx).is_ready() {
                let timeout = self.timeout;
                return Poll::Ready(Err(AdapterError::unavailable(format!(
                    "the store did not answer within {timeout:?}"
                ))));
            }
            Poll::Pending
        })
        .await
    }

    /// The timer of a call that starts now: the current one, or a new one from now.
    fn shared_timer(&self) -> Arc<Expiry> {
        let now = Instant::now();
        let runtime = Handle::current();
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(timer) = current.as_ref()
            && timer.runtime == runtime.id()
            && now.duration_since(timer.started) < self.timeout / SHARED_TIMER_SLICES
        {
            return Arc::clone(&timer.expiry);
        }
        let expiry = Arc::new(Expiry::default());
        // Made here, not in the task, so that a runtime without a time driver panics in the
        // caller, as `tokio::time::timeout` would, rather than leave the calls without a deadline.
        let end = tokio::time::sleep_until(now + self.timeout);
        let ending = Arc::clone(&expiry);
        runtime.spawn(async move {
            end.await;
            ending.expired.store(true, Ordering::Release);
            ending.notify.notify_waiters();
        });
        *current = Some(SharedTimer { runtime: runtime.id(), started: now, expiry: Arc::clone(&expiry) });
        expiry
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
