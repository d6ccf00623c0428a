//! Sweeps of tens of thousands of dead sessions on each backend: `delete_dead_sessions`
//! deletes exactly the dead ones, in batches of [`SWEEP_BATCH`] rows, and keeps the live ones;
//! `delete_expired_tokens` likewise for expired tokens.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use common::{Backend, Store};
use lucia::{SessionAdapter, UserAdapter};
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, TransactionTrait,
};
use sea_orm_migration::{MigrationTrait, SchemaManager};

use crate::adapter::{SWEEP_BATCH, Sweep};
use crate::{LuciaMigration, SeaOrmAdapter, entity};

const NOW_MS: i64 = 1_800_000_000_000;
const DEAD: u64 = 30_000;
const LIVE: u64 = 1_000;
/// Rows per insert statement: well under every backend's limit on bound parameters.
const ROWS_PER_INSERT: u64 = 1_000;

/// Inserts `count` sessions `id_prefix{i}` whose idle period ends at `idle_expires(i)`, many
/// rows per statement, in one transaction.
async fn insert_sessions(db: &DatabaseConnection, id_prefix: &str, count: u64, idle_expires: impl Fn(u64) -> i64) {
    let transaction = db.begin().await.unwrap();
    for first in (0..count).step_by(ROWS_PER_INSERT as usize) {
        let mut insert = Query::insert();
        insert
            .into_table(Alias::new("session"))
            .columns(["id", "user_id", "active_expires", "idle_expires"].map(Alias::new));
        for i in first..(first + ROWS_PER_INSERT).min(count) {
            let idle = idle_expires(i);
            let row: [Expr; 4] = [
                Expr::val(format!("{id_prefix}{i}")),
                Expr::val(format!("user{}", i % 97)),
                Expr::val(idle - 1),
                Expr::val(idle),
            ];
            insert.values_panic(row);
        }
        transaction.execute(&insert).await.unwrap();
    }
    transaction.commit().await.unwrap();
}

async fn count_sessions(db: &DatabaseConnection) -> u64 {
    entity::session::Entity::find().count(db).await.unwrap()
}

