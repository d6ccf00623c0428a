//! Sharing one database with the real lucia@2.7.7 (Node), through Lucia's own PostgreSQL
//! (`pg`) and MySQL (`mysql2`) adapters: lucia-rs writes a user, a password key and a session,
//! lucia@2 signs in with them; lucia@2 writes its own, and lucia-rs signs in with those.
//! Tables, ids, `s2:` hashes and millisecond expiries must agree, with lucia-rs in its Lucia v2
//! compatible mode (`lucia_v2_compat()`: session ids in clear). Then the one-off conversion to
//! hashed session ids keeps both sessions valid for lucia-rs in its default mode, and lucia@2
//! can no longer use them. (Lucia's SQLite adapter needs the native `better-sqlite3` build,
//! which is not tested here.)
//!
//! Needs `node` and `npm ci --prefix interop/lucia-v2` (`.ci/run` does both) and the server
//! URLs; skipped otherwise, unless `LUCIA_TEST_REQUIRE_SERVERS=1`.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{Backend, with_store};
use lucia::{CreateSession, CreateUser, Lucia, NewKey, SessionAdapter, SessionTokens, UserAdapter};
use lucia_adapter_sea_orm::{LuciaMigration, SeaOrmAdapter, Tables};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, ColumnDef};
use sea_orm_migration::{MigrationTrait, SchemaManager};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

mod entities {
    pub mod user {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "user")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
            pub id: String,
            pub username: String,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct UserAttributes {
    username: String,
}

fn interop_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop/lucia-v2");
    if dir.join("node_modules/lucia").is_dir() {
        return Some(dir);
    }
    if std::env::var("LUCIA_TEST_REQUIRE_SERVERS").is_ok_and(|v| v == "1") {
        panic!("lucia@2 is not installed: run `npm ci --prefix interop/lucia-v2`");
    }
    eprintln!("SKIPPED: run `npm ci --prefix interop/lucia-v2` to test against lucia@2.7.7");
    None
}

async fn share_a_database(backend: Backend) {
    let Some(dir) = interop_dir() else { return };
    with_store(backend, |db| run(db, dir)).await;
}

#[tokio::test]
async fn lucia_v2_and_lucia_rs_share_a_postgres_database() {
    share_a_database(Backend::Postgres).await;
}

#[tokio::test]
async fn lucia_v2_and_lucia_rs_share_a_mariadb_database() {
    share_a_database(Backend::MySql).await;
}

/// How lucia@2 reaches the database `db` is connected to.
async fn node_connection(db: &sea_orm::DatabaseConnection) -> Value {
    let backend = db.get_database_backend();
    let current = |sql: &str| {
        let statement = sea_orm::Statement::from_string(backend, sql);
        async move { db.query_one_raw(statement).await.unwrap().unwrap().try_get_by_index::<String>(0).unwrap() }
    };
    if backend == sea_orm::DbBackend::Postgres {
        let schema = current("SELECT current_schema()").await;
        json!({ "dialect": "postgres", "url": std::env::var("LUCIA_TEST_POSTGRES_URL").unwrap(), "schema": schema })
    } else {
        let database = current("SELECT DATABASE()").await;
        let url = std::env::var("LUCIA_TEST_MYSQL_URL").unwrap();
        json!({ "dialect": "mysql", "url": format!("{}/{database}", url.rsplit_once('/').unwrap().0) })
    }
}

