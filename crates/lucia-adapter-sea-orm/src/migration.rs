//! `sea-orm-migration` migrations that create Lucia's tables, or the session table alone
//! ([`LuciaMigration`]), the token table ([`LuciaTokenMigration`]) and the second-factor tables
//! ([`LuciaSecondFactorMigration`]).

mod second_factor;

use sea_orm::DbBackend;
use sea_orm_migration::async_trait::async_trait;
use sea_orm_migration::prelude::*;
pub use second_factor::LuciaSecondFactorMigration;

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
/// applications should not accept ids that end in spaces.
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
        }
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
    pub fn token_migration(&self) -> LuciaTokenMigration {
        let user = self.user_tables.as_ref().map_or("user", |names| &names.user);
        LuciaTokenMigration::new().user_table(user)
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
}

impl Default for LuciaTokenMigration {
    fn default() -> Self {
        Self::new()
    }
}

impl LuciaTokenMigration {
    /// Table `token`, referring to table `user`.
    pub fn new() -> Self {
        Self { user_table: "user".into(), token_table: "token".into() }
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
            .col(id_column(backend, "user_id"))
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

impl MigrationName for LuciaMigration {
    fn name(&self) -> &str {
        match self.user_tables {
            Some(_) => "m20260101_000001_create_lucia_tables",
            None => "m20260101_000001_create_lucia_session_table",
        }
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
            if let Some(names) = &self.user_tables {
                session.foreign_key(&mut foreign_key_to_user(session_table, &names.user));
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

    /// Drops the tables `up` created, and no other.
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
