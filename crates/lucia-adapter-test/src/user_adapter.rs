//! Cases for a full [`Adapter`]: Lucia's `testAdapter` (34 cases, in its order and with its
//! names) followed by this suite's additions (`extra_*`).
//!
//! Each case takes the [`Fixture`] of a fresh store; cases that depend on what the store
//! enforces read its [`Capabilities`](crate::Capabilities) and check the declared behaviour
//! (or, when not declared, that the store does not enforce it).

use std::sync::Arc;

use lucia::{
    Adapter, AdapterError, AttributeMap, DatabaseKey, DatabaseSession, DatabaseUser, SessionAdapter, SessionUpdate,
    SignInMethodDeletion, UserAdapter,
};
use serde_json::{Value, json};

use crate::{
    Fixture, INVALID_ID, TestDatabase, assert_err, assert_rows, generate_key, generate_session, generate_user, now_ms,
    race,
};

// ---- getUser() ----------------------------------------------------------------------------

/// `getUser()` › Returns target user.
pub async fn get_user_returns_target_user<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = generate_user();
    db.insert_user(&user).await;
    assert_rows!(adapter.get_user(&user.id).await.unwrap(), Some(user));
}

/// `getUser()` › Returns null if invalid target user id.
pub async fn get_user_returns_none_if_invalid_target_user_id<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    db.insert_user(&generate_user()).await;
    assert_eq!(adapter.get_user(INVALID_ID).await.unwrap(), None);
}

// ---- setUser() ----------------------------------------------------------------------------

/// `setUser()` › Inserts user only.
pub async fn set_user_inserts_user_only<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = generate_user();
    adapter.set_user(user.clone(), None).await.unwrap();
    assert_rows!(db.users().await, vec![user]);
    assert_rows!(db.keys().await, vec![]);
}

/// `setUser()` › Inserts user and key.
pub async fn set_user_inserts_user_and_key<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = generate_user();
    let key = generate_key(Some(&user.id));
    adapter.set_user(user.clone(), Some(key.clone())).await.unwrap();
    assert_rows!(db.users().await, vec![user]);
    assert_rows!(db.keys().await, vec![key]);
}

/// `setUser()` › Throws AUTH_DUPLICATE_KEY_ID on duplicate key id.
pub async fn set_user_errors_duplicate_key_id_on_duplicate_key_id<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let (user1, user2) = (generate_user(), generate_user());
    let key1 = generate_key(Some(&user1.id));
    db.insert_user(&user1).await;
    db.insert_key(&key1).await;
    let key2 = DatabaseKey { id: key1.id.clone(), ..generate_key(Some(&user2.id)) };
    assert_err!(adapter.set_user(user2, Some(key2)).await, AdapterError::DuplicateKeyId);
}

/// `setUser()` › Does not insert key if errors (and rolls the user back).
pub async fn set_user_does_not_insert_key_if_errors<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let (user1, user2) = (generate_user(), generate_user());
    let key1 = generate_key(Some(&user1.id));
    db.insert_user(&user1).await;
    db.insert_key(&key1).await;
    let key2 = DatabaseKey { id: key1.id.clone(), ..generate_key(Some(&user2.id)) };
    assert!(adapter.set_user(user2, Some(key2)).await.is_err());
    assert_rows!(db.users().await, vec![user1]);
    assert_rows!(db.keys().await, vec![key1]);
}

// ---- deleteUser() -------------------------------------------------------------------------

/// `deleteUser()` › Deletes target user.
pub async fn delete_user_deletes_target_user<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let (user1, user2) = (generate_user(), generate_user());
    db.insert_user(&user1).await;
    db.insert_user(&user2).await;
    adapter.delete_user(&user2.id).await.unwrap();
    assert_rows!(db.users().await, vec![user1]);
}

/// `deleteUser()` › Does not throw on invalid user id.
pub async fn delete_user_does_not_error_on_invalid_user_id<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = generate_user();
    db.insert_user(&user).await;
    adapter.delete_user(INVALID_ID).await.unwrap();
    assert_rows!(db.users().await, vec![user]);
}

// ---- updateUser() -------------------------------------------------------------------------

/// `updateUser()` › Updates user 'username' field.
pub async fn update_user_updates_user_username_field<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let mut user = generate_user();
    db.insert_user(&user).await;
    adapter.update_user(&user.id, attributes(json!({ "username": "Y" }))).await.unwrap();
    user.attributes.insert("username".into(), json!("Y"));
    assert_rows!(db.users().await, vec![user]);
}

// ---- getKey() -----------------------------------------------------------------------------

/// `getKey()` › Returns target key.
pub async fn get_key_returns_target_key<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = generate_user();
    let key = generate_key(Some(&user.id));
    db.insert_user(&user).await;
    db.insert_key(&key).await;
    assert_eq!(adapter.get_key(&key.id).await.unwrap(), Some(key));
}

/// `getKey()` › Returns null if invalid target key id.
pub async fn get_key_returns_none_if_invalid_target_key_id<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    assert_eq!(t.adapter().get_key(INVALID_ID).await.unwrap(), None);
}

// ---- setKey() -----------------------------------------------------------------------------

/// `setKey()` › Inserts key.
pub async fn set_key_inserts_key<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = generate_user();
    let key = generate_key(Some(&user.id));
    db.insert_user(&user).await;
    adapter.set_key(key.clone()).await.unwrap();
    assert_rows!(db.keys().await, vec![key]);
}

/// `setKey()` › Throws AUTH_DUPLICATE_KEY_ID on duplicate key id.
pub async fn set_key_errors_duplicate_key_id_on_duplicate_key_id<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let (user1, user2) = (generate_user(), generate_user());
    let key1 = generate_key(Some(&user1.id));
    db.insert_user(&user1).await;
    db.insert_user(&user2).await;
    db.insert_key(&key1).await;
    let key2 = DatabaseKey { id: key1.id.clone(), ..generate_key(Some(&user2.id)) };
    assert_err!(adapter.set_key(key2).await, AdapterError::DuplicateKeyId);
    assert_rows!(db.keys().await, vec![key1]);
}

/// `setKey()` › Optionally throws AUTH_INVALID_USER_ID on invalid user id.
pub async fn set_key_optionally_errors_invalid_user_id_on_invalid_user_id<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    assert_ok_or_invalid_user_id(t.adapter().set_key(generate_key(None)).await);
}

// ---- updateKey() --------------------------------------------------------------------------

/// `updateKey()` › Updates key 'hashed_password' field.
pub async fn update_key_updates_key_hashed_password_field<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = generate_user();
    let key = generate_key(Some(&user.id));
    db.insert_user(&user).await;
    db.insert_key(&key).await;
    adapter.update_key(&key.id, Some("HASHED")).await.unwrap();
    assert_rows!(db.keys().await, vec![DatabaseKey { hashed_password: Some("HASHED".into()), ..key.clone() }]);
    adapter.update_key(&key.id, None).await.unwrap();
    assert_rows!(db.keys().await, vec![key]);
}

// ---- getKeysByUserId() --------------------------------------------------------------------

/// `getKeysByUserId()` › Returns keys with target user id.
pub async fn get_keys_by_user_id_returns_keys_with_target_user_id<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let (user1, _, key1, _) = two_users_with_a_key_each(db).await;
    assert_rows!(adapter.get_keys_by_user_id(&user1.id).await.unwrap(), vec![key1]);
}

/// `getKeysByUserId()` › Returns an empty array if none matches target.
pub async fn get_keys_by_user_id_returns_empty_if_none_matches_target<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = generate_user();
    db.insert_user(&user).await;
    db.insert_key(&generate_key(Some(&user.id))).await;
    assert_rows!(adapter.get_keys_by_user_id(INVALID_ID).await.unwrap(), vec![]);
}

// ---- deleteKeysByUserId() -----------------------------------------------------------------

/// `deleteKeysByUserId()` › Deletes keys with target user id.
pub async fn delete_keys_by_user_id_deletes_keys_with_target_user_id<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let (user1, _, _, key2) = two_users_with_a_key_each(db).await;
    adapter.delete_keys_by_user_id(&user1.id).await.unwrap();
    assert_rows!(db.keys().await, vec![key2]);
}

/// `deleteKeysByUserId()` › Does not throw on invalid user id.
pub async fn delete_keys_by_user_id_does_not_error_on_invalid_user_id<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let (_, _, key1, key2) = two_users_with_a_key_each(db).await;
    adapter.delete_keys_by_user_id(INVALID_ID).await.unwrap();
    assert_rows!(db.keys().await, vec![key1, key2]);
}

