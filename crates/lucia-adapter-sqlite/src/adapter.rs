//! The store behind both adapters: reader pool, writer, statements; and the trait impls.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};

use lucia::{
    Adapter, AdapterError, AttributeMap, DatabaseKey, DatabasePasskey, DatabaseSession, DatabaseToken, DatabaseTotp,
    DatabaseUser, PasskeyAdapter, PasskeyChallenge, PasskeyUse, SecondFactorAdapter, SessionAdapter, SessionUpdate,
    SignInMethodDeletion, TokenAdapter, TokenKind, UserAdapter, counts_as_sign_in_method,
};
use rusqlite::types::Value as Sql;
use rusqlite::{
    CachedStatement, Connection, ErrorCode, Params, Row, TransactionBehavior, ffi, params, params_from_iter,
};

use crate::codec::{
    bool_at, decode_split, encode_attributes, integer_at, optional_integer_at, required_millis, required_text, text_at,
};
use crate::schema::{Table, quote};
use crate::{HasSecondFactor, HasTokens, SqliteAdapter, SqliteSessionAdapter, WithPasskeys};

const USER_COLUMNS: &[&str] = &["id"];
const SESSION_COLUMNS: &[&str] = &["id", "user_id", "active_expires", "idle_expires"];

/// The most rows one statement of the sweep deletes: each batch is its own short write, so
/// the sweep never holds the write lock for long.
const SWEEP_BATCH: i64 = 1000;

/// The session table and its fixed statements.
pub(crate) struct SessionTable {
    table: Table,
    by_id: String,
    by_user: String,
    delete: String,
    delete_by_user: String,
    delete_dead_of_user: String,
    delete_dead_batch: String,
}

impl SessionTable {
    pub(crate) fn new(table: Table) -> Self {
        let (t, columns) = (&table.quoted, table.column_list(None));
        Self {
            by_id: format!("SELECT {columns} FROM {t} WHERE \"id\" = ?1"),
            by_user: format!("SELECT {columns} FROM {t} WHERE \"user_id\" = ?1"),
            delete: format!("DELETE FROM {t} WHERE \"id\" = ?1"),
            delete_by_user: format!("DELETE FROM {t} WHERE \"user_id\" = ?1"),
            delete_dead_of_user: format!("DELETE FROM {t} WHERE \"user_id\" = ?1 AND \"idle_expires\" < ?2"),
            delete_dead_batch: format!(
                "DELETE FROM {t} WHERE \"id\" IN (SELECT \"id\" FROM {t} WHERE \"idle_expires\" < ?1 LIMIT ?2)"
            ),
            table,
        }
    }

    fn session(&self, row: &Row<'_>) -> Result<DatabaseSession, AdapterError> {
        session_from(&self.table, row, 0)
    }
}

fn session_from(table: &Table, row: &Row<'_>, start: usize) -> Result<DatabaseSession, AdapterError> {
    let (mut id, mut user_id, mut active_expires, mut idle_expires) = (None, None, None, None);
    let attributes = decode_split(table, row, start, SESSION_COLUMNS, |index, column, value| {
        match index {
            0 => id = Some(required_text(column, value)?),
            1 => user_id = Some(required_text(column, value)?),
            2 => active_expires = Some(required_millis(column, value)?),
            _ => idle_expires = Some(required_millis(column, value)?),
        }
        Ok(())
    })?;
    let missing = |name: &str| AdapterError::InvalidAttributes(format!("no column `{name}`"));
    Ok(DatabaseSession {
        id: id.ok_or_else(|| missing("id"))?,
        user_id: user_id.ok_or_else(|| missing("user_id"))?,
        active_expires: active_expires.ok_or_else(|| missing("active_expires"))?,
        idle_expires: idle_expires.ok_or_else(|| missing("idle_expires"))?,
        attributes,
    })
}

fn user_from(table: &Table, row: &Row<'_>, start: usize) -> Result<DatabaseUser, AdapterError> {
    let mut id = None;
    let attributes = decode_split(table, row, start, USER_COLUMNS, |_, column, value| {
        id = Some(required_text(column, value)?);
        Ok(())
    })?;
    Ok(DatabaseUser { id: id.ok_or_else(|| AdapterError::InvalidAttributes("no column `id`".into()))?, attributes })
}

/// A text column of a key or token row that must not be null.
fn required_text_at(row: &Row<'_>, index: usize, name: &str, of: &str) -> Result<String, AdapterError> {
    text_at(row, index, name)?
        .ok_or_else(|| AdapterError::InvalidAttributes(format!("column `{name}` of a {of} is null")))
}

fn key_from(row: &Row<'_>) -> Result<DatabaseKey, AdapterError> {
    Ok(DatabaseKey {
        id: required_text_at(row, 0, "id", "key")?,
        user_id: required_text_at(row, 1, "user_id", "key")?,
        hashed_password: text_at(row, 2, "hashed_password")?,
    })
}

/// The token columns, in the order [`token_from`] reads them.
const TOKEN_COLUMNS: &str = "\"id\", \"user_id\", \"kind\", \"email\", \"expires\", \"attempts\"";

fn token_from(row: &Row<'_>) -> Result<DatabaseToken, AdapterError> {
    let kind = required_text_at(row, 2, "kind", "token")?;
    Ok(DatabaseToken {
        id: required_text_at(row, 0, "id", "token")?,
        user_id: required_text_at(row, 1, "user_id", "token")?,
        kind: TokenKind::parse(&kind)
            .ok_or_else(|| AdapterError::InvalidAttributes(format!("unknown token kind {kind:?}")))?,
        email: required_text_at(row, 3, "email", "token")?,
        expires: integer_at(row, 4, "expires")?,
        attempts: attempts(integer_at(row, 5, "attempts")?)?,
    })
}

fn attempts(count: i64) -> Result<u32, AdapterError> {
    u32::try_from(count)
        .map_err(|_| AdapterError::InvalidAttributes(format!("a token's attempts ({count}) are out of range")))
}

/// The token table and its fixed statements.
pub(crate) struct TokenTable {
    table: Table,
    by_id: String,
    by_user_and_kind: String,
    /// One statement, so that concurrent issues leave one token per user and kind.
    upsert: String,
    count_attempt: String,
    consume: String,
    delete_by_user: String,
    delete_expired_batch: String,
}

impl TokenTable {
    pub(crate) fn new(table: Table) -> Self {
        let t = &table.quoted;
        Self {
            by_id: format!("SELECT {TOKEN_COLUMNS} FROM {t} WHERE \"id\" = ?1"),
            by_user_and_kind: format!("SELECT {TOKEN_COLUMNS} FROM {t} WHERE \"user_id\" = ?1 AND \"kind\" = ?2"),
            upsert: format!(
                "INSERT INTO {t} ({TOKEN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT (\"user_id\", \"kind\") DO UPDATE SET \"id\" = excluded.\"id\", \
                 \"email\" = excluded.\"email\", \"expires\" = excluded.\"expires\", \
                 \"attempts\" = excluded.\"attempts\""
            ),
            // Stops at `u32::MAX`, where the memory adapter's count saturates.
            count_attempt: format!(
                "UPDATE {t} SET \"attempts\" = MIN(\"attempts\" + 1, 4294967295) WHERE \"id\" = ?1 \
                 RETURNING \"attempts\""
            ),
            consume: format!("DELETE FROM {t} WHERE \"id\" = ?1 RETURNING \"user_id\""),
            delete_by_user: format!("DELETE FROM {t} WHERE \"user_id\" = ?1"),
            delete_expired_batch: format!(
                "DELETE FROM {t} WHERE \"id\" IN (SELECT \"id\" FROM {t} WHERE \"expires\" < ?1 LIMIT ?2)"
            ),
            table,
        }
    }

    /// Every fixed statement, to prepare once at open.
    pub(crate) fn statements(&self) -> [&str; 7] {
        [
            &self.by_id,
            &self.by_user_and_kind,
            &self.upsert,
            &self.count_attempt,
            &self.consume,
            &self.delete_by_user,
            &self.delete_expired_batch,
        ]
    }
}

/// The TOTP and recovery-code tables and their fixed statements.
pub(crate) struct SecondFactorTables {
    totp: Table,
    codes: Table,
    totp_by_user: String,
    /// One statement, so that concurrent enrolments leave one row per user.
    totp_upsert: String,
    /// The conditional update whose changed-row count decides a step's one use.
    use_step: String,
    totp_delete: String,
    codes_delete_by_user: String,
    code_insert: String,
    /// The conditional delete whose changed-row count decides a code's one use.
    code_consume: String,
    codes_count: String,
}

