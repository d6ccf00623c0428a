//! Issue 10 on the memory store: the default hasher, the compat writer, the log of a failed
//! hash upgrade, and the timing of unknown keys against wrong passwords.

#[allow(unused_macros, unused_imports)] // only the test doubles are used here
mod behaviour;
mod logs;

use logs::Logs;

use std::time::{Duration, Instant};

use behaviour::Probe;
use lucia::memory::MemoryAdapter;
use lucia::{
    CreateUser, DatabaseKey, Error, HashingPriority, Lucia, LuciaScrypt, NewKey, NoAttributes, PasswordHasher,
};

const PASSWORD: &str = "correct horse battery staple";

async fn user_with_password<A: lucia::Adapter>(auth: &Lucia<A>, address: &str) -> String {
    let key = NewKey::password("email", address, PASSWORD);
    auth.create_user(CreateUser::new(NoAttributes {}).with_key(key)).await.unwrap().user_id
}

fn hash_of(adapter: &MemoryAdapter, key_id: &str) -> String {
    let keys = adapter.keys();
    let key = keys.iter().find(|k| k.id == key_id).expect("the key exists");
    key.hashed_password.clone().expect("the key has a password")
}

#[tokio::test]
async fn new_passwords_are_argon2id_by_default_and_s2_in_compat_mode() {
    let adapter = MemoryAdapter::new();
    let auth = Lucia::builder(adapter.clone()).build();
    user_with_password(&auth, "new@example.com").await;
    let hash = hash_of(&adapter, "email:new@example.com");
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");

    // A Lucia v2 application must read what the compat mode writes.
    let compat = Lucia::builder(adapter.clone()).lucia_v2_compat().build();
    user_with_password(&compat, "v2@example.com").await;
    let hash = hash_of(&adapter, "email:v2@example.com");
    assert!(hash.starts_with("s2:"), "{hash}");
    assert!(LuciaScrypt.verify(PASSWORD, &hash).unwrap());
    // And the compat mode does not upgrade s2 (its hasher is Lucia v2's), but reads Argon2id
    // only through a hasher that knows it: LuciaScrypt does not.
    compat.use_key("email", "v2@example.com", Some(PASSWORD)).await.unwrap();
    assert!(hash_of(&adapter, "email:v2@example.com").starts_with("s2:"));
    // The default configuration reads it and upgrades it.
    auth.use_key("email", "v2@example.com", Some(PASSWORD)).await.unwrap();
    assert!(hash_of(&adapter, "email:v2@example.com").starts_with("$argon2id$"));
}

#[tokio::test]
async fn a_failed_upgrade_is_logged_without_secrets_and_the_sign_in_goes_on() {
    let logs = Logs::install();
    let adapter = MemoryAdapter::new();
    let probe: Probe<MemoryAdapter> = Probe::new(adapter.clone());
    let auth = Lucia::builder(probe.clone()).build();
    let user = auth.create_user(CreateUser::new(NoAttributes {})).await.unwrap();
    let old = LuciaScrypt.hash(PASSWORD).unwrap();
    let row =
        DatabaseKey { id: "email:ada@example.com".into(), user_id: user.user_id, hashed_password: Some(old.clone()) };
    lucia_adapter_test::TestDatabase::insert_key(&adapter, &row).await;
    probe.fail("replace_key_password");
    auth.sign_in("email", "ada@example.com", Some(PASSWORD), NoAttributes {}).await.unwrap();
    assert_eq!(hash_of(&adapter, "email:ada@example.com"), old);
    let text = logs.text();
    assert!(text.contains("WARN") && text.contains("could not upgrade"), "{text}");
    assert!(text.contains("email:ada@example.com"), "the key is named: {text}");
    assert!(!text.contains(PASSWORD) && !text.contains(&old[3..]) && !text.contains("$argon2"), "{text}");
}

/// Issue 10: `use_key` on an unknown key costs what a known key with a wrong password costs,
/// whichever hasher is configured: the median times of the two, measured interleaved, are
/// within 20% of each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_keys_cost_what_wrong_passwords_cost() {
    // One hashing thread at normal priority: in the background (`SCHED_IDLE`) a hash waits
    // for every other test's threads, which would measure the machine's load, not the hash.
    // Without the sign-in throttle, which would refuse these 60 wrong passwords per key
    // before hashing (it throttles unknown and known keys alike).
    let builder = || {
        Lucia::builder(MemoryAdapter::new())
            .hashing_threads(1)
            .hashing_priority(HashingPriority::Normal)
            .without_sign_in_throttle()
    };
    let hashers: [(&str, Lucia<MemoryAdapter>); 2] =
        [("argon2id", builder().build()), ("s2", builder().password_hasher(LuciaScrypt).build())];
    for (name, auth) in hashers {
        user_with_password(&auth, "known@example.com").await;
        let time = |address: &'static str| {
            let auth = auth.clone();
            async move {
                let started = Instant::now();
                let outcome = auth.use_key("email", address, Some("wrong password")).await;
                let elapsed = started.elapsed();
                match (address, outcome) {
                    ("known@example.com", Err(Error::InvalidPassword)) => {}
                    ("unknown@example.com", Err(Error::InvalidKeyId)) => {}
                    (_, other) => panic!("{address}: {other:?}"),
                }
                elapsed
            }
        };
        // Warm up: the dummy hash is made on the first unknown key.
        time("unknown@example.com").await;
        time("known@example.com").await;
        let (mut unknown, mut known) = (Vec::new(), Vec::new());
        for i in 0..30 {
            // Interleaved, alternating which goes first, so drift hits both alike.
            if i % 2 == 0 {
                unknown.push(time("unknown@example.com").await);
                known.push(time("known@example.com").await);
            } else {
                known.push(time("known@example.com").await);
                unknown.push(time("unknown@example.com").await);
            }
        }
        let ratio = median(&mut unknown).as_secs_f64() / median(&mut known).as_secs_f64();
        eprintln!("{name}: unknown/known median ratio {ratio:.3}");
        assert!((0.8..=1.25).contains(&ratio), "{name}: unknown/known = {ratio:.3} ({unknown:?} vs {known:?})");
    }
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}
