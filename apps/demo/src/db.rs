//! The demo's schema: Lucia's `user`, `key` and `session` tables, with a `username` on users
//! and the device, address and time of each session.

use lucia_adapter_sea_orm::LuciaMigration;
use sea_orm::sea_query::{Alias, ColumnDef};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

/// Migrations, run at start.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let text = |name: &str| ColumnDef::new(Alias::new(name)).string_len(255).null().to_owned();
        vec![Box::new(
            LuciaMigration::new()
                .user_column(ColumnDef::new(Alias::new("username")).string_len(255).not_null().unique_key().to_owned())
                .session_column(text("ip"))
                .session_column(text("user_agent"))
                .session_column(ColumnDef::new(Alias::new("created_at")).big_integer().null().to_owned()),
        )]
    }
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
