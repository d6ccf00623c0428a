//! # SeaORM adapter
//!
//! Adapter for [SeaORM](https://www.sea-ql.org/SeaORM/): lucia's users, keys and sessions in
//! PostgreSQL, MySQL/MariaDB or SQLite, in tables described by your own entities. It is the
//! Rust counterpart of Lucia v2's TypeORM adapter: a SeaORM [`DatabaseConnection`] stands for
//! TypeORM's `DataSource`, and entity types for `EntityTarget`s.
//!
//! ```text
//! SeaOrmAdapter::new(
//!     db: DatabaseConnection,
//!     tables: Tables { user: U, key: K, session: S },
//! ) -> Result<SeaOrmAdapter<…>, SchemaError>
//!
//! SeaOrmAdapter::sessions_only(
//!     db: DatabaseConnection,
//!     session: E,
//! ) -> Result<SeaOrmSessionAdapter, SchemaError>
//!
//! // optional, on an adapter with user and key tables:
//! adapter.with_tokens(token: T) -> Result<SeaOrmAdapter<WithTokens<…>>, SchemaError>
//! ```
//!
//! ## Parameters
//!
//! | name | type | description |
//! |---|---|---|
//! | `db` | [`DatabaseConnection`] | SeaORM connection (pool) |
//! | `tables.user` | any [`EntityTrait`] | user entity |
//! | `tables.key` | any [`EntityTrait`] | key entity |
//! | `tables.session` | any [`EntityTrait`], or [`NoSessionTable`] | session entity; [`NoSessionTable`] when sessions live in a session adapter (Lucia's `session: null`) |
//!
//! The entities are checked when the adapter is built (see [`SeaOrmAdapter::new`]); a missing
//! or mistyped column is a [`SchemaError`] then, not a failure on the first request.
//!
//! ## Shapes
//!
//! Which tables an adapter has decides which of Lucia's adapter traits it implements:
//!
//! | built with | type | implements |
//! |---|---|---|
//! | `new(db, Tables { user, key, session })` | [`SeaOrmAdapter`] (`SeaOrmAdapter<`[`WithSessions`]`>`) | [`UserAdapter`](lucia::UserAdapter), [`SessionAdapter`](lucia::SessionAdapter), [`Adapter`](lucia::Adapter) |
//! | `new(db, Tables { user, key, session: NoSessionTable })` | [`SeaOrmUserAdapter`] (`SeaOrmAdapter<`[`UsersOnly`]`>`) | [`UserAdapter`](lucia::UserAdapter) |
//! | `sessions_only(db, session)` | [`SeaOrmSessionAdapter`] (`SeaOrmAdapter<`[`SessionsOnly`]`>`) | [`SessionAdapter`](lucia::SessionAdapter) |
//! | `new(db, Tables { user, key, session })?.with_tokens(token)` | [`SeaOrmAdapterWithTokens`] (`SeaOrmAdapter<`[`WithTokens`]`<WithSessions>>`) | as [`SeaOrmAdapter`], and [`TokenAdapter`](lucia::TokenAdapter) |
//! | `new(db, Tables { user, key, session: NoSessionTable })?.with_tokens(token)` | [`SeaOrmUserAdapterWithTokens`] (`SeaOrmAdapter<`[`WithTokens`]`<UsersOnly>>`) | as [`SeaOrmUserAdapter`], and [`TokenAdapter`](lucia::TokenAdapter) |
//!
//! The full adapter reads a session and its user in one query and runs a user's deletion in
//! one transaction. The other two are halves of a split deployment, joined by
//! [`lucia::SplitAdapter`]: `SplitAdapter<SeaOrmUserAdapter, SeaOrmSessionAdapter>` for users
//! and sessions in two SQL databases, or `SplitAdapter<SeaOrmUserAdapter, RedisSessionAdapter>`
//! with the `lucia-adapter-redis` crate.
//!
//! The full adapter's session-and-user read, which `validate_session` makes on every
//! authenticated request, is sent as a prepared statement straight to the sqlx pool inside the
//! [`DatabaseConnection`], without SeaORM's statement copies: SeaORM's metric callback
//! (`DatabaseConnection::set_metric_callback`) and its `sea_orm.query_one` tracing span do not
//! see that one query. Every other statement goes through SeaORM.
//!
//! ## Installation
//!
//! ```text
//! cargo add lucia
//! cargo add lucia-adapter-sea-orm --no-default-features --features postgres
//! cargo add sea-orm --no-default-features --features runtime-tokio,macros
//! ```
//!
//! The adapter's features pick the database drivers: `postgres`, `mysql` (MySQL and MariaDB),
//! `sqlite`; all three by default. To reach a remote server over TLS, also enable a SeaORM TLS
//! feature such as `runtime-tokio-rustls`.
//!
//! ## Usage
//!
//! ```
//! use lucia::{CreateUser, Lucia, NewKey};
//! use lucia_adapter_sea_orm::{LuciaMigration, SeaOrmAdapter, Tables, entity};
//! use sea_orm::{ConnectOptions, Database};
//! use sea_orm_migration::{MigrationTrait, SchemaManager};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // One connection: an in-memory SQLite database lives as long as its connection.
//! let db = Database::connect(ConnectOptions::new("sqlite::memory:").max_connections(1).to_owned()).await?;
//! LuciaMigration::new().up(&SchemaManager::new(&db)).await?;
//!
//! let adapter = SeaOrmAdapter::new(
//!     db,
//!     Tables { user: entity::user::Entity, key: entity::key::Entity, session: entity::session::Entity },
//! )?;
//! let auth = Lucia::builder(adapter).build();
//!
//! let key = NewKey::password("email", "ada@example.com", "hunter2 hunter2");
//! let user = auth.create_user(CreateUser::new(Default::default()).with_key(key)).await?;
//! let signed_in = auth.sign_in("email", "ada@example.com", Some("hunter2 hunter2"), Default::default()).await?;
//! let token = signed_in.token.expose_secret(); // the cookie value or bearer token
//! assert_eq!(auth.validate_session(token).await?.user.user_id, user.user_id);
//! # Ok(())
//! # }
//! ```
//!
//! (Lucia v2's TypeORM page showed `typeorm(dataSource)` without the `tables` argument that
//! its own signature requires; here the tables are always given.)
//!
//! With sessions in another database, build a users-only adapter over one and a
//! sessions-only adapter over the other, each migrated by its own [`LuciaMigration`] (the
//! session table then has no foreign key to a user table it cannot see):
//!
//! ```
//! use lucia::{CreateUser, Lucia, NewKey, SplitAdapter};
//! use lucia_adapter_sea_orm::{
//!     LuciaMigration, NoSessionTable, SeaOrmAdapter, SeaOrmSessionAdapter, SeaOrmUserAdapter, Tables, entity,
//! };
//! use sea_orm::{ConnectOptions, Database};
//! use sea_orm_migration::{MigrationTrait, SchemaManager};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let memory = || ConnectOptions::new("sqlite::memory:").max_connections(1).to_owned();
//! let (users_db, sessions_db) = (Database::connect(memory()).await?, Database::connect(memory()).await?);
//! LuciaMigration::new().tables("user", "key", None).up(&SchemaManager::new(&users_db)).await?;
//! LuciaMigration::sessions_only().up(&SchemaManager::new(&sessions_db)).await?;
//!
//! let tables = Tables { user: entity::user::Entity, key: entity::key::Entity, session: NoSessionTable };
//! let users: SeaOrmUserAdapter = SeaOrmAdapter::new(users_db, tables)?;
//! let sessions: SeaOrmSessionAdapter = SeaOrmAdapter::sessions_only(sessions_db, entity::session::Entity)?;
//! let auth: Lucia<SplitAdapter<SeaOrmUserAdapter, SeaOrmSessionAdapter>> =
//!     Lucia::builder(SplitAdapter::new(users, sessions)).build();
//!
//! let key = NewKey::password("email", "ada@example.com", "hunter2 hunter2");
//! let user = auth.create_user(CreateUser::new(Default::default()).with_key(key)).await?;
//! let signed_in = auth.sign_in("email", "ada@example.com", Some("hunter2 hunter2"), Default::default()).await?;
//! assert_eq!(auth.validate_session(signed_in.token.expose_secret()).await?.user.user_id, user.user_id);
//! auth.delete_user(&user.user_id).await?; // its sessions go too
//! # Ok(())
//! # }
//! ```
//!
//! Any other session adapter takes the sessions-only adapter's place:
//!
//! ```
//! # use lucia_adapter_sea_orm::{NoSessionTable, SeaOrmAdapter, SeaOrmUserAdapter, Tables, entity};
//! # fn demo<S: lucia::SessionAdapter>(db: sea_orm::DatabaseConnection, sessions: S) -> Result<(), lucia_adapter_sea_orm::SchemaError> {
//! let users: SeaOrmUserAdapter =
//!     SeaOrmAdapter::new(db, Tables { user: entity::user::Entity, key: entity::key::Entity, session: NoSessionTable })?;
//! let auth = lucia::Lucia::builder(lucia::SplitAdapter::new(users, sessions)).build();
//! # Ok(())
//! # }
//! ```
//!
//! ## Database entities
//!
//! You can choose any table names: the adapter takes them from the entities. **The `id`
//! columns are text, not UUIDs or integers.** Columns are found by name: `id`, `user_id`,
//! `hashed_password`, `active_expires`, `idle_expires` (and, in a token table, `kind`, `email`,
//! `expires`, `attempts`). Every other column of the user and session entities is an
//! attribute column; attribute columns may be text, integers, floats,
//! booleans, JSON or binary. [`LuciaMigration`] creates the tables with foreign keys and
//! indexes ([`LuciaMigration::sessions_only`]: the session table alone, without a foreign
//! key); [`entity`] has these three entities ready-made.
//!
//! The entities below correct Lucia v2's TypeORM examples: there a key was `@OneToOne` with its
//! user, which makes `key.user_id` unique and allows only one key per user; here a key
//! belongs to a user many-to-one and a user has many keys and sessions. The session relation's
//! type (`Relation<user>`) did not compile there; here the relations are checked by the
//! compiler. Expiries are `i64` milliseconds (`BIGINT`), which TypeORM returned as strings.
//!
//! ```
//! use lucia_adapter_sea_orm::{SeaOrmAdapter, Tables};
//!
//! /// The user table: `id` plus attribute columns such as `username`.
//! pub mod user {
//!     use sea_orm::entity::prelude::*;
//!
//!     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
//!     #[sea_orm(table_name = "user")]
//!     pub struct Model {
//!         #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
//!         pub id: String,
//!         #[sea_orm(unique)]
//!         pub username: String,
//!     }
//!
//!     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//!     pub enum Relation {
//!         #[sea_orm(has_many = "super::key::Entity")]
//!         Key,
//!         #[sea_orm(has_many = "super::session::Entity")]
//!         Session,
//!     }
//!
//!     impl Related<super::key::Entity> for Entity {
//!         fn to() -> RelationDef {
//!             Relation::Key.def()
//!         }
//!     }
//!
//!     impl Related<super::session::Entity> for Entity {
//!         fn to() -> RelationDef {
//!             Relation::Session.def()
//!         }
//!     }
//!
//!     impl ActiveModelBehavior for ActiveModel {}
//! }
//!
//! /// The key table. Keys are many-to-one: a user can have many.
//! pub mod key {
//!     use sea_orm::entity::prelude::*;
//!
//!     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
//!     #[sea_orm(table_name = "key")]
//!     pub struct Model {
//!         #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
//!         pub id: String,
//!         #[sea_orm(column_type = "Text", indexed)]
//!         pub user_id: String,
//!         #[sea_orm(column_type = "Text", nullable)]
//!         pub hashed_password: Option<String>,
//!     }
//!
//!     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//!     pub enum Relation {
//!         #[sea_orm(belongs_to = "super::user::Entity", from = "Column::UserId", to = "super::user::Column::Id")]
//!         User,
//!     }
//!
//!     impl Related<super::user::Entity> for Entity {
//!         fn to() -> RelationDef {
//!             Relation::User.def()
//!         }
//!     }
//!
//!     impl ActiveModelBehavior for ActiveModel {}
//! }
//!
//! /// The session table: millisecond expiries plus attribute columns such as `ip`.
//! pub mod session {
//!     use sea_orm::entity::prelude::*;
//!
//!     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
//!     #[sea_orm(table_name = "session")]
//!     pub struct Model {
//!         #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
//!         pub id: String,
//!         #[sea_orm(column_type = "Text", indexed)]
//!         pub user_id: String,
//!         pub active_expires: i64,
//!         pub idle_expires: i64,
//!         pub ip: Option<String>,
//!     }
//!
//!     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//!     pub enum Relation {
//!         #[sea_orm(belongs_to = "super::user::Entity", from = "Column::UserId", to = "super::user::Column::Id")]
//!         User,
//!     }
//!
//!     impl Related<super::user::Entity> for Entity {
//!         fn to() -> RelationDef {
//!             Relation::User.def()
//!         }
//!     }
//!
//!     impl ActiveModelBehavior for ActiveModel {}
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! # let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
//! let adapter = SeaOrmAdapter::new(db, Tables { user: user::Entity, key: key::Entity, session: session::Entity });
//! assert!(adapter.is_ok());
//! # }
//! ```
//!
//! ## Errors
//!
//! Database errors are classified by SQL error code (SQLSTATE on PostgreSQL, error numbers on
//! MySQL/MariaDB, extended result codes on SQLite, through SeaORM's [`DbErr::sql_err`]), never
//! by English message text, and by which statement failed:
//!
//! | condition | error |
//! |---|---|
//! | key primary key taken | [`AdapterError::DuplicateKeyId`](lucia::AdapterError::DuplicateKeyId) |
//! | user primary key taken (Lucia v2 said "duplicate key") | [`AdapterError::DuplicateUserId`](lucia::AdapterError::DuplicateUserId) |
//! | session primary key taken | [`AdapterError::DuplicateSessionId`](lucia::AdapterError::DuplicateSessionId) |
//! | unique attribute column taken (`username`), on insert or update | [`AdapterError::DuplicateAttribute`](lucia::AdapterError::DuplicateAttribute), naming the column when the entity declares it `unique` (found by looking the value up, not by reading the message) |
//! | foreign key to an unknown user (a key, session or token) | [`AdapterError::InvalidUserId`](lucia::AdapterError::InvalidUserId) |
//! | a token row whose `kind` this version does not know | [`AdapterError::InvalidAttributes`](lucia::AdapterError::InvalidAttributes) |
//! | unknown column, wrong value type, `NULL` in a `NOT NULL` column | [`AdapterError::InvalidAttributes`](lucia::AdapterError::InvalidAttributes), before any write |
//! | no value for a `NOT NULL` column the database has no default for | [`AdapterError::InvalidAttributes`](lucia::AdapterError::InvalidAttributes) (the insert fails; nothing is written) |
//! | the database cannot be reached: connection refused, lost or killed, no free connection in the pool in time, server shutting down | [`AdapterError::Unavailable`](lucia::AdapterError::Unavailable), so an outage is not mistaken for a failed statement (or a sign-out) |
//!
//! No error carries the database's message text. A user and its first key are inserted in one
//! transaction; so are a user's deletion with its sessions, keys and tokens, and a password
//! change with the end of the user's sessions. `get_session_and_user` is one query (a join). With SQLite,
//! keep sqlx's default `foreign_keys = ON`.
//!
//! ## Outages and dead connections
//!
//! Give [`lucia::LuciaBuilder::store_timeout`] the longest a request may wait for the
//! database (5 s by default): past it a call is
//! [`Error::Unavailable`](lucia::Error::Unavailable), even on a stalled connection that never
//! answers. Set the pool's `acquire_timeout` (and `connect_timeout`) no longer than that, so
//! the pool gives up no later than the deadline does; SeaORM's default is 30 s.
//!
//! A connection can die while it sits in the pool (a database restart, a failover, a proxy or
//! NAT timeout). sqlx's `test_before_acquire` (on in SeaORM's [`ConnectOptions`] by default)
//! pings each connection before handing it out and replaces a dead one, at the cost of a round
//! trip per statement. With it off, the adapter still makes a cut cost no failed request for
//! reads and transactions: a read, or a transaction's `BEGIN`, that fails on a dead connection
//! (an I/O error, or a SQLSTATE of class `08` or `57P01`-`57P03`) is run again on another
//! connection, at most once per connection the pool holds plus once (sqlx drops the dead one as
//! it is released); all within the deadline. A single-statement write (a new session, a
//! session's renewal or deletion) is never run again, as whether it was done is unknown: with
//! `test_before_acquire` off, such a write on a dead connection is `Unavailable`. A write cut
//! off mid-transaction is rolled back by the server, so nothing is half-written; a cut
//! `COMMIT` is `Unavailable` though it may have been done. `tests/faults.rs` runs all of this
//! through a TCP proxy that stalls, cuts and refuses connections.
//!
//! [`ConnectOptions`]: sea_orm::ConnectOptions
//!
//! ## Sweeping dead sessions
//!
//! [`delete_dead_sessions`](lucia::SessionAdapter::delete_dead_sessions) deletes in batches of
//! 1000 rows through the index on `idle_expires`, each batch its own short statement, until a
//! batch comes up short; so a sweep of a big table never holds locks on much of it at once,
//! and sign-ins and sign-outs carry on meanwhile. It returns the total.
//!
//! ## Single-use tokens
//!
//! Email verification codes and password-reset links ([`lucia::TokenAdapter`]) live in a
//! token table, which an adapter has only when built with
//! [`with_tokens`](SeaOrmAdapter::with_tokens): the token methods exist only on such an
//! adapter, so the compiler, not the first request, says when the table is missing.
//! [`LuciaTokenMigration`] creates the table (`id`, `user_id` with its foreign key, `kind`,
//! `email`, `expires`, `attempts`, a unique index on `(user_id, kind)` and an index on
//! `expires`), as a migration of its own: a database migrated before tokens existed adds it
//! after [`LuciaMigration`], whose name is unchanged. [`entity::token`] is the matching entity.
//!
//! `set_token` is one upsert on `(user_id, kind)`; `count_token_attempt` one atomic increment;
//! `consume_token` and `revoke_user_tokens` each one transaction (the tokens' deletion, then the
//! user's update, rolled back together if the update fails); deleting a user deletes its tokens
//! in the same transaction; `delete_expired_tokens` sweeps in batches of 1000, like dead
//! sessions.
//!
//! ```
//! use lucia::{CreateUser, Lucia};
//! use lucia_adapter_sea_orm::{LuciaMigration, LuciaTokenMigration, SeaOrmAdapter, Tables, entity};
//! use sea_orm::{ConnectOptions, Database};
//! use sea_orm_migration::prelude::*;
//!
//! /// The user table with the attributes the email flows use.
//! pub mod user {
//!     use sea_orm::entity::prelude::*;
//!
//!     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
//!     #[sea_orm(table_name = "user")]
//!     pub struct Model {
//!         #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
//!         pub id: String,
//!         #[sea_orm(unique)]
//!         pub email: String,
//!         pub email_verified: bool,
//!     }
//!
//!     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//!     pub enum Relation {}
//!
//!     impl ActiveModelBehavior for ActiveModel {}
//! }
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct UserAttributes {
//!     email: String,
//!     email_verified: bool,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let db = Database::connect(ConnectOptions::new("sqlite::memory:").max_connections(1).to_owned()).await?;
//! let manager = SchemaManager::new(&db);
//! LuciaMigration::new()
//!     .user_column(ColumnDef::new("email").string_len(255).not_null().unique_key().to_owned())
//!     .user_column(ColumnDef::new("email_verified").boolean().not_null().default(false).to_owned())
//!     .up(&manager)
//!     .await?;
//! LuciaTokenMigration::new().up(&manager).await?;
//!
//! let tables = Tables { user: user::Entity, key: entity::key::Entity, session: entity::session::Entity };
//! let adapter = SeaOrmAdapter::new(db, tables)?.with_tokens(entity::token::Entity)?;
//! let auth = Lucia::builder(adapter).user_attributes::<UserAttributes>().build();
//!
//! let attributes = UserAttributes { email: "ada@example.com".into(), email_verified: false };
//! let user = auth.create_user(CreateUser::new(attributes)).await?;
//! let code = auth.issue_email_verification(&user.user_id).await?;
//! // mail `code.code()` to `code.email`; when the user types it in:
//! auth.verify_email(&user.user_id, code.code()).await?;
//! assert!(auth.get_user(&user.user_id).await?.attributes.email_verified);
//! # Ok(())
//! # }
//! ```
//!
//! In a migrator, list both: `vec![Box::new(LuciaMigration::new()), Box::new(LuciaTokenMigration::new())]`
//! ([`LuciaMigration::token_migration`] makes the second refer to a renamed user table).
//!
//! ## Second factors
//!
//! TOTP secrets and recovery codes ([`lucia::SecondFactorAdapter`]) live in the tables `totp`
//! and `recovery_code` of [`LuciaSecondFactorMigration`] (a third migration, after the token
//! migration: pending two-step sign-ins are tokens), whose foreign keys are `ON DELETE CASCADE`
//! so that deleting a user, by lucia-rs or by a Lucia v2 application sharing the database,
//! takes them along. [`SeaOrmAdapter::with_second_factor`] adds them to an adapter with tokens
//! ([`entity::totp`], [`entity::recovery_code`]). A code's step is used by one conditional
//! `UPDATE ... WHERE last_step < step`, a recovery code by one `DELETE`, each decided by its
//! affected-row count; a new set of codes replaces the old in one transaction that first locks
//! the user row (PostgreSQL, MySQL), so concurrent regenerations leave one set.
//!
//! ```
//! use lucia::{CreateUser, Lucia, NewKey, SecondFactorSettings, TotpEncryptionKey};
//! use lucia_adapter_sea_orm::{LuciaMigration, LuciaSecondFactorMigration, LuciaTokenMigration, SeaOrmAdapter, Tables, entity};
//! use sea_orm::{ConnectOptions, Database};
//! use sea_orm_migration::{MigrationTrait, SchemaManager};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let db = Database::connect(ConnectOptions::new("sqlite::memory:").max_connections(1).to_owned()).await?;
//! let manager = SchemaManager::new(&db);
//! LuciaMigration::new().up(&manager).await?;
//! LuciaTokenMigration::new().up(&manager).await?;
//! LuciaSecondFactorMigration::new().up(&manager).await?;
//!
//! let tables = Tables { user: entity::user::Entity, key: entity::key::Entity, session: entity::session::Entity };
//! let adapter = SeaOrmAdapter::new(db, tables)?
//!     .with_tokens(entity::token::Entity)?
//!     .with_second_factor(entity::totp::Entity, entity::recovery_code::Entity)?;
//! let key = TotpEncryptionKey::from_bytes([7; 32]); // the application's secret, not this
//! let auth = Lucia::builder(adapter).second_factor(SecondFactorSettings::new("Example", key)).build();
//! let key = NewKey::password("email", "ada@example.com", "hunter2 hunter2");
//! let user = auth.create_user(CreateUser::new(Default::default()).with_key(key)).await?;
//! let enrolment = auth.enrol_totp(&user.user_id, "ada@example.com").await?;
//! auth.confirm_totp(&user.user_id, &enrolment.authenticator_for_tests().code_now()).await?;
//! auth.delete_user(&user.user_id).await?; // the second factor goes with the user
//! # Ok(())
//! # }
//! ```
//!
//! ## Session tokens
//!
//! By default the session table's `id` holds the SHA-256 of each session token (64 hex
//! characters, which fit Lucia v2's `id` column); with
//! [`LuciaBuilder::lucia_v2_compat`](lucia::LuciaBuilder::lucia_v2_compat) it holds the token,
//! as Lucia v2 does. [`SeaOrmAdapter::hash_clear_session_ids`] converts an existing table from
//! the second to the first, keeping everyone signed in.
//!
//! [`DatabaseConnection`]: sea_orm::DatabaseConnection
//! [`EntityTrait`]: sea_orm::EntityTrait
//! [`DbErr::sql_err`]: sea_orm::DbErr::sql_err

#![deny(missing_docs)]

mod adapter;
mod codec;
pub mod entity;
mod migration;
mod schema;

// The sweep tests need private access (how many statements a sweep ran) and share the
// integration tests' fixtures, which name this crate.
#[cfg(test)]
extern crate self as lucia_adapter_sea_orm;
#[cfg(test)]
mod sweep_tests;

pub use adapter::{
    NoSessionTable, SeaOrmAdapter, SeaOrmAdapterWithSecondFactor, SeaOrmAdapterWithTokens, SeaOrmSessionAdapter,
    SeaOrmUserAdapter, SeaOrmUserAdapterWithSecondFactor, SeaOrmUserAdapterWithTokens, SessionTableOption,
    SessionsOnly, Tables, UsersOnly, WithSecondFactor, WithSessions, WithTokens,
};
pub use migration::{LuciaMigration, LuciaSecondFactorMigration, LuciaTokenMigration};
pub use schema::SchemaError;
