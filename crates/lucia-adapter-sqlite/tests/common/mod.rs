//! Fixtures: a fresh SQLite file per test in the temporary directory, with the conformance
//! suite's tables under Lucia's test names (`test_user`, `user_key`, `user_session`), removed
//! afterwards. Raw access to the rows goes through a connection of its own with typed reads,
//! not through the adapter's column handling.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use lucia::{AttributeMap, DatabaseKey, DatabaseSession, DatabaseUser};
use lucia_adapter_sqlite::{SqliteAdapter, SqliteSessionAdapter, Tables, WithPasskeys, WithSecondFactor, WithTokens};
use lucia_adapter_test::{Capabilities, Fixture, TestDatabase};
use rusqlite::{Connection, params};
use serde_json::json;

/// The suite's user and key tables.
pub const USER_AND_KEY_TABLES: &str = "
CREATE TABLE test_user (
    id TEXT NOT NULL PRIMARY KEY,
    username VARCHAR(255) NOT NULL UNIQUE,
    email VARCHAR(255) UNIQUE,
    age BIGINT,
    admin BOOLEAN
);
CREATE TABLE user_key (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES test_user(id),
    hashed_password TEXT
);
";

/// The suite's session table, with a foreign key to `test_user`.
pub const SESSION_TABLE: &str = "
CREATE TABLE user_session (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES test_user(id),
    active_expires INTEGER NOT NULL,
    idle_expires INTEGER NOT NULL,
    country VARCHAR(255) NOT NULL,
    ip VARCHAR(255)
);
CREATE INDEX user_session_idle ON user_session(idle_expires);
";

/// The token table of `lucia_adapter_test::token_adapter` under its default name, with a
/// foreign key to `test_user`.
pub const TOKEN_TABLE: &str = "
CREATE TABLE user_token (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES test_user(id),
    kind TEXT NOT NULL,
    email TEXT NOT NULL,
    expires INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    UNIQUE (user_id, kind)
);
";

