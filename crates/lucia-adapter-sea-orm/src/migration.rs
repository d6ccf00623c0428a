//! `sea-orm-migration` migrations that create Lucia's tables, or the session table alone
//! ([`LuciaMigration`]), the token table ([`LuciaTokenMigration`]), the passkey tables
//! ([`LuciaPasskeyMigration`]) and the second-factor tables ([`LuciaSecondFactorMigration`]).

mod second_factor;

use sea_orm::sea_query::TableRef;
use sea_orm::sea_query::extension::postgres::TypeCreateStatement;
use sea_orm::{ColumnTrait, DbBackend, EntityTrait, IdenStatic, Iterable, Schema};
use sea_orm_migration::async_trait::async_trait;
use sea_orm_migration::prelude::*;
pub use second_factor::LuciaSecondFactorMigration;

use crate::adapter::Tables;
use crate::schema::{self, SchemaError};

/// Creates the user, key and (optionally) session tables with primary keys, foreign keys to
/// the user table, and indexes on `user_id` and on `session.idle_expires` (for sweeps of dead
/// sessions); or, built with [`LuciaMigration::sessions_only`], the session table alone.
///
/// Column types follow Lucia v2's SQL schemas: `TEXT` ids on PostgreSQL and SQLite,
/// `VARCHAR(255)` on MySQL/MariaDB (which cannot index `TEXT`), `BIGINT` millisecond expiries.
/// On MySQL/MariaDB the ids use the binary collation `utf8mb4_bin`: with the default
/// case-insensitive collation, `email:Alice@example.com` would find and block
/// `email:alice@example.com`, and session ids would match regardless of case (Lucia v2's MySQL
/// schema had that flaw). `utf8mb4_bin` still ignores trailing spaces in comparisons, so
/// `Lucia` refuses ids and tokens that end in a space before any query.
/// Foreign keys are `ON DELETE NO ACTION`, as in Lucia's schemas, so a Lucia v2 application
/// sharing the database behaves the same; `Lucia::delete_user` deletes sessions and keys first.
///
/// ```
/// use lucia_adapter_sea_orm::LuciaMigration;
/// use sea_orm_migration::prelude::*;
///
/// struct Migrator;
///
/// impl MigratorTrait for Migrator {
///     fn migrations() -> Vec<Box<dyn MigrationTrait>> {
///         vec![Box::new(
///             LuciaMigration::new()
///                 .user_column(ColumnDef::new("username").string_len(255).not_null().unique_key().to_owned()),
///         )]
///     }
/// }
/// ```
///
/// For sessions kept in their own database, apart from users and keys:
///
/// ```
/// use lucia_adapter_sea_orm::LuciaMigration;
/// use sea_orm_migration::prelude::*;
///
/// struct SessionMigrator;
///
/// impl MigratorTrait for SessionMigrator {
///     fn migrations() -> Vec<Box<dyn MigrationTrait>> {
///         vec![Box::new(
///             LuciaMigration::sessions_only()
///                 .session_table("user_session")
///                 .session_column(ColumnDef::new("ip").string_len(64).null().to_owned()),
///         )]
///     }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct LuciaMigration {
    /// `None` for a sessions-only migration.
    user_tables: Option<UserTableNames>,
    session_table: Option<String>,
    user_columns: Vec<ColumnDef>,
    session_columns: Vec<ColumnDef>,
    /// The tables as the application's entities describe them ([`LuciaMigration::from_entities`]).
    entities: Option<EntityTables>,
    /// The existing user table a sessions-only session table refers to
    /// ([`LuciaMigration::session_foreign_key`]).
    session_references: Option<String>,
    /// The user entity's id is a `Uuid` ([`LuciaMigration::from_entities`]): the token,
    /// passkey and second-factor migrations it hands out make `uuid` `user_id` columns.
    uuid_user_ids: bool,
}

