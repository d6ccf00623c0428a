//! Entity checks when the adapter is built, and attribute columns of every supported type
//! round-tripping on each backend.

mod common;

use common::{Backend, with_store};
use lucia::{AdapterError, AttributeMap, DatabaseUser, UserAdapter};
use lucia_adapter_sea_orm::{NoSessionTable, SchemaError, SeaOrmAdapter, Tables, entity};
use sea_orm::{ConnectionTrait, Schema};
use serde_json::json;

/// Defines a one-off entity module.
macro_rules! entity {
    ($module:ident, $table:literal, { $($body:tt)* }) => {
        mod $module {
            use sea_orm::entity::prelude::*;

            #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
            #[sea_orm(table_name = $table)]
            pub struct Model {
                $($body)*
            }

            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}

            impl ActiveModelBehavior for ActiveModel {}
        }
    };
}

entity!(numeric_user_id, "user", {
    #[sea_orm(primary_key)]
    pub id: i32,
});
entity!(key_without_password, "key", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
});
entity!(key_with_required_password, "key", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub hashed_password: String,
});
entity!(session_with_i32_expiries, "session", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub active_expires: i32,
    pub idle_expires: i64,
});
entity!(user_with_date, "user", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(column_type = "Year")]
    pub born: i32,
});
entity!(session_s, "s", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub active_expires: i64,
    pub idle_expires: i64,
});
entity!(token_u, "u", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
});
entity!(token_k, "k", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub hashed_password: Option<String>,
});
entity!(token_t, "t", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub kind: String,
    pub email: String,
    pub expires: i64,
    pub attempts: i32,
});
entity!(token_without_attempts, "token", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub kind: String,
    pub email: String,
    pub expires: i64,
});
entity!(token_with_i32_expires, "token", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub kind: String,
    pub email: String,
    pub expires: i32,
    pub attempts: i32,
});
entity!(rich_user, "rich_user", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub nickname: Option<String>,
    pub age: i32,
    pub small: i16,
    pub big: i64,
    pub score: f64,
    pub admin: bool,
    pub prefs: Json,
    pub avatar: Vec<u8>,
});

fn adapter_error<U: sea_orm::EntityTrait, K: sea_orm::EntityTrait, S: lucia_adapter_sea_orm::SessionTableOption>(
    tables: Tables<U, K, S>,
) -> SchemaError {
    let db = sea_orm::DatabaseConnection::default();
    SeaOrmAdapter::new(db, tables).err().expect("the entities are rejected")
}

#[test]
fn entities_with_missing_or_mistyped_columns_are_rejected_at_construction() {
    use entity::{key, session, user};
    let error = adapter_error(Tables { user: numeric_user_id::Entity, key: key::Entity, session: session::Entity });
    assert!(matches!(&error, SchemaError::WrongType { column, .. } if column == "id"), "{error}");

    let error =
        adapter_error(Tables { user: user::Entity, key: key_without_password::Entity, session: NoSessionTable });
    assert_eq!(error, SchemaError::MissingColumn { table: "key".into(), column: "hashed_password" });
    assert_eq!(error.to_string(), "table `key` has no `hashed_password` column, which Lucia requires");
    // The migration from entities refuses them the same way.
    let tables = Tables { user: user::Entity, key: key_without_password::Entity, session: session::Entity };
    let error = lucia_adapter_sea_orm::LuciaMigration::from_entities(tables).expect_err("refused");
    assert_eq!(error, SchemaError::MissingColumn { table: "key".into(), column: "hashed_password" });

    let error =
        adapter_error(Tables { user: user::Entity, key: key_with_required_password::Entity, session: NoSessionTable });
    assert!(matches!(&error, SchemaError::WrongType { column, .. } if column == "hashed_password"), "{error}");

    let error =
        adapter_error(Tables { user: user::Entity, key: key::Entity, session: session_with_i32_expiries::Entity });
    assert!(matches!(&error, SchemaError::WrongType { column, .. } if column == "active_expires"), "{error}");
    assert!(error.to_string().contains("64-bit integer"), "{error}");

    let error = adapter_error(Tables { user: user_with_date::Entity, key: key::Entity, session: session::Entity });
    assert!(matches!(&error, SchemaError::UnsupportedType { column, .. } if column == "born"), "{error}");
}

