//! Cases for a full [`Adapter`]: Lucia's `testAdapter` (34 cases, in its order and with its
//! names) followed by this suite's additions (`extra_*`).

use lucia::{Adapter, AdapterError, AttributeMap, DatabaseKey, DatabaseUser, SessionUpdate};
use serde_json::json;

use crate::{INVALID_ID, TestDatabase, generate_key, generate_session, generate_user, now_ms, sorted};

macro_rules! assert_err {
    ($result:expr, $pattern:pat) => {
        match $result {
            Err($pattern) => {}
            other => panic!("expected {}, got {other:?}", stringify!($pattern)),
        }
    };
}

// ---- getUser() ----------------------------------------------------------------------------

/// `getUser()` › Returns target user.
pub async fn get_user_returns_target_user(adapter: &impl Adapter, db: &impl TestDatabase) {
    let user = generate_user();
    db.insert_user(&user).await;
    assert_eq!(adapter.get_user(&user.id).await.unwrap(), Some(user));
}

/// `getUser()` › Returns null if invalid target user id.
pub async fn get_user_returns_none_if_invalid_target_user_id(adapter: &impl Adapter, _db: &impl TestDatabase) {
    assert_eq!(adapter.get_user(INVALID_ID).await.unwrap(), None);
}

// ---- setUser() ----------------------------------------------------------------------------

/// `setUser()` › Inserts user only.
pub async fn set_user_inserts_user_only(adapter: &impl Adapter, db: &impl TestDatabase) {
    let user = generate_user();
    adapter.set_user(user.clone(), None).await.unwrap();
    assert_eq!(db.users().await, vec![user]);
    assert_eq!(db.keys().await, vec![]);
}

/// `setUser()` › Inserts user and key.
pub async fn set_user_inserts_user_and_key(adapter: &impl Adapter, db: &impl TestDatabase) {
    let user = generate_user();
    let key = generate_key(Some(&user.id));
    adapter.set_user(user.clone(), Some(key.clone())).await.unwrap();
    assert_eq!(db.users().await, vec![user]);
    assert_eq!(db.keys().await, vec![key]);
}

/// `setUser()` › Throws AUTH_DUPLICATE_KEY_ID on duplicate key id.
pub async fn set_user_errors_duplicate_key_id_on_duplicate_key_id(adapter: &impl Adapter, db: &impl TestDatabase) {
    let (user1, user2) = (generate_user(), generate_user());
    let key1 = generate_key(Some(&user1.id));
    db.insert_user(&user1).await;
    db.insert_key(&key1).await;
    let key2 = DatabaseKey { id: key1.id.clone(), ..generate_key(Some(&user2.id)) };
    assert_err!(adapter.set_user(user2, Some(key2)).await, AdapterError::DuplicateKeyId);
}

/// `setUser()` › Does not insert key if errors (and rolls the user back).
pub async fn set_user_does_not_insert_key_if_errors(adapter: &impl Adapter, db: &impl TestDatabase) {
    let (user1, user2) = (generate_user(), generate_user());
    let key1 = generate_key(Some(&user1.id));
    db.insert_user(&user1).await;
    db.insert_key(&key1).await;
    let key2 = DatabaseKey { id: key1.id.clone(), ..generate_key(Some(&user2.id)) };
    assert!(adapter.set_user(user2, Some(key2)).await.is_err());
    assert_eq!(db.users().await, vec![user1]);
    assert_eq!(db.keys().await, vec![key1]);
}

// ---- deleteUser() -------------------------------------------------------------------------

/// `deleteUser()` › Deletes target user.
pub async fn delete_user_deletes_target_user(adapter: &impl Adapter, db: &impl TestDatabase) {
    let (user1, user2) = (generate_user(), generate_user());
    db.insert_user(&user1).await;
    db.insert_user(&user2).await;
    adapter.delete_user(&user2.id).await.unwrap();
    assert_eq!(db.users().await, vec![user1]);
}

/// `deleteUser()` › Does not throw on invalid user id.
pub async fn delete_user_does_not_error_on_invalid_user_id(adapter: &impl Adapter, _db: &impl TestDatabase) {
    adapter.delete_user(INVALID_ID).await.unwrap();
}

