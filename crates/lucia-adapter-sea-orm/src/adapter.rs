//! [`SeaOrmAdapter`]: Lucia's adapter traits over a SeaORM connection.

use lucia::{
    Adapter, AdapterError, AttributeMap, DatabaseKey, DatabaseSession, DatabaseUser, SessionAdapter, SessionUpdate,
    UserAdapter,
};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, JoinType, Query, SelectStatement, Value};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryResult, SqlErr, TransactionTrait};

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

    async fn exists(&self, table: &Table, id: &str) -> Result<bool, AdapterError> {
        let mut query = Query::select();
        query.expr(Expr::val(1)).from(table.table_ref.clone()).and_where(Expr::col(alias("id")).eq(id));
        Ok(self.db.query_one(&query).await.map_err(database)?.is_some())
    }

    /// Turns a failed insert of row `id` into table into a typed error. The condition is
    /// read from the SQL error code (SQLSTATE, MySQL error number, SQLite extended code) via
    /// SeaORM, never from message text. A unique violation is a duplicate id only if a row
    /// with that id exists: otherwise another unique column (say `username`) was hit.
    async fn insert_failure(&self, table: &Table, id: &str, error: DbErr, duplicate_id: AdapterError) -> AdapterError {
        match error.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(message)) => match self.exists(table, id).await {
                Ok(true) => duplicate_id,
                Ok(false) => AdapterError::DuplicateAttribute(message),
                Err(lookup) => lookup,
            },
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => AdapterError::InvalidUserId,
            _ => database(error),
        }
    }

    async fn execute(&self, statement: &impl sea_orm::StatementBuilder) -> Result<u64, AdapterError> {
        Ok(self.db.execute(statement).await.map_err(database)?.rows_affected())
    }

    async fn delete_where(&self, table: &Table, column: &str, value: &str) -> Result<(), AdapterError> {
        let mut query = Query::delete();
        query.from_table(table.table_ref.clone()).and_where(Expr::col(alias(column)).eq(value));
        self.execute(&query).await.map(drop)
    }

    async fn update_where(&self, table: &Table, id: &str, values: Vec<(Alias, Expr)>) -> Result<(), AdapterError> {
        if values.is_empty() {
            return Ok(());
        }
        let mut query = Query::update();
        query.table(table.table_ref.clone()).values(values).and_where(Expr::col(alias("id")).eq(id));
        self.execute(&query).await.map(drop)
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
        let Some(key) = key else {
            return match self.db.execute(&user_insert).await {
                Ok(_) => Ok(()),
                Err(e) => Err(self.insert_failure(&self.user, &user.id, e, AdapterError::DuplicateUserId).await),
            };
        };
        let key_insert = self.key_insert(&key)?;
        let transaction = self.db.begin().await.map_err(database)?;
        if let Err(e) = transaction.execute(&user_insert).await {
            transaction.rollback().await.map_err(database)?;
            return Err(self.insert_failure(&self.user, &user.id, e, AdapterError::DuplicateUserId).await);
        }
        if let Err(e) = transaction.execute(&key_insert).await {
            transaction.rollback().await.map_err(database)?;
            return Err(self.insert_failure(&self.key, &key.id, e, AdapterError::DuplicateKeyId).await);
        }
        transaction.commit().await.map_err(database)
    }

    async fn update_user(&self, user_id: &str, attributes: AttributeMap) -> Result<(), AdapterError> {
        let values = encode_attributes(&self.user, &attributes, USER_COLUMNS)?;
        self.update_where(&self.user, user_id, values).await
    }

    async fn delete_user(&self, user_id: &str) -> Result<(), AdapterError> {
        self.delete_where(&self.user, "id", user_id).await
    }

    async fn get_key(&self, key_id: &str) -> Result<Option<DatabaseKey>, AdapterError> {
        self.fetch_one(&select_where(&self.key, "id", key_id), |row| key_from_row(&self.key, row)).await
    }

    async fn get_keys_by_user_id(&self, user_id: &str) -> Result<Vec<DatabaseKey>, AdapterError> {
        self.fetch_all(&select_where(&self.key, "user_id", user_id), |row| key_from_row(&self.key, row)).await
    }

    async fn set_key(&self, key: DatabaseKey) -> Result<(), AdapterError> {
        match self.db.execute(&self.key_insert(&key)?).await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.insert_failure(&self.key, &key.id, e, AdapterError::DuplicateKeyId).await),
        }
    }

    async fn update_key(&self, key_id: &str, hashed_password: Option<&str>) -> Result<(), AdapterError> {
        let password = Expr::val(Value::String(hashed_password.map(str::to_owned)));
        self.update_where(&self.key, key_id, vec![(alias("hashed_password"), password)]).await
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
        match self.db.execute(&insert(table, columns)?).await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.insert_failure(table, &session.id, e, AdapterError::DuplicateSessionId).await),
        }
    }

    async fn update_session(&self, session_id: &str, update: SessionUpdate) -> Result<(), AdapterError> {
        let table = self.session();
        let mut values = encode_attributes(table, &update.attributes, SESSION_COLUMNS)?;
        if let Some((active, idle)) = update.expires {
            values.push((alias("active_expires"), millis(table, "active_expires", active)?));
            values.push((alias("idle_expires"), millis(table, "idle_expires", idle)?));
        }
        self.update_where(table, session_id, values).await
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
}
