//! Sign-in throttling per key: exponential backoff after repeated attempts
//! ([`Backoff`]), kept in a [`ThrottleStore`].
//!
//! [`Lucia::use_key`](crate::Lucia::use_key) and [`Lucia::sign_in`](crate::Lucia::sign_in)
//! with a password ask the store first, before any database lookup or hashing. Each attempt
//! is recorded as a failure *before* the password is checked, so that a burst of concurrent
//! guesses cannot all pass; a correct password clears the record. While a key is throttled,
//! the answer is [`Error::Throttled`](crate::Error::Throttled), with no hashing.
//!
//! Keys are throttled by key id (`provider_id:provider_user_id`), known or not, so the
//! throttle reveals nothing about which keys exist.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use crate::AdapterError;

/// How sign-in attempts on one key are spaced out: the first
/// [`free_attempts`](Self::free_attempts) attempts go through at once; after that, each
/// attempt must wait, after the previous one, [`base_delay`](Self::base_delay), then twice
/// that, four times, ... up to [`max_delay`](Self::max_delay). A correct password clears the
/// count; so does [`forget_after`](Self::forget_after) without any attempt.
///
/// Defaults: 5 free attempts, 1 s base delay, 15 min cap, forgotten after 1 h.
///
/// ```
/// use std::time::Duration;
/// use lucia::Backoff;
///
/// let backoff = Backoff::default().free_attempts(3).base_delay(Duration::from_secs(2));
/// // After 3 attempts, the 4th waits 2 s after the 3rd, the 5th 4 s after the 4th, ...
/// assert_eq!(backoff.delay_after(2), Duration::ZERO);
/// assert_eq!(backoff.delay_after(3), Duration::from_secs(2));
/// assert_eq!(backoff.delay_after(4), Duration::from_secs(4));
/// assert_eq!(backoff.delay_after(100), Duration::from_secs(15 * 60));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Backoff {
    /// How many attempts go through without waiting (default 5). The first attempt on a key
    /// always does, even with `0`.
    pub free_attempts: u32,
    /// The wait after the last free attempt (default 1 s); it doubles with each further
    /// attempt.
    pub base_delay: Duration,
    /// The longest wait (default 15 minutes).
    pub max_delay: Duration,
    /// How long after its last attempt a key's record is forgotten (default 1 hour); never
    /// before its current wait is over.
    pub forget_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            free_attempts: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(15 * 60),
            forget_after: Duration::from_secs(60 * 60),
        }
    }
}

impl Backoff {
    /// How many attempts go through without waiting (default 5).
    #[must_use]
    pub fn free_attempts(mut self, attempts: u32) -> Self {
        self.free_attempts = attempts;
        self
    }

    /// The wait after the last free attempt (default 1 s); it doubles with each further
    /// attempt.
    #[must_use]
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// The longest wait (default 15 minutes): how long an attacker can keep one account
    /// from signing in with each attempt.
    #[must_use]
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// How long after its last attempt a key's record is forgotten (default 1 hour). A record
    /// is never forgotten before its current wait is over.
    #[must_use]
    pub fn forget_after(mut self, after: Duration) -> Self {
        self.forget_after = after;
        self
    }

    /// How long after the last of `attempts` recorded attempts the next one may go: zero
    /// while `attempts` is below [`free_attempts`](Self::free_attempts), then the base delay
    /// doubled for each attempt beyond them, capped at [`max_delay`](Self::max_delay).
    pub fn delay_after(&self, attempts: u32) -> Duration {
        if attempts < self.free_attempts {
            return Duration::ZERO;
        }
        let doublings = attempts - self.free_attempts;
        let factor = 1u32.checked_shl(doublings).unwrap_or(0);
        match self.base_delay.checked_mul(factor) {
            Some(delay) if factor != 0 => delay.min(self.max_delay),
            _ => self.max_delay,
        }
    }

    /// How long a record of `attempts` attempts is kept after the last of them: the longer of
    /// [`forget_after`](Self::forget_after) and the current wait.
    pub fn keep_for(&self, attempts: u32) -> Duration {
        self.forget_after.max(self.delay_after(attempts))
    }

    /// The outcome of an attempt made `elapsed` after the last of `attempts` earlier ones
    /// (still remembered): [`Attempt::Allowed`] if the wait is over, else how long is left.
    /// Stores use it so that they all agree.
    pub fn check(&self, attempts: u32, elapsed: Duration) -> Attempt {
        let wait = self.delay_after(attempts);
        if elapsed >= wait { Attempt::Allowed } else { Attempt::Throttled { retry_after: wait - elapsed } }
    }
}