// ---- updateUser() -------------------------------------------------------------------------

/// `updateUser()` › Updates user 'username' field.
pub async fn update_user_updates_user_username_field(adapter: &impl Adapter, db: &impl TestDatabase) {
    let mut user = generate_user();
    db.insert_user(&user).await;
    adapter.update_user(&user.id, attributes(json!({ "username": "Y" }))).await.unwrap();
    user.attributes.insert("username".into(), json!("Y"));
    assert_eq!(db.users().await, vec![user]);
}

// ---- getKey() -----------------------------------------------------------------------------

/// `getKey()` › Returns target key.
pub async fn get_key_returns_target_key(adapter: &impl Adapter, db: &impl TestDatabase) {
    let user = generate_user();
    let key = generate_key(Some(&user.id));
    db.insert_user(&user).await;
    db.insert_key(&key).await;
    assert_eq!(adapter.get_key(&key.id).await.unwrap(), Some(key));
}

/// `getKey()` › Returns null if invalid target key id.
pub async fn get_key_returns_none_if_invalid_target_key_id(adapter: &impl Adapter, _db: &impl TestDatabase) {
    assert_eq!(adapter.get_key(INVALID_ID).await.unwrap(), None);
}

// ---- setKey() -----------------------------------------------------------------------------

/// `setKey()` › Inserts key.
pub async fn set_key_inserts_key(adapter: &impl Adapter, db: &impl TestDatabase) {
    let user = generate_user();
    let key = generate_key(Some(&user.id));
    db.insert_user(&user).await;
    adapter.set_key(key.clone()).await.unwrap();
    assert_eq!(db.keys().await, vec![key]);
}

/// `setKey()` › Throws AUTH_DUPLICATE_KEY_ID on duplicate key id.
pub async fn set_key_errors_duplicate_key_id_on_duplicate_key_id(adapter: &impl Adapter, db: &impl TestDatabase) {
    let (user1, user2) = (generate_user(), generate_user());
    let key1 = generate_key(Some(&user1.id));
    db.insert_user(&user1).await;
    db.insert_user(&user2).await;
    db.insert_key(&key1).await;
    let key2 = DatabaseKey { id: key1.id.clone(), ..generate_key(Some(&user2.id)) };
    assert_err!(adapter.set_key(key2).await, AdapterError::DuplicateKeyId);
    assert_eq!(db.keys().await, vec![key1]);
}

/// `setKey()` › Optionally throws AUTH_INVALID_USER_ID on invalid user id.
pub async fn set_key_optionally_errors_invalid_user_id_on_invalid_user_id(
    adapter: &impl Adapter,
    _db: &impl TestDatabase,
) {
    assert_ok_or_invalid_user_id(adapter.set_key(generate_key(None)).await);
}

// ---- updateKey() --------------------------------------------------------------------------

/// `updateKey()` › Updates key 'hashed_password' field.
pub async fn update_key_updates_key_hashed_password_field(adapter: &impl Adapter, db: &impl TestDatabase) {
    let user = generate_user();
    let key = generate_key(Some(&user.id));
    db.insert_user(&user).await;
    db.insert_key(&key).await;
    adapter.update_key(&key.id, Some("HASHED")).await.unwrap();
    assert_eq!(db.keys().await, vec![DatabaseKey { hashed_password: Some("HASHED".into()), ..key.clone() }]);
    adapter.update_key(&key.id, None).await.unwrap();
    assert_eq!(db.keys().await, vec![key]);
}

// ---- getKeysByUserId() --------------------------------------------------------------------

/// `getKeysByUserId()` › Returns keys with target user id.
pub async fn get_keys_by_user_id_returns_keys_with_target_user_id(adapter: &impl Adapter, db: &impl TestDatabase) {
    let (user1, _, key1, _) = two_users_with_a_key_each(db).await;
    assert_eq!(adapter.get_keys_by_user_id(&user1.id).await.unwrap(), vec![key1]);
}