/// What creates each table from its entity, for one backend (generic functions made into plain
/// function pointers, so the migration keeps no type parameters).
#[derive(Debug, Clone, Copy)]
struct EntityTables {
    user: fn(DbBackend) -> EntityTable,
    key: fn(DbBackend) -> EntityTable,
    session: fn(DbBackend) -> EntityTable,
}

/// One table made from an entity: its enum types (PostgreSQL), the table, the indexes the
/// entity declares.
struct EntityTable {
    table_ref: TableRef,
    enums: Vec<TypeCreateStatement>,
    table: TableCreateStatement,
    indexes: Vec<IndexCreateStatement>,
}

/// The table of `E` for `backend`, as SeaORM makes it from the entity
/// ([`Schema::get_column_def`]), but with Lucia's id columns (`id`, `user_id`) made as
/// [`LuciaMigration::new`] makes them (text ids binary-collated `VARCHAR(255)` on MySQL/MariaDB,
/// whatever the entity's string type; uuid ids `uuid`), and without the foreign keys of the
/// entity's relations (Lucia adds its own).
fn entity_table<E: EntityTrait + Default>(backend: DbBackend) -> EntityTable {
    let entity = E::default();
    let schema = Schema::new(backend);
    let mut table = Table::create();
    table.table(entity.table_ref());
    for column in E::Column::iter() {
        let name = column.as_str();
        let declared = column.def();
        let mut def = match name {
            "id" | "user_id" if matches!(declared.get_column_type(), ColumnType::Uuid) => {
                ColumnDef::new(Alias::new(name)).uuid().not_null().to_owned()
            }
            "id" | "user_id" => id_column(backend, name),
            _ => schema.get_column_def::<E>(column),
        };
        if name == "id" {
            def.primary_key();
        }
        table.col(def);
    }
    // Entity-declared indexes, less those Lucia makes itself.
    let mut indexes = schema.create_index_from_entity(entity);
    indexes.retain(|index| {
        let columns = index.get_index_spec().get_column_names();
        !(columns.len() == 1 && matches!(columns[0].as_str(), "user_id" | "idle_expires"))
    });
    // One `CREATE TYPE` per enum type, though several columns may share it.
    let mut enums = schema.create_enum_from_entity(entity);
    let mut seen = Vec::new();
    enums.retain(|statement| {
        let sql = backend.build(statement).to_string();
        let new = !seen.contains(&sql);
        seen.push(sql);
        new
    });
    EntityTable { table_ref: entity.table_ref(), enums, table, indexes }
}

#[derive(Debug, Clone)]
struct UserTableNames {
    user: String,
    key: String,
}

impl Default for LuciaMigration {
    fn default() -> Self {
        Self::new()
    }
}

impl LuciaMigration {
    /// Tables `user`, `key` and `session`, with no attribute columns.
    pub fn new() -> Self {
        Self {
            user_tables: Some(UserTableNames { user: "user".into(), key: "key".into() }),
            session_table: Some("session".into()),
            user_columns: Vec::new(),
            session_columns: Vec::new(),
            entities: None,
            session_references: None,
            uuid_user_ids: false,
        }
    }

    /// Only the session table `session` (rename it with [`session_table`](Self::session_table)),
    /// for sessions kept apart from users and keys: no user or key table, no foreign key to a
    /// user table that lives elsewhere; the indexes on `user_id` and `idle_expires` as usual.
    /// `down` drops only the session table. Its migration name differs from
    /// [`new`](Self::new)'s, so both can be in one migrator.
    pub fn sessions_only() -> Self {
        Self {
            user_tables: None,
            session_table: Some("session".into()),
            user_columns: Vec::new(),
            session_columns: Vec::new(),
            entities: None,
            session_references: None,
            uuid_user_ids: false,
        }
    }