// ---- deleteKey() --------------------------------------------------------------------------

/// `deleteKey()` › Deletes target key (two keys of one user: keys are many-to-one).
pub async fn delete_key_deletes_target_key<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = generate_user();
    let (key1, key2) = (generate_key(Some(&user.id)), generate_key(Some(&user.id)));
    db.insert_user(&user).await;
    db.insert_key(&key1).await;
    db.insert_key(&key2).await;
    adapter.delete_key(&key1.id).await.unwrap();
    assert_rows!(db.keys().await, vec![key2]);
}

/// `deleteKey()` › Does not throw on invalid key id.
pub async fn delete_key_does_not_error_on_invalid_key_id<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let (_, _, key1, key2) = two_users_with_a_key_each(db).await;
    adapter.delete_key(INVALID_ID).await.unwrap();
    assert_rows!(db.keys().await, vec![key1, key2]);
}

// ---- getSession() -------------------------------------------------------------------------

/// `getSession()` › Returns target session (numeric expiries, attribute columns).
pub async fn get_session_returns_target_session<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = generate_user();
    let session = generate_session(Some(&user.id));
    db.insert_user(&user).await;
    db.insert_session(&session).await;
    assert_rows!(adapter.get_session(&session.id).await.unwrap(), Some(session));
}

/// `getSession()` › Returns null if invalid target session id.
pub async fn get_session_returns_none_if_invalid_target_session_id<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = generate_user();
    db.insert_user(&user).await;
    db.insert_session(&generate_session(Some(&user.id))).await;
    assert_rows!(adapter.get_session(INVALID_ID).await.unwrap(), None);
}

// ---- getSessionsByUserId() ----------------------------------------------------------------

/// `getSessionsByUserId()` › Return sessions with target user id.
pub async fn get_sessions_by_user_id_returns_sessions_with_target_user_id<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let (user1, _, session1, _) = two_users_with_a_session_each(db).await;
    assert_rows!(adapter.get_sessions_by_user_id(&user1.id).await.unwrap(), vec![session1]);
}

/// `getSessionsByUserId()` › Returns an empty array if none matches target.
pub async fn get_sessions_by_user_id_returns_empty_if_none_matches_target<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = generate_user();
    db.insert_user(&user).await;
    db.insert_session(&generate_session(Some(&user.id))).await;
    assert_rows!(adapter.get_sessions_by_user_id(INVALID_ID).await.unwrap(), vec![]);
}

// ---- setSession() -------------------------------------------------------------------------

/// `setSession()` › Inserts session.
pub async fn set_session_inserts_session<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = generate_user();
    let session = generate_session(Some(&user.id));
    db.insert_user(&user).await;
    adapter.set_session(session.clone()).await.unwrap();
    assert_rows!(db.sessions().await, vec![session]);
}

/// `setSession()` › Optionally throws AUTH_INVALID_USER_ID on invalid user id.
pub async fn set_session_optionally_errors_invalid_user_id_on_invalid_user_id<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    assert_ok_or_invalid_user_id(t.adapter().set_session(generate_session(None)).await);
}

// ---- deleteSession() ----------------------------------------------------------------------

/// `deleteSession()` › Deletes target session.
pub async fn delete_session_deletes_target_session<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = generate_user();
    let (session1, session2) = (generate_session(Some(&user.id)), generate_session(Some(&user.id)));
    db.insert_user(&user).await;
    db.insert_session(&session1).await;
    db.insert_session(&session2).await;
    adapter.delete_session(&session1.id).await.unwrap();
    assert_rows!(db.sessions().await, vec![session2]);
}

/// `deleteSession()` › Does not throw on invalid session id.
pub async fn delete_session_does_not_error_on_invalid_session_id<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let (_, _, session1, session2) = two_users_with_a_session_each(db).await;
    adapter.delete_session(INVALID_ID).await.unwrap();
    assert_rows!(db.sessions().await, vec![session1, session2]);
}

// ---- deleteSessionsByUserId() -------------------------------------------------------------

/// `deleteSessionsByUserId()` › Deletes sessions with target user id.
pub async fn delete_sessions_by_user_id_deletes_sessions_with_target_user_id<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let (user1, _, _, session2) = two_users_with_a_session_each(db).await;
    adapter.delete_sessions_by_user_id(&user1.id).await.unwrap();
    assert_rows!(db.sessions().await, vec![session2]);
}

/// `deleteSessionsByUserId()` › Does not throw on invalid user id.
pub async fn delete_sessions_by_user_id_does_not_error_on_invalid_user_id<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let (_, _, session1, session2) = two_users_with_a_session_each(db).await;
    adapter.delete_sessions_by_user_id(INVALID_ID).await.unwrap();
    assert_rows!(db.sessions().await, vec![session1, session2]);
}

// ---- updateSession() ----------------------------------------------------------------------

/// `updateSession()` › Updates session 'country' field.
pub async fn update_session_updates_session_country_field<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = generate_user();
    let mut session = generate_session(Some(&user.id));
    db.insert_user(&user).await;
    db.insert_session(&session).await;
    let update = SessionUpdate { expires: None, attributes: attributes(json!({ "country": "YY" })) };
    adapter.update_session(&session.id, update).await.unwrap();
    session.attributes.insert("country".into(), json!("YY"));
    assert_rows!(db.sessions().await, vec![session]);
}

// ---- getSessionAndUser() ------------------------------------------------------------------

/// `getSessionAndUser()` › Returns target session and user.
pub async fn get_session_and_user_returns_target_session_and_user<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = generate_user();
    let session = generate_session(Some(&user.id));
    db.insert_user(&user).await;
    db.insert_session(&session).await;
    assert_rows!(adapter.get_session_and_user(&session.id).await.unwrap(), Some((session, user)));
}

/// `getSessionAndUser()` › Returns null, null if invalid target session id.
pub async fn get_session_and_user_returns_none_if_invalid_target_session_id<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    two_users_with_a_session_each(db).await;
    assert_rows!(adapter.get_session_and_user(INVALID_ID).await.unwrap(), None);
}

// ---- additions: what Lucia's suite did not test --------------------------------------------

/// A second user with a taken id is `DuplicateUserId`, and nothing changes.
pub async fn extra_set_user_errors_duplicate_user_id_without_key<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = generate_user();
    db.insert_user(&user).await;
    let copy = same_id_new_username(&user);
    assert_err!(adapter.set_user(copy, None).await, AdapterError::DuplicateUserId);
    assert_rows!(db.users().await, vec![user]);
}

/// A taken user id with a fresh key is `DuplicateUserId` (Lucia v2's SQL adapters said
/// duplicate key id), and the key is not inserted.
pub async fn extra_set_user_errors_duplicate_user_id_not_duplicate_key_id<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = generate_user();
    db.insert_user(&user).await;
    let key = generate_key(Some(&user.id));
    assert_err!(adapter.set_user(same_id_new_username(&user), Some(key)).await, AdapterError::DuplicateUserId);
    assert_rows!(db.users().await, vec![user]);
    assert_rows!(db.keys().await, vec![]);
}

/// A taken value of the unique attribute column (`username`) is
/// `DuplicateAttribute { column: Some("username") }`, not a duplicate id, with or without a
/// key, and nothing is inserted. Without a declared unique column, the duplicate is stored.
pub async fn extra_set_user_errors_duplicate_attribute_on_unique_attribute<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = generate_user();
    db.insert_user(&user).await;
    let mut other = generate_user();
    other.attributes = user.attributes.clone();
    let key = generate_key(Some(&other.id));
    match t.capabilities().unique_user_attribute {
        Some(column) => {
            assert_duplicate_attribute(adapter.set_user(other.clone(), Some(key)).await, column);
            assert_duplicate_attribute(adapter.set_user(other, None).await, column);
            assert_rows!(db.users().await, vec![user]);
            assert_rows!(db.keys().await, vec![]);
        }
        None => {
            adapter.set_user(other.clone(), Some(key.clone())).await.unwrap();
            assert_rows!(db.users().await, vec![user, other]);
            assert_rows!(db.keys().await, vec![key]);
        }
    }
}

