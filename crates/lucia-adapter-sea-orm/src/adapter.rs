//! [`SeaOrmAdapter`]: Lucia's adapter traits over a SeaORM connection, in three shapes: users,
//! keys and sessions ([`WithSessions`]), users and keys only ([`UsersOnly`]), sessions only
//! ([`SessionsOnly`]); the first two optionally with a token table ([`WithTokens`]) and passkey
//! tables ([`WithPasskeys`], in the `passkey` module).

use std::future::Future;
use std::sync::Arc;

use lucia::{
    Adapter, AdapterError, AttributeMap, DatabaseKey, DatabaseSession, DatabaseToken, DatabaseUser, SessionAdapter,
    SessionUpdate, SignInMethodDeletion, TokenAdapter, TokenKind, UserAdapter, counts_as_sign_in_method,
};
use sea_orm::sea_query::{
    Alias, DeleteStatement, Expr, ExprTrait, InsertStatement, JoinType, OnConflict, Order, Query, SelectStatement,
    UpdateStatement, Value,
};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, EntityTrait, QueryResult, RuntimeErr,
    SqlErr, Statement, TransactionTrait,
};

use crate::check::{self, CheckError};
use crate::codec::{
    decode_row, encode_expr, id_insert, id_value, read_count, read_id, read_millis, read_optional_text, read_text,
    select_expr,
};
use crate::schema::{self, SchemaError, Table};
use shape::{HasAllTables, HasSessionTable, HasTokenTable, HasUserTables, PasskeyBase, TokenBase};

mod passkey;
mod second_factor;
pub use second_factor::{
    SeaOrmAdapterWithSecondFactor, SeaOrmAdapterWithSecondFactorAndPasskeys, SeaOrmUserAdapterWithSecondFactor,
    SeaOrmUserAdapterWithSecondFactorAndPasskeys, WithSecondFactor,
};

/// The entities an adapter stores users, keys and sessions in: the counterpart of the
/// `tables` argument of Lucia's `typeorm(dataSource, { user, key, session })`.
///
/// `session` is a session entity, or [`NoSessionTable`] when sessions live in another
/// adapter (Lucia's `session: null`). For sessions alone, see [`SeaOrmAdapter::sessions_only`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Tables<U, K, S> {
    /// The user entity: an `id` primary key (text, or a uuid) plus any attribute columns.
    pub user: U,
    /// The key entity: `id`, `user_id`, nullable `hashed_password`.
    pub key: K,
    /// The session entity (`id`, `user_id`, `active_expires`, `idle_expires`, plus any
    /// attribute columns), or [`NoSessionTable`].
    pub session: S,
}

/// No session table: the adapter stores users and keys only ([`SeaOrmUserAdapter`]) and is
/// combined with a session adapter through [`lucia::SplitAdapter`]. (Lucia v2 accepted
/// `session: null` and then threw "Session table not defined" at run time; here a users-only
/// adapter has no session methods.)
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSessionTable;

/// The shape of a [`SeaOrmAdapter`] over user and key tables only: it implements
/// [`UserAdapter`] and leaves sessions to a session adapter ([`SeaOrmUserAdapter`]).
#[derive(Debug, Clone)]
pub struct UsersOnly {
    user: Table,
    key: Table,
}

/// The shape of a [`SeaOrmAdapter`] over a session table only: it implements
/// [`SessionAdapter`] and leaves users and keys to a user adapter ([`SeaOrmSessionAdapter`]).
#[derive(Debug, Clone)]
pub struct SessionsOnly {
    session: Table,
}

/// The shape of a [`SeaOrmAdapter`] over user, key and session tables (the default): it
/// implements [`UserAdapter`], [`SessionAdapter`] and [`Adapter`].
#[derive(Debug, Clone)]
pub struct WithSessions {
    users: UsersOnly,
    sessions: SessionsOnly,
    /// `get_session_and_user`'s SQL, rendered once for the connection's backend: it runs on
    /// every validated request, and rendering it each time cost as much as the driver did.
    session_and_user_sql: std::sync::OnceLock<String>,
}

/// The shape of a [`SeaOrmAdapter`] with a token table for single-use tokens (email
/// verification codes, password-reset links) beside the tables of `Shape`, [`WithSessions`] or
/// [`UsersOnly`]: it implements what `Shape` does and [`TokenAdapter`]. Built by
/// [`SeaOrmAdapter::with_tokens`]; named [`SeaOrmAdapterWithTokens`] and
/// [`SeaOrmUserAdapterWithTokens`].
#[derive(Debug, Clone)]
pub struct WithTokens<Shape> {
    tables: Shape,
    token: shape::TokenTable,
}

/// The shape of a [`SeaOrmAdapter`] with passkey tables (passkeys and their ceremonies'
/// challenges) beside the tables of `Shape` ([`WithSessions`], [`UsersOnly`], either
/// [`WithTokens`], or either of those with a [`WithSecondFactor`]): it implements what `Shape`
/// does and [`PasskeyAdapter`](lucia::PasskeyAdapter). Built by [`SeaOrmAdapter::with_passkeys`].
#[derive(Debug, Clone)]
pub struct WithPasskeys<Shape> {
    tables: Shape,
    passkeys: shape::PasskeyTables,
}

/// Users, keys, sessions and tokens: `SeaOrmAdapter<WithTokens<WithSessions>>`, which
/// implements [`Adapter`] and [`TokenAdapter`].
pub type SeaOrmAdapterWithTokens = SeaOrmAdapter<WithTokens<WithSessions>>;

/// The user, key and token half of a split deployment: `SeaOrmAdapter<WithTokens<UsersOnly>>`,
/// which implements [`UserAdapter`] and [`TokenAdapter`].
pub type SeaOrmUserAdapterWithTokens = SeaOrmAdapter<WithTokens<UsersOnly>>;

/// The user and key half of a split deployment:
/// `lucia::SplitAdapter<SeaOrmUserAdapter, SessionStore>`.
pub type SeaOrmUserAdapter = SeaOrmAdapter<UsersOnly>;

/// The session half of a split deployment: `lucia::SplitAdapter<UserStore, SeaOrmSessionAdapter>`.
pub type SeaOrmSessionAdapter = SeaOrmAdapter<SessionsOnly>;

/// Which tables a shape has. Public traits in a private module: the adapter's trait impls are
/// written once over them, and no one outside can add shapes.
mod shape {
    use super::{SessionsOnly, Table, UsersOnly, WithPasskeys, WithSecondFactor, WithSessions, WithTokens};

    /// A checked token table. (A public wrapper: the shape traits are reachable from outside,
    /// `Table` is not.)
    #[derive(Debug, Clone)]
    pub struct TokenTable(pub(super) Table);

    /// Checked passkey and passkey challenge tables.
    #[derive(Debug, Clone)]
    pub struct PasskeyTables {
        pub(super) passkey: Table,
        pub(super) challenge: Table,
    }

    /// Checked second-factor tables: TOTP rows and recovery codes.
    #[derive(Debug, Clone)]
    pub struct SecondFactorTables {
        pub(super) totp: Table,
        pub(super) recovery_code: Table,
    }

    /// A table for the start-up check, and the user table its `user_id` must refer to.
    pub struct CheckedTable<'a>(pub(super) &'a Table, pub(super) Option<&'a Table>);

    /// Every shape: its tables, for the start-up check.
    pub trait ListTables {
        fn list_tables(&self) -> Vec<CheckedTable<'_>>;
    }