    /// Creates the user, key and session tables from the application's own entities, the
    /// ones it gives [`SeaOrmAdapter::new`](crate::SeaOrmAdapter::new): every column as the
    /// entity declares it (types, `NULL`/`NOT NULL`, defaults, `unique`, `indexed`, PostgreSQL
    /// enum types), so an attribute column is written once, in the entity. Lucia adds what it
    /// needs, as [`new`](Self::new) does: the `id` primary keys (text ids as `TEXT`, or
    /// binary-collated `VARCHAR(255)` on MySQL/MariaDB; uuid ids as `uuid`), foreign keys from
    /// `user_id` to the user table, indexes on `user_id` and `session.idle_expires`. Relations
    /// the entities declare add no foreign keys (Lucia's are the ones made), so `Relation {}` is
    /// enough.
    ///
    /// Refuses, as [`SeaOrmAdapter::new`](crate::SeaOrmAdapter::new) does, entities that lack
    /// a column Lucia requires or declare it of the wrong type.
    ///
    /// ```
    /// use lucia_adapter_sea_orm::{LuciaMigration, Tables, entity};
    /// use sea_orm_migration::prelude::*;
    ///
    /// struct Migrator;
    ///
    /// impl MigratorTrait for Migrator {
    ///     fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    ///         let tables = Tables { user: entity::user::Entity, key: entity::key::Entity, session: entity::session::Entity };
    ///         vec![Box::new(LuciaMigration::from_entities(tables).expect("Lucia's entities"))]
    ///     }
    /// }
    /// ```
    pub fn from_entities<U, K, S>(tables: Tables<U, K, S>) -> Result<Self, SchemaError>
    where
        U: EntityTrait + Default,
        K: EntityTrait + Default,
        S: EntityTrait + Default,
    {
        let user = schema::user_table(tables.user)?;
        let key = schema::key_table(tables.key)?;
        let session = schema::session_table(tables.session)?;
        key.require_user_id_of(&user)?;
        session.require_user_id_of(&user)?;
        #[cfg(feature = "with-uuid")]
        let uuid_user_ids = user.has_uuid("id");
        #[cfg(not(feature = "with-uuid"))]
        let uuid_user_ids = false;
        Ok(Self {
            user_tables: Some(UserTableNames { user: user.name, key: key.name }),
            session_table: Some(session.name),
            user_columns: Vec::new(),
            session_columns: Vec::new(),
            entities: Some(EntityTables {
                user: entity_table::<U>,
                key: entity_table::<K>,
                session: entity_table::<S>,
            }),
            session_references: None,
            uuid_user_ids,
        })
    }

    /// Names all three tables, creating the user and key tables (also after
    /// [`sessions_only`](Self::sessions_only)); `session: None` creates no session table
    /// (sessions kept elsewhere).
    pub fn tables(mut self, user: &str, key: &str, session: Option<&str>) -> Self {
        self.user_tables = Some(UserTableNames { user: user.into(), key: key.into() });
        self.session_table = session.map(Into::into);
        self
    }

    /// Names the session table (and creates it, also after `tables(.., None)`).
    pub fn session_table(mut self, name: &str) -> Self {
        self.session_table = Some(name.into());
        self
    }

    /// Gives the session table of a [`sessions_only`](Self::sessions_only) migration a
    /// foreign key to `user_table`, a user table that already exists in the same database
    /// (say, one whose sessions were kept in another store until now), as the full migration
    /// gives it; [`SeaOrmAdapter::check`](crate::SeaOrmAdapter::check) expects it of a full
    /// adapter's session table.
    pub fn session_foreign_key(mut self, user_table: &str) -> Self {
        self.session_references = Some(user_table.into());
        self
    }

    /// Adds an attribute column to the user table (ignored when no user table is created).
    pub fn user_column(mut self, column: ColumnDef) -> Self {
        self.user_columns.push(column);
        self
    }

    /// Adds an attribute column to the session table.
    pub fn session_column(mut self, column: ColumnDef) -> Self {
        self.session_columns.push(column);
        self
    }

    /// The migration that adds the token table `token` next to this migration's user table
    /// (named by [`tables`](Self::tables)), to put after it in the migrator. Without a user
    /// table (after [`sessions_only`](Self::sessions_only)) it refers to `user`.
    /// After [`from_entities`](Self::from_entities) with a `Uuid` user id, its `user_id` is
    /// `uuid` too.
    pub fn token_migration(&self) -> LuciaTokenMigration {
        let migration = LuciaTokenMigration::new().user_table(self.user_table_name());
        if self.uuid_user_ids { migration.uuid_user_ids() } else { migration }
    }

