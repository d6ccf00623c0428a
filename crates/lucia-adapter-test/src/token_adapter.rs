//! Cases for a [`TokenAdapter`]: single-use tokens (email verification codes, password-reset
//! links) beside a full [`Adapter`]. Expanded by [`token_adapter_tests!`](crate::token_adapter_tests).
//!
//! The store needs the suite's user table and a token table:
//!
//! | column | type | |
//! |---|---|---|
//! | `id` | text | primary key |
//! | `user_id` | text | foreign key to the user if [`Capabilities::foreign_keys`](crate::Capabilities::foreign_keys) |
//! | `kind` | text | unique together with `user_id` |
//! | `email` | text | |
//! | `expires` | 64-bit integer | milliseconds |
//! | `attempts` | integer | |

use std::collections::BTreeSet;
use std::sync::Arc;

use lucia::{
    Adapter, AdapterError, AttributeMap, DatabaseToken, DatabaseUser, SessionAdapter, TokenAdapter, TokenKind,
    UserAdapter,
};
use serde_json::json;

use crate::{
    Fixture, TestDatabase, assert_err, assert_rows, generate_key, generate_session, generate_user, now_ms, race,
};

/// A token of `user_id`, valid for an hour, with a random id shaped like Lucia's (64 hex).
pub fn generate_token(user_id: &str, kind: TokenKind) -> DatabaseToken {
    let secret = lucia::generate_random_string(40);
    DatabaseToken {
        id: lucia::SessionTokens::Hashed.stored_id(&secret),
        user_id: user_id.to_owned(),
        kind,
        email: format!("{}@example.com", lucia::generate_random_string(6)),
        expires: now_ms() + 60 * 60 * 1000,
        attempts: 0,
    }
}

fn map(value: serde_json::Value) -> AttributeMap {
    match value {
        serde_json::Value::Object(map) => map,
        _ => AttributeMap::new(),
    }
}

/// A user in the store, through the raw tables.
async fn user_in<F: Fixture>(t: &F) -> DatabaseUser {
    let user = generate_user();
    t.database().insert_user(&user).await;
    user
}

async fn user_row<F: Fixture>(t: &F, user_id: &str) -> DatabaseUser {
    t.database().users().await.into_iter().find(|user| user.id == user_id).expect("the user is still there")
}

/// A token round-trips whole through `set_token` and `get_token`.
pub async fn set_token_round_trips<F: Fixture<Adapter: Adapter + TokenAdapter>>(t: Arc<F>) {
    let adapter = t.adapter();
    let user = user_in(&*t).await;
    let mut token = generate_token(&user.id, TokenKind::PasswordReset);
    token.email = "Ada.Lovelace+reset@example.com".into();
    token.expires = i64::MAX / 2;
    adapter.set_token(token.clone()).await.unwrap();
    assert_eq!(adapter.get_token(&token.id).await.unwrap(), Some(token.clone()));
    assert_eq!(adapter.get_user_token(&user.id, TokenKind::PasswordReset).await.unwrap(), Some(token));
}

/// Unknown ids and users without tokens read as `None`.
pub async fn get_token_returns_none_for_unknown<F: Fixture<Adapter: Adapter + TokenAdapter>>(t: Arc<F>) {
    let adapter = t.adapter();
    let user = user_in(&*t).await;
    adapter.set_token(generate_token(&user.id, TokenKind::EmailVerification)).await.unwrap();
    assert_eq!(adapter.get_token(&"0".repeat(64)).await.unwrap(), None);
    assert_eq!(adapter.get_user_token(&user.id, TokenKind::PasswordReset).await.unwrap(), None);
    assert_eq!(adapter.get_user_token("nobody", TokenKind::EmailVerification).await.unwrap(), None);
}

/// Token ids compare case-sensitively.
pub async fn token_ids_are_case_sensitive<F: Fixture<Adapter: Adapter + TokenAdapter>>(t: Arc<F>) {
    let adapter = t.adapter();
    let user = user_in(&*t).await;
    let token = generate_token(&user.id, TokenKind::PasswordReset);
    adapter.set_token(token.clone()).await.unwrap();
    assert_eq!(adapter.get_token(&token.id.to_uppercase()).await.unwrap(), None);
    assert_eq!(adapter.count_token_attempt(&token.id.to_uppercase()).await.unwrap(), None);
    assert!(!adapter.consume_token(&token.id.to_uppercase(), AttributeMap::new()).await.unwrap());
    assert_eq!(adapter.get_token(&token.id).await.unwrap(), Some(token));
}

