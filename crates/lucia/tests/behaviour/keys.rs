//! Keys and passwords: checking, changing, upgrading, failing hashers.

use std::time::Duration;

use lucia::{
    Argon2id, CreateUser, DatabaseKey, Error, LuciaScrypt, MAX_PASSWORD_BYTES, NewKey, PasswordHasher, PasswordPolicy,
    PasswordRejection,
};
use lucia_adapter_test::TestDatabase;

use super::support::{BrokenHasher, CountingHasher, UpgradingHasher};
use super::{Ctx, Fixture, assert_err, email_key, new_session, new_user, new_user_with_password, token, user, xx};

pub async fn use_key_rejects_wrong_missing_and_extra_passwords<F: Fixture>(t: &Ctx<F>) {
    let id = new_user_with_password(&t.auth, "a", "secret").await;
    assert_err!(t.auth.use_key("email", "a@example.com", Some("Secret")).await, Error::InvalidPassword);
    assert_err!(t.auth.use_key("email", "a@example.com", None).await, Error::InvalidPassword);
    assert_err!(t.auth.use_key("email", "b@example.com", Some("secret")).await, Error::InvalidKeyId);
    assert_err!(t.auth.use_key("email", "b@example.com", None).await, Error::InvalidKeyId);
    assert_eq!(t.auth.use_key("email", "a@example.com", Some("secret")).await.unwrap().user_id, id);

    // A key without password (OAuth) takes no password.
    t.auth.create_key(&id, NewKey::passwordless("github", "42")).await.unwrap();
    let key = t.auth.use_key("github", "42", None).await.unwrap();
    assert!(!key.password_defined);
    assert_err!(t.auth.use_key("github", "42", Some("x")).await, Error::InvalidPassword);
    assert_err!(t.auth.sign_in("github", "42", Some("x"), xx()).await, Error::InvalidPassword);
    assert_eq!(t.db().sessions().await, vec![]);
}

pub async fn keys_create_get_list_update_delete<F: Fixture>(t: &Ctx<F>) {
    let id = new_user(&t.auth, "keys").await;
    let key = t.auth.create_key(&id, email_key("k@example.com", "one")).await.unwrap();
    assert_eq!(
        (key.provider_id.as_str(), key.provider_user_id.as_str(), key.user_id.as_str(), key.password_defined),
        ("email", "k@example.com", id.as_str(), true)
    );
    let duplicate = NewKey::passwordless("email", "k@example.com");
    assert_err!(t.auth.create_key(&id, duplicate).await, Error::DuplicateKeyId);
    assert_err!(t.auth.create_key(&id, NewKey::passwordless("e:mail", "x")).await, Error::InvalidProviderId);
    assert_eq!(t.db().keys().await.len(), 1);

    assert_eq!(t.auth.get_key("email", "k@example.com").await.unwrap(), key);
    assert_err!(t.auth.get_key("email", "nope@example.com").await, Error::InvalidKeyId);
    t.auth.create_key(&id, NewKey::passwordless("github", "7")).await.unwrap();
    assert_eq!(t.auth.get_all_user_keys(&id).await.unwrap().len(), 2);
    assert_err!(t.auth.get_all_user_keys("nobody").await, Error::InvalidUserId);

    let changed = t.auth.update_key_password("email", "k@example.com", Some("two")).await.unwrap();
    assert!(changed.password_defined);
    assert_err!(t.auth.use_key("email", "k@example.com", Some("one")).await, Error::InvalidPassword);
    t.auth.use_key("email", "k@example.com", Some("two")).await.unwrap();
    let cleared = t.auth.update_key_password("email", "k@example.com", None).await.unwrap();
    assert!(!cleared.password_defined);
    t.auth.use_key("email", "k@example.com", None).await.unwrap();
    assert_err!(t.auth.update_key_password("email", "nope@example.com", Some("x")).await, Error::InvalidKeyId);
    assert_err!(t.auth.change_password("email", "nope@example.com", "x").await, Error::InvalidKeyId);

    t.auth.delete_key("email", "k@example.com").await.unwrap();
    t.auth.delete_key("email", "k@example.com").await.unwrap();
    assert_err!(t.auth.get_key("email", "k@example.com").await, Error::InvalidKeyId);
    assert_err!(t.auth.delete_key("e:mail", "x").await, Error::InvalidProviderId);
    assert_eq!(t.db().keys().await.len(), 1);
}

