//! The `totp` table: a user's TOTP secret (encrypted), matching
//! [`LuciaSecondFactorMigration::new`](crate::LuciaSecondFactorMigration::new). Used through
//! [`SeaOrmAdapter::with_second_factor`](crate::SeaOrmAdapter::with_second_factor).

use sea_orm::entity::prelude::*;

/// A row of `totp`. `Debug` shows the ciphertext, never the secret (it is not stored).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "totp")]
pub struct Model {
    /// The user (one TOTP per user).
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub user_id: String,
    /// The secret sealed with the application's key (base64 of nonce and ciphertext).
    #[sea_orm(column_type = "Text")]
    pub encrypted_secret: String,
    /// Whether a first code confirmed the enrolment.
    pub confirmed: bool,
    /// The last 30-second time step a code was accepted in.
    pub last_step: i64,
}

/// A TOTP row belongs to one user.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The user.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