    /// The migration that adds the passkey tables next to this migration's user table, as
    /// [`token_migration`](Self::token_migration) does the token table.
    pub fn passkey_migration(&self) -> LuciaPasskeyMigration {
        let migration = LuciaPasskeyMigration::new().user_table(self.user_table_name());
        if self.uuid_user_ids { migration.uuid_user_ids() } else { migration }
    }

    /// The migration that adds the second-factor tables next to this migration's user table,
    /// as [`token_migration`](Self::token_migration) does the token table.
    pub fn second_factor_migration(&self) -> LuciaSecondFactorMigration {
        let migration = LuciaSecondFactorMigration::new().user_table(self.user_table_name());
        if self.uuid_user_ids { migration.uuid_user_ids() } else { migration }
    }

    fn user_table_name(&self) -> &str {
        self.user_tables.as_ref().map_or("user", |names| &names.user)
    }
}

/// Creates the token table for single-use tokens (email verification codes, password-reset
/// links; see [`SeaOrmAdapter::with_tokens`](crate::SeaOrmAdapter::with_tokens)): `id` primary
/// key, `user_id` with a foreign key to the user table (`ON DELETE NO ACTION`, like the
/// others: deleting a user deletes its tokens first), `kind` (`VARCHAR(32)`), `email` (`TEXT`,
/// `VARCHAR(255)` on MySQL/MariaDB), `expires` (`BIGINT` milliseconds), `attempts` (`INTEGER
/// NOT NULL DEFAULT 0`), a unique index on `(user_id, kind)` (one token of each kind per user,
/// the target of `set_token`'s upsert) and an index on `expires` (for the sweep of expired
/// tokens). Ids are text as in [`LuciaMigration`], binary-collated on MySQL/MariaDB.
///
/// It is a migration of its own, with its own name, rather than an option of
/// [`LuciaMigration`]: a database migrated before tokens existed has already run
/// [`LuciaMigration`] under its name, and a migrator would never run it again to add a table.
/// New and existing databases alike add this migration after [`LuciaMigration`]; its `down`
/// drops only the token table (first, as migrators undo in reverse order).
///
/// ```
/// use lucia_adapter_sea_orm::{LuciaMigration, LuciaTokenMigration};
/// use sea_orm_migration::prelude::*;
///
/// struct Migrator;
///
/// impl MigratorTrait for Migrator {
///     fn migrations() -> Vec<Box<dyn MigrationTrait>> {
///         vec![Box::new(LuciaMigration::new()), Box::new(LuciaTokenMigration::new())]
///     }
/// }
///
/// // Tables of other names: the token migration takes the user table's name from the first.
/// let lucia = LuciaMigration::new().tables("app_user", "app_key", Some("app_session"));
/// let tokens = lucia.token_migration().token_table("app_token");
/// # let _ = (lucia, tokens);
/// ```
#[derive(Debug, Clone)]
pub struct LuciaTokenMigration {
    user_table: String,
    token_table: String,
    uuid_user_ids: bool,
}

impl Default for LuciaTokenMigration {
    fn default() -> Self {
        Self::new()
    }
}

impl LuciaTokenMigration {
    /// Table `token`, referring to table `user`.
    pub fn new() -> Self {
        Self { user_table: "user".into(), token_table: "token".into(), uuid_user_ids: false }
    }

    /// Makes `user_id` a `uuid` column, for a user table keyed by `uuid`
    /// ([`LuciaMigration::token_migration`] after [`LuciaMigration::from_entities`] sets it).
    pub fn uuid_user_ids(mut self) -> Self {
        self.uuid_user_ids = true;
        self
    }

    /// Names the user table the tokens refer to.
    pub fn user_table(mut self, name: &str) -> Self {
        self.user_table = name.into();
        self
    }

