//! Users keyed by a `uuid` column (native `uuid` on PostgreSQL, `BINARY(16)` on MySQL/MariaDB,
//! a 16-byte blob on SQLite, as SeaORM makes them): ids are generated as uuid v7, the key and
//! session tables' `user_id` follow, the public API still says `UserId` (a string):
//! `seaorm_uuid_sqlite::…`, `seaorm_uuid_postgres::…`, `seaorm_uuid_mysql::…`.

mod common;

use common::{Backend, with_store};
use lucia::{CreateUser, Error, Lucia, NewKey};
use lucia_adapter_sea_orm::{LuciaMigration, SchemaError, SeaOrmAdapter, Tables, entity};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use sea_orm_migration::{MigrationTrait, SchemaManager};
use serde::{Deserialize, Serialize};

/// The shortest entities: no relations (`Relation {}`), a uuid id and a `created_at`.
mod account {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "account")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        #[sea_orm(unique)]
        pub email: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The user entity's own `Model` as the attributes type: `id` left out of the attributes
/// (`#[serde(skip)]`: the id is `User::user_id`), the other columns as they are.
mod member {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
    #[sea_orm(table_name = "member")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        #[serde(skip)]
        pub id: Uuid,
        #[sea_orm(unique)]
        pub email: String,
        pub created_at: DateTimeUtc,
        pub nickname: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

mod account_key {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "account_key")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub user_id: Uuid,
        pub hashed_password: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

mod account_session {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "account_session")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub user_id: Uuid,
        pub active_expires: i64,
        pub idle_expires: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Account {
    email: String,
    created_at: chrono::DateTime<chrono::Utc>,
}

/// A token table for uuid users, made by `LuciaMigration::token_migration` after
/// `from_entities`.
mod account_token {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "account_token")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub user_id: Uuid,
        pub kind: String,
        pub email: String,
        pub expires: i64,
        pub attempts: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Second-factor and passkey tables for uuid users, made by the migrations `LuciaMigration`
/// hands out after `from_entities`.
mod account_totp {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "totp")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: Uuid,
        pub encrypted_secret: String,
        pub confirmed: bool,
        pub last_step: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

mod account_recovery_code {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "recovery_code")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub user_id: Uuid,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

mod account_passkey {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "passkey")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub user_id: Uuid,
        pub name: String,
        pub credential: String,
        pub counter: i64,
        pub backup_eligible: bool,
        pub backup_state: bool,
        pub created_at: i64,
        pub last_used_at: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

mod account_passkey_challenge {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "passkey_challenge")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub user_id: Option<Uuid>,
        pub state: String,
        pub expires: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

fn tables() -> Tables<account::Entity, account_key::Entity, account_session::Entity> {
    Tables { user: account::Entity, key: account_key::Entity, session: account_session::Entity }
}

async fn migrate(db: &DatabaseConnection) {
    LuciaMigration::from_entities(tables()).unwrap().up(&SchemaManager::new(db)).await.unwrap();
}

fn new_account(email: &str) -> Account {
    Account { email: email.into(), created_at: "2024-05-01T12:00:00Z".parse().unwrap() }
}

async fn uuid_ids_end_to_end(db: DatabaseConnection) {
    migrate(&db).await;
    if db.get_database_backend() == DbBackend::Postgres {
        // Native `uuid` columns.
        let sql = "SELECT table_name, column_name FROM information_schema.columns \
                   WHERE table_schema = current_schema() AND data_type = 'uuid' ORDER BY 1, 2";
        let rows = db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql)).await.unwrap();
        let columns: Vec<(String, String)> =
            rows.iter().map(|row| (row.try_get_by_index(0).unwrap(), row.try_get_by_index(1).unwrap())).collect();
        let expected = [("account", "id"), ("account_key", "user_id"), ("account_session", "user_id")];
        assert_eq!(columns, expected.map(|(t, c)| (t.to_owned(), c.to_owned())));
    }
    let adapter = SeaOrmAdapter::new(db, tables()).unwrap();
    adapter.check().await.unwrap();
    let auth = Lucia::builder(adapter).user_attributes::<Account>().build();

    let key = NewKey::password("email", "ada@example.com", "hunter2 hunter2");
    let ada = auth.create_user(CreateUser::new(new_account("ada@example.com")).with_key(key)).await.unwrap();
    let grace = auth.create_user(CreateUser::new(new_account("grace@example.com"))).await.unwrap();
    for user in [&ada, &grace] {
        let id: uuid::Uuid = user.user_id.parse().expect("a uuid");
        assert_eq!(id.get_version_num(), 7, "{id}");
        assert_eq!(user.user_id, id.hyphenated().to_string());
    }
    // v7: time-ordered, so inserts land at the end of the primary key's index.
    assert!(ada.user_id < grace.user_id);

    let signed_in =
        auth.sign_in("email", "ada@example.com", Some("hunter2 hunter2"), Default::default()).await.unwrap();
    let validated = auth.validate_session(signed_in.token.expose_secret()).await.unwrap();
    assert_eq!(validated.user.user_id, ada.user_id);
    assert_eq!(validated.user.attributes, new_account("ada@example.com"));
    assert_eq!(auth.get_user(&ada.user_id).await.unwrap().attributes.email, "ada@example.com");
    assert_eq!(auth.get_all_user_keys(&ada.user_id).await.unwrap().len(), 1);
    assert_eq!(auth.get_all_user_sessions(&ada.user_id).await.unwrap().len(), 1);
    let renamed = Account { email: "countess@example.com".into(), ..new_account("") };
    assert_eq!(auth.update_user_attributes(&ada.user_id, &renamed).await.unwrap().attributes, renamed);

    // Ids that are no uuid, or no user's, are unknown users, not database errors.
    for unknown in ["not-a-uuid", "", &uuid::Uuid::now_v7().to_string()] {
        assert!(matches!(auth.get_user(unknown).await, Err(Error::InvalidUserId)), "{unknown}");
        assert!(matches!(auth.get_all_user_keys(unknown).await, Err(Error::InvalidUserId)), "{unknown}");
    }
    let explicit = CreateUser { user_id: Some("user-1".into()), ..CreateUser::new(new_account("bad@example.com")) };
    assert!(matches!(auth.create_user(explicit).await, Err(Error::InvalidUserId)));
    // An explicit uuid (from another system, say) is kept.
    let given = "0b9d6a4e-3c1f-4f7e-9a2d-5e8b7c6d4f31".to_owned();
    let imported = CreateUser { user_id: Some(given.clone()), ..CreateUser::new(new_account("imported@example.com")) };
    let imported = auth.create_user(imported).await;
    assert_eq!(imported.unwrap().user_id, given);

    // Removing a sign-in method: the user's lock and key count find uuid users' rows.
    {
        use lucia::SignInMethodDeletion::{Deleted, LastSignInMethod, NotFound};
        let remove = |user_id: &str, provider: &'static str, subject: &'static str| {
            let (auth, user_id) = (auth.clone(), user_id.to_owned());
            async move { auth.delete_key_unless_last(&user_id, provider, subject, &[]).await.unwrap() }
        };
        assert_eq!(remove(&ada.user_id, "email", "ada@example.com").await, LastSignInMethod);
        auth.create_key(&ada.user_id, NewKey::passwordless("github", "1912")).await.unwrap();
        assert_eq!(remove(&grace.user_id, "github", "1912").await, NotFound);
        assert_eq!(remove("not-a-uuid", "github", "1912").await, NotFound);
        assert_eq!(remove(&ada.user_id, "github", "1912").await, Deleted);
        assert_eq!(auth.get_all_user_keys(&ada.user_id).await.unwrap().len(), 1);
    }

    auth.delete_user(&ada.user_id).await.unwrap();
    assert!(matches!(auth.get_user(&ada.user_id).await, Err(Error::InvalidUserId)));
    assert!(matches!(auth.validate_session(signed_in.token.expose_secret()).await, Err(Error::InvalidSessionId)));
    assert_eq!(auth.get_user(&grace.user_id).await.unwrap().attributes, new_account("grace@example.com"));
}

