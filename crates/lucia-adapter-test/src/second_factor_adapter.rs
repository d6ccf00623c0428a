//! Cases for a [`SecondFactorAdapter`]: TOTP rows and recovery codes beside a full
//! [`Adapter`] with tokens. Expanded by
//! [`second_factor_adapter_tests!`](crate::second_factor_adapter_tests).
//!
//! The store needs the suite's user table, a token table (see [`token_adapter`](crate::token_adapter))
//! and two more:
//!
//! | table | column | type | |
//! |---|---|---|---|
//! | TOTP | `user_id` | text | primary key; foreign key to the user (on delete cascade) if [`Capabilities::foreign_keys`](crate::Capabilities::foreign_keys) |
//! | | `encrypted_secret` | text | |
//! | | `confirmed` | boolean | |
//! | | `last_step` | 64-bit integer | |
//! | recovery code | `id` | text | primary key (the code's SHA-256) |
//! | | `user_id` | text | foreign key as above |

use std::sync::Arc;

use lucia::{
    Adapter, AdapterError, DatabaseTotp, DatabaseUser, SecondFactorAdapter, TokenAdapter, TokenKind, UserAdapter,
};

use crate::{Fixture, TestDatabase, assert_err, generate_key, generate_session, generate_user, race};

/// The bound of every case.
pub trait SecondFactorStore: Adapter + SecondFactorAdapter {}
impl<A: Adapter + SecondFactorAdapter> SecondFactorStore for A {}

async fn user_in<F: Fixture>(t: &F) -> DatabaseUser {
    let user = generate_user();
    t.database().insert_user(&user).await;
    user
}

/// A TOTP row of `user_id`, unconfirmed, with a random "ciphertext".
pub fn generate_totp(user_id: &str) -> DatabaseTotp {
    DatabaseTotp {
        user_id: user_id.to_owned(),
        encrypted_secret: lucia::generate_random_string(56),
        confirmed: false,
        last_step: 0,
    }
}

/// Ten random recovery code hashes (64 hex, as Lucia stores them).
fn generate_code_hashes() -> Vec<String> {
    (0..10).map(|_| lucia::SessionTokens::Hashed.stored_id(&lucia::generate_random_string(16))).collect()
}

/// A row round-trips whole, and a second one replaces the first.
pub async fn totp_round_trips_and_is_replaced<F: Fixture<Adapter: SecondFactorStore>>(t: Arc<F>) {
    let adapter = t.adapter();
    let (user, other) = (user_in(&*t).await, user_in(&*t).await);
    let mut row = generate_totp(&user.id);
    row.last_step = 59_000_000_000;
    row.confirmed = true;
    adapter.set_totp(row.clone()).await.unwrap();
    assert_eq!(adapter.get_totp(&user.id).await.unwrap(), Some(row));
    let replacement = generate_totp(&user.id);
    adapter.set_totp(replacement.clone()).await.unwrap();
    assert_eq!(adapter.get_totp(&user.id).await.unwrap(), Some(replacement));
    assert_eq!(adapter.get_totp(&other.id).await.unwrap(), None);
    assert_eq!(adapter.get_totp("nobody").await.unwrap(), None);
}

/// A row of an unknown user is refused where foreign keys hold.
pub async fn totp_of_unknown_user<F: Fixture<Adapter: SecondFactorStore>>(t: Arc<F>) {
    let adapter = t.adapter();
    let row = generate_totp("nobody");
    if t.capabilities().foreign_keys {
        assert_err!(adapter.set_totp(row).await, AdapterError::InvalidUserId);
        assert_eq!(adapter.get_totp("nobody").await.unwrap(), None);
        assert_err!(adapter.set_recovery_codes("nobody", generate_code_hashes()).await, AdapterError::InvalidUserId);
        assert_eq!(adapter.count_recovery_codes("nobody").await.unwrap(), 0);
    } else {
        adapter.set_totp(row.clone()).await.unwrap();
        assert_eq!(adapter.get_totp("nobody").await.unwrap(), Some(row));
    }
}

