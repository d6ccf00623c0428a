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
//! With sessions in another store, build a users-only adapter and join it with a session
//! adapter:
//!
//! ```
//! # use lucia_adapter_sea_orm::{NoSessionTable, SeaOrmAdapter, Tables, entity};
//! # fn demo<S: lucia::SessionAdapter>(db: sea_orm::DatabaseConnection, sessions: S) -> Result<(), lucia_adapter_sea_orm::SchemaError> {
//! let users = SeaOrmAdapter::new(db, Tables { user: entity::user::Entity, key: entity::key::Entity, session: NoSessionTable })?;
//! let auth = lucia::Lucia::builder(lucia::SplitAdapter::new(users, sessions)).build();
//! # Ok(())
//! # }
//! ```
//!
//! ## Database entities
//!
//! You can choose any table names: the adapter takes them from the entities. **The `id`
//! columns are text, not UUIDs or integers.** Columns are found by name: `id`, `user_id`,
//! `hashed_password`, `active_expires`, `idle_expires`. Every other column of the user and
//! session entities is an attribute column; attribute columns may be text, integers, floats,
//! booleans, JSON or binary. [`LuciaMigration`] creates the tables with foreign keys and
//! indexes; [`entity`] has these three entities ready-made.
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
//! | foreign key to an unknown user | [`AdapterError::InvalidUserId`](lucia::AdapterError::InvalidUserId) |
//! | unknown column, wrong value type, `NULL` in a `NOT NULL` column | [`AdapterError::InvalidAttributes`](lucia::AdapterError::InvalidAttributes), before any write |
//! | no value for a `NOT NULL` column the database has no default for | [`AdapterError::InvalidAttributes`](lucia::AdapterError::InvalidAttributes) (the insert fails; nothing is written) |
//!
//! No error carries the database's message text. A user and its first key are inserted in one
//! transaction; so are a user's deletion with its sessions and keys, and a password change with
//! the end of the user's sessions. `get_session_and_user` is one query (a join). With SQLite,
//! keep sqlx's default `foreign_keys = ON`.
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

pub use adapter::{NoSessionTable, SeaOrmAdapter, SessionTableOption, Tables, WithSessions};
pub use migration::LuciaMigration;
pub use schema::SchemaError;
