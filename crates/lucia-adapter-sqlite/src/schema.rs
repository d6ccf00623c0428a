//! The tables as the database declares them: read once on open with `pragma_table_info` and
//! `pragma_index_list`, so that every later statement is built from checked, quoted names.

use rusqlite::Connection;

use crate::OpenError;

/// Table names: Lucia v2's `user`, `user_key` and `user_session` by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    /// The user table: `id` text primary key, plus attribute columns.
    pub user: String,
    /// The key table: `id`, `user_id`, nullable `hashed_password`.
    pub key: String,
    /// The session table: `id`, `user_id`, `active_expires`, `idle_expires`, plus attribute
    /// columns.
    pub session: String,
}

impl Default for Tables {
    fn default() -> Self {
        Self::new("user", "user_key", "user_session")
    }
}

impl Tables {
    /// Tables under these names.
    pub fn new(user: impl Into<String>, key: impl Into<String>, session: impl Into<String>) -> Self {
        Self { user: user.into(), key: key.into(), session: session.into() }
    }

    /// Lucia v2's SQLite schema under these names (`CREATE TABLE IF NOT EXISTS`, so running it
    /// again changes nothing), plus indexes on `user_id` and `idle_expires` for the lookups by
    /// user and the dead-session sweeps. Attribute columns are yours to add.
    pub fn schema(&self) -> String {
        let (user, key, session) = (quote(&self.user), quote(&self.key), quote(&self.session));
        let index = |table: &str, column: &str| quote(&format!("{table}_{column}_idx"));
        format!(
            "CREATE TABLE IF NOT EXISTS {user} (\n    id TEXT NOT NULL PRIMARY KEY\n);\n\
             CREATE TABLE IF NOT EXISTS {key} (\n    id TEXT NOT NULL PRIMARY KEY,\n    \
             user_id TEXT NOT NULL REFERENCES {user}(id),\n    hashed_password TEXT\n);\n\
             CREATE INDEX IF NOT EXISTS {key_user} ON {key}(user_id);\n\
             CREATE TABLE IF NOT EXISTS {session} (\n    id TEXT NOT NULL PRIMARY KEY,\n    \
             user_id TEXT NOT NULL REFERENCES {user}(id),\n    active_expires INTEGER NOT NULL,\n    \
             idle_expires INTEGER NOT NULL\n);\n\
             CREATE INDEX IF NOT EXISTS {session_user} ON {session}(user_id);\n\
             CREATE INDEX IF NOT EXISTS {session_idle} ON {session}(idle_expires);\n",
            key_user = index(&self.key, "user_id"),
            session_user = index(&self.session, "user_id"),
            session_idle = index(&self.session, "idle_expires"),
        )
    }

    /// The token table `table` of [`Builder::tokens`](crate::Builder::tokens), referring to
    /// these tables' user table (`CREATE TABLE IF NOT EXISTS`): the secret's hash as primary
    /// key, one token per user and kind (the unique index, which also serves lookups by user),
    /// and an index on `expires` for the sweep. See [`TOKEN_SCHEMA`](crate::TOKEN_SCHEMA).
    pub fn token_schema(&self, table: &str) -> String {
        let (user, token) = (quote(&self.user), quote(table));
        format!(
            "CREATE TABLE IF NOT EXISTS {token} (\n    id TEXT NOT NULL PRIMARY KEY,\n    \
             user_id TEXT NOT NULL REFERENCES {user}(id),\n    kind TEXT NOT NULL,\n    \
             email TEXT NOT NULL,\n    expires INTEGER NOT NULL,\n    \
             attempts INTEGER NOT NULL DEFAULT 0,\n    UNIQUE (user_id, kind)\n);\n\
             CREATE INDEX IF NOT EXISTS {expires} ON {token}(expires);\n",
            expires = quote(&format!("{table}_expires_idx")),
        )
    }

    /// The second-factor tables `totp` and `recovery_codes` of
    /// [`Builder::second_factor`](crate::Builder::second_factor), referring to these tables'
    /// user table with `ON DELETE CASCADE` (`CREATE TABLE IF NOT EXISTS`). See
    /// [`SECOND_FACTOR_SCHEMA`](crate::SECOND_FACTOR_SCHEMA).
    pub fn second_factor_schema(&self, totp: &str, recovery_codes: &str) -> String {
        let (user, totp_table, codes) = (quote(&self.user), quote(totp), quote(recovery_codes));
        format!(
            "CREATE TABLE IF NOT EXISTS {totp_table} (\n    \
             user_id TEXT NOT NULL PRIMARY KEY REFERENCES {user}(id) ON DELETE CASCADE,\n    \
             encrypted_secret TEXT NOT NULL,\n    confirmed BOOLEAN NOT NULL DEFAULT 0,\n    \
             last_step INTEGER NOT NULL DEFAULT 0\n);\n\
             CREATE TABLE IF NOT EXISTS {codes} (\n    id TEXT NOT NULL PRIMARY KEY,\n    \
             user_id TEXT NOT NULL REFERENCES {user}(id) ON DELETE CASCADE\n);\n\
             CREATE INDEX IF NOT EXISTS {codes_user} ON {codes}(user_id);\n",
            codes_user = quote(&format!("{recovery_codes}_user_id_idx")),
        )
    }