    impl ListTables for UsersOnly {
        fn list_tables(&self) -> Vec<CheckedTable<'_>> {
            vec![CheckedTable(&self.user, None), CheckedTable(&self.key, Some(&self.user))]
        }
    }

    impl ListTables for SessionsOnly {
        fn list_tables(&self) -> Vec<CheckedTable<'_>> {
            vec![CheckedTable(&self.session, None)]
        }
    }

    impl ListTables for WithSessions {
        fn list_tables(&self) -> Vec<CheckedTable<'_>> {
            let mut tables = self.users.list_tables();
            tables.push(CheckedTable(&self.sessions.session, Some(&self.users.user)));
            tables
        }
    }

    impl<Shape: ListTables + HasUserTables> ListTables for WithTokens<Shape> {
        fn list_tables(&self) -> Vec<CheckedTable<'_>> {
            let mut tables = self.tables.list_tables();
            tables.push(CheckedTable(&self.token.0, Some(&self.tables.user_tables().user)));
            tables
        }
    }

    impl<Shape: ListTables + HasUserTables> ListTables for WithPasskeys<Shape> {
        fn list_tables(&self) -> Vec<CheckedTable<'_>> {
            let mut tables = self.tables.list_tables();
            tables.push(CheckedTable(&self.passkeys.passkey, Some(&self.tables.user_tables().user)));
            // A challenge's `user_id` has no foreign key: a passkey-only sign-in has no user yet.
            tables.push(CheckedTable(&self.passkeys.challenge, None));
            tables
        }
    }

    /// A shape with user and key tables.
    pub trait HasUserTables: Send + Sync {
        fn user_tables(&self) -> &UsersOnly;

        /// The token table, in shapes that have one: deleting a user deletes its tokens.
        fn token_table(&self) -> Option<&TokenTable> {
            None
        }

        /// The passkey tables, in shapes that have them: deleting a user deletes its passkeys.
        fn passkey_tables(&self) -> Option<&PasskeyTables> {
            None
        }

        /// The second-factor tables, in shapes that have them: deleting a user deletes its
        /// TOTP row and recovery codes.
        fn second_factor_tables(&self) -> Option<&SecondFactorTables> {
            None
        }
    }

    /// A shape with a token table: the [`TokenAdapter`](lucia::TokenAdapter).
    pub trait HasTokenTable: HasUserTables {
        fn tokens(&self) -> &TokenTable;
    }

    /// A shape with second-factor tables (and so a token table, for pending sign-ins): the
    /// [`SecondFactorAdapter`](lucia::SecondFactorAdapter).
    pub trait HasSecondFactorTables: HasTokenTable {
        fn second_factor(&self) -> &SecondFactorTables;
    }

    /// A shape with a session table.
    pub trait HasSessionTable: Send + Sync {
        fn session_table(&self) -> &SessionsOnly;
    }

    /// A shape with user, key and session tables: the full [`Adapter`](lucia::Adapter).
    pub trait HasAllTables: HasUserTables + HasSessionTable {
        fn all_tables(&self) -> &WithSessions;
    }

    /// The shapes a token table can be added to (once).
    pub trait TokenBase: HasUserTables {}

    impl TokenBase for UsersOnly {}
    impl TokenBase for WithSessions {}

    /// The shapes passkey tables can be added to (once, after any token and second-factor
    /// tables).
    pub trait PasskeyBase: HasUserTables {}

    impl PasskeyBase for UsersOnly {}
    impl PasskeyBase for WithSessions {}
    impl<Shape: TokenBase> PasskeyBase for WithTokens<Shape> {}
    impl<Shape: TokenBase> PasskeyBase for WithSecondFactor<WithTokens<Shape>> {}

    impl<Shape: HasUserTables> HasTokenTable for WithTokens<Shape> {
        fn tokens(&self) -> &TokenTable {
            &self.token
        }
    }

    impl<Shape: HasTokenTable> HasTokenTable for WithPasskeys<Shape> {
        fn tokens(&self) -> &TokenTable {
            self.tables.tokens()
        }
    }

    impl<Shape: HasSecondFactorTables> HasSecondFactorTables for WithPasskeys<Shape> {
        fn second_factor(&self) -> &SecondFactorTables {
            self.tables.second_factor()
        }
    }

    impl<Shape: HasUserTables> HasUserTables for WithPasskeys<Shape> {
        fn user_tables(&self) -> &UsersOnly {
            self.tables.user_tables()
        }

        fn token_table(&self) -> Option<&TokenTable> {
            self.tables.token_table()
        }

        fn passkey_tables(&self) -> Option<&PasskeyTables> {
            Some(&self.passkeys)
        }

        fn second_factor_tables(&self) -> Option<&SecondFactorTables> {
            self.tables.second_factor_tables()
        }
    }

    impl<Shape: HasSessionTable> HasSessionTable for WithPasskeys<Shape> {
        fn session_table(&self) -> &SessionsOnly {
            self.tables.session_table()
        }
    }

    impl<Shape: HasAllTables> HasAllTables for WithPasskeys<Shape> {
        fn all_tables(&self) -> &WithSessions {
            self.tables.all_tables()
        }
    }

    impl HasAllTables for WithSessions {
        fn all_tables(&self) -> &WithSessions {
            self
        }
    }

    impl<Shape: HasUserTables> HasUserTables for WithTokens<Shape> {
        fn user_tables(&self) -> &UsersOnly {
            self.tables.user_tables()
        }

        fn token_table(&self) -> Option<&TokenTable> {
            Some(&self.token)
        }
    }

    impl<Shape: HasSessionTable> HasSessionTable for WithTokens<Shape> {
        fn session_table(&self) -> &SessionsOnly {
            self.tables.session_table()
        }
    }

    impl<Shape: HasAllTables> HasAllTables for WithTokens<Shape> {
        fn all_tables(&self) -> &WithSessions {
            self.tables.all_tables()
        }
    }

    impl HasUserTables for UsersOnly {
        fn user_tables(&self) -> &UsersOnly {
            self
        }
    }

    impl HasUserTables for WithSessions {
        fn user_tables(&self) -> &UsersOnly {
            &self.users
        }
    }

    impl HasSessionTable for SessionsOnly {
        fn session_table(&self) -> &SessionsOnly {
            self
        }
    }

    impl HasSessionTable for WithSessions {
        fn session_table(&self) -> &SessionsOnly {
            &self.sessions
        }
    }
}

/// What may stand in [`Tables::session`]: any SeaORM entity, or [`NoSessionTable`].
pub trait SessionTableOption {
    /// The adapter's shape: [`WithSessions`] for an entity, [`UsersOnly`] for
    /// [`NoSessionTable`].
    type Shape;
    /// Checks the session entity, if any, and joins it to the checked user and key tables.
    fn with_users(self, users: UsersOnly) -> Result<Self::Shape, SchemaError>;
}

impl<E: EntityTrait> SessionTableOption for E {
    type Shape = WithSessions;
    fn with_users(self, users: UsersOnly) -> Result<WithSessions, SchemaError> {
        let sessions = SessionsOnly::describe(self)?;
        sessions.session.require_user_id_of(&users.user)?;
        Ok(WithSessions { users, sessions, session_and_user_sql: Default::default() })
    }
}

impl SessionTableOption for NoSessionTable {
    type Shape = UsersOnly;
    fn with_users(self, users: UsersOnly) -> Result<UsersOnly, SchemaError> {
        Ok(users)
    }
}

/// Lucia's adapter over a SeaORM [`DatabaseConnection`] and the caller's entities, on
/// PostgreSQL, MySQL/MariaDB or SQLite. `Shape` says which tables it has and so which of
/// Lucia's adapter traits it implements: [`WithSessions`] (the default), [`UsersOnly`],
/// [`SessionsOnly`], and the first two with a token table, [`WithTokens`]. See the
/// [crate documentation](crate).
///
/// Cloning is cheap: the clones share the connection pool and the tables' description.
#[derive(Debug, Clone)]
pub struct SeaOrmAdapter<Shape = WithSessions> {
    db: DatabaseConnection,
    shape: Arc<Shape>,
}

impl SeaOrmAdapter {
    /// Builds an adapter over `db` storing in the given entities' tables: a
    /// [`SeaOrmAdapter<WithSessions>`] for a session entity, a [`SeaOrmUserAdapter`] for
    /// [`NoSessionTable`].
    ///
    /// Checks the entities now, so a missing or mistyped required column is an error here
    /// rather than on the first request: key and session `id`s must be text, user ids (the
    /// user table's `id`, the others' `user_id`) text or uuid and of one type across the
    /// tables, `hashed_password` nullable text, `active_expires`/`idle_expires` 64-bit
    /// integers, and every column of a type the adapter can carry (see the crate docs' column
    /// types). It does not query the database: [`check`](SeaOrmAdapter::check) does.
    pub fn new<U, K, S>(db: DatabaseConnection, tables: Tables<U, K, S>) -> Result<SeaOrmAdapter<S::Shape>, SchemaError>
    where
        U: EntityTrait,
        K: EntityTrait,
        S: SessionTableOption,
    {
        let users = UsersOnly { user: schema::user_table(tables.user)?, key: schema::key_table(tables.key)? };
        users.key.require_user_id_of(&users.user)?;
        Ok(SeaOrmAdapter { db, shape: Arc::new(tables.session.with_users(users)?) })
    }

    /// Builds a session-only adapter over `db` storing in `session`'s table, for sessions
    /// kept apart from users and keys (joined with a user adapter through
    /// [`lucia::SplitAdapter`]). No user or key entity is needed, and the table needs no
    /// foreign key to a user table ([`LuciaMigration::sessions_only`](crate::LuciaMigration::sessions_only)
    /// creates one like that).
    ///
    /// Checks the entity as [`SeaOrmAdapter::new`] does; does not query the database.
    pub fn sessions_only<E: EntityTrait>(
        db: DatabaseConnection,
        session: E,
    ) -> Result<SeaOrmSessionAdapter, SchemaError> {
        Ok(SeaOrmAdapter { db, shape: Arc::new(SessionsOnly::describe(session)?) })
    }
}

impl<Shape: TokenBase + Clone> SeaOrmAdapter<Shape> {
    /// Adds a token table, for single-use tokens (email verification codes, password-reset
    /// links): the adapter then also implements [`TokenAdapter`], deletes a user's tokens with
    /// the user, and sweeps expired tokens in
    /// [`delete_expired_tokens`](UserAdapter::delete_expired_tokens).
    ///
    /// Checks the entity now, as [`SeaOrmAdapter::new`] does: `id`, `user_id`, `kind` and
    /// `email` must be text, `expires` a 64-bit integer, `attempts` an integer. The table needs
    /// a unique index on `(user_id, kind)`, which `set_token`'s upsert targets
    /// ([`LuciaTokenMigration`](crate::LuciaTokenMigration) creates it). Does not query the
    /// database, so it cannot see a missing index: on PostgreSQL and SQLite the first
    /// `set_token` then fails, but on MySQL/MariaDB the upsert silently inserts a second row,
    /// and a replaced code or link keeps working until it expires. Create the table with
    /// [`LuciaTokenMigration`](crate::LuciaTokenMigration), or give it that unique index.
    ///
    /// ```
    /// # use lucia_adapter_sea_orm::{SeaOrmAdapter, SeaOrmAdapterWithTokens, Tables, entity};
    /// # fn demo(db: sea_orm::DatabaseConnection) -> Result<(), lucia_adapter_sea_orm::SchemaError> {
    /// let tables = Tables { user: entity::user::Entity, key: entity::key::Entity, session: entity::session::Entity };
    /// let adapter: SeaOrmAdapterWithTokens = SeaOrmAdapter::new(db, tables)?.with_tokens(entity::token::Entity)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_tokens<E: EntityTrait>(self, token: E) -> Result<SeaOrmAdapter<WithTokens<Shape>>, SchemaError> {
        let token = schema::token_table(token)?;
        token.require_user_id_of(&self.shape.user_tables().user)?;
        let shape = WithTokens { tables: Arc::unwrap_or_clone(self.shape), token: shape::TokenTable(token) };
        Ok(SeaOrmAdapter { db: self.db, shape: Arc::new(shape) })
    }
}

