//! Properties of id generation and of session expiry arithmetic (issue 13 item 5). Parsing
//! properties are in `parsing.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lucia::memory::MemoryAdapter;
use lucia::{
    ALPHABET, CreateSession, CreateUser, Error, Lucia, NoAttributes, SESSION_ID_LENGTH, SessionExpiresIn, SessionState,
    USER_ID_LENGTH, generate_random_string,
};
use proptest::prelude::*;

/// The end of year 9999 in milliseconds, where lucia clamps the expiries it hands out.
const FAR_FUTURE_MS: i64 = 253_402_300_799_999;

fn index(byte: u8) -> usize {
    ALPHABET.iter().position(|&c| c == byte).unwrap_or_else(|| panic!("{byte:#x} is not in the alphabet"))
}

/// Pearson's statistic of `counts` against equal expected counts.
fn chi_square(counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    let expected = total as f64 / counts.len() as f64;
    counts.iter().map(|&n| (n as f64 - expected).powi(2) / expected).sum()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_strings_have_the_length_and_alphabet(length in 0usize..600) {
        let id = generate_random_string(length);
        prop_assert_eq!(id.len(), length);
        prop_assert!(id.bytes().all(|b| ALPHABET.contains(&b)), "{}", id);
    }
}

#[test]
fn ids_have_lucias_lengths() {
    assert_eq!((USER_ID_LENGTH, SESSION_ID_LENGTH), (15, 40));
    assert_eq!(ALPHABET.len(), 36);
    let mut sorted = ALPHABET.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 36, "no character twice");
}

/// No character and no (position, character) pair of a session id is favoured.
///
/// 25 000 session ids (1 000 000 characters). Under uniform draws the pooled counts' statistic
/// follows chi-square with 35 degrees of freedom, P(> 120) = 3.1e-11, and the counts per
/// position (40 × 36 cells, 1439 degrees of freedom), P(> 1850) = 9.2e-13: together a false
/// failure is less likely than 1e-10 (tails computed with the regularised incomplete gamma
/// function). `byte % 36` without rejection (4 characters at 8/256, the rest at 7/256) gives
/// expected statistics of about 35 + 1953 and 1439 + 1953: far past both bounds.
#[test]
fn characters_are_uniform_overall_and_at_every_position() {
    const IDS: usize = 25_000;
    let mut pooled = [0u64; 36];
    let mut by_position = vec![0u64; SESSION_ID_LENGTH * 36];
    for _ in 0..IDS {
        let id = generate_random_string(SESSION_ID_LENGTH);
        for (position, byte) in id.bytes().enumerate() {
            let i = index(byte);
            pooled[i] += 1;
            by_position[position * 36 + i] += 1;
        }
    }
    let overall = chi_square(&pooled);
    assert!(overall < 120.0, "chi-square {overall} over 35 df: {pooled:?}");
    let positional = chi_square(&by_position);
    assert!(positional < 1850.0, "chi-square {positional} over 1439 df");
}

/// Two draws are never the same (206 bits each; a repeat would mean a broken generator).
#[test]
fn session_ids_do_not_repeat() {
    let mut seen = std::collections::HashSet::new();
    for _ in 0..10_000 {
        assert!(seen.insert(generate_random_string(SESSION_ID_LENGTH)));
    }
}

fn time(ms: i64) -> SystemTime {
    let offset = Duration::from_millis(ms.unsigned_abs());
    if ms >= 0 { UNIX_EPOCH + offset } else { UNIX_EPOCH - offset }
}

/// What a session shows for an expiry stored as `ms`: clamped to years 1970 - 9999 backwards
/// and forwards as lucia documents (`from_millis`).
fn shown(ms: i64) -> SystemTime {
    time(ms.clamp(-FAR_FUTURE_MS, FAR_FUTURE_MS))
}

fn millis(period: Duration) -> i64 {
    i64::try_from(period.as_millis()).unwrap_or(i64::MAX)
}

struct Clocked {
    lucia: Lucia<MemoryAdapter>,
    now: Arc<AtomicI64>,
    runtime: tokio::runtime::Runtime,
}

fn clocked(periods: SessionExpiresIn) -> Clocked {
    let now = Arc::new(AtomicI64::new(0));
    let clock = now.clone();
    let lucia = Lucia::builder(MemoryAdapter::new())
        .session_expires_in(periods)
        .clock(move || time(clock.load(Ordering::SeqCst)))
        .build();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    Clocked { lucia, now, runtime }
}

