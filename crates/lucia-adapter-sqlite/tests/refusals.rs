//! The adapter's own refusals and promises, beyond the suites: bad table names, missing or
//! mistyped columns and a database that cannot use WAL are `OpenError`s; values of the wrong
//! type in the database are `InvalidAttributes`, never a panic; a lock held too long is
//! `Unavailable`; a dropped write still commits; reads work when every reader is taken. The
//! same for the token table of `Builder::tokens`, the second-factor tables and the passkey
//! tables, which `create_tables` adds to a database made before them.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{
    PASSKEY_TABLES, SECOND_FACTOR_TABLES, SESSION_TABLE, TOKEN_TABLE, TempDb, USER_AND_KEY_TABLES, raw_connection,
    test_tables,
};
use lucia::{
    Adapter, AdapterError, DatabaseSession, DatabaseUser, SessionAdapter, TokenAdapter, TokenKind, UserAdapter,
};
use lucia_adapter_sqlite::{
    OpenError, PASSKEY_SCHEMA, SCHEMA, SECOND_FACTOR_SCHEMA, SqliteAdapter, TOKEN_SCHEMA, Tables, WithPasskeys,
    WithTokens,
};
use serde_json::json;

fn full_schema() -> String {
    format!("{USER_AND_KEY_TABLES}{SESSION_TABLE}")
}

fn open(db: &TempDb) -> SqliteAdapter {
    SqliteAdapter::builder().tables(test_tables()).open(&db.path).expect("open the adapter")
}

fn user(id: &str, username: &str) -> DatabaseUser {
    DatabaseUser { id: id.into(), attributes: json!({ "username": username }).as_object().cloned().unwrap() }
}

fn session(id: &str, user_id: &str) -> DatabaseSession {
    DatabaseSession {
        id: id.into(),
        user_id: user_id.into(),
        active_expires: 1,
        idle_expires: 2,
        attributes: json!({ "country": "XX" }).as_object().cloned().unwrap(),
    }
}

#[test]
fn bad_table_names_are_refused() {
    let db = TempDb::new(&full_schema());
    for tables in [
        Tables::new("", "user_key", "user_session"),
        Tables::new("test_user", "user\0key", "user_session"),
        Tables::new("test_user", "user_key", ""),
    ] {
        let error = SqliteAdapter::builder().tables(tables).open(&db.path).unwrap_err();
        assert!(matches!(error, OpenError::InvalidTableName(_)), "{error:?}");
    }
    let error = SqliteAdapter::builder().tables(Tables::new("nobody", "user_key", "user_session")).open(&db.path);
    assert!(matches!(error, Err(OpenError::MissingTable(name)) if name == "nobody"));
    // A name that needs quoting is quoted, not spliced: it names no table.
    let injected = Tables::new("test_user\"; DROP TABLE user_key; --", "user_key", "user_session");
    assert!(matches!(SqliteAdapter::builder().tables(injected).open(&db.path), Err(OpenError::MissingTable(_))));
    raw_connection(&db.path).execute_batch("SELECT 1 FROM user_key").expect("still there");
}

#[test]
fn missing_and_mistyped_lucia_columns_are_refused() {
    let cases = [
        ("CREATE TABLE user_session (id TEXT PRIMARY KEY, user_id TEXT, active_expires INTEGER)", "idle_expires"),
        ("CREATE TABLE user_session (id TEXT PRIMARY KEY, active_expires INTEGER, idle_expires INTEGER)", "user_id"),
    ];
    for (session_table, column) in cases {
        let db = TempDb::new(&format!("{USER_AND_KEY_TABLES}{session_table}"));
        match SqliteAdapter::builder().tables(test_tables()).open(&db.path) {
            Err(OpenError::MissingColumn { table, column: missing }) => {
                assert_eq!((table.as_str(), missing.as_str()), ("user_session", column));
            }
            other => panic!("expected MissingColumn, got {other:?}"),
        }
    }
    let mistyped = [
        "CREATE TABLE user_session (id TEXT PRIMARY KEY, user_id TEXT, active_expires TEXT, idle_expires INTEGER)",
        "CREATE TABLE user_session (id INTEGER PRIMARY KEY, user_id TEXT, active_expires INTEGER, idle_expires INTEGER)",
    ];
    for session_table in mistyped {
        let db = TempDb::new(&format!("{USER_AND_KEY_TABLES}{session_table}"));
        let error = SqliteAdapter::builder().tables(test_tables()).open(&db.path).unwrap_err();
        assert!(matches!(error, OpenError::ColumnType { .. }), "{error:?}");
    }
    // A password column that cannot be null would refuse passwordless keys.
    let db = TempDb::new(&format!(
        "CREATE TABLE test_user (id TEXT PRIMARY KEY);
         CREATE TABLE user_key (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, hashed_password TEXT NOT NULL);
         {SESSION_TABLE}"
    ));
    let error = SqliteAdapter::builder().tables(test_tables()).open(&db.path).unwrap_err();
    assert!(matches!(&error, OpenError::ColumnType { column, .. } if column == "hashed_password"), "{error:?}");
    assert!(error.to_string().contains("nullable TEXT"), "{error}");
}

