//! Sessions as the application sees them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{SessionHandle, SessionToken, User};

/// Whether a live session is within its active period or only its idle period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Before `active_period_expires_at` (inclusive): valid, no renewal needed.
    Active,
    /// After the active period but before `idle_period_expires_at` (inclusive): still valid;
    /// [`Lucia::validate_session`](crate::Lucia::validate_session) renews it.
    Idle,
}

/// A live session with its user. It holds no credential: [`handle`](Self::handle) names the
/// session (to list and revoke it), and the token that authenticates it is only ever returned
/// once, by the call that creates the session ([`NewSession`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Session<U, S> {
    /// Names this session without authenticating it: safe to show and to post back.
    pub handle: SessionHandle,
    /// The session's user.
    pub user: User<U>,
    /// End of the active period.
    pub active_period_expires_at: SystemTime,
    /// End of the idle period: after this the session is dead.
    pub idle_period_expires_at: SystemTime,
    /// Active or idle at the time it was read.
    pub state: SessionState,
    /// `true` if this call created or renewed the session, so a cookie must be (re)sent.
    pub fresh: bool,
    /// The session's attribute columns, deserialized into the application's type.
    pub attributes: S,
}

/// A session just created, with its token: the one time the token is handed out. Send the
/// token to the client (as the cookie of [`Lucia::create_session_cookie`] or in a token
/// response) and nowhere else.
///
/// [`Lucia::create_session_cookie`]: crate::Lucia::create_session_cookie
#[derive(Debug, Clone, PartialEq)]
pub struct NewSession<U, S> {
    /// The credential: the cookie value or bearer token. `Debug` does not show it.
    pub token: SessionToken,
    /// The session.
    pub session: Session<U, S>,
}

/// Milliseconds since the Unix epoch (negative before it).
pub(crate) fn to_millis(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// The time `ms` milliseconds after the Unix epoch, saturating at what `SystemTime` can hold.
pub(crate) fn from_millis(ms: i64) -> SystemTime {
    let ms = ms.clamp(-FAR_FUTURE_MS, FAR_FUTURE_MS);
    let offset = Duration::from_millis(ms.unsigned_abs());
    let time = if ms >= 0 { UNIX_EPOCH.checked_add(offset) } else { UNIX_EPOCH.checked_sub(offset) };
    time.unwrap_or(if ms >= 0 { far_future() } else { UNIX_EPOCH })
}

/// The end of year 9999: beyond any expiry Lucia writes, within every platform's SystemTime.
pub(crate) const FAR_FUTURE_MS: i64 = 253_402_300_799_999;

fn far_future() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(FAR_FUTURE_MS as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_round_trip_and_saturate() {
        for ms in [0, 1, 1_795_655_076_154, -5] {
            assert_eq!(to_millis(from_millis(ms)), ms);
        }
        assert_eq!(from_millis(i64::MAX), far_future());
    }

    /// The time `ms` after (or before) the epoch without lucia's clamp; `None` past what
    /// `SystemTime` holds.
    fn exact(ms: i128) -> Option<SystemTime> {
        let offset = Duration::from_millis(u64::try_from(ms.unsigned_abs()).ok()?);
        if ms >= 0 { UNIX_EPOCH.checked_add(offset) } else { UNIX_EPOCH.checked_sub(offset) }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Every stored expiry within `FAR_FUTURE_MS` of the epoch (to the end of year 9999, and
        /// as far before 1970) reads back exactly; beyond, it saturates at that range's ends,
        /// never panicking.
        #[test]
        fn millis_round_trip_within_the_range_and_clamp_beyond(ms in proptest::prelude::any::<i64>()) {
            let clamped = ms.clamp(-FAR_FUTURE_MS, FAR_FUTURE_MS);
            proptest::prop_assert_eq!(to_millis(from_millis(ms)), clamped);
            proptest::prop_assert_eq!(Some(from_millis(ms)), exact(i128::from(clamped)));
        }

        /// Conversions keep the order of times.
        #[test]
        fn millis_conversions_are_monotonic(a in proptest::prelude::any::<i64>(), b in proptest::prelude::any::<i64>()) {
            proptest::prop_assert_eq!(from_millis(a) <= from_millis(b), a.clamp(-FAR_FUTURE_MS, FAR_FUTURE_MS) <= b.clamp(-FAR_FUTURE_MS, FAR_FUTURE_MS));
            let (ta, tb) = (from_millis(a), from_millis(b));
            proptest::prop_assert_eq!(to_millis(ta) <= to_millis(tb), ta <= tb);
        }

        /// Any `SystemTime` becomes whole milliseconds, rounded towards the epoch, and saturates
        /// at `i64` instead of overflowing.
        #[test]
        fn system_times_truncate_to_millis(secs in proptest::prelude::any::<i64>(), nanos in 0u32..1_000_000_000) {
            let offset = Duration::new(secs.unsigned_abs(), nanos);
            let time = if secs >= 0 { UNIX_EPOCH.checked_add(offset) } else { UNIX_EPOCH.checked_sub(offset) };
            if let Some(time) = time {
                let ms = i128::from(secs.unsigned_abs()) * 1000 + i128::from(nanos / 1_000_000);
                let expected = if secs >= 0 { ms } else { -ms };
                let expected = i64::try_from(expected).unwrap_or(if secs >= 0 { i64::MAX } else { -i64::MAX });
                proptest::prop_assert_eq!(to_millis(time), expected);
            }
        }
    }
}