impl<Shape: PasskeyBase + Clone> SeaOrmAdapter<Shape> {
    /// Adds passkey tables, for passkeys and their ceremonies' challenges (the
    /// `lucia-passkey` crate): the adapter then also implements
    /// [`PasskeyAdapter`](lucia::PasskeyAdapter) and deletes a user's passkeys with the user.
    /// Add a token table first, if any.
    ///
    /// Checks the entities now, as [`SeaOrmAdapter::new`] does (see
    /// [`entity::passkey`](crate::entity::passkey) and
    /// [`entity::passkey_challenge`](crate::entity::passkey_challenge) for the columns);
    /// [`LuciaPasskeyMigration`](crate::LuciaPasskeyMigration) creates the tables.
    ///
    /// ```
    /// # use lucia_adapter_sea_orm::{SeaOrmAdapter, Tables, entity};
    /// # fn demo(db: sea_orm::DatabaseConnection) -> Result<(), lucia_adapter_sea_orm::SchemaError> {
    /// let tables = Tables { user: entity::user::Entity, key: entity::key::Entity, session: entity::session::Entity };
    /// let adapter = SeaOrmAdapter::new(db, tables)?
    ///     .with_tokens(entity::token::Entity)?
    ///     .with_passkeys(entity::passkey::Entity, entity::passkey_challenge::Entity)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_passkeys<P: EntityTrait, C: EntityTrait>(
        self,
        passkey: P,
        challenge: C,
    ) -> Result<SeaOrmAdapter<WithPasskeys<Shape>>, SchemaError> {
        let passkeys = shape::PasskeyTables {
            passkey: schema::passkey_table(passkey)?,
            challenge: schema::passkey_challenge_table(challenge)?,
        };
        let user = &self.shape.user_tables().user;
        passkeys.passkey.require_user_id_of(user)?;
        passkeys.challenge.require_user_id_of(user)?;
        Ok(SeaOrmAdapter {
            db: self.db,
            shape: Arc::new(WithPasskeys { tables: Arc::unwrap_or_clone(self.shape), passkeys }),
        })
    }
}

impl<Shape: shape::ListTables> SeaOrmAdapter<Shape> {
    /// Compares the entities with the live database, to run at start-up: every table exists
    /// under its entity's name, with every column of its entity, of a type that can hold the
    /// entity's (a `BIGINT` for an `i64`, `uuid` for a `Uuid` on PostgreSQL, …), allowing
    /// `NULL` exactly where the entity's field is an `Option`; every table has a primary key
    /// or unique index on its entity's primary key and on each `unique` column, the token
    /// table one on `(user_id, kind)`; and the key, session and token tables have a foreign
    /// key from `user_id` to the user table (a sessions-only adapter's session table needs
    /// none). The first disagreement is the
    /// error, naming the table and column ([`SchemaError`]'s `Database*` variants), so a
    /// wrong table name is found before the first request rather than as a `no such table`
    /// on it. Columns the database has and the entity does not are left alone.
    ///
    /// ```
    /// use lucia_adapter_sea_orm::{LuciaMigration, SchemaError, SeaOrmAdapter, Tables, entity};
    /// use sea_orm::{ConnectOptions, Database};
    /// use sea_orm_migration::{MigrationTrait, SchemaManager};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let db = Database::connect(ConnectOptions::new("sqlite::memory:").max_connections(1).to_owned()).await?;
    /// let tables = Tables { user: entity::user::Entity, key: entity::key::Entity, session: entity::session::Entity };
    /// let adapter = SeaOrmAdapter::new(db.clone(), tables)?;
    /// // Before the migration: no `user` table.
    /// let error = adapter.check().await.unwrap_err();
    /// assert_eq!(error.to_string(), SchemaError::DatabaseTableMissing { table: "user".into() }.to_string());
    ///
    /// LuciaMigration::from_entities(tables)?.up(&SchemaManager::new(&db)).await?;
    /// adapter.check().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn check(&self) -> Result<(), CheckError> {
        for shape::CheckedTable(table, references) in self.shape.list_tables() {
            check::table(&self.db, table, references).await?;
        }
        Ok(())
    }
}

impl<Shape> SeaOrmAdapter<Shape> {
    /// The connection the adapter runs on.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }
}

impl<Shape: HasUserTables> SeaOrmAdapter<Shape> {
    fn user_tables(&self) -> &UsersOnly {
        self.shape.user_tables()
    }

    /// `SELECT ... FOR UPDATE` of the user row, on PostgreSQL and MySQL/MariaDB: the first
    /// statement of a transaction that must not interleave with others on the same user (SQLite
    /// has one writer at a time, so there it is `None`).
    fn user_lock(&self, user_id: &str) -> Option<Statement> {
        let backend = self.backend();
        let user = &self.user_tables().user;
        (backend != DbBackend::Sqlite).then(|| {
            let mut lock = Query::select();
            lock.expr(Expr::val(1))
                .from(user.table_ref.clone())
                .and_where(Expr::col(alias("id")).eq(id_value(user, "id", user_id)))
                .lock_exclusive();
            backend.build(&lock)
        })
    }

    /// Deletes the user's row `method_id` of `table` (the key table, or the passkey table)
    /// unless it is the user's last way to sign in; `counts` says whether that row is one (a
    /// key of an uncounted provider is not, and is always deleted). Retried on deadlocks.
    pub(crate) async fn delete_sign_in_method(
        &self,
        table: &Table,
        user_id: &str,
        method_id: &str,
        counts: bool,
        uncounted_providers: &[&str],
    ) -> Result<SignInMethodDeletion, AdapterError> {
        let run = || self.try_delete_sign_in_method(table, user_id, method_id, counts, uncounted_providers);
        retry_deadlocks(run).await.map_err(|((), error)| database(error))
    }

    /// One try of [`delete_sign_in_method`](Self::delete_sign_in_method): on PostgreSQL and
    /// MySQL/MariaDB the user row is locked first, so two removals of one user's methods run
    /// one after the other and the second counts what the first left (SQLite has one writer at
    /// a time, taken by the `DELETE`); then the row's deletion, then a count of the user's
    /// ways to sign in left, and a rollback if there are none.
    async fn try_delete_sign_in_method(
        &self,
        table: &Table,
        user_id: &str,
        method_id: &str,
        counts: bool,
        uncounted_providers: &[&str],
    ) -> Result<SignInMethodDeletion, ((), DbErr)> {
        let transaction = self.rerun_on_dead_connection(|| self.db.begin()).await.map_err(|error| ((), error))?;
        let outcome = self
            .delete_sign_in_method_in(&transaction, table, user_id, method_id, counts, uncounted_providers)
            .await
            .map_err(|error| ((), error));
        match outcome {
            // Nothing to keep: roll back (the deletion, if it happened).
            Ok(SignInMethodDeletion::LastSignInMethod | SignInMethodDeletion::NotFound) => {
                let _ = transaction.rollback().await;
                outcome
            }
            _ => finish(transaction, outcome).await,
        }
    }

    async fn delete_sign_in_method_in(
        &self,
        transaction: &DatabaseTransaction,
        table: &Table,
        user_id: &str,
        method_id: &str,
        counts: bool,
        uncounted_providers: &[&str],
    ) -> Result<SignInMethodDeletion, DbErr> {
        if let Some(lock) = self.user_lock(user_id) {
            transaction.query_one_raw(lock).await?;
        }
        let of_user = |table: &Table| Expr::col(alias("user_id")).eq(id_value(table, "user_id", user_id));
        let mut delete = delete_where_statement(table, "id", method_id);
        delete.and_where(of_user(table));
        if transaction.execute(&delete).await?.rows_affected() == 0 {
            return Ok(SignInMethodDeletion::NotFound);
        }
        if !counts {
            return Ok(SignInMethodDeletion::Deleted);
        }
        // The key ids, not a count: which keys count is decided by their provider, in Rust,
        // alike on every backend.
        let key = &self.user_tables().key;
        let mut keys = Query::select();
        keys.column(alias("id")).from(key.table_ref.clone()).and_where(of_user(key));
        let mut left = 0;
        for row in transaction.query_all(&keys).await? {
            left += u64::from(counts_as_sign_in_method(&read_id(key, "id", &row, 0)?, uncounted_providers));
        }
        if let Some(passkeys) = self.shape.passkey_tables() {
            let mut count = Query::select();
            count.expr(Expr::col(alias("id")).count()).from(passkeys.passkey.table_ref.clone());
            count.and_where(of_user(&passkeys.passkey));
            if let Some(row) = transaction.query_one(&count).await? {
                left += u64::try_from(row.try_get_by_index::<i64>(0)?).unwrap_or(0);
            }
        }
        Ok(if left == 0 { SignInMethodDeletion::LastSignInMethod } else { SignInMethodDeletion::Deleted })
    }

    /// Deletes the user in one transaction, after the rows that go with it in every deletion
    /// (its tokens and second factor, in shapes with those tables) and, if `with_methods`, its
    /// `sessions` (if given), keys and passkeys. (Without them, a user that still has any fails
    /// its foreign keys, as in Lucia v2.) On PostgreSQL and MySQL it first locks the user row,
    /// so a session, key or token being inserted for the user meanwhile waits and then fails its
    /// foreign key (an unknown user) instead of making the delete fail, and the deletions of
    /// recovery codes here and in `set_recovery_codes` take turns instead of deadlocking.
    async fn delete_user_rows(
        &self,
        user_id: &str,
        with_methods: bool,
        sessions: Option<&Table>,
    ) -> Result<(), AdapterError> {
        let users = self.user_tables();
        let mut tables = Vec::with_capacity(6);
        if with_methods {
            tables.extend(sessions);
            tables.push(&users.key);
            tables.extend(self.shape.passkey_tables().map(|passkeys| &passkeys.passkey));
        }
        tables.extend(self.shape.token_table().map(|shape::TokenTable(tokens)| tokens));
        if let Some(second_factor) = self.shape.second_factor_tables() {
            tables.extend([&second_factor.recovery_code, &second_factor.totp]);
        }
        let mut statements: Vec<_> = self.user_lock(user_id).into_iter().collect();
        statements.extend(tables.into_iter().map(|table| self.delete_statement(table, "user_id", user_id)));
        statements.push(self.delete_statement(&users.user, "id", user_id));
        self.in_transaction(&statements).await.map_err(|(_, error)| database(error))
    }