impl SecondFactorTables {
    pub(crate) fn new(totp: Table, codes: Table) -> Self {
        let (t, c) = (&totp.quoted, &codes.quoted);
        Self {
            totp_by_user: format!(
                "SELECT \"user_id\", \"encrypted_secret\", \"confirmed\", \"last_step\" FROM {t} WHERE \"user_id\" = ?1"
            ),
            totp_upsert: format!(
                "INSERT INTO {t} (\"user_id\", \"encrypted_secret\", \"confirmed\", \"last_step\") \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (\"user_id\") DO UPDATE SET \
                 \"encrypted_secret\" = excluded.\"encrypted_secret\", \"confirmed\" = excluded.\"confirmed\", \
                 \"last_step\" = excluded.\"last_step\""
            ),
            use_step: format!(
                "UPDATE {t} SET \"last_step\" = ?3, \"confirmed\" = CASE WHEN ?4 THEN 1 ELSE \"confirmed\" END \
                 WHERE \"user_id\" = ?1 AND \"encrypted_secret\" = ?2 AND \"last_step\" < ?3"
            ),
            totp_delete: format!("DELETE FROM {t} WHERE \"user_id\" = ?1"),
            codes_delete_by_user: format!("DELETE FROM {c} WHERE \"user_id\" = ?1"),
            code_insert: format!("INSERT INTO {c} (\"id\", \"user_id\") VALUES (?1, ?2)"),
            code_consume: format!("DELETE FROM {c} WHERE \"id\" = ?1 AND \"user_id\" = ?2"),
            codes_count: format!("SELECT COUNT(*) FROM {c} WHERE \"user_id\" = ?1"),
            totp,
            codes,
        }
    }

    /// Every fixed statement, to prepare once at open.
    pub(crate) fn statements(&self) -> [&str; 8] {
        [
            &self.totp_by_user,
            &self.totp_upsert,
            &self.use_step,
            &self.totp_delete,
            &self.codes_delete_by_user,
            &self.code_insert,
            &self.code_consume,
            &self.codes_count,
        ]
    }
}

/// The passkey columns, in the order [`passkey_from`] reads them.
const PASSKEY_COLUMNS: &str = "\"id\", \"user_id\", \"name\", \"credential\", \"counter\", \"backup_eligible\", \
                               \"backup_state\", \"created_at\", \"last_used_at\"";

fn passkey_from(row: &Row<'_>) -> Result<DatabasePasskey, AdapterError> {
    let counter = integer_at(row, 4, "counter")?;
    Ok(DatabasePasskey {
        id: required_text_at(row, 0, "id", "passkey")?,
        user_id: required_text_at(row, 1, "user_id", "passkey")?,
        name: required_text_at(row, 2, "name", "passkey")?,
        credential: required_text_at(row, 3, "credential", "passkey")?,
        counter: u32::try_from(counter)
            .map_err(|_| AdapterError::InvalidAttributes(format!("a passkey's counter ({counter}) is out of range")))?,
        backup_eligible: bool_at(row, 5, "backup_eligible")?,
        backup_state: bool_at(row, 6, "backup_state")?,
        created_at: integer_at(row, 7, "created_at")?,
        last_used_at: optional_integer_at(row, 8, "last_used_at")?,
    })
}

/// The challenge columns, in the order [`challenge_from`] reads them.
const CHALLENGE_COLUMNS: &str = "\"id\", \"user_id\", \"state\", \"expires\"";

fn challenge_from(row: &Row<'_>) -> Result<PasskeyChallenge, AdapterError> {
    Ok(PasskeyChallenge {
        id: required_text_at(row, 0, "id", "passkey challenge")?,
        user_id: text_at(row, 1, "user_id")?,
        state: required_text_at(row, 2, "state", "passkey challenge")?,
        expires: integer_at(row, 3, "expires")?,
    })
}

/// The passkey and passkey challenge tables and their fixed statements.
pub(crate) struct PasskeyTables {
    passkey: Table,
    passkey_by_id: String,
    passkeys_by_user: String,
    passkey_insert: String,
    /// The conditional update whose changed-row count decides a use: the counter never goes
    /// back, and of two uses with one counter value one wins.
    record_use: String,
    rename: String,
    /// Of one user's passkey, so that a user cannot delete another's.
    passkey_delete: String,
    passkeys_delete_by_user: String,
    /// The user's passkeys, counted with its keys when one of its ways to sign in is removed.
    passkeys_count_of_user: String,
    challenge_insert: String,
    /// One `DELETE ... RETURNING`: of concurrent takes, one gets the row.
    challenge_take: String,
    challenges_delete_expired_batch: String,
}

impl PasskeyTables {
    pub(crate) fn new(passkey: Table, challenge: Table) -> Self {
        let (p, c) = (&passkey.quoted, &challenge.quoted);
        Self {
            passkey_by_id: format!("SELECT {PASSKEY_COLUMNS} FROM {p} WHERE \"id\" = ?1"),
            passkeys_by_user: format!(
                "SELECT {PASSKEY_COLUMNS} FROM {p} WHERE \"user_id\" = ?1 ORDER BY \"created_at\", \"id\""
            ),
            passkey_insert: format!("INSERT INTO {p} ({PASSKEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
            // `lucia::passkey_counter_advances`, in SQL.
            record_use: format!(
                "UPDATE {p} SET \"credential\" = ?2, \"counter\" = ?3, \"backup_state\" = ?4, \"last_used_at\" = ?5 \
                 WHERE \"id\" = ?1 AND (\"counter\" < ?3 OR (\"counter\" = 0 AND ?3 = 0))"
            ),
            rename: format!("UPDATE {p} SET \"name\" = ?3 WHERE \"id\" = ?1 AND \"user_id\" = ?2"),
            passkey_delete: format!("DELETE FROM {p} WHERE \"id\" = ?1 AND \"user_id\" = ?2"),
            passkeys_delete_by_user: format!("DELETE FROM {p} WHERE \"user_id\" = ?1"),
            passkeys_count_of_user: format!("SELECT COUNT(*) FROM {p} WHERE \"user_id\" = ?1"),
            challenge_insert: format!("INSERT INTO {c} ({CHALLENGE_COLUMNS}) VALUES (?1, ?2, ?3, ?4)"),
            challenge_take: format!("DELETE FROM {c} WHERE \"id\" = ?1 RETURNING {CHALLENGE_COLUMNS}"),
            challenges_delete_expired_batch: format!(
                "DELETE FROM {c} WHERE \"id\" IN (SELECT \"id\" FROM {c} WHERE \"expires\" < ?1 LIMIT ?2)"
            ),
            passkey,
        }
    }

    /// Every fixed statement, to prepare once at open.
    pub(crate) fn statements(&self) -> [&str; 11] {
        [
            &self.passkey_by_id,
            &self.passkeys_by_user,
            &self.passkey_insert,
            &self.record_use,
            &self.rename,
            &self.passkey_delete,
            &self.passkeys_delete_by_user,
            &self.passkeys_count_of_user,
            &self.challenge_insert,
            &self.challenge_take,
            &self.challenges_delete_expired_batch,
        ]
    }
}

/// The user and key tables and their fixed statements.
pub(crate) struct UserTables {
    user: Table,
    key: Table,
    user_by_id: String,
    user_delete: String,
    key_by_id: String,
    keys_by_user: String,
    key_insert: String,
    key_update: String,
    key_replace: String,
    key_delete: String,
    /// Of one user's key, so that a user cannot delete another's.
    key_delete_of_user: String,
    key_ids_of_user: String,
    keys_delete_by_user: String,
    /// The session joined with its user: session columns first, then the user's.
    session_and_user: String,
}

impl UserTables {
    pub(crate) fn new(user: Table, key: Table, session: &Table) -> Self {
        let (u, k, s) = (&user.quoted, &key.quoted, &session.quoted);
        let key_columns = "\"id\", \"user_id\", \"hashed_password\"";
        Self {
            user_by_id: format!("SELECT {} FROM {u} WHERE \"id\" = ?1", user.column_list(None)),
            user_delete: format!("DELETE FROM {u} WHERE \"id\" = ?1"),
            key_by_id: format!("SELECT {key_columns} FROM {k} WHERE \"id\" = ?1"),
            keys_by_user: format!("SELECT {key_columns} FROM {k} WHERE \"user_id\" = ?1"),
            key_insert: format!("INSERT INTO {k} ({key_columns}) VALUES (?1, ?2, ?3)"),
            key_update: format!("UPDATE {k} SET \"hashed_password\" = ?2 WHERE \"id\" = ?1"),
            key_replace: format!(
                "UPDATE {k} SET \"hashed_password\" = ?3 WHERE \"id\" = ?1 AND \"hashed_password\" = ?2"
            ),
            key_delete: format!("DELETE FROM {k} WHERE \"id\" = ?1"),
            key_delete_of_user: format!("DELETE FROM {k} WHERE \"id\" = ?1 AND \"user_id\" = ?2"),
            key_ids_of_user: format!("SELECT \"id\" FROM {k} WHERE \"user_id\" = ?1"),
            keys_delete_by_user: format!("DELETE FROM {k} WHERE \"user_id\" = ?1"),
            session_and_user: format!(
                "SELECT {}, {} FROM {s} AS s INNER JOIN {u} AS u ON u.\"id\" = s.\"user_id\" WHERE s.\"id\" = ?1",
                session.column_list(Some("s")),
                user.column_list(Some("u")),
            ),
            user,
            key,
        }
    }
}

pub(crate) struct Inner {
    pub(crate) sessions: SessionTable,
    pub(crate) users: Option<UserTables>,
    pub(crate) tokens: Option<TokenTable>,
    pub(crate) second_factor: Option<SecondFactorTables>,
    pub(crate) passkeys: Option<PasskeyTables>,
    pub(crate) readers: Box<[Mutex<Connection>]>,
    pub(crate) next_reader: AtomicUsize,
    pub(crate) writer: Mutex<Connection>,
}

impl Inner {
    fn users(&self) -> Result<&UserTables, AdapterError> {
        // Only `SqliteSessionAdapter` has no user tables, and it implements no user method.
        self.users.as_ref().ok_or_else(|| AdapterError::database("this adapter has no user and key tables"))
    }

