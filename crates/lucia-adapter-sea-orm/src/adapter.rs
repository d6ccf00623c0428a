//! [`SeaOrmAdapter`]: Lucia's adapter traits over a SeaORM connection.

use lucia::{
    Adapter, AdapterError, AttributeMap, DatabaseKey, DatabaseSession, DatabaseUser, SessionAdapter, SessionUpdate,
    UserAdapter,
};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, JoinType, Query, SelectStatement, Value};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryResult, SqlErr, Statement,
    TransactionTrait,
};

use crate::codec::{decode_row, encode, take_millis, take_optional_text, take_text};
use crate::schema::{self, SchemaError, Table};

/// The entities an adapter stores users, keys and sessions in: the counterpart of the
/// `tables` argument of Lucia's `typeorm(dataSource, { user, key, session })`.
///
/// `session` is a session entity, or [`NoSessionTable`] when sessions live in another
/// adapter (Lucia's `session: null`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Tables<U, K, S> {
    /// The user entity: an `id` text primary key plus any attribute columns.
    pub user: U,
    /// The key entity: `id`, `user_id`, nullable `hashed_password`.
    pub key: K,
    /// The session entity (`id`, `user_id`, `active_expires`, `idle_expires`, plus any
    /// attribute columns), or [`NoSessionTable`].
    pub session: S,
}

/// No session table: the adapter stores users and keys only and is combined with a session
/// adapter through [`lucia::SplitAdapter`]. (Lucia v2 accepted `session: null` and then threw
/// "Session table not defined" at run time; here a users-only adapter has no session methods.)
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSessionTable;

/// The session table of a [`SeaOrmAdapter`] that stores sessions.
#[derive(Debug, Clone)]
pub struct WithSessions(Table);

/// What may stand in [`Tables::session`]: any SeaORM entity, or [`NoSessionTable`].
pub trait SessionTableOption {
    /// [`WithSessions`] or [`NoSessionTable`].
    type Sessions;
    /// Checks the entity and describes it.
    fn describe(self) -> Result<Self::Sessions, SchemaError>;
}

impl<E: EntityTrait> SessionTableOption for E {
    type Sessions = WithSessions;
    fn describe(self) -> Result<WithSessions, SchemaError> {
        schema::session_table(self).map(WithSessions)
    }
}

impl SessionTableOption for NoSessionTable {
    type Sessions = NoSessionTable;
    fn describe(self) -> Result<NoSessionTable, SchemaError> {
        Ok(self)
    }
}

/// Lucia's adapter over a SeaORM [`DatabaseConnection`] and the caller's entities, on
/// PostgreSQL, MySQL/MariaDB or SQLite. See the [crate documentation](crate).
#[derive(Debug, Clone)]
pub struct SeaOrmAdapter<Sessions = WithSessions> {
    db: DatabaseConnection,
    user: Table,
    key: Table,
    sessions: Sessions,
}

impl SeaOrmAdapter {
    /// Builds an adapter over `db` storing in the given entities' tables.
    ///
    /// Checks the entities now, so a missing or mistyped required column is an error here
    /// rather than on the first request: `id` columns and `user_id` must be text,
    /// `hashed_password` nullable text, `active_expires`/`idle_expires` 64-bit integers, and
    /// every column a type the adapter can carry (text, integers, floats, booleans, JSON,
    /// binary). It does not query the database.
    pub fn new<U, K, S>(
        db: DatabaseConnection,
        tables: Tables<U, K, S>,
    ) -> Result<SeaOrmAdapter<S::Sessions>, SchemaError>
    where
        U: EntityTrait,
        K: EntityTrait,
        S: SessionTableOption,
    {
        Ok(SeaOrmAdapter {
            db,
            user: schema::user_table(tables.user)?,
            key: schema::key_table(tables.key)?,
            sessions: tables.session.describe()?,
        })
    }
}

impl<Sessions> SeaOrmAdapter<Sessions> {
    /// The connection the adapter runs on.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }
}

// ---- statements ---------------------------------------------------------------------------

fn alias(name: &str) -> Alias {
    Alias::new(name)
}

fn select_all(table: &Table) -> SelectStatement {
    let mut query = Query::select();
    query.columns(table.columns.iter().map(|c| alias(&c.name))).from(table.table_ref.clone());
    query
}

fn select_where(table: &Table, column: &str, value: &str) -> SelectStatement {
    let mut query = select_all(table);
    query.and_where(Expr::col(alias(column)).eq(value));
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
            Ok((alias(name), Expr::val(encode(column, value)?)))
        })
        .collect()
}