#[test]
fn token_entities_with_missing_or_mistyped_columns_are_rejected_at_construction() {
    use entity::{key, session, token, user};
    let adapter = || {
        let tables = Tables { user: user::Entity, key: key::Entity, session: session::Entity };
        SeaOrmAdapter::new(sea_orm::DatabaseConnection::default(), tables).unwrap()
    };
    let error = adapter().with_tokens(token_without_attempts::Entity).expect_err("rejected");
    assert_eq!(error, SchemaError::MissingColumn { table: "token".into(), column: "attempts" });
    let error = adapter().with_tokens(token_with_i32_expires::Entity).expect_err("rejected");
    assert!(matches!(&error, SchemaError::WrongType { column, .. } if column == "expires"), "{error}");
    assert!(adapter().with_tokens(token::Entity).is_ok());
    let users_only = Tables { user: user::Entity, key: key::Entity, session: NoSessionTable };
    let users: lucia_adapter_sea_orm::SeaOrmUserAdapterWithTokens =
        SeaOrmAdapter::new(sea_orm::DatabaseConnection::default(), users_only)
            .unwrap()
            .with_tokens(token::Entity)
            .unwrap();
    drop(users);
}

async fn attribute_types_round_trip(backend: Backend) {
    with_store(backend, round_trip).await;
}

async fn round_trip(db: sea_orm::DatabaseConnection) {
    let statement = Schema::new(db.get_database_backend()).create_table_from_entity(rich_user::Entity);
    db.execute(&statement).await.unwrap();
    let tables = Tables { user: rich_user::Entity, key: entity::key::Entity, session: NoSessionTable };
    let adapter = SeaOrmAdapter::new(db, tables).unwrap();

    let attributes = |value: serde_json::Value| -> AttributeMap { value.as_object().cloned().unwrap() };
    let row = attributes(json!({
        "name": "Ada", "nickname": null, "age": -36, "small": 7, "big": 9_007_199_254_740_993_i64,
        "score": 0.5, "admin": true, "prefs": { "theme": "dark", "tags": [1, 2] }, "avatar": [0, 159, 255],
    }));
    let user = DatabaseUser { id: "rich".into(), attributes: row.clone() };
    adapter.set_user(user.clone(), None).await.unwrap();
    assert_eq!(adapter.get_user("rich").await.unwrap(), Some(user));

    adapter.update_user("rich", attributes(json!({ "nickname": "countess", "admin": false }))).await.unwrap();
    let read = adapter.get_user("rich").await.unwrap().unwrap();
    assert_eq!((&read.attributes["nickname"], &read.attributes["admin"]), (&json!("countess"), &json!(false)));

    // Values that do not fit their column are refused before the database sees them.
    for bad in [
        json!({ "age": "old" }),
        json!({ "age": 3_000_000_000_i64 }),
        json!({ "small": 70_000 }),
        json!({ "score": "high" }),
        json!({ "admin": 1 }),
        json!({ "avatar": [256] }),
        json!({ "avatar": "bytes" }),
        json!({ "name": null }),
        json!({ "missing": 1 }),
    ] {
        match adapter.update_user("rich", attributes(bad.clone())).await {
            Err(AdapterError::InvalidAttributes(_)) => {}
            other => panic!("{bad} gave {other:?}"),
        }
    }
    assert_eq!(adapter.get_user("rich").await.unwrap().unwrap(), read);
}

