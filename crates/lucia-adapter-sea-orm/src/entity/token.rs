//! The `token` table: single-use tokens (email verification codes, password-reset links),
//! matching [`LuciaTokenMigration::new`](crate::LuciaTokenMigration::new). Used through
//! [`SeaOrmAdapter::with_tokens`](crate::SeaOrmAdapter::with_tokens).

use sea_orm::entity::prelude::*;

/// A row of `token`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "token")]
pub struct Model {
    /// The SHA-256 of the secret, in lowercase hex.
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub id: String,
    /// The user the token was issued to (unique together with `kind`).
    #[sea_orm(column_type = "Text")]
    pub user_id: String,
    /// What the token is for: `email_verification` or `password_reset`.
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub kind: String,
    /// The address the token was sent to.
    #[sea_orm(column_type = "Text")]
    pub email: String,
    /// When the token stops working, in milliseconds since the Unix epoch.
    pub expires: i64,
    /// How many times a code was tried.
    pub attempts: i32,
}

/// A token belongs to one user.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The user the token was issued to.
    #[sea_orm(belongs_to = "super::user::Entity", from = "Column::UserId", to = "super::user::Column::Id")]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