    fn tokens(&self) -> Result<&TokenTable, AdapterError> {
        // Only `SqliteAdapter<WithTokens>` implements the token methods, and it has the table.
        self.tokens.as_ref().ok_or_else(|| AdapterError::database("this adapter has no token table"))
    }

    fn second_factor(&self) -> Result<&SecondFactorTables, AdapterError> {
        // Only `SqliteAdapter<WithSecondFactor>` implements the second-factor methods.
        self.second_factor.as_ref().ok_or_else(|| AdapterError::database("this adapter has no second-factor tables"))
    }

    fn passkeys(&self) -> Result<&PasskeyTables, AdapterError> {
        // Only `SqliteAdapter<WithPasskeys>` implements the passkey methods.
        self.passkeys.as_ref().ok_or_else(|| AdapterError::database("this adapter has no passkey tables"))
    }
}

/// The user's ways to sign in: its keys that count ([`counts_as_sign_in_method`]) and, with
/// passkey tables, its passkeys.
fn sign_in_methods_left(
    inner: &Inner,
    connection: &Connection,
    user_id: &str,
    uncounted_providers: &[String],
) -> Result<u64, AdapterError> {
    let uncounted: Vec<&str> = uncounted_providers.iter().map(String::as_str).collect();
    let ids = query_all(connection, &inner.users()?.key_ids_of_user, [user_id], |row| {
        row.get::<_, String>(0).map_err(sqlite)
    })?;
    let mut left = ids.iter().filter(|id| counts_as_sign_in_method(id, &uncounted)).count() as u64;
    if let Some(passkeys) = &inner.passkeys {
        let mut count = connection.prepare_cached(&passkeys.passkeys_count_of_user).map_err(sqlite)?;
        let passkeys: i64 = count.query_row([user_id], |row| row.get(0)).map_err(sqlite)?;
        left += u64::try_from(passkeys).unwrap_or(0);
    }
    Ok(left)
}

/// Shared by [`SqliteAdapter`] and [`SqliteSessionAdapter`].
#[derive(Clone)]
pub(crate) struct Store {
    pub(crate) inner: Arc<Inner>,
}

fn lock(mutex: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while a connection was held cannot leave a transaction open: a dropped
    // `rusqlite::Transaction` rolls back.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---- errors -------------------------------------------------------------------------------

/// A failed statement as the core sees it: a lock still held after the busy timeout, or a
/// file that cannot be opened, is [`AdapterError::Unavailable`]; anything else
/// [`AdapterError::Database`].
fn sqlite(error: rusqlite::Error) -> AdapterError {
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked | ErrorCode::CannotOpen) => {
            AdapterError::unavailable(error)
        }
        _ => AdapterError::database(error),
    }
}

fn extended_code(error: &rusqlite::Error) -> Option<i32> {
    match error {
        rusqlite::Error::SqliteFailure(failure, _) => Some(failure.extended_code),
        _ => None,
    }
}

fn exists(connection: &Connection, sql: &str, id: &str) -> Result<bool, AdapterError> {
    let mut statement = connection.prepare_cached(sql).map_err(sqlite)?;
    statement.exists([id]).map_err(sqlite)
}

/// Turns a failed insert or update of row `id` into a typed error, from SQLite's extended
/// result code (never its message). A unique violation is `duplicate_id` if a row with that
/// id exists, else a unique attribute column, found by looking for the value. Runs in the
/// failed write's transaction, so what it reads is what the write saw.
fn write_failure(
    connection: &Connection,
    table: &Table,
    id: &str,
    error: rusqlite::Error,
    duplicate_id: Option<AdapterError>,
    attributes: &AttributeMap,
) -> AdapterError {
    let outcome = match extended_code(&error) {
        Some(ffi::SQLITE_CONSTRAINT_PRIMARYKEY | ffi::SQLITE_CONSTRAINT_UNIQUE) => (|| {
            if let Some(duplicate_id) = duplicate_id
                && exists(connection, &format!("SELECT 1 FROM {} WHERE \"id\" = ?1", table.quoted), id)?
            {
                return Ok(duplicate_id);
            }
            taken_column(connection, table, id, attributes).map(|column| AdapterError::DuplicateAttribute { column })
        })(),
        Some(ffi::SQLITE_CONSTRAINT_FOREIGNKEY) => Ok(AdapterError::InvalidUserId),
        Some(ffi::SQLITE_CONSTRAINT_NOTNULL) => Ok(AdapterError::InvalidAttributes(format!(
            "a column of table `{}` that cannot be null has no value",
            table.name
        ))),
        _ => Ok(sqlite(error)),
    };
    outcome.unwrap_or_else(|lookup| lookup)
}

/// The unique attribute column whose value in `attributes` a row other than `own_id` holds.
fn taken_column(
    connection: &Connection,
    table: &Table,
    own_id: &str,
    attributes: &AttributeMap,
) -> Result<Option<String>, AdapterError> {
    let pairs = encode_attributes(table, attributes, &[])?;
    for (column, value) in pairs.into_iter().filter(|(column, value)| column.unique && *value != Sql::Null) {
        let sql = format!("SELECT 1 FROM {} WHERE {} = ?1 AND \"id\" <> ?2", table.quoted, quote(&column.name));
        let mut statement = connection.prepare_cached(&sql).map_err(sqlite)?;
        if statement.exists(params![value, own_id]).map_err(sqlite)? {
            return Ok(Some(column.name.clone()));
        }
    }
    Ok(None)
}

// ---- statements built per call ------------------------------------------------------------

/// `INSERT INTO table ("id", columns...) VALUES (?1, ...)`, with `lead` values first.
fn insert(
    connection: &Connection,
    table: &Table,
    lead: Vec<(&str, Sql)>,
    attributes: Vec<(&crate::schema::Column, Sql)>,
) -> Result<usize, rusqlite::Error> {
    let mut names = Vec::with_capacity(lead.len() + attributes.len());
    let mut values = Vec::with_capacity(names.capacity());
    for (name, value) in lead {
        names.push(quote(name));
        values.push(value);
    }
    for (column, value) in attributes {
        names.push(quote(&column.name));
        values.push(value);
    }
    let placeholders: Vec<String> = (1..=values.len()).map(|i| format!("?{i}")).collect();
    let sql = format!("INSERT INTO {} ({}) VALUES ({})", table.quoted, names.join(", "), placeholders.join(", "));
    connection.prepare_cached(&sql)?.execute(params_from_iter(values))
}

/// `UPDATE table SET column = ?2, ... WHERE "id" = ?1`.
fn update(
    connection: &Connection,
    table: &Table,
    id: &str,
    values: Vec<(String, Sql)>,
) -> Result<usize, rusqlite::Error> {
    let sets: Vec<String> =
        values.iter().enumerate().map(|(i, (name, _))| format!("{} = ?{}", quote(name), i + 2)).collect();
    let sql = format!("UPDATE {} SET {} WHERE \"id\" = ?1", table.quoted, sets.join(", "));
    let mut parameters = Vec::with_capacity(values.len() + 1);
    parameters.push(Sql::Text(id.to_owned()));
    parameters.extend(values.into_iter().map(|(_, value)| value));
    connection.prepare_cached(&sql)?.execute(params_from_iter(parameters))
}

