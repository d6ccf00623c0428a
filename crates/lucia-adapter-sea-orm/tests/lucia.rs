//! The core's behaviour tests (`crates/lucia/tests/behaviour/`: every `Lucia` method and error
//! path, the sign-in races, the fixed Lucia v2 differences) over the SeaORM adapter, on each
//! backend: `sqlite::<case>`, `postgres::<case>`, `mysql::<case>`; the email verification and
//! password-reset cases on the adapter with tokens. The same cases run on the memory adapter
//! in `crates/lucia/tests/behaviour_memory.rs`.

mod common;

#[path = "../../lucia/tests/behaviour/mod.rs"]
mod behaviour;

use behaviour::{Fixture, Table};
use common::{
    Backend, EntityTables, Store, test_adapter, test_adapter_with_second_factor, test_adapter_with_tokens, with_store,
};
use lucia_adapter_sea_orm::{SeaOrmAdapter, SeaOrmAdapterWithSecondFactor, SeaOrmAdapterWithTokens, WithSessions};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};

/// A fresh database (SQLite file, PostgreSQL schema, MariaDB database) with the test tables,
/// and the adapter `make` builds over it (with or without the token table).
pub struct SqlFixture<A> {
    store: Store,
    tables: EntityTables,
    make: fn(DatabaseConnection) -> A,
}

async fn fixture(backend: Backend) -> Option<SqlFixture<SeaOrmAdapter<WithSessions>>> {
    fixture_of(backend, test_adapter).await
}

async fn token_fixture(backend: Backend) -> Option<SqlFixture<SeaOrmAdapterWithTokens>> {
    fixture_of(backend, test_adapter_with_tokens).await
}

async fn second_factor_fixture(backend: Backend) -> Option<SqlFixture<SeaOrmAdapterWithSecondFactor>> {
    fixture_of(backend, test_adapter_with_second_factor).await
}

async fn fixture_of<A>(backend: Backend, make: fn(DatabaseConnection) -> A) -> Option<SqlFixture<A>> {
    let store = Store::new(backend).await?;
    store.migrate_test_tables().await;
    Some(SqlFixture { tables: EntityTables(store.db.clone()), store, make })
}

fn table_name(table: Table) -> &'static str {
    match table {
        Table::User => "test_user",
        Table::Key => "user_key",
        Table::Session => "user_session",
    }
}

impl<A> SqlFixture<A> {
    async fn execute(&self, sql: &str) {
        self.store.db.execute_unprepared(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

impl<A: lucia::Adapter + Clone + 'static> Fixture for SqlFixture<A> {
    type Adapter = A;
    type Database = EntityTables;

    fn adapter(&self) -> A {
        (self.make)(self.store.db.clone())
    }

    fn database(&self) -> &EntityTables {
        &self.tables
    }

    fn has_schema(&self) -> bool {
        true
    }

    /// A `BEFORE DELETE` trigger that raises an error, so the statement fails inside the
    /// adapter's transaction.
    async fn fail_deletes(&self, table: Table) -> bool {
        let name = table_name(table);
        let trigger = format!("fail_delete_{name}");
        match self.store.backend() {
            DbBackend::Sqlite => {
                self.execute(&format!(
                    "CREATE TRIGGER {trigger} BEFORE DELETE ON {name} BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
                ))
                .await;
            }
            DbBackend::Postgres => {
                self.execute(
                    "CREATE OR REPLACE FUNCTION fail_delete() RETURNS trigger LANGUAGE plpgsql AS \
                     $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$",
                )
                .await;
                self.execute(&format!(
                    "CREATE TRIGGER {trigger} BEFORE DELETE ON {name} FOR EACH STATEMENT EXECUTE FUNCTION fail_delete()"
                ))
                .await;
            }
            DbBackend::MySql => {
                self.execute(&format!(
                    "CREATE TRIGGER {trigger} BEFORE DELETE ON {name} FOR EACH ROW \
                     SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected failure'"
                ))
                .await;
            }
            _ => return false,
        }
        true
    }

    async fn allow_deletes(&self, table: Table) {
        let name = table_name(table);
        let drop = match self.store.backend() {
            DbBackend::Postgres => format!("DROP TRIGGER fail_delete_{name} ON {name}"),
            _ => format!("DROP TRIGGER fail_delete_{name}"),
        };
        self.execute(&drop).await;
    }

    async fn teardown(&self) {
        self.store.drop_store().await;
    }
}

mod sqlite {
    use super::{Backend, fixture, second_factor_fixture, token_fixture};
    crate::behaviour::behaviour_tests!(fixture(Backend::Sqlite));
    crate::behaviour::token_behaviour_tests!(token_fixture(Backend::Sqlite));
    crate::behaviour::second_factor_behaviour_tests!(second_factor_fixture(Backend::Sqlite));
}

mod postgres {
    use super::{Backend, fixture, second_factor_fixture, token_fixture};
    crate::behaviour::behaviour_tests!(fixture(Backend::Postgres));
    crate::behaviour::token_behaviour_tests!(token_fixture(Backend::Postgres));
    crate::behaviour::second_factor_behaviour_tests!(second_factor_fixture(Backend::Postgres));
}

mod mysql {
    use super::{Backend, fixture, second_factor_fixture, token_fixture};
    crate::behaviour::behaviour_tests!(fixture(Backend::MySql));
    crate::behaviour::token_behaviour_tests!(token_fixture(Backend::MySql));
    crate::behaviour::second_factor_behaviour_tests!(second_factor_fixture(Backend::MySql));
}

/// `validate_session` runs on every authenticated request, and its future is moved into a box
/// (by axum, by the caller's task) on every call. It must not carry the rare renewal write's
/// future inline: through this adapter that made it 7.6 kB, against about 1 kB with the write
/// boxed (lucia-bench, SeaORM on SQLite against its sqlx floor: 0.92 before, 0.95 after).
#[tokio::test]
async fn validate_session_future_stays_small() {
    with_store(Backend::Sqlite, |db| async move {
        let auth = lucia::Lucia::builder(test_adapter(db)).build();
        let size = std::mem::size_of_val(&auth.validate_session("token"));
        assert!(size <= 2048, "validate_session's future is {size} bytes");
    })
    .await;
}
