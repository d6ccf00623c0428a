//! The `passkey_challenge` table: the server's half of passkey ceremonies in progress,
//! matching [`LuciaPasskeyMigration::new`](crate::LuciaPasskeyMigration::new). Used through
//! [`SeaOrmAdapter::with_passkeys`](crate::SeaOrmAdapter::with_passkeys).

use sea_orm::entity::prelude::*;

/// A row of `passkey_challenge`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "passkey_challenge")]
pub struct Model {
    /// The SHA-256 of the ceremony id, in lowercase hex.
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub id: String,
    /// The user the ceremony is for, if known (no foreign key: a ceremony may outlive its
    /// user, and the sweep deletes it).
    #[sea_orm(column_type = "Text", nullable)]
    pub user_id: Option<String>,
    /// The ceremony state as the relying-party library serializes it.
    #[sea_orm(column_type = "Text")]
    pub state: String,
    /// When it stops working, in milliseconds since the Unix epoch.
    pub expires: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