pub async fn key_ids_are_case_sensitive_and_split_on_first_colon<F: Fixture>(t: &Ctx<F>) {
    let id = new_user(&t.auth, "colon").await;
    t.auth.create_key(&id, NewKey::passwordless("a", "x:y:z")).await.unwrap();
    assert_eq!(t.db().keys().await[0].id, "a:x:y:z");
    let read = t.auth.get_key("a", "x:y:z").await.unwrap();
    assert_eq!((read.provider_id.as_str(), read.provider_user_id.as_str()), ("a", "x:y:z"));
    t.auth.create_key(&id, NewKey::passwordless("email", "Alice@Example.com")).await.unwrap();
    assert_err!(t.auth.use_key("email", "alice@example.com", None).await, Error::InvalidKeyId);
    t.auth.create_key(&id, NewKey::passwordless("email", "alice@example.com")).await.unwrap();
    assert_eq!(t.db().keys().await.len(), 3);
}

pub async fn outdated_bcrypt_hash_is_outdated_password<F: Fixture>(t: &Ctx<F>) {
    let auth = t.builder(t.adapter()).password_hasher(lucia::LuciaScrypt).build();
    let id = new_user(&auth, "beta").await;
    let hash = "$2a$10$abcdefghijklmnopqrstuuu5C3kq0n6n2z8d1Q6Zq2yP4rK7G2v1xW".to_owned();
    let key = DatabaseKey { id: "email:beta@example.com".into(), user_id: id, hashed_password: Some(hash) };
    t.db().insert_key(&key).await;
    assert_err!(auth.use_key("email", "beta@example.com", Some("x")).await, Error::OutdatedPassword);
    assert_err!(auth.sign_in("email", "beta@example.com", Some("x"), xx()).await, Error::OutdatedPassword);
    assert_eq!(t.db().sessions().await, vec![], "no placeholder is left behind");
}

pub async fn custom_hasher_upgrades_outdated_hashes_on_sign_in<F: Fixture>(t: &Ctx<F>) {
    let auth = t.builder(t.adapter()).password_hasher(UpgradingHasher).build();
    let id = new_user(&auth, "upgrade").await;
    let key =
        DatabaseKey { id: "email:u@example.com".into(), user_id: id.clone(), hashed_password: Some("plain:pw".into()) };
    t.db().insert_key(&key).await;
    assert_err!(auth.use_key("email", "u@example.com", Some("wrong")).await, Error::InvalidPassword);
    assert_eq!(t.db().keys().await[0].hashed_password.as_deref(), Some("plain:pw"));
    auth.use_key("email", "u@example.com", Some("pw")).await.unwrap();
    assert_eq!(t.db().keys().await[0].hashed_password.as_deref(), Some("good:pw"));
    auth.use_key("email", "u@example.com", Some("pw")).await.unwrap();

    // sign_in upgrades too, and the upgrade does not count as a password change.
    let key = DatabaseKey { id: "email:v@example.com".into(), user_id: id, hashed_password: Some("plain:v".into()) };
    t.db().insert_key(&key).await;
    let signed_in = auth.sign_in("email", "v@example.com", Some("v"), xx()).await.unwrap();
    assert_eq!(t.db().keys().await[1].hashed_password.as_deref(), Some("good:v"));
    auth.validate_session(token(&signed_in)).await.unwrap();
}

