//! The core's behaviour tests (`crates/lucia/tests/behaviour/`: every `Lucia` method and error
//! path, the races between sign-in and revocation) on a split store: users and keys in
//! `lucia::memory::MemoryAdapter`, sessions in Redis, joined by `lucia::SplitAdapter`. Cases
//! are `redis_split::<case>` (single server) and `redis_cluster_split::<case>`.
//!
//! The tests' clock is not Redis's: a session the test clock calls live may already be past
//! its deadline for Redis, which then keeps it one minute (as it keeps any session written
//! dead), longer than any case runs.

#[path = "../../lucia/tests/behaviour/mod.rs"]
mod behaviour;
mod common;

use behaviour::{Fixture, Table};
use common::{Deployment, RedisFixture};
use lucia::memory::MemoryAdapter;
use lucia::{DatabaseKey, DatabaseSession, DatabaseUser, SplitAdapter};
use lucia_adapter_redis::RedisSessionAdapter;
use lucia_adapter_test::TestDatabase;

pub struct SplitFixture {
    users: MemoryAdapter,
    sessions: RedisFixture,
}

/// Raw rows: users and keys from the memory store's snapshots, sessions from Redis's keys.
impl TestDatabase for SplitFixture {
    async fn users(&self) -> Vec<DatabaseUser> {
        TestDatabase::users(&self.users).await
    }
    async fn insert_user(&self, user: &DatabaseUser) {
        self.users.insert_user(user).await
    }
    async fn keys(&self) -> Vec<DatabaseKey> {
        TestDatabase::keys(&self.users).await
    }
    async fn insert_key(&self, key: &DatabaseKey) {
        self.users.insert_key(key).await
    }
    async fn sessions(&self) -> Vec<DatabaseSession> {
        self.sessions.raw.sessions().await
    }
    async fn insert_session(&self, session: &DatabaseSession) {
        self.sessions.raw.insert_session(session).await
    }
}

impl Fixture for SplitFixture {
    type Adapter = SplitAdapter<MemoryAdapter, RedisSessionAdapter>;
    type Database = Self;

    fn adapter(&self) -> Self::Adapter {
        SplitAdapter::new(self.users.clone(), self.sessions.adapter.clone())
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
    async fn teardown(&self) {
        self.sessions.raw.delete_all();
    }
}

async fn fixture(deployment: Deployment) -> Option<SplitFixture> {
    let sessions = RedisFixture::new(deployment).await?;
    Some(SplitFixture { users: MemoryAdapter::new().unique_user_attribute("username"), sessions })
}

mod redis_split {
    use super::{Deployment, fixture};
    crate::behaviour::behaviour_tests!(fixture(Deployment::Single));
    crate::behaviour::token_behaviour_tests!(fixture(Deployment::Single));
    crate::behaviour::second_factor_behaviour_tests!(fixture(Deployment::Single));
}

mod redis_cluster_split {
    use super::{Deployment, fixture};
    crate::behaviour::behaviour_tests!(fixture(Deployment::Cluster));
    crate::behaviour::token_behaviour_tests!(fixture(Deployment::Cluster));
    crate::behaviour::second_factor_behaviour_tests!(fixture(Deployment::Cluster));
}