/// A period: mostly realistic, sometimes zero, huge or `Duration::MAX`.
fn period() -> impl Strategy<Value = Duration> {
    prop_oneof![
        4 => (0u64..=400 * 24 * 3600 * 1000).prop_map(Duration::from_millis),
        1 => Just(Duration::ZERO),
        1 => any::<u64>().prop_map(Duration::from_millis),
        1 => Just(Duration::MAX),
    ]
}

/// A clock reading in milliseconds: any time lucia may meet, the year-9999 edges and beyond.
fn instant() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => 0i64..=4_102_444_800_000,
        1 => -FAR_FUTURE_MS..=FAR_FUTURE_MS,
        1 => (FAR_FUTURE_MS - 1000)..=(FAR_FUTURE_MS + 1000),
        1 => (1i64 << 60)..=(1i64 << 62),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// A new session's expiries are now + active period and that + idle period (saturating,
    /// never overflowing); validating it later keeps it while active, renews it from the time
    /// of validation while idle, and refuses it once the idle period has passed.
    #[test]
    fn expiries_follow_the_periods_and_renewal(
        active in period(),
        idle in period(),
        created in instant(),
        offset_kind in 0u8..4,
        fraction in 0.0f64..=1.0,
    ) {
        let periods = SessionExpiresIn { active_period: active, idle_period: idle };
        let Clocked { lucia, now, runtime } = clocked(periods);
        now.store(created, Ordering::SeqCst);
        let active_end = created.saturating_add(millis(active));
        let idle_end = active_end.saturating_add(millis(idle));

        let result: Result<(), TestCaseError> = runtime.block_on(async {
            let user = lucia.create_user(CreateUser::new(NoAttributes {})).await.unwrap();
            let new = lucia.create_session(CreateSession::new(user.user_id.clone(), NoAttributes {})).await.unwrap();
            prop_assert_eq!(new.session.active_period_expires_at, shown(active_end));
            prop_assert_eq!(new.session.idle_period_expires_at, shown(idle_end));
            prop_assert!(new.session.idle_period_expires_at >= new.session.active_period_expires_at);
            prop_assert_eq!(new.session.state, SessionState::Active);
            prop_assert!(new.session.fresh);

            // When to validate: at the creation, within the active period, within the idle
            // period, or past it.
            // (An empty idle period makes case 2 land past it.)
            let span = |from: i64, to: i64| {
                let to = to.max(from);
                from.saturating_add(((to as f64 - from as f64) * fraction) as i64).clamp(from, to)
            };
            let at = match offset_kind {
                0 => created,
                1 => span(created, active_end),
                2 => span(active_end.saturating_add(1), idle_end),
                _ => idle_end.saturating_add(1 + (fraction * 1e9) as i64),
            };
            now.store(at, Ordering::SeqCst);
            let token = new.token.expose_secret();
            let validated = lucia.validate_session(token).await;
            if at <= active_end {
                let session = validated.unwrap();
                prop_assert_eq!(session.state, SessionState::Active);
                prop_assert!(!session.fresh);
                prop_assert_eq!(session.active_period_expires_at, shown(active_end));
                prop_assert_eq!(session.idle_period_expires_at, shown(idle_end));
            } else if at <= idle_end {
                let session = validated.unwrap();
                let renewed_active = at.saturating_add(millis(active));
                prop_assert!(session.fresh, "an idle session is renewed");
                prop_assert_eq!(session.state, SessionState::Active);
                prop_assert_eq!(session.active_period_expires_at, shown(renewed_active));
                prop_assert_eq!(session.idle_period_expires_at, shown(renewed_active.saturating_add(millis(idle))));
                // The renewal was stored: the same session read again is active and unchanged.
                let again = lucia.get_session(token).await.unwrap();
                prop_assert_eq!(again.active_period_expires_at, session.active_period_expires_at);
                prop_assert_eq!(again.idle_period_expires_at, session.idle_period_expires_at);
                prop_assert!(!again.fresh);
            } else {
                prop_assert!(matches!(validated, Err(Error::InvalidSessionId)), "{:?}", validated.err());
                prop_assert!(matches!(lucia.get_session(token).await, Err(Error::InvalidSessionId)));
            }
            Ok(())
        });
        result?;
    }
}
