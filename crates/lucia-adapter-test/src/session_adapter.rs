//! Cases for a [`SessionAdapter`] alone: Lucia's `testSessionAdapter` (10 cases) and this
//! suite's additions. Sessions belong to users that need not exist.

use std::sync::Arc;

use lucia::{AdapterError, AttributeMap, DatabaseSession, SessionAdapter, SessionUpdate};
use serde_json::{Value, json};

use crate::user_adapter::{
    attributes, dead_and_alive, live_idle_dead, one_winner, session_with_ip, session_with_unknown_column,
    sweep_sessions,
};
use crate::{Fixture, INVALID_ID, TestDatabase, assert_err, assert_rows, generate_session, race};

/// `getSession()` › Returns target session.
pub async fn get_session_returns_target_session<F: Fixture<Adapter: SessionAdapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let session = generate_session(None);
    db.insert_session(&session).await;
    assert_rows!(adapter.get_session(&session.id).await.unwrap(), Some(session));
}

/// `getSession()` › Returns null if invalid target session id.
pub async fn get_session_returns_none_if_invalid_target_session_id<F: Fixture<Adapter: SessionAdapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    db.insert_session(&generate_session(None)).await;
    assert_rows!(adapter.get_session(INVALID_ID).await.unwrap(), None);
}

/// `getSessionsByUserId()` › Return sessions with target user id.
pub async fn get_sessions_by_user_id_returns_sessions_with_target_user_id<F: Fixture<Adapter: SessionAdapter>>(
    t: Arc<F>,
) {
    let (adapter, db) = (t.adapter(), t.database());
    let (session1, session2) = (generate_session(None), generate_session(None));
    db.insert_session(&session1).await;
    db.insert_session(&session2).await;
    assert_rows!(adapter.get_sessions_by_user_id(&session1.user_id).await.unwrap(), vec![session1]);
}

/// `getSessionsByUserId()` › Returns an empty array if none matches target.
pub async fn get_sessions_by_user_id_returns_empty_if_none_matches_target<F: Fixture<Adapter: SessionAdapter>>(
    t: Arc<F>,
) {
    let (adapter, db) = (t.adapter(), t.database());
    db.insert_session(&generate_session(None)).await;
    assert_rows!(adapter.get_sessions_by_user_id(INVALID_ID).await.unwrap(), vec![]);
}

/// `setSession()` › Inserts session.
pub async fn set_session_inserts_session<F: Fixture<Adapter: SessionAdapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let session = generate_session(None);
    adapter.set_session(session.clone()).await.unwrap();
    assert_rows!(db.sessions().await, vec![session]);
}

/// `deleteSession()` › Deletes target session.
pub async fn delete_session_deletes_target_session<F: Fixture<Adapter: SessionAdapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let (session1, session2) = (generate_session(None), generate_session(None));
    db.insert_session(&session1).await;
    db.insert_session(&session2).await;
    adapter.delete_session(&session1.id).await.unwrap();
    assert_rows!(db.sessions().await, vec![session2]);
}

/// `deleteSession()` › Does not throw on invalid session id.
pub async fn delete_session_does_not_error_on_invalid_session_id<F: Fixture<Adapter: SessionAdapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let session = generate_session(None);
    db.insert_session(&session).await;
    adapter.delete_session(INVALID_ID).await.unwrap();
    assert_rows!(db.sessions().await, vec![session]);
}

/// `deleteSessionsByUserId()` › Deletes sessions with target user id.
pub async fn delete_sessions_by_user_id_deletes_sessions_with_target_user_id<F: Fixture<Adapter: SessionAdapter>>(
    t: Arc<F>,
) {
    let (adapter, db) = (t.adapter(), t.database());
    let (session1, session2) = (generate_session(None), generate_session(None));
    db.insert_session(&session1).await;
    db.insert_session(&session2).await;
    adapter.delete_sessions_by_user_id(&session1.user_id).await.unwrap();
    assert_rows!(db.sessions().await, vec![session2]);
}

/// `deleteSessionsByUserId()` › Does not throw on invalid user id.
pub async fn delete_sessions_by_user_id_does_not_error_on_invalid_user_id<F: Fixture<Adapter: SessionAdapter>>(
    t: Arc<F>,
) {
    let (adapter, db) = (t.adapter(), t.database());
    let session = generate_session(None);
    db.insert_session(&session).await;
    adapter.delete_sessions_by_user_id(INVALID_ID).await.unwrap();
    assert_rows!(db.sessions().await, vec![session]);
}