    /// Deletes expired tokens `batch` at a time, as [`sweep`](Self::sweep) does sessions; does
    /// nothing without a token table.
    pub(crate) async fn sweep_tokens(&self, now_ms: i64, batch: u64) -> Result<Sweep, AdapterError> {
        let Some(shape::TokenTable(tokens)) = self.shape.token_table() else {
            return Ok(Sweep { deleted: 0, statements: 0 });
        };
        let statement = delete_expired_batch(tokens, "expires", self.backend(), now_ms, batch)?;
        self.sweep_batches(&statement, batch).await
    }
}

impl<Shape: HasSessionTable> SeaOrmAdapter<Shape> {
    fn session(&self) -> &Table {
        &self.shape.session_table().session
    }
}

// ---- statements ---------------------------------------------------------------------------

fn alias(name: &str) -> Alias {
    Alias::new(name)
}

fn select_all(table: &Table) -> SelectStatement {
    let mut query = Query::select();
    for column in &table.columns {
        query.expr_as(select_expr(column, Expr::col(alias(&column.name))), alias(&column.name));
    }
    query.from(table.table_ref.clone());
    query
}

fn select_where(table: &Table, column: &str, value: &str) -> SelectStatement {
    let mut query = select_all(table);
    query.and_where(Expr::col(alias(column)).eq(id_value(table, column, value)));
    query
}

/// `(column, value)` pairs for attribute columns, refusing the table's own Lucia columns.
fn encode_attributes(
    table: &Table,
    attributes: &AttributeMap,
    reserved: &[&str],
) -> Result<Vec<(Alias, Expr)>, AdapterError> {
    attributes
        .iter()
        .map(|(name, value)| {
            if reserved.contains(&name.as_str()) {
                return Err(AdapterError::InvalidAttributes(format!("`{name}` cannot be set as an attribute")));
            }
            let column = table.column(name).ok_or_else(|| {
                AdapterError::InvalidAttributes(format!("table `{}` has no column `{name}`", table.name))
            })?;
            Ok((alias(name), encode_expr(column, value)?))
        })
        .collect()
}

fn insert(table: &Table, pairs: Vec<(Alias, Expr)>) -> Result<InsertStatement, AdapterError> {
    let (columns, values): (Vec<_>, Vec<_>) = pairs.into_iter().unzip();
    let mut query = Query::insert();
    query.into_table(table.table_ref.clone()).columns(columns);
    query.values(values).map_err(AdapterError::database)?;
    Ok(query)
}

fn text(value: &str) -> Expr {
    Expr::val(Value::String(Some(value.to_owned())))
}

/// `value` encoded for a numeric column (milliseconds, counts).
fn number(table: &Table, column: &str, value: i64) -> Result<Expr, AdapterError> {
    let column =
        table.column(column).ok_or_else(|| AdapterError::InvalidAttributes(format!("no column `{column}`")))?;
    encode_expr(column, &value.into())
}

fn update_statement(table: &Table, id: &str, values: Vec<(Alias, Expr)>) -> UpdateStatement {
    let mut query = Query::update();
    query.table(table.table_ref.clone()).values(values).and_where(Expr::col(alias("id")).eq(id_value(table, "id", id)));
    query
}

fn delete_where_statement(table: &Table, column: &str, value: &str) -> DeleteStatement {
    let mut query = Query::delete();
    query.from_table(table.table_ref.clone()).and_where(Expr::col(alias(column)).eq(id_value(table, column, value)));
    query
}

const USER_COLUMNS: &[&str] = &["id"];
const SESSION_COLUMNS: &[&str] = &["id", "user_id", "active_expires", "idle_expires"];
const TOKEN_COLUMNS: [&str; 6] = ["id", "user_id", "kind", "email", "expires", "attempts"];

// ---- rows ---------------------------------------------------------------------------------

/// The row's columns from position `first` on are the user's, in `table.columns`' order.
fn user_from_row(table: &Table, row: &QueryResult, first: usize) -> Result<DatabaseUser, AdapterError> {
    let ([id], attributes) = decode_row(table, row, first, ["id"])?;
    Ok(DatabaseUser { id: read_text(id, "id")?, attributes })
}

fn key_from_row(table: &Table, row: &QueryResult) -> Result<DatabaseKey, AdapterError> {
    let ([id, user_id, hashed_password], _) = decode_row(table, row, 0, ["id", "user_id", "hashed_password"])?;
    Ok(DatabaseKey {
        id: read_text(id, "id")?,
        user_id: read_text(user_id, "user_id")?,
        hashed_password: read_optional_text(hashed_password, "hashed_password")?,
    })
}

/// The row's columns from position `first` on are the session's, in `table.columns`' order.
fn session_from_row(table: &Table, row: &QueryResult, first: usize) -> Result<DatabaseSession, AdapterError> {
    let ([id, user_id, active_expires, idle_expires], attributes) =
        decode_row(table, row, first, ["id", "user_id", "active_expires", "idle_expires"])?;
    Ok(DatabaseSession {
        id: read_text(id, "id")?,
        user_id: read_text(user_id, "user_id")?,
        active_expires: read_millis(active_expires, "active_expires")?,
        idle_expires: read_millis(idle_expires, "idle_expires")?,
        attributes,
    })
}

fn token_from_row(table: &Table, row: &QueryResult) -> Result<DatabaseToken, AdapterError> {
    let ([id, user_id, kind, email, expires, attempts], _) = decode_row(table, row, 0, TOKEN_COLUMNS)?;
    // A kind this version does not know (written by a newer one, or by hand) is an error to
    // report, not a token to use.
    let kind = TokenKind::parse(&read_text(kind, "kind")?)
        .ok_or_else(|| AdapterError::InvalidAttributes("column `kind` holds an unknown token kind".into()))?;
    Ok(DatabaseToken {
        id: read_text(id, "id")?,
        user_id: read_text(user_id, "user_id")?,
        kind,
        email: read_text(email, "email")?,
        expires: read_millis(expires, "expires")?,
        attempts: read_count(attempts, "attempts")?,
    })
}

// ---- the hot read ---------------------------------------------------------------------------

impl<Shape> SeaOrmAdapter<Shape> {
    /// The row `sql` returns with its one parameter bound to `value`: `validate_session`'s read,
    /// on every authenticated request. On a sqlx pool it is sent straight to the pool under the
    /// connection (SeaORM's path copies the statement and its values twice per call: 9 of the
    /// 23 allocations of a validation on PostgreSQL); other connections take SeaORM's path.
    /// Either way it is the same prepared statement, and errors are SeaORM's.
    async fn query_one_by_text(&self, sql: &str, value: &str) -> Result<Option<QueryResult>, DbErr> {
        use sea_orm::DatabaseConnectionType as Connection;
        match &self.db.inner {
            #[cfg(feature = "postgres")]
            Connection::SqlxPostgresPoolConnection(_) => {
                fetch_optional(self.db.get_postgres_connection_pool(), sql, value).await
            }
            #[cfg(feature = "mysql")]
            Connection::SqlxMySqlPoolConnection(_) => {
                fetch_optional(self.db.get_mysql_connection_pool(), sql, value).await
            }
            #[cfg(feature = "sqlite")]
            Connection::SqlxSqlitePoolConnection(_) => {
                fetch_optional(self.db.get_sqlite_connection_pool(), sql, value).await
            }
            _ => {
                let value = Value::String(Some(value.to_owned()));
                self.db.query_one_raw(Statement::from_sql_and_values(self.backend(), sql, [value])).await
            }
        }
    }
}

/// `sql` bound to `value`, as a prepared statement on `pool`; errors wrapped as SeaORM wraps them.
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
async fn fetch_optional<DB>(
    pool: &sea_orm::sqlx::Pool<DB>,
    sql: &str,
    value: &str,
) -> Result<Option<QueryResult>, DbErr>
where
    DB: sea_orm::sqlx::Database,
    QueryResult: From<DB::Row>,
    for<'q> &'q str: sea_orm::sqlx::Encode<'q, DB> + sea_orm::sqlx::Type<DB>,
    DB::Arguments: sea_orm::sqlx::IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: sea_orm::sqlx::Executor<'c, Database = DB>,
{
    let query = sea_orm::sqlx::query(sea_orm::sqlx::AssertSqlSafe(sql)).bind(value);
    match query.fetch_optional(pool).await {
        Ok(row) => Ok(row.map(QueryResult::from)),
        Err(error) => Err(DbErr::Query(RuntimeErr::SqlxError(Arc::new(error)))),
    }
}

// ---- errors -------------------------------------------------------------------------------

/// A failed statement as the core sees it: [`AdapterError::Unavailable`] when the database
/// could not be reached (see [`is_outage`]), [`AdapterError::Database`] otherwise.
fn database(error: DbErr) -> AdapterError {
    if is_outage(&error) { AdapterError::unavailable(error) } else { AdapterError::database(error) }
}

/// Whether the database could not be reached, rather than refusing the statement: no
/// connection could be opened or taken from the pool, or the connection broke. The request
/// may succeed later; nothing is known about the data.
fn is_outage(error: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    match error {
        // No free connection in time, or the pool is closed; or opening a connection failed.
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error)) => match &**error {
            Sqlx::Io(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::WorkerCrashed => true,
            Sqlx::Database(error) => is_connection_sqlstate(error.code().as_deref()),
            _ => false,
        },
        _ => false,
    }
}

