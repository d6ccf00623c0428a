//! # Redis session adapter
//!
//! Lucia's sessions in Redis or a Redis Cluster, with users and keys in another store (Lucia
//! v2's `adapter: { user, session }`): the session adapter for applications that run on
//! several machines, or that want session checks off their SQL database.
//!
//! ```no_run
//! use lucia::{Lucia, SplitAdapter};
//! use lucia_adapter_redis::RedisSessionAdapter;
//!
//! # async fn demo(users: impl lucia::UserAdapter) -> Result<(), Box<dyn std::error::Error>> {
//! let sessions = RedisSessionAdapter::connect("redis://127.0.0.1:6379").await?;
//! let auth = Lucia::builder(SplitAdapter::new(users, sessions)).build();
//! # Ok(())
//! # }
//! ```
//!
//! With a cluster, a key prefix of your own and a shorter timeout:
//!
//! ```no_run
//! # use std::time::Duration;
//! # use lucia_adapter_redis::RedisSessionAdapter;
//! # async fn demo() -> Result<(), lucia_adapter_redis::ConnectError> {
//! let sessions = RedisSessionAdapter::builder()
//!     .key_prefix("myapp:auth")
//!     .timeout(Duration::from_millis(500))
//!     .connect_cluster(["redis://10.0.0.1:6379", "redis://10.0.0.2:6379"])
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! ## How sessions are stored
//!
//! For prefix `lucia`, session `s` of user `u`:
//!
//! | key | type | holds | expires |
//! |---|---|---|---|
//! | `lucia:{u}:s:<s>` | hash | `user_id`, `active_expires`, `idle_expires`; each attribute as `a:<name>` = JSON | at `idle_expires` (absolute, to the millisecond) |
//! | `lucia:{u}:sessions` | sorted set | the user's session ids, scored by when each expires | with the user's last session |
//! | `lucia:sid:<s>` | string | `u`: finds a session from its id alone | with the session |
//! | `lucia:throttle:<k>` | hash | sign-in attempts on key id `k` ([`RedisThrottleStore`]) | an hour after the last attempt |
//!
//! - **Expiry is absolute.** Each session key is set to expire at its idle deadline
//!   (`PEXPIREAT`), and again whenever the session is renewed. (Lucia v2's Redis adapter gave
//!   the deadline as a relative `EX`, so sessions lived decades.) A session written already
//!   dead, as [`Lucia::sign_in`](lucia::Lucia::sign_in)'s placeholder is, is kept one minute
//!   ([`lucia::DEAD_SESSION_GRACE_MS`]) so the sign-in can make it live; dead sessions never authenticate, whatever the store
//!   holds.
//! - **The per-user index stays short.** Every change to a user's sessions drops the ids of
//!   expired ones from the index, listing a user's sessions drops ids whose session is gone,
//!   the index itself expires with the user's last session, and
//!   [`delete_dead_sessions`](lucia::SessionAdapter::delete_dead_sessions) (what
//!   [`Lucia::spawn_session_sweeper`](lucia::Lucia) runs) prunes every index. (Lucia v2's
//!   per-user sets were never pruned.)
//! - **Changes are atomic.** A user's keys share the hash tag `{u}`, so they live in one
//!   cluster slot, and every change to them is one Lua script. A session id is claimed with
//!   `SET NX` on its pointer before the session is written, so two sessions can never share an
//!   id. The pointer is written first and deleted last; a pointer left behind by a failure
//!   finds no session and expires with it.
//! - **Ids are opaque.** `{`, `}`, `%`, control characters and every byte outside ASCII are
//!   percent-encoded in keys, so no id can move another user's keys to its slot or reach
//!   another's keys.
//! - Ids in keys are what [`SessionTokens`](lucia::SessionTokens) stores: the SHA-256 of each
//!   token by default, the token itself in Lucia v2 compatibility mode.
//!
//! A session read costs two round trips (the pointer, then the session); a renewal two more.
//!
//! ## Sign-in throttling
//!
//! [`RedisThrottleStore`] ([`RedisSessionAdapter::throttle_store`]) keeps lucia's per-key
//! sign-in throttle in the same Redis, so that every instance of the application counts the
//! same attempts: give it to [`LuciaBuilder::sign_in_throttle`](lucia::LuciaBuilder::sign_in_throttle).
//!
//! ## Errors
//!
//! A server that cannot be reached, drops the connection, answers too late (the
//! [`timeout`](RedisSessionAdapterBuilder::timeout), 2 s by default), is still loading its
//! data after a restart, or a cluster without a primary for a slot, is
//! [`AdapterError::Unavailable`] (lucia-axum answers `503`, and the session cookie stays);
//! the connection is re-established by itself. Any other error is
//! [`AdapterError::Database`]. A duplicate session id is
//! [`AdapterError::DuplicateSessionId`]. Redis has no schema and no foreign keys: any
//! attribute is stored, and sessions of users another store does not know are accepted.
//!
//! A dropped connection costs no failed request: redis-rs's `ConnectionManager` fails the
//! command that finds its connection gone and reconnects, and the adapter then sends the
//! command once more, on the new connection. Every session command has the same effect sent
//! twice, but the insert of a new session, which the adapter reads knowing it was sent twice
//! (a session id claimed by this very call is not a duplicate). A second drop in a row is
//! `Unavailable`, and so is a command past the timeout (it is not sent again). The sign-in
//! throttle's commands are not sent twice. `tests/faults.rs` checks this through a TCP proxy that stalls, cuts and
//! refuses connections.
//!
//! ## Moving sessions from SQL to Redis
//!
//! Build a users-only SQL adapter and join it with this one through
//! [`lucia::SplitAdapter`]. Sessions in the SQL session table are not moved: their users
//! sign in again. See the workspace README for the steps.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod connection;
mod keys;
mod scripts;
mod throttle;

