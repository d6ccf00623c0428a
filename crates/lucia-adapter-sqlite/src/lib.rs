//! Lucia's adapter for SQLite over [`rusqlite`]: users, keys and sessions in Lucia v2's SQLite
//! tables, with the reads that run on every request done in place.
//!
//! ```
//! use lucia::{CreateUser, Lucia, NewKey};
//! use lucia_adapter_sqlite::SqliteAdapter;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let path = std::env::temp_dir().join(format!("lucia-sqlite-doc-{}.db", std::process::id()));
//! // Lucia v2's tables (`user`, `user_key`, `user_session`), created if missing.
//! let adapter = SqliteAdapter::builder().create_tables().open(&path)?;
//! let auth = Lucia::builder(adapter).build();
//! let key = NewKey::password("email", "ada@example.com", "hunter2 hunter2");
//! let user = auth.create_user(CreateUser::new(Default::default()).with_key(key)).await?;
//! let signed_in = auth.sign_in("email", "ada@example.com", Some("hunter2 hunter2"), Default::default()).await?;
//! let validated = auth.validate_session(signed_in.token.expose_secret()).await?;
//! assert_eq!(validated.user.user_id, user.user_id);
//! # drop(auth);
//! # for suffix in ["", "-wal", "-shm"] { let _ = std::fs::remove_file(format!("{}{suffix}", path.display())); }
//! # Ok(())
//! # }
//! ```
//!
//! # Single-use tokens
//!
//! Email verification codes and password-reset links ([`lucia::TokenAdapter`]) need a token
//! table, which the adapter uses only when asked to at open: [`Builder::tokens`] (table
//! `user_token`, see [`TOKEN_SCHEMA`]) or [`Builder::token_table`] checks it like the others
//! and gives a [`SqliteAdapter<WithTokens>`], the type that implements `TokenAdapter`. A plain
//! [`SqliteAdapter`] does not, so using tokens without the table is a compile error, and a
//! missing or mistyped token table an [`OpenError`], not a failure of a request. With the token
//! table, deleting a user deletes its tokens in the same transaction.
//!
//! ```
//! use lucia::{CreateUser, Lucia, NewKey};
//! use lucia_adapter_sqlite::{SqliteAdapter, WithTokens};
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct UserAttributes {
//!     email: String,
//!     email_verified: bool,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let path = std::env::temp_dir().join(format!("lucia-sqlite-tokens-doc-{}.db", std::process::id()));
//! // `create_tables` makes Lucia's columns only; the attribute columns that the email flows
//! // read and set are the application's.
//! rusqlite::Connection::open(&path)?.execute_batch(
//!     "CREATE TABLE IF NOT EXISTS user (
//!         id TEXT NOT NULL PRIMARY KEY, email TEXT NOT NULL UNIQUE, email_verified BOOLEAN NOT NULL
//!     )",
//! )?;
//! let adapter: SqliteAdapter<WithTokens> = SqliteAdapter::builder().create_tables().tokens().open(&path)?;
//! let auth = Lucia::builder(adapter).user_attributes::<UserAttributes>().build();
//! let email = "ada@example.com";
//! let key = NewKey::password("email", email, "hunter2 hunter2");
//! let attributes = UserAttributes { email: email.into(), email_verified: false };
//! let user = auth.create_user(CreateUser::new(attributes).with_key(key)).await?;
//! let code = auth.issue_email_verification(&user.user_id).await?;
//! auth.verify_email(&user.user_id, code.code()).await?;
//! assert!(auth.get_user(&user.user_id).await?.attributes.email_verified);
//! # drop(auth);
//! # for suffix in ["", "-wal", "-shm"] { let _ = std::fs::remove_file(format!("{}{suffix}", path.display())); }
//! # Ok(())
//! # }
//! ```
//!
//! # Second factors
//!
//! TOTP secrets and recovery codes ([`lucia::SecondFactorAdapter`]) live in two more tables,
//! `user_totp` and `user_recovery_code` ([`SECOND_FACTOR_SCHEMA`]), checked at open when asked
//! for with [`Builder::second_factor`] after [`Builder::tokens`] (pending sign-ins are tokens):
//! [`SqliteAdapter<WithSecondFactor>`] implements `SecondFactorAdapter`. Their foreign keys
//! cascade, and the adapter's user deletes remove the rows in the same transaction too. A
//! code's step and a recovery code are each used up by one statement whose changed-row count
//! decides, on the one writer connection.
//!
//! ```
//! use lucia::{CreateUser, Lucia, NewKey, SecondFactorSettings, TotpEncryptionKey};
//! use lucia_adapter_sqlite::{SqliteAdapter, WithSecondFactor};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let path = std::env::temp_dir().join(format!("lucia-sqlite-2fa-doc-{}.db", std::process::id()));
//! let adapter: SqliteAdapter<WithSecondFactor> =
//!     SqliteAdapter::builder().create_tables().tokens().second_factor().open(&path)?;
//! let key = TotpEncryptionKey::from_bytes([7; 32]); // the application's secret, not this
//! let auth = Lucia::builder(adapter).second_factor(SecondFactorSettings::new("Example", key)).build();
//! let user = auth.create_user(CreateUser::new(Default::default()).with_key(NewKey::password("email", "ada@example.com", "hunter2 hunter2"))).await?;
//! let enrolment = auth.enrol_totp(&user.user_id, "ada@example.com").await?;
//! let code = enrolment.authenticator_for_tests().code_now();
//! assert_eq!(auth.confirm_totp(&user.user_id, &code).await?.codes().len(), 10);
//! assert!(auth.has_second_factor(&user.user_id).await?);
//! # drop(auth);
//! # for suffix in ["", "-wal", "-shm"] { let _ = std::fs::remove_file(format!("{}{suffix}", path.display())); }
//! # Ok(())
//! # }
//! ```
//!
//! # Passkeys
//!
//! Passkeys and their ceremonies' challenges ([`lucia::PasskeyAdapter`], for the
//! `lucia-passkey` crate) live in `user_passkey` and `user_passkey_challenge`
//! ([`PASSKEY_SCHEMA`]), checked at open when asked for with [`Builder::passkeys`] after
//! [`Builder::second_factor`]: [`SqliteAdapter<WithPasskeys>`] implements `TokenAdapter`,
//! `SecondFactorAdapter` and `PasskeyAdapter`, the type for an application that uses them all.
//! [`Builder::create_tables`] adds the tables to a database file made before passkeys (`CREATE
//! TABLE IF NOT EXISTS`); without it, a missing table is an [`OpenError`]. Passkeys go with
//! their user (a cascading foreign key, and the adapter's user deletes in the same
//! transaction). A use is recorded by one `UPDATE` whose condition is that the counter goes up
//! (or stays 0), a challenge taken by one `DELETE ... RETURNING`, and a deletion counts the
//! user's keys and passkeys in the `BEGIN IMMEDIATE` transaction that deletes, so that two
//! deletions at once cannot remove the last way to sign in.
//!
//! ```
//! use lucia::{CreateUser, DatabasePasskey, Lucia, PasskeyAdapter, SignInMethodDeletion};
//! use lucia_adapter_sqlite::{SqliteAdapter, WithPasskeys};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let path = std::env::temp_dir().join(format!("lucia-sqlite-passkey-doc-{}.db", std::process::id()));
//! let adapter: SqliteAdapter<WithPasskeys> =
//!     SqliteAdapter::builder().create_tables().tokens().second_factor().passkeys().open(&path)?;
//! let auth = Lucia::builder(adapter).build();
//! let user = auth.create_user(CreateUser::new(Default::default())).await?;
//! // What lucia-passkey stores when a registration finishes.
//! let passkey = DatabasePasskey {
//!     id: "Y3JlZGVudGlhbA".into(),
//!     user_id: user.user_id.clone(),
//!     name: "Laptop".into(),
//!     credential: "{}".into(),
//!     counter: 0,
//!     backup_eligible: true,
//!     backup_state: true,
//!     created_at: 1_700_000_000_000,
//!     last_used_at: None,
//! };
//! auth.adapter().insert_passkey(passkey).await?;
//! // The user's only way to sign in: deleting it is refused.
//! let deleted = auth.adapter().delete_passkey(&user.user_id, "Y3JlZGVudGlhbA", &[]).await?;
//! assert_eq!(deleted, SignInMethodDeletion::LastSignInMethod);
//! # drop(auth);
//! # for suffix in ["", "-wal", "-shm"] { let _ = std::fs::remove_file(format!("{}{suffix}", path.display())); }
//! # Ok(())
//! # }
//! ```
//!
//! # Why it is built this way
//!
//! - **Reads in place.** `get_session_and_user` (every validated request), `get_session`,
//!   `get_user`, `get_key` and the other reads run on the calling task, on one of a small pool
//!   of reader connections. In WAL mode a reader never waits for the writer, and a primary-key
//!   lookup costs a few microseconds of CPU, less than handing it to another thread (which is
//!   what sqlx-sqlite, under SeaORM, does for every query). When every reader is taken, the read
//!   goes to [`tokio::task::spawn_blocking`] rather than block the async worker. Give at least
//!   as many readers as the runtime has worker threads ([`Builder::readers`]; the default is
//!   the number of CPUs plus two, at least four). The exceptions, where a WAL reader does wait
//!   (up to the busy timeout, on the calling worker): recovery of the WAL after a crash, and
//!   another process holding the database with `locking_mode = EXCLUSIVE`.
//! - **Writes on one writer.** Writes can wait for SQLite's write lock (another process) and
//!   for `fsync`, so they run on [`spawn_blocking`](tokio::task::spawn_blocking) with the one
//!   writer connection, which also serialises this process's writers. A write started runs to
//!   its commit or rollback even when the caller's future is dropped. Combined methods
//!   ([`lucia::Adapter::delete_user_cascade`], [`update_key_and_end_sessions`](lucia::Adapter::update_key_and_end_sessions),
//!   `set_user` with a key) are one `BEGIN IMMEDIATE` transaction; checks that follow a
//!   failed write (which unique column clashed) run inside it.
//! - **Checked once.** On open, the tables' columns are read with `pragma_table_info`: a
//!   missing Lucia column or one of the wrong type is an [`OpenError`] (for the token table
//!   also a missing unique index on `(user_id, kind)`), and an attribute that
//!   is not a column is [`lucia::AdapterError::InvalidAttributes`] before anything is written.
//!   Every fixed statement is built once with quoted identifiers and prepared once per
//!   connection (`prepare_cached`).
//! - **Typed values.** Attribute columns are read into JSON by their declared type: `INTEGER`
//!   and `REAL` as numbers, `TEXT` as strings, `BOOLEAN` (stored 0/1) as booleans, `JSON` as
//!   the value it holds, `BLOB` as an array of bytes, `NULL` as `null`. SQLite stores any value
//!   in any column, so a value that does not fit its column is refused on write, and a stored
//!   value of the wrong type is `InvalidAttributes` on read.
//! - **Connections.** WAL journal (required: [`OpenError::NotWal`] otherwise, for example
//!   for `:memory:`), `foreign_keys = ON`, a busy timeout ([`Builder::busy_timeout`], 5 s by
//!   default; a lock still held after it is [`lucia::AdapterError::Unavailable`]), and
//!   SQLite's default `synchronous = FULL`, so a committed sign-out survives a power cut.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod adapter;
mod codec;
mod schema;

use std::marker::PhantomData;
use std::path::Path;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

pub use schema::Tables;
use schema::{Kind, Table};

/// Lucia v2's SQLite schema under the default table names (`user`, `user_key`,
/// `user_session`), with indexes on `user_id` and `idle_expires`: what
/// [`Builder::create_tables`] runs. For other names, see [`Tables::schema`].
pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS \"user\" (
    id TEXT NOT NULL PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS \"user_key\" (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES \"user\"(id),
    hashed_password TEXT
);
CREATE INDEX IF NOT EXISTS \"user_key_user_id_idx\" ON \"user_key\"(user_id);
CREATE TABLE IF NOT EXISTS \"user_session\" (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES \"user\"(id),
    active_expires INTEGER NOT NULL,
    idle_expires INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS \"user_session_user_id_idx\" ON \"user_session\"(user_id);