/// What a [`ThrottleStore`] answers to an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The attempt may go on; it has been recorded (as a failure until
    /// [`ThrottleStore::succeeded`] says otherwise).
    Allowed,
    /// Too soon: nothing was recorded, and the attempt may be made again after `retry_after`.
    Throttled {
        /// How long until the next attempt is allowed.
        retry_after: Duration,
    },
}

/// Where sign-in attempts per key are counted: [`MemoryThrottleStore`] (the default, one per
/// `Lucia`), or a shared store such as `lucia-adapter-redis`'s `RedisThrottleStore` when
/// several instances of an application serve the same users.
///
/// Both operations must be **atomic**: concurrent attempts on one key, from any number of
/// instances, must each see the others' records, so that exactly
/// [`Backoff::free_attempts`] attempts on a fresh key are allowed however many arrive at once.
///
/// Errors are [`AdapterError`]s; [`Lucia`](crate::Lucia) fails closed on them: a sign-in
/// whose attempt cannot be recorded is refused ([`Error::Unavailable`](crate::Error) for
/// [`AdapterError::Unavailable`], answered `503` by lucia-axum), never let through unthrottled.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use lucia::{AdapterError, Attempt, Backoff, MemoryThrottleStore, ThrottleStore};
///
/// /// A store that counts nothing (for illustration only: it throttles nothing).
/// struct Never;
///
/// impl ThrottleStore for Never {
///     async fn attempt(&self, _key: &str, _backoff: &Backoff, _now: SystemTime) -> Result<Attempt, AdapterError> {
///         Ok(Attempt::Allowed)
///     }
///     async fn succeeded(&self, _key: &str) -> Result<(), AdapterError> {
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let store = MemoryThrottleStore::new();
/// let (backoff, now) = (Backoff::default(), SystemTime::now());
/// for _ in 0..5 {
///     assert_eq!(store.attempt("email:ada@example.com", &backoff, now).await.unwrap(), Attempt::Allowed);
/// }
/// let sixth = store.attempt("email:ada@example.com", &backoff, now).await.unwrap();
/// assert_eq!(sixth, Attempt::Throttled { retry_after: Duration::from_secs(1) });
/// # }
/// ```
pub trait ThrottleStore: Send + Sync + 'static {
    /// Records an attempt on `key` at `now` if the backoff allows one, as one atomic step:
    /// [`Attempt::Allowed`] (the attempt now counts as a failure), or
    /// [`Attempt::Throttled`] (nothing recorded). A store with its own clock (Redis's `TIME`)
    /// may use it instead of `now`.
    fn attempt(
        &self,
        key: &str,
        backoff: &Backoff,
        now: SystemTime,
    ) -> impl Future<Output = Result<Attempt, AdapterError>> + Send;

    /// Clears `key`'s record: its password was just proven.
    fn succeeded(&self, key: &str) -> impl Future<Output = Result<(), AdapterError>> + Send;
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`ThrottleStore`] with boxed futures, so that [`Lucia`](crate::Lucia) can hold any store
/// without a type parameter of its own.
pub(crate) trait DynThrottleStore: Send + Sync {
    fn attempt<'a>(
        &'a self,
        key: &'a str,
        backoff: &'a Backoff,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Attempt, AdapterError>>;
    fn succeeded<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), AdapterError>>;
}

impl<T: ThrottleStore> DynThrottleStore for T {
    fn attempt<'a>(
        &'a self,
        key: &'a str,
        backoff: &'a Backoff,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Attempt, AdapterError>> {
        Box::pin(ThrottleStore::attempt(self, key, backoff, now))
    }

    fn succeeded<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), AdapterError>> {
        Box::pin(ThrottleStore::succeeded(self, key))
    }
}

/// The key a store sees for a key id: the key id itself, or, past
/// [`MAX_THROTTLE_KEY_LENGTH`] bytes, `sha256:` and its SHA-256 in hex, so that an
/// attacker's long key ids do not cost the store memory.
pub(crate) fn throttle_key(key_id: &str) -> std::borrow::Cow<'_, str> {
    if key_id.len() <= MAX_THROTTLE_KEY_LENGTH {
        std::borrow::Cow::Borrowed(key_id)
    } else {
        std::borrow::Cow::Owned(format!("sha256:{}", crate::token::sha256_hex(key_id.as_bytes())))
    }
}

