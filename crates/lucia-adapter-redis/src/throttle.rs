//! [`RedisThrottleStore`]: lucia's per-key sign-in throttle in Redis, shared by every instance
//! of an application.

use std::time::{Duration, SystemTime};

use lucia::{AdapterError, Attempt, Backoff, ThrottleStore};
use redis::AsyncCommands;

use crate::connection::{Connection, adapter_error};
use crate::keys::Keys;
use crate::{ConnectError, RedisSessionAdapter, scripts};

/// Sign-in attempts per key in Redis or a Redis Cluster: a [`lucia::ThrottleStore`] that
/// several instances of an application share, so that an attacker gains nothing by spreading
/// guesses over them.
///
/// Each key id's record is one hash, `<prefix>:throttle:<key id>` (`attempts`, and `last`, the
/// time of the last attempt), so each account's record lives in one cluster slot. An attempt
/// is one Lua script, atomic however many instances try the same key at once, that reads the
/// time from the server (`TIME`), so instances whose clocks disagree still agree on the
/// waits. A record expires by itself (`PEXPIRE`) the backoff's
/// [`forget_after`](lucia::Backoff::forget_after) after the last attempt (never before its
/// wait is over); a correct password deletes it.
///
/// It shares the connection (single server or cluster), key prefix and timeout of a
/// [`RedisSessionAdapter`]:
///
/// ```no_run
/// use lucia::{Lucia, SplitAdapter};
/// use lucia_adapter_redis::RedisSessionAdapter;
///
/// # async fn demo(users: impl lucia::UserAdapter) -> Result<(), Box<dyn std::error::Error>> {
/// let sessions = RedisSessionAdapter::builder().key_prefix("myapp").connect("redis://cache:6379").await?;
/// let throttle = sessions.throttle_store();
/// let auth = Lucia::builder(SplitAdapter::new(users, sessions)).sign_in_throttle(throttle).build();
/// # Ok(())
/// # }
/// ```
///
/// Errors are the session adapter's: a server that cannot be reached is
/// [`AdapterError::Unavailable`], and lucia then refuses the sign-in (it fails closed).
#[derive(Clone)]
pub struct RedisThrottleStore {
    connection: Connection,
    keys: Keys,
}

impl std::fmt::Debug for RedisThrottleStore {
    // The connection's own `Debug` would show its URL, which may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisThrottleStore").field("key_prefix", &self.keys.prefix()).finish_non_exhaustive()
    }
}

impl RedisSessionAdapter {
    /// A [`RedisThrottleStore`] over this adapter's connection, under its key prefix.
    pub fn throttle_store(&self) -> RedisThrottleStore {
        RedisThrottleStore { connection: self.connection.clone(), keys: self.keys.clone() }
    }
}

impl RedisThrottleStore {
    /// Connects to one Redis server with the default options (key prefix `lucia`, 2 s
    /// timeout), for an application that keeps its sessions elsewhere. For other options, or
    /// a cluster, build a [`RedisSessionAdapter`] and call
    /// [`throttle_store`](RedisSessionAdapter::throttle_store).
    pub async fn connect(url: &str) -> Result<Self, ConnectError> {
        Ok(RedisSessionAdapter::connect(url).await?.throttle_store())
    }

    /// The key prefix.
    pub fn key_prefix(&self) -> &str {
        self.keys.prefix()
    }
}

/// Milliseconds for the script: at least 0, at most ten years (Lua numbers are doubles, and
/// `PEXPIRE` refuses overflowing times).
fn millis(duration: Duration) -> u64 {
    const TEN_YEARS_MS: u128 = 10 * 365 * 86_400_000;
    duration.as_millis().min(TEN_YEARS_MS) as u64
}

impl ThrottleStore for RedisThrottleStore {
    /// `now` is not used: the server's clock is.
    async fn attempt(&self, key: &str, backoff: &Backoff, _now: SystemTime) -> Result<Attempt, AdapterError> {
        let mut invocation = scripts::THROTTLE_ATTEMPT.key(self.keys.throttle(key));
        invocation
            .arg(backoff.free_attempts)
            .arg(millis(backoff.base_delay))
            .arg(millis(backoff.max_delay))
            .arg(millis(backoff.forget_after));
        let (allowed, wait_ms): (u8, u64) =
            invocation.invoke_async(&mut self.connection.clone()).await.map_err(adapter_error)?;
        Ok(if allowed == 1 {
            Attempt::Allowed
        } else {
            Attempt::Throttled { retry_after: Duration::from_millis(wait_ms) }
        })
    }

    async fn succeeded(&self, key: &str) -> Result<(), AdapterError> {
        self.connection.clone().del::<_, u64>(self.keys.throttle(key)).await.map_err(adapter_error)?;
        Ok(())
    }
}