/// The upgrade is a compare-and-set: a password change that lands between the check and the
/// upgrade stays, and the sign-in that checked the old password fails.
pub async fn hash_upgrade_does_not_undo_a_password_change<F: Fixture>(t: &Ctx<F>) {
    let plain = t.builder(t.adapter()).password_hasher(UpgradingHasher).build();
    let probe = t.probe();
    let auth = t.builder(probe.clone()).password_hasher(UpgradingHasher).build();
    let id = new_user(&plain, "cas").await;
    for (address, use_sign_in) in [("use@example.com", false), ("sign@example.com", true)] {
        let key_id = format!("email:{address}");
        let row = DatabaseKey { id: key_id.clone(), user_id: id.clone(), hashed_password: Some("plain:old".into()) };
        t.db().insert_key(&row).await;
        let changer = plain.clone();
        let address_owned = address.to_owned();
        probe.before_method("replace_key_password", move || async move {
            changer.change_password("email", &address_owned, "new").await.unwrap();
        });
        if use_sign_in {
            assert_err!(auth.sign_in("email", address, Some("old"), xx()).await, Error::InvalidPassword);
        } else {
            // The password was right when checked: use_key says so, and changes nothing.
            auth.use_key("email", address, Some("old")).await.unwrap();
        }
        probe.clear_hook();
        let stored = t.db().keys().await.into_iter().find(|k| k.id == key_id).unwrap();
        assert_eq!(stored.hashed_password.as_deref(), Some("good:new"), "the change stays");
        plain.use_key("email", address, Some("new")).await.unwrap();
        assert_err!(plain.use_key("email", address, Some("old")).await, Error::InvalidPassword);
    }
    assert_eq!(t.db().sessions().await, vec![]);
}

/// Two sign-ins with the right password and an outdated hash: the second one's upgrade loses
/// the compare-and-set to the first one's. The password did not change (only its hash), so
/// both sign-ins succeed.
pub async fn concurrent_hash_upgrades_do_not_fail_sign_in<F: Fixture>(t: &Ctx<F>) {
    let plain = t.builder(t.adapter()).password_hasher(UpgradingHasher).build();
    let probe = t.probe();
    let auth = t.builder(probe.clone()).password_hasher(UpgradingHasher).build();
    let id = new_user(&plain, "twice").await;
    let row =
        DatabaseKey { id: "email:twice@example.com".into(), user_id: id, hashed_password: Some("plain:pw".into()) };
    t.db().insert_key(&row).await;
    let other = plain.clone();
    probe.before_method("replace_key_password", move || async move {
        other.sign_in("email", "twice@example.com", Some("pw"), xx()).await.unwrap();
    });
    let outcome = auth.sign_in("email", "twice@example.com", Some("pw"), xx()).await;
    probe.clear_hook();
    assert_eq!(t.db().keys().await[0].hashed_password.as_deref(), Some("good:pw"));
    let created = outcome.unwrap_or_else(|e| panic!("a sign-in with the right password failed: {e:?}"));
    plain.validate_session(token(&created)).await.unwrap();
}

pub async fn change_password_sets_the_password_and_ends_every_session<F: Fixture>(t: &Ctx<F>) {
    let a = new_user_with_password(&t.auth, "a", "old").await;
    let b = new_user_with_password(&t.auth, "b", "other").await;
    let a1 = t.auth.sign_in("email", "a@example.com", Some("old"), xx()).await.unwrap();
    let a2 = new_session(&t.auth, &a).await;
    let b1 = new_session(&t.auth, &b).await;
    let key = t.auth.change_password("email", "a@example.com", "new").await.unwrap();
    assert_eq!((key.user_id.as_str(), key.password_defined), (a.as_str(), true));
    assert_err!(t.auth.use_key("email", "a@example.com", Some("old")).await, Error::InvalidPassword);
    t.auth.use_key("email", "a@example.com", Some("new")).await.unwrap();
    for ended in [&a1, &a2] {
        assert_err!(t.auth.validate_session(token(ended)).await, Error::InvalidSessionId);
    }
    assert_eq!(t.auth.validate_session(token(&b1)).await.unwrap().user.user_id, b);
    assert_eq!(t.sessions_of(&a).await, vec![]);
    t.auth.use_key("email", "b@example.com", Some("other")).await.unwrap();

    // A key without password gets one.
    t.auth.create_key(&b, NewKey::passwordless("github", "9")).await.unwrap();
    assert!(t.auth.change_password("github", "9", "now").await.unwrap().password_defined);
    assert_err!(t.auth.validate_session(token(&b1)).await, Error::InvalidSessionId);
    t.auth.use_key("github", "9", Some("now")).await.unwrap();
}

