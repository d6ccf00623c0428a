//! A split deployment end to end: users and keys in PostgreSQL (the SeaORM adapter, users
//! only, tables from `LuciaMigration` without a session table), sessions in Redis, one
//! `Lucia` over `SplitAdapter`. Needs `LUCIA_TEST_POSTGRES_URL` and `LUCIA_TEST_REDIS_URL`
//! (skipped without them unless `LUCIA_TEST_REQUIRE_SERVERS=1`).

mod common;

use std::time::Duration;

use common::{Deployment, RedisFixture};
use lucia::{CreateUser, Error, Lucia, NewKey, SessionExpiresIn, SplitAdapter};
use lucia_adapter_sea_orm::{LuciaMigration, NoSessionTable, SeaOrmAdapter, Tables, entity};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};
use sea_orm_migration::{MigrationTrait, SchemaManager};

/// A fresh PostgreSQL schema with Lucia's user and key tables only.
struct Schema {
    admin: DatabaseConnection,
    db: DatabaseConnection,
    name: String,
}

impl Schema {
    async fn new() -> Option<Self> {
        let url = match std::env::var("LUCIA_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => url,
            _ if std::env::var("LUCIA_TEST_REQUIRE_SERVERS").is_ok_and(|v| v == "1") => {
                panic!("LUCIA_TEST_POSTGRES_URL is not set, and LUCIA_TEST_REQUIRE_SERVERS=1 forbids skipping")
            }
            _ => {
                eprintln!("SKIPPED: set LUCIA_TEST_POSTGRES_URL to run this test against a real server");
                return None;
            }
        };
        let name = format!("split_{}", lucia::generate_random_string(10));
        let admin = Database::connect(&url).await.expect("connect to PostgreSQL");
        admin.execute_unprepared(&format!("CREATE SCHEMA {name}")).await.unwrap();
        let mut options = ConnectOptions::new(&url);
        options.max_connections(4).sqlx_logging(false).set_schema_search_path(&name);
        let db = Database::connect(options).await.unwrap();
        LuciaMigration::new().tables("user", "key", None).up(&SchemaManager::new(&db)).await.unwrap();
        Some(Self { admin, db, name })
    }

    async fn drop(&self) {
        self.admin.execute_unprepared(&format!("DROP SCHEMA {} CASCADE", self.name)).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_users_redis_sessions_end_to_end() {
    let Some(schema) = Schema::new().await else { return };
    let Some(redis) = RedisFixture::new(Deployment::Single).await else { return };
    let redis = std::sync::Arc::new(redis);
    let outcome = tokio::spawn(run_flow(schema.db.clone(), std::sync::Arc::clone(&redis))).await;
    redis.raw.delete_all();
    schema.drop().await;
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

const ACTIVE_PERIOD: Duration = Duration::from_secs(2);

async fn run_flow(db: DatabaseConnection, redis: std::sync::Arc<RedisFixture>) {
    let (sessions, raw) = (redis.adapter.clone(), &redis.raw);
    let users = SeaOrmAdapter::new(
        db.clone(),
        Tables { user: entity::user::Entity, key: entity::key::Entity, session: NoSessionTable },
    )
    .unwrap();
    // A two-second active period, so renewal can be seen on the real clock Redis expires by.
    let periods = SessionExpiresIn { active_period: ACTIVE_PERIOD, idle_period: Duration::from_secs(3600) };
    let auth = Lucia::builder(SplitAdapter::new(users, sessions.clone())).session_expires_in(periods).build();
    let schema = SchemaCounts { db: db.clone() };

    // Sign up, sign in on two devices.
    let key = NewKey::password("email", "ada@example.com", "correct horse");
    let user = auth.create_user(CreateUser::new(Default::default()).with_key(key)).await.unwrap();
    let laptop = auth.sign_in("email", "ada@example.com", Some("correct horse"), Default::default()).await.unwrap();
    // Validated at once, within its active period (before the next sign-ins' hashes, which
    // take most of a second on a busy machine in a debug build).
    let checked = auth.validate_session(laptop.token.expose_secret()).await.unwrap();
    assert_eq!(checked.user.user_id, user.user_id);
    assert!(!checked.fresh);
    let phone = auth.sign_in("email", "ada@example.com", Some("correct horse"), Default::default()).await.unwrap();
    assert!(matches!(
        auth.sign_in("email", "ada@example.com", Some("wrong"), Default::default()).await,
        Err(Error::InvalidPassword)
    ));
    assert_eq!(user_session_count(raw, &user.user_id), 2, "two sessions, no placeholder left behind");

    // After the active period, validation renews the session in Redis.
    let before = index_expire_time(raw, &user.user_id);
    tokio::time::sleep(ACTIVE_PERIOD + Duration::from_millis(100)).await;
    let renewed = auth.validate_session(laptop.token.expose_secret()).await.unwrap();
    assert!(renewed.fresh, "an idle session is renewed");
    assert!(index_expire_time(raw, &user.user_id) > before, "the renewal moved the Redis expiry");

    // List and revoke one device by handle.
    let listed = auth.get_all_user_sessions(&user.user_id).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(auth.invalidate_user_session(&user.user_id, &phone.session.handle).await.unwrap());
    assert!(matches!(auth.validate_session(phone.token.expose_secret()).await, Err(Error::InvalidSessionId)));
    auth.validate_session(laptop.token.expose_secret()).await.unwrap();

    // Sign out everywhere.
    auth.invalidate_all_user_sessions(&user.user_id).await.unwrap();
    assert!(matches!(auth.validate_session(laptop.token.expose_secret()).await, Err(Error::InvalidSessionId)));
    assert_eq!(user_session_count(raw, &user.user_id), 0);

    // A password change ends the sessions made before it.
    let again = auth.sign_in("email", "ada@example.com", Some("correct horse"), Default::default()).await.unwrap();
    auth.change_password("email", "ada@example.com", "battery staple").await.unwrap();
    assert!(matches!(auth.validate_session(again.token.expose_secret()).await, Err(Error::InvalidSessionId)));

    // Deleting the user deletes its Redis sessions too.
    let last = auth.sign_in("email", "ada@example.com", Some("battery staple"), Default::default()).await.unwrap();
    auth.validate_session(last.token.expose_secret()).await.unwrap();
    auth.delete_user(&user.user_id).await.unwrap();
    assert!(matches!(auth.validate_session(last.token.expose_secret()).await, Err(Error::InvalidSessionId)));
    assert_eq!(
        raw.keys(&format!(":{{{}}}*", common::encode(&user.user_id))),
        Vec::<String>::new(),
        "no Redis key of the deleted user"
    );
    assert_eq!(raw.keys(":sid:*").len(), 0, "no session id pointer left");
    assert_eq!(schema.count("user").await, 0);
    assert_eq!(schema.count("key").await, 0);
}

struct SchemaCounts {
    db: DatabaseConnection,
}

impl SchemaCounts {
    async fn count(&self, table: &str) -> i64 {
        let statement = sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!("SELECT COUNT(*) AS n FROM \"{table}\""),
        );
        self.db.query_one_raw(statement).await.unwrap().unwrap().try_get("", "n").unwrap()
    }
}

/// How many sessions the user's index lists.
fn user_session_count(raw: &common::Raw, user_id: &str) -> u64 {
    raw.query(redis::cmd("ZCARD").arg(raw.index_key(user_id)))
}

/// When the user's index expires (with its last session), in milliseconds.
fn index_expire_time(raw: &common::Raw, user_id: &str) -> i64 {
    raw.query(redis::cmd("PEXPIRETIME").arg(raw.index_key(user_id)))
}