/// A step is accepted only above the last one, only for the secret the row holds, and
/// confirms the row only when asked.
pub async fn use_totp_step_only_moves_forward<F: Fixture<Adapter: SecondFactorStore>>(t: Arc<F>) {
    let adapter = t.adapter();
    let user = user_in(&*t).await;
    let row = generate_totp(&user.id);
    let secret = row.encrypted_secret.clone();
    adapter.set_totp(row).await.unwrap();
    let step = 59_000_000;
    assert!(!adapter.use_totp_step(&user.id, "another secret", step, true).await.unwrap(), "another secret");
    assert!(!adapter.use_totp_step("nobody", &secret, step, true).await.unwrap());
    assert!(adapter.use_totp_step(&user.id, &secret, step, false).await.unwrap());
    let read = adapter.get_totp(&user.id).await.unwrap().unwrap();
    assert_eq!((read.last_step, read.confirmed), (step, false), "not confirmed unless asked");
    assert!(!adapter.use_totp_step(&user.id, &secret, step, true).await.unwrap(), "the same step again");
    assert!(!adapter.use_totp_step(&user.id, &secret, step - 1, true).await.unwrap(), "an earlier step");
    assert!(!adapter.get_totp(&user.id).await.unwrap().unwrap().confirmed, "a refused use confirms nothing");
    assert!(adapter.use_totp_step(&user.id, &secret, step + 1, true).await.unwrap());
    let read = adapter.get_totp(&user.id).await.unwrap().unwrap();
    assert_eq!((read.last_step, read.confirmed), (step + 1, true));
    assert!(adapter.use_totp_step(&user.id, &secret, step + 2, false).await.unwrap());
    assert!(adapter.get_totp(&user.id).await.unwrap().unwrap().confirmed, "stays confirmed");
}

/// Recovery codes: a set replaces the old set; each is consumed once, by its user only.
pub async fn recovery_codes_are_replaced_and_consumed_once<F: Fixture<Adapter: SecondFactorStore>>(t: Arc<F>) {
    let adapter = t.adapter();
    let (user, other) = (user_in(&*t).await, user_in(&*t).await);
    let (old, new, others) = (generate_code_hashes(), generate_code_hashes(), generate_code_hashes());
    adapter.set_recovery_codes(&user.id, old.clone()).await.unwrap();
    adapter.set_recovery_codes(&other.id, others.clone()).await.unwrap();
    assert_eq!(adapter.count_recovery_codes(&user.id).await.unwrap(), 10);
    assert!(adapter.consume_recovery_code(&user.id, &old[0]).await.unwrap());
    assert!(!adapter.consume_recovery_code(&user.id, &old[0]).await.unwrap(), "used once");
    assert!(!adapter.consume_recovery_code(&user.id, &others[0]).await.unwrap(), "another user's code");
    assert!(!adapter.consume_recovery_code(&user.id, &old[1].to_uppercase()).await.unwrap(), "case-sensitive");
    assert_eq!(adapter.count_recovery_codes(&user.id).await.unwrap(), 9);

    adapter.set_recovery_codes(&user.id, new.clone()).await.unwrap();
    assert_eq!(adapter.count_recovery_codes(&user.id).await.unwrap(), 10);
    assert!(!adapter.consume_recovery_code(&user.id, &old[1]).await.unwrap(), "the old set is void");
    assert!(adapter.consume_recovery_code(&user.id, &new[1]).await.unwrap());
    assert_eq!(adapter.count_recovery_codes(&other.id).await.unwrap(), 10, "other users keep theirs");
    assert_eq!(adapter.count_recovery_codes("nobody").await.unwrap(), 0);
}

/// `delete_totp` removes the user's row and codes, and nobody else's.
pub async fn delete_totp_removes_row_and_codes_of_that_user<F: Fixture<Adapter: SecondFactorStore>>(t: Arc<F>) {
    let adapter = t.adapter();
    let (user, other) = (user_in(&*t).await, user_in(&*t).await);
    for id in [&user.id, &other.id] {
        adapter.set_totp(generate_totp(id)).await.unwrap();
        adapter.set_recovery_codes(id, generate_code_hashes()).await.unwrap();
    }
    adapter.delete_totp(&user.id).await.unwrap();
    adapter.delete_totp("nobody").await.unwrap();
    assert_eq!(adapter.get_totp(&user.id).await.unwrap(), None);
    assert_eq!(adapter.count_recovery_codes(&user.id).await.unwrap(), 0);
    assert!(adapter.get_totp(&other.id).await.unwrap().is_some());
    assert_eq!(adapter.count_recovery_codes(&other.id).await.unwrap(), 10);
}