pub async fn update_key_password_keeps_sessions<F: Fixture>(t: &Ctx<F>) {
    // Lucia v2's updateKeyPassword: only the hash changes.
    let a = new_user_with_password(&t.auth, "a", "old").await;
    let session = new_session(&t.auth, &a).await;
    t.auth.update_key_password("email", "a@example.com", Some("new")).await.unwrap();
    t.auth.validate_session(token(&session)).await.unwrap();
    t.auth.use_key("email", "a@example.com", Some("new")).await.unwrap();
}

pub async fn hasher_failures_are_typed_errors_and_write_nothing<F: Fixture>(t: &Ctx<F>) {
    for panics in [false, true] {
        let auth = t.builder(t.adapter()).password_hasher(BrokenHasher { panics }).build();
        let options = CreateUser::new(user("h")).with_key(email_key("h@example.com", "pw"));
        assert_err!(auth.create_user(options).await, Error::PasswordHash(_));
        assert_eq!(t.db().users().await, vec![]);

        let id = new_user_with_password(&t.auth, &format!("hasher{panics}"), "pw").await;
        let address = format!("hasher{panics}@example.com");
        let keys = t.db().keys().await;
        assert_err!(auth.use_key("email", &address, Some("pw")).await, Error::PasswordHash(_));
        assert_err!(auth.use_key("email", "unknown@example.com", Some("pw")).await, Error::PasswordHash(_));
        assert_err!(auth.sign_in("email", &address, Some("pw"), xx()).await, Error::PasswordHash(_));
        assert_eq!(t.db().sessions().await, vec![], "no placeholder is left behind");
        assert_err!(auth.change_password("email", &address, "new").await, Error::PasswordHash(_));
        assert_err!(auth.update_key_password("email", &address, Some("new")).await, Error::PasswordHash(_));
        assert_err!(auth.create_key(&id, email_key("second@example.com", "pw")).await, Error::PasswordHash(_));
        assert_eq!(t.db().keys().await, keys);
        // Passwordless keys need no hasher.
        auth.create_key(&id, NewKey::passwordless("github", "1")).await.unwrap();
        auth.use_key("github", "1", None).await.unwrap();
        t.auth.delete_user(&id).await.unwrap();
    }
}