/// `getKeysByUserId()` › Returns an empty array if none matches target.
pub async fn get_keys_by_user_id_returns_empty_if_none_matches_target(adapter: &impl Adapter, db: &impl TestDatabase) {
    let user = generate_user();
    db.insert_user(&user).await;
    db.insert_key(&generate_key(Some(&user.id))).await;
    assert_eq!(adapter.get_keys_by_user_id(INVALID_ID).await.unwrap(), vec![]);
}

// ---- deleteKeysByUserId() -----------------------------------------------------------------

/// `deleteKeysByUserId()` › Deletes keys with target user id.
pub async fn delete_keys_by_user_id_deletes_keys_with_target_user_id(adapter: &impl Adapter, db: &impl TestDatabase) {
    let (user1, _, _, key2) = two_users_with_a_key_each(db).await;
    adapter.delete_keys_by_user_id(&user1.id).await.unwrap();
    assert_eq!(db.keys().await, vec![key2]);
}

/// `deleteKeysByUserId()` › Does not throw on invalid user id.
pub async fn delete_keys_by_user_id_does_not_error_on_invalid_user_id(adapter: &impl Adapter, _db: &impl TestDatabase) {
    adapter.delete_keys_by_user_id(INVALID_ID).await.unwrap();
}

// ---- deleteKey() --------------------------------------------------------------------------

/// `deleteKey()` › Deletes target key (two keys of one user: keys are many-to-one).
pub async fn delete_key_deletes_target_key(adapter: &impl Adapter, db: &impl TestDatabase) {
    let user = generate_user();
    let (key1, key2) = (generate_key(Some(&user.id)), generate_key(Some(&user.id)));
    db.insert_user(&user).await;
    db.insert_key(&key1).await;
    db.insert_key(&key2).await;
    adapter.delete_key(&key1.id).await.unwrap();
    assert_eq!(db.keys().await, vec![key2]);
}

/// `deleteKey()` › Does not throw on invalid key id.
pub async fn delete_key_does_not_error_on_invalid_key_id(adapter: &impl Adapter, _db: &impl TestDatabase) {
    adapter.delete_key(INVALID_ID).await.unwrap();
}

// ---- getSession() -------------------------------------------------------------------------

/// `getSession()` › Returns target session (numeric expiries, attribute columns).
pub async fn get_session_returns_target_session(adapter: &impl Adapter, db: &impl TestDatabase) {
    let user = generate_user();
    let session = generate_session(Some(&user.id));
    db.insert_user(&user).await;
    db.insert_session(&session).await;
    assert_eq!(adapter.get_session(&session.id).await.unwrap(), Some(session));
}

/// `getSession()` › Returns null if invalid target session id.
pub async fn get_session_returns_none_if_invalid_target_session_id(adapter: &impl Adapter, _db: &impl TestDatabase) {
    assert_eq!(adapter.get_session(INVALID_ID).await.unwrap(), None);
}

// ---- getSessionsByUserId() ----------------------------------------------------------------

/// `getSessionsByUserId()` › Return sessions with target user id.
pub async fn get_sessions_by_user_id_returns_sessions_with_target_user_id(
    adapter: &impl Adapter,
    db: &impl TestDatabase,
) {
    let (user1, _, session1, _) = two_users_with_a_session_each(db).await;
    assert_eq!(adapter.get_sessions_by_user_id(&user1.id).await.unwrap(), vec![session1]);
}

/// `getSessionsByUserId()` › Returns an empty array if none matches target.
pub async fn get_sessions_by_user_id_returns_empty_if_none_matches_target(
    adapter: &impl Adapter,
    db: &impl TestDatabase,
) {
    let user = generate_user();
    db.insert_user(&user).await;
    db.insert_session(&generate_session(Some(&user.id))).await;
    assert_eq!(adapter.get_sessions_by_user_id(INVALID_ID).await.unwrap(), vec![]);
}

// ---- setSession() -------------------------------------------------------------------------

/// `setSession()` › Inserts session.
pub async fn set_session_inserts_session(adapter: &impl Adapter, db: &impl TestDatabase) {
    let user = generate_user();
    let session = generate_session(Some(&user.id));
    db.insert_user(&user).await;
    adapter.set_session(session.clone()).await.unwrap();
    assert_eq!(db.sessions().await, vec![session]);
}