fn insert(table: &Table, pairs: Vec<(Alias, Expr)>) -> Result<sea_orm::sea_query::InsertStatement, AdapterError> {
    let (columns, values): (Vec<_>, Vec<_>) = pairs.into_iter().unzip();
    let mut query = Query::insert();
    query.into_table(table.table_ref.clone()).columns(columns);
    query.values(values).map_err(AdapterError::database)?;
    Ok(query)
}

fn text(value: &str) -> Expr {
    Expr::val(Value::String(Some(value.to_owned())))
}

fn millis(table: &Table, column: &str, value: i64) -> Result<Expr, AdapterError> {
    let column =
        table.column(column).ok_or_else(|| AdapterError::InvalidAttributes(format!("no column `{column}`")))?;
    Ok(Expr::val(encode(column, &value.into())?))
}

const USER_COLUMNS: &[&str] = &["id"];
const SESSION_COLUMNS: &[&str] = &["id", "user_id", "active_expires", "idle_expires"];

// ---- rows ---------------------------------------------------------------------------------

fn user_from_row(table: &Table, row: &QueryResult, prefix: &str) -> Result<DatabaseUser, AdapterError> {
    let mut attributes = decode_row(table, row, prefix)?;
    Ok(DatabaseUser { id: take_text(&mut attributes, "id")?, attributes })
}

fn key_from_row(table: &Table, row: &QueryResult) -> Result<DatabaseKey, AdapterError> {
    let mut columns = decode_row(table, row, "")?;
    Ok(DatabaseKey {
        id: take_text(&mut columns, "id")?,
        user_id: take_text(&mut columns, "user_id")?,
        hashed_password: take_optional_text(&mut columns, "hashed_password")?,
    })
}

fn session_from_row(table: &Table, row: &QueryResult, prefix: &str) -> Result<DatabaseSession, AdapterError> {
    let mut attributes = decode_row(table, row, prefix)?;
    Ok(DatabaseSession {
        id: take_text(&mut attributes, "id")?,
        user_id: take_text(&mut attributes, "user_id")?,
        active_expires: take_millis(&mut attributes, "active_expires")?,
        idle_expires: take_millis(&mut attributes, "idle_expires")?,
        attributes,
    })
}

// ---- errors -------------------------------------------------------------------------------

fn database(error: DbErr) -> AdapterError {
    AdapterError::database(error)
}

/// How often a statement or transaction aborted by a deadlock is run in all.
const ATTEMPTS: usize = 3;

