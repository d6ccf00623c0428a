//! [`MemoryAdapter`]: users, keys and sessions in memory, for tests, examples and prototypes.
//!
//! ```
//! use lucia::{CreateUser, Lucia, NewKey, memory::MemoryAdapter};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), lucia::Error> {
//! let auth = Lucia::builder(MemoryAdapter::new()).build();
//! let user = auth.create_user(CreateUser::new(Default::default()).with_key(NewKey::password("email", "ada@example.com", "hunter2 hunter2"))).await?;
//! let signed_in = auth.sign_in("email", "ada@example.com", Some("hunter2 hunter2"), Default::default()).await?;
//! assert_eq!(signed_in.session.user.user_id, user.user_id);
//! # Ok(())
//! # }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::{
    Adapter, AdapterError, AttributeMap, DatabaseKey, DatabasePasskey, DatabaseSession, DatabaseToken, DatabaseUser,
    PasskeyAdapter, PasskeyChallenge, PasskeyUse, SessionAdapter, SessionUpdate, SignInMethodDeletion, TokenAdapter,
    TokenKind, UserAdapter,
};
use crate::{DatabaseTotp, SecondFactorAdapter};
use crate::{counts_as_sign_in_method, passkey_counter_advances};

/// An in-memory store of users, keys, sessions, single-use tokens ([`TokenAdapter`]),
/// passkeys ([`PasskeyAdapter`]) and second factors ([`SecondFactorAdapter`]). Clones share one
/// store.
///
/// It keeps the promises a SQL schema keeps: unique ids, unique attribute columns that are
/// declared with [`unique_user_attribute`](Self::unique_user_attribute) (`null` values never
/// clash), and foreign keys (keys and sessions of unknown users are
/// [`AdapterError::InvalidUserId`]; a user that still has keys or sessions cannot be deleted
/// alone), unless [`without_foreign_keys`](Self::without_foreign_keys) says it holds sessions
/// of users kept elsewhere. Attributes are schemaless: any column name is accepted. Every
/// method, and every combined method of [`Adapter`], is atomic.
#[derive(Debug, Clone, Default)]
pub struct MemoryAdapter {
    store: Arc<Mutex<Store>>,
    unique_user_attributes: Arc<Vec<String>>,
    foreign_keys: bool,
}

#[derive(Debug, Default)]
struct Store {
    users: BTreeMap<String, AttributeMap>,
    keys: BTreeMap<String, DatabaseKey>,
    sessions: BTreeMap<String, DatabaseSession>,
    tokens: BTreeMap<String, DatabaseToken>,
    passkeys: BTreeMap<String, DatabasePasskey>,
    passkey_challenges: BTreeMap<String, PasskeyChallenge>,
    /// TOTP rows by user id.
    totps: BTreeMap<String, DatabaseTotp>,
    /// Recovery code hashes, as (user id, hash).
    recovery_codes: BTreeSet<(String, String)>,
}

impl MemoryAdapter {
    /// An empty store with foreign keys and no unique attributes.
    pub fn new() -> Self {
        Self { foreign_keys: true, ..Self::default() }
    }

    /// Declares a user attribute column unique, as a `UNIQUE` column would be.
    #[must_use]
    pub fn unique_user_attribute(mut self, column: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.unique_user_attributes).push(column.into());
        self
    }

    /// Accepts keys and sessions of users this store does not hold: for a store of sessions
    /// only, joined to a user store by [`SplitAdapter`](crate::SplitAdapter).
    #[must_use]
    pub fn without_foreign_keys(mut self) -> Self {
        self.foreign_keys = false;
        self
    }

    /// Every user, by id.
    pub fn users(&self) -> Vec<DatabaseUser> {
        let store = self.lock();
        store
            .users
            .iter()
            .map(|(id, attributes)| DatabaseUser { id: id.clone(), attributes: attributes.clone() })
            .collect()
    }

    /// Every key, by id.
    pub fn keys(&self) -> Vec<DatabaseKey> {
        self.lock().keys.values().cloned().collect()
    }

    /// Every session, by id.
    pub fn sessions(&self) -> Vec<DatabaseSession> {
        self.lock().sessions.values().cloned().collect()
    }

    /// Every single-use token, by id.
    pub fn tokens(&self) -> Vec<DatabaseToken> {
        self.lock().tokens.values().cloned().collect()
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave a half-made change: every change is
        // checked before it is applied.
        self.store.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The first unique attribute of `attributes` that another user already holds.
    fn taken_attribute(&self, store: &Store, user_id: &str, attributes: &AttributeMap) -> Option<String> {
        self.unique_user_attributes.iter().find_map(|column| {
            let value = attributes.get(column).filter(|value| !value.is_null())?;
            let taken = store.users.iter().any(|(id, other)| id != user_id && other.get(column) == Some(value));
            taken.then(|| column.clone())
        })
    }

    /// Merges `attributes` into a user's, as `update_user` does; an unknown user is left alone.
    fn update_attributes(
        &self,
        store: &mut Store,
        user_id: &str,
        attributes: AttributeMap,
    ) -> Result<(), AdapterError> {
        if attributes.is_empty() || !store.users.contains_key(user_id) {
            return Ok(());
        }
        if let Some(column) = self.taken_attribute(store, user_id, &attributes) {
            return Err(AdapterError::DuplicateAttribute { column: Some(column) });
        }
        if let Some(user) = store.users.get_mut(user_id) {
            user.extend(attributes);
        }
        Ok(())
    }

    fn check_user(&self, store: &Store, user_id: &str) -> Result<(), AdapterError> {
        if self.foreign_keys && !store.users.contains_key(user_id) {
            return Err(AdapterError::InvalidUserId);
        }
        Ok(())
    }
}

