//! [`RecentSignIn`]: whether a session signed in within the last minutes, for what a stolen
//! session cookie must not do (add or remove a passkey, delete an account without a password).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::lucia_type::{LuciaType, SessionOf};

/// How long after signing in a session counts as recently signed in, by default
/// ([`RecentSignIn::max_age`]).
pub const DEFAULT_REAUTHENTICATION_MAX_AGE: Duration = Duration::from_secs(10 * 60);

/// How far ahead of this server's clock a sign-in time may be (another server's clock that
/// runs ahead); a time further ahead is refused, so that a wrong one cannot keep a session
/// fresh for ever.
const CLOCK_SKEW: Duration = Duration::from_secs(60);

type SignedInAt<L> = dyn Fn(&SessionOf<L>) -> Option<i64> + Send + Sync;

/// When a session signed in, and how long ago that may be for the session to count as
/// recently signed in. The check behind the passkey routes' registration and removal
/// (feature `passkey`: `PasskeyRoutes::recent_sign_in` gives the routes' own), for an
/// application's routes that need the same (deleting an account that has no
/// password to confirm with). The time is the store's ([`lucia::Config::now`]), as for
/// session expiry. Cloning shares the `signed_in_at` function.
///
/// ```
/// use axum::Extension;
/// use lucia::{Lucia, NoAttributes, memory::MemoryAdapter};
/// use lucia_axum::{RecentSignIn, SignedIn};
///
/// #[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
/// struct SessionAttributes {
///     signed_in_at: Option<i64>, // milliseconds since the Unix epoch, set at every sign-in
/// }
///
/// type Auth = Lucia<MemoryAdapter, NoAttributes, SessionAttributes>;
///
/// // Put in the router as `.layer(Extension(RecentSignIn::<Auth>::new(|session| session.attributes.signed_in_at)))`.
/// async fn delete_account(
///     Extension(recent): Extension<RecentSignIn<Auth>>,
///     SignedIn { session, auth, .. }: SignedIn<Auth>,
/// ) -> &'static str {
///     if !recent.is_recent(auth.lucia(), &session) {
///         return "sign in again to delete your account";
///     }
///     // ...
///     "deleted"
/// }
/// ```
pub struct RecentSignIn<L: LuciaType> {
    signed_in_at: Arc<SignedInAt<L>>,
    max_age: Duration,
}

impl<L: LuciaType> RecentSignIn<L> {
    /// `signed_in_at` says when a session signed in, in milliseconds since the Unix epoch
    /// (typically a session attribute set at every sign-in), or `None` if unknown (never
    /// recent). A session renewed since it signed in keeps its sign-in time: the renewal is not
    /// a sign-in. The max age is [`DEFAULT_REAUTHENTICATION_MAX_AGE`], 10 minutes.
    pub fn new(signed_in_at: impl Fn(&SessionOf<L>) -> Option<i64> + Send + Sync + 'static) -> Self {
        Self { signed_in_at: Arc::new(signed_in_at), max_age: DEFAULT_REAUTHENTICATION_MAX_AGE }
    }

    /// How long after signing in a session counts as recently signed in: long enough to sign
    /// in and go to the page, short enough that a session cookie stolen later is refused.
    #[must_use]
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// The max age ([`with_max_age`](Self::with_max_age)).
    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    /// How long ago `session` signed in, by `lucia`'s clock: `None` if the time is unknown, or
    /// more than a minute ahead of the clock (a sign-in time a little ahead, from a server
    /// whose clock runs ahead, is zero).
    pub fn since_sign_in(&self, lucia: &L, session: &SessionOf<L>) -> Option<Duration> {
        since((self.signed_in_at)(session), lucia.as_lucia().config().now())
    }

    /// Whether `session` signed in at most [`max_age`](Self::max_age) ago.
    pub fn is_recent(&self, lucia: &L, session: &SessionOf<L>) -> bool {
        self.since_sign_in(lucia, session).is_some_and(|age| age <= self.max_age)
    }
}

/// How long before `now` a sign-in at `signed_in_at` (milliseconds since the Unix epoch) was;
/// `None` if unknown or more than [`CLOCK_SKEW`] ahead of `now`.
fn since(signed_in_at: Option<i64>, now: SystemTime) -> Option<Duration> {
    let signed_in = signed_in_at
        .and_then(|ms| u64::try_from(ms).ok())
        .and_then(|ms| UNIX_EPOCH.checked_add(Duration::from_millis(ms)))?;
    match now.duration_since(signed_in) {
        Ok(age) => Some(age),
        Err(ahead) => (ahead.duration() <= CLOCK_SKEW).then_some(Duration::ZERO),
    }
}

impl<L: LuciaType> Clone for RecentSignIn<L> {
    fn clone(&self) -> Self {
        Self { signed_in_at: Arc::clone(&self.signed_in_at), max_age: self.max_age }
    }
}

impl<L: LuciaType> fmt::Debug for RecentSignIn<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecentSignIn").field("max_age", &self.max_age).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recent_sign_in_is_one_within_the_max_age_and_not_ahead_of_the_clock() {
        let max_age = DEFAULT_REAUTHENTICATION_MAX_AGE;
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let ms = |time: SystemTime| i64::try_from(time.duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap();
        let recent = |signed_in_at| since(signed_in_at, now).is_some_and(|age| age <= max_age);
        assert!(recent(Some(ms(now))));
        assert!(recent(Some(ms(now - max_age))));
        assert!(!recent(Some(ms(now - max_age) - 1)));
        assert_eq!(since(Some(ms(now - max_age)), now), Some(max_age));
        assert!(recent(Some(ms(now + CLOCK_SKEW))));
        assert_eq!(since(Some(ms(now + CLOCK_SKEW)), now), Some(Duration::ZERO));
        assert!(!recent(Some(ms(now + CLOCK_SKEW) + 1)));
        for unknown in [None, Some(-1), Some(0), Some(i64::MIN), Some(i64::MAX)] {
            assert!(!recent(unknown), "{unknown:?}");
        }
    }
}