    /// The passkey tables `passkey` and `challenge` of
    /// [`Builder::passkeys`](crate::Builder::passkeys), the passkeys referring to these tables'
    /// user table with `ON DELETE CASCADE` (`CREATE TABLE IF NOT EXISTS`, so that opening a
    /// database made before passkeys adds them). See [`PASSKEY_SCHEMA`](crate::PASSKEY_SCHEMA).
    pub fn passkey_schema(&self, passkey: &str, challenge: &str) -> String {
        let (user, passkey_table, challenge_table) = (quote(&self.user), quote(passkey), quote(challenge));
        format!(
            "CREATE TABLE IF NOT EXISTS {passkey_table} (\n    id TEXT NOT NULL PRIMARY KEY,\n    \
             user_id TEXT NOT NULL REFERENCES {user}(id) ON DELETE CASCADE,\n    name TEXT NOT NULL,\n    \
             credential TEXT NOT NULL,\n    counter INTEGER NOT NULL,\n    \
             backup_eligible BOOLEAN NOT NULL,\n    backup_state BOOLEAN NOT NULL,\n    \
             created_at INTEGER NOT NULL,\n    last_used_at INTEGER\n);\n\
             CREATE INDEX IF NOT EXISTS {passkey_user} ON {passkey_table}(user_id);\n\
             CREATE TABLE IF NOT EXISTS {challenge_table} (\n    id TEXT NOT NULL PRIMARY KEY,\n    \
             user_id TEXT,\n    state TEXT NOT NULL,\n    expires INTEGER NOT NULL\n);\n\
             CREATE INDEX IF NOT EXISTS {challenge_expires} ON {challenge_table}(expires);\n",
            passkey_user = quote(&format!("{passkey}_user_id_idx")),
            challenge_expires = quote(&format!("{challenge}_expires_idx")),
        )
    }
}

/// `name` as a SQL identifier: in double quotes, inner quotes doubled. Names are checked to
/// hold no NUL before they get here.
pub(crate) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// What a column holds, from its declared type, following SQLite's affinity rules, with
/// booleans and JSON told apart as SeaORM and most schemas declare them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `TEXT`, `VARCHAR(n)`, `CLOB`...: JSON strings.
    Text,
    /// `INTEGER`, `BIGINT`...: JSON integers in `i64` range.
    Integer,
    /// `REAL`, `DOUBLE`, `FLOAT`: JSON numbers.
    Real,
    /// `BOOLEAN`, `BOOL`: JSON booleans, stored as 0 and 1.
    Bool,
    /// `JSON`, `JSON_TEXT`, `JSONB`: any JSON value, stored as its text.
    Json,
    /// `BLOB`: arrays of bytes.
    Blob,
    /// No declared type, or one with `NUMERIC` affinity (`NUMERIC`, `DECIMAL`, `DATETIME`...):
    /// strings and numbers, read back by what SQLite stored.
    Loose,
}

impl Kind {
    fn of(declared: &str) -> Self {
        let declared = declared.to_ascii_uppercase();
        let has = |part: &str| declared.contains(part);
        if has("BOOL") {
            Self::Bool
        } else if has("JSON") {
            Self::Json
        } else if has("INT") {
            Self::Integer
        } else if has("CHAR") || has("CLOB") || has("TEXT") {
            Self::Text
        } else if has("BLOB") {
            Self::Blob
        } else if has("REAL") || has("FLOA") || has("DOUB") {
            Self::Real
        } else {
            Self::Loose
        }
    }
}

/// One column.
#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub(crate) name: String,
    pub(crate) kind: Kind,
    pub(crate) declared: String,
    pub(crate) not_null: bool,
    /// The only column of a unique index (not the primary key).
    pub(crate) unique: bool,
}

/// One table, as declared in the database.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub(crate) name: String,
    pub(crate) quoted: String,
    pub(crate) columns: Vec<Column>,
    /// The columns of each unique index that is neither the primary key nor partial.
    pub(crate) unique_indexes: Vec<Vec<String>>,
}