#[test]
fn in_memory_databases_are_refused() {
    let error = SqliteAdapter::builder().create_tables().open(":memory:").unwrap_err();
    assert!(matches!(error, OpenError::NotWal(_)), "{error:?}");
}

#[test]
fn create_tables_makes_lucia_v2_schema_once() {
    let db = TempDb::new("");
    let first = SqliteAdapter::builder().create_tables().open(&db.path).expect("creates the tables");
    drop(first);
    SqliteAdapter::builder().create_tables().open(&db.path).expect("running it again changes nothing");
    SqliteAdapter::open(&db.path).expect("the default names");
    let other = TempDb::new(SCHEMA);
    SqliteAdapter::open(&other.path).expect("SCHEMA is the default tables");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_types_in_the_database_are_typed_errors() {
    let db = TempDb::new(&full_schema());
    let adapter = open(&db);
    let raw = raw_connection(&db.path);
    // TEXT columns turn numbers into text on insert (SQLite's affinity), so blobs stand for
    // values no text column should hold.
    raw.execute_batch(
        "INSERT INTO test_user (id, username, age) VALUES ('textage', 'a', 'old');
         INSERT INTO test_user (id, username, admin) VALUES ('twoadmin', 'b', 2);
         INSERT INTO test_user (id, username) VALUES ('ok', 'c');
         INSERT INTO test_user (id, username) VALUES ('blobname', X'00ff');
         INSERT INTO user_key (id, user_id, hashed_password) VALUES ('k', 'ok', X'07');
         INSERT INTO user_session VALUES ('textidle', 'ok', 1, 'soon', 'XX', NULL);
         INSERT INTO user_session VALUES ('realactive', 'ok', 1.5, 2, 'XX', NULL);
         INSERT INTO user_session VALUES ('badcountry', 'ok', 1, 2, X'03', NULL);
         INSERT INTO user_session VALUES ('ofbadage', 'textage', 1, 2, 'XX', NULL);",
    )
    .unwrap();
    // Not UTF-8: a text value SQLite stores as given.
    raw.execute("INSERT INTO test_user (id, username) VALUES ('latin1', CAST(X'e9' AS TEXT))", []).unwrap();
    for id in ["textage", "twoadmin", "blobname", "latin1"] {
        let result = adapter.get_user(id).await;
        assert!(matches!(result, Err(AdapterError::InvalidAttributes(_))), "{id}: {result:?}");
    }
    assert!(adapter.get_user("ok").await.unwrap().is_some());
    assert!(matches!(adapter.get_key("k").await, Err(AdapterError::InvalidAttributes(_))));
    assert!(matches!(adapter.get_keys_by_user_id("ok").await, Err(AdapterError::InvalidAttributes(_))));
    for id in ["textidle", "realactive", "badcountry"] {
        let result = adapter.get_session(id).await;
        assert!(matches!(result, Err(AdapterError::InvalidAttributes(_))), "{id}: {result:?}");
        let result = adapter.get_session_and_user(id).await;
        assert!(matches!(result, Err(AdapterError::InvalidAttributes(_))), "{id}: {result:?}");
    }
    let result = adapter.get_session_and_user("ofbadage").await;
    assert!(matches!(result, Err(AdapterError::InvalidAttributes(_))), "{result:?}");
    assert!(matches!(adapter.get_sessions_by_user_id("ok").await, Err(AdapterError::InvalidAttributes(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_columns_round_trip() {
    let db = TempDb::new(
        "CREATE TABLE user (id TEXT PRIMARY KEY, score REAL, meta JSON, note, amount NUMERIC, data BLOB, flag BOOL);
         CREATE TABLE user_key (id TEXT PRIMARY KEY, user_id TEXT REFERENCES user(id), hashed_password TEXT);
         CREATE TABLE user_session (id TEXT PRIMARY KEY, user_id TEXT REFERENCES user(id),
             active_expires INTEGER, idle_expires INTEGER);",
    );
    let adapter = SqliteAdapter::open(&db.path).unwrap();
    let attributes = json!({
        "score": 1.5, "meta": { "roles": ["admin"], "n": 1 }, "note": "free", "amount": 12,
        "data": [0, 255], "flag": true,
    });
    let user = DatabaseUser { id: "u".into(), attributes: attributes.as_object().cloned().unwrap() };
    adapter.set_user(user.clone(), None).await.unwrap();
    assert_eq!(adapter.get_user("u").await.unwrap(), Some(user));
    for (column, value) in [
        ("score", json!("x")),
        ("data", json!([256])),
        ("flag", json!(1)),
        ("note", json!(true)),
        ("amount", json!([])),
    ] {
        let update = json!({ column: value }).as_object().cloned().unwrap();
        let result = adapter.update_user("u", update).await;
        assert!(matches!(result, Err(AdapterError::InvalidAttributes(_))), "{column}: {result:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_lock_held_too_long_is_unavailable() {
    let db = TempDb::new(&full_schema());
    let adapter =
        SqliteAdapter::builder().tables(test_tables()).busy_timeout(Duration::from_millis(50)).open(&db.path).unwrap();
    adapter.set_user(user("a", "a"), None).await.unwrap();
    let raw = raw_connection(&db.path);
    raw.execute_batch("BEGIN IMMEDIATE").unwrap();
    let result = adapter.set_user(user("b", "b"), None).await;
    assert!(matches!(result, Err(AdapterError::Unavailable(_))), "{result:?}");
    // Readers do not wait for the writer.
    assert!(adapter.get_user("a").await.unwrap().is_some());
    raw.execute_batch("ROLLBACK").unwrap();
    adapter.set_user(user("b", "b"), None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_write_still_commits_whole() {
    let db = TempDb::new(&full_schema());
    let adapter = open(&db);
    adapter.set_user(user("u", "u"), None).await.unwrap();
    adapter.set_session(session("s1", "u")).await.unwrap();
    // Another connection holds the write lock, so the write waits (busy timeout) on its
    // blocking thread when its future is dropped; the lock is released afterwards.
    let raw = raw_connection(&db.path);
    raw.execute_batch("BEGIN IMMEDIATE").unwrap();
    let cascade = adapter.delete_user_cascade("u");
    assert!(tokio::time::timeout(Duration::from_millis(100), cascade).await.is_err());
    assert!(adapter.get_user("u").await.unwrap().is_some(), "nothing is committed yet");
    raw.execute_batch("ROLLBACK").unwrap();
    for _ in 0..200 {
        if adapter.get_user("u").await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(adapter.get_user("u").await.unwrap(), None);
    assert_eq!(adapter.get_session("s1").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_work_when_every_reader_is_taken() {
    let db = TempDb::new(&full_schema());
    let adapter = Arc::new(SqliteAdapter::builder().tables(test_tables()).readers(1).open(&db.path).unwrap());
    adapter.set_user(user("u", "u"), None).await.unwrap();
    adapter.set_session(session("s", "u")).await.unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let adapter = Arc::clone(&adapter);
            tokio::spawn(async move {
                for _ in 0..50 {
                    assert!(adapter.get_session_and_user("s").await.unwrap().is_some());
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

#[test]
fn debug_shows_tables_not_data() {
    let db = TempDb::new(&full_schema());
    let debug = format!("{:?}", open(&db));
    assert!(debug.contains("test_user") && debug.contains("readers"), "{debug}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_session_ids_are_hashed_once() {
    let db = TempDb::new(&full_schema());
    let adapter = open(&db);
    adapter.set_user(user("u", "u"), None).await.unwrap();
    let token = "a".repeat(40);
    adapter.set_session(session(&token, "u")).await.unwrap();
    let hashed = lucia::SessionTokens::Hashed.stored_id(&token);
    adapter.set_session(session(&lucia::SessionTokens::Hashed.stored_id("other"), "u")).await.unwrap();
    assert_eq!(adapter.hash_clear_session_ids().await.unwrap(), 1);
    assert_eq!(adapter.get_session(&token).await.unwrap(), None);
    assert_eq!(adapter.get_session(&hashed).await.unwrap().map(|s| s.user_id), Some("u".to_owned()));
    assert_eq!(adapter.hash_clear_session_ids().await.unwrap(), 0, "running it again changes nothing");
    assert_eq!(adapter.get_sessions_by_user_id("u").await.unwrap().len(), 2);
}

fn open_with_tokens(db: &TempDb) -> Result<SqliteAdapter<WithTokens>, OpenError> {
    SqliteAdapter::builder().tables(test_tables()).tokens().open(&db.path)
}

#[test]
fn a_missing_token_table_is_refused() {
    let db = TempDb::new(&full_schema());
    let error = open_with_tokens(&db).unwrap_err();
    assert!(matches!(&error, OpenError::MissingTable(name) if name == "user_token"), "{error:?}");
    let error = SqliteAdapter::builder().tables(test_tables()).token_table("").open(&db.path).unwrap_err();
    assert!(matches!(error, OpenError::InvalidTableName(_)), "{error:?}");
    open(&db);
}

#[test]
fn missing_and_mistyped_token_columns_are_refused() {
    let columns = [
        ("id", "id TEXT NOT NULL PRIMARY KEY"),
        ("user_id", "user_id TEXT NOT NULL REFERENCES test_user(id)"),
        ("kind", "kind TEXT NOT NULL"),
        ("email", "email TEXT NOT NULL"),
        ("expires", "expires INTEGER NOT NULL"),
        ("attempts", "attempts INTEGER NOT NULL DEFAULT 0"),
    ];
    let table = |replace: &str, with: Option<&str>| {
        let mut definitions: Vec<&str> =
            columns.iter().filter(|(name, _)| *name != replace).map(|(_, definition)| *definition).collect();
        definitions.extend(with);
        // The unique index cannot name a column that is left out.
        let leaves_out_a_unique_column = with.is_none() && ["user_id", "kind"].contains(&replace);
        if !leaves_out_a_unique_column {
            definitions.push("UNIQUE (user_id, kind)");
        }
        format!("CREATE TABLE user_token ({});", definitions.join(", "))
    };
    for (column, _) in columns {
        let db = TempDb::new(&format!("{}{}", full_schema(), table(column, None)));
        match open_with_tokens(&db) {
            Err(OpenError::MissingColumn { table, column: missing }) => {
                assert_eq!((table.as_str(), missing.as_str()), ("user_token", column));
            }
            other => panic!("{column}: expected MissingColumn, got {other:?}"),
        }
    }
    for (column, mistyped) in [
        ("id", "id INTEGER PRIMARY KEY"),
        ("kind", "kind INTEGER NOT NULL"),
        ("email", "email BLOB NOT NULL"),
        ("expires", "expires TEXT NOT NULL"),
        ("attempts", "attempts REAL NOT NULL DEFAULT 0"),
    ] {
        let db = TempDb::new(&format!("{}{}", full_schema(), table(column, Some(mistyped))));
        let error = open_with_tokens(&db).unwrap_err();
        assert!(
            matches!(&error, OpenError::ColumnType { table, column: c, .. } if table == "user_token" && c == column),
            "{column}: {error:?}"
        );
    }
}

#[test]
fn a_token_table_without_one_token_per_user_and_kind_is_refused() {
    for unique in ["", ", UNIQUE (user_id)", ", UNIQUE (user_id, kind, email)"] {
        let db = TempDb::new(&format!(
            "{}CREATE TABLE user_token (id TEXT NOT NULL PRIMARY KEY, user_id TEXT NOT NULL, kind TEXT NOT NULL, \
             email TEXT NOT NULL, expires INTEGER NOT NULL, attempts INTEGER NOT NULL{unique});",
            full_schema()
        ));
        let error = open_with_tokens(&db).unwrap_err();
        assert!(
            matches!(&error, OpenError::MissingUniqueIndex { table, .. } if table == "user_token"),
            "{unique}: {error:?}"
        );
    }
    // A partial unique index is no conflict target for the upsert.
    let db = TempDb::new(&format!(
        "{}CREATE TABLE user_token (id TEXT NOT NULL PRIMARY KEY, user_id TEXT NOT NULL, kind TEXT NOT NULL, \
         email TEXT NOT NULL, expires INTEGER NOT NULL, attempts INTEGER NOT NULL);
         CREATE UNIQUE INDEX user_token_partial ON user_token(user_id, kind) WHERE expires > 0;",
        full_schema()
    ));
    assert!(matches!(open_with_tokens(&db), Err(OpenError::MissingUniqueIndex { .. })));
    // The same index, whole and in the other column order, is one.
    let db = TempDb::new(&format!(
        "{}CREATE TABLE user_token (id TEXT NOT NULL PRIMARY KEY, user_id TEXT NOT NULL, kind TEXT NOT NULL, \
         email TEXT NOT NULL, expires INTEGER NOT NULL, attempts INTEGER NOT NULL);
         CREATE UNIQUE INDEX user_token_one ON user_token(kind, user_id);",
        full_schema()
    ));
    open_with_tokens(&db).expect("a unique index on (kind, user_id)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_tables_with_tokens_makes_the_token_table_once() {
    let db = TempDb::new("");
    let first = SqliteAdapter::builder().create_tables().tokens().open(&db.path).expect("creates the tables");
    drop(first);
    let adapter = SqliteAdapter::builder().create_tables().tokens().open(&db.path).expect("again changes nothing");
    assert!(format!("{adapter:?}").contains("user_token"));
    // The plain adapter opens the same file, and knows nothing of tokens.
    assert_eq!(SqliteAdapter::open(&db.path).unwrap().delete_expired_tokens(i64::MAX).await.unwrap(), 0);
    let other = TempDb::new(&format!("{SCHEMA}{TOKEN_SCHEMA}"));
    SqliteAdapter::builder().tokens().open(&other.path).expect("TOKEN_SCHEMA is the default token table");
    let named = TempDb::new("");
    let tables = Tables::new("people", "logins", "visits");
    let adapter = SqliteAdapter::builder().tables(tables.clone()).token_table("mail codes").create_tables();
    adapter.open(&named.path).expect("a token table of another name, referring to `people`");
    raw_connection(&named.path)
        .execute_batch("SELECT id, user_id, kind, email, expires, attempts FROM \"mail codes\"")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_token_rows_in_the_database_are_typed_errors() {
    let db = TempDb::new(&format!("{}{TOKEN_TABLE}", full_schema()));
    let adapter = open_with_tokens(&db).unwrap();
    adapter.set_user(user("u", "u"), None).await.unwrap();
    let raw = raw_connection(&db.path);
    raw.execute_batch("INSERT INTO test_user (id, username) VALUES ('v', 'v')").unwrap();
    raw.execute_batch(
        "INSERT INTO user_token VALUES ('unknownkind', 'u', 'magic_link', 'a@example.com', 1, 0);
         INSERT INTO user_token VALUES ('textexpires', 'u', 'email_verification', 'a@example.com', 'soon', 0);
         INSERT INTO user_token VALUES ('negative', 'u', 'password_reset', 'a@example.com', 1, -1);
         INSERT INTO user_token VALUES ('blobmail', 'v', 'password_reset', X'00', 1, 0);
         INSERT INTO user_token VALUES ('huge', 'v', 'email_verification', 'b@example.com', 1, 4294967295);",
    )
    .unwrap();
    for id in ["unknownkind", "textexpires", "negative", "blobmail"] {
        let result = adapter.get_token(id).await;
        assert!(matches!(result, Err(AdapterError::InvalidAttributes(_))), "{id}: {result:?}");
    }
    let result = adapter.get_user_token("u", TokenKind::EmailVerification).await;
    assert!(matches!(result, Err(AdapterError::InvalidAttributes(_))), "{result:?}");
    // The count stops at `u32::MAX`, as the memory adapter's does.
    assert_eq!(adapter.count_token_attempt("huge").await.unwrap(), Some(u32::MAX));
    // Consuming does not read the row's values: an unreadable token can still be used up.
    assert!(adapter.consume_token("unknownkind", Default::default()).await.unwrap());
    assert_eq!(adapter.delete_expired_tokens(2).await.unwrap(), 3, "textexpires ('soon' > 2) stays");
}

#[test]
fn missing_or_mistyped_second_factor_tables_are_refused() {
    let open = |db: &TempDb| SqliteAdapter::builder().tables(test_tables()).tokens().second_factor().open(&db.path);
    let db = TempDb::new(&format!("{}{TOKEN_TABLE}", full_schema()));
    let error = open(&db).unwrap_err();
    assert!(matches!(&error, OpenError::MissingTable(name) if name == "user_totp"), "{error:?}");
    // A step counter that is text would compare as text: refused.
    let db = TempDb::new(&format!(
        "{}{TOKEN_TABLE}CREATE TABLE user_totp (user_id TEXT NOT NULL PRIMARY KEY, encrypted_secret TEXT NOT NULL, \
         confirmed BOOLEAN NOT NULL, last_step TEXT NOT NULL); \
         CREATE TABLE user_recovery_code (id TEXT NOT NULL PRIMARY KEY, user_id TEXT NOT NULL);",
        full_schema()
    ));
    let error = open(&db).unwrap_err();
    assert!(matches!(&error, OpenError::ColumnType { column, .. } if column == "last_step"), "{error:?}");
}

/// `create_tables` makes the second-factor tables of `SECOND_FACTOR_SCHEMA`, whose foreign keys
/// cascade: a user deleted by other means (a Lucia v2 application) takes them along.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_second_factor_tables_cascade_with_their_user() {
    use lucia::{DatabaseTotp, SecondFactorAdapter};
    let db = TempDb::new("");
    let adapter = SqliteAdapter::builder().create_tables().tokens().second_factor().open(&db.path).unwrap();
    adapter.set_user(DatabaseUser { id: "u1".into(), attributes: Default::default() }, None).await.unwrap();
    let totp = DatabaseTotp { user_id: "u1".into(), encrypted_secret: "x".into(), confirmed: true, last_step: 7 };
    adapter.set_totp(totp.clone()).await.unwrap();
    adapter.set_recovery_codes("u1", vec!["a".into(), "b".into()]).await.unwrap();
    assert_eq!(adapter.get_totp("u1").await.unwrap(), Some(totp));
    raw_connection(&db.path).execute("DELETE FROM \"user\" WHERE id = 'u1'", []).unwrap();
    assert_eq!(adapter.get_totp("u1").await.unwrap(), None);
    assert_eq!(adapter.count_recovery_codes("u1").await.unwrap(), 0);
    assert!(lucia_adapter_sqlite::SECOND_FACTOR_SCHEMA.contains("ON DELETE CASCADE"));
}

fn open_with_passkeys(db: &TempDb) -> Result<SqliteAdapter<WithPasskeys>, OpenError> {
    SqliteAdapter::builder().tables(test_tables()).tokens().second_factor().passkeys().open(&db.path)
}

#[test]
fn missing_or_mistyped_passkey_tables_are_refused() {
    let before_passkeys = format!("{}{TOKEN_TABLE}{SECOND_FACTOR_TABLES}", full_schema());
    let error = open_with_passkeys(&TempDb::new(&before_passkeys)).unwrap_err();
    assert!(matches!(&error, OpenError::MissingTable(name) if name == "user_passkey"), "{error:?}");
    // Each column of PASSKEY_TABLES replaced in turn: missing, then mistyped.
    let columns = [
        ("counter", "counter INTEGER NOT NULL", "counter TEXT NOT NULL"),
        ("backup_eligible", "backup_eligible BOOLEAN NOT NULL", "backup_eligible TEXT NOT NULL"),
        ("backup_state", "backup_state BOOLEAN NOT NULL", "backup_state BOOLEAN"),
        ("created_at", "created_at INTEGER NOT NULL", "created_at REAL NOT NULL"),
        // Never-used passkeys have no last use: NOT NULL would refuse every registration.
        ("last_used_at", "last_used_at INTEGER\n", "last_used_at INTEGER NOT NULL\n"),
        ("state", "state TEXT NOT NULL", "state BLOB NOT NULL"),
        ("expires", "expires INTEGER NOT NULL\n", "expires TEXT NOT NULL\n"),
    ];
    for (column, good, bad) in columns {
        assert_eq!(PASSKEY_TABLES.matches(good).count(), 1, "{good}");
        let db = TempDb::new(&format!("{before_passkeys}{}", PASSKEY_TABLES.replace(good, bad)));
        let error = open_with_passkeys(&db).unwrap_err();
        assert!(matches!(&error, OpenError::ColumnType { column: c, .. } if c == column), "{column}: {error:?}");
    }
    let db = TempDb::new(&format!("{before_passkeys}{}", PASSKEY_TABLES.replace("    user_id TEXT,\n", "")));
    let error = open_with_passkeys(&db).unwrap_err();
    assert!(
        matches!(&error, OpenError::MissingColumn { table, column } if table == "user_passkey_challenge" && column == "user_id"),
        "{error:?}"
    );
    open_with_passkeys(&TempDb::new(&format!("{before_passkeys}{PASSKEY_TABLES}"))).expect("the test tables");
}

/// A database file made before passkeys (users, a key, a TOTP row) gets the passkey tables from
/// `create_tables`, keeps its rows, and its passkeys then go with their user, also when another
/// application deletes the user (`ON DELETE CASCADE`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_tables_adds_the_passkey_tables_to_an_existing_database() {
    use lucia::{
        DatabaseKey, DatabasePasskey, DatabaseTotp, PasskeyAdapter, SecondFactorAdapter, SignInMethodDeletion,
    };
    let db = TempDb::new("");
    let before = SqliteAdapter::builder().create_tables().tokens().second_factor().open(&db.path).unwrap();
    let key = DatabaseKey { id: "email:ada".into(), user_id: "ada".into(), hashed_password: None };
    before
        .set_user(DatabaseUser { id: "ada".into(), attributes: Default::default() }, Some(key.clone()))
        .await
        .unwrap();
    before.set_user(DatabaseUser { id: "bob".into(), attributes: Default::default() }, None).await.unwrap();
    let totp = DatabaseTotp { user_id: "ada".into(), encrypted_secret: "x".into(), confirmed: true, last_step: 7 };
    before.set_totp(totp.clone()).await.unwrap();
    drop(before);

    let error = SqliteAdapter::builder().tokens().second_factor().passkeys().open(&db.path).unwrap_err();
    assert!(matches!(&error, OpenError::MissingTable(name) if name == "user_passkey"), "{error:?}");
    let adapter = SqliteAdapter::builder().create_tables().tokens().second_factor().passkeys().open(&db.path).unwrap();
    assert_eq!(adapter.get_key("email:ada").await.unwrap(), Some(key));
    assert_eq!(adapter.get_totp("ada").await.unwrap(), Some(totp));
    let passkey = |id: &str, user_id: &str| DatabasePasskey {
        id: id.into(),
        user_id: user_id.into(),
        name: "Laptop".into(),
        credential: "{}".into(),
        counter: 0,
        backup_eligible: true,
        backup_state: false,
        created_at: 1,
        last_used_at: None,
    };
    adapter.insert_passkey(passkey("p1", "ada")).await.unwrap();
    adapter.insert_passkey(passkey("p2", "bob")).await.unwrap();
    // Ada's key is a way to sign in: her only passkey may go, Bob's may not.
    assert_eq!(adapter.delete_passkey("bob", "p2", &[]).await.unwrap(), SignInMethodDeletion::LastSignInMethod);
    assert_eq!(adapter.delete_passkey("ada", "p1", &[]).await.unwrap(), SignInMethodDeletion::Deleted);
    drop(adapter);
    let again = SqliteAdapter::builder().create_tables().tokens().second_factor().passkeys().open(&db.path).unwrap();
    assert_eq!(again.get_passkey("p2").await.unwrap(), Some(passkey("p2", "bob")), "opening again changes nothing");
    raw_connection(&db.path).execute("DELETE FROM \"user\" WHERE id = 'bob'", []).unwrap();
    assert_eq!(again.get_passkey("p2").await.unwrap(), None);
    let other = TempDb::new(&format!("{SCHEMA}{TOKEN_SCHEMA}{SECOND_FACTOR_SCHEMA}{PASSKEY_SCHEMA}"));
    SqliteAdapter::builder().tokens().second_factor().passkeys().open(&other.path).expect("PASSKEY_SCHEMA");
    let named = TempDb::new("");
    let builder = SqliteAdapter::builder().tables(Tables::new("people", "logins", "visits")).create_tables();
    let builder = builder.tokens().second_factor().passkey_tables("web authn", "ceremonies");
    builder.open(&named.path).expect("passkey tables of other names, referring to `people`");
    raw_connection(&named.path)
        .execute_batch("SELECT counter FROM \"web authn\"; SELECT state FROM ceremonies")
        .unwrap();
}

/// Values no passkey row can hold (a counter out of `u32` range or not an integer, a flag
/// that is not 0 or 1, a name that is null) are `InvalidAttributes` on read, never a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passkey_rows_in_the_database_are_typed_errors() {
    use lucia::PasskeyAdapter;
    let db = TempDb::new(&format!("{}{TOKEN_TABLE}{SECOND_FACTOR_TABLES}{PASSKEY_TABLES}", full_schema()));
    let adapter = open_with_passkeys(&db).unwrap();
    raw_connection(&db.path)
        .execute_batch(
            "PRAGMA foreign_keys = OFF;
             INSERT INTO user_passkey VALUES ('negative', 'u', 'n', '{}', -1, 1, 0, 1, NULL);
             INSERT INTO user_passkey VALUES ('huge', 'u', 'n', '{}', 4294967296, 1, 0, 1, NULL);
             INSERT INTO user_passkey VALUES ('textcounter', 'u', 'n', '{}', 'five', 1, 0, 1, NULL);
             INSERT INTO user_passkey VALUES ('flag', 'u', 'n', '{}', 1, 2, 0, 1, NULL);
             INSERT INTO user_passkey VALUES ('textused', 'u', 'n', '{}', 1, 1, 0, 1, 'yesterday');
             INSERT INTO user_passkey_challenge VALUES ('textexpires', NULL, '{}', 'soon');",
        )
        .unwrap();
    for id in ["negative", "huge", "textcounter", "flag", "textused"] {
        let result = adapter.get_passkey(id).await;
        assert!(matches!(result, Err(AdapterError::InvalidAttributes(_))), "{id}: {result:?}");
    }
    let result = adapter.get_user_passkeys("u").await;
    assert!(matches!(result, Err(AdapterError::InvalidAttributes(_))), "{result:?}");
    // Taking deletes the row even when it cannot be read: a challenge is used once, whatever it holds.
    let result = adapter.take_passkey_challenge("textexpires").await;
    assert!(matches!(result, Err(AdapterError::InvalidAttributes(_))), "{result:?}");
    assert_eq!(adapter.take_passkey_challenge("textexpires").await.unwrap(), None);
}

/// Two adapters on one file (two processes' worth of writer connections): of concurrent
/// deletions of all a user's passkeys, all but one succeed. The count and the delete share one
/// `BEGIN IMMEDIATE` transaction, so the other connection's deletion waits for the commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletions_through_two_adapters_keep_one_sign_in_method() {
    use lucia::{PasskeyAdapter, SignInMethodDeletion};
    use lucia_adapter_test::passkey_adapter::generate_passkey;
    let db = TempDb::new(&format!("{}{TOKEN_TABLE}{SECOND_FACTOR_TABLES}{PASSKEY_TABLES}", full_schema()));
    let adapters = [open_with_passkeys(&db).unwrap(), open_with_passkeys(&db).unwrap()];
    adapters[0].set_user(user("u", "ada"), None).await.unwrap();
    let passkeys: Vec<_> = (0..8).map(|_| generate_passkey("u")).collect();
    for passkey in &passkeys {
        adapters[0].insert_passkey(passkey.clone()).await.unwrap();
    }
    let deletions = passkeys.iter().enumerate().map(|(i, passkey)| {
        let (adapter, id) = (adapters[i % 2].clone(), passkey.id.clone());
        tokio::spawn(async move { adapter.delete_passkey("u", &id, &[]).await.unwrap() })
    });
    let mut deleted = 0;
    for deletion in deletions.collect::<Vec<_>>() {
        deleted += usize::from(deletion.await.unwrap() == SignInMethodDeletion::Deleted);
    }
    assert_eq!(deleted, passkeys.len() - 1);
    assert_eq!(adapters[1].get_user_passkeys("u").await.unwrap().len(), 1);
}
