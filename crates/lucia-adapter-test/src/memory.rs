//! The suite's fixtures for [`lucia::memory::MemoryAdapter`] (feature `memory`): a schemaless
//! store, so [`TestDatabase`] is implemented over its own public API (inserts through the
//! adapter, reads from its snapshots), and its capabilities are what its builder declared.
//!
//! ```ignore
//! mod memory {
//!     lucia_adapter_test::adapter_tests!(async { Some(lucia_adapter_test::memory::MemoryFixture::new()) });
//! }
//! ```

use lucia::memory::MemoryAdapter;
use lucia::{DatabaseKey, DatabaseSession, DatabaseUser, SessionAdapter, UserAdapter};

use crate::{Capabilities, Fixture, TestDatabase};

/// A fresh [`MemoryAdapter`] and the capabilities it was built with.
#[derive(Debug, Clone)]
pub struct MemoryFixture {
    adapter: MemoryAdapter,
    capabilities: Capabilities,
}

impl MemoryFixture {
    /// `username` and `email` unique, foreign keys (what a SQL schema promises), no schema.
    pub fn new() -> Self {
        Self {
            adapter: MemoryAdapter::new().unique_user_attribute("username").unique_user_attribute("email"),
            capabilities: Capabilities::none()
                .unique_user_attribute("username")
                .nullable_unique_user_attribute("email")
                .foreign_keys(),
        }
    }

    /// As [`new`](Self::new), then without foreign keys: keys and sessions of unknown users
    /// are stored.
    pub fn without_foreign_keys() -> Self {
        let fixture = Self::new();
        Self {
            adapter: fixture.adapter.without_foreign_keys(),
            capabilities: Capabilities { foreign_keys: false, ..fixture.capabilities },
        }
    }

    /// `MemoryAdapter::new()` as it comes: foreign keys, nothing unique.
    pub fn plain() -> Self {
        Self { adapter: MemoryAdapter::new(), capabilities: Capabilities::none().foreign_keys() }
    }

    /// A store of sessions only (`MemoryAdapter::new().without_foreign_keys()`), for
    /// [`session_adapter_tests!`](crate::session_adapter_tests).
    pub fn sessions_only() -> Self {
        Self { adapter: MemoryAdapter::new().without_foreign_keys(), capabilities: Capabilities::none() }
    }
}

impl Default for MemoryFixture {
    fn default() -> Self {
        Self::new()
    }
}

impl Fixture for MemoryFixture {
    type Adapter = MemoryAdapter;
    type Database = MemoryAdapter;

    fn adapter(&self) -> &MemoryAdapter {
        &self.adapter
    }

    fn database(&self) -> &MemoryAdapter {
        &self.adapter
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    async fn teardown(&self) {}
}

/// Raw access to a memory store through its public API: inserts go through the adapter's own
/// `set_*` methods (so they keep its constraints), reads are its snapshots.
impl TestDatabase for MemoryAdapter {
    async fn users(&self) -> Vec<DatabaseUser> {
        MemoryAdapter::users(self)
    }

    async fn insert_user(&self, user: &DatabaseUser) {
        self.set_user(user.clone(), None).await.expect("insert a user");
    }

    async fn keys(&self) -> Vec<DatabaseKey> {
        MemoryAdapter::keys(self)
    }

    async fn insert_key(&self, key: &DatabaseKey) {
        self.set_key(key.clone()).await.expect("insert a key");
    }

    async fn sessions(&self) -> Vec<DatabaseSession> {
        MemoryAdapter::sessions(self)
    }

    async fn insert_session(&self, session: &DatabaseSession) {
        self.set_session(session.clone()).await.expect("insert a session");
    }
}
