//! What the adapter knows about a table: its name and its columns' names and kinds, read once
//! from the caller's entity and checked when the adapter is built.

use sea_orm::sea_query::{ColumnType, TableRef};
use sea_orm::{ColumnTrait, EntityTrait, IdenStatic, Iterable, PrimaryKeyToColumn};

/// An entity cannot be used as a Lucia table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// A required column is missing.
    #[error("table `{table}` has no `{column}` column, which Lucia requires")]
    MissingColumn {
        /// Table name.
        table: String,
        /// Missing column.
        column: &'static str,
    },
    /// A required column has a type Lucia cannot use.
    #[error("column `{table}.{column}` is {found}, but Lucia needs {expected}")]
    WrongType {
        /// Table name.
        table: String,
        /// Column name.
        column: String,
        /// What the column must be.
        expected: &'static str,
        /// What the entity declares.
        found: String,
    },
    /// A column has a type the adapter cannot carry as an attribute.
    #[error(
        "column `{table}.{column}` is {found}; attribute columns must be text, integer, float, boolean, JSON, binary, \
         an enum, or (with the adapter's `with-chrono` or `with-time`, `with-uuid`, `with-rust_decimal` features) \
         date/time, uuid or decimal"
    )]
    UnsupportedType {
        /// Table name.
        table: String,
        /// Column name.
        column: String,
        /// What the entity declares.
        found: String,
    },
    /// [`check`](crate::SeaOrmAdapter::check): the database has no table of the entity's name.
    #[error("the database has no table `{table}` (the entity's table name); run the migration, or fix the name")]
    DatabaseTableMissing {
        /// Table name, as the entity gives it.
        table: String,
    },
    /// [`check`](crate::SeaOrmAdapter::check): the database's table lacks a column of the
    /// entity.
    #[error("table `{table}` in the database has no column `{column}`, which its entity declares")]
    DatabaseColumnMissing {
        /// Table name.
        table: String,
        /// Column name.
        column: String,
    },
    /// [`check`](crate::SeaOrmAdapter::check): the database's column cannot hold what the
    /// entity declares.
    #[error("column `{table}.{column}` is `{database}` in the database, which cannot hold the entity's {entity}")]
    DatabaseColumnType {
        /// Table name.
        table: String,
        /// Column name.
        column: String,
        /// What the entity declares.
        entity: String,
        /// The column's type in the database.
        database: String,
    },
    /// [`check`](crate::SeaOrmAdapter::check): the database's column allows `NULL`, and the
    /// entity's does not: reading a row holding one would fail.
    #[error("column `{table}.{column}` allows NULL in the database, but its entity's field is not an Option")]
    DatabaseColumnNullable {
        /// Table name.
        table: String,
        /// Column name.
        column: String,
    },
    /// [`check`](crate::SeaOrmAdapter::check): the database's column is `NOT NULL`, and the
    /// entity's is nullable: writing `None` (a key without password, an attribute left out)
    /// would fail.
    #[error("column `{table}.{column}` is NOT NULL in the database, but its entity's field is an Option")]
    DatabaseColumnNotNull {
        /// Table name.
        table: String,
        /// Column name.
        column: String,
    },
    /// [`check`](crate::SeaOrmAdapter::check): no primary key or unique index of the
    /// database's table makes these columns unique, as the entity (its primary key, a
    /// `unique` column) or Lucia (the token table's `(user_id, kind)`) needs: without it a
    /// taken id or username would be stored twice instead of being refused.
    #[error("table `{table}` in the database has no primary key or unique index on ({columns})")]
    DatabaseUniqueIndexMissing {
        /// Table name.
        table: String,
        /// The columns, comma-separated.
        columns: String,
    },
    /// [`check`](crate::SeaOrmAdapter::check): a table's `user_id` has no foreign key to the
    /// user table.
    #[error("`{table}.user_id` has no foreign key to table `{references}` in the database")]
    DatabaseForeignKeyMissing {
        /// Table name.
        table: String,
        /// The user table.
        references: String,
    },
}