    /// Names the token table.
    pub fn token_table(mut self, name: &str) -> Self {
        self.token_table = name.into();
        self
    }
}

impl MigrationName for LuciaTokenMigration {
    fn name(&self) -> &str {
        "m20260101_000002_create_lucia_token_table"
    }
}

#[async_trait]
impl MigrationTrait for LuciaTokenMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let table = &self.token_table;
        let token = Table::create()
            .table(Alias::new(table))
            .col(id_column(backend, "id").primary_key())
            .col(user_id_column(backend, self.uuid_user_ids))
            .col(ColumnDef::new(Alias::new("kind")).string_len(32).not_null())
            .col(long_text(backend, "email").not_null())
            .col(ColumnDef::new(Alias::new("expires")).big_integer().not_null())
            .col(ColumnDef::new(Alias::new("attempts")).integer().not_null().default(0))
            .foreign_key(&mut foreign_key_to_user(table, &self.user_table))
            .to_owned();
        manager.create_table(token).await?;
        // Also the index the foreign key uses (MySQL would otherwise make its own).
        let user_kind = Index::create()
            .name(format!("idx_{table}_user_id_kind"))
            .table(Alias::new(table))
            .col(Alias::new("user_id"))
            .col(Alias::new("kind"))
            .unique()
            .to_owned();
        manager.create_index(user_kind).await?;
        manager.create_index(index(table, "expires")).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Alias::new(&self.token_table)).to_owned()).await
    }
}

/// Creates the passkey tables (see [`SeaOrmAdapter::with_passkeys`](crate::SeaOrmAdapter::with_passkeys)):
/// `passkey` (`id` primary key, `user_id` with an index and a foreign key to the user table
/// like the others, `name`, `credential` (`TEXT`), `counter` (`BIGINT`), `backup_eligible`
/// and `backup_state` (booleans), `created_at` and nullable `last_used_at` (`BIGINT`
/// milliseconds)) and `passkey_challenge` (`id` primary key, nullable `user_id` without a
/// foreign key, `state` (`TEXT`), `expires` (`BIGINT`, indexed for the sweep)).
///
/// A migration of its own, after [`LuciaMigration`] (and [`LuciaTokenMigration`], if used),
/// as the token table is: a database migrated before passkeys existed adds it. `down` drops
/// only these two tables.
///
/// ```
/// use lucia_adapter_sea_orm::{LuciaMigration, LuciaPasskeyMigration, LuciaTokenMigration};
/// use sea_orm_migration::{MigrationTrait, MigratorTrait};
///
/// struct Migrator;
/// impl MigratorTrait for Migrator {
///     fn migrations() -> Vec<Box<dyn MigrationTrait>> {
///         vec![Box::new(LuciaMigration::new()), Box::new(LuciaTokenMigration::new()), Box::new(LuciaPasskeyMigration::new())]
///     }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct LuciaPasskeyMigration {
    user_table: String,
    passkey_table: String,
    challenge_table: String,
    uuid_user_ids: bool,
}

impl Default for LuciaPasskeyMigration {
    fn default() -> Self {
        Self::new()
    }
}

impl LuciaPasskeyMigration {
    /// Tables `passkey` and `passkey_challenge`, referring to table `user`.
    pub fn new() -> Self {
        Self {
            user_table: "user".into(),
            passkey_table: "passkey".into(),
            challenge_table: "passkey_challenge".into(),
            uuid_user_ids: false,
        }
    }

    /// Makes the `user_id` columns `uuid`, for a user table keyed by `uuid`
    /// ([`LuciaMigration::passkey_migration`] after [`LuciaMigration::from_entities`] sets it).
    pub fn uuid_user_ids(mut self) -> Self {
        self.uuid_user_ids = true;
        self
    }

    /// Names the user table the passkeys refer to.
    pub fn user_table(mut self, name: &str) -> Self {
        self.user_table = name.into();
        self
    }