#[tokio::test]
async fn sqlite_attribute_types_round_trip() {
    attribute_types_round_trip(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_attribute_types_round_trip() {
    attribute_types_round_trip(Backend::Postgres).await;
}

#[tokio::test]
async fn mysql_attribute_types_round_trip() {
    attribute_types_round_trip(Backend::MySql).await;
}

async fn migration_goes_up_and_down(backend: Backend) {
    with_store(backend, |db| async move {
        use sea_orm_migration::{MigrationTrait, SchemaManager};
        let manager = SchemaManager::new(&db);
        let migration = lucia_adapter_sea_orm::LuciaMigration::new().tables("u", "k", Some("s"));
        migration.up(&manager).await.unwrap();
        for table in ["u", "k", "s"] {
            assert!(manager.has_table(table).await.unwrap(), "{table} created");
        }
        assert!(manager.has_index("s", "idx_s_idle_expires").await.unwrap());
        migration.down(&manager).await.unwrap();
        for table in ["u", "k", "s"] {
            assert!(!manager.has_table(table).await.unwrap(), "{table} dropped");
        }
        migration.up(&manager).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn sqlite_migration_goes_up_and_down() {
    migration_goes_up_and_down(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_migration_goes_up_and_down() {
    migration_goes_up_and_down(Backend::Postgres).await;
}

#[tokio::test]
async fn mysql_migration_goes_up_and_down() {
    migration_goes_up_and_down(Backend::MySql).await;
}

/// The token migration creates the token table next to Lucia's tables: `attempts` defaults to
/// 0, `(user_id, kind)` is unique, `user_id` refers to a user; its name differs from
/// `LuciaMigration`'s, and `down` drops the token table alone.
async fn token_migration_goes_up_and_down(backend: Backend) {
    with_store(backend, |db| async move {
        use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};
        let manager = SchemaManager::new(&db);
        let lucia = lucia_adapter_sea_orm::LuciaMigration::new().tables("u", "k", Some("s"));
        let tokens = lucia.token_migration().token_table("t");
        assert_ne!(tokens.name(), lucia.name(), "both fit in one migrator");
        assert_eq!(lucia.name(), "m20260101_000001_create_lucia_tables", "unchanged for existing databases");
        lucia.up(&manager).await.unwrap();
        tokens.up(&manager).await.unwrap();
        assert!(manager.has_table("t").await.unwrap());
        assert!(manager.has_index("t", "idx_t_user_id_kind").await.unwrap());
        assert!(manager.has_index("t", "idx_t_expires").await.unwrap());

        db.execute_unprepared("INSERT INTO u (id) VALUES ('a')").await.unwrap();
        let row = |id: &str, user: &str| {
            format!("INSERT INTO t (id, user_id, kind, email, expires) VALUES ('{id}', '{user}', 'password_reset', 'a@example.com', 1)")
        };
        db.execute_unprepared(&row("1", "a")).await.unwrap();
        let error = db.execute_unprepared(&row("2", "a")).await.expect_err("(user_id, kind) is unique");
        assert!(matches!(error.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))), "{error}");
        let error = db.execute_unprepared(&row("3", "nobody")).await.expect_err("user_id refers to a user");
        assert!(matches!(error.sql_err(), Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_))), "{error}");
        let tables = Tables { user: token_u::Entity, key: token_k::Entity, session: NoSessionTable };
        let adapter = SeaOrmAdapter::new(db.clone(), tables).unwrap().with_tokens(token_t::Entity).unwrap();
        let token = lucia::TokenAdapter::get_token(&adapter, "1").await.unwrap().expect("the row");
        assert_eq!((token.attempts, token.kind), (0, lucia::TokenKind::PasswordReset), "attempts default to 0");
        // A kind this version does not know is an error, not a panic or a token.
        let unknown = "INSERT INTO t (id, user_id, kind, email, expires) VALUES ('4', 'a', 'magic_link', 'a@example.com', 1)";
        db.execute_unprepared(unknown).await.unwrap();
        let error = lucia::TokenAdapter::get_token(&adapter, "4").await.expect_err("an unknown kind");
        assert!(matches!(error, AdapterError::InvalidAttributes(_)), "{error:?}");

        tokens.down(&manager).await.unwrap();
        assert!(!manager.has_table("t").await.unwrap(), "the token table is dropped");
        for table in ["u", "k", "s"] {
            assert!(manager.has_table(table).await.unwrap(), "{table} is left alone");
        }
        tokens.up(&manager).await.unwrap();
        tokens.down(&manager).await.unwrap();
        lucia.down(&manager).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn sqlite_token_migration_goes_up_and_down() {
    token_migration_goes_up_and_down(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_token_migration_goes_up_and_down() {
    token_migration_goes_up_and_down(Backend::Postgres).await;
}

#[tokio::test]
async fn mysql_token_migration_goes_up_and_down() {
    token_migration_goes_up_and_down(Backend::MySql).await;
}

/// `sessions_only` creates the session table alone, with its indexes and no foreign key (a
/// session of a user this database does not know is accepted), next to tables it leaves
/// alone, and `down` drops only the session table.
async fn sessions_only_migration_goes_up_and_down(backend: Backend) {
    with_store(backend, |db| async move {
        use lucia::{DatabaseSession, SessionAdapter};
        use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};
        let manager = SchemaManager::new(&db);
        // Tables of someone else's, named as Lucia's user and key tables would be.
        let others = lucia_adapter_sea_orm::LuciaMigration::new().tables("user", "key", None);
        others.up(&manager).await.unwrap();
        let migration = lucia_adapter_sea_orm::LuciaMigration::sessions_only().session_table("s");
        assert_ne!(migration.name(), others.name(), "both fit in one migrator");
        migration.up(&manager).await.unwrap();
        assert!(manager.has_table("s").await.unwrap());
        assert!(!manager.has_table("session").await.unwrap());
        assert!(manager.has_index("s", "idx_s_user_id").await.unwrap());
        assert!(manager.has_index("s", "idx_s_idle_expires").await.unwrap());

        let adapter = SeaOrmAdapter::sessions_only(db.clone(), session_s::Entity).unwrap();
        let session = DatabaseSession {
            id: "session-of-a-user-elsewhere".into(),
            user_id: "not-in-this-database".into(),
            active_expires: 1,
            idle_expires: 2,
            attributes: AttributeMap::new(),
        };
        adapter.set_session(session.clone()).await.expect("no foreign key to a user table");
        assert_eq!(adapter.get_session(&session.id).await.unwrap(), Some(session));

        migration.down(&manager).await.unwrap();
        assert!(!manager.has_table("s").await.unwrap(), "the session table is dropped");
        for table in ["user", "key"] {
            assert!(manager.has_table(table).await.unwrap(), "{table} is left alone");
        }
        migration.up(&manager).await.unwrap();
        assert!(manager.has_table("s").await.unwrap(), "up again after down");
    })
    .await;
}

#[tokio::test]
async fn sqlite_sessions_only_migration_goes_up_and_down() {
    sessions_only_migration_goes_up_and_down(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_sessions_only_migration_goes_up_and_down() {
    sessions_only_migration_goes_up_and_down(Backend::Postgres).await;
}

#[tokio::test]
async fn mysql_sessions_only_migration_goes_up_and_down() {
    sessions_only_migration_goes_up_and_down(Backend::MySql).await;
}

/// The one-off move from clear session ids (Lucia v2 compatible) to hashed ids keeps every
/// session valid, leaves no token in the table, and changes nothing when run again.
async fn clear_session_ids_convert_to_hashed(backend: Backend) {
    with_store(backend, |db| async move {
        use lucia::{CreateUser, Lucia, SessionAdapter, SessionTokens};
        use sea_orm_migration::{MigrationTrait, SchemaManager};
        lucia_adapter_sea_orm::LuciaMigration::new().up(&SchemaManager::new(&db)).await.unwrap();
        let tables = Tables { user: entity::user::Entity, key: entity::key::Entity, session: entity::session::Entity };
        let adapter = SeaOrmAdapter::new(db, tables).unwrap();
        let compat = Lucia::builder(adapter.clone()).lucia_v2_compat().build();
        let user = compat.create_user(CreateUser::new(Default::default())).await.unwrap();
        let mut tokens = Vec::new();
        for _ in 0..3 {
            let created = compat.create_session(lucia::CreateSession::for_user(user.user_id.clone())).await.unwrap();
            tokens.push(created.token.expose_secret().to_owned());
        }
        assert_eq!(adapter.hash_clear_session_ids().await.unwrap(), 3);
        assert_eq!(adapter.hash_clear_session_ids().await.unwrap(), 0);
        let hashed = Lucia::builder(adapter.clone()).build();
        for token in &tokens {
            assert_eq!(hashed.validate_session(token).await.unwrap().user.user_id, user.user_id);
            assert!(compat.validate_session(token).await.is_err(), "the clear id is gone");
            assert!(adapter.get_session(token).await.unwrap().is_none());
            assert!(adapter.get_session(&SessionTokens::Hashed.stored_id(token)).await.unwrap().is_some());
        }
    })
    .await;
}

#[tokio::test]
async fn sqlite_clear_session_ids_convert_to_hashed() {
    clear_session_ids_convert_to_hashed(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_clear_session_ids_convert_to_hashed() {
    clear_session_ids_convert_to_hashed(Backend::Postgres).await;
}

#[tokio::test]
async fn mysql_clear_session_ids_convert_to_hashed() {
    clear_session_ids_convert_to_hashed(Backend::MySql).await;
}

/// SQLite compiles each statement against the schema its connection last read: a pooled
/// connection that read it before the token table's unique `(user_id, kind)` index was made (by
/// a migration on another connection) must still store tokens (`ON CONFLICT (user_id, kind)`
/// failed to compile on it: a flaky conformance failure, when a connection read the schema
/// between the migration's `CREATE TABLE` and `CREATE INDEX`).
#[tokio::test(flavor = "multi_thread")]
async fn sqlite_tokens_on_connections_older_than_the_token_index() {
    use lucia::{DatabaseToken, TokenAdapter, TokenKind};
    use sea_orm::TransactionTrait;

    let Some(store) = common::Store::new(Backend::Sqlite).await else { return };
    store.migrate_test_tables().await;
    // Schema changes on one connection of their own (another would have a stale schema too).
    let ddl = store.another_pool(1).await;
    ddl.execute_unprepared("DROP INDEX idx_user_token_user_id_kind").await.unwrap();
    let pool = store.another_pool(2).await;
    let adapter = common::test_adapter_with_tokens(pool.clone());
    let user = DatabaseUser { id: "ada".into(), attributes: json!({ "username": "ada" }).as_object().unwrap().clone() };
    adapter.set_user(user, None).await.unwrap();
    // Both connections of the pool read the token table, before its index exists.
    let (first, second) = (pool.begin().await.unwrap(), pool.begin().await.unwrap());
    for transaction in [&first, &second] {
        transaction.execute_unprepared("SELECT * FROM user_token LIMIT 0").await.unwrap();
    }
    first.commit().await.unwrap();
    second.commit().await.unwrap();
    let index = "CREATE UNIQUE INDEX idx_user_token_user_id_kind ON user_token (user_id, kind)";
    ddl.execute_unprepared(index).await.unwrap();

    let kinds = [TokenKind::EmailVerification, TokenKind::PasswordReset].into_iter().cycle().take(4);
    for (attempt, kind) in kinds.enumerate() {
        let token = DatabaseToken {
            id: format!("token-{attempt}"),
            user_id: "ada".into(),
            kind,
            email: "ada@example.com".into(),
            expires: i64::MAX,
            attempts: 0,
        };
        let outcome = adapter.set_token(token).await;
        assert!(outcome.is_ok(), "set_token {attempt}: {outcome:?}");
    }
    pool.close().await.unwrap();
    ddl.close().await.unwrap();
    store.drop_store().await;
}
