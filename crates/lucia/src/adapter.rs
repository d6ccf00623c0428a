//! The adapter interface: how [`Lucia`](crate::Lucia) reads and writes users, keys and
//! sessions. It mirrors Lucia v2's adapter methods, with typed errors.
//!
//! A store that holds everything implements [`UserAdapter`], [`SessionAdapter`] and
//! [`Adapter`]. Users in one store and sessions in another are joined with [`SplitAdapter`].

use std::future::Future;

use serde_json::{Map, Value};

use crate::AdapterError;

/// Attribute columns of a row, by column name, as JSON values (as Lucia v2's rows carry them).
pub type AttributeMap = Map<String, Value>;

/// A row of the user table.
#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseUser {
    /// The `id` column.
    pub id: String,
    /// Every other column.
    pub attributes: AttributeMap,
}

/// A row of the key table. `Debug` does not show the password hash.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseKey {
    /// `provider_id:provider_user_id`.
    pub id: String,
    /// The owning user.
    pub user_id: String,
    /// The password hash, or `None` for a key without a password (SQL `NULL`).
    pub hashed_password: Option<String>,
}

/// A row of the session table. `Debug` does not show the `id`, which is the session token
/// itself in [`SessionTokens::Plain`](crate::SessionTokens::Plain) mode.
#[derive(Clone, PartialEq)]
pub struct DatabaseSession {
    /// The `id` column: the session token's SHA-256 or the token itself, as
    /// [`SessionTokens`](crate::SessionTokens) says.
    pub id: String,
    /// The owning user.
    pub user_id: String,
    /// End of the active period, in milliseconds since the Unix epoch.
    pub active_expires: i64,
    /// End of the idle period, in milliseconds since the Unix epoch.
    pub idle_expires: i64,
    /// Every other column.
    pub attributes: AttributeMap,
}

impl std::fmt::Debug for DatabaseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseKey")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("hashed_password", &self.hashed_password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl std::fmt::Debug for DatabaseSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSession")
            .field("id", &"<redacted>")
            .field("user_id", &self.user_id)
            .field("active_expires", &self.active_expires)
            .field("idle_expires", &self.idle_expires)
            .field("attributes", &self.attributes)
            .finish()
    }
}

/// A change to a session row: new expiries (renewal) and/or attribute columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionUpdate {
    /// New `active_expires` and `idle_expires`, in milliseconds since the Unix epoch.
    pub expires: Option<(i64, i64)>,
    /// Attribute columns to set; columns not named keep their values.
    pub attributes: AttributeMap,
}

impl SessionUpdate {
    /// Whether the update changes nothing.
    pub fn is_empty(&self) -> bool {
        self.expires.is_none() && self.attributes.is_empty()
    }
}

/// What a deletion of one of a user's ways to sign in did, when the deletion keeps the last
/// one: [`UserAdapter::delete_key_unless_last`] and
/// [`PasskeyAdapter::delete_passkey`](crate::PasskeyAdapter::delete_passkey).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInMethodDeletion {
    /// The key or passkey was deleted.
    Deleted,
    /// The user has no key or passkey with this id; nothing was deleted.
    NotFound,
    /// It is the user's last way to sign in (no other key that counts, no other passkey); it
    /// was kept.
    LastSignInMethod,
}

/// Whether the key `key_id` (`provider_id:provider_user_id`) counts as a way to sign in for
/// [`UserAdapter::delete_key_unless_last`]: unless its provider is one of
/// `uncounted_providers`. Adapters count with it, so that every store draws the line alike.
///
/// ```
/// assert!(lucia::counts_as_sign_in_method("github:42", &["email"]));
/// assert!(!lucia::counts_as_sign_in_method("email:ada@example.com", &["email"]));
/// ```
pub fn counts_as_sign_in_method(key_id: &str, uncounted_providers: &[&str]) -> bool {
    let provider = key_id.split_once(':').map_or(key_id, |(provider, _)| provider);
    !uncounted_providers.contains(&provider)
}

/// Storage of users and keys.
///
/// Contract (checked by the `lucia-adapter-test` conformance suite):
/// lookups of unknown ids return `None` or an empty list; deletes and updates of unknown ids
/// succeed without effect; an empty partial update succeeds without effect.
pub trait UserAdapter: Send + Sync {
    /// The user with this id.
    fn get_user(&self, user_id: &str) -> impl Future<Output = Result<Option<DatabaseUser>, AdapterError>> + Send;

