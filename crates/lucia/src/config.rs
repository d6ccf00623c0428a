//! Configuration of [`Lucia`](crate::Lucia), built with [`LuciaBuilder`].

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::deadline::{DEFAULT_STORE_TIMEOUT, MAX_STORE_TIMEOUT};
use crate::password::{HashingPool, HashingPriority, QUEUE_PER_THREAD};
use crate::second_factor::{SecondFactor, SecondFactorAdapter, SecondFactorSettings};
use crate::throttle::DynThrottleStore;
use crate::verification::EmailSettings;
use crate::{
    Adapter, Argon2id, Backoff, CsrfConfig, HashingCgroup, Lucia, LuciaScrypt, MemoryThrottleStore, NoAttributes,
    PasswordHasher, PasswordPolicy, SessionCookieConfig, SessionTokens, ThrottleStore,
};

/// Development or production. Production sets the cookie's `Secure` attribute (as does
/// `SameSite=None` in either).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Env {
    /// Development: cookies work over plain `http://localhost`.
    #[default]
    Dev,
    /// Production: cookies are `Secure`.
    Prod,
}

/// How long sessions last. Defaults are Lucia v2's: 1 day active, then 14 days idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionExpiresIn {
    /// How long a new or renewed session is active (valid without renewal).
    pub active_period: Duration,
    /// How long after the active period ends an idle session can still be validated (and is
    /// then renewed).
    pub idle_period: Duration,
}

impl Default for SessionExpiresIn {
    fn default() -> Self {
        Self { active_period: Duration::from_secs(60 * 60 * 24), idle_period: Duration::from_secs(60 * 60 * 24 * 14) }
    }
}

/// The source of the current time; replaceable for tests.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Settings of a [`Lucia`] instance, readable through [`Lucia::config`].
#[derive(Clone)]
pub struct Config {
    /// Development or production.
    pub env: Env,
    /// Session active and idle periods.
    pub session_expires_in: SessionExpiresIn,
    /// Session cookie name and attributes.
    pub session_cookie: SessionCookieConfig,
    /// CSRF origin check settings, applied by framework integrations.
    pub csrf: CsrfConfig,
    /// How session tokens are kept in the session table.
    pub session_tokens: SessionTokens,
    pub(crate) clock: Clock,
    pub(crate) store_timeout: Duration,
}

impl Config {
    /// The current time by the configured clock.
    pub fn now(&self) -> SystemTime {
        (self.clock)()
    }

