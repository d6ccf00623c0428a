//! [`Lucia`]: users, keys and sessions (Lucia v2's `Auth`).

use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::{Config, LuciaBuilder, SignInThrottle};
use crate::deadline::Deadlined;
use crate::password::HashingPool;
use crate::session::{from_millis, to_millis};
use crate::throttle::{Attempt, DynThrottleStore, throttle_key};
use crate::token::MAX_SESSION_TOKEN_LENGTH;
use crate::verification::EmailSettings;
use crate::{
    Adapter, AttributeMap, DatabaseKey, DatabaseSession, DatabaseUser, Env, Error, Key, MAX_PASSWORD_BYTES, NewSession,
    Session, SessionAdapter, SessionCookie, SessionHandle, SessionState, SessionToken, SessionUpdate,
    SignInMethodDeletion, User, UserAdapter, create_key_id,
};

/// Attributes for tables with no attribute columns: serialises to `{}` and reads any row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoAttributes {}

/// A key to create, for a new user ([`CreateUser::key`]) or an existing one
/// ([`Lucia::create_key`]). `Debug` does not show the password.
///
/// ```
/// let key = lucia::NewKey::password("email", "ada@example.com", "correct horse battery staple");
/// assert!(!format!("{key:?}").contains("horse"));
/// let github = lucia::NewKey::passwordless("github", "12345");
/// assert_eq!(github.password, None);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct NewKey {
    /// For example `"email"`. Must not contain `:`.
    pub provider_id: String,
    /// For example the email address. Stored verbatim: no case folding (lowercase emails
    /// yourself, as Lucia v2 apps do).
    pub provider_user_id: String,
    /// A password to hash and store, or `None` for a key without password (OAuth). It must
    /// pass the [`PasswordPolicy`](crate::PasswordPolicy) ([`Error::PasswordRejected`]
    /// otherwise; an empty password never does).
    pub password: Option<String>,
}

impl NewKey {
    /// A key with a password, such as `NewKey::password("email", email, password)`.
    pub fn password(
        provider_id: impl Into<String>,
        provider_user_id: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Self {
            provider_id: provider_id.into(),
            provider_user_id: provider_user_id.into(),
            password: Some(password.into()),
        }
    }

    /// A key without a password, such as an OAuth account: `NewKey::passwordless("github", id)`.
    pub fn passwordless(provider_id: impl Into<String>, provider_user_id: impl Into<String>) -> Self {
        Self { provider_id: provider_id.into(), provider_user_id: provider_user_id.into(), password: None }
    }
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey")
            .field("provider_id", &self.provider_id)
            .field("provider_user_id", &self.provider_user_id)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// What [`Lucia::create_user`] inserts.
///
/// ```
/// # #[derive(serde::Serialize)] struct Profile { username: String }
/// let user = lucia::CreateUser::new(Profile { username: "ada".into() })
///     .with_key(lucia::NewKey::password("username", "ada", "correct horse battery staple"));
/// ```
#[derive(Debug, Clone)]
pub struct CreateUser<U> {
    /// The user id; `None` generates 15 random `[a-z0-9]` characters.
    pub user_id: Option<String>,
    /// The user's first key, inserted in the same transaction; `None` for a user without key.
    pub key: Option<NewKey>,
    /// The user's attribute columns.
    pub attributes: U,
}

impl<U> CreateUser<U> {
    /// A user with a generated id, these attributes, and no key yet.
    pub fn new(attributes: U) -> Self {
        Self { user_id: None, key: None, attributes }
    }

    /// Adds the user's first key.
    #[must_use]
    pub fn with_key(mut self, key: NewKey) -> Self {
        self.key = Some(key);
        self
    }
}

/// What [`Lucia::create_session`] inserts.
///
/// ```
/// let options: lucia::CreateSession<lucia::NoAttributes> = lucia::CreateSession::for_user("ada-user-id");
/// ```
#[derive(Debug, Clone)]
pub struct CreateSession<S> {
    /// The user the session belongs to.
    pub user_id: String,
    /// The session's attribute columns.
    pub attributes: S,
}

impl<S> CreateSession<S> {
    /// A session of `user_id` with these attributes.
    pub fn new(user_id: impl Into<String>, attributes: S) -> Self {
        Self { user_id: user_id.into(), attributes }
    }

