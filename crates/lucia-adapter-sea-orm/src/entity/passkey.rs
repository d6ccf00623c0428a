//! The `passkey` table: users' passkeys (WebAuthn credentials), matching
//! [`LuciaPasskeyMigration::new`](crate::LuciaPasskeyMigration::new). Used through
//! [`SeaOrmAdapter::with_passkeys`](crate::SeaOrmAdapter::with_passkeys).

use sea_orm::entity::prelude::*;

/// A row of `passkey`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "passkey")]
pub struct Model {
    /// The credential id, base64url.
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub id: String,
    /// The owning user.
    #[sea_orm(column_type = "Text")]
    pub user_id: String,
    /// The name the user gave it.
    #[sea_orm(column_type = "Text")]
    pub name: String,
    /// The credential as the relying-party library serializes it.
    #[sea_orm(column_type = "Text")]
    pub credential: String,
    /// The signature counter last seen.
    pub counter: i64,
    /// Whether the credential may be synced.
    pub backup_eligible: bool,
    /// Whether it was synced when last seen.
    pub backup_state: bool,
    /// When it was registered, in milliseconds since the Unix epoch.
    pub created_at: i64,
    /// When it was last used, in milliseconds since the Unix epoch.
    pub last_used_at: Option<i64>,
}

/// A passkey belongs to one user.
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