/// Users and keys on one side of a split deployment, sessions on the other: the user half
/// still makes uuid ids.
async fn split_uuid_ids(db: DatabaseConnection) {
    migrate(&db).await;
    let users_only =
        Tables { user: account::Entity, key: account_key::Entity, session: lucia_adapter_sea_orm::NoSessionTable };
    let users = SeaOrmAdapter::new(db.clone(), users_only).unwrap();
    let sessions = SeaOrmAdapter::sessions_only(db, account_session::Entity).unwrap();
    let auth = Lucia::builder(lucia::SplitAdapter::new(users, sessions)).user_attributes::<Account>().build();
    let user = auth.create_user(CreateUser::new(new_account("ada@example.com"))).await.unwrap();
    assert_eq!(user.user_id.parse::<uuid::Uuid>().unwrap().get_version_num(), 7);
}

/// The token migration handed out by a migration from uuid entities makes a `uuid` `user_id`,
/// which the start-up check accepts, and tokens of uuid users are stored, found and deleted
/// with their user.
async fn uuid_ids_with_tokens(db: DatabaseConnection) {
    use lucia::{DatabaseToken, TokenAdapter, TokenKind};

    let migration = LuciaMigration::from_entities(tables()).unwrap();
    migration.up(&SchemaManager::new(&db)).await.unwrap();
    migration.token_migration().token_table("account_token").up(&SchemaManager::new(&db)).await.unwrap();
    let adapter = SeaOrmAdapter::new(db, tables()).unwrap().with_tokens(account_token::Entity).unwrap();
    adapter.check().await.unwrap();
    let auth = Lucia::builder(adapter).user_attributes::<Account>().build();
    let ada = auth.create_user(CreateUser::new(new_account("ada@example.com"))).await.unwrap();
    let token = DatabaseToken {
        id: "reset".into(),
        user_id: ada.user_id.clone(),
        kind: TokenKind::PasswordReset,
        email: "ada@example.com".into(),
        expires: i64::MAX,
        attempts: 0,
    };
    auth.adapter().set_token(token.clone()).await.unwrap();
    assert_eq!(auth.adapter().get_user_token(&ada.user_id, TokenKind::PasswordReset).await.unwrap(), Some(token));
    auth.delete_user(&ada.user_id).await.unwrap();
    assert_eq!(auth.adapter().get_token("reset").await.unwrap(), None);
}