/// `setSession()` › Optionally throws AUTH_INVALID_USER_ID on invalid user id.
pub async fn set_session_optionally_errors_invalid_user_id_on_invalid_user_id(
    adapter: &impl Adapter,
    _db: &impl TestDatabase,
) {
    assert_ok_or_invalid_user_id(adapter.set_session(generate_session(None)).await);
}

// ---- deleteSession() ----------------------------------------------------------------------

/// `deleteSession()` › Deletes target session.
pub async fn delete_session_deletes_target_session(adapter: &impl Adapter, db: &impl TestDatabase) {
    let user = generate_user();
    let (session1, session2) = (generate_session(Some(&user.id)), generate_session(Some(&user.id)));
    db.insert_user(&user).await;
    db.insert_session(&session1).await;
    db.insert_session(&session2).await;
    adapter.delete_session(&session1.id).await.unwrap();
    assert_eq!(db.sessions().await, vec![session2]);
}

/// `deleteSession()` › Does not throw on invalid session id.
pub async fn delete_session_does_not_error_on_invalid_session_id(adapter: &impl Adapter, _db: &impl TestDatabase) {
    adapter.delete_session(INVALID_ID).await.unwrap();
}

// ---- deleteSessionsByUserId() -------------------------------------------------------------

/// `deleteSessionsByUserId()` › Deletes sessions with target user id.
pub async fn delete_sessions_by_user_id_deletes_sessions_with_target_user_id(
    adapter: &impl Adapter,
    db: &impl TestDatabase,
) {
    let (user1, _, _, session2) = two_users_with_a_session_each(db).await;
    adapter.delete_sessions_by_user_id(&user1.id).await.unwrap();
    assert_eq!(db.sessions().await, vec![session2]);
}

/// `deleteSessionsByUserId()` › Does not throw on invalid user id.
pub async fn delete_sessions_by_user_id_does_not_error_on_invalid_user_id(
    adapter: &impl Adapter,
    _db: &impl TestDatabase,
) {
    adapter.delete_sessions_by_user_id(INVALID_ID).await.unwrap();
}

// ---- updateSession() ----------------------------------------------------------------------

/// `updateSession()` › Updates session 'country' field.
pub async fn update_session_updates_session_country_field(adapter: &impl Adapter, db: &impl TestDatabase) {
    let user = generate_user();
    let mut session = generate_session(Some(&user.id));
    db.insert_user(&user).await;
    db.insert_session(&session).await;
    let update = SessionUpdate { expires: None, attributes: attributes(json!({ "country": "YY" })) };
    adapter.update_session(&session.id, update).await.unwrap();
    session.attributes.insert("country".into(), json!("YY"));
    assert_eq!(db.sessions().await, vec![session]);
}

// ---- getSessionAndUser() ------------------------------------------------------------------

/// `getSessionAndUser()` › Returns target session and user.
pub async fn get_session_and_user_returns_target_session_and_user(adapter: &impl Adapter, db: &impl TestDatabase) {
    let user = generate_user();
    let session = generate_session(Some(&user.id));
    db.insert_user(&user).await;
    db.insert_session(&session).await;
    assert_eq!(adapter.get_session_and_user(&session.id).await.unwrap(), Some((session, user)));
}

/// `getSessionAndUser()` › Returns null, null if invalid target session id.
pub async fn get_session_and_user_returns_none_if_invalid_target_session_id(
    adapter: &impl Adapter,
    _db: &impl TestDatabase,
) {
    assert_eq!(adapter.get_session_and_user(INVALID_ID).await.unwrap(), None);
}

// ---- additions: what Lucia's suite did not test --------------------------------------------

/// A second user with a taken id is `DuplicateUserId`, and nothing changes.
pub async fn extra_set_user_errors_duplicate_user_id_without_key(adapter: &impl Adapter, db: &impl TestDatabase) {
    let user = generate_user();
    db.insert_user(&user).await;
    let copy = same_id_new_username(&user);
    assert_err!(adapter.set_user(copy, None).await, AdapterError::DuplicateUserId);
    assert_eq!(db.users().await, vec![user]);
}

