//! `RedisThrottleStore` against the real servers (`LUCIA_TEST_REDIS_URL`,
//! `LUCIA_TEST_REDIS_CLUSTER_URLS`): the backoff on the server's clock, atomic under
//! concurrency, one expiring key per account, and shared by two `Lucia` instances.
//!
//! Each case runs on a single server (`throttle_single::<case>`) and on the cluster
//! (`throttle_cluster::<case>`), on a fresh key prefix whose keys are deleted afterwards, also
//! when the case fails.

mod common;

use std::panic::AssertUnwindSafe;
use std::time::{Duration, SystemTime};

use common::{Deployment, RedisFixture};
use futures_util::FutureExt;
use futures_util::future::join_all;
use lucia::memory::MemoryAdapter;
use lucia::{Attempt, Backoff, CreateUser, Error, Lucia, NewKey, ThrottleStore};
use lucia_adapter_redis::RedisThrottleStore;

async fn run(deployment: Deployment, body: impl AsyncFnOnce(&RedisFixture, RedisThrottleStore)) {
    let Some(fixture) = RedisFixture::new(deployment).await else { return };
    let store = fixture.adapter.throttle_store();
    let outcome = AssertUnwindSafe(body(&fixture, store)).catch_unwind().await;
    fixture.raw.delete_all();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

macro_rules! on_both_deployments {
    ($($case:ident),* $(,)?) => {
        mod throttle_single {$(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                crate::run(crate::Deployment::Single, super::$case).await
            }
        )*}
        mod throttle_cluster {$(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                crate::run(crate::Deployment::Cluster, super::$case).await
            }
        )*}
    };
}

on_both_deployments!(
    free_attempts_then_doubling_waits_and_success_clears,
    concurrent_attempts_on_a_fresh_key_let_exactly_the_free_ones_through,
    one_expiring_key_per_account,
    two_instances_share_the_count,
);

/// Far in the past and the future: the store must use the server's clock, not this.
fn skewed_clock() -> SystemTime {
    SystemTime::UNIX_EPOCH
}

fn throttled(attempt: Attempt) -> Duration {
    match attempt {
        Attempt::Throttled { retry_after } => retry_after,
        Attempt::Allowed => panic!("expected throttled, got allowed"),
    }
}

async fn free_attempts_then_doubling_waits_and_success_clears(_: &RedisFixture, store: RedisThrottleStore) {
    let backoff = Backoff::default().free_attempts(2).base_delay(Duration::from_millis(300));
    for _ in 0..2 {
        assert_eq!(store.attempt("email:a", &backoff, skewed_clock()).await.unwrap(), Attempt::Allowed);
    }
    let wait = throttled(store.attempt("email:a", &backoff, skewed_clock()).await.unwrap());
    assert!(wait <= Duration::from_millis(300) && wait > Duration::from_millis(200), "{wait:?}");
    // Another key is not affected.
    assert_eq!(store.attempt("email:b", &backoff, skewed_clock()).await.unwrap(), Attempt::Allowed);
    tokio::time::sleep(wait + Duration::from_millis(20)).await;
    assert_eq!(store.attempt("email:a", &backoff, skewed_clock()).await.unwrap(), Attempt::Allowed);
    let wait = throttled(store.attempt("email:a", &backoff, skewed_clock()).await.unwrap());
    assert!(wait <= Duration::from_millis(600) && wait > Duration::from_millis(500), "doubled: {wait:?}");
    store.succeeded("email:a").await.unwrap();
    for _ in 0..2 {
        assert_eq!(store.attempt("email:a", &backoff, skewed_clock()).await.unwrap(), Attempt::Allowed);
    }
    // The cap holds.
    let capped =
        Backoff::default().free_attempts(1).base_delay(Duration::from_secs(3600)).max_delay(Duration::from_secs(5));
    store.attempt("email:c", &capped, skewed_clock()).await.unwrap();
    let wait = throttled(store.attempt("email:c", &capped, skewed_clock()).await.unwrap());
    assert!(wait <= Duration::from_secs(5) && wait > Duration::from_secs(4), "{wait:?}");
}

async fn concurrent_attempts_on_a_fresh_key_let_exactly_the_free_ones_through(
    _: &RedisFixture,
    store: RedisThrottleStore,
) {
    let backoff = Backoff::default();
    for round in 0..3 {
        let key = format!("email:burst{round}");
        let attempts = (0..20).map(|_| {
            let (store, key) = (store.clone(), key.clone());
            async move { store.attempt(&key, &backoff, SystemTime::now()).await.unwrap() }
        });
        let outcomes = join_all(attempts).await;
        let allowed = outcomes.iter().filter(|outcome| **outcome == Attempt::Allowed).count();
        assert_eq!(allowed, 5, "round {round}: {outcomes:?}");
    }
}

async fn one_expiring_key_per_account(fixture: &RedisFixture, store: RedisThrottleStore) {
    let backoff = Backoff::default().forget_after(Duration::from_secs(600));
    store.attempt("email:Odd{Key}%", &backoff, SystemTime::now()).await.unwrap();
    let key = format!("{}:throttle:email:Odd%7BKey%7D%25", fixture.raw.prefix);
    assert_eq!(fixture.raw.keys(":*"), vec![key.clone()], "one key, the id encoded");
    let ttl: i64 = fixture.raw.query(redis::cmd("PTTL").arg(&key));
    assert!(ttl > 590_000 && ttl <= 600_000, "expires forget_after after the attempt: {ttl}");
    let attempts: String = fixture.raw.query(redis::cmd("HGET").arg(&key).arg("attempts"));
    assert_eq!(attempts, "1");
    // A record is never forgotten before its wait is over.
    let long =
        Backoff::default().free_attempts(1).base_delay(Duration::from_secs(7200)).max_delay(Duration::from_secs(7200));
    store.attempt("email:long", &long, SystemTime::now()).await.unwrap();
    let ttl: i64 = fixture.raw.query(redis::cmd("PTTL").arg(format!("{}:throttle:email:long", fixture.raw.prefix)));
    assert!(ttl > 7_190_000, "{ttl}");
    store.succeeded("email:Odd{Key}%").await.unwrap();
    store.succeeded("email:long").await.unwrap();
    assert_eq!(fixture.raw.keys(":*"), Vec::<String>::new(), "success deletes the record");
}

async fn two_instances_share_the_count(_: &RedisFixture, store: RedisThrottleStore) {
    let users = MemoryAdapter::new();
    let first = Lucia::builder(users.clone()).sign_in_throttle(store.clone()).build();
    let second = Lucia::builder(users).sign_in_throttle(store).build();
    let key = NewKey::password("email", "ada@example.com", "correct horse");
    first.create_user(CreateUser::new(Default::default()).with_key(key)).await.unwrap();
    for i in 0..5 {
        let auth = if i % 2 == 0 { &first } else { &second };
        let outcome = auth.use_key("email", "ada@example.com", Some("wrong")).await;
        assert!(matches!(outcome, Err(Error::InvalidPassword)), "{outcome:?}");
    }
    for auth in [&first, &second] {
        let outcome = auth.sign_in("email", "ada@example.com", Some("correct horse"), Default::default()).await;
        assert!(matches!(outcome, Err(Error::Throttled { .. })), "{:?}", outcome.map(drop));
    }
    tokio::time::sleep(Duration::from_millis(1_050)).await;
    second.sign_in("email", "ada@example.com", Some("correct horse"), Default::default()).await.unwrap();
    // Cleared for both.
    first.use_key("email", "ada@example.com", Some("correct horse")).await.unwrap();
}