CREATE INDEX IF NOT EXISTS \"user_session_idle_expires_idx\" ON \"user_session\"(idle_expires);
";

/// The default name of the token table of [`Builder::tokens`], in the style of Lucia v2's
/// `user_key` and `user_session`.
pub const DEFAULT_TOKEN_TABLE: &str = "user_token";

/// The token table under its default name (`user_token`, referring to `user`): what
/// [`Builder::create_tables`] adds with [`Builder::tokens`]. One token per user and kind (the
/// unique index, which is the target of the upsert that replaces a user's token and serves
/// lookups by user); `expires` is indexed for the sweep. For other names, see
/// [`Tables::token_schema`].
pub const TOKEN_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS \"user_token\" (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES \"user\"(id),
    kind TEXT NOT NULL,
    email TEXT NOT NULL,
    expires INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    UNIQUE (user_id, kind)
);
CREATE INDEX IF NOT EXISTS \"user_token_expires_idx\" ON \"user_token\"(expires);
";

/// The default names of the second-factor tables of [`Builder::second_factor`].
pub const DEFAULT_SECOND_FACTOR_TABLES: (&str, &str) = ("user_totp", "user_recovery_code");

/// The second-factor tables under their default names (`user_totp`, `user_recovery_code`,
/// referring to `user`): what [`Builder::create_tables`] adds with [`Builder::second_factor`].
/// One TOTP row per user (the primary key, the target of the upsert); recovery codes by their
/// SHA-256, indexed by user. Both go with their user (`ON DELETE CASCADE`), so that a Lucia v2
/// application sharing the database can still delete users. For other names, see
/// [`Tables::second_factor_schema`].
pub const SECOND_FACTOR_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS \"user_totp\" (
    user_id TEXT NOT NULL PRIMARY KEY REFERENCES \"user\"(id) ON DELETE CASCADE,
    encrypted_secret TEXT NOT NULL,
    confirmed BOOLEAN NOT NULL DEFAULT 0,
    last_step INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS \"user_recovery_code\" (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES \"user\"(id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS \"user_recovery_code_user_id_idx\" ON \"user_recovery_code\"(user_id);