/// A taken user id with a fresh key is `DuplicateUserId` (Lucia v2's SQL adapters said
/// duplicate key id), and the key is not inserted.
pub async fn extra_set_user_errors_duplicate_user_id_not_duplicate_key_id(
    adapter: &impl Adapter,
    db: &impl TestDatabase,
) {
    let user = generate_user();
    db.insert_user(&user).await;
    let key = generate_key(Some(&user.id));
    assert_err!(adapter.set_user(same_id_new_username(&user), Some(key)).await, AdapterError::DuplicateUserId);
    assert_eq!(db.users().await, vec![user]);
    assert_eq!(db.keys().await, vec![]);
}

/// A unique attribute column (the test schema's `username`) that is taken is
/// `DuplicateAttribute`, not a duplicate id, and nothing is inserted.
pub async fn extra_set_user_errors_duplicate_attribute_on_unique_attribute(
    adapter: &impl Adapter,
    db: &impl TestDatabase,
) {
    let user = generate_user();
    db.insert_user(&user).await;
    let mut other = generate_user();
    other.attributes = user.attributes.clone();
    let key = generate_key(Some(&other.id));
    assert_err!(adapter.set_user(other.clone(), Some(key)).await, AdapterError::DuplicateAttribute(_));
    assert_err!(adapter.set_user(other, None).await, AdapterError::DuplicateAttribute(_));
    assert_eq!(db.users().await, vec![user]);
    assert_eq!(db.keys().await, vec![]);
}

/// An attribute that names no column is `InvalidAttributes`, before anything is written.
pub async fn extra_set_user_rejects_unknown_column_and_writes_nothing(adapter: &impl Adapter, db: &impl TestDatabase) {
    let mut user = generate_user();
    user.attributes.insert("no_such_column".into(), json!(1));
    let key = generate_key(Some(&user.id));
    assert_err!(adapter.set_user(user.clone(), Some(key)).await, AdapterError::InvalidAttributes(_));
    let session = session_with_unknown_column(&user.id);
    assert_err!(adapter.set_session(session).await, AdapterError::InvalidAttributes(_));
    assert_eq!(db.users().await, vec![]);
    assert_eq!(db.keys().await, vec![]);
    assert_eq!(db.sessions().await, vec![]);
}

/// A key with a (148-character `s2:`) password hash is stored and read back verbatim.
pub async fn extra_set_key_with_password_round_trips(adapter: &impl Adapter, db: &impl TestDatabase) {
    let user = generate_user();
    db.insert_user(&user).await;
    let key = DatabaseKey {
        id: "email:a:b@example.com".into(),
        hashed_password: Some(format!("s2:{}:{}", "a".repeat(16), "0f".repeat(64))),
        ..generate_key(Some(&user.id))
    };
    adapter.set_key(key.clone()).await.unwrap();
    assert_eq!(adapter.get_key(&key.id).await.unwrap(), Some(key.clone()));
    assert_eq!(db.keys().await, vec![key]);
}

/// A taken session id is `DuplicateSessionId`, and the stored session is unchanged.
pub async fn extra_set_session_errors_duplicate_session_id(adapter: &impl Adapter, db: &impl TestDatabase) {
    let user = generate_user();
    let session = generate_session(Some(&user.id));
    db.insert_user(&user).await;
    db.insert_session(&session).await;
    let copy = lucia::DatabaseSession { active_expires: 1, ..session.clone() };
    assert_err!(adapter.set_session(copy).await, AdapterError::DuplicateSessionId);
    assert_eq!(db.sessions().await, vec![session]);
}

/// Updating a user, key or session that does not exist succeeds and creates nothing.
pub async fn extra_updates_of_missing_rows_change_nothing(adapter: &impl Adapter, db: &impl TestDatabase) {
    let user = generate_user();
    db.insert_user(&user).await;
    adapter.update_user(INVALID_ID, attributes(json!({ "username": "Z" }))).await.unwrap();
    adapter.update_key(INVALID_ID, Some("HASHED")).await.unwrap();
    let update = SessionUpdate { expires: Some((1, 2)), attributes: attributes(json!({ "country": "ZZ" })) };
    adapter.update_session(INVALID_ID, update).await.unwrap();
    assert_eq!(db.users().await, vec![user]);
    assert_eq!(db.keys().await, vec![]);
    assert_eq!(db.sessions().await, vec![]);
}