/// How a column's values are read, written and shown as JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    F32,
    F64,
    Bool,
    Json,
    Bytes,
    /// A database enum (PostgreSQL `CREATE TYPE .. AS ENUM`, MySQL `ENUM(..)`), carried as its
    /// text value.
    Enum,
    /// `DATE`, as `YYYY-MM-DD`.
    #[cfg(any(feature = "with-chrono", feature = "with-time"))]
    Date,
    /// `TIME`, as `HH:MM:SS[.fraction]`.
    #[cfg(any(feature = "with-chrono", feature = "with-time"))]
    Time,
    /// A date-time without time zone, as `YYYY-MM-DDTHH:MM:SS[.fraction]`.
    #[cfg(any(feature = "with-chrono", feature = "with-time"))]
    DateTime,
    /// A date-time with time zone, as RFC 3339.
    #[cfg(any(feature = "with-chrono", feature = "with-time"))]
    DateTimeTz,
    /// A uuid, as its hyphenated text.
    #[cfg(feature = "with-uuid")]
    Uuid,
    /// A decimal, as its exact text.
    #[cfg(feature = "with-rust_decimal")]
    Decimal,
}

impl Kind {
    fn of(column_type: &ColumnType) -> Option<Self> {
        Some(match column_type {
            ColumnType::Char(_) | ColumnType::String(_) | ColumnType::Text => Self::Text,
            ColumnType::TinyInteger => Self::I8,
            ColumnType::SmallInteger => Self::I16,
            ColumnType::Integer => Self::I32,
            ColumnType::BigInteger => Self::I64,
            ColumnType::TinyUnsigned => Self::U8,
            ColumnType::SmallUnsigned => Self::U16,
            ColumnType::Unsigned => Self::U32,
            ColumnType::BigUnsigned => Self::U64,
            ColumnType::Float => Self::F32,
            ColumnType::Double => Self::F64,
            ColumnType::Boolean => Self::Bool,
            ColumnType::Json | ColumnType::JsonBinary => Self::Json,
            ColumnType::Blob | ColumnType::Binary(_) | ColumnType::VarBinary(_) => Self::Bytes,
            ColumnType::Enum { .. } => Self::Enum,
            #[cfg(any(feature = "with-chrono", feature = "with-time"))]
            ColumnType::Date => Self::Date,
            #[cfg(any(feature = "with-chrono", feature = "with-time"))]
            ColumnType::Time => Self::Time,
            #[cfg(any(feature = "with-chrono", feature = "with-time"))]
            ColumnType::DateTime | ColumnType::Timestamp => Self::DateTime,
            #[cfg(any(feature = "with-chrono", feature = "with-time"))]
            ColumnType::TimestampWithTimeZone => Self::DateTimeTz,
            #[cfg(feature = "with-uuid")]
            ColumnType::Uuid => Self::Uuid,
            #[cfg(feature = "with-rust_decimal")]
            ColumnType::Decimal(_) | ColumnType::Money(_) => Self::Decimal,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub(crate) name: String,
    pub(crate) kind: Kind,
    pub(crate) nullable: bool,
    /// Declared `unique` in the entity: a duplicate value is `DuplicateAttribute { column }`.
    pub(crate) unique: bool,
    /// The database enum type of an [`Kind::Enum`] column: PostgreSQL reads it cast to text
    /// and writes text cast to it.
    pub(crate) enum_name: Option<String>,
}

/// A table as the adapter uses it.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub(crate) name: String,
    pub(crate) table_ref: TableRef,
    pub(crate) columns: Vec<Column>,
    /// Sets of columns the database must keep unique: the entity's primary key, each of its
    /// `unique` columns, and what Lucia's statements rely on (an upsert's conflict target).
    pub(crate) unique: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn describe<E: EntityTrait>(entity: E) -> Result<Self, SchemaError> {
        let name = entity.table_name().to_owned();
        let columns = E::Column::iter()
            .map(|column| {
                let def = column.def();
                let kind = Kind::of(def.get_column_type()).ok_or_else(|| SchemaError::UnsupportedType {
                    table: name.clone(),
                    column: column.as_str().to_owned(),
                    found: format!("{:?}", def.get_column_type()),
                })?;
                let enum_name = match def.get_column_type() {
                    ColumnType::Enum { name, .. } => Some(name.to_string()),
                    _ => None,
                };
                let (nullable, unique) = (def.is_null(), def.is_unique());
                Ok(Column { name: column.as_str().to_owned(), kind, nullable, unique, enum_name })
            })
            .collect::<Result<Vec<Column>, SchemaError>>()?;
        let primary_key = E::PrimaryKey::iter().map(|key| key.into_column().as_str().to_owned()).collect();
        let mut unique = vec![primary_key];
        unique.extend(columns.iter().filter(|c| c.unique).map(|c| vec![c.name.clone()]));
        Ok(Self { name, table_ref: entity.table_ref(), columns, unique })
    }

    pub(crate) fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Checks that `name` exists and is of an accepted kind.
    pub(crate) fn require(
        &self,
        name: &'static str,
        expected: &'static str,
        accepts: &[Kind],
    ) -> Result<(), SchemaError> {
        let column =
            self.column(name).ok_or_else(|| SchemaError::MissingColumn { table: self.name.clone(), column: name })?;
        if !accepts.contains(&column.kind) {
            return Err(SchemaError::WrongType {
                table: self.name.clone(),
                column: name.to_owned(),
                expected,
                found: format!("{:?}", column.kind),
            });
        }
        Ok(())
    }

    /// A key, session or token id: text.
    pub(crate) fn require_id(&self, name: &'static str) -> Result<(), SchemaError> {
        self.require(name, "a text column", &[Kind::Text])
    }

    /// A user id (the user table's `id`, the others' `user_id`): text, or a uuid.
    pub(crate) fn require_user_id(&self, name: &'static str) -> Result<(), SchemaError> {
        self.require(name, USER_ID, USER_ID_KINDS)
    }

    /// Checks that this table's `user_id` is of the type of `user`'s `id`.
    pub(crate) fn require_user_id_of(&self, user: &Table) -> Result<(), SchemaError> {
        let (Some(id), Some(user_id)) = (user.column("id"), self.column("user_id")) else { return Ok(()) };
        if id.kind != user_id.kind {
            return Err(SchemaError::WrongType {
                table: self.name.clone(),
                column: "user_id".into(),
                expected: "the type of the user table's `id`",
                found: format!("{:?}, and `{}.id` is {:?}", user_id.kind, user.name, id.kind),
            });
        }
        Ok(())
    }

    /// Whether user ids in this table (its `id` or `user_id`) are uuids.
    #[cfg(feature = "with-uuid")]
    pub(crate) fn has_uuid(&self, name: &str) -> bool {
        self.column(name).is_some_and(|column| column.kind == Kind::Uuid)
    }
}

#[cfg(feature = "with-uuid")]
const USER_ID: &str = "a text or uuid column";
#[cfg(not(feature = "with-uuid"))]
const USER_ID: &str = "a text column (or, with the `with-uuid` feature, a uuid column)";
#[cfg(feature = "with-uuid")]
const USER_ID_KINDS: &[Kind] = &[Kind::Text, Kind::Uuid];
#[cfg(not(feature = "with-uuid"))]
const USER_ID_KINDS: &[Kind] = &[Kind::Text];

const MILLIS: &str = "a 64-bit integer (BigInteger or BigUnsigned) of milliseconds";
const MILLIS_KINDS: &[Kind] = &[Kind::I64, Kind::U64];

/// The user table: `id` plus any attribute columns.
pub(crate) fn user_table<E: EntityTrait>(entity: E) -> Result<Table, SchemaError> {
    let table = Table::describe(entity)?;
    table.require_user_id("id")?;
    Ok(table)
}

/// The key table: `id`, `user_id`, nullable `hashed_password`.
pub(crate) fn key_table<E: EntityTrait>(entity: E) -> Result<Table, SchemaError> {
    let table = Table::describe(entity)?;
    table.require_id("id")?;
    table.require_user_id("user_id")?;
    table.require("hashed_password", "a nullable text column", &[Kind::Text])?;
    if table.column("hashed_password").is_some_and(|c| !c.nullable) {
        return Err(SchemaError::WrongType {
            table: table.name.clone(),
            column: "hashed_password".into(),
            expected: "a nullable text column (keys without password store NULL)",
            found: "NOT NULL text".into(),
        });
    }
    Ok(table)
}

/// The session table: `id`, `user_id`, 64-bit `active_expires` and `idle_expires`, plus any
/// attribute columns.
pub(crate) fn session_table<E: EntityTrait>(entity: E) -> Result<Table, SchemaError> {
    let table = Table::describe(entity)?;
    table.require_id("id")?;
    table.require_user_id("user_id")?;
    table.require("active_expires", MILLIS, MILLIS_KINDS)?;
    table.require("idle_expires", MILLIS, MILLIS_KINDS)?;
    Ok(table)
}

/// The token table: `id`, `user_id`, `kind` and `email` text, 64-bit `expires`, integer
/// `attempts`.
pub(crate) fn token_table<E: EntityTrait>(entity: E) -> Result<Table, SchemaError> {
    let mut table = Table::describe(entity)?;
    table.require_id("id")?;
    table.require_user_id("user_id")?;
    table.require("kind", "a text column", &[Kind::Text])?;
    table.require("email", "a text column", &[Kind::Text])?;
    table.require("expires", MILLIS, MILLIS_KINDS)?;
    const INTEGERS: &[Kind] = &[Kind::I16, Kind::I32, Kind::I64, Kind::U16, Kind::U32, Kind::U64];
    table.require("attempts", "an integer column (16 bits or more)", INTEGERS)?;
    // `set_token`'s upsert replaces a user's token of a kind by this index.
    table.unique.push(vec!["user_id".into(), "kind".into()]);
    Ok(table)
}

/// The passkey table: `id`, `user_id`, `name` and `credential` text, an integer `counter` that
/// holds 32 unsigned bits, boolean `backup_eligible` and `backup_state`, 64-bit `created_at`
/// and nullable 64-bit `last_used_at`.
pub(crate) fn passkey_table<E: EntityTrait>(entity: E) -> Result<Table, SchemaError> {
    let table = Table::describe(entity)?;
    table.require_id("id")?;
    table.require_user_id("user_id")?;
    table.require("name", "a text column", &[Kind::Text])?;
    table.require("credential", "a text column", &[Kind::Text])?;
    table.require("counter", "a 64-bit or unsigned 32-bit integer column", &[Kind::I64, Kind::U32, Kind::U64])?;
    table.require("backup_eligible", "a boolean column", &[Kind::Bool])?;
    table.require("backup_state", "a boolean column", &[Kind::Bool])?;
    table.require("created_at", MILLIS, MILLIS_KINDS)?;
    table.require("last_used_at", MILLIS, MILLIS_KINDS)?;
    Ok(table)
}

/// The passkey challenge table: `id` text, nullable `user_id`, `state` text, 64-bit
/// `expires`.
pub(crate) fn passkey_challenge_table<E: EntityTrait>(entity: E) -> Result<Table, SchemaError> {
    let table = Table::describe(entity)?;
    table.require_id("id")?;
    table.require_user_id("user_id")?;
    table.require("state", "a text column", &[Kind::Text])?;
    table.require("expires", MILLIS, MILLIS_KINDS)?;
    Ok(table)
}

/// The TOTP table: `user_id`, `encrypted_secret` text, boolean `confirmed`, 64-bit `last_step`.
pub(crate) fn totp_table<E: EntityTrait>(entity: E) -> Result<Table, SchemaError> {
    let table = Table::describe(entity)?;
    table.require_user_id("user_id")?;
    table.require("encrypted_secret", "a text column", &[Kind::Text])?;
    table.require("confirmed", "a boolean column", &[Kind::Bool])?;
    table.require("last_step", "a 64-bit integer column", &[Kind::I64])?;
    Ok(table)
}

/// The recovery-code table: `id` text (the code's SHA-256), `user_id`.
pub(crate) fn recovery_code_table<E: EntityTrait>(entity: E) -> Result<Table, SchemaError> {
    let table = Table::describe(entity)?;
    table.require_id("id")?;
    table.require_user_id("user_id")?;
    Ok(table)
}