";

/// The default names of the passkey tables of [`Builder::passkeys`]: passkeys, and their
/// ceremonies' challenges.
pub const DEFAULT_PASSKEY_TABLES: (&str, &str) = ("user_passkey", "user_passkey_challenge");

/// The passkey tables under their default names (`user_passkey`, `user_passkey_challenge`,
/// referring to `user`): what [`Builder::create_tables`] adds with [`Builder::passkeys`].
/// Passkeys by credential id, indexed by user, going with their user (`ON DELETE CASCADE`, as
/// the second-factor tables do); challenges by the hash of their ceremony's id, with a
/// nullable `user_id` without a foreign key (a sign-in with a passkey alone has no user yet),
/// and `expires` indexed for the sweep. For other names, see [`Tables::passkey_schema`].
pub const PASSKEY_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS \"user_passkey\" (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES \"user\"(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    credential TEXT NOT NULL,
    counter INTEGER NOT NULL,
    backup_eligible BOOLEAN NOT NULL,
    backup_state BOOLEAN NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX IF NOT EXISTS \"user_passkey_user_id_idx\" ON \"user_passkey\"(user_id);
CREATE TABLE IF NOT EXISTS \"user_passkey_challenge\" (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT,
    state TEXT NOT NULL,
    expires INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS \"user_passkey_challenge_expires_idx\" ON \"user_passkey_challenge\"(expires);