/// `updateSession()` › Updates session 'country' field.
pub async fn update_session_updates_session_country_field<F: Fixture<Adapter: SessionAdapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let mut session = generate_session(None);
    db.insert_session(&session).await;
    let update = SessionUpdate { expires: None, attributes: attributes(json!({ "country": "YY" })) };
    adapter.update_session(&session.id, update).await.unwrap();
    session.attributes.insert("country".into(), json!("YY"));
    assert_rows!(db.sessions().await, vec![session]);
}

/// A taken session id is `DuplicateSessionId`, and the stored session is unchanged.
pub async fn extra_set_session_errors_duplicate_session_id<F: Fixture<Adapter: SessionAdapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let session = generate_session(None);
    db.insert_session(&session).await;
    let copy = DatabaseSession { active_expires: 1, ..session.clone() };
    assert_err!(adapter.set_session(copy).await, AdapterError::DuplicateSessionId);
    assert_rows!(db.sessions().await, vec![session]);
}

/// Updating a session that does not exist succeeds and creates nothing.
pub async fn extra_update_session_of_missing_row_changes_nothing<F: Fixture<Adapter: SessionAdapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let session = generate_session(None);
    db.insert_session(&session).await;
    let update = SessionUpdate { expires: Some((1, 2)), attributes: attributes(json!({ "country": "ZZ" })) };
    adapter.update_session(INVALID_ID, update).await.unwrap();
    assert_rows!(db.sessions().await, vec![session]);
}

/// An empty partial update succeeds and changes nothing.
pub async fn extra_empty_partial_update_changes_nothing<F: Fixture<Adapter: SessionAdapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let session = generate_session(None);
    db.insert_session(&session).await;
    let update = SessionUpdate { expires: None, attributes: AttributeMap::new() };
    adapter.update_session(&session.id, update).await.unwrap();
    assert_rows!(db.sessions().await, vec![session]);
}

/// The per-user sweep deletes only that user's dead sessions; the boundary is alive.
pub async fn extra_delete_dead_sessions_by_user_id_keeps_live_and_boundary<F: Fixture<Adapter: SessionAdapter>>(
    t: Arc<F>,
) {
    check_per_user_sweep(t.adapter(), t.database(), "user1", "user2").await;
}

/// The per-user sweep case's body, for sessions of `user1` and `user2` (users the store
/// accepts sessions of).
pub(crate) async fn check_per_user_sweep(
    adapter: &impl SessionAdapter,
    db: &impl TestDatabase,
    user1: &str,
    user2: &str,
) {
    let (live, dead, boundary, other_dead) = dead_and_alive(user1, user2);
    for session in [&live, &dead, &boundary, &other_dead] {
        db.insert_session(session).await;
    }
    adapter.delete_dead_sessions_by_user_id(user1, boundary.idle_expires).await.unwrap();
    assert_rows!(db.sessions().await, vec![live, boundary, other_dead]);
}

/// The global sweep deletes dead sessions of every user, keeps the boundary, and counts what
/// it deleted (3 of 5; then 0).
pub async fn extra_delete_dead_sessions_sweeps_every_user<F: Fixture<Adapter: SessionAdapter>>(t: Arc<F>) {
    check_global_sweep(t.adapter(), t.database(), "user1", "user2").await;
}

/// The global sweep case's body, for sessions of `user1` and `user2`.
pub(crate) async fn check_global_sweep(
    adapter: &impl SessionAdapter,
    db: &impl TestDatabase,
    user1: &str,
    user2: &str,
) {
    let (now, kept, dead) = sweep_sessions(user1, user2);
    for session in kept.iter().chain(&dead) {
        db.insert_session(session).await;
    }
    assert_eq!(adapter.delete_dead_sessions(now).await.unwrap(), 3);
    assert_rows!(db.sessions().await, kept.clone());
    assert_eq!(adapter.delete_dead_sessions(now).await.unwrap(), 0);
    assert_rows!(db.sessions().await, kept);
}

/// The trait says "dead or alive": dead and idle sessions are still returned.
pub async fn extra_dead_sessions_are_still_returned<F: Fixture<Adapter: SessionAdapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let (live, idle, dead) = live_idle_dead("user1");
    for session in [&live, &idle, &dead] {
        db.insert_session(session).await;
    }
    assert_rows!(adapter.get_session(&dead.id).await.unwrap(), Some(dead.clone()));
    assert_rows!(adapter.get_session(&idle.id).await.unwrap(), Some(idle.clone()));
    assert_rows!(adapter.get_sessions_by_user_id("user1").await.unwrap(), vec![live, idle, dead]);
}

