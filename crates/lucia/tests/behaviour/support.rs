//! Test doubles: [`Probe`], an adapter wrapper that runs code between the calls `Lucia` makes
//! and fails calls on demand, and password hashers (fast, upgrading, broken, counting).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lucia::{
    Adapter, AdapterError, AttributeMap, DatabaseKey, DatabaseSession, DatabaseToken, DatabaseUser, PasswordHashError,
    PasswordHasher, SessionAdapter, SessionTokens, SessionUpdate, SignInMethodDeletion, TokenAdapter, TokenKind,
    UserAdapter,
};

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;
type Hook = Arc<dyn Fn(&'static str, usize) -> BoxFuture + Send + Sync>;

/// An adapter that delegates to `inner`, and before each call runs a hook (given the method
/// name and the call's index since the hook was set) and fails the call if asked to.
///
/// With `NATIVE = true` the combined [`Adapter`] methods (`get_session_and_user`,
/// `delete_user_cascade`, `update_key_and_end_sessions`) go to the store's own (on SQL,
/// transactional) implementations, as one call each. With `NATIVE = false` they are the
/// trait's provided methods over the wrapped plain methods: a store without transactions.
pub struct Probe<A, const NATIVE: bool = true> {
    inner: A,
    state: Arc<ProbeState>,
}

impl<A: Clone, const NATIVE: bool> Clone for Probe<A, NATIVE> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), state: Arc::clone(&self.state) }
    }
}

#[derive(Default)]
struct ProbeState {
    hook: Mutex<Option<Hook>>,
    calls: AtomicUsize,
    log: Mutex<Vec<&'static str>>,
    failing: Mutex<Vec<&'static str>>,
    ticks: AtomicU64,
    inserts: Mutex<Vec<Insert>>,
}

/// A session row inserted through the probe, with [`Probe::tick`]s taken before the insert
/// started and after it finished.
#[derive(Debug, Clone)]
pub struct Insert {
    pub stored_id: String,
    pub started: u64,
    pub finished: u64,
}

/// Fails every method.
const ALL: &str = "*";

impl<A, const NATIVE: bool> Probe<A, NATIVE> {
    pub fn new(inner: A) -> Self {
        Self { inner, state: Arc::default() }
    }

    /// The wrapped adapter.
    pub fn inner(&self) -> &A {
        &self.inner
    }

