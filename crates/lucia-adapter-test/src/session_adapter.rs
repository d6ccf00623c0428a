//! Cases for a [`SessionAdapter`] alone: Lucia's `testSessionAdapter` (10 cases) and this
//! suite's additions. Sessions belong to users that need not exist.

use lucia::{AdapterError, AttributeMap, SessionAdapter, SessionUpdate};
use serde_json::json;

use crate::user_adapter::{attributes, dead_and_alive};
use crate::{INVALID_ID, TestDatabase, generate_session, sorted};

/// `getSession()` › Returns target session.
pub async fn get_session_returns_target_session(adapter: &impl SessionAdapter, db: &impl TestDatabase) {
    let session = generate_session(None);
    db.insert_session(&session).await;
    assert_eq!(adapter.get_session(&session.id).await.unwrap(), Some(session));
}

/// `getSession()` › Returns null if invalid target session id.
pub async fn get_session_returns_none_if_invalid_target_session_id(
    adapter: &impl SessionAdapter,
    _db: &impl TestDatabase,
) {
    assert_eq!(adapter.get_session(INVALID_ID).await.unwrap(), None);
}

/// `getSessionsByUserId()` › Return sessions with target user id.
pub async fn get_sessions_by_user_id_returns_sessions_with_target_user_id(
    adapter: &impl SessionAdapter,
    db: &impl TestDatabase,
) {
    let (session1, session2) = (generate_session(None), generate_session(None));
    db.insert_session(&session1).await;
    db.insert_session(&session2).await;
    assert_eq!(adapter.get_sessions_by_user_id(&session1.user_id).await.unwrap(), vec![session1]);
}

/// `getSessionsByUserId()` › Returns an empty array if none matches target.
pub async fn get_sessions_by_user_id_returns_empty_if_none_matches_target(
    adapter: &impl SessionAdapter,
    db: &impl TestDatabase,
) {
    db.insert_session(&generate_session(None)).await;
    assert_eq!(adapter.get_sessions_by_user_id(INVALID_ID).await.unwrap(), vec![]);
}

/// `setSession()` › Inserts session.
pub async fn set_session_inserts_session(adapter: &impl SessionAdapter, db: &impl TestDatabase) {
    let session = generate_session(None);
    adapter.set_session(session.clone()).await.unwrap();
    assert_eq!(db.sessions().await, vec![session]);
}

/// `deleteSession()` › Deletes target session.
pub async fn delete_session_deletes_target_session(adapter: &impl SessionAdapter, db: &impl TestDatabase) {
    let (session1, session2) = (generate_session(None), generate_session(None));
    db.insert_session(&session1).await;
    db.insert_session(&session2).await;
    adapter.delete_session(&session1.id).await.unwrap();
    assert_eq!(db.sessions().await, vec![session2]);
}

/// `deleteSession()` › Does not throw on invalid session id.
pub async fn delete_session_does_not_error_on_invalid_session_id(
    adapter: &impl SessionAdapter,
    _db: &impl TestDatabase,
) {
    adapter.delete_session(INVALID_ID).await.unwrap();
}

/// `deleteSessionsByUserId()` › Deletes sessions with target user id.
pub async fn delete_sessions_by_user_id_deletes_sessions_with_target_user_id(
    adapter: &impl SessionAdapter,
    db: &impl TestDatabase,
) {
    let (session1, session2) = (generate_session(None), generate_session(None));
    db.insert_session(&session1).await;
    db.insert_session(&session2).await;
    adapter.delete_sessions_by_user_id(&session1.user_id).await.unwrap();
    assert_eq!(db.sessions().await, vec![session2]);
}

/// `deleteSessionsByUserId()` › Does not throw on invalid user id.
pub async fn delete_sessions_by_user_id_does_not_error_on_invalid_user_id(
    adapter: &impl SessionAdapter,
    _db: &impl TestDatabase,
) {
    adapter.delete_sessions_by_user_id(INVALID_ID).await.unwrap();
}

/// `updateSession()` › Updates session 'country' field.
pub async fn update_session_updates_session_country_field(adapter: &impl SessionAdapter, db: &impl TestDatabase) {
    let mut session = generate_session(None);
    db.insert_session(&session).await;
    let update = SessionUpdate { expires: None, attributes: attributes(json!({ "country": "YY" })) };
    adapter.update_session(&session.id, update).await.unwrap();
    session.attributes.insert("country".into(), json!("YY"));
    assert_eq!(db.sessions().await, vec![session]);
}

/// A taken session id is `DuplicateSessionId`, and the stored session is unchanged.
pub async fn extra_set_session_errors_duplicate_session_id(adapter: &impl SessionAdapter, db: &impl TestDatabase) {
    let session = generate_session(None);
    db.insert_session(&session).await;
    let copy = lucia::DatabaseSession { active_expires: 1, ..session.clone() };
    match adapter.set_session(copy).await {
        Err(AdapterError::DuplicateSessionId) => {}
        other => panic!("expected DuplicateSessionId, got {other:?}"),
    }
    assert_eq!(db.sessions().await, vec![session]);
}

/// Updating a session that does not exist succeeds and creates nothing.
pub async fn extra_update_session_of_missing_row_changes_nothing(
    adapter: &impl SessionAdapter,
    db: &impl TestDatabase,
) {
    let update = SessionUpdate { expires: Some((1, 2)), attributes: attributes(json!({ "country": "ZZ" })) };
    adapter.update_session(INVALID_ID, update).await.unwrap();
    assert_eq!(db.sessions().await, vec![]);
}

/// An empty partial update succeeds and changes nothing.
pub async fn extra_empty_partial_update_changes_nothing(adapter: &impl SessionAdapter, db: &impl TestDatabase) {
    let session = generate_session(None);
    db.insert_session(&session).await;
    let update = SessionUpdate { expires: None, attributes: AttributeMap::new() };
    adapter.update_session(&session.id, update).await.unwrap();
    assert_eq!(db.sessions().await, vec![session]);
}

/// The per-user sweep deletes only that user's dead sessions; the boundary is alive.
pub async fn extra_delete_dead_sessions_by_user_id_keeps_live_and_boundary(
    adapter: &impl SessionAdapter,
    db: &impl TestDatabase,
) {
    let (live, dead, boundary, other_dead) = dead_and_alive("user1", "user2");
    for session in [&live, &dead, &boundary, &other_dead] {
        db.insert_session(session).await;
    }
    adapter.delete_dead_sessions_by_user_id("user1", boundary.idle_expires).await.unwrap();
    let expected = sorted(vec![live, boundary, other_dead], |s| &s.id);
    assert_eq!(sorted(db.sessions().await, |s| &s.id), expected);
}
