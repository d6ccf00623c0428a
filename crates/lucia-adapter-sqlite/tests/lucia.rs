//! The core's behaviour tests (`crates/lucia/tests/behaviour/`: every `Lucia` method and error
//! path, the sign-in races, the fixed Lucia v2 differences) over the SQLite adapter:
//! `rusqlite_behaviour::<case>`.

mod common;

#[path = "../../lucia/tests/behaviour/mod.rs"]
mod behaviour;

use behaviour::{Fixture, Table};
use common::{RawTables, SESSION_TABLE, TempDb, USER_AND_KEY_TABLES, test_tables};
use lucia_adapter_sqlite::SqliteAdapter;

/// A fresh SQLite file with the test tables.
pub struct SqliteFixture {
    adapter: SqliteAdapter,
    raw: RawTables,
    _db: TempDb,
}

async fn fixture() -> Option<SqliteFixture> {
    let db = TempDb::new(&format!("{USER_AND_KEY_TABLES}{SESSION_TABLE}"));
    let adapter = SqliteAdapter::builder().tables(test_tables()).open(&db.path).expect("open the adapter");
    Some(SqliteFixture { adapter, raw: RawTables::new(&db.path), _db: db })
}

fn table_name(table: Table) -> &'static str {
    match table {
        Table::User => "test_user",
        Table::Key => "user_key",
        Table::Session => "user_session",
    }
}

impl Fixture for SqliteFixture {
    type Adapter = SqliteAdapter;
    type Database = RawTables;

    fn adapter(&self) -> SqliteAdapter {
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
    use super::fixture;
    crate::behaviour::behaviour_tests!(fixture());
}

/// The email verification and password-reset flows end to end on the adapter with tokens,
/// over `create_tables` and a user table with the flows' attribute columns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_flows_run_on_the_adapter_with_tokens() {
    use lucia::{CreateUser, Error, Lucia, NewKey, TokenAdapter, TokenKind};

    #[derive(serde::Serialize, serde::Deserialize)]
    struct UserAttributes {
        email: String,
        email_verified: bool,
    }

    let db = TempDb::new(
        "CREATE TABLE user (id TEXT NOT NULL PRIMARY KEY, email TEXT NOT NULL UNIQUE, email_verified BOOLEAN NOT NULL);",
    );
    let adapter = SqliteAdapter::builder().create_tables().tokens().open(&db.path).expect("open with tokens");
    let auth = Lucia::builder(adapter.clone()).user_attributes::<UserAttributes>().build();
    let (email, password) = ("ada@example.com", "correct horse battery staple");
    let attributes = UserAttributes { email: email.into(), email_verified: false };
    let user = auth
        .create_user(CreateUser::new(attributes).with_key(NewKey::password("email", email, password)))
        .await
        .unwrap();
    let user_id = user.user_id.clone();

    // A wrong code counts a try; the right one verifies the address and uses the code up.
    let code = auth.issue_email_verification(&user_id).await.unwrap();
    let wrong = if code.code() == "00000000" { "11111111" } else { "00000000" };
    assert!(matches!(auth.verify_email(&user_id, wrong).await, Err(Error::InvalidToken)));
    let row = adapter.get_user_token(&user_id, TokenKind::EmailVerification).await.unwrap().expect("the code");
    assert_eq!(row.attempts, 1);
    assert_eq!(auth.verify_email(&user_id, code.code()).await.unwrap(), email);
    assert!(auth.get_user(&user_id).await.unwrap().attributes.email_verified);
    assert!(matches!(auth.verify_email(&user_id, code.code()).await, Err(Error::InvalidToken)));

    // A reset sets the new password and ends the sessions; its token works once.
    let signed_in = auth.sign_in("email", email, Some(password), Default::default()).await.unwrap();
    let reset = auth.request_password_reset(email).await.unwrap().issue().await.unwrap().expect("a password key");
    let new_password = "a new and better passphrase";
    auth.reset_password(reset.token(), new_password).await.unwrap();
    assert!(auth.validate_session(signed_in.token.expose_secret()).await.is_err());
    auth.sign_in("email", email, Some(new_password), Default::default()).await.unwrap();
    assert!(matches!(auth.reset_password(reset.token(), "yet another passphrase").await, Err(Error::InvalidToken)));

    // Changing the address revokes outstanding tokens; deleting the user deletes its tokens.
    auth.issue_email_verification(&user_id).await.unwrap();
    let changed = auth.change_email(&user_id, "ada@example.org").await.unwrap();
    assert!(!changed.attributes.email_verified);
    assert_eq!(adapter.get_user_token(&user_id, TokenKind::EmailVerification).await.unwrap(), None);
    auth.issue_email_verification(&user_id).await.unwrap();
    auth.delete_user(&user_id).await.unwrap();
    assert_eq!(adapter.get_user_token(&user_id, TokenKind::EmailVerification).await.unwrap(), None);
}