    /// Names the passkey and challenge tables.
    pub fn tables(mut self, passkey: &str, challenge: &str) -> Self {
        self.passkey_table = passkey.into();
        self.challenge_table = challenge.into();
        self
    }
}

impl MigrationName for LuciaPasskeyMigration {
    fn name(&self) -> &str {
        "m20260101_000003_create_lucia_passkey_tables"
    }
}

#[async_trait]
impl MigrationTrait for LuciaPasskeyMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let table = &self.passkey_table;
        let passkey = Table::create()
            .table(Alias::new(table))
            .col(id_column(backend, "id").primary_key())
            .col(user_id_column(backend, self.uuid_user_ids))
            .col(long_text(backend, "name").not_null())
            .col(ColumnDef::new(Alias::new("credential")).text().not_null())
            .col(ColumnDef::new(Alias::new("counter")).big_integer().not_null())
            .col(ColumnDef::new(Alias::new("backup_eligible")).boolean().not_null())
            .col(ColumnDef::new(Alias::new("backup_state")).boolean().not_null())
            .col(ColumnDef::new(Alias::new("created_at")).big_integer().not_null())
            .col(ColumnDef::new(Alias::new("last_used_at")).big_integer().null())
            .foreign_key(&mut foreign_key_to_user(table, &self.user_table))
            .to_owned();
        manager.create_table(passkey).await?;
        manager.create_index(index(table, "user_id")).await?;

        let challenge_table = &self.challenge_table;
        let mut user_id = user_id_column(backend, self.uuid_user_ids);
        let challenge = Table::create()
            .table(Alias::new(challenge_table))
            .col(id_column(backend, "id").primary_key())
            .col(user_id.null())
            .col(ColumnDef::new(Alias::new("state")).text().not_null())
            .col(ColumnDef::new(Alias::new("expires")).big_integer().not_null())
            .to_owned();
        manager.create_table(challenge).await?;
        manager.create_index(index(challenge_table, "expires")).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [&self.challenge_table, &self.passkey_table] {
            manager.drop_table(Table::drop().table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }
}

impl MigrationName for LuciaMigration {
    fn name(&self) -> &str {
        match self.user_tables {
            Some(_) => "m20260101_000001_create_lucia_tables",
            None => "m20260101_000001_create_lucia_session_table",
        }
    }
}

/// A `user_id` column: `uuid` for a user table keyed by `uuid`, else text as [`id_column`].
fn user_id_column(backend: DbBackend, uuid: bool) -> ColumnDef {
    if uuid {
        ColumnDef::new(Alias::new("user_id")).uuid().not_null().to_owned()
    } else {
        id_column(backend, "user_id")
    }
}

/// A text column that can be a primary key or indexed on every backend.
fn id_column(backend: DbBackend, name: &str) -> ColumnDef {
    let mut column = ColumnDef::new(Alias::new(name));
    match backend {
        DbBackend::MySql => column.custom(Alias::new("VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")),
        _ => column.text(),
    };
    column.not_null().to_owned()
}

/// A text column that need not be indexed: `TEXT`, or `VARCHAR(255)` on MySQL/MariaDB (as in
/// Lucia v2's MySQL schema).
fn long_text(backend: DbBackend, name: &str) -> ColumnDef {
    let mut column = ColumnDef::new(Alias::new(name));
    match backend {
        DbBackend::MySql => column.string_len(255),
        _ => column.text(),
    };
    column
}

fn foreign_key_to_user(table: &str, user_table: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_user_id"))
        .from(Alias::new(table), Alias::new("user_id"))
        .to(Alias::new(user_table), Alias::new("id"))
        .on_delete(ForeignKeyAction::NoAction)
        .on_update(ForeignKeyAction::NoAction)
        .to_owned()
}

fn index(table: &str, column: &str) -> IndexCreateStatement {
    Index::create().name(format!("idx_{table}_{column}")).table(Alias::new(table)).col(Alias::new(column)).to_owned()
}

