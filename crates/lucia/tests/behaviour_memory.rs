//! The core's behaviour tests (`tests/behaviour/`) on [`lucia::memory::MemoryAdapter`], as
//! `memory::<case>`. The same cases run on every SQL backend in
//! `crates/lucia-adapter-sea-orm/tests/lucia.rs`.

mod behaviour;

use behaviour::{Fixture, Table};
use lucia::memory::MemoryAdapter;

/// A memory store that keeps the SQL tables' promises: `username` is unique, foreign keys hold.
/// Its raw rows are its own snapshots and plain inserts (`lucia_adapter_test` implements
/// `TestDatabase` for `MemoryAdapter`).
pub struct MemoryFixture {
    adapter: MemoryAdapter,
}

impl Fixture for MemoryFixture {
    type Adapter = MemoryAdapter;
    type Database = MemoryAdapter;

    fn adapter(&self) -> MemoryAdapter {
        self.adapter.clone()
    }
    fn database(&self) -> &MemoryAdapter {
        &self.adapter
    }
    fn has_schema(&self) -> bool {
        false
    }
    async fn fail_deletes(&self, _table: Table) -> bool {
        // Every operation holds one lock from start to end: nothing can fail half-way.
        false
    }
    async fn allow_deletes(&self, _table: Table) {}
    async fn teardown(&self) {}
}

async fn fixture() -> Option<MemoryFixture> {
    Some(MemoryFixture { adapter: MemoryAdapter::new().unique_user_attribute("username") })
}

mod memory {
    use super::fixture;
    crate::behaviour::behaviour_tests!(fixture());
    crate::behaviour::token_behaviour_tests!(fixture());
    crate::behaviour::second_factor_behaviour_tests!(fixture());
}

/// A sessions-only memory store (no foreign keys, as behind a `SplitAdapter`) cannot tell an
/// unknown user; `Lucia` still refuses keys and sessions for one.
#[tokio::test]
async fn memory_without_foreign_keys_unknown_users_are_invalid_user_id() {
    use lucia::{CreateSession, Error, Lucia, NewKey};
    let adapter = MemoryAdapter::new().without_foreign_keys();
    let auth = Lucia::builder(adapter.clone()).build();
    let key = NewKey::passwordless("email", "nobody@example.com");
    assert!(matches!(auth.create_key("nobody", key).await, Err(Error::InvalidUserId)));
    let session = CreateSession::<lucia::NoAttributes>::for_user("nobody");
    assert!(matches!(auth.create_session(session).await, Err(Error::InvalidUserId)));
    assert!(adapter.keys().is_empty() && adapter.sessions().is_empty());
}

/// A table written in hashed mode leaks nothing usable after a switch back to clear mode: a
/// stored id (a SHA-256) presented as a token is refused.
#[tokio::test]
async fn clear_mode_refuses_hashed_ids_as_tokens() {
    use lucia::{CreateSession, CreateUser, Error, Lucia, SessionTokens};
    let adapter = MemoryAdapter::new();
    let hashed = Lucia::builder(adapter.clone()).build();
    let user = hashed.create_user(CreateUser::new(Default::default())).await.unwrap();
    let created = hashed.create_session(CreateSession::for_user(user.user_id)).await.unwrap();
    let stored_id = SessionTokens::Hashed.stored_id(created.token.expose_secret());
    assert_eq!(adapter.sessions()[0].id, stored_id);
    let clear = Lucia::builder(adapter).lucia_v2_compat().build();
    assert!(matches!(clear.validate_session(&stored_id).await, Err(Error::InvalidSessionId)));
    assert!(matches!(clear.get_session(&stored_id).await, Err(Error::InvalidSessionId)));
}
