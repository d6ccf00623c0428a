//! The core's behaviour tests (`tests/behaviour/`) on [`lucia::memory::MemoryAdapter`], as
//! `memory::<case>`. The same cases run on every SQL backend in
//! `crates/lucia-adapter-sea-orm/tests/lucia.rs`.

mod behaviour;

use behaviour::{Fixture, Table};
use lucia::memory::MemoryAdapter;
use lucia::{DatabaseKey, DatabaseSession, DatabaseUser, SessionAdapter, UserAdapter};
use lucia_adapter_test::TestDatabase;

/// A memory store that keeps the SQL tables' promises: `username` is unique, foreign keys hold.
pub struct MemoryFixture {
    adapter: MemoryAdapter,
    rows: MemoryRows,
}

/// Raw rows of the store: snapshots, and inserts through the adapter's plain methods (which
/// apply no rule of `Lucia`'s).
pub struct MemoryRows(MemoryAdapter);

impl TestDatabase for MemoryRows {
    async fn users(&self) -> Vec<DatabaseUser> {
        self.0.users()
    }
    async fn insert_user(&self, user: &DatabaseUser) {
        self.0.set_user(user.clone(), None).await.unwrap();
    }
    async fn keys(&self) -> Vec<DatabaseKey> {
        self.0.keys()
    }
    async fn insert_key(&self, key: &DatabaseKey) {
        self.0.set_key(key.clone()).await.unwrap();
    }
    async fn sessions(&self) -> Vec<DatabaseSession> {
        self.0.sessions()
    }
    async fn insert_session(&self, session: &DatabaseSession) {
        self.0.set_session(session.clone()).await.unwrap();
    }
}

impl Fixture for MemoryFixture {
    type Adapter = MemoryAdapter;
    type Database = MemoryRows;

    fn adapter(&self) -> MemoryAdapter {
        self.adapter.clone()
    }
    fn database(&self) -> &MemoryRows {
        &self.rows
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
    let adapter = MemoryAdapter::new().unique_user_attribute("username");
    Some(MemoryFixture { rows: MemoryRows(adapter.clone()), adapter })
}

mod memory {
    use super::fixture;
    crate::behaviour::behaviour_tests!(fixture());
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