/// With a schema, an attribute that names no column is `InvalidAttributes`, for users and
/// sessions, before anything is written. Without one, it is stored and read back.
pub async fn extra_set_user_rejects_unknown_column_and_writes_nothing<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let mut user = generate_user();
    user.attributes.insert("no_such_column".into(), json!(1));
    let key = generate_key(Some(&user.id));
    let session = session_with_unknown_column(&user.id);
    if t.capabilities().schema {
        assert_err!(adapter.set_user(user.clone(), Some(key)).await, AdapterError::InvalidAttributes(_));
        assert_err!(adapter.set_user(user.clone(), None).await, AdapterError::InvalidAttributes(_));
        let known = DatabaseUser { id: user.id.clone(), attributes: generate_user().attributes };
        db.insert_user(&known).await;
        assert_err!(adapter.set_session(session).await, AdapterError::InvalidAttributes(_));
        assert_rows!(db.users().await, vec![known]);
        assert_rows!(db.keys().await, vec![]);
        assert_rows!(db.sessions().await, vec![]);
    } else {
        adapter.set_user(user.clone(), Some(key.clone())).await.unwrap();
        adapter.set_session(session.clone()).await.unwrap();
        assert_rows!(adapter.get_user(&user.id).await.unwrap(), Some(user.clone()));
        assert_rows!(adapter.get_session(&session.id).await.unwrap(), Some(session.clone()));
        assert_rows!(adapter.get_session_and_user(&session.id).await.unwrap(), Some((session.clone(), user.clone())));
        assert_rows!(db.users().await, vec![user]);
        assert_rows!(db.keys().await, vec![key]);
        assert_rows!(db.sessions().await, vec![session]);
    }
}

/// Keys with a (148-character `s2:`) password hash and with an Argon2id PHC string (the
/// default hasher's, `$`, `=` and `,` included) are stored and read back verbatim.
pub async fn extra_set_key_with_password_round_trips<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = generate_user();
    db.insert_user(&user).await;
    let key = DatabaseKey {
        id: "email:a:b@example.com".into(),
        hashed_password: Some(format!("s2:{}:{}", "a".repeat(16), "0f".repeat(64))),
        ..generate_key(Some(&user.id))
    };
    let argon2id = DatabaseKey {
        id: "email:argon@example.com".into(),
        hashed_password: Some(
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$K5ZhbrH1Vk3kp0GtPY6qvq3Hv6m7mFbI0CnLRmpo0Ns".into(),
        ),
        ..generate_key(Some(&user.id))
    };
    for key in [&key, &argon2id] {
        adapter.set_key(key.clone()).await.unwrap();
        assert_eq!(adapter.get_key(&key.id).await.unwrap(), Some(key.clone()));
    }
    assert_rows!(adapter.get_keys_by_user_id(&user.id).await.unwrap(), vec![key.clone(), argon2id.clone()]);
    assert_rows!(db.keys().await, vec![key, argon2id]);
}

/// A taken session id is `DuplicateSessionId`, and the stored session is unchanged.
pub async fn extra_set_session_errors_duplicate_session_id<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = generate_user();
    let session = generate_session(Some(&user.id));
    db.insert_user(&user).await;
    db.insert_session(&session).await;
    let copy = DatabaseSession { active_expires: 1, ..session.clone() };
    assert_err!(adapter.set_session(copy).await, AdapterError::DuplicateSessionId);
    assert_rows!(db.sessions().await, vec![session]);
}

/// Updating a user, key or session that does not exist succeeds and creates nothing, even
/// with a unique value another user holds.
pub async fn extra_updates_of_missing_rows_change_nothing<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = generate_user();
    db.insert_user(&user).await;
    adapter.update_user(INVALID_ID, user.attributes.clone()).await.unwrap();
    adapter.update_key(INVALID_ID, Some("HASHED")).await.unwrap();
    let update = SessionUpdate { expires: Some((1, 2)), attributes: attributes(json!({ "country": "ZZ" })) };
    adapter.update_session(INVALID_ID, update).await.unwrap();
    assert_rows!(db.users().await, vec![user]);
    assert_rows!(db.keys().await, vec![]);
    assert_rows!(db.sessions().await, vec![]);
}

/// Empty partial updates succeed and change nothing (Lucia v2's SQL adapters sent
/// `UPDATE ... SET  WHERE`, a syntax error).
pub async fn extra_empty_partial_updates_change_nothing<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = generate_user();
    let session = generate_session(Some(&user.id));
    db.insert_user(&user).await;
    db.insert_session(&session).await;
    adapter.update_user(&user.id, AttributeMap::new()).await.unwrap();
    adapter.update_session(&session.id, SessionUpdate::default()).await.unwrap();
    assert_rows!(db.users().await, vec![user]);
    assert_rows!(db.sessions().await, vec![session]);
}

/// Renewal writes both expiries and leaves attributes alone.
pub async fn extra_update_session_sets_expiries<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = generate_user();
    let session = generate_session(Some(&user.id));
    db.insert_user(&user).await;
    db.insert_session(&session).await;
    let (active, idle) = (session.active_expires + 1_000, session.idle_expires + 2_000);
    let update = SessionUpdate { expires: Some((active, idle)), attributes: AttributeMap::new() };
    adapter.update_session(&session.id, update).await.unwrap();
    let expected = DatabaseSession { active_expires: active, idle_expires: idle, ..session };
    assert_rows!(db.sessions().await, vec![expected]);
}

/// The per-user sweep deletes only that user's sessions whose idle period ended before now;
/// a session expiring exactly now is still alive (Lucia's inclusive boundary).
pub async fn extra_delete_dead_sessions_by_user_id_keeps_live_and_boundary<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let (user1, user2) = (generate_user(), generate_user());
    db.insert_user(&user1).await;
    db.insert_user(&user2).await;
    crate::session_adapter::check_per_user_sweep(adapter, db, &user1.id, &user2.id).await;
}

/// The global sweep deletes dead sessions of every user, keeps the boundary, and counts what
/// it deleted (3 of 5; then 0).
pub async fn extra_delete_dead_sessions_sweeps_every_user<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let (user1, user2) = (generate_user(), generate_user());
    db.insert_user(&user1).await;
    db.insert_user(&user2).await;
    crate::session_adapter::check_global_sweep(adapter, db, &user1.id, &user2.id).await;
}

/// The join returns the requested session's user, not another one.
pub async fn extra_get_session_and_user_ignores_other_sessions<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let (user1, user2, session1, session2) = two_users_with_a_session_each(db).await;
    assert_rows!(adapter.get_session_and_user(&session2.id).await.unwrap(), Some((session2, user2)));
    assert_rows!(adapter.get_session_and_user(&session1.id).await.unwrap(), Some((session1, user1)));
}

/// Ids are case-sensitive: keys and sessions whose ids differ only in case are different rows
/// (a case-insensitive MySQL collation would merge them).
pub async fn extra_ids_are_case_sensitive<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = generate_user();
    db.insert_user(&user).await;
    let upper = DatabaseKey { id: "email:Alice@Example.com".into(), ..generate_key(Some(&user.id)) };
    let lower = DatabaseKey { id: "email:alice@example.com".into(), ..generate_key(Some(&user.id)) };
    adapter.set_key(upper.clone()).await.unwrap();
    assert_eq!(adapter.get_key(&lower.id).await.unwrap(), None);
    adapter.set_key(lower.clone()).await.unwrap();
    assert_eq!(adapter.get_key(&upper.id).await.unwrap(), Some(upper));
    let session = DatabaseSession { id: "at_MixedCase".into(), ..generate_session(Some(&user.id)) };
    db.insert_session(&session).await;
    assert_rows!(adapter.get_session("at_mixedcase").await.unwrap(), None);
    assert_rows!(adapter.get_session_and_user("AT_MIXEDCASE").await.unwrap(), None);
    let other_case = DatabaseSession { id: "at_mixedcase".into(), ..generate_session(Some(&user.id)) };
    adapter.set_session(other_case.clone()).await.unwrap();
    assert_rows!(adapter.get_session("at_MixedCase").await.unwrap(), Some(session));
    assert_rows!(adapter.get_session("at_mixedcase").await.unwrap(), Some(other_case));
}

