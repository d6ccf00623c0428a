//! What the adapter knows about a table: its name and its columns' names and kinds, read once
//! from the caller's entity and checked when the adapter is built.

use sea_orm::sea_query::{ColumnType, TableRef};
use sea_orm::{ColumnTrait, EntityTrait, IdenStatic, Iterable};

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
        "column `{table}.{column}` is {found}; attribute columns must be text, integer, float, boolean, JSON or binary"
    )]
    UnsupportedType {
        /// Table name.
        table: String,
        /// Column name.
        column: String,
        /// What the entity declares.
        found: String,
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
}

/// A table as the adapter uses it.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub(crate) name: String,
    pub(crate) table_ref: TableRef,
    pub(crate) columns: Vec<Column>,
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
                Ok(Column { name: column.as_str().to_owned(), kind, nullable: def.is_null(), unique: def.is_unique() })
            })
            .collect::<Result<_, SchemaError>>()?;
        Ok(Self { name, table_ref: entity.table_ref(), columns })
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

    pub(crate) fn require_id(&self, name: &'static str) -> Result<(), SchemaError> {
        self.require(name, "a text column", &[Kind::Text])
    }
}

const MILLIS: &str = "a 64-bit integer (BigInteger or BigUnsigned) of milliseconds";
const MILLIS_KINDS: &[Kind] = &[Kind::I64, Kind::U64];

/// The user table: `id` plus any attribute columns.
pub(crate) fn user_table<E: EntityTrait>(entity: E) -> Result<Table, SchemaError> {
    let table = Table::describe(entity)?;
    table.require_id("id")?;
    Ok(table)
}

/// The key table: `id`, `user_id`, nullable `hashed_password`.
pub(crate) fn key_table<E: EntityTrait>(entity: E) -> Result<Table, SchemaError> {
    let table = Table::describe(entity)?;
    table.require_id("id")?;
    table.require_id("user_id")?;
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
    table.require_id("user_id")?;
    table.require("active_expires", MILLIS, MILLIS_KINDS)?;
    table.require("idle_expires", MILLIS, MILLIS_KINDS)?;
    Ok(table)
}

/// The token table: `id`, `user_id`, `kind` and `email` text, 64-bit `expires`, integer
/// `attempts`.
pub(crate) fn token_table<E: EntityTrait>(entity: E) -> Result<Table, SchemaError> {
    let table = Table::describe(entity)?;
    table.require_id("id")?;
    table.require_id("user_id")?;
    table.require("kind", "a text column", &[Kind::Text])?;
    table.require("email", "a text column", &[Kind::Text])?;
    table.require("expires", MILLIS, MILLIS_KINDS)?;
    const INTEGERS: &[Kind] = &[Kind::I16, Kind::I32, Kind::I64, Kind::U16, Kind::U32, Kind::U64];
    table.require("attempts", "an integer column (16 bits or more)", INTEGERS)?;
    Ok(table)
}

/// The passkey table: `id`, `user_id`, `name` and `credential` text, an integer `counter` that
/// holds 32 unsigned bits, boolean `backup_eligible` and `backup_state`, 64-bit `created_at`
/// and nullable 64-bit `last_used_at`.
pub(crate) fn passkey_table<E: EntityTrait>(entity: E) -> Result<Table, SchemaError> {
    let table = Table::describe(entity)?;
    table.require_id("id")?;
    table.require_id("user_id")?;
    table.require("name", "a text column", &[Kind::Text])?;
    table.require("credential", "a text column", &[Kind::Text])?;
    table.require("counter", "a 64-bit or unsigned 32-bit integer column", &[Kind::I64, Kind::U32, Kind::U64])?;
    table.require("backup_eligible", "a boolean column", &[Kind::Bool])?;
    table.require("backup_state", "a boolean column", &[Kind::Bool])?;
    table.require("created_at", MILLIS, MILLIS_KINDS)?;
    table.require("last_used_at", MILLIS, MILLIS_KINDS)?;
    Ok(table)
}

/// The passkey challenge table: `id` text, nullable `user_id` text, `state` text, 64-bit
/// `expires`.
pub(crate) fn passkey_challenge_table<E: EntityTrait>(entity: E) -> Result<Table, SchemaError> {
    let table = Table::describe(entity)?;
    table.require_id("id")?;
    table.require_id("user_id")?;
    table.require("state", "a text column", &[Kind::Text])?;
    table.require("expires", MILLIS, MILLIS_KINDS)?;
    Ok(table)
}
