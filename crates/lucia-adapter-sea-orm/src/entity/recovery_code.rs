//! The `recovery_code` table: single-use recovery codes, stored as SHA-256, matching
//! [`LuciaSecondFactorMigration::new`](crate::LuciaSecondFactorMigration::new). Used through
//! [`SeaOrmAdapter::with_second_factor`](crate::SeaOrmAdapter::with_second_factor).

use sea_orm::entity::prelude::*;

/// A row of `recovery_code`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "recovery_code")]
pub struct Model {
    /// The SHA-256 of the code, in lowercase hex.
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub id: String,
    /// The user the code belongs to.
    #[sea_orm(column_type = "Text", indexed)]
    pub user_id: String,
}

/// A recovery code belongs to one user.
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