/// Four sign-ups racing for one key id on a multi-threaded runtime: exactly one wins; the
/// others get `DuplicateKeyId` and leave no user behind (each user and key insert is one
/// transaction).
pub async fn extra_concurrent_sign_ups_for_one_key_have_one_winner<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let key_id = generate_key(None).id;
    let users: Vec<DatabaseUser> = (0..4).map(|_| generate_user()).collect();
    let keys: Vec<DatabaseKey> = users
        .iter()
        .map(|user| DatabaseKey { id: key_id.clone(), user_id: user.id.clone(), hashed_password: None })
        .collect();
    let results = race(&t, 4, |t, i| {
        let (user, key) = (users[i].clone(), keys[i].clone());
        async move { t.adapter().set_user(user, Some(key)).await }
    })
    .await;
    let winner = one_winner(&results, |e| matches!(e, AdapterError::DuplicateKeyId));
    assert_rows!(t.database().users().await, vec![users[winner].clone()]);
    assert_rows!(t.database().keys().await, vec![keys[winner].clone()]);
}

/// A taken unique value on update is `DuplicateAttribute` naming the column, and the row is
/// unchanged (no other column of the update is applied either). Setting a user's own value
/// again is not a clash. Without a declared unique column, the update applies.
pub async fn extra_update_user_errors_duplicate_attribute_and_changes_nothing<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let (user1, user2) = (generate_user(), generate_user());
    db.insert_user(&user1).await;
    db.insert_user(&user2).await;
    adapter.update_user(&user1.id, user1.attributes.clone()).await.unwrap();
    let mut taken = attributes(json!({ "age": 5 }));
    taken.insert("username".into(), user1.attributes["username"].clone());
    match t.capabilities().unique_user_attribute {
        Some(column) => {
            assert_duplicate_attribute(adapter.update_user(&user2.id, taken).await, column);
            assert_rows!(db.users().await, vec![user1.clone(), user2]);
            assert_rows!(adapter.get_user(&user1.id).await.unwrap(), Some(user1));
        }
        None => {
            adapter.update_user(&user2.id, taken.clone()).await.unwrap();
            let updated = DatabaseUser { id: user2.id.clone(), attributes: taken };
            assert_rows!(db.users().await, vec![user1, updated]);
        }
    }
}

/// With a schema, an update naming an unknown column is `InvalidAttributes` and changes
/// nothing (not even its known columns). Without one, the column is stored.
pub async fn extra_update_user_rejects_unknown_column_and_changes_nothing<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = generate_user();
    db.insert_user(&user).await;
    let update = attributes(json!({ "username": "new name", "no_such_column": true }));
    let session = generate_session(Some(&user.id));
    db.insert_session(&session).await;
    let session_update =
        SessionUpdate { expires: Some((1, 2)), attributes: attributes(json!({ "no_such_column": 1 })) };
    if t.capabilities().schema {
        assert_err!(adapter.update_user(&user.id, update).await, AdapterError::InvalidAttributes(_));
        let result = adapter.update_session(&session.id, session_update).await;
        assert_err!(result, AdapterError::InvalidAttributes(_));
        assert_rows!(db.users().await, vec![user]);
        assert_rows!(db.sessions().await, vec![session]);
    } else {
        adapter.update_user(&user.id, update.clone()).await.unwrap();
        adapter.update_session(&session.id, session_update).await.unwrap();
        let mut expected_user = user;
        expected_user.attributes.extend(update);
        let mut expected_session = DatabaseSession { active_expires: 1, idle_expires: 2, ..session };
        expected_session.attributes.insert("no_such_column".into(), json!(1));
        assert_rows!(db.users().await, vec![expected_user]);
        assert_rows!(db.sessions().await, vec![expected_session]);
    }
}

/// A partial update sets the columns it names and keeps the others; `null` clears a nullable
/// column.
pub async fn extra_update_user_merges_partial_update<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = user_with(json!({ "username": "merge", "email": "merge@example.com", "age": 30, "admin": false }));
    let other = generate_user();
    db.insert_user(&user).await;
    db.insert_user(&other).await;
    adapter.update_user(&user.id, attributes(json!({ "age": 31 }))).await.unwrap();
    let expected = with(&user, json!({ "username": "merge", "email": "merge@example.com", "age": 31, "admin": false }));
    assert_rows!(db.users().await, vec![expected.clone(), other.clone()]);
    adapter.update_user(&user.id, attributes(json!({ "email": null, "admin": true }))).await.unwrap();
    let expected = with(&user, json!({ "username": "merge", "age": 31, "admin": true }));
    assert_rows!(db.users().await, vec![expected.clone(), other]);
    assert_rows!(adapter.get_user(&user.id).await.unwrap(), Some(expected));
}

/// A session update sets the attribute columns it names and keeps the others and the
/// expiries; `null` clears a nullable column.
pub async fn extra_update_session_merges_partial_update<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = generate_user();
    db.insert_user(&user).await;
    let (session, other) = (session_with_ip(&user.id), session_with_ip(&user.id));
    db.insert_session(&session).await;
    db.insert_session(&other).await;
    let ip = |session: &DatabaseSession, value: Value| {
        let mut session = session.clone();
        session.attributes.insert("ip".into(), value);
        session
    };
    let update = SessionUpdate { expires: None, attributes: attributes(json!({ "ip": "192.0.2.2" })) };
    adapter.update_session(&session.id, update).await.unwrap();
    let expected = ip(&session, json!("192.0.2.2"));
    assert_rows!(db.sessions().await, vec![expected.clone(), other.clone()]);
    let update = SessionUpdate { expires: None, attributes: attributes(json!({ "country": "YY", "ip": null })) };
    adapter.update_session(&session.id, update).await.unwrap();
    let mut expected = ip(&session, Value::Null);
    expected.attributes.insert("country".into(), json!("YY"));
    assert_rows!(db.sessions().await, vec![expected.clone(), other]);
    assert_rows!(adapter.get_session(&session.id).await.unwrap(), Some(expected));
}

/// With a schema, a value its column cannot hold (text in `age` or `admin`, a number in
/// `country`, `null` in `username`) or a missing `NOT NULL` column is `InvalidAttributes`
/// before anything is written. Without a schema, the value is stored as given.
pub async fn extra_values_that_do_not_fit_the_column<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = generate_user();
    db.insert_user(&user).await;
    let text_age = user_with(json!({ "username": "textage", "age": "old" }));
    let key = generate_key(Some(&text_age.id));
    let numeric_country =
        DatabaseSession { attributes: attributes(json!({ "country": 7 })), ..generate_session(Some(&user.id)) };
    let text_admin = attributes(json!({ "admin": "yes" }));
    if t.capabilities().schema {
        assert_err!(adapter.set_user(text_age, Some(key)).await, AdapterError::InvalidAttributes(_));
        let no_username = user_with(json!({ "age": 1 }));
        assert_err!(adapter.set_user(no_username, None).await, AdapterError::InvalidAttributes(_));
        let null_username = user_with(json!({ "username": null }));
        assert_err!(adapter.set_user(null_username, None).await, AdapterError::InvalidAttributes(_));
        assert_err!(adapter.update_user(&user.id, text_admin).await, AdapterError::InvalidAttributes(_));
        let cleared = attributes(json!({ "username": null }));
        assert_err!(adapter.update_user(&user.id, cleared).await, AdapterError::InvalidAttributes(_));
        assert_err!(adapter.set_session(numeric_country).await, AdapterError::InvalidAttributes(_));
        assert_rows!(db.users().await, vec![user]);
        assert_rows!(db.keys().await, vec![]);
        assert_rows!(db.sessions().await, vec![]);
    } else {
        adapter.set_user(text_age.clone(), Some(key.clone())).await.unwrap();
        adapter.update_user(&user.id, text_admin.clone()).await.unwrap();
        adapter.set_session(numeric_country.clone()).await.unwrap();
        let mut updated = user.clone();
        updated.attributes.extend(text_admin);
        assert_rows!(db.users().await, vec![updated, text_age.clone()]);
        assert_rows!(adapter.get_user(&text_age.id).await.unwrap(), Some(text_age));
        assert_rows!(db.keys().await, vec![key]);
        assert_rows!(db.sessions().await, vec![numeric_country]);
    }
}