    /// A session of `user_id` with default attributes.
    pub fn for_user(user_id: impl Into<String>) -> Self
    where
        S: Default,
    {
        Self::new(user_id, S::default())
    }
}

const RESERVED_USER_COLUMNS: &[&str] = &["id"];
const RESERVED_SESSION_COLUMNS: &[&str] = &["id", "user_id", "active_expires", "idle_expires"];

/// How long a dead session is kept before Lucia's sweeps delete it, in milliseconds. A sign-in
/// in progress holds a dead placeholder row (see [`Lucia::sign_in`]); the grace keeps sweeps
/// from deleting it under the sign-in's feet. A store that expires sessions by itself (Redis)
/// must keep a session written already dead at least this long.
pub const DEAD_SESSION_GRACE_MS: i64 = 60_000;

/// How often [`Lucia::sign_in`] starts over when its session is revoked while it runs.
const SIGN_IN_ATTEMPTS: usize = 3;

/// What a password sign-in led to, inside the crate.
pub(crate) enum PasswordSignIn<U, S> {
    SignedIn(NewSession<U, S>),
    /// The password was right, and the user has a confirmed second factor.
    SecondFactorRequired {
        user_id: String,
    },
}

/// How [`Lucia::finish_sign_in`] ended.
enum Finish<U, S> {
    /// The placeholder is a live session.
    Live(Session<U, S>),
    /// The placeholder was revoked meanwhile: start over.
    Revoked,
    /// The password was right; the user needs a second factor (placeholder left dead).
    SecondFactorRequired(String),
}

/// Users, keys and sessions over an [`Adapter`]: Lucia v2's `Auth`.
///
/// `U` and `S` are the application's user and session attribute types (any serde type that
/// (de)serialises as a map of column names). `Lucia` is cheap to clone: clones share one
/// adapter and configuration.
pub struct Lucia<A, U = NoAttributes, S = NoAttributes> {
    pub(crate) inner: Arc<Inner<A>>,
    types: PhantomData<fn() -> (U, S)>,
}

pub(crate) struct Inner<A> {
    /// The application's adapter, each call within the store deadline.
    pub(crate) adapter: Deadlined<A>,
    pub(crate) config: Config,
    pub(crate) hashing: HashingPool,
    pub(crate) throttle: Option<SignInThrottle>,
    /// Where issuing of verification codes and reset links is counted (the sign-in
    /// throttle's store when one is set).
    pub(crate) token_throttle: Arc<dyn DynThrottleStore>,
    pub(crate) email: EmailSettings,
    /// The second factor, when configured ([`LuciaBuilder::second_factor`]).
    pub(crate) second_factor: Option<crate::second_factor::SecondFactor<A>>,
}

impl<A, U, S> Clone for Lucia<A, U, S> {
    fn clone(&self) -> Self {
        Self { inner: Arc::clone(&self.inner), types: PhantomData }
    }
}

impl<A, U, S> std::fmt::Debug for Lucia<A, U, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lucia")
            .field("config", &self.inner.config)
            .field("sign_in_backoff", &self.inner.throttle.as_ref().map(|throttle| throttle.backoff))
            .finish_non_exhaustive()
    }
}

impl<A: Adapter> Lucia<A> {
    /// Starts configuring a `Lucia` over `adapter`. The defaults are the safe ones for a new
    /// application (hashed session tokens); [`LuciaBuilder::lucia_v2_compat`] shares a
    /// database with a Lucia v2 application instead.
    pub fn builder(adapter: A) -> LuciaBuilder<A> {
        LuciaBuilder::new(adapter)
    }
}

impl<A, U, S> Lucia<A, U, S> {
    pub(crate) fn from_parts(
        adapter: A,
        config: Config,
        hashing: HashingPool,
        throttle: Option<SignInThrottle>,
        token_throttle: Arc<dyn DynThrottleStore>,
        email: EmailSettings,
        second_factor: Option<crate::second_factor::SecondFactor<A>>,
    ) -> Self {
        let adapter = Deadlined::new(adapter, config.store_timeout);
        let inner = Inner { adapter, config, hashing, throttle, token_throttle, email, second_factor };
        Self { inner: Arc::new(inner), types: PhantomData }
    }