";

/// Why an adapter could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// SQLite failed: the file cannot be opened or is not a database, or a statement of the
    /// set-up failed.
    #[error("sqlite: {0}")]
    Sqlite(#[source] rusqlite::Error),
    /// The database is not in WAL mode and cannot be put in it (an in-memory database, or a
    /// file system without shared memory). The readers need WAL to never wait for the writer.
    #[error("the database cannot use WAL (journal mode is `{0}`); open a file on a local file system")]
    NotWal(String),
    /// A table name is empty or holds a NUL character.
    #[error("invalid table name {0:?}")]
    InvalidTableName(String),
    /// A table does not exist.
    #[error("no table `{0}` in the database")]
    MissingTable(String),
    /// A table has no column that Lucia needs.
    #[error("table `{table}` has no column `{column}`")]
    MissingColumn {
        /// The table.
        table: String,
        /// The missing column.
        column: String,
    },
    /// A column that Lucia needs has the wrong declared type or nullability.
    #[error("column `{column}` of table `{table}` is declared `{declared}`; Lucia needs {expected}")]
    ColumnType {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// Its declared type.
        declared: String,
        /// What Lucia needs.
        expected: &'static str,
    },
    /// A table has no unique index on columns that Lucia needs unique together (the token
    /// table's `(user_id, kind)`, the conflict target of its upsert).
    #[error("table `{table}` has no unique index on ({columns})")]
    MissingUniqueIndex {
        /// The table.
        table: String,
        /// The columns, comma-separated.
        columns: String,
    },
}

/// Marks a [`SqliteAdapter`] opened without a token table: it does not implement
/// [`lucia::TokenAdapter`]. The default.
///
/// ```compile_fail
/// fn needs_tokens(_: &impl lucia::TokenAdapter) {}
/// let adapter = lucia_adapter_sqlite::SqliteAdapter::open("app.db").unwrap();
/// needs_tokens(&adapter); // no token table was checked: no token methods
/// ```
#[derive(Debug, Clone, Copy)]
pub enum NoTokens {}

/// Marks a [`SqliteAdapter`] whose token table was checked at open ([`Builder::tokens`]): it
/// implements [`lucia::TokenAdapter`].
#[derive(Debug, Clone, Copy)]
pub enum WithTokens {}

/// Marks a [`SqliteAdapter`] whose token and second-factor tables were checked at open
/// ([`Builder::second_factor`]): it implements [`lucia::TokenAdapter`] and
/// [`lucia::SecondFactorAdapter`].
#[derive(Debug, Clone, Copy)]
pub enum WithSecondFactor {}