/// Sets attribute columns of user `user_id` (nothing when empty), refusing unknown columns
/// and values that do not fit, and naming a taken unique column. For `update_user` and the
/// token methods that update the user in their transaction.
fn update_user_attributes(
    connection: &Connection,
    table: &Table,
    user_id: &str,
    attributes: &AttributeMap,
) -> Result<(), AdapterError> {
    if attributes.is_empty() {
        return Ok(());
    }
    let values = encode_attributes(table, attributes, USER_COLUMNS)?
        .into_iter()
        .map(|(column, value)| (column.name.clone(), value))
        .collect();
    match update(connection, table, user_id, values) {
        Ok(_) => Ok(()),
        Err(error) => Err(write_failure(connection, table, user_id, error, None, attributes)),
    }
}

/// The first column of the first row a `... RETURNING` statement gives, if any: see
/// [`returning_row`].
fn returning(statement: &mut CachedStatement<'_>, id: &str) -> Result<Option<Sql>, AdapterError> {
    returning_row(statement, id, |row| row.get::<_, Sql>(0).map_err(sqlite))
}

/// The first row a `... RETURNING` statement gives, if any, read by `read`. It steps the
/// statement to its end, even when `read` fails: outside a transaction, that is where it
/// commits, so a failed commit is an error here rather than lost when the statement is reset.
fn returning_row<T>(
    statement: &mut CachedStatement<'_>,
    id: &str,
    read: impl FnOnce(&Row<'_>) -> Result<T, AdapterError>,
) -> Result<Option<T>, AdapterError> {
    let mut rows = statement.query([id]).map_err(sqlite)?;
    let first = rows.next().map_err(sqlite)?.map(read);
    while rows.next().map_err(sqlite)?.is_some() {}
    first.transpose()
}

/// The first row the fixed statement `sql` gives for `params`, if any, read by `read`. The
/// row is read in place from the cached statement: nothing is allocated beyond what `read`
/// makes, so the hot session read uses it too.
fn query_one<T>(
    connection: &Connection,
    sql: &str,
    params: impl Params,
    read: impl FnOnce(&Row<'_>) -> Result<T, AdapterError>,
) -> Result<Option<T>, AdapterError> {
    let mut statement = connection.prepare_cached(sql).map_err(sqlite)?;
    let mut rows = statement.query(params).map_err(sqlite)?;
    rows.next().map_err(sqlite)?.map(read).transpose()
}

/// Every row the fixed statement `sql` gives for `params`, each read by `read`.
fn query_all<T>(
    connection: &Connection,
    sql: &str,
    params: impl Params,
    mut read: impl FnMut(&Row<'_>) -> Result<T, AdapterError>,
) -> Result<Vec<T>, AdapterError> {
    let mut statement = connection.prepare_cached(sql).map_err(sqlite)?;
    let mut rows = statement.query(params).map_err(sqlite)?;
    let mut all = Vec::new();
    while let Some(row) = rows.next().map_err(sqlite)? {
        all.push(read(row)?);
    }
    Ok(all)
}

/// Which of a user's rows [`Store::delete_user_with`] deletes with it, besides its tokens.
#[derive(Clone, Copy, PartialEq, Eq)]
enum UserRows {
    None,
    Keys,
    KeysAndSessions,
}

/// Runs each statement with `user_id` in one `BEGIN IMMEDIATE` transaction.
fn delete_all_of_user<'s>(
    connection: &mut Connection,
    statements: impl IntoIterator<Item = &'s str>,
    user_id: &str,
) -> Result<(), AdapterError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sqlite)?;
    for sql in statements {
        transaction.prepare_cached(sql).map_err(sqlite)?.execute([user_id]).map_err(sqlite)?;
    }
    transaction.commit().map_err(sqlite)
}

// ---- reading and writing ------------------------------------------------------------------