/// Issue 10: a Lucia v2 `s2:` hash (written by a Lucia configured with [`LuciaScrypt`], as a
/// Lucia v2 application would) is replaced by an Argon2id hash the first time the default
/// configuration signs its user in, through `use_key` and `sign_in` alike; the new hash
/// verifies, and is not replaced again.
pub async fn default_hasher_upgrades_lucia_v2_hashes_on_sign_in<F: Fixture>(t: &Ctx<F>) {
    let v2 = t.builder(t.adapter()).password_hasher(LuciaScrypt).build();
    let auth = t.builder(t.adapter()).password_hasher(Argon2id::default()).build();
    let password = "correct horse battery staple";
    let id = new_user_with_password(&v2, "upgrade", password).await;
    let address = "upgrade@example.com";
    let stored = |keys: Vec<DatabaseKey>, key_id: &str| {
        keys.into_iter().find(|k| k.id == key_id).and_then(|k| k.hashed_password).expect("the key has a hash")
    };
    let old = stored(t.db().keys().await, &format!("email:{address}"));
    assert!(old.starts_with("s2:"), "{old}");
    auth.use_key("email", address, Some(password)).await.unwrap();
    let fresh = stored(t.db().keys().await, &format!("email:{address}"));
    assert!(fresh.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{fresh}");
    assert!(Argon2id::default().verify(password, &fresh).unwrap());
    auth.use_key("email", address, Some(password)).await.unwrap();
    assert_eq!(stored(t.db().keys().await, &format!("email:{address}")), fresh, "upgraded once");

    // sign_in upgrades too, and its session lives: the upgrade is not a password change.
    let row = DatabaseKey {
        id: "email:second@example.com".into(),
        user_id: id,
        hashed_password: Some(LuciaScrypt.hash(password).unwrap()),
    };
    t.db().insert_key(&row).await;
    let signed_in = auth.sign_in("email", "second@example.com", Some(password), xx()).await.unwrap();
    let fresh = stored(t.db().keys().await, &row.id);
    assert!(fresh.starts_with("$argon2id$"), "{fresh}");
    assert!(Argon2id::default().verify(password, &fresh).unwrap());
    auth.validate_session(token(&signed_in)).await.unwrap();
    auth.use_key("email", "second@example.com", Some(password)).await.unwrap();
}

/// A wrong password never touches an outdated hash.
pub async fn wrong_password_leaves_an_outdated_hash_alone<F: Fixture>(t: &Ctx<F>) {
    let auth = t.builder(t.adapter()).password_hasher(Argon2id::default()).build();
    let id = new_user(&auth, "stays").await;
    let old = LuciaScrypt.hash("correct horse battery staple").unwrap();
    let row = DatabaseKey { id: "email:stays@example.com".into(), user_id: id, hashed_password: Some(old) };
    t.db().insert_key(&row).await;
    assert_err!(auth.use_key("email", "stays@example.com", Some("wrong horse")).await, Error::InvalidPassword);
    assert_err!(auth.sign_in("email", "stays@example.com", Some("wrong horse"), xx()).await, Error::InvalidPassword);
    assert_eq!(t.db().keys().await, vec![row]);
    assert_eq!(t.db().sessions().await, vec![]);
}

/// A failed upgrade (the store refuses the write) is logged and the sign-in goes on.
pub async fn failed_hash_upgrade_does_not_fail_sign_in<F: Fixture>(t: &Ctx<F>) {
    let probe = t.probe();
    let auth = t.builder(probe.clone()).password_hasher(UpgradingHasher).build();
    let id = new_user(&auth, "failing").await;
    let row = DatabaseKey { id: "email:f@example.com".into(), user_id: id, hashed_password: Some("plain:pw".into()) };
    t.db().insert_key(&row).await;
    probe.fail("replace_key_password");
    auth.use_key("email", "f@example.com", Some("pw")).await.unwrap();
    let signed_in = auth.sign_in("email", "f@example.com", Some("pw"), xx()).await.unwrap();
    probe.heal();
    auth.validate_session(token(&signed_in)).await.unwrap();
    assert_eq!(t.db().keys().await, vec![row], "the outdated hash stays");
    auth.use_key("email", "f@example.com", Some("pw")).await.unwrap();
    assert_eq!(t.db().keys().await[0].hashed_password.as_deref(), Some("good:pw"), "upgraded once the store heals");
}

/// Issue 10: the default policy (8 characters to 256 bytes) and an application check apply to
/// every new password, before hashing, and a refused password writes nothing. Passwords
/// already stored are not checked again.
pub async fn password_policy_applies_to_every_new_password<F: Fixture>(t: &Ctx<F>) {
    let hasher = CountingHasher::new(Duration::ZERO);
    let policy =
        PasswordPolicy::default().check(|p| if p.contains("breached") { Err("Breached.".into()) } else { Ok(()) });
    let auth = t.builder(t.adapter()).password_hasher(hasher.clone()).password_policy(policy).build();
    let options = CreateUser::new(user("policy")).with_key(email_key("p@example.com", "seven77"));
    assert_err!(auth.create_user(options).await, Error::PasswordRejected(PasswordRejection::TooShort { min: 8 }));
    let options = CreateUser::new(user("policy")).with_key(email_key("p@example.com", "breached password"));
    match auth.create_user(options).await {
        Err(Error::PasswordRejected(PasswordRejection::Refused(sentence))) => assert_eq!(sentence, "Breached."),
        other => panic!("expected the application's refusal, got {other:?}"),
    }
    let long = "x".repeat(257);
    let options = CreateUser::new(user("policy")).with_key(email_key("p@example.com", &long));
    assert_err!(auth.create_user(options).await, Error::PasswordRejected(PasswordRejection::TooLong { max: 256 }));
    assert_eq!(t.db().users().await, vec![]);
    assert_eq!(hasher.calls(), 0, "refused passwords are not hashed");

    // A short password stored before (by another configuration) still signs in.
    let id = new_user_with_password(&t.auth, "policy", "short").await;
    let keys = t.db().keys().await;
    t.auth.use_key("email", "policy@example.com", Some("short")).await.unwrap();
    let refused = [
        auth.create_key(&id, email_key("q@example.com", "seven77")).await,
        auth.update_key_password("email", "policy@example.com", Some("seven77")).await,
        auth.change_password("email", "policy@example.com", "seven77").await,
        auth.change_password("email", "policy@example.com", "still breached").await,
        auth.change_password("email", "policy@example.com", &long).await,
    ];
    for outcome in refused {
        assert_err!(outcome, Error::PasswordRejected(_));
    }
    assert_eq!(t.db().keys().await, keys, "nothing written");
    auth.change_password("email", "policy@example.com", "long enough now").await.unwrap();
    auth.use_key("email", "policy@example.com", Some("long enough now")).await.unwrap();
}

/// A password longer than `MAX_PASSWORD_BYTES` is refused before any hashing: a wrong
/// password for sign-ins (known key or not), too long for new passwords.
pub async fn oversized_passwords_are_refused_before_hashing<F: Fixture>(t: &Ctx<F>) {
    let hasher = CountingHasher::new(Duration::ZERO);
    let auth = t.builder(t.adapter()).password_hasher(hasher.clone()).build();
    let id = new_user_with_password(&auth, "huge", "pw").await;
    let calls = hasher.calls();
    let huge = "x".repeat(MAX_PASSWORD_BYTES + 1);
    for address in ["huge@example.com", "unknown@example.com"] {
        assert_err!(auth.use_key("email", address, Some(&huge)).await, Error::InvalidPassword);
        assert_err!(auth.sign_in("email", address, Some(&huge), xx()).await, Error::InvalidPassword);
    }
    assert_err!(auth.change_password("email", "huge@example.com", &huge).await, Error::PasswordRejected(_));
    assert_err!(auth.create_key(&id, email_key("h2@example.com", &huge)).await, Error::PasswordRejected(_));
    assert_eq!(hasher.calls(), calls, "nothing hashed");
    assert_eq!(t.db().sessions().await, vec![]);
    // At the limit, an ordinary wrong password.
    let at_limit = "x".repeat(MAX_PASSWORD_BYTES);
    assert_err!(auth.use_key("email", "huge@example.com", Some(&at_limit)).await, Error::InvalidPassword);
    assert_eq!(hasher.calls(), calls + 1);
}

/// Issue 10: with every hashing thread busy and the queue full, sign-ins and sign-ups fail at
/// once with `Busy`, hash nothing and write nothing.
pub async fn busy_hashing_is_a_typed_error_and_writes_nothing<F: Fixture>(t: &Ctx<F>) {
    let hasher = CountingHasher::new(Duration::from_millis(300));
    let auth = t.builder(t.adapter()).password_hasher(hasher.clone()).hashing_threads(1).hashing_queue(0).build();
    let id = new_user_with_password(&auth, "busy", "pw").await;
    let (users, keys) = (t.db().users().await, t.db().keys().await);
    let running = tokio::spawn({
        let auth = auth.clone();
        async move { auth.use_key("email", "busy@example.com", Some("pw")).await }
    });
    for _ in 0..10_000 {
        if hasher.running() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let calls = hasher.calls();
    assert_err!(auth.sign_in("email", "busy@example.com", Some("pw"), xx()).await, Error::Busy);
    assert_err!(auth.use_key("email", "unknown@example.com", Some("pw")).await, Error::Busy);
    let options = CreateUser::new(user("other")).with_key(email_key("o@example.com", "pw"));
    assert_err!(auth.create_user(options).await, Error::Busy);
    assert_err!(auth.change_password("email", "busy@example.com", "new").await, Error::Busy);
    assert_eq!(hasher.calls(), calls, "nothing hashed");
    assert_eq!((t.db().users().await, t.db().keys().await), (users, keys));
    assert_eq!(t.db().sessions().await, vec![], "no placeholder left behind");
    assert_eq!(running.await.unwrap().unwrap().user_id, id);
    auth.sign_in("email", "busy@example.com", Some("pw"), xx()).await.unwrap();
}
