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
//! | either of the last two, then `.with_second_factor(totp, recovery_code)` | [`SeaOrmAdapterWithSecondFactor`], [`SeaOrmUserAdapterWithSecondFactor`] (`SeaOrmAdapter<`[`WithSecondFactor`]`<WithTokens<…>>>`) | as before, and [`SecondFactorAdapter`](lucia::SecondFactorAdapter) |
//! | any shape with user and key tables (all but `sessions_only`), then `.with_passkeys(passkey, challenge)` | `SeaOrmAdapter<`[`WithPasskeys`]`<…>>` | as before, and [`PasskeyAdapter`](lucia::PasskeyAdapter) |
//! | `new(db, Tables { user, key, session })?.with_tokens(token)?.with_second_factor(totp, recovery_code)?.with_passkeys(passkey, challenge)` | [`SeaOrmAdapterWithSecondFactorAndPasskeys`] (`SeaOrmAdapter<WithPasskeys<WithSecondFactor<WithTokens<WithSessions>>>>`) | [`Adapter`](lucia::Adapter), [`TokenAdapter`](lucia::TokenAdapter), [`SecondFactorAdapter`](lucia::SecondFactorAdapter), [`PasskeyAdapter`](lucia::PasskeyAdapter) |
//! | the same with `session: NoSessionTable` | [`SeaOrmUserAdapterWithSecondFactorAndPasskeys`] (`SeaOrmAdapter<WithPasskeys<WithSecondFactor<WithTokens<UsersOnly>>>>`) | [`UserAdapter`](lucia::UserAdapter), [`TokenAdapter`](lucia::TokenAdapter), [`SecondFactorAdapter`](lucia::SecondFactorAdapter), [`PasskeyAdapter`](lucia::PasskeyAdapter): `SplitAdapter<SeaOrmUserAdapterWithSecondFactorAndPasskeys, RedisSessionAdapter>` |
//!
//! The tables are added in that order (tokens, then second factor, then passkeys), each at most
//! once. Every deletion of a user deletes its tokens, TOTP row and recovery codes;
//! [`delete_user_and_keys`](lucia::UserAdapter::delete_user_and_keys) and
//! [`delete_user_cascade`](lucia::Adapter::delete_user_cascade) its keys and passkeys (and
//! sessions) too, all in one transaction. [`check`](SeaOrmAdapter::check) compares every table
//! of the shape with the database.
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
//! feature such as `runtime-tokio-rustls`. SeaORM's column-type features, under the same
//! names, let attribute columns (and user ids) be of those types: `with-chrono` or
//! `with-time` (dates and times), `with-uuid` (uuids, and uuid user ids),
//! `with-rust_decimal` (decimals); see [Column types](#column-types).
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
//! You can choose any table names: the adapter takes them from the entities. Columns are found
//! by name: `id`, `user_id`, `hashed_password`, `active_expires`, `idle_expires` (and, in a
//! token table, `kind`, `email`, `expires`, `attempts`). User ids (the user table's `id`, the
//! others' `user_id`) are text or, with `with-uuid`, uuids; key and session ids are text;
//! expiries are `i64` milliseconds (`BIGINT`). Every other column of the user and session
//! entities is an attribute column, of any type in [Column types](#column-types).
//! [`LuciaMigration::from_entities`] creates the tables from the entities, with Lucia's
//! primary keys, foreign keys and indexes; [`LuciaMigration::new`] creates them from Lucia's
//! own column list plus [`ColumnDef`](sea_orm_migration::prelude::ColumnDef)s;
//! [`SeaOrmAdapter::check`] compares the entities with the live database at start-up.
//! [`entity`] has the three entities ready-made, with text ids.
//!
//! The adapter needs no relations: `Relation {}` is enough, and the migration makes the
//! foreign keys. The shortest entities, users keyed by a uuid with a `created_at`, and the
//! newcomer's whole path (the README's quick start does the same):
//!
//! ```
//! use lucia::{CreateUser, Lucia, NewKey};
//! use lucia_adapter_sea_orm::{LuciaMigration, SeaOrmAdapter, Tables};
//! use sea_orm::{ConnectOptions, Database};
//! use sea_orm_migration::{MigrationTrait, SchemaManager};
//!
//! /// The user table: `id` plus attribute columns. Each column is written here only.
//! pub mod user {
//!     use sea_orm::entity::prelude::*;
//!
//!     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
//!     #[sea_orm(table_name = "user")]
//!     pub struct Model {
//!         #[sea_orm(primary_key, auto_increment = false)]
//!         pub id: Uuid,
//!         #[sea_orm(unique)]
//!         pub username: String,
//!         pub created_at: DateTimeUtc,
//!     }
//!
//!     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//!     pub enum Relation {}
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
//!         #[sea_orm(primary_key, auto_increment = false)]
//!         pub id: String,
//!         pub user_id: Uuid,
//!         pub hashed_password: Option<String>,
//!     }
//!
//!     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//!     pub enum Relation {}
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
//!         #[sea_orm(primary_key, auto_increment = false)]
//!         pub id: String,
//!         pub user_id: Uuid,
//!         pub active_expires: i64,
//!         pub idle_expires: i64,
//!         pub ip: Option<String>,
//!     }
//!
//!     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//!     pub enum Relation {}
//!
//!     impl ActiveModelBehavior for ActiveModel {}
//! }
//!
//! /// The user's attributes, typed: the user table's columns but `id`.
//! #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
//! struct User {
//!     username: String,
//!     created_at: chrono::DateTime<chrono::Utc>,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let db = Database::connect(ConnectOptions::new("sqlite::memory:").max_connections(1).to_owned()).await?;
//! let tables = Tables { user: user::Entity, key: key::Entity, session: session::Entity };
//! // In a migrator: `vec![Box::new(LuciaMigration::from_entities(tables)?)]`.
//! LuciaMigration::from_entities(tables)?.up(&SchemaManager::new(&db)).await?;
//!
//! let adapter = SeaOrmAdapter::new(db, tables)?;
//! adapter.check().await?; // at start-up: the tables against the entities
//! let auth = Lucia::builder(adapter).user_attributes::<User>().build();
//!
//! let ada = User { username: "ada".into(), created_at: "2024-02-29T12:00:00.5Z".parse()? };
//! let key = NewKey::password("username", "ada", "hunter2 hunter2");
//! let user = auth.create_user(CreateUser::new(ada.clone()).with_key(key)).await?;
//! assert_eq!(user.user_id.len(), 36); // a uuid v7
//! assert_eq!(auth.get_user(&user.user_id).await?.attributes, ada);
//! # Ok(())
//! # }
//! ```
//!
//! The entities correct Lucia v2's TypeORM examples: there a key was `@OneToOne` with its
//! user, which makes `key.user_id` unique and allows only one key per user; here a key belongs
//! to a user many-to-one. Expiries are `i64` milliseconds (`BIGINT`), which TypeORM returned
//! as strings.
//!
//! ## Column types
//!
//! Attributes travel through Lucia as JSON maps, so each column type has a JSON form, the one
//! the usual serde of its Rust type reads and writes; the application's attributes struct
//! gives the Rust types back.
//!
//! | column (SeaORM `ColumnType`) | JSON form | Rust type in the attributes struct |
//! |---|---|---|
//! | `String`, `Char`, `Text` | string | `String` |
//! | integers, `Float`, `Double`, `Boolean` | number, bool | `i8` … `u64`, `f32`, `f64`, `bool` |
//! | `Json`, `JsonBinary` | any | `serde_json::Value` or a serde type |
//! | `Blob`, `Binary`, `VarBinary` | array of byte numbers | `Vec<u8>` |
//! | `Enum` (`DeriveActiveEnum`, `db_type = "Enum"`) | its string value | the enum, serde names = string values |
//! | enum with `db_type = "String(..)"` / `"Integer"` | the stored string / number | the enum (serde `into`/`try_from` the number for integers) |
//! | `Date` | `"2024-02-29"` | `chrono::NaiveDate` |
//! | `Time` | `"13:45:00.5"` | `chrono::NaiveTime` |
//! | `DateTime`, `Timestamp` | `"2024-02-29T13:45:00.123456"` | `chrono::NaiveDateTime` |
//! | `TimestampWithTimeZone` | RFC 3339, `"2024-02-29T12:45:00Z"` | `chrono::DateTime<Utc>` or `<FixedOffset>` |
//! | `Uuid` | hyphenated, `"67e55044-10b1-426f-9247-bb680e5fe0c8"` | `uuid::Uuid` |
//! | `Decimal`, `Money` | exact string, `"-12.50"` (a JSON number is read too) | `rust_decimal::Decimal` |
//!
//! The attributes type can be the entity's own `Model`, with `#[derive(Serialize,
//! Deserialize)]` and `#[serde(skip)]` on its `id` (the id is `User::user_id`; the `Model` read
//! back has the default id): then each column is written once, in the entity.
//!
//! Each type is also nullable (`Option<_>`, JSON `null`). With `with-time` instead of
//! `with-chrono` the JSON forms are the same; give the `time` types those formats:
//! `#[serde(with = "time::serde::rfc3339")]` for an `OffsetDateTime`, and
//! `time::serde::format_description!` with `"[year]-[month]-[day]"`,
//! `"[hour]:[minute]:[second][optional [.[subsecond]]]"` for the others.
//!
//! What each backend keeps: PostgreSQL `timestamptz` keeps the instant (read back in UTC, which
//! `chrono`'s `DateTime` compares equal) to the microsecond; MySQL/MariaDB `DATETIME`, `TIME`
//! and `TIMESTAMP` as SeaORM creates them keep whole seconds (declare
//! `column_type = "custom(\"DATETIME(6)\")"` … for more), and `TIMESTAMP` only 1970–2038;
//! SQLite keeps dates and times as text, exactly. Decimals are exact on PostgreSQL
//! (`numeric`) and MySQL/MariaDB (`DECIMAL`), up to the 28 digits `rust_decimal` holds;
//! SQLite reads them through `f64`, as SeaORM does (15 significant digits).
//!
//! ### uuid user ids
//!
//! A user entity whose `id` is a `Uuid` (native `uuid` on PostgreSQL, `BINARY(16)` on
//! MySQL/MariaDB and a 16-byte blob on SQLite, as SeaORM makes them) has users keyed by uuid:
//! the key, session and token tables' `user_id` must then be `Uuid` too (checked when the
//! adapter is built), [`Lucia::create_user`](lucia::Lucia::create_user) makes ids as uuid v7
//! (time-ordered, so inserts stay at the end of the primary key's index; through
//! [`UserAdapter::new_user_id`](lucia::UserAdapter::new_user_id)), and the API still takes and
//! gives user ids as strings, hyphenated. An id that is no uuid names no user
//! ([`Error::InvalidUserId`](lucia::Error::InvalidUserId)). Text ids, Lucia v2's, stay the
//! default and the choice for a database shared with a Lucia v2 application.
//! ([`LuciaTokenMigration`] makes a text `user_id`; with uuid users, create the token table
//! yourself, from its entity, with the unique index on `(user_id, kind)`.)
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
//! trip per statement. With it off, the adapter still makes a cut cost no failed request: a
//! statement that fails on a dead connection (an I/O error, or a SQLSTATE of class `08` or
//! `57P01`-`57P03`) is run again on another connection, at most once per connection the pool
//! holds plus once (sqlx drops the dead one as it is released), all within the deadline, if
//! running it twice does no harm: a read, a transaction's `BEGIN`, and the writes that set
//! columns to given values or delete rows (a session's renewal, a sign-out, new attributes, a
//! new password, a sweep). Whether a statement was done when its connection died under it is
//! unknown, so an insert (a new session, user or key) or a compare-and-set is not run again:
//! on a dead connection it is `Unavailable`. It comes first only when a request starts with
//! it, as reads and `BEGIN` use up the dead connections. A write cut off mid-transaction is
//! rolled back by the server, so nothing is half-written; a cut `COMMIT` is `Unavailable`
//! though it may have been done. `tests/faults.rs` runs all of this through a TCP proxy that
//! stalls, cuts and refuses connections.
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
//! ## Passkeys
//!
//! Passkeys and their ceremonies' challenges ([`lucia::PasskeyAdapter`], used by the
//! `lucia-passkey` crate) live in two tables an adapter has only when built with
//! [`with_passkeys`](SeaOrmAdapter::with_passkeys) (after [`with_tokens`](SeaOrmAdapter::with_tokens),
//! if used): [`LuciaPasskeyMigration`] creates `passkey` (with its foreign key to the user) and
//! `passkey_challenge`, after [`LuciaMigration`]; [`entity::passkey`] and
//! [`entity::passkey_challenge`] are the matching entities.
//!
//! A use of a passkey is one conditional `UPDATE` (`counter < new`, or both 0);
//! `delete_passkey` is one transaction that locks the user row (PostgreSQL, MySQL/MariaDB),
//! deletes the passkey, counts the user's keys and passkeys left, and rolls back if there are
//! none; taking a challenge is a `DELETE ... RETURNING` (a locked read and a delete on
//! MySQL/MariaDB); deleting a user deletes its passkeys in the same transaction.
//!
//! ```
//! use lucia_adapter_sea_orm::{LuciaMigration, LuciaPasskeyMigration, SeaOrmAdapter, Tables, entity};
//! use sea_orm::{ConnectOptions, Database};
//! use sea_orm_migration::{MigrationTrait, SchemaManager};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let db = Database::connect(ConnectOptions::new("sqlite::memory:").max_connections(1).to_owned()).await?;
//! let manager = SchemaManager::new(&db);
//! LuciaMigration::new().up(&manager).await?;
//! LuciaPasskeyMigration::new().up(&manager).await?;
//! let tables = Tables { user: entity::user::Entity, key: entity::key::Entity, session: entity::session::Entity };
//! let adapter = SeaOrmAdapter::new(db, tables)?.with_passkeys(entity::passkey::Entity, entity::passkey_challenge::Entity)?;
//! let auth = lucia::Lucia::builder(adapter).build();
//! assert!(lucia::PasskeyAdapter::get_user_passkeys(auth.adapter(), "nobody").await?.is_empty());
//! # Ok(())
//! # }
//! ```
//!
//! ## Second factors
//!
//! TOTP secrets and recovery codes ([`lucia::SecondFactorAdapter`]) live in the tables `totp`
//! and `recovery_code` of [`LuciaSecondFactorMigration`] (a third migration, after the token
//! migration: pending two-step sign-ins are tokens; for uuid user ids, take it from
//! [`LuciaMigration::second_factor_migration`]). The adapter deletes a user's rows with the
//! user; the foreign keys are also `ON DELETE CASCADE`, so that a Lucia v2 application sharing
//! the database, which knows nothing of them, can still delete users.
//! [`SeaOrmAdapter::with_second_factor`] adds them to an adapter with tokens
//! ([`entity::totp`], [`entity::recovery_code`]), before any passkey tables. A code's step is used by one conditional
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
mod check;
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
    NoSessionTable, SeaOrmAdapter, SeaOrmAdapterWithSecondFactor, SeaOrmAdapterWithSecondFactorAndPasskeys,
    SeaOrmAdapterWithTokens, SeaOrmSessionAdapter, SeaOrmUserAdapter, SeaOrmUserAdapterWithSecondFactor,
    SeaOrmUserAdapterWithSecondFactorAndPasskeys, SeaOrmUserAdapterWithTokens, SessionTableOption, SessionsOnly,
    Tables, UsersOnly, WithPasskeys, WithSecondFactor, WithSessions, WithTokens,
};
pub use check::CheckError;
pub use migration::{LuciaMigration, LuciaPasskeyMigration, LuciaSecondFactorMigration, LuciaTokenMigration};
pub use schema::SchemaError;