/// The second-factor tables, referring to the suite's user table.
pub const SECOND_FACTOR_TABLES: &str = "
CREATE TABLE user_totp (
    user_id TEXT NOT NULL PRIMARY KEY REFERENCES test_user(id) ON DELETE CASCADE,
    encrypted_secret TEXT NOT NULL,
    confirmed BOOLEAN NOT NULL DEFAULT 0,
    last_step INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE user_recovery_code (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES test_user(id) ON DELETE CASCADE
);
";

/// The passkey tables, referring to the suite's user table without `ON DELETE CASCADE`, so that
/// the cases see the adapter's own deletes.
pub const PASSKEY_TABLES: &str = "
CREATE TABLE user_passkey (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES test_user(id),
    name TEXT NOT NULL,
    credential TEXT NOT NULL,
    counter INTEGER NOT NULL,
    backup_eligible BOOLEAN NOT NULL,
    backup_state BOOLEAN NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE TABLE user_passkey_challenge (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT,
    state TEXT NOT NULL,
    expires INTEGER NOT NULL
);
";

/// The suite's session table without a foreign key, for the session-adapter cases.
pub const SESSION_TABLE_ONLY: &str = "
CREATE TABLE user_session (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL,
    active_expires INTEGER NOT NULL,
    idle_expires INTEGER NOT NULL,
    country VARCHAR(255) NOT NULL,
    ip VARCHAR(255)
);
";

pub fn test_tables() -> Tables {
    Tables::new("test_user", "user_key", "user_session")
}

/// A SQLite file of its own, deleted (with its `-wal` and `-shm`) on drop.
pub struct TempDb {
    pub path: PathBuf,
}

impl TempDb {
    /// A new file holding `schema`.
    pub fn new(schema: &str) -> Self {
        let path = std::env::temp_dir().join(format!("lucia_sqlite_test_{}.db", lucia::generate_random_string(12)));
        let connection = Connection::open(&path).expect("create the test database");
        connection.execute_batch(schema).expect("create the test tables");
        Self { path }
    }

    pub fn connection(&self) -> Connection {
        raw_connection(&self.path)
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

pub fn raw_connection(path: &Path) -> Connection {
    let connection = Connection::open(path).expect("open the test database");
    connection.busy_timeout(std::time::Duration::from_secs(10)).expect("busy timeout");
    connection.pragma_update(None, "foreign_keys", true).expect("foreign keys");
    connection
}

/// Raw access to the test tables through a connection of its own, with typed reads.
pub struct RawTables(pub Mutex<Connection>);

impl RawTables {
    pub fn new(path: &Path) -> Self {
        Self(Mutex::new(raw_connection(path)))
    }

    pub fn execute(&self, sql: &str) {
        self.0.lock().unwrap().execute_batch(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// The columns of a row that are not NULL.
fn object(value: serde_json::Value) -> AttributeMap {
    let mut attributes = value.as_object().cloned().unwrap_or_default();
    attributes.retain(|_, value| !value.is_null());
    attributes
}

fn text(attributes: &AttributeMap, column: &str) -> Option<String> {
    attributes.get(column).and_then(|v| v.as_str()).map(str::to_owned)
}

impl TestDatabase for RawTables {
    async fn users(&self) -> Vec<DatabaseUser> {
        let connection = self.0.lock().unwrap();
        let mut statement =
            connection.prepare("SELECT id, username, email, age, admin FROM test_user ORDER BY id").unwrap();
        let rows = statement
            .query_map([], |row| {
                Ok(DatabaseUser {
                    id: row.get(0)?,
                    attributes: object(json!({
                        "username": row.get::<_, String>(1)?,
                        "email": row.get::<_, Option<String>>(2)?,
                        "age": row.get::<_, Option<i64>>(3)?,
                        "admin": row.get::<_, Option<bool>>(4)?,
                    })),
                })
            })
            .unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    async fn insert_user(&self, user: &DatabaseUser) {
        let a = &user.attributes;
        let age = a.get("age").and_then(|v| v.as_i64());
        let admin = a.get("admin").and_then(|v| v.as_bool());
        self.0
            .lock()
            .unwrap()
            .execute(
                "INSERT INTO test_user (id, username, email, age, admin) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![user.id, text(a, "username").expect("a username"), text(a, "email"), age, admin],
            )
            .unwrap();
    }

    async fn keys(&self) -> Vec<DatabaseKey> {
        let connection = self.0.lock().unwrap();
        let mut statement =
            connection.prepare("SELECT id, user_id, hashed_password FROM user_key ORDER BY id").unwrap();
        let rows = statement
            .query_map([], |row| {
                Ok(DatabaseKey { id: row.get(0)?, user_id: row.get(1)?, hashed_password: row.get(2)? })
            })
            .unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    async fn insert_key(&self, key: &DatabaseKey) {
        self.0
            .lock()
            .unwrap()
            .execute(
                "INSERT INTO user_key (id, user_id, hashed_password) VALUES (?1, ?2, ?3)",
                params![key.id, key.user_id, key.hashed_password],
            )
            .unwrap();
    }

    async fn sessions(&self) -> Vec<DatabaseSession> {
        let connection = self.0.lock().unwrap();
        let mut statement = connection
            .prepare("SELECT id, user_id, active_expires, idle_expires, country, ip FROM user_session ORDER BY id")
            .unwrap();
        let rows = statement
            .query_map([], |row| {
                Ok(DatabaseSession {
                    id: row.get(0)?,
                    user_id: row.get(1)?,
                    active_expires: row.get(2)?,
                    idle_expires: row.get(3)?,
                    attributes: object(json!({
                        "country": row.get::<_, String>(4)?,
                        "ip": row.get::<_, Option<String>>(5)?,
                    })),
                })
            })
            .unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    async fn insert_session(&self, session: &DatabaseSession) {
        let a = &session.attributes;
        self.0
            .lock()
            .unwrap()
            .execute(
                "INSERT INTO user_session (id, user_id, active_expires, idle_expires, country, ip) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    session.id,
                    session.user_id,
                    session.active_expires,
                    session.idle_expires,
                    text(a, "country").expect("a country"),
                    text(a, "ip"),
                ],
            )
            .unwrap();
    }
}

/// A file with the suite's tables and an adapter over it. Field order: the adapter and the
/// raw connection close before the file is deleted.
pub struct SqliteFixture<A> {
    pub adapter: A,
    pub raw: RawTables,
    capabilities: Capabilities,
    pub db: TempDb,
}

impl<A: Send + Sync + 'static> Fixture for SqliteFixture<A> {
    type Adapter = A;
    type Database = RawTables;

    fn adapter(&self) -> &A {
        &self.adapter
    }

    fn database(&self) -> &RawTables {
        &self.raw
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    /// The file goes when the fixture is dropped.
    async fn teardown(&self) {}
}

/// All three tables (foreign keys included) and the full adapter: `Capabilities::sql()`.
pub async fn fixture() -> Option<SqliteFixture<SqliteAdapter>> {
    let db = TempDb::new(&format!("{USER_AND_KEY_TABLES}{SESSION_TABLE}"));
    let adapter = SqliteAdapter::builder().tables(test_tables()).open(&db.path).expect("open the adapter");
    Some(SqliteFixture { adapter, raw: RawTables::new(&db.path), capabilities: Capabilities::sql(), db })
}

/// All three tables and the token table, and the adapter opened with tokens.
pub async fn token_fixture() -> Option<SqliteFixture<SqliteAdapter<WithTokens>>> {
    let db = TempDb::new(&format!("{USER_AND_KEY_TABLES}{SESSION_TABLE}{TOKEN_TABLE}"));
    let adapter = SqliteAdapter::builder().tables(test_tables()).tokens().open(&db.path).expect("open the adapter");
    Some(SqliteFixture { adapter, raw: RawTables::new(&db.path), capabilities: Capabilities::sql(), db })
}

/// The test tables, a token table and the second-factor tables, and the adapter opened with
/// second factors.
pub async fn second_factor_fixture() -> Option<SqliteFixture<SqliteAdapter<WithSecondFactor>>> {
    let db = TempDb::new(&format!("{USER_AND_KEY_TABLES}{SESSION_TABLE}{TOKEN_TABLE}{SECOND_FACTOR_TABLES}"));
    let adapter = SqliteAdapter::builder()
        .tables(test_tables())
        .tokens()
        .second_factor()
        .open(&db.path)
        .expect("open the adapter");
    Some(SqliteFixture { adapter, raw: RawTables::new(&db.path), capabilities: Capabilities::sql(), db })
}

/// The test tables, the token, second-factor and passkey tables, and the adapter opened with
/// passkeys.
pub async fn passkey_fixture() -> Option<SqliteFixture<SqliteAdapter<WithPasskeys>>> {
    let db = TempDb::new(&format!(
        "{USER_AND_KEY_TABLES}{SESSION_TABLE}{TOKEN_TABLE}{SECOND_FACTOR_TABLES}{PASSKEY_TABLES}"
    ));
    let adapter = SqliteAdapter::builder()
        .tables(test_tables())
        .tokens()
        .second_factor()
        .passkeys()
        .open(&db.path)
        .expect("open the adapter");
    Some(SqliteFixture { adapter, raw: RawTables::new(&db.path), capabilities: Capabilities::sql(), db })
}

/// Only a session table without foreign key, and the sessions-only adapter.
pub async fn session_fixture() -> Option<SqliteFixture<SqliteSessionAdapter>> {
    let db = TempDb::new(SESSION_TABLE_ONLY);
    let adapter =
        SqliteAdapter::builder().tables(test_tables()).open_sessions_only(&db.path).expect("open the adapter");
    Some(SqliteFixture { adapter, raw: RawTables::new(&db.path), capabilities: Capabilities::none().schema(), db })
}
