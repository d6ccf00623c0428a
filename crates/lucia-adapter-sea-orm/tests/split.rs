//! A split deployment on PostgreSQL: users and keys in one database, sessions in another
//! (each made by its own `LuciaMigration`), joined with `SplitAdapter`, through a short Lucia
//! flow; and the same with a token table beside the users (`SeaOrmUserAdapterWithTokens`).

mod common;

use common::Store;
use lucia::{CreateUser, DatabaseToken, Error, Lucia, NewKey, SplitAdapter, TokenAdapter, TokenKind, UserAdapter};
use lucia_adapter_sea_orm::{
    LuciaMigration, NoSessionTable, SeaOrmAdapter, SeaOrmSessionAdapter, SeaOrmUserAdapter,
    SeaOrmUserAdapterWithTokens, Tables, entity,
};
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait};
use sea_orm_migration::{MigrationTrait, SchemaManager};

type SplitAuth = Lucia<SplitAdapter<SeaOrmUserAdapter, SeaOrmSessionAdapter>>;

async fn count<E: EntityTrait>(_table: E, db: &DatabaseConnection) -> u64
where
    E::Model: Sync,
{
    E::find().count(db).await.unwrap()
}

async fn flow(users_db: DatabaseConnection, sessions_db: DatabaseConnection) {
    LuciaMigration::new().tables("user", "key", None).up(&SchemaManager::new(&users_db)).await.unwrap();
    LuciaMigration::sessions_only().up(&SchemaManager::new(&sessions_db)).await.unwrap();
    let users_schema = SchemaManager::new(&users_db);
    assert!(!users_schema.has_table("session").await.unwrap(), "no session table among the users");
    let sessions_schema = SchemaManager::new(&sessions_db);
    assert!(!sessions_schema.has_table("user").await.unwrap(), "no user table among the sessions");

    let tables = Tables { user: entity::user::Entity, key: entity::key::Entity, session: NoSessionTable };
    let users: SeaOrmUserAdapter = SeaOrmAdapter::new(users_db.clone(), tables).unwrap();
    let sessions: SeaOrmSessionAdapter =
        SeaOrmAdapter::sessions_only(sessions_db.clone(), entity::session::Entity).unwrap();
    let auth: SplitAuth = Lucia::builder(SplitAdapter::new(users, sessions)).build();

    let password = "correct horse battery staple";
    let key = NewKey::password("email", "ada@example.com", password);
    let user = auth.create_user(CreateUser::new(Default::default()).with_key(key)).await.unwrap();
    let first = auth.sign_in("email", "ada@example.com", Some(password), Default::default()).await.unwrap();
    let second = auth.sign_in("email", "ada@example.com", Some(password), Default::default()).await.unwrap();
    let first_token = first.token.expose_secret();
    let validated = auth.validate_session(first_token).await.unwrap();
    assert_eq!(validated.user.user_id, user.user_id);
    assert_eq!(auth.get_all_user_sessions(&user.user_id).await.unwrap().len(), 2);
    assert_eq!(count(entity::session::Entity, &sessions_db).await, 2, "sessions live in the sessions database");
    assert_eq!(count(entity::user::Entity, &users_db).await, 1);
    assert_eq!(count(entity::key::Entity, &users_db).await, 1);

    auth.invalidate_all_user_sessions(&user.user_id).await.unwrap();
    for token in [first_token, second.token.expose_secret()] {
        assert!(matches!(auth.validate_session(token).await, Err(Error::InvalidSessionId)));
    }
    assert_eq!(count(entity::session::Entity, &sessions_db).await, 0);

    let third = auth.sign_in("email", "ada@example.com", Some(password), Default::default()).await.unwrap();
    assert_eq!(count(entity::session::Entity, &sessions_db).await, 1);
    auth.delete_user(&user.user_id).await.unwrap();
    assert!(matches!(auth.validate_session(third.token.expose_secret()).await, Err(Error::InvalidSessionId)));
    assert_eq!(count(entity::session::Entity, &sessions_db).await, 0, "the user's sessions went with it");
    assert_eq!(count(entity::user::Entity, &users_db).await, 0);
    assert_eq!(count(entity::key::Entity, &users_db).await, 0);
    assert!(matches!(auth.get_user(&user.user_id).await, Err(Error::InvalidUserId)));
}