/// SQLSTATEs of a connection that broke, a server that went away or gave no answer in time:
/// class `08` (connection exception, including MySQL's `08S01`), PostgreSQL's `57P01`-`57P03`
/// (the server is shutting down or starting) and `53300` (too many connections), and
/// MySQL/MariaDB's `70100`, an interrupted statement (a connection killed by an administrator,
/// error 1927, or a statement past `max_statement_time`).
fn is_connection_sqlstate(code: Option<&str>) -> bool {
    code.is_some_and(|code| code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300" | "70100"))
}

/// Whether a write may run again after the connection it ran on died, when whether it was
/// done is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    /// Sets columns to given values, or deletes rows: done twice is done once.
    Idempotent,
    /// An insert, or an update that depends on what the row holds (a compare-and-set): a
    /// second run could fail on or undo the first, so a dead connection is `Unavailable`.
    Once,
}

/// How often a statement or transaction aborted by a deadlock is run in all.
const ATTEMPTS: usize = 3;

/// Whether the statement failed because the connection it ran on was dead or died under it
/// (closed by the server, a proxy or the network: an I/O error, or a SQLSTATE of
/// [`is_connection_sqlstate`] but a statement the server interrupted), rather than because no
/// connection could be had: then the same statement may succeed on another connection of the
/// pool. sqlx drops such a connection when it is released, so each attempt gets another one.
fn is_dead_connection(error: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    match error {
        DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error)) => match &**error {
            Sqlx::Io(_) => true,
            Sqlx::Database(error) => {
                error.code().is_some_and(|code| code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03"))
            }
            _ => false,
        },
        _ => false,
    }
}

/// The driver's error, when the database refused the statement.
fn driver_error(error: &DbErr) -> Option<&(dyn sea_orm::sqlx::error::DatabaseError + 'static)> {
    match error {
        DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error)) => match &**error {
            sea_orm::sqlx::Error::Database(error) => Some(&**error),
            _ => None,
        },
        _ => None,
    }
}

/// A `NOT NULL` column left without a value (sqlx reads the SQLSTATE, MySQL error number or
/// SQLite extended code).
fn is_not_null_violation(error: &DbErr) -> bool {
    driver_error(error).is_some_and(|error| matches!(error.kind(), sea_orm::sqlx::error::ErrorKind::NotNullViolation))
}

/// A foreign key violation: every foreign key of Lucia's tables refers to a user.
fn is_unknown_user(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::ForeignKeyConstraintViolation(_)))
}

/// Whether the database aborted the statement to break a deadlock (SQLSTATE `40001` on
/// MySQL/MariaDB and for PostgreSQL's serialization failures, `40P01` for PostgreSQL's
/// deadlocks): running it again is safe.
fn is_deadlock(error: &DbErr) -> bool {
    driver_error(error).is_some_and(|error| matches!(error.code().as_deref(), Some("40001" | "40P01")))
}

impl<Shape> SeaOrmAdapter<Shape> {
    /// Runs `run` again when it fails on a dead connection ([`is_dead_connection`]), until it
    /// runs on a live one: at most once per connection the pool may hold, plus one. After the
    /// pool's connections were cut (a database restart, a failover, a NAT timeout) and with
    /// sqlx's `test_before_acquire` off, the pool hands them out one by one; this is what
    /// makes the cut cost no failed request. `run` must be safe to run twice: a read, a
    /// transaction's `BEGIN`, or a [`Write::Idempotent`], since whether a statement on a
    /// connection that died under it was done is unknown.
    async fn rerun_on_dead_connection<T, Run>(&self, run: impl Fn() -> Run) -> Result<T, DbErr>
    where
        Run: Future<Output = Result<T, DbErr>>,
    {
        let attempts = self.pool_size() + 1;
        let mut attempt = 1;
        loop {
            match run().await {
                Err(error) if attempt < attempts && is_dead_connection(&error) => attempt += 1,
                outcome => return outcome,
            }
        }
    }

    /// The most connections the pool holds (1 for a connection that is not a sqlx pool).
    fn pool_size(&self) -> usize {
        use sea_orm::DatabaseConnectionType as Connection;
        let size = match &self.db.inner {
            #[cfg(feature = "postgres")]
            Connection::SqlxPostgresPoolConnection(_) => {
                self.db.get_postgres_connection_pool().options().get_max_connections()
            }
            #[cfg(feature = "mysql")]
            Connection::SqlxMySqlPoolConnection(_) => {
                self.db.get_mysql_connection_pool().options().get_max_connections()
            }
            #[cfg(feature = "sqlite")]
            Connection::SqlxSqlitePoolConnection(_) => {
                self.db.get_sqlite_connection_pool().options().get_max_connections()
            }
            _ => 1,
        };
        usize::try_from(size).unwrap_or(usize::MAX).min(64)
    }

    async fn fetch_one<T>(
        &self,
        query: &SelectStatement,
        convert: impl FnOnce(&QueryResult) -> Result<T, AdapterError>,
    ) -> Result<Option<T>, AdapterError> {
        let row = self.rerun_on_dead_connection(|| self.db.query_one(query)).await.map_err(database)?;
        row.as_ref().map(convert).transpose()
    }

    async fn fetch_all<T>(
        &self,
        query: &SelectStatement,
        convert: impl Fn(&QueryResult) -> Result<T, AdapterError>,
    ) -> Result<Vec<T>, AdapterError> {
        let rows = self.rerun_on_dead_connection(|| self.db.query_all(query)).await.map_err(database)?;
        rows.iter().map(convert).collect()
    }

    async fn exists(&self, mut query: SelectStatement) -> Result<bool, AdapterError> {
        query.expr(Expr::val(1));
        Ok(self.rerun_on_dead_connection(|| self.db.query_one(&query)).await.map_err(database)?.is_some())
    }

    /// The unique attribute column of `table` (declared `unique` in the entity) whose value
    /// in `attributes` another row than `own_id` already holds.
    async fn taken_column(
        &self,
        table: &Table,
        own_id: &str,
        attributes: &AttributeMap,
    ) -> Result<Option<String>, AdapterError> {
        for column in table.columns.iter().filter(|column| column.unique) {
            let Some(value) = attributes.get(&column.name).filter(|value| !value.is_null()) else { continue };
            let mut query = Query::select();
            query
                .from(table.table_ref.clone())
                .and_where(Expr::col(alias(&column.name)).eq(encode_expr(column, value)?))
                .and_where(Expr::col(alias("id")).ne(id_value(table, "id", own_id)));
            if self.exists(query).await? {
                return Ok(Some(column.name.clone()));
            }
        }
        Ok(None)
    }

    /// Turns a failed insert or update of row `id` into a typed error. The condition is read
    /// from the SQL error code (SQLSTATE, MySQL error number, SQLite extended code) via
    /// SeaORM, never from message text, which never reaches the error. A unique violation on
    /// insert is a duplicate id (`duplicate_id`) if a row with that id exists; otherwise a
    /// unique attribute column was hit, found by looking for the value.
    async fn write_failure(
        &self,
        table: &Table,
        id: &str,
        error: DbErr,
        duplicate_id: Option<AdapterError>,
        attributes: &AttributeMap,
    ) -> AdapterError {
        let outcome = match error.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => {
                let mut same_id = Query::select();
                same_id.from(table.table_ref.clone()).and_where(Expr::col(alias("id")).eq(id_value(table, "id", id)));
                let id_taken = match duplicate_id {
                    Some(_) => self.exists(same_id).await,
                    None => Ok(false),
                };
                match (id_taken, duplicate_id) {
                    (Err(lookup), _) => Err(lookup),
                    (Ok(true), Some(duplicate_id)) => Ok(duplicate_id),
                    _ => self
                        .taken_column(table, id, attributes)
                        .await
                        .map(|column| AdapterError::DuplicateAttribute { column }),
                }
            }
            _ if is_unknown_user(&error) => Ok(AdapterError::InvalidUserId),
            // The statement failed, so nothing was written.
            _ if is_not_null_violation(&error) => Ok(AdapterError::InvalidAttributes(format!(
                "a column of table `{}` that cannot be null has no value",
                table.name
            ))),
            _ => Ok(database(error)),
        };
        outcome.unwrap_or_else(|lookup| lookup)
    }

    /// Runs statements in one transaction, in order; the error says which statement failed
    /// (`None`: beginning or committing). A transaction the database aborts to break a
    /// deadlock is run again, up to [`ATTEMPTS`] times in all.
    async fn in_transaction(&self, statements: &[Statement]) -> Result<(), (Option<usize>, DbErr)> {
        retry_deadlocks(|| self.try_transaction(statements)).await
    }

    async fn try_transaction(&self, statements: &[Statement]) -> Result<(), (Option<usize>, DbErr)> {
        let transaction = self.rerun_on_dead_connection(|| self.db.begin()).await.map_err(|error| (None, error))?;
        let mut outcome = Ok(());
        for (index, statement) in statements.iter().enumerate() {
            if let Err(error) = transaction.execute_raw(statement.clone()).await {
                outcome = Err((Some(index), error));
                break;
            }
        }
        finish(transaction, outcome).await
    }

    /// One statement, run again when the database aborts it to break a deadlock (on MySQL, a
    /// user's deletion and an insert of that user's session can deadlock on the foreign key),
    /// and, if it is [`Write::Idempotent`], when its connection was dead.
    async fn execute_statement(&self, statement: &impl sea_orm::StatementBuilder, write: Write) -> Result<u64, DbErr> {
        let mut attempt = 1;
        loop {
            let outcome = match write {
                Write::Idempotent => self.rerun_on_dead_connection(|| self.db.execute(statement)).await,
                Write::Once => self.db.execute(statement).await,
            };
            match outcome {
                Err(error) if attempt < ATTEMPTS && is_deadlock(&error) => attempt += 1,
                outcome => return outcome.map(|result| result.rows_affected()),
            }
        }
    }

    fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    async fn execute(&self, statement: &impl sea_orm::StatementBuilder, write: Write) -> Result<u64, AdapterError> {
        self.execute_statement(statement, write).await.map_err(database)
    }

    async fn delete_where(&self, table: &Table, column: &str, value: &str) -> Result<(), AdapterError> {
        self.execute(&delete_where_statement(table, column, value), Write::Idempotent).await.map(drop)
    }

    /// Updates row `id` of `table`; a unique attribute value taken by another row is
    /// `DuplicateAttribute`.
    async fn update_where(
        &self,
        table: &Table,
        id: &str,
        values: Vec<(Alias, Expr)>,
        attributes: &AttributeMap,
    ) -> Result<(), AdapterError> {
        if values.is_empty() {
            return Ok(());
        }
        match self.execute_statement(&update_statement(table, id, values), Write::Idempotent).await {
            Ok(_) => Ok(()),
            Err(error) => Err(self.write_failure(table, id, error, None, attributes).await),
        }
    }

    fn delete_statement(&self, table: &Table, column: &str, value: &str) -> Statement {
        self.backend().build(&delete_where_statement(table, column, value))
    }

    /// Deletes with `statement` (a batch of a sweep) until a batch deletes fewer than `batch`
    /// rows; each batch is its own statement, and so its own transaction.
    async fn sweep_batches(&self, statement: &DeleteStatement, batch: u64) -> Result<Sweep, AdapterError> {
        let mut sweep = Sweep { deleted: 0, statements: 0 };
        loop {
            let deleted = self.execute(statement, Write::Idempotent).await?;
            sweep.deleted += deleted;
            sweep.statements += 1;
            if deleted < batch {
                return Ok(sweep);
            }
        }
    }
}

