//! The stores a run benchmarks: a fresh SQLite file, PostgreSQL schema, MariaDB/MySQL database
//! or Redis key prefix each, removed afterwards; and the floor, the raw driver sending the
//! statement the SeaORM adapter sends for `get_session_and_user`.

use std::str::FromStr;

use sqlx::ConnectOptions as _;
use std::sync::{Arc, Mutex};

use lucia_adapter_sea_orm::LuciaMigration;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};
use sea_orm_migration::{MigrationTrait, SchemaManager};

/// What the SeaORM adapter sends for `get_session_and_user` over the default tables
/// (`LuciaMigration::new()`, `entity::{user, key, session}`), as sqlx's statement log shows it,
/// in each backend's quoting.
const SQLITE_SELECT: &str = r#"SELECT "s"."id" AS "s__id", "s"."user_id" AS "s__user_id", "s"."active_expires" AS "s__active_expires", "s"."idle_expires" AS "s__idle_expires", "u"."id" AS "u__id" FROM "session" AS "s" INNER JOIN "user" AS "u" ON "u"."id" = "s"."user_id" WHERE "s"."id" = ?"#;
const POSTGRES_SELECT: &str = r#"SELECT "s"."id" AS "s__id", "s"."user_id" AS "s__user_id", "s"."active_expires" AS "s__active_expires", "s"."idle_expires" AS "s__idle_expires", "u"."id" AS "u__id" FROM "session" AS "s" INNER JOIN "user" AS "u" ON "u"."id" = "s"."user_id" WHERE "s"."id" = $1"#;
const MYSQL_SELECT: &str = "SELECT `s`.`id` AS `s__id`, `s`.`user_id` AS `s__user_id`, `s`.`active_expires` AS `s__active_expires`, `s`.`idle_expires` AS `s__idle_expires`, `u`.`id` AS `u__id` FROM `session` AS `s` INNER JOIN `user` AS `u` ON `u`.`id` = `s`.`user_id` WHERE `s`.`id` = ?";

/// What the users-only adapter sends for `get_user` (sessions in Redis).
const SQLITE_USER: &str = r#"SELECT "id" FROM "user" WHERE "id" = ?"#;
const POSTGRES_USER: &str = r#"SELECT "id" FROM "user" WHERE "id" = $1"#;

/// A session row and its user's id, decoded as the adapter decodes them.
type Row = (String, String, i64, i64, String);

/// The SQL backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlBackend {
    Sqlite,
    Postgres,
    MySql,
}

/// Pool settings shared by SeaORM's pool and the floor's.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    pub max_connections: u32,
}

/// A fresh store on one backend.
pub struct Store {
    pub db: DatabaseConnection,
    /// The floors: the raw driver under the adapter, then, on SQLite, sqlx alone.
    pub floors: Vec<Floor>,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    PostgresSchema { admin: DatabaseConnection, schema: String },
    MySqlDatabase { admin: DatabaseConnection, database: String },
}

fn unique_name() -> String {
    format!("lucia_bench_{}", lucia::generate_random_string(10))
}

/// SeaORM's pool. Every connection is opened up front (`min_connections` = `max_connections`),
/// in lucia's pool and in the floor's alike: a connection opened during a measured slice (a
/// pool grows when a query finds no idle connection) costs that side milliseconds the other
/// side did not pay, and at 1 in flight a pool hands out its idle connections in turn, so
/// both sides must hold as many.
fn options(url: &str, pool: PoolSettings) -> ConnectOptions {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(pool.max_connections)
        .min_connections(pool.max_connections)
        .sqlx_logging(false)
        .test_before_acquire(false);
    options
}

/// The floor's pool: the settings [`options`] gives SeaORM's.
fn pool_options<DB: sqlx::Database>(pool: PoolSettings) -> sqlx::pool::PoolOptions<DB> {
    sqlx::pool::PoolOptions::new()
        .max_connections(pool.max_connections)
        .min_connections(pool.max_connections)
        .test_before_acquire(false)
}

fn failed(what: &str) -> impl Fn(&dyn std::fmt::Display) -> String + '_ {
    move |e| format!("{what}: {e}")
}