#[async_trait]
impl MigrationTrait for LuciaMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        if let Some(entities) = &self.entities {
            return self.up_from_entities(manager, entities).await;
        }

        if let Some(names) = &self.user_tables {
            let mut user = Table::create();
            user.table(Alias::new(&names.user)).col(id_column(backend, "id").primary_key());
            for column in &self.user_columns {
                user.col(column.clone());
            }
            manager.create_table(user).await?;

            let mut password = long_text(backend, "hashed_password");
            let key = Table::create()
                .table(Alias::new(&names.key))
                .col(id_column(backend, "id").primary_key())
                .col(id_column(backend, "user_id"))
                .col(password.null())
                .foreign_key(&mut foreign_key_to_user(&names.key, &names.user))
                .to_owned();
            manager.create_table(key).await?;
            manager.create_index(index(&names.key, "user_id")).await?;
        }

        if let Some(session_table) = &self.session_table {
            let mut session = Table::create();
            session
                .table(Alias::new(session_table))
                .col(id_column(backend, "id").primary_key())
                .col(id_column(backend, "user_id"))
                .col(ColumnDef::new(Alias::new("active_expires")).big_integer().not_null())
                .col(ColumnDef::new(Alias::new("idle_expires")).big_integer().not_null());
            // A foreign key only to a user table this migration creates: a sessions-only
            // table's users live in another database.
            let user_table = self.user_tables.as_ref().map(|names| &names.user).or(self.session_references.as_ref());
            if let Some(user_table) = user_table {
                session.foreign_key(&mut foreign_key_to_user(session_table, user_table));
            }
            for column in &self.session_columns {
                session.col(column.clone());
            }
            manager.create_table(session).await?;
            manager.create_index(index(session_table, "user_id")).await?;
            manager.create_index(index(session_table, "idle_expires")).await?;
        }
        Ok(())
    }

    /// Drops the tables `up` created, and no other (PostgreSQL enum types made from entities
    /// stay: other tables may use them).
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut tables = Vec::new();
        tables.extend(self.session_table.iter());
        if let Some(names) = &self.user_tables {
            tables.extend([&names.key, &names.user]);
        }
        for table in tables {
            manager.drop_table(Table::drop().table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }
}

impl LuciaMigration {
    async fn up_from_entities(&self, manager: &SchemaManager<'_>, entities: &EntityTables) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let (user, key, session) = ((entities.user)(backend), (entities.key)(backend), (entities.session)(backend));
        let user_name = table_name(&user.table_ref);
        for (mut made, lucia_indexes) in
            [(user, &[][..]), (key, &["user_id"][..]), (session, &["user_id", "idle_expires"][..])]
        {
            for statement in made.enums {
                if !enum_exists(manager, &statement).await? {
                    manager.create_type(statement).await?;
                }
            }
            let name = table_name(&made.table_ref);
            if !lucia_indexes.is_empty() {
                made.table.foreign_key(&mut foreign_key_to_user(&name, &user_name));
            }
            manager.create_table(made.table).await?;
            for column in lucia_indexes {
                manager.create_index(index(&name, column)).await?;
            }
            for statement in made.indexes {
                manager.create_index(statement).await?;
            }
        }
        Ok(())
    }
}

/// Whether PostgreSQL already has the enum type `statement` creates (another table's column
/// may use it).
async fn enum_exists(manager: &SchemaManager<'_>, statement: &TypeCreateStatement) -> Result<bool, DbErr> {
    use sea_orm::ConnectionTrait;
    let sql = manager.get_database_backend().build(statement).to_string();
    // `CREATE TYPE "name" AS ENUM (...)`
    let Some(name) = sql.split('"').nth(1) else { return Ok(false) };
    let query = sea_orm::Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
         WHERE t.typname = $1 AND n.nspname = ANY (current_schemas(false))",
        [name.into()],
    );
    Ok(manager.get_connection().query_one_raw(query).await?.is_some())
}

fn table_name(table_ref: &TableRef) -> String {
    match table_ref {
        TableRef::Table(name, _) => name.1.to_string(),
        _ => String::new(),
    }
}