/// Integers (beyond 32 bits, and negative), booleans and nulls round-trip through inserts,
/// updates, lookups and the session join, as JSON numbers and booleans, not strings.
pub async fn extra_attributes_that_are_not_strings_round_trip<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user1 = user_with(json!({
        "username": "typed1", "email": "typed@example.com", "age": 1_099_511_627_776_i64, "admin": true,
    }));
    let user2 = user_with(json!({ "username": "typed2", "email": null, "age": -7, "admin": false }));
    let key = generate_key(Some(&user1.id));
    adapter.set_user(user1.clone(), Some(key)).await.unwrap();
    adapter.set_user(user2.clone(), None).await.unwrap();
    assert_rows!(db.users().await, vec![user1.clone(), user2.clone()]);
    assert_rows!(adapter.get_user(&user1.id).await.unwrap(), Some(user1.clone()));
    assert_rows!(adapter.get_user(&user2.id).await.unwrap(), Some(user2.clone()));
    let session = generate_session(Some(&user1.id));
    adapter.set_session(session.clone()).await.unwrap();
    assert_rows!(adapter.get_session_and_user(&session.id).await.unwrap(), Some((session, user1.clone())));

    adapter.update_user(&user2.id, attributes(json!({ "age": 0, "admin": true }))).await.unwrap();
    adapter.update_user(&user1.id, attributes(json!({ "age": null, "admin": false }))).await.unwrap();
    let user1 = with(&user1, json!({ "username": "typed1", "email": "typed@example.com", "admin": false }));
    let user2 = with(&user2, json!({ "username": "typed2", "age": 0, "admin": true }));
    assert_rows!(db.users().await, vec![user1.clone(), user2.clone()]);
    assert_rows!(adapter.get_user(&user1.id).await.unwrap(), Some(user1));
    assert_rows!(adapter.get_user(&user2.id).await.unwrap(), Some(user2));
}

/// `null`s in a unique nullable column (`email`) never clash, on insert or update; equal
/// non-null values do, as `DuplicateAttribute { column: Some("email") }`, and write nothing.
pub async fn extra_nulls_in_unique_columns_never_clash<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let a = user_with(json!({ "username": "nulla", "email": null }));
    let b = user_with(json!({ "username": "nullb", "email": null }));
    let c = user_with(json!({ "username": "nullc", "email": "c@example.com" }));
    for user in [&a, &b, &c] {
        adapter.set_user(user.clone(), None).await.unwrap();
    }
    adapter.update_user(&b.id, attributes(json!({ "email": null, "age": 1 }))).await.unwrap();
    let b = with(&b, json!({ "username": "nullb", "age": 1 }));
    let d = user_with(json!({ "username": "nulld", "email": "c@example.com" }));
    let to_c = attributes(json!({ "email": "c@example.com" }));
    match t.capabilities().nullable_unique_user_attribute {
        Some(column) => {
            let key = generate_key(Some(&d.id));
            assert_duplicate_attribute(adapter.set_user(d, Some(key)).await, column);
            assert_duplicate_attribute(adapter.update_user(&a.id, to_c.clone()).await, column);
            assert_rows!(db.users().await, vec![a.clone(), b.clone(), c.clone()]);
            assert_rows!(db.keys().await, vec![]);
            adapter.update_user(&c.id, attributes(json!({ "email": null }))).await.unwrap();
            adapter.update_user(&a.id, to_c).await.unwrap();
            let (a, c) = (
                with(&a, json!({ "username": "nulla", "email": "c@example.com" })),
                with(&c, json!({ "username": "nullc" })),
            );
            assert_rows!(db.users().await, vec![a, b, c]);
        }
        None => {
            adapter.set_user(d.clone(), None).await.unwrap();
            adapter.update_user(&a.id, to_c).await.unwrap();
            let a = with(&a, json!({ "username": "nulla", "email": "c@example.com" }));
            assert_rows!(db.users().await, vec![a, b, c, d]);
        }
    }
}

/// User ids are case-sensitive: users, their keys and their sessions whose user ids differ
/// only in case are different rows, found and deleted separately.
pub async fn extra_user_ids_are_case_sensitive<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let base = lucia::generate_random_string(8);
    let lower = user_with_id(&format!("u{base}"), "lowercase");
    let upper = user_with_id(&format!("U{}", base.to_uppercase()), "uppercase");
    let (lower_key, upper_key) = (generate_key(Some(&lower.id)), generate_key(Some(&upper.id)));
    adapter.set_user(lower.clone(), Some(lower_key.clone())).await.unwrap();
    assert_rows!(adapter.get_user(&upper.id).await.unwrap(), None);
    adapter.set_user(upper.clone(), Some(upper_key.clone())).await.unwrap();
    assert_rows!(adapter.get_user(&upper.id).await.unwrap(), Some(upper.clone()));
    assert_rows!(adapter.get_user(&lower.id).await.unwrap(), Some(lower.clone()));
    assert_rows!(adapter.get_keys_by_user_id(&upper.id).await.unwrap(), vec![upper_key.clone()]);
    let (lower_session, upper_session) = (generate_session(Some(&lower.id)), generate_session(Some(&upper.id)));
    adapter.set_session(lower_session.clone()).await.unwrap();
    adapter.set_session(upper_session.clone()).await.unwrap();
    assert_rows!(adapter.get_sessions_by_user_id(&lower.id).await.unwrap(), vec![lower_session.clone()]);
    assert_rows!(
        adapter.get_session_and_user(&upper_session.id).await.unwrap(),
        Some((upper_session.clone(), upper.clone()))
    );
    adapter.delete_sessions_by_user_id(&upper.id).await.unwrap();
    adapter.delete_keys_by_user_id(&upper.id).await.unwrap();
    adapter.delete_user(&upper.id).await.unwrap();
    assert_rows!(db.users().await, vec![lower]);
    assert_rows!(db.keys().await, vec![lower_key]);
    assert_rows!(db.sessions().await, vec![lower_session]);
}

/// The trait says "dead or alive": a dead session (and an idle one) is still returned by
/// `get_session`, `get_sessions_by_user_id` and `get_session_and_user`; only the core decides
/// liveness.
pub async fn extra_dead_sessions_are_still_returned<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = generate_user();
    db.insert_user(&user).await;
    let (live, idle, dead) = live_idle_dead(&user.id);
    for session in [&live, &idle, &dead] {
        db.insert_session(session).await;
    }
    assert_rows!(adapter.get_session(&dead.id).await.unwrap(), Some(dead.clone()));
    assert_rows!(adapter.get_session(&idle.id).await.unwrap(), Some(idle.clone()));
    assert_rows!(adapter.get_session_and_user(&dead.id).await.unwrap(), Some((dead.clone(), user)));
    assert_rows!(adapter.get_sessions_by_user_id(&live.user_id).await.unwrap(), vec![live, idle, dead]);
}

/// A session whose user is gone never yields a user from `get_session_and_user` (the
/// session itself is still returned by `get_session`). Without foreign keys the suite makes
/// such sessions (of a user never stored, and of a user deleted alone); with foreign keys
/// they cannot exist, and a user deleted with its sessions leaves none.
pub async fn extra_session_of_a_user_that_is_gone_yields_no_user<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let (user, gone) = (generate_user(), generate_user());
    db.insert_user(&user).await;
    db.insert_user(&gone).await;
    let own = generate_session(Some(&user.id));
    let orphan = generate_session(Some(&gone.id));
    db.insert_session(&own).await;
    db.insert_session(&orphan).await;
    if t.capabilities().foreign_keys {
        adapter.delete_user_cascade(&gone.id).await.unwrap();
        assert_rows!(adapter.get_session_and_user(&orphan.id).await.unwrap(), None);
    } else {
        adapter.delete_user(&gone.id).await.unwrap();
        let never = generate_session(None);
        db.insert_session(&never).await;
        assert_rows!(adapter.get_session(&orphan.id).await.unwrap(), Some(orphan.clone()));
        assert_rows!(adapter.get_session(&never.id).await.unwrap(), Some(never.clone()));
        assert_rows!(adapter.get_session_and_user(&orphan.id).await.unwrap(), None);
        assert_rows!(adapter.get_session_and_user(&never.id).await.unwrap(), None);
    }
    assert_rows!(adapter.get_session_and_user(&own.id).await.unwrap(), Some((own, user)));
}