/// Marks a [`SqliteAdapter`] whose token, second-factor and passkey tables were checked at
/// open ([`Builder::passkeys`]): it implements [`lucia::TokenAdapter`],
/// [`lucia::SecondFactorAdapter`] and [`lucia::PasskeyAdapter`].
///
/// ```compile_fail
/// fn needs_passkeys(_: &impl lucia::PasskeyAdapter) {}
/// let builder = lucia_adapter_sqlite::SqliteAdapter::builder().tokens().second_factor();
/// needs_passkeys(&builder.open("app.db").unwrap()); // no passkey tables were checked
/// ```
#[derive(Debug, Clone, Copy)]
pub enum WithPasskeys {}

/// The markers of adapters with a token table: [`WithTokens`], [`WithSecondFactor`] and
/// [`WithPasskeys`].
pub trait HasTokens: sealed::Sealed {}
impl HasTokens for WithTokens {}
impl HasTokens for WithSecondFactor {}
impl HasTokens for WithPasskeys {}

/// The markers of adapters with second-factor tables: [`WithSecondFactor`] and
/// [`WithPasskeys`].
pub trait HasSecondFactor: HasTokens {}
impl HasSecondFactor for WithSecondFactor {}
impl HasSecondFactor for WithPasskeys {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::WithTokens {}
    impl Sealed for super::WithSecondFactor {}
    impl Sealed for super::WithPasskeys {}
}

/// Opens a [`SqliteAdapter`] or [`SqliteSessionAdapter`] with non-default settings.
/// `Builder<WithTokens>` ([`tokens`](Self::tokens)) opens a [`SqliteAdapter<WithTokens>`].
#[derive(Debug, Clone)]
pub struct Builder<T = NoTokens> {
    tables: Tables,
    readers: usize,
    busy_timeout: Duration,
    create_tables: bool,
    /// Set exactly when `T` is [`HasTokens`]: only [`Builder::token_table`] sets it.
    token_table: Option<String>,
    /// Set exactly when `T` is [`WithSecondFactor`] or [`WithPasskeys`]: the TOTP and
    /// recovery-code tables.
    second_factor_tables: Option<(String, String)>,
    /// Set exactly when `T` is [`WithPasskeys`]: the passkey and challenge tables.
    passkey_tables: Option<(String, String)>,
    mode: PhantomData<fn() -> T>,
}

impl Default for Builder {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            tables: Tables::default(),
            readers: (cpus + 2).max(4),
            busy_timeout: Duration::from_secs(5),
            create_tables: false,
            token_table: None,
            second_factor_tables: None,
            passkey_tables: None,
            mode: PhantomData,
        }
    }
}

impl<T> Builder<T> {
    /// Table names (default: `user`, `user_key`, `user_session`).
    #[must_use]
    pub fn tables(mut self, tables: Tables) -> Self {
        self.tables = tables;
        self
    }

    /// How many reader connections (at least 1). Reads run in place on a free one; when none
    /// is free they wait on a blocking thread.
    #[must_use]
    pub fn readers(mut self, readers: usize) -> Self {
        self.readers = readers.max(1);
        self
    }

    /// How long a statement waits for a lock held by another connection before it fails with
    /// [`lucia::AdapterError::Unavailable`] (default 5 s).
    #[must_use]
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Creates the tables that are missing with [`Tables::schema`] (no attribute columns),
    /// and with tokens the token table with [`Tables::token_schema`] (and so on for the
    /// second-factor and passkey tables), before reading them. Existing tables are left as they
    /// are, so this also adds the tables of a capability to a database made without it.
    #[must_use]
    pub fn create_tables(mut self) -> Self {
        self.create_tables = true;
        self
    }

    /// Single-use tokens in the table `user_token` ([`DEFAULT_TOKEN_TABLE`], see
    /// [`TOKEN_SCHEMA`]): [`open`](Builder::open) checks it and gives a
    /// [`SqliteAdapter<WithTokens>`], which implements [`lucia::TokenAdapter`].
    #[must_use]
    pub fn tokens(self) -> Builder<WithTokens> {
        self.token_table(DEFAULT_TOKEN_TABLE)
    }

    /// As [`tokens`](Self::tokens), with the token table under another name.
    #[must_use]
    pub fn token_table(self, table: impl Into<String>) -> Builder<WithTokens> {
        Builder {
            tables: self.tables,
            readers: self.readers,
            busy_timeout: self.busy_timeout,
            create_tables: self.create_tables,
            token_table: Some(table.into()),
            second_factor_tables: None,
            passkey_tables: None,
            mode: PhantomData,
        }
    }