async fn sweeps_in_batches(backend: Backend) {
    let Some(store) = Store::new(backend).await else { return };
    let outcome = tokio::spawn(sweep_case(store.db.clone(), backend)).await;
    store.drop_store().await;
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

async fn sweep_case(db: DatabaseConnection, backend: Backend) {
    LuciaMigration::sessions_only().up(&SchemaManager::new(&db)).await.unwrap();
    let adapter = SeaOrmAdapter::sessions_only(db.clone(), entity::session::Entity).unwrap();
    // Dead: idle periods ended up to 5000 ms before now (one ends exactly 1 ms before).
    // Live: ending at now (the boundary: not dead yet) or later.
    insert_sessions(&db, "dead", DEAD, |i| NOW_MS - 1 - (i % 5_000) as i64).await;
    insert_sessions(&db, "live", LIVE, |i| NOW_MS + i as i64).await;
    assert_eq!(count_sessions(&db).await, DEAD + LIVE);

    let started = Instant::now();
    let sweep = adapter.sweep(NOW_MS, SWEEP_BATCH).await.unwrap();
    let elapsed = started.elapsed();
    eprintln!(
        "{backend:?}: swept {} dead of {} sessions in {} ms, {} statements of at most {SWEEP_BATCH} rows",
        sweep.deleted,
        DEAD + LIVE,
        elapsed.as_millis(),
        sweep.statements
    );
    // 30 full batches, then one that finds nothing and ends the sweep.
    assert_eq!(sweep, Sweep { deleted: DEAD, statements: DEAD / SWEEP_BATCH + 1 });

    let live = entity::session::Entity::find().filter(entity::session::Column::IdleExpires.gte(NOW_MS));
    assert_eq!(live.count(&db).await.unwrap(), LIVE, "every live session is kept");
    assert_eq!(count_sessions(&db).await, LIVE, "no dead session is left");

    // The public method: a batch and a half, then nothing left to do.
    insert_sessions(&db, "later", 1_500, |_| NOW_MS + 10).await;
    assert_eq!(adapter.delete_dead_sessions(NOW_MS + 11).await.unwrap(), 1_500 + 11);
    assert_eq!(adapter.delete_dead_sessions(NOW_MS + 11).await.unwrap(), 0);
    assert_eq!(count_sessions(&db).await, LIVE - 11);
}

/// Users with two tokens each: the first token of every user has expired, the second of the
/// first `USERS_EXPIRED` users too, the rest are live.
const USERS: u64 = 1_300;
const USERS_EXPIRED: u64 = 1_200;

/// Inserts users `user{i}` for `i` below `count`, with one token of each kind whose `expires`
/// is `expires(i, kind index)`, many rows per statement, in one transaction.
async fn insert_tokens(db: &DatabaseConnection, count: u64, expires: impl Fn(u64, u64) -> i64) {
    let transaction = db.begin().await.unwrap();
    for first in (0..count).step_by(ROWS_PER_INSERT as usize) {
        let last = (first + ROWS_PER_INSERT).min(count);
        let mut users = Query::insert();
        users.into_table(Alias::new("user")).columns([Alias::new("id")]);
        let mut tokens = Query::insert();
        tokens.into_table(Alias::new("token")).columns(["id", "user_id", "kind", "email", "expires"].map(Alias::new));
        for i in first..last {
            users.values_panic([Expr::val(format!("user{i}"))]);
            for (k, kind) in
                [lucia::TokenKind::EmailVerification, lucia::TokenKind::PasswordReset].into_iter().enumerate()
            {
                let row: [Expr; 5] = [
                    Expr::val(format!("token{i}-{k}")),
                    Expr::val(format!("user{i}")),
                    Expr::val(kind.as_str()),
                    Expr::val("a@example.com"),
                    Expr::val(expires(i, k as u64)),
                ];
                tokens.values_panic(row);
            }
        }
        transaction.execute(&users).await.unwrap();
        transaction.execute(&tokens).await.unwrap();
    }
    transaction.commit().await.unwrap();
}

async fn token_sweeps_in_batches(backend: Backend) {
    let Some(store) = Store::new(backend).await else { return };
    let outcome = tokio::spawn(token_sweep_case(store.db.clone())).await;
    store.drop_store().await;
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

async fn token_sweep_case(db: DatabaseConnection) {
    let migration = LuciaMigration::new();
    migration.up(&SchemaManager::new(&db)).await.unwrap();
    migration.token_migration().up(&SchemaManager::new(&db)).await.unwrap();
    let tables =
        crate::Tables { user: entity::user::Entity, key: entity::key::Entity, session: entity::session::Entity };
    let adapter = SeaOrmAdapter::new(db.clone(), tables).unwrap().with_tokens(entity::token::Entity).unwrap();
    // Expired up to 1000 ms before now; live from now (the boundary: not expired yet) on.
    insert_tokens(&db, USERS, |i, kind| {
        if kind == 0 || i < USERS_EXPIRED {
            NOW_MS - 1 - (i % 1_000) as i64
        } else {
            NOW_MS + (i - USERS_EXPIRED) as i64
        }
    })
    .await;
    let (expired, live) = (USERS + USERS_EXPIRED, USERS - USERS_EXPIRED);

    let sweep = adapter.sweep_tokens(NOW_MS, SWEEP_BATCH).await.unwrap();
    assert_eq!(sweep, Sweep { deleted: expired, statements: expired / SWEEP_BATCH + 1 });
    let left = entity::token::Entity::find().count(&db).await.unwrap();
    assert_eq!(left, live, "every live token is kept");
    assert_eq!(adapter.delete_expired_tokens(NOW_MS).await.unwrap(), 0);
}

mod sqlite {
    #[tokio::test(flavor = "multi_thread")]
    async fn sweep_deletes_dead_sessions_in_batches() {
        super::sweeps_in_batches(super::Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn sweep_deletes_expired_tokens_in_batches() {
        super::token_sweeps_in_batches(super::Backend::Sqlite).await;
    }
}

mod postgres {
    #[tokio::test(flavor = "multi_thread")]
    async fn sweep_deletes_dead_sessions_in_batches() {
        super::sweeps_in_batches(super::Backend::Postgres).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn sweep_deletes_expired_tokens_in_batches() {
        super::token_sweeps_in_batches(super::Backend::Postgres).await;
    }
}

mod mysql {
    #[tokio::test(flavor = "multi_thread")]
    async fn sweep_deletes_dead_sessions_in_batches() {
        super::sweeps_in_batches(super::Backend::MySql).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn sweep_deletes_expired_tokens_in_batches() {
        super::token_sweeps_in_batches(super::Backend::MySql).await;
    }
}