/// The second-factor migration handed out by a migration from uuid entities makes `uuid`
/// `user_id` columns (as the token and passkey ones do), which the start-up check of the
/// adapter with every table accepts; a uuid user's TOTP row, recovery codes, passkeys and
/// tokens are stored, found, and deleted with the user.
async fn uuid_ids_with_second_factor_and_passkeys(db: DatabaseConnection) {
    use lucia::{
        DatabasePasskey, DatabaseToken, DatabaseTotp, PasskeyAdapter, SecondFactorAdapter, TokenAdapter, TokenKind,
    };

    let migration = LuciaMigration::from_entities(tables()).unwrap();
    let manager = SchemaManager::new(&db);
    migration.up(&manager).await.unwrap();
    migration.token_migration().token_table("account_token").up(&manager).await.unwrap();
    migration.second_factor_migration().up(&manager).await.unwrap();
    migration.passkey_migration().up(&manager).await.unwrap();
    if db.get_database_backend() == DbBackend::Postgres {
        let sql = "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema() \
                   AND column_name = 'user_id' AND data_type = 'uuid' ORDER BY 1";
        let rows = db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql)).await.unwrap();
        let tables: Vec<String> = rows.iter().map(|row| row.try_get_by_index(0).unwrap()).collect();
        let expected = [
            "account_key",
            "account_session",
            "account_token",
            "passkey",
            "passkey_challenge",
            "recovery_code",
            "totp",
        ];
        assert_eq!(tables, expected);
    }
    let adapter: SeaOrmAdapter<_> = SeaOrmAdapter::new(db, tables())
        .unwrap()
        .with_tokens(account_token::Entity)
        .unwrap()
        .with_second_factor(account_totp::Entity, account_recovery_code::Entity)
        .unwrap()
        .with_passkeys(account_passkey::Entity, account_passkey_challenge::Entity)
        .unwrap();
    adapter.check().await.unwrap();
    let auth = Lucia::builder(adapter).user_attributes::<Account>().build();
    let (ada, grace) = (
        auth.create_user(CreateUser::new(new_account("ada@example.com"))).await.unwrap(),
        auth.create_user(CreateUser::new(new_account("grace@example.com"))).await.unwrap(),
    );
    let store = auth.adapter();
    for user in [&ada, &grace] {
        let totp = DatabaseTotp {
            user_id: user.user_id.clone(),
            encrypted_secret: "sealed".into(),
            confirmed: true,
            last_step: 1,
        };
        store.set_totp(totp.clone()).await.unwrap();
        assert_eq!(store.get_totp(&user.user_id).await.unwrap(), Some(totp));
        let codes = vec![format!("{}-a", user.user_id), format!("{}-b", user.user_id)];
        store.set_recovery_codes(&user.user_id, codes.clone()).await.unwrap();
        assert!(store.consume_recovery_code(&user.user_id, &codes[0]).await.unwrap());
        assert_eq!(store.count_recovery_codes(&user.user_id).await.unwrap(), 1);
        let token = DatabaseToken {
            id: format!("pending-{}", user.user_id),
            user_id: user.user_id.clone(),
            kind: TokenKind::SecondFactor,
            email: String::new(),
            expires: i64::MAX,
            attempts: 0,
        };
        store.set_token(token).await.unwrap();
        let passkey = DatabasePasskey {
            id: format!("passkey-{}", user.user_id),
            user_id: user.user_id.clone(),
            name: "Laptop".into(),
            credential: "{}".into(),
            counter: 0,
            backup_eligible: false,
            backup_state: false,
            created_at: 1,
            last_used_at: None,
        };
        store.insert_passkey(passkey.clone()).await.unwrap();
        assert_eq!(store.get_user_passkeys(&user.user_id).await.unwrap(), [passkey]);
    }

    auth.delete_user(&ada.user_id).await.unwrap();
    assert_eq!(store.get_totp(&ada.user_id).await.unwrap(), None);
    assert_eq!(store.count_recovery_codes(&ada.user_id).await.unwrap(), 0);
    assert_eq!(store.get_user_passkeys(&ada.user_id).await.unwrap(), []);
    assert_eq!(store.get_user_token(&ada.user_id, TokenKind::SecondFactor).await.unwrap(), None);
    assert!(store.get_totp(&grace.user_id).await.unwrap().is_some());
    assert_eq!(store.count_recovery_codes(&grace.user_id).await.unwrap(), 1);
    assert_eq!(store.get_user_passkeys(&grace.user_id).await.unwrap().len(), 1);
}