    /// The deadline of each store call ([`LuciaBuilder::store_timeout`]).
    pub fn store_timeout(&self) -> Duration {
        self.store_timeout
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("env", &self.env)
            .field("session_expires_in", &self.session_expires_in)
            .field("session_cookie", &self.session_cookie)
            .field("csrf", &self.csrf)
            .field("session_tokens", &self.session_tokens)
            .field("store_timeout", &self.store_timeout)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Lucia`]; start with [`Lucia::builder`].
///
/// ```
/// # fn demo<A: lucia::Adapter>(adapter: A) {
/// use std::time::Duration;
/// use lucia::{Env, Lucia, SessionExpiresIn};
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct UserAttributes { username: String }
///
/// let auth = Lucia::builder(adapter)
///     .env(Env::Prod)
///     .session_expires_in(SessionExpiresIn {
///         active_period: Duration::from_secs(60 * 60),
///         idle_period: Duration::from_secs(60 * 60 * 24),
///     })
///     .user_attributes::<UserAttributes>()
///     .build();
/// # }
/// ```
#[must_use]
pub struct LuciaBuilder<A, U = NoAttributes, S = NoAttributes> {
    adapter: A,
    config: Config,
    hasher: Arc<dyn PasswordHasher>,
    policy: PasswordPolicy,
    hashing_threads: usize,
    hashing_queue: Option<usize>,
    hashing_priority: HashingPriority,
    hashing_cgroup: Option<HashingCgroup>,
    throttle: Option<SignInThrottle>,
    token_throttle: Arc<dyn DynThrottleStore>,
    email: EmailSettings,
    second_factor: Option<SecondFactor<A>>,
    types: PhantomData<fn() -> (U, S)>,
}

/// The per-key sign-in throttle of a [`Lucia`]: a store and its backoff.
#[derive(Clone)]
pub(crate) struct SignInThrottle {
    pub(crate) store: Arc<dyn DynThrottleStore>,
    pub(crate) backoff: Backoff,
}

impl<A: Adapter> LuciaBuilder<A> {
    pub(crate) fn new(adapter: A) -> Self {
        let store: Arc<dyn DynThrottleStore> = Arc::new(MemoryThrottleStore::new());
        Self {
            adapter,
            config: Config {
                env: Env::Dev,
                session_expires_in: SessionExpiresIn::default(),
                session_cookie: SessionCookieConfig::default(),
                csrf: CsrfConfig::default(),
                session_tokens: SessionTokens::default(),
                clock: Arc::new(SystemTime::now),
                store_timeout: DEFAULT_STORE_TIMEOUT,
            },
            hasher: Arc::new(Argon2id::default()),
            policy: PasswordPolicy::default(),
            hashing_threads: std::thread::available_parallelism().map_or(2, usize::from),
            hashing_queue: None,
            hashing_priority: HashingPriority::default(),
            hashing_cgroup: None,
            throttle: Some(SignInThrottle { store: Arc::clone(&store), backoff: Backoff::default() }),
            token_throttle: store,
            email: EmailSettings::default(),
            second_factor: None,
            types: PhantomData,
        }
    }
}

impl<A: Adapter, U, S> LuciaBuilder<A, U, S> {
    /// How long each call to the store may take (default 5 s, at most 10 s; a zero duration
    /// is taken as 1 ms). Past it the call is [`Error::Unavailable`](crate::Error::Unavailable),
    /// which lucia-axum answers `503` with `Retry-After` (never as a sign-out), so a stalled
    /// database or network costs each request at most this long; requests succeed again once
    /// the store answers. Background sweeps
    /// ([`delete_dead_sessions`](crate::Lucia::delete_dead_sessions)) have no deadline. Calls
    /// that start within a tenth of the deadline of each other share one end, so each call
    /// ends after at most the deadline and more than nine tenths of it: a tokio timer due
    /// earlier than any other wakes tokio's timer driver on another CPU, which at one request
    /// in flight every call's own would be. The runtime needs its time driver (as
    /// `#[tokio::main]` gives).
    ///
    /// ```
    /// # fn demo<A: lucia::Adapter>(adapter: A) {
    /// let auth = lucia::Lucia::builder(adapter).store_timeout(std::time::Duration::from_secs(2)).build();
    /// assert_eq!(auth.config().store_timeout(), std::time::Duration::from_secs(2));
    /// # }
    /// ```
    pub fn store_timeout(mut self, timeout: Duration) -> Self {
        self.config.store_timeout = timeout.clamp(Duration::from_millis(1), MAX_STORE_TIMEOUT);
        self
    }

    /// Development or production (default [`Env::Dev`]).
    pub fn env(mut self, env: Env) -> Self {
        self.config.env = env;
        self
    }

    /// Session active and idle periods.
    pub fn session_expires_in(mut self, periods: SessionExpiresIn) -> Self {
        self.config.session_expires_in = periods;
        self
    }

    /// Session cookie name and attributes.
    pub fn session_cookie(mut self, cookie: SessionCookieConfig) -> Self {
        self.config.session_cookie = cookie;
        self
    }

    /// CSRF origin check settings.
    pub fn csrf(mut self, csrf: CsrfConfig) -> Self {
        self.config.csrf = csrf;
        self
    }

    /// How session tokens are kept in the session table (default [`SessionTokens::Hashed`]).
    pub fn session_tokens(mut self, mode: SessionTokens) -> Self {
        self.config.session_tokens = mode;
        self
    }

    /// Shares the database with a running Lucia v2 application: session ids in clear
    /// ([`SessionTokens::Plain`]) and Lucia v2's `s2:` scrypt hashes ([`LuciaScrypt`]) for new
    /// passwords, so each side signs in, validates and revokes the other's users, keys and
    /// sessions (Lucia v2 cannot read Argon2id). Only for that: by default tokens are stored
    /// hashed and passwords hashed with [`Argon2id`].
    pub fn lucia_v2_compat(self) -> Self {
        self.session_tokens(SessionTokens::Plain).password_hasher(LuciaScrypt)
    }

    /// Replaces the password hasher (default [`Argon2id::default`], OWASP's parameters; it also
    /// verifies Lucia v2's `s2:` hashes and upgrades them on sign-in).
    pub fn password_hasher(mut self, hasher: impl PasswordHasher) -> Self {
        self.hasher = Arc::new(hasher);
        self
    }

    /// How many passwords may be hashed at once (default: the number of CPUs): the number of
    /// hashing threads. Each hash needs its memory (19 MiB for Argon2id, 32 MiB for Lucia's
    /// scrypt), so this also bounds memory; further sign-ins wait for a free thread, up to
    /// [`hashing_queue`](Self::hashing_queue) of them. Each thread keeps its Argon2id memory
    /// from one hash to the next (new memory for every hash cost 10-20% of the hash in page
    /// faults), so after the first sign-ins the threads hold that bound for good.
    pub fn hashing_threads(mut self, threads: usize) -> Self {
        self.hashing_threads = threads;
        self
    }

    /// How many calls may wait for a hashing thread (default: 16 per hashing thread). A call
    /// that would wait beyond it ([`Lucia::sign_in`], [`Lucia::use_key`], [`Lucia::create_user`]
    /// with a password, ...) fails at once with [`Error::Busy`](crate::Error::Busy), without
    /// hashing: a flood of sign-ins costs neither memory nor ever longer waits, and the client
    /// is told to retry (`lucia-axum` answers 503 with `Retry-After`). With 0, calls never wait.
    ///
    /// ```
    /// # fn demo<A: lucia::Adapter>(adapter: A) {
    /// // Two hashes at a time, eight more waiting, the rest refused.
    /// let auth = lucia::Lucia::builder(adapter).hashing_threads(2).hashing_queue(8).build();
    /// # }
    /// ```
    pub fn hashing_queue(mut self, waiting: usize) -> Self {
        self.hashing_queue = Some(waiting);
        self
    }

    /// What new passwords must be (default [`PasswordPolicy::default`]: 8 characters to 256
    /// bytes). Checked by [`Lucia::create_user`], [`Lucia::create_key`],
    /// [`Lucia::update_key_password`] and [`Lucia::change_password`] before hashing.
    ///
    /// ```
    /// # fn demo<A: lucia::Adapter>(adapter: A) {
    /// use lucia::{Lucia, PasswordPolicy};
    ///
    /// let auth = Lucia::builder(adapter).password_policy(PasswordPolicy::new().min_length(12).min_strength(3)).build();
    /// # }
    /// ```
    pub fn password_policy(mut self, policy: PasswordPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// How the hashing threads are scheduled (default [`HashingPriority::Background`]: after
    /// every other thread of the process, so that requests do not wait behind sign-ins).
    pub fn hashing_priority(mut self, priority: HashingPriority) -> Self {
        self.hashing_priority = priority;
        self
    }

    /// Moves each hashing thread into `cgroup`, an idle cgroup (Linux), when it starts: the
    /// hashes then run after the work of the processes whose groups are its peers too, not
    /// only this process's (see [`HashingCgroup`]: where it helps and where it cannot). A thread that cannot move logs a warning and hashes where it is.
    pub fn hashing_cgroup(mut self, cgroup: HashingCgroup) -> Self {
        self.hashing_cgroup = Some(cgroup);
        self
    }

    /// Counts sign-in attempts per key in `store` instead of this `Lucia`'s own memory
    /// ([`MemoryThrottleStore`], the default): give instances of an application that serve the
    /// same users one shared store, such as `lucia-adapter-redis`'s `RedisThrottleStore`.
    /// Turns the throttle back on after [`without_sign_in_throttle`](Self::without_sign_in_throttle).
    ///
    /// [`Lucia::use_key`] and [`Lucia::sign_in`] with a password record each attempt in the
    /// store before anything else, and refuse it with [`Error::Throttled`](crate::Error) while
    /// the key must wait ([`sign_in_backoff`](Self::sign_in_backoff)). A store error fails the
    /// sign-in ([`Error::Unavailable`](crate::Error) when the store cannot be reached): the
    /// throttle is never skipped.
    ///
    /// ```
    /// # fn demo<A: lucia::Adapter>(adapter: A) {
    /// let auth = lucia::Lucia::builder(adapter).sign_in_throttle(lucia::MemoryThrottleStore::new()).build();
    /// # }
    /// ```
    pub fn sign_in_throttle(mut self, store: impl ThrottleStore) -> Self {
        let backoff = self.throttle.as_ref().map_or_else(Backoff::default, |throttle| throttle.backoff);
        let store: Arc<dyn DynThrottleStore> = Arc::new(store);
        self.throttle = Some(SignInThrottle { store: Arc::clone(&store), backoff });
        self.token_throttle = store;
        self
    }

    /// How sign-in attempts on one key are spaced out (default [`Backoff::default`]: 5 free
    /// attempts, then 1 s doubling up to 15 minutes). Turns the throttle on, with the memory
    /// store, if it was off.
    ///
    /// ```
    /// # fn demo<A: lucia::Adapter>(adapter: A) {
    /// use std::time::Duration;
    /// let backoff = lucia::Backoff::default().free_attempts(10).max_delay(Duration::from_secs(5 * 60));
    /// let auth = lucia::Lucia::builder(adapter).sign_in_backoff(backoff).build();
    /// # }
    /// ```
    pub fn sign_in_backoff(mut self, backoff: Backoff) -> Self {
        match &mut self.throttle {
            Some(throttle) => throttle.backoff = backoff,
            None => self.throttle = Some(SignInThrottle { store: Arc::clone(&self.token_throttle), backoff }),
        }
        self
    }

    /// Settings of the email verification and password-reset flows (see
    /// [`EmailSettings`]; the defaults follow Lucia v2's guides). Issuing codes and links is
    /// counted in the sign-in throttle's store ([`sign_in_throttle`](Self::sign_in_throttle)),
    /// also when sign-ins are not throttled.
    ///
    /// ```
    /// # fn demo<A: lucia::Adapter>(adapter: A) {
    /// let email = lucia::EmailSettings::default().attributes("email", "verified");
    /// let auth = lucia::Lucia::builder(adapter).email(email).build();
    /// # }
    /// ```
    pub fn email(mut self, settings: EmailSettings) -> Self {
        self.email = settings;
        self
    }

    /// Turns the per-key sign-in throttle off: no attempt is counted or refused. For tests and
    /// benchmarks, or an application that throttles sign-ins in front of Lucia; brute force
    /// against a password is then bounded only by hashing time.
    pub fn without_sign_in_throttle(mut self) -> Self {
        self.throttle = None;
        self
    }

    /// Replaces the clock (for tests).
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.config.clock = Arc::new(clock);
        self
    }

    /// Sets the type user attribute columns deserialize into.
    pub fn user_attributes<U2>(self) -> LuciaBuilder<A, U2, S> {
        self.retype()
    }

    /// Sets the type session attribute columns deserialize into.
    pub fn session_attributes<S2>(self) -> LuciaBuilder<A, U, S2> {
        self.retype()
    }

    fn retype<U2, S2>(self) -> LuciaBuilder<A, U2, S2> {
        LuciaBuilder {
            adapter: self.adapter,
            config: self.config,
            hasher: self.hasher,
            policy: self.policy,
            hashing_threads: self.hashing_threads,
            hashing_queue: self.hashing_queue,
            hashing_priority: self.hashing_priority,
            hashing_cgroup: self.hashing_cgroup,
            throttle: self.throttle,
            token_throttle: self.token_throttle,
            email: self.email,
            second_factor: self.second_factor,
            types: PhantomData,
        }
    }

    /// Finishes the configuration.
    pub fn build(self) -> Lucia<A, U, S> {
        let threads = self.hashing_threads.max(1);
        let queue = self.hashing_queue.unwrap_or(threads.saturating_mul(QUEUE_PER_THREAD));
        let hashing = HashingPool::new(
            self.hasher,
            Arc::new(self.policy),
            threads,
            queue,
            self.hashing_priority,
            self.hashing_cgroup,
        );
        Lucia::from_parts(
            self.adapter,
            self.config,
            hashing,
            self.throttle,
            self.token_throttle,
            self.email,
            self.second_factor,
        )
    }
}

impl<A: Adapter + SecondFactorAdapter, U, S> LuciaBuilder<A, U, S> {
    /// Turns on the second factor (TOTP and recovery codes, see
    /// [`SecondFactorSettings`]), whose encryption key the settings require. From then on
    /// [`Lucia::sign_in`] refuses users with a confirmed TOTP ([`Error::SecondFactorRequired`](crate::Error::SecondFactorRequired)):
    /// they sign in with [`Lucia::sign_in_with_second_factor`]. Codes tried are counted in the
    /// sign-in throttle's store.
    ///
    /// ```
    /// use lucia::{Lucia, SecondFactorSettings, TotpEncryptionKey, memory::MemoryAdapter};
    /// # fn key_from_env() -> String { "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into() }
    /// // At start-up: a missing or malformed key stops the application here.
    /// let key = TotpEncryptionKey::from_base64(&key_from_env()).expect("LUCIA_TOTP_KEY: 32 bytes in base64");
    /// let auth = Lucia::builder(MemoryAdapter::new()).second_factor(SecondFactorSettings::new("Example", key)).build();
    /// ```
    pub fn second_factor(mut self, settings: SecondFactorSettings) -> Self {
        self.second_factor = Some(SecondFactor::new(settings));
        self
    }
}