    /// Opens (creating if needed) the database file at `path` and checks the user, key and
    /// session tables, and the token table if [`tokens`](Self::tokens) asked for it. Blocks on
    /// file I/O: call it at start-up, not on an async worker that serves requests.
    pub fn open(self, path: impl AsRef<Path>) -> Result<SqliteAdapter<T>, OpenError> {
        Ok(SqliteAdapter(self.open_store(path.as_ref(), true)?, PhantomData))
    }

    fn connect(&self, path: &Path) -> Result<Connection, OpenError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let connection = Connection::open_with_flags(path, flags).map_err(OpenError::Sqlite)?;
        connection.busy_timeout(self.busy_timeout).map_err(OpenError::Sqlite)?;
        connection.set_prepared_statement_cache_capacity(64);
        Ok(connection)
    }

    fn open_store(self, path: &Path, with_users: bool) -> Result<adapter::Store, OpenError> {
        let names = [&self.tables.user, &self.tables.key, &self.tables.session];
        let pairs = self.second_factor_tables.iter().chain(&self.passkey_tables).flat_map(|(a, b)| [a, b]);
        for name in names.into_iter().chain(self.token_table.as_ref()).chain(pairs) {
            if name.is_empty() || name.contains('\0') {
                return Err(OpenError::InvalidTableName(name.clone()));
            }
        }
        let writer = self.connect(path)?;
        let mode: String =
            writer.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)).map_err(OpenError::Sqlite)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(OpenError::NotWal(mode));
        }
        writer.pragma_update(None, "foreign_keys", true).map_err(OpenError::Sqlite)?;
        if self.create_tables {
            writer.execute_batch(&self.tables.schema()).map_err(OpenError::Sqlite)?;
            if let Some(token) = &self.token_table {
                writer.execute_batch(&self.tables.token_schema(token)).map_err(OpenError::Sqlite)?;
            }
            if let Some((totp, codes)) = &self.second_factor_tables {
                writer.execute_batch(&self.tables.second_factor_schema(totp, codes)).map_err(OpenError::Sqlite)?;
            }
            if let Some((passkey, challenge)) = &self.passkey_tables {
                writer.execute_batch(&self.tables.passkey_schema(passkey, challenge)).map_err(OpenError::Sqlite)?;
            }
        }
        let session = Table::read(&writer, &self.tables.session)?;
        session.require("id", Kind::Text, None)?;
        session.require("user_id", Kind::Text, None)?;
        session.require("active_expires", Kind::Integer, None)?;
        session.require("idle_expires", Kind::Integer, None)?;
        let users = if with_users {
            let user = Table::read(&writer, &self.tables.user)?;
            user.require("id", Kind::Text, None)?;
            let key = Table::read(&writer, &self.tables.key)?;
            key.require("id", Kind::Text, None)?;
            key.require("user_id", Kind::Text, None)?;
            key.require("hashed_password", Kind::Text, Some(true))?;
            Some(adapter::UserTables::new(user, key, &session))
        } else {
            None
        };
        // Only `open` (with users) gets here with a token table.
        let tokens = match &self.token_table {
            Some(name) if with_users => {
                let token = Table::read(&writer, name)?;
                for column in ["id", "user_id", "kind", "email"] {
                    token.require(column, Kind::Text, None)?;
                }
                token.require("expires", Kind::Integer, None)?;
                token.require("attempts", Kind::Integer, None)?;
                token.require_unique(&["user_id", "kind"])?;
                let tokens = adapter::TokenTable::new(token);
                // Preparing fails for what the checks above do not cover (a conflict target
                // SQLite does not accept), here rather than on a request.
                for sql in tokens.statements() {
                    writer.prepare_cached(sql).map_err(OpenError::Sqlite)?;
                }
                Some(tokens)
            }
            _ => None,
        };
        let second_factor = match &self.second_factor_tables {
            Some((totp, codes)) if with_users => {
                let totp = Table::read(&writer, totp)?;
                totp.require("user_id", Kind::Text, None)?;
                totp.require("encrypted_secret", Kind::Text, Some(false))?;
                totp.require("confirmed", Kind::Bool, Some(false))?;
                totp.require("last_step", Kind::Integer, Some(false))?;
                let codes = Table::read(&writer, codes)?;
                codes.require("id", Kind::Text, None)?;
                codes.require("user_id", Kind::Text, None)?;
                let tables = adapter::SecondFactorTables::new(totp, codes);
                // The upsert's conflict target must be the TOTP table's primary key or a
                // unique index on `user_id`: preparing says so here rather than on a request.
                for sql in tables.statements() {
                    writer.prepare_cached(sql).map_err(OpenError::Sqlite)?;
                }
                Some(tables)
            }
            _ => None,
        };
        let passkeys = match &self.passkey_tables {
            Some((passkey, challenge)) if with_users => {
                let passkey = Table::read(&writer, passkey)?;
                passkey.require("id", Kind::Text, None)?;
                passkey.require("user_id", Kind::Text, None)?;
                passkey.require("name", Kind::Text, Some(false))?;
                passkey.require("credential", Kind::Text, Some(false))?;
                for column in ["counter", "created_at"] {
                    passkey.require(column, Kind::Integer, Some(false))?;
                }
                passkey.require("backup_eligible", Kind::Bool, Some(false))?;
                passkey.require("backup_state", Kind::Bool, Some(false))?;
                passkey.require("last_used_at", Kind::Integer, Some(true))?;
                let challenge = Table::read(&writer, challenge)?;
                challenge.require("id", Kind::Text, None)?;
                challenge.require("user_id", Kind::Text, Some(true))?;
                challenge.require("state", Kind::Text, Some(false))?;
                challenge.require("expires", Kind::Integer, Some(false))?;
                // `delete_passkey` counts the user's keys too.
                let tables = adapter::PasskeyTables::new(passkey, challenge);
                for sql in tables.statements() {
                    writer.prepare_cached(sql).map_err(OpenError::Sqlite)?;
                }
                Some(tables)
            }
            _ => None,
        };
        let readers = (0..self.readers)
            .map(|_| {
                let reader = self.connect(path)?;
                reader.pragma_update(None, "query_only", true).map_err(OpenError::Sqlite)?;
                Ok(Mutex::new(reader))
            })
            .collect::<Result<Vec<_>, OpenError>>()?;
        Ok(adapter::Store {
            inner: Arc::new(adapter::Inner {
                sessions: adapter::SessionTable::new(session),
                users,
                tokens,
                second_factor,
                passkeys,
                readers: readers.into_boxed_slice(),
                next_reader: AtomicUsize::new(0),
                writer: Mutex::new(writer),
            }),
        })
    }
}

