//! The per-key sign-in throttle (on by default): free attempts, then waits that double, no
//! hashing and no lookup while throttled, unknown keys like known ones, success clears, and a
//! store that fails refuses the sign-in.

use std::time::{Duration, SystemTime};

use lucia::{AdapterError, Attempt, Backoff, Error, NewKey, ThrottleStore};
use lucia_adapter_test::TestDatabase;

use super::support::CountingHasher;
use super::{Ctx, Fixture, assert_err, new_user_with_password, xx};

const SECOND: Duration = Duration::from_secs(1);
const HALF: Duration = Duration::from_millis(500);
const TWO: Duration = Duration::from_secs(2);

pub async fn throttle_wrong_passwords_then_wait_without_hashing_or_lookup<F: Fixture>(t: &Ctx<F>) {
    let hasher = CountingHasher::default();
    let probe = t.probe();
    let auth = t.builder(probe.clone()).password_hasher(hasher.clone()).build();
    new_user_with_password(&auth, "a", "right").await;
    new_user_with_password(&auth, "b", "right").await;
    // Five free attempts, whether by use_key or sign_in.
    for _ in 0..3 {
        assert_err!(auth.use_key("email", "a@example.com", Some("wrong")).await, Error::InvalidPassword);
    }
    for _ in 0..2 {
        assert_err!(auth.sign_in("email", "a@example.com", Some("wrong"), xx()).await, Error::InvalidPassword);
    }
    let (hashes, calls) = (hasher.calls(), probe.calls());
    // Then a wait, even with the right password, and no work at all.
    assert_err!(auth.use_key("email", "a@example.com", Some("wrong")).await, Error::Throttled { retry_after: SECOND });
    assert_err!(auth.use_key("email", "a@example.com", Some("right")).await, Error::Throttled { retry_after: SECOND });
    assert_err!(
        auth.sign_in("email", "a@example.com", Some("right"), xx()).await,
        Error::Throttled { retry_after: SECOND }
    );
    assert_eq!((hasher.calls(), probe.calls()), (hashes, calls), "no hashing, no lookup while throttled");
    // Another account signs in normally meanwhile.
    auth.sign_in("email", "b@example.com", Some("right"), xx()).await.unwrap();
    // Half a second later, half a second is left; after it, one attempt, then 2 s.
    t.set_now(t.now() + 500);
    assert_err!(auth.use_key("email", "a@example.com", Some("right")).await, Error::Throttled { retry_after: HALF });
    t.set_now(t.now() + 500);
    assert_err!(auth.use_key("email", "a@example.com", Some("wrong")).await, Error::InvalidPassword);
    assert_err!(auth.use_key("email", "a@example.com", Some("right")).await, Error::Throttled { retry_after: TWO });
    t.set_now(t.now() + 2_000);
    // The right password goes through and clears the count: five free attempts again.
    auth.sign_in("email", "a@example.com", Some("right"), xx()).await.unwrap();
    for _ in 0..5 {
        assert_err!(auth.use_key("email", "a@example.com", Some("wrong")).await, Error::InvalidPassword);
    }
    assert_err!(auth.use_key("email", "a@example.com", Some("wrong")).await, Error::Throttled { .. });
    // The count is forgotten an hour after the last attempt.
    t.set_now(t.now() + 3_600_000);
    auth.use_key("email", "a@example.com", Some("right")).await.unwrap();
}

pub async fn throttle_unknown_keys_like_known_ones<F: Fixture>(t: &Ctx<F>) {
    new_user_with_password(&t.auth, "known", "right").await;
    let mut answers = Vec::new();
    for address in ["known@example.com", "unknown@example.com"] {
        let mut outcomes = Vec::new();
        for _ in 0..7 {
            let outcome = t.auth.use_key("email", address, Some("wrong")).await;
            outcomes.push(match outcome {
                Err(Error::InvalidPassword | Error::InvalidKeyId) => "refused".to_owned(),
                Err(Error::Throttled { retry_after }) => format!("throttled {retry_after:?}"),
                other => panic!("{other:?}"),
            });
        }
        answers.push(outcomes);
    }
    assert_eq!(answers[0], answers[1], "the throttle does not tell known keys from unknown ones");
    assert_eq!(answers[0][5], "throttled 1s");
}