/// A new token replaces the user's token of the same kind, and only that one.
pub async fn set_token_replaces_the_users_token_of_that_kind<F: Fixture<Adapter: Adapter + TokenAdapter>>(t: Arc<F>) {
    let adapter = t.adapter();
    let (user, other) = (user_in(&*t).await, user_in(&*t).await);
    let old = generate_token(&user.id, TokenKind::EmailVerification);
    let reset = generate_token(&user.id, TokenKind::PasswordReset);
    let others = generate_token(&other.id, TokenKind::EmailVerification);
    for token in [&old, &reset, &others] {
        adapter.set_token(token.clone()).await.unwrap();
    }
    let new = generate_token(&user.id, TokenKind::EmailVerification);
    adapter.set_token(new.clone()).await.unwrap();
    assert_eq!(adapter.get_token(&old.id).await.unwrap(), None, "the old code is revoked");
    assert_eq!(adapter.get_user_token(&user.id, TokenKind::EmailVerification).await.unwrap(), Some(new));
    assert_eq!(adapter.get_token(&reset.id).await.unwrap(), Some(reset), "the other kind stays");
    assert_eq!(adapter.get_token(&others.id).await.unwrap(), Some(others), "another user's stays");
}

/// With foreign keys, a token of an unknown user is `InvalidUserId` and nothing is written;
/// without, it is stored.
pub async fn set_token_of_unknown_user<F: Fixture<Adapter: Adapter + TokenAdapter>>(t: Arc<F>) {
    let adapter = t.adapter();
    let token = generate_token("nobody", TokenKind::PasswordReset);
    if t.capabilities().foreign_keys {
        assert_err!(adapter.set_token(token.clone()).await, AdapterError::InvalidUserId);
        assert_eq!(adapter.get_token(&token.id).await.unwrap(), None);
    } else {
        adapter.set_token(token.clone()).await.unwrap();
        assert_eq!(adapter.get_token(&token.id).await.unwrap(), Some(token));
    }
}

/// Attempts count up by one per call; a missing token counts nothing.
pub async fn count_token_attempt_counts<F: Fixture<Adapter: Adapter + TokenAdapter>>(t: Arc<F>) {
    let adapter = t.adapter();
    let user = user_in(&*t).await;
    let (token, other) =
        (generate_token(&user.id, TokenKind::EmailVerification), generate_token(&user.id, TokenKind::PasswordReset));
    adapter.set_token(token.clone()).await.unwrap();
    adapter.set_token(other.clone()).await.unwrap();
    for expected in 1..=3 {
        assert_eq!(adapter.count_token_attempt(&token.id).await.unwrap(), Some(expected));
    }
    assert_eq!(adapter.get_token(&token.id).await.unwrap().map(|row| row.attempts), Some(3));
    assert_eq!(adapter.get_token(&other.id).await.unwrap(), Some(other), "other tokens are not counted");
    assert_eq!(adapter.count_token_attempt(&"0".repeat(64)).await.unwrap(), None);
}

/// A new token starts with no attempts, even when it replaces a counted one.
pub async fn a_replacing_token_starts_uncounted<F: Fixture<Adapter: Adapter + TokenAdapter>>(t: Arc<F>) {
    let adapter = t.adapter();
    let user = user_in(&*t).await;
    let old = generate_token(&user.id, TokenKind::EmailVerification);
    adapter.set_token(old.clone()).await.unwrap();
    adapter.count_token_attempt(&old.id).await.unwrap();
    let new = generate_token(&user.id, TokenKind::EmailVerification);
    adapter.set_token(new.clone()).await.unwrap();
    assert_eq!(adapter.count_token_attempt(&new.id).await.unwrap(), Some(1));
}

/// Consuming deletes the token and sets the attributes on its user, once; other users and
/// tokens are untouched.
pub async fn consume_token_deletes_it_and_updates_its_user_once<F: Fixture<Adapter: Adapter + TokenAdapter>>(
    t: Arc<F>,
) {
    let adapter = t.adapter();
    let (user, other) = (user_in(&*t).await, user_in(&*t).await);
    let token = generate_token(&user.id, TokenKind::EmailVerification);
    let kept = generate_token(&user.id, TokenKind::PasswordReset);
    adapter.set_token(token.clone()).await.unwrap();
    adapter.set_token(kept.clone()).await.unwrap();
    assert!(adapter.consume_token(&token.id, map(json!({ "admin": true }))).await.unwrap());
    assert_eq!(adapter.get_token(&token.id).await.unwrap(), None);
    let mut expected = user.clone();
    expected.attributes.insert("admin".into(), json!(true));
    assert_rows!(user_row(&*t, &user.id).await, expected.clone());
    assert_rows!(user_row(&*t, &other.id).await, other);
    assert_eq!(adapter.get_token(&kept.id).await.unwrap(), Some(kept));

    // A second use finds nothing and changes nothing.
    assert!(!adapter.consume_token(&token.id, map(json!({ "admin": false }))).await.unwrap());
    assert_rows!(user_row(&*t, &user.id).await, expected);
}