impl Builder<WithTokens> {
    /// Second factors (TOTP secrets and recovery codes) in the tables `user_totp` and
    /// `user_recovery_code` ([`DEFAULT_SECOND_FACTOR_TABLES`], see [`SECOND_FACTOR_SCHEMA`]),
    /// beside the token table that holds pending sign-ins: [`open`](Builder::open) checks them
    /// and gives a [`SqliteAdapter<WithSecondFactor>`], which implements
    /// [`lucia::SecondFactorAdapter`].
    #[must_use]
    pub fn second_factor(self) -> Builder<WithSecondFactor> {
        let (totp, codes) = DEFAULT_SECOND_FACTOR_TABLES;
        self.second_factor_tables(totp, codes)
    }

    /// As [`second_factor`](Self::second_factor), with the tables under other names.
    #[must_use]
    pub fn second_factor_tables(
        self,
        totp: impl Into<String>,
        recovery_codes: impl Into<String>,
    ) -> Builder<WithSecondFactor> {
        Builder {
            tables: self.tables,
            readers: self.readers,
            busy_timeout: self.busy_timeout,
            create_tables: self.create_tables,
            token_table: self.token_table,
            second_factor_tables: Some((totp.into(), recovery_codes.into())),
            passkey_tables: None,
            mode: PhantomData,
        }
    }
}

impl Builder<WithSecondFactor> {
    /// Passkeys and their ceremonies' challenges in the tables `user_passkey` and
    /// `user_passkey_challenge` ([`DEFAULT_PASSKEY_TABLES`], see [`PASSKEY_SCHEMA`]), beside
    /// the token and second-factor tables: [`open`](Builder::open) checks them and gives a
    /// [`SqliteAdapter<WithPasskeys>`], which implements [`lucia::TokenAdapter`],
    /// [`lucia::SecondFactorAdapter`] and [`lucia::PasskeyAdapter`].
    #[must_use]
    pub fn passkeys(self) -> Builder<WithPasskeys> {
        let (passkey, challenge) = DEFAULT_PASSKEY_TABLES;
        self.passkey_tables(passkey, challenge)
    }

