//! Cases for a [`PasskeyAdapter`]: passkeys and their ceremonies' challenges beside a full
//! [`Adapter`]. Expanded by [`passkey_adapter_tests!`](crate::passkey_adapter_tests).
//!
//! The store needs the suite's user and key tables, a passkey table:
//!
//! | column | type | |
//! |---|---|---|
//! | `id` | text | primary key (base64url credential id) |
//! | `user_id` | text | foreign key to the user if [`Capabilities::foreign_keys`](crate::Capabilities::foreign_keys) |
//! | `name` | text | |
//! | `credential` | text | |
//! | `counter` | 64-bit integer | 0 to 2³²−1 |
//! | `backup_eligible`, `backup_state` | boolean | |
//! | `created_at` | 64-bit integer | milliseconds |
//! | `last_used_at` | 64-bit integer, nullable | milliseconds |
//!
//! and a passkey challenge table (`id` text primary key, `user_id` nullable text, `state` text,
//! `expires` 64-bit integer).

use std::sync::Arc;

use lucia::{
    Adapter, AdapterError, DatabasePasskey, DatabaseUser, PasskeyAdapter, PasskeyChallenge, PasskeyUse,
    SignInMethodDeletion, UserAdapter,
};

use crate::{Fixture, TestDatabase, assert_err, generate_key, generate_user, now_ms, race};