/// With foreign keys, a key (alone or as a new user's first key) or a session of an unknown
/// user is `InvalidUserId` and writes nothing. Without them, each is stored.
pub async fn extra_foreign_keys_refuse_unknown_users<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = generate_user();
    db.insert_user(&user).await;
    let (orphan_key, orphan_session) = (generate_key(None), generate_session(None));
    let newcomer = generate_user();
    let foreign_key = generate_key(None);
    let existing_users_key = generate_key(Some(&user.id));
    let second = generate_user();
    // A new user's first key may belong to another, existing user.
    adapter.set_user(second.clone(), Some(existing_users_key.clone())).await.unwrap();
    if t.capabilities().foreign_keys {
        assert_err!(adapter.set_key(orphan_key).await, AdapterError::InvalidUserId);
        assert_err!(adapter.set_session(orphan_session).await, AdapterError::InvalidUserId);
        assert_err!(adapter.set_user(newcomer, Some(foreign_key)).await, AdapterError::InvalidUserId);
        assert_rows!(db.users().await, vec![user, second]);
        assert_rows!(db.keys().await, vec![existing_users_key]);
        assert_rows!(db.sessions().await, vec![]);
    } else {
        adapter.set_key(orphan_key.clone()).await.unwrap();
        adapter.set_session(orphan_session.clone()).await.unwrap();
        adapter.set_user(newcomer.clone(), Some(foreign_key.clone())).await.unwrap();
        assert_rows!(db.users().await, vec![user, second, newcomer]);
        assert_rows!(db.keys().await, vec![existing_users_key, orphan_key, foreign_key]);
        assert_rows!(db.sessions().await, vec![orphan_session]);
    }
}

/// `delete_user` of a user that still has a key, or a session: with foreign keys it either
/// fails and changes nothing, or deletes them too (a cascading store), never leaving
/// orphans. Without foreign keys it deletes the user row only.
pub async fn extra_delete_user_leaves_no_orphans<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let (with_key, with_session, bystander) = (generate_user(), generate_user(), generate_user());
    let key = generate_key(Some(&with_key.id));
    let session = generate_session(Some(&with_session.id));
    for user in [&with_key, &with_session, &bystander] {
        db.insert_user(user).await;
    }
    db.insert_key(&key).await;
    db.insert_session(&session).await;
    let foreign_keys = t.capabilities().foreign_keys;
    for user in [&with_key, &with_session] {
        let (users, keys, sessions) = (db.users().await, db.keys().await, db.sessions().await);
        let result = adapter.delete_user(&user.id).await;
        let after = (db.users().await, (db.keys().await, db.sessions().await));
        let others_users: Vec<DatabaseUser> = users.iter().filter(|u| u.id != user.id).cloned().collect();
        match result {
            Err(_) if foreign_keys => assert_rows!(after, (users, (keys, sessions)), "a failed delete changes nothing"),
            Ok(()) if foreign_keys => {
                let keys: Vec<DatabaseKey> = keys.into_iter().filter(|k| k.user_id != user.id).collect();
                let sessions: Vec<DatabaseSession> = sessions.into_iter().filter(|s| s.user_id != user.id).collect();
                assert_rows!(after, (others_users, (keys, sessions)), "a cascading delete leaves no orphan");
            }
            Ok(()) => assert_rows!(after, (others_users, (keys, sessions)), "only the user row goes"),
            Err(error) => panic!("without foreign keys delete_user deletes the user row: {error:?}"),
        }
    }
    assert!(db.users().await.iter().any(|u| u.id == bystander.id));
}

/// `replace_key_password` is a compare-and-set: it replaces the hash and says `true` only if
/// the key still has `current`; otherwise it says `false` and changes nothing (a key without
/// password, an unknown key, another key with the same hash).
pub async fn extra_replace_key_password_compares_and_sets<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let user = generate_user();
    db.insert_user(&user).await;
    let with_password =
        |hash: Option<&str>| DatabaseKey { hashed_password: hash.map(str::to_owned), ..generate_key(Some(&user.id)) };
    let (key1, key2, key3) = (with_password(Some("A")), with_password(Some("A")), with_password(None));
    for key in [&key1, &key2, &key3] {
        db.insert_key(key).await;
    }
    let hashed = |key: &DatabaseKey, hash: &str| DatabaseKey { hashed_password: Some(hash.into()), ..key.clone() };
    assert!(adapter.replace_key_password(&key1.id, "A", "B").await.unwrap());
    assert_rows!(db.keys().await, vec![hashed(&key1, "B"), key2.clone(), key3.clone()]);
    assert!(!adapter.replace_key_password(&key1.id, "A", "C").await.unwrap());
    assert!(!adapter.replace_key_password(&key3.id, "", "C").await.unwrap());
    assert!(!adapter.replace_key_password(INVALID_ID, "A", "C").await.unwrap());
    assert_rows!(db.keys().await, vec![hashed(&key1, "B"), key2.clone(), key3.clone()]);
    assert!(adapter.replace_key_password(&key1.id, "B", "D").await.unwrap());
    assert_rows!(db.keys().await, vec![hashed(&key1, "D"), key2, key3]);
}

/// `delete_user_cascade` deletes the user with all its keys and sessions (dead ones too), and
/// nothing of any other user; an unknown user is no error.
pub async fn extra_delete_user_cascade_removes_only_that_user<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let (doomed, kept) = (populated_user(db).await, populated_user(db).await);
    adapter.delete_user_cascade(&doomed.0.id).await.unwrap();
    adapter.delete_user_cascade(INVALID_ID).await.unwrap();
    assert_rows!(db.users().await, vec![kept.0]);
    assert_rows!(db.keys().await, kept.1);
    assert_rows!(db.sessions().await, kept.2);
}

/// `update_key_and_end_sessions` sets that key's hash (or removes it) and deletes every
/// session of that user (dead ones too), and nothing else: the user's other keys and other
/// users' keys and sessions are untouched.
pub async fn extra_update_key_and_end_sessions_touches_only_that_user<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let (changing, other) = (populated_user(db).await, populated_user(db).await);
    let key = &changing.1[0];
    adapter.update_key_and_end_sessions(&key.id, Some("NEW"), &changing.0.id).await.unwrap();
    let mut keys = changing.1.clone();
    keys[0].hashed_password = Some("NEW".into());
    assert_rows!(db.keys().await, keys.iter().chain(&other.1).cloned().collect::<Vec<_>>());
    assert_rows!(db.sessions().await, other.2.clone());
    let fresh = generate_session(Some(&changing.0.id));
    db.insert_session(&fresh).await;
    adapter.update_key_and_end_sessions(&key.id, None, &changing.0.id).await.unwrap();
    keys[0].hashed_password = None;
    assert_rows!(db.keys().await, keys.into_iter().chain(other.1).collect::<Vec<_>>());
    assert_rows!(db.sessions().await, other.2);
    assert_rows!(db.users().await, vec![changing.0, other.0]);
}

/// Sign-ups racing for one user id (each with its own key) on a multi-threaded runtime:
/// exactly one wins; the others get `DuplicateUserId` and leave no key.
pub async fn extra_concurrent_sign_ups_for_one_user_id_have_one_winner<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let id = lucia::generate_random_string(8);
    let users: Vec<DatabaseUser> = (0..4).map(|_| DatabaseUser { id: id.clone(), ..generate_user() }).collect();
    let keys: Vec<DatabaseKey> = (0..4).map(|_| generate_key(Some(&id))).collect();
    let results = race(&t, 4, |t, i| {
        let (user, key) = (users[i].clone(), keys[i].clone());
        async move { t.adapter().set_user(user, Some(key)).await }
    })
    .await;
    let winner = one_winner(&results, |e| matches!(e, AdapterError::DuplicateUserId));
    assert_rows!(t.database().users().await, vec![users[winner].clone()]);
    assert_rows!(t.database().keys().await, vec![keys[winner].clone()]);
}

/// Sign-ups racing for one unique attribute value (different ids, each with a key): exactly
/// one wins; the others get `DuplicateAttribute` naming the column and leave nothing. Without
/// a declared unique column, all succeed.
pub async fn extra_concurrent_sign_ups_for_one_unique_attribute_have_one_winner<F: Fixture<Adapter: Adapter>>(
    t: Arc<F>,
) {
    let username = lucia::generate_random_string(6);
    let users: Vec<DatabaseUser> = (0..4).map(|_| user_with(json!({ "username": username }))).collect();
    let keys: Vec<DatabaseKey> = users.iter().map(|user| generate_key(Some(&user.id))).collect();
    let results = race(&t, 4, |t, i| {
        let (user, key) = (users[i].clone(), keys[i].clone());
        async move { t.adapter().set_user(user, Some(key)).await }
    })
    .await;
    let Some(column) = t.capabilities().unique_user_attribute else {
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_rows!(t.database().users().await, users);
        assert_rows!(t.database().keys().await, keys);
        return;
    };
    let winner = one_winner(&results, |e| is_duplicate_attribute(e, column));
    assert_rows!(t.database().users().await, vec![users[winner].clone()]);
    assert_rows!(t.database().keys().await, vec![keys[winner].clone()]);
}