    /// Runs `hook(method, index)` before each call from now on; indices restart at 0.
    pub fn set_hook<Fut>(&self, hook: impl Fn(&'static str, usize) -> Fut + Send + Sync + 'static)
    where
        Fut: Future<Output = ()> + Send + 'static,
    {
        let hook: Hook = Arc::new(move |method, index| Box::pin(hook(method, index)));
        self.state.calls.store(0, Ordering::SeqCst);
        self.state.log.lock().unwrap().clear();
        *self.state.hook.lock().unwrap() = Some(hook);
    }

    /// Runs `action` once, before the call with this index (from now on).
    pub fn before_call<Fut>(&self, index: usize, action: impl FnOnce() -> Fut + Send + 'static)
    where
        Fut: Future<Output = ()> + Send + 'static,
    {
        let action = Mutex::new(Some(action));
        self.set_hook(move |_, i| {
            let action = if i == index { action.lock().unwrap().take() } else { None };
            async move {
                if let Some(action) = action {
                    action().await;
                }
            }
        });
    }

    /// Runs `action` once, before the first call of `method` (from now on).
    pub fn before_method<Fut>(&self, method: &'static str, action: impl FnOnce() -> Fut + Send + 'static)
    where
        Fut: Future<Output = ()> + Send + 'static,
    {
        let action = Mutex::new(Some(action));
        self.set_hook(move |m, _| {
            let action = if m == method { action.lock().unwrap().take() } else { None };
            async move {
                if let Some(action) = action {
                    action().await;
                }
            }
        });
    }

    pub fn clear_hook(&self) {
        *self.state.hook.lock().unwrap() = None;
    }

    /// How many calls were made since the hook was last set.
    pub fn calls(&self) -> usize {
        self.state.calls.load(Ordering::SeqCst)
    }

    /// The methods called since the hook was last set, in order (index = call index).
    pub fn log(&self) -> Vec<&'static str> {
        self.state.log.lock().unwrap().clone()
    }

    /// Makes every call of `method` fail with a database error.
    pub fn fail(&self, method: &'static str) {
        self.state.failing.lock().unwrap().push(method);
    }

    /// Makes every call fail with a database error.
    pub fn fail_all(&self) {
        self.fail(ALL);
    }

    /// Stops failing calls.
    pub fn heal(&self) {
        self.state.failing.lock().unwrap().clear();
    }

    /// The next value of a counter shared with the [`Insert`] records: orders events across
    /// tasks.
    pub fn tick(&self) -> u64 {
        self.state.ticks.fetch_add(1, Ordering::SeqCst)
    }

    /// Every session row inserted through the probe.
    pub fn inserts(&self) -> Vec<Insert> {
        self.state.inserts.lock().unwrap().clone()
    }

    async fn enter(&self, method: &'static str) -> Result<(), AdapterError> {
        let index = {
            let mut log = self.state.log.lock().unwrap();
            log.push(method);
            self.state.calls.fetch_add(1, Ordering::SeqCst)
        };
        let hook = self.state.hook.lock().unwrap().clone();
        if let Some(hook) = hook {
            hook(method, index).await;
        }
        let failing = self.state.failing.lock().unwrap().iter().any(|m| *m == method || *m == ALL);
        if failing { Err(AdapterError::database(format!("injected failure of {method}"))) } else { Ok(()) }
    }
}

impl<A: Adapter, const NATIVE: bool> UserAdapter for Probe<A, NATIVE> {
    async fn get_user(&self, user_id: &str) -> Result<Option<DatabaseUser>, AdapterError> {
        self.enter("get_user").await?;
        self.inner.get_user(user_id).await
    }
    async fn set_user(&self, user: DatabaseUser, key: Option<DatabaseKey>) -> Result<(), AdapterError> {
        self.enter("set_user").await?;
        self.inner.set_user(user, key).await
    }
    async fn update_user(&self, user_id: &str, attributes: AttributeMap) -> Result<(), AdapterError> {
        self.enter("update_user").await?;
        self.inner.update_user(user_id, attributes).await
    }
    async fn delete_user(&self, user_id: &str) -> Result<(), AdapterError> {
        self.enter("delete_user").await?;
        self.inner.delete_user(user_id).await
    }
    async fn get_key(&self, key_id: &str) -> Result<Option<DatabaseKey>, AdapterError> {
        self.enter("get_key").await?;
        self.inner.get_key(key_id).await
    }
    async fn get_keys_by_user_id(&self, user_id: &str) -> Result<Vec<DatabaseKey>, AdapterError> {
        self.enter("get_keys_by_user_id").await?;
        self.inner.get_keys_by_user_id(user_id).await
    }
    async fn set_key(&self, key: DatabaseKey) -> Result<(), AdapterError> {
        self.enter("set_key").await?;
        self.inner.set_key(key).await
    }
    async fn update_key(&self, key_id: &str, hashed_password: Option<&str>) -> Result<(), AdapterError> {
        self.enter("update_key").await?;
        self.inner.update_key(key_id, hashed_password).await
    }
    async fn replace_key_password(&self, key_id: &str, current: &str, new: &str) -> Result<bool, AdapterError> {
        self.enter("replace_key_password").await?;
        self.inner.replace_key_password(key_id, current, new).await
    }
    async fn delete_key(&self, key_id: &str) -> Result<(), AdapterError> {
        self.enter("delete_key").await?;
        self.inner.delete_key(key_id).await
    }
    async fn delete_key_unless_last(
        &self,
        user_id: &str,
        key_id: &str,
        uncounted_providers: &[&str],
    ) -> Result<SignInMethodDeletion, AdapterError> {
        self.enter("delete_key_unless_last").await?;
        self.inner.delete_key_unless_last(user_id, key_id, uncounted_providers).await
    }
    async fn delete_keys_by_user_id(&self, user_id: &str) -> Result<(), AdapterError> {
        self.enter("delete_keys_by_user_id").await?;
        self.inner.delete_keys_by_user_id(user_id).await
    }
    async fn delete_expired_tokens(&self, now_ms: i64) -> Result<u64, AdapterError> {
        self.enter("delete_expired_tokens").await?;
        self.inner.delete_expired_tokens(now_ms).await
    }
}

impl<A: Adapter + TokenAdapter, const NATIVE: bool> TokenAdapter for Probe<A, NATIVE> {
    async fn set_token(&self, token: DatabaseToken) -> Result<(), AdapterError> {
        self.enter("set_token").await?;
        self.inner.set_token(token).await
    }
    async fn get_token(&self, token_id: &str) -> Result<Option<DatabaseToken>, AdapterError> {
        self.enter("get_token").await?;
        self.inner.get_token(token_id).await
    }
    async fn get_user_token(&self, user_id: &str, kind: TokenKind) -> Result<Option<DatabaseToken>, AdapterError> {
        self.enter("get_user_token").await?;
        self.inner.get_user_token(user_id, kind).await
    }
    async fn count_token_attempt(&self, token_id: &str) -> Result<Option<u32>, AdapterError> {
        self.enter("count_token_attempt").await?;
        self.inner.count_token_attempt(token_id).await
    }
    async fn consume_token(&self, token_id: &str, attributes: AttributeMap) -> Result<bool, AdapterError> {
        self.enter("consume_token").await?;
        self.inner.consume_token(token_id, attributes).await
    }
    async fn revoke_user_tokens(&self, user_id: &str, attributes: AttributeMap) -> Result<(), AdapterError> {
        self.enter("revoke_user_tokens").await?;
        self.inner.revoke_user_tokens(user_id, attributes).await
    }
}

impl<A: Adapter, const NATIVE: bool> SessionAdapter for Probe<A, NATIVE> {
    async fn get_session(&self, session_id: &str) -> Result<Option<DatabaseSession>, AdapterError> {
        self.enter("get_session").await?;
        self.inner.get_session(session_id).await
    }
    async fn get_sessions_by_user_id(&self, user_id: &str) -> Result<Vec<DatabaseSession>, AdapterError> {
        self.enter("get_sessions_by_user_id").await?;
        self.inner.get_sessions_by_user_id(user_id).await
    }
    async fn set_session(&self, session: DatabaseSession) -> Result<(), AdapterError> {
        self.enter("set_session").await?;
        let stored_id = session.id.clone();
        let started = self.tick();
        self.inner.set_session(session).await?;
        let finished = self.tick();
        self.state.inserts.lock().unwrap().push(Insert { stored_id, started, finished });
        Ok(())
    }
    async fn update_session(&self, session_id: &str, update: SessionUpdate) -> Result<(), AdapterError> {
        self.enter("update_session").await?;
        self.inner.update_session(session_id, update).await
    }
    async fn delete_session(&self, session_id: &str) -> Result<(), AdapterError> {
        self.enter("delete_session").await?;
        self.inner.delete_session(session_id).await
    }
    async fn delete_sessions_by_user_id(&self, user_id: &str) -> Result<(), AdapterError> {
        self.enter("delete_sessions_by_user_id").await?;
        self.inner.delete_sessions_by_user_id(user_id).await
    }
    async fn delete_dead_sessions_by_user_id(&self, user_id: &str, now_ms: i64) -> Result<(), AdapterError> {
        self.enter("delete_dead_sessions_by_user_id").await?;
        self.inner.delete_dead_sessions_by_user_id(user_id, now_ms).await
    }
    async fn delete_dead_sessions(&self, now_ms: i64) -> Result<u64, AdapterError> {
        self.enter("delete_dead_sessions").await?;
        self.inner.delete_dead_sessions(now_ms).await
    }
}

/// The store's own combined methods, one call each.
impl<A: Adapter> Adapter for Probe<A, true> {
    async fn get_session_and_user(
        &self,
        session_id: &str,
    ) -> Result<Option<(DatabaseSession, DatabaseUser)>, AdapterError> {
        self.enter("get_session_and_user").await?;
        self.inner.get_session_and_user(session_id).await
    }
    async fn delete_user_cascade(&self, user_id: &str) -> Result<(), AdapterError> {
        self.enter("delete_user_cascade").await?;
        self.inner.delete_user_cascade(user_id).await
    }
    async fn update_key_and_end_sessions(
        &self,
        key_id: &str,
        hashed_password: Option<&str>,
        user_id: &str,
    ) -> Result<(), AdapterError> {
        self.enter("update_key_and_end_sessions").await?;
        self.inner.update_key_and_end_sessions(key_id, hashed_password, user_id).await
    }
}

/// The trait's provided combined methods: a store without transactions.
impl<A: Adapter> Adapter for Probe<A, false> {}

// ---- password hashers ---------------------------------------------------------------------

/// A cheap hasher (`fast:` + SHA-256 hex), optionally slow to verify, to widen race windows
/// without scrypt's cost.
#[derive(Debug, Clone, Default)]
pub struct FastHasher {
    pub verify_delay: Duration,
}

impl FastHasher {
    pub fn slow(verify_delay: Duration) -> Self {
        Self { verify_delay }
    }
}

impl PasswordHasher for FastHasher {
    fn hash(&self, password: &str) -> Result<String, PasswordHashError> {
        Ok(format!("fast:{}", SessionTokens::Hashed.stored_id(password)))
    }
    fn verify(&self, password: &str, hash: &str) -> Result<bool, PasswordHashError> {
        std::thread::sleep(self.verify_delay);
        Ok(hash == self.hash(password)?)
    }
}

/// Accepts `plain:<password>` (outdated) and `good:<password>`; new hashes are `good:`.
pub struct UpgradingHasher;

impl PasswordHasher for UpgradingHasher {
    fn hash(&self, password: &str) -> Result<String, PasswordHashError> {
        Ok(format!("good:{password}"))
    }
    fn verify(&self, password: &str, hash: &str) -> Result<bool, PasswordHashError> {
        Ok(hash.split_once(':').is_some_and(|(_, stored)| stored == password))
    }
    fn needs_rehash(&self, hash: &str) -> bool {
        hash.starts_with("plain:")
    }
}

/// Fails, or panics, on every call.
pub struct BrokenHasher {
    pub panics: bool,
}

impl PasswordHasher for BrokenHasher {
    fn hash(&self, _password: &str) -> Result<String, PasswordHashError> {
        if self.panics {
            panic!("hasher bug");
        }
        Err(PasswordHashError::Failed("out of memory".into()))
    }
    fn verify(&self, password: &str, _hash: &str) -> Result<bool, PasswordHashError> {
        self.hash(password).map(|_| true)
    }
}

/// A [`FastHasher`] that takes `delay` per call and records how many calls ran at once.
#[derive(Clone, Default)]
pub struct CountingHasher {
    delay: Duration,
    running: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
}

impl CountingHasher {
    pub fn new(delay: Duration) -> Self {
        Self { delay, ..Self::default() }
    }

    /// The most calls that ran at the same time.
    pub fn most_at_once(&self) -> usize {
        self.most.load(Ordering::SeqCst)
    }

    /// Calls started so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Calls running now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    fn timed<T>(&self, work: impl FnOnce() -> T) -> T {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(self.delay);
        let out = work();
        self.running.fetch_sub(1, Ordering::SeqCst);
        out
    }
}

impl PasswordHasher for CountingHasher {
    fn hash(&self, password: &str) -> Result<String, PasswordHashError> {
        self.timed(|| FastHasher::default().hash(password))
    }
    fn verify(&self, password: &str, hash: &str) -> Result<bool, PasswordHashError> {
        self.timed(|| FastHasher::default().verify(password, hash))
    }
}