/// Consuming with no attributes only deletes.
pub async fn consume_token_without_attributes_only_deletes<F: Fixture<Adapter: Adapter + TokenAdapter>>(t: Arc<F>) {
    let adapter = t.adapter();
    let user = user_in(&*t).await;
    let token = generate_token(&user.id, TokenKind::PasswordReset);
    adapter.set_token(token.clone()).await.unwrap();
    assert!(adapter.consume_token(&token.id, AttributeMap::new()).await.unwrap());
    assert_eq!(adapter.get_token(&token.id).await.unwrap(), None);
    assert_rows!(user_row(&*t, &user.id).await, user);
}

/// A user update that fails (a unique value taken) leaves the token in place: one
/// transaction.
pub async fn consume_token_that_cannot_update_keeps_the_token<F: Fixture<Adapter: Adapter + TokenAdapter>>(t: Arc<F>) {
    let Some(column) = t.capabilities().unique_user_attribute else { return };
    let adapter = t.adapter();
    let (user, other) = (user_in(&*t).await, user_in(&*t).await);
    let token = generate_token(&user.id, TokenKind::EmailVerification);
    adapter.set_token(token.clone()).await.unwrap();
    let taken = other.attributes[column].clone();
    assert_err!(
        adapter.consume_token(&token.id, map(json!({ column: taken }))).await,
        AdapterError::DuplicateAttribute { .. }
    );
    assert_eq!(adapter.get_token(&token.id).await.unwrap(), Some(token));
    assert_rows!(user_row(&*t, &user.id).await, user);
}

/// Revoking deletes all the user's tokens, of both kinds, and sets the attributes; other
/// users' tokens stay.
pub async fn revoke_user_tokens_deletes_all_of_that_user<F: Fixture<Adapter: Adapter + TokenAdapter>>(t: Arc<F>) {
    let adapter = t.adapter();
    let (user, other) = (user_in(&*t).await, user_in(&*t).await);
    let code = generate_token(&user.id, TokenKind::EmailVerification);
    let reset = generate_token(&user.id, TokenKind::PasswordReset);
    let others = generate_token(&other.id, TokenKind::PasswordReset);
    for token in [&code, &reset, &others] {
        adapter.set_token(token.clone()).await.unwrap();
    }
    adapter.revoke_user_tokens(&user.id, map(json!({ "age": 42, "admin": false }))).await.unwrap();
    assert_eq!(adapter.get_token(&code.id).await.unwrap(), None);
    assert_eq!(adapter.get_token(&reset.id).await.unwrap(), None);
    assert_eq!(adapter.get_token(&others.id).await.unwrap(), Some(others));
    let mut expected = user.clone();
    expected.attributes.insert("age".into(), json!(42));
    expected.attributes.insert("admin".into(), json!(false));
    assert_rows!(user_row(&*t, &user.id).await, expected);

    // With no attributes it only deletes; an unknown user is not an error.
    adapter.set_token(code.clone()).await.unwrap();
    adapter.revoke_user_tokens(&user.id, AttributeMap::new()).await.unwrap();
    assert_eq!(adapter.get_token(&code.id).await.unwrap(), None);
    adapter.revoke_user_tokens("nobody", AttributeMap::new()).await.unwrap();
}

/// A revoke whose user update fails (a unique value taken) deletes nothing.
pub async fn revoke_user_tokens_that_cannot_update_changes_nothing<F: Fixture<Adapter: Adapter + TokenAdapter>>(
    t: Arc<F>,
) {
    let Some(column) = t.capabilities().unique_user_attribute else { return };
    let adapter = t.adapter();
    let (user, other) = (user_in(&*t).await, user_in(&*t).await);
    let token = generate_token(&user.id, TokenKind::PasswordReset);
    adapter.set_token(token.clone()).await.unwrap();
    let taken = other.attributes[column].clone();
    assert_err!(
        adapter.revoke_user_tokens(&user.id, map(json!({ column: taken }))).await,
        AdapterError::DuplicateAttribute { .. }
    );
    assert_eq!(adapter.get_token(&token.id).await.unwrap(), Some(token));
    assert_rows!(user_row(&*t, &user.id).await, user);
}

