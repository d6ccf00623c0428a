//! Fixtures for the adapter's tests: a fresh store per test on SQLite (a temporary file),
//! PostgreSQL (a new schema) or MariaDB/MySQL (a new database), removed afterwards.
//!
//! Server URLs come from `LUCIA_TEST_POSTGRES_URL` and `LUCIA_TEST_MYSQL_URL`. Without them
//! those tests are skipped (and say so), unless `LUCIA_TEST_REQUIRE_SERVERS=1`, which `.ci/run`
//! sets, turns a missing URL into a failure.

#![allow(dead_code)] // each test binary uses a different part of this module

use lucia::{DatabaseKey, DatabaseSession, DatabaseUser};
use lucia_adapter_sea_orm::{
    LuciaMigration, LuciaSecondFactorMigration, SeaOrmAdapter, SeaOrmAdapterWithSecondFactor,
    SeaOrmAdapterWithSecondFactorAndPasskeys, SeaOrmAdapterWithTokens, SeaOrmSessionAdapter, Tables, WithPasskeys,
    WithSecondFactor, WithSessions, WithTokens, entity,
};
use lucia_adapter_test::{Capabilities, Fixture, TestDatabase};
use sea_orm::sea_query::{Alias, ColumnDef};
use sea_orm::{
    ActiveModelTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, EntityTrait,
    IntoActiveModel, QueryOrder,
};
use sea_orm_migration::{MigrationTrait, SchemaManager};
use serde_json::json;

/// The conformance suite's tables (see `lucia_adapter_test`'s docs for the columns), under
/// Lucia's test names (`test_user`, `user_key`, `user_session`) and `user_token`, which also
/// checks that any table names work. Columns beyond `username` and `country` are nullable, so code that only
/// knows those two (the core's behaviour tests) can use the same tables.
pub mod entities {
    pub mod test_user {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "test_user")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: String,
            #[sea_orm(unique)]
            pub username: String,
            #[sea_orm(unique)]
            pub email: Option<String>,
            pub age: Option<i64>,
            pub admin: Option<bool>,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub mod user_key {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "user_key")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: String,
            pub user_id: String,
            pub hashed_password: Option<String>,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub mod user_session {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "user_session")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: String,
            pub user_id: String,
            pub active_expires: i64,
            pub idle_expires: i64,
            pub country: String,
            pub ip: Option<String>,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub mod user_token {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "user_token")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: String,
            pub user_id: String,
            pub kind: String,
            pub email: String,
            pub expires: i64,
            pub attempts: i32,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    /// A TOTP table whose foreign key does not cascade (`Store::migrate_strict_second_factor_tables`).
    pub mod strict_totp {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "strict_totp")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub user_id: String,
            pub encrypted_secret: String,
            pub confirmed: bool,
            pub last_step: i64,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    /// A recovery-code table whose foreign key does not cascade.
    pub mod strict_recovery_code {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "strict_recovery_code")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: String,
            pub user_id: String,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }
}

use entities::{strict_recovery_code, strict_totp, test_user, user_key, user_session, user_token};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

/// A fresh, empty database or schema, dropped by [`Store::drop_store`].
pub struct Store {
    pub db: DatabaseConnection,
    /// How to open another pool on the same store: URL and PostgreSQL schema.
    url: String,
    schema: Option<String>,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    PostgresSchema { admin: DatabaseConnection, schema: String },
    PostgresDatabase { admin: DatabaseConnection, database: String },
    MySqlDatabase { admin: DatabaseConnection, database: String },
}

/// The server URL in `variable`, or `None` (the test is skipped) if it is not set.
pub fn server_url(variable: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("LUCIA_TEST_REQUIRE_SERVERS").is_ok_and(|v| v == "1") => {
            panic!("{variable} is not set, and LUCIA_TEST_REQUIRE_SERVERS=1 forbids skipping")
        }
        _ => {
            eprintln!("SKIPPED: set {variable} to run this test against a real server");
            None
        }
    }
}

async fn connect(url: &str, schema: Option<&str>) -> DatabaseConnection {
    connect_with(url, schema, 4).await
}

async fn connect_with(url: &str, schema: Option<&str>, max_connections: u32) -> DatabaseConnection {
    let mut options = ConnectOptions::new(url);
    options.max_connections(max_connections).min_connections(0).sqlx_logging(false).test_before_acquire(false);
    if let Some(schema) = schema {
        options.set_schema_search_path(schema);
    }
    Database::connect(options).await.unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"))
}