    /// The adapter, for operations Lucia does not wrap.
    pub fn adapter(&self) -> &A {
        self.inner.adapter.inner()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub(crate) fn now_ms(&self) -> i64 {
        to_millis(self.inner.config.now())
    }

    fn stored_id(&self, token: &str) -> String {
        self.inner.config.session_tokens.stored_id(token)
    }

    /// The session cookie's value from a `Cookie` header, if present and not empty.
    pub fn read_session_cookie(&self, cookie_header: &str) -> Option<String> {
        crate::read_cookie(cookie_header, &self.inner.config.session_cookie.name)
    }

    /// The `Set-Cookie` that gives the client `token`, the token of `session`.
    ///
    /// The cookie expires with the session's idle period (or a year from now when the cookie
    /// config says `expires: false`); it is `Secure` in [`Env::Prod`] and with
    /// `SameSite=None`.
    pub fn create_session_cookie(&self, token: &SessionToken, session: &Session<U, S>) -> SessionCookie {
        let config = &self.inner.config;
        let expires = if config.session_cookie.expires {
            session.idle_period_expires_at
        } else {
            SessionCookie::year_from(config.now())
        };
        SessionCookie::new(&config.session_cookie, token.expose_secret(), expires, config.env == Env::Prod)
    }

    /// The `Set-Cookie` that deletes the session cookie.
    pub fn create_blank_session_cookie(&self) -> SessionCookie {
        SessionCookie::blank(&self.inner.config.session_cookie, self.inner.config.env == Env::Prod)
    }
}

impl<A, U, S> Lucia<A, U, S>
where
    A: Adapter,
    U: Serialize + DeserializeOwned + Send + Sync,
    S: Serialize + DeserializeOwned + Send + Sync,
{
    // ---- users ----------------------------------------------------------------------------

    /// The user with this id, or [`Error::InvalidUserId`].
    pub async fn get_user(&self, user_id: &str) -> Result<User<U>, Error> {
        check_user_id(user_id)?;
        // Only the row whose id is exactly `user_id`: a store whose comparison equates other
        // spellings must not hand out another user.
        let user = self.inner.adapter.get_user(user_id).await?.filter(|user| user.id == user_id);
        user_from_database(user.ok_or(Error::InvalidUserId)?)
    }

    /// Creates a user and, if given, its first key, atomically.
    ///
    /// Errors: [`Error::DuplicateKeyId`], [`Error::DuplicateUserId`],
    /// [`Error::DuplicateAttribute`] (a unique attribute column), [`Error::InvalidProviderId`],
    /// [`Error::InvalidAttributes`], [`Error::PasswordRejected`] (the key's password fails the
    /// [`PasswordPolicy`](crate::PasswordPolicy)), [`Error::Busy`] (too many hashes at once).
    /// On any error nothing is written.
    pub async fn create_user(&self, options: CreateUser<U>) -> Result<User<U>, Error> {
        let user_id = options.user_id.unwrap_or_else(|| self.inner.adapter.new_user_id());
        check_user_id(&user_id)?;
        let attributes = to_attribute_map(&options.attributes, RESERVED_USER_COLUMNS)?;
        let key = match options.key {
            Some(key) => Some(self.database_key(&user_id, key).await?),
            None => None,
        };
        let user = DatabaseUser { id: user_id.clone(), attributes };
        self.inner.adapter.set_user(user, key).await?;
        Ok(User { user_id, attributes: options.attributes })
    }

    /// Sets some attribute columns of a user and returns the updated user.
    ///
    /// `attributes` must serialise to a map of column names; columns not named keep their
    /// values (`serde_json::json!({"username": "new"})` or a struct with
    /// `#[serde(skip_serializing_if = "Option::is_none")]` fields). An empty map changes
    /// nothing. An unknown user is [`Error::InvalidUserId`]; a value a unique column already
    /// holds is [`Error::DuplicateAttribute`].
    pub async fn update_user_attributes(&self, user_id: &str, attributes: &impl Serialize) -> Result<User<U>, Error> {
        check_user_id(user_id)?;
        let attributes = to_attribute_map(attributes, RESERVED_USER_COLUMNS)?;
        if !attributes.is_empty() {
            self.inner.adapter.update_user(user_id, attributes).await?;
        }
        self.get_user(user_id).await
    }

    /// Deletes a user with its sessions and keys, in one transaction where the store has them
    /// ([`Adapter::delete_user_cascade`]). An unknown user is not an error.
    pub async fn delete_user(&self, user_id: &str) -> Result<(), Error> {
        if check_user_id(user_id).is_err() {
            return Ok(());
        }
        Ok(self.inner.adapter.delete_user_cascade(user_id).await?)
    }

    // ---- keys -----------------------------------------------------------------------------

    async fn database_key(&self, user_id: &str, key: NewKey) -> Result<DatabaseKey, Error> {
        let id = create_key_id(&key.provider_id, &key.provider_user_id)?;
        let hashed_password = self.hash_password(key.password.as_deref(), &key.provider_user_id).await?;
        Ok(DatabaseKey { id, user_id: user_id.to_owned(), hashed_password })
    }

    /// Checks a new password against the policy and hashes it; `provider_user_id` is a word
    /// the strength estimate treats as guessable.
    pub(crate) async fn hash_password(
        &self,
        password: Option<&str>,
        provider_user_id: &str,
    ) -> Result<Option<String>, Error> {
        match password {
            Some(password) => Ok(Some(self.inner.hashing.hash_new(password, vec![provider_user_id.to_owned()]).await?)),
            None => Ok(None),
        }
    }

    /// Checks a new password before any database access, for the cheap rules (its length), so
    /// that nothing is read for a password that cannot be set.
    pub(crate) fn check_new_password_length(&self, password: Option<&str>) -> Result<(), Error> {
        match password {
            Some(password) => self.inner.hashing.policy().check_length(password).map_err(Error::PasswordRejected),
            None => Ok(()),
        }
    }

    /// The key row, or [`Error::InvalidKeyId`] after the same hashing work a wrong password
    /// costs (a hash by the configured hasher), so that response times do not reveal which
    /// keys exist.
    ///
    /// Only a row whose id is exactly `key_id` counts: a store whose comparison equates other
    /// spellings (MariaDB's `utf8mb4_bin` ignores trailing spaces) would otherwise let each
    /// spelling reach the same key under a sign-in throttle record of its own.
    async fn find_key(&self, key_id: &str, password: Option<&str>) -> Result<DatabaseKey, Error> {
        match self.inner.adapter.get_key(key_id).await?.filter(|key| key.id == key_id) {
            Some(key) => Ok(key),
            None => {
                if let Some(password) = password.filter(|p| !p.is_empty()) {
                    self.inner.hashing.verify_dummy(password).await?;
                }
                Err(Error::InvalidKeyId)
            }
        }
    }

    /// Checks `password` against `key` (Lucia v2's rules) and upgrades an outdated hash.
    /// Returns the key as stored afterwards.
    async fn verify_key(&self, mut key: DatabaseKey, password: Option<&str>) -> Result<DatabaseKey, Error> {
        match (key.hashed_password.as_deref(), password) {
            (Some(hash), Some(password)) if !password.is_empty() => {
                let (valid, needs_rehash) = self.inner.hashing.verify(password, hash).await?;
                if !valid {
                    return Err(Error::InvalidPassword);
                }
                if needs_rehash {
                    // Best effort: a failed upgrade never fails the sign-in. Only over the hash
                    // just checked, so a password changed meanwhile stays.
                    match self.upgrade_hash(&key.id, hash, password).await {
                        Ok(Some(fresh)) => key.hashed_password = Some(fresh),
                        // Another sign-in upgraded it, or the password changed: nothing to do.
                        Ok(None) => {}
                        Err(error) => {
                            // The key id names the account; the error never holds the password
                            // or a hash.
                            tracing::warn!(key_id = %key.id, %error, "lucia: could not upgrade an outdated password hash; the sign-in goes on");
                        }
                    }
                }
                Ok(key)
            }
            (None, None) => Ok(key),
            (None, Some(password)) if !password.is_empty() => {
                // A key without password: the same hash an unknown key costs, so that
                // response times do not reveal that the key exists.
                self.inner.hashing.verify_dummy(password).await?;
                Err(Error::InvalidPassword)
            }
            _ => Err(Error::InvalidPassword),
        }
    }

    /// Replaces `old` by a fresh hash of `password` if the key still holds `old`; returns the
    /// fresh hash if it was stored.
    async fn upgrade_hash(&self, key_id: &str, old: &str, password: &str) -> Result<Option<String>, Error> {
        let fresh = self.inner.hashing.hash(password).await?;
        Ok(self.inner.adapter.replace_key_password(key_id, old, &fresh).await?.then_some(fresh))
    }

    /// Checks a key's password and returns the key (whose `user_id` says whose it is), without
    /// starting a session: to confirm a password before a sensitive action. To sign in, use
    /// [`sign_in`](Self::sign_in), which also starts the session safely.
    ///
    /// `password` must be `Some` for a key with a password and `None` for a key without
    /// ([`Error::InvalidPassword`] otherwise, as for a wrong or empty password). An unknown key
    /// is [`Error::InvalidKeyId`]; the password is still hashed then (against a hash of a random
    /// password by the configured hasher), so response times do not reveal which keys exist.
    /// A password longer than [`MAX_PASSWORD_BYTES`](crate::MAX_PASSWORD_BYTES) is
    /// [`Error::InvalidPassword`] at once, without hashing. When the hashing threads and their
    /// queue are full, [`Error::Busy`].
    ///
    /// If the hasher says the stored hash is outdated
    /// ([`PasswordHasher::needs_rehash`](crate::PasswordHasher::needs_rehash): with the default
    /// [`Argon2id`](crate::Argon2id), an `s2:` scrypt hash or weaker parameters), it is replaced
    /// by a fresh hash, unless the password changed meanwhile. That upgrade is best effort: if
    /// it fails, a warning is logged and the password check still succeeds.
    ///
    /// With a password, the attempt is throttled per key first (on by default; see
    /// [`LuciaBuilder::sign_in_throttle`]): a key that must wait is [`Error::Throttled`],
    /// answered before the key is looked up and without hashing; a correct password clears
    /// the key's count.
    pub async fn use_key(
        &self,
        provider_id: &str,
        provider_user_id: &str,
        password: Option<&str>,
    ) -> Result<Key, Error> {
        let key_id = create_key_id(provider_id, provider_user_id)?;
        check_password_size(password)?;
        self.throttled(&key_id, password, async {
            let key = self.find_key(&key_id, password).await?;
            Ok(Key::from_database(self.verify_key(key, password).await?))
        })
        .await
    }

    /// Runs `check` (which checks `password` against key `key_id`) under the per-key sign-in
    /// throttle: an attempt with a password is recorded before `check` runs, and refused
    /// without running it while the key must wait; success clears the record. Attempts
    /// without a password (passwordless keys) are not throttled.
    async fn throttled<T>(
        &self,
        key_id: &str,
        password: Option<&str>,
        check: impl std::future::Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let Some(throttle) = self.inner.throttle.as_ref().filter(|_| password.is_some()) else {
            return check.await;
        };
        let key = throttle_key(key_id);
        // Fails closed: an attempt that cannot be recorded is not made.
        let attempt = throttle.store.attempt(&key, &throttle.backoff, self.inner.config.now());
        match self.inner.adapter.deadline().within(attempt).await? {
            Attempt::Allowed => {}
            Attempt::Throttled { retry_after } => return Err(Error::Throttled { retry_after }),
        }
        let outcome = check.await;
        if outcome.is_ok() {
            self.forget_sign_in_attempts(key_id).await;
        }
        outcome
    }

    /// Clears a key's sign-in throttle after its password was proven or set, so that its owner
    /// can sign in at once. Best effort: a record left behind only slows the key's next
    /// sign-ins, and is forgotten in time.
    pub(crate) async fn forget_sign_in_attempts(&self, key_id: &str) {
        if let Some(throttle) = &self.inner.throttle
            && let Err(error) =
                self.inner.adapter.deadline().within(throttle.store.succeeded(&throttle_key(key_id))).await
        {
            tracing::warn!(%error, "lucia: could not clear the sign-in throttle of a key");
        }
    }

    /// Adds a key to an existing user. Errors: [`Error::DuplicateKeyId`],
    /// [`Error::InvalidUserId`] (on every store, foreign keys or not),
    /// [`Error::InvalidProviderId`], [`Error::PasswordRejected`] (the password fails the
    /// [`PasswordPolicy`](crate::PasswordPolicy)), [`Error::Busy`].
    pub async fn create_key(&self, user_id: &str, key: NewKey) -> Result<Key, Error> {
        self.check_new_password_length(key.password.as_deref())?;
        self.get_user(user_id).await?;
        let key = self.database_key(user_id, key).await?;
        self.inner.adapter.set_key(key.clone()).await?;
        Ok(Key::from_database(key))
    }

    /// The key `provider_id:provider_user_id`, or [`Error::InvalidKeyId`]. Does not check a
    /// password.
    pub async fn get_key(&self, provider_id: &str, provider_user_id: &str) -> Result<Key, Error> {
        let key_id = create_key_id(provider_id, provider_user_id)?;
        let key = self.inner.adapter.get_key(&key_id).await?.ok_or(Error::InvalidKeyId)?;
        Ok(Key::from_database(key))
    }

    /// All keys of a user; an unknown user is [`Error::InvalidUserId`].
    pub async fn get_all_user_keys(&self, user_id: &str) -> Result<Vec<Key>, Error> {
        check_user_id(user_id)?;
        self.inner.adapter.get_user(user_id).await?.ok_or(Error::InvalidUserId)?;
        let keys = self.inner.adapter.get_keys_by_user_id(user_id).await?;
        Ok(keys.into_iter().map(Key::from_database).collect())
    }

    /// Sets (or with `None`, removes) a key's password, leaving sessions alone (Lucia v2's
    /// `updateKeyPassword`). When a user changes their password, use
    /// [`change_password`](Self::change_password), which also ends their sessions. An unknown
    /// key is [`Error::InvalidKeyId`], reported before any hashing (Lucia v2 hashed first). A
    /// new password must pass the [`PasswordPolicy`](crate::PasswordPolicy)
    /// ([`Error::PasswordRejected`]). The key's sign-in throttle is cleared (best effort).
    pub async fn update_key_password(
        &self,
        provider_id: &str,
        provider_user_id: &str,
        password: Option<&str>,
    ) -> Result<Key, Error> {
        let key_id = create_key_id(provider_id, provider_user_id)?;
        self.check_new_password_length(password)?;
        let mut key = self.inner.adapter.get_key(&key_id).await?.ok_or(Error::InvalidKeyId)?;
        key.hashed_password = self.hash_password(password, provider_user_id).await?;
        self.inner.adapter.update_key(&key_id, key.hashed_password.as_deref()).await?;
        self.forget_sign_in_attempts(&key_id).await;
        Ok(Key::from_database(key))
    }

    /// Sets a key's new password and ends every session of its user, atomically where the
    /// store allows ([`Adapter::update_key_and_end_sessions`]). No session survives that was
    /// started with the old password, including by a [`sign_in`](Self::sign_in) running at the
    /// same time. Start a new session for the device that made the change, if it should stay
    /// signed in.
    ///
    /// An unknown key is [`Error::InvalidKeyId`]; a password that fails the
    /// [`PasswordPolicy`](crate::PasswordPolicy) (an empty one always does)
    /// [`Error::PasswordRejected`], and nothing changes. The key's sign-in throttle is cleared
    /// (best effort).
    pub async fn change_password(
        &self,
        provider_id: &str,
        provider_user_id: &str,
        new_password: &str,
    ) -> Result<Key, Error> {
        let key_id = create_key_id(provider_id, provider_user_id)?;
        self.check_new_password_length(Some(new_password))?;
        let mut key = self.inner.adapter.get_key(&key_id).await?.ok_or(Error::InvalidKeyId)?;
        key.hashed_password = self.hash_password(Some(new_password), provider_user_id).await?;
        self.inner.adapter.update_key_and_end_sessions(&key_id, key.hashed_password.as_deref(), &key.user_id).await?;
        self.forget_sign_in_attempts(&key_id).await;
        Ok(Key::from_database(key))
    }

    /// Deletes a key. An unknown key is not an error. It deletes a user's last key too, as in
    /// Lucia v2: to let a user remove one of their ways to sign in, use
    /// [`delete_key_unless_last`](Self::delete_key_unless_last).
    pub async fn delete_key(&self, provider_id: &str, provider_user_id: &str) -> Result<(), Error> {
        let key_id = create_key_id(provider_id, provider_user_id)?;
        Ok(self.inner.adapter.delete_key(&key_id).await?)
    }

    /// Removes one of a user's ways to sign in, the key `provider_id:provider_user_id`, unless
    /// it is the last: [`SignInMethodDeletion::Deleted`], or
    /// [`NotFound`](SignInMethodDeletion::NotFound) (no such key of this user: someone else's
    /// key is left alone), or [`LastSignInMethod`](SignInMethodDeletion::LastSignInMethod)
    /// (nothing deleted).
    ///
    /// It exists beside [`delete_key`](Self::delete_key) because counting a user's keys and
    /// then deleting one races: two removals at once (of the user's two keys, or of a key and a
    /// passkey) each see the other method still there, and both delete. Here the count and the
    /// deletion are one transaction under a lock of the user's row
    /// ([`UserAdapter::delete_key_unless_last`]), as is
    /// [`PasskeyAdapter::delete_passkey`](crate::PasskeyAdapter::delete_passkey), so at least
    /// one way to sign in remains however removals interleave.
    ///
    /// The user's keys and passkeys count as ways to sign in, except keys whose provider is in
    /// `uncounted_providers`: keys that find a user but sign no one in (an `email` key used only
    /// for password resets). Such a key is always deleted. Ids no user or key can have are
    /// [`Error::InvalidUserId`] and [`Error::InvalidKeyId`], before any query.
    ///
    /// ```
    /// use lucia::{CreateUser, Lucia, NewKey, SignInMethodDeletion, memory::MemoryAdapter};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), lucia::Error> {
    /// let auth = Lucia::builder(MemoryAdapter::new()).build();
    /// let password = NewKey::password("username", "ada", "correct horse battery");
    /// let user = auth.create_user(CreateUser::new(Default::default()).with_key(password)).await?;
    /// auth.create_key(&user.user_id, NewKey::passwordless("github", "1912")).await?;
    /// auth.create_key(&user.user_id, NewKey::passwordless("email", "ada@example.com")).await?;
    ///
    /// let remove = |provider, subject| auth.delete_key_unless_last(&user.user_id, provider, subject, &["email"]);
    /// assert_eq!(remove("github", "1912").await?, SignInMethodDeletion::Deleted);
    /// // The password is now the only way in: the `email` key signs no one in.
    /// assert_eq!(remove("username", "ada").await?, SignInMethodDeletion::LastSignInMethod);
    /// assert_eq!(remove("github", "1912").await?, SignInMethodDeletion::NotFound);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn delete_key_unless_last(
        &self,
        user_id: &str,
        provider_id: &str,
        provider_user_id: &str,
        uncounted_providers: &[&str],
    ) -> Result<SignInMethodDeletion, Error> {
        check_user_id(user_id)?;
        let key_id = create_key_id(provider_id, provider_user_id)?;
        Ok(self.inner.adapter.delete_key_unless_last(user_id, &key_id, uncounted_providers).await?)
    }