use std::collections::HashMap;
use std::time::Duration;

use futures_util::future::try_join_all;
use lucia::{AdapterError, AttributeMap, DEAD_SESSION_GRACE_MS, DatabaseSession, SessionAdapter, SessionUpdate};
use redis::aio::ConnectionManagerConfig;
use redis::{AsyncCommands, Client, RedisError, ScriptInvocation};

use crate::connection::{Connection, adapter_error};
use crate::keys::Keys;
pub use crate::throttle::RedisThrottleStore;

/// Attribute fields are `a:<name>` in a session hash.
const ATTRIBUTE_FIELD: &str = "a:";

/// What can go wrong building a [`RedisSessionAdapter`]: always at start-up, never on a
/// request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The key prefix is empty, longer than 64 bytes, or holds a character other than ASCII
    /// letters, digits, `_`, `-`, `.` and `:` (braces would change the cluster slots, glob
    /// characters the sweeps' patterns).
    #[error("invalid Redis key prefix {0:?}: use 1-64 ASCII letters, digits, '_', '-', '.' or ':'")]
    InvalidKeyPrefix(String),
    /// The URL did not parse, or the server or cluster could not be reached.
    #[error("cannot connect to Redis: {0}")]
    Redis(#[from] RedisError),
}

/// Sessions in Redis or a Redis Cluster: a [`lucia::SessionAdapter`]. See the
/// [crate documentation](crate) for the layout. Cheap to clone: clones share the connection.
#[derive(Clone)]
pub struct RedisSessionAdapter {
    connection: Connection,
    keys: Keys,
}

impl std::fmt::Debug for RedisSessionAdapter {
    // The connection's own `Debug` would show its URL, which may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match self.connection {
            Connection::Single(_) => "single server",
            Connection::Cluster(_) => "cluster",
        };
        f.debug_struct("RedisSessionAdapter").field("key_prefix", &self.keys.prefix()).field("mode", &mode).finish()
    }
}

/// Options for a [`RedisSessionAdapter`]: [`RedisSessionAdapter::builder`].
#[derive(Debug, Clone)]
pub struct RedisSessionAdapterBuilder {
    prefix: String,
    timeout: Duration,
}

impl RedisSessionAdapter {
    /// Connects to one Redis server (`redis://[user:password@]host:port[/db]`) with the
    /// default options: key prefix `lucia`, 2 s timeout. Fails now if the server cannot be
    /// reached.
    pub async fn connect(url: &str) -> Result<Self, ConnectError> {
        Self::builder().connect(url).await
    }

    /// Options: key prefix and timeout.
    pub fn builder() -> RedisSessionAdapterBuilder {
        RedisSessionAdapterBuilder { prefix: "lucia".to_owned(), timeout: Duration::from_secs(2) }
    }

    /// The key prefix.
    pub fn key_prefix(&self) -> &str {
        self.keys.prefix()
    }
}

