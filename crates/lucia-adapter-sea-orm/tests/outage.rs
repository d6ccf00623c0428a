//! A database that cannot be reached is `AdapterError::Unavailable` (and `Error::Unavailable`
//! through `Lucia`), not `Database`: a pool pointing at a closed port, and a write on a
//! connection the server kills. A read on a killed connection is run again on a new one.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Backend, Store};

use lucia::{AdapterError, DatabaseKey, DatabaseUser, Error, Lucia, SessionAdapter, UserAdapter};
use lucia_adapter_sea_orm::{LuciaMigration, SeaOrmAdapter, Tables, entity};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, TransactionTrait};
use sea_orm_migration::{MigrationTrait, SchemaManager};

fn full_adapter(db: DatabaseConnection) -> SeaOrmAdapter {
    let tables = Tables { user: entity::user::Entity, key: entity::key::Entity, session: entity::session::Entity };
    SeaOrmAdapter::new(db, tables).unwrap()
}

/// A URL like `url` but for a loopback port nothing listens on.
fn closed_port_url(url: &str) -> String {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let (scheme, rest) = url.split_once("://").unwrap();
    let (credentials, rest) = rest.rsplit_once('@').map_or(("", rest), |(c, r)| (c, r));
    let path = rest.split_once('/').map_or("", |(_, path)| path);
    let at = if credentials.is_empty() { "" } else { "@" };
    format!("{scheme}://{credentials}{at}127.0.0.1:{port}/{path}")
}

async fn closed_port_is_unavailable(variable: &str) {
    let Some(url) = common::server_url(variable) else { return };
    let mut options = ConnectOptions::new(closed_port_url(&url));
    options.connect_lazy(true).acquire_timeout(Duration::from_millis(500)).sqlx_logging(false);
    let adapter = full_adapter(Database::connect(options).await.unwrap());

    let error = adapter.get_session("any").await.unwrap_err();
    assert!(matches!(error, AdapterError::Unavailable(_)), "{error:?}");
    let error = adapter.get_user("any").await.unwrap_err();
    assert!(matches!(error, AdapterError::Unavailable(_)), "{error:?}");
    // A transaction's begin fails the same way.
    let error = adapter.set_user(lucia::DatabaseUser { id: "u".into(), attributes: Default::default() }, None);
    assert!(matches!(error.await, Err(AdapterError::Unavailable(_))));
    let error = adapter.delete_dead_sessions(0).await.unwrap_err();
    assert!(matches!(error, AdapterError::Unavailable(_)), "{error:?}");
    let auth = Lucia::builder(adapter).build();
    let error = auth.validate_session("a-token-of-some-length-0123456789").await.unwrap_err();
    assert!(matches!(error, Error::Unavailable(_)), "{error:?}");
}

/// The adapter's only connection is killed by the server while its statement waits for a row
/// lock (another transaction holds the key's row). A compare-and-set write
/// (`replace_key_password`) is `Unavailable`: whether it was done is unknown, and a second run
/// could fail on or undo the first, so it is not run again. A read (`get_key_latest`, a
/// locking read) is run again on a new connection, waits for the lock again, and answers once
/// the lock is released. `own_id` reads the victim's connection id; `kill` runs on another
/// pool.
async fn killed_connection_is_unavailable(backend: Backend, own_id: &str, kill: fn(i64) -> String) {
    let Some(store) = Store::new(backend).await else { return };
    let outcome = tokio::spawn({
        let db = store.db.clone();
        let victim = store.another_pool(1).await;
        let own_id = own_id.to_owned();
        async move {
            LuciaMigration::new().up(&SchemaManager::new(&db)).await.unwrap();
            let adapter = Arc::new(full_adapter(victim.clone()));
            let user = DatabaseUser { id: "user".into(), attributes: Default::default() };
            let key = DatabaseKey {
                id: "email:ada".into(),
                user_id: "user".into(),
                hashed_password: Some("old-hash".into()),
            };
            adapter.set_user(user, Some(key.clone())).await.unwrap();
            // The id of the pool's one connection, the one the next statement runs on.
            let connection_id = || async {
                let row = victim.query_one_raw(statement(&victim, &own_id)).await.unwrap().unwrap();
                let id = row.try_get_by_index::<i64>(0).or_else(|_| row.try_get_by_index::<u64>(0).map(|id| id as i64));
                id.unwrap()
            };

            let holder = db.begin().await.unwrap();
            let lock_key = format!("UPDATE {q}key{q} SET hashed_password = NULL", q = quote(&db));
            holder.execute_unprepared(&lock_key).await.unwrap();

            let id = connection_id().await;
            let writing = tokio::spawn({
                let adapter = Arc::clone(&adapter);
                async move { adapter.replace_key_password("email:ada", "old-hash", "new-hash").await }
            });
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert!(!writing.is_finished(), "the write waits for the row lock");
            db.execute_unprepared(&kill(id)).await.unwrap();
            let error = writing.await.unwrap().unwrap_err();
            assert!(matches!(error, AdapterError::Unavailable(_)), "{error:?}");

            let id = connection_id().await;
            let reading = tokio::spawn({
                let adapter = Arc::clone(&adapter);
                async move { adapter.get_key_latest("email:ada").await }
            });
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert!(!reading.is_finished(), "the read waits for the row lock");
            db.execute_unprepared(&kill(id)).await.unwrap();
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert!(!reading.is_finished(), "the read, run again on a new connection, waits for the lock again");
            holder.rollback().await.unwrap();
            assert_eq!(reading.await.unwrap().unwrap(), Some(key.clone()), "the read answers on a new connection");
            assert_eq!(adapter.get_key_latest("email:ada").await.unwrap(), Some(key), "a new connection serves");
        }
    })
    .await;
    store.drop_store().await;
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

/// The identifier quote of the backend.
fn quote(db: &DatabaseConnection) -> &'static str {
    if db.get_database_backend() == sea_orm::DbBackend::MySql { "`" } else { "\"" }
}

fn statement(db: &DatabaseConnection, sql: &str) -> sea_orm::Statement {
    sea_orm::Statement::from_string(db.get_database_backend(), sql)
}

mod postgres {
    use super::*;

    #[tokio::test(flavor = "multi_thread")]
    async fn closed_port_is_unavailable() {
        super::closed_port_is_unavailable("LUCIA_TEST_POSTGRES_URL").await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn killed_connection_is_unavailable() {
        super::killed_connection_is_unavailable(Backend::Postgres, "SELECT pg_backend_pid()::bigint", |id| {
            format!("SELECT pg_terminate_backend({id})")
        })
        .await;
    }
}

mod mysql {
    use super::*;

    #[tokio::test(flavor = "multi_thread")]
    async fn closed_port_is_unavailable() {
        super::closed_port_is_unavailable("LUCIA_TEST_MYSQL_URL").await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn killed_connection_is_unavailable() {
        super::killed_connection_is_unavailable(Backend::MySql, "SELECT CONNECTION_ID()", |id| format!("KILL {id}"))
            .await;
    }
}