    // ---- sessions -------------------------------------------------------------------------

    /// Creates a session for an existing user and returns it with its token, the only time
    /// the token is handed out. The session is active and `fresh` (send its cookie).
    ///
    /// An unknown user is [`Error::InvalidUserId`], and no row is written (Lucia v2 inserted
    /// an orphan session when the table had no foreign key). To start a session after
    /// checking a password, use [`sign_in`](Self::sign_in).
    pub async fn create_session(&self, options: CreateSession<S>) -> Result<NewSession<U, S>, Error> {
        let user = self.get_user(&options.user_id).await?;
        let token = SessionToken::generate();
        let (active_expires, idle_expires) = self.new_expiries(self.now_ms());
        let row = DatabaseSession {
            id: self.stored_id(token.expose_secret()),
            user_id: options.user_id,
            active_expires,
            idle_expires,
            attributes: to_attribute_map(&options.attributes, RESERVED_SESSION_COLUMNS)?,
        };
        self.inner.adapter.set_session(row.clone()).await?;
        let session = Session {
            handle: SessionHandle::of_stored_id(&row.id),
            user,
            active_period_expires_at: from_millis(active_expires),
            idle_period_expires_at: from_millis(idle_expires),
            state: SessionState::Active,
            fresh: true,
            attributes: options.attributes,
        };
        Ok(NewSession { token, session })
    }