/// A store whose comparison ignores trailing spaces (MariaDB's `utf8mb4_bin` is PAD SPACE)
/// finds `email:a@example.com` for `email:a@example.com  `; each such spelling has a
/// throttle record of its own, so it must not reach the key, or every added space would buy
/// an attacker five more free guesses on the account.
pub async fn throttle_is_not_sidestepped_by_ids_a_collation_equates<F: Fixture>(t: &Ctx<F>) {
    new_user_with_password(&t.auth, "padded", "right").await;
    for _ in 0..5 {
        assert_err!(t.auth.use_key("email", "padded@example.com", Some("wrong")).await, Error::InvalidPassword);
    }
    assert_err!(t.auth.use_key("email", "padded@example.com", Some("right")).await, Error::Throttled { .. });
    for spaces in 1..4 {
        let variant = format!("padded@example.com{}", " ".repeat(spaces));
        assert_err!(t.auth.use_key("email", &variant, Some("right")).await, Error::InvalidKeyId);
        assert_err!(t.auth.sign_in("email", &variant, Some("right"), xx()).await, Error::InvalidKeyId);
    }
}

/// A password tried on a key that has none (an OAuth or magic-link key) costs the same hash
/// as one tried on an unknown key, so response times do not reveal that the key exists.
pub async fn a_password_on_a_passwordless_key_costs_a_hash_like_an_unknown_key<F: Fixture>(t: &Ctx<F>) {
    let hasher = CountingHasher::default();
    let auth = t.builder(t.probe()).password_hasher(hasher.clone()).build();
    let id = new_user_with_password(&auth, "magic", "right").await;
    auth.create_key(&id, NewKey::passwordless("link", "magic@example.com")).await.unwrap();
    // Warm the dummy hash up (made once, on first use).
    assert_err!(auth.use_key("link", "nobody@example.com", Some("guess")).await, Error::InvalidKeyId);
    let before = hasher.calls();
    assert_err!(auth.use_key("link", "nobody2@example.com", Some("guess")).await, Error::InvalidKeyId);
    let unknown = hasher.calls() - before;
    let before = hasher.calls();
    assert_err!(auth.use_key("link", "magic@example.com", Some("guess")).await, Error::InvalidPassword);
    assert_err!(auth.sign_in("link", "magic@example.com", Some("guess"), xx()).await, Error::InvalidPassword);
    assert_eq!((unknown, hasher.calls() - before), (1, 2), "one hash per attempt, known key or not");
}

pub async fn throttle_skips_keys_without_password<F: Fixture>(t: &Ctx<F>) {
    let id = new_user_with_password(&t.auth, "oauth", "right").await;
    t.auth.create_key(&id, NewKey::passwordless("github", "42")).await.unwrap();
    for _ in 0..20 {
        t.auth.use_key("github", "42", None).await.unwrap();
    }
    t.auth.sign_in("github", "42", None, xx()).await.unwrap();
}

pub async fn throttle_holds_against_concurrent_guesses<F: Fixture>(t: &Ctx<F>) {
    new_user_with_password(&t.auth, "burst", "right").await;
    // All wrong: a right one among the first five would clear the count (by design) and
    // let more through, which made this test fail now and then under load.
    let guesses = (0..20).map(|_| {
        let auth = t.auth.clone();
        tokio::spawn(async move { auth.sign_in("email", "burst@example.com", Some("wrong"), xx()).await.map(drop) })
    });
    let mut throttled = 0;
    for guess in guesses.collect::<Vec<_>>() {
        match guess.await.unwrap() {
            Err(Error::Throttled { .. }) => throttled += 1,
            Err(Error::InvalidPassword) => {}
            other => panic!("{other:?}"),
        }
    }
    // Counted before the check: exactly the five free attempts were checked.
    assert_eq!(throttled, 15);
}