/// Runs `run` (a transaction) again when the database aborts it to break a deadlock, up to
/// [`ATTEMPTS`] times in all. The error's first half says which step failed.
async fn retry_deadlocks<T, Step, Run>(run: impl Fn() -> Run) -> Result<T, (Step, DbErr)>
where
    Run: Future<Output = Result<T, (Step, DbErr)>>,
{
    let mut attempt = 1;
    loop {
        match run().await {
            Err((_, error)) if attempt < ATTEMPTS && is_deadlock(&error) => attempt += 1,
            outcome => return outcome,
        }
    }
}

/// Commits `transaction` if `outcome` is a success (a failed commit is step `Step::default()`),
/// rolls it back otherwise.
async fn finish<T, Step: Default>(
    transaction: DatabaseTransaction,
    outcome: Result<T, (Step, DbErr)>,
) -> Result<T, (Step, DbErr)> {
    match outcome {
        Ok(value) => transaction.commit().await.map(|()| value).map_err(|error| (Step::default(), error)),
        Err(error) => {
            // Dropping the transaction rolls it back; an explicit rollback only reports what
            // the drop would do quietly.
            let _ = transaction.rollback().await;
            Err(error)
        }
    }
}

// ---- users and keys -----------------------------------------------------------------------

impl UsersOnly {
    fn key_password_update(&self, key_id: &str, hashed_password: Option<&str>) -> UpdateStatement {
        let password = Expr::val(Value::String(hashed_password.map(str::to_owned)));
        let mut query = Query::update();
        query
            .table(self.key.table_ref.clone())
            .value(alias("hashed_password"), password)
            .and_where(Expr::col(alias("id")).eq(key_id));
        query
    }

    fn key_insert(&self, key: &DatabaseKey) -> Result<InsertStatement, AdapterError> {
        let password = Expr::val(Value::String(key.hashed_password.clone()));
        insert(
            &self.key,
            vec![
                (alias("id"), text(&key.id)),
                (alias("user_id"), id_insert(&self.key, "user_id", &key.user_id)?),
                (alias("hashed_password"), password),
            ],
        )
    }
}

impl<Shape: HasUserTables> UserAdapter for SeaOrmAdapter<Shape> {
    /// A uuid v7 (time-ordered, so new rows go to the end of the primary key's index) when the
    /// user table's `id` is a uuid column; Lucia v2's 15 random characters otherwise.
    fn new_user_id(&self) -> String {
        #[cfg(feature = "with-uuid")]
        if self.user_tables().user.has_uuid("id") {
            return uuid::Uuid::now_v7().hyphenated().to_string();
        }
        lucia::generate_random_string(lucia::USER_ID_LENGTH)
    }

    async fn get_user(&self, user_id: &str) -> Result<Option<DatabaseUser>, AdapterError> {
        let user = &self.user_tables().user;
        self.fetch_one(&select_where(user, "id", user_id), |row| user_from_row(user, row, 0)).await
    }

    async fn set_user(&self, user: DatabaseUser, key: Option<DatabaseKey>) -> Result<(), AdapterError> {
        let tables = self.user_tables();
        let mut columns = vec![(alias("id"), id_insert(&tables.user, "id", &user.id)?)];
        columns.extend(encode_attributes(&tables.user, &user.attributes, USER_COLUMNS)?);
        let user_insert = insert(&tables.user, columns)?;
        let user_failure =
            |e| self.write_failure(&tables.user, &user.id, e, Some(AdapterError::DuplicateUserId), &user.attributes);
        let Some(key) = key else {
            return match self.execute_statement(&user_insert, Write::Once).await {
                Ok(_) => Ok(()),
                Err(e) => Err(user_failure(e).await),
            };
        };
        let backend = self.backend();
        let statements = [backend.build(&user_insert), backend.build(&tables.key_insert(&key)?)];
        match self.in_transaction(&statements).await {
            Ok(()) => Ok(()),
            Err((Some(0), e)) => Err(user_failure(e).await),
            Err((Some(_), e)) => {
                let no_attributes = AttributeMap::new();
                let duplicate = Some(AdapterError::DuplicateKeyId);
                Err(self.write_failure(&tables.key, &key.id, e, duplicate, &no_attributes).await)
            }
            Err((None, e)) => Err(database(e)),
        }
    }

    async fn update_user(&self, user_id: &str, attributes: AttributeMap) -> Result<(), AdapterError> {
        let user = &self.user_tables().user;
        let values = encode_attributes(user, &attributes, USER_COLUMNS)?;
        self.update_where(user, user_id, values, &attributes).await
    }

    /// With a token table or second-factor tables, one transaction: the user row locked (on
    /// PostgreSQL and MySQL), the user's tokens, recovery codes and TOTP row, then the user.
    async fn delete_user(&self, user_id: &str) -> Result<(), AdapterError> {
        if self.shape.token_table().is_none() && self.shape.second_factor_tables().is_none() {
            return self.delete_where(&self.user_tables().user, "id", user_id).await;
        }
        self.delete_user_rows(user_id, false, None).await
    }

    /// One transaction: on PostgreSQL and MySQL the user row is locked first, so a key
    /// inserted meanwhile fails its foreign key instead of making the delete fail; then its
    /// keys (and passkeys, tokens and second factor, in shapes with those tables) and the user
    /// are deleted.
    async fn delete_user_and_keys(&self, user_id: &str) -> Result<(), AdapterError> {
        self.delete_user_rows(user_id, true, None).await
    }

    async fn get_key(&self, key_id: &str) -> Result<Option<DatabaseKey>, AdapterError> {
        let key = &self.user_tables().key;
        self.fetch_one(&select_where(key, "id", key_id), |row| key_from_row(key, row)).await
    }

    /// A locking read (`FOR SHARE`, `LOCK IN SHARE MODE`): it waits for a transaction that is
    /// changing the key (a password change and its revocation) and then sees its result,
    /// whatever the isolation level. SQLite runs one writer at a time and needs none.
    async fn get_key_latest(&self, key_id: &str) -> Result<Option<DatabaseKey>, AdapterError> {
        let key = &self.user_tables().key;
        let mut query = select_where(key, "id", key_id);
        if self.backend() != DbBackend::Sqlite {
            query.lock_shared();
        }
        self.fetch_one(&query, |row| key_from_row(key, row)).await
    }

    async fn get_keys_by_user_id(&self, user_id: &str) -> Result<Vec<DatabaseKey>, AdapterError> {
        let key = &self.user_tables().key;
        self.fetch_all(&select_where(key, "user_id", user_id), |row| key_from_row(key, row)).await
    }

    async fn set_key(&self, key: DatabaseKey) -> Result<(), AdapterError> {
        let tables = self.user_tables();
        match self.execute_statement(&tables.key_insert(&key)?, Write::Once).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let no_attributes = AttributeMap::new();
                let duplicate = Some(AdapterError::DuplicateKeyId);
                Err(self.write_failure(&tables.key, &key.id, e, duplicate, &no_attributes).await)
            }
        }
    }

    async fn update_key(&self, key_id: &str, hashed_password: Option<&str>) -> Result<(), AdapterError> {
        self.execute(&self.user_tables().key_password_update(key_id, hashed_password), Write::Idempotent)
            .await
            .map(drop)
    }

    async fn replace_key_password(&self, key_id: &str, current: &str, new: &str) -> Result<bool, AdapterError> {
        let mut query = self.user_tables().key_password_update(key_id, Some(new));
        query.and_where(Expr::col(alias("hashed_password")).eq(current));
        Ok(self.execute(&query, Write::Once).await? == 1)
    }

    async fn delete_key(&self, key_id: &str) -> Result<(), AdapterError> {
        self.delete_where(&self.user_tables().key, "id", key_id).await
    }

    /// One transaction, after a `SELECT ... FOR UPDATE` of the user on PostgreSQL and
    /// MySQL/MariaDB: the key's `DELETE`, then the user's keys and passkeys left, and a
    /// rollback if none counts.
    async fn delete_key_unless_last(
        &self,
        user_id: &str,
        key_id: &str,
        uncounted_providers: &[&str],
    ) -> Result<SignInMethodDeletion, AdapterError> {
        let counts = counts_as_sign_in_method(key_id, uncounted_providers);
        self.delete_sign_in_method(&self.user_tables().key, user_id, key_id, counts, uncounted_providers).await
    }

    async fn delete_keys_by_user_id(&self, user_id: &str) -> Result<(), AdapterError> {
        self.delete_where(&self.user_tables().key, "user_id", user_id).await
    }

    /// In batches of 1000 rows, as [`delete_dead_sessions`](SessionAdapter::delete_dead_sessions)
    /// does, through the index on `expires`. Deletes nothing without a token table.
    async fn delete_expired_tokens(&self, now_ms: i64) -> Result<u64, AdapterError> {
        self.sweep_tokens(now_ms, SWEEP_BATCH).await.map(|sweep| sweep.deleted)
    }
}