fn unique_name() -> String {
    format!("lucia_test_{}", lucia::generate_random_string(12))
}

impl Store {
    /// A new empty store, or `None` if the backend's server is not configured.
    pub async fn new(backend: Backend) -> Option<Self> {
        let name = unique_name();
        Some(match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("{name}.db"));
                let url = format!("sqlite://{}?mode=rwc", path.display());
                let db = connect(&url, None).await;
                Self { db, url, schema: None, cleanup: Cleanup::File(path) }
            }
            Backend::Postgres => {
                let url = server_url("LUCIA_TEST_POSTGRES_URL")?;
                let admin = connect(&url, None).await;
                admin.execute_unprepared(&format!("CREATE SCHEMA \"{name}\"")).await.unwrap();
                let db = connect(&url, Some(&name)).await;
                Self { db, url, schema: Some(name.clone()), cleanup: Cleanup::PostgresSchema { admin, schema: name } }
            }
            Backend::MySql => {
                let url = server_url("LUCIA_TEST_MYSQL_URL")?;
                let admin = connect(&url, None).await;
                admin.execute_unprepared(&format!("CREATE DATABASE `{name}`")).await.unwrap();
                let url = format!("{}/{name}", url.rsplit_once('/').map_or(url.as_str(), |(base, _)| base));
                let db = connect(&url, None).await;
                Self { db, url, schema: None, cleanup: Cleanup::MySqlDatabase { admin, database: name } }
            }
        })
    }

    /// A new empty PostgreSQL database (not a schema: a store apart from [`Store::new`]'s), or
    /// `None` if the server is not configured.
    pub async fn new_postgres_database() -> Option<Self> {
        let name = unique_name();
        let url = server_url("LUCIA_TEST_POSTGRES_URL")?;
        let admin = connect(&url, None).await;
        admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.unwrap();
        let url = format!("{}/{name}", url.rsplit_once('/').map_or(url.as_str(), |(base, _)| base));
        let db = connect(&url, None).await;
        Some(Self { db, url, schema: None, cleanup: Cleanup::PostgresDatabase { admin, database: name } })
    }

    /// Another connection pool on the same store, of at most `max_connections`.
    pub async fn another_pool(&self, max_connections: u32) -> DatabaseConnection {
        connect_with(&self.url, self.schema.as_deref(), max_connections).await
    }

    /// The server URL of the store (its database included) and its PostgreSQL schema, to
    /// open a pool of one's own on it (through a proxy, say).
    pub fn url_and_schema(&self) -> (&str, Option<&str>) {
        (&self.url, self.schema.as_deref())
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Creates Lucia's tables with the conformance suite's attribute columns, and the token
    /// table `user_token`.
    pub async fn migrate_test_tables(&self) {
        let column = |name: &str| ColumnDef::new(Alias::new(name));
        let migration = LuciaMigration::new()
            .tables("test_user", "user_key", Some("user_session"))
            .user_column(column("username").string_len(255).not_null().unique_key().to_owned())
            .user_column(column("email").string_len(255).null().unique_key().to_owned())
            .user_column(column("age").big_integer().null().to_owned())
            .user_column(column("admin").boolean().null().to_owned())
            .session_column(column("country").string_len(255).not_null().to_owned())
            .session_column(column("ip").string_len(255).null().to_owned());
        let manager = SchemaManager::new(&self.db);
        migration.up(&manager).await.unwrap();
        migration.token_migration().token_table("user_token").up(&manager).await.unwrap();
        // The ready-made `totp` and `recovery_code` tables, referring to the test user table.
        LuciaSecondFactorMigration::new().user_table("test_user").up(&manager).await.unwrap();
    }

    /// Creates the passkey tables, referring to the test user table.
    pub async fn migrate_passkey_tables(&self) {
        let migration = lucia_adapter_sea_orm::LuciaPasskeyMigration::new().user_table("test_user");
        migration.up(&SchemaManager::new(&self.db)).await.unwrap();
    }

    /// Creates `strict_totp` and `strict_recovery_code`: the second-factor tables as
    /// `LuciaSecondFactorMigration` makes them, but with `NO ACTION` foreign keys to the test
    /// user table, so that a user's deletion fails unless the adapter deletes the rows itself.
    pub async fn migrate_strict_second_factor_tables(&self) {
        use sea_orm::sea_query::{ForeignKey, ForeignKeyAction, Table};
        let id = |name: &str| {
            let mut column = ColumnDef::new(Alias::new(name));
            match self.backend() {
                DbBackend::MySql => column.custom(Alias::new("VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")),
                _ => column.text(),
            };
            column.not_null().to_owned()
        };
        let foreign_key = |table: &str| {
            ForeignKey::create()
                .from(Alias::new(table), Alias::new("user_id"))
                .to(Alias::new("test_user"), Alias::new("id"))
                .on_delete(ForeignKeyAction::NoAction)
                .to_owned()
        };
        let totp = Table::create()
            .table(Alias::new("strict_totp"))
            .col(id("user_id").primary_key())
            .col(ColumnDef::new(Alias::new("encrypted_secret")).string_len(255).not_null())
            .col(ColumnDef::new(Alias::new("confirmed")).boolean().not_null())
            .col(ColumnDef::new(Alias::new("last_step")).big_integer().not_null())
            .foreign_key(&mut foreign_key("strict_totp"))
            .to_owned();
        let codes = Table::create()
            .table(Alias::new("strict_recovery_code"))
            .col(id("id").primary_key())
            .col(id("user_id"))
            .foreign_key(&mut foreign_key("strict_recovery_code"))
            .to_owned();
        let manager = SchemaManager::new(&self.db);
        manager.create_table(totp).await.unwrap();
        manager.create_table(codes).await.unwrap();
    }

    /// Creates only the session table with [`LuciaMigration::sessions_only`] (no foreign key)
    /// and the conformance suite's session attribute columns.
    pub async fn migrate_session_table_only(&self) {
        let column = |name: &str| ColumnDef::new(Alias::new(name));
        let migration = LuciaMigration::sessions_only()
            .session_table("user_session")
            .session_column(column("country").string_len(255).not_null().to_owned())
            .session_column(column("ip").string_len(255).null().to_owned());
        migration.up(&SchemaManager::new(&self.db)).await.unwrap();
    }

    pub async fn drop_store(&self) {
        let _ = self.db.close_by_ref().await;
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::PostgresSchema { admin, schema } => {
                admin.execute_unprepared(&format!("DROP SCHEMA \"{schema}\" CASCADE")).await.unwrap();
                let _ = admin.close_by_ref().await;
            }
            Cleanup::PostgresDatabase { admin, database } => {
                // FORCE: a test's own pools may still hold connections.
                admin.execute_unprepared(&format!("DROP DATABASE \"{database}\" WITH (FORCE)")).await.unwrap();
                let _ = admin.close_by_ref().await;
            }
            Cleanup::MySqlDatabase { admin, database } => {
                admin.execute_unprepared(&format!("DROP DATABASE `{database}`")).await.unwrap();
                let _ = admin.close_by_ref().await;
            }
        }
    }
}

