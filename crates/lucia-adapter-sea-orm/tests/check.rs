//! The start-up check, `SeaOrmAdapter::check`, against a live database: a wrong table name, a
//! missing column, a column of the wrong type, a column whose nullability differs from its
//! field's, a missing primary key or unique index and a missing foreign key are each one error
//! naming the table and column; migrated tables pass, every table of the adapter with all of
//! them included. `seaorm_check_sqlite::…`,
//! `seaorm_check_postgres::…`, `seaorm_check_mysql::…`.

mod common;

use common::{Backend, with_store};
use lucia_adapter_sea_orm::{CheckError, LuciaMigration, SchemaError, SeaOrmAdapter, Tables, entity};
use sea_orm::sea_query::{Alias, ColumnDef};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use sea_orm_migration::{MigrationTrait, SchemaManager};

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

// `users`, while the migration made `user`.
entity!(users, "users", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
});
entity!(user_with_nickname, "user", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub nickname: Option<String>,
});
entity!(user_with_age, "user", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub age: i64,
});
entity!(user_with_created_at, "user", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub created_at: ChronoDateTimeUtc,
});

entity!(bare_session, "bare_session", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub active_expires: i64,
    pub idle_expires: i64,
});
entity!(user_with_username, "user", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub username: String,
});

fn schema_error(result: Result<(), CheckError>) -> SchemaError {
    match result {
        Err(CheckError::Schema(error)) => error,
        other => panic!("expected a schema error, got {other:?}"),
    }
}

async fn migrate(db: &DatabaseConnection, migration: LuciaMigration) {
    migration.up(&SchemaManager::new(db)).await.unwrap();
}

async fn migrated_tables_pass(db: DatabaseConnection) {
    migrate(&db, LuciaMigration::new()).await;
    let tables = Tables { user: entity::user::Entity, key: entity::key::Entity, session: entity::session::Entity };
    let adapter = SeaOrmAdapter::new(db.clone(), tables).unwrap();
    adapter.check().await.unwrap();
    // The token table: missing, then there.
    let with_tokens = adapter.with_tokens(entity::token::Entity).unwrap();
    let error = schema_error(with_tokens.check().await);
    assert_eq!(error, SchemaError::DatabaseTableMissing { table: "token".into() });
    LuciaMigration::new().token_migration().up(&SchemaManager::new(&db)).await.unwrap();
    with_tokens.check().await.unwrap();
    // Every table: the second-factor tables, then the passkey tables, missing until migrated.
    let everything = with_tokens
        .with_second_factor(entity::totp::Entity, entity::recovery_code::Entity)
        .unwrap()
        .with_passkeys(entity::passkey::Entity, entity::passkey_challenge::Entity)
        .unwrap();
    let error = schema_error(everything.check().await);
    assert_eq!(error, SchemaError::DatabaseTableMissing { table: "totp".into() });
    LuciaMigration::new().second_factor_migration().up(&SchemaManager::new(&db)).await.unwrap();
    let error = schema_error(everything.check().await);
    assert_eq!(error, SchemaError::DatabaseTableMissing { table: "passkey".into() });
    LuciaMigration::new().passkey_migration().up(&SchemaManager::new(&db)).await.unwrap();
    everything.check().await.unwrap();
    let sessions = SeaOrmAdapter::sessions_only(db, entity::session::Entity).unwrap();
    sessions.check().await.unwrap();
}

async fn wrong_table_name(db: DatabaseConnection) {
    migrate(&db, LuciaMigration::new()).await;
    let tables = Tables { user: users::Entity, key: entity::key::Entity, session: entity::session::Entity };
    // Accepted by `new`, which does not query the database; `check` finds it.
    let adapter = SeaOrmAdapter::new(db, tables).unwrap();
    let error = schema_error(adapter.check().await);
    assert_eq!(error, SchemaError::DatabaseTableMissing { table: "users".into() });
    assert!(error.to_string().contains("no table `users`"), "{error}");
}

async fn missing_column(db: DatabaseConnection) {
    migrate(&db, LuciaMigration::new()).await;
    let tables =
        Tables { user: user_with_nickname::Entity, key: entity::key::Entity, session: entity::session::Entity };
    let error = schema_error(SeaOrmAdapter::new(db, tables).unwrap().check().await);
    assert_eq!(error, SchemaError::DatabaseColumnMissing { table: "user".into(), column: "nickname".into() });
}