/// The driver's error, when the database refused the statement.
fn driver_error(error: &DbErr) -> Option<&(dyn sea_orm::sqlx::error::DatabaseError + 'static)> {
    match error {
        DbErr::Exec(sea_orm::RuntimeErr::SqlxError(error)) | DbErr::Query(sea_orm::RuntimeErr::SqlxError(error)) => {
            match &**error {
                sea_orm::sqlx::Error::Database(error) => Some(&**error),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A `NOT NULL` column left without a value (sqlx reads the SQLSTATE, MySQL error number or
/// SQLite extended code).
fn is_not_null_violation(error: &DbErr) -> bool {
    driver_error(error).is_some_and(|error| matches!(error.kind(), sea_orm::sqlx::error::ErrorKind::NotNullViolation))
}

/// Whether the database aborted the statement to break a deadlock (SQLSTATE `40001` on
/// MySQL/MariaDB and for PostgreSQL's serialization failures, `40P01` for PostgreSQL's
/// deadlocks): running it again is safe.
fn is_deadlock(error: &DbErr) -> bool {
    driver_error(error).is_some_and(|error| matches!(error.code().as_deref(), Some("40001" | "40P01")))
}

impl<Sessions> SeaOrmAdapter<Sessions> {
    async fn fetch_one<T>(
        &self,
        query: &SelectStatement,
        convert: impl FnOnce(&QueryResult) -> Result<T, AdapterError>,
    ) -> Result<Option<T>, AdapterError> {
        let row = self.db.query_one(query).await.map_err(database)?;
        row.as_ref().map(convert).transpose()
    }

    async fn fetch_all<T>(
        &self,
        query: &SelectStatement,
        convert: impl Fn(&QueryResult) -> Result<T, AdapterError>,
    ) -> Result<Vec<T>, AdapterError> {
        let rows = self.db.query_all(query).await.map_err(database)?;
        rows.iter().map(convert).collect()
    }

    async fn exists(&self, mut query: SelectStatement) -> Result<bool, AdapterError> {
        query.expr(Expr::val(1));
        Ok(self.db.query_one(&query).await.map_err(database)?.is_some())
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
                .and_where(Expr::col(alias(&column.name)).eq(Expr::val(encode(column, value)?)))
                .and_where(Expr::col(alias("id")).ne(own_id));
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
                same_id.from(table.table_ref.clone()).and_where(Expr::col(alias("id")).eq(id));
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
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => Ok(AdapterError::InvalidUserId),
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
        let mut attempt = 1;
        loop {
            match self.try_transaction(statements).await {
                Err((_, error)) if attempt < ATTEMPTS && is_deadlock(&error) => attempt += 1,
                outcome => return outcome,
            }
        }
    }

    async fn try_transaction(&self, statements: &[Statement]) -> Result<(), (Option<usize>, DbErr)> {
        let transaction = self.db.begin().await.map_err(|error| (None, error))?;
        for (index, statement) in statements.iter().enumerate() {
            if let Err(error) = transaction.execute_raw(statement.clone()).await {
                // Dropping the transaction rolls it back; an explicit rollback only reports
                // what the drop would do quietly.
                let _ = transaction.rollback().await;
                return Err((Some(index), error));
            }
        }
        transaction.commit().await.map_err(|error| (None, error))
    }

    /// One statement, run again when the database aborts it to break a deadlock (on MySQL, a
    /// user's deletion and an insert of that user's session can deadlock on the foreign key).
    async fn execute_statement(&self, statement: &impl sea_orm::StatementBuilder) -> Result<u64, DbErr> {
        let mut attempt = 1;
        loop {
            match self.db.execute(statement).await {
                Err(error) if attempt < ATTEMPTS && is_deadlock(&error) => attempt += 1,
                outcome => return outcome.map(|result| result.rows_affected()),
            }
        }
    }

    fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    async fn execute(&self, statement: &impl sea_orm::StatementBuilder) -> Result<u64, AdapterError> {
        self.execute_statement(statement).await.map_err(database)
    }

    async fn delete_where(&self, table: &Table, column: &str, value: &str) -> Result<(), AdapterError> {
        let mut query = Query::delete();
        query.from_table(table.table_ref.clone()).and_where(Expr::col(alias(column)).eq(value));
        self.execute(&query).await.map(drop)
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
        let mut query = Query::update();
        query.table(table.table_ref.clone()).values(values).and_where(Expr::col(alias("id")).eq(id));
        match self.execute_statement(&query).await {
            Ok(_) => Ok(()),
            Err(error) => Err(self.write_failure(table, id, error, None, attributes).await),
        }
    }

    fn delete_statement(&self, table: &Table, column: &str, value: &str) -> Statement {
        let mut query = Query::delete();
        query.from_table(table.table_ref.clone()).and_where(Expr::col(alias(column)).eq(value));
        self.backend().build(&query)
    }

    fn key_password_update(&self, key_id: &str, hashed_password: Option<&str>) -> sea_orm::sea_query::UpdateStatement {
        let password = Expr::val(Value::String(hashed_password.map(str::to_owned)));
        let mut query = Query::update();
        query
            .table(self.key.table_ref.clone())
            .value(alias("hashed_password"), password)
            .and_where(Expr::col(alias("id")).eq(key_id));
        query
    }

    fn key_insert(&self, key: &DatabaseKey) -> Result<sea_orm::sea_query::InsertStatement, AdapterError> {
        let password = Expr::val(Value::String(key.hashed_password.clone()));
        insert(
            &self.key,
            vec![
                (alias("id"), text(&key.id)),
                (alias("user_id"), text(&key.user_id)),
                (alias("hashed_password"), password),
            ],
        )
    }
}

// ---- users and keys -----------------------------------------------------------------------

impl<Sessions: Send + Sync> UserAdapter for SeaOrmAdapter<Sessions> {
    async fn get_user(&self, user_id: &str) -> Result<Option<DatabaseUser>, AdapterError> {
        self.fetch_one(&select_where(&self.user, "id", user_id), |row| user_from_row(&self.user, row, "")).await
    }

    async fn set_user(&self, user: DatabaseUser, key: Option<DatabaseKey>) -> Result<(), AdapterError> {
        let mut columns = vec![(alias("id"), text(&user.id))];
        columns.extend(encode_attributes(&self.user, &user.attributes, USER_COLUMNS)?);
        let user_insert = insert(&self.user, columns)?;
        let user_failure =
            |e| self.write_failure(&self.user, &user.id, e, Some(AdapterError::DuplicateUserId), &user.attributes);
        let Some(key) = key else {
            return match self.execute_statement(&user_insert).await {
                Ok(_) => Ok(()),
                Err(e) => Err(user_failure(e).await),
            };
        };
        let backend = self.backend();
        let statements = [backend.build(&user_insert), backend.build(&self.key_insert(&key)?)];
        match self.in_transaction(&statements).await {
            Ok(()) => Ok(()),
            Err((Some(0), e)) => Err(user_failure(e).await),
            Err((Some(_), e)) => {
                let no_attributes = AttributeMap::new();
                let duplicate = Some(AdapterError::DuplicateKeyId);
                Err(self.write_failure(&self.key, &key.id, e, duplicate, &no_attributes).await)
            }
            Err((None, e)) => Err(database(e)),
        }
    }

    async fn update_user(&self, user_id: &str, attributes: AttributeMap) -> Result<(), AdapterError> {
        let values = encode_attributes(&self.user, &attributes, USER_COLUMNS)?;
        self.update_where(&self.user, user_id, values, &attributes).await
    }

    async fn delete_user(&self, user_id: &str) -> Result<(), AdapterError> {
        self.delete_where(&self.user, "id", user_id).await
    }

    async fn get_key(&self, key_id: &str) -> Result<Option<DatabaseKey>, AdapterError> {
        self.fetch_one(&select_where(&self.key, "id", key_id), |row| key_from_row(&self.key, row)).await
    }

    /// A locking read (`FOR SHARE`, `LOCK IN SHARE MODE`): it waits for a transaction that is
    /// changing the key (a password change and its revocation) and then sees its result,
    /// whatever the isolation level. SQLite runs one writer at a time and needs none.
    async fn get_key_latest(&self, key_id: &str) -> Result<Option<DatabaseKey>, AdapterError> {
        let mut query = select_where(&self.key, "id", key_id);
        if self.backend() != DbBackend::Sqlite {
            query.lock_shared();
        }
        self.fetch_one(&query, |row| key_from_row(&self.key, row)).await
    }

    async fn get_keys_by_user_id(&self, user_id: &str) -> Result<Vec<DatabaseKey>, AdapterError> {
        self.fetch_all(&select_where(&self.key, "user_id", user_id), |row| key_from_row(&self.key, row)).await
    }

    async fn set_key(&self, key: DatabaseKey) -> Result<(), AdapterError> {
        match self.execute_statement(&self.key_insert(&key)?).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let no_attributes = AttributeMap::new();
                Err(self.write_failure(&self.key, &key.id, e, Some(AdapterError::DuplicateKeyId), &no_attributes).await)
            }
        }
    }

    async fn update_key(&self, key_id: &str, hashed_password: Option<&str>) -> Result<(), AdapterError> {
        self.execute(&self.key_password_update(key_id, hashed_password)).await.map(drop)
    }

    async fn replace_key_password(&self, key_id: &str, current: &str, new: &str) -> Result<bool, AdapterError> {
        let mut query = self.key_password_update(key_id, Some(new));
        query.and_where(Expr::col(alias("hashed_password")).eq(current));
        Ok(self.execute(&query).await? == 1)
    }

    async fn delete_key(&self, key_id: &str) -> Result<(), AdapterError> {
        self.delete_where(&self.key, "id", key_id).await
    }

    async fn delete_keys_by_user_id(&self, user_id: &str) -> Result<(), AdapterError> {
        self.delete_where(&self.key, "user_id", user_id).await
    }
}

// ---- sessions -----------------------------------------------------------------------------

impl SeaOrmAdapter<WithSessions> {
    fn session(&self) -> &Table {
        &self.sessions.0
    }

    fn delete_dead(
        &self,
        user_id: Option<&str>,
        now_ms: i64,
    ) -> Result<sea_orm::sea_query::DeleteStatement, AdapterError> {
        let mut query = Query::delete();
        query.from_table(self.session().table_ref.clone()).and_where(Expr::col(alias("idle_expires")).lt(millis(
            self.session(),
            "idle_expires",
            now_ms,
        )?));
        if let Some(user_id) = user_id {
            query.and_where(Expr::col(alias("user_id")).eq(user_id));
        }
        Ok(query)
    }
}

impl SeaOrmAdapter<WithSessions> {
    /// The one-off step that moves a session table from clear ids (Lucia v2,
    /// [`SessionTokens::Plain`](lucia::SessionTokens::Plain)) to hashed ids (the default,
    /// [`SessionTokens::Hashed`](lucia::SessionTokens::Hashed)): each `id` is replaced by the
    /// SHA-256 of the token it holds, in one transaction, and returns how many it replaced.
    ///
    /// Signed-in users stay signed in: their tokens validate under the hashed mode afterwards.
    /// Run it once, when every instance of the application switches to the hashed mode (a
    /// Lucia v2 application sharing the table can no longer validate the converted sessions).
    /// Ids that already are 64 lowercase hex characters (a SHA-256, never a Lucia v2 id) are
    /// left alone, so running it again changes nothing.
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

impl SessionAdapter for SeaOrmAdapter<WithSessions> {
    async fn get_session(&self, session_id: &str) -> Result<Option<DatabaseSession>, AdapterError> {
        let table = self.session();
        self.fetch_one(&select_where(table, "id", session_id), |row| session_from_row(table, row, "")).await
    }

    async fn get_sessions_by_user_id(&self, user_id: &str) -> Result<Vec<DatabaseSession>, AdapterError> {
        let table = self.session();
        self.fetch_all(&select_where(table, "user_id", user_id), |row| session_from_row(table, row, "")).await
    }

    async fn set_session(&self, session: DatabaseSession) -> Result<(), AdapterError> {
        let table = self.session();
        let mut columns = vec![
            (alias("id"), text(&session.id)),
            (alias("user_id"), text(&session.user_id)),
            (alias("active_expires"), millis(table, "active_expires", session.active_expires)?),
            (alias("idle_expires"), millis(table, "idle_expires", session.idle_expires)?),
        ];
        columns.extend(encode_attributes(table, &session.attributes, SESSION_COLUMNS)?);
        match self.execute_statement(&insert(table, columns)?).await {
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
            values.push((alias("active_expires"), millis(table, "active_expires", active)?));
            values.push((alias("idle_expires"), millis(table, "idle_expires", idle)?));
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
        self.execute(&self.delete_dead(Some(user_id), now_ms)?).await.map(drop)
    }

    async fn delete_dead_sessions(&self, now_ms: i64) -> Result<u64, AdapterError> {
        self.execute(&self.delete_dead(None, now_ms)?).await
    }
}

impl Adapter for SeaOrmAdapter<WithSessions> {
    /// One query: the session joined with its user.
    async fn get_session_and_user(
        &self,
        session_id: &str,
    ) -> Result<Option<(DatabaseSession, DatabaseUser)>, AdapterError> {
        const SESSION: &str = "s__";
        const USER: &str = "u__";
        let (session, user) = (self.session(), &self.user);
        let mut query = Query::select();
        for column in &session.columns {
            query.expr_as(Expr::col((alias("s"), alias(&column.name))), alias(&format!("{SESSION}{}", column.name)));
        }
        for column in &user.columns {
            query.expr_as(Expr::col((alias("u"), alias(&column.name))), alias(&format!("{USER}{}", column.name)));
        }
        query
            .from_as(session.table_ref.clone(), alias("s"))
            .join_as(
                JoinType::InnerJoin,
                user.table_ref.clone(),
                alias("u"),
                Expr::col((alias("u"), alias("id"))).equals((alias("s"), alias("user_id"))),
            )
            .and_where(Expr::col((alias("s"), alias("id"))).eq(session_id));
        self.fetch_one(&query, |row| Ok((session_from_row(session, row, SESSION)?, user_from_row(user, row, USER)?)))
            .await
    }

    /// One transaction. On PostgreSQL and MySQL it first locks the user row, so a session or
    /// key being inserted for the user meanwhile waits and then fails its foreign key (an
    /// unknown user) instead of making the delete fail.
    async fn delete_user_cascade(&self, user_id: &str) -> Result<(), AdapterError> {
        let backend = self.backend();
        let mut statements = Vec::with_capacity(4);
        if backend != DbBackend::Sqlite {
            let mut lock = Query::select();
            lock.expr(Expr::val(1))
                .from(self.user.table_ref.clone())
                .and_where(Expr::col(alias("id")).eq(user_id))
                .lock_exclusive();
            statements.push(backend.build(&lock));
        }
        statements.push(self.delete_statement(self.session(), "user_id", user_id));
        statements.push(self.delete_statement(&self.key, "user_id", user_id));
        statements.push(self.delete_statement(&self.user, "id", user_id));
        self.in_transaction(&statements).await.map_err(|(_, error)| database(error))
    }

    /// One transaction: the key's update, then the delete of the user's sessions.
    async fn update_key_and_end_sessions(
        &self,
        key_id: &str,
        hashed_password: Option<&str>,
        user_id: &str,
    ) -> Result<(), AdapterError> {
        let statements = vec![
            self.backend().build(&self.key_password_update(key_id, hashed_password)),
            self.delete_statement(self.session(), "user_id", user_id),
        ];
        self.in_transaction(&statements).await.map_err(|(_, error)| database(error))
    }
}