impl Store {
    /// A new store on `backend` (for a server, at `url`), with Lucia's tables: all three, or
    /// with `sessions: false` only users and keys.
    pub async fn open(backend: SqlBackend, url: &str, pool: PoolSettings, sessions: bool) -> Result<Self, String> {
        let name = unique_name();
        let store = match backend {
            SqlBackend::Sqlite => {
                let path = std::env::temp_dir().join(format!("{name}.db"));
                let url = format!("sqlite://{}?mode=rwc", path.display());
                let db = Database::connect(options(&url, pool)).await.map_err(|e| failed("sqlite")(&e))?;
                let rusqlite = Floor::sqlite(&path, pool.max_connections).map_err(|e| failed("rusqlite")(&e))?;
                let connect = sqlx::sqlite::SqliteConnectOptions::from_str(&url).map_err(|e| failed(&url)(&e))?;
                let sqlx = pool_options(pool)
                    .connect_with(connect.disable_statement_logging())
                    .await
                    .map_err(|e| failed(&url)(&e))?;
                Self { db, floors: vec![rusqlite, Floor::SqlxSqlite(sqlx)], cleanup: Cleanup::File(path) }
            }
            SqlBackend::Postgres => {
                let admin = Database::connect(options(url, PoolSettings { max_connections: 1 }))
                    .await
                    .map_err(|e| failed(url)(&e))?;
                admin.execute_unprepared(&format!("CREATE SCHEMA \"{name}\"")).await.map_err(|e| failed(url)(&e))?;
                let cleanup = Cleanup::PostgresSchema { admin, schema: name.clone() };
                let mut seaorm = options(url, pool);
                seaorm.set_schema_search_path(&name);
                let db = Database::connect(seaorm).await.map_err(|e| failed(url)(&e))?;
                let connect = sqlx::postgres::PgConnectOptions::from_str(url).map_err(|e| failed(url)(&e))?;
                let connect = connect.options([("search_path", name.as_str())]).disable_statement_logging();
                let floor = pool_options(pool).connect_with(connect).await.map_err(|e| failed(url)(&e))?;
                Self { db, floors: vec![Floor::Postgres(floor)], cleanup }
            }
            SqlBackend::MySql => {
                let admin = Database::connect(options(url, PoolSettings { max_connections: 1 }))
                    .await
                    .map_err(|e| failed(url)(&e))?;
                admin.execute_unprepared(&format!("CREATE DATABASE `{name}`")).await.map_err(|e| failed(url)(&e))?;
                let cleanup = Cleanup::MySqlDatabase { admin, database: name.clone() };
                let url = format!("{}/{name}", url.rsplit_once('/').map_or(url, |(base, _)| base));
                let db = Database::connect(options(&url, pool)).await.map_err(|e| failed(&url)(&e))?;
                let connect = sqlx::mysql::MySqlConnectOptions::from_str(&url).map_err(|e| failed(&url)(&e))?;
                let floor = pool_options(pool)
                    .connect_with(connect.disable_statement_logging())
                    .await
                    .map_err(|e| failed(&url)(&e))?;
                Self { db, floors: vec![Floor::MySql(floor)], cleanup }
            }
        };
        let migration =
            if sessions { LuciaMigration::new() } else { LuciaMigration::new().tables("user", "key", None) };
        if let Err(e) = migration.up(&SchemaManager::new(&store.db)).await {
            store.remove().await;
            return Err(format!("migration: {e}"));
        }
        Ok(store)
    }

    /// The SQLite file, on SQLite.
    pub fn sqlite_path(&self) -> Option<&std::path::Path> {
        match &self.cleanup {
            Cleanup::File(path) => Some(path),
            _ => None,
        }
    }

    /// Drops the schema or database, or deletes the file.
    pub async fn remove(self) {
        let _ = self.db.close().await;
        let result = match self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
                Ok(())
            }
            Cleanup::PostgresSchema { admin, schema } => {
                admin.execute_unprepared(&format!("DROP SCHEMA \"{schema}\" CASCADE")).await.map(drop)
            }
            Cleanup::MySqlDatabase { admin, database } => {
                admin.execute_unprepared(&format!("DROP DATABASE `{database}`")).await.map(drop)
            }
        };
        if let Err(e) = result {
            eprintln!("lucia-bench: could not remove the benchmark's store: {e}");
        }
    }
}

/// The raw driver under the adapter, reading a session and its user with the adapter's
/// statement.
#[derive(Clone)]
pub enum Floor {
    /// `rusqlite`, prepared once per connection; one connection per pool slot, each used by
    /// one task at a time.
    Sqlite(Arc<Vec<Mutex<rusqlite::Connection>>>),
    /// `sqlx`, whose statement cache prepares it once per connection.
    Postgres(sqlx::PgPool),
    /// `sqlx`, as for PostgreSQL.
    MySql(sqlx::MySqlPool),
    /// `sqlx` on SQLite: the driver SeaORM uses there, whose connections each run on a
    /// worker thread of their own.
    SqlxSqlite(sqlx::SqlitePool),
    /// Sessions in Redis: the adapter's two reads (`GET` of the session id's pointer to its
    /// user, `HGETALL` of the session) on a `ConnectionManager`, then the user's row through
    /// the users' floor (SQLite or PostgreSQL) with the users-only adapter's statement.
    Redis { connection: redis::aio::ConnectionManager, prefix: String, users: Box<Floor> },
}

impl Floor {
    fn sqlite(path: &std::path::Path, connections: u32) -> rusqlite::Result<Self> {
        let connections = (0..connections.max(1)).map(|_| rusqlite::Connection::open(path).map(Mutex::new));
        Ok(Self::Sqlite(Arc::new(connections.collect::<rusqlite::Result<_>>()?)))
    }

