//! The passkey flows of `lucia-passkey` (registration, passkey-only sign-in, second factor,
//! wrong origin, replay, cloned counter, removal, the longest credential id), end to end with a software authenticator,
//! over this adapter on SQLite, PostgreSQL and MariaDB: the tables made by `LuciaMigration`
//! and `LuciaPasskeyMigration`, the crate's own entities. The scenarios are lucia-passkey's
//! (`crates/lucia-passkey/tests/common`), shared by path.

mod common;
#[path = "../../lucia-passkey/tests/common/mod.rs"]
mod flows;

use std::future::Future;

use common::{Backend, Store};
use flows::TestClock;
use lucia::Lucia;
use lucia_adapter_sea_orm::{
    LuciaMigration, LuciaPasskeyMigration, SeaOrmAdapter, Tables, WithPasskeys, WithSessions, entity,
};
use sea_orm_migration::{MigrationTrait, SchemaManager};

type PasskeyStore = SeaOrmAdapter<WithPasskeys<WithSessions>>;

/// Runs `scenario` on a fresh store of `backend` with the stock tables, then drops the store
/// even if the scenario panicked. Does nothing when the backend is not configured.
async fn on<Done>(backend: Backend, scenario: impl FnOnce(Lucia<PasskeyStore>, TestClock) -> Done)
where
    Done: Future<Output = ()> + Send + 'static,
{
    let Some(store) = Store::new(backend).await else { return };
    let manager = SchemaManager::new(&store.db);
    LuciaMigration::new().up(&manager).await.unwrap();
    LuciaPasskeyMigration::new().up(&manager).await.unwrap();
    let tables = Tables { user: entity::user::Entity, key: entity::key::Entity, session: entity::session::Entity };
    let adapter = SeaOrmAdapter::new(store.db.clone(), tables)
        .and_then(|adapter| adapter.with_passkeys(entity::passkey::Entity, entity::passkey_challenge::Entity))
        .unwrap();
    let clock = TestClock::default();
    let moved = clock.clone();
    let auth = Lucia::builder(adapter).clock(move || moved.now()).build();
    let outcome = tokio::spawn(scenario(auth, clock)).await;
    store.drop_store().await;
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

macro_rules! flows {
    ($module:ident, $backend:expr) => {
        mod $module {
            use super::*;

            #[tokio::test]
            async fn register_and_sign_in() {
                on($backend, |auth, _| flows::register_and_sign_in(auth)).await;
            }

            #[tokio::test]
            async fn wrong_origin_is_refused() {
                on($backend, |auth, _| flows::wrong_origin_is_refused(auth)).await;
            }

            #[tokio::test]
            async fn replayed_challenge_is_refused() {
                on($backend, flows::replayed_challenge_is_refused).await;
            }

            #[tokio::test]
            async fn cloned_credential_is_refused() {
                on($backend, |auth, _| flows::cloned_credential_is_refused(auth)).await;
            }

            #[tokio::test]
            async fn remove_keeps_the_last_sign_in_method() {
                on($backend, |auth, _| flows::remove_keeps_the_last_sign_in_method(auth)).await;
            }

            #[tokio::test]
            async fn long_credential_id_is_refused() {
                on($backend, |auth, _| flows::long_credential_id_is_refused(auth)).await;
            }
        }
    };
}

flows!(passkey_sqlite, Backend::Sqlite);
flows!(passkey_postgres, Backend::Postgres);
flows!(passkey_mysql, Backend::MySql);