fn delete_sessions_of(store: &mut Store, user_id: &str) {
    store.sessions.retain(|_, session| session.user_id != user_id);
}

/// The user, its keys, passkeys and tokens, under the caller's one lock.
fn delete_user_and_keys_of(store: &mut Store, user_id: &str) {
    store.keys.retain(|_, key| key.user_id != user_id);
    store.passkeys.retain(|_, passkey| passkey.user_id != user_id);
    store.tokens.retain(|_, token| token.user_id != user_id);
    delete_second_factor_of(store, user_id);
    store.users.remove(user_id);
}

/// The user's TOTP row and recovery codes (foreign keys `ON DELETE CASCADE` in SQL).
fn delete_second_factor_of(store: &mut Store, user_id: &str) {
    store.totps.remove(user_id);
    store.recovery_codes.retain(|(owner, _)| owner != user_id);
}

/// The user's ways to sign in: its keys that count ([`counts_as_sign_in_method`]) and its
/// passkeys.
fn sign_in_methods_of(store: &Store, user_id: &str, uncounted_providers: &[&str]) -> usize {
    let keys = store.keys.values().filter(|key| key.user_id == user_id);
    keys.filter(|key| counts_as_sign_in_method(&key.id, uncounted_providers)).count()
        + store.passkeys.values().filter(|passkey| passkey.user_id == user_id).count()
}

impl UserAdapter for MemoryAdapter {
    async fn get_user(&self, user_id: &str) -> Result<Option<DatabaseUser>, AdapterError> {
        let store = self.lock();
        Ok(store
            .users
            .get(user_id)
            .map(|attributes| DatabaseUser { id: user_id.to_owned(), attributes: attributes.clone() }))
    }

    async fn set_user(&self, user: DatabaseUser, key: Option<DatabaseKey>) -> Result<(), AdapterError> {
        let mut store = self.lock();
        if store.users.contains_key(&user.id) {
            return Err(AdapterError::DuplicateUserId);
        }
        if let Some(column) = self.taken_attribute(&store, &user.id, &user.attributes) {
            return Err(AdapterError::DuplicateAttribute { column: Some(column) });
        }
        if let Some(key) = &key {
            if store.keys.contains_key(&key.id) {
                return Err(AdapterError::DuplicateKeyId);
            }
            if key.user_id != user.id {
                self.check_user(&store, &key.user_id)?;
            }
        }
        store.users.insert(user.id, user.attributes);
        if let Some(key) = key {
            store.keys.insert(key.id.clone(), key);
        }
        Ok(())
    }

    async fn update_user(&self, user_id: &str, attributes: AttributeMap) -> Result<(), AdapterError> {
        self.update_attributes(&mut self.lock(), user_id, attributes)
    }

    async fn delete_user(&self, user_id: &str) -> Result<(), AdapterError> {
        let mut store = self.lock();
        let referenced = store.keys.values().any(|key| key.user_id == user_id)
            || store.passkeys.values().any(|passkey| passkey.user_id == user_id)
            || store.sessions.values().any(|session| session.user_id == user_id);
        if self.foreign_keys && referenced {
            return Err(AdapterError::database("the user still has keys or sessions"));
        }
        store.users.remove(user_id);
        store.tokens.retain(|_, token| token.user_id != user_id);
        delete_second_factor_of(&mut store, user_id);
        Ok(())
    }