    /// Reads sessions from Redis under `prefix` and users through `users`.
    pub async fn redis(url: &str, prefix: &str, users: Floor) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| failed(url)(&e))?;
        let connection = redis::aio::ConnectionManager::new(client).await.map_err(|e| failed(url)(&e))?;
        Ok(Self::Redis { connection, prefix: prefix.to_owned(), users: Box::new(users) })
    }

    /// The driver's name, for the output.
    pub fn driver(&self) -> String {
        match self {
            Self::Sqlite(_) => "rusqlite (same statement)".into(),
            Self::Postgres(_) | Self::MySql(_) | Self::SqlxSqlite(_) => "sqlx (same statement)".into(),
            Self::Redis { users, .. } => format!("redis GET+HGETALL, then {}", users.driver()),
        }
    }

    /// The first free SQLite connection, else the first one once it is free.
    fn sqlite_connection(
        connections: &[Mutex<rusqlite::Connection>],
    ) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        connections.iter().find_map(|c| c.try_lock().ok()).unwrap_or_else(|| connections[0].lock().expect("poisoned"))
    }

    /// The user row with this id; panics if there is none.
    async fn get_user(&self, user_id: &str) {
        let found: Option<(String,)> = match self {
            Self::Sqlite(connections) => {
                let connection = Self::sqlite_connection(connections);
                let mut statement = connection.prepare_cached(SQLITE_USER).expect("prepare");
                let mut rows = statement.query([user_id]).expect("query");
                rows.next().expect("row").map(|r| (r.get(0).unwrap(),))
            }
            Self::Postgres(pool) => {
                sqlx::query_as(POSTGRES_USER).bind(user_id).fetch_optional(pool).await.expect("query")
            }
            Self::SqlxSqlite(pool) => {
                sqlx::query_as(SQLITE_USER).bind(user_id).fetch_optional(pool).await.expect("query")
            }
            Self::MySql(_) | Self::Redis { .. } => unreachable!("users are in SQLite or PostgreSQL"),
        };
        assert!(found.is_some(), "the floor found no user {user_id}");
    }

    /// The session row with this stored id joined with its user; panics on a database error
    /// or a missing row (the benchmark only reads sessions it made).
    pub async fn get_session_and_user(&self, stored_id: &str) {
        let row: Option<Row> = match self {
            Self::Sqlite(connections) => {
                let connection = Self::sqlite_connection(connections);
                let mut statement = connection.prepare_cached(SQLITE_SELECT).expect("prepare");
                let mut rows = statement.query([stored_id]).expect("query");
                rows.next().expect("row").map(|r| {
                    (r.get(0).unwrap(), r.get(1).unwrap(), r.get(2).unwrap(), r.get(3).unwrap(), r.get(4).unwrap())
                })
            }
            Self::Postgres(pool) => {
                sqlx::query_as(POSTGRES_SELECT).bind(stored_id).fetch_optional(pool).await.expect("query")
            }
            Self::MySql(pool) => {
                sqlx::query_as(MYSQL_SELECT).bind(stored_id).fetch_optional(pool).await.expect("query")
            }
            Self::SqlxSqlite(pool) => {
                sqlx::query_as(SQLITE_SELECT).bind(stored_id).fetch_optional(pool).await.expect("query")
            }
            Self::Redis { connection, prefix, users } => {
                // Session and user ids are `[a-z0-9]`, which the adapter's keys carry as they are.
                let mut connection = connection.clone();
                let user_id: Option<String> = redis::cmd("GET")
                    .arg(format!("{prefix}:sid:{stored_id}"))
                    .query_async(&mut connection)
                    .await
                    .expect("GET");
                let user_id = user_id.expect("a session pointer");
                let fields: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
                    .arg(format!("{prefix}:{{{user_id}}}:s:{stored_id}"))
                    .query_async(&mut connection)
                    .await
                    .expect("HGETALL");
                assert!(!fields.is_empty(), "the floor found no session {stored_id}");
                users.get_user(&user_id).await;
                return;
            }
        };
        assert!(row.is_some(), "the floor found no session {stored_id}");
    }
}

/// A Redis key prefix of its own, and its removal.
pub struct RedisPrefix {
    pub prefix: String,
    client: redis::Client,
}

impl RedisPrefix {
    pub fn new(url: &str) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| failed(url)(&e))?;
        Ok(Self { prefix: unique_name(), client })
    }

    /// Deletes every key under the prefix.
    pub async fn remove(self) {
        let result: redis::RedisResult<()> = async {
            let mut connection = self.client.get_multiplexed_async_connection().await?;
            let mut cursor = 0u64;
            loop {
                let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(format!("{}*", self.prefix))
                    .arg("COUNT")
                    .arg(1000)
                    .query_async(&mut connection)
                    .await?;
                if !keys.is_empty() {
                    redis::cmd("DEL").arg(&keys).query_async::<()>(&mut connection).await?;
                }
                if next == 0 {
                    break Ok(());
                }
                cursor = next;
            }
        }
        .await;
        if let Err(e) = result {
            eprintln!("lucia-bench: could not remove the Redis keys under {}: {e}", self.prefix);
        }
    }
}
