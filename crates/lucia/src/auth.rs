//! [`Lucia`]: users, keys and sessions (Lucia v2's `Auth`).

use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::{Config, LuciaBuilder};
use crate::id::{SESSION_ID_LENGTH, USER_ID_LENGTH};
use crate::password::HashingPool;
use crate::session::{from_millis, to_millis};
use crate::{
    Adapter, AttributeMap, DatabaseKey, DatabaseSession, DatabaseUser, Env, Error, Key, Session, SessionCookie,
    SessionState, SessionUpdate, User, create_key_id, generate_random_string,
};

/// Attributes for tables with no attribute columns: serialises to `{}` and reads any row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoAttributes {}

/// The longest session id accepted from a request. Longer ones are rejected before any
/// database query (Lucia's own ids are 40 characters; MySQL schemas use `VARCHAR(127)`).
pub const MAX_SESSION_ID_LENGTH: usize = 255;

/// A key to create, for a new user ([`CreateUser::key`]) or an existing one
/// ([`Lucia::create_key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    /// For example `"email"`. Must not contain `:`.
    pub provider_id: String,
    /// For example the email address. Stored verbatim: no case folding (lowercase emails
    /// yourself, as Lucia v2 apps do).
    pub provider_user_id: String,
    /// A password to hash and store, or `None` for a key without password (OAuth).
    pub password: Option<String>,
}

/// What [`Lucia::create_user`] inserts.
#[derive(Debug, Clone)]
pub struct CreateUser<U> {
    /// The user id; `None` generates 15 random `[a-z0-9]` characters.
    pub user_id: Option<String>,
    /// The user's first key, inserted in the same transaction; `None` for a user without key.
    pub key: Option<NewKey>,
    /// The user's attribute columns.
    pub attributes: U,
}

/// What [`Lucia::create_session`] inserts.
#[derive(Debug, Clone)]
pub struct CreateSession<S> {
    /// The user the session belongs to.
    pub user_id: String,
    /// The session id; `None` generates 40 random `[a-z0-9]` characters.
    pub session_id: Option<String>,
    /// The session's attribute columns.
    pub attributes: S,
}

const RESERVED_USER_COLUMNS: &[&str] = &["id"];
const RESERVED_SESSION_COLUMNS: &[&str] = &["id", "user_id", "active_expires", "idle_expires"];

/// Users, keys and sessions over an [`Adapter`]: Lucia v2's `Auth`.
///
/// `U` and `S` are the application's user and session attribute types (any serde type that
/// (de)serialises as a map of column names). `Lucia` is cheap to clone: clones share one
/// adapter and configuration.
pub struct Lucia<A, U = NoAttributes, S = NoAttributes> {
    inner: Arc<Inner<A>>,
    types: PhantomData<fn() -> (U, S)>,
}

struct Inner<A> {
    adapter: A,
    config: Config,
    hashing: HashingPool,
}

impl<A, U, S> Clone for Lucia<A, U, S> {
    fn clone(&self) -> Self {
        Self { inner: Arc::clone(&self.inner), types: PhantomData }
    }
}

impl<A, U, S> std::fmt::Debug for Lucia<A, U, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lucia").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

impl<A: Adapter> Lucia<A> {
    /// Starts configuring a `Lucia` over `adapter`, with Lucia v2's defaults.
    pub fn builder(adapter: A) -> LuciaBuilder<A> {
        LuciaBuilder::new(adapter)
    }
}

impl<A, U, S> Lucia<A, U, S> {
    pub(crate) fn from_parts(adapter: A, config: Config, hashing: HashingPool) -> Self {
        Self { inner: Arc::new(Inner { adapter, config, hashing }), types: PhantomData }
    }

