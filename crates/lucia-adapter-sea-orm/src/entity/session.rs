//! The `session` table: sessions with millisecond expiries and, in your own copy, attribute
//! columns.

use sea_orm::entity::prelude::*;

/// A row of `session`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "session")]
pub struct Model {
    /// The session id (40 random `[a-z0-9]` characters).
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub id: String,
    /// The owning user.
    #[sea_orm(column_type = "Text", indexed)]
    pub user_id: String,
    /// End of the active period, in milliseconds since the Unix epoch.
    pub active_expires: i64,
    /// End of the idle period, in milliseconds since the Unix epoch.
    pub idle_expires: i64,
}

/// A session belongs to one user.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The owning user.
    #[sea_orm(belongs_to = "super::user::Entity", from = "Column::UserId", to = "super::user::Column::Id")]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