    /// As [`passkeys`](Self::passkeys), with the tables under other names.
    #[must_use]
    pub fn passkey_tables(self, passkey: impl Into<String>, challenge: impl Into<String>) -> Builder<WithPasskeys> {
        Builder {
            tables: self.tables,
            readers: self.readers,
            busy_timeout: self.busy_timeout,
            create_tables: self.create_tables,
            token_table: self.token_table,
            second_factor_tables: self.second_factor_tables,
            passkey_tables: Some((passkey.into(), challenge.into())),
            mode: PhantomData,
        }
    }
}

// A sessions-only store has no user table for tokens to refer to.
impl Builder {
    /// Opens the database file at `path` for sessions only: the session table is checked
    /// (it needs no foreign key), user and key tables are not read. For a
    /// [`lucia::SplitAdapter`] with users kept elsewhere. [`create_tables`](Self::create_tables)
    /// creates the three tables all the same.
    pub fn open_sessions_only(self, path: impl AsRef<Path>) -> Result<SqliteSessionAdapter, OpenError> {
        Ok(SqliteSessionAdapter(self.open_store(path.as_ref(), false)?))
    }
}

/// Lucia's adapter over a SQLite file: users, keys and sessions, implementing
/// [`lucia::UserAdapter`], [`lucia::SessionAdapter`] and [`lucia::Adapter`]; opened with
/// [`Builder::tokens`], `SqliteAdapter<WithTokens>` also implements [`lucia::TokenAdapter`];
/// with [`Builder::second_factor`] after it, `SqliteAdapter<WithSecondFactor>` also
/// [`lucia::SecondFactorAdapter`]; with [`Builder::passkeys`] after that,
/// `SqliteAdapter<WithPasskeys>` all of these and [`lucia::PasskeyAdapter`].
/// Clones share the connections. See the [crate documentation](crate) for how it reads and
/// writes.
pub struct SqliteAdapter<T = NoTokens>(adapter::Store, PhantomData<fn() -> T>);

// By hand: a derive would require `T: Clone` of the marker.
impl<T> Clone for SqliteAdapter<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone(), PhantomData)
    }
}

/// Sessions only, in a SQLite file: [`lucia::SessionAdapter`], for a
/// [`lucia::SplitAdapter`] whose users live elsewhere. Opened by
/// [`Builder::open_sessions_only`].
#[derive(Clone)]
pub struct SqliteSessionAdapter(adapter::Store);

impl SqliteAdapter {
    /// Opens the database file at `path` with the default settings: tables `user`, `user_key`,
    /// `user_session`, which must exist (see [`Builder::create_tables`] and [`SCHEMA`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, OpenError> {
        Self::builder().open(path)
    }

    /// Settings for [`Builder::open`].
    pub fn builder() -> Builder {
        Builder::default()
    }
}

impl<T> SqliteAdapter<T> {
    /// Replaces every clear session id (Lucia v2, [`SessionTokens::Plain`](lucia::SessionTokens::Plain))
    /// with its SHA-256 ([`SessionTokens::Hashed`](lucia::SessionTokens::Hashed), the default),
    /// in one transaction, and returns how many it replaced. Ids that already are 64 lowercase
    /// hex characters are left alone, so running it again changes nothing.
    pub async fn hash_clear_session_ids(&self) -> Result<u64, lucia::AdapterError> {
        self.0.hash_clear_session_ids().await
    }
}

impl SqliteSessionAdapter {
    /// As [`SqliteAdapter::hash_clear_session_ids`].
    pub async fn hash_clear_session_ids(&self) -> Result<u64, lucia::AdapterError> {
        self.0.hash_clear_session_ids().await
    }
}

impl<T> std::fmt::Debug for SqliteAdapter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.describe(f.debug_struct("SqliteAdapter")).finish()
    }
}

impl std::fmt::Debug for SqliteSessionAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.describe(f.debug_struct("SqliteSessionAdapter")).finish()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn schema_const_is_the_default_tables_schema() {
        assert_eq!(super::SCHEMA.replace(['\n', ' '], ""), super::Tables::default().schema().replace(['\n', ' '], ""));
    }

    #[test]
    fn passkey_schema_const_is_the_default_passkey_schema() {
        let (passkey, challenge) = super::DEFAULT_PASSKEY_TABLES;
        let schema = super::Tables::default().passkey_schema(passkey, challenge);
        assert_eq!(super::PASSKEY_SCHEMA.replace(['\n', ' '], ""), schema.replace(['\n', ' '], ""));
    }

    #[test]
    fn token_schema_const_is_the_default_token_schema() {
        let schema = super::Tables::default().token_schema(super::DEFAULT_TOKEN_TABLE);
        assert_eq!(super::TOKEN_SCHEMA.replace(['\n', ' '], ""), schema.replace(['\n', ' '], ""));
    }
}