/// Updates racing to give several users one unique value: exactly one wins; the others get
/// `DuplicateAttribute` and keep their rows. Without a declared unique column, all succeed.
pub async fn extra_concurrent_updates_to_one_unique_value_have_one_winner<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let users: Vec<DatabaseUser> = (0..4).map(|_| generate_user()).collect();
    for user in &users {
        t.database().insert_user(user).await;
    }
    let wanted = attributes(json!({ "username": lucia::generate_random_string(6) }));
    let results = race(&t, 4, |t, i| {
        let (id, wanted) = (users[i].id.clone(), wanted.clone());
        async move { t.adapter().update_user(&id, wanted).await }
    })
    .await;
    let updated = |user: &DatabaseUser| DatabaseUser { id: user.id.clone(), attributes: wanted.clone() };
    let Some(column) = t.capabilities().unique_user_attribute else {
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_rows!(t.database().users().await, users.iter().map(updated).collect::<Vec<_>>());
        return;
    };
    let winner = one_winner(&results, |e| is_duplicate_attribute(e, column));
    let expected: Vec<DatabaseUser> =
        users.iter().enumerate().map(|(i, user)| if i == winner { updated(user) } else { user.clone() }).collect();
    assert_rows!(t.database().users().await, expected);
}

/// Compare-and-sets racing on one key's hash: exactly one says `true`, and its hash is the
/// one stored.
pub async fn extra_concurrent_password_replacements_have_one_winner<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let user = generate_user();
    let key = DatabaseKey { hashed_password: Some("OLD".into()), ..generate_key(Some(&user.id)) };
    t.database().insert_user(&user).await;
    t.database().insert_key(&key).await;
    let results = race(&t, 4, |t, i| {
        let key_id = key.id.clone();
        async move { t.adapter().replace_key_password(&key_id, "OLD", &format!("NEW{i}")).await }
    })
    .await;
    let winners: Vec<usize> = (0..4).filter(|&i| matches!(results[i], Ok(true))).collect();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(winners.len(), 1, "{results:?}");
    let expected = DatabaseKey { hashed_password: Some(format!("NEW{}", winners[0])), ..key };
    assert_rows!(t.database().keys().await, vec![expected]);
}

/// Sessions racing for one id: exactly one is stored; the others get `DuplicateSessionId`.
pub async fn extra_concurrent_sessions_for_one_id_have_one_winner<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let user = generate_user();
    t.database().insert_user(&user).await;
    let id = generate_session(None).id;
    let sessions: Vec<DatabaseSession> = (0..4)
        .map(|i| DatabaseSession { id: id.clone(), active_expires: i, ..generate_session(Some(&user.id)) })
        .collect();
    let results = race(&t, 4, |t, i| {
        let session = sessions[i].clone();
        async move { t.adapter().set_session(session).await }
    })
    .await;
    let winner = one_winner(&results, |e| matches!(e, AdapterError::DuplicateSessionId));
    assert_rows!(t.database().sessions().await, vec![sessions[winner].clone()]);
}

/// Keys and sessions inserted for a user while `delete_user_cascade` deletes it, on a
/// multi-threaded runtime, five rounds: the cascade always succeeds; each insert either
/// succeeds (and, with foreign keys, is deleted by the cascade) or, with foreign keys, is
/// `InvalidUserId`; never a store error (a deadlock the store must resolve itself). With
/// foreign keys nothing of the user is left.
pub async fn extra_concurrent_inserts_against_delete_user_cascade<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    race_inserts_against_delete(&t, Delete::Cascade).await;
}

/// `delete_user_and_keys` deletes the user with all its keys, and nothing of any other user;
/// an unknown user is no error.
pub async fn extra_delete_user_and_keys_removes_only_that_user<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let (doomed, kept, _, kept_key) = two_users_with_a_key_each(db).await;
    db.insert_key(&generate_key(Some(&doomed.id))).await;
    adapter.delete_user_and_keys(&doomed.id).await.unwrap();
    adapter.delete_user_and_keys(INVALID_ID).await.unwrap();
    assert_rows!(db.users().await, vec![kept]);
    assert_rows!(db.keys().await, vec![kept_key]);
}

/// Keys inserted for a user while `delete_user_and_keys` deletes it (how a split store
/// deletes users), as [`extra_concurrent_inserts_against_delete_user_cascade`]: the delete
/// always succeeds; each insert succeeds or, with foreign keys, is `InvalidUserId`.
pub async fn extra_concurrent_key_inserts_against_delete_user_and_keys<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    race_inserts_against_delete(&t, Delete::UserAndKeys).await;
}

/// `delete_key_unless_last` deletes a key of the user while another way to sign in remains,
/// refuses the last one, leaves another user's key alone (`NotFound`), and does not count keys
/// of uncounted providers (which it always deletes).
pub async fn extra_delete_key_unless_last_keeps_the_last_sign_in_method<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    use SignInMethodDeletion::{Deleted, LastSignInMethod, NotFound};
    let (adapter, db) = (t.adapter(), t.database());
    let (ada, bob, ada_key, bob_key) = two_users_with_a_key_each(db).await;
    assert_eq!(adapter.delete_key_unless_last(&ada.id, &ada_key.id, &[]).await.unwrap(), LastSignInMethod);
    assert_eq!(adapter.delete_key_unless_last(&bob.id, &ada_key.id, &[]).await.unwrap(), NotFound);
    assert_eq!(adapter.delete_key_unless_last(&ada.id, INVALID_ID, &[]).await.unwrap(), NotFound);
    assert_rows!(db.keys().await, vec![ada_key.clone(), bob_key.clone()]);

    let second = generate_key(Some(&ada.id));
    db.insert_key(&second).await;
    assert_eq!(adapter.delete_key_unless_last(&bob.id, &second.id, &[]).await.unwrap(), NotFound);
    assert_eq!(adapter.delete_key_unless_last(&ada.id, &ada_key.id, &[]).await.unwrap(), Deleted);
    assert_eq!(adapter.delete_key_unless_last(&ada.id, &second.id, &[]).await.unwrap(), LastSignInMethod);
    assert_rows!(db.keys().await, vec![bob_key.clone(), second.clone()]);

    // An `email:` key that only finds the user signs no one in when `email` is uncounted.
    let email = DatabaseKey { id: format!("email:{}", ada.id), user_id: ada.id.clone(), hashed_password: None };
    db.insert_key(&email).await;
    assert_eq!(adapter.delete_key_unless_last(&ada.id, &second.id, &["email"]).await.unwrap(), LastSignInMethod);
    assert_eq!(adapter.delete_key_unless_last(&ada.id, &email.id, &["email"]).await.unwrap(), Deleted);
    db.insert_key(&email).await;
    assert_eq!(adapter.delete_key_unless_last(&ada.id, &second.id, &["mail", "github"]).await.unwrap(), Deleted);
    assert_rows!(db.keys().await, vec![bob_key, email]);
}

/// Two removals at once of a user's two keys with `delete_key_unless_last`, round after round:
/// one deletes its key, the other is refused as the last way to sign in, and one key remains.
pub async fn extra_concurrent_key_removals_keep_one_sign_in_method<F: Fixture<Adapter: Adapter>>(t: Arc<F>) {
    for round in 0..30 {
        let user = generate_user();
        t.database().insert_user(&user).await;
        let keys = [generate_key(Some(&user.id)), generate_key(Some(&user.id))];
        for key in &keys {
            t.database().insert_key(key).await;
        }
        let outcomes = race(&t, 2, |t, i| {
            let (user_id, key_id) = (user.id.clone(), keys[i].id.clone());
            async move { t.adapter().delete_key_unless_last(&user_id, &key_id, &[]).await.unwrap() }
        })
        .await;
        let left = t.adapter().get_keys_by_user_id(&user.id).await.unwrap();
        assert_eq!(left.len(), 1, "round {round}: {outcomes:?}");
        assert!(outcomes.contains(&SignInMethodDeletion::Deleted), "round {round}: {outcomes:?}");
        assert!(outcomes.contains(&SignInMethodDeletion::LastSignInMethod), "round {round}: {outcomes:?}");
    }
}