    /// Signs in: checks the key's password and starts a session, as one operation that holds
    /// up against a password change or "sign out everywhere" running at the same time.
    ///
    /// The password rules, errors and timing are [`use_key`](Self::use_key)'s. A session
    /// comes into being only if the password it was checked against is still the key's when
    /// it does, and no revocation of the user's sessions ([`change_password`],
    /// [`invalidate_all_user_sessions`]) that began after the check can miss it: before the
    /// password is checked, a dead placeholder row is written under the new session's id; it
    /// is made live only after the check, if it still exists and the key still holds the same
    /// hash. A sign-in whose placeholder was revoked starts over (the new attempt checks the
    /// password again); after three such races it gives up with [`Error::InvalidSessionId`].
    /// A user deleted meanwhile is [`Error::InvalidKeyId`]. With a password, the sign-in is
    /// throttled per key as [`use_key`](Self::use_key) is ([`Error::Throttled`]).
    ///
    /// [`change_password`]: Self::change_password
    /// [`invalidate_all_user_sessions`]: Self::invalidate_all_user_sessions
    pub async fn sign_in(
        &self,
        provider_id: &str,
        provider_user_id: &str,
        password: Option<&str>,
        attributes: S,
    ) -> Result<NewSession<U, S>, Error> {
        match self.password_sign_in(provider_id, provider_user_id, password, attributes).await? {
            PasswordSignIn::SignedIn(session) => Ok(session),
            PasswordSignIn::SecondFactorRequired { .. } => Err(Error::SecondFactorRequired),
        }
    }