    /// Inserts a user and, if given, its first key, atomically: if the key cannot be inserted,
    /// the user is not inserted either. A taken user id is [`AdapterError::DuplicateUserId`],
    /// a taken key id [`AdapterError::DuplicateKeyId`].
    fn set_user(
        &self,
        user: DatabaseUser,
        key: Option<DatabaseKey>,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send;

    /// Sets the given attribute columns of a user.
    fn update_user(
        &self,
        user_id: &str,
        attributes: AttributeMap,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send;

    /// Deletes a user. Keys and sessions must be deleted first if foreign keys require it; a
    /// store of single-use tokens ([`TokenAdapter`](crate::TokenAdapter)) deletes the user's
    /// tokens with it.
    fn delete_user(&self, user_id: &str) -> impl Future<Output = Result<(), AdapterError>> + Send;

    /// The key with this id.
    fn get_key(&self, key_id: &str) -> impl Future<Output = Result<Option<DatabaseKey>, AdapterError>> + Send;

    /// The key with this id as last committed, waiting for a transaction that is changing it
    /// (a locking read on SQL stores that need one). [`Lucia::sign_in`](crate::Lucia::sign_in)
    /// re-checks the key with it, so that a password change committing meanwhile is seen.
    /// The default is [`get_key`](Self::get_key), right for stores whose reads already wait
    /// for writers or see every committed change (SQLite, one writer at a time; the memory
    /// adapter, one lock).
    fn get_key_latest(&self, key_id: &str) -> impl Future<Output = Result<Option<DatabaseKey>, AdapterError>> + Send {
        self.get_key(key_id)
    }

    /// All keys of a user.
    fn get_keys_by_user_id(&self, user_id: &str)
    -> impl Future<Output = Result<Vec<DatabaseKey>, AdapterError>> + Send;

    /// Inserts a key. A taken id is [`AdapterError::DuplicateKeyId`]; an unknown user is
    /// [`AdapterError::InvalidUserId`] where the store can tell.
    fn set_key(&self, key: DatabaseKey) -> impl Future<Output = Result<(), AdapterError>> + Send;

    /// Replaces a key's password hash (`None` removes the password).
    fn update_key(
        &self,
        key_id: &str,
        hashed_password: Option<&str>,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send;

    /// Replaces a key's password hash with `new` only if it is still `current`, and says
    /// whether it did. Used to upgrade a hash after a sign-in without undoing a password change
    /// that happened meanwhile; one atomic compare-and-set where the store allows it.
    fn replace_key_password(
        &self,
        key_id: &str,
        current: &str,
        new: &str,
    ) -> impl Future<Output = Result<bool, AdapterError>> + Send;

    /// Deletes a key, the user's last one too (as in Lucia v2). To remove one of a user's ways
    /// to sign in, use [`delete_key_unless_last`](Self::delete_key_unless_last).
    fn delete_key(&self, key_id: &str) -> impl Future<Output = Result<(), AdapterError>> + Send;

    /// Deletes the key `key_id` of `user_id` unless it is the user's last way to sign in, in one
    /// transaction: the user's row locked first (`SELECT ... FOR UPDATE` where the store has
    /// row locks; one write transaction on SQLite), then the key deleted if it is the user's,
    /// then the user's ways to sign in that are left counted, and the deletion rolled back if
    /// it took the last one. Ways to sign in are the user's keys, except those whose provider is
    /// in `uncounted_providers` ([`counts_as_sign_in_method`]: an `email` key that only finds
    /// the user for a password reset), and its passkeys, in stores with passkeys. An uncounted
    /// key is always deleted (it signs no one in).
    ///
    /// [`PasskeyAdapter::delete_passkey`](crate::PasskeyAdapter::delete_passkey) takes the same
    /// lock, so two removals of a user's methods at once, keys or passkeys, run one after the
    /// other and the second counts what the first left: at least one way in remains.
    fn delete_key_unless_last(
        &self,
        user_id: &str,
        key_id: &str,
        uncounted_providers: &[&str],
    ) -> impl Future<Output = Result<SignInMethodDeletion, AdapterError>> + Send;

    /// Deletes all keys of a user.
    fn delete_keys_by_user_id(&self, user_id: &str) -> impl Future<Output = Result<(), AdapterError>> + Send;

    /// Deletes a user with all its keys (and its single-use tokens), in one transaction where
    /// the store has them: a key inserted for the user meanwhile must not make the delete
    /// fail, but either be deleted with it or be refused ([`AdapterError::InvalidUserId`]).
    /// [`SplitAdapter`] deletes users with it. The default deletes the keys, then the user,
    /// which a key inserted in between makes fail where foreign keys refuse it: override it.
    fn delete_user_and_keys(&self, user_id: &str) -> impl Future<Output = Result<(), AdapterError>> + Send {
        async move {
            self.delete_keys_by_user_id(user_id).await?;
            self.delete_user(user_id).await
        }
    }

    /// Deletes every single-use token whose `expires` is before `now_ms`, and returns how many.
    /// A store that implements [`TokenAdapter`](crate::TokenAdapter) must implement it; the
    /// default, for stores without tokens, deletes nothing.
    fn delete_expired_tokens(&self, now_ms: i64) -> impl Future<Output = Result<u64, AdapterError>> + Send {
        let _ = now_ms;
        std::future::ready(Ok(0))
    }

    /// A new user id, for [`Lucia::create_user`](crate::Lucia::create_user) without one: by
    /// default Lucia v2's 15 random characters ([`generate_random_string`](crate::generate_random_string)).
    /// A store whose user table keys users by another type makes ids of that type (the SeaORM
    /// adapter over a `uuid` id column makes uuids), so the core needs no setting for it.
    fn new_user_id(&self) -> String {
        crate::generate_random_string(crate::USER_ID_LENGTH)
    }
}

/// Storage of sessions.
///
/// Expiries are milliseconds since the Unix epoch, compared by the core: adapters never
/// decide whether a session is alive, except in the two `delete_*` sweeps, which delete rows
/// whose `idle_expires` is strictly before `now_ms`.
pub trait SessionAdapter: Send + Sync {
    /// The session with this id, dead or alive.
    fn get_session(
        &self,
        session_id: &str,
    ) -> impl Future<Output = Result<Option<DatabaseSession>, AdapterError>> + Send;

    /// All sessions of a user, dead or alive.
    fn get_sessions_by_user_id(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Vec<DatabaseSession>, AdapterError>> + Send;

    /// Inserts a session. A taken id is [`AdapterError::DuplicateSessionId`]; an unknown user
    /// is [`AdapterError::InvalidUserId`] where the store can tell.
    fn set_session(&self, session: DatabaseSession) -> impl Future<Output = Result<(), AdapterError>> + Send;

    /// Changes a session's expiries and/or attribute columns.
    fn update_session(
        &self,
        session_id: &str,
        update: SessionUpdate,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send;

    /// Deletes a session.
    fn delete_session(&self, session_id: &str) -> impl Future<Output = Result<(), AdapterError>> + Send;

    /// Deletes all sessions of a user.
    fn delete_sessions_by_user_id(&self, user_id: &str) -> impl Future<Output = Result<(), AdapterError>> + Send;

    /// Deletes the sessions of a user whose `idle_expires` is before `now_ms`.
    fn delete_dead_sessions_by_user_id(
        &self,
        user_id: &str,
        now_ms: i64,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send;

    /// Deletes every session whose `idle_expires` is before `now_ms`, and returns how many.
    fn delete_dead_sessions(&self, now_ms: i64) -> impl Future<Output = Result<u64, AdapterError>> + Send;
}

/// A store of users, keys and sessions: what [`Lucia`](crate::Lucia) runs on.
///
/// The provided methods combine the two halves with the plain methods; a store that has
/// transactions overrides them to make each one atomic.
pub trait Adapter: UserAdapter + SessionAdapter {
    /// A session and its user, or `None` if either is missing. The default makes two lookups;
    /// stores that can join should do it in one round trip, since this runs on every
    /// validated request.
    fn get_session_and_user(
        &self,
        session_id: &str,
    ) -> impl Future<Output = Result<Option<(DatabaseSession, DatabaseUser)>, AdapterError>> + Send {
        async move {
            let Some(session) = self.get_session(session_id).await? else {
                return Ok(None);
            };
            Ok(self.get_user(&session.user_id).await?.map(|user| (session, user)))
        }
    }

    /// Deletes a user with all its sessions and keys, in one transaction where the store has
    /// them. The default deletes the sessions, then the keys and the user
    /// ([`delete_user_and_keys`](UserAdapter::delete_user_and_keys)), the order foreign keys
    /// without `ON DELETE CASCADE` need, so a failure part-way leaves a user who can no longer
    /// sign in rather than sessions of a deleted user.
    fn delete_user_cascade(&self, user_id: &str) -> impl Future<Output = Result<(), AdapterError>> + Send {
        async move {
            self.delete_sessions_by_user_id(user_id).await?;
            self.delete_user_and_keys(user_id).await
        }
    }

    /// Sets a key's password hash (`None` removes the password) and deletes every session of
    /// `user_id`, the key's owner, in one transaction where the store has them.
    ///
    /// The default deletes the sessions, updates the key, then deletes the sessions again: a
    /// failure part-way signs the user out without changing the password, and no session made
    /// before the change survives it.
    fn update_key_and_end_sessions(
        &self,
        key_id: &str,
        hashed_password: Option<&str>,
        user_id: &str,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send {
        async move {
            self.delete_sessions_by_user_id(user_id).await?;
            self.update_key(key_id, hashed_password).await?;
            self.delete_sessions_by_user_id(user_id).await
        }
    }
}

/// Users and keys from one adapter, sessions from another: Lucia v2's
/// `adapter: { user, session }`.
///
/// ```
/// # fn demo<U: lucia::UserAdapter, S: lucia::SessionAdapter>(users: U, sessions: S) {
/// let adapter = lucia::SplitAdapter::new(users, sessions);
/// let auth = lucia::Lucia::builder(adapter).build();
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SplitAdapter<U, S> {
    users: U,
    sessions: S,
}

impl<U: UserAdapter, S: SessionAdapter> SplitAdapter<U, S> {
    /// Joins a user adapter and a session adapter.
    pub fn new(users: U, sessions: S) -> Self {
        Self { users, sessions }
    }

    /// The user adapter.
    pub fn users(&self) -> &U {
        &self.users
    }

    /// The session adapter.
    pub fn sessions(&self) -> &S {
        &self.sessions
    }
}

impl<U: UserAdapter, S: SessionAdapter> UserAdapter for SplitAdapter<U, S> {
    fn get_user(&self, user_id: &str) -> impl Future<Output = Result<Option<DatabaseUser>, AdapterError>> + Send {
        self.users.get_user(user_id)
    }
    fn set_user(
        &self,
        user: DatabaseUser,
        key: Option<DatabaseKey>,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send {
        self.users.set_user(user, key)
    }
    fn update_user(
        &self,
        user_id: &str,
        attributes: AttributeMap,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send {
        self.users.update_user(user_id, attributes)
    }
    fn delete_user(&self, user_id: &str) -> impl Future<Output = Result<(), AdapterError>> + Send {
        self.users.delete_user(user_id)
    }
    fn get_key(&self, key_id: &str) -> impl Future<Output = Result<Option<DatabaseKey>, AdapterError>> + Send {
        self.users.get_key(key_id)
    }
    fn get_key_latest(&self, key_id: &str) -> impl Future<Output = Result<Option<DatabaseKey>, AdapterError>> + Send {
        self.users.get_key_latest(key_id)
    }
    fn get_keys_by_user_id(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Vec<DatabaseKey>, AdapterError>> + Send {
        self.users.get_keys_by_user_id(user_id)
    }
    fn set_key(&self, key: DatabaseKey) -> impl Future<Output = Result<(), AdapterError>> + Send {
        self.users.set_key(key)
    }
    fn update_key(
        &self,
        key_id: &str,
        hashed_password: Option<&str>,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send {
        self.users.update_key(key_id, hashed_password)
    }
    fn replace_key_password(
        &self,
        key_id: &str,
        current: &str,
        new: &str,
    ) -> impl Future<Output = Result<bool, AdapterError>> + Send {
        self.users.replace_key_password(key_id, current, new)
    }
    fn delete_key(&self, key_id: &str) -> impl Future<Output = Result<(), AdapterError>> + Send {
        self.users.delete_key(key_id)
    }
    fn delete_key_unless_last(
        &self,
        user_id: &str,
        key_id: &str,
        uncounted_providers: &[&str],
    ) -> impl Future<Output = Result<SignInMethodDeletion, AdapterError>> + Send {
        self.users.delete_key_unless_last(user_id, key_id, uncounted_providers)
    }
    fn delete_keys_by_user_id(&self, user_id: &str) -> impl Future<Output = Result<(), AdapterError>> + Send {
        self.users.delete_keys_by_user_id(user_id)
    }
    fn delete_user_and_keys(&self, user_id: &str) -> impl Future<Output = Result<(), AdapterError>> + Send {
        self.users.delete_user_and_keys(user_id)
    }
    fn delete_expired_tokens(&self, now_ms: i64) -> impl Future<Output = Result<u64, AdapterError>> + Send {
        self.users.delete_expired_tokens(now_ms)
    }
    fn new_user_id(&self) -> String {
        self.users.new_user_id()
    }
}

impl<U: UserAdapter, S: SessionAdapter> SessionAdapter for SplitAdapter<U, S> {
    fn get_session(
        &self,
        session_id: &str,
    ) -> impl Future<Output = Result<Option<DatabaseSession>, AdapterError>> + Send {
        self.sessions.get_session(session_id)
    }
    fn get_sessions_by_user_id(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Vec<DatabaseSession>, AdapterError>> + Send {
        self.sessions.get_sessions_by_user_id(user_id)
    }
    /// Stores the session, then checks that its user exists, and takes the session back and
    /// answers [`AdapterError::InvalidUserId`] if not: the foreign key a session store beside
    /// the user store cannot have. With [`delete_user_cascade`](Adapter::delete_user_cascade)
    /// deleting sessions again after the user, no session outlives its user, however the two
    /// interleave.
    async fn set_session(&self, session: DatabaseSession) -> Result<(), AdapterError> {
        let (id, user_id) = (session.id.clone(), session.user_id.clone());
        self.sessions.set_session(session).await?;
        match self.users.get_user(&user_id).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => {
                self.sessions.delete_session(&id).await?;
                Err(AdapterError::InvalidUserId)
            }
            Err(error) => {
                // Best effort: a session whose user could not be checked authenticates
                // nobody, and the sweeps remove it once dead.
                let _ = self.sessions.delete_session(&id).await;
                Err(error)
            }
        }
    }
    fn update_session(
        &self,
        session_id: &str,
        update: SessionUpdate,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send {
        self.sessions.update_session(session_id, update)
    }
    fn delete_session(&self, session_id: &str) -> impl Future<Output = Result<(), AdapterError>> + Send {
        self.sessions.delete_session(session_id)
    }
    fn delete_sessions_by_user_id(&self, user_id: &str) -> impl Future<Output = Result<(), AdapterError>> + Send {
        self.sessions.delete_sessions_by_user_id(user_id)
    }
    fn delete_dead_sessions_by_user_id(
        &self,
        user_id: &str,
        now_ms: i64,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send {
        self.sessions.delete_dead_sessions_by_user_id(user_id, now_ms)
    }
    fn delete_dead_sessions(&self, now_ms: i64) -> impl Future<Output = Result<u64, AdapterError>> + Send {
        self.sessions.delete_dead_sessions(now_ms)
    }
}

impl<U: UserAdapter, S: SessionAdapter> Adapter for SplitAdapter<U, S> {
    /// Deletes the user's sessions, the user with its keys
    /// ([`delete_user_and_keys`](UserAdapter::delete_user_and_keys)), then the user's sessions
    /// once more: a session stored while the user was being deleted is caught by the second
    /// pass, or refused by [`set_session`](SessionAdapter::set_session)'s check (which sees
    /// the user gone). The two stores have no common transaction; a failure part-way leaves a
    /// user who can no longer sign in rather than sessions of a deleted user.
    async fn delete_user_cascade(&self, user_id: &str) -> Result<(), AdapterError> {
        self.sessions.delete_sessions_by_user_id(user_id).await?;
        self.users.delete_user_and_keys(user_id).await?;
        self.sessions.delete_sessions_by_user_id(user_id).await
    }
}