/// Renewal writes both expiries and leaves attributes alone.
pub async fn extra_update_session_sets_expiries<F: Fixture<Adapter: SessionAdapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let (session, other) = (session_with_ip("user1"), generate_session(None));
    db.insert_session(&session).await;
    db.insert_session(&other).await;
    let (active, idle) = (session.active_expires + 1_000, session.idle_expires + 2_000);
    let update = SessionUpdate { expires: Some((active, idle)), attributes: AttributeMap::new() };
    adapter.update_session(&session.id, update).await.unwrap();
    let expected = DatabaseSession { active_expires: active, idle_expires: idle, ..session };
    assert_rows!(db.sessions().await, vec![expected, other]);
}

/// A session update sets the attribute columns it names and keeps the others and the
/// expiries; `null` clears a nullable column.
pub async fn extra_update_session_merges_partial_update<F: Fixture<Adapter: SessionAdapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let session = session_with_ip("user1");
    db.insert_session(&session).await;
    let update = SessionUpdate { expires: None, attributes: attributes(json!({ "ip": "192.0.2.2" })) };
    adapter.update_session(&session.id, update).await.unwrap();
    let mut expected = session.clone();
    expected.attributes.insert("ip".into(), json!("192.0.2.2"));
    assert_rows!(db.sessions().await, vec![expected.clone()]);
    let update = SessionUpdate { expires: None, attributes: attributes(json!({ "country": "YY", "ip": null })) };
    adapter.update_session(&session.id, update).await.unwrap();
    expected.attributes.insert("country".into(), json!("YY"));
    expected.attributes.insert("ip".into(), Value::Null);
    assert_rows!(db.sessions().await, vec![expected.clone()]);
    assert_rows!(adapter.get_session(&session.id).await.unwrap(), Some(expected));
}

/// With a schema, a session attribute that names no column is `InvalidAttributes` on insert
/// and update and writes nothing; without one, it is stored.
pub async fn extra_set_session_unknown_column<F: Fixture<Adapter: SessionAdapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let session = session_with_unknown_column("user1");
    let stored = generate_session(None);
    db.insert_session(&stored).await;
    let update = SessionUpdate { expires: Some((1, 2)), attributes: attributes(json!({ "no_such_column": "y" })) };
    if t.capabilities().schema {
        assert_err!(adapter.set_session(session).await, AdapterError::InvalidAttributes(_));
        assert_err!(adapter.update_session(&stored.id, update).await, AdapterError::InvalidAttributes(_));
        assert_rows!(db.sessions().await, vec![stored]);
    } else {
        adapter.set_session(session.clone()).await.unwrap();
        adapter.update_session(&stored.id, update).await.unwrap();
        let mut updated = DatabaseSession { active_expires: 1, idle_expires: 2, ..stored };
        updated.attributes.insert("no_such_column".into(), json!("y"));
        assert_rows!(adapter.get_session(&session.id).await.unwrap(), Some(session.clone()));
        assert_rows!(db.sessions().await, vec![session, updated]);
    }
}

/// Session ids and user ids are case-sensitive.
pub async fn extra_session_ids_are_case_sensitive<F: Fixture<Adapter: SessionAdapter>>(t: Arc<F>) {
    let (adapter, db) = (t.adapter(), t.database());
    let upper = DatabaseSession { id: "at_MixedCase".into(), ..generate_session(Some("UserA")) };
    let lower = DatabaseSession { id: "at_mixedcase".into(), ..generate_session(Some("usera")) };
    adapter.set_session(upper.clone()).await.unwrap();
    assert_rows!(adapter.get_session(&lower.id).await.unwrap(), None);
    assert_rows!(adapter.get_sessions_by_user_id("usera").await.unwrap(), vec![]);
    adapter.set_session(lower.clone()).await.unwrap();
    assert_rows!(adapter.get_session(&upper.id).await.unwrap(), Some(upper.clone()));
    assert_rows!(adapter.get_sessions_by_user_id("usera").await.unwrap(), vec![lower.clone()]);
    adapter.delete_sessions_by_user_id("UserA").await.unwrap();
    assert_rows!(db.sessions().await, vec![lower]);
}

/// Sessions racing for one id on a multi-threaded runtime: exactly one is stored; the others
/// get `DuplicateSessionId`.
pub async fn extra_concurrent_sessions_for_one_id_have_one_winner<F: Fixture<Adapter: SessionAdapter>>(t: Arc<F>) {
    let id = generate_session(None).id;
    let sessions: Vec<DatabaseSession> =
        (0..4).map(|i| DatabaseSession { id: id.clone(), active_expires: i, ..generate_session(None) }).collect();
    let results = race(&t, 4, |t, i| {
        let session = sessions[i].clone();
        async move { t.adapter().set_session(session).await }
    })
    .await;
    let winner = one_winner(&results, |e| matches!(e, AdapterError::DuplicateSessionId));
    assert_rows!(t.database().sessions().await, vec![sessions[winner].clone()]);
}
