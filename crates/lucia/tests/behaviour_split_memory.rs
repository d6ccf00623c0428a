//! The core's behaviour tests (`tests/behaviour/`) on `SplitAdapter`: users and keys in one
//! memory store, sessions in another without foreign keys, as `split_memory::<case>`. The
//! split itself must keep sessions from outliving their users (its `set_session` check and
//! `delete_user_cascade`'s second pass); the same cases run with sessions in Redis in
//! `crates/lucia-adapter-redis/tests/behaviour_split.rs`.

mod behaviour;

use behaviour::{Fixture, Table};
use lucia::memory::MemoryAdapter;
use lucia::{DatabaseKey, DatabaseSession, DatabaseUser, SplitAdapter};
use lucia_adapter_test::TestDatabase;

pub struct SplitFixture {
    users: MemoryAdapter,
    sessions: MemoryAdapter,
}

/// Raw rows: users and keys from one store's snapshots, sessions from the other's.
impl TestDatabase for SplitFixture {
    async fn users(&self) -> Vec<DatabaseUser> {
        self.users.users()
    }
    async fn insert_user(&self, user: &DatabaseUser) {
        TestDatabase::insert_user(&self.users, user).await
    }
    async fn keys(&self) -> Vec<DatabaseKey> {
        self.users.keys()
    }
    async fn insert_key(&self, key: &DatabaseKey) {
        TestDatabase::insert_key(&self.users, key).await
    }
    async fn sessions(&self) -> Vec<DatabaseSession> {
        self.sessions.sessions()
    }
    async fn insert_session(&self, session: &DatabaseSession) {
        TestDatabase::insert_session(&self.sessions, session).await
    }
}

impl Fixture for SplitFixture {
    type Adapter = SplitAdapter<MemoryAdapter, MemoryAdapter>;
    type Database = Self;

    fn adapter(&self) -> Self::Adapter {
        SplitAdapter::new(self.users.clone(), self.sessions.clone())
    }
    fn database(&self) -> &Self {
        self
    }
    fn has_schema(&self) -> bool {
        false
    }
    async fn fail_deletes(&self, _table: Table) -> bool {
        false
    }
    async fn allow_deletes(&self, _table: Table) {}
    async fn teardown(&self) {}
}

async fn fixture() -> Option<SplitFixture> {
    Some(SplitFixture {
        users: MemoryAdapter::new().unique_user_attribute("username"),
        sessions: MemoryAdapter::new().without_foreign_keys(),
    })
}

mod split_memory {
    use super::fixture;
    crate::behaviour::behaviour_tests!(fixture());
    crate::behaviour::token_behaviour_tests!(fixture());
    crate::behaviour::second_factor_behaviour_tests!(fixture());
}