    /// The adapter, for operations Lucia does not wrap.
    pub fn adapter(&self) -> &A {
        &self.inner.adapter
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    fn now_ms(&self) -> i64 {
        to_millis(self.inner.config.now())
    }

    /// The session cookie's value from a `Cookie` header, if present and not empty.
    pub fn read_session_cookie(&self, cookie_header: &str) -> Option<String> {
        crate::read_cookie(cookie_header, &self.inner.config.session_cookie.name)
    }

    /// The `Set-Cookie` for a session, or with `None`, the cookie that deletes it.
    ///
    /// The cookie expires with the session's idle period (or a year from now when the cookie
    /// config says `expires: false`); it is `Secure` in [`Env::Prod`].
    pub fn create_session_cookie(&self, session: Option<&Session<U, S>>) -> SessionCookie {
        let config = &self.inner.config;
        let secure = config.env == Env::Prod;
        match session {
            None => SessionCookie::blank(&config.session_cookie, secure),
            Some(session) => {
                let expires = if config.session_cookie.expires {
                    session.idle_period_expires_at
                } else {
                    SessionCookie::year_from(config.now())
                };
                SessionCookie::new(&config.session_cookie, &session.session_id, expires, secure)
            }
        }
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
        let user = self.inner.adapter.get_user(user_id).await?.ok_or(Error::InvalidUserId)?;
        user_from_database(user)
    }

    /// Creates a user and, if given, its first key, atomically.
    ///
    /// Errors: [`Error::DuplicateKeyId`], [`Error::DuplicateUserId`],
    /// [`Error::DuplicateAttribute`] (a unique attribute column), [`Error::InvalidProviderId`],
    /// [`Error::InvalidAttributes`]. On any error nothing is written.
    pub async fn create_user(&self, options: CreateUser<U>) -> Result<User<U>, Error> {
        let user_id = options.user_id.unwrap_or_else(|| generate_random_string(USER_ID_LENGTH));
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
    /// nothing. An unknown user is [`Error::InvalidUserId`].
    pub async fn update_user_attributes(&self, user_id: &str, attributes: &impl Serialize) -> Result<User<U>, Error> {
        check_user_id(user_id)?;
        let attributes = to_attribute_map(attributes, RESERVED_USER_COLUMNS)?;
        if !attributes.is_empty() {
            self.inner.adapter.update_user(user_id, attributes).await?;
        }
        self.get_user(user_id).await
    }

    /// Deletes a user with its sessions and keys, in that order (as Lucia v2 does, so foreign
    /// keys without `ON DELETE CASCADE` are satisfied). An unknown user is not an error.
    pub async fn delete_user(&self, user_id: &str) -> Result<(), Error> {
        if check_user_id(user_id).is_err() {
            return Ok(());
        }
        let adapter = &self.inner.adapter;
        adapter.delete_sessions_by_user_id(user_id).await?;
        adapter.delete_keys_by_user_id(user_id).await?;
        adapter.delete_user(user_id).await?;
        Ok(())
    }

    // ---- keys -----------------------------------------------------------------------------

    async fn database_key(&self, user_id: &str, key: NewKey) -> Result<DatabaseKey, Error> {
        let id = create_key_id(&key.provider_id, &key.provider_user_id)?;
        let hashed_password = self.hash_password(key.password.as_deref()).await?;
        Ok(DatabaseKey { id, user_id: user_id.to_owned(), hashed_password })
    }

    async fn hash_password(&self, password: Option<&str>) -> Result<Option<String>, Error> {
        match password {
            Some(password) => Ok(Some(self.inner.hashing.hash(password).await?)),
            None => Ok(None),
        }
    }

    /// Signs in with a key: checks the password and returns the key (whose `user_id` says who
    /// signed in).
    ///
    /// `password` must be `Some` for a key with a password and `None` for a key without
    /// ([`Error::InvalidPassword`] otherwise, as for a wrong password). An unknown key is
    /// [`Error::InvalidKeyId`]; the password is still hashed then, so response times do not
    /// reveal which keys exist. If the hasher says the stored hash is outdated
    /// ([`PasswordHasher::needs_rehash`](crate::PasswordHasher::needs_rehash)), it is replaced
    /// by a fresh hash.
    pub async fn use_key(
        &self,
        provider_id: &str,
        provider_user_id: &str,
        password: Option<&str>,
    ) -> Result<Key, Error> {
        let key_id = create_key_id(provider_id, provider_user_id)?;
        let Some(key) = self.inner.adapter.get_key(&key_id).await? else {
            if let Some(password) = password {
                // Same work as a real check, so unknown keys are not faster to reject.
                self.inner.hashing.verify(password, DUMMY_HASH).await?;
            }
            return Err(Error::InvalidKeyId);
        };
        match (&key.hashed_password, password) {
            (Some(hash), Some(password)) => {
                let (valid, needs_rehash) = self.inner.hashing.verify(password, hash).await?;
                if !valid {
                    return Err(Error::InvalidPassword);
                }
                if needs_rehash {
                    let fresh = self.inner.hashing.hash(password).await?;
                    self.inner.adapter.update_key(&key_id, Some(&fresh)).await?;
                }
            }
            (None, None) => {}
            _ => return Err(Error::InvalidPassword),
        }
        Ok(Key::from_database(key))
    }

    /// Adds a key to an existing user. Errors: [`Error::DuplicateKeyId`],
    /// [`Error::InvalidUserId`], [`Error::InvalidProviderId`].
    pub async fn create_key(&self, user_id: &str, key: NewKey) -> Result<Key, Error> {
        check_user_id(user_id)?;
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

    /// Sets (or with `None`, removes) a key's password. An unknown key is
    /// [`Error::InvalidKeyId`], reported before any hashing (Lucia v2 hashed first).
    pub async fn update_key_password(
        &self,
        provider_id: &str,
        provider_user_id: &str,
        password: Option<&str>,
    ) -> Result<Key, Error> {
        let key_id = create_key_id(provider_id, provider_user_id)?;
        let mut key = self.inner.adapter.get_key(&key_id).await?.ok_or(Error::InvalidKeyId)?;
        key.hashed_password = self.hash_password(password).await?;
        self.inner.adapter.update_key(&key_id, key.hashed_password.as_deref()).await?;
        Ok(Key::from_database(key))
    }

    /// Deletes a key. An unknown key is not an error.
    pub async fn delete_key(&self, provider_id: &str, provider_user_id: &str) -> Result<(), Error> {
        let key_id = create_key_id(provider_id, provider_user_id)?;
        Ok(self.inner.adapter.delete_key(&key_id).await?)
    }

    // ---- sessions -------------------------------------------------------------------------

    /// Creates a session for an existing user. The returned session is active and
    /// `fresh` (send its cookie).
    ///
    /// An unknown user is [`Error::InvalidUserId`], and no row is written (Lucia v2 inserted
    /// an orphan session when the table had no foreign key).
    pub async fn create_session(&self, options: CreateSession<S>) -> Result<Session<U, S>, Error> {
        let user = self.get_user(&options.user_id).await?;
        let session_id = options.session_id.unwrap_or_else(|| generate_random_string(SESSION_ID_LENGTH));
        let (active_expires, idle_expires) = self.new_expiries(self.now_ms());
        let row = DatabaseSession {
            id: session_id,
            user_id: options.user_id,
            active_expires,
            idle_expires,
            attributes: to_attribute_map(&options.attributes, RESERVED_SESSION_COLUMNS)?,
        };
        self.inner.adapter.set_session(row.clone()).await?;
        Ok(Session {
            session_id: row.id,
            user,
            active_period_expires_at: from_millis(active_expires),
            idle_period_expires_at: from_millis(idle_expires),
            state: SessionState::Active,
            fresh: true,
            attributes: options.attributes,
        })
    }

    /// A live session without renewing it ([`Error::InvalidSessionId`] if it is unknown,
    /// dead, or its user is gone).
    pub async fn get_session(&self, session_id: &str) -> Result<Session<U, S>, Error> {
        let now = self.now_ms();
        let (session, user) = self.live_session(session_id, now).await?;
        session_from_database(session, user_from_database(user)?, now, false)
    }

    /// Validates a session id from a request: [`Error::InvalidSessionId`] if it is empty, too
    /// long, unknown, dead, or its user is gone. An idle session is renewed (new active and
    /// idle periods, same id) and returned with `fresh: true` and state
    /// [`SessionState::Active`] (Lucia v2 said "idle" here).
    ///
    /// One database round trip for an active session (two when it is renewed).
    pub async fn validate_session(&self, session_id: &str) -> Result<Session<U, S>, Error> {
        // One reading of the clock decides liveness, state and the new expiries alike.
        let now = self.now_ms();
        let (mut session, user) = self.live_session(session_id, now).await?;
        let renew = now > session.active_expires;
        if renew {
            let expires = self.new_expiries(now);
            let update = SessionUpdate { expires: Some(expires), attributes: AttributeMap::new() };
            self.inner.adapter.update_session(&session.id, update).await?;
            (session.active_expires, session.idle_expires) = expires;
        }
        session_from_database(session, user_from_database(user)?, now, renew)
    }

    /// The live sessions of a user (dead ones are left out, not deleted). An unknown user is
    /// [`Error::InvalidUserId`].
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
    /// [`update_user_attributes`](Self::update_user_attributes) for the partial format).
    pub async fn update_session_attributes(
        &self,
        session_id: &str,
        attributes: &impl Serialize,
    ) -> Result<Session<U, S>, Error> {
        check_session_id(session_id)?;
        let attributes = to_attribute_map(attributes, RESERVED_SESSION_COLUMNS)?;
        if !attributes.is_empty() {
            self.inner.adapter.update_session(session_id, SessionUpdate { expires: None, attributes }).await?;
        }
        self.get_session(session_id).await
    }

    /// Deletes a session (signs out). An unknown id is not an error; an empty or oversized
    /// one is [`Error::InvalidSessionId`].
    pub async fn invalidate_session(&self, session_id: &str) -> Result<(), Error> {
        check_session_id(session_id)?;
        Ok(self.inner.adapter.delete_session(session_id).await?)
    }

    /// Deletes every session of a user (signs out everywhere).
    pub async fn invalidate_all_user_sessions(&self, user_id: &str) -> Result<(), Error> {
        if check_user_id(user_id).is_err() {
            return Ok(());
        }
        Ok(self.inner.adapter.delete_sessions_by_user_id(user_id).await?)
    }

    /// Deletes a user's dead sessions, and returns once they are gone (Lucia v2 returned
    /// before its deletes finished).
    pub async fn delete_dead_user_sessions(&self, user_id: &str) -> Result<(), Error> {
        if check_user_id(user_id).is_err() {
            return Ok(());
        }
        Ok(self.inner.adapter.delete_dead_sessions_by_user_id(user_id, self.now_ms()).await?)
    }

    /// Deletes every dead session of every user and returns how many; run it periodically.
    /// (Lucia v2 had no such sweep; v3 added `deleteExpiredSessions`.)
    pub async fn delete_dead_sessions(&self) -> Result<u64, Error> {
        Ok(self.inner.adapter.delete_dead_sessions(self.now_ms()).await?)
    }

    async fn live_session(&self, session_id: &str, now: i64) -> Result<(DatabaseSession, DatabaseUser), Error> {
        check_session_id(session_id)?;
        let (session, user) =
            self.inner.adapter.get_session_and_user(session_id).await?.ok_or(Error::InvalidSessionId)?;
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

/// A valid Lucia v2 `s2:` hash of a random password, verified against unknown keys so that
/// rejecting them costs as much as rejecting a wrong password.
const DUMMY_HASH: &str = "s2:0000000000000000:fc67cbdcdbd4f5c77534b6bce9f305722702e082dad70c063672144962c6afade6b483a9ffff5be62fe96ab2c5544dd37dab0a24c8bf6f2270766c58bef20a57";

/// Rejects session ids no store can hold (empty, oversized, or containing NUL) before any
/// query.
fn check_session_id(session_id: &str) -> Result<(), Error> {
    if session_id.is_empty() || session_id.len() > MAX_SESSION_ID_LENGTH || session_id.contains('\0') {
        return Err(Error::InvalidSessionId);
    }
    Ok(())
}

/// Rejects user ids no store can hold (containing NUL, which PostgreSQL cannot store) before
/// any query: no such user can exist.
fn check_user_id(user_id: &str) -> Result<(), Error> {
    if user_id.contains('\0') {
        return Err(Error::InvalidUserId);
    }
    Ok(())
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
        session_id: session.id,
        user,
        active_period_expires_at: from_millis(session.active_expires),
        idle_period_expires_at: from_millis(session.idle_expires),
        state: if now <= session.active_expires { SessionState::Active } else { SessionState::Idle },
        fresh,
        attributes: from_attribute_map(session.attributes)?,
    })
}

fn to_attribute_map(attributes: &impl Serialize, reserved: &[&str]) -> Result<AttributeMap, Error> {
    match serde_json::to_value(attributes) {
        Ok(Value::Object(map)) => match reserved.iter().find(|name| map.contains_key(**name)) {
            Some(name) => Err(Error::InvalidAttributes(format!("`{name}` is not an attribute column"))),
            None => Ok(map),
        },
        Ok(other) => Err(Error::InvalidAttributes(format!("attributes must serialize to a map, not {other}"))),
        Err(e) => Err(Error::InvalidAttributes(e.to_string())),
    }
}

fn from_attribute_map<T: DeserializeOwned>(attributes: AttributeMap) -> Result<T, Error> {
    serde_json::from_value(Value::Object(attributes)).map_err(|e| Error::InvalidAttributes(e.to_string()))
}
