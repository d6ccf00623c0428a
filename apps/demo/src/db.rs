//! The demo's schema: Lucia's `user`, `key` and `session` tables, with a `username`, an
//! `email` and its `email_verified` flag on users and the device, address and time of each
//! session, the `token` table of verification codes, reset links and pending two-step
//! sign-ins, the second factor's `totp` and `recovery_code` tables, and `passkey` and
//! `passkey_challenge`. With sessions in Redis, no `session` table.

use lucia_adapter_sea_orm::{LuciaMigration, LuciaPasskeyMigration, LuciaSecondFactorMigration, LuciaTokenMigration};
use sea_orm::sea_query::{Alias, ColumnDef, Index, Table};
use sea_orm::{DatabaseConnection, DbErr};
use sea_orm_migration::async_trait::async_trait;
use sea_orm_migration::{MigrationName, MigrationTrait, MigratorTrait, SchemaManager};

/// Migrations with sessions in the database, run at start.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(with_session_columns(LuciaMigration::new().user_column(username()))),
            Box::new(AddEmail),
            Box::new(LuciaTokenMigration::new()),
            Box::new(LuciaSecondFactorMigration::new()),
            Box::new(LuciaPasskeyMigration::new()),
        ]
    }
}

/// Migrations with sessions in Redis, run at start: no session table. The migrations have
/// the same names as [`Migrator`]'s, so a database set up either way is not migrated again
/// when the demo switches.
pub struct UserMigrator;

impl MigratorTrait for UserMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(LuciaMigration::new().tables("user", "key", None).user_column(username())),
            Box::new(AddEmail),
            Box::new(LuciaTokenMigration::new()),
            Box::new(LuciaSecondFactorMigration::new()),
            Box::new(LuciaPasskeyMigration::new()),
        ]
    }
}

/// Adds the user's address (unique, `NULL` for users made by a Lucia v2 application, which
/// has no such column) and its verified flag to a database set up before the demo had them.
struct AddEmail;

impl MigrationName for AddEmail {
    fn name(&self) -> &str {
        "m20261126_000001_add_user_email"
    }
}

#[async_trait]
impl MigrationTrait for AddEmail {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let user = || Alias::new("user");
        // One column per statement: SQLite adds one at a time.
        let email = ColumnDef::new(Alias::new("email")).string_len(255).null().to_owned();
        manager.alter_table(Table::alter().table(user()).add_column(email).to_owned()).await?;
        let verified = ColumnDef::new(Alias::new("email_verified")).boolean().not_null().default(false).to_owned();
        manager.alter_table(Table::alter().table(user()).add_column(verified).to_owned()).await?;
        // A unique index rather than a constraint, which SQLite cannot add to a table; NULLs
        // never clash in it.
        let unique = Index::create().name("idx_user_email").table(user()).col(Alias::new("email")).unique().to_owned();
        manager.create_index(unique).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("idx_user_email").table(Alias::new("user")).to_owned()).await?;
        for column in ["email_verified", "email"] {
            let drop = Table::alter().table(Alias::new("user")).drop_column(Alias::new(column)).to_owned();
            manager.alter_table(drop).await?;
        }
        Ok(())
    }
}

/// Creates the session table if the database has none: one set up while sessions were in
/// Redis ([`UserMigrator`]), now that they are back in SQL, with its foreign key to `user` as
/// the full migration makes it (the start-up check expects it).
pub async fn ensure_session_table(db: &DatabaseConnection) -> Result<(), DbErr> {
    let manager = SchemaManager::new(db);
    if manager.has_table("session").await? {
        return Ok(());
    }
    tracing::info!("creating the session table: sessions were kept in Redis until now");
    with_session_columns(LuciaMigration::sessions_only().session_foreign_key("user")).up(&manager).await
}

fn username() -> ColumnDef {
    ColumnDef::new(Alias::new("username")).string_len(255).not_null().unique_key().to_owned()
}

fn with_session_columns(migration: LuciaMigration) -> LuciaMigration {
    let text = |name: &str| ColumnDef::new(Alias::new(name)).string_len(255).null().to_owned();
    migration
        .session_column(text("ip"))
        .session_column(text("user_agent"))
        .session_column(ColumnDef::new(Alias::new("created_at")).big_integer().null().to_owned())
}

/// `user`: id, username, address and whether it is verified.
pub mod user {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "user")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
        pub id: String,
        #[sea_orm(unique)]
        pub username: String,
        #[sea_orm(unique)]
        pub email: Option<String>,
        pub email_verified: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(has_many = "super::session::Entity")]
        Session,
    }

    impl Related<super::session::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Session.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// `session`: Lucia's columns plus where and when it was started (nullable, so sessions made
/// by another Lucia application on the same database still load).
pub mod session {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "session")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
        pub id: String,
        #[sea_orm(column_type = "Text", indexed)]
        pub user_id: String,
        pub active_expires: i64,
        pub idle_expires: i64,
        pub ip: Option<String>,
        pub user_agent: Option<String>,
        pub created_at: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(belongs_to = "super::user::Entity", from = "Column::UserId", to = "super::user::Column::Id")]
        User,
    }

    impl Related<super::user::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::User.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}