async fn model_as_attributes(db: DatabaseConnection) {
    let tables = Tables { user: member::Entity, key: account_key::Entity, session: account_session::Entity };
    LuciaMigration::from_entities(tables).unwrap().up(&SchemaManager::new(&db)).await.unwrap();
    let adapter = SeaOrmAdapter::new(db.clone(), tables).unwrap();
    adapter.check().await.unwrap();
    let auth = Lucia::builder(adapter).user_attributes::<member::Model>().build();
    let ada = member::Model {
        id: uuid::Uuid::nil(),
        email: "ada@example.com".into(),
        created_at: "2024-02-29T12:00:00Z".parse().unwrap(),
        nickname: None,
    };
    let user = auth.create_user(CreateUser::new(ada.clone())).await.unwrap();
    assert_eq!(auth.get_user(&user.user_id).await.unwrap().attributes, ada);
    // The row as SeaORM reads it is the same model, with its id.
    use sea_orm::EntityTrait;
    let row = member::Entity::find_by_id(user.user_id.parse::<uuid::Uuid>().unwrap()).one(&db).await.unwrap();
    assert_eq!(row, Some(member::Model { id: user.user_id.parse().unwrap(), ..ada }));
}

macro_rules! backend_tests {
    ($module:ident, $backend:expr) => {
        mod $module {
            use super::*;

            #[tokio::test]
            async fn uuid_user_ids_are_generated_stored_and_found() {
                with_store($backend, uuid_ids_end_to_end).await;
            }

            #[tokio::test]
            async fn the_entity_model_is_the_attributes_type() {
                with_store($backend, model_as_attributes).await;
            }

            #[tokio::test]
            async fn tokens_of_uuid_users() {
                with_store($backend, uuid_ids_with_tokens).await;
            }

            #[tokio::test]
            async fn second_factor_and_passkeys_of_uuid_users() {
                with_store($backend, uuid_ids_with_second_factor_and_passkeys).await;
            }

            #[tokio::test]
            async fn a_split_deployment_makes_uuid_ids() {
                with_store($backend, split_uuid_ids).await;
            }
        }
    };
}

backend_tests!(seaorm_uuid_sqlite, Backend::Sqlite);
backend_tests!(seaorm_uuid_postgres, Backend::Postgres);
backend_tests!(seaorm_uuid_mysql, Backend::MySql);

/// A key or session table whose `user_id` is not of the user table's id type is refused by
/// the adapter and by the migration.
#[test]
fn user_id_columns_must_follow_the_user_table() {
    let db = sea_orm::DatabaseConnection::default();
    let mixed = Tables { user: account::Entity, key: entity::key::Entity, session: account_session::Entity };
    let error = SeaOrmAdapter::new(db, mixed).expect_err("refused");
    assert!(
        matches!(&error, SchemaError::WrongType { table, column, .. } if table == "key" && column == "user_id"),
        "{error}"
    );
    let error = LuciaMigration::from_entities(mixed).expect_err("refused");
    assert!(
        matches!(&error, SchemaError::WrongType { table, column, .. } if table == "key" && column == "user_id"),
        "{error}"
    );

    let mixed = Tables { user: account::Entity, key: account_key::Entity, session: entity::session::Entity };
    let error = LuciaMigration::from_entities(mixed).expect_err("refused");
    assert!(
        matches!(&error, SchemaError::WrongType { table, column, .. } if table == "session" && column == "user_id"),
        "{error}"
    );
}