impl RedisSessionAdapterBuilder {
    /// The prefix of every key (default `lucia`): give each application sharing a Redis its
    /// own.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long to wait to connect, and for each answer, before the store counts as
    /// unavailable (default 2 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Connects to one Redis server. Fails now if the server cannot be reached; after that,
    /// a lost connection is re-established by itself.
    pub async fn connect(self, url: &str) -> Result<RedisSessionAdapter, ConnectError> {
        let keys = self.keys()?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            // An outage should answer quickly ("unavailable") rather than hold requests
            // through a long backoff; the next command tries to reconnect again.
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(self.timeout);
        let manager = redis::aio::ConnectionManager::new_with_config(Client::open(url)?, config).await?;
        Ok(RedisSessionAdapter { connection: Connection::Single(manager), keys })
    }

    /// Connects to a Redis Cluster through any of its nodes. Fails now if none can be
    /// reached.
    pub async fn connect_cluster<'a>(
        self,
        urls: impl IntoIterator<Item = &'a str>,
    ) -> Result<RedisSessionAdapter, ConnectError> {
        let keys = self.keys()?;
        let client = redis::cluster::ClusterClientBuilder::new(urls)
            .connection_timeout(self.timeout)
            .response_timeout(self.timeout)
            .build()?;
        let connection = client.get_async_connection().await?;
        Ok(RedisSessionAdapter { connection: Connection::Cluster(connection), keys })
    }

    fn keys(&self) -> Result<Keys, ConnectError> {
        let valid = !self.prefix.is_empty()
            && self.prefix.len() <= 64
            && self.prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b));
        if !valid {
            return Err(ConnectError::InvalidKeyPrefix(self.prefix.clone()));
        }
        Ok(Keys::new(self.prefix.clone()))
    }
}

// ---- helpers ------------------------------------------------------------------------------

impl RedisSessionAdapter {
    /// Runs a script, once more if the connection dropped under it (see [`once_more`]): every
    /// script but `CLAIM_ID` and `INSERT` has the same effect run twice, and
    /// [`set_session`](SessionAdapter::set_session) reads theirs knowing whether they ran twice.
    async fn run<T: redis::FromRedisValue>(&self, invocation: &ScriptInvocation<'_>) -> Result<T, AdapterError> {
        self.run_telling(invocation).await.map(|(value, _)| value)
    }