pub async fn throttle_is_cleared_by_a_password_change<F: Fixture>(t: &Ctx<F>) {
    new_user_with_password(&t.auth, "reset", "old").await;
    for _ in 0..5 {
        assert_err!(t.auth.use_key("email", "reset@example.com", Some("guess")).await, Error::InvalidPassword);
    }
    assert_err!(t.auth.use_key("email", "reset@example.com", Some("old")).await, Error::Throttled { .. });
    t.auth.change_password("email", "reset@example.com", "new").await.unwrap();
    t.auth.sign_in("email", "reset@example.com", Some("new"), xx()).await.unwrap();

    // So does setting it with update_key_password (an administrator's reset).
    for _ in 0..6 {
        let _ = t.auth.use_key("email", "reset@example.com", Some("guess")).await;
    }
    assert_err!(t.auth.use_key("email", "reset@example.com", Some("new")).await, Error::Throttled { .. });
    t.auth.update_key_password("email", "reset@example.com", Some("newer")).await.unwrap();
    t.auth.use_key("email", "reset@example.com", Some("newer")).await.unwrap();
}

pub async fn throttle_can_be_configured_or_turned_off<F: Fixture>(t: &Ctx<F>) {
    let strict = t.builder(t.adapter()).sign_in_backoff(Backoff::default().free_attempts(1)).build();
    new_user_with_password(&strict, "strict", "right").await;
    assert_err!(strict.use_key("email", "strict@example.com", Some("wrong")).await, Error::InvalidPassword);
    assert_err!(strict.use_key("email", "strict@example.com", Some("right")).await, Error::Throttled { .. });
    // Each Lucia has its own memory store by default.
    t.auth.use_key("email", "strict@example.com", Some("right")).await.unwrap();
    let off = t.builder(t.adapter()).without_sign_in_throttle().build();
    for _ in 0..20 {
        assert_err!(off.use_key("email", "strict@example.com", Some("wrong")).await, Error::InvalidPassword);
    }
    off.use_key("email", "strict@example.com", Some("right")).await.unwrap();
}

/// A store that fails every call.
struct FailingStore {
    unavailable: bool,
}

impl FailingStore {
    fn error(&self) -> AdapterError {
        if self.unavailable {
            AdapterError::unavailable("connection refused")
        } else {
            AdapterError::database("NOSCRIPT")
        }
    }
}

impl ThrottleStore for FailingStore {
    async fn attempt(&self, _: &str, _: &Backoff, _: SystemTime) -> Result<Attempt, AdapterError> {
        Err(self.error())
    }
    async fn succeeded(&self, _: &str) -> Result<(), AdapterError> {
        Err(self.error())
    }
}

pub async fn throttle_store_failures_refuse_the_sign_in<F: Fixture>(t: &Ctx<F>) {
    let hasher = CountingHasher::default();
    for unavailable in [true, false] {
        let auth = t
            .builder(t.adapter())
            .password_hasher(hasher.clone())
            .sign_in_throttle(FailingStore { unavailable })
            .build();
        if unavailable {
            new_user_with_password(&auth, "closed", "right").await;
        }
        let hashes = hasher.calls();
        let use_key = auth.use_key("email", "closed@example.com", Some("right")).await;
        let sign_in = auth.sign_in("email", "closed@example.com", Some("right"), xx()).await;
        if unavailable {
            assert_err!(use_key, Error::Unavailable(_));
            assert_err!(sign_in, Error::Unavailable(_));
        } else {
            assert_err!(use_key, Error::Database(_));
            assert_err!(sign_in, Error::Database(_));
        }
        assert_eq!(hasher.calls(), hashes, "fails closed, before hashing");
        assert_eq!(t.db().sessions().await, vec![]);
        // Keys without password do not need the store.
        assert_err!(auth.use_key("github", "none", None).await, Error::InvalidKeyId);
    }
}