// ---- sessions -----------------------------------------------------------------------------

/// The most rows one statement of a sweep deletes: each batch is its own short statement, so
/// none holds its locks across a big table for long.
pub(crate) const SWEEP_BATCH: u64 = 1000;

/// What a sweep did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sweep {
    pub(crate) deleted: u64,
    pub(crate) statements: u64,
}

impl SessionsOnly {
    fn describe<E: EntityTrait>(entity: E) -> Result<Self, SchemaError> {
        Ok(Self { session: schema::session_table(entity)? })
    }

    fn is_dead(&self, now_ms: i64) -> Result<Expr, AdapterError> {
        expired(&self.session, "idle_expires", now_ms)
    }

    fn delete_dead_of_user(&self, user_id: &str, now_ms: i64) -> Result<DeleteStatement, AdapterError> {
        let mut query = Query::delete();
        query
            .from_table(self.session.table_ref.clone())
            .and_where(self.is_dead(now_ms)?)
            .and_where(Expr::col(alias("user_id")).eq(id_value(&self.session, "user_id", user_id)));
        Ok(query)
    }
}

/// Rows whose `column` (milliseconds) is strictly before `now_ms`.
fn expired(table: &Table, column: &str, now_ms: i64) -> Result<Expr, AdapterError> {
    Ok(Expr::col(alias(column)).lt(number(table, column, now_ms)?))
}

/// One batch of a sweep: at most `limit` rows of `table` whose `column` is before `now_ms`,
/// found through the index on `column`. MySQL/MariaDB allow `ORDER BY ... LIMIT` on a `DELETE`
/// (but no `LIMIT` in an `IN` subquery); PostgreSQL (and SQLite as usually built) have no
/// `LIMIT` on `DELETE`, so the ids come from a limited subquery.
fn delete_expired_batch(
    table: &Table,
    column: &str,
    backend: DbBackend,
    now_ms: i64,
    limit: u64,
) -> Result<DeleteStatement, AdapterError> {
    let mut query = Query::delete();
    query.from_table(table.table_ref.clone());
    if backend == DbBackend::MySql {
        query.and_where(expired(table, column, now_ms)?).order_by(alias(column), Order::Asc).limit(limit);
    } else {
        let mut batch = Query::select();
        batch.column(alias("id")).from(table.table_ref.clone()).and_where(expired(table, column, now_ms)?).limit(limit);
        query.and_where(Expr::col(alias("id")).in_subquery(batch));
    }
    Ok(query)
}

impl<Shape: HasSessionTable> SeaOrmAdapter<Shape> {
    /// Deletes dead sessions `batch` at a time, each batch its own statement (and so its own
    /// transaction), until one deletes fewer than `batch`.
    pub(crate) async fn sweep(&self, now_ms: i64, batch: u64) -> Result<Sweep, AdapterError> {
        let statement = delete_expired_batch(self.session(), "idle_expires", self.backend(), now_ms, batch)?;
        self.sweep_batches(&statement, batch).await
    }

    /// The one-off step that moves a session table from clear ids (Lucia v2,
    /// [`SessionTokens::Plain`](lucia::SessionTokens::Plain)) to hashed ids (the default,
    /// [`SessionTokens::Hashed`](lucia::SessionTokens::Hashed)): each `id` is replaced by the
    /// SHA-256 of the token it holds, in one transaction, and returns how many it replaced.
    ///
    /// Signed-in users stay signed in: their tokens validate under the hashed mode afterwards.
    /// Run it once, when every instance of the application switches to the hashed mode (a
    /// Lucia v2 application sharing the table can no longer validate the converted sessions).
    /// Ids that already are 64 lowercase hex characters (a SHA-256, never a Lucia v2 id) are
    /// left alone, so running it again changes nothing. Available on the adapters with a
    /// session table ([`WithSessions`], [`SessionsOnly`]).
    ///
    /// ```
    /// # async fn demo(adapter: lucia_adapter_sea_orm::SeaOrmAdapter) -> Result<(), lucia::AdapterError> {
    /// let converted = adapter.hash_clear_session_ids().await?;
    /// println!("{converted} sessions now stored hashed");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn hash_clear_session_ids(&self) -> Result<u64, AdapterError> {
        let table = self.session();
        let mut query = Query::select();
        query.column(alias("id")).from(table.table_ref.clone());
        let transaction = self.db.begin().await.map_err(database)?;
        let outcome = async {
            let rows = transaction.query_all(&query).await.map_err(database)?;
            let mut converted = 0;
            for row in rows {
                let id: String = row.try_get("", "id").map_err(database)?;
                if lucia::SessionTokens::is_hashed_id(&id) {
                    continue;
                }
                let mut update = Query::update();
                update
                    .table(table.table_ref.clone())
                    .value(alias("id"), text(&lucia::SessionTokens::Hashed.stored_id(&id)))
                    .and_where(Expr::col(alias("id")).eq(id.as_str()));
                converted += transaction.execute(&update).await.map_err(database)?.rows_affected();
            }
            Ok(converted)
        }
        .await;
        match outcome {
            Ok(converted) => transaction.commit().await.map_err(database).map(|()| converted),
            Err(error) => {
                transaction.rollback().await.map_err(database)?;
                Err(error)
            }
        }
    }
}

impl<Shape: HasSessionTable> SessionAdapter for SeaOrmAdapter<Shape> {
    async fn get_session(&self, session_id: &str) -> Result<Option<DatabaseSession>, AdapterError> {
        let table = self.session();
        self.fetch_one(&select_where(table, "id", session_id), |row| session_from_row(table, row, 0)).await
    }

    async fn get_sessions_by_user_id(&self, user_id: &str) -> Result<Vec<DatabaseSession>, AdapterError> {
        let table = self.session();
        self.fetch_all(&select_where(table, "user_id", user_id), |row| session_from_row(table, row, 0)).await
    }

    async fn set_session(&self, session: DatabaseSession) -> Result<(), AdapterError> {
        let table = self.session();
        let mut columns = vec![
            (alias("id"), text(&session.id)),
            (alias("user_id"), id_insert(table, "user_id", &session.user_id)?),
            (alias("active_expires"), number(table, "active_expires", session.active_expires)?),
            (alias("idle_expires"), number(table, "idle_expires", session.idle_expires)?),
        ];
        columns.extend(encode_attributes(table, &session.attributes, SESSION_COLUMNS)?);
        match self.execute_statement(&insert(table, columns)?, Write::Once).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let duplicate = Some(AdapterError::DuplicateSessionId);
                Err(self.write_failure(table, &session.id, e, duplicate, &session.attributes).await)
            }
        }
    }

    async fn update_session(&self, session_id: &str, update: SessionUpdate) -> Result<(), AdapterError> {
        let table = self.session();
        let mut values = encode_attributes(table, &update.attributes, SESSION_COLUMNS)?;
        if let Some((active, idle)) = update.expires {
            values.push((alias("active_expires"), number(table, "active_expires", active)?));
            values.push((alias("idle_expires"), number(table, "idle_expires", idle)?));
        }
        self.update_where(table, session_id, values, &update.attributes).await
    }

    async fn delete_session(&self, session_id: &str) -> Result<(), AdapterError> {
        self.delete_where(self.session(), "id", session_id).await
    }

    async fn delete_sessions_by_user_id(&self, user_id: &str) -> Result<(), AdapterError> {
        self.delete_where(self.session(), "user_id", user_id).await
    }

    async fn delete_dead_sessions_by_user_id(&self, user_id: &str, now_ms: i64) -> Result<(), AdapterError> {
        self.execute(&self.shape.session_table().delete_dead_of_user(user_id, now_ms)?, Write::Idempotent)
            .await
            .map(drop)
    }

    /// In batches of 1000 rows, each its own statement, on the index on `idle_expires`: a
    /// sweep of a big table never holds locks on much of it at once.
    async fn delete_dead_sessions(&self, now_ms: i64) -> Result<u64, AdapterError> {
        self.sweep(now_ms, SWEEP_BATCH).await.map(|sweep| sweep.deleted)
    }
}

// ---- users, keys and sessions together ----------------------------------------------------

impl<Shape: HasAllTables> Adapter for SeaOrmAdapter<Shape> {
    /// One query: the session joined with its user.
    async fn get_session_and_user(
        &self,
        session_id: &str,
    ) -> Result<Option<(DatabaseSession, DatabaseUser)>, AdapterError> {
        // Aliased so that the two `id`s stay apart; decoded by position.
        const SESSION: &str = "s__";
        const USER: &str = "u__";
        let (session, user) = (self.session(), &self.user_tables().user);
        let sql = self.shape.all_tables().session_and_user_sql.get_or_init(|| {
            let mut query = Query::select();
            for column in &session.columns {
                let expr = select_expr(column, Expr::col((alias("s"), alias(&column.name))));
                query.expr_as(expr, alias(&format!("{SESSION}{}", column.name)));
            }
            for column in &user.columns {
                let expr = select_expr(column, Expr::col((alias("u"), alias(&column.name))));
                query.expr_as(expr, alias(&format!("{USER}{}", column.name)));
            }
            query
                .from_as(session.table_ref.clone(), alias("s"))
                .join_as(
                    JoinType::InnerJoin,
                    user.table_ref.clone(),
                    alias("u"),
                    Expr::col((alias("u"), alias("id"))).equals((alias("s"), alias("user_id"))),
                )
                // The one parameter; its value is bound per call below.
                .and_where(Expr::col((alias("s"), alias("id"))).eq(""));
            self.backend().build(&query).sql
        });
        let row = self.rerun_on_dead_connection(|| self.query_one_by_text(sql, session_id)).await.map_err(database)?;
        row.as_ref()
            .map(|row| Ok((session_from_row(session, row, 0)?, user_from_row(user, row, session.columns.len())?)))
            .transpose()
    }