    async fn delete_user_and_keys(&self, user_id: &str) -> Result<(), AdapterError> {
        delete_user_and_keys_of(&mut self.lock(), user_id);
        Ok(())
    }

    async fn get_key(&self, key_id: &str) -> Result<Option<DatabaseKey>, AdapterError> {
        Ok(self.lock().keys.get(key_id).cloned())
    }

    async fn get_keys_by_user_id(&self, user_id: &str) -> Result<Vec<DatabaseKey>, AdapterError> {
        Ok(self.lock().keys.values().filter(|key| key.user_id == user_id).cloned().collect())
    }

    async fn set_key(&self, key: DatabaseKey) -> Result<(), AdapterError> {
        let mut store = self.lock();
        if store.keys.contains_key(&key.id) {
            return Err(AdapterError::DuplicateKeyId);
        }
        self.check_user(&store, &key.user_id)?;
        store.keys.insert(key.id.clone(), key);
        Ok(())
    }

    async fn update_key(&self, key_id: &str, hashed_password: Option<&str>) -> Result<(), AdapterError> {
        if let Some(key) = self.lock().keys.get_mut(key_id) {
            key.hashed_password = hashed_password.map(str::to_owned);
        }
        Ok(())
    }

    async fn replace_key_password(&self, key_id: &str, current: &str, new: &str) -> Result<bool, AdapterError> {
        let mut store = self.lock();
        match store.keys.get_mut(key_id) {
            Some(key) if key.hashed_password.as_deref() == Some(current) => {
                key.hashed_password = Some(new.to_owned());
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn delete_key(&self, key_id: &str) -> Result<(), AdapterError> {
        self.lock().keys.remove(key_id);
        Ok(())
    }

    async fn delete_key_unless_last(
        &self,
        user_id: &str,
        key_id: &str,
        uncounted_providers: &[&str],
    ) -> Result<SignInMethodDeletion, AdapterError> {
        let mut store = self.lock();
        if store.keys.get(key_id).is_none_or(|key| key.user_id != user_id) {
            return Ok(SignInMethodDeletion::NotFound);
        }
        if counts_as_sign_in_method(key_id, uncounted_providers)
            && sign_in_methods_of(&store, user_id, uncounted_providers) < 2
        {
            return Ok(SignInMethodDeletion::LastSignInMethod);
        }
        store.keys.remove(key_id);
        Ok(SignInMethodDeletion::Deleted)
    }

    async fn delete_keys_by_user_id(&self, user_id: &str) -> Result<(), AdapterError> {
        self.lock().keys.retain(|_, key| key.user_id != user_id);
        Ok(())
    }

    async fn delete_expired_tokens(&self, now_ms: i64) -> Result<u64, AdapterError> {
        let mut store = self.lock();
        let before = store.tokens.len();
        store.tokens.retain(|_, token| token.expires >= now_ms);
        Ok((before - store.tokens.len()) as u64)
    }
}

impl TokenAdapter for MemoryAdapter {
    async fn set_token(&self, token: DatabaseToken) -> Result<(), AdapterError> {
        let mut store = self.lock();
        self.check_user(&store, &token.user_id)?;
        store.tokens.retain(|_, other| other.user_id != token.user_id || other.kind != token.kind);
        store.tokens.insert(token.id.clone(), token);
        Ok(())
    }

    async fn get_token(&self, token_id: &str) -> Result<Option<DatabaseToken>, AdapterError> {
        Ok(self.lock().tokens.get(token_id).cloned())
    }

    async fn get_user_token(&self, user_id: &str, kind: TokenKind) -> Result<Option<DatabaseToken>, AdapterError> {
        Ok(self.lock().tokens.values().find(|token| token.user_id == user_id && token.kind == kind).cloned())
    }

    async fn count_token_attempt(&self, token_id: &str) -> Result<Option<u32>, AdapterError> {
        Ok(self.lock().tokens.get_mut(token_id).map(|token| {
            token.attempts = token.attempts.saturating_add(1);
            token.attempts
        }))
    }

    async fn consume_token(&self, token_id: &str, attributes: AttributeMap) -> Result<bool, AdapterError> {
        let mut store = self.lock();
        let Some(user_id) = store.tokens.get(token_id).map(|token| token.user_id.clone()) else {
            return Ok(false);
        };
        // The user is updated first: a refused update leaves the token, as a rolled-back
        // transaction would.
        self.update_attributes(&mut store, &user_id, attributes)?;
        store.tokens.remove(token_id);
        Ok(true)
    }

    async fn revoke_user_tokens(&self, user_id: &str, attributes: AttributeMap) -> Result<(), AdapterError> {
        let mut store = self.lock();
        self.update_attributes(&mut store, user_id, attributes)?;
        store.tokens.retain(|_, token| token.user_id != user_id);
        Ok(())
    }
}

impl PasskeyAdapter for MemoryAdapter {
    async fn insert_passkey(&self, passkey: DatabasePasskey) -> Result<(), AdapterError> {
        let mut store = self.lock();
        self.check_user(&store, &passkey.user_id)?;
        if store.passkeys.contains_key(&passkey.id) {
            return Err(AdapterError::DuplicateKeyId);
        }
        store.passkeys.insert(passkey.id.clone(), passkey);
        Ok(())
    }

    async fn get_passkey(&self, passkey_id: &str) -> Result<Option<DatabasePasskey>, AdapterError> {
        Ok(self.lock().passkeys.get(passkey_id).cloned())
    }

    async fn get_user_passkeys(&self, user_id: &str) -> Result<Vec<DatabasePasskey>, AdapterError> {
        let mut passkeys: Vec<_> =
            self.lock().passkeys.values().filter(|passkey| passkey.user_id == user_id).cloned().collect();
        passkeys.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(passkeys)
    }

    async fn record_passkey_use(&self, passkey_id: &str, passkey_use: PasskeyUse) -> Result<bool, AdapterError> {
        let mut store = self.lock();
        let Some(passkey) = store.passkeys.get_mut(passkey_id) else {
            return Ok(false);
        };
        if !passkey_counter_advances(passkey.counter, passkey_use.counter) {
            return Ok(false);
        }
        passkey.credential = passkey_use.credential;
        passkey.counter = passkey_use.counter;
        passkey.backup_state = passkey_use.backup_state;
        passkey.last_used_at = Some(passkey_use.used_at);
        Ok(true)
    }

    async fn rename_passkey(&self, user_id: &str, passkey_id: &str, name: &str) -> Result<bool, AdapterError> {
        let mut store = self.lock();
        match store.passkeys.get_mut(passkey_id).filter(|passkey| passkey.user_id == user_id) {
            Some(passkey) => {
                passkey.name = name.to_owned();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn delete_passkey(
        &self,
        user_id: &str,
        passkey_id: &str,
        uncounted_providers: &[&str],
    ) -> Result<SignInMethodDeletion, AdapterError> {
        let mut store = self.lock();
        if store.passkeys.get(passkey_id).is_none_or(|passkey| passkey.user_id != user_id) {
            return Ok(SignInMethodDeletion::NotFound);
        }
        if sign_in_methods_of(&store, user_id, uncounted_providers) < 2 {
            return Ok(SignInMethodDeletion::LastSignInMethod);
        }
        store.passkeys.remove(passkey_id);
        Ok(SignInMethodDeletion::Deleted)
    }

    async fn insert_passkey_challenge(&self, challenge: PasskeyChallenge) -> Result<(), AdapterError> {
        self.lock().passkey_challenges.insert(challenge.id.clone(), challenge);
        Ok(())
    }

    async fn take_passkey_challenge(&self, challenge_id: &str) -> Result<Option<PasskeyChallenge>, AdapterError> {
        Ok(self.lock().passkey_challenges.remove(challenge_id))
    }

    async fn delete_expired_passkey_challenges(&self, now_ms: i64) -> Result<u64, AdapterError> {
        let mut store = self.lock();
        let before = store.passkey_challenges.len();
        store.passkey_challenges.retain(|_, challenge| challenge.expires >= now_ms);
        Ok((before - store.passkey_challenges.len()) as u64)
    }
}

impl SecondFactorAdapter for MemoryAdapter {
    async fn get_totp(&self, user_id: &str) -> Result<Option<DatabaseTotp>, AdapterError> {
        Ok(self.lock().totps.get(user_id).cloned())
    }

    async fn set_totp(&self, totp: DatabaseTotp) -> Result<(), AdapterError> {
        let mut store = self.lock();
        self.check_user(&store, &totp.user_id)?;
        store.totps.insert(totp.user_id.clone(), totp);
        Ok(())
    }

    async fn use_totp_step(
        &self,
        user_id: &str,
        encrypted_secret: &str,
        step: i64,
        confirm: bool,
    ) -> Result<bool, AdapterError> {
        let mut store = self.lock();
        let Some(row) = store.totps.get_mut(user_id) else {
            return Ok(false);
        };
        if row.encrypted_secret != encrypted_secret || row.last_step >= step {
            return Ok(false);
        }
        row.last_step = step;
        row.confirmed |= confirm;
        Ok(true)
    }

    async fn delete_totp(&self, user_id: &str) -> Result<(), AdapterError> {
        delete_second_factor_of(&mut self.lock(), user_id);
        Ok(())
    }

    async fn set_recovery_codes(&self, user_id: &str, code_hashes: Vec<String>) -> Result<(), AdapterError> {
        let mut store = self.lock();
        self.check_user(&store, user_id)?;
        store.recovery_codes.retain(|(owner, _)| owner != user_id);
        store.recovery_codes.extend(code_hashes.into_iter().map(|hash| (user_id.to_owned(), hash)));
        Ok(())
    }

    async fn consume_recovery_code(&self, user_id: &str, code_hash: &str) -> Result<bool, AdapterError> {
        Ok(self.lock().recovery_codes.remove(&(user_id.to_owned(), code_hash.to_owned())))
    }

    async fn count_recovery_codes(&self, user_id: &str) -> Result<u64, AdapterError> {
        Ok(self.lock().recovery_codes.iter().filter(|(owner, _)| owner == user_id).count() as u64)
    }
}

impl SessionAdapter for MemoryAdapter {
    async fn get_session(&self, session_id: &str) -> Result<Option<DatabaseSession>, AdapterError> {
        Ok(self.lock().sessions.get(session_id).cloned())
    }

    async fn get_sessions_by_user_id(&self, user_id: &str) -> Result<Vec<DatabaseSession>, AdapterError> {
        Ok(self.lock().sessions.values().filter(|session| session.user_id == user_id).cloned().collect())
    }

    async fn set_session(&self, session: DatabaseSession) -> Result<(), AdapterError> {
        let mut store = self.lock();
        if store.sessions.contains_key(&session.id) {
            return Err(AdapterError::DuplicateSessionId);
        }
        self.check_user(&store, &session.user_id)?;
        store.sessions.insert(session.id.clone(), session);
        Ok(())
    }

    async fn update_session(&self, session_id: &str, update: SessionUpdate) -> Result<(), AdapterError> {
        if let Some(session) = self.lock().sessions.get_mut(session_id) {
            if let Some((active, idle)) = update.expires {
                session.active_expires = active;
                session.idle_expires = idle;
            }
            session.attributes.extend(update.attributes);
        }
        Ok(())
    }

    async fn delete_session(&self, session_id: &str) -> Result<(), AdapterError> {
        self.lock().sessions.remove(session_id);
        Ok(())
    }

    async fn delete_sessions_by_user_id(&self, user_id: &str) -> Result<(), AdapterError> {
        delete_sessions_of(&mut self.lock(), user_id);
        Ok(())
    }

    async fn delete_dead_sessions_by_user_id(&self, user_id: &str, now_ms: i64) -> Result<(), AdapterError> {
        self.lock().sessions.retain(|_, session| session.user_id != user_id || session.idle_expires >= now_ms);
        Ok(())
    }

    async fn delete_dead_sessions(&self, now_ms: i64) -> Result<u64, AdapterError> {
        let mut store = self.lock();
        let before = store.sessions.len();
        store.sessions.retain(|_, session| session.idle_expires >= now_ms);
        Ok((before - store.sessions.len()) as u64)
    }
}

impl Adapter for MemoryAdapter {
    async fn get_session_and_user(
        &self,
        session_id: &str,
    ) -> Result<Option<(DatabaseSession, DatabaseUser)>, AdapterError> {
        let store = self.lock();
        let Some(session) = store.sessions.get(session_id) else { return Ok(None) };
        let Some(attributes) = store.users.get(&session.user_id) else { return Ok(None) };
        let user = DatabaseUser { id: session.user_id.clone(), attributes: attributes.clone() };
        Ok(Some((session.clone(), user)))
    }

    async fn delete_user_cascade(&self, user_id: &str) -> Result<(), AdapterError> {
        let mut store = self.lock();
        delete_sessions_of(&mut store, user_id);
        delete_user_and_keys_of(&mut store, user_id);
        Ok(())
    }

    async fn update_key_and_end_sessions(
        &self,
        key_id: &str,
        hashed_password: Option<&str>,
        user_id: &str,
    ) -> Result<(), AdapterError> {
        let mut store = self.lock();
        if let Some(key) = store.keys.get_mut(key_id) {
            key.hashed_password = hashed_password.map(str::to_owned);
        }
        delete_sessions_of(&mut store, user_id);
        Ok(())
    }
}
