//! The demo's schema: Lucia's `user`, `key` and `session` tables, with a `username` on users
//! and the device, address and time of each session. With sessions in Redis, only `user` and
//! `key`.

use lucia_adapter_sea_orm::LuciaMigration;
use sea_orm::sea_query::{Alias, ColumnDef};
use sea_orm::{DatabaseConnection, DbErr};
use sea_orm_migration::{MigrationTrait, MigratorTrait, SchemaManager};

/// Migrations with sessions in the database, run at start.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(with_session_columns(LuciaMigration::new().user_column(username())))]
    }
}

/// Migrations with sessions in Redis, run at start: the user and key tables only. The
/// migration has the same name as [`Migrator`]'s, so a database set up either way is not
/// migrated again when the demo switches.
pub struct UserMigrator;

impl MigratorTrait for UserMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(LuciaMigration::new().tables("user", "key", None).user_column(username()))]
    }
}

/// Creates the session table if the database has none: one set up while sessions were in
/// Redis ([`UserMigrator`]), now that they are back in SQL. (Without a foreign key to
/// `user`, as the session table of a sessions-only migration; Lucia checks users itself.)
pub async fn ensure_session_table(db: &DatabaseConnection) -> Result<(), DbErr> {
    let manager = SchemaManager::new(db);
    if manager.has_table("session").await? {
        return Ok(());
    }
    tracing::info!("creating the session table: sessions were kept in Redis until now");
    with_session_columns(LuciaMigration::sessions_only()).up(&manager).await
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

/// `user`: id and username.
pub mod user {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "user")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
        pub id: String,
        #[sea_orm(unique)]
        pub username: String,
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