/// Empty partial updates succeed and change nothing (Lucia v2's SQL adapters sent
/// `UPDATE ... SET  WHERE`, a syntax error).
pub async fn extra_empty_partial_updates_change_nothing(adapter: &impl Adapter, db: &impl TestDatabase) {
    let user = generate_user();
    let session = generate_session(Some(&user.id));
    db.insert_user(&user).await;
    db.insert_session(&session).await;
    adapter.update_user(&user.id, AttributeMap::new()).await.unwrap();
    adapter.update_session(&session.id, SessionUpdate::default()).await.unwrap();
    assert_eq!(db.users().await, vec![user]);
    assert_eq!(db.sessions().await, vec![session]);
}

/// Renewal writes both expiries and leaves attributes alone.
pub async fn extra_update_session_sets_expiries(adapter: &impl Adapter, db: &impl TestDatabase) {
    let user = generate_user();
    let session = generate_session(Some(&user.id));
    db.insert_user(&user).await;
    db.insert_session(&session).await;
    let (active, idle) = (session.active_expires + 1_000, session.idle_expires + 2_000);
    let update = SessionUpdate { expires: Some((active, idle)), attributes: AttributeMap::new() };
    adapter.update_session(&session.id, update).await.unwrap();
    let expected = lucia::DatabaseSession { active_expires: active, idle_expires: idle, ..session };
    assert_eq!(db.sessions().await, vec![expected]);
}

/// The per-user sweep deletes only that user's sessions whose idle period ended before now;
/// a session expiring exactly now is still alive (Lucia's inclusive boundary).
pub async fn extra_delete_dead_sessions_by_user_id_keeps_live_and_boundary(
    adapter: &impl Adapter,
    db: &impl TestDatabase,
) {
    let (user1, user2) = (generate_user(), generate_user());
    db.insert_user(&user1).await;
    db.insert_user(&user2).await;
    let (live, dead, boundary, other_dead) = dead_and_alive(&user1.id, &user2.id);
    for session in [&live, &dead, &boundary, &other_dead] {
        db.insert_session(session).await;
    }
    adapter.delete_dead_sessions_by_user_id(&user1.id, boundary.idle_expires).await.unwrap();
    let expected = sorted(vec![live, boundary, other_dead], |s| &s.id);
    assert_eq!(sorted(db.sessions().await, |s| &s.id), expected);
}

/// The global sweep deletes dead sessions of every user and counts them.
pub async fn extra_delete_dead_sessions_sweeps_every_user(adapter: &impl Adapter, db: &impl TestDatabase) {
    let (user1, user2) = (generate_user(), generate_user());
    db.insert_user(&user1).await;
    db.insert_user(&user2).await;
    let (live, dead, boundary, other_dead) = dead_and_alive(&user1.id, &user2.id);
    for session in [&live, &dead, &boundary, &other_dead] {
        db.insert_session(session).await;
    }
    assert_eq!(adapter.delete_dead_sessions(boundary.idle_expires).await.unwrap(), 2);
    assert_eq!(sorted(db.sessions().await, |s| &s.id), sorted(vec![live, boundary], |s| &s.id));
}

/// The join returns the requested session's user, not another one.
pub async fn extra_get_session_and_user_ignores_other_sessions(adapter: &impl Adapter, db: &impl TestDatabase) {
    let (_, user2, _, session2) = two_users_with_a_session_each(db).await;
    assert_eq!(adapter.get_session_and_user(&session2.id).await.unwrap(), Some((session2, user2)));
}