    /// [`sign_in`](Self::sign_in), telling a user who needs a second factor apart.
    pub(crate) async fn password_sign_in(
        &self,
        provider_id: &str,
        provider_user_id: &str,
        password: Option<&str>,
        attributes: S,
    ) -> Result<PasswordSignIn<U, S>, Error> {
        let key_id = create_key_id(provider_id, provider_user_id)?;
        let attribute_map = to_attribute_map(&attributes, RESERVED_SESSION_COLUMNS)?;
        check_password_size(password)?;
        self.throttled(&key_id, password, self.sign_in_unthrottled(&key_id, password, attribute_map)).await
    }

    /// [`sign_in`](Self::sign_in) after the throttle.
    async fn sign_in_unthrottled(
        &self,
        key_id: &str,
        password: Option<&str>,
        attribute_map: AttributeMap,
    ) -> Result<PasswordSignIn<U, S>, Error> {
        if password == Some("") {
            // Never valid (Lucia v2's rule); answered without writing a placeholder.
            self.find_key(key_id, password).await?;
            return Err(Error::InvalidPassword);
        }
        for _ in 0..SIGN_IN_ATTEMPTS {
            let key = self.find_key(key_id, password).await?;
            let token = SessionToken::generate();
            let stored_id = self.stored_id(token.expose_secret());
            // Dead from the start: it authenticates nothing until it is made live below.
            let dead = self.now_ms().saturating_sub(1);
            let placeholder = DatabaseSession {
                id: stored_id.clone(),
                user_id: key.user_id.clone(),
                active_expires: dead,
                idle_expires: dead,
                attributes: attribute_map.clone(),
            };
            match self.inner.adapter.set_session(placeholder).await {
                Ok(()) => {}
                // The user was deleted since the key was read.
                Err(crate::AdapterError::InvalidUserId) => return Err(Error::InvalidKeyId),
                Err(error) => return Err(error.into()),
            }
            let outcome = self.finish_sign_in(key_id, key, password, &stored_id).await;
            match outcome {
                Ok(Finish::Live(session)) => return Ok(PasswordSignIn::SignedIn(NewSession { token, session })),
                Ok(Finish::SecondFactorRequired(user_id)) => {
                    // The placeholder never became live; delete it now rather than at a sweep.
                    let _ = self.inner.adapter.delete_session(&stored_id).await;
                    return Ok(PasswordSignIn::SecondFactorRequired { user_id });
                }
                // Revoked while signing in: start over.
                Ok(Finish::Revoked) => {
                    let _ = self.inner.adapter.delete_session(&stored_id).await;
                }
                Err(error) => {
                    // Best effort: the row is dead, and the sweeps remove it anyway.
                    let _ = self.inner.adapter.delete_session(&stored_id).await;
                    return Err(error);
                }
            }
        }
        Err(Error::InvalidSessionId)
    }

    /// The part of [`sign_in`](Self::sign_in) after the placeholder is written.
    async fn finish_sign_in(
        &self,
        key_id: &str,
        key: DatabaseKey,
        password: Option<&str>,
        stored_id: &str,
    ) -> Result<Finish<U, S>, Error> {
        let checked = self.verify_key(key, password).await?;
        // The placeholder exists from here on unless revoked. The password must still be the
        // key's: if the hash changed since the check (a password change, or another sign-in
        // upgrading the same password's hash), the password is checked against the new one.
        let current = self.inner.adapter.get_key_latest(key_id).await?.ok_or(Error::InvalidKeyId)?;
        if current.user_id != checked.user_id {
            return Err(Error::InvalidKeyId);
        }
        if current.hashed_password != checked.hashed_password {
            self.verify_key(current, password).await?;
        }
        // Asked only once the password is proven, so that the answer tells nobody else whether
        // the user has a second factor. The placeholder stays dead then.
        if self.second_factor_required(&checked.user_id).await? {
            return Ok(Finish::SecondFactorRequired(checked.user_id));
        }
        let now = self.now_ms();
        let expires = self.new_expiries(now);
        let update = SessionUpdate { expires: Some(expires), attributes: AttributeMap::new() };
        self.inner.adapter.update_session(stored_id, update).await?;
        let Some((row, user)) = self.inner.adapter.get_session_and_user(stored_id).await? else {
            return Ok(Finish::Revoked);
        };
        if row.idle_expires != expires.1 {
            // Deleted and not ours, or not made live: treat as revoked.
            return Ok(Finish::Revoked);
        }
        session_from_database(row, user_from_database(user)?, now, true).map(Finish::Live)
    }