/// Runs `test` on a fresh store of `backend`, then drops the store even if `test` panicked, and
/// re-raises the panic. Does nothing when the backend is not configured.
pub async fn with_store<Test, Done>(backend: Backend, test: Test)
where
    Test: FnOnce(DatabaseConnection) -> Done,
    Done: std::future::Future<Output = ()> + Send + 'static,
{
    let Some(store) = Store::new(backend).await else { return };
    let outcome = tokio::spawn(test(store.db.clone())).await;
    store.drop_store().await;
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

/// Raw access to the test tables through typed SeaORM entities, independent of the adapter's
/// dynamic column handling. Rows read leave out attribute columns that are NULL (so a row
/// written with a `username` only reads back as `{ "username": ... }`); rows written may
/// leave out any nullable column.
pub struct EntityTables(pub DatabaseConnection);

impl TestDatabase for EntityTables {
    async fn users(&self) -> Vec<DatabaseUser> {
        let rows = test_user::Entity::find().order_by_asc(test_user::Column::Id).all(&self.0).await.unwrap();
        rows.into_iter()
            .map(|row| DatabaseUser {
                id: row.id,
                attributes: object(json!({
                    "username": row.username, "email": row.email, "age": row.age, "admin": row.admin,
                })),
            })
            .collect()
    }

    async fn insert_user(&self, user: &DatabaseUser) {
        let attributes = &user.attributes;
        let model = test_user::Model {
            id: user.id.clone(),
            username: attributes["username"].as_str().expect("a username").to_owned(),
            email: nullable(attributes, "email", |v| v.as_str().map(str::to_owned)),
            age: nullable(attributes, "age", serde_json::Value::as_i64),
            admin: nullable(attributes, "admin", serde_json::Value::as_bool),
        };
        model.into_active_model().insert(&self.0).await.unwrap();
    }

    async fn keys(&self) -> Vec<DatabaseKey> {
        let rows = user_key::Entity::find().order_by_asc(user_key::Column::Id).all(&self.0).await.unwrap();
        rows.into_iter()
            .map(|row| DatabaseKey { id: row.id, user_id: row.user_id, hashed_password: row.hashed_password })
            .collect()
    }

    async fn insert_key(&self, key: &DatabaseKey) {
        let model = user_key::Model {
            id: key.id.clone(),
            user_id: key.user_id.clone(),
            hashed_password: key.hashed_password.clone(),
        };
        model.into_active_model().insert(&self.0).await.unwrap();
    }

    async fn sessions(&self) -> Vec<DatabaseSession> {
        let rows = user_session::Entity::find().order_by_asc(user_session::Column::Id).all(&self.0).await.unwrap();
        rows.into_iter()
            .map(|row| DatabaseSession {
                id: row.id,
                user_id: row.user_id,
                active_expires: row.active_expires,
                idle_expires: row.idle_expires,
                attributes: object(json!({ "country": row.country, "ip": row.ip })),
            })
            .collect()
    }

    async fn insert_session(&self, session: &DatabaseSession) {
        let model = user_session::Model {
            id: session.id.clone(),
            user_id: session.user_id.clone(),
            active_expires: session.active_expires,
            idle_expires: session.idle_expires,
            country: session.attributes["country"].as_str().expect("a country").to_owned(),
            ip: nullable(&session.attributes, "ip", |v| v.as_str().map(str::to_owned)),
        };
        model.into_active_model().insert(&self.0).await.unwrap();
    }
}

/// A nullable column's value from attributes (absent or `null`: NULL); panics on a value the
/// column cannot hold, which would be a bug in the test.
fn nullable<T>(
    attributes: &lucia::AttributeMap,
    column: &str,
    read: impl Fn(&serde_json::Value) -> Option<T>,
) -> Option<T> {
    match attributes.get(column) {
        None | Some(serde_json::Value::Null) => None,
        Some(value) => Some(read(value).unwrap_or_else(|| panic!("column `{column}` cannot hold {value}"))),
    }
}

/// The columns of a row that are not NULL.
fn object(value: serde_json::Value) -> lucia::AttributeMap {
    let mut attributes = value.as_object().cloned().unwrap_or_default();
    attributes.retain(|_, value| !value.is_null());
    attributes
}

/// The adapter over the test entities.
pub fn test_adapter(db: DatabaseConnection) -> SeaOrmAdapter<WithSessions> {
    let tables = Tables { user: test_user::Entity, key: user_key::Entity, session: user_session::Entity };
    SeaOrmAdapter::new(db, tables).expect("the test entities are valid")
}

/// The adapter over the test entities, with the token table.
pub fn test_adapter_with_tokens(db: DatabaseConnection) -> SeaOrmAdapterWithTokens {
    test_adapter(db).with_tokens(user_token::Entity).expect("the token entity is valid")
}

/// The adapter with tokens and the second-factor tables (the crate's `entity::totp` and
/// `entity::recovery_code`).
pub fn test_adapter_with_second_factor(db: DatabaseConnection) -> SeaOrmAdapterWithSecondFactor {
    test_adapter_with_tokens(db)
        .with_second_factor(entity::totp::Entity, entity::recovery_code::Entity)
        .expect("the second-factor entities are valid")
}

/// A store and an adapter of any shape over it.
pub struct SeaOrmFixture<Shape = WithSessions> {
    store: Store,
    adapter: SeaOrmAdapter<Shape>,
    tables: EntityTables,
    capabilities: Capabilities,
}

impl<Shape: Send + Sync + 'static> Fixture for SeaOrmFixture<Shape> {
    type Adapter = SeaOrmAdapter<Shape>;
    type Database = EntityTables;

    fn adapter(&self) -> &Self::Adapter {
        &self.adapter
    }

    fn database(&self) -> &Self::Database {
        &self.tables
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    async fn teardown(&self) {
        self.store.drop_store().await;
    }
}

/// A store with all three tables (foreign keys included) and the adapter over it: the
/// entities declare `username` and `email` unique, the tables have a schema and foreign keys.
pub async fn fixture(backend: Backend) -> Option<SeaOrmFixture> {
    let store = Store::new(backend).await?;
    store.migrate_test_tables().await;
    let (adapter, tables) = (test_adapter(store.db.clone()), EntityTables(store.db.clone()));
    Some(SeaOrmFixture { adapter, tables, store, capabilities: Capabilities::sql() })
}

/// [`fixture`] with the adapter over the token table too, for the token cases.
pub async fn token_fixture(backend: Backend) -> Option<SeaOrmFixture<WithTokens<WithSessions>>> {
    let store = Store::new(backend).await?;
    store.migrate_test_tables().await;
    let (adapter, tables) = (test_adapter_with_tokens(store.db.clone()), EntityTables(store.db.clone()));
    Some(SeaOrmFixture { adapter, tables, store, capabilities: Capabilities::sql() })
}

/// [`token_fixture`] with the passkey tables too (`LuciaPasskeyMigration` and the crate's
/// passkey entities), for the passkey cases.
pub async fn passkey_fixture(
    backend: Backend,
) -> Option<SeaOrmFixture<lucia_adapter_sea_orm::WithPasskeys<WithTokens<WithSessions>>>> {
    let store = Store::new(backend).await?;
    store.migrate_test_tables().await;
    store.migrate_passkey_tables().await;
    let adapter = test_adapter_with_passkeys(store.db.clone());
    let tables = EntityTables(store.db.clone());
    Some(SeaOrmFixture { adapter, tables, store, capabilities: Capabilities::sql() })
}

/// The adapter over the test entities, with the token and passkey tables.
pub fn test_adapter_with_passkeys(
    db: DatabaseConnection,
) -> SeaOrmAdapter<lucia_adapter_sea_orm::WithPasskeys<WithTokens<WithSessions>>> {
    use lucia_adapter_sea_orm::entity::{passkey, passkey_challenge};
    test_adapter_with_tokens(db).with_passkeys(passkey::Entity, passkey_challenge::Entity).expect("valid entities")
}

/// [`fixture`] with the adapter over the token and second-factor tables too.
pub async fn second_factor_fixture(
    backend: Backend,
) -> Option<SeaOrmFixture<WithSecondFactor<WithTokens<WithSessions>>>> {
    let store = Store::new(backend).await?;
    store.migrate_test_tables().await;
    let (adapter, tables) = (test_adapter_with_second_factor(store.db.clone()), EntityTables(store.db.clone()));
    Some(SeaOrmFixture { adapter, tables, store, capabilities: Capabilities::sql() })
}

/// The adapter of every shape's tables: users, keys, sessions, tokens, second factor (the
/// `strict_*` tables, whose foreign keys do not cascade) and passkeys.
pub fn test_adapter_with_everything(db: DatabaseConnection) -> SeaOrmAdapterWithSecondFactorAndPasskeys {
    use lucia_adapter_sea_orm::entity::{passkey, passkey_challenge};
    test_adapter_with_tokens(db)
        .with_second_factor(strict_totp::Entity, strict_recovery_code::Entity)
        .and_then(|adapter| adapter.with_passkeys(passkey::Entity, passkey_challenge::Entity))
        .expect("valid entities")
}

/// [`fixture`] with every table: the passkey and second-factor cases on
/// [`test_adapter_with_everything`].
pub async fn full_fixture(
    backend: Backend,
) -> Option<SeaOrmFixture<WithPasskeys<WithSecondFactor<WithTokens<WithSessions>>>>> {
    let store = Store::new(backend).await?;
    store.migrate_test_tables().await;
    store.migrate_passkey_tables().await;
    store.migrate_strict_second_factor_tables().await;
    let (adapter, tables) = (test_adapter_with_everything(store.db.clone()), EntityTables(store.db.clone()));
    Some(SeaOrmFixture { adapter, tables, store, capabilities: Capabilities::sql() })
}

/// A store with only a session table made by [`LuciaMigration::sessions_only`] (no foreign
/// key) and the sessions-only adapter over it, for the session-adapter cases.
pub async fn session_fixture(backend: Backend) -> Option<SeaOrmFixture<lucia_adapter_sea_orm::SessionsOnly>> {
    let store = Store::new(backend).await?;
    store.migrate_session_table_only().await;
    let adapter: SeaOrmSessionAdapter =
        SeaOrmAdapter::sessions_only(store.db.clone(), user_session::Entity).expect("the session entity is valid");
    let tables = EntityTables(store.db.clone());
    Some(SeaOrmFixture { adapter, tables, store, capabilities: Capabilities::none().schema() })
}