impl Table {
    /// Reads `name`'s columns and single-column unique indexes.
    pub(crate) fn read(connection: &Connection, name: &str) -> Result<Self, OpenError> {
        if name.is_empty() || name.contains('\0') {
            return Err(OpenError::InvalidTableName(name.to_owned()));
        }
        let mut statement = connection
            .prepare("SELECT name, type, \"notnull\" FROM pragma_table_info(?1) ORDER BY cid")
            .map_err(OpenError::Sqlite)?;
        let rows = statement
            .query_map([name], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, i64>(2)?)))
            .map_err(OpenError::Sqlite)?;
        let mut columns = Vec::new();
        for row in rows {
            let (column, declared, not_null) = row.map_err(OpenError::Sqlite)?;
            columns.push(Column {
                kind: Kind::of(&declared),
                name: column,
                declared,
                not_null: not_null != 0,
                unique: false,
            });
        }
        if columns.is_empty() {
            return Err(OpenError::MissingTable(name.to_owned()));
        }
        let mut indexes = connection
            .prepare("SELECT name, partial FROM pragma_index_list(?1) WHERE \"unique\" = 1 AND origin <> 'pk'")
            .map_err(OpenError::Sqlite)?;
        let unique: Vec<(String, bool)> = indexes
            .query_map([name], |row| Ok((row.get(0)?, row.get::<_, i64>(1)? != 0)))
            .map_err(OpenError::Sqlite)?
            .collect::<Result<_, _>>()
            .map_err(OpenError::Sqlite)?;
        let mut parts = connection.prepare("SELECT name FROM pragma_index_info(?1)").map_err(OpenError::Sqlite)?;
        let mut unique_indexes = Vec::new();
        for (index, partial) in unique {
            let names: Vec<Option<String>> = parts
                .query_map([&index], |row| row.get(0))
                .map_err(OpenError::Sqlite)?
                .collect::<Result<_, _>>()
                .map_err(OpenError::Sqlite)?;
            if let [Some(only)] = names.as_slice()
                && let Some(column) = columns.iter_mut().find(|c| &c.name == only)
            {
                column.unique = true;
            }
            // An expression (no name) or partial index cannot be an upsert's conflict target.
            if !partial && let Some(names) = names.into_iter().collect::<Option<Vec<_>>>() {
                unique_indexes.push(names);
            }
        }
        Ok(Self { quoted: quote(name), name: name.to_owned(), columns, unique_indexes })
    }

    /// Checks that a unique index covers exactly `columns` (in any order): what
    /// `ON CONFLICT (columns)` needs.
    pub(crate) fn require_unique(&self, columns: &[&str]) -> Result<(), OpenError> {
        let matches = |index: &Vec<String>| {
            index.len() == columns.len() && columns.iter().all(|column| index.iter().any(|name| name == column))
        };
        if self.unique_indexes.iter().any(matches) {
            return Ok(());
        }
        Err(OpenError::MissingUniqueIndex { table: self.name.clone(), columns: columns.join(", ") })
    }

    pub(crate) fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Checks that `name` is a column of `kind`, and nullable or not as `nullable` says
    /// (`None`: either).
    pub(crate) fn require(&self, name: &str, kind: Kind, nullable: Option<bool>) -> Result<(), OpenError> {
        let column = self
            .column(name)
            .ok_or_else(|| OpenError::MissingColumn { table: self.name.clone(), column: name.to_owned() })?;
        let nullable_ok = nullable.is_none_or(|nullable| nullable != column.not_null);
        if column.kind != kind || !nullable_ok {
            let expected = match (kind, nullable) {
                (Kind::Text, Some(true)) => "nullable TEXT",
                (Kind::Text, _) => "TEXT NOT NULL",
                (Kind::Bool, _) => "BOOLEAN NOT NULL",
                (_, Some(true)) => "nullable INTEGER",
                _ => "INTEGER NOT NULL",
            };
            return Err(OpenError::ColumnType {
                table: self.name.clone(),
                column: name.to_owned(),
                declared: format!("{}{}", column.declared, if column.not_null { " NOT NULL" } else { "" }),
                expected,
            });
        }
        Ok(())
    }

    /// The columns' quoted names, comma-separated, each prefixed with `alias.` if given.
    pub(crate) fn column_list(&self, alias: Option<&str>) -> String {
        let prefix = alias.map(|alias| format!("{alias}.")).unwrap_or_default();
        self.columns.iter().map(|c| format!("{prefix}{}", quote(&c.name))).collect::<Vec<_>>().join(", ")
    }
}