    /// One transaction, as [`delete_user_and_keys`](UserAdapter::delete_user_and_keys) with
    /// the user's sessions first.
    async fn delete_user_cascade(&self, user_id: &str) -> Result<(), AdapterError> {
        self.delete_user_rows(user_id, true, Some(self.session())).await
    }

    /// One transaction: the key's update, then the delete of the user's sessions.
    async fn update_key_and_end_sessions(
        &self,
        key_id: &str,
        hashed_password: Option<&str>,
        user_id: &str,
    ) -> Result<(), AdapterError> {
        let statements = vec![
            self.backend().build(&self.user_tables().key_password_update(key_id, hashed_password)),
            self.delete_statement(self.session(), "user_id", user_id),
        ];
        self.in_transaction(&statements).await.map_err(|(_, error)| database(error))
    }
}

// ---- tokens -------------------------------------------------------------------------------

impl<Shape: HasTokenTable> SeaOrmAdapter<Shape> {
    fn tokens(&self) -> &Table {
        &self.shape.tokens().0
    }

    /// The token table's columns, in `Table::columns`' order, for `RETURNING`.
    fn token_returning(&self) -> sea_orm::sea_query::ReturningClause {
        Query::returning().columns(self.tokens().columns.iter().map(|column| alias(&column.name)))
    }

    /// `set_token`'s upsert: on the unique `(user_id, kind)` the row takes the new token's id,
    /// address, expiry and count (`ON CONFLICT ... DO UPDATE` on PostgreSQL and SQLite,
    /// `ON DUPLICATE KEY UPDATE` on MySQL/MariaDB).
    fn token_upsert(&self, token: &DatabaseToken) -> Result<InsertStatement, AdapterError> {
        let table = self.tokens();
        let mut query = insert(
            table,
            vec![
                (alias("id"), text(&token.id)),
                (alias("user_id"), id_insert(table, "user_id", &token.user_id)?),
                (alias("kind"), text(token.kind.as_str())),
                (alias("email"), text(&token.email)),
                (alias("expires"), number(table, "expires", token.expires)?),
                (alias("attempts"), number(table, "attempts", token.attempts.into())?),
            ],
        )?;
        query.on_conflict(
            OnConflict::columns([alias("user_id"), alias("kind")])
                .update_columns([alias("id"), alias("email"), alias("expires"), alias("attempts")])
                .to_owned(),
        );
        Ok(query)
    }

    /// Deletes the token in `transaction` and returns its user, if it was there. PostgreSQL and
    /// SQLite do it in one `DELETE ... RETURNING`; MySQL has no `RETURNING`, so the row is
    /// locked and read first (a concurrent consumer waits, then finds it gone).
    async fn take_token(&self, transaction: &DatabaseTransaction, token_id: &str) -> Result<Option<String>, DbErr> {
        let table = self.tokens();
        let mut delete = delete_where_statement(table, "id", token_id);
        if self.backend() != DbBackend::MySql {
            delete.returning_col(alias("user_id"));
            let row = transaction.query_one(&delete).await?;
            return row.map(|row| read_id(table, "user_id", &row, 0)).transpose();
        }
        let mut select = Query::select();
        select.column(alias("user_id")).from(table.table_ref.clone()).and_where(Expr::col(alias("id")).eq(token_id));
        select.lock_exclusive();
        let Some(row) = transaction.query_one(&select).await? else { return Ok(None) };
        let user_id = read_id(table, "user_id", &row, 0)?;
        transaction.execute(&delete).await?;
        Ok(Some(user_id))
    }

    /// One try of `consume_token`: the token's deletion, then, if it was there, its user's
    /// update with `values`. A failed update is `Some(user id)`, the other failures `None`.
    async fn try_consume(&self, token_id: &str, values: &[(Alias, Expr)]) -> Result<bool, (Option<String>, DbErr)> {
        let transaction = self.db.begin().await.map_err(|error| (None, error))?;
        let outcome = async {
            let Some(user_id) = self.take_token(&transaction, token_id).await.map_err(|error| (None, error))? else {
                return Ok(false);
            };
            if !values.is_empty() {
                let update = update_statement(&self.user_tables().user, &user_id, values.to_vec());
                transaction.execute(&update).await.map_err(|error| (Some(user_id), error))?;
            }
            Ok(true)
        }
        .await;
        finish(transaction, outcome).await
    }

    /// One try of `count_token_attempt` on MySQL/MariaDB (no `UPDATE ... RETURNING`): the
    /// increment, then the row it wrote, read in the same transaction.
    async fn try_count_then_read(
        &self,
        increment: &UpdateStatement,
        token_id: &str,
    ) -> Result<Option<QueryResult>, ((), DbErr)> {
        let transaction = self.db.begin().await.map_err(|error| ((), error))?;
        let outcome = async {
            if transaction.execute(increment).await?.rows_affected() == 0 {
                return Ok(None);
            }
            transaction.query_one(&select_where(self.tokens(), "id", token_id)).await
        }
        .await
        .map_err(|error| ((), error));
        finish(transaction, outcome).await
    }
}

impl<Shape: HasTokenTable> TokenAdapter for SeaOrmAdapter<Shape> {
    async fn set_token(&self, token: DatabaseToken) -> Result<(), AdapterError> {
        let upsert = self.token_upsert(&token)?;
        let outcome = if self.backend() == DbBackend::Sqlite {
            // SQLite compiles a statement against the schema its connection last read, so on a
            // pooled connection idle since the token table's unique index was made (by a
            // migration on another connection), `ON CONFLICT (user_id, kind)` fails to compile.
            // A statement on the table first, on the same connection, loads the current schema:
            // a write that deletes nothing, so that the transaction takes the write lock at once
            // (a read first would make it a reader that cannot become the writer when another
            // wrote meanwhile: "database is locked").
            let mut probe = Query::delete();
            probe.from_table(self.tokens().table_ref.clone()).and_where(Expr::val(1).eq(0));
            let backend = self.backend();
            self.in_transaction(&[backend.build(&probe), backend.build(&upsert)]).await.map_err(|(_, error)| error)
        } else {
            self.execute_statement(&upsert, Write::Once).await.map(drop)
        };
        match outcome {
            Ok(()) => Ok(()),
            Err(error) if is_unknown_user(&error) => Err(AdapterError::InvalidUserId),
            Err(error) => Err(database(error)),
        }
    }

    async fn get_token(&self, token_id: &str) -> Result<Option<DatabaseToken>, AdapterError> {
        let table = self.tokens();
        self.fetch_one(&select_where(table, "id", token_id), |row| token_from_row(table, row)).await
    }

    async fn get_user_token(&self, user_id: &str, kind: TokenKind) -> Result<Option<DatabaseToken>, AdapterError> {
        let table = self.tokens();
        let mut query = select_where(table, "user_id", user_id);
        query.and_where(Expr::col(alias("kind")).eq(kind.as_str()));
        self.fetch_one(&query, |row| token_from_row(table, row)).await
    }

    /// One `UPDATE ... RETURNING` on PostgreSQL and SQLite; on MySQL/MariaDB a transaction of
    /// the `UPDATE` and a read of the row (the update's lock keeps others' increments out
    /// until it commits).
    async fn count_token_attempt(&self, token_id: &str) -> Result<Option<u32>, AdapterError> {
        let table = self.tokens();
        let mut increment = Query::update();
        increment
            .table(table.table_ref.clone())
            .value(alias("attempts"), Expr::col(alias("attempts")).add(1))
            .and_where(Expr::col(alias("id")).eq(token_id));
        let row = if self.backend() == DbBackend::MySql {
            retry_deadlocks(|| self.try_count_then_read(&increment, token_id))
                .await
                .map_err(|((), error)| database(error))?
        } else {
            increment.returning(self.token_returning());
            self.db.query_one(&increment).await.map_err(database)?
        };
        row.map(|row| token_from_row(table, &row).map(|token| token.attempts)).transpose()
    }

    /// One transaction: the token's deletion, then its user's update. The update is encoded
    /// and checked before anything is written; a failed update (a unique value taken) rolls
    /// the deletion back.
    async fn consume_token(&self, token_id: &str, attributes: AttributeMap) -> Result<bool, AdapterError> {
        let user = &self.user_tables().user;
        let values = encode_attributes(user, &attributes, USER_COLUMNS)?;
        match retry_deadlocks(|| self.try_consume(token_id, &values)).await {
            Ok(consumed) => Ok(consumed),
            Err((Some(user_id), error)) => Err(self.write_failure(user, &user_id, error, None, &attributes).await),
            Err((None, error)) => Err(database(error)),
        }
    }

    /// One transaction: the deletion of the user's tokens, then the user's update.
    async fn revoke_user_tokens(&self, user_id: &str, attributes: AttributeMap) -> Result<(), AdapterError> {
        let user = &self.user_tables().user;
        let values = encode_attributes(user, &attributes, USER_COLUMNS)?;
        let mut statements = vec![self.delete_statement(self.tokens(), "user_id", user_id)];
        if !values.is_empty() {
            statements.push(self.backend().build(&update_statement(user, user_id, values)));
        }
        match self.in_transaction(&statements).await {
            Ok(()) => Ok(()),
            Err((Some(1), error)) => Err(self.write_failure(user, user_id, error, None, &attributes).await),
            Err((_, error)) => Err(database(error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_tables_description() {
        let tables = Tables {
            user: crate::entity::user::Entity,
            key: crate::entity::key::Entity,
            session: crate::entity::session::Entity,
        };
        let adapter = SeaOrmAdapter::new(DatabaseConnection::default(), tables).expect("the crate's entities");
        assert!(Arc::ptr_eq(&adapter.shape, &adapter.clone().shape));
    }
}