/// Key ids longer than this (in bytes) reach a [`ThrottleStore`] as `sha256:<hex>`.
pub const MAX_THROTTLE_KEY_LENGTH: usize = 128;

/// Attempts counted in this process's memory: the default [`ThrottleStore`]. Each `Lucia`
/// has its own unless given one ([`LuciaBuilder::sign_in_throttle`](crate::LuciaBuilder)):
/// instances of an application that share users should share a store instead (Redis).
///
/// Records are dropped once forgotten ([`Backoff::forget_after`]), in sweeps that run when
/// the map has doubled since the last sweep, or a minute after it. There is no hard cap: the
/// map holds one record (about a hundred bytes) per key tried within `forget_after`, so its
/// size follows the rate of attempts on distinct keys, which the per-IP limit of
/// `lucia-axum` bounds per client address but not across many addresses.
#[derive(Debug, Default)]
pub struct MemoryThrottleStore {
    state: Mutex<MemoryState>,
}

#[derive(Debug, Default)]
struct MemoryState {
    records: HashMap<String, Record>,
    last_sweep: Option<SystemTime>,
    /// The map's length after the last sweep.
    swept_len: usize,
}

#[derive(Debug, Clone, Copy)]
struct Record {
    attempts: u32,
    last: SystemTime,
    forget_at: SystemTime,
}

/// How often the memory store sweeps at most, unless it doubles in size first.
const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

impl MemoryThrottleStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many keys have a record (forgotten ones that no sweep has dropped yet included).
    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    /// Whether no key has a record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The decision for one attempt, under the lock.
    fn attempt_now(&self, key: &str, backoff: &Backoff, now: SystemTime) -> Attempt {
        let mut state = self.lock();
        state.sweep_if_due(now);
        let record = state.records.get(key).filter(|record| now < record.forget_at).copied();
        let attempts = match record {
            Some(record) => {
                // A clock that went backwards counts as no time elapsed.
                let elapsed = now.duration_since(record.last).unwrap_or(Duration::ZERO);
                if let throttled @ Attempt::Throttled { .. } = backoff.check(record.attempts, elapsed) {
                    return throttled;
                }
                record.attempts.saturating_add(1)
            }
            None => 1,
        };
        let forget_at = now.checked_add(backoff.keep_for(attempts)).unwrap_or(now);
        state.records.insert(key.to_owned(), Record { attempts, last: now, forget_at });
        Attempt::Allowed
    }
}

impl MemoryState {
    fn sweep_if_due(&mut self, now: SystemTime) {
        let grown = self.records.len() >= 2 * self.swept_len.max(512);
        let interval_over = match self.last_sweep {
            Some(last) => now.duration_since(last).map_or(true, |elapsed| elapsed >= SWEEP_INTERVAL),
            None => true,
        };
        if grown || interval_over {
            self.records.retain(|_, record| now < record.forget_at);
            if self.records.capacity() > 4 * self.records.len().max(256) {
                self.records.shrink_to_fit();
            }
            self.last_sweep = Some(now);
            self.swept_len = self.records.len();
        }
    }
}

impl ThrottleStore for MemoryThrottleStore {
    async fn attempt(&self, key: &str, backoff: &Backoff, now: SystemTime) -> Result<Attempt, AdapterError> {
        Ok(self.attempt_now(key, backoff, now))
    }