impl Store {
    /// Runs `read` on a free reader connection, in place; when none is free, on a blocking
    /// thread that waits for one. `read` is a plain function so that the in-place path
    /// borrows `argument` without copying it.
    async fn read<T: Send + 'static>(
        &self,
        argument: &str,
        read: fn(&Inner, &Connection, &str) -> Result<T, AdapterError>,
    ) -> Result<T, AdapterError> {
        self.read_with(argument, read, |inner, connection, argument, read| read(inner, connection, argument)).await
    }

    /// As [`read`](Self::read), with a second argument that is `Copy` (a token kind).
    async fn read_with<T: Send + 'static, X: Copy + Send + 'static>(
        &self,
        argument: &str,
        extra: X,
        read: fn(&Inner, &Connection, &str, X) -> Result<T, AdapterError>,
    ) -> Result<T, AdapterError> {
        if let Some(result) = self.read_in_place(argument, extra, read) {
            return result;
        }
        let (inner, argument) = (Arc::clone(&self.inner), argument.to_owned());
        let task = tokio::task::spawn_blocking(move || {
            let index = inner.next_reader.fetch_add(1, Ordering::Relaxed) % inner.readers.len();
            let connection = lock(&inner.readers[index]);
            read(&inner, &connection, &argument, extra)
        });
        task.await.unwrap_or_else(|error| Err(AdapterError::database(error)))
    }

    fn read_in_place<T, X>(
        &self,
        argument: &str,
        extra: X,
        read: fn(&Inner, &Connection, &str, X) -> Result<T, AdapterError>,
    ) -> Option<Result<T, AdapterError>> {
        for reader in &*self.inner.readers {
            let connection = match reader.try_lock() {
                Ok(connection) => connection,
                Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => continue,
            };
            return Some(read(&self.inner, &connection, argument, extra));
        }
        None
    }

    /// Runs `write` with the writer connection on a blocking thread. It runs to the end (its
    /// commit or rollback) even if the returned future is dropped.
    async fn write<T, W>(&self, write: W) -> Result<T, AdapterError>
    where
        T: Send + 'static,
        W: FnOnce(&Inner, &mut Connection) -> Result<T, AdapterError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let task = tokio::task::spawn_blocking(move || {
            let mut connection = lock(&inner.writer);
            write(&inner, &mut connection)
        });
        task.await.unwrap_or_else(|error| Err(AdapterError::database(error)))
    }

    /// One statement with one or two text parameters on the writer; returns the rows changed.
    async fn execute(&self, sql: fn(&Inner) -> Result<&str, AdapterError>, first: &str) -> Result<usize, AdapterError> {
        let first = first.to_owned();
        self.write(move |inner, connection| {
            connection.prepare_cached(sql(inner)?).map_err(sqlite)?.execute([first]).map_err(sqlite)
        })
        .await
    }

    pub(crate) fn describe<'a, 'b>(&self, mut debug: std::fmt::DebugStruct<'a, 'b>) -> std::fmt::DebugStruct<'a, 'b> {
        if let Some(users) = &self.inner.users {
            debug.field("user_table", &users.user.name).field("key_table", &users.key.name);
        }
        if let Some(tokens) = &self.inner.tokens {
            debug.field("token_table", &tokens.table.name);
        }
        debug.field("session_table", &self.inner.sessions.table.name).field("readers", &self.inner.readers.len());
        debug
    }

    pub(crate) async fn hash_clear_session_ids(&self) -> Result<u64, AdapterError> {
        self.write(|inner, connection| {
            let table = &inner.sessions.table.quoted;
            let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sqlite)?;
            let ids: Vec<String> = {
                let mut select = transaction.prepare(&format!("SELECT \"id\" FROM {table}")).map_err(sqlite)?;
                let rows = select.query_map([], |row| row.get(0)).map_err(sqlite)?;
                rows.collect::<Result<_, _>>().map_err(sqlite)?
            };
            let mut converted = 0;
            {
                let sql = format!("UPDATE {table} SET \"id\" = ?2 WHERE \"id\" = ?1");
                let mut update = transaction.prepare(&sql).map_err(sqlite)?;
                for id in ids.iter().filter(|id| !lucia::SessionTokens::is_hashed_id(id)) {
                    let hashed = lucia::SessionTokens::Hashed.stored_id(id);
                    converted += update.execute(params![id, hashed]).map_err(sqlite)? as u64;
                }
            }
            transaction.commit().map_err(sqlite)?;
            Ok(converted)
        })
        .await
    }

    // ---- users and keys -------------------------------------------------------------------

    async fn get_user(&self, user_id: &str) -> Result<Option<DatabaseUser>, AdapterError> {
        self.read(user_id, |inner, connection, user_id| {
            let users = inner.users()?;
            query_one(connection, &users.user_by_id, [user_id], |row| user_from(&users.user, row, 0))
        })
        .await
    }

    async fn set_user(&self, user: DatabaseUser, key: Option<DatabaseKey>) -> Result<(), AdapterError> {
        self.write(move |inner, connection| {
            let users = inner.users()?;
            let attributes = encode_attributes(&users.user, &user.attributes, USER_COLUMNS)?;
            let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sqlite)?;
            let lead = vec![("id", Sql::Text(user.id.clone()))];
            if let Err(error) = insert(&transaction, &users.user, lead, attributes) {
                let duplicate = Some(AdapterError::DuplicateUserId);
                return Err(write_failure(&transaction, &users.user, &user.id, error, duplicate, &user.attributes));
            }
            if let Some(key) = key {
                let mut statement = transaction.prepare_cached(&users.key_insert).map_err(sqlite)?;
                if let Err(error) = statement.execute(params![key.id, key.user_id, key.hashed_password]) {
                    drop(statement);
                    let duplicate = Some(AdapterError::DuplicateKeyId);
                    return Err(write_failure(
                        &transaction,
                        &users.key,
                        &key.id,
                        error,
                        duplicate,
                        &AttributeMap::new(),
                    ));
                }
            }
            transaction.commit().map_err(sqlite)
        })
        .await
    }

    async fn update_user(&self, user_id: &str, attributes: AttributeMap) -> Result<(), AdapterError> {
        if attributes.is_empty() {
            return Ok(());
        }
        let user_id = user_id.to_owned();
        self.write(move |inner, connection| {
            update_user_attributes(connection, &inner.users()?.user, &user_id, &attributes)
        })
        .await
    }

    /// Deletes the user with `rows` of its rows, in one transaction. With a token table, the
    /// user's tokens always go too: their foreign key would refuse the user's delete otherwise;
    /// so do its second factors and passkeys, as their foreign keys' cascade would.
    async fn delete_user_with(&self, user_id: &str, rows: UserRows) -> Result<(), AdapterError> {
        let user_id = user_id.to_owned();
        self.write(move |inner, connection| {
            let users = inner.users()?;
            let tokens = inner.tokens.as_ref().map(|tokens| tokens.delete_by_user.as_str());
            // Their foreign keys cascade; deleted here all the same, so that tables made without
            // the cascade do not refuse the user's delete.
            let second_factor = inner
                .second_factor
                .iter()
                .flat_map(|tables| [tables.codes_delete_by_user.as_str(), tables.totp_delete.as_str()]);
            let passkeys = inner.passkeys.as_ref().map(|tables| tables.passkeys_delete_by_user.as_str());
            let tokens = tokens.into_iter().chain(second_factor).chain(passkeys);
            let sessions = (rows == UserRows::KeysAndSessions).then_some(inner.sessions.delete_by_user.as_str());
            let keys = (rows != UserRows::None).then_some(users.keys_delete_by_user.as_str());
            let statements = tokens.chain(sessions).chain(keys).chain([users.user_delete.as_str()]);
            delete_all_of_user(connection, statements, &user_id)
        })
        .await
    }

    async fn get_key(&self, key_id: &str) -> Result<Option<DatabaseKey>, AdapterError> {
        self.read(key_id, |inner, connection, key_id| {
            query_one(connection, &inner.users()?.key_by_id, [key_id], key_from)
        })
        .await
    }

    async fn get_keys_by_user_id(&self, user_id: &str) -> Result<Vec<DatabaseKey>, AdapterError> {
        self.read(user_id, |inner, connection, user_id| {
            query_all(connection, &inner.users()?.keys_by_user, [user_id], key_from)
        })
        .await
    }

    async fn set_key(&self, key: DatabaseKey) -> Result<(), AdapterError> {
        self.write(move |inner, connection| {
            let users = inner.users()?;
            let mut statement = connection.prepare_cached(&users.key_insert).map_err(sqlite)?;
            match statement.execute(params![key.id, key.user_id, key.hashed_password]) {
                Ok(_) => Ok(()),
                Err(error) => {
                    drop(statement);
                    let duplicate = Some(AdapterError::DuplicateKeyId);
                    Err(write_failure(connection, &users.key, &key.id, error, duplicate, &AttributeMap::new()))
                }
            }
        })
        .await
    }

    async fn update_key(&self, key_id: &str, hashed_password: Option<&str>) -> Result<(), AdapterError> {
        let (key_id, hashed_password) = (key_id.to_owned(), hashed_password.map(str::to_owned));
        self.write(move |inner, connection| {
            let mut statement = connection.prepare_cached(&inner.users()?.key_update).map_err(sqlite)?;
            statement.execute(params![key_id, hashed_password]).map(drop).map_err(sqlite)
        })
        .await
    }

    async fn replace_key_password(&self, key_id: &str, current: &str, new: &str) -> Result<bool, AdapterError> {
        let (key_id, current, new) = (key_id.to_owned(), current.to_owned(), new.to_owned());
        self.write(move |inner, connection| {
            // One statement: the comparison and the write see the same row.
            let mut statement = connection.prepare_cached(&inner.users()?.key_replace).map_err(sqlite)?;
            Ok(statement.execute(params![key_id, current, new]).map_err(sqlite)? == 1)
        })
        .await
    }

    // ---- sessions -------------------------------------------------------------------------

    async fn get_session(&self, session_id: &str) -> Result<Option<DatabaseSession>, AdapterError> {
        self.read(session_id, |inner, connection, session_id| {
            query_one(connection, &inner.sessions.by_id, [session_id], |row| inner.sessions.session(row))
        })
        .await
    }

    async fn get_sessions_by_user_id(&self, user_id: &str) -> Result<Vec<DatabaseSession>, AdapterError> {
        self.read(user_id, |inner, connection, user_id| {
            query_all(connection, &inner.sessions.by_user, [user_id], |row| inner.sessions.session(row))
        })
        .await
    }

    async fn set_session(&self, session: DatabaseSession) -> Result<(), AdapterError> {
        self.write(move |inner, connection| {
            let table = &inner.sessions.table;
            let attributes = encode_attributes(table, &session.attributes, SESSION_COLUMNS)?;
            let lead = vec![
                ("id", Sql::Text(session.id.clone())),
                ("user_id", Sql::Text(session.user_id.clone())),
                ("active_expires", Sql::Integer(session.active_expires)),
                ("idle_expires", Sql::Integer(session.idle_expires)),
            ];
            match insert(connection, table, lead, attributes) {
                Ok(_) => Ok(()),
                Err(error) => {
                    let duplicate = Some(AdapterError::DuplicateSessionId);
                    Err(write_failure(connection, table, &session.id, error, duplicate, &session.attributes))
                }
            }
        })
        .await
    }

    async fn update_session(&self, session_id: &str, update_: SessionUpdate) -> Result<(), AdapterError> {
        if update_.is_empty() {
            return Ok(());
        }
        let session_id = session_id.to_owned();
        self.write(move |inner, connection| {
            let table = &inner.sessions.table;
            let mut values: Vec<(String, Sql)> = encode_attributes(table, &update_.attributes, SESSION_COLUMNS)?
                .into_iter()
                .map(|(column, value)| (column.name.clone(), value))
                .collect();
            if let Some((active, idle)) = update_.expires {
                values.push(("active_expires".into(), Sql::Integer(active)));
                values.push(("idle_expires".into(), Sql::Integer(idle)));
            }
            match update(connection, table, &session_id, values) {
                Ok(_) => Ok(()),
                Err(error) => Err(write_failure(connection, table, &session_id, error, None, &update_.attributes)),
            }
        })
        .await
    }

    async fn delete_dead_sessions_by_user_id(&self, user_id: &str, now_ms: i64) -> Result<(), AdapterError> {
        let user_id = user_id.to_owned();
        self.write(move |inner, connection| {
            let mut statement = connection.prepare_cached(&inner.sessions.delete_dead_of_user).map_err(sqlite)?;
            statement.execute(params![user_id, now_ms]).map(drop).map_err(sqlite)
        })
        .await
    }

    async fn delete_dead_sessions(&self, now_ms: i64) -> Result<u64, AdapterError> {
        self.sweep(|inner| Ok(&inner.sessions.delete_dead_batch), now_ms).await
    }

    /// Runs a sweep statement (`?1` the time, `?2` the batch size) until it deletes less than
    /// a batch: in batches of [`SWEEP_BATCH`] rows, each its own write, so other writes run
    /// between them. Returns how many rows it deleted.
    async fn sweep(&self, sql: fn(&Inner) -> Result<&str, AdapterError>, now_ms: i64) -> Result<u64, AdapterError> {
        let mut deleted = 0;
        loop {
            let batch = self
                .write(move |inner, connection| {
                    let mut statement = connection.prepare_cached(sql(inner)?).map_err(sqlite)?;
                    statement.execute(params![now_ms, SWEEP_BATCH]).map_err(sqlite)
                })
                .await? as u64;
            deleted += batch;
            if batch < SWEEP_BATCH as u64 {
                return Ok(deleted);
            }
        }
    }

    // ---- together -------------------------------------------------------------------------

    async fn get_session_and_user(
        &self,
        session_id: &str,
    ) -> Result<Option<(DatabaseSession, DatabaseUser)>, AdapterError> {
        self.read(session_id, |inner, connection, session_id| {
            let users = inner.users()?;
            query_one(connection, &users.session_and_user, [session_id], |row| {
                let session = session_from(&inner.sessions.table, row, 0)?;
                Ok((session, user_from(&users.user, row, inner.sessions.table.columns.len())?))
            })
        })
        .await
    }

    async fn update_key_and_end_sessions(
        &self,
        key_id: &str,
        hashed_password: Option<&str>,
        user_id: &str,
    ) -> Result<(), AdapterError> {
        let (key_id, hashed_password, user_id) =
            (key_id.to_owned(), hashed_password.map(str::to_owned), user_id.to_owned());
        self.write(move |inner, connection| {
            let users = inner.users()?;
            let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sqlite)?;
            transaction
                .prepare_cached(&users.key_update)
                .map_err(sqlite)?
                .execute(params![key_id, hashed_password])
                .map_err(sqlite)?;
            transaction
                .prepare_cached(&inner.sessions.delete_by_user)
                .map_err(sqlite)?
                .execute([&user_id])
                .map_err(sqlite)?;
            transaction.commit().map_err(sqlite)
        })
        .await
    }
}