async fn run(db: sea_orm::DatabaseConnection, dir: PathBuf) {
    let migration = LuciaMigration::new()
        .user_column(ColumnDef::new(Alias::new("username")).string_len(255).not_null().unique_key().to_owned());
    migration.up(&SchemaManager::new(&db)).await.unwrap();
    let connection = node_connection(&db).await;
    let tables = Tables {
        user: entities::user::Entity,
        key: lucia_adapter_sea_orm::entity::key::Entity,
        session: lucia_adapter_sea_orm::entity::session::Entity,
    };
    let adapter = SeaOrmAdapter::new(db, tables).unwrap();
    let auth = Lucia::builder(adapter.clone()).lucia_v2_compat().user_attributes::<UserAttributes>().build();

    // lucia-rs writes.
    let password = "rust pässword";
    let key = NewKey::password("email", "rust@example.com", password);
    let attributes = UserAttributes { username: "rustacean".into() };
    let user = auth.create_user(CreateUser::new(attributes).with_key(key)).await.unwrap();
    let session = auth.create_session(CreateSession::for_user(user.user_id.clone())).await.unwrap();
    let rust_token = session.token.expose_secret().to_owned();
    assert!(auth.adapter().get_session(&rust_token).await.unwrap().is_some(), "compat mode stores the token");

    // lucia@2 reads them, then writes its own.
    let mut input = connection;
    input.as_object_mut().unwrap().extend(
        json!({
            "rust": { "email": "rust@example.com", "password": password, "userId": user.user_id,
                      "username": "rustacean", "sessionId": rust_token },
            // "ﬁ" (a ligature) normalises to "fi" under NFKC on both sides.
            "node": { "email": "node@example.com", "password": "node pass ﬁ", "username": "nodejs" },
        })
        .as_object()
        .unwrap()
        .clone(),
    );
    let output =
        Command::new("node").arg("interop.mjs").arg(input.to_string()).current_dir(&dir).output().expect("node runs");
    assert!(output.status.success(), "lucia@2 failed:\n{}", String::from_utf8_lossy(&output.stderr));
    let made: Value = serde_json::from_slice(&output.stdout).expect("lucia@2 printed JSON");

    // lucia-rs reads what lucia@2 wrote.
    let node_user_id = made["userId"].as_str().unwrap();
    let node_session_id = made["sessionId"].as_str().unwrap();
    assert_eq!(node_user_id.len(), 15);
    assert_eq!(node_session_id.len(), 40);
    let key = auth.use_key("email", "node@example.com", Some("node pass fi")).await.unwrap();
    assert_eq!(key.user_id, node_user_id);
    assert!(matches!(
        auth.use_key("email", "node@example.com", Some("node pass")).await,
        Err(lucia::Error::InvalidPassword)
    ));
    let hash = auth.adapter().get_key("email:node@example.com").await.unwrap().unwrap().hashed_password.unwrap();
    assert!(hash.starts_with("s2:") && hash.len() == 148, "lucia@2 wrote {hash}");

    let validated = auth.validate_session(node_session_id).await.unwrap();
    assert_eq!(validated.user.user_id, node_user_id);
    assert_eq!(validated.user.attributes.username, "nodejs");
    let row = lucia::SessionAdapter::get_session(auth.adapter(), node_session_id).await.unwrap().unwrap();
    assert_eq!(row.active_expires, made["activeExpires"].as_i64().unwrap());
    assert_eq!(row.idle_expires, made["idleExpires"].as_i64().unwrap());
    assert_eq!(row.idle_expires - row.active_expires, 14 * 86_400_000);

    // The one-off move to hashed ids: both sessions stay valid for lucia-rs in the default
    // mode, no row holds a token any more, and running the step again changes nothing.
    assert_eq!(adapter.hash_clear_session_ids().await.unwrap(), 2);
    assert_eq!(adapter.hash_clear_session_ids().await.unwrap(), 0);
    let hashed = Lucia::builder(adapter.clone()).user_attributes::<UserAttributes>().build();
    for (token, user_id) in [(rust_token.as_str(), user.user_id.as_str()), (node_session_id, node_user_id)] {
        assert_eq!(hashed.validate_session(token).await.unwrap().user.user_id, user_id);
        assert!(adapter.get_session(token).await.unwrap().is_none(), "a token is still stored in clear");
        assert!(adapter.get_session(&SessionTokens::Hashed.stored_id(token)).await.unwrap().is_some());
    }
}

#[tokio::test]
async fn lucia_v2_sees_no_session_in_a_pending_sign_in_on_postgres() {
    second_factor_in_a_shared_database(Backend::Postgres).await;
}

#[tokio::test]
async fn lucia_v2_sees_no_session_in_a_pending_sign_in_on_mariadb() {
    second_factor_in_a_shared_database(Backend::MySql).await;
}

