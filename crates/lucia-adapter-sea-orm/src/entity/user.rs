//! The `user` table: an `id` and, in your own copy, attribute columns.

use sea_orm::entity::prelude::*;

/// A row of `user`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user")]
pub struct Model {
    /// The user id (15 random `[a-z0-9]` characters unless the application chose one).
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub id: String,
}

/// A user has many keys, sessions and tokens.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The user's keys.
    #[sea_orm(has_many = "super::key::Entity")]
    Key,
    /// The user's sessions.
    #[sea_orm(has_many = "super::session::Entity")]
    Session,
    /// The user's single-use tokens.
    #[sea_orm(has_many = "super::token::Entity")]
    Token,
}

impl Related<super::key::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Key.def()
    }
}

impl Related<super::session::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Session.def()
    }
}

impl Related<super::token::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Token.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