/// The sweep deletes tokens that expired strictly before `now_ms`, of every user, and says
/// how many.
pub async fn delete_expired_tokens_keeps_live_and_boundary<F: Fixture<Adapter: Adapter + TokenAdapter>>(t: Arc<F>) {
    let adapter = t.adapter();
    let (user, other) = (user_in(&*t).await, user_in(&*t).await);
    let now = now_ms();
    let mut tokens = Vec::new();
    for (owner, kind, expires) in [
        (&user, TokenKind::EmailVerification, now - 1),
        (&other, TokenKind::EmailVerification, now - 60_000),
        (&user, TokenKind::PasswordReset, now),
        (&other, TokenKind::PasswordReset, now + 60_000),
    ] {
        let token = DatabaseToken { expires, ..generate_token(&owner.id, kind) };
        adapter.set_token(token.clone()).await.unwrap();
        tokens.push(token);
    }
    assert_eq!(adapter.delete_expired_tokens(now).await.unwrap(), 2);
    assert_eq!(adapter.get_token(&tokens[0].id).await.unwrap(), None);
    assert_eq!(adapter.get_token(&tokens[1].id).await.unwrap(), None);
    assert_eq!(adapter.get_token(&tokens[2].id).await.unwrap(), Some(tokens[2].clone()), "the boundary is alive");
    assert_eq!(adapter.get_token(&tokens[3].id).await.unwrap(), Some(tokens[3].clone()));
    assert_eq!(adapter.delete_expired_tokens(now).await.unwrap(), 0);
}

/// Deleting a user deletes its tokens, alone or by the cascade, and no one else's.
pub async fn deleting_a_user_deletes_its_tokens<F: Fixture<Adapter: Adapter + TokenAdapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let (alone, cascaded, other) = (user_in(&*t).await, user_in(&*t).await, user_in(&*t).await);
    let mut tokens = Vec::new();
    for user in [&alone, &cascaded, &other] {
        for kind in [TokenKind::EmailVerification, TokenKind::PasswordReset] {
            let token = generate_token(&user.id, kind);
            adapter.set_token(token.clone()).await.unwrap();
            tokens.push(token);
        }
    }
    db.insert_key(&generate_key(Some(&cascaded.id))).await;
    db.insert_session(&generate_session(Some(&cascaded.id))).await;

    adapter.delete_user(&alone.id).await.unwrap();
    adapter.delete_user_cascade(&cascaded.id).await.unwrap();
    for token in &tokens[..4] {
        assert_eq!(adapter.get_token(&token.id).await.unwrap(), None);
    }
    for token in &tokens[4..] {
        assert_eq!(adapter.get_token(&token.id).await.unwrap(), Some(token.clone()));
    }
    assert_eq!(db.users().await.len(), 1);
    assert!(adapter.get_sessions_by_user_id(&cascaded.id).await.unwrap().is_empty());
}

/// Of concurrent consumptions of one token, exactly one succeeds, and the user update is
/// applied once.
pub async fn concurrent_consumptions_have_one_winner<F: Fixture<Adapter: Adapter + TokenAdapter>>(t: Arc<F>) {
    let user = user_in(&*t).await;
    let token = generate_token(&user.id, TokenKind::PasswordReset);
    t.adapter().set_token(token.clone()).await.unwrap();
    let outcomes = race(&t, 8, |t, i| {
        let id = token.id.clone();
        async move { t.adapter().consume_token(&id, map(json!({ "age": i }))).await.unwrap() }
    })
    .await;
    assert_eq!(outcomes.iter().filter(|won| **won).count(), 1, "{outcomes:?}");
    let winner = outcomes.iter().position(|won| *won).unwrap_or_default();
    assert_eq!(user_row(&*t, &user.id).await.attributes.get("age"), Some(&json!(winner)));
    assert_eq!(t.adapter().get_token(&token.id).await.unwrap(), None);
}

/// Concurrent attempt counts on one token each get their own number.
pub async fn concurrent_attempt_counts_are_distinct<F: Fixture<Adapter: Adapter + TokenAdapter>>(t: Arc<F>) {
    let user = user_in(&*t).await;
    let token = generate_token(&user.id, TokenKind::EmailVerification);
    t.adapter().set_token(token.clone()).await.unwrap();
    let counts = race(&t, 8, |t, _| {
        let id = token.id.clone();
        async move { t.adapter().count_token_attempt(&id).await.unwrap() }
    })
    .await;
    let distinct: BTreeSet<_> = counts.iter().copied().collect();
    assert_eq!(distinct, (1..=8).map(Some).collect(), "{counts:?}");
}

/// Of tokens set concurrently for one user and kind, exactly one remains.
pub async fn concurrent_issues_leave_one_token<F: Fixture<Adapter: Adapter + TokenAdapter>>(t: Arc<F>) {
    let user = user_in(&*t).await;
    let tokens: Vec<_> = (0..8).map(|_| generate_token(&user.id, TokenKind::EmailVerification)).collect();
    let outcomes = race(&t, tokens.len(), |t, i| {
        let token = tokens[i].clone();
        async move { t.adapter().set_token(token).await }
    })
    .await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    let mut remaining = Vec::new();
    for token in &tokens {
        if let Some(row) = t.adapter().get_token(&token.id).await.unwrap() {
            remaining.push(row);
        }
    }
    assert_eq!(remaining.len(), 1, "one code per user and kind");
    assert_eq!(t.adapter().get_user_token(&user.id, TokenKind::EmailVerification).await.unwrap(), remaining.pop());
}