    /// A live session without renewing it ([`Error::InvalidSessionId`] if the token is
    /// unknown, the session dead, or its user gone).
    pub async fn get_session(&self, token: &str) -> Result<Session<U, S>, Error> {
        let now = self.now_ms();
        let (session, user) = self.live_session(token, now).await?;
        session_from_database(session, user_from_database(user)?, now, false)
    }

    /// Validates a session token from a request: [`Error::InvalidSessionId`] if it is empty,
    /// longer than [`MAX_SESSION_TOKEN_LENGTH`], unknown, dead, or its user is gone. An idle
    /// session is renewed (new active and idle periods, same token) and returned with
    /// `fresh: true` and state [`SessionState::Active`] (Lucia v2 said "idle" here).
    ///
    /// One database round trip for an active session (two when it is renewed).
    pub async fn validate_session(&self, token: &str) -> Result<Session<U, S>, Error> {
        // One reading of the clock decides liveness, state and the new expiries alike.
        let now = self.now_ms();
        let (mut session, user) = self.live_session(token, now).await?;
        let renew = now > session.active_expires;
        if renew {
            let expires = self.new_expiries(now);
            let update = SessionUpdate { expires: Some(expires), attributes: AttributeMap::new() };
            // Boxed: a write's future is many times the read's (7.6 kB against 0.5 kB through
            // SeaORM), and inline it would make every validation's future that big, moved on
            // every call although few renew.
            Box::pin(self.inner.adapter.update_session(&session.id, update)).await?;
            (session.active_expires, session.idle_expires) = expires;
        }
        session_from_database(session, user_from_database(user)?, now, renew)
    }

    /// The live sessions of a user (dead ones are left out, not deleted), each with its
    /// [`handle`](Session::handle) and no token. An unknown user is [`Error::InvalidUserId`].
    pub async fn get_all_user_sessions(&self, user_id: &str) -> Result<Vec<Session<U, S>>, Error>
    where
        U: Clone,
    {
        let user = self.get_user(user_id).await?;
        let now = self.now_ms();
        let sessions = self.inner.adapter.get_sessions_by_user_id(user_id).await?;
        sessions
            .into_iter()
            .filter(|session| is_alive(session, now))
            .map(|session| session_from_database(session, user.clone(), now, false))
            .collect()
    }

    /// Sets some attribute columns of a live session and returns it (see
    /// [`update_user_attributes`](Self::update_user_attributes) for the partial format). An
    /// unknown or dead session is [`Error::InvalidSessionId`], and nothing is written (Lucia
    /// v2 wrote to dead sessions).
    pub async fn update_session_attributes(
        &self,
        token: &str,
        attributes: &impl Serialize,
    ) -> Result<Session<U, S>, Error> {
        let attributes = to_attribute_map(attributes, RESERVED_SESSION_COLUMNS)?;
        // Unknown and dead sessions are refused before anything is written.
        let session = self.get_session(token).await?;
        if attributes.is_empty() {
            return Ok(session);
        }
        let update = SessionUpdate { expires: None, attributes };
        self.inner.adapter.update_session(&self.stored_id(token), update).await?;
        self.get_session(token).await
    }

    /// Deletes the session of a token (signs out). An unknown token is not an error, and
    /// neither is one no session can have (empty, containing NUL, or ending in a space).
    pub async fn invalidate_session(&self, token: &str) -> Result<(), Error> {
        if token.is_empty() || !is_storable_id(token) {
            return Ok(());
        }
        Ok(self.inner.adapter.delete_session(&self.stored_id(token)).await?)
    }

    /// Deletes the session named by `handle` if it belongs to `user_id`, and says whether it
    /// did: "sign out that device" from a list of [`get_all_user_sessions`]. A handle of
    /// another user's session changes nothing.
    ///
    /// [`get_all_user_sessions`]: Self::get_all_user_sessions
    pub async fn invalidate_user_session(&self, user_id: &str, handle: &SessionHandle) -> Result<bool, Error> {
        if check_user_id(user_id).is_err() {
            return Ok(false);
        }
        let sessions = self.inner.adapter.get_sessions_by_user_id(user_id).await?;
        let Some(target) = sessions.iter().find(|s| SessionHandle::of_stored_id(&s.id) == *handle) else {
            return Ok(false);
        };
        self.inner.adapter.delete_session(&target.id).await?;
        Ok(true)
    }

    /// Deletes every session of a user (signs out everywhere), in one statement. A
    /// [`sign_in`](Self::sign_in) that checked the password before this ran does not keep its
    /// session: its session is deleted here, or it starts over and checks the password again.
    /// To keep the current device signed in, start a new session for it afterwards.
    pub async fn invalidate_all_user_sessions(&self, user_id: &str) -> Result<(), Error> {
        if check_user_id(user_id).is_err() {
            return Ok(());
        }
        Ok(self.inner.adapter.delete_sessions_by_user_id(user_id).await?)
    }