/// In Lucia v2 compatible mode, a user with a TOTP signs in in two steps; lucia@2, reading the
/// same session table with ids in clear, refuses the pending sign-in's token, and its
/// `deleteUser` still deletes the user (the second-factor tables cascade).
async fn second_factor_in_a_shared_database(backend: Backend) {
    let Some(dir) = interop_dir() else { return };
    with_store(backend, |db| async move {
        let manager = SchemaManager::new(&db);
        let migration = LuciaMigration::new()
            .user_column(ColumnDef::new(Alias::new("username")).string_len(255).not_null().unique_key().to_owned());
        migration.up(&manager).await.unwrap();
        lucia_adapter_sea_orm::LuciaTokenMigration::new().up(&manager).await.unwrap();
        lucia_adapter_sea_orm::LuciaSecondFactorMigration::new().up(&manager).await.unwrap();
        let input = node_connection(&db).await;
        let tables = Tables {
            user: entities::user::Entity,
            key: lucia_adapter_sea_orm::entity::key::Entity,
            session: lucia_adapter_sea_orm::entity::session::Entity,
        };
        let adapter = SeaOrmAdapter::new(db, tables)
            .unwrap()
            .with_tokens(lucia_adapter_sea_orm::entity::token::Entity)
            .unwrap()
            .with_second_factor(
                lucia_adapter_sea_orm::entity::totp::Entity,
                lucia_adapter_sea_orm::entity::recovery_code::Entity,
            )
            .unwrap();
        let key = lucia::TotpEncryptionKey::from_bytes([5; 32]);
        let auth = Lucia::builder(adapter.clone())
            .lucia_v2_compat()
            .second_factor(lucia::SecondFactorSettings::new("Interop", key))
            .user_attributes::<UserAttributes>()
            .build();
        let key = NewKey::password("email", "two@example.com", "two steps please");
        let attributes = UserAttributes { username: "twostep".into() };
        let user = auth.create_user(CreateUser::new(attributes).with_key(key)).await.unwrap();
        let enrolment = auth.enrol_totp(&user.user_id, "two@example.com").await.unwrap();
        let recovery = auth.confirm_totp(&user.user_id, &enrolment.authenticator_for_tests().code_now()).await.unwrap();
        let signed_in = auth
            .sign_in_with_second_factor("email", "two@example.com", Some("two steps please"), Default::default())
            .await
            .unwrap();
        let lucia::SignIn::SecondFactorRequired(pending) = signed_in else { panic!("a password alone signed in") };

        let node = |extra: serde_json::Value| {
            let mut input = input.clone();
            input.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            let output = Command::new("node")
                .arg("second-factor.mjs")
                .arg(input.to_string())
                .current_dir(&dir)
                .output()
                .expect("node runs");
            assert!(output.status.success(), "lucia@2 failed:\n{}", String::from_utf8_lossy(&output.stderr));
        };
        node(json!({ "pendingToken": pending.token() }));
        // The pending sign-in is a row of the token table, whose foreign key (issue 11) is
        // `NO ACTION`: lucia@2 could not delete the user while it is outstanding. Completed
        // (with a recovery code), it is gone; the user's session is Lucia v2's to delete.
        let code = lucia::SecondFactorCode::Recovery(recovery.codes()[0].clone());
        let session = auth.complete_sign_in(pending.token(), &code, Default::default()).await.unwrap();
        assert_eq!(
            lucia::SessionAdapter::get_session(&adapter, session.token.expose_secret()).await.unwrap().unwrap().user_id,
            user.user_id
        );
        node(json!({ "deleteUserId": user.user_id }));
        use lucia::SecondFactorAdapter as _;
        assert_eq!(adapter.get_totp(&user.user_id).await.unwrap(), None, "the TOTP row went with its user");
        assert_eq!(adapter.count_recovery_codes(&user.user_id).await.unwrap(), 0);
        assert!(matches!(auth.get_user(&user.user_id).await, Err(lucia::Error::InvalidUserId)));
    })
    .await;
}