    /// [`run`](Self::run), also saying whether the script was sent twice.
    async fn run_telling<T: redis::FromRedisValue>(
        &self,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<(T, bool), AdapterError> {
        once_more(|| {
            let mut connection = self.connection.clone();
            async move { invocation.invoke_async(&mut connection).await }
        })
        .await
        .map_err(adapter_error)
    }

    /// The user of a session id, from its pointer.
    async fn owner(&self, session_id: &str) -> Result<Option<String>, AdapterError> {
        let pointer = self.keys.session_owner(session_id);
        once_more(|| {
            let (mut connection, pointer) = (self.connection.clone(), &pointer);
            async move { connection.get(pointer).await }
        })
        .await
        .map(|(owner, _)| owner)
        .map_err(adapter_error)
    }

    /// Deletes the pointers of these (encoded) session ids. Their sessions are gone already;
    /// a pointer that stays behind finds nothing and expires with its session.
    async fn delete_owners(&self, encoded_ids: &[String]) -> Result<(), AdapterError> {
        if encoded_ids.is_empty() {
            return Ok(());
        }
        // One single-key DEL per pointer, sent together over the multiplexed connection. Not
        // one multi-key DEL: in a cluster the pointers are in different slots, and redis-rs
        // 1.8 can hold the parts of a split command until other traffic wakes the connection
        // (seen as sign-outs and sweeps stalling to the timeout).
        let deletes = encoded_ids.iter().map(|id| {
            let mut connection = self.connection.clone();
            let pointer = self.keys.session_owner_of_encoded(id);
            async move { connection.del::<_, u64>(pointer).await }
        });
        try_join_all(deletes).await.map_err(adapter_error)?;
        Ok(())
    }

    /// The per-user sweep on one index key: deletes the dead sessions and their pointers.
    async fn sweep_index(&self, index: &str, session_key_prefix: &str, now_ms: i64) -> Result<u64, AdapterError> {
        let mut sweep = scripts::SWEEP.key(index);
        sweep.arg(session_key_prefix).arg(now_ms);
        let dead: Vec<String> = self.run(&sweep).await?;
        self.delete_owners(&dead).await?;
        Ok(dead.len() as u64)
    }
}

/// Runs `command`, and once more if the connection dropped under it (closed by the server, a
/// proxy or the network; refused). [`ConnectionManager`](redis::aio::ConnectionManager) fails
/// the command it finds its connection dropped on and reconnects; the second run goes out on
/// the new connection, so a cut of an idle connection costs no failed request. The first run
/// may or may not have reached the server: only commands whose second run is harmless come
/// here. Returns whether it ran twice.
async fn once_more<T, Run>(command: impl Fn() -> Run) -> Result<(T, bool), RedisError>
where
    Run: std::future::Future<Output = Result<T, RedisError>>,
{
    match command().await {
        Err(error) if error.is_connection_dropped() => command().await.map(|value| (value, true)),
        outcome => outcome.map(|value| (value, false)),
    }
}

/// Attribute field/value pairs for `HSET`: `a:<name>` and the value's JSON.
fn attribute_fields(attributes: &AttributeMap) -> Vec<(String, String)> {
    attributes.iter().map(|(name, value)| (format!("{ATTRIBUTE_FIELD}{name}"), value.to_string())).collect()
}

fn corrupt(what: &str) -> AdapterError {
    AdapterError::InvalidAttributes(format!("stored session has an unreadable {what}"))
}

/// A session from its hash fields (`None` if the hash is empty: the session is gone). A field
/// that is missing or does not parse is [`AdapterError::InvalidAttributes`], never a panic.
fn session_from_fields(id: String, fields: HashMap<String, String>) -> Result<Option<DatabaseSession>, AdapterError> {
    if fields.is_empty() {
        return Ok(None);
    }
    let millis = |name: &str| -> Result<i64, AdapterError> {
        fields.get(name).and_then(|value| value.parse().ok()).ok_or_else(|| corrupt(name))
    };
    let (active_expires, idle_expires) = (millis("active_expires")?, millis("idle_expires")?);
    let user_id = fields.get("user_id").cloned().ok_or_else(|| corrupt("user_id"))?;
    let mut attributes = AttributeMap::new();
    for (field, value) in &fields {
        if let Some(name) = field.strip_prefix(ATTRIBUTE_FIELD) {
            attributes.insert(name.to_owned(), serde_json::from_str(value).map_err(|_| corrupt("attribute"))?);
        }
    }
    Ok(Some(DatabaseSession { id, user_id, active_expires, idle_expires, attributes }))
}

// ---- the adapter --------------------------------------------------------------------------

impl SessionAdapter for RedisSessionAdapter {
    async fn get_session(&self, session_id: &str) -> Result<Option<DatabaseSession>, AdapterError> {
        let Some(user_id) = self.owner(session_id).await? else { return Ok(None) };
        let session = self.keys.session(&user_id, session_id);
        let (fields, _): (HashMap<String, String>, _) = once_more(|| {
            let (mut connection, session) = (self.connection.clone(), &session);
            async move { connection.hgetall(session).await }
        })
        .await
        .map_err(adapter_error)?;
        session_from_fields(session_id.to_owned(), fields)
    }

    async fn get_sessions_by_user_id(&self, user_id: &str) -> Result<Vec<DatabaseSession>, AdapterError> {
        let mut list = scripts::LIST.key(self.keys.user_sessions(user_id));
        list.arg(self.keys.session_key_prefix(user_id));
        let found: Vec<(String, HashMap<String, String>)> = self.run(&list).await?;
        let mut sessions = Vec::with_capacity(found.len());
        for (encoded_id, fields) in found {
            let id = keys::decode(&encoded_id).ok_or_else(|| corrupt("id"))?;
            sessions.extend(session_from_fields(id, fields)?);
        }
        Ok(sessions)
    }

