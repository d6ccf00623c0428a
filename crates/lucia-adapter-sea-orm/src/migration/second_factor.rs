//! The second-factor tables ([`LuciaSecondFactorMigration`]).

use sea_orm_migration::async_trait::async_trait;
use sea_orm_migration::prelude::*;

use super::{id_column, index, long_text, user_id_column};

/// Creates the second-factor tables: `totp` (`user_id` primary key, `encrypted_secret`,
/// `confirmed`, `last_step`) and `recovery_code` (`id` primary key: the code's SHA-256, and
/// `user_id`, indexed), each with a foreign key to the user table **`ON DELETE CASCADE`**.
///
/// Why cascade, where the other tables' foreign keys are `NO ACTION`: a Lucia v2 application
/// sharing the database knows nothing of these tables, and its `deleteUser` (which deletes
/// sessions and keys first) would fail on them otherwise; and a user's second factor means
/// nothing without the user. The pending sign-ins of the two-step sign-in are tokens of the
/// token table ([`LuciaTokenMigration`](crate::LuciaTokenMigration)), which needs no change.
///
/// After [`LuciaMigration::from_entities`](crate::LuciaMigration::from_entities) with a
/// `Uuid` user id, take it from
/// [`LuciaMigration::second_factor_migration`](crate::LuciaMigration::second_factor_migration):
/// its `user_id` columns are `uuid` too.
///
/// A migration of its own, with its own name, as [`LuciaTokenMigration`](crate::LuciaTokenMigration)
/// is: databases migrated before it add it at the end. Its `down` drops the two tables.
///
/// ```
/// use lucia_adapter_sea_orm::{LuciaMigration, LuciaSecondFactorMigration, LuciaTokenMigration};
/// use sea_orm_migration::prelude::*;
///
/// struct Migrator;
///
/// impl MigratorTrait for Migrator {
///     fn migrations() -> Vec<Box<dyn MigrationTrait>> {
///         vec![
///             Box::new(LuciaMigration::new()),
///             Box::new(LuciaTokenMigration::new()),
///             Box::new(LuciaSecondFactorMigration::new()),
///         ]
///     }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct LuciaSecondFactorMigration {
    user_table: String,
    totp_table: String,
    recovery_code_table: String,
    uuid_user_ids: bool,
}

impl Default for LuciaSecondFactorMigration {
    fn default() -> Self {
        Self::new()
    }
}

impl LuciaSecondFactorMigration {
    /// Tables `totp` and `recovery_code`, referring to table `user`.
    pub fn new() -> Self {
        Self {
            user_table: "user".into(),
            totp_table: "totp".into(),
            recovery_code_table: "recovery_code".into(),
            uuid_user_ids: false,
        }
    }

    /// Makes the `user_id` columns `uuid`, for a user table keyed by `uuid`
    /// ([`LuciaMigration::second_factor_migration`](crate::LuciaMigration::second_factor_migration)
    /// after [`LuciaMigration::from_entities`](crate::LuciaMigration::from_entities) sets it).
    pub fn uuid_user_ids(mut self) -> Self {
        self.uuid_user_ids = true;
        self
    }

    /// Names the user table the rows refer to.
    pub fn user_table(mut self, name: &str) -> Self {
        self.user_table = name.into();
        self
    }

    /// Names the two tables.
    pub fn tables(mut self, totp: &str, recovery_code: &str) -> Self {
        self.totp_table = totp.into();
        self.recovery_code_table = recovery_code.into();
        self
    }

    fn foreign_key(&self, table: &str) -> ForeignKeyCreateStatement {
        ForeignKey::create()
            .name(format!("fk_{table}_user_id"))
            .from(Alias::new(table), Alias::new("user_id"))
            .to(Alias::new(&self.user_table), Alias::new("id"))
            .on_delete(ForeignKeyAction::Cascade)
            .on_update(ForeignKeyAction::NoAction)
            .to_owned()
    }
}

impl MigrationName for LuciaSecondFactorMigration {
    fn name(&self) -> &str {
        "m20260201_000003_create_lucia_second_factor_tables"
    }
}

#[async_trait]
impl MigrationTrait for LuciaSecondFactorMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let (totp, codes) = (&self.totp_table, &self.recovery_code_table);
        let totp_table = Table::create()
            .table(Alias::new(totp))
            .col(user_id_column(backend, self.uuid_user_ids).primary_key())
            .col(long_text(backend, "encrypted_secret").not_null())
            .col(ColumnDef::new(Alias::new("confirmed")).boolean().not_null().default(false))
            .col(ColumnDef::new(Alias::new("last_step")).big_integer().not_null().default(0))
            .foreign_key(&mut self.foreign_key(totp))
            .to_owned();
        manager.create_table(totp_table).await?;
        let code_table = Table::create()
            .table(Alias::new(codes))
            .col(id_column(backend, "id").primary_key())
            .col(user_id_column(backend, self.uuid_user_ids))
            .foreign_key(&mut self.foreign_key(codes))
            .to_owned();
        manager.create_table(code_table).await?;
        manager.create_index(index(codes, "user_id")).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Alias::new(&self.recovery_code_table)).to_owned()).await?;
        manager.drop_table(Table::drop().table(Alias::new(&self.totp_table)).to_owned()).await
    }
}
