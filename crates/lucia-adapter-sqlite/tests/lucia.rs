//! The core's behaviour tests (`crates/lucia/tests/behaviour/`: every `Lucia` method and error
//! path, the sign-in races, the fixed Lucia v2 differences) over the SQLite adapter:
//! `rusqlite_behaviour::<case>`.

mod common;

#[path = "../../lucia/tests/behaviour/mod.rs"]
mod behaviour;

use behaviour::{Fixture, Table};
use common::{RawTables, SECOND_FACTOR_TABLES, SESSION_TABLE, TOKEN_TABLE, TempDb, USER_AND_KEY_TABLES, test_tables};
use lucia_adapter_sqlite::{SqliteAdapter, WithSecondFactor, WithTokens};

/// A fresh SQLite file with the test tables, and the adapter over it (with or without the
/// token table).
pub struct SqliteFixture<A> {
    adapter: A,
    raw: RawTables,
    _db: TempDb,
}

async fn fixture() -> Option<SqliteFixture<SqliteAdapter>> {
    let db = TempDb::new(&format!("{USER_AND_KEY_TABLES}{SESSION_TABLE}"));
    let adapter = SqliteAdapter::builder().tables(test_tables()).open(&db.path).expect("open the adapter");
    Some(SqliteFixture { adapter, raw: RawTables::new(&db.path), _db: db })
}

/// The test tables and a token table, and the adapter opened with tokens.
async fn token_fixture() -> Option<SqliteFixture<SqliteAdapter<WithTokens>>> {
    let db = TempDb::new(&format!("{USER_AND_KEY_TABLES}{SESSION_TABLE}{TOKEN_TABLE}"));
    let adapter = SqliteAdapter::builder().tables(test_tables()).tokens().open(&db.path).expect("open the adapter");
    Some(SqliteFixture { adapter, raw: RawTables::new(&db.path), _db: db })
}

/// The token and second-factor tables too, and the adapter opened with second factors.
async fn second_factor_fixture() -> Option<SqliteFixture<SqliteAdapter<WithSecondFactor>>> {
    let db = TempDb::new(&format!("{USER_AND_KEY_TABLES}{SESSION_TABLE}{TOKEN_TABLE}{SECOND_FACTOR_TABLES}"));
    let adapter = SqliteAdapter::builder()
        .tables(test_tables())
        .tokens()
        .second_factor()
        .open(&db.path)
        .expect("open the adapter");
    Some(SqliteFixture { adapter, raw: RawTables::new(&db.path), _db: db })
}

fn table_name(table: Table) -> &'static str {
    match table {
        Table::User => "test_user",
        Table::Key => "user_key",
        Table::Session => "user_session",
    }
}

impl<A: lucia::Adapter + Clone + 'static> Fixture for SqliteFixture<A> {
    type Adapter = A;
    type Database = RawTables;

    fn adapter(&self) -> A {
        self.adapter.clone()
    }

    fn database(&self) -> &RawTables {
        &self.raw
    }

    fn has_schema(&self) -> bool {
        true
    }

    /// A `BEFORE DELETE` trigger that aborts, so the statement fails inside the adapter's
    /// transaction.
    async fn fail_deletes(&self, table: Table) -> bool {
        let name = table_name(table);
        self.raw.execute(&format!(
            "CREATE TRIGGER fail_delete_{name} BEFORE DELETE ON {name} BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        ));
        true
    }

    async fn allow_deletes(&self, table: Table) {
        self.raw.execute(&format!("DROP TRIGGER fail_delete_{}", table_name(table)));
    }

    /// The file goes when the fixture is dropped.
    async fn teardown(&self) {}
}

mod rusqlite_behaviour {
    use super::{fixture, second_factor_fixture, token_fixture};
    crate::behaviour::behaviour_tests!(fixture());
    crate::behaviour::token_behaviour_tests!(token_fixture());
    crate::behaviour::second_factor_behaviour_tests!(second_factor_fixture());
}