/// Which delete [`race_inserts_against_delete`] races.
#[derive(Clone, Copy, Debug)]
enum Delete {
    /// `delete_user_cascade`, raced by one key insert and two session inserts.
    Cascade,
    /// `delete_user_and_keys`, raced by three key inserts (a session would keep the user).
    UserAndKeys,
}

async fn race_inserts_against_delete<F: Fixture<Adapter: Adapter>>(t: &Arc<F>, delete: Delete) {
    let foreign_keys = t.capabilities().foreign_keys;
    for _ in 0..5 {
        let user = match delete {
            Delete::Cascade => populated_user(t.database()).await.0,
            Delete::UserAndKeys => {
                let (user, _, _, _) = two_users_with_a_key_each(t.database()).await;
                user
            }
        };
        let results = race(t, 4, |t, i| {
            let user_id = user.id.clone();
            async move {
                let adapter = t.adapter();
                match (i, delete) {
                    (0, Delete::Cascade) => adapter.delete_user_cascade(&user_id).await,
                    (0, Delete::UserAndKeys) => adapter.delete_user_and_keys(&user_id).await,
                    (1, _) | (_, Delete::UserAndKeys) => adapter.set_key(generate_key(Some(&user_id))).await,
                    (_, Delete::Cascade) => adapter.set_session(generate_session(Some(&user_id))).await,
                }
            }
        })
        .await;
        assert!(results[0].is_ok(), "{delete:?} failed: {results:?}");
        for result in &results[1..] {
            let refused = foreign_keys && matches!(result, Err(AdapterError::InvalidUserId));
            assert!(result.is_ok() || refused, "an insert racing {delete:?}: {results:?}");
        }
        assert!(t.database().users().await.iter().all(|u| u.id != user.id));
        if foreign_keys {
            assert!(t.database().keys().await.iter().all(|k| k.user_id != user.id), "orphan key: {results:?}");
            assert!(t.database().sessions().await.iter().all(|s| s.user_id != user.id), "orphan: {results:?}");
        }
    }
}

// ---- helpers ------------------------------------------------------------------------------

/// Lucia's "optionally throws AUTH_INVALID_USER_ID": stores without foreign keys may accept.
fn assert_ok_or_invalid_user_id(result: Result<(), AdapterError>) {
    if let Err(error) = result {
        assert!(matches!(error, AdapterError::InvalidUserId), "expected InvalidUserId or success, got {error:?}");
    }
}

pub(crate) fn is_duplicate_attribute(error: &AdapterError, column: &str) -> bool {
    matches!(error, AdapterError::DuplicateAttribute { column: Some(taken) } if taken == column)
}

fn assert_duplicate_attribute(result: Result<(), AdapterError>, column: &str) {
    match result {
        Err(error) if is_duplicate_attribute(&error, column) => {}
        other => panic!("expected DuplicateAttribute {{ column: Some({column:?}) }}, got {other:?}"),
    }
}

/// The index of the one success among race results, checking that every other attempt
/// failed with the expected error.
pub(crate) fn one_winner(results: &[Result<(), AdapterError>], loser: impl Fn(&AdapterError) -> bool) -> usize {
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "exactly one winner: {results:?}");
    for result in results {
        if let Err(error) = result {
            assert!(loser(error), "a loser got the wrong error: {results:?}");
        }
    }
    results.iter().position(Result::is_ok).unwrap_or_default()
}

async fn two_users_with_a_key_each(db: &impl TestDatabase) -> (DatabaseUser, DatabaseUser, DatabaseKey, DatabaseKey) {
    let (user1, user2) = (generate_user(), generate_user());
    let (key1, key2) = (generate_key(Some(&user1.id)), generate_key(Some(&user2.id)));
    for user in [&user1, &user2] {
        db.insert_user(user).await;
    }
    for key in [&key1, &key2] {
        db.insert_key(key).await;
    }
    (user1, user2, key1, key2)
}

async fn two_users_with_a_session_each(
    db: &impl TestDatabase,
) -> (DatabaseUser, DatabaseUser, DatabaseSession, DatabaseSession) {
    let (user1, user2) = (generate_user(), generate_user());
    let (session1, session2) = (generate_session(Some(&user1.id)), generate_session(Some(&user2.id)));
    for user in [&user1, &user2] {
        db.insert_user(user).await;
    }
    for session in [&session1, &session2] {
        db.insert_session(session).await;
    }
    (user1, user2, session1, session2)
}

/// A user with two keys (one with a password) and three sessions (live, idle, dead), stored.
async fn populated_user(db: &impl TestDatabase) -> (DatabaseUser, Vec<DatabaseKey>, Vec<DatabaseSession>) {
    let user = generate_user();
    db.insert_user(&user).await;
    let keys = vec![
        DatabaseKey { hashed_password: Some("OLD".into()), ..generate_key(Some(&user.id)) },
        DatabaseKey { hashed_password: Some("OLD".into()), ..generate_key(Some(&user.id)) },
    ];
    let (live, idle, dead) = live_idle_dead(&user.id);
    let sessions = vec![live, idle, dead];
    for key in &keys {
        db.insert_key(key).await;
    }
    for session in &sessions {
        db.insert_session(session).await;
    }
    (user, keys, sessions)
}

pub(crate) fn attributes(value: Value) -> AttributeMap {
    crate::attributes(value)
}

/// A user with a random id and these attributes.
fn user_with(value: Value) -> DatabaseUser {
    DatabaseUser { id: lucia::generate_random_string(8), attributes: attributes(value) }
}

fn user_with_id(id: &str, username: &str) -> DatabaseUser {
    DatabaseUser { id: id.to_owned(), attributes: attributes(json!({ "username": username })) }
}

/// `user` with these attributes instead of its own.
fn with(user: &DatabaseUser, value: Value) -> DatabaseUser {
    DatabaseUser { id: user.id.clone(), attributes: attributes(value) }
}

/// A session of `user_id` with both attribute columns set.
pub(crate) fn session_with_ip(user_id: &str) -> DatabaseSession {
    let mut session = generate_session(Some(user_id));
    session.attributes.insert("ip".into(), json!("192.0.2.1"));
    session
}

/// A live, an idle (active period over) and a dead session of `user_id`.
pub(crate) fn live_idle_dead(user_id: &str) -> (DatabaseSession, DatabaseSession, DatabaseSession) {
    let now = now_ms();
    let session = |active_expires: i64, idle_expires: i64| DatabaseSession {
        active_expires,
        idle_expires,
        ..generate_session(Some(user_id))
    };
    (session(now + 60_000, now + 120_000), session(now - 60_000, now + 60_000), session(now - 120_000, now - 60_000))
}

/// Live, dead and exactly-at-boundary sessions of `user_id`, and a dead one of `other`.
pub(crate) fn dead_and_alive(
    user_id: &str,
    other: &str,
) -> (DatabaseSession, DatabaseSession, DatabaseSession, DatabaseSession) {
    let now = now_ms();
    let with_idle = |user: &str, idle: i64| DatabaseSession {
        active_expires: idle - 1_000,
        idle_expires: idle,
        ..generate_session(Some(user))
    };
    (with_idle(user_id, now + 60_000), with_idle(user_id, now - 1), with_idle(user_id, now), with_idle(other, now - 1))
}

/// For the global sweep: `now`, the sessions it keeps (live, and one expiring exactly at
/// `now`) and the three it deletes (dead, of both users).
pub(crate) fn sweep_sessions(user1: &str, user2: &str) -> (i64, Vec<DatabaseSession>, Vec<DatabaseSession>) {
    let now = now_ms();
    let with_idle = |user: &str, idle: i64| DatabaseSession {
        active_expires: idle - 1_000,
        idle_expires: idle,
        ..generate_session(Some(user))
    };
    let kept = vec![with_idle(user1, now + 60_000), with_idle(user2, now)];
    let dead = vec![with_idle(user1, now - 1), with_idle(user2, now - 1), with_idle(user2, now - 86_400_000)];
    (now, kept, dead)
}

/// A copy of a user with the same id and a different username.
fn same_id_new_username(user: &DatabaseUser) -> DatabaseUser {
    DatabaseUser { id: user.id.clone(), attributes: generate_user().attributes }
}

/// A session with an attribute that names no column.
pub(crate) fn session_with_unknown_column(user_id: &str) -> DatabaseSession {
    let mut session = generate_session(Some(user_id));
    session.attributes.insert("no_such_column".into(), json!("x"));
    session
}
