//! The `key` table: `provider_id:provider_user_id` keys, many per user.

use sea_orm::entity::prelude::*;

/// A row of `key`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "key")]
pub struct Model {
    /// `provider_id:provider_user_id`, for example `email:ada@example.com`.
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub id: String,
    /// The owning user. Not unique: a user may have many keys.
    #[sea_orm(column_type = "Text", indexed)]
    pub user_id: String,
    /// The password hash, or `NULL` for a key without password.
    #[sea_orm(column_type = "Text", nullable)]
    pub hashed_password: Option<String>,
}

/// A key belongs to one user; a user has many keys (many-to-one, not one-to-one).
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