/// Ids are case-sensitive: keys and sessions whose ids differ only in case are different rows
/// (a case-insensitive MySQL collation would merge them).
pub async fn extra_ids_are_case_sensitive(adapter: &impl Adapter, db: &impl TestDatabase) {
    let user = generate_user();
    db.insert_user(&user).await;
    let upper = DatabaseKey { id: "email:Alice@Example.com".into(), ..generate_key(Some(&user.id)) };
    let lower = DatabaseKey { id: "email:alice@example.com".into(), ..generate_key(Some(&user.id)) };
    adapter.set_key(upper.clone()).await.unwrap();
    assert_eq!(adapter.get_key(&lower.id).await.unwrap(), None);
    adapter.set_key(lower.clone()).await.unwrap();
    assert_eq!(adapter.get_key(&upper.id).await.unwrap(), Some(upper));
    let session = lucia::DatabaseSession { id: "at_MixedCase".into(), ..generate_session(Some(&user.id)) };
    db.insert_session(&session).await;
    assert_eq!(adapter.get_session("at_mixedcase").await.unwrap(), None);
    assert_eq!(adapter.get_session_and_user("AT_MIXEDCASE").await.unwrap(), None);
}

/// Four sign-ups racing for one key id: exactly one wins; the others get `DuplicateKeyId` and
/// leave no user behind (each user and key insert is one transaction).
pub async fn extra_concurrent_sign_ups_for_one_key_have_one_winner(adapter: &impl Adapter, db: &impl TestDatabase) {
    let key_id = generate_key(None).id;
    let users: Vec<DatabaseUser> = (0..4).map(|_| generate_user()).collect();
    let attempt = |user: &DatabaseUser| {
        let key = DatabaseKey { id: key_id.clone(), user_id: user.id.clone(), hashed_password: None };
        adapter.set_user(user.clone(), Some(key))
    };
    let results = tokio::join!(attempt(&users[0]), attempt(&users[1]), attempt(&users[2]), attempt(&users[3]));
    let results = [results.0, results.1, results.2, results.3];
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    for result in &results {
        assert!(matches!(result, Ok(()) | Err(AdapterError::DuplicateKeyId)), "{result:?}");
    }
    let winner = users.iter().zip(&results).find(|(_, r)| r.is_ok()).map(|(u, _)| u.clone()).unwrap();
    assert_eq!(db.users().await, vec![winner.clone()]);
    assert_eq!(db.keys().await, vec![DatabaseKey { id: key_id, user_id: winner.id, hashed_password: None }]);
}

/// Lucia's "optionally throws AUTH_INVALID_USER_ID": stores without foreign keys may accept.
fn assert_ok_or_invalid_user_id(result: Result<(), AdapterError>) {
    if let Err(error) = result {
        assert!(matches!(error, AdapterError::InvalidUserId), "expected InvalidUserId or success, got {error:?}");
    }
}

// ---- helpers ------------------------------------------------------------------------------

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
) -> (DatabaseUser, DatabaseUser, lucia::DatabaseSession, lucia::DatabaseSession) {
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

pub(crate) fn attributes(value: serde_json::Value) -> AttributeMap {
    crate::attributes(value)
}

/// Live, dead and exactly-at-boundary sessions of `user_id`, and a dead one of `other`.
pub(crate) fn dead_and_alive(
    user_id: &str,
    other: &str,
) -> (lucia::DatabaseSession, lucia::DatabaseSession, lucia::DatabaseSession, lucia::DatabaseSession) {
    let now = now_ms();
    let with_idle = |user: &str, idle: i64| lucia::DatabaseSession {
        active_expires: idle - 1_000,
        idle_expires: idle,
        ..generate_session(Some(user))
    };
    (with_idle(user_id, now + 60_000), with_idle(user_id, now - 1), with_idle(user_id, now), with_idle(other, now - 1))
}

/// A copy of a user with the same id and a different username.
fn same_id_new_username(user: &lucia::DatabaseUser) -> lucia::DatabaseUser {
    lucia::DatabaseUser { id: user.id.clone(), attributes: generate_user().attributes }
}

/// A session with an attribute that names no column.
fn session_with_unknown_column(user_id: &str) -> lucia::DatabaseSession {
    let mut session = generate_session(Some(user_id));
    session.attributes.insert("no_such_column".into(), json!("x"));
    session
}