    async fn set_session(&self, session: DatabaseSession) -> Result<(), AdapterError> {
        let mut claim = scripts::CLAIM_ID.key(self.keys.session_owner(&session.id));
        claim.arg(&session.user_id).arg(session.idle_expires).arg(DEAD_SESSION_GRACE_MS);
        let (claimed, twice): (bool, _) = self.run_telling(&claim).await?;
        // Sent twice, the claim may have been this call's first run: the pointer then names
        // this session's user (another session of the user under the same random id is not
        // a case to allow for).
        let claimed = claimed || (twice && self.owner(&session.id).await?.as_deref() == Some(session.user_id.as_str()));
        if !claimed {
            return Err(AdapterError::DuplicateSessionId);
        }
        let mut insert = scripts::INSERT.key(self.keys.session(&session.user_id, &session.id));
        insert
            .key(self.keys.user_sessions(&session.user_id))
            .arg(keys::encode(&session.id))
            .arg(&session.user_id)
            .arg(session.active_expires)
            .arg(session.idle_expires)
            .arg(DEAD_SESSION_GRACE_MS);
        for (field, value) in attribute_fields(&session.attributes) {
            insert.arg(field).arg(value);
        }
        let (inserted, twice): (bool, _) = self.run_telling(&insert).await?;
        // The id was free a moment ago, so a session under it means a corrupt store, or
        // this call's first run if the insert was sent twice.
        if !inserted && !twice {
            return Err(AdapterError::DuplicateSessionId);
        }
        Ok(())
    }

    async fn update_session(&self, session_id: &str, update: SessionUpdate) -> Result<(), AdapterError> {
        if update.is_empty() {
            return Ok(());
        }
        // The pointer must live as long as the session: move its expiry first.
        let user_id = match update.expires {
            Some((_, idle)) => {
                let mut owner = scripts::OWNER_FOR_RENEWAL.key(self.keys.session_owner(session_id));
                owner.arg(idle).arg(DEAD_SESSION_GRACE_MS);
                self.run(&owner).await?
            }
            None => self.owner(session_id).await?,
        };
        let Some(user_id) = user_id else { return Ok(()) };
        let (active, idle) = match update.expires {
            Some((active, idle)) => (active.to_string(), idle.to_string()),
            None => (String::new(), String::new()),
        };
        let mut change = scripts::UPDATE.key(self.keys.session(&user_id, session_id));
        change
            .key(self.keys.user_sessions(&user_id))
            .arg(keys::encode(session_id))
            .arg(active)
            .arg(idle)
            .arg(DEAD_SESSION_GRACE_MS);
        for (field, value) in attribute_fields(&update.attributes) {
            change.arg(field).arg(value);
        }
        let _: u8 = self.run(&change).await?;
        Ok(())
    }

    async fn delete_session(&self, session_id: &str) -> Result<(), AdapterError> {
        let Some(user_id) = self.owner(session_id).await? else { return Ok(()) };
        let mut delete = scripts::DELETE.key(self.keys.session(&user_id, session_id));
        delete.key(self.keys.user_sessions(&user_id)).arg(keys::encode(session_id));
        let _: u8 = self.run(&delete).await?;
        self.delete_owners(&[keys::encode(session_id)]).await
    }

    async fn delete_sessions_by_user_id(&self, user_id: &str) -> Result<(), AdapterError> {
        let mut delete = scripts::DELETE_ALL.key(self.keys.user_sessions(user_id));
        delete.arg(self.keys.session_key_prefix(user_id));
        let deleted: Vec<String> = self.run(&delete).await?;
        self.delete_owners(&deleted).await
    }

    async fn delete_dead_sessions_by_user_id(&self, user_id: &str, now_ms: i64) -> Result<(), AdapterError> {
        let index = self.keys.user_sessions(user_id);
        self.sweep_index(&index, &self.keys.session_key_prefix(user_id), now_ms).await.map(drop)
    }

    /// Visits every user's index with `SCAN` (on every primary of a cluster), a page of up to
    /// about a thousand users at a time, and sweeps each: no long-running command blocks
    /// Redis.
    async fn delete_dead_sessions(&self, now_ms: i64) -> Result<u64, AdapterError> {
        let pattern = self.keys.user_sessions_pattern();
        let mut deleted = 0;
        for target in self.connection.scan_targets().await.map_err(adapter_error)? {
            let mut cursor = 0;
            loop {
                let (next, indexes) =
                    self.connection.scan_step(&target, cursor, &pattern, "zset").await.map_err(adapter_error)?;
                let sweeps = indexes.iter().filter_map(|index| {
                    let prefix = self.keys.session_key_prefix_of_index(index)?;
                    Some(async move { self.sweep_index(index, &prefix, now_ms).await })
                });
                deleted += try_join_all(sweeps).await?.into_iter().sum::<u64>();
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        tracing::debug!(deleted, "swept dead sessions from Redis");
        Ok(deleted)
    }
}