async fn wrong_type(db: DatabaseConnection) {
    let text_age = ColumnDef::new(Alias::new("age")).string_len(20).not_null().to_owned();
    migrate(&db, LuciaMigration::new().user_column(text_age)).await;
    let tables = Tables { user: user_with_age::Entity, key: entity::key::Entity, session: entity::session::Entity };
    let error = schema_error(SeaOrmAdapter::new(db.clone(), tables).unwrap().check().await);
    assert!(
        matches!(&error, SchemaError::DatabaseColumnType { table, column, .. } if table == "user" && column == "age"),
        "{error}"
    );
    // A 32-bit column for the 64-bit expiries is mistyped too (PostgreSQL, MySQL; SQLite's
    // integers are all 64-bit).
    if db.get_database_backend() != sea_orm::DbBackend::Sqlite {
        db.execute_unprepared(match db.get_database_backend() {
            sea_orm::DbBackend::Postgres => "ALTER TABLE session ALTER COLUMN idle_expires TYPE integer",
            _ => "ALTER TABLE session MODIFY idle_expires INT NOT NULL",
        })
        .await
        .unwrap();
        let tables = Tables { user: entity::user::Entity, key: entity::key::Entity, session: entity::session::Entity };
        let error = schema_error(SeaOrmAdapter::new(db, tables).unwrap().check().await);
        assert!(
            matches!(&error, SchemaError::DatabaseColumnType { table, column, .. } if table == "session" && column == "idle_expires"),
            "{error}"
        );
    }
}

async fn date_time_column_type(db: DatabaseConnection) {
    // The entity's `created_at` is a date-time; the table's is a text column.
    let text = ColumnDef::new(Alias::new("created_at")).string_len(40).not_null().to_owned();
    migrate(&db, LuciaMigration::new().user_column(text)).await;
    let tables =
        Tables { user: user_with_created_at::Entity, key: entity::key::Entity, session: entity::session::Entity };
    let adapter = SeaOrmAdapter::new(db, tables).unwrap();
    let result = adapter.check().await;
    if adapter.connection().get_database_backend() == sea_orm::DbBackend::Sqlite {
        // SQLite stores date-times as text: a text column is right there.
        result.unwrap();
    } else {
        let error = schema_error(result);
        assert!(matches!(&error, SchemaError::DatabaseColumnType { column, .. } if column == "created_at"), "{error}");
    }
}

async fn missing_foreign_key(db: DatabaseConnection) {
    // The user and key tables, then a session table made as for sessions kept in another
    // database: no foreign key to `user`.
    migrate(&db, LuciaMigration::new().tables("user", "key", None)).await;
    migrate(&db, LuciaMigration::sessions_only()).await;
    let tables = Tables { user: entity::user::Entity, key: entity::key::Entity, session: entity::session::Entity };
    let error = schema_error(SeaOrmAdapter::new(db.clone(), tables).unwrap().check().await);
    assert_eq!(error, SchemaError::DatabaseForeignKeyMissing { table: "session".into(), references: "user".into() });
    // As the session half of a split deployment, the same table is right.
    SeaOrmAdapter::sessions_only(db, entity::session::Entity).unwrap().check().await.unwrap();
}

async fn nullability(db: DatabaseConnection) {
    // The field is an `Option`, the column `NOT NULL`: writing `None` would fail.
    let not_null = ColumnDef::new(Alias::new("nickname")).string_len(40).not_null().to_owned();
    migrate(&db, LuciaMigration::new().user_column(not_null)).await;
    let tables =
        Tables { user: user_with_nickname::Entity, key: entity::key::Entity, session: entity::session::Entity };
    let error = schema_error(SeaOrmAdapter::new(db.clone(), tables).unwrap().check().await);
    assert_eq!(error, SchemaError::DatabaseColumnNotNull { table: "user".into(), column: "nickname".into() });
    // The field is an `i64`, the column allows `NULL`: reading a row holding one would fail.
    let nullable = ColumnDef::new(Alias::new("age")).big_integer().null().to_owned();
    let manager = SchemaManager::new(&db);
    manager
        .alter_table(sea_orm::sea_query::Table::alter().table(Alias::new("user")).add_column(nullable).to_owned())
        .await
        .unwrap();
    let tables = Tables { user: user_with_age::Entity, key: entity::key::Entity, session: entity::session::Entity };
    let error = schema_error(SeaOrmAdapter::new(db, tables).unwrap().check().await);
    assert_eq!(error, SchemaError::DatabaseColumnNullable { table: "user".into(), column: "age".into() });
}