// ---- single-use tokens ---------------------------------------------------------------------

impl Store {
    async fn get_token(&self, token_id: &str) -> Result<Option<DatabaseToken>, AdapterError> {
        self.read(token_id, |inner, connection, token_id| {
            query_one(connection, &inner.tokens()?.by_id, [token_id], token_from)
        })
        .await
    }

    async fn get_user_token(&self, user_id: &str, kind: TokenKind) -> Result<Option<DatabaseToken>, AdapterError> {
        self.read_with(user_id, kind.as_str(), |inner, connection, user_id, kind| {
            query_one(connection, &inner.tokens()?.by_user_and_kind, [user_id, kind], token_from)
        })
        .await
    }

    async fn set_token(&self, token: DatabaseToken) -> Result<(), AdapterError> {
        self.write(move |inner, connection| {
            let tokens = inner.tokens()?;
            let mut statement = connection.prepare_cached(&tokens.upsert).map_err(sqlite)?;
            let DatabaseToken { id, user_id, kind, email, expires, attempts } = &token;
            match statement.execute(params![id, user_id, kind.as_str(), email, expires, attempts]) {
                Ok(_) => Ok(()),
                Err(error) => {
                    drop(statement);
                    // An unknown user (the foreign key) is `InvalidUserId`.
                    Err(write_failure(connection, &tokens.table, id, error, None, &AttributeMap::new()))
                }
            }
        })
        .await
    }

    async fn count_token_attempt(&self, token_id: &str) -> Result<Option<u32>, AdapterError> {
        let token_id = token_id.to_owned();
        self.write(move |inner, connection| {
            // One statement: concurrent counts each see their own increment.
            let mut statement = connection.prepare_cached(&inner.tokens()?.count_attempt).map_err(sqlite)?;
            match returning(&mut statement, &token_id)? {
                None => Ok(None),
                Some(Sql::Integer(count)) => attempts(count).map(Some),
                Some(_) => {
                    Err(AdapterError::InvalidAttributes("column `attempts` of a token is not an integer".into()))
                }
            }
        })
        .await
    }

    async fn consume_token(&self, token_id: &str, attributes: AttributeMap) -> Result<bool, AdapterError> {
        let token_id = token_id.to_owned();
        self.write(move |inner, connection| {
            let (users, tokens) = (inner.users()?, inner.tokens()?);
            let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sqlite)?;
            let deleted = returning(&mut transaction.prepare_cached(&tokens.consume).map_err(sqlite)?, &token_id)?;
            let user_id = match deleted {
                None => return Ok(false),
                Some(Sql::Text(user_id)) => user_id,
                Some(_) => {
                    return Err(AdapterError::InvalidAttributes("column `user_id` of a token is not text".into()));
                }
            };
            // A refused update returns before the commit: the rollback keeps the token.
            update_user_attributes(&transaction, &users.user, &user_id, &attributes)?;
            transaction.commit().map_err(sqlite)?;
            Ok(true)
        })
        .await
    }

    async fn revoke_user_tokens(&self, user_id: &str, attributes: AttributeMap) -> Result<(), AdapterError> {
        let user_id = user_id.to_owned();
        self.write(move |inner, connection| {
            let (users, tokens) = (inner.users()?, inner.tokens()?);
            let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sqlite)?;
            transaction.prepare_cached(&tokens.delete_by_user).map_err(sqlite)?.execute([&user_id]).map_err(sqlite)?;
            update_user_attributes(&transaction, &users.user, &user_id, &attributes)?;
            transaction.commit().map_err(sqlite)
        })
        .await
    }

    async fn delete_expired_tokens(&self, now_ms: i64) -> Result<u64, AdapterError> {
        if self.inner.tokens.is_none() {
            return Ok(0);
        }
        self.sweep(|inner| Ok(&inner.tokens()?.delete_expired_batch), now_ms).await
    }
}

// ---- second factors ------------------------------------------------------------------------

impl Store {
    async fn get_totp(&self, user_id: &str) -> Result<Option<DatabaseTotp>, AdapterError> {
        self.read(user_id, |inner, connection, user_id| {
            query_one(connection, &inner.second_factor()?.totp_by_user, [user_id], |row| {
                Ok(DatabaseTotp {
                    user_id: required_text_at(row, 0, "user_id", "TOTP")?,
                    encrypted_secret: required_text_at(row, 1, "encrypted_secret", "TOTP")?,
                    confirmed: integer_at(row, 2, "confirmed")? != 0,
                    last_step: integer_at(row, 3, "last_step")?,
                })
            })
        })
        .await
    }

    async fn set_totp(&self, totp: DatabaseTotp) -> Result<(), AdapterError> {
        self.write(move |inner, connection| {
            let tables = inner.second_factor()?;
            let mut statement = connection.prepare_cached(&tables.totp_upsert).map_err(sqlite)?;
            let DatabaseTotp { user_id, encrypted_secret, confirmed, last_step } = &totp;
            match statement.execute(params![user_id, encrypted_secret, confirmed, last_step]) {
                Ok(_) => Ok(()),
                Err(error) => {
                    drop(statement);
                    Err(write_failure(connection, &tables.totp, user_id, error, None, &AttributeMap::new()))
                }
            }
        })
        .await
    }