/// Tokens through a `SplitAdapter` whose user half has a token table: stored beside the users,
/// swept when expired, and deleted with their user by `Lucia::delete_user`.
async fn flow_with_tokens(users_db: DatabaseConnection, sessions_db: DatabaseConnection) {
    let migration = LuciaMigration::new().tables("user", "key", None);
    migration.up(&SchemaManager::new(&users_db)).await.unwrap();
    migration.token_migration().up(&SchemaManager::new(&users_db)).await.unwrap();
    LuciaMigration::sessions_only().up(&SchemaManager::new(&sessions_db)).await.unwrap();

    let tables = Tables { user: entity::user::Entity, key: entity::key::Entity, session: NoSessionTable };
    let users: SeaOrmUserAdapterWithTokens =
        SeaOrmAdapter::new(users_db.clone(), tables).unwrap().with_tokens(entity::token::Entity).unwrap();
    let sessions: SeaOrmSessionAdapter =
        SeaOrmAdapter::sessions_only(sessions_db.clone(), entity::session::Entity).unwrap();
    let split = SplitAdapter::new(users.clone(), sessions.clone());
    let auth = Lucia::builder(SplitAdapter::new(users, sessions)).build();

    let password = "correct horse battery staple";
    let key = NewKey::password("email", "ada@example.com", password);
    let user = auth.create_user(CreateUser::new(Default::default()).with_key(key)).await.unwrap();
    auth.sign_in("email", "ada@example.com", Some(password), Default::default()).await.unwrap();
    let token = |id: char, kind, expires| DatabaseToken {
        id: id.to_string().repeat(64),
        user_id: user.user_id.clone(),
        kind,
        email: "ada@example.com".into(),
        expires,
        attempts: 0,
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let live = token('a', TokenKind::PasswordReset, now + 60_000);
    split.set_token(live.clone()).await.unwrap();
    split.set_token(token('b', TokenKind::EmailVerification, now - 1)).await.unwrap();
    assert_eq!(count(entity::token::Entity, &users_db).await, 2, "tokens live in the users database");
    assert_eq!(split.delete_expired_tokens(now).await.unwrap(), 1);
    assert_eq!(split.get_token(&live.id).await.unwrap(), Some(live));

    auth.delete_user(&user.user_id).await.unwrap();
    assert_eq!(count(entity::token::Entity, &users_db).await, 0, "the user's tokens went with it");
    assert_eq!(count(entity::session::Entity, &sessions_db).await, 0);
    assert_eq!(count(entity::user::Entity, &users_db).await, 0);
}

mod postgres {
    use super::*;

    #[tokio::test(flavor = "multi_thread")]
    async fn users_tokens_and_sessions_in_two_databases() {
        let Some(users) = Store::new(common::Backend::Postgres).await else { return };
        let Some(sessions) = Store::new_postgres_database().await else { return };
        let outcome = tokio::spawn(flow_with_tokens(users.db.clone(), sessions.db.clone())).await;
        users.drop_store().await;
        sessions.drop_store().await;
        if let Err(error) = outcome {
            std::panic::resume_unwind(error.into_panic());
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn users_and_sessions_in_two_databases() {
        let Some(users) = Store::new(common::Backend::Postgres).await else { return };
        let Some(sessions) = Store::new_postgres_database().await else { return };
        let outcome = tokio::spawn(flow(users.db.clone(), sessions.db.clone())).await;
        users.drop_store().await;
        sessions.drop_store().await;
        if let Err(error) = outcome {
            std::panic::resume_unwind(error.into_panic());
        }
    }
}