async fn missing_unique_index(db: DatabaseConnection) {
    // The entity's `username` is `unique`; the column has no unique index.
    let username = ColumnDef::new(Alias::new("username")).string_len(40).not_null().to_owned();
    migrate(&db, LuciaMigration::new().user_column(username)).await;
    let tables =
        Tables { user: user_with_username::Entity, key: entity::key::Entity, session: entity::session::Entity };
    let adapter = SeaOrmAdapter::new(db.clone(), tables).unwrap();
    let error = schema_error(adapter.check().await);
    let missing = |table: &str, columns: &str| SchemaError::DatabaseUniqueIndexMissing {
        table: table.into(),
        columns: columns.into(),
    };
    assert_eq!(error, missing("user", "username"));
    let index = format!("CREATE UNIQUE INDEX idx_user_username ON {} (username)", quote(&db, "user"));
    db.execute_unprepared(&index).await.unwrap();
    adapter.check().await.unwrap();

    // The token table without its unique `(user_id, kind)` index, which `set_token`'s upsert needs.
    LuciaMigration::new().token_migration().up(&SchemaManager::new(&db)).await.unwrap();
    let with_tokens = adapter.with_tokens(entity::token::Entity).unwrap();
    with_tokens.check().await.unwrap();
    if db.get_database_backend() == sea_orm::DbBackend::MySql {
        // MySQL keeps an index its foreign key uses: give the key another first.
        db.execute_unprepared("CREATE INDEX idx_token_user_id ON token (user_id)").await.unwrap();
        db.execute_unprepared("DROP INDEX idx_token_user_id_kind ON token").await.unwrap();
    } else {
        db.execute_unprepared("DROP INDEX idx_token_user_id_kind").await.unwrap();
    }
    assert_eq!(schema_error(with_tokens.check().await), missing("token", "user_id, kind"));
    // A unique index on more columns than the set does not keep the set unique.
    db.execute_unprepared("CREATE UNIQUE INDEX idx_token_wide ON token (user_id, kind, email)").await.unwrap();
    assert_eq!(schema_error(with_tokens.check().await), missing("token", "user_id, kind"));

    // A session table without a primary key.
    db.execute_unprepared(
        "CREATE TABLE bare_session (id VARCHAR(255) NOT NULL, user_id VARCHAR(255) NOT NULL, \
         active_expires BIGINT NOT NULL, idle_expires BIGINT NOT NULL)",
    )
    .await
    .unwrap();
    let sessions = SeaOrmAdapter::sessions_only(db, bare_session::Entity).unwrap();
    assert_eq!(schema_error(sessions.check().await), missing("bare_session", "id"));
}

/// `user` quoted for the backend: a reserved word on PostgreSQL.
fn quote(db: &DatabaseConnection, name: &str) -> String {
    match db.get_database_backend() {
        sea_orm::DbBackend::MySql => format!("`{name}`"),
        _ => format!("\"{name}\""),
    }
}

macro_rules! backend_tests {
    ($module:ident, $backend:expr) => {
        mod $module {
            use super::*;

            #[tokio::test]
            async fn migrated_tables_pass_the_check() {
                with_store($backend, migrated_tables_pass).await;
            }

            #[tokio::test]
            async fn a_wrong_table_name_is_found() {
                with_store($backend, wrong_table_name).await;
            }

            #[tokio::test]
            async fn a_missing_column_is_found() {
                with_store($backend, missing_column).await;
            }

            #[tokio::test]
            async fn a_column_of_the_wrong_type_is_found() {
                with_store($backend, wrong_type).await;
            }

            #[tokio::test]
            async fn a_date_time_column_of_the_wrong_type_is_found() {
                with_store($backend, date_time_column_type).await;
            }

            #[tokio::test]
            async fn a_nullability_mismatch_is_found() {
                with_store($backend, nullability).await;
            }

            #[tokio::test]
            async fn a_missing_unique_index_is_found() {
                with_store($backend, missing_unique_index).await;
            }

            #[tokio::test]
            async fn a_missing_foreign_key_is_found() {
                with_store($backend, missing_foreign_key).await;
            }
        }
    };
}

backend_tests!(seaorm_check_sqlite, Backend::Sqlite);
backend_tests!(seaorm_check_postgres, Backend::Postgres);
backend_tests!(seaorm_check_mysql, Backend::MySql);