    async fn use_totp_step(
        &self,
        user_id: &str,
        encrypted_secret: &str,
        step: i64,
        confirm: bool,
    ) -> Result<bool, AdapterError> {
        let (user_id, encrypted_secret) = (user_id.to_owned(), encrypted_secret.to_owned());
        self.write(move |inner, connection| {
            let mut statement = connection.prepare_cached(&inner.second_factor()?.use_step).map_err(sqlite)?;
            let changed = statement.execute(params![user_id, encrypted_secret, step, confirm]).map_err(sqlite)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn delete_totp(&self, user_id: &str) -> Result<(), AdapterError> {
        let user_id = user_id.to_owned();
        self.write(move |inner, connection| {
            let tables = inner.second_factor()?;
            delete_all_of_user(
                connection,
                [tables.codes_delete_by_user.as_str(), tables.totp_delete.as_str()],
                &user_id,
            )
        })
        .await
    }

    async fn set_recovery_codes(&self, user_id: &str, code_hashes: Vec<String>) -> Result<(), AdapterError> {
        let user_id = user_id.to_owned();
        self.write(move |inner, connection| {
            let tables = inner.second_factor()?;
            let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sqlite)?;
            transaction
                .prepare_cached(&tables.codes_delete_by_user)
                .map_err(sqlite)?
                .execute([&user_id])
                .map_err(sqlite)?;
            let mut insert = transaction.prepare_cached(&tables.code_insert).map_err(sqlite)?;
            for hash in &code_hashes {
                if let Err(error) = insert.execute(params![hash, user_id]) {
                    drop(insert);
                    // A refused insert returns before the commit: the old set stays.
                    return Err(write_failure(&transaction, &tables.codes, hash, error, None, &AttributeMap::new()));
                }
            }
            drop(insert);
            transaction.commit().map_err(sqlite)
        })
        .await
    }

    async fn consume_recovery_code(&self, user_id: &str, code_hash: &str) -> Result<bool, AdapterError> {
        let (user_id, code_hash) = (user_id.to_owned(), code_hash.to_owned());
        self.write(move |inner, connection| {
            let mut statement = connection.prepare_cached(&inner.second_factor()?.code_consume).map_err(sqlite)?;
            Ok(statement.execute(params![code_hash, user_id]).map_err(sqlite)? == 1)
        })
        .await
    }

    async fn count_recovery_codes(&self, user_id: &str) -> Result<u64, AdapterError> {
        self.read(user_id, |inner, connection, user_id| {
            let mut statement = connection.prepare_cached(&inner.second_factor()?.codes_count).map_err(sqlite)?;
            let count: i64 = statement.query_row([user_id], |row| row.get(0)).map_err(sqlite)?;
            Ok(u64::try_from(count).unwrap_or(0))
        })
        .await
    }
}

// ---- passkeys ------------------------------------------------------------------------------

impl Store {
    async fn insert_passkey(&self, passkey: DatabasePasskey) -> Result<(), AdapterError> {
        self.write(move |inner, connection| {
            let tables = inner.passkeys()?;
            let mut statement = connection.prepare_cached(&tables.passkey_insert).map_err(sqlite)?;
            let DatabasePasskey {
                id,
                user_id,
                name,
                credential,
                counter,
                backup_eligible,
                backup_state,
                created_at,
                last_used_at,
            } = &passkey;
            let row = params![
                id,
                user_id,
                name,
                credential,
                counter,
                backup_eligible,
                backup_state,
                created_at,
                last_used_at
            ];
            match statement.execute(row) {
                Ok(_) => Ok(()),
                Err(error) => {
                    drop(statement);
                    // A passkey is a way to sign in, as a key is: a taken id is `DuplicateKeyId`.
                    let duplicate = Some(AdapterError::DuplicateKeyId);
                    Err(write_failure(connection, &tables.passkey, id, error, duplicate, &AttributeMap::new()))
                }
            }
        })
        .await
    }

    async fn get_passkey(&self, passkey_id: &str) -> Result<Option<DatabasePasskey>, AdapterError> {
        self.read(passkey_id, |inner, connection, passkey_id| {
            query_one(connection, &inner.passkeys()?.passkey_by_id, [passkey_id], passkey_from)
        })
        .await
    }

    async fn get_user_passkeys(&self, user_id: &str) -> Result<Vec<DatabasePasskey>, AdapterError> {
        self.read(user_id, |inner, connection, user_id| {
            query_all(connection, &inner.passkeys()?.passkeys_by_user, [user_id], passkey_from)
        })
        .await
    }

    async fn record_passkey_use(&self, passkey_id: &str, passkey_use: PasskeyUse) -> Result<bool, AdapterError> {
        let passkey_id = passkey_id.to_owned();
        self.write(move |inner, connection| {
            // One statement: the comparison and the write see the same row.
            let mut statement = connection.prepare_cached(&inner.passkeys()?.record_use).map_err(sqlite)?;
            let PasskeyUse { credential, counter, backup_state, used_at } = &passkey_use;
            let changed = statement.execute(params![passkey_id, credential, counter, backup_state, used_at]);
            Ok(changed.map_err(sqlite)? == 1)
        })
        .await
    }

    async fn rename_passkey(&self, user_id: &str, passkey_id: &str, name: &str) -> Result<bool, AdapterError> {
        let (user_id, passkey_id, name) = (user_id.to_owned(), passkey_id.to_owned(), name.to_owned());
        self.write(move |inner, connection| {
            // SQLite counts the rows matched, also when the name does not change.
            let mut statement = connection.prepare_cached(&inner.passkeys()?.rename).map_err(sqlite)?;
            Ok(statement.execute(params![passkey_id, user_id, name]).map_err(sqlite)? == 1)
        })
        .await
    }

    /// Deletes the user's key or passkey `method_id` with `delete` (a `DELETE ... WHERE "id" =
    /// ?1 AND "user_id" = ?2`) unless it is the user's last way to sign in; `counts` says
    /// whether it is one (a key of an uncounted provider is not, and is always deleted).
    pub(crate) async fn delete_sign_in_method(
        &self,
        user_id: &str,
        method_id: &str,
        delete: fn(&Inner) -> Result<&str, AdapterError>,
        counts: bool,
        uncounted_providers: &[&str],
    ) -> Result<SignInMethodDeletion, AdapterError> {
        let (user_id, method_id) = (user_id.to_owned(), method_id.to_owned());
        let uncounted: Vec<String> = uncounted_providers.iter().map(|&provider| provider.to_owned()).collect();
        self.write(move |inner, connection| {
            // `BEGIN IMMEDIATE` takes the write lock before the count: no other removal, in
            // this process (one writer) or another, runs between the count and the commit.
            let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sqlite)?;
            let deleted = transaction
                .prepare_cached(delete(inner)?)
                .map_err(sqlite)?
                .execute([&method_id, &user_id])
                .map_err(sqlite)?;
            if deleted == 0 {
                transaction.rollback().map_err(sqlite)?;
                return Ok(SignInMethodDeletion::NotFound);
            }
            if counts && sign_in_methods_left(inner, &transaction, &user_id, &uncounted)? == 0 {
                transaction.rollback().map_err(sqlite)?;
                return Ok(SignInMethodDeletion::LastSignInMethod);
            }
            transaction.commit().map_err(sqlite)?;
            Ok(SignInMethodDeletion::Deleted)
        })
        .await
    }

    async fn delete_passkey(
        &self,
        user_id: &str,
        passkey_id: &str,
        uncounted_providers: &[&str],
    ) -> Result<SignInMethodDeletion, AdapterError> {
        let delete: fn(&Inner) -> Result<&str, AdapterError> = |inner| Ok(&inner.passkeys()?.passkey_delete);
        self.delete_sign_in_method(user_id, passkey_id, delete, true, uncounted_providers).await
    }

    async fn insert_passkey_challenge(&self, challenge: PasskeyChallenge) -> Result<(), AdapterError> {
        self.write(move |inner, connection| {
            let mut statement = connection.prepare_cached(&inner.passkeys()?.challenge_insert).map_err(sqlite)?;
            let PasskeyChallenge { id, user_id, state, expires } = &challenge;
            statement.execute(params![id, user_id, state, expires]).map(drop).map_err(sqlite)
        })
        .await
    }

    async fn take_passkey_challenge(&self, challenge_id: &str) -> Result<Option<PasskeyChallenge>, AdapterError> {
        let challenge_id = challenge_id.to_owned();
        self.write(move |inner, connection| {
            let mut statement = connection.prepare_cached(&inner.passkeys()?.challenge_take).map_err(sqlite)?;
            returning_row(&mut statement, &challenge_id, challenge_from)
        })
        .await
    }
}

// ---- the traits ---------------------------------------------------------------------------

impl<T> UserAdapter for SqliteAdapter<T> {
    async fn get_user(&self, user_id: &str) -> Result<Option<DatabaseUser>, AdapterError> {
        self.0.get_user(user_id).await
    }

    /// With a key: one transaction.
    async fn set_user(&self, user: DatabaseUser, key: Option<DatabaseKey>) -> Result<(), AdapterError> {
        self.0.set_user(user, key).await
    }

    async fn update_user(&self, user_id: &str, attributes: AttributeMap) -> Result<(), AdapterError> {
        self.0.update_user(user_id, attributes).await
    }

    /// With tokens, one transaction: the user's tokens, then the user.
    async fn delete_user(&self, user_id: &str) -> Result<(), AdapterError> {
        self.0.delete_user_with(user_id, UserRows::None).await
    }

    /// One transaction: the user's tokens (with a token table), keys, then the user.
    async fn delete_user_and_keys(&self, user_id: &str) -> Result<(), AdapterError> {
        self.0.delete_user_with(user_id, UserRows::Keys).await
    }

    async fn get_key(&self, key_id: &str) -> Result<Option<DatabaseKey>, AdapterError> {
        self.0.get_key(key_id).await
    }

    async fn get_keys_by_user_id(&self, user_id: &str) -> Result<Vec<DatabaseKey>, AdapterError> {
        self.0.get_keys_by_user_id(user_id).await
    }

    async fn set_key(&self, key: DatabaseKey) -> Result<(), AdapterError> {
        self.0.set_key(key).await
    }

    async fn update_key(&self, key_id: &str, hashed_password: Option<&str>) -> Result<(), AdapterError> {
        self.0.update_key(key_id, hashed_password).await
    }

    /// One `UPDATE ... WHERE hashed_password = current`: atomic.
    async fn replace_key_password(&self, key_id: &str, current: &str, new: &str) -> Result<bool, AdapterError> {
        self.0.replace_key_password(key_id, current, new).await
    }

    async fn delete_key(&self, key_id: &str) -> Result<(), AdapterError> {
        self.0.execute(|inner| Ok(&inner.users()?.key_delete), key_id).await.map(drop)
    }

    /// One `BEGIN IMMEDIATE` transaction: the key's delete, then the user's keys (and, with
    /// passkey tables, passkeys) left, and a rollback if none counts.
    async fn delete_key_unless_last(
        &self,
        user_id: &str,
        key_id: &str,
        uncounted_providers: &[&str],
    ) -> Result<SignInMethodDeletion, AdapterError> {
        let counts = counts_as_sign_in_method(key_id, uncounted_providers);
        let delete: fn(&Inner) -> Result<&str, AdapterError> = |inner| Ok(&inner.users()?.key_delete_of_user);
        self.0.delete_sign_in_method(user_id, key_id, delete, counts, uncounted_providers).await
    }