    /// Deletes a user's sessions that have been dead for a minute, and returns once they are
    /// gone (Lucia v2 returned before its deletes finished).
    pub async fn delete_dead_user_sessions(&self, user_id: &str) -> Result<(), Error> {
        if check_user_id(user_id).is_err() {
            return Ok(());
        }
        Ok(self.inner.adapter.delete_dead_sessions_by_user_id(user_id, self.sweep_cutoff()).await?)
    }

    /// Deletes every session of every user that has been dead for a minute, and returns how
    /// many; run it periodically, as [`spawn_session_sweeper`](Self::spawn_session_sweeper)
    /// does. (Lucia v2 had no such sweep; v3 added `deleteExpiredSessions`.)
    pub async fn delete_dead_sessions(&self) -> Result<u64, Error> {
        Ok(self.inner.adapter.delete_dead_sessions(self.sweep_cutoff()).await?)
    }

    /// Deletes every single-use token (verification code, reset link) that has expired, and
    /// returns how many; the session sweeper
    /// ([`spawn_session_sweeper`](Self::spawn_session_sweeper)) runs it after each sweep of
    /// sessions. Stores without tokens delete nothing.
    pub async fn delete_expired_tokens(&self) -> Result<u64, Error> {
        Ok(self.inner.adapter.delete_expired_tokens(self.now_ms()).await?)
    }

    fn sweep_cutoff(&self) -> i64 {
        self.now_ms().saturating_sub(DEAD_SESSION_GRACE_MS)
    }

    async fn live_session(&self, token: &str, now: i64) -> Result<(DatabaseSession, DatabaseUser), Error> {
        check_token(token)?;
        // In clear mode a hashed-mode row's id must not work as a token: a leaked table
        // written in hashed mode stays useless after a switch back.
        if self.inner.config.session_tokens == crate::SessionTokens::Plain && crate::SessionTokens::is_hashed_id(token)
        {
            return Err(Error::InvalidSessionId);
        }
        let stored_id = self.stored_id(token);
        let (session, user) =
            self.inner.adapter.get_session_and_user(&stored_id).await?.ok_or(Error::InvalidSessionId)?;
        if !is_alive(&session, now) {
            return Err(Error::InvalidSessionId);
        }
        Ok((session, user))
    }

    /// `(active_expires, idle_expires)` for a session created or renewed at `now`.
    fn new_expiries(&self, now: i64) -> (i64, i64) {
        let periods = &self.inner.config.session_expires_in;
        let millis = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let active = now.saturating_add(millis(periods.active_period));
        (active, active.saturating_add(millis(periods.idle_period)))
    }
}

/// Refuses a password no key can hold (longer than [`MAX_PASSWORD_BYTES`]) before any lookup
/// or hashing, for known and unknown keys alike.
fn check_password_size(password: Option<&str>) -> Result<(), Error> {
    match password {
        Some(password) if password.len() > MAX_PASSWORD_BYTES => Err(Error::InvalidPassword),
        _ => Ok(()),
    }
}

/// Rejects tokens no session can have (empty, oversized, or not [`is_storable_id`]) before
/// any query.
fn check_token(token: &str) -> Result<(), Error> {
    if token.is_empty() || token.len() > MAX_SESSION_TOKEN_LENGTH || !is_storable_id(token) {
        return Err(Error::InvalidSessionId);
    }
    Ok(())
}

/// Rejects user ids that are not [`is_storable_id`] before any query: no such user can exist.
pub(crate) fn check_user_id(user_id: &str) -> Result<(), Error> {
    if !is_storable_id(user_id) {
        return Err(Error::InvalidUserId);
    }
    Ok(())
}

/// Whether every store can hold `id` and tell it from every other id: not when it contains
/// NUL (PostgreSQL cannot store it), nor when it ends in a space (MySQL/MariaDB's `PAD SPACE`
/// collations, `utf8mb4_bin` included, equate `"abc "` with `"abc"`, so such an id would
/// find, update or delete the rows of another).
pub(crate) fn is_storable_id(id: &str) -> bool {
    !id.contains('\0') && !id.ends_with(' ')
}

/// Lucia v2's rule: dead once `now > idle_expires` (the boundary is still alive).
fn is_alive(session: &DatabaseSession, now: i64) -> bool {
    now <= session.idle_expires
}

fn user_from_database<U: DeserializeOwned>(user: DatabaseUser) -> Result<User<U>, Error> {
    Ok(User { user_id: user.id, attributes: from_attribute_map(user.attributes)? })
}

fn session_from_database<U, S: DeserializeOwned>(
    session: DatabaseSession,
    user: User<U>,
    now: i64,
    fresh: bool,
) -> Result<Session<U, S>, Error> {
    Ok(Session {
        handle: SessionHandle::of_stored_id(&session.id),
        user,
        active_period_expires_at: from_millis(session.active_expires),
        idle_period_expires_at: from_millis(session.idle_expires),
        state: if now <= session.active_expires { SessionState::Active } else { SessionState::Idle },
        fresh,
        attributes: from_attribute_map(session.attributes)?,
    })
}

pub(crate) fn to_attribute_map(attributes: &impl Serialize, reserved: &[&str]) -> Result<AttributeMap, Error> {
    match serde_json::to_value(attributes) {
        Ok(Value::Object(map)) => match reserved.iter().find(|name| map.contains_key(**name)) {
            Some(name) => Err(Error::InvalidAttributes(format!("`{name}` is not an attribute column"))),
            None => Ok(map),
        },
        Ok(other) => Err(Error::InvalidAttributes(format!("attributes must serialize to a map, not {other}"))),
        Err(e) => Err(Error::InvalidAttributes(e.to_string())),
    }
}

pub(crate) fn from_attribute_map<T: DeserializeOwned>(attributes: AttributeMap) -> Result<T, Error> {
    serde_json::from_value(Value::Object(attributes)).map_err(|e| Error::InvalidAttributes(e.to_string()))
}