    async fn succeeded(&self, key: &str) -> Result<(), AdapterError> {
        self.lock().records.remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + seconds)
    }

    fn attempt(store: &MemoryThrottleStore, key: &str, backoff: &Backoff, now: SystemTime) -> Attempt {
        store.attempt_now(key, backoff, now)
    }

    #[test]
    fn the_wait_doubles_after_the_free_attempts_up_to_the_cap() {
        let backoff = Backoff::default();
        for attempts in 0..5 {
            assert_eq!(backoff.delay_after(attempts), Duration::ZERO);
        }
        assert_eq!(backoff.delay_after(5), SECOND);
        assert_eq!(backoff.delay_after(6), 2 * SECOND);
        assert_eq!(backoff.delay_after(7), 4 * SECOND);
        assert_eq!(backoff.delay_after(14), 512 * SECOND);
        assert_eq!(backoff.delay_after(15), 900 * SECOND, "1024 s is capped at 15 min");
        // No overflow, however many attempts.
        for attempts in [31, 32, 33, 64, u32::MAX] {
            assert_eq!(backoff.delay_after(attempts), 900 * SECOND, "{attempts}");
        }
        let huge = Backoff::default().base_delay(Duration::MAX).max_delay(Duration::MAX);
        assert_eq!(huge.delay_after(7), Duration::MAX);
        assert_eq!(Backoff::default().free_attempts(0).delay_after(0), SECOND);
        assert_eq!(backoff.keep_for(5), 3600 * SECOND);
        let long = Backoff::default().max_delay(7200 * SECOND);
        assert_eq!(long.keep_for(30), 7200 * SECOND, "a record outlives its wait");
        assert_eq!(backoff.check(6, SECOND), Attempt::Throttled { retry_after: SECOND });
        assert_eq!(backoff.check(6, 2 * SECOND), Attempt::Allowed);
    }

    #[test]
    fn free_attempts_pass_then_each_waits_longer_and_success_clears() {
        let (store, backoff) = (MemoryThrottleStore::new(), Backoff::default());
        for _ in 0..5 {
            assert_eq!(attempt(&store, "email:a", &backoff, at(0)), Attempt::Allowed);
        }
        assert_eq!(attempt(&store, "email:a", &backoff, at(0)), Attempt::Throttled { retry_after: SECOND });
        // Another key is not affected.
        assert_eq!(attempt(&store, "email:b", &backoff, at(0)), Attempt::Allowed);
        // A throttled attempt records nothing: the wait is still counted from the 5th attempt.
        assert_eq!(attempt(&store, "email:a", &backoff, at(1)), Attempt::Allowed);
        assert_eq!(attempt(&store, "email:a", &backoff, at(2)), Attempt::Throttled { retry_after: SECOND });
        assert_eq!(attempt(&store, "email:a", &backoff, at(3)), Attempt::Allowed);
        assert_eq!(attempt(&store, "email:a", &backoff, at(4)), Attempt::Throttled { retry_after: 3 * SECOND });
        assert_eq!(attempt(&store, "email:a", &backoff, at(7)), Attempt::Allowed);
        futures_executor(ThrottleStore::succeeded(&store, "email:a")).unwrap();
        for _ in 0..5 {
            assert_eq!(attempt(&store, "email:a", &backoff, at(7)), Attempt::Allowed);
        }
    }

    #[test]
    fn records_are_forgotten_and_swept() {
        let (store, backoff) = (MemoryThrottleStore::new(), Backoff::default());
        for _ in 0..6 {
            attempt(&store, "email:a", &backoff, at(0));
        }
        assert!(matches!(attempt(&store, "email:a", &backoff, at(0)), Attempt::Throttled { .. }));
        // An hour after the last attempt, the record is gone: five free attempts again.
        for _ in 0..5 {
            assert_eq!(attempt(&store, "email:a", &backoff, at(3600)), Attempt::Allowed);
        }
        // Many keys, each tried once: all dropped by the sweep after they are forgotten.
        for i in 0..10_000 {
            attempt(&store, &format!("email:{i}"), &backoff, at(4000));
        }
        assert!(store.len() > 10_000);
        attempt(&store, "email:last", &backoff, at(4000 + 3600 + 60));
        assert_eq!(store.len(), 1, "only the fresh record is left");
    }

    #[test]
    fn the_map_is_swept_when_it_doubles() {
        let (store, backoff) = (MemoryThrottleStore::new(), Backoff::default().forget_after(SECOND));
        // Within a minute of the last sweep (so no interval sweep), records forgotten after a
        // second are dropped whenever the map has doubled.
        attempt(&store, "warm-up", &backoff, at(0));
        for i in 0..5_000u64 {
            attempt(&store, &format!("k{i}"), &backoff, at(10) + Duration::from_millis(i * 10));
        }
        assert!(store.len() < 2_000, "{} records", store.len());
    }

    #[test]
    fn long_key_ids_are_hashed() {
        assert_eq!(throttle_key("email:a"), "email:a");
        let long = format!("email:{}", "a".repeat(500));
        let key = throttle_key(&long);
        assert!(key.starts_with("sha256:") && key.len() == 71, "{key}");
    }

    /// Runs a future that completes without waking (the memory store's are ready at once).
    fn futures_executor<F: Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        match future.as_mut().poll(&mut context) {
            std::task::Poll::Ready(output) => output,
            std::task::Poll::Pending => panic!("the memory store never waits"),
        }
    }
}