    async fn delete_keys_by_user_id(&self, user_id: &str) -> Result<(), AdapterError> {
        self.0.execute(|inner| Ok(&inner.users()?.keys_delete_by_user), user_id).await.map(drop)
    }

    /// With tokens, in batches of 1000 rows, each its own short write; without, nothing.
    async fn delete_expired_tokens(&self, now_ms: i64) -> Result<u64, AdapterError> {
        self.0.delete_expired_tokens(now_ms).await
    }
}

/// The session methods, for both adapters.
macro_rules! session_adapter {
    ([$($generic:ident)?] $type:ty) => {
        impl$(<$generic>)? SessionAdapter for $type {
            async fn get_session(&self, session_id: &str) -> Result<Option<DatabaseSession>, AdapterError> {
                self.0.get_session(session_id).await
            }

            async fn get_sessions_by_user_id(&self, user_id: &str) -> Result<Vec<DatabaseSession>, AdapterError> {
                self.0.get_sessions_by_user_id(user_id).await
            }

            async fn set_session(&self, session: DatabaseSession) -> Result<(), AdapterError> {
                self.0.set_session(session).await
            }

            async fn update_session(&self, session_id: &str, update: SessionUpdate) -> Result<(), AdapterError> {
                self.0.update_session(session_id, update).await
            }

            async fn delete_session(&self, session_id: &str) -> Result<(), AdapterError> {
                self.0.execute(|inner| Ok(&inner.sessions.delete), session_id).await.map(drop)
            }

            async fn delete_sessions_by_user_id(&self, user_id: &str) -> Result<(), AdapterError> {
                self.0.execute(|inner| Ok(&inner.sessions.delete_by_user), user_id).await.map(drop)
            }

            async fn delete_dead_sessions_by_user_id(&self, user_id: &str, now_ms: i64) -> Result<(), AdapterError> {
                self.0.delete_dead_sessions_by_user_id(user_id, now_ms).await
            }

            /// In batches of 1000 rows, each its own short write.
            async fn delete_dead_sessions(&self, now_ms: i64) -> Result<u64, AdapterError> {
                self.0.delete_dead_sessions(now_ms).await
            }
        }
    };
}

session_adapter!([T] SqliteAdapter<T>);
session_adapter!([] SqliteSessionAdapter);

impl<T> Adapter for SqliteAdapter<T> {
    /// One query, in place on a reader: the session joined with its user.
    async fn get_session_and_user(
        &self,
        session_id: &str,
    ) -> Result<Option<(DatabaseSession, DatabaseUser)>, AdapterError> {
        self.0.get_session_and_user(session_id).await
    }

    /// One transaction: the user's tokens (with a token table), sessions, keys, then the user.
    async fn delete_user_cascade(&self, user_id: &str) -> Result<(), AdapterError> {
        self.0.delete_user_with(user_id, UserRows::KeysAndSessions).await
    }

    /// One transaction: the key's update, then the delete of the user's sessions.
    async fn update_key_and_end_sessions(
        &self,
        key_id: &str,
        hashed_password: Option<&str>,
        user_id: &str,
    ) -> Result<(), AdapterError> {
        self.0.update_key_and_end_sessions(key_id, hashed_password, user_id).await
    }
}

impl<T: HasTokens> TokenAdapter for SqliteAdapter<T> {
    /// One upsert on `(user_id, kind)`.
    async fn set_token(&self, token: DatabaseToken) -> Result<(), AdapterError> {
        self.0.set_token(token).await
    }

    async fn get_token(&self, token_id: &str) -> Result<Option<DatabaseToken>, AdapterError> {
        self.0.get_token(token_id).await
    }

    async fn get_user_token(&self, user_id: &str, kind: TokenKind) -> Result<Option<DatabaseToken>, AdapterError> {
        self.0.get_user_token(user_id, kind).await
    }

    /// One `UPDATE ... RETURNING`.
    async fn count_token_attempt(&self, token_id: &str) -> Result<Option<u32>, AdapterError> {
        self.0.count_token_attempt(token_id).await
    }

    /// One transaction: the token's delete, then the user's update if it was there.
    async fn consume_token(&self, token_id: &str, attributes: AttributeMap) -> Result<bool, AdapterError> {
        self.0.consume_token(token_id, attributes).await
    }

    /// One transaction: the user's tokens' delete, then the user's update.
    async fn revoke_user_tokens(&self, user_id: &str, attributes: AttributeMap) -> Result<(), AdapterError> {
        self.0.revoke_user_tokens(user_id, attributes).await
    }
}

impl<T: HasSecondFactor> SecondFactorAdapter for SqliteAdapter<T> {
    async fn get_totp(&self, user_id: &str) -> Result<Option<DatabaseTotp>, AdapterError> {
        self.0.get_totp(user_id).await
    }

    /// One upsert on `user_id`.
    async fn set_totp(&self, totp: DatabaseTotp) -> Result<(), AdapterError> {
        self.0.set_totp(totp).await
    }

    /// One `UPDATE ... WHERE last_step < step`, decided by its changed-row count.
    async fn use_totp_step(
        &self,
        user_id: &str,
        encrypted_secret: &str,
        step: i64,
        confirm: bool,
    ) -> Result<bool, AdapterError> {
        self.0.use_totp_step(user_id, encrypted_secret, step, confirm).await
    }

    /// One transaction: the user's recovery codes, then the TOTP row.
    async fn delete_totp(&self, user_id: &str) -> Result<(), AdapterError> {
        self.0.delete_totp(user_id).await
    }

    /// One transaction: the old set's delete, then the new set's inserts.
    async fn set_recovery_codes(&self, user_id: &str, code_hashes: Vec<String>) -> Result<(), AdapterError> {
        self.0.set_recovery_codes(user_id, code_hashes).await
    }

    /// One `DELETE`, decided by its changed-row count.
    async fn consume_recovery_code(&self, user_id: &str, code_hash: &str) -> Result<bool, AdapterError> {
        self.0.consume_recovery_code(user_id, code_hash).await
    }

    async fn count_recovery_codes(&self, user_id: &str) -> Result<u64, AdapterError> {
        self.0.count_recovery_codes(user_id).await
    }
}

impl PasskeyAdapter for SqliteAdapter<WithPasskeys> {
    async fn insert_passkey(&self, passkey: DatabasePasskey) -> Result<(), AdapterError> {
        self.0.insert_passkey(passkey).await
    }

    async fn get_passkey(&self, passkey_id: &str) -> Result<Option<DatabasePasskey>, AdapterError> {
        self.0.get_passkey(passkey_id).await
    }

    async fn get_user_passkeys(&self, user_id: &str) -> Result<Vec<DatabasePasskey>, AdapterError> {
        self.0.get_user_passkeys(user_id).await
    }

    /// One `UPDATE ... WHERE counter < new OR (counter = 0 AND new = 0)`, decided by its
    /// changed-row count.
    async fn record_passkey_use(&self, passkey_id: &str, passkey_use: PasskeyUse) -> Result<bool, AdapterError> {
        self.0.record_passkey_use(passkey_id, passkey_use).await
    }

    /// One `UPDATE ... WHERE id = ? AND user_id = ?`.
    async fn rename_passkey(&self, user_id: &str, passkey_id: &str, name: &str) -> Result<bool, AdapterError> {
        self.0.rename_passkey(user_id, passkey_id, name).await
    }

    /// One `BEGIN IMMEDIATE` transaction: the passkey's delete, then the count of the user's
    /// keys and passkeys left, and a rollback if there are none.
    async fn delete_passkey(
        &self,
        user_id: &str,
        passkey_id: &str,
        uncounted_providers: &[&str],
    ) -> Result<SignInMethodDeletion, AdapterError> {
        self.0.delete_passkey(user_id, passkey_id, uncounted_providers).await
    }

    async fn insert_passkey_challenge(&self, challenge: PasskeyChallenge) -> Result<(), AdapterError> {
        self.0.insert_passkey_challenge(challenge).await
    }

    /// One `DELETE ... RETURNING` on the writer.
    async fn take_passkey_challenge(&self, challenge_id: &str) -> Result<Option<PasskeyChallenge>, AdapterError> {
        self.0.take_passkey_challenge(challenge_id).await
    }

    /// In batches of 1000 rows, each its own short write.
    async fn delete_expired_passkey_challenges(&self, now_ms: i64) -> Result<u64, AdapterError> {
        self.0.sweep(|inner| Ok(&inner.passkeys()?.challenges_delete_expired_batch), now_ms).await
    }
}