/// A passkey of `user_id` with a random credential id, counter 0, never used.
pub fn generate_passkey(user_id: &str) -> DatabasePasskey {
    DatabasePasskey {
        id: lucia::generate_random_string(22),
        user_id: user_id.to_owned(),
        name: "Laptop".into(),
        credential: format!(r#"{{"cred_id":"{}"}}"#, lucia::generate_random_string(8)),
        counter: 0,
        backup_eligible: true,
        backup_state: false,
        created_at: now_ms(),
        last_used_at: None,
    }
}

/// A challenge of `user_id` (or of nobody), live for five minutes, with an id shaped like the
/// hashes `lucia-passkey` stores.
pub fn generate_challenge(user_id: Option<&str>) -> PasskeyChallenge {
    PasskeyChallenge {
        id: lucia::SessionTokens::Hashed.stored_id(&lucia::generate_random_string(40)),
        user_id: user_id.map(str::to_owned),
        state: r#"{"state":"opaque"}"#.into(),
        expires: now_ms() + 5 * 60 * 1000,
    }
}

fn use_with(counter: u32, at: i64) -> PasskeyUse {
    PasskeyUse { credential: format!(r#"{{"counter":{counter}}}"#), counter, backup_state: true, used_at: at }
}

async fn user_in<F: Fixture>(t: &F) -> DatabaseUser {
    let user = generate_user();
    t.database().insert_user(&user).await;
    user
}

/// A passkey round-trips whole, with every field at its edge; a user's passkeys are listed
/// oldest first.
pub async fn insert_passkey_round_trips<F: Fixture<Adapter: Adapter + PasskeyAdapter>>(t: Arc<F>) {
    let adapter = t.adapter();
    let user = user_in(&*t).await;
    let mut older = generate_passkey(&user.id);
    older.id = "A-_z09".repeat(40);
    older.name = "Ada's phone 📱".into();
    older.credential = format!(r#"{{"key":"{}"}}"#, "x".repeat(2000));
    older.counter = u32::MAX;
    older.backup_eligible = false;
    older.backup_state = true;
    older.created_at = 1_000;
    older.last_used_at = Some(i64::MAX / 2);
    let newer = generate_passkey(&user.id);
    adapter.insert_passkey(newer.clone()).await.unwrap();
    adapter.insert_passkey(older.clone()).await.unwrap();
    assert_eq!(adapter.get_passkey(&older.id).await.unwrap(), Some(older.clone()));
    assert_eq!(adapter.get_user_passkeys(&user.id).await.unwrap(), vec![older, newer]);
}

/// Unknown ids and users without passkeys read as `None` or empty; ids are case-sensitive.
pub async fn get_passkey_returns_none_for_unknown<F: Fixture<Adapter: Adapter + PasskeyAdapter>>(t: Arc<F>) {
    let adapter = t.adapter();
    let user = user_in(&*t).await;
    let mut passkey = generate_passkey(&user.id);
    passkey.id = "abcDEF".into();
    adapter.insert_passkey(passkey).await.unwrap();
    assert_eq!(adapter.get_passkey("ABCdef").await.unwrap(), None);
    assert_eq!(adapter.get_passkey("nothing").await.unwrap(), None);
    assert!(adapter.get_user_passkeys("nobody").await.unwrap().is_empty());
}

/// A taken credential id is `DuplicateKeyId`, even for another user, and changes nothing.
pub async fn insert_passkey_with_taken_id<F: Fixture<Adapter: Adapter + PasskeyAdapter>>(t: Arc<F>) {
    let adapter = t.adapter();
    let (ada, bob) = (user_in(&*t).await, user_in(&*t).await);
    let passkey = generate_passkey(&ada.id);
    adapter.insert_passkey(passkey.clone()).await.unwrap();
    let stolen = DatabasePasskey { id: passkey.id.clone(), ..generate_passkey(&bob.id) };
    assert_err!(adapter.insert_passkey(stolen).await, AdapterError::DuplicateKeyId);
    assert_eq!(adapter.get_passkey(&passkey.id).await.unwrap(), Some(passkey));
    assert!(adapter.get_user_passkeys(&bob.id).await.unwrap().is_empty());
}

/// A passkey of an unknown user is `InvalidUserId` where the store has foreign keys.
pub async fn insert_passkey_of_unknown_user<F: Fixture<Adapter: Adapter + PasskeyAdapter>>(t: Arc<F>) {
    let passkey = generate_passkey("nobody");
    let result = t.adapter().insert_passkey(passkey.clone()).await;
    if t.capabilities().foreign_keys {
        assert_err!(result, AdapterError::InvalidUserId);
        assert_eq!(t.adapter().get_passkey(&passkey.id).await.unwrap(), None);
    } else {
        result.unwrap();
    }
}

/// A use is recorded only if the counter goes up (or stays at 0 with a stored 0): a counter
/// that stays or goes back (a cloned credential) changes nothing.
pub async fn record_passkey_use_refuses_a_counter_that_does_not_advance<
    F: Fixture<Adapter: Adapter + PasskeyAdapter>,
>(
    t: Arc<F>,
) {
    let adapter = t.adapter();
    let user = user_in(&*t).await;
    let passkey = generate_passkey(&user.id);
    adapter.insert_passkey(passkey.clone()).await.unwrap();

    // No counter at all: 0 after 0 is accepted each time.
    assert!(adapter.record_passkey_use(&passkey.id, use_with(0, 10)).await.unwrap());
    assert!(adapter.record_passkey_use(&passkey.id, use_with(0, 11)).await.unwrap());
    assert!(adapter.record_passkey_use(&passkey.id, use_with(5, 12)).await.unwrap());
    let stored = adapter.get_passkey(&passkey.id).await.unwrap().unwrap();
    let expected = DatabasePasskey {
        credential: use_with(5, 12).credential,
        counter: 5,
        backup_state: true,
        last_used_at: Some(12),
        ..passkey.clone()
    };
    assert_eq!(stored, expected);

    for (counter, at) in [(5, 13), (4, 14), (0, 15)] {
        assert!(!adapter.record_passkey_use(&passkey.id, use_with(counter, at)).await.unwrap(), "counter {counter}");
    }
    assert_eq!(adapter.get_passkey(&passkey.id).await.unwrap(), Some(expected));
    assert!(adapter.record_passkey_use(&passkey.id, use_with(u32::MAX, 16)).await.unwrap());
    assert_eq!(adapter.get_passkey(&passkey.id).await.unwrap().unwrap().counter, u32::MAX);
    assert!(!adapter.record_passkey_use("nothing", use_with(1, 17)).await.unwrap());
}

/// Of concurrent uses with one counter value, exactly one is recorded.
pub async fn concurrent_uses_with_one_counter_have_one_winner<F: Fixture<Adapter: Adapter + PasskeyAdapter>>(
    t: Arc<F>,
) {
    let user = user_in(&*t).await;
    let passkey = generate_passkey(&user.id);
    t.adapter().insert_passkey(passkey.clone()).await.unwrap();
    let outcomes = race(&t, 8, |t, i| {
        let id = passkey.id.clone();
        async move { t.adapter().record_passkey_use(&id, use_with(7, i as i64)).await.unwrap() }
    })
    .await;
    assert_eq!(outcomes.iter().filter(|won| **won).count(), 1, "{outcomes:?}");
}

/// A rename changes the name of the user's own passkey only.
pub async fn rename_passkey_renames_only_the_owners<F: Fixture<Adapter: Adapter + PasskeyAdapter>>(t: Arc<F>) {
    let adapter = t.adapter();
    let (ada, bob) = (user_in(&*t).await, user_in(&*t).await);
    let passkey = generate_passkey(&ada.id);
    adapter.insert_passkey(passkey.clone()).await.unwrap();
    assert!(!adapter.rename_passkey(&bob.id, &passkey.id, "Bob's now").await.unwrap());
    assert!(!adapter.rename_passkey(&ada.id, "nothing", "Phone").await.unwrap());
    assert_eq!(adapter.get_passkey(&passkey.id).await.unwrap().unwrap().name, "Laptop");
    assert!(adapter.rename_passkey(&ada.id, &passkey.id, "Phone").await.unwrap());
    assert_eq!(adapter.get_passkey(&passkey.id).await.unwrap().unwrap().name, "Phone");
}

/// A passkey is deleted only by its owner, and never when it is the owner's last way to sign
/// in: a key or another passkey must remain.
pub async fn delete_passkey_keeps_the_last_sign_in_method<F: Fixture<Adapter: Adapter + PasskeyAdapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let (ada, bob) = (user_in(&*t).await, user_in(&*t).await);
    let (first, second) = (generate_passkey(&ada.id), generate_passkey(&ada.id));
    adapter.insert_passkey(first.clone()).await.unwrap();
    assert_eq!(adapter.delete_passkey(&ada.id, &first.id, &[]).await.unwrap(), SignInMethodDeletion::LastSignInMethod);
    adapter.insert_passkey(second.clone()).await.unwrap();
    assert_eq!(adapter.delete_passkey(&bob.id, &first.id, &[]).await.unwrap(), SignInMethodDeletion::NotFound);
    assert_eq!(adapter.delete_passkey(&ada.id, "nothing", &[]).await.unwrap(), SignInMethodDeletion::NotFound);
    assert_eq!(adapter.delete_passkey(&ada.id, &first.id, &[]).await.unwrap(), SignInMethodDeletion::Deleted);
    assert_eq!(adapter.get_passkey(&first.id).await.unwrap(), None);
    assert_eq!(adapter.delete_passkey(&ada.id, &second.id, &[]).await.unwrap(), SignInMethodDeletion::LastSignInMethod);
    assert_eq!(adapter.delete_passkey(&ada.id, &first.id, &[]).await.unwrap(), SignInMethodDeletion::NotFound);

    // A key (a password, or any other) is a way to sign in too, unless its provider is one
    // the caller says signs no one in (an `email` key that only finds the user).
    let key = generate_key(Some(&ada.id));
    db.insert_key(&key).await;
    let provider = key.id.split_once(':').map_or(key.id.as_str(), |(provider, _)| provider);
    let uncounted = adapter.delete_passkey(&ada.id, &second.id, &[provider]).await.unwrap();
    assert_eq!(uncounted, SignInMethodDeletion::LastSignInMethod);
    assert_eq!(adapter.delete_passkey(&ada.id, &second.id, &[]).await.unwrap(), SignInMethodDeletion::Deleted);
    assert!(adapter.get_user_passkeys(&ada.id).await.unwrap().is_empty());
}

/// Of concurrent deletions of all a user's passkeys (and no key), all but one succeed: one
/// passkey is left.
pub async fn concurrent_deletions_keep_one_sign_in_method<F: Fixture<Adapter: Adapter + PasskeyAdapter>>(t: Arc<F>) {
    let user = user_in(&*t).await;
    let passkeys: Vec<_> = (0..6).map(|_| generate_passkey(&user.id)).collect();
    for passkey in &passkeys {
        t.adapter().insert_passkey(passkey.clone()).await.unwrap();
    }
    let outcomes = race(&t, passkeys.len(), |t, i| {
        let (user_id, id) = (user.id.clone(), passkeys[i].id.clone());
        async move { t.adapter().delete_passkey(&user_id, &id, &[]).await.unwrap() }
    })
    .await;
    let deleted = outcomes.iter().filter(|outcome| **outcome == SignInMethodDeletion::Deleted).count();
    assert_eq!(deleted, passkeys.len() - 1, "{outcomes:?}");
    assert_eq!(t.adapter().get_user_passkeys(&user.id).await.unwrap().len(), 1);
}

/// A key's deletion racing a passkey's deletion, for a user with one of each, acts as if one
/// ran after the other, round after round: either the key went first and the passkey, then the
/// user's last way to sign in, was kept; or the passkey went first (the key still there) and
/// the key after it; never an error. (The second order leaves the user with no way to sign
/// in, as the same two calls one after the other do: `delete_key` deletes even the last key,
/// as in Lucia v2.)
pub async fn delete_key_racing_delete_passkey_acts_in_one_order<F: Fixture<Adapter: Adapter + PasskeyAdapter>>(
    t: Arc<F>,
) {
    for round in 0..30 {
        let user = user_in(&*t).await;
        let key = generate_key(Some(&user.id));
        t.database().insert_key(&key).await;
        let passkey = generate_passkey(&user.id);
        t.adapter().insert_passkey(passkey.clone()).await.unwrap();
        let outcomes = race(&t, 2, |t, i| {
            let (user_id, key_id, passkey_id) = (user.id.clone(), key.id.clone(), passkey.id.clone());
            async move {
                if i == 0 {
                    t.adapter().delete_key(&key_id).await.unwrap();
                    None
                } else {
                    Some(t.adapter().delete_passkey(&user_id, &passkey_id, &[]).await.unwrap())
                }
            }
        })
        .await;
        assert_eq!(t.adapter().get_keys_by_user_id(&user.id).await.unwrap(), [], "round {round}");
        let passkeys = t.adapter().get_user_passkeys(&user.id).await.unwrap();
        match outcomes[1] {
            Some(SignInMethodDeletion::LastSignInMethod) => assert_eq!(passkeys, [passkey], "round {round}"),
            Some(SignInMethodDeletion::Deleted) => assert_eq!(passkeys, [], "round {round}"),
            other => panic!("round {round}: {other:?}"),
        }
    }
}

/// Passkeys are ways to sign in for `delete_key_unless_last` too: a key goes while a passkey
/// remains, the passkey goes while a key remains, and the last key stays. A passkey of another
/// user does not keep a user's last key.
pub async fn delete_key_unless_last_counts_passkeys<F: Fixture<Adapter: Adapter + PasskeyAdapter>>(t: Arc<F>) {
    use SignInMethodDeletion::{Deleted, LastSignInMethod};
    let (adapter, db) = (t.adapter(), t.database());
    let (ada, bob) = (user_in(&*t).await, user_in(&*t).await);
    let (first, second, bob_key) =
        (generate_key(Some(&ada.id)), generate_key(Some(&ada.id)), generate_key(Some(&bob.id)));
    db.insert_key(&first).await;
    db.insert_key(&bob_key).await;
    let passkey = generate_passkey(&ada.id);
    adapter.insert_passkey(passkey.clone()).await.unwrap();
    assert_eq!(adapter.delete_key_unless_last(&bob.id, &bob_key.id, &[]).await.unwrap(), LastSignInMethod);
    assert_eq!(adapter.delete_key_unless_last(&ada.id, &first.id, &[]).await.unwrap(), Deleted);
    db.insert_key(&second).await;
    assert_eq!(adapter.delete_passkey(&ada.id, &passkey.id, &[]).await.unwrap(), Deleted);
    assert_eq!(adapter.delete_key_unless_last(&ada.id, &second.id, &[]).await.unwrap(), LastSignInMethod);
    assert_eq!(adapter.get_keys_by_user_id(&ada.id).await.unwrap(), [second]);
    assert_eq!(adapter.get_keys_by_user_id(&bob.id).await.unwrap(), [bob_key]);
}

/// `delete_key_unless_last` racing `delete_passkey`, for a user with one key and one passkey,
/// round after round: one of them deletes, the other is refused as the last way to sign in,
/// and the user keeps one.
pub async fn delete_key_unless_last_racing_delete_passkey_keeps_one<F: Fixture<Adapter: Adapter + PasskeyAdapter>>(
    t: Arc<F>,
) {
    for round in 0..30 {
        let user = user_in(&*t).await;
        let key = generate_key(Some(&user.id));
        t.database().insert_key(&key).await;
        let passkey = generate_passkey(&user.id);
        t.adapter().insert_passkey(passkey.clone()).await.unwrap();
        let outcomes = race(&t, 2, |t, i| {
            let (user_id, key_id, passkey_id) = (user.id.clone(), key.id.clone(), passkey.id.clone());
            async move {
                if i == 0 {
                    t.adapter().delete_key_unless_last(&user_id, &key_id, &[]).await.unwrap()
                } else {
                    t.adapter().delete_passkey(&user_id, &passkey_id, &[]).await.unwrap()
                }
            }
        })
        .await;
        let keys = t.adapter().get_keys_by_user_id(&user.id).await.unwrap();
        let passkeys = t.adapter().get_user_passkeys(&user.id).await.unwrap();
        assert_eq!(keys.len() + passkeys.len(), 1, "round {round}: {outcomes:?}");
        assert!(outcomes.contains(&SignInMethodDeletion::Deleted), "round {round}: {outcomes:?}");
        assert!(outcomes.contains(&SignInMethodDeletion::LastSignInMethod), "round {round}: {outcomes:?}");
    }
}

/// Deleting a user (with its keys) deletes its passkeys, and only its own.
pub async fn deleting_a_user_deletes_its_passkeys<F: Fixture<Adapter: Adapter + PasskeyAdapter>>(t: Arc<F>) {
    let adapter = t.adapter();
    let (ada, bob) = (user_in(&*t).await, user_in(&*t).await);
    let (ada_passkey, bob_passkey) = (generate_passkey(&ada.id), generate_passkey(&bob.id));
    adapter.insert_passkey(ada_passkey.clone()).await.unwrap();
    adapter.insert_passkey(bob_passkey.clone()).await.unwrap();
    adapter.delete_user_cascade(&ada.id).await.unwrap();
    assert_eq!(adapter.get_passkey(&ada_passkey.id).await.unwrap(), None);
    assert_eq!(adapter.get_passkey(&bob_passkey.id).await.unwrap(), Some(bob_passkey));
    assert_eq!(adapter.get_user(&ada.id).await.unwrap(), None);
}

/// A challenge is returned whole once, then never again.
pub async fn take_passkey_challenge_is_single_use<F: Fixture<Adapter: Adapter + PasskeyAdapter>>(t: Arc<F>) {
    let adapter = t.adapter();
    let user = user_in(&*t).await;
    let mut with_user = generate_challenge(Some(&user.id));
    with_user.state = format!(r#"{{"rs":"{}"}}"#, "s".repeat(4000));
    let without_user = generate_challenge(None);
    adapter.insert_passkey_challenge(with_user.clone()).await.unwrap();
    adapter.insert_passkey_challenge(without_user.clone()).await.unwrap();
    assert_eq!(adapter.take_passkey_challenge(&with_user.id).await.unwrap(), Some(with_user.clone()));
    assert_eq!(adapter.take_passkey_challenge(&with_user.id).await.unwrap(), None);
    assert_eq!(adapter.take_passkey_challenge(&without_user.id.to_uppercase()).await.unwrap(), None);
    assert_eq!(adapter.take_passkey_challenge(&without_user.id).await.unwrap(), Some(without_user));
}

/// Of concurrent takes of one challenge, exactly one gets it.
pub async fn concurrent_takes_of_a_challenge_have_one_winner<F: Fixture<Adapter: Adapter + PasskeyAdapter>>(t: Arc<F>) {
    let challenge = generate_challenge(None);
    t.adapter().insert_passkey_challenge(challenge.clone()).await.unwrap();
    let outcomes = race(&t, 8, |t, _| {
        let id = challenge.id.clone();
        async move { t.adapter().take_passkey_challenge(&id).await.unwrap() }
    })
    .await;
    assert_eq!(outcomes.iter().filter(|taken| taken.is_some()).count(), 1);
}

/// The sweep deletes challenges that expired before `now`, and keeps the rest (one expiring at
/// `now` included).
pub async fn delete_expired_passkey_challenges_keeps_live_and_boundary<
    F: Fixture<Adapter: Adapter + PasskeyAdapter>,
>(
    t: Arc<F>,
) {
    let adapter = t.adapter();
    let now = now_ms();
    let (expired, boundary, live) = (generate_challenge(None), generate_challenge(None), generate_challenge(None));
    for (challenge, expires) in [(&expired, now - 1), (&boundary, now), (&live, now + 1000)] {
        adapter.insert_passkey_challenge(PasskeyChallenge { expires, ..challenge.clone() }).await.unwrap();
    }
    assert_eq!(adapter.delete_expired_passkey_challenges(now).await.unwrap(), 1);
    assert_eq!(adapter.take_passkey_challenge(&expired.id).await.unwrap(), None);
    assert!(adapter.take_passkey_challenge(&boundary.id).await.unwrap().is_some());
    assert!(adapter.take_passkey_challenge(&live.id).await.unwrap().is_some());
}