/// Every way of deleting a user deletes its second factor (and its pending sign-in).
pub async fn deleting_a_user_deletes_its_second_factor<F: Fixture<Adapter: SecondFactorStore>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let users = [user_in(&*t).await, user_in(&*t).await, user_in(&*t).await, user_in(&*t).await];
    for user in &users {
        adapter.set_totp(generate_totp(&user.id)).await.unwrap();
        adapter.set_recovery_codes(&user.id, generate_code_hashes()).await.unwrap();
        adapter.set_token(crate::token_adapter::generate_token(&user.id, TokenKind::SecondFactor)).await.unwrap();
    }
    db.insert_key(&generate_key(Some(&users[1].id))).await;
    db.insert_session(&generate_session(Some(&users[1].id))).await;
    db.insert_key(&generate_key(Some(&users[2].id))).await;

    adapter.delete_user(&users[0].id).await.unwrap();
    adapter.delete_user_cascade(&users[1].id).await.unwrap();
    adapter.delete_user_and_keys(&users[2].id).await.unwrap();
    for user in &users[..3] {
        assert_eq!(adapter.get_totp(&user.id).await.unwrap(), None);
        assert_eq!(adapter.count_recovery_codes(&user.id).await.unwrap(), 0);
        assert_eq!(adapter.get_user_token(&user.id, TokenKind::SecondFactor).await.unwrap(), None);
    }
    assert!(adapter.get_totp(&users[3].id).await.unwrap().is_some());
    assert_eq!(adapter.count_recovery_codes(&users[3].id).await.unwrap(), 10);
    assert_eq!(db.users().await.len(), 1);
}

/// A pending sign-in is a token of its own kind, with an empty address.
pub async fn pending_sign_in_tokens_round_trip<F: Fixture<Adapter: SecondFactorStore>>(t: Arc<F>) {
    let adapter = t.adapter();
    let user = user_in(&*t).await;
    let mut pending = crate::token_adapter::generate_token(&user.id, TokenKind::SecondFactor);
    pending.email = String::new();
    let reset = crate::token_adapter::generate_token(&user.id, TokenKind::PasswordReset);
    adapter.set_token(pending.clone()).await.unwrap();
    adapter.set_token(reset.clone()).await.unwrap();
    assert_eq!(adapter.get_token(&pending.id).await.unwrap(), Some(pending.clone()));
    assert_eq!(adapter.get_user_token(&user.id, TokenKind::SecondFactor).await.unwrap(), Some(pending));
    assert_eq!(adapter.get_token(&reset.id).await.unwrap(), Some(reset), "one token per kind");
}

/// Of concurrent uses of one step, exactly one is accepted.
pub async fn concurrent_uses_of_one_step_have_one_winner<F: Fixture<Adapter: SecondFactorStore>>(t: Arc<F>) {
    let user = user_in(&*t).await;
    let row = generate_totp(&user.id);
    let secret = row.encrypted_secret.clone();
    t.adapter().set_totp(row).await.unwrap();
    let outcomes = race(&t, 8, |t, _| {
        let (user_id, secret) = (user.id.clone(), secret.clone());
        async move { t.adapter().use_totp_step(&user_id, &secret, 59_000_000, false).await }
    })
    .await;
    let wins = outcomes.iter().filter(|outcome| matches!(outcome, Ok(true))).count();
    assert_eq!(wins, 1, "{outcomes:?}");
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
}

/// Of concurrent consumptions of one recovery code, exactly one succeeds.
pub async fn concurrent_uses_of_one_recovery_code_have_one_winner<F: Fixture<Adapter: SecondFactorStore>>(t: Arc<F>) {
    let user = user_in(&*t).await;
    let codes = generate_code_hashes();
    t.adapter().set_recovery_codes(&user.id, codes.clone()).await.unwrap();
    let outcomes = race(&t, 8, |t, _| {
        let (user_id, code) = (user.id.clone(), codes[3].clone());
        async move { t.adapter().consume_recovery_code(&user_id, &code).await }
    })
    .await;
    let wins = outcomes.iter().filter(|outcome| matches!(outcome, Ok(true))).count();
    assert_eq!(wins, 1, "{outcomes:?}");
    assert_eq!(t.adapter().count_recovery_codes(&user.id).await.unwrap(), 9);
}

/// Concurrent regenerations leave exactly one whole set.
pub async fn concurrent_regenerations_leave_one_set<F: Fixture<Adapter: SecondFactorStore>>(t: Arc<F>) {
    let user = user_in(&*t).await;
    let sets: Vec<Vec<String>> = (0..6).map(|_| generate_code_hashes()).collect();
    let outcomes = race(&t, sets.len(), |t, i| {
        let (user_id, set) = (user.id.clone(), sets[i].clone());
        async move { t.adapter().set_recovery_codes(&user_id, set).await }
    })
    .await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    let adapter = t.adapter();
    assert_eq!(adapter.count_recovery_codes(&user.id).await.unwrap(), 10);
    let mut surviving = Vec::new();
    for (i, set) in sets.iter().enumerate() {
        // Consuming the first code of each set tells which set is there (and uses one up).
        if adapter.consume_recovery_code(&user.id, &set[0]).await.unwrap() {
            surviving.push(i);
        }
    }
    assert_eq!(surviving.len(), 1, "one whole set survives: {surviving:?}");
    assert_eq!(adapter.count_recovery_codes(&user.id).await.unwrap(), 9);
}
